"""VariableBPTT in a real `fit`: each epoch's own batches and step count, resume at
`initial_epoch`, and the learning rate of each batch scaled by its length (issue 18 §6)."""

import warnings

import keras
import numpy as np

from zoo.datasets import bptt_lengths, variable_bptt_dataset
from zoo.training import VariableBPTT

B, V = 2, 11
IDS = np.random.default_rng(3).integers(0, V, 2 * 120)


@keras.saving.register_keras_serializable(package="zoo_tests")
class Recorder(keras.layers.Layer):
    """Identity that keeps every batch it sees (the model runs eagerly)."""

    seen = []

    def call(self, x):
        try:
            Recorder.seen.append(keras.ops.convert_to_numpy(x))
        except Exception:  # a symbolic tensor, or a JAX tracer while the model builds
            pass
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


def recording_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input(batch_shape=(B, None), dtype="int32")
    x = keras.layers.Embedding(V, 3)(Recorder()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(V)(x))
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), run_eagerly=True)
    return model


class CountSteps(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.steps = {}

    def on_train_batch_end(self, batch, logs=None):
        self.steps[self.epoch] = batch + 1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch


def expected_batches(epoch):
    rows = IDS.reshape(B, 120)
    plan = bptt_lengths(4, epoch, 120, bptt=10)
    return [rows[:, s:s + n] for s, n in zip(plan.starts, plan.lengths)]


def test_fit_sees_each_epochs_plan_and_resumes_at_initial_epoch():
    ds, fit_kwargs = variable_bptt_dataset(IDS, B, seed=4, epochs=4, bptt=10, bucket=None)
    counter = CountSteps()
    Recorder.seen = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recording_model().fit(ds, verbose=0, callbacks=[VariableBPTT(ds), counter],
                              **fit_kwargs)
    assert not [w for w in caught if "ran out of data" in str(w.message)]
    expected = [b for e in range(4) for b in expected_batches(e)]
    assert counter.steps == {e: len(expected_batches(e)) for e in range(4)}
    assert len(set(counter.steps.values())) > 1, "the epochs have different lengths"
    assert len(Recorder.seen) == len(expected)
    for seen, want in zip(Recorder.seen, expected):
        np.testing.assert_array_equal(seen, want)

    # A second run started at epoch 2 (what a resumed run does) sees epochs 2 and 3 only.
    ds, fit_kwargs = variable_bptt_dataset(IDS, B, seed=4, epochs=4, bptt=10, bucket=None)
    Recorder.seen = []
    recording_model().fit(ds, initial_epoch=2, verbose=0, callbacks=[VariableBPTT(ds)],
                          **fit_kwargs)
    tail = expected_batches(2) + expected_batches(3)
    assert len(Recorder.seen) == len(tail)
    for seen, want in zip(Recorder.seen, tail):
        np.testing.assert_array_equal(seen, want)


@keras.saving.register_keras_serializable(package="zoo_tests")
class DenseTable(keras.layers.Layer):
    """logits = table[x], written as one_hot(x) @ table so the gradient is dense on every
    backend (an Embedding's is `tf.IndexedSlices` on TensorFlow; see test_averaging.py)."""

    def build(self, input_shape):
        self.table = self.add_weight(shape=(V, V), initializer="random_normal")

    def call(self, x):
        return keras.ops.matmul(keras.ops.one_hot(x, V), self.table)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (V,)


class RecordSteps(keras.callbacks.Callback):
    """After VariableBPTT: the rate and weights each batch starts with, and its result."""

    def on_train_begin(self, logs=None):
        self.steps = []

    def on_train_batch_begin(self, batch, logs=None):
        # Also called for the batch past an epoch's end, which never runs (no batch end).
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.pending = (lr, self.model.get_weights()[0])

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append(self.pending + (self.model.get_weights()[0],))


def numpy_step(table, x, y, lr, clip, decay):
    """One step of SGD(lr, global_clipnorm=clip, weight_decay=decay) on logits = table[x]."""
    logits = table[x].astype(np.float64)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    p[np.arange(x.shape[0])[:, None], np.arange(x.shape[1])[None, :], y] -= 1.0
    grad = np.zeros_like(table, np.float64)
    np.add.at(grad, x, p / x.size)  # mean cross-entropy over the batch's tokens
    norm = np.sqrt((grad ** 2).sum())
    clipped = grad * clip / max(norm, clip)
    return table - lr * decay * table - lr * clipped, norm > clip


def test_each_step_is_clipped_sgd_at_the_batchs_scaled_rate():
    epochs, bptt, clip, decay = 2, 10, 0.02, 0.01
    ds, fit_kwargs = variable_bptt_dataset(IDS, B, seed=9, epochs=epochs, bptt=bptt)
    keras.utils.set_random_seed(1)
    inputs = keras.Input(batch_shape=(B, None), dtype="int32")
    model = keras.Model(inputs, DenseTable()(inputs))
    model.compile(keras.optimizers.SGD(1.0, global_clipnorm=clip, weight_decay=decay),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch: 2.0 + epoch)
    record = RecordSteps()
    model.fit(ds, verbose=0, callbacks=[schedule, VariableBPTT(ds), record], **fit_kwargs)

    rows = IDS.reshape(B, 120)
    k, clipped = 0, 0
    for epoch in range(epochs):
        plan = bptt_lengths(9, epoch, 120, bptt=bptt, bucket=ds.bucket)
        for s, n, drawn in zip(plan.starts, plan.lengths, plan.lr_scales * bptt):
            lr, before, after = record.steps[k]
            assert np.isclose(lr, (2.0 + epoch) * drawn / bptt, rtol=1e-6)
            want, was_clipped = numpy_step(before, rows[:, s:s + n], rows[:, s + 1:s + 1 + n],
                                           lr, clip, decay)
            np.testing.assert_allclose(after, want, rtol=1e-5, atol=1e-6)
            clipped += was_clipped
            k += 1
    assert k == len(record.steps) and clipped > k // 2, "clipping is active"
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == 3.0


def test_bad_dataset_argument():
    import pytest

    with pytest.raises(ValueError, match=r"Argument `dataset` must have a `set_epoch` method "
                                         r"\(a dataset of variable_bptt_dataset\). "
                                         r"Received: dataset=ndarray"):
        VariableBPTT(np.zeros(3))
