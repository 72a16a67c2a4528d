"""Page structure: the shell served at once, and the page built for a language and URL state."""

from __future__ import annotations

import html as html_lib

import dash_leaflet as dl
from dash import dcc, html

from dashboard import ids
from dashboard.callbacks.clusters import clusters_section
from dashboard.callbacks.coverage import coverage_section
from dashboard.callbacks.export import export_section
from dashboard.i18n import t
from dashboard.mapdata import MapData
from dashboard.urlstate import PageState, state_to_search
from geo import catalog
from geo.ingest import MAX_UPLOAD_BYTES

BASEMAP_TILES: dict[str, list[dict[str, object]]] = {
    "osm": [{"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "maxZoom": 19,
             "attribution": "© OpenStreetMap contributors"}],
    "carto": [{"url": "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png",
               "maxZoom": 19, "subdomains": "abcd",
               "attribution": "© OpenStreetMap contributors © CARTO"}],
    # Tianditu serves CGCS2000 tiles, which line up with WGS84 overlays to within centimetres.
    "tianditu": [
        {"url": "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                "&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
         "subdomains": "01234567", "maxZoom": 18, "attribution": "© 天地图 Tianditu"},
        {"url": "https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                "&VERSION=1.0.0&LAYER=cva&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
         "subdomains": "01234567", "maxZoom": 18},
    ],
    # AMap tiles are GCJ-02: overlays are shifted when this basemap is on.
    "amap": [{"url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                     "&style=8&x={x}&y={y}&z={z}",
              "subdomains": "1234", "maxZoom": 18, "attribution": "© 高德地图 AMap"}],
}


#: Map zoom of a page opened without a view in its URL (the five towns are then fitted).
DEFAULT_ZOOM = 9


def shell() -> html.Div:
    """What the server sends first: the page itself is rendered from the URL by a callback."""
    return html.Div([
        dcc.Location(id=ids.URL, refresh=False),
        dcc.Store(id=ids.PAGE_LANG),
        html.Div(id=ids.ERROR_NOTICE, className="nt-error", role="alert"),
        # Replaced by the page as soon as the first callback answers.
        html.Div(id=ids.PAGE, children=html.Div("新城图谱 · New Town Atlas …",
                                                 className="nt-boot")),
    ])


def _options(terms: dict[str, catalog.Term] | object, lang: str, *, swatch: bool = False,
             keys: tuple[str, ...] | None = None) -> list[dict[str, object]]:
    mapping = terms  # a catalog Mapping[str, Term]
    chosen = keys if keys is not None else tuple(mapping)  # type: ignore[arg-type]
    out = []
    for key in chosen:
        term = mapping[key]  # type: ignore[index]
        name = term.label(lang)
        label: object = name
        if swatch:
            label = html.Span([html.Span(className="swatch", style={"background": term.colour}),
                               name])
        out.append({"label": label, "value": key, "search": f"{term.zh} {term.en} {key}"})
    return out


def basemap_options(lang: str, *, tianditu_key: str | None) -> list[dict[str, str]]:
    names = ["none", "osm", "carto", *(["tianditu"] if tianditu_key else []), "amap"]
    return [{"label": t(f"basemap_{n}", lang), "value": n} for n in names]


def tile_layers(basemap: str, *, tianditu_key: str | None) -> list[dl.TileLayer]:
    """TileLayers for a basemap ("none": no tiles at all, so no request leaves the machine)."""
    if basemap == "tianditu" and not tianditu_key:
        return []
    layers = []
    for i, spec in enumerate(BASEMAP_TILES.get(basemap, [])):
        spec = dict(spec)
        spec["url"] = str(spec["url"]).replace("{key}", tianditu_key or "")
        layers.append(dl.TileLayer(id=f"tiles-{basemap}-{i}", **spec))  # type: ignore[arg-type]
    return layers


