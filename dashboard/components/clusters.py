"""The Clusters tab's controls (the results are drawn by dashboard.callbacks.clusters)."""

from __future__ import annotations

from dash import dcc, html

from dashboard import ids
from dashboard.i18n import t
from geo.clustering import HOTSPOT_CLASSES
from geo.settings import (
    CLUSTER_EPS_M,
    CLUSTER_MIN_CLUSTER_SIZE,
    CLUSTER_MIN_SAMPLES,
    DENSITY_BANDWIDTH_M,
    HOTSPOT_CELL,
)
from geo.style import DENSITY_COLOURS, HOTSPOT_COLOURS


def legend_rows(lang: str) -> html.Details:
    """The density and hotspot colours, folded."""
    density = [html.Span(className="swatch", style={"background": c}) for c in DENSITY_COLOURS]
    hot = [html.Div([html.Span(className="swatch", style={"background": colour}),
                     HOTSPOT_CLASSES[key][1 if lang == "en" else 0]], className="legend-row")
           for key, colour in HOTSPOT_COLOURS.items()]
    return html.Details([html.Summary(t("cl_legend", lang)),
                         html.Div([*density, " ", t("cl_density_legend", lang)],
                                  className="legend-row"), *hot])


def clusters_panel(lang: str) -> html.Div:
    """The Clusters tab: method and parameters, density and hotspot options, the results."""
    return html.Div([
        dcc.RadioItems(id=ids.CL_METHOD, value="dbscan", inline=True,
                       className="nt-radio-inline",
                       options=[{"label": "DBSCAN", "value": "dbscan"},
                                {"label": "HDBSCAN", "value": "hdbscan"}]),
        html.Div([
            html.Label([t("cl_eps", lang),
                        dcc.Input(id=ids.CL_EPS, type="number", value=CLUSTER_EPS_M, min=50,
                                  max=50000, step=50, className="nt-num")]),
            html.Label([t("cl_min_samples", lang),
                        dcc.Input(id=ids.CL_MIN_SAMPLES, type="number",
                                  value=CLUSTER_MIN_SAMPLES, min=1,
                                  max=100, step=1, className="nt-num")]),
            html.Label([t("cl_min_cluster", lang),
                        dcc.Input(id=ids.CL_MIN_CLUSTER, type="number",
                                  value=CLUSTER_MIN_CLUSTER_SIZE, min=2,
                                  max=500, step=1, className="nt-num")]),
        ], className="nt-params"),
        dcc.Checklist(id=ids.CL_EXTRAS, value=[], className="nt-radio-inline",
                      options=[{"label": t("cl_density", lang), "value": "density"},
                               {"label": t("cl_hotspot_layer", lang), "value": "hotspots"}]),
        html.Div([
            html.Label([t("cl_bandwidth", lang),
                        dcc.Input(id=ids.CL_BANDWIDTH, type="number",
                                  value=DENSITY_BANDWIDTH_M, min=100,
                                  max=20000, step=100, className="nt-num")]),
            html.Label([t("cl_cell", lang),
                        dcc.Dropdown(id=ids.CL_CELL, value=HOTSPOT_CELL, clearable=False,
                                     options=["h3:7", "h3:8", "h3:9", "grid:500", "grid:1000",
                                              "grid:2000"], className="nt-inline-dd")]),
        ], className="nt-params"),
        html.Button(t("run", lang), id=ids.CL_RUN, className="nt-btn nt-primary"),
        dcc.Loading(html.Div(id=ids.CL_RESULTS), type="dot"),
        legend_rows(lang),
        dcc.Store(id=ids.CL_STORE, storage_type="memory"),
    ])
