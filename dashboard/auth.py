"""Sign-in for a served store: the session cookie, who is signed in, role checks, /auth routes.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure with
``NEWTOWN_SECURE_COOKIES=1``) holding the account name and the secret token of a session
recorded in the store (``Store.open_session``; the store keeps only the token's hash); the key
that signs it is ``NEWTOWN_SECRET_KEY`` or a random key kept in the store
(``Store.session_secret``), so every server process and every Dash app built for a new
revision accept the same cookies. The session and its account are looked up in the store on
every request: signing out, ``newtown users revoke``, a password change and ``newtown users
disable`` end a session at once, in every process. Passwords and cookies are never logged.
"""

from __future__ import annotations

import html
import logging
import os
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, g, has_request_context, jsonify, redirect, request, session

from geo._errors import AccessDeniedError, TooManyAttemptsError
from geo.store import Store, User
from geo.store.accounts import ROLE_RANK, at_least

log = logging.getLogger("newtown")

#: Session keys: the account name and the secret token of this sign-in's store session.
SESSION_USER = "user"
SESSION_ID = "sid"
COOKIE_NAME = "newtown_session"
#: How long a sign-in lasts without signing in again.
SESSION_HOURS = 12
LOGIN_PATH = "/auth/login"
LOGOUT_PATH = "/auth/logout"


def signed_in(store: Store) -> User | None:
    """The active account of this request's session; None when signed out, when the session
    was ended (sign-out, revoked, password changed) or expired, or the account is disabled.

    Looked up in the store once per request (kept in ``flask.g`` for the rest of it), so a
    revoked session or a disabled account loses access at once, in every process.
    """
    if not has_request_context():
        return None
    key = f"newtown_user_{id(store)}"
    if key in g:
        found: User | None = g.get(key)
        return found
    user = _session_user(store)
    setattr(g, key, user)
    return user


def _session_user(store: Store) -> User | None:
    name, token = session.get(SESSION_USER), session.get(SESSION_ID)
    if not isinstance(name, str) or not name or not isinstance(token, str) or not token:
        return None
    found = store.session_user(token)
    if found is None or found[0].name != name:
        return None
    return found[0]


def require(store: Store, role: str) -> User:
    """The signed-in user if their role ranks at or above ``role``; else AccessDeniedError."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")
    user = signed_in(store)
    if user is None:
        raise AccessDeniedError(f"sign in first: this needs the {role} role or higher")
    if not at_least(user.role, role):
        raise AccessDeniedError(f"{user.name} is a {user.role}: this needs the {role} role "
                                "or higher")
    return user


def secret_key(store: Store) -> str:
    """``NEWTOWN_SECRET_KEY`` if set, else the store's own random key."""
    return os.environ.get("NEWTOWN_SECRET_KEY") or store.session_secret()


def safe_next(value: Any) -> str:
    """Where to go after signing in or out: a path on this site only (never another host)."""
    text = value if isinstance(value, str) else ""
    parts = urlsplit(text)
    if (not text.startswith("/") or text.startswith("//") or "\\" in text or parts.scheme
            or parts.netloc):
        return "/"
    return text


def client_address() -> str:
    """The address the request came from (the direct peer; proxies are not trusted)."""
    return request.remote_addr or "unknown"


def _fields() -> Any:
    """The request's form fields, or its JSON object (anything else: no fields)."""
    data: Any = request.get_json(silent=True) if request.is_json else request.form
    return data if hasattr(data, "get") else {}


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def signin_page(message: str = "", *, next_url: str = "/", status: int = 200) -> Response:
    """A minimal page with the sign-in form (for ``--private`` and failed form sign-ins)."""
    note = (f'<p class="nt-auth-error" role="alert">{html.escape(message)}</p>'
            if message else "")
    body = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 Sign in · 新城图谱 New Town Atlas</title>
