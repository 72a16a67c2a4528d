"""The map is fitted to what the user can see: beside the filter drawer on a tablet, around a
chosen town's facilities (not only its boundary), with the town labels above the markers."""

from __future__ import annotations

import math

import pytest

from geo.query import Filter
from tests.browser.test_dashboard import TIMEOUT, open_page

pytestmark = pytest.mark.browser

VIEW_JS = ("() => (new URLSearchParams(location.search).get('view') || '')")


def settled_view(page) -> tuple[float, float, float]:
    """The map's view (lat, lon, zoom) from the URL once it has stopped changing."""
    page.wait_for_function(VIEW_JS + " !== ''", timeout=TIMEOUT)
    last = None
    for _ in range(60):
        page.wait_for_timeout(400)
        now = page.evaluate(VIEW_JS)
        if now == last:
            break
        last = now
    lat, lon, zoom = (float(v) for v in str(last).split(","))
    return lat, lon, zoom


def world_px(lon: float, lat: float, zoom: float) -> tuple[float, float]:
    """Web-mercator pixel coordinates (Leaflet's EPSG:3857) at a zoom level."""
    scale = 256 * 2 ** zoom
    s = math.sin(math.radians(lat))
    return (lon + 180) / 360 * scale, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * scale


def rect(page, selector: str) -> dict[str, float]:
    return page.evaluate(f"() => document.querySelector('{selector}')"
                         ".getBoundingClientRect().toJSON()")


def visible_map(page) -> dict[str, float]:
    """The part of the map not covered by the filter drawer (when it overlays the map) nor by
    the indicator cards along its top: left, top, right, bottom in page px."""
    box = rect(page, "#map")
    left = box["left"]
    if page.locator("#drawer-filters").is_visible():
        left = max(left, rect(page, "#drawer-filters")["right"])
    top = max(box["top"], rect(page, ".nt-cards")["bottom"])
    return {"left": left, "top": top, "right": box["right"], "bottom": box["bottom"]}


def labels_inside(page, area: dict[str, float]) -> dict[str, bool]:
    boxes = page.evaluate("() => [...document.querySelectorAll('.town-label')].map(e =>"
                          " [e.textContent, e.getBoundingClientRect().toJSON()])")
    assert len(boxes) == 5
    return {name: (b["left"] >= area["left"] - 1 and b["right"] <= area["right"] + 1
                   and b["top"] >= area["top"] - 1 and b["bottom"] <= area["bottom"] + 1)
            for name, b in boxes}


@pytest.mark.parametrize("lang", ["zh", "en"])  # English labels are the wider
def test_tablet_fit_leaves_the_towns_beside_the_open_drawer(browser, server_url, lang):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_page(page, server_url + f"?lang={lang}")
    assert page.locator("#drawer-filters").is_visible()  # overlaying the map at this width
    settled_view(page)
    inside = labels_inside(page, visible_map(page))
    assert all(inside.values()), inside
    # Closing the drawer refits to the whole map: closer in, all five still in view.
    _, _, zoom_open = settled_view(page)
    page.click("#toggle-filters")
    page.wait_for_selector("#drawer-filters", state="hidden", timeout=TIMEOUT)
    page.wait_for_function(f"() => Number(({VIEW_JS})().split(',')[2]) > {zoom_open}",
                           timeout=TIMEOUT)
    settled_view(page)
    inside = labels_inside(page, visible_map(page))
    assert all(inside.values()), inside
    # ... and opening it again fits beside it again.
    page.click("#toggle-filters")
    page.wait_for_selector("#drawer-filters", state="visible", timeout=TIMEOUT)
    page.wait_for_function(f"() => Number(({VIEW_JS})().split(',')[2]) <= {zoom_open}",
                           timeout=TIMEOUT)
    settled_view(page)
    inside = labels_inside(page, visible_map(page))
    assert all(inside.values()), inside
    assert errors == []
    context.close()


