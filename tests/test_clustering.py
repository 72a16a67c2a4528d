"""Clustering, density, hotspots and Clark-Evans on seeded synthetic patterns with known answers."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from esda import fdr as esda_fdr

from dashboard.cli import main as newtown
from geo._errors import DataError
from geo.clustering import (
    clark_evans,
    clark_evans_by_town,
    cluster_hulls,
    dbscan_labels,
    density_contours,
    fdr_adjust,
    hdbscan_labels,
    hotspots,
    kernel_density,
    parse_cell,
)
from geo.placement import analysable

METRIC = "EPSG:4549"
# A false origin inside EPSG:4549's zone near Shanghai, so the numbers look like real ones.
X0, Y0 = 640_000.0, 3_440_000.0
ORIGIN = np.array([X0, Y0])


def points(xy, *, index=None, crs=METRIC, **columns) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    frame = pd.DataFrame(columns, index=index)
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
                            crs=crs, index=index)


def three_blobs(seed: int = 0, sizes=(60, 40, 20)) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Blobs of sd 200 m whose centres are 10 km apart: no sensible method can merge them."""
    rng = np.random.default_rng(seed)
    centres = np.array([[X0, Y0], [X0 + 10_000, Y0], [X0, Y0 + 10_000]])
    xy = np.vstack([rng.normal(c, 200.0, size=(n, 2)) for c, n in zip(centres, sizes,
                                                                        strict=True)])
    truth = np.repeat(np.arange(3), sizes)
    index = pd.Index([f"F{n:03d}" for n in range(len(xy))])
    return points(xy, index=index), truth


