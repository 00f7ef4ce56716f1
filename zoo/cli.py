"""The `train.py` command line: train, evaluate, generate, tune, mirror.

    python train.py [--model NAME] [--data synthetic|ptb|mini-ptb|text8] ...   # train
    python train.py evaluate --checkpoint RUN/best.keras --data ...
    python train.py generate --checkpoint RUN/best.keras --prime "the" --length 50
    python train.py tune --model NAME --tuner random --max-trials 10
    python train.py mirror --checkpoint RUN/best.keras "the quick brown fox"

Every bad value ends the program with one `error:` line on stderr and a non-zero exit.
"""

import argparse
import errno
import math
import os
import sys

from zoo.models.configs import CELLS, DEFAULT_MODEL, get_config, list_configs

COMMANDS = ("train", "evaluate", "generate", "tune", "mirror")
WORD_DATA = ("synthetic", "ptb", "mini-ptb")
CHAR_DATA = ("synthetic", "text8", "ptb", "mini-ptb")
DATA_CHOICES = ("synthetic", "ptb", "mini-ptb", "text8")


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CLIError(f"{self.prog}: {message}")


def _number(convert, ok, what):
    """An argparse `type` that converts with `convert` and checks `ok`, naming `what`.

    Floats must be finite: `float("inf")` and `float("nan")` parse, but no option means them.
    """

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        if (isinstance(value, float) and not math.isfinite(value)) or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


positive_int = _number(int, lambda v: v > 0, "a positive integer")
positive_float = _number(float, lambda v: v > 0, "a finite number > 0")
non_negative_float = _number(float, lambda v: v >= 0, "a finite number >= 0")
#: Seeds go to `keras.utils.set_random_seed`, hence numpy's range.
seed_int = _number(int, lambda v: 0 <= v < 2**32, "an integer from 0 to 2**32 - 1")


def _add_data_args(p, default="synthetic"):
    p.add_argument("--data", choices=DATA_CHOICES, default=default,
                   help="synthetic: the generated offline corpus (default); ptb: Penn Treebank "
                        "(downloaded, or --data-dir); mini-ptb: the shared small real split "
                        "(--data-dir, default $ZOO_SHARED_DATA/ptb); text8: characters "
                        "(downloaded, or --data-dir pointing at text8.zip or a text file)")
    p.add_argument("--data-dir", default=None, help="local copy of the data (no download)")
    p.add_argument("--corpus-tokens", type=positive_int, default=None,
                   help="synthetic data only: training tokens to generate")
    p.add_argument("--corpus-vocab", type=positive_int, default=None,
                   help="synthetic data only: vocabulary size of the generated corpus")


def _add_model_args(p):
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"a registered config (default {DEFAULT_MODEL}); --list-models shows all")
    p.add_argument("--cell", choices=CELLS, default=None,
                   help="LSTM implementation: fused (the zoo's fast layer), gate (gate-by-gate "
                        "cell), keras (keras.layers.LSTM)")
    p.add_argument("--epochs", type=positive_int, default=None, help="epochs (max_max_epoch)")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--num-steps", type=positive_int, default=None, help="unrolled timesteps")
    p.add_argument("--hidden-size", type=positive_int, default=None)
    p.add_argument("--num-layers", type=positive_int, default=None)
    p.add_argument("--learning-rate", type=positive_float, default=None)
    p.add_argument("--steps-per-epoch", type=positive_int, default=None,
                   help="training steps per epoch (stream data); default: one pass")
    p.add_argument("--tie-weights", action="store_true", default=None,
                   help="share the embedding matrix with the softmax")


def build_parser():
    parser = _Parser(prog="train.py", description=__doc__.split("\n\n")[0])
    _add_model_args(parser)
    _add_data_args(parser)
    parser.add_argument("--output-dir", default=None,
                        help="run directory (default runs/MODEL-DATA plus the flags that change "
                             "the preset, e.g. runs/ptb-small-ptb-hidden-size32-seed1); "
                             "re-running the same command resumes an interrupted run from its "
                             "last finished epoch")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete the run (backup, checkpoints, history, results) in the "
                             "output directory and start afresh")
    parser.add_argument("--seed", type=seed_int, default=0)
    parser.add_argument("--jit", action="store_true", help="XLA-compile the train step")
    parser.add_argument("--distribute", choices=("mirrored", "multi-worker"), default=None,
                        help="data-parallel training (TensorFlow backend): mirrored = all GPUs "
                             "of this machine; multi-worker = the machines in TF_CONFIG. "
                             "--batch-size is the global batch")
    parser.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                        help="Keras fit verbosity (default: progress bar on a terminal)")
    parser.add_argument("--list-models", action="store_true", help="list the configs and exit")
    return parser


# --------------------------------------------------------------------------- data


class Corpus:
    """Ids of the three splits plus what is needed to read them back.

    kind is "word" or "char"; vocab is the id → token list; floor is the generated corpus's
    best possible perplexity (None for real data).
    """

    def __init__(self, kind, train, valid, test, vocab, name, floor=None, oov=None):
        self.kind, self.train, self.valid, self.test = kind, train, valid, test
        self.vocab, self.name, self.floor, self.oov = list(vocab), name, floor, oov or {}


def _shared_ptb_dir():
    root = os.environ.get("ZOO_SHARED_DATA")
    if root is None:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        root = os.path.join(os.path.dirname(here), "shared", "data")
    return os.path.join(root, "ptb")


