"""The import contract, read from the source with ``ast`` (nothing is imported):

- ``app.core`` is the headless house: it never imports the windows, the CLI or Qt;
- ``app.cli`` never imports the windows or Qt, and each command module (a leaf) imports
  only ``app.cli.common``, ``app.core`` and ``app.present``: never the CLI's root or
  another leaf;
- ``app.present`` (the wording both faces use) imports neither Qt, the windows nor the CLI;
- no import cycles among the modules of ``app``, counting imports inside functions too
  (they hide a cycle from Python at import time, not from the reader).

An import edge goes to the module named: ``from app.core import config`` is an edge to
``app.core.config``, ``from app.core.config import Paths`` one to ``app.core.config``.
That Python runs a package's ``__init__`` before its submodules is not counted as a
dependency on the package (import-linter and grimp count it the same way); so the CLI's
root may import its leaves while the leaves import ``app.cli.common``. Imports under
``if TYPE_CHECKING:`` count for the layers (the core names no window, not even for a
type) but make no cycle: they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).parents[1]
APP = ROOT / "app"
TYPE_CHECKING_NAMES = {"TYPE_CHECKING", "typing.TYPE_CHECKING"}

#: Cycles known and accepted for now: the sorted modules of each, and why it is there.
KNOWN_CYCLES: dict[tuple[str, ...], str] = {}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the module imported (in app: a module that exists; else as written)
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``, never run


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(root: Path = ROOT, package: str = "app") -> dict[str, Path]:
    return {_module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}


MODULES = _sources()


def _in_app(name: str, modules: Mapping[str, Path]) -> str:
    """The module of the app that ``name`` is or lives in (``app.core.config.Paths`` is in
    ``app.core.config``); ``name`` itself when it is outside the app."""
    probe = name
    while probe and probe not in modules:
        probe = probe.rpartition(".")[0]
    return probe or name


def _imports(name: str, path: Path, modules: Mapping[str, Path]) -> list[Import]:
    """Every import in the module, at its top, in functions and classes, or in branches."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and ast.unparse(node.test) in TYPE_CHECKING_NAMES:
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if isinstance(node, ast.Import):
            found.extend(Import(name, _in_app(alias.name, modules), node.lineno, type_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: the package, then one level up for each further dot
                parts = package.split(".")
                module = ".".join(parts[:len(parts) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                found.append(Import(name, full if full in modules else _in_app(module, modules),
                                    node.lineno, type_only))
        for inner in ast.iter_child_nodes(node):
            visit(inner, type_only)

    visit(tree, False)
    return [i for i in found if i.target != name]


def _all_imports(modules: Mapping[str, Path]) -> list[Import]:
    return [i for name, path in modules.items() for i in _imports(name, path, modules)]


IMPORTS = _all_imports(MODULES)


def _named(target: str, prefixes: tuple[str, ...]) -> bool:
    return any(target == p or target.startswith(p + ".") for p in prefixes)


def _breaking(sources: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{i.source}:{i.line} imports {i.target}" for i in IMPORTS
            if _named(i.source, sources) and _named(i.target, forbidden)]


def _edges(imports: list[Import], modules: Mapping[str, Path]) -> dict[str, dict[str, int]]:
    """Who imports whom among the app's modules, with the line of the first such import."""
    edges: dict[str, dict[str, int]] = {}
    for i in imports:
        if i.target in modules and not i.type_only:
            edges.setdefault(i.source, {}).setdefault(i.target, i.line)
    return edges


def _cycles(edges: dict[str, dict[str, int]]) -> list[tuple[tuple[str, ...], list[str]]]:
    """Each group of modules that reach one another (Tarjan's strongly connected
    components, sorted), with one shortest cycle through its first module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[tuple[str, ...]] = []

    def strong(v: str) -> None:  # recursion depth is bounded by the module count (~100)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(tuple(sorted(group)))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return [(g, _one_cycle(g, edges)) for g in sorted(groups)]


def _one_cycle(group: tuple[str, ...], edges: dict[str, dict[str, int]]) -> list[str]:
    """A shortest way from the group's first module back to itself (breadth first)."""
    start, members = group[0], set(group)
    came: dict[str, str] = {}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(edges.get(v, {})):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(came[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if w in members and w not in came:
                came[w] = v
                todo.append(w)
    raise AssertionError(f"{group} is not strongly connected")


def _described(group: tuple[str, ...], cycle: list[str], edges: dict[str, dict[str, int]]) -> str:
    said = " -> ".join(f"{a} (line {edges[a][b]})" for a, b in pairwise(cycle)) + f" -> {cycle[-1]}"
    if len(group) > len(cycle) - 1:
        said += f"\n  (all of these reach one another: {', '.join(group)})"
    return said


# -- the contract ------------------------------------------------------------------------


def test_the_reading_sees_the_whole_package() -> None:
    assert {"app.core.facade", "app.cli", "app.cli.common", "app.present.state", "app.ui.app",
            "app.main"} <= MODULES.keys()
    targets = {i.target for i in IMPORTS}
    assert {"app.core.config", "PySide6.QtWidgets", "app.present.errors", "app.cli.shows"} <= targets


def test_the_core_never_imports_the_windows_the_cli_or_qt() -> None:
    assert _breaking(("app.core",), ("app.ui", "app.cli", "app.main", "PySide6", "qasync")) == []


def test_the_cli_never_imports_the_windows_or_qt() -> None:
    assert _breaking(("app.cli",), ("app.ui", "app.main", "PySide6", "qasync")) == []


def test_the_shared_wording_imports_neither_qt_the_windows_nor_the_cli() -> None:
    assert _breaking(("app.present",), ("PySide6", "qasync", "app.ui", "app.cli", "app.main")) == []


def test_a_cli_command_imports_only_the_shared_helpers_the_core_and_the_wording() -> None:
    leaves = [m for m in MODULES if m.startswith("app.cli.") and m != "app.cli.common"]
    assert leaves, "the CLI has no command modules"
    wrong = [f"{i.source}:{i.line} imports {i.target}" for i in IMPORTS
             if i.source in leaves and _named(i.target, ("app",))
             and not _named(i.target, ("app.cli.common", "app.core", "app.present"))]
    assert wrong == []


def test_no_import_cycles_among_the_apps_modules() -> None:
    edges = _edges(IMPORTS, MODULES)
    found = [_described(group, cycle, edges) for group, cycle in _cycles(edges) if group not in KNOWN_CYCLES]
    assert found == [], "import cycles:\n" + "\n".join(found)


def test_each_known_cycle_is_still_there() -> None:
    """Once a known cycle is gone, its exception goes too (so it cannot come back unseen)."""
    groups = {group for group, _ in _cycles(_edges(IMPORTS, MODULES))}
    assert [c for c in KNOWN_CYCLES if c not in groups] == []


# -- the reading itself, on a made-up package ---------------------------------------------


def test_imports_in_functions_and_relative_ones_make_a_cycle_and_type_only_ones_do_not(tmp_path: Path) -> None:
    files = {
        "app/__init__.py": "",
        "app/core/__init__.py": "",
        "app/core/a.py": "from . import b\nimport app.core.c\n",
        "app/core/b.py": "def later():\n    from ..ui.w import Window\n",
        "app/core/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.core.a import x\n",
        "app/ui/__init__.py": "",
        "app/ui/w.py": "class Window:\n    def show(self):\n        from app.core.a import thing\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    modules = _sources(tmp_path)
    imports = _all_imports(modules)
    assert {(i.source, i.target, i.type_only) for i in imports} == {
        ("app.core.a", "app.core.b", False), ("app.core.a", "app.core.c", False),
        ("app.core.b", "app.ui.w", False), ("app.core.c", "typing", False),
        ("app.core.c", "app.core.a", True), ("app.ui.w", "app.core.a", False)}
    edges = _edges(imports, modules)
    [(group, cycle)] = _cycles(edges)
    assert group == ("app.core.a", "app.core.b", "app.ui.w")
    assert _described(group, cycle, edges) == (
        "app.core.a (line 1) -> app.core.b (line 2) -> app.ui.w (line 3) -> app.core.a")
