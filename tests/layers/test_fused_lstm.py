"""FusedLSTM (the fast path) must compute exactly what RNN(FusedLSTMCell) does."""

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
from zoo.layers import FusedLSTM
from zoo.layers import FusedLSTMCell
from zoo.layers import _lstm_sequence
from zoo.layers import fused_lstm as fused_lstm_module


def pair(**kwargs):
    """A FusedLSTM and the plain RNN(FusedLSTMCell) with the same weights."""
    layer_kwargs = {
        k: kwargs.pop(k)
        for k in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll")
        if k in kwargs
    }
    fast = FusedLSTM(U, **kwargs, **layer_kwargs)
    plain = keras.layers.RNN(FusedLSTMCell(U, **kwargs), **layer_kwargs)
    return fast, plain


def test_layer_contract(tmp_path):
    run_lstm_layer_test(
        FusedLSTM,
        dict(units=U, return_sequences=True, unit_forget_bias=False, forget_bias=0.5,
             bias_regularizer="l2", recurrent_constraint="max_norm", dropout=0.1,
             recurrent_dropout=0.1, seed=2, use_cudnn=False, weight_dropout=0.25),
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(return_sequences=True),
        dict(return_sequences=True, forget_bias=1.0),
        dict(return_sequences=True, use_bias=False, forget_bias=0.5),
        dict(return_sequences=True, go_backwards=True),
        dict(return_sequences=False, unroll=True),
    ],
    ids=["plain", "forget_bias", "no_bias", "go_backwards", "last_unrolled"],
)
def test_matches_cell_forward_and_gradients(kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, F)).astype("float32")
    fast, plain = pair(**kwargs)
    for layer in (fast, plain):
        layer.build(x.shape)
    weights = random_fused_weights(F, U)[: 3 if kwargs.get("use_bias", True) else 2]
    fast.set_weights(weights)
    plain.set_weights(weights)
    out_shape = (B, T, U) if kwargs["return_sequences"] else (B, U)
    w_out = rng.normal(size=out_shape).astype("float32")
    (out, grads), (ref_out, ref_grads) = paired_value_and_gradients(fast, plain, x, w_out)
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    assert len(grads) == len(ref_grads) == 1 + len(weights)
    for g, ref in zip(grads, ref_grads):
        assert np.abs(ref).max() > 0
        np.testing.assert_allclose(g, ref, atol=1e-5)


def test_matches_numpy_reference_and_keras_lstm():
    x = np.random.default_rng(1).normal(size=(B, T, F)).astype("float32")
    weights = random_fused_weights(F, U, seed=1)
    fast = FusedLSTM(U, return_sequences=True, return_state=True)
    keras_lstm = keras.layers.LSTM(U, return_sequences=True, return_state=True)
    for layer in (fast, keras_lstm):
        layer.build(x.shape)
        layer.set_weights(weights)
    ref, h, c = numpy_lstm(x, *weights)
    for outputs in (fast(x), keras_lstm(x)):
        for got, want in zip(outputs, (ref, h, c)):
            np.testing.assert_allclose(got, want, atol=1e-5)


def test_stateful_chunks_equal_whole_and_cell():
    x = np.random.default_rng(2).normal(size=(B, 3 * T, F)).astype("float32")
    weights = random_fused_weights(F, U, seed=2)
    fast, plain = pair(return_sequences=True, stateful=True)
    for layer in (fast, plain):
        layer.build((B, T, F))
        layer.set_weights(weights)
    chunks = [x[:, i * T : (i + 1) * T] for i in range(3)]
    fast_out = np.concatenate([fast(c) for c in chunks], axis=1)
    plain_out = np.concatenate([plain(c) for c in chunks], axis=1)
    np.testing.assert_allclose(fast_out, plain_out, atol=1e-5)
    np.testing.assert_allclose(fast_out, numpy_lstm(x, *weights)[0], atol=1e-5)
    fast.reset_state()
    np.testing.assert_allclose(fast(chunks[0]), fast_out[:, :T], atol=1e-6)


