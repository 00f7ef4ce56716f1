"""The mirror model's runs have the language models' guarantees (issue 20 §7, 21 §6).

As in test_run_safety.py: a "kill" is an exception raised at the named instant of an
in-process run (its kill hooks); the same call again must end exactly where the
uninterrupted run ends (the same final weights, bit for bit, every epoch once in
history.csv). A run of other settings is refused in one line; a finished run stays finished.
The run folder holds the language models' file names. Runs are tiny (400 generated words,
8 units, one encoder layer) and call `train_mirror` (`train.py` passes its flags to it).
"""

import csv
import json

import keras
import numpy as np
import pytest

from helpers.kills import Killed
from helpers.kills import kill_on_call
from helpers.kills import snapshot
from zoo.datasets import mirror_text
from zoo.experiments.train_mirror import _ResumedReduceLROnPlateau
from zoo.experiments.train_mirror import train_mirror

TINY = {"epochs": 2, "batch_size": 16, "units": 8, "embedding_dim": 4, "encoder_layers": 1,
        "max_words": 3, "max_length": 20, "augment": 0, "dropout": 0.1, "verbose": 0}
LM_FILES = {"best.keras", "final.keras", "history.csv", "results.json", "zoo_meta.json"}


@pytest.fixture(scope="module")
def text():
    return mirror_text.offline_text(num_words=400, seed=1)


def train(out, text, **fields):
    return train_mirror(str(out), text=text, data="generated", **{**TINY, **fields})


def history_epochs(run):
    with open(run / "history.csv", newline="") as f:
        return [row["epoch"] for row in csv.DictReader(f)]


def final_weights(run):
    return keras.saving.load_model(run / "final.keras", compile=False).get_weights()


@pytest.fixture(scope="module")
def straight(tmp_path_factory, text):
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("mirror") / "run"
    train(out, text)
    return out


def test_the_run_folder_has_the_language_models_file_names(straight):
    names = {p.name for p in straight.iterdir()}
    assert LM_FILES <= names and (straight / "backup" / "backup.json").is_file()
    assert not names & {"last.keras", "log.csv", "metrics.csv"}
    assert history_epochs(straight) == ["0", "1"]
    results = json.loads((straight / "results.json").read_text())
    assert results["epochs"] == 2 and results["checkpoint"] == str(straight / "best.keras")
    with open(straight / "history.csv", newline="") as f:
        val_loss = [float(row["val_loss"]) for row in csv.DictReader(f)]
    assert results["history"]["val_loss"] == val_loss
    settings = json.loads((straight / "zoo_meta.json").read_text())["settings"]
    assert settings["config"]["units"] == 8 and settings["data"] == "generated"


def _kill_at_the_csv_row_of_epoch_2(out, text):
    # The row of epoch 2: Keras's BackupAndRestore (before the CSVLogger) had committed
    # epoch 2 by then, so the old mirror run trained on from epoch 2 without its row.
    with pytest.MonkeyPatch.context() as m:
        kill_on_call(m, keras.callbacks.CSVLogger, "on_epoch_end", 2)
        with pytest.raises(Killed):
            train(out, text)


def test_kill_then_rerun_gives_the_uninterrupted_run(straight, text, tmp_path):
    out = tmp_path / "run"
    _kill_at_the_csv_row_of_epoch_2(out, text)
    assert json.loads((out / "backup" / "backup.json").read_text())["epoch"] == 1
    _other_settings_are_refused_in_one_line_and_touch_nothing(out, straight, text)
    train(out, text)
    assert history_epochs(out) == ["0", "1"], "every epoch exactly once"
    a, b = final_weights(out), final_weights(straight)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert (json.loads((out / "results.json").read_text())["history"]
            == json.loads((straight / "results.json").read_text())["history"])


def _refused(out, text, **fields):
    before = snapshot(out)
    with pytest.raises(ValueError) as e:
        train(out, text, **fields)
    assert snapshot(out) == before
    assert "\n" not in str(e.value)
    return str(e.value)


def _other_settings_are_refused_in_one_line_and_touch_nothing(interrupted, straight, text):
    message = _refused(interrupted, text, units=4)
    assert "holds an interrupted run with other settings" in message
    assert "units: 8 → 4" in message, message
    message = _refused(straight, text, seed=1)  # a finished run: the same
    assert "holds a run with other settings" in message and "seed: 0 → 1" in message, message
    message = _refused(straight, text[: len(text) // 2])
    assert "sentences: " in message, message


def test_a_finished_run_stays_finished(straight, text, capsys):
    before = snapshot(straight)
    capsys.readouterr()
    assert train(straight, text) == json.loads((straight / "results.json").read_text())
    assert "holds a finished run of 2 epochs" in capsys.readouterr().out
    assert snapshot(straight) == before


def test_plateau_patience_counts_the_epochs_before_a_resume():
    """A run resumed after epoch 2 reduces the learning rate at the epochs where the
    uninterrupted run does (patience 1, factor 0.5; the values are made up)."""
    val_loss = [3.0, 3.5, 3.6, 2.0, 2.5]
    # Written out, from 2.0: 3.0 best; 3.5 waits 1 -> halve; 3.6 waits 1 -> halve; 2.0 best;
    # 2.5 waits 1 -> halve.
    expected = [2.0, 1.0, 0.5, 0.5, 0.25]

    def learning_rates(callback, epochs, start_lr):
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(start_lr), loss="mse")
        callback.set_model(model)
        callback.on_train_begin()
        out = []
        for epoch in epochs:
            callback.on_epoch_end(epoch, {"val_loss": val_loss[epoch]})
            out.append(float(model.optimizer.learning_rate))
        return out

    kwargs = {"monitor": "val_loss", "mode": "min", "factor": 0.5, "patience": 1}
    assert learning_rates(keras.callbacks.ReduceLROnPlateau(**kwargs), range(5), 2.0) == \
        expected
    resumed = _ResumedReduceLROnPlateau(val_loss[:2], **kwargs)
    assert learning_rates(resumed, range(2, 5), expected[1]) == expected[2:]
    # Keras's own callback, restarted, forgets the best value: it keeps 1.0 at epoch 2.
    fresh = keras.callbacks.ReduceLROnPlateau(**kwargs)
    assert learning_rates(fresh, range(2, 5), expected[1])[0] == 1.0
