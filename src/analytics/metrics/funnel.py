"""The marketing and sales funnel: visits -> leads -> MQL -> SQL -> sales.

All figures are computed in DuckDB on the canonical warehouse tables
(:mod:`analytics.warehouse.schema`) and returned as pandas DataFrames. The counts come
from the Ibis expression :func:`analytics.transforms.funnel_facts.funnel_counts`, so
the same figures can be computed on Spark (see ``docs/backends.md``).

Cohort convention
-----------------
A period's funnel follows the **leads created in the period** (``leads.created_at``
in ``[start, end]``), whatever happened to them later:

* ``mql``, ``sql_leads`` and ``sales`` count the CRM deals of those leads
  (``deals.lead_id``) that *reached* stage ``mql``, ``sql`` and ``won``;
* a deal reached a stage if its history (``deal_stages``) or its current stage
  (``deals.stage``) is that stage or a later one in the order
  ``new < mql < sql < demo < proposal < won``; ``lost`` is terminal and ranks
  nowhere, so a deal that went new -> mql -> lost is an MQL but not an SQL;
* ``revenue`` is the sum of ``deals.amount`` of the won deals among them, RUB;
* a lead without a deal counts as a lead only; a deal without a lead is outside
  every cohort.

Activity figures are counted by their own date: ``visits`` and ``visitors`` by
``visits.visit_start``, ``spend`` by ``spend.date``.

A lead's channel is the channel of its visit (``leads.visit_id`` ->
``visits.channel``); leads with no visit id or a visit id missing from
``visits`` (e.g. calls without a session) are channel ``undetermined``.

Ratios (units: counts, RUB and %) -- a division by zero gives NaN:

* CR visit->lead = leads / visits x 100%, CR lead->MQL = mql / leads x 100%,
  CR MQL->SQL = sql_leads / mql x 100%, CR SQL->sale = sales / sql_leads x 100%;
* CPL = spend / leads, cost per MQL = spend / mql, cost per SQL = spend / sql_leads,
  CAC = spend / sales (RUB);
* ДРР = spend / revenue x 100%, ROMI = (revenue - spend) / spend x 100%.

Because leads include calls and chats without a tracked visit, CR visit->lead
is a ratio of two counts in the same period, not a per-visit probability.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

import pandas as pd

from analytics.metrics.catalogue import Metric, metric, ratio
from analytics.metrics.period import Period
from analytics.transforms.backends import ibis_backend
from analytics.transforms.funnel_facts import COUNT_COLUMNS as COUNT_COLUMNS  # re-exported
from analytics.transforms.funnel_facts import STAGE_ORDER as STAGE_ORDER  # re-exported
from analytics.transforms.funnel_facts import (
    channel_spend,
    funnel_counts,
    funnel_counts_by_window,
)
from analytics.transforms.stitching import UNDETERMINED as UNDETERMINED  # re-exported

MONEY_COLUMNS = ("spend", "revenue")
RATIO_COLUMNS = (
    "cr_visit_lead",
    "cr_lead_mql",
    "cr_mql_sql",
    "cr_sql_sale",
    "cpl",
    "cost_per_mql",
    "cost_per_sql",
    "cac",
    "drr",
    "romi",
)

COHORT_COLUMNS: dict[str, str] = {
    "sales": "sales_cohort",
    "revenue": "revenue_cohort",
    "cac": "cac_cohort",
    "drr": "drr_cohort",
    "romi": "romi_cohort",
    "average_deal": "average_deal_cohort",
}
"""Columns of the cohort frames of this module (and of :mod:`analytics.metrics.kpi`)
whose catalogue key differs from the column name: their ``sales``, ``revenue``,
``cac``, ``drr``, ``romi`` and ``average_deal`` are those of the period's *leads*, catalogued as
``sales_cohort`` etc.; the booked ``sales``/``revenue``/... are
:mod:`analytics.metrics.revenue`'s. Every other column is its own catalogue key."""


def column_metric(column: str) -> Metric:
    """Catalogue entry of a column of a cohort frame (see :data:`COHORT_COLUMNS`)."""
    return metric(COHORT_COLUMNS.get(column, column))


def _funnel_counts(con, start: date, stop: date, by: str) -> pd.DataFrame:
    """Funnel counts for days in ``[start, stop)`` grouped by ``by`` (column ``grp``).

    Runs :func:`analytics.transforms.funnel_facts.funnel_counts` (an Ibis expression)
    on ``con``: a DuckDB connection or an Ibis backend
    (:func:`analytics.transforms.backends.ibis_backend`).
    """
    with ibis_backend(con) as backend:
        frame = backend.execute(funnel_counts(backend, start, stop, by))
    return _typed_counts(frame)


