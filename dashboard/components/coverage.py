"""The Coverage tab's controls (the results are drawn by dashboard.callbacks.coverage)."""

from __future__ import annotations

from dash import dcc, html

from dashboard import ids
from dashboard.i18n import t
from geo.coverage import LIFE_CIRCLE_PRESETS_M
from geo.settings import FIXED_RADIUS_M
from geo.style import ANALYSIS_STYLES

#: Legend rows: wording key and colour (from the shared map style).
LEGEND = (("cov_legend_covered", str(ANALYSIS_STYLES["covered"]["color"])),
          ("cov_legend_gap", str(ANALYSIS_STYLES["gap"]["color"])),
          ("cov_legend_site", str(ANALYSIS_STYLES["site"]["fillColor"])))
#: Most new sites a user may ask for.
MAX_SITES = 10
#: The radius mode the tab opens in: each category's radius (geo.settings.DEFAULT_RADIUS_M).
DEFAULT_MODE = "category"


def use_upload_options(lang: str, *, usable: bool) -> list[dict[str, object]]:
    """The "use my uploaded layer" checkbox's option, disabled while nothing usable is
    uploaded."""
    return [{"label": t("cov_use_upload", lang), "value": "use", "disabled": not usable}]


def coverage_panel(lang: str) -> html.Div:
    """The Coverage tab: radius mode, radius or preset, new sites, and the results."""
    presets = [{"label": t("cov_category", lang), "value": "category"},
               {"label": t("cov_fixed", lang), "value": "fixed"}]
    return html.Div([
        # Each category's radius by default, as `newtown coverage` without --radius-m.
        dcc.RadioItems(id=ids.COV_MODE, value=DEFAULT_MODE, inline=True,
                       className="nt-radio-inline", options=presets),
        html.Div([
            html.Label([t("cov_radius", lang),
                        dcc.Input(id=ids.COV_RADIUS, type="number", value=FIXED_RADIUS_M, min=50,
                                  max=30000, step=50, className="nt-num")]),
            html.Label([t("cov_preset", lang),
                        dcc.Dropdown(id=ids.COV_PRESET, clearable=True, className="nt-inline-dd",
                                     options=[{"label": f"{k} ({v:.0f} m)", "value": v}
                                              for k, v in LIFE_CIRCLE_PRESETS_M.items()])]),
        ], className="nt-params"),
        html.Div([
            html.Label([t("cov_k", lang),
                        dcc.Input(id=ids.COV_K, type="number", value=0, min=0, max=MAX_SITES,
                                  step=1, className="nt-num")]),
            html.Label([t("cov_new_radius", lang),
                        dcc.Input(id=ids.COV_NEW_RADIUS, type="number",
                                  value=FIXED_RADIUS_M, min=100,
                                  max=30000, step=100, className="nt-num")]),
        ], className="nt-params"),
        # Off and disabled until the user has uploaded something it can use (see
        # callbacks.coverage.upload_choice), with the hint saying so.
        dcc.Checklist(id=ids.COV_USE_UPLOAD, value=[], className="nt-radio-inline",
                      options=use_upload_options(lang, usable=False)),
        html.Div(t("cov_upload_hint", lang), id=ids.COV_UPLOAD_HINT, className="nt-note"),
        html.Button(t("run", lang), id=ids.COV_RUN, className="nt-btn nt-primary"),
        dcc.Loading(html.Div(id=ids.COV_RESULTS), type="dot"),
        html.Details([html.Summary(t("cl_legend", lang)),
                      *[html.Div([html.Span(className="swatch", style={"background": colour}),
                                  t(key, lang)], className="legend-row")
                        for key, colour in LEGEND]]),
        dcc.Store(id=ids.COV_STORE, storage_type="memory"),
    ])
