"""Filters: controls -> Filter -> selection (map data, count, summary) and the URL."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import shapely
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.callbacks.upload import uploaded_facilities
from dashboard.i18n import t
from dashboard.mapdata import POINT_LIMIT, MapData, to_wgs84_polygon
from dashboard.urlstate import GCJ02_BASEMAPS, PageState, parse_state, state_to_search
from geo import catalog
from geo.atlas import counts_by_town_and_layer
from geo.crs import convert
from geo.query import Filter, decode_area, encode_area

FILTER_INPUTS = [
    Input(ids.TOWN, "value"),
    Input(ids.INDUSTRY, "value"),
    Input(ids.CATEGORY, "value"),
    Input(ids.LEVEL, "value"),
    Input(ids.STATUS, "value"),
    Input(ids.SEARCH, "value"),
    Input(ids.DRAWN_AREA, "data"),
    Input(ids.BASEMAP, "value"),
]


def datum_for(basemap: str | None) -> str:
    return "gcj02" if basemap in GCJ02_BASEMAPS else "wgs84"


def filter_from_controls(
    towns: list[str] | None,
    industries: list[str] | None,
    categories: list[str] | None,
    levels: list[str] | None,
    statuses: list[str] | None,
    text: str | None,
    drawn_area: str | None,
    basemap: str | None,
) -> Filter:
    """The shared Filter for the dashboard's control values.

    ``drawn_area`` is the spatial filter as the URL writes it (WGS84); ``basemap`` is
    accepted so every caller passes the same control values, and does not change the filter.
    """
    return Filter.create(
        towns=towns or [], industries=industries or [], categories=categories or [],
        levels=levels or [], statuses=statuses or [], text=text or "",
        within=decode_area(drawn_area) if drawn_area else None,
    )


@dataclass(frozen=True)
class SelectionView:
    geojson: dict[str, Any]
    aggregate: dict[str, Any] | None  # grid counts instead of points when there are too many
    map_note: str
    uploaded: dict[str, Any] | None
    count: str
    drawn_note: str
    table: html.Table | None  # None when only the map view was asked for
    figure: go.Figure | None


def selection_view(
    mapdata: MapData,
    flt: Filter,
    *,
    datum: str,
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
    positions = np.flatnonzero(mask)
    selected = facilities.iloc[positions]
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
    uploaded_geojson = None
    if uploaded is not None:
        chosen = flt.select(uploaded)
        uploaded_geojson = uploaded_features(chosen, datum=datum)
        count += t("uploaded_count", lang, n=len(chosen))
    return SelectionView(
        geojson=mapdata.facility_features(facilities.iloc[points], datum=datum, lang=lang),
        aggregate=aggregate,
        map_note=note,
        uploaded=uploaded_geojson,
        count=count,
        drawn_note=t("drawn_active", lang) if flt.within is not None else "",
        table=summary_table(counts, lang) if counts is not None else None,
        figure=summary_figure(counts, lang) if counts is not None else None,
    )


@functools.lru_cache(maxsize=64)
def first_view(mapdata: MapData, flt: Filter, datum: str, lang: str,
               zoom: float | None) -> SelectionView:
    """:func:`selection_view` before the map reports where it is (no bounds, no upload).

    That view is the same for every user with the same filter, so it is computed once per
    filter and shared; the app warms the unfiltered one at start-up (see create_app). It is
    built from read-only data and never changed after.
    """
    return selection_view(mapdata, flt, datum=datum, lang=lang, zoom=zoom)


def _in_bounds(facilities: Any, positions: np.ndarray, bounds: list[list[float]],
               datum: str) -> np.ndarray:
    """Which of ``positions`` lie in the map view, padded by a quarter on every side (so a
    small pan needs no new data; the pad also covers the GCJ-02 offset of the bounds)."""
    (south, west), (north, east) = bounds
    pad_x, pad_y = (east - west) / 4, (north - south) / 4
    x = facilities.geometry.x.to_numpy()[positions]
    y = facilities.geometry.y.to_numpy()[positions]
    return ((x >= west - pad_x) & (x <= east + pad_x) & (y >= south - pad_y)
            & (y <= north + pad_y))


def uploaded_features(uploaded: Any, *, datum: str) -> dict[str, Any]:
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


def summary_table(counts, lang: str) -> html.Table:  # type: ignore[no-untyped-def]
    """Industry layers (rows) x towns (columns); town headers carry a zoom button."""
    towns = list(counts.index)
    head = html.Tr([html.Th(t("industry", lang))] + [
        html.Th([catalog.TOWNS[k].label(lang).replace("新城", "").replace(" New Town", ""),
                 html.Button("◎", id={"type": ids.ZOOM_TOWN, "town": k}, className="zoom-btn",
                             title=t("zoom_to", lang))])
        for k in towns
    ])
    rows = []
    for layer in catalog.INDUSTRY_LAYERS:
        values = [int(counts.at[k, layer]) for k in towns]
        if not any(values):
            continue
        term = catalog.INDUSTRIES[layer]
        rows.append(html.Tr([html.Td([html.Span(className="swatch",
                                                style={"background": term.colour}),
                                      term.label(lang)])]
                            + [html.Td(v or "·") for v in values]))
    rows.append(html.Tr([html.Td(html.B(t("total", lang)))]
                        + [html.Td(html.B(int(counts.at[k, "total"]))) for k in towns]))
    return html.Table([html.Thead(head), html.Tbody(rows)], className="summary-table")


def summary_figure(counts, lang: str) -> go.Figure:  # type: ignore[no-untyped-def]
    towns = list(counts.index)
    labels = [catalog.TOWNS[k].label(lang) for k in towns]
    fig = go.Figure()
    for layer in catalog.INDUSTRY_LAYERS:
        values = [int(counts.at[k, layer]) for k in towns]
        if not any(values):
            continue
        term = catalog.INDUSTRIES[layer]
        fig.add_bar(x=labels, y=values, name=term.label(lang), marker_color=term.colour,
                    customdata=towns, hovertemplate="%{x}: %{y}<extra>" + term.label(lang)
                    + "</extra>")
    fig.update_layout(barmode="stack", margin={"l": 30, "r": 10, "t": 10, "b": 30},
                      showlegend=False, yaxis_title=t("count", lang),
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    return fig


def uploaded_boundaries(store: dict[str, Any] | None, datum: str) -> dict[str, Any] | None:
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
    return json.loads(gdf.to_json(drop_id=True))


def drawn_area_from_shapes(drawn: dict[str, Any] | None, basemap: str | None,
                           current: str | None = None):  # type: ignore[no-untyped-def]
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
    return encode_area(Filter.create(within=area).within)  # type: ignore[arg-type]


def drawn_area_geojson(area: str | None, datum: str) -> dict[str, Any] | None:
    """The spatial filter as a display layer in the map's datum (shared links show it too)."""
    import geopandas as gpd

    from geo.crs import convert_gdf

    if not area:
        return None
    frame = gpd.GeoDataFrame(geometry=[decode_area(area)], crs=4326)
    if datum != "wgs84":
        frame = convert_gdf(frame, from_datum="wgs84", to_datum=datum)
    return json.loads(frame.to_json(drop_id=True))


