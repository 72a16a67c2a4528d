"""The dashboard's plain functions, without a browser: URL state, selection, details, datum."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from dashboard.callbacks.filters import selection_view
from dashboard.callbacks.map import basemap_view
from dashboard.callbacks.url import url_for_controls
from dashboard.components.details import details_panel
from dashboard.components.map import tile_layers
from dashboard.mapdata import MapData, to_wgs84_polygon
from dashboard.state import AS_OF_ALL, filter_from_controls
from dashboard.urlstate import PageState, parse_state, state_to_search
from geo.crs import wgs84_to_gcj02
from geo.query import Filter


@pytest.fixture(scope="module")
def mapdata(bundled_atlas):
    return MapData(bundled_atlas)


def test_page_state_round_trip():
    state = PageState(filter=Filter.create(towns=["jiading"], industries=["auto"], text="上汽"),
                      lang="en", basemap="amap", view=(31.3, 121.2, 11))
    search = state_to_search(state)
    assert search.startswith("?town=jiading&industry=auto&q=")
    again = parse_state(search)
    assert again == state
    assert again.datum == "gcj02"
    assert parse_state("").filter == Filter()
    assert state_to_search(PageState()) == ""


def test_bad_url_parts_are_dropped_with_a_notice():
    state = parse_state("?town=jiading&industry=nope&basemap=google&view=1,2")
    assert state.filter.towns == ("jiading",)
    assert state.filter.industries == ()
    assert state.basemap == "none"
    assert state.view is None
    assert len(state.notices) == 3
    assert any("did you mean" in n or "unknown industry" in n for n in state.notices)


def test_selection_view_counts_match_filter(mapdata, bundled_atlas):
    flt = filter_from_controls({"industries": ["auto"], "text": ""})
    view = selection_view(mapdata, flt, datum="wgs84", lang="zh")
    expected = flt.select(bundled_atlas.facilities)
    assert 0 < len(expected) < len(bundled_atlas.facilities)
    sites = expected[expected["membership"] != "placeholder"]
    assert len(view.geojson["features"]) == len(sites)
    assert view.count == f"已选 {len(expected)} / {len(bundled_atlas.facilities)} 个设施"
    assert {f["id"] for f in view.geojson["features"]} == set(sites.index)
    # placeholders are drawn apart, one marker per shared point, every row accounted for
    placeholder_ids = {i for f in view.placeholders["features"] for i in f["properties"]["ids"]}
    assert placeholder_ids == set(expected.index) - set(sites.index)
    assert sum(f["properties"]["count"] for f in view.placeholders["features"]) == \
        len(expected) - len(sites)


def test_as_of_view_says_how_many_undated_are_left_out(mapdata, bundled_atlas):
    fac = bundled_atlas.facilities
    flt = filter_from_controls({"as_of": 2015})
    assert flt.as_of == 2015
    assert filter_from_controls({"as_of": AS_OF_ALL}).as_of is None
    view = selection_view(mapdata, flt, datum="wgs84", lang="en")
    undated = int(fac["year"].isna().sum())
    assert view.count == (f"{len(flt.select(fac))} of {len(fac)} facilities selected"
                          f"; {undated} undated not shown")


def test_placeholder_tooltips_escape_names(bundled_atlas):
    fac = bundled_atlas.facilities
    rows = fac[fac["membership"] == "placeholder"].head(2).copy()
    rows["name_zh"] = ["<img src=x onerror=alert(1)>", "a & b"]
    features = MapData(bundled_atlas).placeholder_features(rows, datum="wgs84", lang="zh")
    tips = " ".join(f["properties"]["tooltip"] for f in features["features"])
    assert "<img" not in tips and "&lt;img src=x onerror=alert(1)&gt;" in tips
    assert "a &amp; b" in tips


def test_gcj02_display_shifts_points_and_boundaries(mapdata, bundled_atlas):
    fac = bundled_atlas.facilities
    wgs = mapdata.facility_features(fac, datum="wgs84", lang="zh")
    gcj = mapdata.facility_features(fac, datum="gcj02", lang="zh")
    x0, y0 = wgs["features"][0]["geometry"]["coordinates"]
    x1, y1 = gcj["features"][0]["geometry"]["coordinates"]
    ex, ey = wgs84_to_gcj02(x0, y0)
    assert (x1, y1) == pytest.approx((float(ex), float(ey)), abs=2e-6)
    assert abs(x1 - x0) > 0.003  # hundreds of metres, not a rounding difference
    towns_wgs = mapdata.boundaries["towns"]["wgs84"]["features"][0]["geometry"]
    towns_gcj = mapdata.boundaries["towns"]["gcj02"]["features"][0]["geometry"]
    assert towns_wgs != towns_gcj


def test_basemap_none_has_no_tiles_and_amap_is_gcj(mapdata):
    assert tile_layers("none", tianditu_key=None) == []
    assert tile_layers("tianditu", tianditu_key=None) == []  # hidden without a key
    tiles, *_rest, note = basemap_view(mapdata, "amap", "en", tianditu_key=None)
    assert "autonavi" in tiles[0].url
    assert note.startswith("Coordinates on screen: GCJ-02")
    tiles, *_rest, note = basemap_view(mapdata, "tianditu", "zh", tianditu_key="K123")
    assert tiles[0].url.endswith("tk=K123")
    assert "WGS84" in note


def test_drawn_polygon_is_converted_back_to_wgs84():
    wgs_ring = np.array([(121.2, 31.3), (121.3, 31.3), (121.3, 31.4), (121.2, 31.4),
                         (121.2, 31.3)])
    gx, gy = wgs84_to_gcj02(wgs_ring[:, 0], wgs_ring[:, 1])
    drawn = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"type": "rectangle"},
         "geometry": {"type": "Polygon", "coordinates": [np.column_stack([gx, gy]).tolist()]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point",
                                                           "coordinates": [121, 31]}},
    ]}
    polygon = to_wgs84_polygon(drawn, "gcj02")
    assert polygon.equals_exact(shapely.Polygon(wgs_ring), 1e-7)
    assert to_wgs84_polygon(None, "wgs84") is None
    assert to_wgs84_polygon({"features": []}, "wgs84") is None


def test_url_for_controls_keeps_language_and_view():
    flt = Filter.create(towns=["qingpu"])
    search = url_for_controls("?lang=en&town=jiading", flt, "osm", {"lat": 31.1, "lng": 121.1}, 12)
    assert search == "?town=qingpu&lang=en&basemap=osm&view=31.10000,121.10000,12"


def test_details_panel_shows_provenance_and_keeps_markup_as_text(mapdata, bundled_atlas):
    fid = bundled_atlas.facilities.index[0]
    panel = details_panel(mapdata, fid, "en")
    text = json.dumps(panel.to_plotly_json(), default=lambda o: o.to_plotly_json(),
                      ensure_ascii=False)
    row = bundled_atlas.facilities.loc[fid]
    assert row["name_zh"] in text
    assert row["coord_source"] in text
    assert "Coordinate precision" in text
    assert "Relation to the town" in text


@pytest.mark.parametrize("lang, sep", [("en", ", "), ("zh", "、")])
def test_details_panel_joins_industries_per_language(mapdata, bundled_atlas, lang, sep):
    from dashboard.components.details import industries_text
    from geo import catalog

    fac = bundled_atlas.facilities
    fid = next(i for i in fac.index
               if len([k for k in fac.at[i, "industries"].split(";") if k]) > 1)
    keys = [k for k in fac.at[fid, "industries"].split(";") if k]
    want = sep.join(catalog.INDUSTRIES[k].label(lang) for k in keys)
    assert industries_text(fac.at[fid, "industries"], lang) == want
    text = json.dumps(details_panel(mapdata, fid, lang).to_plotly_json(),
                      default=lambda o: o.to_plotly_json(), ensure_ascii=False)
    assert json.dumps(want, ensure_ascii=False) in text


def test_tooltips_escape_html_from_data(bundled_atlas):
    import geopandas as gpd

    hostile = bundled_atlas.facilities.iloc[:1].copy()
    hostile["name_zh"] = "<img src=x onerror=alert(1)>"
    from dataclasses import replace

    atlas = replace(bundled_atlas, facilities=gpd.GeoDataFrame(hostile, crs=4326))
    features = MapData(atlas).facility_features(atlas.facilities, datum="wgs84", lang="zh")
    tip = features["features"][0]["properties"]["tooltip"]
    assert tip == "&lt;img src=x onerror=alert(1)&gt;"


def test_precision_circle_has_the_facility_radius_in_the_display_datum(mapdata, bundled_atlas):
    from dashboard.callbacks.map import precision_circle

    fac = bundled_atlas.facilities
    fid = fac.index[0]
    (circle,) = precision_circle(mapdata, fid, "gcj02", "zh")
    assert circle.radius == float(fac.at[fid, "coord_precision_m"])
    gx, gy = wgs84_to_gcj02(fac.geometry.x[fid], fac.geometry.y[fid])
    assert circle.center == pytest.approx([float(gy), float(gx)])
    assert precision_circle(mapdata, "no-such-id", "wgs84", "zh") == []


def test_export_bundle_is_the_selection_plus_its_metadata(mapdata, bundled_atlas):
    import io
    import zipfile

    from dashboard.callbacks.export import export_bundle

    flt = Filter.create(towns=["nanhui"])
    name, data, _messages = export_bundle(mapdata, flt, fmt="geojson",
                                          layer_names=["facilities"], datum="wgs84")
    assert name.endswith(".geojson.zip")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        geojson = next(n for n in names if n.endswith(".geojson"))
        meta = json.loads(archive.read(next(n for n in names if n.endswith(".meta.json"))))
        doc = json.loads(archive.read(geojson))
    expected = flt.select(bundled_atlas.facilities)
    assert {f["properties"]["id"] for f in doc["features"]} == set(expected.index)
    assert meta["filter"] == {"town": "nanhui"}
    with pytest.raises(ValueError, match="nothing to export"):
        export_bundle(mapdata, flt, fmt="geojson", layer_names=[], datum="wgs84")


def test_drawn_area_survives_the_draw_controls_mount_report():
    from dash import no_update

    from dashboard.callbacks.filters import drawn_area_from_shapes, drawn_area_geojson

    empty = {"type": "FeatureCollection", "features": []}
    link = "121.1,31.2;121.15,31.2;121.15,31.25"
    # Mount, or the control emptied after a capture: the area (a shared link's) stays.
    assert drawn_area_from_shapes(empty, "none", link) is no_update
    assert drawn_area_from_shapes(empty, "none", None) is no_update
    square = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
              "geometry": {"type": "Polygon", "coordinates": [[[121.2, 31.3], [121.3, 31.3],
                                                               [121.3, 31.4], [121.2, 31.3]]]}}]}
    area = drawn_area_from_shapes(square, "none", None)
    assert Filter.from_query_string(f"within={area}").within.area == pytest.approx(0.005)
    # A second shape joins the first: two polygons, the areas add up.
    both = Filter.from_query_string(f"within={drawn_area_from_shapes(square, 'none', link)}")
    assert both.within.geom_type == "MultiPolygon"
    assert both.within.area == pytest.approx(0.005 + 0.00125)
    shown = drawn_area_geojson(area, "gcj02")["features"][0]["geometry"]["coordinates"][0]
    assert min(x for x, _ in shown) > 121.2  # shifted east for AMap


def test_cluster_run_on_the_real_data_and_its_export(mapdata, bundled_atlas):
    import io
    import zipfile

    from dashboard.callbacks.clusters import cluster_focus, display_layers, run_clusters
    from dashboard.callbacks.export import analysis_layers, export_bundle

    result = run_clusters(mapdata, Filter(), method="dbscan", eps_m=3000, min_samples=3,
                          min_cluster_size=5, extras=["density"], bandwidth_m=2000,
                          cell="h3:8", lang="en")
    sizes = [r["size"] for r in result["rows"]]
    placeholders = bundled_atlas.facilities["placement"].str.endswith("_placeholder").sum()
    assert result["excluded_placeholders"] == placeholders > 0
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) + result["noise"] == len(
        bundled_atlas.facilities) - placeholders
    hulls, density, _cells = display_layers(result, "gcj02")
    assert len(hulls["features"]) == len(sizes) and density["features"]
    area, _view = cluster_focus(mapdata, result, 0, "wgs84")
    members = set(result["rows"][0]["members"].split(";"))
    chosen = set(Filter.from_query_string(f"within={area}").select(bundled_atlas.facilities)
                 .index)
    assert members <= chosen
    layers, params = analysis_layers(result)
    assert set(layers) == {"clusters", "density"}
    assert params["clusters"]["parameters"]["method"] == "dbscan"
    assert params["clusters"] == result["results"]["clusters"]
    _name, data, _ = export_bundle(mapdata, Filter(), fmt="gpkg",
                                   layer_names=["facilities", "analysis"], datum="wgs84",
                                   analysis=layers, analysis_params=params)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        meta = json.loads(archive.read(next(n for n in archive.namelist()
                                            if n.endswith(".meta.json"))))
    assert meta["analysis"]["clusters"]["parameters"]["eps_m"] == 3000
    assert meta["analysis"]["clusters"]["labels"] == result["results"]["clusters"]["labels"]


def test_too_many_points_are_aggregated_or_cut_to_the_view(mapdata, bundled_atlas, monkeypatch):
    import dashboard.callbacks.filters as filters

    monkeypatch.setattr(filters, "POINT_LIMIT", 20)  # the real limit is thousands
    fac = bundled_atlas.facilities
    view = selection_view(mapdata, Filter(), datum="wgs84", lang="en", zoom=9)
    assert view.geojson["features"] == []
    cells = view.aggregate["features"]
    # placeholders are never aggregated as sites: they keep their own markers
    sites = int((fac["membership"] != "placeholder").sum())
    assert sum(c["properties"]["count"] for c in cells) == sites
    assert view.aggregate["properties"]["cell_m"] == 5000
    assert "5,000 m cell" in view.map_note
    # every facility lies in the cell that counts it
    polygons = [shapely.geometry.shape(c["geometry"]) for c in cells]
    for point in fac.loc[fac["membership"] != "placeholder"].geometry:
        assert sum(p.covers(point) for p in polygons) >= 1
    # zoomed in on one area: only the facilities in view, as points
    # placeholders have their own markers: the view's points are the sites and areas
    fengxian = fac[(fac["town"] == "fengxian") & (fac["membership"] != "placeholder")]
    x0, y0, x1, y1 = fengxian.total_bounds
    view = selection_view(mapdata, Filter(), datum="wgs84", lang="en",
                          bounds=[[y0, x0], [y1, x1]], zoom=12)
    shown = {f["id"] for f in view.geojson["features"]}
    assert set(fengxian.index) <= shown and len(shown) <= 20
    assert view.aggregate is None


def test_coverage_run_matches_the_library_and_suggests_sites(mapdata, bundled_atlas):
    from dashboard.callbacks.coverage import display_layers, run_coverage
    from geo.coverage import coverage_report
    from geo.placement import analysable

    flt = Filter.create(towns=["nanhui"])
    result = run_coverage(mapdata, flt, radius_mode="fixed", radius_m=3000, k=2,
                          new_radius_m=3000, lang="en")
    kept, excluded = analysable(flt.select(bundled_atlas.facilities))
    assert result["params"]["excluded_placeholders"] == len(excluded)
    report = coverage_report(bundled_atlas.facilities_m.loc[kept.index], bundled_atlas.towns_m,
                             radius_m=3000)
    nanhui = next(r for r in result["rows"] if r["town"] == "nanhui")
    expected = report.towns.set_index("key").at["nanhui", "covered_share"]
    assert nanhui["share"] == pytest.approx(expected, abs=1e-4)
    sites = result["sites"]["features"]
    assert [f["properties"]["rank"] for f in sites] == [1, 2]
    assert all(f["properties"]["gain_km2"] > 0 for f in sites)
    covered, gaps, shown_sites = display_layers(result, "gcj02")
    assert len(covered["features"]) == 5 and gaps["features"] and len(shown_sites["features"]) == 2
    coastal = [d for d in result["districts"] if d["name"] == "Pudong New Area"]
    assert coastal and coastal[0]["land_share"] is None  # sea in the polygon: no land share


def test_coverage_with_uploaded_facilities_and_population(mapdata, bundled_atlas):
    import geopandas as gpd

    from dashboard.callbacks.coverage import run_coverage, uploaded_population

    # a population polygon of 1,000 people wholly inside Fengxian new town
    fengxian = bundled_atlas.town_geometry("fengxian")
    block = fengxian.representative_point().buffer(0.005)
    assert fengxian.contains(block)
    store = {"kind": "boundaries", "geojson": json.loads(gpd.GeoDataFrame(
        {"name_zh": ["街区"], "人口": [1000]}, geometry=[block], crs=4326).to_json())}
    population = uploaded_population(store)
    # one uploaded facility at the block's centre covers all of it
    mine = gpd.GeoDataFrame({"id": ["U1"], "town": ["fengxian"], "industries": ["ai"],
                             "category": ["lab"], "level": ["other"], "status": ["operating"],
                             "name_zh": ["上传"], "name_en": [""], "address": [""]},
                            geometry=[block.centroid], crs=4326).set_index("id", drop=False)
    only_mine = Filter.create(text="上传")  # no bundled facility has this in its name
    result = run_coverage(mapdata, only_mine, radius_mode="fixed",
                          radius_m=3000, k=0, new_radius_m=3000, lang="en",
                          uploaded=mine, population=population)
    row = next(r for r in result["rows"] if r["town"] == "fengxian")
    assert row["population"] == 1000 and row["covered_population"] == 1000
    assert result["params"]["uploaded_facilities"] == 1
    without = run_coverage(mapdata, only_mine, radius_mode="fixed", radius_m=3000, k=0,
                           new_radius_m=3000, lang="en")
    assert next(r for r in without["rows"] if r["town"] == "fengxian")["share"] == 0


def test_uploaded_facilities_join_the_clusters(mapdata, bundled_atlas):
    import geopandas as gpd

    from dashboard.callbacks.clusters import run_clusters

    # three uploaded points within 200 m of each other, far from any bundled facility
    xs, ys = [121.30, 121.301, 121.302], [30.95, 30.951, 30.95]
    mine = gpd.GeoDataFrame({"id": ["U1", "U2", "U3"], "town": ["fengxian"] * 3,
                             "industries": ["ai;auto_icv"] * 3, "name_zh": ["上传"] * 3,
                             "name_en": [""] * 3, "address": [""] * 3},
                            geometry=gpd.points_from_xy(xs, ys), crs=4326)
    mine = mine.set_index("id", drop=False)
    flt = Filter.create(text="上传")
    result = run_clusters(mapdata, flt, method="dbscan", eps_m=500, min_samples=3,
                          min_cluster_size=5, extras=[], bandwidth_m=2000, cell="h3:8",
                          lang="en", uploaded=mine)
    (row,) = result["rows"]
    assert row["size"] == 3 and set(row["members"].split(";")) == {"U1", "U2", "U3"}
    assert "Automotive" in row["layers"] and "Artificial intelligence" in row["layers"]


def test_the_page_preloads_chunks_that_exist(bundled_atlas):
    from dashboard.app import PRELOAD_CHUNKS, create_app

    client = create_app(bundled_atlas).server.test_client()
    html = client.get("/").get_data(as_text=True)
    for chunk in PRELOAD_CHUNKS:
        url = f"/_dash-component-suites/{chunk}"
        assert f'<link rel="preload" as="script" href="{url}">' in html
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert b"webpackChunk" in answer.data or b"push([[" in answer.data, url


def test_the_view_of_a_filter_is_computed_once_and_equals_the_uncached_one(bundled_atlas):
    from dashboard.callbacks import filters

    mapdata = MapData(bundled_atlas)
    flt = Filter.create(towns=["jiading"])
    first = filters.first_view(mapdata, flt, "wgs84", "zh", 9)
    again = filters.first_view(mapdata, Filter.create(towns=["jiading"]), "wgs84", "zh", 9)
    assert again is first  # the same filter: the cached view
    fresh = filters.selection_view(mapdata, flt, datum="wgs84", lang="zh", zoom=9)
    assert fresh is not first
    assert (fresh.geojson, fresh.count, fresh.figure.to_dict()) == (
        first.geojson, first.count, first.figure.to_dict())
    other = filters.first_view(mapdata, flt, "gcj02", "zh", 9)
    assert other is not first and other.geojson != first.geojson  # the datum is in the key
    # Once the map has said where it is, the view depends on it: never cached.
    bounds = [[31.2, 121.1], [31.5, 121.4]]
    assert filters.selection_view(mapdata, flt, datum="wgs84", lang="zh", zoom=9,
                                  bounds=bounds) is not filters.selection_view(
        mapdata, flt, datum="wgs84", lang="zh", zoom=9, bounds=bounds)


def test_open_tab_and_drawers_round_trip_through_the_url():
    state = parse_state("?town=jiading&tab=coverage&filters=off")
    assert (state.tab, state.filters_open) == ("coverage", False)
    assert parse_state(state_to_search(state)) == state
    assert parse_state("?town=jiading").tab is None and parse_state("").filters_open
    unknown = parse_state("?tab=nope")
    assert unknown.tab is None and any("tab" in n for n in unknown.notices)
    search = url_for_controls("?lang=en", Filter(), "none", None, None,
                              ui={"tab": "summary", "filters": False})
    assert parse_state(search) == PageState(lang="en", tab="summary", filters_open=False)


def test_filter_controls_carry_membership_and_as_of(bundled_atlas):
    flt = filter_from_controls({"memberships": ["placeholder"], "as_of": 2020})
    assert flt == Filter.create(memberships=["placeholder"], as_of=2020)
    assert filter_from_controls({"as_of": None}) == Filter()


def test_choosing_towns_fits_them_and_their_facilities(mapdata, bundled_atlas):
    from dashboard.callbacks.map import fit_towns

    def contains(outer, inner):
        (s, w), (n, e) = outer
        (ts, tw), (tn, te) = inner
        return s <= ts and w <= tw and n >= tn and e >= te

    fac = bundled_atlas.facilities
    for towns in (["nanhui"], ["qingpu"], ["nanhui", "jiading"]):
        flt = Filter.create(towns=towns)
        fit = fit_towns(mapdata, flt, "none")["bounds"]
        for key in towns:
            assert contains(fit, mapdata.town_bounds[key])
        chosen = flt.select(fac)
        (s, w), (n, e) = fit
        assert ((chosen.geometry.x >= w) & (chosen.geometry.x <= e)
                & (chosen.geometry.y >= s) & (chosen.geometry.y <= n)).all()
    # Qingpu's associated facilities reach well beyond its boundary: the fit is wider
    (_, w), (_, e) = fit_towns(mapdata, Filter.create(towns=["qingpu"]), "none")["bounds"]
    (_, tw), (_, te) = mapdata.town_bounds["qingpu"]
    assert w < tw - 0.05 and e > te + 0.05
    # the other filters narrow what is fitted (here: Qingpu's facilities inside it only)
    inside = fit_towns(mapdata, Filter.create(towns=["qingpu"], memberships=["inside"]),
                       "none")["bounds"]
    assert contains(inside, mapdata.town_bounds["qingpu"]) and inside[0][1] > w
    assert fit_towns(mapdata, Filter(), "none")["bounds"] == mapdata.towns_view_bounds
    one = fit_towns(mapdata, Filter.create(towns=["nanhui"]), "none")["bounds"]
    shifted = fit_towns(mapdata, Filter.create(towns=["nanhui"]), "amap")["bounds"]
    assert shifted != one  # GCJ-02 under AMap


def test_summary_table_splits_each_town_total_by_membership(mapdata, bundled_atlas):
    view = selection_view(mapdata, Filter(), datum="wgs84", lang="en")
    fac = bundled_atlas.facilities
    body = view.table.children[1].children
    rows = {getattr(r, "className", None): r for r in body}
    towns = ["jiading", "qingpu", "songjiang", "fengxian", "nanhui"]
    for kind in ("inside", "associated", "placeholder"):
        row = rows[f"membership-row membership-{kind}"]
        values = [cell.children for cell in row.children[1:]]
        # the same figures as an independent count of the frame
        assert values == [int(((fac["town"] == t) & (fac["membership"] == kind)).sum())
                          for t in towns], kind


@pytest.mark.parametrize("lang, sep, other", [("en", ", ", "、"), ("zh", "、", ", ")])
def test_cluster_rows_list_names_with_the_language_s_separator(mapdata, lang, sep, other):
    """English rows say 'Automotive, High-end equipment', not 'Automotive、High-end ...'."""
    from dashboard.callbacks.clusters import run_clusters

    result = run_clusters(mapdata, Filter(), method="dbscan", eps_m=3000, min_samples=3,
                          min_cluster_size=5, extras=[], bandwidth_m=2000, cell="h3:8",
                          lang=lang)
    several = [r["layers"] for r in result["rows"] if sep in r["layers"]]
    assert several, "the bundled data has clusters with several dominant layers"
    assert not any(other in r["layers"] or other in r["towns"] for r in result["rows"])


def test_the_coverage_card_agrees_with_the_table_for_the_filtered_town(mapdata):
    """Filtered to Songjiang, the card showed the five towns' share (10.5 %) beside the
    table's Songjiang row (53.8 %); it now shows the filtered towns' share."""
    from dashboard.callbacks.cards import cards_for
    from dashboard.callbacks.coverage import run_coverage

    flt = Filter.create(towns=["songjiang"])
    result = run_coverage(mapdata, flt, radius_mode="fixed", radius_m=3000, k=0,
                          new_radius_m=3000, lang="en")
    row = next(r for r in result["rows"] if r["town"] == "songjiang")
    expected = f"{float(row['share']):.1%}"  # the table's figure
    cards = " ".join(str(c) for c in cards_for(mapdata, flt, result, "en"))
    assert expected in cards
    everything = cards_for(mapdata, Filter(), result, "en")
    covered = sum(float(r["covered_km2"]) for r in result["rows"])
    area = sum(float(r["area_km2"]) for r in result["rows"])
    assert f"{covered / area:.1%}" in " ".join(str(c) for c in everything)


def test_the_export_tab_offers_the_parks_layer_like_the_cli(mapdata, bundled_atlas):
    import io
    import zipfile

    from dashboard.callbacks.export import export_bundle
    from dashboard.components.export import EXPORT_LAYERS

    assert "parks" in EXPORT_LAYERS
    _name, data, _ = export_bundle(mapdata, Filter(), fmt="geojson",
                                   layer_names=["facilities", "parks"], datum="wgs84")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parks = next(n for n in archive.namelist() if "parks" in n and n.endswith(".geojson"))
        doc = json.loads(archive.read(parks))
    assert {f["properties"]["id"] for f in doc["features"]} == set(bundled_atlas.parks["id"])
    assert len(doc["features"]) == len(bundled_atlas.parks) > 0


def test_use_my_upload_is_offered_only_for_a_usable_upload():
    from dashboard.callbacks.coverage import upload_choice

    def square(props):
        ring = [[121.2, 31.0], [121.3, 31.0], [121.3, 31.1], [121.2, 31.1], [121.2, 31.0]]
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": props,
             "geometry": {"type": "Polygon", "coordinates": [ring]}}]}

    def state(store):
        value, options, hint = upload_choice(store, "en")
        return value, options[0]["disabled"], bool(hint)

    assert state(None) == ([], True, True)  # nothing uploaded: off, disabled, hint
    # polygons without a population column add nothing to a coverage run
    plain = {"kind": "boundaries", "name": "b.geojson", "geojson": square({"name_zh": "甲"})}
    assert state(plain) == ([], True, True)
    people = {"kind": "boundaries", "name": "p.geojson",
              "geojson": square({"name_zh": "乙", "population": 1200})}
    assert state(people) == (["use"], False, False)
    points = {"kind": "facilities", "name": "f.csv", "geojson": {"type": "FeatureCollection",
                                                                 "features": []}}
    assert state(points) == (["use"], False, False)
