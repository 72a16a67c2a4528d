"""The shared Filter: name resolution, selection semantics and the URL round trip."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from geo import catalog
from geo._errors import UnknownNameError
from geo.query import Filter


@pytest.fixture
def facilities() -> gpd.GeoDataFrame:
    rows = [
        # id, town, industries, category, level, status, name_zh, name_en, address, lon, lat
        ("A", "jiading", "auto_icv;ai", "innovation_centre", "national", "operating",
         "智能网联中心", "ICV Centre", "嘉定区安亭镇", 121.17, 31.29),
        ("B", "jiading", "materials", "research_institute", "national", "operating",
         "硅酸盐所", "Institute of Ceramics", "嘉定区和硕路", 121.25, 31.38),
        ("C", "qingpu", "electronics;digital", "enterprise_rd", "other", "under_construction",
         "华为研发中心", "Huawei R&D Centre", "青浦区金泽镇", 120.95, 31.07),
        ("D", "nanhui", "future_health", "functional_org", "municipal", "registered",
         "健康养老集团", "Health and Elderly Care Group", "浦东新区临港", 121.90, 30.90),
    ]
    cols = ["id", "town", "industries", "category", "level", "status", "name_zh", "name_en",
            "address"]
    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    return gpd.GeoDataFrame(
        data, index=data["id"],
        geometry=gpd.points_from_xy([r[9] for r in rows], [r[10] for r in rows]), crs=4326,
    )


def ids(flt: Filter, facilities) -> list[str]:
    return list(flt.select(facilities).index)


def test_empty_filter_selects_all(facilities):
    assert ids(Filter(), facilities) == ["A", "B", "C", "D"]
    assert Filter().is_empty()


@pytest.mark.parametrize("spelling", ["jiading", "嘉定新城", "Jiading", "Jiading New Town", "嘉定"])
def test_town_in_any_spelling(spelling, facilities):
    assert ids(Filter.create(towns=[spelling]), facilities) == ["A", "B"]


def test_values_or_fields_and(facilities):
    flt = Filter.create(towns=["jiading", "qingpu"], levels=["national"])
    assert ids(flt, facilities) == ["A", "B"]
    assert ids(Filter.create(towns="jiading,qingpu"), facilities) == ["A", "B", "C"]


def test_industry_layer_includes_sub_industries(facilities):
    assert ids(Filter.create(industries=["auto"]), facilities) == ["A"]  # A is auto_icv
    assert ids(Filter.create(industries=["智能网联汽车"]), facilities) == ["A"]
    assert ids(Filter.create(industries=["auto_nev"]), facilities) == []
    assert ids(Filter.create(industries=["数字经济", "未来健康"]), facilities) == ["C", "D"]


def test_text_search_is_case_insensitive_over_names_and_address(facilities):
    assert ids(Filter.create(text="huawei"), facilities) == ["C"]
    assert ids(Filter.create(text="嘉定区 和硕"), facilities) == ["B"]  # all terms must match
    assert ids(Filter.create(text="ＩＣＶ"), facilities) == ["A"]  # full-width folds (NFKC)
    assert ids(Filter.create(text="nothing-like-this"), facilities) == []


def test_within_polygon(facilities):
    box = shapely.box(121.1, 31.2, 121.3, 31.3)
    assert ids(Filter.create(within=box), facilities) == ["A"]


def test_unknown_name_says_which_field_and_suggests():
    with pytest.raises(UnknownNameError, match=r"industry: unknown industry 'biomedd'.*'biomed'"):
        Filter.create(industries=["biomedd"])


def test_url_round_trip_restores_an_equal_filter():
    flt = Filter.create(towns=["qingpu", "嘉定新城"], industries=["ai", "auto"],
                        categories=["lab"], levels=["national"], statuses=["operating"],
                        text="创新 中心 & co",
                        within=shapely.Polygon([(121.1, 31.2), (121.3, 31.2), (121.2, 31.4)]))
    query = flt.to_query_string()
    assert query.startswith("town=qingpu,jiading&industry=ai,auto&category=lab")
    again = Filter.from_query_string("?" + query)
    assert again == flt
    assert hash(again) == hash(flt)
    assert Filter.from_query_string("") == Filter()


def test_url_with_spellings_and_unknown_keys():
    flt = Filter.from_query_string("town=%E5%98%89%E5%AE%9A&industry=AI&utm_source=x")
    assert flt.towns == ("jiading",)
    assert flt.industries == ("ai",)


def test_bad_within_in_url_is_a_clear_error():
    with pytest.raises(ValueError, match="within: expected 'lon,lat;lon,lat"):
        Filter.from_query_string("within=121.1,31.2;oops")


def test_catalog_is_complete_and_consistent():
    assert set(catalog.TOWNS) == {"jiading", "qingpu", "songjiang", "fengxian", "nanhui"}
    assert len(catalog.DISTRICTS) == 16
    assert {catalog.TOWNS[t].district for t in catalog.TOWNS} <= {
        d.zh for d in catalog.DISTRICTS.values()}
    # "3+6", digital economy and the four future fields are all layers, each with a colour
    for key in ("ic", "biomed", "ai", "electronics", "life_health", "auto", "equipment",
                "materials", "fashion", "digital", "future_health", "future_intelligence",
                "future_energy", "future_space"):
        assert key in catalog.INDUSTRY_LAYERS
        assert catalog.INDUSTRIES[key].colour.startswith("#")
    layer_colours = [catalog.INDUSTRIES[k].colour for k in catalog.INDUSTRY_LAYERS]
    assert len(set(layer_colours)) == len(layer_colours)
    for term in catalog.INDUSTRIES.values():
        assert term.parent is None or term.parent in catalog.INDUSTRY_LAYERS


def test_several_drawn_areas_round_trip(facilities):
    areas = shapely.MultiPolygon([shapely.box(121.1, 31.2, 121.3, 31.3),
                                  shapely.box(121.8, 30.8, 122.0, 31.0)])
    flt = Filter.create(within=areas)
    assert ids(flt, facilities) == ["A", "D"]
    assert "|" in flt.to_params()["within"]
    assert Filter.from_query_string(flt.to_query_string()) == flt
