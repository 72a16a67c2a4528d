"""geo.analysis: one result per analysis, and the same numbers on every face.

For one filter and one set of parameters, the CLI's ``--json`` (run in-process), the
dashboard's stored result (the callback's plain function) and the ``.meta.json`` sidecar of
a real export must carry the same document, and the exported layer the same numbers.
"""

from __future__ import annotations

import dataclasses
import json

import geopandas as gpd
import pyogrio
import pytest

from dashboard.callbacks.clusters import run_clusters as dashboard_clusters
from dashboard.callbacks.coverage import run_coverage as dashboard_coverage
from dashboard.cli import main
from dashboard.mapdata import MapData
from geo.analysis import (
    SCHEMA_VERSION,
    ClusterParams,
    CoverageParams,
    DensityParams,
    HotspotParams,
    SitingParams,
    data_sources,
    run_clusters,
    run_coverage,
    run_density,
    run_hotspots,
    run_siting,
)
from geo.query import Filter

ENVELOPE = {"analysis", "schema", "filter", "parameters", "measured_in",
            "excluded_placeholders", "sources"}


@pytest.fixture(scope="module")
def mapdata(bundled_atlas):
    return MapData(bundled_atlas)


def _plain(doc: object) -> object:
    """What a JSON reader gets back (tuples become lists, and so on)."""
    return json.loads(json.dumps(doc, ensure_ascii=False, allow_nan=False))