def load_corpus(data, family, data_dir=None, corpus_tokens=None, corpus_vocab=None, seed=0):
    """Loads `data` as word or character ids, as the model family needs."""
    from zoo.datasets import ptb, synthetic, text8

    char = family in ("char", "bigram")
    if data not in (CHAR_DATA if char else WORD_DATA):
        raise CLIError(f"--data {data} has no {'character' if char else 'word'} version; "
                       f"choose one of {', '.join(CHAR_DATA if char else WORD_DATA)}")
    if data != "synthetic" and (corpus_tokens or corpus_vocab):
        raise CLIError("--corpus-tokens/--corpus-vocab only apply to --data synthetic")
    floor = None
    if data == "synthetic":
        kwargs = {"seed": seed}
        if corpus_vocab:
            kwargs["vocab_size"] = corpus_vocab
        if char:
            from zoo.datasets.synthetic import MarkovSource

            n_train = corpus_tokens or 1_000_000
            n_eval = max(n_train // 10, 2_000)
            text = synthetic.generate_text8(num_chars=n_train + 2 * n_eval, **kwargs)
            train_text = text[:n_train]
            valid_text = text[n_train:n_train + n_eval]
            test_text = text[n_train + n_eval:]
            floor = math.exp(MarkovSource(**kwargs).char_entropy_rate)
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
        d = (ptb.load_mini_ptb(data_dir or _shared_ptb_dir()) if data == "mini-ptb"
             else ptb.load_ptb(data_dir=data_dir))
        if not char:
            return Corpus("word", d.train, d.valid, d.test, d.vocab.id_to_word, data, oov=d.oov)
        words = [d.vocab.decode(split) for split in (d.train, d.valid, d.test)]
        train_text, valid_text, test_text = (
            text8.to_text8(" ".join(w for w in ws if w not in (ptb.EOS, ptb.UNK)))
            for ws in words)
    ids = [None if t is None else text8.text_to_ids(t)[0] for t in
           (train_text, valid_text, test_text)]
    vocab = [text8.id2char(i) for i in range(text8.VOCAB_SIZE)]
    return Corpus("char", *ids, vocab, data, floor=floor)


def make_dataset(corpus_kind, family, ids, batch_size, num_steps, steps=None):
    """The stateful tf.data pipeline of one split, as `fit`/`evaluate` consume it.

    Word data is read as `ptb_iterator` reads it, one pass; character data as the text8
    notebook's `BatchGenerator` does, one pass or `steps` batches (continuing the stream).
    """
    from zoo.datasets import ptb, text8

    if corpus_kind == "word":
        ds = ptb.ptb_dataset(ids, batch_size, num_steps)
        return ds.repeat() if steps else ds
    return text8.text8_dataset(ids, batch_size, num_steps, bigram=(family == "bigram"),
                               steps=steps)


def fit_arguments(config, corpus=None, initial_epoch=0, on_nan=None):
    """What `model.fit` gets to train `config`: `train.py` and `train.py tune` both use it.

    With `config.steps_per_epoch` (stream data, the text8 recipes) the training data is one
    stream of `steps_per_epoch × max_max_epoch` batches read on across epochs (word data
    repeats); otherwise every epoch is one pass. `initial_epoch` > 0 (a resumed run) skips
    the stream's batches of the epochs already trained, so the run reads what the
    uninterrupted one would.

    Args:
        config: LMConfig, the recipe.
        corpus: Corpus or None, the data; None returns no datasets (a tuner's trial gets
            them from `search`).
        initial_epoch: int, epochs already trained. Defaults to `0`.
        on_nan: Callback or None, what stops a diverged run. Defaults to
            `keras.callbacks.TerminateOnNaN()` (a tuner's bad trial); `train.py` passes one
            that ends the command with an error.

    Returns:
        (train_ds, valid_ds, callbacks, kwargs): the stateful datasets (or None), fresh
        callbacks (`StatefulRNNCallback`, `WordsPerSecond`, the recipe's learning-rate
        schedule, `on_nan`) and `fit`'s keyword arguments (`epochs`, `shuffle`,
        `steps_per_epoch`).

    Raises:
        ValueError: the data is too small for the batch shape.
    """
    import keras

    from zoo.training import (StatefulRNNCallback, StepDecay, WordsPerSecond,
                              notebook_lr_schedule, ptb_lr_schedule)

    B, T, spe = config.batch_size, config.num_steps, config.steps_per_epoch
    kwargs = {"epochs": config.max_max_epoch, "shuffle": False}
    if spe:
        kwargs["steps_per_epoch"] = spe
    train_ds = valid_ds = None
    if corpus is not None:
        total = spe * config.max_max_epoch if spe else None
        train_ds = make_dataset(corpus.kind, config.family, corpus.train, B, T, total)
        valid_ds = make_dataset(corpus.kind, config.family, corpus.valid, B, T)
        if spe and initial_epoch:
            train_ds = train_ds.skip(initial_epoch * spe)
    callbacks = [
        # Stream data read in steps_per_epoch slices (text8) carries its states across
        # Keras epochs; one-pass data (PTB) starts every epoch from zero, as the tutorial.
        StatefulRNNCallback(reset_on_epoch_begin=not spe),
        WordsPerSecond(B * T),
        on_nan if on_nan is not None else keras.callbacks.TerminateOnNaN(),
    ]
    # The schedule goes before any logger so `learning_rate` reaches the CSV and history.
    if config.schedule == "ptb":
        callbacks.append(keras.callbacks.LearningRateScheduler(
            ptb_lr_schedule(config.learning_rate, config.lr_decay, config.max_epoch)))
    elif config.schedule == "notebook":
        callbacks.append(keras.callbacks.LearningRateScheduler(
            notebook_lr_schedule(config.learning_rate, config.lr_decay, config.max_max_epoch)))
    elif config.schedule == "step":
        callbacks.append(StepDecay(config.learning_rate, factor=config.lr_decay,
                                   every=config.decay_steps))
    return train_ds, valid_ds, callbacks, kwargs


# --------------------------------------------------------------------------- run metadata

META_FILE = "zoo_meta.json"


def write_meta(output_dir, config, corpus, settings=None):
    from zoo.training.reporting import write_results

    extra = {} if settings is None else {"settings": settings}
    write_results(os.path.join(output_dir, META_FILE), config=config.to_dict(),
                  vocab=corpus.vocab, data=corpus.name, kind=corpus.kind, **extra)


def read_meta(path):
    """Reads and checks the run metadata `zoo_meta.json` at `path`: `(meta, LMConfig)`.

    Anything wrong with the file is one `CLIError` naming it.

    A language-model run's file holds `config` (an `LMConfig`'s fields), `kind` ("word" or
    "char") and `vocab`; a mirror run's holds `config` and `kind` "seq2seq".
    """
    import json

    from zoo.models.configs import LMConfig

    fix = "re-create it by re-running the training command, or restore it from a copy"
    try:
        with open(path, encoding="utf-8-sig") as f:
            meta = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CLIError(f"{path} is corrupt ({str(e).splitlines()[0]}): {fix}") from None
    kind = meta.get("kind") if isinstance(meta, dict) else None
    if kind not in ("word", "char", "seq2seq") or not isinstance(meta.get("config"), dict):
        raise CLIError(f"{path} is not a zoo run's metadata (expected a JSON object with "
                       f"\"kind\" word, char or seq2seq and a \"config\" object): {fix}")
    if kind != "seq2seq" and not (isinstance(meta.get("vocab"), list) and meta["vocab"]):
        raise CLIError(f"{path} has no \"vocab\" list: {fix}")
    try:
        config = LMConfig(**meta["config"])
    except (TypeError, ValueError) as e:
        raise CLIError(f"{path} has a config this version cannot read "
                       f"({str(e).splitlines()[0]}): {fix}") from None
    return meta, config


def _meta_path(checkpoint):
    return os.path.join(os.path.dirname(os.path.abspath(checkpoint)), META_FILE)


def read_checkpoint(path, command="generate"):
    """Loads a language-model checkpoint with the config and vocabulary saved beside it.

    `command` names the subcommand in the error a mirror checkpoint gets.
    """
    import keras

    import zoo.layers  # noqa: F401  (registers the custom objects)
    import zoo.training  # noqa: F401

    if not os.path.isfile(path):
        raise CLIError(f"checkpoint not found: {path}")
    meta_path = _meta_path(path)
    if not os.path.isfile(meta_path):
        raise CLIError(f"{META_FILE} not found beside {path}: it is written by train.py into "
                       "the run directory with the checkpoints")
    meta, config = read_meta(meta_path)
    if meta["kind"] == "seq2seq":
        raise CLIError(f"{path} is a mirror-seq2seq checkpoint, not a language model: "
                       f"`train.py {command}` needs a language model; use `train.py mirror "
                       f"--checkpoint {path} SENTENCE` (or `train.py evaluate`) for it")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as e:  # a corrupt or foreign file: one line, not a traceback
        raise CLIError(f"cannot load checkpoint {path}: {str(e).splitlines()[0]}")
    return model, config, meta


# --------------------------------------------------------------------------- train


def _history_from_csv(path):
    import csv

    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        rows = list(csv.DictReader(f))
    history = {}
    for row in rows:
        for k, v in row.items():
            if k != "epoch" and v not in ("", None):
                history.setdefault(k, []).append(float(v))
    return history


EVAL_STEPS = 50


def evaluate_stream(model, config, corpus, ids, batch_size=1):
    """Perplexity of `model`'s weights on one split, read as one stream at `batch_size`.

    The PTB tutorial tests at batch 1, one step at a time. A stateful model at batch 1
    computes the same per-token losses whatever the chunk length (the state carries over),
    so this reads chunks of `EVAL_STEPS` (50) tokens for speed; only the fewer than 50
    trailing tokens that do not fill a chunk go unscored.
    """
    from zoo.models.lm import compile_lm, copy_to_batch
    from zoo.training import StatefulRNNCallback

    steps = EVAL_STEPS if batch_size == 1 else config.num_steps
    clone = copy_to_batch(model, config, len(corpus.vocab), batch_size=batch_size,
                          num_steps=steps)
    compile_lm(clone, config)
    ds = make_dataset(corpus.kind, config.family, ids, batch_size, steps)
    logs = clone.evaluate(ds, verbose=0, return_dict=True, callbacks=[StatefulRNNCallback()])
    return float(logs["perplexity"])


def config_from_args(args):
    config = get_config(
        args.model, cell=args.cell, max_max_epoch=args.epochs, batch_size=args.batch_size,
        num_steps=args.num_steps, hidden_size=args.hidden_size, num_layers=args.num_layers,
        learning_rate=args.learning_rate, steps_per_epoch=args.steps_per_epoch,
        tie_weights=args.tie_weights,
    )
    if config.max_epoch > config.max_max_epoch:
        config = config.replace(max_epoch=config.max_max_epoch)
    return config


# Flags that change a preset, in the order they name the default run folder.
_NAMING_FLAGS = (("cell", "cell"), ("epochs", "max_max_epoch"), ("batch_size", "batch_size"),
                 ("num_steps", "num_steps"), ("hidden_size", "hidden_size"),
                 ("num_layers", "num_layers"), ("learning_rate", "learning_rate"),
                 ("steps_per_epoch", "steps_per_epoch"), ("tie_weights", "tie_weights"))


def default_output_dir(args, config):
    """`runs/MODEL-DATA`, plus every flag that changes the preset (`-hidden-size32-seed1`)."""
    preset = get_config(args.model)
    parts = [f"{config.name}-{args.data}"]

    def name(flag, value):
        flag = flag.replace("_", "-")
        if value is True:
            return flag
        if isinstance(value, str):
            return f"{flag}-{value}"
        return f"{flag}{value:g}" if isinstance(value, float) else f"{flag}{value}"

    for flag, field in _NAMING_FLAGS:
        value = getattr(config, field)
        if getattr(args, flag) is not None and value != getattr(preset, field):
            parts.append(name(flag, value))
    for flag in ("corpus_tokens", "corpus_vocab"):
        if getattr(args, flag):
            parts.append(name(flag, getattr(args, flag)))
    if args.seed != 0:
        parts.append(name("seed", args.seed))
    return os.path.join("runs", "-".join(parts))


def run_settings(args, config):
    """What a run's results depend on: stored with its backup and in zoo_meta.json."""
    import json

    # The description is prose: rewording a preset must not orphan its runs.
    fields = {k: v for k, v in config.to_dict().items() if k != "description"}
    return json.loads(json.dumps({
        "config": fields, "data": args.data, "seed": args.seed,
        "corpus_tokens": args.corpus_tokens, "corpus_vocab": args.corpus_vocab}))


LOCK_FILE = ".lock"
BACKUP_DIR = "backup"
RUN_FILES = ("best.keras", "final.keras", "history.csv", "results.json", "learning_curve.png",
             META_FILE)


class _RunFolderLock:
    """An exclusive `fcntl.flock` on OUTPUT_DIR/.lock while a run trains in the folder."""

    def __init__(self, output_dir):
        self.path = os.path.join(output_dir, LOCK_FILE)
        self._file = None

    def __enter__(self):
        import fcntl

        self._file = open(self.path, "a")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise CLIError(f"--output-dir {os.path.dirname(self.path)} is in use by another "
                           f"train.py run (it holds {self.path}): wait for it to finish or "
                           "choose another --output-dir")
        return self

    def __exit__(self, *exc):
        self._file.close()  # releases the lock; the file stays (deleting it would race)


def _prepare_run_folder(output_dir, settings, overwrite):
    """Checks the run folder against `settings`; returns the backup to resume or None.

    With --overwrite nothing is checked (the old run goes, in `_clear_run_folder`, once the
    data and the model are ready). Otherwise a backup (an interrupted run) must be readable
    and of the same settings, and a finished run in the folder must be of the same settings
    (it is then retrained from scratch, as before).
    """
    import json

    from zoo.training.callbacks import BackupError, describe_changes, read_backup

    backup_dir = os.path.join(output_dir, BACKUP_DIR)
    if overwrite:
        return None
    try:
        state = read_backup(backup_dir)
    except BackupError as e:
        raise CLIError(f"{e}: delete {backup_dir} or pass --overwrite to start the run afresh")
    if state is not None:
        if state.get("settings") != settings:
            raise CLIError(
                f"{output_dir} holds an interrupted run with other settings "
                f"({describe_changes(state.get('settings'), settings)}): re-run with its "
                "settings to resume it, pass --overwrite to start afresh, or choose another "
                "--output-dir")
        return state
    meta_path = os.path.join(output_dir, META_FILE)
    if os.path.isfile(meta_path):
        try:
            with open(meta_path) as f:
                saved = json.load(f).get("settings")
        except (OSError, ValueError, AttributeError) as e:
            raise CLIError(f"cannot read {meta_path} ({type(e).__name__}): pass --overwrite "
                           f"to replace the run in {output_dir}")
        if saved is not None and saved != settings:
            raise CLIError(
                f"{output_dir} holds a run with other settings "
                f"({describe_changes(saved, settings)}): pass --overwrite to replace it, or "
                "choose another --output-dir")
    return None


def _clear_run_folder(output_dir, names=RUN_FILES, folders=(BACKUP_DIR, "tensorboard")):
    """--overwrite: deletes the old run's files (the lock file stays)."""
    import shutil

    for name in folders:
        shutil.rmtree(os.path.join(output_dir, name), ignore_errors=True)
    for name in names:
        if os.path.isfile(os.path.join(output_dir, name)):
            os.remove(os.path.join(output_dir, name))


def _truncate_history(path, epochs):
    """Keeps history.csv's header and its rows of the first `epochs` epochs, atomically.

    The CSV row of an epoch is written before its backup is committed, so after a kill the
    file may hold a row of an epoch the backup does not have; that epoch is trained again.
    """
    import csv

    if not os.path.isfile(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, kept = rows[0], []
    for row in rows[1:]:
        if len(row) == len(header) and row[0].isdigit() and int(row[0]) < epochs:
            kept.append(row)
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows([header] + kept)
    os.replace(tmp, path)


def run_train(args):
    if args.list_models:
        for name in list_configs():
            print(f"{name:16s} {get_config(name).description}")
        return 0
    config = config_from_args(args)
    if config.family == "seq2seq":
        if args.distribute:
            raise CLIError("--distribute applies to the language models, not mirror-seq2seq")
        return run_train_mirror(args, config)
    output_dir = args.output_dir or default_output_dir(args, config)
    strategy = _make_strategy(args.distribute)  # first: before anything else starts TF
    if strategy is not None:
        from zoo.training.distribute import worker_output_dir

        output_dir = worker_output_dir(strategy, output_dir)
    os.makedirs(output_dir, exist_ok=True)
    with _RunFolderLock(output_dir):
        return _train_in(output_dir, args, config, strategy)


def _train_in(output_dir, args, config, strategy=None):
    settings = run_settings(args, config)
    if args.distribute == "multi-worker":  # a worker's backup holds only its own rows
        from zoo.training.distribute import num_workers

        settings["distribute"] = {"strategy": args.distribute, "workers": num_workers(strategy)}
    state = _prepare_run_folder(output_dir, settings, args.overwrite)
    initial_epoch = state["epoch"] if state else 0

    corpus = load_corpus(args.data, config.family, args.data_dir, args.corpus_tokens,
                         args.corpus_vocab, seed=args.seed)
    import time

    import keras

    from zoo.models.lm import build_lm, compile_lm
    from zoo.training import AtomicBackupAndRestore, AtomicModelCheckpoint, atomic_save
    from zoo.training.callbacks import BackupError
    from zoo.training.reporting import plot_learning_curve, write_results

    keras.utils.set_random_seed(args.seed)
    _enable_determinism()
    vocab_size = len(corpus.vocab)
    B, T = config.batch_size, config.num_steps
    try:
        # A diverged run ends the command with an error instead of reporting broken
        # weights (tune keeps TerminateOnNaN: a diverged trial is a bad trial).
        train_ds, valid_ds, callbacks, fit_kwargs = fit_arguments(
            config, corpus, initial_epoch, on_nan=_stop_on_nan())
    except ValueError as e:
        raise CLIError(f"{e} (--batch-size {B}, --num-steps {T})")
    with _scope(strategy):
        model = build_lm(config, vocab_size=vocab_size, seed=args.seed,
                         batch_size=_replica_batch(strategy, B))
        compile_lm(model, config, jit_compile=True if args.jit else "auto")
    if strategy is not None:
        train_ds, valid_ds, fit_kwargs = _distribute_data(strategy, model, train_ds, valid_ds,
                                                          B, fit_kwargs)
    if args.overwrite:  # only now: a bad flag or a failed download keeps the old run
        _clear_run_folder(output_dir)
    write_meta(output_dir, config, corpus, settings=settings)

    # history.csv keeps the rows of the epochs the backup holds; the loggers and the best
    # checkpoint run before the backup, so everything an epoch writes is committed with it.
    backup_dir = os.path.join(output_dir, BACKUP_DIR)
    history_path = os.path.join(output_dir, "history.csv")
    best_path = os.path.join(output_dir, "best.keras")
    best_so_far = None
    if state:
        _truncate_history(history_path, initial_epoch)
        best_so_far = min(_history_from_csv(history_path).get("val_perplexity",
                                                              [float("inf")]))
    callbacks.append(keras.callbacks.CSVLogger(history_path, append=bool(state)))
    callbacks.append(AtomicModelCheckpoint(
        best_path, monitor="val_perplexity", mode="min", save_best_only=True,
        initial_value_threshold=best_so_far))
    if args.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(output_dir, "tensorboard")))
    backup = AtomicBackupAndRestore(backup_dir, settings=settings)
    callbacks.append(backup)

    print(f"model {config.name} ({config.cell} cell, {config.num_layers}x{config.hidden_size}), "
          f"data {corpus.name}: {vocab_size} symbols, {len(corpus.train):,} training tokens, "
          f"batch {B} x {T} steps")
    if corpus.floor:
        print(f"the generated corpus's perplexity floor (its exact entropy rate): "
              f"{corpus.floor:.2f}")
    if state:
        print(f"resuming after epoch {initial_epoch} from the backup in {backup_dir}")
    start = time.time()
    try:
        model.fit(train_ds, validation_data=valid_ds, callbacks=callbacks,
                  verbose="auto" if args.verbose is None else args.verbose, **fit_kwargs)
    except BackupError as e:
        raise CLIError(f"{e}: delete {backup_dir} or pass --overwrite to start the run afresh")
    elapsed = time.time() - start
    atomic_save(model, os.path.join(output_dir, "final.keras"))

    if os.path.isfile(best_path):
        model = keras.saving.load_model(best_path, compile=False)
    history = _history_from_csv(history_path)
    results = {
        "model": config.name, "data": corpus.name, "cell": config.cell, "seed": args.seed,
        "vocab_size": vocab_size, "train_seconds": elapsed,
        "words_per_sec": (sum(history.get("words_per_sec", [0])) /
                          max(len(history.get("words_per_sec", [])), 1)),
        "history": history, "config": config.to_dict(), "perplexity_floor": corpus.floor,
        "oov": corpus.oov,
    }
    results["valid_perplexity"] = evaluate_stream(model, config, corpus, corpus.valid)
    if corpus.test is not None:
        results["test_perplexity"] = evaluate_stream(model, config, corpus, corpus.test)
    write_results(os.path.join(output_dir, "results.json"), **results)
    if history.get("perplexity"):
        plot_learning_curve(history, os.path.join(output_dir, "learning_curve.png"))
    # Only now is nothing left that a kill could lose: the backup goes.
    backup.delete()

    line = f"valid perplexity {results['valid_perplexity']:.2f}"
    if "test_perplexity" in results:
        line += f", test perplexity {results['test_perplexity']:.2f}"
    if corpus.floor:
        line += (f"; corpus floor {corpus.floor:.2f} "
                 f"(test is {100 * (results.get('test_perplexity', results['valid_perplexity']) / corpus.floor - 1):.1f}% above)")
    print(line + f" (batch 1); {results['words_per_sec']:,.0f} words/s; run in {output_dir}")
    return 0


