"""The A/B test visit split: visits, MQL and sales by ISO week of the visit and arm.

The counts of :func:`analytics.metrics.abtest.arm_counts` (which runs this
expression and adds the week label and the conversion), portable across backends.

* a *test visit* is a visit of the tested ``utm_campaign`` / ``utm_term``
  (each optional) with an arm: its ``utm_content`` (creative) or ``utm_term``
  (audience) not NULL;
* a lead created in ``[start, stop + window_days)`` with a visitor id that is an MQL
  or won (the flags of :func:`~analytics.transforms.lead_facts.lead_flag_table`)
  is attributed to the **last** test visit of the same visitor that started at
  most ``window_days`` days before the lead was created (``created_at − window ≤
  visit_start ≤ created_at``; of visits starting at the same time, the one with
  the greatest ``visit_id``) -- the rule of ``pandas.merge_asof`` backward with
  that tolerance, which the metrics module used before;
* a row is an ISO week and arm with test visits started in ``[start, stop)``:
  ``visits`` counts them, ``mql`` and ``sales`` the attributed leads whose
  visit is one of them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from analytics.transforms.lead_facts import lead_flag_table
from analytics.transforms.time_keys import day_start, week_start

ARM_VISIT_COLUMNS = {"creative": "utm_content", "audience": "utm_term"}
"""Arm kinds and the ``visits`` column that holds the arm."""

ARM_WEEK_COLUMNS = ("week_start", "arm", "visits", "mql", "sales")
"""Columns of :func:`arm_week_counts`, in order."""


def arm_week_counts(
    con,
    start: date,
    stop: date,
    arm: str,
    window_days: int,
    definitions: Any,
    campaign: str | None = None,
    ad_group: str | None = None,
) -> ir.Table:
    """Test visits of ``[start, stop)`` and the MQL and sales attributed to them.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive) of the test visits.
    arm : {"creative", "audience"}
        The arm is the visit's ``utm_content`` or ``utm_term``.
    window_days : int
        Attribution window, days (see the module docstring).
    definitions : analytics.metrics.definitions.Definitions
        MQL definitions.
    campaign, ad_group : str, optional
        ``utm_campaign`` and ``utm_term`` of the test (None = any).

    Returns
    -------
    ibis.Table
        :data:`ARM_WEEK_COLUMNS`: ``week_start`` (the Monday of the visit, a
        date), ``arm``, ``visits``, ``mql`` and ``sales`` (int64); one row per
        week and arm with test visits. Unordered.
    """
    if arm not in ARM_VISIT_COLUMNS:
        raise ValueError(f"arm must be one of {', '.join(ARM_VISIT_COLUMNS)}, got {arm!r}")
    window = timedelta(days=window_days)
    visits = con.table("visits")
    column = visits[ARM_VISIT_COLUMNS[arm]]
    test = [
        visits.visit_start >= day_start(start - window),
        visits.visit_start < day_start(stop + window),
        column.notnull(),
    ]
    if campaign is not None:
        test.append(visits.utm_campaign == campaign)
    if ad_group is not None:
        test.append(visits.utm_term == ad_group)
    visits = visits.filter(*test).select("visit_id", "visitor_id", "visit_start", arm=column)
    in_days = (visits.visit_start >= day_start(start)) & (visits.visit_start < day_start(stop))

    leads = lead_flag_table(con, start, stop + window, definitions)
    leads = leads.filter(leads.visitor_id.notnull(), leads.is_mql | leads.is_won)
    leads = leads.select("lead_id", "created_at", "is_mql", "is_won", l_visitor_id=leads.visitor_id)
    pair = leads.inner_join(
        visits,
        [
            leads.l_visitor_id == visits.visitor_id,
            visits.visit_start <= leads.created_at,
            visits.visit_start >= leads.created_at - ibis.interval(days=window_days),
        ],
    )
    latest = ibis.row_number().over(
        group_by=pair.lead_id, order_by=[pair.visit_start.desc(), pair.visit_id.desc()]
    )
    pair = pair.mutate(rank=latest)
    pair = pair.filter(pair.rank == 0, pair.visit_start >= day_start(start))
    pair = pair.filter(pair.visit_start < day_start(stop))
    lead_side = pair.group_by(a_week=week_start(pair.visit_start), a_arm=pair.arm).agg(
        a_mql=pair.count(where=pair.is_mql), a_sales=pair.count(where=pair.is_won)
    )
    seen = visits.filter(in_days)
    visit_side = seen.group_by(week_start=week_start(seen.visit_start), arm=seen.arm).agg(
        visits=seen.count()
    )
    out = visit_side.left_join(
        lead_side, [visit_side.week_start == lead_side.a_week, visit_side.arm == lead_side.a_arm]
    )
    return out.select(
        "week_start",
        "arm",
        visits=out.visits.cast("int64"),
        mql=out.a_mql.fill_null(0).cast("int64"),
        sales=out.a_sales.fill_null(0).cast("int64"),
    )
