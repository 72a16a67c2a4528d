"""The frame: open and close the filter drawer and the analysis drawer, switch tabs (in the
browser, no server round trip), and close the details popup. The state lands in a store that
the URL follows (see callbacks.url)."""

from __future__ import annotations

from dash import ALL, Dash, Input, Output, State

from dashboard import ids

# Runs in the browser. ``ui`` is {"tab": open tab or null, "filters": bool, "last": tab}.
TOGGLE_JS = """
function (nFilters, nPanels, nTabs, ui) {
    const dc = window.dash_clientside;
    const ctx = dc.callback_context;
    const trig = ctx.triggered_id;
    const next = Object.assign({tab: null, filters: true, last: "summary"}, ui || {});
    let changed = true;
    if (trig === "__FILTERS__") {
        next.filters = !next.filters;
    } else if (trig === "__PANELS__") {
        next.tab = next.tab ? null : (next.last || "summary");
    } else if (trig && typeof trig === "object" && trig.type === "__TAB__") {
        next.tab = next.tab === trig.tab ? null : trig.tab;
    } else {
        changed = false;  // the page was just drawn: it already shows the state
    }
    // On a narrow screen the drawers overlay the map: one at a time.
    if (changed && window.innerWidth < 1200) {
        if (trig === "__FILTERS__" && next.filters) { next.tab = null; }
        else if (next.tab) { next.filters = false; }
    }
    if (next.tab) { next.last = next.tab; }
    const cls = ["nt-frame", next.filters ? "filters-open" : "filters-closed",
                 next.tab ? "panels-open tab-" + next.tab : "panels-closed"].join(" ");
    const tabs = ctx.outputs_list[2].map(o => o.id.tab);
    // Leaflet measures its container on window resize: tell it the drawers moved (and, on
    // the first call, that the page around it has settled).
    setTimeout(() => window.dispatchEvent(new Event("resize")), changed ? 30 : 0);
    return [changed ? next : dc.no_update, cls,
            tabs.map(t => t === next.tab ? "nt-tab selected" : "nt-tab"),
            tabs.map(t => t === next.tab ? "true" : "false"),
            next.filters ? "true" : "false", next.tab ? "true" : "false",
            next.tab ? "»" : "«"];
}
""".replace("__FILTERS__", ids.TOGGLE_FILTERS).replace("__PANELS__", ids.TOGGLE_PANELS) \
   .replace("__TAB__", ids.TAB)

CLOSE_JS = "function (n) { return 'nt-popup'; }"


def register(app: Dash) -> None:
    app.clientside_callback(  # type: ignore[no-untyped-call]  # unannotated in Dash
        TOGGLE_JS,
        Output(ids.UI, "data"),
        Output(ids.FRAME, "className"),
        Output({"type": ids.TAB, "tab": ALL}, "className"),
        Output({"type": ids.TAB, "tab": ALL}, "aria-selected"),
        Output(ids.TOGGLE_FILTERS, "aria-expanded"),
        Output(ids.TOGGLE_PANELS, "aria-expanded"),
        Output(ids.TOGGLE_PANELS, "children"),
        Input(ids.TOGGLE_FILTERS, "n_clicks"),
        Input(ids.TOGGLE_PANELS, "n_clicks"),
        Input({"type": ids.TAB, "tab": ALL}, "n_clicks"),
        State(ids.UI, "data"),
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]  # unannotated in Dash
        CLOSE_JS,
        Output(ids.DETAILS_POPUP, "className", allow_duplicate=True),
        Input(ids.DETAILS_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )
