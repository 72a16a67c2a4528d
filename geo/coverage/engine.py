"""The disc engine: exact covered area of a region by facility discs or service polygons (m).

How coverage is computed, and why it scales
-------------------------------------------
The question is "how much of each town lies within ``r`` of some facility", not "what is the
union of every circle". Unioning a million buffers costs ~33 s; the answer needs only the
covered area inside each town. So, per region (a town, a district):

1. identical facility points are merged (a point keeps its largest radius); discs are grouped
   by radius and each group gets a k-d tree;
2. the region's bounding box is cut into square cells (a quadtree). A cell whose centre has a
   facility within ``r - half_diagonal`` lies wholly inside that disc: it is *full*. A cell
   with no facility within ``r + half_diagonal`` is *empty*. One nearest-neighbour query
   decides both;
3. an undecided cell is split until few discs touch it (or it is tiny). In the remaining
   cells the covered area is integrated exactly along its boundary (Green's theorem): arcs
   of circles that no other disc covers, plus stretches of cell edges inside some disc, found
   by sweeping the angular intervals each neighbour cuts out of a circle. No polygons.

Areas are therefore those of true circles (tested against 512-gon unions to 3e-5). Where
coverage is dense nearly every cell is settled in step 2, which is why 1e6 facilities cost
about as much as 1e5. Geometry (gap polygons, population overlays, siting) is drawn with
``quad_segs`` polygons (64-gons by default, area error 0.16% < 0.5%); the tables report the
exact areas, so a gap polygon's area can differ from ``gap_m2`` by that much at its edges.

Service areas given as polygons (e.g. network isochrones) use the plain method instead:
union of the polygons that touch the region, clipped to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from geo._errors import DataError, InputError, Problem
from geo.coverage.inputs import (
    EMPTY,
    FloatArray,
    check_radius,
    is_polygonal,
    point_xy,
    polygonal_geoms,
    polygonal_only,
    require_metric,
    row_label,
)
from geo.settings import DEFAULT_RADIUS_M

__all__ = [
    "LIFE_CIRCLE_5MIN_M",
    "LIFE_CIRCLE_10MIN_M",
    "LIFE_CIRCLE_15MIN_M",
    "LIFE_CIRCLE_15MIN_OUTER_M",
    "LIFE_CIRCLE_PRESETS_M",
    "MAX_POLYGON_AREA_ERROR",
    "QUAD_SEGS",
    "Discs",
    "Engine",
    "Shapes",
    "check_quad_segs",
    "facility_radii",
    "make_engine",
    "polygon_area_error",
    "service_areas",
    "service_engine",
]

#: Segments per quarter circle for service-area polygons. A regular 64-gon inscribed in a
#: circle has 0.16% less area than the circle (shapely's default of 8, a 32-gon, is 0.64%).
QUAD_SEGS: Final = 16
#: The largest polygon-vs-circle area error accepted for ``quad_segs`` (0.5%).
MAX_POLYGON_AREA_ERROR: Final = 0.005

# Shanghai's 15-minute community life circle (上海市15分钟社区生活圈规划导则, 2016): walking
# distances for daily services. Use them as ``radius_m`` for community-type facilities.
#: 5-minute walk: daily needs of children and the elderly (kindergarten, elderly care).
LIFE_CIRCLE_5MIN_M: Final = 300.0
#: 10-minute walk: primary school, neighbourhood shops, small parks.
LIFE_CIRCLE_10MIN_M: Final = 500.0
#: 15-minute walk, usual planning radius (community centre, secondary school).
LIFE_CIRCLE_15MIN_M: Final = 800.0
#: 15-minute walk, the outer bound used where blocks are large.
LIFE_CIRCLE_15MIN_OUTER_M: Final = 1500.0
#: The presets by name (the CLI's ``--life-circle``).
LIFE_CIRCLE_PRESETS_M: Final[Mapping[str, float]] = MappingProxyType({
    "5min": LIFE_CIRCLE_5MIN_M,
    "10min": LIFE_CIRCLE_10MIN_M,
    "15min": LIFE_CIRCLE_15MIN_M,
    "15min_outer": LIFE_CIRCLE_15MIN_OUTER_M,
})

# Quadtree tuning (performance only; results do not depend on them).
_MAX_TOP_CELLS: Final = 4096  # first-level cells per region at most
_LEAF_DISCS: Final = 12  # an undecided cell touched by at most this many discs is solved exactly
_MIN_CELL_FRACTION: Final = 1 / 64  # ... and cells smaller than r_min / 64 are solved exactly


def polygon_area_error(quad_segs: int) -> float:
    """Relative area lost when a circle is drawn as a regular polygon with ``4*quad_segs`` sides.

    A regular n-gon inscribed in a circle of radius r has area (n/2) r² sin(2π/n).
    """
    if quad_segs < 1:
        raise InputError(f"quad_segs must be a positive integer, got {quad_segs!r}")
    n = 4 * quad_segs
    return 1.0 - (n / (2.0 * math.pi)) * math.sin(2.0 * math.pi / n)


def check_quad_segs(quad_segs: int) -> int:
    """The number of segments per quarter circle, if circles drawn with it are close enough."""
    error = polygon_area_error(quad_segs)
    if error >= MAX_POLYGON_AREA_ERROR:
        raise InputError(
            f"quad_segs={quad_segs} draws circles with {error:.2%} less area than a true "
            f"circle; use at least 10 (area error < {MAX_POLYGON_AREA_ERROR:.1%}), "
            f"default {QUAD_SEGS}"
        )
    return int(quad_segs)


def facility_radii(
    facilities: pd.DataFrame,
    *,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
) -> pd.Series:
    """Service radius of each facility in metres (same index): ``radius_m`` or by category.

    Raises DataError naming every facility whose category has no radius in
    ``radius_by_category``, and ValueError for a radius that is not a positive number.
    """
    if radius_m is not None:
        radius = check_radius(radius_m, "radius_m")
        return pd.Series(radius, index=facilities.index, name="radius_m", dtype=float)
    for key, value in radius_by_category.items():
        check_radius(value, f"radius_by_category[{key!r}]")
    if len(facilities) == 0:
        return pd.Series([], index=facilities.index, name="radius_m", dtype=float)
    if "category" not in facilities.columns:
        raise InputError("facilities have no 'category' column: pass radius_m (metres) to "
                         "give every facility the same service radius")
    # One lookup per distinct category, not per row (1e5 rows: 0.9 s -> a few ms).
    categories = facilities["category"]
    codes, uniques = pd.factorize(categories, use_na_sentinel=True)
    table = np.array([float(radius_by_category[u]) if isinstance(u, str)
                      and u in radius_by_category else np.nan for u in uniques] + [np.nan])
    radii = table[codes]  # a missing category (code -1) takes the last entry: NaN
    missing = [int(n) for n in np.flatnonzero(np.isnan(radii))]
    problems = [
        Problem("facilities", n + 1, "category", categories.iloc[n],
                f"facility {row_label(facilities.index[n], n + 1)} has no default service "
                f"radius for this category; pass radius_m or add it to radius_by_category "
                f"(known: {', '.join(sorted(radius_by_category))})")
        for n in missing
    ]
    if problems:
        raise DataError(problems)
    return pd.Series(radii, index=facilities.index, name="radius_m")


def service_areas(
    facilities_m: gpd.GeoDataFrame,
    *,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
    quad_segs: int = QUAD_SEGS,
) -> gpd.GeoDataFrame:
    """Disc around each facility (EPSG:4549 metres), on the facility index.

    Columns: ``radius_m`` and, when present, ``category``/``town``/``name_zh``/``name_en``.
    The discs are regular polygons with ``4*quad_segs`` sides (area error < 0.5%).
    """
    facilities_m = require_metric(facilities_m, "facilities_m")
    quad_segs = check_quad_segs(quad_segs)
    radii = facility_radii(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category)
    x, y = point_xy(facilities_m, "facilities_m")
    discs = shapely.buffer(shapely.points(x, y), radii.to_numpy(), quad_segs=quad_segs)
    keep = [c for c in ("category", "town", "name_zh", "name_en") if c in facilities_m.columns]
    out = pd.DataFrame(facilities_m[keep]).assign(radius_m=radii)
    return gpd.GeoDataFrame(out, geometry=discs, index=facilities_m.index, crs=facilities_m.crs)


# -- the coverage engines --------------------------------------------------------------------


@dataclass
class _DiscGroup:
    radius: float
    xy: FloatArray
    tree: cKDTree
    polygons: dict[int, shapely.Geometry] = field(default_factory=dict)


class Discs:
    """Facility discs, deduplicated and grouped by radius, each group in a k-d tree."""

    def __init__(self, x: FloatArray, y: FloatArray, r: FloatArray, quad_segs: int) -> None:
        self.quad_segs = quad_segs
        frame = pd.DataFrame({"x": x, "y": y, "r": r})
        if frame["r"].nunique() > 1:
            # A point listed twice keeps its largest disc: the smaller one adds nothing.
            # as_index=False gives a DataFrame (x, y, r); pandas-stubs types it as a Series.
            frame = cast(pd.DataFrame,
                         frame.groupby(["x", "y"], sort=False, as_index=False)["r"].max())
        else:
            frame = frame.drop_duplicates(["x", "y"])
        self.count = len(frame)
        self.groups: list[_DiscGroup] = []
        for radius, part in frame.groupby("r", sort=True):
            xy = np.column_stack([part["x"].to_numpy(), part["y"].to_numpy()])
            self.groups.append(_DiscGroup(float(radius), xy, cKDTree(xy)))  # type: ignore[arg-type]
        self.r_min = min((g.radius for g in self.groups), default=0.0)

    def _polygons(self, group: _DiscGroup, idx: NDArray[np.intp]) -> NDArray[np.object_]:
        missing = [int(i) for i in np.unique(idx) if int(i) not in group.polygons]
        if missing:
            made = shapely.buffer(shapely.points(group.xy[missing]), group.radius,
                                  quad_segs=self.quad_segs)
            group.polygons.update(zip(missing, made, strict=True))
        out = np.empty(len(idx), dtype=object)
        out[:] = [group.polygons[int(i)] for i in idx]
        return out

    def covers_xy(self, x: FloatArray, y: FloatArray) -> NDArray[np.bool_]:
        """True where a point lies within the radius of some facility (true circles)."""
        hit = np.zeros(len(x), dtype=bool)
        if len(x) == 0:
            return hit
        pts = np.column_stack([x, y])
        for g in self.groups:
            d, _ = g.tree.query(pts, k=1, distance_upper_bound=g.radius * (1 + 1e-9) + 1e-6)
            hit |= d <= g.radius
        return hit

    def covered(self, region: shapely.Geometry, *, want_geometry: bool
                ) -> tuple[float, shapely.Geometry | None]:
        """Covered area of ``region`` (and the covered part itself when asked)."""
        if not self.groups or region is None or region.is_empty:
            return 0.0, (EMPTY if want_geometry else None)
        shapely.prepare(region)
        minx, miny, maxx, maxy = region.bounds
        width, height = max(maxx - minx, 1e-9), max(maxy - miny, 1e-9)
        size = max(self.r_min / 2.0, math.sqrt(width * height / _MAX_TOP_CELLS))
        min_size = self.r_min * _MIN_CELL_FRACTION
        nx, ny = math.ceil(width / size), math.ceil(height / size)
        iy, ix = np.divmod(np.arange(nx * ny, dtype=np.int64), nx)
        inside = np.zeros(len(ix), dtype=bool)
        known = np.zeros(len(ix), dtype=bool)  # inside/outside already decided by the parent

        full_area = 0.0
        full_geoms: list[NDArray[np.object_]] = []
        # Undecided leaf cells, per level: (boxes, size, disc indices per group).
        leaves: list[tuple[NDArray[np.object_], float, list[NDArray[np.intp]]]] = []
        while len(ix):
            x0, y0 = minx + ix * size, miny + iy * size
            boxes = shapely.box(x0, y0, minx + (ix + 1) * size, miny + (iy + 1) * size)
            # Cells of a parent wholly inside the region are wholly inside too.
            todo = ~known
            if todo.any():
                touch = np.ones(len(ix), dtype=bool)
                touch[todo] = shapely.intersects(region, boxes[todo])
                ix, iy, x0, y0, boxes = ix[touch], iy[touch], x0[touch], y0[touch], boxes[touch]
                inside, todo = inside[touch], todo[touch]
                inside[todo] = shapely.contains_properly(region, boxes[todo])
            half_diag = size * math.sqrt(0.5)
            centres = np.column_stack([x0 + size / 2.0, y0 + size / 2.0])
            full = np.zeros(len(ix), dtype=bool)
            reach = np.zeros(len(ix), dtype=bool)
            for g in self.groups:
                d, _ = g.tree.query(centres, k=1, distance_upper_bound=g.radius + half_diag)
                full |= d <= g.radius - half_diag
                reach |= np.isfinite(d)
            undecided = reach & ~full
            if full.any():
                geoms = np.asarray(boxes[full], dtype=object).copy()
                border = ~inside[full]
                if border.any():
                    geoms[border] = shapely.intersection(geoms[border], region)
                full_area += float(shapely.area(geoms).sum())
                if want_geometry:
                    full_geoms.append(geoms)
            if not undecided.any():
                break
            counts = np.zeros(len(ix), dtype=np.int64)
            for g in self.groups:
                counts[undecided] += g.tree.query_ball_point(
                    centres[undecided], g.radius + half_diag, return_length=True)
            leaf = undecided & ((counts <= _LEAF_DISCS) | (size / 2.0 < min_size))
            if leaf.any():
                leaf_tree = cKDTree(centres[leaf])
                found = [np.unique(_pairs(leaf_tree, g.tree, g.radius + half_diag)[1])
                         for g in self.groups]
                leaves.append((boxes[leaf], size, found))
            split = undecided & ~leaf
            # Children: 2x2 per split cell; the grid edges stay exact (halving is exact).
            ix = ((2 * ix[split])[:, None] + np.array([0, 1, 0, 1])).ravel()
            iy = ((2 * iy[split])[:, None] + np.array([0, 0, 1, 1])).ravel()
            inside = np.repeat(inside[split], 4)
            known = inside.copy()
            size /= 2.0

        if not leaves:
            return full_area, ((shapely.union_all(np.concatenate(full_geoms)) if full_geoms
                                else EMPTY) if want_geometry else None)
        # Leaves of one level form an exact grid: their outline is a cheap coverage union.
        # Leaves of different levels are disjoint, so their outlines are kept side by side
        # (no union needed: edges they share cancel out in the boundary integral).
        parts = [part for cells, _, _ in leaves for part in shapely.get_parts(
            polygonal_only(shapely.intersection(shapely.coverage_union_all(cells), region)))]
        outline = shapely.MultiPolygon(parts) if parts else EMPTY
        # Every disc reaching a leaf is listed (ball of radius r + half-diagonal), so inside
        # the leaves the union of these discs is the union of all discs.
        found = [np.unique(np.concatenate([f[n] for _, _, f in leaves]))
                 for n in range(len(self.groups))]
        circles = [(g, idx) for g, idx in zip(self.groups, found, strict=True) if len(idx)]
        area = full_area + self._union_area(outline, circles,
                                            max_edge_m=max(size for _, size, _ in leaves))
        if not want_geometry:
            return area, None
        partial = EMPTY
        if circles:
            polys = np.concatenate([self._polygons(g, idx) for g, idx in circles])
            partial = shapely.intersection(shapely.union_all(polys),
                                           shapely.union_all(np.asarray(parts)))
        return area, shapely.union_all(np.concatenate([*full_geoms, np.array([partial])]))

    def _union_area(self, area: shapely.Geometry,
                    circles: list[tuple[_DiscGroup, NDArray[np.intp]]], *,
                    max_edge_m: float) -> float:
        """Exact area of (union of all discs) within ``area``, by Green's theorem.

        The boundary of (U ∩ A) is made of arcs of the circles that lie inside A and outside
        every other disc, and pieces of A's edges that lie inside some disc. Integrating
        (x dy - y dx) / 2 along them (counter-clockwise) gives the area: true circles, no
        polygon error, and no polygon overlay (the costly part of a buffer-and-union).
        Which arcs and edge pieces count is found by sweeping the intervals other discs cut
        out of each circle and edge. ``circles`` must hold every disc that reaches ``area``.
        """
        if area.is_empty or not circles:
            return 0.0
        shapely.prepare(area)
        ox, oy = area.bounds[0], area.bounds[1]  # local origin keeps the products small
        cx = np.concatenate([g.xy[idx, 0] for g, idx in circles]) - ox
        cy = np.concatenate([g.xy[idx, 1] for g, idx in circles]) - oy
        cr = np.concatenate([np.full(len(idx), g.radius) for g, idx in circles])
        n = len(cx)
        offsets = np.cumsum([0] + [len(idx) for _, idx in circles])
        # Only these discs matter: any disc covering a point of ``area`` is among them, so
        # arcs and edge pieces inside ``area`` get their cover counts right. (Searching all
        # discs instead costs ~r²·density neighbours per circle at a dense cloud's edge.)
        trees = [(g, idx, int(off), cKDTree(g.xy[idx]))
                 for (g, idx), off in zip(circles, offsets[:-1], strict=True)]
        two_pi = 2.0 * np.pi

        # Arcs of each circle covered by another disc: [phi - alpha, phi + alpha].
        arc_owner: list[NDArray[np.intp]] = []
        arc_lo: list[FloatArray] = []
        arc_hi: list[FloatArray] = []
        swallowed = np.zeros(n, dtype=bool)  # circle inside another disc: no arc counts
        for g_i, idx_i, off, tree_i in trees:
            for g, idx, _, tree in trees:
                i, jj = _pairs(tree_i, tree, g_i.radius + g.radius)
                dx = g.xy[idx[jj], 0] - g_i.xy[idx_i[i], 0]
                dy = g.xy[idx[jj], 1] - g_i.xy[idx_i[i], 1]
                d = np.hypot(dx, dy)
                ri, rj = g_i.radius, g.radius
                if rj > ri:
                    swallowed[off + i[d <= rj - ri]] = True
                cross = (d > abs(ri - rj)) & (d < ri + rj)
                i, d, dx, dy = i[cross], d[cross], dx[cross], dy[cross]
                phi = np.arctan2(dy, dx)
                alpha = np.arccos(np.clip((ri * ri + d * d - rj * rj) / (2 * ri * d), -1, 1))
                arc_owner.append(i + off)
                arc_lo.append(np.mod(phi - alpha, two_pi))
                arc_hi.append(np.mod(phi + alpha, two_pi))

        # Edges of ``area`` (exteriors counter-clockwise, holes clockwise) and the parameter
        # intervals [t1, t2] of each edge inside each disc near it.
        rings = _rings(area)
        x0 = np.concatenate([r[:-1, 0] for r in rings]) - ox
        y0 = np.concatenate([r[:-1, 1] for r in rings]) - oy
        ex = np.concatenate([r[1:, 0] for r in rings]) - ox - x0
        ey = np.concatenate([r[1:, 1] for r in rings]) - oy - y0
        # Cut long edges (the region's own) so every edge is found with a small search radius.
        pieces = np.maximum(np.ceil(np.hypot(ex, ey) / max_edge_m), 1).astype(np.intp)
        if (pieces > 1).any():
            starts = np.repeat(np.cumsum(pieces) - pieces, pieces)
            frac = (np.arange(int(pieces.sum())) - starts) / np.repeat(pieces, pieces)
            x0 = np.repeat(x0, pieces) + frac * np.repeat(ex, pieces)
            y0 = np.repeat(y0, pieces) + frac * np.repeat(ey, pieces)
            ex = np.repeat(ex / pieces, pieces)
            ey = np.repeat(ey / pieces, pieces)
        half = float(np.hypot(ex, ey).max()) / 2.0
        edge_tree = cKDTree(np.column_stack([x0 + ex / 2.0 + ox, y0 + ey / 2.0 + oy]))
        seg_owner: list[NDArray[np.intp]] = []
        seg_lo: list[FloatArray] = []
        seg_hi: list[FloatArray] = []
        cut_owner: list[NDArray[np.intp]] = []  # where edges cross our circles: arc splits
        cut_angle: list[FloatArray] = []
        for g, idx, off, tree in trees:
            k, jj = _pairs(edge_tree, tree, half + g.radius)
            j = idx[jj]
            px, py = x0[k] - (g.xy[j, 0] - ox), y0[k] - (g.xy[j, 1] - oy)
            a = ex[k] ** 2 + ey[k] ** 2
            b = 2.0 * (px * ex[k] + py * ey[k])
            c = px * px + py * py - g.radius**2
            disc = b * b - 4 * a * c
            ok = (disc > 0) & (a > 0)
            k, jj, a, b, disc = k[ok], jj[ok], a[ok], b[ok], np.sqrt(disc[ok])
            t1, t2 = (-b - disc) / (2 * a), (-b + disc) / (2 * a)
            overlap = (t1 < 1.0) & (t2 > 0.0)
            seg_owner.append(k[overlap])
            seg_lo.append(np.maximum(t1[overlap], 0.0))
            seg_hi.append(np.minimum(t2[overlap], 1.0))
            for t in (t1, t2):
                # The crossing splits the circle. Closed interval: a crossing exactly at a
                # vertex must still split it (found twice, from both edges: an empty arc).
                sel = (t >= 0.0) & (t <= 1.0)
                slot = off + jj[sel]
                qx, qy = x0[k[sel]] + t[sel] * ex[k[sel]], y0[k[sel]] + t[sel] * ey[k[sel]]
                cut_owner.append(slot)
                cut_angle.append(np.mod(np.arctan2(qy - cy[slot], qx - cx[slot]), two_pi))

        # Arcs outside every other disc and inside ``area``.
        owner, lo, hi = _cat(arc_owner, np.intp), _cat(arc_lo), _cat(arc_hi)
        wraps = lo > hi  # the interval runs through angle 0
        initial = np.bincount(owner[wraps], minlength=n)
        circle, t0, t1, count = _sweep(n, two_pi, owner, lo, hi, initial,
                                       _cat(cut_owner, np.intp), _cat(cut_angle))
        free = (count == 0) & ~swallowed[circle] & (t1 - t0 > 1e-12)
        circle, t0, t1 = circle[free], t0[free], t1[free]
        r, ax, ay = cr[circle], cx[circle], cy[circle]
        # An arc lies inside or outside ``area`` as a whole; it may touch the boundary at a
        # point (tangent), so two interior points are tried, strictly inside.
        inside = np.zeros(len(circle), dtype=bool)
        for f in (0.3819660112501051, 0.6180339887498949):  # not 1/2: symmetric inputs
            tm = t0 + f * (t1 - t0)
            inside |= shapely.contains_xy(area, ax + r * np.cos(tm) + ox,
                                          ay + r * np.sin(tm) + oy)
        r, ax, ay, t0, t1 = r[inside], ax[inside], ay[inside], t0[inside], t1[inside]
        arcs = 0.5 * (r * r * (t1 - t0) + r * ax * (np.sin(t1) - np.sin(t0))
                      - r * ay * (np.cos(t1) - np.cos(t0)))

        # Pieces of the edges inside some disc.
        m = len(x0)
        no_splits = np.empty(0, dtype=np.intp)
        seg, ta, tb, count = _sweep(m, 1.0, _cat(seg_owner, np.intp), _cat(seg_lo),
                                    _cat(seg_hi), np.zeros(m, dtype=np.intp), no_splits,
                                    no_splits.astype(float))
        hit = count > 0
        k, ta, tb = seg[hit], ta[hit], tb[hit]
        xa, ya = x0[k] + ta * ex[k], y0[k] + ta * ey[k]
        xb, yb = x0[k] + tb * ex[k], y0[k] + tb * ey[k]
        edges = 0.5 * (xa * yb - xb * ya)
        return float(arcs.sum() + edges.sum())


def _cat(parts: list[NDArray[Any]], dtype: type = np.float64) -> NDArray[Any]:
    return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype=dtype)


def _sweep(n: int, end: float, owner: NDArray[np.intp], lo: FloatArray, hi: FloatArray,
           initial: NDArray[np.intp], split_owner: NDArray[np.intp], split_at: FloatArray
           ) -> tuple[NDArray[np.intp], FloatArray, FloatArray, NDArray[np.intp]]:
    """Cut each owner's domain [0, end] at every interval end and split point.

    Intervals [lo, hi] add 1 to the cover count between them (lo > hi: from lo to ``end``
    and, counted in ``initial``, from 0 to hi). Returns the pieces as (owner, start, stop,
    count).
    """
    every = np.arange(n, dtype=np.intp)
    own = np.concatenate([every, every, owner, owner, split_owner])
    pos = np.concatenate([np.zeros(n), np.full(n, end), lo, hi, split_at])
    delta = np.concatenate([np.zeros(2 * n, dtype=np.intp), np.ones(len(lo), dtype=np.intp),
                            -np.ones(len(hi), dtype=np.intp),
                            np.zeros(len(split_at), dtype=np.intp)])
    # One float key sorts by owner, then position (ties closer than ~1e-9 of ``end`` may
    # swap, which changes the area by less than a square millimetre).
    order = np.argsort(own * (2.0 * end) + pos, kind="stable")
    own, pos, delta = own[order], pos[order], delta[order]
    running = np.cumsum(delta)
    first = np.ones(len(own), dtype=bool)
    first[1:] = own[1:] != own[:-1]
    base = (running - delta)[first]  # the running total before each owner's first event
    count = running - base[np.cumsum(first) - 1] + initial[own]
    same = own[1:] == own[:-1]
    return own[:-1][same], pos[:-1][same], pos[1:][same], count[:-1][same]


def _pairs(a: cKDTree, b: cKDTree, max_distance: float
           ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Index pairs (i in a, j in b) closer than ``max_distance``."""
    found = a.sparse_distance_matrix(b, max_distance, output_type="ndarray")
    return found["i"].astype(np.intp), found["j"].astype(np.intp)


