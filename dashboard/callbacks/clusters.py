"""Clusters panel: DBSCAN/HDBSCAN hulls, kernel density bands and Gi* hotspots on the map.

The analysis runs on the current selection (the shared Filter) in EPSG:4549 metres. Results
go to the browser (a dcc.Store, in WGS84) so they are per user, can be shown in either datum
and can be exported; nothing is kept on the server.
"""

from __future__ import annotations

import html as html_lib
from typing import Any

import geopandas as gpd
from dash import ALL, Dash, Input, Output, State, ctx, html, no_update

from dashboard import ids
from dashboard.callbacks.upload import uploaded_facilities
from dashboard.components.map import bounds_target
from dashboard.i18n import t
from dashboard.mapdata import MapData, geojson_from_frame, in_display_datum
from dashboard.state import FilterControls, datum_for, filter_from_controls, filter_states
from geo import catalog
from geo.analysis import (
    ClusterParams,
    DensityParams,
    HotspotParams,
    run_density,
    run_hotspots,
)
from geo.analysis import run_clusters as analysis_clusters
from geo.analysis.clusters import area_text
from geo.clustering import HOTSPOT_CLASSES
from geo.crs import Datum, to_metric
from geo.query import Filter, encode_area
from geo.settings import (
    CLUSTER_EPS_M,
    CLUSTER_MIN_CLUSTER_SIZE,
    CLUSTER_MIN_SAMPLES,
    DENSITY_BANDWIDTH_M,
    GEOGRAPHIC_CRS,
    HOTSPOT_CELL,
    HOTSPOT_PERMUTATIONS,
    HOTSPOT_SEED,
)
from geo.style import CLUSTER_COLOURS, DENSITY_COLOURS, HOTSPOT_COLOURS

#: The panel runs Gi* with the one default (no control for it).
MAX_PERMUTATIONS = HOTSPOT_PERMUTATIONS


