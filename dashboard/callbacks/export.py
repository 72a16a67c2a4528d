"""Export what is on screen: the current selection and the ticked layers, as a download."""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard import ids
from dashboard.callbacks.scorecard import params_from_inputs, with_as_of
from dashboard.callbacks.upload import uploaded_facilities
from dashboard.components.export import ANALYSIS_LAYERS, EXPORT_LAYERS, FORMATS
from dashboard.i18n import t
from dashboard.mapdata import MapData
from dashboard.state import FilterControls, as_datum, filter_from_controls, filter_states
from geo.analysis import data_sources
from geo.analysis.scorecard import ScorecardParams, run_scorecard
from geo.crs import Datum
from geo.export import MAP_FORMATS, Format, export
from geo.query import Filter


def export_bundle(
    mapdata: MapData,
    flt: Filter,
    *,
    fmt: Format,
    layer_names: list[str],
    datum: Datum,
    uploaded: Any = None,
    analysis: dict[str, Any] | None = None,
    analysis_params: dict[str, Any] | None = None,
    scorecard: ScorecardParams | None = None,
    scorecard_filter: Filter | None = None,
    lang: str = "zh",
) -> tuple[str, bytes, tuple[str, ...]]:
    """Write the export in a private temp folder; return (download name, zip bytes, messages).

    The download is one zip holding the exported file and its ``.meta.json`` sidecar, so the
    GIS team always receives the filter, sources, CRS and counts with the data. The
    ``scorecard`` layer is the one scorecard computation for ``scorecard_filter`` (default
    ``flt``; the Scorecard tab may set its own as-of year) and ``scorecard`` (the tab's
    radius and since year); its result JSON, with that filter, is in the sidecar's
    ``analysis``.
    """
    atlas = mapdata.atlas
    layers: dict[str, Any] = {}
    analysis_params = dict(analysis_params or {})
    for name in layer_names:
        if name == "facilities":
            layers[name] = flt.select(atlas.facilities)
        elif name == "uploaded":
            if uploaded is not None:
                layers[name] = flt.select(uploaded)
        elif name == "analysis":
            continue  # the analysis layers come in ``analysis``
        elif name == "scorecard":
            card = run_scorecard(atlas, scorecard_filter or flt,
                                 scorecard or ScorecardParams())
            layers[name] = card.layers()["scorecard"]
            analysis_params["scorecard"] = card.to_json()
        elif name in EXPORT_LAYERS:
            layers[name] = getattr(atlas, name)
    if "analysis" in layer_names:
        for name, frame in (analysis or {}).items():
            layers[name] = frame
    if not layers:
        raise ValueError("nothing to export: tick at least one layer")
    stamp = datetime.now().astimezone().strftime("%Y%m%dT%H%M")
    with tempfile.TemporaryDirectory(prefix="newtown-export-") as tmp:
        # No extension: export() adds the format's (.geojson.zip for several GeoJSON layers,
        # .shp.zip) and the datum's (newtown-....gcj02.csv).
        target = Path(tmp) / f"newtown-{stamp}"
        extra: dict[str, Any] = {}
        if fmt in MAP_FORMATS:  # maps are drawn in WGS84 and labelled in the page's language
            datum, extra = "wgs84", {"lang": lang}
        result = export(layers, target, fmt=fmt, datum=datum,
                        **extra,
                        metadata={"filter": flt.to_params(), "exported_from": "dashboard",
                                  "analysis": analysis_params or None,
                                  "sources": data_sources(atlas.data_dir)})
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


def as_format(value: str | None) -> Format:
    """An export format name sent by the browser, checked against the formats offered."""
    if value in FORMATS:
        return cast(Format, value)  # checked on the line above
    raise ValueError(f"unknown export format {value!r}; expected one of {', '.join(FORMATS)}")


def analysis_layers(*stores: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """GeoDataFrames (WGS84) and result documents (by analysis) held in the browser."""
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
        # The sidecar carries each analysis's result JSON (geo.analysis), the same document
        # `newtown coverage --json` / `newtown clusters --json` print for the same filter.
        params.update(store.get("results") or {})
    return layers, params


def register(app: Dash, mapdata: MapData) -> None:
    @app.callback(
        output=[Output(ids.EXPORT_DOWNLOAD, "data"), Output(ids.EXPORT_STATUS, "children")],
        inputs={"_n": Input(ids.EXPORT_BUTTON, "n_clicks")},
        state={"controls": filter_states(), "uploaded": State(ids.UPLOADED, "data"),
               "clusters": State(ids.CL_STORE, "data"),
               "coverage": State(ids.COV_STORE, "data"),
               "fmt": State(ids.EXPORT_FORMAT, "value"),
               "layer_names": State(ids.EXPORT_LAYERS, "value"),
               "datum": State(ids.EXPORT_DATUM, "value"), "lang": State(ids.PAGE_LANG, "data"),
               "sc_radius": State(ids.SC_RADIUS, "value"), "sc_since": State(ids.SC_SINCE, "value"),
               "sc_as_of": State(ids.SC_AS_OF, "value")},
        prevent_initial_call=True,
    )
    def download(_n: int | None, controls: FilterControls, uploaded: dict[str, Any] | None,
                 clusters: dict[str, Any] | None, coverage: dict[str, Any] | None,
                 fmt: str, layer_names: list[str] | None, datum: str | None,
                 lang: str | None, sc_radius: float | None, sc_since: float | None,
                 sc_as_of: float | None) -> tuple[Any, html.Div]:
        lang = lang or "zh"
        analysis = analysis_layers(clusters, coverage)
        flt = filter_from_controls(controls)
        names = layer_names or []
        try:
            name, data, messages = export_bundle(
                mapdata, flt, fmt=as_format(fmt), layer_names=names,
                datum=as_datum(datum),
                uploaded=uploaded_facilities(uploaded), analysis=analysis[0],
                analysis_params=analysis[1],
                scorecard=params_from_inputs(sc_radius, sc_since),
                scorecard_filter=with_as_of(flt, sc_as_of), lang=lang)
        except ValueError as exc:
            return no_update, html.Div(str(exc), className="warn")
        notes = [html.Div(m) for m in messages]
        # Dash ships dcc.send_bytes unannotated and outside dcc's __all__.
        payload = dcc.send_bytes(data, name)  # type: ignore[attr-defined,no-untyped-call]
        return payload, html.Div([t("export_done", lang, name=name), *notes])
