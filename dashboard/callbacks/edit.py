"""Editing facilities (serving a store): load, place, save and retire through the store.

Every call that changes data checks the signed-in user's role here, on the server
(``dashboard.auth.require``), whatever the page shows; the store checks it again. Validation
is the loader's: the store refuses what ``newtown check`` would refuse, and the form shows
each message at the field it names, keeping what the user typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dash import ALL, Dash, Input, Output, State, callback_context, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import auth, ids
from dashboard.components.edit import CHANGE_FIELDS, FIELD_KINDS, edit_handle
from dashboard.i18n import t
from dashboard.state import as_datum, datum_for
from geo._errors import AccessDeniedError, ConflictError, DataError, StoreError
from geo.crs import Datum, convert
from geo.facilities import COLUMNS
from geo.store import Change, Store, User

#: Columns a "move" may carry (the store's rule); any other changed column makes a "set".
MOVE_FIELDS = frozenset({"lon", "lat", "coord_source", "coord_precision_m"})
#: Decimals of a converted or clicked coordinate: 1e-6 degrees is about 0.1 m.
COORD_DECIMALS = 6
#: Every error slot of the form, facility columns first.
ERROR_FIELDS = (*FIELD_KINDS, *CHANGE_FIELDS)


@dataclass(frozen=True)
class EditResult:
    """What a save or retire came to, for the form to show."""

    status: str  # applied | proposed | invalid | conflict | refused | nothing
    message: str  # one line for the summary
    problems: tuple[str, ...] = ()  # the loader's (or store's) messages, in full
    field_errors: dict[str, str] = field(default_factory=dict)  # field -> message under it
    change: Change | None = None
    target: dict[str, Any] | None = None  # the form's new target (None: unchanged)


# ------------------------------------------------------------------ plain functions
def form_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row (text cells) as the form's control values (dropdowns get keys or None,
    industries a list)."""
    values: dict[str, Any] = {}
    for name, kind in FIELD_KINDS.items():
        text = "" if row.get(name) is None else str(row.get(name))
        if kind == "multi":
            values[name] = [k for k in text.split(";") if k]
        elif kind == "select":
            values[name] = text or None
        else:
            values[name] = text
    return values


def form_cells(values: Mapping[str, Any]) -> dict[str, str]:
    """The form's control values as the text cells the store keeps (industries joined by
    ';' as in facilities.csv; blanks as empty text)."""
    cells: dict[str, str] = {}
    for name, kind in FIELD_KINDS.items():
        value = values.get(name)
        if kind == "multi":
            cells[name] = ";".join(str(v) for v in (value or []))
        else:
            cells[name] = "" if value is None else str(value).strip()
    return cells


def wgs84_cells(lon: str, lat: str, datum: Datum, lang: str) -> tuple[dict[str, str],
                                                                      dict[str, str]]:
    """The typed coordinates in WGS84 text, converted from ``datum`` (geo.crs); and the
    field errors of coordinates that are not numbers (only a conversion needs numbers: WGS84
    text goes to the store as typed, and the loader judges it)."""
    if datum == "wgs84":
        return {"lon": lon, "lat": lat}, {}
    errors: dict[str, str] = {}
    numbers: dict[str, float] = {}
    for name, text in (("lon", lon), ("lat", lat)):
        try:
            numbers[name] = float(text)
        except ValueError:
            errors[name] = t("edit_not_number", lang)
    if errors:
        return {"lon": lon, "lat": lat}, errors
    x, y = convert(numbers["lon"], numbers["lat"], from_datum=datum, to_datum="wgs84")
    return {"lon": f"{float(x):.{COORD_DECIMALS}f}", "lat": f"{float(y):.{COORD_DECIMALS}f}"}, {}


def problem_fields(exc: DataError) -> tuple[tuple[str, ...], dict[str, str]]:
    """The loader's messages in full, and each placed at the form field it names."""
    at: dict[str, list[str]] = {}
    for problem in exc.problems:
        shown = "" if problem.value is None else f" (got {problem.value!r})"
        for name in (problem.field or "").split("/"):
            if name in FIELD_KINDS:
                at.setdefault(name, []).append(f"{problem.message}{shown}")
    return tuple(str(p) for p in exc.problems), {k: "\n".join(v) for k, v in at.items()}


