"""WordsPerSecond: exact rates under a fake clock; present in fit's batch logs and history."""

import keras
import numpy as np
import pytest

import zoo.training.callbacks as callbacks_module
from zoo.training import WordsPerSecond


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_rates_under_a_fake_clock(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(callbacks_module.time, "perf_counter", clock)
    cb = WordsPerSecond(tokens_per_batch=400, warmup_batches=1)
    cb.on_train_begin()
    logs_seen = []

    cb.on_epoch_begin(0)
    clock.now += 10.0  # batch 0: tracing, excluded
    logs = {}
    cb.on_train_batch_end(0, logs)
    logs_seen.append(logs["words_per_sec"])
    for b in (1, 2, 3):
        clock.now += 2.0
        logs = {}
        cb.on_train_batch_end(b, logs)
        logs_seen.append(logs["words_per_sec"])
    clock.now += 50.0  # validation time is not counted
    epoch_logs = {}
    cb.on_epoch_end(0, epoch_logs)
    # Batch 0 alone: 400 tokens / 10 s; then 400 tokens per 2 s after warm-up.
    assert logs_seen == pytest.approx([40.0, 200.0, 200.0, 200.0])
    assert epoch_logs["words_per_sec"] == pytest.approx(200.0)

    cb.on_epoch_begin(1)  # no warm-up in later epochs
    clock.now += 4.0
    cb.on_train_batch_end(1, {})  # steps_per_execution=2: batches 0 and 1 in one call
    clock.now += 4.0
    cb.on_train_batch_end(3, {})
    epoch_logs = {}
    cb.on_epoch_end(1, epoch_logs)
    assert epoch_logs["words_per_sec"] == pytest.approx(4 * 400 / 8.0)
    assert cb.history == pytest.approx([200.0, 200.0])


def test_in_fit_history_and_batch_logs():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,), dtype="int32"), keras.layers.Embedding(11, 4),
                              keras.layers.Dense(11)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).integers(0, 11, size=(32, 5))

    class BatchLogs(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.rates = []

        def on_train_batch_end(self, batch, logs=None):
            self.rates.append(logs["words_per_sec"])

    seen = BatchLogs()
    history = model.fit(x, x, batch_size=8, epochs=2, verbose=0,
                        callbacks=[WordsPerSecond(8 * 5), seen]).history
    assert len(history["words_per_sec"]) == 2
    assert all(r > 0 and np.isfinite(r) for r in history["words_per_sec"])
    assert len(seen.rates) == 8 and all(r > 0 for r in seen.rates)


def test_config_and_errors():
    cb = WordsPerSecond(700, warmup_batches=0)
    config = WordsPerSecond(**cb.get_config()).get_config()
    assert config == {"tokens_per_batch": 700, "warmup_batches": 0}
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="tokens_per_batch"):
            WordsPerSecond(bad)
    with pytest.raises(ValueError, match="warmup_batches"):
        WordsPerSecond(10, warmup_batches=-1)
