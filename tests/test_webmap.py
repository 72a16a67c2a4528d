"""Standalone HTML map and print PNG: offline, escaped, complete, atomic; known-answer helpers."""

from __future__ import annotations

import io
import json
import math
import re
import struct
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from matplotlib import image as mpl_image
from shapely.geometry import LineString, box

from dashboard import cli
from geo import catalog, printmap, webmap
from geo.export import ALL_FORMATS, FORMATS, MAP_FORMATS, export, export_path
from geo.printmap import build_printmap, nice_scale_length_m, north_angle_deg
from geo.query import Filter
from geo.webmap import OSM_TILE_URL, build_webmap, facility_colours

HOSTILE = [
    '<img src=x onerror="window.__xss=1">',
    "</script><script>window.__xss=2</script>",
    "{{ 7*7 }} ${window.__xss=3} `tick`",
    "<b>粗体</b> & \u2028 line",
]
META = {"filter": {"town": "jiading"}, "sources": {"facilities.csv": {"modified": "2025-01-02"}}}

# --- fixtures: hand-made layers, CRS written out ------------------------------------------------


def make_facilities(names: list[str] | None = None) -> gpd.GeoDataFrame:
    names = names or ["嘉定智能网联汽车创新中心", "上海集成电路研发中心", "未知产业平台"]
    n = len(names)
    industries = ["auto_icv;ai", "ic", "no_such_industry"] * (n // 3 + 1)
    lon = 121.20 + 0.03 * np.arange(n)
    lat = 31.33 + 0.01 * np.arange(n)
    frame = pd.DataFrame({
        "id": [f"JD-{i + 1:03d}" for i in range(n)],
        "name_zh": names,
        "name_en": [f"Facility {i + 1}" for i in range(n)],
        "category": ["innovation_centre"] * n,
        "industries": industries[:n],
        "town": ["jiading"] * n,
        "district": ["嘉定区"] * n,
        "address": ["嘉定区 <i>墨玉南路</i>"] * n,
        "coord_source": ["manual"] * n,
        "coord_precision_m": [30.0] * n,
        "level": ["national"] * n,
        "status": ["operating"] * n,
        "year": pd.array([2019] + [None] * (n - 1), dtype="Int64"),
        "source": ["沪科提复〔2023〕42号"] * n,
        "in_town": [True] * n,
    })
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def make_towns() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"key": ["jiading", "qingpu"], "name_zh": ["嘉定新城", "青浦新城"],
         "name_en": ["Jiading New Town", "Qingpu New Town"],
         "boundary_quality": ["approximate", "approximate"]},
        geometry=[box(121.15, 31.28, 121.32, 31.42), box(121.03, 31.10, 121.16, 31.20)],
        crs="EPSG:4326")


def make_lines() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"key": ["g60"], "name_zh": ["G60沪昆高速（上海段）"], "name_en": ["G60"],
         "boundary_quality": ["schematic"]},
        geometry=[LineString([(121.0, 30.9), (121.4, 31.1)])], crs="EPSG:4326")


def layers(facilities: gpd.GeoDataFrame | None = None) -> dict[str, gpd.GeoDataFrame]:
    return {"facilities": make_facilities() if facilities is None else facilities,
            "towns": make_towns(), "corridor_lines": make_lines()}


def json_block(page: str, element_id: str) -> object:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>',
                      page, re.DOTALL)
    assert match, element_id
    return json.loads(match.group(1))


def column(col: dict, i: int) -> str:
    return col["v"][i] if "v" in col else col["d"][col["c"][i]]


def png_size(raw: bytes) -> tuple[int, int]:
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    assert raw[12:16] == b"IHDR"
    width, height = struct.unpack(">II", raw[16:24])
    return width, height


@pytest.fixture(scope="module")
def page() -> str:
    return build_webmap(layers(), metadata=META)


# --- HTML: offline ------------------------------------------------------------------------------

