"""Find where facilities concentrate: DBSCAN/HDBSCAN clusters, hulls, density, Gi* hotspots."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, cast

import contourpy
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from scipy import ndimage, stats
from scipy.spatial import cKDTree

from geo import catalog
from geo._errors import DataError, InputError, Problem
from geo.crs import assert_projected
from geo.settings import GEOGRAPHIC_CRS

if TYPE_CHECKING:
    import contourpy._contourpy as cpy

__all__ = [
    "DEGENERATE_BUFFER_M",
    "HOTSPOT_CLASSES",
    "ClarkEvans",
    "DensityGrid",
    "clark_evans",
    "clark_evans_by_town",
    "cluster_hulls",
    "dbscan_labels",
    "density_contours",
    "fdr_adjust",
    "hdbscan_labels",
    "hotspots",
    "kernel_density",
    "parse_cell",
]

#: Radius (metres) of the display shape drawn for a cluster whose members sit on one spot or
#: on one line: such a cluster has no area, but a map still needs something to click.
DEGENERATE_BUFFER_M: Final = 150.0
#: Density grids larger than this many cells are refused (memory and time, not accuracy).
MAX_GRID_CELLS: Final = 4_000_000
#: Hotspot grids larger than this many cells are refused (cell polygons and weights in memory).
MAX_HOTSPOT_CELLS: Final = 300_000

#: Hotspot classes, strongest first: Gi* sign x FDR-adjusted confidence (90/95/99 %).
HOTSPOT_CLASSES: Final[Mapping[str, tuple[str, str]]] = {
    "hot_99": ("热点（99%）", "Hot spot, 99% confidence"),
    "hot_95": ("热点（95%）", "Hot spot, 95% confidence"),
    "hot_90": ("热点（90%）", "Hot spot, 90% confidence"),
    "not_significant": ("不显著", "Not significant"),
    "cold_90": ("冷点（90%）", "Cold spot, 90% confidence"),
    "cold_95": ("冷点（95%）", "Cold spot, 95% confidence"),
    "cold_99": ("冷点（99%）", "Cold spot, 99% confidence"),
}
_CONFIDENCE: Final = ((0.01, "99"), (0.05, "95"), (0.10, "90"))

Points: TypeAlias = gpd.GeoDataFrame | gpd.GeoSeries
HullKind = Literal["convex", "concave"]
FloatArray = NDArray[np.float64]


# -- input checks ------------------------------------------------------------------------------


def _point_coords(points_m: Points, what: str = "points_m") -> FloatArray:
    """(n, 2) x/y of a projected point layer; every bad row is named in one DataError."""
    if not isinstance(points_m, gpd.GeoDataFrame | gpd.GeoSeries):
        raise TypeError(f"{what!r} should be a GeoDataFrame or GeoSeries of points, "
                        f"got {type(points_m)}")
    assert_projected(points_m, what)
    geoms = np.asarray(points_m.geometry.array, dtype=object)
    if len(geoms) == 0:
        return np.empty((0, 2), dtype=np.float64)
    type_ids = shapely.get_type_id(geoms)
    problems: list[Problem] = []
    for pos in np.flatnonzero((type_ids != 0) | shapely.is_empty(geoms)):
        geom = geoms[pos]
        got = "nothing" if geom is None else ("an empty Point" if type_ids[pos] == 0
                                              else geom.geom_type)
        problems.append(Problem(what, int(pos) + 1, "geometry", None,
                                f"facility {points_m.index[pos]!r}: expected a Point, got {got}"))
    if problems:
        raise DataError(problems, file=what)
    xy: FloatArray = shapely.get_coordinates(geoms)
    for pos in np.flatnonzero(~np.isfinite(xy).all(axis=1)):
        problems.append(Problem(what, int(pos) + 1, "geometry", tuple(xy[pos]),
                                f"facility {points_m.index[pos]!r}: coordinates must be finite"))
    if problems:
        raise DataError(problems, file=what)
    return xy


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value <= 0:
        raise InputError(f"{name} must be a positive number of metres, got {value!r}")
    return float(value)


def _count(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _same_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries, crs: Any, what: str) -> None:
    if frame.crs is None or not CRS.from_user_input(frame.crs).equals(CRS.from_user_input(crs)):
        got = "no CRS" if frame.crs is None else frame.crs.to_string()
        raise InputError(f"{what} must be in the same CRS as the points ({CRS(crs).to_string()}), "
                         f"got {got}; project it with geo.crs.to_metric() first")


# -- density clusters --------------------------------------------------------------------------


def _canonical_labels(raw: NDArray[np.integer], order: NDArray[np.intp],
                      index: pd.Index) -> pd.Series:
    """Renumber clusters by descending size, ties by their first member in (x, y) order.

    ``raw`` holds the labels of the points in coordinate order (``order`` maps that order back
    to input rows), so the numbering depends only on the set of coordinates, not on row order.
    """
    out_sorted = np.full(len(raw), -1, dtype=np.int64)
    clustered = raw >= 0
    if clustered.any():
        ids, first, sizes = np.unique(raw[clustered], return_index=True, return_counts=True)
        first_pos = np.flatnonzero(clustered)[first]
        rank = np.lexsort((first_pos, -sizes))  # size descending, then first member
        mapping = np.full(int(ids.max()) + 1, -1, dtype=np.int64)
        mapping[ids[rank]] = np.arange(len(ids))
        out_sorted[clustered] = mapping[raw[clustered]]
    labels = np.empty(len(raw), dtype=np.int64)
    labels[order] = out_sorted
    return pd.Series(labels, index=index, name="cluster")


def _coordinate_order(xy: FloatArray) -> NDArray[np.intp]:
    return np.lexsort((xy[:, 1], xy[:, 0]))


def dbscan_labels(points_m: Points, *, eps_m: float, min_samples: int = 3,
                  n_jobs: int | None = None) -> pd.Series:
    """DBSCAN cluster label per facility (``-1`` = noise), on the input index.

    ``eps_m`` is the neighbourhood radius in metres; ``min_samples`` counts the point itself
    (scikit-learn's meaning), so ``min_samples=1`` makes every point a cluster. Clusters are
    numbered 0, 1, ... by descending size, ties broken by their west-most (then south-most)
    member, and the points are clustered in coordinate order, so the same points in any row
    order get the same labels. Fewer points than ``min_samples`` give all noise; identical
    points (at least ``min_samples`` of them) give one cluster.
    """
    from sklearn.cluster import DBSCAN

    eps_m = _positive("eps_m", eps_m)
    min_samples = _count("min_samples", min_samples, 1)
    xy = _point_coords(points_m)
    if len(xy) == 0:
        return pd.Series(np.empty(0, dtype=np.int64), index=points_m.index, name="cluster")
    order = _coordinate_order(xy)
    raw = DBSCAN(eps=eps_m, min_samples=min_samples, n_jobs=n_jobs).fit(xy[order]).labels_
    return _canonical_labels(raw, order, points_m.index)


def hdbscan_labels(points_m: Points, *, min_cluster_size: int = 5, min_samples: int | None = None,
                   allow_single_cluster: bool = False, core_dist_n_jobs: int = 1) -> pd.Series:
    """HDBSCAN cluster label per facility (``-1`` = noise), on the input index.

    Uses the ``hdbscan`` package (Borůvka k-d tree, ~10x faster than scikit-learn's HDBSCAN
    at 1e5 points). ``min_samples`` defaults to ``min_cluster_size``. Numbering as in
    :func:`dbscan_labels`. With fewer points than ``min_cluster_size`` every point is noise;
    if every point sits on the same spot (and there are enough of them) they form one cluster,
    which HDBSCAN itself cannot express (all distances are zero). ``min_samples`` larger than
    the number of points is capped to it. ``allow_single_cluster`` lets a selection that is one
    concentration come back as one cluster rather than being split or called noise.
    """
    import hdbscan

    min_cluster_size = _count("min_cluster_size", min_cluster_size, 2)
    if min_samples is not None:
        min_samples = _count("min_samples", min_samples, 1)
    xy = _point_coords(points_m)
    n = len(xy)
    index = points_m.index
    if n < min_cluster_size:
        return pd.Series(np.full(n, -1, dtype=np.int64), index=index, name="cluster")
    if (xy == xy[0]).all():
        return pd.Series(np.zeros(n, dtype=np.int64), index=index, name="cluster")
    order = _coordinate_order(xy)
    k = min(min_samples or min_cluster_size, n - 1)
    model = hdbscan.HDBSCAN(
        min_cluster_size=min_cluster_size, min_samples=k, algorithm="boruvka_kdtree",
        allow_single_cluster=allow_single_cluster, core_dist_n_jobs=core_dist_n_jobs,
    )
    raw = model.fit(xy[order]).labels_
    return _canonical_labels(np.asarray(raw), order, index)


# -- hulls -------------------------------------------------------------------------------------


def _aligned_labels(labels: pd.Series, index: pd.Index) -> NDArray[np.int64]:
    if not isinstance(labels, pd.Series):
        raise TypeError(f"'labels' should be a pandas Series on the points' index, "
                        f"got {type(labels)}")
    if not labels.index.equals(index):
        missing = index.difference(labels.index)
        if len(missing):
            raise InputError(f"labels has no value for {len(missing)} point(s), e.g. "
                             f"{list(missing[:3])}; pass the Series returned by "
                             "dbscan_labels/hdbscan_labels for these points")
        labels = labels.reindex(index)
    values = pd.to_numeric(labels, errors="coerce")
    if values.isna().any():
        bad = labels.index[values.isna()][:3]
        raise InputError(f"labels must be integers (-1 = noise), got non-numbers at {list(bad)}")
    return values.to_numpy(dtype=np.int64)


def _layer_counts(texts: Iterable[object]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        if isinstance(text, str):
            counts.update(k for k in text.split(";") if k)
    return counts


def _ordered_layers(counts: Counter[str]) -> list[tuple[str, int]]:
    """Layers by count, descending; ties in catalog order (unknown keys last, by name)."""
    rank = {k: i for i, k in enumerate(catalog.INDUSTRY_LAYERS)}
    return sorted(counts.items(), key=lambda kv: (-kv[1], rank.get(kv[0], len(rank)), kv[0]))


def cluster_hulls(
    points_m: Points,
    labels: pd.Series,
    *,
    attributes: pd.DataFrame | None = None,
    towns_m: gpd.GeoDataFrame | None = None,
    hull: HullKind = "convex",
    ratio: float = 0.3,
    buffer_m: float = DEGENERATE_BUFFER_M,
    top_layers: int = 3,
) -> gpd.GeoDataFrame:
    """One row per cluster (noise left out): its shape, size, industries, towns and area.

    ``labels`` comes from :func:`dbscan_labels` / :func:`hdbscan_labels` for the same points.
    Industry layers are read from the ``layers`` column (``;``-joined keys, as in
    ``atlas.facilities``) of ``attributes`` (aligned on the points' index) or of the points.
    ``hull`` is ``"convex"`` or ``"concave"`` (shapely's concave hull; ``ratio`` 0..1, 1 =
    convex).

    Columns: ``size`` (facilities), ``locations`` (distinct coordinates), ``shape``
    (``convex``/``concave`` polygon, ``line_buffer`` for members on one line, e.g. two
    locations, ``point_buffer`` for members on one spot: drawn as a ``buffer_m`` band so the
    map has something to click), ``dominant_layers`` (up to ``top_layers`` keys, ``;``-joined),
    ``layer_counts`` (``"ic:5;auto:3"``), ``towns`` (the members' ``town`` keys, ``;``-joined,
    in catalog order), ``towns_touched`` (only with ``towns_m``, EPSG:4549 with a ``key``
    column: the town polygons the shape intersects; the two differ where facilities sit
    outside their town's approximate boundary), ``area_m2`` (area of
    the hull itself in the points' metric CRS, measured only when the members stand on at
    least three distinct points that are not on one line; NaN for the buffered shapes, whose
    drawn area says nothing about the cluster: never 0, which would read as a measured
    figure). Index: the cluster label. CRS: the points' CRS.
    """
    if hull not in ("convex", "concave"):
        raise InputError(f"hull must be 'convex' or 'concave', got {hull!r}")
    if not 0.0 <= ratio <= 1.0:
        raise InputError(f"ratio must be between 0 and 1 (1 = convex hull), got {ratio!r}")
    buffer_m = _positive("buffer_m", buffer_m)
    top_layers = _count("top_layers", top_layers, 1)
    xy = _point_coords(points_m)
    values = _aligned_labels(labels, points_m.index)
    source = attributes if attributes is not None else points_m
    layer_text = _column(source, "layers", points_m.index)
    town_text = _column(source, "town", points_m.index)
    if towns_m is not None:
        _same_crs(towns_m, points_m.crs, "towns_m")

    clustered = np.flatnonzero(values >= 0)
    group_order = clustered[np.argsort(values[clustered], kind="stable")]
    ids, starts = np.unique(values[group_order], return_index=True)
    groups = np.split(group_order, starts[1:]) if len(ids) else []
    rows: list[dict[str, object]] = []
    geoms: list[shapely.Geometry] = []
    for cid, members in zip(ids, groups, strict=True):
        spots = np.unique(xy[members], axis=0)
        base = shapely.multipoints(spots)
        shape = base.convex_hull if hull == "convex" else shapely.concave_hull(base, ratio=ratio)
        if len(spots) == 1:
            kind, geom, area = "point_buffer", shapely.Point(spots[0]).buffer(buffer_m), math.nan
        elif shape.geom_type != "Polygon" or shape.area == 0:
            kind, geom, area = "line_buffer", shape.buffer(buffer_m), math.nan
        else:
            kind, geom, area = hull, shape, float(shape.area)
        layers = _ordered_layers(_layer_counts(layer_text[members]) if layer_text is not None
                                 else Counter())
        rows.append({
            "cluster": int(cid),
            "size": len(members),
            "locations": len(spots),
            "shape": kind,
            "dominant_layers": ";".join(k for k, _ in layers[:top_layers]),
            "layer_counts": ";".join(f"{k}:{n}" for k, n in layers),
            "towns": "" if town_text is None else _town_list(town_text[members]),
            "area_m2": area,
        })
        geoms.append(geom)

    frame = pd.DataFrame(rows, columns=["cluster", "size", "locations", "shape",
                                        "dominant_layers", "layer_counts", "towns", "area_m2"])
    out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=points_m.crs),
                           crs=points_m.crs).set_index("cluster")
    if towns_m is not None:
        out["towns_touched"] = _towns_touched(out.geometry, towns_m) if len(out) else []
    return out


def _column(frame: pd.DataFrame | gpd.GeoSeries, name: str,
            index: pd.Index) -> NDArray[np.object_] | None:
    if not isinstance(frame, pd.DataFrame) or name not in frame.columns:
        return None
    column = frame[name]
    if not column.index.equals(index):
        missing = index.difference(column.index)
        if len(missing):
            raise InputError(f"attributes has no row for {len(missing)} point(s), e.g. "
                             f"{list(missing[:3])}; pass a frame on the same index as the points")
        column = column.reindex(index)
    return column.to_numpy(dtype=object)


def _town_list(values: Iterable[object]) -> str:
    present = {str(v) for v in values if isinstance(v, str) and v}
    order = list(catalog.TOWNS)
    return ";".join(sorted(present, key=lambda k: (order.index(k) if k in order else len(order),
                                                   k)))


def _towns_touched(shapes: gpd.GeoSeries, towns_m: gpd.GeoDataFrame) -> list[str]:
    keys = (towns_m["key"] if "key" in towns_m.columns else towns_m.index.to_series()).astype(str)
    hits = [shapely.intersects(shapes.to_numpy(), geom) for geom in towns_m.geometry]
    return [";".join(k for k, hit in zip(keys, column, strict=True) if hit)
            for column in zip(*hits, strict=True)] if hits else [""] * len(shapes)


# -- kernel density ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DensityGrid:
    """A density raster in a metric CRS.

    ``values[row, col]`` is facilities per km² at the centre of that cell; row 0 is the
    northern edge (as in an image or GeoTIFF). ``transform`` is the affine
    ``(a, b, c, d, e, f)`` of rasterio/GDAL: the upper-left corner of cell (row, col) is
    ``x = c + a * col``, ``y = f + e * row`` (``a = cell_m``, ``e = -cell_m``).
    """

    values: FloatArray
    transform: tuple[float, float, float, float, float, float]
    cell_m: float
    bandwidth_m: float
    crs: str
    count: int

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.values.shape[0]), int(self.values.shape[1]))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of the whole grid."""
        rows, cols = self.shape
        _, _, c, _, _, f = self.transform
        return (c, f - rows * self.cell_m, c + cols * self.cell_m, f)

    def cell_centres(self) -> tuple[FloatArray, FloatArray]:
        """1-D x (west to east) and y (north to south) of the cell centres."""
        rows, cols = self.shape
        _, _, c, _, _, f = self.transform
        x = c + (np.arange(cols, dtype=np.float64) + 0.5) * self.cell_m
        y = f - (np.arange(rows, dtype=np.float64) + 0.5) * self.cell_m
        return x, y


def kernel_density(
    points_m: Points,
    *,
    bandwidth_m: float,
    cell_m: float | None = None,
    extent: tuple[float, float, float, float] | gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    weights: Sequence[float] | pd.Series | None = None,
) -> DensityGrid:
    """Gaussian kernel density of facilities (per km²) on a square grid in metres.

    ``bandwidth_m`` is the kernel's standard deviation. ``cell_m`` defaults to a fifth of it
    and may not exceed it (a coarser grid would alias the kernel). ``extent`` is
    ``(minx, miny, maxx, maxy)`` or a metric GeoDataFrame whose bounds are used; by default the
    points' bounds grown by three bandwidths. The grid is snapped to multiples of ``cell_m`` so
    the same cells come back for every selection. Counts are binned to cells and smoothed with
    a Gaussian filter (truncated at 4 sigma): the binned estimator, within a few per cent of
    the exact sum when ``cell_m <= bandwidth_m / 4``. Points outside ``extent`` are ignored.
    The surface integrates to the number of points, less what spills over the grid's edge.
    """
    bandwidth_m = _positive("bandwidth_m", bandwidth_m)
    cell_m = bandwidth_m / 5.0 if cell_m is None else _positive("cell_m", cell_m)
    if cell_m > bandwidth_m:
        raise InputError(f"cell_m ({cell_m:g}) must not exceed bandwidth_m ({bandwidth_m:g}); "
                         "use a cell of about a quarter of the bandwidth")
    xy = _point_coords(points_m)
    weight = np.ones(len(xy)) if weights is None else np.asarray(weights, dtype=np.float64)
    if weight.shape != (len(xy),) or not np.isfinite(weight).all() or (weight < 0).any():
        raise InputError(f"weights must be {len(xy)} finite non-negative numbers, one per point")
    if extent is None:
        if len(xy) == 0:
            raise InputError("no points and no extent: nothing to estimate a density over")
        pad = 3.0 * bandwidth_m
        bounds = (xy[:, 0].min() - pad, xy[:, 1].min() - pad,
                  xy[:, 0].max() + pad, xy[:, 1].max() + pad)
    elif isinstance(extent, gpd.GeoDataFrame | gpd.GeoSeries):
        _same_crs(extent, points_m.crs, "extent")
        bounds = tuple(float(v) for v in extent.total_bounds)  # type: ignore[assignment]
    else:
        bounds = tuple(float(v) for v in extent)  # type: ignore[assignment]
        if len(bounds) != 4:
            raise InputError(f"extent must be (minx, miny, maxx, maxy), got {extent!r}")
    minx, miny, maxx, maxy = bounds
    if not all(math.isfinite(v) for v in bounds) or maxx <= minx or maxy <= miny:
        raise InputError(f"extent must be (minx, miny, maxx, maxy) with min < max, got {bounds}")
    x0, y0 = math.floor(minx / cell_m) * cell_m, math.floor(miny / cell_m) * cell_m
    x1, y1 = math.ceil(maxx / cell_m) * cell_m, math.ceil(maxy / cell_m) * cell_m
    cols, rows = round((x1 - x0) / cell_m), round((y1 - y0) / cell_m)
    if rows * cols > MAX_GRID_CELLS:
        raise InputError(f"the density grid would have {rows} x {cols} = {rows * cols:,} cells "
                         f"(limit {MAX_GRID_CELLS:,}); use a larger cell_m or a smaller extent")
    col = np.floor((xy[:, 0] - x0) / cell_m).astype(np.int64)
    row = np.floor((y1 - xy[:, 1]) / cell_m).astype(np.int64)
    inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
    counts = np.zeros((rows, cols), dtype=np.float64)
    np.add.at(counts, (row[inside], col[inside]), weight[inside])
    sigma = bandwidth_m / cell_m
    smooth = ndimage.gaussian_filter(counts, sigma=sigma, mode="constant", cval=0.0, truncate=4.0)
    per_km2 = np.clip(smooth, 0.0, None) / (cell_m * cell_m) * 1e6
    return DensityGrid(values=per_km2, transform=(cell_m, 0.0, x0, 0.0, -cell_m, y1),
                       cell_m=cell_m, bandwidth_m=bandwidth_m,
                       crs=CRS.from_user_input(points_m.crs).to_string(), count=int(inside.sum()))


def density_contours(grid: DensityGrid, *, levels: int | Sequence[float] = 5) -> gpd.GeoDataFrame:
    """Filled contour bands of a :class:`DensityGrid` as polygons (the grid's metric CRS).

    ``levels`` is a number of bands, spaced evenly from ``max / (levels + 1)`` up to the
    maximum (the empty background is not a band), or explicit increasing lower bounds in
    facilities per km². One row per band with ``lower``, ``upper`` (per km², the top band's
    upper bound is the maximum), ``level`` (0 = lowest) and a (multi)polygon with holes; bands
    that are empty are left out. ``.to_crs(4326)`` gives WGS84 for the map.
    """
    vmax = float(grid.values.max()) if grid.values.size else 0.0
    if isinstance(levels, int | np.integer) and not isinstance(levels, bool):
        count = _count("levels", int(levels), 1)
        lowers = [vmax * (i + 1) / (count + 1) for i in range(count)]
    else:
        # A bool lands here too (it is an int) and, not being iterable, raises TypeError.
        lowers = [float(v) for v in cast("Sequence[float]", levels)]
        if not lowers or any(b <= a for a, b in itertools.pairwise(lowers)) \
                or lowers[0] <= 0:
            raise InputError(f"levels must be a positive int or increasing positive numbers, "
                             f"got {levels!r}")
    columns = ["level", "lower", "upper"]
    if vmax <= 0:
        return gpd.GeoDataFrame(pd.DataFrame(columns=columns), geometry=[], crs=grid.crs)
    x, y = grid.cell_centres()
    # contourpy wants increasing y: flip the north-up rows.
    generator = contourpy.contour_generator(x, y[::-1], grid.values[::-1],
                                            fill_type=contourpy.FillType.OuterOffset)
    rows: list[dict[str, float]] = []
    geoms: list[shapely.Geometry] = []
    bounds = [*lowers, max(vmax, lowers[-1])]
    for level, (lower, upper) in enumerate(itertools.pairwise(bounds)):
        if lower >= vmax:
            break
        # The top band is closed above so the maximum cell is inside it.
        # FillType.OuterOffset gives (points, offsets); the stub types every fill type's tuple.
        points, offsets = cast("cpy.FillReturn_OuterOffset", generator.filled(
            lower, upper * (1 + 1e-9) if level == len(lowers) - 1 else upper))
        polygons = []
        for coords, offset in zip(points, offsets, strict=True):
            rings = [coords[a:b] for a, b in itertools.pairwise(offset)]
            polygons.append(shapely.Polygon(rings[0], rings[1:]))
        if not polygons:
            continue
        shape = shapely.make_valid(shapely.MultiPolygon(polygons)) if len(polygons) > 1 \
            else polygons[0]
        rows.append({"level": level, "lower": lower, "upper": upper})
        geoms.append(shape)
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=columns), geometry=geoms, crs=grid.crs)


