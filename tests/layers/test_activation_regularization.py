import numpy as np
import pytest

import keras
from keras import ops

from zoo.layers import ActivationRegularization

B, T, F, U, V = 3, 4, 2, 5, 6
ALPHA, BETA = 2.0, 1.0
X = np.random.default_rng(0).normal(size=(B, T, F)).astype("float32")
Y = np.random.default_rng(1).integers(0, V, size=(B, T))


def _numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype=np.float64)


def tiny_model(alpha=ALPHA, beta=BETA, time=T):
    """x -> raw (Dense) -> "dropped" (another Dense, a deterministic stand-in) -> logits.

    Returns the compiled model and a model of the intermediates (raw, dropped, logits).
    """
    x = keras.Input((time, F))
    raw = keras.layers.Dense(U, activation="tanh")(x)
    dropped = keras.layers.Dense(U)(raw)
    out = ActivationRegularization(alpha, beta, name="ar")((raw, dropped))
    logits = keras.layers.Dense(V)(out)
    model = keras.Model(x, logits)
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, keras.Model(x, [raw, dropped, logits])


def numpy_loss(raw, dropped, logits, y, alpha, beta):
    """Mean token cross-entropy + alpha * mean(dropped^2) + beta * mean(dh_t^2), in numpy."""
    logits = logits - logits.max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    cross_entropy = -np.take_along_axis(log_probs, y[..., None], -1).mean()
    ar = (dropped**2).mean()
    # TAR written as a loop over time, not as a shifted slice.
    pairs = [(raw[:, t] - raw[:, t - 1]) ** 2 for t in range(1, raw.shape[1])]
    tar = np.mean(pairs) if pairs else 0.0
    return cross_entropy, cross_entropy + alpha * ar + beta * tar


def test_reported_training_loss_is_cross_entropy_plus_ar_and_tar():
    model, parts = tiny_model()
    cross_entropy, total = numpy_loss(*(_numpy(p) for p in parts.predict(X, verbose=0)), Y,
                                      ALPHA, BETA)
    assert total - cross_entropy > 0.05  # the terms are big enough to be seen
    weights = model.get_weights()
    # train_on_batch reports the loss of the forward pass before its update.
    reported = model.train_on_batch(X, Y)
    np.testing.assert_allclose(reported, total, rtol=1e-5)
    # fit reports the same for a fresh model of the same weights.
    model2, _ = tiny_model()
    model2.set_weights(weights)
    history = model2.fit(X, Y, batch_size=B, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(history.history["loss"][0], total, rtol=1e-5)


def test_nothing_is_added_at_inference():
    model, parts = tiny_model()
    cross_entropy, _ = numpy_loss(*(_numpy(p) for p in parts.predict(X, verbose=0)), Y,
                                  ALPHA, BETA)
    np.testing.assert_allclose(model.evaluate(X, Y, verbose=0), cross_entropy, rtol=1e-5)
    layer = ActivationRegularization(ALPHA, BETA)
    dropped = X + 1.0
    out = layer((X, dropped))
    assert layer.losses == []
    np.testing.assert_array_equal(_numpy(out), dropped)
    layer((X, dropped), training=True)
    assert len(layer.losses) == 1


def test_penalty_gradients_reach_the_weights():
    """One SGD step on the penalties alone moves W by -lr times their numpy gradient.

    raw = dropped = x @ W (linear, no bias) and the compiled loss is 0 * output,
    so d/dW of alpha*mean((xW)^2) is 2 alpha / N x^T (xW), and the TAR term's
    is the same with x_t - x_{t-1} in place of x.
    """
    lr = 0.5
    w0 = np.random.default_rng(2).normal(size=(F, U)).astype("float32")
    inputs = keras.Input((T, F))
    raw = keras.layers.Dense(U, use_bias=False, name="w")(inputs)
    model = keras.Model(inputs, ActivationRegularization(ALPHA, BETA)((raw, raw)))
    model.compile(optimizer=keras.optimizers.SGD(lr), loss=lambda y, p: 0.0 * ops.sum(p))
    model.get_layer("w").set_weights([w0])
    model.train_on_batch(X, np.zeros((B, T, U), "float32"))

    x = X.reshape(-1, F).astype(np.float64)
    dx = (X[:, 1:] - X[:, :-1]).reshape(-1, F).astype(np.float64)
    grad = (2 * ALPHA / (B * T * U)) * x.T @ (x @ w0) + (
        2 * BETA / (B * (T - 1) * U)) * dx.T @ (dx @ w0)
    np.testing.assert_allclose(_numpy(model.get_layer("w").kernel), w0 - lr * grad, atol=1e-5)


def test_one_timestep_gives_zero_tar_not_nan():
    model, parts = tiny_model(alpha=0.0, beta=BETA, time=1)
    x = X[:, :1]
    cross_entropy, total = numpy_loss(*(_numpy(p) for p in parts.predict(x, verbose=0)),
                                      Y[:, :1], 0.0, BETA)
    assert total == cross_entropy
    np.testing.assert_allclose(model.train_on_batch(x, Y[:, :1]), cross_entropy, rtol=1e-5)


def test_variable_length_time_in_a_compiled_step():
    """Time unknown when traced (batch_shape (B, None)): TAR still averages T - 1 steps."""
    x = keras.Input((None, F))
    raw = keras.layers.Dense(U, use_bias=False)(x)
    model = keras.Model(x, ActivationRegularization(0.0, BETA)((raw, raw)))
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=lambda y, p: 0.0 * ops.sum(p))
    h = _numpy(model.predict(X, verbose=0))
    expected = np.mean([(h[:, t] - h[:, t - 1]) ** 2 for t in range(1, T)])
    np.testing.assert_allclose(model.train_on_batch(X, np.zeros((B, T, U))), BETA * expected,
                               rtol=1e-5)


def test_config_and_serialization_round_trip():
    layer = ActivationRegularization(alpha=2.0, beta=1.0, name="ar")
    config = layer.get_config()
    assert (config["alpha"], config["beta"]) == (2.0, 1.0)
    assert ActivationRegularization().get_config()["alpha"] == 0.0
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is ActivationRegularization and revived.get_config() == config


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(alpha=-1.0), "Argument `alpha` must be a finite number >= 0. Received: alpha=-1.0"),
        (dict(beta="1"), "Argument `beta` must be a finite number >= 0. Received: beta='1'"),
        (dict(beta=float("inf")),
         "Argument `beta` must be a finite number >= 0. Received: beta=inf"),
    ],
)
def test_bad_arguments_raise_in_keras_wording(kwargs, message):
    with pytest.raises(ValueError) as info:
        ActivationRegularization(**kwargs)
    assert str(info.value) == message


def test_inputs_must_be_a_pair_of_sequences():
    with pytest.raises(ValueError, match=r"^Argument `inputs` of ActivationRegularization "
                                         r"must be a pair \(raw, dropped\)"):
        ActivationRegularization(1.0)((X, X[:, :, :1]))
