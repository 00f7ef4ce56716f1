"""`python train.py generate --checkpoint RUN/best.keras --prime "the" --length 50`."""

from zoo.cli._args import Parser
from zoo.cli._args import non_negative_float
from zoo.cli._args import positive_int
from zoo.cli._args import seed_int


def build_parser():
    p = Parser(prog="train.py generate", description="sample text from a checkpoint")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--prime", default=None, help="text to start from (default: <eos> / a space)")
    p.add_argument("--length", type=positive_int, default=None,
                   help="tokens to sample (default 79 characters or 50 words)")
    p.add_argument("--temperature", type=non_negative_float, default=1.0,
                   help="softmax temperature; 0 is greedy and deterministic")
    p.add_argument("--seed", type=seed_int, default=0)
    return p


def run(argv):
    args = build_parser().parse_args(argv)
    from zoo.experiments.generate import generate_text

    print(generate_text(args.checkpoint, args.prime, args.length, args.temperature, args.seed))
    return 0
