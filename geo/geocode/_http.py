"""HTTP GET, the on-disk answer cache and the rate limiter that every geocoding provider shares."""

from __future__ import annotations

import http.client
import os
import sqlite3
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Final

from geo._errors import InputError

__all__ = ["TRANSIENT_ERRORS", "GeocodeCache", "RateLimiter", "default_cache_path", "http_get"]

#: Network failures worth another try.
TRANSIENT_ERRORS: Final = (urllib.error.URLError, TimeoutError, ConnectionError,
                           http.client.HTTPException)


def default_cache_path() -> Path:
    """``geocode.sqlite`` in the user's cache folder (XDG_CACHE_HOME, Caches, LOCALAPPDATA)."""
    if sys.platform == "win32":
        root = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Caches"
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "newtown" / "geocode.sqlite"


class GeocodeCache:
    """Raw provider answers on disk (SQLite), keyed by (provider, base_url, address, city).

    Only definitive answers (a match or a clean "nothing found") are stored; errors are not,
    so they are retried next run. The raw text is kept, so a later change to the level table
    applies to cached answers too. ``":memory:"`` gives a throw-away cache.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS answers (provider TEXT NOT NULL, base_url TEXT NOT "
                "NULL, address TEXT NOT NULL, city TEXT NOT NULL, fetched_at TEXT NOT NULL, "
                "body TEXT NOT NULL, PRIMARY KEY (provider, base_url, address, city))")
            self._db.commit()
        except sqlite3.Error as exc:
            raise InputError(f"{self.path}: cannot use as a geocoding cache ({exc}); "
                             "pass another path with --cache") from exc

    def get(self, provider: str, base_url: str, address: str, city: str
            ) -> tuple[str, datetime] | None:
        """The stored body and when it was fetched, or None."""
        row = self._db.execute(
            "SELECT body, fetched_at FROM answers WHERE provider=? AND base_url=? AND "
            "address=? AND city=?", (provider, base_url, address, city)).fetchone()
        if row is None:
            return None
        return str(row[0]), datetime.fromisoformat(str(row[1]))

    def put(self, provider: str, base_url: str, address: str, city: str, body: str,
            fetched_at: datetime) -> None:
        """Store one answer body (replacing an older one)."""
        # Committed at once: a run stopped half-way keeps every answer it paid for.
        self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                         (provider, base_url, address, city, fetched_at.isoformat(), body))
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()


class RateLimiter:
    """Keeps at least ``min_interval_s`` between the starts of two requests."""

    def __init__(self, min_interval_s: float, clock: Callable[[], float],
                 sleep: Callable[[float], None]) -> None:
        self.min_interval_s = min_interval_s
        self._clock, self._sleep = clock, sleep
        self._last: float | None = None

    def wait(self) -> None:
        """Sleep until the next request may start."""
        now = self._clock()
        if self._last is not None:
            delay = self._last + self.min_interval_s - now
            if delay > 0:
                self._sleep(delay)
                now = self._clock()
        self._last = now


def http_get(url: str, headers: Mapping[str, str], timeout_s: float) -> tuple[int, str]:
    """GET ``url``; return (HTTP status, body text). Network failures raise."""
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status), response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read().decode("utf-8", errors="replace")
        except (OSError, http.client.HTTPException):
            body = ""
        finally:
            exc.close()
        return int(exc.code), body
