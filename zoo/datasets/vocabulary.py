"""A word ↔ id mapping built from training tokens, ids sorted by (−count, word).

The vocabulary of the word-level datasets (`zoo.datasets.ptb`, `zoo.datasets.synthetic`):
`Vocabulary.build(words)`, `encode` (out-of-vocabulary words → `<unk>`, counted),
`decode`, and JSON `save`/`load`. Only numpy is needed.
"""

import collections
import json
import os

import numpy as np

from zoo import checks

UNK = "<unk>"


class Vocabulary:
    """A word ↔ id mapping, ids sorted by (−count, word).

    Built from training tokens with `Vocabulary.build`. `encode` maps words that
    are not in the vocabulary to the id of `<unk>`. If the training text has no
    `<unk>` token, `build` appends one with count 0, so it takes the last id
    (which is also where the (−count, word) order puts a count of 0) and OOV
    words always have somewhere to go.

    Args:
        id_to_word: list of str, the words in id order.
        counts: list of int or None, training counts in id order.
        unk: str, the out-of-vocabulary token. Defaults to `"<unk>"`.

    Example:
    >>> vocab = Vocabulary.build("b a b <eos>".split())
    >>> vocab.id_to_word
    ['b', '<eos>', 'a', '<unk>']
    >>> vocab.encode(["a", "zebra"]).tolist()
    [2, 3]
    """

    def __init__(self, id_to_word, counts=None, unk=UNK):
        self.id_to_word = [str(w) for w in id_to_word]
        self.word_to_id = {w: i for i, w in enumerate(self.id_to_word)}
        if len(self.word_to_id) != len(self.id_to_word):
            checks.invalid("id_to_word", "a list of distinct words", id_to_word,
                           shown="a list with duplicate words")
        if unk not in self.word_to_id:
            checks.invalid("unk", "a word of `id_to_word`", unk)
        if counts is not None and len(counts) != len(self.id_to_word):
            checks.invalid("counts", f"{len(self.id_to_word)} counts, one per word", counts,
                           shown=f"{len(counts)} counts")
        self.counts = None if counts is None else [int(c) for c in counts]
        self.unk = unk
        self.unk_id = self.word_to_id[unk]

    @classmethod
    def build(cls, words, unk=UNK):
        """Builds the vocabulary of `words`, sorted by (−count, word).

        Args:
            words: iterable of str, the training tokens.
            unk: str, the out-of-vocabulary token; added with count 0 if absent.

        Returns:
            A `Vocabulary`.
        """
        counter = collections.Counter(words)
        if not counter:
            checks.invalid("words", "a non-empty sequence of tokens", words, shown="no tokens")
        counter.setdefault(unk, 0)
        pairs = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls([w for w, _ in pairs], [c for _, c in pairs], unk=unk)

    def __len__(self):
        return len(self.id_to_word)

    def __contains__(self, word):
        return word in self.word_to_id

    def __eq__(self, other):
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.id_to_word == other.id_to_word and self.unk == other.unk

    def __repr__(self):
        return f"Vocabulary(size={len(self)}, unk={self.unk!r})"

    def encode(self, words, return_oov=False):
        """Maps words to ids; words not in the vocabulary map to `<unk>`'s id.

        Args:
            words: iterable of str.
            return_oov: bool, also return how many words were out of vocabulary.

        Returns:
            int32 array of ids, or `(ids, num_oov)` with `return_oov=True`.
        """
        if isinstance(words, str):
            checks.invalid("words", "a list of tokens (split a str first)", words,
                           shown="a str")
        get, unk_id = self.word_to_id.get, self.unk_id
        words = list(words)
        ids = np.fromiter((get(w, -1) for w in words), dtype=np.int32, count=len(words))
        missing = ids < 0
        num_oov = int(missing.sum())
        ids[missing] = unk_id
        return (ids, num_oov) if return_oov else ids

    def decode(self, ids):
        """Maps ids back to words.

        Args:
            ids: iterable of int in `[0, len(self))`.

        Returns:
            list of str.
        """
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            checks.invalid("ids", f"ids in [0, {len(self)})", ids,
                           shown=f"values in [{ids.min()}, {ids.max()}]")
        return [self.id_to_word[i] for i in ids.tolist()]

    def get_config(self):
        return {"id_to_word": self.id_to_word, "counts": self.counts, "unk": self.unk}

    def save(self, path):
        """Writes the vocabulary as JSON (`{"id_to_word": [...], "counts": [...], "unk": ...}`)."""
        path = os.fspath(path)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.get_config(), f, ensure_ascii=False)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        """Reads a vocabulary written by `save`."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                config = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path!r} is not a vocabulary JSON file ({e}).") from None
        if not isinstance(config, dict) or "id_to_word" not in config:
            raise ValueError(f"{path!r} is not a vocabulary JSON file (no 'id_to_word').")
        return cls(config["id_to_word"], config.get("counts"), config.get("unk", UNK))