def _rings(area: shapely.Geometry) -> list[FloatArray]:
    """Coordinates of every ring, exteriors counter-clockwise and holes clockwise."""
    oriented = shapely.orient_polygons(area, exterior_cw=False)
    rings: list[FloatArray] = []
    for poly in shapely.get_parts(oriented):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        rings.append(shapely.get_coordinates(poly.exterior))
        rings.extend(shapely.get_coordinates(hole) for hole in poly.interiors)
    return rings


class Shapes:
    """Service areas given as polygons (network isochrones, uploaded areas)."""

    def __init__(self, geoms: NDArray[np.object_]) -> None:
        self.geoms = geoms
        self.count = len(geoms)
        self.tree = shapely.STRtree(geoms)
        self._union: shapely.Geometry | None = None

    def covers_xy(self, x: FloatArray, y: FloatArray) -> NDArray[np.bool_]:
        if self._union is None:
            self._union = shapely.union_all(self.geoms) if self.count else EMPTY
            shapely.prepare(self._union)
        return np.asarray(shapely.intersects_xy(self._union, x, y), dtype=bool)

    def covered(self, region: shapely.Geometry, *, want_geometry: bool
                ) -> tuple[float, shapely.Geometry | None]:
        if region is None or region.is_empty or not self.count:
            return 0.0, (EMPTY if want_geometry else None)
        idx = self.tree.query(region, predicate="intersects")
        if not len(idx):
            return 0.0, (EMPTY if want_geometry else None)
        part = shapely.intersection(shapely.union_all(self.geoms[idx]), region)
        return float(part.area), (part if want_geometry else None)


