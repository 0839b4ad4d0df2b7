"""The package layout keeps its promises: small modules, one-way dependencies, no cycles.

Read from the source with ``ast`` (imports inside functions included), so a deferred import
cannot hide a cycle or an edge dependency of the core.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "bareprop"
CORE = ("nn", "optim", "data", "train", "files")
EDGE = ("show", "check", "lab", "cli", "bench", "playground", "sklearn", "export")
MAX_TOP_LEVEL_MODULES = 8
MAX_MODULE_LINES = 300


def _modules() -> dict[str, Path]:
    """``bareprop.x.y`` -> its file, for every module of the package."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str) -> list[tuple[str, list[str]]]:
    """``(module imported, names imported from it)`` for every bareprop import in ``name``."""
    tree = ast.parse(MODULES[name].read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "bareprop":
                found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.split(".")[0] == "bareprop"]
    return found


def _targets(name: str) -> set[str]:
    """The bareprop modules ``name`` imports (``from pkg import module`` counted as module)."""
    targets = set()
    for module, names in _imports(name):
        subs = {f"{module}.{n}" for n in names} & MODULES.keys()
        targets |= subs or {module}
    return {t for t in targets if t in MODULES and t != name}


def test_at_most_eight_modules_sit_directly_in_the_package() -> None:
    top = sorted(p.name for p in ROOT.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_300_lines(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name}: {lines} lines"


def test_every_subpackage_says_what_lives_there() -> None:
    for init in ROOT.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.relative_to(ROOT)} has no docstring"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_private_name_is_imported_from_another_module() -> None:
    bad = [
        f"{name}: from {module} import {n}"
        for name in MODULES
        for module, names in _imports(name)
        for n in names
        if _private(n) or any(_private(part) for part in module.split("."))
    ]
    assert not bad, "\n".join(bad)


def test_the_core_never_imports_the_edge() -> None:
    bad = [
        f"{name} imports {target}"
        for name in MODULES
        if name.split(".")[1:2] and name.split(".")[1] in CORE
        for target in _targets(name)
        if target.split(".")[1:2] and target.split(".")[1] in EDGE
    ]
    assert not bad, "\n".join(bad)


# Each package may import packages of a lower rank (and its peers, as long as no cycle forms):
# the arrows of STYLE.md's dependency diagram, from the maths to the command line.
RANK = {"errors": 0, "validation": 0, "nn": 1, "data": 1, "optim": 2, "files": 2, "fast": 3,
        "train": 4, "check": 5, "show": 5, "lab": 6, "export": 6, "sklearn": 6,
        "playground": 7, "bench": 7, "cli": 8}  # fmt: skip


def _package(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def test_dependencies_point_from_the_command_line_down_to_the_maths() -> None:
    bad = [
        f"{name} imports {target}"
        for name in MODULES
        if (mine := _package(name)) is not None
        for target in _targets(name)
        if (theirs := _package(target)) is not None and RANK[theirs] > RANK[mine]
    ]
    assert not bad, "\n".join(bad)


def test_there_are_no_import_cycles_deferred_imports_included() -> None:
    graph = {name: _targets(name) for name in MODULES}
    # A package's __init__ re-exporting its own modules is not a cycle of concepts.
    for name in graph:
        graph[name] = {t for t in graph[name] if not (name.startswith(t + ".") and t in MODULES)}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles[:10])
