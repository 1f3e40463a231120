"""The package's shape: one subpackage per step named after its notebook, the shared core imports no step,
and no import cycle anywhere (function-level imports included)."""

import ast
from pathlib import Path

from conftest import REPO

PKG = REPO / "embtune_core"
STEPS = {"01_base_model": "base_model", "02_mine_pairs": "mine_pairs", "03_eval_set": "eval_set",
         "04_train": "train", "05_compare": "compare", "06_ship": "ship"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the embtune_core modules it imports (anywhere in the file); a package import also
    counts as importing its ``__init__``, and ``from pkg import name`` a submodule when ``name`` is one."""
    modules = {_module(p): p for p in PKG.rglob("*.py")}
    graph = {}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("embtune_core"):
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    deps.add(sub if sub in modules else target)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("embtune_core")}
        graph[mod] = {d for d in deps if d in modules and d != mod}
    return graph


def test_each_notebook_has_its_step_package():
    for notebook, package in STEPS.items():
        assert (REPO / "notebooks" / f"{notebook}.py").exists()
        assert (PKG / package / "__init__.py").exists(), package
        text = (PKG / package / "__init__.py").read_text()
        assert f"``{notebook}``" in text and "__all__" in text


def test_core_imports_no_step():
    graph = import_graph()
    for mod, deps in graph.items():
        if mod.startswith("embtune_core.core"):
            outside = {d for d in deps if not d.startswith("embtune_core.core")}
            assert not outside, f"{mod} imports {outside}"


def test_no_import_cycles():
    graph = import_graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    """The check above can fail: a graph with a cycle is reported."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    monkeypatch.setitem(globals(), "import_graph", lambda: graph)
    try:
        test_no_import_cycles()
    except AssertionError as e:
        assert "a -> b -> c -> a" in str(e)
    else:
        raise AssertionError("a cycle went unnoticed")


def test_only_the_notebook_module_imports_marimo():
    users = [p.relative_to(REPO).as_posix() for p in PKG.rglob("*.py") if "import marimo" in p.read_text()]
    assert users == ["embtune_core/notebook.py"]
