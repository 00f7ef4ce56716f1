"""One training run of the word-mirror model (`mirror-seq2seq`) in a run folder.

`train_mirror(output_dir, text, valid_text, test_text, config)` makes the sentences
(`zoo.datasets.mirror_text.mirror_splits`), builds the model (`zoo.models.mirror`), fits it and
evaluates the best checkpoint on the held-out sentences. Its run folder has the language
models' guarantees and file names (`zoo.experiments.train_lm`, `run_folder`): it is locked
while the run trains; the run's settings are recorded (zoo_meta.json, backup/) and a folder
holding a run of other settings is refused unless `overwrite`; `AtomicBackupAndRestore`
commits the state after every epoch together with that epoch's history.csv row and
best.keras, so a killed run called again resumes after its last commit and ends with the
uninterrupted run's weights, every epoch once in history.csv; a finished run stays finished.
"""

import hashlib
import json
import math
import os
import time
import types

import keras

from zoo import checks
from zoo.datasets import mirror as mirror_data
from zoo.datasets import mirror_text
from zoo.experiments.mirror_eval import evaluate_mirror
from zoo.experiments.run_folder import BACKUP_DIR
from zoo.experiments.run_folder import RESULTS_FILE
from zoo.experiments.run_folder import RUN_FILES
from zoo.experiments.run_folder import RunFolderLock
from zoo.experiments.run_folder import announce_finished_run
from zoo.experiments.run_folder import history_from_csv
from zoo.experiments.run_folder import make_room
from zoo.experiments.run_folder import prepare_run_folder
from zoo.experiments.run_folder import truncate_history
from zoo.experiments.train_lm import _enable_determinism
from zoo.models.configs import MirrorConfig
from zoo.models.mirror import build_mirror_model, load_mirror
from zoo.training import AtomicBackupAndRestore
from zoo.training import AtomicModelCheckpoint
from zoo.training import BackupError
from zoo.training import atomic_save
from zoo.training.backup import read_backup
from zoo.training.callbacks import TimeLimit
from zoo.training.reporting import write_meta
from zoo.training.reporting import write_results

# What earlier versions wrote (last.keras, log.csv, metrics.csv): `overwrite` deletes them too.
OLD_RUN_FILES = ("last.keras", "log.csv", "metrics.csv")


class _ResumedReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """`ReduceLROnPlateau` whose patience also counts the epochs before a resume.

    The learning rate those epochs left is restored with the optimizer (the backup); the
    callback's counters (`best`, `wait`, `cooldown_counter`) are not, so they are rebuilt by
    replaying Keras's own `on_epoch_end` on the logged values of the committed epochs,
    against a stand-in optimizer whose learning rate is thrown away.

    Args:
        past_values: list of float, the monitored value of each committed epoch.
        **kwargs: as `keras.callbacks.ReduceLROnPlateau`.
    """

    def __init__(self, past_values=(), **kwargs):
        super().__init__(**kwargs)
        self.past_values = [float(v) for v in past_values]

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        model = self.model
        self.set_model(types.SimpleNamespace(optimizer=types.SimpleNamespace(learning_rate=1.0)))
        try:
            for epoch, value in enumerate(self.past_values):
                super().on_epoch_end(epoch, {self.monitor: value})
        finally:
            self.set_model(model)


def mirror_settings(config, splits, seed, data=None):
    """What a mirror run's results depend on: stored with its backup and in zoo_meta.json.

    The config's fields but `epochs` (a finished run may be continued for more epochs) and
    `description` (prose), the seed, the name of the data, and the SHA-256 of the train,
    validation and test sentences (they depend on the texts, the config and the seed).
    """
    fields = {k: v for k, v in config.to_dict().items() if k not in ("epochs", "description")}
    digest = hashlib.sha256()
    for part in (splits.train, splits.valid, splits.test):
        digest.update("\n".join(part).encode("utf-8") + b"\0")
    return json.loads(json.dumps({"config": fields, "data": data, "seed": seed,
                                  "sentences": digest.hexdigest()}))


