"""End-to-end paths a planner takes, in headless Chromium against the real app."""

from __future__ import annotations

import math
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

from geo import catalog
from geo.crs import wgs84_to_gcj02
from geo.query import Filter

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
TIMEOUT = 20_000


def open_page(page, url: str):
    page.goto(url)
    page.wait_for_selector(".town-label", timeout=TIMEOUT)
    page.wait_for_function(
        "() => { const c = document.getElementById('selection-count');"
        " return c && /\\d/.test(c.textContent); }", timeout=TIMEOUT)


def open_tab(page, name: str):
    """Open an analysis tab in the right-hand drawer (a no-op when it is open already)."""
    tab = page.locator(f"[role=tab][aria-controls=panel-{name}]")
    if tab.get_attribute("aria-selected") != "true":
        tab.click()
    page.wait_for_selector(f"#panel-{name}", state="visible", timeout=TIMEOUT)


def count_text(page) -> str:
    return page.locator("#selection-count").text_content()


def wait_count(page, n: int, total: int):
    page.wait_for_function(
        "([n, total]) => { const c = document.getElementById('selection-count');"
        " return c && (c.textContent.includes(`${n} / ${total}`) ||"
        " c.textContent.includes(`${n} of ${total}`)); }",
        arg=[n, total], timeout=TIMEOUT)


MARKERS_JS = """() => document.querySelectorAll('path.facility-marker').length
  + [...document.querySelectorAll('.facility-cluster span, .placeholder-marker span')]
      .reduce((sum, e) => sum + Number(e.textContent || 0), 0)"""


def markers_on_map(page) -> int:
    """Facilities drawn: single markers plus the counts shown on cluster icons."""
    return page.evaluate(MARKERS_JS)


def test_first_load_shows_five_labelled_towns(page, server_url, bundled_atlas):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_page(page, server_url)
    labels = page.locator(".town-label").all_inner_texts()
    assert sorted(labels) == sorted(t.zh for t in catalog.TOWNS.values())
    total = len(bundled_atlas.facilities)
    assert f"{total} / {total}" in count_text(page)
    page.wait_for_function("() => document.querySelectorAll('path.facility-marker').length"
                           " + document.querySelectorAll('.facility-cluster').length > 0")
    assert markers_on_map(page) == total
    # District outlines, corridor, zone and town polygons are drawn as SVG paths; they
    # arrive by their own callback, so wait for them rather than race it.
    page.wait_for_function(
        "() => document.querySelectorAll('.leaflet-overlay-pane path').length > 20",
        timeout=TIMEOUT)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
    assert page.js_errors == []
    # Offline: with the "none" basemap nothing is requested from another host.
    hosts = {urlparse(u).hostname for u in requests if not u.startswith("data:")}
    assert hosts == {"127.0.0.1"}, hosts


def select_option(page, dropdown_id: str, text: str):
    """Open a dropdown, type to search, click the option whose label is exactly ``text``."""
    page.click(f"#{dropdown_id}")
    page.keyboard.type(text)
    page.get_by_role("option", name=text, exact=True).click()
    page.keyboard.press("Escape")


def test_filter_to_one_industry_layer(page, server_url, bundled_atlas):
    open_page(page, server_url)
    total = len(bundled_atlas.facilities)
    expected = len(Filter.create(industries=["auto"]).select(bundled_atlas.facilities))
    assert 0 < expected < total
    select_option(page, "filter-industry", "汽车")
    wait_count(page, expected, total)
    page.wait_for_function(f"(n) => ({MARKERS_JS})() === n", arg=expected, timeout=TIMEOUT)
    assert markers_on_map(page) == expected
    page.wait_for_function("() => location.search.includes('industry=auto')", timeout=TIMEOUT)
    # The summary table follows the selection.
    open_tab(page, "summary")
    assert "汽车" in page.locator("#summary-table").inner_text()
    page.click("#filter-reset")
    wait_count(page, total, total)


def test_shared_url_restores_the_view(page, server_url, bundled_atlas):
    query = "?town=jiading,qingpu&industry=auto,ai&lang=en&view=31.30000,121.25000,11"
    open_page(page, server_url + query)
    flt = Filter.from_query_string(query)
    expected = len(flt.select(bundled_atlas.facilities))
    total = len(bundled_atlas.facilities)
    wait_count(page, expected, total)
    chips = page.locator("#filter-town").inner_text()
    assert "Jiading New Town" in chips and "Qingpu New Town" in chips
    assert "Automotive" in page.locator("#filter-industry").inner_text()
    assert page.locator("h1").inner_text().startswith("New Town Atlas")
    # The view: the scale bar reflects zoom 11 around lat 31.3 (~5 km bar), not the default.
    assert page.evaluate("() => location.search").endswith("view=31.30000,121.25000,11")