def _make_strategy(name):
    if name is None:
        return None
    from zoo.training.distribute import make_strategy

    return make_strategy(name)


def _scope(strategy):
    import contextlib

    return contextlib.nullcontext() if strategy is None else strategy.scope()


def _replica_batch(strategy, batch_size):
    if strategy is None:
        return batch_size
    from zoo.training.distribute import replica_batch_size

    try:
        return replica_batch_size(strategy, batch_size)
    except ValueError as e:
        raise CLIError(str(e))


def _distribute_data(strategy, model, train_ds, valid_ds, batch_size, fit_kwargs):
    """Each replica reads its rows of every batch; clipping acts on the summed gradient."""
    from zoo.training.distribute import distribute_for_fit, prepare_distributed_model

    prepare_distributed_model(model)
    train_ds, valid_ds, steps = distribute_for_fit(
        strategy, train_ds, valid_ds, batch_size, fit_kwargs.get("steps_per_epoch"))
    return train_ds, valid_ds, {**fit_kwargs, **steps}


def _enable_determinism():
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


# --------------------------------------------------------------------------- evaluate


def _is_mirror_run(path):
    meta_path = _meta_path(path)
    if not os.path.isfile(meta_path):
        return False
    return read_meta(meta_path)[0]["kind"] == "seq2seq"


