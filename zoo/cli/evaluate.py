"""`python train.py evaluate --checkpoint RUN/best.keras --data ...`: a split's perplexity
(a mirror checkpoint: its word and sentence accuracy)."""

from zoo.cli._args import CLIError
from zoo.cli._args import Parser
from zoo.cli._args import add_data_args
from zoo.cli._args import check_data_args
from zoo.cli._args import positive_int
from zoo.cli._args import seed_int


def build_parser():
    p = Parser(prog="train.py evaluate", description="perplexity of a checkpoint on a split")
    p.add_argument("--checkpoint", required=True)
    add_data_args(p)
    p.add_argument("--split", choices=("train", "valid", "test"), default="test")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="rows read in parallel (default 1, as the PTB tutorial tests)")
    p.add_argument("--seed", type=seed_int, default=0, help="the synthetic corpus's seed")
    return p


def run(argv):
    args = build_parser().parse_args(argv)
    check_data_args(args)
    from zoo.experiments.evaluate import checkpoint_kind
    from zoo.experiments.evaluate import evaluate_lm

    if checkpoint_kind(args.checkpoint) == "seq2seq":
        from zoo.experiments.mirror_task import evaluate_mirror_checkpoint

        for flag in ("batch_size", "corpus_tokens", "corpus_vocab"):
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
    batch_size = args.batch_size or 1
    ppl, corpus, ids = evaluate_lm(args.checkpoint, args.split, batch_size, args.data,
                                   args.data_dir, args.corpus_tokens, args.corpus_vocab,
                                   seed=args.seed)
    print(f"{args.split} perplexity {ppl:.3f} ({corpus.name}, {len(ids):,} tokens, "
          f"batch {batch_size})")
    return 0
