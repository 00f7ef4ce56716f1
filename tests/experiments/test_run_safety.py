"""Runs that never lose work: a kill at each dangerous instant, then the same command again.

A "kill" is an exception raised at the named instant inside an in-process run (the run
folder's lock is released as a dying process's would be); the re-run must end exactly where
the uninterrupted run ends: the same final weights (bit for bit), every epoch once in
history.csv, loadable checkpoints. Runs are tiny (a 4,000-token generated corpus, 16 units).
The batch-1 evaluation after training (checked against `evaluate` in test_cli.py) is the
slowest part of a tiny run and plays no part here: `fast_eval` replaces it by a constant.
"""

import csv
import fcntl
import json
import shutil

import keras
import numpy as np
import pytest

from helpers.cli import run_main
from helpers.kills import Killed
from helpers.kills import kill_on_call
from helpers.kills import snapshot
import zoo.layers  # noqa: F401  (registers the custom layers for keras.saving.load_model)
from zoo import cli
from zoo.cli import train as train_cli
from zoo.experiments import train_lm
from zoo.experiments.train_lm import run_settings

TINY = ["--model", "ptb-test", "--hidden-size", "16", "--num-steps", "5", "--corpus-tokens",
        "4000", "--corpus-vocab", "40", "--verbose", "0", "--epochs", "2"]
# text8 bigram recipe: one "epoch" is steps_per_epoch batches of a stream whose states run
# on, with per-step learning-rate decay and, as the notebook's 21,001 updates, one extra
# one-step epoch.
STREAM = ["--model", "text8-bigram", "--hidden-size", "8", "--batch-size", "4", "--num-steps",
          "5", "--corpus-tokens", "3000", "--steps-per-epoch", "6", "--epochs", "2",
          "--verbose", "0"]


@pytest.fixture(autouse=True, scope="module")
def fast_eval():
    with pytest.MonkeyPatch.context() as m:
        m.setattr(train_lm, "evaluate_stream", lambda *args, **kwargs: 1.0)
        yield



def history_epochs(run):
    with open(run / "history.csv", newline="") as f:
        return [row["epoch"] for row in csv.DictReader(f)]


