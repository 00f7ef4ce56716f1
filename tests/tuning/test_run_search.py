"""`run_search` as a library call: keyword arguments in, a `SearchResult` out, errors raised."""

import json

import pytest

from zoo.models.configs import get_config
from zoo.tuning import SearchFailedError
from zoo.tuning.hypermodels import LMHyperModel
from zoo.tuning.run import run_search

CONFIG = get_config("synthetic-small", batch_size=20, num_steps=10, max_max_epoch=1,
                    max_epoch=1)
TINY = dict(data="synthetic", corpus_tokens=3000, space={"hidden_size": [4, 6],
                                                         "num_layers": 1}, verbose=0)


def test_run_search_returns_the_best_trial(tmp_path):
    r = run_search(CONFIG, directory=str(tmp_path), project_name="tiny", max_trials=1, **TINY)
    assert r.project_dir == str(tmp_path / "tiny") and r.role is None
    assert [row["status"] for row in r.rows] == ["COMPLETED"] and r.best is r.rows[0]
    with open(tmp_path / "tiny" / "best_hyperparameters.json") as f:
        saved = json.load(f)
    assert r.best_hyperparameters == saved["hyperparameters"]
    assert r.best["val_perplexity"] == saved["val_perplexity"]
    assert r.best_model_path == str(tmp_path / "tiny" / "best.keras")

    # Again without resume or overwrite: refused, in Python's terms.
    with pytest.raises(ValueError, match=r"pass `resume=True` to continue it or "
                                         r"`overwrite=True` to start over"):
        run_search(CONFIG, directory=str(tmp_path), project_name="tiny", max_trials=1, **TINY)


def test_every_trial_failing_raises_with_the_result(tmp_path, monkeypatch):
    def fail(self, hp, model, *args, **kwargs):
        raise RuntimeError("simulated trial failure")

    monkeypatch.setattr(LMHyperModel, "fit", fail)
    with pytest.raises(SearchFailedError, match="all 1 trial") as info:
        run_search(CONFIG, directory=str(tmp_path), max_trials=1, **TINY)
    assert [row["status"] for row in info.value.result.rows] == ["FAILED"]
    assert info.value.result.best is None


@pytest.mark.parametrize("kwargs, message", [
    ({"tuner": "grid"}, "Argument `tuner` must be one of"),
    ({"max_trials": 0}, "Argument `max_trials` must be a positive integer. Received: "
                        "max_trials=0"),
    ({"resume": True, "overwrite": True}, "pass `resume=True` or `overwrite=True`, not both"),
    ({"wait_timeout": -1}, "Argument `wait_timeout` must be a finite number > 0"),
    ({"verbose": 3}, "Argument `verbose` must be one of"),
    ({"config": "mirror-seq2seq"}, "Argument `config` must be the config of a word, char or "
                                   "bigram language model. Received: config=mirror-seq2seq"),
])
def test_bad_arguments_raise_before_anything_is_written(tmp_path, kwargs, message):
    kwargs = {"config": CONFIG, "directory": str(tmp_path / "tune"), **TINY, **kwargs}
    with pytest.raises(ValueError) as info:
        run_search(**kwargs)
    assert message in str(info.value)
    assert not (tmp_path / "tune").exists()
