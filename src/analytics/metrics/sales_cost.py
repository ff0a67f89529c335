"""What non-target leads cost the sales team.

Every lead is called and qualified by a sales manager; a non-target lead (the
deal lost with a non-target reason, see :mod:`analytics.metrics.definitions`) is time
the manager could have spent closing deals. The figures:

* hours = non-target leads × minutes per lead / 60, h
* hourly cost = manager's monthly salary / monthly working hours, RUB/h
* cost = hours × hourly cost, RUB
* share of a manager's time = the manager's hours on non-target leads /
  working hours available in the period × 100%, where the hours available
  in a period of ``d`` days = monthly hours × d / 30.4375 (the average month,
  365.25 / 12 days)

The assumptions (minutes per lead, salary, monthly hours, loss reasons) live in
the ``non_target`` section of ``params/definitions.yaml``.
"""

from __future__ import annotations

import math

import pandas as pd

from analytics.metrics.definitions import DEFAULT_DEFINITIONS, Definitions, lead_flags
from analytics.metrics.period import Period
from analytics.transforms.backends import ibis_backend
from analytics.transforms.non_target_deals import MANAGER_COUNT_COLUMNS, non_target_by_manager

DAYS_PER_MONTH = 365.25 / 12
"""Average month length, days (to scale monthly hours to a period)."""


def non_target_hours(non_target_leads: float, minutes_per_lead: float) -> float:
    """Sales time spent on non-target leads = leads × minutes per lead / 60, h."""
    return non_target_leads * minutes_per_lead / 60.0


def non_target_cost(
    non_target_leads: float,
    minutes_per_lead: float,
    managers: int,
    monthly_salary: float,
    monthly_hours: float,
) -> dict[str, float]:
    """Monthly cost of non-target leads for a team sharing them evenly.

    Parameters
    ----------
    non_target_leads : float
        Non-target leads a month.
    minutes_per_lead : float
        Time to call and disqualify one, minutes.
    managers : int
        Sales managers sharing the leads evenly.
    monthly_salary : float
        Salary of one manager a month, RUB.
    monthly_hours : float
        Working hours of one manager a month, h.

    Returns
    -------
    dict
        * ``hours`` = leads × minutes / 60, h a month
        * ``hours_per_manager`` = hours / managers, h
        * ``share_of_time_pct`` = hours per manager / monthly hours × 100%
        * ``hourly_cost`` = monthly salary / monthly hours, RUB/h
        * ``cost`` = hours × hourly cost, RUB a month
    """
    if managers < 1:
        raise ValueError(f"managers must be >= 1, got {managers}")
    hours = non_target_hours(non_target_leads, minutes_per_lead)
    hourly = monthly_salary / monthly_hours
    return {
        "hours": hours,
        "hours_per_manager": hours / managers,
        "share_of_time_pct": hours / managers / monthly_hours * 100.0,
        "hourly_cost": hourly,
        "cost": hours * hourly,
    }


def non_target_leads(con, period: Period, definitions: Definitions | None = None) -> pd.DataFrame:
    """Non-target leads of the period by channel, with the sales time and money they cost.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Leads created in the period (the cohort of :mod:`analytics.metrics.funnel`).
    definitions : Definitions, optional
        Loss reasons and sales-time assumptions (``non_target``); default
        :data:`analytics.metrics.definitions.DEFAULT_DEFINITIONS` («Нецелевой»).

    Returns
    -------
    pandas.DataFrame
        One row per lead channel (channel of the lead's visit, ``undetermined``
        without one), sorted by non-target leads (desc) then channel:
        ``channel``, ``leads``, ``non_target`` (leads with a deal lost for a
        non-target reason), ``non_target_share_pct`` = non-target / leads ×
        100%, ``hours`` = non-target × minutes per lead / 60 and ``cost`` =
        hours × monthly salary / monthly hours (RUB).
    """
    definitions = definitions or DEFAULT_DEFINITIONS
    nt = definitions.non_target
    flags = lead_flags(con, period, definitions)
    out = (
        flags.groupby("channel")
        .agg(leads=("lead_id", "size"), non_target=("is_non_target", "sum"))
        .reset_index()
    )
    out["non_target"] = out["non_target"].astype("int64")
    out["non_target_share_pct"] = out["non_target"] * 100.0 / out["leads"]
    out["hours"] = non_target_hours(out["non_target"], nt.minutes_per_lead)
    out["cost"] = out["hours"] * nt.hourly_cost
    return out.sort_values(["non_target", "channel"], ascending=[False, True], ignore_index=True)


def manager_time(con, period: Period, definitions: Definitions | None = None) -> pd.DataFrame:
    """Share of each sales manager's time spent on the period's non-target leads.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or ibis.BaseBackend
        Warehouse with the canonical tables, or an Ibis backend holding them (the
        counts are :func:`analytics.transforms.non_target_deals.non_target_by_manager`).
    period : Period
        Leads created in the period.
    definitions : Definitions, optional
        Loss reasons and sales-time assumptions.

    Returns
    -------
    pandas.DataFrame
        One row per manager of a non-target deal (``(no manager)`` if empty),
        sorted by non-target leads (desc): ``manager``, ``non_target``,
        ``hours`` = non-target × minutes per lead / 60, ``available_hours`` =
        monthly hours × period days / 30.4375, ``share_of_time_pct`` = hours /
        available hours × 100% and ``cost`` = hours × hourly cost (RUB).
    """
    definitions = definitions or DEFAULT_DEFINITIONS
    nt = definitions.non_target
    with ibis_backend(con) as backend:
        expr = non_target_by_manager(backend, period.start, period.end_exclusive, definitions)
        out = backend.execute(expr)
    out = out[list(MANAGER_COUNT_COLUMNS)]
    out["manager"] = out["manager"].astype(str)
    out["non_target"] = out["non_target"].astype("int64")
    out["hours"] = non_target_hours(out["non_target"], nt.minutes_per_lead)
    available = nt.manager_monthly_hours * period.days / DAYS_PER_MONTH
    out["available_hours"] = available
    out["share_of_time_pct"] = out["hours"] * 100.0 / available if available else math.nan
    out["cost"] = out["hours"] * nt.hourly_cost
    return out.sort_values(["non_target", "manager"], ascending=[False, True], ignore_index=True)
