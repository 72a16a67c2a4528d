"""The PDF brief read back with poppler: the JSON's numbers, CJK intact, fonts embedded."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboard.cli import main as newtown
from geo.analysis.scorecard import ScorecardParams, run_scorecard
from geo.brief import build_brief, write_brief
from geo.brief.text import fmt_count, fmt_km2, fmt_m, fmt_ratio, fmt_share, label
from geo.query import Filter

WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def pdffonts(path: Path) -> list[list[str]]:
    out = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    return [line.split() for line in out[2:] if line.strip()]


def pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True,
                          text=True).stdout
    match = re.search(r"^Pages:\s+(\d+)", info, re.M)
    assert match
    return int(match.group(1))


def value_after(text: str, name: str) -> str:
    """The last cell of the first line that starts with ``name`` and has a value after it
    (pdftotext -layout); a legend entry with the same words has none."""
    for line in text.splitlines():
        cell = line.strip()
        if cell.startswith(name) and cell[len(name):].strip():
            return cell.split()[-1]
    raise AssertionError(f"{name!r} not in the PDF text")


def expected_figures(row: dict[str, object], lang: str) -> dict[str, str]:
    figures = {
        label("inside", lang): fmt_count(row["inside"]),
        label("associated", lang): fmt_count(row["associated"]),
        label("placeholder", lang): fmt_count(row["placeholder"]),
        label("total", lang): fmt_count(row["total"]),
        label("distinct_sites", lang): fmt_count(row["distinct_sites"]),
        label("density", lang): fmt_ratio(row["density_inside_per_10km2"]),
        label("covered_share", lang): fmt_share(row["covered_share"]),
        label("median_nearest", lang): fmt_m(row["median_nearest_m"]),
        label("area_km2", lang): fmt_km2(row["area_km2"]),
    }
    if row["key"] == "songjiang":
        figures[label("g60_share", lang)] = fmt_share(row["g60_share"])
    return figures


@pytest.fixture(scope="module")
def songjiang_pdf(bundled_atlas, tmp_path_factory):
    brief = build_brief(bundled_atlas, Filter(), towns="songjiang", lang="zh",
                        params=ScorecardParams(since=2020), generated=WHEN)
    path = write_brief(tmp_path_factory.mktemp("brief") / "songjiang.pdf", brief)
    return path, brief


def test_pdf_numbers_equal_the_json_and_chinese_is_intact(songjiang_pdf):
    path, brief = songjiang_pdf
    text = pdftotext(path)
    assert "松江新城创新平台简报" in text
    assert "新城边界（近似）" in text  # the map's boundary label is text, not curves
    row = brief.scorecard.to_json()["towns"]
    songjiang = next(r for r in row if r["key"] == "songjiang")
    for name, value in expected_figures(songjiang, "zh").items():
        assert value_after(text, name) == value, name
    since = songjiang["since"]
    assert re.search(rf"^\s*{since['then']}\s+{since['now']}\s+\+{since['change']}\s+"
                     rf"{since['undated']}\s*$", text, re.M)
    assert brief.scorecard.sources["revision"] in text
    digest = brief.scorecard.sources["files"]["facilities.csv"]["sha256"]
    assert digest[:16] in text  # the sources list names each file's SHA-256
    assert 2 <= pages(path) <= 4


def test_pdf_fonts_are_all_embedded(songjiang_pdf):
    path, _ = songjiang_pdf
    fonts = pdffonts(path)
    assert fonts, "no fonts listed"
    assert all(row[-5] == "yes" for row in fonts), fonts  # the 'emb' column
    assert any("Noto-Sans-CJK-SC" in row[0] for row in fonts)


def test_empty_selection_gives_a_brief_that_says_so(bundled_atlas, tmp_path):
    brief = build_brief(bundled_atlas, Filter(text="no-such-facility-anywhere"),
                        towns="qingpu", lang="en", generated=WHEN)
    path = write_brief(tmp_path / "empty.pdf", brief)
    text = pdftotext(path)
    assert "No facilities match the filter" in text
    assert value_after(text, "Total") == "0"
    assert brief.scorecard.total["total"] == 0


def test_text_from_the_filter_is_escaped(bundled_atlas):
    brief = build_brief(bundled_atlas, Filter(text="<b>x</b>"), towns="fengxian",
                        generated=WHEN)
    assert "&lt;b&gt;x&lt;/b&gt;" in brief.html
    assert "<b>x</b>" not in brief.html


def test_all_towns_brief_has_a_comparison_page(bundled_atlas, tmp_path):
    brief = build_brief(bundled_atlas, Filter(), towns="all", lang="en", generated=WHEN)
    path = write_brief(tmp_path / "all.pdf", brief)
    text = pdftotext(path)
    assert "The five towns side by side" in text
    for row in brief.scorecard.to_json()["towns"]:
        short = row["name_en"].removesuffix(" New Town")
        line = next(x for x in text.splitlines()
                    if re.match(rf"\s*{row['rank']}\s+{short}\s", x))
        cells = line.split()
        assert cells[-1] == fmt_m(row["median_nearest_m"])
        assert cells[-2] == fmt_share(row["covered_share"])
        assert fmt_count(row["inside"]) in cells
    assert 10 <= pages(path) <= 21


def test_cli_json_and_pdf_carry_the_same_numbers(tmp_path, capsys):
    options = ["--as-of", "2023", "--since", "2019", "--radius-m", "2500"]
    assert newtown(["scorecard", "--json", *options]) == 0
    doc = json.loads(capsys.readouterr().out)
    out = tmp_path / "jd.pdf"
    assert newtown(["brief", "--town", "嘉定新城", "--lang", "zh", "-o", str(out),
                    *options]) == 0
    text = pdftotext(out)
    jiading = next(r for r in doc["towns"] if r["key"] == "jiading")
    for name, value in expected_figures(jiading, "zh").items():
        assert value_after(text, name) == value, name
    assert value_after(text, label("undated_not_shown", "zh")) == fmt_count(
        jiading["undated_not_shown"])
    assert "截至 2023 年" in text and "asof=" not in text


def test_cli_brief_bad_input(tmp_path, capsys):
    assert newtown(["brief", "--town", "nowhere", "-o", str(tmp_path / "x.pdf")]) == 2
    assert "unknown town" in capsys.readouterr().err
    assert newtown(["brief", "--town", "qingpu", "-o", str(tmp_path / "x.txt")]) == 2
    assert ".pdf" in capsys.readouterr().err
    assert not (tmp_path / "x.pdf").exists()


def test_one_computation_scorecard_cached(bundled_atlas):
    params = ScorecardParams(radius_m=2000)
    first = run_scorecard(bundled_atlas, Filter(), params)
    brief = build_brief(bundled_atlas, Filter(), towns="nanhui", params=params, generated=WHEN)
    assert brief.scorecard.to_json()["towns"] == first.to_json()["towns"]


def test_the_parameters_line_speaks_the_brief_language(bundled_atlas):
    params = ScorecardParams(radius_m=2500, since=2019)
    zh = build_brief(bundled_atlas, Filter(), towns="fengxian", lang="zh", params=params,
                     generated=WHEN).html
    line = next(x for x in zh.splitlines() if "参数" in x and "2500" in x)
    for english in ("radius:", "grid:", "since:"):
        assert english not in line
    assert "服务半径 2500 m" in line and "2019" in line
    en = build_brief(bundled_atlas, Filter(), towns="fengxian", lang="en", params=params,
                     generated=WHEN).html
    assert "radius: 2500 m; grid: 250 m; since: 2019" in en


def test_the_change_table_names_the_as_of_year_and_never_runs_backwards(bundled_atlas):
    """With --as-of 2023 the 'now' column is 2023, not 'Now'; a compare year after the as-of
    year gives a note, not a negative change."""
    html = build_brief(bundled_atlas, Filter(as_of=2023), towns="jiading", lang="en",
                       params=ScorecardParams(since=2019), generated=WHEN).html
    assert "<th>In 2019</th><th>In 2023</th>" in html
    html = build_brief(bundled_atlas, Filter(as_of=2015), towns="jiading", lang="en",
                       params=ScorecardParams(since=2020), generated=WHEN).html
    assert "the compare year 2020 is after the as-of year 2015" in html
    assert "<th>In 2020</th>" not in html
    html = build_brief(bundled_atlas, Filter(), towns="jiading", lang="en",
                       params=ScorecardParams(since=2020), generated=WHEN).html
    assert ("<th>In 2020</th><th>Now (dated)</th><th>Change</th>"
            "<th>Undated (not in the change)</th>") in html


@pytest.mark.parametrize("value, lang, want", [
    (950000, "zh", "95 万"), (950000, "en", "950,000"), (953400, "zh", "95.34 万"),
    (1200000, "en", "1,200,000"), (8000, "zh", "8000"), (None, "zh", "—"), (None, "en", "—")])
def test_fmt_population_per_language(value, lang, want):
    from geo.brief.text import fmt_population

    assert fmt_population(value, lang) == want


@pytest.mark.parametrize("lang, want", [("zh", "95 万"), ("en", "950,000")])
def test_brief_prints_planned_population_with_thousands(bundled_atlas, lang, want):
    brief_html = build_brief(bundled_atlas, Filter(), towns="songjiang", lang=lang,
                             params=ScorecardParams(), generated=WHEN).html
    row = re.search(rf"<td>{re.escape(label('planned_population', lang))}</td><td>([^<]*)</td>",
                    brief_html)
    assert row is not None and row.group(1).strip() == want
    assert "950000" not in brief_html


@pytest.mark.parametrize("lang, want", [
    ("zh", "截至 1900 年; 产业: 未来空间"), ("en", "as of 1900; industry: Future space")])
def test_brief_filter_line_in_the_brief_language(lang, want):
    from geo.brief import filter_text

    flt = Filter.from_params({"asof": "1900", "industry": "future_space"})
    assert filter_text(flt, lang) == want
    both = Filter.from_params({"town": "songjiang,jiading", "membership": "inside"})
    text = filter_text(both, lang)
    names = ("嘉定新城", "松江新城") if lang == "zh" else ("Jiading New Town", "Songjiang New Town")
    assert all(n in text for n in names)
    assert "town=" not in text and "membership=" not in text
    assert filter_text(Filter(), lang) == label("no_filter", lang)
