"""The architecture, checked: no import cycles, and every import points down the layers.

Every import statement counts: at module level, inside a function, or under
``TYPE_CHECKING``; a cycle dodged with a late import is still a cycle. The layers are
those of the README's diagram and of each package's docstring:

    interfaces (api, admin, cli, jobs)  ->  use cases  ->  delivery engine
        ->  search, sinks, event definitions  ->  db, broker, settings
        ->  models  ->  extensions, instance

A module may import its own package, or anything in a lower layer; packages that share a
layer stay apart. ``app`` itself, the application factory, composes everything and is
imported by no one.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

LAYERS = [
    ["app.api", "app.admin", "app.cli", "jobs"],
    ["app.usecases"],
    ["app.delivery"],
    ["app.search", "app.sinks", "app.events"],
    ["app.db", "app.broker", "app.settings", "app.net"],
    ["app.models"],
    ["app.extensions", "app.instance"],
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in [*ROOT.glob("app/**/*.py"), *ROOT.glob("jobs/**/*.py")]:
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module of ours that ``name`` (a module or a name in one) belongs to."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(_owner(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                found.add(_owner(f"{node.module}.{alias.name}"))
    return found - {None}


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def _place(module: str) -> tuple[int, str] | None:
    for rank, packages in enumerate(LAYERS):
        for package in packages:
            if module == package or module.startswith(package + "."):
                return rank, package
    return None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    return cycles


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_module_imports_itself_back_through_others():
    assert _cycles(GRAPH) == []


def test_every_module_has_a_layer():
    assert [m for m in MODULES if m != "app" and _place(m) is None] == []


def test_imports_point_down_the_layers():
    wrong = []
    for module, imported in sorted(GRAPH.items()):
        if module == "app":
            continue  # the application factory composes every layer
        rank, package = _place(module)
        for target in sorted(imported):
            if target == "app":
                wrong.append(f"{module} imports the application factory")
                continue
            target_rank, target_package = _place(target)
            if target_rank < rank or (target_rank == rank and target_package != package):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_every_package_says_what_it_does_and_what_it_may_import():
    packages = [m for m, path in MODULES.items() if path.name == "__init__.py" and m != "app"]
    silent = []
    for package in packages:
        docstring = ast.get_docstring(ast.parse(MODULES[package].read_text())) or ""
        if len(docstring) < 80 or "may import" not in docstring.lower():
            silent.append(package)
    assert silent == []