def csr(n: int, side_m: float, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    return points(rng.uniform(0, side_m, size=(n, 2)) + ORIGIN)


def square(side_m: float, x: float = X0, y: float = Y0) -> shapely.Polygon:
    return shapely.box(x, y, x + side_m, y + side_m)


def same_partition(labels: np.ndarray, truth: np.ndarray) -> bool:
    pairs = set(zip(labels.tolist(), truth.tolist(), strict=True))
    return len(pairs) == len(set(truth.tolist())) == len(set(labels.tolist()))


# -- DBSCAN / HDBSCAN -------------------------------------------------------------------------


def test_three_blobs_give_three_dbscan_clusters_numbered_by_size():
    gdf, truth = three_blobs()
    labels = dbscan_labels(gdf, eps_m=500, min_samples=5)
    assert labels.index.equals(gdf.index)
    assert labels.name == "cluster"
    clustered = labels >= 0
    assert clustered.mean() > 0.95  # a blob's stragglers may be noise, nothing more
    assert same_partition(labels[clustered].to_numpy(), truth[clustered.to_numpy()])
    # Canonical numbering: the biggest blob (60) is cluster 0, then 40, then 20.
    assert [labels[truth == k].mode()[0] for k in range(3)] == [0, 1, 2]


def test_three_blobs_give_three_hdbscan_clusters():
    gdf, truth = three_blobs()
    labels = hdbscan_labels(gdf, min_cluster_size=10)
    clustered = labels >= 0
    assert sorted(set(labels[clustered])) == [0, 1, 2]
    assert clustered.mean() > 0.9
    assert same_partition(labels[clustered].to_numpy(), truth[clustered.to_numpy()])
    assert [labels[truth == k].mode()[0] for k in range(3)] == [0, 1, 2]


@pytest.mark.parametrize("method", ["dbscan", "hdbscan"])
def test_labels_depend_on_the_points_not_on_row_order(method):
    gdf, _ = three_blobs(seed=3, sizes=(30, 30, 30))  # equal sizes: ties broken by position
    run = (lambda g: dbscan_labels(g, eps_m=500, min_samples=5)) if method == "dbscan" else (
        lambda g: hdbscan_labels(g, min_cluster_size=10))
    first = run(gdf)
    assert run(gdf).equals(first)
    shuffled = gdf.sample(frac=1.0, random_state=7)
    again = run(shuffled)
    assert again.index.equals(shuffled.index)
    assert again.reindex(gdf.index).equals(first)
    # Equal sizes: numbered west to east, then south to north, by each cluster's first member.
    west = {k: gdf.geometry.x[first == k].min() for k in (0, 1, 2)}
    assert west[0] <= west[1] < west[2] or west[0] < west[1] <= west[2]


@pytest.mark.parametrize("func", [
    lambda g: dbscan_labels(g, eps_m=100, min_samples=2),
    lambda g: hdbscan_labels(g, min_cluster_size=2),
    lambda g: kernel_density(g, bandwidth_m=500),
    lambda g: hotspots(g, cell="grid:1000"),
    lambda g: clark_evans(g, area_m2=1e6),
])
def test_geographic_input_is_refused(func):
    lonlat = points([[121.2, 31.0], [121.21, 31.01], [121.3, 31.1]], crs="EPSG:4326")
    with pytest.raises(ValueError, match=r"geographic CRS.*to_metric"):
        func(lonlat)


def test_hulls_refuse_geographic_input():
    lonlat = points([[121.2, 31.0], [121.21, 31.01]], crs="EPSG:4326")
    with pytest.raises(ValueError, match="geographic"):
        cluster_hulls(lonlat, pd.Series([0, 0], index=lonlat.index))


def test_small_and_degenerate_inputs_give_answers():
    one = points([[X0, Y0]], index=["A"])
    assert dbscan_labels(one, eps_m=500, min_samples=3).tolist() == [-1]
    assert dbscan_labels(one, eps_m=500, min_samples=1).tolist() == [0]
    assert hdbscan_labels(one, min_cluster_size=5).tolist() == [-1]
    two = points([[X0, Y0], [X0 + 10, Y0]])
    assert dbscan_labels(two, eps_m=500, min_samples=3).tolist() == [-1, -1]  # fewer than 3
    same = points([[X0, Y0]] * 6)
    assert dbscan_labels(same, eps_m=1, min_samples=3).tolist() == [0] * 6
    assert hdbscan_labels(same, min_cluster_size=5).tolist() == [0] * 6
    assert hdbscan_labels(same.iloc[:4], min_cluster_size=5).tolist() == [-1] * 4
    empty = points(np.empty((0, 2)))
    assert dbscan_labels(empty, eps_m=500).empty
    assert hdbscan_labels(empty).empty
    # min_samples above the number of points is capped, not a crash inside hdbscan.
    six = points([[X0, Y0], [X0 + 5, Y0], [X0, Y0 + 5], [X0 + 5000, Y0], [X0 + 5005, Y0],
                  [X0 + 5000, Y0 + 5]])
    assert len(hdbscan_labels(six, min_cluster_size=3, min_samples=50)) == 6


def test_bad_parameters_and_geometries_are_named():
    gdf, _ = three_blobs()
    with pytest.raises(ValueError, match="eps_m must be a positive number of metres"):
        dbscan_labels(gdf, eps_m=0, min_samples=3)
    with pytest.raises(ValueError, match="min_samples must be an integer >= 1"):
        dbscan_labels(gdf, eps_m=100, min_samples=0)
    with pytest.raises(ValueError, match="min_cluster_size must be an integer >= 2"):
        hdbscan_labels(gdf, min_cluster_size=1)
    bad = gpd.GeoDataFrame(geometry=[shapely.Point(X0, Y0), square(10), None],
                           index=["ok", "area", "blank"], crs=METRIC)
    with pytest.raises(DataError) as caught:
        dbscan_labels(bad, eps_m=100)
    text = str(caught.value)
    assert "2 problems" in text
    assert "row 2, field 'geometry'" in text and "'area': expected a Point, got Polygon" in text
    assert "'blank': expected a Point, got nothing" in text


# -- hulls -------------------------------------------------------------------------------------


def hull_case() -> gpd.GeoDataFrame:
    xy = [
        [X0, Y0], [X0 + 100, Y0], [X0 + 100, Y0 + 100], [X0, Y0 + 100],  # cluster 0: square
        [X0 + 5000, Y0], [X0 + 5300, Y0 + 400],                          # cluster 1: 500 m line
        [X0 + 9000, Y0]] + [[X0 + 9000, Y0]] * 2 + [                     # cluster 2: one spot
        [X0 + 20_000, Y0 + 20_000]]                                       # noise
    return points(xy, index=[f"P{n}" for n in range(10)],
                  layers=["ic;ai", "ic", "ic;biomed", "ai", "auto", "auto", "biomed", "biomed",
                          "ai", "ic"],
                  town=["jiading"] * 4 + ["qingpu", "songjiang"] + ["nanhui"] * 3 + ["fengxian"])


def test_cluster_hulls_by_hand():
    gdf = hull_case()
    labels = pd.Series([0, 0, 0, 0, 1, 1, 2, 2, 2, -1], index=gdf.index)
    towns_m = gpd.GeoDataFrame({"key": ["jiading", "qingpu"]},
                               geometry=[square(50, X0 - 25, Y0 - 25), square(100, X0 + 5250,
                                                                              Y0 + 350)],
                               crs=METRIC)
    hulls = cluster_hulls(gdf, labels, towns_m=towns_m)
    assert hulls.crs == METRIC
    assert list(hulls.index) == [0, 1, 2]  # noise has no hull
    assert hulls["size"].tolist() == [4, 2, 3]
    assert hulls["locations"].tolist() == [4, 2, 1]
    assert hulls["shape"].tolist() == ["convex", "line_buffer", "point_buffer"]
    # Square of 100 m: 10 000 m²; the buffered shapes have no hull area of their own, so
    # none is given (NaN, not a measured 0).
    assert hulls["area_m2"].iloc[0] == pytest.approx(10_000.0)
    assert hulls["area_m2"].iloc[1:].isna().all()
    # Their drawn shape: a 500 m line with 150 m caps, and a 150 m disc.
    line_area = 2 * 150 * 500 + math.pi * 150**2
    assert hulls.geometry.area[1] == pytest.approx(line_area, rel=0.01)
    assert hulls.geometry.area[2] == pytest.approx(math.pi * 150**2, rel=0.01)
    # ic 3, ai 2, biomed 1: by count; ties (none here) would follow the catalog.
    assert hulls.loc[0, "dominant_layers"] == "ic;ai;biomed"
    assert hulls.loc[0, "layer_counts"] == "ic:3;ai:2;biomed:1"
    assert hulls.loc[2, "dominant_layers"] == "biomed;ai"
    assert hulls["towns"].tolist() == ["jiading", "qingpu;songjiang", "nanhui"]
    assert hulls["towns_touched"].tolist() == ["jiading", "qingpu", ""]


def test_concave_hull_is_inside_the_convex_one():
    rng = np.random.default_rng(1)
    # An L of points: the concave hull cuts the empty corner off.
    xy = np.vstack([rng.uniform([0, 0], [3000, 500], (150, 2)),
                    rng.uniform([0, 500], [500, 3000], (150, 2))]) + ORIGIN
    gdf = points(xy)
    labels = pd.Series(0, index=gdf.index)
    convex = cluster_hulls(gdf, labels, hull="convex")
    concave = cluster_hulls(gdf, labels, hull="concave", ratio=0.1)
    assert concave["shape"].tolist() == ["concave"]
    assert concave.geometry[0].area < 0.6 * convex.geometry[0].area
    assert convex.geometry[0].buffer(1e-6).contains(concave.geometry[0])
    assert convex["towns"].tolist() == [""]  # no town column, no towns_m: nothing to report


def test_hull_inputs_checked():
    gdf = hull_case()
    with pytest.raises(ValueError, match="labels has no value for 1 point"):
        cluster_hulls(gdf, pd.Series(0, index=gdf.index[:-1]))
    with pytest.raises(ValueError, match="hull must be 'convex' or 'concave'"):
        cluster_hulls(gdf, pd.Series(0, index=gdf.index), hull="alpha")  # type: ignore[arg-type]
    lonlat_towns = gpd.GeoDataFrame({"key": ["x"]}, geometry=[square(1, 121, 31)],
                                    crs="EPSG:4326")
    with pytest.raises(ValueError, match="towns_m must be in the same CRS"):
        cluster_hulls(gdf, pd.Series(0, index=gdf.index), towns_m=lonlat_towns)
    none = cluster_hulls(gdf, pd.Series(-1, index=gdf.index))
    assert none.empty and "area_m2" in none.columns


# -- kernel density ------------------------------------------------------------------------------


def test_density_of_one_point_is_the_gaussian_kernel():
    sigma, cell = 1000.0, 100.0
    # The point sits on a cell centre so the peak cell is exactly the kernel's peak.
    one = points([[X0 + 50, Y0 + 50]])
    grid = kernel_density(one, bandwidth_m=sigma, cell_m=cell)
    per_km2 = grid.values
    assert grid.count == 1
    # Integral = 1 facility (the grid reaches 3 sigma: 1.1% of the mass lies outside a 3-sigma
    # square... of the 1-D tails, so allow 2%).
    assert per_km2.sum() * cell * cell / 1e6 == pytest.approx(1.0, rel=0.02)
    # Peak: 1 / (2 pi sigma²) per m² = 0.15915 per km² for sigma = 1 km.
    assert per_km2.max() == pytest.approx(1e6 / (2 * math.pi * sigma**2), rel=0.01)
    row, col = np.unravel_index(per_km2.argmax(), per_km2.shape)
    x, y = grid.cell_centres()
    assert (x[col], y[row]) == pytest.approx((X0 + 50, Y0 + 50))
    a, _, c, _, e, f = grid.transform
    assert (a, e) == (cell, -cell) and c % cell == 0 and f % cell == 0


def test_density_contour_of_one_point_is_a_circle_of_known_radius():
    sigma = 1000.0
    grid = kernel_density(points([[X0 + 50, Y0 + 50]]), bandwidth_m=sigma, cell_m=100.0)
    peak = grid.values.max()
    bands = density_contours(grid, levels=[peak / 2])
    # Density >= half the peak within r = sigma * sqrt(2 ln 2) = 1177.4 m.
    radius = sigma * math.sqrt(2 * math.log(2))
    assert len(bands) == 1
    assert bands.crs == METRIC
    assert bands.geometry.area[0] == pytest.approx(math.pi * radius**2, rel=0.02)
    assert bands.loc[0, "lower"] == pytest.approx(peak / 2)
    wgs84 = bands.to_crs(4326)
    assert wgs84.is_valid.all()
    assert 120 < wgs84.geometry[0].centroid.x < 122.5


def test_density_bands_nest_and_skip_the_background():
    gdf, _ = three_blobs()
    bands = density_contours(kernel_density(gdf, bandwidth_m=400), levels=4)
    assert bands["level"].tolist() == [0, 1, 2, 3]
    assert (bands["lower"].diff().dropna() > 0).all()
    assert bands.is_valid.all()
    # The lowest band surrounds each blob, so it has three parts.
    assert len(bands.geometry[0].geoms) == 3


def test_density_parameters_checked():
    gdf, _ = three_blobs()
    with pytest.raises(ValueError, match=r"cell_m .* must not exceed bandwidth_m"):
        kernel_density(gdf, bandwidth_m=100, cell_m=500)
    with pytest.raises(ValueError, match="density grid would have"):
        kernel_density(gdf, bandwidth_m=5, cell_m=1)
    with pytest.raises(ValueError, match="no points and no extent"):
        kernel_density(points(np.empty((0, 2))), bandwidth_m=500)
    empty = kernel_density(points(np.empty((0, 2))), bandwidth_m=500,
                           extent=(X0, Y0, X0 + 5000, Y0 + 5000))
    assert empty.values.max() == 0 and density_contours(empty).empty


# -- hotspots ------------------------------------------------------------------------------------


def test_fdr_adjust_by_hand_and_like_esda():
    # Sorted p 0.01, 0.03, 0.04, 0.5 (m = 4): p * m / rank = 0.04, 0.06, 0.0533, 0.5, then the
    # running minimum from the top: 0.04, 0.0533, 0.0533, 0.5.
    q = fdr_adjust([0.01, 0.04, 0.03, 0.5])
    assert q == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])
    p = np.random.default_rng(5).uniform(0, 0.2, 300) ** 2
    q = fdr_adjust(p)
    for alpha in (0.10, 0.05, 0.01):
        assert ((q <= alpha) == (p <= esda_fdr(p, alpha))).all()
    assert np.isnan(fdr_adjust([np.nan, 0.2])[0])


