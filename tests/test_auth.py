"""Dashboard sign-in on a served store: session cookie, role checks, origin check, --private."""

from __future__ import annotations

import json
import logging

import pytest

from dashboard import auth
from dashboard.app import create_app
from geo._errors import AccessDeniedError
from geo.store import init_store

ORIGIN = {"Origin": "http://localhost"}
PASSWORDS = {"root": "root-password", "ed": "ed-password", "rev": "rev-password",
             "view": "view-password"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with init_store(tmp_path_factory.mktemp("auth") / "atlas.gpkg") as s:
        s.add_user("root", "admin", PASSWORDS["root"], actor=None)
        s.add_user("ed", "editor", PASSWORDS["ed"], actor="root")
        s.add_user("rev", "reviewer", PASSWORDS["rev"], actor="root")
        s.add_user("view", "viewer", PASSWORDS["view"], actor="root")
        yield s


@pytest.fixture(scope="module")
def app(store):
    app = create_app(store.atlas(), store=store)

    @app.server.get("/test/whoami/<role>")
    def whoami(role: str) -> str:  # a route that checks like an edit callback does
        try:
            user = auth.require(store, role)
        except AccessDeniedError as exc:
            return f"refused: {exc}"
        return f"ok {user.name} {user.role}"

    return app


@pytest.fixture(scope="module")
def private_app(store):
    return create_app(store.atlas(), store=store, private=True)


def sign_in(client, name, password=None, **headers):
    return client.post("/auth/login", data={"name": name, "password": password or
                                            PASSWORDS[name], "next": "/?lang=en"},
                       headers={**ORIGIN, **headers})


def test_sign_in_sets_a_httponly_samesite_cookie_and_require_ranks_roles(app):
    client = app.server.test_client()
    assert client.get("/test/whoami/viewer").text.startswith("refused: sign in first")
    response = sign_in(client, "ed")
    assert response.status_code == 303 and response.headers["Location"] == "/?lang=en"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{auth.COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert client.get("/test/whoami/editor").text == "ok ed editor"
    refused = client.get("/test/whoami/reviewer").text
    assert refused == "refused: ed is a editor: this needs the reviewer role or higher"
    client.post("/auth/logout", headers=ORIGIN)
    assert client.get("/test/whoami/viewer").text.startswith("refused: sign in first")


def test_secure_cookie_flag_from_the_environment(store, monkeypatch):
    monkeypatch.setenv("NEWTOWN_SECURE_COOKIES", "1")
    app = create_app(store.atlas(), store=store)
    response = sign_in(app.server.test_client(), "view")
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_wrong_password_is_refused_and_nothing_secret_is_logged(app, caplog):
    client = app.server.test_client()
    with caplog.at_level(logging.DEBUG):
        bad = client.post("/auth/login", json={"name": "ed", "password": "not-the-password"},
                          headers=ORIGIN)
        good = client.post("/auth/login", json={"name": "rev", "password": PASSWORDS["rev"]},
                           headers=ORIGIN)
    assert bad.status_code == 401 and bad.json == {"error": "unknown user or wrong password"}
    assert "Set-Cookie" not in bad.headers
    assert good.json == {"name": "rev", "role": "reviewer"}
    cookie_value = good.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    assert "signed in: rev (reviewer)" in caplog.text  # the log is really captured
    for secret in ("not-the-password", PASSWORDS["rev"], cookie_value):
        assert secret not in caplog.text


def test_the_session_is_shared_by_every_app_of_the_store(store, app):
    """A new revision's app (or another process) accepts the cookie: the key is the store's."""
    client = app.server.test_client()
    sign_in(client, "rev")
    cookie = client.get_cookie(auth.COOKIE_NAME)
    other = create_app(store.atlas(), store=store).server
    other.get("/test/whoami/<role>")(lambda role: f"{auth.require(store, role).name}")
    second = other.test_client()
    second.set_cookie(auth.COOKIE_NAME, cookie.value)
    assert second.get("/test/whoami/reviewer").text == "rev"


def test_a_disabled_user_loses_access_at_once(tmp_path):
    with init_store(tmp_path / "atlas.gpkg") as store:
        store.add_user("root", "admin", PASSWORDS["root"], actor=None)
        store.add_user("ed", "editor", PASSWORDS["ed"], actor="root")
        app = create_app(store.atlas(), store=store)
        app.server.get("/test/who")(lambda: str(auth.signed_in(store)))
        client = app.server.test_client()
        sign_in(client, "ed")
        assert client.get("/test/who").text.startswith("User(name='ed'")
        store.disable_user("ed", actor="root")
        assert client.get("/test/who").text == "None"


def test_posts_from_another_origin_or_without_one_are_refused(app):
    client = app.server.test_client()
    body = {"name": "ed", "password": PASSWORDS["ed"]}
    assert client.post("/auth/login", data=body).status_code == 403
    assert client.post("/auth/login", data=body,
                       headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/auth/login", data=body,
                       headers={"Origin": "null"}).status_code == 403
    assert client.post("/auth/login", data=body,
                       headers={"Referer": "http://localhost/?lang=en"}).status_code == 303
    assert client.post("/_dash-update-component", json={},
                       headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.get("/healthz").status_code == 200  # reading needs no origin


def test_next_stays_on_this_site():
    for bad in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        assert auth.safe_next(bad) == "/"
    assert auth.safe_next("/?lang=en&tab=summary") == "/?lang=en&tab=summary"


def test_private_serving_needs_a_signed_in_user_except_healthz(private_app):
    client = private_app.server.test_client()
    page = client.get("/")
    assert page.status_code == 401 and 'action="/auth/login"' in page.text
    assert client.get("/_dash-layout").status_code == 401
    assert client.post("/_dash-update-component", json={}, headers=ORIGIN).status_code == 401
    assert client.get("/healthz").status_code == 200
    assert sign_in(client, "view").status_code == 303
    assert client.get("/").status_code == 200
    assert client.get("/_dash-layout").status_code == 200


def test_without_a_store_the_app_is_open_and_has_no_sign_in(bundled_atlas):
    client = create_app(bundled_atlas).server.test_client()
    assert client.post("/auth/login", data={"name": "x"}).status_code in {404, 405}
    assert client.get("/").status_code == 200


def test_store_server_gives_each_app_the_store_and_sync_serves_a_commit_at_once(tmp_path):
    from dashboard.storeapp import StoreServer

    with init_store(tmp_path / "atlas.gpkg") as store:
        store.add_user("root", "admin", PASSWORDS["root"], actor=None)
        server = StoreServer(store, create_app, poll_s=3600)  # no watcher refresh in time
        try:
            client = server.app.server.test_client()
            assert sign_in(client, "root").status_code == 303  # /auth exists: store given
            store.propose("root", "retire", "JD-008", reason="closed", source="notice")
            assert server.sync() == 1 and server.revision == 1
            assert server.sync() == 1  # nothing new: no rebuild
        finally:
            server.close()


def _fresh(tmp_path):
    store = init_store(tmp_path / "atlas.gpkg")
    store.add_user("root", "admin", PASSWORDS["root"], actor=None)
    store.add_user("ed", "editor", PASSWORDS["ed"], actor="root")
    return store


def test_sign_in_failures_are_limited_per_account_across_addresses(tmp_path):
    with _fresh(tmp_path) as store:
        client = create_app(store.atlas(), store=store).server.test_client()
        for i in range(5):  # five addresses, one account
            r = client.post("/auth/login", json={"name": "ed", "password": "wrong-one"},
                            headers=ORIGIN, environ_base={"REMOTE_ADDR": f"10.0.0.{i}"})
            assert r.status_code == 401
        # the right password from a sixth address is refused too, with a wait
        r = client.post("/auth/login", json={"name": "ed", "password": PASSWORDS["ed"]},
                        headers=ORIGIN, environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert r.status_code == 429 and "Set-Cookie" not in r.headers
        assert 890 <= int(r.headers["Retry-After"]) <= 900
        assert r.json["retry_after"] == int(r.headers["Retry-After"])
        # another account from a clean address is unaffected
        ok = client.post("/auth/login", json={"name": "root", "password": PASSWORDS["root"]},
                         headers=ORIGIN, environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert ok.status_code == 200


def test_sign_in_failures_are_limited_per_address_across_accounts(tmp_path):
    with _fresh(tmp_path) as store:
        client = create_app(store.atlas(), store=store).server.test_client()
        for name in ("a1", "a2", "a3", "a4", "a5"):  # one address guessing names
            assert client.post("/auth/login", data={"name": name, "password": "x" * 9},
                               headers=ORIGIN).status_code == 401
        form = client.post("/auth/login", data={"name": "ed", "password": PASSWORDS["ed"]},
                           headers=ORIGIN)
        assert form.status_code == 429 and "try again in" in form.text
        assert int(form.headers["Retry-After"]) > 0
        other = client.post("/auth/login", data={"name": "ed", "password": PASSWORDS["ed"]},
                            headers=ORIGIN, environ_base={"REMOTE_ADDR": "10.9.9.9"})
        assert other.status_code == 303


def test_the_failure_count_is_in_the_store_so_every_process_agrees(tmp_path):
    """A second Store object (as another server process would open) sees the same count."""
    from geo._errors import TooManyAttemptsError
    from geo.store import open_store

    with _fresh(tmp_path) as store:
        for _ in range(5):
            with pytest.raises(AccessDeniedError):
                store.sign_in("ed", "wrong-password", "10.1.1.1")
        with open_store(store.path) as other, pytest.raises(TooManyAttemptsError) as info:
            other.sign_in("ed", PASSWORDS["ed"], "10.2.2.2")
        assert 0 < info.value.retry_after_s <= 900
        # once the window has passed, the account signs in again
        assert store.sign_in("ed", PASSWORDS["ed"], "10.2.2.2", window_s=0).name == "ed"


def test_private_needs_a_store(capsys):
    from dashboard.cli import main

    assert main(["serve", "--private"]) == 2
    assert "--private needs --store" in capsys.readouterr().err


@pytest.mark.slow
def test_newtown_serve_store_private_over_http(tmp_path):
    """The real command: every page needs sign-in, /healthz stays open, cookies flags hold."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    import requests

    with _fresh(tmp_path) as store:
        path = store.path
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve", "--store",
                               str(path), "--private", "--port", str(port), "--workers", "2"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                assert requests.get(base + "/healthz", timeout=5).status_code == 200
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        page = requests.get(base + "/?lang=en", timeout=10)
        assert page.status_code == 401 and 'action="/auth/login"' in page.text
        assert requests.get(base + "/_dash-layout", timeout=10).status_code == 401
        session = requests.Session()
        signed = session.post(base + "/auth/login", data={"name": "ed",
                                                          "password": PASSWORDS["ed"],
                                                          "next": "/?lang=en"},
                              headers={"Origin": base}, allow_redirects=False, timeout=10)
        assert signed.status_code == 303 and signed.headers["Location"] == "/?lang=en"
        assert "HttpOnly" in signed.headers["Set-Cookie"]
        assert session.get(base + "/?lang=en", timeout=10).status_code == 200
        assert session.get(base + "/_dash-layout", timeout=10).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert PASSWORDS["ed"] not in (tmp_path / "server.log").read_text()


def _serve_private(path, log_path):
    """`newtown serve --store PATH --private` on a free port; (process, base URL) once up."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    log = Path(log_path).open("w")  # noqa: SIM115  # closed with the process
    server = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve", "--store",
                               str(path), "--private", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    server.log = log  # type: ignore[attr-defined]
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            requests.get(base + "/healthz", timeout=5)
            return server, base
        except requests.ConnectionError:
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)


def _cli(*args, stdin=None):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-m", "dashboard.cli", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_a_revoked_cookie_is_refused_at_once_by_every_server_process(tmp_path):
    """Over real HTTP, two `serve --store --private` processes: a cookie works on both; after
    `newtown users revoke` (a third process) both refuse it on the next request; signing out
    kills a copied cookie; a password change ends the rest."""
    import requests

    with _fresh(tmp_path) as store:
        path = store.path
    servers = [_serve_private(path, tmp_path / f"server{i}.log") for i in range(2)]
    (_, one), (_, two) = servers
    try:
        def signed_cookie() -> str:
            r = requests.post(one + "/auth/login", json={"name": "ed",
                                                         "password": PASSWORDS["ed"]},
                              headers={"Origin": one}, timeout=30)
            assert r.status_code == 200
            return r.cookies[auth.COOKIE_NAME]

        def status(base: str, cookie: str) -> int:
            return requests.get(base + "/_dash-layout", cookies={auth.COOKIE_NAME: cookie},
                                timeout=30).status_code

        first = signed_cookie()
        (mine,) = [s["session"] for s in json.loads(
            _cli("users", "sessions", "ed", "--store", str(path), "--json"))]
        second = signed_cookie()
        assert [status(b, c) for b in (one, two) for c in (first, second)] == [200] * 4
        listed = _cli("users", "sessions", "ed", "--store", str(path), "--json")
        sessions = json.loads(listed)
        assert len(sessions) == 2 and {s["address"] for s in sessions} == {"127.0.0.1"}
        assert {"created", "last_seen", "agent"} <= set(sessions[0])
        assert first not in listed and second not in listed  # no secrets
        out = _cli("users", "revoke", "ed", "--session", mine, "--store", str(path),
                   "--user", "root")
        assert "ended 1 session(s) of ed" in out
        assert status(one, first) == 401 and status(two, first) == 401  # at once, both
        assert status(one, second) == 200 and status(two, second) == 200
        # signing out ends the session for a copy of the cookie too
        third = signed_cookie()
        out_r = requests.post(two + "/auth/logout", json={}, headers={"Origin": two},
                              cookies={auth.COOKIE_NAME: third}, timeout=30)
        assert out_r.status_code == 200
        assert status(one, third) == 401
        # a new password ends every remaining session
        _cli("users", "password", "ed", "--password-stdin", "--store", str(path), "--user",
             "root", stdin="a-new-password\n")
        assert status(one, second) == 401 and status(two, second) == 401
        assert _cli("users", "sessions", "ed", "--store", str(path)).strip() == \
            "ed has no open session"
    finally:
        for server, _ in servers:
            server.terminate()
            server.wait(timeout=30)
            server.log.close()  # type: ignore[attr-defined]
    for i in range(2):
        text = (tmp_path / f"server{i}.log").read_text()
        assert PASSWORDS["ed"] not in text and first not in text

