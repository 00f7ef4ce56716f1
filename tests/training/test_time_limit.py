"""`zoo.training.TimeLimit`: a spent budget stops `fit` after the current batch."""

import keras
import numpy as np

from zoo.training import TimeLimit


class CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def _fit(seconds):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    count = CountBatches()
    x, y = np.zeros((8, 3), "float32"), np.zeros((8, 1), "float32")
    history = model.fit(x, y, batch_size=2, epochs=3, verbose=0,
                        callbacks=[TimeLimit(seconds), count])
    return len(history.history["loss"]), count.batches


def test_a_spent_budget_ends_the_first_epoch_after_one_batch():
    assert _fit(0.0) == (1, 1)


def test_an_ample_budget_trains_every_batch():
    assert _fit(3600.0) == (3, 12)
