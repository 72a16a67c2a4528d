"""The Summary tab: a town x industry heat-table, and the chart one click away."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from dashboard import ids
from dashboard.components import aria
from dashboard.i18n import t
from geo import catalog


def short_town(key: str, lang: str) -> str:
    """A town's name without "New Town": short enough for a table column."""
    return catalog.TOWNS[key].label(lang).replace("新城", "").replace(" New Town", "")


def _heat(value: int, top: int) -> dict[str, str]:
    """Cell shading: darker for more facilities (the primary colour at up to 55 % opacity)."""
    if value <= 0 or top <= 0:
        return {}
    alpha = 0.08 + 0.47 * value / top
    return {"background": f"rgba(18, 53, 91, {alpha:.2f})",
            **({"color": "#fff"} if alpha > 0.35 else {})}


def _cells(counts: pd.DataFrame) -> Callable[[str, str], int]:
    """Integer lookup ``cell(town, column)`` into a counts table."""
    table: dict[str, dict[str, int]] = {
        str(column): {str(town): int(value) for town, value in series.items()}
        for column, series in counts.astype("int64").items()}
    return lambda town, column: table[column][town]


def summary_table(counts: pd.DataFrame, lang: str,
                  members: pd.DataFrame | None = None) -> html.Table:
    """Industry layers (rows, names on one line) x towns (short columns), cells shaded by count.

    Town headers carry a zoom button. ``members`` (``geo.atlas.membership_counts`` of the
    same selection) adds the total split into inside / associated / placeholder, so the
    table says what its town totals count.
    """
    towns = [str(k) for k in counts.index]
    cell = _cells(counts)
    head = html.Tr([html.Th(t("industry", lang), scope="col")] + [
        html.Th(html.Button(short_town(k, lang), id={"type": ids.ZOOM_TOWN, "town": k},
                            className="zoom-btn", title=t("zoom_to", lang),
                            **aria(label=f"{t('zoom_to', lang)} "
                                         f"{catalog.TOWNS[k].label(lang)}")),
                scope="col")
        for k in towns
    ])
    rows = []
    layers = [layer for layer in catalog.INDUSTRY_LAYERS if any(cell(k, layer) for k in towns)]
    top = max((cell(k, layer) for k in towns for layer in layers), default=0)
    for layer in layers:
        values = [cell(k, layer) for k in towns]
        term = catalog.INDUSTRIES[layer]
        rows.append(html.Tr([html.Th([html.Span(className="swatch",
                                                style={"background": term.colour}),
                                      term.label(lang)], scope="row"),
                             *[html.Td(v or "·", style=_heat(v, top)) for v in values]]))
    rows.append(html.Tr([html.Th(t("total", lang), scope="row"),
                         *[html.Td(html.B(cell(k, "total"))) for k in towns]],
                        className="total-row"))
    if members is not None:
        for kind, term in catalog.MEMBERSHIPS.items():
            rows.append(html.Tr([html.Th(f"└ {term.label(lang)}", scope="row"),
                                 *[html.Td(int(members[kind].loc[k])) for k in towns]],
                                className=f"membership-row membership-{kind}"))
    return html.Table([html.Thead(head), html.Tbody(rows)], className="summary-table heat")


def summary_figure(counts: pd.DataFrame, lang: str) -> go.Figure:
    """Stacked bars per town, one colour per industry layer; a bar's town is its customdata."""
    towns = [str(k) for k in counts.index]
    cell = _cells(counts)
    labels = [catalog.TOWNS[k].label(lang) for k in towns]
    fig = go.Figure()
    for layer in catalog.INDUSTRY_LAYERS:
        values = [cell(k, layer) for k in towns]
        if not any(values):
            continue
        term = catalog.INDUSTRIES[layer]
        fig.add_bar(x=labels, y=values, name=term.label(lang), marker_color=term.colour,
                    customdata=towns, hovertemplate="%{x}: %{y}<extra>" + term.label(lang)
                    + "</extra>")
    fig.update_layout(barmode="stack", margin={"l": 30, "r": 10, "t": 10, "b": 30},
                      showlegend=False, yaxis_title=t("count", lang),
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      font={"family": "Noto Sans CJK SC, PingFang SC, sans-serif"})
    return fig


def summary_chart(figure: dict[str, Any]) -> dcc.Graph:
    """The chart (plotly.js is fetched only now, so the first load stays small)."""
    return dcc.Graph(id=ids.SUMMARY_CHART, figure=figure, style={"height": "320px"},
                     config={"displayModeBar": False})


def summary_panel(lang: str) -> html.Div:
    """The Summary tab's body; the table and the chart are filled by callbacks."""
    return html.Div([
        html.Div(t("summary_caption", lang), className="nt-note"),
        html.Button(t("show_chart", lang), id=ids.SUMMARY_TOGGLE, className="nt-btn"),
        dcc.Loading(html.Div(id=ids.SUMMARY_HOLDER), type="dot"),
        dcc.Loading(html.Div(id=ids.SUMMARY_TABLE), type="dot"),
        html.Div(t("summary_heat", lang), className="nt-note"),
        dcc.Store(id=ids.SUMMARY_FIGURE),
    ])
