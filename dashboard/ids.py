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
MEMBERSHIP = "filter-membership"
AS_OF = "filter-as-of"
AS_OF_PLAY = "filter-as-of-play"
AS_OF_TICK = "filter-as-of-tick"
SEARCH = "filter-search"
RESET = "filter-reset"
CLEAR_AREA = "clear-area"  # button: remove the drawn-area filter
COUNT = "selection-count"
DRAWN_NOTE = "drawn-note"
DRAWN_AREA = "drawn-area"  # store: the spatial filter, WGS84, as in the URL
DRAWN_LAYER = "layer-drawn-area"

# map
MAP = "map"
#: store: what the map is fitted to ({"bounds", "transition"}, display datum); the browser
#: fits it with the padding of the drawers and cards, again when a drawer opens or closes
MAP_FIT = "map-fit"
BASEMAP = "basemap"
TILES = "tiles"
DATUM_NOTE = "datum-note"
LAYERS = "layers-control"
FACILITIES = "layer-facilities"
#: Placeholders (town/district-level rows): one hollow marker per shared point, never clustered.
PLACEHOLDERS = "layer-placeholders"
AGGREGATE = "layer-aggregate"  # grid counts when too many facilities are selected
MAP_NOTE = "map-note"
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
SUMMARY_FIGURE = "summary-figure"  # store: the chart is drawn only when asked for
SUMMARY_TOGGLE = "summary-toggle"
SUMMARY_HOLDER = "summary-holder"
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

# clusters panel
CL_METHOD = "cl-method"
CL_EPS = "cl-eps"
CL_MIN_SAMPLES = "cl-min-samples"
CL_MIN_CLUSTER = "cl-min-cluster"
CL_EXTRAS = "cl-extras"
CL_BANDWIDTH = "cl-bandwidth"
CL_CELL = "cl-cell"
CL_RUN = "cl-run"
CL_RESULTS = "cl-results"
CL_STORE = "cl-store"
CL_HULLS = "layer-cl-hulls"
CL_DENSITY = "layer-cl-density"
CL_HOTSPOTS = "layer-cl-hotspots"
CLUSTER_ROW = "cluster-row"  # pattern-matching: {"type": CLUSTER_ROW, "index": n}

# coverage panel
COV_MODE = "cov-mode"
COV_RADIUS = "cov-radius"
COV_PRESET = "cov-preset"
COV_K = "cov-k"
COV_NEW_RADIUS = "cov-new-radius"
COV_RUN = "cov-run"
COV_USE_UPLOAD = "cov-use-upload"
COV_UPLOAD_HINT = "cov-upload-hint"  # why "use my upload" is off (nothing uploaded yet)
COV_RESULTS = "cov-results"
COV_STORE = "cov-store"
COV_LAYER = "layer-cov-covered"
COV_GAPS = "layer-cov-gaps"
COV_SITES = "layer-cov-sites"

# frame: drawers, tabs, indicator cards, details popup
FRAME = "frame"  # the map and its drawers; its classes say which drawer/tab is open
UI = "ui-state"  # store: {"tab": name or None, "filters": bool}, mirrored in the URL
FILTERS_DRAWER = "drawer-filters"
PANELS_DRAWER = "drawer-panels"
TOGGLE_FILTERS = "toggle-filters"
TOGGLE_PANELS = "toggle-panels"
TAB = "tab"  # pattern-matching: {"type": TAB, "tab": name}; its panel's id is f"panel-{name}"
CARDS = "cards"
DETAILS_POPUP = "details-popup"
DETAILS_CLOSE = "details-close"

# scorecard tab: the towns side by side, and the PDF brief
SC_RADIUS = "sc-radius"
SC_SINCE = "sc-since"
SC_AS_OF = "sc-as-of"
SC_RUN = "sc-run"
SC_RESULTS = "sc-results"
SC_GROWTH = "sc-growth"  # the growth chart: follows the filter and the as-of year
BRIEF_TOWN = "brief-town"
BRIEF_BUTTON = "brief-button"
BRIEF_DOWNLOAD = "brief-download"
BRIEF_STATUS = "brief-status"

# a served store (issue 14): the data revision shown, sign-in
#: store: the store revision the page shows. A callback that commits a change writes the
#: revision ``on_change()`` returns here; the selection (map, summary, cards) takes it as an
#: Input, so the map shows the change without a reload.
DATA_REVISION = "data-revision"
SIGNIN = "signin"
SIGNIN_NAME = "signin-name"
SIGNIN_PASSWORD = "signin-password"
SIGNIN_BUTTON = "signin-button"
SIGNED_IN_AS = "signed-in-as"
SIGNOUT_BUTTON = "signout-button"
# review queue (a tab for reviewers), proposals layer, history in the details popup
REVIEW_QUEUE = "review-queue"
REVIEW_STATUS = "review-status"
REVIEW_REFRESH = "review-refresh"
REVIEW_POLL = "review-poll"  # interval of the Review tab (ticks in the browser only)
REVIEW_TICK = "review-tick"  # store: a tick passed on only while the Review tab is open
REVIEW_MARK = "review-mark"  # store: the queue's state last shown (latest change id, pending)
REVIEW_APPROVE = "review-approve"  # pattern-matching: {"type": REVIEW_APPROVE, "change": n}
REVIEW_REJECT = "review-reject"  # pattern-matching: {"type": REVIEW_REJECT, "change": n}
REVIEW_COMMENT = "review-comment"  # pattern-matching: {"type": REVIEW_COMMENT, "change": n}
PROPOSALS = "layer-proposals"
HISTORY = "history"
HISTORY_FACILITY = "history-facility"  # store: {"id": facility id, "version": n}
REVERT_VERSION = "revert-version"
REVERT_REASON = "revert-reason"
REVERT_SOURCE = "revert-source"
REVERT_BUTTON = "revert-button"
REVERT_STATUS = "revert-status"

# edit tab (serving a store): the facility form, its map handle and the save/retire buttons
EDIT_FIELD = "edit-field"  # pattern-matching: {"type": EDIT_FIELD, "field": column}
EDIT_ERROR = "edit-error"  # pattern-matching: {"type": EDIT_ERROR, "field": column}: its error
EDIT_DATUM = "edit-datum"  # the datum the typed (or clicked) coordinates are in
EDIT_REASON = "edit-reason"
EDIT_SOURCE = "edit-source"  # the citation for the change (not the facility's own source)
EDIT_NEW = "edit-new"
EDIT_LOAD = "edit-load"  # load the facility selected on the map into the form
EDIT_LOAD_ID = "edit-load-id"  # ... or the one whose id is typed here (placeholders too)
EDIT_SAVE = "edit-save"
EDIT_RETIRE = "edit-retire"
EDIT_RESTORE = "edit-restore"  # bring back the retired facility loaded by its ID
EDIT_TARGET = "edit-target"  # store: {"mode": add|edit, "id", "version", "row"} (as loaded)
EDIT_MODE_NOTE = "edit-mode-note"
EDIT_REVIEW_NOTE = "edit-review-note"
EDIT_SUMMARY = "edit-summary"  # the outcome of the last save: saved, proposed, refused, errors
EDIT_LAYER = "layer-edit"  # the draggable handle of the position being edited
EDIT_HANDLE = "edit-handle"  # pattern-matching: {"type": EDIT_HANDLE, "n": 0}
