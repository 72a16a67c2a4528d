"""The bundled data: true to its sources, honest about precision, consistent across files."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Point

from geo import catalog
from geo._errors import DataError
from geo.atlas import distinct_sites, membership_counts
from geo.boundaries import EDGE_CONFIDENCE, read_boundaries, town_edges
from geo.crs import to_metric
from geo.settings import DataLayout, bundled_data_dir

DATA = bundled_data_dir()
SEED = "沪科提复〔2023〕42号"

# Every platform, institute, centre and organisation the seed document names in a new town,
# as (town, words that must all appear in one row's zh name).
SEED_ITEMS = [
    ("nanhui", ["健康养老集团"]),
    ("jiading", ["上汽", "创新研究院", "开发院"]),
    ("qingpu", ["复旦", "国际融合创新中心"]),
    ("jiading", ["智能传感器", "创新中心"]),
    ("jiading", ["微系统"]),
    ("jiading", ["光学精密机械"]),
    ("jiading", ["硅酸盐"]),
    ("jiading", ["院士", "成果", "转化"]),
    ("qingpu", ["华为"]),
    ("songjiang", ["G60"]),
    ("songjiang", ["工业互联网"]),
    ("nanhui", ["国际人工智能产业研究院"]),
    ("nanhui", ["国家工业互联网创新中心"]),
    # the municipal manufacturing innovation centres it lists
    (None, ["智能网联汽车"]),
    (None, ["增材制造", "创新中心"]),
    (None, ["激光", "创新中心"]),
    (None, ["海洋工程装备", "创新中心"]),
    (None, ["燃气轮机", "创新中心"]),
    (None, ["燃料电池", "创新中心"]),
]


@pytest.fixture(scope="module")
def fac(bundled_atlas):
    return bundled_atlas.facilities


@pytest.mark.parametrize(("town", "words"), SEED_ITEMS)
def test_every_seed_document_item_has_a_row(fac, town, words):
    names = fac["name_zh"]
    hits = fac[names.map(lambda n: all(w in n for w in words))]
    if town is not None:
        hits = hits[hits["town"] == town]
    assert len(hits) >= 1, f"no row for {words} in {town}"


def test_seed_areas_are_area_features_not_points(bundled_atlas, fac):
    # The pilot zone and Songjiang's industrial-internet designation are areas: they live in
    # zones.geojson and parks.geojson, never as a facility point.
    assert bundled_atlas.zones["name_zh"].str.contains("未来产业先导区").any()
    assert not fac["name_zh"].str.contains("未来产业先导区").any()
    parks = bundled_atlas.parks
    assert (parks["replaces_facility"] == "SJ-003").sum() == 1
    assert "SJ-003" not in fac.index and "NH-004" not in fac.index


def test_seed_rows_cite_the_document(fac):
    seed_rows = fac[fac["source"].str.contains(SEED, regex=False)]
    assert len(seed_rows) >= 20
    for source in seed_rows["source"]:
        assert len(source) > len(SEED) + 5, "cite the passage, not only the document number"


def test_enough_facilities_per_town(fac):
    assert len(fac) >= 55
    counts = fac["town"].value_counts()
    for town in catalog.TOWNS:
        assert counts.get(town, 0) >= 6, town


def test_every_row_carries_provenance_and_honest_precision(fac):
    assert (fac["coord_precision_m"] >= 100).all(), "no row claims better than 100 m"
    located = fac[fac["placement"].isin(["site", "area"])]
    assert (located["coord_precision_m"] <= 10_000).all()
    assert fac["coord_source"].str.len().gt(10).all()
    assert fac["source"].str.len().ge(8).all()  # e.g. "东华大学官网校区地址"
    placeholders = fac[fac["placement"].isin(["town_placeholder", "district_placeholder"])]
    assert (placeholders["coord_precision_m"] >= 3000).all(), \
        "a point placed on a town centre cannot claim better than kilometres"
    assert placeholders["coord_source"].str.contains("placeholder").all()


def test_every_facility_lies_in_shanghai_and_its_district(bundled_atlas, fac):
    city = shapely.union_all(bundled_atlas.city.geometry.to_numpy())
    x, y = fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy()
    assert shapely.contains_xy(city, x, y).all()
    by_name = dict(zip(bundled_atlas.districts["name_zh"], bundled_atlas.districts.geometry,
                       strict=True))
    for fid, district, point in zip(fac.index, fac["district"], fac.geometry, strict=True):
        assert by_name[district].contains(point), f"{fid} not in {district}"


def test_town_association_is_computed_not_hidden(fac):
    huawei = fac[fac["name_zh"].str.contains("华为")].iloc[0]
    assert huawei["town"] == "qingpu"
    assert not huawei["in_town"]  # 金泽, west of 青浦新城
    assert fac["in_town"].sum() >= len(fac) / 2


def test_towns_are_valid_inside_their_district_and_near_official_area(bundled_atlas):
    towns_m = to_metric(bundled_atlas.towns)
    districts_m = to_metric(bundled_atlas.districts).set_index("name_zh")
    assert sorted(towns_m["key"]) == sorted(catalog.TOWNS)
    for _, town in towns_m.iterrows():
        assert town.geometry.is_valid
        official = catalog.TOWNS[town["key"]].official_area_km2
        assert float(town["official_area_km2"]) == official
        assert town.geometry.area / 1e6 == pytest.approx(official, rel=0.02)
        district = districts_m.loc[catalog.TOWNS[town["key"]].district].geometry
        assert town.geometry.difference(district).area / town.geometry.area < 0.01
        assert town["boundary_quality"] == "approximate"
    nanhui = towns_m[towns_m["key"] == "nanhui"].iloc[0]
    assert nanhui["district"] == "浦东新区"


def test_all_sixteen_districts_from_gcj02_source(bundled_atlas):
    districts = bundled_atlas.districts
    assert sorted(districts["name_zh"]) == sorted(d.zh for d in catalog.DISTRICTS.values())
    assert (districts["datum_origin"] == "GCJ-02").all()
    coastal = set(districts.loc[districts["coastal"], "name_zh"])
    assert {"浦东新区", "奉贤区", "金山区", "崇明区"} <= coastal
    assert coastal == {d.zh for d in catalog.DISTRICTS.values() if d.coastal}
    assert not districts.loc[districts["coastal"], "land_area_ok"].any()


def test_corridor_and_zone_are_schematic_and_placed_right(bundled_atlas):
    for layer in (bundled_atlas.corridors, bundled_atlas.corridor_lines, bundled_atlas.zones):
        assert (layer["boundary_quality"] == "schematic").all()
    line = to_metric(bundled_atlas.corridor_lines).geometry.iloc[0]
    assert 35_000 < line.length < 60_000  # 莘庄 to 枫泾: about 45 km
    songjiang = bundled_atlas.town_geometry("songjiang")
    assert bundled_atlas.corridor_lines.geometry.iloc[0].intersects(songjiang.buffer(0.03))
    zone = bundled_atlas.zones.geometry.iloc[0]
    nanhui = bundled_atlas.town_geometry("nanhui")
    assert nanhui.contains(zone.representative_point())


@pytest.mark.parametrize("name", ["shanghai", "districts", "towns", "corridor_lines",
                                  "corridors", "zones"])
def test_boundary_files_are_rfc7946_with_provenance(name):
    doc = json.loads((DataLayout(DATA).boundaries / f"{name}.geojson").read_text("utf-8"))
    assert "crs" not in doc
    for feature in doc["features"]:
        props = feature["properties"]
        for key in ("source", "datum_origin", "boundary_quality", "precision_m"):
            assert props.get(key) not in (None, ""), f"{name}: {key} missing"
        geom = shapely.geometry.shape(feature["geometry"])
        for polygon in getattr(geom, "geoms", [geom]):
            if polygon.geom_type == "Polygon":
                assert polygon.exterior.is_ccw, f"{name}: exterior ring must be CCW"
        coords = json.dumps(feature["geometry"]["coordinates"])
        decimals = max(len(n.split(".")[1]) for n in coords.replace("[", "").replace(
            "]", "").split(",") if "." in n)
        assert decimals <= 7


def test_sources_file_names_every_data_file():
    text = (DATA / "SOURCES.md").read_text("utf-8")
    for path in sorted(Path(DATA, "boundaries").glob("*.geojson")):
        assert path.name in text
    assert "facilities.csv" in text
    assert "GCJ-02" in text and "approximate" in text and "schematic" in text
    assert "tidal flats" in text


# -- data model v2: known answers for the bundled data ---------------------------------------

#: Inside the boundary / associated but outside / placeholder, per town, for the bundled data
#: (data/FACILITIES_NOTES.md §3 quotes them). A change to facilities.csv that moves a count
#: must update this table and the notes together.
BUNDLED_MEMBERSHIP = {
    "jiading": (14, 9, 12),
    "qingpu": (3, 7, 11),
    "songjiang": (5, 10, 10),
    "fengxian": (7, 3, 9),
    "nanhui": (19, 0, 15),
}


def test_membership_counts_per_town_are_the_known_answers(bundled_atlas, fac):
    counts = membership_counts(fac)
    for town, (inside, associated, placeholder) in BUNDLED_MEMBERSHIP.items():
        assert tuple(int(counts[k].loc[town]) for k in ("inside", "associated",
                                                          "placeholder")) == \
            (inside, associated, placeholder), town
    # the same split by an independent route: a spatial join with the town polygons
    located = fac[~fac["placement"].isin(["town_placeholder", "district_placeholder"])]
    joined = gpd.sjoin(located[["town", "geometry"]],
                       bundled_atlas.towns[["key", "geometry"]], predicate="within",
                       how="left")
    in_own = joined["key"].eq(joined["town"]).groupby(level=0).any()
    for town, (inside, associated, _) in BUNDLED_MEMBERSHIP.items():
        mine = in_own[located["town"] == town]
        assert (int(mine.sum()), int((~mine).sum())) == (inside, associated), town


def test_tesla_lies_within_its_precision_of_the_published_site(fac):
    # Gigafactory Shanghai, 同汇路168号: 30.87016656 N, 121.76881044 E (WGS84), the
    # coordinates of its encyclopaedia entry, which cites the land-use grant.
    tesla = fac.loc["NH-012"]
    published = gpd.GeoSeries([Point(121.76881044, 30.87016656)], crs=4326).to_crs(4549)
    placed = gpd.GeoSeries([tesla.geometry], crs=4326).to_crs(4549)
    assert float(placed.distance(published).iloc[0]) <= float(tesla["coord_precision_m"])
    assert tesla["placement"] == "site" and "同汇路168号" in tesla["address"]


def test_parents_exist_and_nested_rows_count_once(fac):
    parents = fac["parent_id"][fac["parent_id"] != ""]
    assert len(parents) >= 10
    assert parents.isin(fac.index).all()
    for child, parent in parents.items():  # no loops: every chain ends
        seen = {child}
        while parent:
            assert parent not in seen, f"parent loop through {child}"
            seen.add(parent)
            parent = fac.at[parent, "parent_id"]
    assert len(distinct_sites(fac)) == len(fac) - len(parents)


def test_every_year_says_what_it_is_the_year_of_and_where_it_comes_from(fac):
    dated = fac[fac["year"].notna()]
    assert len(dated) >= 20
    assert dated["year_event"].isin(list(catalog.YEAR_EVENTS)).all()
    assert (dated["year_source"].str.len() > 8).all()
    assert (fac.loc[fac["year"].isna(), "year_event"] == "").all()


def test_placeholders_and_unknowns_claim_nothing(fac):
    placeholders = fac[fac["membership"] == "placeholder"]
    # six or more Nanhui rows share one point: as placeholders they are not a cluster of sites
    assert (placeholders["town"] == "nanhui").sum() >= 6
    assert set(fac.loc[["NH-002", "NH-003"], "status"]) == {"unknown"}
    assert set(fac.loc[["NH-002", "NH-003"], "level"]) == {"unknown"}


def test_every_town_records_the_source_of_each_edge(bundled_atlas):
    # issue 12: which source each part of each boundary follows, as a property of the town
    edges = town_edges(bundled_atlas.towns)
    assert sorted(edges) == sorted(catalog.TOWNS)
    for town, parts in edges.items():
        drawn = [p for p in parts if p["confidence"] != "not_drawn"]
        assert {p["edge"] for p in drawn} >= {"east", "south", "west", "north"}, town
        for part in parts:
            assert part["confidence"] in EDGE_CONFIDENCE
            assert "http" in str(part["source"]), f"{town} {part['edge']}: cite a page"
            assert str(part["follows"]).strip()
        # the drawn parts chain round the whole hand-drawn ring, vertex by vertex
        ranges = [tuple(p["vertices"]) for p in drawn]
        assert ranges[0][0] == 0
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges)), town
    songjiang_north = [p for p in edges["songjiang"] if p["edge"] == "north"
                       and "卖新公路" in str(p["follows"])]
    assert len(songjiang_north) == 1 and "approximate, not invented" in songjiang_north[0]["note"]
    assert "could not be identified" not in str(
        bundled_atlas.towns.set_index("key").at["songjiang", "source"])


def test_a_town_missing_an_edge_record_is_refused(tmp_path):
    doc = json.loads((DataLayout(DATA).boundaries / "towns.geojson").read_text("utf-8"))
    parts = json.loads(doc["features"][1]["properties"]["edges"])
    doc["features"][1]["properties"]["edges"] = json.dumps(
        [p for p in parts if p["edge"] != "west"], ensure_ascii=False)
    doc["features"][2]["properties"]["edges"] = "not json"
    path = tmp_path / "towns.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_boundaries(path, kind="towns")
    found = {(p.row, p.field): p.message for p in info.value.problems}
    assert "west" in found[(2, "edges")]
    assert "JSON" in found[(3, "edges")]


def test_info_json_keeps_the_edge_records(capsys):
    from dashboard.cli import main

    assert main(["info", "--json"]) == 0
    towns = json.loads(capsys.readouterr().out)["towns"]
    for key in catalog.TOWNS:
        assert {p["edge"] for p in towns[key]["boundary_edges"]} >= {"east", "north"}


#: 滴水湖: published area 5.56 km² (CGTN 2020-11-13); two land points beside it with
#: encyclopaedia coordinates (the China Maritime Museum, west of the lake; 滴水湖站).
DISHUI_AREA_KM2 = 5.56
DISHUI_LAND = {"中国航海博物馆": (121.91583, 30.89833), "滴水湖站": (121.92564, 30.90943)}


def test_dishui_lake_leaves_the_land_points_on_land_and_has_the_published_area(bundled_atlas):
    zone = bundled_atlas.zones.iloc[0]
    centre = gpd.GeoSeries([Point(zone["lake_centre_lon"], zone["lake_centre_lat"])],
                           crs=4326).to_crs(4549).iloc[0]
    lake = centre.buffer(float(zone["lake_radius_m"]), 256)
    assert lake.area / 1e6 == pytest.approx(DISHUI_AREA_KM2, rel=0.02)
    for name, (lon, lat) in DISHUI_LAND.items():
        point = gpd.GeoSeries([Point(lon, lat)], crs=4326).to_crs(4549).iloc[0]
        assert not lake.contains(point), f"{name} stands on land"
        assert point.distance(lake.exterior) < 500, f"{name} is beside the lake"
    # the zone polygon has the lake cut out of it
    zone_m = to_metric(bundled_atlas.zones).geometry.iloc[0]
    assert zone_m.intersection(lake).area < 1_000  # m², the polygon's 32-segment circle
    assert "5.56" in zone["lake_source"] and "http" in zone["lake_source"]


def test_parks_agree_with_the_facility_rows_of_the_same_place(bundled_atlas, fac):
    from geo.atlas import park_facility_mismatches

    assert park_facility_mismatches(bundled_atlas.parks, fac) == []
    parks = bundled_atlas.parks.set_index("id")
    linked = parks[parks["facility_id"].notna()]
    assert len(linked) >= 6
    for pid, park in linked.iterrows():
        row = fac.loc[park["facility_id"]]
        assert row["placement"] == park["placement"], pid
        assert float(row["coord_precision_m"]) == float(park["precision_m"]), pid
        assert row.geometry.distance(park.geometry) < 1e-6, pid
    assert linked.loc["PK-NH-02", "facility_id"] == "NH-023"
    assert fac.at["SJ-012", "level"] == "municipal"
    assert fac.at["NH-014", "parent_id"] == "NH-013"


def test_a_placeholder_park_claiming_less_than_its_reach_is_refused(tmp_path):
    import shutil

    from geo.atlas import load_atlas, park_facility_mismatches

    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    path = data / "boundaries" / "parks.geojson"
    doc = json.loads(path.read_text("utf-8"))
    by_id = {f["properties"]["id"]: f for f in doc["features"]}
    by_id["PK-JD-04"]["properties"]["precision_m"] = 3000  # district placeholder: 嘉定区
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_atlas(data)
    problems = [p for p in info.value.problems if p.file == str(path)]
    assert [(p.row, p.field) for p in problems] == [(4, "precision_m")]
    assert "reaches 18," in problems[0].message  # 嘉定区 reaches ~18.5 km from the point
    # a park that disagrees with its facility row is reported (not refused)
    by_id["PK-JD-04"]["properties"]["precision_m"] = 18500
    by_id["PK-FX-01"]["properties"]["precision_m"] = 2000  # FX-003 says 3500
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    atlas = load_atlas(data)
    assert park_facility_mismatches(atlas.parks, atlas.facilities) == [
        "PK-FX-01: differs from facility FX-003: precision 2000 vs 3500 m"]


#: Distinct sites per town (rows not nested under another row; FACILITIES_NOTES §3). The
#: 2026-11 pass nested NH-014 and the three new 东方芯港 projects (NH-030..032) under NH-013
#: and NH-035 under NH-008, and added two un-nested rows (NH-033, NH-034): Nanhui went from
#: 23 to 23 - 1 + 2 = 24 and the whole set from 93 to 94.
BUNDLED_DISTINCT_SITES = {"jiading": 25, "qingpu": 14, "songjiang": 17, "fengxian": 14,
                          "nanhui": 24}


def test_distinct_sites_per_town_are_the_known_answers(fac):
    sites = distinct_sites(fac)["town"].value_counts()
    assert {t: int(sites.get(t, 0)) for t in catalog.TOWNS} == BUNDLED_DISTINCT_SITES
    # independently: a row is a distinct site when its parent_id is blank
    blank = fac[fac["parent_id"] == ""]["town"].value_counts()
    assert {t: int(blank.get(t, 0)) for t in catalog.TOWNS} == BUNDLED_DISTINCT_SITES
