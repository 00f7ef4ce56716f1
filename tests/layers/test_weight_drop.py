"""Weight drop (`weight_dropout`, AWD-LSTM's DropConnect on the recurrent kernel).

Checked as salesforce/awd-lstm-lm's `weight_drop.py` behaves, against
independent computations: the mask is read back from the zero pattern of the
raw recurrent kernel's gradient, then the whole sequence is recomputed in
numpy with `recurrent_kernel * mask / (1 - p)` and, with the same masked
kernel set as the plain weight, by the layer without weight drop (whose
gradient, masked and scaled, must be the raw kernel's).
"""

import numpy as np
import pytest

import keras

from helpers.layers import B
from helpers.layers import F
from helpers.layers import T
from helpers.layers import U
from helpers.layers import numpy_lstm
from helpers.layers import random_fused_weights
from helpers.layers import value_and_gradients
from zoo.layers import FusedLSTM
from zoo.layers import FusedLSTMCell
from zoo.layers import GateLSTMCell
from zoo.layers import _lstm_sequence
from zoo.layers import fused_to_gate_weights
from zoo.layers import gate_to_fused_weights
from zoo.layers.factory import lstm_layer

P = 0.5
KINDS = ("fused", "fused_cell", "gate")


def make(kind, **kwargs):
    """A sequence-returning LSTM layer of `kind` (FusedLSTM or an RNN of a cell)."""
    if kind == "fused":
        return FusedLSTM(U, return_sequences=True, **kwargs)
    cell = FusedLSTMCell if kind == "fused_cell" else GateLSTMCell
    return keras.layers.RNN(cell(U, **kwargs), return_sequences=True)


def set_fused(layer, weights):
    """Builds `layer` and sets `[kernel, recurrent_kernel, bias]` (Keras's layout)."""
    layer.build((B, T, F))
    gate = isinstance(layer.cell, GateLSTMCell)
    layer.set_weights(fused_to_gate_weights(weights) if gate else weights)
    return layer


def fused_grads(layer, weight_grads):
    """The weights' gradients in the fused `[kernel, recurrent_kernel, bias]` layout."""
    if isinstance(layer.cell, GateLSTMCell):
        return gate_to_fused_weights(weight_grads)
    return list(weight_grads)


@pytest.fixture(params=["fused", "fused_loop", "fused_generic", "fused_cell", "gate"])
def kind_and_args(request, monkeypatch):
    """Every path weight drop goes through: FusedLSTM's unrolled and looped
    hand-written backward pass, its generic loop (autodiff), and both cells."""
    kind, kwargs = request.param, {}
    if kind == "fused_loop":
        monkeypatch.setattr(_lstm_sequence, "MAX_UNROLL", 0)
    if kind == "fused_generic":  # not keras.activations.tanh: the generic loop
        kwargs["activation"] = lambda v: keras.ops.tanh(v)
    return ("fused" if kind in ("fused_loop", "fused_generic") else kind), kwargs


def test_one_mask_for_the_call_and_the_raw_kernel_gradient(kind_and_args):
    kind, kwargs = kind_and_args
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, F)).astype("float32")
    w_out = rng.normal(size=(B, T, U)).astype("float32")
    kernel, recurrent_kernel, bias = weights = random_fused_weights(F, U, seed=1)
    layer = set_fused(make(kind, weight_dropout=P, seed=3, **kwargs), weights)
    out, grads = value_and_gradients(layer, x, w_out, training=True)
    raw_grads = fused_grads(layer, grads[1:])

    # The mask: where the raw kernel gets no gradient (fastai #2591: weight
    # drop that is silently inert would leave no zeros here).
    mask = (raw_grads[1] != 0).astype("float32")
    assert 0.25 < 1 - mask.mean() < 0.75, mask.mean()
    dropped = recurrent_kernel * mask / (1 - P)
    # That one masked kernel gives every timestep's output (to 1e-5).
    np.testing.assert_allclose(out, numpy_lstm(x, kernel, dropped, bias)[0], atol=1e-5)

    # The layer without weight drop, given the masked kernel as its weight:
    # the same outputs and gradients, and the raw kernel's gradient is its
    # gradient masked and scaled.
    plain = set_fused(make(kind, **kwargs), [kernel, dropped, bias])
    ref_out, ref_grads = value_and_gradients(plain, x, w_out)
    ref_raw = fused_grads(plain, ref_grads[1:])
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    np.testing.assert_allclose(grads[0], ref_grads[0], atol=1e-5)  # d/dx
    for got, want in ((raw_grads[0], ref_raw[0]), (raw_grads[2], ref_raw[2])):
        np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(raw_grads[1], ref_raw[1] * mask / (1 - P), atol=1e-5)
    assert np.abs(ref_raw[1][mask == 0]).max() > 0  # the zeros come from the mask


