"""Callbacks that make `model.fit` train stateful LSTM language models right.

- `StatefulRNNCallback` (alias `ResetStatesCallback`): zero states at every epoch start;
  validation runs from zero states and leaves the training states untouched.
- `StepDecay`: per-step learning-rate decay (the text8 recipe), resumable.
- `WordsPerSecond`: training throughput in the progress bar and the history.
- `AtomicBackupAndRestore`: `keras.callbacks.BackupAndRestore` whose backup (weights,
  optimizer, RNN states, epoch, settings) is one atomically replaced unit, kept after `fit`.
- `AtomicModelCheckpoint`: `keras.callbacks.ModelCheckpoint` that never leaves half a file.
- `atomic_save(model, path)`: `model.save` / `save_weights` to a temporary name, then
  `os.replace`.
"""

import json
import os
import time

import keras
import numpy as np

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
        if not isinstance(reset_on_epoch_begin, bool):
            raise ValueError(
                "reset_on_epoch_begin must be a bool, got "
                f"{type(reset_on_epoch_begin).__name__}"
            )
        self.reset_on_epoch_begin = reset_on_epoch_begin
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
        if not isinstance(initial_lr, (int, float)) or initial_lr <= 0:
            raise ValueError(f"initial_lr must be a positive number, got {initial_lr!r}")
        if not isinstance(factor, (int, float)) or factor <= 0:
            raise ValueError(f"factor must be a positive number, got {factor!r}")
        if isinstance(every, bool) or not isinstance(every, int) or every <= 0:
            raise ValueError(f"every must be a positive int, got {every!r}")
        self.initial_lr = float(initial_lr)
        self.factor = float(factor)
        self.every = every
        self._epoch_start_step = 0
        self._current = None

    def rate(self, step):
        """The learning rate at optimizer step `step` (0-based)."""
        return self.initial_lr * self.factor ** (int(step) // self.every)

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
        if isinstance(tokens_per_batch, bool) or not isinstance(tokens_per_batch, int) or (
            tokens_per_batch <= 0
        ):
            raise ValueError(f"tokens_per_batch must be a positive int, got {tokens_per_batch!r}")
        if isinstance(warmup_batches, bool) or not isinstance(warmup_batches, int) or (
            warmup_batches < 0
        ):
            raise ValueError(f"warmup_batches must be a non-negative int, got {warmup_batches!r}")
        self.tokens_per_batch = tokens_per_batch
        self.warmup_batches = warmup_batches
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


# --------------------------------------------------------------------------- checkpoints


def _fsync(path):
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _tmp_path(path):
    """A temporary name beside `path` that keeps its extension (Keras checks it)."""
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, f".tmp-{name}")


def atomic_save(model, path, weights_only=False):
    """Saves `model` (or its weights) to `path` so that `path` is never half written.

    The file is written to a temporary name in the same folder, flushed to disk and
    renamed over `path` with `os.replace`: a kill at any instant leaves either the old
    file or the new one.

    Args:
        model: `keras.Model`, the model to save.
        path: str, a `.keras` file (or a `.weights.h5` file with `weights_only=True`).
        weights_only: bool, call `save_weights` instead of `save`. Defaults to `False`.
    """
    tmp = _tmp_path(path)
    if weights_only:
        model.save_weights(tmp, overwrite=True)
    else:
        model.save(tmp, overwrite=True)
    _fsync(tmp)
    os.replace(tmp, path)


