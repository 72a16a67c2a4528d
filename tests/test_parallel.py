"""geo.parallel and `newtown analysis points`: counts checked against independent oracles
(geopandas spatial joins, brute-force distances), on Dask's threaded scheduler and on a real
2-worker LocalCluster."""

from __future__ import annotations

import json

import dask_geopandas
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from dashboard.cli import main
from geo._errors import DataError
from geo.coverage import service_engine
from geo.crs import to_metric, wgs84_to_bd09, wgs84_to_gcj02
from geo.parallel import (
    OUTSIDE,
    assign_towns,
    dask_client,
    open_points,
    summarise_points,
)
from geo.placement import analysable
from geo.query import Filter
from geo.settings import GEOGRAPHIC_CRS, METRIC_CRS


@pytest.fixture(scope="module")
def points(bundled_atlas) -> pd.DataFrame:
    """Seeded points: 3000 across the five towns' extent, 1000 city-wide, 5 outside Shanghai."""
    rng = np.random.default_rng(42)
    x0, y0, x1, y1 = bundled_atlas.towns.total_bounds
    near = pd.DataFrame({"lon": rng.uniform(x0, x1, 3000), "lat": rng.uniform(y0, y1, 3000)})
    wide = pd.DataFrame({"lon": rng.uniform(120.9, 122.1, 1000),
                         "lat": rng.uniform(30.7, 31.85, 1000)})
    far = pd.DataFrame({"lon": [116.40, 113.26, 104.07, 121.50, 0.0],
                        "lat": [39.90, 23.13, 30.67, 25.0, 0.0]})
    frame = pd.concat([near, wide, far], ignore_index=True).round(6)
    frame.insert(0, "name", [f"点{i}" for i in range(len(frame))])
    return frame


def oracle_towns(frame: pd.DataFrame, towns: gpd.GeoDataFrame) -> pd.Series:
    """Points per town by a geopandas spatial join (a different code path)."""
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                           crs=GEOGRAPHIC_CRS)
    joined = gpd.sjoin(gdf, towns[["key", "geometry"]], predicate="within", how="left")
    assert not joined.index.duplicated().any()  # the towns do not overlap
    counts = joined["key"].fillna(OUTSIDE).value_counts()
    keys = [*towns["key"], OUTSIDE]
    return counts.reindex(keys, fill_value=0).astype("int64")


def oracle_grid(frame: pd.DataFrame, cell_m: float) -> pd.Series:
    from pyproj import Transformer

    inside = frame[(frame.lon.between(120.85, 122.25)) & (frame.lat.between(30.66, 31.90))]
    x, y = Transformer.from_crs(GEOGRAPHIC_CRS, METRIC_CRS, always_xy=True).transform(
        inside["lon"].to_numpy(), inside["lat"].to_numpy())
    cells = pd.DataFrame({"ix": np.floor(np.asarray(x) / cell_m).astype(int),
                          "iy": np.floor(np.asarray(y) / cell_m).astype(int)})
    return cells.value_counts().sort_index()


def write_csv(frame: pd.DataFrame, path, **kwargs):
    frame.to_csv(path, index=False, **kwargs)
    return path


def test_counts_per_town_match_a_spatial_join(tmp_path, points, bundled_atlas):
    path = write_csv(points, tmp_path / "pts.csv")
    # A small block size: many partitions, so partition seams are exercised.
    source = open_points(path, blocksize=20_000)
    assert source.npartitions >= 5
    with dask_client("threads"):
        summary = summarise_points(source, bundled_atlas.towns)
    expected = oracle_towns(points, bundled_atlas.towns)
    assert summary.by_town["points"].to_dict() == expected.to_dict()
    assert summary.rows == len(points) and summary.invalid == 0
    assert summary.by_town["points"].sum() == len(points)  # every row accounted for
    assert summary.outside_extent == 5
    assert expected.drop(OUTSIDE).min() > 10  # the check means something in every town


