"""The mirror task as `train.py` runs it: its texts, its run folder, its checkpoints."""

import os

from zoo.datasets import mirror_text
from zoo.datasets.corpus import shared_data_dir
from zoo.datasets.ptb import mini_ptb_split
from zoo.experiments.evaluate import checkpoint_kind
from zoo.experiments.evaluate import load_checkpoint
from zoo.experiments.mirror_eval import evaluate_mirror
from zoo.experiments.mirror_eval import mirror_sentence
from zoo.experiments.train_mirror import train_mirror
from zoo.models import mirror


def mirror_texts(data, data_dir=None):
    """(train, valid, test) texts for the mirror model: None = the generated offline text.

    Real text is the mini-PTB split (train = ptb.valid.txt, valid / test = the two halves of
    ptb.test.txt), or PTB's own splits with `data` "ptb" (file paths in `data_dir`).
    """
    if data == "synthetic":
        return None, None, None
    if data == "text8":
        raise ValueError("`data='text8'` is one unbroken stream with no sentences; the mirror "
                         "model needs sentences: use synthetic, mini-ptb or ptb")
    if data == "mini-ptb":
        d = data_dir or os.path.join(shared_data_dir(), "ptb")
        paths = [os.path.join(d, f"ptb.{s}.txt") for s in ("valid", "test")]
        for path in paths:
            if not os.path.isfile(path):
                raise ValueError(f"{path} not found: pass `data_dir` with ptb.valid.txt and "
                                 "ptb.test.txt")
        with open(paths[1], encoding="utf-8-sig") as f:
            valid_lines, test_lines = mini_ptb_split(f.read().splitlines())
        return paths[0], "\n".join(valid_lines), "\n".join(test_lines)
    if data_dir is None:
        raise ValueError("`data='ptb'` for the mirror model needs `data_dir` with ptb.*.txt")
    return tuple(os.path.join(data_dir, f"ptb.{s}.txt") for s in ("train", "valid", "test"))


def train_mirror_run(config, output_dir, data="synthetic", data_dir=None, corpus_tokens=None,
                     seed=0, overwrite=False, verbose=2):
    """Trains the mirror model `config` (a MirrorConfig) in the run folder `output_dir`.

    The run folder, its guarantees and its files are `train_mirror`'s: an interrupted run
    resumes, a finished one returns its results, other settings are refused unless
    `overwrite`.
    """
    text, valid_text, test_text = mirror_texts(data, data_dir)
    if corpus_tokens:
        if data != "synthetic":
            raise ValueError("Argument `corpus_tokens` only applies to data='synthetic'. "
                             f"Received: data={data!r}")
        text = mirror_text.offline_text(num_words=corpus_tokens, seed=seed)
    return train_mirror(output_dir, text=text, valid_text=valid_text, test_text=test_text,
                        config=config, seed=seed, verbose=verbose, overwrite=overwrite,
                        data=data)


def load_mirror_checkpoint(path):
    """The MirrorSeq2Seq at `path`; a language model there gets the commands that fit it."""
    kind = checkpoint_kind(path)
    if kind not in (None, "seq2seq"):
        raise ValueError(f"{path} is a {kind}-level language model, not a mirror-seq2seq "
                         "checkpoint: generate text with it (or evaluate it) instead")
    if not os.path.isfile(path):
        raise ValueError(f"checkpoint not found: {path}")
    model = load_checkpoint(path, mirror.load_mirror)
    if not isinstance(model, mirror.MirrorSeq2Seq):
        raise ValueError(f"{path} is not a mirror-seq2seq checkpoint")
    return model


def mirror_checkpoint(path, sentence, beam_width=1):
    """The mirror checkpoint at `path` applied to `sentence`."""
    model = load_mirror_checkpoint(path)
    try:
        return mirror_sentence(model, sentence, beam_width)
    except ValueError as e:
        raise ValueError(str(e).splitlines()[0]) from None


def evaluate_mirror_checkpoint(path, split="test", data="synthetic", data_dir=None, seed=0):
    """Word and sentence accuracy of the mirror checkpoint at `path` on one split."""
    model = load_mirror_checkpoint(path)
    text = mirror_texts(data, data_dir)[("train", "valid", "test").index(split)]
    if text is None:
        text = mirror_text.offline_text(num_words=20000, seed=seed + 1)
    elif os.path.isfile(text):
        text = mirror_text.read_text(text)
    sentences = [s for s in mirror_text.split_sentences(text, 10) if len(s) <= model.max_length]
    return evaluate_mirror(model, sentences)
