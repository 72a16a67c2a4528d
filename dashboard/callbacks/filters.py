"""Filters: controls -> Filter -> selection (map data, count, summary table), reset, drawn area."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import shapely
from dash import Dash, Input, Output, State, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.callbacks.cards import cards_for
from dashboard.callbacks.upload import uploaded_facilities
from dashboard.components.summary import summary_figure, summary_table
from dashboard.i18n import t
from dashboard.mapdata import POINT_LIMIT, MapData, to_wgs84_polygon
from dashboard.state import (
    AS_OF_ALL,
    FilterControls,
    datum_for,
    filter_from_controls,
    filter_inputs,
    filter_states,
)
from geo.atlas import counts_by_town_and_layer, membership_counts
from geo.crs import Datum, convert
from geo.query import Filter, decode_area, encode_area


@dataclass(frozen=True)
class SelectionView:
    geojson: dict[str, Any]
    placeholders: dict[str, Any]  # one hollow marker per shared placeholder point
    aggregate: dict[str, Any] | None  # grid counts instead of points when there are too many
    map_note: str
    uploaded: dict[str, Any] | None
    count: str
    drawn_note: str
    table: html.Table | None  # None when only the map view was asked for
    figure: go.Figure | None


#: The facility columns the selection's counts read (counts_by_town_and_layer and
#: membership_counts).
SUMMARY_COLUMNS = ("town", "layers", "membership")


def selection_view(
    mapdata: MapData,
    flt: Filter,
    *,
    datum: Datum,
    lang: str,
    uploaded: Any = None,
    bounds: list[list[float]] | None = None,
    zoom: float | None = None,
    summary: bool = True,
) -> SelectionView:
    """Everything that changes when the selection changes.

    Up to POINT_LIMIT selected facilities go to the browser as points (clustered there).
    Beyond that only the points inside the map view (``bounds`` in the display datum) are
    sent, and if those are still too many, counts per grid cell (metres, sized by ``zoom``).
    ``uploaded`` (the user's own facilities, a GeoDataFrame) is filtered with the same Filter
    and drawn as its own layer; the summary counts the bundled facilities.
    """
    facilities = mapdata.atlas.facilities
    mask = flt.mask(facilities)
    # Only the columns the counts read: taking every column of the selected rows costs
    # ~0.15 s at 1e6 facilities for nothing.
    selected = facilities[list(SUMMARY_COLUMNS)].iloc[np.flatnonzero(mask)]
    # Placeholders are drawn as their own markers, never as clustered points.
    placeholder_rows = np.flatnonzero(mask & mapdata.placeholder_mask)
    positions = np.flatnonzero(mask & ~mapdata.placeholder_mask)
    points, aggregate, note = positions, None, ""
    if len(positions) > POINT_LIMIT:
        if bounds is not None:
            points = positions[_in_bounds(facilities, positions, bounds, datum)]
        if len(points) > POINT_LIMIT:
            aggregate = mapdata.aggregate(points, zoom=zoom, datum=datum)
            note = t("agg_note", lang, m=f"{aggregate['properties']['cell_m']:,}")
            points = positions[:0]
        else:
            note = t("in_view_note", lang, n=len(points))
    counts = counts_by_town_and_layer(selected) if summary else None
    count = t("selected", lang, n=len(selected), total=len(facilities))
    if flt.as_of is not None and (undated := int(flt.undated_mask(facilities).sum())):
        count += "; " + t("undated_note", lang, n=undated)
    uploaded_geojson = None
    if uploaded is not None:
        chosen = flt.select(uploaded)
        uploaded_geojson = uploaded_features(chosen, datum=datum)
        count += t("uploaded_count", lang, n=len(chosen))
    return SelectionView(
        geojson=mapdata.facility_features(facilities.iloc[points], datum=datum, lang=lang),
        placeholders=mapdata.placeholder_features(facilities.iloc[placeholder_rows],
                                                  datum=datum, lang=lang),
        aggregate=aggregate,
        map_note=note,
        uploaded=uploaded_geojson,
        count=count,
        drawn_note=t("drawn_active", lang) if flt.within is not None else "",
        table=(summary_table(counts, lang, membership_counts(selected))
               if counts is not None else None),
        figure=summary_figure(counts, lang) if counts is not None else None,
    )


@functools.lru_cache(maxsize=64)
def first_view(mapdata: MapData, flt: Filter, datum: Datum, lang: str,
               zoom: float | None) -> SelectionView:
    """:func:`selection_view` before the map reports where it is (no bounds, no upload).

    That view is the same for every user with the same filter, so it is computed once per
    filter and shared; the app warms the unfiltered one at start-up (see create_app). It is
    built from read-only data and never changed after.
    """
    return selection_view(mapdata, flt, datum=datum, lang=lang, zoom=zoom)


def _in_bounds(facilities: Any, positions: np.ndarray, bounds: list[list[float]],
               datum: Datum) -> np.ndarray:
    """Which of ``positions`` lie in the map view, padded by a quarter on every side (so a
    small pan needs no new data; the pad also covers the GCJ-02 offset of the bounds)."""
    (south, west), (north, east) = bounds
    pad_x, pad_y = (east - west) / 4, (north - south) / 4
    x = facilities.geometry.x.to_numpy()[positions]
    y = facilities.geometry.y.to_numpy()[positions]
    inside: np.ndarray = ((x >= west - pad_x) & (x <= east + pad_x) & (y >= south - pad_y)
            & (y <= north + pad_y))
    return inside


def uploaded_features(uploaded: Any, *, datum: Datum) -> dict[str, Any]:
    """The user's selected uploaded facilities as display GeoJSON (tooltips escaped)."""
    import html as html_lib

    x = uploaded.geometry.x.to_numpy()
    y = uploaded.geometry.y.to_numpy()
    if datum != "wgs84" and len(uploaded):
        x, y = convert(x, y, from_datum="wgs84", to_datum=datum)
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(a), float(b)]},
         "properties": {"id": str(fid), "tooltip": html_lib.escape(str(name))}}
        for fid, name, a, b in zip(uploaded.index, uploaded["name_zh"], x, y, strict=True)
    ]}