def test_parse_cell():
    assert parse_cell("h3:8") == ("h3", 8.0)
    assert parse_cell("GRID: 1000") == ("grid", 1000.0)
    for bad in ("h3:16", "h3:7.5", "grid:0", "hex:8", "1000"):
        with pytest.raises(ValueError, match=r"h3|grid|H3"):
            parse_cell(bad)


def csr_with_patch(seed: int = 11) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """2000 facilities at random in 20 km x 20 km, and the same plus 120 in a 1.5 km patch."""
    background = csr(2000, 20_000.0, seed=seed)
    rng = np.random.default_rng(2)
    patch = points(rng.uniform([7000, 12000], [8500, 13500], (120, 2)) + ORIGIN)
    return background, pd.concat([background, patch], ignore_index=True)


def test_csr_has_no_hotspot_after_fdr():
    background, _ = csr_with_patch()
    for inference in ("permutation", "normal"):
        result = hotspots(background, cell="grid:500", study_area=square(20_000),
                          permutations=999, seed=0, inference=inference)
        assert len(result) == 1600  # 40 x 40 cells, empty ones included
        assert result["count"].sum() == 2000
        assert result.crs == METRIC
        assert (result["hotspot"] == "not_significant").all(), inference
    # Without the correction, CSR still gives its ~10% of false alarms: the reason for FDR.
    raw = hotspots(background, cell="grid:500", study_area=square(20_000), correction="none")
    assert 0.03 < (raw["hotspot"] != "not_significant").mean() < 0.2