URL_ATTRIBUTE = re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*((?:[a-z][a-z0-9+.-]*:)?//[^"'\s>]*)""",
                           re.IGNORECASE)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]*)")


def test_no_external_url_in_src_href_or_css(page):
    assert URL_ATTRIBUTE.findall(page) == []
    for target in CSS_URL.findall(page):
        assert target.startswith(("data:", "#default#VML")), target
    assert "<link" not in page  # every stylesheet is inline
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert "src" not in tag, tag
    # folium's CDNs and what they would pull in are gone
    for cdn in ("cdn.jsdelivr", "cdnjs", "code.jquery", "bootstrap", "fontawesome",
                "awesome-markers", "netdna"):
        assert cdn not in page
    # the only tile address is the optional OSM template, inside the script
    assert page.count(OSM_TILE_URL) == 1


def test_without_online_basemap_the_page_names_no_tile_server():
    page = build_webmap(layers(), metadata=META, online_basemap=False)
    assert "openstreetmap" not in page.lower()
    assert "L.tileLayer(" not in page


# --- HTML: content ------------------------------------------------------------------------------


def test_every_feature_is_in_the_page(page):
    data = json_block(page, "newtown-data")
    fac = data["layers"]["facilities"]
    assert fac["n"] == 3 and len(fac["lon"]) == len(fac["lat"]) == 3
    assert fac["lon"][1] == pytest.approx(121.23) and fac["lat"][1] == pytest.approx(31.34)
    assert [column(fac["title"], i) for i in range(3)] == make_facilities()["name_zh"].tolist()
    towns = data["layers"]["towns"]["geojson"]["features"]
    assert [f["properties"]["t"] for f in towns] == ["嘉定新城", "青浦新城"]
    assert [f["properties"]["c"] for f in towns] == [catalog.TOWNS["jiading"].colour,
                                                     catalog.TOWNS["qingpu"].colour]
    assert len(data["layers"]["corridor_lines"]["geojson"]["features"]) == 1
    # layer order: lines under towns under facilities (as in the dashboard)
    assert list(data["layers"]) == ["corridor_lines", "towns", "facilities"]


def test_popup_fields_and_labels(page):
    fac = json_block(page, "newtown-data")["layers"]["facilities"]
    fields = {label: [column(col, i) for i in range(3)] for label, col in fac["fields"]}
    assert fields["类别"] == ["创新中心"] * 3
    assert fields["产业"] == ["智能网联汽车、人工智能", "集成电路", "no_such_industry"]
    assert fields["级别"] == ["国家级"] * 3 and fields["状态"] == ["运营中"] * 3
    assert fields["坐标精度"] == ["约 ±30 米"] * 3
    assert fields["资料来源"] == ["沪科提复〔2023〕42号"] * 3
    assert fields["年份"] == ["2019", "", ""]
    assert [column(fac["colour"], i) for i in range(3)] == ["#46a0c8", "#e6194b", "#666666"]


def test_legend_caveat_and_filter(page):
    for key in catalog.INDUSTRY_LAYERS:
        assert catalog.INDUSTRIES[key].zh in page
    assert "集成电路 (1)" in page and "汽车 (1)" in page and "生物医药 (0)" in page
    assert webmap.caveat_text("zh") in page
    assert "筛选: town=jiading" in page
    assert "默认无底图，离线可用" in page


def test_english_page():
    page = build_webmap(layers(), lang="en", metadata={})
    fac = json_block(page, "newtown-data")["layers"]["facilities"]
    assert column(fac["title"], 0) == "Facility 1"
    assert column(fac["subtitle"], 0) == "嘉定智能网联汽车创新中心"
    assert webmap.caveat_text("en") in page and '<html lang="en">' in page


def test_drawn_area_from_the_filter_is_a_layer():
    area = box(121.1, 31.2, 121.4, 31.5)
    page = build_webmap(layers(), metadata={"filter": Filter.create(within=area)})
    drawn = json_block(page, "newtown-data")["layers"]["within"]["geojson"]["features"]
    assert len(drawn) == 1
    assert "绘制区域" in page


