"""Training speed of the zoo's LSTM layers against keras.layers.LSTM.

Model (the PTB language model): Embedding(vocab, U) -> 2 LSTM layers ->
Dense(vocab), SGD(lr=1, global_clipnorm=5), sparse categorical cross-entropy
from logits, trained with `train_on_batch` on identical numpy data.

How it measures (shared machines are noisy: a neighbour can take a core for
seconds, and two processes running the same code differed by 30%):
- Speed: one process builds every implementation, warms each up, then runs
  `--rounds` rounds; a round times `--block` training steps of each
  implementation in turn (the order rotates every round). Words/s comes from
  each implementation's median block (the best block is reported too), so
  every ratio compares blocks that ran seconds apart.
- Floor: the same model without its LSTM layers (`none`: embedding straight
  into the softmax) runs in the same rounds; `step - floor` is the time the
  LSTM layers take in a step, reported as "LSTM ms" and its ratio to
  keras.layers.LSTM's.
- Memory: each implementation then runs alone in a fresh process for the
  warm-up and one block, which reports its peak RSS and device peak bytes.

Implementations:
    gate        keras.layers.RNN(zoo.layers.GateLSTMCell)  four matmul pairs/step
    fused_cell  keras.layers.RNN(zoo.layers.FusedLSTMCell) one matmul pair/step
    fused       zoo.layers.FusedLSTM, the fast path (input projection hoisted,
                hand-written backward pass)
    keras       keras.layers.LSTM (cuDNN on GPU where the backend has it)
  opt-in (--impls ...):
    hoisted     FusedLSTM with use_cudnn=False (the zoo's own path on a GPU)
    fused-wd    FusedLSTM(weight_dropout=0.5): AWD-LSTM's weight drop, one
                mask on the recurrent kernel per training step

Runs on whatever backend Keras uses and needs no TensorFlow with
`KERAS_BACKEND=jax`:

    python benchmarks/lstm_speed.py                     # small, all impls
    python benchmarks/lstm_speed.py --shapes small,medium,large
    python benchmarks/lstm_speed.py --shape 32,50,256 --jit-compile true
    KERAS_BACKEND=jax python benchmarks/lstm_speed.py --shapes medium
    python benchmarks/lstm_speed.py --impls fused,fused-wd,keras   # weight drop
    python benchmarks/lstm_speed.py --quick             # CI smoke run

Prints a table and writes JSON (default benchmarks/results/lstm_speed.json).
This file is the parent (arguments, worker processes, the table); what runs
inside a worker (models, timing, memory) is in `_speed_worker.py`.
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys

from _speed_worker import build_model  # noqa: F401 (the models, importable from here)
from _speed_worker import run_memory_worker
from _speed_worker import run_timing_worker

ROOT = pathlib.Path(__file__).resolve().parent.parent
IMPLS = ("gate", "fused_cell", "fused", "keras")
# "hoisted" is FusedLSTM with use_cudnn=False: on a GPU the "fused" row goes to
# cuDNN (as keras.layers.LSTM does), and this row times the zoo's own fast path.
# On a CPU both run the same code, so it is opt-in: --impls gate,fused,hoisted,keras.
# "fused-wd" is FusedLSTM(weight_dropout=0.5), to compare with "fused" in one run:
# --impls fused,fused-wd,keras.
EXTRA_IMPLS = ("hoisted", "fused-wd")
SHAPES = {
    "small": (20, 20, 200),
    "medium": (20, 35, 650),
    "large": (20, 35, 1500),
}
QUICK = dict(shapes={"quick": (2, 3, 8)}, vocab=50, warmup=1, rounds=2, block=1)


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
    p.add_argument("--rounds", type=int, default=10,
                   help="interleaved rounds; each times one block of every impl")
    p.add_argument("--block", type=int, default=3, help="timed steps per block")
    p.add_argument("--no-floor", dest="floor", action="store_false",
                   help="skip the no-LSTM floor model")
    p.add_argument("--no-memory", dest="memory", action="store_false",
                   help="skip the per-impl peak-memory processes")
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
        for key in ("vocab", "warmup", "rounds", "block"):
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
    for key in ("rounds", "block"):
        if getattr(args, key) < 1:
            p.error(f"--{key} must be >= 1; got {getattr(args, key)}")
    if args.warmup < 0:
        p.error(f"--warmup must be >= 0; got {args.warmup}")
    args.impl_list = [s for s in args.impls.split(",") if s]
    args.worker_impls = args.impl_list  # the parent adds the floor, "none"
    allowed = IMPLS + EXTRA_IMPLS + (("none",) if args.worker else ())
    bad = [s for s in args.impl_list if s not in allowed]
    if bad:
        p.error(f"--impls: unknown {bad}; choose from {list(IMPLS + EXTRA_IMPLS)}")
    return args


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


def _run_worker(args, kind, impls, shape_name):
    cmd = [sys.executable, os.path.abspath(__file__),
           "--worker", kind, "--impls", ",".join(impls),
           "--shape", ",".join(map(str, args.shape_map[shape_name])),
           "--vocab", str(args.vocab), "--layers", str(args.layers),
           "--warmup", str(args.warmup), "--rounds", str(args.rounds),
           "--block", str(args.block), "--jit-compile", args.jit_compile]
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
    return {"error": (proc.stderr or proc.stdout)[-2000:].strip()}


def summarize(row, words_per_block):
    """words/s of the median and of the best block."""
    blocks = sorted(row["block_seconds"])
    mid = len(blocks) // 2
    median = blocks[mid] if len(blocks) % 2 else (blocks[mid - 1] + blocks[mid]) / 2
    row.update(median_block_s=median, words_per_s=words_per_block / median,
               best_words_per_s=words_per_block / blocks[0])
    return row


def measure_shape(args, name):
    """Rows per impl (plus the floor), or {"error": ...} for a failed run."""
    b, t, u = args.shape_map[name]
    impls = list(args.impl_list) + (["none"] if args.floor else [])
    timing = _run_worker(args, "timing", impls, name)
    if "error" in timing:
        return {impl: dict(timing) for impl in impls}, None
    rows = {}
    for impl, row in timing.items():
        if impl == "matmuls":
            rows[impl] = summarize(row, b * t * args.block)
            continue
        row.update(batch=b, steps=t, units=u, vocab=args.vocab, layers=args.layers,
                   warmup_steps=args.warmup, block_steps=args.block,
                   rounds=args.rounds)
        rows[impl] = summarize(row, b * t * args.block)
        if args.memory and impl in IMPLS:
            rows[impl].update(_run_worker(args, "memory", [impl], name))
    matmuls = rows.pop("matmuls", None)
    ref = rows.get("keras")
    floor = rows.get("none")
    for impl, row in rows.items():
        row["ratio_to_keras_lstm"] = row["words_per_s"] / ref["words_per_s"] if ref else None
        if floor and impl != "none":
            row["lstm_ms_per_step"] = 1e3 * (row["median_block_s"] - floor["median_block_s"]) / args.block
    if ref and floor:
        for impl, row in rows.items():
            if impl != "none" and row["lstm_ms_per_step"] > 0 and ref["lstm_ms_per_step"] > 0:
                row["lstm_ratio_to_keras_lstm"] = ref["lstm_ms_per_step"] / row["lstm_ms_per_step"]
    if matmuls:
        # No LSTM can take less than its matmuls: the best ratio any
        # implementation could reach here is keras / (floor + matmuls).
        matmul_ms = 1e3 * matmuls["median_block_s"] / args.block
        matmuls.update(lstm_ms_per_step=matmul_ms, gflop=lstm_gflop(b, t, u, args.layers))
        if ref:
            matmuls["best_possible_ratio_to_keras_lstm"] = ref["median_block_s"] / (
                floor["median_block_s"] + matmuls["median_block_s"])
    return rows, matmuls


def lstm_gflop(batch, steps, units, num_layers):
    """Matmul GFLOP of the LSTM layers in one training step (see lstm_matmuls)."""
    n, g = batch * steps, 4 * units
    per_layer = 2 * n * units * g * 2 + 2 * n * 2 * units * g + 2 * steps * 2 * batch * units * g
    return num_layers * per_layer / 1e9


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def main(argv=None):
    args = parse_args(argv)
    if args.worker == "timing":
        return run_timing_worker(args)
    if args.worker == "memory":
        return run_memory_worker(args)
    device = _device_in_subprocess()  # the parent never imports Keras
    report = {
        "benchmark": "lstm_speed",
        "backend": device.get("backend"),
        "device": device,
        "versions": versions(),
        "settings": {"vocab": args.vocab, "layers": args.layers, "warmup": args.warmup,
                     "rounds": args.rounds, "block": args.block, "floor": args.floor,
                     "jit_compile": args.jit_compile,
                     "unroll": args.unroll, "dtype": args.dtype, "quick": args.quick},
        "command": " ".join([os.path.relpath(__file__, ROOT)] + sys.argv[1:]),
        "results": {},
    }
    header = (f"{'shape':>14} {'impl':>11} {'words/s':>9} {'x keras':>8} {'best':>9} "
              f"{'LSTM ms':>8} {'LSTM x':>7} {'RSS MB':>8} {'dev MB':>8}")
    print(header)
    for name, (b, t, u) in args.shape_map.items():
        rows, matmuls = measure_shape(args, name)
        for impl, r in rows.items():
            if "error" in r:
                print(f"{name:>14} {impl:>11}  FAILED: {r['error'].splitlines()[-1] if r['error'] else ''}")
                continue
            dev = r.get("device_peak_bytes")
            print(f"{name:>14} {impl:>11} {r['words_per_s']:>9,.0f} "
                  f"{_fmt(r['ratio_to_keras_lstm'], '.2f'):>8} {r['best_words_per_s']:>9,.0f} "
                  f"{_fmt(r.get('lstm_ms_per_step'), '.1f'):>8} "
                  f"{_fmt(r.get('lstm_ratio_to_keras_lstm'), '.2f'):>7} "
                  f"{_fmt(r.get('peak_rss_mb'), ',.0f'):>8} "
                  f"{_fmt(dev / 2**20 if dev else None, ',.0f'):>8}")
        report["results"][name] = {"batch": b, "steps": t, "units": u, "impls": rows}
        if matmuls:
            report["results"][name]["lstm_matmuls"] = matmuls
            bound = matmuls.get("best_possible_ratio_to_keras_lstm")
            print(f"{name:>14} {'matmuls':>11} {'':>9} {'':>8} {'':>9} "
                  f"{matmuls['lstm_ms_per_step']:>8.1f}   <- the LSTM's {matmuls['gflop']:.2f} "
                  f"GFLOP of matmuls alone; best possible x keras: {_fmt(bound, '.2f')}")
    path = pathlib.Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"device={report['device']}\nwrote {path}")
    failed = [i for r in report["results"].values() for i, v in r["impls"].items()
              if "error" in v]
    return 1 if failed else 0


def _device_in_subprocess():
    code = ("import json,sys; sys.path.insert(0, %r); "
            "import _speed_worker as m; print(json.dumps(m.device_info()))"
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