def test_a_view_the_user_moved_is_kept_when_the_drawer_closes(browser, server_url):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    open_page(page, server_url)
    _, _, fitted = settled_view(page)
    page.click(".leaflet-control-zoom-in")
    page.wait_for_function(f"() => Number(({VIEW_JS})().split(',')[2]) > {fitted}",
                           timeout=TIMEOUT)
    moved = settled_view(page)
    page.click("#toggle-filters")
    page.wait_for_selector("#drawer-filters", state="hidden", timeout=TIMEOUT)
    page.wait_for_timeout(1500)  # a refit would have started by now
    lat, lon, zoom = settled_view(page)
    # the same view (a refit would move the centre by a tenth of a degree and more; Leaflet
    # may re-round it by a fraction of a pixel, ~0.0004 degrees at this zoom)
    assert zoom == moved[2]
    assert abs(lat - moved[0]) < 0.002 and abs(lon - moved[1]) < 0.002, (lat, lon, moved)
    context.close()


def test_choosing_a_town_fits_its_associated_facilities_too(browser, server_url,
                                                            bundled_atlas):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    town = "qingpu"
    open_page(page, server_url + f"?town={town}")
    fac = Filter.create(towns=[town]).select(bundled_atlas.facilities)
    boundary = bundled_atlas.towns.set_index("key").loc[town, "geometry"]
    x0, y0, x1, y1 = boundary.bounds
    # the case in point: facilities of the town placed well outside its boundary's box
    outside = fac[(fac.geometry.x < x0 - 0.02) | (fac.geometry.x > x1 + 0.02)]
    assert len(outside) >= 2
    lat, lon, zoom = settled_view(page)
    area = visible_map(page)
    box = rect(page, "#map")
    cx, cy = world_px(lon, lat, zoom)
    for fid, point in zip(fac.index, fac.geometry, strict=True):
        px, py = world_px(point.x, point.y, zoom)
        x = box["left"] + box["width"] / 2 + (px - cx)
        y = box["top"] + box["height"] / 2 + (py - cy)
        assert area["left"] <= x <= area["right"] and area["top"] <= y <= area["bottom"], \
            (fid, x, y, area)
    # the town itself is not lost in the fit: its boundary spans a good part of the view
    bx0, _ = world_px(x0, y0, zoom)
    bx1, _ = world_px(x1, y1, zoom)
    assert bx1 - bx0 > (area["right"] - area["left"]) / 6
    context.close()


def test_town_labels_sit_above_the_markers_and_let_clicks_through(page, server_url):
    open_page(page, server_url)
    settled_view(page)
    page.wait_for_selector(".placeholder-marker", timeout=TIMEOUT)
    # Every place where a label and a marker overlap at the first view (the placeholders sit
    # at the towns' centres, next to their labels).
    spots = page.evaluate("""() => {
      const out = [];
      const labels = [...document.querySelectorAll('.town-label')];
      const markers = [...document.querySelectorAll(
        '.placeholder-marker, .facility-cluster, path.facility-marker')];
      for (const l of labels) {
        const a = l.getBoundingClientRect();
        for (const m of markers) {
          const b = m.getBoundingClientRect();
          const x0 = Math.max(a.left, b.left), x1 = Math.min(a.right, b.right);
          const y0 = Math.max(a.top, b.top), y1 = Math.min(a.bottom, b.bottom);
          if (x1 - x0 > 3 && y1 - y0 > 3) {
            out.push({label: l.textContent, x: (x0 + x1) / 2, y: (y0 + y1) / 2,
                      marker: m.getAttribute('class')});
          }
        }
      }
      return out; }""")
    assert len(spots) >= 2, "labels and markers hardly overlap at the first view"
    hit_js = ("([x, y]) => { const e = document.elementFromPoint(x, y);"
              " const t = e && e.closest('.town-label, .leaflet-marker-icon, path');"
              " return t ? t.getAttribute('class') : ''; }")
    # Clicks pass through a label: the marker under it is what the pointer hits.
    for spot in spots:
        hit = page.evaluate(hit_js, [spot["x"], spot["y"]])
        assert hit and "town-label" not in hit, (spot, hit)
    # Drawn above: with hit-testing switched on for the labels (a test style only), the
    # topmost element at every such point is the label, not the marker.
    page.add_style_tag(content=".town-label { pointer-events: auto !important; }")
    for spot in spots:
        hit = page.evaluate(hit_js, [spot["x"], spot["y"]])
        assert "town-label" in hit, (spot, hit)


def view_text(page) -> str:
    return str(page.evaluate(VIEW_JS))