def test_stateful_gradients_match_cell():
    x = np.random.default_rng(3).normal(size=(B, 2 * T, F)).astype("float32")
    weights = random_fused_weights(F, U, seed=3)
    fast, plain = pair(return_sequences=True, stateful=True)
    w_out = np.random.default_rng(4).normal(size=(B, T, U)).astype("float32")
    for layer in (fast, plain):
        layer.build((B, T, F))
        layer.set_weights(weights)
        layer(x[:, :T])  # first chunk sets the state
    (_, grads), (_, ref_grads) = paired_value_and_gradients(fast, plain, x[:, T:], w_out)
    for g, ref in zip(grads, ref_grads):
        np.testing.assert_allclose(g, ref, atol=1e-5)


def test_initial_state_and_mask_match_cell():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(B, T, F)).astype("float32")
    h0, c0 = (rng.normal(size=(B, U)).astype("float32") for _ in range(2))
    mask = np.ones((B, T), bool)
    mask[0, 3:] = False
    mask[2, 1:] = False
    weights = random_fused_weights(F, U, seed=5)
    fast, plain = pair(return_sequences=True, return_state=True)
    for layer in (fast, plain):
        layer.build(x.shape)
        layer.set_weights(weights)
    got = fast(x, initial_state=[h0, c0], mask=mask)
    want = plain(x, initial_state=[h0, c0], mask=mask)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # Masked steps carry the state: sample 2 stops after its first step.
    step1 = numpy_lstm(x[2:3, :1], *weights, h0=h0[2:3], c0=c0[2:3])
    np.testing.assert_allclose(got[1][2:3], step1[1], atol=1e-5)


def test_dropout_is_the_cells_dropout():
    """Same seed: the fast path draws and applies the very masks the cell does."""
    x = np.random.default_rng(6).normal(size=(B, T, F)).astype("float32")
    fast, plain = pair(return_sequences=True, dropout=0.3, recurrent_dropout=0.4, seed=11)
    for layer in (fast, plain):
        layer.build(x.shape)
        layer.set_weights(random_fused_weights(F, U, seed=6))
    np.testing.assert_allclose(fast(x, training=True), plain(x, training=True), atol=1e-5)


def test_variational_dropout():
    check_variational_dropout(
        lambda rate, rec_rate, seed: FusedLSTM(
            8, return_sequences=True, dropout=rate, recurrent_dropout=rec_rate, seed=seed
        ),
        lambda layer, weights: layer.set_weights(weights),
    )