def test_a_planted_dense_patch_is_hot():
    _, planted = csr_with_patch()
    result = hotspots(planted, cell="grid:500", study_area=square(20_000), permutations=9999,
                      seed=0)
    # The patch covers the 3 x 3 cells from (X0 + 7000, Y0 + 12000); its centre cell:
    centre = f"{int((X0 + 7500) // 500)}_{int((Y0 + 12500) // 500)}"
    assert result.loc[centre, "count"] >= 10
    assert result.loc[centre, "hotspot"].startswith("hot")
    assert result.loc[centre, "q"] <= 0.05
    hot = result.loc[result["hotspot"].str.startswith("hot")]
    assert 1 <= len(hot) <= 25
    assert hot.union_all().distance(shapely.box(X0 + 7000, Y0 + 12000, X0 + 8500,
                                                Y0 + 13500)) == 0
    assert not result["hotspot"].str.startswith("cold").any()
    # Same seed, same answer; another seed, nearly the same p-values.
    again = hotspots(planted, cell="grid:500", study_area=square(20_000), permutations=9999,
                     seed=0)
    assert again["p_sim"].equals(result["p_sim"])


def test_a_lone_dense_cell_is_hot_by_normal_inference_only():
    # 60 facilities in one 1 km cell over a random background of 400 cells: Gi*'s z is huge,
    # but under permutation a random 9-cell neighbourhood contains that cell 9 / 400 of the
    # time, so its p-value is about 0.02-0.03 (the neighbours' sums also vary) and FDR keeps it.
    background = csr(2000, 20_000.0, seed=11)
    rng = np.random.default_rng(3)
    lone = points(rng.uniform([7000, 12000], [8000, 13000], (60, 2)) + ORIGIN)
    both = pd.concat([background, lone], ignore_index=True)
    cell_id = f"{int((X0 + 7000) // 1000)}_{int((Y0 + 12000) // 1000)}"
    normal = hotspots(both, cell="grid:1000", study_area=square(20_000), inference="normal")
    assert normal.loc[cell_id, "hotspot"] == "hot_99"
    assert normal.loc[cell_id, "gi_z"] > 5
    permuted = hotspots(both, cell="grid:1000", study_area=square(20_000), seed=0)
    assert 0.01 < permuted.loc[cell_id, "p_sim"] < 0.06
    assert permuted.loc[cell_id, "hotspot"] == "not_significant"