def test_language_switch(page, server_url):
    open_page(page, server_url + "?town=songjiang")
    assert page.locator("h1").inner_text().startswith("新城图谱")
    page.click("#lang-link")
    page.wait_for_function("() => document.querySelector('h1') &&"
                           " document.querySelector('h1').textContent.startsWith('New Town')",
                           timeout=TIMEOUT)
    page.wait_for_selector(".town-label", timeout=TIMEOUT)
    labels = page.locator(".town-label").all_inner_texts()
    assert "Songjiang New Town" in labels
    assert "Songjiang New Town" in page.locator("#filter-town").inner_text()  # filter kept
    assert "Industry layers" in page.locator("#legend").inner_text()
    assert "lang=en" in page.evaluate("() => location.search")


def _pixel_offset(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    """Web-mercator pixel shift of a point moved from WGS84 to GCJ-02 at a zoom level."""
    gx, gy = (float(v) for v in wgs84_to_gcj02(lon, lat))
    scale = 256 * 2 ** zoom

    def px(x, y):
        s = math.sin(math.radians(y))
        return (x + 180) / 360 * scale, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * scale

    (x0, y0), (x1, y1) = px(lon, lat), px(gx, gy)
    return x1 - x0, y1 - y0


def _marker_centre(page, fid: str) -> tuple[float, float]:
    # Clustered layers redraw their markers after every map move: read the position in one
    # step in the page rather than holding a handle to an element that may be replaced.
    handle = page.wait_for_function(
        "(fid) => { const e = document.querySelector(`path.facility-${fid}`);"
        " if (!e) return null; const b = e.getBoundingClientRect();"
        " return b.width > 0 ? [b.x + b.width / 2, b.y + b.height / 2] : null; }",
        arg=fid, timeout=TIMEOUT)
    x, y = handle.json_value()
    return x, y


def test_amap_basemap_shifts_overlays_to_gcj02(page, server_url, bundled_atlas):
    page.route(re.compile(r".*autonavi\.com.*"), lambda route: route.abort())
    fac = bundled_atlas.facilities
    fid = fac.index[fac["placement"] == "site"][0]  # placeholders are drawn apart
    lon, lat = fac.geometry.x[fid], fac.geometry.y[fid]
    zoom = 16
    open_page(page, server_url + f"?q={fid}&view={lat:.5f},{lon:.5f},{zoom}")
    page.wait_for_selector(f"path.facility-{fid}", timeout=TIMEOUT)
    x0, y0 = _marker_centre(page, fid)
    assert "WGS84" in page.locator("#datum-note").inner_text()
    page.get_by_label("高德地图").check()
    page.wait_for_function("() => document.getElementById('datum-note')"
                           ".textContent.includes('GCJ-02')", timeout=TIMEOUT)
    page.wait_for_function(
        "([fid, x0]) => { const e = document.querySelector(`path.facility-${fid}`);"
        " if (!e) return false; const b = e.getBoundingClientRect();"
        " return Math.abs(b.x + b.width / 2 - x0) > 5; }", arg=[fid, x0], timeout=TIMEOUT)
    x1, y1 = _marker_centre(page, fid)
    dx, dy = _pixel_offset(lon, lat, zoom)
    assert abs(dx) > 20  # the GCJ-02 offset is tens of pixels at zoom 16
    assert (x1 - x0, y1 - y0) == pytest.approx((dx, dy), abs=2.0)
    # ... and back when another basemap is chosen.
    page.get_by_label("无（离线）").check()
    page.wait_for_function("() => document.getElementById('datum-note')"
                           ".textContent.includes('WGS84')", timeout=TIMEOUT)
    page.wait_for_function(
        "([fid, x0]) => { const e = document.querySelector(`path.facility-${fid}`);"
        " if (!e) return false; const b = e.getBoundingClientRect();"
        " return Math.abs(b.x + b.width / 2 - x0) < 1; }", arg=[fid, x0], timeout=TIMEOUT)


def test_click_facility_opens_details(page, server_url, bundled_atlas):
    fac = bundled_atlas.facilities
    fid = fac.index[fac["placement"] == "site"][0]  # placeholders are drawn apart
    lon, lat = fac.geometry.x[fid], fac.geometry.y[fid]
    open_page(page, server_url + f"?q={fid}&view={lat:.5f},{lon:.5f},15")
    marker = page.locator(f"path.facility-{fid}")
    marker.hover()  # hover shows the name as a tooltip
    page.wait_for_selector(".leaflet-tooltip", timeout=TIMEOUT)
    assert fac.at[fid, "name_zh"] in page.locator(".leaflet-tooltip").first.text_content()
    marker.click()
    page.wait_for_selector(f"#details-{fid}", timeout=TIMEOUT)
    page.wait_for_selector("path.precision-circle", timeout=TIMEOUT)  # where it may really be
    details = page.locator("#details").inner_text()
    assert fac.at[fid, "name_zh"] in details
    assert "坐标精度" in details and "资料来源" in details
    assert "点位类型" in details and "与新城的关系" in details  # placement, membership


def test_draw_rectangle_filters_by_area(page, server_url, bundled_atlas):
    open_page(page, server_url)
    total = len(bundled_atlas.facilities)
    page.click(".leaflet-draw-draw-rectangle")
    box = page.locator("#map").bounding_box()
    # Drag a rectangle over the left half of the map.
    x0, y0 = box["x"] + 40, box["y"] + 80
    x1, y1 = box["x"] + box["width"] / 2, box["y"] + box["height"] - 60
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    page.wait_for_function("() => location.search.includes('within=')", timeout=TIMEOUT)
    search = page.evaluate("() => location.search")
    expected = len(Filter.from_query_string(search).select(bundled_atlas.facilities))
    assert expected < total
    wait_count(page, expected, total)
    assert page.locator("#drawn-note").inner_text() != ""


DASHED_AREA = """() => [...document.querySelectorAll('.leaflet-overlay-pane path')]
  .filter(p => p.getAttribute('stroke') === '#d35400')
  .map(p => { const b = p.getBoundingClientRect(); return [b.x, b.y, b.width, b.height]; })"""
#: Leaflet.draw's own shapes are drawn in its default blue.
DRAW_CONTROL_SHAPES = ("() => document.querySelectorAll("
                       "'.leaflet-overlay-pane path[stroke=\"#3388ff\"]').length")


def test_drawn_area_follows_the_basemap_datum_and_clears(page, server_url, bundled_atlas):
    page.route(re.compile(r".*autonavi\.com.*"), lambda route: route.abort())
    lat, lon, zoom = 31.30, 121.25, 14
    open_page(page, server_url + f"?view={lat:.5f},{lon:.5f},{zoom}")
    total = len(bundled_atlas.facilities)
    page.click(".leaflet-draw-draw-rectangle")
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 150, cy - 100)
    page.mouse.down()
    page.mouse.move(cx, cy, steps=5)
    page.mouse.move(cx + 150, cy + 100, steps=5)
    page.mouse.up()
    page.wait_for_function("() => location.search.includes('within=')", timeout=TIMEOUT)
    # The shape leaves the draw control; the dashed area layer shows the filter instead.
    page.wait_for_function(f"() => ({DASHED_AREA})().length === 1"
                           f" && ({DRAW_CONTROL_SHAPES})() === 0", timeout=TIMEOUT)
    (x0, y0, w0, h0), = page.evaluate(DASHED_AREA)
    assert w0 == pytest.approx(300, abs=3) and h0 == pytest.approx(200, abs=3)
    # AMap (GCJ-02): the area moves with every other overlay, by the datum shift.
    page.get_by_label("高德地图").check()
    page.wait_for_function("() => document.getElementById('datum-note')"
                           ".textContent.includes('GCJ-02')", timeout=TIMEOUT)
    page.wait_for_function(f"(x0) => {{ const a = ({DASHED_AREA})();"
                           " return a.length === 1 && Math.abs(a[0][0] - x0) > 5; }",
                           arg=x0, timeout=TIMEOUT)
    (x1, y1, _, _), = page.evaluate(DASHED_AREA)
    dx, dy = _pixel_offset(lon, lat, zoom)
    assert (x1 - x0, y1 - y0) == pytest.approx((dx, dy), abs=3.0)
    assert page.evaluate(DRAW_CONTROL_SHAPES) == 0  # nothing left behind at the old place
    # Clear: the filter goes, the layer goes, the count comes back.
    page.click("#clear-area")
    page.wait_for_function("() => !location.search.includes('within=')", timeout=TIMEOUT)
    wait_count(page, total, total)
    page.wait_for_function(f"() => ({DASHED_AREA})().length === 0", timeout=TIMEOUT)


