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
