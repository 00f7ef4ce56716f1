"""The corpora the command line and the tuner train on, as ids of three splits."""

import os


def shared_data_dir():
    """The shared data folder: `$ZOO_SHARED_DATA`, default `../shared/data` beside the project.

    The one place this default is coded; tests, benchmarks and `--data mini-ptb` use it.
    """
    root = os.environ.get("ZOO_SHARED_DATA")
    if root is None:
        project = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        root = os.path.join(os.path.dirname(project), "shared", "data")
    return root