def test_mixed_bfloat16_keeps_float32_carry():
    x = np.random.default_rng(7).normal(size=(B, T, F)).astype("float32")
    weights = random_fused_weights(F, U, seed=7)
    mixed = FusedLSTM(U, return_sequences=True, dtype="mixed_bfloat16")
    mixed.build(x.shape)
    mixed.set_weights(weights)
    assert mixed.cell.kernel.dtype == "float32"
    out = mixed(x)
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    ref = numpy_lstm(x, *weights)[0]
    error = np.abs(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32")) - ref).max()
    assert error < 3e-2, error


def test_properties_and_config():
    layer = FusedLSTM(5, dropout=0.25, forget_bias=1.0, seed=4, stateful=True)
    assert (layer.units, layer.dropout, layer.forget_bias, layer.seed) == (5, 0.25, 1.0, 4)
    config = layer.get_config()
    assert "cell" not in config and config["stateful"] is True
    assert FusedLSTM.from_config(config).get_config() == config


@pytest.mark.parametrize(
    "kwargs, argument",
    [(dict(units=0), "units"), (dict(units=2, dropout=1.5), "dropout")],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        FusedLSTM(**kwargs)


def test_wrong_input_rank_raises():
    with pytest.raises(ValueError, match="`inputs`.*rank 3") as info:
        FusedLSTM(U)(np.zeros((B, F), "float32"))
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------- the fast path
# FusedLSTM runs standard (tanh/sigmoid), unmasked sequences through
# zoo.layers._lstm_sequence: a whole-sequence recurrence with a hand-written
# backward pass, unrolled in Python up to MAX_UNROLL steps and a backend loop
# beyond. The tests below run it both ways against autodiff of the plain cell.


@pytest.fixture(params=["unrolled", "loop"])
def recurrence(request, monkeypatch):
    if request.param == "loop":
        monkeypatch.setattr(_lstm_sequence, "MAX_UNROLL", 0)
    return request.param


def count_fast_calls(monkeypatch):
    calls = []
    original = fused_lstm_module.lstm_sequence

    def spy(*args, **kwargs):
        calls.append(kwargs.get("unroll"))
        return original(*args, **kwargs)

    monkeypatch.setattr(fused_lstm_module, "lstm_sequence", spy)
    return calls


def test_fast_path_runs_where_it_applies(monkeypatch):
    calls = count_fast_calls(monkeypatch)
    x = np.random.default_rng(8).normal(size=(B, T, F)).astype("float32")
    FusedLSTM(U)(x)
    assert len(calls) == 1
    FusedLSTM(U)(x, mask=np.ones((B, T), bool))  # masks: generic loop
    FusedLSTM(U, activation="relu")(x)  # other math: generic loop
    assert len(calls) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(forget_bias=1.0, use_bias=False),
        dict(go_backwards=True, forget_bias=0.5),
    ],
    ids=["plain", "forget_bias_no_bias", "go_backwards"],
)
def test_fast_path_gradients_with_states(recurrence, kwargs):
    """Gradients into x, h0, c0 and every weight, through all three outputs."""
    rng = np.random.default_rng(9)
    steps = 2 * T
    x = rng.normal(size=(B, steps, F)).astype("float32")
    states = [rng.normal(size=(B, U)).astype("float32") for _ in range(2)]
    fast, plain = pair(return_sequences=True, return_state=True, **kwargs)
    weights = random_fused_weights(F, U, seed=9)[: 3 if kwargs.get("use_bias", True) else 2]
    for layer in (fast, plain):
        layer.build(x.shape)
        layer.set_weights(weights)
    w_out = [rng.normal(size=s).astype("float32") for s in [(B, steps, U), (B, U), (B, U)]]
    (outs, grads), (ref_outs, ref_grads) = paired_value_and_gradients(
        fast, plain, x, w_out, initial_state=states
    )
    for got, want in zip(outs, ref_outs):
        np.testing.assert_allclose(got, want, atol=1e-5)
    assert len(grads) == len(ref_grads) == 3 + len(weights)
    for g, ref in zip(grads, ref_grads):
        assert np.abs(ref).max() > 0
        np.testing.assert_allclose(g, ref, atol=1e-5)


def test_fast_path_dropout_gradients(recurrence):
    """Training with both dropouts: same masks, same outputs and gradients."""
    rng = np.random.default_rng(10)
    x = rng.normal(size=(B, T, F)).astype("float32")
    fast, plain = pair(return_sequences=True, dropout=0.3, recurrent_dropout=0.4, seed=5)
    for layer in (fast, plain):
        layer.build(x.shape)
        layer.set_weights(random_fused_weights(F, U, seed=10))
    w_out = rng.normal(size=(B, T, U)).astype("float32")
    (out, grads), (ref_out, ref_grads) = paired_value_and_gradients(
        fast, plain, x, w_out, training=True
    )
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    assert np.mean(out == 0) < 0.5  # outputs are not dropped, inputs are
    for g, ref in zip(grads, ref_grads):
        np.testing.assert_allclose(g, ref, atol=1e-5)
    # Dropped input features get no gradient: some of x's entries are exactly 0.
    assert 0 < np.mean(grads[0] == 0) < 1


def test_fast_path_unknown_length_uses_the_loop(monkeypatch):
    calls = count_fast_calls(monkeypatch)
    weights = random_fused_weights(F, U, seed=11)
    fast, plain = pair(return_sequences=True)
    models = []
    for layer in (fast, plain):
        inputs = keras.Input(shape=(None, F))
        models.append(keras.Model(inputs, layer(inputs)))
        layer.set_weights(weights)
    for steps in (T, 3 * T):
        x = np.random.default_rng(steps).normal(size=(B, steps, F)).astype("float32")
        np.testing.assert_allclose(
            models[0].predict(x, verbose=0), models[1].predict(x, verbose=0), atol=1e-5
        )
    assert calls and all(c is None for c in calls)


