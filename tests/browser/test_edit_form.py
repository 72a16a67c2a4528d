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
from playwright.sync_api import expect
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
    """Pick the option ``label`` of a form dropdown through its search box, and check it shows.

    Each step waits for the state the next one needs, instead of typing into whatever has
    the focus. Dash 4's dropdown opens its popover and moves the focus from its button to
    the search box one animation frame later; keys pressed on the button before that build a
    search of their own (the button's keyup handler) while keys in the box go through the
    box's controlled value, so keys typed straight after the click depend on when that
    frame runs (a loaded machine). Here: wait until this dropdown says it is open, fill its
    search box in one input event, wait until the box holds the text, click the option
    inside this dropdown's popover, and wait until it has closed and shows the choice.
    """
    button = page.locator(field(name))
    # The popover is drawn inside the dropdown's own wrapper (Radix portal container).
    wrapper = button.locator("xpath=ancestor::div[contains(@class,'dash-dropdown-wrapper')][1]")
    search = wrapper.locator("input.dash-dropdown-search")
    text = label.split(" (")[0]
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true", timeout=TIMEOUT)
    search.fill(text, timeout=TIMEOUT)
    expect(search).to_have_value(text, timeout=TIMEOUT)  # the filter has taken the text
    wrapper.get_by_role("option", name=label, exact=True).click(timeout=TIMEOUT)
    if button.get_attribute("aria-expanded") == "true":  # a multi-select stays open
        search.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false", timeout=TIMEOUT)
    expect(button).to_contain_text(label, timeout=TIMEOUT)


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


def wait_text(page: Any, selector: str, text: str) -> None:
    """Wait until the element's text is ``text`` (set by a callback of its own)."""
    page.wait_for_function("([s, t]) => document.querySelector(s)?.textContent === t",
                           arg=[selector, text], timeout=TIMEOUT)


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
    wait_text(page, "#edit-mode-note", "Editing JD-901 (version 1)")


def open_selected(page: Any, url: str, store: Store, fid: str, user: str,
                  lang: str = "en") -> dict[str, Any]:
    """Sign in, show ``fid`` close up, click it and load it into the form."""
    row = store.facility(fid)
    assert row is not None
    sign_in(page, f"{url}?lang={lang}&tab=edit&view={row['lat']},{row['lon']},16", user)
    click_facility(page, fid)
    page.wait_for_selector(f"#details-{fid}", timeout=TIMEOUT)
    page.click("#edit-load")
    page.wait_for_function(
        f"() => document.querySelector(`{field('id')}`).value === '{fid}'", timeout=TIMEOUT)
    return row


def test_a_rejected_save_shows_the_loaders_message_at_its_field_and_keeps_the_input(
        page, served):
    url, store = served
    before = open_selected(page, url, store, "JD-008", "ed")
    assert page.input_value(field("name_zh")) == before["name_zh"]
    wait_text(page, "#edit-mode-note", f"Editing JD-008 (version {before['version']})")
    page.fill(field("name_zh"), "")
    page.fill(field("name_en"), "Typed by ed, kept")
    page.fill(field("year"), "abc")
    page.fill("#edit-reason", "correct the name")
    page.fill("#edit-source", "https://example.org/jd-008")
    page.click("#edit-save")
    summary = wait_status(page, "invalid")
    # The loader's own messages, in full in the summary, each under its field.
    assert "field 'name_zh': required value is blank" in summary
    assert "field 'year': not a number (got 'abc')" in summary
    assert page.inner_text(error_at("name_zh")) == "required value is blank"
    assert "not a number" in page.inner_text(error_at("year"))
    assert page.inner_text(error_at("name_en")) == ""
    # Nothing was saved, and the form still holds what was typed.
    assert store.facility("JD-008") == before
    assert page.input_value(field("name_en")) == "Typed by ed, kept"
    assert page.input_value(field("year")) == "abc"
    assert page.input_value("#edit-reason") == "correct the name"


def test_a_stale_save_is_refused_naming_who_changed_it_and_keeps_the_form(browser, served):
    url, store = served
    before = store.facility("SJ-007")
    assert before is not None
    pages = []
    for _ in range(2):  # two people, two browser sessions
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        pages.append(context.new_page())
    ann, ed = pages
    try:
        open_selected(ann, url, store, "SJ-007", "ann")
        open_selected(ed, url, store, "SJ-007", "ed")
        ann.fill(field("name_en"), "Renamed by ann")
        ann.fill("#edit-reason", "official name")
        ann.fill("#edit-source", "https://example.org/sj-007")
        ann.click("#edit-save")
        wait_status(ann, "applied")
        ed.fill(field("address"), "ed's typed address 1号")
        ed.fill("#edit-reason", "address from the notice")
        ed.fill("#edit-source", "notice 2026-11")
        ed.click("#edit-save")
        summary = wait_status(ed, "conflict")
        assert "someone else changed this facility first" in summary
        assert f"is at version {before['version'] + 1}, not {before['version']}" in summary
        assert "changed by ann at 20" in summary  # who, and when (UTC)
        assert ed.input_value(field("address")) == "ed's typed address 1号"
        assert ed.input_value("#edit-reason") == "address from the notice"
        after = store.facility("SJ-007")
        assert after is not None
        assert after["name_en"] == "Renamed by ann" and after["address"] == before["address"]
    finally:
        for p in pages:
            p.context.close()


