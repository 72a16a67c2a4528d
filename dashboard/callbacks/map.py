"""Map: basemap and datum switching, the details popup for a clicked facility, and fitting the
map to the towns chosen in the filter."""

from __future__ import annotations

from typing import Any

import dash_leaflet as dl
from dash import Dash, Input, Output, State, ctx, no_update

from dashboard import ids
from dashboard.components.details import details_panel
from dashboard.components.map import (
    fit_target,
    precision_circle_layer,
    target_in_datum,
    tile_layers,
    town_label_markers,
)
from dashboard.i18n import t
from dashboard.mapdata import MapData
from dashboard.state import FilterControls, datum_for, filter_from_controls, filter_states
from geo.crs import Datum, convert
from geo.query import Filter

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


def fit_towns(mapdata: MapData, flt: Filter, basemap: str | None) -> dict[str, Any]:
    """The fit target (MAP_FIT) once towns are chosen in the filter: those towns and every
    facility the filter selects for them (all five and every facility for none)."""
    return fit_target(mapdata, flt, datum_for(basemap))


# Runs in the browser: fits the map to the MAP_FIT target with the padding of what covers it
# (the filter drawer overlaying a narrow screen, the indicator cards), measured once the
# drawers have their new size. It fits again when a drawer opens or closes, unless the user
# has moved the map since the last fit (newtown.js keeps track); so does a target moved to a
# new datum by a basemap switch ("refit": "datum", follow_datum). The second output makes
# Leaflet measure its container before it fits.
FIT_JS = """
function (target, ui) {
    const dc = window.dash_clientside;
    const nt = window.newtown;
    const trig = dc.callback_context.triggered_id;
    if (!target || !target.bounds) { return [dc.no_update, dc.no_update]; }
    const refit = trig === "__UI__" || target.refit === "datum";
    if (refit && nt.movedSinceFit()) { return [dc.no_update, dc.no_update]; }
    const fresh = trig === "__FIT__" && !refit;
    return new Promise(function (resolve) {
        // the frame's classes change in the same update as ui: wait for the new layout, for
        // Leaflet's own resize handling (TOGGLE_JS fires a resize after 30 ms) and, on the
        // first load, for the indicator cards (drawn by the selection's callback)
        nt.afterLayout(function () {
            nt.fitting();
            const options = Object.assign({animate: fresh}, nt.fitPadding());
            resolve([{bounds: target.bounds, options: options,
                      transition: fresh ? (target.transition || "flyToBounds") : "fitBounds"},
                     Date.now()]);
        });
    });
}
""".replace("__UI__", ids.UI).replace("__FIT__", ids.MAP_FIT)


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
        output=Output(ids.MAP_FIT, "data"),
        inputs={"_towns": Input(ids.TOWN, "value")},
        state={"controls": filter_states(), "basemap": State(ids.BASEMAP, "value")},
        prevent_initial_call=True,  # a shared link keeps its own view
    )
    def follow_towns(_towns: list[str] | None, controls: FilterControls,
                     basemap: str | None) -> dict[str, Any]:
        return fit_towns(mapdata, filter_from_controls(controls), basemap)

    @app.callback(
        Output(ids.MAP_FIT, "data", allow_duplicate=True),
        Input(ids.BASEMAP, "value"),
        State(ids.MAP_FIT, "data"),
        prevent_initial_call=True,
    )
    def follow_datum(basemap: str | None, target: dict[str, Any] | None) -> Any:
        # The overlays are redrawn in the new basemap's datum (switch_basemap): the fit
        # target moves with them, so a fitted view, and any refit, frames what is drawn.
        return target_in_datum(mapdata, target, datum_for(basemap)) or no_update

    app.clientside_callback(  # type: ignore[no-untyped-call]  # unannotated in Dash
        FIT_JS,
        Output(ids.MAP, "viewport", allow_duplicate=True),
        Output(ids.MAP, "invalidateSize"),
        Input(ids.MAP_FIT, "data"),
        Input(ids.UI, "data"),
        prevent_initial_call="initial_duplicate",  # the first view is fitted here too
    )
