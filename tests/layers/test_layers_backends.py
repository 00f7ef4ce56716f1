"""The layers are backend-agnostic: they pass their tests on JAX, without TF."""

import os
import subprocess
import sys
import textwrap

import keras
import pytest

from helpers import ROOT
from helpers import skip_or_fail


def _require_jax():
    try:
        import jax  # noqa: F401
    except ImportError:
        skip_or_fail("jax is not installed (pip install 'jax[cpu]', in the test extra)")


def _jax_env():
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


@pytest.mark.skipif(
    keras.backend.backend() == "jax", reason="this is already the JAX run"
)
def test_layer_tests_pass_under_jax_backend():
    _require_jax()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
         "-W", "ignore", str(ROOT / "tests" / "layers")],
        cwd=ROOT,
        env=_jax_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


@pytest.mark.skipif(
    keras.backend.backend() == "jax", reason="run once, from the default backend"
)
def test_import_zoo_layers_without_tensorflow():
    _require_jax()
    script = textwrap.dedent(
        """
        import sys
        sys.modules["tensorflow"] = None  # any `import tensorflow` now fails
        import numpy as np
        import zoo
        import zoo.layers
        import keras
        assert keras.backend.backend() == "jax"
        x = np.random.rand(2, 4, 3).astype("float32")
        layer = zoo.layers.FusedLSTM(5, return_sequences=True)
        assert layer(x).shape == (2, 4, 5)
        emb = zoo.layers.BigramEmbedding(7, 2, mode="same")
        assert emb(np.array([[1, 2, 3]])).shape == (1, 3, 2)
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=_jax_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
