"""text8 characters: the Udacity notebook's data, batches and tf.data pipeline.

text8 is lowercase `a`–`z` and single spaces on one line (the first 10^8
characters of a cleaned English Wikipedia dump). Characters map to 27 ids:
space → 0, `a`..`z` → 1..26.

- `load_text8()`: `text8.zip` through `keras.utils.get_file` (size checked,
  sha256 recorded on first download and verified afterwards), or a local
  `.zip`/`.txt`; validation = the first `valid_size` characters.

The character ids (`char2id`, `id2char`, `text_to_ids`, `ids_to_text`) and
`to_text8(text)`, which makes a text8-style string from any text (e.g. PTB), are
defined in `zoo.datasets.alphabet`; `BatchGenerator`, the notebook's generator of
one-hot `[batch, 27]` steps, and `text8_dataset`, a tf.data pipeline of the same
batches as ids (plus the bigram variant), in `zoo.datasets.text8_pipeline`.

Only downloads import Keras.
"""

import os
import zipfile
import zlib

from zoo import checks
from zoo.datasets import _download
from zoo.datasets import _text

TEXT8_ORIGIN = "http://mattmahoney.net/dc/text8.zip"
TEXT8_FNAME = "text8.zip"
TEXT8_SIZE = 31_344_016
TEXT8_MEMBER = "text8"

_LOCAL_HINT = "pass a local text8.zip or text file as `path`."

#: What reading a truncated or damaged .zip raises (zipfile does not wrap them all).
_ZIP_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error)


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
    except _ZIP_ERRORS as e:
        raise ValueError(f"{os.fspath(path)!r} is not a readable zip file "
                         f"({_download.reason(e)}).") from None
    return _text.decode(raw, f"{os.fspath(path)!r}:{member}")


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
        except _ZIP_ERRORS as e:
            bad = _download.reason(e)
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
        path = _download.fetch(
            TEXT8_FNAME, origin, cache_dir=cache_dir, file_hash=file_hash,
            file_size=_download.expected_size(file_size, origin, TEXT8_ORIGIN, TEXT8_SIZE),
            local_hint=_LOCAL_HINT, validate=_check_zip(member),
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
            text = _text.decode(f.read(), repr(path))
    if valid_size >= len(text):
        checks.invalid("valid_size", f"less than the {len(text):,} characters of {path!r} "
                       "(it leaves no training text)", valid_size)
    return text[valid_size:], text[:valid_size]