# -- hotspots (Getis-Ord Gi*) --------------------------------------------------------------------


_CELL_SPEC = re.compile(r"^\s*(h3|grid)\s*:\s*([0-9]+(?:\.[0-9]*)?)\s*$", re.IGNORECASE)


def parse_cell(cell: str) -> tuple[Literal["h3", "grid"], float]:
    """``"h3:8"`` -> ("h3", 8); ``"grid:1000"`` -> ("grid", 1000.0 metres)."""
    match = _CELL_SPEC.match(str(cell))
    if not match:
        raise InputError(f"cell must be 'h3:RES' (RES 0-15, e.g. h3:8) or 'grid:METRES' "
                         f"(e.g. grid:1000), got {cell!r}")
    kind, size = match.group(1).lower(), float(match.group(2))
    if kind == "h3":
        if size != int(size) or not 0 <= size <= 15:
            raise InputError(f"H3 resolution must be an integer from 0 to 15, got {cell!r}")
        return "h3", float(int(size))
    if size <= 0:
        raise InputError(f"grid cell size must be positive metres, got {cell!r}")
    return "grid", size


def fdr_adjust(p_values: Sequence[float] | NDArray[np.float64]) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (q-values): a cell is significant at FDR ``alpha``
    when ``q <= alpha``, the same cells as ``p <= esda.fdr(p_values, alpha)``. NaN stays NaN."""
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return q
    order = ok[np.argsort(p[ok], kind="stable")]
    ranked = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return q


def _study_geometry(study_area: object, crs: Any) -> shapely.Geometry | None:
    if study_area is None:
        return None
    if isinstance(study_area, gpd.GeoDataFrame | gpd.GeoSeries):
        _same_crs(study_area, crs, "study_area")
        return shapely.union_all(study_area.geometry.to_numpy())
    if isinstance(study_area, shapely.Geometry):
        return study_area
    raise TypeError(f"study_area should be a GeoDataFrame, GeoSeries or shapely geometry in "
                    f"the points' CRS, got {type(study_area)}")


def _square_cells(xy: FloatArray, size: float, area: shapely.Geometry | None,
                  ) -> tuple[list[str], FloatArray, NDArray[np.int64], list[list[int]]]:
    """Square cells aligned to multiples of ``size``: ids, polygons' corners, counts, queen."""
    ij = np.floor(xy / size).astype(np.int64)
    keys: set[tuple[int, int]] = set()
    if area is not None and not area.is_empty:
        minx, miny, maxx, maxy = area.bounds
        i0, j0 = math.floor(minx / size), math.floor(miny / size)
        i1, j1 = math.ceil(maxx / size), math.ceil(maxy / size)
        if (i1 - i0) * (j1 - j0) > MAX_HOTSPOT_CELLS:
            raise InputError(f"the study area spans {(i1 - i0) * (j1 - j0):,} cells of "
                             f"{size:g} m (limit {MAX_HOTSPOT_CELLS:,}); use larger cells")
        grid_i, grid_j = np.meshgrid(np.arange(i0, i1), np.arange(j0, j1), indexing="ij")
        ii, jj = grid_i.ravel(), grid_j.ravel()
        shapely.prepare(area)
        boxes = shapely.box(ii * size, jj * size, (ii + 1) * size, (jj + 1) * size)
        # Cells that share only an edge or a corner with the area are not part of it.
        hit = shapely.intersects(boxes, area) & ~shapely.touches(boxes, area)
        keys.update(zip(ii[hit].tolist(), jj[hit].tolist(), strict=True))
    # A point outside the area brings its cell and that cell's neighbours, so no point sits in
    # a cell without any.
    for i, j in {(int(i), int(j)) for i, j in ij} - keys:
        keys.update((i + di, j + dj) for di in (-1, 0, 1) for dj in (-1, 0, 1))
    cells = sorted(keys, key=lambda k: (-k[1], k[0]))  # north to south, west to east
    if len(cells) > MAX_HOTSPOT_CELLS:
        raise InputError(f"{len(cells):,} cells of {size:g} m (limit {MAX_HOTSPOT_CELLS:,}); "
                         "use larger cells")
    position = {k: n for n, k in enumerate(cells)}
    counts = np.zeros(len(cells), dtype=np.int64)
    np.add.at(counts, [position[(int(i), int(j))] for i, j in ij], 1)
    neighbours = [
        [position[(i + di, j + dj)] for di in (-1, 0, 1) for dj in (-1, 0, 1)
         if (i + di, j + dj) in position]  # includes the cell itself (Gi*)
        for i, j in cells
    ]
    corners = np.array(cells, dtype=np.float64).reshape(-1, 2) * size
    ids = [f"{i}_{j}" for i, j in cells]
    return ids, corners, counts, neighbours


