"""Dynamic evaluation against a numpy recomputation on an embedding → dense language model,
whose gradient is written out by hand below."""

import math

import keras
import numpy as np
import pytest

from zoo.training import DynamicEvaluation
from zoo.training import dynamic_eval_perplexity
from zoo.training import gradient_statistics
from zoo.training import tune_dynamic_eval

V, E, T = 6, 4, 3


def bigram_lm(batch=1, seed=0):
    """ids (batch, T) → Embedding(V, E) → Dense(V) logits: each token predicts the next."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(batch_shape=(batch, T), dtype="int32")
    x = keras.layers.Embedding(V, E, embeddings_initializer=keras.initializers.RandomNormal())(
        inputs)
    outputs = keras.layers.Dense(V, bias_initializer=keras.initializers.RandomNormal())(x)
    return keras.Model(inputs, outputs)


def loss_and_grads(emb, w, b, x, y):
    """Mean token cross-entropy of logits emb[x] @ w + b and its gradients, by hand."""
    x, y = np.ravel(x), np.ravel(y)
    z = emb[x] @ w + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y]).mean()
    dz = (p - np.eye(V)[y]) / len(y)
    demb = np.zeros_like(emb)
    np.add.at(demb, x, dz @ w.T)
    return loss, [demb, emb[x].T @ dz, dz.sum(axis=0)]


def numpy_dynamic_eval(weights, ids, lr, decay, rms=None, epsilon=2e-5):
    """Score each segment, then step: θ ← θ - lr·g[/(rms+ε)] + decay·[r·](θ0 - θ)."""
    theta0 = [np.asarray(a, "float64") for a in weights]
    theta = [a.copy() for a in theta0]
    if rms is not None:
        mean = np.mean([s.mean() for s in rms])
        rates = [np.minimum(s / mean, 1 / decay) for s in rms]
    total, n = 0.0, (len(ids) - 1) // T
    for k in range(n):
        x, y = ids[k * T:(k + 1) * T], ids[k * T + 1:(k + 1) * T + 1]
        loss, grads = loss_and_grads(*theta, x, y)
        total += loss * T
        for i, g in enumerate(grads):
            if rms is None:
                theta[i] = theta[i] - lr * g + decay * (theta0[i] - theta[i])
            else:
                theta[i] = (theta[i] - lr * g / (rms[i] + epsilon)
                            + decay * rates[i] * (theta0[i] - theta[i]))
    return math.exp(total / (n * T))


IDS = np.random.default_rng(5).integers(0, V, 5 * T + 2)  # five segments, one token left over


@pytest.mark.parametrize("lr, decay", [(0.7, 0.0), (0.7, 0.2)])
def test_sgd_matches_the_numpy_recomputation_and_restores_the_weights(lr, decay):
    model = bigram_lm()
    before = model.get_weights()
    got, plain = dynamic_eval_perplexity(model, IDS, lr, decay)
    assert got == pytest.approx(numpy_dynamic_eval(before, IDS, lr, decay), rel=1e-5)
    assert plain == pytest.approx(numpy_dynamic_eval(before, IDS, 0.0, 0.0), rel=1e-5)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_rms_matches_the_numpy_recomputation_with_clipped_decay_rates():
    model = bigram_lm()
    rng = np.random.default_rng(6)
    # One large entry: its decay rate rms/mean exceeds 1/decay and is clipped.
    rms = [rng.uniform(0.05, 0.5, v.shape).astype("float32") for v in model.trainable_variables]
    rms[1][0, 0] = 40.0
    got, _ = dynamic_eval_perplexity(model, IDS, 0.01, 0.2, method="rms", statistics=rms)
    want = numpy_dynamic_eval(model.get_weights(), IDS, 0.01, 0.2, rms=rms)
    assert got == pytest.approx(want, rel=1e-5)


def test_gradient_statistics_are_the_rms_of_the_reader_batches():
    model = bigram_lm(batch=2)
    ids = np.random.default_rng(7).integers(0, V, 2 * (3 * T + 1) + 1)
    got = gradient_statistics(model, ids)
    rows = ids[:len(ids) // 2 * 2].reshape(2, -1)  # the PTB reader's layout
    squares = [np.zeros(w.shape) for w in model.get_weights()]
    n = (rows.shape[1] - 1) // T
    for k in range(n):
        _, grads = loss_and_grads(*model.get_weights(), rows[:, k * T:(k + 1) * T],
                                  rows[:, k * T + 1:(k + 1) * T + 1])
        squares = [s + g * g for s, g in zip(squares, grads)]
    for g, s in zip(got, squares):
        np.testing.assert_allclose(g, np.sqrt(s / n), rtol=1e-5, atol=1e-7)


def test_stateful_lstm_state_carries_across_segments():
    # lr 0: the same per-token losses as one pass over the whole stream.
    keras.utils.set_random_seed(1)

    def lstm_lm(length):
        inputs = keras.Input(batch_shape=(1, length), dtype="int32")
        x = keras.layers.Embedding(V, E)(inputs)
        x = keras.layers.LSTM(5, return_sequences=True, stateful=True)(x)
        x = keras.layers.Dropout(0.9)(x)  # must be off while adapting
        return keras.Model(inputs, keras.layers.Dense(V)(x))

    model, whole = lstm_lm(T), lstm_lm(5 * T)
    if keras.backend.backend() == "jax":  # train_on_batch cannot carry the state there
        with pytest.raises(ValueError, match="needs the TensorFlow backend"):
            dynamic_eval_perplexity(model, IDS, 0.0, 0.0)
        return
    whole.set_weights(model.get_weights())
    logits = keras.ops.convert_to_numpy(whole(IDS[None, :5 * T]))[0].astype("float64")
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    want = math.exp(-log_p[np.arange(5 * T), IDS[1:5 * T + 1]].mean())
    assert dynamic_eval_perplexity(model, IDS, 0.0, 0.0) == pytest.approx((want, want),
                                                                          rel=1e-5)


def test_tuning_picks_the_best_pair_on_the_ids_given():
    model = bigram_lm()
    best = tune_dynamic_eval(model, IDS, learning_rates=(0.1, 2.0), decays=(0.5,))
    each = {(lr, d): numpy_dynamic_eval(model.get_weights(), IDS, lr, d)
            for lr in (0.1, 2.0) for d in (0.5,)}
    choice = min(each, key=each.get)
    assert (best["learning_rate"], best["decay"]) == choice
    assert best["perplexity"] == pytest.approx(each[choice], rel=1e-5)


def test_optimizer_config_and_keras_file_round_trip(tmp_path):
    opt = DynamicEvaluation(0.3, decay=0.1, method="rms", epsilon=1e-4)
    config = opt.get_config()
    assert (config["decay"], config["method"], config["epsilon"]) == (0.1, "rms", 1e-4)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(again) is DynamicEvaluation and again.get_config() == config

    model = bigram_lm()
    model.compile(optimizer=DynamicEvaluation(0.5, decay=0.2), loss=keras.losses.
                  SparseCategoricalCrossentropy(from_logits=True))
    model.train_on_batch(IDS[None, :T], IDS[None, 1:T + 1])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("kwargs, message", [
    ({"learning_rate": -1.0},
     "Argument `learning_rate` must be a finite number >= 0. Received: learning_rate=-1.0"),
    ({"decay": 1.5}, "Argument `decay` must be a number in [0, 1]. Received: decay=1.5"),
    ({"method": "adam"},
     "Argument `method` must be one of ('sgd', 'rms'). Received: method='adam'"),
    ({"method": "rms"}, "Argument `statistics` must be given for method='rms' (see "
                        "gradient_statistics). Received: statistics=None"),
])
def test_bad_arguments_in_keras_wording(kwargs, message):
    args = {"learning_rate": 0.1, "decay": 0.0, **kwargs}
    with pytest.raises(ValueError) as e:
        dynamic_eval_perplexity(bigram_lm(), IDS, **args)
    assert str(e.value) == message
