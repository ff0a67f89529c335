"""KPIs of marketing and sales for a period: the dashboard figures.

Builds on :mod:`analytics.metrics.funnel` (visits, leads, MQL, SQL, sales, revenue,
spend and their ratios for the cohort of leads created in the period) and
:mod:`analytics.metrics.definitions` (what an MQL and an SQL are). Units: counts, RUB
(without VAT), % and days; a division by zero gives NaN.

Formulas
--------
From :func:`analytics.metrics.funnel.add_ratios`:

* CPL = spend / leads; cost per MQL = spend / MQL; cost per SQL = spend / SQL;
  CAC = spend / sales (RUB)
* ДРР = spend / revenue × 100%; ROMI = (revenue − spend) / spend × 100%
* CR visit→lead = leads / visits × 100%, CR lead→MQL = MQL / leads × 100%,
  CR MQL→SQL = SQL / MQL × 100%, CR SQL→sale = sales / SQL × 100%

Added here (:func:`add_kpi_ratios`):

* visits per lead = visits / leads
* value per lead = lead revenue / leads (RUB); value per visit = lead revenue /
  visits (RUB), where lead revenue is the revenue of the period's lead cohort
* average deal = revenue / sales (RUB)
* CR lead→sale = sales / leads × 100%; CR visit→MQL = MQL / visits × 100%
* non-target share = non-target leads / leads × 100%

Sales figures that are about *when deals close* (win rate, cycle time, revenue
to target) are counted by the close date, not by the lead cohort:

* win rate = won / (won + lost) × 100% of the deals closed in the period
* cycle time = won at − lead created at, days (median and mean)
* revenue target = last year's revenue × target growth + last year's revenue;
  progress = revenue to date / target × 100%; expected pace = elapsed days /
  days in the year × 100%

Computation: the queries are Ibis expressions of :mod:`analytics.transforms`
(``booked_deals.closed_deal_table``, ``conversion_counts``, ``funnel_facts``,
``lead_facts``, ``data_span``); every function's ``con`` is a DuckDB connection
or any Ibis backend holding the canonical tables (e.g. PySpark).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

import pandas as pd

from analytics.metrics.catalogue import metric, ratio
from analytics.metrics.definitions import (
    DEFAULT_DEFINITIONS,
    Definitions,
    flag_counts,
    lead_flags,
)
from analytics.metrics.funnel import (
    STAGE_ORDER,
    add_ratios,
    column_metric,
    funnel_summary,
    weekly_funnel,
)
from analytics.metrics.funnel import format_value as format_value  # re-exported
from analytics.metrics.period import Period, as_date
from analytics.metrics.period import previous_period as previous_period  # re-exported
from analytics.transforms.backends import ibis_backend
from analytics.transforms.booked_deals import CLOSED_DEAL_COLUMNS, closed_deal_table
from analytics.transforms.conversion_counts import (
    CONVERSION_GROUPS,
    conversion_counts,
    conversion_counts_by_window,
)
from analytics.transforms.data_span import first_record_day

DASHBOARD_METRICS = (
    "revenue",
    "spend",
    "drr",
    "romi",
    "cac",
    "leads",
    "mql",
    "sql_leads",
    "sales",
    "cpl",
    "cost_per_mql",
    "cost_per_sql",
    "cr_lead_mql",
    "cr_mql_sql",
    "value_per_lead",
    "average_deal",
)
"""Metrics compared period over period on the dashboard."""

_FUNNEL_COUNT_COLUMNS = ("spend", "visits", "leads", "mql", "sql_leads", "sales", "revenue")


# --------------------------------------------------------------------------- formulas


def visits_per_lead(visits, leads):
    """Visits needed for one lead = visits / leads (scalars or Series; NaN if no leads)."""
    return ratio(visits, leads)


def value_per_lead(lead_revenue, leads):
    """Money made per lead = lead revenue / leads, RUB (NaN if no leads)."""
    return ratio(lead_revenue, leads)


def value_per_visit(lead_revenue, visits):
    """Money made per visit = lead revenue / visits, RUB (NaN if no visits)."""
    return ratio(lead_revenue, visits)


def revenue_target(last_year_revenue: float, target_growth: float) -> float:
    """Revenue target for the year.

    target = last year's revenue × target growth + last year's revenue, RUB

    Parameters
    ----------
    last_year_revenue : float
        Revenue of the previous year, RUB.
    target_growth : float
        Target growth as a fraction (0.2 for +20%).
    """
    return last_year_revenue * target_growth + last_year_revenue


def target_progress(
    revenue_to_date: float, target: float, elapsed_days: int, total_days: int
) -> dict[str, float]:
    """Progress of revenue to a target, against a linear pace.

    Parameters
    ----------
    revenue_to_date : float
        Revenue since the start of the target period, RUB.
    target : float
        Target of the whole period, RUB.
    elapsed_days : int
        Days of the target period passed (including today).
    total_days : int
        Days of the target period (365 or 366 for a year).

    Returns
    -------
    dict
        * ``progress_pct`` = revenue to date / target × 100%
        * ``expected_pct`` = elapsed days / total days × 100% (linear pace)
        * ``pace_index`` = progress / expected (1 = on pace, < 1 = behind)
        * ``expected_to_date`` = target × elapsed / total, RUB
        * ``gap_to_pace`` = expected to date − revenue to date, RUB (> 0 = behind)
        * ``projected`` = revenue to date × total / elapsed, RUB (run rate)
    """
    expected_pct = ratio(elapsed_days, total_days, 100.0)
    progress_pct = ratio(revenue_to_date, target, 100.0)
    expected_to_date = target * elapsed_days / total_days if total_days else math.nan
    return {
        "progress_pct": progress_pct,
        "expected_pct": expected_pct,
        "pace_index": ratio(progress_pct, expected_pct),
        "expected_to_date": expected_to_date,
        "gap_to_pace": expected_to_date - revenue_to_date,
        "projected": ratio(revenue_to_date * total_days, elapsed_days),
    }


def change(current: float, previous: float) -> tuple[float, float]:
    """Absolute and relative change of a figure.

    Returns
    -------
    tuple of float
        ``current − previous`` and ``(current − previous) / |previous| × 100%``
        (NaN when the previous value is 0 or NaN).
    """
    diff = current - previous
    if previous == 0 or previous is None or (isinstance(previous, float) and math.isnan(previous)):
        return diff, math.nan
    return diff, diff / abs(previous) * 100.0


def add_kpi_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the KPI ratios beyond :func:`analytics.metrics.funnel.add_ratios`.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``visits``, ``leads``, ``mql``, ``sales``, ``revenue`` and
        optionally ``non_target``.

    Returns
    -------
    pandas.DataFrame
        A copy with (NaN on division by zero):

        * ``visits_per_lead`` = visits / leads
        * ``value_per_lead`` = revenue / leads, RUB
        * ``value_per_visit`` = revenue / visits, RUB
        * ``average_deal`` = revenue / sales, RUB
        * ``cr_lead_sale`` = sales / leads × 100%
        * ``cr_visit_mql`` = mql / visits × 100%
        * ``non_target_share`` = non_target / leads × 100% (if ``non_target`` is given)
    """
    out = frame.copy()
    out["visits_per_lead"] = visits_per_lead(out["visits"], out["leads"])
    out["value_per_lead"] = value_per_lead(out["revenue"], out["leads"])
    out["value_per_visit"] = value_per_visit(out["revenue"], out["visits"])
    out["average_deal"] = ratio(out["revenue"], out["sales"])
    out["cr_lead_sale"] = ratio(out["sales"], out["leads"], 100.0)
    out["cr_visit_mql"] = ratio(out["mql"], out["visits"], 100.0)
    if "non_target" in out:
        out["non_target_share"] = ratio(out["non_target"], out["leads"], 100.0)
    return out


