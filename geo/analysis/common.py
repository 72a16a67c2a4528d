"""What every analysis shares: the selection it runs on, the data sources and the JSON envelope."""

from __future__ import annotations

import functools
import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd

from geo import catalog
from geo._errors import InputError
from geo.crs import to_metric
from geo.placement import analysable
from geo.settings import GEOGRAPHIC_CRS, METRIC_CRS, DataLayout

if TYPE_CHECKING:
    from geo.atlas import Atlas
    from geo.query import Filter

__all__ = [
    "SCHEMA_VERSION",
    "AnalysisResult",
    "Selection",
    "data_sources",
    "finite",
    "json_value",
    "select",
    "share",
    "study_towns",
    "to_wgs84",
    "town_names",
]

#: Version of the result JSON envelope documented in docs/ANALYSIS.md.
SCHEMA_VERSION: Final = 1

#: The atlas layers by their DataLayout attribute.
SOURCE_LAYERS: Final = ("facilities", "towns", "districts", "city", "corridors",
                        "corridor_lines", "zones", "parks")


@functools.lru_cache(maxsize=64)
def _file_entry(path: str, mtime_ns: int, size: int) -> tuple[str, int, str]:
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    modified = datetime.fromtimestamp(mtime_ns / 1e9, UTC).isoformat(timespec="seconds")
    return modified, size, digest


def data_sources(data_dir: Path, layers: Iterable[str] = SOURCE_LAYERS) -> dict[str, object]:
    """The data files behind ``layers``, with modification time, size and SHA-256.

    Parameters
    ----------
    data_dir : Path
        A folder laid out like ``data/``.
    layers : iterable of str
        DataLayout attributes (``facilities``, ``towns``, ``districts``, ...); files that do
        not exist are left out.

    Returns
    -------
    dict
        ``{"files": {relative path: {"modified", "bytes", "sha256"}}}`` (bytes in bytes).
    """
    layout = DataLayout(Path(data_dir))
    files: dict[str, object] = {}
    for name in layers:
        path = getattr(layout, name)
        if path.is_file():
            stat = path.stat()
            modified, size, digest = _file_entry(str(path), stat.st_mtime_ns, stat.st_size)
            files[path.relative_to(layout.root).as_posix()] = {
                "modified": modified, "bytes": size, "sha256": digest}
    return {"files": files}


@dataclass(frozen=True)
class Selection:
    """The facilities an analysis runs on (EPSG:4549) and the placeholders it left out."""

    points_m: gpd.GeoDataFrame
    excluded_placeholders: tuple[str, ...]
    uploaded: int = 0


def select(atlas: Atlas, flt: Filter, *, include_placeholders: bool,
           uploaded: gpd.GeoDataFrame | None = None,
           columns: Iterable[str] | None = None) -> Selection:
    """The filtered facilities in metres, placeholders left out unless included.

    Parameters
    ----------
    atlas, flt
        The data and the shared filter.
    include_placeholders : bool
        Keep placeholder rows (see :func:`geo.placement.analysable`).
    uploaded : GeoDataFrame, optional
        The user's own facilities (WGS84); the same filter and placeholder rule apply.
    columns : iterable of str, optional
        Columns kept when uploaded rows are added (default: those both frames share).

    Returns
    -------
    Selection
        Points in EPSG:4549 on the facility index, and the excluded placeholder ids.
    """
    kept, excluded = analysable(flt.select(atlas.facilities), include_placeholders)
    points = atlas.facilities_m.loc[kept.index]
    extra = 0
    if uploaded is not None:
        if "placement" not in uploaded.columns:  # as geo.facilities reads an upload without it
            uploaded = uploaded.assign(placement="site")
        mine, mine_excluded = analysable(flt.select(uploaded), include_placeholders)
        excluded = excluded + mine_excluded
        extra = len(mine)
        if extra:
            mine_m = to_metric(mine)
            wanted = list(columns) if columns is not None else list(points.columns)
            keep = [c for c in wanted if c in points.columns and c in mine_m.columns]
            if "geometry" not in keep:
                keep.append("geometry")
            points = gpd.GeoDataFrame(pd.concat([points[keep], mine_m[keep]]), crs=points.crs)
            if not points.index.is_unique:
                raise InputError("an uploaded facility id repeats a bundled id; rename it")
    return Selection(points, excluded, extra)


def study_towns(atlas: Atlas, flt: Filter) -> gpd.GeoDataFrame:
    """The towns the filter names (all five when it names none), EPSG:4549."""
    towns = atlas.towns_m
    return towns.loc[towns["key"].isin(flt.towns)] if flt.towns else towns


def finite(value: object) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def share(value: object) -> float | None:
    """A share rounded to 6 decimals, or None when it is not a finite number."""
    number = finite(value)
    return None if number is None else round(number, 6)


def town_names(key: str) -> dict[str, str]:
    """``name_zh`` and ``name_en`` of a town key (the key itself when unknown)."""
    term = catalog.TOWNS.get(key)
    return {"name_zh": term.zh, "name_en": term.en} if term else {"name_zh": key, "name_en": key}


def json_value(value: object) -> object:
    """Parameters and numbers as plain JSON values (paths as text, numpy as Python)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: json_value(v) for k, v in asdict(value).items()}
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class AnalysisResult(ABC):
    """The one result type of an analysis: JSON, map/export layers, parameters and sources.

    Subclasses set ``kind``, ``filter``, ``params``, ``sources`` and
    ``excluded_placeholders``, and implement :meth:`body` and :meth:`layers`.
    """

    kind: str
    filter: Filter
    params: Any
    sources: Mapping[str, object]
    excluded_placeholders: tuple[str, ...]

    def parameters(self) -> dict[str, object]:
        """The parameters as JSON (the params object, plus what the run itself decided)."""
        value = json_value(self.params)
        assert isinstance(value, dict)
        return value

    @abstractmethod
    def body(self) -> dict[str, object]:
        """The analysis's own numbers (JSON-ready), merged into :meth:`to_json`."""

    @abstractmethod
    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Layers for the map and for export, by name, in WGS84 (EPSG:4326)."""

    def to_json(self) -> dict[str, object]:
        """The documented result (docs/ANALYSIS.md): envelope keys, then :meth:`body`."""
        return {
            "analysis": self.kind,
            "schema": SCHEMA_VERSION,
            "filter": self.filter.to_params(),
            "parameters": self.parameters(),
            "measured_in": METRIC_CRS,
            "excluded_placeholders": list(self.excluded_placeholders),
            "sources": json_value(self.sources),
            **self.body(),
        }

    def metadata(self) -> dict[str, object]:
        """The export sidecar's ``filter``, ``analysis`` and ``sources`` for this result."""
        return {"filter": self.filter.to_params(), "analysis": {self.kind: self.to_json()},
                "sources": dict(self.sources)}


def to_wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy in EPSG:4326 (layers are stored and exported in WGS84)."""
    return frame.to_crs(GEOGRAPHIC_CRS)
