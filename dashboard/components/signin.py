"""The sign-in control in the page header (only when a store is served)."""

from __future__ import annotations

from dash import dcc, html

from dashboard import ids
from dashboard.i18n import t
from geo.store import User

LOGIN_ACTION = "/auth/login"
LOGOUT_ACTION = "/auth/logout"


def signin_control(user: User | None, lang: str, next_url: str) -> html.Div:
    """Name + password + button when signed out; "signed in as X (role)" and sign out when in.

    Plain HTML forms posting to /auth/login and /auth/logout: the browser sends the
    password once, to the server's own origin, and the page reloads signed in.
    """
    back = dcc.Input(type="hidden", name="next", value=next_url)
    if user is None:
        return html.Div(html.Form([
            html.Label([html.Span(t("user_name", lang), className="nt-sr-only"),
                        dcc.Input(id=ids.SIGNIN_NAME, name="name", type="text",
                                  placeholder=t("user_name", lang), autoComplete="username",
                                  className="nt-signin-input", required=True)]),
            html.Label([html.Span(t("password", lang), className="nt-sr-only"),
                        dcc.Input(id=ids.SIGNIN_PASSWORD, name="password", type="password",
                                  placeholder=t("password", lang),
                                  autoComplete="current-password",
                                  className="nt-signin-input", required=True)]),
            back,
            html.Button(t("sign_in", lang), id=ids.SIGNIN_BUTTON, type="submit",
                        className="nt-toggle"),
        ], action=LOGIN_ACTION, method="post", className="nt-signin-form"),
            id=ids.SIGNIN, className="nt-signin")
    return html.Div(html.Form([
        html.Span(t("signed_in_as", lang, name=user.name, role=t(f"role_{user.role}", lang)),
                  id=ids.SIGNED_IN_AS, className="nt-signed-in"),
        back,
        html.Button(t("sign_out", lang), id=ids.SIGNOUT_BUTTON, type="submit",
                    className="nt-toggle"),
    ], action=LOGOUT_ACTION, method="post", className="nt-signin-form"),
        id=ids.SIGNIN, className="nt-signin")