@keras.saving.register_keras_serializable(package="zoo")
class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """`keras.callbacks.ModelCheckpoint` that writes to a temporary name and renames.

    Keras's callback writes straight into `filepath`, so a kill during the write leaves a
    truncated checkpoint (and, with `save_best_only`, the previous best is lost with it).
    This subclass lets Keras decide when to save, saves to `.tmp-NAME` beside `filepath`,
    and `os.replace`s it over `filepath` at the end of the epoch. A leftover temporary
    file from a killed run is deleted when training starts. `filepath` must be a fixed
    name (no `{epoch}` placeholders) and `save_freq` `"epoch"`.

    Args:
        filepath: str, the checkpoint (`.keras`, or `.weights.h5` with
            `save_weights_only=True`).
        **kwargs: as `keras.callbacks.ModelCheckpoint` (`monitor`, `mode`,
            `save_best_only`, `initial_value_threshold`, ...).

    Example:
    ```python
    model.fit(ds, validation_data=valid_ds, epochs=4, callbacks=[
        AtomicModelCheckpoint("run/best.keras", monitor="val_loss", save_best_only=True)])
    ```
    """

    def __init__(self, filepath, **kwargs):
        filepath = os.fspath(filepath)
        if "{" in filepath:
            raise ValueError(f"Argument `filepath` must be a fixed file name. "
                             f"Received: filepath={filepath}")
        if kwargs.get("save_freq", "epoch") != "epoch":
            raise ValueError(f"Argument `save_freq` must be 'epoch'. "
                             f"Received: save_freq={kwargs['save_freq']}")
        self.final_path = filepath
        super().__init__(_tmp_path(filepath), **kwargs)

    def on_train_begin(self, logs=None):
        if os.path.exists(self.filepath):
            os.remove(self.filepath)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if os.path.exists(self.filepath):
            _fsync(self.filepath)
            os.replace(self.filepath, self.final_path)

    def get_config(self):
        return {"filepath": self.final_path, "monitor": self.monitor,
                "save_best_only": self.save_best_only,
                "save_weights_only": self.save_weights_only, "verbose": self.verbose}


class BackupError(ValueError):
    """A backup that cannot be used: unreadable, corrupt, or from other settings."""


BACKUP_STATE_FILE = "backup.json"


