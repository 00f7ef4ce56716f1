"""The speed benchmark must not rot: run its --quick mode (no timing asserts)."""

import json
import math
import subprocess
import sys

from conftest import ROOT

IMPLS = {"gate", "fused_cell", "fused", "keras"}


def test_quick_benchmark_writes_complete_json(tmp_path):
    out = tmp_path / "speed.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "lstm_speed.py"), "--quick",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["backend"] == report["device"]["backend"]
    assert report["versions"]["keras"] and report["settings"]["quick"] is True
    (shape,) = report["results"].values()
    assert set(shape["impls"]) == IMPLS
    for impl, row in shape["impls"].items():
        assert "error" not in row, row
        assert row["words_per_s"] > 0 and math.isfinite(row["final_loss"])
        assert row["peak_rss_mb"] > 0
        blocks = sorted(s for r in row["block_seconds"] for s in r)
        assert len(blocks) == row["rounds"] * row["timed_steps"] // row["block_steps"]
        words = shape["batch"] * shape["steps"] * row["block_steps"]
        assert row["words_per_s"] == words / row["median_block_s"]
        assert blocks[0] <= row["median_block_s"] <= blocks[-1]
        assert row["best_words_per_s"] == words / blocks[0]
    assert shape["impls"]["keras"]["ratio_to_keras_lstm"] == 1.0
    for impl in IMPLS:  # the table names every impl
        assert f" {impl} " in result.stdout
