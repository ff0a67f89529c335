"""Tests for analytics.metrics.hypothesis against published values and scipy."""

import math

import pandas as pd
import pytest
from scipy import stats

from analytics.metrics.hypothesis import compare_rates, newcombe_interval


@pytest.mark.parametrize(
    ("s1", "n1", "s0", "n0", "expected"),
    [
        # Newcombe (1998), Stat. Med. 17:873-890, Table II, method 10 (hybrid score)
        (56, 70, 48, 80, (0.2, 0.0524, 0.3339)),
        (9, 10, 3, 10, (0.6, 0.1705, 0.8090)),
    ],
)
def test_newcombe_interval_matches_the_paper(s1, n1, s0, n0, expected):
    d, low, high = newcombe_interval(s1, n1, s0, n0)
    assert d == pytest.approx(expected[0])
    assert low == pytest.approx(expected[1], abs=5e-5)
    assert high == pytest.approx(expected[2], abs=5e-5)


def _leads(with_counts: tuple[int, int], without_counts: tuple[int, int]) -> pd.DataFrame:
    """Leads with/without the property: (converted, total) of each group."""
    rows = []
    for flag, (converted, total) in ((True, with_counts), (False, without_counts)):
        rows += [(flag, i < converted) for i in range(total)]
    return pd.DataFrame(rows, columns=["pricing_viewed", "is_sql"])


def test_compare_rates_counts_and_fisher_match_scipy():
    leads = _leads((9, 10), (3, 10))
    result = compare_rates(leads, "pricing_viewed", "is_sql")
    assert (result.n_with, result.converted_with) == (10, 9)
    assert (result.n_without, result.converted_without) == (10, 3)
    assert result.rate_with == 0.9 and result.rate_without == 0.3
    assert result.lift == pytest.approx(0.9 / 0.3 - 1)
    assert result.p_value == pytest.approx(stats.fisher_exact([[9, 1], [3, 7]])[1])
    assert result.distinguishable
    sentence = result.sentence("leads that viewed pricing", "become SQL")
    assert sentence.startswith("Leads that viewed pricing become SQL more often: 90.0% against")
    assert "+60.0 pp (95% interval +17.1 to +80.9 pp)" in sentence


def test_an_interval_covering_zero_is_said_so():
    result = compare_rates(_leads((2, 10), (2, 12)), "pricing_viewed", "is_sql")
    assert result.difference_low < 0 < result.difference_high
    assert not result.distinguishable
    assert "not distinguishable from zero on 22 leads" in result.sentence("x", "convert")


def test_an_empty_group_has_no_difference():
    result = compare_rates(_leads((1, 5), (0, 0)), "pricing_viewed", "is_sql")
    assert math.isnan(result.difference) and math.isnan(result.p_value)
    assert result.sentence("x", "convert") == "Not enough leads to compare: 5 with and 0 without."


def test_compare_rates_refuses_a_non_boolean_column():
    frame = pd.DataFrame({"pricing_viewed": [1, 0], "is_sql": [True, False]})
    with pytest.raises(ValueError, match="column 'pricing_viewed' must be true/false"):
        compare_rates(frame, "pricing_viewed", "is_sql")
    with pytest.raises(ValueError, match="column 'missing' not in the frame"):
        compare_rates(frame, "missing", "is_sql")
