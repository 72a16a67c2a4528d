"""Scale work: the synthetic generator, and the vectorised loader against the previous one.

The vectorised ``geo.facilities`` / ``geo.atlas`` code must give exactly what the earlier
row-by-row code gave: same GeoDataFrame (values, dtypes, index) and the same Problem list
(order, rows, fields, values, messages). A frozen copy of that earlier code sits at the end
of this file as the oracle (``_old_*``); the synthetic files are small and seeded.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from benchmarks.synth import COORD_SOURCE, make_facilities, write_data_dir
from geo import catalog
from geo._errors import DataError, Problem, UnknownNameError
from geo._io import decode_text
from geo.atlas import _annotate_facilities, counts_by_town_and_layer, load_atlas
from geo.facilities import (
    _FORMULA_PREFIXES,
    COLUMNS,
    MAX_TEXT_LENGTH,
    REQUIRED,
    _parse_csv_exact,
    _parse_csv_fast,
    read_facilities,
    validate_facilities,
)
from geo.settings import GEOGRAPHIC_CRS, SHANGHAI_BBOX, bundled_data_dir

N_SYNTHETIC = 2000


@pytest.fixture(scope="module")
def synthetic() -> pd.DataFrame:
    return make_facilities(N_SYNTHETIC, seed=11)


@pytest.fixture(scope="module")
def checks(bundled_atlas):
    """The city outline and districts the app validates against."""
    return {"city": shapely.union_all(bundled_atlas.city.geometry.to_numpy()),
            "districts": bundled_atlas.districts}


def _as_text(table: pd.DataFrame) -> pd.DataFrame:
    """Every cell as the text a CSV file would hold (blank for a missing year)."""
    out = table.astype(object).where(table.notna(), "")
    return out.map(lambda v: f"{v:.6f}" if isinstance(v, float) else str(v))


def _write_csv(table: pd.DataFrame, path: Path, *, encoding: str = "utf-8",
               lineterminator: str = "\n") -> Path:
    path.write_bytes(table.to_csv(index=False, lineterminator=lineterminator)
                     .encode(encoding))
    return path


def _legacy_read(path: Path, **checks) -> gpd.GeoDataFrame:
    return _old_validate_facilities(_old_read_csv_table(path), file=str(path), **checks)


def _outcome(read: Callable[[], gpd.GeoDataFrame]) -> gpd.GeoDataFrame | list[Problem]:
    try:
        return read()
    except DataError as exc:
        return exc.problems


def _assert_same(new: object, old: object) -> None:
    """Same frame (values, dtypes, index, CRS) or the same Problem list, in order."""
    if isinstance(old, list):
        assert isinstance(new, list), "the new loader accepted what the old one rejected"
        assert new == old
    else:
        assert not isinstance(new, list), f"the new loader rejected valid input: {new[:3]}"
        assert_geodataframe_equal(new, old, check_dtype=True, check_index_type=True,
                                  check_crs=True)
        assert list(new.dtypes) == list(old.dtypes)


# -- the synthetic generator ------------------------------------------------------------------

def test_make_facilities_is_seeded_and_labelled(synthetic):
    again = make_facilities(N_SYNTHETIC, seed=11)
    pd.testing.assert_frame_equal(synthetic, again)
    other = make_facilities(N_SYNTHETIC, seed=12)
    assert not np.array_equal(other["lon"].to_numpy(), synthetic["lon"].to_numpy())
    assert list(synthetic.columns) == list(COLUMNS)
    assert synthetic["id"].iloc[0] == "SYN-0000001"
    assert synthetic["id"].iloc[-1] == f"SYN-{N_SYNTHETIC:07d}"
    assert synthetic["id"].is_unique
    assert set(synthetic["coord_source"]) == {COORD_SOURCE}
    assert "not real" in COORD_SOURCE
    assert set(synthetic["source"]) == {"synthetic"}


def test_synthetic_points_lie_in_their_towns_with_catalog_keys(synthetic, bundled_atlas):
    towns = dict(zip(bundled_atlas.towns["key"], bundled_atlas.towns.geometry, strict=True))
    for key, group in synthetic.groupby("town"):
        assert shapely.contains_xy(towns[key], group["lon"], group["lat"]).all()
        assert set(group["district"]) == {catalog.TOWNS[key].district}
    assert set(synthetic["town"]) == set(catalog.TOWNS)  # 2,000 points reach every town
    assert set(synthetic["category"]) <= set(catalog.CATEGORIES)
    assert set(synthetic["level"]) <= set(catalog.LEVELS)
    assert set(synthetic["status"]) <= set(catalog.STATUSES)
    keys = {k for text in synthetic["industries"] for k in text.split(";")}
    assert keys <= set(catalog.INDUSTRIES)
    # 6 decimals, as in the bundled file
    assert np.allclose(synthetic["lon"], synthetic["lon"].round(6), rtol=0, atol=1e-12)
    assert synthetic["year"].isna().any() and synthetic["year"].dropna().between(1990, 2025).all()


def test_synthetic_points_are_clumped(synthetic):
    """70% sit in parks: Clark-Evans R (mean nearest-neighbour distance over a uniform
    spread's) is well below 1 (R = 0.70 for this seed; a uniform sample gives ~1)."""
    from scipy.spatial import cKDTree

    from geo.crs import to_metric

    points = to_metric(gpd.GeoSeries(gpd.points_from_xy(synthetic["lon"], synthetic["lat"]),
                                     crs=GEOGRAPHIC_CRS))
    xy = np.column_stack([points.x, points.y])
    nearest = cKDTree(xy).query(xy, k=2)[0][:, 1].mean()
    # Clark-Evans expectation for a uniform spread over the five towns (~820 km²)
    uniform = 0.5 / math.sqrt(N_SYNTHETIC / 820e6)
    assert nearest / uniform < 0.8


def test_make_facilities_edge_sizes():
    empty = make_facilities(0, seed=0)
    assert list(empty.columns) == list(COLUMNS) and len(empty) == 0
    one = make_facilities(1, seed=0)
    assert len(one) == 1 and one["id"].iloc[0] == "SYN-0000001"
    with pytest.raises(ValueError, match="non-negative"):
        make_facilities(-1, seed=0)


def test_write_data_dir_loads_as_an_atlas(tmp_path):
    folder = write_data_dir(300, seed=3, folder=tmp_path / "bench")
    atlas = load_atlas(folder)
    assert len(atlas.facilities) == 300
    assert atlas.facilities["in_town"].all()
    assert atlas.facilities.index[0] == "SYN-0000001"
    assert "SYNTHETIC" in (folder / "SYNTHETIC.txt").read_text("utf-8")
    bundled = sorted(p.name for p in (bundled_data_dir() / "boundaries").iterdir())
    assert sorted(p.name for p in (folder / "boundaries").iterdir()) == bundled
    assert not list(folder.glob(".*.tmp"))  # atomic writes leave no temp files


@pytest.mark.parametrize("inside", ["", "boundaries", "sub/folder"])
def test_write_data_dir_refuses_the_bundled_data_folder(inside):
    target = bundled_data_dir() / inside
    existed = target.exists()
    with pytest.raises(ValueError, match="refusing to write synthetic data"):
        write_data_dir(5, seed=0, folder=target)
    assert target.exists() == existed
    assert "SYN-" not in (bundled_data_dir() / "facilities.csv").read_text("utf-8")


# -- the loader: identical to the row-by-row one ----------------------------------------------

@pytest.mark.parametrize("with_checks", [False, True])
def test_loader_matches_legacy_on_bundled_data(checks, with_checks):
    path = bundled_data_dir() / "facilities.csv"
    kwargs = checks if with_checks else {}
    new = read_facilities(path, **kwargs)
    _assert_same(new, _legacy_read(path, **kwargs))
    assert len(new) > 50


def test_loader_matches_legacy_on_synthetic_file(synthetic, checks, tmp_path):
    path = _write_csv(_as_text(synthetic), tmp_path / "facilities.csv")
    assert _parse_csv_fast(path.read_bytes()) is not None  # the pandas path is the one tested
    new = read_facilities(path, **checks)
    _assert_same(new, _legacy_read(path, **checks))
    assert len(new) == N_SYNTHETIC
    assert list(new.index[:2]) == ["SYN-0000001", "SYN-0000002"]


def _messy(synthetic: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Valid but untidy: padding, zh/en/alias spellings, ',' and '；' joins, blank
    districts, defaults, quoted commas and newlines."""
    rng = np.random.default_rng(seed)
    table = _as_text(synthetic)
    n = len(table)

    def some(share: float) -> np.ndarray:
        return np.flatnonzero(rng.random(n) < share)

    for column in ("name_zh", "town", "category", "lon", "lat", "coord_precision_m"):
        rows = some(0.05)
        table.loc[rows, column] = "  " + table.loc[rows, column] + " \t"
    rows = some(0.1)
    table.loc[rows, "town"] = table.loc[rows, "town"].map(lambda k: catalog.TOWNS[k.strip()].zh
                                                          if k.strip() in catalog.TOWNS else k)
    rows = some(0.1)
    table.loc[rows, "category"] = table.loc[rows, "category"].map(
        lambda k: catalog.CATEGORIES[k.strip()].en if k.strip() in catalog.CATEGORIES else k)
    rows = some(0.1)
    table.loc[rows, "industries"] = table.loc[rows, "industries"].str.replace(";", "，")
    table.loc[rows, "industries"] = table.loc[rows, "industries"].str.replace("，", ",")
    rows = some(0.1)
    table.loc[rows, "industries"] = table.loc[rows, "industries"].str.replace(";", "；")
    table.loc[some(0.2), "district"] = ""
    table.loc[some(0.1), "level"] = ""
    table.loc[some(0.1), "status"] = ""
    rows = some(0.05)
    table.loc[rows, "address"] = table.loc[rows, "address"] + ', "楼" 2层\n(second line)'
    return table


@pytest.mark.parametrize(("encoding", "lineterminator"),
                         [("utf-8", "\n"), ("utf-8-sig", "\r\n"), ("gb18030", "\r\n")])
def test_loader_matches_legacy_on_messy_valid_file(synthetic, checks, tmp_path, encoding,
                                                   lineterminator):
    table = _messy(synthetic.iloc[:500], seed=5)
    path = _write_csv(table, tmp_path / "messy.csv", encoding=encoding,
                      lineterminator=lineterminator)
    new = read_facilities(path, **checks)
    _assert_same(new, _legacy_read(path, **checks))
    assert set(new["town"]) <= set(catalog.TOWNS)
    assert (new["district"] != "").all()  # blank districts were filled from the point
    assert new["address"].str.contains("\n").any()


def _with_bad_rows(synthetic: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """A copy of the synthetic table with one kind of fault per chosen row (0-based rows)."""
    table = _as_text(synthetic)
    rows = iter(np.random.default_rng(2).permutation(len(table))[:60].tolist())
    at: dict[str, int] = {}

    def put(name: str, **cells: str) -> None:
        at[name] = i = next(rows)
        for column, value in cells.items():
            table.loc[i, column] = value

    put("blank_lon", lon="")
    put("text_lat", lat="abc")
    put("inf_lon", lon="inf")
    put("blank_both", lon=" ", lat="")
    put("swapped", lon="31.200000", lat="121.300000")
    put("mercator", lon="13500000", lat="3600000")
    put("out_of_range", lon="200", lat="31.2")
    put("beijing", lon="116.400000", lat="39.900000")
    put("sea", lon="122.240000", lat="30.700000")  # in the bounding box, outside the city
    put("typo_town", town="Jiadng")
    put("blank_town", town="")
    put("typo_category", category="labb")
    put("bad_industry", industries="biomedx;ai")
    put("bad_industry_again", industries="biomedx;ai")
    put("two_bad_industries", industries="foo;bar")
    put("wrong_district", town="jiading", district="青浦区", lon="121.250000",
        lat="31.380000")
    put("unknown_district", town="jiading", district="Atlantis", lon="121.250000",
        lat="31.380000")
    put("formula", name_zh="=SUM(A1)")
    put("long_name", name_en="x" * (MAX_TEXT_LENGTH + 1))
    put("long_formula_id", id="+" + "9" * MAX_TEXT_LENGTH)
    put("negative_precision", coord_precision_m="-5")
    put("blank_precision", coord_precision_m="")
    put("text_precision", coord_precision_m="about 100")
    put("fractional_year", year="2020.5")
    put("old_year", year="1700")
    put("text_year", year="abc")
    put("bad_level", level="provincial")
    put("blank_name", name_zh="  ")
    put("blank_id", id="")
    first = next(rows)
    put("duplicate_id", id=table.loc[first, "id"])
    at["duplicate_id_first"] = first
    put("many", town="Jiadng", category="labb", lon="", year="abc")
    return table, at


def test_error_list_matches_legacy_on_synthetic_bad_rows(synthetic, checks, tmp_path):
    table, at = _with_bad_rows(synthetic)
    path = _write_csv(table, tmp_path / "bad.csv")
    assert _parse_csv_fast(path.read_bytes()) is not None
    new = _outcome(lambda: read_facilities(path, **checks))
    old = _outcome(lambda: _legacy_read(path, **checks))
    _assert_same(new, old)
    assert isinstance(new, list)
    by_row: dict[int, list[Problem]] = {}
    for problem in new:
        by_row.setdefault(problem.row, []).append(problem)
    # hand-checked expectations (rows are 1-based)
    assert [p.message for p in by_row[at["swapped"] + 1]] == [
        "lon and lat look swapped (lat value in the lon column)"]
    assert "EPSG:3857" in by_row[at["mercator"] + 1][0].message
    assert by_row[at["sea"] + 1][0].message == "point lies outside Shanghai's boundary"
    assert [(p.field, p.value) for p in by_row[at["blank_both"] + 1]] == [("lon", None),
                                                                          ("lat", None)]
    first, second = sorted([at["bad_industry"], at["bad_industry_again"]])
    assert by_row[first + 1][0].value == "biomedx"
    assert by_row[second + 1][0].message == "unknown industry (see first occurrence)"
    assert [p.value for p in by_row[at["two_bad_industries"] + 1]] == ["foo", "bar"]
    assert by_row[at["wrong_district"] + 1][0].message.endswith("lies in 嘉定区, not in 青浦区")
    assert [p.field for p in by_row[at["unknown_district"] + 1]] == ["district", "district"]
    assert [p.field for p in by_row[at["long_formula_id"] + 1]] == ["id", "id"]
    assert [p.field for p in by_row[at["many"] + 1]] == ["category", "town", "lon", "year"]
    dup = sorted([at["duplicate_id"], at["duplicate_id_first"]])
    assert by_row[dup[0] + 1][0].message == f"duplicate id (rows {dup[0] + 1}, {dup[1] + 1})"
    assert len(by_row) == len(at)  # every faulty row, and no other, is reported


def test_ragged_rows_fall_back_to_the_exact_reader(synthetic, tmp_path):
    lines = _as_text(synthetic.iloc[:300]).to_csv(index=False, lineterminator="\n")
    lines = lines.splitlines()
    lines[41] += ",extra"  # data row 41
    lines[120] = lines[120].rsplit(",", 1)[0]  # data row 120 loses its last cell
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    new = _outcome(lambda: read_facilities(path))
    _assert_same(new, _outcome(lambda: _legacy_read(path)))
    assert [(p.row, p.value, p.message) for p in new] == [
        (41, 21, "row has 21 cells but the header has 20"),
        (120, 19, "row has 19 cells but the header has 20"),
    ]


CSV_TEXTS = {
    "plain": "a,b,c\n1,2,3\n",
    "quoted": 'a,b,c\n"x,y","he said ""hi""",z\n"line1\nline2",2,3\n',
    "mixed line endings": "a,b,c\r1,2,3\r\n4,5,6\n7,8,9",
    "blank lines": "\na,b,c\n\n1,2,3\n   \n\t\n4,5,6\n",
    "row of empty cells": "a,b,c\n,,\n1,2,3\n",
    "row of blank cells": "a,b,c\n , ,\t\n1,2,3\n",
    "short row": "a,b,c\n1,2,3\n4,5\n",
    "long row": "a,b,c\n1,2,3\n4,5,6,7\n",
    "long first row": "a,b,c\n1,2,3,4\n4,5,6\n",
    "unterminated quote": 'a,b,c\n"1,2,3\n',
    "quote inside a cell": 'a,b,c\nab"c,"d"e,f\n',
    "padded header": " a , b ,c \n1,2,3\n",
    "header only": "a,b,c\n",
    "blank last cells": "a,b,c\n1,2,\n",
    "trailing empty header": "a,b,c,\n1,2,3,4\n",
}


@pytest.mark.parametrize("name", list(CSV_TEXTS))
def test_fast_csv_parser_agrees_with_the_csv_module(name):
    text = CSV_TEXTS[name]
    try:
        exact = _parse_csv_exact(text, "t.csv")
    except DataError as exc:
        exact = exc.problems
    fast = _parse_csv_fast(text.encode("utf-8"))
    if fast is None:  # the fast path declined (any blank last cell): the exact path decides
        assert name in {"short row", "long row", "long first row", "unterminated quote",
                        "row of empty cells", "row of blank cells", "blank last cells",
                        "trailing empty header"}
        return
    assert not isinstance(exact, list), exact
    pd.testing.assert_frame_equal(fast, exact)
    assert name not in {"short row", "long row", "long first row"}


def _mixed_table() -> pd.DataFrame:
    """What an XLSX or GeoPackage gives: numbers, None and NaN mixed with text."""
    return pd.DataFrame({
        "id": ["JD-T1", "JD-T2", "JD-T3", 4],
        "name_zh": ["测试", " 测试二 ", "测试三", "测试四"],
        "category": ["lab", "Key laboratory", "lab", "lab"],
        "industries": ["ai", "人工智能；汽车", "ai,auto_icv", "ai"],
        "town": ["jiading", "嘉定新城", "Jiading", "JD"],
        "district": [None, np.nan, "嘉定区", ""],
        "lon": [121.25, "121.26", 121.27, np.nan],
        "lat": [31.38, " 31.37 ", np.inf, 31.36],
        "coord_source": ["test"] * 4,
        "coord_precision_m": [100, "100", 0, None],
        "year": [2020, np.nan, "2019", 2021.0],
        "source": ["test"] * 4,
    }, dtype=object)


@pytest.mark.parametrize("rows", [[0, 1], [0, 1, 2, 3]])
def test_mixed_type_tables_match_legacy(checks, rows):
    table = _mixed_table().iloc[rows]
    new = _outcome(lambda: validate_facilities(table, file="t.xlsx", **checks))
    old = _outcome(lambda: _old_validate_facilities(table, file="t.xlsx", **checks))
    _assert_same(new, old)
    if rows == [0, 1]:
        assert list(new["district"]) == ["嘉定区", "嘉定区"]
        assert new.loc["JD-T2", "industries"] == "ai;auto"
    else:
        assert [(p.row, p.field) for p in new] == [(3, "lat"), (3, "coord_precision_m"),
                                                   (4, "lon"), (4, "coord_precision_m")]


# -- the atlas: annotation and counts ---------------------------------------------------------

def test_annotation_and_counts_match_legacy(synthetic, bundled_atlas, checks):
    facilities = validate_facilities(_as_text(synthetic), **checks)
    new = _annotate_facilities(facilities, bundled_atlas.towns)
    old = _old_annotate_facilities(facilities, bundled_atlas.towns)
    # v2 adds town_inside and membership (tested in tests/test_membership.py); the rest is
    # unchanged against the oracle.
    _assert_same(new.drop(columns=["town_inside", "membership"]), old)
    for selection in (new, new[new["town"] == "jiading"], new.iloc[:0]):
        pd.testing.assert_frame_equal(counts_by_town_and_layer(selection),
                                      _old_counts_by_town_and_layer(selection))


def test_counts_by_town_and_layer_hand_worked():
    facilities = pd.DataFrame({"town": ["jiading", "jiading", "nanhui", "jiading"],
                               "layers": ["auto;ic", "auto", "", "equipment;auto"]})
    table = counts_by_town_and_layer(facilities)
    assert table.loc["jiading", "auto"] == 3
    assert table.loc["jiading", "ic"] == 1
    assert table.loc["jiading", "equipment"] == 1
    assert table.loc["jiading", "total"] == 3
    assert table.loc["nanhui", "total"] == 1
    assert table.loc["nanhui"].drop("total").sum() == 0
    assert table.drop(columns="total").to_numpy().sum() == 5
    assert list(table.columns) == [*catalog.INDUSTRY_LAYERS, "total"]
    assert (table.dtypes == np.int64).all()


# -- the oracle: a frozen copy of the row-by-row code (geo/facilities.py and geo/atlas.py
# before vectorisation), renamed _old_*. Do not "fix" it: it defines the expected answers.


def _old_read_csv_table(path: Path) -> pd.DataFrame:
    raw = path.read_bytes()
    file = str(path)
    if not raw.strip():
        raise DataError(Problem(file, None, None, None, "file is empty; expected a header row "
                                f"with columns {', '.join(REQUIRED)}"))
    try:
        text, _encoding = decode_text(raw)
    except UnicodeDecodeError as exc:
        raise DataError(Problem(file, None, None, None,
                                f"cannot decode text as UTF-8 or GB18030 ({exc.reason})")) from exc
    # The csv module handles \r\n, \r and \n line endings and quoted newlines alike.
    rows = list(csv.reader(io.StringIO(text, newline="")))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    problems = []
    for n, row in enumerate(body, start=1):
        if len(row) != len(header):
            problems.append(Problem(file, n, None, len(row),
                                    f"row has {len(row)} cells but the header has {len(header)}"))
    if problems:
        raise DataError(problems, file=file)
    return pd.DataFrame(body, columns=header, dtype=object)


def _old_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return str(value).strip() == ""


def _old_validate_facilities(
    table: pd.DataFrame,
    *,
    file: str = "<table>",
    city: shapely.Geometry | None = None,
    districts: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Validate a raw facility table (strings or numbers) and return a clean GeoDataFrame."""
    problems: list[Problem] = []
    if table.empty and len(table.columns) > 0:
        raise DataError(Problem(file, None, None, None,
                                "header only: the file has no data rows"), file=file)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        near = {c: _old_closest(c, table.columns) for c in missing}
        hints = "; ".join(f"'{c}'" + (f" (found '{near[c]}'?)" if near[c] else "")
                          for c in missing)
        raise DataError(Problem(file, None, None, list(map(str, table.columns)),
                                f"missing required column(s): {hints}"), file=file)
    df = table.copy()
    for column in COLUMNS:
        if column not in df.columns:
            df[column] = ""
    df = df.reset_index(drop=True)
    rows = np.arange(1, len(df) + 1)

    def add(row: int, field: str, value: object, message: str) -> None:
        problems.append(Problem(file, int(row), field, value, message))

    text_cols = [c for c in COLUMNS if c not in {"lon", "lat", "coord_precision_m", "year"}]
    for column in text_cols:
        df[column] = df[column].map(lambda v: "" if _old_blank(v) else str(v).strip())
    for column in REQUIRED:
        if column in text_cols:
            for row in rows[df[column].eq("").to_numpy()]:
                add(row, column, None, "required value is blank")
    for column in ("id", "name_zh", "name_en", "address"):
        values = df[column]
        for row in rows[values.str.len().gt(MAX_TEXT_LENGTH).to_numpy()]:
            add(row, column, values.iloc[row - 1][:40] + "…",
                f"longer than {MAX_TEXT_LENGTH} characters")
        for row in rows[values.str.startswith(_FORMULA_PREFIXES).to_numpy()]:
            add(row, column, values.iloc[row - 1][:40],
                "starts like a spreadsheet formula (=, +, -, @); remove the leading character")

    # Duplicate ids name every row involved.
    ids = df["id"]
    dup = ids.ne("") & ids.duplicated(keep=False)
    for value, group in df[dup].groupby("id").groups.items():
        where = ", ".join(str(i + 1) for i in group)
        for i in group:
            add(i + 1, "id", value, f"duplicate id (rows {where})")

    # Catalog terms: accept keys, zh, en and aliases; normalise to keys.
    df["category"] = _old_resolve_column(df, "category", catalog.CATEGORY_NAMES, add)
    df["town"] = _old_resolve_column(df, "town", catalog.TOWN_NAMES, add)
    df["level"] = _old_resolve_column(df, "level", catalog.LEVEL_NAMES, add, default="unknown")
    df["status"] = _old_resolve_column(df, "status", catalog.STATUS_NAMES, add, default="unknown")
    # v2 columns (non-strict reading): a blank placement is a site; no parents, no events.
    df["placement"] = _old_resolve_column(df, "placement", catalog.PLACEMENT_NAMES, add,
                                          default="site")
    df["year_event"] = _old_resolve_column(df, "year_event", catalog.YEAR_EVENT_NAMES, add,
                                           default="")
    df["district"] = _old_resolve_column(
        df, "district", catalog.DISTRICT_NAMES, add, default="",
        to_value=lambda key: catalog.DISTRICTS[key].zh,
    )
    df["industries"] = _old_resolve_industries(df, add)

    lon, lat = _old_coordinates(df, add)
    precision = _old_numbers(df, "coord_precision_m", add, positive=True)
    year = _old_numbers(df, "year", add, optional=True, integer=True, lo=1850, hi=2100)

    ok = np.isfinite(lon) & np.isfinite(lat)
    if city is not None:
        inside = np.zeros(len(df), dtype=bool)
        inside[ok] = shapely.contains_xy(city, lon[ok], lat[ok])
        for row in rows[ok & ~inside]:
            add(row, "lon/lat", (lon[row - 1], lat[row - 1]),
                "point lies outside Shanghai's boundary")
        ok &= inside
    if districts is not None:
        _old_check_districts(df, lon, lat, ok, districts, add)

    if problems:
        problems.sort(key=lambda p: (p.row or 0, COLUMNS.index(p.field) if p.field in COLUMNS
                                     else len(COLUMNS)))
        raise DataError(problems, file=file)

    out = df.assign(lon=lon, lat=lat, coord_precision_m=precision,
                    year=pd.array(year, dtype="Int64"))
    extra = [c for c in df.columns if c not in COLUMNS]
    out = out[list(COLUMNS) + extra].set_index("id", drop=False)
    out.index.name = None
    return gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(lon, lat), crs=GEOGRAPHIC_CRS)


def _old_closest(name: str, options: Iterable[object]) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, [str(o) for o in options], n=1, cutoff=0.5)
    return found[0] if found else None


_OldAdder = Callable[[int, str, object, str], None]


def _old_resolve_column(
    df: pd.DataFrame,
    column: str,
    vocabulary: catalog.Vocabulary,
    add: _OldAdder,
    *,
    default: str | None = None,
    to_value: Callable[[str], str] = lambda key: key,
) -> pd.Series:
    resolved: dict[str, str] = {}
    for value in df[column].unique():
        if value == "":
            continue
        try:
            resolved[value] = to_value(vocabulary.resolve(value))
        except UnknownNameError as exc:
            for i in np.flatnonzero(df[column].eq(value).to_numpy()):
                add(i + 1, column, value, str(exc))
    blank_value = default if default is not None else ""
    return df[column].map(lambda v: resolved.get(v, blank_value if v == "" else v))


def _old_resolve_industries(df: pd.DataFrame, add: _OldAdder) -> pd.Series:
    cache: dict[str, str | None] = {}
    out = []
    for i, value in enumerate(df["industries"]):
        if value not in cache:
            keys, bad = [], []
            for part in str(value).replace("；", ";").replace(",", ";").split(";"):
                part = part.strip()
                if not part:
                    continue
                key = catalog.INDUSTRY_NAMES.lookup(part)
                if key is None:
                    bad.append(part)
                elif key not in keys:
                    keys.append(key)
            if bad:
                cache[value] = None
                for part in bad:
                    add(i + 1, "industries", part,
                        "unknown industry; " + catalog.INDUSTRY_NAMES.suggest(part))
            else:
                cache[value] = ";".join(keys)
        elif cache[value] is None:
            add(i + 1, "industries", value, "unknown industry (see first occurrence)")
        out.append(cache[value] or "")
    return pd.Series(out, index=df.index, dtype=object)


def _old_to_float(values: pd.Series) -> np.ndarray:
    numbers = pd.to_numeric(values.map(lambda v: str(v).strip() if isinstance(v, str) else v),
                            errors="coerce")
    return np.array(numbers, dtype=float)  # a writable copy


def _old_coordinates(df: pd.DataFrame, add: _OldAdder) -> tuple[np.ndarray, np.ndarray]:
    lon = _old_to_float(df["lon"])
    lat = _old_to_float(df["lat"])
    min_lon, min_lat, max_lon, max_lat = SHANGHAI_BBOX
    for i in range(len(df)):
        x, y = lon[i], lat[i]
        row = i + 1
        bad = False
        for name, v, raw in (("lon", x, df["lon"].iloc[i]), ("lat", y, df["lat"].iloc[i])):
            if _old_blank(raw):
                add(row, name, None, "required value is blank")
                bad = True
            elif not math.isfinite(v):
                add(row, name, raw, "not a finite number (decimal degrees expected)")
                bad = True
        if bad:
            lon[i] = lat[i] = np.nan
            continue
        message = None
        if min_lat <= x <= max_lat and min_lon <= y <= max_lon:
            message = "lon and lat look swapped (lat value in the lon column)"
        elif abs(x) > 180 or abs(y) > 90:
            if 1.3e7 < abs(x) < 1.4e7 and 3.5e6 < abs(y) < 3.8e6:
                message = ("looks like EPSG:3857 web-mercator metres; give WGS84 degrees")
            else:
                message = "out of range: lon must be within ±180 and lat within ±90"
        elif not (min_lon <= x <= max_lon and min_lat <= y <= max_lat):
            message = (f"point is outside Shanghai (bounding box lon {min_lon}–{max_lon}, "
                       f"lat {min_lat}–{max_lat})")
        if message:
            add(row, "lon/lat", (df["lon"].iloc[i], df["lat"].iloc[i]), message)
            lon[i] = lat[i] = np.nan
    return lon, lat


def _old_numbers(
    df: pd.DataFrame,
    column: str,
    add: _OldAdder,
    *,
    optional: bool = False,
    positive: bool = False,
    integer: bool = False,
    lo: float | None = None,
    hi: float | None = None,
) -> np.ndarray:
    values = _old_to_float(df[column])
    for i, v in enumerate(values):
        raw = df[column].iloc[i]
        if _old_blank(raw):
            if not optional:
                add(i + 1, column, None, "required value is blank")
            continue
        if not math.isfinite(v):
            add(i + 1, column, raw, "not a number")
        elif positive and v <= 0:
            add(i + 1, column, raw, "must be a positive number of metres")
        elif integer and v != int(v):
            add(i + 1, column, raw, "must be a whole number")
        elif (lo is not None and v < lo) or (hi is not None and v > hi):
            add(i + 1, column, raw, f"must be between {lo:g} and {hi:g}")
    return values


def _old_check_districts(
    df: pd.DataFrame,
    lon: np.ndarray,
    lat: np.ndarray,
    ok: np.ndarray,
    districts: gpd.GeoDataFrame,
    add: _OldAdder,
) -> None:
    """Fill a blank district from the point; flag a stated district the point is not in."""
    found = np.array([""] * len(df), dtype=object)
    idx = np.flatnonzero(ok)
    for name, geom in zip(districts["name_zh"], districts.geometry, strict=True):
        hit = shapely.contains_xy(geom, lon[idx], lat[idx])
        found[idx[hit]] = name
    for i in idx:
        stated = df.at[i, "district"]
        if stated == "":
            df.at[i, "district"] = found[i]
        elif found[i] and stated != found[i]:
            add(i + 1, "district", stated,
                f"point ({lon[i]:.6f}, {lat[i]:.6f}) lies in {found[i]}, not in {stated}")


def _old_counts_by_town_and_layer(facilities: pd.DataFrame) -> pd.DataFrame:
    """Table of facility counts: rows are towns, columns industry layers, plus a total column.

    A facility with several industries counts once in each layer it belongs to, so the layer
    columns may add up to more than ``total`` (which counts facilities).
    """
    towns = list(catalog.TOWNS)
    layers = list(catalog.INDUSTRY_LAYERS)
    table = pd.DataFrame(0, index=pd.Index(towns, name="town"), columns=layers, dtype=int)
    for town, layer_text in zip(facilities["town"], facilities["layers"], strict=True):
        for layer in layer_text.split(";"):
            if layer:
                table.at[town, layer] += 1
    table["total"] = facilities["town"].value_counts().reindex(towns, fill_value=0).astype(int)
    return table


def _old_annotate_facilities(
    facilities: gpd.GeoDataFrame, towns: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Add ``layers`` (top-level industry layers) and ``in_town`` (inside its town polygon)."""
    layers = facilities["industries"].map(
        lambda text: ";".join(dict.fromkeys(catalog.industry_layer(k)
                                            for k in text.split(";") if k))
    )
    in_town = np.zeros(len(facilities), dtype=bool)
    x, y = facilities.geometry.x.to_numpy(), facilities.geometry.y.to_numpy()
    for key, geom in zip(towns["key"], towns.geometry, strict=True):
        mask = (facilities["town"] == key).to_numpy()
        in_town[mask] = shapely.contains_xy(geom, x[mask], y[mask])
    return facilities.assign(layers=layers, in_town=in_town)
