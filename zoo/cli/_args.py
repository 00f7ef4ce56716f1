"""What the commands' parsers share: the error type, number types, data and model flags."""

import argparse
import math

from zoo.datasets.corpus import DATA_CHOICES
from zoo.checks import CELLS
from zoo.models.configs import DEFAULT_MODEL


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one `CLIError` line, not a usage dump."""

    def error(self, message):
        raise CLIError(f"{self.prog}: {message}")


def _number(convert, ok, what):
    """An argparse `type` that converts with `convert` and checks `ok`, naming `what`.

    Floats must be finite: `float("inf")` and `float("nan")` parse, but no option means them.
    """

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}. Received: {text!r}") from None
        if (isinstance(value, float) and not math.isfinite(value)) or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}. Received: {value}")
        return value

    return parse


positive_int = _number(int, lambda v: v > 0, "a positive integer")
positive_float = _number(float, lambda v: v > 0, "a finite number > 0")
non_negative_float = _number(float, lambda v: v >= 0, "a finite number >= 0")
#: Seeds go to `keras.utils.set_random_seed`, hence numpy's range.
seed_int = _number(int, lambda v: 0 <= v < 2**32, "an integer from 0 to 2**32 - 1")


def add_data_args(p, default="synthetic"):
    p.add_argument("--data", choices=DATA_CHOICES, default=default,
                   help="synthetic: the generated offline corpus (default); ptb: Penn Treebank "
                        "(downloaded, or --data-dir); mini-ptb: the shared small real split "
                        "(--data-dir, default $ZOO_SHARED_DATA/ptb); text8: characters "
                        "(downloaded, or --data-dir pointing at text8.zip or a text file)")
    p.add_argument("--data-dir", default=None, help="local copy of the data (no download)")
    p.add_argument("--corpus-tokens", type=positive_int, default=None,
                   help="synthetic data only: training tokens to generate")
    p.add_argument("--corpus-vocab", type=positive_int, default=None,
                   help="synthetic data only: vocabulary size of the generated corpus")


def check_data_args(args):
    """Refuses data flags that do not apply to `--data` (one `CLIError` line)."""
    if args.data == "synthetic" and args.data_dir is not None:
        raise CLIError(f"--data-dir applies to real data (--data ptb, mini-ptb or text8), not "
                       f"--data synthetic, which is generated: drop --data-dir "
                       f"{args.data_dir} or choose the data it holds")


def add_model_args(p):
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"a registered config (default {DEFAULT_MODEL}); --list-models shows all")
    p.add_argument("--cell", choices=CELLS, default=None,
                   help="LSTM implementation: fused (the zoo's fast layer), gate (gate-by-gate "
                        "cell), keras (keras.layers.LSTM)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (max_max_epoch)")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--num-steps", type=positive_int, default=None, help="unrolled timesteps")
    p.add_argument("--hidden-size", type=positive_int, default=None)
    p.add_argument("--num-layers", type=positive_int, default=None)
    p.add_argument("--learning-rate", type=positive_float, default=None)
    p.add_argument("--steps-per-epoch", type=positive_int, default=None,
                   help="training steps per epoch (stream data); default: one pass")
    p.add_argument("--tie-weights", action="store_true", default=None,
                   help="share the embedding matrix with the softmax")