<style>body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:22rem;
margin:4rem auto;padding:0 1rem}}label{{display:block;margin:.6rem 0}}
input{{width:100%;padding:.4rem;box-sizing:border-box}}.nt-auth-error{{color:#b00020}}
button{{padding:.4rem 1rem}}</style></head>
<body><main><h1>新城图谱 · 登录 / Sign in</h1>{note}
<form method="post" action="{LOGIN_PATH}" id="signin-form">
<label>用户名 / Name <input name="name" id="signin-name" autocomplete="username" required></label>
<label>密码 / Password <input name="password" id="signin-password" type="password"
 autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{html.escape(safe_next(next_url))}">
<button type="submit" id="signin-submit">登录 / Sign in</button>
</form></main></body></html>
"""
    return Response(body, status=status, mimetype="text/html")


#: Paths open to anyone with ``--private`` (the sign-in itself and the health check).
OPEN_PATHS = frozenset({LOGIN_PATH, LOGOUT_PATH, "/healthz"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def same_origin() -> bool:
    """True when the request's Origin (or, lacking one, its Referer) names this server's host.

    Browsers send Origin with every POST from a page (Referer otherwise), so a form or a
    script on another site cannot make a signed-in user's browser change data here.
    """
    claimed = request.headers.get("Origin") or request.headers.get("Referer") or ""
    parts = urlsplit(claimed)
    return bool(parts.scheme in {"http", "https"} and parts.netloc
                and parts.netloc.lower() == request.host.lower())


def configure(server: Flask, store: Store, *, private: bool = False) -> None:
    """Session cookie settings, the signing key, the origin check, ``--private`` and the
    /auth routes, on one Flask server."""
    server.secret_key = secret_key(store)
    server.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("NEWTOWN_SECURE_COOKIES") == "1",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )

    @server.before_request
    def guard() -> Any:
        if request.method not in SAFE_METHODS and not same_origin():
            log.warning("refused %s %s: Origin/Referer is not this site (%s)", request.method,
                        request.path, request.host)
            return Response("403 Forbidden: requests that change data must come from this "
                            "site's own pages (the Origin or Referer header does not match)\n",
                            status=403, mimetype="text/plain")
        if private and request.path not in OPEN_PATHS and signed_in(store) is None:
            if request.method == "GET" and not request.path.startswith("/_dash"):
                return signin_page(next_url=request.full_path.rstrip("?"), status=401)
            return Response("401 Unauthorized: this atlas is private; sign in first\n",
                            status=401, mimetype="text/plain")
        return None

    @server.post(LOGIN_PATH)
    def login() -> Any:
        data = _fields()
        name = str(data.get("name") or "").strip()
        password = str(data.get("password") or "")
        next_url = safe_next(data.get("next"))
        try:
            user = store.sign_in(name, password, client_address())
        except TooManyAttemptsError as exc:
            log.warning("sign-in throttled for %r from %s", name[:64], client_address())
            wait = {"Retry-After": str(exc.retry_after_s)}
            if _wants_json():
                return jsonify(error=str(exc), retry_after=exc.retry_after_s), 429, wait
            page = signin_page(str(exc), next_url=next_url, status=429)
            page.headers.update(wait)
            return page
        except AccessDeniedError as exc:
            log.info("sign-in refused for %r from %s", name[:64], client_address())
            if _wants_json():
                return jsonify(error=str(exc)), 401
            return signin_page(str(exc), next_url=next_url, status=401)
        _, token = store.open_session(user.name, lifetime_s=SESSION_HOURS * 3600,
                                      address=client_address(),
                                      agent=request.user_agent.string or "")
        session.clear()
        session[SESSION_USER] = user.name
        session[SESSION_ID] = token
        session.permanent = True
        log.info("signed in: %s (%s) from %s", user.name, user.role, client_address())
        if _wants_json():
            return jsonify(name=user.name, role=user.role)
        return redirect(next_url, code=303)

    @server.post(LOGOUT_PATH)
    def logout() -> Any:
        next_url = safe_next(_fields().get("next"))
        name, token = session.get(SESSION_USER), session.get(SESSION_ID)
        if isinstance(token, str) and token:
            store.close_session(token)  # the cookie, even if kept somewhere, is dead now
        session.clear()
        if name:
            log.info("signed out: %s", name)
        if _wants_json():
            return jsonify(signed_out=True)
        return redirect(next_url, code=303)