def test_permutation_p_value_counts_the_cells_own_facilities():
    # One dense cell ringed by empty cells: esda's conditional test holds its count fixed and
    # finds nothing there (its empty neighbours come out hot instead); Gi* measures the whole
    # neighbourhood, the cell included. The ring is empty, so only draws that include the
    # dense cell can reach its sum: p is about 9 / 225.
    side = 15_000.0
    rng = np.random.default_rng(4)
    spread = rng.uniform(0, side, (150, 2))
    spread = spread[~((np.abs(spread - 7500) < 1500).all(axis=1))]
    dense = rng.uniform(7000, 8000, (40, 2))
    gdf = points(np.vstack([spread, dense]) + ORIGIN)
    result = hotspots(gdf, cell="grid:1000", study_area=square(side), seed=1)
    centre = f"{int((X0 + 7000) // 1000)}_{int((Y0 + 7000) // 1000)}"
    ring = f"{int((X0 + 6000) // 1000)}_{int((Y0 + 7000) // 1000)}"
    assert result.loc[centre, "count"] == 40 and result.loc[ring, "count"] == 0
    assert result.loc[centre, "p_sim"] == pytest.approx(9 / 225, abs=0.015)
    # An empty ring cell next to it must not look hotter than the dense cell itself.
    assert result.loc[ring, "p_sim"] >= result.loc[centre, "p_sim"] - 0.01


