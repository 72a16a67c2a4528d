"""Service areas, coverage per town and district, gap polygons, population and siting in metres.

The package, by job: :mod:`~geo.coverage.engine` (the exact covered area of a region by
facility discs, and service areas), :mod:`~geo.coverage.report` (tables per town and
district, gap polygons, the report), :mod:`~geo.coverage.population` (population layers and
people within reach), :mod:`~geo.coverage.siting` (greedy maximal-coverage siting),
:mod:`~geo.coverage.candidates` (candidate sites: a grid or a file) and
:mod:`~geo.coverage.inputs` (the checks every step shares). The public API is re-exported
here, so ``from geo.coverage import coverage_report`` keeps working.
"""

from __future__ import annotations

from geo.coverage.candidates import grid_candidates, read_candidates
from geo.coverage.engine import (
    LIFE_CIRCLE_5MIN_M,
    LIFE_CIRCLE_10MIN_M,
    LIFE_CIRCLE_15MIN_M,
    LIFE_CIRCLE_15MIN_OUTER_M,
    LIFE_CIRCLE_PRESETS_M,
    MAX_POLYGON_AREA_ERROR,
    QUAD_SEGS,
    facility_radii,
    polygon_area_error,
    service_areas,
    service_engine,
)
from geo.coverage.population import POPULATION_COLUMNS, read_population
from geo.coverage.report import (
    COASTAL_NOTE,
    CoverageReport,
    coverage_by_district,
    coverage_by_town,
    coverage_report,
    gap_polygons,
)
from geo.coverage.siting import SitingResult, suggest_sites

__all__ = [
    "COASTAL_NOTE",
    "LIFE_CIRCLE_5MIN_M",
    "LIFE_CIRCLE_10MIN_M",
    "LIFE_CIRCLE_15MIN_M",
    "LIFE_CIRCLE_15MIN_OUTER_M",
    "LIFE_CIRCLE_PRESETS_M",
    "MAX_POLYGON_AREA_ERROR",
    "POPULATION_COLUMNS",
    "QUAD_SEGS",
    "CoverageReport",
    "SitingResult",
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
