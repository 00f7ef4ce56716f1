"""One `error:` line and a non-zero exit, never a traceback, for what users get wrong or
what the machine runs out of (issue 12). All in-process except the real full disk."""

import errno
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from helpers.cli import run_main
from zoo.models.configs import get_config
from helpers import ROOT

TINY = ["--model", "ptb-test", "--hidden-size", "16", "--num-steps", "5", "--corpus-tokens",
        "4000", "--corpus-vocab", "40", "--verbose", "0"]



def one_error_line(capsys):
    """The single stderr line (asserted single), without its `error: ` prefix."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0][len("error: "):]


@pytest.mark.parametrize("argv, needle", [
    (["--seed", "-1"], "argument --seed: must be an integer from 0 to 2**32 - 1. Received: -1"),
    (["--seed", str(2**32)], "argument --seed"),
    (["evaluate", "--checkpoint", "x", "--seed", "-1"], "argument --seed"),
    (["generate", "--checkpoint", "x", "--seed", "-1"], "argument --seed"),
    (["tune", "--seed", "-1"], "argument --seed"),
    (["--learning-rate", "inf"], "argument --learning-rate: must be a finite number > 0. Received: inf"),
    (["--learning-rate", "nan"], "argument --learning-rate: must be a finite number > 0. Received: nan"),
    (["--learning-rate", "-inf"], "argument --learning-rate"),
    (["generate", "--checkpoint", "x", "--temperature", "inf"], "argument --temperature"),
    (["tune", "--learning-rates", "0.01:inf"], "`space['learning_rate']` must be a range whose bounds are finite numbers"),
    (["tune", "--space", '{"keep_prob": [0.5, NaN]}'], "`space['keep_prob']` must be a finite number"),
])
def test_bad_numbers_name_the_option(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_main(argv) == 2
    assert needle in one_error_line(capsys)


def test_output_dir_that_is_a_file(tmp_path, capsys):
    path = tmp_path / "taken"
    path.write_text("mine")
    assert run_main([*TINY, "--output-dir", str(path)]) == 2
    assert one_error_line(capsys) == (f"argument --output-dir: {path} is a file, not a "
                                      "directory")
    assert path.read_text() == "mine"


def test_tensorboard_missing_is_refused_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` fails
    out = tmp_path / "run"
    assert run_main([*TINY, "--tensorboard", "--output-dir", str(out)]) == 2
    assert "--tensorboard needs the tensorboard package" in one_error_line(capsys)
    assert not out.exists(), "checked before anything is written"


def test_tune_without_tensorboard_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    argv = ["tune", "--model", "synthetic-small", "--corpus-tokens", "3000", "--directory",
            str(tmp_path), "--batch-size", "20", "--num-steps", "10", "--epochs", "1"]
    assert run_main(argv) == 2
    assert "tune needs the tensorboard package" in one_error_line(capsys)


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/full/disk/best.keras")


def test_disk_full_during_a_run_is_one_line(tmp_path, capsys, monkeypatch):
    import keras

    monkeypatch.setattr(keras.Model, "save", _disk_full)  # ModelCheckpoint's first save
    assert run_main([*TINY, "--epochs", "1", "--output-dir", str(tmp_path / "run")]) == 1
    line = one_error_line(capsys)
    assert line.startswith("disk full (No space left on device) writing /full/disk/best.keras")
    assert "re-run the same command" in line


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_a_really_full_disk_is_one_line(tmp_path):
    """A 40 KiB tmpfs mounted in a user namespace (no root needed where they are allowed)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    probe = subprocess.run(["unshare", "-Urm", "mount", "-t", "tmpfs", "-o", "size=40k",
                            "tmpfs", str(mnt)], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {probe.stderr[-200:]!r}")
    script = (f'mount -t tmpfs -o size=40k tmpfs "{mnt}" && exec "{sys.executable}" '
              f'"{ROOT / "train.py"}" ' + " ".join(TINY) + f' --epochs 1 --output-dir "{mnt}/run"')
    proc = subprocess.run(["unshare", "-Urm", "sh", "-c", script], cwd=ROOT, timeout=300,
                          capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert proc.returncode == 1, proc.stderr[-3000:]
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert errors and errors[-1].startswith("error: disk full (No space left on device)"), (
        proc.stderr[-3000:])
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]


@pytest.fixture
def small_disk(tmp_path):
    """A 72 KiB tmpfs (root's `mount`): room for best.keras, not for the first backup."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=72k", "tmpfs", str(mnt)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()[-200:]}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_disk_that_fills_at_the_backup_is_one_line_then_the_run_resumes(small_disk):
    """h5py used to leave the backup's weights file open: a dozen tracebacks, then rc 139."""
    argv = [*TINY, "--epochs", "2", "--output-dir", str(small_disk / "run")]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), *argv], cwd=ROOT, env=env,
                          timeout=300, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(
        "error: disk full (No space left on device"), proc.stderr[-3000:]
    assert (small_disk / "run" / "best.keras").is_file(), "the disk filled at the backup"
    subprocess.run(["mount", "-o", "remount,size=2m", str(small_disk)], check=True)
    again = subprocess.run([sys.executable, str(ROOT / "train.py"), *argv], cwd=ROOT, env=env,
                           timeout=300, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (small_disk / "run" / "results.json").is_file()


@pytest.mark.parametrize("exception", [
    MemoryError(),
    "tf.errors.ResourceExhaustedError",
])
def test_out_of_memory_is_one_line(exception, tmp_path, capsys, monkeypatch):
    import zoo.experiments.train_lm

    if exception == "tf.errors.ResourceExhaustedError":
        import tensorflow as tf

        exception = tf.errors.ResourceExhaustedError(
            None, None, "OOM when allocating tensor with shape[20,10000]\nmore detail")

    def build_lm(*args, **kwargs):
        raise exception

    monkeypatch.setattr(zoo.experiments.train_lm, "build_lm", build_lm)
    assert run_main([*TINY, "--output-dir", str(tmp_path / "run")]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"out of memory ({type(exception).__name__}")
    assert line.endswith("try a smaller --batch-size, --hidden-size or --num-steps")


def test_a_diverged_run_exits_1_with_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    # lr 1e25: after the first update the loss is ~1e25, finite, but the perplexity is inf.
    assert run_main([*TINY, "--epochs", "2", "--learning-rate", "1e25",
                     "--output-dir", str(out)]) == 1
    line = one_error_line(capsys)
    assert line.startswith("training diverged at epoch 1, batch 2 (loss ")
    assert "perplexity inf" in line and line.endswith(
        "try a lower --learning-rate with --overwrite (or another --output-dir)")
    assert not (out / "results.json").exists() and not (out / "final.keras").exists()
    # What the line says works: the same folder with a lower rate and --overwrite.
    assert run_main([*TINY, "--epochs", "1", "--learning-rate", "0.5", "--overwrite",
                     "--output-dir", str(out)]) == 0
    assert (out / "results.json").exists()


# --------------------------------------------------------------------------- zoo_meta.json


def _run_dir(tmp_path, meta_text):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.keras").write_bytes(b"not read: the metadata is checked first")
    (run / "zoo_meta.json").write_text(meta_text, encoding="utf-8")
    return run


def _lm_meta(**changes):
    meta = {"config": get_config("ptb-test").to_dict(), "kind": "word",
            "vocab": ["a", "b", "<eos>", "<unk>"], "data": "synthetic"}
    meta.update(changes)
    return json.dumps(meta)


@pytest.mark.parametrize("command", ["evaluate", "generate"])
@pytest.mark.parametrize("meta_text, needle", [
    ('{"config": {"name": ', "is corrupt (Expecting value: line 1 column 21"),
    ("[1, 2]", 'is not a zoo run\'s metadata (expected a JSON object with "kind"'),
    (_lm_meta(kind="image"), "is not a zoo run's metadata"),
    (_lm_meta(vocab=None), 'has no "vocab" list'),
    (_lm_meta(config={"name": "x", "hidden_size": 3, "no_such_field": 1}),
     "has a config this version cannot read"),
])
def test_corrupt_or_wrong_shaped_meta_names_the_file(command, meta_text, needle, tmp_path,
                                                     capsys):
    run = _run_dir(tmp_path, meta_text)
    assert run_main([command, "--checkpoint", str(run / "best.keras")]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"{run / 'zoo_meta.json'} ") and needle in line, line


def test_mirror_checkpoint_given_to_generate_names_the_mirror_command(tmp_path, capsys):
    meta = {"config": get_config("mirror-seq2seq").to_dict(), "kind": "seq2seq",
            "data": "synthetic"}
    run = _run_dir(tmp_path, json.dumps(meta))
    ckpt = run / "best.keras"
    assert run_main(["generate", "--checkpoint", str(ckpt)]) == 2
    assert one_error_line(capsys) == (
        f"{ckpt} is a mirror-seq2seq checkpoint, not a language model: generate needs a "
        "language model; mirror sentences with it (or evaluate it as a mirror model) instead")


def test_language_model_given_to_mirror_names_generate(tmp_path, capsys):
    run = _run_dir(tmp_path, _lm_meta())
    ckpt = run / "best.keras"
    assert run_main(["mirror", "--checkpoint", str(ckpt), "hello"]) == 2
    assert one_error_line(capsys) == (
        f"{ckpt} is a word-level language model, not a mirror-seq2seq checkpoint: generate "
        "text with it (or evaluate it) instead")


@pytest.mark.parametrize("command, kind", [("evaluate", "word"), ("generate", "word"),
                                           ("mirror", "seq2seq")])
@pytest.mark.parametrize("content", [b"", b"not a zip archive", b"PK\x03\x04 cut short"])
def test_a_damaged_checkpoint_is_named_unreadable_not_missing(command, kind, content,
                                                              tmp_path, capsys):
    meta = (_lm_meta() if kind == "word" else json.dumps(
        {"config": get_config("mirror-seq2seq").to_dict(), "kind": "seq2seq",
         "data": "synthetic"}))
    run = _run_dir(tmp_path, meta)
    ckpt = run / "best.keras"
    ckpt.write_bytes(content)
    argv = [command, "--checkpoint", str(ckpt)] + (["hello"] if command == "mirror" else [])
    assert run_main(argv) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"checkpoint {ckpt} is unreadable: ") and (
        "not found" not in line.lower()), line


