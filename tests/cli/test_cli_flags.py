"""The CLI speaks in flags, the library in Python arguments; TensorFlow's C++ log stays quiet.

The library writes an argument as `` `name` `` or `` `name=value` ``; `zoo.cli.main` prints
each one that is an option of the command's parser as that option.
"""

import os
import subprocess
import sys

from helpers import ROOT
from helpers.cli import run_main
from helpers.tuning import CORPUS_ARGS
from zoo.cli import _quiet
from zoo.cli import as_flags
from zoo.cli.train import build_parser



def test_backticked_arguments_become_the_parsers_flags():
    parser = build_parser()  # train.py's
    assert as_flags("Argument `batch_size` must be a positive integer. Received: "
                    "batch_size=0", parser) == ("Argument --batch-size must be a positive "
                                                "integer. Received: batch_size=0")
    assert as_flags("pass `overwrite=True` to train again", parser) == (
        "pass --overwrite to train again")
    assert as_flags("(`batch_size=4`, `num_steps=10`)", parser) == (
        "(--batch-size 4, --num-steps 10)")
    assert as_flags("`data='ptb'` has no character version", parser) == (
        "--data ptb has no character version")
    # Not options of this parser, or a value a switch cannot say: left as they are.
    for text in ("Argument `units` must be ...", "`overwrite=False`", "`wait_timeout`"):
        assert as_flags(text, parser) == text


def test_a_library_error_is_printed_with_the_commands_flags(tmp_path, capsys):
    # zoo.tuning.space.load_space raises "Argument `space` must be a JSON object ...".
    argv = ["tune", "--space", "[1, 2]", "--directory", str(tmp_path), *CORPUS_ARGS]
    assert run_main(argv) == 2
    assert capsys.readouterr().err == (
        "error: Argument --space must be a JSON object of field -> values. Received: "
        "space=a JSON list\n")
    assert not os.listdir(tmp_path)


def test_the_users_tensorflow_log_level_is_kept(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    assert run_main(["--list-models"]) == 0
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    assert run_main(["--list-models"]) == 0
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


def test_tensorflow_starts_without_its_cpp_log(tmp_path):
    """Without a GPU, TensorFlow logs "E0000 ... failed call to cuInit" at its first op: here
    one run after the CLI's `main` (a tiny train.py run shows the same, at several times the
    cost)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(KERAS_BACKEND="tensorflow", CUDA_VISIBLE_DEVICES="")
    code = ("from zoo.cli import main\n"
            "try:\n"
            "    main(['--list-models'])\n"
            "except SystemExit:\n"
            "    pass\n"
            "import tensorflow as tf\n"
            "print('op', int(tf.constant(1) + 1))\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "ptb-small" in run.stdout and "op 2" in run.stdout  # the zoo's own lines stay
    assert "cuInit" not in run.stderr and "cpu_feature_guard" not in run.stderr, run.stderr
    # nor the lines TensorFlow prints while its libraries load, before any log level applies
    assert "I0000" not in run.stderr and "absl::InitializeLog" not in run.stderr, run.stderr


def test_only_tensorflows_start_up_info_lines_are_dropped(capfd):
    lines = ["WARNING: All log messages before absl::InitializeLog() is called are written "
             "to STDERR", "I0000 00:00:1796302630.624909   14388 port.cc:153] oneDNN custom "
             "operations are on.", "E0000 00:00:1796302630.7 a real error",
             "W0000 00:00:1796302630.8 a warning", "Traceback (most recent call last):"]
    with _quiet._start_up_lines_dropped():
        os.write(2, "".join(line + "\n" for line in lines).encode())
    assert capfd.readouterr().err.splitlines() == lines[2:]


def test_the_quiet_import_hook_goes_once_tensorflow_is_imported():
    import tensorflow  # noqa: F401  (imported in this process already, as by any test)

    before = list(sys.meta_path)
    _quiet.quiet_tensorflow_start()
    assert sys.meta_path == before  # nothing to quiet: no hook is left behind
