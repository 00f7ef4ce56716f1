"""zoo.datasets.synthetic: determinism, exact entropy rate, PTB-format output."""

import json
import math
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

from zoo.datasets import markov
from zoo.datasets import ptb
from zoo.datasets import synthetic
from helpers import ROOT
from helpers.kills import sigkill_when

SMALL = dict(num_train_tokens=3000, num_valid_tokens=500, num_test_tokens=500, vocab_size=60)


@pytest.fixture(scope="module")
def source():
    return markov.MarkovSource()  # the defaults: the data of `python train.py`


def test_chain_structure(source):
    matrix = source.transition_matrix()
    np.testing.assert_allclose(matrix.sum(1), 1.0, atol=1e-12)
    assert matrix[0, 0] == 0 and np.all(matrix[0, 1:] > 0)  # <eos> starts any word
    degrees = (matrix[1:] > 0).sum(1)
    assert np.all(degrees == source.num_successors + 1)  # sparse: k words + <eos>
    np.testing.assert_allclose(matrix[1:, 0], 1 / source.mean_sentence_length)
    words = source.words[1:]
    assert source.words[0] == "<eos>" and len(set(words)) == len(words) == 299
    assert all(re.fullmatch("[a-z]+", w) for w in words)
    assert markov.EOS_WORD not in words and "unk" not in words
    pi = source.stationary
    np.testing.assert_allclose(pi @ matrix, pi, atol=1e-14)
    assert abs(pi.sum() - 1) < 1e-12 and pi.min() > 0


def test_entropy_rate_matches_long_sample(source):
    """Average −log p(x_t | x_{t−1}) of a long sample estimates the entropy rate."""
    ids = source.sample(300_000, rng=123)
    matrix = source.transition_matrix()
    prev = np.concatenate([[0], ids[:-1]])
    empirical = -np.log(matrix[prev, ids]).mean()
    assert abs(empirical / source.entropy_rate - 1) < 0.01
    # The stationary distribution matches the empirical unigram frequencies too.
    freq = np.bincount(ids, minlength=source.vocab_size) / len(ids)
    assert 0.5 * np.abs(freq - source.stationary).sum() < 0.02
    # And an independent formula: H = −Σ_ij π_i P_ij log P_ij.
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(matrix > 0, matrix * np.log(matrix), 0.0)
    assert math.isclose(-(source.stationary @ plogp.sum(1)), source.entropy_rate, rel_tol=1e-12)
    assert math.isclose(source.perplexity_floor, math.exp(source.entropy_rate))


def test_default_floor_is_bigram_learnable(source):
    """An add-k bigram count model on 200k default-size tokens gets within 2% of the floor."""
    rng = np.random.default_rng(7)
    train = source.sample_sentences(200_000, rng)
    test = source.sample_sentences(20_000, rng)
    counts = np.full((source.vocab_size,) * 2, 0.01)
    np.add.at(counts, (np.concatenate([[0], train[:-1]]), train), 1)
    model = counts / counts.sum(1, keepdims=True)
    prev = np.concatenate([[0], test[:-1]])
    model_ppl = math.exp(-np.log(model[prev, test]).mean())
    chain_ppl = math.exp(source.log_loss(test))
    assert model_ppl / chain_ppl < 1.02
    assert 3 < source.perplexity_floor < 8  # a floor a small LSTM can approach


def test_generate_corpus_is_deterministic_ptb_format(tmp_path):
    a = synthetic.generate_corpus(tmp_path / "a", seed=3, **SMALL)
    b = synthetic.generate_corpus(tmp_path / "b", seed=3, **SMALL)
    c = synthetic.generate_corpus(tmp_path / "c", seed=4, **SMALL)
    for split in ("train", "valid", "test"):
        name = f"ptb.{split}.txt"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "ptb.train.txt").read_bytes() != (
        tmp_path / "c" / "ptb.train.txt").read_bytes()
    assert a == b
    assert a == json.loads((tmp_path / "a" / "synthetic.json").read_text())
    text = (tmp_path / "a" / "ptb.train.txt").read_text()
    lines = text.splitlines(True)
    assert all(line.startswith(" ") and line.endswith(" \n") for line in lines)
    words = ptb.read_words(tmp_path / "a" / "ptb.train.txt")
    assert words == text.replace("\n", "<eos>").split()  # the tutorial's reader agrees
    assert a["tokens"]["train"] == len(words) >= SMALL["num_train_tokens"]
    assert words[-1] == "<eos>"
    src = markov.MarkovSource(vocab_size=SMALL["vocab_size"], seed=3)
    assert a["entropy_rate"] == src.entropy_rate
    assert math.isclose(a["perplexity_floor"], math.exp(a["entropy_rate"]))
    ids = np.array([src.words.index(w) for w in words])
    assert math.isclose(a["split_cross_entropy"]["train"], src.log_loss(ids), rel_tol=1e-12)


