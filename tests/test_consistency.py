"""One computation per figure, honestly labelled: cluster areas, shared defaults, the one-town
brief's empty banner, the growth chart's label, parks in CSV and the coverage benchmark's text.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from dashboard import ids
from dashboard.callbacks.clusters import results_panel
from dashboard.callbacks.clusters import run_clusters as dashboard_clusters
from dashboard.callbacks.scorecard import growth_view
from dashboard.cli import build_parser, main
from dashboard.components.clusters import clusters_panel
from dashboard.components.coverage import coverage_panel
from dashboard.mapdata import MapData
from geo import settings
from geo.analysis import ClusterParams, ScorecardParams, run_clusters, run_scorecard
from geo.analysis.clusters import area_text
from geo.analysis.scorecard import STRATEGY_YEAR
from geo.atlas import distinct_sites
from geo.brief import BRIEF_CLUSTERS, build_brief, write_brief
from geo.brief.charts import growth_chart_svg
from geo.brief.text import label
from geo.export import export
from geo.placement import analysable
from geo.query import Filter

WHEN = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mapdata(bundled_atlas):
    return MapData(bundled_atlas)


def cli(capsys, argv: list[str]) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return str(captured.out)


def pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


# -- 1. cluster areas ------------------------------------------------------------------------


def test_area_text_by_hand():
    assert area_text(4_980_000.0, "convex", 7, "en") == "4.98"
    assert area_text(41_700.0, "convex", 3, "en") == "0.042"  # 0.04 would hide two digits
    assert area_text(500.0, "concave", 3, "en") == "< 0.001"
    assert area_text(None, "point_buffer", 1, "en") == "— (all members at one point)"
    assert area_text(float("nan"), "line_buffer", 2, "en") == "— (2 points on a line)"
    assert area_text(None, "point_buffer", 1, "zh") == "—（所有成员在同一点）"
    assert area_text(None, "line_buffer", 3, "zh") == "—（3 个点在一条直线上）"


def test_clusters_without_extent_have_no_area_on_any_face(bundled_atlas, mapdata, capsys,
                                                          tmp_path):
    """Bundled data at the default radius: clusters on one point and on a line exist (members
    share a park's point), and no face gives them an area of 0."""
    doc = json.loads(cli(capsys, ["clusters", "--json"]))
    shapes = {c["shape"] for c in doc["clusters"]}
    assert {"point_buffer", "line_buffer", "convex"} <= shapes
    for c in doc["clusters"]:
        if c["shape"] == "convex":
            assert c["locations"] >= 3 and c["area_m2"] > 0 and c["area_note_en"] is None
        else:
            assert c["area_m2"] is None, c
            assert c["area_note_en"] in ("all members at one point",
                                         f"{c['locations']} points on a line")
            assert c["locations"] == (1 if c["shape"] == "point_buffer" else 2)

    table = cli(capsys, ["clusters", "--lang", "en"])
    assert "0.00 " not in table and not re.search(r"\s0\.00\s", table)
    assert "— (all members at one point)" in table and "points on a line" in table
    header = next(line for line in table.splitlines() if "area km²" in line)
    assert "points" in header.split()

    # the dashboard's Clusters tab, with the same (default) parameters
    stored = dashboard_clusters(
        mapdata, Filter(), method="dbscan", eps_m=settings.CLUSTER_EPS_M,
        min_samples=settings.CLUSTER_MIN_SAMPLES,
        min_cluster_size=settings.CLUSTER_MIN_CLUSTER_SIZE, extras=[],
        bandwidth_m=settings.DENSITY_BANDWIDTH_M, cell=settings.HOTSPOT_CELL, lang="en")
    by_id = {c["cluster"]: c for c in doc["clusters"]}
    for row in stored["rows"]:
        c = by_id[row["cluster"]]
        assert row["locations"] == c["locations"]
        assert row["area"] == area_text(c["area_m2"], c["shape"], c["locations"], "en")
        assert row["area"] not in ("0.0", "0.00", "0")
    panel = str(results_panel(stored, "en"))
    assert "all members at one point" in panel and "'0.0'" not in panel

    # an export of the clusters layer: null area with the reason, never 0
    out = tmp_path / "clusters.gpkg"
    assert main(["export", "--format", "gpkg", "--layers", "clusters", "-o", str(out)]) == 0
    capsys.readouterr()
    layer = pyogrio.read_dataframe(out, layer="clusters")
    flat = layer["shape"].isin(["point_buffer", "line_buffer"])
    assert flat.any() and layer.loc[flat, "area_m2"].isna().all()
    assert layer.loc[flat, "area_note"].notna().all()
    assert (layer.loc[~flat, "area_m2"] > 0).all()


def test_brief_cluster_table_is_newtown_clusters_for_the_town(bundled_atlas, tmp_path):
    """The brief's cluster table is run_clusters for the town with the shared defaults, and a
    cluster on one point reads '—' with the reason (Qingpu has one at the default radius)."""
    result = run_clusters(bundled_atlas, Filter(towns=("qingpu",)), BRIEF_CLUSTERS)
    assert (result.hulls["shape"] == "point_buffer").any()
    brief = build_brief(bundled_atlas, Filter(), towns="qingpu", lang="en", generated=WHEN)
    path = write_brief(tmp_path / "qingpu.pdf", brief)
    # reading order (no -layout): each table cell in turn, wrapped cells joined by a space
    cells = " ".join(subprocess.run(["pdftotext", str(path), "-"], check=True,
                                    capture_output=True, text=True).stdout.split())
    heading = (f"Clusters (DBSCAN, {settings.CLUSTER_EPS_M:g} m, at least "
               f"{settings.CLUSTER_MIN_SAMPLES})")
    table = cells[cells.index(heading):]
    table = table[:table.index("Caveats")]
    assert "0.00" not in table and "— (all members at one point)" in table
    for cid, row in result.hulls.iterrows():
        area = area_text(row["area_m2"], row["shape"], int(row["locations"]), "en")
        assert re.search(rf"\b{int(cid) + 1} {int(row['size'])} {int(row['locations'])} "
                         rf".*? {re.escape(area)}", table), (cid, area)


# -- 2. one default per parameter -------------------------------------------------------------


def component_values(tree: Any) -> dict[str, Any]:
    """``{id: value}`` of every component with an id and a value in a Dash layout."""
    found: dict[str, Any] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list | tuple):
            stack.extend(node)
            continue
        if node is None or isinstance(node, str | int | float):
            continue
        cid = getattr(node, "id", None)
        if isinstance(cid, str) and hasattr(node, "value"):
            found[cid] = node.value
        stack.append(getattr(node, "children", None))
    return found


