"""Tianditu geocoder: endpoint, parameters and answer parsing (CGCS2000, taken as WGS84).

``GET http://api.tianditu.gov.cn/geocoder?ds={"keyWord":"..."}&tk=KEY``: ``{"status": "0",
"msg": "ok", "location": {"lon", "lat", "level", "score", "keyWord"}}``; status 101 = empty
result, 404 = error. Coordinates are CGCS2000, which is WGS84 to within centimetres (see
docs/ARCHITECTURE.md, "Coordinate systems").
Source: lbs.tianditu.gov.cn/server/geocodinginterface.html.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from geo.geocode import amap
from geo.geocode.answers import (
    Answer,
    Candidate,
    ProviderSpec,
    RowError,
    number_or_none,
    parse_json,
    text_of,
)

__all__ = ["LEVEL_PRECISION_M", "SPEC", "parse", "request_params"]

SPEC: Final = ProviderSpec("tianditu", "Tianditu", "https://api.tianditu.gov.cn", "/geocoder",
                           "TIANDITU_KEY", 0.2)

#: Tianditu uses AMap's Chinese level names, plus 地名地址 (a hit in the national place-name
#: and address register, not necessarily a door number: taken as road-level, 500 m).
LEVEL_PRECISION_M: Final[Mapping[str, float]] = MappingProxyType({
    **amap.LEVEL_PRECISION_M, "地名地址": 500.0,
})


def request_params(address: str, city: str, key: str) -> dict[str, str]:
    """Query parameters for one address (Tianditu's geocoder takes no city)."""
    del city
    ds = json.dumps({"keyWord": address}, ensure_ascii=False, separators=(",", ":"))
    return {"ds": ds, "tk": key}


def parse(body: str) -> Answer:
    """Read one Tianditu answer: at most one candidate; status 101 is a clean "nothing found"."""
    doc = parse_json(body, "Tianditu")
    if not isinstance(doc, dict):
        raise RowError(f"Tianditu answer is not a JSON object: {body[:60]!r}")
    status, msg = text_of(doc.get("status")), text_of(doc.get("msg"))
    if status == "101":
        return Answer((), f"status 101 {msg}".strip())
    if status != "0":
        raise RowError(f"Tianditu status {status or '?'} {msg}".strip())
    loc = doc.get("location")
    if not isinstance(loc, dict):
        return Answer((), "status 0 without a location")
    lon, lat = number_or_none(loc.get("lon")), number_or_none(loc.get("lat"))
    if lon is None or lat is None:
        return Answer((), "status 0 without usable lon/lat")
    level = text_of(loc.get("level"))
    score = text_of(loc.get("score"))
    keyword = text_of(loc.get("keyWord"))
    label = f"{keyword} score={score}" if score else keyword
    # CGCS2000 is WGS84 to within centimetres: no datum shift.
    return Answer((Candidate(lon, lat, level, LEVEL_PRECISION_M.get(level), label),))
