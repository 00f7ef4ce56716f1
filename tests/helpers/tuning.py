"""Shared settings of the tuning tests: a tiny corpus and a tiny search space."""

import json

# A few thousand training tokens, batch 20 x 10 steps, one epoch per trial.
CORPUS_ARGS = ["--data", "synthetic", "--corpus-tokens", "3000", "--seed", "0"]
SHAPE_ARGS = ["--batch-size", "20", "--num-steps", "10", "--epochs", "1"]
TINY_SPACE = json.dumps({"hidden_size": {"min": 4, "max": 16, "sampling": "log"},
                         "num_layers": 1})


def tune_args(directory, *extra, max_trials=3, tuner="random"):
    """`train.py tune` arguments for the tiny search in `directory`."""
    return ["tune", "--model", "synthetic-small", "--tuner", tuner,
            "--max-trials", str(max_trials), "--directory", str(directory),
            "--project-name", "tiny", "--space", TINY_SPACE, "--verbose", "0",
            *CORPUS_ARGS, *SHAPE_ARGS, *extra]


def read_csv(path):
    import csv

    with open(path) as f:
        return list(csv.DictReader(f))
