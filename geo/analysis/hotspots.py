"""Hotspot analysis: Getis-Ord Gi* hot and cold spots of facility counts per cell."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import shapely

from geo.analysis.common import (
    AnalysisResult,
    data_sources,
    finite,
    select,
    study_towns,
    to_wgs84,
)
from geo.clustering import HOTSPOT_CLASSES, hotspots, parse_cell
from geo.settings import GEOGRAPHIC_CRS, HOTSPOT_CELL, HOTSPOT_PERMUTATIONS, HOTSPOT_SEED

if TYPE_CHECKING:
    from geo.atlas import Atlas
    from geo.query import Filter

__all__ = ["HotspotParams", "HotspotResult", "run_hotspots"]


@dataclass(frozen=True)
class HotspotParams:
    """Cells (``h3:RES`` or ``grid:METRES``), permutations, seed, correction and inference."""

    cell: str = HOTSPOT_CELL
    permutations: int = HOTSPOT_PERMUTATIONS
    seed: int = HOTSPOT_SEED
    correction: Literal["fdr", "none"] = "fdr"
    inference: Literal["permutation", "normal"] = "permutation"
    include_placeholders: bool = False


@dataclass(frozen=True)
class HotspotResult(AnalysisResult):
    """One row per cell: count, Gi* z, p-values, q, class and the town holding its centre."""

    filter: Filter
    params: HotspotParams
    facilities: int
    cells: gpd.GeoDataFrame
    notes: tuple[str, ...]
    sources: dict[str, object]
    excluded_placeholders: tuple[str, ...]
    uploaded_facilities: int = 0
    kind: str = field(default="hotspots", init=False)

    def parameters(self) -> dict[str, object]:
        out = super().parameters()
        out.update(statistic="Getis-Ord Gi* (esda.G_Local, star=True, binary contiguity)",
                   crs="EPSG:4549")
        return out

    def centres_wgs84(self) -> tuple[Any, Any]:
        """Cell centres (taken in metres, then projected) as WGS84 lon and lat arrays."""
        centres = gpd.GeoSeries(shapely.centroid(self.cells.geometry.to_numpy()),
                                crs=self.cells.crs).to_crs(GEOGRAPHIC_CRS)
        return shapely.get_x(centres.to_numpy()), shapely.get_y(centres.to_numpy())

    def body(self) -> dict[str, object]:
        cells = self.cells
        keep = (cells["count"] > 0) | (cells["hotspot"] != "not_significant")
        lon, lat = self.centres_wgs84()
        rows = []
        for (cid, row), x, y in zip(cells.iterrows(), lon, lat, strict=True):
            if not keep[cid]:
                continue
            rows.append({"cell": str(cid), "count": int(row["count"]),
                         "gi_z": finite(row["gi_z"]), "p_sim": finite(row["p_sim"]),
                         "p_norm": finite(row["p_norm"]), "q": finite(row["q"]),
                         "hotspot": row["hotspot"], "town": row["town"] or None,
                         "centre": [round(float(x), 6), round(float(y), 6)]})
        counts = cells["hotspot"].value_counts()
        return {
            "facilities": self.facilities,
            "uploaded_facilities": self.uploaded_facilities,
            "cells": len(cells),
            "classes": {k: int(counts.get(k, 0)) for k in HOTSPOT_CLASSES},
            "class_names": {k: {"zh": zh, "en": en} for k, (zh, en) in HOTSPOT_CLASSES.items()},
            "cells_listed": rows,
            "notes": list(self.notes),
        }

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """``hotspots``: every cell with its count, Gi* z, p, q and class."""
        return {"hotspots": to_wgs84(self.cells.reset_index())}


def run_hotspots(atlas: Atlas, flt: Filter, params: HotspotParams | None = None, *,
                 uploaded: gpd.GeoDataFrame | None = None) -> HotspotResult:
    """Gi* hot and cold spots of the facilities the filter selects, over the study area.

    Parameters
    ----------
    atlas, flt
        The data and the shared filter. The study area is the filter's towns (all five if
        none), or its ``within`` area. Placeholders left out unless included.
    params : HotspotParams
        Cell spec (H3 resolution or square size in metres), permutations, seed, correction.
    uploaded : GeoDataFrame, optional
        The user's own facilities (WGS84), filtered and added.

    Returns
    -------
    HotspotResult
        Cells in EPSG:4549 with their class; notes when nothing can be significant.
    """
    params = params or HotspotParams()
    parse_cell(params.cell)  # a bad spec fails before any work
    chosen = select(atlas, flt, include_placeholders=params.include_placeholders,
                    uploaded=uploaded, columns=("geometry",) if uploaded is not None else None)
    points = chosen.points_m
    study: Any = study_towns(atlas, flt)
    if flt.within is not None:
        study = gpd.GeoSeries([flt.within], crs=GEOGRAPHIC_CRS).to_crs(atlas.towns_m.crs)
    cells = hotspots(points, cell=params.cell, study_area=study,
                     permutations=params.permutations, seed=params.seed,
                     correction=params.correction, inference=params.inference)
    cells = cells.assign(town=_cell_towns(cells, atlas.towns_m))
    notes: list[str] = []
    if len(points) == 0:
        notes.append("no facility matches the filter: every cell is empty, nothing to test")
    elif (cells["hotspot"] == "not_significant").all() and params.inference == "permutation":
        floor = 1 / (params.permutations + 1)
        notes.append(
            f"nothing is significant: with {params.permutations} permutations no p-value is "
            f"below {floor:.4f}, and across {len(cells)} cells the FDR correction needs several "
            "cells that low; a concentration inside one cell is not a hot spot under "
            "permutation. Try coarser cells, --permutations 9999, or --inference normal")
    return HotspotResult(flt, params, len(points), cells, tuple(notes),
                         data_sources(atlas.data_dir, ("facilities", "towns")),
                         chosen.excluded_placeholders, chosen.uploaded)


def _cell_towns(cells: gpd.GeoDataFrame, towns_m: gpd.GeoDataFrame) -> list[str]:
    """The town whose polygon holds each cell's centre ('' outside every town)."""
    centres = shapely.centroid(cells.geometry.to_numpy())
    x, y = shapely.get_x(centres), shapely.get_y(centres)
    out = np.full(len(cells), "", dtype=object)
    for key, geom in zip(towns_m["key"], towns_m.geometry, strict=True):
        out[shapely.contains_xy(geom, x, y) & (out == "")] = key
    return list(out)
