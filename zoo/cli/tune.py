"""`python train.py tune`: a keras-tuner search over a config's sizes, local or distributed.

    python train.py tune --model ptb-small --tuner random --max-trials 10 --epochs 4
    python train.py tune --model ptb-small --tuner random --max-trials 20 --resume
    python train.py tune --model text8-bigram --data text8 --tuner hyperband --max-trials 30 \\
        --hidden-sizes 32:512 --num-layers 1,2 --keep-probs 0.5:1.0

The search space is the hypermodel's default (hidden size, layers, embedding size, keep_prob,
learning rate, max_grad_norm), replaced as a whole by `--space` (JSON text or a JSON file) and
then per field by the `--hidden-sizes`-style flags (`SPACE_FLAGS`, each value parsed by
`zoo.tuning.space.parse_space_value`). The search itself, its folder and its resumption are
`zoo.tuning.run.run_search`'s; this module maps the flags to its arguments.

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

import argparse
import os
import sys

from zoo.cli._args import CLIError
from zoo.cli._args import Parser
from zoo.cli._args import add_data_args
from zoo.cli._args import check_data_args
from zoo.cli._args import positive_float
from zoo.cli._args import positive_int
from zoo.cli._args import seed_int
from zoo.models.configs import DEFAULT_MODEL
from zoo.models.configs import get_config

#: The flags that replace one field's entry of the search space, and that field.
SPACE_FLAGS = {"--hidden-sizes": "hidden_size", "--num-layers": "num_layers",
               "--embedding-sizes": "embedding_size", "--keep-probs": "keep_prob",
               "--learning-rates": "learning_rate", "--max-grad-norms": "max_grad_norm",
               "--cells": "cell"}


def _space_entry(field):
    """An argparse `type` parsing a `SPEC` into the search-space entry of `field`."""
    from zoo.tuning.space import SAMPLINGS
    from zoo.tuning.space import parse_space_value

    def parse(text):
        try:
            return parse_space_value(text, field, SAMPLINGS[field] or "linear")
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def build_parser():
    from zoo.tuning.search import TUNERS  # keras-tuner: imported for this command only
    from zoo.tuning.space import SAMPLINGS

    p = Parser(prog="train.py tune",
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
    add_data_args(p)
    p.add_argument("--space", default=None,
                   help="the search space as JSON text or a JSON file, e.g. "
                        '\'{"hidden_size": {"min": 64, "max": 512, "sampling": "log"}, '
                        '"num_layers": [1, 2]}\'; replaces the default space')
    for flag, field in SPACE_FLAGS.items():
        sampling = SAMPLINGS[field]
        form = "A,B,C or A" if sampling is None else f"MIN:MAX[:{sampling}] or A,B,C or A"
        p.add_argument(flag, default=None, metavar="SPEC", type=_space_entry(field),
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


def parse_args(argv):
    """The parsed options, with `space_entries` ({field: entry}) from the space flags."""
    args = build_parser().parse_args(argv)
    check_data_args(args)
    given = {field: getattr(args, flag[2:].replace("-", "_"))
             for flag, field in SPACE_FLAGS.items()}
    args.space_entries = {field: entry for field, entry in given.items() if entry is not None}
    return args


def search_space(args, config):
    """The search space of `--space` and the space flags, for `config`."""
    from zoo.tuning.space import build_space

    return build_space(config, args.space, args.space_entries)


def run(argv):
    args = parse_args(argv)
    from zoo.tuning.run import run_search

    config = get_config(args.model)
    if config.family == "seq2seq":
        raise CLIError(f"--model {config.name} is a seq2seq model; tune a word, char or "
                       "bigram language model")
    config = config.with_flags(epochs=args.epochs, batch_size=args.batch_size,
                               num_steps=args.num_steps, steps_per_epoch=args.steps_per_epoch)
    try:
        r = run_search(config, directory=args.directory, project_name=args.project_name,
                       tuner=args.tuner, max_trials=args.max_trials,
                       executions_per_trial=args.executions_per_trial, resume=args.resume,
                       overwrite=args.overwrite, data=args.data, data_dir=args.data_dir,
                       corpus_tokens=args.corpus_tokens, corpus_vocab=args.corpus_vocab,
                       space=search_space(args, config), seed=args.seed, jit=args.jit,
                       verbose="auto" if args.verbose is None else args.verbose,
                       wait_timeout=args.wait_timeout)
    except KeyboardInterrupt:
        where = os.path.join(args.directory, args.project_name or f"{args.model}-{args.data}")
        print(f"interrupted: re-run the command with --resume to continue the search in "
              f"{where} (finished trials are kept)", file=sys.stderr)
        sys.exit(130)
    if r.role == "worker" or r.best is None:
        return 0
    B, T = config.batch_size, config.num_steps
    print(f"best trial {r.best['trial_id']}: val_perplexity {r.best['val_perplexity']:.3f} "
          f"(batch {B} x {T} steps); table in {os.path.join(r.project_dir, 'trials.csv')}, "
          f"hyperparameters in {os.path.join(r.project_dir, 'best_hyperparameters.json')}"
          + (f", model in {r.best_model_path}" if r.best_model_path else ""))
    return 0
