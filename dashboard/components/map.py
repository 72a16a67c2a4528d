"""The map: basemap tiles, boundary layers, facilities, analysis layers and the draw control."""

from __future__ import annotations

import html as html_lib
from collections.abc import Sequence
from typing import Any

import dash_leaflet as dl
import numpy as np
from dash import dcc, html

from dashboard import ids
from dashboard.components import aria
from dashboard.i18n import t
from dashboard.mapdata import MapData
from dashboard.urlstate import PageState
from geo import catalog
from geo.crs import Datum
from geo.query import Filter
from geo.style import ANALYSIS_STYLES

STYLE_PRECISION = ANALYSIS_STYLES["precision"]

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


#: The Leaflet pane of the town labels (Leaflet names its element
#: ``leaflet-townlabels-pane``; newtown.css puts it above the markers).
TOWN_LABEL_PANE = "townlabels"

#: Map zoom of a page opened without a view in its URL (the five towns are then fitted).
DEFAULT_ZOOM = 9


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
        layers.append(dl.TileLayer(id=f"tiles-{basemap}-{i}", **spec))
    return layers


def town_label_markers(mapdata: MapData, datum: Datum, lang: str) -> list[dl.DivMarker]:
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
    return html.Div([html.Div(t("legend", lang), className="nt-label"), *rows], id=ids.LEGEND,
                    role="group", **aria(label=t("legend", lang)))



def precision_circle_layer(center: list[float], radius_m: float, lang: str) -> dl.Circle:
    """A dashed circle of a facility's coordinate precision: where it may really be."""
    style = STYLE_PRECISION
    return dl.Circle(
        center=center, radius=radius_m, interactive=False, className="precision-circle",
        color=str(style["color"]), weight=float(str(style["weight"])),
        dashArray=str(style["dashArray"]), fillOpacity=float(str(style["fillOpacity"])),
        children=dl.Tooltip(t("precision_m", lang, m=f"{radius_m:,.0f}")),
    )


def fit_bounds(mapdata: MapData, flt: Filter) -> list[list[float]]:
    """[[south, west], [north, east]] (WGS84) the map is fitted to for a filter.

    The towns the filter names and every facility it selects for them, so the associated
    facilities placed outside a boundary and the placeholders are in view too; with no town
    (or none known), all five towns and every facility.
    """
    bounds = mapdata.towns_bounds(flt.towns) if flt.towns else None
    if bounds is None:
        return mapdata.towns_view_bounds
    facilities = mapdata.atlas.facilities
    rows = np.flatnonzero(flt.mask(facilities))
    if len(rows):
        x = facilities.geometry.x.to_numpy()[rows]
        y = facilities.geometry.y.to_numpy()[rows]
        (south, west), (north, east) = bounds
        bounds = [[min(south, float(y.min())), min(west, float(x.min()))],
                  [max(north, float(y.max())), max(east, float(x.max()))]]
    return bounds


def fit_target(mapdata: MapData, flt: Filter, datum: Datum, *,
               transition: str = "flyToBounds") -> dict[str, object]:
    """What the map is fitted to (the MAP_FIT store): the filter's :func:`fit_bounds` in the
    display datum. The browser adds the padding of whatever covers the map (the drawers, the
    indicator cards) when it fits, and fits again when a drawer opens or closes."""
    return bounds_target(mapdata, fit_bounds(mapdata, flt), datum, transition=transition)


def bounds_target(mapdata: MapData, bounds: list[list[float]], datum: Datum, *,
                  transition: str = "flyToBounds") -> dict[str, object]:
    """A MAP_FIT target for WGS84 ``bounds`` [[s, w], [n, e]]: ``bounds`` in the display
    datum (what the browser fits), ``wgs84`` as given and the ``datum`` they are shown in,
    so a basemap switch can shift the same target to the new datum (:func:`target_in_datum`)."""
    return {"bounds": mapdata.shift_bounds(bounds, datum), "wgs84": bounds, "datum": datum,
            "transition": transition}


def target_in_datum(mapdata: MapData, target: dict[str, Any] | None,
                    datum: Datum) -> dict[str, object] | None:
    """The MAP_FIT target moved to another display datum (after a basemap switch), fitted
    without a flight and marked ``refit: "datum"`` (the browser then leaves a view the user
    moved alone); None when there is no target, or it is in that datum already."""
    if not target or not target.get("wgs84") or target.get("datum", "wgs84") == datum:
        return None
    return {**bounds_target(mapdata, target["wgs84"], datum, transition="fitBounds"),
            "refit": "datum"}


def map_view(mapdata: MapData, state: PageState) -> dict[str, object]:
    """Center and zoom from the URL, or (no view in the URL) the center of the filter's fit,
    which the browser then fits with the padding it measures (callbacks.map; a fit here too
    would race it: Leaflet ends a running zoom animation at that first target)."""
    if state.view:
        return {"center": [state.view[0], state.view[1]], "zoom": state.view[2]}
    (south, west), (north, east) = mapdata.shift_bounds(fit_bounds(mapdata, state.filter),
                                                        state.datum)
    return {"center": [(south + north) / 2, (west + east) / 2], "zoom": DEFAULT_ZOOM}


def fit_store(mapdata: MapData, state: PageState) -> dcc.Store:
    """The MAP_FIT store: the first view's fit target, none for a URL with its own view."""
    target = None if state.view else fit_target(mapdata, state.filter, state.datum,
                                                transition="fitBounds")
    return dcc.Store(id=ids.MAP_FIT, data=target)


def the_map(mapdata: MapData, state: PageState, *, tianditu_key: str | None,
            extra_overlays: Sequence[Any] = ()) -> dl.Map:
    """The Leaflet map with every layer, in the datum of the URL's basemap
    (``extra_overlays``: more ``dl.Overlay`` layers, e.g. a served store's proposals)."""
    lang, datum = state.lang, state.datum
    boundaries = mapdata.boundaries
    view = map_view(mapdata, state)
    return dl.Map(
        id=ids.MAP, **view, style={"height": "100%", "width": "100%"},
        preferCanvas=False, maxZoom=18, minZoom=7, zoomSnap=0.25, zoomDelta=0.5,
        children=[
            dl.LayerGroup(id=ids.TILES, children=tile_layers(state.basemap,
                                                             tianditu_key=tianditu_key)),
            dl.LayersControl(id=ids.LAYERS, collapsed=True, children=[
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
                    # Labels in their own pane above the markers' (see newtown.css):
                    # readable over facilities, and click-through (not interactive).
                    dl.Pane(dl.LayerGroup(id=ids.TOWN_LABELS,
                                          children=town_label_markers(mapdata, datum, lang)),
                            name=TOWN_LABEL_PANE),
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
                    id=ids.PLACEHOLDERS, data=None,
                    pointToLayer={"variable": "newtown.placeholderToLayer"},
                ), name=t("layer_placeholders", lang), checked=True),
                dl.Overlay(dl.GeoJSON(
                    id=ids.FACILITIES, data=None, cluster=True, zoomToBoundsOnClick=True,
                    superClusterOptions={"radius": 40, "maxZoom": 12},
                    pointToLayer={"variable": "newtown.pointToLayer"},
                    clusterToLayer={"variable": "newtown.clusterToLayer"},
                ), name=t("layer_facilities", lang), checked=True),
                *extra_overlays,
            ]),
            dl.LayerGroup(id=ids.SELECTED),
            dl.LayerGroup(id=ids.EDIT_LAYER),  # the Edit tab's draggable handle
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
