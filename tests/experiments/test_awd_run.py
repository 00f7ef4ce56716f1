"""The AWD-LSTM recipe through `train.py`: variable-length batches, NT-ASGD, the fine-tuning
stage, and a killed run that resumes bit for bit, also while the weights are averaged.

A "kill" is an exception at an epoch end (as in test_run_safety.py); the re-run must end with
the uninterrupted run's final weights, bit for bit, and every epoch once in history.csv.
"""

import csv

import keras
import numpy as np
import pytest

from helpers.cli import run_main
from helpers.kills import Killed
import zoo.layers  # noqa: F401  (registers the custom layers for keras.saving.load_model)
from zoo import cli
from zoo.experiments import train_lm
from zoo.models import configs
from zoo.models import get_config

# 2 epochs of SGD, then 2 of fine-tuning (averaged from its first step).
TINY = get_config("awd-mini").replace(name="awd-tiny", hidden_size=8, embedding_size=6, num_layers=2,
                  num_steps=6, batch_size=4, max_epoch=2, max_max_epoch=2, finetune_epochs=2)
ARGS = ["--model", "awd-tiny", "--corpus-tokens", "3000", "--corpus-vocab", "30",
        "--verbose", "0"]


@pytest.fixture(autouse=True, scope="module")
def tiny_preset():
    with pytest.MonkeyPatch.context() as m:
        m.setitem(configs._REGISTRY, "awd-tiny", TINY)
        m.setattr(train_lm, "evaluate_stream", lambda *args, **kwargs: 1.0)
        yield



def history(run):
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def final_weights(run):
    return keras.saving.load_model(run / "final.keras", compile=False).get_weights()


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("awd")
    assert run_main([*ARGS, "--output-dir", str(out)]) == 0
    return out


def test_the_run_has_both_stages(straight):
    rows = history(straight)
    assert [row["epoch"] for row in rows] == ["0", "1", "2", "3"]
    averaged = [float(row["averaged_steps"]) for row in rows]
    # Fine-tuning averages from its first step: epoch 3 averaged both its epochs' steps.
    assert 0 < averaged[2] < averaged[3]


@pytest.mark.parametrize("epoch_end", [2, 3, 4])  # end of SGD, first and second fine-tuning
def test_a_killed_awd_run_resumes_bit_for_bit(epoch_end, straight, tmp_path, monkeypatch):
    out = tmp_path / "run"
    original = keras.callbacks.CSVLogger.on_epoch_end
    calls = {"n": 0}

    def killed_after_the_row(self, epoch, logs=None):
        original(self, epoch, logs)
        calls["n"] += 1
        if calls["n"] == epoch_end:  # the row is written, the backup not yet committed
            raise Killed(f"epoch {epoch}")

    with monkeypatch.context() as m:
        m.setattr(keras.callbacks.CSVLogger, "on_epoch_end", killed_after_the_row)
        with pytest.raises(Killed):
            cli.main([*ARGS, "--output-dir", str(out)])
    assert run_main([*ARGS, "--output-dir", str(out)]) == 0
    assert [row["epoch"] for row in history(out)] == ["0", "1", "2", "3"]
    for mine, theirs in zip(final_weights(out), final_weights(straight)):
        np.testing.assert_array_equal(mine, theirs)