def _check_vocab(meta, corpus, path):
    if list(meta["vocab"]) != corpus.vocab:
        raise CLIError(
            f"checkpoint {path} was trained on another vocabulary ({len(meta['vocab'])} "
            f"symbols, data {meta.get('data')}) than --data {corpus.name} "
            f"({len(corpus.vocab)} symbols)")


def run_evaluate(argv):
    p = _Parser(prog="train.py evaluate", description="perplexity of a checkpoint on a split")
    p.add_argument("--checkpoint", required=True)
    _add_data_args(p)
    p.add_argument("--split", choices=("train", "valid", "test"), default="test")
    p.add_argument("--batch-size", type=positive_int, default=1,
                   help="rows read in parallel (default 1, as the PTB tutorial tests)")
    p.add_argument("--seed", type=seed_int, default=0, help="the synthetic corpus's seed")
    args = p.parse_args(argv)
    if _is_mirror_run(args.checkpoint):
        return evaluate_mirror_checkpoint(args)
    model, config, meta = read_checkpoint(args.checkpoint)
    corpus = load_corpus(args.data, config.family, args.data_dir, args.corpus_tokens,
                         args.corpus_vocab, seed=args.seed)
    _check_vocab(meta, corpus, args.checkpoint)
    ids = getattr(corpus, args.split)
    if ids is None:
        raise CLIError(f"--data {args.data} has no {args.split} split")
    try:
        ppl = evaluate_stream(model, config, corpus, ids, batch_size=args.batch_size)
    except ValueError as e:
        raise CLIError(str(e))
    print(f"{args.split} perplexity {ppl:.3f} ({corpus.name}, {len(ids):,} tokens, "
          f"batch {args.batch_size})")
    return 0


