"""The period snapshot: every catalogue metric, computed once per run.

A weekly run computes :func:`compute_snapshot` once, before any notebook
executes, and writes it with :func:`write_snapshot` to the period folder::

    reports/<period>/metrics.json              the snapshot (schema below)
    reports/<period>/marts/metric_values.parquet  one row per metric x scope
    reports/<period>/marts/weekly.parquet      the weekly series

Notebooks, the index and the e-mail read it back with :func:`load_snapshot`
instead of recomputing a headline figure; ``python -m analytics metrics``
prints it.

What is compared
----------------
For the report period ``P`` (:class:`analytics.metrics.period.Period`):

* ``value``: the metric in ``P``;
* ``previous``: in the previous period of the same length
  (:func:`analytics.metrics.period.previous_period`, the week before a week);
* ``year_ago``: in the same period a year earlier
  (:func:`analytics.metrics.period.year_ago_period`, the same ISO week);
* a comparison period that ends before the first day with data has no
  figures (``null``, reason "no data"); one that starts before it is
  computed and marked ``partial``;
* ``delta`` = value − previous (same unit; percentage points for percent
  metrics) and ``delta_pct`` = (value − previous) / |previous| × 100 %;
  ``delta_year`` and ``delta_year_pct`` likewise against ``year_ago``.

Undefined values are ``null`` (JSON) / ``None`` (Python), never NaN or inf,
and ``reasons[field]`` says why in Russian and English: a zero denominator
(``ROMI`` without spend), a comparison period before the first day with data,
a delta against an undefined value.

Sources of the figures
----------------------
* booked revenue, sales, spend, ROMI, ДРР, CAC, average deal:
  :func:`analytics.metrics.revenue.booked_summary` and
  :func:`analytics.metrics.revenue.booked_by_channel`;
* visits, visitors, leads and the cohort figures (MQL and SQL by the
  definitions in force, the cohort's sales and revenue and their ratios):
  :func:`analytics.metrics.kpi.conversion_by` (per channel) and
  :func:`analytics.metrics.kpi.kpi_summary` (total; its MQL, SQL and
  non-target leads are the sums of the channels' rows);
* win rate and sales cycle: :func:`analytics.metrics.kpi.win_rate_by_manager`'s
  rule on :func:`analytics.metrics.kpi.closed_deals` and
  :func:`analytics.metrics.kpi.cycle_time` (total only).

Every source runs an Ibis expression of :mod:`analytics.transforms`
(``booked_deals``, ``conversion_counts``, ``funnel_facts``, ``lead_facts``,
``data_span``) on the connection given: a DuckDB connection or any Ibis
backend, so :func:`compute_snapshot` gives the same snapshot on PySpark
(:func:`build_snapshot`'s ``backend``, ``python -m analytics metrics --backend``).
Each source is one query for the three periods together, grouped by period
as well (the ``*_by_window`` expressions: a record counts in the period
holding it): booked total and funnel total (whose periods include the weekly
series' weeks, so the weekly series needs no query of its own), booked by
channel, the channel conversion with the MQL rules, the closed deals; plus
the campaign figures, the campaign weeks and the data's first and last days:
eight queries on one Ibis backend, each table's schema read once. Periods
that overlap (a period longer than a year and the same period a year
earlier) are asked in separate queries (:func:`_disjoint_batches`).

Cohort maturity
---------------
A cohort metric also carries ``maturity``: ``age_days`` = data's last day
(``as_of``) − period's last day, the catalogue's ``maturity_days`` and
``immature`` = age_days < maturity_days (and the same for ``previous`` and
``year_ago``).

metrics.json schema (``schema_version`` 1)
------------------------------------------
::

    {
      "schema_version": 1,
      "generated_at": "2026-11-29T10:40:00",
      "as_of": "2025-06-10",            # data's last day with visits
      "data_start": "2025-05-30",       # first day with visits, leads or spend
      "definitions": ["MQL: ...", ...], # MQL/SQL definitions in force
      "period":   {"label": "2025-W23", "start": "2025-06-02", "end": "2025-06-08", "days": 7,
                   "covered": true,           # false: ends before the first day with data
                   "partial": false},         # true: starts before it and ends after
      "previous": {...same keys...},
      "year_ago": {...same keys...},
      "metrics": {
        "<key>": {
          "key", "label", "label_en", "unit", "basis", "direction",
          "formula", "formula_en", "definition", "definition_en",
          "value", "previous", "year_ago",
          "delta", "delta_pct", "delta_year", "delta_year_pct",
          "reason":  {"ru": ..., "en": ...} or null,      # why value is null
          "reasons": {"<field>": {"ru": ..., "en": ...}}, # every null field
          "maturity": null or {"age_days", "maturity_days", "immature",
                               "previous_age_days", "previous_immature",
                               "year_ago_age_days", "year_ago_immature"}
        }, ...                                   # every key of the catalogue, in order
      },
      "channels": {
        "<channel>": {"<key>": {"value", "previous", "year_ago", "delta", "delta_pct",
                                "delta_year", "delta_year_pct", "reason", "reasons"}}
      },                                         # the metrics defined per channel
      "weekly": [{"week", "week_start", "revenue", "sales", "spend",
                  "leads", "mql", "sql_leads"}, ...]  # 12 ISO weeks to the period end;
                                                 # booked revenue/sales/spend, cohort leads/MQL/SQL
      "campaigns": [{"channel", "campaign",      # every channel x campaign with figures
                     "leads", "spend", "sales", "revenue": {"value", "previous"}}, ...],
                                                 # booked sales/revenue (drilldown's rule)
      "campaign_weekly": [{"week", "week_start", "channel", "campaign",
                           "spend", "leads"}, ...]  # 13 ISO weeks to the period end
    }

``campaigns`` and ``campaign_weekly`` feed the what-changed section (movers by
metric × channel × campaign, anomalies per campaign,
:mod:`analytics.metrics.changes`); they are Ibis expressions
(:mod:`analytics.transforms.ad_hierarchy`), the same on DuckDB and PySpark. A
snapshot written before they existed has none, and movers then go by channel.

``label``, ``formula`` and ``definition`` are Russian (the leadership
language); ``*_en`` English. Labels always come from
:data:`analytics.metrics.catalogue.CATALOGUE`.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from analytics.metrics import kpi, revenue
from analytics.metrics.catalogue import CATALOGUE, Metric, metric
from analytics.metrics.definitions import DEFAULT_DEFINITIONS, Definitions
from analytics.metrics.funnel import COHORT_COLUMNS, add_ratios, funnel_summaries
from analytics.metrics.period import (
    Period,
    data_anchor,
    data_bounds,
    data_extent,
    parse_period,
    previous_period,
    year_ago_period,
)
from analytics.transforms.ad_hierarchy import campaign_figures
from analytics.transforms.backends import ibis_backend

SCHEMA_VERSION = 1
SNAPSHOT_FILE = "metrics.json"
MARTS_DIR = "marts"
WEEKS = 12
"""ISO weeks in the snapshot's weekly series."""

