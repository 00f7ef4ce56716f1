"""The `train.py` command line: train, evaluate, generate, tune, mirror.

    python train.py [--model NAME] [--data synthetic|ptb|mini-ptb|text8] ...   # train
    python train.py evaluate --checkpoint RUN/best.keras --data ...
    python train.py generate --checkpoint RUN/best.keras --prime "the" --length 50
    python train.py tune --model NAME --tuner random --max-trials 10
    python train.py mirror --checkpoint RUN/best.keras "the quick brown fox"

One module a command (argparse only); the work is done by `zoo.experiments` and
`zoo.tuning`. Every bad value ends the program with one `error:` line on stderr and a
non-zero exit. Nothing in the zoo imports this package.
"""

import errno
import os
import sys

from zoo.cli import evaluate
from zoo.cli import generate
from zoo.cli import mirror
from zoo.cli import train
from zoo.cli import tune
from zoo.cli._args import CLIError

COMMANDS = {"train": train.run, "evaluate": evaluate.run, "generate": generate.run,
            "tune": tune.run, "mirror": mirror.run}

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


def main(argv=None):
    """Entry point of `train.py` and the `lstm-zoo` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "train"
    try:
        status = COMMANDS[command](argv)
    except CLIError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except (ValueError, FileNotFoundError) as e:
        if _diverged(e):  # exit 1: the settings were valid, the run was not
            print(f"error: {e}; try a lower --learning-rate with --overwrite (or another "
                  "--output-dir)", file=sys.stderr)
            sys.exit(1)
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
              file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: re-run the same command to resume from the last finished epoch",
              file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # noqa: BLE001  (only the failures _one_line knows; others raise)
        line = _one_line(e)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        # exit 1: the settings were valid, the machine was not (as a diverged run).
        sys.exit(1 if line.startswith("disk full") else 2)
    sys.exit(status or 0)
