"""Analysis results as export layers: which analysis makes each layer, each run only once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import geopandas as gpd

from geo.analysis.clusters import ClusterParams, run_clusters
from geo.analysis.common import AnalysisResult
from geo.analysis.coverage import CoverageParams, run_coverage
from geo.analysis.density import DensityParams, run_density
from geo.analysis.hotspots import HotspotParams, run_hotspots
from geo.analysis.scorecard import ScorecardParams, run_scorecard
from geo.analysis.siting import SitingParams, run_siting

if TYPE_CHECKING:
    from geo.atlas import Atlas
    from geo.query import Filter

__all__ = ["ANALYSIS_LAYERS", "AnalysisParams", "analysis_metadata", "run_for_layers"]

#: Export layer name -> the analysis (its ``kind``) that makes it.
ANALYSIS_LAYERS: Final[Mapping[str, str]] = MappingProxyType({
    "coverage": "coverage", "coverage_gaps": "coverage", "suggested_sites": "siting",
    "clusters": "clusters", "density": "density", "hotspots": "hotspots",
    "scorecard": "scorecard",
})

AnalysisParams = (CoverageParams | SitingParams | ClusterParams | DensityParams | HotspotParams
                  | ScorecardParams)

_DEFAULTS: Final[Mapping[str, AnalysisParams]] = MappingProxyType({
    "coverage": CoverageParams(), "siting": SitingParams(), "clusters": ClusterParams(),
    "density": DensityParams(), "hotspots": HotspotParams(), "scorecard": ScorecardParams(),
})


def run_for_layers(atlas: Atlas, flt: Filter, names: Iterable[str],
                   params: Mapping[str, AnalysisParams] | None = None
                   ) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, AnalysisResult]]:
    """Run the analyses the named layers need (each once) and pick out those layers.

    Parameters
    ----------
    atlas, flt
        The data and the shared filter.
    names : iterable of str
        Layer names; those not in :data:`ANALYSIS_LAYERS` are ignored.
    params : mapping, optional
        Parameters by analysis kind (``coverage``, ``siting``, ``clusters``, ``density``,
        ``hotspots``, ``scorecard``); defaults for those not given.

    Returns
    -------
    tuple
        ``(layers, results)``: the layers by name (WGS84) and the results by kind.
    """
    chosen = dict(_DEFAULTS, **(params or {}))
    results: dict[str, AnalysisResult] = {}
    layers: dict[str, gpd.GeoDataFrame] = {}
    for name in names:
        kind = ANALYSIS_LAYERS.get(name)
        if kind is None:
            continue
        if kind not in results:
            results[kind] = _run(kind, atlas, flt, chosen[kind])
        layers[name] = results[kind].layers()[name]
    return layers, results


def _run(kind: str, atlas: Atlas, flt: Filter, params: Any) -> AnalysisResult:
    if kind == "coverage":
        return run_coverage(atlas, flt, params)
    if kind == "siting":
        return run_siting(atlas, flt, params)
    if kind == "clusters":
        return run_clusters(atlas, flt, params)
    if kind == "density":
        return run_density(atlas, flt, params)
    if kind == "scorecard":
        return run_scorecard(atlas, flt, params)
    return run_hotspots(atlas, flt, params)


def analysis_metadata(results: Mapping[str, AnalysisResult]) -> dict[str, object] | None:
    """The sidecar's ``analysis`` member: each result's JSON by kind (None without any)."""
    return {kind: result.to_json() for kind, result in results.items()} or None
