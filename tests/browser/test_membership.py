"""Data model v2 in the browser: placeholders drawn apart, membership and as-of filters."""

from __future__ import annotations

import pytest

from dashboard.i18n import t
from dashboard.state import AS_OF_ALL, AS_OF_FIRST
from geo.query import Filter
from tests.browser.test_dashboard import TIMEOUT, open_page, wait_count

pytestmark = pytest.mark.browser

URL_YEAR_JS = "() => new URLSearchParams(location.search).get('asof')"
SLIDER_YEAR_JS = ("() => { const h = document.querySelector('#filter-as-of [role=slider]');"
                  " return h && h.getAttribute('aria-valuenow'); }")

PLACEHOLDER_COUNTS_JS = """() => [...document.querySelectorAll('.placeholder-marker span')]
    .map(e => Number(e.textContent))"""


def test_placeholders_are_hollow_counted_markers_not_clustered_sites(page, server_url,
                                                                     bundled_atlas):
    fac = bundled_atlas.facilities
    placeholders = fac[fac["membership"] == "placeholder"]
    open_page(page, server_url)
    page.wait_for_selector(".placeholder-marker", timeout=TIMEOUT)
    counts = page.evaluate(PLACEHOLDER_COUNTS_JS)
    assert sum(counts) == len(placeholders)
    # one marker per shared point, however many rows (town- or district-level) it carries
    points = placeholders.groupby([placeholders.geometry.x.round(6),
                                   placeholders.geometry.y.round(6)]).size()
    assert sorted(counts) == sorted(points.tolist())
    # a placeholder never appears as a site marker
    fid = placeholders.index[0]
    assert page.locator(f"path.facility-{fid}").count() == 0
    # the marker says what it stands for
    page.locator(".placeholder-marker").first.hover()
    page.wait_for_selector(".leaflet-tooltip", timeout=TIMEOUT)
    assert "不是具体地点" in page.locator(".leaflet-tooltip").first.text_content()


def test_membership_filter_in_the_url(page, server_url, bundled_atlas):
    fac = bundled_atlas.facilities
    inside = int((fac["membership"] == "inside").sum())
    open_page(page, server_url + "?membership=inside")
    wait_count(page, inside, len(fac))
    assert page.locator(".placeholder-marker").count() == 0


def test_as_of_slider_and_play(page, server_url, bundled_atlas):
    fac = bundled_atlas.facilities
    flt = Filter.create(as_of=2015)
    n = len(flt.select(fac))
    undated = int(flt.undated_mask(fac).sum())
    open_page(page, server_url + "?asof=2015")
    wait_count(page, n, len(fac))
    assert f"{undated} 个无年份未计入" in page.locator("#selection-count").text_content()
    # play steps the year: 2016 selects at least as many as 2015, and the URL follows
    page.locator("#filter-as-of-play").click()
    page.wait_for_function("() => /asof=20(1[6-9]|2\\d)/.test(location.search)",
                           timeout=TIMEOUT)
    page.locator("#filter-as-of-play").click()  # stop
    # Each step is a round trip (the tick, then the URL), so wait for what is asserted on,
    # not a time: stopped once the button offers to play again (the same response disables
    # the tick), and the URL caught up with the slider's year.
    page.wait_for_function(f"() => document.getElementById('filter-as-of-play')"
                           f".textContent.includes('{t('as_of_play', 'zh')}')", timeout=TIMEOUT)
    page.wait_for_function(f"() => ({URL_YEAR_JS})() === ({SLIDER_YEAR_JS})()",
                           timeout=TIMEOUT)
    year = int(page.evaluate(SLIDER_YEAR_JS))
    assert 2016 <= year < AS_OF_ALL
    page.wait_for_timeout(2000)  # two ticks (900 ms) and more: a running play would step
    # stopped: the year stays, on the slider and in the URL, and the count is what the
    # CLI's --as-of gives for it
    assert page.evaluate(SLIDER_YEAR_JS) == page.evaluate(URL_YEAR_JS) == str(year)
    assert page.locator("#filter-as-of-play").text_content() == t("as_of_play", "zh")
    wait_count(page, len(Filter.create(as_of=year).select(fac)), len(fac))


def test_play_stops_at_the_last_year_and_starts_again_from_the_first(page, server_url):
    open_page(page, server_url + f"?asof={AS_OF_ALL - 2}")
    page.locator("#filter-as-of-play").click()
    # one step to the last year, and playing stops there (the button offers to play again)
    page.wait_for_function(f"() => ({URL_YEAR_JS})() === '{AS_OF_ALL - 1}'", timeout=TIMEOUT)
    page.wait_for_function(f"() => document.getElementById('filter-as-of-play')"
                           f".textContent === '{t('as_of_play', 'zh')}'", timeout=TIMEOUT)
    page.wait_for_timeout(2000)  # two ticks (900 ms) and more: a running play would step
    assert page.evaluate(SLIDER_YEAR_JS) == page.evaluate(URL_YEAR_JS) == str(AS_OF_ALL - 1)
    # from the last year, play starts again at the first mark
    page.locator("#filter-as-of-play").click()
    page.wait_for_function(f"() => Number(({SLIDER_YEAR_JS})()) < {AS_OF_ALL - 1}",
                           timeout=TIMEOUT)
    assert int(page.evaluate(SLIDER_YEAR_JS)) <= AS_OF_FIRST + 2
    page.locator("#filter-as-of-play").click()  # stop
