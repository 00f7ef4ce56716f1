"""The speed benchmark must not rot: run its --quick mode (no timing asserts)."""

import json
import math
import subprocess
import sys

import pytest

from helpers import ROOT

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
    assert set(shape["impls"]) == IMPLS | {"none"}  # "none": the no-LSTM floor
    words = shape["batch"] * shape["steps"] * report["settings"]["block"]
    floor = shape["impls"]["none"]
    for impl, row in shape["impls"].items():
        assert "error" not in row, row
        assert math.isfinite(row["final_loss"])
        blocks = sorted(row["block_seconds"])
        assert len(blocks) == report["settings"]["rounds"] == row["rounds"]
        assert row["words_per_s"] == words / row["median_block_s"]
        assert blocks[0] <= row["median_block_s"] <= blocks[-1]
        assert row["best_words_per_s"] == words / blocks[0]
        if impl != "none":  # memory comes from a process of its own
            assert row["peak_rss_mb"] > 0
            assert row["lstm_ms_per_step"] == pytest.approx(
                1e3 * (row["median_block_s"] - floor["median_block_s"]) / row["block_steps"])
    assert shape["impls"]["keras"]["ratio_to_keras_lstm"] == 1.0
    # The LSTM's bare matmuls, timed in the same rounds, bound every ratio.
    matmuls = shape["lstm_matmuls"]
    b, t, u = shape["batch"], shape["steps"], shape["units"]
    shapes = [(b * t, u, 4 * u), (b * t, 4 * u, u), (2 * u, b * t, 4 * u)]
    shapes += [(b, u, 4 * u), (b, 4 * u, u)] * t  # forward h @ U, backward dz @ U.T
    flops = report["settings"]["layers"] * sum(2 * m * k * n for m, k, n in shapes)
    assert matmuls["gflop"] == pytest.approx(flops / 1e9)
    assert matmuls["best_possible_ratio_to_keras_lstm"] == pytest.approx(
        shape["impls"]["keras"]["median_block_s"]
        / (floor["median_block_s"] + matmuls["median_block_s"]))
    for impl in IMPLS | {"none", "matmuls"}:  # the table names every row
        assert f" {impl} " in result.stdout


def test_hoisted_impl_is_fused_lstm_without_cudnn():
    # On a GPU the "fused" row may run cuDNN; "hoisted" must always time the zoo's own path.
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import lstm_speed
    finally:
        sys.path.pop(0)
    from zoo.layers import FusedLSTM

    args = lstm_speed.parse_args(["--impls", "fused,hoisted", "--no-memory"])
    assert args.impl_list == ["fused", "hoisted"]
    layers = {impl: [layer for layer in lstm_speed.build_model(
        impl, 2, 3, 8, 20, 2, False, "float32").layers if isinstance(layer, FusedLSTM)]
        for impl in ("fused", "hoisted")}
    assert [layer.use_cudnn for layer in layers["fused"]] == ["auto", "auto"]
    assert [layer.use_cudnn for layer in layers["hoisted"]] == [False, False]
    with pytest.raises(SystemExit):
        lstm_speed.parse_args(["--impls", "fused,cudnn"])


def test_weight_drop_impl_is_fused_lstm_with_weight_dropout():
    """`fused-wd` (opt-in) times FusedLSTM(weight_dropout=0.5) next to `fused`."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import lstm_speed
    finally:
        sys.path.pop(0)
    from zoo.layers import FusedLSTM

    args = lstm_speed.parse_args(["--impls", "fused,fused-wd", "--no-memory"])
    assert args.impl_list == ["fused", "fused-wd"]
    layers = [layer for layer in lstm_speed.build_model(
        "fused-wd", 2, 3, 8, 20, 2, False, "float32").layers if isinstance(layer, FusedLSTM)]
    assert [layer.weight_dropout for layer in layers] == [0.5, 0.5]
