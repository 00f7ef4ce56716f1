"""One helper that checks the Keras layer contract, plus shared references.

`run_layer_test` is the keras-hub style check every zoo layer's test calls:
config round trip, eager and symbolic call, a functional model next to stock
layers with one `fit` step, `.keras` save/load with identical predictions,
and use inside (or next to) `keras.layers.Bidirectional`. The rest are small
backend-agnostic utilities: gradients (TensorFlow or JAX), an independent
numpy LSTM, and the variational-dropout checks shared by the LSTM layers.
"""

import numpy as np

import keras
from keras import ops

TINY = dict(batch=3, time=5, features=4, units=3)
B, T, F, U = TINY["batch"], TINY["time"], TINY["features"], TINY["units"]


def _to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def _assert_close(a, b, atol=1e-5, msg=""):
    np.testing.assert_allclose(_to_numpy(a), _to_numpy(b), atol=atol, rtol=0, err_msg=msg)


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    *,
    wrap=None,
    bidirectional="wrap",
    tmp_path,
):
    """Checks the Keras layer contract of `layer_cls(**init_kwargs)`.

    Args:
        layer_cls: the layer (or cell) class under test.
        init_kwargs: dict, constructor arguments; every one must come back in
            `get_config()`.
        input_data: numpy array fed to the (wrapped) layer, batch first.
        expected_output_shape: tuple, output shape of the (wrapped) layer on
            `input_data`.
        wrap: optional callable turning the layer into the layer used in
            models, e.g. `lambda cell: keras.layers.RNN(cell, return_sequences=True)`
            for a cell. Defaults to the layer itself.
        bidirectional: `"wrap"` wraps the (wrapped) layer in
            `keras.layers.Bidirectional`; `"follow"` puts a
            `Bidirectional(LSTM)` after it (for non-recurrent layers).
        tmp_path: directory for the `.keras` files.
    """
    wrap = wrap or (lambda layer: layer)

    def make():
        return wrap(layer_cls(**init_kwargs))

    # 1. Config round trip, directly and through Keras's registry.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for key, value in init_kwargs.items():
        assert key in config, f"get_config() lacks constructor argument {key!r}"
        if isinstance(value, (int, float, bool, type(None))) or (
            isinstance(value, str) and isinstance(config[key], str)
        ):
            assert config[key] == value, (key, config[key], value)
    revived = layer_cls.from_config(config)
    assert revived.get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"].startswith("zoo>"), serialized
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is layer_cls
    assert revived.get_config() == config

    # 2. Eager call.
    eager_layer = make()
    output = eager_layer(input_data)
    assert tuple(output.shape) == tuple(expected_output_shape), output.shape
    assert np.all(np.isfinite(_to_numpy(output)))
    assert tuple(eager_layer.compute_output_shape(input_data.shape)) == tuple(
        expected_output_shape
    )

    # 3. Symbolic call, in a functional model next to stock layers, and
    # 4. inside (or before) Bidirectional: one two-output model checks both
    # with a single fit step and a single .keras save/load.
    inputs = keras.Input(shape=input_data.shape[1:], dtype=str(input_data.dtype))
    symbolic = make()(inputs)
    assert tuple(symbolic.shape) == (None,) + tuple(expected_output_shape[1:])
    plain = keras.layers.Dense(2, activation="tanh")(symbolic)
    if bidirectional == "wrap":
        both = keras.layers.Bidirectional(make())(inputs)
        width = 2 * expected_output_shape[-1]
    else:
        both = keras.layers.Bidirectional(
            keras.layers.LSTM(2, return_sequences=True)
        )(make()(inputs))
        width = 4
    assert both.shape[-1] == width, both.shape
    model = keras.Model(
        inputs, [keras.layers.Dense(2)(plain), keras.layers.Dense(2)(both)]
    )
    _fit_one_step_and_reload(model, input_data, tmp_path / "model.keras")


def tiny_sequences(seed=0, time=T):
    """Random float32 inputs `(B, time, F)` of the TINY shapes."""
    return np.random.default_rng(seed).normal(size=(B, time, F)).astype("float32")


def sequence_rnn(cell, **kwargs):
    """`keras.layers.RNN(cell, return_sequences=True, **kwargs)`: a cell's test layer."""
    return keras.layers.RNN(cell, return_sequences=True, **kwargs)


