"""The scorecard as an export layer, and the one-computation rule across the JSON, the PDF
brief, the export table (CSV, GeoPackage, GeoJSON), its sidecar and the dashboard's export."""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile

import pyogrio
import pytest

from dashboard.callbacks.export import export_bundle
from dashboard.cli import main as newtown
from dashboard.mapdata import MapData
from geo.analysis.scorecard import HOW, TABLE_HOW, ScorecardParams, run_scorecard
from geo.brief.text import fmt_population, fmt_ratio, label
from geo.query import Filter
from tests.test_brief import expected_figures, pdftotext, value_after

OPTIONS = ["--as-of", "2023", "--since", "2019", "--radius-m", "2500"]


def flat(row: dict[str, object]) -> dict[str, object]:
    """A JSON town row as the table's columns (breakdowns and ``since`` spread out)."""
    out = {k: v for k, v in row.items()
           if not isinstance(v, dict) and k in TABLE_HOW}
    for prefix, key in (("level", "by_level"), ("category", "by_category"),
                        ("layer", "by_layer")):
        out.update({f"{prefix}_{k}": v for k, v in row[key].items()})  # type: ignore[attr-defined]
    if "since" in row:
        out.update({f"since_{k}": v for k, v in row["since"].items()})  # type: ignore[attr-defined]
    return out


def same(value: object, expected: object) -> bool:
    """A table cell read back equals the JSON value (blank = None; numbers to 1e-9)."""
    blank = value is None or value == "" or (isinstance(value, float) and math.isnan(value))
    if expected is None:
        return blank
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return not blank and math.isclose(float(value), float(expected),  # type: ignore[arg-type]
                                          rel_tol=1e-9, abs_tol=1e-9)
    return str(value) == str(expected)


def assert_table_equals(rows: list[dict[str, object]], doc: dict[str, object]) -> None:
    towns = doc["towns"]
    assert isinstance(towns, list)
    assert [str(r["key"]) for r in rows] == [t["key"] for t in towns]  # ranked order
    for got, want in zip(rows, towns, strict=True):
        expected = flat(want)
        assert set(expected) <= set(got), set(expected) - set(got)
        for column, value in expected.items():
            assert same(got[column], value), (want["key"], column, got[column], value)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """The CLI's JSON, the Songjiang brief and the three export formats, same options."""
    folder = tmp_path_factory.mktemp("one")
    buffer = io.StringIO()
    from contextlib import redirect_stdout

    with redirect_stdout(buffer):
        assert newtown(["scorecard", "--json", *OPTIONS]) == 0
        assert newtown(["brief", "--town", "songjiang", "--lang", "zh",
                        "-o", str(folder / "sj.pdf"), *OPTIONS]) == 0
        for fmt in ("csv", "gpkg", "geojson"):
            assert newtown(["export", "--format", fmt, "--layers", "scorecard",
                            "-o", str(folder / f"sc.{fmt}"), *OPTIONS]) == 0
    doc = json.loads(buffer.getvalue().split("\nwrote ")[0])
    return folder, doc


def test_export_table_and_sidecar_equal_the_json(outputs):
    folder, doc = outputs
    with (folder / "sc.csv").open(encoding="utf-8-sig", newline="") as handle:
        assert_table_equals(list(csv.DictReader(handle)), doc)
    for fmt in ("gpkg", "geojson"):
        frame = pyogrio.read_dataframe(folder / f"sc.{fmt}", layer="scorecard")
        assert_table_equals(frame.drop(columns="geometry").to_dict("records"), doc)
        assert set(frame.geometry.geom_type) == {"Polygon"}  # the town polygons
        sidecar = json.loads((folder / f"sc.{fmt}.meta.json").read_text("utf-8"))
        scorecard = sidecar["analysis"]["scorecard"]
        for key in ("towns", "total", "g60", "growth", "how", "parameters", "filter"):
            assert scorecard[key] == doc[key], key
        assert sidecar["filter"]["asof"] == "2023"
        # every column of the table says how it is computed
        columns = [c for c in frame.columns if c != "geometry"]
        assert list(scorecard["table_columns"]) == columns
        assert all(v is None or v in HOW for v in scorecard["table_columns"].values())
    # a CSV table has no coordinates, and says so
    header = (folder / "sc.csv").read_text("utf-8-sig").splitlines()[0].split(",")
    assert "lon" not in header and "geometry" not in header
    note = json.loads((folder / "sc.csv.meta.json").read_text("utf-8"))["messages"]
    assert any("written as a table" in m for m in note)


