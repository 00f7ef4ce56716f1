"""Do the three LSTM cells train along the same trajectory? (float64 vs float32)

Trains ptb-small on mini-PTB for `--steps` SGD steps with each `--cell`, from identical
weights, and prints each cell's largest relative difference in per-step training loss from
`keras.layers.LSTM`'s. In float64 the cells agree to round-off (they compute the same
function and gradients); in float32 SGD at lr 1.0 amplifies rounding, which is why the
README's 4-epoch mini-PTB rows part by a few percent.

    python benchmarks/cell_trajectories.py --floatx float64 --steps 150
    python benchmarks/cell_trajectories.py --floatx float32 --steps 150
"""

import argparse
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REFERENCE = "keras"  # every other cell is compared with keras.layers.LSTM


def losses(cell, corpus, steps):
    import keras

    from zoo.datasets import ptb_dataset
    from zoo.models.configs import get_config
    from zoo.models.lm import build_lm, compile_lm
    from zoo.training import StatefulRNNCallback

    config = get_config("ptb-small").replace(cell=cell)
    B, T = config.batch_size, config.num_steps
    model = build_lm(config, vocab_size=len(corpus.vocab), seed=0)
    compile_lm(model, config)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(logs["loss"]))

    model.fit(ptb_dataset(corpus.train[:B * T * steps + 1], B, T), epochs=1, shuffle=False,
              verbose=0, callbacks=[Record(), StatefulRNNCallback()])
    return seen


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--floatx", choices=("float32", "float64"), default="float64")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--data-dir", default=None,
                   help="folder of the PTB text (default: the shared data folder's ptb/)")
    args = p.parse_args(argv)
    import keras

    keras.config.set_floatx(args.floatx)
    from zoo.datasets.corpus import load_corpus
    from zoo.datasets.corpus import shared_data_dir
    from zoo.checks import CELLS

    data_dir = args.data_dir or os.path.join(shared_data_dir(), "ptb")
    corpus = load_corpus("mini-ptb", "word", data_dir=data_dir)
    runs = {cell: losses(cell, corpus, args.steps) for cell in CELLS}
    ref = runs[REFERENCE]
    print(f"{args.floatx}, {len(ref)} steps; loss at steps 1, {len(ref)}: "
          f"{ref[0]:.6f}, {ref[-1]:.6f}")
    for cell in (c for c in CELLS if c != REFERENCE):
        worst = max(abs(a - b) / abs(b) for a, b in zip(runs[cell], ref))
        print(f"{cell}: largest relative loss difference from keras {worst:.2e}")


if __name__ == "__main__":
    main()