def test_export_downloads_what_is_on_screen(page, server_url, bundled_atlas):
    import io
    import json
    import zipfile

    open_page(page, server_url + "?town=songjiang")
    expected = set(Filter.create(towns=["songjiang"]).select(bundled_atlas.facilities).index)
    open_tab(page, "export")
    with page.expect_download(timeout=TIMEOUT) as info:
        page.click("#export-button")
    download = info.value
    assert download.suggested_filename.endswith(".geojson.zip")
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as archive:
        names = archive.namelist()
        assert "towns.geojson" in names  # the default layers: selection and town boundaries
        assert any(n.endswith(".meta.json") for n in names)
        doc = json.loads(archive.read("facilities.geojson"))
    assert {f["properties"]["id"] for f in doc["features"]} == expected


def test_a_failing_callback_shows_a_notice_and_the_app_stays_usable(
        page, server_url, bundled_atlas, monkeypatch):
    import dashboard.callbacks.filters as filters

    real = filters.selection_view

    def flaky(mapdata, flt, **kwargs):
        if flt.text == "boom":
            raise RuntimeError("simulated failure")
        return real(mapdata, flt, **kwargs)

    monkeypatch.setattr(filters, "selection_view", flaky)
    open_page(page, server_url)
    page.fill("#filter-search", "boom")
    page.wait_for_function("() => document.getElementById('error-notice')"
                           ".textContent.includes('simulated failure')", timeout=TIMEOUT)
    page.click("#error-notice")  # dismiss
    page.wait_for_function("() => document.getElementById('error-notice').textContent === ''")
    page.fill("#filter-search", "华为")
    total = len(bundled_atlas.facilities)
    expected = len(Filter.create(text="华为").select(bundled_atlas.facilities))
    wait_count(page, expected, total)