def final_weights(run):
    return keras.saving.load_model(run / "final.keras", compile=False).get_weights()


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted runs: {"word": folder, "stream": folder}."""
    runs = {}
    for name, argv in (("word", TINY), ("stream", STREAM)):
        out = tmp_path_factory.mktemp(name)
        assert run_main([*argv, "--output-dir", str(out)]) == 0
        runs[name] = out
    return runs


def _half_file(args, kwargs):
    """Writes a truncated file where the call was going to write."""
    path = kwargs.get("filepath", args[1] if len(args) > 1 else None)
    with open(path, "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\nPK\x03\x04 truncated")


def _csv_epoch_end(monkeypatch):
    # The CSV row of epoch 2 (Keras's own BackupAndRestore had committed epoch 2 by then).
    kill_on_call(monkeypatch, keras.callbacks.CSVLogger, "on_epoch_end", 2)


def _backup_weights_half_written(monkeypatch):
    # Epoch 2's backup weights are being written: a truncated file.
    kill_on_call(monkeypatch, keras.Model, "save_weights", 2, before=_half_file)


def _between_weights_and_epoch(monkeypatch):
    # Epoch 2's backup weights are written, its epoch number is not.
    kill_on_call(monkeypatch, keras.Model, "save_weights", 2, after=True)


KILLS = {
    "csv-row-of-epoch-2": _csv_epoch_end,
    "backup-weights-half-written": _backup_weights_half_written,
    "between-backup-weights-and-epoch": _between_weights_and_epoch,
}


@pytest.mark.parametrize("instant", list(KILLS))
def test_kill_at_an_epoch_end_then_rerun_gives_the_uninterrupted_run(instant, straight,
                                                                      tmp_path, monkeypatch):
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        KILLS[instant](m)
        with pytest.raises(Killed):
            cli.main([*TINY, "--output-dir", str(out)])
    assert run_main([*TINY, "--output-dir", str(out)]) == 0
    assert history_epochs(out) == ["0", "1"], "every epoch exactly once"
    assert_same_weights(final_weights(out), final_weights(straight["word"]))
    assert json.loads((out / "backup" / "backup.json").read_text())["epoch"] == 2


def test_kill_while_best_checkpoint_is_written_keeps_the_previous_one(straight, tmp_path,
                                                                      monkeypatch):
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        # Save 2 is best.keras at epoch 2 (val_perplexity falls: 29.4, then 26.0).
        kill_on_call(m, keras.Model, "save", 2, before=_half_file)
        with pytest.raises(Killed):
            cli.main([*TINY, "--output-dir", str(out)])
    # The epoch-1 best model is whole, and the run resumes from its epoch-1 backup.
    keras.saving.load_model(out / "best.keras", compile=False)
    assert run_main([*TINY, "--output-dir", str(out)]) == 0
    assert history_epochs(out) == ["0", "1"]
    best = keras.saving.load_model(out / "best.keras", compile=False).get_weights()
    assert_same_weights(best, final_weights(straight["word"]))


def test_kill_after_training_before_results_keeps_the_backup(straight, tmp_path, monkeypatch,
                                                              capsys):
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        kill_on_call(m, train_lm, "evaluate_stream", 1)
        with pytest.raises(Killed):
            cli.main([*TINY, "--output-dir", str(out)])
    assert (out / "backup").is_dir(), "the backup must outlive fit until results.json exists"
    trained = (out / "history.csv").read_bytes()
    capsys.readouterr()
    assert run_main([*TINY, "--output-dir", str(out)]) == 0
    assert "resuming after epoch 2" in capsys.readouterr().out
    # No epoch trained again: history.csv (with its measured words/s) is byte-identical.
    assert (out / "history.csv").read_bytes() == trained
    assert_same_weights(final_weights(out), final_weights(straight["word"]))
    assert (out / "results.json").is_file() and (out / "backup").is_dir()


def test_stream_run_resumes_mid_stream_with_its_states(straight, tmp_path, monkeypatch):
    """text8 recipe: the resumed epoch reads the stream's next batches from the saved RNN
    states with the saved dropout seeds."""
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        # Mid-epoch 2: its third batch (6 batches an epoch).
        from zoo.training import WordsPerSecond

        kill_on_call(m, WordsPerSecond, "on_train_batch_end", 9)
        with pytest.raises(Killed):
            cli.main([*STREAM, "--output-dir", str(out)])
    assert history_epochs(out) == ["0"]
    assert run_main([*STREAM, "--output-dir", str(out)]) == 0
    assert history_epochs(out) == ["0", "1", "2"]  # 2 epochs of 6 and the extra step
    assert_same_weights(final_weights(out), final_weights(straight["stream"]))


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("interrupted") / "run"
    with pytest.MonkeyPatch.context() as m:
        _csv_epoch_end(m)
        with pytest.raises(Killed):
            cli.main([*TINY, "--output-dir", str(out)])
    assert (out / "backup").is_dir()
    return out


def _interrupted(interrupted_run, tmp_path):
    """A copy of a run killed at its second epoch's end."""
    out = tmp_path / "run"
    shutil.copytree(interrupted_run, out)
    return out


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_other_settings_refused_then_overwrite_starts_afresh(interrupted_run, tmp_path, capsys):
    out = _interrupted(interrupted_run, tmp_path)
    meta = (out / "zoo_meta.json").read_bytes()
    other = [*TINY, "--hidden-size", "8", "--output-dir", str(out)]
    assert run_main(other) == 2
    line = one_error_line(capsys)
    assert "other settings" in line and "hidden_size: 16 → 8" in line and "--overwrite" in line
    assert (out / "zoo_meta.json").read_bytes() == meta, "zoo_meta.json written after checks"

    assert run_main([*other, "--overwrite"]) == 0
    assert history_epochs(out) == ["0", "1"]
    assert json.loads((out / "zoo_meta.json").read_text())["config"]["hidden_size"] == 8
    assert keras.saving.load_model(out / "final.keras", compile=False).get_layer(
        "lstm_0").units == 8
    # The finished hidden-size-8 run is now what the folder holds: 16 is refused too.
    assert run_main([*TINY, "--output-dir", str(out)]) == 2
    assert "holds a run with other settings" in one_error_line(capsys)