def _typed_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Funnel counts as int64 and money as float64."""
    for col in COUNT_COLUMNS:
        frame[col] = frame[col].astype("int64")
    for col in MONEY_COLUMNS:
        frame[col] = frame[col].astype("float64")
    return frame


def add_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Add conversion and unit-economics columns to a frame of funnel counts.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``spend``, ``visits``, ``leads``, ``mql``, ``sql_leads``,
        ``sales``, ``revenue``.

    Returns
    -------
    pandas.DataFrame
        A copy with (a division by zero gives NaN):

        * ``cr_visit_lead`` = leads / visits x 100%
        * ``cr_lead_mql`` = mql / leads x 100%
        * ``cr_mql_sql`` = sql_leads / mql x 100%
        * ``cr_sql_sale`` = sales / sql_leads x 100%
        * ``cpl`` = spend / leads, RUB
        * ``cost_per_mql`` = spend / mql, RUB
        * ``cost_per_sql`` = spend / sql_leads, RUB
        * ``cac`` = spend / sales, RUB
        * ``drr`` (ДРР) = spend / revenue x 100%
        * ``romi`` = (revenue - spend) / spend x 100%
    """
    out = frame.copy()
    out["cr_visit_lead"] = ratio(out["leads"], out["visits"], 100)
    out["cr_lead_mql"] = ratio(out["mql"], out["leads"], 100)
    out["cr_mql_sql"] = ratio(out["sql_leads"], out["mql"], 100)
    out["cr_sql_sale"] = ratio(out["sales"], out["sql_leads"], 100)
    out["cpl"] = ratio(out["spend"], out["leads"])
    out["cost_per_mql"] = ratio(out["spend"], out["mql"])
    out["cost_per_sql"] = ratio(out["spend"], out["sql_leads"])
    out["cac"] = ratio(out["spend"], out["sales"])
    out["drr"] = ratio(out["spend"], out["revenue"], 100)
    out["romi"] = ratio(out["revenue"] - out["spend"], out["spend"], 100)
    return out


def funnel_summary(con, period: Period) -> pd.DataFrame:
    """Funnel and unit economics of one period, as a one-row frame.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days of the cohort (see the module docstring for the convention).

    Returns
    -------
    pandas.DataFrame
        One row, index ``period`` (the period label), columns:

        * ``spend`` -- sum of ``spend.cost`` dated in the period, RUB
        * ``visits`` -- visits started in the period; ``visitors`` -- distinct
          ``visitor_id`` among them
        * ``leads`` -- leads created in the period; ``leads_form``,
          ``leads_call``, ``leads_chat`` -- the same by ``lead_type``
        * ``mql``, ``sql_leads``, ``sales`` -- deals of those leads that
          reached stage mql, sql, won
        * ``revenue`` -- sum of ``amount`` of those won deals, RUB
        * ``cr_visit_lead``, ``cr_lead_mql``, ``cr_mql_sql``, ``cr_sql_sale``
          (%), ``cpl``, ``cost_per_mql``, ``cost_per_sql``, ``cac`` (RUB),
          ``drr``, ``romi`` (%) -- see :func:`add_ratios`; NaN on division
          by zero.
    """
    return _summary_of(_funnel_counts(con, period.start, period.end_exclusive, "total"), period)


def funnel_summaries(con, periods: Sequence[Period]) -> list[pd.DataFrame]:
    """:func:`funnel_summary` of several periods with one query.

    Returns
    -------
    list of pandas.DataFrame
        One frame per period, in order, equal to ``funnel_summary(con, period)``.
    """
    if not periods:
        return []
    windows = [(p.start, p.end_exclusive) for p in periods]
    with ibis_backend(con) as backend:
        every = backend.execute(funnel_counts_by_window(backend, windows, "total"))
    every = _typed_counts(every)
    return [
        _summary_of(every[every["window"] == i].drop(columns="window"), period)
        for i, period in enumerate(periods)
    ]


def _summary_of(counts: pd.DataFrame, period: Period) -> pd.DataFrame:
    """:func:`funnel_summary`'s frame from the ``total`` counts of the period."""
    counts = counts.reset_index(drop=True)
    if counts.empty:
        counts = pd.DataFrame({"grp": ["total"], **{c: [0] for c in COUNT_COLUMNS}})
        for col in MONEY_COLUMNS:
            counts[col] = 0.0
    counts = counts.drop(columns="grp")
    counts.index = pd.Index([period.label], name="period")
    return add_ratios(counts[list(MONEY_COLUMNS[:1] + COUNT_COLUMNS + MONEY_COLUMNS[1:])])


