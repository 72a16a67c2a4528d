"""Scorecard tab: the towns side by side from geo.analysis.scorecard, and the PDF brief download.

Both call the one scorecard computation (the same numbers as ``newtown scorecard --json`` and
``newtown brief`` for the same filter and parameters); the callbacks only format it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard import ids
from dashboard.i18n import t
from dashboard.mapdata import MapData
from dashboard.state import FilterControls, filter_from_controls, filter_inputs, filter_states
from geo import catalog
from geo._errors import AtlasError
from geo.analysis.scorecard import STRATEGY_YEAR, ScorecardParams, ScorecardResult, run_scorecard
from geo.brief import build_brief
from geo.brief.charts import growth_chart_svg
from geo.brief.text import fmt_count, fmt_m, fmt_ratio, fmt_share, label
from geo.query import Filter

__all__ = ["brief_pdf", "growth_view", "params_from_inputs", "register", "scorecard_panel_view",
           "scorecard_view"]

_COLUMNS = ("rank", "town", "inside", "associated", "placeholder", "total", "distinct_sites",
            "density", "per_100k", "covered_share", "median_nearest")


def params_from_inputs(radius: float | None, since: float | None) -> ScorecardParams:
    """ScorecardParams from the panel's inputs (blank radius = each category's default)."""
    return ScorecardParams(radius_m=float(radius) if radius else None,
                           since=int(since) if since else None)


def with_as_of(flt: Filter, as_of: float | None) -> Filter:
    """The filter with the panel's as-of year (blank: no as-of)."""
    return replace(flt, as_of=int(as_of)) if as_of else flt


def _data_town(key: str) -> dict[str, Any]:
    """``data-town`` on a table row (Dash takes ``data-*`` props its signatures cannot name)."""
    return {"data-town": key}


def _params_data(radius_m: float | None, since: int | None) -> dict[str, Any]:
    """``data-radius`` / ``data-since`` on the table: the parameters it was computed with."""
    return {"data-radius": "" if radius_m is None else f"{radius_m:g}",
            "data-since": "" if since is None else str(since)}


def scorecard_view(result: ScorecardResult, lang: str) -> html.Div:
    """The ranked comparison table and the notes (Dash escapes every text)."""
    head = html.Tr([html.Th(label(c, lang)) for c in _COLUMNS])
    rows = [html.Tr([
        html.Td(fmt_count(r["rank"])),
        html.Td(str(r["name_zh"] if lang == "zh" else r["name_en"]),
                style={"whiteSpace": "nowrap"}),
        html.Td(fmt_count(r["inside"])), html.Td(fmt_count(r["associated"])),
        html.Td(fmt_count(r["placeholder"])), html.Td(fmt_count(r["total"])),
        html.Td(fmt_count(r["distinct_sites"])),
        html.Td(fmt_ratio(r["density_inside_per_10km2"])),
        html.Td(fmt_ratio(r["per_100k_planned"])), html.Td(fmt_share(r["covered_share"])),
        html.Td(fmt_m(r["median_nearest_m"]))], **_data_town(str(r["key"])))
        for r in result.towns]
    g60 = result.g60
    notes = [html.Div(t("sc_g60", lang, share=fmt_share(g60["share"]),
                        hits=fmt_count(g60["in_band"]), n=fmt_count(g60["platforms"])))]
    undated = int(result.total["undated_not_shown"])  # type: ignore[call-overload]
    if undated:
        notes.append(html.Div(t("sc_undated", lang, n=undated)))
    if result.excluded_placeholders:
        notes.append(html.Div(t("sc_excluded", lang, n=len(result.excluded_placeholders))))
    since = [r for r in result.towns if "since" in r]
    as_of = result.filter.as_of
    if since and as_of is not None and since[0]["since"]["year"] > as_of:
        # a change from a later year to an earlier one would read as a loss
        notes.append(html.Div(label("since_after_as_of", lang,
                                    year=since[0]["since"]["year"], as_of=as_of)))
    elif since:
        year = since[0]["since"]["year"]
        # dated facilities only (like with like); the undated ones said apart, never as new
        notes.append(html.Div(label("since", lang, year=year) + ": " + ", ".join(
            f"{r['name_zh'] if lang == 'zh' else r['name_en']} "
            f"{r['since']['change']:+d} ({label('since_undated', lang)} "
            f"{fmt_count(r['since']['undated'])})" for r in since), id="sc-since-note"))
    # the bordered style of the summary table; wider than the drawer, it scrolls in its holder
    params = result.params
    table = html.Table([html.Thead(head), html.Tbody(rows)], className="nt-table summary-table",
                       id="sc-table", **_params_data(params.radius_m, params.since))
    return html.Div([html.Div(table, style={"overflowX": "auto", "maxWidth": "100%"}),
                     html.Div(notes, className="nt-notes")])


def highlight_town(flt: Filter, town: str | None) -> str | None:
    """The town the growth chart draws bold: the brief's town if one is chosen, else the
    filter's one town, else none (the five alike)."""
    if town and town in catalog.TOWNS:
        return town
    return flt.towns[0] if len(flt.towns) == 1 else None


