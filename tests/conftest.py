"""Shared pytest fixtures.

Real Penn Treebank text is found through one setting, the environment variable
``ZOO_SHARED_DATA`` (default: ``../shared/data`` beside the project root). Tests
that need it skip with a clear reason where it is absent, so a fresh clone still
passes; with ``ZOO_STRICT=1`` (set by ``.ci/run``) they fail instead.
"""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
STRICT = os.environ.get("ZOO_STRICT", "") not in ("", "0")


def shared_data_dir():
    return pathlib.Path(os.environ.get("ZOO_SHARED_DATA", ROOT.parent / "shared" / "data"))


def skip_or_fail(reason):
    """Skip, or fail under ZOO_STRICT=1 (CI), where a prerequisite is missing."""
    if STRICT:
        pytest.fail(f"{reason} (ZOO_STRICT=1 makes this a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def ptb_dir():
    """Directory holding ptb.valid.txt and ptb.test.txt (see ../shared/data/README.md)."""
    d = shared_data_dir() / "ptb"
    if not (d / "ptb.valid.txt").is_file() or not (d / "ptb.test.txt").is_file():
        skip_or_fail(f"real PTB text not found in {d}; set ZOO_SHARED_DATA to the shared data dir")
    return d
