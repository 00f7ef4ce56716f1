"""Training speed of the zoo's LSTM layers against keras.layers.LSTM.

Model (the PTB language model): Embedding(vocab, U) -> 2 LSTM layers ->
Dense(vocab), SGD(lr=1, global_clipnorm=5), sparse categorical cross-entropy
from logits. For each shape and each implementation it runs, in a fresh
subprocess (so peak RSS / device peak bytes belong to one implementation),
a few warm-up steps and then timed training steps on identical numpy data,
and reports training words/s (batch * steps / second), the ratio to
keras.layers.LSTM measured in the same run, and peak memory.

Shared machines are noisy (neighbours steal CPU for seconds at a time), so
the implementations run in `--repeats` interleaved rounds (the order rotates
every round), each worker times its steps in blocks of `--block` steps, and
words/s is computed from the median block over all rounds (the best block is
reported too).

Implementations:
    gate        keras.layers.RNN(zoo.layers.GateLSTMCell)  four matmul pairs/step
    fused_cell  keras.layers.RNN(zoo.layers.FusedLSTMCell) one matmul pair/step
    fused       zoo.layers.FusedLSTM, the fast path (input projection hoisted)
    keras       keras.layers.LSTM (cuDNN on GPU where the backend has it)

Runs on whatever backend Keras uses and needs no TensorFlow with
`KERAS_BACKEND=jax`:

    python benchmarks/lstm_speed.py                     # small, all impls
    python benchmarks/lstm_speed.py --shapes small,medium,large
    python benchmarks/lstm_speed.py --shape 32,50,256 --jit-compile true
    KERAS_BACKEND=jax python benchmarks/lstm_speed.py --shapes medium
    python benchmarks/lstm_speed.py --quick             # CI smoke run

Prints a table and writes JSON (default benchmarks/results/lstm_speed.json).
"""

import argparse
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
IMPLS = ("gate", "fused_cell", "fused", "keras")
SHAPES = {
    "small": (20, 20, 200),
    "medium": (20, 35, 650),
    "large": (20, 35, 1500),
}
QUICK = dict(shapes={"quick": (2, 3, 8)}, vocab=50, warmup=1, steps=2, block=1, repeats=1)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shapes", default="small",
                   help="comma-separated names among small,medium,large")
    p.add_argument("--shape", default=None,
                   help="custom BATCH,STEPS,UNITS (replaces --shapes)")
    p.add_argument("--impls", default=",".join(IMPLS),
                   help=f"comma-separated subset of {','.join(IMPLS)}")
    p.add_argument("--vocab", type=int, default=10000)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps")
    p.add_argument("--steps", type=int, default=20, help="timed steps per round")
    p.add_argument("--block", type=int, default=5,
                   help="timed steps per block (words/s from the median block)")
    p.add_argument("--repeats", type=int, default=3,
                   help="interleaved rounds, each impl in a fresh process")
    p.add_argument("--jit-compile", default="auto", choices=("auto", "true", "false"),
                   help="Model.compile(jit_compile=...) for every impl")
    p.add_argument("--unroll", action="store_true",
                   help="unroll=True for every impl (short sequences)")
    p.add_argument("--dtype", default=None,
                   help="dtype policy of the LSTM layers, e.g. mixed_bfloat16")
    p.add_argument("--quick", action="store_true",
                   help="tiny shape and few steps (CI smoke run, timings meaningless)")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "lstm_speed.json"))
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        for key in ("vocab", "warmup", "steps", "block", "repeats"):
            setattr(args, key, QUICK[key])
        args.shape_map = dict(QUICK["shapes"])
    elif args.shape:
        try:
            b, t, u = (int(v) for v in args.shape.split(","))
        except ValueError:
            p.error(f"--shape must be BATCH,STEPS,UNITS; got {args.shape!r}")
        args.shape_map = {f"{b},{t},{u}": (b, t, u)}
    else:
        names = [s for s in args.shapes.split(",") if s]
        unknown = [s for s in names if s not in SHAPES]
        if unknown:
            p.error(f"--shapes: unknown {unknown}; choose from {list(SHAPES)}")
        args.shape_map = {s: SHAPES[s] for s in names}
    for key in ("steps", "block", "repeats"):
        if getattr(args, key) < 1:
            p.error(f"--{key} must be >= 1; got {getattr(args, key)}")
    if args.steps % args.block:
        p.error(f"--steps ({args.steps}) must be a multiple of --block ({args.block})")
    args.impl_list = [s for s in args.impls.split(",") if s]
    bad = [s for s in args.impl_list if s not in IMPLS]
    if bad:
        p.error(f"--impls: unknown {bad}; choose from {list(IMPLS)}")
    return args