def test_h3_hotspots_cover_the_study_area_with_hexagons():
    import h3

    side = 6000.0
    gdf = csr(200, side, seed=8)
    result = hotspots(gdf, cell="h3:8", study_area=square(side), permutations=99, seed=0)
    assert result["count"].sum() == 200
    assert (result["count"] == 0).any()  # empty cells are part of the grid
    assert result.crs == METRIC
    assert shapely.get_num_coordinates(result.geometry.to_numpy()).max() == 7  # hexagons
    # Drawn in metres, each hexagon keeps its area (EPSG:4549's scale error here is ~3e-4).
    expected = np.array([h3.cell_area(c, unit="m^2") for c in result.index])
    assert np.allclose(result.geometry.area, expected, rtol=0.005)
    # Every cell overlapping the square is in the grid, so together they cover it.
    assert result.union_all().covers(square(side))
    assert result.attrs["cell"] == "h3:8"


def test_hotspots_with_no_points_are_all_not_significant():
    result = hotspots(points(np.empty((0, 2))), cell="grid:1000", study_area=square(3000))
    assert len(result) == 9
    assert (result["hotspot"] == "not_significant").all()
    assert result["gi_z"].isna().all()
    with pytest.raises(ValueError, match="no points and no study area"):
        hotspots(points(np.empty((0, 2))), cell="grid:1000")


# -- Clark-Evans ---------------------------------------------------------------------------------


