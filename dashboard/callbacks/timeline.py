"""The as-of year slider's play button: step the year from the first mark to today."""

from __future__ import annotations

from dash import Dash, Input, Output, State, ctx

from dashboard import ids
from dashboard.i18n import t
from dashboard.state import AS_OF_ALL, AS_OF_FIRST

#: The last year the slider plays to (the position after it means "all years").
LAST_YEAR = AS_OF_ALL - 1


def play_step(position: int | None) -> tuple[int, bool]:
    """The next slider position while playing, and whether playing goes on after it.

    From the "all" end or the last year, play starts again at the first year.
    """
    if position is None or int(position) >= LAST_YEAR:
        return AS_OF_FIRST, True
    year = int(position) + 1
    return year, year < LAST_YEAR


def register(app: Dash) -> None:
    @app.callback(
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
    def play(_clicks: int | None, _ticks: int | None, position: int | None,
             stopped: bool | None, lang: str | None) -> tuple[int, bool, str]:
        lang = lang or "zh"
        if ctx.triggered_id == ids.AS_OF_PLAY and not stopped:
            # playing: the button stops it where it is
            return int(position if position is not None else AS_OF_ALL), True, \
                t("as_of_play", lang)
        if ctx.triggered_id == ids.AS_OF_TICK and stopped:
            return int(position if position is not None else AS_OF_ALL), True, \
                t("as_of_play", lang)
        year, going = play_step(position)
        return year, not going, t("as_of_stop" if going else "as_of_play", lang)
