"""Coverage panel: how much of each town the selected facilities reach, the gaps, and where
the next facilities would add the most.

Runs on the current selection (the shared Filter) in EPSG:4549 metres through geo.coverage;
results go to the browser (a dcc.Store, WGS84) for display in either datum and for export.
"""

from __future__ import annotations

import html as html_lib
from typing import Any

import geopandas as gpd
import pandas as pd
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html

from dashboard import ids
from dashboard.callbacks.upload import uploaded_facilities
from dashboard.components.coverage import DEFAULT_MODE, MAX_SITES, use_upload_options
from dashboard.i18n import t
from dashboard.mapdata import MapData, geojson_from_frame, in_display_datum
from dashboard.state import FilterControls, datum_for, filter_from_controls, filter_states
from geo import catalog
from geo.analysis import CoverageParams, SitingParams, run_siting
from geo.analysis import run_coverage as analysis_coverage
from geo.coverage import POPULATION_COLUMNS
from geo.crs import Datum
from geo.query import Filter
from geo.settings import FIXED_RADIUS_M, GEOGRAPHIC_CRS


def run_coverage(
    mapdata: MapData,
    flt: Filter,
    *,
    radius_mode: str,
    radius_m: float,
    k: int,
    new_radius_m: float,
    lang: str,
    uploaded: gpd.GeoDataFrame | None = None,
    population: gpd.GeoDataFrame | None = None,
    include_placeholders: bool = False,
) -> dict[str, Any]:
    """Coverage per town and district, gap polygons and (k > 0) greedy site suggestions.

    The numbers come from geo.analysis (the same entry points as ``newtown coverage`` and
    ``newtown site``); ``results`` holds each result's ``to_json()`` and the rest is that
    result formatted for the panel and the map. ``uploaded`` (the user's own facilities,
    WGS84) join the selection under the same Filter; ``population`` (the user's polygons or
    points with a population column, WGS84) adds covered people by areal interpolation.
    """
    atlas = mapdata.atlas
    radius = None if radius_mode == "category" else float(radius_m)
    coverage = analysis_coverage(
        atlas, flt, CoverageParams(radius_m=radius, include_placeholders=include_placeholders),
        population=population, population_source="uploaded" if population is not None
        else None, uploaded=uploaded)
    doc = coverage.to_json()
    towns = doc["towns"]
    assert isinstance(towns, list)
    rows = [{"town": str(r["key"]), "name": catalog.TOWNS[str(r["key"])].label(lang),
             "area_km2": round(float(r["area_m2"]) / 1e6, 1),
             "covered_km2": round(float(r["covered_m2"]) / 1e6, 1),
             "share": round(float(r["covered_share"] or 0.0), 4),
             **({"population": round(float(r["population"])),
                 "covered_population": round(float(r["covered_population"])),
                 "population_share": None if r["population_share"] is None else
                 round(float(r["population_share"]), 4)}
                if "population" in r else {})}
            for r in towns]
    layers = coverage.layers()
    covered = layers["coverage"][["key", "geometry"]]
    gaps = layers["coverage_gaps"][["key", "geometry"]].assign(
        tooltip=[html_lib.escape(t("cov_gap_tip", lang, town=catalog.TOWNS[str(k)].label(lang)))
                 for k in layers["coverage_gaps"]["key"]])
    params = {"analysis": "coverage", "radius_m": radius if radius is not None else
              "per category (geo.settings.DEFAULT_RADIUS_M)", "selected": doc["facilities"],
              "distinct_locations": doc["distinct_locations"], "crs": "EPSG:4549",
              "uploaded_facilities": doc["uploaded_facilities"],
              "excluded_placeholders": len(coverage.excluded_placeholders),
              "population_layer": "uploaded" if population is not None else None}
    result: dict[str, Any] = {
        "params": params, "rows": rows,
        "results": {"coverage": doc},
        "coverage": geojson_from_frame(covered.assign(tooltip=[r["name"] for r in rows])),
        "gaps": geojson_from_frame(gaps),
    }
    districts = doc["districts"]
    assert isinstance(districts, list)
    if districts:
        result["districts"] = [
            {"name": catalog.district_by_zh(str(d["name_zh"])).label(lang),
             "covered_km2": round(float(d["covered_m2"]) / 1e6, 1),
             # coastal polygons hold sea and tidal flats: no land share for them
             "land_share": (round(float(d["covered_share"]), 4)
                            if d["land_area_ok"] and d["covered_share"] is not None else None)}
            for d in districts if float(d["covered_m2"]) > 0
        ]
    if k > 0:
        siting = run_siting(
            atlas, flt, SitingParams(k=k, new_radius_m=float(new_radius_m), radius_m=radius,
                                     include_placeholders=include_placeholders,
                                     new_radius_from="dashboard"),
            population=population, population_source="uploaded" if population is not None
            else None, uploaded=uploaded)
        result["results"]["siting"] = siting.to_json()
        picks = siting.layers()["suggested_sites"]
        picks = picks.assign(
            gain_km2=(picks["gain_m2"] / 1e6).round(2),
            tooltip=[html_lib.escape(t("cov_site_tip", lang, rank=int(r), gain=g / 1e6))
                     for r, g in zip(picks["rank"], picks["gain_m2"], strict=True)])
        result["sites"] = geojson_from_frame(picks[["rank", "town", "gain_km2",
                                                    "covered_share_after",
                                                    "tooltip", "geometry"]])
        params.update({"sites_k": k, "new_radius_m": float(new_radius_m),
                       "candidates": siting.picks.candidates,
                       "objective": siting.picks.objective})
    return result


