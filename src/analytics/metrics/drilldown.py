"""Marketing drill-down: channel → campaign → ad group (keyword) → creative.

The core table of an end-to-end analytics service: for every row of the
hierarchy, what was spent, what it brought and what it cost, with the change
against the previous period of the same length.

Rows and keys
-------------
The hierarchy is :data:`LEVELS`; ``depth`` cuts it (``"campaign"`` gives
channel × campaign rows). Each figure is grouped by its own record's keys:

* ``spend`` by ``spend.channel``, ``campaign``, ``ad_group``, ``creative``
  (``spend.date`` in the period, RUB);
* ``visits`` by the visit's ``channel``, ``utm_campaign``, ``utm_term``
  (the ad group / keyword), ``utm_content`` (the creative);
* ``leads`` and their outcomes by the lead's visit, as ``visits``; a lead
  without a tracked visit or a UTM value falls in ``undetermined``.

Basis: spend and visits by their day; ``leads``, ``mql``, ``sql_leads``,
``sales`` and ``revenue`` are the **cohort** of leads created in the period
(:func:`analytics.metrics.definitions.lead_flags`), whatever day they
convert, so the sums over channels equal :func:`analytics.metrics.funnel.funnel_summary`.
``sales_booked`` and ``revenue_booked`` are **booked**: deals won in the
period (:func:`analytics.metrics.kpi.closed_deals`' rule, the CEO's
revenue), whatever day their lead came, each counted in the row of its
lead's visit (``deals.lead_id`` → ``leads.visit_id`` → the visit's channel
and UTM; ``undetermined`` without one), so their sums over rows equal
:func:`analytics.metrics.revenue.booked_summary`.

Ratios (NaN when the divisor is 0)
----------------------------------
* ``cpl`` = spend / leads, RUB; ``cost_per_mql`` = spend / MQL;
  ``cost_per_sql`` = spend / SQL;
* ``romi`` = (revenue − spend) / spend × 100 %;
* ``drr`` (ДРР) = spend / revenue × 100 %;
* ``romi_booked``, ``drr_booked``: the same on ``revenue_booked``.

Change: :func:`drilldown_with_change` adds ``<figure>_previous`` and
``<figure>_change`` = (current − previous) / previous × 100 % (NaN when the
previous value is 0) for spend, leads, MQL, SQL, sales and revenue (cohort and booked).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.metrics.definitions import Definitions, lead_flags
from analytics.metrics.period import Period, previous_period

LEVELS = ("channel", "campaign", "ad_group", "creative")
"""Hierarchy of the drill-down, top to bottom (ad group = keyword = ``utm_term``)."""

COUNTS = (
    "spend",
    "visits",
    "leads",
    "mql",
    "sql_leads",
    "sales",
    "revenue",
    "sales_booked",
    "revenue_booked",
)
RATIOS = ("cpl", "cost_per_mql", "cost_per_sql", "romi", "drr", "romi_booked", "drr_booked")
CHANGED = (
    "spend",
    "leads",
    "mql",
    "sql_leads",
    "sales",
    "revenue",
    "sales_booked",
    "revenue_booked",
)

UNDETERMINED = "undetermined"

_SPEND_SQL = """
SELECT channel, campaign, ad_group, creative, sum(cost) AS spend
FROM spend WHERE date >= $start AND date < $stop
GROUP BY ALL
"""

_VISITS_SQL = """
SELECT channel,
       coalesce(nullif(utm_campaign, ''), 'undetermined') AS campaign,
       coalesce(nullif(utm_term, ''), 'undetermined') AS ad_group,
       coalesce(nullif(utm_content, ''), 'undetermined') AS creative,
       count(*) AS visits
FROM visits WHERE visit_start >= $start AND visit_start < $stop
GROUP BY ALL
"""

_LEAD_UTM_SQL = """
SELECT l.lead_id,
       coalesce(nullif(v.utm_term, ''), 'undetermined') AS ad_group,
       coalesce(nullif(v.utm_content, ''), 'undetermined') AS creative
FROM leads l LEFT JOIN visits v USING (visit_id)
WHERE l.created_at >= $start AND l.created_at < $stop
"""


_LEAD_PLACE_SQL = """
WITH lead AS (SELECT lead_id, any_value(visit_id) AS visit_id FROM leads GROUP BY lead_id),
visit AS (
  SELECT visit_id, any_value(channel) AS channel, any_value(utm_campaign) AS campaign,
         any_value(utm_term) AS ad_group, any_value(utm_content) AS creative
  FROM visits GROUP BY visit_id
)
SELECT l.lead_id,
       coalesce(nullif(v.channel, ''), 'undetermined') AS channel,
       coalesce(nullif(v.campaign, ''), 'undetermined') AS campaign,
       coalesce(nullif(v.ad_group, ''), 'undetermined') AS ad_group,
       coalesce(nullif(v.creative, ''), 'undetermined') AS creative