COMPARISONS = ("value", "previous", "year_ago")
DELTA_FIELDS = ("delta", "delta_pct", "delta_year", "delta_year_pct")

DENOMINATORS: dict[str, str] = {
    "romi": "spend",
    "drr": "revenue",
    "cac": "sales",
    "average_deal": "sales",
    "cpl": "leads",
    "cr_visit_lead": "visits",
    "visits_per_lead": "leads",
    "romi_cohort": "spend",
    "drr_cohort": "revenue_cohort",
    "cac_cohort": "sales_cohort",
    "average_deal_cohort": "sales_cohort",
    "cost_per_mql": "mql",
    "cost_per_sql": "sql_leads",
    "cr_lead_mql": "leads",
    "cr_mql_sql": "mql",
    "cr_sql_sale": "sql_leads",
    "cr_lead_sale": "leads",
    "value_per_lead": "leads",
    "value_per_visit": "visits",
    "cr_visit_mql": "visits",
    "non_target_share": "leads",
}
"""The catalogue key whose zero makes a ratio undefined (named in the reason)."""

_SPECIAL_REASONS = {
    "win_rate": ("в периоде не закрыто ни одной сделки", "no deal was closed in the period"),
    "cycle_days": (
        "в периоде не выиграно ни одной сделки с известным лидом",
        "no deal with a known lead was won in the period",
    ),
}

TOTAL_ONLY = ("visitors", "leads_form", "leads_call", "leads_chat", "win_rate", "cycle_days")
"""Catalogue metrics not broken down by channel (absent from ``channels``)."""


ADDITIVE = tuple(k for k in CATALOGUE if k not in DENOMINATORS and k not in _SPECIAL_REASONS)
"""Sums and counts (not ratios): zero in a period where a channel had nothing."""


class SnapshotError(ValueError):
    """A snapshot file is missing or unreadable (the message names the file)."""


def _reason(ru: str, en: str) -> dict[str, str]:
    return {"ru": ru, "en": en}


def _clean(value) -> float | None:
    """A finite float, or None for None/NaN/inf/NA."""
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _period_json(period: Period, data_start: date) -> dict:
    return {
        "label": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "days": period.days,
        "covered": period.end >= data_start,
        "partial": period.start < data_start <= period.end,
    }


# --------------------------------------------------------------------------- computation


def _figures(
    con, period: Period, definitions: Definitions | None, closed: pd.DataFrame | None = None
) -> tuple[dict, dict]:
    """Every catalogue metric of ``period``: ``(total, by_channel)`` of raw values.

    ``closed`` is :func:`analytics.metrics.kpi.closed_deals` of the period when
    the caller fetched it already (:func:`analytics.metrics.kpi.closed_deals_of`).
    """
    return _figures_of(con, [period], definitions, [closed] if closed is not None else None)[0]


