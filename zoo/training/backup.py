"""Checkpoints and run backups that a kill at any instant cannot leave half written.

- `atomic_save(model, path)`, `AtomicModelCheckpoint` (in `zoo.training.atomic`): the
  atomic writes this module builds on.
- `AtomicBackupAndRestore`: `keras.callbacks.BackupAndRestore` whose backup (weights,
  optimizer, RNN states, epoch, settings) is one atomically replaced unit, kept after `fit`.
- `read_backup`, `describe_changes`, `BackupError`: reading a backup and saying why it
  does not fit the run.
"""

import json
import os
import shutil

import keras
import numpy as np

from zoo import _keras_private
from zoo import checks
from zoo.training.atomic import _replacing
from zoo.training.atomic import atomic_save
from zoo.training.states import _sync_backend_state, get_rnn_states, set_rnn_states


class BackupError(ValueError):
    """A backup that cannot be used: unreadable, corrupt, or from other settings."""


def _corrupt(path, error):
    """The `BackupError` saying that the file `path` failed to read with `error`."""
    first_line = str(error).splitlines()[0] if str(error) else ""
    return BackupError(f"backup {path} is corrupt ({type(error).__name__}: {first_line})")


BACKUP_STATE_FILE = "backup.json"


def read_backup(backup_dir):
    """The commit record of the backup in `backup_dir`, or None when there is none.

    Returns:
        None, or a dict with `epoch` (epochs finished), `weights` and `states` (file names
        in `backup_dir`, `epoch-EPOCH.*`), `bytes` (their sizes when written) and
        `settings` (what the run was started with, or None).

    Raises:
        BackupError: the record or a file it names is missing or unreadable, or does not
            match the record (another epoch's file, another size); the message names the
            file.
    """
    path = os.path.join(backup_dir, BACKUP_STATE_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            state = json.load(f)
        checks.non_negative_int("epoch", state["epoch"])
        files = [os.path.join(backup_dir, state[k]) for k in ("weights", "states")]
        sizes = state.get("bytes", {})
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise _corrupt(path, e) from None
    epoch = state["epoch"]
    for key, file in zip(("weights", "states"), files):
        if not os.path.isfile(file):
            raise BackupError(f"backup {path} names {file}, which is missing")
        if not os.path.basename(file).startswith(f"epoch-{epoch}."):
            raise BackupError(f"backup {path} is corrupt: it claims epoch {epoch} but names "
                              f"{file}")
        # Recorded at write time (backups written before have no sizes to check).
        if key in sizes and os.path.getsize(file) != sizes[key]:
            raise BackupError(f"backup {file} is corrupt ({os.path.getsize(file)} bytes, "
                              f"{sizes[key]} were written)")
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
        ignore: tuple of str, dotted keys of `settings` that may differ on restore (e.g.
            `("config.max_max_epoch",)`: a run may be continued for more epochs). The
            next commit stores the new value. Defaults to `()`.

    Example:
    ```python
    backup = AtomicBackupAndRestore("run/backup", settings={"hidden_size": 200})
    model.fit(ds, epochs=13, callbacks=[StatefulRNNCallback(), backup])
    model.save("run/final.keras")
    backup.delete()
    ```
    """

    def __init__(self, backup_dir, settings=None, ignore=()):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"Argument `backup_dir` must be a folder name. "
                             f"Received: backup_dir={backup_dir!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.settings = json.loads(json.dumps(settings)) if settings is not None else None
        self.ignore = tuple(ignore)
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
        if not same_settings(saved, self.settings, self.ignore):
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
            raise _corrupt(weights, e) from None
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
            raise _corrupt(states, e) from None
        self.restored_epoch = state["epoch"]
        # How keras.callbacks.BackupAndRestore tells `fit` where to continue.
        _keras_private.set_initial_epoch(self.model, state["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch + 1)

    def save(self, epoch):
        """Commits a backup of the model's current state as `epoch` finished epochs."""
        os.makedirs(self.backup_dir, exist_ok=True)
        weights = f"epoch-{epoch}.weights.h5"
        states = f"epoch-{epoch}.states.npz"
        atomic_save(self.model, os.path.join(self.backup_dir, weights), weights_only=True)
        arrays = {f"s{i}": v for i, v in enumerate(get_rnn_states(self.model))}
        arrays.update({f"r{i}": np.asarray(v.numpy())
                       for i, v in enumerate(_seed_variables(self.model))})
        with _replacing(os.path.join(self.backup_dir, states)) as f:
            np.savez(f, **arrays)
        record = {"epoch": epoch, "weights": weights, "states": states,
                  "bytes": {k: os.path.getsize(os.path.join(self.backup_dir, name))
                            for k, name in (("weights", weights), ("states", states))},
                  "settings": self.settings}
        with _replacing(self.state_path, "w") as f:  # its rename is the commit
            json.dump(record, f, indent=1)
        for name in os.listdir(self.backup_dir):
            if name not in (weights, states, BACKUP_STATE_FILE):
                os.remove(os.path.join(self.backup_dir, name))

    def delete(self):
        """Deletes the backup folder (call it when the run's results are written)."""
        shutil.rmtree(self.backup_dir, ignore_errors=True)

    def get_config(self):
        return {"backup_dir": self.backup_dir, "settings": self.settings,
                "ignore": list(self.ignore)}


def _seed_variables(model):
    """The model's state that `save_weights` leaves out: its `SeedGenerator`s' states.

    `model.variables` is `model.weights` plus the seed generators' states (dropout masks);
    restoring them makes a resumed run draw the masks the uninterrupted one draws.
    """
    _sync_backend_state(model)
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def same_settings(old, new, ignore=()):
    """Whether two settings dicts are equal once the dotted keys in `ignore` are dropped."""
    def without(d):
        if not isinstance(d, dict):
            return d
        d = json.loads(json.dumps(d))
        for key in ignore:
            *parents, last = key.split(".")
            inner = d
            for k in parents:
                inner = inner.get(k) if isinstance(inner, dict) else None
            if isinstance(inner, dict):
                inner.pop(last, None)
        return d

    return without(old) == without(new)


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