def read_backup(backup_dir):
    """The commit record of the backup in `backup_dir`, or None when there is none.

    Returns:
        None, or a dict with `epoch` (epochs finished), `weights` and `states` (file names
        in `backup_dir`) and `settings` (what the run was started with, or None).

    Raises:
        BackupError: the record or a file it names is missing or unreadable; the message
            names the file.
    """
    path = os.path.join(backup_dir, BACKUP_STATE_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            state = json.load(f)
        epoch = state["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch {epoch!r}")
        files = [os.path.join(backup_dir, state[k]) for k in ("weights", "states")]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BackupError(f"backup {path} is corrupt ({type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''})") from None
    for file in files:
        if not os.path.isfile(file):
            raise BackupError(f"backup {path} names {file}, which is missing")
    return state


@keras.saving.register_keras_serializable(package="zoo")
class AtomicBackupAndRestore(keras.callbacks.Callback):
    """Backs up the training state at every epoch end as one unit; restores it in `fit`.

    Like `keras.callbacks.BackupAndRestore`, but built so that a kill at any instant
    loses at most the epoch in progress:

    - The weights (with the optimizer's variables and step counter), the states of every
      stateful RNN (`get_rnn_states`) and of every `SeedGenerator` (dropout masks; neither
      is in `save_weights`) and the epoch number are one unit: the two files
      are written under epoch-numbered names, each to a temporary name renamed into
      place, and then `backup.json` (the epoch, the two file names and `settings`) is
      replaced atomically. That rename is the commit: before it the previous backup is
      whole, after it the new one. Files of older epochs are deleted after the commit.
      (Keras's callback writes the weights and then the epoch number in place, so a
      kill in between trains an epoch twice, and a kill during a write corrupts it;
      `double_checkpoint=True` keeps a copy but copies in place too.)
    - The backup is kept when `fit` ends: delete it (`delete()`) once everything that
      depends on the weights has been written.
    - When `fit` starts and a backup exists, the weights, optimizer state and RNN states
      are restored and `fit` continues after the backed-up epoch. A backup written with
      other `settings`, or one that cannot be read, raises `BackupError` naming the file.

    Put it after every callback whose end-of-epoch work must be part of the epoch
    (loggers, best-model checkpoints): they then run before the commit.

    Args:
        backup_dir: str, a folder used by this callback only.
        settings: JSON-able or None, what the run was started with (config, data, seed);
            stored with the backup and compared on restore. Defaults to `None` (no check).

    Example:
    ```python
    backup = AtomicBackupAndRestore("run/backup", settings={"hidden_size": 200})
    model.fit(ds, epochs=13, callbacks=[StatefulRNNCallback(), backup])
    model.save("run/final.keras")
    backup.delete()
    ```
    """

    def __init__(self, backup_dir, settings=None):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"Argument `backup_dir` must be a folder name. "
                             f"Received: backup_dir={backup_dir!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.settings = json.loads(json.dumps(settings)) if settings is not None else None
        self.restored_epoch = 0

    @property
    def state_path(self):
        return os.path.join(self.backup_dir, BACKUP_STATE_FILE)

    def check(self):
        """The backup's record (see `read_backup`) after checking its settings, or None.

        Raises:
            BackupError: the backup is corrupt or was written with other settings.
        """
        state = read_backup(self.backup_dir)
        if state is None or self.settings is None:
            return state
        saved = state.get("settings")
        if saved != self.settings:
            raise BackupError(f"backup {self.state_path} is from a run with other settings "
                              f"({describe_changes(saved, self.settings)})")
        return state

    def on_train_begin(self, logs=None):
        self.restored_epoch = 0
        state = self.check()
        if state is None:
            return
        weights = os.path.join(self.backup_dir, state["weights"])
        states = os.path.join(self.backup_dir, state["states"])
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(weights)
        except Exception as e:
            raise BackupError(f"backup {weights} is corrupt ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''})") from None
        try:
            with np.load(states) as data:
                values = [data[f"s{i}"] for i in range(len(data.files))
                          if f"s{i}" in data.files]
                seeds = [data[f"r{i}"] for i in range(len(data.files)) if f"r{i}" in data.files]
            set_rnn_states(self.model, values)
            variables = _seed_variables(self.model)
            if len(seeds) != len(variables):
                raise ValueError(f"{len(seeds)} random-seed states for {len(variables)} "
                                 "seed generators")
            for v, value in zip(variables, seeds):
                v.assign(value)
        except Exception as e:
            raise BackupError(f"backup {states} is corrupt ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''})") from None
        self.restored_epoch = state["epoch"]
        # How keras.callbacks.BackupAndRestore tells `fit` where to continue.
        self.model._initial_epoch = state["epoch"]

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch + 1)

    def save(self, epoch):
        """Commits a backup of the model's current state as `epoch` finished epochs."""
        os.makedirs(self.backup_dir, exist_ok=True)
        weights = f"epoch-{epoch}.weights.h5"
        states = f"epoch-{epoch}.states.npz"
        atomic_save(self.model, os.path.join(self.backup_dir, weights), weights_only=True)
        tmp = os.path.join(self.backup_dir, f".tmp-{states}")
        with open(tmp, "wb") as f:
            arrays = {f"s{i}": v for i, v in enumerate(get_rnn_states(self.model))}
            arrays.update({f"r{i}": np.asarray(v.numpy())
                           for i, v in enumerate(_seed_variables(self.model))})
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.backup_dir, states))
        record = {"epoch": epoch, "weights": weights, "states": states,
                  "settings": self.settings}
        tmp = _tmp_path(self.state_path)
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)  # the commit
        for name in os.listdir(self.backup_dir):
            if name not in (weights, states, BACKUP_STATE_FILE):
                os.remove(os.path.join(self.backup_dir, name))

    def delete(self):
        """Deletes the backup folder (call it when the run's results are written)."""
        import shutil

        shutil.rmtree(self.backup_dir, ignore_errors=True)

    def get_config(self):
        return {"backup_dir": self.backup_dir, "settings": self.settings}


def _seed_variables(model):
    """The model's state that `save_weights` leaves out: its `SeedGenerator`s' states.

    `model.variables` is `model.weights` plus the seed generators' states (dropout masks);
    restoring them makes a resumed run draw the masks the uninterrupted one draws.
    """
    _sync_backend_state(model)
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def describe_changes(old, new):
    """`"key: old → new, ..."` for the entries of two (nested) dicts that differ."""
    def flat(d, prefix=""):
        out = {}
        for k, v in (d or {}).items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    if not isinstance(old, dict):
        return f"no settings recorded, now {len(flat(new))} settings"
    a, b = flat(old), flat(new)
    keys = [k for k in list(a) + [k for k in b if k not in a] if a.get(k) != b.get(k)]
    return ", ".join(f"{k.split('.')[-1]}: {a.get(k)!r} → {b.get(k)!r}" for k in keys)
