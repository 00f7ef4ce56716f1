"""zoo.layers.factory: the one map from a cell name to an LSTM layer."""

import numpy as np
import pytest

import keras

from helpers.layers import B
from helpers.layers import F
from helpers.layers import T
from helpers.layers import U
from helpers.layers import built_with_weights
from helpers.layers import numpy_lstm
from helpers.layers import random_fused_weights
from helpers.layers import tiny_sequences
from zoo.layers import FusedLSTM
from zoo.layers import GateLSTMCell
from zoo.layers import fused_to_gate_weights
from zoo.checks import CELLS
from zoo.layers.factory import lstm_layer

ARGS = dict(
    return_sequences=True,
    return_state=True,
    go_backwards=True,
    dropout=0.25,
    recurrent_dropout=0.5,
    seed=7,
    unit_forget_bias=False,
    kernel_initializer="zeros",
    name="the_lstm",
)


def test_each_kind_gives_its_layer():
    fused, gate, keras_lstm = (lstm_layer(kind, U) for kind in ("fused", "gate", "keras"))
    assert type(fused) is FusedLSTM
    assert type(gate) is keras.layers.RNN and type(gate.cell) is GateLSTMCell
    assert type(keras_lstm) is keras.layers.LSTM
    assert set(CELLS) == {"fused", "gate", "keras"}


@pytest.mark.parametrize("kind", CELLS)
def test_arguments_pass_through(kind):
    layer = lstm_layer(kind, U, **ARGS)
    assert layer.name == "the_lstm" and layer.cell.units == U
    assert (layer.return_sequences, layer.return_state, layer.go_backwards) == (True, True, True)
    cell = layer.cell
    assert (cell.dropout, cell.recurrent_dropout, cell.seed) == (0.25, 0.5, 7)
    assert cell.unit_forget_bias is False
    assert keras.initializers.serialize(cell.kernel_initializer)["class_name"] == "Zeros"
    outputs = layer(tiny_sequences())
    assert [tuple(o.shape) for o in outputs] == [(B, T, U), (B, U), (B, U)]


@pytest.mark.parametrize("kind", CELLS)
def test_same_weights_same_numbers(kind):
    """Every kind computes the LSTM of keras.layers.LSTMCell's weights."""
    x = tiny_sequences(seed=1)
    weights = random_fused_weights(F, U, seed=1)
    layer = lstm_layer(kind, U, return_sequences=True)
    built_with_weights([layer], x.shape, fused_to_gate_weights(weights) if kind == "gate" else weights)
    np.testing.assert_allclose(layer(x), numpy_lstm(x, *weights)[0], atol=1e-5)


@pytest.mark.parametrize("kind", CELLS)
def test_dtype_policy_reaches_layer_and_cell(kind):
    layer = lstm_layer(kind, U, dtype="mixed_bfloat16")
    assert layer.dtype_policy.name == layer.cell.dtype_policy.name == "mixed_bfloat16"


def test_unknown_kind_raises_keras_worded_error():
    with pytest.raises(ValueError) as info:
        lstm_layer("lstm", U)
    message = str(info.value)
    assert message.startswith("Argument `cell` must be one of ('fused', 'gate', 'keras')")
    assert message.endswith("Received: cell='lstm'")
