"""Coverage, gaps, population weighting, siting and network reach: hand-worked cases in metres."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from dashboard.cli.coverage import add_coverage_commands
from geo._errors import DataError
from geo.coverage import (
    LIFE_CIRCLE_PRESETS_M,
    QUAD_SEGS,
    coverage_by_district,
    coverage_by_town,
    coverage_report,
    facility_radii,
    gap_polygons,
    grid_candidates,
    polygon_area_error,
    read_candidates,
    read_population,
    service_areas,
    suggest_sites,
)
from geo.network import (
    SPEEDS_KMH,
    isochrones,
    network_from_graph,
    network_from_lines,
    reach_m,
    read_network,
)
from geo.placement import analysable

DATA = Path(__file__).parent / "data" / "coverage"
CRS = "EPSG:4549"
X0, Y0 = 600_000.0, 3_450_000.0  # a plausible EPSG:4549 origin near Songjiang
POLY_ERR = polygon_area_error(QUAD_SEGS)  # 64-gon vs circle: 0.16%


def square_town(size: float = 10_000.0, key: str = "sq") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"key": [key], "name_zh": ["方城"], "name_en": ["Square"]},
                            geometry=[box(X0, Y0, X0 + size, Y0 + size)], crs=CRS,
                            index=pd.Index([7], name="town_row"))


def points(xy: list[tuple[float, float]], *, category: str | None = None,
           ids: list[str] | None = None) -> gpd.GeoDataFrame:
    ids = ids or [f"F{i}" for i in range(1, len(xy) + 1)]
    data = {"category": [category] * len(xy)} if category else {}
    return gpd.GeoDataFrame(data, geometry=[Point(X0 + x, Y0 + y) for x, y in xy], crs=CRS,
                            index=pd.Index(ids, name="id"))


def disc_polygon_area(r: float) -> float:
    return math.pi * r * r * (1 - POLY_ERR)


# -- service areas -----------------------------------------------------------------------------


@pytest.mark.parametrize("radius", [300.0, 2000.0, 5000.0])
def test_service_area_polygon_within_half_percent_of_circle(radius):
    areas = service_areas(points([(0, 0)]), radius_m=radius)
    error = 1 - areas.geometry.area.iloc[0] / (math.pi * radius**2)
    assert 0 < error < 0.005
    assert error == pytest.approx(POLY_ERR, rel=1e-6)
    assert list(areas.index) == ["F1"] and areas["radius_m"].iloc[0] == radius


def test_polygon_area_error_formula_and_coarse_segments_refused():
    assert polygon_area_error(8) == pytest.approx(1 - 16 / math.pi * math.sin(math.pi / 16))
    assert polygon_area_error(8) > 0.005 > polygon_area_error(10)
    with pytest.raises(ValueError, match="at least 10"):
        service_areas(points([(0, 0)]), radius_m=100, quad_segs=8)


def test_life_circle_presets():
    assert dict(LIFE_CIRCLE_PRESETS_M) == {"5min": 300.0, "10min": 500.0, "15min": 800.0,
                                           "15min_outer": 1500.0}


def test_radius_by_category_and_missing_category_named():
    fac = points([(0, 0), (10, 0)], ids=["A", "B"]).assign(
        category=["research_institute", "incubator"])
    radii = facility_radii(fac)
    assert radii.to_dict() == {"A": 5000.0, "B": 2000.0}
    assert facility_radii(fac, radius_m=700).to_dict() == {"A": 700.0, "B": 700.0}
    fac.loc["B", "category"] = "bakery"
    with pytest.raises(DataError, match=r"facility B .*'bakery'"):
        facility_radii(fac)
    with pytest.raises(ValueError, match="positive"):
        facility_radii(fac, radius_m=-1)


# -- coverage per town: hand-worked ------------------------------------------------------------


def test_one_facility_in_a_square_town_covers_pi_r_squared():
    r = 2000.0
    table = coverage_by_town(points([(5000, 5000)]), square_town(), radius_m=r)
    assert list(table.index) == [7]  # the towns' index is kept
    row = table.iloc[0]
    assert row["area_m2"] == pytest.approx(1e8)
    # Areas are of true circles (the quadtree and the boundary integral need no polygons).
    assert row["covered_m2"] == pytest.approx(math.pi * r * r, rel=1e-12)
    assert row["covered_share"] == pytest.approx(math.pi * 4e6 / 1e8, rel=1e-12)


def test_two_overlapping_circles_count_their_union_not_their_sum():
    r, d = 2000.0, 2000.0
    lens = 2 * r * r * math.acos(d / (2 * r)) - (d / 2) * math.sqrt(4 * r * r - d * d)
    union = 2 * math.pi * r * r - lens
    table = coverage_by_town(points([(4000, 5000), (6000, 5000)]), square_town(), radius_m=r)
    covered = table["covered_m2"].iloc[0]
    assert covered == pytest.approx(union, rel=1e-12)
    assert covered < 2 * math.pi * r * r * 0.85


def test_facility_outside_the_town_covers_a_circular_segment():
    # Centre 1000 m west of the town's west edge: the covered part is the segment beyond
    # the chord at distance d = 1000 from the centre.
    r, d = 2000.0, 1000.0
    segment = r * r * math.acos(d / r) - d * math.sqrt(r * r - d * d)
    table = coverage_by_town(points([(-1000, 5000)]), square_town(), radius_m=r)
    assert table["covered_m2"].iloc[0] == pytest.approx(segment, rel=1e-12)


def test_identical_points_are_counted_once():
    fac = points([(5000, 5000)] * 3)
    report = coverage_report(fac, square_town(), radius_m=1000)
    assert report.facilities == 3 and report.distinct_locations == 1
    assert report.towns["covered_m2"].iloc[0] == pytest.approx(math.pi * 1e6, rel=1e-12)


def test_same_point_different_categories_keeps_the_larger_disc():
    fac = points([(5000, 5000), (5000, 5000)]).assign(category=["incubator", "university"])
    table = coverage_by_town(fac, square_town())
    assert table["covered_m2"].iloc[0] == pytest.approx(math.pi * 25e6, rel=1e-12)


def test_small_disc_inside_a_larger_one_adds_nothing():
    # The small circle comes within 10 m of the large one's edge, so the cells there are
    # undecided and the boundary integral must know the small circle is swallowed.
    fac = points([(10_000, 10_000), (12_990, 10_000)]).assign(
        category=["university", "incubator"])  # 5000 m and 2000 m
    table = coverage_by_town(fac, square_town(20_000))
    assert table["covered_m2"].iloc[0] == pytest.approx(math.pi * 25e6, rel=1e-12)


def test_town_fully_covered_and_no_facilities():
    full = coverage_by_town(points([(5000, 5000)]), square_town(), radius_m=8000)
    assert full["covered_share"].iloc[0] == pytest.approx(1.0, abs=1e-12)
    none = coverage_by_town(points([]), square_town(), radius_m=1000)
    assert none["covered_m2"].iloc[0] == 0.0
    gaps = gap_polygons(points([]), square_town(), radius_m=1000)
    assert gaps["gap_m2"].iloc[0] == pytest.approx(1e8)


def random_case(n: int, seed: int = 42):
    """Seeded facilities (two categories) around a town with a hole and a second part."""
    rng = np.random.default_rng(seed)
    outer = Polygon([(0, 0), (9000, 0), (9000, 6000), (4000, 8000), (0, 6000)],
                    holes=[[(3000, 2000), (5000, 2000), (5000, 4000), (3000, 4000)]])
    island = box(10_000, 0, 12_000, 2_000)
    town = shapely.affinity.translate(shapely.MultiPolygon([outer, island]), X0, Y0)
    towns = gpd.GeoDataFrame({"key": ["t"]}, geometry=[town], crs=CRS)
    xy = rng.uniform([-1000, -1000], [13_000, 9_000], size=(n, 2))
    categories = rng.choice(["incubator", "lab"], size=n)  # 2000 m and 3000 m by default
    return points([tuple(p) for p in xy]).assign(category=categories), towns, town


def union_area(fac, radii, town, quad_segs, *, circumscribed=False):
    """Buffer-and-union reference; circumscribed polygons contain the circles."""
    scale = 1 / math.cos(math.pi / (4 * quad_segs)) if circumscribed else 1.0
    discs = shapely.buffer(fac.geometry.to_numpy(), np.asarray(radii) * scale,
                           quad_segs=quad_segs)
    return shapely.intersection(shapely.union_all(discs), town).area


@pytest.mark.parametrize(("n", "radius"), [(400, 300.0), (60, 1000.0), (30, 2500.0)])
def test_coverage_matches_a_fine_buffer_and_union(n, radius):
    """Against 512-gons (area error 2.5e-5 at the edges): agreement well inside that."""
    fac, towns, town = random_case(n)
    ours = coverage_by_town(fac, towns, radius_m=radius)["covered_m2"].iloc[0]
    fine = union_area(fac, np.full(n, radius), town, 128)
    # A leaf cell missing one of its discs shows up as 5e-4 here.
    assert ours == pytest.approx(fine, rel=3e-5)
    assert ours >= fine  # inscribed polygons lose area, never gain it
    mixed = coverage_by_town(fac, towns)["covered_m2"].iloc[0]
    assert mixed == pytest.approx(union_area(fac, facility_radii(fac), town, 128), rel=3e-5)


@pytest.mark.parametrize("radius", [500.0, 250 * math.sqrt(2)])
def test_degenerate_lattice_circles_through_cell_corners_and_tangent_to_edges(radius):
    """Facilities on a 250 m lattice: circles pass through quadtree cell corners, through
    each other's crossings and touch the town's edges; a buffer-and-union agrees."""
    rng = np.random.default_rng(3)
    xy = rng.integers(-4, 26, size=(33, 2)) * 250.0
    fac = points([tuple(p) for p in xy])
    town = box(X0, Y0, X0 + 6000, Y0 + 4000)
    towns = gpd.GeoDataFrame({"key": ["t"]}, geometry=[town], crs=CRS)
    ours = coverage_by_town(fac, towns, radius_m=radius)["covered_m2"].iloc[0]
    assert ours == pytest.approx(union_area(fac, np.full(len(fac), radius), town, 128),
                                 rel=3e-5)
    corner = coverage_by_town(points([(0, 0)]), towns, radius_m=radius)["covered_m2"].iloc[0]
    assert corner == pytest.approx(math.pi * radius**2 / 4, rel=1e-12)
    tangent = coverage_by_town(points([(6000 + radius, 2000)]), towns, radius_m=radius)
    assert tangent["covered_m2"].iloc[0] == pytest.approx(0.0, abs=0.1)  # float noise only


def test_many_facilities_between_inscribed_and_circumscribed_unions():
    fac, towns, town = random_case(3000)
    ours = coverage_by_town(fac, towns, radius_m=300)["covered_m2"].iloc[0]
    radii = np.full(len(fac), 300.0)
    inner = union_area(fac, radii, town, QUAD_SEGS)
    outer = union_area(fac, radii, town, QUAD_SEGS, circumscribed=True)
    assert inner < ours < outer
    assert ours == pytest.approx(inner, rel=POLY_ERR)


def test_gap_polygons_are_the_town_minus_the_discs():
    gaps = gap_polygons(points([(5000, 5000)]), square_town(), radius_m=2000)
    assert list(gaps.index) == [7] and gaps.crs == CRS
    gap = gaps.geometry.iloc[0]
    assert gaps["gap_m2"].iloc[0] == pytest.approx(1e8 - math.pi * 4e6, rel=1e-12)
    assert gap.area == pytest.approx(1e8 - disc_polygon_area(2000), rel=1e-9)  # drawn: 64-gon
    assert gap.intersection(Point(X0 + 5000, Y0 + 5000).buffer(1990)).area < 1.0
    assert gap.contains(Point(X0 + 500, Y0 + 500))


def test_service_area_polygons_are_accepted_as_coverage():
    areas = gpd.GeoDataFrame(geometry=[box(X0 - 100, Y0, X0 + 2000, Y0 + 1000),
                                       box(X0 + 1000, Y0, X0 + 3000, Y0 + 1000)], crs=CRS)
    table = coverage_by_town(areas, square_town())
    assert table["covered_m2"].iloc[0] == pytest.approx(3000 * 1000)
    with pytest.raises(ValueError, match="already service areas"):
        coverage_by_town(areas, square_town(), radius_m=100)


def test_geographic_input_is_refused():
    towns = square_town().to_crs(4326)
    fac = points([(5000, 5000)]).to_crs(4326)
    with pytest.raises(ValueError, match="geographic CRS"):
        coverage_by_town(fac, towns, radius_m=1000)
    with pytest.raises(ValueError, match="different CRSs"):
        coverage_by_town(points([(0, 0)]).to_crs(32651), square_town(), radius_m=1000)


def test_non_point_facilities_named():
    fac = points([(0, 0), (5, 5)])
    fac.loc["F2", "geometry"] = LineString([(X0, Y0), (X0 + 1, Y0)])
    with pytest.raises(DataError, match=r"row 2.*LineString"):
        coverage_by_town(fac, square_town(), radius_m=100)


def test_district_land_shares_only_where_the_polygon_is_land():
    districts = gpd.GeoDataFrame(
        {"code": ["1", "2"], "name_zh": ["陆区", "海区"], "name_en": ["Land", "Coast"],
         "coastal": [False, True], "land_area_ok": [True, False]},
        geometry=[box(X0, Y0, X0 + 10_000, Y0 + 10_000),
                  box(X0 + 10_000, Y0, X0 + 20_000, Y0 + 10_000)], crs=CRS)
    table = coverage_by_district(points([(5000, 5000), (15_000, 5000)]), districts,
                                 radius_m=1000)
    assert table["covered_share"].iloc[0] == pytest.approx(math.pi * 1e6 / 1e8)
    assert math.isnan(table["covered_share"].iloc[1])
    assert table["covered_m2"].iloc[1] == pytest.approx(math.pi * 1e6)
    assert "sea" in table["note"].iloc[1] and table["note"].iloc[0] == ""


# -- population --------------------------------------------------------------------------------


def blocks() -> gpd.GeoDataFrame:
    # A: 2 km x 2 km with 1000 people, B: 2 km x 2 km with 2000 people, half outside the town.
    return gpd.GeoDataFrame({"population": [1000, 2000]},
                            geometry=[box(X0, Y0, X0 + 2000, Y0 + 2000),
                                      box(X0 + 2000, Y0, X0 + 4000, Y0 + 2000)], crs=CRS)


def test_population_polygons_areal_interpolation_hand_worked():
    town = gpd.GeoDataFrame({"key": ["t"]}, geometry=[box(X0, Y0, X0 + 3000, Y0 + 2000)],
                            crs=CRS)
    r = 500.0
    # One disc inside A; one straddling the A|B edge (half in each).
    fac = points([(1000, 1000), (2000, 1000)])
    table = coverage_by_town(fac, town, radius_m=r, population=blocks())
    assert table["population"].iloc[0] == pytest.approx(1000 + 2000 / 2)
    disc = disc_polygon_area(r)
    expected = 1000 / 4e6 * 1.5 * disc + 2000 / 4e6 * 0.5 * disc  # = 490.1 people
    assert table["covered_population"].iloc[0] == pytest.approx(expected, rel=1e-6)
    assert table["population_share"].iloc[0] == pytest.approx(expected / 2000, rel=1e-6)


def test_population_points_count_when_within_reach():
    people = gpd.GeoDataFrame(
        {"pop": [10, 20, 40, 80]},
        geometry=[Point(X0 + 5000, Y0 + 5999), Point(X0 + 5000, Y0 + 6001),
                  Point(X0 + 9000, Y0 + 9000), Point(X0 - 50, Y0 + 5000)], crs=CRS)
    table = coverage_by_town(points([(5000, 5000)]), square_town(), radius_m=1000,
                             population=people)
    assert table["population"].iloc[0] == 70  # the last point lies outside the town
    assert table["covered_population"].iloc[0] == 10


def test_read_population_file_and_bad_file_lists_every_problem():
    pop = read_population(DATA / "population_blocks.geojson")
    assert pop.crs == CRS and pop["population"].tolist() == [1000, 3000]
    with pytest.raises(DataError) as info:
        read_population(DATA / "bad_population.geojson")
    text = str(info.value)
    assert "3 problems" in text
    assert "row 1, field 'population'" in text and "-5" in text
    assert "row 2" in text and "'many'" in text
    assert "row 3, field 'geometry'" in text and "Point" in text
    with pytest.raises(DataError, match="no column 'people'; columns are block, pop"):
        read_population(DATA / "population_blocks.geojson", column="people")


# -- siting ------------------------------------------------------------------------------------


def candidates(xy: list[tuple[float, float]], ids: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[Point(X0 + x, Y0 + y) for x, y in xy], crs=CRS,
                            index=pd.Index(ids, name="candidate"))


def test_greedy_siting_picks_the_known_best_then_stops():
    existing = points([(2500, 5000)])
    cands = candidates([(2500, 5000), (0, 0), (7500, 5000)], ["covered", "corner", "open"])
    result = suggest_sites(existing, square_town(), k=3, new_radius_m=2000,
                           candidates_m=cands, radius_m=2500)
    picks = result.picks
    assert list(picks.index) == ["open", "corner"]  # the covered site adds nothing: stop
    assert picks["rank"].tolist() == [1, 2]
    assert picks["gain_m2"].iloc[0] == pytest.approx(disc_polygon_area(2000), rel=1e-9)
    assert picks["gain_m2"].iloc[1] == pytest.approx(disc_polygon_area(2000) / 4, rel=1e-6)
    assert result.baseline_covered_m2 == pytest.approx(math.pi * 2500**2, rel=1e-12)
    assert picks["covered_m2_after"].iloc[-1] == pytest.approx(
        result.baseline_covered_m2 + picks["gain_m2"].sum())
    again = suggest_sites(existing, square_town(), k=3, new_radius_m=2000,
                          candidates_m=cands, radius_m=2500)
    pd.testing.assert_frame_equal(pd.DataFrame(again.picks), pd.DataFrame(picks))


def test_siting_by_population_prefers_people_over_area():
    people = gpd.GeoDataFrame({"population": [500.0, 1.0]},
                              geometry=[Point(X0 + 500, Y0 + 500), Point(X0 + 5000, Y0 + 5000)],
                              crs=CRS)
    cands = candidates([(5000, 5000), (0, 0)], ["centre", "corner"])
    by_area = suggest_sites(points([]), square_town(), k=1, new_radius_m=1000,
                            candidates_m=cands, radius_m=1000)
    by_people = suggest_sites(points([]), square_town(), k=1, new_radius_m=1000,
                              candidates_m=cands, radius_m=1000, population=people)
    assert list(by_area.picks.index) == ["centre"] and by_area.objective == "area"
    assert list(by_people.picks.index) == ["corner"] and by_people.objective == "population"
    assert by_people.picks["gain_population"].iloc[0] == 500.0


def test_grid_candidates_inside_the_town_on_round_coordinates():
    grid = grid_candidates(square_town(), spacing_m=1000)
    assert len(grid) == 81  # 9 x 9: points on the boundary are not inside
    assert grid.index[0] == "sq-0001" and set(grid["town"]) == {"sq"}
    assert (np.mod(grid.geometry.x, 1000) == 0).all()
    with pytest.raises(ValueError, match="spacing_m"):
        grid_candidates(square_town(), spacing_m=10)


def test_read_candidates_csv():
    cands = read_candidates(DATA / "candidates.csv")
    assert list(cands.index) == ["east", "west"] and cands.crs == CRS


# -- network reach -----------------------------------------------------------------------------


def square_lines() -> gpd.GeoDataFrame:
    # Streets 1-2, 2-3, 3-4 of a 1 km square; no street between 4 and 1.
    corners = [(X0, Y0), (X0 + 1000, Y0), (X0 + 1000, Y0 + 1000), (X0, Y0 + 1000)]
    return gpd.GeoDataFrame(geometry=[LineString(corners[:3]), LineString(corners[2:])],
                            crs=CRS)


def test_four_node_network_isochrone_is_the_reachable_streets_buffered():
    net = network_from_lines(square_lines())
    assert net.graph.number_of_nodes() == 4 and net.length_m == pytest.approx(3000)
    fac = points([(0, 0)], ids=["A"])
    # 6 km/h for 15 min = 1500 m: all of 1-2 (1000 m) and half of 2-3.
    iso = isochrones(fac, net, mode="walk", minutes=15, speed_kmh=6, edge_buffer_m=50)
    assert list(iso.index) == ["A"]
    assert iso["reach_m"].iloc[0] == 1500 and iso["street_m"].iloc[0] == pytest.approx(1500)
    expected = LineString([(X0, Y0), (X0 + 1000, Y0), (X0 + 1000, Y0 + 500)]).buffer(
        50, quad_segs=QUAD_SEGS)
    assert iso.geometry.iloc[0].symmetric_difference(expected).area < 1.0
    # Corner 4 is 1000 m away as the crow flies but 3000 m by street: not reached.
    assert not iso.geometry.iloc[0].contains(Point(X0, Y0 + 1000))


def test_network_off_street_facility_walks_to_the_network_first():
    net = network_from_lines(square_lines())
    iso = isochrones(points([(-300, 0)]), net, mode="walk", minutes=10, speed_kmh=6)
    # 1000 m budget: 300 m to node 1, then 700 m along 1-2.
    assert iso["snap_m"].iloc[0] == pytest.approx(300) and iso["on_network"].iloc[0]
    assert iso["street_m"].iloc[0] == pytest.approx(1000)
    near = isochrones(points([(-400, 0)]), net, mode="walk", minutes=2, speed_kmh=6)
    assert near["street_m"].iloc[0] == pytest.approx(200)  # part of the walk only
    far = isochrones(points([(-3000, 0)]), net, mode="walk", minutes=10, speed_kmh=6)
    assert not far["on_network"].iloc[0] and far.geometry.iloc[0].is_empty


def test_graphml_directed_for_driving_and_lengths_from_geometry():
    walk = read_network(DATA / "square_network.graphml", mode="walk")
    drive = read_network(DATA / "square_network.graphml", mode="drive")
    assert not walk.directed and drive.directed
    assert walk.length_m == pytest.approx(3000)  # the file's length=999 is ignored
    fac = points([(1000, 1000)])  # node 3
    budget = dict(minutes=1.5, speed_kmh=60)  # 1500 m
    assert isochrones(fac, walk, mode="walk", **budget)["street_m"].iloc[0] == pytest.approx(
        2500)  # 3-4, 3-2 and half of 2-1
    assert isochrones(fac, drive, mode="drive", **budget)["street_m"].iloc[0] == pytest.approx(
        1000)  # only 3 -> 4 is a way out
    with pytest.raises(DataError, match="no 'crs' attribute"):
        read_network(DATA / "no_crs.graphml")


def test_osm_file_through_gdal_and_lonlat_graph():
    net = read_network(DATA / "square_network.osm")
    assert net.graph.number_of_nodes() == 4
    assert 2900 < net.length_m < 3100  # ~0.01 degree sides at 31 N
    graph = nx.Graph(crs="EPSG:4326")
    graph.add_node("a", x=121.2, y=31.0)
    graph.add_node("b", x=121.21, y=31.0)
    graph.add_edge("a", "b", length=1.0)
    assert network_from_graph(graph, crs="EPSG:4326").length_m == pytest.approx(955, abs=5)


def test_network_coverage_never_exceeds_the_disc_of_the_same_reach():
    net = network_from_lines(square_lines())
    fac = points([(0, 0)])
    iso = isochrones(fac, net, mode="walk", minutes=15, speed_kmh=6)
    town = square_town(2000)
    by_network = coverage_by_town(iso, town)["covered_m2"].iloc[0]
    by_disc = coverage_by_town(fac, town, radius_m=1500 + 50)["covered_m2"].iloc[0]
    expected = iso.geometry.iloc[0].intersection(town.geometry.iloc[0]).area
    assert by_network == pytest.approx(expected) and by_network < by_disc


def test_reach_and_modes():
    assert reach_m("walk", 15) == pytest.approx(SPEEDS_KMH["walk"] * 250)
    with pytest.raises(ValueError, match="unknown mode"):
        reach_m("swim", 15)
    with pytest.raises(ValueError, match="minutes"):
        reach_m("walk", 0)


# -- the bundled data, the cache and the CLI -----------------------------------------------------


def test_bundled_data_matches_naive_union_at_2_km(bundled_atlas):
    table = coverage_by_town(bundled_atlas.facilities_m, bundled_atlas.towns_m, radius_m=2000)
    discs = shapely.buffer(bundled_atlas.facilities_m.geometry.to_numpy(), 2000,
                           quad_segs=QUAD_SEGS)
    union = shapely.union_all(discs)
    naive = [union.intersection(t).area for t in bundled_atlas.towns_m.geometry]
    np.testing.assert_allclose(table["covered_m2"], naive, rtol=POLY_ERR)
    assert list(table["key"]) == list(bundled_atlas.towns["key"])


def test_run_coverage_is_cached_per_filter_and_parameters(bundled_atlas):
    from geo.analysis import CoverageParams, run_coverage
    from geo.query import Filter

    flt = Filter.create(towns=["jiading"])
    first = run_coverage(bundled_atlas, flt, CoverageParams(radius_m=3000)).report
    assert run_coverage(bundled_atlas, Filter.create(towns=["嘉定"]),
                        CoverageParams(radius_m=3000)).report is first
    other = run_coverage(bundled_atlas, flt, CoverageParams(radius_m=1000)).report
    assert other is not first
    assert (other.towns["covered_m2"] <= first.towns["covered_m2"]).all()
    assert first.districts is not None and first.gaps.crs == CRS


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="newtown")
    add_coverage_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_coverage_json_and_gaps_geojson(tmp_path, capsys, bundled_atlas):
    target = tmp_path / "gaps.geojson"
    code, out, _ = run_cli(["coverage", "--radius-m", "3000", "--town", "jiading", "--json",
                            "--gaps-out", str(target)], capsys)
    assert code == 0
    doc = json.loads(out)
    kept, excluded = analysable(bundled_atlas.facilities.query("town == 'jiading'"))
    assert doc["excluded_placeholders"] == list(excluded)
    table = coverage_by_town(bundled_atlas.facilities_m.loc[kept.index], bundled_atlas.towns_m,
                             radius_m=3000)
    got = {t["key"]: t for t in doc["towns"]}
    for key, covered in zip(table["key"], table["covered_m2"], strict=True):
        assert got[key]["covered_m2"] == pytest.approx(covered, abs=0.1)
    assert doc["filter"] == {"town": "jiading"} and doc["parameters"]["radius_m"] == 3000
    assert got["jiading"]["name_zh"] == "嘉定新城"
    written = json.loads(target.read_text(encoding="utf-8"))
    assert "crs" not in written and len(written["features"]) == 5
    lon, lat = shapely.get_coordinates(shapely.from_geojson(
        json.dumps(written["features"][0]["geometry"]))).T
    assert 120.8 < lon.min() <= lon.max() < 122.3
    assert 30.6 < lat.min() <= lat.max() < 31.9
    assert (target.parent / "gaps.geojson.meta.json").is_file()


def test_cli_coverage_table_with_population_and_errors(tmp_path, capsys):
    code, out, _ = run_cli(["coverage", "--life-circle", "15min", "--lang", "en",
                            "--population", str(DATA / "population_blocks.geojson")], capsys)
    assert code == 0
    assert "Jiading New Town 嘉定新城" in out and "800 m" in out and "pop. share" in out
    code, _, err = run_cli(["coverage", "--population",
                            str(DATA / "bad_population.geojson")], capsys)
    assert code == 2 and "bad_population.geojson" in err and "row 2" in err
    code, _, err = run_cli(["coverage", "--radius-m", "-5"], capsys)
    assert code == 2 and "positive" in err


def test_cli_coverage_with_a_network_outside_the_towns(capsys, bundled_atlas):
    code, out, _ = run_cli(["coverage", "--network", str(DATA / "square_network.graphml"),
                            "--mode", "bike", "--minutes", "10", "--json"], capsys)
    assert code == 0
    net = json.loads(out)["network"]
    assert net["reach_m"] == pytest.approx(2500) and net["nodes"] == 4 and not net["directed"]
    # The synthetic square lies far from every bundled facility: none is on the network.
    kept, _ = analysable(bundled_atlas.facilities)
    assert len(net["facilities_off_network_m"]) == len(kept)  # placeholders are left out
    assert all(t["network_covered_m2"] == 0 and t["disc_covered_m2"] == 0
               for t in net["towns"].values())


def test_cli_site_json(capsys):
    code, out, _ = run_cli(["site", "--k", "2", "--radius-m", "3000", "--town", "qingpu",
                            "--new-category", "incubator", "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["parameters"]["new_radius_m"] == 2000 and doc["towns"] == ["qingpu"]
    assert [p["rank"] for p in doc["picks"]] == [1, 2]
    assert all(p["town"] == "qingpu" and p["gain_m2"] > 0 for p in doc["picks"])
    assert doc["picks"][0]["gain_m2"] >= doc["picks"][1]["gain_m2"]
    code, _, err = run_cli(["site", "--k", "1"], capsys)
    assert code == 2 and "--new-radius-m" in err


def test_coverage_says_distinct_locations_not_sites(capsys):
    """Coverage counts distinct points, not the scorecard's distinct sites: key and words say so."""
    from dashboard.cli import main

    assert main(["coverage", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "distinct_sites" not in doc
    n = doc["distinct_locations"]
    assert 0 < n <= doc["facilities"]
    assert main(["coverage", "--lang", "en"]) == 0
    assert f"({n} distinct locations)" in capsys.readouterr().out