def test_dashboard_controls_and_cli_share_the_geo_defaults():
    parser = build_parser()
    clusters = parser.parse_args(["clusters"])
    hotspots = parser.parse_args(["hotspots"])
    exported = parser.parse_args(["export", "--format", "csv", "-o", "x.csv"])
    controls = component_values(clusters_panel("en"))
    coverage = component_values(coverage_panel("en"))

    assert clusters.eps_m == controls[ids.CL_EPS] == exported.eps_m == settings.CLUSTER_EPS_M
    # the CLI leaves --min-samples unset and the analysis fills in the same constant
    assert clusters.min_samples is None
    assert ClusterParams().min_samples is None
    assert controls[ids.CL_MIN_SAMPLES] == exported.min_samples == settings.CLUSTER_MIN_SAMPLES
    assert clusters.min_cluster_size == controls[ids.CL_MIN_CLUSTER] \
        == settings.CLUSTER_MIN_CLUSTER_SIZE
    assert controls[ids.CL_BANDWIDTH] == settings.DENSITY_BANDWIDTH_M
    assert hotspots.cell == controls[ids.CL_CELL] == settings.HOTSPOT_CELL
    assert hotspots.permutations == settings.HOTSPOT_PERMUTATIONS
    assert hotspots.seed == settings.HOTSPOT_SEED
    assert BRIEF_CLUSTERS.eps_m == settings.CLUSTER_EPS_M
    assert BRIEF_CLUSTERS.min_samples == settings.CLUSTER_MIN_SAMPLES
    # coverage: per category by default, as `newtown coverage` without --radius-m
    assert parser.parse_args(["coverage"]).radius_m is None
    assert exported.radius_m is None
    assert coverage[ids.COV_MODE] == "category"
    assert coverage[ids.COV_RADIUS] == coverage[ids.COV_NEW_RADIUS] == settings.FIXED_RADIUS_M


def test_default_clusters_are_the_same_in_the_cli_and_the_dashboard(mapdata, capsys):
    """What a user gets without touching anything: `newtown clusters --json` and the Clusters
    tab run with its controls' initial values."""
    controls = component_values(clusters_panel("en"))
    stored = dashboard_clusters(
        mapdata, Filter(), method=controls[ids.CL_METHOD], eps_m=controls[ids.CL_EPS],
        min_samples=controls[ids.CL_MIN_SAMPLES], min_cluster_size=controls[ids.CL_MIN_CLUSTER],
        extras=[], bandwidth_m=controls[ids.CL_BANDWIDTH], cell=controls[ids.CL_CELL],
        lang="en")
    doc = json.loads(cli(capsys, ["clusters", "--json"]))
    panel = stored["results"]["clusters"]
    assert panel["parameters"] == doc["parameters"]
    assert panel["clusters"] == doc["clusters"]
    assert panel["labels"] == doc["labels"]


