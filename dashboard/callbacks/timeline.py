"""The as-of year slider's play button: step the year from the first mark to today."""

from __future__ import annotations

import json

from dash import Dash, Input, Output, State

from dashboard import ids
from dashboard.i18n import t
from dashboard.state import AS_OF_ALL, AS_OF_FIRST

#: The last year the slider plays to (the position after it means "all years").
LAST_YEAR = AS_OF_ALL - 1

# Runs in the browser, for the button and every tick: a server round trip here raced the
# 900-ms tick under load (Dash drops a running request of a callback that is triggered again,
# so a tick during Stop's round trip lost the Stop, and play went on). In the browser the
# tick is disabled at once, and a tick reads that. While playing, the button stops where it
# is; otherwise each step is the next year, from the first mark again after the last year or
# "all", and playing stops at the last year.
PLAY_JS = """
function (clicks, ticks, position, stopped, lang) {
    const dc = window.dash_clientside;
    const labels = __LABELS__;
    const label = labels[lang] || labels.zh;
    const trig = dc.callback_context.triggered_id;
    if (trig === "__PLAY__" && !stopped) { return [dc.no_update, true, label.play]; }
    if (trig === "__TICK__" && stopped) { return [dc.no_update, true, label.play]; }
    let year = __FIRST__, going = true;
    if (position !== null && position !== undefined && Number(position) < __LAST__) {
        year = Number(position) + 1;
        going = year < __LAST__;
    }
    return [year, !going, going ? label.stop : label.play];
}
""".replace("__LABELS__", json.dumps(
    {lang: {"play": t("as_of_play", lang), "stop": t("as_of_stop", lang)}
     for lang in ("zh", "en")}, ensure_ascii=False)) \
   .replace("__PLAY__", ids.AS_OF_PLAY).replace("__TICK__", ids.AS_OF_TICK) \
   .replace("__FIRST__", str(AS_OF_FIRST)).replace("__LAST__", str(LAST_YEAR))


def register(app: Dash) -> None:
    app.clientside_callback(  # type: ignore[no-untyped-call]  # unannotated in Dash
        PLAY_JS,
        Output(ids.AS_OF, "value", allow_duplicate=True),
        Output(ids.AS_OF_TICK, "disabled"),
        Output(ids.AS_OF_PLAY, "children"),
        Input(ids.AS_OF_PLAY, "n_clicks"),
        Input(ids.AS_OF_TICK, "n_intervals"),
        State(ids.AS_OF, "value"),
        State(ids.AS_OF_TICK, "disabled"),
        State(ids.PAGE_LANG, "data"),
        prevent_initial_call=True,
    )
