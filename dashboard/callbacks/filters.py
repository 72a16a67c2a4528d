"""Filters: controls -> Filter -> selection (map data, count, summary) and the URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from dash import ALL, Dash, Input, Output, State, ctx, html, no_update

from dashboard import ids
from dashboard.i18n import t
from dashboard.mapdata import MapData, to_wgs84_polygon
from dashboard.urlstate import GCJ02_BASEMAPS, PageState, parse_state, state_to_search
from geo import catalog
from geo.atlas import counts_by_town_and_layer
from geo.query import Filter

FILTER_INPUTS = [
    Input(ids.TOWN, "value"),
    Input(ids.INDUSTRY, "value"),
    Input(ids.CATEGORY, "value"),
    Input(ids.LEVEL, "value"),
    Input(ids.STATUS, "value"),
    Input(ids.SEARCH, "value"),
    Input(ids.DRAW, "geojson"),
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
    drawn: dict[str, Any] | None,
    basemap: str | None,
) -> Filter:
    """The shared Filter for the dashboard's control values (drawn shapes back to WGS84)."""
    return Filter.create(
        towns=towns or [], industries=industries or [], categories=categories or [],
        levels=levels or [], statuses=statuses or [], text=text or "",
        within=to_wgs84_polygon(drawn, datum_for(basemap)),
    )


@dataclass(frozen=True)
class SelectionView:
    geojson: dict[str, Any]
    count: str
    drawn_note: str
    table: html.Table
    figure: go.Figure


def selection_view(mapdata: MapData, flt: Filter, *, datum: str, lang: str) -> SelectionView:
    """Everything that changes when the selection changes."""
    facilities = mapdata.atlas.facilities
    selected = flt.select(facilities)
    counts = counts_by_town_and_layer(selected)
    return SelectionView(
        geojson=mapdata.facility_features(selected, datum=datum, lang=lang),
        count=t("selected", lang, n=len(selected), total=len(facilities)),
        drawn_note=t("drawn_active", lang) if flt.within is not None else "",
        table=summary_table(counts, lang),
        figure=summary_figure(counts, lang),
    )


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
        Output(ids.COUNT, "children"),
        Output(ids.DRAWN_NOTE, "children"),
        Output(ids.SUMMARY_TABLE, "children"),
        Output(ids.SUMMARY_CHART, "figure"),
        *FILTER_INPUTS,
        State(ids.PAGE_LANG, "data"),
    )
    def update_selection(towns, industries, categories, levels, statuses, text, drawn,
                         basemap, lang):  # type: ignore[no-untyped-def]
        flt = filter_from_controls(towns, industries, categories, levels, statuses, text,
                                   drawn, basemap)
        view = selection_view(mapdata, flt, datum=datum_for(basemap), lang=lang or "zh")
        return view.geojson, view.count, view.drawn_note, view.table, view.figure

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
        Output(ids.DRAW, "editToolbar"),
        Input(ids.RESET, "n_clicks"),
        prevent_initial_call=True,
    )
    def reset(n_clicks):  # type: ignore[no-untyped-def]
        clear = {"mode": "remove", "action": "clear all", "n_clicks": n_clicks}
        return [], [], [], [], [], "", clear

    @app.callback(
        Output(ids.MAP, "viewport"),
        Input({"type": ids.ZOOM_TOWN, "town": ALL}, "n_clicks"),
        Input(ids.SUMMARY_CHART, "clickData"),
        State(ids.BASEMAP, "value"),
        prevent_initial_call=True,
    )
    def zoom_to_town(_clicks, chart_click, basemap):  # type: ignore[no-untyped-def]
        trigger = ctx.triggered_id
        if isinstance(trigger, dict) and trigger.get("type") == ids.ZOOM_TOWN:
            if not any(_clicks):
                return no_update
            town = trigger["town"]
        elif trigger == ids.SUMMARY_CHART and chart_click:
            town = chart_click["points"][0].get("customdata")
        else:
            return no_update
        if town not in mapdata.town_bounds:
            return no_update
        bounds = mapdata.shift_bounds(mapdata.town_bounds[town], datum_for(basemap))
        return {"bounds": bounds, "transition": "flyToBounds"}