def town_label_markers(mapdata: MapData, datum: str, lang: str) -> list[dl.DivMarker]:
    return [
        dl.DivMarker(
            position=[lat, lon],
            iconOptions={"html": html_lib.escape(catalog.TOWNS[key].label(lang)),
                         "className": "town-label", "iconSize": None},
            interactive=False,
        )
        for key, lat, lon in mapdata.town_labels[datum]
    ]


def legend(lang: str) -> html.Div:
    rows = [html.Div([html.Span(className="swatch", style={"background": term.colour}),
                      term.label(lang)], className="legend-row")
            for term in (catalog.INDUSTRIES[k] for k in catalog.INDUSTRY_LAYERS)]
    return html.Div([html.Label(t("legend", lang), className="nt-label"), *rows], id=ids.LEGEND)


def upload_section(lang: str, max_upload_bytes: int) -> html.Div:
    """Drop zone, declared datum and the validation report for a user's own file."""
    mb = f"{max_upload_bytes / 2**20:.0f}"
    return html.Div([
        html.Label(t("upload", lang), className="nt-label"),
        dcc.Upload(id=ids.UPLOAD, children=html.Div(t("upload_hint", lang, mb=mb)),
                   className="nt-upload", multiple=False,
                   accept=".csv,.txt,.xlsx,.geojson,.json,.gpkg,.zip"),
        html.Label(t("upload_datum", lang), htmlFor=ids.UPLOAD_DATUM, className="nt-note"),
        dcc.RadioItems(id=ids.UPLOAD_DATUM, value="wgs84", inline=True, className="nt-radio-inline",
                       options=[{"label": "WGS84", "value": "wgs84"},
                                {"label": "GCJ-02", "value": "gcj02"},
                                {"label": "BD-09", "value": "bd09"}]),
        dcc.Loading(html.Div(id=ids.UPLOAD_STATUS, className="nt-note"), type="dot"),
        html.Button(t("upload_clear", lang), id=ids.UPLOAD_CLEAR, className="reset"),
        dcc.Store(id=ids.UPLOAD_PAYLOAD, storage_type="memory"),
        # The size check runs in the browser (an oversize file gets a message, not a silent
        # rejection), so the limit travels with the page.
        dcc.Store(id=ids.UPLOAD_LIMIT, data=max_upload_bytes),
        dcc.Store(id=ids.UPLOADED, storage_type="memory"),
    ])