def test_load_synthetic_caches(tmp_path):
    data, info = synthetic.load_synthetic(cache_dir=tmp_path, seed=1, return_summary=True, **SMALL)
    assert isinstance(data, ptb.PTBData) and data.oov["train"] == 0
    assert len(data.train) == info["tokens"]["train"]
    (corpus,) = (tmp_path / "datasets" / "zoo-synthetic").iterdir()
    stamp = os.stat(corpus / "ptb.train.txt").st_mtime_ns
    again = synthetic.load_synthetic(cache_dir=tmp_path, seed=1, **SMALL)
    assert os.stat(corpus / "ptb.train.txt").st_mtime_ns == stamp  # read, not regenerated
    np.testing.assert_array_equal(again.train, data.train)
    assert again.vocab == data.vocab


def test_a_truncated_cached_corpus_is_made_again(tmp_path):
    data = synthetic.load_synthetic(cache_dir=tmp_path, seed=1, **SMALL)
    (corpus,) = (tmp_path / "datasets" / "zoo-synthetic").iterdir()
    train = corpus / "ptb.train.txt"
    whole = train.read_bytes()
    train.write_bytes(whole[: len(whole) // 2])  # a cut-short copy
    again = synthetic.load_synthetic(cache_dir=tmp_path, seed=1, **SMALL)
    np.testing.assert_array_equal(again.train, data.train)
    assert train.read_bytes() == whole
    (corpus / "ptb.valid.txt").write_bytes(whole[:-1] + b"x")  # same size, other text
    again = synthetic.load_synthetic(cache_dir=tmp_path, seed=1, **SMALL)
    np.testing.assert_array_equal(again.valid, data.valid)


def test_a_killed_generation_leaves_no_temporary_folder(tmp_path):
    base = tmp_path / "datasets" / "zoo-synthetic"
    code = ("from zoo.datasets import synthetic; "
            f"synthetic.load_synthetic(cache_dir={str(tmp_path)!r}, num_train_tokens=20_000_000)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    code = sigkill_when(proc, lambda: base.is_dir() and any(".tmp-" in p.name
                                                            for p in base.iterdir()),
                        timeout=120)
    assert code == -signal.SIGKILL, "the generation must be killed mid-way"
    (left,) = base.iterdir()
    assert left.name.endswith(f".tmp-{proc.pid}")
    synthetic.load_synthetic(cache_dir=tmp_path, seed=1, **SMALL)  # any later load
    assert not left.exists()
    assert all(".tmp-" not in p.name for p in base.iterdir())


def test_text8_stream_and_its_char_entropy(source):
    text = synthetic.generate_text8(200_000)
    assert len(text) == 200_000 and re.fullmatch("[a-z ]+", text)
    assert text == synthetic.generate_text8(200_000)
    # The stream decodes back to a path of the chain (words are unique, eos → "eos").
    index = {w: i for i, w in enumerate(source.words)}
    index[markov.EOS_WORD] = 0
    ids = np.array([index[w] for w in text.split()[:-1]])
    assert np.isfinite(source.log_loss(ids, prev=0))
    # chars/token of the sample matches the stationary mean the char entropy uses.
    assert abs(len(text) / len(text.split()) / source.mean_chars_per_token - 1) < 0.01
    assert math.isclose(source.char_entropy_rate,
                        source.entropy_rate / source.mean_chars_per_token)


def test_bad_arguments():
    with pytest.raises(ValueError,
                       match=r"`vocab_size` must be an integer >= 3\. Received: vocab_size=2"):
        markov.MarkovSource(vocab_size=2)
    with pytest.raises(ValueError, match=r"^Argument `num_successors` must be at most "
                                         r"vocab_size − 1 = 4\. Received: num_successors=10$"):
        markov.MarkovSource(vocab_size=5, num_successors=10)
    with pytest.raises(ValueError, match=r"`num_train_tokens` must be a positive integer\. "
                                         r"Received: num_train_tokens=0"):
        synthetic.generate_corpus("unused", num_train_tokens=0)
    with pytest.raises(ValueError, match=r"`mean_sentence_length` must be a finite number > 1\. "
                                         r"Received: mean_sentence_length=1"):
        markov.MarkovSource(mean_sentence_length=1)
    with pytest.raises(ValueError, match=r"`concentration` must be a finite number > 0\. "
                                         r"Received: concentration=0"):
        markov.MarkovSource(concentration=0)
    with pytest.raises(ValueError, match="transition the chain cannot make"):
        markov.MarkovSource(vocab_size=20).log_loss([0, 0])
