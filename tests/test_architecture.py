"""The package's shape: who may import whom, no import cycle, no oversized module.

Read from the source with `ast` (function-level imports included), so the rules hold for
every import a module can make, not only those a test run happens to trigger.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ZOO = ROOT / "zoo"

#: What each part of the zoo may import (besides itself). The rule of issue 13:
#: cli -> experiments, tuning -> models, training, datasets -> layers; zoo.checks is a leaf.
ALLOWED = {
    "checks": set(),
    "layers": {"checks"},
    "datasets": {"checks"},
    "training": {"checks", "layers"},
    "models": {"checks", "layers", "training"},
    "experiments": {"checks", "layers", "training", "models", "datasets"},
    "tuning": {"checks", "layers", "training", "models", "datasets"},
    "cli": {"checks", "layers", "training", "models", "datasets", "experiments", "tuning"},
}
#: The door to private Keras (zoo/_keras_private.py) is a leaf every part may import.
ALLOWED = {part: allowed | {"_keras_private"} for part, allowed in ALLOWED.items()}
ALLOWED["_keras_private"] = set()
MAX_LINES = 350


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in sorted(ZOO.rglob("*.py"))}


def _imports(path, modules):
    """The zoo modules `path` imports, at any depth of its code."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from zoo.x import y` imports module zoo.x.y where there is one, else zoo.x.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                       for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def _graph():
    modules = _modules()
    return {name: _imports(path, modules) for name, path in modules.items()}


def _part(module):
    return module.split(".")[1] if "." in module else None


def test_every_part_imports_only_what_the_layering_allows():
    bad = []
    for module, targets in _graph().items():
        part = _part(module)
        if part is None:
            continue
        allowed = ALLOWED.get(part)
        assert allowed is not None, f"{module}: add zoo.{part} to ALLOWED"
        bad += [f"{module} -> {t}" for t in targets
                if _part(t) not in (part, None) and _part(t) not in allowed]
    assert bad == []


def test_nothing_imports_the_command_line():
    """The command line is the top: the zoo's code never depends on it (benchmarks may run
    it, as a user does)."""
    bad = [f"{m} -> {t}" for m, targets in _graph().items() if _part(m) != "cli"
           for t in targets if _part(t) == "cli"]
    assert bad == []


def test_there_is_no_import_cycle():
    graph = _graph()
    # Tarjan's strongly connected components: a component of two or more is a cycle.
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    """The checks above see function-level and relative imports (a negative control)."""
    package = tmp_path / "zoo"
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("")
    (package / "a" / "x.py").write_text("def f():\n    from zoo.a import y\n")
    (package / "a" / "y.py").write_text("from . import x\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    monkeypatch.setitem(globals(), "ZOO", package)
    assert _graph()["zoo.a.x"] == {"zoo.a.y"} and _graph()["zoo.a.y"] == {"zoo.a.x"}
    with pytest.raises(AssertionError):
        test_there_is_no_import_cycle()


@pytest.mark.parametrize("folder", ["zoo", "benchmarks"])
def test_no_module_is_longer_than_350_lines(folder):
    long = {str(p.relative_to(ROOT)): n for p in sorted((ROOT / folder).rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
