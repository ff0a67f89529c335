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

Ratios (NaN when the divisor is 0)
----------------------------------
* ``cpl`` = spend / leads, RUB; ``cost_per_mql`` = spend / MQL;
  ``cost_per_sql`` = spend / SQL;
* ``romi`` = (revenue − spend) / spend × 100 %;
* ``drr`` (ДРР) = spend / revenue × 100 %.

Change: :func:`drilldown_with_change` adds ``<figure>_previous`` and
``<figure>_change`` = (current − previous) / previous × 100 % (NaN when the
previous value is 0) for spend, leads, MQL, SQL, sales and revenue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.metrics.definitions import Definitions, lead_flags
from analytics.metrics.period import Period, previous_period

LEVELS = ("channel", "campaign", "ad_group", "creative")
"""Hierarchy of the drill-down, top to bottom (ad group = keyword = ``utm_term``)."""

COUNTS = ("spend", "visits", "leads", "mql", "sql_leads", "sales", "revenue")
RATIOS = ("cpl", "cost_per_mql", "cost_per_sql", "romi", "drr")
CHANGED = ("spend", "leads", "mql", "sql_leads", "sales", "revenue")

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
    parts = [
        spend.groupby(keys, dropna=False)[["spend"]].sum(),
        visits.groupby(keys, dropna=False)[["visits"]].sum(),
        leads.groupby(keys, dropna=False)[["leads", "mql", "sql_leads", "sales", "revenue"]].sum(),
    ]
    frame = pd.concat(parts, axis=1).fillna(0.0).reset_index()
    for column in COUNTS:
        if column not in frame:
            frame[column] = 0.0
    for column in ("visits", "leads", "mql", "sql_leads", "sales"):
        frame[column] = frame[column].astype("int64")
    frame["spend"] = frame["spend"].astype("float64")
    frame["revenue"] = frame["revenue"].astype("float64")
    frame["cpl"] = _ratio(frame["spend"], frame["leads"])
    frame["cost_per_mql"] = _ratio(frame["spend"], frame["mql"])
    frame["cost_per_sql"] = _ratio(frame["spend"], frame["sql_leads"])
    frame["romi"] = _ratio(frame["revenue"] - frame["spend"], frame["spend"], 100.0)
    frame["drr"] = _ratio(frame["spend"], frame["revenue"], 100.0)
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
