"""Keras's private `keras.src` is imported in one zoo module only, the shim."""

import ast

from helpers import ROOT

SHIM = ROOT / "zoo" / "layers" / "_keras_src.py"


def keras_src_imports(source):
    """Names of `keras.src` modules `source` imports, at any depth (functions too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            func_name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            names = [node.args[0].value] if func_name in ("import_module", "__import__") else []
        else:
            continue
        found += [n for n in names if isinstance(n, str) and (n == "keras.src" or n.startswith("keras.src."))]
    return found


def test_the_detector_sees_every_form_of_import():
    source = (
        "import keras\nfrom keras import ops\n"
        "def f():\n    from keras.src.backend import rnn\n"
        "class C:\n    def g(self):\n        import keras.src.tree\n"
        "from keras import src\n"
        "importlib.import_module('keras.src.layers')\n"
    )
    assert sorted(keras_src_imports(source)) == [  # ast.walk: breadth first
        "keras.src", "keras.src.backend", "keras.src.backend.rnn", "keras.src.layers",
        "keras.src.tree",
    ]
    assert keras_src_imports("import keras\nfrom keras import ops, tree\n") == []


def test_only_the_shim_imports_keras_src():
    files = sorted((ROOT / "zoo").rglob("*.py"))
    assert SHIM in files and len(files) > 10
    offenders = {
        str(path.relative_to(ROOT)): names
        for path in files
        if path != SHIM and (names := keras_src_imports(path.read_text()))
    }
    assert offenders == {}, f"import keras.src through zoo/layers/_keras_src.py: {offenders}"
    assert keras_src_imports(SHIM.read_text())  # the shim is where they are
