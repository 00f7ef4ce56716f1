"""Do the zoo's tf.data pipelines keep a small LSTM fed? (issue 3)

For each pipeline and shape, measures in one run:

- pipeline: batches/s delivered by iterating the `tf.data.Dataset` (what
  `model.fit` consumes), after a warm-up;
- model: train steps/s of a plain Keras model on the same shapes,
  Embedding → LSTM(units) × 2 → Dense(V), SGD, sparse cross-entropy, after
  warm-up (or `--model-steps-per-second` to skip measuring it);

and the ratio (pipeline / model), which must be ≥ 50. Prints a table and
writes JSON. Real text comes from the shared mini-PTB when available
(`ZOO_SHARED_DATA`), else from the generated corpus.

    python benchmarks/data_speed.py                     # ~1 minute on 2 CPU cores
    python benchmarks/data_speed.py --batches 500 --json runs/data_speed.json
"""

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from zoo.datasets import alphabet  # noqa: E402
from zoo.datasets import ptb  # noqa: E402
from zoo.datasets import ptb_pipeline  # noqa: E402
from zoo.datasets.corpus import shared_data_dir  # noqa: E402
from zoo.datasets import synthetic  # noqa: E402
from zoo.datasets import text8_pipeline  # noqa: E402


def load_text():
    shared = pathlib.Path(shared_data_dir())
    if (shared / "ptb" / "ptb.test.txt").is_file():
        data = ptb.load_mini_ptb(shared / "ptb")
        chars = alphabet.to_text8((shared / "ptb" / "ptb.valid.txt").read_text(encoding="utf-8"))
        return "mini-PTB (shared data)", data, chars
    data = synthetic.load_synthetic()
    return "synthetic (default corpus)", data, synthetic.generate_text8(400_000)


def pipeline_rate(make_dataset, num_batches, warmup=20):
    ds = make_dataset().repeat()
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    for _ in range(num_batches):
        x, y = next(it)
    elapsed = time.perf_counter() - start
    return num_batches / elapsed


def model_rate(vocab_size, batch_size, in_steps, out_steps, units, num_steps, warmup=3):
    import keras  # noqa: PLC0415

    inputs = keras.Input(batch_shape=(batch_size, in_steps), dtype="int32")
    h = keras.layers.Embedding(vocab_size, units)(inputs)
    h = keras.layers.LSTM(units, return_sequences=True)(h)
    h = keras.layers.LSTM(units, return_sequences=True)(h)
    if out_steps != in_steps:  # bigram: U + 1 inputs, U outputs
        h = h[:, 1:]
    outputs = keras.layers.Dense(vocab_size)(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(1.0, global_clipnorm=5.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.integers(0, vocab_size, (batch_size, in_steps)).astype("int32")
    y = rng.integers(0, vocab_size, (batch_size, out_steps)).astype("int32")
    for _ in range(warmup):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(num_steps):
        model.train_on_batch(x, y)
    return num_steps / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=2000, help="pipeline batches to time")
    parser.add_argument("--model-steps", type=int, default=15, help="train steps to time")
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--model-steps-per-second", type=float, default=None,
                        help="use this model speed instead of measuring it")
    parser.add_argument("--json", default="runs/data_speed.json", help="where to write JSON")
    args = parser.parse_args(argv)

    source, data, chars = load_text()
    vocab = len(data.vocab)
    cases = [
        ("ptb_dataset", "small b20 t20", vocab, 20, 20, 20,
         lambda: ptb_pipeline.ptb_dataset(data.train, 20, 20)),
        ("ptb_dataset", "medium b20 t35", vocab, 20, 35, 35,
         lambda: ptb_pipeline.ptb_dataset(data.train, 20, 35)),
        ("text8_dataset", "b64 u10", alphabet.VOCAB_SIZE, 64, 10, 10,
         lambda: text8_pipeline.text8_dataset(chars, 64, 10)),
        ("text8_dataset bigram", "b64 u10", alphabet.VOCAB_SIZE, 64, 11, 10,
         lambda: text8_pipeline.text8_dataset(chars, 64, 10, bigram=True)),
    ]
    rows = []
    for name, shape, v, batch, in_steps, out_steps, make in cases:
        data_rate = pipeline_rate(make, args.batches)
        if args.model_steps_per_second:
            train_rate = args.model_steps_per_second
        else:
            train_rate = model_rate(v, batch, in_steps, out_steps, args.units, args.model_steps)
        rows.append({
            "pipeline": name, "shape": shape, "vocab": v,
            "pipeline_batches_per_s": round(data_rate, 1),
            "model_steps_per_s": round(train_rate, 2),
            "ratio": round(data_rate / train_rate, 1),
            "ok": data_rate / train_rate >= 50,
        })

    print(f"data: {source}; model: Embedding → LSTM({args.units}) × 2 → Dense(V), CPU")
    header = f"{'pipeline':<22}{'shape':<16}{'V':>6}{'batches/s':>12}{'steps/s':>10}{'ratio':>9}  ≥50×"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['pipeline']:<22}{r['shape']:<16}{r['vocab']:>6}"
              f"{r['pipeline_batches_per_s']:>12.1f}{r['model_steps_per_s']:>10.2f}"
              f"{r['ratio']:>9.1f}  {'yes' if r['ok'] else 'NO'}")
    result = {"benchmark": "data_speed", "data": source, "units": args.units,
              "batches_timed": args.batches, "rows": rows,
              "all_ok": all(r["ok"] for r in rows)}
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    print(json.dumps(result))
    return 0 if result["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
