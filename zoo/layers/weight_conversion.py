"""Convert weights between `GateLSTMCell` and the fused layout.

The fused layout is `[kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u,)]`,
gate order i, f, c, o: the layout of `FusedLSTMCell`, `FusedLSTM` and
`keras.layers.LSTMCell` / `keras.layers.LSTM`. The gate layout is
`GateLSTMCell.get_weights()`: four kernels `(in, u)`, four recurrent kernels
`(u, u)`, four biases `(u,)`, each group in gate order i, f, c, o. Without
bias the lists have 2 and 8 arrays.
"""

import numpy as np


def _as_arrays(weights, name):
    if hasattr(weights, "get_weights"):
        weights = weights.get_weights()
    if not isinstance(weights, (list, tuple)):
        raise ValueError(
            f"Argument `{name}` must be a list of arrays or a layer. "
            f"Received: {name} of type {type(weights).__name__}"
        )
    return [np.asarray(w) for w in weights]


def gate_to_fused_weights(gate_cell_weights):
    """Concatenates `GateLSTMCell` weights into the fused layout.

    Args:
        gate_cell_weights: list of 12 arrays (8 without bias) as returned by
            `GateLSTMCell.get_weights()`, or a built `GateLSTMCell` or a
            `keras.layers.RNN` wrapping one.

    Returns:
        `[kernel, recurrent_kernel, bias]` (`[kernel, recurrent_kernel]`
        without bias), ready for `FusedLSTMCell.set_weights`,
        `FusedLSTM.set_weights` or `keras.layers.LSTM.set_weights`.

    Example:
    ```python
    fused_rnn.set_weights(zoo.layers.gate_to_fused_weights(gate_rnn))
    ```
    """
    w = _as_arrays(gate_cell_weights, "gate_cell_weights")
    if len(w) not in (8, 12):
        raise ValueError(
            "Argument `gate_cell_weights` must hold 12 arrays (8 without "
            f"bias) in GateLSTMCell order. Received: {len(w)} arrays"
        )
    fused = [np.concatenate(w[0:4], axis=-1), np.concatenate(w[4:8], axis=-1)]
    if len(w) == 12:
        fused.append(np.concatenate(w[8:12], axis=-1))
    return fused


def fused_to_gate_weights(fused_weights):
    """Splits fused-layout weights into `GateLSTMCell`'s twelve arrays.

    Args:
        fused_weights: `[kernel, recurrent_kernel, bias]` (or without `bias`)
            as returned by `FusedLSTMCell.get_weights()`,
            `keras.layers.LSTM.get_weights()`, or such a built layer.

    Returns:
        list of 12 arrays (8 without bias) for `GateLSTMCell.set_weights`.

    Example:
    ```python
    gate_rnn.set_weights(zoo.layers.fused_to_gate_weights(keras_lstm))
    ```
    """
    w = _as_arrays(fused_weights, "fused_weights")
    if len(w) not in (2, 3) or w[0].ndim != 2 or w[0].shape[-1] % 4:
        raise ValueError(
            "Argument `fused_weights` must be [kernel (in, 4u), "
            "recurrent_kernel (u, 4u), bias (4u,)] (bias optional). "
            f"Received: shapes {[x.shape for x in w]}"
        )
    gates = []
    for array in w:
        gates.extend(np.split(array, 4, axis=-1))
    return gates
