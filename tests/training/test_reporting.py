"""Learning-curve PNG and numpy-safe results JSON."""

import dataclasses
import json
import pathlib
import re

import numpy as np
import pytest

from zoo.training import plot_learning_curve
from zoo.training import write_results


@dataclasses.dataclass
class Cfg:
    hidden_size: int = 8
    lr_decay: float = 0.5


def test_write_results_round_trip(tmp_path):
    path = tmp_path / "run" / "results.json"  # parent is created
    history = {
        "perplexity": [np.float32(120.5), np.float64(80.25)],
        "val_perplexity": [130.0, 90.0],
    }
    written = write_results(
        path,
        config=Cfg(),
        history=history,
        test_perplexity=np.float32(85.5),
        words_per_sec=np.int64(12345),
        shape=(20, 35),
        weights=np.arange(3, dtype=np.int32),
        checkpoint=pathlib.Path("best.keras"),
        diverged=float("nan"),
        bound=float("inf"),
    )
    loaded = json.loads(path.read_text())
    assert loaded == written
    assert loaded == {
        "config": {"hidden_size": 8, "lr_decay": 0.5},
        "history": {"perplexity": [120.5, 80.25], "val_perplexity": [130.0, 90.0]},
        "test_perplexity": 85.5,
        "words_per_sec": 12345,
        "shape": [20, 35],
        "weights": [0, 1, 2],
        "checkpoint": "best.keras",
        "diverged": None,
        "bound": "Infinity",
    }
    assert not list(tmp_path.glob("run/*.tmp"))
    write_results(path, test_perplexity=1.0)  # overwrites atomically
    assert json.loads(path.read_text()) == {"test_perplexity": 1.0}


def test_plot_learning_curve(tmp_path):
    history = {
        "loss": [5.0, 4.0, 3.5],
        "perplexity": [150.0, 55.0, 33.0],
        "val_perplexity": [140.0],
    }
    path = plot_learning_curve(history, tmp_path / "plots" / "curve.png", validation_freq=3)
    data = pathlib.Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_plot_learning_curve_errors(tmp_path):
    with pytest.raises(ValueError, match=re.escape(
            "Argument `history_dict` must be a dict with at least one of the metrics "
            "['perplexity', 'val_perplexity']. Received: history_dict=a dict with keys ['loss']")):
        plot_learning_curve({"loss": [1.0]}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="validation_freq"):
        plot_learning_curve({"perplexity": [1.0]}, tmp_path / "x.png", validation_freq=0)
    with pytest.raises(ValueError, match=r"^Argument `history_dict` must be a dict of lists or "
                                         r"a History\. Received: history_dict of type list$"):
        plot_learning_curve([1.0], tmp_path / "x.png")
