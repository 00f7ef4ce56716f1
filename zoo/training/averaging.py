"""NT-ASGD (AWD-LSTM): SGD that switches to averaging its iterates when validation stalls.

- `AveragedSGD`: `keras.optimizers.SGD` that, once started, keeps the arithmetic mean of its
  iterates. The averages, the step averaging started at, whether the model holds the
  averages, and the trigger's memory of validation losses are optimizer variables, so a
  backup of the weights with the optimizer (`AtomicBackupAndRestore`) holds all of it.
- `NTASGD`: the callback with the reference's non-monotonic trigger, the swap of the averages
  into the model for validation, checkpoints and the final model, and the fine-tuning stage.

The trigger is the reference code's rule (salesforce/awd-lstm-lm `main.py`; the paper's
printed rule is a misprint): with `history` the monitored values of the epochs before epoch
`t`, switch at the end of epoch `t` when `len(history) > nonmono and value_t >
min(history[:-nonmono])`.
"""

import keras
import numpy as np
from keras import ops

from zoo import checks
from zoo.training.states import _sync_backend_state


@keras.saving.register_keras_serializable(package="zoo")
class AveragedSGD(keras.optimizers.SGD):
    """`keras.optimizers.SGD` that can start keeping the arithmetic mean of its iterates.

    Until `start_averaging()` it is plain SGD. From then on, after every step `k = 1, 2,
    ...`, its `averages` hold `(w_1 + ... + w_k) / k`, the mean of the weights after each
    step since the start (torch's `ASGD(t0=0, lambd=0)` as AWD-LSTM uses it; torch's running
    mean leaves out the first of those iterates). Training always updates the raw weights;
    `swap_averages()` exchanges the model's weights with the averages (the `NTASGD` callback
    does it around validation and at epoch ends).

    Clipping (`global_clipnorm`, `clipnorm`) uses the norm of the gradient itself, as
    `torch.nn.utils.clip_grad_norm_`: on TensorFlow an Embedding's sparse gradient
    (`tf.IndexedSlices`) is made dense first, because TF would otherwise clip it by the
    norm of its rows before repeated ids are summed (a larger norm, so a smaller step).

    With `weight_decay` the step is Keras's decoupled one, `w -= lr·wd·w` then `w -= lr·g`
    with `g` the clipped gradient: for SGD without momentum that is torch's L2 step, since
    torch clips before its optimizer adds `wd·w` to the gradient.

    State, all optimizer variables (saved with the optimizer, restored by a backup): the
    `averages` (one per trainable variable), `average_start` (the step averaging started at,
    -1 before), `averages_in_model` (1 while the model holds the averages) and
    `monitor_memory` (what `NTASGD`'s trigger needs of past validation losses: the last
    `nonmono` values, the minimum of the ones before them, and their count).

    Args:
        learning_rate: float, as `keras.optimizers.SGD`. Defaults to `0.01`.
        nonmono: int >= 1, the trigger's window `n` (see `NTASGD`). Defaults to `5`.
        **kwargs: as `keras.optimizers.SGD` (`momentum`, `weight_decay`,
            `global_clipnorm`, ...). `use_ema` is refused: it is a different average.

    Example:
    ```python
    optimizer = AveragedSGD(30.0, global_clipnorm=0.25, weight_decay=1.2e-6)
    ```
    """

    def __init__(self, learning_rate=0.01, nonmono=5, name="averaged_sgd", **kwargs):
        if kwargs.get("use_ema"):
            raise ValueError("Argument `use_ema` must be False for AveragedSGD (it keeps "
                             "an arithmetic mean, not an EMA). Received: use_ema=True")
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.nonmono = checks.positive_int("nonmono", nonmono)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.averages = [self.add_variable_from_reference(v, "average") for v in variables]
        self.average_start = self.add_variable(
            (), initializer=keras.initializers.Constant(-1), dtype=self.iterations.dtype,
            name="average_start")
        self.averages_in_model = self.add_variable(
            (), initializer="zeros", dtype=self.iterations.dtype, name="averages_in_model")
        memory = np.zeros(self.nonmono + 2, np.float32)
        memory[self.nonmono] = np.inf  # min of the empty prefix
        self.monitor_memory = self.add_variable(
            memory.shape, initializer=keras.initializers.Constant(memory), dtype="float32",
            name="monitor_memory")

    def apply(self, grads, trainable_variables=None):
        if keras.backend.backend() != "tensorflow":
            return super().apply(grads, trainable_variables)
        import tensorflow as tf  # the backend: already imported

        if self.global_clipnorm or self.clipnorm:
            # TF clips a `tf.IndexedSlices` gradient (an Embedding's) by the norm of its
            # rows *before* duplicate ids are summed, not by the gradient's own norm.
            grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                     for g in grads]
        # In a traced train step whose data has run out (how every epoch of
        # `variable_bptt_dataset` ends), TF still runs the stateful ops that do not depend on
        # the batch before it raises: the weight decay and `iterations += 1`, a phantom step
        # per epoch. Tied to the gradients, nothing of the step runs without a batch.
        with tf.control_dependencies([g for g in grads if g is not None]):
            return super().apply(grads, trainable_variables)

    def update_step(self, gradient, variable, learning_rate):
        super().update_step(gradient, variable, learning_rate)
        average_variable = self.averages[self._get_variable_index(variable)]
        average = ops.convert_to_tensor(average_variable)
        start = ops.convert_to_tensor(self.average_start)
        # Steps since the start, this one included (`iterations` counts the steps before).
        count = ops.cast(ops.convert_to_tensor(self.iterations) - start + 1, variable.dtype)
        mean = average + (ops.convert_to_tensor(variable) - average) / ops.maximum(count, 1)
        self.assign(average_variable, ops.where(ops.greater_equal(start, 0), mean, average))

    def _read(self, variable):
        return keras.ops.convert_to_numpy(variable)

    @property
    def holds_averages(self):
        """Whether the model's variables hold the averages (swapped in) right now."""
        return bool(int(self._read(self.averages_in_model)))

    @property
    def averaging(self):
        """Whether averaging has started."""
        return int(self._read(self.average_start)) >= 0

    @property
    def averaged_steps(self):
        """Steps averaged so far (0 before the start)."""
        start = int(self._read(self.average_start))
        return 0 if start < 0 else int(self._read(self.iterations)) - start

    def start_averaging(self):
        """Averages the iterates from the next step on (a no-op when already averaging)."""
        if not self.averaging:
            self.average_start.assign(self._read(self.iterations))

    def restart_from_averages(self):
        """Fine-tuning's start: the averages (where any) become the raw weights, averaging
        restarts from the next step and the trigger forgets its history."""
        if self.averaged_steps > 0 and not self.holds_averages:
            self.swap_averages()
        self.averages_in_model.assign(0)
        memory = np.zeros(self.nonmono + 2, np.float32)
        memory[self.nonmono] = np.inf
        self.monitor_memory.assign(memory)
        self.average_start.assign(self._read(self.iterations))

    def swap_averages(self):
        """Exchanges the trainable variables' values with their averages (exact copies)."""
        for variable, average in zip(self._trainable_variables, self.averages):
            raw = self._read(variable)
            variable.assign(self._read(average))
            average.assign(raw)
        self.averages_in_model.assign(1 - int(self._read(self.averages_in_model)))

    def get_config(self):
        config = super().get_config()
        config.update({"nonmono": self.nonmono})
        return config


