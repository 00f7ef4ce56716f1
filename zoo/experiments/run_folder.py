"""A run folder: its lock, its files, and whether a run in it may resume."""

import csv
import fcntl
import json
import os
import shutil

from zoo.training.backup import BackupError
from zoo.training.backup import describe_changes
from zoo.training.backup import read_backup
from zoo.training.reporting import META_FILE

LOCK_FILE = ".lock"
BACKUP_DIR = "backup"
RUN_FILES = ("best.keras", "final.keras", "history.csv", "results.json", "learning_curve.png",
             META_FILE)


class RunFolderInUse(ValueError):
    """Another run holds the folder's lock."""


class RunFolderLock:
    """An exclusive `fcntl.flock` on OUTPUT_DIR/.lock while a run trains in the folder."""

    def __init__(self, output_dir):
        self.path = os.path.join(output_dir, LOCK_FILE)
        self._file = None

    def __enter__(self):
        self._file = open(self.path, "a")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise RunFolderInUse(
                f"--output-dir {os.path.dirname(self.path)} is in use by another train.py run "
                f"(it holds {self.path}): wait for it to finish or choose another "
                "--output-dir") from None
        return self

    def __exit__(self, *exc):
        self._file.close()  # releases the lock; the file stays (deleting it would race)


def prepare_run_folder(output_dir, settings, overwrite):
    """Checks the run folder against `settings`; returns the backup to resume or None.

    With `overwrite` nothing is checked (the old run goes, in `clear_run_folder`, once the
    data and the model are ready). Otherwise a backup (an interrupted run) must be readable
    and of the same settings, and a finished run in the folder must be of the same settings
    (it is then retrained from scratch, as before).

    Raises:
        ValueError: a damaged backup, or a run of other settings in the folder.
    """
    backup_dir = os.path.join(output_dir, BACKUP_DIR)
    if overwrite:
        return None
    try:
        state = read_backup(backup_dir)
    except BackupError as e:
        raise ValueError(f"{e}: delete {backup_dir} or pass --overwrite to start the run "
                         "afresh") from None
    if state is not None:
        if state.get("settings") != settings:
            raise ValueError(
                f"{output_dir} holds an interrupted run with other settings "
                f"({describe_changes(state.get('settings'), settings)}): re-run with its "
                "settings to resume it, pass --overwrite to start afresh, or choose another "
                "--output-dir")
        return state
    meta_path = os.path.join(output_dir, META_FILE)
    if os.path.isfile(meta_path):
        try:
            with open(meta_path) as f:
                saved = json.load(f).get("settings")
        except (OSError, ValueError, AttributeError) as e:
            raise ValueError(f"cannot read {meta_path} ({type(e).__name__}): pass --overwrite "
                             f"to replace the run in {output_dir}") from None
        if saved is not None and saved != settings:
            raise ValueError(
                f"{output_dir} holds a run with other settings "
                f"({describe_changes(saved, settings)}): pass --overwrite to replace it, or "
                "choose another --output-dir")
    return None


def clear_run_folder(output_dir, names=RUN_FILES, folders=(BACKUP_DIR, "tensorboard")):
    """--overwrite: deletes the old run's files (the lock file stays)."""
    for name in folders:
        shutil.rmtree(os.path.join(output_dir, name), ignore_errors=True)
    for name in names:
        if os.path.isfile(os.path.join(output_dir, name)):
            os.remove(os.path.join(output_dir, name))


def truncate_history(path, epochs):
    """Keeps history.csv's header and its rows of the first `epochs` epochs, atomically.

    The CSV row of an epoch is written before its backup is committed, so after a kill the
    file may hold a row of an epoch the backup does not have; that epoch is trained again.
    """
    if not os.path.isfile(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, kept = rows[0], []
    for row in rows[1:]:
        if len(row) == len(header) and row[0].isdigit() and int(row[0]) < epochs:
            kept.append(row)
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows([header] + kept)
    os.replace(tmp, path)


def history_from_csv(path):
    """history.csv as `{metric: [value per epoch]}` ({} if there is none)."""
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        rows = list(csv.DictReader(f))
    history = {}
    for row in rows:
        for k, v in row.items():
            if k != "epoch" and v not in ("", None):
                history.setdefault(k, []).append(float(v))
    return history
