"""The URL follows the page: filter, basemap, map view, open drawers and tab; and the language
link keeps all of it."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, no_update

from dashboard import ids
from dashboard.state import FilterControls, filter_from_controls, filter_inputs
from dashboard.urlstate import PageState, parse_state, state_to_search
from geo.query import Filter


def map_view_of(center: Any, zoom: Any) -> tuple[float, float, float] | None:
    """(lat, lon, zoom) from the map's center (dict or pair) and zoom; None when unknown."""
    if center is None or zoom is None:
        return None
    if isinstance(center, dict):
        lat, lon = center.get("lat"), center.get("lng")
    else:
        lat, lon = center[0], center[1]
    if lat is None or lon is None:
        return None
    return round(float(lat), 5), round(float(lon), 5), round(float(zoom), 2)


def url_for_controls(
    current_search: str | None, flt: Filter, basemap: str | None, center: Any, zoom: Any,
    *, ui: dict[str, Any] | None = None,
) -> str:
    """The URL query string for the page's current controls, keeping the page's language.

    ``ui`` is the frame's state ({"tab": open tab or None, "filters": filter drawer open}).
    """
    lang = parse_state(current_search).lang
    ui = ui or {}
    return state_to_search(PageState(filter=flt, lang=lang, basemap=basemap or "none",
                                     view=map_view_of(center, zoom), tab=ui.get("tab"),
                                     filters_open=bool(ui.get("filters", True))))


def switch_language(search: str) -> str:
    """The same view's query string in the other language."""
    state = parse_state(search)
    other = "en" if state.lang == "zh" else "zh"
    return state_to_search(PageState(filter=state.filter, lang=other, basemap=state.basemap,
                                     view=state.view, tab=state.tab,
                                     filters_open=state.filters_open)) or "?"


def register(app: Dash) -> None:
    @app.callback(
        output=[Output(ids.URL, "search"), Output(ids.LANG_LINK, "href")],
        inputs={"controls": filter_inputs(), "basemap": Input(ids.BASEMAP, "value"),
                "center": Input(ids.MAP, "center"), "zoom": Input(ids.MAP, "zoom"),
                "ui": Input(ids.UI, "data")},
        state={"search": State(ids.URL, "search")},
        prevent_initial_call=True,
    )
    def write_url(controls: FilterControls, basemap: str | None, center: Any, zoom: Any,
                  ui: dict[str, Any] | None, search: str | None) -> tuple[Any, Any]:
        new = url_for_controls(search, filter_from_controls(controls), basemap, center, zoom,
                               ui=ui)
        if new == (search or ""):
            return no_update, no_update
        return new, switch_language(new)