FROM lead AS l LEFT JOIN visit AS v ON v.visit_id = l.visit_id
"""
"""Channel and UTM of each lead's visit (``undetermined`` without one)."""


def _booked(con, period: Period) -> pd.DataFrame:
    """Deals won in the period (:func:`analytics.metrics.kpi.closed_deals`' rule), each in
    the row of its lead's visit: ``LEVELS``, ``sales_booked`` (1) and ``revenue_booked``."""
    from analytics.metrics.kpi import closed_deals

    closed = closed_deals(con, period.start, period.end_exclusive)
    won = closed.loc[closed["outcome"] == "won", ["lead_id", "amount"]]
    places = con.execute(_LEAD_PLACE_SQL).df()
    won = won.merge(places, on="lead_id", how="left")
    for level in LEVELS:
        won[level] = won[level].fillna(UNDETERMINED)
    return won.assign(sales_booked=1, revenue_booked=won["amount"].fillna(0.0).astype(float))


def _ratio(numerator: pd.Series, denominator: pd.Series, scale: float = 1.0) -> pd.Series:
    denominator = denominator.astype("float64")
    return (numerator.astype("float64") / denominator.where(denominator != 0)) * scale


def drilldown(
    con,
    period: Period,
    depth: str = "creative",
    definitions: Definitions | None = None,
) -> pd.DataFrame:
    """Figures of the period per row of the hierarchy down to ``depth``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    period : Period
    depth : {"channel", "campaign", "ad_group", "creative"}
    definitions : Definitions, optional
        MQL/SQL definitions; default the CRM stages.

    Returns
    -------
    pandas.DataFrame
        Columns: the levels down to ``depth``, :data:`COUNTS` and
        :data:`RATIOS` (module docstring); sorted by spend then leads,
        descending. Rows with nothing at all are absent.

    Raises
    ------
    ValueError
        For an unknown ``depth``.
    """
    if depth not in LEVELS:
        raise ValueError(f"depth must be one of {', '.join(LEVELS)}, got {depth!r}")
    keys = list(LEVELS[: LEVELS.index(depth) + 1])
    params = {"start": period.start, "stop": period.end_exclusive}
    spend = con.execute(_SPEND_SQL, params).df()
    visits = con.execute(_VISITS_SQL, params).df()
    flags = lead_flags(con, period, definitions)
    utm = con.execute(_LEAD_UTM_SQL, params).df()
    leads = flags.merge(utm, on="lead_id", how="left")
    for column in ("ad_group", "creative"):
        leads[column] = leads[column].fillna(UNDETERMINED)
    leads = leads.assign(
        leads=1,
        mql=leads["is_mql"].astype(int),
        sql_leads=leads["is_sql"].astype(int),
        sales=leads["is_won"].astype(int),
        revenue=leads["revenue"].fillna(0.0).astype(float),
    )
    booked = _booked(con, period)
    parts = [
        spend.groupby(keys, dropna=False)[["spend"]].sum(),
        booked.groupby(keys, dropna=False)[["sales_booked", "revenue_booked"]].sum(),
        visits.groupby(keys, dropna=False)[["visits"]].sum(),
        leads.groupby(keys, dropna=False)[["leads", "mql", "sql_leads", "sales", "revenue"]].sum(),
    ]
    frame = pd.concat(parts, axis=1).fillna(0.0).reset_index()
    for column in COUNTS:
        if column not in frame:
            frame[column] = 0.0
    for column in ("visits", "leads", "mql", "sql_leads", "sales", "sales_booked"):
        frame[column] = frame[column].astype("int64")
    for column in ("spend", "revenue", "revenue_booked"):
        frame[column] = frame[column].astype("float64")
    frame["cpl"] = _ratio(frame["spend"], frame["leads"])
    frame["cost_per_mql"] = _ratio(frame["spend"], frame["mql"])
    frame["cost_per_sql"] = _ratio(frame["spend"], frame["sql_leads"])
    frame["romi"] = _ratio(frame["revenue"] - frame["spend"], frame["spend"], 100.0)
    frame["drr"] = _ratio(frame["spend"], frame["revenue"], 100.0)
    frame["romi_booked"] = _ratio(frame["revenue_booked"] - frame["spend"], frame["spend"], 100.0)
    frame["drr_booked"] = _ratio(frame["spend"], frame["revenue_booked"], 100.0)
    frame = frame.sort_values(
        ["spend", "leads", *keys], ascending=[False, False, *[True] * len(keys)]
    )
    return frame[keys + list(COUNTS) + list(RATIOS)].reset_index(drop=True)