def run_clusters(
    mapdata: MapData,
    flt: Filter,
    *,
    method: str,
    eps_m: float,
    min_samples: int,
    min_cluster_size: int,
    extras: list[str],
    bandwidth_m: float,
    cell: str,
    lang: str,
    uploaded: gpd.GeoDataFrame | None = None,
    include_placeholders: bool = False,
) -> dict[str, Any]:
    """Run the chosen analyses on the selection; return JSON-ready results (WGS84).

    The numbers come from geo.analysis (the same entry points as ``newtown clusters`` and
    ``newtown hotspots``); ``results`` holds each result's ``to_json()`` and the rest is that
    result formatted for the panel and the map. ``uploaded`` (the user's own facilities,
    WGS84) join the selection under the same Filter.
    """
    atlas = mapdata.atlas
    clusters = analysis_clusters(
        atlas, flt, ClusterParams(method="hdbscan" if method == "hdbscan" else "dbscan",
                                  eps_m=eps_m, min_samples=min_samples if method != "hdbscan"
                                  else None, min_cluster_size=min_cluster_size,
                                  include_placeholders=include_placeholders),
        uploaded=uploaded)
    doc = clusters.to_json()
    if method == "hdbscan":
        params: dict[str, Any] = {"method": "HDBSCAN", "min_cluster_size": min_cluster_size}
    else:
        params = {"method": "DBSCAN", "eps_m": eps_m, "min_samples": min_samples}
    hulls = clusters.hulls
    members = clusters.members()
    rows = []
    sep = "、" if lang == "zh" else ", "
    for number, row in hulls.iterrows():
        layers = [catalog.INDUSTRIES[k].label(lang) for k in str(row["dominant_layers"]).split(";")
                  if k in catalog.INDUSTRIES]
        towns = [catalog.TOWNS[k].label(lang) for k in str(row["towns"]).split(";")
                 if k in catalog.TOWNS]
        rows.append({"cluster": int(number), "size": int(row["size"]),
                     "locations": int(row["locations"]),
                     "area": area_text(row["area_m2"], row["shape"], int(row["locations"]),
                                       lang),
                     "towns": sep.join(towns), "layers": sep.join(layers),
                     "members": ";".join(members.get(int(number), [])),
                     })
    colours = [CLUSTER_COLOURS[int(i) % len(CLUSTER_COLOURS)] for i in hulls.index]
    shapes = clusters.layers()["clusters"].assign(
        colour=colours,
        tooltip=[html_lib.escape(f"#{r['cluster']} · {r['size']} · {r['layers']}")
                 for r in rows])
    result: dict[str, Any] = {
        "params": params, "count": doc["facilities"], "noise": doc["noise"],
        "excluded_placeholders": len(clusters.excluded_placeholders),
        "rows": rows,
        "results": {"clusters": doc},
        "clusters": geojson_from_frame(shapes[["cluster", "size", "locations", "shape",
                                               "area_m2", "area_note", "dominant_layers",
                                               "towns", "members", "colour", "tooltip",
                                               "geometry"]]),
    }
    result["dispersion"] = [
        {"town": catalog.TOWNS[str(key)].label(lang),
         "sentence": f"n={int(row['n'])}: {row['sentence_en' if lang == 'en' else 'sentence_zh']}"}
        for key, row in clusters.dispersion.iterrows()
    ]
    if "density" in extras and len(clusters.points_m) >= 2:
        density = run_density(atlas, flt, DensityParams(
            bandwidth_m=bandwidth_m, include_placeholders=include_placeholders),
            uploaded=uploaded)
        result["results"]["density"] = density.to_json()
        bands = density.layers()["density"]
        bands = bands.assign(
            colour=[DENSITY_COLOURS[min(int(v), len(DENSITY_COLOURS) - 1)]
                    for v in bands["level"]],
            tooltip=[f"{lo:.2f}–{hi:.2f} /km²" for lo, hi in zip(bands["lower"],
                                                                 bands["upper"], strict=True)])
        result["density"] = geojson_from_frame(bands)
        params["bandwidth_m"] = bandwidth_m
    if "hotspots" in extras and len(clusters.points_m) >= 2:
        spots = run_hotspots(atlas, flt, HotspotParams(
            cell=cell, permutations=MAX_PERMUTATIONS, seed=HOTSPOT_SEED,
            include_placeholders=include_placeholders), uploaded=uploaded)
        result["results"]["hotspots"] = spots.to_json()
        cells = spots.layers()["hotspots"]
        significant = cells[cells["hotspot"] != "not_significant"]
        result["hotspot_summary"] = {k: int(v) for k, v in
                                     cells["hotspot"].value_counts().items()}
        shown = significant.assign(
            colour=[HOTSPOT_COLOURS[c] for c in significant["hotspot"]],
            tooltip=[html_lib.escape(f"{HOTSPOT_CLASSES[c][1 if lang == 'en' else 0]} "
                                     f"(n={n}, z={z:.1f})")
                     for c, n, z in zip(significant["hotspot"], significant["count"],
                                        significant["gi_z"], strict=True)])
        result["hotspots"] = geojson_from_frame(shown.reset_index(drop=True)[
            ["count", "gi_z", "q", "hotspot", "colour", "tooltip", "geometry"]])
        params.update({"cell": cell, "permutations": MAX_PERMUTATIONS, "seed": HOTSPOT_SEED,
                       "correction": "fdr"})
    return result


def display_layers(result: dict[str, Any] | None, datum: Datum) -> tuple[Any, Any, Any]:
    """Cluster hulls, density bands and hotspot cells in the display datum."""
    first, second, third = in_display_datum(result, ("clusters", "density", "hotspots"), datum)
    return first, second, third


def results_panel(result: dict[str, Any] | None, lang: str) -> html.Div:
    if not result:
        return html.Div()
    params = ", ".join(f"{k}={v}" for k, v in result["params"].items())
    head = html.Tr([html.Th("#"), html.Th(t("cl_size", lang)), html.Th(t("cl_points", lang)),
                    html.Th("km²"),
                    html.Th(t("town", lang)), html.Th(t("industry", lang))])
    body = [html.Tr([
        html.Td(html.Button(
            [html.Span(className="swatch",
                       style={"background": CLUSTER_COLOURS[r["cluster"] % 10]}),
             str(r["cluster"])],
            id={"type": ids.CLUSTER_ROW, "index": r["cluster"]}, className="zoom-btn",
            title=t("cl_zoom", lang))),
        html.Td(r["size"]), html.Td(r["locations"]), html.Td(r["area"]), html.Td(r["towns"]),
        html.Td(r["layers"]),
    ]) for r in result["rows"]]
    parts: list[Any] = [
        html.Div(t("cl_summary", lang, n=result["count"], k=len(result["rows"]),
                   noise=result["noise"], params=params), className="nt-note"),
        html.Table([html.Thead(head), html.Tbody(body)], className="summary-table",
                   id="cluster-table"),
    ]
    if result.get("dispersion"):
        parts.append(html.Div(t("cl_dispersion", lang), className="nt-label"))
        parts += [html.Div(f"{d['town']}: {d['sentence']}", className="nt-note")
                  for d in result["dispersion"]]
    if "hotspot_summary" in result:
        counts = result["hotspot_summary"]
        significant = sum(v for k, v in counts.items() if k != "not_significant")
        parts.append(html.Div(t("cl_hotspots", lang, n=significant, total=sum(counts.values())),
                              className="nt-note"))
    return html.Div(parts)


