"""zoo.models.awd: the AWD-LSTM model of an AWDConfig, against a numpy forward pass."""

import keras
import numpy as np
import pytest

from helpers.layers import numpy_lstm
from zoo.models import build_lm, compile_lm, copy_to_batch, get_config
from zoo.training import reset_rnn_states

V, B = 37, 3


def tiny(**overrides):
    fields = dict(hidden_size=12, embedding_size=6, batch_size=B, num_steps=8)
    return get_config("awd-mini", **{**fields, **overrides})


def test_inference_is_the_tied_three_layer_lstm_in_numpy():
    config = tiny()
    model = build_lm(config, vocab_size=V, seed=0)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, V, (B, 9))
    reset_rnn_states(model)
    logits = keras.ops.convert_to_numpy(model(ids, training=False))
    embedding = keras.ops.convert_to_numpy(model.get_layer("embedding").embeddings)
    bias = [w for w in model.get_layer("embedding").get_weights() if w.shape == (V,)]
    assert len(bias) == 1  # the decoder's own bias, next to the tied matrix
    x = embedding[ids]
    for i in range(3):
        x, _, _ = numpy_lstm(x, *model.get_layer(f"lstm_{i}").get_weights())
    np.testing.assert_allclose(logits, x @ embedding.T + bias[0], atol=1e-5)


def test_layer_sizes_tying_and_the_dropouts_come_from_the_config():
    config = tiny(dropout_input=0.3, dropout_hidden=0.2, dropout_output=0.35,
                  dropout_embedding=0.15, weight_dropout=0.45)
    model = build_lm(config, vocab_size=V, seed=0)
    assert [model.get_layer(f"lstm_{i}").cell.units for i in range(3)] == [12, 12, 6]
    assert tuple(model.input.shape) == (B, None)  # variable-length BPTT
    assert {n: model.get_layer(n).rate for n in ("input_dropout", "hidden_dropout_0",
                                                 "hidden_dropout_1", "output_dropout")} == {
        "input_dropout": 0.3, "hidden_dropout_0": 0.2, "hidden_dropout_1": 0.2,
        "output_dropout": 0.35}
    assert isinstance(model.get_layer("input_dropout"), keras.layers.SpatialDropout1D)
    assert model.get_layer("embedding_dropout").rate == 0.15
    assert all(model.get_layer(f"lstm_{i}").cell.weight_dropout == 0.45 for i in range(3))
    hidden = model.get_layer("hidden")
    assert (hidden.alpha, hidden.beta) == (config.ar_alpha, config.tar_beta)
    assert "softmax" not in [layer.name for layer in model.layers]
    fixed = build_lm(tiny(variable_bptt=False), vocab_size=V, seed=0)
    assert tuple(fixed.input.shape) == (B, 8)


def test_the_reference_lstm_init_is_torchs():
    model = build_lm(tiny(hidden_size=64, embedding_size=32), vocab_size=V, seed=0)
    kernel, recurrent, bias = model.get_layer("lstm_1").get_weights()
    k = 1 / np.sqrt(64)  # torch.nn.LSTM: U(-1/sqrt(hidden), 1/sqrt(hidden))
    for w in (kernel, recurrent):
        assert np.abs(w).max() <= k and np.abs(w).max() > 0.95 * k
        assert abs(w.std() - k / np.sqrt(3)) < 0.05 * k
    # b_ih + b_hh: a triangular distribution on (-2k, 2k), variance 2k²/3.
    assert np.abs(bias).max() <= 2 * k and np.abs(bias).max() > k
    assert abs(bias.std() - k * np.sqrt(2 / 3)) < 0.1 * k
    emb = keras.ops.convert_to_numpy(model.get_layer("embedding").embeddings)
    assert np.abs(emb).max() <= 0.1  # encoder.weight.uniform_(-0.1, 0.1)


def test_it_trains_on_batches_of_several_lengths_and_copies_to_batch_one():
    config = tiny()
    model = compile_lm(build_lm(config, vocab_size=V, seed=0), config)
    rng = np.random.default_rng(0)
    losses = [model.train_on_batch(ids, ids)[0]
              for ids in (rng.integers(0, V, (B, t)) for t in (5, 9, 70))]
    assert all(np.isfinite(losses))
    clone = copy_to_batch(model, config, V, batch_size=1, num_steps=4)
    ids = rng.integers(0, V, (1, 4))
    reset_rnn_states(clone)
    assert clone(ids).shape == (1, 4, V)
    for mine, theirs in zip(clone.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("cell", ["gate", "keras"])
def test_other_cells(cell):
    if cell == "keras":  # keras.layers.LSTM has no weight drop (AWDConfig refuses it)
        model = build_lm(tiny(cell=cell, weight_dropout=0.0), vocab_size=V, seed=0)
    else:
        model = build_lm(tiny(cell=cell), vocab_size=V, seed=0)
    fused = build_lm(tiny(), vocab_size=V, seed=0)
    ids = np.random.default_rng(2).integers(0, V, (B, 5))
    reset_rnn_states(model)
    reset_rnn_states(fused)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(ids)),
                               keras.ops.convert_to_numpy(fused(ids)), atol=1e-5)
