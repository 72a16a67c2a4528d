"""The Dash app factory: load the data once, build the display data, register callbacks."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from dash import Dash, Input, Output, set_props
from flask import Flask, Response
from flask_compress import Compress

from dashboard import auth, ids
from dashboard.callbacks import (
    cards,
    clusters,
    coverage,
    edit,
    export,
    filters,
    frame,
    page,
    review,
    scorecard,
    summary,
    timeline,
    upload,
    url,
)
from dashboard.callbacks import map as map_callbacks
from dashboard.components.map import DEFAULT_ZOOM
from dashboard.components.page import shell
from dashboard.mapdata import MapData
from geo.atlas import Atlas, load_atlas
from geo.ingest import MAX_UPLOAD_BYTES
from geo.query import Filter
from geo.store import Store
from geo.style import PALETTE, browser_style

ASSETS = Path(__file__).parent / "assets"


log = logging.getLogger("newtown")


def _show_error(err: Exception) -> None:
    """A failing callback tells the user and leaves every other part of the page working."""
    log.exception("callback failed", exc_info=err)
    set_props(ids.ERROR_NOTICE, {"children": f"出错了 / Something went wrong: "
                                             f"{type(err).__name__}: {err}"[:300]})


#: Code-split chunks that every first view needs (dropdowns, upload, GeoJSON layers, the draw
#: control, the as-of slider). Dash fetches them only after the first render, one after
#: another; a preload hint lets the browser fetch them alongside the main bundles instead.
PRELOAD_CHUNKS = (
    "dash/dcc/async-dropdown.js",
    "dash/dcc/async-upload.js",
    "dash/dcc/async-slider.js",
    "dash_leaflet/async-GeoJSON.js",
    "dash_leaflet/async-EditControl.ts.js",
)


def _style_blocks() -> str:
    """The shared map style (geo.style) for the page: the palette as CSS variables, and the
    whole style as JSON for assets/newtown.js. Our own constants, escaped for a script."""
    palette = "".join(f"--nt-{name}:{colour};" for name, colour in PALETTE.items())
    data = json.dumps(browser_style(), separators=(",", ":")).replace("</", "<\\/")
    return (f"<style>:root{{{palette}}}</style>\n"
            f"<script>window.newtownStyle = {data};</script>")


def _index_string(prefix: str) -> str:
    """Dash's page template, with the shared style and the preload hints after the
    stylesheets."""
    links = "\n".join(
        f'    <link rel="preload" as="script" href="{prefix}_dash-component-suites/{chunk}">'
        for chunk in PRELOAD_CHUNKS)
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n{%metas%}\n<title>{%title%}</title>\n"
        "{%favicon%}\n{%css%}\n" + _style_blocks()
        + "\n" + links + "\n</head>\n<body>\n{%app_entry%}\n"
        "<footer>\n{%config%}\n{%scripts%}\n{%renderer%}\n</footer>\n</body>\n</html>\n")


def warm_up(mapdata: MapData) -> None:
    """Prepare the display data and the unfiltered first view in each language (the page
    most users open), so the first user's first view is not the slow one."""
    _ = (mapdata.boundaries, mapdata.town_labels, mapdata.metric_xy, mapdata.colours,
         mapdata.tooltips)
    for lang in ("zh", "en"):
        filters.first_view(mapdata, Filter(), "wgs84", lang, DEFAULT_ZOOM)


def create_app(
    atlas: Atlas | None = None,
    *,
    data_dir: str | Path | None = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    store: Store | None = None,
    private: bool = False,
    on_change: Callable[[], int] | None = None,
    mapdata: MapData | None = None,
    warm: bool = True,
) -> Dash:
    """Build the app for an Atlas (loaded from ``data_dir`` or the bundled data if not given).

    Server-side data is read-only after this point; per-user state lives in the URL.

    With ``store`` (``newtown serve --store``; ``atlas`` is then that store's revision) the
    page gains sign-in (dashboard/auth.py) and the store's editing and review callbacks;
    ``private`` makes every page and callback need a signed-in user; ``on_change`` is called
    by a callback that committed a change: it makes the server swap to the new revision and
    returns it (dashboard/storeapp.py). Without a store the app is read-only as before.
    ``mapdata`` is the Atlas' display data when the caller has it already (a served store
    derives each revision's from the previous one: ``MapData.following``). ``warm=False``
    leaves :func:`warm_up` to the caller (a swap inside an editing callback does it after
    answering).
    """
    if atlas is None:
        atlas = load_atlas(data_dir) if mapdata is None else mapdata.atlas
    if mapdata is None:
        mapdata = MapData(atlas)
    elif mapdata.atlas is not atlas:
        raise ValueError("create_app: mapdata belongs to another Atlas")
    if warm:
        warm_up(mapdata)
    tianditu_key = os.environ.get("TIANDITU_KEY") or None
    app = Dash(
        __name__,
        on_error=_show_error,
        title="新城图谱 New Town Atlas",
        assets_folder=str(ASSETS),
        serve_locally=True,  # every script and stylesheet from this server: works offline
        suppress_callback_exceptions=True,  # the page is rendered from the URL by a callback
        update_title=None,  # type: ignore[arg-type]  # None turns the title off (Dash docs)
    )
    app.layout = shell
    app.index_string = _index_string(app.config.requests_pathname_prefix)
    Compress(app.server)
    page.register(app, mapdata, tianditu_key=tianditu_key, max_upload_bytes=max_upload_bytes,
                  store=store)
    filters.register(app, mapdata)
    url.register(app)
    frame.register(app)
    cards.register(app, mapdata)
    summary.register(app, mapdata)
    map_callbacks.register(app, mapdata, tianditu_key=tianditu_key)
    upload.register(app, mapdata, max_upload_bytes=max_upload_bytes)
    export.register(app, mapdata)
    clusters.register(app, mapdata)
    coverage.register(app, mapdata)
    scorecard.register(app, mapdata)
    timeline.register(app)
    if store is not None:
        review.register(app, store, on_change)
        edit.register(app, store, on_change=on_change)
    # Uploads are checked in the browser first; this caps what any request may carry.
    app.server.config["MAX_CONTENT_LENGTH"] = 2 * max_upload_bytes + 1_000_000

    # Click the error notice to dismiss it.
    app.clientside_callback(  # type: ignore[no-untyped-call]  # unannotated in Dash
        "function (n) { return ''; }",
                            Output(ids.ERROR_NOTICE, "children", allow_duplicate=True),
                            Input(ids.ERROR_NOTICE, "n_clicks"), prevent_initial_call=True)

    server: Flask = app.server
    if store is not None:
        auth.configure(server, store, private=private)

    @server.route("/healthz")
    def healthz() -> Response:
        return Response(f"ok {len(atlas.facilities)} facilities\n", mimetype="text/plain")

    return app
