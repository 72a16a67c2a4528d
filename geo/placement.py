"""Which facility rows a spatial analysis may use: sites and areas, not placeholders."""

from __future__ import annotations

from typing import Final, TypeVar

import pandas as pd

__all__ = ["ANALYSABLE_PLACEMENTS", "PLACEHOLDER_PLACEMENTS", "PLACEMENTS", "analysable"]

#: The placement vocabulary of data model v2 (``facilities.csv`` column ``placement``).
PLACEMENTS: Final = ("site", "area", "town_placeholder", "district_placeholder")
#: Rows that stand where the facility is: they may enter spatial analyses.
ANALYSABLE_PLACEMENTS: Final = frozenset({"site", "area"})
#: Rows that stand on a town-centre or district point: neither a site nor evidence.
PLACEHOLDER_PLACEMENTS: Final = frozenset({"town_placeholder", "district_placeholder"})

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
        Without a ``placement`` column (data from before data model v2) every row counts
        as a site.
    """
    if include_placeholders or "placement" not in facilities.columns:
        return facilities, ()
    placeholder = facilities["placement"].isin(PLACEHOLDER_PLACEMENTS).to_numpy()
    excluded = tuple(str(i) for i in facilities.index[placeholder])
    return facilities.loc[~placeholder], excluded
