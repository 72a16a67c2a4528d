"""The Edit tab's functions and callbacks (dashboard/callbacks/edit.py) against real stores:
form <-> row, datums, add/set/move/retire, the loader's messages per field, conflicts,
review, and the save callback replayed over HTTP without and with the right role."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dashboard import ids
from dashboard.app import create_app
from dashboard.callbacks.edit import (
    clicked_position,
    facility_to_load,
    form_cells,
    form_values,
    handle_position,
    restore_facility,
    retire_facility,
    save_facility,
    wgs84_cells,
)
from dashboard.components.edit import CHANGE_FIELDS, FIELD_KINDS
from geo.crs import gcj02_to_wgs84, wgs84_to_gcj02
from geo.facilities import COLUMNS
from geo.store import Store, init_store

ORIGIN = {"Origin": "http://localhost"}
PASSWORDS = {"root": "root-password", "ed": "ed-password", "view": "view-password"}
WHY = dict(reason="checked on site", source="visit 2026-11-30")


def _make(path, *, review: bool) -> Store:
    store = init_store(path, review=review)
    store.add_user("root", "admin", PASSWORDS["root"], actor=None)
    store.add_user("ed", "editor", PASSWORDS["ed"], actor="root")
    store.add_user("view", "viewer", PASSWORDS["view"], actor="root")
    return store


@pytest.fixture
def store(tmp_path):
    with _make(tmp_path / "atlas.gpkg", review=False) as s:
        yield s


@pytest.fixture
def reviewed(tmp_path):
    with _make(tmp_path / "reviewed.gpkg", review=True) as s:
        yield s


def user(store: Store, name: str):
    return next(u for u in store.users() if u.name == name)


def loaded(store: Store, fid: str) -> dict[str, Any]:
    """The form's target after "Edit selected" on ``fid`` (as the load callback makes it)."""
    row = store.facility(fid)
    assert row is not None
    return {"mode": "edit", "id": fid, "version": row["version"],
            "row": {c: str(row[c]) for c in COLUMNS}}


def new_row(**changes: str) -> dict[str, Any]:
    row = {"id": "JD-950", "name_zh": "测试实验室", "name_en": "Test lab", "category": "lab",
           "industries": "ai;ic", "town": "jiading", "district": "嘉定区",
           "address": "嘉定区某路1号", "lon": "121.245000", "lat": "31.389000",
           "coord_source": "typed", "coord_precision_m": "100", "placement": "site",
           "parent_id": "", "level": "municipal", "status": "operating", "year": "2024",
           "year_event": "opened", "year_source": "notice", "source": "https://example.org"}
    row.update(changes)
    return form_values(row)


def test_the_form_holds_every_column_and_round_trips_a_stored_row(store):
    assert set(FIELD_KINDS) == set(COLUMNS)
    row = store.facility("JD-002")
    assert row is not None
    values = form_values(row)
    assert values["industries"] == ["ic", "electronics"]
    assert values["parent_id"] == "" and values["year_event"] == "founded"
    assert form_cells(values) == {c: row[c] for c in COLUMNS}
    blank = form_values({})
    assert blank["category"] is None and blank["industries"] == [] and blank["name_zh"] == ""


def test_edit_selected_loads_the_typed_id_first_then_the_clicked_facility():
    click = {"properties": {"id": "JD-004", "name_zh": "x"}}
    assert facility_to_load(click, "") == "JD-004"
    assert facility_to_load(click, " JD-001 ") == "JD-001"  # a placeholder, not clickable
    assert facility_to_load(None, None) == ""
    assert facility_to_load({"properties": {"cluster": True}}, "") == ""


def test_typed_coordinates_are_converted_from_their_declared_datum():
    gx, gy = wgs84_to_gcj02(121.245, 31.389)
    cells, errors = wgs84_cells(f"{float(gx):.6f}", f"{float(gy):.6f}", "gcj02", "en")
    assert errors == {}
    assert abs(float(cells["lon"]) - 121.245) < 2e-6 and abs(float(cells["lat"]) - 31.389) < 2e-6
    # WGS84 goes to the store as typed (the loader judges it); a conversion needs numbers.
    assert wgs84_cells("121.2", " x", "wgs84", "en") == ({"lon": "121.2", "lat": " x"}, {})
    _, errors = wgs84_cells("121.2", "north", "bd09", "en")
    assert set(errors) == {"lat"}