def test_grid_counts_match_floor_division_in_metres(tmp_path, points, bundled_atlas):
    path = write_csv(points, tmp_path / "pts.csv")
    with dask_client("threads"):
        summary = summarise_points(open_points(path, blocksize=30_000), bundled_atlas.towns,
                                   cell_m=2000)
    got = summary.grid.set_index(["ix", "iy"])["points"].sort_index()
    expected = oracle_grid(points, 2000)
    assert got.to_dict() == expected.to_dict()
    assert summary.grid.crs == GEOGRAPHIC_CRS
    areas = summary.grid.to_crs(METRIC_CRS).area
    assert np.allclose(areas, 2000 * 2000, rtol=1e-6)
    # A cell's polygon holds the points it counts.
    one = summary.grid.sort_values("points").iloc[-1]
    inside = shapely.contains_xy(one.geometry, points["lon"], points["lat"]).sum()
    assert inside == one["points"]


def test_coverage_counts_match_brute_force_distances(tmp_path, points, bundled_atlas):
    path = write_csv(points, tmp_path / "pts.csv")
    facilities_m = to_metric(bundled_atlas.facilities)
    engine = service_engine(facilities_m, radius_m=2500.0)
    with dask_client("threads"):
        summary = summarise_points(open_points(path), bundled_atlas.towns, discs=engine)
    from pyproj import Transformer

    x, y = Transformer.from_crs(GEOGRAPHIC_CRS, METRIC_CRS, always_xy=True).transform(
        points["lon"].to_numpy(), points["lat"].to_numpy())
    fx, fy = facilities_m.geometry.x.to_numpy(), facilities_m.geometry.y.to_numpy()
    dist = np.hypot(np.asarray(x)[:, None] - fx[None, :], np.asarray(y)[:, None] - fy[None, :])
    covered = (dist <= 2500.0).any(axis=1)
    assert summary.by_town["covered"].sum() == covered.sum() > 50
    assert summary.grid["covered"].sum() == covered.sum()
    towns = oracle_towns(points.assign(c=covered)[covered], bundled_atlas.towns)
    assert summary.by_town["covered"].to_dict() == towns.to_dict()
    share = summary.by_town["covered"] / summary.by_town["points"]
    assert np.allclose(summary.by_town["covered_share"], share.fillna(0), atol=1e-6)


def test_bundled_facilities_land_in_the_same_town_as_in_the_atlas(tmp_path, bundled_atlas):
    fac = bundled_atlas.facilities
    frame = pd.DataFrame({"lon": fac.geometry.x, "lat": fac.geometry.y})
    path = tmp_path / "fac.parquet"
    frame.to_parquet(path)
    with dask_client("threads"):
        summary = summarise_points(open_points(path), bundled_atlas.towns)
    in_town = fac[fac["in_town"]]["town"].value_counts()
    for key in bundled_atlas.towns["key"]:
        assert summary.by_town.loc[key, "points"] == in_town.get(key, 0)
    assert summary.by_town.loc[OUTSIDE, "points"] == (~fac["in_town"]).sum()


