"""Map: basemap and datum switching, and the details panel for a clicked facility."""

from __future__ import annotations

from typing import Any

import dash_leaflet as dl
from dash import Dash, Input, Output, State, html, no_update

from dashboard import ids
from dashboard.callbacks.filters import datum_for
from dashboard.i18n import t
from dashboard.layout import tile_layers, town_label_markers
from dashboard.mapdata import MapData
from geo import catalog
from geo.crs import convert

BOUNDARY_OUTPUTS = (
    (ids.DISTRICTS, "districts"),
    (ids.TOWNS, "towns"),
    (ids.CORRIDOR, "corridors"),
    (ids.CORRIDOR_LINE, "corridor_lines"),
    (ids.ZONE, "zones"),
)


def basemap_view(mapdata: MapData, basemap: str, lang: str, *, tianditu_key: str | None):  # type: ignore[no-untyped-def]
    """Tiles, boundary layers in the matching datum, labels and the datum note."""
    datum = datum_for(basemap)
    layers = [mapdata.boundaries[name][datum] for _, name in BOUNDARY_OUTPUTS]
    return (
        tile_layers(basemap, tianditu_key=tianditu_key),
        *layers,
        town_label_markers(mapdata, datum, lang),
        t("datum", lang, datum=t(f"datum_{datum}", lang)),
    )


def details_panel(mapdata: MapData, facility_id: str, lang: str) -> html.Div:
    """All a planner needs to judge one facility, including how sure its position is.

    Text is passed as Dash children (never as raw HTML), so names from data stay text.
    """
    fac = mapdata.atlas.facilities
    if facility_id not in fac.index:
        return html.Div(t("details_hint", lang))
    row = fac.loc[facility_id]

    def term(mapping: Any, key: str) -> str:
        return mapping[key].label(lang) if key in mapping else key

    industries = "、".join(term(catalog.INDUSTRIES, k) for k in row["industries"].split(";") if k)
    year = "" if row["year"] is None or str(row["year"]) in {"<NA>", "nan"} else str(row["year"])
    fields = [
        ("f_name_zh", row["name_zh"]),
        ("f_name_en", row["name_en"]),
        ("f_category", term(catalog.CATEGORIES, row["category"])),
        ("f_industries", industries),
        ("f_town", term(catalog.TOWNS, row["town"])),
        ("f_district", row["district"]),
        ("f_level", term(catalog.LEVELS, row["level"])),
        ("f_status", term(catalog.STATUSES, row["status"])),
        ("f_year", year),
        ("f_address", row["address"]),
        ("f_coord", f"{row.geometry.x:.6f}, {row.geometry.y:.6f}"),
        ("f_precision", t("precision_m", lang, m=f"{row['coord_precision_m']:,.0f}")),
        ("f_coord_source", row["coord_source"]),
        ("f_source", row["source"]),
        ("f_in_town", t("yes", lang) if row["in_town"] else t("no", lang)),
    ]
    return html.Div([
        html.Div(row["id"], className="nt-note"),
        html.Table([html.Tr([html.Td(t(key, lang)), html.Td(str(value))])
                    for key, value in fields if str(value) != ""],
                   className="details-table"),
    ], id="details-" + str(row["id"]))


def precision_circle(mapdata: MapData, facility_id: str, datum: str, lang: str) -> list:
    """A circle of the facility's coordinate precision: where it may really be."""
    fac = mapdata.atlas.facilities
    if facility_id not in fac.index:
        return []
    row = fac.loc[facility_id]
    x, y = convert(row.geometry.x, row.geometry.y, from_datum="wgs84", to_datum=datum)
    radius = float(row["coord_precision_m"])
    return [dl.Circle(
        center=[float(y), float(x)], radius=radius, interactive=False,
        className="precision-circle",
        color="#12355b", weight=1.5, dashArray="4 4", fillOpacity=0.06,
        children=dl.Tooltip(t("precision_m", lang, m=f"{radius:,.0f}")),
    )]


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
    def switch_basemap(basemap, lang):  # type: ignore[no-untyped-def]
        return basemap_view(mapdata, basemap, lang or "zh", tianditu_key=tianditu_key)

    @app.callback(
        Output(ids.DETAILS, "children"),
        Output(ids.SELECTED, "children"),
        Input(ids.FACILITIES, "clickData"),
        State(ids.PAGE_LANG, "data"),
        State(ids.BASEMAP, "value"),
        prevent_initial_call=True,
    )
    def show_details(click, lang, basemap):  # type: ignore[no-untyped-def]
        props = (click or {}).get("properties") or {}
        if props.get("cluster") or "id" not in props:
            return no_update, no_update
        fid = str(props["id"])
        return (details_panel(mapdata, fid, lang or "zh"),
                precision_circle(mapdata, fid, datum_for(basemap), lang or "zh"))
