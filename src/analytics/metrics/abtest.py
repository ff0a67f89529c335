"""A/B tests of creatives or audiences measured on MQL (or sales).

Sales are rare, so a test of two creatives judged on sales takes months; MQL
are several times more frequent and come weeks earlier, so the same test
judged on MQL ends much sooner (:func:`days_to_detect`). This module builds
the week × arm table of visits, MQL and conversion from the warehouse and
tests the difference.

Attribution of an MQL to an arm
-------------------------------
The arm of a visit is its ``utm_content`` (creative) or ``utm_term`` (ad
group = audience), among the visits of the tested campaign / ad group. A lead
that is an MQL (by :mod:`analytics.metrics.definitions`) is attributed to the **last
test visit of the same visitor** (``leads.visitor_id``) that started at most
``window_days`` days before the lead was created, and counted in that visit's
arm and ISO week ("week of the visit"). Leads without a visitor id (calls
without a session) or without a test visit in the window are not attributed.
Sales are attributed the same way (a won deal of the lead). The conversion of
an arm is MQL / visits × 100%: visits, not visitors, are the trials, as in the
CRM report of the talk; with sticky assignment of visitors to arms the ratio of
two arms' rates still estimates the lift per visitor.

Statistics (two arms, A = control, B = treatment; ``s`` successes of ``n`` trials)
------------------------------------------------------------------------------------
* Fisher exact test, two-sided (:func:`scipy.stats.fisher_exact` on
  ``[[s_B, n_B − s_B], [s_A, n_A − s_A]]``);
* two-proportion z-test with pooled variance: ``p = (s_A + s_B) / (n_A + n_B)``,
  ``z = (p_B − p_A) / sqrt(p (1 − p) (1/n_A + 1/n_B))``, p-value = 2 (1 − Φ(|z|));
* Wilson score interval of each rate;
* relative lift = p_B / p_A − 1 with the Katz log interval:
  ``exp(ln(p_B / p_A) ± z sqrt(1/s_B − 1/n_B + 1/s_A − 1/n_A)) − 1``;
* Bayesian probability to be best with independent Beta(1, 1) priors, posterior
  Beta(1 + s, 1 + n − s); ``P(arm i best) = ∫ f_i(x) Π_{j≠i} F_j(x) dx`` by
  exact numerical integration (adaptive quadrature over the bulk of arm i's
  posterior, ``f`` density, ``F`` distribution function); no Monte Carlo;
* power of the two-sided z-test and sample size per arm (normal
  approximation, pooled variance under H0):
  ``n = (z_{1−α/2} sqrt(2 p̄ q̄) + z_{power} sqrt(p_1 q_1 + p_2 q_2))² / (p_2 − p_1)²``
  with ``p_2 = p_1 (1 + lift)``, ``p̄ = (p_1 + p_2) / 2``, ``q = 1 − p``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
from scipy import integrate, optimize, special, stats

from analytics.metrics.definitions import DEFAULT_DEFINITIONS, Definitions
from analytics.metrics.period import Period, date_range
from analytics.transforms.ab_arms import ARM_VISIT_COLUMNS, arm_week_counts
from analytics.transforms.backends import ibis_backend

ARM_COLUMNS = ARM_VISIT_COLUMNS
"""Arm kinds and the ``visits`` column that holds the arm."""

ALL = "all"
"""Arm label of the rows that add up every arm."""

TOTAL = "total"
"""Week label of the row that adds up every week."""


# --------------------------------------------------------------------------- warehouse


def arm_counts(
    con,
    period: Period,
    campaign: str | None = None,
    ad_group: str | None = None,
    arm: str = "creative",
    definitions: Definitions | None = None,
    window_days: int = 30,
) -> pd.DataFrame:
    """Visits, MQL and sales by ISO week of the visit and arm.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or ibis.BaseBackend
        Warehouse with the canonical tables, or an Ibis backend holding them
        (the counts are :func:`analytics.transforms.ab_arms.arm_week_counts`).
    period : Period
        Days of the test visits.
    campaign, ad_group : str, optional
        ``utm_campaign`` and ``utm_term`` of the test (None = any).
    arm : {"creative", "audience"}
        The arm is the visit's ``utm_content`` (creative) or ``utm_term``
        (ad group as audience).
    definitions : Definitions, optional
        MQL definitions (default: CRM stages).
    window_days : int
        Attribution window, days: a lead is attributed to the visitor's last
        test visit at most this many days before it (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per week and arm with visits: ``week`` (``YYYY-Www``),
        ``week_start`` (Monday), ``arm``, ``visits``, ``mql`` and ``sales``
        (attributed leads) and ``conversion_pct`` = mql / visits × 100%,
        sorted by week then arm.
    """
    if arm not in ARM_COLUMNS:
        raise ValueError(f"arm must be one of {', '.join(ARM_COLUMNS)}, got {arm!r}")
    if window_days < 1:
        raise ValueError(f"window_days must be >= 1, got {window_days}")
    definitions = definitions or DEFAULT_DEFINITIONS
    with ibis_backend(con) as backend:
        expr = arm_week_counts(
            backend,
            period.start,
            period.end_exclusive,
            arm,
            window_days,
            definitions,
            campaign=campaign,
            ad_group=ad_group,
        )
        counts = backend.execute(expr)
    counts = counts.sort_values(["week_start", "arm"], ignore_index=True)
    counts["week_start"] = pd.to_datetime(counts["week_start"]).astype("datetime64[us]")
    for column in ("visits", "mql", "sales"):
        counts[column] = counts[column].astype("int64")
    iso = counts["week_start"].dt.isocalendar()
    counts.insert(0, "week", iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2))
    counts["arm"] = counts["arm"].astype(str)
    counts["conversion_pct"] = _rate_pct(counts["mql"], counts["visits"])
    return counts.sort_values(["week_start", "arm"], ignore_index=True)


class ArmCounts:
    """:func:`arm_counts` of one connection, definitions and window, computed once per test.

    A report asks for the same test's counts several times: the notebook's
    detail, and every language of the verdict section
    (:func:`analytics.reports.marketing_page.ab_tests_section`). Each query
    reads the visits; this keeps the first result per (days, campaign, ad
    group, arm) and returns a copy of it after that.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or ibis.BaseBackend
        As in :func:`arm_counts`.
    definitions : Definitions, optional
        MQL definitions (default: CRM stages).
    window_days : int, default 30
        Attribution window, days.
    """

    def __init__(self, con, definitions: Definitions | None = None, window_days: int = 30):
        self.con = con
        self.definitions = definitions or DEFAULT_DEFINITIONS
        self.window_days = window_days
        self._computed: dict[tuple, pd.DataFrame] = {}

    def __call__(
        self,
        period: Period,
        campaign: str | None = None,
        ad_group: str | None = None,
        arm: str = "creative",
    ) -> pd.DataFrame:
        """:func:`arm_counts` of the test (a copy: callers may modify it)."""
        key = (period.start, period.end, campaign, ad_group, arm)
        if key not in self._computed:
            self._computed[key] = arm_counts(
                self.con, period, campaign, ad_group, arm, self.definitions, self.window_days
            )
        return self._computed[key].copy()


def trailing_weeks(period: Period, weeks: int) -> Period:
    """The ``weeks`` ISO weeks up to ``period.end``: from a Monday to ``period.end``.

    A test runs longer than one report period; its table covers these weeks.
    """
    if weeks < 1:
        raise ValueError(f"weeks must be >= 1, got {weeks}")
    monday = period.end - timedelta(days=period.end.weekday())
    return date_range(monday - timedelta(weeks=weeks - 1), period.end)


# --------------------------------------------------------------------------- tables


def weekly_table(counts: pd.DataFrame) -> pd.DataFrame:
    """The report table: per week an ``all`` row then each arm, and a total row.

    Parameters
    ----------
    counts : pandas.DataFrame
        Columns ``week``, ``arm``, ``visits``, ``mql`` (and optionally
        ``sales``), one row per week and arm (e.g. :func:`arm_counts`).

    Returns
    -------
    pandas.DataFrame
        Columns ``week``, ``arm``, ``visits``, ``mql`` [, ``sales``] and
        ``conversion_pct`` = mql / visits × 100% (``sales_conversion_pct``
        likewise). Per week (in the order given) one ``all`` row = the sum of
        its arms, followed by the arms; last, one row ``total`` / ``all`` =
        the sum over every week and arm of ``counts``. The total therefore
        covers every week passed in, whether or not a report shows it.
    """
    metrics = [c for c in ("visits", "mql", "sales") if c in counts]
    rows = []
    for week, group in counts.groupby("week", sort=False):
        rows.append({"week": week, "arm": ALL, **group[metrics].sum().to_dict()})
        rows += [
            {"week": week, "arm": r["arm"], **r[metrics].to_dict()} for _, r in group.iterrows()
        ]
    rows.append({"week": TOTAL, "arm": ALL, **counts[metrics].sum().to_dict()})
    out = pd.DataFrame(rows, columns=["week", "arm", *metrics])
    for col in metrics:
        out[col] = out[col].astype("int64")
    out["conversion_pct"] = _rate_pct(out["mql"], out["visits"])
    if "sales" in out:
        out["sales_conversion_pct"] = _rate_pct(out["sales"], out["visits"])
    return out


def _rate_pct(successes: pd.Series, trials: pd.Series) -> pd.Series:
    den = trials.astype("float64")
    return successes.astype("float64") * 100.0 / den.where(den != 0, np.nan)


def arm_tests(
    counts: pd.DataFrame,
    control: str,
    treatment: str,
    metric: str = "mql",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Compare two arms week by week and over all weeks (:func:`compare_arms`).

    Parameters
    ----------
    counts : pandas.DataFrame
        Columns ``week``, ``arm``, ``visits`` and ``metric``.
    control, treatment : str
        Arm labels of A and B.
    metric : str
        Success column (``mql`` or ``sales``).

    Returns
    -------
    pandas.DataFrame
        One row per week (and ``total``) with both arms present: ``week`` and
        the keys of :func:`compare_arms`.
    """
    rows = []
    weeks = [*counts["week"].drop_duplicates(), TOTAL]
    for week in weeks:
        part = counts if week == TOTAL else counts[counts["week"] == week]
        sums = part.groupby("arm")[["visits", metric]].sum()
        if control not in sums.index or treatment not in sums.index:
            continue
        a, b = sums.loc[control], sums.loc[treatment]
        rows.append(
            {
                "week": week,
                **compare_arms(
                    int(a[metric]), int(a["visits"]), int(b[metric]), int(b["visits"]), confidence
                ),
            }
        )
    return pd.DataFrame(rows)


def arm_intervals(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Wilson intervals of the conversion of every row of :func:`weekly_table`.

    Returns
    -------
    pandas.DataFrame
        The table with ``conversion_low_pct`` and ``conversion_high_pct`` (%).
    """
    out = table.copy()
    bounds = [
        wilson_interval(int(m), int(v), confidence)
        for m, v in zip(out["mql"], out["visits"], strict=True)
    ]
    out["conversion_low_pct"] = [lo * 100.0 for lo, _ in bounds]
    out["conversion_high_pct"] = [hi * 100.0 for _, hi in bounds]
    return out


def interval_long(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Conversion of each arm over all weeks with its Wilson interval, long form.

    For a seaborn point plot whose median is the rate and whose full range
    (``errorbar=("pi", 100)``) is the interval.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`weekly_table` or counts with ``arm``, ``visits`` and ``mql``.

    Returns
    -------
    pandas.DataFrame
        Three rows per arm (``low``, ``rate``, ``high``): ``arm``, ``bound``
        and ``conversion_pct`` (%). Arms with no visits are left out.
    """
    rows = table[(table["arm"] != ALL) & (table.get("week", "") != TOTAL)]
    sums = rows.groupby("arm", sort=False)[["visits", "mql"]].sum()
    records = []
    for arm, r in sums.iterrows():
        if r["visits"] <= 0:
            continue
        low, high = wilson_interval(int(r["mql"]), int(r["visits"]), confidence)
        rate = r["mql"] / r["visits"]
        for bound, value in (("low", low), ("rate", rate), ("high", high)):
            records.append({"arm": arm, "bound": bound, "conversion_pct": value * 100.0})
    return pd.DataFrame(records, columns=["arm", "bound", "conversion_pct"])


def lift_long(tests: pd.DataFrame) -> pd.DataFrame:
    """Lift of B over A with its interval per week, long form (as :func:`interval_long`).

    Returns
    -------
    pandas.DataFrame
        Three rows per week with a finite interval: ``week``, ``bound``
        (low/lift/high) and ``lift_pct`` (%).
    """
    records = []
    for _, r in tests.iterrows():
        if not np.isfinite([r["lift_low"], r["lift_high"]]).all():
            continue
        for bound, column in (("low", "lift_low"), ("lift", "lift"), ("high", "lift_high")):
            records.append({"week": r["week"], "bound": bound, "lift_pct": r[column] * 100.0})
    return pd.DataFrame(records, columns=["week", "bound", "lift_pct"])


def duration_plan(
    counts: pd.DataFrame,
    control: str,
    days: int,
    lift: float,
    alpha: float = 0.05,
    power_target: float = 0.8,
) -> pd.DataFrame:
    """How long the observed test needs on MQL and on sales, and what it can detect now.

    Daily traffic = visits of every arm / ``days``; the base rates are the
    control arm's MQL / visits and sales / visits over all weeks.

    Returns
    -------
    pandas.DataFrame
        Index ``MQL`` and ``sales``: the columns of :func:`days_to_detect`
        for ``lift``, plus ``n_per_arm_now`` (visits per arm so far, the
        smaller arm), ``power_now`` (power for ``lift`` at that n) and
        ``mde_now_pct`` (relative lift detectable now with ``power_target``, %).
    """
    visits = counts["visits"].sum()
    by_arm = counts.groupby("arm")[["visits", "mql", "sales"]].sum()
    if control in by_arm.index and by_arm.loc[control, "visits"] > 0:
        base = by_arm.loc[control]
        rates = {"MQL": base["mql"] / base["visits"], "sales": base["sales"] / base["visits"]}
    else:
        rates = {"MQL": 0.0, "sales": 0.0}
    plan = days_to_detect(visits / days if days else 0.0, rates, lift, max(len(by_arm), 2), alpha)
    n_now = float(by_arm["visits"].min()) if len(by_arm) else 0.0
    power_now, mde_now = [], []
    for rate in rates.values():
        usable = n_now > 0 and 0 < rate and rate * (1 + lift) < 1
        power_now.append(power(n_now, rate, lift, alpha) if usable else math.nan)
        mde = minimum_detectable_effect(n_now, rate, alpha, power_target) if usable else math.nan
        mde_now.append(mde * 100.0)
    plan["n_per_arm_now"] = n_now
    plan["power_now"] = power_now
    plan["mde_now_pct"] = mde_now
    return plan


# --------------------------------------------------------------------------- statistics


def fisher_p_value(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float:
    """Two-sided Fisher exact test of equal rates in two arms.

    Table ``[[s_B, n_B − s_B], [s_A, n_A − s_A]]`` (the p-value does not
    depend on the order of rows or columns).
    """
    table = [
        [successes_b, trials_b - successes_b],
        [successes_a, trials_a - successes_a],
    ]
    return float(stats.fisher_exact(table, alternative="two-sided").pvalue)


def z_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> tuple[float, float]:
    """Two-proportion z-test with pooled variance.

    ``z = (p_B − p_A) / sqrt(p (1 − p) (1/n_A + 1/n_B))``,
    ``p = (s_A + s_B) / (n_A + n_B)``; two-sided p-value = 2 (1 − Φ(|z|)).

    Returns
    -------
    tuple of float
        ``(z, p_value)``; NaN when the pooled rate is 0 or 1.
    """
    p_a, p_b = successes_a / trials_a, successes_b / trials_b
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    var = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if var <= 0:
        return math.nan, math.nan
    z = (p_b - p_a) / math.sqrt(var)
    return z, float(2 * stats.norm.sf(abs(z)))


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a rate (fractions, not %).

    ``centre = (p + z²/2n) / (1 + z²/n)``,
    ``half = z / (1 + z²/n) × sqrt(p (1 − p) / n + z² / 4n²)``, ``p = s / n``,
    ``z = Φ⁻¹(1 − (1 − confidence) / 2)``. NaN for ``n = 0``.
    """
    if trials <= 0:
        return math.nan, math.nan
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    p = successes / trials
    denom = 1 + z**2 / trials
    centre = (p + z**2 / (2 * trials)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2))
    return max(0.0, centre - half), min(1.0, centre + half)


def lift_interval(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Relative lift of B over A with the Katz log interval.

    lift = p_B / p_A − 1; interval
    ``exp(ln(p_B / p_A) ± z sqrt(1/s_B − 1/n_B + 1/s_A − 1/n_A)) − 1``.

    Returns
    -------
    tuple of float
        ``(lift, low, high)`` as fractions (0.3 = +30%); NaN bounds when an
        arm has no successes.
    """
    if successes_a == 0:
        return math.nan, math.nan, math.nan
    ratio = (successes_b / trials_b) / (successes_a / trials_a)
    if successes_b == 0:
        return ratio - 1, math.nan, math.nan
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    se = math.sqrt(1 / successes_b - 1 / trials_b + 1 / successes_a - 1 / trials_a)
    log_ratio = math.log(ratio)
    return ratio - 1, math.exp(log_ratio - z * se) - 1, math.exp(log_ratio + z * se) - 1


def probability_to_be_best(successes, trials) -> np.ndarray:
    """Posterior probability that each arm has the highest rate.

    Independent Beta(1, 1) priors give posteriors Beta(1 + s_i, 1 + n_i − s_i);
    ``P(i best) = ∫ f_i(x) Π_{j≠i} F_j(x) dx``, integrated exactly (adaptive
    quadrature, :func:`scipy.integrate.quad`) over the central
    1 − 2·10⁻¹² mass of arm i's posterior.

    Parameters
    ----------
    successes, trials : sequence of int
        One entry per arm.

    Returns
    -------
    numpy.ndarray
        Probabilities, one per arm, summing to 1 (up to ~1e-9).
    """
    s = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if s.shape != n.shape or s.ndim != 1 or len(s) < 2:
        raise ValueError("need successes and trials of the same length, at least two arms")
    posteriors = [stats.beta(1 + si, 1 + ni - si) for si, ni in zip(s, n, strict=True)]
    out = np.empty(len(s))
    for i, post in enumerate(posteriors):
        others = [p for j, p in enumerate(posteriors) if j != i]

        def integrand(x, post=post, others=others):
            return post.pdf(x) * math.prod(p.cdf(x) for p in others)

        lo, hi = post.ppf(1e-12), post.isf(1e-12)
        points = sorted({float(p.mean()) for p in posteriors if lo < p.mean() < hi})
        value, _ = integrate.quad(integrand, lo, hi, points=points or None, limit=200, epsabs=1e-12)
        out[i] = value
    return out


def probability_b_beats_a(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int
) -> float:
    """P(rate B > rate A) under Beta(1, 1) priors, in closed form.

    With ``α = 1 + s``, ``β = 1 + n − s``:
    ``P = Σ_{i=0}^{α_B − 1} B(α_A + i, β_A + β_B) / ((β_B + i) B(1 + i, β_B) B(α_A, β_A))``
    (a finite sum, computed in logs); equal to :func:`probability_to_be_best`
    of arm B for two arms.
    """
    a_a, b_a = 1 + successes_a, 1 + trials_a - successes_a
    a_b, b_b = 1 + successes_b, 1 + trials_b - successes_b
    i = np.arange(a_b)
    log_terms = (
        special.betaln(a_a + i, b_a + b_b)
        - np.log(b_b + i)
        - special.betaln(1 + i, b_b)
        - special.betaln(a_a, b_a)
    )
    return float(np.exp(special.logsumexp(log_terms)))


def compare_arms(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, confidence: float = 0.95
) -> dict[str, float]:
    """Every test of B against A at once.

    Returns
    -------
    dict
        ``visits_a``, ``successes_a``, ``rate_a_pct`` (%) with ``rate_a_low_pct``
        / ``rate_a_high_pct`` (Wilson), the same for B, ``lift`` with
        ``lift_low`` / ``lift_high`` (fractions, Katz), ``fisher_p``, ``z``,
        ``z_p`` and ``prob_b_best`` (Bayesian, Beta(1, 1) priors).
    """
    lo_a, hi_a = wilson_interval(successes_a, trials_a, confidence)
    lo_b, hi_b = wilson_interval(successes_b, trials_b, confidence)
    lift, lift_lo, lift_hi = lift_interval(successes_a, trials_a, successes_b, trials_b, confidence)
    z, z_p = z_test(successes_a, trials_a, successes_b, trials_b)
    return {
        "visits_a": trials_a,
        "successes_a": successes_a,
        "rate_a_pct": successes_a / trials_a * 100.0,
        "rate_a_low_pct": lo_a * 100.0,
        "rate_a_high_pct": hi_a * 100.0,
        "visits_b": trials_b,
        "successes_b": successes_b,
        "rate_b_pct": successes_b / trials_b * 100.0,
        "rate_b_low_pct": lo_b * 100.0,
        "rate_b_high_pct": hi_b * 100.0,
        "lift": lift,
        "lift_low": lift_lo,
        "lift_high": lift_hi,
        "fisher_p": fisher_p_value(successes_a, trials_a, successes_b, trials_b),
        "z": z,
        "z_p": z_p,
        "prob_b_best": probability_b_beats_a(successes_a, trials_a, successes_b, trials_b),
    }


# --------------------------------------------------------------------------- planning


def _z(q: float) -> float:
    return float(stats.norm.ppf(q))


def power(n_per_arm: float, base_rate: float, lift: float, alpha: float = 0.05) -> float:
    """Power of the two-sided two-proportion z-test.

    ``power = Φ((|p_2 − p_1| sqrt(n) − z_{1−α/2} sqrt(2 p̄ q̄)) / sqrt(p_1 q_1 + p_2 q_2))``
    with ``p_1`` = base rate, ``p_2 = p_1 (1 + lift)``, ``n`` per arm (the
    far tail is ignored).

    Parameters
    ----------
    n_per_arm : float
        Trials (visits) in each arm.
    base_rate : float
        Conversion of the control arm, fraction.
    lift : float
        Relative lift of the treatment, fraction (0.3 = +30%).
    alpha : float
        Two-sided significance level.
    """
    p1, p2 = base_rate, base_rate * (1 + lift)
    p_bar = (p1 + p2) / 2
    num = abs(p2 - p1) * math.sqrt(n_per_arm) - _z(1 - alpha / 2) * math.sqrt(
        2 * p_bar * (1 - p_bar)
    )
    return float(stats.norm.cdf(num / math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))))


def sample_size(base_rate: float, lift: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Trials per arm to detect a relative lift with the two-sided z-test.

    ``n = (z_{1−α/2} sqrt(2 p̄ q̄) + z_{power} sqrt(p_1 q_1 + p_2 q_2))² / (p_2 − p_1)²``,
    rounded up; ``p_2 = p_1 (1 + lift)``, ``p̄ = (p_1 + p_2) / 2``.
    """
    p1, p2 = base_rate, base_rate * (1 + lift)
    if not 0 < p1 < 1 or not 0 < p2 < 1 or p1 == p2:
        raise ValueError(f"need 0 < rates < 1 and a non-zero lift, got {p1} and {p2}")
    p_bar = (p1 + p2) / 2
    root = _z(1 - alpha / 2) * math.sqrt(2 * p_bar * (1 - p_bar)) + _z(power) * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return math.ceil(root**2 / (p2 - p1) ** 2)


def minimum_detectable_effect(
    n_per_arm: float, base_rate: float, alpha: float = 0.05, power_target: float = 0.8
) -> float:
    """Smallest relative lift detected with the given power at ``n_per_arm`` trials per arm.

    Solves :func:`power` ``(n, base_rate, lift) = power_target`` for
    ``lift > 0`` (root finding); NaN if even ``p_2 → 1`` is not enough.

    Returns
    -------
    float
        Relative lift, fraction (0.5 = +50%); the absolute MDE is
        ``base_rate × lift``.
    """
    top = (1 - 1e-9) / base_rate - 1
    if n_per_arm <= 0 or power(n_per_arm, base_rate, top, alpha) < power_target:
        return math.nan
    return float(
        optimize.brentq(
            lambda lift: power(n_per_arm, base_rate, lift, alpha) - power_target, 1e-9, top
        )
    )


def days_to_detect(
    daily_visits: float,
    rates: dict[str, float],
    lift: float,
    arms: int = 2,
    alpha: float = 0.05,
    power_target: float = 0.8,
) -> pd.DataFrame:
    """How long a test runs when judged on each conversion (e.g. MQL vs sales).

    days = ceil(arms × n per arm / daily visits), n from :func:`sample_size`.

    Parameters
    ----------
    daily_visits : float
        Visits per day into the test, all arms together.
    rates : dict
        Conversion per visit of the control, fraction, by name
        (``{"MQL": 0.0033, "sales": 0.0004}``).
    lift : float
        Relative lift to detect, fraction.
    arms : int
        Number of arms splitting the traffic evenly.

    Returns
    -------
    pandas.DataFrame
        Index = conversion name; ``rate_pct`` (%), ``n_per_arm`` (visits),
        ``visits_total``, ``days`` (NaN for a zero rate or no traffic).
    """
    rows = []
    for name, rate in rates.items():
        if rate > 0 and rate * (1 + lift) < 1 and daily_visits > 0:
            n = sample_size(rate, lift, alpha, power_target)
            rows.append((name, rate * 100.0, n, n * arms, math.ceil(n * arms / daily_visits)))
        else:
            rows.append((name, rate * 100.0, math.nan, math.nan, math.nan))
    columns = ["conversion", "rate_pct", "n_per_arm", "visits_total", "days"]
    return pd.DataFrame(rows, columns=columns).set_index("conversion")


# --------------------------------------------------------------------------- test list


class ABTestsError(ValueError):
    """``ab_tests.yaml`` is invalid; the message names the file, the test and the key."""


@dataclass(frozen=True)
class ABTest:
    """One A/B test of ``params/ab_tests.yaml``.

    Attributes
    ----------
    title : dict
        ``{"ru": ..., "en": ...}``: the test's heading on the page.
    campaign, ad_group : str or None
        ``utm_campaign`` and ``utm_term`` of the test's visits (None = any).
    arm : str
        ``creative`` (``utm_content``) or ``audience`` (``utm_term``).
    control, treatment : str
        Arm values of A and B.
    labels : dict
        ``{arm value: {"ru": ..., "en": ...}}``: the arms' names for people.
    weeks : int
        ISO weeks of the test, up to the end of the report period.
    lift_to_detect : float
        Relative lift (fraction) the test must be able to detect.
    """

    title: dict
    campaign: str | None
    ad_group: str | None
    arm: str
    control: str
    treatment: str
    labels: dict
    weeks: int = 26
    lift_to_detect: float = 0.3

    def text(self, what: str, locale: str) -> str:
        """``title`` or an arm's label (``control``/``treatment``) in ``locale``."""
        language = "ru" if str(locale).startswith("ru") else "en"
        if what == "title":
            return self.title.get(language) or self.title.get("en") or ""
        value = getattr(self, what)
        return self.labels.get(value, {}).get(language) or value


def _bilingual(value, where: str) -> dict:
    if isinstance(value, str):
        return {"ru": value, "en": value}
    if not isinstance(value, dict) or not value:
        raise ABTestsError(f"{where} must be a text or {{ru: ..., en: ...}}")
    return {str(k): str(v) for k, v in value.items()}


def load_ab_tests(path=None) -> list[ABTest]:
    """The A/B tests of ``params/ab_tests.yaml`` (the project's, else the bundled one).

    Returns
    -------
    list of ABTest
        In file order; ``[]`` when there is no file or it lists no test.

    Raises
    ------
    ABTestsError
        A test without ``control``/``treatment``, an unknown ``arm``, a
        non-positive ``weeks`` or ``lift_to_detect``; the message names the
        file, the test (1-based) and the key.
    """
    from pathlib import Path

    import yaml

    from analytics import paths

    if path is None:
        try:
            path = paths.params_file("ab_tests.yaml")
        except FileNotFoundError:
            return []
    path = Path(path)
    if not path.is_file():
        return []
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ABTestsError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    entries = spec.get("tests") if isinstance(spec, dict) else None
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ABTestsError(f"{path}: 'tests' must be a list of tests")
    tests = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: test {number}"
        if not isinstance(entry, dict):
            raise ABTestsError(f"{where} must be a mapping")
        arm = str(entry.get("arm", "creative"))
        if arm not in ARM_COLUMNS:
            raise ABTestsError(f"{where}: arm must be one of {', '.join(ARM_COLUMNS)}, got {arm!r}")
        values, labels = {}, {}
        for side in ("control", "treatment"):
            given = entry.get(side)
            if isinstance(given, dict) and given.get("value"):
                values[side] = str(given["value"])
                names = {k: str(v) for k, v in given.items() if k != "value"}
                labels[values[side]] = names or {"ru": values[side], "en": values[side]}
            elif isinstance(given, str | int) and str(given):
                values[side] = str(given)
            else:
                raise ABTestsError(f"{where}: '{side}' is missing (an arm value or {{value: ...}})")
        try:
            weeks = int(entry.get("weeks", 26))
            lift = float(entry.get("lift_to_detect", 0.3))
        except (TypeError, ValueError):
            raise ABTestsError(f"{where}: 'weeks' and 'lift_to_detect' must be numbers") from None
        if weeks < 1 or lift <= 0:
            raise ABTestsError(f"{where}: 'weeks' must be >= 1 and 'lift_to_detect' > 0")
        title = entry.get("title") or f"{values['control']} / {values['treatment']}"
        tests.append(
            ABTest(
                title=_bilingual(title, f"{where}: 'title'"),
                campaign=entry.get("campaign"),
                ad_group=entry.get("ad_group"),
                arm=arm,
                control=values["control"],
                treatment=values["treatment"],
                labels=labels,
                weeks=weeks,
                lift_to_detect=lift,
            )
        )
    return tests
