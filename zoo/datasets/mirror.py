"""Data for the word-mirror sequence-to-sequence task (the text8 notebook's last exercise).

Every word of a text8-style sentence (lowercase `a`–`z` and single spaces) is
written backwards: `"the quick brown fox"` → `"eht kciuq nworb xof"`.

This module encodes such sentences with a tiny character vocabulary and builds
the tf.data pipeline the model trains on; `zoo.datasets.mirror_text` makes the
sentences from raw text (`split_sentences`, `mirror_splits`; `zoo.datasets.to_text8`
normalises any text to the a-z form):

- `check_sentence(sentence, max_length)`: the strict check used at inference:
  one clear `ValueError` for characters outside `a`–`z`/space or for a sentence
  longer than the model's trained maximum (the limit is in the message).
- `make_dataset(sentences, batch_size, max_length)`: a `tf.data.Dataset` of
  `((encoder_ids, decoder_input_ids), decoder_target_ids)`, zero-padded per batch.
  Id 0 is padding; the model's embeddings use `mask_zero=True`, so padded steps
  are masked out of the loss and the metrics.

TensorFlow is imported only by `make_dataset`.
"""

import re

import numpy as np

from zoo import checks
from zoo.datasets.alphabet import ALPHABET
from zoo.datasets.mirror_text import DEFAULT_MAX_LENGTH

__all__ = ["END", "PAD", "START", "SPECIAL_TOKENS", "VOCAB_SIZE", "check_sentence", "decode",
           "encode", "encode_pairs", "make_dataset", "mirror_words"]

PAD, START, END = 0, 1, 2
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>")
VOCAB_SIZE = len(SPECIAL_TOKENS) + len(ALPHABET)  # 30

_CHAR_TO_ID = {c: i + len(SPECIAL_TOKENS) for i, c in enumerate(ALPHABET)}
_ID_TO_CHAR = {i: c for c, i in _CHAR_TO_ID.items()}
_BAD_CHARS = re.compile(r"[^a-z ]")


def mirror_words(sentence):
    """Writes every word of `sentence` backwards, keeping the word order and spaces.

    Args:
        sentence: str, text8-style text.

    Returns:
        The mirrored sentence, e.g. `"the quick brown fox"` → `"eht kciuq nworb xof"`.
    """
    return " ".join(word[::-1] for word in sentence.split(" "))


def check_sentence(sentence, max_length=None):
    """Validates one sentence for the mirror model (strict: no silent changes).

    Leading/trailing spaces and runs of spaces are collapsed (word mirroring is
    defined on words); anything else outside `a`–`z` and space is an error, as
    is a sentence longer than the maximum the model was trained for.

    Args:
        sentence: str, the sentence to mirror.
        max_length: int or None, the longest sentence (in characters) allowed.

    Returns:
        The sentence with single spaces.

    Raises:
        ValueError: on characters outside `a`–`z` and space (they are listed, and
            `zoo.datasets.to_text8()` is suggested), on an empty sentence, or on a sentence
            longer than `max_length` characters.
    """
    checks.instance("sentence", sentence, str, "a str")
    bad = sorted(set(_BAD_CHARS.findall(sentence)))
    if bad:
        raise ValueError(
            f"`sentence` may contain only lowercase a-z and spaces; found {bad!r} in "
            f"{sentence!r}. Use `zoo.datasets.to_text8()` to map text to that form."
        )
    sentence = " ".join(sentence.split())
    if not sentence:
        checks.invalid("sentence", "a sentence with at least one word", sentence)
    if max_length is not None and len(sentence) > max_length:
        raise ValueError(
            f"`sentence` has {len(sentence)} characters but this model was trained on "
            f"sentences of at most {max_length} characters (max_length={max_length}); "
            "split it into shorter sentences."
        )
    return sentence


def encode(sentence):
    """Character ids of a text8-style sentence (no start/end tokens)."""
    return [_CHAR_TO_ID[c] for c in sentence]


def decode(ids):
    """Text of a sequence of ids, stopping at the first end token; pad/start are skipped."""
    chars = []
    for i in ids:
        i = int(i)
        if i == END:
            break
        if i in _ID_TO_CHAR:
            chars.append(_ID_TO_CHAR[i])
    return "".join(chars)


def encode_pairs(sentences, max_length=DEFAULT_MAX_LENGTH):
    """Encodes sentences as padded (source, target) id arrays for teacher forcing.

    For a sentence of n characters, the encoder sees its n ids and an end token,
    the decoder input is a start token and the n mirrored ids, the target is the
    n mirrored ids and an end token: all three have n + 1 steps, aligned.

    Args:
        sentences: list of text8-style str.
        max_length: int, the longest sentence in characters allowed.

    Returns:
        Tuple `(encoder_ids, decoder_input_ids, decoder_target_ids, lengths)` of
        int32 arrays; the first three have shape `(len(sentences), max_length + 1)`.

    Raises:
        ValueError: on a bad or too-long sentence (see `check_sentence`).
    """
    n = len(sentences)
    enc = np.zeros((n, max_length + 1), np.int32)
    dec_in = np.zeros_like(enc)
    dec_out = np.zeros_like(enc)
    lengths = np.zeros((n,), np.int32)
    for row, sentence in enumerate(sentences):
        sentence = check_sentence(sentence, max_length)
        src, tgt = encode(sentence), encode(mirror_words(sentence))
        k = len(src)
        enc[row, :k], enc[row, k] = src, END
        dec_in[row, 0], dec_in[row, 1 : k + 1] = START, tgt
        dec_out[row, :k], dec_out[row, k] = tgt, END
        lengths[row] = k + 1
    return enc, dec_in, dec_out, lengths


def make_dataset(
    sentences, batch_size=64, max_length=DEFAULT_MAX_LENGTH, shuffle=False, seed=None
):
    """tf.data pipeline of `((encoder_ids, decoder_input_ids), decoder_target_ids)`.

    Each batch is cut to its longest sentence (+1 for the end token) so short
    batches cost less; padding is id 0, which the model masks.

    Args:
        sentences: list of text8-style str (see `split_sentences`).
        batch_size: int, sentences per batch. Defaults to `64`.
        max_length: int, the longest sentence in characters; a longer one raises
            `ValueError` with the limit in the message. Defaults to `100`.
        shuffle: bool, reshuffle sentences every epoch. Defaults to `False`.
        seed: int or None, shuffle seed.

    Returns:
        A batched `tf.data.Dataset`.

    Example:
    >>> ds = make_dataset(["the quick brown fox"], batch_size=1)
    >>> (enc, dec_in), target = next(iter(ds))
    >>> enc.shape, target.shape
    (TensorShape([1, 20]), TensorShape([1, 20]))
    """
    import tensorflow as tf  # noqa: PLC0415

    batch_size = checks.positive_int("batch_size", batch_size)
    if not sentences:
        checks.invalid("sentences", "a non-empty list of sentences", sentences)
    enc, dec_in, dec_out, lengths = encode_pairs(sentences, max_length)
    ds = tf.data.Dataset.from_tensor_slices((enc, dec_in, dec_out, lengths))
    if shuffle:
        ds = ds.shuffle(len(sentences), seed=seed, reshuffle_each_iteration=True)

    def trim(e, d, t, n):
        k = tf.reduce_max(n)
        return (e[:, :k], d[:, :k]), t[:, :k]

    return ds.batch(batch_size).map(trim, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )
