"""The `train.py` command line: train, evaluate, generate, tune, mirror.

    python train.py [--model NAME] [--data synthetic|ptb|mini-ptb|text8] ...   # train
    python train.py evaluate --checkpoint RUN/best.keras --data ...
    python train.py generate --checkpoint RUN/best.keras --prime "the" --length 50
    python train.py tune --model NAME --tuner random --max-trials 10
    python train.py mirror --checkpoint RUN/best.keras "the quick brown fox"

One module a command (argparse only); the work is done by `zoo.experiments` and
`zoo.tuning`. Every bad value ends the program with one `error:` line on stderr and a
non-zero exit (`main` turns exceptions into that line, in one place, writing the library's
backticked argument names as the command's flags). TensorFlow's C++ start-up log is quiet
(`zoo.cli._quiet`) unless `TF_CPP_MIN_LOG_LEVEL` is set. Nothing in the zoo imports this package.
"""

import errno
import os
import re
import sys

from zoo.cli import evaluate
from zoo.cli import generate
from zoo.cli import mirror
from zoo.cli import train
from zoo.cli import tune
from zoo.cli._args import CLIError
from zoo.cli._quiet import quiet_tensorflow_start

COMMANDS = {"train": train, "evaluate": evaluate, "generate": generate, "tune": tune,
            "mirror": mirror}

#: TensorFlow's C++ log level unless the user set one: 3 hides its INFO, WARNING and ERROR
#: lines, such as "E0000 ... failed call to cuInit" on a machine without a GPU.
TF_CPP_MIN_LOG_LEVEL = "3"

_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def _diverged(e):
    recipe = sys.modules.get("zoo.training.recipe")  # loaded if anything trained
    return recipe is not None and isinstance(e, recipe.TrainingDiverged)


def _one_line(e):
    """The one `error:` line for an environment failure `e`, or None to let it propagate.

    Disk full (any OSError with ENOSPC, including h5py's and TensorFlow's wrapped ones),
    out of memory (MemoryError, TensorFlow's ResourceExhaustedError) and other OSErrors
    (a folder that cannot be created, a download that failed, ...).
    """
    text = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
    if ((isinstance(e, OSError) and e.errno in _DISK_FULL) or
            "No space left on device" in str(e) or "Disk quota exceeded" in str(e)):
        # h5py and TensorFlow put the reason deep in their message: name it plainly.
        reason = os.strerror(errno.EDQUOT if "quota" in str(e) else errno.ENOSPC)
        where = f" writing {e.filename}" if getattr(e, "filename", None) else ""
        return (f"disk full ({reason}){where}: free some space, then re-run the same command "
                "(a training run resumes from its last finished epoch, a search with --resume)")
    if isinstance(e, MemoryError) or type(e).__name__ == "ResourceExhaustedError":
        return (f"out of memory ({type(e).__name__}{': ' + text if str(e).strip() else ''}): "
                "try a smaller --batch-size, --hidden-size or --num-steps")
    if isinstance(e, OSError):
        return text
    return None


def _search_failed(e):
    search = sys.modules.get("zoo.tuning.search")  # loaded if anything was tuned
    return search is not None and isinstance(e, search.SearchFailedError)


def _error(e):
    """(the `error:` line, the exit status) for `e`, or (None, None) to let it propagate."""
    if isinstance(e, CLIError):
        return str(e), 2
    if _diverged(e):  # exit 1: the settings were valid, the run was not
        return (f"{e}; try a lower --learning-rate with --overwrite (or another "
                "--output-dir)"), 1
    if _search_failed(e):  # exit 1: the settings were valid, the trials were not
        return str(e), 1
    if isinstance(e, (ValueError, FileNotFoundError)):
        return (str(e).splitlines()[0] if str(e) else type(e).__name__), 2
    line = _one_line(e)
    # exit 1: the settings were valid, the machine was not (as a diverged run).
    return line, (None if line is None else 1 if line.startswith("disk full") else 2)


def _options(parser):
    """{dest: (its long option string, whether it takes a value)} of `parser`'s options
    (argparse keeps them in the private `parser._actions`)."""
    options = {}
    for action in parser._actions:
        longest = max(action.option_strings, key=len, default=None)
        if longest and longest.startswith("--"):
            options[action.dest] = (longest, action.nargs != 0)
    return options


_BACKTICKED = re.compile(r"`([A-Za-z_]\w*)(?:=([^`]*))?`")
QUOTES = "'\""


def as_flags(message, parser):
    """`message` with each backticked argument that is a dest of `parser` written as its
    flag: `` `batch_size` `` -> `--batch-size`, `` `batch_size=0` `` -> `--batch-size 0`,
    `` `overwrite=True` `` -> `--overwrite`. Other backticked names stay as they are."""
    options = _options(parser)

    def flag(match):
        name, value = match.group(1), match.group(2)
        if name not in options:
            return match.group(0)
        option, takes_value = options[name]
        if value is None or (not takes_value and value == "True"):
            return option
        if not takes_value:
            return match.group(0)
        return f"{option} {value.strip(QUOTES)}"  # `data='ptb'` -> --data ptb

    return _BACKTICKED.sub(flag, message)


def _in_flags(line, command):
    try:
        return as_flags(line, COMMANDS[command].build_parser())
    except Exception:  # noqa: BLE001  (a parser that cannot be built: keep the line)
        return line


def main(argv=None):
    """Entry point of `train.py` and the `lstm-zoo` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "train"
    if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:  # the user's level is kept
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = TF_CPP_MIN_LOG_LEVEL  # before TF loads
        quiet_tensorflow_start()
    try:
        status = COMMANDS[command].run(argv)
    except KeyboardInterrupt:
        print("interrupted: re-run the same command to resume from the last finished epoch",
              file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # noqa: BLE001  (only the failures _error knows; others raise)
        line, status = _error(e)
        if line is None:
            raise
        print(f"error: {_in_flags(line, command)}", file=sys.stderr)
        sys.exit(status)
    sys.exit(status or 0)
