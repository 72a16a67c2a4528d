"""Map: basemap and datum switching, the details popup for a clicked facility, and fitting the
map to the towns chosen in the filter."""

from __future__ import annotations

from typing import Any

import dash_leaflet as dl
from dash import Dash, Input, Output, State, ctx, no_update

from dashboard import ids
from dashboard.components.details import details_panel
from dashboard.components.map import precision_circle_layer, tile_layers, town_label_markers
from dashboard.i18n import t
from dashboard.mapdata import FIT_PADDING, MapData
from dashboard.state import datum_for
from geo.crs import Datum, convert

BOUNDARY_OUTPUTS = (
    (ids.DISTRICTS, "districts"),
    (ids.TOWNS, "towns"),
    (ids.CORRIDOR, "corridors"),
    (ids.CORRIDOR_LINE, "corridor_lines"),
    (ids.ZONE, "zones"),
)


def basemap_view(mapdata: MapData, basemap: str, lang: str, *,
                 tianditu_key: str | None) -> tuple[Any, ...]:
    """Tiles, boundary layers in the matching datum, labels and the datum note."""
    datum = datum_for(basemap)
    layers = [mapdata.boundaries[name][datum] for _, name in BOUNDARY_OUTPUTS]
    return (
        tile_layers(basemap, tianditu_key=tianditu_key),
        *layers,
        town_label_markers(mapdata, datum, lang),
        t("datum", lang, datum=t(f"datum_{datum}", lang)),
    )


def precision_circle(mapdata: MapData, facility_id: str, datum: Datum,
                     lang: str) -> list[dl.Circle]:
    """A circle of the facility's coordinate precision: where it may really be."""
    fac = mapdata.atlas.facilities
    if facility_id not in fac.index:
        return []
    row = fac.loc[facility_id]
    x, y = convert(row.geometry.x, row.geometry.y, from_datum="wgs84", to_datum=datum)
    return [precision_circle_layer([float(y), float(x)], float(row["coord_precision_m"]), lang)]


def fit_towns(mapdata: MapData, towns: list[str] | None, basemap: str | None) -> dict[str, Any]:
    """The viewport for the towns chosen in the filter (all five and every facility for none)."""
    bounds = mapdata.towns_bounds(towns or []) or mapdata.towns_view_bounds
    return {"bounds": mapdata.shift_bounds(bounds, datum_for(basemap)),
            "transition": "flyToBounds", "options": FIT_PADDING}


def register(app: Dash, mapdata: MapData, *, tianditu_key: str | None) -> None:
    @app.callback(
        Output(ids.TILES, "children"),
        *[Output(component, "data") for component, _ in BOUNDARY_OUTPUTS],
        Output(ids.TOWN_LABELS, "children"),
        Output(ids.DATUM_NOTE, "children"),
        Input(ids.BASEMAP, "value"),
        State(ids.PAGE_LANG, "data"),
        prevent_initial_call=True,
    )
    def switch_basemap(basemap: str, lang: str | None) -> tuple[Any, ...]:
        return basemap_view(mapdata, basemap, lang or "zh", tianditu_key=tianditu_key)

    @app.callback(
        Output(ids.DETAILS, "children"),
        Output(ids.SELECTED, "children"),
        Output(ids.DETAILS_POPUP, "className"),
        Input(ids.FACILITIES, "clickData"),
        # a served store's change: this app is the new revision's, so show its row
        Input(ids.DATA_REVISION, "data"),
        State(ids.PAGE_LANG, "data"),
        State(ids.BASEMAP, "value"),
        prevent_initial_call=True,
    )
    def show_details(click: dict[str, Any] | None, _revision: Any, lang: str | None,
                     basemap: str | None) -> tuple[Any, Any, Any]:
        props = (click or {}).get("properties") or {}
        if props.get("cluster") or "id" not in props:
            return no_update, no_update, no_update
        fid = str(props["id"])
        # A new revision refreshes what is shown but never reopens a closed popup.
        opened = no_update if ctx.triggered_id == ids.DATA_REVISION else "nt-popup open"
        return (details_panel(mapdata, fid, lang or "zh"),
                precision_circle(mapdata, fid, datum_for(basemap), lang or "zh"), opened)

    @app.callback(
        Output(ids.MAP, "viewport", allow_duplicate=True),
        Input(ids.TOWN, "value"),
        State(ids.BASEMAP, "value"),
        prevent_initial_call=True,  # a shared link keeps its own view
    )
    def follow_towns(towns: list[str] | None, basemap: str | None) -> dict[str, Any]:
        return fit_towns(mapdata, towns, basemap)