Engine = Discs | Shapes


def service_engine(
    facilities_m: gpd.GeoDataFrame,
    *,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
) -> Engine:
    """The service areas of ``facilities_m`` (EPSG:4549) as a point-in-reach tester.

    ``engine.covers_xy(x, y)`` is True where a point (metres) lies within the radius of some
    facility (true circles) or inside a service-area polygon. Small and picklable, for
    counting millions of points on Dask workers (:mod:`geo.parallel`).
    """
    return make_engine(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category,
                   quad_segs=QUAD_SEGS)


def make_engine(
    facilities_m: gpd.GeoDataFrame,
    *,
    radius_m: float | None,
    radius_by_category: Mapping[str, float],
    quad_segs: int,
) -> Engine:
    """Discs for facility points, or the polygons themselves for service areas."""
    facilities_m = require_metric(facilities_m, "facilities_m")
    quad_segs = check_quad_segs(quad_segs)
    if is_polygonal(facilities_m):
        if radius_m is not None:
            raise InputError("radius_m applies to facility points; these are already service "
                             "areas (polygons)")
        return Shapes(polygonal_geoms(facilities_m, "service areas"))
    radii = facility_radii(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category)
    x, y = point_xy(facilities_m, "facilities_m")
    return Discs(x, y, radii.to_numpy(dtype=float), quad_segs)