def test_clark_evans_textbook_values_by_hand():
    # Window: 100 m x 100 m (A = 10 000 m², P = 400 m); five points:
    #   (10,10) (20,10): nearest neighbour 10 each;  (80,80) (80,90): 10 each;
    #   (50,50): nearest is (80,80) at sqrt(30² + 30²) = 42.426.
    # Mean observed = (40 + 42.426) / 5 = 16.485.
    # Clark & Evans: expected = 0.5 * sqrt(A / n) = 0.5 * sqrt(2000) = 22.361;
    #   R = 16.485 / 22.361 = 0.7372; SE = 0.26136 * sqrt(A) / n = 5.2272;
    #   z = (16.485 - 22.361) / 5.2272 = -1.1240; p = 2 * (1 - Phi(1.124)) = 0.261.
    # Donnelly: expected = 22.361 + (0.0514 + 0.041 / sqrt(5)) * 400 / 5 = 27.940;
    #   SE = sqrt(0.0703 * 10000 / 25 + 0.037 * 400 * sqrt(10000 / 5**5)) = 7.3889;
    #   R = 0.5900; z = -1.5502.
    xy = np.array([[10, 10], [20, 10], [80, 80], [80, 90], [50, 50]], dtype=float) + ORIGIN
    gdf = points(xy)
    window = square(100)
    plain = clark_evans(gdf, window=window, edge_correction="none")
    assert plain.observed_mean_m == pytest.approx(16.4853, abs=1e-3)
    assert plain.expected_mean_m == pytest.approx(22.3607, abs=1e-3)
    assert math.isclose(plain.R, 0.7372, abs_tol=1e-3)
    assert plain.z == pytest.approx(-1.1240, abs=1e-3)
    assert plain.p == pytest.approx(0.261, abs=1e-3)
    assert plain.sentence() == "consistent with random, p = 0.26 (R = 0.74, z = -1.12)"
    donnelly = clark_evans(gdf, window=window)
    assert donnelly.edge_correction == "donnelly"
    assert donnelly.expected_mean_m == pytest.approx(27.9396, abs=1e-3)
    assert math.isclose(donnelly.R, 0.5900, abs_tol=1e-3)
    assert donnelly.z == pytest.approx(-1.5502, abs=1e-3)
    # The area alone gives the uncorrected test.
    assert clark_evans(gdf, area_m2=10_000).z == pytest.approx(plain.z)


def test_clark_evans_csr_is_near_one_and_patterns_are_named():
    side = 10_000.0
    result = clark_evans(csr(500, side, seed=21), window=square(side))
    assert abs(result.R - 1.0) < 0.07  # SE of R under CSR: ~0.023
    assert result.pattern == "random"
    # A square lattice (R = 2 without edges): dispersed.
    g = np.arange(5, 100, 10, dtype=float)
    lattice = points(np.array([[x, y] for x in g for y in g]) * 100 + ORIGIN)
    dispersed = clark_evans(lattice, window=square(side))
    assert dispersed.pattern == "dispersed" and dispersed.R > 1.5
    assert dispersed.sentence().startswith("dispersed, p < 0.01")
    # Pairs 1 m apart: clustered.
    pairs = points(np.vstack([lattice.get_coordinates().to_numpy(),
                              lattice.get_coordinates().to_numpy() + 1]))
    clustered = clark_evans(pairs, window=square(side))
    assert clustered.pattern == "clustered"
    assert clustered.sentence().startswith("clustered, p < 0.01")
    assert clustered.sentence("zh").startswith("集聚, p < 0.01")


def test_clark_evans_too_few_points_and_bad_windows():
    one = clark_evans(points([[X0, Y0]]), window=square(100))
    assert one.pattern == "too_few_points" and math.isnan(one.R)
    assert "need" in one.sentence() or "needs at least 2" in one.sentence()
    with pytest.raises(ValueError, match="study window"):
        clark_evans(points([[X0, Y0]] * 2))
    with pytest.raises(ValueError, match="Donnelly's edge correction needs"):
        clark_evans(points([[X0, Y0]] * 2), area_m2=100, edge_correction="donnelly")


def test_clark_evans_by_town_uses_points_inside_each_polygon():
    towns = gpd.GeoDataFrame({"key": ["jiading", "qingpu"]},
                             geometry=[square(1000), square(1000, X0 + 5000)], crs=METRIC)
    xy = [[X0 + 100, Y0 + 100], [X0 + 900, Y0 + 900], [X0 + 500, Y0 + 500],
          [X0 + 2000, Y0 + 2000],  # says jiading, lies outside it
          [X0 + 5500, Y0 + 500]]
    gdf = points(xy, town=["jiading"] * 4 + ["qingpu"])
    table = clark_evans_by_town(gdf, towns)
    assert table.loc["jiading", "n"] == 3 and table.loc["jiading", "outside"] == 1
    assert table.loc["qingpu", "pattern"] == "too_few_points"
    assert table.loc["qingpu", "sentence_en"].startswith("too few points (1)")


