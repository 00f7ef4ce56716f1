"""zoo.models.lm: build_lm per family and cell, tied weights, copy_to_batch, the LSTM weight
helpers and compile_lm, on tiny models (hidden 8, vocab 20)."""

import keras
import numpy as np
import pytest

from zoo.models import get_config
from zoo.models.lm import build_lm, compile_lm, copy_to_batch, make_lstm
from zoo.models.lstm_weights import get_lstm_weights, set_lstm_weights

V, H, B, T = 20, 8, 3, 4
CELLS = ("fused", "gate", "keras")
FAMILIES = {"word": ("ptb-small", {}), "char": ("text8-char", {}),
            "char-embedded": ("text8-embed", {"embedding_size": 6}),
            "bigram": ("text8-bigram", {"embedding_size": 6})}


def tiny(name, **overrides):
    return get_config(name, hidden_size=H, batch_size=B, num_steps=T, **overrides)


def ids_for(model, seed=0):
    return np.random.default_rng(seed).integers(0, V, model.input.shape).astype("int32")


def reset(model):
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()


def run(model, ids):
    """Logits of `ids` from a reset state, as numpy."""
    reset(model)
    return keras.ops.convert_to_numpy(model(ids))


@pytest.mark.parametrize("family", FAMILIES)
def test_every_cell_builds_the_same_function_with_a_static_batch(family):
    name, overrides = FAMILIES[family]
    models = {cell: build_lm(tiny(name, cell=cell, **overrides), vocab_size=V, seed=1)
              for cell in CELLS}
    steps = T + 1 if family == "bigram" else T  # the bigram model reads one extra character
    ids = ids_for(models["keras"])
    want = run(models["keras"], ids)  # keras.layers.LSTM as the reference
    assert want.shape == (B, T, V) and want.dtype == np.float32
    for cell, model in models.items():
        assert tuple(model.input.shape) == (B, steps), cell  # stateful: a static batch size
        lstms = [layer for layer in model.layers if layer.name.startswith("lstm_")]
        assert len(lstms) == (2 if family == "word" else 1)
        assert all(layer.stateful for layer in lstms)
        np.testing.assert_allclose(run(model, ids), want, atol=1e-5, err_msg=cell)
    # Stateful: a second call continues from the first call's state.
    model = models["fused"]
    reset(model)
    first = keras.ops.convert_to_numpy(model(ids))
    second = keras.ops.convert_to_numpy(model(ids))
    assert not np.allclose(first, second)
    np.testing.assert_allclose(run(model, ids), first, atol=1e-6)


def test_build_lm_takes_the_batch_and_length_it_is_given():
    model = build_lm(tiny("ptb-small"), vocab_size=V, batch_size=1, num_steps=7, seed=0)
    assert tuple(model.input.shape) == (1, 7) and model(ids_for(model)).shape == (1, 7, V)
    assert model.get_layer("embedding").input_dim == V
    with pytest.raises(ValueError, match=r"Argument `batch_size` must be a positive integer\. "
                                         r"Received: batch_size=0"):
        build_lm(tiny("ptb-small"), vocab_size=V, batch_size=0)
    with pytest.raises(ValueError, match="is a MirrorConfig, not a language model"):
        build_lm(get_config("mirror-seq2seq"))


def test_tie_weights_uses_the_embedding_matrix_as_the_softmax():
    tied = build_lm(tiny("ptb-small", tie_weights=True), vocab_size=V, seed=2)
    untied = build_lm(tiny("ptb-small"), vocab_size=V, seed=2)
    names = [layer.name for layer in tied.layers]
    assert "softmax" not in names
    # One V x H matrix serves both ends: the untied model's softmax kernel and bias are extra.
    assert untied.count_params() - tied.count_params() == H * V + V
    embedding = keras.ops.convert_to_numpy(tied.get_layer("embedding").embeddings)
    ids = ids_for(tied)
    top = keras.Model(tied.input, tied.get_layer("lstm_1").output)
    reset(tied)
    hidden = keras.ops.convert_to_numpy(top(ids))
    np.testing.assert_allclose(run(tied, ids), hidden @ embedding.T, atol=1e-5)


@pytest.mark.parametrize("cell", ["fused", "gate"])
def test_copy_to_batch_keeps_the_weights(cell):
    config = tiny("ptb-small", cell=cell)
    model = build_lm(config, vocab_size=V, seed=3)
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype)
                       for w in model.get_weights()])  # not the initial weights
    clone = copy_to_batch(model, config, V, batch_size=1)
    assert tuple(clone.input.shape) == (1, T)
    for mine, theirs in zip(clone.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    ids = ids_for(model)
    want = run(model, ids)
    for row in range(B):  # each row of the batch, alone at batch 1
        np.testing.assert_allclose(run(clone, ids[row:row + 1])[0], want[row], atol=1e-5)


def test_lstm_weights_round_trip_across_cells():
    rng = np.random.default_rng(4)
    weights = [rng.normal(size=s).astype("float32") for s in ((5, 4 * H), (H, 4 * H), (4 * H,))]
    x = rng.normal(size=(2, 3, 5)).astype("float32")
    outputs = {}
    for cell in CELLS:
        layer = make_lstm(cell, H, init_scale=0.1, stateful=False)
        layer.build((2, 3, 5))
        set_lstm_weights(layer, *weights)
        for got, want in zip(get_lstm_weights(layer), weights):
            np.testing.assert_array_equal(got, want)
        outputs[cell] = keras.ops.convert_to_numpy(layer(x))
    # The same fused-layout weights give the same function in every cell.
    np.testing.assert_allclose(outputs["fused"], outputs["keras"], atol=1e-5)
    np.testing.assert_allclose(outputs["gate"], outputs["keras"], atol=1e-5)
    # Weights read from a gate cell, set on a Keras LSTM: the same function again.
    gate = make_lstm("gate", H, init_scale=0.1, stateful=False, seed=9)
    gate.build((2, 3, 5))
    keras_lstm = make_lstm("keras", H, init_scale=0.1, stateful=False)
    keras_lstm.build((2, 3, 5))
    set_lstm_weights(keras_lstm, *get_lstm_weights(gate))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_lstm(x)),
                               keras.ops.convert_to_numpy(gate(x)), atol=1e-5)


def cross_entropy(logits, targets):
    """Per-token cross-entropy in numpy, independent of Keras."""
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return -np.take_along_axis(logp, targets[..., None], -1)[..., 0]


@pytest.mark.parametrize("name, scale", [("ptb-small", T), ("text8-char", 1)])
def test_compile_lm_loss_scale_metric_and_optimizer(name, scale):
    config = tiny(name)
    model = compile_lm(build_lm(config, vocab_size=V, seed=5), config)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(
        config.learning_rate)
    assert model.optimizer.global_clipnorm == config.max_grad_norm
    x = ids_for(model)
    y = np.random.default_rng(1).integers(0, V, (B, T))
    ce = cross_entropy(run(model, x), y).mean()
    reset(model)
    logs = model.evaluate(x, y, batch_size=B, verbose=0, return_dict=True)
    # PTB sums the cost over the num_steps timesteps; text8 takes the mean over tokens.
    assert logs["loss"] == pytest.approx(scale * ce, rel=1e-5)
    assert logs["perplexity"] == pytest.approx(np.exp(ce), rel=1e-5)