def to_container(view: tuple[float, float, float], box: dict[str, float], lon: float,
                 lat: float) -> tuple[float, float]:
    """Page px of a point (in the datum on screen) for the map's view (lat, lon, zoom)."""
    clat, clon, zoom = view
    cx, cy = world_px(clon, clat, zoom)
    px, py = world_px(lon, lat, zoom)
    return box["left"] + box["width"] / 2 + (px - cx), box["top"] + box["height"] / 2 + (py - cy)


def fitted_area(page) -> dict[str, float]:
    """The part of the map a fit frames its bounds in: the map less the padding
    newtown.fitPadding() measures now (drawer, cards, half the widest label)."""
    box = rect(page, "#map")
    pad = page.evaluate("() => window.newtown.fitPadding()")
    (pl, pt), (pr, pb) = pad["paddingTopLeft"], pad["paddingBottomRight"]
    return {"left": box["left"] + pl, "top": box["top"] + pt,
            "right": box["right"] - pr, "bottom": box["bottom"] - pb}


def bounds_px(view, box, bounds) -> tuple[float, float, float, float]:
    (south, west), (north, east) = bounds
    x0, y1 = to_container(view, box, west, south)
    x1, y0 = to_container(view, box, east, north)
    return x0, y0, x1, y1


def assert_framed(page, view, bounds, *, tolerance: float = 1.5):
    """``bounds`` (in the datum on screen) are centred in the fitted area and inside it."""
    box, area = rect(page, "#map"), fitted_area(page)
    x0, y0, x1, y1 = bounds_px(view, box, bounds)
    centre = ((area["left"] + area["right"]) / 2, (area["top"] + area["bottom"]) / 2)
    assert ((x0 + x1) / 2, (y0 + y1) / 2) == pytest.approx(centre, abs=tolerance), \
        ((x0, y0, x1, y1), area)
    assert (x0 >= area["left"] - 1 and x1 <= area["right"] + 1
            and y0 >= area["top"] - 1 and y1 <= area["bottom"] + 1), ((x0, y0, x1, y1), area)


def marker_centre(page, fid: str) -> tuple[float, float]:
    b = page.evaluate(f"() => document.querySelector('path.facility-{fid}')"
                      ".getBoundingClientRect().toJSON()")
    return b["x"] + b["width"] / 2, b["y"] + b["height"] / 2


def test_a_fit_follows_the_amap_datum(browser, server_url, bundled_atlas):
    """A town fitted on a WGS84 basemap, then AMap chosen: the overlays move to GCJ-02 and
    the fit follows them (at once, and when the drawer closes), framing what is drawn."""
    import re

    from dashboard.components.map import fit_bounds
    from dashboard.mapdata import MapData

    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.route(re.compile(r".*autonavi\.com.*"), lambda route: route.abort())
    fac = bundled_atlas.facilities
    town = "jiading"
    # one site of the town, the tight case: the fit is the town and that facility
    fid = str(fac.index[(fac["placement"] == "site") & (fac["town"] == town)][0])
    query = f"town={town}&q={fid}"
    mapdata = MapData(bundled_atlas)
    wgs = fit_bounds(mapdata, Filter.from_query_string(query))
    gcj = mapdata.shift_bounds(wgs, "gcj02")
    open_page(page, server_url + f"?lang=en&{query}")
    assert page.locator("#drawer-filters").is_visible()  # overlaying the map at this width
    before = settled_view(page)
    assert_framed(page, before, wgs)
    fitted = view_text(page)
    page.get_by_label("AMap").check()
    page.wait_for_function("() => document.getElementById('datum-note')"
                           ".textContent.includes('GCJ-02')", timeout=TIMEOUT)
    page.wait_for_function(f"() => ({VIEW_JS})() !== '{fitted}'", timeout=TIMEOUT)
    view = settled_view(page)
    box = rect(page, "#map")
    # The datum shift is worth several pixels at this fit: the WGS84 bounds would be off.
    wx0, wy0, wx1, wy1 = bounds_px(view, box, wgs)
    gx0, gy0, gx1, gy1 = bounds_px(view, box, gcj)
    assert math.hypot((gx0 + gx1 - wx0 - wx1) / 2, (gy0 + gy1 - wy0 - wy1) / 2) > 5
    assert_framed(page, view, gcj)
    # the facility's marker, drawn shifted to GCJ-02, is inside the fitted area
    page.wait_for_selector(f"path.facility-{fid}", timeout=TIMEOUT)
    mx, my = marker_centre(page, fid)
    lon, lat = mapdata.shift_bounds([[fac.geometry.y[fid], fac.geometry.x[fid]]] * 2,
                                    "gcj02")[0][::-1]
    assert (mx, my) == pytest.approx(to_container(view, box, lon, lat), abs=1.5)
    area = fitted_area(page)
    assert area["left"] <= mx <= area["right"] and area["top"] <= my <= area["bottom"]
    # Closing the drawer refits to the GCJ-02 target, not the stale WGS84 one.
    page.click("#toggle-filters")
    shown = view_text(page)
    page.wait_for_selector("#drawer-filters", state="hidden", timeout=TIMEOUT)
    page.wait_for_function(f"() => ({VIEW_JS})() !== '{shown}'", timeout=TIMEOUT)
    assert_framed(page, settled_view(page), gcj)
    context.close()


