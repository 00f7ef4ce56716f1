"""A recipe's callbacks and `fit` arguments: what `train.py` and `train.py tune` give `fit`."""

import math

import keras

from zoo.training.averaging import NTASGD
from zoo.training.callbacks import StatefulRNNCallback
from zoo.training.callbacks import StepDecay
from zoo.training.callbacks import WordsPerSecond
from zoo.training.notebook import NotebookValidation
from zoo.training.notebook import StepSummary
from zoo.training.notebook import StopAtStep
from zoo.training.sampling import SampleText
from zoo.training.sampling import notebook_perplexity
from zoo.training.schedules import notebook_lr_schedule
from zoo.training.schedules import ptb_lr_schedule
from zoo.training.variable_bptt import VariableBPTT


def fit_kwargs(config):
    """`fit`'s `epochs`, `shuffle` (never: the batches are stateful) and `steps_per_epoch`.

    `epochs` is `config.fit_epochs`: `max_max_epoch`, one short last epoch more where
    `config.extra_steps` is set (`recipe_callbacks` stops it in time), and AWD-LSTM's
    fine-tuning epochs.

    Args:
        config: LMConfig, the recipe.

    Returns:
        dict of `fit` keyword arguments.
    """
    kwargs = {"epochs": config.fit_epochs, "shuffle": False}
    if config.steps_per_epoch:
        kwargs["steps_per_epoch"] = config.steps_per_epoch
    return kwargs


def recipe_callbacks(config, on_nan=None, valid_ids=None, vocab=None, train_data=None):
    """Fresh callbacks that train `config` as its recipe says.

    - `StatefulRNNCallback`: stream data read in `steps_per_epoch` slices (text8) carries its
      states across Keras epochs; one-pass data (PTB) starts every epoch from zero, as the
      tutorial does.
    - `WordsPerSecond(batch_size × num_steps)`.
    - `on_nan`, default `keras.callbacks.TerminateOnNaN()` (a tuner's diverged trial is a
      bad trial; `train.py` passes `StopOnNaN()`, which ends the run with an error).
    - `StopAtStep(config.train_steps)` where `config.extra_steps` adds a short last epoch.
    - The text8 notebook's report where `config.summary_frequency` is set and `valid_ids`
      given (`train.py`; the tuner validates per epoch): `notebook_report_callbacks`.
    - The recipe's learning-rate schedule (`config.schedule`: "ptb", "notebook", "step" or
      none), so that `learning_rate` reaches the loggers added after these.
    - AWD-LSTM (`config.nonmono`): `VariableBPTT(train_data)` where `train_data` is a
      variable-length dataset (its lengths scale the scheduled rate), then `NTASGD`
      (switching to averaged SGD, then the fine-tuning stage from epoch `max_max_epoch`).
      Add checkpoints and backups after these callbacks: they see the averaged weights.

    Args:
        config: LMConfig, the recipe.
        on_nan: Callback or None, what stops a diverged run.
        valid_ids: 1-D int array or None, the validation ids of the notebook's report.
        vocab: list of str or None, the id → token list the report's samples print with.
        train_data: the training data `fit` gets (AWD-LSTM's variable-length dataset).

    Returns:
        list of `keras.callbacks.Callback`.
    """
    callbacks = [
        StatefulRNNCallback(reset_on_epoch_begin=not config.steps_per_epoch),
        WordsPerSecond(config.batch_size * config.num_steps),
        on_nan if on_nan is not None else keras.callbacks.TerminateOnNaN(),
    ]
    if config.extra_steps:
        callbacks.append(StopAtStep(config.train_steps))
    if config.summary_frequency and valid_ids is not None:
        callbacks += notebook_report_callbacks(config, valid_ids, vocab)
    if config.schedule == "ptb":
        callbacks.append(keras.callbacks.LearningRateScheduler(
            ptb_lr_schedule(config.learning_rate, config.lr_decay, config.max_epoch)))
    elif config.schedule == "notebook":
        callbacks.append(keras.callbacks.LearningRateScheduler(
            notebook_lr_schedule(config.learning_rate, config.lr_decay, config.max_max_epoch)))
    elif config.schedule == "step":
        callbacks.append(StepDecay(config.learning_rate, factor=config.lr_decay,
                                   every=config.decay_steps))
    if callable(getattr(train_data, "set_epoch", None)):
        callbacks.append(VariableBPTT(train_data))
    if getattr(config, "nonmono", None):
        callbacks.append(NTASGD(finetune_epoch=(config.max_max_epoch
                                                if config.finetune_epochs else None)))
    return callbacks


def notebook_report_callbacks(config, valid_ids, vocab=None):
    """The text8 notebook's report, in its order: every `config.summary_frequency` steps
    `StepSummary`, every 10 × `summary_frequency` 5 samples of 80 tokens (`SampleText`, with
    `vocab`), then `NotebookValidation` at `config.valid_stride` (into the logs as
    `val_perplexity`); a bigram recipe validating every other pair also logs the
    overlapping-pair figure as `val_overlap_perplexity`."""
    every = config.summary_frequency
    callbacks = [StepSummary(every)]
    if vocab is not None:
        sep = " " if any(len(token) > 1 for token in vocab) else ""
        callbacks.append(SampleText(10 * every, num_samples=5, length=80,
                                    decode=lambda ids: sep.join(vocab[i] for i in ids)))
    callbacks.append(NotebookValidation(valid_ids, every, stride=config.valid_stride))
    if config.valid_stride != 1:
        callbacks.append(NotebookValidation(
            valid_ids, every, name="val_overlap_perplexity",
            label="Validation set perplexity (overlapping pairs)"))
    return callbacks


def notebook_valid_results(model, config, valid_ids):
    """results.json's validation figures of a recipe with `summary_frequency`, labelled.

    `valid_perplexity` is the notebook's (`notebook_perplexity` at `config.valid_stride`);
    with `valid_stride` ≠ 1 `valid_overlap_perplexity` scores every position as well.
    """
    out = {"valid_perplexity": notebook_perplexity(model, valid_ids,
                                                   stride=config.valid_stride),
           "valid_method": "notebook: exp mean loss of 1000 predictions at batch 1 from a "
                           "reset state, the last target wrapping"
                           + {1: "", 2: " (every other pair)"}.get(
                               config.valid_stride, f" (stride {config.valid_stride})")}
    if config.valid_stride != 1:
        out["valid_overlap_perplexity"] = notebook_perplexity(model, valid_ids)
    return out


class TrainingDiverged(ValueError):
    """The loss or the perplexity stopped being finite."""


class StopOnNaN(keras.callbacks.Callback):
    """`keras.callbacks.TerminateOnNaN` that ends the run with an error, not a result.

    TerminateOnNaN only stops `fit`, and only on a NaN/inf loss; a run would then save,
    evaluate and report the broken weights. This raises `TrainingDiverged` as soon as the
    loss or the perplexity (the exp of a finite but huge loss) is not finite; a backup of the
    last finished epoch stays.
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        values = {k: float(logs[k]) for k in ("loss", "perplexity") if k in logs}
        if not all(math.isfinite(v) for v in values.values()):
            shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
            raise TrainingDiverged(
                f"training diverged at epoch {self.epoch + 1}, batch {batch + 1} ({shown})")
