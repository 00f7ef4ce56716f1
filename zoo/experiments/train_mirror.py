"""One training run of the word-mirror model (`mirror-seq2seq`).

`train_mirror(output_dir, text, valid_text, test_text, config)` makes the sentences
(`zoo.datasets.mirror_text.mirror_splits`), builds the model (`zoo.models.mirror`), fits it with
checkpoints, a CSV log, a resumable backup and an optional time limit, and evaluates the best
checkpoint on the held-out sentences.
"""

import csv
import os
import time

import keras

from zoo import checks
from zoo.datasets import mirror as data
from zoo.datasets import mirror_text
from zoo.experiments.mirror_eval import evaluate_mirror
from zoo.models.configs import MirrorConfig
from zoo.models.mirror import build_mirror_model, load_mirror
from zoo.training import AtomicModelCheckpoint, atomic_save
from zoo.training.callbacks import TimeLimit


def train_mirror(output_dir, text=None, valid_text=None, test_text=None, config=None, seed=0,
                 max_minutes=None, verbose=1, **fields):
    """Trains `mirror-seq2seq` and returns its metrics.

    Writes into `output_dir`: `best.keras` (best validation loss), `last.keras`,
    `log.csv` (CSVLogger), `metrics.csv` (the returned metrics) and `backup/`
    (BackupAndRestore: an interrupted run resumes from its last epoch when called again
    with the same arguments).

    Args:
        output_dir: str, where checkpoints and logs go.
        text: training text: a file path, the text itself, a list of sentences,
            or None for the offline corpus (`zoo.datasets.mirror.offline_text`).
        valid_text: validation text (same forms); None holds out 10% of `text`.
        test_text: held-out text for the final `evaluate_mirror`; None uses the
            validation sentences. Sentences that also occur in the training set
            (or are longer than `max_length`) are left out.
        config: MirrorConfig or None, the model and training settings (epochs, batch_size,
            cell, units, embedding_dim, encoder_layers, dropout, learning_rate, clipnorm,
            max_words, max_length, augment, random_words). Defaults to `MirrorConfig()`;
            the registered preset is `zoo.models.get_config("mirror-seq2seq")`.
        seed: int, seeds Keras, the sentence splits and shuffling.
        max_minutes: float or None, stop (cleanly, checkpoint written) after
            this much training time. Defaults to `None` (no limit).
        verbose: int, Keras progress-bar verbosity.
        **fields: MirrorConfig fields that replace `config`'s (e.g. `epochs=1`).

    Returns:
        dict: `train_sentences`, `valid_sentences`, `epochs_run`, `train_seconds`,
        final `loss`/`val_loss`/`char_accuracy`/`val_char_accuracy`, the test
        metrics of `evaluate_mirror` on the best checkpoint (prefixed `test_`),
        `test_removed_seen_or_too_long` and `checkpoint` (the path of `best.keras`).

    Raises:
        ValueError: invalid settings or sentences; OSError: unwritable `output_dir`.
    """
    if config is not None and not isinstance(config, MirrorConfig):
        raise ValueError(f"Argument `config` must be a MirrorConfig. Received: "
                         f"config={type(config).__name__}")
    config = (MirrorConfig() if config is None else config).replace(**fields)
    if max_minutes is not None:
        checks.positive_number("max_minutes", max_minutes)
    os.makedirs(output_dir, exist_ok=True)
    keras.utils.set_random_seed(seed)
    splits = mirror_text.mirror_splits(text, valid_text, test_text, max_words=config.max_words,
                                max_length=config.max_length, augment=config.augment,
                                random_words=config.random_words, seed=seed)
    train_ds = data.make_dataset(splits.train, config.batch_size, config.max_length,
                                 shuffle=True, seed=seed)
    valid_ds = data.make_dataset(splits.valid, config.batch_size, config.max_length)
    model = build_mirror_model(config)
    best_path = os.path.join(output_dir, "best.keras")
    callbacks = [  # checkpoints are written to a temporary name and renamed: never half written
        AtomicModelCheckpoint(best_path, monitor="val_loss", save_best_only=True),
        keras.callbacks.BackupAndRestore(os.path.join(output_dir, "backup")),
        keras.callbacks.CSVLogger(os.path.join(output_dir, "log.csv"), append=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1),
    ]
    if max_minutes is not None:
        callbacks.append(TimeLimit(60.0 * max_minutes))
    start = time.perf_counter()
    history = model.fit(train_ds, validation_data=valid_ds, epochs=config.epochs,
                        callbacks=callbacks, verbose=verbose, shuffle=False)
    train_seconds = time.perf_counter() - start
    atomic_save(model, os.path.join(output_dir, "last.keras"))
    if not os.path.exists(best_path):  # resumed after the last epoch: nothing new to check
        atomic_save(model, best_path)
    best = load_mirror(best_path)
    result = {
        "train_sentences": len(splits.train),
        "valid_sentences": len(splits.valid),
        "epochs_run": len(history.history.get("loss", [])),
        "train_seconds": train_seconds,
        "checkpoint": best_path,
        "test_removed_seen_or_too_long": splits.removed,
    }
    for key, values in history.history.items():
        if values and key != "learning_rate":
            result[key] = float(values[-1])
    for key, value in evaluate_mirror(best, splits.test).items():
        result[f"test_{key}"] = value
    with open(os.path.join(output_dir, "metrics.csv"), "w", newline="") as f:
        csv.writer(f).writerows(sorted(result.items()))
    return result
