"""The page: header, the map with its indicator strip, the filter drawer (left) and the
analysis drawer (right, one tab per panel), built for a language and a URL state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from dash import dcc, html

from dashboard import ids
from dashboard.components import aria
from dashboard.components.cards import cards_strip
from dashboard.components.clusters import clusters_panel
from dashboard.components.coverage import coverage_panel
from dashboard.components.details import details_popup
from dashboard.components.export import export_panel
from dashboard.components.filters import filters_panel
from dashboard.components.map import fit_store, the_map
from dashboard.components.scorecard import scorecard_panel
from dashboard.components.signin import signin_control
from dashboard.components.summary import summary_panel
from dashboard.components.upload import upload_panel
from dashboard.i18n import t
from dashboard.mapdata import MapData
from dashboard.urlstate import TABS, PageState, state_to_search
from geo.ingest import MAX_UPLOAD_BYTES
from geo.store import User


def shell() -> html.Div:
    """What the server sends first: the page itself is rendered from the URL by a callback."""
    return html.Div([
        dcc.Location(id=ids.URL, refresh=False),
        dcc.Store(id=ids.PAGE_LANG),
        html.Div(id=ids.ERROR_NOTICE, className="nt-error", role="alert"),
        # Replaced by the page as soon as the first callback answers.
        html.Div(id=ids.PAGE, children=html.Div("新城图谱 · New Town Atlas …",
                                                 className="nt-boot")),
        dcc.Store(id=ids.DATA_REVISION),
    ])


def frame_class(tab: str | None, filters_open: bool) -> str:
    """Classes of the frame that open and close the drawers and show the open tab (CSS)."""
    return " ".join(["nt-frame", "filters-open" if filters_open else "filters-closed",
                     f"panels-open tab-{tab}" if tab else "panels-closed"])


def _tab_button(name: str, tab: str | None, lang: str) -> html.Button:
    selected = name == tab
    return html.Button(t(f"tab_{name}", lang), id={"type": ids.TAB, "tab": name},
                       className="nt-tab selected" if selected else "nt-tab", role="tab",
                       **aria(selected="true" if selected else "false",
                              controls=f"panel-{name}"))


def page(
    mapdata: MapData,
    state: PageState,
    *,
    tianditu_key: str | None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    store_served: bool = False,
    user: User | None = None,
    extra_panels: Mapping[str, Any] | None = None,
    extra_overlays: Sequence[Any] = (),
    details_extra: Sequence[Any] = (),
) -> html.Div:
    """The whole page for one language, with controls set from the URL state.

    When a store is served (``store_served``) the header has the sign-in control, showing
    ``user`` (the signed-in account) or the sign-in form. ``extra_panels`` (name -> content)
    are more tabs of the right drawer, ``extra_overlays`` more map layers (``dl.Overlay``),
    ``details_extra`` more parts of the details popup (e.g. the review tab, the proposals
    layer and the history, for users whose role may see them).
    """
    extra = dict(extra_panels or {})
    tabs = TABS + tuple(extra)
    # After signing in, come back to the whole URL (?tab=review too).
    back_to = "/" + (state_to_search(state) or "")
    if state.tab is not None and state.tab not in tabs:  # e.g. ?tab=review, signed out
        state = replace(state, tab=None)
    lang = state.lang
    other = "en" if lang == "zh" else "zh"
    switch_href = state_to_search(
        PageState(filter=state.filter, lang=other, basemap=state.basemap, view=state.view,
                  tab=state.tab, filters_open=state.filters_open)) or "?"
    header = html.Header([
        html.Button(["☰ ", t("filters", lang)], id=ids.TOGGLE_FILTERS, className="nt-toggle",
                    title=t("toggle_filters", lang),
                    **aria(label=t("toggle_filters", lang),
                       controls=ids.FILTERS_DRAWER,
                       expanded="true" if state.filters_open else "false")),
        html.H1(t("title", lang)),
        html.Span(t("subtitle", lang), className="sub"),
        html.A(t("switch_lang", lang), id=ids.LANG_LINK, href=switch_href,
               lang="en" if other == "en" else "zh-CN"),
        *([signin_control(user, lang, back_to)]
          if store_served else []),
    ], className="nt-header")

    panels = {
        "summary": summary_panel(lang),
        "scorecard": scorecard_panel(lang),
        "coverage": coverage_panel(lang),
        "clusters": clusters_panel(lang),
        "export": export_panel(lang),
        "upload": upload_panel(lang, max_upload_bytes),
        **extra,
    }
    right = html.Aside([
        html.Div([
            html.Section([html.H2(t(f"tab_{name}", lang), className="nt-panel-title"),
                          panels[name]],
                         id=f"panel-{name}", className="nt-tabpanel", role="tabpanel",
                         **aria(label=t(f"tab_{name}", lang)))
            for name in tabs
        ], className="nt-drawer-body"),
    ], id=ids.PANELS_DRAWER, className="nt-drawer nt-right",
        **aria(label=t("panels", lang)))
    rail = html.Nav([
        html.Button("»" if state.tab else "«", id=ids.TOGGLE_PANELS, className="nt-rail-toggle",
                    title=t("toggle_panels", lang),
                    **aria(label=t("toggle_panels", lang),
                       controls=ids.PANELS_DRAWER,
                       expanded="true" if state.tab else "false")),
        html.Div([_tab_button(name, state.tab, lang) for name in tabs], role="tablist",
                 className="nt-tablist",
                 **aria(orientation="vertical",
                    label=t("panels", lang))),
    ], className="nt-rail")
    left = html.Aside(filters_panel(state, tianditu_key=tianditu_key), id=ids.FILTERS_DRAWER,
                      className="nt-drawer nt-left",
                      **aria(label=t("filters_drawer", lang)))
    centre = html.Main([
        the_map(mapdata, state, tianditu_key=tianditu_key, extra_overlays=extra_overlays),
        fit_store(mapdata, state),
        cards_strip(lang),
        details_popup(lang, extra=details_extra),
        html.Div(id=ids.MAP_NOTE, className="nt-mapnote"),
        html.Div(id=ids.DATUM_NOTE, className="nt-datum",
                 children=t("datum", lang, datum=t(f"datum_{state.datum}", lang))),
    ], className="nt-map")
    return html.Div([
        header,
        html.Div([left, centre, right, rail], id=ids.FRAME,
                 className=frame_class(state.tab, state.filters_open)),
        dcc.Store(id=ids.UI, data={"tab": state.tab, "filters": state.filters_open,
                                   "last": state.tab or "summary"}),
    ], lang="zh-CN" if lang == "zh" else "en", className="nt-page")
