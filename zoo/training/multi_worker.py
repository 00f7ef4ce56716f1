"""Multi-worker runs: which worker this is, resuming together, and a lost peer in one line.

A `MultiWorkerMirroredStrategy` run is one process per worker, each with its own folder and
backup (`zoo.training.distribute.worker_output_dir`). Every step is an all-reduce over all
workers, so the workers finish each epoch together, but each commits its own backup: a
worker killed between its epoch's history row and its commit is one epoch behind its peers.

- `cluster_task()` reads this worker's place from `TF_CONFIG` without starting TensorFlow,
  so the run folder is locked and checked before the strategy is created (the strategy
  must be created before TensorFlow runs any op, and a worker refused there must still
  tell its peers, see below).
- `agree(strategy, record)`: one all-gather, before training, of every worker's
  `(refused, epoch, previous)`; `common_epoch(records, names)` turns them into the epoch
  every worker resumes from, or one error on every worker (a refused worker raises its
  own, its peers say which worker refused). A worker ahead by one epoch goes back to its
  previous commit, which `PreviousCommit` keeps, so the workers resume together after a
  kill at any instant (a kill can leave them at most one commit apart: no epoch ends
  without every worker).
- `peer_lost(error, task)`, `peer_lost_in_one_line(task)`: the `PeerLost` error (one line,
  naming the lost worker and saying how to resume) in place of TensorFlow's
  `UnavailableError` traceback when a peer dies during `agree` or `fit`.

`zoo.experiments.train_lm` puts these together for `train_lm(..., distribute="multi-worker")`.
"""

import collections
import contextlib
import json
import os
import re

import keras

from zoo.training.backup import BACKUP_STATE_FILE
from zoo.training.backup import BackupError
from zoo.training.backup import read_backup
from zoo.training.distribute import num_workers

Task = collections.namedtuple("Task", ["type", "index", "chief", "workers", "addresses"])
Task.__doc__ = """This worker's place in `TF_CONFIG`.

`type`/`index`: its task; `chief`: whether it writes the run's own files; `workers`: the
number of training tasks (`chief` and `worker` jobs); `addresses`: `{(type, index): address}`.
"""


def cluster_task(tf_config=None):
    """This process's `Task` in `TF_CONFIG` (read as JSON; TensorFlow is not touched).

    Args:
        tf_config: str or None, the JSON to read. Defaults to `None` (the `TF_CONFIG`
            environment variable).

    Returns:
        A `Task`, or `None` when there is no `TF_CONFIG` or it names no task.

    Raises:
        ValueError: `TF_CONFIG` is not JSON of a cluster and a task in it.
    """
    text = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not text.strip():
        return None
    try:
        config = json.loads(text)
        cluster, task = config.get("cluster", {}), config.get("task") or {}
        if not task:
            return None
        kind, index = task["type"], int(task["index"])
        addresses = {(job, i): address for job, tasks in cluster.items()
                     for i, address in enumerate(tasks)}
        if (kind, index) not in addresses:
            raise KeyError(f"{kind} {index}")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"TF_CONFIG does not describe this worker's task in its cluster "
                         f"({type(e).__name__}: {e}). Received: TF_CONFIG={text}") from None
    workers = sum(len(cluster.get(job, [])) for job in ("chief", "worker"))
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    return Task(kind, index, chief, max(workers, 1), addresses)


def worker_name(task_type, index):
    """`worker 1`, `chief 0`: how messages name a task."""
    return f"{task_type} {index}"


