"""`python train.py tune`: a keras-tuner search over a config's sizes, local or distributed.

    python train.py tune --model ptb-small --tuner random --max-trials 10 --epochs 4
    python train.py tune --model ptb-small --tuner random --max-trials 20 --resume
    python train.py tune --model text8-bigram --data text8 --tuner hyperband --max-trials 30 \
        --hidden-sizes 32:512 --num-layers 1,2 --keep-probs 0.5:1.0

The search space is the hypermodel's default (hidden size, layers, embedding size, keep_prob,
learning rate, max_grad_norm), replaced as a whole by `--space` (JSON text or a JSON file) and
then per field by the `--hidden-sizes`-style flags. A flag's value is `MIN:MAX[:log|linear]`
(a range; sizes, learning rate and clip norm default to log scale), `A,B,C` (choices) or one
value (fixed). Everything goes into `DIRECTORY/PROJECT` (default
`runs/tune/MODEL-DATA`): keras-tuner's trials, `trials.csv`/`trials.md` (the summary table,
best first, also printed), `best_hyperparameters.json`, and the best model as `best.keras` with
`zoo_meta.json`, so `train.py evaluate --checkpoint DIRECTORY/PROJECT/best.keras` works.

An existing search is never deleted silently: re-running needs `--resume` (continue it:
finished trials are kept, an interrupted trial is run again, `--max-trials` may grow) or
`--overwrite` (start over).

Distributed search (keras-tuner's chief/worker mode): run the same command in every process,
with `KERASTUNER_ORACLE_IP`/`KERASTUNER_ORACLE_PORT` set to the chief's address and
`KERASTUNER_TUNER_ID` set to `chief` in one process and `tuner0`, `tuner1`, ... in the others.
The chief serves the oracle and writes the report when every trial has finished; the workers
run the trials. All processes must see the same `--directory` for the chief to save the best
model (otherwise it writes the table and best_hyperparameters.json only).

A dead process never hangs the others silently (`zoo.tuning.distributed`): the chief prints
"waiting for trial N from tuner0" and a worker "waiting for the chief" every minute, and with
`--wait-timeout SECONDS` they stop with one error line. Restart a dead worker with the same
command (it runs its unfinished trial again), a dead chief with `--resume` (then any worker
that stops with an error).
"""

import json
import os
import sys

SETTINGS_FILE = "zoo_tune.json"

# --flag → (config field, default sampling of a range).
SPACE_FLAGS = {
    "--hidden-sizes": ("hidden_size", "log"),
    "--num-layers": ("num_layers", "linear"),
    "--embedding-sizes": ("embedding_size", "log"),
    "--keep-probs": ("keep_prob", "linear"),
    "--learning-rates": ("learning_rate", "log"),
    "--max-grad-norms": ("max_grad_norm", "log"),
    "--cells": ("cell", None),
}


def parse_space_value(text, field, default_sampling="linear"):
    """Parses one `--hidden-sizes`-style value into a search-space entry.

    Args:
        text: str, `"MIN:MAX"` or `"MIN:MAX:log"` (a range), `"A,B,C"` (choices) or `"A"`
            (fixed).
        field: str, the config field (decides int, float or str values).
        default_sampling: str, the sampling of a range without one.

    Returns:
        A range dict, a list, or a single value (see `zoo.tuning.hypermodels`).

    Raises:
        ValueError: unparsable numbers or a malformed range.
    """
    from zoo.tuning.hypermodels import TUNABLE_FIELDS

    kind = TUNABLE_FIELDS[field]
    text = text.strip()

    def convert(item):
        item = item.strip()
        if kind is str:
            return item
        try:
            value = float(item)
        except ValueError:
            raise ValueError(f"expected a number, got {item!r}") from None
        if kind is int:
            if not value.is_integer():
                raise ValueError(f"expected an integer, got {item!r}")
            return int(value)
        return value

    if ":" in text:
        parts = text.split(":")
        if len(parts) not in (2, 3) or kind is str:
            raise ValueError(f"expected MIN:MAX or MIN:MAX:log|linear, got {text!r}")
        spec = {"min": convert(parts[0]), "max": convert(parts[1]),
                "sampling": parts[2].strip() if len(parts) == 3 else default_sampling}
        return spec
    if text == "":
        return []
    items = [convert(t) for t in text.split(",") if t.strip()]
    if "," in text:
        return items
    return items[0] if items else []


