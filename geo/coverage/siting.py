"""Greedy maximal-coverage siting: where K new facilities would cover the most."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from geo._errors import InputError
from geo.coverage.candidates import grid_candidates
from geo.coverage.engine import QUAD_SEGS, check_quad_segs, make_engine
from geo.coverage.inputs import (
    FloatArray,
    check_radius,
    point_xy,
    polygonal_geoms,
    polygonal_only,
    require_metric,
    same_crs,
)
from geo.coverage.population import prepared_population
from geo.coverage.report import coverage_table, gaps_from_covered
from geo.settings import DEFAULT_RADIUS_M

__all__ = [
    "SitingResult",
    "suggest_sites",
]

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
        parts = np.array([polygonal_only(p) for p in parts], dtype=object)
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
        raise InputError(f"k must be a positive whole number of sites, got {k!r}")
    new_radius = check_radius(new_radius_m, "new_radius_m")
    quad_segs = check_quad_segs(quad_segs)
    towns_m = require_metric(towns_m, "towns_m")
    facilities_m = require_metric(facilities_m, "facilities_m")
    same_crs(facilities_m, towns_m, "facilities_m", "towns_m")
    if candidates_m is None:
        candidates_m = grid_candidates(towns_m, spacing_m=spacing_m)
    else:
        candidates_m = require_metric(candidates_m, "candidates_m")
        same_crs(candidates_m, towns_m, "candidates_m", "towns_m")
    cx, cy = point_xy(candidates_m, "candidates")
    centres = np.column_stack([cx, cy])

    engine = make_engine(facilities_m, radius_m=radius_m, radius_by_category=radius_by_category,
                     quad_segs=quad_segs)
    pop = prepared_population(population, population_column, towns_m)
    table, covered = coverage_table(engine, towns_m, population=pop, want_geometry=True)
    towns_geoms = polygonal_geoms(towns_m, "towns_m")
    gaps = gaps_from_covered(table, towns_m, covered).geometry.to_numpy()
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
