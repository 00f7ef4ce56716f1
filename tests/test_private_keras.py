"""Private Keras and keras-tuner are used in one zoo module only, the door.

`zoo/_keras_private.py` holds every `keras.src` / `keras_tuner.src` import and every
access to a private attribute of a Keras object, so a Keras upgrade is checked there.
Read from the source with `ast` (function-level code included). Elsewhere in zoo/ a
private attribute may be used only on `self` / `cls`; zoo-internal private imports
(`from zoo.x._y import z`) are fine, since they are imports, not attribute access.
"""

import ast

import pytest

from helpers import ROOT

DOOR = ROOT / "zoo" / "_keras_private.py"
PRIVATE_PACKAGES = ("keras.src", "keras_tuner.src")
ATTRIBUTE_FUNCTIONS = ("getattr", "setattr", "hasattr", "delattr")
#: Private attributes of objects that are not Keras's, which the rule lets through by name:
#: argparse (the standard library) lists a parser's options only in `parser._actions`.
NOT_KERAS = {"zoo/cli/__init__.py": [(91, "parser._actions")]}


def _private_package(name):
    return isinstance(name, str) and any(
        name == p or name.startswith(p + ".") for p in PRIVATE_PACKAGES)


def private_imports(source):
    """Names of `keras.src` / `keras_tuner.src` modules `source` imports, at any depth."""
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
        found += [n for n in names if _private_package(n)]
    return found


def _private_name(name):
    return isinstance(name, str) and name.startswith("_") and not name.startswith("__")


def _on_self(node):
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def private_attributes(source):
    """`(line, text)` of each private attribute `source` touches on an object not its own.

    `x._name` (read, write or delete) and `getattr/setattr/hasattr/delattr(x, "_name")`,
    unless `x` is `self` or `cls`. Dunder names (`__name__`) are not private.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            if _private_name(node.attr) and not _on_self(node.value):
                found.append((node.lineno, ast.unparse(node)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ATTRIBUTE_FUNCTIONS and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and _private_name(node.args[1].value)
              and not _on_self(node.args[0])):
            found.append((node.lineno, ast.unparse(node)))
    return sorted(found)


def test_the_import_detector_sees_every_form_of_import():
    source = (
        "import keras\nfrom keras import ops\n"
        "def f():\n    from keras.src.backend import rnn\n"
        "class C:\n    def g(self):\n        import keras.src.tree\n"
        "from keras import src\n"
        "importlib.import_module('keras.src.layers')\n"
        "from keras_tuner.src.engine import oracle\n"
        "__import__('keras_tuner.src')\n"
    )
    assert sorted(private_imports(source)) == [
        "keras.src", "keras.src.backend", "keras.src.backend.rnn", "keras.src.layers",
        "keras.src.tree", "keras_tuner.src", "keras_tuner.src.engine",
        "keras_tuner.src.engine.oracle",
    ]
    assert private_imports(
        "import keras\nfrom keras import ops, tree\nimport keras_tuner as kt\n"
        "from zoo.layers._cudnn import gpu_available\nimport srcs\n") == []


def test_the_attribute_detector_sees_every_form_of_access():
    source = (
        "x = model._initial_epoch\n"               # read
        "model._initial_epoch = 3\n"               # write
        "del model._jax_state\n"                   # delete
        "self.model._flatten_layers()\n"           # on an attribute of self
        "getattr(model, '_jax_state', None)\n"
        "setattr(optimizer, '_clip_gradients', f)\n"
        "hasattr(layer, '_flatten_layers')\n"
        "delattr(layer, '_x')\n"
        "def f():\n    return checks._fail\n"      # a module's private name
        "class C:\n    def g(self):\n        return self._seen, cls._n, getattr(self, '_a')\n"
        "y = obj.__class__.__name__\n"
        "z = obj.public\n"
    )
    assert private_attributes(source) == [
        (1, "model._initial_epoch"), (2, "model._initial_epoch"), (3, "model._jax_state"),
        (4, "self.model._flatten_layers"), (5, "getattr(model, '_jax_state', None)"),
        (6, "setattr(optimizer, '_clip_gradients', f)"),
        (7, "hasattr(layer, '_flatten_layers')"), (8, "delattr(layer, '_x')"),
        (10, "checks._fail"),
    ]


def _offenders(detector):
    files = sorted((ROOT / "zoo").rglob("*.py"))
    assert DOOR in files and len(files) > 10
    return {str(path.relative_to(ROOT)): found for path in files
            if path != DOOR and (found := detector(path.read_text(encoding="utf-8")))}


def test_only_the_door_imports_private_keras():
    offenders = _offenders(private_imports)
    assert offenders == {}, f"import these through zoo/_keras_private.py: {offenders}"
    assert private_imports(DOOR.read_text())  # the door is where they are


def test_only_the_door_touches_private_attributes():
    offenders = _offenders(private_attributes)
    offenders = {path: [(line, text) for line, text in found
                        if text not in {t for _, t in NOT_KERAS.get(path, [])}]
                 for path, found in offenders.items()}
    offenders = {path: found for path, found in offenders.items() if found}
    assert offenders == {}, f"reach these through zoo/_keras_private.py: {offenders}"
    assert private_attributes(DOOR.read_text())


def test_release_oracle_lock_frees_the_lock_a_failed_request_keeps():
    # keras-tuner's `synchronized` releases an oracle's lock only when the method returns;
    # an update for a trial the oracle does not know raises and keeps it.
    import keras_tuner as kt
    from keras_tuner.src.engine import oracle as oracle_module

    from zoo import _keras_private

    oracle = kt.oracles.RandomSearchOracle(objective="val_loss", max_trials=1)
    with pytest.raises(KeyError):
        oracle.update_trial("unknown", {"val_loss": 1.0})
    assert oracle_module.LOCKS[oracle].locked()
    assert _keras_private.release_oracle_lock(oracle) is True
    assert not oracle_module.LOCKS[oracle].locked()
    assert _keras_private.release_oracle_lock(oracle) is False  # not held: nothing to do
    assert oracle.get_space() is not None  # a synchronized call runs again
