"""The continuous cache pointer against the formula written out as a numpy loop."""

import math

import keras
import numpy as np
import pytest

from zoo.training import cache_pointer_log_probs
from zoo.training import cache_pointer_perplexity
from zoo.training import tune_cache_pointer

V, H, T = 7, 3, 4


def _softmax(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


def formula_log_probs(logits, hiddens, targets, window, theta, lambd, similarity="dot"):
    """p = (1-λ) p_model + λ Σ_i softmax(θ h_t·h_i) onehot(w_{i+1}), i over the last
    `window` positions before t; token 0 (no history) keeps p_model."""
    h = np.asarray(hiddens, "float64")
    if similarity == "cosine":
        h = h / np.linalg.norm(h, axis=1, keepdims=True)
    out = []
    for t in range(len(targets)):
        p = _softmax(np.asarray(logits[t], "float64"))
        history = list(range(max(0, t - window), t))
        if history:
            attention = _softmax(np.array([theta * h[t] @ h[i] for i in history]))
            p_cache = np.zeros(len(p))
            for a, i in zip(attention, history):
                p_cache += a * np.eye(len(p))[targets[i]]
            p = (1 - lambd) * p + lambd * p_cache
        out.append(math.log(p[targets[t]]))
    return np.array(out)


@pytest.mark.parametrize("n, window, similarity", [
    (40, 5, "dot"), (40, 100, "cosine"), (600, 300, "dot")])  # 600: several query blocks
def test_log_probs_match_the_formula(n, window, similarity):
    rng = np.random.default_rng(n + window)
    logits = rng.normal(size=(n, V))
    hiddens = rng.normal(size=(n, H))
    targets = rng.integers(0, V, n)
    got = cache_pointer_log_probs(logits, hiddens, targets, window, 0.7, 0.3, similarity)
    want = formula_log_probs(logits, hiddens, targets, window, 0.7, 0.3, similarity)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_lambda_zero_is_the_model_alone():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(20, V))
    targets = rng.integers(0, V, 20)
    got = cache_pointer_log_probs(logits, rng.normal(size=(20, H)), targets, 3, 2.0, 0.0)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(got, log_softmax[np.arange(20), targets], rtol=1e-12)


def tiny_lm(length, named_hidden=True, seed=0):
    """Embedding → stateful LSTM → ("hidden") → Dense logits, at batch (1, length)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(batch_shape=(1, length), dtype="int32")
    x = keras.layers.Embedding(V, 5)(inputs)
    x = keras.layers.LSTM(H, return_sequences=True, stateful=True, name="lstm")(x)
    if named_hidden:
        x = keras.layers.Dropout(0.5, name="hidden")(x)
    return keras.Model(inputs, keras.layers.Dense(V)(x))


def one_pass_outputs(model, ids, hidden_layer):
    """Logits and hidden states of the whole stream in one call of a (1, N) copy."""
    n = (len(ids) - 1) // T * T
    whole = tiny_lm(n, named_hidden=hidden_layer == "hidden")
    whole.set_weights(model.get_weights())
    both = keras.Model(whole.inputs[0], [whole.outputs[0], whole.get_layer(hidden_layer).output])
    logits, hiddens = (np.asarray(a)[0] for a in both(ids[None, :n], training=False))
    return logits, hiddens, ids[1:n + 1]


@pytest.mark.parametrize("named_hidden", [True, False])
def test_stream_perplexity_matches_one_pass_through_the_formula(named_hidden):
    # Chunks of 4 and a window of 7: the cache reaches back across chunk boundaries.
    ids = np.random.default_rng(2).integers(0, V, 31)
    model = tiny_lm(T, named_hidden)
    logits, hiddens, targets = one_pass_outputs(model, ids, "hidden" if named_hidden else "lstm")
    want = formula_log_probs(logits, hiddens, targets, 7, 1.5, 0.4)
    plain = formula_log_probs(logits, hiddens, targets, 7, 1.5, 0.0)
    got = cache_pointer_perplexity(model, ids, 7, 1.5, 0.4)  # default "hidden", or fallback
    assert got == pytest.approx((math.exp(-want.mean()), math.exp(-plain.mean())), rel=1e-5)
    assert got[0] != pytest.approx(got[1], rel=1e-3)


def test_tuning_picks_the_best_grid_point_on_the_ids_given():
    ids = np.random.default_rng(3).integers(0, V, 41)
    model = tiny_lm(T)
    best = tune_cache_pointer(model, ids, windows=(2, 9), thetas=(0.0, 3.0),
                              lambdas=(0.1, 0.6))
    assert len(best["grid"]) == 8
    each = {(w, t, lam): cache_pointer_perplexity(model, ids, w, t, lam)[0]
            for w in (2, 9) for t in (0.0, 3.0) for lam in (0.1, 0.6)}
    choice = min(each, key=each.get)
    assert (best["window"], best["theta"], best["lambd"]) == choice
    assert best["perplexity"] == pytest.approx(each[choice], rel=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"window": 0}, "Argument `window` must be a positive integer. Received: window=0"),
    ({"theta": -1.0}, "Argument `theta` must be a finite number >= 0. Received: theta=-1.0"),
    ({"lambd": 1.5}, "Argument `lambd` must be a number in [0, 1]. Received: lambd=1.5"),
    ({"similarity": "l2"},
     "Argument `similarity` must be one of ('dot', 'cosine'). Received: similarity='l2'"),
    ({"hidden_layer": "nope"},
     "Argument `hidden_layer` must be the name of a layer of functional. "
     "Received: hidden_layer='nope'"),
])
def test_bad_arguments_in_keras_wording(kwargs, message):
    model = tiny_lm(T)
    args = {"window": 3, "theta": 1.0, "lambd": 0.1, **kwargs}
    with pytest.raises(ValueError) as e:
        cache_pointer_perplexity(model, np.zeros(9, "int32"), **args)
    assert str(e.value) == message.replace("functional", model.name)


def test_a_model_of_another_batch_is_refused():
    inputs = keras.Input(batch_shape=(2, T), dtype="int32")
    model = keras.Model(inputs, keras.layers.Dense(V)(keras.layers.Embedding(V, 2)(inputs)))
    with pytest.raises(ValueError, match=r"static shape \(1, T\)"):
        cache_pointer_perplexity(model, np.zeros(9, "int32"), 3, 1.0, 0.1)