def _required(reason: str, source: str, lang: str) -> dict[str, str]:
    missing = {}
    if not reason.strip():
        missing["reason"] = t("edit_required", lang)
    if not source.strip():
        missing["change_source"] = t("edit_required", lang)
    return missing


def _target_after(change: Change) -> dict[str, Any]:
    return {"mode": "edit", "id": change.facility_id, "version": change.version,
            "row": {c: str(change.after.get(c, "")) for c in COLUMNS}}


def _refusal(exc: StoreError, lang: str, field_name: str | None = None) -> EditResult:
    if isinstance(exc, ConflictError):
        return EditResult("conflict", t("edit_conflict", lang), (str(exc),))
    if isinstance(exc, AccessDeniedError):
        return EditResult("refused", t("edit_refused", lang, msg=str(exc)), (str(exc),))
    errors = {field_name: str(exc)} if field_name else {}
    return EditResult("invalid", t("edit_invalid", lang, n=1), (str(exc),), errors)


def save_facility(store: Store, user: User, target: Mapping[str, Any],
                  values: Mapping[str, Any], *, datum: Datum, reason: str, source: str,
                  lang: str = "zh") -> EditResult:
    """Add the form's facility (target mode "add") or save what the user changed in the one
    loaded (mode "edit", against the version it was loaded at).

    An edit that changes only the position is a ``move``, any other a ``set`` of the changed
    columns. The store applies it or, for an editor when review is on, keeps it as a proposal.
    """
    cells = form_cells(values)
    coords, errors = wgs84_cells(cells["lon"], cells["lat"], datum, lang)
    cells.update(coords)
    errors.update(_required(reason, source, lang))
    if errors:
        return EditResult("invalid", t("edit_invalid", lang, n=len(errors)),
                          field_errors=errors)
    version: int | None
    if target.get("mode") == "retired":
        return EditResult("invalid", t("edit_restore_first", lang, id=target.get("id", "")))
    if target.get("mode") == "edit":
        fid, version = str(target["id"]), int(target["version"])
        loaded = {c: str(v) for c, v in (target.get("row") or {}).items()}
        changed = {c: v for c, v in cells.items() if v != loaded.get(c, "")}
        changed.pop("id", None)  # an id never changes (the form does not let it)
        if not changed:
            return EditResult("nothing", t("edit_nothing", lang))
        if set(changed) <= MOVE_FIELDS and {"lon", "lat"} & set(changed):
            action = "move"
            changed = {**changed, "lon": cells["lon"], "lat": cells["lat"]}
        else:
            action = "set"
    else:
        # No expected version for an add: a taken id (also one added meanwhile) is refused
        # by the store as such ("facility id ... is taken"), shown at the id field.
        fid, version, action, changed = cells["id"], None, "add", cells
    try:
        change = store.propose(user.name, action, fid, changed, reason=reason,
                               source=source, expect_version=version)
    except DataError as exc:
        problems, at = problem_fields(exc)
        return EditResult("invalid", t("edit_invalid", lang, n=len(problems)), problems, at)
    except StoreError as exc:
        taken = action == "add" and str(exc).startswith("facility id ")
        return _refusal(exc, lang, "id" if taken else None)
    if change.is_applied:
        return EditResult("applied", t("edit_applied", lang, change=change.change_id, id=fid,
                                       version=change.version),
                          change=change, target=_target_after(change))
    return EditResult("proposed", t("edit_proposed", lang, change=change.change_id, id=fid),
                      change=change)


def _committed(commit: Callable[[], Change], lang: str) -> Change | EditResult:
    """Run one store call that changes a facility: its change, or the loader's problems at
    their fields, or the store's refusal (stale version, role) as the result to show."""
    try:
        return commit()
    except DataError as exc:
        problems, at = problem_fields(exc)
        return EditResult("invalid", t("edit_invalid", lang, n=len(problems)), problems, at)
    except StoreError as exc:
        return _refusal(exc, lang)


def _unready(target: Mapping[str, Any], mode: str, wrong_mode_key: str, reason: str,
             source: str, lang: str) -> EditResult | None:
    """Why a retire or restore cannot be sent yet: the form holds no facility in ``mode``, or
    the reason or source is blank (shown at its field); None when it can."""
    if target.get("mode") != mode:
        return EditResult("invalid", t(wrong_mode_key, lang))
    errors = _required(reason, source, lang)
    if errors:
        return EditResult("invalid", t("edit_invalid", lang, n=len(errors)),
                          field_errors=errors)
    return None


