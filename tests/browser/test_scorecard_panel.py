"""The Scorecard tab and the Brief (PDF) button in a real browser (Chromium via Playwright)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from geo.analysis.scorecard import ScorecardParams, run_scorecard
from geo.brief.text import fmt_count, fmt_share
from geo.query import Filter

pytestmark = pytest.mark.browser

TIMEOUT = 60_000


def open_scorecard(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(".town-label", timeout=TIMEOUT)
    tab = page.locator("[role=tab][aria-controls=panel-scorecard]")
    if tab.get_attribute("aria-selected") != "true":
        tab.click()
    page.wait_for_selector("#panel-scorecard", state="visible", timeout=TIMEOUT)


def test_scorecard_panel_shows_the_same_numbers_as_the_cli(page, server_url, bundled_atlas):
    open_scorecard(page, server_url + "?lang=en")
    page.fill("#sc-radius", "3000")
    page.fill("#sc-since", "2020")
    page.click("#sc-run")
    page.wait_for_selector("#sc-table tbody tr", timeout=TIMEOUT)
    expected = run_scorecard(bundled_atlas, Filter(), ScorecardParams(radius_m=3000,
                                                                      since=2020))
    for row in expected.towns:
        cells = page.locator(f"#sc-table tr[data-town={row['key']}] td").all_inner_texts()
        assert cells[0] == fmt_count(row["rank"])
        assert cells[2] == fmt_count(row["inside"])
        assert cells[5] == fmt_count(row["total"])
        assert cells[9] == fmt_share(row["covered_share"])
    assert not page.js_errors


def test_brief_button_downloads_the_town_pdf(page, server_url, tmp_path):
    open_scorecard(page, server_url + "?town=songjiang")
    # no town chosen in the panel: the filter's one town
    with page.expect_download(timeout=TIMEOUT) as info:
        page.click("#brief-button")
    download = info.value
    assert download.suggested_filename == "newtown-brief-songjiang.pdf"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    assert "松江新城创新平台简报" in text
    assert "town=songjiang" in text  # the page's filter travelled with the request
    assert Path(path).stat().st_size > 10_000
