"""`train.py tune` end to end: a real 3-trial search, resume, failures and bad input."""

import json

import numpy as np
import pytest

from helpers.tuning import TINY_SPACE, read_csv, tune_args
from helpers.cli import run_main
from zoo.datasets.corpus import load_corpus
from zoo.experiments.evaluate import read_checkpoint
from zoo.tuning.hypermodels import LMHyperModel



def numpy_perplexity(model, config, ids):
    """exp(mean token cross-entropy) of a stateful model read batch by batch from zero states."""
    from zoo.datasets import ptb_iterator
    from zoo.training import reset_rnn_states

    reset_rnn_states(model)
    total, count = 0.0, 0
    for x, y in ptb_iterator(ids, config.batch_size, config.num_steps):
        logits = np.asarray(model.predict_on_batch(x), dtype="float64")
        logits -= logits.max(-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        total -= np.take_along_axis(logp, y[..., None].astype("int64"), -1).sum()
        count += y.size
    return float(np.exp(total / count))


def test_random_search_three_trials_best_model_reproduces_its_perplexity(tmp_path, capsys):
    assert run_main(tune_args(tmp_path)) == 0
    out = capsys.readouterr().out
    project = tmp_path / "tiny"
    rows = read_csv(project / "trials.csv")
    assert len(rows) == 3 and {r["status"] for r in rows} == {"COMPLETED"}
    assert sorted(r["trial_id"] for r in rows) == ["0", "1", "2"]
    for r in rows:
        assert 4 <= int(r["hidden_size"]) <= 16 and float(r["words_per_sec"]) > 0
    ppl = [float(r["val_perplexity"]) for r in rows]
    best = json.loads((project / "best_hyperparameters.json").read_text())
    assert best["val_perplexity"] == pytest.approx(min(ppl), rel=1e-12)
    assert best["trial_id"] == rows[int(np.argmin(ppl))]["trial_id"] == rows[0]["trial_id"]
    assert f"best trial {best['trial_id']}" in out and "| trial_id |" in out
    assert (project / "trials.md").read_text().count("| COMPLETED |") == 3

    # The saved best model is the best trial's: its hyperparameters, and the same perplexity
    # on the validation split read as the objective was (batch 20 x 10 steps, zero states).
    model, config, meta = read_checkpoint(str(project / "best.keras"))
    assert config.hidden_size == best["hyperparameters"]["hidden_size"]
    assert model.get_layer("lstm_0").units == config.hidden_size
    corpus = load_corpus("synthetic", "word", corpus_tokens=3000, seed=0)
    assert meta["vocab"] == corpus.vocab
    assert numpy_perplexity(model, config, corpus.valid) == pytest.approx(
        best["val_perplexity"], rel=1e-4)

    # The CLI's evaluate command works on it.
    assert run_main(["evaluate", "--checkpoint", str(project / "best.keras"), "--split",
                     "valid", "--batch-size", "20", "--corpus-tokens", "3000"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert float(line.split()[2]) == pytest.approx(best["val_perplexity"], abs=1e-3)

    # Running again without --resume/--overwrite refuses to touch the search.
    assert run_main(tune_args(tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--resume" in err and "--overwrite" in err


def test_resume_continues_without_repeating_finished_trials(tmp_path, monkeypatch, capsys):
    calls = []
    real_fit = LMHyperModel.fit

    def interrupting_fit(self, hp, model, *args, **kwargs):
        calls.append(hp.values["hidden_size"])
        if len(calls) == 2:  # Ctrl-C during the second trial
            raise KeyboardInterrupt
        return real_fit(self, hp, model, *args, **kwargs)

    monkeypatch.setattr(LMHyperModel, "fit", interrupting_fit)
    assert run_main(tune_args(tmp_path)) == 130
    assert "--resume" in capsys.readouterr().err
    project = tmp_path / "tiny"
    first = json.loads((project / "trial_0" / "trial.json").read_text())
    assert first["status"] == "COMPLETED"
    interrupted = json.loads((project / "trial_1" / "trial.json").read_text())
    assert interrupted["status"] == "RUNNING"

    # --resume with another space is refused: the saved trials would not match it.
    assert run_main(tune_args(tmp_path, "--resume", "--hidden-sizes", "4,8")) == 2
    assert "other settings" in capsys.readouterr().err

    calls.clear()

    def counting_fit(self, hp, model, *args, **kwargs):
        calls.append(hp.values["hidden_size"])
        return real_fit(self, hp, model, *args, **kwargs)

    monkeypatch.setattr(LMHyperModel, "fit", counting_fit)
    assert run_main(tune_args(tmp_path, "--resume")) == 0
    # Only the interrupted trial (same hyperparameters) and the missing one ran.
    assert len(calls) == 2
    assert calls[0] == interrupted["hyperparameters"]["values"]["hidden_size"]
    assert json.loads((project / "trial_0" / "trial.json").read_text()) == first
    rows = read_csv(project / "trials.csv")
    assert len(rows) == 3 and {r["status"] for r in rows} == {"COMPLETED"}

    # Growing --max-trials on resume runs just the new trial.
    calls.clear()
    assert run_main(tune_args(tmp_path, "--resume", max_trials=4)) == 0
    assert len(calls) == 1 and len(read_csv(project / "trials.csv")) == 4


def test_all_trials_failed_exits_nonzero_with_first_error(tmp_path, monkeypatch, capsys):
    def broken_fit(self, hp, model, *args, **kwargs):
        raise RuntimeError(f"simulated failure at hidden_size={hp.values['hidden_size']}")

    monkeypatch.setattr(LMHyperModel, "fit", broken_fit)
    assert run_main(tune_args(tmp_path)) == 1
    # keras-tuner prints each failed trial's traceback; the run ends with one error line.
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: all 3 trial(s) failed; the first (trial 0")
    assert "RuntimeError: simulated failure at hidden_size=" in err
    rows = read_csv(tmp_path / "tiny" / "trials.csv")
    assert {r["status"] for r in rows} == {"FAILED"} and "simulated" in rows[0]["error"]
    assert not (tmp_path / "tiny" / "best.keras").exists()


@pytest.mark.parametrize("extra, message", [
    (["--space", "{}"], "must be a search space with at least one hyperparameter"),
    (["--hidden-sizes", ""], "`space['hidden_size']` must be a non-empty list of values to try"),
    (["--hidden-sizes", "16:4"], "min_value 16 is greater than the max_value 4"),
    (["--hidden-sizes", "8.5:16"], "argument --hidden-sizes: must be an integer. Received: '8.5'"),
    (["--space", "{not json"], "--space"),
    (["--max-trials", "0"], "argument --max-trials: must be a positive integer. Received: 0"),
    (["--tuner", "grid"], "argument --tuner: invalid choice: 'grid'"),
    (["--resume", "--overwrite"], "not allowed with argument"),
])
def test_bad_input_one_line_error(tmp_path, capsys, extra, message):
    argv = tune_args(tmp_path)
    if "--space" in extra:  # replace the helper's space
        i = argv.index("--space")
        del argv[i:i + 2]
    if "--max-trials" in extra or "--tuner" in extra:
        i = argv.index(extra[0])
        del argv[i:i + 2]
    assert run_main(argv + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "tiny").exists()


def test_space_flags_override_the_default_space(tmp_path):
    from zoo.cli.tune import parse_args
    from zoo.cli.tune import search_space as space_of
    from zoo.models.configs import get_config

    args = parse_args(["--hidden-sizes", "8:32", "--cells", "gate,fused"])
    space = space_of(args, get_config("ptb-small"))
    assert space["hidden_size"] == {"min": 8, "max": 32, "sampling": "log"}
    assert space["cell"] == ["gate", "fused"] and "keep_prob" in space  # defaults kept
    args = parse_args(["--space", TINY_SPACE, "--num-layers", "1,2"])
    assert space_of(args, get_config("ptb-small")) == {
        **json.loads(TINY_SPACE), "num_layers": [1, 2]}
    path = tmp_path / "space.json"
    path.write_text(TINY_SPACE)
    args = parse_args(["--space", str(path)])
    assert space_of(args, get_config("ptb-small")) == json.loads(TINY_SPACE)


@pytest.mark.parametrize("tuner", ["hyperband", "bayesian"])
def test_hyperband_and_bayesian_searches(tmp_path, capsys, tuner):
    argv = tune_args(tmp_path, max_trials=2, tuner=tuner)
    argv[argv.index("--epochs") + 1] = "2"  # hyperband's max_epochs
    try:
        import sklearn  # noqa: F401
    except ImportError:
        if tuner == "bayesian":  # an optional dependency: one clear error without it
            assert run_main(argv) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "needs scikit-learn" in err
            return
    assert run_main(argv) == 0
    rows = read_csv(tmp_path / "tiny" / "trials.csv")
    assert 1 <= len(rows) <= 2 and {r["status"] for r in rows} == {"COMPLETED"}
    if tuner == "hyperband":
        assert all(int(r["tuner/epochs"]) <= 2 for r in rows)
    assert (tmp_path / "tiny" / "best.keras").is_file()


def test_a_second_search_on_a_project_in_use_is_refused(tmp_path, monkeypatch, capsys):
    """While a search trains its first trial, the same project is refused in one line (a
    second flock on the project's lock file, as another process's would be)."""
    original, seen = LMHyperModel.fit, {}

    def fit_with_a_second_search(self, hp, model, *args, **kwargs):
        if not seen:
            seen["started"] = True
            seen["status"] = run_main(tune_args(tmp_path, "--resume", max_trials=1))
            seen["err"] = capsys.readouterr().err
        return original(self, hp, model, *args, **kwargs)

    monkeypatch.setattr(LMHyperModel, "fit", fit_with_a_second_search)
    assert run_main(tune_args(tmp_path, max_trials=1)) == 0
    lock = tmp_path / ".tiny.lock"
    assert seen["status"] == 2
    assert seen["err"].strip().splitlines() == [
        f"error: the search in {tmp_path / 'tiny'} is in use by another search (it holds "
        f"{lock}): wait for it to finish, or choose another --project-name"]
    # The finished search let go: --resume may run now.
    monkeypatch.setattr(LMHyperModel, "fit", original)
    assert run_main(tune_args(tmp_path, "--resume", max_trials=1)) == 0
