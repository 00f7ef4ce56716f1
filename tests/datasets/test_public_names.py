"""The datasets package after its split: every public name where users import it, numpy only."""

import pathlib
import subprocess
import sys

import pytest

from zoo import datasets
from zoo.datasets import alphabet
from zoo.datasets import markov
from zoo.datasets import ptb
from zoo.datasets import ptb_pipeline
from zoo.datasets import synthetic
from zoo.datasets import text8
from zoo.datasets import text8_pipeline
from zoo.datasets import vocabulary

# (module users import from, module that defines them, names): the old paths keep working.
REEXPORTS = [
    (ptb, ptb_pipeline, ["epoch_size", "ptb_iterator", "ptb_dataset"]),
    (ptb, vocabulary, ["Vocabulary", "UNK"]),
    (text8, alphabet, ["VOCAB_SIZE", "ALPHABET", "FIRST_LETTER", "char2id", "id2char",
                       "ids_to_text", "text_to_ids", "to_text8"]),
    (text8, text8_pipeline, ["BatchGenerator", "batches2string", "char_epoch_size",
                             "characters", "text8_dataset"]),
    (synthetic, markov, ["MarkovSource", "EOS_WORD"]),
]


@pytest.mark.parametrize("public,home,names", REEXPORTS,
                         ids=[f"{p.__name__}<-{h.__name__}" for p, h, _ in REEXPORTS])
def test_names_are_the_defining_modules_objects(public, home, names):
    for name in names:
        assert getattr(public, name) is getattr(home, name), name


def test_package_names():
    for name in ("ptb_dataset", "ptb_iterator", "epoch_size", "Vocabulary", "PTBData",
                 "load_ptb", "load_mini_ptb", "read_words", "EOS", "UNK"):
        assert getattr(datasets, name) is getattr(ptb, name), name
    for name in ("BatchGenerator", "char_epoch_size", "load_text8", "text8_dataset", "to_text8"):
        assert getattr(datasets, name) is getattr(text8, name), name
    for name in ("MarkovSource", "generate_corpus", "generate_text8", "load_synthetic"):
        assert getattr(datasets, name) is getattr(synthetic, name), name


def test_importing_the_package_needs_only_numpy():
    code = ("import sys, zoo.datasets; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    root = pathlib.Path(__file__).resolve().parents[2]  # this checkout's zoo, not another
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root).stdout
    assert out.strip() == "[]"
