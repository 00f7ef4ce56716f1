"""`lstm_layer`: the one place that maps a cell name to an LSTM layer."""

import keras

from zoo import checks
from zoo.layers.fused_lstm import FusedLSTM
from zoo.layers.gate_lstm_cell import GateLSTMCell

_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
             "zero_output_for_mask", "name")


def lstm_layer(kind, units, **kwargs):
    """One LSTM layer of the kind `kind`.

    `"fused"` is the zoo's fast `FusedLSTM`, `"gate"` is `keras.layers.RNN(GateLSTMCell)`,
    `"keras"` is `keras.layers.LSTM` (cuDNN on a GPU). They take the same arguments (those
    of `keras.layers.LSTM`), share keras.layers.LSTMCell's weight layout, and all expose
    `.cell` for step-by-step use. `weight_dropout` (weight drop on the
    recurrent kernel) goes to the zoo's cells; `keras.layers.LSTM` has none.

    Args:
        kind: str, one of `zoo.checks.CELLS`.
        units: int, the hidden size.
        **kwargs: `keras.layers.LSTM`'s other arguments, and `weight_dropout`
            (not for `"keras"`, where only `0` is accepted).

    Returns:
        A Keras RNN layer.

    Raises:
        ValueError: `kind` is not one of `zoo.checks.CELLS`, or `kind="keras"` with a
            `weight_dropout` above 0.
    """
    checks.one_of("cell", kind, checks.CELLS)
    if kind == "keras" and "weight_dropout" in kwargs:
        checks.weight_dropout_for(kind, kwargs.pop("weight_dropout"))
    if kind == "fused":
        return FusedLSTM(units, **kwargs)
    if kind == "gate":
        rnn_args = {k: kwargs.pop(k) for k in _RNN_ARGS if k in kwargs}
        if "dtype" in kwargs:  # the cell's and the layer's, as keras.layers.LSTM
            rnn_args["dtype"] = kwargs["dtype"]
        return keras.layers.RNN(GateLSTMCell(units, **kwargs), **rnn_args)
    return keras.layers.LSTM(units, **kwargs)
