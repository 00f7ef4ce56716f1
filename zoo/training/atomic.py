"""Files that a kill at any instant cannot leave half written.

- `atomic_save(model, path)`: `model.save` / `save_weights` to a temporary name, then
  `os.replace` (a weights file only where the disk has room for it).
- `AtomicModelCheckpoint`: `keras.callbacks.ModelCheckpoint` that never leaves half a file.

Both are importable from `zoo.training.backup` (and `zoo.training`) too.
"""

import contextlib
import errno
import os
import shutil

import keras
import numpy as np


def _fsync(path):
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _tmp_path(path):
    """A temporary name beside `path` that keeps its extension (Keras checks it)."""
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, f".tmp-{name}")


@contextlib.contextmanager
def _replacing(path, mode="wb"):
    """A file open for writing at a temporary name beside `path`, flushed to disk and
    renamed over `path` when the block ends without an error."""
    tmp = _tmp_path(path)
    with open(tmp, mode) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_save(model, path, weights_only=False):
    """Saves `model` (or its weights) to `path` so that `path` is never half written.

    The file is written to a temporary name in the same folder, flushed to disk and
    renamed over `path` with `os.replace`: a kill at any instant leaves either the old
    file or the new one.

    HDF5 (`save_weights`) cannot fail cleanly on a full disk: it leaves the file open and
    the process dies at exit (a segmentation fault). So a weights file is only written
    where the disk has room for it (an upper bound of its size); otherwise `OSError`
    `ENOSPC` is raised before anything is written.

    Args:
        model: `keras.Model`, the model to save.
        path: str, a `.keras` file (or a `.weights.h5` file with `weights_only=True`).
        weights_only: bool, call `save_weights` instead of `save`. Defaults to `False`.

    Raises:
        OSError: the disk is full (`errno.ENOSPC`, naming `path`), or another write error.
    """
    tmp = _tmp_path(path)
    if weights_only:
        _check_space(tmp, _weights_file_bytes(model))
        model.save_weights(tmp, overwrite=True)
    else:
        model.save(tmp, overwrite=True)
    _fsync(tmp)
    os.replace(tmp, path)


def _weights_file_bytes(model):
    """An upper bound of the size of `model.save_weights`'s file (weights, optimizer).

    HDF5 adds about 3 KiB a variable (measured: 25-30 KiB for 8-11 variables); this
    allows 4 KiB a variable and 16 KiB for the file.
    """
    variables = list(model.weights)
    if model.optimizer is not None:
        variables += list(model.optimizer.variables)
    data = sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in variables)
    return data + 4096 * len(variables) + 16384


def _check_space(path, needed):
    """Raises `OSError(ENOSPC)` naming `path` when its folder has less than `needed` bytes."""
    free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
    if free < needed:
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({free:,} bytes free, "
                      f"{needed:,} needed)", path)


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


class FolderInUse(ValueError):
    """Another process holds a folder's lock."""


class FolderLock:
    """An exclusive `fcntl.flock` on the file `path` while a block runs.

    The kernel releases it when the process dies, however it dies, so a lock is never
    left behind; the file stays (deleting it would race).

    Args:
        path: str, the lock file (created).
        message: str, the error when another process holds it.
        error: the exception class raised then. Defaults to `FolderInUse`.
    """

    def __init__(self, path, message, error=FolderInUse):
        self.path, self.message, self.error = path, message, error
        self._file = None

    def __enter__(self):
        import fcntl

        self._file = open(self.path, "a")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise self.error(self.message) from None
        return self

    def __exit__(self, *exc):
        self._file.close()  # releases the lock