# --------------------------------------------------------------------------- generate


def sample_tokens(model, config, vocab, prime_ids, length, temperature=1.0, seed=0):
    """Samples `length` ids after `prime_ids` from a batch-1, one-step copy of `model`.

    temperature ≤ 1e-6 takes the argmax (greedy, deterministic).
    """
    import numpy as np

    from zoo.models.lm import copy_to_batch

    if len(prime_ids) < (2 if config.family == "bigram" else 1):
        raise CLIError("--prime needs at least two characters for a bigram model")
    step = copy_to_batch(model, config, len(vocab), batch_size=1, num_steps=1)
    width = 2 if config.family == "bigram" else 1
    rng = np.random.default_rng(seed)

    def feed(window):
        x = np.asarray(window, dtype="int32").reshape(1, width)
        return np.asarray(step.predict_on_batch(x), dtype="float64")[0, -1]

    # Run the prime through the state; the last position's logits predict the next token.
    history = list(prime_ids)
    logits = None
    for t in range(width - 1, len(history)):
        logits = feed(history[t - width + 1:t + 1])
    out = []
    for _ in range(length):
        if temperature <= 1e-6:
            nxt = int(np.argmax(logits))
        else:
            z = logits / temperature
            p = np.exp(z - z.max())
            nxt = int(rng.choice(len(p), p=p / p.sum()))
        out.append(nxt)
        history.append(nxt)
        logits = feed(history[-width:])
    return out


