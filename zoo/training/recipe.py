"""The callbacks of a recipe: what `train.py` and `train.py tune` both give `fit`."""

import math

import keras

from zoo.training.callbacks import StatefulRNNCallback
from zoo.training.callbacks import StepDecay
from zoo.training.callbacks import WordsPerSecond
from zoo.training.schedules import notebook_lr_schedule
from zoo.training.schedules import ptb_lr_schedule


def recipe_callbacks(config, on_nan=None):
    """Fresh callbacks that train `config` as its recipe says.

    - `StatefulRNNCallback`: stream data read in `steps_per_epoch` slices (text8) carries its
      states across Keras epochs; one-pass data (PTB) starts every epoch from zero, as the
      tutorial does.
    - `WordsPerSecond(batch_size × num_steps)`.
    - `on_nan`, default `keras.callbacks.TerminateOnNaN()` (a tuner's diverged trial is a
      bad trial; `train.py` passes `StopOnNaN()`, which ends the run with an error).
    - The recipe's learning-rate schedule (`config.schedule`: "ptb", "notebook", "step" or
      none), last, so that `learning_rate` reaches the loggers added after these.

    Args:
        config: LMConfig, the recipe.
        on_nan: Callback or None, what stops a diverged run.

    Returns:
        list of `keras.callbacks.Callback`.
    """
    callbacks = [
        StatefulRNNCallback(reset_on_epoch_begin=not config.steps_per_epoch),
        WordsPerSecond(config.batch_size * config.num_steps),
        on_nan if on_nan is not None else keras.callbacks.TerminateOnNaN(),
    ]
    if config.schedule == "ptb":
        callbacks.append(keras.callbacks.LearningRateScheduler(
            ptb_lr_schedule(config.learning_rate, config.lr_decay, config.max_epoch)))
    elif config.schedule == "notebook":
        callbacks.append(keras.callbacks.LearningRateScheduler(
            notebook_lr_schedule(config.learning_rate, config.lr_decay, config.max_max_epoch)))
    elif config.schedule == "step":
        callbacks.append(StepDecay(config.learning_rate, factor=config.lr_decay,
                                   every=config.decay_steps))
    return callbacks


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
