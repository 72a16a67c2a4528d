"""The package finds its bundled data from anywhere, also when installed from a wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from geo import settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_carries_the_data_and_the_command(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp_path)], check=True,
                   cwd=tmp_path)
    (wheel,) = tmp_path.glob("newtown_atlas-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "newtown = dashboard.cli:main" in archive.read(entry_points).decode()
    for path in ("geo/_data/facilities.csv", "geo/_data/SOURCES.md",
                 "geo/_data/boundaries/towns.geojson", "geo/_data/boundaries/districts.geojson",
                 "dashboard/assets/newtown.js", "dashboard/assets/newtown.css"):
        assert path in names, path


def test_installed_layout_is_found_first(tmp_path, monkeypatch):
    package = tmp_path / "geo"
    (package / "_data").mkdir(parents=True)
    (package / "_data" / "facilities.csv").write_text("id\n")
    monkeypatch.setattr(settings, "_PACKAGE_DIR", package)
    monkeypatch.delenv("NEWTOWN_DATA", raising=False)
    assert settings.bundled_data_dir() == package / "_data"
    monkeypatch.setattr(settings, "_PACKAGE_DIR", tmp_path / "checkout" / "geo")
    assert settings.bundled_data_dir() == tmp_path / "checkout" / "data"
    monkeypatch.setenv("NEWTOWN_DATA", str(tmp_path / "elsewhere"))
    assert settings.bundled_data_dir() == tmp_path / "elsewhere"


def test_cli_runs_from_any_directory(tmp_path):
    result = subprocess.run([sys.executable, "-m", "dashboard.cli", "info", "--json"],
                            capture_output=True, text=True, cwd=tmp_path, check=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert '"total": ' in result.stdout
