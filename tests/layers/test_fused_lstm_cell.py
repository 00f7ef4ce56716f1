import numpy as np
import pytest

import keras

from helpers.layers import B
from helpers.layers import F
from helpers.layers import T
from helpers.layers import U
from helpers.layers import built_with_weights
from helpers.layers import check_variational_dropout
from helpers.layers import numpy_lstm
from helpers.layers import paired_value_and_gradients
from helpers.layers import random_fused_weights
from helpers.layers import run_lstm_layer_test
from helpers.layers import sequence_rnn
from zoo.layers import FusedLSTMCell


def test_layer_contract(tmp_path):
    run_lstm_layer_test(
        FusedLSTMCell,
        dict(units=U, unit_forget_bias=False, forget_bias=0.5,
             kernel_initializer=keras.initializers.RandomUniform(-0.1, 0.1),
             kernel_regularizer="l2", dropout=0.1, recurrent_dropout=0.2, seed=3,
             weight_dropout=0.25),
        wrap=sequence_rnn,
        tmp_path=tmp_path,
    )


def test_matches_keras_lstm_cell_forward_and_gradients():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, F)).astype("float32")
    weights = random_fused_weights(F, U)
    ours, keras_rnn = sequence_rnn(FusedLSTMCell(U)), sequence_rnn(keras.layers.LSTMCell(U))
    built_with_weights((ours, keras_rnn), x.shape, weights)
    w_out = rng.normal(size=(B, T, U)).astype("float32")
    (out, grads), (ref_out, ref_grads) = paired_value_and_gradients(ours, keras_rnn, x, w_out)
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    np.testing.assert_allclose(out, numpy_lstm(x, *weights)[0], atol=1e-5)
    assert len(grads) == 4  # x, kernel, recurrent_kernel, bias
    for g, ref in zip(grads, ref_grads):
        assert np.abs(g).max() > 0
        np.testing.assert_allclose(g, ref, atol=1e-5)


def test_weights_copy_both_ways_with_keras_lstm():
    x = np.random.default_rng(1).normal(size=(B, T, F)).astype("float32")
    keras_lstm = keras.layers.LSTM(U, return_sequences=True)
    keras_lstm.build(x.shape)
    ours = sequence_rnn(FusedLSTMCell(U))
    ours.build(x.shape)
    ours.set_weights(keras_lstm.get_weights())
    np.testing.assert_allclose(ours(x), keras_lstm(x), atol=1e-6)
    assert [w.shape for w in ours.weights] == [(F, 4 * U), (U, 4 * U), (4 * U,)]
    assert [w.name for w in ours.weights] == ["kernel", "recurrent_kernel", "bias"]


def test_forget_bias_is_a_constant_inside_the_forget_sigmoid():
    x = np.random.default_rng(2).normal(size=(B, T, F)).astype("float32")
    weights = random_fused_weights(F, U, seed=2)
    layer = sequence_rnn(FusedLSTMCell(U, forget_bias=1.5))
    layer.build(x.shape)
    layer.set_weights(weights)
    expected = numpy_lstm(x, *weights, forget_bias=1.5)[0]
    np.testing.assert_allclose(layer(x), expected, atol=1e-5)
    # ... and not a weight: the bias variable is unchanged.
    np.testing.assert_array_equal(layer.get_weights()[2], weights[2])
    assert not np.allclose(expected, numpy_lstm(x, *weights)[0], atol=1e-3)


@pytest.mark.parametrize("unit_forget_bias", [True, False])
def test_unit_forget_bias_initializes_forget_slice_to_one(unit_forget_bias):
    cell = FusedLSTMCell(U, unit_forget_bias=unit_forget_bias, bias_initializer="zeros")
    cell.build((None, F))
    bias = keras.ops.convert_to_numpy(cell.bias)
    expected = np.zeros(4 * U)
    if unit_forget_bias:
        expected[U : 2 * U] = 1.0
    np.testing.assert_array_equal(bias, expected)


def test_stateful_two_chunks_equal_whole_sequence():
    x = np.random.default_rng(3).normal(size=(B, 2 * T, F)).astype("float32")
    weights = random_fused_weights(F, U, seed=3)
    layer = sequence_rnn(FusedLSTMCell(U), stateful=True)
    layer.build((B, T, F))
    layer.set_weights(weights)
    chunks = np.concatenate([layer(x[:, :T]), layer(x[:, T:])], axis=1)
    np.testing.assert_allclose(chunks, numpy_lstm(x, *weights)[0], atol=1e-5)
    layer.reset_state()
    np.testing.assert_allclose(layer(x[:, :T]), chunks[:, :T], atol=1e-6)


def test_variational_dropout():
    check_variational_dropout(
        lambda rate, rec_rate, seed: sequence_rnn(
            FusedLSTMCell(8, dropout=rate, recurrent_dropout=rec_rate, seed=seed)
        ),
        lambda layer, weights: layer.set_weights(weights),
    )


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        (dict(units=0), "units"),
        (dict(units=-3), "units"),
        (dict(units=2.5), "units"),
        (dict(units=4, dropout=1.5), "dropout"),
        (dict(units=4, dropout=-0.1), "dropout"),
        (dict(units=4, recurrent_dropout=1.2), "recurrent_dropout"),
    ],
)
def test_bad_arguments_raise_one_line_value_error(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`") as info:
        FusedLSTMCell(**kwargs)
    assert "\n" not in str(info.value)


def test_wrong_input_rank_raises():
    with pytest.raises(ValueError, match="`inputs`.*rank 2") as info:
        sequence_rnn(FusedLSTMCell(U))(np.zeros((B, T, F, 2), "float32"))
    assert "\n" not in str(info.value)
