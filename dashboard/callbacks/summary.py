"""Summary tab: the chart on demand, and zooming to a town from the table or a bar."""

from __future__ import annotations

from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, dcc, no_update

from dashboard import ids
from dashboard.components.map import bounds_target
from dashboard.components.summary import summary_chart
from dashboard.mapdata import MapData
from dashboard.state import datum_for


def towns_viewport(mapdata: MapData, towns: list[str] | tuple[str, ...],
                   basemap: str | None) -> dict[str, Any] | None:
    """The fit target (MAP_FIT) of the given towns in the basemap's datum (None: none known);
    the browser adds the padding of the drawers and cards (callbacks.map)."""
    bounds = mapdata.towns_bounds(towns)
    if bounds is None:
        return None
    return bounds_target(mapdata, bounds, datum_for(basemap))


def register(app: Dash, mapdata: MapData) -> None:
    @app.callback(
        Output(ids.MAP_FIT, "data", allow_duplicate=True),
        Input({"type": ids.ZOOM_TOWN, "town": ALL}, "n_clicks"),
        State(ids.BASEMAP, "value"),
        prevent_initial_call=True,
    )
    def zoom_to_town(clicks: list[int | None], basemap: str | None) -> Any:
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(clicks):
            return no_update
        return towns_viewport(mapdata, [str(trigger["town"])], basemap) or no_update

    @app.callback(
        Output(ids.MAP_FIT, "data", allow_duplicate=True),
        Input(ids.SUMMARY_CHART, "clickData"),
        State(ids.BASEMAP, "value"),
        prevent_initial_call=True,
    )
    def zoom_from_chart(chart_click: dict[str, Any] | None, basemap: str | None) -> Any:
        if not chart_click:
            return no_update
        town = chart_click["points"][0].get("customdata")
        return towns_viewport(mapdata, [str(town)], basemap) or no_update

    @app.callback(
        Output(ids.SUMMARY_HOLDER, "children"),
        Input(ids.SUMMARY_TOGGLE, "n_clicks"),
        Input(ids.SUMMARY_FIGURE, "data"),
    )
    def show_chart(n_clicks: int | None, figure: dict[str, Any] | None) -> dcc.Graph | None:
        if not n_clicks or n_clicks % 2 == 0 or not figure:
            return None
        return summary_chart(figure)