def test_retire_keeps_the_facility_on_record_and_takes_it_off_the_map(page, served):
    url, store = served
    open_selected(page, url, store, "NH-012", "ed")
    page.click("#edit-retire")  # without a reason: refused at the field
    wait_status(page, "invalid")
    assert page.inner_text(error_at("reason")) == "required"
    assert store.facility("NH-012")["retired"] is False  # type: ignore[index]
    page.fill("#edit-reason", "moved out of Lingang")
    page.fill("#edit-source", "notice 2026-11")
    page.click("#edit-retire")
    assert "NH-012 is kept in the history" in wait_status(page, "applied")
    row = store.facility("NH-012")
    assert row is not None and row["retired"] is True
    assert row["retired_reason"] == "moved out of Lingang"
    assert [c.action for c in store.history("NH-012")] == ["retire"]
    page.wait_for_selector("path.facility-NH-012", state="detached", timeout=TIMEOUT)


def test_dragging_the_handle_moves_the_facility(page, served):
    url, store = served
    before = open_selected(page, url, store, "FX-007", "ed")
    handle = page.locator(".nt-edit-handle")
    handle.wait_for(timeout=TIMEOUT)
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 30, y, steps=5)
    page.mouse.move(x + 60, y, steps=5)
    page.mouse.up()
    page.wait_for_function(
        f"() => document.querySelector(`{field('lon')}`).value !== '{before['lon']}'",
        timeout=TIMEOUT)
    page.fill("#edit-reason", "gate surveyed")
    page.fill("#edit-source", "site visit 2026-11-30")
    page.click("#edit-save")
    wait_status(page, "applied")
    after = store.facility("FX-007")
    assert after is not None
    moved = metres_between((float(after["lon"]), float(after["lat"])),
                           (float(before["lon"]), float(before["lat"])))
    assert 60 < moved < 200  # 60 px east at zoom 16 (about 2 m a pixel here)
    assert float(after["lon"]) > float(before["lon"])
    assert store.history("FX-007")[-1].action == "move"


