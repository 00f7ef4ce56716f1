"""The zoo's LSTM layers against keras.layers.LSTM / LSTMCell as the reference.

Issue 11 items 1, 2 and 7: with the same seeded initializers the zoo layers
start with Keras's own initial weights, and FusedLSTM takes keras.layers.LSTM's
arguments (positional order, constraints, numpy units, rates of 1.0,
`implementation`) and then computes and trains the same numbers.
"""

import json

import numpy as np
import pytest

import keras

from helpers.layers import B
from helpers.layers import F
from helpers.layers import T
from helpers.layers import U
from zoo.layers import FusedLSTM
from zoo.layers import FusedLSTMCell
from zoo.layers import GateLSTMCell
from zoo.layers import fused_to_gate_weights
from zoo.layers import gate_to_fused_weights


def seeded_initializers():
    """Fresh seeded initializer instances (each layer gets its own)."""
    return dict(
        kernel_initializer=keras.initializers.RandomUniform(-1.0, 1.0, seed=1),
        recurrent_initializer=keras.initializers.Orthogonal(seed=2),
        bias_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=3),
    )


def built(layer):
    layer.build((B, T, F))
    return layer


def data(seed=0):
    return np.random.default_rng(seed).normal(size=(B, T, F)).astype("float32")


# ------------------------------------------------------- items 1, 2: initial weights
@pytest.mark.parametrize("unit_forget_bias", [True, False])
def test_fused_layers_start_with_keras_lstm_weights(unit_forget_bias):
    kwargs = dict(unit_forget_bias=unit_forget_bias)
    want = built(keras.layers.LSTM(U, **kwargs, **seeded_initializers())).get_weights()
    fused = built(FusedLSTM(U, **kwargs, **seeded_initializers())).get_weights()
    cell = built(
        keras.layers.RNN(FusedLSTMCell(U, **kwargs, **seeded_initializers()))
    ).get_weights()
    for got in (fused, cell):
        assert len(got) == 3
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
    # The random bias is not four copies of one slice.
    i, f, c, o = np.split(want[2], 4)
    assert not np.array_equal(c, o)
    if not unit_forget_bias:
        assert not np.array_equal(i, f)


@pytest.mark.parametrize("unit_forget_bias", [True, False])
def test_gate_cell_starts_with_keras_lstm_cell_weights(unit_forget_bias):
    kwargs = dict(unit_forget_bias=unit_forget_bias)
    want = built(
        keras.layers.RNN(keras.layers.LSTMCell(U, **kwargs, **seeded_initializers()))
    ).get_weights()
    gate = built(keras.layers.RNN(GateLSTMCell(U, **kwargs, **seeded_initializers())))
    for g, w in zip(gate_to_fused_weights(gate), want):
        np.testing.assert_array_equal(g, w)
    # ...so the four gates start different from each other.
    weights = gate.get_weights()
    for group in (weights[0:4], weights[4:8]):
        assert all(not np.array_equal(group[0], other) for other in group[1:])


def test_gate_cell_default_initializers_draw_distinct_gates():
    keras.utils.set_random_seed(5)
    want = built(keras.layers.RNN(keras.layers.LSTMCell(U))).get_weights()
    keras.utils.set_random_seed(5)
    gate = built(keras.layers.RNN(GateLSTMCell(U)))
    for g, w in zip(gate_to_fused_weights(gate), want):
        np.testing.assert_array_equal(g, w)


# ------------------------------------------------------------ item 7: drop-in
def keras_positional_args():
    """Every argument of keras.layers.LSTM, positionally, in its order."""
    return [
        U,  # units
        "tanh",  # activation
        "sigmoid",  # recurrent_activation
        True,  # use_bias
        keras.initializers.RandomUniform(-0.5, 0.5, seed=11),
        keras.initializers.Orthogonal(seed=12),
        keras.initializers.RandomUniform(-0.5, 0.5, seed=13),
        False,  # unit_forget_bias
        "l2",  # kernel_regularizer
        None,  # recurrent_regularizer
        "l1",  # bias_regularizer
        "l2",  # activity_regularizer
        keras.constraints.NonNeg(),  # kernel_constraint
        keras.constraints.MaxNorm(0.5),  # recurrent_constraint
        keras.constraints.NonNeg(),  # bias_constraint
        0.0,  # dropout
        0.0,  # recurrent_dropout
        4,  # seed
        True,  # return_sequences
        True,  # return_state
        False,  # go_backwards
        False,  # stateful
        False,  # unroll
    ]


def test_positional_arguments_in_keras_order_give_keras_layer():
    ours = built(FusedLSTM(*keras_positional_args()))
    theirs = built(keras.layers.LSTM(*keras_positional_args()))
    for g, w in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(g, w)
    x = data()
    for a, b in zip(ours(x), theirs(x)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=0)
    # Every entry of Keras's config comes back, with Keras's value.
    ours_config, theirs_config = ours.get_config(), theirs.get_config()
    for key, value in theirs_config.items():
        if key != "name":
            assert ours_config[key] == value, key
    assert ours_config["forget_bias"] == 0.0 and ours_config["use_cudnn"] == "auto"
    # A keras.layers.LSTM config builds the equivalent FusedLSTM.
    revived = built(FusedLSTM.from_config(theirs_config))
    assert revived.get_config() == {**ours_config, "name": theirs_config["name"]}
    # forget_bias comes after Keras's arguments (after use_cudnn).
    assert FusedLSTM(*keras_positional_args(), "auto", 1.5).forget_bias == 1.5