def _h3_cells(xy: FloatArray, res: int, area: shapely.Geometry | None, crs: Any,
              ) -> tuple[list[str], list[shapely.Geometry], NDArray[np.int64], list[list[int]]]:
    import h3

    to_wgs84 = Transformer.from_crs(crs, GEOGRAPHIC_CRS, always_xy=True)
    lon, lat = to_wgs84.transform(xy[:, 0], xy[:, 1])
    point_cells = [h3.latlng_to_cell(float(b), float(a), res) for a, b in zip(lon, lat,
                                                                               strict=True)]
    keys: set[str] = set()
    if area is not None and not area.is_empty:
        area_wgs84 = shapely.transform(area, lambda c: np.column_stack(
            to_wgs84.transform(c[:, 0], c[:, 1])))
        for part in getattr(area_wgs84, "geoms", [area_wgs84]):
            if part.geom_type == "Polygon":
                keys.update(h3.geo_to_cells(part, res))  # cells whose centre is inside
        # ... and the cells the boundary runs through: walk it in steps of a quarter of a
        # hexagon's edge; a cell the walk steps over is a neighbour of one it lands in, so
        # those neighbours are kept when they overlap the area.
        step = h3.average_hexagon_edge_length(res, unit="m") / 4
        edge = shapely.get_coordinates(shapely.segmentize(area.boundary, step))
        if len(keys) + len(edge) > 4 * MAX_HOTSPOT_CELLS:
            raise InputError(f"the study area needs too many H3 cells at resolution {res}; "
                             "use a coarser resolution")
        edge_lon, edge_lat = to_wgs84.transform(edge[:, 0], edge[:, 1])
        edge_cells = {h3.latlng_to_cell(float(b), float(a), res)
                      for a, b in zip(edge_lon, edge_lat, strict=True)}
        keys.update(edge_cells)
        near = sorted({d for c in edge_cells for d in h3.grid_disk(c, 1)} - keys)
        if near:
            to_metric = Transformer.from_crs(GEOGRAPHIC_CRS, crs, always_xy=True)
            shapes = np.asarray([_h3_polygon(c, to_metric) for c in near], dtype=object)
            shapely.prepare(area)
            overlap = shapely.intersects(shapes, area) & ~shapely.touches(shapes, area)
            keys.update(c for c, hit in zip(near, overlap, strict=True) if hit)
        if len(keys) > MAX_HOTSPOT_CELLS:
            raise InputError(f"more than {MAX_HOTSPOT_CELLS:,} H3 cells at resolution {res}; "
                             "use a coarser resolution")
    # A point outside the area brings its cell and that cell's neighbours, so no point sits in
    # a cell without any.
    for c in set(point_cells) - keys:
        keys.update(h3.grid_disk(c, 1))
    cells = sorted(keys)
    position = {c: n for n, c in enumerate(cells)}
    counts = np.zeros(len(cells), dtype=np.int64)
    np.add.at(counts, [position[c] for c in point_cells], 1)
    neighbours = [[position[d] for d in sorted(h3.grid_disk(c, 1)) if d in position]
                  for c in cells]  # grid_disk includes the cell itself (Gi*)
    to_metric = Transformer.from_crs(GEOGRAPHIC_CRS, crs, always_xy=True)
    polygons = [_h3_polygon(c, to_metric) for c in cells]
    return cells, polygons, counts, neighbours