def run_generate(argv):
    p = _Parser(prog="train.py generate", description="sample text from a checkpoint")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--prime", default=None, help="text to start from (default: <eos> / a space)")
    p.add_argument("--length", type=positive_int, default=None,
                   help="tokens to sample (default 79 characters or 50 words)")
    p.add_argument("--temperature", type=non_negative_float, default=1.0,
                   help="softmax temperature; 0 is greedy and deterministic")
    p.add_argument("--seed", type=seed_int, default=0)
    args = p.parse_args(argv)
    model, config, meta = read_checkpoint(args.checkpoint)
    vocab = meta["vocab"]
    if meta["kind"] == "word":
        index = {w: i for i, w in enumerate(vocab)}
        words = (args.prime or "<eos>").split()
        unknown = [w for w in words if w not in index]
        if unknown:
            raise CLIError(f"--prime words not in the model's vocabulary: {' '.join(unknown)}")
        prime = [index[w] for w in words]
        length = args.length or 50
        ids = sample_tokens(model, config, vocab, prime, length, args.temperature, args.seed)
        text = " ".join(vocab[i] for i in ids).replace(" <eos> ", "\n").replace("<eos>", "\n")
    else:
        from zoo.datasets import text8

        prime_text = args.prime if args.prime is not None else " "
        if config.family == "bigram" and len(prime_text) < 2:
            prime_text = " " + prime_text
        bad = sorted(set(c for c in prime_text if c != " " and not "a" <= c <= "z"))
        if bad:
            raise CLIError(f"--prime must be lowercase a-z and spaces; found {''.join(bad)!r}")
        prime = [text8.char2id(c) for c in prime_text]
        ids = sample_tokens(model, config, vocab, prime, args.length or 79, args.temperature,
                            args.seed)
        text = prime_text + "".join(vocab[i] for i in ids)
    print(text)
    return 0