def page(
    mapdata: MapData,
    state: PageState,
    *,
    tianditu_key: str | None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> html.Div:
    """The whole page for one language, with controls set from the URL state."""
    lang, flt, datum = state.lang, state.filter, state.datum
    if state.view:
        view: dict[str, object] = {"center": [state.view[0], state.view[1]],
                                   "zoom": state.view[2]}
    else:  # fit all five towns; center and zoom are still given for dash-leaflet's tracking
        (south, west), (north, east) = mapdata.towns_view_bounds
        view = {"center": [(south + north) / 2, (west + east) / 2], "zoom": DEFAULT_ZOOM,
                "viewport": {"bounds": mapdata.towns_view_bounds, "transition": "fitBounds"}}
    other = "en" if lang == "zh" else "zh"
    switch_href = state_to_search(
        PageState(filter=flt, lang=other, basemap=state.basemap, view=state.view)) or "?"
    boundaries = mapdata.boundaries
    header = html.Div([
        html.H1(t("title", lang)),
        html.Span(t("subtitle", lang), className="sub"),
        html.A(t("switch_lang", lang), id=ids.LANG_LINK, href=switch_href),
    ], className="nt-header")

    def dropdown(component_id: str, label_key: str, options: list, value: tuple[str, ...]):
        return html.Div([
            html.Label(t(label_key, lang), htmlFor=component_id, className="nt-label"),
            dcc.Dropdown(id=component_id, options=options, value=list(value), multi=True,
                         placeholder=t("all", lang)),
        ])

    side = html.Div([
        html.Div(t("filters", lang), className="nt-count"),
        dropdown(ids.TOWN, "town", _options(catalog.TOWNS, lang), flt.towns),
        dropdown(ids.INDUSTRY, "industry",
                 _options(catalog.INDUSTRIES, lang, swatch=True, keys=catalog.INDUSTRY_LAYERS)
                 + _options(catalog.INDUSTRIES, lang, keys=tuple(
                     k for k in catalog.INDUSTRIES if k not in catalog.INDUSTRY_LAYERS)),
                 flt.industries),
        dropdown(ids.CATEGORY, "category", _options(catalog.CATEGORIES, lang), flt.categories),
        dropdown(ids.LEVEL, "level", _options(catalog.LEVELS, lang), flt.levels),
        dropdown(ids.STATUS, "status", _options(catalog.STATUSES, lang), flt.statuses),
        html.Label(t("search", lang), htmlFor=ids.SEARCH, className="nt-label"),
        dcc.Input(id=ids.SEARCH, type="search", value=flt.text, debounce=0.4,
                  style={"width": "100%"}),
        html.Button(t("reset", lang), id=ids.RESET, className="reset"),
        dcc.Loading(html.Div(id=ids.COUNT, className="nt-count"), type="dot"),
        html.Div(t("draw_hint", lang), className="nt-note"),
        html.Button(t("clear_area", lang), id=ids.CLEAR_AREA, className="reset"),
        html.Div(id=ids.DRAWN_NOTE, className="nt-note warn"),
        dcc.Store(id=ids.DRAWN_AREA, data=flt.to_params().get("within")),
        html.Label(t("basemap", lang), htmlFor=ids.BASEMAP, className="nt-label"),
        dcc.RadioItems(id=ids.BASEMAP, value=state.basemap, className="nt-radio",
                       options=basemap_options(lang, tianditu_key=tianditu_key)),
        legend(lang),
        upload_section(lang, max_upload_bytes),
        html.Div(t("boundary_note", lang), className="nt-note"),
        *[html.Div(n, className="nt-note warn") for n in state.notices],
    ], className="nt-side")

    the_map = dl.Map(
        id=ids.MAP, **view, style={"height": "100%", "width": "100%"},
        preferCanvas=False, maxZoom=18, minZoom=7, zoomSnap=0.25, zoomDelta=0.5,
        children=[
            dl.LayerGroup(id=ids.TILES, children=tile_layers(state.basemap,
                                                             tianditu_key=tianditu_key)),
            dl.LayersControl(id=ids.LAYERS, collapsed=False, children=[
                dl.Overlay(dl.GeoJSON(id=ids.DISTRICTS, data=boundaries["districts"][datum],
                                      style={"variable": "newtown.districtStyle"}),
                           name=t("layer_districts", lang), checked=True),
                dl.Overlay(dl.GeoJSON(id=ids.CORRIDOR, data=boundaries["corridors"][datum],
                                      style={"variable": "newtown.corridorStyle"}),
                           name=t("layer_corridor", lang), checked=True),
                dl.Overlay(dl.GeoJSON(id=ids.CORRIDOR_LINE,
                                      data=boundaries["corridor_lines"][datum],
                                      style={"variable": "newtown.corridorLineStyle"}),
                           name=t("layer_g60_line", lang), checked=True),
                dl.Overlay(dl.GeoJSON(id=ids.ZONE, data=boundaries["zones"][datum],
                                      style={"variable": "newtown.zoneStyle"}),
                           name=t("layer_zone", lang), checked=True),
                dl.Overlay(dl.LayerGroup([
                    dl.GeoJSON(id=ids.TOWNS, data=boundaries["towns"][datum],
                               style={"variable": "newtown.townStyle"}),
                    dl.LayerGroup(id=ids.TOWN_LABELS,
                                  children=town_label_markers(mapdata, datum, lang)),
                ]), name=t("layer_towns", lang), checked=True),
                dl.Overlay(dl.LayerGroup([
                    dl.GeoJSON(id=ids.COV_LAYER, style={"variable": "newtown.coveredStyle"}),
                    dl.GeoJSON(id=ids.COV_GAPS, style={"variable": "newtown.gapStyle"}),
                    dl.GeoJSON(id=ids.COV_SITES,
                               pointToLayer={"variable": "newtown.sitePointToLayer"}),
                    dl.GeoJSON(id=ids.CL_DENSITY, style={"variable": "newtown.resultStyle"}),
                    dl.GeoJSON(id=ids.CL_HOTSPOTS, style={"variable": "newtown.resultStyle"}),
                    dl.GeoJSON(id=ids.CL_HULLS, style={"variable": "newtown.hullStyle"}),
                ]), name=t("layer_analysis", lang), checked=True),
                dl.Overlay(dl.LayerGroup([
                    dl.GeoJSON(id=ids.UPLOADED_BOUNDARIES, data=None,
                               style={"variable": "newtown.uploadedBoundaryStyle"}),
                    dl.GeoJSON(id=ids.UPLOADED_FACILITIES, data=None,
                               pointToLayer={"variable": "newtown.uploadedPointToLayer"}),
                ]), name=t("layer_uploaded", lang), checked=True),
                dl.Overlay(dl.GeoJSON(id=ids.AGGREGATE, style={"variable": "newtown.aggStyle"},
                                      onEachFeature={"variable": "newtown.aggLabel"}),
                           name=t("layer_aggregate", lang), checked=True),
                dl.Overlay(dl.GeoJSON(
                    id=ids.FACILITIES, data=None, cluster=True, zoomToBoundsOnClick=True,
                    superClusterOptions={"radius": 40, "maxZoom": 12},
                    pointToLayer={"variable": "newtown.pointToLayer"},
                    clusterToLayer={"variable": "newtown.clusterToLayer"},
                ), name=t("layer_facilities", lang), checked=True),
            ]),
            dl.LayerGroup(id=ids.SELECTED),
            dl.FeatureGroup([dl.EditControl(
                id=ids.DRAW, position="topright",
                draw={"polyline": False, "marker": False, "circle": False,
                      "circlemarker": False, "polygon": True, "rectangle": True},
                # Shapes leave the control once captured (the drawn-area layer shows them in
                # the basemap's datum). The remove tool stays: it is what empties the control.
                edit={"edit": False},
            )]),
            dl.GeoJSON(id=ids.DRAWN_LAYER, style={"variable": "newtown.drawnAreaStyle"},
                       interactive=False),
            dl.ScaleControl(position="bottomleft", imperial=False),
        ],
    )
    center = html.Div([
        the_map,
        html.Div(id=ids.MAP_NOTE, className="nt-mapnote"),
        html.Div(id=ids.DATUM_NOTE, className="nt-datum",
                 children=t("datum", lang, datum=t(f"datum_{datum}", lang))),
    ], className="nt-map")

    right = html.Div([
        html.H3(t("details", lang)),
        dcc.Loading(html.Div(t("details_hint", lang), id=ids.DETAILS), type="dot"),
        html.H3(t("summary", lang)),
        html.Div(t("summary_caption", lang), className="nt-note"),
        dcc.Loading(html.Div(id=ids.SUMMARY_TABLE), type="dot"),
        # The chart loads plotly.js (4.8 MB), so it is drawn only when the user asks: the
        # first load stays small and fast.
        html.Button(t("show_chart", lang), id=ids.SUMMARY_TOGGLE, className="reset"),
        dcc.Loading(html.Div(id=ids.SUMMARY_HOLDER), type="dot"),
        dcc.Store(id=ids.SUMMARY_FIGURE),
        coverage_section(lang),
        clusters_section(lang),
        export_section(lang),
    ], className="nt-right")
    return html.Div([header, html.Div([side, center, right], className="nt-main")],
                    lang="zh-CN" if lang == "zh" else "en")