def funnel_by_channel(con, period: Period) -> pd.DataFrame:
    """Funnel and unit economics of one period by channel.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days of the cohort.

    Returns
    -------
    pandas.DataFrame
        One row per channel seen in the period's spend, visits or leads, in
        column ``channel``, sorted by leads (desc) then channel; the columns of
        :func:`funnel_summary`. Leads, MQL, SQL, sales and revenue follow the
        lead's channel (the channel of its visit, ``undetermined`` without
        one); visits and visitors follow ``visits.channel`` (visitors are
        distinct within a channel, so they do not add up to the total);
        spend follows ``spend.channel``. Ratios are per channel, so an organic
        channel without spend has CPL 0 and ROMI NaN.
    """
    counts = _funnel_counts(con, period.start, period.end_exclusive, "channel")
    counts = counts.rename(columns={"grp": "channel"})
    counts["channel"] = counts["channel"].astype(str)
    counts = counts.sort_values(["leads", "channel"], ascending=[False, True], ignore_index=True)
    columns = ["channel", *MONEY_COLUMNS[:1], *COUNT_COLUMNS, *MONEY_COLUMNS[1:]]
    return add_ratios(counts[columns])


def spend_by_channel(con, period: Period) -> pd.Series:
    """Spend of the period by channel: ``funnel_by_channel(con, period)``'s ``spend``.

    The same channels (seen in the period's spend, visits or leads), order
    (leads descending, then channel) and values as
    ``funnel_by_channel(con, period).set_index("channel")["spend"]``, from
    :func:`analytics.transforms.funnel_facts.channel_spend`, which skips the
    funnel's other counts (at 10M visits and a 13-week window: ~1.4 CPU-s
    for the funnel, a fraction of it for this).

    Returns
    -------
    pandas.Series
        Spend in RUB (float, 0.0 for a channel without spend), index ``channel``,
        name ``spend``.
    """
    with ibis_backend(con) as backend:
        frame = backend.execute(channel_spend(backend, period.start, period.end_exclusive))
    frame = frame.rename(columns={"grp": "channel"})
    frame["channel"] = frame["channel"].astype(str)
    frame["leads"] = frame["leads"].astype("int64")
    frame["spend"] = frame["spend"].astype("float64")
    frame = frame.sort_values(["leads", "channel"], ascending=[False, True], ignore_index=True)
    return frame.set_index("channel")["spend"]


def weekly_funnel(con, period: Period, weeks: int = 12) -> pd.DataFrame:
    """Weekly funnel for the ``weeks`` ISO weeks up to the end of the period.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Only ``period.end`` is used: the last row is the ISO week holding it.
    weeks : int, default 12
        Number of weeks, >= 1.

    Returns
    -------
    pandas.DataFrame
        One row per ISO week, oldest first, including weeks without data:
        ``week`` (label ``YYYY-Www``), ``week_start`` (Monday), ``visits``,
        ``leads``, ``mql``, ``sql_leads``, ``sales``, ``revenue`` (RUB),
        ``spend`` (RUB). Each week is a cohort of the leads created in it (as in
        :func:`funnel_summary`). Nothing after ``period.end`` is counted, so if
        the period ends before a Sunday the last week is partial.
    """
    if weeks < 1:
        raise ValueError(f"weeks must be >= 1, got {weeks}")
    last_monday = period.end - timedelta(days=period.end.weekday())
    first_monday = last_monday - timedelta(weeks=weeks - 1)
    counts = _funnel_counts(con, first_monday, period.end_exclusive, "week")
    mondays = [first_monday + timedelta(weeks=i) for i in range(weeks)]
    counts["grp"] = pd.to_datetime(counts["grp"]).dt.date
    counts = counts.set_index("grp").reindex(mondays)
    columns = ["visits", "leads", "mql", "sql_leads", "sales", "revenue", "spend"]
    out = counts[columns].fillna(0)
    for col in columns:
        out[col] = out[col].astype("float64" if col in MONEY_COLUMNS else "int64")
    out.insert(0, "week_start", pd.to_datetime(mondays))
    out.insert(0, "week", [f"{m.isocalendar()[0]}-W{m.isocalendar()[1]:02d}" for m in mondays])
    return out.reset_index(drop=True)


FUNNEL_STAGES = ("visits", "leads", "mql", "sql_leads", "sales")
"""Funnel stages in order, as columns of :func:`funnel_summary`."""