# -- 3. the one-town brief when nothing in its town matches -----------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_one_town_brief_says_nothing_in_the_town_matches(bundled_atlas, tmp_path, lang):
    flt = Filter(industries=("auto_fuel_cell",))  # Jiading only in the bundled data
    selected = flt.select(bundled_atlas.facilities)
    assert len(selected) > 0 and not (selected["town"] == "qingpu").any()
    brief = build_brief(bundled_atlas, flt, towns="qingpu", lang=lang, generated=WHEN)
    text = pdftotext(write_brief(tmp_path / f"qingpu-{lang}.pdf", brief))
    flat = re.sub(r"\s+", "", text)
    banner = label("empty_town", lang, town="Qingpu New Town" if lang == "en" else "青浦新城",
                   n=len(selected))
    assert re.sub(r"\s+", "", banner) in flat
    # not the banner of an empty selection: other towns do have matches
    assert re.sub(r"\s+", "", label("empty", lang)) not in flat
    # a town with matches gets no banner
    jiading = build_brief(bundled_atlas, flt, towns="jiading", lang=lang, generated=WHEN)
    assert "class=\"warn\"" not in jiading.html


# -- 4. the growth chart's strategy label -----------------------------------------------------


SVG = "{http://www.w3.org/2000/svg}"


def text_box(element: ET.Element) -> tuple[float, float, float, float]:
    """A generous box around an SVG <text>: 1 em above the baseline, 0.3 em below; 1 em per
    wide (CJK) character and 0.65 em per other one (wider than any Latin glyph of the font)."""
    style = dict(part.split(":", 1) for part in element.get("style", "").split(";")
                 if ":" in part)
    style = {k.strip(): v.strip() for k, v in style.items()}
    size = float(style["font-size"].removesuffix("px"))
    anchor = style.get("text-anchor", "start")
    x, y = float(element.get("x", 0)), float(element.get("y", 0))
    text = element.text or ""
    width = size * sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.65
                       for ch in text)
    left = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
    return left, y - size, left + width, y + 0.3 * size


def strategy_label_box(svg: str, wording: str
                       ) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """The label's text box, the SVG's viewBox (x, y, w, h) and the plot area's box."""
    root = ET.fromstring(svg)
    view = tuple(float(v) for v in root.get("viewBox", "").split())
    (element,) = [t for t in root.iter(f"{SVG}text") if (t.text or "") == wording]
    assert "rotate(-0 " in element.get("transform", "rotate(-0 ")  # not rotated
    # matplotlib draws the axes' background first: its path is the plot area
    axes = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "axes_1")
    patch = next(g for g in axes if g.get("id", "").startswith("patch_"))
    path = next(patch.iter(f"{SVG}path"))
    xy = np.array(re.findall(r"-?\d+(?:\.\d+)?", path.get("d", "")), dtype=float).reshape(-1, 2)
    plot = (xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max())
    return text_box(element), view, plot


def assert_label_has_room(svg: str, wording: str) -> None:
    """Inside the picture with a margin of 5 % of its height, and inside the plot area (it
    used to stand above the plot, its top about 8 units from the picture's edge)."""
    (x0, y0, x1, y1), (vx, vy, vw, vh), (px0, py0, px1, py1) = strategy_label_box(svg, wording)
    margin = 0.05 * vh
    assert x0 >= vx + margin and x1 <= vx + vw - margin, (x0, x1, vw)
    assert y0 >= vy + margin and y1 <= vy + vh - margin, (y0, y1, vh)
    assert px0 <= x0 and x1 <= px1 and py0 <= y0 and y1 <= py1, ((x0, y0, x1, y1),
                                                                  (px0, py0, px1, py1))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("first_year", [None, 2020])
def test_growth_chart_label_has_room_inside_the_picture(bundled_atlas, lang, first_year):
    growth = run_scorecard(bundled_atlas, Filter(), ScorecardParams()).to_json()["growth"]
    years, series = growth["years"], {k: v["cumulative"] for k, v in growth["towns"].items()}
    if first_year is not None:  # a short series: the dashed line near the left edge
        keep = [i for i, y in enumerate(years) if y >= first_year]
        years = [years[i] for i in keep]
        series = {k: [v[i] for i in keep] for k, v in series.items()}
    wording = label("strategy", lang)
    svg = growth_chart_svg(years, series, strategy_year=STRATEGY_YEAR, strategy_label=wording,
                           lang=lang, highlight="songjiang")
    assert_label_has_room(svg, wording)


