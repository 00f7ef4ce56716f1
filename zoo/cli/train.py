"""`python train.py [--model NAME] [--data ...]`: train a model (the default command)."""

import os

from zoo.cli._args import CLIError
from zoo.cli._args import Parser
from zoo.cli._args import add_data_args
from zoo.cli._args import add_model_args
from zoo.cli._args import check_data_args
from zoo.cli._args import seed_int
from zoo.models.configs import get_config
from zoo.models.configs import list_configs

# Flags that change a preset, in the order they name the default run folder.
_NAMING_FLAGS = (("cell", "cell"), ("epochs", "max_max_epoch"), ("batch_size", "batch_size"),
                 ("num_steps", "num_steps"), ("hidden_size", "hidden_size"),
                 ("num_layers", "num_layers"), ("learning_rate", "learning_rate"),
                 ("steps_per_epoch", "steps_per_epoch"), ("tie_weights", "tie_weights"))


def build_parser():
    parser = Parser(prog="train.py",
                    description="The `train.py` command line: train, evaluate, generate, tune, "
                                "mirror.")
    add_model_args(parser)
    add_data_args(parser)
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


def config_from_args(args):
    """The preset `--model` with the flags given; a flag that does not apply is an error."""
    return get_config(args.model).with_flags(
        cell=args.cell, epochs=args.epochs, batch_size=args.batch_size,
        num_steps=args.num_steps, hidden_size=args.hidden_size, num_layers=args.num_layers,
        learning_rate=args.learning_rate, steps_per_epoch=args.steps_per_epoch,
        tie_weights=args.tie_weights,
    )


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


def check_args(args):
    """Checks made before anything is loaded or trained."""
    if args.list_models:
        return
    check_data_args(args)
    if args.output_dir is not None and os.path.exists(args.output_dir) and not (
            os.path.isdir(args.output_dir)):
        raise CLIError(f"argument --output-dir: {args.output_dir} is a file, not a directory")
    if args.tensorboard:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise CLIError("--tensorboard needs the tensorboard package: pip install "
                           "tensorboard (or run without --tensorboard)") from None


def run(argv):
    args = build_parser().parse_args(argv)
    check_args(args)
    if args.list_models:
        for name in list_configs():
            print(f"{name:16s} {get_config(name).description}")
        return 0
    config = config_from_args(args)
    verbose = "auto" if args.verbose is None else args.verbose
    if config.family == "seq2seq":
        return _train_mirror(args, config)
    from zoo.experiments.train_lm import train_lm

    r = train_lm(config, args.output_dir or default_output_dir(args, config), data=args.data,
                 data_dir=args.data_dir, corpus_tokens=args.corpus_tokens,
                 corpus_vocab=args.corpus_vocab, seed=args.seed, overwrite=args.overwrite,
                 jit=args.jit, distribute=args.distribute, tensorboard=args.tensorboard,
                 verbose=verbose)
    if "valid_perplexity" not in r:  # a non-chief worker of a multi-worker run
        print(f"trained; the chief evaluates the run; {r['words_per_sec']:,.0f} words/s; "
              f"this worker's copy in {r['output_dir']}")
        return 0
    line = f"valid perplexity {r['valid_perplexity']:.2f}"
    if "test_perplexity" in r:
        line += f", test perplexity {r['test_perplexity']:.2f}"
    floor = r["perplexity_floor"]
    if floor:
        above = 100 * (r.get("test_perplexity", r["valid_perplexity"]) / floor - 1)
        line += f"; corpus floor {floor:.2f} (test is {above:.1f}% above)"
    print(line + f" (batch 1); {r['words_per_sec']:,.0f} words/s; run in {r['output_dir']}")
    return 0


def _train_mirror(args, config):
    for flag in ("distribute", "jit", "tensorboard", "corpus_vocab"):
        if getattr(args, flag):
            raise CLIError(f"--{flag.replace('_', '-')} applies to the language models, not "
                           f"{config.name}")
    from zoo.experiments.mirror_task import train_mirror_run

    output_dir = args.output_dir or os.path.join("runs", f"{config.name}-{args.data}")
    r = train_mirror_run(config, output_dir, data=args.data, data_dir=args.data_dir,
                         corpus_tokens=args.corpus_tokens, seed=args.seed,
                         overwrite=args.overwrite,
                         verbose=2 if args.verbose is None else args.verbose)
    print(f"held-out sentences: {100 * r['test_word_accuracy']:.1f}% of words and "
          f"{100 * r['test_sentence_accuracy']:.1f}% of sentences mirrored exactly "
          f"(copying the input: {100 * r['test_copy_word_accuracy']:.1f}% / "
          f"{100 * r['test_copy_sentence_accuracy']:.1f}%); trained "
          f"{r['train_seconds']:.0f} s; checkpoint {r['checkpoint']}")
    return 0