def test_shared_link_with_a_drawn_area_restores_and_shows_it(page, server_url, bundled_atlas):
    query = "?within=121.1,31.2;121.3,31.2;121.3,31.4;121.1,31.4"
    expected = len(Filter.from_query_string(query).select(bundled_atlas.facilities))
    total = len(bundled_atlas.facilities)
    assert 0 < expected < total
    open_page(page, server_url + query)
    wait_count(page, expected, total)
    assert page.locator("#drawn-note").text_content() != ""
    page.wait_for_function("() => location.search.includes('within=')", timeout=TIMEOUT)


def test_clusters_panel_runs_draws_and_focuses_a_cluster(page, server_url, bundled_atlas):
    open_page(page, server_url)
    open_tab(page, "clusters")
    page.click("#cl-run")
    page.wait_for_selector("#cluster-table", timeout=TIMEOUT)
    rows = page.locator("#cluster-table tbody tr")
    assert rows.count() >= 3
    assert "DBSCAN" in page.locator("#cl-results").text_content()
    page.locator("#cluster-table tbody tr").first.locator("button").click()
    page.wait_for_function("() => location.search.includes('within=')", timeout=TIMEOUT)
    search = page.evaluate("() => location.search")
    expected = len(Filter.from_query_string(search).select(bundled_atlas.facilities))
    size = int(rows.first.locator("td").nth(1).text_content())
    assert expected >= size  # the cluster's members, and anything else inside its hull
    wait_count(page, expected, len(bundled_atlas.facilities))


def test_coverage_panel_shows_shares_gaps_and_sites(page, server_url):
    open_page(page, server_url)
    open_tab(page, "coverage")
    page.fill("#cov-k", "2")
    page.click("#cov-run")
    page.wait_for_selector("#coverage-table", timeout=TIMEOUT)
    text = page.locator("#coverage-table").text_content()
    assert "南汇新城" in text and "%" in text
    page.wait_for_selector("path.gap-polygon", state="attached", timeout=TIMEOUT)
    page.wait_for_selector("path.site-marker", state="attached", timeout=TIMEOUT)
    assert page.locator("#site-list li").count() == 2


def test_chart_on_demand_and_a_bar_zooms_to_its_town(page, server_url):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_page(page, server_url)
    assert not any("plotly" in u for u in requests)  # first load without plotly.js
    open_tab(page, "summary")
    page.click("#summary-toggle")
    page.wait_for_selector("#summary-chart .point path", state="attached", timeout=TIMEOUT)
    before = page.evaluate("() => location.search")
    page.locator("#summary-chart .point path").last.click(force=True)
    page.wait_for_function("(b) => location.search !== b && /view=/.test(location.search)",
                           arg=before, timeout=TIMEOUT)