def _h3_polygon(cell: str, to_metric: Transformer) -> shapely.Polygon:
    import h3

    ring = np.asarray(h3.cell_to_boundary(cell))  # (lat, lng) pairs
    x, y = to_metric.transform(ring[:, 1], ring[:, 0])
    return shapely.Polygon(np.column_stack([x, y]))


def hotspots(
    points_m: Points,
    *,
    cell: str = "h3:8",
    study_area: gpd.GeoDataFrame | gpd.GeoSeries | shapely.Geometry | None = None,
    permutations: int = 999,
    seed: int = 0,
    correction: Literal["fdr", "none"] = "fdr",
    inference: Literal["permutation", "normal"] = "permutation",
    alternative: Literal["directed", "two-sided"] = "directed",
) -> gpd.GeoDataFrame:
    """Getis-Ord Gi* hot and cold spots of facility counts over a hexagonal or square grid.

    ``cell`` is ``"h3:RES"`` (H3 cells from WGS84 lon/lat, drawn in the points' metric CRS) or
    ``"grid:METRES"`` (squares aligned to multiples of the size in the points' CRS). The grid
    covers ``study_area`` (e.g. the towns' polygons: every cell that overlaps it) and every
    cell holding a point, with its neighbours, empty cells included: Gi* compares each
    neighbourhood with the whole area, so the empty cells are part of the answer. Without
    ``study_area``: the points' cells and their neighbours, plus, for squares, every cell in
    the points' bounding box.

    Weights: binary contiguity (queen for squares, the six neighbours for hexagons) plus the
    cell itself (Gi*), through esda's ``G_Local(star=True, transform="B")``; ``gi_z`` is its
    analytical z. Columns ``p_sim`` (permutation; see :func:`_gi_star`; NaN with
    ``permutations=0``) and ``p_norm`` (normal, from z) are p-values in the direction of z
    (``alternative="directed"``, esda's and GeoDa's convention) or two-sided. ``inference``
    picks the one that is tested: ``q`` is its Benjamini-Hochberg adjustment across all cells
    (``correction="fdr"``; the p-value itself with ``"none"``), and ``hotspot`` is ``hot_99``
    ... ``cold_99`` (:data:`HOTSPOT_CLASSES`) for ``q`` <= 0.01 / 0.05 / 0.10 by the sign of z.

    What to expect: a permutation p-value is at least ``1 / (permutations + 1)``, and a lone
    dense cell among n cells gets about ``k / n`` (k = cells in a neighbourhood: a random
    neighbourhood holds that cell that often), which FDR never passes; a dense *patch* of
    several cells is detected. ``inference="normal"`` (what ArcGIS's Hot Spot Analysis does)
    flags a lone dense cell too, but trusts a normal approximation that sparse counts do not
    follow. If every cell has the same count (e.g. no points) Gi* is undefined: z and p are NaN
    and every cell ``not_significant``; so is a cell with no neighbour in the grid. Index: cell
    id; CRS: the points' CRS; ``attrs`` record the parameters.
    """
    kind, size = parse_cell(cell)
    permutations = _count("permutations", permutations, 0)
    if correction not in ("fdr", "none"):
        raise InputError(f"correction must be 'fdr' or 'none', got {correction!r}")
    if inference not in ("permutation", "normal"):
        raise InputError(f"inference must be 'permutation' or 'normal', got {inference!r}")
    if inference == "permutation" and permutations == 0:
        raise InputError("inference='permutation' needs permutations >= 1 (999 is usual)")
    if alternative not in ("directed", "two-sided"):
        raise InputError(f"alternative must be 'directed' or 'two-sided', got {alternative!r}")
    xy = _point_coords(points_m)
    area = _study_geometry(study_area, points_m.crs)
    if area is None and kind == "grid" and len(xy):
        area = shapely.box(*xy.min(axis=0), *xy.max(axis=0))
    if len(xy) == 0 and (area is None or area.is_empty):
        raise InputError("no points and no study area: there is no grid to test")

    if kind == "grid":
        ids, corners, counts, neighbours = _square_cells(xy, size, area)
        geoms = shapely.box(corners[:, 0], corners[:, 1], corners[:, 0] + size,
                            corners[:, 1] + size)
    else:
        ids, polygon_list, counts, neighbours = _h3_cells(xy, int(size), area, points_m.crs)
        geoms = np.asarray(polygon_list, dtype=object)

    m = len(ids)
    z, p_sim, p_norm = np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan)
    if m >= 2 and counts.min() != counts.max():
        z, p_sim, p_norm = _gi_star(counts, neighbours, permutations=permutations, seed=seed,
                                    alternative=alternative)
    tested = p_sim if inference == "permutation" else p_norm
    q = fdr_adjust(tested) if correction == "fdr" else tested.copy()
    classes = np.full(m, "not_significant", dtype=object)
    for threshold, label in reversed(_CONFIDENCE):  # 90, then 95, then 99 overwrite
        sig = np.isfinite(q) & (q <= threshold)
        classes[sig & (z > 0)] = f"hot_{label}"
        classes[sig & (z < 0)] = f"cold_{label}"
    frame = pd.DataFrame({"count": counts, "gi_z": z, "p_sim": p_sim, "p_norm": p_norm, "q": q,
                          "hotspot": classes}, index=pd.Index(ids, name="cell"))
    out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index,
                                                         crs=points_m.crs), crs=points_m.crs)
    out.attrs.update(cell=f"{kind}:{size:g}", permutations=permutations, seed=seed,
                     correction=correction, inference=inference, alternative=alternative,
                     points=len(xy))
    return out