def growth_view(result: ScorecardResult, lang: str, highlight: str | None) -> html.Div:
    """The scorecard's growth series as the brief's chart: an SVG in an <img> (a base64 data
    URI, so no text of the SVG reaches the page's HTML) with the numbers as ``data-*``
    attributes and in the alt text, and the undated facilities said apart."""
    growth = result.growth
    years = [int(y) for y in growth["years"]]  # type: ignore[attr-defined]
    towns: dict[str, Any] = dict(growth["towns"])  # type: ignore[call-overload]
    series = {k: [int(v) for v in towns[k]["cumulative"]] for k in towns}
    undated = {k: int(towns[k]["undated"]) for k in towns}

    def name(key: str) -> str:
        term = catalog.TOWNS[key]
        return term.zh if lang == "zh" else term.en.removesuffix(" New Town")

    undated_text = t("sc_growth_undated", lang, towns=", ".join(
        f"{name(k)} {fmt_count(n)}" for k, n in undated.items()))
    numbers: dict[str, Any] = {"data-years": json.dumps(years),
               "data-series": json.dumps(series),
               "data-undated": json.dumps(undated),
               "data-strategy-year": str(STRATEGY_YEAR),
               "data-as-of": "" if result.filter.as_of is None else str(result.filter.as_of),
               "data-highlight": highlight or ""}
    if not years:
        return html.Div([html.Div(t("sc_growth_empty", lang), className="nt-note"),
                         html.Div(undated_text, className="nt-note")],
                        id="sc-growth-chart", **numbers)
    svg = growth_chart_svg(years, series, strategy_year=STRATEGY_YEAR,
                           strategy_label=label("strategy", lang), lang=lang,
                           highlight=highlight)
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
    alt = t("sc_growth_alt", lang, first=years[0], last=years[-1], towns=", ".join(
        f"{name(k)} {fmt_count(v[-1])}" for k, v in series.items()))
    return html.Div([html.Img(src=uri, alt=alt, title=alt, id="sc-growth-chart",
                              className="nt-growth-img", **numbers),
                     html.Div(undated_text, className="nt-note", id="sc-growth-undated")])


def brief_pdf(mapdata: MapData, flt: Filter, town: str | None, params: ScorecardParams,
              lang: str) -> tuple[str, bytes]:
    """The brief's file name and PDF bytes for the current filter, town and parameters.

    No town chosen: the filter's town when it names exactly one, else all five.
    """
    if not town:
        town = flt.towns[0] if len(flt.towns) == 1 else "all"
    brief = build_brief(mapdata.atlas, flt, towns=town, lang=lang, params=params)
    year = f"-asof{flt.as_of}" if flt.as_of is not None else ""
    return f"newtown-brief-{town}{year}.pdf", brief.pdf


def scorecard_panel_view(mapdata: MapData, flt: Filter, params: ScorecardParams,
                         lang: str, town: str | None) -> tuple[Any, Any]:
    """The growth chart and the table of the Scorecard tab, from ONE scorecard computation
    (``run_scorecard``, cached) for the filter and parameters."""
    try:
        result = run_scorecard(mapdata.atlas, flt, params)
    except AtlasError as exc:
        return html.Div(str(exc), className="warn"), None
    return growth_view(result, lang, highlight_town(flt, town)), scorecard_view(result, lang)


def register(app: Dash, mapdata: MapData) -> None:
    @app.callback(
        output=[Output(ids.SC_GROWTH, "children"), Output(ids.SC_RESULTS, "children")],
        inputs={"controls": filter_inputs(), "as_of": Input(ids.SC_AS_OF, "value"),
                "town": Input(ids.BRIEF_TOWN, "value"), "ui": Input(ids.UI, "data"),
                "_n": Input(ids.SC_RUN, "n_clicks")},
        state={"radius": State(ids.SC_RADIUS, "value"), "since": State(ids.SC_SINCE, "value"),
               "lang": State(ids.PAGE_LANG, "data")},
    )
    def show_scorecard(controls: FilterControls, as_of: float | None, town: str | None,
                       ui: dict[str, Any] | None, _n: int | None, radius: float | None,
                       since: float | None, lang: str | None) -> tuple[Any, Any]:
        # Drawn only while the Scorecard tab is open; opening it draws the current state.
        if not ui or ui.get("tab") != "scorecard":
            return no_update, no_update
        return scorecard_panel_view(mapdata, with_as_of(filter_from_controls(controls), as_of),
                                    params_from_inputs(radius, since), lang or "zh", town)

    @app.callback(
        output=[Output(ids.BRIEF_DOWNLOAD, "data"), Output(ids.BRIEF_STATUS, "children")],
        inputs={"_n": Input(ids.BRIEF_BUTTON, "n_clicks")},
        state={"controls": filter_states(), "town": State(ids.BRIEF_TOWN, "value"),
               "radius": State(ids.SC_RADIUS, "value"), "since": State(ids.SC_SINCE, "value"),
               "as_of": State(ids.SC_AS_OF, "value"), "lang": State(ids.PAGE_LANG, "data")},
        prevent_initial_call=True,
    )
    def download_brief(_n: int | None, controls: FilterControls, town: str | None,
                       radius: float | None, since: float | None, as_of: float | None,
                       lang: str | None) -> tuple[Any, html.Div]:
        lang = lang or "zh"
        try:
            flt = with_as_of(filter_from_controls(controls), as_of)
            name, data = brief_pdf(mapdata, flt, town,
                                   params_from_inputs(radius, since), lang)
        except AtlasError as exc:
            return no_update, html.Div(str(exc), className="warn")
        # Dash ships dcc.send_bytes unannotated and outside dcc's __all__.
        payload = dcc.send_bytes(data, name)  # type: ignore[attr-defined,no-untyped-call]
        return payload, html.Div(t("brief_done", lang, name=name))