# --------------------------------------------------------------------------- tune / mirror


def run_tune(argv):
    from zoo.tuning.cli import run_tune as _run

    return _run(argv, parser_class=_Parser, error_class=CLIError)


def _mirror_texts(data, data_dir):
    """(train, valid, test) texts for the mirror model: None = the generated offline text.

    Real text is the mini-PTB split (train = ptb.valid.txt, valid / test = the two halves of
    ptb.test.txt), or PTB's own splits with --data ptb.
    """
    if data == "synthetic":
        return None, None, None
    if data == "text8":
        raise CLIError("--data text8 is one unbroken stream with no sentences; the mirror model "
                       "needs sentences: use synthetic, mini-ptb or ptb")
    if data == "mini-ptb":
        d = data_dir or _shared_ptb_dir()
        paths = [os.path.join(d, f"ptb.{s}.txt") for s in ("valid", "test")]
        for path in paths:
            if not os.path.isfile(path):
                raise CLIError(f"{path} not found: pass --data-dir with ptb.valid.txt and "
                               "ptb.test.txt")
        with open(paths[1], encoding="utf-8-sig") as f:
            test_lines = f.read().splitlines()
        from zoo.datasets.ptb import MINI_PTB_VALID_LINES as n

        return paths[0], "\n".join(test_lines[:n]), "\n".join(test_lines[n:])
    if data_dir is None:
        raise CLIError("--data ptb for the mirror model needs --data-dir with ptb.*.txt")
    return tuple(os.path.join(data_dir, f"ptb.{s}.txt") for s in ("train", "valid", "test"))


def run_train_mirror(args, config):
    text, valid_text, test_text = _mirror_texts(args.data, args.data_dir)
    if args.corpus_tokens:
        if args.data != "synthetic":
            raise CLIError("--corpus-tokens only applies to --data synthetic")
        from zoo.datasets.mirror import offline_text

        text = offline_text(num_words=args.corpus_tokens, seed=args.seed)
    output_dir = args.output_dir or os.path.join("runs", f"{config.name}-{args.data}")
    os.makedirs(output_dir, exist_ok=True)
    with _RunFolderLock(output_dir):
        return _train_mirror_in(output_dir, args, config, text, valid_text, test_text)


MIRROR_RUN_FILES = ("best.keras", "last.keras", "log.csv", "results.json", META_FILE)


def _train_mirror_in(output_dir, args, config, text, valid_text, test_text):
    from zoo.models import mirror
    from zoo.training.reporting import write_results

    if args.overwrite:
        _clear_run_folder(output_dir, names=MIRROR_RUN_FILES, folders=(BACKUP_DIR,))
    result = mirror.train_mirror(
        output_dir, text=text, valid_text=valid_text, test_text=test_text,
        epochs=config.max_max_epoch, batch_size=config.batch_size, cell=config.cell,
        seed=args.seed, units=config.hidden_size, embedding_dim=config.embedding_size,
        encoder_layers=config.num_layers, learning_rate=config.learning_rate,
        augment=1, verbose=2 if args.verbose is None else args.verbose,
    )
    write_results(os.path.join(output_dir, META_FILE), config=config.to_dict(), kind="seq2seq",
                  data=args.data)
    write_results(os.path.join(output_dir, "results.json"), **result)
    print(f"held-out sentences: {100 * result['test_word_accuracy']:.1f}% of words and "
          f"{100 * result['test_sentence_accuracy']:.1f}% of sentences mirrored exactly "
          f"(copying the input: {100 * result['test_copy_word_accuracy']:.1f}% / "
          f"{100 * result['test_copy_sentence_accuracy']:.1f}%); trained "
          f"{result['train_seconds']:.0f} s; checkpoint {result['checkpoint']}")
    return 0


def _load_mirror(path):
    from zoo.models import mirror

    if not os.path.isfile(path):
        raise CLIError(f"checkpoint not found: {path}")
    try:
        model = mirror.load_mirror(path)
    except Exception as e:
        raise CLIError(f"cannot load checkpoint {path}: {str(e).splitlines()[0]}")
    if not isinstance(model, mirror.MirrorSeq2Seq):
        raise CLIError(f"{path} is not a mirror-seq2seq checkpoint")
    return model