def test_hostile_names_are_data_not_markup():
    page = build_webmap(layers(make_facilities(HOSTILE[:3])),
                        title="<script>alert(1)</script>", metadata={"note": HOSTILE[3]})
    for name in HOSTILE:
        if "<" in name or "\u2028" in name:
            assert name not in page
    assert "<img src=x" not in page and "window.__xss=2</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the title, escaped
    fac = json_block(page, "newtown-data")["layers"]["facilities"]
    assert [column(fac["title"], i) for i in range(3)] == HOSTILE[:3]
    assert json_block(page, "newtown-metadata")["note"] == HOSTILE[3]


def test_facility_colours_follow_the_first_layer():
    frame = make_facilities()
    colours = facility_colours(frame)
    assert colours.index.equals(frame.index)
    assert colours.tolist() == ["#46a0c8", "#e6194b", webmap.DEFAULT_COLOUR]
    with_layers = frame.assign(layers=["ai;auto", "", "ic"])
    assert facility_colours(with_layers).tolist() == ["#4363d8", webmap.DEFAULT_COLOUR,
                                                      "#e6194b"]


# --- HTML: small and bad input -----------------------------------------------------------------


def test_empty_selection_gives_a_page_that_says_so():
    page = build_webmap(layers(make_facilities().iloc[:0]), metadata=META)
    assert json_block(page, "newtown-data")["layers"]["facilities"]["n"] == 0
    assert "当前选择没有设施。" in page


def test_missing_geometry_is_skipped():
    frame = make_facilities()
    frame.loc[frame.index[1], "geometry"] = None
    fac = json_block(build_webmap({"facilities": frame}), "newtown-data")["layers"]["facilities"]
    assert fac["n"] == 2


def test_degenerate_rows_and_metadata_still_give_a_map():
    from shapely.geometry import Point

    frame = make_facilities()
    frame.loc[frame.index[0], "geometry"] = Point(math.nan, math.nan)
    frame.loc[frame.index[2], ["name_zh", "name_en"]] = ["", None]
    page = build_webmap({"facilities": frame, "towns": make_towns().iloc[:0]},
                        metadata={"analysis": {"eps_m": math.nan, "bands": [math.inf, 1.0]}})
    fac = json_block(page, "newtown-data")["layers"]["facilities"]
    assert fac["n"] == 2  # the NaN point is left out
    assert [column(fac["title"], i) for i in range(2)] == ["上海集成电路研发中心", "JD-003"]
    assert json_block(page, "newtown-metadata") == {"analysis": {"eps_m": None,
                                                                 "bands": [None, 1.0]}}
    picture = build_printmap({"facilities": frame}, size_px=(300, 200), dpi=50)
    assert png_size(picture.png) == (300, 200)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ({"facilities": make_facilities().to_crs(4549)}, ValueError,
         r"layer 'facilities' must be in EPSG:4326.*EPSG:4549"),
        ({"facilities": make_facilities().set_crs(None, allow_override=True)}, ValueError,
         "no CRS"),
        ({"facilities": pd.DataFrame({"a": [1]})}, TypeError, "should be a GeoDataFrame"),
        ({}, ValueError, "no layers"),
    ],
)
def test_bad_layers_are_refused(bad, error, message):
    with pytest.raises(error, match=message):
        build_webmap(bad)
    with pytest.raises(error, match=message):
        build_printmap(bad)


def test_bad_language_is_refused():
    with pytest.raises(ValueError, match="lang must be one of zh, en, got 'fr'"):
        build_webmap(layers(), lang="fr")


# --- PNG ----------------------------------------------------------------------------------------


def test_png_has_the_requested_size_and_draws_the_facilities():
    picture = build_printmap(layers(), metadata=META, size_px=(800, 600), dpi=100)
    assert png_size(picture.png) == (800, 600)
    pixels = mpl_image.imread(io.BytesIO(picture.png), format="png")[..., :3]
    ic_red = np.array([0xE6, 0x19, 0x4B]) / 255  # the IC facility's colour
    assert (np.abs(pixels - ic_red).max(axis=2) < 0.06).sum() >= 10


