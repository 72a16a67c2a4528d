"""Road-network reach: graphs from GraphML or line files, and isochrones in EPSG:4549 metres.

A facility's isochrone is the set of street lengths reachable within ``minutes`` at the mode's
speed (walking from the facility to its nearest network node first), buffered by
``edge_buffer_m`` on each side: the area a person on those streets can serve. It replaces the
crow-flies disc of the same reach (speed x time), which it can never exceed by more than the
buffer width.

Graphs are built once per file in EPSG:4549: edge lengths are measured from the projected
geometry (a ``length`` attribute in the file is ignored, so units never get mixed). Walking
and cycling use streets in both directions; driving keeps the direction of a directed GraphML
graph (osmnx writes one-way streets that way). Line files carry no direction, so every mode
treats them as two-way, and a node is made where lines share a vertex (as in OSM, where ways
meet at shared nodes); lines that merely cross without a shared vertex are not connected.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, get_args

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree
from shapely.ops import substring

from geo._errors import DataError, InputError, Problem
from geo.crs import assert_projected, to_metric
from geo.settings import METRIC_CRS

__all__ = [
    "EDGE_BUFFER_M",
    "MAX_SNAP_M",
    "MODES",
    "SPEEDS_KMH",
    "Mode",
    "RoadNetwork",
    "isochrones",
    "network_from_graph",
    "network_from_lines",
    "reach_m",
    "read_network",
]

Mode = Literal["walk", "bike", "drive"]
MODES: Final[tuple[str, ...]] = get_args(Mode)

#: Planning speeds (km/h): walking 4.8 (80 m/min, the life-circle convention), cycling 15,
#: driving 30 (urban average with junction delays, not the speed limit).
SPEEDS_KMH: Final[Mapping[str, float]] = MappingProxyType(
    {"walk": 4.8, "bike": 15.0, "drive": 30.0})
#: Half-width of the band served along a reachable street, metres.
EDGE_BUFFER_M: Final = 50.0
#: A facility farther than this from every network node is outside the network's extent.
MAX_SNAP_M: Final = 500.0
_QUAD_SEGS: Final = 16
_NODE_DECIMALS: Final = 2  # vertices closer than 1 cm in EPSG:4549 are the same node


def reach_m(mode: str, minutes: float, *, speed_kmh: float | None = None) -> float:
    """Distance travelled in ``minutes`` at the mode's speed (or ``speed_kmh``), metres."""
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    speed = SPEEDS_KMH[mode] if speed_kmh is None else float(speed_kmh)
    if not math.isfinite(speed) or speed <= 0:
        raise InputError(f"speed_kmh must be a positive number, got {speed_kmh!r}")
    if not isinstance(minutes, int | float) or not math.isfinite(minutes) or minutes <= 0:
        raise InputError(f"minutes must be a positive number, got {minutes!r}")
    return speed * 1000.0 / 60.0 * float(minutes)


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A road graph in EPSG:4549: node attributes ``x``/``y``, edge ``length_m`` and ``geometry``.

    ``graph`` is a networkx (Di)Graph with one edge per node pair (the shortest of parallel
    edges). Treat it as read-only.
    """

    graph: nx.Graph
    source: str
    directed: bool

    @property
    def _nodes(self) -> tuple[list[object], NDArray[np.float64], cKDTree]:
        cached = self.__dict__.get("_node_cache")
        if cached is None:
            ids = list(self.graph.nodes)
            xy = np.array([(self.graph.nodes[n]["x"], self.graph.nodes[n]["y"]) for n in ids],
                          dtype=float).reshape(-1, 2)
            cached = (ids, xy, cKDTree(xy) if len(xy) else None)
            object.__setattr__(self, "_node_cache", cached)
        return cached

    def nearest_nodes(self, x: NDArray[np.float64], y: NDArray[np.float64]
                      ) -> tuple[list[object], NDArray[np.float64]]:
        """Nearest node of each point and the distance to it (metres)."""
        ids, _, tree = self._nodes
        if tree is None:
            raise InputError(f"{self.source}: the road network has no nodes")
        dist, idx = tree.query(np.column_stack([x, y]), k=1)
        return [ids[i] for i in idx], np.asarray(dist, dtype=float)

    @property
    def length_m(self) -> float:
        """Total length of the (undirected) streets, metres."""
        return float(sum(d["length_m"] for _, _, d in self.graph.edges(data=True)))


def _simple_graph(directed: bool) -> nx.Graph:
    return nx.DiGraph() if directed else nx.Graph()


def _add_edge(graph: nx.Graph, u: object, v: object, line: shapely.LineString) -> None:
    if u == v:
        return  # a loop takes nobody anywhere
    length = float(line.length)
    old = graph.get_edge_data(u, v)
    if old is None or length < old["length_m"]:
        # Stored oriented from u to v so partial reach can be measured from either end.
        graph.add_edge(u, v, length_m=length, geometry=line, start=u)


def network_from_lines(lines: gpd.GeoDataFrame, *, source: str = "<lines>") -> RoadNetwork:
    """Build an undirected network from (Multi)LineStrings; nodes where lines share a vertex."""
    if lines.active_geometry_name is None:  # e.g. a CSV without geometry
        raise DataError(Problem(source, None, "geometry", None,
                                "the file holds no geometry; give road lines (GeoPackage, "
                                "GeoJSON, .osm/.pbf) or a GraphML network"))
    if lines.crs is None:
        raise DataError(Problem(source, None, None, None,
                                "the road lines have no CRS; save them with one"))
    geoms = to_metric(lines).geometry.to_numpy()
    types = shapely.get_type_id(geoms)
    bad = np.flatnonzero(~np.isin(types, (1, 5)))
    if len(bad):
        raise DataError([
            Problem(source, int(i) + 1, "geometry",
                    None if geoms[i] is None else geoms[i].geom_type,
                    "expected a LineString or MultiLineString (a street)")
            for i in bad[:200]
        ])
    parts = shapely.get_parts(geoms)
    graph = nx.Graph()
    for part in parts:
        coords = np.round(shapely.get_coordinates(part), _NODE_DECIMALS)
        for (x0, y0), (x1, y1) in itertools.pairwise(coords):
            u, v = (float(x0), float(y0)), (float(x1), float(y1))
            graph.add_node(u, x=u[0], y=u[1])
            graph.add_node(v, x=v[0], y=v[1])
            _add_edge(graph, u, v, shapely.LineString([u, v]))
    if graph.number_of_edges() == 0:
        raise DataError(Problem(source, None, None, None, "no street segments found"))
    return RoadNetwork(graph=graph, source=source, directed=False)


def network_from_graph(graph: nx.Graph, *, crs: object, mode: str = "walk",
                       source: str = "<graph>") -> RoadNetwork:
    """Project a networkx graph with node ``x``/``y`` (in ``crs``) to EPSG:4549.

    Edge geometry comes from an edge ``geometry`` attribute (WKT or shapely, in ``crs``) or
    the straight line between the nodes. Directed graphs stay directed for ``mode="drive"``.
    """
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    try:
        src = CRS.from_user_input(crs)
    except Exception as exc:  # pyproj raises CRSError, a plain Exception subclass
        raise DataError(Problem(source, None, "crs", crs, f"not a CRS: {exc}")) from exc
    to_m = Transformer.from_crs(src, METRIC_CRS, always_xy=True)
    problems: list[Problem] = []
    xy: dict[object, tuple[float, float]] = {}
    for n, (node, data) in enumerate(graph.nodes(data=True), start=1):
        try:
            x, y = float(data["x"]), float(data["y"])
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            problems.append(Problem(source, n, "x/y", (data.get("x"), data.get("y")),
                                    f"node {node!r} needs numeric x and y coordinates"))
            continue
        mx, my = to_m.transform(x, y)
        xy[node] = (float(mx), float(my))
    if problems:
        raise DataError(problems)
    directed = bool(graph.is_directed()) and mode == "drive"
    out = _simple_graph(directed)
    for node, (x, y) in xy.items():
        out.add_node(node, x=x, y=y)
    for u, v, data in graph.edges(data=True):
        raw = data.get("geometry")
        if raw is None:
            line = shapely.LineString([xy[u], xy[v]])
        else:
            geom = shapely.from_wkt(raw) if isinstance(raw, str) else raw
            line = shapely.transform(geom, lambda c: np.column_stack(
                to_m.transform(c[:, 0], c[:, 1])))
            start = shapely.get_coordinates(line)[0]
            if math.dist(start, xy[u]) > math.dist(start, xy[v]):
                line = line.reverse()
        _add_edge(out, u, v, line)
    if out.number_of_edges() == 0:
        raise DataError(Problem(source, None, None, None, "the graph has no edges"))
    return RoadNetwork(graph=out, source=source, directed=directed)


def read_network(path: str | Path, *, mode: str = "walk", layer: str | None = None
                 ) -> RoadNetwork:
    """Read a road network: GraphML (networkx/osmnx), or lines from GeoPackage/GeoJSON/.osm/.pbf.

    For OSM files the ``lines`` layer (ways) is used; ``layer`` picks another layer.
    GraphML must carry a graph attribute ``crs`` (osmnx writes one).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(Problem(str(path), None, None, None, "no such file"))
    if path.suffix.lower() == ".graphml":
        try:
            graph = nx.read_graphml(path)
        except Exception as exc:  # networkx raises several XML and key errors
            raise DataError(Problem(str(path), None, None, None,
                                    f"cannot read as GraphML: {exc}")) from exc
        crs = graph.graph.get("crs")
        if crs is None:
            raise DataError(Problem(str(path), None, "crs", None,
                                    "the graph has no 'crs' attribute; osmnx writes one "
                                    "(e.g. 'epsg:4326'): add it to the <graph> element"))
        return network_from_graph(graph, crs=crs, mode=mode, source=str(path))
    if layer is None and path.suffix.lower() in (".osm", ".pbf"):
        layer = "lines"
    try:
        lines = gpd.GeoDataFrame(pyogrio.read_dataframe(path, layer=layer))
    except Exception as exc:  # GDAL errors vary by driver
        raise DataError(Problem(str(path), None, None, None,
                                f"cannot read road lines: {exc}")) from exc
    return network_from_lines(lines, source=str(path))


