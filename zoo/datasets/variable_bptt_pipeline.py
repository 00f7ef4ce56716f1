"""`VariableBPTTDataset`: the variable-length stateful batches of AWD-LSTM as a PyDataset.

Why a `keras.utils.PyDataset` whose length changes: Keras 3.15's `fit` reads the number of
batches of its data once, when it starts, and then loops at most that many steps each epoch,
ending an epoch early when the data runs out (Keras then warns "Your input ran out of
data", which `zoo.training.VariableBPTT` silences for the run). A PyDataset is asked for
its `num_batches` again every time an epoch's iteration starts, on TensorFlow (through
`tf.data.Dataset.from_generator`) and on JAX, so:

- outside an epoch, `num_batches` is a bound: one more than the longest epoch of the run,
  so every epoch ends by running out of data and the next one starts a fresh pass;
- inside epoch `e` (set by the callback at `on_epoch_begin`), it is `len(plan(e))`.

A `tf.data.Dataset` cannot do this: one whose length is unknown has it fixed by `fit` after
the first epoch, and one whose length is declared cannot end early. Keras imports this module
only when `variable_bptt_dataset` is called.
"""

import keras
import numpy as np

from zoo import checks
from zoo.datasets.ptb_pipeline import _as_ids
from zoo.datasets.bptt_plan import bptt_lengths


class VariableBPTTDataset(keras.utils.PyDataset):
    """The batches of `variable_bptt_dataset` (build it with that function).

    Args:
        ids: 1-D int array of token ids.
        batch_size: int, rows per batch.
        seed: int >= 0, the seed of the plans.
        epochs: int, how many epochs the dataset serves (epochs `0 .. epochs - 1`).
        bptt: int >= 5, the mean sequence length. Defaults to `70`.
        bucket: int or None, see `bptt_lengths`. Defaults to `None`.

    Attributes:
        data: int32 array `(batch_size, len(ids) // batch_size)`, the batchified ids.
        epoch: int or None, the epoch being served (set by `set_epoch`).
    """

    def __init__(self, ids, batch_size, seed, epochs, bptt=70, bucket=None):
        super().__init__()
        ids = _as_ids(ids)
        self.batch_size = checks.positive_int("batch_size", batch_size)
        self.epochs = checks.positive_int("epochs", epochs)
        self.seed, self.bptt, self.bucket = seed, bptt, bucket
        row = len(ids) // self.batch_size
        if row < 3:
            raise ValueError(f"Argument `ids` must hold at least 3 tokens a row of "
                             f"batch_size={self.batch_size}. Received: {len(ids)} ids")
        self.data = ids[: self.batch_size * row].reshape(self.batch_size, row)
        self.epoch = None
        self._plan = (None, None)
        # Checks seed, bptt and bucket, before fit starts: every epoch's plan is drawn once.
        self.max_batches = max(len(self.plan(e)) for e in range(self.epochs))

    def plan(self, epoch):
        """`bptt_lengths` of `epoch` over one row of this dataset (a `BPTTPlan`).

        Raises:
            ValueError: for a bad argument, or a plan without a batch (a row shorter than
                one `bucket`).
        """
        if self._plan[0] == epoch:
            return self._plan[1]
        plan = bptt_lengths(self.seed, epoch, self.data.shape[1], self.bptt, self.bucket)
        if not len(plan):
            raise ValueError(f"Argument `ids` must hold at least one bucket of "
                             f"{self.bucket} tokens a row. Received: {self.data.shape[1]} "
                             f"tokens a row")
        self._plan = (epoch, plan)
        return plan

    def set_epoch(self, epoch):
        """Serves the batches of `epoch` (0-based) from now on; `None` ends the epoch.

        Raises:
            ValueError: when `epoch` is not in `0 .. epochs - 1`.
        """
        if epoch is not None:
            epoch = checks.non_negative_int("epoch", epoch)
            if epoch >= self.epochs:
                raise ValueError(f"Argument `epoch` must be < epochs={self.epochs} (the "
                                 f"dataset was built for {self.epochs} epochs). "
                                 f"Received: epoch={epoch}")
        self.epoch = epoch

    @property
    def num_batches(self):
        if self.epoch is None:
            return self.max_batches + 1
        return len(self.plan(self.epoch))

    def __len__(self):
        return self.num_batches

    def __getitem__(self, index):
        if self.epoch is None:
            # Only Keras's TensorFlow adapter asks before the first epoch, for two batches
            # from which it infers the element spec: lengths 1 and 2 make the time axis None.
            zeros = np.zeros((self.batch_size, index + 1), np.int32)
            return zeros, zeros
        plan = self.plan(self.epoch)
        start, length = int(plan.starts[index]), int(plan.lengths[index])
        x = self.data[:, start : start + length]
        y = self.data[:, start + 1 : start + 1 + length]
        return np.ascontiguousarray(x), np.ascontiguousarray(y)
