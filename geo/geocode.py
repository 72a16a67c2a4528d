"""Geocode address tables with AMap, Tianditu or Nominatim: cached, rate-limited and honest.

Every filled row says where its point came from (``coord_source``) and how far off it may be
(``coord_precision_m``); no match, an ambiguous match or a match outside Shanghai leaves the
row empty and listed, never guessed. Rows that already have ``lon``/``lat`` are left alone.

Provider answers this module relies on (checked against the providers' published docs):

* AMap Web Service geocoding v3, ``GET https://restapi.amap.com/v3/geocode/geo?key=&address=
  &city=``: JSON ``{"status": "1"|"0", "info", "infocode", "count", "geocodes": [{"location":
  "lng,lat", "level", "formatted_address", "citycode", "adcode", ...}]}``; coordinates are
  GCJ-02; empty fields come back as ``[]``. Source: lbs.amap.com/api/webservice/guide/api/
  georegeo (match-level list as updated 2023-12-07, lbs.amap.com/news/geocoder_api) and the
  info-code table (lbs.amap.com/api/webservice/guide/tools/info: 10001 INVALID_USER_KEY,
  10003 DAILY_QUERY_OVER_LIMIT, 10004 ACCESS_TOO_FREQUENT, ...).
* Tianditu geocoder, ``GET http://api.tianditu.gov.cn/geocoder?ds={"keyWord":"..."}&tk=KEY``:
  ``{"status": "0", "msg": "ok", "location": {"lon", "lat", "level", "score", "keyWord"}}``;
  status 101 = empty result, 404 = error. Coordinates are CGCS2000, which is WGS84 to within
  centimetres (see DESIGN.md). Source: lbs.tianditu.gov.cn/server/geocodinginterface.html.
* Nominatim ``/search?q=&format=jsonv2&limit=``: a JSON list of places with ``lat``, ``lon``
  (WGS84 strings), ``display_name``, ``category`` (``class`` in format=json), ``type``,
  ``place_rank``, ``addresstype``, ``importance``. Source: nominatim.org/release-docs/latest/
  api/Search and api/Output; ranks follow nominatim.org/release-docs/latest/customize/Ranking.
  The public server's usage policy (operations.osmfoundation.org/policies/nominatim) asks for
  at most 1 request/s, a User-Agent naming the application, and caching of results.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import math
import os
import sqlite3
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, get_args

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import __version__
from geo._errors import DataError, Problem
from geo._io import atomic_write, decode_text
from geo.crs import gcj02_to_wgs84, to_metric
from geo.settings import GEOGRAPHIC_CRS, SHANGHAI_BBOX, DataLayout, bundled_data_dir

__all__ = [
    "AMAP_LEVEL_PRECISION_M",
    "COORD_COLUMNS",
    "PROVIDERS",
    "USER_AGENT",
    "Answer",
    "Candidate",
    "GeocodeCache",
    "GeocodeProgress",
    "GeocodeResult",
    "GeocodeStopError",
    "Geocoder",
    "Lookup",
    "ProviderName",
    "Unresolved",
    "default_cache_path",
    "geocode_csv",
    "geocode_table",
    "make_geocoder",
    "nominatim_precision_m",
    "partial_output_path",
    "precision_for_level",
    "read_address_csv",
    "shanghai_outline",
    "write_unresolved_csv",
]

ProviderName = Literal["amap", "tianditu", "nominatim"]
PROVIDERS: Final[tuple[str, ...]] = get_args(ProviderName)

#: Columns the geocoder fills; added at the end of the table when missing.
COORD_COLUMNS: Final = ("lon", "lat", "coord_source", "coord_precision_m")

USER_AGENT: Final = f"newtown-atlas/{__version__} (New Town Atlas geocoder; Python urllib)"

#: Honest radius (metres) of a point matched at each AMap level. Levels not listed here, the
#: ones coarser than a district (国家, 省, 市) and 未知 ("unconfirmed level") count as no match.
AMAP_LEVEL_PRECISION_M: Final[Mapping[str, float]] = MappingProxyType({
    "门牌号": 50.0, "门址": 50.0, "单元号": 50.0, "楼层": 50.0, "房间": 50.0,
    "兴趣点": 100.0, "公交地铁站点": 100.0, "公交站台、地铁站": 100.0,
    "道路交叉路口": 200.0, "住宅区": 200.0,
    "道路": 500.0, "小巷": 500.0,
    "热点商圈": 1000.0,
    "村庄": 1500.0,
    "乡镇": 3000.0, "开发区": 3000.0,
    "区县": 10000.0,
})
#: Tianditu uses the same Chinese level names, plus 地名地址 (a hit in the national place-name
#: and address register, not necessarily a door number: taken as road-level, 500 m).
TIANDITU_LEVEL_PRECISION_M: Final[Mapping[str, float]] = MappingProxyType({
    **AMAP_LEVEL_PRECISION_M, "地名地址": 500.0,
})
#: Nominatim without ``place_rank``: addresstype -> metres (other addresstypes are POIs and
#: buildings, 100 m); city and coarser count as no match.
NOMINATIM_ADDRESSTYPE_PRECISION_M: Final[Mapping[str, float]] = MappingProxyType({
    "road": 500.0, "neighbourhood": 1000.0, "quarter": 1000.0, "hamlet": 1000.0,
    "suburb": 2000.0, "village": 2000.0, "town": 3000.0, "municipality": 3000.0,
    "city_district": 10000.0, "district": 10000.0, "county": 10000.0,
})
_NOMINATIM_TOO_COARSE: Final = frozenset(
    {"city", "state", "province", "region", "country", "continent", "state_district"})

#: AMap info codes that end the run (the key or the account is the problem, not the row).
_AMAP_BAD_KEY: Final = frozenset({"10001", "10002", "10005", "10006", "10007", "10008", "10009",
                                  "10011", "10012", "10013"})
_AMAP_QUOTA: Final = frozenset({"10003", "10044", "10010"})
_AMAP_RATE: Final = frozenset({"10004", "10014", "10015", "10019", "10020", "10021"})

_TRANSIENT_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError,
                     http.client.HTTPException)


@dataclass(frozen=True)
class _ProviderSpec:
    name: str
    label: str
    default_base_url: str
    path: str
    key_env: str | None
    default_min_interval_s: float


_SPECS: Final[Mapping[str, _ProviderSpec]] = MappingProxyType({
    # AMap personal keys allow a few geocoding requests per second; stay just under 3/s.
    "amap": _ProviderSpec("amap", "AMap", "https://restapi.amap.com", "/v3/geocode/geo",
                          "AMAP_KEY", 0.34),
    "tianditu": _ProviderSpec("tianditu", "Tianditu", "https://api.tianditu.gov.cn", "/geocoder",
                              "TIANDITU_KEY", 0.2),
    # The public server's policy: an absolute maximum of 1 request per second.
    "nominatim": _ProviderSpec("nominatim", "Nominatim", "https://nominatim.openstreetmap.org",
                               "/search", None, 1.0),
})
_PUBLIC_NOMINATIM_HOST: Final = "nominatim.openstreetmap.org"


# --------------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Candidate:
    """One place a provider offered, in WGS84; ``precision_m`` None means too coarse to use."""

    lon: float
    lat: float
    level: str
    precision_m: float | None
    label: str = ""


@dataclass(frozen=True)
class Answer:
    """A provider's answer to one address: its candidates, best first (maybe none)."""

    candidates: tuple[Candidate, ...]
    note: str = ""