def test_overwrite_with_a_bad_flag_keeps_the_old_run(interrupted_run, tmp_path, capsys):
    # --overwrite deletes the old run only once the data and the model are ready.
    out = _interrupted(interrupted_run, tmp_path)
    before = sorted(p.name for p in out.rglob("*"))
    assert run_main([*TINY, "--batch-size", "100000", "--overwrite", "--output-dir",
                     str(out)]) == 2
    assert "--batch-size 100000" in one_error_line(capsys)
    assert sorted(p.name for p in out.rglob("*")) == before


def settings(args, config):
    return run_settings(config, args.data, args.seed, args.corpus_tokens, args.corpus_vocab)


def test_a_reworded_preset_description_is_the_same_run():
    args = train_cli.build_parser().parse_args(TINY)
    config = train_cli.config_from_args(args)
    reworded = config.replace(description=config.description + " (reworded)")
    assert settings(args, reworded) == settings(args, config)
    assert settings(args, config.replace(hidden_size=8)) != settings(args, config)


def test_mirror_overwrite_deletes_the_old_mirror_run(tmp_path):
    out = tmp_path / "mirror"
    (out / "backup").mkdir(parents=True)
    (out / "backup" / "stale").write_text("an old backup")
    (out / "history.csv").write_text("epoch,loss\n0,9\n1,8\n2,7\n")
    (out / "log.csv").write_text("epoch,loss\n0,9\n")  # an earlier version's name
    assert run_main(["--model", "mirror-seq2seq", "--corpus-tokens", "300", "--epochs", "1",
                     "--batch-size", "16", "--output-dir", str(out), "--overwrite"]) == 0
    with open(out / "history.csv", newline="") as f:
        assert [row[0] for row in csv.reader(f)] == ["epoch", "0"]
    assert not (out / "backup" / "stale").exists() and not (out / "log.csv").exists()


@pytest.mark.parametrize("victim", ["weights", "record"])
def test_corrupt_backup_is_one_line_naming_it(victim, interrupted_run, tmp_path, capsys):
    out = _interrupted(interrupted_run, tmp_path)
    backup = out / "backup"
    if victim == "weights":
        path = next(backup.glob("*.weights.h5"))
    else:
        path = backup / "backup.json"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    capsys.readouterr()
    assert run_main([*TINY, "--output-dir", str(out)]) == 2
    line = one_error_line(capsys)
    assert str(path) in line and "corrupt" in line
    assert f"delete {backup}" in line and "--overwrite" in line


def test_second_run_on_a_locked_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    with open(out / ".lock", "a") as held:  # another run's lock
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert run_main([*TINY, "--output-dir", str(out)]) == 2
        line = one_error_line(capsys)
        assert "in use by another run" in line and str(out) in line
        assert not (out / "zoo_meta.json").exists() and not (out / "history.csv").exists()


