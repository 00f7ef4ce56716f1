import numpy as np
import pytest

import keras

from helpers.layers import B
from helpers.layers import F
from helpers.layers import T
from helpers.layers import U
from helpers.layers import check_variational_dropout
from helpers.layers import numpy_lstm
from helpers.layers import paired_value_and_gradients
from helpers.layers import random_fused_weights
from helpers.layers import run_lstm_layer_test
from helpers.layers import sequence_rnn
from zoo.layers import FusedLSTMCell
from zoo.layers import GateLSTMCell
from zoo.layers import fused_to_gate_weights
from zoo.layers import gate_to_fused_weights


def test_layer_contract(tmp_path):
    run_lstm_layer_test(
        GateLSTMCell,
        dict(units=U, unit_forget_bias=False, forget_bias=1.0, recurrent_regularizer="l2",
             kernel_constraint="max_norm", dropout=0.2, seed=1, weight_dropout=0.25),
        wrap=sequence_rnn,
        tmp_path=tmp_path,
    )


def test_four_gates_each_with_own_weights():
    cell = GateLSTMCell(U)
    cell.build((None, F))
    names = [w.name for w in cell.weights]
    assert names == [f"{kind}_{g}" for kind in ("kernel", "recurrent_kernel", "bias") for g in "ifco"]
    assert [tuple(w.shape) for w in cell.weights] == [(F, U)] * 4 + [(U, U)] * 4 + [(U,)] * 4


