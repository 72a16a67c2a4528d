"""The PDF brief: a town's (or all five towns') scorecard, maps and charts for a committee paper.

Built as HTML + CSS from one Jinja template (autoescaped: text from data is escaped) and
rendered by WeasyPrint to A4 PDF, with the Chinese text in the embedded Noto CJK font and
the maps and charts as SVG (vector, text kept as text). Every number comes from one
:func:`geo.analysis.scorecard.run_scorecard` result, the same one ``newtown scorecard
--json`` prints.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from geo import catalog
from geo._errors import InputError
from geo._io import atomic_write
from geo.analysis.clusters import ClusterParams, area_text, run_clusters
from geo.analysis.scorecard import (
    HOW,
    STRATEGY_YEAR,
    ScorecardParams,
    ScorecardResult,
    run_scorecard,
)
from geo.brief.charts import FONT_FAMILY, coverage_map_svg, growth_chart_svg, town_map_svg
from geo.brief.text import (
    fmt_count,
    fmt_km2,
    fmt_m,
    fmt_population,
    fmt_ratio,
    fmt_share,
    label,
)
from geo.settings import CLUSTER_EPS_M, CLUSTER_MIN_SAMPLES

if TYPE_CHECKING:
    from geo.atlas import Atlas
    from geo.query import Filter

__all__ = ["CLUSTER_EPS_M", "CLUSTER_MIN_SAMPLES", "Brief", "build_brief", "write_brief"]
_TEMPLATES = Path(__file__).parent / "templates"
_HOW_NAMES = {"counts": "inside", "breakdown": "by_layer", "distinct_sites": "distinct_sites",
              "density": "density", "per_100k": "per_100k", "covered_share": "covered_share",
              "median_nearest_m": "median_nearest", "g60_share": "g60_share",
              "since": "change", "growth": "growth"}


@dataclass(frozen=True)
class Brief:
    """A rendered brief: the PDF bytes, the HTML it came from and the scorecard behind it."""

    pdf: bytes
    html: str
    scorecard: ScorecardResult


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


#: The vocabulary behind each list field of a Filter, for display names.
_FILTER_VOCABULARIES: dict[str, Any] = {
    "towns": catalog.TOWNS, "memberships": catalog.MEMBERSHIPS,
    "industries": catalog.INDUSTRIES, "categories": catalog.CATEGORIES,
    "levels": catalog.LEVELS, "statuses": catalog.STATUSES,
}


def filter_text(flt: Filter, lang: str) -> str:
    """The filter in the brief's language with display names (``as of 1900; industry: ...``)."""
    parts: list[str] = []
    if flt.as_of is not None:
        parts.append(label("filter_asof", lang, year=flt.as_of))
    sep = "、" if lang == "zh" else ", "
    for name, vocab in _FILTER_VOCABULARIES.items():
        keys = getattr(flt, name)
        if keys:
            names = sep.join(vocab[k].label(lang) if k in vocab else str(k) for k in keys)
            parts.append(f"{label('filter_' + name, lang)}: {names}")
    if flt.text:
        parts.append(f"{label('filter_text', lang)}: {flt.text}")
    if flt.within is not None:
        parts.append(label("filter_within", lang))
    return "; ".join(parts) if parts else label("no_filter", lang)


def _params_text(params: ScorecardParams, lang: str) -> str:
    radius = (f"{params.radius_m:g} m" if params.radius_m is not None
              else label("radius_default", lang))
    parts = [f"{label('param_radius', lang)}{radius}",
             f"{label('param_grid', lang)}{params.grid_m:g} m"]
    if params.since is not None:
        parts.append(f"{label('param_since', lang)}{params.since}")
    return "; ".join(parts)


def _town_name(key: str, lang: str) -> str:
    term = catalog.TOWNS[key]
    return term.zh if lang == "zh" else term.en


def _short_name(key: str, lang: str) -> str:
    term = catalog.TOWNS[key]
    return term.zh if lang == "zh" else term.en.removesuffix(" New Town")


