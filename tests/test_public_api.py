"""The public API: one home per name.

Each package's `__init__` is its public face (`__all__`); every name it lists imports, is
defined in that package (read with `ast`), and is public in no other package. A submodule
never re-exports another module's name: a module-level `from zoo... import name` that the
module does not use is a re-export, and is refused. `zoo.models` and `zoo.experiments`
import their Keras names lazily (a module `__getattr__`), so the names are read from
`__all__` and fetched with `getattr`, which runs that hook.
"""

import ast
import importlib
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ZOO = ROOT / "zoo"
PACKAGES = ["zoo.checks", "zoo.layers", "zoo.datasets", "zoo.models", "zoo.training",
            "zoo.tuning", "zoo.experiments"]


def _import(package):
    if package == "zoo.tuning":
        pytest.importorskip("keras_tuner")
    return importlib.import_module(package)


def _module_name(path, root):
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root):
    return {_module_name(p, root): p for p in sorted((root / "zoo").rglob("*.py"))}


def _top_level_names(path):
    """The names a module defines itself (def, class, assignment), not those it imports."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _reexports(root):
    """`module: name` for every name a (non-package) zoo module imports from the zoo at
    module level without using it: a second public home for another module's name."""
    modules = _modules(root)
    found = []
    for module, path in modules.items():
        if path.name == "__init__.py":
            continue  # a package's face lists its names on purpose
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("zoo"):
                for alias in node.names:
                    name = alias.asname or alias.name
                    if f"{node.module}.{alias.name}" not in modules and name not in used:
                        found.append(f"{module}: {name} (from {node.module})")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_every_listed_name_imports_and_is_defined_in_its_package(package):
    module = _import(package)
    assert isinstance(module.__all__, (list, tuple)) and module.__all__, package
    assert len(set(module.__all__)) == len(module.__all__), package
    defined = {name for m, path in _modules(ROOT).items()
               if m == package or m.startswith(package + ".")
               for name in _top_level_names(path)}
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
        assert name in defined, f"{package}.{name} is defined outside {package}"


@pytest.mark.parametrize("package", ["zoo.models", "zoo.experiments"])
def test_lazy_names_are_the_defining_modules_objects(package):
    """A lazy name is the object of the module that defines it, and does not hide a module."""
    module = _import(package)
    submodules = {p.stem for p in (ZOO / package.split(".")[1]).glob("*.py")}
    for name in module.__all__:
        obj = getattr(module, name)
        assert name not in submodules, f"{package}.{name} is also a module"
        if callable(obj) and hasattr(obj, "__module__"):
            assert obj.__module__.startswith(package + "."), (name, obj.__module__)
            assert getattr(importlib.import_module(obj.__module__), name) is obj


def test_no_name_is_public_in_two_packages():
    owners = {}
    for package in PACKAGES:
        try:
            names = _import(package).__all__
        except pytest.skip.Exception:
            continue
        for name in names:
            owners.setdefault(name, []).append(package)
    assert {name: p for name, p in owners.items() if len(p) > 1} == {}


def test_no_submodule_reexports_another_modules_name():
    assert _reexports(ROOT) == []


def test_the_reexport_check_finds_one(tmp_path):
    """A negative control: an unused `from zoo... import` is found, a used one is not."""
    (tmp_path / "zoo" / "a").mkdir(parents=True)
    (tmp_path / "zoo" / "__init__.py").write_text("")
    (tmp_path / "zoo" / "a" / "__init__.py").write_text("from zoo.a.x import f\n")
    (tmp_path / "zoo" / "a" / "x.py").write_text("def f():\n    return 1\n")
    (tmp_path / "zoo" / "a" / "y.py").write_text(
        "from zoo.a.x import f\nfrom zoo.a import x\n")
    (tmp_path / "zoo" / "a" / "z.py").write_text(
        "from zoo.a.x import f\n\n\ndef g():\n    return f()\n")
    assert _reexports(tmp_path) == ["zoo.a.y: f (from zoo.a.x)"]


def test_importing_the_light_packages_imports_no_keras():
    """zoo.datasets needs only numpy; zoo.models and zoo.experiments load Keras on first use."""
    code = ("import sys, zoo.datasets, zoo.models, zoo.experiments; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
