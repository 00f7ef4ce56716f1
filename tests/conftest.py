"""Shared pytest fixtures.

Real Penn Treebank text is found through one setting, the environment variable
``ZOO_SHARED_DATA`` (default: ``../shared/data`` beside the project root; see
`zoo.datasets.corpus.shared_data_dir`). Tests that need it skip with a clear reason where it
is absent, so a fresh clone still passes; with ``ZOO_STRICT=1`` (set by ``.ci/run``) they
fail instead. Helpers shared by several test files live in the `helpers` package.
"""

import pathlib

import pytest

from helpers import skip_or_fail
from zoo.datasets.corpus import shared_data_dir


@pytest.fixture(scope="session")
def ptb_dir():
    """Directory holding ptb.valid.txt and ptb.test.txt (see ../shared/data/README.md)."""
    d = pathlib.Path(shared_data_dir()) / "ptb"
    if not (d / "ptb.valid.txt").is_file() or not (d / "ptb.test.txt").is_file():
        skip_or_fail(f"real PTB text not found in {d}; set ZOO_SHARED_DATA to the shared data dir")
    return d
