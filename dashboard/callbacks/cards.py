"""Indicator cards: the headline figures of the current selection, kept up to date."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, html

from dashboard import ids
from dashboard.components.cards import indicator_cards
from dashboard.mapdata import MapData
from dashboard.state import FilterControls, filter_from_controls, filter_states
from geo.indicators import selection_indicators
from geo.query import Filter


def cards_for(mapdata: MapData, flt: Filter, coverage: dict[str, Any] | None,
              lang: str) -> list[html.Div]:
    """The cards for a filter and the last coverage run (a COV_STORE result, or None)."""
    facilities = mapdata.atlas.facilities
    rows = (coverage or {}).get("rows") or []
    if flt.towns:
        # the towns the filter names, as the coverage table's rows for them say
        rows = [r for r in rows if r.get("town") in flt.towns]
    # the table's exact share times the area (the km² in a row are rounded to 0.1)
    figures = selection_indicators(
        facilities, flt.mask(facilities), undated=flt.undated_mask(facilities),
        coverage_km2=[(float(r["share"]) * float(r["area_km2"]), float(r["area_km2"]))
                      for r in rows if r.get("share") is not None] or None)
    return indicator_cards(figures, lang)


def register(app: Dash, mapdata: MapData) -> None:
    # A filter change redraws the cards with the selection (callbacks.filters, in the same
    # request, so the first load makes no extra one); this one follows a coverage run.
    @app.callback(
        output=Output(ids.CARDS, "children", allow_duplicate=True),
        inputs={"coverage": Input(ids.COV_STORE, "data")},
        state={"controls": filter_states(), "lang": State(ids.PAGE_LANG, "data")},
        prevent_initial_call=True,
    )
    def update_cards(coverage: dict[str, Any] | None, controls: FilterControls,
                     lang: str | None) -> list[html.Div]:
        return cards_for(mapdata, filter_from_controls(controls), coverage, lang or "zh")