def test_png_default_size_is_a4_landscape_at_150_dpi():
    assert png_size(build_printmap(layers()).png) == (1754, 1240)


def test_png_without_a_cjk_font_falls_back_to_english(monkeypatch):
    monkeypatch.setattr(printmap, "cjk_font", lambda: None)
    picture = build_printmap(layers(), lang="zh", title="新城")
    assert picture.lang == "en" and picture.font is None
    assert any("English" in m for m in picture.messages)
    assert png_size(picture.png) == printmap.DEFAULT_SIZE_PX


def test_png_with_a_cjk_font_draws_chinese():
    if printmap.cjk_font() is None:
        pytest.skip("no CJK font installed")
    picture = build_printmap(layers(make_facilities(HOSTILE[:3])), lang="zh")
    assert picture.lang == "zh" and picture.messages == ()


def test_png_of_empty_and_single_point_layers():
    one = make_facilities().iloc[:1]
    assert png_size(build_printmap({"facilities": one}, size_px=(400, 300), dpi=100).png) == (
        400, 300)
    empty = build_printmap({"facilities": one.iloc[:0]}, size_px=(400, 300), dpi=100)
    assert png_size(empty.png) == (400, 300)


@pytest.mark.parametrize(("size", "dpi"), [((50, 600), 100), ((800, 600), 5)])
def test_png_bad_size_is_refused(size, dpi):
    with pytest.raises(ValueError, match=r"size_px|dpi"):
        build_printmap(layers(), size_px=size, dpi=dpi)


@pytest.mark.parametrize(
    ("width_m", "expected_m"),
    [(50_000, 10_000), (123_000, 20_000), (7_000, 1_000), (100, 20), (26_000, 5_000),
     (10_000, 2_000)],
)
def test_nice_scale_length(width_m, expected_m):
    assert nice_scale_length_m(width_m) == pytest.approx(expected_m)


@pytest.mark.parametrize("bad", [0.0, -5.0, math.nan, math.inf])
def test_nice_scale_length_refuses_bad_width(bad):
    with pytest.raises(ValueError, match="positive number of metres"):
        nice_scale_length_m(bad)


def test_north_arrow_follows_the_meridian_convergence():
    from pyproj import Transformer

    to_grid = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
    on_meridian = to_grid.transform(120.0, 31.0)
    east = to_grid.transform(121.5, 31.0)
    assert north_angle_deg(*on_meridian) == pytest.approx(0.0, abs=1e-4)
    # convergence = atan(tan(dlon) * sin(lat)) = 0.7726 deg; true north leans west of grid up
    expected = -math.degrees(math.atan(math.tan(math.radians(1.5)) * math.sin(math.radians(31))))
    assert north_angle_deg(*east) == pytest.approx(expected, abs=2e-3)
    with pytest.raises(ValueError, match="geographic CRS"):
        north_angle_deg(121.5, 31.0, crs="EPSG:4326")


# --- export(): atomic, sidecar, datum -----------------------------------------------------------


def test_formats_are_listed_separately():
    assert MAP_FORMATS == ("html", "png")
    assert ALL_FORMATS[: len(FORMATS)] == FORMATS and ALL_FORMATS[len(FORMATS):] == MAP_FORMATS
    assert export_path("out/view", fmt="html").name == "view.html"
    assert export_path("out/view.png", fmt="png").name == "view.png"
    with pytest.raises(ValueError, match=r"a png export is written as \*\.png, not \*\.html"):
        export_path("out/view.html", fmt="png")


