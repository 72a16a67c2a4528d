"""The import graph of geo/ and dashboard/, its cycles and the house rules; prints a summary.

Usage: python scripts/import_graph.py [--modules]
  prints, per package, the packages it imports (or, with --modules, every module's
  imports), then any cycle and any broken rule; exits 1 if there is one.
tests/test_architecture.py runs the same checks.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("geo", "dashboard")
#: Distributions of the web face: the library (geo/) never imports them.
WEB_MODULES = ("dash", "dash_leaflet", "flask", "flask_compress", "waitress", "plotly",
               "dashboard")

Graph = dict[str, set[str]]


def module_name(path: Path, root: Path = ROOT) -> str:
    """``geo/coverage/engine.py`` -> ``geo.coverage.engine``; a package's ``__init__`` is the
    package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``, by dotted name."""
    return {module_name(path, root): path
            for package in packages for path in sorted((root / package).rglob("*.py"))}


def imports_of(name: str, source: str, *, is_package: bool) -> list[tuple[str, list[str]]]:
    """``(module, names)`` for every import in ``source`` (also inside functions), with
    relative imports resolved against the module ``name``."""
    found: list[tuple[str, list[str]]] = []
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                if not is_package:
                    anchor = anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, [alias.name for alias in node.names]))
    return found


def _runtime_nodes(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def build_graph(modules: Mapping[str, Path]) -> tuple[Graph, dict[str, set[str]]]:
    """Internal edges (module -> modules of ``modules`` it imports) and, per module, the
    top-level external distributions it imports."""
    graph: Graph = {name: set() for name in modules}
    external: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, names in imports_of(name, path.read_text(encoding="utf-8"),
                                        is_package=path.name == "__init__.py"):
            if target.split(".")[0] not in PACKAGES:
                external[name].add(target.split(".")[0])
                continue
            # `from geo import catalog` imports the module geo.catalog, not just geo
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            for dep in subs or [target]:
                if dep in modules and dep != name:
                    graph[name].add(dep)
    return graph, external


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a self-loop), each sorted
    (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph.get(start, ())))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop(0)
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    cycles.append(sorted(component))
    return sorted(cycles)


def rule_violations(modules: Mapping[str, Path], graph: Graph,
                    external: Mapping[str, set[str]]) -> list[str]:
    """The house rules of docs/ARCHITECTURE.md that the imports break, one line each."""
    problems: list[str] = []
    for name in sorted(modules):
        deps = graph[name]
        if name.startswith("geo"):
            web = sorted((external[name] | {d.split(".")[0] for d in deps}) & set(WEB_MODULES))
            if web:
                problems.append(f"{name} (library) imports the web face: {', '.join(web)}")
        if name.startswith("dashboard.components"):
            bad = sorted(d for d in deps if d.startswith("dashboard.callbacks"))
            if bad:
                problems.append(f"{name} (a component) imports callbacks: {', '.join(bad)}")
        if (name.startswith("dashboard.cli.") and name != "dashboard.cli.__main__"
                and "dashboard.cli" in deps):
            problems.append(f"{name} (a command) imports the CLI entry point dashboard.cli")
        for target, names in imports_of(name, modules[name].read_text(encoding="utf-8"),
                                        is_package=modules[name].name == "__init__.py"):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target.split(".")[0] in PACKAGES:
                problems.append(f"{name} imports private name(s) {', '.join(private)} "
                                f"from {target}")
    return problems


def package_of(module: str) -> str:
    """The package a module is shown under: ``geo.coverage.engine`` -> ``geo.coverage``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def main(argv: list[str]) -> int:
    modules = source_modules()
    graph, external = build_graph(modules)
    by_package: Graph = {}
    for name, deps in graph.items():
        shown = by_package.setdefault(package_of(name), set())
        shown.update(package_of(d) for d in deps if package_of(d) != package_of(name))
    table = graph if "--modules" in argv else by_package
    for name in sorted(table):
        print(f"{name} -> {', '.join(sorted(table[name])) or '(nothing internal)'}")
    cycles = find_cycles(graph)
    problems = rule_violations(modules, graph, external)
    edges = sum(len(d) for d in graph.values())
    print(f"\n{len(modules)} modules, {edges} internal imports, "
          f"{len(cycles)} cycle(s), {len(problems)} broken rule(s)")
    for cycle in cycles:
        print("cycle: " + " <-> ".join(cycle))
    for problem in problems:
        print("rule: " + problem)
    return 1 if cycles or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
