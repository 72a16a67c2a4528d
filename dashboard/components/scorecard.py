"""The Scorecard tab's controls and the Brief (PDF) button (results: callbacks.scorecard)."""

from __future__ import annotations

from dash import dcc, html

from dashboard import ids
from dashboard.i18n import t
from geo import catalog


def scorecard_panel(lang: str) -> html.Div:
    """The Scorecard tab: radius, since and as-of years with Update, the growth chart and the
    table (shown at once for the current filter), and the brief download."""
    towns = [{"label": t("brief_all", lang), "value": "all"}] + [
        {"label": term.label(lang), "value": key} for key, term in catalog.TOWNS.items()]
    return html.Div([
        # The controls first: the chart and the table below follow them, the filter and the
        # as-of year without a click (Update applies a new radius or comparison year).
        html.Div([
            html.Label([t("sc_radius", lang),
                        dcc.Input(id=ids.SC_RADIUS, type="number", min=50, max=30000, step=50,
                                  className="nt-num")]),
            html.Label([t("sc_since", lang),
                        # blank by default, as `newtown scorecard` without --since: no
                        # comparison unless asked (one default on every face)
                        dcc.Input(id=ids.SC_SINCE, type="number", min=1950, max=2100, step=1,
                                  placeholder=t("sc_since_hint", lang), className="nt-num")]),
            html.Label([t("sc_as_of", lang),
                        dcc.Input(id=ids.SC_AS_OF, type="number", min=1950, max=2100, step=1,
                                  className="nt-num")]),
            html.Button(t("sc_update", lang), id=ids.SC_RUN, className="nt-btn nt-primary"),
        ], className="nt-params nt-sc-controls"),
        html.Figure([html.Figcaption(t("sc_growth", lang), className="nt-note"),
                     dcc.Loading(html.Div(id=ids.SC_GROWTH), type="dot")],
                    className="nt-growth"),
        dcc.Loading(html.Div(id=ids.SC_RESULTS), type="dot"),
        html.Div([
            html.Label([t("sc_town", lang),
                        dcc.Dropdown(id=ids.BRIEF_TOWN, options=towns, value=None,
                                     clearable=True, placeholder=t("brief_current", lang),
                                     className="nt-inline-dd")]),
            html.Button(t("brief_button", lang), id=ids.BRIEF_BUTTON, className="nt-btn"),
        ], className="nt-params"),
        dcc.Loading(html.Div(id=ids.BRIEF_STATUS), type="dot"),
        dcc.Download(id=ids.BRIEF_DOWNLOAD),
    ])
