"""A run folder: its lock, its files, and whether a run in it may resume."""

import csv
import json
import os
import shutil

from zoo.training.atomic import FolderInUse
from zoo.training.atomic import FolderLock
from zoo.training.backup import BACKUP_STATE_FILE
from zoo.training.backup import BackupError
from zoo.training.backup import describe_changes
from zoo.training.backup import read_backup
from zoo.training.backup import same_settings
from zoo.training.multi_worker import copy_commit
from zoo.training.reporting import META_FILE

LOCK_FILE = ".lock"
BACKUP_DIR = "backup"
PREVIOUS_BACKUP_DIR = "backup-previous"  # a multi-worker worker's commit before the last
RUN_FILES = ("best.keras", "final.keras", "history.csv", "results.json", "learning_curve.png",
             META_FILE)


class RunFolderInUse(FolderInUse):
    """Another run holds the folder's lock."""


class RunFolderLock(FolderLock):
    """An exclusive `fcntl.flock` on OUTPUT_DIR/.lock while a run trains in the folder."""

    def __init__(self, output_dir):
        path = os.path.join(output_dir, LOCK_FILE)
        super().__init__(path, f"`output_dir` {output_dir} is in use by another run "
                               f"(it holds {path}): wait for it to finish or choose another "
                               "`output_dir`", error=RunFolderInUse)


EPOCHS_KEY = "config.max_max_epoch"  # a run may be continued for more epochs
RESULTS_FILE = "results.json"


def prepare_run_folder(output_dir, settings, overwrite, epochs=None):
    """Checks the run folder against `settings`; says what the run has to do.

    With `overwrite` nothing is checked (the old run goes, in `clear_run_folder`, once the
    data and the model are ready). Otherwise the folder's run must be of the same
    settings (its epoch count aside) and:

    - a finished run (results.json) of at least `epochs` epochs is left as it is: its
      results are returned (its backup is not even read);
    - a finished run of fewer epochs continues from its backup's last commit, which must
      be that of its last epoch;
    - an interrupted run (a backup, no results.json) resumes from its backup.

    Args:
        output_dir: str, the run folder.
        settings: dict, `train_lm.run_settings` of the run asked for.
        overwrite: bool, the old run is to be replaced.
        epochs: int or None, the epochs asked for. Defaults to `None` (any).

    Returns:
        (state, finished): the backup record to resume from or None, and the finished
        run's results (results.json) or None.

    Raises:
        ValueError: a damaged backup or results.json, a run of other settings in the
            folder, a finished run of more epochs than `epochs`, a backup beyond `epochs`.
    """
    if overwrite:
        return None, None
    finished = read_finished_run(output_dir)
    if finished is not None:
        _check_meta(output_dir, settings)
        done = finished["epochs"]
        if epochs is not None and epochs < done:
            raise ValueError(
                f"{output_dir} holds a run that finished {done} epochs, more than the "
                f"{epochs} asked for: pass `overwrite=True` to retrain it, or choose another "
                "`output_dir`")
        if epochs is None or epochs == done:
            return None, finished
    state = _read_state(output_dir, settings)
    if finished is not None and (state is None or state["epoch"] != finished["epochs"]):
        raise ValueError(
            f"{output_dir} holds a run that finished {finished['epochs']} epochs but not the "
            f"backup of its last epoch in {os.path.join(output_dir, BACKUP_DIR)} to continue "
            "from: pass `overwrite=True` to retrain it, or choose another `output_dir`")
    if state is not None:
        if epochs is not None and state["epoch"] > epochs:
            raise ValueError(
                f"backup {os.path.join(output_dir, BACKUP_DIR, 'backup.json')} holds epoch "
                f"{state['epoch']} of a run of {epochs} epochs: pass `overwrite=True` to "
                "start the run afresh")
        return state, finished
    _check_meta(output_dir, settings)
    return None, None


def _read_state(output_dir, settings):
    """The folder's backup record after checking its settings, or None."""
    backup_dir = os.path.join(output_dir, BACKUP_DIR)
    try:
        state = read_backup(backup_dir)
    except BackupError as e:
        raise ValueError(f"{e}: delete {backup_dir} or pass `overwrite=True` to start the "
                         "run afresh") from None
    if state is not None and not same_settings(state.get("settings"), settings,
                                               (EPOCHS_KEY,)):
        raise ValueError(
            f"{output_dir} holds an interrupted run with other settings "
            f"({describe_changes(state.get('settings'), settings)}): re-run with its "
            "settings to resume it, pass `overwrite=True` to start afresh, or choose another "
            "`output_dir`")
    return state