def test_a_click_on_amap_is_declared_gcj02_and_the_handle_goes_back_where_it_was_clicked():
    lon, lat, datum = clicked_position({"lat": 31.386, "lng": 121.2497}, "amap")
    assert (lon, lat, datum) == ("121.249700", "31.386000", "gcj02")
    assert handle_position(lon, lat, datum, "amap") == pytest.approx([31.386, 121.2497])
    # The same point on a WGS84 basemap is where GCJ-02 -> WGS84 puts it.
    x, y = gcj02_to_wgs84(121.2497, 31.386)
    assert handle_position(lon, lat, datum, "osm") == pytest.approx([float(y), float(x)])
    assert clicked_position({"lat": 31.0, "lng": 121.0}, "none")[2] == "wgs84"
    assert handle_position("", "31", "wgs84", "none") is None


def test_an_add_by_an_editor_applies_without_review_and_the_form_switches_to_editing(store):
    result = save_facility(store, user(store, "ed"), {"mode": "add"}, new_row(),
                           datum="wgs84", lang="en", **WHY)
    assert result.status == "applied", result
    assert result.target is not None and result.target["mode"] == "edit"
    assert result.target["version"] == 1 and result.target["id"] == "JD-950"
    row = store.facility("JD-950")
    assert row is not None and row["industries"] == "ai;ic" and row["version"] == 1
    change = store.history("JD-950")[0]
    assert (change.action, change.user, change.reason, change.source) == (
        "add", "ed", WHY["reason"], WHY["source"])


def test_under_review_an_editors_change_is_a_proposal_and_an_admins_applies(reviewed):
    before = reviewed.revision()
    proposal = save_facility(reviewed, user(reviewed, "ed"), {"mode": "add"}, new_row(),
                             datum="wgs84", lang="en", **WHY)
    assert proposal.status == "proposed" and proposal.target is None
    assert "shows once a reviewer approves it" in proposal.message
    assert reviewed.facility("JD-950") is None and reviewed.revision() == before
    assert [c.change_id for c in reviewed.proposals()] == [proposal.change.change_id]
    applied = save_facility(reviewed, user(reviewed, "root"), {"mode": "add"},
                            new_row(id="JD-951"), datum="wgs84", lang="en", **WHY)
    assert applied.status == "applied" and reviewed.facility("JD-951") is not None


def test_the_loaders_messages_land_at_their_fields(store):
    target = loaded(store, "JD-004")
    values = form_values(target["row"])
    values.update(name_zh="", year="abc")
    result = save_facility(store, user(store, "ed"), target, values, datum="wgs84",
                           lang="en", **WHY)
    assert result.status == "invalid"
    assert result.field_errors["name_zh"] == "required value is blank"
    assert result.field_errors["year"] == "not a number (got 'abc')"
    assert any("field 'name_zh': required value is blank" in p for p in result.problems)
    assert store.facility("JD-004")["version"] == 1  # type: ignore[index]
    # A position outside the stated district: the loader names the district field.
    values = form_values(target["row"])
    values.update(lon="121.9", lat="31.0")
    result = save_facility(store, user(store, "ed"), target, values, datum="wgs84",
                           lang="en", **WHY)
    assert set(result.field_errors) == {"district"}
    assert "lies in 浦东新区, not in 嘉定区" in result.field_errors["district"]
    # The change's own reason and source are required, each at its field.
    result = save_facility(store, user(store, "ed"), target, values, datum="wgs84",
                           lang="en", reason=" ", source="")
    assert set(result.field_errors) == set(CHANGE_FIELDS)


def test_a_taken_id_is_refused_at_the_id_field(store):
    result = save_facility(store, user(store, "ed"), {"mode": "add"}, new_row(id="JD-004"),
                           datum="wgs84", lang="en", **WHY)
    assert result.status == "invalid" and "JD-004 is taken" in result.field_errors["id"]