def _cli_json(capsys, argv: list[str]) -> dict:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _sidecar(capsys, tmp_path, argv: list[str]) -> tuple[dict, gpd.GeoDataFrame]:
    out = tmp_path / "export.geojson"
    code = main(["export", "--format", "geojson", *argv, "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    meta = json.loads((tmp_path / "export.geojson.meta.json").read_text("utf-8"))
    return meta, gpd.read_file(out, engine="pyogrio")


def test_coverage_numbers_are_identical_on_the_three_faces(capsys, tmp_path, mapdata):
    cli = _cli_json(capsys, ["coverage", "--town", "jiading", "--town", "nanhui",
                             "--radius-m", "2000", "--json"])
    stored = dashboard_coverage(mapdata, Filter.create(towns=["jiading", "nanhui"]),
                                radius_mode="fixed", radius_m=2000, k=0, new_radius_m=3000,
                                lang="en")
    meta, layer = _sidecar(capsys, tmp_path, ["--town", "jiading", "--town", "nanhui",
                                              "--layers", "coverage", "--radius-m", "2000"])
    dashboard_doc = _plain(stored["results"]["coverage"])
    assert cli == dashboard_doc == meta["analysis"]["coverage"]
    assert cli["analysis"] == "coverage" and cli["parameters"]["radius_m"] == 2000
    # the numbers are real: the two towns' own facilities cover part of them, and reach no
    # other town (they are tens of km apart)
    shares = {t["key"]: t["covered_share"] for t in cli["towns"]}
    assert 0 < shares["jiading"] < 1 and 0 < shares["nanhui"] < 1, shares
    assert shares["qingpu"] == shares["songjiang"] == shares["fengxian"] == 0
    # the exported layer and the dashboard's table show the same shares
    exported = dict(zip(layer["key"], layer["covered_share"], strict=True))
    assert exported == pytest.approx(shares, abs=1e-6)
    panel = {r["town"]: r["share"] for r in stored["rows"]}
    assert panel == pytest.approx(shares, abs=1e-4)


def test_cluster_numbers_are_identical_on_the_three_faces(capsys, tmp_path, mapdata):
    cli = _cli_json(capsys, ["clusters", "--method", "dbscan", "--eps-m", "3000",
                             "--min-samples", "3", "--json"])
    stored = dashboard_clusters(mapdata, Filter(), method="dbscan", eps_m=3000, min_samples=3,
                                min_cluster_size=5, extras=[], bandwidth_m=2000, cell="h3:8",
                                lang="zh")
    meta, layer = _sidecar(capsys, tmp_path, ["--layers", "clusters", "--eps-m", "3000",
                                              "--min-samples", "3"])
    assert cli == _plain(stored["results"]["clusters"]) == meta["analysis"]["clusters"]
    assert cli["clusters"], "DBSCAN at 3 km finds clusters in the bundled data"
    sizes = {c["cluster"]: c["size"] for c in cli["clusters"]}
    assert dict(zip(layer["cluster"], layer["size"], strict=True)) == sizes
    assert {r["cluster"]: r["size"] for r in stored["rows"]} == sizes
    assert sum(sizes.values()) + cli["noise"] == cli["facilities"]


def test_every_result_has_the_documented_envelope_and_wgs84_layers(bundled_atlas):
    flt = Filter.create(towns=["songjiang"])
    results = [
        run_coverage(bundled_atlas, flt, CoverageParams(radius_m=1500)),
        run_siting(bundled_atlas, flt, SitingParams(k=1, new_radius_m=2000, radius_m=1500)),
        run_clusters(bundled_atlas, flt, ClusterParams(eps_m=3000)),
        run_density(bundled_atlas, flt, DensityParams(bandwidth_m=2000)),
        run_hotspots(bundled_atlas, flt, HotspotParams(cell="grid:2000", permutations=99)),
    ]
    kinds = []
    for result in results:
        doc = result.to_json()
        assert set(doc) >= ENVELOPE, result.kind
        assert doc["schema"] == SCHEMA_VERSION and doc["filter"] == {"town": "songjiang"}
        assert doc["measured_in"] == "EPSG:4549"
        json.dumps(doc, allow_nan=False)  # strict JSON: no NaN, no numpy types
        assert "facilities.csv" in doc["sources"]["files"]
        for name, frame in result.layers().items():
            assert frame.crs.to_epsg() == 4326, (result.kind, name)
        kinds.append(doc["analysis"])
    assert kinds == ["coverage", "siting", "clusters", "density", "hotspots"]


def test_params_are_frozen_and_name_their_units():
    params = CoverageParams(radius_m=800)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.radius_m = 900  # type: ignore[misc]
    for cls in (CoverageParams, SitingParams, ClusterParams, DensityParams, HotspotParams):
        names = {f.name for f in dataclasses.fields(cls)}
        assert "include_placeholders" in names
        assert not any(n in names for n in ("radius", "eps", "bandwidth", "spacing"))


def test_data_sources_hash_the_files(bundled_atlas):
    import hashlib

    files = data_sources(bundled_atlas.data_dir, ("facilities",))["files"]
    [(name, entry)] = files.items()
    path = bundled_atlas.data_dir / name
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["bytes"] == path.stat().st_size


def _with_placeholders(atlas, ids):
    placement = ["town_placeholder" if i in ids else "site" for i in atlas.facilities.index]
    return dataclasses.replace(atlas, facilities=atlas.facilities.assign(placement=placement))


def test_placeholders_are_left_out_of_every_analysis_unless_included(bundled_atlas):
    nanhui = bundled_atlas.facilities.index[bundled_atlas.facilities["town"] == "nanhui"]
    marked = set(nanhui[:4])
    atlas = _with_placeholders(bundled_atlas, marked)
    flt = Filter.create(towns=["nanhui"])
    default = run_clusters(atlas, flt, ClusterParams(eps_m=3000))
    assert set(default.excluded_placeholders) == marked
    assert not marked & set(default.labels.index)
    assert default.to_json()["facilities"] == len(nanhui) - 4
    included = run_clusters(atlas, flt, ClusterParams(eps_m=3000, include_placeholders=True))
    assert included.excluded_placeholders == () and marked <= set(included.labels.index)
    for run, params in ((run_coverage, CoverageParams(radius_m=2000)),
                        (run_density, DensityParams()),
                        (run_hotspots, HotspotParams(cell="grid:2000", permutations=9)),
                        (run_siting, SitingParams(k=1))):
        doc = run(atlas, flt, params).to_json()
        assert set(doc["excluded_placeholders"]) == marked, doc["analysis"]
        assert doc["facilities"] == len(nanhui) - 4 if "facilities" in doc else True
    # the placeholders' own discs no longer count: coverage can only shrink without them
    with_them = run_coverage(atlas, flt, CoverageParams(radius_m=2000,
                                                        include_placeholders=True))
    without = run_coverage(atlas, flt, CoverageParams(radius_m=2000))
    assert (without.report.towns["covered_m2"] <= with_them.report.towns["covered_m2"]
            + 1e-6).all()
    assert without.report.facilities == with_them.report.facilities - 4


def test_cli_lists_and_includes_placeholders_on_request(bundled_atlas, monkeypatch, capsys):
    import dashboard.cli.clusters as cli_clusters

    marked = set(bundled_atlas.facilities.index[:3])
    atlas = _with_placeholders(bundled_atlas, marked)
    monkeypatch.setattr(cli_clusters, "load", lambda _args: atlas)
    doc = _cli_json(capsys, ["clusters", "--eps-m", "3000", "--json"])
    assert set(doc["excluded_placeholders"]) == marked and not marked & set(doc["labels"])
    doc = _cli_json(capsys, ["clusters", "--eps-m", "3000", "--include-placeholders",
                             "--json"])
    assert doc["excluded_placeholders"] == [] and marked <= set(doc["labels"])
    assert doc["parameters"]["include_placeholders"] is True


def test_export_layers_come_from_one_run_per_analysis(capsys, tmp_path):
    out = tmp_path / "both.gpkg"
    code = main(["export", "--format", "gpkg", "--town", "qingpu", "--layers",
                 "coverage,coverage_gaps", "--radius-m", "2500", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    meta = json.loads((tmp_path / "both.gpkg.meta.json").read_text("utf-8"))
    assert list(meta["analysis"]) == ["coverage"]  # one coverage run feeds both layers
    doc = meta["analysis"]["coverage"]
    gaps = pyogrio.read_dataframe(out, layer="coverage_gaps")
    assert gaps["gap_m2"].round(1).tolist() == [t["gap_m2"] for t in doc["towns"]]