def test_mirror_run_on_a_locked_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "mirror"
    out.mkdir()
    with open(out / ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert run_main(["--model", "mirror-seq2seq", "--corpus-tokens", "300", "--epochs", "1",
                         "--output-dir", str(out)]) == 2
        line = one_error_line(capsys)
        assert "in use by another run" in line and str(out) in line
        assert sorted(p.name for p in out.iterdir()) == [".lock"]


def test_default_run_folder_names_the_changed_flags():
    def folder(*argv):
        args = train_cli.build_parser().parse_args(list(argv))
        return train_cli.default_output_dir(args, train_cli.config_from_args(args))

    assert folder("--model", "ptb-small", "--data", "ptb") == "runs/ptb-small-ptb"
    # A flag at the preset's value is the same run.
    assert folder("--model", "ptb-small", "--data", "ptb", "--hidden-size", "200") == \
        "runs/ptb-small-ptb"
    assert folder("--model", "ptb-small", "--data", "ptb", "--hidden-size", "32", "--cell",
                  "gate", "--learning-rate", "0.5", "--num-layers", "1", "--seed", "3") == \
        "runs/ptb-small-ptb-cell-gate-hidden-size32-num-layers1-learning-rate0.5-seed3"
    assert folder("--model", "ptb-test", "--tie-weights", "--corpus-tokens", "4000000") == \
        "runs/ptb-test-synthetic-tie-weights-corpus-tokens4000000"


def _finished(straight, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(straight["word"], out)
    return out


def test_rerunning_a_finished_run_prints_its_results_and_touches_nothing(straight, tmp_path,
                                                                         capsys):
    out = _finished(straight, tmp_path)
    before = snapshot(out)
    capsys.readouterr()
    assert run_main([*TINY, "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "holds a finished run of 2 epochs" in printed
    assert "valid perplexity 1.00" in printed  # fast_eval's constant, read from results.json
    assert snapshot(out) == before


def test_a_finished_run_stays_finished_after_a_kill_while_its_backup_was_deleted(
        straight, tmp_path, capsys):
    # The backup of a finished run used to be deleted after results.json was written; a
    # kill in the middle of that left backup.json naming a deleted weights file.
    out = _finished(straight, tmp_path)
    next((out / "backup").glob("*.weights.h5")).unlink()
    before = snapshot(out)
    assert run_main([*TINY, "--output-dir", str(out)]) == 0
    assert snapshot(out) == before


def test_fewer_epochs_than_a_finished_run_is_refused(straight, tmp_path, capsys):
    out = _finished(straight, tmp_path)
    before = snapshot(out)
    capsys.readouterr()
    assert run_main([*TINY, "--epochs", "1", "--output-dir", str(out)]) == 2
    line = one_error_line(capsys)
    assert "finished 2 epochs, more than the 1 asked for" in line and "--overwrite" in line
    assert snapshot(out) == before


def test_more_epochs_continue_a_finished_run_even_after_a_kill(straight, tmp_path,
                                                              monkeypatch):
    """1 epoch, then `--epochs 2` (killed at its epoch's end, then re-run) is the 2-epoch
    run bit for bit: the continuation starts from the backup's last commit."""
    out = tmp_path / "run"
    one = [*TINY, "--epochs", "1", "--output-dir", str(out)]
    assert run_main(one) == 0
    assert json.loads((out / "results.json").read_text())["epochs"] == 1
    with monkeypatch.context() as m:
        kill_on_call(m, keras.callbacks.CSVLogger, "on_epoch_end", 1)
        with pytest.raises(Killed):
            cli.main([*TINY, "--output-dir", str(out)])
    assert not (out / "results.json").exists(), "results.json of 1 epoch beside 2 epochs' files"
    assert run_main([*TINY, "--output-dir", str(out)]) == 0
    assert history_epochs(out) == ["0", "1"]
    assert json.loads((out / "results.json").read_text())["epochs"] == 2
    assert_same_weights(final_weights(out), final_weights(straight["word"]))


def _edit_backup(out, epoch, rename=False):
    """Hand-edits backup.json to claim `epoch` (renaming its files to match with `rename`)."""
    path = out / "backup" / "backup.json"
    record = json.loads(path.read_text())
    if rename:
        for key in ("weights", "states"):
            name = f"epoch-{epoch}." + record[key].split(".", 1)[1]
            (out / "backup" / record[key]).rename(out / "backup" / name)
            record[key] = name
    record["epoch"] = epoch
    path.write_text(json.dumps(record))
    return path


def test_a_backup_claiming_an_epoch_it_does_not_hold_is_refused(interrupted_run, tmp_path,
                                                                capsys):
    out = _interrupted(interrupted_run, tmp_path)
    path = _edit_backup(out, 7)
    capsys.readouterr()
    assert run_main([*TINY, "--output-dir", str(out)]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: backup {path} is corrupt: it claims epoch 7 but names "), line
    # Renamed to match, epoch 7 is still beyond the 2 epochs of the run.
    _edit_backup(out, 7, rename=True)
    assert run_main([*TINY, "--output-dir", str(out)]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: backup {path} holds epoch 7 of a run of 2 epochs"), line


def test_a_truncated_backup_file_is_refused_by_its_recorded_size(interrupted_run, tmp_path,
                                                                 capsys):
    out = _interrupted(interrupted_run, tmp_path)
    states = next((out / "backup").glob("*.states.npz"))
    states.write_bytes(states.read_bytes()[:-1])  # still a readable zip? never mind: refused
    capsys.readouterr()
    assert run_main([*TINY, "--output-dir", str(out)]) == 2
    line = one_error_line(capsys)
    size = states.stat().st_size
    assert line.startswith(f"error: backup {states} is corrupt ({size} bytes, {size + 1} were "
                           "written)"), line