def test_dashboard_growth_chart_is_the_same_svg_with_room(bundled_atlas):
    result = run_scorecard(bundled_atlas, Filter(), ScorecardParams())
    view = str(growth_view(result, "en", None))
    match = re.search(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", view)
    assert match
    svg = base64.b64decode(match.group(1)).decode("utf-8")
    assert_label_has_room(svg, label("strategy", "en"))


# -- 5. parks in CSV --------------------------------------------------------------------------


def test_csv_export_writes_every_park_with_wkt(bundled_atlas, capsys, tmp_path):
    parks = bundled_atlas.parks
    assert set(parks.geom_type) >= {"Point", "MultiPolygon"}  # mixed: the case that was skipped
    out = tmp_path / "parks.csv"
    text = cli(capsys, ["export", "--format", "csv", "--layers", "parks", "-o", str(out)])
    assert re.search(rf"^\s*parks\s+{len(parks)} features$", text, re.M)
    table = pd.read_csv(out, encoding="utf-8-sig", dtype={"id": str})
    assert table["id"].tolist() == parks["id"].tolist()
    back = shapely.from_wkt(table["wkt"].to_numpy())
    for original, read in zip(parks.geometry, back, strict=True):
        assert original.geom_type == read.geom_type
        assert shapely.equals_exact(original, read, tolerance=1e-7), original.geom_type
    for column in ("name_zh", "name_en", "town", "kind"):
        assert table[column].tolist() == parks[column].tolist(), column
    # lon/lat: the point itself, or a point inside the polygon
    points = parks.geom_type == "Point"
    np.testing.assert_allclose(table.loc[points.to_numpy(), "lon"], parks[points].geometry.x,
                               atol=1e-7)
    assert set(table.loc[~points.to_numpy(), "lonlat_of"]) == {"point_on_surface"}
    for (_, row), geom in zip(table.loc[~points.to_numpy()].iterrows(),
                              parks[~points].geometry, strict=True):
        assert geom.contains(shapely.Point(row["lon"], row["lat"]))
    # GDAL reads the geometry back from the wkt column
    read = pyogrio.read_dataframe(out, GEOM_POSSIBLE_NAMES="wkt", KEEP_GEOM_COLUMNS="NO")
    assert read["id"].tolist() == parks["id"].tolist()
    assert list(read.geom_type) == list(parks.geom_type)
    meta = json.loads(out.with_name(out.name + ".meta.json").read_text("utf-8"))
    assert meta["layers"]["parks"]["count"] == len(parks) and meta["skipped_layers"] == {}


def test_csv_export_says_loudly_what_it_does_not_write(bundled_atlas, tmp_path, capsys):
    out = tmp_path / "ft.csv"
    code = main(["export", "--format", "csv", "--layers", "facilities,towns", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0
    assert "warning: towns: NOT written" in captured.err
    meta = json.loads(out.with_name(out.name + ".meta.json").read_text("utf-8"))
    assert "towns" in meta["skipped_layers"]
    # two layers that both fit a CSV: refused, never one silently dropped
    code = main(["export", "--format", "csv", "--layers", "facilities,parks",
                 "-o", str(tmp_path / "fp.csv")])
    assert code == 2 and "one layer per file" in capsys.readouterr().err
    assert not (tmp_path / "fp.csv").exists()
    result = export({"parks": bundled_atlas.parks, "towns": bundled_atlas.towns},
                    tmp_path / "p.csv", fmt="csv", metadata={})
    assert result.counts == {"parks": len(bundled_atlas.parks)}
    assert any(w.startswith("towns: NOT written") for w in result.warnings)


# -- 6. the coverage benchmark's figures come from the data ------------------------------------


def test_coverage_benchmark_prints_counts_from_the_data(bundled_atlas):
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "coverage.py"), "--sizes",
                          "1e2", "--radii", "1000", "--repeats", "1"], check=True,
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    line = next(x for x in run.stdout.splitlines() if x.startswith("real bundled data"))
    facilities = bundled_atlas.facilities
    located, placeholders = analysable(facilities)
    assert f"{len(facilities)} facilities" in line
    assert f"{len(located)} located" in line
    assert f"{len(placeholders)} placeholders" in line
    assert f"{len(distinct_sites(located))} distinct sites" in line
    xy = np.round(shapely.get_coordinates(bundled_atlas.facilities_m.loc[located.index]
                                          .geometry.to_numpy()), 6)
    assert f"{len(np.unique(xy, axis=0))} distinct locations" in line
    assert "57 facilities, 49 distinct sites" not in run.stdout
