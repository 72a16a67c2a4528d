"""The Export tab's controls, and the layers and formats it offers."""

from __future__ import annotations

from typing import Any, get_args

from dash import dcc, html

from dashboard import ids
from dashboard.i18n import t
from geo.export import Format

#: Layers a user can tick; "facilities" is always the current selection.
EXPORT_LAYERS = ("facilities", "towns", "districts", "corridors", "corridor_lines", "zones",
                 "parks", "uploaded", "analysis", "scorecard")
#: Result layers of the analysis panels (stores in the browser, WGS84 GeoJSON) by export name.
ANALYSIS_LAYERS = {"clusters": "clusters", "density": "density", "hotspots": "hotspots",
                   "coverage": "coverage", "gaps": "coverage_gaps", "sites": "suggested_sites"}


def _literal_values(tp: Any) -> tuple[str, ...]:
    """Flatten ``Literal[...]`` and unions of them into their values."""
    out: list[str] = []
    for arg in get_args(tp):
        out.extend(_literal_values(arg) if get_args(arg) else [arg])
    return tuple(out)


FORMATS: tuple[str, ...] = _literal_values(Format)


def export_panel(lang: str) -> html.Div:
    """The Export tab: format, layers, datum and the download button."""
    layer_labels = {
        "facilities": t("layer_facilities", lang) + " (" + t("filters", lang) + ")",
        "towns": t("layer_towns", lang), "districts": t("layer_districts", lang),
        "corridors": t("layer_corridor", lang), "corridor_lines": t("layer_g60_line", lang),
        "zones": t("layer_zone", lang), "parks": t("layer_parks", lang),
        "uploaded": t("layer_uploaded", lang),
        "analysis": t("layer_analysis", lang), "scorecard": t("layer_scorecard", lang),
    }
    return html.Div([
        html.Label(t("export_format", lang), htmlFor=ids.EXPORT_FORMAT, className="nt-note"),
        dcc.Dropdown(id=ids.EXPORT_FORMAT, value="geojson", clearable=False,
                     options=[{"label": t(f"fmt_{f}", lang), "value": f} for f in FORMATS]),
        dcc.Checklist(id=ids.EXPORT_LAYERS, value=["facilities", "towns"],
                      className="nt-radio-inline",
                      options=[{"label": layer_labels[n], "value": n} for n in EXPORT_LAYERS]),
        dcc.RadioItems(id=ids.EXPORT_DATUM, value="wgs84", inline=True,
                       className="nt-radio-inline",
                       options=[{"label": t("export_wgs84", lang), "value": "wgs84"},
                                {"label": "GCJ-02", "value": "gcj02"},
                                {"label": "BD-09", "value": "bd09"}]),
        html.Button(t("export_button", lang), id=ids.EXPORT_BUTTON, className="nt-btn nt-primary"),
        dcc.Loading(html.Div(id=ids.EXPORT_STATUS, className="nt-note"), type="dot"),
        dcc.Download(id=ids.EXPORT_DOWNLOAD),
    ])
