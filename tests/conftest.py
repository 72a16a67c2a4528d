"""Shared fixtures: the bundled data, loaded once per test session."""

from __future__ import annotations

import pytest

from geo.atlas import load_atlas


@pytest.fixture(scope="session")
def bundled_atlas():
    return load_atlas()