def test_a_focused_cluster_is_fitted_beside_the_open_drawers(browser, server_url,
                                                             bundled_atlas):
    """A cluster row's zoom goes through the measured fit (MAP_FIT): on a tablet the
    cluster lands beside the Clusters drawer that overlays the map, and beside the filter
    drawer when that one is opened instead."""
    from dashboard.callbacks.clusters import cluster_focus, run_clusters
    from dashboard.mapdata import MapData
    from geo.settings import (
        CLUSTER_EPS_M,
        CLUSTER_MIN_CLUSTER_SIZE,
        CLUSTER_MIN_SAMPLES,
        DENSITY_BANDWIDTH_M,
        HOTSPOT_CELL,
    )
    from tests.browser.test_dashboard import open_tab

    mapdata = MapData(bundled_atlas)
    # the tab's default run on the whole atlas (test_cluster_areas: the same as the CLI's)
    result = run_clusters(mapdata, Filter(), method="dbscan", eps_m=CLUSTER_EPS_M,
                          min_samples=CLUSTER_MIN_SAMPLES,
                          min_cluster_size=CLUSTER_MIN_CLUSTER_SIZE, extras=[],
                          bandwidth_m=DENSITY_BANDWIDTH_M, cell=HOTSPOT_CELL, lang="en")
    number = result["rows"][0]["cluster"]
    _, target = cluster_focus(mapdata, result, number, "wgs84")
    bounds = target["bounds"]
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    open_page(page, server_url + "?lang=en")
    settled_view(page)
    open_tab(page, "clusters")  # closes the filter drawer on a tablet: one at a time
    page.click("#cl-run")
    page.wait_for_selector("#cluster-table", timeout=TIMEOUT)
    shown = view_text(page)
    row = page.locator("#cluster-table tbody tr:nth-child(1) button")
    assert row.inner_text().strip() == str(number)  # the run in the browser is this one
    row.click()
    page.wait_for_function(f"() => ({VIEW_JS})() !== '{shown}'", timeout=TIMEOUT)
    view = settled_view(page)
    assert page.locator("#drawer-panels").is_visible()
    assert_framed(page, view, bounds)
    # ... so the whole cluster is left of the drawer overlaying the map
    _, _, x1, _ = bounds_px(view, rect(page, "#map"), bounds)
    assert x1 <= rect(page, "#drawer-panels")["left"], (x1, rect(page, "#drawer-panels"))
    # Opening the filter drawer (which closes the Clusters one) refits the cluster beside it.
    shown = view_text(page)
    page.click("#toggle-filters")
    page.wait_for_selector("#drawer-filters", state="visible", timeout=TIMEOUT)
    page.wait_for_selector("#drawer-panels", state="hidden", timeout=TIMEOUT)
    page.wait_for_function(f"() => ({VIEW_JS})() !== '{shown}'", timeout=TIMEOUT)
    view = settled_view(page)
    assert_framed(page, view, bounds)
    x0, _, _, _ = bounds_px(view, rect(page, "#map"), bounds)
    assert x0 >= rect(page, "#drawer-filters")["right"]
    context.close()