def _check_meta(output_dir, settings):
    """Refuses a folder whose zoo_meta.json records other settings (epochs aside)."""
    meta_path = os.path.join(output_dir, META_FILE)
    if not os.path.isfile(meta_path):
        return
    try:
        with open(meta_path) as f:
            saved = json.load(f).get("settings")
    except (OSError, ValueError, AttributeError) as e:
        raise ValueError(f"cannot read {meta_path} ({type(e).__name__}): pass "
                         f"`overwrite=True` to replace the run in {output_dir}") from None
    if saved is not None and not same_settings(saved, settings, (EPOCHS_KEY,)):
        raise ValueError(
            f"{output_dir} holds a run with other settings "
            f"({describe_changes(saved, settings)}): pass `overwrite=True` to replace it, or "
            "choose another `output_dir`")


def read_finished_run(output_dir):
    """The results.json of the folder's finished run with its `epochs`, or None.

    Raises:
        ValueError: results.json cannot be read.
    """
    path = os.path.join(output_dir, RESULTS_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            results = json.load(f)
        if "epochs" not in results:  # written before the count was recorded
            results["epochs"] = len(results["history"]["perplexity"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"cannot read {path} ({type(e).__name__}): pass `overwrite=True` to "
                         f"replace the run in {output_dir}") from None
    return results


def clear_run_folder(output_dir, names=RUN_FILES,
                     folders=(BACKUP_DIR, PREVIOUS_BACKUP_DIR, "tensorboard")):
    """`overwrite=True`: deletes the old run's files (the lock file stays)."""
    for name in folders:
        shutil.rmtree(os.path.join(output_dir, name), ignore_errors=True)
    for name in names:
        if os.path.isfile(os.path.join(output_dir, name)):
            os.remove(os.path.join(output_dir, name))


def announce_finished_run(output_dir, finished):
    """Says that `output_dir` holds a finished run, whose results (`finished`) follow."""
    print(f"{output_dir} holds a finished run of {finished['epochs']} epochs: its results "
          "follow (pass `overwrite=True` to retrain it, or more `epochs` to continue it)")


def make_room(output_dir, overwrite, finished, names=RUN_FILES):
    """Readies the folder for the run about to train, once its data and model are ready.

    With `overwrite` the old run's files go (`clear_run_folder`, `names` and the backups);
    a finished run that is continued (`finished`) loses its results.json, which no longer
    describes the run. A bad setting or a failed download before this keeps the old run.
    """
    if overwrite:
        clear_run_folder(output_dir, names=names)
    elif finished is not None:
        os.remove(os.path.join(output_dir, RESULTS_FILE))


def go_back_to(output_dir, epoch):
    """Makes the folder's run resume from `epoch`, one before its backup's (multi-worker).

    The backup becomes the previous commit that `PreviousCommit` kept (none for epoch 0:
    the run starts afresh); a finished run's results.json goes, as the run continues.
    Nothing is lost: the epoch after `epoch` is trained again, to the same weights.

    Args:
        output_dir: str, the run folder.
        epoch: int, the epoch to resume from (`multi_worker.common_epoch`).

    Returns:
        The backup record to resume from (`read_backup`), or None for epoch 0.
    """
    backup_dir = os.path.join(output_dir, BACKUP_DIR)
    if epoch:
        state = copy_commit(os.path.join(output_dir, PREVIOUS_BACKUP_DIR), backup_dir)
    else:  # back before the first commit: the run starts afresh (the record goes first)
        state = None
        if os.path.isfile(os.path.join(backup_dir, BACKUP_STATE_FILE)):
            os.remove(os.path.join(backup_dir, BACKUP_STATE_FILE))
        shutil.rmtree(backup_dir, ignore_errors=True)
    if os.path.isfile(os.path.join(output_dir, RESULTS_FILE)):
        os.remove(os.path.join(output_dir, RESULTS_FILE))
    if (state["epoch"] if state else 0) != epoch:
        raise ValueError(f"{backup_dir} could not go back to epoch {epoch}")
    return state


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
