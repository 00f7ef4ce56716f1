"""Argument checks shared by the zoo layers (private).

Every check raises a one-line `ValueError` that names the offending argument,
in the style of Keras's own messages.
"""

import numbers


def check_positive_int(name, value):
    """Returns `value` as a Python int; `ValueError` unless a positive integer.

    NumPy integers (`np.int64(8)`) are accepted, as by Keras's own layers.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value <= 0
    ):
        raise ValueError(
            f"Argument `{name}` must be a positive integer. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_rate(name, value):
    """Returns `value` as a float; `ValueError` unless a float in `[0, 1]`.

    A rate of 1.0 is accepted as by `keras.layers.LSTM`, whose cell then
    applies no dropout at all (its step only drops for `0 < rate < 1`).
    """
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = None
    if rate is None or not 0.0 <= rate <= 1.0:
        raise ValueError(
            f"Argument `{name}` must be a float in [0, 1]. "
            f"Received: {name}={value!r}"
        )
    return rate


def check_rank(layer_name, input_shape, expected, what):
    """Raises `ValueError` unless `input_shape` has rank `expected`."""
    if input_shape is None or len(input_shape) not in expected:
        rank = None if input_shape is None else len(input_shape)
        raise ValueError(
            f"Argument `inputs` of {layer_name} must have rank "
            f"{' or '.join(str(r) for r in expected)} ({what}). "
            f"Received: inputs.shape={tuple(input_shape or ())} (rank {rank})"
        )
