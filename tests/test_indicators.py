"""geo.indicators: the headline figures of a selection, on a hand-made table."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.indicators import MEMBERSHIPS, selection_indicators


def facilities(with_membership: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame({
        "level": ["national", "municipal", "national", "district"],
        "layers": ["ai;auto", "auto", "", "ic"],
        "membership": ["inside", "associated", "placeholder", "inside"],
    }, index=["a", "b", "c", "d"])
    return frame if with_membership else frame.drop(columns="membership")


def test_counts_of_a_selection():
    figures = selection_indicators(facilities(), [True, True, True, False])
    assert (figures.selected, figures.total, figures.national) == (3, 4, 2)
    assert figures.memberships == {"inside": 1, "associated": 1, "placeholder": 1}
    assert figures.layers_present == ("ai", "auto")  # catalog order, empty lists add nothing
    assert figures.coverage_share is None and figures.undated == 0
    assert tuple(MEMBERSHIPS) == ("inside", "associated", "placeholder")


def test_empty_selection_and_no_membership_column():
    figures = selection_indicators(facilities(with_membership=False), [False] * 4)
    assert (figures.selected, figures.national, figures.layers_present) == (0, 0, ())
    assert figures.memberships is None


def test_coverage_share_is_the_ratio_of_the_sums_and_undated_is_counted():
    figures = selection_indicators(facilities(), [True] * 4,
                                   undated=[False, True, True, False],
                                   coverage_km2=[(10.0, 40.0), (5.0, 20.0)])
    assert figures.coverage_share == pytest.approx(15 / 60)
    assert figures.undated == 2
    zero = selection_indicators(facilities(), [True] * 4, coverage_km2=[(0.0, 0.0)])
    assert zero.coverage_share is None


def test_a_mask_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="one flag per facility"):
        selection_indicators(facilities(), [True, False])
