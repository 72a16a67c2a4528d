"""At 1024x768 the open filter drawer overlays the map: the zoom control stays visible and
clickable beside it (it used to sit under the drawer)."""

from __future__ import annotations

import pytest

from tests.browser.test_dashboard import TIMEOUT, open_page

pytestmark = pytest.mark.browser


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def test_zoom_control_is_clickable_with_the_filter_drawer_open(browser, server_url):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    open_page(page, server_url)
    assert page.locator("#drawer-filters").is_visible()  # the drawer is open, over the map
    drawer = page.locator("#drawer-filters").bounding_box()
    zoom_in = page.locator(".leaflet-control-zoom-in")
    box = zoom_in.bounding_box()
    assert box is not None and zoom_in.is_visible()
    assert not overlaps(box, drawer), (box, drawer)
    for card in page.locator(".nt-card").all():  # nor under the indicator cards
        assert not overlaps(box, card.bounding_box())
    # the topmost element at the control's centre is the control itself
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).closest("
                         "'.leaflet-control-zoom-in') !== null", list(centre))
    zoom = ("() => Number((new URLSearchParams(location.search).get('view') || ',,0')"
            ".split(',')[2])")
    before = page.evaluate(zoom)
    zoom_in.click(timeout=TIMEOUT)  # Playwright refuses a click another element would take
    # the map zoomed in: the view in the URL says so
    page.wait_for_function(f"() => ({zoom})() > {before}", timeout=TIMEOUT)
    context.close()
