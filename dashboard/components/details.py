"""Facility details: a popup over the map for the clicked facility, with its provenance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import dcc, html

from dashboard import ids
from dashboard.components import aria
from dashboard.i18n import t
from dashboard.mapdata import MapData
from geo import catalog


def details_popup(lang: str, *, extra: Sequence[Any] = ()) -> html.Div:
    """The popup (hidden until a facility is clicked; its close button hides it again);
    ``extra``: more parts under the details (e.g. a served store's history)."""
    return html.Div([
        html.Div([
            html.H2(t("details", lang), id="details-title"),
            html.Button("×", id=ids.DETAILS_CLOSE, className="nt-close",
                        title=t("close", lang), **aria(label=t("close", lang))),
        ], className="nt-popup-head"),
        dcc.Loading(html.Div(t("details_hint", lang), id=ids.DETAILS), type="dot"),
        *extra,
    ], id=ids.DETAILS_POPUP, className="nt-popup", role="dialog",
        **aria(labelledby="details-title"))


def industries_text(industries: str, lang: str) -> str:
    """A facility's ``;``-separated industry keys as display names (zh joins with 、, en ", ")."""
    names = [catalog.INDUSTRIES[k].label(lang) if k in catalog.INDUSTRIES else k
             for k in industries.split(";") if k]
    return ("、" if lang == "zh" else ", ").join(names)


def details_panel(mapdata: MapData, facility_id: str, lang: str) -> html.Div:
    """All a planner needs to judge one facility, including how sure its position is.

    Text is passed as Dash children (never as raw HTML), so names from data stay text.
    """
    fac = mapdata.atlas.facilities
    if facility_id not in fac.index:
        return html.Div(t("details_hint", lang))
    row = fac.loc[facility_id]

    def term(mapping: Any, key: str) -> str:
        return mapping[key].label(lang) if key in mapping else key

    industries = industries_text(str(row["industries"] or ""), lang)
    year = "" if row["year"] is None or str(row["year"]) in {"<NA>", "nan"} else str(row["year"])
    if year and row.get("year_event"):
        year += f"（{term(catalog.YEAR_EVENTS, row['year_event'])}）" if lang == "zh" else \
            f" ({term(catalog.YEAR_EVENTS, row['year_event'])})"
    parent = str(row.get("parent_id") or "")
    if parent and parent in fac.index:
        parent = f"{parent} {fac.loc[parent, 'name_zh']}"
    fields = [
        ("f_name_zh", row["name_zh"]),
        ("f_name_en", row["name_en"]),
        ("f_category", term(catalog.CATEGORIES, row["category"])),
        ("f_industries", industries),
        ("f_town", term(catalog.TOWNS, row["town"])),
        ("f_district", row["district"]),
        ("f_level", term(catalog.LEVELS, row["level"])),
        ("f_status", term(catalog.STATUSES, row["status"])),
        ("f_year", year),
        ("f_year_source", row.get("year_source") or ""),
        ("f_address", row["address"]),
        ("f_coord", f"{row.geometry.x:.6f}, {row.geometry.y:.6f}"),
        ("f_precision", t("precision_m", lang, m=f"{row['coord_precision_m']:,.0f}")),
        ("f_coord_source", row["coord_source"]),
        ("f_source", row["source"]),
        ("f_placement", term(catalog.PLACEMENTS, row["placement"])),
        ("f_membership", term(catalog.MEMBERSHIPS, row["membership"])),
        ("f_parent", parent),
    ]
    return html.Div([
        html.Div(row["id"], className="nt-note"),
        html.Table([html.Tr([html.Td(t(key, lang)), html.Td(str(value))])
                    for key, value in fields if str(value) != ""],
                   className="details-table"),
    ], id="details-" + str(row["id"]))
