"""`python train.py mirror --checkpoint RUN/best.keras "the quick brown fox"`."""

from zoo.cli._args import Parser
from zoo.cli._args import positive_int


def build_parser():
    p = Parser(prog="train.py mirror", description="mirror every word of a sentence")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--beam-width", type=positive_int, default=1,
                   help="1 decodes greedily; k > 1 keeps the k best hypotheses")
    p.add_argument("sentence", nargs="+", help="lowercase a-z words")
    return p


def run(argv):
    args = build_parser().parse_args(argv)
    from zoo.experiments.mirror_task import mirror_checkpoint

    print(mirror_checkpoint(args.checkpoint, " ".join(args.sentence), args.beam_width))
    return 0
