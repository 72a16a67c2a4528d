"""Cluster analysis: DBSCAN/HDBSCAN clusters in metres, their hulls, and Clark-Evans per town."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import pandas as pd
import shapely

from geo import catalog
from geo.analysis.common import (
    AnalysisResult,
    data_sources,
    finite,
    select,
    study_towns,
    to_wgs84,
)
from geo.clustering import clark_evans_by_town, cluster_hulls, dbscan_labels, hdbscan_labels
from geo.settings import CLUSTER_EPS_M, CLUSTER_MIN_CLUSTER_SIZE, CLUSTER_MIN_SAMPLES

if TYPE_CHECKING:
    from geo.atlas import Atlas
    from geo.query import Filter

__all__ = ["DEFAULT_EPS_M", "DEFAULT_MIN_CLUSTER_SIZE", "DEFAULT_MIN_SAMPLES", "ClusterParams",
           "ClusterResult", "area_note", "area_text", "run_clusters"]

#: The defaults live in geo.settings (with the reason for each value); these names stay for
#: the faces that import them from here.
DEFAULT_EPS_M = CLUSTER_EPS_M
DEFAULT_MIN_SAMPLES = CLUSTER_MIN_SAMPLES
DEFAULT_MIN_CLUSTER_SIZE = CLUSTER_MIN_CLUSTER_SIZE


def area_note(shape: str, locations: int, lang: str) -> str | None:
    """Why a cluster has no measured area (None when it has one).

    Parameters
    ----------
    shape : str
        ``convex``/``concave`` (measured), ``point_buffer`` or ``line_buffer``
        (:func:`geo.clustering.cluster_hulls`).
    locations : int
        Distinct points among the members.
    lang : {"zh", "en"}

    Returns
    -------
    str or None
        ``all members at one point`` / ``3 points on a line`` (or the Chinese), or None.
    """
    if shape == "point_buffer":
        return "所有成员在同一点" if lang == "zh" else "all members at one point"
    if shape == "line_buffer":
        return (f"{locations} 个点在一条直线上" if lang == "zh"
                else f"{locations} points on a line")
    return None


def area_text(area_m2: float | None, shape: str, locations: int, lang: str) -> str:
    """A cluster's hull area for a table, in km²: never ``0.00`` for a cluster without extent.

    Parameters
    ----------
    area_m2 : float or None
        The hull's area in m² (EPSG:4549); None or NaN when it was not measured.
    shape, locations, lang
        As for :func:`area_note`.

    Returns
    -------
    str
        ``1.74`` (two decimals from 0.1 km²), ``0.043`` (three below), ``< 0.001``, or
        ``— (all members at one point)`` / ``— (2 points on a line)``.
    """
    note = area_note(shape, locations, lang)
    if note is not None or area_m2 is None or not math.isfinite(area_m2):
        reason = note or ("未测量" if lang == "zh" else "not measured")
        return f"—（{reason}）" if lang == "zh" else f"— ({reason})"
    km2 = area_m2 / 1e6
    if km2 >= 0.1:
        return f"{km2:.2f}"
    return f"{km2:.3f}" if km2 >= 0.001 else "< 0.001"


@dataclass(frozen=True)
class ClusterParams:
    """Parameters of a cluster run.

    DBSCAN: ``eps_m`` metres and ``min_samples`` (None = 3) facilities within it, itself
    included. HDBSCAN: ``min_cluster_size`` and ``min_samples`` (None = the cluster size).
    Hulls: ``convex`` or ``concave`` (``ratio`` 0..1).
    """

    method: Literal["dbscan", "hdbscan"] = "dbscan"
    eps_m: float = DEFAULT_EPS_M
    min_samples: int | None = None
    min_cluster_size: int = DEFAULT_MIN_CLUSTER_SIZE
    hull: Literal["convex", "concave"] = "convex"
    ratio: float = 0.3
    include_placeholders: bool = False


@dataclass(frozen=True)
class ClusterResult(AnalysisResult):
    """Labels per facility (-1 = noise), one hull per cluster, Clark-Evans per town."""

    filter: Filter
    params: ClusterParams
    points_m: gpd.GeoDataFrame
    labels: pd.Series
    hulls: gpd.GeoDataFrame
    dispersion: pd.DataFrame
    notes: tuple[str, ...]
    sources: dict[str, object]
    excluded_placeholders: tuple[str, ...]
    uploaded_facilities: int = 0
    kind: str = field(default="clusters", init=False)

    def parameters(self) -> dict[str, object]:
        p = self.params
        out: dict[str, object] = {"method": p.method}
        if p.method == "dbscan":
            out.update(eps_m=p.eps_m, min_samples=p.min_samples or DEFAULT_MIN_SAMPLES)
        else:
            out.update(min_cluster_size=p.min_cluster_size, min_samples=p.min_samples)
        out["hull"] = p.hull
        if p.hull == "concave":
            out["ratio"] = p.ratio
        out["include_placeholders"] = p.include_placeholders
        out["crs"] = "EPSG:4549"
        return out

    def members(self) -> dict[int, list[str]]:
        """Facility ids of each cluster, in label order."""
        inside = self.labels[self.labels >= 0]
        groups = inside.groupby(inside).groups
        return {int(c): [str(i) for i in groups[c]] for c in sorted(set(inside.tolist()))}

    def body(self) -> dict[str, object]:
        members = self.members()
        clusters = []
        centres = shapely.centroid(self.hulls.geometry.to_numpy())
        lonlat = gpd.GeoSeries(centres, crs=self.hulls.crs).to_crs("EPSG:4326")
        bounds = to_wgs84(self.hulls).geometry
        for (cid, row), centre, shape in zip(self.hulls.iterrows(), lonlat, bounds, strict=True):
            clusters.append({
                "cluster": int(cid), "size": int(row["size"]),
                "locations": int(row["locations"]), "shape": row["shape"],
                # null with a reason when the members have no extent (one point, a line)
                "area_m2": finite(row["area_m2"]),
                "area_note_en": area_note(row["shape"], int(row["locations"]), "en"),
                "area_note_zh": area_note(row["shape"], int(row["locations"]), "zh"),
                "towns": [{"key": k, "name_zh": catalog.TOWNS[k].zh,
                           "name_en": catalog.TOWNS[k].en}
                          for k in row["towns"].split(";") if k in catalog.TOWNS],
                "towns_touched": [k for k in row["towns_touched"].split(";") if k],
                "layers": [{"key": k, "count": int(n), "name_zh": catalog.INDUSTRIES[k].zh,
                            "name_en": catalog.INDUSTRIES[k].en}
                           for k, n in (item.split(":") for item in
                                        row["layer_counts"].split(";") if item)
                           if k in catalog.INDUSTRIES],
                "dominant_layers": [k for k in row["dominant_layers"].split(";") if k],
                "centroid": [round(float(centre.x), 6), round(float(centre.y), 6)],
                "bounds": [round(v, 6) for v in shape.bounds],
                "members": members.get(int(cid), []),
            })
        return {
            "facilities": len(self.points_m),
            "uploaded_facilities": self.uploaded_facilities,
            "noise": int((self.labels < 0).sum()),
            "clusters": clusters,
            "labels": {str(k): int(v) for k, v in self.labels.items()},
            "clark_evans": {
                str(key): {"n": int(row["n"]), "outside": int(row["outside"]),
                           "R": finite(row["R"]), "z": finite(row["z"]), "p": finite(row["p"]),
                           "pattern": row["pattern"], "sentence_en": row["sentence_en"],
                           "sentence_zh": row["sentence_zh"]}
                for key, row in self.dispersion.iterrows()
            },
            "notes": list(self.notes),
        }

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """``clusters``: one polygon per cluster with its id, size, distinct points
        (``locations``), towns, layers, members; ``area_m2`` is null and ``area_note`` says
        why when the members stand on one point or one line (the polygon is then a drawn
        buffer, not the cluster's extent)."""
        members = self.members()
        out = self.hulls.reset_index().assign(
            area_note=[area_note(s, int(n), "en") for s, n in
                       zip(self.hulls["shape"], self.hulls["locations"], strict=True)],
            members=[";".join(members.get(int(c), [])) for c in self.hulls.index])
        return {"clusters": to_wgs84(out)}


def run_clusters(atlas: Atlas, flt: Filter, params: ClusterParams | None = None, *,
                 uploaded: gpd.GeoDataFrame | None = None) -> ClusterResult:
    """Cluster the facilities the filter selects, in EPSG:4549 metres.

    Parameters
    ----------
    atlas, flt
        The data and the shared filter (its towns bound the Clark-Evans windows; all five if
        none). Placeholders are left out unless ``params.include_placeholders``.
    params : ClusterParams
        Method, ``eps_m`` in metres, sample counts, hull kind.
    uploaded : GeoDataFrame, optional
        The user's own facilities (WGS84, with ``industries``), filtered and added.

    Returns
    -------
    ClusterResult
        Labels on the facility index, hulls (areas in m²), dispersion per town.
    """
    params = params or ClusterParams()
    if uploaded is not None and len(uploaded) and "layers" not in uploaded.columns:
        uploaded = uploaded.assign(layers=uploaded["industries"].map(
            lambda text: ";".join(dict.fromkeys(catalog.industry_layer(k)
                                                for k in str(text).split(";") if k))))
    chosen = select(atlas, flt, include_placeholders=params.include_placeholders,
                    uploaded=uploaded,
                    columns=("town", "layers", "coord_precision_m", "geometry")
                    if uploaded is not None else None)
    points = chosen.points_m
    if params.method == "dbscan":
        labels = dbscan_labels(points, eps_m=params.eps_m,
                               min_samples=params.min_samples or DEFAULT_MIN_SAMPLES)
    else:
        labels = hdbscan_labels(points, min_cluster_size=params.min_cluster_size,
                                min_samples=params.min_samples)
    hulls = cluster_hulls(points, labels, towns_m=atlas.towns_m, hull=params.hull,
                          ratio=params.ratio)
    dispersion = clark_evans_by_town(points, study_towns(atlas, flt))
    return ClusterResult(flt, params, points, labels, hulls, dispersion,
                         _precision_notes(points, params),
                         data_sources(atlas.data_dir, ("facilities", "towns")),
                         chosen.excluded_placeholders, chosen.uploaded)


def _precision_notes(points: gpd.GeoDataFrame, params: ClusterParams) -> tuple[str, ...]:
    """Say so when DBSCAN's radius is finer than the coordinates it clusters."""
    if (params.method != "dbscan" or "coord_precision_m" not in points.columns
            or not len(points)):
        return ()
    precision = float(pd.to_numeric(points["coord_precision_m"], errors="coerce").median())
    if math.isfinite(precision) and params.eps_m < precision:
        return (f"--eps-m {params.eps_m:g} is finer than the median coordinate precision of "
                f"these facilities ({precision:g} m): clusters at that scale may reflect how "
                f"sites were placed rather than where they are; try --eps-m {precision:g}",)
    return ()
