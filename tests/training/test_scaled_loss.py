"""ScaledSparseCategoricalCrossentropy: value and gradients are scale x the Keras loss."""

import re

import keras
import numpy as np
import pytest
from keras import ops

from helpers.training import B
from helpers.training import T
from helpers.training import V
from helpers.training import lm_batches
from helpers.training import tiny_lm
from zoo.training import ScaledSparseCategoricalCrossentropy


def loss_and_grads(model, loss_fn, x, y):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    return float(loss), [tf.convert_to_tensor(g).numpy() for g in grads]  # dense embedding grad


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="uses tf.GradientTape")
def test_value_and_gradients_scale_exactly():
    from zoo.training import reset_rnn_states

    x, y = lm_batches(1, seed=0)
    model = tiny_lm("keras", loss="sparse_categorical_crossentropy")
    base = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    results = {}
    for scale in (1.0, 8.0, 20.0):
        reset_rnn_states(model)  # same start state for every evaluation
        fn = base if scale == 1.0 else ScaledSparseCategoricalCrossentropy(scale=scale)
        results[scale] = loss_and_grads(model, fn, x, y)
    loss1, grads1 = results[1.0]
    assert loss1 > 0
    # A power-of-two scale is exact in floating point: bit-for-bit equality.
    loss8, grads8 = results[8.0]
    assert loss8 == 8.0 * loss1
    for g8, g1 in zip(grads8, grads1):
        np.testing.assert_array_equal(g8, 8.0 * g1)
    loss20, grads20 = results[20.0]
    np.testing.assert_allclose(loss20, 20.0 * loss1, rtol=1e-6)
    # 20 is not a power of two: float32 rounds each product, so the error of an element is
    # relative to the largest terms summed into it, not to the (possibly tiny) element itself.
    for g20, g1 in zip(grads20, grads1):
        np.testing.assert_allclose(g20, 20.0 * g1, rtol=1e-5,
                                   atol=1e-6 * float(np.abs(20.0 * g1).max()))


def test_matches_the_tutorial_cost_and_keras_mean():
    rng = np.random.default_rng(1)
    y = rng.integers(0, V, size=(B, T))
    logits = rng.normal(size=(B, T, V)).astype("float32")
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    ce = -np.take_along_axis(logp, y[..., None], -1)[..., 0]
    tutorial_cost = ce.sum(axis=1).mean()  # sum over time, mean over batch
    loss = ScaledSparseCategoricalCrossentropy(scale=T)(y, logits)
    np.testing.assert_allclose(float(ops.convert_to_numpy(loss)), tutorial_cost, rtol=1e-5)
    probs = ScaledSparseCategoricalCrossentropy(scale=2, from_logits=False)(y, np.exp(logp))
    np.testing.assert_allclose(float(ops.convert_to_numpy(probs)), 2 * ce.mean(), rtol=1e-5)


def test_config_round_trip_and_errors():
    loss = ScaledSparseCategoricalCrossentropy(scale=35, ignore_class=0, name="scaled")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert isinstance(clone, ScaledSparseCategoricalCrossentropy)
    assert clone.get_config() == loss.get_config()
    assert (clone.scale, clone.from_logits, clone.ignore_class) == (35.0, True, 0)
    for bad in (0, -1.0, "20", True):
        with pytest.raises(ValueError, match=r"Argument `scale` must be a finite number > 0\. "
                                             rf"Received: scale={re.escape(repr(bad))}$"):
            ScaledSparseCategoricalCrossentropy(scale=bad)


def test_compiled_model_keras_file_round_trip(tmp_path):
    """A `.keras` checkpoint restores the scaled loss and the Perplexity metric."""
    from zoo.training import Perplexity
    from zoo.training import reset_rnn_states

    model = tiny_lm("keras", loss=ScaledSparseCategoricalCrossentropy(scale=T))
    x, y = lm_batches(2, seed=7)
    path = tmp_path / "best.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.loss, ScaledSparseCategoricalCrossentropy)
    assert loaded.loss.scale == float(T)
    reset_rnn_states(model)
    reset_rnn_states(loaded)
    expected = model.evaluate(x, y, batch_size=B, verbose=0, return_dict=True)
    got = loaded.evaluate(x, y, batch_size=B, verbose=0, return_dict=True)
    assert got.keys() == expected.keys() == {"loss", "perplexity"}
    np.testing.assert_allclose([got["loss"], got["perplexity"]],
                               [expected["loss"], expected["perplexity"]], rtol=1e-6)
    np.testing.assert_allclose(got["loss"], T * np.log(got["perplexity"]), rtol=1e-5)
    compiled = loaded.get_compile_config()["metrics"]
    assert keras.saving.deserialize_keras_object(compiled[0]).__class__ is Perplexity