def agree(strategy, record):
    """Every worker's `record` (a tuple of ints), in worker order, on every worker.

    One all-gather over the strategy's replicas (each worker's replicas send the same
    record); it waits until every worker of `TF_CONFIG` calls it too.

    Args:
        strategy: a `tf.distribute.MultiWorkerMirroredStrategy`.
        record: tuple of int, this worker's values.

    Returns:
        list of tuple of int, one record per worker.
    """
    import tensorflow as tf

    row = tf.constant([list(record)], tf.int64)
    values = strategy.experimental_distribute_values_from_function(lambda context: row)
    rows = strategy.gather(values, axis=0).numpy().tolist()
    per_worker = max(strategy.num_replicas_in_sync // num_workers(strategy), 1)
    return [tuple(r) for r in rows[::per_worker]]


NONE = -1  # a record's `previous` when the worker cannot go back an epoch


def common_epoch(records, names):
    """The epoch every worker resumes from, from every worker's `(refused, epoch, previous)`.

    `refused`: 1 when the worker's own checks refused the run; `epoch`: the epochs its
    backup (or finished run) holds; `previous`: the epoch it can go back to (`epoch - 1`
    when its previous commit is kept, `0` for a backup of epoch 1), else `NONE`.

    Args:
        records: list of `(refused, epoch, previous)`, one per worker, in worker order.
        names: list of str, the workers' names (`worker_name`), in the same order.

    Returns:
        int, the smallest epoch: every worker holds it or can go back to it.

    Raises:
        ValueError: a worker refused the run (naming it), or a worker is too far ahead to
            go back to the others' epoch. Every worker raises the same error.
    """
    refused = [name for (r, _, _), name in zip(records, names) if r]
    if refused:
        raise ValueError(f"{' and '.join(refused)} refused to start (its own error line says "
                         "why): fix that, then start every worker again")
    epochs = [epoch for _, epoch, _ in records]
    target = min(epochs)
    stuck = [name for (_, epoch, previous), name in zip(records, names)
             if epoch != target and previous != target]
    if stuck:
        held = ", ".join(f"{name}: {epoch}" for name, epoch in zip(names, epochs))
        raise ValueError(
            f"the workers' backups hold different epochs ({held}) and {' and '.join(stuck)} "
            f"cannot go back to epoch {target}: pass `overwrite=True` to every worker to "
            "start the run afresh")
    return target


def previous_epoch(backup_dir, previous_dir, epoch):
    """The `previous` of a worker whose backup holds `epoch` (see `common_epoch`)."""
    if epoch == 1:
        return 0  # before the first commit: the run starts afresh
    try:
        state = read_backup(previous_dir)
    except BackupError:
        return NONE
    return epoch - 1 if state is not None and state["epoch"] == epoch - 1 else NONE


def copy_commit(source_dir, target_dir):
    """Makes `target_dir` hold the backup committed in `source_dir`, atomically.

    The files are hard-linked (copied where links fail) under their epoch-numbered names,
    then `target_dir/backup.json` is replaced (the commit), then the target's other files
    are deleted: a kill at any instant leaves `target_dir` holding its old backup or the
    new one. With no backup in `source_dir`, `target_dir` ends with none.

    Returns:
        The record (`read_backup`) now in `target_dir`, or None.
    """
    state = read_backup(source_dir)
    os.makedirs(target_dir, exist_ok=True)
    keep = {BACKUP_STATE_FILE}
    if state is None:
        _remove(os.path.join(target_dir, BACKUP_STATE_FILE))
    else:
        for key in ("weights", "states"):
            name = state[key]
            keep.add(name)
            source, target = os.path.join(source_dir, name), os.path.join(target_dir, name)
            if not os.path.exists(target):
                try:
                    os.link(source, target)
                except OSError:
                    import shutil

                    shutil.copyfile(source, f"{target}.tmp")
                    os.replace(f"{target}.tmp", target)
        tmp = os.path.join(target_dir, f"{BACKUP_STATE_FILE}.tmp")
        with open(os.path.join(source_dir, BACKUP_STATE_FILE), "rb") as f:
            record = f.read()
        with open(tmp, "wb") as f:
            f.write(record)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(target_dir, BACKUP_STATE_FILE))
    for name in os.listdir(target_dir):
        if name not in keep:
            _remove(os.path.join(target_dir, name))
    return state


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


class PreviousCommit(keras.callbacks.Callback):
    """Keeps the backup commit before the last one, so a worker can go back an epoch.

    At every epoch end, before the epoch's own commit, the commit in `backup_dir` (that of
    the epoch before) is copied to `previous_dir` (`copy_commit`). Put it just before the
    `AtomicBackupAndRestore` of `backup_dir`.

    Args:
        backup_dir: str, the run's backup folder.
        previous_dir: str, a folder used by this callback only.
    """

    def __init__(self, backup_dir, previous_dir):
        super().__init__()
        self.backup_dir, self.previous_dir = backup_dir, previous_dir

    def on_epoch_end(self, epoch, logs=None):
        copy_commit(self.backup_dir, self.previous_dir)


class PeerLost(ConnectionError):
    """A worker of a multi-worker run stopped while this one trained."""


_TASK = re.compile(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)")


def peer_lost(error, task):
    """The one-line `PeerLost` for TensorFlow's error when a peer dies, or None.

    Args:
        error: the exception a collective op (`fit`, `agree`) raised.
        task: this worker's `Task`.

    Returns:
        `PeerLost` naming the lost worker (and its address) and how to resume, or None
        when `error` is not TensorFlow's error for an unreachable or crashed peer.
    """
    text = str(error)
    kind = type(error).__name__
    if kind != "UnavailableError" and not (
            kind.endswith("Error") and "Collective ops is aborted" in text):
        return None
    after = text.split("unhealthy", 1)[1] if "unhealthy" in text else text
    lost = [(job, int(i)) for job, i in _TASK.findall(after)
            if (job, int(i)) != (task.type, task.index)]
    if lost:
        job, index = lost[0]
        address = task.addresses.get((job, index))
        who = worker_name(job, index) + (f" ({address})" if address else "")
    else:
        who = "a peer worker"
    return PeerLost(f"lost {who} of the multi-worker run: start every worker again with the "
                    "same arguments to resume from the last epoch all of them finished")


@contextlib.contextmanager
def peer_lost_in_one_line(task):
    """Raises `peer_lost(error, task)` in place of a lost peer's error inside the block.

    Other errors, and every error when `task` is None, pass unchanged.
    """
    try:
        yield
    except Exception as e:  # noqa: BLE001  (only a lost peer is translated)
        lost = peer_lost(e, task) if task is not None else None
        if lost is None:
            raise
        raise lost from None