@pytest.mark.parametrize("cls", [FusedLSTMCell, GateLSTMCell])
def test_cells_take_keras_lstm_cell_positional_order(cls):
    args = keras_positional_args()
    del args[11]  # activity_regularizer: a layer argument, not a cell's
    cell_args = args[:17]  # units ... seed
    ours = cls(*cell_args, 0.5).get_config()  # forget_bias after them
    theirs = keras.layers.LSTMCell(*cell_args).get_config()
    for key, value in theirs.items():
        if key != "name":
            assert ours[key] == value, key
    assert ours["forget_bias"] == 0.5


def test_constraints_are_applied_like_keras(tmp_path):
    """One SGD step under constraints: same weights as keras.layers.LSTM."""
    constraints = dict(
        kernel_constraint=keras.constraints.NonNeg(),
        recurrent_constraint=keras.constraints.MaxNorm(0.3),
        bias_constraint=keras.constraints.NonNeg(),
    )
    x, y = data(1), np.random.default_rng(2).normal(size=(B, T, U)).astype("float32")

    def trained(layer):
        model = keras.Sequential([keras.Input((T, F)), layer])
        model.compile(keras.optimizers.SGD(1.0), "mse")
        model.fit(x, y, batch_size=B, epochs=1, verbose=0)
        return layer

    args = dict(return_sequences=True, **constraints)
    want = trained(keras.layers.LSTM(U, **args, **seeded_initializers())).get_weights()
    fused = trained(FusedLSTM(U, **args, **seeded_initializers()))
    gate = trained(
        keras.layers.RNN(
            GateLSTMCell(U, **constraints, **seeded_initializers()), return_sequences=True
        )
    )
    for got in (fused.get_weights(), gate_to_fused_weights(gate)):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-5, rtol=0)
    kernel, recurrent, bias = want
    assert kernel.min() >= 0 and bias.min() >= 0
    assert np.linalg.norm(recurrent, axis=0).max() <= 0.3 + 1e-6
    # In the config and through a .keras round trip.
    config = fused.get_config()
    assert config["kernel_constraint"]["class_name"] == "NonNeg"
    assert config["recurrent_constraint"]["config"]["max_value"] == 0.3
    revived = FusedLSTM.from_config(config)
    assert isinstance(revived.cell.bias_constraint, keras.constraints.NonNeg)
    cell_config = GateLSTMCell(U, **constraints).get_config()
    assert GateLSTMCell.from_config(cell_config).get_config() == cell_config


@pytest.mark.parametrize("cls", [FusedLSTM, FusedLSTMCell, GateLSTMCell])
def test_numpy_integer_units(cls):
    layer = cls(np.int64(U))
    assert type(layer.units) is int and layer.units == U
    json.dumps(layer.get_config())  # plain JSON, as a .keras file needs
    if cls is not FusedLSTM:
        layer = keras.layers.RNN(layer)
    assert tuple(layer(data()).shape) == (B, U)


@pytest.mark.parametrize("which", ["dropout", "recurrent_dropout"])
@pytest.mark.parametrize("cls", ["fused", "fused_cell", "gate_cell"])
def test_rate_of_one_behaves_as_in_keras(which, cls):
    """keras.layers.LSTM(dropout=1.0) drops nothing (its step needs 0 < rate < 1)."""
    kwargs = {which: 1.0, "return_sequences": True, "seed": 3}
    theirs = built(keras.layers.LSTM(U, **kwargs))
    if cls == "fused":
        ours = FusedLSTM(U, **kwargs)
    else:
        cell = (FusedLSTMCell if cls == "fused_cell" else GateLSTMCell)(
            U, **{which: 1.0, "seed": 3}
        )
        ours = keras.layers.RNN(cell, return_sequences=True)
    built(ours)
    weights = theirs.get_weights()
    ours.set_weights(fused_to_gate_weights(weights) if cls == "gate_cell" else weights)
    x = data(4)
    want = np.asarray(theirs(x, training=True))
    np.testing.assert_allclose(np.asarray(theirs(x, training=False)), want, atol=1e-6)
    for training in (True, False):
        got = np.asarray(ours(x, training=training))
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    config = (ours if cls == "fused" else ours.cell).get_config()
    assert config[which] == 1.0 == theirs.get_config()[which]


@pytest.mark.parametrize("implementation", [1, 2])
def test_implementation_is_accepted_and_ignored(implementation):
    theirs = built(keras.layers.LSTM(U, implementation=implementation))
    ours = built(FusedLSTM(U, implementation=implementation))
    ours.set_weights(theirs.get_weights())
    x = data(5)
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(theirs(x)), atol=1e-5)
    assert "implementation" not in ours.get_config()  # as in Keras's config
    for cell_cls in (FusedLSTMCell, GateLSTMCell):
        assert cell_cls(U, implementation=implementation).units == U