def retire_facility(store: Store, user: User, target: Mapping[str, Any], *, reason: str,
                    source: str, lang: str = "zh") -> EditResult:
    """Retire the loaded facility (kept in the store and its history, never deleted); the
    reason is kept as the retirement reason."""
    refused = _unready(target, "edit", "edit_retire_needs_edit", reason, source, lang)
    if refused is not None:
        return refused
    fid = str(target["id"])
    change = _committed(lambda: store.propose(user.name, "retire", fid, reason=reason,
                                              source=source,
                                              expect_version=int(target["version"])), lang)
    if isinstance(change, EditResult):
        return change
    if change.is_applied:
        return EditResult("applied", t("edit_retired", lang, change=change.change_id, id=fid),
                          change=change, target={"mode": "add"})
    return EditResult("proposed", t("edit_retire_proposed", lang, change=change.change_id,
                                    id=fid), change=change)


def restored_version(store: Store, facility_id: str) -> int:
    """The version a retired facility is restored to: the one its latest applied retirement
    was made against (its state just before it was retired)."""
    retirements = [c for c in store.history(facility_id)
                   if c.action == "retire" and c.is_applied]
    if not retirements:
        raise StoreError(f"facility {facility_id} has no applied retirement to undo")
    return retirements[-1].base_version


def restore_facility(store: Store, user: User, target: Mapping[str, Any], *, reason: str,
                     source: str, lang: str = "zh") -> EditResult:
    """Bring back the retired facility loaded by its ID: a new change (a revert to its state
    before the retirement), made against the version loaded, with the review rules of any
    edit (an editor's restore is a proposal when review is on)."""
    refused = _unready(target, "retired", "edit_restore_needs_retired", reason, source, lang)
    if refused is not None:
        return refused
    fid = str(target["id"])
    change = _committed(lambda: store.revert(fid, restored_version(store, fid), user.name,
                                             reason=reason, source=source,
                                             expect_version=int(target["version"])), lang)
    if isinstance(change, EditResult):
        return change
    if change.is_applied:
        return EditResult("applied", t("edit_restored", lang, change=change.change_id, id=fid,
                                       version=change.version),
                          change=change, target=_target_after(change))
    return EditResult("proposed", t("edit_restore_proposed", lang, change=change.change_id,
                                    id=fid), change=change)


def facility_to_load(click: Mapping[str, Any] | None, typed: str | None) -> str:
    """The facility "Edit selected" loads: the id typed beside the button if any (the only
    way to reach a placeholder, which is not a clickable site), else the one clicked on the
    map; "" for none."""
    if typed and typed.strip():
        return typed.strip()
    return str(((click or {}).get("properties") or {}).get("id") or "")


def clicked_position(latlng: Mapping[str, Any], basemap: str | None) -> tuple[str, str, Datum]:
    """A map click (or the end of a drag) as the form's coordinates: the map's own datum
    (GCJ-02 over AMap), declared as such, so the save converts it to WGS84."""
    return (f"{float(latlng['lng']):.{COORD_DECIMALS}f}",
            f"{float(latlng['lat']):.{COORD_DECIMALS}f}", datum_for(basemap))


def handle_position(lon: str | None, lat: str | None, datum: str | None,
                    basemap: str | None) -> list[float] | None:
    """Where the edit handle goes on the map ([lat, lon] in the map's datum), or None while
    the coordinates are not numbers."""
    try:
        x, y = float(lon or ""), float(lat or "")
    except ValueError:
        return None
    if not (-180 <= x <= 180 and -90 <= y <= 90):
        return None
    mx, my = convert(x, y, from_datum=as_datum(datum), to_datum=datum_for(basemap))
    return [float(my), float(mx)]


def summary_view(result: EditResult) -> html.Div:
    """The outcome as text (Dash escapes it: names from data stay text)."""
    good = result.status in ("applied", "proposed", "nothing")
    return html.Div([
        html.Div(result.message, className="nt-edit-ok" if good else "nt-edit-bad",
                 id=f"edit-status-{result.status}"),
        html.Ul([html.Li(p) for p in result.problems]) if result.problems else None,
    ])


def review_note(store: Store, user: User | None, lang: str) -> str:
    """Whether a change applies at once or waits for review, for this user."""
    if not store.review_required:
        return t("edit_review_off", lang)
    note = t("edit_review_on", lang)
    if user is None:
        return note + " " + t("edit_sign_in", lang)
    return note


