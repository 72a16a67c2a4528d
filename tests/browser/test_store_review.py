"""A served store in a real browser: sign-in, the review queue, the history panel, and edit
requests replayed by hand without the right role (Chromium via Playwright)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from dashboard.app import create_app
from dashboard.storeapp import StoreServer
from geo.store import Store, open_store

pytestmark = pytest.mark.browser

TIMEOUT = 60_000
ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"root": "root-password", "ed": "ed-password", "rev": "rev-password",
             "view": "view-password"}
ROLES = {"root": "admin", "ed": "editor", "rev": "reviewer", "view": "viewer"}


def newtown(*args: str, stdin: str | None = None) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "dashboard.cli", *args], env=env,
                          input=stdin, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, Store, StoreServer]]:
    """A store made by `newtown store init` on the bundled data, its accounts made by
    `newtown users add`, served by StoreServer over real HTTP."""
    path = tmp_path_factory.mktemp("store") / "atlas.gpkg"
    newtown("store", "init", str(path))
    for name, role in ROLES.items():
        actor = [] if name == "root" else ["--user", "root"]
        newtown("users", "add", name, "--role", role, "--store", str(path), *actor,
                "--password-stdin", stdin=PASSWORDS[name] + "\n")
    store = open_store(path)
    server = StoreServer(store, create_app)
    http = make_server("127.0.0.1", 0, server, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}/", store, server
    finally:
        http.shutdown()
        server.close()
        store.close()


def sign_in(page: Any, url: str, name: str) -> None:
    page.goto(url)
    page.wait_for_selector("#signin-name", timeout=TIMEOUT)
    page.fill("#signin-name", name)
    page.fill("#signin-password", PASSWORDS[name])
    page.click("#signin-button")
    page.wait_for_selector("#signed-in-as", timeout=TIMEOUT)


def test_sign_in_and_out_from_the_header(page, served):
    url, _, _ = served
    page.goto(url + "?lang=en")
    page.wait_for_selector("#signin-name", timeout=TIMEOUT)
    page.fill("#signin-name", "rev")
    page.fill("#signin-password", "wrong-password")
    page.click("#signin-button")
    page.wait_for_selector(".nt-auth-error", timeout=TIMEOUT)
    assert page.inner_text(".nt-auth-error") == "unknown user or wrong password"
    sign_in(page, url + "?lang=en", "rev")
    assert page.inner_text("#signed-in-as") == "Signed in as rev (reviewer)"
    assert "lang=en" in page.url  # back on the page it came from
    cookie = next(c for c in page.context.cookies() if c["name"] == "newtown_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read the session
    page.click("#signout-button")
    page.wait_for_selector("#signin-name", timeout=TIMEOUT)
    assert not page.js_errors


def open_review(page: Any, url: str) -> None:
    sign_in(page, url + "?lang=en&tab=review&filters=off", "rev")
    page.wait_for_selector("#panel-review", state="visible", timeout=TIMEOUT)


def test_a_reviewer_approves_and_rejects_proposals_and_the_map_follows(page, served):
    url, store, _ = served
    retire = store.propose("ed", "retire", "JD-008", reason="closed <b>for good</b>",
                           source="notice 2026-11")
    rename = store.propose("ed", "set", "JD-002", {"name_en": "Sensor <i>Centre</i>"},
                           reason="official name", source="https://example.org/about")
    total = len(store.snapshot()[1])
    open_review(page, url)
    page.wait_for_selector(f"#proposal-{rename.change_id}", timeout=TIMEOUT)
    card = page.inner_text(f"#proposal-{rename.change_id}")
    assert "ed" in card and "official name" in card and "https://example.org/about" in card
    assert "Sensor <i>Centre</i>" in card  # shown as text, not markup
    assert page.locator(f"#proposal-{rename.change_id} i").count() == 0
    assert "closed <b>for good</b>" in page.inner_text(f"#proposal-{retire.change_id}")
    # the proposals layer: one dashed marker per located proposal, for a reviewer
    page.wait_for_selector(f".proposal-{retire.change_id}", state="attached", timeout=TIMEOUT)
    page.wait_for_function(f"() => document.querySelector('#selection-count')"
                           f".textContent.includes(' of {total} ')", timeout=TIMEOUT)
    revision = store.revision()
    page.fill(f"#proposal-{retire.change_id} input", "confirmed by phone")
    page.click(f"#proposal-{retire.change_id} button:has-text('Approve')")
    page.wait_for_selector("#review-status .nt-done", timeout=TIMEOUT)
    assert page.inner_text("#review-status") == (f"Change #{retire.change_id} approved "
                                                  f"(revision {revision + 1})")
    # the map and counts follow without a reload: one facility fewer
    page.wait_for_function(f"() => document.querySelector('#selection-count')"
                           f".textContent.includes(' of {total - 1} ')", timeout=TIMEOUT)
    page.wait_for_selector(f"#proposal-{retire.change_id}", state="detached", timeout=TIMEOUT)
    page.click(f"#proposal-{rename.change_id} button:has-text('Reject')")
    page.wait_for_selector("#review-empty", timeout=TIMEOUT)
    assert page.inner_text("#review-status") == f"Change #{rename.change_id} rejected"
    approved = store.history("JD-008")[-1]
    assert (approved.review_state, approved.reviewer, approved.review_comment) == \
        ("approved", "rev", "confirmed by phone")
    rejected = store.history("JD-002")[-1]
    assert (rejected.review_state, rejected.reviewer) == ("rejected", "rev")
    assert store.revision() == revision + 1  # the rejection changed no data
    assert page.locator(".proposal-marker").count() == 0
    assert not page.js_errors


def lone_site(store: Store, skip: set[str]) -> tuple[str, str]:
    """A facility drawn as a point (not a placeholder) that a text search selects alone."""
    from geo.catalog import PLACEHOLDER_PLACEMENTS
    from geo.query import Filter

    fac = store.atlas().facilities
    for fid, row in fac.iterrows():
        if fid in skip or row["placement"] in PLACEHOLDER_PLACEMENTS:
            continue
        if int(Filter.create(text=row["name_zh"]).mask(fac).sum()) == 1:
            return str(fid), str(row["name_zh"])
    raise AssertionError("no facility a search selects alone")


def capture_callback(page: Any, trigger_id: str) -> list[dict[str, Any]]:
    """Hold back the next /_dash-update-component POST triggered by ``trigger_id``: its body
    and headers are recorded and the request is aborted (so it never reaches the server)."""
    captured: list[dict[str, Any]] = []

    def handle(route: Any) -> None:
        body = route.request.post_data or ""
        if not captured and '"changedPropIds"' in body:
            import json

            doc = json.loads(body)
            if trigger_id in doc.get("changedPropIds", []):
                captured.append({"body": body, "url": route.request.url})
                route.abort()
                return
        route.continue_()

    page.route("**/_dash-update-component*", handle)
    return captured


def wait_for(page: Any, captured: list[Any]) -> None:
    for _ in range(600):
        if captured:
            return
        page.wait_for_timeout(100)
    raise AssertionError("the callback's request was not seen")


def replay(url: str, captured: dict[str, Any], *, cookie: str | None,
           origin: bool = True) -> Any:
    import requests

    headers = {"Content-Type": "application/json"}
    if origin:
        headers["Origin"] = url.rstrip("/")
    cookies = {"newtown_session": cookie} if cookie else {}
    return requests.post(captured["url"], data=captured["body"].encode(), headers=headers,
                         cookies=cookies, timeout=60)


def session_cookie(url: str, name: str) -> str:
    import requests

    r = requests.post(url + "auth/login", json={"name": name, "password": PASSWORDS[name]},
                      headers={"Origin": url.rstrip("/")}, timeout=60)
    assert r.status_code == 200, r.text
    return str(r.cookies["newtown_session"])


def store_state(store: Store, facility_id: str) -> tuple[int, list[Any], Any]:
    return store.revision(), store.history(facility_id), store.facility(facility_id)


def test_replayed_approval_by_a_viewer_or_anonymously_is_refused(page, served):
    """The approve callback's real request body, replayed by hand: a viewer's and an anonymous
    request are refused and change nothing; the reviewer's own cookie makes it work."""
    url, store, _ = served
    facility_id, _ = lone_site(store, {"JD-008", "JD-002"})
    proposal = store.propose("ed", "set", facility_id, {"name_en": "Replayed"},
                             reason="replay test", source="test")
    open_review(page, url)
    page.wait_for_selector(f"#proposal-{proposal.change_id}", timeout=TIMEOUT)
    captured = capture_callback(page, ids_approve(proposal.change_id))
    page.click(f"#proposal-{proposal.change_id} button:has-text('Approve')")
    wait_for(page, captured)
    before = store_state(store, facility_id)
    assert before[1][-1].review_state == "proposed"

    as_viewer = replay(url, captured[0], cookie=session_cookie(url, "view"))
    assert as_viewer.status_code == 200
    assert "Refused: view is a viewer: this needs the reviewer role or higher" in as_viewer.text
    anonymous = replay(url, captured[0], cookie=None)
    assert "Refused: sign in first" in anonymous.text
    as_editor = replay(url, captured[0], cookie=session_cookie(url, "ed"))
    assert "Refused: ed is a editor" in as_editor.text
    foreign = replay(url, captured[0], cookie=session_cookie(url, "view"), origin=False)
    assert foreign.status_code == 403
    assert store_state(store, facility_id) == before  # revision, history, row: unchanged

    # the same body with the reviewer's own session is accepted: the refusals were the role's
    reviewer = next(c["value"] for c in page.context.cookies() if c["name"] == "newtown_session")
    accepted = replay(url, captured[0], cookie=reviewer)
    assert f"Change #{proposal.change_id} approved" in accepted.text
    assert store.history(facility_id)[-1].review_state == "approved"
    assert store.revision() == before[0] + 1


