"""Siting analysis: where K new facilities would add the most coverage (greedy)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd

from geo.analysis.common import (
    AnalysisResult,
    data_sources,
    select,
    share,
    study_towns,
    to_wgs84,
    town_names,
)
from geo.coverage import SitingResult as Picks
from geo.coverage import read_candidates, suggest_sites
from geo.crs import to_metric
from geo.settings import FIXED_RADIUS_M

if TYPE_CHECKING:
    from geo.atlas import Atlas
    from geo.query import Filter

__all__ = ["SitingParams", "SitingResult", "run_siting"]


@dataclass(frozen=True)
class SitingParams:
    """Parameters of a siting run.

    ``k`` new sites reaching ``new_radius_m`` metres; existing facilities reach ``radius_m``
    (None = per category). Candidates: a grid at ``spacing_m`` metres inside the filter's
    towns, or the points in ``candidates`` (a file). ``new_radius_from`` says where
    ``new_radius_m`` came from (for the record).
    """

    k: int = 3
    new_radius_m: float = FIXED_RADIUS_M
    radius_m: float | None = None
    spacing_m: float = 1000.0
    candidates: Path | None = None
    include_placeholders: bool = False
    new_radius_from: str = "new_radius_m"


@dataclass(frozen=True)
class SitingResult(AnalysisResult):
    """The picks in order, each with what it adds, and the baseline they start from."""

    filter: Filter
    params: SitingParams
    picks: Picks
    towns: tuple[str, ...]
    sources: dict[str, object]
    excluded_placeholders: tuple[str, ...]
    uploaded_facilities: int = 0
    kind: str = field(default="siting", init=False)

    def body(self) -> dict[str, object]:
        result = self.picks
        picks = result.picks
        lonlat = picks.to_crs("EPSG:4326").geometry if len(picks) else gpd.GeoSeries([])
        rows = []
        for (cid, row), point in zip(picks.iterrows(), lonlat, strict=True):
            item: dict[str, object] = {
                "rank": int(row["rank"]), "candidate": str(cid), "town": row["town"],
                **town_names(str(row["town"])),
                "lon": round(point.x, 6), "lat": round(point.y, 6),
                "x_m": round(float(picks.geometry[cid].x), 1),
                "y_m": round(float(picks.geometry[cid].y), 1),
                "gain_m2": round(float(row["gain_m2"]), 1),
                "covered_m2_after": round(float(row["covered_m2_after"]), 1),
                "covered_share_after": share(row["covered_share_after"]),
            }
            if "gain_population" in picks.columns:
                item.update(gain_population=round(float(row["gain_population"]), 1),
                            covered_population_after=round(
                                float(row["covered_population_after"]), 1))
            rows.append(item)
        doc: dict[str, object] = {
            "towns": list(self.towns),
            "objective": result.objective,
            "candidates": result.candidates,
            "candidate_source": (str(self.params.candidates) if self.params.candidates
                                 else f"grid {self.params.spacing_m:g} m"),
            "area_m2": round(result.area_m2, 1),
            "baseline_covered_m2": round(result.baseline_covered_m2, 1),
            "baseline_covered_share": share(result.baseline_covered_m2 / result.area_m2
                                            if result.area_m2 else math.nan),
            "picks": rows,
        }
        if result.population is not None:
            doc["population"] = round(result.population, 1)
            doc["baseline_covered_population"] = round(
                result.baseline_covered_population or 0.0, 1)
        return doc

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """``suggested_sites``: the picks as points with rank, town and gains."""
        return {"suggested_sites": to_wgs84(self.picks.picks.reset_index())}


def run_siting(
    atlas: Atlas,
    flt: Filter,
    params: SitingParams | None = None,
    *,
    population: gpd.GeoDataFrame | None = None,
    population_source: str | None = None,
    uploaded: gpd.GeoDataFrame | None = None,
) -> SitingResult:
    """Greedy maximal-coverage siting of ``params.k`` new facilities in the filter's towns.

    Parameters
    ----------
    atlas, flt
        The data and the shared filter (its towns bound the candidates; all five if none).
    params : SitingParams
        k, radii in metres, candidate grid spacing in metres or a candidate file.
    population : GeoDataFrame, optional
        Polygons or points with ``population`` (any CRS): the objective becomes people.
    population_source : str, optional
        Where the population came from, for the sources.
    uploaded : GeoDataFrame, optional
        The user's own facilities (WGS84), filtered like the bundled ones and added.

    Returns
    -------
    SitingResult
        Picks in order with gains in m² (and people), in EPSG:4549.
    """
    params = params or SitingParams()
    chosen = select(atlas, flt, include_placeholders=params.include_placeholders,
                    uploaded=uploaded)
    towns_m = study_towns(atlas, flt)
    candidates = read_candidates(params.candidates) if params.candidates is not None else None
    picks = suggest_sites(chosen.points_m, towns_m, k=params.k,
                          new_radius_m=params.new_radius_m, candidates_m=candidates,
                          spacing_m=params.spacing_m, radius_m=params.radius_m,
                          population=to_metric(population) if population is not None else None)
    sources = data_sources(atlas.data_dir, ("facilities", "towns"))
    if params.candidates is not None:
        sources["candidates"] = str(params.candidates)
    if population is not None:
        sources["population"] = population_source or "supplied"
    return SitingResult(flt, params, picks, tuple(str(k) for k in towns_m["key"]), sources,
                        chosen.excluded_placeholders, chosen.uploaded)
