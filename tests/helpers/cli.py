"""Running `train.py`'s command line in the test process."""

import pytest

from zoo import cli


def run_main(argv):
    """Runs the CLI in-process (`zoo.cli.main`, what train.py calls); returns its exit status."""
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    return exc.value.code
