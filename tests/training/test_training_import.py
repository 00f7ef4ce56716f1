"""`import zoo.training` needs only Keras (any backend), not TensorFlow."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_import_does_not_pull_tensorflow():
    pytest.importorskip("jax")
    code = (
        "import sys, zoo.training; "
        "assert 'tensorflow' not in sys.modules, "
        "sorted(m for m in sys.modules if 'tensorflow' in m)[:5]"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
