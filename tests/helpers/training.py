"""Tiny stateful language models and a state-recording callback for the training tests."""

import keras
import numpy as np

from zoo.training import get_rnn_states

B, T, V, E, U = 4, 5, 23, 6, 8  # batch, steps, vocab, embedding, units


def rnn_layer(kind, **kwargs):
    """A stateful, sequence-returning LSTM of `kind`: "keras", "fused" or "gate"."""
    kwargs.setdefault("return_sequences", True)
    kwargs.setdefault("stateful", True)
    if kind == "keras":
        return keras.layers.LSTM(U, **kwargs)
    from zoo.layers import FusedLSTM
    from zoo.layers import GateLSTMCell

    if kind == "fused":
        return FusedLSTM(U, **kwargs)
    if kind == "gate":
        return keras.layers.RNN(GateLSTMCell(U), **kwargs)
    raise ValueError(kind)


def tiny_lm(kind="keras", seed=0, num_layers=1, lr=0.5, loss=None, metrics=None):
    """Embedding → stateful LSTM(s) → Dense(V) logits, compiled with SGD."""
    from zoo.training import Perplexity

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(batch_shape=(B, T), dtype="int32")
    x = keras.layers.Embedding(V, E)(inputs)
    for _ in range(num_layers):
        x = rnn_layer(kind)(x)
    outputs = keras.layers.Dense(V)(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.SGD(lr, global_clipnorm=5.0),
        loss=loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=metrics if metrics is not None else [Perplexity()],
    )
    return model


def lm_batches(n_batches, seed):
    """A fixed token stream cut into `n_batches` stateful batches (x, y), shape [n*B, T].

    Row r of batch k continues row r of batch k-1, as in the PTB tutorial's reader,
    so the arrays are ordered batch after batch and must be fed with shuffle=False.
    """
    rng = np.random.default_rng(seed)
    stream = rng.integers(0, V, size=(B, n_batches * T + 1))
    x = np.concatenate([stream[:, k * T : (k + 1) * T] for k in range(n_batches)])
    y = np.concatenate([stream[:, k * T + 1 : (k + 1) * T + 1] for k in range(n_batches)])
    return x.astype("int32"), y.astype("int32")


class StateProbe(keras.callbacks.Callback):
    """Records copies of all RNN states at the hooks that matter, as (event, index, states)."""

    def __init__(self):
        super().__init__()
        self.events = []

    def _record(self, event, index):
        self.events.append((event, index, get_rnn_states(self.model)))

    def on_epoch_begin(self, epoch, logs=None):
        self._record("epoch_begin", epoch)

    def on_train_batch_begin(self, batch, logs=None):
        self._record("train_batch_begin", batch)

    def on_train_batch_end(self, batch, logs=None):
        self._record("train_batch_end", batch)

    def on_test_batch_begin(self, batch, logs=None):
        self._record("test_batch_begin", batch)

    def on_test_end(self, logs=None):
        self._record("test_end", None)

    def on_epoch_end(self, epoch, logs=None):
        self._record("epoch_end", epoch)

    def find(self, event, index=None, occurrence=0):
        hits = [s for e, i, s in self.events if e == event and (index is None or i == index)]
        return hits[occurrence]

    def sequence(self):
        return [(e, i) for e, i, _ in self.events]


def all_zero(states):
    return all(not np.any(s) for s in states)


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
