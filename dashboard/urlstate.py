"""The page's shareable state (filter, map view, basemap, language, open panels) to and from
the URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode

from dashboard.i18n import normalise_lang
from geo.crs import Datum
from geo.query import Filter, filter_from_params_lenient

BASEMAPS = ("none", "osm", "carto", "tianditu", "amap")
#: Basemaps whose tiles are in GCJ-02: overlays must be shifted to line up with the streets.
GCJ02_BASEMAPS = frozenset({"amap"})
#: The analysis panels, tabs of the right-hand drawer, in order.
TABS = ("summary", "scorecard", "coverage", "clusters", "export", "upload")
#: Tabs shown only when a store is served, to users whose role may use them.
STORE_TABS = ("edit", "review")


@dataclass(frozen=True)
class PageState:
    """Everything a shared link restores."""

    filter: Filter = field(default_factory=Filter)
    lang: str = "zh"
    basemap: str = "none"
    view: tuple[float, float, float] | None = None  # lat, lon, zoom (WGS84)
    tab: str | None = None  # the open analysis tab (right drawer); None: the drawer is closed
    filters_open: bool = True  # the filter drawer (left)
    notices: tuple[str, ...] = ()  # URL parts that could not be understood

    @property
    def datum(self) -> Datum:
        return "gcj02" if self.basemap in GCJ02_BASEMAPS else "wgs84"


def parse_state(search: str | None) -> PageState:
    """Read a ``?query`` string; values that cannot be understood are dropped with a notice
    (``state.notices``, shown on the page), the others are kept."""
    query = parse_qs((search or "").lstrip("?"))
    # One unknown value drops only itself: ?industry=auto&industry=x keeps industry=auto.
    flt, ignored = filter_from_params_lenient(query)
    notices: list[str] = list(ignored)
    lang = normalise_lang(next(iter(query.get("lang", [])), None))
    basemap = (query.get("basemap") or ["none"])[0]
    if basemap not in BASEMAPS:
        notices.append(f"basemap: unknown {basemap!r}; valid: {', '.join(BASEMAPS)}")
        basemap = "none"
    view = None
    if "view" in query:
        try:
            lat, lon, zoom = (float(v) for v in query["view"][0].split(","))
            if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 <= zoom <= 22):
                raise ValueError
            view = (round(lat, 5), round(lon, 5), round(zoom, 2))
        except ValueError:
            notices.append(f"view: expected 'lat,lon,zoom', got {query['view'][0]!r}")
    tab = next(iter(query.get("tab", [])), None)
    if tab is not None and tab not in TABS + STORE_TABS:
        notices.append(f"tab: unknown {tab!r}; valid: {', '.join(TABS)}")
        tab = None
    filters_open = (query.get("filters") or ["on"])[0] != "off"
    return PageState(filter=flt, lang=lang, basemap=basemap, view=view, tab=tab,
                     filters_open=filters_open, notices=tuple(notices))


def state_to_search(state: PageState) -> str:
    """The ``?query`` string for a state; defaults are left out to keep links short."""
    params = state.filter.to_params()
    if state.lang != "zh":
        params["lang"] = state.lang
    if state.basemap != "none":
        params["basemap"] = state.basemap
    if state.view is not None:
        lat, lon, zoom = state.view
        params["view"] = f"{lat:.5f},{lon:.5f},{zoom:g}"
    if state.tab is not None:
        params["tab"] = state.tab
    if not state.filters_open:
        params["filters"] = "off"
    query = urlencode(params, safe=",;|")
    return f"?{query}" if query else ""
