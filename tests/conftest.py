"""Shared fixtures: the bundled data, loaded once per test session."""

from __future__ import annotations

import shutil

import pytest

from geo.atlas import load_atlas


@pytest.fixture(scope="session")
def bundled_atlas():
    return load_atlas()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-features=Translate,MediaRouter,OptimizationHints",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright, one per test session (Playwright's sync API
    allows only one running instance per thread)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_ARGS)
        yield launched
        launched.close()