@pytest.mark.parametrize("fmt", MAP_FORMATS)
def test_export_writes_the_map_and_its_sidecar(tmp_path, fmt):
    result = export(layers(), tmp_path / "view", fmt=fmt, metadata=META)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"view.{fmt}", f"view.{fmt}.meta.json"]
    doc = json.loads(result.sidecar.read_text(encoding="utf-8"))
    assert doc["format"] == fmt and doc["filter"] == META["filter"]
    assert doc["layers"]["facilities"]["count"] == 3 and result.counts["towns"] == 2
    assert doc["map"]["lang"] == "zh"
    if fmt == "png":
        assert png_size(result.output.read_bytes()) == printmap.DEFAULT_SIZE_PX
        assert doc["map"]["drawn_in"].startswith("EPSG:4549")
    else:
        page = result.output.read_text(encoding="utf-8")
        assert json_block(page, "newtown-data")["layers"]["facilities"]["n"] == 3
        assert doc["exported_at"] in page  # the page and its sidecar tell the same time


@pytest.mark.parametrize("fmt", MAP_FORMATS)
def test_failed_map_export_leaves_nothing_and_keeps_older_files(tmp_path, monkeypatch, fmt):
    first = export(layers(), tmp_path / "view", fmt=fmt, metadata=META)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_replace = Path.replace
    calls = []

    def flaky_replace(self, target):  # type: ignore[no-untyped-def]
        calls.append(target)
        if len(calls) == 2:  # the map is in place, the sidecar rename fails
            raise OSError("rename failed")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", flaky_replace)
    with pytest.raises(OSError, match="rename failed"):
        export(layers(make_facilities(["新名字"] * 3)), first.output, fmt=fmt, metadata=META)
    # the rolled-back map is removed; nothing half-written or temporary remains
    assert {p.name for p in tmp_path.iterdir()} <= set(before)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("fmt", MAP_FORMATS)
def test_map_build_failure_writes_nothing(tmp_path, monkeypatch, fmt):
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(webmap, "build_webmap", broken)
    monkeypatch.setattr(printmap, "build_printmap", broken)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        export(layers(), tmp_path / "view", fmt=fmt, metadata=META)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", MAP_FORMATS)
def test_maps_refuse_other_datums(tmp_path, fmt):
    with pytest.raises(ValueError, match=f"{fmt} maps are drawn in WGS84 only"):
        export(layers(), tmp_path / "view", fmt=fmt, datum="gcj02", metadata=META)
    assert list(tmp_path.iterdir()) == []


def test_empty_selection_map_is_valid_with_a_message(tmp_path):
    result = export(layers(make_facilities().iloc[:0]), tmp_path / "none", fmt="html",
                    metadata=META)
    assert result.counts["facilities"] == 0
    assert any("facilities: the selection is empty" in m for m in result.messages)
    assert "当前选择没有设施。" in result.output.read_text(encoding="utf-8")


# --- CLI on the bundled data --------------------------------------------------------------------


def test_cli_exports_html_and_png(bundled_atlas, tmp_path, capsys):
    assert cli.main(["export", "--format", "html", "--town", "jiading", "--lang", "en",
                     "--no-online-basemap", "-o", str(tmp_path / "jd")]) == 0
    page = (tmp_path / "jd.html").read_text(encoding="utf-8")
    selected = Filter.create(towns=["jiading"]).select(bundled_atlas.facilities)
    data = json_block(page, "newtown-data")
    assert data["layers"]["facilities"]["n"] == len(selected) > 0
    assert set(data["layers"]) == {"facilities", "towns", "districts", "corridors",
                                   "corridor_lines", "zones"}
    assert "openstreetmap" not in page.lower()
    assert cli.main(["export", "--format", "png", "-o", str(tmp_path / "all.png")]) == 0
    assert png_size((tmp_path / "all.png").read_bytes()) == printmap.DEFAULT_SIZE_PX
    out = capsys.readouterr().out
    assert "standalone HTML map" in out and "print PNG map" in out


def test_cli_refuses_gcj02_map(tmp_path, capsys):
    assert cli.main(["export", "--format", "png", "--crs", "gcj02",
                     "-o", str(tmp_path / "x.png")]) == 2
    assert "png maps are drawn in WGS84 only" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --- real browser: offline, features drawn, no script from the data runs -----------------------