def test_fast_path_mixed_bfloat16_gradients():
    """16-bit matmuls, float32 carry: gradients close to the float32 ones."""
    rng = np.random.default_rng(12)
    x = rng.normal(size=(B, T, F)).astype("float32")
    weights = random_fused_weights(F, U, seed=12)
    mixed = FusedLSTM(U, return_sequences=True, dtype="mixed_bfloat16")
    exact = FusedLSTM(U, return_sequences=True)
    built_with_weights((mixed, exact), x.shape, weights)
    w_out = rng.normal(size=(B, T, U)).astype("float32")
    (_, grads), (_, ref_grads) = paired_value_and_gradients(mixed, exact, x, w_out)
    for g, ref in zip(grads, ref_grads):
        assert g.dtype == ref.dtype == np.float32  # variables stay float32
        assert np.abs(g - ref).max() <= 3e-2 * np.abs(ref).max()


# ------------------------------------------ training on sequences of any length
# Issue 19 §1: a model built for `(None, F)` inputs and fit on batches of
# different lengths traces its training step with an unknown time dimension
# on TensorFlow; the fast path's backward loop must run there. Length 70 is
# above MAX_UNROLL (64), 4 and 9 below it.
LENGTHS = (4, 70, 9)


def _fit_lengths(models, batch_shape, lengths):
    """`train_on_batch` of each model on the same batches of each length.

    SGD with learning rate 1: a step changes every weight by minus its
    gradient, so the weight changes are the gradients. Returns per model the
    losses and the gradients of every step.
    """
    rng = np.random.default_rng(20)
    batches = [
        (rng.normal(size=(batch_shape[0], t, F)).astype("float32"),
         rng.normal(size=(batch_shape[0], t, U)).astype("float32"))
        for t in lengths
    ]
    results = []
    for model in models:
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
        losses, grads = [], []
        for x, y in batches:
            before = [np.array(w) for w in model.get_weights()]
            losses.append(float(model.train_on_batch(x, y)))
            grads.append([b - a for b, a in zip(before, model.get_weights())])
        results.append((losses, grads))
    return results


def _length_free_pair(batch_shape, **kwargs):
    weights = random_fused_weights(F, U, seed=21, scale=0.3)
    models = []
    for layer in (FusedLSTM(U, return_sequences=True, **kwargs),
                  keras.layers.LSTM(U, return_sequences=True, **kwargs)):
        inputs = keras.Input(batch_shape=batch_shape)
        models.append(keras.Model(inputs, layer(inputs)))
        layer.set_weights(weights)
    return models


def _assert_same_training(results):
    (losses, grads), (ref_losses, ref_grads) = results
    np.testing.assert_allclose(losses, ref_losses, atol=1e-5)
    for step, (got, want) in enumerate(zip(grads, ref_grads)):
        for g, ref in zip(got, want):
            assert np.abs(ref).max() > 0
            np.testing.assert_allclose(g, ref, atol=1e-5, err_msg=f"step {step}")


def test_fit_on_sequences_of_varying_length_matches_keras_lstm():
    models = _length_free_pair((B, None, F))
    _assert_same_training(_fit_lengths(models, (B, None, F), LENGTHS))


def test_stateful_fit_on_varying_lengths_carries_states_like_keras_lstm():
    """The AWD recipe's variable-length BPTT: batch_shape (B, None), stateful."""
    models = _length_free_pair((B, None, F), stateful=True)
    _assert_same_training(_fit_lengths(models, (B, None, F), LENGTHS))
    fast, ref = (model.layers[-1] for model in models)
    for state, ref_state in zip(fast.states, ref.states):
        if keras.backend.backend() == "tensorflow":
            # Keras 3.15 carries RNN states through train_on_batch only on
            # TensorFlow (on JAX they are not part of the stateless step).
            assert np.abs(keras.ops.convert_to_numpy(ref_state)).max() > 0
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(state), keras.ops.convert_to_numpy(ref_state),
            atol=1e-5,
        )
    # Called directly, chunks of varying length continue one sequence.
    fast.reset_state()
    x = np.random.default_rng(22).normal(size=(B, sum(LENGTHS), F)).astype("float32")
    bounds = np.cumsum((0,) + LENGTHS)
    chunks = [fast(x[:, a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    want = numpy_lstm(x, *fast.get_weights())[0]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), want, atol=1e-5)
