"""text8 characters: the Udacity notebook's data, batches and tf.data pipeline.

text8 is lowercase `a`–`z` and single spaces on one line (the first 10^8
characters of a cleaned English Wikipedia dump). Characters map to 27 ids:
space → 0, `a`..`z` → 1..26.

- `load_text8()`: `text8.zip` through `keras.utils.get_file` (size checked,
  sha256 recorded on first download and verified afterwards), or a local
  `.zip`/`.txt`; validation = the first `valid_size` characters.
- `to_text8(text)`: makes a text8-style string from any text (e.g. PTB).
- `BatchGenerator`: the notebook's generator, one-hot `[batch, 27]` steps.
- `text8_dataset`: a tf.data pipeline of the same batches as ids, plus the
  bigram variant.

Only `text8_dataset` imports TensorFlow, and only downloads import Keras.
"""

import os
import re
import warnings
import zipfile
import zlib

import numpy as np

from zoo import checks
from zoo.datasets import _download

VOCAB_SIZE = 27
FIRST_LETTER = ord("a")
ALPHABET = " abcdefghijklmnopqrstuvwxyz"

TEXT8_ORIGIN = "http://mattmahoney.net/dc/text8.zip"
TEXT8_FNAME = "text8.zip"
TEXT8_SIZE = 31_344_016
TEXT8_MEMBER = "text8"

_LOCAL_HINT = "pass a local text8.zip or text file with `path=` (`--data-dir` on the command line)."
_NOT_TEXT8 = re.compile(r"[^a-z]+")


def char2id(c):
    """Id of one character: space → 0, `a`..`z` → 1..26, anything else → 0.

    As in the notebook, an unexpected character maps to 0 (space); use
    `text_to_ids` to count them.

    Args:
        c: str of length 1.

    Returns:
        int in `[0, 27)`.
    """
    if not isinstance(c, str) or len(c) != 1:
        raise ValueError(f"`c` must be a single character, got {c!r}.")
    if "a" <= c <= "z":
        return ord(c) - FIRST_LETTER + 1
    return 0


def id2char(i):
    """Character of an id: 0 → space, 1..26 → `a`..`z`.

    Args:
        i: int in `[0, 27)`.

    Returns:
        str of length 1.
    """
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < VOCAB_SIZE:
        raise ValueError(f"`i` must be an int in [0, {VOCAB_SIZE}), got {i!r}.")
    return ALPHABET[int(i)]