def test_position_only_is_a_move_anything_else_a_set_and_no_change_saves_nothing(store):
    ed = user(store, "ed")
    target = loaded(store, "JD-008")
    values = form_values(target["row"])
    assert save_facility(store, ed, target, values, datum="wgs84", lang="en",
                         **WHY).status == "nothing"
    gx, gy = wgs84_to_gcj02(121.2385, 31.4121)  # dragged on AMap: GCJ-02 coordinates
    values.update(lon=f"{float(gx):.6f}", lat=f"{float(gy):.6f}")
    moved = save_facility(store, ed, target, values, datum="gcj02", lang="en", **WHY)
    assert moved.status == "applied" and moved.change is not None
    assert moved.change.action == "move"
    row = store.facility("JD-008")
    assert row is not None
    assert abs(float(row["lon"]) - 121.2385) < 2e-6 and abs(float(row["lat"]) - 31.4121) < 2e-6
    assert moved.target is not None and moved.target["version"] == 2
    values = form_values(moved.target["row"])
    values.update(name_en="Renamed")
    renamed = save_facility(store, ed, moved.target, values, datum="wgs84", lang="en", **WHY)
    assert renamed.change is not None and renamed.change.action == "set"
    assert renamed.change.after["name_en"] == "Renamed"
    assert store.facility("JD-008")["version"] == 3  # type: ignore[index]


def test_a_stale_save_is_a_conflict_naming_who_and_when(store):
    target = loaded(store, "SJ-007")
    store.propose("root", "set", "SJ-007", {"name_en": "first"}, expect_version=1, **WHY)
    values = form_values(target["row"])
    values.update(address="typed by ed")
    result = save_facility(store, user(store, "ed"), target, values, datum="wgs84",
                           lang="en", **WHY)
    assert result.status == "conflict" and result.target is None
    assert "is at version 2, not 1: changed by root at 20" in result.problems[0]
    assert store.facility("SJ-007")["address"] != "typed by ed"  # type: ignore[index]


def test_retire_keeps_the_row_with_its_reason(store):
    ed = user(store, "ed")
    assert retire_facility(store, ed, {"mode": "add"}, lang="en", **WHY).status == "invalid"
    result = retire_facility(store, ed, loaded(store, "NH-012"), lang="en",
                             reason="closed", source="notice 2026-11")
    assert result.status == "applied" and result.target == {"mode": "add"}
    row = store.facility("NH-012")
    assert row is not None and row["retired"] is True and row["retired_reason"] == "closed"
    # A parent cannot go while children point at it: the loader says so.
    parent = retire_facility(store, ed, loaded(store, "JD-011"), lang="en", **WHY)
    assert parent.status == "invalid" and "parent_id" in " ".join(parent.problems)
    assert store.facility("JD-011")["retired"] is False  # type: ignore[index]


def test_restore_brings_a_retired_facility_back_as_a_checked_change(store, reviewed):
    ed = user(store, "ed")
    assert restore_facility(store, ed, loaded(store, "NH-012"), lang="en",
                            **WHY).status == "invalid"  # not retired: nothing to restore
    store.propose("ed", "set", "NH-012", {"name_en": "Renamed first"}, **WHY)
    store.propose("ed", "retire", "NH-012", reason="closed", source="notice")
    retired = {**loaded(store, "NH-012"), "mode": "retired"}
    assert save_facility(store, ed, retired, form_values(retired["row"]), datum="wgs84",
                         lang="en", **WHY).status == "invalid"  # restore before editing
    assert restore_facility(store, ed, retired, lang="en", reason="",
                            source="x").field_errors == {"reason": "required"}
    stale = {**retired, "version": 2}
    assert restore_facility(store, ed, stale, lang="en", **WHY).status == "conflict"
    result = restore_facility(store, ed, retired, lang="en", **WHY)
    assert result.status == "applied" and result.target is not None
    assert result.target["mode"] == "edit" and result.target["version"] == 4
    row = store.facility("NH-012")
    assert row is not None and row["retired"] is False and row["name_en"] == "Renamed first"
    assert [c.action for c in store.history("NH-012")] == ["set", "retire", "revert"]
    # With review on, an editor's restore is a proposal like any other edit.
    reviewed.propose("root", "retire", "NH-012", reason="closed", source="notice")
    proposal = restore_facility(reviewed, user(reviewed, "ed"),
                                {**loaded(reviewed, "NH-012"), "mode": "retired"}, lang="en",
                                **WHY)
    assert proposal.status == "proposed" and reviewed.facility("NH-012")["retired"] is True  # type: ignore[index]