def _load_space(text):
    """`--space`: a JSON file's path or JSON text."""
    if os.path.isfile(text):
        with open(text) as f:
            source, raw = text, f.read()
    else:
        source, raw = "the --space text", text
    try:
        space = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"--space: {source} is neither a file nor valid JSON ({e.msg} at "
                         f"line {e.lineno} column {e.colno})") from None
    if not isinstance(space, dict):
        raise ValueError(f"--space must be a JSON object of field → values, got "
                         f"{type(space).__name__}")
    return space


def build_parser(parser_class):
    from zoo.cli import _add_data_args, positive_float, positive_int, seed_int
    from zoo.models.configs import DEFAULT_MODEL
    from zoo.tuning.search import TUNERS

    p = parser_class(prog="train.py tune",
                     description="keras-tuner search over a model's sizes (val_perplexity)")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"the config whose fields are tuned (default {DEFAULT_MODEL})")
    p.add_argument("--tuner", choices=TUNERS, default="random",
                   help="random (RandomSearch), bayesian (BayesianOptimization) or hyperband")
    p.add_argument("--max-trials", type=positive_int, default=10,
                   help="trials to run (hyperband: at most this many)")
    p.add_argument("--executions-per-trial", type=positive_int, default=1,
                   help="trainings per trial, their objectives averaged")
    p.add_argument("--directory", default=os.path.join("runs", "tune"),
                   help="keras-tuner's directory (default runs/tune)")
    p.add_argument("--project-name", default=None,
                   help="the search's folder inside --directory (default MODEL-DATA)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the existing search: finished trials are not repeated")
    again.add_argument("--overwrite", action="store_true",
                       help="delete an existing search in the project folder and start over")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="epochs per trial (hyperband: its max_epochs); default the config's")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="fixed during the search (stateful models)")
    p.add_argument("--num-steps", type=positive_int, default=None,
                   help="fixed during the search")
    p.add_argument("--steps-per-epoch", type=positive_int, default=None,
                   help="training steps per epoch (stream data); default the config's")
    _add_data_args(p)
    p.add_argument("--space", default=None,
                   help="the search space as JSON text or a JSON file, e.g. "
                        '\'{"hidden_size": {"min": 64, "max": 512, "sampling": "log"}, '
                        '"num_layers": [1, 2]}\'; replaces the default space')
    for flag, (field, sampling) in SPACE_FLAGS.items():
        form = "A,B,C or A" if sampling is None else f"MIN:MAX[:{sampling}] or A,B,C or A"
        p.add_argument(flag, default=None, metavar="SPEC",
                       help=f"{field}: {form} (replaces that field's entry)")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="seeds the oracle, the weights and the synthetic corpus")
    p.add_argument("--jit", action="store_true", help="XLA-compile the train step")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                   help="keras-tuner and fit verbosity (default 1 on a terminal, else 2)")
    p.add_argument("--wait-timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="distributed search: how long the chief waits for a worker's trial, "
                        "and a worker for the chief, before it stops with an error (default: "
                        "the chief waits for ever, a worker an hour; both print a "
                        "'waiting for' line every minute)")
    return p


def build_space(args, config):
    """The search space of the parsed `args` (before validation)."""
    from zoo.tuning.hypermodels import default_space

    space = default_space(config) if args.space is None else _load_space(args.space)
    for flag, (field, sampling) in SPACE_FLAGS.items():
        text = getattr(args, flag[2:].replace("-", "_"))
        if text is not None:
            try:
                space[field] = parse_space_value(text, field, sampling or "linear")
            except ValueError as e:
                raise ValueError(f"argument {flag}: {e}") from None
    return space


def _settings(args, config, space):
    return {"model": config.name, "tuner": args.tuner, "data": args.data,
            "data_dir": args.data_dir, "corpus_tokens": args.corpus_tokens,
            "corpus_vocab": args.corpus_vocab, "seed": args.seed,
            "batch_size": config.batch_size, "num_steps": config.num_steps,
            "epochs": config.max_max_epoch, "steps_per_epoch": config.steps_per_epoch,
            "space": space}


