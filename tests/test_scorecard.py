"""The town scorecard: known answers on a hand-made data set, consistency on the bundled data."""

from __future__ import annotations

import csv
import json
import math
import shutil

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from dashboard.cli import main as newtown
from geo.analysis.scorecard import ScorecardParams, grid_points, run_scorecard
from geo.atlas import Atlas, distinct_sites, load_atlas
from geo.boundaries import read_boundaries
from geo.facilities import COLUMNS
from geo.query import Filter
from geo.settings import bundled_data_dir

TO_M = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
TO_LL = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
SONGJIANG_POPULATION = 1_100_000


def _town_and_district(key: str, district_zh: str) -> tuple[shapely.Geometry, shapely.Geometry]:
    boundaries = bundled_data_dir() / "boundaries"
    towns = read_boundaries(boundaries / "towns.geojson", kind="towns").to_crs(4549)
    districts = read_boundaries(boundaries / "districts.geojson", kind="districts").to_crs(4549)
    town = towns.loc[towns["key"] == key].geometry.iloc[0]
    district = districts.loc[districts["name_zh"] == district_zh].geometry.iloc[0]
    return town, district


def _lonlat(point: shapely.Point) -> tuple[float, float]:
    lon, lat = TO_LL.transform(point.x, point.y)
    return round(lon, 6), round(lat, 6)