def run_lstm_layer_test(layer_cls, init_kwargs, *, wrap=None, tmp_path):
    """`run_layer_test` of an LSTM layer (or cell, with `wrap`) on TINY sequences.

    The input is `tiny_sequences()`, the expected output `(B, T, U)`.
    """
    run_layer_test(layer_cls, init_kwargs, tiny_sequences(), (B, T, U), wrap=wrap,
                   tmp_path=tmp_path)


def _fit_one_step_and_reload(model, input_data, path):
    rng = np.random.default_rng(0)
    targets = [
        rng.normal(size=(len(input_data),) + tuple(out.shape[1:]))
        for out in model.outputs
    ]
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=["mse"] * len(targets))
    before = [_to_numpy(w).copy() for w in model.trainable_weights]
    history = model.fit(
        input_data, targets, batch_size=len(input_data), epochs=1, verbose=0
    )
    assert np.isfinite(history.history["loss"][0])
    after = [_to_numpy(w) for w in model.trainable_weights]
    changed = [not np.array_equal(b, a) for b, a in zip(before, after)]
    assert all(changed), f"fit left weights unchanged: {changed}"
    expected = model.predict(input_data, verbose=0)
    model.save(path)
    loaded = keras.saving.load_model(path)
    for got, want in zip(loaded.predict(input_data, verbose=0), expected):
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def value_and_gradients(layer, x, output_weights, initial_state=None, training=False):
    """Output of `layer(x)` and the gradients of `sum(output * output_weights)`.

    Backend-agnostic (TensorFlow or JAX). With `initial_state` (a list of
    arrays) the layer is called with it and its gradients follow `d/dx`; a
    layer with several outputs (`return_state`) takes a list of
    `output_weights`, one per output. Returns `(output, grads)` with
    `grads = [d/dx] + [d/ds for s in initial_state] +
    [d/dw for w in layer.trainable_weights]` as numpy.
    """
    states = list(initial_state or [])
    kwargs = {"training": training} if training else {}

    def weighted_sum(out):
        if isinstance(out, (list, tuple)):
            return sum(ops.sum(o * w) for o, w in zip(out, output_weights))
        return ops.sum(out * output_weights)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        states = [tf.convert_to_tensor(s) for s in states]
        if states:
            kwargs["initial_state"] = states
        with tf.GradientTape() as tape:
            tape.watch([x] + states)
            out = layer(x, **kwargs)
            loss = weighted_sum(out)
        grads = tape.gradient(loss, [x] + states + list(layer.trainable_weights))
    elif backend == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss_fn(x, states, trainable):
            if states:
                kwargs["initial_state"] = states
            out, _ = layer.stateless_call(trainable, non_trainable, x, **kwargs)
            return weighted_sum(out), out

        (_, out), (gx, gs, gw) = jax.value_and_grad(
            loss_fn, argnums=(0, 1, 2), has_aux=True
        )(x, states, trainable)
        grads = [gx] + list(gs) + list(gw)
    else:  # pragma: no cover
        raise NotImplementedError(f"gradients on backend {backend}")
    if isinstance(out, (list, tuple)):
        return [_to_numpy(o) for o in out], [_to_numpy(g) for g in grads]
    return _to_numpy(out), [_to_numpy(g) for g in grads]


def built_with_weights(layers, input_shape, weights):
    """Builds each layer for `input_shape` and sets `weights`; returns `layers`."""
    for layer in layers:
        layer.build(input_shape)
        layer.set_weights(weights)
    return layers


def paired_value_and_gradients(layer, reference, x, output_weights, **kwargs):
    """`value_and_gradients` of `layer` and of `reference`, same inputs and weights."""
    return (
        value_and_gradients(layer, x, output_weights, **kwargs),
        value_and_gradients(reference, x, output_weights, **kwargs),
    )


def numpy_lstm(x, kernel, recurrent_kernel, bias, forget_bias=0.0, h0=None, c0=None):
    """Independent float64 numpy LSTM (gate order i, f, c, o).

    Returns `(outputs (batch, time, units), h, c)`.
    """
    sigmoid = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    x = np.asarray(x, np.float64)
    units = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], units)) if h0 is None else np.asarray(h0, np.float64)
    c = np.zeros((x.shape[0], units)) if c0 is None else np.asarray(c0, np.float64)
    outputs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + (0 if bias is None else bias)
        zi, zf, zc, zo = np.split(z, 4, axis=-1)
        c = sigmoid(zf + forget_bias) * c + sigmoid(zi) * np.tanh(zc)
        h = sigmoid(zo) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def random_fused_weights(input_dim, units, seed=0, scale=0.5):
    """Random `[kernel, recurrent_kernel, bias]` in Keras's LSTM layout."""
    rng = np.random.default_rng(seed)
    return [
        (scale * rng.normal(size=shape)).astype("float32")
        for shape in ((input_dim, 4 * units), (units, 4 * units), (4 * units,))
    ]


