"""A shared link keeps its valid values and says which it ignored; the CLI stays strict."""

from __future__ import annotations

import pytest
import shapely

from dashboard.components.filters import filters_panel
from dashboard.urlstate import parse_state
from geo._errors import AtlasError, UnknownNameError
from geo.query import Filter, filter_from_params_lenient

AREA = "121.1,31.2;121.3,31.2;121.3,31.4"


def test_one_unknown_industry_keeps_the_others():
    flt, ignored = filter_from_params_lenient({"industry": ["auto", "x"]})
    assert flt == Filter.create(industries=["auto"])
    (message,) = ignored
    assert message.startswith("industry=x: unknown industry 'x'")


def test_comma_joined_values_are_judged_one_by_one():
    flt, ignored = filter_from_params_lenient({"town": "jiading,atlantis,青浦"})
    assert flt.towns == ("jiading", "qingpu")
    assert [m.split(":")[0] for m in ignored] == ["town=atlantis"]


def test_every_kind_of_bad_value_is_left_out_and_named():
    flt, ignored = filter_from_params_lenient({
        "town": ["jiading"], "level": ["national", "planetary"], "status": ["bogus"],
        "asof": ["last year"], "within": ["121.1,31.2;oops"], "q": ["上汽"],
        "utm_source": ["x"],  # not a filter parameter: not reported either
    })
    assert flt == Filter.create(towns=["jiading"], levels=["national"], text="上汽")
    assert [m.split(":")[0] for m in ignored] == [
        "level=planetary", "status=bogus", "within=121.1,31.2;oops", "asof=last year"]
    assert "expected a year" in ignored[-1]


@pytest.mark.parametrize("query", [
    "",
    "town=jiading,qingpu&industry=auto&q=上汽",
    f"town=songjiang&within={AREA}&asof=2020&level=national&status=operating",
])
def test_a_valid_link_parses_as_the_strict_parser_does(query):
    from urllib.parse import parse_qs

    params = parse_qs(query)
    flt, ignored = filter_from_params_lenient(params)
    assert ignored == ()
    assert flt == Filter.from_params(params)


def test_a_polygon_outside_lon_lat_is_ignored_with_its_reason():
    far = "500,31;501,31;501,32"
    flt, ignored = filter_from_params_lenient({"within": far, "town": "nanhui"})
    assert flt.within is None and flt.towns == ("nanhui",)
    assert ignored == (f"within={far}: within: coordinates must be WGS84 lon/lat degrees",)


def test_the_strict_parser_still_refuses_the_same_link():
    with pytest.raises(UnknownNameError, match="industry"):
        Filter.from_params({"industry": ["auto", "x"]})
    with pytest.raises(AtlasError):
        Filter.from_params({"within": "121.1,31.2;oops"})


def test_the_page_keeps_the_valid_values_and_shows_what_it_ignored(bundled_atlas):
    state = parse_state("?industry=auto&industry=x&town=jiading")
    assert state.filter == Filter.create(industries=["auto"], towns=["jiading"])
    selected = state.filter.select(bundled_atlas.facilities)
    assert 0 < len(selected) < len(bundled_atlas.facilities)  # not everything
    (notice,) = state.notices
    assert notice.startswith("industry=x: unknown industry 'x'")
    shown = [getattr(node, "children", None) for node in _walk(
        filters_panel(state, tianditu_key=None))]
    assert notice in shown


def _walk(node):  # type: ignore[no-untyped-def]
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, list | tuple):
        for child in children:
            yield from _walk(child)
    elif children is not None and not isinstance(children, str | int | float):
        yield from _walk(children)


def test_round_trip_of_a_drawn_area_is_unchanged():
    area = shapely.Polygon([(121.1, 31.2), (121.3, 31.2), (121.3, 31.4)])
    flt = Filter.create(within=area)
    again, ignored = filter_from_params_lenient(flt.to_params())
    assert again == flt and ignored == ()
