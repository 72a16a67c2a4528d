"""The Edit tab (serving a store): a form for every facility field, and its map handle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_leaflet as dl
from dash import dcc, html

from dashboard import ids
from dashboard.i18n import t
from geo import catalog
from geo.catalog import Term

#: Form controls per facility column, in the order the form shows them: "text", "select"
#: (one catalog key), "multi" (several, joined with ";" as in facilities.csv) or "coord".
FIELD_KINDS: dict[str, str] = {
    "id": "text", "name_zh": "text", "name_en": "text", "category": "select",
    "industries": "multi", "town": "select", "district": "select", "address": "text",
    "lon": "coord", "lat": "coord", "coord_source": "text", "coord_precision_m": "text",
    "placement": "select", "parent_id": "text", "level": "select", "status": "select",
    "year": "text", "year_event": "select", "year_source": "text", "source": "text",
}
#: Error slots that are not facility columns: the change's own reason and citation.
CHANGE_FIELDS = ("reason", "change_source")
#: The label of each field: the details popup's (i18n ``f_*``) where it has one.
LABEL_KEYS: dict[str, str] = {
    "id": "edit_id", "lon": "edit_lon", "lat": "edit_lat",
    "coord_precision_m": "edit_precision", "parent_id": "edit_parent",
    "year_event": "edit_year_event", "reason": "edit_reason",
    "change_source": "edit_change_source",
}


def _options(terms: Mapping[str, Term], lang: str) -> list[dict[str, str]]:
    return [{"label": f"{term.label(lang)} ({key})", "value": key} for key, term in terms.items()]


def field_options(field: str, lang: str) -> list[dict[str, str]]:
    """The catalog's vocabulary for a dropdown field (district: the Chinese name, as stored)."""
    if field == "district":
        return [{"label": d.zh if lang == "zh" else f"{d.en} ({d.zh})", "value": d.zh}
                for d in catalog.DISTRICTS.values()]
    vocabularies: dict[str, Mapping[str, Term]] = {
        "category": catalog.CATEGORIES, "industries": catalog.INDUSTRIES,
        "town": catalog.TOWNS, "placement": catalog.PLACEMENTS, "level": catalog.LEVELS,
        "status": catalog.STATUSES, "year_event": catalog.YEAR_EVENTS,
    }
    return _options(vocabularies[field], lang)


def field_label(field: str, lang: str) -> str:
    return t(LABEL_KEYS.get(field, f"f_{field}"), lang)


def error_slot(field: str) -> html.Div:
    """Where the loader's message for ``field`` appears (empty until a save is refused)."""
    return html.Div(id={"type": ids.EDIT_ERROR, "field": field}, className="nt-field-error",
                    role="alert")


def _control(field: str, kind: str, lang: str) -> Any:
    cid = {"type": ids.EDIT_FIELD, "field": field}
    label = field_label(field, lang)
    if kind in ("select", "multi"):
        return dcc.Dropdown(id=cid, options=field_options(field, lang), multi=kind == "multi",
                            value=[] if kind == "multi" else None, clearable=True,
                            placeholder=label, className="nt-edit-select")
    return dcc.Input(id=cid, type="text", value="", className="nt-input", placeholder=label)


def _row(field: str, control: Any, lang: str, control_id: str | None = None) -> html.Div:
    # A pattern id cannot be a label's "for": those controls carry their label as placeholder.
    label = html.Label(field_label(field, lang), className="nt-label", htmlFor=control_id)
    return html.Div([label, control, error_slot(field)],
                    className=f"nt-edit-row nt-edit-{field}")


def edit_panel(lang: str) -> html.Div:
    """The Edit tab's body: mode, the form, the change's reason and source, save/retire."""
    rows: list[Any] = []
    for field, kind in FIELD_KINDS.items():
        rows.append(_row(field, _control(field, kind, lang), lang))
        if field == "lat":  # the datum the two coordinates above are in
            rows.append(html.Div([
                html.Label(t("edit_datum", lang), className="nt-label"),
                dcc.RadioItems(id=ids.EDIT_DATUM, value="wgs84", inline=True,
                               className="nt-radio-inline",
                               options=[{"label": "WGS84", "value": "wgs84"},
                                        {"label": "GCJ-02", "value": "gcj02"},
                                        {"label": "BD-09", "value": "bd09"}]),
            ], className="nt-edit-row"))
    change = [
        _row("reason", dcc.Input(id=ids.EDIT_REASON, type="text", value="", required=True,
                                 className="nt-input"), lang, ids.EDIT_REASON),
        _row("change_source", dcc.Input(id=ids.EDIT_SOURCE, type="text", value="",
                                        required=True, className="nt-input"),
             lang, ids.EDIT_SOURCE),
    ]
    return html.Div([
        html.P(t("edit_intro", lang), className="nt-note"),
        html.Div([
            html.Button(t("edit_new", lang), id=ids.EDIT_NEW, className="nt-btn"),
            html.Button(t("edit_load", lang), id=ids.EDIT_LOAD, className="nt-btn"),
            dcc.Input(id=ids.EDIT_LOAD_ID, type="text", value="", debounce=False,
                      placeholder=t("edit_load_id", lang), className="nt-input nt-edit-load-id"),
        ], className="nt-edit-buttons"),
        html.Div(t("edit_mode_add", lang), id=ids.EDIT_MODE_NOTE, className="nt-edit-mode"),
        html.Div(id=ids.EDIT_REVIEW_NOTE, className="nt-note"),
        html.Div(rows, className="nt-edit-form"),
        html.Div(change, className="nt-edit-form nt-edit-change"),
        html.Div([
            html.Button(t("edit_save", lang), id=ids.EDIT_SAVE, className="nt-btn nt-primary"),
            html.Button(t("edit_retire", lang), id=ids.EDIT_RETIRE, className="nt-btn"),
            # Shown only while a retired facility is loaded (by its ID).
            html.Button(t("edit_restore", lang), id=ids.EDIT_RESTORE,
                        className="nt-btn nt-primary", hidden=True),
        ], className="nt-edit-buttons"),
        dcc.Loading(html.Div(id=ids.EDIT_SUMMARY, className="nt-edit-summary", role="status"),
                    type="dot"),
        dcc.Store(id=ids.EDIT_TARGET, data={"mode": "add"}),
    ], className="nt-edit")


def edit_handle(lat: float, lon: float) -> dl.DivMarker:
    """The draggable marker of the position being edited (in the map's datum); a drag ends
    by setting its ``position`` (assets/edit.js), which the form follows."""
    return dl.DivMarker(
        id={"type": ids.EDIT_HANDLE, "n": 0}, position=[lat, lon], draggable=True,
        iconOptions={"className": "nt-edit-handle", "iconSize": [22, 22],
                     "iconAnchor": [11, 11], "html": ""},
        eventHandlers={"dragend": {"variable": "newtownEdit.dragEnd"}},
        zIndexOffset=1000,
    )
