"""The Edit tab in a real browser (Chromium via Playwright) against a served store: add by a
map click on the AMap basemap (GCJ-02), a validation error at its field, a conflict between two
sessions, retire, and a viewer refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from dashboard.app import create_app
from dashboard.storeapp import StoreServer
from geo.crs import METRIC_CRS
from geo.store import Store, open_store

pytestmark = pytest.mark.browser

TIMEOUT = 60_000
ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"root": "root-password", "ed": "ed-password", "ann": "ann-password",
             "view": "view-password"}
ROLES = {"root": "admin", "ed": "editor", "ann": "editor", "view": "viewer"}


def newtown(*args: str, stdin: str | None = None) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "dashboard.cli", *args], env=env,
                          input=stdin, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, Store]]:
    """A store made by `newtown store init --no-review` from the bundled data, accounts by
    `newtown users add`, served by StoreServer over real HTTP (so an editor's save applies and
    shows on the map at once)."""
    path = tmp_path_factory.mktemp("store") / "atlas.gpkg"
    newtown("store", "init", str(path), "--no-review")
    for name, role in ROLES.items():
        actor = [] if name == "root" else ["--user", "root"]
        newtown("users", "add", name, "--role", role, "--store", str(path), *actor,
                "--password-stdin", stdin=PASSWORDS[name] + "\n")
    store = open_store(path)
    server = StoreServer(store, create_app)
    http = make_server("127.0.0.1", 0, server, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{http.server_port}/", store
    finally:
        http.shutdown()
        server.close()
        store.close()


def sign_in(page: Any, url: str, name: str) -> None:
    """Sign in with the header's form; the page comes back at ``url`` signed in."""
    page.goto(url)
    page.wait_for_selector("#signin-name", timeout=TIMEOUT)
    page.fill("#signin-name", name)
    page.fill("#signin-password", PASSWORDS[name])
    page.click("#signin-button")
    page.wait_for_selector("#signed-in-as", timeout=TIMEOUT)
    page.wait_for_selector("#panel-edit", state="visible", timeout=TIMEOUT)


def field(name: str) -> str:
    """The CSS selector of a form control (Dash writes a pattern id as sorted JSON)."""
    return "[id='" + json.dumps({"field": name, "type": "edit-field"},
                                separators=(",", ":")) + "']"


def error_at(name: str) -> str:
    return "[id='" + json.dumps({"field": name, "type": "edit-error"},
                                separators=(",", ":")) + "']"


def choose(page: Any, name: str, label: str) -> None:
    """Pick the option ``label`` of a form dropdown (typing to search)."""
    page.click(field(name))
    page.keyboard.type(label.split(" (")[0])
    page.get_by_role("option", name=label, exact=True).click()
    page.keyboard.press("Escape")


def click_facility(page: Any, fid: str) -> tuple[float, float]:
    """Click a facility's marker at its centre; returns the page pixel clicked."""
    marker = page.locator(f"path.facility-{fid}")
    marker.wait_for(timeout=TIMEOUT)
    box = marker.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)
    return x, y


def wait_status(page: Any, status: str) -> str:
    page.wait_for_selector(f"#edit-status-{status}", timeout=TIMEOUT)
    return str(page.inner_text("#edit-summary"))


def metres_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    from pyproj import Transformer

    to_m = Transformer.from_crs(4326, METRIC_CRS, always_xy=True)
    (ax, ay), (bx, by) = to_m.transform(a[0], a[1]), to_m.transform(b[0], b[1])
    return float(((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5)


def test_editor_adds_a_facility_by_clicking_the_amap_basemap(page, served):
    url, store = served
    target = store.facility("JD-004")
    assert target is not None
    lon, lat = float(target["lon"]), float(target["lat"])
    # AMap tiles are GCJ-02: the map (and a click on it) is in GCJ-02, the store in WGS84.
    sign_in(page, f"{url}?lang=en&basemap=amap&tab=edit&view={lat},{lon},16", "ed")
    page.click("#edit-new")
    click_facility(page, "JD-004")  # a click where JD-004 is drawn: its GCJ-02 position
    page.wait_for_function(
        f"() => document.querySelector(`{field('lon')}`).value !== ''", timeout=TIMEOUT)
    assert page.is_checked("#edit-datum input[value=gcj02]")
    clicked = (float(page.input_value(field("lon"))), float(page.input_value(field("lat"))))
    assert metres_between(clicked, (lon, lat)) > 300  # GCJ-02 is ~500 m off here
    page.wait_for_selector(".nt-edit-handle", timeout=TIMEOUT)  # the handle at the click
    page.fill(field("id"), "JD-901")
    page.fill(field("name_zh"), "测试平台 <b>一</b>")
    choose(page, "category", "Key laboratory (lab)")
    choose(page, "industries", "Artificial intelligence (ai)")
    choose(page, "town", "Jiading New Town (jiading)")
    choose(page, "district", "Jiading District (嘉定区)")
    page.fill(field("coord_source"), "map click on AMap")
    page.fill(field("coord_precision_m"), "50")
    choose(page, "placement", "Site (site)")
    choose(page, "level", "Municipal (municipal)")
    choose(page, "status", "Operating (operating)")
    page.fill(field("source"), "https://example.org/jd-901")
    page.fill("#edit-reason", "new lab opened")
    page.fill("#edit-source", "site visit 2026-11-30")
    page.click("#edit-save")
    assert "JD-901 is now at version 1" in wait_status(page, "applied")
    row = store.facility("JD-901")
    assert row is not None and row["name_zh"] == "测试平台 <b>一</b>"
    # Stored in WGS84, where JD-004 is: the click was converted back from GCJ-02.
    assert metres_between((float(row["lon"]), float(row["lat"])), (lon, lat)) < 5
    # The map shows it without a reload (the save's revision redraws the selection).
    page.wait_for_selector("path.facility-JD-901", state="attached", timeout=TIMEOUT)
    assert page.locator("b").filter(has_text="一").count() == 0  # the name stayed text
    assert page.inner_text("#edit-mode-note") == "Editing JD-901 (version 1)"
