"""Shared helpers of the zoo's tests (not collected by pytest: no `test_` files here).

`pytest` puts `tests/` on `sys.path` (`pythonpath = tests` in setup.cfg), so tests import
these as `from helpers import ROOT`, `from helpers.layers import run_layer_test`, ... the
same from the repo root, a worktree or a subprocess started with `python -m pytest`.

- `helpers.layers`: `run_layer_test` (the Keras layer contract) and shared layer references.
- `helpers.training`: tiny stateful language models and a state-recording callback.
- `helpers.tuning`: the tiny corpus and search space of the tuning tests.
- `helpers/distribute_mirrored_run.py`: a script run in a fresh process (`MIRRORED_RUN`).
"""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HELPERS = pathlib.Path(__file__).resolve().parent
MIRRORED_RUN = HELPERS / "distribute_mirrored_run.py"
STRICT = os.environ.get("ZOO_STRICT", "") not in ("", "0")


def skip_or_fail(reason):
    """Skip, or fail under ZOO_STRICT=1 (CI), where a prerequisite is missing."""
    if STRICT:
        pytest.fail(f"{reason} (ZOO_STRICT=1 makes this a failure)")
    pytest.skip(reason)
