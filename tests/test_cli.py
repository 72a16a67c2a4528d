"""The `newtown` command: bad input is exit 2 with one message, a bug keeps its traceback."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import shapely

from dashboard import cli
from dashboard.cli import info as cli_info
from dashboard.cli._common import UsageError
from geo._errors import AtlasError, DataError, InputError, UnknownNameError
from geo.query import Filter

ROOT = Path(__file__).resolve().parents[1]


def test_the_project_errors_share_one_base_built_on_value_error():
    for error in (DataError, UnknownNameError, InputError):
        assert issubclass(error, AtlasError)
    assert issubclass(AtlasError, ValueError)  # callers catching ValueError keep working
    assert issubclass(UsageError, InputError)


@pytest.mark.parametrize(("argv", "message"), [
    (["info", "--town", "atlantis"], "atlantis"),
    (["coverage", "--radius-m", "-5"], "must be a positive number of metres"),
    (["hotspots", "--cell", "grid:1"], "use larger cells"),
])
def test_bad_input_is_exit_2_with_a_one_line_message(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_a_file_without_geometry_as_network_is_bad_input_not_a_crash(tmp_path, capsys):
    table = tmp_path / "streets.csv"
    table.write_text("name,length\nA,10\n", encoding="utf-8")
    assert cli.main(["coverage", "--network", str(table)]) == 2
    err = capsys.readouterr().err
    assert "streets.csv" in err and "holds no geometry" in err


def test_a_bad_within_polygon_is_a_project_error():
    outside = shapely.box(0, 0, 1e6, 1e6)  # metres, not degrees
    with pytest.raises(InputError, match="WGS84 lon/lat"):
        Filter.create(within=outside)


@pytest.mark.parametrize("bug", [ZeroDivisionError("division by zero"),
                                 KeyError("total"),
                                 ValueError("cannot reindex on an axis with duplicate labels")])
def test_a_bug_inside_a_command_propagates_with_its_traceback(bug, monkeypatch, capsys):
    """Even a ValueError from inside pandas is a bug, not "bad input"."""
    def broken(*args: object, **kwargs: object) -> object:
        raise bug

    monkeypatch.setattr(cli_info, "counts_by_town_and_layer", broken)
    with pytest.raises(type(bug)):
        cli.main(["info"])
    assert "error:" not in capsys.readouterr().err


def test_a_bug_exits_1_with_a_traceback_in_a_real_process():
    script = (
        "import sys\n"
        "from dashboard.cli import info, main\n"
        "def broken(*a, **k):\n"
        "    return 1 / 0\n"
        "info.counts_by_town_and_layer = broken\n"
        "sys.exit(main(['info']))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          timeout=120)
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.strip().endswith("ZeroDivisionError: division by zero")
    assert "error: " not in done.stderr


def test_bad_input_exits_2_in_a_real_process():
    done = subprocess.run([sys.executable, "-m", "dashboard.cli", "info", "--town", "atlantis"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def plain_value_errors(source: str) -> list[int]:
    """Lines of ``source`` that raise ``ValueError(...)`` with a message."""
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
            and isinstance(node.exc.func, ast.Name) and node.exc.func.id == "ValueError"]


def test_geo_raises_only_project_errors_for_bad_input():
    """A deliberate check in geo/ raises a geo._errors type: the CLI reports a plain
    ValueError as a bug. A bare ``raise ValueError`` caught in the same function (control
    flow, no message) is allowed."""
    offenders = [f"{path.relative_to(ROOT)}:{line}"
                 for path in sorted((ROOT / "geo").rglob("*.py"))
                 for line in plain_value_errors(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_scan_sees_a_plain_value_error_and_ignores_the_others():
    source = ("def f(x):\n"
              "    if x < 0:\n"
              "        raise ValueError(f'x={x}')\n"
              "    try:\n"
              "        raise ValueError\n"
              "    except ValueError:\n"
              "        raise InputError('x') from None\n")
    assert plain_value_errors(source) == [3]
