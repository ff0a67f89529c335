"""Booked revenue: what the company won in a period, for the CEO view.

The funnel (:mod:`analytics.metrics.funnel`) follows the *cohort* of leads created in a
period, which is right for judging marketing but makes the last weeks look
empty: their deals have not closed yet. Leadership asks a different question,
"what did we earn and spend this week", so these figures count deals by the
day they were **won** and spend by its day, whatever week the lead came in. A
deal is won as in :func:`analytics.metrics.kpi.closed_deals` (the win rate's
rule): status or current stage ``won``, on ``deals.closed_at`` or, when that is
empty, the time its history entered ``won``.

* revenue = Σ amount of deals won in the period, RUB;
* sales = number of deals won in the period;
* spend = Σ spend.cost in the period, RUB without VAT;
* ДРР = spend / revenue × 100%;
* ROMI = (revenue − spend) / spend × 100%;
* CAC = spend / sales, RUB;
* average deal = revenue / sales, RUB.

A division by zero gives NaN.

The counts come from the Ibis expression
:func:`analytics.transforms.booked_deals.booked_counts`; ``con`` is a DuckDB
connection or any Ibis backend holding the canonical tables (e.g. PySpark).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pandas as pd

from analytics.metrics.catalogue import ratio
from analytics.metrics.period import Period
from analytics.transforms.backends import ibis_backend
from analytics.transforms.booked_deals import booked_counts, booked_counts_by_window

BOOKED_COLUMNS = ("revenue", "sales", "spend", "drr", "romi", "cac", "average_deal")
"""Columns of :func:`booked_summary`; each is its own key in
:data:`analytics.metrics.catalogue.CATALOGUE` (basis ``booked``)."""


def _booked(con, start, stop, by: str) -> pd.DataFrame:
    """:func:`analytics.transforms.booked_deals.booked_counts` run on ``con``.

    ``con`` is a DuckDB connection or an Ibis backend
    (:func:`analytics.transforms.backends.ibis_backend`).
    """
    with ibis_backend(con) as backend:
        out = backend.execute(booked_counts(backend, start, stop, by))
    return _typed(out)


def _booked_of(con, periods: Sequence[Period], by: str) -> list[pd.DataFrame]:
    """:func:`_booked` of each period (its days) with one query."""
    windows = [(p.start, p.end_exclusive) for p in periods]
    with ibis_backend(con) as backend:
        every = _typed(backend.execute(booked_counts_by_window(backend, windows, by)))
    return [
        every[every["window"] == i].drop(columns="window").reset_index(drop=True)
        for i in range(len(periods))
    ]


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    out["sales"] = out["sales"].astype("int64")
    out["revenue"] = out["revenue"].astype("float64")
    out["spend"] = out["spend"].astype("float64")
    return out


def add_booked_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``drr``, ``romi`` (%), ``cac`` and ``average_deal`` (RUB) to booked counts."""
    out = frame.copy()
    out["drr"] = ratio(out["spend"], out["revenue"], 100.0)
    out["romi"] = ratio(out["revenue"] - out["spend"], out["spend"], 100.0)
    out["cac"] = ratio(out["spend"], out["sales"])
    out["average_deal"] = ratio(out["revenue"], out["sales"])
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
    return _summary_of(_booked(con, period.start, period.end_exclusive, "total"), period)


def booked_summaries(con, periods: Sequence[Period]) -> list[pd.DataFrame]:
    """:func:`booked_summary` of several periods with one query.

    Returns
    -------
    list of pandas.DataFrame
        One frame per period, in order, equal to ``booked_summary(con, period)``.
    """
    if not periods:
        return []
    frames = _booked_of(con, periods, "total")
    return [_summary_of(frame, period) for frame, period in zip(frames, periods, strict=True)]


def _summary_of(counts: pd.DataFrame, period: Period) -> pd.DataFrame:
    """:func:`booked_summary`'s frame from the ``total`` booked counts of the period."""
    totals = counts.sum()
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
    counts = _booked(con, first_monday, period.end_exclusive, "week")
    mondays = [first_monday + timedelta(weeks=i) for i in range(weeks)]
    counts["grp"] = pd.to_datetime(counts["grp"]).dt.date
    out = counts.set_index("grp").reindex(mondays)[["revenue", "sales", "spend"]].fillna(0)
    out["sales"] = out["sales"].astype("int64")
    out.insert(0, "week_start", pd.to_datetime(mondays))
    return add_booked_ratios(out.reset_index(drop=True))


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
    return _by_channel(_booked(con, period.start, period.end_exclusive, "channel"))


def booked_by_channel_of(con, periods: Sequence[Period]) -> list[pd.DataFrame]:
    """:func:`booked_by_channel` of several periods with one query.

    Returns
    -------
    list of pandas.DataFrame
        One frame per period, in order, equal to ``booked_by_channel(con, period)``.
    """
    if not periods:
        return []
    return [_by_channel(frame) for frame in _booked_of(con, periods, "channel")]


def _by_channel(out: pd.DataFrame) -> pd.DataFrame:
    """:func:`booked_by_channel`'s frame from the booked counts by channel."""
    out = out.rename(columns={"grp": "channel"})
    out["channel"] = out["channel"].astype(str)
    out = out.sort_values(["revenue", "channel"], ascending=[False, True], ignore_index=True)
    return add_booked_ratios(out[["channel", "revenue", "sales", "spend"]])
