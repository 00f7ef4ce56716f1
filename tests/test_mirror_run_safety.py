"""The mirror model's runs have the language models' guarantees (issue 20 §7, 21 §6).

As in test_run_safety.py: a "kill" is an exception raised at the named instant of an
in-process `train.py` run (its kill hooks); the same command again must end exactly where the
uninterrupted run ends (the same final weights, bit for bit, every epoch once in
history.csv). A run of other settings is refused in one line; a finished run stays finished.
The run folder holds the language models' file names. Runs are tiny (300 generated words,
8 units).
"""

import csv
import json
import shutil

import keras
import numpy as np
import pytest

from helpers.cli import run_main
from test_run_safety import Killed
from test_run_safety import kill_on_call
from test_run_safety import one_error_line
from test_run_safety import snapshot
from zoo import cli
from zoo.experiments.train_mirror import _ResumedReduceLROnPlateau

TINY = ["--model", "mirror-seq2seq", "--corpus-tokens", "300", "--epochs", "2",
        "--batch-size", "16", "--hidden-size", "8", "--verbose", "0"]
LM_FILES = {"best.keras", "final.keras", "history.csv", "results.json", "zoo_meta.json"}


def history_epochs(run):
    with open(run / "history.csv", newline="") as f:
        return [row["epoch"] for row in csv.DictReader(f)]


def final_weights(run):
    return keras.saving.load_model(run / "final.keras", compile=False).get_weights()


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("mirror") / "run"
    assert run_main([*TINY, "--output-dir", str(out)]) == 0
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
    assert settings["config"]["units"] == 8 and settings["data"] == "synthetic"


def _csv_epoch_end(monkeypatch):
    # The CSV row of epoch 2: Keras's BackupAndRestore had committed epoch 2 by then.
    kill_on_call(monkeypatch, keras.callbacks.CSVLogger, "on_epoch_end", 2)


def _between_weights_and_epoch(monkeypatch):
    # Epoch 2's backup weights are written, its epoch number is not (Keras's backup
    # writes them in place, one after the other).
    kill_on_call(monkeypatch, keras.Model, "save_weights", 2, after=True)


KILLS = {"csv-row-of-epoch-2": _csv_epoch_end,
         "between-backup-weights-and-epoch": _between_weights_and_epoch}


def _kill(out, instant):
    with pytest.MonkeyPatch.context() as m:
        KILLS[instant](m)
        with pytest.raises(Killed):
            cli.main([*TINY, "--output-dir", str(out)])


@pytest.mark.parametrize("instant", list(KILLS))
def test_kill_then_rerun_gives_the_uninterrupted_run(instant, straight, tmp_path):
    out = tmp_path / "run"
    _kill(out, instant)
    assert json.loads((out / "backup" / "backup.json").read_text())["epoch"] == 1
    assert run_main([*TINY, "--output-dir", str(out)]) == 0
    assert history_epochs(out) == ["0", "1"], "every epoch exactly once"
    a, b = final_weights(out), final_weights(straight)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert (json.loads((out / "results.json").read_text())["history"]
            == json.loads((straight / "results.json").read_text())["history"])


def test_other_settings_are_refused_in_one_line_and_touch_nothing(straight, tmp_path, capsys):
    out = tmp_path / "run"
    _kill(out, "csv-row-of-epoch-2")
    before = snapshot(out)
    capsys.readouterr()
    assert run_main([*TINY, "--hidden-size", "4", "--output-dir", str(out)]) == 2
    line = one_error_line(capsys)
    assert "other settings" in line and "units: 8 → 4" in line, line
    assert snapshot(out) == before
    shutil.rmtree(out)
    shutil.copytree(straight, out)  # a finished run: the same
    before = snapshot(out)
    assert run_main([*TINY, "--seed", "1", "--output-dir", str(out)]) == 2
    line = one_error_line(capsys)
    assert "holds a run with other settings" in line and "seed: 0 → 1" in line, line
    assert snapshot(out) == before


def test_a_finished_run_stays_finished(straight, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(straight, out)
    before = snapshot(out)
    results = json.loads((out / "results.json").read_text())
    capsys.readouterr()
    assert run_main([*TINY, "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "holds a finished run of 2 epochs" in printed
    assert f"{100 * results['test_word_accuracy']:.1f}% of words" in printed
    assert snapshot(out) == before


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