def drilldown_with_change(
    con,
    period: Period,
    depth: str = "creative",
    definitions: Definitions | None = None,
) -> pd.DataFrame:
    """:func:`drilldown` of the period with the previous period's figures and the change.

    Adds ``<figure>_previous`` and ``<figure>_change`` (%, NaN when the
    previous value is 0) for :data:`CHANGED`. Rows are those of the period; a row
    the previous period did not have counts 0 there (its change is NaN).
    """
    keys = list(LEVELS[: LEVELS.index(depth) + 1])
    now = drilldown(con, period, depth, definitions)
    before = drilldown(con, previous_period(period), depth, definitions)
    before = before[keys + list(CHANGED)].rename(columns={c: f"{c}_previous" for c in CHANGED})
    merged = now.merge(before, on=keys, how="left")
    for column in CHANGED:
        previous = merged[f"{column}_previous"].fillna(0.0).astype("float64")
        merged[f"{column}_previous"] = previous
        merged[f"{column}_change"] = np.where(
            previous != 0,
            (merged[column] - previous) / previous.abs().where(previous != 0) * 100,
            np.nan,
        )
    return merged


_CAMPAIGN_WEEKLY_SQL = """
WITH cost AS (
  SELECT date_trunc('week', date)::DATE AS week_start, channel,
         coalesce(nullif(campaign, ''), 'undetermined') AS campaign, sum(cost) AS spend
  FROM spend WHERE date >= $start AND date < $stop
  GROUP BY ALL
), lead AS (
  SELECT date_trunc('week', l.created_at)::DATE AS week_start,
         coalesce(nullif(v.channel, ''), 'undetermined') AS channel,
         coalesce(nullif(v.utm_campaign, ''), 'undetermined') AS campaign,
         count(DISTINCT l.lead_id) AS leads
  FROM leads AS l LEFT JOIN visits AS v USING (visit_id)
  WHERE l.created_at >= $start AND l.created_at < $stop
  GROUP BY ALL
)
SELECT coalesce(c.week_start, l.week_start) AS week_start,
       coalesce(c.channel, l.channel) AS channel,
       coalesce(c.campaign, l.campaign) AS campaign,
       coalesce(c.spend, 0) AS spend, coalesce(l.leads, 0) AS leads
FROM cost AS c FULL OUTER JOIN lead AS l
  ON c.week_start = l.week_start AND c.channel = l.channel AND c.campaign = l.campaign
"""


def campaign_weekly(con, period: Period, weeks: int = 13) -> pd.DataFrame:
    """Spend and leads per channel × campaign for the ``weeks`` ISO weeks to ``period.end``.

    The input of the per-campaign anomaly check
    (:func:`analytics.metrics.changes.campaign_anomalies`): the last week
    against the weeks before it.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    period : Period
        The last week is the ISO week holding ``period.end``.
    weeks : int, default 13
        Weeks in the series (the last one and up to 12 before it).

    Returns
    -------
    pandas.DataFrame
        One row per week × channel × campaign that had spend or leads in any
        of the weeks (zeros filled in, so every campaign has every week):
        ``week`` (``YYYY-Www``), ``week_start`` (Monday), ``channel``,
        ``campaign``, ``spend`` (RUB, by ``spend.date``) and ``leads`` (by
        ``leads.created_at``, in the campaign of the lead's visit), oldest
        week first.
    """
    from datetime import timedelta

    if weeks < 1:
        raise ValueError(f"weeks must be >= 1, got {weeks}")
    last_monday = period.end - timedelta(days=period.end.weekday())
    first_monday = last_monday - timedelta(weeks=weeks - 1)
    params = {"start": first_monday, "stop": period.end_exclusive}
    raw = con.execute(_CAMPAIGN_WEEKLY_SQL, params).df()
    mondays = [first_monday + timedelta(weeks=i) for i in range(weeks)]
    columns = ["week", "week_start", "channel", "campaign", "spend", "leads"]
    if raw.empty:
        return pd.DataFrame(columns=columns)
    raw["week_start"] = pd.to_datetime(raw["week_start"]).dt.date
    pairs = raw[["channel", "campaign"]].drop_duplicates().sort_values(["channel", "campaign"])
    grid = pd.MultiIndex.from_tuples(
        [(m, c, k) for c, k in pairs.itertuples(index=False) for m in mondays],
        names=["week_start", "channel", "campaign"],
    )
    out = (
        raw.groupby(["week_start", "channel", "campaign"])[["spend", "leads"]]
        .sum()
        .reindex(grid, fill_value=0)
        .reset_index()
        .sort_values(["week_start", "channel", "campaign"], ignore_index=True)
    )
    out["spend"] = out["spend"].astype("float64")
    out["leads"] = out["leads"].astype("int64")
    iso = [m.isocalendar() for m in out["week_start"]]
    out["week"] = [f"{y}-W{w:02d}" for y, w, _ in iso]
    out["week_start"] = out["week_start"].map(lambda d: d.isoformat())
    return out[columns]
