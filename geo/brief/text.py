"""The brief's wording in both languages and the number formats every face of it shares."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

__all__ = ["LABELS", "fmt_count", "fmt_km2", "fmt_m", "fmt_ratio", "fmt_share", "label"]

LABELS: Final[Mapping[str, Mapping[str, str]]] = {
    "title": {"zh": "{town}创新平台简报", "en": "{town}: innovation platforms brief"},
    "title_all": {"zh": "五个新城创新平台简报", "en": "Five New Towns: innovation platforms brief"},
    "generated": {"zh": "生成日期", "en": "Generated"},
    "revision": {"zh": "数据版本", "en": "Data revision"},
    "filter": {"zh": "筛选条件", "en": "Filter"},
    "no_filter": {"zh": "无（全部设施）", "en": "none (all facilities)"},
    "parameters": {"zh": "参数", "en": "Parameters"},
    "filter_asof": {"zh": "截至 {year} 年", "en": "as of {year}"},
    "filter_towns": {"zh": "新城", "en": "town"},
    "filter_memberships": {"zh": "与新城关系", "en": "relation to the town"},
    "filter_industries": {"zh": "产业", "en": "industry"},
    "filter_categories": {"zh": "类别", "en": "category"},
    "filter_levels": {"zh": "级别", "en": "level"},
    "filter_statuses": {"zh": "状态", "en": "status"},
    "filter_text": {"zh": "关键词", "en": "text"},
    "filter_within": {"zh": "绘制区域", "en": "drawn area"},
    "param_radius": {"zh": "服务半径 ", "en": "radius: "},
    "param_grid": {"zh": "距离采样网格 ", "en": "grid: "},
    "param_since": {"zh": "对比年份 ", "en": "since: "},
    "radius_default": {"zh": "按类别默认服务半径", "en": "each category's default radius"},
    "empty": {"zh": "没有符合筛选条件的设施：以下各项均为 0 或空缺。",
              "en": "No facilities match the filter: every figure below is zero or blank."},
    "empty_town": {"zh": "{town}没有符合筛选条件的设施（其他新城共 {n} 个）：以下该新城的各项"
                         "指标均为 0 或空缺。",
                   "en": "Nothing in {town} matches the filter ({n} facilities elsewhere do): "
                         "every figure of the town below is zero or blank."},
    "map": {"zh": "新城地图", "en": "Map of the town"},
    "map_note": {"zh": "新城边界为近似边界；空心圆为占位点（仅代表所在新城/区，不是具体地点）。",
                 "en": "The town boundary is approximate; hollow circles are placeholders "
                       "(they stand for the town or district, not a site)."},
    "scorecard": {"zh": "记分卡", "en": "Scorecard"},
    "figure": {"zh": "指标", "en": "Figure"},
    "value": {"zh": "数值", "en": "Value"},
    "rank": {"zh": "排名（按边界内设施数）", "en": "Rank (by facilities inside)"},
    "inside": {"zh": "边界内", "en": "Inside the boundary"},
    "associated": {"zh": "关联（边界外）", "en": "Associated, outside"},
    "placeholder": {"zh": "占位点", "en": "Placeholders"},
    "total": {"zh": "合计", "en": "Total"},
    "distinct_sites": {"zh": "不重复地点", "en": "Distinct sites"},
    "area_km2": {"zh": "新城面积（km²，近似边界）", "en": "Town area (km², approximate)"},
    "density": {"zh": "每 10 km² 边界内设施", "en": "Inside per 10 km²"},
    "per_100k": {"zh": "每 10 万规划人口设施", "en": "Per 100,000 planned residents"},
    "planned_population": {"zh": "规划人口", "en": "Planned population"},
    "planned_population_year": {"zh": "规划人口目标年份", "en": "Planned population, target year"},
    "covered_share": {"zh": "服务半径覆盖面积比例", "en": "Area within the radius"},
    "median_nearest": {"zh": "到最近设施距离中位数（m）", "en": "Median distance to nearest (m)"},
    "g60_share": {"zh": "松江设施位于 G60 示意带内比例",
                  "en": "Songjiang platforms in the G60 band"},
    "undated_not_shown": {"zh": "无年份未显示", "en": "Undated, not shown"},
    "by_level": {"zh": "按级别", "en": "By level"},
    "by_category": {"zh": "按类别", "en": "By category"},
    "by_layer": {"zh": "按产业层", "en": "By industry layer"},
    "growth": {"zh": "累计设施数（按年份）", "en": "Cumulative facilities by year"},
    "growth_undated": {"zh": "无年份设施 {n} 个未计入曲线。",
                       "en": "{n} undated facilities are not in the curve."},
    "strategy": {"zh": "2021 新城战略", "en": "2021 new-town strategy"},
    "since": {"zh": "自 {year} 年以来的变化", "en": "Change since {year}"},
    "since_after_as_of": {"zh": "对比年份 {year} 晚于截至年份 {as_of}，不显示变化。",
                          "en": "No change shown: the compare year {year} is after the as-of "
                                "year {as_of}."},
    "then": {"zh": "{year} 年", "en": "In {year}"},
    "now": {"zh": "现在", "en": "Now"},
    "change": {"zh": "变化", "en": "Change"},
    "since_undated": {"zh": "无年份（不计入变化）", "en": "Undated (not in the change)"},
    "now_dated": {"zh": "现在（有年份）", "en": "Now (dated)"},
    "coverage": {"zh": "覆盖分析", "en": "Coverage"},
    "coverage_note": {"zh": "深色为服务半径覆盖部分；占位点不参与。",
                      "en": "Shaded: the part within the service radius; placeholders left out."},
    "clusters": {"zh": "集聚（DBSCAN，{eps} m，至少 {min} 个）",
                 "en": "Clusters (DBSCAN, {eps} m, at least {min})"},
    "no_clusters": {"zh": "未发现集聚。", "en": "No clusters found."},
    "cluster": {"zh": "集聚", "en": "Cluster"},
    "size": {"zh": "设施数", "en": "Facilities"},
    "layers": {"zh": "主要产业层", "en": "Main layers"},
    "hull_km2": {"zh": "凸包面积（km²）", "en": "Hull area (km²)"},
    "points": {"zh": "点位", "en": "Points"},
    "how": {"zh": "计算方法与排除项", "en": "How each figure is computed, and what it excludes"},
    "caveats": {"zh": "注意事项", "en": "Caveats"},
    "caveat_boundary": {"zh": "五个新城的边界均为手工数字化的近似边界，"
                              "面积与官方面积相差约 1.5% 以内。",
                        "en": "All five boundaries are hand-digitised approximations, within "
                              "about 1.5 % of the official areas."},
    "caveat_placeholders": {"zh": "占位点不进入任何空间指标（覆盖、距离、密度、集聚、G60）。",
                            "en": "Placeholders never enter spatial figures (coverage, distance, "
                                  "density, clusters, G60)."},
    "caveat_asof": {"zh": "“截至 {year} 年”视图只含有年份的设施；{n} 个无年份设施未显示。",
                    "en": "The as-of-{year} view holds dated facilities only; {n} undated "
                          "facilities are not shown."},
    "excluded": {"zh": "空间指标排除的占位点：{ids}", "en": "Placeholders left out of spatial "
                                                         "figures: {ids}"},
    "sources": {"zh": "数据来源", "en": "Sources"},
    "population_source": {"zh": "规划人口来源", "en": "Planned population source"},
    "no_population": {"zh": "未找到可引用的规划人口，留空。",
                      "en": "No citable planned population found; left blank."},
    "comparison": {"zh": "五个新城对比（按边界内设施数排名）",
                   "en": "The five towns side by side (ranked by facilities inside)"},
    "town": {"zh": "新城", "en": "Town"},
    "comparison_head": {"zh": "排名|新城|边界内|边界外|占位点|合计|不重复地点|每10 km²|"
                              "每10万规划人口|覆盖比例|最近距离中位数(m)",
                        "en": "#|Town|Inside|Outside|Placeh.|Total|Sites|per 10 km²|"
                              "per 100k planned|"
                              "Covered|Median nearest (m)"},
    "none": {"zh": "—", "en": "—"},
}


def label(key: str, lang: str, **values: object) -> str:
    """The wording of ``key`` in ``lang`` (zh or en), with ``values`` filled in."""
    text = LABELS[key][lang]
    return text.format(**values) if values else text


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def fmt_count(value: object) -> str:
    """A count: ``12`` (``—`` when missing)."""
    return "—" if _missing(value) else str(int(value))  # type: ignore[call-overload]


def fmt_population(value: object, lang: str) -> str:
    """A population as official texts write it: ``95 万`` in zh, ``950,000`` in en (or ``—``).

    The zh form divides by 10,000 exactly (``95.34 万``); below 10,000 it is the plain number.
    """
    if _missing(value):
        return "—"
    n = int(value)  # type: ignore[call-overload]
    if lang != "zh":
        return f"{n:,}"
    if abs(n) < 10_000:
        return str(n)
    wan = f"{n / 10_000:.4f}".rstrip("0").rstrip(".")
    return f"{wan} 万"


def fmt_share(value: object) -> str:
    """A share 0..1 as a percentage with one decimal: ``41.7%``."""
    return "—" if _missing(value) else f"{float(value) * 100:.1f}%"  # type: ignore[arg-type]


def fmt_ratio(value: object) -> str:
    """A rate with two decimals: ``0.37``."""
    return "—" if _missing(value) else f"{float(value):.2f}"  # type: ignore[arg-type]


def fmt_km2(value: object) -> str:
    """An area in km² with one decimal."""
    return "—" if _missing(value) else f"{float(value):.1f}"  # type: ignore[arg-type]


def fmt_m(value: object) -> str:
    """A distance in whole metres."""
    return "—" if _missing(value) else f"{float(value):.0f}"  # type: ignore[arg-type]
