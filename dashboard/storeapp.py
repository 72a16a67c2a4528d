"""Serve a store read-only: one Dash app per approved revision, swapped between requests."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from dash import Dash

from dashboard.app import warm_up
from dashboard.callbacks.filters import first_view
from dashboard.mapdata import MapData
from geo.store import Store

log = logging.getLogger("newtown")

#: How often the watcher asks the store for its revision (one indexed read), seconds; on
#: PostgreSQL the watcher is woken by LISTEN/NOTIFY and this is only the fallback.
POLL_S = 0.2

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class StoreServer:
    """A WSGI app that serves the store's current approved revision.

    A watcher thread waits for the store's revision to move (PostgreSQL: LISTEN/NOTIFY,
    with a poll as a fallback; SQLite: a poll of one indexed read); then the new Atlas is
    patched from the previous one (only the changed rows are validated), its display data
    derived from the previous revision's (``MapData.following``: the boundaries shared,
    per-facility columns recomputed only for changed rows), a Dash app made on it, and the
    pair swapped in with one assignment. Each request runs entirely on the app it started
    with, so no request sees half of a change; per-user state lives in the URL and the
    browser, so switching apps between requests is invisible. Every response carries
    ``X-Newtown-Revision``. ``make_app(atlas, mapdata=..., store=..., private=...,
    on_change=...)`` builds an app (``create_app``).
    """

    def __init__(self, store: Store, make_app: Callable[..., Dash], *, poll_s: float = POLL_S,
                 private: bool = False):
        self._store = store
        # Each revision's app gets the store (sign-in, editing), the private flag and a way to
        # make the server serve a change its own callback just committed (``sync``).
        self._make_app = functools.partial(make_app, store=store, private=private,
                                           on_change=self.sync)
        self._poll_s = poll_s
        self._swap = threading.Lock()  # one rebuild at a time (watcher and callbacks)
        revision, atlas = store.versioned_atlas()
        self._mapdata = MapData(atlas)
        self._current: tuple[int, Dash] = (revision,
                                           self._make_app(atlas, mapdata=self._mapdata))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="store-watcher", daemon=True)
        self._thread.start()

    @property
    def revision(self) -> int:
        """The revision being served."""
        return self._current[0]

    @property
    def app(self) -> Dash:
        """The Dash app of the revision being served."""
        return self._current[1]

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self._store.wait_for_revision(self._current[0], timeout_s=self._poll_s,
                                              stop=self._stop)
                if not self._stop.is_set():
                    self.refresh()
            except Exception:  # keep serving the last good revision; say why in the log
                log.exception("store watcher: could not build the new revision")
                self._stop.wait(self._poll_s)

    def refresh(self) -> bool:
        """Swap in the store's revision if it moved, then warm its first views; True if it did.

        The swap comes first: a change is served as soon as its Atlas and app exist; the
        first views (cached per MapData, computed on demand by whichever request needs one
        first) are warmed after it.
        """
        with self._swap:
            swapped = self._refresh()
            mapdata = self._mapdata
        if swapped:
            self._warm(mapdata)
        return swapped

    def sync(self) -> int:
        """Serve the store's latest revision now (a callback committed a change); return it.

        Called inside the callback that committed, so the browser's next request (the
        selection it triggers through ``ids.DATA_REVISION``) is served by the new revision.
        The callback answers without waiting for the first views: a thread warms them.
        """
        with self._swap:
            swapped = self._refresh()
            mapdata = self._mapdata
        if swapped:
            threading.Thread(target=self._warm, args=(mapdata,), name="store-warm",
                             daemon=True).start()
        return self.revision

    @staticmethod
    def _warm(mapdata: MapData) -> None:
        try:
            warm_up(mapdata)
        except Exception:  # only a cache: the views are computed again on demand
            log.exception("store: could not warm the new revision's first views")

    def _refresh(self) -> bool:
        if self._store.revision() == self._current[0]:
            return False
        started = time.perf_counter()
        revision, atlas = self._store.versioned_atlas()
        mapdata = MapData.following(self._mapdata, atlas)
        # The shared first views are cached per MapData: drop the old revision's, or every
        # revision served would stay in memory with them.
        first_view.cache_clear()
        app = self._make_app(atlas, mapdata=mapdata, warm=False)
        self._mapdata, self._current = mapdata, (revision, app)
        log.info("serving revision %d (%d facilities), built in %.2f s", revision,
                 len(atlas.facilities), time.perf_counter() - started)
        return True

    def close(self) -> None:
        """Stop the watcher."""
        self._stop.set()
        self._thread.join(timeout=5)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        revision, app = self._current  # one tuple read: app and revision belong together

        def start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            return start_response(status, [*headers, ("X-Newtown-Revision", str(revision))],
                                  *exc)

        return app.server.wsgi_app(environ, start)  # type: ignore[no-any-return]
