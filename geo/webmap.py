"""Build a standalone HTML map (folium, every script and style inlined) of exported layers.

The page shows the same layers, colours and wording as the dashboard (both read
:mod:`geo.style`): districts, the
approximate new-town boundaries with their labels, the schematic G60 corridor and Nanhui zone,
and the facilities as circle markers coloured by their first industry layer, clustered when
zoomed out. A legend lists the industry layers with swatches and counts, says that town
boundaries are approximate and the corridor/zone schematic, and gives the CRS and the filter.

It opens with no internet. folium's default page loads Leaflet, jQuery, Bootstrap, Font
Awesome and Leaflet.awesome-markers from CDNs; here those links are dropped and Leaflet 1.9 and
Leaflet.markercluster are inlined from the installed ``xstatic-leaflet`` and
``xstatic-leaflet-markercluster`` packages (their CSS images become ``data:`` URIs). jQuery,
Bootstrap and awesome-markers are not needed: facilities are ``L.circleMarker``\\ s and clusters
use markercluster's plain default icon.

Base layers: the default is a blank background ("none (offline)"), so opening the file makes no
request at all. An OpenStreetMap base layer is offered as a second, non-default choice
(``online_basemap=True``, the default); its tile URL template sits inside the script and tiles
are fetched only when a user picks it. Pass ``online_basemap=False`` for a file that holds no
external URL whatsoever.

Escaping: folium's ``Popup``/``Tooltip`` put their text into a JavaScript template literal
without HTML escaping, and branca elements are Jinja templates (a name containing ``{{ }}``
would be evaluated). So no text from the data goes through either: all of it travels as one
JSON document in ``<script type="application/json">`` (with ``<``, ``>`` and ``&`` written as
``\\u003c``...) and the page builds popups and tooltips with ``textContent``. A facility named
``<img src=x onerror=alert(1)>`` is shown as those characters and never parsed as HTML.

Facility popups are built on demand from compact columns (repeated values stored once), which
keeps 1e5 facilities to a file of a few tens of MB that a browser opens in seconds.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cache
from importlib import import_module
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import catalog
from geo._errors import InputError
from geo.crs import to_metric
from geo.settings import GEOGRAPHIC_CRS, SHANGHAI_BBOX
from geo.style import (
    DEFAULT_COLOUR,
    FACILITY_MARKER,
    LAYER_LABELS,
    LAYER_STYLES,
    SIMPLIFY_M,
    SIMPLIFY_OTHER_M,
)

__all__ = [
    "DEFAULT_COLOUR",
    "FACILITY_MARKER",
    "LANGS",
    "LAYER_LABELS",
    "LAYER_ORDER",
    "LAYER_STYLES",
    "OSM_TILE_URL",
    "SIMPLIFY_M",
    "build_webmap",
    "caveat_text",
    "check_map_layers",
    "default_title",
    "facility_colours",
    "layer_label",
]

LANGS: Final = ("zh", "en")

#: Tile URL of the optional, non-default online base layer.
OSM_TILE_URL: Final = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
_OSM_ATTRIBUTION: Final = "&copy; OpenStreetMap contributors"

#: Drawing order, bottom to top; layers with other names are drawn between zones and towns.
LAYER_ORDER: Final = ("city", "districts", "corridors", "corridor_lines", "zones", "towns",
                      "within", "facilities")
_DECIMALS: Final = 6  # ~0.1 m, plenty for a screen
# Colours, path options, simplification and layer names: geo.style (one copy for every map).

_TEXT: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "title": ("新城图谱 · 上海五个新城", "New Town Atlas · Shanghai's Five New Towns"),
        "legend": ("产业图层", "Industry layers"),
        "other_layers": ("其他图层", "Other layers"),
        "basemap_none": ("无底图（离线）", "No basemap (offline)"),
        "basemap_osm": ("OpenStreetMap（需联网）", "OpenStreetMap (online)"),
        "caveat": ("新城边界为依据公开描述数字化的近似范围，非测绘成果；"
                   "G60科创走廊与南汇未来产业先导区为示意范围。",
                   "Town boundaries are approximate digitisations of published descriptions, "
                   "not surveys; the G60 corridor and the Nanhui zone are schematic."),
        "crs": ("坐标系：WGS84（EPSG:4326）；距离与面积按 EPSG:4549 计算。",
                "Coordinates: WGS84 (EPSG:4326); distances and areas in EPSG:4549."),
        "offline": ("默认无底图，离线可用；OpenStreetMap 底图需联网。",
                    "No basemap by default (works offline); the OpenStreetMap basemap needs "
                    "internet."),
        "offline_only": ("无底图，离线可用。", "No basemap: works offline."),
        "filter": ("筛选", "Filter"),
        "no_filter": ("无（全部设施）", "none (all facilities)"),
        "exported": ("导出时间", "Exported"),
        "shown": ("显示 {n} 个设施", "{n} facilities shown"),
        "sources": ("资料来源见各设施弹窗及同名 .meta.json 文件。",
                    "Each facility's source is in its popup; full details in the .meta.json "
                    "file."),
        "drawn": ("绘制区域", "drawn area"),
        "empty": ("当前选择没有设施。", "No facility matches the selection."),
        "precision": ("约 ±{m} 米", "about ±{m} m"),
        "yes": ("是", "yes"),
        "no": ("否（位于边界外）", "no (outside the boundary)"),
        "area": ("{a} 平方公里", "{a} km²"),
        # popup fields
        "f_id": ("编号", "ID"),
        "f_name_zh": ("中文名称", "Name (zh)"),
        "f_name_en": ("英文名称", "Name (en)"),
        "f_category": ("类别", "Category"),
        "f_industries": ("产业", "Industries"),
        "f_town": ("所属新城", "New town"),
        "f_district": ("所在区", "District"),
        "f_level": ("级别", "Level"),
        "f_status": ("状态", "Status"),
        "f_year": ("年份", "Year"),
        "f_address": ("地址", "Address"),
        "f_coord": ("坐标（WGS84）", "Coordinates (WGS84)"),
        "f_precision": ("坐标精度", "Coordinate precision"),
        "f_coord_source": ("坐标来源", "Coordinate source"),
        "f_source": ("资料来源", "Source"),
        "f_in_town": ("是否位于新城边界内", "Inside its town's boundary"),
        "f_quality": ("边界性质", "Boundary"),
        "f_area": ("面积", "Area"),
        "f_official_area": ("官方面积", "Official area"),
        "f_note": ("说明", "Note"),
    }
)


def _t(key: str, lang: str, **values: object) -> str:
    zh, en = _TEXT[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text


def default_title(lang: str = "zh") -> str:
    """The map title used when none is given."""
    return _t("title", lang)


def caveat_text(lang: str = "zh") -> str:
    """The 'approximate boundaries / schematic corridor and zone' note shown on every map."""
    return _t("caveat", lang)


def layer_label(name: str, lang: str = "zh") -> str:
    """Display name of a layer (its key when the layer is not one of the project's)."""
    zh, en = LAYER_LABELS.get(name, (name, name))
    return en if lang == "en" else zh


def check_map_layers(
    layers: Mapping[str, gpd.GeoDataFrame], *, lang: str
) -> dict[str, gpd.GeoDataFrame]:
    """Check the input of a map builder; return the layers in drawing order.

    Raises ValueError (TypeError for a non-GeoDataFrame) naming the layer and what is expected.
    """
    if lang not in LANGS:
        raise InputError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    if not layers:
        raise InputError("nothing to draw: no layers given")
    for name, gdf in layers.items():
        if not isinstance(gdf, gpd.GeoDataFrame):
            raise TypeError(f"layer {name!r} should be a GeoDataFrame, got {type(gdf)}")
        if gdf.crs is None or gdf.crs.to_epsg() != 4326:
            got = "no CRS" if gdf.crs is None else repr(gdf.crs.to_string())
            raise InputError(f"layer {name!r} must be in {GEOGRAPHIC_CRS} (WGS84 lon/lat), got "
                             f"{got}; reproject it with .to_crs(4326) first")
    known = [n for n in LAYER_ORDER if n in layers]
    others = [n for n in layers if n not in LAYER_ORDER]
    order = [n for n in known if LAYER_ORDER.index(n) < LAYER_ORDER.index("towns")]
    order += others + [n for n in known if n not in order]
    return {name: layers[name] for name in order}


def facility_colours(facilities: pd.DataFrame) -> pd.Series:
    """Marker colour per facility: the colour of its first industry layer (the dashboard's rule).

    Uses the ``layers`` column when present, else derives the layers from ``industries``;
    unknown or missing industries give :data:`DEFAULT_COLOUR`. Keeps the input index.
    """
    return _first_layers(facilities).map(
        lambda key: catalog.INDUSTRIES[key].colour if key in catalog.INDUSTRIES
        else DEFAULT_COLOUR)


def _first_layers(facilities: pd.DataFrame) -> pd.Series:
    return facility_layers(facilities).map(lambda layers: layers[0] if layers else "")


def facility_layers(facilities: pd.DataFrame) -> pd.Series:
    """Top-level industry layers per facility, as tuples, on the input index."""
    if "layers" in facilities.columns:
        source, roll_up = facilities["layers"], False
    elif "industries" in facilities.columns:
        source, roll_up = facilities["industries"], True
    else:
        return pd.Series([()] * len(facilities), index=facilities.index, dtype=object)

    def parse(value: object) -> tuple[str, ...]:
        keys = _split_keys(value)
        if roll_up:
            keys = [catalog.industry_layer(k) if k in catalog.INDUSTRIES else k for k in keys]
        return tuple(dict.fromkeys(keys))

    return source.map(parse)


def _split_keys(value: object) -> list[str]:
    if isinstance(value, str):
        return [k.strip() for k in value.split(";") if k.strip()]
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return [str(k) for k in value]
    return []


# -- text of cells ------------------------------------------------------------------------------


def _text(value: object) -> str:
    """Plain text of one attribute value ('' for missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.6g}"
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return "; ".join(_text(v) for v in value)
    return str(value)


def _term_label(mapping: Mapping[str, catalog.Term], value: object, lang: str) -> str:
    text = _text(value)
    return mapping[text].label(lang) if text in mapping else text


def _column(values: Sequence[str]) -> dict[str, list[Any]]:
    """A JSON column: ``{"v": values}``, or ``{"d": distinct, "c": codes}`` when values repeat."""
    codes, distinct = pd.factorize(pd.Series(list(values), dtype=object), sort=False)
    if len(distinct) * 2 <= len(values):
        return {"d": [str(v) for v in distinct], "c": codes.tolist()}
    return {"v": list(values)}


# -- layer payloads -----------------------------------------------------------------------------


def _facility_payload(frame: gpd.GeoDataFrame, lang: str) -> tuple[dict[str, Any], int]:
    """Columns the page needs to draw and describe the facilities; also the count drawn."""
    geoms = frame.geometry
    drawable = (geoms.notna() & ~geoms.is_empty).to_numpy().copy()
    points = np.asarray(geoms.to_numpy()[drawable])
    if len(points) and not (shapely.get_type_id(points) == 0).all():
        points = shapely.point_on_surface(points)  # a facility drawn as an area: mark its inside
    finite = np.isfinite(shapely.get_x(points)) & np.isfinite(shapely.get_y(points))
    points = points[finite]
    drawable[np.flatnonzero(drawable)[~finite]] = False
    data = frame.loc[drawable]
    n = len(data)
    lon = np.round(shapely.get_x(points), _DECIMALS) if n else np.array([])
    lat = np.round(shapely.get_y(points), _DECIMALS) if n else np.array([])

    def col(name: str, render: Callable[[object], str] = _text) -> list[str]:
        if name not in data.columns:
            return [""] * n
        return [render(v) for v in data[name].astype(object)]

    name_zh, name_en = col("name_zh"), col("name_en")
    if not any(name_zh) and "name" in data.columns:
        name_zh = col("name")
    main = name_en if lang == "en" else name_zh
    other = name_zh if lang == "en" else name_en
    ids = col("id")
    title = [m or o or i for m, o, i in zip(main, other, ids, strict=True)]
    subtitle = [o if o != t else "" for o, t in zip(other, title, strict=True)]

    def industries(value: object) -> str:
        sep = ", " if lang == "en" else "、"
        return sep.join(_term_label(catalog.INDUSTRIES, k, lang) for k in _split_keys(value))

    def precision(value: object) -> str:
        text = _text(value)
        return _t("precision", lang, m=text) if text else ""

    def in_town(value: object) -> str:
        if value is None or value is pd.NA:
            return ""
        return _t("yes", lang) if bool(value) else _t("no", lang)

    rows: list[tuple[str, list[str]]] = [
        ("f_id", ids),
        ("f_category", col("category", lambda v: _term_label(catalog.CATEGORIES, v, lang))),
        ("f_industries", col("industries", industries)),
        ("f_town", col("town", lambda v: _term_label(catalog.TOWNS, v, lang))),
        ("f_district", col("district")),
        ("f_level", col("level", lambda v: _term_label(catalog.LEVELS, v, lang))),
        ("f_status", col("status", lambda v: _term_label(catalog.STATUSES, v, lang))),
        ("f_year", col("year", lambda v: _text(v).replace(",", ""))),
        ("f_address", col("address")),
        ("f_precision", col("coord_precision_m", precision)),
        ("f_coord_source", col("coord_source")),
        ("f_source", col("source")),
        ("f_in_town", col("in_town", in_town)),
    ]
    colours = facility_colours(data).tolist() if n else []
    payload = {
        "kind": "facilities",
        "n": n,
        "lon": lon.tolist(),
        "lat": lat.tolist(),
        "colour": _column(colours),
        "title": _column(title),
        "subtitle": _column(subtitle),
        "coord_label": _t("f_coord", lang),
        "fields": [[_t(key, lang), _column(values)] for key, values in rows if any(values)],
        "marker": dict(FACILITY_MARKER),
    }
    return payload, n


_BOUNDARY_FIELDS: Final = (
    ("f_quality", "boundary_quality"),
    ("f_district", "district"),
    ("f_official_area", "official_area_km2"),
    ("f_area", "area_km2"),
    ("f_note", "note"),
    ("f_source", "source"),
)
_MAX_GENERIC_FIELDS: Final = 20


def _shape_payload(name: str, frame: gpd.GeoDataFrame, lang: str) -> tuple[dict[str, Any], int]:
    """GeoJSON of a boundary (or any other) layer with ready-made tooltip and popup texts."""
    frame = frame.loc[frame.geometry.notna() & ~frame.geometry.is_empty]
    geoms = frame.geometry.to_numpy()
    tolerance = SIMPLIFY_M.get(name, SIMPLIFY_OTHER_M)
    if len(frame) and tolerance > 0 and not (shapely.get_type_id(geoms) == 0).all():
        metric = to_metric(gpd.GeoSeries(geoms, crs=frame.crs))
        geoms = metric.simplify(tolerance, preserve_topology=True).to_crs(frame.crs).to_numpy()
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, _DECIMALS))
    known = name in LAYER_LABELS
    features, labels = [], []
    for (_, row), geom in zip(frame.iterrows(), geoms, strict=True):
        zh, en = _text(row.get("name_zh")), _text(row.get("name_en"))
        plain = _text(row.get("name")) or _text(row.get("label")) or _text(row.get("key"))
        main = (en or zh or plain) if lang == "en" else (zh or en or plain)
        other = zh if lang == "en" else en
        props: dict[str, Any] = {"t": main, "h": main, "s": other if other != main else ""}
        if known:
            fields = [(_t(key, lang), _boundary_value(column, row.get(column), lang))
                      for key, column in _BOUNDARY_FIELDS]
        else:
            fields = [(str(column), _text(row[column])) for column in frame.columns
                      if column != frame.geometry.name][:_MAX_GENERIC_FIELDS]
        props["p"] = [[label, value] for label, value in fields if value]
        key = _text(row.get("key"))
        if name == "towns" and key in catalog.TOWNS:
            props["c"] = catalog.TOWNS[key].colour
            point = shapely.get_coordinates(row.geometry.representative_point())[0]
            labels.append([round(float(point[1]), _DECIMALS), round(float(point[0]), _DECIMALS),
                           main, catalog.TOWNS[key].colour])
        features.append({"type": "Feature", "properties": props,
                         "geometry": json.loads(shapely.to_geojson(geom))})
    style = dict(LAYER_STYLES.get(name, LAYER_STYLES["other"]))
    return {"kind": "shapes", "style": style, "labels": labels,
            "geojson": {"type": "FeatureCollection", "features": features}}, len(features)


def _boundary_value(column: str, value: object, lang: str) -> str:
    text = _text(value)
    if not text:
        return ""
    if column in {"area_km2", "official_area_km2"} and isinstance(value, (int, float)):
        return _t("area", lang, a=f"{float(value):,.1f}")
    if column == "boundary_quality" and lang == "zh":
        return {"approximate": "近似", "schematic": "示意"}.get(text, text)
    return text


# -- metadata -----------------------------------------------------------------------------------


def filter_params(metadata: Mapping[str, object]) -> dict[str, str]:
    flt: Any = metadata.get("filter") or {}
    if hasattr(flt, "to_params"):
        flt = flt.to_params()
    if not isinstance(flt, Mapping):
        return {}
    return {str(k): _text(v) for k, v in flt.items() if _text(v)}


def within_layer(params: Mapping[str, str]) -> gpd.GeoDataFrame | None:
    """The filter's drawn area as a layer, when the filter has one."""
    if not params.get("within"):
        return None
    from geo.query import Filter  # a light import, but only needed here

    area = Filter.from_params({"within": params["within"]}).within
    if area is None:
        return None
    return gpd.GeoDataFrame({"name_zh": ["绘制区域"], "name_en": ["Drawn area"]},
                            geometry=[area], crs=GEOGRAPHIC_CRS)


def filter_summary(params: Mapping[str, str], lang: str) -> str:
    if not params:
        return _t("no_filter", lang)
    parts = [f"{k}={v}" for k, v in params.items() if k != "within"]
    if "within" in params:
        parts.append(_t("drawn", lang))
    return "; ".join(parts)


def exported_at_label(metadata: Mapping[str, object]) -> str:
    value = metadata.get("exported_at")
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if value:
        return str(value)
    return datetime.now().astimezone().isoformat(timespec="seconds")


# -- inlined assets -----------------------------------------------------------------------------


@cache
def _asset_dir(package: str) -> Path:
    module = import_module(f"xstatic.pkg.{package}")
    return Path(module.BASE_DIR)


def _read_asset(package: str, name: str) -> str:
    path = _asset_dir(package) / name
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RuntimeError(f"{path} is missing: reinstall xstatic-{package.replace('_', '-')}"
                           ) from exc


_SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=.*$", re.MULTILINE)
_CSS_IMAGE = re.compile(r"url\((['\"]?)(images/[A-Za-z0-9_.\-]+\.png)\1\)")


def _inline_js(text: str) -> str:
    text = _SOURCE_MAP.sub("", text)
    if re.search(r"</script", text, re.IGNORECASE):  # would end the inline block early
        raise RuntimeError("an inlined script contains '</script'; cannot inline it safely")
    return text


def _inline_css(package: str, text: str) -> str:
    def data_uri(match: re.Match[str]) -> str:
        raw = (_asset_dir(package) / match.group(2)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(raw).decode('ascii')})"

    text = _CSS_IMAGE.sub(data_uri, text)
    if re.search(r"</style", text, re.IGNORECASE):
        raise RuntimeError("an inlined stylesheet contains '</style'; cannot inline it safely")
    return text


