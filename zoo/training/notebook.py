"""The text8 notebook's report during `fit`: summaries, validation and its step count.

- `StepSummary`: every `every_n_steps` steps, the average loss since the last summary, the
  minibatch perplexity and the learning rate, printed as the notebook prints them.
- `NotebookValidation`: the notebook's validation perplexity (`notebook_perplexity`) every
  `every_n_steps` steps, printed, and at each epoch end into the logs under `name`.
- `StopAtStep`: ends `fit` after a number of steps inside an epoch (the notebook's 7,001).

Steps count from the start of training, 0-based (epoch × steps_per_epoch + batch): step 0 is
the first update, and the notebook reports after it.
"""

import math

import keras

from zoo import checks
from zoo.training.sampling import _global_step
from zoo.training.sampling import _verbose
from zoo.training.sampling import batch_copy
from zoo.training.sampling import input_width
from zoo.training.sampling import notebook_perplexity
from zoo.training.states import _sync_backend_state


@keras.saving.register_keras_serializable(package="zoo")
class StepSummary(keras.callbacks.Callback):
    """Prints the text8 notebook's summary every `every_n_steps` training steps.

    `Average loss at step S: L learning rate: R` and `Minibatch perplexity: P`, where L is the
    mean training loss of the steps since the previous summary (step 0's own loss at step
    0; the notebook's `mean_loss`), P is `exp` of the cross-entropy of step S's batch (from
    the `perplexity` metric; `exp(loss)` without it) and R the optimizer's learning rate at
    step S. Keras logs running means over the epoch; the per-batch values are recovered
    from them. Nothing is printed with `fit(verbose=0)`; every summary is kept in `history`
    as a dict (`step`, `loss`, `minibatch_perplexity`, `learning_rate`).

    Args:
        every_n_steps: int, the notebook's `summary_frequency`. Defaults to `100`.
    """

    def __init__(self, every_n_steps=100):
        super().__init__()
        self.every_n_steps = checks.positive_int("every_n_steps", every_n_steps)
        self.history = []
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self._loss_sum, self._count = 0.0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._last = (-1, 0.0, 0.0)  # batch, running loss, running log-perplexity

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        last_batch, last_loss, last_log_ppl = self._last
        done, before = batch + 1, last_batch + 1  # batches of the epoch so far, and before
        loss = float(logs.get("loss", math.nan))
        log_ppl = math.log(float(logs["perplexity"])) if "perplexity" in logs else loss
        steps = done - before
        batch_loss = (done * loss - before * last_loss) / steps
        batch_log_ppl = (done * log_ppl - before * last_log_ppl) / steps
        self._last = (batch, loss, log_ppl)
        self._loss_sum += batch_loss * steps
        self._count += steps
        step = _global_step(self, self._epoch, batch)
        if step % self.every_n_steps:
            return
        _sync_backend_state(self.model)
        entry = {"step": step, "loss": self._loss_sum / self._count,
                 "minibatch_perplexity": math.exp(batch_log_ppl),
                 "learning_rate": float(keras.ops.convert_to_numpy(
                     self.model.optimizer.learning_rate))}
        self._loss_sum, self._count = 0.0, 0
        self.history.append(entry)
        if _verbose(self):
            print(f"\nAverage loss at step {step}: {entry['loss']:f} learning rate: "
                  f"{entry['learning_rate']:f}\nMinibatch perplexity: "
                  f"{entry['minibatch_perplexity']:.2f}", flush=True)

    def get_config(self):
        return {"every_n_steps": self.every_n_steps}


@keras.saving.register_keras_serializable(package="zoo")
class NotebookValidation(keras.callbacks.Callback):
    """The text8 notebook's validation perplexity, every `every_n_steps` steps and per epoch.

    Runs `notebook_perplexity` (batch 1, `num_predictions` one-token predictions from a
    zero state, the last target wrapping to the first id) on the current weights at every
    step that is a multiple of `every_n_steps` (printed as `Validation set perplexity: P`,
    kept in `history` as `(step, P)`) and at the end of every epoch, where it goes into the
    epoch logs as `name` (hence `History`, `CSVLogger` and a checkpoint monitoring it: put
    this callback before them). A copy at batch 1 is built once and reused.

    Args:
        valid_ids: 1-D int array, the validation ids.
        every_n_steps: int, the notebook's `summary_frequency`. Defaults to `100`.
        num_predictions: int, predictions scored. Defaults to `1000` (`valid_size`).
        stride: int, positions between two predictions (2: the bigram notebook's every
            other pair). Defaults to `1`.
        name: str, the key in the epoch logs. Defaults to `"val_perplexity"`.
        label: str, the printed label. Defaults to `"Validation set perplexity"`.
    """

    def __init__(self, valid_ids, every_n_steps=100, num_predictions=1000, stride=1,
                 name="val_perplexity", label="Validation set perplexity"):
        super().__init__()
        self.valid_ids = valid_ids
        self.every_n_steps = checks.positive_int("every_n_steps", every_n_steps)
        self.num_predictions = checks.positive_int("num_predictions", num_predictions)
        self.stride = checks.positive_int("stride", stride)
        self.name, self.label = name, label
        self.history = []
        self._copy = None
        self._epoch = 0
        self._last = None  # (step, perplexity) of the last computation

    def perplexity(self):
        """The notebook's validation perplexity of the model's current weights."""
        if self._copy is None:
            width = input_width(self.model)
            length = self.num_predictions + width - 1 if self.stride == 1 else width
            self._copy = batch_copy(self.model, length)
        return notebook_perplexity(self.model, self.valid_ids, self.num_predictions,
                                   self.stride, copy=self._copy)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._step = _global_step(self, self._epoch, batch)
        if self._step % self.every_n_steps == 0:
            value = self.perplexity()
            self._last = (self._step, value)
            self.history.append((self._step, value))
            if _verbose(self):
                print(f"{self.label}: {value:.2f}", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        step = getattr(self, "_step", None)
        if self._last is not None and self._last[0] == step:
            value = self._last[1]  # no update since
        else:
            value = self.perplexity()
        if logs is not None:
            logs[self.name] = value

    def get_config(self):
        return {"every_n_steps": self.every_n_steps, "num_predictions": self.num_predictions,
                "stride": self.stride, "name": self.name, "label": self.label}


@keras.saving.register_keras_serializable(package="zoo")
class StopAtStep(keras.callbacks.Callback):
    """Stops `fit` once `total_steps` training steps are done, mid-epoch if need be.

    The epoch that stops is finished as usual (validation, epoch-end callbacks): with 7
    epochs of 1,000 steps, `fit(epochs=8, callbacks=[StopAtStep(7001)])` runs the text8
    notebook's 7,001 updates, the last epoch holding one step.

    Args:
        total_steps: int, training steps in all (counted as epoch × steps + batch + 1).
    """

    def __init__(self, total_steps):
        super().__init__()
        self.total_steps = checks.positive_int("total_steps", total_steps)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if _global_step(self, self._epoch, batch) + 1 >= self.total_steps:
            self.model.stop_training = True

    def get_config(self):
        return {"total_steps": self.total_steps}