# ----------------------------------------------------------------- over HTTP, by hand
def _submit_request(app, values: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """The request the browser sends when Save is pressed, built from the app's own
    callback list (what anyone could replay with curl)."""
    client = app.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if d["output"].startswith(f"..{ids.EDIT_SUMMARY}.children@"))
    errors = [{"id": {"field": f, "type": ids.EDIT_ERROR}, "property": "children"}
              for f in (*FIELD_KINDS, *CHANGE_FIELDS)]
    outputs = [{"id": ids.EDIT_SUMMARY, "property": "children"}, errors,
               {"id": ids.EDIT_TARGET, "property": "data"},
               {"id": ids.DATA_REVISION, "property": "data"}]
    states = [[{"id": {"field": f, "type": ids.EDIT_FIELD}, "property": "value",
                "value": values[f]} for f in FIELD_KINDS],
              {"id": ids.EDIT_DATUM, "property": "value", "value": "wgs84"},
              {"id": ids.EDIT_REASON, "property": "value", "value": WHY["reason"]},
              {"id": ids.EDIT_SOURCE, "property": "value", "value": WHY["source"]},
              {"id": ids.EDIT_TARGET, "property": "data", "value": target},
              {"id": ids.PAGE_LANG, "property": "data", "value": "en"}]
    assert [s["id"] for s in dep["state"]] == [
        json.dumps({"field": ["ALL"], "type": ids.EDIT_FIELD}, separators=(",", ":")),
        ids.EDIT_DATUM, ids.EDIT_REASON, ids.EDIT_SOURCE, ids.EDIT_TARGET, ids.PAGE_LANG]
    return {"output": dep["output"], "outputs": outputs,
            "inputs": [{"id": ids.EDIT_SAVE, "property": "n_clicks", "value": 1},
                       {"id": ids.EDIT_RETIRE, "property": "n_clicks", "value": None},
                       {"id": ids.EDIT_RESTORE, "property": "n_clicks", "value": None}],
            "state": states, "changedPropIds": [f"{ids.EDIT_SAVE}.n_clicks"]}


@pytest.mark.parametrize("who", [None, "view"])
def test_a_replayed_save_without_the_editor_role_is_refused_and_changes_nothing(store, who):
    swaps: list[int] = []
    app = create_app(store.atlas(), store=store, on_change=lambda: swaps.append(1) or 1)
    client = app.server.test_client()
    if who is not None:
        assert client.post("/auth/login", data={"name": who, "password": PASSWORDS[who]},
                           headers=ORIGIN).status_code == 303
    body = _submit_request(app, new_row(), {"mode": "add"})
    revision = store.revision()
    response = client.post("/_dash-update-component", json=body, headers=ORIGIN)
    assert response.status_code == 200
    text = json.dumps(response.get_json(), ensure_ascii=False)
    assert "Refused:" in text
    assert ("sign in first" in text) if who is None else ("view is a viewer" in text)
    assert store.facility("JD-950") is None and store.revision() == revision and not swaps


def test_a_save_by_a_signed_in_editor_commits_and_reports_the_new_revision(store):
    app = create_app(store.atlas(), store=store, on_change=store.revision)
    client = app.server.test_client()
    client.post("/auth/login", data={"name": "ed", "password": PASSWORDS["ed"]},
                headers=ORIGIN)
    response = client.post("/_dash-update-component",
                           json=_submit_request(app, new_row(), {"mode": "add"}),
                           headers=ORIGIN).get_json()["response"]
    assert store.facility("JD-950") is not None
    assert response[ids.DATA_REVISION]["data"] == store.revision() == 1
    assert response[ids.EDIT_TARGET]["data"]["version"] == 1


def test_the_edit_tab_is_there_only_when_a_store_is_served(store, bundled_atlas):
    from dashboard.callbacks.page import store_panels
    from dashboard.components.page import page
    from dashboard.mapdata import MapData
    from dashboard.urlstate import parse_state

    mapdata = MapData(bundled_atlas)
    state = parse_state("?tab=edit")
    assert set(store_panels(store, None, "en")) == {"edit"}  # everyone sees it; saving checks
    assert set(store_panels(store, user(store, "root"), "en")) == {"edit", "review"}
    assert store_panels(None, None, "en") == {}
    with_store = str(page(mapdata, state, tianditu_key=None, store_served=True,
                          extra_panels=store_panels(store, None, "en")))
    without = str(page(mapdata, state, tianditu_key=None))
    assert "panel-edit" in with_store and "tab-edit" in with_store
    assert "panel-edit" not in without and "tab-edit" not in without