@cache
def _inlined_head() -> str:
    """<style>/<script> blocks for Leaflet and Leaflet.markercluster, read once per process."""
    leaflet_js = _read_asset("leaflet", "leaflet.js")
    # Leaflet's attribution prefix links to leafletjs.com; keep the credit, drop the link, so
    # the file holds no external address the page could be told to follow or load.
    leaflet_js = leaflet_js.replace('<a href="https://leafletjs.com" ', "<a ", 1)
    parts = [
        f"<style>{_inline_css('leaflet', _read_asset('leaflet', 'leaflet.css'))}</style>",
        "<style>" + _inline_css("leaflet_markercluster",
                                _read_asset("leaflet_markercluster", "MarkerCluster.css"))
        + _inline_css("leaflet_markercluster",
                      _read_asset("leaflet_markercluster", "MarkerCluster.Default.css"))
        + "</style>",
        f"<script>{_inline_js(leaflet_js)}</script>",
        "<script>"
        + _inline_js(_read_asset("leaflet_markercluster", "leaflet.markercluster.js"))
        + "</script>",
        f"<style>{_PAGE_CSS}</style>",
        f"<script>{_RUNTIME_JS}</script>",
    ]
    return "\n".join(parts)


def _json_for_script(doc: object) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&', no raw U+2028/U+2029.

    NaN and infinities (not JSON) become null; other non-JSON values become their str().
    """
    text = json.dumps(_finite(doc), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False, default=str)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _finite(value: object) -> object:
    """``value`` with every NaN/inf float (at any depth) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


