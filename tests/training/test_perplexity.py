"""Perplexity = exp(token-weighted mean CE over the whole epoch), against numpy."""

import keras
import numpy as np
import pytest

from helpers.training import B
from helpers.training import T
from helpers.training import V
from helpers.training import lm_batches
from zoo.training import Perplexity


def np_log_softmax(logits):
    z = logits - logits.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def np_token_ce(y, logits):
    logp = np_log_softmax(logits.astype(np.float64))
    return -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]


def fixed_batches(n=3, seed=0):
    rng = np.random.default_rng(seed)
    # Logits of very different sharpness per batch, so that the mean of per-batch
    # perplexities is far from the epoch perplexity.
    return [
        (rng.integers(0, V, size=(B, T)), rng.normal(scale=1.0 + 3 * k, size=(B, T, V)))
        for k in range(n)
    ]


def test_accumulates_sum_and_count_across_batches():
    batches = fixed_batches()
    metric = Perplexity()
    for y, logits in batches:
        metric.update_state(y, logits.astype("float32"))
    ce = np.concatenate([np_token_ce(y, lg).ravel() for y, lg in batches])
    expected = np.exp(ce.mean())
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-5)
    per_batch_mean = np.mean([np.exp(np_token_ce(y, lg).mean()) for y, lg in batches])
    assert abs(per_batch_mean - expected) / expected > 0.1  # the test can tell them apart

    metric64 = Perplexity(dtype="float64")
    for y, logits in batches:
        metric64.update_state(y, logits.astype("float32"))
    assert metric64.total.dtype == "float64"
    np.testing.assert_allclose(float(metric64.result()), expected, rtol=1e-6)

    metric.reset_state()
    assert float(metric.result()) == 1.0  # no tokens
    y, logits = batches[0]
    metric.update_state(y, logits.astype("float32"))
    expected_one = np.exp(np_token_ce(y, logits).mean())
    np.testing.assert_allclose(float(metric.result()), expected_one, rtol=1e-5)


def test_sample_weight_and_probabilities():
    batches = fixed_batches(seed=1)
    rng = np.random.default_rng(2)
    token_w = [(rng.random((B, T)) > 0.3).astype("float32") for _ in batches]
    row_w = [rng.random(B).astype("float32") for _ in batches]

    m_tok, m_row, m_prob = Perplexity(), Perplexity(), Perplexity(from_logits=False)
    for (y, lg), wt, wr in zip(batches, token_w, row_w):
        m_tok.update_state(y, lg.astype("float32"), sample_weight=wt)
        m_row.update_state(y, lg.astype("float32"), sample_weight=wr)
    # Keras clips probabilities at 1e-7, so keep them well above it here.
    soft = [(y, lg / (1 + 3 * k)) for k, (y, lg) in enumerate(batches)]
    for y, lg in soft:
        probs = np.exp(np_log_softmax(lg)).astype("float32")
        m_prob.update_state(y[..., None], probs)  # [B, T, 1] targets are accepted

    ce = [np_token_ce(y, lg) for y, lg in batches]
    w_tok = sum((c * w).sum() for c, w in zip(ce, token_w)) / sum(w.sum() for w in token_w)
    np.testing.assert_allclose(float(m_tok.result()), np.exp(w_tok), rtol=1e-5)
    w_row = sum((c * w[:, None]).sum() for c, w in zip(ce, row_w))
    w_row /= sum(T * w.sum() for w in row_w)
    np.testing.assert_allclose(float(m_row.result()), np.exp(w_row), rtol=1e-5)
    ce_soft = np.concatenate([np_token_ce(y, lg).ravel() for y, lg in soft])
    np.testing.assert_allclose(float(m_prob.result()), np.exp(ce_soft.mean()), rtol=1e-5)


def test_config_round_trip_and_errors():
    metric = Perplexity(from_logits=False, name="ppl")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert isinstance(clone, Perplexity)
    assert (clone.from_logits, clone.name) == (False, "ppl")
    with pytest.raises(ValueError, match="one more axis"):
        Perplexity().update_state(np.zeros((B, T, 2, 2), "int32"), np.zeros((B, T, V), "float32"))
    with pytest.raises(ValueError, match="from_logits"):
        Perplexity(from_logits="yes")


def test_in_evaluate_and_fit_history():
    keras.utils.set_random_seed(0)
    # A stateless bigram model: its logits do not depend on batch order or state.
    model = keras.Sequential(
        [keras.Input((T,), dtype="int32"), keras.layers.Embedding(V, 8), keras.layers.Dense(V)]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.0),  # lr 0: fit's weights stay fixed
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[Perplexity()],
    )
    x, y = lm_batches(5, seed=4)
    xv, yv = lm_batches(3, seed=5)
    expected_train = np.exp(np_token_ce(y, model.predict(x, verbose=0)).mean())
    expected_valid = np.exp(np_token_ce(yv, model.predict(xv, verbose=0)).mean())

    logs = model.evaluate(x, y, batch_size=B, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["perplexity"], expected_train, rtol=1e-5)

    history = model.fit(
        x, y, batch_size=B, epochs=2, shuffle=False, validation_data=(xv, yv), verbose=0
    ).history
    assert {"perplexity", "val_perplexity"} <= set(history)
    np.testing.assert_allclose(history["perplexity"], [expected_train] * 2, rtol=1e-5)
    np.testing.assert_allclose(history["val_perplexity"], [expected_valid] * 2, rtol=1e-5)
