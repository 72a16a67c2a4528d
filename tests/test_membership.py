"""Data model v2: placement, membership, parent_id, year_event, as-of (hand-worked answers)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo._errors import DataError, UnknownNameError
from geo.atlas import (
    _annotate_facilities,
    check_placeholder_precision,
    distinct_sites,
    membership_counts,
    placeholder_reach_m,
)
from geo.facilities import COLUMNS, validate_facilities
from geo.query import Filter

HEADER = list(COLUMNS)


def _row(fid: str, **values: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(HEADER, "")
    row.update(id=fid, name_zh=f"设施{fid}", category="lab", industries="ai", town="jiading",
               lon=121.25, lat=31.35, coord_source="manual test", coord_precision_m=500,
               placement="site", source="fixture")
    row.update(values)
    return row


def _table(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=HEADER).astype(object)


def _problems(table: pd.DataFrame, **kwargs: object) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(DataError) as info:
        validate_facilities(table, **kwargs)  # type: ignore[arg-type]
    return [(p.row, p.field, p.message) for p in info.value.problems]


# -- the loader's new rules --------------------------------------------------------------


def test_parent_must_exist_and_not_loop():
    table = _table(_row("A", parent_id="B"), _row("B", parent_id="C"), _row("C", parent_id="A"),
                   _row("D", parent_id="ZZ"), _row("E", parent_id="E"))
    found = _problems(table)
    fields = {(row, field) for row, field, _ in found}
    assert (4, "parent_id") in fields and (5, "parent_id") in fields
    cycle = [m for _, f, m in found if "cycle" in m]
    assert cycle == ["parents form a cycle: A -> B -> C -> A"]
    assert any("no row has this id" in m for _, _, m in found)
    assert any("its own parent" in m for _, _, m in found)


def test_nested_parents_load_and_count_once():
    table = _table(_row("P"), _row("C1", parent_id="P"), _row("C2", parent_id="C1"),
                   _row("X"))
    loaded = validate_facilities(table)
    assert list(loaded["parent_id"]) == ["", "P", "C1", ""]
    assert list(distinct_sites(loaded)["id"]) == ["P", "X"]
    # a child whose parent is not selected is its own distinct site
    assert list(distinct_sites(loaded.loc[["C1", "C2"]])["id"]) == ["C1"]


def test_year_event_vocabulary_and_strict_rules():
    bad = _table(_row("A", year=2019, year_event="ribbon_cutting", year_source="x"),
                 _row("B", year_event="opened"))
    found = _problems(bad)
    assert found[0][:2] == (1, "year_event")
    assert "unknown year_event 'ribbon_cutting'" in found[0][2]
    assert found[1] == (2, "year_event", "year_event is given but year is blank")
    lone_year = _table(_row("A", year=2019))
    assert validate_facilities(lone_year)["year_event"].iloc[0] == ""  # uploads may
    strict = _problems(lone_year, strict=True)
    assert [(r, f) for r, f, _ in strict] == [(1, "year_event"), (1, "year_source")]
    ok = _table(_row("A", year=2019, year_event="揭牌", year_source="某报道 2019-05"))
    assert validate_facilities(ok, strict=True)["year_event"].iloc[0] == "designated"


def test_placement_blank_is_a_site_only_for_uploads():
    table = _table(_row("A", placement=""))
    assert validate_facilities(table)["placement"].iloc[0] == "site"
    assert _problems(table, strict=True) == [(1, "placement", "required value is blank")]
    wrong = _table(_row("A", placement="somewhere"))
    assert "unknown placement 'somewhere'" in _problems(wrong)[0][2]


def test_blank_level_and_status_are_unknown_not_guessed():
    loaded = validate_facilities(_table(_row("A")))
    assert loaded["level"].iloc[0] == "unknown"
    assert loaded["status"].iloc[0] == "unknown"


# -- membership ----------------------------------------------------------------------------


@pytest.fixture
def towns() -> gpd.GeoDataFrame:
    # jiading: a 0.1-degree box; nanhui: another box far away
    return gpd.GeoDataFrame({"key": ["jiading", "nanhui"]},
                            geometry=[box(121.2, 31.3, 121.3, 31.4),
                                      box(121.8, 30.85, 121.95, 30.95)], crs="EPSG:4326")


def test_membership_inside_associated_placeholder(towns):
    table = _table(
        _row("IN", lon=121.25, lat=31.35),                       # inside jiading
        _row("OUT", lon=121.15, lat=31.35),                      # west of it
        _row("PH", lon=121.25, lat=31.35, placement="town_placeholder", coord_precision_m=9000),
        _row("NH", town="nanhui", lon=121.25, lat=31.35),        # inside jiading, says nanhui
    )
    annotated = _annotate_facilities(validate_facilities(table), towns)
    assert list(annotated["membership"]) == ["inside", "associated", "placeholder", "associated"]
    assert list(annotated["town_inside"]) == ["jiading", "", "jiading", "jiading"]
    counts = membership_counts(annotated)
    assert counts.loc["jiading"].to_dict() == {"inside": 1, "associated": 1, "placeholder": 1,
                                               "total": 3}
    assert counts.loc["nanhui"].to_dict() == {"inside": 0, "associated": 1, "placeholder": 0,
                                              "total": 1}
    assert counts.loc["qingpu", "total"] == 0
    selected = Filter.create(memberships=["inside", "placeholder"]).select(annotated)
    assert list(selected["id"]) == ["IN", "PH"]


def test_placeholder_precision_is_the_reach_of_its_area(towns):
    districts = gpd.GeoDataFrame({"name_zh": ["嘉定区"]},
                                 geometry=[box(121.1, 31.2, 121.4, 31.5)], crs="EPSG:4326")
    table = _table(_row("PH", lon=121.25, lat=31.35, placement="town_placeholder",
                        coord_precision_m=5000),
                   _row("DP", lon=121.25, lat=31.35, district="嘉定区",
                        placement="district_placeholder", coord_precision_m=30000),
                   _row("S", lon=121.25, lat=31.35))
    facilities = validate_facilities(table)
    reach = placeholder_reach_m(facilities, towns, districts)
    # centre to a corner of a 0.1 x 0.1 degree box at 31.35 N: about 7.3 km
    assert 7000 < reach["PH"] < 7600
    assert 21000 < reach["DP"] < 23000
    assert np.isnan(reach["S"])
    problems = check_placeholder_precision(facilities, towns, districts, file="f.csv")
    assert [(p.row, p.field) for p in problems] == [(1, "coord_precision_m")]
    assert "reaches" in problems[0].message


# -- the Filter ----------------------------------------------------------------------------


def test_as_of_selects_dated_rows_and_names_the_undated():
    table = _table(_row("OLD", year=2001, year_event="founded"),
                   _row("NEW", year=2022, year_event="opened"),
                   _row("UNDATED"))
    facilities = validate_facilities(table)
    flt = Filter.create(as_of="2021")
    assert list(flt.select(facilities)["id"]) == ["OLD"]
    assert list(facilities.loc[flt.undated_mask(facilities), "id"]) == ["UNDATED"]
    assert not Filter().undated_mask(facilities).any()
    assert list(Filter.create(as_of=2022).select(facilities)["id"]) == ["OLD", "NEW"]


def test_membership_and_as_of_round_trip_the_url():
    flt = Filter.create(towns=["嘉定"], memberships=["inside", "占位点"], as_of=2021)
    assert flt.memberships == ("inside", "placeholder")
    query = flt.to_query_string()
    assert query == "town=jiading&membership=inside,placeholder&asof=2021"
    assert Filter.from_query_string(query) == flt
    assert hash(Filter.from_query_string(query)) == hash(flt)
    with pytest.raises(UnknownNameError, match="asof"):
        Filter.create(as_of="twenty")
    with pytest.raises(UnknownNameError, match="membership"):
        Filter.create(memberships=["inner"])


def test_info_and_the_export_sidecar_report_the_same_membership(tmp_path, capsys):
    import json

    from dashboard.cli import main
    from geo.atlas import load_atlas
    from geo.export import export

    atlas = load_atlas()
    flt = Filter.create(towns=["qingpu", "songjiang"])
    selected = flt.select(atlas.facilities)
    result = export({"facilities": selected}, tmp_path / "sel.gpkg", fmt="gpkg",
                    metadata={"filter": flt})
    sidecar = json.loads(result.sidecar.read_text(encoding="utf-8"))
    exported = sidecar["layers"]["facilities"]["membership"]
    assert main(["info", "--json", "--town", "qingpu,songjiang"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert exported["total"] == info["membership"]
    for town in ("qingpu", "songjiang"):
        assert exported["towns"][town] == info["towns"][town]["membership"]
    assert sum(exported["total"].values()) == len(selected)


def test_category_codes_match_pandas_categorical_on_every_kind_of_text_column():
    """The Arrow path of category_codes gives pandas' codes (-1 for unknown or missing) on
    Arrow-backed and object columns alike."""
    from geo.atlas import category_codes

    towns = ["jiading", "qingpu", "songjiang"]
    values = ["qingpu", "jiading", "atlantis", "songjiang", "", "qingpu"]
    for series in (pd.Series(values, dtype="str"), pd.Series(values, dtype=object),
                   pd.Series([*values, None], dtype=object)):
        want = pd.Categorical(series.where(series.isin(towns)), categories=towns).codes
        np.testing.assert_array_equal(category_codes(series, towns), want)
    assert category_codes(pd.Series([], dtype="str"), towns).tolist() == []


@pytest.mark.parametrize("lang, words", [("en", "distinct sites"), ("zh", "不重复地点")])
def test_info_table_prints_the_distinct_sites_of_its_json(lang, words, capsys):
    """The README promises distinct sites from `newtown info`, not only from --json."""
    import json
    import re

    from dashboard.cli import main

    assert main(["info", "--json", "--town", "jiading"]) == 0
    expected = json.loads(capsys.readouterr().out)["distinct_sites"]
    assert main(["info", "--town", "jiading", "--lang", lang]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if words in x)
    assert re.search(rf"\b{expected}\b", line)


@pytest.mark.parametrize("lang, words", [("en", "distinct entities"), ("zh", "不重复实体")])
def test_info_prints_distinct_entities_of_its_json(lang, words, capsys):
    """Entities (placeholders included) and sites (excluded) are two lines, each from --json."""
    import json
    import re

    from dashboard.cli import main

    assert main(["info", "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)["distinct_entities"]
    assert main(["info", "--lang", lang]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if words in x)
    assert re.search(rf"\b{expected}\b", line)


def test_info_distinct_sites_is_the_scorecard_total(capsys):
    """`info --json` distinct_sites means what the scorecard's does: the five towns add up to it."""
    import json

    from dashboard.cli import main
    from geo.analysis.scorecard import run_scorecard
    from geo.atlas import load_atlas
    from geo.query import Filter

    assert main(["info", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    towns = run_scorecard(load_atlas(), Filter()).towns
    assert doc["distinct_sites"] == sum(r["distinct_sites"] for r in towns)
    assert doc["distinct_entities"] > doc["distinct_sites"]  # placeholders are entities
