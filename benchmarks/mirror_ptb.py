"""Acceptance run of `mirror-seq2seq` on real PTB text (mini-PTB split), on CPU.

Trains on ptb.valid.txt, validates on the first 1,880 lines of ptb.test.txt and
evaluates (greedy and beam 4) on the remaining 1,881 lines, every line
lowercased to text8 style and cut into sentences of at most 10 words; test
sentences that also occur in training are left out. Prints and writes JSON.

    python benchmarks/mirror_ptb.py --output-dir runs/mirror-ptb --max-minutes 16
"""

import argparse
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from zoo.datasets.corpus import shared_data_dir  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=shared_data_dir())
    parser.add_argument("--output-dir", default="runs/mirror-ptb")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--max-minutes", type=float, default=16.0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--units", type=int, default=192)
    parser.add_argument("--encoder-layers", type=int, default=1)
    parser.add_argument("--cell", default="fused")
    parser.add_argument("--augment", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true",
                        help="retrain; without it a run in --output-dir is resumed, or a "
                             "finished one reported")
    args = parser.parse_args(argv)

    from zoo.datasets import mirror_text  # noqa: PLC0415
    from zoo.datasets.ptb import mini_ptb_split  # noqa: PLC0415
    from zoo.experiments.mirror_eval import evaluate_mirror  # noqa: PLC0415
    from zoo.experiments.train_mirror import train_mirror  # noqa: PLC0415
    from zoo.models import mirror  # noqa: PLC0415

    ptb = pathlib.Path(args.data) / "ptb"
    valid_lines, test_lines = mini_ptb_split(
        mirror_text.read_text(ptb / "ptb.test.txt").splitlines())
    start = time.perf_counter()
    result = train_mirror(
        args.output_dir,
        text=str(ptb / "ptb.valid.txt"),
        valid_text="\n".join(valid_lines),
        test_text="\n".join(test_lines),
        epochs=args.epochs,
        batch_size=args.batch_size,
        cell=args.cell,
        seed=args.seed,
        units=args.units,
        encoder_layers=args.encoder_layers,
        augment=args.augment,
        max_minutes=args.max_minutes,
        verbose=2,
        overwrite=args.overwrite,
    )
    model = mirror.load_mirror(result["checkpoint"])
    test = mirror_text.split_sentences("\n".join(test_lines), 10)
    train_set = set(mirror_text.split_sentences(mirror_text.read_text(ptb / "ptb.valid.txt"), 10))
    test = [s for s in test if s not in train_set and len(s) <= model.max_length]
    beam = evaluate_mirror(model, test, beam_width=4)
    result.update({f"test_beam4_{k}": v for k, v in beam.items()})
    result["total_seconds"] = time.perf_counter() - start
    result["args"] = vars(args)
    print(json.dumps(result, indent=1))
    with open(os.path.join(args.output_dir, "result.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
