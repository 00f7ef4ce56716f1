"""Word ids as the TensorFlow PTB tutorial batches them, for stateful models.

- `epoch_size(num_ids, batch_size, num_steps)`: batches in one pass.
- `ptb_iterator` (numpy, the tutorial's generator) and `ptb_dataset` (tf.data):
  the same `(x, y)` batches in the same order. Row `b` of batch `k + 1`
  continues row `b` of batch `k`, which is what a stateful RNN needs.

Only `ptb_dataset` imports TensorFlow.
"""

import numpy as np

from zoo import checks


def epoch_size(num_ids, batch_size, num_steps):
    """Batches per epoch: `((num_ids // batch_size) - 1) // num_steps`.

    Args:
        num_ids: int, number of token ids.
        batch_size: int, rows per batch.
        num_steps: int, time steps per batch.

    Returns:
        int > 0.

    Raises:
        ValueError: when not even one batch fits.
    """
    batch_size = checks.positive_int("batch_size", batch_size)
    num_steps = checks.positive_int("num_steps", num_steps)
    size = ((int(num_ids) // batch_size) - 1) // num_steps
    if size <= 0:
        raise ValueError(
            f"batch_size × num_steps larger than the data: {num_ids} ids give "
            f"{int(num_ids) // batch_size} per row with `batch_size={batch_size}`, but "
            f"`num_steps={num_steps}` needs at least {num_steps + 1}; decrease `batch_size` "
            "or `num_steps`, or use more data."
        )
    return size


def _as_ids(ids):
    ids = np.asarray(ids)
    if ids.ndim != 1:
        checks.invalid("ids", "1-D", ids, shown=f"array of shape {ids.shape}")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        checks.invalid("ids", "integers", ids, shown=f"array of dtype {ids.dtype}")
    return ids.astype(np.int32, copy=False)


def ptb_iterator(ids, batch_size, num_steps):
    """Yields `(x, y)` batches exactly as the TensorFlow PTB tutorial's iterator.

    The ids are cut into `batch_size` contiguous rows of `batch_len = n //
    batch_size`; batch `i` is columns `[i·num_steps, (i+1)·num_steps)` and `y` is
    `x` shifted by one. The remainder of the data is dropped.

    Args:
        ids: 1-D int array of token ids.
        batch_size: int, rows per batch.
        num_steps: int, time steps per batch.

    Yields:
        `(x, y)`, int32 arrays of shape `(batch_size, num_steps)`.

    Example:
    >>> x, y = next(ptb_iterator(list(range(10)), 2, 2))
    >>> x.tolist(), y.tolist()
    ([[0, 1], [5, 6]], [[1, 2], [6, 7]])
    """
    raw_data = _as_ids(ids)
    size = epoch_size(len(raw_data), batch_size, num_steps)
    batch_len = len(raw_data) // batch_size
    data = np.zeros([batch_size, batch_len], dtype=np.int32)
    for i in range(batch_size):
        data[i] = raw_data[batch_len * i : batch_len * (i + 1)]
    for i in range(size):
        x = data[:, i * num_steps : (i + 1) * num_steps]
        y = data[:, i * num_steps + 1 : (i + 1) * num_steps + 1]
        yield (x, y)


def ptb_dataset(ids, batch_size, num_steps):
    """A `tf.data.Dataset` of the same `(x, y)` batches as `ptb_iterator`.

    Same batches, same order, no shuffling, no remainder: row `b` of batch
    `k + 1` continues row `b` of batch `k`, so it can feed a stateful model
    (`keras.Input(batch_shape=(batch_size, num_steps))`). Elements have the
    static shape `(batch_size, num_steps)` and dtype int32. One pass is one epoch
    of `epoch_size(len(ids), batch_size, num_steps)` batches.

    Args:
        ids: 1-D int array of token ids.
        batch_size: int, rows per batch.
        num_steps: int, time steps per batch.

    Returns:
        A finite, prefetched `tf.data.Dataset` of `(x, y)`.

    Example:
    >>> ds = ptb_dataset(data.train, batch_size=20, num_steps=20)  # doctest: +SKIP
    >>> model.fit(ds, epochs=13, shuffle=False)  # doctest: +SKIP
    """
    import tensorflow as tf  # noqa: PLC0415

    ids = _as_ids(ids)
    size = epoch_size(len(ids), batch_size, num_steps)
    batch_len = len(ids) // batch_size
    data = ids[: batch_size * batch_len].reshape(batch_size, batch_len)
    span = size * num_steps
    # [batch, size, steps] -> [size, batch, steps]: one slice per batch.
    x = data[:, :span].reshape(batch_size, size, num_steps).transpose(1, 0, 2)
    y = data[:, 1 : span + 1].reshape(batch_size, size, num_steps).transpose(1, 0, 2)
    ds = tf.data.Dataset.from_tensor_slices((np.ascontiguousarray(x), np.ascontiguousarray(y)))
    return ds.prefetch(tf.data.AUTOTUNE)