# ---------------------------------------------------------------- worker side
def build_model(impl, batch, steps, units, vocab, num_layers, unroll, dtype):
    import keras

    from zoo.layers import FusedLSTM, FusedLSTMCell, GateLSTMCell

    common = dict(unit_forget_bias=False)
    init = keras.initializers.RandomUniform(-0.1, 0.1, seed=0)
    inputs = keras.Input(batch_shape=(batch, steps), dtype="int32")
    x = keras.layers.Embedding(vocab, units, embeddings_initializer=init)(inputs)
    for i in range(num_layers):
        kw = dict(kernel_initializer=init, recurrent_initializer=init, **common)
        rnn_kw = dict(return_sequences=True, unroll=unroll, dtype=dtype, name=f"lstm_{i}")
        if impl == "gate":
            layer = keras.layers.RNN(GateLSTMCell(units, dtype=dtype, **kw), **rnn_kw)
        elif impl == "fused_cell":
            layer = keras.layers.RNN(FusedLSTMCell(units, dtype=dtype, **kw), **rnn_kw)
        elif impl == "fused":
            layer = FusedLSTM(units, **kw, **rnn_kw)
        else:
            layer = keras.layers.LSTM(units, **kw, **rnn_kw)
        x = layer(x)
    logits = keras.layers.Dense(vocab, kernel_initializer=init, dtype="float32")(x)
    return keras.Model(inputs, logits)


