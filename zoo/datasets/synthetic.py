"""A generated offline corpus whose best possible perplexity is known exactly.

The text is drawn from `MarkovSource` (defined in `zoo.datasets.markov`), a seeded
Markov chain of pseudo-words whose entropy rate is exact. No
model can beat its `perplexity_floor` on text drawn from it, so the gap to that
floor is an honest measure of how well a model learned.

- `generate_corpus(out_dir, ...)`: `ptb.{train,valid,test}.txt` in PTB format
  (one sentence a line, a space before and after) and `synthetic.json`
  (entropy rate, floor, seed, sizes, and the true chain's cross-entropy on
  each written split).
- `load_synthetic(...)`: the same as `PTBData`, generated once into the Keras
  cache (deterministic for a seed and sizes). The default is the data of
  `python train.py`: 300 word types, 200k training tokens, made in about a second.
- `generate_text8(...)`: a text8-style character stream from the same chain,
  with its exact per-character entropy rate (`MarkovSource.char_entropy_rate`).

Only numpy is needed.
"""

import hashlib
import json
import math
import os
import shutil

import numpy as np

from zoo import checks
from zoo.datasets import _download
from zoo.datasets.ptb import EOS
from zoo.datasets.ptb import load_ptb
from zoo.datasets.markov import EOS_WORD
from zoo.datasets.markov import MarkovSource

_FORMAT_VERSION = 1


def _lines(words_of_ids):
    """PTB format: each sentence on a line with a space before and after."""
    out, line = [], []
    for w in words_of_ids:
        if w == EOS:
            out.append(" " + " ".join(line) + " \n")
            line = []
        else:
            line.append(w)
    return "".join(out)