def train_mirror(output_dir, text=None, valid_text=None, test_text=None, config=None, seed=0,
                 max_minutes=None, verbose=1, overwrite=False, data=None, **fields):
    """Trains `mirror-seq2seq` in the run folder `output_dir` and returns its results.

    Writes into `output_dir` the language models' files: `best.keras` (best validation
    loss), `final.keras`, `history.csv` (one row an epoch), `results.json` (the returned
    results), `zoo_meta.json` (config and settings) and `backup/` (the state after the last
    epoch, kept). A folder holding an interrupted run of the same settings resumes it; a
    finished run of `config.epochs` epochs is left as it is (its results are returned), one
    of fewer epochs (more asked for, or stopped by `max_minutes`) is continued.

    Args:
        output_dir: str, the run folder (created, locked while training).
        text: training text: a file path, the text itself, a list of sentences,
            or None for the offline corpus (`zoo.datasets.mirror_text.offline_text`).
        valid_text: validation text (same forms); None holds out 10% of `text`.
        test_text: held-out text for the final `evaluate_mirror`; None uses the
            validation sentences. Sentences that also occur in the training set
            (or are longer than `max_length`) are left out.
        config: MirrorConfig or None, the model and training settings (epochs, batch_size,
            cell, units, embedding_dim, encoder_layers, dropout, learning_rate, clipnorm,
            max_words, max_length, augment, random_words). Defaults to `MirrorConfig()`;
            the registered preset is `zoo.models.get_config("mirror-seq2seq")`.
        seed: int, seeds Keras, the sentence splits and shuffling.
        max_minutes: float or None, stop (cleanly, the epoch committed) after this much
            training time. Defaults to `None` (no limit).
        verbose: int, Keras progress-bar verbosity.
        overwrite: bool, delete the folder's old run (once the data and the model are
            ready). Defaults to `False`.
        data: str or None, the name of the data (recorded with the settings).
        **fields: MirrorConfig fields that replace `config`'s (e.g. `epochs=1`).

    Returns:
        dict: `epochs` (trained in all), `epochs_run` (by this call), `train_sentences`,
        `valid_sentences`, `train_seconds`, `history`, the last epoch's
        `loss`/`val_loss`/`char_accuracy`/`val_char_accuracy`, the test metrics of
        `evaluate_mirror` on the best checkpoint (prefixed `test_`),
        `test_removed_seen_or_too_long` and `checkpoint` (the path of `best.keras`).

    Raises:
        ValueError: invalid settings or sentences, a folder in use or holding a run of other
            settings (or of more epochs), a damaged backup. OSError: unwritable `output_dir`.
    """
    if config is not None and not isinstance(config, MirrorConfig):
        raise ValueError(f"Argument `config` must be a MirrorConfig. Received: "
                         f"config={type(config).__name__}")
    config = (MirrorConfig() if config is None else config).replace(**fields)
    if max_minutes is not None:
        checks.positive_number("max_minutes", max_minutes)
    keras.utils.set_random_seed(seed)
    splits = mirror_text.mirror_splits(text, valid_text, test_text, max_words=config.max_words,
                                      max_length=config.max_length, augment=config.augment,
                                      random_words=config.random_words, seed=seed)
    settings = mirror_settings(config, splits, seed, data)
    os.makedirs(output_dir, exist_ok=True)
    with RunFolderLock(output_dir):
        state, finished = prepare_run_folder(output_dir, settings, overwrite, config.epochs)
        if finished is not None and state is None:  # a finished run stays finished
            announce_finished_run(output_dir, finished)
            return finished
        initial_epoch = state["epoch"] if state else 0
        keras.utils.set_random_seed(seed)
        _enable_determinism()
        train_ds, steps = _training_stream(splits.train, config, seed, initial_epoch)
        valid_ds = mirror_data.make_dataset(splits.valid, config.batch_size, config.max_length)
        model = build_mirror_model(config)
        # only now that data and model are ready; the names earlier versions wrote go too
        make_room(output_dir, overwrite, finished, names=RUN_FILES + OLD_RUN_FILES)
        write_meta(output_dir, config, "seq2seq", data=data, settings=settings)
        callbacks = _callbacks(output_dir, settings, state, max_minutes)
        backup_dir = os.path.join(output_dir, BACKUP_DIR)
        start = time.perf_counter()
        try:
            history = model.fit(train_ds, validation_data=valid_ds, epochs=config.epochs,
                                steps_per_epoch=steps, callbacks=callbacks, verbose=verbose,
                                shuffle=False)
        except BackupError as e:
            raise ValueError(f"{e}: delete {backup_dir} or pass `overwrite=True` to start "
                             "the run afresh") from None
        train_seconds = time.perf_counter() - start
        atomic_save(model, os.path.join(output_dir, "final.keras"))
        best_path = os.path.join(output_dir, "best.keras")
        if not os.path.exists(best_path):  # no finite validation loss: the last weights
            atomic_save(model, best_path)
        result = {
            "model": config.name, "data": data, "seed": seed,
            "epochs": read_backup(backup_dir)["epoch"],
            "epochs_run": len(history.history.get("loss", [])),
            "train_sentences": len(splits.train), "valid_sentences": len(splits.valid),
            "train_seconds": train_seconds, "checkpoint": best_path,
            "test_removed_seen_or_too_long": splits.removed, "config": config.to_dict(),
        }
        result.update(_last_epoch(os.path.join(output_dir, "history.csv")))
        for key, value in evaluate_mirror(load_mirror(best_path), splits.test).items():
            result[f"test_{key}"] = value
        write_results(os.path.join(output_dir, RESULTS_FILE), **result)
    return result