def _reached_pieces(net: RoadNetwork, dist: Mapping[object, float], budget: float
                    ) -> list[shapely.LineString]:
    """Parts of edges reachable within ``budget`` given node distances."""
    graph = net.graph
    pieces: list[shapely.LineString] = []
    seen: set[tuple[object, object]] = set()
    for node in dist:
        edges = graph.out_edges(node, data=True) if net.directed else graph.edges(node, data=True)
        for u, v, data in edges:
            key = (u, v) if net.directed else tuple(sorted((u, v), key=repr))
            if key in seen:
                continue
            seen.add(key)
            line, length = data["geometry"], data["length_m"]
            start = data["start"]  # the end the stored geometry begins at
            end = v if start == u else u
            from_start = budget - dist.get(start, math.inf)
            # A directed edge is travelled from its start only.
            from_end = -math.inf if net.directed else budget - dist.get(end, math.inf)
            if (from_start >= length or from_end >= length
                    or (from_start > 0 and from_end > 0 and from_start + from_end >= length)):
                pieces.append(line)
                continue
            if from_start > 0:
                pieces.append(substring(line, 0.0, from_start))
            if from_end > 0:
                pieces.append(substring(line, length - from_end, length))
    return pieces


def isochrones(
    facilities_m: gpd.GeoDataFrame,
    network: RoadNetwork,
    *,
    mode: str = "walk",
    minutes: float = 15.0,
    speed_kmh: float | None = None,
    edge_buffer_m: float = EDGE_BUFFER_M,
    max_snap_m: float = MAX_SNAP_M,
) -> gpd.GeoDataFrame:
    """Network service area of each facility (EPSG:4549), on the facility index.

    Columns: ``reach_m`` (speed x time), ``snap_m`` (facility to its nearest node, walked
    first and taken off the budget), ``street_m`` (length of street reached), ``on_network``.
    A facility more than ``max_snap_m`` from every node lies outside the network's extent:
    it gets an empty service area and ``on_network`` False, rather than a walk across
    unmapped ground.
    """
    assert_projected(facilities_m, "facilities_m")
    if not facilities_m.crs.equals(CRS.from_user_input(METRIC_CRS)):
        raise InputError(f"facilities_m must be in {METRIC_CRS} like the network; "
                         "project it with geo.crs.to_metric()")
    if not math.isfinite(edge_buffer_m) or edge_buffer_m <= 0:
        raise InputError(f"edge_buffer_m must be a positive number of metres, got "
                         f"{edge_buffer_m!r}")
    budget = reach_m(mode, minutes, speed_kmh=speed_kmh)
    geoms = facilities_m.geometry.to_numpy()
    if len(geoms) and not (shapely.get_type_id(geoms) == 0).all():
        raise InputError("isochrones need facility points")
    x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    nodes, snaps = (network.nearest_nodes(x, y) if len(geoms) else ([], np.empty(0)))
    if not math.isfinite(max_snap_m) or max_snap_m < 0:
        raise InputError(f"max_snap_m must be a non-negative number of metres, got "
                         f"{max_snap_m!r}")
    polygons, street = [], []
    for px, py, node, snap in zip(x, y, nodes, snaps, strict=True):
        if snap > max_snap_m:
            polygons.append(shapely.Polygon())
            street.append(0.0)
            continue
        left = budget - snap
        nx_, ny_ = network.graph.nodes[node]["x"], network.graph.nodes[node]["y"]
        walk = shapely.LineString([(px, py), (nx_, ny_)]) if snap > 0 else None
        pieces: list[shapely.LineString] = []
        if left < 0:
            assert walk is not None
            pieces.append(substring(walk, 0.0, budget))
        else:
            dist = nx.single_source_dijkstra_path_length(network.graph, node, cutoff=left,
                                                         weight="length_m")
            pieces = _reached_pieces(network, dist, left)
            if walk is not None:
                pieces.append(walk)
        lines = shapely.union_all(pieces) if pieces else shapely.Point(px, py)
        street.append(float(sum(p.length for p in pieces)))
        polygons.append(shapely.buffer(lines, edge_buffer_m, quad_segs=_QUAD_SEGS))
    frame = pd.DataFrame({"reach_m": budget, "snap_m": snaps, "street_m": street,
                          "on_network": np.asarray(snaps) <= max_snap_m},
                         index=facilities_m.index)
    return gpd.GeoDataFrame(frame, geometry=polygons, crs=facilities_m.crs)
