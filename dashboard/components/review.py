"""The review queue (a tab for reviewers), a facility's history with "revert to version N",
and the proposals layer: built from the store's Change rows. Text is passed as Dash children
(never raw HTML); map tooltips, which are HTML, are escaped here."""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping, Sequence
from typing import Any

import dash_leaflet as dl
from dash import dcc, html

from dashboard import ids
from dashboard.i18n import t
from geo.crs import Datum, convert
from geo.store import Change

#: Fields shown in a diff, in this order (others follow alphabetically).
_FIRST = ("name_zh", "name_en", "category", "lon", "lat", "status", "level", "town",
          "district", "address", "placement", "retired", "retired_reason")


def utc(time: str | None) -> str:
    """An ISO UTC time as ``YYYY-MM-DD HH:MM:SS UTC``."""
    if not time:
        return ""
    return time[:19].replace("T", " ") + " UTC"


def changed_fields(change: Change) -> list[tuple[str, str, str]]:
    """(field, before, after) for every field the change alters (all filled ones for an add)."""
    before = change.before or {}
    after = change.after
    keys = [k for k in _FIRST if k in after] + sorted(k for k in after if k not in _FIRST)
    rows = []
    for key in keys:
        old = "" if before.get(key) is None else str(before.get(key))
        new = "" if after.get(key) is None else str(after.get(key))
        if old != new:
            rows.append((key, old, new))
    return rows


def diff_table(change: Change, lang: str) -> html.Table:
    """The change's before -> after, one row per altered field."""
    return html.Table([
        html.Thead(html.Tr([html.Th(t("rv_field", lang)), html.Th(t("rv_before", lang)),
                            html.Th(t("rv_after", lang))])),
        html.Tbody([html.Tr([html.Td(key), html.Td(old, className="nt-old"),
                             html.Td(new, className="nt-new")])
                    for key, old, new in changed_fields(change)]),
    ], className="nt-diff")


def _name(change: Change) -> str:
    state = change.after or change.before or {}
    return str(state.get("name_zh") or "")


#: How often an open Review tab asks whether the queue has changed (milliseconds).
REVIEW_POLL_MS = 3000


def review_panel(lang: str) -> html.Div:
    """The Review tab: the queue, loaded (and reloaded after every decision) by a callback,
    and redrawn when someone else proposes or decides: ``REVIEW_POLL`` ticks in the browser, a
    tick is passed on (``REVIEW_TICK``) only while the Review tab is open and the page is
    visible, and then asks the server for the queue's state (``REVIEW_MARK`` keeps the last
    one this browser showed)."""
    return html.Div([
        html.P(t("rv_hint", lang), className="nt-note"),
        html.Button(t("rv_refresh", lang), id=ids.REVIEW_REFRESH, className="nt-btn"),
        html.Div(id=ids.REVIEW_STATUS, className="nt-status", role="status"),
        dcc.Loading(html.Div(id=ids.REVIEW_QUEUE), type="dot"),
        dcc.Interval(id=ids.REVIEW_POLL, interval=REVIEW_POLL_MS),
        dcc.Store(id=ids.REVIEW_TICK),
        dcc.Store(id=ids.REVIEW_MARK),
    ])


def queue_view(proposals: Sequence[Change], lang: str,
               comments: Mapping[int, str] | None = None) -> html.Div:
    """One card per proposal: what, who, when, why, source, the diff, comment, approve/reject.

    ``comments`` (change id -> text) keeps what a reviewer had typed when the queue is
    redrawn because someone else proposed or decided meanwhile."""
    comments = comments or {}
    if not proposals:
        return html.Div(t("rv_empty", lang), className="nt-note", id="review-empty")
    cards = []
    for c in proposals:
        key = {"change": c.change_id}
        cards.append(html.Article([
            html.H3([f"#{c.change_id} · ", t(f"act_{c.action}", lang), " · ",
                     c.facility_id, " ", _name(c)]),
            html.Dl([
                html.Dt(t("rv_who", lang)), html.Dd(c.user),
                html.Dt(t("rv_when", lang)), html.Dd(utc(c.time)),
                html.Dt(t("rv_reason", lang)), html.Dd(c.reason),
                html.Dt(t("rv_source", lang)), html.Dd(c.source),
                html.Dt(t("rv_base", lang)), html.Dd(str(c.base_version)),
            ], className="nt-dl"),
            diff_table(c, lang),
            dcc.Input(id={"type": ids.REVIEW_COMMENT, **key}, type="text",
                      value=comments.get(c.change_id, ""),
                      placeholder=t("rv_comment", lang), className="nt-input", debounce=False),
            html.Div([
                html.Button(t("rv_approve", lang), id={"type": ids.REVIEW_APPROVE, **key},
                            className="nt-btn nt-primary"),
                html.Button(t("rv_reject", lang), id={"type": ids.REVIEW_REJECT, **key},
                            className="nt-btn"),
            ], className="nt-btn-row"),
        ], className="nt-proposal", id=f"proposal-{c.change_id}"))
    return html.Div(cards)


