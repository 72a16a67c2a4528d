"""The Scorecard tab and the Brief (PDF) button in a real browser (Chromium via Playwright)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from dashboard.cli import main as newtown
from dashboard.i18n import t
from geo import catalog
from geo.analysis.scorecard import ScorecardParams, run_scorecard
from geo.brief.text import fmt_count, fmt_m, fmt_ratio, fmt_share, label
from geo.query import Filter
from tests.browser.test_dashboard import open_page, select_option
from tests.test_brief import expected_figures, pdftotext, value_after
from tests.test_scorecard_export import assert_table_equals

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
    # the table is there from the start: wait for the one computed with these parameters
    page.wait_for_selector("#sc-table[data-radius='3000'][data-since='2020'] tbody tr",
                           timeout=TIMEOUT)
    expected = run_scorecard(bundled_atlas, Filter(), ScorecardParams(radius_m=3000,
                                                                      since=2020))
    for row in expected.towns:
        cells = page.locator(f"#sc-table tr[data-town={row['key']}] td").all_inner_texts()
        assert cells[0] == fmt_count(row["rank"])
        assert cells[2] == fmt_count(row["inside"])
        assert cells[5] == fmt_count(row["total"])
        assert cells[9] == fmt_share(row["covered_share"])
    # the change since 2020: dated against dated, the undated said apart
    note = page.inner_text("#sc-since-note")
    for row in expected.towns:
        s = row["since"]
        assert f"{row['name_en']} {s['change']:+d} (Undated (not in the change) " \
               f"{fmt_count(s['undated'])})" in note
    assert not page.js_errors


def test_opening_the_tab_shows_the_scorecard_with_its_controls_on_top(page, server_url,
                                                                     bundled_atlas):
    """The table used to appear only after Run, which sat below the growth chart."""
    open_scorecard(page, server_url + "?lang=en&town=qingpu,nanhui")
    # no click: the current filter's scorecard, default parameters
    page.wait_for_selector("#sc-table tbody tr", timeout=TIMEOUT)
    page.wait_for_selector("#sc-growth-chart", timeout=TIMEOUT)
    # the panel's defaults are the CLI's: radius by category, no comparison year
    assert page.input_value("#sc-since") == ""
    assert page.get_attribute("#sc-table", "data-since") == ""
    assert page.locator("#sc-since-note").count() == 0
    params = ScorecardParams()
    expected = run_scorecard(bundled_atlas, Filter.create(towns=["qingpu", "nanhui"]), params)
    shown = page.locator("#sc-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.town)")
    assert shown == [str(r["key"]) for r in expected.towns]
    for row in expected.towns:
        cells = page.locator(f"#sc-table tr[data-town={row['key']}] td").all_inner_texts()
        assert cells[5] == fmt_count(row["total"])
        assert cells[9] == fmt_share(row["covered_share"])
    # the controls come first, then the chart, then the table
    run = page.locator("#sc-run").bounding_box()
    radius = page.locator("#sc-radius").bounding_box()
    chart = page.locator("#sc-growth-chart").bounding_box()
    table = page.locator("#sc-table").bounding_box()
    assert radius["y"] + radius["height"] <= chart["y"]
    assert run["y"] + run["height"] <= chart["y"]
    assert chart["y"] + chart["height"] <= table["y"]
    # a filter change redraws the table without a click
    select_option(page, "filter-town", catalog.TOWNS["songjiang"].en)
    page.wait_for_selector("#sc-table tr[data-town=songjiang]", timeout=TIMEOUT)
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
    # the page's filter travelled with the request (the brief writes it in its language)
    assert "筛选条件\n\n新城: 松江新城\n" in text
    assert Path(path).stat().st_size > 10_000


def growth_numbers(page) -> dict[str, object]:
    chart = page.locator("#sc-growth-chart")
    return {"years": json.loads(chart.get_attribute("data-years")),
            "towns": {k: {"cumulative": v, "undated": json.loads(
                chart.get_attribute("data-undated"))[k]}
                for k, v in json.loads(chart.get_attribute("data-series")).items()},
            "as_of": chart.get_attribute("data-as-of"),
            "alt": chart.get_attribute("alt") or ""}


def cli_json(capsys, *options: str) -> dict[str, object]:
    capsys.readouterr()
    assert newtown(["scorecard", "--json", *options]) == 0
    return json.loads(capsys.readouterr().out)


def assert_growth_is(page, doc: dict[str, object]) -> None:
    growth = doc["growth"]
    shown = growth_numbers(page)
    assert shown["years"] == growth["years"]
    assert shown["towns"] == growth["towns"]
    for key, series in growth["towns"].items():  # the alt text says the last figures
        assert f"{catalog.TOWNS[key].en.removesuffix(' New Town')} {series['cumulative'][-1]}" \
            in shown["alt"]
    # the undated facilities are said apart, under the chart
    undated = page.locator("#sc-growth-undated").inner_text()
    assert undated.startswith("Undated, not on the chart:")
    assert all(f" {v['undated']}" in undated for v in growth["towns"].values())


def test_growth_chart_follows_the_filter_and_the_as_of_slider(page, server_url, capsys):
    open_page(page, server_url + "?lang=en&tab=scorecard&asof=2023")
    page.wait_for_selector("#sc-growth-chart[data-as-of='2023']", timeout=TIMEOUT)
    # a real image, drawn by the browser from the data URI
    assert page.evaluate("() => document.getElementById('sc-growth-chart').naturalWidth") > 0
    assert page.locator("#sc-growth-chart").get_attribute("src").startswith(
        "data:image/svg+xml;base64,")
    assert_growth_is(page, cli_json(capsys, "--as-of", "2023"))
    # a filter change (one town): the chart follows, that town drawn bold
    select_option(page, "filter-town", catalog.TOWNS["songjiang"].en)
    page.wait_for_selector("#sc-growth-chart[data-highlight='songjiang']", timeout=TIMEOUT)
    page.wait_for_function("() => Object.keys(JSON.parse(document.getElementById("
                           "'sc-growth-chart').dataset.series)).length === 1", timeout=TIMEOUT)
    assert_growth_is(page, cli_json(capsys, "--town", "songjiang", "--as-of", "2023"))
    # the as-of slider one step left: the chart ends a year earlier
    page.locator("#filter-as-of [role=slider]").first.focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#sc-growth-chart[data-as-of='2022']", timeout=TIMEOUT)
    doc = cli_json(capsys, "--town", "songjiang", "--as-of", "2022")
    assert_growth_is(page, doc)
    assert doc["growth"]["years"][-1] == 2022
    assert not page.js_errors


def test_one_computation_panel_json_pdf_and_export(page, server_url, capsys, tmp_path):
    """The issue's rule: the panel, `newtown scorecard --json`, the PDF brief and the
    dashboard's export (table and sidecar) show the same numbers for the same options."""
    options = ["--since", "2019", "--radius-m", "2500"]
    doc = cli_json(capsys, *options)
    open_scorecard(page, server_url + "?lang=en")
    page.fill("#sc-radius", "2500")
    page.fill("#sc-since", "2019")
    page.click("#sc-run")
    page.wait_for_selector("#sc-table[data-radius='2500'][data-since='2019'] tbody tr",
                           timeout=TIMEOUT)
    # 1. the panel's table
    for row in doc["towns"]:
        cells = page.locator(f"#sc-table tr[data-town={row['key']}] td").all_inner_texts()
        assert cells == [fmt_count(row["rank"]), row["name_en"], fmt_count(row["inside"]),
                         fmt_count(row["associated"]), fmt_count(row["placeholder"]),
                         fmt_count(row["total"]), fmt_count(row["distinct_sites"]),
                         fmt_ratio(row["density_inside_per_10km2"]),
                         fmt_ratio(row["per_100k_planned"]), fmt_share(row["covered_share"]),
                         fmt_m(row["median_nearest_m"])], row["key"]
    # 2. the PDF brief of Songjiang from the panel's button
    page.locator("#brief-town").click()
    page.get_by_role("option", name="Songjiang New Town", exact=True).click()
    with page.expect_download(timeout=TIMEOUT * 3) as info:
        page.click("#brief-button")
    pdf = tmp_path / "sj.pdf"
    info.value.save_as(pdf)
    text = pdftotext(pdf)
    songjiang = next(r for r in doc["towns"] if r["key"] == "songjiang")
    for name, value in expected_figures(songjiang, "en").items():
        assert value_after(text, name) == value, name
    assert value_after(text, label("per_100k", "en")) == fmt_ratio(songjiang["per_100k_planned"])
    # 3. the Export tab: the scorecard as CSV, its sidecar carrying the same result
    page.locator("[role=tab][aria-controls=panel-export]").click()
    page.wait_for_selector("#panel-export", state="visible", timeout=TIMEOUT)
    page.click("#export-format")
    page.get_by_role("option", name=t("fmt_csv", "en"), exact=True).click()
    for name in ("facilities", "towns"):
        page.locator(f"#export-layers input[value={name}]").uncheck()
    page.locator("#export-layers input[value=scorecard]").check()
    with page.expect_download(timeout=TIMEOUT * 3) as info:
        page.click("#export-button")
    bundle = tmp_path / "export.zip"
    info.value.save_as(bundle)
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        table = archive.read(next(n for n in names if n.endswith(".csv"))).decode("utf-8-sig")
        sidecar = json.loads(archive.read(next(n for n in names if n.endswith(".meta.json"))))
    rows = list(csv.DictReader(io.StringIO(table)))
    assert_table_equals(rows, doc)
    scorecard = sidecar["analysis"]["scorecard"]
    for key in ("towns", "total", "g60", "growth", "parameters"):
        assert scorecard[key] == doc[key], key
    assert not page.js_errors


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_scorecard_table_fits_its_drawer_and_keeps_town_names_on_one_line(page, server_url,
                                                                          lang):
    """At 1440x900 the table ran past the drawer's right edge (the last two columns cut
    off) and Chinese town names wrapped one character per line."""
    page.set_viewport_size({"width": 1440, "height": 900})
    open_scorecard(page, server_url + f"?lang={lang}&filters=off")
    page.wait_for_selector("#sc-table tbody tr", timeout=TIMEOUT)
    panel = page.locator("#panel-scorecard").bounding_box()
    holder = page.locator("#sc-table").locator("xpath=..").bounding_box()
    assert panel and holder
    assert holder["x"] + holder["width"] <= panel["x"] + panel["width"] + 1
    # whatever does not fit scrolls inside its holder instead of being cut off
    reachable = page.evaluate("""() => { const t = document.getElementById('sc-table');
        const h = t.parentElement; const s = getComputedStyle(h).overflowX;
        return t.scrollWidth <= h.clientWidth + 1 || s === 'auto' || s === 'scroll'; }""")
    assert reachable
    name = page.locator("#sc-table tbody tr[data-town=songjiang] td").nth(1)
    line = page.evaluate("(e) => parseFloat(getComputedStyle(e).lineHeight) || 20",
                         name.element_handle())
    assert page.evaluate("(e) => e.getClientRects().length", name.element_handle()) == 1
    assert name.evaluate("(e) => e.scrollHeight") < 2 * line + 8