def _figures(row: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    figures = [
        (label("rank", lang), fmt_count(row["rank"])),
        (label("inside", lang), fmt_count(row["inside"])),
        (label("associated", lang), fmt_count(row["associated"])),
        (label("placeholder", lang), fmt_count(row["placeholder"])),
        (label("total", lang), fmt_count(row["total"])),
        (label("distinct_sites", lang), fmt_count(row["distinct_sites"])),
        (label("area_km2", lang), fmt_km2(row["area_km2"])),
        (label("density", lang), fmt_ratio(row["density_inside_per_10km2"])),
        (label("planned_population", lang), fmt_population(row["planned_population"], lang)),
        *([(label("planned_population_year", lang), str(row["planned_population_year"]))]
          if row["planned_population_year"] is not None else []),
        (label("per_100k", lang), fmt_ratio(row["per_100k_planned"])),
        (label("covered_share", lang), fmt_share(row["covered_share"])),
        (label("median_nearest", lang), fmt_m(row["median_nearest_m"])),
    ]
    if row["key"] == "songjiang":
        figures.append((label("g60_share", lang), fmt_share(row["g60_share"])))
    if row["undated_not_shown"]:
        figures.append((label("undated_not_shown", lang), fmt_count(row["undated_not_shown"])))
    return figures


def _breakdowns(row: dict[str, Any], lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    def named(vocab: Any, counts: dict[str, int]) -> list[tuple[str, str]]:
        return [(vocab[k].zh if lang == "zh" else vocab[k].en, fmt_count(v))
                for k, v in counts.items()]

    return [(label("by_level", lang), named(catalog.LEVELS, row["by_level"])),
            (label("by_category", lang), named(catalog.CATEGORIES, row["by_category"])),
            (label("by_layer", lang), named(catalog.INDUSTRIES, row["by_layer"]))]


#: The brief's cluster summary: ``newtown clusters``' defaults (geo.settings), one town.
BRIEF_CLUSTERS = ClusterParams(eps_m=CLUSTER_EPS_M, min_samples=CLUSTER_MIN_SAMPLES)


def _clusters(atlas: Atlas, flt: Filter, key: str, lang: str) -> list[dict[str, str]]:
    """The cluster summary of one town's selected sites: ``newtown clusters --town KEY``
    with the same filter and defaults (placeholders left out), formatted for the page."""
    result = run_clusters(atlas, replace(flt, towns=(key,)), BRIEF_CLUSTERS)
    sep = "、" if lang == "zh" else ", "
    return [{"id": str(int(cid) + 1), "size": str(int(row["size"])),
             "points": str(int(row["locations"])),
             "layers": sep.join(catalog.INDUSTRIES[k].label(lang) for k in
                                str(row["dominant_layers"]).split(";") if k),
             "area": area_text(row["area_m2"], row["shape"], int(row["locations"]), lang)}
            for cid, row in result.hulls.iterrows()]


def build_brief(atlas: Atlas, flt: Filter, *, towns: str | list[str] = "all", lang: str = "zh",
                params: ScorecardParams | None = None,
                generated: datetime | None = None) -> Brief:
    """Render the brief of ``towns`` (a key, a list of keys, or ``"all"``) as A4 PDF.

    Parameters
    ----------
    atlas, flt
        The data and the shared filter (its ``as_of`` sets the year of the brief).
    towns : str or list of str
        Town keys or names; ``"all"`` gives the five towns plus a comparison page.
    lang : {"zh", "en"}
        The language of the wording (names from the data keep their language).
    params : ScorecardParams
        Radius (metres), grid spacing (metres) and ``since`` year of the scorecard.
    generated : datetime, optional
        The date printed on the brief (default: now, UTC).

    Returns
    -------
    Brief
        The PDF bytes, the HTML and the scorecard whose numbers the brief prints.
    """
    if lang not in ("zh", "en"):
        raise InputError(f"lang must be 'zh' or 'en', got {lang!r}")
    everything = towns == "all" or towns == ["all"]
    keys = list(catalog.TOWNS) if everything else [
        catalog.TOWN_NAMES.resolve(t) for t in ([towns] if isinstance(towns, str) else towns)]
    if flt.towns and any(k not in flt.towns for k in keys):
        raise InputError(f"the filter keeps only {', '.join(flt.towns)}: a brief of "
                         f"{', '.join(keys)} would be empty by construction; drop the town "
                         "filter or brief one of those towns")
    params = params or ScorecardParams()
    # One computation: the scorecard of the filter (all five towns ranked unless the filter
    # names towns), exactly what `newtown scorecard --json` prints for the same options.
    result = run_scorecard(atlas, flt, params)
    doc = result.to_json()
    html = _html(atlas, flt, result, doc, keys, lang, params, everything,
                 generated or datetime.now(UTC))
    from weasyprint import HTML

    pdf = HTML(string=html, base_url=str(_TEMPLATES)).write_pdf()
    assert pdf is not None
    return Brief(pdf=pdf, html=html, scorecard=result)


def write_brief(path: str | Path, brief: Brief) -> Path:
    """Write the PDF to ``path`` atomically (temp file + rename); return the path."""
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        handle.write(brief.pdf)
    return path


def _html(atlas: Atlas, flt: Filter, result: ScorecardResult, doc: dict[str, Any],
          keys: list[str], lang: str, params: ScorecardParams, everything: bool,
          generated: datetime) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(str(_TEMPLATES)),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    selected = flt.select(atlas.facilities)
    empty = len(selected) == 0
    facilities_m = atlas.facilities_m.loc[selected.index].assign(
        layers=selected["layers"], membership=selected["membership"])
    growth = doc["growth"]
    undated_total = int(flt.undated_mask(atlas.facilities).sum())
    caveats = [label("caveat_boundary", lang), label("caveat_placeholders", lang)]
    if flt.as_of is not None:
        caveats.append(label("caveat_asof", lang, year=flt.as_of, n=undated_total))
    if result.excluded_placeholders:
        caveats.append(label("excluded", lang, ids=", ".join(result.excluded_placeholders)))
    how = [(label(_HOW_NAMES[k], lang), v[lang]) for k, v in HOW.items()]
    sources = [(name, entry["sha256"]) for name, entry in doc["sources"]["files"].items()]
    covered = result.covered.set_index("key").geometry
    towns_m = atlas.towns_m.set_index("key").geometry
    pages = []
    growth_svgs: dict[str, str] = {}
    rows = {r["key"]: r for r in doc["towns"]}
    for key in keys:
        if key not in rows:
            continue
        row = rows[key]
        town_geom = towns_m[key]
        mine = facilities_m.loc[selected["town"] == key]
        near = facilities_m.loc[facilities_m["membership"] != "placeholder"]
        boundary_label = ("新城边界（近似）" if lang == "zh" else "town boundary (approximate)")
        series = {k: growth["towns"][k]["cumulative"] for k in growth["towns"]}
        growth_svgs[key] = _data_uri(growth_chart_svg(
            growth["years"], series, strategy_year=STRATEGY_YEAR,
            strategy_label=label("strategy", lang), lang=lang, highlight=key))
        since = None
        if "since" in row:
            s = row["since"]
            as_of = flt.as_of
            since = {"heading": label("since", lang, year=s["year"]),
                     "then_label": label("then", lang, year=s["year"]),
                     # the "now" of an as-of view is its year
                     "now_label": label("now_dated", lang) if as_of is None
                     else label("then", lang, year=as_of),
                     # a later compare year than the as-of year would read as a loss
                     "note": label("since_after_as_of", lang, year=s["year"], as_of=as_of)
                     if as_of is not None and s["year"] > as_of else None,
                     "undated_label": label("since_undated", lang),
                     "then": fmt_count(s["then"]), "now": fmt_count(s["now"]),
                     "change": f"{s['change']:+d}", "undated": fmt_count(s["undated"])}
        pages.append({
            "key": key,
            "title": label("title", lang, town=_town_name(key, lang)),
            "map_svg": _data_uri(town_map_svg(town_geom, mine, boundary_label=boundary_label,
                                              lang=lang)),
            "figures": _figures(row, lang),
            "population_source": row["planned_population_source"],
            "breakdowns": _breakdowns(row, lang),
            "growth_note": label("growth_undated", lang, n=growth["towns"][key]["undated"]),
            "since": since,
            "coverage_svg": _data_uri(coverage_map_svg(town_geom, covered.get(key),
                                                       _clip(near, town_geom))),
            "coverage_rows": [(label("area_km2", lang), fmt_km2(row["area_km2"])),
                              (label("covered_share", lang), fmt_share(row["covered_share"])),
                              (label("median_nearest", lang), fmt_m(row["median_nearest_m"]))],
            "clusters_heading": label("clusters", lang, eps=f"{BRIEF_CLUSTERS.eps_m:g}",
                                      min=BRIEF_CLUSTERS.min_samples),
            "clusters": _clusters(atlas, flt, key, lang),
            # the filter keeps nothing in this town although it may elsewhere: say so here,
            # as the brief of an empty selection does
            "empty": not empty and len(mine) == 0,
            "empty_text": label("empty_town", lang, town=_town_name(key, lang),
                                n=len(selected)),
        })
    comparison = None
    growth_all = ""
    if everything:
        head = label("comparison_head", lang).split("|")
        comparison = {"head": head, "rows": [[
            fmt_count(r["rank"]), _short_name(r["key"], lang), fmt_count(r["inside"]),
            fmt_count(r["associated"]), fmt_count(r["placeholder"]), fmt_count(r["total"]),
            fmt_count(r["distinct_sites"]), fmt_ratio(r["density_inside_per_10km2"]),
            fmt_ratio(r["per_100k_planned"]), fmt_share(r["covered_share"]),
            fmt_m(r["median_nearest_m"])] for r in doc["towns"]],
            "g60": f"{label('g60_share', lang)}: {fmt_share(doc['g60']['share'])}"}
        growth_all = _data_uri(growth_chart_svg(
            growth["years"], {k: growth["towns"][k]["cumulative"] for k in growth["towns"]},
            strategy_year=STRATEGY_YEAR, strategy_label=label("strategy", lang), lang=lang))
    title = label("title_all", lang) if everything else pages[0]["title"] if pages else ""
    revision = str(doc["sources"]["revision"])
    footer = re.sub(r'["\\\n]', " ", f"{title} · {label('revision', lang)} {revision}")
    from markupsafe import Markup

    # Our own constants for the stylesheet (escaping would break CSS quotes); the footer
    # is built from catalog names and a hex digest, with quotes and backslashes removed.
    font_css = Markup(", ".join(f"'{f}'" if " " in f else f for f in FONT_FAMILY))
    footer = Markup(footer)
    template = env.get_template("brief.html.j2")
    return template.render(
        lang=lang, title=title, footer=footer, font_css=font_css,
        L={k: label(k, lang) for k in ("generated", "revision", "filter", "parameters",
                                       "empty", "map", "map_note", "scorecard", "figure",
                                       "value", "planned_population", "population_source",
                                       "no_population", "by_level", "by_category",
                                       "by_layer", "growth", "now", "change", "coverage",
                                       "coverage_note", "no_clusters", "cluster", "size",
                                       "layers", "hull_km2", "points", "caveats", "how",
                                       "sources",
                                       "comparison")},
        generated=generated.strftime("%Y-%m-%d %H:%M UTC"), revision=revision,
        filter_text=filter_text(flt, lang), params_text=_params_text(params, lang),
        empty=empty, towns=pages, growth_svg_for=growth_svgs, comparison=comparison,
        growth_svg_all=growth_all, caveats=caveats, how=how, sources=sources)


def _clip(points_m: gpd.GeoDataFrame, town_m: Any, pad_m: float = 6000.0) -> gpd.GeoDataFrame:
    """The points near a town (its bounds plus ``pad_m``), to draw on its coverage map."""
    x0, y0, x1, y1 = town_m.bounds
    x, y = points_m.geometry.x, points_m.geometry.y
    keep = pd.Series((x >= x0 - pad_m) & (x <= x1 + pad_m) & (y >= y0 - pad_m)
                     & (y <= y1 + pad_m), index=points_m.index)
    return points_m.loc[keep]
