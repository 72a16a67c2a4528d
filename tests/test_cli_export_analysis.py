"""`newtown export` writes analysis layers next to the data, with their parameters."""

from __future__ import annotations

import json

import pyogrio
import pytest

from dashboard.cli import main
from geo.coverage import coverage_report
from geo.placement import analysable
from geo.query import Filter


def test_export_analysis_layers_to_one_geopackage(tmp_path, capsys, bundled_atlas):
    out = tmp_path / "analysis.gpkg"
    code = main(["export", "--format", "gpkg", "--town", "nanhui", "--layers",
                 "facilities,coverage,coverage_gaps,suggested_sites,clusters",
                 "--radius-m", "2000", "--k", "2", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    names = {name for name, _ in pyogrio.list_layers(out)}
    assert {"facilities", "coverage", "coverage_gaps", "suggested_sites", "clusters"} <= names
    coverage = pyogrio.read_dataframe(out, layer="coverage")
    kept, _ = analysable(Filter.create(towns=["nanhui"]).select(bundled_atlas.facilities))
    expected = coverage_report(bundled_atlas.facilities_m.loc[kept.index],
                               bundled_atlas.towns_m, radius_m=2000)
    share = coverage.set_index("key").loc["nanhui", "covered_share"]
    assert share == pytest.approx(
        expected.towns.set_index("key").loc["nanhui", "covered_share"], abs=1e-9)
    assert len(pyogrio.read_dataframe(out, layer="suggested_sites")) == 2
    meta = json.loads((tmp_path / "analysis.gpkg.meta.json").read_text("utf-8"))
    assert meta["analysis"]["coverage"]["parameters"]["radius_m"] == 2000
    assert meta["analysis"]["clusters"]["parameters"]["method"] == "dbscan"
    assert meta["analysis"]["siting"]["parameters"]["k"] == 2


def test_unknown_analysis_layer_is_a_usage_error(tmp_path, capsys):
    code = main(["export", "--format", "gpkg", "--layers", "hotspotz", "-o",
                 str(tmp_path / "x.gpkg")])
    assert code == 2
    assert "unknown layer 'hotspotz'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_analysis_groups_the_analysis_commands(capsys):
    for args in (["coverage", "--town", "jiading", "--radius-m", "2000", "--json"],
                 ["clusters", "--method", "dbscan", "--eps-m", "3000", "--json"]):
        assert main(args) == 0
        alone = json.loads(capsys.readouterr().out)
        assert main(["analysis", *args]) == 0
        grouped = json.loads(capsys.readouterr().out)
        assert grouped == alone and alone  # the same command under another name