def device_info():
    import keras

    backend = keras.backend.backend()
    info = {"backend": backend, "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count()}
    if backend == "jax":
        import jax

        dev = jax.devices()[0]
        info.update(device=f"{dev.platform}:{getattr(dev, 'device_kind', '')}",
                    backend_version=f"jax {jax.__version__}")
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        info.update(device=f"gpu:{gpus[0].name}" if gpus else "cpu",
                    backend_version=f"tensorflow {tf.__version__}")
    elif backend == "torch":
        import torch

        info.update(device="cuda:" + torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                    backend_version=f"torch {torch.__version__}")
    return info


def device_peak_bytes():
    """Peak accelerator memory of this process, or None on CPU."""
    import keras

    try:
        if keras.backend.backend() == "jax":
            import jax

            dev = jax.devices()[0]
            if dev.platform != "cpu":
                return int((dev.memory_stats() or {}).get("peak_bytes_in_use", 0)) or None
        elif keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
    except Exception:  # memory stats are best-effort
        return None
    return None


def run_worker(args):
    import numpy as np

    import keras

    impl = args.worker
    (batch, steps, units), = args.shape_map.values()
    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    model = build_model(impl, batch, steps, units, args.vocab, args.layers,
                        args.unroll, args.dtype)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1.0, global_clipnorm=5.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    rng = np.random.default_rng(0)
    n_batches = 4
    xs = rng.integers(0, args.vocab, size=(n_batches, batch, steps), dtype="int32")
    ys = rng.integers(0, args.vocab, size=(n_batches, batch, steps), dtype="int32")
    start = time.perf_counter()
    for i in range(args.warmup):
        loss = float(model.train_on_batch(xs[i % n_batches], ys[i % n_batches]))
    warmup_s = time.perf_counter() - start
    blocks = []
    for b in range(args.steps // args.block):
        start = time.perf_counter()
        for j in range(args.block):
            i = b * args.block + j
            loss = float(model.train_on_batch(xs[i % n_batches], ys[i % n_batches]))
        blocks.append(time.perf_counter() - start)
    result = {
        "impl": impl,
        "batch": batch, "steps": steps, "units": units, "vocab": args.vocab,
        "layers": args.layers,
        "timed_steps": args.steps, "warmup_steps": args.warmup,
        "block_steps": args.block, "warmup_s": warmup_s, "block_seconds": blocks,
        "final_loss": loss,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "device_peak_bytes": device_peak_bytes(),
        "jit_compile": bool(model.jit_compile),
        "params": int(model.count_params()),
    }
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------- parent side
def versions():
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("keras", "numpy", "tensorflow", "jax", "jaxlib", "torch"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def run_one(args, impl, shape_name):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", impl,
           "--shape", ",".join(map(str, args.shape_map[shape_name])),
           "--vocab", str(args.vocab), "--layers", str(args.layers),
           "--warmup", str(args.warmup), "--steps", str(args.steps),
           "--block", str(args.block),
           "--jit-compile", args.jit_compile]
    if args.unroll:
        cmd.append("--unroll")
    if args.dtype:
        cmd += ["--dtype", args.dtype]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return {"impl": impl, "error": (proc.stderr or proc.stdout)[-2000:].strip()}


def summarize(runs, words_per_block):
    """One row per impl: words/s of the median block over all rounds."""
    failed = [r for r in runs if "error" in r]
    if failed:
        return failed[0]
    blocks = sorted(s for r in runs for s in r["block_seconds"])
    mid = len(blocks) // 2
    median = blocks[mid] if len(blocks) % 2 else (blocks[mid - 1] + blocks[mid]) / 2
    row = {k: v for k, v in runs[-1].items() if k not in ("block_seconds", "warmup_s")}
    row.update(
        rounds=len(runs),
        block_seconds=[r["block_seconds"] for r in runs],
        median_block_s=median,
        words_per_s=words_per_block / median,
        best_words_per_s=words_per_block / blocks[0],
        peak_rss_mb=max(r["peak_rss_mb"] for r in runs),
        device_peak_bytes=max((r["device_peak_bytes"] or 0) for r in runs) or None,
    )
    return row


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    device = _device_in_subprocess()  # the parent never imports Keras
    report = {
        "benchmark": "lstm_speed",
        "backend": device.get("backend"),
        "device": device,
        "versions": versions(),
        "settings": {"vocab": args.vocab, "layers": args.layers, "warmup": args.warmup,
                     "steps": args.steps, "block": args.block, "repeats": args.repeats,
                     "jit_compile": args.jit_compile,
                     "unroll": args.unroll, "dtype": args.dtype, "quick": args.quick},
        "command": " ".join([os.path.relpath(__file__, ROOT)] + sys.argv[1:]),
        "results": {},
    }
    header = (f"{'shape':>14} {'impl':>11} {'words/s':>10} {'x keras':>8} {'best':>10} "
              f"{'peak RSS MB':>12} {'dev peak MB':>12}")
    print(f"backend={report['backend']} versions={report['versions']}")
    print(header)
    for name, (b, t, u) in args.shape_map.items():
        runs = {impl: [] for impl in args.impl_list}
        for r in range(args.repeats):
            k = r % len(args.impl_list)  # rotate the order every round
            for impl in args.impl_list[k:] + args.impl_list[:k]:
                runs[impl].append(run_one(args, impl, name))
        rows = {impl: summarize(rs, b * t * args.block) for impl, rs in runs.items()}
        ref = rows.get("keras", {}).get("words_per_s")
        for impl, r in rows.items():
            if "error" in r:
                print(f"{name:>14} {impl:>11}  FAILED: {r['error'].splitlines()[-1] if r['error'] else ''}")
                continue
            r["ratio_to_keras_lstm"] = r["words_per_s"] / ref if ref else None
            dev = r["device_peak_bytes"]
            ratio = f"{r['ratio_to_keras_lstm']:.2f}" if ref else "-"
            print(f"{name:>14} {impl:>11} {r['words_per_s']:>10,.0f} {ratio:>8} "
                  f"{r['best_words_per_s']:>10,.0f} {r['peak_rss_mb']:>12,.0f} "
                  f"{(dev / 2**20 if dev else float('nan')):>12,.0f}")
        report["results"][name] = {"batch": b, "steps": t, "units": u, "impls": rows}
    path = pathlib.Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"device={report['device']}\nwrote {path}")
    failed = [i for r in report["results"].values() for i, v in r["impls"].items() if "error" in v]
    return 1 if failed else 0


def _device_in_subprocess():
    code = ("import json,sys; sys.path.insert(0, %r); "
            "import lstm_speed as m; print(json.dumps(m.device_info()))"
            % str(pathlib.Path(__file__).parent))
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": proc.stderr[-500:]}


if __name__ == "__main__":
    sys.exit(main())
