"""The brief's vector figures: the town map, the coverage map and the growth chart, as SVG."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.transforms import blended_transform_factory

from geo import catalog
from geo.printmap import cjk_font, nice_scale_length_m, north_angle_deg

__all__ = ["FONT_FAMILY", "coverage_map_svg", "growth_chart_svg", "town_map_svg"]

#: The CJK face the brief embeds (Debian's fonts-noto-cjk); SVG text stays text.
FONT_FAMILY = ("Noto Sans CJK SC", "DejaVu Sans", "sans-serif")
#: Room above the growth chart's highest line, as a share of it: the strategy label sits there.
STRATEGY_HEADROOM = 0.18
_RC = {"svg.fonttype": "none", "font.family": list(FONT_FAMILY), "axes.unicode_minus": False,
       "svg.hashsalt": "newtown-brief"}


def _rc() -> dict[str, Any]:
    """matplotlib settings: SVG text as text, in the CJK family (registered if needed)."""
    family = cjk_font()
    return {**_RC, "font.family": [family] if family else ["DejaVu Sans"]}


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _paths(geom: shapely.Geometry) -> list[MplPath]:
    polygons = getattr(geom, "geoms", [geom]) if geom is not None else []
    out = []
    for poly in polygons:
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        rings = [np.asarray(poly.exterior.coords), *(np.asarray(r.coords)
                                                     for r in poly.interiors)]
        vertices = np.concatenate(rings)
        codes = np.concatenate([[MplPath.MOVETO, *([MplPath.LINETO] * (len(r) - 2)),
                                 MplPath.CLOSEPOLY] for r in rings])
        out.append(MplPath(vertices, codes))
    return out


def _draw_polygon(ax: Any, geom: shapely.Geometry, **style: Any) -> None:
    for path in _paths(geom):
        ax.add_patch(PathPatch(path, **style))


def _frame(ax: Any, town_m: shapely.Geometry, margin: float = 0.08,
           points_m: gpd.GeoDataFrame | None = None) -> None:
    x0, y0, x1, y1 = town_m.bounds
    if points_m is not None and len(points_m):
        px0, py0, px1, py1 = points_m.total_bounds
        x0, y0, x1, y1 = min(x0, px0), min(y0, py0), max(x1, px1), max(y1, py1)
    pad = max(x1 - x0, y1 - y0) * margin
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#f6f5f1")
    # scale bar: the print map's rule (a round length, at most a fifth of the width),
    # bottom left
    width = x1 - x0 + 2 * pad
    length = nice_scale_length_m(width)
    bx, by = x0 - pad * 0.5, y0 - pad * 0.6
    ax.plot([bx, bx + length], [by, by], color="#222222", lw=2)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(bx + length / 2, by + pad * 0.15, label, ha="center", va="bottom", fontsize=7)
    # north arrow: true north (the print map's meridian convergence), top right
    angle = math.radians(north_angle_deg((x0 + x1) / 2, (y0 + y1) / 2))
    size = pad * 1.2
    nx, ny = x1 + pad * 0.4, y1 - pad * 0.6
    tip = (nx + size * math.sin(angle), ny + size * math.cos(angle))
    ax.annotate("", xy=tip, xytext=(nx, ny),
                arrowprops={"arrowstyle": "-|>,head_width=0.3,head_length=0.6",
                            "color": "#222222", "linewidth": 1.2})
    ax.text(tip[0], tip[1] + pad * 0.1, "N", ha="center", va="bottom", fontsize=7,
            fontweight="bold")


def _layer_colour(layers: str) -> str:
    first = str(layers).split(";")[0] if layers else ""
    term = catalog.INDUSTRIES.get(first)
    return term.colour if term and term.colour else "#666666"


def town_map_svg(town_m: shapely.Geometry, facilities_m: gpd.GeoDataFrame, *,
                 boundary_label: str, lang: str) -> str:
    """The town (approximate boundary, labelled) and its facilities coloured by first layer.

    ``facilities_m``: EPSG:4549 points with ``layers`` and ``membership``; placeholders are
    drawn as hollow circles so they never read as sites.
    """
    with rc_context(_rc()):  # type: ignore[arg-type]  # typed as literal keys only
        fig = Figure(figsize=(6.6, 4.6))
        ax = fig.add_axes((0.01, 0.01, 0.70, 0.98))
        _draw_polygon(ax, town_m, facecolor="#e9eef5", edgecolor="#3b5b8a", lw=1.2,
                      linestyle=(0, (5, 3)))
        x0, _y0, _x1, y1 = town_m.bounds
        ax.text(x0, y1, boundary_label, fontsize=8, color="#3b5b8a", va="bottom")
        _frame(ax, town_m, points_m=facilities_m)
        xs, ys = facilities_m.geometry.x.to_numpy(), facilities_m.geometry.y.to_numpy()
        placeholder = (facilities_m["membership"] == "placeholder").to_numpy()
        colours = [_layer_colour(v) for v in facilities_m["layers"]]
        sites = ~placeholder
        if sites.any():
            ax.scatter(xs[sites], ys[sites], s=28, c=[c for c, s in zip(colours, sites,
                                                                       strict=True) if s],
                       edgecolors="#222222", linewidths=0.5, zorder=3)
        if placeholder.any():
            ax.scatter(xs[placeholder], ys[placeholder], s=70, facecolors="none",
                       edgecolors=[c for c, p in zip(colours, placeholder, strict=True) if p],
                       linewidths=1.4, linestyle="--", zorder=4)
        # Points on one spot (placeholders on a town centre, units of one campus) draw as one
        # marker: say how many stand there.
        spots: dict[tuple[float, float], int] = {}
        for x, y in zip(np.round(xs, -1), np.round(ys, -1), strict=True):
            spots[(float(x), float(y))] = spots.get((float(x), float(y)), 0) + 1
        for (x, y), n in spots.items():
            if n > 1:
                ax.annotate(f"×{n}", (x, y), xytext=(6, 5), textcoords="offset points",
                            fontsize=7, color="#222222", zorder=5)
        legend = fig.add_axes((0.72, 0.05, 0.27, 0.9))
        legend.set_axis_off()
        shown = []
        for text in facilities_m["layers"]:
            key = str(text).split(";")[0] if text else ""
            if key and key not in shown:
                shown.append(key)
        y = 0.95
        for key in [k for k in catalog.INDUSTRY_LAYERS if k in shown]:
            term = catalog.INDUSTRIES[key]
            legend.scatter([0.05], [y], s=28, c=[term.colour], edgecolors="#222222",
                           linewidths=0.5)
            legend.text(0.12, y, term.zh if lang == "zh" else term.en, fontsize=7.5,
                        va="center")
            y -= 0.065
        legend.scatter([0.05], [y], s=60, facecolors="none", edgecolors="#444444",
                       linewidths=1.4, linestyle="--")
        legend.text(0.12, y, "占位点" if lang == "zh" else "placeholder", fontsize=7.5,
                    va="center")
        legend.set_xlim(0, 1)
        legend.set_ylim(0, 1)
        return _svg(fig)


def coverage_map_svg(town_m: shapely.Geometry, covered_m: shapely.Geometry | None,
                     sites_m: gpd.GeoDataFrame) -> str:
    """The town, its part within reach (shaded) and the sites that reach it (EPSG:4549)."""
    with rc_context(_rc()):  # type: ignore[arg-type]  # typed as literal keys only
        fig = Figure(figsize=(4.2, 3.4))
        ax = fig.add_axes((0.01, 0.01, 0.98, 0.98))
        _draw_polygon(ax, town_m, facecolor="#fbe9e7", edgecolor="#8a3b2b", lw=1.0,
                      linestyle=(0, (5, 3)))
        if covered_m is not None and not covered_m.is_empty:
            _draw_polygon(ax, covered_m, facecolor="#4c9a6a", edgecolor="none", alpha=0.55)
        _frame(ax, town_m)
        if len(sites_m):
            ax.scatter(sites_m.geometry.x, sites_m.geometry.y, s=10, c="#1d3557", zorder=3)
        return _svg(fig)


def growth_chart_svg(years: Sequence[int], series: Mapping[str, Sequence[int]], *,
                     strategy_year: int, strategy_label: str, lang: str,
                     highlight: str | None = None) -> str:
    """Cumulative facilities by year, one line per town, the strategy year marked."""
    with rc_context(_rc()):  # type: ignore[arg-type]  # typed as literal keys only
        fig = Figure(figsize=(6.4, 2.8))
        ax = fig.add_axes((0.08, 0.14, 0.66, 0.8))
        if years:
            for key, values in series.items():
                term = catalog.TOWNS[key]
                ax.step(list(years), list(values), where="post",
                        color=term.colour, lw=2.4 if key == highlight else 1.3,
                        label=term.zh if lang == "zh" else term.en)
            ax.axvline(strategy_year, color="#888888", lw=1, linestyle="--")
            top = max((max(v) for v in series.values() if len(v)), default=0)
            x0, x1 = max(min(years), strategy_year - 25), max(max(years), strategy_year) + 1
            ax.set_xlim(x0, x1)
            # Headroom above the highest line, and the label inside the plot just under its
            # top edge (it stood above the data and touched the top of the picture), on the
            # side of the dashed line with more room, a few points away from it.
            ax.set_ylim(0, max(top, 1) * (1 + STRATEGY_HEADROOM))
            left = (strategy_year - x0) / (x1 - x0) > 0.5
            ax.annotate(strategy_label, xy=(strategy_year, 1.0),
                        xycoords=blended_transform_factory(ax.transData, ax.transAxes),
                        xytext=(-3 if left else 3, -3), textcoords="offset points",
                        fontsize=7, color="#555555", ha="right" if left else "left",
                        va="top")
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=7)
        return _svg(fig)