def test_offline_download_is_one_line(tmp_path, capsys, monkeypatch):
    import functools
    import socket

    from zoo.datasets import ptb

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setattr(ptb, "load_ptb", functools.partial(
        ptb.load_ptb, cache_dir=tmp_path / "cache",
        origin=f"http://127.0.0.1:{port}/simple-examples.tgz"))
    assert run_main(["--model", "ptb-test", "--data", "ptb", "--output-dir",
                     str(tmp_path / "run")]) == 2
    line = one_error_line(capsys)
    assert line.startswith("Could not download simple-examples.tgz from http://127.0.0.1:")
    assert "ptb.test.txt as " in line and "--data-dir" in line  # zoo.cli's flag for `data_dir`


@pytest.mark.parametrize("flag, line", [
    (["--num-steps", "5"], "--num-steps does not apply to mirror-seq2seq (a MirrorConfig)"),
    (["--tie-weights"], "--tie-weights does not apply to mirror-seq2seq"),
    (["--steps-per-epoch", "3"], "--steps-per-epoch does not apply to mirror-seq2seq"),
    (["--jit"], "--jit applies to the language models, not mirror-seq2seq"),
    (["--corpus-vocab", "50"], "--corpus-vocab applies to the language models, not mirror-seq2seq"),
])
def test_flags_that_do_not_apply_to_the_model_are_refused(flag, line, tmp_path, capsys):
    out = tmp_path / "mirror"
    assert run_main(["--model", "mirror-seq2seq", *flag, "--output-dir", str(out)]) == 2
    assert one_error_line(capsys).startswith(line)
    assert not out.exists()


@pytest.mark.parametrize("command", [[], ["--model", "mirror-seq2seq"], ["tune"],
                                     ["evaluate", "--checkpoint", "run/best.keras"]])
def test_data_dir_with_generated_data_is_refused(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written: not even the default run folder
    argv = [*command, "--data-dir", str(tmp_path / "ptb"), "--output-dir", "out"]
    if command and command[0] in ("tune", "evaluate"):
        argv = argv[:-2]
    assert run_main(argv) == 2
    assert one_error_line(capsys).startswith(
        "--data-dir applies to real data (--data ptb, mini-ptb or text8), not --data synthetic")
    assert list(tmp_path.iterdir()) == []


def test_load_corpus_refuses_a_data_dir_for_generated_data(tmp_path):
    from zoo.datasets.corpus import load_corpus

    with pytest.raises(ValueError, match=re.escape(
            "Argument `data_dir` does not apply to data='synthetic' (it is generated). "
            f"Received: data_dir={tmp_path}")):
        load_corpus("synthetic", "word", data_dir=str(tmp_path), corpus_tokens=1000)
