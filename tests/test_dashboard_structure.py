"""The dashboard's house rules, read from the source: components never import callbacks, and
only the app factories (app.py, storeapp.py) put the callbacks together."""

from __future__ import annotations

import ast
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[1] / "dashboard"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_components_never_import_callbacks():
    files = sorted((DASHBOARD / "components").glob("*.py"))
    assert len(files) >= 10
    for path in files:
        bad = {m for m in imported_modules(path) if m.startswith("dashboard.callbacks")}
        assert not bad, f"{path.name} imports {sorted(bad)}"


APP_FACTORIES = {"app.py", "storeapp.py"}


def test_only_the_app_factories_import_the_callbacks_package():
    for path in sorted(DASHBOARD.glob("*.py")):
        if path.name in APP_FACTORIES:
            continue
        bad = {m for m in imported_modules(path) if m.startswith("dashboard.callbacks")}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_callbacks_list_no_filter_control_one_by_one():
    """The filter travels as one grouped argument (dashboard.state), not as eight Inputs."""
    for path in sorted((DASHBOARD / "callbacks").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for control in ("ids.INDUSTRY, \"value\"", "ids.CATEGORY, \"value\""):
            assert f"Input({control})" not in text and f"State({control})" not in text, (
                f"{path.name} lists {control} by itself")