def uploaded_boundaries(store: dict[str, Any] | None, datum: Datum) -> dict[str, Any] | None:
    """The user's uploaded polygons in the display datum (names escaped for tooltips)."""
    import html as html_lib

    import geopandas as gpd

    from geo.crs import convert_gdf

    if not store or store.get("kind") != "boundaries":
        return None
    gdf = gpd.GeoDataFrame.from_features(store["geojson"]["features"], crs=4326)
    if datum != "wgs84":
        gdf = convert_gdf(gdf, from_datum="wgs84", to_datum=datum)
    gdf = gdf[["name_zh", "geometry"]].assign(tooltip=gdf["name_zh"].astype(str).map(
        html_lib.escape))
    doc: dict[str, Any] = json.loads(gdf.to_json(drop_id=True))
    return doc


def drawn_area_from_shapes(drawn: dict[str, Any] | None, basemap: str | None,
                           current: str | None = None) -> Any:
    """The spatial filter after the user drew a shape (WGS84, URL form).

    A new shape joins the area already in the filter (``current``). The shape itself then
    leaves the draw control (see ``capture_drawing``): the area is shown by its own layer,
    which follows the basemap's datum, where a shape left in the control would keep its
    screen position when the datum changes. So an empty report (the control mounting, or
    being emptied after a capture) changes nothing; the area is removed with the Clear
    button or Reset.
    """
    area = to_wgs84_polygon(drawn, datum_for(basemap))
    if area is None:
        return no_update
    if current:
        area = shapely.union_all([decode_area(current), area])
    return encode_area(Filter.create(within=area).within)


def drawn_area_geojson(area: str | None, datum: Datum) -> dict[str, Any] | None:
    """The spatial filter as a display layer in the map's datum (shared links show it too)."""
    import geopandas as gpd

    from geo.crs import convert_gdf

    if not area:
        return None
    frame = gpd.GeoDataFrame(geometry=[decode_area(area)], crs=4326)
    if datum != "wgs84":
        frame = convert_gdf(frame, from_datum="wgs84", to_datum=datum)
    layer: dict[str, Any] = json.loads(frame.to_json(drop_id=True))
    return layer