def funnel_stages(summary: pd.DataFrame, locale: str = "en") -> pd.DataFrame:
    """Long table of the funnel stages of a :func:`funnel_summary` row, for a bar chart.

    Returns
    -------
    pandas.DataFrame
        Columns ``stage`` (catalogue label of visits, leads, MQL, SQL and the
        cohort's sales in ``locale``), ``count`` and ``conversion`` = count /
        count of the previous stage x 100% (NaN for the first stage and after
        a zero).
    """
    row = summary.iloc[0]
    counts = [int(row[col]) for col in FUNNEL_STAGES]
    conversion = [math.nan] + [
        c * 100.0 / prev if prev else math.nan for prev, c in zip(counts, counts[1:], strict=False)
    ]
    return pd.DataFrame(
        {
            "stage": [column_metric(col).label(locale) for col in FUNNEL_STAGES],
            "count": counts,
            "conversion": conversion,
        }
    )


def weekly_long(weekly: pd.DataFrame, locale: str = "en") -> pd.DataFrame:
    """Long form of :func:`weekly_funnel` for faceted seaborn plots.

    Returns
    -------
    pandas.DataFrame
        Columns ``week``, ``week_start``, ``metric`` (catalogue label with
        unit of the column, e.g. ``Ad spend, ₽``), ``value``.
    """
    value_columns = [c for c in weekly.columns if c not in ("week", "week_start")]
    long = weekly.melt(id_vars=["week", "week_start"], value_vars=value_columns, var_name="metric")
    labels = {c: column_metric(c).label_with_unit(locale) for c in value_columns}
    long["metric"] = long["metric"].map(labels)
    return long


def format_value(value: float, unit: str) -> str:
    """A value as plain text for analyst tables (leadership pages format with Babel).

    RUB with ``₽`` and thin-space thousands; ``percent`` with one decimal and
    ``%``; ``ratio`` and ``days`` with one decimal; counts as integers (two
    decimals below 100 if fractional); ``—`` for a missing, NaN or infinite value.
    """
    if value is None or value is pd.NA:
        return "—"
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return "—"
    if unit == "RUB":
        return f"{value:,.0f} ₽".replace(",", "\u202f")
    if unit == "percent":
        return f"{value:.1f}%"
    if unit in ("ratio", "days"):
        return f"{value:,.1f}".replace(",", "\u202f")
    if value.is_integer() or abs(value) >= 100:
        return f"{value:,.0f}".replace(",", "\u202f")
    return f"{value:.2f}"


SUMMARY_COLUMNS = (
    "spend",
    "visits",
    "visitors",
    "leads",
    "leads_form",
    "leads_call",
    "leads_chat",
    "mql",
    "sql_leads",
    "sales",
    "revenue",
    *RATIO_COLUMNS,
)
"""Columns of :func:`funnel_summary`, in order."""


def summary_table(summary: pd.DataFrame, locale: str = "en") -> pd.DataFrame:
    """Readable one-column table of a :func:`funnel_summary` row.

    Returns
    -------
    pandas.DataFrame
        Index ``metric`` (catalogue label in ``locale``; the cohort's sales,
        revenue, CAC, ДРР and ROMI carry their cohort names), columns ``value``
        (:func:`format_value`) and ``definition`` (the catalogue formula).
    """
    row = summary.iloc[0]
    records = []
    for col in SUMMARY_COLUMNS:
        entry = column_metric(col)
        records.append(
            {
                "metric": entry.label(locale),
                "value": format_value(row[col], entry.unit),
                "definition": entry.formula_text(locale),
            }
        )
    return pd.DataFrame.from_records(records).set_index("metric")


def channel_table(by_channel: pd.DataFrame, locale: str = "en") -> pd.DataFrame:
    """Readable table of :func:`funnel_by_channel`: key columns, formatted.

    Returns
    -------
    pandas.DataFrame
        Index ``channel``; columns (catalogue labels) spend, visits, leads,
        MQL, SQL, the cohort's sales and revenue, CPL and the cohort's CAC,
        ДРР and ROMI as formatted strings.
    """
    columns = ["spend", "visits", "leads", "mql", "sql_leads", "sales", "revenue"]
    columns += ["cpl", "cac", "drr", "romi"]
    out = pd.DataFrame(index=pd.Index(by_channel["channel"], name="channel"))
    for col in columns:
        entry = column_metric(col)
        out[entry.label(locale)] = [format_value(v, entry.unit) for v in by_channel[col]]
    return out
