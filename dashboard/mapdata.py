"""Display data for the map: simplified boundaries per datum and facility features, built once."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import Transformer

from dashboard.i18n import t
from geo import catalog
from geo.atlas import Atlas
from geo.crs import Datum, convert, convert_gdf, to_metric
from geo.settings import GEOGRAPHIC_CRS, METRIC_CRS
from geo.style import AGG_COLOURS, DEFAULT_COLOUR, SIMPLIFY_M

DISPLAY_DATUMS: tuple[Datum, ...] = ("wgs84", "gcj02")

_DISPLAY_COLUMNS = {
    "districts": ["name_zh", "name_en"],
    "towns": ["key", "name_zh", "name_en", "official_area_km2", "boundary_quality", "colour"],
    "corridors": ["key", "name_zh", "name_en", "boundary_quality"],
    "corridor_lines": ["key", "name_zh", "name_en", "boundary_quality"],
    "zones": ["key", "name_zh", "name_en", "boundary_quality"],
}
DECIMALS = 6
#: Padding (px) when the map is fitted to towns, so the indicator cards over the top of the
#: map do not hide them (Leaflet fitBounds options).
FIT_PADDING: dict[str, list[int]] = {"paddingTopLeft": [20, 100], "paddingBottomRight": [20, 20]}
#: Above this many facilities in view the map gets server-side grid counts instead of points.
POINT_LIMIT = 2000
#: Grid cell size (metres, EPSG:4549) for aggregated views, by map zoom.
AGG_CELL_M = {7: 20_000, 8: 10_000, 9: 5_000, 10: 2_000, 11: 1_000, 12: 500, 13: 250}


def _simplified(gdf: gpd.GeoDataFrame, tolerance_m: float) -> gpd.GeoDataFrame:
    metric = to_metric(gdf)
    metric = metric.set_geometry(metric.geometry.simplify(tolerance_m, preserve_topology=True))
    return metric.to_crs(gdf.crs)


def _feature_collection(gdf: gpd.GeoDataFrame, columns: list[str],
                        lang_tooltip: bool) -> dict[str, Any]:
    geoms = shapely.set_precision(gdf.geometry.to_numpy(), 10 ** -DECIMALS)
    features = []
    for geom, (_, row) in zip(geoms, gdf[columns].iterrows(), strict=True):
        props = {c: (None if pd.isna(row[c]) else row[c]) for c in columns}
        if lang_tooltip:
            # Tooltips are HTML in Leaflet: escape text that comes from data files.
            props["tooltip"] = html.escape(f"{row['name_zh']} / {row['name_en']}")
        features.append({"type": "Feature", "properties": props,
                         "geometry": json.loads(shapely.to_geojson(geom))})
    return {"type": "FeatureCollection", "features": features}


def _escaped(text: pd.Series) -> pd.Series:
    """``html.escape`` of every cell (object dtype), calling it only on cells that need it."""
    out = text.astype(object)
    special = np.flatnonzero(text.str.contains(r"[&<>\"']", regex=True).to_numpy(dtype=bool))
    if len(special):
        out.iloc[special] = text.iloc[special].map(html.escape).to_numpy(dtype=object)
    return out


def _same_cells(now: pd.Series, then: pd.Series) -> np.ndarray:
    """Cell by cell, whether two aligned text columns hold the same value (missing = missing),
    compared by Arrow in C rather than one Python comparison per cell."""
    try:
        a, b = pa.array(now), pa.array(then)
        equal = pc.fill_null(pc.equal(a, b), False)
        same = pc.or_(equal, pc.and_(pc.is_null(a), pc.is_null(b)))
        return np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return np.asarray(now.to_numpy() == then.to_numpy(), dtype=bool)


def _tooltip_texts(fac: pd.DataFrame) -> dict[str, pd.Series]:
    """The (unescaped) tooltip text per facility, per language."""
    return {"zh": fac["name_zh"], "en": fac["name_en"].where(fac["name_en"] != "",
                                                             fac["name_zh"])}


@dataclass(frozen=True, eq=False)
class MapData:
    """Everything the map shows, prepared once per process and then only read."""

    atlas: Atlas

    @classmethod
    def following(cls, previous: MapData, atlas: Atlas) -> MapData:
        """The display data of ``atlas``, a later revision of ``previous.atlas``.

        What depends only on the boundaries is shared when they are the same frames (an
        edit of the store changes facilities only); per-facility display columns are taken
        from ``previous`` for rows whose inputs did not change and computed for the rest
        (compared column by column, vectorised), so a one-row edit costs a fraction of a
        fresh build at 1e5-1e6 facilities. The result equals ``MapData(atlas)`` (tested).
        """
        new = cls(atlas)
        old = previous.atlas
        seeded = new.__dict__
        for name in ("_to_metric", "_to_wgs84"):  # building a transformer costs ~0.1 s
            if name in previous.__dict__:
                seeded[name] = previous.__dict__[name]
        if all(getattr(old, n) is getattr(atlas, n) for n in _DISPLAY_COLUMNS):
            for name in ("boundaries", "town_labels", "town_bounds"):
                if name in previous.__dict__:
                    seeded[name] = previous.__dict__[name]
        fac, before = atlas.facilities, old.facilities
        if fac.index is before.index or fac.index.equals(before.index):
            at = np.arange(len(fac))  # the same rows in the same order (an in-place edit)
        else:
            at = before.index.get_indexer(fac.index)  # new rows: -1
        known = at >= 0
        take = np.where(known, at, 0)

        aligned = len(at) == len(before) and bool(known.all()) and \
            bool((at == np.arange(len(at))).all())

        def changed(column: str) -> np.ndarray:
            """Rows whose ``column`` differs from the previous revision's (new rows too)."""
            now = fac[column]
            then = before[column] if aligned else before[column].iloc[take]
            if column == fac.geometry.name:  # compare coordinates, in C
                a, b = now.to_numpy(), then.to_numpy()
                same = ((shapely.get_x(a) == shapely.get_x(b))
                        & (shapely.get_y(a) == shapely.get_y(b)))
            else:
                same = _same_cells(now, then)
            differs: np.ndarray = ~known | ~same
            return differs

        if "tooltips" in previous.__dict__:
            redo = np.flatnonzero(changed("name_zh") | changed("name_en"))
            texts = _tooltip_texts(fac.iloc[redo])
            tips = {}
            for lang, tip in previous.tooltips.items():
                values = tip.to_numpy()[take]  # a copy, in this revision's order
                values[redo] = _escaped(texts[lang]).to_numpy(dtype=object)
                tips[lang] = pd.Series(values, index=fac.index, dtype=object, name=tip.name)
            seeded["tooltips"] = tips
        if "metric_xy" in previous.__dict__:
            px, py = previous.metric_xy
            x, y = px[take], py[take]  # fancy indexing copies
            redo = np.flatnonzero(changed(fac.geometry.name))
            if len(redo):
                points = fac.geometry.iloc[redo]
                x[redo], y[redo] = new._to_metric.transform(points.x.to_numpy(),
                                                            points.y.to_numpy())
            seeded["metric_xy"] = (x, y)
        return new

    @cached_property
    def boundaries(self) -> dict[str, dict[Datum, dict[str, Any]]]:
        """layer name -> datum -> GeoJSON FeatureCollection (simplified for display)."""
        out: dict[str, dict[Datum, dict[str, Any]]] = {}
        for name, columns in _DISPLAY_COLUMNS.items():
            simple = _simplified(getattr(self.atlas, name), SIMPLIFY_M[name])
            if name == "towns":
                simple = simple.assign(colour=[catalog.TOWNS[k].colour for k in simple["key"]])
            out[name] = {}
            for datum in DISPLAY_DATUMS:
                shown = simple if datum == "wgs84" else convert_gdf(
                    simple, from_datum="wgs84", to_datum=datum)
                out[name][datum] = _feature_collection(shown, columns,
                                                       lang_tooltip=True)
        return out

    @cached_property
    def town_labels(self) -> dict[Datum, list[tuple[str, float, float]]]:
        """Town key, lat, lon of a label point inside each town, per datum."""
        points = self.atlas.towns.geometry.representative_point()
        lon, lat = points.x.to_numpy(), points.y.to_numpy()
        out = {}
        for datum in DISPLAY_DATUMS:
            x, y = convert(lon, lat, from_datum="wgs84", to_datum=datum)
            out[datum] = [(k, float(b), float(a)) for k, a, b in
                          zip(self.atlas.towns["key"], x, y, strict=True)]
        return out

    @cached_property
    def town_bounds(self) -> dict[str, list[list[float]]]:
        """Town key -> [[south, west], [north, east]] in WGS84 (shifted on demand)."""
        return {key: [[geom.bounds[1], geom.bounds[0]], [geom.bounds[3], geom.bounds[2]]]
                for key, geom in zip(self.atlas.towns["key"], self.atlas.towns.geometry,
                                     strict=True)}

    def towns_bounds(self, keys: list[str] | tuple[str, ...]) -> list[list[float]] | None:
        """[[south, west], [north, east]] (WGS84) around the given towns; None for none known."""
        chosen = [self.town_bounds[k] for k in keys if k in self.town_bounds]
        if not chosen:
            return None
        return [[min(b[0][0] for b in chosen), min(b[0][1] for b in chosen)],
                [max(b[1][0] for b in chosen), max(b[1][1] for b in chosen)]]

    @cached_property
    def towns_view_bounds(self) -> list[list[float]]:
        """[[south, west], [north, east]] around the five towns and all facilities."""
        tx0, ty0, tx1, ty1 = self.atlas.towns.total_bounds
        fx0, fy0, fx1, fy1 = self.atlas.facilities.total_bounds
        x0, y0, x1, y1 = min(tx0, fx0), min(ty0, fy0), max(tx1, fx1), max(ty1, fy1)
        pad = 0.03
        return [[float(y0) - pad, float(x0) - pad], [float(y1) + pad, float(x1) + pad]]

    @cached_property
    def colours(self) -> pd.Series:
        """Marker colour per facility: the colour of its first industry layer."""
        # a few hundred distinct layer lists, however many facilities: colour each list once
        codes, lists = pd.factorize(self.atlas.facilities["layers"])
        firsts = [str(text).split(";")[0] for text in lists]
        palette = np.array([catalog.INDUSTRIES[k].colour if k else DEFAULT_COLOUR
                            for k in firsts] + [DEFAULT_COLOUR], dtype=object)
        return pd.Series(palette[codes], index=self.atlas.facilities.index, dtype=object)

    @cached_property
    def tooltips(self) -> dict[str, pd.Series]:
        """Escaped tooltip HTML per facility, per language."""
        return {lang: _escaped(text)
                for lang, text in _tooltip_texts(self.atlas.facilities).items()}

    def facility_features(self, selected: pd.DataFrame, *, datum: Datum,
                          lang: str) -> dict[str, Any]:
        """GeoJSON of the selected facilities in the display datum (points only, few props)."""
        lon = selected.geometry.x.to_numpy()
        lat = selected.geometry.y.to_numpy()
        if datum != "wgs84" and len(selected):
            lon, lat = convert(lon, lat, from_datum="wgs84", to_datum=datum)
        lon = np.round(lon, DECIMALS)
        lat = np.round(lat, DECIMALS)
        colours = self.colours.loc[selected.index]
        tips = self.tooltips["en" if lang == "en" else "zh"].loc[selected.index]
        features = [
            {"type": "Feature", "id": fid,
             "geometry": {"type": "Point", "coordinates": [x, y]},
             "properties": {"id": fid, "colour": c, "tooltip": tip}}
            for fid, x, y, c, tip in zip(selected.index, lon.tolist(), lat.tolist(),
                                         colours, tips, strict=True)
        ]
        return {"type": "FeatureCollection", "features": features}

    @cached_property
    def placeholder_mask(self) -> np.ndarray:
        """True for rows whose point is a placeholder (a town or district, not a site)."""
        return np.isin(self.atlas.facilities["placement"].to_numpy(),
                       catalog.PLACEHOLDER_PLACEMENTS)

    def placeholder_features(self, selected: pd.DataFrame, *, datum: Datum,
                             lang: str) -> dict[str, Any]:
        """One hollow marker per shared placeholder point, listing what it stands for.

        Placeholders of one town sit on one point; clustering them would draw a dense cluster
        of "sites" where nothing is known. So each point is one feature carrying the count,
        the area it stands for and the (escaped) names.
        """
        features: list[dict[str, Any]] = []
        if len(selected):
            # District placeholders sit on their town's point: one marker per point, with a
            # line per kind of area it stands for.
            groups = selected.groupby([selected.geometry.x.round(6),
                                       selected.geometry.y.round(6)], sort=True)
            for (x, y), at_point in groups:
                parts: list[str] = []
                for placement, rows in at_point.groupby("placement", sort=True):
                    if placement == "town_placeholder":
                        area = catalog.TOWNS[rows["town"].iloc[0]].label(lang)
                    else:
                        area = str(rows["district"].iloc[0])
                        area = catalog.district_by_zh(area).label(lang) if area else area
                    names = rows["name_en"].where(rows["name_en"] != "", rows["name_zh"]) \
                        if lang == "en" else rows["name_zh"]
                    shown = [html.escape(str(n)) for n in names.head(12)]
                    more = len(names) - len(shown)
                    parts.append(html.escape(t_placeholder(
                        lang, len(rows), area, float(rows["coord_precision_m"].max())))
                        + "<br>" + "<br>".join(shown) + (f"<br>… +{more}" if more else ""))
                lon, lat = float(cast(float, x)), float(cast(float, y))  # groupby keys
                if datum != "wgs84":
                    cx, cy = convert(lon, lat, from_datum="wgs84", to_datum=datum)
                    lon, lat = float(cx), float(cy)
                kinds = sorted(set(at_point["placement"]))
                features.append({
                    "type": "Feature",
                    "geometry": {"type": "Point",
                                 "coordinates": [round(lon, DECIMALS), round(lat, DECIMALS)]},
                    "properties": {"count": len(at_point),
                                   "placement": kinds[0] if len(kinds) == 1 else "mixed",
                                   "ids": list(map(str, at_point.index)),
                                   "tooltip": "<br><br>".join(parts)}})
        return {"type": "FeatureCollection", "features": features}

    @cached_property
    def metric_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Facility x, y in EPSG:4549 metres, in the order of ``atlas.facilities``."""
        geoms = self.atlas.facilities.geometry
        x, y = self._to_metric.transform(geoms.x.to_numpy(), geoms.y.to_numpy())
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    @cached_property
    def _to_metric(self) -> Transformer:
        return Transformer.from_crs(GEOGRAPHIC_CRS, METRIC_CRS, always_xy=True)

    @cached_property
    def _to_wgs84(self) -> Transformer:

        return Transformer.from_crs(METRIC_CRS, GEOGRAPHIC_CRS, always_xy=True)

    def aggregate(self, positions: np.ndarray, *, zoom: float | None,
                  datum: Datum) -> dict[str, Any]:
        """Counts of facilities per square grid cell (metres), as display polygons.

        ``positions`` are row positions in ``atlas.facilities``. The cell size follows the
        zoom so a cell stays a few dozen pixels wide; only non-empty cells are sent.
        """
        level = round(zoom) if zoom is not None else 9
        size = AGG_CELL_M[min(max(level, min(AGG_CELL_M)), max(AGG_CELL_M))]
        x, y = self.metric_xy
        cx = np.floor(x[positions] / size).astype(np.int64)
        cy = np.floor(y[positions] / size).astype(np.int64)
        if len(positions):
            # One integer per cell and a bincount: a full sort of a million pairs costs ~1 s.
            ox, oy = cx.min(), cy.min()
            width = int(cx.max() - ox) + 1
            flat = np.bincount((cy - oy) * width + (cx - ox))
            occupied = np.flatnonzero(flat)
            counts = flat[occupied]
            cells = np.stack([occupied % width + ox, occupied // width + oy])
        else:
            cells, counts = np.zeros((2, 0), dtype=np.int64), np.zeros(0, dtype=np.int64)
        x0, y0 = cells[0] * size, cells[1] * size
        corners_x = np.stack([x0, x0 + size, x0 + size, x0, x0], axis=1)
        corners_y = np.stack([y0, y0, y0 + size, y0 + size, y0], axis=1)
        lon, lat = self._to_wgs84.transform(corners_x.ravel(), corners_y.ravel())
        if datum != "wgs84":
            lon, lat = convert(lon, lat, from_datum="wgs84", to_datum=datum)
        lon = np.round(np.asarray(lon).reshape(corners_x.shape), DECIMALS)
        lat = np.round(np.asarray(lat).reshape(corners_y.shape), DECIMALS)
        top = max(int(counts.max()), 1) if len(counts) else 1
        shades = np.minimum((np.log1p(counts) / np.log1p(top) * len(AGG_COLOURS)).astype(int),
                            len(AGG_COLOURS) - 1)
        features = [
            {"type": "Feature",
             "geometry": {"type": "Polygon",
                          "coordinates": [np.column_stack([lo, la]).tolist()]},
             "properties": {"count": int(n), "colour": AGG_COLOURS[s],
                            "tooltip": f"{int(n):,}"}}
            for lo, la, n, s in zip(lon, lat, counts, shades, strict=True)
        ]
        return {"type": "FeatureCollection", "features": features,
                "properties": {"cell_m": size, "cells": len(features)}}

    def shift_bounds(self, bounds: list[list[float]], datum: Datum) -> list[list[float]]:
        """Bounds [[s, w], [n, e]] from WGS84 to the display datum."""
        if datum == "wgs84":
            return bounds
        (s, w), (n, e) = bounds
        x, y = convert(np.array([w, e]), np.array([s, n]), from_datum="wgs84", to_datum=datum)
        return [[float(y[0]), float(x[0])], [float(y[1]), float(x[1])]]


def geojson_from_frame(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    """A result layer as WGS84 GeoJSON for a browser store (any CRS in)."""
    doc: dict[str, Any] = json.loads(frame.to_crs(GEOGRAPHIC_CRS).to_json(drop_id=True))
    return doc


def in_display_datum(result: dict[str, Any] | None, keys: tuple[str, ...],
                     datum: Datum) -> list[dict[str, Any] | None]:
    """The WGS84 GeoJSON layers ``keys`` of a stored result, shifted to the display datum."""
    out = []
    for key in keys:
        data = (result or {}).get(key)
        if data and datum != "wgs84" and data.get("features"):
            frame = gpd.GeoDataFrame.from_features(data["features"], crs=GEOGRAPHIC_CRS)
            data = json.loads(convert_gdf(frame, from_datum="wgs84", to_datum=datum)
                              .to_json(drop_id=True))
        out.append(data)
    return out


def to_wgs84_polygon(geojson: dict[str, Any] | None, datum: Datum) -> shapely.Geometry | None:
    """The union of the polygons drawn on the map, back in WGS84 (None if nothing drawn)."""
    if not geojson:
        return None
    polygons = []
    for feature in geojson.get("features", []):
        geometry = feature.get("geometry") or {}
        if geometry.get("type") != "Polygon":
            continue
        ring = np.asarray(geometry["coordinates"][0], dtype=float)
        if len(ring) < 4:
            continue
        x, y = ring[:, 0], ring[:, 1]
        if datum != "wgs84":
            x, y = convert(x, y, from_datum=datum, to_datum="wgs84")
        polygon = shapely.make_valid(shapely.Polygon(np.column_stack([x, y])))
        polygons.append(polygon)
    if not polygons:
        return None
    union = shapely.union_all(polygons)
    return union if union.geom_type in {"Polygon", "MultiPolygon"} else None


def t_placeholder(lang: str, n: int, area: str, reach_m: float) -> str:
    """The plain-text head of a placeholder marker's tooltip."""
    return t("placeholder_tip", lang, n=n, area=area, m=f"{reach_m:,.0f}")
