"""Point-count analysis: a point file too big for memory, counted per town and grid cell on Dask."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd

from geo.analysis.common import AnalysisResult, data_sources, select, town_names
from geo.coverage import service_engine
from geo.crs import Datum
from geo.parallel import (
    DEFAULT_CELL_M,
    OUTSIDE,
    PointSource,
    PointsSummary,
    open_points,
    summarise_points,
)
from geo.settings import DEFAULT_RADIUS_M, METRIC_CRS

if TYPE_CHECKING:
    from geo.atlas import Atlas
    from geo.query import Filter

__all__ = ["PointsParams", "PointsResult", "run_points"]


@dataclass(frozen=True)
class PointsParams:
    """The point file and how to read and count it.

    ``cell_m``: grid cell size in metres. ``coverage``: also count points within reach of
    the selected facilities, ``radius_m`` metres (None = per category; ``life_circle`` is
    the preset's name, for the record). ``datum`` of the lon/lat columns.
    """

    path: Path
    cell_m: float = DEFAULT_CELL_M
    coverage: bool = False
    radius_m: float | None = None
    life_circle: str | None = None
    lon_column: str | None = None
    lat_column: str | None = None
    datum: Datum = "wgs84"
    skip_invalid: bool = False
    include_placeholders: bool = False


@dataclass(frozen=True)
class PointsResult(AnalysisResult):
    """Counts per town (plus ``outside``) and per non-empty grid cell; unusable rows listed."""

    filter: Filter
    params: PointsParams
    summary: PointsSummary
    source: PointSource
    towns: gpd.GeoDataFrame
    sources: dict[str, object]
    excluded_placeholders: tuple[str, ...]
    kind: str = field(default="points", init=False)

    def body(self) -> dict[str, object]:
        doc = self.summary.to_dict()
        by_town = doc["by_town"]
        assert isinstance(by_town, dict)
        doc["by_town"] = {key: {**town_names(key), **row} if key != OUTSIDE else row
                          for key, row in by_town.items()}
        return doc

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """``points_grid`` (non-empty cells) and ``towns`` (the towns with their counts)."""
        counted = self.towns[["key", "name_zh", "name_en", "geometry"]].join(
            self.summary.by_town, on="key").reset_index(drop=True)
        return {"points_grid": self.summary.grid, "towns": counted}


def run_points(atlas: Atlas, flt: Filter, params: PointsParams, *,
               scheduler: str = "") -> PointsResult:
    """Count the points of ``params.path`` per town and grid cell on the active Dask scheduler.

    Parameters
    ----------
    atlas, flt
        The towns, and the facilities whose reach is counted with ``params.coverage`` (or a
        radius); placeholders left out unless ``params.include_placeholders``.
    params : PointsParams
        File, columns, datum, cell size in metres, coverage radius in metres.
    scheduler : str
        A description of the Dask scheduler in use (see :func:`geo.parallel.dask_client`).

    Returns
    -------
    PointsResult
        Counts; every row of the file accounted for (``rows == points + invalid``).
    """
    counting = params.coverage or params.radius_m is not None
    discs = None
    coverage: dict[str, object] | None = None
    excluded: tuple[str, ...] = ()
    if counting:
        chosen = select(atlas, flt, include_placeholders=params.include_placeholders)
        excluded = chosen.excluded_placeholders
        discs = service_engine(chosen.points_m, radius_m=params.radius_m)
        coverage = {"facilities": len(chosen.points_m), "filter": flt.to_params(),
                    "radius_m": params.radius_m if params.radius_m is not None
                    else "by category",
                    "radius_by_category_m": None if params.radius_m is not None
                    else dict(DEFAULT_RADIUS_M),
                    "life_circle": params.life_circle,
                    "measured_in": METRIC_CRS}
    source = open_points(params.path, lon_column=params.lon_column,
                         lat_column=params.lat_column, datum=params.datum)
    summary = summarise_points(source, atlas.towns, cell_m=params.cell_m, discs=discs,
                               coverage=coverage, skip_invalid=params.skip_invalid,
                               scheduler=scheduler)
    sources = data_sources(atlas.data_dir, ("facilities", "towns") if counting else ("towns",))
    sources["points"] = str(params.path)
    return PointsResult(flt, params, summary, source, atlas.towns, sources, excluded)