def url_for_controls(
    current_search: str | None, flt: Filter, basemap: str | None, center: Any, zoom: Any,
) -> str:
    """The URL query string for the page's current controls, keeping the page's language."""
    lang = parse_state(current_search).lang
    view = None
    if center is not None and zoom is not None:
        if isinstance(center, dict):
            lat, lon = center.get("lat"), center.get("lng")
        else:
            lat, lon = center[0], center[1]
        if lat is not None and lon is not None:
            view = (round(float(lat), 5), round(float(lon), 5), round(float(zoom), 2))
    return state_to_search(PageState(filter=flt, lang=lang, basemap=basemap or "none",
                                     view=view))


def register(app: Dash, mapdata: MapData) -> None:
    @app.callback(
        Output(ids.FACILITIES, "data"),
        Output(ids.AGGREGATE, "data"),
        Output(ids.MAP_NOTE, "children"),
        Output(ids.UPLOADED_FACILITIES, "data"),
        Output(ids.UPLOADED_BOUNDARIES, "data"),
        Output(ids.COUNT, "children"),
        Output(ids.DRAWN_NOTE, "children"),
        Output(ids.SUMMARY_TABLE, "children"),
        Output(ids.SUMMARY_FIGURE, "data"),
        *FILTER_INPUTS,
        Input(ids.UPLOADED, "data"),
        State(ids.MAP, "bounds"),
        State(ids.MAP, "zoom"),
        State(ids.PAGE_LANG, "data"),
    )
    def update_selection(towns, industries, categories, levels, statuses, text, drawn,
                         basemap, uploaded, bounds, zoom, lang):  # type: ignore[no-untyped-def]
        flt = filter_from_controls(towns, industries, categories, levels, statuses, text,
                                   drawn, basemap)
        datum = datum_for(basemap)
        if uploaded is None and bounds is None:
            view = first_view(mapdata, flt, datum, lang or "zh", zoom)
        else:
            view = selection_view(mapdata, flt, datum=datum, lang=lang or "zh",
                                  uploaded=uploaded_facilities(uploaded), bounds=bounds,
                                  zoom=zoom)
        boundaries = uploaded_boundaries(uploaded, datum)
        return (view.geojson, view.aggregate, view.map_note, view.uploaded, boundaries,
                view.count, view.drawn_note, view.table, view.figure.to_dict())

    @app.callback(
        Output(ids.FACILITIES, "data", allow_duplicate=True),
        Output(ids.AGGREGATE, "data", allow_duplicate=True),
        Output(ids.MAP_NOTE, "children", allow_duplicate=True),
        Input(ids.MAP, "bounds"),
        Input(ids.MAP, "zoom"),
        *[State(i.component_id, i.component_property) for i in FILTER_INPUTS],
        State(ids.PAGE_LANG, "data"),
        prevent_initial_call=True,
    )
    def follow_view(bounds, zoom, towns, industries, categories, levels, statuses, text,
                    drawn, basemap, lang):  # type: ignore[no-untyped-def]
        # A separate callback, so a pan never cancels a pending filter update.
        if len(mapdata.atlas.facilities) <= POINT_LIMIT:
            raise PreventUpdate  # every facility is on the map already
        flt = filter_from_controls(towns, industries, categories, levels, statuses, text,
                                   drawn, basemap)
        view = selection_view(mapdata, flt, datum=datum_for(basemap), lang=lang or "zh",
                              bounds=bounds, zoom=zoom, summary=False)
        return view.geojson, view.aggregate, view.map_note

    @app.callback(
        Output(ids.URL, "search"),
        *FILTER_INPUTS,
        Input(ids.MAP, "center"),
        Input(ids.MAP, "zoom"),
        State(ids.URL, "search"),
        prevent_initial_call=True,
    )
    def write_url(towns, industries, categories, levels, statuses, text, drawn, basemap,
                  center, zoom, search):  # type: ignore[no-untyped-def]
        flt = filter_from_controls(towns, industries, categories, levels, statuses, text,
                                   drawn, basemap)
        new = url_for_controls(search, flt, basemap, center, zoom)
        return new if new != (search or "") else no_update

    @app.callback(
        Output(ids.TOWN, "value"),
        Output(ids.INDUSTRY, "value"),
        Output(ids.CATEGORY, "value"),
        Output(ids.LEVEL, "value"),
        Output(ids.STATUS, "value"),
        Output(ids.SEARCH, "value"),
        Output(ids.DRAWN_AREA, "data", allow_duplicate=True),
        Input(ids.RESET, "n_clicks"),
        prevent_initial_call=True,
    )
    def reset(n_clicks):  # type: ignore[no-untyped-def]
        return [], [], [], [], [], "", None

    @app.callback(
        Output(ids.DRAWN_AREA, "data", allow_duplicate=True),
        Input(ids.CLEAR_AREA, "n_clicks"),
        prevent_initial_call=True,
    )
    def clear_area(n_clicks):  # type: ignore[no-untyped-def]
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
    def capture_drawing(drawn, basemap, current, toolbar):  # type: ignore[no-untyped-def]
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
    def show_drawn_area(area, basemap):  # type: ignore[no-untyped-def]
        return drawn_area_geojson(area, datum_for(basemap))

    def town_viewport(town: str | None, basemap: str | None):  # type: ignore[no-untyped-def]
        if town not in mapdata.town_bounds:
            return no_update
        bounds = mapdata.shift_bounds(mapdata.town_bounds[town], datum_for(basemap))
        return {"bounds": bounds, "transition": "flyToBounds"}

    @app.callback(
        Output(ids.MAP, "viewport"),
        Input({"type": ids.ZOOM_TOWN, "town": ALL}, "n_clicks"),
        State(ids.BASEMAP, "value"),
        prevent_initial_call=True,
    )
    def zoom_to_town(clicks, basemap):  # type: ignore[no-untyped-def]
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(clicks):
            return no_update
        return town_viewport(trigger["town"], basemap)

    @app.callback(
        Output(ids.MAP, "viewport", allow_duplicate=True),
        Input(ids.SUMMARY_CHART, "clickData"),
        State(ids.BASEMAP, "value"),
        prevent_initial_call=True,
    )
    def zoom_from_chart(chart_click, basemap):  # type: ignore[no-untyped-def]
        if not chart_click:
            return no_update
        return town_viewport(chart_click["points"][0].get("customdata"), basemap)

    @app.callback(
        Output(ids.SUMMARY_HOLDER, "children"),
        Input(ids.SUMMARY_TOGGLE, "n_clicks"),
        Input(ids.SUMMARY_FIGURE, "data"),
    )
    def show_chart(n_clicks, figure):  # type: ignore[no-untyped-def]
        if not n_clicks or n_clicks % 2 == 0 or not figure:
            return None
        return dcc.Graph(id=ids.SUMMARY_CHART, figure=figure, style={"height": "320px"},
                         config={"displayModeBar": False})
