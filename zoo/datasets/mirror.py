"""Data for the word-mirror sequence-to-sequence task (the text8 notebook's last exercise).

Every word of a text8-style sentence (lowercase `a`–`z` and single spaces) is
written backwards: `"the quick brown fox"` → `"eht kciuq nworb xof"`.

This module turns raw text into such sentences, encodes them with a tiny
character vocabulary and builds the tf.data pipeline the model trains on:

- `normalize(text)`: the documented text8-style normalisation (lowercase, every
  character outside `a`–`z` becomes a space, runs of spaces collapse).
- `check_sentence(sentence, max_length)`: the strict check used at inference:
  one clear `ValueError` for characters outside `a`–`z`/space or for a sentence
  longer than the model's trained maximum (the limit is in the message).
- `split_sentences(text, max_words)`: lines → sentences of at most `max_words` words.
- `make_dataset(sentences, batch_size, max_length)`: a `tf.data.Dataset` of
  `((encoder_ids, decoder_input_ids), decoder_target_ids)`, zero-padded per batch.
  Id 0 is padding; the model's embeddings use `mask_zero=True`, so padded steps
  are masked out of the loss and the metrics.

TensorFlow is imported only by `make_dataset`.
"""

import os
import re

import numpy as np

PAD, START, END = 0, 1, 2
SPECIAL_TOKENS = ("<pad>", "<s>", "</s>")
ALPHABET = " abcdefghijklmnopqrstuvwxyz"
VOCAB_SIZE = len(SPECIAL_TOKENS) + len(ALPHABET)  # 30

_CHAR_TO_ID = {c: i + len(SPECIAL_TOKENS) for i, c in enumerate(ALPHABET)}
_ID_TO_CHAR = {i: c for c, i in _CHAR_TO_ID.items()}
_NOT_TEXT8 = re.compile(r"[^a-z]+")
_BAD_CHARS = re.compile(r"[^a-z ]")

DEFAULT_MAX_WORDS = 10
DEFAULT_MAX_LENGTH = 100


def mirror_words(sentence):
    """Writes every word of `sentence` backwards, keeping the word order and spaces.

    Args:
        sentence: str, text8-style text.

    Returns:
        The mirrored sentence, e.g. `"the quick brown fox"` → `"eht kciuq nworb xof"`.
    """
    return " ".join(word[::-1] for word in sentence.split(" "))


def normalize(text):
    """Maps any text to text8 style: the documented normalisation.

    Lowercases, replaces every run of characters outside `a`–`z` (digits,
    punctuation, `<unk>`'s brackets, newlines, accented letters...) by one space
    and strips the ends, exactly as the text8 corpus was made. PTB's `<unk>`
    becomes `unk` and its number token `N` becomes `n`.

    Args:
        text: str, any text.

    Returns:
        str of lowercase `a`–`z` words separated by single spaces.

    Example:
    >>> normalize("The  <unk> cost $N, isn't it?")
    'the unk cost n isn t it'
    """
    return _NOT_TEXT8.sub(" ", text.lower()).strip()


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
            `normalize()` is suggested), on an empty sentence, or on a sentence
            longer than `max_length` characters.
    """
    if not isinstance(sentence, str):
        raise ValueError(f"`sentence` must be a str, got {type(sentence).__name__}.")
    bad = sorted(set(_BAD_CHARS.findall(sentence)))
    if bad:
        raise ValueError(
            f"`sentence` may contain only lowercase a-z and spaces; found {bad!r} in "
            f"{sentence!r}. Use zoo.datasets.mirror.normalize() to map text to that form."
        )
    sentence = " ".join(sentence.split())
    if not sentence:
        raise ValueError("`sentence` is empty: nothing to mirror.")
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


def split_sentences(text, max_words=DEFAULT_MAX_WORDS, random_lengths=False, seed=None):
    """Splits text into text8-style sentences of at most `max_words` words.

    Each line is normalised with `normalize()` and cut into consecutive pieces;
    pieces never cross a line boundary. With `random_lengths`, piece lengths are
    drawn uniformly from 1..`max_words` (a cheap augmentation: another seed gives
    other sentences from the same text).

    Args:
        text: str (the text itself) or a list of lines.
        max_words: int, the most words in a sentence. Defaults to `10`.
        random_lengths: bool, draw piece lengths at random. Defaults to `False`.
        seed: int or None, seed for `random_lengths`.

    Returns:
        list of str.

    Example:
    >>> split_sentences("A b c d e\\nf", max_words=2)
    ['a b', 'c d', 'e', 'f']
    """
    if max_words < 1:
        raise ValueError(f"`max_words` must be >= 1, got {max_words}.")
    lines = text.splitlines() if isinstance(text, str) else list(text)
    rng = np.random.default_rng(seed)
    sentences = []
    for line in lines:
        words = normalize(line).split()
        i = 0
        while i < len(words):
            n = int(rng.integers(1, max_words + 1)) if random_lengths else max_words
            sentences.append(" ".join(words[i : i + n]))
            i += n
    return sentences


def read_text(path):
    """Reads a text file (e.g. `ptb.valid.txt`) as one str."""
    with open(os.fspath(path), encoding="utf-8-sig") as f:  # drops a byte-order mark
        return f.read()


def random_word_text(num_words, seed=None, words_per_line=20):
    """Offline corpus of random letter strings with English-like word lengths.

    Letters follow English letter frequencies, lengths 1..14 follow roughly the
    length distribution of PTB words, so every mirror pattern (short, long,
    palindromic, repeated letters) appears.

    Args:
        num_words: int, how many words.
        seed: int or None, the random seed.
        words_per_line: int, words per line of the returned text.

    Returns:
        str of lines of words.
    """
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    freq = np.array([8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.2, 0.8, 4.0, 2.4,
                     6.7, 7.5, 1.9, 0.1, 6.0, 6.3, 9.1, 2.8, 1.0, 2.4, 0.2, 2.0, 0.1])
    lengths = np.arange(1, 15)
    length_p = np.array([3, 17, 20, 16, 11, 9, 8, 6, 4, 3, 1.5, 1, 0.3, 0.2])
    n = rng.choice(lengths, size=num_words, p=length_p / length_p.sum())
    chars = rng.choice(letters, size=int(n.sum()), p=freq / freq.sum())
    words, pos = [], 0
    for k in n:
        words.append("".join(chars[pos : pos + k]))
        pos += k
    return "\n".join(
        " ".join(words[i : i + words_per_line]) for i in range(0, len(words), words_per_line)
    )


def offline_text(num_words=60000, seed=0):
    """The offline default training text.

    The zoo's generated corpus (`zoo.datasets.synthetic`) when it offers a
    `generate_text(num_words, seed)` function, else `random_word_text`.
    """
    try:
        from zoo.datasets import synthetic  # noqa: PLC0415

        generate = getattr(synthetic, "generate_text")
    except (ImportError, AttributeError):
        return random_word_text(num_words, seed=seed)
    return generate(num_words, seed=seed)


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

    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
    if not sentences:
        raise ValueError("`sentences` is empty.")
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