def ids_to_text(ids):
    """Text of a sequence of character ids (the inverse of `text_to_ids` on text8 text)."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= VOCAB_SIZE):
        raise ValueError(f"`ids` must be in [0, {VOCAB_SIZE}).")
    table = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
    return table[ids].tobytes().decode("ascii")


def text_to_ids(text, warn=True):
    """Character ids of a text, counting unexpected characters once.

    Every character outside `a`–`z` and space maps to 0 (as `char2id`); their
    number is returned and, if non-zero, reported in one warning (the notebook
    printed one line per character).

    Args:
        text: str.
        warn: bool, warn once when unexpected characters were found. Defaults to `True`.

    Returns:
        `(ids, unexpected_count)`: a 1-D int32 array and an int.

    Example:
    >>> ids, bad = text_to_ids("ab z!", warn=False)
    >>> ids.tolist(), bad
    ([1, 2, 0, 26, 0], 1)
    """
    if not isinstance(text, str):
        raise ValueError(f"`text` must be a str, got {type(text).__name__}.")
    try:
        codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.int32)
    except UnicodeEncodeError:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    letters = (codes >= FIRST_LETTER) & (codes < FIRST_LETTER + 26)
    ids = np.where(letters, codes - FIRST_LETTER + 1, 0).astype(np.int32)
    unexpected = int(codes.size - letters.sum() - (codes == ord(" ")).sum())
    if unexpected and warn:
        warnings.warn(
            f"{unexpected:,} characters outside a-z and space were mapped to id 0 (space); "
            "use zoo.datasets.text8.to_text8(text) to normalise the text first.",
            stacklevel=2,
        )
    return ids, unexpected


def to_text8(text):
    """Makes text8-style text from any text.

    Lowercases, replaces every run of characters outside `a`–`z` (digits,
    punctuation, newlines, accented letters, PTB's `<unk>` brackets...) by one
    space and strips both ends.

    Args:
        text: str.

    Returns:
        str of `a`–`z` words separated by single spaces.

    Example:
    >>> to_text8("The <unk> cost $N,\\n isn't it?")
    'the unk cost n isn t it'
    """
    if not isinstance(text, str):
        raise ValueError(f"`text` must be a str, got {type(text).__name__}.")
    return _NOT_TEXT8.sub(" ", text.lower()).strip()


def _decode(raw, where):
    try:
        return raw.decode("utf-8-sig")  # a leading UTF-8 byte-order mark is not text
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{where} is not valid UTF-8 (byte {e.start}: {raw[e.start:e.start + 4]!r}); "
            "pass UTF-8 text."
        ) from None


def _read_zip_member(path, member):
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if member not in names:
                raise ValueError(
                    f"{os.fspath(path)!r} has no member {member!r} (it has {names[:5]}); pass "
                    "the right one with `member=`, or the real text8.zip."
                )
            raw = zf.read(member)
    except (zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise ValueError(f"{os.fspath(path)!r} is not a readable zip file "
                         f"({str(e) or type(e).__name__}).") from None
    return _decode(raw, f"{os.fspath(path)!r}:{member}")


def _check_zip(member):
    """`_download.fetch`'s `validate` for a downloaded text8.zip: a complete zip with `member`.

    A truncated or damaged download raises `ValueError` and is deleted before its sha256
    is recorded.
    """

    def validate(path):
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{os.fspath(path)!r} is not a zip file (a truncated or wrong "
                             f"download) and was deleted from the cache; {_LOCAL_HINT}")
        try:
            with zipfile.ZipFile(path) as zf:
                if member not in zf.namelist():
                    raise ValueError(f"{os.fspath(path)!r} has no member {member!r} and was "
                                     f"deleted from the cache; {_LOCAL_HINT}")
                bad = zf.testzip()  # reads every member: CRC errors and cut data
        except (zipfile.BadZipFile, EOFError, zlib.error) as e:
            bad = str(e).splitlines()[0] or type(e).__name__
        if bad is not None:
            raise ValueError(f"{os.fspath(path)!r} is damaged ({bad}) and was deleted from "
                             f"the cache; {_LOCAL_HINT}")

    return validate


def load_text8(path=None, valid_size=1000, cache_dir=None, origin=TEXT8_ORIGIN,
               file_hash=None, file_size=_download.AUTO, member=TEXT8_MEMBER):
    """Loads text8 (or any text8-style text) and splits off the validation text.

    Without `path`, downloads `text8.zip` once with `keras.utils.get_file` into
    `<cache_dir>/datasets/`, checks its size (31,344,016 bytes) and the sha256
    recorded beside it on the first download. With `path`, reads a local zip
    (member `member`) or a plain UTF-8 text file. As in the notebook,
    validation is the first `valid_size` characters and training the rest.
    The text is returned as read; `to_text8` normalises other texts.

    Args:
        path: str or None, a local `.zip` or text file.
        valid_size: int, characters of validation text. Defaults to `1000`.
        cache_dir: str or None, the Keras cache root. Defaults to `$KERAS_HOME` or `~/.keras`.
        origin: str, URL of `text8.zip`. Defaults to mattmahoney.net.
        file_hash: str or None, expected sha256 (or md5) of the zip.
        file_size: int, None or `"auto"`, expected zip size; `"auto"` checks the
            canonical size for the default origin only.
        member: str, the text's name inside the zip. Defaults to `"text8"`.

    Returns:
        `(train_text, valid_text)`, two str.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: a zip without `member`, non-UTF-8 text, a size/hash
            mismatch, or `valid_size` not smaller than the text.
        OSError: the download failed (e.g. offline).

    Example:
    >>> train_text, valid_text = load_text8()  # doctest: +SKIP
    >>> len(train_text), valid_text[:20]  # doctest: +SKIP
    (99999000, ' anarchism originate')
    """
    valid_size = checks.non_negative_int("valid_size", valid_size)
    if path is None:
        if file_size == _download.AUTO:
            file_size = TEXT8_SIZE if origin == TEXT8_ORIGIN else None
        path = _download.fetch(
            TEXT8_FNAME, origin, cache_dir=cache_dir, file_hash=file_hash,
            file_size=file_size, local_hint=_LOCAL_HINT, validate=_check_zip(member),
        )
        try:
            text = _read_zip_member(path, member)
        except ValueError as e:  # e.g. a bad file cached by an older version: fetch again
            _download.discard(path)
            raise ValueError(f"{e} It was deleted from the cache, so the next call "
                             "downloads it again.") from None
    elif not os.path.isfile(os.fspath(path)):
        raise FileNotFoundError(f"No such file: {os.fspath(path)!r}; {_LOCAL_HINT}")
    elif zipfile.is_zipfile(path):
        text = _read_zip_member(path, member)
    else:
        with open(path, "rb") as f:
            text = _decode(f.read(), repr(path))
    if valid_size >= len(text):
        raise ValueError(
            f"`valid_size`={valid_size} leaves no training text: {path!r} has "
            f"{len(text)} characters."
        )
    return text[valid_size:], text[:valid_size]


def _as_char_ids(text_or_ids):
    if isinstance(text_or_ids, str):
        ids, _ = text_to_ids(text_or_ids, warn=True)
        return ids
    ids = np.asarray(text_or_ids)
    if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
        raise ValueError("`text_or_ids` must be a str or a 1-D int array of character ids.")
    if ids.size and (ids.min() < 0 or ids.max() >= VOCAB_SIZE):
        raise ValueError(f"character ids must be in [0, {VOCAB_SIZE}).")
    return ids.astype(np.int32, copy=False)


def char_epoch_size(num_chars, batch_size, num_unrollings, bigram=False):
    """Batches in one pass of `text8_dataset` over `num_chars` characters.

    Each of the `batch_size` rows reads its own segment of `num_chars //
    batch_size` characters; an epoch is as many batches as fit in a segment
    (targets included): `(segment - 1) // num_unrollings`, or `(segment - 2) //
    num_unrollings` for bigrams, whose targets reach one character further.

    Raises:
        ValueError: when not even one batch fits.
    """
    batch_size = checks.positive_int("batch_size", batch_size)
    num_unrollings = checks.positive_int("num_unrollings", num_unrollings)
    segment = int(num_chars) // batch_size
    extra = 2 if bigram else 1
    size = (segment - extra) // num_unrollings
    if size <= 0:
        raise ValueError(
            f"batch_size × num_unrollings larger than the data: {num_chars} characters give "
            f"{segment} per row with batch_size={batch_size}, but num_unrollings="
            f"{num_unrollings} needs at least {num_unrollings + extra}; decrease "
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
                f"batch_size larger than the data: {self._text_size} characters for "
                f"batch_size={batch_size}."
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


def text8_dataset(text_or_ids, batch_size, num_unrollings, bigram=False, steps=None):
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
        steps = char_epoch_size(n, batch_size, num_unrollings, bigram=bigram)
    else:
        steps = checks.positive_int("steps", steps)
        batch_size = checks.positive_int("batch_size", batch_size)
        num_unrollings = checks.positive_int("num_unrollings", num_unrollings)
        if n < batch_size:
            raise ValueError(f"batch_size larger than the data: {n} characters.")
    unroll = num_unrollings
    width = unroll + (2 if bigram else 1)
    segment = n // batch_size
    ids_t = tf.constant(ids, dtype=tf.int32)
    # Positions of step 0 of each row, and the offsets of the steps of one batch.
    base = tf.constant(np.arange(batch_size, dtype=np.int64)[:, None] * segment
                       + np.arange(width, dtype=np.int64)[None, :])

    def batch(k):
        window = tf.gather(ids_t, (base + k * unroll) % n)
        window = tf.ensure_shape(window, (batch_size, width))
        if bigram:
            return window[:, : unroll + 1], window[:, 2:]
        return window[:, :unroll], window[:, 1:]

    ds = tf.data.Dataset.range(steps).map(batch, num_parallel_calls=tf.data.AUTOTUNE,
                                          deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
