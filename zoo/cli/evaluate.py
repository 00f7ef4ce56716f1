"""`python train.py evaluate --checkpoint RUN/best.keras --data ...`: a split's perplexity
(a mirror checkpoint: its word and sentence accuracy), optionally with evaluation-time
adaptation (`--cache-*`: the continuous cache pointer; `--dynamic-*`: dynamic evaluation),
printed beside the LSTM alone; `--tune-on-valid` picks their values on the valid split."""

import argparse

from zoo import checks
from zoo.cli._args import CLIError
from zoo.cli._args import Parser
from zoo.cli._args import add_data_args
from zoo.cli._args import check_data_args
from zoo.cli._args import positive_int
from zoo.cli._args import seed_int

CACHE_FLAGS = {"cache_window": "window", "cache_theta": "theta", "cache_lambda": "lambd"}
DYNAMIC_FLAGS = {"dynamic_lr": "learning_rate", "dynamic_decay": "decay"}


def _checked(convert, check, name):
    """An argparse `type`: `convert`, then the library's check `check(name, value)`, whose
    Keras-worded message argparse prefixes with the flag."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number. Received: {text!r}") from None
        try:
            return check(name, value)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


def _in_unit(name, value):
    return checks.number_in(name, value, 0, 1)


def build_parser():
    p = Parser(prog="train.py evaluate", description="perplexity of a checkpoint on a split")
    p.add_argument("--checkpoint", required=True)
    add_data_args(p)
    p.add_argument("--split", choices=("train", "valid", "test"), default="test")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="rows read in parallel (default 1, as the PTB tutorial tests)")
    p.add_argument("--seed", type=seed_int, default=0, help="the synthetic corpus's seed")
    c = p.add_argument_group("continuous cache pointer (Grave et al. 2016)")
    c.add_argument("--cache-window", nargs="+", type=_checked(int, checks.positive_int,
                                                              "window"),
                   help="hidden states in the cache (AWD PTB: 500)")
    c.add_argument("--cache-theta", nargs="+",
                   type=_checked(float, checks.non_negative_number, "theta"),
                   help="sharpness of the attention over the cache (AWD PTB: 1.0, cosine)")
    c.add_argument("--cache-lambda", nargs="+", type=_checked(float, _in_unit, "lambd"),
                   help="weight of the cache in the mixture (AWD PTB: 0.1)")
    c.add_argument("--cache-similarity", choices=("dot", "cosine"), default=None,
                   help="dot: h_t·h_i, the paper's (default); cosine: awd-lstm-lm pointer.py's")
    d = p.add_argument_group("dynamic evaluation (Krause et al. 2017)")
    d.add_argument("--dynamic-lr", nargs="+",
                   type=_checked(float, checks.non_negative_number, "learning_rate"),
                   help="step size on each scored segment")
    d.add_argument("--dynamic-decay", nargs="+", type=_checked(float, _in_unit, "decay"),
                   help="pull toward the trained weights per step")
    d.add_argument("--dynamic-method", choices=("sgd", "rms"), default=None,
                   help="sgd (default) or rms (gradients scaled by their RMS on train)")
    d.add_argument("--dynamic-seq-len", type=positive_int, default=None,
                   help="tokens per segment (default 5)")
    d.add_argument("--dynamic-stats-batches", type=positive_int, default=None,
                   help="rms: training batches for the gradient statistics (default all)")
    p.add_argument("--tune-on-valid", action="store_true",
                   help="pick the cache/dynamic values by grid search on valid (the flags "
                        "above then take several values; omitted ones get a default grid), "
                        "then report --split")
    return p


def _adaptation(args, flags, extra, what):
    """The settings dict of one adaptation from its flags, or None where none was given."""
    given = {k: getattr(args, k) for k in [*flags, *extra] if getattr(args, k) is not None}
    if not given:
        return None
    settings = {}
    for flag, name in flags.items():
        values = getattr(args, flag)
        option = "--" + flag.replace("_", "-")
        if values is None and not args.tune_on_valid:
            needed = ", ".join("--" + f.replace("_", "-") for f in flags)
            raise CLIError(f"{what} needs {needed} (or --tune-on-valid to search them)")
        if values is not None and len(values) > 1 and not args.tune_on_valid:
            raise CLIError(f"{option} takes one value (several only with --tune-on-valid)")
        if values is not None:
            settings[name] = values if args.tune_on_valid else values[0]
    for flag, name in extra.items():
        if getattr(args, flag) is not None:
            settings[name] = getattr(args, flag)
    return settings


def _adapted(args):
    from zoo.experiments.adapt import evaluate_adapted

    cache = _adaptation(args, CACHE_FLAGS, {"cache_similarity": "similarity"},
                        "the cache pointer")
    dynamic = _adaptation(args, DYNAMIC_FLAGS,
                          {"dynamic_method": "method", "dynamic_seq_len": "seq_len",
                           "dynamic_stats_batches": "stats_batches"}, "dynamic evaluation")
    if cache is None and dynamic is None:
        return None
    if args.batch_size is not None:
        raise CLIError("--batch-size does not apply to --cache-*/--dynamic-* (they read the "
                       "split at batch 1)")
    if args.tune_on_valid and args.split == "valid":
        raise CLIError("--tune-on-valid tunes on valid: report another --split (test)")
    return evaluate_adapted(args.checkpoint, args.split, args.data, args.data_dir,
                            args.corpus_tokens, args.corpus_vocab, seed=args.seed,
                            cache=cache, dynamic=dynamic, tune_on_valid=args.tune_on_valid)


def _describe(r):
    p = r["params"]
    if r["method"] == "cache":
        return (f"the cache pointer (window {p['window']}, theta {p['theta']:g}, lambda "
                f"{p['lambd']:g}, {p['similarity']})")
    return (f"dynamic evaluation ({p['method']}, lr {p['learning_rate']:g}, decay "
            f"{p['decay']:g}, segments of {p['seq_len']})")


def run(argv):
    args = build_parser().parse_args(argv)
    check_data_args(args)
    from zoo.experiments.evaluate import checkpoint_kind
    from zoo.experiments.evaluate import evaluate_lm

    adapt_flags = [*CACHE_FLAGS, *DYNAMIC_FLAGS, "cache_similarity", "dynamic_method",
                   "dynamic_seq_len", "dynamic_stats_batches"]
    if checkpoint_kind(args.checkpoint) == "seq2seq":
        from zoo.experiments.mirror_task import evaluate_mirror_checkpoint

        for flag in ("batch_size", "corpus_tokens", "corpus_vocab", *adapt_flags):
            if getattr(args, flag) is not None:
                raise CLIError(f"--{flag.replace('_', '-')} applies to language-model "
                               f"checkpoints, not the mirror-seq2seq checkpoint "
                               f"{args.checkpoint}")

        r = evaluate_mirror_checkpoint(args.checkpoint, args.split, args.data, args.data_dir,
                                       seed=args.seed)
        print(f"{args.split}: {100 * r['word_accuracy']:.2f}% of {r['words']} words and "
              f"{100 * r['sentence_accuracy']:.2f}% of {r['sentences']} sentences mirrored "
              "exactly")
        return 0
    if args.tune_on_valid and not any(getattr(args, f) is not None for f in adapt_flags):
        raise CLIError("--tune-on-valid needs a --cache-* or --dynamic-* flag to say what to "
                       "tune")
    results = _adapted(args)
    if results is not None:
        for r in results:
            if r["valid"] is not None:
                print(f"tuned on valid: valid perplexity {r['valid']['model_perplexity']:.3f} "
                      f"LSTM alone, {r['valid']['perplexity']:.3f} with {_describe(r)}")
            print(f"{r['split']} perplexity {r['model_perplexity']:.3f} LSTM alone, "
                  f"{r['perplexity']:.3f} with {_describe(r)} ({args.data}, "
                  f"{r['tokens']:,} tokens, batch 1)")
        return 0
    batch_size = args.batch_size or 1
    ppl, corpus, ids = evaluate_lm(args.checkpoint, args.split, batch_size, args.data,
                                   args.data_dir, args.corpus_tokens, args.corpus_vocab,
                                   seed=args.seed)
    print(f"{args.split} perplexity {ppl:.3f} ({corpus.name}, {len(ids):,} tokens, "
          f"batch {batch_size})")
    return 0
