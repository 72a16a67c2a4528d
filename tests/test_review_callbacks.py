"""The review and history callbacks on a served store, called as the browser calls them:
what each role gets back, and that refusals change nothing."""

from __future__ import annotations

import json

import pytest

from dashboard import ids
from dashboard.app import create_app
from geo.store import init_store

ORIGIN = {"Origin": "http://localhost"}
PASSWORDS = {"root": "root-password", "ed": "ed-password", "rev": "rev-password",
             "view": "view-password"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with init_store(tmp_path_factory.mktemp("review") / "atlas.gpkg") as store:
        store.add_user("root", "admin", PASSWORDS["root"], actor=None)
        for name, role in (("ed", "editor"), ("rev", "reviewer"), ("view", "viewer")):
            store.add_user(name, role, PASSWORDS[name], actor="root")
        yield store, create_app(store.atlas(), store=store)


def client_as(app, name):
    client = app.server.test_client()
    if name is not None:
        r = client.post("/auth/login", json={"name": name, "password": PASSWORDS[name]},
                        headers=ORIGIN)
        assert r.status_code == 200
    return client


def call(client, output, inputs, state=(), changed=(), key=None):
    outputs = [{"id": i, "property": p} for i, p in output]
    body = {"output": key or "..".join(f"{i}.{p}" for i, p in output),
            "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
            "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
            "changedPropIds": list(changed)}
    if len(outputs) > 1 and key is None:
        body["output"] = ".." + body["output"] + ".."
    r = client.post("/_dash-update-component", json=body, headers=ORIGIN)
    assert r.status_code == 200, r.text
    return json.loads(r.text)["response"]


def proposals_layer(client):
    return call(client, [(ids.PROPOSALS, "data")],
                [(ids.DATA_REVISION, "data", None), (ids.BASEMAP, "value", "none")],
                [(ids.PAGE_LANG, "data", "en")])[ids.PROPOSALS]["data"]


def test_the_proposals_layer_is_for_editors_and_reviewers_only(served):
    store, app = served
    change = store.propose("ed", "move", "JD-002", {"lon": 121.25, "lat": 31.38},
                           reason="<b>gate</b>", source="AMap")
    try:
        for name in (None, "view"):
            assert proposals_layer(client_as(app, name)) is None
        for name in ("ed", "rev", "root"):
            layer = proposals_layer(client_as(app, name))
            mine = [f for f in layer["features"] if f["properties"]["change"] == change.change_id]
            assert mine[0]["geometry"]["coordinates"] == [121.25, 31.38]
            assert "&lt;b&gt;" not in mine[0]["properties"]["tooltip"]  # reason not shown
            assert "<" not in mine[0]["properties"]["tooltip"]
        gcj = call(client_as(app, "rev"), [(ids.PROPOSALS, "data")],
                   [(ids.DATA_REVISION, "data", None), (ids.BASEMAP, "value", "amap")],
                   [(ids.PAGE_LANG, "data", "en")])[ids.PROPOSALS]["data"]
        moved = [f for f in gcj["features"] if f["properties"]["change"] == change.change_id]
        assert moved[0]["geometry"]["coordinates"] != [121.25, 31.38]  # shifted to GCJ-02
    finally:
        store.reject(change.change_id, "rev", "test done")


def test_the_queue_is_refused_below_reviewer(served):
    store, app = served
    change = store.propose("ed", "set", "JD-004", {"name_en": "Queued"}, reason="q", source="s")

    def queue(name):
        body = {"output": f"{ids.REVIEW_QUEUE}.children",
                "outputs": {"id": ids.REVIEW_QUEUE, "property": "children"},
                "inputs": [{"id": ids.DATA_REVISION, "property": "data", "value": None},
                           {"id": ids.REVIEW_REFRESH, "property": "n_clicks", "value": None},
                           {"id": ids.REVIEW_MARK, "property": "data", "value": None}],
                "state": [[], [],  # the comment boxes (values, ids): none typed
                          {"id": ids.PAGE_LANG, "property": "data", "value": "en"}],
                "changedPropIds": []}
        r = client_as(app, name).post("/_dash-update-component", json=body, headers=ORIGIN)
        assert r.status_code == 200, r.text
        return json.dumps(json.loads(r.text)["response"])

    try:
        for name, expected in ((None, "Refused: sign in first"), ("view", "view is a viewer"),
                               ("ed", "ed is a editor")):
            text = queue(name)
            assert expected in text and "Queued" not in text
        assert f"proposal-{change.change_id}" in queue("rev") and "Queued" in queue("rev")
    finally:
        store.reject(change.change_id, "rev", "test done")


def test_a_stale_revert_is_refused_with_who_changed_it(served):
    store, app = served
    row = store.facility("JD-003")
    store.propose("root", "set", "JD-003", {"address": "first"}, reason="r", source="s")
    # the key Dash gives the callback (its DATA_REVISION output carries allow_duplicate)
    key = next(k for k in app.callback_map if k.startswith(f"..{ids.REVERT_STATUS}.children"))
    out = call(client_as(app, "root"),
               [(ids.REVERT_STATUS, "children"), (ids.DATA_REVISION, "data")],
               [(ids.REVERT_BUTTON, "n_clicks", 1)],
               [(ids.HISTORY_FACILITY, "data", {"id": "JD-003", "version": row["version"]}),
                (ids.REVERT_VERSION, "value", 1), (ids.REVERT_REASON, "value", "why"),
                (ids.REVERT_SOURCE, "value", "src"), (ids.PAGE_LANG, "data", "en")],
               changed=[f"{ids.REVERT_BUTTON}.n_clicks"], key=key)
    text = json.dumps(out, ensure_ascii=False)
    assert "Refused: facility JD-003 is at version" in text and "changed by root" in text
    assert store.history("JD-003")[-1].action == "set"  # nothing written


def test_the_review_queue_poll_answers_reviewers_only_and_only_when_the_queue_moved(served):
    """The Review tab's poll replayed as the browser sends it: a reviewer gets the queue's
    state once, nothing while it stays the same, the new state after a proposal; an editor,
    a viewer and an anonymous caller get nothing (204), whatever they send."""

    store, app = served

    def poll(client, shown):
        body = {"output": f"{ids.REVIEW_MARK}.data",
                "outputs": {"id": ids.REVIEW_MARK, "property": "data"},
                "inputs": [{"id": ids.REVIEW_TICK, "property": "data", "value": 1}],
                "state": [{"id": ids.REVIEW_MARK, "property": "data", "value": shown}],
                "changedPropIds": [f"{ids.REVIEW_TICK}.data"]}
        return client.post("/_dash-update-component", json=body, headers=ORIGIN)

    reviewer = client_as(app, "rev")
    first = poll(reviewer, None)
    assert first.status_code == 200
    mark = json.loads(first.text)["response"][ids.REVIEW_MARK]["data"]
    assert mark == list(store.queue_state())
    assert poll(reviewer, mark).status_code == 204  # unchanged: no redraw
    change = store.propose("ed", "set", "JD-004", {"name_en": "Polled"}, reason="r",
                           source="s")
    moved = json.loads(poll(reviewer, mark).text)["response"][ids.REVIEW_MARK]["data"]
    assert moved == [change.change_id, mark[1] + 1]
    for name in ("ed", "view", None):
        assert poll(client_as(app, name), None).status_code == 204
    store.reject(change.change_id, "rev", "test done")
