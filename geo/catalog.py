"""The project's vocabulary: towns, districts, industry layers, categories, levels, statuses."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from geo._errors import UnknownNameError


@dataclass(frozen=True)
class Term:
    """A catalog entry: a stable key with Chinese and English names and accepted aliases."""

    key: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()
    colour: str = "#666666"
    parent: str | None = None  # industry sub-keys roll up to a layer

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Town(Term):
    district: str = ""  # zh name of the district it lies in
    official_area_km2: float = 0.0


@dataclass(frozen=True)
class District(Term):
    code: str = ""
    coastal: bool = False


def _mapping(terms: Iterable[Term]) -> Mapping[str, Term]:
    return MappingProxyType({t.key: t for t in terms})


TOWNS: Mapping[str, Town] = _mapping(  # type: ignore[assignment]
    [
        Town("jiading", "嘉定新城", "Jiading New Town", ("嘉定", "Jiading", "JD"),
             "#d62728", district="嘉定区", official_area_km2=159.5),
        Town("qingpu", "青浦新城", "Qingpu New Town", ("青浦", "Qingpu", "QP"),
             "#2ca02c", district="青浦区", official_area_km2=91.1),
        Town("songjiang", "松江新城", "Songjiang New Town", ("松江", "Songjiang", "SJ"),
             "#1f77b4", district="松江区", official_area_km2=158.4),
        Town("fengxian", "奉贤新城", "Fengxian New Town", ("奉贤", "Fengxian", "FX"),
             "#9467bd", district="奉贤区", official_area_km2=67.9),
        Town("nanhui", "南汇新城", "Nanhui New Town", ("南汇", "Nanhui", "临港", "Lingang", "NH"),
             "#ff7f0e", district="浦东新区", official_area_km2=343.3),
    ]
)

DISTRICTS: Mapping[str, District] = _mapping(  # type: ignore[assignment]
    [
        District("310101", "黄浦区", "Huangpu District", ("黄浦", "Huangpu"), code="310101"),
        District("310104", "徐汇区", "Xuhui District", ("徐汇", "Xuhui"), code="310104"),
        District("310105", "长宁区", "Changning District", ("长宁", "Changning"), code="310105"),
        District("310106", "静安区", "Jing'an District", ("静安", "Jing'an", "Jingan"),
                 code="310106"),
        District("310107", "普陀区", "Putuo District", ("普陀", "Putuo"), code="310107"),
        District("310109", "虹口区", "Hongkou District", ("虹口", "Hongkou"), code="310109"),
        District("310110", "杨浦区", "Yangpu District", ("杨浦", "Yangpu"), code="310110"),
        District("310112", "闵行区", "Minhang District", ("闵行", "Minhang"), code="310112"),
        # Baoshan borders the Yangtze estuary: its AMap polygon runs out over the water.
        District("310113", "宝山区", "Baoshan District", ("宝山", "Baoshan"), code="310113",
                 coastal=True),
        District("310114", "嘉定区", "Jiading District", ("嘉定", "Jiading"), code="310114"),
        District("310115", "浦东新区", "Pudong New Area", ("浦东", "Pudong"), code="310115",
                 coastal=True),
        District("310116", "金山区", "Jinshan District", ("金山", "Jinshan"), code="310116",
                 coastal=True),
        District("310117", "松江区", "Songjiang District", ("松江", "Songjiang"), code="310117"),
        District("310118", "青浦区", "Qingpu District", ("青浦", "Qingpu"), code="310118"),
        District("310120", "奉贤区", "Fengxian District", ("奉贤", "Fengxian"), code="310120",
                 coastal=True),
        District("310151", "崇明区", "Chongming District", ("崇明", "Chongming"),
                 code="310151", coastal=True),
    ]
)

# Shanghai's "3+6" industries, the digital economy and the four future-industry fields.
# Colours: a qualitative palette chosen to stay distinguishable on a light basemap.
INDUSTRIES: Mapping[str, Term] = _mapping(
    [
        Term("ic", "集成电路", "Integrated circuits", ("IC", "芯片", "semiconductors"), "#e6194b"),
        Term("biomed", "生物医药", "Biomedicine", ("生物医药产业", "biopharma"), "#3cb44b"),
        Term("ai", "人工智能", "Artificial intelligence", ("AI",), "#4363d8"),
        Term("electronics", "电子信息", "Electronic information", ("electronics",), "#f58231"),
        Term("life_health", "生命健康", "Life and health", ("大健康",), "#911eb4"),
        Term("auto", "汽车", "Automotive", ("汽车产业", "automobile"), "#46a0c8"),
        Term("auto_icv", "智能网联汽车", "Intelligent connected vehicles", ("ICV",),
             "#46a0c8", parent="auto"),
        Term("auto_nev", "新能源汽车", "New-energy vehicles", ("NEV",), "#46a0c8", parent="auto"),
        Term("auto_fuel_cell", "燃料电池汽车", "Fuel-cell vehicles", ("燃料电池", "fuel cell"),
             "#46a0c8", parent="auto"),
        Term("equipment", "高端装备", "High-end equipment", ("高端装备制造",), "#808000"),
        Term("aerospace", "航空航天", "Aerospace", (), "#808000", parent="equipment"),
        Term("marine", "海工装备", "Marine engineering equipment", ("海洋工程装备",),
             "#808000", parent="equipment"),
        Term("gas_turbine", "燃气轮机", "Gas turbines", (), "#808000", parent="equipment"),
        Term("additive", "增材制造", "Additive manufacturing", ("3D打印", "3D printing"),
             "#808000", parent="equipment"),
        Term("laser", "激光/光电", "Lasers and photonics", ("激光", "先进激光", "photonics"),
             "#808000", parent="equipment"),
        Term("robotics", "智能机器人", "Intelligent robots", ("机器人", "robots"),
             "#808000", parent="equipment"),
        Term("materials", "先进材料", "Advanced materials", ("新材料",), "#9a6324"),
        Term("fashion", "时尚消费品", "Fashion and consumer goods", ("美妆", "化妆品"),
             "#f032e6"),
        Term("digital", "数字经济/工业互联网", "Digital economy and industrial internet",
             ("数字经济", "工业互联网", "industrial internet"), "#469990"),
        Term("future_health", "未来健康", "Future health", (), "#bfef45"),
        Term("future_intelligence", "未来智能", "Future intelligence", (), "#42d4f4"),
        Term("future_energy", "未来能源", "Future energy", (), "#ffd8b1"),
        Term("future_space", "未来空间", "Future space", (), "#000075"),
    ]
)

#: The top-level industry layers (what the legend and the layer filter show).
INDUSTRY_LAYERS: tuple[str, ...] = tuple(k for k, t in INDUSTRIES.items() if t.parent is None)

CATEGORIES: Mapping[str, Term] = _mapping(
    [
        Term("research_institute", "科研院所", "Research institute", ("研究所", "institute")),
        Term("innovation_centre", "创新中心", "Innovation centre",
             ("制造业创新中心", "innovation center")),
        Term("enterprise_rd", "企业研发/技术中心", "Enterprise R&D centre",
             ("企业技术中心", "研发中心", "R&D centre")),
        Term("university", "高校及校地合作平台", "University platform", ("高校", "university")),
        Term("incubator", "孵化器/众创空间", "Incubator", ("孵化器", "众创空间")),
        Term("lab", "重点实验室", "Key laboratory", ("实验室", "laboratory")),
        Term("transfer_centre", "成果转化/概念验证中心", "Technology transfer centre",
             ("成果转化中心", "概念验证中心")),
        Term("industrial_base", "产业基地/园区", "Industrial base or park",
             ("产业园", "园区", "基地")),
        Term("functional_org", "功能性机构/企业总部", "Functional organisation or HQ",
             ("功能性机构", "企业总部", "headquarters")),
    ]
)

LEVELS: Mapping[str, Term] = _mapping(
    [
        Term("national", "国家级", "National"),
        Term("municipal", "市级", "Municipal", ("上海市级",)),
        Term("district", "区级", "District"),
        Term("other", "其他", "Other", ("none", "无")),
        Term("unknown", "未确认", "Unknown", ("未知", "unconfirmed")),
    ]
)

STATUSES: Mapping[str, Term] = _mapping(
    [
        Term("operating", "运营中", "Operating", ("运营", "open")),
        Term("under_construction", "建设中", "Under construction", ("在建", "building")),
        Term("registered", "已注册", "Registered", ("注册",)),
        Term("planned", "规划中", "Planned", ("规划", "planning")),
        Term("unknown", "未确认", "Unknown", ("未知", "unconfirmed")),
    ]
)

#: How a facility's point was placed: a known building/campus, a known area (park, street),
#: or a placeholder standing for a whole town or district. Placeholders are not sites.
PLACEMENTS: Mapping[str, Term] = _mapping(
    [
        Term("site", "具体地点", "Site", ("building", "campus", "楼宇", "园区地块")),
        Term("area", "片区", "Area", ("park area", "街区")),
        Term("town_placeholder", "新城占位点", "Town placeholder", ("town",)),
        Term("district_placeholder", "区级占位点", "District placeholder", ("district",)),
    ]
)
#: Placements that stand for an area rather than locate a site.
PLACEHOLDER_PLACEMENTS: tuple[str, ...] = ("town_placeholder", "district_placeholder")

#: What a facility's ``year`` is the year of.
YEAR_EVENTS: Mapping[str, Term] = _mapping(
    [
        Term("founded", "成立", "Founded", ("established", "成立年份")),
        Term("designated", "认定/授牌", "Designated", ("认定", "授牌", "揭牌")),
        Term("construction_start", "开工", "Construction start", ("开工", "动工")),
        Term("opened", "启用/投产", "Opened", ("启用", "投产", "开园")),
        Term("registered", "注册", "Registered", ("注册",)),
    ]
)

#: How a facility relates to its new town: computed from geometry and placement, never typed.
MEMBERSHIPS: Mapping[str, Term] = _mapping(
    [
        Term("inside", "位于新城边界内", "Inside the boundary"),
        Term("associated", "关联（边界外）", "Associated, outside the boundary"),
        Term("placeholder", "占位点", "Placeholder"),
    ]
)


def _fold(text: str) -> str:
    """Normalise for matching: NFKC, case-folded, no spaces, hyphens or underscores."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return "".join(ch for ch in text if ch not in " -_'’")