@dataclass(frozen=True)
class Lookup:
    """An answer with where it came from: the cache or a fresh request, and when it was fetched."""

    answer: Answer
    from_cache: bool
    fetched_at: datetime


class GeocodeStopError(RuntimeError):
    """The provider refused to go on (bad key, quota, rate limit) or could not be reached.

    ``result`` holds what was done before the stop (set by :func:`geocode_table`) and
    ``partial_path`` the file it was written to (set by :func:`geocode_csv`).
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.result: GeocodeResult | None = None
        self.partial_path: Path | None = None


class _RowError(Exception):
    """This address could not be looked up; the run goes on. ``transport``: network trouble."""

    def __init__(self, message: str, *, transport: bool = False) -> None:
        super().__init__(message)
        self.transport = transport


class _TransientError(Exception):
    """A failure worth retrying (HTTP 5xx, timeout, provider engine error)."""


def precision_for_level(provider: str, level: str) -> float | None:
    """Honest radius in metres of a match at ``level`` for a Chinese provider; None = no match."""
    table = {"amap": AMAP_LEVEL_PRECISION_M, "tianditu": TIANDITU_LEVEL_PRECISION_M}.get(provider)
    if table is None:
        raise ValueError(f"precision_for_level: unknown provider {provider!r}; "
                         "expected amap or tianditu (use nominatim_precision_m for Nominatim)")
    return table.get(level.strip())


def nominatim_precision_m(place_rank: int | None, addresstype: str = "") -> float | None:
    """Honest radius in metres of a Nominatim match, from its place rank (else its addresstype).

    Ranks (Nominatim's search ranks): 28-30 POIs, buildings and house numbers (100 m); 21-27
    streets and blocks (500 m); 20 neighbourhoods (1 km); 19 villages/suburbs (2 km); 13-18
    towns and 镇/街道 (3 km); 10-12 counties, i.e. Shanghai's districts (10 km); below 10 is
    a city or coarser: no match.
    """
    if place_rank is not None:
        if place_rank >= 28:
            return 100.0
        if place_rank >= 21:
            return 500.0
        if place_rank == 20:
            return 1000.0
        if place_rank == 19:
            return 2000.0
        if place_rank >= 13:
            return 3000.0
        if place_rank >= 10:
            return 10000.0
        return None
    kind = addresstype.strip()
    if not kind or kind in _NOMINATIM_TOO_COARSE:
        return None
    return NOMINATIM_ADDRESSTYPE_PRECISION_M.get(kind, 100.0)


def _text(value: object) -> str:
    """AMap returns ``[]`` for an empty field; everything else becomes stripped text."""
    if value is None or isinstance(value, list | dict):
        return ""
    return str(value).strip()


def _float(value: object) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _json(body: str, provider: str) -> object:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise _RowError(f"{provider} answered with something that is not JSON "
                        f"({body[:60]!r}...)") from exc


def _parse_amap(body: str) -> Answer:
    doc = _json(body, "AMap")
    if not isinstance(doc, dict):
        raise _RowError(f"AMap answer is not a JSON object: {body[:60]!r}")
    status, infocode, info = _text(doc.get("status")), _text(doc.get("infocode")), _text(
        doc.get("info"))
    if status != "1":
        what = f"AMap infocode {infocode} {info}".strip()
        if infocode in _AMAP_BAD_KEY:
            raise GeocodeStopError(f"{what}: the key was refused; check AMAP_KEY (a Web Service "
                                 "key, with this machine's IP allowed if the key has a whitelist)",
                                 reason="bad key")
        if infocode in _AMAP_QUOTA:
            raise GeocodeStopError(f"{what}: the daily quota is used up; AMap resets it at "
                                 "midnight (Beijing time). Re-run later: answers so far are cached",
                                 reason="quota")
        if infocode in _AMAP_RATE:
            raise GeocodeStopError(f"{what}: too many requests per second/minute; re-run with a "
                                 "larger --min-interval-s (answers so far are cached)",
                                 reason="rate limited")
        if infocode.startswith("100"):
            raise GeocodeStopError(f"{what}: the account or key cannot use this service",
                                 reason="bad key")
        if infocode.startswith("3"):  # 3xxxx: AMap's own engine failed; worth another try
            raise _TransientError(what)
        raise _RowError(what)
    candidates = []
    for item in doc.get("geocodes") or []:
        if not isinstance(item, dict):
            continue
        parts = _text(item.get("location")).split(",")
        lon_g = _float(parts[0]) if len(parts) == 2 else None
        lat_g = _float(parts[1]) if len(parts) == 2 else None
        if lon_g is None or lat_g is None:
            continue
        # AMap answers in GCJ-02: convert to WGS84 before anything is measured or stored.
        lon_w, lat_w = gcj02_to_wgs84(lon_g, lat_g)
        level = _text(item.get("level"))
        candidates.append(Candidate(float(lon_w), float(lat_w), level,
                                    AMAP_LEVEL_PRECISION_M.get(level),
                                    _text(item.get("formatted_address"))))
    return Answer(tuple(candidates), "" if candidates else f"count {_text(doc.get('count')) or 0}")


def _parse_tianditu(body: str) -> Answer:
    doc = _json(body, "Tianditu")
    if not isinstance(doc, dict):
        raise _RowError(f"Tianditu answer is not a JSON object: {body[:60]!r}")
    status, msg = _text(doc.get("status")), _text(doc.get("msg"))
    if status == "101":
        return Answer((), f"status 101 {msg}".strip())
    if status != "0":
        raise _RowError(f"Tianditu status {status or '?'} {msg}".strip())
    loc = doc.get("location")
    if not isinstance(loc, dict):
        return Answer((), "status 0 without a location")
    lon, lat = _float(loc.get("lon")), _float(loc.get("lat"))
    if lon is None or lat is None:
        return Answer((), "status 0 without usable lon/lat")
    level = _text(loc.get("level"))
    score = _text(loc.get("score"))
    label = f"{_text(loc.get('keyWord'))} score={score}" if score else _text(loc.get("keyWord"))
    # CGCS2000 is WGS84 to within centimetres: no datum shift.
    return Answer((Candidate(lon, lat, level, TIANDITU_LEVEL_PRECISION_M.get(level), label),))


def _parse_nominatim(body: str) -> Answer:
    doc = _json(body, "Nominatim")
    if isinstance(doc, dict) and "error" in doc:
        raise _RowError(f"Nominatim error: {doc['error']}")
    if not isinstance(doc, list):
        raise _RowError(f"Nominatim answer is not a JSON list: {body[:60]!r}")
    candidates = []
    for item in doc:
        if not isinstance(item, dict):
            continue
        lon, lat = _float(item.get("lon")), _float(item.get("lat"))
        if lon is None or lat is None:
            continue
        rank_value = _float(item.get("place_rank"))
        rank = int(rank_value) if rank_value is not None else None
        kind = _text(item.get("addresstype")) or _text(item.get("type"))
        candidates.append(Candidate(lon, lat, kind, nominatim_precision_m(rank, kind),
                                    _text(item.get("display_name"))))
    return Answer(tuple(candidates), "" if candidates else "empty result list")


_PARSERS: Final[Mapping[str, Callable[[str], Answer]]] = MappingProxyType({
    "amap": _parse_amap, "tianditu": _parse_tianditu, "nominatim": _parse_nominatim,
})


# ----------------------------------------------------------------------------------- cache


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
            raise ValueError(f"{self.path}: cannot use as a geocoding cache ({exc}); "
                             "pass another path with --cache") from exc

    def get(self, provider: str, base_url: str, address: str, city: str
            ) -> tuple[str, datetime] | None:
        row = self._db.execute(
            "SELECT body, fetched_at FROM answers WHERE provider=? AND base_url=? AND "
            "address=? AND city=?", (provider, base_url, address, city)).fetchone()
        if row is None:
            return None
        return str(row[0]), datetime.fromisoformat(str(row[1]))

    def put(self, provider: str, base_url: str, address: str, city: str, body: str,
            fetched_at: datetime) -> None:
        # Committed at once: a run stopped half-way keeps every answer it paid for.
        self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                         (provider, base_url, address, city, fetched_at.isoformat(), body))
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        self._db.close()


# ------------------------------------------------------------------------------ the client


class _RateLimiter:
    """Keeps at least ``min_interval_s`` between the starts of two requests."""

    def __init__(self, min_interval_s: float, clock: Callable[[], float],
                 sleep: Callable[[float], None]) -> None:
        self.min_interval_s = min_interval_s
        self._clock, self._sleep = clock, sleep
        self._last: float | None = None

    def wait(self) -> None:
        now = self._clock()
        if self._last is not None:
            delay = self._last + self.min_interval_s - now
            if delay > 0:
                self._sleep(delay)
                now = self._clock()
        self._last = now


def _http_get(url: str, headers: Mapping[str, str], timeout_s: float) -> tuple[int, str]:
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


class Geocoder:
    """A client for one provider: builds requests, rate-limits, retries, caches, interprets.

    ``sleep`` and ``clock`` are injectable so tests can check waits without waiting.
    """

    def __init__(
        self,
        provider: ProviderName,
        *,
        key: str | None = None,
        base_url: str | None = None,
        cache: GeocodeCache | None = None,
        min_interval_s: float | None = None,
        timeout_s: float = 10.0,
        max_tries: int = 4,
        backoff_s: float = 1.0,
        user_agent: str = USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if provider not in _SPECS:
            raise ValueError(f"unknown geocoding provider {provider!r}; "
                             f"expected one of {', '.join(PROVIDERS)}")
        spec = _SPECS[provider]
        self.provider: str = provider
        self.label = spec.label
        self._spec = spec
        if spec.key_env is not None and not (key or "").strip():
            raise ValueError(f"{spec.label} needs a key: set {spec.key_env} in the environment "
                             "(nothing was sent)")
        self._key = (key or "").strip()
        self.base_url = (base_url or spec.default_base_url).rstrip("/")
        parsed = urllib.parse.urlsplit(self.base_url)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ValueError(f"--base-url must be an http(s) URL such as {spec.default_base_url}, "
                             f"got {base_url!r}")
        self.endpoint = (self.base_url if parsed.path.endswith(spec.path)
                         else self.base_url + spec.path)
        interval = spec.default_min_interval_s if min_interval_s is None else float(min_interval_s)
        if not math.isfinite(interval) or interval < 0:
            raise ValueError(f"min_interval_s must be a number of seconds >= 0, got {interval!r}")
        if parsed.hostname == _PUBLIC_NOMINATIM_HOST and interval < 1.0:
            raise ValueError("the public Nominatim server allows at most 1 request per second "
                             f"(min interval 1.0 s, got {interval} s); point --base-url at your "
                             "own Nominatim to go faster")
        if timeout_s <= 0 or max_tries < 1 or backoff_s < 0:
            raise ValueError("timeout_s must be > 0, max_tries >= 1 and backoff_s >= 0; got "
                             f"{timeout_s}, {max_tries}, {backoff_s}")
        self.timeout_s, self.max_tries, self.backoff_s = timeout_s, max_tries, backoff_s
        self.user_agent = user_agent
        self.cache = cache
        self._limiter = _RateLimiter(interval, clock, sleep)
        self._sleep = sleep
        self.requests_made = 0
        self.cache_hits = 0

    @property
    def min_interval_s(self) -> float:
        return self._limiter.min_interval_s

    def _url(self, address: str, city: str) -> str:
        params: dict[str, str]
        if self.provider == "amap":
            params = {"key": self._key, "address": address, "output": "JSON"}
            if city:
                params["city"] = city
        elif self.provider == "tianditu":
            ds = json.dumps({"keyWord": address}, ensure_ascii=False, separators=(",", ":"))
            params = {"ds": ds, "tk": self._key}
        else:
            # Free-form q cannot be combined with Nominatim's structured city=, so the city
            # is not sent; the answer is checked against Shanghai afterwards anyway.
            params = {"q": address, "format": "jsonv2", "limit": "5", "countrycodes": "cn",
                      "accept-language": "zh"}
        return f"{self.endpoint}?{urllib.parse.urlencode(params)}"

    def lookup(self, address: str, city: str = "") -> Lookup:
        """Answer for one address, from the cache or the provider.

        Raises GeocodeStopError when the run must end, _RowError when only this row fails.
        """
        if self.cache is not None:
            hit = self.cache.get(self.provider, self.base_url, address, city)
            if hit is not None:
                body, fetched_at = hit
                try:
                    answer = _PARSERS[self.provider](body)
                except (_RowError, _TransientError, GeocodeStopError):
                    pass  # an entry that no longer reads as an answer: ask again
                else:
                    self.cache_hits += 1
                    return Lookup(answer, True, fetched_at)
        url = self._url(address, city)
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        last = ""
        transport = False
        for attempt in range(1, self.max_tries + 1):
            self._limiter.wait()
            self.requests_made += 1
            try:
                status, body = _http_get(url, headers, self.timeout_s)
            except _TRANSIENT_ERRORS as exc:
                reason = getattr(exc, "reason", exc)
                last, transport = f"{type(reason).__name__}: {reason}", True
            else:
                if status in {401, 403, 429}:
                    raise GeocodeStopError(self._refusal(status, body),
                                         reason="quota" if status == 429 else "bad key")
                if status >= 500 or status == 408:
                    last, transport = f"HTTP {status}", False
                elif status != 200:
                    raise _RowError(f"{self.label} answered HTTP {status}: {body[:80]!r}")
                else:
                    try:
                        answer = _PARSERS[self.provider](body)
                    except _TransientError as exc:
                        last, transport = str(exc), False
                    else:
                        fetched_at = datetime.now(UTC)
                        if self.cache is not None:
                            self.cache.put(self.provider, self.base_url, address, city, body,
                                           fetched_at)
                        return Lookup(answer, False, fetched_at)
            if attempt < self.max_tries:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
        raise _RowError(f"no answer after {self.max_tries} tries (last: {last})",
                        transport=transport)

    def _refusal(self, status: int, body: str) -> str:
        text = " ".join(body.split())[:120]
        if status == 429:
            advice = ("too many requests or the quota is used up; re-run later or with a larger "
                      "--min-interval-s (answers so far are cached)")
        elif self._spec.key_env is not None:
            advice = f"the key was refused; check {self._spec.key_env}"
        else:
            advice = ("access refused; the public server blocks clients that break its usage "
                      "policy (1 request/s, an identifying User-Agent)")
        return f"{self.label} answered HTTP {status} ({text or 'no body'}): {advice}"

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> Geocoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_geocoder(
    provider: ProviderName,
    *,
    base_url: str | None = None,
    cache_path: str | os.PathLike[str] | None = None,
    min_interval_s: float | None = None,
    timeout_s: float = 10.0,
    max_tries: int = 4,
    backoff_s: float = 1.0,
    environ: Mapping[str, str] | None = None,
) -> Geocoder:
    """A Geocoder with its key from the environment (AMAP_KEY / TIANDITU_KEY) and a disk cache.

    A missing key is a ValueError here, before the cache is opened or anything is sent.
    """
    if provider not in _SPECS:
        raise ValueError(f"unknown geocoding provider {provider!r}; "
                         f"expected one of {', '.join(PROVIDERS)}")
    env = os.environ if environ is None else environ
    key_env = _SPECS[provider].key_env
    key = env.get(key_env, "") if key_env else None
    # Validate everything (key, URL, interval) before touching the cache file.
    Geocoder(provider, key=key, base_url=base_url, min_interval_s=min_interval_s,
             timeout_s=timeout_s, max_tries=max_tries, backoff_s=backoff_s)
    cache = GeocodeCache(cache_path if cache_path is not None else default_cache_path())
    return Geocoder(provider, key=key, base_url=base_url, cache=cache,
                    min_interval_s=min_interval_s, timeout_s=timeout_s, max_tries=max_tries,
                    backoff_s=backoff_s)


# ------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Unresolved:
    """A row left without coordinates, and why (row is 1-based, header not counted)."""

    row: int
    index: Hashable
    address: str
    reason: Literal["no match", "ambiguous", "outside Shanghai", "error", "no address",
                    "bad lon/lat", "stopped"]
    detail: str = ""


@dataclass(frozen=True)
class GeocodeProgress:
    """A snapshot after each row, for progress output."""

    done: int
    total: int
    filled: int
    cache_hits: int
    failures: int
    requests: int


@dataclass
class GeocodeResult:
    """The table with coordinates filled where honest, and the rows left empty."""

    table: pd.DataFrame
    provider: str
    unresolved: list[Unresolved] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    stopped: str | None = None


def shanghai_outline(data_dir: str | os.PathLike[str] | None = None) -> shapely.Geometry | None:
    """The Shanghai city outline (WGS84) from a data folder, or None when it has no such file.

    Reads the same file (and validation) as ``load_atlas().city`` without loading every other
    layer, so a problem in, say, facilities.csv does not block geocoding.
    """
    from geo.boundaries import read_boundaries

    layout = DataLayout(Path(data_dir) if data_dir is not None else bundled_data_dir())
    if not layout.city.is_file():
        return None
    city = read_boundaries(layout.city, kind="city")
    outline = shapely.union_all(city.geometry.to_numpy())
    shapely.prepare(outline)
    return outline


def _inside_shanghai(lon: float, lat: float, outline: shapely.Geometry | None) -> bool:
    min_lon, min_lat, max_lon, max_lat = SHANGHAI_BBOX
    if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
        return False
    return outline is None or bool(shapely.contains_xy(outline, lon, lat))


def _spread_m(candidates: list[Candidate]) -> float:
    """Largest distance between two candidates, metres (EPSG:4549)."""
    if len(candidates) < 2:
        return 0.0
    points = gpd.GeoSeries(gpd.points_from_xy([c.lon for c in candidates],
                                              [c.lat for c in candidates]), crs=GEOGRAPHIC_CRS)
    xy = shapely.get_coordinates(to_metric(points).to_numpy())
    diff = xy[:, None, :] - xy[None, :, :]
    return float(np.sqrt((diff ** 2).sum(axis=-1)).max())


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def geocode_table(
    table: pd.DataFrame,
    geocoder: Geocoder,
    *,
    address_column: str = "address",
    city: str = "上海市",
    outline: shapely.Geometry | None = None,
    ambiguous_m: float = 1000.0,
    max_consecutive_errors: int = 5,
    on_progress: Callable[[GeocodeProgress], None] | None = None,
    file: str = "<table>",
) -> GeocodeResult:
    """Fill lon/lat/coord_source/coord_precision_m for rows without coordinates.

    Returns a copy of ``table`` (same index; the four columns added at the end if missing)
    and the list of rows left empty with the reason. Several usable answers more than
    ``ambiguous_m`` apart make a row ambiguous; closer ones are one place and widen its
    precision. ``outline`` (WGS84, e.g. :func:`shanghai_outline`) refines the bounding-box
    test. ``coord_source`` reads ``geocode:<provider> level=<match level> <date answered>``.
    Raises GeocodeStopError (with ``.result``) when the provider refuses to go on, after
    ``max_consecutive_errors`` rows in a row fail to reach it, or on Ctrl+C.
    """
    if address_column not in table.columns:
        raise DataError(Problem(file, None, address_column, None,
                                f"no address column '{address_column}'; the columns are "
                                f"{', '.join(map(str, table.columns))} (choose one with "
                                "--address-column)"))
    for name in (address_column, *COORD_COLUMNS):
        if list(table.columns).count(name) > 1:
            raise DataError(Problem(file, None, name, None, "column appears more than once"))
    if not ambiguous_m > 0:
        raise ValueError(f"ambiguous_m must be a distance in metres > 0, got {ambiguous_m!r}")
    out = table.astype(object).copy()
    for name in COORD_COLUMNS:
        if name not in out.columns:
            # object, not pandas' default str dtype: the column takes floats and ints too
            out[name] = pd.Series([""] * len(out), index=out.index, dtype=object)
    counts = dict.fromkeys(("rows", "filled", "kept", "blank", "cache_hits", "requests",
                            "no_match", "ambiguous", "outside", "errors", "no_address",
                            "bad_lonlat", "not_attempted"), 0)
    counts["rows"] = len(out)
    result = GeocodeResult(out, geocoder.provider, [], counts)
    requests_before, hits_before = geocoder.requests_made, geocoder.cache_hits
    consecutive_errors = 0
    columns = list(out.columns)
    lon_at, lat_at = columns.index("lon"), columns.index("lat")
    addr_at = columns.index(address_column)
    unresolved = result.unresolved

    def tally(reason: str) -> None:
        key = {"no match": "no_match", "outside Shanghai": "outside", "error": "errors",
               "no address": "no_address", "bad lon/lat": "bad_lonlat"}.get(reason, reason)
        counts[key] += 1

    for position, (index, values) in enumerate(zip(out.index, out.itertuples(index=False,
                                                                              name=None),
                                                   strict=True)):
        row = position + 1
        address = "" if _blank(values[addr_at]) else " ".join(str(values[addr_at]).split())
        lon_raw, lat_raw = values[lon_at], values[lat_at]
        if all(_blank(v) for v in values):
            counts["blank"] += 1
        elif not (_blank(lon_raw) and _blank(lat_raw)):
            if _float(lon_raw) is not None and _float(lat_raw) is not None:
                counts["kept"] += 1  # already placed: never re-geocoded, never touched
            else:
                unresolved.append(Unresolved(row, index, address, "bad lon/lat",
                                             f"lon={lon_raw!r}, lat={lat_raw!r}: fix or blank "
                                             "both to geocode"))
                tally("bad lon/lat")
        elif not address:
            unresolved.append(Unresolved(row, index, "", "no address",
                                         f"column '{address_column}' is blank"))
            tally("no address")
        else:
            try:
                try:
                    lookup = geocoder.lookup(address, city)
                except KeyboardInterrupt as interrupt:  # keep what was done, as for a refusal
                    raise GeocodeStopError("interrupted (Ctrl+C)",
                                           reason="interrupted") from interrupt
            except GeocodeStopError as stop:
                unresolved.append(Unresolved(row, index, address, "stopped",
                                             f"the run stopped here ({stop.reason})"))
                counts["not_attempted"] = len(out) - position
                counts["requests"] = geocoder.requests_made - requests_before
                counts["cache_hits"] = geocoder.cache_hits - hits_before
                result.stopped = f"stopped at row {row} of {len(out)}: {stop}"
                stop.result = result
                raise
            except _RowError as exc:
                unresolved.append(Unresolved(row, index, address, "error", str(exc)))
                tally("error")
                consecutive_errors = consecutive_errors + 1 if exc.transport else 0
                if consecutive_errors >= max_consecutive_errors:
                    counts["not_attempted"] = len(out) - row
                    counts["requests"] = geocoder.requests_made - requests_before
                    counts["cache_hits"] = geocoder.cache_hits - hits_before
                    unreachable = GeocodeStopError(
                        f"{geocoder.label} at {geocoder.base_url} could not be reached for "
                        f"{consecutive_errors} rows in a row ({exc})", reason="unreachable")
                    result.stopped = f"stopped after row {row} of {len(out)}: {unreachable}"
                    unreachable.result = result
                    raise unreachable from exc
            else:
                consecutive_errors = 0
                verdict = _judge(lookup, geocoder.provider, outline, ambiguous_m)
                if isinstance(verdict, tuple):
                    reason, detail = verdict
                    unresolved.append(Unresolved(row, index, address, reason, detail))
                    tally(reason)
                else:
                    out.iat[position, lon_at] = round(verdict.lon, 6)
                    out.iat[position, lat_at] = round(verdict.lat, 6)
                    out.iat[position, columns.index("coord_source")] = verdict.source
                    out.iat[position, columns.index("coord_precision_m")] = verdict.precision_m
                    counts["filled"] += 1
        if on_progress is not None:
            failures = sum(counts[k] for k in ("no_match", "ambiguous", "outside", "errors",
                                               "no_address", "bad_lonlat"))
            on_progress(GeocodeProgress(row, len(out), counts["filled"],
                                        geocoder.cache_hits - hits_before, failures,
                                        geocoder.requests_made - requests_before))
    counts["requests"] = geocoder.requests_made - requests_before
    counts["cache_hits"] = geocoder.cache_hits - hits_before
    return result


@dataclass(frozen=True)
class _Fill:
    lon: float
    lat: float
    source: str
    precision_m: int


def _judge(lookup: Lookup, provider: str, outline: shapely.Geometry | None,
           ambiguous_m: float) -> _Fill | tuple[Literal["no match", "ambiguous",
                                                        "outside Shanghai"], str]:
    """Decide what one answer is worth: a point to write, or the reason to leave it empty."""
    answer = lookup.answer
    if not answer.candidates:
        return "no match", answer.note or "no result"
    usable = [c for c in answer.candidates if c.precision_m is not None]
    if not usable:
        levels = ", ".join(sorted({c.level or "(none)" for c in answer.candidates}))
        return "no match", f"only matches coarser than a district or without a level ({levels})"
    spread = _spread_m(usable)
    if spread > ambiguous_m:
        return "ambiguous", (f"{len(usable)} results up to {spread / 1000:.1f} km apart: "
                             + "; ".join(f"{c.label or c.level} ({c.lon:.5f}, {c.lat:.5f})"
                                         for c in usable[:3]))
    best = usable[0]
    if not _inside_shanghai(best.lon, best.lat, outline):
        return "outside Shanghai", f"{best.label or best.level} at {best.lon:.5f}, {best.lat:.5f}"
    assert best.precision_m is not None
    precision = max(best.precision_m, math.ceil(spread / 10.0) * 10.0)
    date = lookup.fetched_at.date().isoformat()
    return _Fill(best.lon, best.lat, f"geocode:{provider} level={best.level} {date}",
                 int(precision))


# -------------------------------------------------------------------------------- CSV files


def read_address_csv(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, list[str], str]:
    """Read a CSV (UTF-8, UTF-8 with BOM or GB18030) as text cells.

    Returns (table with stripped header names, the header as written, encoding). Every row
    keeps its place, blank ones included, so row numbers match the file's data rows.
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise DataError(Problem(file, None, None, None, "file not found"))
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(Problem(file, None, None, None,
                                "file is empty; expected a header row with an address column"))
    try:
        text, encoding = decode_text(raw)
    except UnicodeDecodeError as exc:
        raise DataError(Problem(file, None, None, None,
                                f"cannot decode text as UTF-8 or GB18030 ({exc.reason})")) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise DataError(Problem(file, max(reader.line_num - 1, 1), None, None,
                                f"unreadable CSV: {exc}")) from exc
    header = rows[0]
    width = len(header)
    body = []
    problems = []
    for n, cells in enumerate(rows[1:], start=1):
        if not any(cell.strip() for cell in cells):
            cells = [""] * width  # a blank line or a row of empty cells
        elif len(cells) != width:
            problems.append(Problem(file, n, None, len(cells),
                                    f"row has {len(cells)} cells but the header has {width}"))
            continue
        body.append(cells)
    if problems:
        raise DataError(problems, file=file)
    table = pd.DataFrame(body, columns=[h.strip() for h in header], dtype=object)
    return table, header, encoding


def _cell(value: object) -> str:
    if _blank(value):
        return ""
    if isinstance(value, float | np.floating):
        return f"{float(value):.6f}"
    return str(value)


def _write_table_csv(path: Path, header: list[str], table: pd.DataFrame) -> None:
    """UTF-8 with BOM (Excel opens it correctly), CRLF, written atomically."""
    names = header + [str(c) for c in table.columns[len(header):]]
    with atomic_write(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(names)
        for values in table.itertuples(index=False, name=None):
            writer.writerow([_cell(v) for v in values])


def partial_output_path(output: str | os.PathLike[str]) -> Path:
    """Where a stopped run leaves what it did: ``OUT.partial.csv`` beside ``OUT.csv``."""
    output = Path(output)
    stem = output.name[: -len(output.suffix)] if output.suffix else output.name
    return output.with_name(f"{stem}.partial{output.suffix or '.csv'}")


def write_unresolved_csv(path: str | os.PathLike[str], result: GeocodeResult) -> None:
    """The unresolved rows (row, address, reason, detail) as a CSV, atomically."""
    with atomic_write(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["row", "address", "reason", "detail"])
        for item in result.unresolved:
            writer.writerow([item.row, item.address, item.reason, item.detail])


def geocode_csv(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    geocoder: Geocoder,
    *,
    address_column: str = "address",
    city: str = "上海市",
    outline: shapely.Geometry | None = None,
    ambiguous_m: float = 1000.0,
    max_consecutive_errors: int = 5,
    on_progress: Callable[[GeocodeProgress], None] | None = None,
) -> GeocodeResult:
    """Geocode a CSV file into a new CSV file; the input is only read.

    The output has the input's columns plus lon, lat, coord_source, coord_precision_m (added
    if missing), UTF-8 with BOM, written atomically. On GeocodeStopError the rows done so far
    go to :func:`partial_output_path` (atomically; ``stop.partial_path``) and the output
    path is left as it was.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    if output_path.exists() and input_path.exists() and output_path.samefile(input_path):
        raise ValueError(f"{output_path}: the output would overwrite the input; "
                         "choose another -o path (the input is never modified)")
    table, header, _encoding = read_address_csv(input_path)
    try:
        result = geocode_table(table, geocoder, address_column=address_column, city=city,
                               outline=outline, ambiguous_m=ambiguous_m,
                               max_consecutive_errors=max_consecutive_errors,
                               on_progress=on_progress, file=str(input_path))
    except GeocodeStopError as stop:
        if stop.result is not None:
            partial = partial_output_path(output_path)
            _write_table_csv(partial, header, stop.result.table)
            stop.partial_path = partial
        raise
    _write_table_csv(output_path, header, result.table)
    return result
