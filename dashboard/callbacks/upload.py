"""Upload: a user's own facilities or boundaries as a layer for their session only.

The file is checked for size in the browser before it is sent, parsed and validated on the
server with the bundled data's rules (geo.ingest), and the valid layer is returned to the
browser (a dcc.Store): nothing is written or kept on the server.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import geopandas as gpd
import shapely
from dash import Dash, Input, Output, State, html, no_update

from dashboard import ids
from dashboard.i18n import t
from dashboard.mapdata import MapData
from dashboard.state import as_datum
from geo._errors import DataError
from geo.atlas import annotate_facilities
from geo.crs import Datum
from geo.ingest import MAX_UPLOAD_BYTES, read_upload

MAX_SHOWN_PROBLEMS = 50

# Runs in the browser: an oversize file is refused before a single byte is sent.
CHECK_SIZE_JS = """
function (contents, filename, limit, lang) {
    if (!contents) { return [window.dash_clientside.no_update, window.dash_clientside.no_update]; }
    const b64 = contents.slice(contents.indexOf(',') + 1);
    const bytes = Math.floor(b64.length * 3 / 4);
    if (bytes > limit) {
        const mb = (bytes / 1048576).toFixed(1), lim = (limit / 1048576).toFixed(0);
        const msg = lang === 'en'
            ? `${filename}: ${mb} MB is over the ${lim} MB upload limit; not uploaded.`
            : `${filename}：文件 ${mb} MB，超过 ${lim} MB 的上传上限，未上传。`;
        return [null, msg];
    }
    return [{contents: contents, filename: filename}, ''];
}
"""


def parse_upload(
    mapdata: MapData, payload: dict[str, str], datum: Datum, lang: str, *,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> tuple[dict[str, Any] | None, html.Div]:
    """Decode, validate and convert an upload; return (store data or None, status panel)."""
    name = payload.get("filename") or "upload"
    contents = payload.get("contents") or ""
    try:
        raw = base64.b64decode(contents.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        return None, html.Div(f"{name}: not a readable upload", className="warn")
    atlas = mapdata.atlas
    city = shapely.union_all(atlas.city.geometry.to_numpy())
    try:
        upload = read_upload(name, raw, datum=datum,
                             city=city, districts=atlas.districts, max_bytes=max_bytes)
    except DataError as exc:
        problems = exc.problems
        items = [html.Li(str(p)) for p in problems[:MAX_SHOWN_PROBLEMS]]
        if len(problems) > MAX_SHOWN_PROBLEMS:
            items.append(html.Li(f"… +{len(problems) - MAX_SHOWN_PROBLEMS}"))
        return None, html.Div([
            html.Div(t("upload_failed", lang, name=name, n=len(problems)), className="warn"),
            html.Ul(items, className="upload-problems"),
        ], id="upload-errors")
    data = upload.data
    if upload.kind == "facilities":
        # the computed columns the bundled facilities carry (in_town, membership, ...), so
        # the membership filter applies to the user's rows too
        data = annotate_facilities(data, atlas.towns)
    if "year" in data.columns:
        data = data.assign(year=data["year"].astype("string").fillna(""))
    geojson = json.loads(data.to_json(drop_id=True))
    notes = [html.Div(n, className="nt-note") for n in upload.notes]
    status = html.Div([html.Div(t("upload_ok", lang, name=upload.name, n=len(data))), *notes],
                      id="upload-ok")
    return {"name": upload.name, "kind": upload.kind, "geojson": geojson}, status


def uploaded_facilities(store: dict[str, Any] | None) -> gpd.GeoDataFrame | None:
    """The uploaded facilities back as a GeoDataFrame (index = id), or None."""
    if not store or store.get("kind") != "facilities":
        return None
    gdf = gpd.GeoDataFrame.from_features(store["geojson"]["features"], crs=4326)
    return gdf.set_index(gdf["id"].astype(str), drop=False).rename_axis(None)


def register(app: Dash, mapdata: MapData, *, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> None:
    app.clientside_callback(  # type: ignore[no-untyped-call]  # unannotated in Dash
        CHECK_SIZE_JS,
        Output(ids.UPLOAD_PAYLOAD, "data"),
        Output(ids.UPLOAD_STATUS, "children", allow_duplicate=True),
        Input(ids.UPLOAD, "contents"),
        State(ids.UPLOAD, "filename"),
        State(ids.UPLOAD_LIMIT, "data"),
        State(ids.PAGE_LANG, "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.UPLOADED, "data"),
        Output(ids.UPLOAD_STATUS, "children"),
        Input(ids.UPLOAD_PAYLOAD, "data"),
        State(ids.UPLOAD_DATUM, "value"),
        State(ids.PAGE_LANG, "data"),
        prevent_initial_call=True,
    )
    def receive(payload: dict[str, str] | None, datum: str | None,
                lang: str | None) -> tuple[Any, Any]:
        if not payload:
            return no_update, no_update
        return parse_upload(mapdata, payload, as_datum(datum), lang or "zh",
                            max_bytes=max_upload_bytes)

    @app.callback(
        Output(ids.UPLOADED, "data", allow_duplicate=True),
        Output(ids.UPLOAD_STATUS, "children", allow_duplicate=True),
        Output(ids.UPLOAD, "contents"),
        Input(ids.UPLOAD_CLEAR, "n_clicks"),
        prevent_initial_call=True,
    )
    def clear(_n: int | None) -> tuple[None, str, None]:
        return None, "", None


__all__ = ["MAX_UPLOAD_BYTES", "parse_upload", "register", "uploaded_facilities"]
