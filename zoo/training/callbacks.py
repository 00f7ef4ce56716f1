"""Callbacks that make `model.fit` train stateful LSTM language models right.

- `StatefulRNNCallback` (alias `ResetStatesCallback`): zero states at every epoch start;
  validation runs from zero states and leaves the training states untouched.
- `StepDecay`: per-step learning-rate decay (the text8 recipe), resumable.
- `WordsPerSecond`: training throughput in the progress bar and the history.
- `TimeLimit`: stops `fit` cleanly once a wall-time budget is spent.

The checkpoint and backup callbacks live in `zoo.training.backup` (`AtomicBackupAndRestore`)
and `zoo.training.atomic` (`AtomicModelCheckpoint`, `atomic_save`).
"""

import time

import keras

from zoo import checks
from zoo.training.schedules import step_decay
from zoo.training.states import (
    _sync_backend_state,
    get_rnn_states,
    reset_rnn_states,
    set_rnn_states,
)


@keras.saving.register_keras_serializable(package="zoo")
class StatefulRNNCallback(keras.callbacks.Callback):
    """Manages the states of every stateful RNN of the model across fit/evaluate/predict.

    In Keras 3 nothing resets a stateful RNN: each epoch continues from the last state
    of the previous one, and the validation pass of `fit` both *reads* the training
    state (it starts from it) and *overwrites* it (training continues from the last
    validation state). This callback restores the textbook behaviour of the TensorFlow
    PTB tutorial:

    - at every epoch start (optional), all states are set to zero;
    - when `fit` validates, the training states are snapshotted, validation starts from
      zero states, and the snapshot is written back when validation ends, so
      validation neither reads nor overwrites the training states;
    - a standalone `evaluate()` or `predict()` given this callback starts from zero states.

    Stateful RNNs are found anew at each hook, anywhere in the model (nested models,
    `Bidirectional`, wrappers, custom layers); see `find_stateful_rnn_layers`.

    Args:
        reset_on_epoch_begin: bool, zero the states at the start of every epoch. Set it
            to `False` when one `fit` "epoch" is only a slice of a pass over the data
            (`steps_per_epoch` over a repeated dataset, as in the text8 recipe), so the
            states run on across epochs. Defaults to `True`.

    Example:
    ```python
    model.fit(
        train_ds,
        validation_data=valid_ds,
        epochs=13,
        shuffle=False,
        callbacks=[StatefulRNNCallback()],
    )
    test_logs = model.evaluate(test_ds, callbacks=[StatefulRNNCallback()])
    ```
    """

    def __init__(self, reset_on_epoch_begin=True):
        super().__init__()
        self.reset_on_epoch_begin = checks.boolean("reset_on_epoch_begin", reset_on_epoch_begin)
        self._in_fit = False
        self._snapshot = None

    def on_train_begin(self, logs=None):
        self._in_fit = True
        self._snapshot = None

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._snapshot = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.reset_on_epoch_begin:
            reset_rnn_states(self.model)

    def on_test_begin(self, logs=None):
        if self._in_fit:
            self._snapshot = get_rnn_states(self.model)
        reset_rnn_states(self.model)

    def on_test_end(self, logs=None):
        if self._in_fit and self._snapshot is not None:
            set_rnn_states(self.model, self._snapshot)
            self._snapshot = None

    def on_predict_begin(self, logs=None):
        reset_rnn_states(self.model)

    def get_config(self):
        return {"reset_on_epoch_begin": self.reset_on_epoch_begin}


ResetStatesCallback = StatefulRNNCallback


