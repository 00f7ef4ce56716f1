"""The corpora the command line and the tuner train on, as ids of three splits."""

import math
import os

from zoo import checks
from zoo.datasets import (alphabet, markov, ptb, ptb_pipeline, synthetic, text8, text8_pipeline,
                          vocabulary)

WORD_DATA = ("synthetic", "ptb", "mini-ptb")
CHAR_DATA = ("synthetic", "text8", "ptb", "mini-ptb")
DATA_CHOICES = ("synthetic", "ptb", "mini-ptb", "text8")


def shared_data_dir():
    """The shared data folder: `$ZOO_SHARED_DATA`, default `../shared/data` beside the project.

    The one place this default is coded; tests, benchmarks and `data="mini-ptb"` use it.
    """
    root = os.environ.get("ZOO_SHARED_DATA")
    if root is None:
        project = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        root = os.path.join(os.path.dirname(project), "shared", "data")
    return root


class Corpus:
    """Ids of the three splits plus what is needed to read them back.

    kind is "word" or "char"; vocab is the id → token list; floor is the generated corpus's
    best possible perplexity (None for real data).
    """

    def __init__(self, kind, train, valid, test, vocab, name, floor=None, oov=None):
        self.kind, self.train, self.valid, self.test = kind, train, valid, test
        self.vocab, self.name, self.floor, self.oov = list(vocab), name, floor, oov or {}