def display_layers(result: dict[str, Any] | None, datum: Datum) -> tuple[Any, Any, Any]:
    """Covered areas, gap polygons and suggested sites in the display datum."""
    first, second, third = in_display_datum(result, ("coverage", "gaps", "sites"), datum)
    return first, second, third


def results_panel(result: dict[str, Any] | None, lang: str) -> html.Div:
    if not result:
        return html.Div()
    rows = result["rows"]
    with_pop = any("population" in r for r in rows)

    def people(r: dict[str, Any]) -> list[Any]:
        if not with_pop:
            return []
        share = r["population_share"]
        return [html.Td(f"{r['covered_population']:,} / {r['population']:,}"
                        + (f" ({share:.1%})" if share is not None else ""))]

    table = html.Table([
        html.Thead(html.Tr([html.Th(t("town", lang)), html.Th("km²"),
                            html.Th(t("cov_covered", lang)), html.Th(t("cov_share", lang)),
                            *([html.Th(t("cov_people", lang))] if with_pop else [])])),
        html.Tbody([html.Tr([html.Td(r["name"]), html.Td(r["area_km2"]),
                             html.Td(r["covered_km2"]), html.Td(f"{r['share']:.1%}"),
                             *people(r)])
                    for r in rows]),
    ], className="summary-table", id="coverage-table")
    fig = go.Figure(go.Bar(x=[r["name"] for r in rows], y=[r["share"] * 100 for r in rows],
                           marker_color=[catalog.TOWNS[r["town"]].colour for r in rows],
                           hovertemplate="%{x}: %{y:.1f}%<extra></extra>"))
    fig.update_layout(margin={"l": 30, "r": 10, "t": 10, "b": 30}, height=200,
                      yaxis={"range": [0, 100], "title": "%"},
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    params = result["params"]
    parts: list[Any] = [
        html.Div(t("cov_summary", lang, n=params["selected"], sites=params["distinct_locations"],
                   radius=params["radius_m"]), className="nt-note"),
        table,
        dcc.Graph(figure=fig, config={"displayModeBar": False}, id="coverage-chart"),
    ]
    if result.get("sites"):
        items = [html.Li(t("cov_site_row", lang, rank=f["properties"]["rank"],
                           town=catalog.TOWNS[f["properties"]["town"]].label(lang),
                           gain=f["properties"]["gain_km2"],
                           after=f["properties"]["covered_share_after"]))
                 for f in result["sites"]["features"]]
        parts += [html.Div(t("cov_sites", lang), className="nt-label"),
                  html.Ol(items, id="site-list", className="nt-note")]
    if result.get("districts"):
        parts.append(html.Details([
            html.Summary(t("cov_districts", lang)),
            *[html.Div(f"{d['name']}: {d['covered_km2']} km²"
                       + (f" ({d['land_share']:.1%})" if d["land_share"] is not None
                          else " " + t("cov_coastal", lang)), className="nt-note")
              for d in result["districts"]]]))
    return html.Div(parts)


def uploaded_population(store: dict[str, Any] | None) -> gpd.GeoDataFrame | None:
    """The user's uploaded boundaries as a population layer, if they carry a population
    column (e.g. ``population``, ``人口``); otherwise None."""
    if not store or store.get("kind") != "boundaries":
        return None
    frame = gpd.GeoDataFrame.from_features(store["geojson"]["features"], crs=GEOGRAPHIC_CRS)
    column = next((c for c in POPULATION_COLUMNS if c in frame.columns), None)
    if column is None:
        return None
    return frame.assign(population=pd.to_numeric(frame[column], errors="coerce").fillna(0))


def upload_choice(store: dict[str, Any] | None, lang: str) -> tuple[list[str], Any, str]:
    """The "use my uploaded layer" checkbox for the user's upload: value, options and hint.

    Nothing usable uploaded (no upload, or polygons without a population column): unticked,
    disabled, and the hint says what to upload. Points, or polygons with population: enabled
    and ticked (an upload made for the analysis joins it), no hint.
    """
    usable = store is not None and (store.get("kind") == "facilities"
                                    or uploaded_population(store) is not None)
    return (["use"] if usable else [], use_upload_options(lang, usable=usable),
            "" if usable else t("cov_upload_hint", lang))


def register(app: Dash, mapdata: MapData) -> None:
    @app.callback(
        Output(ids.COV_USE_UPLOAD, "value"),
        Output(ids.COV_USE_UPLOAD, "options"),
        Output(ids.COV_UPLOAD_HINT, "children"),
        Input(ids.UPLOADED, "data"),
        State(ids.PAGE_LANG, "data"),
        prevent_initial_call=True,
    )
    def follow_upload(store: dict[str, Any] | None,
                      lang: str | None) -> tuple[list[str], Any, str]:
        return upload_choice(store, lang or "zh")

    @app.callback(
        Output(ids.COV_RADIUS, "value"),
        Input(ids.COV_PRESET, "value"),
        prevent_initial_call=True,
    )
    def use_preset(value: float | None) -> float:
        return value if value else FIXED_RADIUS_M

    @app.callback(
        output=Output(ids.COV_STORE, "data"),
        inputs={"_n": Input(ids.COV_RUN, "n_clicks")},
        state={"controls": filter_states(), "mode": State(ids.COV_MODE, "value"),
               "radius_m": State(ids.COV_RADIUS, "value"), "k": State(ids.COV_K, "value"),
               "new_radius_m": State(ids.COV_NEW_RADIUS, "value"),
               "use_upload": State(ids.COV_USE_UPLOAD, "value"),
               "upload": State(ids.UPLOADED, "data"), "lang": State(ids.PAGE_LANG, "data")},
        prevent_initial_call=True,
    )
    def run(_n: int | None, controls: FilterControls, mode: str | None,
            radius_m: float | None, k: int | None, new_radius_m: float | None,
            use_upload: list[str] | None, upload: dict[str, Any] | None,
            lang: str | None) -> dict[str, Any]:
        flt = filter_from_controls(controls)
        mine = uploaded_facilities(upload) if use_upload else None
        population = uploaded_population(upload) if use_upload else None
        return run_coverage(mapdata, flt, radius_mode=mode or DEFAULT_MODE,
                            radius_m=float(radius_m or FIXED_RADIUS_M),
                            k=max(0, min(int(k or 0), MAX_SITES)),
                            new_radius_m=float(new_radius_m or FIXED_RADIUS_M), lang=lang or "zh",
                            uploaded=mine, population=population)

    @app.callback(
        Output(ids.COV_LAYER, "data"),
        Output(ids.COV_GAPS, "data"),
        Output(ids.COV_SITES, "data"),
        Output(ids.COV_RESULTS, "children"),
        Input(ids.COV_STORE, "data"),
        Input(ids.BASEMAP, "value"),
        State(ids.PAGE_LANG, "data"),
    )
    def show(result: dict[str, Any] | None, basemap: str | None,
             lang: str | None) -> tuple[Any, Any, Any, html.Div]:
        covered, gaps, sites = display_layers(result, datum_for(basemap))
        return covered, gaps, sites, results_panel(result, lang or "zh")