# ------------------------------------------------------------------ callbacks
#: Every control of the form (pattern-matching: Dash gives them in layout order, with ids).
FIELDS_ALL = {"type": ids.EDIT_FIELD, "field": ALL}


def _field(name: str) -> dict[str, str]:
    return {"type": ids.EDIT_FIELD, "field": name}


def _values_by_field(values: list[Any], ids_list: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["id"]["field"]: value for item, value in zip(ids_list, values, strict=True)}


def _errors_out(ids_list: list[dict[str, Any]], errors: Mapping[str, str]) -> list[str]:
    return [errors.get(item["id"]["field"], "") for item in ids_list]


def register(app: Dash, store: Store, *, on_change: Callable[[], int] | None = None) -> None:
    """The Edit tab's callbacks; ``on_change`` swaps the server to the store's new revision
    and returns it (the map follows it through ``ids.DATA_REVISION``)."""

    @app.callback(
        Output(FIELDS_ALL, "value"),
        Output(ids.EDIT_DATUM, "value"),
        Output(ids.EDIT_TARGET, "data"),
        Output({"type": ids.EDIT_ERROR, "field": ALL}, "children"),
        Output(ids.EDIT_SUMMARY, "children"),
        Output(ids.EDIT_REASON, "value"),
        Output(ids.EDIT_SOURCE, "value"),
        Output(ids.DETAILS_POPUP, "className", allow_duplicate=True),
        Input(ids.EDIT_NEW, "n_clicks"),
        Input(ids.EDIT_LOAD, "n_clicks"),
        State(ids.FACILITIES, "clickData"),
        State(ids.EDIT_LOAD_ID, "value"),
        State(ids.PAGE_LANG, "data"),
        prevent_initial_call=True,
    )
    def fill_form(_new: int | None, _load: int | None, click: dict[str, Any] | None,
                  typed: str | None, lang: str | None) -> tuple[Any, ...]:
        lang = lang or "zh"
        fields = callback_context.outputs_list[0]
        errors = callback_context.outputs_list[3]
        if callback_context.triggered_id == ids.EDIT_NEW:
            blank = form_values({})
            return ([blank[f["id"]["field"]] for f in fields], "wgs84", {"mode": "add"},
                    _errors_out(errors, {}), "", "", "", no_update)
        fid = facility_to_load(click, typed)
        row = store.facility(fid) if fid else None
        if row is None:
            message = t("edit_not_found", lang, id=fid) if fid else t("edit_no_selection", lang)
            return (no_update, no_update, no_update, no_update,
                    html.Div(message, className="nt-edit-bad"), no_update, no_update, no_update)
        values = form_values(row)
        # A retired facility (reached by its ID: it is not on the map) loads for restoring.
        target = {"mode": "retired" if row.get("retired") else "edit", "id": fid,
                  "version": int(row["version"]),
                  "reason": str(row.get("retired_reason") or ""),
                  "row": {c: str(row.get(c, "")) for c in COLUMNS}}
        # The details popup closes: the facility's handle (to drag it) may lie under it.
        return ([values[f["id"]["field"]] for f in fields], "wgs84", target,
                _errors_out(errors, {}), "", "", "", "nt-popup")

    @app.callback(
        Output(_field("lon"), "value", allow_duplicate=True),
        Output(_field("lat"), "value", allow_duplicate=True),
        Output(ids.EDIT_DATUM, "value", allow_duplicate=True),
        Input(ids.MAP, "clickData"),
        Input({"type": ids.EDIT_HANDLE, "n": ALL}, "position"),
        State(ids.EDIT_TARGET, "data"),
        State(ids.UI, "data"),
        State(ids.BASEMAP, "value"),
        State(_field("lon"), "value"),
        State(_field("lat"), "value"),
        State(ids.EDIT_DATUM, "value"),
        prevent_initial_call=True,
    )
    def place(click: dict[str, Any] | None, handle: list[list[float] | None],
              target: dict[str, Any] | None, ui: dict[str, Any] | None, basemap: str | None,
              lon: str | None, lat: str | None, datum: str | None) -> tuple[str, str, str]:
        if (ui or {}).get("tab") != "edit":
            raise PreventUpdate
        if callback_context.triggered_id == ids.MAP:
            # A click sets the position of a new facility only; an edit moves by the handle.
            if (target or {}).get("mode") != "add" or not click or "latlng" not in click:
                raise PreventUpdate
            return clicked_position(click["latlng"], basemap)
        position = next((p for p in handle if p), None)
        if position is None:
            raise PreventUpdate
        if position == handle_position(lon, lat, datum, basemap):
            raise PreventUpdate  # the handle was only redrawn where the form says
        return clicked_position({"lat": position[0], "lng": position[1]}, basemap)

    @app.callback(
        Output(ids.EDIT_LAYER, "children"),
        Input(_field("lon"), "value"),
        Input(_field("lat"), "value"),
        Input(ids.EDIT_DATUM, "value"),
        Input(ids.BASEMAP, "value"),
        Input(ids.UI, "data"),
    )
    def show_handle(lon: str | None, lat: str | None, datum: str | None,
                    basemap: str | None, ui: dict[str, Any] | None) -> list[Any]:
        position = handle_position(lon, lat, datum, basemap)
        if position is None or (ui or {}).get("tab") != "edit":
            return []
        return [edit_handle(*position)]

    @app.callback(
        Output(ids.EDIT_MODE_NOTE, "children"),
        Output(ids.EDIT_REVIEW_NOTE, "children"),
        Output(_field("id"), "disabled"),
        Output(ids.EDIT_RESTORE, "hidden"),
        Input(ids.EDIT_TARGET, "data"),
        State(ids.PAGE_LANG, "data"),
    )
    def show_mode(target: dict[str, Any] | None,
                  lang: str | None) -> tuple[str, str, bool, bool]:
        lang = lang or "zh"
        note = review_note(store, auth.signed_in(store), lang)
        mode = (target or {}).get("mode")
        if mode == "retired":
            assert target is not None
            return t("edit_mode_retired", lang, id=target["id"], version=target["version"],
                     reason=target.get("reason", "")), note, True, False
        if mode == "edit":
            assert target is not None
            return t("edit_mode_edit", lang, id=target["id"], version=target["version"]), \
                note, True, True
        return t("edit_mode_add", lang), note, False, True

    @app.callback(
        Output(ids.EDIT_SUMMARY, "children", allow_duplicate=True),
        Output({"type": ids.EDIT_ERROR, "field": ALL}, "children", allow_duplicate=True),
        Output(ids.EDIT_TARGET, "data", allow_duplicate=True),
        Output(ids.DATA_REVISION, "data", allow_duplicate=True),
        Input(ids.EDIT_SAVE, "n_clicks"),
        Input(ids.EDIT_RETIRE, "n_clicks"),
        Input(ids.EDIT_RESTORE, "n_clicks"),
        State(FIELDS_ALL, "value"),
        State(ids.EDIT_DATUM, "value"),
        State(ids.EDIT_REASON, "value"),
        State(ids.EDIT_SOURCE, "value"),
        State(ids.EDIT_TARGET, "data"),
        State(ids.PAGE_LANG, "data"),
        prevent_initial_call=True,
    )
    def submit(_save: int | None, _retire: int | None, _restore: int | None,
               values: list[Any], datum: str | None,
               reason: str | None, source: str | None, target: dict[str, Any] | None,
               lang: str | None) -> tuple[Any, ...]:
        lang = lang or "zh"
        errors_ids = callback_context.outputs_list[1]
        try:  # the role is checked here, on the server, for every request
            user = auth.require(store, "editor")
        except AccessDeniedError as exc:
            result = EditResult("refused", t("edit_refused", lang, msg=str(exc)))
        else:
            if callback_context.triggered_id == ids.EDIT_RETIRE:
                result = retire_facility(store, user, target or {}, reason=reason or "",
                                         source=source or "", lang=lang)
            elif callback_context.triggered_id == ids.EDIT_RESTORE:
                result = restore_facility(store, user, target or {}, reason=reason or "",
                                          source=source or "", lang=lang)
            else:
                form = _values_by_field(values, callback_context.states_list[0])
                result = save_facility(store, user, target or {}, form,
                                       datum=as_datum(datum), reason=reason or "",
                                       source=source or "", lang=lang)
        revision: Any = no_update
        if result.status == "applied":
            revision = on_change() if on_change is not None else store.revision()
        elif result.status == "proposed":
            # Same revision, written again: the proposals layer and the review queue
            # (which follow ids.DATA_REVISION) show the new proposal.
            revision = store.revision()
        return (summary_view(result), _errors_out(errors_ids, result.field_errors),
                result.target if result.target is not None else no_update, revision)
