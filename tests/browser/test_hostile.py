"""Hostile text in the data is shown as text everywhere, and no script from it ever runs.

A data folder is built with the bundled boundaries and a facilities.csv whose names and
addresses are HTML/JS payloads; the app is served from it and driven in Chromium: the page,
hover tooltips, the details panel, the summary table, the text filter and a shared link, the
upload error list (a hostile file name and a hostile, invalid cell), an uploaded layer's
tooltips, and the standalone HTML map written by geo.export opened from file://. Every payload
sets ``window.__xss`` if it ever runs; it must stay undefined, with no page errors.
"""

from __future__ import annotations

import csv
import io
import shutil
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from werkzeug.serving import make_server

from dashboard.app import create_app
from geo.atlas import load_atlas
from geo.export import export
from tests.browser.test_dashboard import TIMEOUT, open_page, open_tab, wait_count

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_NAMES = (
    '<img src=x onerror="window.__xss=1">',
    "</script><script>window.__xss=2</script>",
    '"><svg onload=window.__xss=3>',
    "{{7*7}} ${7*7} <b>not bold</b>",
)
HOSTILE_EN = "<script>window.__xss=6</script> Evil Lab"
HOSTILE_ADDRESS = "<iframe src=javascript:window.__xss=7></iframe> 嘉定区"
XSS = "() => typeof window.__xss"
#: Elements that exist only if a payload was parsed as HTML: its tags, an inline script or an
#: event-handler attribute carrying it (JSON data blocks may hold the text: they never run).
INJECTED = """() => {
    const scripts = [...document.querySelectorAll('script')].filter(s =>
        (s.type === '' || /javascript/i.test(s.type)) && s.textContent.includes('__xss'));
    const handlers = [...document.querySelectorAll('*')].filter(e =>
        [...e.attributes].some(a => a.name.startsWith('on') && a.value.includes('__xss')));
    const tags = document.querySelectorAll('img[src=x], svg[onload], iframe');
    const bold = [...document.querySelectorAll('b')].filter(b => b.textContent === 'not bold');
    return scripts.length + handlers.length + tags.length + bold.length;
}"""


def _hostile_rows() -> tuple[list[str], list[dict[str, str]]]:
    """Four real facilities from four towns, renamed with the payloads."""
    with (ROOT / "data" / "facilities.csv").open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        rows, towns = [], set()
        for row in reader:
            # sites and areas: they are the markers a user hovers and clicks
            if row["town"] not in towns and len(rows) < len(HOSTILE_NAMES) \
                    and row["placement"] in ("site", "area"):
                towns.add(row["town"])
                rows.append(row)
    for row, name in zip(rows, HOSTILE_NAMES, strict=True):
        # the parents are not among the four rows kept
        row.update(name_zh=name, name_en=HOSTILE_EN, address=HOSTILE_ADDRESS, parent_id="")
    return header, rows


@pytest.fixture(scope="module")
def hostile_atlas(tmp_path_factory):
    data = tmp_path_factory.mktemp("hostile-data")
    shutil.copytree(ROOT / "data" / "boundaries", data / "boundaries")
    header, rows = _hostile_rows()
    with (data / "facilities.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    atlas = load_atlas(data)
    assert list(atlas.facilities["name_zh"]) == list(HOSTILE_NAMES)
    return atlas


@pytest.fixture(scope="module")
def hostile_url(hostile_atlas):
    app = create_app(hostile_atlas)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def assert_clean(page) -> None:
    assert page.evaluate(XSS) == "undefined"
    assert page.evaluate(INJECTED) == 0
    assert page.js_errors == []


def test_page_loads_and_nothing_runs(page, hostile_url, hostile_atlas):
    open_page(page, hostile_url)
    total = len(hostile_atlas.facilities)
    wait_count(page, total, total)
    page.wait_for_function(
        "(n) => document.querySelectorAll('path.facility-marker, .facility-cluster').length > 0",
        arg=total, timeout=TIMEOUT)
    # The summary table is drawn from the same data: one facility in each of four towns.
    open_tab(page, "summary")
    page.wait_for_selector("#summary-table table", timeout=TIMEOUT)
    totals = page.locator("#summary-table tbody tr.total-row").locator("th, td").all_inner_texts()
    assert totals == ["合计", *map(str, hostile_atlas.counts()["total"])]
    assert sorted(totals[1:]) == ["0", "1", "1", "1", "1"]
    # under the total, its split: the four rows are sites or areas, so nothing is a placeholder
    placeholders = page.locator("#summary-table tr.membership-placeholder td").all_inner_texts()
    assert placeholders == ["0"] * 5
    assert_clean(page)


def test_tooltips_and_details_show_the_text_literally(page, hostile_url, hostile_atlas):
    fac = hostile_atlas.facilities
    for fid, name in zip(fac.index, fac["name_zh"], strict=True):
        lon, lat = fac.geometry.x[fid], fac.geometry.y[fid]
        open_page(page, hostile_url + f"?q={fid}&view={lat:.5f},{lon:.5f},15")
        marker = page.locator(f"path.facility-{fid}")
        marker.hover()
        tooltip = page.locator(".leaflet-tooltip").first
        tooltip.wait_for(timeout=TIMEOUT)
        assert tooltip.text_content() == name
        marker.click()
        page.wait_for_selector(f"#details-{fid}", timeout=TIMEOUT)
        details = page.locator("#details").inner_text()
        assert name in details
        assert HOSTILE_EN in details and HOSTILE_ADDRESS in details
        assert_clean(page)


def test_text_filter_and_shared_link_keep_the_payload_as_text(page, hostile_url, hostile_atlas):
    total = len(hostile_atlas.facilities)
    open_page(page, hostile_url)
    page.fill("#filter-search", HOSTILE_NAMES[1])
    wait_count(page, 1, total)
    page.wait_for_function("() => location.search.includes('q=')", timeout=TIMEOUT)
    assert_clean(page)
    # A link crafted with payloads in the filter and in an unknown town name: the search box
    # holds the text, and the notice about the bad town shows it as text.
    link = f"?q={quote(HOSTILE_NAMES[2])}&town={quote(HOSTILE_NAMES[0])}"
    open_page(page, hostile_url + link)
    assert page.locator("#filter-search").input_value() == HOSTILE_NAMES[2]
    assert HOSTILE_NAMES[0] in page.locator("#drawer-filters").inner_text()
    wait_count(page, 1, total)
    assert_clean(page)


HEADER = "id,name_zh,category,industries,town,lon,lat,coord_source,coord_precision_m,source"


def _upload(page, name: str, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER.split(","))
    writer.writerows(rows)
    open_tab(page, "upload")
    page.locator("#upload input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": buffer.getvalue().encode()}])


