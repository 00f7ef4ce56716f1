"""The datasets' argument errors, each one line in Keras's wording, before any work is done."""

import re

import pytest

from zoo.datasets import Vocabulary
from zoo.datasets import mirror


def _exact(text):
    return "^" + re.escape(text) + "$"


def test_vocabulary_arguments():
    with pytest.raises(ValueError, match=_exact(
            "Argument `id_to_word` must be a list of distinct words. "
            "Received: id_to_word=a list with duplicate words")):
        Vocabulary(["<unk>", "a", "a"])
    with pytest.raises(ValueError, match=_exact(
            "Argument `unk` must be a word of `id_to_word`. Received: unk='<oov>'")):
        Vocabulary(["<unk>", "a"], unk="<oov>")
    with pytest.raises(ValueError, match=_exact(
            "Argument `counts` must be 2 counts, one per word. Received: counts=3 counts")):
        Vocabulary(["<unk>", "a"], counts=[1, 2, 3])
    with pytest.raises(ValueError, match=_exact(
            "Argument `words` must be a non-empty sequence of tokens. Received: words=no tokens")):
        Vocabulary.build([])
    vocab = Vocabulary(["<unk>", "a"])
    with pytest.raises(ValueError, match=_exact(
            "Argument `words` must be a list of tokens (split a str first). "
            "Received: words=a str")):
        vocab.encode("a a")
    assert vocab.encode(["a", "b"]).tolist() == [1, 0]  # the good path still encodes


def test_mirror_sentences_must_hold_words():
    with pytest.raises(ValueError, match=_exact(
            "Argument `sentence` must be a sentence with at least one word. Received: "
            "sentence=''")):
        mirror.check_sentence("   ")
    with pytest.raises(ValueError, match=_exact(
            "Argument `sentences` must be a non-empty list of sentences. Received: sentences=[]")):
        mirror.make_dataset([], batch_size=2)