def _figures_of(
    con,
    periods: list[Period],
    definitions: Definitions | None,
    closed: list[pd.DataFrame] | None = None,
    totals: list[tuple[pd.DataFrame, pd.DataFrame]] | None = None,
) -> list[tuple[dict, dict]]:
    """:func:`_figures` of several periods, each source one query for them all.

    ``totals`` are :func:`_totals_of` of the periods when the caller fetched them
    (with the weekly series' weeks); ``closed`` their closed deals likewise.

    Four queries for any number of periods that do not overlap (booked total,
    booked by channel, the channel conversion with the MQL rules, the funnel
    total), each grouping by period as well (:mod:`analytics.transforms`
    ``*_by_window``), plus one for the closed deals unless ``closed`` gives them
    (one frame per period); overlapping periods take one such set each
    (:func:`_disjoint_batches`).
    """
    out: list = [None] * len(periods)
    for batch in _disjoint_batches(periods):
        chosen = [periods[i] for i in batch]
        if totals is None:
            booked = revenue.booked_summaries(con, chosen)
            summaries = funnel_summaries(con, chosen)
        else:
            booked = [totals[i][0] for i in batch]
            summaries = [totals[i][1] for i in batch]
        booked_channels = revenue.booked_by_channel_of(con, chosen)
        conversion = kpi.conversion_by_periods(con, chosen, "channel", definitions)
        deals = kpi.closed_deals_of(con, chosen) if closed is None else [closed[i] for i in batch]
        parts = zip(booked, booked_channels, conversion, summaries, deals, strict=True)
        for i, frames in zip(batch, parts, strict=True):
            out[i] = _period_figures(*frames, definitions)
    return out


def _totals_of(con, periods: list[Period]) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """:func:`analytics.metrics.revenue.booked_summary` and
    :func:`analytics.metrics.funnel.funnel_summary` of each period: two queries for
    periods that do not overlap (a period asked twice is computed once)."""
    unique = list(dict.fromkeys((p.start, p.end) for p in periods))
    chosen = [next(p for p in periods if (p.start, p.end) == key) for key in unique]
    found: dict = {}
    for batch in _disjoint_batches(chosen):
        some = [chosen[i] for i in batch]
        parts = zip(revenue.booked_summaries(con, some), funnel_summaries(con, some), strict=True)
        for period, pair in zip(some, parts, strict=True):
            found[(period.start, period.end)] = pair
    return [found[(p.start, p.end)] for p in periods]


