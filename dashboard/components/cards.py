"""The indicator strip over the map: headline figures of the current selection."""

from __future__ import annotations

from dash import html

from dashboard import ids
from dashboard.components import aria
from dashboard.i18n import t
from geo import catalog
from geo.indicators import MEMBERSHIPS, Indicators


def _card(key: str, value: str, note: str, *, name: str) -> html.Div:
    return html.Div([html.Div(value, className="nt-card-value"),
                     html.Div(name, className="nt-card-name"),
                     html.Div(note, className="nt-card-note")],
                    className="nt-card", id=f"card-{key}", role="group",
                    **aria(label=f"{name}: {value} {note}".strip()))


def indicator_cards(figures: Indicators, lang: str) -> list[html.Div]:
    """One card per figure; membership cards only when the data says membership."""
    note = t("card_of", lang, total=f"{figures.total:,}")
    if figures.undated:
        note += " · " + t("undated_note", lang, n=figures.undated)
    cards = [_card("selected", f"{figures.selected:,}", note, name=t("card_selected", lang))]
    if figures.memberships is not None:
        cards += [_card(m, f"{figures.memberships[m]:,}", "",
                        name=catalog.MEMBERSHIPS[m].label(lang)) for m in MEMBERSHIPS]
    cards += [
        _card("national", f"{figures.national:,}", "", name=t("card_national", lang)),
        _card("layers", str(len(figures.layers_present)),
              t("card_layers_of", lang, total=figures.layers_total),
              name=t("card_layers", lang)),
        _card("coverage",
              "—" if figures.coverage_share is None else f"{figures.coverage_share:.1%}",
              t("card_coverage_none" if figures.coverage_share is None
                else "card_coverage_note", lang),
              name=t("card_coverage", lang)),
    ]
    return cards


def cards_strip(lang: str) -> html.Div:
    """The strip's frame; the cards are filled (and kept up to date) by callbacks.cards."""
    return html.Div(id=ids.CARDS, className="nt-cards", role="region",
                    **aria(label=t("cards", lang), live="polite"))