def test_declared_gcj02_and_bd09_input_counts_like_wgs84(tmp_path, bundled_atlas):
    # Points within ~400 m of the town boundaries, where a datum mix-up shows.
    rng = np.random.default_rng(7)
    ring = shapely.get_coordinates(bundled_atlas.towns.boundary.to_numpy())
    pick = ring[rng.integers(0, len(ring), 4000)]
    inside = pd.DataFrame({"lon": pick[:, 0] + rng.uniform(-0.004, 0.004, len(pick)),
                           "lat": pick[:, 1] + rng.uniform(-0.004, 0.004, len(pick))}).round(7)
    expected = oracle_towns(inside, bundled_atlas.towns)
    with dask_client("threads"):
        plain = summarise_points(open_points(write_csv(inside, tmp_path / "w.csv")),
                                 bundled_atlas.towns)
        assert plain.by_town["points"].to_dict() == expected.to_dict()
        for datum, fn in (("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)):
            lon, lat = fn(inside["lon"].to_numpy(), inside["lat"].to_numpy())
            shifted = inside.assign(lon=np.round(lon, 7), lat=np.round(lat, 7))
            path = write_csv(shifted, tmp_path / f"{datum}.csv")
            got = summarise_points(open_points(path, datum=datum), bundled_atlas.towns)
            # The round trip is good to centimetres: at most a point or two on a boundary.
            diff = (got.by_town["points"] - plain.by_town["points"]).abs().sum()
            assert diff <= 2
            # Read as WGS84 (wrongly), the ~500 m shift moves hundreds across boundaries.
            wrong = summarise_points(open_points(path), bundled_atlas.towns)
            assert (wrong.by_town["points"] - plain.by_town["points"]).abs().sum() > 200


def test_vector_and_geoparquet_inputs_in_a_projected_crs(tmp_path, points, bundled_atlas):
    gdf = gpd.GeoDataFrame(points[["name"]],
                           geometry=gpd.points_from_xy(points["lon"], points["lat"]),
                           crs=GEOGRAPHIC_CRS).to_crs(METRIC_CRS)
    gpkg = tmp_path / "pts.gpkg"
    pyogrio.write_dataframe(gdf, gpkg)
    gdf.to_parquet(tmp_path / "pts.parquet")
    expected = oracle_towns(points, bundled_atlas.towns).to_dict()
    with dask_client("threads"):
        for path in (gpkg, tmp_path / "pts.parquet"):
            source = open_points(path)
            assert source.kind in ("vector", "geoparquet")
            summary = summarise_points(source, bundled_atlas.towns)
            assert summary.by_town["points"].to_dict() == expected, path.name


def test_chinese_headers_in_gb18030(tmp_path, points, bundled_atlas):
    frame = points.rename(columns={"lon": "经度", "lat": "纬度", "name": "名称"})
    path = tmp_path / "gb.csv"
    path.write_bytes(frame.to_csv(index=False).encode("gb18030"))
    with dask_client("threads"):
        summary = summarise_points(open_points(path, blocksize=25_000), bundled_atlas.towns)
    assert summary.by_town["points"].to_dict() == oracle_towns(
        points, bundled_atlas.towns).to_dict()


def test_bad_rows_are_named_by_global_row_number(tmp_path, points, bundled_atlas):
    frame = points[["name", "lon", "lat"]].astype({"lon": object, "lat": object})
    frame.loc[3500, "lon"] = "东经121度"  # row 3501 of the data: far past the first block
    frame.loc[10, "lat"] = ""
    frame.loc[3999, "lat"] = 95.0
    path = write_csv(frame, tmp_path / "bad.csv")
    source = open_points(path, blocksize=20_000)
    with dask_client("threads"):
        with pytest.raises(DataError) as info:
            summarise_points(source, bundled_atlas.towns)
        text = str(info.value)
        assert "bad.csv, row 3501, field 'lon': not a number (got '东经121度')" in text
        assert "bad.csv, row 11, field 'lat': blank coordinate" in text
        assert "row 4000, field 'lat': out of range" in text
        summary = summarise_points(source, bundled_atlas.towns, skip_invalid=True)
    assert summary.invalid == 3
    assert summary.rows == len(frame)
    assert summary.by_town["points"].sum() + summary.invalid == summary.rows
    assert {p.row for p in summary.problems} == {11, 3501, 4000}


def test_open_points_refuses_what_it_cannot_read(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.csv: .*file is empty"):
        open_points(empty)
    no_cols = tmp_path / "cols.csv"
    no_cols.write_text("name,address\na,b\n", encoding="utf-8")
    with pytest.raises(DataError, match="no longitude column"):
        open_points(no_cols)
    with pytest.raises(DataError, match="no longitude column 'E'"):
        open_points(no_cols, lon_column="E")
    with pytest.raises(DataError, match="file not found"):
        open_points(tmp_path / "missing.csv")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="cannot read as Parquet"):
        open_points(junk)
    odd = tmp_path / "pts.xyz"
    odd.write_text("1 2 3\n")
    with pytest.raises(DataError, match="unsupported point file"):
        open_points(odd)


def test_assign_towns_per_point_with_dask_geopandas(points, bundled_atlas):
    gdf = gpd.GeoDataFrame(points, geometry=gpd.points_from_xy(points["lon"], points["lat"]),
                           crs=GEOGRAPHIC_CRS)
    lazy = assign_towns(dask_geopandas.from_geopandas(gdf, npartitions=4), bundled_atlas.towns)
    with dask_client("threads"):
        result = lazy.compute()
    counts = result["town"].fillna(OUTSIDE).value_counts()
    expected = oracle_towns(points, bundled_atlas.towns)
    assert counts.reindex(expected.index, fill_value=0).to_dict() == expected.to_dict()
    assert list(result.index) == list(points.index)


@pytest.mark.slow
def test_a_two_worker_local_cluster_gives_the_same_answer(tmp_path, points, bundled_atlas):
    path = tmp_path / "pts.parquet"
    points.to_parquet(path, row_group_size=700)
    source = open_points(path)
    assert source.npartitions >= 5
    engine = service_engine(to_metric(bundled_atlas.facilities))
    with dask_client("threads"):
        local = summarise_points(source, bundled_atlas.towns, discs=engine)
    with dask_client("local", workers=2) as name:
        assert "2 worker processes" in name
        clustered = summarise_points(source, bundled_atlas.towns, discs=engine,
                                     scheduler=name)
    pd.testing.assert_frame_equal(clustered.by_town, local.by_town)
    pd.testing.assert_frame_equal(clustered.grid.drop(columns="geometry"),
                                  local.grid.drop(columns="geometry"))
    assert clustered.scheduler == name


@pytest.mark.slow
def test_cli_on_an_existing_cluster_by_address(tmp_path, points, bundled_atlas, capsys):
    from distributed import LocalCluster

    path = write_csv(points, tmp_path / "pts.csv")
    out = tmp_path / "out" / "grid.geojson"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=40) as cluster:
        code = main(["analysis", "points", str(path), "--scheduler", cluster.scheduler_address,
                     "--coverage", "--radius-m", "3000", "--town", "nanhui", "--json",
                     "-o", str(out)])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert cluster.scheduler_address in doc["scheduler"]
    expected = oracle_towns(points, bundled_atlas.towns)
    assert {k: v["points"] for k, v in doc["by_town"].items()} == expected.to_dict()
    kept, excluded = analysable(Filter.create(towns=["nanhui"]).select(bundled_atlas.facilities))
    assert doc["coverage"]["facilities"] == len(kept)
    assert doc["excluded_placeholders"] == list(excluded)
    assert doc["by_town"]["nanhui"]["name_zh"] == "南汇新城"
    grid = gpd.read_file(out)
    assert len(grid) > 0 and set(grid.columns) >= {"points", "covered", "cell_m"}
    assert grid.crs == GEOGRAPHIC_CRS
    meta = json.loads(out.with_name(out.name + ".meta.json").read_text(encoding="utf-8"))
    counts = meta["analysis"]["points"]
    assert counts["analysis"] == "points" and counts["by_town"] == doc["by_town"]
    assert meta["filter"] == Filter.create(towns=["nanhui"]).to_params()


def test_cli_tables_and_errors(tmp_path, points, bundled_atlas, capsys):
    path = write_csv(points, tmp_path / "pts.csv")
    assert main(["analysis", "points", str(path), "--scheduler", "threads",
                 "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Nanhui New Town" in out and "outside the new towns" in out
    assert f"{len(points):,} rows" in out
    gpkg = tmp_path / "counts.gpkg"
    assert main(["analysis", "points", str(path), "--scheduler", "threads", "-o",
                 str(gpkg)]) == 0
    assert {n for n, _ in pyogrio.list_layers(gpkg)} >= {"points_grid", "towns"}
    towns = gpd.read_file(gpkg, layer="towns").set_index("key")
    expected = oracle_towns(points, bundled_atlas.towns)
    assert towns["points"].to_dict() == expected.drop(OUTSIDE).to_dict()
    capsys.readouterr()
    bad = tmp_path / "bad.csv"
    bad.write_text("lon,lat\n121.2,31.3\nabc,31.0\n", encoding="utf-8")
    assert main(["analysis", "points", str(bad), "--scheduler", "threads"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv, row 2, field 'lon': not a number (got 'abc')" in err
    # Columns given the wrong way round: the message says what it looks like.
    assert main(["analysis", "points", str(path), "--scheduler", "threads",
                 "--lon-column", "lat", "--lat-column", "lon"]) == 2
    err = capsys.readouterr().err
    assert "pts.csv, row 1, field 'lon': out of range for degrees of latitude" in err
    assert "are the lon and lat columns swapped?" in err
    assert main(["analysis", "points", str(path), "--scheduler", "threads",
                 "--workers", "2"]) == 2
    assert "--workers sizes the local cluster" in capsys.readouterr().err
    assert main(["analysis", "points", str(path), "-o", str(tmp_path / "x.txt")]) == 2
    assert "cannot tell the format" in capsys.readouterr().err


def test_cli_unreachable_scheduler(tmp_path, points, capsys):
    path = write_csv(points.iloc[:10], tmp_path / "pts.csv")
    code = main(["analysis", "points", str(path), "--scheduler", "tcp://127.0.0.1:9",
                 "--timeout", "2"])
    assert code == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err


def test_a_csv_that_cannot_be_split_says_so(tmp_path, points, bundled_atlas):
    import pickle

    frame = points[["name", "lon", "lat"]].copy()
    # Quoted cells with line breaks: some part boundary falls inside one.
    frame.loc[::3, "name"] = "第一行\n第二行,\"带逗号\""
    path = write_csv(frame, tmp_path / "quoted.csv")
    source = open_points(path, blocksize=10_000)
    with dask_client("threads"), pytest.raises(DataError) as info:
        summarise_points(source, bundled_atlas.towns)
    text = str(info.value)
    assert "quoted.csv" in text and "not well-formed CSV" in text and "Parquet" in text
    # Raised on a Dask worker, the error travels back by pickle, whole.
    again = pickle.loads(pickle.dumps(info.value))
    assert isinstance(again, DataError) and str(again) == text
    assert again.problems == info.value.problems


def test_points_out_writes_each_usable_point_with_its_town_and_row(tmp_path, points,
                                                                   bundled_atlas, capsys):
    frame = points[["name", "lon", "lat"]].astype({"lon": object})
    frame.loc[1234, "lon"] = "n/a"  # one unusable row: skipped, and the rows stay true
    path = write_csv(frame, tmp_path / "pts.csv")
    out = tmp_path / "assigned"
    args = ["analysis", "points", str(path), "--scheduler", "threads", "--skip-invalid",
            "--points-out", str(out), "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["points_out"] == str(out) and doc["invalid"] == 1
    got = gpd.read_parquet(out)
    assert got.crs == GEOGRAPHIC_CRS
    assert len(got) == len(frame) - 1 and 1235 not in set(got["row"])
    # Each point's row leads back to the same coordinates in the input.
    back = points.iloc[got["row"].to_numpy() - 1]
    assert np.allclose(back["lon"].to_numpy(), got["lon"]) and np.allclose(
        back["lat"].to_numpy(), got["lat"])
    expected = oracle_towns(points.drop(index=1234), bundled_atlas.towns)
    assert got["town"].fillna(OUTSIDE).value_counts().reindex(
        expected.index, fill_value=0).to_dict() == expected.to_dict()
    # An existing folder is never overwritten.
    assert main(args) == 2
    assert "exists" in capsys.readouterr().err
    assert len(gpd.read_parquet(out)) == len(got)


def test_write_points_keeps_true_rows_across_partitions(tmp_path, points, bundled_atlas):
    from geo.parallel import write_points

    path = write_csv(points, tmp_path / "pts.csv")
    source = open_points(path, blocksize=20_000)
    assert source.npartitions >= 5
    with dask_client("threads"):
        summary = summarise_points(source, bundled_atlas.towns)
        out = write_points(source, bundled_atlas.towns, tmp_path / "out", summary=summary)
    got = gpd.read_parquet(out)
    assert len(list(out.glob("*.parquet"))) == source.npartitions
    assert sorted(got["row"]) == list(range(1, len(points) + 1))
    back = points.iloc[got["row"].to_numpy() - 1]
    assert np.allclose(back["lon"].to_numpy(), got["lon"])
    assert np.allclose(back["lat"].to_numpy(), got["lat"])