@dataclass(frozen=True)
class Vocabulary:
    """Resolves any accepted spelling (key, zh, en or alias) of one kind of term to its key."""

    kind: str
    terms: Mapping[str, Term]
    _index: Mapping[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        index: dict[str, str] = {}
        for key, term in self.terms.items():
            for name in (key, term.zh, term.en, *term.aliases):
                index.setdefault(_fold(name), key)
        object.__setattr__(self, "_index", MappingProxyType(index))

    def resolve(self, name: str) -> str:
        """Return the key for ``name`` or raise UnknownNameError with the closest valid name."""
        key = self.lookup(name)
        if key is None:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; {self.suggest(name)}"
            )
        return key

    def lookup(self, name: str) -> str | None:
        return self._index.get(_fold(name))

    def suggest(self, name: str) -> str:
        close = difflib.get_close_matches(_fold(name), list(self._index), n=1, cutoff=0.5)
        valid = ", ".join(self.terms)
        if close:
            return f"did you mean {self._index[close[0]]!r}? valid: {valid}"
        return f"valid: {valid}"


TOWN_NAMES = Vocabulary("town", TOWNS)
DISTRICT_NAMES = Vocabulary("district", DISTRICTS)
INDUSTRY_NAMES = Vocabulary("industry", INDUSTRIES)
CATEGORY_NAMES = Vocabulary("category", CATEGORIES)
LEVEL_NAMES = Vocabulary("level", LEVELS)
STATUS_NAMES = Vocabulary("status", STATUSES)
PLACEMENT_NAMES = Vocabulary("placement", PLACEMENTS)
YEAR_EVENT_NAMES = Vocabulary("year_event", YEAR_EVENTS)
MEMBERSHIP_NAMES = Vocabulary("membership", MEMBERSHIPS)


def industry_layer(key: str) -> str:
    """Return the top-level layer an industry key rolls up to (``auto_icv`` -> ``auto``)."""
    term = INDUSTRIES[key]
    return term.parent or term.key


def district_by_zh(name_zh: str) -> District:
    """Return the District whose zh name (or any accepted spelling) is ``name_zh``."""
    return DISTRICTS[DISTRICT_NAMES.resolve(name_zh)]