# --------------------------------------------------------------------------- period figures


def kpi_summary(
    con,
    period: Period,
    definitions: Definitions | None = None,
    conversion: pd.DataFrame | None = None,
    summary: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """All KPIs of one period as a one-row frame.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or ibis.BaseBackend
        Warehouse with the canonical tables (or an Ibis backend holding them).
    period : Period
        Days of the lead cohort (see :mod:`analytics.metrics.funnel`).
    definitions : Definitions, optional
        MQL/SQL definitions; default the CRM stages.
    conversion : pandas.DataFrame, optional
        :func:`conversion_by` of the same period and definitions (any
        grouping): its column sums of ``mql``, ``sql_leads`` and
        ``non_target`` are the period's (every lead is in one group), which
        saves the lead-flag query. The figures are the same either way.
    summary : pandas.DataFrame, optional
        :func:`analytics.metrics.funnel.funnel_summary` of the same period when
        the caller fetched it already (:func:`analytics.metrics.funnel.funnel_summaries`).

    Returns
    -------
    pandas.DataFrame
        One row (index = period label): every column of
        :func:`analytics.metrics.funnel.funnel_summary` with ``mql`` and ``sql_leads``
        counted as leads by :func:`analytics.metrics.definitions.lead_flags` (equal
        to the funnel's deal counts with the default definitions when each
        lead has at most one deal) and the ratios recomputed from them, plus
        ``non_target`` (leads lost as non-target) and the columns of
        :func:`add_kpi_ratios`.
    """
    summary = funnel_summary(con, period) if summary is None else summary.copy()
    if conversion is None:
        counts = flag_counts(lead_flags(con, period, definitions))
    else:
        counts = {name: int(conversion[name].sum()) for name in ("mql", "sql_leads", "non_target")}
    summary["mql"] = counts["mql"]
    summary["sql_leads"] = counts["sql_leads"]
    summary["non_target"] = counts["non_target"]
    return add_kpi_ratios(add_ratios(summary))


def conversion_by(
    con, period: Period, by: str = "channel", definitions: Definitions | None = None
) -> pd.DataFrame:
    """Funnel, conversions and unit economics of the period by channel, source or campaign.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days of the lead cohort, the visits and the spend.
    by : {"channel", "source", "campaign"}
        Grouping: a lead's group is the ``channel``, ``utm_source`` or
        ``utm_campaign`` of its visit (``undetermined`` without a tracked
        visit or UTM value); visits are grouped by their own column and spend
        by ``spend.channel``, ``spend.utm_source`` or ``spend.campaign``.
    definitions : Definitions, optional
        MQL/SQL definitions; default the CRM stages.

    Returns
    -------
    pandas.DataFrame
        One row per group (column named after ``by``), sorted by leads (desc)
        then name: ``spend``, ``visits``, ``leads``, ``mql``, ``sql_leads``,
        ``sales`` (leads with a won deal), ``revenue``, ``non_target`` and the
        ratios of :func:`analytics.metrics.funnel.add_ratios` and :func:`add_kpi_ratios`
        (e.g. ``cr_visit_lead`` = leads / visits × 100% per group). With
        ``by="channel"`` the counts equal :func:`analytics.metrics.funnel.funnel_by_channel`.
    """
    if by not in CONVERSION_GROUPS:
        raise ValueError(f"by must be one of {', '.join(CONVERSION_GROUPS)}, got {by!r}")
    definitions = definitions or DEFAULT_DEFINITIONS
    with ibis_backend(con) as backend:
        expr = conversion_counts(backend, period.start, period.end_exclusive, by, definitions)
        out = backend.execute(expr)
    return _conversion_frame(out, by)


def conversion_by_periods(
    con, periods: Sequence[Period], by: str = "channel", definitions: Definitions | None = None
) -> list[pd.DataFrame]:
    """:func:`conversion_by` of several periods with one query.

    Returns
    -------
    list of pandas.DataFrame
        One frame per period, in order, equal to
        ``conversion_by(con, period, by, definitions)``.
    """
    if by not in CONVERSION_GROUPS:
        raise ValueError(f"by must be one of {', '.join(CONVERSION_GROUPS)}, got {by!r}")
    if not periods:
        return []
    definitions = definitions or DEFAULT_DEFINITIONS
    windows = [(p.start, p.end_exclusive) for p in periods]
    with ibis_backend(con) as backend:
        every = backend.execute(conversion_counts_by_window(backend, windows, by, definitions))
    return [
        _conversion_frame(every[every["window"] == i].drop(columns="window"), by)
        for i in range(len(periods))
    ]


def _conversion_frame(out: pd.DataFrame, by: str) -> pd.DataFrame:
    """:func:`conversion_by`'s frame from the counts of :func:`conversion_counts`."""
    out = out.reset_index(drop=True)
    for col in ("visits", "leads", "mql", "sql_leads", "sales", "non_target"):
        out[col] = out[col].astype("int64")
    for col in ("spend", "revenue"):
        out[col] = out[col].astype("float64")
    out = out.rename(columns={"grp": by})
    out[by] = out[by].astype(str)
    out = out.sort_values(["leads", by], ascending=[False, True], ignore_index=True)
    columns = [by, *_FUNNEL_COUNT_COLUMNS, "non_target"]
    return add_kpi_ratios(add_ratios(out[columns]))


def stage_conversion(con, period: Period, definitions: Definitions | None = None) -> pd.DataFrame:
    """How far the period's leads got in the CRM: leads reaching each stage.

    Returns
    -------
    pandas.DataFrame
        Rows ``leads`` then every stage of :data:`analytics.metrics.funnel.STAGE_ORDER`
        (new, mql, sql, demo, proposal, won); columns ``stage``, ``leads``
        (leads one of whose deals reached the stage or a later one),
        ``conversion_pct`` = leads at the stage / leads at the previous row ×
        100% and ``from_leads_pct`` = leads at the stage / all leads × 100%.
    """
    flags = lead_flags(con, period, definitions)
    reached = flags["reached_stage"].map({s: i for i, s in enumerate(STAGE_ORDER)})
    reached = reached.fillna(-1)
    counts = [len(flags)] + [int((reached >= i).sum()) for i in range(len(STAGE_ORDER))]
    out = pd.DataFrame({"stage": ["leads", *STAGE_ORDER], "leads": counts})
    previous = out["leads"].shift(1)
    out["conversion_pct"] = ratio(out["leads"], previous.fillna(0), 100.0)
    out["from_leads_pct"] = ratio(out["leads"], pd.Series(len(flags), index=out.index), 100.0)
    return out


NO_MANAGER = "(no manager)"
"""Manager label of deals without a responsible manager."""


def closed_deals(
    con, start: date, stop: date, more: Sequence[tuple[date, date]] = ()
) -> pd.DataFrame:
    """Deals won or lost in ``[start, stop)`` (by close time).

    A deal is won if its status or current stage is ``won`` and lost if it is
    ``lost``; its close time is ``deals.closed_at`` or, if empty, the time
    the history (``deal_stages``) entered that stage.

    Returns
    -------
    pandas.DataFrame
        ``deal_id``, ``lead_id``, ``manager`` (``(no manager)`` if empty),
        ``outcome`` (won/lost), ``closed_at``, ``loss_reason``, ``amount``
        (RUB), ``lead_created_at`` and ``cycle_days`` = (closed at − lead
        created at) / 86 400 s, days (NaN for deals without a known lead).
        With ``more`` windows ``(start, stop)``, the deals closed in any of them.
    """
    with ibis_backend(con) as backend:
        out = backend.execute(closed_deal_table(backend, start, stop, more))
    out = out[list(CLOSED_DEAL_COLUMNS)].reset_index(drop=True)
    out["manager"] = out["manager"].fillna(NO_MANAGER).astype(str)
    out["amount"] = out["amount"].astype("float64")
    out["cycle_days"] = out["cycle_days"].astype("float64")
    return out


def closed_deals_of(con, periods: Sequence[Period]) -> list[pd.DataFrame]:
    """:func:`closed_deals` of several periods with one query.

    Returns
    -------
    list of pandas.DataFrame
        One frame per period, in order, equal to
        ``closed_deals(con, period.start, period.end_exclusive)``.
    """
    if not periods:
        return []
    windows = [(p.start, p.end_exclusive) for p in periods]
    every = closed_deals(con, *windows[0], more=windows[1:])
    at = every["closed_at"]
    return [
        every[(at >= pd.Timestamp(start)) & (at < pd.Timestamp(stop))].reset_index(drop=True)
        for start, stop in windows
    ]


def cycle_time(con, period: Period, by: str | None = None) -> pd.DataFrame:
    """Sales cycle of the deals won in the period: lead created → won, days.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Deals whose win time falls in the period (see :func:`closed_deals`).
    by : {"manager"} or None
        Optional grouping.

    Returns
    -------
    pandas.DataFrame
        ``deals`` (won deals with a known lead), ``median_days`` and
        ``mean_days`` of cycle = won at − lead created at, days; one row
        (index ``all``) or one per manager.
    """
    won = closed_deals(con, period.start, period.end_exclusive)
    won = won[(won["outcome"] == "won") & won["cycle_days"].notna()]
    keys = won[by] if by else pd.Series("all", index=won.index, name="group")
    out = won.groupby(keys)["cycle_days"].agg(deals="size", median_days="median", mean_days="mean")
    if not by and out.empty:
        out = pd.DataFrame(
            {"deals": [0], "median_days": [math.nan], "mean_days": [math.nan]},
            index=pd.Index(["all"], name="group"),
        )
    out["deals"] = out["deals"].astype("int64")
    return out


def win_rate_by_manager(
    con, period: Period, exclude_loss_reasons: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Win rate of every sales manager on the deals closed in the period.

    win rate = won / closed × 100%, closed = won + lost

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Deals closed (won or lost) in the period, see :func:`closed_deals`.
    exclude_loss_reasons : tuple of str
        Lost deals with these reasons are left out (e.g. the non-target ones,
        to judge managers only on leads they could win).

    Returns
    -------
    pandas.DataFrame
        One row per manager, sorted by closed deals (desc) then name:
        ``manager``, ``won``, ``lost``, ``closed``, ``win_rate`` (%),
        ``revenue`` (won amounts, RUB), ``average_deal`` = revenue / won (RUB).
    """
    deals = closed_deals(con, period.start, period.end_exclusive)
    if exclude_loss_reasons:
        drop = (deals["outcome"] == "lost") & deals["loss_reason"].isin(exclude_loss_reasons)
        deals = deals[~drop]
    deals = deals.assign(
        won=deals["outcome"] == "won",
        lost=deals["outcome"] == "lost",
        revenue=deals["amount"].where(deals["outcome"] == "won", 0.0).fillna(0.0),
    )
    out = deals.groupby("manager").agg(
        won=("won", "sum"), lost=("lost", "sum"), revenue=("revenue", "sum")
    )
    out = out.reset_index()
    for col in ("won", "lost"):
        out[col] = out[col].astype("int64")
    out["closed"] = out["won"] + out["lost"]
    out["win_rate"] = ratio(out["won"], out["closed"], 100.0)
    out["revenue"] = out["revenue"].astype("float64")
    out["average_deal"] = ratio(out["revenue"], out["won"])
    out = out.sort_values(["closed", "manager"], ascending=[False, True], ignore_index=True)
    return out[["manager", "won", "lost", "closed", "win_rate", "revenue", "average_deal"]]


def compare_periods(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    metrics: tuple[str, ...] = DASHBOARD_METRICS,
    locale: str = "en",
) -> pd.DataFrame:
    """Period over period table of two one-row KPI (cohort) frames.

    Returns
    -------
    pandas.DataFrame
        Index ``metric`` (column name); columns ``label`` (catalogue label of
        the column, :func:`analytics.metrics.funnel.column_metric`), ``unit``,
        ``current``, ``previous``, ``change`` = current − previous and
        ``change_pct`` = (current − previous) / |previous| × 100% (NaN when
        previous is 0 or NaN).
    """
    rows = []
    for column in metrics:
        now, before = float(current[column].iloc[0]), float(previous[column].iloc[0])
        diff, pct = change(now, before)
        entry = column_metric(column)
        rows.append((column, entry.label(locale), entry.unit, now, before, diff, pct))
    columns = ["metric", "label", "unit", "current", "previous", "change", "change_pct"]
    return pd.DataFrame(rows, columns=columns).set_index("metric")


def period_over_period(
    con,
    period: Period,
    definitions: Definitions | None = None,
    metrics: tuple[str, ...] = DASHBOARD_METRICS,
) -> pd.DataFrame:
    """KPIs of the period against the previous period of the same length.

    The previous period is :func:`previous_period` (e.g. the week before, or
    the 30 days before a 30-day month). See :func:`compare_periods` for the
    columns: change = current − previous, change % = change / |previous| × 100%.
    """
    current = kpi_summary(con, period, definitions)
    previous = kpi_summary(con, previous_period(period), definitions)
    return compare_periods(current, previous, metrics)


def revenue_vs_target(
    con,
    as_of: date,
    target_growth: float,
    last_year_revenue: float | None = None,
) -> pd.DataFrame:
    """Revenue of the calendar year to date against the year's target.

    target = last year's revenue × target growth + last year's revenue (:func:`revenue_target`);
    progress and pace by :func:`target_progress`. Revenue is the amount of the
    deals *won* in the days (see :func:`closed_deals`), not the lead cohort's.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    as_of : datetime.date
        Last day counted (e.g. the report period's end).
    target_growth : float
        Target growth as a fraction (0.2 for +20%).
    last_year_revenue : float, optional
        Revenue of the previous calendar year, RUB; by default the won deals
        of that year in the warehouse. If the data start after 1 January of
        that year (``last_year_complete`` False) the sum is partial, so the
        target and the progress are NaN: pass the figure from accounting.

    Returns
    -------
    pandas.DataFrame
        One row (index = year): ``last_year_revenue``, ``last_year_source``
        (``warehouse`` or ``given``), ``last_year_complete``, ``target``,
        ``revenue_to_date``, ``elapsed_days``, ``days_in_year`` and the keys
        of :func:`target_progress`.
    """
    year_start = date(as_of.year, 1, 1)
    last_start = date(as_of.year - 1, 1, 1)
    to_date = closed_deals(con, year_start, as_of + timedelta(days=1))
    revenue_to_date = float(to_date.loc[to_date["outcome"] == "won", "amount"].fillna(0).sum())
    with ibis_backend(con) as backend:
        first_day = as_date(backend.execute(first_record_day(backend)))
    if last_year_revenue is None:
        last = closed_deals(con, last_start, year_start)
        last_year_revenue = float(last.loc[last["outcome"] == "won", "amount"].fillna(0).sum())
        source, complete = "warehouse", first_day is not None and first_day <= last_start
    else:
        source, complete = "given", True
    target = revenue_target(last_year_revenue, target_growth) if complete else math.nan
    elapsed = (as_of - year_start).days + 1
    total = (date(as_of.year + 1, 1, 1) - year_start).days
    row = {
        "last_year_revenue": last_year_revenue,
        "last_year_source": source,
        "last_year_complete": complete,
        "target_growth": target_growth,
        "target": target,
        "revenue_to_date": revenue_to_date,
        "elapsed_days": elapsed,
        "days_in_year": total,
        **target_progress(revenue_to_date, target, elapsed, total),
    }
    return pd.DataFrame([row], index=pd.Index([as_of.year], name="year"))


def revenue_pace(con, as_of: date, target: float) -> pd.DataFrame:
    """Cumulative revenue of the year by week against the linear pace to the target.

    Returns
    -------
    pandas.DataFrame
        One row per ISO week from the week of 1 January to the week of
        ``as_of``: ``week_start``, ``week_end`` (last day counted, capped at
        ``as_of``), ``revenue`` (won in the week, RUB), ``cumulative`` (RUB)
        and ``pace`` = target × days elapsed at the week end / days in the
        year (RUB); long format is easy to plot with seaborn via ``melt``.
    """
    year_start = date(as_of.year, 1, 1)
    total = (date(as_of.year + 1, 1, 1) - year_start).days
    won = closed_deals(con, year_start, as_of + timedelta(days=1))
    won = won[won["outcome"] == "won"]
    first_monday = year_start - timedelta(days=year_start.weekday())
    mondays = pd.date_range(first_monday, as_of, freq="7D")
    days = pd.to_datetime(won["closed_at"]).dt.normalize()
    week_of = days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    weekly = won["amount"].fillna(0).groupby(week_of).sum().reindex(mondays, fill_value=0.0)
    week_end = [min((m + pd.Timedelta(days=6)).date(), as_of) for m in mondays]
    elapsed = [max((e - year_start).days + 1, 0) for e in week_end]
    return pd.DataFrame(
        {
            "week_start": mondays,
            "week_end": pd.to_datetime(week_end),
            "revenue": weekly.to_numpy(dtype="float64"),
            "cumulative": weekly.cumsum().to_numpy(dtype="float64"),
            "pace": [target * e / total for e in elapsed],
        }
    )


# --------------------------------------------------------------------------- presentation


def weekly_kpi(con, period: Period, weeks: int = 12) -> pd.DataFrame:
    """KPIs week by week for the ``weeks`` ISO weeks up to the end of the period.

    :func:`analytics.metrics.funnel.weekly_funnel` (each week a cohort of its leads,
    MQL and SQL by CRM stage) with the ratios of
    :func:`analytics.metrics.funnel.add_ratios` and :func:`add_kpi_ratios` per week
    (e.g. ДРР = spend / revenue × 100% of the week).
    """
    return add_kpi_ratios(add_ratios(weekly_funnel(con, period, weeks)))


def kpi_long(
    frame: pd.DataFrame,
    metrics: tuple[str, ...],
    id_column: str,
    basis: str = "cohort",
    locale: str = "en",
) -> pd.DataFrame:
    """Long form of some KPI columns for faceted seaborn plots.

    ``basis`` says what the frame holds, as in :func:`kpi_table`: ``cohort``
    (:func:`weekly_kpi`) or ``booked`` (:func:`analytics.metrics.revenue.booked_weekly`).

    Returns
    -------
    pandas.DataFrame
        ``id_column``, ``metric`` (catalogue label with unit, e.g. ``ДРР лидов
        периода (когорта), %``) and ``value``.
    """
    long = frame.melt(id_vars=[id_column], value_vars=list(metrics), var_name="metric")
    if basis not in ("cohort", "booked"):
        raise ValueError(f"basis must be 'cohort' or 'booked', got {basis!r}")
    entry = column_metric if basis == "cohort" else metric
    long["metric"] = long["metric"].map({m: entry(m).label_with_unit(locale) for m in metrics})
    return long


def kpi_table(
    summary: pd.DataFrame,
    metrics: tuple[str, ...],
    basis: str = "cohort",
    locale: str = "en",
) -> pd.DataFrame:
    """Readable table of some columns of a one-row frame.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row: a cohort frame (:func:`kpi_summary`,
        :func:`analytics.metrics.funnel.funnel_summary`) or a booked one
        (:func:`analytics.metrics.revenue.booked_summary`).
    metrics : tuple of str
        Columns to show.
    basis : {"cohort", "booked"}
        What the frame holds: in a cohort frame ``revenue``, ``sales``, ``romi``
        ... are the cohort's (catalogue ``revenue_cohort`` ...), in a booked
        frame every column is its own catalogue key.
    locale : str
        Language of labels and formulas.

    Returns
    -------
    pandas.DataFrame
        Index ``metric`` (catalogue label); columns ``value`` (formatted) and
        ``definition`` (catalogue formula).
    """
    if basis not in ("cohort", "booked"):
        raise ValueError(f"basis must be 'cohort' or 'booked', got {basis!r}")
    row = summary.iloc[0]
    records = []
    for column in metrics:
        entry = column_metric(column) if basis == "cohort" else metric(column)
        records.append(
            {
                "metric": entry.label(locale),
                "value": format_value(row[column], entry.unit),
                "definition": entry.formula_text(locale),
            }
        )
    return pd.DataFrame.from_records(records).set_index("metric")


def pop_table(pop: pd.DataFrame) -> pd.DataFrame:
    """Readable period-over-period table of :func:`period_over_period`.

    Returns
    -------
    pandas.DataFrame
        Index ``metric`` (label); columns ``this period``, ``previous``,
        ``change`` (same unit; percentage points for %) and ``change, %``.
    """
    out = pd.DataFrame(index=pd.Index(pop["label"], name="metric"))
    units = list(pop["unit"])
    out["this period"] = [format_value(v, u) for v, u in zip(pop["current"], units, strict=True)]
    out["previous"] = [format_value(v, u) for v, u in zip(pop["previous"], units, strict=True)]
    out["change"] = [
        ("+" if v > 0 else "") + format_value(v, u).replace("%", " pp")
        for v, u in zip(pop["change"], units, strict=True)
    ]
    out["change, %"] = [
        ("+" if v > 0 else "") + format_value(v, "percent") for v in pop["change_pct"]
    ]
    return out