def nonmonotonic_step(memory, value, nonmono):
    """One epoch of the trigger: `(fires, new_memory)` for the monitored `value`.

    `memory` holds the last `nonmono` values of the history (oldest first), then the
    minimum of the values before them, then the history's length. The trigger fires when
    the history holds more than `nonmono` values and `value` is above the minimum of all but
    its last `nonmono`; `value` is then appended. Values are compared as float32 (as stored).
    """
    memory = np.array(memory, np.float32)
    window, prefix_min, count = memory[:nonmono], memory[nonmono], int(memory[nonmono + 1])
    value = np.float32(value)
    fires = bool(count > nonmono and value > prefix_min)
    if count >= nonmono:
        memory[nonmono] = min(prefix_min, window[0])
        memory[:nonmono] = np.append(window[1:], value)
    else:
        memory[count] = value
    memory[nonmono + 1] = count + 1
    return fires, memory


@keras.saving.register_keras_serializable(package="zoo")
class NTASGD(keras.callbacks.Callback):
    """Non-monotonically triggered averaging (NT-ASGD) for a model compiled with `AveragedSGD`.

    `mode="switch"` (the main run, `main.py` of AWD-LSTM): at each epoch end, until
    averaging starts, the monitored value (`val_loss`) is checked against the trigger:
    with `history` the values of the epochs before, averaging starts when
    `len(history) > nonmono and value > min(history[:-nonmono])` (`nonmono` is the
    optimizer's); the value is then appended to the history.

    `mode="finetune"` (`finetune.py`): averaging starts at the first step of this `fit`
    (compile a fresh `AveragedSGD` on the averaged model of the main run), and at each
    epoch end the same rule, on the averaged model's value, stops training.

    In both modes, once at least one step is averaged, the model holds the *averages* for
    validation (swapped in at `on_test_begin`), at every epoch end (swapped in at
    `on_epoch_end`, so checkpoints and the backup see them) and when `fit` returns (the
    final model); the raw weights are swapped back at the next epoch start, and training
    continues on them. The trigger's memory and the swap state are optimizer variables,
    so a run resumed from `AtomicBackupAndRestore` continues exactly.

    `finetune_epoch=e` runs both stages in one `fit`: `"switch"` up to epoch `e`, then at
    the start of epoch `e` the averaged weights become the model's
    (`AveragedSGD.restart_from_averages`) and the epochs from `e` on are `"finetune"`'s. The
    restart is at that epoch's start, so a run resumed at any epoch continues exactly.

    Callback order: put `NTASGD` *before* `AtomicModelCheckpoint` (the best model is the
    averaged one) and `AtomicBackupAndRestore` (last), e.g. `[VariableBPTT(ds),
    StatefulRNNCallback(), NTASGD(), AtomicModelCheckpoint(...), AtomicBackupAndRestore(...)]`.
    Always `fit` a model whose optimizer is averaging with this callback: without it the
    raw weights and the averages are not swapped back.

    Args:
        monitor: str, the epoch log the trigger reads. Defaults to `"val_loss"`.
        mode: `"switch"` or `"finetune"`. Defaults to `"switch"`.
        finetune_epoch: int >= 1 or None, the first epoch of the fine-tuning stage (with
            `mode="switch"`). Defaults to `None`: no fine-tuning in this `fit`.

    Attributes:
        switch_epoch: int or None, the epoch at whose end this callback started averaging
            (None in a run resumed after the switch: the optimizer's `average_start` and
            the `averaged_steps` added to the epoch logs say it there).

    Example:
    ```python
    model.compile(optimizer=AveragedSGD(30.0, global_clipnorm=0.25, weight_decay=1.2e-6),
                  loss=...)
    model.fit(ds, validation_data=valid_ds, epochs=500, callbacks=[NTASGD()])
    ```
    """

    def __init__(self, monitor="val_loss", mode="switch", finetune_epoch=None):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"Argument `monitor` must be the name of a log. "
                             f"Received: monitor={monitor!r}")
        self.monitor = monitor
        self.mode = checks.one_of("mode", mode, ("switch", "finetune"))
        if finetune_epoch is not None:
            finetune_epoch = checks.positive_int("finetune_epoch", finetune_epoch)
            if mode != "switch":
                raise ValueError("Argument `finetune_epoch` needs mode='switch'. "
                                 f"Received: finetune_epoch={finetune_epoch}, mode={mode!r}")
        self.finetune_epoch = finetune_epoch
        self._stage_mode = self.mode
        self.switch_epoch = None
        self._in_fit = False

    def _optimizer(self):
        optimizer = self.model.optimizer
        if not isinstance(optimizer, AveragedSGD):
            raise ValueError(f"NTASGD needs a model compiled with AveragedSGD. "
                             f"Received: optimizer={type(optimizer).__name__}")
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        _sync_backend_state(self.model)
        return optimizer

    def _swap_in(self):
        optimizer = self._optimizer()
        if optimizer.averaged_steps > 0 and not optimizer.holds_averages:
            optimizer.swap_averages()

    def on_train_begin(self, logs=None):
        self._optimizer()  # fails early without AveragedSGD
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self._optimizer()
        finetuning = self.finetune_epoch is not None and epoch >= self.finetune_epoch
        self._stage_mode = "finetune" if finetuning else self.mode
        if finetuning and epoch == self.finetune_epoch:
            optimizer.restart_from_averages()
        if optimizer.holds_averages:
            optimizer.swap_averages()  # train on the raw weights
        if self._stage_mode == "finetune":
            optimizer.start_averaging()

    def on_test_begin(self, logs=None):
        if self._in_fit:
            self._swap_in()

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self._optimizer()
        if self._stage_mode == "finetune" or not optimizer.averaging:
            logs = logs or {}
            if self.monitor not in logs:
                raise ValueError(f"NTASGD monitors `{self.monitor}`, which is not in the "
                                 f"epoch logs (keys: {sorted(logs)}); validate every epoch")
            fires, memory = nonmonotonic_step(
                keras.ops.convert_to_numpy(optimizer.monitor_memory), logs[self.monitor],
                optimizer.nonmono)
            optimizer.monitor_memory.assign(memory)
            if fires and self._stage_mode == "switch":
                optimizer.start_averaging()
                self.switch_epoch = epoch
            elif fires:
                self.model.stop_training = True
        if logs is not None:
            logs["averaged_steps"] = float(optimizer.averaged_steps)
        self._swap_in()

    def get_config(self):
        return {"monitor": self.monitor, "mode": self.mode,
                "finetune_epoch": self.finetune_epoch}