def register(app: Dash, mapdata: MapData) -> None:
    @app.callback(
        output=Output(ids.CL_STORE, "data"),
        inputs={"_n": Input(ids.CL_RUN, "n_clicks")},
        state={"controls": filter_states(), "method": State(ids.CL_METHOD, "value"),
               "eps_m": State(ids.CL_EPS, "value"),
               "min_samples": State(ids.CL_MIN_SAMPLES, "value"),
               "min_cluster": State(ids.CL_MIN_CLUSTER, "value"),
               "extras": State(ids.CL_EXTRAS, "value"),
               "bandwidth_m": State(ids.CL_BANDWIDTH, "value"),
               "cell": State(ids.CL_CELL, "value"), "upload": State(ids.UPLOADED, "data"),
               "lang": State(ids.PAGE_LANG, "data")},
        prevent_initial_call=True,
    )
    def run(_n: int | None, controls: FilterControls, method: str | None,
            eps_m: float | None, min_samples: int | None, min_cluster: int | None,
            extras: list[str] | None, bandwidth_m: float | None, cell: str | None,
            upload: dict[str, Any] | None, lang: str | None) -> dict[str, Any]:
        flt = filter_from_controls(controls)
        return run_clusters(mapdata, flt, method=method or "dbscan",
                            eps_m=float(eps_m or CLUSTER_EPS_M),
                            min_samples=int(min_samples or CLUSTER_MIN_SAMPLES),
                            min_cluster_size=int(min_cluster or CLUSTER_MIN_CLUSTER_SIZE),
                            extras=extras or [],
                            bandwidth_m=float(bandwidth_m or DENSITY_BANDWIDTH_M),
                            cell=cell or HOTSPOT_CELL,
                            lang=lang or "zh", uploaded=uploaded_facilities(upload))

    @app.callback(
        Output(ids.CL_HULLS, "data"),
        Output(ids.CL_DENSITY, "data"),
        Output(ids.CL_HOTSPOTS, "data"),
        Output(ids.CL_RESULTS, "children"),
        Input(ids.CL_STORE, "data"),
        Input(ids.BASEMAP, "value"),
        State(ids.PAGE_LANG, "data"),
    )
    def show(result: dict[str, Any] | None, basemap: str | None,
             lang: str | None) -> tuple[Any, Any, Any, html.Div]:
        hulls, density, cells = display_layers(result, datum_for(basemap))
        return hulls, density, cells, results_panel(result, lang or "zh")

    @app.callback(
        Output(ids.DRAWN_AREA, "data", allow_duplicate=True),
        # fitted by the browser with the padding of the drawers and cards (callbacks.map)
        Output(ids.MAP_FIT, "data", allow_duplicate=True),
        Input({"type": ids.CLUSTER_ROW, "index": ALL}, "n_clicks"),
        State(ids.CL_STORE, "data"),
        State(ids.BASEMAP, "value"),
        prevent_initial_call=True,
    )
    def focus_cluster(clicks: list[int | None], result: dict[str, Any] | None,
                      basemap: str | None) -> tuple[Any, Any]:
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(clicks) or not result:
            return no_update, no_update
        return cluster_focus(mapdata, result, int(trigger["index"]), datum_for(basemap))


def cluster_focus(mapdata: MapData, result: dict[str, Any], number: int,
                  datum: Datum) -> tuple[str, dict[str, object]]:
    """Filter to a cluster's area (its hull, 100 m wider so members on the edge count) and
    the MAP_FIT target that zooms to it."""

    feature = next(f for f in result["clusters"]["features"]
                   if f["properties"]["cluster"] == number)
    hull = gpd.GeoDataFrame.from_features([feature], crs=GEOGRAPHIC_CRS)
    metric = to_metric(hull)
    area = metric.buffer(100).to_crs(GEOGRAPHIC_CRS).iloc[0]
    x0, y0, x1, y1 = area.bounds
    return (encode_area(Filter.create(within=area.simplify(0.0001)).within),
            bounds_target(mapdata, [[y0, x0], [y1, x1]], datum))
