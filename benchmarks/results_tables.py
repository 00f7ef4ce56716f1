"""The README's results tables, regenerated from the `train.py` runs behind them.

    python benchmarks/results_tables.py                      # every table's runs, then the tables
    python benchmarks/results_tables.py --table mini-ptb-cells --update-readme README.md
    python benchmarks/results_tables.py --render-only        # tables from the runs already done
    python benchmarks/results_tables.py --quick --runs-dir /tmp/rt   # tiny runs (CI)

Each table is a list of `train.py` invocations (shown in the table or above it). Every run
is `python train.py ARGS --output-dir RUNS_DIR/TABLE/RUN --verbose 2`, in a process of its
own, and the tables are rendered from the `results.json` files those runs write, nothing
else (each table also goes to RUNS_DIR/TABLE.md).
`--update-readme` replaces each table between its `<!-- results-table: NAME -->` and
`<!-- /results-table -->` markers. `--quick` appends `QUICK_ARGS` (a 3,000-token generated
corpus, one layer of 8 units, 2 epochs) to every run and runs them in this process: the
numbers mean nothing, but the whole path from run to table is exercised in seconds.
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # _quality, also when loaded by path (tests)

import _quality  # noqa: E402 (the mini-PTB quality table)
from _machine import machine_line  # noqa: E402
from zoo.checks import CELLS  # noqa: E402 (one table row per cell)

QUICK_ARGS = ["--data", "synthetic", "--corpus-tokens", "3000", "--epochs", "2",
              "--hidden-size", "8", "--num-layers", "1"]


def _command(args):
    return " ".join(["python train.py", *args])


def _minutes(seconds):
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _default_rows(runs):
    rows = []
    for run in runs:
        r = run["results"]
        floor, test = r["perplexity_floor"], r["test_perplexity"]
        rows.append([run["label"], f"`{_command(run['args'])}`", f"{r['valid_perplexity']:.2f}",
                     f"{test:.2f}", f"{floor:.2f} ({100 * (test / floor - 1):+.1f}%)",
                     f"{_minutes(r['train_seconds'])} fit"])
    return rows, []


def _cells_rows(runs):
    rows = []
    for run in runs:
        r = run["results"]
        rows.append([run["label"], ", ".join(f"{v:.1f}" for v in r["history"]["val_perplexity"]),
                     f"{r['valid_perplexity']:.2f}", f"{r['test_perplexity']:.2f}",
                     _minutes(r["train_seconds"])])
    tests = [run["results"]["test_perplexity"] for run in runs]
    notes = [f"Final test perplexities within {100 * (max(tests) / min(tests) - 1):.1f}% of "
             "each other."]
    return rows, notes


# name -> title, header, [(run id, label, train.py args)], row builder
TABLES = {
    "default": dict(
        title="`python train.py`: the default model on the generated corpus",
        header=["run", "command", "valid", "test", "floor", "time"],
        runs=[("default", "default (2×200, 6 epochs, generated corpus)", [])],
        rows=_default_rows,
    ),
    "mini-ptb-cells": dict(
        title="ptb-small on mini-PTB for 4 epochs, the three LSTM implementations",
        header=["`--cell`", "val perplexity by epoch", "valid (batch 1)", "test (batch 1)",
                "fit time"],
        runs=[(cell, cell, ["--model", "ptb-small", "--data", "mini-ptb", "--cell", cell,
                            "--epochs", "4"]) for cell in CELLS],
        rows=_cells_rows,
    ),
    "mini-ptb-quality": dict(
        title="mini-PTB test perplexity: ptb-small, awd-mini (+ cache, + dynamic eval), KN-5",
        header=["model", "test (mean ± sd)", "test by seed", "valid", "epochs",
                "time per seed"],
        runs=_quality.runs(),
        quick_runs=_quality.runs(seeds=(0,)),
        quick_args=["--batch-size", "4", "--num-steps", "10"],  # AWD's 20 × 70 is too big
        rows=_quality.markdown_rows,
        json=_quality.table_rows,  # also RUNS_DIR/NAME.json and benchmarks/results/NAME.json
        adapt=("awd-mini",),  # these rows also get the cache and dynamic evaluation
        partial=True,  # rows render from the seeds that have finished
    ),
}


def run_dir(runs_dir, table, run_id):
    return pathlib.Path(runs_dir) / table / run_id


def train(args, out, quick=False, log=print, quick_args=()):
    """Runs `python train.py args` into `out`; raises RuntimeError if it fails.

    A real run gets a process of its own; `quick` runs share this one (one TensorFlow
    import instead of one per run) and call the same `zoo.cli.main` that train.py calls.
    """
    argv = [*args, *([*QUICK_ARGS, *quick_args] if quick else []), "--output-dir", str(out),
            "--verbose", "0" if quick else "2"]
    log(f"$ {_command(argv)}")
    start = time.perf_counter()
    if quick:
        sys.path.insert(0, str(ROOT))
        from zoo.cli import main as train_main

        try:
            train_main(argv)
            status = 0
        except SystemExit as e:
            status = e.code
    else:
        status = subprocess.run([sys.executable, str(ROOT / "train.py"), *argv],
                                cwd=ROOT).returncode
    if status != 0:
        raise RuntimeError(f"`{_command(args)}` exited with status {status}")
    log(f"  done in {_minutes(time.perf_counter() - start)}")


def table_runs(table, quick=False):
    """`(run id, label, train.py args)` of `table` (`--quick`: its `quick_runs`, if any)."""
    spec = TABLES[table]
    return spec.get("quick_runs", spec["runs"]) if quick else spec["runs"]


def load_runs(runs_dir, table, quick=False):
    runs = []
    for run_id, label, args in table_runs(table, quick):
        path = run_dir(runs_dir, table, run_id) / "results.json"
        if not path.is_file() and TABLES[table].get("partial") and any(
                label == other for other_id, other, _ in table_runs(table, quick)
                if (run_dir(runs_dir, table, other_id) / "results.json").is_file()):
            continue  # a seed not run yet: the row shows the seeds that were
        if not path.is_file():
            raise FileNotFoundError(f"no results.json for `{_command(args)}` at {path}; "
                                    "run this script without --render-only first")
        runs.append(dict(id=run_id, label=label, args=args,
                         results=json.loads(path.read_text(encoding="utf-8"))))
        adapted = path.parent / "adapt.json"
        if label in TABLES[table].get("adapt", ()) and adapted.is_file():
            runs[-1]["adapt"] = json.loads(adapted.read_text(encoding="utf-8"))
    return runs


def adapt(out, quick=False):
    """The cache pointer and dynamic evaluation of the run in `out` (`_quality.adapt`), in a
    process of its own (in this one with `quick`)."""
    if quick:
        _quality.adapt(out, quick=True)
        return
    status = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "_quality.py"),
                             "adapt", str(out)], cwd=ROOT).returncode
    if status != 0:
        raise RuntimeError(f"the cache/dynamic evaluation of {out} exited with status {status}")


def render(table, runs):
    """The markdown of `table` (header, one row per run, notes, where it was measured)."""
    spec = TABLES[table]
    rows, notes = spec["rows"](runs)
    machines = list(dict.fromkeys(machine_line(run["results"].get("machine")) for run in runs))
    notes = [*notes, "Measured on " + "; and on ".join(machines) + "."]
    lines = ["| " + " | ".join(spec["header"]) + " |",
             "|" + "---|" * len(spec["header"])]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if notes:
        lines += [""] + notes
    return "\n".join(lines)


def update_readme(path, tables):
    """Replaces each table between its markers in the file `path`; returns the names."""
    path = pathlib.Path(path)
    text = path.read_text(encoding="utf-8")
    for name, markdown in tables.items():
        pattern = re.compile(
            rf"(<!-- results-table: {re.escape(name)} -->\n).*?(\n<!-- /results-table -->)",
            re.DOTALL)
        if not pattern.search(text):
            raise ValueError(f"{path} has no `<!-- results-table: {name} -->` ... "
                             "`<!-- /results-table -->` block")
        text = pattern.sub(lambda m: m.group(1) + markdown + m.group(2), text)
    path.write_text(text, encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="append", choices=list(TABLES),
                        help="a table to regenerate (repeatable; default: all)")
    parser.add_argument("--runs-dir", default="runs/results-tables",
                        help="where the runs go: RUNS_DIR/TABLE/RUN (default %(default)s)")
    parser.add_argument("--render-only", action="store_true",
                        help="no training: render the tables from RUNS_DIR's results.json")
    parser.add_argument("--resume", action="store_true",
                        help="keep the runs (and adaptations) that finished before")
    parser.add_argument("--quick", action="store_true",
                        help="tiny runs (QUICK_ARGS appended): tests the table logic")
    parser.add_argument("--update-readme", metavar="README", default=None,
                        help="replace the tables between their markers in this file")
    args = parser.parse_args(argv)
    names = args.table or list(TABLES)
    try:
        if not args.render_only:
            for name in names:
                for run_id, label, run_args in table_runs(name, args.quick):
                    out = run_dir(args.runs_dir, name, run_id)
                    if args.resume and (out / "results.json").is_file():
                        print(f"$ {_command(run_args)}: done before, kept")
                    else:
                        train(run_args, out, quick=args.quick,
                              quick_args=TABLES[name].get("quick_args", ()))
                    if label in TABLES[name].get("adapt", ()) and not (
                            args.resume and (out / "adapt.json").is_file()):
                        adapt(out, quick=args.quick)
        loaded = {name: load_runs(args.runs_dir, name, args.quick) for name in names}
        tables = {name: render(name, runs) for name, runs in loaded.items()}
        if args.update_readme:
            update_readme(args.update_readme, tables)
    except (RuntimeError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = pathlib.Path(args.runs_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, markdown in tables.items():
        (out / f"{name}.md").write_text(markdown + "\n", encoding="utf-8")
        if "json" in TABLES[name]:  # the committed copy comes from real runs only
            rows = TABLES[name]["json"](loaded[name])
            for path in [out / f"{name}.json"] + ([] if args.quick else [
                    ROOT / "benchmarks" / "results" / f"{name}.json"]):
                _quality.write_json(rows, path)
        print(f"\n{TABLES[name]['title']}  [{name}]\n\n{markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