def generate_corpus(out_dir, num_train_tokens=200_000, num_valid_tokens=20_000,
                    num_test_tokens=20_000, vocab_size=300, seed=0, **source_kwargs):
    """Writes a PTB-format corpus drawn from `MarkovSource` into `out_dir`.

    The three splits are consecutive stretches of one sample path, each made of
    whole sentences: a split holds at least the requested number of tokens
    (`<eos>` counted), plus the rest of its last sentence. Also writes
    `synthetic.json` with the source's config, `entropy_rate` (nats/token),
    `perplexity_floor`, the token counts and, per split, the true chain's
    cross-entropy on the written text (the best any model can do on exactly
    that text, up to the first token). Deterministic for the arguments.

    Args:
        out_dir: str, the directory to write (created if needed).
        num_train_tokens: int, tokens in `ptb.train.txt`. Defaults to `200_000`.
        num_valid_tokens: int, tokens in `ptb.valid.txt`. Defaults to `20_000`.
        num_test_tokens: int, tokens in `ptb.test.txt`. Defaults to `20_000`.
        vocab_size: int, word types including `<eos>`. Defaults to `300`.
        seed: int, seed of the chain and of the sample. Defaults to `0`.
        **source_kwargs: more `MarkovSource` arguments.

    Returns:
        The summary dict written to `synthetic.json`.

    Example:
    >>> summary = generate_corpus("/tmp/synth", seed=0)  # doctest: +SKIP
    >>> data = load_ptb(data_dir="/tmp/synth")  # doctest: +SKIP
    """
    for name, value in (("num_train_tokens", num_train_tokens),
                        ("num_valid_tokens", num_valid_tokens),
                        ("num_test_tokens", num_test_tokens)):
        checks.positive_int(name, value)
    source = MarkovSource(vocab_size=vocab_size, seed=seed, **source_kwargs)
    rng = np.random.default_rng([int(seed), 1])
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    tokens, cross_entropy, files = {}, {}, {}
    for split, n in (("train", num_train_tokens), ("valid", num_valid_tokens),
                     ("test", num_test_tokens)):
        ids = source.sample_sentences(n, rng)
        tokens[split] = int(len(ids))
        cross_entropy[split] = source.log_loss(ids)
        path = os.path.join(out_dir, f"ptb.{split}.txt")
        text = _lines(source.decode(ids)).encode("utf-8")
        with open(path + ".tmp", "wb") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        files[os.path.basename(path)] = {"bytes": len(text),
                                         "sha256": hashlib.sha256(text).hexdigest()}
    summary = {
        "format_version": _FORMAT_VERSION,
        "source": dict(source.get_config(), type="zoo.datasets.MarkovSource"),
        "seed": int(seed),
        "entropy_rate": source.entropy_rate,
        "perplexity_floor": source.perplexity_floor,
        "bits_per_token": source.entropy_rate / math.log(2),
        "tokens": tokens,
        "split_cross_entropy": cross_entropy,
        "split_perplexity": {k: math.exp(v) for k, v in cross_entropy.items()},
        "requested_tokens": {"train": num_train_tokens, "valid": num_valid_tokens,
                             "test": num_test_tokens},
        "files": files,
    }
    with open(os.path.join(out_dir, "synthetic.json.tmp"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    os.replace(os.path.join(out_dir, "synthetic.json.tmp"), os.path.join(out_dir, "synthetic.json"))
    return summary


def load_synthetic(cache_dir=None, num_train_tokens=200_000, num_valid_tokens=20_000,
                   num_test_tokens=20_000, vocab_size=300, seed=0, return_summary=False,
                   **source_kwargs):
    """The generated corpus as `PTBData`, made once into the cache.

    The corpus lives in `<cache_dir>/datasets/zoo-synthetic/<key>/`, `key`
    naming the arguments, so it is generated on first use (about a second for
    the defaults) and read afterwards. It is written to a temporary directory
    and renamed, so an interrupted run leaves no half corpus behind (and the next call
    deletes the temporary folder of a killed one). Every split's size and sha256 are
    recorded in `synthetic.json` and checked on each load: a truncated or edited cached
    corpus is generated again.

    Args:
        cache_dir: str or None, the Keras cache root. Defaults to `$KERAS_HOME` or `~/.keras`.
        num_train_tokens, num_valid_tokens, num_test_tokens, vocab_size, seed,
            **source_kwargs: as in `generate_corpus`.
        return_summary: bool, also return the summary dict (entropy rate, floor...).

    Returns:
        `PTBData` (its vocabulary adds `<unk>` with count 0, never used), or
        `(PTBData, summary)`.

    Example:
    >>> data, info = load_synthetic(return_summary=True)  # doctest: +SKIP
    >>> info["perplexity_floor"]  # doctest: +SKIP
    """
    params = dict(num_train_tokens=num_train_tokens, num_valid_tokens=num_valid_tokens,
                  num_test_tokens=num_test_tokens, vocab_size=vocab_size, seed=seed,
                  **source_kwargs)
    key_src = json.dumps(dict(params, format_version=_FORMAT_VERSION), sort_keys=True)
    key = f"seed{seed}-v{vocab_size}-{hashlib.sha1(key_src.encode()).hexdigest()[:10]}"
    base = os.path.join(_download.keras_cache_dir(cache_dir), "datasets", "zoo-synthetic")
    final = os.path.join(base, key)
    summary_path = os.path.join(final, "synthetic.json")
    _remove_abandoned(base)
    summary = _checked_summary(final)
    if summary is None:  # not made yet, or damaged (a cache: made again, identically)
        tmp = f"{final}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        generate_corpus(tmp, **params)
        if os.path.isdir(final) and _checked_summary(final) is None:
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
        with open(summary_path, encoding="utf-8") as f:
            summary = json.load(f)
    data = load_ptb(data_dir=final)
    return (data, summary) if return_summary else data


def _checked_summary(folder):
    """The folder's synthetic.json if every file it lists has its recorded size and
    sha256, else None (no corpus, a truncated or edited one, or one made before files
    were recorded)."""
    try:
        with open(os.path.join(folder, "synthetic.json"), encoding="utf-8") as f:
            summary = json.load(f)
        files = summary["files"]
        for name in ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"):
            with open(os.path.join(folder, name), "rb") as f:
                data = f.read()
            if (len(data) != files[name]["bytes"] or
                    hashlib.sha256(data).hexdigest() != files[name]["sha256"]):
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return summary


def _remove_abandoned(base):
    """Deletes the temporary folders (`KEY.tmp-PID`) of generations whose process is gone."""
    if not os.path.isdir(base):
        return
    for name in os.listdir(base):
        pid = name.rpartition(".tmp-")[2]
        if ".tmp-" in name and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def generate_text8(num_chars=1_000_000, seed=0, vocab_size=300, **source_kwargs):
    """A text8-style character stream drawn from `MarkovSource`.

    Tokens are written as their pseudo-words followed by one space, `<eos>` as
    the word `"eos"` (no pseudo-word is spelled so), cut to `num_chars`
    characters. Its exact entropy rate is `MarkovSource(...).char_entropy_rate`
    nats per character.

    Args:
        num_chars: int, characters to return. Defaults to `1_000_000`.
        seed: int, seed of the chain and of the sample. Defaults to `0`.
        vocab_size: int, word types including `<eos>`. Defaults to `300`.
        **source_kwargs: more `MarkovSource` arguments.

    Returns:
        str of lowercase a-z words and single spaces.
    """
    num_chars = checks.positive_int("num_chars", num_chars)
    source = MarkovSource(vocab_size=vocab_size, seed=seed, **source_kwargs)
    rng = np.random.default_rng([int(seed), 2])
    spelled = [EOS_WORD + " "] + [w + " " for w in source.words[1:]]
    pieces, total, last = [], 0, 0  # the stream starts a sentence (after `<eos>`)
    while total < num_chars:
        n = int((num_chars - total) / source.mean_chars_per_token) + 16
        ids = source.sample(n, rng, prev=last)
        last = int(ids[-1])
        chunk = "".join(spelled[i] for i in ids.tolist())
        pieces.append(chunk)
        total += len(chunk)
    return "".join(pieces)[:num_chars]


def generate_text(num_words=60_000, seed=0, vocab_size=300, **source_kwargs):
    """Sentences of pseudo-words from `MarkovSource`, one a line (no `<eos>` token).

    Whole sentences until at least `num_words` tokens (`<eos>` counted) are drawn.

    Args:
        num_words: int, tokens to draw. Defaults to `60_000`.
        seed: int, seed of the chain and of the sample. Defaults to `0`.
        vocab_size: int, word types including `<eos>`. Defaults to `300`.
        **source_kwargs: more `MarkovSource` arguments.

    Returns:
        str, lines of lowercase a-z words separated by single spaces.
    """
    num_words = checks.positive_int("num_words", num_words)
    source = MarkovSource(vocab_size=vocab_size, seed=seed, **source_kwargs)
    ids = source.sample_sentences(num_words, np.random.default_rng([int(seed), 3]))
    return "".join(line.strip() + "\n" for line in _lines(source.decode(ids)).splitlines(True))
