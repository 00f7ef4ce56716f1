"""text8 batches: the notebook's `BatchGenerator` and the tf.data pipeline of the same batches.

- `BatchGenerator`: the notebook's generator, one-hot `[batch, 27]` steps.
- `text8_dataset`: a tf.data pipeline of the same batches as ids, plus the
  bigram variant; `char_epoch_size` is the number of batches in one pass.

Only `text8_dataset` imports TensorFlow. All names are importable from
`zoo.datasets.text8` too.
"""

import numpy as np

from zoo import checks
from zoo.datasets.alphabet import VOCAB_SIZE
from zoo.datasets.alphabet import id2char
from zoo.datasets.alphabet import text_to_ids


def _as_char_ids(text_or_ids):
    if isinstance(text_or_ids, str):
        ids, _ = text_to_ids(text_or_ids, warn=True)
        return ids
    ids = np.asarray(text_or_ids)
    if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
        checks.invalid("text_or_ids", "a str or a 1-D int array of character ids", ids,
                       shown=f"array of shape {ids.shape} and dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= VOCAB_SIZE):
        checks.invalid("text_or_ids", f"character ids in [0, {VOCAB_SIZE})", ids,
                       shown=f"ids in [{ids.min()}, {ids.max()}]")
    return ids.astype(np.int32, copy=False)


def char_epoch_size(num_chars, batch_size, num_unrollings, bigram=False, stride=None):
    """Batches in one pass of `text8_dataset` over `num_chars` characters.

    Each of the `batch_size` rows reads its own segment of `num_chars //
    batch_size` characters; an epoch is as many batches as fit in a segment
    (targets included): `(segment - 1) // num_unrollings`, or `(segment - 2) //
    num_unrollings` for bigrams, whose targets reach one character further.
    With a `stride` (characters from one batch to the next) it is the number of
    batch windows of `num_unrollings + 1` (+ 2 for bigrams) characters that fit.

    Raises:
        ValueError: when not even one batch fits.
    """
    batch_size = checks.positive_int("batch_size", batch_size)
    num_unrollings = checks.positive_int("num_unrollings", num_unrollings)
    stride = num_unrollings if stride is None else checks.positive_int("stride", stride)
    segment = int(num_chars) // batch_size
    extra = 2 if bigram else 1
    size = max(segment - extra - num_unrollings, -1) // stride + 1
    if size <= 0:
        raise ValueError(
            f"batch_size × num_unrollings larger than the data: {num_chars} characters give "
            f"{segment} per row with `batch_size={batch_size}`, but `num_unrollings="
            f"{num_unrollings}` needs at least {num_unrollings + extra}; decrease "
            "`batch_size` or `num_unrollings`, or use more text."
        )
    return size


class BatchGenerator:
    """The text8 notebook's batch generator (one-hot steps, cycling forever).

    Row `b` reads the text from cursor `b · (len(text) // batch_size)`, one
    character per step, wrapping around the end of the text. Each `next()`
    returns `num_unrollings + 1` steps, the first being the last step of the
    previous call, so row `b` of one call continues row `b` of the previous one.

    Args:
        text: str (text8-style) or 1-D int array of character ids.
        batch_size: int, rows per step.
        num_unrollings: int, new steps per call.

    Example:
    >>> gen = BatchGenerator("abcdefgh", batch_size=2, num_unrollings=2)
    >>> [batches2string(gen.next()) for _ in range(2)]
    [['abc', 'efg'], ['cde', 'gha']]
    """

    def __init__(self, text, batch_size, num_unrollings):
        batch_size = checks.positive_int("batch_size", batch_size)
        num_unrollings = checks.positive_int("num_unrollings", num_unrollings)
        self._ids = _as_char_ids(text)
        self._text_size = len(self._ids)
        if self._text_size < batch_size:
            raise ValueError(
                f"`batch_size` larger than the data: {self._text_size} characters for "
                f"`batch_size={batch_size}`."
            )
        self._batch_size = batch_size
        self._num_unrollings = num_unrollings
        segment = self._text_size // batch_size
        self._cursor = np.arange(batch_size, dtype=np.int64) * segment
        self._last_batch = self._next_batch()

    def _next_batch(self):
        """One step: the one-hot characters under the cursors, then advance them."""
        batch = np.zeros((self._batch_size, VOCAB_SIZE), dtype=np.float32)
        batch[np.arange(self._batch_size), self._ids[self._cursor]] = 1.0
        self._cursor = (self._cursor + 1) % self._text_size
        return batch

    def next(self):
        """The next `num_unrollings + 1` steps, each a one-hot `[batch_size, 27]` array."""
        batches = [self._last_batch]
        for _ in range(self._num_unrollings):
            batches.append(self._next_batch())
        self._last_batch = batches[-1]
        return batches

    __next__ = next

    def __iter__(self):
        return self


def characters(probabilities):
    """Most likely character of each row of a `[batch, 27]` one-hot/probability array."""
    return [id2char(int(c)) for c in np.argmax(probabilities, 1)]


def batches2string(batches):
    """Strings of the rows of a list of one-hot steps (the notebook's helper)."""
    s = [""] * batches[0].shape[0]
    for b in batches:
        s = ["".join(x) for x in zip(s, characters(b))]
    return s


def text8_dataset(text_or_ids, batch_size, num_unrollings, bigram=False, steps=None,
                  stride=None):
    """A `tf.data.Dataset` of `BatchGenerator`'s batches as character ids.

    Batch `k` covers the steps `k·U .. k·U + U` (`U = num_unrollings`) of the
    `BatchGenerator`'s rows, i.e. exactly what its `k`-th `next()` returns:

    - `bigram=False`: `inputs` = steps `0..U−1` of the call, `targets` = steps
      `1..U`, both int32 `[batch_size, U]`.
    - `bigram=True`: `inputs` = all `U + 1` steps of the call, int32
      `[batch_size, U + 1]`, for a layer that embeds the `U` consecutive pairs
      (`(s_t, s_{t+1})`, e.g. `BigramEmbedding(mode="valid")`); `targets` =
      steps `2..U+1`, int32 `[batch_size, U]`: pair `t` predicts the character
      after it. Step `U + 1` is the second step of the next call. The pairs of
      batch `k + 1` start at step `(k + 1)·U`, right after those of batch `k`.

    With `stride` the batches start `stride` steps apart instead of `U`: the
    bigram notebook reads 11 characters a batch (9 pairs with a target, `U = 9`)
    and advances 10 (`stride=10`), so one pair per batch is never trained on.

    In both variants row `b` of batch `k + 1` continues row `b` of batch `k`,
    so a stateful model can carry its state across batches. The notebook cycles
    forever; `fit` needs finite epochs, so by default the dataset is one epoch
    of `char_epoch_size(...)` batches, in which each row stays inside its own
    segment of the text. Pass `steps` for another number of batches; beyond
    one epoch it keeps following `BatchGenerator` (rows run on into the next
    segment and wrap around the end of the text).

    Args:
        text_or_ids: str (text8-style) or 1-D int array of character ids.
        batch_size: int, rows per batch.
        num_unrollings: int, steps per batch (`U`).
        bigram: bool, the bigram variant above. Defaults to `False`.
        steps: int or None, number of batches. Defaults to one epoch.
        stride: int or None, steps from one batch to the next. Defaults to `U`.

    Returns:
        A finite, prefetched `tf.data.Dataset` of `(inputs, targets)` with static shapes.

    Example:
    >>> ds = text8_dataset(train_text, batch_size=64, num_unrollings=10)  # doctest: +SKIP
    >>> model.fit(ds, epochs=1, shuffle=False)  # doctest: +SKIP
    """
    import tensorflow as tf  # noqa: PLC0415

    ids = _as_char_ids(text_or_ids)
    n = len(ids)
    if steps is None:
        steps = char_epoch_size(n, batch_size, num_unrollings, bigram=bigram, stride=stride)
    else:
        steps = checks.positive_int("steps", steps)
        batch_size = checks.positive_int("batch_size", batch_size)
        num_unrollings = checks.positive_int("num_unrollings", num_unrollings)
        if n < batch_size:
            raise ValueError(f"`batch_size` larger than the data: {n} characters for "
                             f"`batch_size={batch_size}`.")
    unroll = num_unrollings
    stride = unroll if stride is None else checks.positive_int("stride", stride)
    width = unroll + (2 if bigram else 1)
    segment = n // batch_size
    ids_t = tf.constant(ids, dtype=tf.int32)
    # Positions of step 0 of each row, and the offsets of the steps of one batch.
    base = tf.constant(np.arange(batch_size, dtype=np.int64)[:, None] * segment
                       + np.arange(width, dtype=np.int64)[None, :])

    def batch(k):
        window = tf.gather(ids_t, (base + k * stride) % n)
        window = tf.ensure_shape(window, (batch_size, width))
        if bigram:
            return window[:, : unroll + 1], window[:, 2:]
        return window[:, :unroll], window[:, 1:]

    ds = tf.data.Dataset.range(steps).map(batch, num_parallel_calls=tf.data.AUTOTUNE,
                                          deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