# ----------------------------------------------------------------------------
# Variational dropout checks, shared by every LSTM layer's test.
# Weights are chosen so that the input gate and output gate are 1, the forget
# gate is 0 and the cell update is tanh of the (masked) input or state, so the
# mask is readable from the output: h_t = tanh(tanh(z_c)).
# ----------------------------------------------------------------------------
def _probe_weights(d, recurrent):
    eye = np.eye(d, dtype="float32")
    kernel = np.zeros((d, 4 * d), "float32")
    kernel[:, 2 * d : 3 * d] = eye
    recurrent_kernel = np.zeros((d, 4 * d), "float32")
    if recurrent:
        recurrent_kernel[:, 2 * d : 3 * d] = eye
    bias = np.concatenate(
        [np.full(d, 30.0), np.full(d, -30.0), np.zeros(d), np.full(d, 30.0)]
    ).astype("float32")
    return [kernel, recurrent_kernel, bias]


def check_variational_dropout(make_layer, set_fused_weights, rate=0.5):
    """Dropout differs in training, not in inference; one mask per sequence.

    Args:
        make_layer: callable `(dropout, recurrent_dropout, seed)` returning a
            sequence layer (`return_sequences=True`) over inputs `(B, T, 8)`
            with 8 units.
        set_fused_weights: callable `(layer, [kernel, recurrent_kernel, bias])`.
    """
    d, batch, time = 8, 6, 7
    rng = np.random.default_rng(1)
    scale = 1.0 / (1.0 - rate)

    # Input dropout: constant inputs over time, no recurrence.
    x = np.repeat(rng.uniform(0.2, 0.5, (batch, 1, d)), time, axis=1).astype("float32")
    layer = make_layer(rate, 0.0, 7)
    layer.build(x.shape)
    set_fused_weights(layer, _probe_weights(d, recurrent=False))
    first = _to_numpy(layer(x, training=True))
    # Seeds are honoured: a fresh layer with the same seed draws the same masks.
    twin = make_layer(rate, 0.0, 7)
    twin.build(x.shape)
    set_fused_weights(twin, _probe_weights(d, recurrent=False))
    _assert_close(twin(x, training=True), first, 1e-6, "same seed, same mask")
    clean = np.tanh(np.tanh(x))
    _assert_close(layer(x, training=False), clean, 1e-6, "inference must not drop")
    _assert_close(layer(x), clean, 1e-6, "default call must not drop")
    second = _to_numpy(layer(x, training=True))
    for out in (first, second):
        # Same mask at every timestep of the sequence...
        np.testing.assert_allclose(out, np.repeat(out[:, :1], time, axis=1), atol=1e-6)
        # ...that drops (zeros) or keeps with Keras's 1/(1-rate) scaling.
        kept = np.tanh(np.tanh(x * scale))
        assert np.all(np.isclose(out, 0.0, atol=1e-6) | np.isclose(out, kept, atol=1e-5))
        dropped = np.isclose(out[:, 0], 0.0, atol=1e-6).mean()
        assert 0.2 < dropped < 0.8, dropped
        # A mask per sample, not one for the whole batch.
        assert len({tuple(row) for row in np.isclose(out[:, 0], 0.0)}) > 1
    assert not np.allclose(first, second), "a new sequence must draw a new mask"

    # Recurrent dropout: identity recurrence, read the mask back from outputs.
    x = rng.uniform(0.2, 0.5, (batch, time, d)).astype("float32")
    layer = make_layer(0.0, rate, 3)
    layer.build(x.shape)
    set_fused_weights(layer, _probe_weights(d, recurrent=True))
    ref, _, _ = numpy_lstm(x, *_probe_weights(d, recurrent=True))
    _assert_close(layer(x, training=False), ref, 1e-5, "inference must not drop")
    out = _to_numpy(layer(x, training=True)).astype(np.float64)
    masks = (np.arctanh(np.arctanh(out[:, 1:])) - x[:, 1:]) / out[:, :-1]
    np.testing.assert_allclose(masks, np.repeat(masks[:, :1], time - 1, axis=1), atol=1e-3)
    assert np.all(np.isclose(masks, 0.0, atol=1e-3) | np.isclose(masks, scale, atol=1e-3))
    assert 0.2 < np.isclose(masks[:, 0], 0.0, atol=1e-3).mean() < 0.8
