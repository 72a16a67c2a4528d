"""Component ids, in one place so layout, callbacks and browser tests agree."""

URL = "url"
PAGE = "page"
PAGE_LANG = "page-lang"

# filters
TOWN = "filter-town"
INDUSTRY = "filter-industry"
CATEGORY = "filter-category"
LEVEL = "filter-level"
STATUS = "filter-status"
SEARCH = "filter-search"
RESET = "filter-reset"
COUNT = "selection-count"
DRAWN_NOTE = "drawn-note"
DRAWN_AREA = "drawn-area"  # store: the spatial filter, WGS84, as in the URL
DRAWN_LAYER = "layer-drawn-area"

# map
MAP = "map"
BASEMAP = "basemap"
TILES = "tiles"
DATUM_NOTE = "datum-note"
LAYERS = "layers-control"
FACILITIES = "layer-facilities"
TOWNS = "layer-towns"
TOWN_LABELS = "layer-town-labels"
DISTRICTS = "layer-districts"
CORRIDOR = "layer-corridor"
CORRIDOR_LINE = "layer-corridor-line"
ZONE = "layer-zone"
DRAW = "draw-control"
LEGEND = "legend"
DETAILS = "details"
SELECTED = "layer-selected"  # the clicked facility and its precision circle

# summary
SUMMARY_TABLE = "summary-table"
SUMMARY_CHART = "summary-chart"
ZOOM_TOWN = "zoom-town"  # pattern-matching: {"type": ZOOM_TOWN, "town": key}

LANG_LINK = "lang-link"
ERROR_NOTICE = "error-notice"  # shown when a callback fails; the app stays usable

# upload (per-user: the parsed layer lives in the browser, nothing is written on the server)
UPLOAD = "upload"
UPLOAD_DATUM = "upload-datum"
UPLOAD_PAYLOAD = "upload-payload"
UPLOAD_LIMIT = "upload-limit"
UPLOADED = "uploaded"
UPLOAD_STATUS = "upload-status"
UPLOAD_CLEAR = "upload-clear"
UPLOADED_FACILITIES = "layer-uploaded-facilities"
UPLOADED_BOUNDARIES = "layer-uploaded-boundaries"

# export
EXPORT_FORMAT = "export-format"
EXPORT_LAYERS = "export-layers"
EXPORT_DATUM = "export-datum"
EXPORT_BUTTON = "export-button"
EXPORT_STATUS = "export-status"
EXPORT_DOWNLOAD = "export-download"
