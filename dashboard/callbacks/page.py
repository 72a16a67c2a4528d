"""Render the page from the URL once per page load (language and initial state)."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, no_update

from dashboard import ids
from dashboard.auth import signed_in
from dashboard.components.edit import edit_panel
from dashboard.components.page import page
from dashboard.components.review import history_section, proposals_overlay, review_panel
from dashboard.mapdata import MapData
from dashboard.urlstate import parse_state
from geo.store import Store, User
from geo.store.accounts import at_least


def store_panels(store: Store | None, user: User | None, lang: str) -> dict[str, Any]:
    """The tabs of a served store: Edit for everyone (its callbacks refuse a user without
    the editor role, on the server, and the tab says to sign in), Review for reviewers."""
    if store is None:
        return {}
    panels: dict[str, Any] = {"edit": edit_panel(lang)}
    if user is not None and at_least(user.role, "reviewer"):
        panels["review"] = review_panel(lang)
    return panels


def register(
    app: Dash, mapdata: MapData, *, tianditu_key: str | None, max_upload_bytes: int,
    store: Store | None = None,
) -> None:
    @app.callback(
        Output(ids.PAGE, "children"),
        Output(ids.PAGE_LANG, "data"),
        Input(ids.URL, "search"),
        State(ids.PAGE_LANG, "data"),
    )
    def render(search: str | None, rendered_lang: str | None) -> tuple[Any, Any]:
        # Later URL changes come from the page's own controls: the page is already right.
        if rendered_lang is not None:
            return no_update, no_update
        state = parse_state(search)
        user = signed_in(store) if store is not None else None
        lang = state.lang
        return (page(mapdata, state, tianditu_key=tianditu_key,
                     max_upload_bytes=max_upload_bytes, store_served=store is not None,
                     user=user,
                     extra_panels=store_panels(store, user, lang),
                     extra_overlays=[proposals_overlay(lang)] if store is not None else [],
                     details_extra=[history_section(lang)] if store is not None else []),
                lang)
