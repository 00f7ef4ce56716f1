"""Checkpoints with their metadata, and the perplexity of a language model on a split."""

import os
import zipfile

import keras

import zoo.layers  # noqa: F401  (registers the layers for load_model; zoo.training's below)
from zoo.datasets.corpus import load_corpus
from zoo.datasets.corpus import make_dataset
from zoo.models.configs import config_from_dict
from zoo.models.lm import compile_lm
from zoo.models.lm import copy_to_batch
from zoo.training import StatefulRNNCallback
from zoo.training.reporting import META_FILE
from zoo.training.reporting import meta_path
from zoo.training.reporting import read_meta

#: Tokens per chunk when a batch-1 stream is scored.
EVAL_STEPS = 50


def read_run_meta(path):
    """`(meta, config)` of the `zoo_meta.json` at `path`; one ValueError naming the file."""
    meta = read_meta(path)
    try:
        config = config_from_dict(meta["config"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path} has a config this version cannot read "
                         f"({str(e).splitlines()[0]}): re-create it by re-running the "
                         "training command, or restore it from a copy") from None
    return meta, config


def checkpoint_kind(path):
    """The `kind` in the metadata beside checkpoint `path` ("word", "char", "seq2seq"), or
    None where the checkpoint or its metadata is missing."""
    if not (os.path.isfile(path) and os.path.isfile(meta_path(path))):
        return None
    return read_meta(meta_path(path))["kind"]


def read_checkpoint(path, command="generate"):
    """Loads a language-model checkpoint with the config and vocabulary saved beside it.

    `command` names the task in the error a mirror checkpoint gets ("generate", "evaluate").

    Returns:
        (model, config, meta).
    """
    if not os.path.isfile(path):
        raise ValueError(f"checkpoint not found: {path}")
    if not os.path.isfile(meta_path(path)):
        raise ValueError(f"{META_FILE} not found beside {path}: it is written by `train_lm` into "
                         "the run directory with the checkpoints")
    meta, config = read_run_meta(meta_path(path))
    if meta["kind"] == "seq2seq":
        raise ValueError(f"{path} is a mirror-seq2seq checkpoint, not a language model: "
                         f"{command} needs a language model; mirror sentences with it (or "
                         "evaluate it as a mirror model) instead")
    return load_checkpoint(path, keras.saving.load_model, compile=False), config, meta


def load_checkpoint(path, load, **kwargs):
    """`load(path, **kwargs)`, with one-line errors for a damaged or foreign file.

    Keras reports any file that is not a zip archive as "File not found"; this says the
    file is there and unreadable, and names it.

    Raises:
        ValueError: the file is not a `.keras` zip archive, or fails to load.
    """
    if not zipfile.is_zipfile(path):
        raise ValueError(f"checkpoint {path} is unreadable: it is not a .keras (zip) file, "
                         "so it is damaged or of another format")
    try:
        return load(path, **kwargs)
    except Exception as e:  # a corrupt or foreign file: one line, not a traceback
        raise ValueError(f"checkpoint {path} is unreadable: {str(e).splitlines()[0]}") from None


def evaluate_stream(model, config, corpus, ids, batch_size=1):
    """Perplexity of `model`'s weights on one split, read as one stream at `batch_size`.

    The PTB tutorial tests at batch 1, one step at a time. A stateful model at batch 1
    computes the same per-token losses whatever the chunk length (the state carries over),
    so this reads chunks of `EVAL_STEPS` (50) tokens for speed; only the fewer than 50
    trailing tokens that do not fill a chunk go unscored.
    """
    steps = EVAL_STEPS if batch_size == 1 else config.num_steps
    clone = copy_to_batch(model, config, len(corpus.vocab), batch_size=batch_size,
                          num_steps=steps)
    compile_lm(clone, config)
    ds = make_dataset(corpus.kind, config.family, ids, batch_size, steps)
    logs = clone.evaluate(ds, verbose=0, return_dict=True, callbacks=[StatefulRNNCallback()])
    return float(logs["perplexity"])


def read_lm_and_corpus(checkpoint, data="synthetic", data_dir=None, corpus_tokens=None,
                       corpus_vocab=None, seed=0, command="evaluate"):
    """A language-model checkpoint and the corpus `data`, checked to share a vocabulary.

    Returns:
        (model, config, corpus).

    Raises:
        ValueError: a missing or foreign checkpoint, data of another vocabulary.
    """
    model, config, meta = read_checkpoint(checkpoint, command)
    corpus = load_corpus(data, config.family, data_dir, corpus_tokens, corpus_vocab,
                         seed=seed)
    if list(meta["vocab"]) != corpus.vocab:
        raise ValueError(
            f"checkpoint {checkpoint} was trained on another vocabulary "
            f"({len(meta['vocab'])} symbols, data {meta.get('data')}) than `data={data!r}` "
            f"({len(corpus.vocab)} symbols)")
    return model, config, corpus


def split_ids(corpus, split, data):
    """The ids of `split`; ValueError where `data` has no such split."""
    ids = getattr(corpus, split)
    if ids is None:
        raise ValueError(f"`data={data!r}` has no {split} split")
    return ids


def evaluate_lm(checkpoint, split="test", batch_size=1, data="synthetic", data_dir=None,
                corpus_tokens=None, corpus_vocab=None, seed=0):
    """Perplexity of a language-model checkpoint on one split of `data`.

    Returns:
        (perplexity, corpus, ids): the number, the corpus read and the split's ids.

    Raises:
        ValueError: a missing or foreign checkpoint, data of another vocabulary, a split
            the data does not have, a split too short for `batch_size`.
    """
    model, config, corpus = read_lm_and_corpus(checkpoint, data, data_dir, corpus_tokens,
                                               corpus_vocab, seed, command="generate")
    ids = split_ids(corpus, split, data)
    return evaluate_stream(model, config, corpus, ids, batch_size=batch_size), corpus, ids
