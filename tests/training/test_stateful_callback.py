"""Issue 4 acceptance: stateful RNN states across fit, validation, evaluate and predict.

"Validation in the middle of an epoch leaves the training states exactly as they were;
states are zero at each epoch start." Also documents what Keras 3.15 does without the
callback (validation reads and overwrites the training states), which is why it exists.
"""

import keras
import numpy as np
import pytest

from helpers.training import B
from helpers.training import StateProbe
from helpers.training import all_zero
from helpers.training import lm_batches
from helpers.training import same
from helpers.training import tiny_lm
from zoo.training import ResetStatesCallback
from zoo.training import StatefulRNNCallback
from zoo.training import get_rnn_states
from zoo.training import reset_rnn_states
from zoo.training import set_rnn_states

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="Keras 3.15 keeps stateful RNN states through fit/evaluate only on TensorFlow "
    "(on JAX the state variables are not part of the stateless train step)",
)


class WeightsAtValidation(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_test_begin(self, logs=None):
        self.weights.append(self.model.get_weights())


@pytest.mark.parametrize("kind", ["keras", "fused"])
def test_zero_at_epoch_start_and_validation_isolated(kind):
    model = tiny_lm(kind, num_layers=2)
    x, y = lm_batches(3, seed=0)
    xv, yv = lm_batches(2, seed=1)
    probe, at_val = StateProbe(), WeightsAtValidation()
    history = model.fit(
        x, y, batch_size=B, epochs=3, shuffle=False,
        validation_data=(xv, yv), validation_freq=2,
        callbacks=[StatefulRNNCallback(), probe, at_val], verbose=0,
    )
    assert len(probe.find("epoch_begin", 0)) == 4  # 2 layers x (h, c)

    for epoch in range(3):
        assert all_zero(probe.find("epoch_begin", epoch)), f"epoch {epoch} did not start at zero"
        assert all_zero(probe.find("train_batch_begin", 0, occurrence=epoch))
        last_train = probe.find("train_batch_end", 2, occurrence=epoch)
        assert not all_zero(last_train)
        # Validation ran (epoch 1 only) and training states are back, bit for bit.
        assert same(probe.find("epoch_end", epoch), last_train)

    # The one validation (after epoch index 1) started from zero states and was stateful.
    assert probe.sequence().count(("test_batch_begin", 0)) == 1
    assert all_zero(probe.find("test_batch_begin", 0))
    assert not all_zero(probe.find("test_batch_begin", 1))
    assert same(probe.find("test_end"), probe.find("train_batch_end", 2, occurrence=1))

    # Its result is exactly a standalone evaluation from zero states with those weights.
    assert len(history.history["val_perplexity"]) == 1
    model.set_weights(at_val.weights[0])
    reset_rnn_states(model)
    logs = model.evaluate(xv, yv, batch_size=B, verbose=0, return_dict=True)
    np.testing.assert_allclose(history.history["val_perplexity"][0], logs["perplexity"], rtol=1e-6)
    np.testing.assert_allclose(history.history["val_loss"][0], logs["loss"], rtol=1e-6)


def test_without_callback_keras_reads_and_overwrites_training_states():
    model = tiny_lm("keras")
    x, y = lm_batches(3, seed=0)
    xv, yv = lm_batches(2, seed=1)
    probe = StateProbe()
    model.fit(
        x, y, batch_size=B, epochs=2, shuffle=False,
        validation_data=(xv, yv), callbacks=[probe], verbose=0,
    )
    last_train = probe.find("train_batch_end", 2, occurrence=0)
    # Validation starts from the training state ...
    assert not all_zero(last_train)
    assert same(probe.find("test_batch_begin", 0, occurrence=0), last_train)
    # ... overwrites it, and the next epoch starts from the validation state.
    after_validation = probe.find("epoch_end", 0)
    assert not same(after_validation, last_train)
    assert same(probe.find("epoch_begin", 1), after_validation)
    assert not all_zero(probe.find("epoch_begin", 1))


def _fit_slices(with_validation, callback, epochs, steps_per_epoch):
    import tensorflow as tf

    x, y = lm_batches(4, seed=0)
    xv, yv = lm_batches(2, seed=1)
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(B, drop_remainder=True).repeat()
    valid = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(B, drop_remainder=True)
    model = tiny_lm("keras")
    model.fit(
        train, epochs=epochs, steps_per_epoch=steps_per_epoch, shuffle=False,
        validation_data=valid if with_validation else None,
        callbacks=[callback] if callback else [], verbose=0,
    )
    return model.get_weights(), get_rnn_states(model)


def test_validation_in_the_middle_of_a_data_pass_changes_nothing():
    # One pass over 4 batches, trained as 1 epoch of 4 steps without validation, or as
    # 2 epochs of 2 steps with validation in between (states carried across epochs).
    weights, states = _fit_slices(False, StatefulRNNCallback(reset_on_epoch_begin=False), 1, 4)
    assert not all_zero(states)
    cb = StatefulRNNCallback(reset_on_epoch_begin=False)
    weights_val, states_val = _fit_slices(True, cb, 2, 2)
    assert same(weights_val, weights)
    assert same(states_val, states)
    # Without the callback the validation pass leaks into training.
    weights_leak, _ = _fit_slices(True, None, 2, 2)
    assert not same(weights_leak, weights)


def test_standalone_evaluate_and_predict_start_from_zero():
    model = tiny_lm("keras")
    x, y = lm_batches(2, seed=3)
    reset_rnn_states(model)
    from_zero = model.evaluate(x, y, batch_size=B, verbose=0, return_dict=True)
    reset_rnn_states(model)
    pred_zero = model.predict(x, batch_size=B, verbose=0)

    rng = np.random.default_rng(0)
    noisy = [rng.normal(size=s.shape).astype("float32") for s in get_rnn_states(model)]
    set_rnn_states(model, noisy)
    from_noise = model.evaluate(x, y, batch_size=B, verbose=0, return_dict=True)
    assert abs(from_noise["loss"] - from_zero["loss"]) > 1e-4  # the start state matters

    set_rnn_states(model, noisy)
    logs = model.evaluate(
        x, y, batch_size=B, verbose=0, return_dict=True, callbacks=[StatefulRNNCallback()]
    )
    np.testing.assert_allclose(logs["loss"], from_zero["loss"], rtol=1e-6)
    set_rnn_states(model, noisy)
    pred = model.predict(x, batch_size=B, verbose=0, callbacks=[ResetStatesCallback()])
    np.testing.assert_allclose(pred, pred_zero, rtol=1e-5, atol=1e-6)


def test_callback_config_and_errors():
    cb = StatefulRNNCallback(reset_on_epoch_begin=False)
    assert StatefulRNNCallback(**cb.get_config()).reset_on_epoch_begin is False
    assert ResetStatesCallback is StatefulRNNCallback
    with pytest.raises(ValueError, match="reset_on_epoch_begin"):
        StatefulRNNCallback(reset_on_epoch_begin="yes")
