"""On a served store: the review queue (approve/reject), the proposals layer and a facility's
history with "revert to version N". Each callback checks the user's role on the server
(dashboard.auth) before it shows proposals or changes anything; the store checks it again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.auth import require, signed_in
from dashboard.components.review import history_view, proposal_features, queue_view
from dashboard.i18n import t
from dashboard.state import datum_for
from geo._errors import AtlasError
from geo.store import Store
from geo.store.accounts import at_least


def _refused(exc: Exception, lang: str) -> html.Div:
    return html.Div(t("refused", lang, why=str(exc)), className="nt-refused")


def queue_mark(store: Store, shown: Any) -> list[int]:
    """The review queue's state ([latest change id, pending]) for a reviewer's poll; raises
    PreventUpdate when it is the one ``shown`` or the user is not (or no longer) a reviewer."""
    try:
        require(store, "reviewer")
    except AtlasError:
        raise PreventUpdate from None
    mark = list(store.queue_state())
    if mark == shown:
        raise PreventUpdate
    return mark


def register(app: Dash, store: Store, on_change: Callable[[], int] | None) -> None:
    def committed() -> int:
        """Serve the new revision now (when served by a StoreServer) and say which it is."""
        return on_change() if on_change is not None else store.revision()

    @app.callback(
        Output(ids.REVIEW_QUEUE, "children"),
        Input(ids.DATA_REVISION, "data"),
        Input(ids.REVIEW_REFRESH, "n_clicks"),
        Input(ids.REVIEW_MARK, "data"),
        State({"type": ids.REVIEW_COMMENT, "change": ALL}, "value"),
        State({"type": ids.REVIEW_COMMENT, "change": ALL}, "id"),
        State(ids.PAGE_LANG, "data"),
    )
    def show_queue(_revision: Any, _n: Any, _mark: Any, typed: list[Any],
                   typed_ids: list[Any], lang: str | None) -> Any:
        lang = lang or "zh"
        try:
            require(store, "reviewer")
        except AtlasError as exc:
            return _refused(exc, lang)
        comments = {int(i["change"]): str(v) for v, i in zip(typed, typed_ids, strict=False)
                    if v and isinstance(i, dict) and str(i.get("change", "")).isdigit()}
        return queue_view(store.proposals(), lang, comments)

    # A tick reaches the server only while the Review tab is open and the page is visible
    # (decided in the browser: a closed tab costs no request).
    app.clientside_callback(  # type: ignore[no-untyped-call]  # unannotated in Dash
        "function (n, ui) { return (ui && ui.tab === 'review' && !document.hidden) ? n"
        " : window.dash_clientside.no_update; }",
        Output(ids.REVIEW_TICK, "data"),
        Input(ids.REVIEW_POLL, "n_intervals"),
        State(ids.UI, "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.REVIEW_MARK, "data"),
        Input(ids.REVIEW_TICK, "data"),
        State(ids.REVIEW_MARK, "data"),
        prevent_initial_call=True,
    )
    def poll_queue(_n: Any, shown: Any) -> Any:
        """The queue's state when it differs from the one this browser shows (then the queue
        and the proposals layer redraw); nothing otherwise. Reviewers only, checked here."""
        return queue_mark(store, shown)

    @app.callback(
        Output(ids.REVIEW_STATUS, "children"),
        Output(ids.DATA_REVISION, "data", allow_duplicate=True),
        Input({"type": ids.REVIEW_APPROVE, "change": ALL}, "n_clicks"),
        Input({"type": ids.REVIEW_REJECT, "change": ALL}, "n_clicks"),
        State({"type": ids.REVIEW_COMMENT, "change": ALL}, "value"),
        State({"type": ids.REVIEW_COMMENT, "change": ALL}, "id"),
        State(ids.PAGE_LANG, "data"),
        prevent_initial_call=True,
    )
    def decide(_approve: Any, _reject: Any, comments: list[Any], comment_ids: list[Any],
               lang: str | None) -> tuple[Any, Any]:
        lang = lang or "zh"
        trig = ctx.triggered_id
        if not isinstance(trig, dict) or not ctx.triggered[0].get("value"):
            raise PreventUpdate  # the queue was redrawn: no click
        approve = trig.get("type") == ids.REVIEW_APPROVE
        try:
            change_id = int(trig.get("change"))  # type: ignore[arg-type]
            comment = next((str(v or "") for v, i in zip(comments, comment_ids, strict=False)
                            if isinstance(i, dict) and i.get("change") == change_id), "")
            user = require(store, "reviewer")
            store.review(change_id, user.name, approve=approve, comment=comment)
        except (AtlasError, TypeError, ValueError) as exc:
            return _refused(exc, lang), no_update
        revision = committed()
        done = (t("rv_approved", lang, n=change_id, rev=revision) if approve
                else t("rv_rejected", lang, n=change_id))
        return html.Div(done, className="nt-done"), revision

    @app.callback(
        Output(ids.PROPOSALS, "data"),
        Input(ids.DATA_REVISION, "data"),
        Input(ids.BASEMAP, "value"),
        State(ids.PAGE_LANG, "data"),
    )
    def show_proposals(_revision: Any, basemap: str | None, lang: str | None) -> Any:
        user = signed_in(store)
        if user is None or not at_least(user.role, "editor"):
            return None  # proposals are for editors and reviewers only
        return proposal_features(store.proposals(), datum=datum_for(basemap),
                                 lang=lang or "zh")

    @app.callback(
        Output(ids.HISTORY, "children"),
        Output(ids.HISTORY_FACILITY, "data"),
        Input(ids.FACILITIES, "clickData"),
        Input(ids.DATA_REVISION, "data"),
        State(ids.HISTORY_FACILITY, "data"),
        State(ids.PAGE_LANG, "data"),
        prevent_initial_call=True,
    )
    def show_history(click: dict[str, Any] | None, _revision: Any,
                     current: dict[str, Any] | None, lang: str | None) -> tuple[Any, Any]:
        if ctx.triggered_id == ids.FACILITIES:
            props = (click or {}).get("properties") or {}
            if props.get("cluster") or "id" not in props:
                raise PreventUpdate
            facility_id = str(props["id"])
        else:
            facility_id = str((current or {}).get("id") or "")
            if not facility_id:
                raise PreventUpdate
        user = signed_in(store)
        editor = user is not None and at_least(user.role, "editor")
        changes = store.history(facility_id)
        if not editor:  # viewers see what reached them: no proposals, no rejections
            changes = [c for c in changes if c.is_applied]
        row = store.facility(facility_id)
        version = int(row["version"]) if row is not None else None
        return (history_view(changes, lang or "zh", current_version=version, can_revert=editor),
                {"id": facility_id, "version": version})

    @app.callback(
        Output(ids.REVERT_STATUS, "children"),
        Output(ids.DATA_REVISION, "data", allow_duplicate=True),
        Input(ids.REVERT_BUTTON, "n_clicks"),
        State(ids.HISTORY_FACILITY, "data"),
        State(ids.REVERT_VERSION, "value"),
        State(ids.REVERT_REASON, "value"),
        State(ids.REVERT_SOURCE, "value"),
        State(ids.PAGE_LANG, "data"),
        prevent_initial_call=True,
    )
    def revert(n: int | None, facility: dict[str, Any] | None, version: Any,
               reason: str | None, source: str | None, lang: str | None) -> tuple[Any, Any]:
        lang = lang or "zh"
        if not n or not facility:
            raise PreventUpdate
        try:
            user = require(store, "editor")
            expect = facility.get("version")
            change = store.revert(str(facility["id"]), int(version), user.name,
                                  reason=reason or "", source=source or "",
                                  expect_version=int(expect) if expect is not None else None)
        except (AtlasError, KeyError, TypeError, ValueError) as exc:
            return _refused(exc, lang), no_update
        if change.is_applied:
            revision = committed()
            return html.Div(t("hist_reverted", lang, v=int(version), rev=revision),
                            className="nt-done"), revision
        # Only a proposal: the revision stays, but writing it redraws the history and the
        # proposals layer (Dash runs the dependants of a written prop even if it is equal).
        return html.Div(t("hist_proposed", lang, v=int(version), n=change.change_id),
                        className="nt-done"), committed()
