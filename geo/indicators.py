"""Headline figures of a selection of facilities: how many, by membership, national, layers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo import catalog
from geo._errors import InputError

__all__ = ["MEMBERSHIPS", "Indicators", "selection_indicators"]

#: How a facility belongs to its town: inside the boundary, associated by the source but
#: outside it, or a placeholder row with no site of its own (geo.catalog.MEMBERSHIPS).
MEMBERSHIPS: tuple[str, ...] = tuple(catalog.MEMBERSHIPS)


@dataclass(frozen=True)
class Indicators:
    """The figures an indicator strip shows for one selection."""

    selected: int
    total: int
    #: membership -> count among the selected; None when the data has no membership column.
    memberships: Mapping[str, int] | None
    national: int
    layers_present: tuple[str, ...]  # industry layers with at least one selected facility
    layers_total: int
    #: covered share of the five towns' area (0..1) in the given coverage run, else None.
    coverage_share: float | None
    #: facilities left out only because they carry no year (an as-of view), else 0.
    undated: int = 0


def selection_indicators(
    facilities: pd.DataFrame,
    selected: pd.Series | np.ndarray | Sequence[bool],
    *,
    undated: pd.Series | np.ndarray | Sequence[bool] | None = None,
    coverage_km2: Sequence[tuple[float, float]] | None = None,
) -> Indicators:
    """Count what a selection holds.

    Parameters
    ----------
    facilities : pandas.DataFrame
        All facilities (columns ``level`` and ``layers``; ``membership`` when the data has it).
    selected : boolean Series or sequence, aligned with ``facilities``
        Which facilities are selected (e.g. ``Filter.mask(facilities)``).
    undated : boolean Series or sequence, aligned with ``facilities``, optional
        Facilities an as-of filter leaves out for want of a year (``Filter.undated_mask``).
    coverage_km2 : sequence of (covered, area) pairs, km², optional
        Per-town covered and total area of a coverage run; the share is their sums' ratio.

    Returns
    -------
    Indicators
        Counts of the selection; ``coverage_share`` only when ``coverage_km2`` is given and
        its areas add up to more than zero.
    """
    mask = np.asarray(selected, dtype=bool)
    if mask.shape != (len(facilities),):
        raise InputError(f"'selected' should hold one flag per facility ({len(facilities)}), "
                         f"got shape {mask.shape}")
    chosen = facilities.iloc[np.flatnonzero(mask)]
    memberships: dict[str, int] | None = None
    if "membership" in chosen.columns:
        counts = chosen["membership"].astype(str).value_counts()
        memberships = {m: int(counts.get(m, 0)) for m in MEMBERSHIPS}
    layers = {layer for text in chosen["layers"].astype(str).unique()
              for layer in text.split(";") if layer}
    share = None
    if coverage_km2:
        covered = sum(float(c) for c, _ in coverage_km2)
        area = sum(float(a) for _, a in coverage_km2)
        share = covered / area if area > 0 else None
    return Indicators(
        selected=len(chosen),
        total=len(facilities),
        memberships=memberships,
        national=int((chosen["level"].astype(str) == "national").sum()),
        layers_present=tuple(k for k in catalog.INDUSTRY_LAYERS if k in layers),
        layers_total=len(catalog.INDUSTRY_LAYERS),
        coverage_share=share,
        undated=int(np.asarray(undated, dtype=bool).sum()) if undated is not None else 0,
    )
