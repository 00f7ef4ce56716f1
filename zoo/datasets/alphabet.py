"""text8's 27-character alphabet: character ids, and `to_text8`, the one text normaliser.

Characters map to 27 ids: space → 0, `a`..`z` → 1..26 (the Udacity text8
notebook's `char2id` / `id2char`).

- `to_text8(text)`: makes text8-style text (lowercase `a`–`z` words, single
  spaces) from any text, e.g. PTB. The zoo's one normaliser.
- `text_to_ids` / `ids_to_text`: a whole text to ids and back.

Only numpy is needed. All names are importable from `zoo.datasets.text8` too.
"""

import re
import warnings

import numpy as np

from zoo import checks

VOCAB_SIZE = 27
FIRST_LETTER = ord("a")
ALPHABET = " abcdefghijklmnopqrstuvwxyz"

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
        checks.invalid("c", "a single character (a str of length 1)", c)
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
        checks.invalid("i", f"an int in [0, {VOCAB_SIZE})", i)
    return ALPHABET[int(i)]


def ids_to_text(ids):
    """Text of a sequence of character ids (the inverse of `text_to_ids` on text8 text)."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= VOCAB_SIZE):
        checks.invalid("ids", f"character ids in [0, {VOCAB_SIZE})", ids,
                       shown=f"values in [{ids.min()}, {ids.max()}]")
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
    checks.instance("text", text, str, "a str")
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
            "use `zoo.datasets.to_text8(text)` to normalise the text first.",
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
    checks.instance("text", text, str, "a str")
    return _NOT_TEXT8.sub(" ", text.lower()).strip()
