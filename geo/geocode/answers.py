"""What providers answer and what a run yields: candidates, lookups, rows left empty, errors."""

from __future__ import annotations

import json
import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd

__all__ = [
    "Answer",
    "Candidate",
    "GeocodeResult",
    "GeocodeStopError",
    "Lookup",
    "ProviderSpec",
    "RowError",
    "TransientError",
    "Unresolved",
    "number_or_none",
    "parse_json",
    "text_of",
]


@dataclass(frozen=True)
class ProviderSpec:
    """Where a provider lives and how politely to call it."""

    name: str
    label: str
    default_base_url: str
    path: str
    key_env: str | None
    default_min_interval_s: float


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


@dataclass(frozen=True)
class Unresolved:
    """A row left without coordinates, and why (row is 1-based, header not counted)."""

    row: int
    index: Hashable
    address: str
    reason: Literal["no match", "ambiguous", "outside Shanghai", "error", "no address",
                    "bad lon/lat", "stopped"]
    detail: str = ""


@dataclass
class GeocodeResult:
    """The table with coordinates filled where honest, and the rows left empty."""

    table: pd.DataFrame
    provider: str
    unresolved: list[Unresolved] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    stopped: str | None = None


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


class RowError(Exception):
    """This address could not be looked up; the run goes on. ``transport``: network trouble."""

    def __init__(self, message: str, *, transport: bool = False) -> None:
        super().__init__(message)
        self.transport = transport


class TransientError(Exception):
    """A failure worth retrying (HTTP 5xx, timeout, provider engine error)."""


def text_of(value: object) -> str:
    """A field as stripped text; AMap returns ``[]`` for an empty field, which becomes ``""``."""
    if value is None or isinstance(value, list | dict):
        return ""
    return str(value).strip()


def number_or_none(value: object) -> float | None:
    """A field as a finite float, or None when it is not one."""
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def parse_json(body: str, provider: str) -> object:
    """The body as JSON; a RowError naming ``provider`` when it is not JSON."""
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise RowError(f"{provider} answered with something that is not JSON "
                       f"({body[:60]!r}...)") from exc