def proposal_features(proposals: Sequence[Change], *, datum: Datum,
                      lang: str) -> dict[str, Any]:
    """Pending proposals as display GeoJSON (where the facility would be), tooltips escaped."""
    located = [c for c in proposals if c.after.get("lon") not in (None, "")
               and c.after.get("lat") not in (None, "")]
    lon = [float(c.after["lon"]) for c in located]
    lat = [float(c.after["lat"]) for c in located]
    if datum != "wgs84" and located:
        x, y = convert(lon, lat, from_datum="wgs84", to_datum=datum)
        lon, lat = [float(v) for v in x], [float(v) for v in y]
    features = []
    for c, x0, y0 in zip(located, lon, lat, strict=True):
        tip = (f"{t('rv_proposal', lang)} #{c.change_id}: {t(f'act_{c.action}', lang)} "
               f"{c.facility_id} {_name(c)} ({c.user})")
        features.append({"type": "Feature",
                         "geometry": {"type": "Point", "coordinates": [x0, y0]},
                         "properties": {"id": c.facility_id, "change": c.change_id,
                                        "action": c.action,
                                        "tooltip": html_lib.escape(tip)}})
    return {"type": "FeatureCollection", "features": features}


def proposals_overlay(lang: str) -> dl.Overlay:
    """The proposals layer: dashed orange rings; its data comes from a callback that checks
    the user's role (editors and reviewers only)."""
    return dl.Overlay(dl.GeoJSON(id=ids.PROPOSALS, data=None,
                                 pointToLayer={"variable": "newtown.proposalToLayer"}),
                      name=t("layer_proposals", lang), checked=True)


def history_section(lang: str) -> html.Div:
    """The History part of the details popup (filled when a facility is clicked)."""
    return html.Div([
        html.H3(t("hist_title", lang)),
        html.Div(id=ids.HISTORY),
        html.Div(id=ids.REVERT_STATUS, className="nt-status", role="status"),
        dcc.Store(id=ids.HISTORY_FACILITY),
    ], className="nt-history")


def history_view(changes: Sequence[Change], lang: str, *, current_version: int | None,
                 can_revert: bool) -> html.Div:
    """The facility's history, oldest first, and (for editors) the revert form."""
    head = ["hist_version", "hist_action", "hist_user", "hist_time", "hist_reason",
            "hist_source", "hist_state", "hist_reviewer"]
    rows = [html.Tr([html.Td(str(c.version)), html.Td(t(f"act_{c.action}", lang)),
                     html.Td(c.user), html.Td(utc(c.time)), html.Td(c.reason),
                     html.Td(c.source), html.Td(t(f"state_{c.review_state}", lang)),
                     html.Td(c.reviewer or "")],
                    className=f"nt-hist-{c.review_state}", id=f"history-{c.change_id}")
            for c in changes]
    parts: list[Any] = [
        html.Div(t("hist_imported", lang), className="nt-note"),
        html.Table([html.Thead(html.Tr([html.Th(t(k, lang)) for k in head])),
                    html.Tbody(rows)], className="nt-history-table", id="history-table")
        if rows else html.Div(t("hist_none", lang), className="nt-note"),
    ]
    if can_revert and current_version is not None and current_version > 1:
        versions = list(range(current_version - 1, 0, -1))
        parts.append(html.Div([
            html.Label([t("hist_revert_to", lang),
                        dcc.Dropdown(id=ids.REVERT_VERSION, value=versions[0], clearable=False,
                                     options=[{"label": str(v), "value": v}
                                              for v in versions])]),
            dcc.Input(id=ids.REVERT_REASON, type="text", placeholder=t("rv_reason", lang),
                      className="nt-input"),
            dcc.Input(id=ids.REVERT_SOURCE, type="text", placeholder=t("rv_source", lang),
                      className="nt-input"),
            html.Button(t("hist_revert", lang), id=ids.REVERT_BUTTON,
                        className="nt-btn nt-primary"),
        ], className="nt-revert"))
    return html.Div(parts)
