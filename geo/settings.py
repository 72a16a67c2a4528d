"""Project settings: CRS codes, data location, default radii. Read-only at run time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

#: Storage and exchange CRS (RFC 7946 GeoJSON is always WGS84 lon/lat).
GEOGRAPHIC_CRS: Final = "EPSG:4326"
#: Measurement CRS: CGCS2000 / 3-degree Gauss-Kruger CM 120E, metres, covers all of Shanghai.
METRIC_CRS: Final = "EPSG:4549"

#: Rough bounding box of Shanghai (WGS84), used for fast sanity checks before the
#: polygon test: (min_lon, min_lat, max_lon, max_lat).
SHANGHAI_BBOX: Final = (120.85, 30.66, 122.25, 31.90)

#: Default service radius per facility category, metres (coverage analysis).
DEFAULT_RADIUS_M: Final = MappingProxyType(
    {
        "research_institute": 5000.0,
        "innovation_centre": 5000.0,
        "university": 5000.0,
        "lab": 3000.0,
        "enterprise_rd": 3000.0,
        "transfer_centre": 3000.0,
        "industrial_base": 3000.0,
        "functional_org": 3000.0,
        "incubator": 2000.0,
    }
)

# -- analysis defaults: the one value every face (CLI, dashboard control, export, brief) uses --

#: One service radius (metres) where a face asks for a single radius and none is given: the
#: dashboard Coverage tab's fixed-radius field, the reach of suggested new sites. Without it,
#: coverage and the scorecard use each category's radius (:data:`DEFAULT_RADIUS_M`), and the
#: dashboard opens in that mode too, as ``newtown coverage`` runs without ``--radius-m``.
FIXED_RADIUS_M: Final = 3000.0

#: DBSCAN neighbourhood radius (metres). 3,000 m is the median coordinate precision of the
#: bundled located facilities (77 sites and areas: quartiles 1,500 / 3,000 / 4,000 m; most
#: stand for a park or street area, not a building). At a finer radius DBSCAN groups rows by
#: how they were placed (several facilities on one park point) more than by where they are,
#: and ``run_clusters`` says so in a note.
CLUSTER_EPS_M: Final = 3000.0
#: DBSCAN core size: facilities within ``CLUSTER_EPS_M``, the facility itself included.
#: Three is the smallest group that can span an area (two points make only a line).
CLUSTER_MIN_SAMPLES: Final = 3
#: HDBSCAN smallest cluster.
CLUSTER_MIN_CLUSTER_SIZE: Final = 5
#: Kernel density bandwidth (metres): half the cluster radius, so bands show where within a
#: cluster facilities are densest.
DENSITY_BANDWIDTH_M: Final = 1500.0
#: Gi* hotspot cells: H3 resolution 8 (hexagons of about 0.74 km², edge ~460 m).
HOTSPOT_CELL: Final = "h3:8"
#: Gi* permutations: 999 gives p-values down to 0.001.
HOTSPOT_PERMUTATIONS: Final = 999
#: Gi* permutation seed (the same cells and data give the same p-values).
HOTSPOT_SEED: Final = 0

_PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_data_dir() -> Path:
    """Return the folder of bundled data (``data/`` in a checkout, ``geo/_data`` when installed).

    ``NEWTOWN_DATA`` overrides both; it is read at call time so tests can point at fixtures.
    """
    override = os.environ.get("NEWTOWN_DATA")
    if override:
        return Path(override)
    installed = _PACKAGE_DIR / "_data"
    if (installed / "facilities.csv").is_file():
        return installed
    return _PACKAGE_DIR.parent / "data"


@dataclass(frozen=True)
class DataLayout:
    """File names inside a data folder laid out like ``data/``."""

    root: Path

    @property
    def facilities(self) -> Path:
        return self.root / "facilities.csv"

    @property
    def boundaries(self) -> Path:
        return self.root / "boundaries"

    @property
    def towns(self) -> Path:
        return self.boundaries / "towns.geojson"

    @property
    def districts(self) -> Path:
        return self.boundaries / "districts.geojson"

    @property
    def city(self) -> Path:
        return self.boundaries / "shanghai.geojson"

    @property
    def corridors(self) -> Path:
        return self.boundaries / "corridors.geojson"

    @property
    def corridor_lines(self) -> Path:
        return self.boundaries / "corridor_lines.geojson"

    @property
    def zones(self) -> Path:
        return self.boundaries / "zones.geojson"

    @property
    def parks(self) -> Path:
        """Optional: flagship and featured industrial parks (points or polygons)."""
        return self.boundaries / "parks.geojson"
