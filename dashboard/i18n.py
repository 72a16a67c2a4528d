"""Every UI string in Chinese and English; Chinese is the default language."""

from __future__ import annotations

from typing import Final

from geo.style import LAYER_LABELS

LANGS: Final = ("zh", "en")
DEFAULT_LANG: Final = "zh"

STRINGS: Final[dict[str, tuple[str, str]]] = {
    # key: (zh, en)
    "title": ("新城图谱 · 上海五个新城", "New Town Atlas · Shanghai's Five New Towns"),
    "subtitle": ("创新平台与产业布局", "Innovation platforms and industry layout"),
    "switch_lang": ("English", "中文"),
    "filters": ("筛选", "Filters"),
    "town": ("新城", "New town"),
    "industry": ("产业图层", "Industry layer"),
    "category": ("类别", "Category"),
    "level": ("级别", "Level"),
    "status": ("状态", "Status"),
    "search": ("搜索名称或地址", "Search names and addresses"),
    "reset": ("重置", "Reset"),
    "all": ("全部", "All"),
    "selected": ("已选 {n} / {total} 个设施", "{n} of {total} facilities selected"),
    "drawn_active": ("地图绘制区域筛选已启用", "Drawn-area filter is on"),
    "draw_hint": ("可在地图右上角绘制多边形或矩形作为空间筛选（多次绘制则合并）",
                  "Draw a polygon or rectangle on the map (top right) to filter by area "
                  "(shapes drawn one after another add up)"),
    "clear_area": ("清除绘制区域", "Clear drawn area"),
    "basemap": ("底图", "Basemap"),
    "basemap_none": ("无（离线）", "None (offline)"),
    "basemap_osm": ("OpenStreetMap", "OpenStreetMap"),
    "basemap_carto": ("CARTO 浅色", "CARTO Positron"),
    "basemap_tianditu": ("天地图", "Tianditu"),
    "basemap_amap": ("高德地图", "AMap (Gaode)"),
    "datum": ("图上坐标系：{datum}", "Coordinates on screen: {datum}"),
    "datum_wgs84": ("WGS84（EPSG:4326）", "WGS84 (EPSG:4326)"),
    "datum_gcj02": ("GCJ-02（已为高德底图偏移）", "GCJ-02 (shifted to match AMap tiles)"),
    "layer_aggregate": ("设施聚合网格", "Facility grid counts"),
    "legend": ("产业图层", "Industry layers"),
    "details": ("设施详情", "Facility details"),
    "details_hint": ("点击地图上的设施查看详情", "Click a facility on the map for details"),
    "summary": ("统计", "Summary"),
    "summary_caption": ("当前选择下各新城、各产业图层的设施数（一个设施可属多个图层）",
                        "Facilities per town and industry layer in the current selection "
                        "(a facility may belong to several layers)"),
    "total": ("合计", "Total"),
    "show_chart": ("显示/隐藏图表（点击柱子定位新城）", "Show / hide chart (click a bar to zoom)"),
    "zoom_to": ("定位", "Zoom"),
    "count": ("数量", "Count"),
    # detail fields
    "f_name_zh": ("中文名称", "Name (zh)"),
    "f_name_en": ("英文名称", "Name (en)"),
    "f_category": ("类别", "Category"),
    "f_industries": ("产业", "Industries"),
    "f_town": ("所属新城", "New town"),
    "f_district": ("所在区", "District"),
    "f_level": ("级别", "Level"),
    "f_status": ("状态", "Status"),
    "f_year": ("年份", "Year"),
    "f_address": ("地址", "Address"),
    "f_coord": ("坐标（WGS84）", "Coordinates (WGS84)"),
    "f_precision": ("坐标精度", "Coordinate precision"),
    "f_coord_source": ("坐标来源", "Coordinate source"),
    "f_source": ("资料来源", "Source"),
    "f_in_town": ("是否位于新城边界内", "Inside its town's boundary"),
    "f_placement": ("点位类型", "Placement"),
    "f_membership": ("与新城的关系", "Relation to the town"),
    "f_parent": ("隶属于", "Part of"),
    "f_year_source": ("年份来源", "Source of the year"),
    "as_of_all": ("全部", "all"),
    "as_of_play": ("▶ 播放", "▶ Play"),
    "as_of_stop": ("■ 停止", "■ Stop"),
    "layer_placeholders": ("占位点（仅知新城/区）", "Placeholders (town/district only)"),
    "placeholder_tip": ("{n} 个设施只知所在{area}，点位不是具体地点（代表整个{area}，"
                        "约 ±{m} 米）：", "{n} facilities known only at the level of {area}; "
                        "the point is not a site (it stands for the whole {area}, "
                        "about ±{m} m):"),
    "yes": ("是", "yes"),
    "no": ("否（位于边界外）", "no (outside the boundary)"),
    "precision_m": ("约 ±{m} 米", "about ±{m} m"),
    "upload": ("上传数据", "Upload data"),
    "upload_hint": ("拖入或点击选择 CSV、XLSX、GeoJSON、GeoPackage 或 zip 压缩的 "
                    "Shapefile（≤{mb} MB）",
                    "Drop or choose a CSV, XLSX, GeoJSON, GeoPackage or zipped Shapefile "
                    "(≤ {mb} MB)"),
    "upload_datum": ("文件坐标系", "Coordinates in the file"),
    "upload_too_big": ("{name}：文件 {size} MB，超过 {mb} MB 的上传上限，未上传。",
                       "{name}: {size} MB is over the {mb} MB upload limit; not uploaded."),
    "upload_ok": ("{name}：{n} 条有效记录已作为本会话图层加入（仅保存在您的浏览器中）",
                  "{name}: {n} valid rows added as a layer for this session only "
                  "(kept in your browser)"),
    "upload_failed": ("{name}：发现 {n} 个问题，未加入。请修改后重新上传：",
                      "{name}: {n} problems found, nothing added. Fix and upload again:"),
    "upload_clear": ("移除上传图层", "Remove uploaded layer"),
    "layer_uploaded": ("上传的图层", "Uploaded layer"),
    "uploaded_count": ("（另有上传 {n} 个）", " (+{n} uploaded)"),
    "export": ("导出", "Export"),
    "export_format": ("格式（下载为含元数据的 zip）", "Format (downloads a zip with metadata)"),
    "export_wgs84": ("WGS84（标准）", "WGS84 (standard)"),
    "export_button": ("导出当前所见", "Export what you see"),
    "export_done": ("已生成 {name}", "Prepared {name}"),
    "fmt_geojson": ("GeoJSON（RFC 7946）", "GeoJSON (RFC 7946)"),
    "fmt_gpkg": ("GeoPackage（多图层）", "GeoPackage (several layers)"),
    "fmt_shp": ("Shapefile（zip）", "Shapefile (zipped)"),
    "fmt_csv": ("CSV（Excel 可读，仅设施）", "CSV (Excel, facilities only)"),
    "fmt_kml": ("KML", "KML"),
    "fmt_html": ("离线 HTML 地图", "Offline HTML map"),
    "fmt_png": ("打印 PNG", "Print PNG"),
    "clusters": ("集聚分析", "Clusters"),
    "run": ("运行", "Run"),
    "cl_eps": ("邻域半径 eps（米）", "eps (m)"),
    "cl_min_samples": ("最少点数", "min samples"),
    "cl_min_cluster": ("HDBSCAN 最小簇", "HDBSCAN min cluster"),
    "cl_density": ("核密度", "Kernel density"),
    "cl_hotspot_layer": ("热点（Gi*）", "Hotspots (Gi*)"),
    "cl_bandwidth": ("带宽（米）", "bandwidth (m)"),
    "cl_cell": ("网格", "cells"),
    "cl_size": ("设施数", "size"),
    "cl_zoom": ("定位并筛选到该集聚区", "Zoom and filter to this cluster"),
    "cl_summary": ("{n} 个设施中识别出 {k} 个集聚区，{noise} 个为噪声点"
                   "（{params}；EPSG:4549 米制）",
                   "{k} clusters among {n} facilities, {noise} noise ({params}; EPSG:4549 metres)"),
    "cl_dispersion": ("离散度（Clark-Evans，各新城边界内）",
                      "Dispersion (Clark-Evans, inside each town)"),
    "cl_hotspots": ("热点分析：{total} 个网格中 {n} 个显著（FDR 校正后）",
                    "Hotspots: {n} of {total} cells significant after FDR correction"),
    "cl_legend": ("分析图例", "Analysis legend"),
    "cl_density_legend": ("核密度（低→高，设施/平方公里）", "density, low → high (per km²)"),
    "layer_analysis": ("分析结果", "Analysis results"),
    "layer_scorecard": ("新城评分表（评分卡参数）", "Town scorecard (Scorecard tab's settings)"),
    "agg_note": ("聚合显示：每格 {m} 米内的设施数；放大查看单个设施",
                 "Aggregated: facilities per {m} m cell; zoom in for single facilities"),
    "in_view_note": ("显示当前视野内的 {n} 个设施", "Showing the {n} facilities in view"),
    "coverage": ("覆盖分析", "Coverage"),
    "cov_category": ("按类别半径", "radius per category"),
    "cov_fixed": ("统一半径", "one radius"),
    "cov_radius": ("半径（米）", "radius (m)"),
    "cov_preset": ("15分钟生活圈", "15-min life circle"),
    "cov_k": ("新增设施数", "new sites"),
    "cov_new_radius": ("新设施半径（米）", "new sites' radius (m)"),
    "cov_covered": ("已覆盖 km²", "covered km²"),
    "cov_people": ("覆盖人口", "people covered"),
    "cov_use_upload": ("纳入我上传的图层（设施参与计算；含人口列的多边形作为人口图层）",
                       "Use my uploaded layer (facilities join in; polygons with a population "
                       "column weight by population)"),
    "cov_share": ("覆盖率", "share"),
    "cov_summary": ("{n} 个设施（{sites} 个不同位置），服务半径 {radius} 米；"
                    "面积在 EPSG:4549 中计算",
                    "{n} facilities ({sites} distinct sites), reach {radius} m; areas in "
                    "EPSG:4549"),
    "cov_sites": ("选址建议（贪心最大覆盖）", "Suggested sites (greedy maximal coverage)"),
    "cov_site_row": ("第 {rank} 个：{town}，新增覆盖 {gain} km²，之后覆盖率 {after:.1%}",
                     "#{rank}: {town}, adds {gain} km², coverage then {after:.1%}"),
    "cov_site_tip": ("建议选址 #{rank}：新增 {gain:.1f} km²",
                     "Suggested site #{rank}: +{gain:.1f} km²"),
    "cov_gap_tip": ("{town} 未覆盖区域", "{town}: not covered"),
    "cov_districts": ("各区覆盖（沿海区不计陆地比例）",
                      "Districts (no land share for coastal ones)"),
    "cov_coastal": ("（含海域，不计陆地比例）", "(includes sea: no land share)"),
    "cov_legend_covered": ("已覆盖", "covered"),
    "cov_legend_gap": ("覆盖缺口", "gap (not covered)"),
    "cov_legend_site": ("建议新设施", "suggested site"),
    # the dashboard frame: drawers, tabs, indicator cards, accessible names
    "filters_drawer": ("筛选面板", "Filter panel"),
    "toggle_filters": ("显示/隐藏筛选面板", "Show or hide the filter panel"),
    "toggle_panels": ("显示/隐藏分析面板", "Show or hide the analysis panel"),
    "panels": ("分析面板", "Analysis panels"),
    "tab_summary": ("统计", "Summary"),
    "tab_coverage": ("覆盖", "Coverage"),
    "tab_clusters": ("集聚", "Clusters"),
    "tab_export": ("导出", "Export"),
    "tab_upload": ("上传", "Upload"),
    "tab_scorecard": ("记分卡", "Scorecard"),
    "sc_radius": ("服务半径（m，空 = 按类别）", "Radius (m, blank = by category)"),
    "sc_since": ("对比年份", "Compare with year"),
    "sc_as_of": ("截至年份", "As of year"),
    "sc_town": ("新城", "Town"),
    "sc_g60": ("松江设施位于 G60 示意带内：{share}（{hits}/{n}）",
               "Songjiang platforms in the G60 band: {share} ({hits}/{n})"),
    "sc_undated": ("无年份未显示：{n}", "Undated, not shown: {n}"),
    "sc_excluded": ("空间指标未计入 {n} 个占位点", "{n} placeholders left out of spatial figures"),
    "brief_button": ("简报（PDF）", "Brief (PDF)"),
    "brief_all": ("五个新城", "All five towns"),
    "brief_current": ("当前筛选的新城（未选则五个）", "The filtered town (else all five)"),
    "brief_done": ("已生成 {name}", "Made {name}"),
    "close": ("关闭", "Close"),
    "cards": ("当前选择的指标", "Figures for the current selection"),
    "card_selected": ("已选设施", "Selected"),
    "card_of": ("共 {total} 个", "of {total}"),
    "membership": ("与新城的关系", "Relation to the town"),
    "as_of": ("截至年份（含）", "As of year (inclusive)"),
    "undated_note": ("{n} 个无年份未计入", "{n} undated not shown"),
    "card_national": ("国家级平台", "National level"),
    "card_layers": ("产业图层", "Industry layers"),
    "card_layers_of": ("共 {total} 个图层", "of {total} layers"),
    "card_coverage": ("覆盖率", "Coverage"),
    "card_coverage_note": ("最近一次覆盖分析", "last coverage run"),
    "card_coverage_none": ("运行覆盖分析后显示", "run a coverage analysis"),
    "summary_heat": ("颜色越深，设施越多", "Darker cells hold more facilities"),
    "show_table": ("表格", "Table"),
    "boundary_note": ("新城边界为依据公开描述数字化的近似范围，非测绘成果。",
                      "Town boundaries are approximate digitisations of published "
                      "descriptions, not surveys."),
}


# Layer names come from the one map style (geo.style), shared with the HTML and print maps.
STRINGS.update({
    "layer_facilities": LAYER_LABELS["facilities"],
    "layer_towns": LAYER_LABELS["towns"],
    "layer_districts": LAYER_LABELS["districts"],
    "layer_corridor": LAYER_LABELS["corridors"],
    "layer_g60_line": LAYER_LABELS["corridor_lines"],
    "layer_zone": LAYER_LABELS["zones"],
})


def t(key: str, lang: str, **values: object) -> str:
    """The string for ``key`` in ``lang`` (zh or en), formatted with ``values``."""
    zh, en = STRINGS[key]
    text = en if lang == "en" else zh
    return text.format(**values) if values else text


def normalise_lang(value: str | None) -> str:
    return value if value in LANGS else DEFAULT_LANG