# -- CLI -----------------------------------------------------------------------------------------


def test_cli_clusters_json_and_geojson(tmp_path, capsys, bundled_atlas):
    out = tmp_path / "clusters.geojson"
    code = newtown(["clusters", "--eps-m", "3000", "--min-samples", "3", "--json",
                              "-o", str(out)])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    kept, excluded = analysable(bundled_atlas.facilities)
    assert doc["facilities"] == len(kept) and doc["excluded_placeholders"] == list(excluded)
    assert sum(c["size"] for c in doc["clusters"]) + doc["noise"] == len(kept)
    assert set(doc["labels"]) == set(kept.index)  # placeholders are not clustered
    assert doc["parameters"] == {"method": "dbscan", "eps_m": 3000.0, "min_samples": 3,
                                 "hull": "convex", "include_placeholders": False,
                                 "crs": "EPSG:4549"}
    assert set(doc["clark_evans"]) == {"jiading", "qingpu", "songjiang", "fengxian", "nanhui"}
    geojson = json.loads(out.read_text(encoding="utf-8"))
    assert "crs" not in geojson  # RFC 7946
    assert len(geojson["features"]) == len(doc["clusters"])
    for feature in geojson["features"]:
        shape = shapely.geometry.shape(feature["geometry"])
        assert 120.8 < shape.centroid.x < 122.3 and 30.6 < shape.centroid.y < 31.9
        assert shapely.is_ccw(shape.exterior)  # RFC 7946 right-hand rule
        assert feature["properties"]["members"]
    assert (tmp_path / "clusters.geojson.meta.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clusters.geojson",
                                                          "clusters.geojson.meta.json"]


def test_cli_clusters_table_in_both_languages(capsys):
    assert newtown(["clusters", "--method", "hdbscan", "--town", "南汇"]) == 0
    text = capsys.readouterr().out
    assert "HDBSCAN" in text and "南汇新城" in text and "filter: town=nanhui" in text
    assert newtown(["clusters", "--lang", "en", "--eps-m", "800"]) == 0
    text = capsys.readouterr().out
    assert "dispersion (Clark-Evans" in text
    assert "note: --eps-m 800 is finer than the median coordinate precision" in text


def test_cli_hotspots(tmp_path, capsys):
    out = tmp_path / "hot.geojson"
    code = newtown(["hotspots", "--cell", "grid:3000", "--permutations", "99",
                              "--json", "-o", str(out)])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert sum(doc["classes"].values()) == doc["cells"]
    assert sum(c["count"] for c in doc["cells_listed"]) == doc["facilities"]
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert len(features) == doc["cells"]
    assert {"count", "gi_z", "p_sim", "q", "hotspot"} <= set(features[0]["properties"])
    assert newtown(["hotspots", "--lang", "en", "--permutations", "99"]) == 0
    assert "Getis-Ord Gi*, h3:8" in capsys.readouterr().out
    assert newtown(["hotspots", "--cell", "h3:7", "--inference", "normal",
                              "--json"]) == 0
    normal = json.loads(capsys.readouterr().out)
    assert normal["parameters"]["inference"] == "normal"
    listed = [c for c in normal["cells_listed"] if c["hotspot"] != "not_significant"]
    assert all(c["p_norm"] is not None and c["q"] <= 0.10 for c in listed)


@pytest.mark.parametrize(("argv", "message"), [
    (["hotspots", "--cell", "hex:9"], "cell must be 'h3:RES'"),
    (["clusters", "--town", "atlantis"], "town"),
    (["clusters", "--eps-m", "-5"], "eps_m must be a positive number"),
    (["clusters", "-o", "out.gpkg"], "written as *.geojson"),
])
def test_cli_bad_input_exits_2_with_a_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert newtown(argv) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