def ids_approve(change_id: int) -> str:
    from dashboard import ids

    return f'{{"change":{change_id},"type":"{ids.REVIEW_APPROVE}"}}.n_clicks'


def test_revert_from_the_history_panel_and_a_replayed_revert_refused(page, served):
    url, store, server = served
    facility_id, name = lone_site(store, {"JD-008", "JD-002"})
    first = store.facility(facility_id)
    assert first is not None
    store.propose("root", "set", facility_id, {"address": "wrong <script>x</script> address"},
                  reason="typo <b>test</b>", source="test source")
    server.sync()  # served now (the watcher would within a second)
    version = first["version"] + 1
    sign_in(page, url + "?lang=en&filters=off&q=" + name, "root")
    marker = page.locator(f".facility-{facility_id}")
    marker.wait_for(state="attached", timeout=TIMEOUT)
    marker.dispatch_event("click")
    page.wait_for_selector("#history-table", timeout=TIMEOUT)
    table = page.inner_text("#history-table")
    assert "typo <b>test</b>" in table and "test source" in table and "root" in table
    assert " UTC" in table and "applied" in table
    assert page.locator("#history-table b").count() == 0  # text, not markup
    assert "wrong <script>x</script> address" in page.inner_text("#details")
    assert page.locator("#details script").count() == 0

    # a viewer's and an anonymous replay of the revert request change nothing
    captured = capture_callback(page, ids_name("REVERT_BUTTON") + ".n_clicks")
    page.fill("#revert-reason", "undo the typo")
    page.fill("#revert-source", "the original row")
    page.click("#revert-button")
    wait_for(page, captured)
    before = store_state(store, facility_id)
    as_viewer = replay(url, captured[0], cookie=session_cookie(url, "view"))
    assert "Refused: view is a viewer: this needs the editor role or higher" in as_viewer.text
    anonymous = replay(url, captured[0], cookie=None)
    assert "Refused: sign in first" in anonymous.text
    assert store_state(store, facility_id) == before
    page.unroute("**/_dash-update-component*")

    page.click("#revert-button")  # for real now
    page.wait_for_selector("#revert-status .nt-done", timeout=TIMEOUT)
    assert page.inner_text("#revert-status").startswith(f"Reverted to version {version - 1}")
    after = store.facility(facility_id)
    assert after is not None and after["version"] == version + 1
    assert after["address"] == first["address"]
    last = store.history(facility_id)[-1]
    assert (last.action, last.user, last.reason, last.source, last.review_state) == \
        ("revert", "root", "undo the typo", "the original row", "applied")
    # the history panel and the details show the new change without a reload
    page.wait_for_selector(f"#history-{last.change_id}", timeout=TIMEOUT)
    page.wait_for_function("(a) => document.querySelector('#details').textContent.includes(a)",
                           arg=first["address"], timeout=TIMEOUT)
    assert "wrong" not in page.inner_text("#details")
    assert not page.js_errors