def _gi_star(counts: NDArray[np.int64], neighbours: list[list[int]], *, permutations: int,
             seed: int, alternative: str) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gi* z (esda, analytical), permutation p and normal p per cell.

    The permutation test is by total randomisation: a cell's neighbourhood (itself and its
    neighbours, k cells) is compared with the sums of k cells drawn at random without
    replacement from the grid, which is the null the analytical Gi* z assumes. One reference
    distribution of ``permutations`` draws serves all cells with the same k (each cell's
    p-value is still exact under its null), so the cost hardly depends on the grid's size.
    Ties count as "at least as extreme".

    esda's own ``p_sim`` is not used, for two reasons seen on this project's data: its
    conditional randomisation holds each cell's own count fixed, so under Gi* a cell's own
    facilities never count towards its significance (a dense cell ringed by empty cells is
    "not significant" while the empty cells around it come out hot); and it folds ties onto
    the other tail, which makes every empty neighbourhood of sparse data a 99% cold spot.
    """
    from esda.getisord import G_Local
    from libpysal.weights import W

    y = counts.astype(np.float64)
    cardinality = np.array([len(n) for n in neighbours])
    islands = cardinality <= 1  # a cell with no neighbour has nothing to compare
    weights = W(dict(enumerate(neighbours)), silence_warnings=True)
    g = G_Local(y, weights, transform="B", permutations=0, star=True)
    z = np.where(islands, np.nan, np.asarray(g.Zs, dtype=np.float64))
    p_one = stats.norm.sf(np.abs(z))
    p_norm = np.minimum(2 * p_one, 1.0) if alternative == "two-sided" else p_one
    p_sim = np.full(len(y), np.nan)
    if not permutations:
        return z, p_sim, p_norm
    observed = np.array([y[n].sum() for n in neighbours])
    tolerance = 1e-9 * max(1.0, float(y.sum()))  # sums of counts: only rounding to absorb
    rng = np.random.default_rng(seed)
    p_high = np.full(len(y), np.nan)
    p_low = np.full(len(y), np.nan)
    for k in np.unique(cardinality[~islands]):
        reference = np.sort(_random_subset_sums(y, int(k), permutations, rng))
        cells = np.flatnonzero((cardinality == k) & ~islands)
        at_least = permutations - np.searchsorted(reference, observed[cells] - tolerance)
        at_most = np.searchsorted(reference, observed[cells] + tolerance, side="right")
        p_high[cells] = (at_least + 1) / (permutations + 1)
        p_low[cells] = (at_most + 1) / (permutations + 1)
    if alternative == "two-sided":
        p_sim = np.minimum(2 * np.minimum(p_high, p_low), 1.0)
    else:
        p_sim = np.where(z >= 0, p_high, p_low)
    return z, np.where(islands, np.nan, p_sim), p_norm


def _random_subset_sums(y: FloatArray, k: int, draws: int,
                        rng: np.random.Generator) -> FloatArray:
    """Sums of ``k`` values drawn without replacement from ``y``, ``draws`` times.

    Rows with a repeated index are redrawn whole (exact uniform k-subsets; with k <= 9 cells
    out of hundreds a repeat is rare, so this costs a few passes at most).
    """
    n = len(y)
    idx = rng.integers(0, n, size=(draws, k))
    while True:
        ordered = np.sort(idx, axis=1)
        repeated = np.flatnonzero((np.diff(ordered, axis=1) == 0).any(axis=1))
        if not len(repeated):
            break
        idx[repeated] = rng.integers(0, n, size=(len(repeated), k))
    sums: FloatArray = y[idx].sum(axis=1)
    return sums


# -- Clark-Evans nearest-neighbour index ---------------------------------------------------------


@dataclass(frozen=True)
class ClarkEvans:
    """Clark-Evans aggregation index R = observed / expected mean nearest-neighbour distance.

    R < 1: clustered, R = 1: random (CSR), R > 1: dispersed (2.1491 for a hexagonal lattice).
    ``pattern`` is ``clustered``, ``dispersed``, ``random`` or ``too_few_points``.
    """

    n: int
    area_m2: float
    observed_mean_m: float
    expected_mean_m: float
    R: float
    z: float
    p: float
    edge_correction: str
    pattern: str
    alpha: float = 0.05

    def sentence(self, lang: str = "en") -> str:
        """A plain sentence: ``clustered, p < 0.01`` / ``consistent with random, p = 0.42``."""
        if self.pattern == "too_few_points":
            return (f"点数过少（{self.n}），最近邻检验至少需要 2 个点" if lang == "zh" else
                    f"too few points ({self.n}) for a nearest-neighbour test; it needs at least 2")
        p_text = "p < 0.01" if self.p < 0.01 else f"p = {self.p:.2f}"
        if lang == "zh":
            word = {"clustered": "集聚", "dispersed": "离散", "random": "与随机分布无显著差异"}
        else:
            word = {"clustered": "clustered", "dispersed": "dispersed",
                    "random": "consistent with random"}
        return f"{word[self.pattern]}, {p_text} (R = {self.R:.2f}, z = {self.z:.2f})"


def clark_evans(
    points_m: Points,
    *,
    window: shapely.Geometry | gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    area_m2: float | None = None,
    edge_correction: Literal["auto", "donnelly", "none"] = "auto",
    alpha: float = 0.05,
) -> ClarkEvans:
    """Clark-Evans test of the points against complete spatial randomness in a study window.

    Give the ``window`` polygon (metric CRS; its area and perimeter are used) or just its
    ``area_m2``. Expected mean nearest-neighbour distance ``0.5 * sqrt(A / n)``, standard error
    ``0.26136 * sqrt(A) / n`` (Clark & Evans 1954); with Donnelly's (1978) edge correction
    (``"donnelly"``, the default when a window is given) ``0.5 * sqrt(A / n) +
    (0.0514 + 0.041 / sqrt(n)) * P / n`` and ``SE = sqrt(0.0703 * A / n² + 0.037 * P *
    sqrt(A / n^5))`` with perimeter P. Two-sided normal p-value; the pattern is called
    clustered/dispersed when ``p < alpha``. Fewer than 2 points give ``too_few_points`` with
    NaN statistics rather than an error. Points outside the window are not checked here (see
    :func:`clark_evans_by_town`); duplicate points count with distance 0.
    """
    if edge_correction not in ("auto", "donnelly", "none"):
        raise InputError(f"edge_correction must be 'auto', 'donnelly' or 'none', "
                         f"got {edge_correction!r}")
    xy = _point_coords(points_m)
    perimeter: float | None = None
    if window is not None:
        geom = _study_geometry(window, points_m.crs)
        assert geom is not None
        if geom.area <= 0:
            raise InputError("window must be a polygon with a positive area")
        area, perimeter = float(geom.area), float(geom.length)
    elif area_m2 is not None:
        area = _positive("area_m2", area_m2)
    else:
        raise InputError("give the study window (a polygon) or its area_m2")
    correction = ("donnelly" if perimeter is not None else "none") \
        if edge_correction == "auto" else edge_correction
    if correction == "donnelly" and perimeter is None:
        raise InputError("Donnelly's edge correction needs the window's perimeter: pass "
                         "window=polygon, or edge_correction='none'")
    n = len(xy)
    if n < 2:
        nan = float("nan")
        return ClarkEvans(n, area, nan, nan, nan, nan, nan, correction, "too_few_points", alpha)
    distances, _ = cKDTree(xy).query(xy, k=2)
    observed = float(distances[:, 1].mean())
    if correction == "donnelly":
        assert perimeter is not None
        expected = 0.5 * math.sqrt(area / n) + (0.0514 + 0.041 / math.sqrt(n)) * perimeter / n
        se = math.sqrt(0.0703 * area / n**2 + 0.037 * perimeter * math.sqrt(area / n**5))
    else:
        expected = 0.5 * math.sqrt(area / n)
        se = 0.26136 * math.sqrt(area) / n
    z = (observed - expected) / se
    p = float(2.0 * stats.norm.sf(abs(z)))
    pattern = "random" if p >= alpha else ("clustered" if z < 0 else "dispersed")
    return ClarkEvans(n, area, observed, expected, observed / expected, z, p, correction,
                      pattern, alpha)


def clark_evans_by_town(
    points_m: Points,
    towns_m: gpd.GeoDataFrame,
    *,
    edge_correction: Literal["auto", "donnelly", "none"] = "auto",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """:func:`clark_evans` for each town, its polygon as the window.

    Only points inside a town's polygon take part in its test (the statistic assumes the points
    lie in the window); ``outside`` counts points whose ``town`` column names the town but lie
    outside its polygon (approximate boundaries, area-level placements). Index: the town key;
    columns n, outside, area_m2, observed_mean_m, expected_mean_m, R, z, p, pattern,
    sentence_en, sentence_zh.
    """
    xy = _point_coords(points_m)
    _same_crs(towns_m, points_m.crs, "towns_m")
    keys = (towns_m["key"] if "key" in towns_m.columns else towns_m.index.to_series()).astype(str)
    attributed = points_m["town"].to_numpy() if isinstance(points_m, gpd.GeoDataFrame) \
        and "town" in points_m.columns else None
    rows = []
    for key, geom in zip(keys, towns_m.geometry, strict=True):
        inside = shapely.contains_xy(geom, xy[:, 0], xy[:, 1]) if len(xy) else np.zeros(0, bool)
        subset = points_m.iloc[np.flatnonzero(inside)]
        result = clark_evans(subset, window=geom, edge_correction=edge_correction, alpha=alpha)
        outside = int(((attributed == key) & ~inside).sum()) if attributed is not None else 0
        rows.append({"town": key, "n": result.n, "outside": outside, "area_m2": result.area_m2,
                     "observed_mean_m": result.observed_mean_m,
                     "expected_mean_m": result.expected_mean_m, "R": result.R, "z": result.z,
                     "p": result.p, "pattern": result.pattern,
                     "sentence_en": result.sentence("en"), "sentence_zh": result.sentence("zh")})
    return pd.DataFrame(rows).set_index("town")
