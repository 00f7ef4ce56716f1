"""Sampling text from a language-model checkpoint."""

import numpy as np

from zoo import checks
from zoo.datasets import alphabet
from zoo.experiments.evaluate import read_checkpoint
from zoo.models.lm import copy_to_batch
from zoo.training.sampling import sample_ids


def sample_tokens(model, config, vocab, prime_ids, length, temperature=1.0, seed=0):
    """Samples `length` ids after `prime_ids` from a batch-1, one-step copy of `model`.

    temperature ≤ 1e-6 takes the argmax (greedy, deterministic); the loop is
    `zoo.training.sampling.sample_ids`, the one `SampleText` uses during training.
    """
    width = 2 if config.family == "bigram" else 1
    if len(prime_ids) < width:
        checks.invalid("prime_ids", "at least 2 ids for a bigram model", prime_ids,
                       shown=f"{len(prime_ids)} id(s)")
    step = copy_to_batch(model, config, len(vocab), batch_size=1, num_steps=1)
    return sample_ids(step, prime_ids, length, temperature, np.random.default_rng(seed))


def generate_text(checkpoint, prime=None, length=None, temperature=1.0, seed=0):
    """Text sampled from a language-model checkpoint after `prime`.

    Word models start from `prime` (default `<eos>`) and sample 50 words by default,
    printed with `<eos>` as line breaks; character models start from `prime` (default a
    space, lowercase a-z and spaces only) and sample 79 characters by default.

    Raises:
        ValueError: a missing or foreign checkpoint, a prime the model cannot read.
    """
    model, config, meta = read_checkpoint(checkpoint)
    vocab = meta["vocab"]
    if meta["kind"] == "word":
        index = {w: i for i, w in enumerate(vocab)}
        words = (prime or "<eos>").split()
        unknown = [w for w in words if w not in index]
        if unknown:
            checks.invalid("prime", "words of the model's vocabulary", prime,
                           shown=f"{prime!r} (unknown: {' '.join(unknown)})")
        ids = sample_tokens(model, config, vocab, [index[w] for w in words], length or 50,
                            temperature, seed)
        return " ".join(vocab[i] for i in ids).replace(" <eos> ", "\n").replace("<eos>", "\n")
    prime_text = prime if prime is not None else " "
    if config.family == "bigram" and len(prime_text) < 2:
        prime_text = " " + prime_text
    bad = sorted(set(c for c in prime_text if c != " " and not "a" <= c <= "z"))
    if bad:
        checks.invalid("prime", "lowercase a-z and spaces", prime,
                       shown=f"{prime!r} (found {''.join(bad)!r})")
    ids = sample_tokens(model, config, vocab, [alphabet.char2id(c) for c in prime_text],
                        length or 79, temperature, seed)
    return prime_text + "".join(vocab[i] for i in ids)
