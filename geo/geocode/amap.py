"""AMap (Gaode) Web Service geocoding v3: endpoint, parameters, answer parsing, GCJ-02 to WGS84.

``GET https://restapi.amap.com/v3/geocode/geo?key=&address=&city=``: JSON ``{"status": "1"|"0",
"info", "infocode", "count", "geocodes": [{"location": "lng,lat", "level",
"formatted_address", "citycode", "adcode", ...}]}``; coordinates are GCJ-02; empty fields come
back as ``[]``. Source: lbs.amap.com/api/webservice/guide/api/georegeo (match-level list as
updated 2023-12-07, lbs.amap.com/news/geocoder_api) and the info-code table
(lbs.amap.com/api/webservice/guide/tools/info: 10001 INVALID_USER_KEY, 10003
DAILY_QUERY_OVER_LIMIT, 10004 ACCESS_TOO_FREQUENT, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from geo.crs import gcj02_to_wgs84
from geo.geocode.answers import (
    Answer,
    Candidate,
    GeocodeStopError,
    ProviderSpec,
    RowError,
    TransientError,
    number_or_none,
    parse_json,
    text_of,
)

__all__ = ["LEVEL_PRECISION_M", "SPEC", "parse", "request_params"]

# AMap personal keys allow a few geocoding requests per second; stay just under 3/s.
SPEC: Final = ProviderSpec("amap", "AMap", "https://restapi.amap.com", "/v3/geocode/geo",
                           "AMAP_KEY", 0.34)

#: Honest radius (metres) of a point matched at each AMap level. Levels not listed here, the
#: ones coarser than a district (国家, 省, 市) and 未知 ("unconfirmed level") count as no match.
LEVEL_PRECISION_M: Final[Mapping[str, float]] = MappingProxyType({
    "门牌号": 50.0, "门址": 50.0, "单元号": 50.0, "楼层": 50.0, "房间": 50.0,
    "兴趣点": 100.0, "公交地铁站点": 100.0, "公交站台、地铁站": 100.0,
    "道路交叉路口": 200.0, "住宅区": 200.0,
    "道路": 500.0, "小巷": 500.0,
    "热点商圈": 1000.0,
    "村庄": 1500.0,
    "乡镇": 3000.0, "开发区": 3000.0,
    "区县": 10000.0,
})

#: Info codes that end the run (the key or the account is the problem, not the row).
BAD_KEY_CODES: Final = frozenset({"10001", "10002", "10005", "10006", "10007", "10008", "10009",
                                  "10011", "10012", "10013"})
QUOTA_CODES: Final = frozenset({"10003", "10044", "10010"})
RATE_CODES: Final = frozenset({"10004", "10014", "10015", "10019", "10020", "10021"})


def request_params(address: str, city: str, key: str) -> dict[str, str]:
    """Query parameters for one address (``city`` narrows the search when given)."""
    params = {"key": key, "address": address, "output": "JSON"}
    if city:
        params["city"] = city
    return params


def parse(body: str) -> Answer:
    """Read one AMap answer into WGS84 candidates; refusals of the key or quota stop the run."""
    doc = parse_json(body, "AMap")
    if not isinstance(doc, dict):
        raise RowError(f"AMap answer is not a JSON object: {body[:60]!r}")
    status, infocode, info = text_of(doc.get("status")), text_of(doc.get("infocode")), text_of(
        doc.get("info"))
    if status != "1":
        what = f"AMap infocode {infocode} {info}".strip()
        if infocode in BAD_KEY_CODES:
            raise GeocodeStopError(f"{what}: the key was refused; check AMAP_KEY (a Web Service "
                                   "key, with this machine's IP allowed if the key has a "
                                   "whitelist)", reason="bad key")
        if infocode in QUOTA_CODES:
            raise GeocodeStopError(f"{what}: the daily quota is used up; AMap resets it at "
                                   "midnight (Beijing time). Re-run later: answers so far are "
                                   "cached", reason="quota")
        if infocode in RATE_CODES:
            raise GeocodeStopError(f"{what}: too many requests per second/minute; re-run with a "
                                   "larger --min-interval-s (answers so far are cached)",
                                   reason="rate limited")
        if infocode.startswith("100"):
            raise GeocodeStopError(f"{what}: the account or key cannot use this service",
                                   reason="bad key")
        if infocode.startswith("3"):  # 3xxxx: AMap's own engine failed; worth another try
            raise TransientError(what)
        raise RowError(what)
    candidates = []
    for item in doc.get("geocodes") or []:
        if not isinstance(item, dict):
            continue
        parts = text_of(item.get("location")).split(",")
        lon_g = number_or_none(parts[0]) if len(parts) == 2 else None
        lat_g = number_or_none(parts[1]) if len(parts) == 2 else None
        if lon_g is None or lat_g is None:
            continue
        # AMap answers in GCJ-02: convert to WGS84 before anything is measured or stored.
        lon_w, lat_w = gcj02_to_wgs84(lon_g, lat_g)
        level = text_of(item.get("level"))
        candidates.append(Candidate(float(lon_w), float(lat_w), level,
                                    LEVEL_PRECISION_M.get(level),
                                    text_of(item.get("formatted_address"))))
    return Answer(tuple(candidates),
                  "" if candidates else f"count {text_of(doc.get('count')) or 0}")