def test_pdf_prints_the_same_numbers_as_the_export(outputs):
    folder, doc = outputs
    text = pdftotext(folder / "sj.pdf")
    songjiang = next(r for r in doc["towns"] if r["key"] == "songjiang")
    frame = pyogrio.read_dataframe(folder / "sc.gpkg", layer="scorecard").set_index("key")
    for name, value in expected_figures(songjiang, "zh").items():
        assert value_after(text, name) == value, name
    # planned population (cited) and the per-100,000 figure: PDF, JSON and table agree
    name = label("planned_population", "zh")
    line = next(x.strip() for x in text.splitlines()
                if x.strip().startswith(name) and x.strip()[len(name):].strip())
    assert line.endswith(" 95 万") and fmt_population(950000, "zh") == "95 万"
    assert songjiang["planned_population"] == 950000
    assert songjiang["planned_population_year"] == 2025
    assert value_after(text, label("planned_population_year", "zh")) == "2025"
    assert value_after(text, label("per_100k", "zh")) == fmt_ratio(
        songjiang["per_100k_planned"])
    assert frame.loc["songjiang", "per_100k_planned"] == pytest.approx(
        songjiang["total"] / 950000 * 1e5, abs=1e-4)
    assert math.isnan(frame.loc["qingpu", "per_100k_planned"])  # no cited figure: blank


def test_csv_takes_one_table_or_point_layer(tmp_path, capsys):
    code = newtown(["export", "--format", "csv", "--layers", "facilities,scorecard",
                    "-o", str(tmp_path / "x.csv")])
    assert code == 2
    err = capsys.readouterr().err
    assert "one layer per file" in err and "scorecard" in err
    assert not (tmp_path / "x.csv").exists()


def test_dashboard_export_carries_the_same_scorecard(bundled_atlas):
    flt = Filter(towns=("songjiang", "jiading"), as_of=2022)
    params = ScorecardParams(radius_m=2000, since=2018)
    name, data, _ = export_bundle(MapData(bundled_atlas), flt, fmt="geojson",
                                  layer_names=["scorecard"], datum="wgs84",
                                  scorecard=params)
    expected = run_scorecard(bundled_atlas, flt, params).to_json()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        geojson = next(n for n in names if n.endswith(".geojson"))
        sidecar = json.loads(archive.read(next(n for n in names if n.endswith(".meta.json"))))
        features = json.loads(archive.read(geojson))["features"]
    assert name.endswith(".zip")
    rows = [f["properties"] for f in features]
    assert_table_equals(rows, expected)
    assert sidecar["analysis"]["scorecard"]["towns"] == expected["towns"]
    assert sorted(r["key"] for r in rows) == ["jiading", "songjiang"]  # the filter's towns


def test_scorecard_table_rows_are_the_result_rows(bundled_atlas):
    result = run_scorecard(bundled_atlas, Filter(), ScorecardParams())
    table = result.table()
    assert len(table) == 5 and table.crs.to_epsg() == 4549
    assert table["key"].tolist() == [r["key"] for r in result.towns]
    assert str(table["planned_population"].dtype) == "Int64"
    assert all(column in TABLE_HOW for column in table.columns if column != "geometry")
    assert "since_year" not in table.columns  # no --since: no since columns


def test_export_refuses_a_since_after_the_as_of_year(tmp_path, capsys):
    """As `newtown scorecard`: a later compare year than --as-of would export negative changes."""
    out = tmp_path / "sc.csv"
    assert newtown(["export", "--format", "csv", "--layers", "scorecard", "--as-of", "2015",
                    "--since", "2020", "-o", str(out)]) == 2
    assert "--since 2020 is after --as-of 2015" in capsys.readouterr().err
    assert not out.exists()