def _row(fid: str, town: str, district: str, point: shapely.Point, *, placement: str = "site",
         parent: str = "", level: str = "municipal", category: str = "lab",
         industries: str = "ai", year: str = "", precision: int = 100) -> dict[str, str]:
    lon, lat = _lonlat(point)
    return {
        "id": fid, "name_zh": f"测试设施{fid}", "name_en": f"Test facility {fid}",
        "category": category, "industries": industries, "town": town, "district": district,
        "address": f"{district}测试地址", "lon": f"{lon:.6f}", "lat": f"{lat:.6f}",
        "coord_source": "test fixture", "coord_precision_m": str(precision),
        "placement": placement, "parent_id": parent, "level": level, "status": "operating",
        "year": year, "year_event": "opened" if year else "", "year_source": "test" if year else "",
        "source": "hand-made test row",
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Five facilities in Songjiang and one in Jiading, placed by rule on the real boundaries."""
    folder = tmp_path_factory.mktemp("small") / "data"
    shutil.copytree(bundled_data_dir() / "boundaries", folder / "boundaries")
    towns_path = folder / "boundaries" / "towns.geojson"
    doc = json.loads(towns_path.read_text("utf-8"))
    for feature in doc["features"]:
        if feature["properties"]["key"] == "songjiang":
            feature["properties"].update(planned_population=SONGJIANG_POPULATION,
                                         planned_population_year=2035,
                                         planned_population_source="test figure")
    towns_path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")

    sj_town, sj_district = _town_and_district("songjiang", "松江区")
    jd_town, _jd_district = _town_and_district("jiading", "嘉定区")
    inside = sj_town.representative_point()
    near = shapely.Point(inside.x + 300, inside.y + 300)
    assert sj_town.contains(near)
    outside = sj_district.difference(sj_town.buffer(500)).representative_point()
    jd_inside = jd_town.representative_point()
    reach = 100_000  # a placeholder's precision must cover its whole town
    rows = [
        _row("SJ-A", "songjiang", "松江区", inside, level="national",
             category="research_institute", industries="ai", year="2015"),
        _row("SJ-B", "songjiang", "松江区", near, parent="SJ-A", industries="ic", year="2022"),
        _row("SJ-C", "songjiang", "松江区", outside, level="district", industries="biomed"),
        _row("SJ-D", "songjiang", "松江区", sj_town.centroid, placement="town_placeholder",
             level="national", category="incubator", industries="ai", year="2019",
             precision=reach),
        _row("JD-A", "jiading", "嘉定区", jd_inside, category="enterprise_rd",
             industries="auto_icv", year="2021"),
    ]
    with (folder / "facilities.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return {"folder": folder, "atlas": load_atlas(folder), "sj_town": sj_town,
            "jd_town": jd_town, "points": {"SJ-A": inside, "SJ-B": near, "SJ-C": outside,
                                           "JD-A": jd_inside}}


def test_grid_points_known_square():
    square = shapely.box(0, 0, 1000, 1000)
    grid = grid_points(square, 250.0)
    assert len(grid) == 16
    assert sorted(set(grid[:, 0])) == [125.0, 375.0, 625.0, 875.0]


def test_counts_and_breakdowns_known(small):
    result = run_scorecard(small["atlas"], Filter(), ScorecardParams(since=2020))
    sj = result.row("songjiang")
    assert (sj["inside"], sj["associated"], sj["placeholder"], sj["total"]) == (2, 1, 1, 4)
    assert sj["distinct_sites"] == 2  # SJ-B sits under SJ-A; SJ-D is a placeholder
    assert sj["by_level"]["national"] == 2 and sj["by_level"]["municipal"] == 1
    assert sj["by_level"]["district"] == 1
    assert sj["by_category"]["lab"] == 2 and sj["by_category"]["incubator"] == 1
    assert sj["by_layer"]["ai"] == 2 and sj["by_layer"]["ic"] == 1
    assert sj["by_layer"]["biomed"] == 1
    area_km2 = small["sj_town"].area / 1e6
    assert sj["area_km2"] == pytest.approx(area_km2, abs=1e-3)
    assert sj["density_inside_per_10km2"] == pytest.approx(2 / area_km2 * 10, abs=1e-4)
    assert sj["planned_population"] == SONGJIANG_POPULATION
    assert sj["per_100k_planned"] == pytest.approx(4 / SONGJIANG_POPULATION * 1e5, abs=1e-4)
    jd = result.row("jiading")
    assert (jd["inside"], jd["total"], jd["per_100k_planned"]) == (1, 1, None)
    assert [r["key"] for r in result.towns][:2] == ["songjiang", "jiading"]
    # qingpu, fengxian and nanhui have nothing: tied third, not 3rd/4th/5th
    assert [r["rank"] for r in result.towns] == [1, 2, 3, 3, 3]
    assert result.row("qingpu")["total"] == 0
    assert result.total["total"] == 5
    assert result.excluded_placeholders == ("SJ-D",)


def test_since_and_growth_known(small):
    result = run_scorecard(small["atlas"], Filter(), ScorecardParams(since=2020))
    sj = result.row("songjiang")
    # like with like: dated in or before 2020 (SJ-A 2015, SJ-D 2019) against all dated
    # (plus SJ-B 2022); the undated SJ-C is reported apart, not counted as new
    assert sj["since"] == {"year": 2020, "then": 2, "now": 3, "change": 1, "undated": 1}
    growth = result.growth
    years = growth["years"]
    assert years[0] == 2015 and years[-1] == 2022 and growth["strategy_year"] == 2021
    series = dict(zip(years, growth["towns"]["songjiang"]["cumulative"], strict=True))
    assert (series[2015], series[2018], series[2019], series[2021], series[2022]) == (1, 1, 2, 2, 3)
    assert growth["towns"]["songjiang"]["undated"] == 1
    assert dict(zip(years, growth["towns"]["jiading"]["cumulative"], strict=True))[2021] == 1


def test_as_of_counts_dated_only_and_reports_undated(small):
    result = run_scorecard(small["atlas"], Filter(as_of=2019), ScorecardParams())
    sj = result.row("songjiang")
    assert sj["total"] == 2 and sj["undated_not_shown"] == 1  # SJ-A, SJ-D; SJ-C undated
    assert result.growth["years"][-1] == 2019


def test_spatial_figures_leave_placeholders_out(small):
    atlas = small["atlas"]
    result = run_scorecard(atlas, Filter(), ScorecardParams())
    # brute force: every grid centre to the nearest non-placeholder site
    sites = np.array([[p.x, p.y] for p in small["points"].values()])
    for key, town in (("songjiang", small["sj_town"]), ("jiading", small["jd_town"])):
        grid = grid_points(town, 250.0)
        d = np.hypot(grid[:, None, 0] - sites[None, :, 0], grid[:, None, 1] - sites[None, :, 1])
        expected = float(np.median(d.min(axis=1)))
        assert result.row(key)["median_nearest_m"] == pytest.approx(expected, abs=0.2)
        assert result.row(key)["grid_points"] == len(grid)
    # G60: the share of Songjiang's sites (A, B, C) inside the band, by the band polygon
    band = read_boundaries(small["folder"] / "boundaries" / "corridors.geojson",
                           kind="corridors").to_crs(4549)
    band_geom = band.loc[band["key"] == "g60_corridor"].geometry.iloc[0]
    hits = sum(band_geom.contains(small["points"][k]) for k in ("SJ-A", "SJ-B", "SJ-C"))
    assert result.g60["platforms"] == 3 and result.g60["in_band"] == hits
    assert result.g60["share"] == pytest.approx(hits / 3)
    everywhere = run_scorecard(atlas, Filter(), ScorecardParams(radius_m=200_000))
    assert all(r["covered_share"] == pytest.approx(1.0) for r in everywhere.towns)


def test_placeholder_alone_gives_no_spatial_figures(small):
    atlas = small["atlas"]
    result = run_scorecard(atlas, Filter(memberships=("placeholder",)), ScorecardParams())
    sj = result.row("songjiang")
    assert sj["placeholder"] == 1 and sj["total"] == 1
    assert sj["covered_share"] == 0.0 and sj["median_nearest_m"] is None
    assert sj["g60_share"] is None and sj["distinct_sites"] == 0


def test_empty_selection_is_all_zero(small):
    result = run_scorecard(small["atlas"], Filter(text="no-such-facility"), ScorecardParams())
    assert result.total["total"] == 0
    assert all(r["total"] == 0 and r["median_nearest_m"] is None for r in result.towns)
    assert all(all(v == 0 for v in r["by_layer"].values()) for r in result.towns)


def test_params_refuse_bad_values():
    with pytest.raises(ValueError, match="radius_m"):
        ScorecardParams(radius_m=-5)
    with pytest.raises(ValueError, match="grid_m"):
        ScorecardParams(grid_m=1)
    with pytest.raises(ValueError, match="since"):
        ScorecardParams(since=3000)


def test_planned_population_must_have_year_and_source(tmp_path):
    doc = json.loads((bundled_data_dir() / "boundaries" / "towns.geojson").read_text("utf-8"))
    doc["features"][0]["properties"].update(planned_population=700000,
                                            planned_population_year=None,
                                            planned_population_source="")
    doc["features"][1]["properties"].update(planned_population="many")
    path = tmp_path / "towns.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    with pytest.raises(ValueError) as info:
        read_boundaries(path, kind="towns")
    text = str(info.value)
    assert "planned_population_year" in text and "planned_population_source" in text
    assert "row 1, field 'planned_population_year'" in text
    assert "row 2, field 'planned_population': a positive whole number" in text


# -- the bundled data: consistency (the data is being replaced; no fixed counts here) ----------


@pytest.fixture(scope="module")
def dated_mix(tmp_path_factory: pytest.TempPathFactory) -> Atlas:
    """Qingpu: 3 facilities dated before 2020, 2 dated after, 4 undated."""
    folder = tmp_path_factory.mktemp("since") / "data"
    shutil.copytree(bundled_data_dir() / "boundaries", folder / "boundaries")
    town, _district = _town_and_district("qingpu", "青浦区")
    spot = town.representative_point()
    years = ["2015", "2018", "2019", "2021", "2023", "", "", "", ""]
    rows = [_row(f"QP-{i}", "qingpu", "青浦区", shapely.Point(spot.x + 50 * i, spot.y), year=y)
            for i, y in enumerate(years)]
    with (folder / "facilities.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return load_atlas(folder)


def test_since_compares_dated_with_dated_and_reports_undated_apart(dated_mix):
    result = run_scorecard(dated_mix, Filter(), ScorecardParams(since=2020))
    qp = result.row("qingpu")
    assert qp["total"] == 9
    assert qp["since"] == {"year": 2020, "then": 3, "now": 5, "change": 2, "undated": 4}
    assert result.row("nanhui")["since"] == {"year": 2020, "then": 0, "now": 0, "change": 0,
                                             "undated": 0}
    # with an as-of year, "now" is that year's dated view; the undated are still apart
    as_of = run_scorecard(dated_mix, Filter(as_of=2021), ScorecardParams(since=2020))
    qp = as_of.row("qingpu")
    assert qp["since"] == {"year": 2020, "then": 3, "now": 4, "change": 1, "undated": 4}
    assert qp["undated_not_shown"] == 4
    # the flat table (export layer) carries the same figures
    table = result.table()
    row = table.loc[table["key"] == "qingpu"].iloc[0]
    assert (row["since_then"], row["since_now"], row["since_change"],
            row["since_undated"]) == (3, 5, 2, 4)
    how = result.to_json()["how"]["since"]
    assert "undated" in how["en"] and "never counted as new" in how["en"]
    assert "无年份" in how["zh"] and "不计为新增" in how["zh"]


def test_bundled_since_2020_recomputed_from_the_csv(bundled_atlas):
    """The change since 2020 per town, counted straight from facilities.csv (every row of
    the town, placeholders included, as the scorecard's total)."""
    with (bundled_data_dir() / "facilities.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    result = run_scorecard(bundled_atlas, Filter(), ScorecardParams(since=2020))
    for key in ("jiading", "qingpu", "songjiang", "fengxian", "nanhui"):
        mine = [r for r in rows if r["town"] == key]
        dated = [int(r["year"]) for r in mine if r["year"].strip()]
        then = sum(y <= 2020 for y in dated)
        expected = {"year": 2020, "then": then, "now": len(dated),
                    "change": len(dated) - then, "undated": len(mine) - len(dated)}
        assert result.row(key)["since"] == expected, key
        # nothing lost: the dated now and the undated make up the town's total
        assert expected["now"] + expected["undated"] == result.row(key)["total"]


def test_bundled_consistency(bundled_atlas):
    result = run_scorecard(bundled_atlas, Filter(), ScorecardParams(since=2020))
    facilities = bundled_atlas.facilities
    for row in result.towns:
        assert row["inside"] + row["associated"] + row["placeholder"] == row["total"]
        assert row["total"] == int((facilities["town"] == row["key"]).sum())
        assert sum(row["by_level"].values()) == row["total"]
        assert sum(row["by_category"].values()) == row["total"]
        town_sites = facilities.loc[(facilities["town"] == row["key"])
                                    & (facilities["membership"] != "placeholder")]
        assert row["distinct_sites"] == len(distinct_sites(town_sites))
        assert 0.0 <= row["covered_share"] <= 1.0
        assert row["since"]["now"] - row["since"]["then"] == row["since"]["change"]
        growth = result.growth["towns"][row["key"]]
        assert growth["cumulative"] == sorted(growth["cumulative"])
        assert growth["cumulative"][-1] + growth["undated"] == row["total"]
    assert result.total["total"] == len(facilities)
    assert set(result.excluded_placeholders) == set(
        facilities.index[facilities["membership"] == "placeholder"].astype(str))
    ranks = [(-r["inside"], -(r["density_inside_per_10km2"] or 0)) for r in result.towns]
    assert ranks == sorted(ranks)
    assert math.isfinite(result.g60["share"])


def test_cli_json_is_the_result(bundled_atlas, capsys):
    assert newtown(["scorecard", "--json", "--since", "2020", "--radius-m", "3000"]) == 0
    doc = json.loads(capsys.readouterr().out)
    expected = run_scorecard(bundled_atlas, Filter(),
                             ScorecardParams(radius_m=3000, since=2020)).to_json()
    assert doc["towns"] == json.loads(json.dumps(expected["towns"]))
    assert doc["analysis"] == "scorecard" and doc["parameters"]["radius_m"] == 3000


def test_cli_table_and_bad_input(capsys):
    assert newtown(["scorecard", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Songjiang New Town" in out and "G60" in out
    assert newtown(["scorecard", "--radius-m", "-1"]) == 2
    assert "radius_m" in capsys.readouterr().err


def test_cli_since_lines_name_the_town_in_the_chosen_language(capsys):
    assert newtown(["scorecard", "--since", "2020", "--lang", "en"]) == 0
    since = [x for x in capsys.readouterr().out.splitlines() if x.startswith("Change since")]
    assert len(since) == 5
    assert any("Songjiang New Town: " in x for x in since)
    assert not any("songjiang:" in x for x in since)
    assert newtown(["scorecard", "--since", "2020"]) == 0
    since = [x for x in capsys.readouterr().out.splitlines() if x.startswith("自 2020")]
    assert any("松江新城: " in x for x in since)


@pytest.mark.parametrize("command", ["scorecard", "brief"])
def test_cli_since_after_as_of_is_refused(command, tmp_path, capsys):
    out = tmp_path / "b.pdf"
    extra = ["--town", "songjiang", "-o", str(out)] if command == "brief" else []
    assert newtown([command, "--as-of", "2015", "--since", "2020", *extra]) == 2
    err = capsys.readouterr().err
    assert "--since 2020" in err and "--as-of 2015" in err
    assert not out.exists()


def _text(component: object) -> str:
    """Every string in a Dash component tree, joined."""
    if isinstance(component, str | int | float):
        return str(component)
    children = getattr(component, "children", None)
    if children is None:
        return ""
    if not isinstance(children, list | tuple):
        children = [children]
    return " ".join(_text(c) for c in children)


def test_dashboard_scorecard_notes_say_no_none_and_no_backwards_change(bundled_atlas):
    """The panel's notes: an empty selection shows '—' (not 'None/None'); a compare year
    after the as-of year gives no negative 'change since' but says why."""
    from dashboard.callbacks.scorecard import scorecard_view

    empty = run_scorecard(bundled_atlas, Filter.create(towns=["qingpu"], as_of=1900),
                          ScorecardParams())
    text = _text(scorecard_view(empty, "en"))
    assert "None" not in text and "G60" in text
    backwards = run_scorecard(bundled_atlas, Filter(as_of=2015), ScorecardParams(since=2020))
    for lang in ("en", "zh"):
        text = _text(scorecard_view(backwards, lang))
        assert "-2" not in text and "2020" in text and "2015" in text
    assert "after the as-of year" in _text(scorecard_view(backwards, "en"))


def test_tied_towns_share_a_rank(bundled_atlas):
    """Five towns with nothing selected are tied, not ranked 1..5 (the brief printed
    'rank 3' for a town with no facility); otherwise ranks follow the order."""
    empty = run_scorecard(bundled_atlas, Filter(as_of=1900), ScorecardParams())
    assert [r["rank"] for r in empty.towns] == [1, 1, 1, 1, 1]
    full = run_scorecard(bundled_atlas, Filter(), ScorecardParams())
    assert [r["rank"] for r in full.towns] == [1, 2, 3, 4, 5]
