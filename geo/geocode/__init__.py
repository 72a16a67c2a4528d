"""Geocode address tables with AMap, Tianditu or Nominatim: cached, rate-limited and honest.

The package is laid out as osmnx lays out its geocoder: the public functions here; one
module per provider (:mod:`~geo.geocode.amap`, :mod:`~geo.geocode.tianditu`,
:mod:`~geo.geocode.nominatim`: URL, parameters, answer parsing, datum and precision table);
:mod:`~geo.geocode.client` (the retrying client for one provider) on top of
:mod:`~geo.geocode._http` (HTTP GET, SQLite cache, rate limiter); and
:mod:`~geo.geocode.batch` (tables and CSV files, row by row).

Every filled row says where its point came from (``coord_source``) and how far off it may be
(``coord_precision_m``); no match, an ambiguous match or a match outside Shanghai leaves the
row empty and listed, never guessed. Rows that already have ``lon``/``lat`` are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from geo._errors import InputError
from geo.geocode import amap, nominatim, tianditu
from geo.geocode._http import GeocodeCache, RateLimiter, default_cache_path
from geo.geocode.answers import (
    Answer,
    Candidate,
    GeocodeResult,
    GeocodeStopError,
    Lookup,
    Unresolved,
)
from geo.geocode.batch import (
    COORD_COLUMNS,
    GeocodeProgress,
    geocode_csv,
    geocode_table,
    partial_output_path,
    read_address_csv,
    shanghai_outline,
    write_unresolved_csv,
)
from geo.geocode.client import PROVIDERS, USER_AGENT, Geocoder, ProviderName, make_geocoder

__all__ = [
    "AMAP_LEVEL_PRECISION_M",
    "COORD_COLUMNS",
    "NOMINATIM_ADDRESSTYPE_PRECISION_M",
    "PROVIDERS",
    "TIANDITU_LEVEL_PRECISION_M",
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
    "RateLimiter",
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

AMAP_LEVEL_PRECISION_M: Final[Mapping[str, float]] = amap.LEVEL_PRECISION_M
TIANDITU_LEVEL_PRECISION_M: Final[Mapping[str, float]] = tianditu.LEVEL_PRECISION_M
NOMINATIM_ADDRESSTYPE_PRECISION_M: Final[Mapping[str, float]] = nominatim.ADDRESSTYPE_PRECISION_M


def precision_for_level(provider: str, level: str) -> float | None:
    """Honest radius of a match at ``level`` for a Chinese provider.

    Parameters
    ----------
    provider : str
        ``amap`` or ``tianditu`` (Nominatim ranks its answers differently: use
        :func:`nominatim_precision_m`).
    level : str
        The provider's match level, e.g. ``门牌号`` or ``道路``.

    Returns
    -------
    float or None
        Metres; None when the level is too coarse (or unknown) to count as a match.
    """
    table = {"amap": AMAP_LEVEL_PRECISION_M, "tianditu": TIANDITU_LEVEL_PRECISION_M}.get(provider)
    if table is None:
        raise InputError(f"precision_for_level: unknown provider {provider!r}; "
                         "expected amap or tianditu (use nominatim_precision_m for Nominatim)")
    return table.get(level.strip())


def nominatim_precision_m(place_rank: int | None, addresstype: str = "") -> float | None:
    """Honest radius of a Nominatim match, from its place rank (else its addresstype).

    Parameters
    ----------
    place_rank : int or None
        Nominatim's search rank (28-30 POIs and buildings ... 10-12 counties).
    addresstype : str
        Used when there is no rank.

    Returns
    -------
    float or None
        Metres; None for a city or coarser.
    """
    return nominatim.precision_m(place_rank, addresstype)