def _training_stream(sentences, config, seed, initial_epoch):
    """The shuffled training batches of all epochs as one stream, from `initial_epoch` on.

    Each epoch is a reshuffle of the sentences (`seed`); skipping the epochs a resumed run
    has had makes its batches those the uninterrupted run sees.

    Returns:
        (dataset, steps): the endless dataset and the batches in one epoch.
    """
    steps = math.ceil(len(sentences) / config.batch_size)
    ds = mirror_data.make_dataset(sentences, config.batch_size, config.max_length,
                                  shuffle=True, seed=seed)
    return ds.repeat().skip(initial_epoch * steps), steps


def _callbacks(output_dir, settings, state, max_minutes):
    """The run's callbacks, the backup last: everything an epoch writes is committed with it.

    On a resumed run, history.csv is cut to the epochs the backup holds and the best
    checkpoint and the learning-rate plateau continue from those epochs' values.
    """
    history_path = os.path.join(output_dir, "history.csv")
    past = []
    if state:
        truncate_history(history_path, state["epoch"])
        past = history_from_csv(history_path).get("val_loss", [])
    callbacks = [
        # Before the logger (history.csv gets its learning_rate) and the backup (commits it).
        _ResumedReduceLROnPlateau(past, monitor="val_loss", mode="min", factor=0.5,
                                  patience=1),
        keras.callbacks.CSVLogger(history_path, append=bool(state)),
        AtomicModelCheckpoint(os.path.join(output_dir, "best.keras"), monitor="val_loss",
                              mode="min", save_best_only=True,
                              initial_value_threshold=min(past) if past else None),
    ]
    if max_minutes is not None:
        callbacks.append(TimeLimit(60.0 * max_minutes))
    callbacks.append(AtomicBackupAndRestore(os.path.join(output_dir, BACKUP_DIR),
                                            settings=settings))
    return callbacks


def _last_epoch(history_path):
    """`history` (history.csv as lists) and the last epoch's value of each metric."""
    history = history_from_csv(history_path)
    last = {k: v[-1] for k, v in history.items() if v and k != "learning_rate"}
    return {"history": history, **last}