def ids_name(attr: str) -> str:
    from dashboard import ids

    return str(getattr(ids, attr))


def test_viewers_see_no_review_tab_no_proposals_and_no_revert(page, served):
    url, store, _ = served
    facility_id, name = lone_site(store, {"JD-008", "JD-002"})
    pending = store.propose("ed", "set", facility_id, {"name_en": "Not yet"},
                            reason="pending for viewers", source="test")
    sign_in(page, url + "?lang=en&filters=off&tab=review&q=" + name, "view")
    assert page.inner_text("#signed-in-as") == "Signed in as view (viewer)"
    assert page.locator("#panel-review").count() == 0  # no tab, even asked for in the URL
    marker = page.locator(f".facility-{facility_id}")
    marker.wait_for(state="attached", timeout=TIMEOUT)
    marker.dispatch_event("click")
    page.wait_for_selector("#history-table, #history .nt-note", timeout=TIMEOUT)
    history = page.inner_text("#history")
    assert "pending for viewers" not in history  # a proposal is not shown to viewers
    assert page.locator("#revert-button").count() == 0
    assert page.locator(".proposal-marker").count() == 0
    assert page.locator(f".proposal-{pending.change_id}").count() == 0
    store.reject(pending.change_id, "rev", "tidy up")


def test_the_review_queue_shows_another_users_proposal_without_a_click(browser, served):
    """Two people: a reviewer has the Review tab open and is typing a comment; an editor, in
    another browser context, proposes a change in the Edit tab. The reviewer's queue shows it
    within a few seconds (the tab polls the queue's state), without Refresh, and the comment
    being typed survives the redraw."""
    url, store, _ = served
    waiting = store.propose("ed", "set", "JD-006", {"name_en": "Waiting for review"},
                            reason="older proposal", source="notice")
    contexts = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(2)]
    reviewer, editor = (c.new_page() for c in contexts)
    try:
        open_review(reviewer, url)
        comment = "[id='" + json.dumps({"change": waiting.change_id, "type": "review-comment"},
                                       separators=(",", ":")) + "']"
        reviewer.wait_for_selector(comment, timeout=TIMEOUT)
        reviewer.fill(comment, "half-typed comment")
        sign_in(editor, url + "?lang=en&tab=edit", "ed")
        editor.wait_for_selector("#panel-edit", state="visible", timeout=TIMEOUT)
        editor.fill("#edit-load-id", "JD-005")
        editor.click("#edit-load")
        editor.wait_for_function("() => document.querySelector('#edit-mode-note')"
                                 ".textContent.startsWith('Editing JD-005')", timeout=TIMEOUT)
        name = "[id='" + json.dumps({"field": "name_en", "type": "edit-field"},
                                    separators=(",", ":")) + "']"
        editor.fill(name, "Proposed from another browser")
        editor.fill("#edit-reason", "official name")
        editor.fill("#edit-source", "https://example.org/jd-005")
        editor.click("#edit-save")
        editor.wait_for_selector("#edit-status-proposed", timeout=TIMEOUT)
        (new,) = [c for c in store.proposals() if c.facility_id == "JD-005"]
        started = time.monotonic()
        reviewer.wait_for_selector(f"#proposal-{new.change_id}", timeout=20_000)  # no click
        seen_after = time.monotonic() - started
        assert "Proposed from another browser" in reviewer.inner_text(
            f"#proposal-{new.change_id}")
        assert reviewer.input_value(comment) == "half-typed comment"  # kept through the redraw
        assert reviewer.locator("#review-refresh").is_visible()  # the button is still there
        assert seen_after < 20
        # Another tab open: the page stops asking (the tick stays in the browser).
        polls: list[str] = []
        reviewer.on("request", lambda r: r.method == "POST" and "review-tick" in (
            r.post_data or "") and polls.append(r.url))
        reviewer.click("[id='" + json.dumps({"tab": "summary", "type": "tab"},
                                            separators=(",", ":")) + "']")
        reviewer.wait_for_selector("#panel-summary", state="visible", timeout=TIMEOUT)
        polls.clear()
        reviewer.wait_for_timeout(7000)  # two poll periods and more: the absence is the check
        assert polls == []
    finally:
        for c in contexts:
            c.close()
        for c in store.proposals():  # leave the module's queue as it was
            if c.facility_id in ("JD-005", "JD-006"):
                store.reject(c.change_id, "rev", "test done")
