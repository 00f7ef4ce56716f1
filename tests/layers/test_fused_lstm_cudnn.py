"""FusedLSTM's cuDNN dispatch (issue 14 part 1), tested on CPU.

No GPU is needed: (a) the dispatch decision is a pure function,
`cudnn_blocker`, tested as a table and through the layer with the GPU check
patched; (b) the call FusedLSTM hands to the backend's `lstm` (cuDNN on a GPU)
is fed, with its folded bias, to the non-cuDNN `keras.layers.LSTM`, which must
give what the zoo's own fast path gives, forget_bias and use_bias=False
included.
"""

import numpy as np
import pytest

import keras
from keras import ops

from helpers.layers import B
from helpers.layers import F
from helpers.layers import T
from helpers.layers import U
from helpers.layers import numpy_lstm
from helpers.layers import paired_value_and_gradients
from helpers.layers import random_fused_weights
from zoo.layers import FusedLSTM
from zoo.layers import _cudnn
from zoo import _keras_private
from zoo.layers import fused_lstm as fused_lstm_module
from zoo.layers.fused_lstm import cudnn_blocker

TANH, SIGMOID = keras.activations.tanh, keras.activations.sigmoid
BACKEND = keras.backend.backend()


def decide(**overrides):
    args = dict(
        use_cudnn="auto",
        activation=TANH,
        recurrent_activation=SIGMOID,
        recurrent_dropout=0.0,
        unroll=False,
        mixed_precision=False,
        has_mask=False,
        backend="tensorflow",
        gpu_available=True,
    )
    args.update(overrides)
    return cudnn_blocker(**args)


@pytest.mark.parametrize(
    "overrides, reason",
    [
        (dict(), None),
        (dict(use_cudnn=True), None),
        (dict(backend="jax"), None),
        (dict(recurrent_dropout=1.0), None),  # a rate of 1.0 drops nothing
        (dict(has_mask=True), None),  # TensorFlow: if right-padded
        (dict(use_cudnn=False), "use_cudnn=False"),
        (dict(activation=keras.activations.relu), "activation is not tanh"),
        (dict(recurrent_activation=keras.activations.hard_sigmoid), "not sigmoid"),
        (dict(recurrent_dropout=0.2), "recurrent_dropout"),
        (dict(unroll=True), "unroll=True"),
        (dict(mixed_precision=True), "mixed precision"),
        (dict(has_mask=True, backend="jax"), "jax backend's cuDNN LSTM takes no mask"),
        (dict(gpu_available=False), "no GPU"),
    ],
)
def test_decision_table(overrides, reason):
    got = decide(**overrides)
    if reason is None:
        assert got is None
    else:
        assert reason in got


def test_cpu_never_calls_the_backend_lstm(monkeypatch):
    """Without a GPU "auto" runs the zoo's fast path as before."""
    if _cudnn.gpu_available():
        pytest.skip("a GPU is present")
    calls = []
    monkeypatch.setattr(
        _keras_private, "lstm", lambda *a, **k: calls.append(1)
    )
    fast = []
    original = fused_lstm_module.lstm_sequence
    monkeypatch.setattr(
        fused_lstm_module,
        "lstm_sequence",
        lambda *a, **k: fast.append(1) or original(*a, **k),
    )
    layer = FusedLSTM(U)
    layer(np.ones((B, T, F), "float32"))
    assert calls == [] and fast == [1]
    assert layer.supports_jit  # only a cuDNN-capable TF setup turns XLA off


def test_use_cudnn_true_without_gpu_raises_like_keras():
    if _cudnn.gpu_available():
        pytest.skip("a GPU is present")
    x = np.ones((B, T, F), "float32")
    with pytest.raises(ValueError, match="use_cudnn=True"):
        keras.layers.LSTM(U, use_cudnn=True)(x)
    with pytest.raises(ValueError, match="use_cudnn=True.*no GPU with cuDNN"):
        FusedLSTM(U, use_cudnn=True)(x)
    with pytest.raises(ValueError, match="use_cudnn=True.*unroll"):
        FusedLSTM(U, use_cudnn=True, unroll=True)(x)


def test_use_cudnn_argument_and_config():
    for value in ("auto", True, False):
        layer = FusedLSTM(U, use_cudnn=value)
        config = layer.get_config()
        assert config["use_cudnn"] == value
        assert FusedLSTM.from_config(config).use_cudnn == value
    with pytest.raises(ValueError, match="Argument `use_cudnn` must be one of") as info:
        FusedLSTM(U, use_cudnn="yes")
    assert "\n" not in str(info.value)