_PAGE_CSS: Final = """
html, body { font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
.folium-map { background: #f4f3ef; }
.nt-panel { position: fixed; z-index: 1000; background: rgba(255,255,255,0.94);
  border-radius: 4px; box-shadow: 0 1px 5px rgba(0,0,0,0.35); padding: 8px 10px;
  font-size: 12px; line-height: 1.45; color: #222; }
.nt-title { top: 10px; left: 56px; max-width: calc(100% - 330px); }
.nt-title h1 { font-size: 16px; margin: 0 0 2px 0; }
.nt-title div { color: #555; }
.nt-legend { bottom: 24px; right: 10px; max-width: 330px; max-height: 60vh; overflow-y: auto;
  font-size: 11px; }
.nt-legend summary { font-weight: bold; font-size: 12px; cursor: pointer; margin: 2px 0; }
.nt-legend .grid { display: grid; grid-template-columns: 1fr 1fr; column-gap: 10px; }
.nt-legend .row { display: flex; align-items: center; gap: 5px; }
.nt-legend .dot { width: 11px; height: 11px; border-radius: 50%; border: 1px solid #fff;
  box-shadow: 0 0 0 1px #999; flex: none; }
.nt-legend .line { width: 18px; height: 0; border-top: 2.5px solid; flex: none; }
.nt-legend .note { color: #555; margin-top: 6px; }
.nt-legend .warn { color: #8a4b00; }
.nt-popup { max-width: 340px; }
.nt-popup-title { font-weight: bold; font-size: 13px; }
.nt-popup-sub { color: #555; margin-bottom: 4px; }
.nt-popup table { border-collapse: collapse; font-size: 12px; }
.nt-popup th { text-align: left; vertical-align: top; color: #555; font-weight: normal;
  padding: 1px 8px 1px 0; white-space: nowrap; }
.nt-popup td { padding: 1px 0; word-break: break-word; }
.nt-town-label { background: transparent; border: 0; }
.nt-town-label span { display: inline-block; transform: translate(-50%, -50%);
  white-space: nowrap; font-weight: bold; font-size: 13px; text-shadow: 0 0 3px #fff,
  0 0 3px #fff, 0 0 3px #fff; }
"""

