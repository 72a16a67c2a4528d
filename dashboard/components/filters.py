"""The filter drawer: town, industry, category, level, status, text, drawn area, basemap, legend."""

from __future__ import annotations

from collections.abc import Mapping

from dash import dcc, html

from dashboard import ids
from dashboard.components import aria
from dashboard.components.map import basemap_options, legend
from dashboard.i18n import t
from dashboard.state import AS_OF_ALL, AS_OF_FIRST
from dashboard.urlstate import PageState
from geo import catalog


def term_options(terms: Mapping[str, catalog.Term], lang: str, *, swatch: bool = False,
                 keys: tuple[str, ...] | None = None) -> list[dict[str, object]]:
    """Dropdown options for catalog terms, searchable in zh, en and by key."""
    out: list[dict[str, object]] = []
    for key in (keys if keys is not None else tuple(terms)):
        term = terms[key]
        name = term.label(lang)
        label: object = name
        if swatch:
            label = html.Span([html.Span(className="swatch", style={"background": term.colour}),
                               name])
        out.append({"label": label, "value": key, "search": f"{term.zh} {term.en} {key}"})
    return out


def _dropdown(component_id: str, label_key: str, options: list[dict[str, object]],
              value: tuple[str, ...], lang: str) -> html.Div:
    label_id = f"{component_id}-label"
    return html.Div([
        html.Label(t(label_key, lang), htmlFor=component_id, className="nt-label", id=label_id),
        dcc.Dropdown(id=component_id, options=options, value=list(value), multi=True,
                     placeholder=t("all", lang)),
    ], className="nt-field", role="group",
        **aria(labelledby=label_id))


def as_of_control(as_of: int | None, lang: str) -> html.Div:
    """A year slider (its last position: all years) with a play button that steps it."""
    # every five years up to the 2021 new-town strategy, which gets its own mark (2020 and
    # 2025 would crowd it and the "all" end)
    marks = {str(y): str(y) for y in range(AS_OF_FIRST, 2020, 5)}
    marks["2021"] = "2021"
    marks[str(AS_OF_ALL)] = t("as_of_all", lang)
    label_id = f"{ids.AS_OF}-label"
    return html.Div([
        html.Label(t("as_of", lang), className="nt-label", id=label_id),
        dcc.Slider(id=ids.AS_OF, min=AS_OF_FIRST, max=AS_OF_ALL, step=1, marks=marks,
                   value=as_of if as_of is not None else AS_OF_ALL, included=True,
                   tooltip={"placement": "bottom"}, updatemode="mouseup"),
        html.Button(t("as_of_play", lang), id=ids.AS_OF_PLAY, className="nt-btn",
                    **aria(label=t("as_of_play", lang))),
        dcc.Interval(id=ids.AS_OF_TICK, interval=900, disabled=True),
    ], className="nt-field", role="group", **aria(labelledby=label_id))


def filters_panel(state: PageState, *, tianditu_key: str | None) -> html.Div:
    """Everything in the filter drawer, with values from the URL state."""
    lang, flt = state.lang, state.filter
    industry_keys = tuple(k for k in catalog.INDUSTRIES if k not in catalog.INDUSTRY_LAYERS)
    return html.Div([
        _dropdown(ids.TOWN, "town", term_options(catalog.TOWNS, lang), flt.towns, lang),
        _dropdown(ids.INDUSTRY, "industry",
                  term_options(catalog.INDUSTRIES, lang, swatch=True,
                               keys=catalog.INDUSTRY_LAYERS)
                  + term_options(catalog.INDUSTRIES, lang, keys=industry_keys),
                  flt.industries, lang),
        _dropdown(ids.CATEGORY, "category", term_options(catalog.CATEGORIES, lang),
                  flt.categories, lang),
        _dropdown(ids.LEVEL, "level", term_options(catalog.LEVELS, lang), flt.levels, lang),
        _dropdown(ids.STATUS, "status", term_options(catalog.STATUSES, lang), flt.statuses,
                  lang),
        _dropdown(ids.MEMBERSHIP, "membership", term_options(catalog.MEMBERSHIPS, lang),
                  flt.memberships, lang),
        as_of_control(flt.as_of, lang),
        html.Label(t("search", lang), htmlFor=ids.SEARCH, className="nt-label"),
        dcc.Input(id=ids.SEARCH, type="search", value=flt.text, debounce=0.4,
                  className="nt-input"),
        html.Div([
            html.Button(t("reset", lang), id=ids.RESET, className="nt-btn"),
            html.Button(t("clear_area", lang), id=ids.CLEAR_AREA, className="nt-btn"),
        ], className="nt-btn-row"),
        dcc.Loading(html.Div(id=ids.COUNT, className="nt-count", role="status"), type="dot"),
        html.Div(t("draw_hint", lang), className="nt-note"),
        html.Div(id=ids.DRAWN_NOTE, className="nt-note warn"),
        dcc.Store(id=ids.DRAWN_AREA, data=flt.to_params().get("within")),
        html.Label(t("basemap", lang), htmlFor=ids.BASEMAP, className="nt-label"),
        dcc.RadioItems(id=ids.BASEMAP, value=state.basemap, className="nt-radio",
                       options=basemap_options(lang, tianditu_key=tianditu_key)),
        legend(lang),
        html.Div(t("boundary_note", lang), className="nt-note"),
        *[html.Div(n, className="nt-note warn") for n in state.notices],
    ], className="nt-drawer-body")
