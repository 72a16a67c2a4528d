"""The Filter shared by the CLI, the dashboard and export: parse, serialise, select."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from urllib.parse import parse_qs, urlencode

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon

from geo import catalog
from geo._errors import AtlasError, InputError, UnknownNameError

#: URL/CLI parameter name for each Filter field.
PARAMS: Mapping[str, str] = {
    "towns": "town",
    "industries": "industry",
    "categories": "category",
    "levels": "level",
    "statuses": "status",
    "memberships": "membership",
    "text": "q",
    "within": "within",
    "as_of": "asof",
}
_VOCABULARIES: Mapping[str, catalog.Vocabulary] = {
    "towns": catalog.TOWN_NAMES,
    "industries": catalog.INDUSTRY_NAMES,
    "categories": catalog.CATEGORY_NAMES,
    "levels": catalog.LEVEL_NAMES,
    "statuses": catalog.STATUS_NAMES,
    "memberships": catalog.MEMBERSHIP_NAMES,
}
#: The years ``as_of`` accepts.
AS_OF_RANGE = (1850, 2100)
_COORD_DECIMALS = 6
MAX_WITHIN_VERTICES = 500


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


@dataclass(frozen=True)
class Filter:
    """Which facilities to select. Empty fields select everything.

    Values within a field are ORed (town jiading OR qingpu), fields are ANDed. An industry
    key selects facilities tagged with it or with any of its sub-industries. ``within`` is a
    WGS84 (multi)polygon: the areas drawn on the map, or the file passed with ``--within``.
    ``memberships`` selects by how a facility relates to its town (inside the boundary,
    associated but outside, placeholder); ``towns`` keeps its meaning: the town a source
    associates the facility with. ``as_of`` keeps the facilities dated in or before that
    year; undated facilities are not selected then, and :meth:`undated_mask` names them so
    every face can say how many were left out.
    """

    towns: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    text: str = ""
    within: Polygon | MultiPolygon | None = field(default=None, compare=False)
    memberships: tuple[str, ...] = ()
    as_of: int | None = None

    @classmethod
    def create(
        cls,
        *,
        towns: Iterable[str] = (),
        industries: Iterable[str] = (),
        categories: Iterable[str] = (),
        levels: Iterable[str] = (),
        statuses: Iterable[str] = (),
        text: str = "",
        within: Polygon | MultiPolygon | None = None,
        memberships: Iterable[str] = (),
        as_of: int | str | None = None,
    ) -> Filter:
        """Build a Filter from names in any accepted spelling (key, zh, en, alias).

        Raises UnknownNameError naming the field and the closest valid name.
        """
        given = {"towns": towns, "industries": industries, "categories": categories,
                 "levels": levels, "statuses": statuses, "memberships": memberships}
        resolved: dict[str, tuple[str, ...]] = {}
        for name, values in given.items():
            if isinstance(values, str):
                values = [values]
            keys: list[str] = []
            for value in values:
                for part in str(value).split(","):
                    part = part.strip()
                    if not part:
                        continue
                    try:
                        key = _VOCABULARIES[name].resolve(part)
                    except UnknownNameError as exc:
                        raise UnknownNameError(f"{PARAMS[name]}: {exc}") from None
                    if key not in keys:
                        keys.append(key)
            resolved[name] = tuple(keys)
        if within is not None:
            within = _check_within(within)
        return cls(text=text.strip(), within=within, as_of=_check_as_of(as_of), **resolved)

    def is_empty(self) -> bool:
        return self == Filter() and self.within is None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Filter):
            return NotImplemented
        same_fields = all(getattr(self, f.name) == getattr(other, f.name)
                          for f in fields(self) if f.name != "within")
        if self.within is None or other.within is None:
            return same_fields and self.within is other.within
        return same_fields and self.within.equals_exact(other.within, 10 ** -_COORD_DECIMALS)

    def __hash__(self) -> int:
        wkb = None if self.within is None else shapely.to_wkb(self.within)
        return hash((self.towns, self.industries, self.categories, self.levels,
                     self.statuses, self.text, wkb, self.memberships, self.as_of))

    # -- selection ---------------------------------------------------------------------------

    def mask(self, facilities: pd.DataFrame) -> np.ndarray:
        """Boolean array over ``facilities`` rows: True where the row is selected."""
        keep = np.ones(len(facilities), dtype=bool)
        if self.towns:
            keep &= facilities["town"].isin(self.towns).to_numpy()
        if self.categories:
            keep &= facilities["category"].isin(self.categories).to_numpy()
        if self.levels:
            keep &= facilities["level"].isin(self.levels).to_numpy()
        if self.statuses:
            keep &= facilities["status"].isin(self.statuses).to_numpy()
        if self.industries:
            keep &= _industry_mask(facilities["industries"], self.industries)
        if self.text:
            keep &= _text_mask(facilities, self.text)
        if self.within is not None:
            geoms = facilities.geometry
            keep &= shapely.contains_xy(self.within, geoms.x.to_numpy(), geoms.y.to_numpy())
        if self.memberships:
            keep &= facilities["membership"].isin(self.memberships).to_numpy()
        if self.as_of is not None:
            year = pd.to_numeric(facilities["year"], errors="coerce").to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                keep &= year <= self.as_of
        return keep

    def undated_mask(self, facilities: pd.DataFrame) -> np.ndarray:
        """Rows the filter would select but for ``as_of``, because they carry no year.

        All False when ``as_of`` is not set. Faces report their number ("N undated not
        shown") so an as-of view never drops facilities silently.
        """
        if self.as_of is None:
            return np.zeros(len(facilities), dtype=bool)
        others = replace(self, as_of=None).mask(facilities)
        year = pd.to_numeric(facilities["year"], errors="coerce").to_numpy(dtype=float)
        undated: np.ndarray = others & np.isnan(year)
        return undated

    def select(self, facilities: pd.DataFrame) -> pd.DataFrame:
        """The selected rows, same index and columns."""
        return facilities.loc[self.mask(facilities)]

    # -- URL round trip ----------------------------------------------------------------------

    def to_params(self) -> dict[str, str]:
        """Query parameters (only non-empty fields), comma-joined, in a stable order."""
        params: dict[str, str] = {}
        for name in ("towns", "memberships", "industries", "categories", "levels",
                     "statuses"):
            values = getattr(self, name)
            if values:
                params[PARAMS[name]] = ",".join(values)
        if self.as_of is not None:
            params["asof"] = str(self.as_of)
        if self.text:
            params["q"] = self.text
        if self.within is not None:
            params["within"] = encode_area(self.within)
        return params

    def to_query_string(self) -> str:
        """``town=jiading,qingpu&industry=auto&q=...`` (no leading ``?``)."""
        return urlencode(self.to_params(), safe=",;")

    @classmethod
    def from_params(cls, params: Mapping[str, str | Sequence[str]]) -> Filter:
        """Inverse of ``to_params``; repeated or comma-joined values both work."""

        def values(key: str) -> list[str]:
            raw = params.get(key, [])
            return [raw] if isinstance(raw, str) else list(raw)

        text = " ".join(values("q"))
        within_text = values("within")
        within = decode_area(within_text[0]) if within_text and within_text[0] else None
        as_of = values("asof")
        return cls.create(
            towns=values("town"), industries=values("industry"),
            categories=values("category"), levels=values("level"),
            statuses=values("status"), text=text, within=within,
            memberships=values("membership"), as_of=as_of[0] if as_of else None,
        )

    @classmethod
    def from_query_string(cls, query: str) -> Filter:
        """Parse ``?town=...&industry=...`` (leading ``?`` optional); unknown keys are ignored."""
        return cls.from_params(parse_qs(query.lstrip("?"), keep_blank_values=False))


def filter_from_params_lenient(
    params: Mapping[str, str | Sequence[str]],
) -> tuple[Filter, tuple[str, ...]]:
    """Like ``Filter.from_params``, but a value that cannot be used is left out, not fatal.

    For links people share and edit: ``?industry=auto&industry=x`` keeps ``industry=auto``
    instead of failing (or showing everything). The CLI stays strict
    (``Filter.from_params`` / ``Filter.create``): a typo on a command line is an error.

    Parameters
    ----------
    params : mapping
        Query parameters as ``parse_qs`` gives them (or single strings); repeated and
        comma-joined values both work; unknown parameter names are ignored.

    Returns
    -------
    (Filter, tuple of str)
        The filter of every usable value, and one message per value left out, each starting
        with ``name=value`` and saying why (the closest valid name where there is one).
    """

    def values(key: str) -> list[str]:
        raw = params.get(key, [])
        return [raw] if isinstance(raw, str) else list(raw)

    ignored: list[str] = []
    names: dict[str, list[str]] = {}
    for field_name, vocabulary in _VOCABULARIES.items():
        param = PARAMS[field_name]
        kept: list[str] = []
        for value in values(param):
            for part in str(value).split(","):
                part = part.strip()
                if not part:
                    continue
                try:
                    key = vocabulary.resolve(part)
                except UnknownNameError as exc:
                    ignored.append(f"{param}={part}: {exc}")
                    continue
                if key not in kept:
                    kept.append(key)
        names[field_name] = kept
    within = None
    within_text = next((v for v in values("within") if v), None)
    if within_text is not None:
        try:
            within = _check_within(decode_area(within_text))
        except AtlasError as exc:
            ignored.append(f"within={_shorten(within_text)}: {exc}")
    as_of = None
    as_of_text = next((v for v in values("asof") if v.strip()), None)
    if as_of_text is not None:
        try:
            as_of = _check_as_of(as_of_text)
        except AtlasError as exc:
            ignored.append(f"asof={as_of_text}: {exc}")
    flt = Filter.create(text=" ".join(values("q")), within=within, as_of=as_of, **names)
    return flt, tuple(ignored)


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _industry_mask(industries: pd.Series, wanted: Sequence[str]) -> np.ndarray:
    """Match a facility if any of its industry keys is wanted or rolls up to a wanted layer."""
    wanted_set = set(wanted)

    def hit(text: str) -> bool:
        keys = [k for k in text.split(";") if k]
        return any(k in wanted_set or catalog.industry_layer(k) in wanted_set for k in keys)

    # A few hundred distinct industry lists, however many facilities: decide each list once
    # and spread the answers by code (a vectorised factorize, not a Python call per row).
    # A missing cell (code -1) names no industry: it takes the False appended last.
    codes, lists = pd.factorize(industries)
    hits = np.append(np.fromiter((hit(text) for text in lists), dtype=bool,
                                 count=len(lists)), False)
    out: np.ndarray = hits[codes]
    return out


_SEARCH_COLUMNS = ("name_zh", "name_en", "address", "id")


def _text_mask(facilities: pd.DataFrame, text: str) -> np.ndarray:
    """Every whitespace-separated term must occur (case-insensitively) in some search column."""
    haystack = facilities[list(_SEARCH_COLUMNS)].fillna("").astype(str).agg(" ".join, axis=1)
    haystack = haystack.map(_fold)
    keep = np.ones(len(facilities), dtype=bool)
    for term in _fold(text).split():
        keep &= haystack.str.contains(term, regex=False).to_numpy()
    return keep


def _check_as_of(value: int | str | None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        year = int(str(value).strip())
    except ValueError:
        raise UnknownNameError(f"asof: expected a year such as 2021, got {value!r}") from None
    lo, hi = AS_OF_RANGE
    if not lo <= year <= hi:
        raise UnknownNameError(f"asof: year {year} is outside {lo}-{hi}")
    return year


def _check_within(polygon: shapely.Geometry) -> Polygon | MultiPolygon:
    if not isinstance(polygon, Polygon | MultiPolygon) or polygon.is_empty:
        raise InputError(f"within: expected a non-empty Polygon, got {polygon.geom_type}")
    if not polygon.is_valid:
        raise InputError(f"within: invalid polygon ({shapely.is_valid_reason(polygon)})")
    x0, y0, x1, y1 = polygon.bounds
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        raise InputError("within: coordinates must be WGS84 lon/lat degrees")
    if shapely.get_num_coordinates(polygon) > MAX_WITHIN_VERTICES:
        raise InputError(f"within: area has more than {MAX_WITHIN_VERTICES} vertices")
    # Normalised so the same area always serialises (and compares) the same way.
    return shapely.normalize(shapely.set_precision(polygon, 10 ** -_COORD_DECIMALS))


def encode_area(area: Polygon | MultiPolygon) -> str:
    """Exterior rings as ``lon,lat;lon,lat;...``, polygons separated by ``|`` (no holes)."""
    parts = area.geoms if isinstance(area, MultiPolygon) else [area]
    return "|".join(
        ";".join(f"{x:.{_COORD_DECIMALS}f},{y:.{_COORD_DECIMALS}f}"
                 for x, y in list(p.exterior.coords)[:-1])
        for p in parts
    )


def decode_area(text: str) -> Polygon | MultiPolygon:
    polygons = []
    for ring_text in text.split("|"):
        try:
            pairs = [tuple(float(v) for v in pair.split(","))
                     for pair in ring_text.split(";") if pair]
            if len(pairs) < 3 or any(len(p) != 2 for p in pairs):
                raise ValueError
        except ValueError:
            raise InputError(
                "within: expected 'lon,lat;lon,lat;lon,lat...' (polygons separated by '|') "
                f"with at least 3 points each, got {text!r}"
            ) from None
        polygons.append(Polygon(pairs))
    return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)
