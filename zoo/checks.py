"""Argument checks shared by the whole zoo, in Keras's wording.

Every check raises one `ValueError` line that names the argument and the value received:

    Argument `batch_size` must be a positive integer. Received: batch_size=0

The checks return the value converted (a Python int or float), so a caller writes
`self.units = checks.positive_int("units", units)`. NumPy scalars are accepted, as by
Keras's own layers; booleans are not numbers here. A caller with a check of its own raises
through `invalid(name, what, value)`, so every argument error in the zoo reads the same.
"""

import math
import numbers
import os

__all__ = ["CELLS", "boolean", "env_seconds", "int_at_least", "non_negative_int",
           "non_negative_number", "number_above", "number_in", "one_of", "positive_int",
           "positive_number", "rank", "rate", "weight_dropout_for"]

#: The LSTM kinds (`cell=`) the zoo builds, in the order the docs list them: the values
#: `zoo.layers.lstm_layer` accepts. Here, below layers and models, so the configs and the
#: command line read it without importing Keras.
CELLS = ("fused", "gate", "keras")


def invalid(name, what, value, shown=None):
    """Raises the one `ValueError` line of every argument check, for checks of one caller's own.

    `invalid("window", "a positive integer", 0)` raises
    ``Argument `window` must be a positive integer. Received: window=0``.

    Args:
        name: str, the Python argument's name.
        what: str, what the argument must be (after "must be").
        value: the value received; shown with `repr`.
        shown: str, optional text shown after `name=` instead of `repr(value)` (for a long
            value, e.g. its length or shape).

    Raises:
        ValueError: always.
    """
    shown = repr(value) if shown is None else shown
    raise ValueError(f"Argument `{name}` must be {what}. Received: {name}={shown}")


def instance(name, value, types, what, error=ValueError):
    """`value`; `error` (`ValueError`) unless an instance of `types`, naming the type received.

    `instance("text", 5, str, "a str")` raises
    ``Argument `text` must be a str. Received: text of type int``.
    """
    if not isinstance(value, types):
        raise error(f"Argument `{name}` must be {what}. "
                         f"Received: {name} of type {type(value).__name__}")
    return value


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def boolean(name, value):
    """`value`; `ValueError` unless it is a bool (`True` or `False`, not 0 or 1)."""
    if not isinstance(value, bool):
        invalid(name, "a bool", value)
    return value


def positive_int(name, value):
    """`value` as an int; `ValueError` unless an integer >= 1."""
    if not _is_int(value) or value <= 0:
        invalid(name, "a positive integer", value)
    return int(value)


def int_at_least(name, value, low):
    """`value` as an int; `ValueError` unless an integer >= `low`."""
    if not _is_int(value) or value < low:
        invalid(name, f"an integer >= {low}", value)
    return int(value)


def non_negative_int(name, value):
    """`value` as an int; `ValueError` unless an integer >= 0."""
    return int_at_least(name, value, 0)


def positive_number(name, value):
    """`value` as a float; `ValueError` unless a finite number > 0."""
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        invalid(name, "a finite number > 0", value)
    return float(value)


def non_negative_number(name, value):
    """`value` as a float; `ValueError` unless a finite number >= 0."""
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        invalid(name, "a finite number >= 0", value)
    return float(value)


def number_above(name, value, low):
    """`value` as a float; `ValueError` unless a finite number > `low`."""
    if not _is_number(value) or not math.isfinite(value) or value <= low:
        invalid(name, f"a finite number > {low}", value)
    return float(value)


def number_in(name, value, low, high, include_low=True, include_high=True):
    """`value` as a float; `ValueError` unless a number in the interval from `low` to `high`.

    `include_low` / `include_high` say whether the ends belong to it: `number_in("keep_prob",
    p, 0, 1, include_low=False)` accepts (0, 1].
    """
    inside = _is_number(value) and (low <= value if include_low else low < value) and (
        value <= high if include_high else value < high)
    if not inside:
        interval = f"{'[' if include_low else '('}{low:g}, {high:g}{']' if include_high else ')'}"
        invalid(name, f"a number in {interval}", value)
    return float(value)


def rate(name, value, allow_one=True):
    """`value` as a float; `ValueError` unless in [0, 1] ([0, 1) with `allow_one=False`).

    A rate of 1.0 is accepted as by `keras.layers.LSTM`, whose cell then applies no
    dropout at all (its step only drops for `0 < rate < 1`).
    """
    try:
        result = float(value)
    except (TypeError, ValueError):
        result = None
    if isinstance(value, bool) or result is None or not (
            0.0 <= result <= 1.0 if allow_one else 0.0 <= result < 1.0):
        invalid(name, "a float in [0, 1]" if allow_one else "a float in [0, 1)", value)
    return result


def weight_dropout_for(cell, value):
    """`value` as a float in [0, 1); `ValueError` where the LSTM kind `cell` cannot apply a
    nonzero rate (`"keras"`: keras.layers.LSTM has no weight drop)."""
    rate_ = rate("weight_dropout", value, allow_one=False)
    if cell == "keras" and rate_ > 0:
        raise ValueError("Argument `weight_dropout` must be 0 with cell='keras' "
                         "(keras.layers.LSTM has no weight drop; use cell='fused' or "
                         f"'gate'). Received: weight_dropout={rate_!r}")
    return rate_


def one_of(name, value, choices):
    """`value`; `ValueError` unless it is one of `choices`."""
    if value not in choices:
        invalid(name, f"one of {tuple(choices)}", value)
    return value


def rank(layer_name, input_shape, expected, what):
    """Raises `ValueError` unless `input_shape` has a rank in `expected`."""
    if input_shape is None or len(input_shape) not in expected:
        got = None if input_shape is None else len(input_shape)
        raise ValueError(
            f"Argument `inputs` of {layer_name} must have rank "
            f"{' or '.join(str(r) for r in expected)} ({what}). "
            f"Received: inputs.shape={tuple(input_shape or ())} (rank {got})")


def env_seconds(name, default):
    """Seconds from the environment variable `name`, or `default` where it is unset or empty.

    Raises:
        ValueError: if the variable is not a finite number of seconds > 0.
    """
    text = os.environ.get(name)
    if not text:
        return float(default)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise ValueError(f"Environment variable `{name}` must be a number of seconds > 0. "
                         f"Received: {name}={text!r}")
    return value