@pytest.mark.parametrize("forget_bias", [0.0, 1.0])
def test_fused_to_gate_conversion_reproduces_fused_cell(forget_bias):
    """fused -> gate: same outputs and, reassembled, the same gradients."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, F)).astype("float32")
    fused_weights = random_fused_weights(F, U, seed=4)
    fused = sequence_rnn(FusedLSTMCell(U, forget_bias=forget_bias))
    gate = sequence_rnn(GateLSTMCell(U, forget_bias=forget_bias))
    for layer in (fused, gate):
        layer.build(x.shape)
    fused.set_weights(fused_weights)
    gate.set_weights(fused_to_gate_weights(fused_weights))
    w_out = rng.normal(size=(B, T, U)).astype("float32")
    (out, grads), (ref_out, ref_grads) = paired_value_and_gradients(gate, fused, x, w_out)
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    np.testing.assert_allclose(
        out, numpy_lstm(x, *fused_weights, forget_bias=forget_bias)[0], atol=1e-5
    )
    np.testing.assert_allclose(grads[0], ref_grads[0], atol=1e-5)
    for g, ref in zip(gate_to_fused_weights(grads[1:]), ref_grads[1:]):
        np.testing.assert_allclose(g, ref, atol=1e-5)


def test_gate_to_fused_conversion_reproduces_gate_cell():
    """gate (its own random init) -> fused and keras.layers.LSTM."""
    x = np.random.default_rng(5).normal(size=(B, T, F)).astype("float32")
    gate = sequence_rnn(
        GateLSTMCell(U, bias_initializer="random_normal", recurrent_initializer="random_normal")
    )
    gate.build(x.shape)
    fused = sequence_rnn(FusedLSTMCell(U))
    fused.build(x.shape)
    fused.set_weights(gate_to_fused_weights(gate))  # accepts the layer itself
    keras_lstm = keras.layers.LSTM(U, return_sequences=True)
    keras_lstm.build(x.shape)
    keras_lstm.set_weights(gate_to_fused_weights(gate.get_weights()))
    np.testing.assert_allclose(fused(x), gate(x), atol=1e-5)
    np.testing.assert_allclose(keras_lstm(x), gate(x), atol=1e-5)


def test_conversion_round_trips_and_rejects_bad_lists():
    fused = random_fused_weights(F, U)
    back = gate_to_fused_weights(fused_to_gate_weights(fused))
    for a, b in zip(back, fused):
        np.testing.assert_array_equal(a, b)
    no_bias = fused_to_gate_weights(fused[:2])
    assert len(no_bias) == 8
    assert [w.shape for w in gate_to_fused_weights(no_bias)] == [(F, 4 * U), (U, 4 * U)]
    with pytest.raises(ValueError, match="`gate_cell_weights`"):
        gate_to_fused_weights(fused)
    with pytest.raises(ValueError, match="`fused_weights`"):
        fused_to_gate_weights(fused_to_gate_weights(fused))


def test_no_bias_matches_fused():
    x = np.random.default_rng(6).normal(size=(B, T, F)).astype("float32")
    fused = sequence_rnn(FusedLSTMCell(U, use_bias=False))
    gate = sequence_rnn(GateLSTMCell(U, use_bias=False))
    for layer in (fused, gate):
        layer.build(x.shape)
    assert len(gate.weights) == 8
    fused.set_weights(random_fused_weights(F, U)[:2])
    gate.set_weights(fused_to_gate_weights(fused))
    np.testing.assert_allclose(gate(x), fused(x), atol=1e-5)


@pytest.mark.parametrize("unit_forget_bias", [True, False])
def test_unit_forget_bias(unit_forget_bias):
    cell = GateLSTMCell(U, unit_forget_bias=unit_forget_bias)
    cell.build((None, F))
    biases = [keras.ops.convert_to_numpy(b) for b in cell.biases]
    expected = [0.0, 1.0 if unit_forget_bias else 0.0, 0.0, 0.0]
    for b, value in zip(biases, expected):
        np.testing.assert_array_equal(b, np.full(U, value))


def test_stateful_two_chunks_equal_whole_sequence():
    x = np.random.default_rng(7).normal(size=(B, 2 * T, F)).astype("float32")
    weights = random_fused_weights(F, U, seed=7)
    layer = sequence_rnn(GateLSTMCell(U), stateful=True)
    layer.build((B, T, F))
    layer.set_weights(fused_to_gate_weights(weights))
    chunks = np.concatenate([layer(x[:, :T]), layer(x[:, T:])], axis=1)
    np.testing.assert_allclose(chunks, numpy_lstm(x, *weights)[0], atol=1e-5)


def test_variational_dropout():
    check_variational_dropout(
        lambda rate, rec_rate, seed: sequence_rnn(
            GateLSTMCell(8, dropout=rate, recurrent_dropout=rec_rate, seed=seed)
        ),
        lambda layer, weights: layer.set_weights(fused_to_gate_weights(weights)),
    )


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        (dict(units=0), "units"),
        (dict(units=4, dropout=1.5), "dropout"),
        (dict(units=4, recurrent_dropout=-0.5), "recurrent_dropout"),
        (dict(units=4, forget_bias="big"), "forget_bias"),
    ],
)
def test_bad_arguments_raise_one_line_value_error(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`") as info:
        GateLSTMCell(**kwargs)
    assert "\n" not in str(info.value)


def test_wrong_input_rank_raises():
    with pytest.raises(ValueError, match="`inputs`.*rank 2"):
        sequence_rnn(GateLSTMCell(U))(np.zeros((B, T, F, 2), "float32"))


def test_mirror_seq2seq_gate_cells_start_like_keras_lstm():
    """MirrorSeq2Seq(cell="gate") starts with keras.layers.LSTM's weights (issue 11.1).

    Its LSTMs use the default (unseeded) initializers; under one global seed
    the gate and Keras models draw the same fused tensors, and the gate
    model's four gates start different.
    """
    from zoo.models.lstm_weights import get_lstm_weights
    from zoo.models.mirror import MirrorSeq2Seq

    def lstm_weights(cell):
        keras.utils.set_random_seed(0)
        model = MirrorSeq2Seq(units=4, embedding_dim=3, encoder_layers=1, cell=cell)
        encoder = model._encoders[0]
        layers = [encoder.forward_layer, encoder.backward_layer, model._decoder]
        return [get_lstm_weights(layer) for layer in layers], model

    want, _ = lstm_weights("keras")
    got, gate_model = lstm_weights("gate")
    for got_layer, want_layer in zip(got, want):
        for g, w in zip(got_layer, want_layer):
            np.testing.assert_array_equal(g, w)
    kernels = gate_model._decoder.get_weights()[0:4]
    assert all(not np.array_equal(kernels[0], k) for k in kernels[1:])
