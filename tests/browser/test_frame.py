"""The frame in a real browser: map first, drawers and tabs in the URL, indicator cards,
choosing towns fits the map, visible keyboard focus."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from geo import catalog
from geo.query import Filter
from tests.browser.test_dashboard import TIMEOUT, open_page, open_tab, select_option, wait_count

pytestmark = pytest.mark.browser


def query(page) -> dict[str, list[str]]:
    return parse_qs(page.evaluate("() => location.search").lstrip("?"))


def wait_query(page, js_condition: str):
    page.wait_for_function(f"() => {{ const q = new URLSearchParams(location.search);"
                           f" return {js_condition}; }}", timeout=TIMEOUT)


def card_value(page, key: str) -> str:
    return page.locator(f"#card-{key} .nt-card-value").inner_text()


@pytest.mark.parametrize(("width", "height", "least"), [(1440, 900, 0.65), (1280, 720, 0.55)])
def test_the_map_fills_the_screen(browser, server_url, width, height, least):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    open_page(page, server_url)
    box = page.locator("#map").bounding_box()
    assert box["width"] * box["height"] >= least * width * height
    assert page.locator("#drawer-filters").is_visible()  # filters open beside it
    context.close()


def test_on_a_tablet_the_drawers_overlay_the_map(browser, server_url):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    open_page(page, server_url + "?tab=summary")
    the_map = page.locator("#map").bounding_box()
    drawer = page.locator("#drawer-filters").bounding_box()
    panels = page.locator("#drawer-panels").bounding_box()
    rail = page.locator(".nt-rail").bounding_box()
    assert the_map["width"] == pytest.approx(1024 - rail["width"], abs=2)  # under both drawers
    assert drawer["x"] < the_map["x"] + 10 and panels["x"] + panels["width"] <= rail["x"] + 1
    assert page.locator("#panel-summary").is_visible()
    context.close()


def test_drawers_and_tab_round_trip_through_the_url(page, server_url):
    open_page(page, server_url + "?tab=coverage&filters=off")
    assert page.locator("#panel-coverage").is_visible()
    assert not page.locator("#panel-summary").is_visible()
    assert not page.locator("#drawer-filters").is_visible()
    assert page.locator("#toggle-filters").get_attribute("aria-expanded") == "false"
    # Another tab: the URL follows, and the tab says it is selected.
    page.click("[role=tab][aria-controls=panel-clusters]")
    wait_query(page, "q.get('tab') === 'clusters'")
    assert page.locator("#panel-clusters").is_visible()
    assert (page.locator("[role=tab][aria-controls=panel-clusters]")
            .get_attribute("aria-selected") == "true")
    # The filter drawer opens: 'filters=off' leaves the URL.
    page.click("#toggle-filters")
    wait_query(page, "!q.has('filters')")
    assert page.locator("#drawer-filters").is_visible()
    assert page.locator("#toggle-filters").get_attribute("aria-expanded") == "true"
    # The open tab clicked again closes the drawer.
    page.click("[role=tab][aria-controls=panel-clusters]")
    wait_query(page, "!q.has('tab')")
    assert not page.locator("#drawer-panels").is_visible()
    # The drawer toggle reopens the last tab; a reload restores exactly that.
    page.click("#toggle-panels")
    wait_query(page, "q.get('tab') === 'clusters'")
    page.click("#toggle-filters")
    wait_query(page, "q.get('filters') === 'off'")
    search = page.evaluate("() => location.search")
    open_page(page, server_url + search)
    assert page.locator("#panel-clusters").is_visible()
    assert not page.locator("#drawer-filters").is_visible()
    # The language link keeps the open tab and drawers.
    href = page.locator("#lang-link").get_attribute("href")
    assert "tab=clusters" in href and "filters=off" in href and "lang=en" in href


def test_cards_follow_the_filter_and_the_coverage_run(page, server_url, bundled_atlas):
    fac = bundled_atlas.facilities
    total = len(fac)
    open_page(page, server_url)
    page.wait_for_function("(n) => { const c = document.querySelector('#card-selected"
                           " .nt-card-value'); return c && c.textContent === String(n); }",
                           arg=total, timeout=TIMEOUT)
    assert card_value(page, "national") == str(int((fac["level"] == "national").sum()))
    assert card_value(page, "coverage") == "—"
    select_option(page, "filter-industry", "汽车")
    chosen = Filter.create(industries=["auto"]).select(fac)
    assert 0 < len(chosen) < total
    wait_count(page, len(chosen), total)
    page.wait_for_function("(n) => document.querySelector('#card-selected .nt-card-value')"
                           ".textContent === String(n)", arg=len(chosen), timeout=TIMEOUT)
    assert card_value(page, "national") == str(int((chosen["level"] == "national").sum()))
    layers = {k for text in chosen["layers"] for k in text.split(";") if k}
    assert card_value(page, "layers") == str(len(layers))
    if "membership" in fac.columns:  # data model v2: inside / associated / placeholder
        for name in ("inside", "associated", "placeholder"):
            assert card_value(page, name) == str(int((chosen["membership"] == name).sum()))
    # A coverage run gives the coverage card its share.
    open_tab(page, "coverage")
    page.click("#cov-run")
    page.wait_for_selector("#coverage-table", timeout=TIMEOUT)
    page.wait_for_function("() => document.querySelector('#card-coverage .nt-card-value')"
                           ".textContent.endsWith('%')", timeout=TIMEOUT)


def _view(page) -> tuple[float, float, float]:
    lat, lon, zoom = (float(v) for v in query(page)["view"][0].split(","))
    return lat, lon, zoom


def test_choosing_towns_fits_the_map_to_them(page, server_url, bundled_atlas):
    open_page(page, server_url + "?view=31.20000,121.45000,9")
    towns = bundled_atlas.towns.set_index("key")
    select_option(page, "filter-town", catalog.TOWNS["nanhui"].zh)
    x0, y0, x1, y1 = towns.loc["nanhui"].geometry.bounds
    page.wait_for_function(
        "([x0, y0, x1, y1]) => { const v = new URLSearchParams(location.search).get('view');"
        " if (!v) return false; const [lat, lon, z] = v.split(',').map(Number);"
        " return z > 10 && lat > y0 && lat < y1 && lon > x0 && lon < x1; }",
        arg=[x0, y0, x1, y1], timeout=TIMEOUT)
    # The whole town is on screen: its label lies inside the map.
    label = page.locator(".town-label", has_text=catalog.TOWNS["nanhui"].zh).bounding_box()
    box = page.locator("#map").bounding_box()
    assert box["x"] < label["x"] < box["x"] + box["width"]
    assert box["y"] < label["y"] < box["y"] + box["height"]
    # A second town: the map widens to hold both.
    _, _, zoom_one = _view(page)
    select_option(page, "filter-town", catalog.TOWNS["jiading"].zh)
    page.wait_for_function(
        "(z) => { const v = new URLSearchParams(location.search).get('view');"
        " return v && Number(v.split(',')[2]) < z; }", arg=zoom_one, timeout=TIMEOUT)
    lat, lon, _ = _view(page)
    both = towns.loc[["nanhui", "jiading"]].total_bounds
    assert both[0] < lon < both[2] and both[1] < lat < both[3]


FOCUS = """() => { const e = document.activeElement; const s = getComputedStyle(e);
  const by = (e.getAttribute('aria-labelledby') || '').split(' ').filter(Boolean)
    .map(i => (document.getElementById(i) || {}).textContent || '').join(' ');
  const label = e.labels && e.labels.length ? e.labels[0].textContent : '';
  return {id: e.id, tag: e.tagName, role: e.getAttribute('role'),
          name: (e.getAttribute('aria-label') || by || label || e.textContent).trim(),
          style: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"""


def test_keyboard_focus_is_visible_on_every_control(page, server_url):
    open_page(page, server_url + "?tab=summary")
    # the code-split controls (dropdowns, the year slider) are in the page before tabbing
    page.wait_for_selector("#filter-as-of [role=slider]", timeout=TIMEOUT)
    page.wait_for_selector("#filter-town", timeout=TIMEOUT)
    seen = []
    for _ in range(16):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        if focus["tag"] in {"BUTTON", "A", "INPUT", "SELECT"}:
            assert focus["style"] != "none" and focus["width"] >= 2, focus
            assert focus["name"], focus  # every control has a name to announce
        seen.append(focus["id"])
    assert "toggle-filters" in seen and "filter-town" in seen and "filter-search" in seen, seen
    # The tabs are reachable from the keyboard and are announced as tabs.
    tab = page.locator("[role=tab][aria-controls=panel-coverage]")
    tab.focus()
    assert page.evaluate(FOCUS)["width"] >= 2
    page.keyboard.press("Enter")
    page.wait_for_selector("#panel-coverage", state="visible", timeout=TIMEOUT)


def test_membership_and_as_of_come_from_the_url_and_stay(page, server_url, bundled_atlas):
    link = "?membership=inside&asof=2020"
    flt = Filter.from_query_string(link)
    fac = bundled_atlas.facilities
    expected = len(flt.select(fac))
    open_page(page, server_url + link)
    wait_count(page, expected, len(fac))
    # the year slider's handle sits on 2020
    assert page.locator("#filter-as-of [role=slider]").first.get_attribute(
        "aria-valuenow") == "2020"
    assert catalog.MEMBERSHIPS["inside"].zh in page.locator("#filter-membership").inner_text()
    undated = int(flt.undated_mask(fac).sum())
    if undated:
        assert f"{undated} 个无年份未计入" in page.locator("#card-selected").inner_text()
    # Another filter change keeps both in the URL.
    select_option(page, "filter-town", catalog.TOWNS["jiading"].zh)
    wait_query(page, "q.get('town') === 'jiading'")
    q = query(page)
    assert q["membership"] == ["inside"] and q["asof"] == ["2020"], q
