"""Density analysis: a kernel density surface of the selected facilities, as contour bands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd

from geo.analysis.common import AnalysisResult, data_sources, select, to_wgs84
from geo.clustering import density_contours, kernel_density
from geo.settings import DENSITY_BANDWIDTH_M

if TYPE_CHECKING:
    from geo.atlas import Atlas
    from geo.query import Filter

__all__ = ["DensityParams", "DensityResult", "run_density"]


@dataclass(frozen=True)
class DensityParams:
    """Kernel bandwidth and cell size in metres (cell None = bandwidth / 4); number of bands."""

    bandwidth_m: float = DENSITY_BANDWIDTH_M
    cell_m: float | None = None
    levels: int = 5
    include_placeholders: bool = False


@dataclass(frozen=True)
class DensityResult(AnalysisResult):
    """Filled contour bands (facilities per km²) over the five towns' extent."""

    filter: Filter
    params: DensityParams
    facilities: int
    bands: gpd.GeoDataFrame
    sources: dict[str, object]
    excluded_placeholders: tuple[str, ...]
    uploaded_facilities: int = 0
    kind: str = field(default="density", init=False)

    def body(self) -> dict[str, object]:
        return {
            "facilities": self.facilities,
            "uploaded_facilities": self.uploaded_facilities,
            "bands": [{"level": int(r["level"]), "lower_per_km2": float(r["lower"]),
                       "upper_per_km2": float(r["upper"]),
                       "area_m2": round(float(g.area), 1)}
                      for (_, r), g in zip(self.bands.iterrows(), self.bands.geometry,
                                           strict=True)],
        }

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """``density``: one (multi)polygon per band with ``level``, ``lower``, ``upper``."""
        return {"density": to_wgs84(self.bands)}


def run_density(atlas: Atlas, flt: Filter, params: DensityParams | None = None, *,
                uploaded: gpd.GeoDataFrame | None = None) -> DensityResult:
    """Kernel density of the facilities the filter selects, in EPSG:4549 metres.

    Parameters
    ----------
    atlas, flt
        The data and the shared filter; placeholders left out unless included.
    params : DensityParams
        Bandwidth and cell size in metres, number of bands.
    uploaded : GeoDataFrame, optional
        The user's own facilities (WGS84), filtered and added.

    Returns
    -------
    DensityResult
        Bands in facilities per km² (none with fewer than two facilities).
    """
    params = params or DensityParams()
    chosen = select(atlas, flt, include_placeholders=params.include_placeholders,
                    uploaded=uploaded, columns=("geometry",) if uploaded is not None else None)
    points = chosen.points_m
    if len(points) >= 2:
        grid = kernel_density(points, bandwidth_m=params.bandwidth_m, cell_m=params.cell_m,
                              extent=atlas.towns_m)
        bands = density_contours(grid, levels=params.levels)
    else:
        bands = gpd.GeoDataFrame({"level": [], "lower": [], "upper": []},
                                 geometry=gpd.GeoSeries([], crs=atlas.towns_m.crs))
    return DensityResult(flt, params, len(points), bands,
                         data_sources(atlas.data_dir, ("facilities", "towns")),
                         chosen.excluded_placeholders, chosen.uploaded)
