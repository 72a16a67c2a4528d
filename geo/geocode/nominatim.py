"""Nominatim search: endpoint, parameters, answer parsing and place-rank precision (WGS84).

``/search?q=&format=jsonv2&limit=``: a JSON list of places with ``lat``, ``lon`` (WGS84
strings), ``display_name``, ``category`` (``class`` in format=json), ``type``, ``place_rank``,
``addresstype``, ``importance``. Source: nominatim.org/release-docs/latest/api/Search and
api/Output; ranks follow nominatim.org/release-docs/latest/customize/Ranking. The public
server's usage policy (operations.osmfoundation.org/policies/nominatim) asks for at most
1 request/s, a User-Agent naming the application, and caching of results.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from geo.geocode.answers import (
    Answer,
    Candidate,
    ProviderSpec,
    RowError,
    number_or_none,
    parse_json,
    text_of,
)

__all__ = [
    "ADDRESSTYPE_PRECISION_M",
    "PUBLIC_HOST",
    "SPEC",
    "parse",
    "precision_m",
    "request_params",
]

# The public server's policy: an absolute maximum of 1 request per second.
SPEC: Final = ProviderSpec("nominatim", "Nominatim", "https://nominatim.openstreetmap.org",
                           "/search", None, 1.0)
PUBLIC_HOST: Final = "nominatim.openstreetmap.org"

#: Without ``place_rank``: addresstype -> metres (other addresstypes are POIs and buildings,
#: 100 m); city and coarser count as no match.
ADDRESSTYPE_PRECISION_M: Final[Mapping[str, float]] = MappingProxyType({
    "road": 500.0, "neighbourhood": 1000.0, "quarter": 1000.0, "hamlet": 1000.0,
    "suburb": 2000.0, "village": 2000.0, "town": 3000.0, "municipality": 3000.0,
    "city_district": 10000.0, "district": 10000.0, "county": 10000.0,
})
TOO_COARSE: Final = frozenset(
    {"city", "state", "province", "region", "country", "continent", "state_district"})


def precision_m(place_rank: int | None, addresstype: str = "") -> float | None:
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
    if not kind or kind in TOO_COARSE:
        return None
    return ADDRESSTYPE_PRECISION_M.get(kind, 100.0)


def request_params(address: str, city: str, key: str) -> dict[str, str]:
    """Query parameters for one address.

    Free-form q cannot be combined with Nominatim's structured city=, so the city is not sent;
    the answer is checked against Shanghai afterwards anyway. Nominatim takes no key.
    """
    del city, key
    return {"q": address, "format": "jsonv2", "limit": "5", "countrycodes": "cn",
            "accept-language": "zh"}


def parse(body: str) -> Answer:
    """Read one Nominatim answer (a list of places, best first)."""
    doc = parse_json(body, "Nominatim")
    if isinstance(doc, dict) and "error" in doc:
        raise RowError(f"Nominatim error: {doc['error']}")
    if not isinstance(doc, list):
        raise RowError(f"Nominatim answer is not a JSON list: {body[:60]!r}")
    candidates = []
    for item in doc:
        if not isinstance(item, dict):
            continue
        lon, lat = number_or_none(item.get("lon")), number_or_none(item.get("lat"))
        if lon is None or lat is None:
            continue
        rank_value = number_or_none(item.get("place_rank"))
        rank = int(rank_value) if rank_value is not None else None
        kind = text_of(item.get("addresstype")) or text_of(item.get("type"))
        candidates.append(Candidate(lon, lat, kind, precision_m(rank, kind),
                                    text_of(item.get("display_name"))))
    return Answer(tuple(candidates), "" if candidates else "empty result list")
