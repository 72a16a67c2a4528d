"""Service areas, coverage per town and district, gap polygons, population and siting in metres.

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

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from geo._errors import DataError, Problem
from geo.crs import assert_projected, to_metric
from geo.settings import DEFAULT_RADIUS_M, GEOGRAPHIC_CRS

if TYPE_CHECKING:
    from geo.atlas import Atlas
    from geo.query import Filter

__all__ = [
    "LIFE_CIRCLE_5MIN_M",
    "LIFE_CIRCLE_10MIN_M",
    "LIFE_CIRCLE_15MIN_M",
    "LIFE_CIRCLE_15MIN_OUTER_M",
    "LIFE_CIRCLE_PRESETS_M",
    "POPULATION_COLUMNS",
    "QUAD_SEGS",
    "CoverageReport",
    "SitingResult",
    "atlas_coverage",
    "coverage_by_district",
    "coverage_by_town",
    "coverage_report",
    "facility_radii",
    "gap_polygons",
    "grid_candidates",
    "polygon_area_error",
    "read_candidates",
    "read_population",
    "service_areas",
    "service_engine",
    "suggest_sites",
]

FloatArray = NDArray[np.float64]

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

#: Column names recognised as the population count when none is named.
POPULATION_COLUMNS: Final = ("population", "pop", "人口", "常住人口", "POP", "Population")

# Quadtree tuning (performance only; results do not depend on them).
_MAX_TOP_CELLS: Final = 4096  # first-level cells per region at most
_LEAF_DISCS: Final = 12  # an undecided cell touched by at most this many discs is solved exactly
_MIN_CELL_FRACTION: Final = 1 / 64  # ... and cells smaller than r_min / 64 are solved exactly
_MAX_CANDIDATES: Final = 200_000
_EMPTY: Final = shapely.Polygon()


def polygon_area_error(quad_segs: int) -> float:
    """Relative area lost when a circle is drawn as a regular polygon with ``4*quad_segs`` sides.

    A regular n-gon inscribed in a circle of radius r has area (n/2) r² sin(2π/n).
    """
    if quad_segs < 1:
        raise ValueError(f"quad_segs must be a positive integer, got {quad_segs!r}")
    n = 4 * quad_segs
    return 1.0 - (n / (2.0 * math.pi)) * math.sin(2.0 * math.pi / n)


def _check_quad_segs(quad_segs: int) -> int:
    error = polygon_area_error(quad_segs)
    if error >= MAX_POLYGON_AREA_ERROR:
        raise ValueError(
            f"quad_segs={quad_segs} draws circles with {error:.2%} less area than a true "
            f"circle; use at least 10 (area error < {MAX_POLYGON_AREA_ERROR:.1%}), "
            f"default {QUAD_SEGS}"
        )
    return int(quad_segs)


def _check_radius(value: object, what: str) -> float:
    try:
        radius = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number of metres, got {value!r}") from None
    if not math.isfinite(radius) or radius <= 0:
        raise ValueError(f"{what} must be a positive number of metres, got {value!r}")
    return radius


# -- inputs ----------------------------------------------------------------------------------


def _require_metric(gdf: object, what: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame | gpd.GeoSeries):
        raise TypeError(f"'{what}' should be a GeoDataFrame, got {type(gdf).__name__}")
    assert_projected(gdf, what)
    return gdf if isinstance(gdf, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=gdf)


def _same_crs(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, what_a: str, what_b: str) -> None:
    if not a.crs.equals(b.crs):
        raise ValueError(
            f"{what_a} ({a.crs.to_string()}) and {what_b} ({b.crs.to_string()}) are in "
            "different CRSs; project both with geo.crs.to_metric()"
        )


def _row_label(index: object, n: int) -> str:
    return f"{index}" if not isinstance(index, int | np.integer) else f"row {n}"


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
        radius = _check_radius(radius_m, "radius_m")
        return pd.Series(radius, index=facilities.index, name="radius_m", dtype=float)
    for key, value in radius_by_category.items():
        _check_radius(value, f"radius_by_category[{key!r}]")
    if len(facilities) == 0:
        return pd.Series([], index=facilities.index, name="radius_m", dtype=float)
    if "category" not in facilities.columns:
        raise ValueError("facilities have no 'category' column: pass radius_m (metres) to "
                         "give every facility the same service radius")
    radii = [radius_by_category.get(c) if isinstance(c, str) else None
             for c in facilities["category"]]
    problems = [
        Problem("facilities", n, "category", cat,
                f"facility {_row_label(idx, n)} has no default service radius for this "
                f"category; pass radius_m or add it to radius_by_category "
                f"(known: {', '.join(sorted(radius_by_category))})")
        for n, (idx, cat, r) in enumerate(zip(facilities.index, facilities["category"], radii,
                                              strict=True), start=1)
        if r is None
    ]
    if problems:
        raise DataError(problems)
    return pd.Series(np.asarray(radii, dtype=float), index=facilities.index, name="radius_m")


def _point_xy(facilities_m: gpd.GeoDataFrame, what: str) -> tuple[FloatArray, FloatArray]:
    geoms = facilities_m.geometry.to_numpy()
    type_ids = shapely.get_type_id(geoms)
    bad = np.flatnonzero((type_ids != 0) | shapely.is_empty(geoms))
    if len(bad):
        problems = [
            Problem(what, int(i) + 1, "geometry",
                    None if geoms[i] is None else geoms[i].geom_type,
                    f"facility {_row_label(facilities_m.index[i], int(i) + 1)} needs a "
                    "non-empty Point")
            for i in bad[:200]
        ]
        raise DataError(problems)
    x = shapely.get_x(geoms).astype(np.float64)
    y = shapely.get_y(geoms).astype(np.float64)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        i = int(np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))[0])
        raise DataError(Problem(what, i + 1, "geometry", (x[i], y[i]),
                                "coordinates must be finite numbers"))
    return x, y


def _is_polygonal(gdf: gpd.GeoDataFrame) -> bool:
    if len(gdf) == 0:
        return False
    types = set(shapely.get_type_id(gdf.geometry.to_numpy()).tolist())
    return types <= {3, 6}


def _polygonal_geoms(gdf: gpd.GeoDataFrame, what: str) -> NDArray[np.object_]:
    geoms = gdf.geometry.to_numpy()
    types = shapely.get_type_id(geoms)
    bad = np.flatnonzero(~np.isin(types, (3, 6)))
    if len(bad):
        raise DataError([
            Problem(what, int(i) + 1, "geometry",
                    None if geoms[i] is None else geoms[i].geom_type,
                    "expected a Polygon or MultiPolygon")
            for i in bad[:200]
        ])
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    return np.asarray(geoms, dtype=object)


# -- service areas ---------------------------------------------------------------------------


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
    facilities_m = _require_metric(facilities_m, "facilities_m")
    quad_segs = _check_quad_segs(quad_segs)
    radii = facility_radii(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category)
    x, y = _point_xy(facilities_m, "facilities_m")
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


class _Discs:
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
            return 0.0, (_EMPTY if want_geometry else None)
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
                                else _EMPTY) if want_geometry else None)
        # Leaves of one level form an exact grid: their outline is a cheap coverage union.
        # Leaves of different levels are disjoint, so their outlines are kept side by side
        # (no union needed: edges they share cancel out in the boundary integral).
        parts = [part for cells, _, _ in leaves for part in shapely.get_parts(
            _polygonal_only(shapely.intersection(shapely.coverage_union_all(cells), region)))]
        outline = shapely.MultiPolygon(parts) if parts else _EMPTY
        # Every disc reaching a leaf is listed (ball of radius r + half-diagonal), so inside
        # the leaves the union of these discs is the union of all discs.
        found = [np.unique(np.concatenate([f[n] for _, _, f in leaves]))
                 for n in range(len(self.groups))]
        circles = [(g, idx) for g, idx in zip(self.groups, found, strict=True) if len(idx)]
        area = full_area + self._union_area(outline, circles,
                                            max_edge_m=max(size for _, size, _ in leaves))
        if not want_geometry:
            return area, None
        partial = _EMPTY
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


class _Shapes:
    """Service areas given as polygons (network isochrones, uploaded areas)."""

    def __init__(self, geoms: NDArray[np.object_]) -> None:
        self.geoms = geoms
        self.count = len(geoms)
        self.tree = shapely.STRtree(geoms)
        self._union: shapely.Geometry | None = None

    def covers_xy(self, x: FloatArray, y: FloatArray) -> NDArray[np.bool_]:
        if self._union is None:
            self._union = shapely.union_all(self.geoms) if self.count else _EMPTY
            shapely.prepare(self._union)
        return np.asarray(shapely.intersects_xy(self._union, x, y), dtype=bool)

    def covered(self, region: shapely.Geometry, *, want_geometry: bool
                ) -> tuple[float, shapely.Geometry | None]:
        if region is None or region.is_empty or not self.count:
            return 0.0, (_EMPTY if want_geometry else None)
        idx = self.tree.query(region, predicate="intersects")
        if not len(idx):
            return 0.0, (_EMPTY if want_geometry else None)
        part = shapely.intersection(shapely.union_all(self.geoms[idx]), region)
        return float(part.area), (part if want_geometry else None)


_Engine = _Discs | _Shapes


def service_engine(
    facilities_m: gpd.GeoDataFrame,
    *,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
) -> _Engine:
    """The service areas of ``facilities_m`` (EPSG:4549) as a point-in-reach tester.

    ``engine.covers_xy(x, y)`` is True where a point (metres) lies within the radius of some
    facility (true circles) or inside a service-area polygon. Small and picklable, for
    counting millions of points on Dask workers (:mod:`geo.parallel`).
    """
    return _engine(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category,
                   quad_segs=QUAD_SEGS)


def _engine(
    facilities_m: gpd.GeoDataFrame,
    *,
    radius_m: float | None,
    radius_by_category: Mapping[str, float],
    quad_segs: int,
) -> _Engine:
    """Discs for facility points, or the polygons themselves for service areas."""
    facilities_m = _require_metric(facilities_m, "facilities_m")
    quad_segs = _check_quad_segs(quad_segs)
    if _is_polygonal(facilities_m):
        if radius_m is not None:
            raise ValueError("radius_m applies to facility points; these are already service "
                             "areas (polygons)")
        return _Shapes(_polygonal_geoms(facilities_m, "service areas"))
    radii = facility_radii(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category)
    x, y = _point_xy(facilities_m, "facilities_m")
    return _Discs(x, y, radii.to_numpy(dtype=float), quad_segs)


# -- population ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Population:
    kind: Literal["polygons", "points"]
    geoms: NDArray[np.object_]
    values: FloatArray
    areas: FloatArray
    x: FloatArray
    y: FloatArray
    tree: shapely.STRtree | None

    @classmethod
    def build(cls, population_m: gpd.GeoDataFrame, column: str | None) -> _Population:
        population_m = _require_metric(population_m, "population")
        column = _population_column(population_m, column, "population")
        values = _population_values(population_m, column, "population")
        empty = np.empty(0)
        if len(population_m) and _is_polygonal(population_m):
            geoms = _polygonal_geoms(population_m, "population")
            areas = shapely.area(geoms)
            if (areas <= 0).any():
                i = int(np.flatnonzero(areas <= 0)[0])
                raise DataError(Problem("population", i + 1, "geometry", 0.0,
                                        "a population polygon has zero area"))
            return cls("polygons", geoms, values, areas, empty, empty, shapely.STRtree(geoms))
        x, y = _point_xy(population_m, "population")
        return cls("points", np.empty(0, dtype=object), values, empty, x, y, None)

    def within(self, region: shapely.Geometry, covered: shapely.Geometry | None,
               engine: _Engine) -> tuple[float, float]:
        """(people in region, people in the covered part of region)."""
        if self.kind == "points":
            inside = shapely.intersects_xy(region, self.x, self.y)
            if not inside.any():
                return 0.0, 0.0
            hit = engine.covers_xy(self.x[inside], self.y[inside])
            vals = self.values[inside]
            return float(vals.sum()), float(vals[hit].sum())
        assert self.tree is not None
        idx = self.tree.query(region, predicate="intersects")
        if not len(idx):
            return 0.0, 0.0
        density = self.values[idx] / self.areas[idx]
        parts = shapely.intersection(self.geoms[idx], region)
        total = float((shapely.area(parts) * density).sum())
        if covered is None or covered.is_empty:
            return total, 0.0
        in_cover = float((shapely.area(shapely.intersection(parts, covered)) * density).sum())
        return total, in_cover


def _population_column(gdf: pd.DataFrame, column: str | None, what: str) -> str:
    if column is not None:
        if column not in gdf.columns:
            raise DataError(Problem(what, None, column, None,
                                    f"no column {column!r}; columns are "
                                    f"{', '.join(map(str, gdf.columns))}"))
        return column
    for name in POPULATION_COLUMNS:
        if name in gdf.columns:
            return name
    raise DataError(Problem(what, None, None, None,
                            "no population column: name one (--population-column) or call it "
                            f"one of {', '.join(POPULATION_COLUMNS)}; columns are "
                            f"{', '.join(str(c) for c in gdf.columns if c != 'geometry')}"))


def _population_values(gdf: pd.DataFrame, column: str, what: str) -> FloatArray:
    raw = gdf[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(bad):
        raise DataError([
            Problem(what, int(i) + 1, column, raw.iloc[i],
                    "population must be a non-negative number")
            for i in bad[:200]
        ])
    return values


def read_population(path: str | Path, *, column: str | None = None) -> gpd.GeoDataFrame:
    """Read a population layer (polygons or points with a count column) and project it.

    Returns the layer in EPSG:4549 with the count in column ``population``. Every problem
    (no CRS, no count column, a negative or non-numeric count, mixed geometry) is reported in
    one DataError naming the file, row and field.
    """
    from geo._io import read_vector

    path = Path(path)
    gdf = read_vector(path)
    if gdf.crs is None:
        raise DataError(Problem(str(path), None, None, None,
                                f"no CRS: save it with one (e.g. {GEOGRAPHIC_CRS})"))
    name = _population_column(gdf, column, str(path))
    problems: list[Problem] = []
    try:
        values = _population_values(gdf, name, str(path))
    except DataError as exc:
        problems.extend(exc.problems)
        values = np.zeros(len(gdf))
    types = shapely.get_type_id(gdf.geometry.to_numpy())
    polygonal = np.isin(types, (3, 6))
    points = types == 0
    if not (polygonal.all() or points.all()):
        expected = "Polygon" if polygonal.sum() >= points.sum() else "Point"
        wrong = ~polygonal if expected == "Polygon" else ~points
        problems.extend(
            Problem(str(path), int(i) + 1, "geometry",
                    None if gdf.geometry.iloc[i] is None else gdf.geometry.iloc[i].geom_type,
                    f"expected {expected} like the other rows (polygons or points, not both)")
            for i in np.flatnonzero(wrong)[:200]
        )
    if problems:
        raise DataError(problems, file=str(path))
    out = gdf[[gdf.geometry.name]].assign(population=values)
    return to_metric(out)


# -- tables ----------------------------------------------------------------------------------


_NAME_COLUMNS = ("key", "code", "name_zh", "name_en")


def _coverage_table(
    engine: _Engine,
    regions_m: gpd.GeoDataFrame,
    *,
    population: _Population | None,
    want_geometry: bool,
) -> tuple[pd.DataFrame, list[shapely.Geometry | None]]:
    geoms = _polygonal_geoms(regions_m, "regions")
    areas, covered, covered_geoms = [], [], []
    pop_total, pop_covered = [], []
    need = want_geometry or (population is not None and population.kind == "polygons")
    for geom in geoms:
        area, part = engine.covered(geom, want_geometry=need)
        areas.append(float(geom.area))
        covered.append(area)
        covered_geoms.append(part)
        if population is not None:
            total, hit = population.within(geom, part, engine)
            pop_total.append(total)
            pop_covered.append(hit)
    keep = [c for c in _NAME_COLUMNS if c in regions_m.columns]
    table = pd.DataFrame(regions_m[keep]).copy()
    table["area_m2"] = areas
    table["covered_m2"] = np.minimum(covered, areas)  # float noise must not exceed the region
    with np.errstate(invalid="ignore", divide="ignore"):
        table["covered_share"] = table["covered_m2"] / table["area_m2"]
    if population is not None:
        table["population"] = pop_total
        table["covered_population"] = pop_covered
        with np.errstate(invalid="ignore", divide="ignore"):
            table["population_share"] = np.where(
                np.asarray(pop_total) > 0,
                np.asarray(pop_covered) / np.maximum(pop_total, 1e-300), np.nan)
    return table, covered_geoms


def _prepared_population(population: gpd.GeoDataFrame | None, column: str | None,
                         regions_m: gpd.GeoDataFrame) -> _Population | None:
    if population is None:
        return None
    pop = _require_metric(population, "population")
    _same_crs(pop, regions_m, "population", "towns_m")
    return _Population.build(pop, column)


def coverage_by_town(
    facilities_m: gpd.GeoDataFrame,
    towns_m: gpd.GeoDataFrame,
    *,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
    population: gpd.GeoDataFrame | None = None,
    population_column: str | None = None,
    quad_segs: int = QUAD_SEGS,
) -> pd.DataFrame:
    """Covered area and share of each town (index of ``towns_m``), in EPSG:4549 metres.

    ``facilities_m`` are points (discs of ``radius_m``, or of the category's default radius)
    or polygons (service areas such as network isochrones). Overlapping discs count once.
    Columns: ``key``/``name_zh``/``name_en`` when present, ``area_m2``, ``covered_m2``,
    ``covered_share``; with ``population`` (polygons: areal interpolation, people spread
    evenly over each polygon; points: a point counts when within reach) also
    ``population``, ``covered_population`` and ``population_share``.
    """
    towns_m = _require_metric(towns_m, "towns_m")
    _same_crs(_require_metric(facilities_m, "facilities_m"), towns_m, "facilities_m", "towns_m")
    engine = _engine(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category,
                     quad_segs=quad_segs)
    pop = _prepared_population(population, population_column, towns_m)
    table, _ = _coverage_table(engine, towns_m, population=pop, want_geometry=False)
    return table


#: Note on districts whose polygon is not land only.
COASTAL_NOTE: Final = ("polygon includes sea/estuary water and tidal flats: no land share "
                       "computed (covered area shown)")


def coverage_by_district(
    facilities_m: gpd.GeoDataFrame,
    districts_m: gpd.GeoDataFrame,
    *,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
    population: gpd.GeoDataFrame | None = None,
    population_column: str | None = None,
    quad_segs: int = QUAD_SEGS,
) -> pd.DataFrame:
    """Like :func:`coverage_by_town` for districts; shares of land only where the polygon is land.

    Districts with ``land_area_ok`` False (coastal: the polygon runs out over water) get
    ``covered_share`` NaN and a ``note`` saying why; their ``covered_m2`` is still given.
    """
    districts_m = _require_metric(districts_m, "districts_m")
    _same_crs(_require_metric(facilities_m, "facilities_m"), districts_m, "facilities_m",
              "districts_m")
    engine = _engine(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category,
                     quad_segs=quad_segs)
    pop = _prepared_population(population, population_column, districts_m)
    table, _ = _coverage_table(engine, districts_m, population=pop, want_geometry=False)
    return _land_shares(table, districts_m)


def _land_shares(table: pd.DataFrame, districts_m: pd.DataFrame) -> pd.DataFrame:
    land_ok = (districts_m["land_area_ok"].astype(bool) if "land_area_ok" in districts_m
               else pd.Series(True, index=districts_m.index))
    table = table.copy()
    table["land_area_ok"] = land_ok.to_numpy()
    if "coastal" in districts_m:
        table["coastal"] = districts_m["coastal"].astype(bool).to_numpy()
    table.loc[~table["land_area_ok"], "covered_share"] = np.nan
    table["note"] = np.where(table["land_area_ok"], "", COASTAL_NOTE)
    return table


def gap_polygons(
    facilities_m: gpd.GeoDataFrame,
    towns_m: gpd.GeoDataFrame,
    *,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
    quad_segs: int = QUAD_SEGS,
) -> gpd.GeoDataFrame:
    """The uncovered part of each town (index of ``towns_m``), EPSG:4549.

    Columns: ``key``/``name_zh``/``name_en`` when present, ``gap_m2``, ``gap_share``. A fully
    covered town has an empty geometry and ``gap_m2`` 0.
    """
    towns_m = _require_metric(towns_m, "towns_m")
    _same_crs(_require_metric(facilities_m, "facilities_m"), towns_m, "facilities_m", "towns_m")
    engine = _engine(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category,
                     quad_segs=quad_segs)
    table, covered = _coverage_table(engine, towns_m, population=None, want_geometry=True)
    return _gaps(table, towns_m, covered)


def _gaps(table: pd.DataFrame, towns_m: gpd.GeoDataFrame,
          covered: Sequence[shapely.Geometry | None]) -> gpd.GeoDataFrame:
    towns = _polygonal_geoms(towns_m, "towns_m")
    gaps = np.empty(len(towns), dtype=object)
    for i, (town, part) in enumerate(zip(towns, covered, strict=True)):
        gap = town if part is None or part.is_empty else shapely.difference(town, part)
        # Keep areas only: a difference can leave slivers of lower dimension.
        gaps[i] = _polygonal_only(gap)
    keep = [c for c in _NAME_COLUMNS if c in towns_m.columns]
    out = pd.DataFrame(towns_m[keep]).copy()
    # The uncovered area is what the table says is not covered (true circles); the geometry
    # is drawn with the service-area polygons, whose area is up to 0.16% off at the edges.
    out["gap_m2"] = (table["area_m2"] - table["covered_m2"]).to_numpy()
    out["gap_share"] = out["gap_m2"] / table["area_m2"].to_numpy()
    return gpd.GeoDataFrame(out, geometry=gaps, index=towns_m.index, crs=towns_m.crs)


def _polygonal_only(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.is_empty or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.MultiPolygon()


# -- one report for the CLI and the dashboard ------------------------------------------------


@dataclass(frozen=True)
class CoverageReport:
    """Everything ``newtown coverage`` prints. Treat the frames as read-only (they are cached).

    ``towns``/``districts``: tables as from :func:`coverage_by_town` /
    :func:`coverage_by_district`; ``gaps``: :func:`gap_polygons`; ``covered``: the covered
    part of each town (EPSG:4549, town index), for maps and population weighting.
    """

    towns: pd.DataFrame
    districts: pd.DataFrame | None
    gaps: gpd.GeoDataFrame
    covered: gpd.GeoSeries
    facilities: int
    distinct_sites: int
    parameters: Mapping[str, object]


def coverage_report(
    facilities_m: gpd.GeoDataFrame,
    towns_m: gpd.GeoDataFrame,
    districts_m: gpd.GeoDataFrame | None = None,
    *,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
    population: gpd.GeoDataFrame | None = None,
    population_column: str | None = None,
    quad_segs: int = QUAD_SEGS,
) -> CoverageReport:
    """Towns table, districts table, gap polygons and covered parts in one pass (one engine)."""
    towns_m = _require_metric(towns_m, "towns_m")
    facilities_m = _require_metric(facilities_m, "facilities_m")
    _same_crs(facilities_m, towns_m, "facilities_m", "towns_m")
    engine = _engine(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category,
                     quad_segs=quad_segs)
    pop = _prepared_population(population, population_column, towns_m)
    towns, covered = _coverage_table(engine, towns_m, population=pop, want_geometry=True)
    districts = None
    if districts_m is not None:
        districts_m = _require_metric(districts_m, "districts_m")
        _same_crs(facilities_m, districts_m, "facilities_m", "districts_m")
        table, _ = _coverage_table(engine, districts_m, population=pop, want_geometry=False)
        districts = _land_shares(table, districts_m)
    params: dict[str, object] = {
        "radius_m": radius_m,
        "radius_by_category": None if radius_m is not None else dict(radius_by_category),
        "quad_segs": quad_segs,
        "polygon_area_error": round(polygon_area_error(quad_segs), 6),
        "crs": towns_m.crs.to_string(),
        "method": ("service-area polygons: union per region" if isinstance(engine, _Shapes)
                   else "true circles: quadtree per region, exact boundary integral at "
                        "coverage edges; gap polygons drawn with 4*quad_segs-gons"),
    }
    return CoverageReport(
        towns=towns,
        districts=districts,
        gaps=_gaps(towns, towns_m, covered),
        covered=gpd.GeoSeries(covered, index=towns_m.index, crs=towns_m.crs),
        facilities=len(facilities_m),
        distinct_sites=engine.count,
        parameters=MappingProxyType(params),
    )


def atlas_coverage(
    atlas: Atlas,
    flt: Filter | None = None,
    *,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
    quad_segs: int = QUAD_SEGS,
) -> CoverageReport:
    """Coverage of the atlas's towns and districts by the filtered facilities, cached.

    Cached per (atlas, filter, radius, radii per category, quad_segs): the dashboard can call
    it on every callback. Population weighting is applied on top with
    :func:`coverage_report` (it needs the layer, which is not a cache key).
    """
    from geo.query import Filter

    items = tuple(sorted((str(k), float(v)) for k, v in radius_by_category.items()))
    radius = None if radius_m is None else _check_radius(radius_m, "radius_m")
    return _atlas_coverage_cached(atlas, flt if flt is not None else Filter(), radius, items,
                                  int(quad_segs))


@functools.lru_cache(maxsize=32)
def _atlas_coverage_cached(atlas: Atlas, flt: Filter, radius_m: float | None,
                           radius_items: tuple[tuple[str, float], ...],
                           quad_segs: int) -> CoverageReport:
    selected = atlas.facilities_m.loc[flt.mask(atlas.facilities)]
    return coverage_report(selected, atlas.towns_m, atlas.districts_m, radius_m=radius_m,
                           radius_by_category=dict(radius_items), quad_segs=quad_segs)


# -- siting ----------------------------------------------------------------------------------


def grid_candidates(towns_m: gpd.GeoDataFrame, *, spacing_m: float = 1000.0) -> gpd.GeoDataFrame:
    """Candidate sites on a regular grid (multiples of ``spacing_m`` in EPSG:4549) in each town.

    Index ``<town key>-<n>`` (or ``<row>-<n>`` without a ``key`` column); column ``town``.
    """
    towns_m = _require_metric(towns_m, "towns_m")
    spacing = _check_radius(spacing_m, "spacing_m")
    geoms = _polygonal_geoms(towns_m, "towns_m")
    keys = (list(towns_m["key"]) if "key" in towns_m.columns
            else [str(i) for i in towns_m.index])
    total = sum(g.area for g in geoms) / spacing**2
    if total > _MAX_CANDIDATES:
        raise ValueError(f"spacing_m={spacing_m:g} gives about {total:,.0f} candidate sites; "
                         f"use a spacing that gives at most {_MAX_CANDIDATES:,}")
    ids: list[str] = []
    towns: list[str] = []
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    for key, geom in zip(keys, geoms, strict=True):
        minx, miny, maxx, maxy = geom.bounds
        gx = np.arange(math.ceil(minx / spacing), math.floor(maxx / spacing) + 1) * spacing
        gy = np.arange(math.ceil(miny / spacing), math.floor(maxy / spacing) + 1) * spacing
        grid_x, grid_y = np.meshgrid(gx, gy)
        mx, my = grid_x.ravel(), grid_y.ravel()
        inside = shapely.contains_xy(geom, mx, my)
        mx, my = mx[inside], my[inside]
        ids.extend(f"{key}-{n:04d}" for n in range(1, len(mx) + 1))
        towns.extend([key] * len(mx))
        xs.append(mx)
        ys.append(my)
    x = np.concatenate(xs) if xs else np.empty(0)
    y = np.concatenate(ys) if ys else np.empty(0)
    return gpd.GeoDataFrame({"town": towns}, geometry=shapely.points(x, y),
                            index=pd.Index(ids, name="candidate"), crs=towns_m.crs)


def read_candidates(path: str | Path) -> gpd.GeoDataFrame:
    """Candidate sites from a point file (GeoJSON, GeoPackage, ...) or a CSV with lon/lat (WGS84).

    Returns them in EPSG:4549; the index is the ``id`` column when there is one (unique),
    else ``C1, C2, ...``.
    """
    from geo._io import read_vector

    path = Path(path)
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, encoding="utf-8-sig")
        missing = [c for c in ("lon", "lat") if c not in frame.columns]
        if missing:
            raise DataError(Problem(str(path), None, ", ".join(missing), None,
                                    "a candidate CSV needs lon and lat columns (WGS84)"))
        lon = pd.to_numeric(frame["lon"], errors="coerce")
        lat = pd.to_numeric(frame["lat"], errors="coerce")
        bad = np.flatnonzero(~(lon.between(-180, 180) & lat.between(-90, 90)).to_numpy())
        if len(bad):
            raise DataError([Problem(str(path), int(i) + 1, "lon/lat",
                                     (frame["lon"].iloc[i], frame["lat"].iloc[i]),
                                     "expected WGS84 longitude and latitude in degrees")
                             for i in bad[:200]])
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat),
                               crs=GEOGRAPHIC_CRS)
    else:
        gdf = read_vector(path)
        if gdf.crs is None:
            raise DataError(Problem(str(path), None, None, None,
                                    f"no CRS: save it with one (e.g. {GEOGRAPHIC_CRS})"))
    _point_xy(gdf, str(path))  # every row a point, or one error listing the rows
    if "id" in gdf.columns and gdf["id"].is_unique and gdf["id"].notna().all():
        gdf = gdf.set_index(gdf["id"].astype(str).rename("candidate"))
    else:
        gdf.index = pd.Index([f"C{n}" for n in range(1, len(gdf) + 1)], name="candidate")
    return to_metric(gdf)


@dataclass(frozen=True)
class SitingResult:
    """Greedy siting picks and what they add.

    ``picks``: one row per pick, in order, indexed by candidate: ``rank``, ``town``,
    ``gain_m2`` (newly covered town area), ``covered_m2_after``, ``covered_share_after`` and,
    with population, ``gain_population``, ``covered_population_after``. Fewer than ``k``
    rows when no candidate adds anything more.
    """

    picks: gpd.GeoDataFrame
    objective: Literal["area", "population"]
    new_radius_m: float
    candidates: int
    area_m2: float
    baseline_covered_m2: float
    population: float | None
    baseline_covered_population: float | None


class _Ledger:
    """Uncovered stuff with weights: pieces of area (weight = people or 1 per m²) or points."""

    def __init__(self, *, pieces: NDArray[np.object_] | None = None,
                 weights: FloatArray | None = None, x: FloatArray | None = None,
                 y: FloatArray | None = None) -> None:
        self.pieces = pieces
        self.weights = np.asarray(weights if weights is not None else [], dtype=float)
        self.x, self.y = x, y
        self.open = np.ones(len(self.weights), dtype=bool)
        self._rebuild()

    def _rebuild(self) -> None:
        self.tree = shapely.STRtree(self.pieces) if self.pieces is not None else None

    def gains(self, discs: NDArray[np.object_], centres: FloatArray, radius: float
              ) -> FloatArray:
        if self.pieces is not None:
            assert self.tree is not None
            gains: FloatArray = np.zeros(len(discs))
            if not len(self.pieces) or not len(discs):
                return gains
            ci, pi = self.tree.query(discs, predicate="intersects")
            if len(ci):
                areas = shapely.area(shapely.intersection(discs[ci], self.pieces[pi]))
                # With weights, bincount returns float64 (numpy's stub says intp).
                gains = cast(FloatArray, np.bincount(ci, weights=areas * self.weights[pi],
                                                     minlength=len(discs)))
            return np.asarray(gains, dtype=float)
        assert self.x is not None and self.y is not None
        if not len(self.x) or not len(centres):
            return np.zeros(len(centres))
        tree = cKDTree(np.column_stack([self.x[self.open], self.y[self.open]]))
        w = self.weights[self.open]
        hits = tree.query_ball_point(centres, radius)
        return np.array([w[h].sum() if h else 0.0 for h in hits], dtype=float)

    def take(self, disc: shapely.Geometry, centre: FloatArray, radius: float) -> float:
        """Remove what ``disc`` covers; return its weight."""
        if self.pieces is not None:
            assert self.tree is not None
            idx = self.tree.query(disc, predicate="intersects")
            if not len(idx):
                return 0.0
            before = shapely.area(self.pieces[idx]) * self.weights[idx]
            rest = shapely.difference(self.pieces[idx], disc)
            gained = float((before - shapely.area(rest) * self.weights[idx]).sum())
            self.pieces = self.pieces.copy()
            self.pieces[idx] = rest
            alive = ~shapely.is_empty(self.pieces)
            self.pieces, self.weights = self.pieces[alive], self.weights[alive]
            self._rebuild()
            return gained
        assert self.x is not None and self.y is not None
        near = np.hypot(self.x - centre[0], self.y - centre[1]) <= radius
        newly = near & self.open
        self.open &= ~near
        return float(self.weights[newly].sum())


def _tile(geoms: Iterable[shapely.Geometry], size: float) -> NDArray[np.object_]:
    """Cut polygons into pieces no bigger than ``size`` x ``size`` (faster overlays)."""
    out: list[NDArray[np.object_]] = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            continue
        minx, miny, maxx, maxy = geom.bounds
        gx = np.arange(math.floor(minx / size), math.ceil(maxx / size)) * size
        gy = np.arange(math.floor(miny / size), math.ceil(maxy / size)) * size
        mx, my = np.meshgrid(gx, gy)
        boxes = shapely.box(mx.ravel(), my.ravel(), mx.ravel() + size, my.ravel() + size)
        boxes = boxes[shapely.intersects(geom, boxes)]
        parts = shapely.intersection(boxes, geom)
        parts = np.array([_polygonal_only(p) for p in parts], dtype=object)
        out.append(parts[~shapely.is_empty(parts)])
    return np.concatenate(out) if out else np.empty(0, dtype=object)


def suggest_sites(
    facilities_m: gpd.GeoDataFrame,
    towns_m: gpd.GeoDataFrame,
    *,
    k: int,
    new_radius_m: float,
    candidates_m: gpd.GeoDataFrame | None = None,
    spacing_m: float = 1000.0,
    radius_m: float | None = None,
    radius_by_category: Mapping[str, float] = DEFAULT_RADIUS_M,
    population: gpd.GeoDataFrame | None = None,
    population_column: str | None = None,
    quad_segs: int = QUAD_SEGS,
) -> SitingResult:
    """Greedy maximal coverage: ``k`` new sites, each adding the most uncovered town area.

    Existing coverage comes from ``facilities_m`` (radii as in :func:`coverage_by_town`). New
    sites reach ``new_radius_m``. Candidates are ``candidates_m`` (points) or a grid at
    ``spacing_m`` inside the towns. With ``population`` the objective is newly covered people
    instead of area. Each pick is the candidate with the largest gain given the earlier picks
    (ties: the first candidate in order), so the result is deterministic. Greedy placement is
    within 1 - 1/e (63%) of the best possible for this objective.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive whole number of sites, got {k!r}")
    new_radius = _check_radius(new_radius_m, "new_radius_m")
    quad_segs = _check_quad_segs(quad_segs)
    towns_m = _require_metric(towns_m, "towns_m")
    facilities_m = _require_metric(facilities_m, "facilities_m")
    _same_crs(facilities_m, towns_m, "facilities_m", "towns_m")
    if candidates_m is None:
        candidates_m = grid_candidates(towns_m, spacing_m=spacing_m)
    else:
        candidates_m = _require_metric(candidates_m, "candidates_m")
        _same_crs(candidates_m, towns_m, "candidates_m", "towns_m")
    cx, cy = _point_xy(candidates_m, "candidates")
    centres = np.column_stack([cx, cy])

    engine = _engine(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category,
                     quad_segs=quad_segs)
    pop = _prepared_population(population, population_column, towns_m)
    table, covered = _coverage_table(engine, towns_m, population=pop, want_geometry=True)
    towns_geoms = _polygonal_geoms(towns_m, "towns_m")
    gaps = _gaps(table, towns_m, covered).geometry.to_numpy()
    area_pieces = _tile(gaps, new_radius)
    area_ledger = _Ledger(pieces=area_pieces, weights=np.ones(len(area_pieces)))
    pop_ledger: _Ledger | None = None
    if pop is not None and pop.kind == "polygons":
        assert pop.tree is not None
        pi, qi = pop.tree.query(area_pieces, predicate="intersects")
        parts = shapely.intersection(area_pieces[pi], pop.geoms[qi])
        keep = ~shapely.is_empty(parts) & (shapely.area(parts) > 0)
        pop_ledger = _Ledger(pieces=parts[keep], weights=(pop.values / pop.areas)[qi][keep])
    elif pop is not None:
        in_any = np.zeros(len(pop.x), dtype=bool)
        for geom in towns_geoms:
            in_any |= shapely.intersects_xy(geom, pop.x, pop.y)
        open_ = in_any & ~engine.covers_xy(pop.x, pop.y)
        pop_ledger = _Ledger(weights=pop.values[open_], x=pop.x[open_], y=pop.y[open_])

    objective: Literal["area", "population"] = "population" if pop_ledger else "area"
    target = pop_ledger if pop_ledger is not None else area_ledger
    discs = shapely.buffer(shapely.points(centres), new_radius, quad_segs=quad_segs)
    gains = target.gains(discs, centres, new_radius)
    if len(centres):
        neighbours = cKDTree(centres)

    area_total = float(table["area_m2"].sum())
    covered_area = float(table["covered_m2"].sum())
    pop_total = float(table["population"].sum()) if pop is not None else None
    pop_covered = float(table["covered_population"].sum()) if pop is not None else None
    rows: list[dict[str, object]] = []
    chosen: list[int] = []
    for rank in range(1, int(k) + 1):
        if not len(gains):
            break
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        gained_area = area_ledger.take(discs[best], centres[best], new_radius)
        covered_area += gained_area
        row: dict[str, object] = {
            "rank": rank, "gain_m2": gained_area, "covered_m2_after": covered_area,
            "covered_share_after": covered_area / area_total if area_total else np.nan,
        }
        if pop_ledger is not None:
            gained_pop = pop_ledger.take(discs[best], centres[best], new_radius)
            assert pop_covered is not None and pop_total is not None
            pop_covered += gained_pop
            row.update(gain_population=gained_pop, covered_population_after=pop_covered,
                       population_share_after=pop_covered / pop_total if pop_total else np.nan)
        elif pop is not None:
            row.update(gain_population=0.0, covered_population_after=pop_covered)
        rows.append(row)
        chosen.append(best)
        # Only candidates whose disc overlaps the pick can lose gain (submodularity).
        near = np.asarray(neighbours.query_ball_point(centres[best], 2 * new_radius),
                          dtype=np.intp)
        gains[near] = target.gains(discs[near], centres[near], new_radius)
        gains[best] = -np.inf

    picks = pd.DataFrame(rows, index=candidates_m.index[chosen])
    if "town" in candidates_m.columns:
        picks.insert(1, "town", candidates_m["town"].iloc[chosen].to_numpy())
    else:
        picks.insert(1, "town", _town_of(centres[chosen], towns_m, towns_geoms))
    return SitingResult(
        picks=gpd.GeoDataFrame(picks, geometry=candidates_m.geometry.iloc[chosen].to_numpy(),
                               crs=towns_m.crs),
        objective=objective,
        new_radius_m=new_radius,
        candidates=len(candidates_m),
        area_m2=area_total,
        baseline_covered_m2=float(table["covered_m2"].sum()),
        population=pop_total,
        baseline_covered_population=(float(table["covered_population"].sum())
                                     if pop is not None else None),
    )


def _town_of(xy: FloatArray, towns_m: gpd.GeoDataFrame,
             geoms: NDArray[np.object_]) -> list[object]:
    keys = list(towns_m["key"]) if "key" in towns_m.columns else list(towns_m.index)
    out: list[object] = [None] * len(xy)
    for key, geom in zip(keys, geoms, strict=True):
        inside = shapely.intersects_xy(geom, xy[:, 0], xy[:, 1]) if len(xy) else []
        for i in np.flatnonzero(inside):
            if out[i] is None:
                out[i] = key
    return out
