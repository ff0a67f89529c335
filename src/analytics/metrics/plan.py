"""Plan vs fact of the month: ``params/plan.yaml``, progress and straight-line pace.

``params/plan.yaml`` holds monthly plans, any subset of revenue, spend, leads
and sales, any subset of months::

    plans:
      2025-12: {revenue: 2500000, leads: 60}
      2026-01: {revenue: 2800000, spend: 400000, leads: 70, sales: 9}

For the month that contains the report period's last day (``as_of``):

* ``fact`` = the figure booked from the 1st of the month to ``as_of``
  (revenue and sales on the day a deal is won, spend on the day it is paid,
  leads on the day they are created; as in :mod:`analytics.metrics.catalogue`);
* ``progress_pct`` = fact / plan × 100 %;
* ``expected`` = plan × elapsed days / days in the month (straight-line pace);
* ``pace_pct`` = fact / expected × 100 % (100 % = on pace);
* ``projected`` = fact × days in the month / elapsed days (run rate).

Without a plan for the month, the **target formula** is used for revenue when
last year's same month is covered by the data: target = last year's revenue ×
(1 + growth) = last year's revenue × growth + last year's revenue. Otherwise
there is nothing to compare with, and :func:`plan_vs_fact` says so
(``source = None``) so that a page can tell how to set a plan.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import yaml

from analytics.metrics.period import Period, data_bounds
from analytics.paths import PARAMS_DIR

PLAN_FILE = PARAMS_DIR / "plan.yaml"
PLAN_METRICS = ("revenue", "spend", "leads", "sales")
"""Catalogue keys a plan can hold."""


class PlanError(ValueError):
    """``plan.yaml`` is invalid; the message names the file, month and key."""


def load_plan(path: str | Path | None = None) -> dict[str, dict[str, float]]:
    """Monthly plans: ``{"2025-12": {"revenue": 2500000.0, ...}}``; ``{}`` without a file.

    Raises
    ------
    PlanError
        Not a mapping, a month not ``YYYY-MM``, an unknown metric, a value
        that is not a non-negative number.
    """
    if path is None:
        from analytics import paths

        try:
            path = paths.params_file("plan.yaml")
        except FileNotFoundError:
            return {}
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not valid YAML: {exc}") from None
    plans = data.get("plans") if isinstance(data, dict) else None
    if plans is None:
        return {}
    if not isinstance(plans, dict):
        raise PlanError(f"{path}: 'plans' must map a month (YYYY-MM) to figures")
    out: dict[str, dict[str, float]] = {}
    for month, figures in plans.items():
        month = str(month)
        try:
            year, number = (int(part) for part in month.split("-"))
            date(year, number, 1)
        except ValueError:
            raise PlanError(f"{path}: month {month!r} is not YYYY-MM") from None
        if not isinstance(figures, dict):
            raise PlanError(f"{path}: month {month}: expected {{metric: value}}")
        for key, value in figures.items():
            if key not in PLAN_METRICS:
                raise PlanError(
                    f"{path}: month {month}: unknown metric {key!r} (use {', '.join(PLAN_METRICS)})"
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise PlanError(f"{path}: month {month}: {key} must be a number >= 0")
        out[f"{year:04d}-{number:02d}"] = {k: float(v) for k, v in figures.items()}
    return out


@dataclass
class PlanFact:
    """Plan vs fact of one month to ``as_of`` (see the module docstring).

    Attributes
    ----------
    month : str
        ``YYYY-MM``.
    as_of : datetime.date
    elapsed_days, days : int
        Days of the month to ``as_of`` (inclusive), days in the month.
    source : {"plan", "target"} or None
        Where the plan came from; None when there is none.
    rows : list of dict
        Per metric: ``key``, ``plan``, ``fact``, ``progress_pct``,
        ``expected``, ``pace_pct``, ``projected``.
    last_year : float or None
        Last year's revenue of the month (target formula only).
    """

    month: str
    as_of: date
    elapsed_days: int
    days: int
    source: str | None
    rows: list[dict] = field(default_factory=list)
    last_year: float | None = None


def month_facts(con, start: date, as_of: date) -> dict[str, float]:
    """Revenue, sales, spend and leads booked from ``start`` to ``as_of`` inclusive."""
    from analytics.metrics.revenue import booked_summary

    period = Period(start, as_of, f"{start}_{as_of}")
    booked = booked_summary(con, period).iloc[0]
    (leads,) = con.execute(
        "SELECT count(*) FROM leads WHERE created_at >= ? AND created_at < ?",
        [start, as_of + timedelta(days=1)],
    ).fetchone()
    return {
        "revenue": float(booked["revenue"]),
        "sales": float(booked["sales"]),
        "spend": float(booked["spend"]),
        "leads": float(leads),
    }


def _row(key: str, plan: float, fact: float, elapsed: int, days: int) -> dict:
    expected = plan * elapsed / days
    return {
        "key": key,
        "plan": plan,
        "fact": fact,
        "progress_pct": fact / plan * 100.0 if plan else None,
        "expected": expected,
        "pace_pct": fact / expected * 100.0 if expected else None,
        "projected": fact * days / elapsed if elapsed else None,
    }


def plan_vs_fact(
    con,
    as_of: date,
    plans: dict[str, dict[str, float]] | None = None,
    target_growth: float = 0.2,
) -> PlanFact:
    """Plan vs fact of the month of ``as_of`` (module docstring).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    as_of : datetime.date
        Last day counted (the report period's last day).
    plans : dict, optional
        :func:`load_plan`'s result; default ``params/plan.yaml``.
    target_growth : float, default 0.2
        Growth of the target formula (0.2 = +20 % on last year).
    """
    plans = load_plan() if plans is None else plans
    start = as_of.replace(day=1)
    days = calendar.monthrange(as_of.year, as_of.month)[1]
    elapsed = as_of.day
    month = f"{as_of.year:04d}-{as_of.month:02d}"
    result = PlanFact(month, as_of, elapsed, days, None)
    planned = plans.get(month) or {}
    if planned:
        facts = month_facts(con, start, as_of)
        result.source = "plan"
        result.rows = [
            _row(k, planned[k], facts[k], elapsed, days) for k in PLAN_METRICS if k in planned
        ]
        return result
    last_start = date(as_of.year - 1, as_of.month, 1)
    last_days = calendar.monthrange(last_start.year, last_start.month)[1]
    first_day = data_bounds(con)[0]
    if first_day is not None and first_day <= last_start:
        last_end = last_start + timedelta(days=last_days - 1)
        last_year = month_facts(con, last_start, last_end)["revenue"]
        if last_year > 0:
            target = last_year * target_growth + last_year
            fact = month_facts(con, start, as_of)["revenue"]
            result.source = "target"
            result.last_year = last_year
            result.rows = [_row("revenue", target, fact, elapsed, days)]
    return result