def register(app: Dash, mapdata: MapData) -> None:
    @app.callback(
        output={"facilities": Output(ids.FACILITIES, "data"),
                "placeholders": Output(ids.PLACEHOLDERS, "data"),
                "aggregate": Output(ids.AGGREGATE, "data"),
                "map_note": Output(ids.MAP_NOTE, "children"),
                "uploaded": Output(ids.UPLOADED_FACILITIES, "data"),
                "boundaries": Output(ids.UPLOADED_BOUNDARIES, "data"),
                "count": Output(ids.COUNT, "children"),
                "drawn_note": Output(ids.DRAWN_NOTE, "children"),
                "table": Output(ids.SUMMARY_TABLE, "children"),
                "figure": Output(ids.SUMMARY_FIGURE, "data"),
                "cards": Output(ids.CARDS, "children")},
        inputs={"controls": filter_inputs(), "basemap": Input(ids.BASEMAP, "value"),
                "uploaded": Input(ids.UPLOADED, "data"),
                # a committed change: this app is the new revision's, so redraw from it
                "_revision": Input(ids.DATA_REVISION, "data")},
        state={"bounds": State(ids.MAP, "bounds"), "zoom": State(ids.MAP, "zoom"),
               "lang": State(ids.PAGE_LANG, "data"), "coverage": State(ids.COV_STORE, "data")},
    )
    def update_selection(controls: FilterControls, basemap: str | None,
                         uploaded: dict[str, Any] | None, _revision: int | None,
                         bounds: list[list[float]] | None,
                         zoom: float | None, lang: str | None,
                         coverage: dict[str, Any] | None) -> dict[str, Any]:
        flt = filter_from_controls(controls)
        datum = datum_for(basemap)
        if uploaded is None and bounds is None:
            view = first_view(mapdata, flt, datum, lang or "zh", zoom)
        else:
            view = selection_view(mapdata, flt, datum=datum, lang=lang or "zh",
                                  uploaded=uploaded_facilities(uploaded), bounds=bounds,
                                  zoom=zoom)
        return {"facilities": view.geojson, "placeholders": view.placeholders,
                "aggregate": view.aggregate,
                "map_note": view.map_note, "uploaded": view.uploaded,
                "boundaries": uploaded_boundaries(uploaded, datum), "count": view.count,
                "drawn_note": view.drawn_note, "table": view.table,
                "figure": view.figure.to_dict() if view.figure is not None else None,
                "cards": cards_for(mapdata, flt, coverage, lang or "zh")}

    @app.callback(
        output=[Output(ids.FACILITIES, "data", allow_duplicate=True),
                Output(ids.AGGREGATE, "data", allow_duplicate=True),
                Output(ids.MAP_NOTE, "children", allow_duplicate=True)],
        inputs={"bounds": Input(ids.MAP, "bounds"), "zoom": Input(ids.MAP, "zoom")},
        state={"controls": filter_states(), "basemap": State(ids.BASEMAP, "value"),
               "lang": State(ids.PAGE_LANG, "data")},
        prevent_initial_call=True,
    )
    def follow_view(bounds: list[list[float]] | None, zoom: float | None,
                    controls: FilterControls, basemap: str | None,
                    lang: str | None) -> tuple[Any, Any, str]:
        # A separate callback, so a pan never cancels a pending filter update.
        if len(mapdata.atlas.facilities) <= POINT_LIMIT:
            raise PreventUpdate  # every facility is on the map already
        view = selection_view(mapdata, filter_from_controls(controls),
                              datum=datum_for(basemap), lang=lang or "zh",
                              bounds=bounds, zoom=zoom, summary=False)
        return view.geojson, view.aggregate, view.map_note

    @app.callback(
        Output(ids.TOWN, "value"),
        Output(ids.INDUSTRY, "value"),
        Output(ids.CATEGORY, "value"),
        Output(ids.LEVEL, "value"),
        Output(ids.STATUS, "value"),
        Output(ids.MEMBERSHIP, "value"),
        Output(ids.AS_OF, "value"),
        Output(ids.SEARCH, "value"),
        Output(ids.DRAWN_AREA, "data", allow_duplicate=True),
        Input(ids.RESET, "n_clicks"),
        prevent_initial_call=True,
    )
    def reset(_n: int | None) -> tuple[Any, ...]:
        return [], [], [], [], [], [], AS_OF_ALL, "", None

    @app.callback(
        Output(ids.DRAWN_AREA, "data", allow_duplicate=True),
        Input(ids.CLEAR_AREA, "n_clicks"),
        prevent_initial_call=True,
    )
    def clear_area(_n: int | None) -> None:
        return None

    @app.callback(
        Output(ids.DRAWN_AREA, "data"),
        Output(ids.DRAW, "editToolbar"),
        Input(ids.DRAW, "geojson"),
        State(ids.BASEMAP, "value"),
        State(ids.DRAWN_AREA, "data"),
        State(ids.DRAW, "editToolbar"),
        prevent_initial_call=True,
    )
    def capture_drawing(drawn: dict[str, Any] | None, basemap: str | None,
                        current: str | None, toolbar: dict[str, Any] | None) -> tuple[Any, Any]:
        area = drawn_area_from_shapes(drawn, basemap, current)
        if area is no_update:
            return no_update, no_update
        # Move the shape out of the draw control: the drawn-area layer shows it from now on.
        n = int((toolbar or {}).get("n_clicks") or 0) + 1
        return area, {"mode": "remove", "action": "clear all", "n_clicks": n}

    @app.callback(
        Output(ids.DRAWN_LAYER, "data"),
        Input(ids.DRAWN_AREA, "data"),
        Input(ids.BASEMAP, "value"),
    )
    def show_drawn_area(area: str | None, basemap: str | None) -> dict[str, Any] | None:
        return drawn_area_geojson(area, datum_for(basemap))