def open_offline(browser, path: Path):  # type: ignore[no-untyped-def]
    """Open ``path`` with the network cut; return the page and the lists it fills."""
    context = browser.new_context(viewport={"width": 1200, "height": 800}, offline=True)
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route(re.compile(r"^(?!file:|data:)"), lambda route: route.abort())
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("() => window.newtownAtlas && newtownAtlas.layers.facilities")
    return context, page, requests, errors


@pytest.mark.browser
def test_browser_draws_every_layer_with_the_network_blocked(browser, tmp_path):
    path = tmp_path / "map.html"
    path.write_text(build_webmap(layers(make_facilities([f"设施{i}" for i in range(30)])),
                                 metadata=META), encoding="utf-8")
    context, page, requests, errors = open_offline(browser, path)
    try:
        assert page.evaluate("newtownAtlas.layers.facilities.getLayers().length") == 30
        page.wait_for_function(
            "() => document.querySelectorAll('.leaflet-overlay-pane path').length >= 3")
        assert page.locator(".leaflet-overlay-pane path").count() >= 3  # 2 towns + 1 line
        shown = page.locator(".marker-cluster, path.facility-marker").count()
        assert shown >= 1
        assert page.locator(".nt-town-label").count() == 2
        assert page.locator(".leaflet-tile").count() == 0  # blank background: no tiles
        assert errors == []
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    finally:
        context.close()


@pytest.mark.browser
def test_browser_shows_hostile_names_as_text_and_runs_none(browser, tmp_path):
    frame = make_facilities(HOSTILE[:3])
    towns = make_towns().assign(key=["elsewhere", "qingpu"],
                                name_zh=[HOSTILE[0], "青浦新城"])
    path = tmp_path / "hostile.html"
    path.write_text(build_webmap({"facilities": frame, "other_towns": towns},
                                 title=HOSTILE[1], metadata={"note": HOSTILE[2]}),
                    encoding="utf-8")
    context, page, requests, errors = open_offline(browser, path)
    try:
        shown = page.evaluate("""async () => {
            const map = newtownAtlas.map;
            const group = newtownAtlas.layers.facilities;
            const wait = async (ok) => {
                for (let i = 0; i < 100 && !ok(); i++) {
                    await new Promise(done => setTimeout(done, 20));
                }
                return ok();
            };
            const out = [];
            const markers = group.getLayers().sort((a, b) => a.ntIndex - b.ntIndex);
            for (const marker of markers) {
                // past disableClusteringAtZoom every marker is on the map by itself
                map.setView(marker.getLatLng(), 16, {animate: false});
                await new Promise(done => setTimeout(done, 300));  // let the cluster redraw
                if (!(await wait(() => map.hasLayer(marker)))) { return "not shown"; }
                marker.getPopup().options.autoPan = false;  // no pan racing the next setView
                marker.openPopup();
                marker.openTooltip();
                const popup = marker.getPopup().getElement();
                out.push([popup.querySelector('.nt-popup-title').textContent,
                          marker.getTooltip().getElement().textContent,
                          popup.querySelectorAll('img, script, b, i').length]);
                marker.closePopup();
                marker.closeTooltip();
            }
            return out;
        }""")
        assert [row[0] for row in shown] == HOSTILE[:3]
        assert [row[1] for row in shown] == HOSTILE[:3]
        assert [row[2] for row in shown] == [0, 0, 0]
        tooltip = page.evaluate("""() => {
            const shapes = newtownAtlas.layers.other_towns.getLayers()[0];
            const polygon = shapes.getLayers()[0];
            polygon.openTooltip();
            return polygon.getTooltip().getElement().textContent;
        }""")
        assert tooltip == HOSTILE[0]
        assert page.title() == HOSTILE[1]
        assert page.evaluate("typeof window.__xss") == "undefined"
        assert page.locator("img[src=x]").count() == 0
        assert errors == []
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    finally:
        context.close()
