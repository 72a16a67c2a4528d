"""The Clusters tab in a real browser: its defaults are `newtown clusters`' and no cluster
without extent shows an area of 0."""

from __future__ import annotations

import json

import pytest

from dashboard.cli import main
from geo.analysis.clusters import area_text
from geo.settings import CLUSTER_EPS_M
from tests.browser.test_dashboard import TIMEOUT, open_page, open_tab

pytestmark = pytest.mark.browser


def test_cluster_table_shows_points_and_no_zero_area(page, server_url, capsys):
    assert main(["clusters", "--json", "--lang", "zh"]) == 0
    doc = json.loads(capsys.readouterr().out)
    open_page(page, server_url)
    open_tab(page, "clusters")
    assert float(page.input_value("#cl-eps")) == CLUSTER_EPS_M
    page.click("#cl-run")
    page.wait_for_selector("#cluster-table", timeout=TIMEOUT)
    rows = page.locator("#cluster-table tbody tr")
    assert rows.count() == len(doc["clusters"])  # the same run as the CLI's, by default
    for i, cluster in enumerate(doc["clusters"]):
        cells = [c.strip() for c in rows.nth(i).locator("td").all_text_contents()]
        assert cells[0] == str(cluster["cluster"])
        assert cells[1:3] == [str(cluster["size"]), str(cluster["locations"])]
        assert cells[3] == area_text(cluster["area_m2"], cluster["shape"],
                                     cluster["locations"], "zh")
        assert cells[3] not in ("0", "0.0", "0.00")
    texts = page.locator("#cluster-table").text_content()
    assert "所有成员在同一点" in texts
