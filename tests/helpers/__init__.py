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
import socket

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


def free_ports(n=1):
    """`n` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port():
    """One TCP port on 127.0.0.1 that was free a moment ago."""
    return free_ports(1)[0]