def _week_periods(period: Period, weeks: int) -> list[Period]:
    """The ``weeks`` ISO weeks to ``period.end``, oldest first, the last cut at
    ``period.end`` (the rows of :func:`analytics.metrics.funnel.weekly_funnel` and
    :func:`analytics.metrics.revenue.booked_weekly`)."""
    if weeks < 1:
        raise ValueError(f"weeks must be >= 1, got {weeks}")
    last_monday = period.end - timedelta(days=period.end.weekday())
    mondays = [last_monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    return [
        Period(monday, min(monday + timedelta(days=6), period.end), monday.isoformat())
        for monday in mondays
    ]


def _disjoint_batches(periods: list[Period]) -> list[list[int]]:
    """Indexes of ``periods`` in groups of periods without a common day, first fit.

    A query over several windows counts a record in the first window holding it, so
    only periods that do not overlap share one (a period longer than a year overlaps
    the same period a year earlier: it gets its own query)."""
    batches: list[list[int]] = []
    for i, period in enumerate(periods):
        for batch in batches:
            if all(period.end < periods[j].start or periods[j].end < period.start for j in batch):
                batch.append(i)
                break
        else:
            batches.append([i])
    return batches


def _period_figures(
    booked: pd.DataFrame,
    booked_channels: pd.DataFrame,
    by_channel_flags: pd.DataFrame,
    summary: pd.DataFrame,
    closed: pd.DataFrame,
    definitions: Definitions | None,
) -> tuple[dict, dict]:
    """``(total, by_channel)`` of one period from its fetched frames:
    :func:`analytics.metrics.revenue.booked_summary`,
    :func:`~analytics.metrics.revenue.booked_by_channel`,
    :func:`analytics.metrics.kpi.conversion_by` (by channel),
    :func:`analytics.metrics.funnel.funnel_summary` and
    :func:`analytics.metrics.kpi.closed_deals`."""
    booked = booked.iloc[0]
    cohort = kpi.kpi_summary(
        None, None, definitions, conversion=by_channel_flags, summary=summary
    ).iloc[0]
    total: dict[str, float] = {}
    for column, value in cohort.items():
        key = COHORT_COLUMNS.get(str(column), str(column))
        if key in CATALOGUE:
            total[key] = value
    for column in revenue.BOOKED_COLUMNS:
        total[column] = booked[column]
    won = int((closed["outcome"] == "won").sum())
    total["win_rate"] = won * 100.0 / len(closed) if len(closed) else math.nan
    # kpi.cycle_time's rule on the same frame: won deals with a known lead, median days
    cycles = closed.loc[(closed["outcome"] == "won") & closed["cycle_days"].notna(), "cycle_days"]
    total["cycle_days"] = float(cycles.median()) if len(cycles) else math.nan

    by_channel: dict[str, dict[str, float]] = {}
    conversion = by_channel_flags.set_index("channel")
    booked_channels = booked_channels.set_index("channel")
    # a channel with booked deals but no cohort rows (or the reverse) has zero sums there
    names = conversion.index.union(booked_channels.index)
    sums = ["spend", "visits", "leads", "mql", "sql_leads", "sales", "revenue", "non_target"]
    conversion = conversion[sums].reindex(names, fill_value=0)
    conversion = kpi.add_kpi_ratios(add_ratios(conversion))
    booked_channels = booked_channels[["revenue", "sales", "spend"]].reindex(names, fill_value=0)
    booked_channels = revenue.add_booked_ratios(booked_channels)
    for name in names:
        values = by_channel.setdefault(str(name), {})
        for column, value in conversion.loc[name].items():
            key = COHORT_COLUMNS.get(str(column), str(column))
            if key in CATALOGUE and key not in TOTAL_ONLY:
                values[key] = value
        for column in revenue.BOOKED_COLUMNS:
            values[column] = booked_channels.loc[name, column]
    return total, by_channel


def _defined(entry: Metric, figures: Mapping, covered: bool, data_start: date) -> tuple:
    """``(value or None, reason or None)`` of one metric in one period."""
    if not covered:
        return None, _reason(
            f"нет данных: данные начинаются {data_start.isoformat()}",
            f"no data: the data start on {data_start.isoformat()}",
        )
    if entry.key not in figures:
        return None, _reason("нет данных за период", "no data for the period")
    value = _clean(figures[entry.key])
    if value is not None:
        return value, None
    if entry.key in _SPECIAL_REASONS:
        return None, _reason(*_SPECIAL_REASONS[entry.key])
    denominator = metric(DENOMINATORS[entry.key]) if entry.key in DENOMINATORS else None
    if denominator is not None:
        return None, _reason(
            f"не определено: {denominator.label('ru')} = 0",
            f"undefined: {denominator.label('en')} is 0",
        )
    return None, _reason("не определено", "undefined")


def _deltas(value, previous, ago) -> tuple[dict, dict]:
    """Delta fields and their reasons."""
    out, reasons = {}, {}
    for name, base, word_ru, word_en in (
        ("delta", previous, "предыдущего периода", "the previous period"),
        ("delta_year", ago, "того же периода год назад", "the same period a year earlier"),
    ):
        if value is None or base is None:
            out[name] = out[f"{name}_pct"] = None
            reason = _reason(
                f"нет значения периода или {word_ru}", f"no value for the period or {word_en}"
            )
            reasons[name] = reasons[f"{name}_pct"] = reason
            continue
        out[name] = value - base
        if base == 0:
            out[f"{name}_pct"] = None
            reasons[f"{name}_pct"] = _reason(
                f"значение {word_ru} = 0", f"the value of {word_en} is 0"
            )
        else:
            out[f"{name}_pct"] = (value - base) / abs(base) * 100.0
    return out, reasons


def _entry_values(entry: Metric, periods: list, covered: list, data_start: date) -> dict:
    """value/previous/year_ago, deltas and reasons of one metric (``periods`` = figure dicts)."""
    out: dict = {}
    reasons: dict = {}
    for field, figures, ok in zip(COMPARISONS, periods, covered, strict=True):
        out[field], reason = _defined(entry, figures, ok, data_start)
        if reason is not None:
            reasons[field] = reason
    deltas, delta_reasons = _deltas(out["value"], out["previous"], out["year_ago"])
    out.update(deltas)
    if entry.unit == "count":  # counts as JSON integers
        for field in ("value", "previous", "year_ago", "delta", "delta_year"):
            if out[field] is not None and float(out[field]).is_integer():
                out[field] = int(out[field])
    reasons.update(delta_reasons)
    out["reason"] = reasons.get("value")
    out["reasons"] = reasons
    return out


def _maturity(entry: Metric, periods: list[Period], as_of: date) -> dict | None:
    if not entry.is_cohort:
        return None
    out: dict = {"maturity_days": entry.maturity_days}
    for prefix, period in zip(("", "previous_", "year_ago_"), periods, strict=True):
        age = (as_of - period.end).days
        out[f"{prefix}age_days"] = age
        out[f"{prefix}immature"] = age < entry.maturity_days
    return out


def _weekly(week_periods: list[Period], totals: list) -> list[dict]:
    """The snapshot's ``weekly`` rows from :func:`_totals_of` of :func:`_week_periods`:
    booked revenue, sales, spend and the cohort's leads, MQL and SQL of each week (the
    figures of :func:`analytics.metrics.revenue.booked_weekly` and
    :func:`analytics.metrics.funnel.weekly_funnel`)."""
    rows = []
    for week, (booked, cohort) in zip(week_periods, totals, strict=True):
        b, c = booked.iloc[0], cohort.iloc[0]
        year, number, _ = week.start.isocalendar()
        rows.append(
            {
                "week": f"{year}-W{number:02d}",
                "week_start": week.start.isoformat(),
                "revenue": _clean(b["revenue"]),
                "sales": int(b["sales"]),
                "spend": _clean(b["spend"]),
                "leads": int(c["leads"]),
                "mql": int(c["mql"]),
                "sql_leads": int(c["sql_leads"]),
            }
        )
    return rows


CAMPAIGN_FIGURES = {
    "leads": "leads",
    "spend": "spend",
    "sales": "sales_booked",
    "revenue": "revenue_booked",
}
"""Catalogue key (booked basis) → :func:`analytics.metrics.drilldown.drilldown` column of the
snapshot's ``campaigns``."""


def _campaigns(con, periods: list[Period], covered: list[bool], definitions) -> list[dict]:
    """Channel × campaign figures of the period and the previous one (``campaigns``): the
    campaign rows of :func:`analytics.metrics.drilldown.drilldown` of each, in one query
    (:func:`analytics.transforms.ad_hierarchy.campaign_figures`; the figures used here do
    not depend on ``definitions``)."""
    keys = ["channel", "campaign"]
    pairs = zip(("value", "previous"), periods[:2], covered[:2], strict=True)
    chosen = [(field, period) for field, period, ok in pairs if ok]
    if not chosen:
        return []
    windows = [(p.start, p.end_exclusive) for _, p in chosen]
    with ibis_backend(con) as backend:
        every = backend.execute(campaign_figures(backend, windows))
    frames = []
    for window, (field, _) in enumerate(chosen):
        frame = every[every["window"] == window].astype({"channel": str, "campaign": str})
        frame = frame[keys + list(CAMPAIGN_FIGURES.values())].set_index(keys)
        frames.append(frame.add_suffix(f"|{field}"))
    merged = pd.concat(frames, axis=1).fillna(0.0).sort_index()
    rows = []
    for (channel, campaign), values in merged.iterrows():
        row: dict = {"channel": str(channel), "campaign": str(campaign)}
        for key, column in CAMPAIGN_FIGURES.items():
            row[key] = {
                field: _clean(values.get(f"{column}|{field}")) if covered[i] else None
                for i, field in enumerate(("value", "previous"))
            }
            if key in ("leads", "sales"):
                for field, number in row[key].items():
                    if number is not None:
                        row[key][field] = int(number)
        rows.append(row)
    return rows


def _campaign_weekly(con, period: Period, weeks: int) -> list[dict]:
    from analytics.metrics.drilldown import campaign_weekly

    frame = campaign_weekly(con, period, weeks + 1)
    return [
        {**row, "spend": _clean(row["spend"]), "leads": int(row["leads"])}
        for row in frame.to_dict("records")
    ]


def compute_snapshot(
    con,
    period: Period,
    definitions: Definitions | None = None,
    as_of: date | None = None,
    weeks: int = WEEKS,
) -> Snapshot:
    """Every catalogue metric for the period, the previous one and a year earlier.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or ibis.BaseBackend
        Warehouse with the canonical tables, or an Ibis backend holding them
        (e.g. ``connect_backend("pyspark://local[2]")``): every figure comes
        from the Ibis expressions of :mod:`analytics.transforms`, so the
        snapshot is the same on DuckDB and PySpark.
    period : Period
        The report period.
    definitions : Definitions, optional
        MQL/SQL definitions (``params/definitions.yaml``); default the CRM stages.
    as_of : datetime.date, optional
        The data's last day, for the cohorts' age; default
        :func:`analytics.metrics.period.data_anchor`.
    weeks : int, default 12
        ISO weeks in the weekly series.

    Returns
    -------
    Snapshot
        See the module docstring for the content.
    """
    with ibis_backend(con) as backend:
        if backend is not con:
            # a backend of our own for this computation: each table's schema is read
            # once, not by every expression (a DESCRIBE query per table per query)
            backend.table = functools.cache(backend.table)
        return _compute_snapshot(backend, period, definitions, as_of, weeks)


def _compute_snapshot(
    con, period: Period, definitions: Definitions | None, as_of: date | None, weeks: int
) -> Snapshot:
    """:func:`compute_snapshot` on an Ibis backend."""
    if as_of is None:
        data_start, _, as_of = data_extent(con)
    else:
        data_start = data_bounds(con)[0]
    periods = [period, previous_period(period), year_ago_period(period)]
    # a comparison period that ends before the first day with data has no figures;
    # one that starts before it is computed but marked partial
    covered = [True] + [p.end >= data_start for p in periods[1:]]
    computed_periods = [p for p, ok in zip(periods, covered, strict=True) if ok]
    week_periods = _week_periods(period, weeks)
    # the totals of the periods and of the weekly series' weeks: one query each
    totals = _totals_of(con, computed_periods + week_periods)
    found = _figures_of(con, computed_periods, definitions, totals=totals[: len(computed_periods)])
    figures = iter(found)
    computed = [next(figures) if ok else ({}, {}) for ok in covered]
    metrics: dict[str, dict] = {}
    for key, entry in CATALOGUE.items():
        values = _entry_values(entry, [c[0] for c in computed], covered, data_start)
        metrics[key] = {
            "key": key,
            "label": entry.label_ru,
            "label_en": entry.label_en,
            "unit": entry.unit,
            "basis": entry.basis,
            "direction": entry.direction,
            "formula": entry.formula_ru,
            "formula_en": entry.formula_en,
            "definition": entry.definition_ru,
            "definition_en": entry.definition_en,
            **values,
            "maturity": _maturity(entry, periods, as_of),
        }
    channels: dict[str, dict] = {}
    names = sorted(set().union(*(c[1] for c in computed)))
    for name in names:
        # a channel absent from a covered period had nothing in it: its sums are 0 there
        filled = [
            {**({key: 0 for key in ADDITIVE} if ok else {}), **c[1].get(name, {})}
            for c, ok in zip(computed, covered, strict=True)
        ]
        channels[name] = {
            key: _entry_values(entry, filled, covered, data_start)
            for key, entry in CATALOGUE.items()
            if key not in TOTAL_ONLY
        }
    data = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now().isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(),
        "data_start": data_start.isoformat(),
        "definitions": (definitions or DEFAULT_DEFINITIONS).describe(),
        "period": _period_json(periods[0], data_start),
        "previous": _period_json(periods[1], data_start),
        "year_ago": _period_json(periods[2], data_start),
        "metrics": metrics,
        "channels": channels,
        "weekly": _weekly(week_periods, totals[len(computed_periods) :]),
        "campaigns": _campaigns(con, periods, covered, definitions),
        "campaign_weekly": _campaign_weekly(con, period, weeks),
    }
    return Snapshot(data)


