"""geo.placement.analysable: the one rule that keeps placeholders out of spatial analyses."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
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


def test_without_a_placement_column_every_row_is_a_site():
    frame = _frame(["site", "site"]).drop(columns="placement")
    kept, excluded = analysable(frame)
    assert list(kept.index) == ["F-0", "F-1"] and excluded == ()
