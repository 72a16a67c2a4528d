"""The Upload tab: drop zone, declared datum and the validation report for a user's own file."""

from __future__ import annotations

from dash import dcc, html

from dashboard import ids
from dashboard.i18n import t


def upload_panel(lang: str, max_upload_bytes: int) -> html.Div:
    """The Upload tab's body (the layer itself is kept in the browser, see callbacks.upload)."""
    mb = f"{max_upload_bytes / 2**20:.0f}"
    return html.Div([
        dcc.Upload(id=ids.UPLOAD, children=html.Div(t("upload_hint", lang, mb=mb)),
                   className="nt-upload", multiple=False,
                   accept=".csv,.txt,.xlsx,.geojson,.json,.gpkg,.zip"),
        html.Label(t("upload_datum", lang), htmlFor=ids.UPLOAD_DATUM, className="nt-note"),
        dcc.RadioItems(id=ids.UPLOAD_DATUM, value="wgs84", inline=True, className="nt-radio-inline",
                       options=[{"label": "WGS84", "value": "wgs84"},
                                {"label": "GCJ-02", "value": "gcj02"},
                                {"label": "BD-09", "value": "bd09"}]),
        dcc.Loading(html.Div(id=ids.UPLOAD_STATUS, className="nt-note"), type="dot"),
        html.Button(t("upload_clear", lang), id=ids.UPLOAD_CLEAR, className="nt-btn"),
        dcc.Store(id=ids.UPLOAD_PAYLOAD, storage_type="memory"),
        # The size check runs in the browser (an oversize file gets a message, not a silent
        # rejection), so the limit travels with the page.
        dcc.Store(id=ids.UPLOAD_LIMIT, data=max_upload_bytes),
        dcc.Store(id=ids.UPLOADED, storage_type="memory"),
    ])
