"""Does a group of leads convert better? A rate comparison with intervals, for exploration.

An analyst's hypothesis ("leads from Yandex Search that viewed the pricing page
become SQL more often") is a comparison of two conversion rates: leads *with*
a property against leads *without* it. :func:`compare_rates` answers it with
the difference of the rates and its interval, the relative lift and its
interval, and Fisher's exact p-value, and says in one sentence whether the
difference is distinguishable from zero.

Formulas
--------
* rates ``p₁ = s₁ / n₁`` (with the property), ``p₀ = s₀ / n₀`` (without);
* difference ``d = p₁ − p₀`` in percentage points, interval by Newcombe's
  hybrid score method (method 10 of Newcombe 1998) from the Wilson intervals
  ``(l₁, u₁)``, ``(l₀, u₀)`` of the two rates:
  ``d − sqrt((p₁ − l₁)² + (u₀ − p₀)²)`` to ``d + sqrt((u₁ − p₁)² + (p₀ − l₀)²)``;
* lift ``p₁ / p₀ − 1`` with the Katz log interval
  (:func:`analytics.metrics.abtest.lift_interval`);
* two-sided Fisher exact p-value (:func:`analytics.metrics.abtest.fisher_p_value`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from analytics.metrics.abtest import fisher_p_value, lift_interval, wilson_interval


@dataclass(frozen=True)
class RateComparison:
    """Two conversion rates compared (rates and differences as fractions, not %).

    Attributes
    ----------
    n_with, n_without : int
        Leads with and without the property.
    converted_with, converted_without : int
        Of them, those with the outcome.
    rate_with, rate_without : float
        ``converted / n``; NaN for an empty group.
    difference, difference_low, difference_high : float
        ``rate_with − rate_without`` and its Newcombe interval.
    lift, lift_low, lift_high : float
        ``rate_with / rate_without − 1`` and its Katz interval (NaN when undefined).
    p_value : float
        Two-sided Fisher exact test.
    confidence : float
        Confidence level of the intervals.
    """

    n_with: int
    n_without: int
    converted_with: int
    converted_without: int
    rate_with: float
    rate_without: float
    difference: float
    difference_low: float
    difference_high: float
    lift: float
    lift_low: float
    lift_high: float
    p_value: float
    confidence: float

    @property
    def distinguishable(self) -> bool:
        """True when the difference's interval excludes zero."""
        return self.difference_low > 0 or self.difference_high < 0

    def sentence(self, subject: str, outcome: str) -> str:
        """One sentence of conclusion, e.g. for a notebook's heading.

        ``subject`` names the leads with the property ("leads that viewed pricing"),
        ``outcome`` the conversion ("become SQL").
        """
        level = f"{self.confidence:.0%}"
        pp = (
            f"{self.difference * 100:+.1f} pp "
            f"({level} interval {self.difference_low * 100:+.1f} to "
            f"{self.difference_high * 100:+.1f} pp)"
        )
        subject = subject[:1].upper() + subject[1:]
        if math.isnan(self.difference):
            return f"Not enough leads to compare: {self.n_with} with and {self.n_without} without."
        if not self.distinguishable:
            return (
                f"{subject} {outcome} at {self.rate_with:.1%} against "
                f"{self.rate_without:.1%} for the others: {pp}, not distinguishable from zero "
                f"on {self.n_with + self.n_without} leads."
            )
        verb = "more" if self.difference > 0 else "less"
        return (
            f"{subject} {outcome} {verb} often: {self.rate_with:.1%} against "
            f"{self.rate_without:.1%}, {pp}."
        )


def newcombe_interval(
    s1: int, n1: int, s0: int, n0: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Difference ``s1/n1 − s0/n0`` with Newcombe's hybrid score interval (fractions).

    NaN when either group is empty.
    """
    if n1 <= 0 or n0 <= 0:
        return math.nan, math.nan, math.nan
    p1, p0 = s1 / n1, s0 / n0
    l1, u1 = wilson_interval(s1, n1, confidence)
    l0, u0 = wilson_interval(s0, n0, confidence)
    d = p1 - p0
    return d, d - math.hypot(p1 - l1, u0 - p0), d + math.hypot(u1 - p1, p0 - l0)


def compare_rates(
    frame: pd.DataFrame, group: str, outcome: str, confidence: float = 0.95
) -> RateComparison:
    """Conversion of the rows where ``group`` is true against the rows where it is false.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per lead (e.g. :func:`analytics.metrics.definitions.lead_flags`).
    group : str
        Boolean column: the property of the hypothesis (``pricing_viewed``).
    outcome : str
        Boolean column: the conversion (``is_sql``).
    confidence : float
        Level of the intervals.

    Raises
    ------
    ValueError
        If a column is missing or not boolean (one message naming it).
    """
    for column in (group, outcome):
        if column not in frame.columns:
            raise ValueError(f"column {column!r} not in the frame ({', '.join(frame.columns)})")
        if not pd.api.types.is_bool_dtype(frame[column]):
            raise ValueError(f"column {column!r} must be true/false, not {frame[column].dtype}")
    with_ = frame[frame[group]]
    without = frame[~frame[group]]
    n1, n0 = len(with_), len(without)
    s1, s0 = int(with_[outcome].sum()), int(without[outcome].sum())
    d, d_lo, d_hi = newcombe_interval(s1, n1, s0, n0, confidence)
    if n1 and n0:
        lift, lift_lo, lift_hi = lift_interval(s0, n0, s1, n1, confidence)
        p_value = fisher_p_value(s0, n0, s1, n1)
    else:
        lift = lift_lo = lift_hi = p_value = math.nan
    return RateComparison(
        n_with=n1,
        n_without=n0,
        converted_with=s1,
        converted_without=s0,
        rate_with=s1 / n1 if n1 else math.nan,
        rate_without=s0 / n0 if n0 else math.nan,
        difference=d,
        difference_low=d_lo,
        difference_high=d_hi,
        lift=lift,
        lift_low=lift_lo,
        lift_high=lift_hi,
        p_value=p_value,
        confidence=confidence,
    )