@pytest.mark.parametrize("kind", KINDS)
def test_training_only_new_mask_each_call_kernel_never_written(kind):
    x = np.random.default_rng(4).normal(size=(B, T, F)).astype("float32")
    weights = random_fused_weights(F, U, seed=4)
    layer = set_fused(make(kind, weight_dropout=P, seed=5), weights)
    before = [w.copy() for w in layer.get_weights()]
    first = keras.ops.convert_to_numpy(layer(x, training=True))
    second = keras.ops.convert_to_numpy(layer(x, training=True))
    assert np.abs(first - second).max() > 1e-3, "two calls must draw two masks"
    # Inference: the raw kernel, exactly the layer without weight drop.
    clean = numpy_lstm(x, *weights)[0]
    np.testing.assert_allclose(layer(x, training=False), clean, atol=1e-5)
    np.testing.assert_allclose(layer(x), clean, atol=1e-5)
    assert np.abs(first - clean).max() > 1e-3
    for b, a in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_same_seed_same_masks_in_every_kind():
    """FusedLSTM, RNN(FusedLSTMCell) and RNN(GateLSTMCell) drop the same
    weights (and the same dropout units) call after call at equal seed."""
    x = np.random.default_rng(6).normal(size=(B, T, F)).astype("float32")
    weights = random_fused_weights(F, U, seed=6)
    args = dict(weight_dropout=0.4, dropout=0.2, recurrent_dropout=0.3, seed=9)
    layers = [set_fused(make(kind, **args), weights) for kind in KINDS]
    twin = set_fused(make("fused", **args), weights)
    for _ in range(2):
        outs = [keras.ops.convert_to_numpy(layer(x, training=True)) for layer in layers]
        for out in outs[1:]:
            np.testing.assert_allclose(out, outs[0], atol=1e-5)
        np.testing.assert_allclose(twin(x, training=True), outs[0], atol=1e-6)
    only_wd = set_fused(make("fused", weight_dropout=0.4, seed=9), weights)
    assert np.abs(keras.ops.convert_to_numpy(only_wd(x, training=True))
                  - numpy_lstm(x, *weights)[0]).max() > 1e-3


def test_fit_changes_weights_only_through_the_optimizer():
    """SGD with learning rate 0: fit leaves every weight exactly as it was,
    while the mask generator (a variable, saved with the model) moves on."""
    x = np.random.default_rng(7).normal(size=(2 * B, T, F)).astype("float32")
    y = np.random.default_rng(8).normal(size=(2 * B, T, U)).astype("float32")
    layer = FusedLSTM(U, return_sequences=True, weight_dropout=P, seed=1)
    model = keras.Sequential([keras.Input((T, F)), layer])
    before = [w.copy() for w in model.get_weights()]
    generator = layer.cell.seed_generator.state
    assert any(v is generator for v in model.non_trainable_variables)
    seed_before = keras.ops.convert_to_numpy(generator).copy()
    model.compile(keras.optimizers.SGD(0.0), "mse")
    history = model.fit(x, y, batch_size=B, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for b, a in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(keras.ops.convert_to_numpy(generator), seed_before)


@pytest.mark.parametrize("value", [1.0, -0.1, 1.5, "half", True])
@pytest.mark.parametrize(
    "make_layer",
    [lambda p: FusedLSTM(U, weight_dropout=p), lambda p: FusedLSTMCell(U, weight_dropout=p),
     lambda p: GateLSTMCell(U, weight_dropout=p), lambda p: lstm_layer("gate", U, weight_dropout=p),
     lambda p: lstm_layer("keras", U, weight_dropout=p)],
    ids=["FusedLSTM", "FusedLSTMCell", "GateLSTMCell", "factory_gate", "factory_keras"],
)
def test_bad_rates_raise_keras_worded_error(make_layer, value):
    with pytest.raises(ValueError) as info:
        make_layer(value)
    assert str(info.value) == (
        f"Argument `weight_dropout` must be a float in [0, 1). Received: weight_dropout={value!r}"
    )


def test_factory_passes_weight_dropout_and_refuses_it_for_keras():
    for kind in ("fused", "gate"):
        layer = lstm_layer(kind, U, weight_dropout=0.3)
        assert layer.cell.weight_dropout == 0.3
        assert layer.cell.get_config()["weight_dropout"] == 0.3
    assert type(lstm_layer("keras", U, weight_dropout=0.0)) is keras.layers.LSTM
    with pytest.raises(ValueError) as info:
        lstm_layer("keras", U, weight_dropout=0.5)
    assert str(info.value) == (
        "Argument `weight_dropout` must be 0 with cell='keras' (keras.layers.LSTM has "
        "no weight drop; use cell='fused' or 'gate'). Received: weight_dropout=0.5"
    )


def test_config_round_trip():
    layer = FusedLSTM(U, weight_dropout=0.25, seed=2)
    config = layer.get_config()
    assert config["weight_dropout"] == 0.25 and layer.weight_dropout == 0.25
    assert FusedLSTM.from_config(config).get_config() == config
    for cell_cls in (FusedLSTMCell, GateLSTMCell):
        config = cell_cls(U, weight_dropout=0.25).get_config()
        assert config["weight_dropout"] == 0.25
        assert cell_cls.from_config(config).get_config() == config
