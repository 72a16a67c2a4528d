"""The analysis layer: one entry point per analysis, ``(atlas, filter, params) -> Result``.

Every result has ``to_json()`` (the schema in docs/ANALYSIS.md), ``layers()`` (WGS84
GeoDataFrames for the map and for export), ``params``, ``sources`` and
``excluded_placeholders`` (placeholder rows are left out unless
``params.include_placeholders``; see :func:`geo.placement.analysable`). The CLI, the
dashboard and ``export --layers`` call these and only format what they return.
"""

from __future__ import annotations

from geo.analysis.clusters import ClusterParams, ClusterResult, run_clusters
from geo.analysis.common import SCHEMA_VERSION, AnalysisResult, data_sources
from geo.analysis.coverage import CoverageParams, CoverageResult, NetworkParams, run_coverage
from geo.analysis.density import DensityParams, DensityResult, run_density
from geo.analysis.hotspots import HotspotParams, HotspotResult, run_hotspots
from geo.analysis.points import PointsParams, PointsResult, run_points
from geo.analysis.scorecard import ScorecardParams, ScorecardResult, run_scorecard
from geo.analysis.siting import SitingParams, SitingResult, run_siting

__all__ = [
    "SCHEMA_VERSION",
    "AnalysisResult",
    "ClusterParams",
    "ClusterResult",
    "CoverageParams",
    "CoverageResult",
    "DensityParams",
    "DensityResult",
    "HotspotParams",
    "HotspotResult",
    "NetworkParams",
    "PointsParams",
    "PointsResult",
    "ScorecardParams",
    "ScorecardResult",
    "SitingParams",
    "SitingResult",
    "data_sources",
    "run_clusters",
    "run_coverage",
    "run_density",
    "run_hotspots",
    "run_points",
    "run_scorecard",
    "run_siting",
]
