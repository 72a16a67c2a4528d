"""The filter state: the filter controls as one typed object, and the geo.query.Filter it means.

Callbacks take the controls as ONE grouped argument (Dash's flexible callback signatures:
``inputs={"controls": filter_inputs(), ...}``), typed as :class:`FilterControls`, and turn it
into a Filter with :func:`filter_from_controls`; no callback lists the controls one by one.
"""

from __future__ import annotations

from typing import TypedDict, cast

from dash import Input, State

from dashboard import ids
from dashboard.urlstate import GCJ02_BASEMAPS
from geo.crs import DATUMS, Datum
from geo.query import Filter, decode_area

#: Control (component id, property) per field of the filter.
FILTER_CONTROLS: dict[str, tuple[str, str]] = {
    "towns": (ids.TOWN, "value"),
    "industries": (ids.INDUSTRY, "value"),
    "categories": (ids.CATEGORY, "value"),
    "levels": (ids.LEVEL, "value"),
    "statuses": (ids.STATUS, "value"),
    "memberships": (ids.MEMBERSHIP, "value"),
    "as_of": (ids.AS_OF, "value"),
    "text": (ids.SEARCH, "value"),
    "drawn_area": (ids.DRAWN_AREA, "data"),
}


class FilterControls(TypedDict, total=False):
    """The values of the filter controls as the browser sends them (any may be missing)."""

    towns: list[str] | None
    industries: list[str] | None
    categories: list[str] | None
    levels: list[str] | None
    statuses: list[str] | None
    memberships: list[str] | None
    as_of: int | None  # a year; the slider's last position (AS_OF_ALL) means no as-of
    text: str | None
    drawn_area: str | None  # the spatial filter as the URL writes it (WGS84)


def filter_inputs() -> dict[str, Input]:
    """The filter controls as one group of callback Inputs."""
    return {name: Input(cid, prop) for name, (cid, prop) in FILTER_CONTROLS.items()}


def filter_states() -> dict[str, State]:
    """The filter controls as one group of callback States."""
    return {name: State(cid, prop) for name, (cid, prop) in FILTER_CONTROLS.items()}


def filter_from_controls(controls: FilterControls) -> Filter:
    """The shared Filter for the dashboard's control values."""
    drawn = controls.get("drawn_area")
    return Filter.create(
        towns=controls.get("towns") or [], industries=controls.get("industries") or [],
        categories=controls.get("categories") or [], levels=controls.get("levels") or [],
        statuses=controls.get("statuses") or [], text=controls.get("text") or "",
        within=decode_area(drawn) if drawn else None,
        memberships=controls.get("memberships") or [], as_of=as_of_value(controls.get("as_of")),
    )


#: The as-of slider's range; its last position, one past the current year, means "all".
AS_OF_FIRST = 2000
AS_OF_ALL = 2027


def as_of_value(position: int | None) -> int | None:
    """The Filter's as_of for a slider position (None at the "all" end)."""
    if position is None or int(position) >= AS_OF_ALL:
        return None
    return int(position)


def datum_for(basemap: str | None) -> Datum:
    """The datum overlays are drawn in under a basemap (GCJ-02 for AMap, else WGS84)."""
    return "gcj02" if basemap in GCJ02_BASEMAPS else "wgs84"


def as_datum(value: str | None, default: Datum = "wgs84") -> Datum:
    """A datum name sent by the browser (e.g. the export or upload datum), checked."""
    if value is None:
        return default
    if value in DATUMS:
        return cast(Datum, value)  # checked on the line above
    raise ValueError(f"unknown datum {value!r}; expected one of {', '.join(DATUMS)}")
