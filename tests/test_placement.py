"""geo.placement.analysable: the one rule that keeps placeholders out of spatial analyses."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.placement import analysable


def _frame(placements):
    n = len(placements)
    frame = gpd.GeoDataFrame(
        {"placement": placements},
        geometry=shapely.points([121.0 + i / 100 for i in range(n)], [31.0] * n),
        index=pd.Index([f"F-{i}" for i in range(n)], name="id"), crs=4326)
    return frame


def test_placeholders_are_left_out_and_listed():
    frame = _frame(["site", "town_placeholder", "area", "district_placeholder", "site"])
    kept, excluded = analysable(frame)
    assert list(kept.index) == ["F-0", "F-2", "F-4"]
    assert excluded == ("F-1", "F-3")
    assert isinstance(kept, gpd.GeoDataFrame) and kept.crs == frame.crs


def test_placeholders_are_kept_when_asked():
    frame = _frame(["site", "town_placeholder"])
    kept, excluded = analysable(frame, include_placeholders=True)
    assert list(kept.index) == ["F-0", "F-1"] and excluded == ()


def test_without_a_placement_column_it_refuses():
    frame = _frame(["site", "site"]).drop(columns="placement")
    with pytest.raises(ValueError, match="no 'placement' column"):
        analysable(frame)


def test_the_bundled_placeholders_are_the_ones_left_out(bundled_atlas):
    facilities = bundled_atlas.facilities
    kept, excluded = analysable(facilities)
    placeholder = facilities["placement"].str.endswith("_placeholder")
    assert set(excluded) == set(facilities.index[placeholder]) and excluded
    assert len(kept) + len(excluded) == len(facilities)
    assert set(kept["placement"]) <= {"site", "area"}