def _check_state_files(project_dir, error_class):
    """Every JSON file keras-tuner (and zoo) reloads from a search must parse: else one error
    naming the file (keras-tuner would raise a bare JSONDecodeError with no file name)."""
    import glob

    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
    paths = [os.path.join(project_dir, name) for name in
             ("oracle.json", f"{tuner_id}.json", SETTINGS_FILE)]
    paths += sorted(glob.glob(os.path.join(project_dir, "trial_*", "trial.json")))
    for path in paths:
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            state, reason = None, str(e).splitlines()[0]
        else:
            reason = f"a JSON {type(state).__name__}, not an object"
        if not isinstance(state, dict):
            fix = ("delete that trial's folder to run the trial again"
                   if os.path.basename(path) == "trial.json" else
                   "start over with --overwrite (or restore the file)")
            raise error_class(f"the search state file {path} is corrupt ({reason}): {fix}")


def _check_resume(project_dir, settings, error_class):
    path = os.path.join(project_dir, SETTINGS_FILE)
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    changed = [k for k in settings if k in saved and saved[k] != settings[k]]
    if changed:
        raise error_class(
            f"--resume: the search in {project_dir} was started with other settings "
            f"({', '.join(f'{k}: {saved[k]!r} now {settings[k]!r}' for k in changed)}); "
            "use the same options, another --project-name, or --overwrite")