@keras.saving.register_keras_serializable(package="zoo")
class StepDecay(keras.callbacks.Callback):
    """Per-step learning-rate decay: `initial_lr * factor ** (step // every)`.

    The text8 notebook's recipe (SGD at 10, ×0.1 every 5,000 steps). `step` is the
    optimizer's own step counter, `optimizer.iterations`, read at each epoch start
    and advanced by the batch index within the epoch, so the rate is a pure function
    of the training step: a run resumed by `keras.callbacks.BackupAndRestore` (which
    restores `iterations`) continues on the same schedule, and no extra host sync
    happens per batch. The rate is written only when it changes. The current rate is
    added to the epoch logs as `learning_rate`.

    Args:
        initial_lr: float, the learning rate at step 0.
        factor: float, the multiplier applied every `every` steps. Defaults to `0.1`.
        every: int, the number of optimizer steps between two decays. Defaults to `5000`.

    Example:
    ```python
    model.compile(optimizer=keras.optimizers.SGD(10.0, global_clipnorm=1.25), ...)
    model.fit(ds, steps_per_epoch=1000, epochs=7, callbacks=[StepDecay(10.0, 0.1, 5000)])
    ```
    """

    def __init__(self, initial_lr, factor=0.1, every=5000):
        super().__init__()
        self._schedule = step_decay(initial_lr, factor, every)  # checks the arguments
        self.initial_lr = float(initial_lr)
        self.factor = float(factor)
        self.every = int(every)
        self._epoch_start_step = 0
        self._current = None

    def rate(self, step):
        """The learning rate at optimizer step `step` (0-based): `step_decay`'s formula."""
        return self._schedule(step)

    def on_epoch_begin(self, epoch, logs=None):
        _sync_backend_state(self.model)
        self._epoch_start_step = int(self.model.optimizer.iterations.numpy())
        self._current = None

    def on_train_batch_begin(self, batch, logs=None):
        # With steps_per_execution > 1 Keras passes the first step index of the group.
        value = self.rate(self._epoch_start_step + batch)
        if value != self._current:
            _sync_backend_state(self.model)
            # Raises TypeError if the optimizer was built with a LearningRateSchedule.
            self.model.optimizer.learning_rate = value
            self._current = value

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._current is not None:
            logs["learning_rate"] = float(self._current)

    def get_config(self):
        return {"initial_lr": self.initial_lr, "factor": self.factor, "every": self.every}


@keras.saving.register_keras_serializable(package="zoo")
class WordsPerSecond(keras.callbacks.Callback):
    """Training throughput, `words_per_sec`, in the progress bar and the history.

    Adds `words_per_sec` to every training batch's logs (the running rate of the
    epoch so far, which Keras's progress bar prints) and to the epoch logs (the rate
    of the whole epoch's training, validation excluded), hence to `History`.

    The first `warmup_batches` batches of a `fit` call include tracing and compiling:
    they are left out of the timing when the epoch has batches after them.

    Put it before any callback that reads the logs it writes (Keras appends its own
    `History` and progress bar last, so they see it).

    Args:
        tokens_per_batch: int, tokens consumed by one training step, usually
            `batch_size * num_steps`.
        warmup_batches: int, batches at the start of `fit` excluded from the timing.
            Defaults to `1`.

    Example:
    ```python
    model.fit(ds, epochs=2, callbacks=[WordsPerSecond(batch_size * num_steps)])
    history.history["words_per_sec"]
    ```
    """

    def __init__(self, tokens_per_batch, warmup_batches=1):
        super().__init__()
        self.tokens_per_batch = checks.positive_int("tokens_per_batch", tokens_per_batch)
        self.warmup_batches = checks.non_negative_int("warmup_batches", warmup_batches)
        self.history = []

    def on_train_begin(self, logs=None):
        self._warmup_left = self.warmup_batches
        self.history = []

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._epoch_steps = 0  # all steps of the epoch
        self._timed_start = self._epoch_start  # start of the timed (post-warm-up) span
        self._timed_steps = 0
        self._last_end = None
        self._last_batch = -1

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        steps = batch - self._last_batch  # > 1 with steps_per_execution
        self._last_batch = batch
        self._epoch_steps += steps
        self._last_end = now
        if self._warmup_left > 0:
            self._warmup_left = max(self._warmup_left - steps, 0)
            self._timed_start, self._timed_steps = now, 0
        else:
            self._timed_steps += steps
        if logs is not None:
            logs["words_per_sec"] = self._rate()

    def _rate(self):
        if self._timed_steps > 0:
            steps, start = self._timed_steps, self._timed_start
        else:  # nothing after warm-up yet: count the whole epoch
            steps, start = self._epoch_steps, self._epoch_start
        elapsed = (self._last_end or time.perf_counter()) - start
        return steps * self.tokens_per_batch / max(elapsed, 1e-9)

    def on_epoch_end(self, epoch, logs=None):
        if self._last_end is None:
            return
        rate = self._rate()
        self.history.append(rate)
        if logs is not None:
            logs["words_per_sec"] = rate

    def get_config(self):
        return {"tokens_per_batch": self.tokens_per_batch, "warmup_batches": self.warmup_batches}


class TimeLimit(keras.callbacks.Callback):
    """Stops training cleanly (after the current batch) once `seconds` have passed.

    The epoch still ends normally, so validation, the best checkpoint and the
    CSV log are written.

    Args:
        seconds: float, the wall-time budget of `fit`, counted from `on_train_begin`.
    """

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self._start > self.seconds:
            self.model.stop_training = True