def test_a_viewer_is_refused_and_nothing_changes(page, served):
    url, store = served
    revision = store.revision()
    sign_in(page, f"{url}?lang=en&tab=edit", "view")
    page.fill(field("id"), "JD-902")
    page.fill(field("name_zh"), "viewer's try")
    page.fill("#edit-reason", "x")
    page.fill("#edit-source", "y")
    page.click("#edit-save")
    summary = wait_status(page, "refused")
    assert "view is a viewer" in summary
    assert store.facility("JD-902") is None and store.revision() == revision


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory) -> Iterator[tuple[str, Store]]:
    """A store with review on (the default of `newtown store init`), served over HTTP."""
    path = tmp_path_factory.mktemp("reviewed") / "atlas.gpkg"
    newtown("store", "init", str(path))
    for name in ("root", "ed"):
        actor = [] if name == "root" else ["--user", "root"]
        newtown("users", "add", name, "--role", ROLES[name], "--store", str(path), *actor,
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


def test_under_review_a_typed_bd09_add_becomes_a_proposal_and_the_page_says_so(page,
                                                                               reviewed):
    from geo.crs import wgs84_to_bd09

    url, store = reviewed
    sign_in(page, f"{url}?lang=en&tab=edit", "ed")
    page.wait_for_function("() => document.getElementById('edit-review-note')"
                           ".textContent.includes('becomes a proposal')", timeout=TIMEOUT)
    bx, by = wgs84_to_bd09(121.2455, 31.3885)
    page.fill(field("id"), "JD-903")
    page.fill(field("name_zh"), "百度坐标录入")
    choose(page, "category", "Incubator (incubator)")
    choose(page, "industries", "Biomedicine (biomed)")
    choose(page, "town", "Jiading New Town (jiading)")
    choose(page, "district", "Jiading District (嘉定区)")
    page.fill(field("lon"), f"{float(bx):.6f}")
    page.fill(field("lat"), f"{float(by):.6f}")
    page.check("#edit-datum input[value=bd09]")
    page.fill(field("coord_source"), "Baidu Maps pin")
    page.fill(field("coord_precision_m"), "30")
    choose(page, "placement", "Site (site)")
    page.fill(field("source"), "https://example.org/jd-903")
    page.fill("#edit-reason", "new incubator")
    page.fill("#edit-source", "district notice")
    page.click("#edit-save")
    assert "it shows once a reviewer approves it" in wait_status(page, "proposed")
    assert store.facility("JD-903") is None  # not approved: not in the approved state
    (proposal,) = store.proposals()
    assert (proposal.facility_id, proposal.user) == ("JD-903", "ed")
    stored = (float(proposal.after["lon"]), float(proposal.after["lat"]))
    assert metres_between(stored, (121.2455, 31.3885)) < 1  # BD-09 -> WGS84 before storing
    assert page.locator("path.facility-JD-903").count() == 0
    # Drawn for the editor as a pending proposal (a dashed ring), not as a facility.
    page.wait_for_selector(f"path.proposal-{proposal.change_id}", state="attached",
                           timeout=TIMEOUT)


def test_a_placeholder_is_loaded_by_its_id_and_edited(page, served):
    url, store = served
    before = store.facility("JD-001")
    assert before is not None and before["placement"] == "town_placeholder"
    sign_in(page, f"{url}?lang=en&tab=edit", "ed")
    page.fill("#edit-load-id", "JD-001")
    page.click("#edit-load")
    page.wait_for_function(
        f"() => document.querySelector(`{field('id')}`).value === 'JD-001'", timeout=TIMEOUT)
    page.wait_for_selector(field("id") + ":disabled", timeout=TIMEOUT)  # an id never changes
    assert page.input_value(field("coord_precision_m")) == before["coord_precision_m"]
    page.fill(field("name_en"), "SAIC Motor Innovation Research Institute")
    page.fill("#edit-reason", "shorter English name")
    page.fill("#edit-source", "https://example.org/saic")
    page.click("#edit-save")
    assert f"now at version {before['version'] + 1}" in wait_status(page, "applied")
    after = store.facility("JD-001")
    assert after is not None and after["name_en"] == "SAIC Motor Innovation Research Institute"
    assert {k: v for k, v in after.items() if k not in ("name_en", "version")} == \
        {k: v for k, v in before.items() if k not in ("name_en", "version")}
    assert store.history("JD-001")[-1].action == "set"


def test_a_retired_facility_is_restored_from_the_edit_tab(page, served):
    """Retire JD-008 in the Edit tab; it leaves the map and the count. Typed by its ID it
    loads as retired, with a Restore button; restoring (reason and source required) is a new
    change: JD-008 is back on the map, counted again, and its history shows both changes."""
    url, store = served
    total = len(store.snapshot()[1])
    open_selected(page, url, store, "JD-008", "ed")
    page.wait_for_function("() => document.querySelector('#selection-count')"
                           f".textContent.includes(' of {total} ')", timeout=TIMEOUT)
    page.fill("#edit-reason", "closed in 2026")
    page.fill("#edit-source", "district notice 2026-11")
    page.click("#edit-retire")
    wait_status(page, "applied")
    page.wait_for_selector("path.facility-JD-008", state="detached", timeout=TIMEOUT)
    page.wait_for_function("() => document.querySelector('#selection-count')"
                           f".textContent.includes(' of {total - 1} ')", timeout=TIMEOUT)
    assert page.locator("#edit-restore").is_hidden()
    page.fill("#edit-load-id", "JD-008")
    page.click("#edit-load")
    wait_text(page, "#edit-mode-note", "JD-008 is retired (version 2; reason: closed in 2026). "
              "Give a reason and a source and press Restore to bring it back as it was "
              "before.")
    page.wait_for_selector("#edit-restore", state="visible", timeout=TIMEOUT)
    page.fill("#edit-reason", "")
    page.click("#edit-restore")  # no reason: refused at the field, nothing changes
    wait_status(page, "invalid")
    assert page.inner_text(error_at("reason")) == "required"
    assert store.facility("JD-008")["retired"] is True  # type: ignore[index]
    page.fill("#edit-reason", "reopened")
    page.fill("#edit-source", "district notice 2026-12")
    page.click("#edit-restore")
    assert "JD-008 is back on the map at version 3" in wait_status(page, "applied")
    row = store.facility("JD-008")
    assert row is not None and row["retired"] is False and row["version"] == 3
    page.wait_for_selector("path.facility-JD-008", state="attached", timeout=TIMEOUT)
    page.wait_for_function("() => document.querySelector('#selection-count')"
                           f".textContent.includes(' of {total} ')", timeout=TIMEOUT)
    wait_text(page, "#edit-mode-note", "Editing JD-008 (version 3)")
    assert page.locator("#edit-restore").is_hidden()
    # The history in the details popup (a fresh page: the marker was clicked before, and the
    # edit handle sits on it) lists the retirement and the restore.
    page.goto(f"{url}?lang=en&view={row['lat']},{row['lon']},16")
    click_facility(page, "JD-008")
    page.wait_for_selector("#details-JD-008", timeout=TIMEOUT)
    page.wait_for_selector("#history-table", timeout=TIMEOUT)
    changes = store.history("JD-008")
    assert [c.action for c in changes] == ["retire", "revert"]
    for change in changes:
        page.wait_for_selector(f"#history-{change.change_id}", timeout=TIMEOUT)
    assert "reopened" in page.inner_text(f"#history-{changes[1].change_id}")
    assert "closed in 2026" in page.inner_text(f"#history-{changes[0].change_id}")