def run_tune(argv, parser_class=None, error_class=None):
    """Runs `train.py tune ARGV`; returns the exit status (0 ok, 1 every trial failed).

    Args:
        argv: list of str, the arguments after `tune`.
        parser_class: an `argparse.ArgumentParser` subclass whose `error` raises
            `error_class` (zoo.cli's `_Parser`).
        error_class: the exception type for user errors (zoo.cli's `CLIError`: one line,
            exit status 2).

    Raises:
        error_class: bad arguments, an empty or invalid search space, an existing search
            without `--resume`/`--overwrite`, or too little data for the batch shape.
    """
    import argparse

    parser_class = parser_class or argparse.ArgumentParser
    error_class = error_class or ValueError
    args = build_parser(parser_class).parse_args(argv)

    from zoo.cli import fit_arguments, load_corpus
    from zoo.models.configs import get_config
    from zoo.tuning.hypermodels import hypermodel_for
    from zoo.tuning.search import ENV_ORACLE_IP as ENV_IP
    from zoo.tuning.search import ENV_ORACLE_PORT as ENV_PORT
    from zoo.tuning.search import (SearchFailedError, check_trials, distributed_role,
                                   format_markdown, make_tuner, write_report)

    try:
        role = distributed_role()
        if role == "chief":  # before the data is loaded: a taken port is one quick error
            from zoo.tuning.distributed import DistributedTuningError, check_port_free

            try:
                check_port_free(os.environ[ENV_IP], os.environ[ENV_PORT])
            except DistributedTuningError as e:
                raise error_class(str(e)) from None
        config = get_config(args.model, max_max_epoch=args.epochs, batch_size=args.batch_size,
                            num_steps=args.num_steps, steps_per_epoch=args.steps_per_epoch)
        if config.max_epoch > config.max_max_epoch:
            config = config.replace(max_epoch=config.max_max_epoch)
        if config.family == "seq2seq":
            raise ValueError(f"--model {config.name} is a seq2seq model; tune a word, char "
                             "or bigram language model")
        space = build_space(args, config)
        corpus = load_corpus(args.data, config.family, args.data_dir, args.corpus_tokens,
                             args.corpus_vocab, seed=args.seed)
        hypermodel = hypermodel_for(config, len(corpus.vocab), space=space, seed=args.seed,
                                    jit_compile=True if args.jit else "auto")
    except ValueError as e:
        raise error_class(str(e).splitlines()[0]) from None
    project_name = args.project_name or f"{config.name}-{args.data}"
    project_dir = os.path.join(args.directory, project_name)
    settings = _settings(args, config, hypermodel.space)
    exists = os.path.isfile(os.path.join(project_dir, "oracle.json"))
    if role != "worker":
        if exists and not (args.resume or args.overwrite):
            raise error_class(f"a search already exists in {project_dir}: pass --resume to "
                              "continue it or --overwrite to start over")
        if exists and args.resume:
            _check_state_files(project_dir, error_class)
            _check_resume(project_dir, settings, error_class)
    elif not args.overwrite:
        _check_state_files(project_dir, error_class)
    try:  # keras-tuner 1.4 on TF 2.21 fails every trial without it: say so before training
        import tensorboard  # noqa: F401
    except ImportError:
        raise error_class("tune needs the tensorboard package (keras-tuner logs every trial "
                          "to it): pip install tensorboard, or pip install "
                          "'lstm-zoo[tune]'") from None

    B, T = config.batch_size, config.num_steps
    try:
        # train.py's datasets and fit arguments (a stream of steps_per_epoch x epochs batches
        # for the text8 recipes); each trial adds train.py's callbacks (LMHyperModel.fit).
        train_ds, valid_ds, _, fit_kwargs = fit_arguments(config, corpus)
    except ValueError as e:
        raise error_class(f"{e} (--batch-size {B}, --num-steps {T})".splitlines()[0]) from None

    import keras

    keras.utils.set_random_seed(args.seed)
    try:
        tuner = make_tuner(hypermodel, args.tuner, max_trials=args.max_trials,
                           executions_per_trial=args.executions_per_trial,
                           directory=args.directory, project_name=project_name,
                           overwrite=args.overwrite and role != "worker", seed=args.seed,
                           max_epochs=config.max_max_epoch)
    except ValueError as e:
        raise error_class(f"--tuner {args.tuner}: {str(e).splitlines()[0]}") from None
    except (KeyError, TypeError, RuntimeError) as e:  # a state file of the wrong shape
        if not exists:
            raise
        raise error_class(f"cannot reload the search in {project_dir} ({type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''}): its state files "
                          "(oracle.json, trial_*/trial.json) are damaged or from another "
                          "version; start over with --overwrite") from None
    if role != "worker":
        from zoo.training.reporting import write_results

        write_results(os.path.join(project_dir, SETTINGS_FILE), **settings)
    verbose = args.verbose if args.verbose is not None else (1 if sys.stdout.isatty() else 2)
    where = {None: "", "chief": " (chief: serving trials to the workers)",
             "worker": f" (worker {os.environ.get('KERASTUNER_TUNER_ID')})"}[role]
    print(f"tuning {config.name} on {corpus.name} ({len(corpus.vocab)} symbols, batch {B} x "
          f"{T} steps, {config.max_max_epoch} epoch(s) per trial) with {args.tuner}, "
          f"{args.max_trials} trial(s), in {project_dir}{where}")
    print(f"search space: {json.dumps(hypermodel.space)}")
    stopped = None
    from zoo.tuning.distributed import DistributedTuningError, make_patient, serve_chief

    try:
        if role == "chief":  # keras-tuner's chief waits for ever for a dead worker
            serve_chief(tuner, verbose=verbose, wait_timeout=args.wait_timeout)
        else:
            if role == "worker":
                make_patient(tuner, wait_timeout=args.wait_timeout)
            tuner.search(train_ds, validation_data=valid_ds, verbose=verbose, **fit_kwargs)
    except DistributedTuningError as e:
        raise error_class(str(e)) from None
    except RuntimeError as e:  # keras-tuner gives up after consecutive failed trials
        if "consecutive failures" not in str(e):
            raise
        lines = [line for line in str(e).strip().splitlines() if line.strip()]
        stopped = f"the search stopped: {lines[0]} (last: {lines[-1].strip()})"
    except KeyboardInterrupt:
        print(f"interrupted: re-run the command with --resume to continue the search in "
              f"{project_dir} (finished trials are kept)", file=sys.stderr)
        sys.exit(130)

    if role == "worker":
        print(f"worker {os.environ.get('KERASTUNER_TUNER_ID')}: no trials left")
        return 0
    rows, best_path = write_report(
        tuner, hypermodel, project_dir, corpus=corpus,
        extra={"model": config.name, "data": corpus.name, "tuner": args.tuner,
               "objective": "val_perplexity (min), batch "
                            f"{B} x {T} steps on the validation split"})
    print(format_markdown(rows))
    try:
        check_trials(tuner)
    except SearchFailedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if stopped:
        print(f"error: {stopped}", file=sys.stderr)
        return 1
    best = rows[0]
    print(f"best trial {best['trial_id']}: val_perplexity {best['val_perplexity']:.3f} "
          f"(batch {B} x {T} steps); table in {os.path.join(project_dir, 'trials.csv')}, "
          f"hyperparameters in {os.path.join(project_dir, 'best_hyperparameters.json')}"
          + (f", model in {best_path}" if best_path else ""))
    return 0
