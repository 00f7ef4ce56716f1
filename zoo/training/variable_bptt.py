"""`VariableBPTT`: drives a variable-length BPTT dataset and scales each batch's learning rate."""

import warnings

import keras

from zoo.training.states import _sync_backend_state

#: The warning Keras gives when an epoch ends because its data ran out: every epoch of a
#: variable-length dataset ends that way (see `zoo.datasets.variable_bptt_pipeline`).
_RAN_OUT = r"Your input ran out of data"


class VariableBPTT(keras.callbacks.Callback):
    """Serves epoch `e`'s plan of a variable-length BPTT dataset and scales its learning rates.

    At every epoch start the dataset is told the epoch (`dataset.set_epoch(epoch)`), so it
    yields that epoch's batches, also when `fit` starts at `initial_epoch` or is resumed by
    `AtomicBackupAndRestore`. Before batch `k` the optimizer's learning rate is multiplied
    by `dataset.plan(epoch).lr_scales[k]` (the batch's length over `bptt`, as AWD-LSTM
    does), and after the batch the rate it had before is written back. The learning rate is
    scaled, not the loss: gradient clipping would undo a scaled loss. The base rate is
    whatever the optimizer holds when the batch starts, so a schedule that sets it at epoch
    start (`keras.callbacks.LearningRateScheduler`) or batch start (`StepDecay`) composes
    with this, provided it comes *before* this callback in the list.

    While `fit` runs, Keras's warning "Your input ran out of data" is silenced: every epoch
    of the dataset ends that way by design.

    Args:
        dataset: the `keras.utils.PyDataset` of `zoo.datasets.variable_bptt_dataset` (any
            object with `set_epoch(epoch)` and `plan(epoch).lr_scales`).

    Example:
    ```python
    ds, fit_kwargs = zoo.datasets.variable_bptt_dataset(ids, 20, seed=1, epochs=500)
    model.compile(optimizer=keras.optimizers.SGD(30.0, global_clipnorm=0.25), ...)
    model.fit(ds, callbacks=[VariableBPTT(ds), StatefulRNNCallback()], **fit_kwargs)
    ```

    Not registered for serialization: its argument is a dataset, which has no config.

    The optimizer's learning rate must be a float (an optimizer built with a
    `LearningRateSchedule` object raises `TypeError`).
    """

    def __init__(self, dataset):
        super().__init__()
        for name in ("set_epoch", "plan"):
            if not callable(getattr(dataset, name, None)):
                raise ValueError(f"Argument `dataset` must have a `{name}` method (a "
                                 f"dataset of variable_bptt_dataset). Received: "
                                 f"dataset={type(dataset).__name__}")
        self.dataset = dataset
        self._scales = ()
        self._base = None
        self._filter = None

    def on_train_begin(self, logs=None):
        self._filter = warnings.catch_warnings()
        self._filter.__enter__()
        warnings.filterwarnings("ignore", message=_RAN_OUT, category=UserWarning)

    def on_train_end(self, logs=None):
        self.dataset.set_epoch(None)
        if self._filter is not None:
            self._filter.__exit__(None, None, None)  # the filters as they were before fit
            self._filter = None

    def on_epoch_begin(self, epoch, logs=None):
        self.dataset.set_epoch(epoch)
        self._scales = self.dataset.plan(epoch).lr_scales
        self._base = None

    def on_epoch_end(self, epoch, logs=None):
        self._restore()
        self.dataset.set_epoch(None)

    def on_train_batch_begin(self, batch, logs=None):
        # Keras calls this once more at the end of an epoch, for the batch that is not there.
        if batch >= len(self._scales):
            return
        _sync_backend_state(self.model)
        optimizer = self.model.optimizer
        self._base = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        optimizer.learning_rate = self._base * float(self._scales[batch])

    def on_train_batch_end(self, batch, logs=None):
        self._restore()

    def _restore(self):
        if self._base is not None:
            _sync_backend_state(self.model)
            self.model.optimizer.learning_rate = self._base
            self._base = None
