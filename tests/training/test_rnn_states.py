"""find/get/set/reset of stateful RNN states, anywhere in a model."""

import re

import keras
import numpy as np
import pytest

from helpers.training import B
from helpers.training import E
from helpers.training import T
from helpers.training import U
from helpers.training import V
from helpers.training import all_zero
from helpers.training import rnn_layer
from helpers.training import same
from zoo.training import find_stateful_rnn_layers
from zoo.training import get_rnn_states
from zoo.training import reset_rnn_states
from zoo.training import set_rnn_states


class Block(keras.layers.Layer):
    """A custom layer that owns a stateful RNN as an attribute."""

    def __init__(self, rnn, **kwargs):
        super().__init__(**kwargs)
        self.rnn = rnn

    def build(self, input_shape):
        self.rnn.build(input_shape)

    def call(self, x):
        return self.rnn(x)


def nested_model():
    gate = rnn_layer("gate")
    fused = rnn_layer("fused")
    bidi = keras.layers.Bidirectional(rnn_layer("keras"))
    plain = keras.layers.LSTM(U, return_sequences=True)  # not stateful: ignored
    inner_in = keras.Input(batch_shape=(B, T, E))
    inner = keras.Model(inner_in, bidi(plain(inner_in)), name="inner")
    inputs = keras.Input(batch_shape=(B, T), dtype="int32")
    x = keras.layers.Embedding(V, E)(inputs)
    x = Block(gate)(x)
    x = keras.layers.Dense(E)(fused(x))
    x = inner(x)
    model = keras.Model(inputs, keras.layers.Dense(V)(x))
    return model, [gate, fused, bidi.forward_layer, bidi.backward_layer]


def test_find_get_set_reset_through_nesting():
    model, expected = nested_model()
    found = find_stateful_rnn_layers(model)
    assert [id(layer) for layer in found] == [id(layer) for layer in expected]

    states = get_rnn_states(model)
    assert [s.shape for s in states] == [(B, U)] * 8  # 4 LSTMs x (h, c)
    assert all_zero(states)

    x = np.random.default_rng(0).integers(0, V, size=(B, T))
    model(x)  # an eager call advances stateful RNNs on every backend
    advanced = get_rnn_states(model)
    assert all(np.any(s) for s in advanced)

    # get returns copies; set writes them back exactly, in the same order.
    reset_rnn_states(model)
    assert all_zero(get_rnn_states(model))
    assert all(np.any(s) for s in advanced)
    set_rnn_states(model, advanced)
    assert same(get_rnn_states(model), advanced)
    np.testing.assert_array_equal(expected[2].states[1].numpy(), advanced[5])

    # The forward and backward copies of Bidirectional are distinct layers with own states.
    assert not np.array_equal(advanced[4], advanced[6])

    assert reset_rnn_states(model) == 4


def test_set_rnn_states_errors():
    model, _ = nested_model()
    states = get_rnn_states(model)
    with pytest.raises(ValueError, match=r"^Argument `states` must be 8 arrays, .* "
                                         r"Received: states=7 arrays$"):
        set_rnn_states(model, states[:7])
    states[3] = np.zeros((B + 1, U), "float32")
    with pytest.raises(ValueError, match=re.escape(
            "Argument `states[3]` must be an array of shape (4, 8). "
            "Received: states[3]=array of shape (5, 8)")):
        set_rnn_states(model, states)
    with pytest.raises(ValueError, match="Argument `model` must be a keras.Model"):
        find_stateful_rnn_layers([1, 2])


def test_model_without_stateful_rnn():
    model = keras.Sequential([keras.Input((T, E)), keras.layers.LSTM(U)])
    assert find_stateful_rnn_layers(model) == []
    assert get_rnn_states(model) == []
    assert reset_rnn_states(model) == 0
    set_rnn_states(model, [])