# -------------------------------------------------- the call handed to cuDNN
class FakeCudnn:
    """Stands in for the backend's `lstm` (`_keras_private.lstm`) on a GPU.

    Records the call and computes it with `keras.layers.LSTMCell`'s own step
    in the backend's generic loop (`_keras_private.rnn`, what
    `keras.layers.LSTM` runs without cuDNN), from exactly the kernel,
    recurrent kernel and bias it was handed; returns
    `(last_output, outputs, [h, c])` like the backend function. Only ops, so
    it also runs inside `fit`'s compiled function.
    """

    def __init__(self):
        self.calls = []
        self.cell = keras.layers.LSTMCell(U)  # outside any traced function

    def __call__(self, inputs, h0, c0, mask, kernel, recurrent_kernel, bias,
                 activation, recurrent_activation, return_sequences=False,
                 go_backwards=False, unroll=False):
        assert activation is TANH and recurrent_activation is SIGMOID
        assert not unroll and bias is not None
        self.calls.append(dict(bias=bias, mask=mask, recurrent_kernel=recurrent_kernel))
        cell = self.cell
        cell.kernel = ops.convert_to_tensor(kernel)
        cell.recurrent_kernel = ops.convert_to_tensor(recurrent_kernel)
        cell.bias = ops.convert_to_tensor(bias)
        last, outputs, states = _keras_private.rnn(
            lambda x_t, states: cell.call(x_t, states),
            inputs,
            [h0, c0],
            go_backwards=go_backwards,
            mask=mask,
            input_length=inputs.shape[1],
        )
        if not return_sequences:
            outputs = ops.expand_dims(last, 1)
        return last, outputs, states


@pytest.fixture
def gpu(monkeypatch):
    """Pretends a cuDNN GPU is present; returns the fake backend LSTM."""
    fake = FakeCudnn()
    monkeypatch.setattr(_cudnn, "gpu_available", lambda: True)
    monkeypatch.setattr(_keras_private, "lstm", fake)
    return fake


def twin_layers(**kwargs):
    """The same FusedLSTM twice: cuDNN allowed ("auto") and forbidden."""
    layers = [FusedLSTM(U, use_cudnn=v, **kwargs) for v in ("auto", False)]
    weights = random_fused_weights(F, U, seed=3)
    for layer in layers:
        layer.build((B, T, F))
        layer.set_weights(weights if layer.cell.use_bias else weights[:2])
    return layers, weights


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(forget_bias=1.5),
        dict(forget_bias=-0.7, use_bias=False),
        dict(use_bias=False),
        dict(forget_bias=1.0, go_backwards=True, return_sequences=True),
        dict(forget_bias=0.5, return_sequences=True, dropout=0.3, seed=2),
    ],
    ids=["plain", "forget_bias", "forget_bias_no_bias", "no_bias", "backwards",
         "input_dropout"],
)
def test_folded_bias_gives_the_fast_path_numbers(gpu, kwargs):
    (cudnn, zoo), weights = twin_layers(return_state=True, **kwargs)
    x = np.random.default_rng(4).normal(size=(B, T, F)).astype("float32")
    h0, c0 = (np.random.default_rng(s).normal(size=(B, U)).astype("float32")
              for s in (5, 6))
    training = bool(kwargs.get("dropout"))
    got = cudnn(x, initial_state=[h0, c0], training=training)
    assert len(gpu.calls) == 1
    want = zoo(x, initial_state=[h0, c0], training=training)
    assert len(gpu.calls) == 1  # use_cudnn=False: the zoo's own path
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=1e-5, rtol=0)
    # The bias handed over: the layer's bias (or none) + forget_bias on slice f.
    forget_bias = kwargs.get("forget_bias", 0.0)
    bias = weights[2] if kwargs.get("use_bias", True) else np.zeros(4 * U, "float32")
    offset = np.concatenate([np.zeros(U), np.full(U, forget_bias), np.zeros(2 * U)])
    handed = np.asarray(ops.convert_to_numpy(gpu.calls[0]["bias"]))
    np.testing.assert_allclose(handed, bias + offset, atol=1e-7)
    if not training:  # and the independent numpy LSTM agrees
        out, h, c = numpy_lstm(x[:, ::-1] if kwargs.get("go_backwards") else x,
                               weights[0], weights[1],
                               bias if kwargs.get("use_bias", True) else None,
                               forget_bias=forget_bias, h0=h0, c0=c0)
        np.testing.assert_allclose(np.asarray(got[-2]), h, atol=1e-5)
        np.testing.assert_allclose(np.asarray(got[-1]), c, atol=1e-5)


