"""MAP_FIT targets carry their WGS84 bounds, so a basemap switch moves them to the new datum."""

from __future__ import annotations

import pytest

from dashboard.components.map import bounds_target, fit_bounds, fit_target, target_in_datum
from dashboard.mapdata import MapData
from geo.crs import convert
from geo.query import Filter


@pytest.fixture(scope="module")
def mapdata(bundled_atlas):
    return MapData(bundled_atlas)


def test_a_target_moves_to_the_amap_datum_as_the_overlays_do(mapdata):
    flt = Filter.create(towns=["jiading"])
    wgs = fit_bounds(mapdata, flt)
    target = fit_target(mapdata, flt, "wgs84")
    assert target["bounds"] == wgs == target["wgs84"] and target["datum"] == "wgs84"
    moved = target_in_datum(mapdata, target, "gcj02")
    assert moved is not None
    (s, w), (n, e) = moved["bounds"]
    # the same conversion the overlays get (geo.crs), hundreds of metres in Shanghai
    x, y = convert([wgs[0][1], wgs[1][1]], [wgs[0][0], wgs[1][0]], from_datum="wgs84",
                   to_datum="gcj02")
    assert (w, e, s, n) == pytest.approx((x[0], x[1], y[0], y[1]), abs=1e-9)
    assert abs(w - wgs[0][1]) > 0.003  # ~300 m east: not a no-op
    assert moved["wgs84"] == wgs and moved["datum"] == "gcj02"
    assert moved["refit"] == "datum" and moved["transition"] == "fitBounds"
    # and back again: the WGS84 bounds, not a double shift
    back = target_in_datum(mapdata, moved, "wgs84")
    assert back is not None and back["bounds"] == wgs


def test_no_move_without_a_target_or_in_the_same_datum(mapdata):
    target = bounds_target(mapdata, [[31.0, 121.0], [31.1, 121.2]], "gcj02")
    assert target_in_datum(mapdata, target, "gcj02") is None
    assert target_in_datum(mapdata, None, "gcj02") is None
    # a target without its WGS84 bounds (none can be recovered) is left alone
    assert target_in_datum(mapdata, {"bounds": [[31, 121], [32, 122]]}, "gcj02") is None
