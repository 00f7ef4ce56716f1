"""Text for the word-mirror task: text8-style sentences and the train/valid/test splits.

- `split_sentences(text, max_words)`: lines → sentences of at most `max_words` words.
- `mirror_splits(text, valid_text, test_text, ...)`: the sentences one training run of the
  mirror model uses (`zoo.experiments.train_mirror`).

Text is normalised with `zoo.datasets.to_text8`, the zoo's one normaliser;
`zoo.datasets.mirror` encodes the sentences.
"""

import collections
import os

import numpy as np

from zoo import checks
from zoo.datasets.alphabet import to_text8

DEFAULT_MAX_WORDS = 10
DEFAULT_MAX_LENGTH = 100


def split_sentences(text, max_words=DEFAULT_MAX_WORDS, random_lengths=False, seed=None):
    """Splits text into text8-style sentences of at most `max_words` words.

    Each line is normalised with `to_text8()` and cut into consecutive pieces;
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
    max_words = checks.positive_int("max_words", max_words)
    lines = text.splitlines() if isinstance(text, str) else list(text)
    rng = np.random.default_rng(seed)
    sentences = []
    for line in lines:
        words = to_text8(line).split()
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


def sentences_from(source, max_words=DEFAULT_MAX_WORDS, random_lengths=False, seed=None):
    """Sentences of `source`: a list of sentences (each normalised), a file path or the text.

    A file or text is cut by `split_sentences(text, max_words, random_lengths, seed)`; None
    gives None.
    """
    if source is None:
        return None
    if isinstance(source, (list, tuple)):
        return [" ".join(to_text8(s).split()) for s in source if to_text8(s)]
    text = str(source)
    if os.path.isfile(text):
        text = read_text(text)
    return split_sentences(text, max_words, random_lengths=random_lengths, seed=seed)


MirrorSplits = collections.namedtuple("MirrorSplits", "train valid test removed")
MirrorSplits.__doc__ = """The sentences of one mirror run; `removed` counts the test sentences
left out because they also occur in train or are longer than `max_length`."""


def mirror_splits(text=None, valid_text=None, test_text=None, max_words=DEFAULT_MAX_WORDS,
                  max_length=DEFAULT_MAX_LENGTH, augment=2, random_words=0, seed=0):
    """Train, validation and test sentences for one run of the mirror model.

    Args:
        text: training text: a file path, the text itself, a list of sentences, or None for
            the offline corpus (`offline_text(seed=seed)`).
        valid_text: validation text (same forms); None holds out 10% of `text`.
        test_text: held-out text; None uses the validation sentences. Sentences that also
            occur in the training set (or are longer than `max_length`) are left out.
        max_words: int, the most words in a sentence. Defaults to `10`.
        max_length: int, the longest sentence in characters. Defaults to `100`.
        augment: int, extra random-length splits of the training text (each gives other
            sentences of 1..max_words words; validation sentences are kept out). Defaults to `2`.
        random_words: int, random letter-string words added to the training sentences.
        seed: int, seeds the offline text, the hold-out and the random splits.

    Returns:
        `MirrorSplits(train, valid, test, removed)`: lists of str and an int.
    """
    if text is None:
        text = offline_text(seed=seed)
    train = sentences_from(text, max_words, seed=seed)
    if valid_text is None:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(train))
        n_valid = max(1, len(train) // 10)
        valid = [train[i] for i in order[:n_valid]]
        held = set(valid)
        train = [train[i] for i in order[n_valid:]]
        base_text = train  # the same list: later augmentations also split earlier ones
    else:
        valid = sentences_from(valid_text, max_words)
        held = set(valid)
        base_text = text
    for a in range(augment):
        if isinstance(base_text, list):
            extra = split_sentences(" ".join(base_text), max_words, True, seed + 1 + a)
        else:
            extra = sentences_from(base_text, max_words, True, seed + 1 + a)
        train += [s for s in extra if s not in held]
    if random_words:
        train += split_sentences(random_word_text(random_words, seed=seed + 100), max_words,
                                 True, seed)
    train = [s for s in train if len(s) <= max_length]
    valid = [s for s in valid if len(s) <= max_length]
    test = sentences_from(test_text, max_words) if test_text is not None else valid
    seen = set(train)
    held_out = [s for s in test if len(s) <= max_length and s not in seen]
    return MirrorSplits(train, valid, held_out, len(test) - len(held_out))