def load_corpus(data, family, data_dir=None, corpus_tokens=None, corpus_vocab=None, seed=0):
    """Loads `data` as word or character ids, as the model family needs."""
    char = family in ("char", "bigram")
    if data not in (CHAR_DATA if char else WORD_DATA):
        checks.invalid("data", f"one of {CHAR_DATA if char else WORD_DATA} (the data with a "
                       f"{'character' if char else 'word'} version)", data)
    if data == "synthetic" and data_dir is not None:
        raise ValueError("Argument `data_dir` does not apply to data='synthetic' (it is "
                         f"generated). Received: data_dir={data_dir}")
    if data != "synthetic" and (corpus_tokens or corpus_vocab):
        raise ValueError("Arguments `corpus_tokens` and `corpus_vocab` only apply to "
                         f"data='synthetic'. Received: data={data!r}")
    floor = None
    if data == "synthetic":
        kwargs = {"seed": seed}
        if corpus_vocab:
            kwargs["vocab_size"] = corpus_vocab
        if char:
            n_train = corpus_tokens or 1_000_000
            n_eval = max(n_train // 10, 2_000)
            text = synthetic.generate_text8(num_chars=n_train + 2 * n_eval, **kwargs)
            train_text = text[:n_train]
            valid_text = text[n_train:n_train + n_eval]
            test_text = text[n_train + n_eval:]
            floor = math.exp(markov.MarkovSource(**kwargs).char_entropy_rate)
        else:
            if corpus_tokens:
                n_eval = max(corpus_tokens // 10, 1_000)
                kwargs.update(num_train_tokens=corpus_tokens, num_valid_tokens=n_eval,
                              num_test_tokens=n_eval)
            d, info = synthetic.load_synthetic(return_summary=True, **kwargs)
            return Corpus("word", d.train, d.valid, d.test, d.vocab.id_to_word, "synthetic",
                          floor=info["perplexity_floor"], oov=d.oov)
    elif data == "text8":
        train_text, valid_text = text8.load_text8(path=data_dir)
        test_text = None
    else:
        d = (ptb.load_mini_ptb(data_dir or os.path.join(shared_data_dir(), "ptb"))
             if data == "mini-ptb" else ptb.load_ptb(data_dir=data_dir))
        if not char:
            return Corpus("word", d.train, d.valid, d.test, d.vocab.id_to_word, data, oov=d.oov)
        words = [d.vocab.decode(split) for split in (d.train, d.valid, d.test)]
        train_text, valid_text, test_text = (
            alphabet.to_text8(" ".join(w for w in ws if w not in (ptb.EOS, vocabulary.UNK)))
            for ws in words)
    ids = [None if t is None else alphabet.text_to_ids(t)[0] for t in
           (train_text, valid_text, test_text)]
    vocab = [alphabet.id2char(i) for i in range(alphabet.VOCAB_SIZE)]
    return Corpus("char", *ids, vocab, data, floor=floor)


def make_dataset(corpus_kind, family, ids, batch_size, num_steps, steps=None, stride=None):
    """The stateful tf.data pipeline of one split, as `fit`/`evaluate` consume it.

    Word data is read as `ptb_iterator` reads it, one pass; character data as the text8
    notebook's `BatchGenerator` does, one pass or `steps` batches (continuing the stream),
    batches `stride` characters apart (default `num_steps`).
    """
    if corpus_kind == "word":
        ds = ptb_pipeline.ptb_dataset(ids, batch_size, num_steps)
        return ds.repeat() if steps else ds
    return text8_pipeline.text8_dataset(ids, batch_size, num_steps, bigram=(family == "bigram"),
                                        steps=steps, stride=stride)


def fit_datasets(config, corpus, initial_epoch=0, seed=0):
    """The datasets that train `config` on `corpus`: train and tune use it.

    With `config.steps_per_epoch` (stream data, the text8 recipes) the training data is one
    stream of `config.train_steps` (`steps_per_epoch × max_max_epoch + extra_steps`) batches
    read on across epochs, `config.batch_stride` characters apart (word data
    repeats); otherwise every epoch is one pass. `initial_epoch` > 0 (a resumed run) skips
    the stream's batches of the epochs already trained, so the run reads what the
    uninterrupted one would.

    Args:
        config: LMConfig, the recipe.
        corpus: Corpus, the data.
        initial_epoch: int, epochs already trained. Defaults to `0`.
        seed: int, seeds the plan of an AWD recipe's variable-length batches. Defaults to `0`.

    With `config.variable_bptt` (AWD-LSTM) the training data is
    `zoo.datasets.variable_bptt_dataset`'s: each epoch a new plan of lengths around
    `num_steps`, a pure function of (seed, epoch); `fit` needs `recipe_callbacks(config,
    train_data=train_ds)` (its `VariableBPTT`). Validation batches are `num_steps` long.

    Returns:
        (train_ds, valid_ds): the stateful datasets. `fit`'s keyword arguments are
        `zoo.training.fit_kwargs(config)`.

    Raises:
        ValueError: the data is too small for the batch shape (the message names
            `batch_size` and `num_steps`).
    """
    B, T = config.batch_size, config.num_steps
    try:
        return _fit_datasets(config, corpus, initial_epoch, seed)
    except ValueError as e:
        named = [f"`batch_size={B}`", f"`num_steps={T}`"]  # unless the error names both
        raise ValueError(str(e) if all(n in str(e) for n in named)
                         else f"{e} ({', '.join(named)})") from None


def _fit_datasets(config, corpus, initial_epoch, seed):
    B, T, spe = config.batch_size, config.num_steps, config.steps_per_epoch
    stride = config.batch_stride
    if getattr(config, "variable_bptt", False):
        from zoo.datasets.variable_bptt import variable_bptt_dataset

        train_ds, _ = variable_bptt_dataset(corpus.train, B, seed, config.fit_epochs, bptt=T)
        valid_ds = make_dataset(corpus.kind, config.family, corpus.valid, B, T)
        return train_ds, valid_ds
    train_ds = make_dataset(corpus.kind, config.family, corpus.train, B, T, config.train_steps,
                            stride)
    valid_ds = make_dataset(corpus.kind, config.family, corpus.valid, B, T, stride=stride)
    if spe and initial_epoch:
        train_ds = train_ds.skip(initial_epoch * spe)
    return train_ds, valid_ds

