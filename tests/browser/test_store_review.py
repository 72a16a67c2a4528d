"""A served store in a real browser: sign-in, the review queue, the history panel, and edit
requests replayed by hand without the right role (Chromium via Playwright)."""

from __future__ import annotations

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
