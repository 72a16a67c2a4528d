"""Export what is on screen: the current selection and the ticked layers, as a download."""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard import ids
from dashboard.callbacks.filters import FILTER_INPUTS, filter_from_controls
from dashboard.callbacks.upload import uploaded_facilities
from dashboard.i18n import t
from dashboard.mapdata import MapData
from geo.export import MAP_FORMATS, Format, export
from geo.query import Filter

#: Layers a user can tick; "facilities" is always the current selection.
EXPORT_LAYERS = ("facilities", "towns", "districts", "corridors", "corridor_lines", "zones",
                 "uploaded", "analysis")
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


def export_bundle(
    mapdata: MapData,
    flt: Filter,
    *,
    fmt: str,
    layer_names: list[str],
    datum: str,
    uploaded: Any = None,
    analysis: dict[str, Any] | None = None,
    analysis_params: dict[str, Any] | None = None,
    lang: str = "zh",
) -> tuple[str, bytes, tuple[str, ...]]:
    """Write the export in a private temp folder; return (download name, zip bytes, messages).

    The download is one zip holding the exported file and its ``.meta.json`` sidecar, so the
    GIS team always receives the filter, sources, CRS and counts with the data.
    """
    atlas = mapdata.atlas
    layers: dict[str, Any] = {}
    for name in layer_names:
        if name == "facilities":
            layers[name] = flt.select(atlas.facilities)
        elif name == "uploaded":
            if uploaded is not None:
                layers[name] = flt.select(uploaded)
        elif name == "analysis":
            continue  # the analysis layers come in ``analysis``
        elif name in EXPORT_LAYERS:
            layers[name] = getattr(atlas, name)
    if "analysis" in layer_names:
        for name, frame in (analysis or {}).items():
            layers[name] = frame
    if not layers:
        raise ValueError("nothing to export: tick at least one layer")
    stamp = datetime.now().astimezone().strftime("%Y%m%dT%H%M")
    with tempfile.TemporaryDirectory(prefix="newtown-export-") as tmp:
        target = Path(tmp) / f"newtown-{stamp}.{fmt}"
        extra: dict[str, Any] = {}
        if fmt in MAP_FORMATS:  # maps are drawn in WGS84 and labelled in the page's language
            datum, extra = "wgs84", {"lang": lang}
        result = export(layers, target, fmt=fmt, datum=datum,  # type: ignore[arg-type]
                        **extra,
                        metadata={"filter": flt.to_params(), "exported_from": "dashboard",
                                  "analysis": analysis_params or None,
                                  "sources": _sources(atlas)})
        messages = tuple(result.messages)
        if result.output.suffix == ".zip":  # already an archive: make sure the sidecar is in it
            with zipfile.ZipFile(result.output, "a", zipfile.ZIP_DEFLATED) as archive:
                if result.sidecar.name not in archive.namelist():
                    archive.write(result.sidecar, result.sidecar.name)
            return result.output.name, result.output.read_bytes(), messages
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in (result.output, result.sidecar):
                archive.write(path, path.name)
        return f"{result.output.name}.zip", buffer.getvalue(), messages


def analysis_layers(*stores: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """GeoDataFrames (WGS84) and parameters of the analysis results held in the browser."""
    import geopandas as gpd

    layers: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for store in stores:
        if not store:
            continue
        for key, name in ANALYSIS_LAYERS.items():
            data = store.get(key)
            if data and data.get("features"):
                frame = gpd.GeoDataFrame.from_features(data["features"], crs=4326)
                layers[name] = frame.drop(columns=[c for c in ("colour", "tooltip")
                                                   if c in frame.columns])
        kind = str((store.get("params") or {}).get("analysis", "clusters"))
        params[kind] = store.get("params") or {}
    return layers, params


def _sources(atlas: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in ("facilities", "towns", "districts", "corridors", "zones"):
        frame = getattr(atlas, name)
        if "source" in frame.columns:
            out[name] = "; ".join(sorted({str(s) for s in frame["source"]}))[:2000]
    return out


def export_section(lang: str) -> html.Div:
    layer_labels = {
        "facilities": t("layer_facilities", lang) + " (" + t("filters", lang) + ")",
        "towns": t("layer_towns", lang), "districts": t("layer_districts", lang),
        "corridors": t("layer_corridor", lang), "corridor_lines": t("layer_g60_line", lang),
        "zones": t("layer_zone", lang), "uploaded": t("layer_uploaded", lang),
        "analysis": t("layer_analysis", lang),
    }
    return html.Div([
        html.H3(t("export", lang)),
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
        html.Button(t("export_button", lang), id=ids.EXPORT_BUTTON, className="reset"),
        dcc.Loading(html.Div(id=ids.EXPORT_STATUS, className="nt-note"), type="dot"),
        dcc.Download(id=ids.EXPORT_DOWNLOAD),
    ])


def register(app: Dash, mapdata: MapData) -> None:
    @app.callback(
        Output(ids.EXPORT_DOWNLOAD, "data"),
        Output(ids.EXPORT_STATUS, "children"),
        Input(ids.EXPORT_BUTTON, "n_clicks"),
        *[State(i.component_id, i.component_property) for i in FILTER_INPUTS],
        State(ids.UPLOADED, "data"),
        State(ids.CL_STORE, "data"),
        State(ids.COV_STORE, "data"),
        State(ids.EXPORT_FORMAT, "value"),
        State(ids.EXPORT_LAYERS, "value"),
        State(ids.EXPORT_DATUM, "value"),
        State(ids.PAGE_LANG, "data"),
        prevent_initial_call=True,
    )
    def download(_n, towns, industries, categories, levels, statuses, text, drawn, basemap,
                 uploaded, clusters, coverage, fmt, layer_names, datum, lang):  # type: ignore[no-untyped-def]
        lang = lang or "zh"
        analysis = analysis_layers(clusters, coverage)
        flt = filter_from_controls(towns, industries, categories, levels, statuses, text,
                                   drawn, basemap)
        try:
            name, data, messages = export_bundle(
                mapdata, flt, fmt=fmt, layer_names=layer_names or [], datum=datum,
                uploaded=uploaded_facilities(uploaded), analysis=analysis[0],
                analysis_params=analysis[1], lang=lang)
        except ValueError as exc:
            return no_update, html.Div(str(exc), className="warn")
        notes = [html.Div(m) for m in messages]
        return dcc.send_bytes(data, name), html.Div([t("export_done", lang, name=name), *notes])
