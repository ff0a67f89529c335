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

Computation: the counts are the Ibis expressions of
:mod:`analytics.transforms.ad_hierarchy` (the same on DuckDB and PySpark); the
ratios, the sort and the week grid are computed here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.metrics.catalogue import ratio
from analytics.metrics.definitions import DEFAULT_DEFINITIONS, Definitions
from analytics.metrics.period import Period, previous_period
from analytics.transforms.ad_hierarchy import (
    HIERARCHY_COUNT_COLUMNS,
    campaign_week_counts,
    hierarchy_figures,
    levels_to,
)
from analytics.transforms.backends import ibis_backend

COUNTS = HIERARCHY_COUNT_COLUMNS
"""Figures of a row (:mod:`analytics.transforms.ad_hierarchy`); the hierarchy is ``LEVELS``."""
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


def _figures_frame(raw: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The rows of one depth and window of :func:`hierarchy_figures` with the ratios,
    sorted by spend then leads, descending (the keys break ties)."""
    frame = raw[keys + list(COUNTS)].copy()
    for level in keys:
        frame[level] = frame[level].astype(str)
    for column in ("visits", "leads", "mql", "sql_leads", "sales", "sales_booked"):
        frame[column] = frame[column].astype("int64")
    for column in ("spend", "revenue", "revenue_booked"):
        frame[column] = frame[column].astype("float64")
    frame["cpl"] = ratio(frame["spend"], frame["leads"])
    frame["cost_per_mql"] = ratio(frame["spend"], frame["mql"])
    frame["cost_per_sql"] = ratio(frame["spend"], frame["sql_leads"])
    frame["romi"] = ratio(frame["revenue"] - frame["spend"], frame["spend"], 100.0)
    frame["drr"] = ratio(frame["spend"], frame["revenue"], 100.0)
    frame["romi_booked"] = ratio(frame["revenue_booked"] - frame["spend"], frame["spend"], 100.0)
    frame["drr_booked"] = ratio(frame["spend"], frame["revenue_booked"], 100.0)
    frame = frame.sort_values(
        ["spend", "leads", *keys], ascending=[False, False, *[True] * len(keys)]
    )
    return frame[keys + list(COUNTS) + list(RATIOS)].reset_index(drop=True)


def _hierarchy(
    con, periods: list[Period], depths: list[str], definitions: Definitions | None
) -> dict[tuple[str, int], pd.DataFrame]:
    """:func:`_figures_frame` of every depth and period, from one query."""
    definitions = definitions or DEFAULT_DEFINITIONS
    windows = [(p.start, p.end_exclusive) for p in periods]
    with ibis_backend(con) as backend:
        raw = backend.execute(hierarchy_figures(backend, windows, depths, definitions))
    out = {}
    for depth in depths:
        for i in range(len(periods)):
            rows = raw[(raw["depth"] == depth) & (raw["window"] == i)]
            out[depth, i] = _figures_frame(rows, levels_to(depth))
    return out


def drilldown(
    con,
    period: Period,
    depth: str = "creative",
    definitions: Definitions | None = None,
) -> pd.DataFrame:
    """Figures of the period per row of the hierarchy down to ``depth``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or ibis.BaseBackend
        Warehouse, or an Ibis backend holding the canonical tables (PySpark).
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
    levels_to(depth)
    return _hierarchy(con, [period], [depth], definitions)[depth, 0]


def _with_change(now: pd.DataFrame, before: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
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
    return drilldown_tables(con, period, (depth,), definitions)[depth]


def drilldown_tables(
    con,
    period: Period,
    depths: tuple[str, ...] = ("campaign", "creative"),
    definitions: Definitions | None = None,
) -> dict[str, pd.DataFrame]:
    """:func:`drilldown_with_change` at each of ``depths``, from one query.

    The period and the previous one at every depth are one Ibis expression
    (:func:`~analytics.transforms.ad_hierarchy.hierarchy_figures`): the visits,
    the leads' visits and the cohort's flags are read once, not once per depth
    and period (four queries for the marketing page's campaigns and ads). Compute
    it once per run and render it per language
    (:func:`analytics.reports.summary.drilldown_section`).

    Returns
    -------
    dict of str to pandas.DataFrame
        Depth → the frame :func:`drilldown_with_change` returns for it.
    """
    depths = list(depths)
    for depth in depths:
        levels_to(depth)
    frames = _hierarchy(con, [period, previous_period(period)], depths, definitions)
    return {
        depth: _with_change(frames[depth, 0], frames[depth, 1], levels_to(depth))
        for depth in depths
    }


def campaign_weekly(con, period: Period, weeks: int = 13) -> pd.DataFrame:
    """Spend and leads per channel × campaign for the ``weeks`` ISO weeks to ``period.end``.

    The input of the per-campaign anomaly check
    (:func:`analytics.metrics.changes.campaign_anomalies`): the last week
    against the weeks before it.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or ibis.BaseBackend
        Warehouse, or an Ibis backend holding the canonical tables (PySpark).
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
    with ibis_backend(con) as backend:
        raw = backend.execute(campaign_week_counts(backend, first_monday, period.end_exclusive))
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