def test_weight_drop_hands_cudnn_the_masked_kernel(gpu):
    """weight_dropout does not block cuDNN: it gets the masked recurrent kernel
    (the zoo path, same seed, gives the same numbers and gradients)."""
    (cudnn, zoo), weights = twin_layers(weight_dropout=0.5, seed=3, return_sequences=True)
    rng = np.random.default_rng(12)
    x = rng.normal(size=(B, T, F)).astype("float32")
    w_out = rng.normal(size=(B, T, U)).astype("float32")
    (got, grads), (want, ref_grads) = paired_value_and_gradients(
        cudnn, zoo, x, w_out, training=True
    )
    assert len(gpu.calls) == 1
    np.testing.assert_allclose(got, want, atol=1e-5)
    for g, w in zip(grads, ref_grads):
        np.testing.assert_allclose(g, w, atol=1e-5)
    assert 0.25 < np.mean(grads[2] != 0) < 0.75  # the raw recurrent kernel's gradient
    # Outside a traced function, the kernel handed over can be read: the raw
    # kernel, masked and scaled by 1 / (1 - 0.5), in training only.
    out = cudnn(x, training=True)
    handed = np.asarray(ops.convert_to_numpy(gpu.calls[-1]["recurrent_kernel"]))
    mask = handed != 0
    assert 0.25 < mask.mean() < 0.75
    np.testing.assert_allclose(handed, weights[1] * mask / 0.5, atol=1e-6)
    np.testing.assert_allclose(out, numpy_lstm(x, weights[0], handed, weights[2])[0], atol=1e-5)
    cudnn(x, training=False)
    handed = np.asarray(ops.convert_to_numpy(gpu.calls[-1]["recurrent_kernel"]))
    np.testing.assert_array_equal(handed, weights[1])


@pytest.mark.parametrize(
    "kwargs",
    [dict(recurrent_dropout=0.3), dict(unroll=True), dict(activation="relu"),
     dict(use_cudnn=False)],
)
def test_settings_cudnn_cannot_run_take_the_zoo_path(gpu, kwargs):
    layer = FusedLSTM(U, **kwargs)
    layer(np.ones((B, T, F), "float32"), training=True)
    assert gpu.calls == []


def test_stateful_layer_carries_cudnn_states(gpu):
    (cudnn, zoo), _ = twin_layers(stateful=True)
    x = np.random.default_rng(7).normal(size=(B, 2 * T, F)).astype("float32")
    for chunk in (x[:, :T], x[:, T:]):
        got, want = cudnn(chunk), zoo(chunk)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-5)
    assert len(gpu.calls) == 2


@pytest.mark.skipif(BACKEND != "tensorflow", reason="masks reach cuDNN on TF only")
def test_masks_right_padded_to_cudnn_others_to_the_loop(gpu):
    (cudnn, zoo), _ = twin_layers(forget_bias=1.0, return_state=True)
    x = np.random.default_rng(8).normal(size=(B, T, F)).astype("float32")
    lengths = np.array([T, 2, 4])
    right = np.arange(T)[None, :] < lengths[:, None]
    for mask, to_cudnn in ((right, True), (right[:, ::-1].copy(), False)):
        before = len(gpu.calls)
        got = cudnn(x, mask=mask)
        assert len(gpu.calls) - before == int(to_cudnn)
        want = zoo(x, mask=mask)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=1e-5)


@pytest.mark.skipif(BACKEND != "jax", reason="the JAX backend's rule")
def test_jax_masks_take_the_zoo_loop(gpu):
    (cudnn, zoo), _ = twin_layers()
    mask = np.ones((B, T), bool)
    x = np.ones((B, T, F), "float32")
    np.testing.assert_allclose(
        np.asarray(cudnn(x, mask=mask)), np.asarray(zoo(x, mask=mask)), atol=1e-6
    )
    assert gpu.calls == []


def test_fit_through_cudnn_equals_fit_through_the_zoo_path(gpu):
    """Inside fit's compiled train step (masks: right-padded, on TensorFlow)."""
    x = np.random.default_rng(9).normal(size=(B, T, F)).astype("float32")
    y = np.random.default_rng(10).normal(size=(B, T, U)).astype("float32")
    if BACKEND == "tensorflow":
        x[1, 3:] = 0.0  # Masking: row 1 right-padded after 3 steps
    weights = random_fused_weights(F, U, seed=11)
    trained = []
    for use_cudnn in ("auto", False):
        layer = FusedLSTM(U, return_sequences=True, forget_bias=1.0,
                          use_cudnn=use_cudnn)
        masking = [keras.layers.Masking()] if BACKEND == "tensorflow" else []
        model = keras.Sequential([keras.Input((T, F)), *masking, layer])
        layer.set_weights(weights)
        model.compile(keras.optimizers.SGD(0.5), "mse", jit_compile=False)
        model.fit(x, y, batch_size=B, epochs=2, verbose=0)
        trained.append(layer.get_weights())
    assert gpu.calls  # traced through the stand-in
    for g, w in zip(*trained):
        np.testing.assert_allclose(g, w, atol=1e-5, rtol=0)