def _check_mirror_checkpoint(path):
    """A language model given to `mirror`: say which commands fit it, before loading it."""
    meta_path = _meta_path(path)
    if os.path.isfile(path) and os.path.isfile(meta_path):
        kind = read_meta(meta_path)[0]["kind"]
        if kind != "seq2seq":
            raise CLIError(f"{path} is a {kind}-level language model, not a mirror-seq2seq "
                           f"checkpoint: use `train.py generate --checkpoint {path}` (or "
                           "`train.py evaluate`) for it")


def run_mirror(argv):
    p = _Parser(prog="train.py mirror", description="mirror every word of a sentence")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--beam-width", type=positive_int, default=1,
                   help="1 decodes greedily; k > 1 keeps the k best hypotheses")
    p.add_argument("sentence", nargs="+", help="lowercase a-z words")
    args = p.parse_args(argv)
    from zoo.models import mirror

    _check_mirror_checkpoint(args.checkpoint)
    model = _load_mirror(args.checkpoint)
    try:
        print(mirror.mirror_sentence(model, " ".join(args.sentence), args.beam_width))
    except ValueError as e:
        raise CLIError(str(e).splitlines()[0])
    return 0


def evaluate_mirror_checkpoint(args):
    from zoo.datasets import mirror as mirror_data
    from zoo.models import mirror

    model = _load_mirror(args.checkpoint)
    texts = _mirror_texts(args.data, args.data_dir)
    text = texts[{"train": 0, "valid": 1, "test": 2}[args.split]]
    if text is None:
        text = mirror_data.offline_text(num_words=20000, seed=args.seed + 1)
    elif os.path.isfile(text):
        text = mirror_data.read_text(text)
    sentences = [s for s in mirror_data.split_sentences(text, 10) if len(s) <= model.max_length]
    r = mirror.evaluate_mirror(model, sentences)
    print(f"{args.split}: {100 * r['word_accuracy']:.2f}% of {r['words']} words and "
          f"{100 * r['sentence_accuracy']:.2f}% of {r['sentences']} sentences mirrored exactly")
    return 0


# --------------------------------------------------------------------------- main


class TrainingDiverged(CLIError):
    """The loss became NaN or infinite: the run stops with one line and exit status 1."""


def _stop_on_nan():
    """`keras.callbacks.TerminateOnNaN` that ends the command with an error, not a result.

    TerminateOnNaN only stops `fit`, and only on a NaN/inf loss; the run would then save,
    evaluate and report the broken weights and exit 0. This raises `TrainingDiverged` as
    soon as the loss or the perplexity (the exp of a finite but huge loss) is not finite;
    the backup of the last finished epoch stays.
    """
    import keras

    class StopOnNaN(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            values = {k: float(logs[k]) for k in ("loss", "perplexity") if k in logs}
            if not all(math.isfinite(v) for v in values.values()):
                shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
                raise TrainingDiverged(
                    f"training diverged at epoch {self.epoch + 1}, batch {batch + 1} "
                    f"({shown}); try a lower --learning-rate with --overwrite (or another "
                    "--output-dir)")

    return StopOnNaN()


def _check_train_args(args):
    """Checks made before anything is loaded or trained (train command)."""
    if args.list_models:
        return
    if args.output_dir is not None and os.path.exists(args.output_dir) and not (
            os.path.isdir(args.output_dir)):
        raise CLIError(f"argument --output-dir: {args.output_dir} is a file, not a directory")
    if args.tensorboard:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise CLIError("--tensorboard needs the tensorboard package: pip install "
                           "tensorboard (or run without --tensorboard)") from None


_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def _one_line(e):
    """The one `error:` line for an environment failure `e`, or None to let it propagate.

    Disk full (any OSError with ENOSPC, including h5py's and TensorFlow's wrapped ones),
    out of memory (MemoryError, TensorFlow's ResourceExhaustedError) and other OSErrors
    (a folder that cannot be created, a download that failed, ...).
    """
    text = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
    if ((isinstance(e, OSError) and e.errno in _DISK_FULL) or
            "No space left on device" in str(e) or "Disk quota exceeded" in str(e)):
        # h5py and TensorFlow put the reason deep in their message: name it plainly.
        reason = os.strerror(errno.EDQUOT if "quota" in str(e) else errno.ENOSPC)
        where = f" writing {e.filename}" if getattr(e, "filename", None) else ""
        return (f"disk full ({reason}){where}: free some space, then re-run the same command "
                "(a training run resumes from its last finished epoch, a search with --resume)")
    if isinstance(e, MemoryError) or type(e).__name__ == "ResourceExhaustedError":
        return (f"out of memory ({type(e).__name__}{': ' + text if str(e).strip() else ''}): "
                "try a smaller --batch-size, --hidden-size or --num-steps")
    if isinstance(e, OSError):
        return text
    return None


def main(argv=None):
    """Entry point of `train.py` and the `lstm-zoo` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "train"
    try:
        if command == "train":
            args = build_parser().parse_args(argv)
            _check_train_args(args)
            status = run_train(args)
        else:
            status = {"evaluate": run_evaluate, "generate": run_generate, "tune": run_tune,
                      "mirror": run_mirror}[command](argv)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except CLIError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
              file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: re-run the same command to resume from the last finished epoch",
              file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # noqa: BLE001  (only the failures _one_line knows; others raise)
        line = _one_line(e)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        sys.exit(2)
    sys.exit(status or 0)
