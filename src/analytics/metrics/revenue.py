"""Booked revenue: what the company won in a period, for the CEO view.

The funnel (:mod:`analytics.metrics.funnel`) follows the *cohort* of leads created in a
period, which is right for judging marketing but makes the last weeks look
empty: their deals have not closed yet. Leadership asks a different question,
"what did we earn and spend this week", so these figures count deals by the
day they were **won** (``deals.closed_at``, status ``won``) and spend by its
day, whatever week the lead came in:

* revenue = Σ amount of deals won in the period, RUB;
* sales = number of deals won in the period;
* spend = Σ spend.cost in the period, RUB without VAT;
* ДРР = spend / revenue × 100%;
* ROMI = (revenue − spend) / spend × 100%;
* CAC = spend / sales, RUB;
* average deal = revenue / sales, RUB.

A division by zero gives NaN.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from analytics.metrics.funnel import UNDETERMINED, _ratio
from analytics.metrics.period import Period

BOOKED_COLUMNS = ("revenue", "sales", "spend", "drr", "romi", "cac", "average_deal")
"""Columns of :func:`booked_summary`; each is its own key in
:data:`analytics.metrics.catalogue.CATALOGUE` (basis ``booked``)."""

_BOOKED_SQL = """
WITH won AS (
  SELECT {key} AS grp, count(*) AS sales, coalesce(sum(amount), 0) AS revenue
  FROM deals
  WHERE status = 'won' AND closed_at >= ? AND closed_at < ?
  GROUP BY ALL
), cost AS (
  SELECT {spend_key} AS grp, sum(cost) AS spend
  FROM spend WHERE date >= ? AND date < ?
  GROUP BY ALL
)
SELECT coalesce(won.grp, cost.grp) AS grp,
       coalesce(won.sales, 0) AS sales,
       coalesce(won.revenue, 0) AS revenue,
       coalesce(cost.spend, 0) AS spend
FROM won FULL OUTER JOIN cost ON won.grp IS NOT DISTINCT FROM cost.grp
"""


def _booked(con, start, stop, weekly: bool) -> pd.DataFrame:
    key = "date_trunc('week', closed_at)::DATE" if weekly else "'total'"
    spend_key = "date_trunc('week', date)::DATE" if weekly else "'total'"
    sql = _BOOKED_SQL.format(key=key, spend_key=spend_key)
    return con.execute(sql, [start, stop, start, stop]).df()


def add_booked_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``drr``, ``romi`` (%), ``cac`` and ``average_deal`` (RUB) to booked counts."""
    out = frame.copy()
    out["drr"] = _ratio(out["spend"], out["revenue"], 100.0)
    out["romi"] = _ratio(out["revenue"] - out["spend"], out["spend"], 100.0)
    out["cac"] = _ratio(out["spend"], out["sales"])
    out["average_deal"] = _ratio(out["revenue"], out["sales"])
    return out


def booked_summary(con, period: Period) -> pd.DataFrame:
    """Revenue, sales and spend booked in the period with ДРР, ROMI, CAC.

    Returns
    -------
    pandas.DataFrame
        One row indexed by ``period.label``: ``revenue`` (RUB), ``sales``,
        ``spend`` (RUB), ``drr`` (%), ``romi`` (%), ``cac`` (RUB),
        ``average_deal`` (RUB).
    """
    totals = _booked(con, period.start, period.end_exclusive, weekly=False).sum()
    out = pd.DataFrame(
        {
            "revenue": [float(totals.get("revenue", 0.0))],
            "sales": [int(totals.get("sales", 0))],
            "spend": [float(totals.get("spend", 0.0))],
        },
        index=pd.Index([period.label], name="period"),
    )
    return add_booked_ratios(out)


def booked_weekly(con, period: Period, weeks: int = 12) -> pd.DataFrame:
    """Booked revenue, sales, spend and ratios for the ``weeks`` ISO weeks to ``period.end``.

    One row per week, oldest first, weeks without data included (zeros);
    nothing after ``period.end`` is counted.
    """
    if weeks < 1:
        raise ValueError(f"weeks must be >= 1, got {weeks}")
    last_monday = period.end - timedelta(days=period.end.weekday())
    first_monday = last_monday - timedelta(weeks=weeks - 1)
    counts = _booked(con, first_monday, period.end_exclusive, weekly=True)
    mondays = [first_monday + timedelta(weeks=i) for i in range(weeks)]
    counts["grp"] = pd.to_datetime(counts["grp"]).dt.date
    out = counts.set_index("grp").reindex(mondays)[["revenue", "sales", "spend"]].fillna(0)
    out["sales"] = out["sales"].astype("int64")
    out.insert(0, "week_start", pd.to_datetime(mondays))
    return add_booked_ratios(out.reset_index(drop=True))


_BOOKED_BY_CHANNEL_SQL = """
WITH lead AS (SELECT lead_id, any_value(visit_id) AS visit_id FROM leads GROUP BY lead_id),
visit AS (SELECT visit_id, any_value(channel) AS channel FROM visits GROUP BY visit_id),
won AS (
  SELECT coalesce(v.channel, $undetermined) AS channel, count(*) AS sales,
         coalesce(sum(d.amount), 0) AS revenue
  FROM deals AS d
  LEFT JOIN lead AS l ON l.lead_id = d.lead_id
  LEFT JOIN visit AS v ON v.visit_id = l.visit_id
  WHERE d.status = 'won' AND d.closed_at >= $start::TIMESTAMP AND d.closed_at < $stop::TIMESTAMP
  GROUP BY ALL
), cost AS (
  SELECT coalesce(channel, $undetermined) AS channel, sum(cost) AS spend
  FROM spend WHERE date >= $start::DATE AND date < $stop::DATE
  GROUP BY ALL
)
SELECT coalesce(won.channel, cost.channel) AS channel,
       coalesce(won.sales, 0) AS sales,
       coalesce(won.revenue, 0) AS revenue,
       coalesce(cost.spend, 0) AS spend
FROM won FULL OUTER JOIN cost ON won.channel = cost.channel
"""


def booked_by_channel(con, period: Period) -> pd.DataFrame:
    """Revenue, sales and spend booked in the period, by channel, with ДРР, ROMI, CAC.

    A won deal's channel is the channel of its lead's visit (``deals.lead_id``
    -> ``leads.visit_id`` -> ``visits.channel``), ``undetermined`` for a deal
    without a lead or a lead without a tracked visit (the funnel's rule,
    :mod:`analytics.metrics.funnel`); spend follows ``spend.channel``. The
    channels' revenue, sales and spend add up to :func:`booked_summary`.

    Returns
    -------
    pandas.DataFrame
        One row per channel with booked revenue, sales or spend, sorted by
        revenue (desc) then channel: ``channel`` and the columns of
        :func:`booked_summary` (ratios NaN on division by zero).
    """
    params = {"start": period.start, "stop": period.end_exclusive, "undetermined": UNDETERMINED}
    out = con.execute(_BOOKED_BY_CHANNEL_SQL, params).df()
    out["channel"] = out["channel"].astype(str)
    out["sales"] = out["sales"].astype("int64")
    out["revenue"] = out["revenue"].astype("float64")
    out["spend"] = out["spend"].astype("float64")
    out = out.sort_values(["revenue", "channel"], ascending=[False, True], ignore_index=True)
    return add_booked_ratios(out[["channel", "revenue", "sales", "spend"]])
