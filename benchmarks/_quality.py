"""The mini-PTB quality table of `results_tables.py`: ptb-small against awd-mini (the LSTM
alone, with the continuous cache pointer, with dynamic evaluation), several seeds each, and
the KN-5 count model quoted as the external baseline.

The adaptations run after training, on the best checkpoint, with their values chosen by grid
search on the validation split only (`zoo.experiments.adapt.evaluate_adapted(...,
tune_on_valid=True)`); each run folder gets `adapt.json`. `python benchmarks/_quality.py
adapt RUN_DIR [--quick]` does that for one run (results_tables.py calls it in a process of
its own).
"""

import json
import pathlib
import statistics
import sys
import time

from _machine import machine_line

SEEDS = (0, 1, 2)
PTB_SMALL_EPOCHS = 4
#: A modified Kneser-Ney 5-gram (KenLM agrees) on exactly the mini-PTB split (issue 18).
KN5 = {"valid": 195.5, "test": 187.5}
#: The grids searched on valid. The cache's are zoo.training.cache_pointer's defaults; the
#: dynamic-evaluation grid is cut to 2 × 2 around what won on ptb-small (lr 0.3, segments of
#: 20 tokens) so that a seed's search takes minutes on a CPU.
DYNAMIC = {"learning_rate": [0.3, 1.0], "decay": [0.0, 0.01], "method": "sgd", "seq_len": 20}
QUICK_DYNAMIC = {"learning_rate": [0.01], "decay": [0.0], "method": "sgd"}


def runs(seeds=SEEDS):
    """The table's `train.py` runs: (run id, row name, arguments)."""
    out = [(f"awd-mini-s{s}", "awd-mini", ["--model", "awd-mini", "--data", "mini-ptb",
                                           "--seed", str(s)]) for s in seeds]
    out += [(f"ptb-small-s{s}", "ptb-small", ["--model", "ptb-small", "--data", "mini-ptb",
                                             "--epochs", str(PTB_SMALL_EPOCHS), "--seed",
                                             str(s)]) for s in seeds]
    return out


def adapt(run_dir, quick=False):
    """Runs the cache pointer and dynamic evaluation on `run_dir`'s best checkpoint, values
    tuned on valid, scored on test; writes `run_dir/adapt.json`."""
    from zoo.experiments.adapt import evaluate_adapted

    run_dir = pathlib.Path(run_dir)
    settings = json.loads((run_dir / "zoo_meta.json").read_text(encoding="utf-8"))["settings"]
    kwargs = dict(data=settings["data"], seed=settings["seed"], tune_on_valid=True,
                  split="test", corpus_tokens=settings["corpus_tokens"],
                  corpus_vocab=settings["corpus_vocab"])
    out = {}
    for method, setting in (("cache", {} if not quick else
                             {"window": [20], "theta": [1.0], "lambd": [0.1]}),
                            ("dynamic", QUICK_DYNAMIC if quick else DYNAMIC)):
        start = time.perf_counter()
        [result] = evaluate_adapted(str(run_dir / "best.keras"), **{method: setting}, **kwargs)
        out[method] = {**result, "seconds": time.perf_counter() - start}
    (run_dir / "adapt.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


def _mean_sd(values):
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def table_rows(loaded):
    """The JSON rows (`benchmarks/results/mini-ptb-quality.json`) of the loaded runs: per
    row `name`, `seeds` (test perplexity per seed), `test_ppl_mean`, `test_ppl_sd`,
    `valid_ppl_mean`, `epochs` (per seed), `wall_s`, `machine` and the adaptations' `params`."""
    groups = {}
    for run in loaded:
        groups.setdefault(run["label"], []).append(run)
    rows = []
    for label, group in groups.items():
        variants = [(label, None)]
        if all("adapt" in run for run in group):
            variants += [(f"{label} + cache", "cache"), (f"{label} + dynamic eval", "dynamic")]
        for name, method in variants:
            tests, valids, walls = [], [], []
            for run in group:
                r = run["results"]
                wall = r["train_seconds"]
                if method is None:
                    tests.append(r["test_perplexity"])
                    valids.append(r["valid_perplexity"])
                else:
                    a = run["adapt"][method]
                    tests.append(a["perplexity"])
                    valids.append(a["valid"]["perplexity"])
                    wall += a["seconds"]
                walls.append(wall)
            mean, sd = _mean_sd(tests)
            rows.append({
                "name": name, "seeds": tests, "test_ppl_mean": mean, "test_ppl_sd": sd,
                "valid_ppl_mean": statistics.fmean(valids),
                "epochs": [len(run["results"]["history"].get("loss", [])) for run in group],
                "wall_s": statistics.fmean(walls),
                "machine": machine_line(group[0]["results"].get("machine")),
                "params": [run["adapt"][method]["params"] for run in group] if method else None,
            })
    return rows


def write_json(rows, path):
    """Writes the JSON rows to `path` (folders created)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


def markdown_rows(loaded):
    """`results_tables` row builder: the table's rows and its notes."""
    rows = table_rows(loaded)
    out = []
    for row in rows:
        epochs = sorted(set(row["epochs"]))
        spread = ("(1 seed)" if row["test_ppl_sd"] is None else f"± {row['test_ppl_sd']:.1f}")
        out.append([row["name"], f"**{row['test_ppl_mean']:.1f}** {spread}",
                    ", ".join(f"{v:.1f}" for v in row["seeds"]), f"{row['valid_ppl_mean']:.1f}",
                    "–".join(str(e) for e in (epochs[0], epochs[-1]) if e is not None)
                    if len(epochs) > 1 else str(epochs[0]),
                    f"{row['wall_s'] / 60:.1f} min"])
    out.append(["KN-5 (modified Kneser-Ney 5-gram, the external baseline)", f"{KN5['test']}",
                "–", f"{KN5['valid']}", "–", "–"])
    seeds = sorted({run["results"]["seed"] for run in loaded})
    notes = [f"Test perplexity mean ± sd over seeds {', '.join(map(str, seeds))} (per-seed "
             "values beside it, in that order); valid is the mean of the batch-1 valid perplexities (for the "
             "adapted rows, of the best valid point of the grid search). Cache and dynamic-"
             "evaluation values were chosen on valid only. Wall time is the mean fit time per "
             "seed (plus the search and the test pass for the adapted rows). The rows' JSON: "
             "`benchmarks/results/mini-ptb-quality.json`."]
    return out, notes


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "adapt":
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
        adapt(sys.argv[2], quick="--quick" in sys.argv)
    else:
        sys.exit("usage: python benchmarks/_quality.py adapt RUN_DIR [--quick]")