# The page's own script. Text from the data only ever reaches the DOM through textContent.
_RUNTIME_JS: Final = r"""
(function () {
  "use strict";
  var cache = null;
  function data() {
    if (cache === null) {
      cache = JSON.parse(document.getElementById("newtown-data").textContent);
    }
    return cache;
  }
  function cell(col, i) { return col.v ? col.v[i] : col.d[col.c[i]]; }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function popup(title, subtitle, rows) {
    var box = el("div", "nt-popup");
    box.appendChild(el("div", "nt-popup-title", title));
    if (subtitle) { box.appendChild(el("div", "nt-popup-sub", subtitle)); }
    var table = el("table");
    rows.forEach(function (row) {
      if (row[1] === "" || row[1] === null || row[1] === undefined) { return; }
      var tr = el("tr");
      tr.appendChild(el("th", null, row[0]));
      tr.appendChild(el("td", null, row[1]));
      table.appendChild(tr);
    });
    box.appendChild(table);
    return box;
  }
  function facilities(spec) {
    var group = L.markerClusterGroup({
      chunkedLoading: true, maxClusterRadius: 40, disableClusteringAtZoom: 13,
      showCoverageOnHover: false, spiderfyOnMaxZoom: true
    });
    var describe = function (layer) {
      var i = layer.ntIndex;
      var rows = spec.fields.map(function (f) { return [f[0], cell(f[1], i)]; });
      rows.splice(Math.min(rows.length, 9), 0,
                  [spec.coord_label, spec.lon[i].toFixed(6) + ", " + spec.lat[i].toFixed(6)]);
      return popup(cell(spec.title, i), cell(spec.subtitle, i), rows);
    };
    var tip = function (layer) { return el("span", null, cell(spec.title, layer.ntIndex)); };
    var markers = new Array(spec.n);
    for (var i = 0; i < spec.n; i++) {
      var options = Object.assign({}, spec.marker, {
        fillColor: cell(spec.colour, i), className: "facility-marker"
      });
      var marker = L.circleMarker([spec.lat[i], spec.lon[i]], options);
      marker.ntIndex = i;
      marker.bindPopup(describe, {maxWidth: 360});
      marker.bindTooltip(tip);
      markers[i] = marker;
    }
    // Cluster once the group is on the map, in chunks, so a page with 1e5 facilities shows
    // its boundaries at once and fills in the markers without freezing the tab.
    group.once("add", function () { group.addLayers(markers); });
    return group;
  }
  function shapes(spec) {
    var group = L.featureGroup();
    var layer = L.geoJSON(spec.geojson, {
      style: function (feature) {
        var style = Object.assign({}, spec.style);
        if (feature.properties.c) { style.color = feature.properties.c; }
        return style;
      },
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, Object.assign({radius: 5}, spec.style));
      },
      onEachFeature: function (feature, layer) {
        var p = feature.properties;
        if (p.t) { layer.bindTooltip(function () { return el("span", null, p.t); },
                                     {sticky: true}); }
        layer.bindPopup(function () { return popup(p.h, p.s, p.p); }, {maxWidth: 360});
      }
    });
    group.addLayer(layer);
    spec.labels.forEach(function (label) {
      var text = el("span", null, label[2]);
      text.style.color = label[3];
      group.addLayer(L.marker([label[0], label[1]], {
        icon: L.divIcon({html: text, className: "nt-town-label", iconSize: null}),
        interactive: false, keyboard: false
      }));
    });
    return group;
  }
  window.newtownAtlas = {
    map: null,
    layers: {},
    build: function (key) {
      var spec = data().layers[key];
      var api = this;
      var layer = spec.kind === "facilities" ? facilities(spec) : shapes(spec);
      layer.on("add", function () { api.map = layer._map; });
      this.layers[key] = layer;
      return layer;
    },
    count: function (key) { return data().layers[key].n; }
  };
})();
"""