# --------------------------------------------------------------------------- the object


@dataclass(frozen=True)
class Snapshot:
    """A period snapshot (the content of ``metrics.json``, see the module docstring).

    Attributes
    ----------
    data : dict
        The JSON document.
    """

    data: dict

    @property
    def period(self) -> Period:
        """The report period."""
        p = self.data["period"]
        return Period(date.fromisoformat(p["start"]), date.fromisoformat(p["end"]), p["label"])

    @property
    def channels(self) -> list[str]:
        """Channels with figures, sorted."""
        return sorted(self.data["channels"])

    def metric(self, key: str, channel: str | None = None) -> dict:
        """The entry of ``key`` (in total, or of one channel).

        Raises
        ------
        KeyError
            For a key not in the catalogue, or a channel/metric the snapshot
            does not break down.
        """
        metric(key)  # a clear error for an unknown key
        if channel is None:
            return self.data["metrics"][key]
        try:
            return self.data["channels"][channel][key]
        except KeyError:
            raise KeyError(
                f"the snapshot has no {key!r} for channel {channel!r}"
                f" (channels: {', '.join(self.channels)})"
            ) from None

    def value(self, key: str, field: str = "value", channel: str | None = None) -> float | None:
        """One number: ``field`` is value, previous, year_ago or a delta; None if undefined."""
        if field not in COMPARISONS + DELTA_FIELDS:
            raise ValueError(f"field must be one of {COMPARISONS + DELTA_FIELDS}, got {field!r}")
        return self.metric(key, channel)[field]

    def row(self, field: str = "value") -> dict[str, float | None]:
        """``{key: number}`` of every total metric (e.g. for the e-mail)."""
        return {key: entry[field] for key, entry in self.data["metrics"].items()}

    def table(
        self,
        keys: Iterable[str] | None = None,
        locale: str = "ru",
        channel: str | None = None,
    ) -> pd.DataFrame:
        """The snapshot as a frame (numbers unformatted; undefined = NaN here).

        Returns
        -------
        pandas.DataFrame
            Index ``key``; columns ``label`` (catalogue, in ``locale``),
            ``unit``, ``basis``, ``value``, ``previous``, ``year_ago``,
            ``delta``, ``delta_pct``, ``delta_year``, ``delta_year_pct``,
            ``immature`` (cohort metrics; False for booked) and ``reason``
            (why ``value`` is undefined, in ``locale``'s language, or "").
        """
        language = "ru" if str(locale).lower().startswith("ru") else "en"
        rows = []
        for key in keys or CATALOGUE:
            if channel is not None and key in TOTAL_ONLY:
                continue
            entry, values = metric(key), self.metric(key, channel)
            maturity = self.data["metrics"][key].get("maturity") or {}
            rows.append(
                {
                    "key": key,
                    "label": entry.label(locale),
                    "unit": entry.unit,
                    "basis": entry.basis,
                    **{f: values[f] for f in COMPARISONS + DELTA_FIELDS},
                    "immature": bool(maturity.get("immature", False)),
                    "reason": (values.get("reason") or {}).get(language, ""),
                }
            )
        frame = pd.DataFrame.from_records(rows).set_index("key")
        for col in COMPARISONS + DELTA_FIELDS:
            frame[col] = frame[col].astype("float64")
        return frame

    def to_json(self) -> str:
        """The document as JSON text (strict: no NaN or inf)."""
        return json.dumps(self.data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


# --------------------------------------------------------------------------- files


def _mart_frames(snapshot: Snapshot) -> dict[str, pd.DataFrame]:
    rows = []
    scopes = [("total", None, snapshot.data["metrics"])]
    scopes += [("channel", name, values) for name, values in snapshot.data["channels"].items()]
    for scope, channel, values in scopes:
        for key, entry in values.items():
            reason = entry.get("reason") or {}
            rows.append(
                {
                    "period": snapshot.data["period"]["label"],
                    "scope": scope,
                    "channel": channel,
                    "metric": key,
                    "basis": CATALOGUE[key].basis,
                    "unit": CATALOGUE[key].unit,
                    **{f: entry[f] for f in COMPARISONS + DELTA_FIELDS},
                    "reason": reason.get("en"),
                }
            )
    values = pd.DataFrame.from_records(rows)
    for col in COMPARISONS + DELTA_FIELDS:
        values[col] = values[col].astype("float64")
    weekly = pd.DataFrame.from_records(snapshot.data["weekly"])
    if not weekly.empty:
        weekly["week_start"] = pd.to_datetime(weekly["week_start"])
    return {"metric_values": values, "weekly": weekly}


def write_snapshot(snapshot: Snapshot, period_dir: str | Path) -> Path:
    """Write ``metrics.json`` and the marts (``marts/*.parquet``) to the period folder.

    Returns
    -------
    pathlib.Path
        The ``metrics.json`` written.
    """
    period_dir = Path(period_dir)
    period_dir.mkdir(parents=True, exist_ok=True)
    path = period_dir / SNAPSHOT_FILE
    text = snapshot.to_json()
    marts = period_dir / MARTS_DIR
    marts.mkdir(exist_ok=True)
    for name, frame in _mart_frames(snapshot).items():
        frame.to_parquet(marts / f"{name}.parquet", index=False)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def load_snapshot(period_dir: str | Path) -> Snapshot:
    """Read the snapshot of a period folder (or a ``metrics.json`` path).

    Raises
    ------
    SnapshotError
        If the file is missing, not JSON or of another schema version
        (the message names the file).
    """
    path = Path(period_dir)
    if path.is_dir() or path.suffix != ".json":
        path = path / SNAPSHOT_FILE
    if not path.is_file():
        raise SnapshotError(
            f"{path} does not exist: run `python -m analytics report` (or `metrics --out`) first"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"{path} is not a readable snapshot: {exc}") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        version = data.get("schema_version") if isinstance(data, dict) else None
        raise SnapshotError(f"{path} has schema_version {version!r}, expected {SCHEMA_VERSION}")
    return Snapshot(data)


def build_snapshot(
    warehouse: str | Path,
    period: str | Period,
    out_dir: str | Path | None = None,
    definitions: Definitions | None = None,
    backend: str | None = None,
    lead_visits: str | Path | None = None,
) -> tuple[Snapshot, Path | None]:
    """Open the warehouse read-only, compute the snapshot and write it if ``out_dir`` is given.

    Parameters
    ----------
    warehouse : str or pathlib.Path
        DuckDB warehouse file.
    period : str or Period
        Period spec (resolved against the data, as the runner does) or a period.
    out_dir : str or pathlib.Path, optional
        Reports root: writes ``<out_dir>/<period label>/metrics.json`` and marts.
    definitions : Definitions, optional
        Default: ``params/definitions.yaml``
        (:func:`analytics.metrics.definitions.load_definitions`).
    backend : str, optional
        Engine that computes the figures, as a connection string of
        :func:`analytics.transforms.backends.connect_backend`; default ``url``
        of ``params/backend.yaml`` (:func:`~analytics.transforms.backends.default_backend_url`).
        ``duckdb://...`` computes on ``warehouse`` itself (the path in the
        string is not used); ``pyspark://local[N]`` exports ``warehouse`` to
        Parquet for a local SparkSession (unless the string names its own
        ``?warehouse=``); ``pyspark://active`` uses the running SparkSession,
        whose catalog must hold the canonical tables. The figures are the same
        on every engine (``tests/transforms/test_snapshot_parity.py``).
    lead_visits : str or pathlib.Path, optional
        The run's mart of the leads' visits computed from ``warehouse``
        (:mod:`analytics.metrics.lead_visit_mart`): attached to the DuckDB
        connection, the queries read the leads' visits from it instead of
        scanning ``visits``; the same figures. Not used on other engines.

    Returns
    -------
    tuple
        The snapshot and the ``metrics.json`` path (None when not written).
    """
    from analytics.metrics.definitions import load_definitions
    from analytics.metrics.lead_visit_mart import attach_lead_visits
    from analytics.transforms.backends import connect_backend, default_backend_url
    from analytics.warehouse.connection import connect

    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist")
    definitions = definitions or load_definitions()
    url = backend or default_backend_url()
    scheme, _, rest = url.partition("://")
    if scheme.lower() == "duckdb":
        # capped like every warehouse connection (ANALYTICS_DUCKDB_MEMORY_LIMIT)
        con = connect(warehouse, read_only=True)
        close = con.close
        try:
            attach_lead_visits(con, lead_visits)
        except BaseException:
            close()
            raise
    else:
        local_spark = scheme.lower() == "pyspark" and not rest.startswith("active")
        if local_spark and "warehouse=" not in rest:
            url += ("&" if "?" in url else "?") + f"warehouse={warehouse.resolve()}"
        con = connect_backend(url)
        close = _leave_session_running
    try:
        anchor = None
        if isinstance(period, str):
            anchor = data_anchor(con)
            bounds = data_bounds(con) if period.strip().lower() == "all" else None
            period = parse_period(period, anchor, bounds=bounds)
        snapshot = compute_snapshot(con, period, definitions, as_of=anchor)
    finally:
        close()
    path = write_snapshot(snapshot, Path(out_dir) / period.label) if out_dir is not None else None
    return snapshot, path


def _leave_session_running() -> None:
    """A SparkSession is left to its owner: stopping it would end others' work in the process."""


def formatted_table(
    snapshot: Snapshot,
    keys: Iterable[str] | None = None,
    locale: str = "en",
    channel: str | None = None,
) -> pd.DataFrame:
    """The snapshot as a readable frame for notebooks and the console.

    Values are plain text (:func:`analytics.metrics.funnel.format_value`;
    leadership pages format with Babel in the reports layer).

    Returns
    -------
    pandas.DataFrame
        Index: catalogue label in ``locale``; columns ``basis`` (``booked`` /
        ``cohort``, translated), ``value``, ``previous``, ``year ago``,
        ``change`` (vs previous; percentage points for percent metrics) and
        ``note`` (why a value is undefined, or that a cohort is immature);
        headers in ``locale``'s language; undefined numbers are ``—``.
    """
    from analytics.metrics.funnel import format_value

    language = "ru" if str(locale).lower().startswith("ru") else "en"
    table = snapshot.table(keys, locale=locale, channel=channel)
    headers = {
        "ru": (
            "показатель",
            "база",
            "значение",
            "пред. период",
            "год назад",
            "изменение",
            "примечание",
        ),
        "en": ("metric", "basis", "value", "previous", "year ago", "change", "note"),
    }[language]
    basis_names = {
        "ru": {"booked": "по дате", "cohort": "когорта"},
        "en": {"booked": "booked", "cohort": "cohort"},
    }[language]
    immature = {"ru": "когорта не созрела", "en": "immature cohort"}[language]
    rows = []
    for _, row in table.iterrows():
        unit = row["unit"]
        delta = format_value(row["delta"], unit)
        if delta != "—":
            delta = ("+" if row["delta"] > 0 else "") + delta.replace("%", " pp")
        rows.append(
            (
                row["label"],
                basis_names[row["basis"]],
                format_value(row["value"], unit),
                format_value(row["previous"], unit),
                format_value(row["year_ago"], unit),
                delta,
                row["reason"] or (immature if row["immature"] else ""),
            )
        )
    return pd.DataFrame.from_records(rows, columns=headers).set_index(headers[0])


def format_table(snapshot: Snapshot, locale: str = "ru") -> str:
    """The snapshot as a plain-text table for the console (:func:`formatted_table`)."""
    table = formatted_table(snapshot, locale=locale).reset_index()
    rows = [tuple(table.columns)] + [tuple(r) for r in table.itertuples(index=False)]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    period = snapshot.data["period"]
    lines = [
        f"{period['label']} ({period['start']} – {period['end']}), as of {snapshot.data['as_of']}"
    ]
    for r in rows:
        cells = [
            str(c).ljust(w) if i < 2 or i == 6 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