def test_upload_error_list_shows_hostile_name_and_cell_as_text(page, hostile_url):
    open_page(page, hostile_url)
    file_name = '<img src=x onerror="window.__xss=5">.csv'
    bad_cell = "=<img src=x onerror=window.__xss=4>"
    _upload(page, file_name, [
        ["U1", bad_cell, "lab", "ai", "jiading", "121.25", "31.38", "x", "50", "y"],
        ["U2", HOSTILE_NAMES[2], "lab", "<svg onload=window.__xss=8>", "jiading", "121.25",
         "31.38", "x", "50", "y"],
    ])
    page.wait_for_selector("#upload-errors", timeout=TIMEOUT)
    text = page.locator("#upload-errors").inner_text()
    assert file_name in text
    assert "row 1, field 'name_zh'" in text and bad_cell in text
    assert "row 2, field 'industries'" in text and "<svg onload=window.__xss=8>" in text
    assert page.locator("path.uploaded-marker").count() == 0
    assert_clean(page)


def test_uploaded_layer_tooltips_are_text(page, hostile_url, hostile_atlas):
    total = len(hostile_atlas.facilities)
    open_page(page, hostile_url + "?view=31.38000,121.25000,14")
    _upload(page, "mine.csv", [
        ["U1", HOSTILE_NAMES[0], "lab", "ai", "jiading", "121.25", "31.38", "x", "50", "y"]])
    page.wait_for_selector("#upload-ok", timeout=TIMEOUT)
    page.wait_for_function(
        "() => document.getElementById('selection-count').textContent.includes('另有上传 1 个')",
        timeout=TIMEOUT)
    marker = page.locator("path.uploaded-marker")
    marker.wait_for(timeout=TIMEOUT)
    marker.hover()
    tooltip = page.locator(".leaflet-tooltip").first
    tooltip.wait_for(timeout=TIMEOUT)
    assert tooltip.text_content() == HOSTILE_NAMES[0]
    assert f"{total} / {total}" in page.locator("#selection-count").text_content()
    assert_clean(page)


OPEN_EVERY_MARKER = """async () => {
    const map = newtownAtlas.map;
    const group = newtownAtlas.layers.facilities;
    const pause = (ms) => new Promise(done => setTimeout(done, ms));
    const out = [];
    for (const marker of group.getLayers().sort((a, b) => a.ntIndex - b.ntIndex)) {
        map.setView(marker.getLatLng(), 16, {animate: false});  // past clustering
        await pause(300);  // let the cluster group redraw
        for (let i = 0; i < 100 && !map.hasLayer(marker); i++) { await pause(20); }
        if (!map.hasLayer(marker)) { return "not shown"; }
        marker.getPopup().options.autoPan = false;
        marker.openPopup();
        marker.openTooltip();
        const popup = marker.getPopup().getElement();
        out.push([popup.querySelector('.nt-popup-title').textContent,
                  popup.textContent, marker.getTooltip().getElement().textContent]);
        marker.closePopup();
        marker.closeTooltip();
    }
    return out;
}"""


def test_exported_html_map_shows_text_and_runs_nothing(browser, hostile_atlas, tmp_path):
    result = export({"facilities": hostile_atlas.facilities, "towns": hostile_atlas.towns},
                    tmp_path / "hostile.html", fmt="html",
                    metadata={"filter": {"q": HOSTILE_NAMES[1]}, "note": HOSTILE_NAMES[0]})
    html = result.output.read_text(encoding="utf-8")
    for name in HOSTILE_NAMES[:3]:
        assert name not in html  # only ever present escaped
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    requests: list[str] = []
    errors: list[str] = []

    def offline(route) -> None:  # the file itself loads; nothing else may be fetched
        requests.append(route.request.url)
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", offline)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(result.output.as_uri(), wait_until="load")
        page.wait_for_function("() => window.newtownAtlas && newtownAtlas.map"
                               " && newtownAtlas.layers.facilities", timeout=TIMEOUT)
        shown = page.evaluate(OPEN_EVERY_MARKER)
        assert shown != "not shown"
        fac = hostile_atlas.facilities
        assert sorted(row[0] for row in shown) == sorted(fac["name_zh"])
        assert sorted(row[2] for row in shown) == sorted(fac["name_zh"])
        assert all(HOSTILE_EN in row[1] and HOSTILE_ADDRESS in row[1] for row in shown)
        assert page.evaluate(XSS) == "undefined"
        assert page.evaluate(INJECTED) == 0
        assert errors == []
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    finally:
        context.close()
