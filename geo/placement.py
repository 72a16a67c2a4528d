"""Which facility rows a spatial analysis may use: sites and areas, not placeholders."""

from __future__ import annotations

from typing import TypeVar

import pandas as pd

from geo._errors import InputError
from geo.catalog import PLACEHOLDER_PLACEMENTS

__all__ = ["analysable"]

_Frame = TypeVar("_Frame", bound=pd.DataFrame)


def analysable(facilities: _Frame, include_placeholders: bool = False
               ) -> tuple[_Frame, tuple[str, ...]]:
    """Split facilities into the rows a spatial analysis uses and the placeholders it leaves out.

    The one rule for coverage, siting, clusters, density, hotspots and point counts: a row
    whose ``placement`` is a placeholder (``town_placeholder``, ``district_placeholder``) is
    left out unless ``include_placeholders`` is True.

    Parameters
    ----------
    facilities : DataFrame or GeoDataFrame
        Facility rows (any CRS), indexed by facility id.
    include_placeholders : bool
        Keep placeholder rows too (the caller asked for them on purpose).

    Returns
    -------
    tuple
        ``(kept, excluded)``: the kept rows (same type and index order as the input) and
        the ids (index labels as text) of the placeholder rows left out, in input order.

    Raises
    ------
    InputError
        When ``facilities`` has no ``placement`` column (the loaders always add one; an
        upload without it has every row taken as a site).
    """
    if "placement" not in facilities.columns:
        raise InputError("facilities have no 'placement' column; load them with "
                         "geo.facilities (uploads without one are taken as sites)")
    if include_placeholders:
        return facilities, ()
    placeholder = facilities["placement"].isin(PLACEHOLDER_PLACEMENTS).to_numpy()
    excluded = tuple(str(i) for i in facilities.index[placeholder])
    return facilities.loc[~placeholder], excluded