# -- folium glue --------------------------------------------------------------------------------


@cache
def _folium_classes() -> tuple[type, type, type, type]:
    """folium/branca classes: data layer, blank base layer, metric scale bar, raw text."""
    from branca.element import Element, MacroElement
    from folium.map import Layer
    from folium.template import Template

    class DataLayer(Layer):
        """A layer built in the page from the embedded JSON (no data passes through Jinja)."""

        _template = Template(
            "{% macro script(this, kwargs) %}"
            "var {{ this.get_name() }} = newtownAtlas.build({{ this.key|tojson }});"
            "{% endmacro %}"
        )

        def __init__(self, key: str, name: str) -> None:
            super().__init__(name=name, overlay=True, control=True, show=True)
            self._name = "DataLayer"
            self.key = key

    class BlankBase(Layer):
        _template = Template(
            "{% macro script(this, kwargs) %}"
            "var {{ this.get_name() }} = L.layerGroup();"
            "{% endmacro %}"
        )

        def __init__(self, name: str) -> None:
            super().__init__(name=name, overlay=False, control=True, show=True)
            self._name = "BlankBase"

    class MetricScale(MacroElement):
        _template = Template(
            "{% macro script(this, kwargs) %}"
            "L.control.scale({imperial: false, position: 'bottomleft'})"
            ".addTo({{ this._parent.get_name() }});"
            "{% endmacro %}"
        )

    class Raw(Element):
        """Text inserted as is, never rendered as a Jinja template."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self._text = text

        def render(self, **kwargs: object) -> str:
            return self._text

    return DataLayer, BlankBase, MetricScale, Raw


def _legend_html(layer_counts: Mapping[str, int], present: Sequence[str], *, lang: str,
                 online_basemap: bool) -> str:
    esc = html.escape
    rows = []
    for key in catalog.INDUSTRY_LAYERS:
        term = catalog.INDUSTRIES[key]
        n = layer_counts.get(key, 0)
        rows.append(f'<div class="row"><span class="dot" style="background:{esc(term.colour)}">'
                    f"</span>{esc(term.label(lang))} ({n})</div>")
    others = []
    for name in present:
        if name == "facilities":
            continue
        style = LAYER_STYLES.get(name, LAYER_STYLES["other"])
        if name == "towns":
            for town in catalog.TOWNS.values():
                others.append(f'<div class="row"><span class="line" style="border-color:'
                              f'{esc(town.colour)}"></span>{esc(town.label(lang))}</div>')
            continue
        dash = "dashed" if style.get("dashArray") else "solid"
        others.append(f'<div class="row"><span class="line" style="border-top-style:{dash};'
                      f'border-color:{esc(str(style["color"]))}"></span>'
                      f"{esc(layer_label(name, lang))}</div>")
    parts = [f"<details open><summary>{esc(_t('legend', lang))}</summary>"
             f'<div class="grid">{"".join(rows)}</div>']
    if others:
        parts += [f"<div><b>{esc(_t('other_layers', lang))}</b></div>",
                  f'<div class="grid">{"".join(others)}</div>']
    parts += [
        f'<div class="note warn">{esc(caveat_text(lang))}</div>',
        f'<div class="note">{esc(_t("crs", lang))}</div>',
        f'<div class="note">{esc(_t("offline" if online_basemap else "offline_only", lang))}'
        "</div>",
        f'<div class="note">{esc(_t("sources", lang))}</div></details>',
    ]
    return f'<div class="nt-panel nt-legend" id="nt-legend">{"".join(parts)}</div>'


def build_webmap(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    title: str | None = None,
    lang: str = "zh",
    metadata: Mapping[str, object] | None = None,
    online_basemap: bool = True,
) -> str:
    """Return a self-contained HTML page (folium/Leaflet) drawing ``layers``.

    ``layers`` maps layer names to GeoDataFrames in EPSG:4326. The project's names
    (``facilities``, ``towns``, ``districts``, ``city``, ``corridors``, ``corridor_lines``,
    ``zones``) get the dashboard's styles and wording; any other layer is drawn in grey with its
    attributes in the popup. The layer called ``facilities`` becomes clustered circle markers
    (missing or empty geometries are skipped). ``metadata`` is what :func:`geo.export.export`
    records: its ``filter`` (a Filter or its ``to_params()``) is summarised in the title box, and
    a drawn area in it is shown as its own layer; ``exported_at`` is shown when given. The whole
    ``metadata`` is embedded as JSON (``<script id="newtown-metadata">``) for the record.

    ``online_basemap`` adds OpenStreetMap as a second, non-default base layer (tiles load only
    if a user picks it). Raises ValueError/TypeError for bad input; an empty layer draws nothing
    and the page says so.
    """
    ordered = check_map_layers(layers, lang=lang)
    metadata = dict(metadata or {})
    params = filter_params(metadata)
    within = within_layer(params)
    if within is not None and "within" not in ordered:
        ordered = check_map_layers({**ordered, "within": within}, lang=lang)

    import folium  # imported here: only the map formats need it
    from branca.element import Figure

    data_layer_cls, blank_base_cls, metric_scale_cls, raw = _folium_classes()

    payload: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for name, frame in ordered.items():
        if name == "facilities":
            payload[name], counts[name] = _facility_payload(frame, lang)
        else:
            payload[name], counts[name] = _shape_payload(name, frame, lang)

    page_title = title if title is not None and title.strip() else default_title(lang)
    bounds = _view_bounds(ordered)
    the_map = folium.Map(location=[(bounds[0][0] + bounds[1][0]) / 2,
                                   (bounds[0][1] + bounds[1][1]) / 2],
                         zoom_start=9, tiles=None, control_scale=False,
                         maxZoom=18, minZoom=7, zoomSnap=0.25, zoomDelta=0.5)
    # The instance attributes shadow folium's class-level CDN lists (never mutate those).
    the_map.default_js = []
    the_map.default_css = []
    blank_base_cls(html.escape(_t("basemap_none", lang))).add_to(the_map)
    if online_basemap:
        folium.TileLayer(OSM_TILE_URL, name=html.escape(_t("basemap_osm", lang)),
                         attr=_OSM_ATTRIBUTION, max_zoom=19, overlay=False, control=True,
                         show=False).add_to(the_map)
    for name in ordered:
        label = layer_label(name, lang)
        if name == "facilities":
            label = f"{label} ({counts[name]})"
        data_layer_cls(name, html.escape(label)).add_to(the_map)
    folium.LayerControl(collapsed=False, position="topright").add_to(the_map)
    metric_scale_cls().add_to(the_map)
    # Keep the features clear of the title box (top left) and the legend (bottom right).
    the_map.fit_bounds(bounds, padding_top_left=(20, 70), padding_bottom_right=(300, 20))

    figure = the_map.get_root()
    assert isinstance(figure, Figure)  # folium.Map puts itself in a new Figure when made
    figure.header.add_child(raw(f"<title>{html.escape(page_title)}</title>"), name="nt_title")
    figure.header.add_child(raw(_inlined_head()), name="nt_assets")
    doc = {"lang": lang, "layers": payload}
    figure.header.add_child(raw(
        f'<script type="application/json" id="newtown-data">{_json_for_script(doc)}</script>'
        f'<script type="application/json" id="newtown-metadata">'
        f"{_json_for_script(metadata)}</script>"), name="nt_data")

    n_facilities = counts.get("facilities")
    info = [f"{_t('filter', lang)}: {filter_summary(params, lang)}",
            f"{_t('exported', lang)}: {exported_at_label(metadata)}"]
    if n_facilities is not None:
        info.insert(0, _t("shown", lang, n=f"{n_facilities:,}")
                    if n_facilities else _t("empty", lang))
    title_box = (f'<div class="nt-panel nt-title" id="nt-title"><h1>{html.escape(page_title)}'
                 f"</h1>" + "".join(f"<div>{html.escape(line)}</div>" for line in info)
                 + "</div>")
    layer_counts: dict[str, int] = {}
    if "facilities" in ordered and counts["facilities"]:
        for keys in facility_layers(ordered["facilities"]):
            for key in keys:
                layer_counts[key] = layer_counts.get(key, 0) + 1
    legend = _legend_html(layer_counts, list(ordered), lang=lang, online_basemap=online_basemap)
    figure.html.add_child(raw(title_box + legend), name="nt_panels")

    page = figure.render()
    return page.replace("<html>", f'<html lang="{"zh-CN" if lang == "zh" else "en"}">', 1)


def _view_bounds(layers: Mapping[str, gpd.GeoDataFrame]) -> list[list[float]]:
    """[[south, west], [north, east]] around towns and facilities (the dashboard's first view).

    Falls back to every other layer, then to Shanghai, when those are absent or empty.
    """
    def total(names: Sequence[str]) -> tuple[float, float, float, float] | None:
        boxes = []
        for name in names:
            geoms = layers[name].geometry
            geoms = geoms[geoms.notna() & ~geoms.is_empty]
            if len(geoms):
                boxes.append(geoms.total_bounds)
        if not boxes:
            return None
        stacked = np.vstack(boxes)
        return (float(stacked[:, 0].min()), float(stacked[:, 1].min()),
                float(stacked[:, 2].max()), float(stacked[:, 3].max()))

    focus = [n for n in layers if n in {"towns", "facilities", "within"}]
    box = total(focus) or total(list(layers)) or SHANGHAI_BBOX
    west, south, east, north = box
    pad = 0.02
    return [[south - pad, west - pad], [north + pad, east + pad]]
