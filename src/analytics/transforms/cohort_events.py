"""Weekly visitor cohorts: what the visitors first seen in a week did in each later week.

* A visitor's first visit is the earliest ``visits.visit_start`` of its
  ``visitor_id`` in the whole warehouse; ``cohort_week`` is the Monday of its
  ISO week. Only visitors first seen in ``[start, stop)`` are in a cohort.
* ``weeks_since_first_visit`` = (Monday of the event's week - cohort_week) / 7;
  0 is the cohort's own week.
* ``visitors`` -- distinct visitors of the cohort with a visit in that week
  (at age 0 this is the cohort size);
  ``leads`` -- leads created that week whose stitched visitor
  (:func:`analytics.transforms.stitching.stitched_leads`; :func:`cohort_stage_events`
  reads the same visitor from :func:`~analytics.transforms.stitching.stitched_visitors`,
  which looks up only the visits of the leads without an own visitor) is in the cohort.
* Events on or after ``stop`` are not counted.

:func:`first_visit_cohorts`, :func:`cohort_visitors` and
:func:`cohort_stage_events` add the first channel, month cohorts and the later
funnel stages (MQL, SQL, sales, revenue) that :mod:`analytics.metrics.cohorts` reads.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from analytics.transforms.funnel_facts import MQL_RANK, SQL_RANK, WON_RANK, deal_facts, stage_rank
from analytics.transforms.stitching import stitched_leads, stitched_visitors
from analytics.transforms.time_keys import day_start, week_start


def first_visits(con) -> ir.Table:
    """One row per visitor: ``visitor_id``, ``first_visit`` and ``cohort_week`` (Monday)."""
    visits = con.table("visits")
    first = visits.group_by("visitor_id").agg(first_visit=visits.visit_start.min())
    return first.mutate(cohort_week=week_start(first.first_visit))


def weekly_cohorts(con, start: date, stop: date) -> ir.Table:
    """Visitors and leads by cohort week and weeks since the first visit.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        Cohorts of visitors first seen in ``[start, stop)``; events before ``stop``.

    Returns
    -------
    ibis.Table
        One row per (``cohort_week``, ``weeks_since_first_visit``) with an
        event, ordered by both: ``visitors`` and ``leads`` (int64).
    """
    stop_at = day_start(stop)
    first = first_visits(con)
    first = first.filter(first.first_visit >= day_start(start), first.first_visit < stop_at)
    first = first.select(cohort_visitor_id=first.visitor_id, cohort_week=first.cohort_week)

    visits = con.table("visits")
    visits = visits.filter(visits.visit_start < stop_at)
    visit_events = visits.select(
        key_visitor_id=visits.visitor_id,
        visitor_id=visits.visitor_id,
        lead_id=ibis.null("string"),
        week=week_start(visits.visit_start),
    )
    lead = stitched_leads(con)
    lead = lead.filter(lead.visitor_id.notnull(), lead.created_at < stop_at)
    lead_events = lead.select(
        key_visitor_id=lead.visitor_id,
        visitor_id=ibis.null("string"),
        lead_id=lead.lead_id,
        week=week_start(lead.created_at),
    )
    events = ibis.union(visit_events, lead_events, distinct=False)
    aged = events.inner_join(first, events.key_visitor_id == first.cohort_visitor_id)
    age = aged.week.delta(aged.cohort_week, unit="day") // 7
    counts = aged.group_by(
        cohort_week=aged.cohort_week, weeks_since_first_visit=age.cast("int64")
    ).agg(
        visitors=aged.visitor_id.nunique().cast("int64"),
        leads=aged.lead_id.nunique().cast("int64"),
    )
    return counts.order_by("cohort_week", "weeks_since_first_visit")


GRAINS = ("week", "month")
"""Cohort units of :func:`cohort_visitors` and :func:`cohort_stage_events`."""

COHORT_EVENT_COLUMNS = ("leads", "mql", "sql_leads", "sales", "revenue")
"""Event columns of :func:`cohort_stage_events`: counts (int64), then revenue (RUB)."""


def _check_grain(grain: str) -> str:
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {', '.join(GRAINS)}, got {grain!r}")
    return grain


def cohort_start(moment: ir.TimestampValue, grain: str) -> ir.DateValue:
    """Monday of the ISO week (``grain="week"``) or first day of the month of ``moment``."""
    if _check_grain(grain) == "week":
        return week_start(moment)
    return moment.truncate("M").date()


def cohort_age(moment: ir.TimestampValue, cohort: ir.DateValue, grain: str) -> ir.IntegerValue:
    """Age of an event at ``moment`` in a cohort starting on ``cohort``: weeks or months.

    Weeks: (Monday of the event's week - cohort) / 7. Months: (year x 12 + month)
    of the event minus that of the cohort. 0 is the cohort's own week or month.
    """
    if _check_grain(grain) == "week":
        return (week_start(moment).delta(cohort, unit="day") // 7).cast("int64")
    months = (moment.year() - cohort.year()) * 12 + moment.month() - cohort.month()
    return months.cast("int64")


def first_visit_rows(con, start: date, stop: date) -> ir.Table:
    """Visitors first seen in ``[start, stop)``: ``visitor_id``, ``first_visit`` (timestamp)
    and ``first_channel`` (see :func:`first_visit_cohorts`, which adds the cohort).

    A visitor's row does not depend on the days asked: the rows of a shorter window
    are those of a longer one whose ``first_visit`` falls in it (``picked`` of
    :func:`first_visit_cohorts`).
    """
    visits = con.table("visits")
    first = visits.group_by(f_visitor_id=visits.visitor_id).agg(f_first=visits.visit_start.min())
    first = first.filter(first.f_first >= day_start(start), first.f_first < day_start(stop))
    tied = visits.inner_join(
        first,
        [visits.visitor_id == first.f_visitor_id, visits.visit_start == first.f_first],
    )
    return tied.group_by(visitor_id=tied.visitor_id).agg(
        first_visit=tied.f_first.min(),
        first_channel=tied.channel.argmin(tied.visit_id),
    )


def first_visit_cohorts(
    con, start: date, stop: date, grain: str = "week", picked: ir.Table | None = None
) -> ir.Table:
    """Visitors first seen in ``[start, stop)``: ``visitor_id``, ``cohort`` and ``first_channel``.

    The first visit is the earliest ``visit_start`` of the visitor (ties broken by
    ``visit_id``); ``first_channel`` is its channel and ``cohort`` (a date) the
    start of its week or month (:func:`cohort_start`).

    Computed with aggregates rather than a window over every visit (a window
    sorts all visits by visitor, the costliest step of the cohort pages at 10M
    visits): ``min(visit_start)`` per visitor, kept when it falls in the
    period, then among that visitor's visits starting at that moment the
    channel of the smallest ``visit_id`` (``arg_min``). The same rows as
    ``row_number() OVER (PARTITION BY visitor_id ORDER BY visit_start,
    visit_id) = 0``, since ``visit_id`` is the table's key.

    ``picked``: :func:`first_visit_rows` of days holding ``[start, stop)``, when
    several windows share it (the first visits of a year hold those of its weeks):
    its rows whose first visit falls in ``[start, stop)`` are taken instead of
    finding the first visits again.
    """
    grain = _check_grain(grain)
    if picked is None:
        picked = first_visit_rows(con, start, stop)
    else:
        picked = picked.filter(
            picked.first_visit >= day_start(start), picked.first_visit < day_start(stop)
        )
    return picked.select(
        visitor_id=picked.visitor_id,
        cohort=cohort_start(picked.first_visit, grain),
        first_channel=picked.first_channel,
    )


def cohort_visitors(
    con, start: date, stop: date, grain: str = "week", picked: ir.Table | None = None
) -> ir.Table:
    """Cohort sizes: ``cohort``, ``first_channel`` and ``visitors`` (int64), ordered by both
    (``picked``: see :func:`first_visit_cohorts`)."""
    first = first_visit_cohorts(con, start, stop, grain, picked)
    sizes = first.group_by("cohort", "first_channel").agg(visitors=first.count().cast("int64"))
    return sizes.order_by("cohort", "first_channel")


def _deal_stage_times(con) -> ir.Table:
    """Deals with a lead: ``deal_id``, ``lead_id``, ``amount``, ``reached`` and the
    times the deal reached mql, sql and won (``mql_at``, ``sql_at``, ``won_at``)."""
    history = con.table("deal_stages")
    ranked = history.mutate(rank=stage_rank(history.stage))
    entered = ranked.group_by(entered_deal_id=ranked.deal_id).agg(
        mql_entered=ranked.entered_at.min(where=ranked.rank >= MQL_RANK),
        sql_entered=ranked.entered_at.min(where=ranked.rank >= SQL_RANK),
        won_entered=ranked.entered_at.min(where=ranked.rank >= WON_RANK),
    )
    deals = con.table("deals")
    dates = deals.group_by(dates_deal_id=deals.deal_id).agg(
        created_at=deals.created_at.arbitrary(), closed_at=deals.closed_at.arbitrary()
    )
    facts = deal_facts(con)
    joined = facts.left_join(dates, facts.deal_id == dates.dates_deal_id)
    joined = joined.left_join(entered, joined.deal_id == entered.entered_deal_id)
    return joined.select(
        deal_id=joined.deal_id,
        lead_id=joined.lead_id,
        amount=joined.amount,
        reached=joined.reached,
        mql_at=ibis.coalesce(joined.mql_entered, joined.created_at),
        sql_at=ibis.coalesce(joined.sql_entered, joined.created_at),
        won_at=ibis.coalesce(joined.won_entered, joined.closed_at, joined.created_at),
    )


def cohort_stage_events(
    con,
    start: date,
    stop: date,
    as_of_stop: date,
    grain: str = "week",
    picked: ir.Table | None = None,
) -> ir.Table:
    """Funnel events of the cohorts of ``[start, stop)`` by first channel and age.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        Cohorts of visitors first seen in ``[start, stop)``.
    as_of_stop : datetime.date
        Events on or after this day are not counted.
    grain : {"week", "month"}, default "week"
        Cohort and age unit (:func:`cohort_age`).
    picked : ibis.Table, optional
        First visits of days holding ``[start, stop)`` (:func:`first_visit_cohorts`).

    Returns
    -------
    ibis.Table
        One row per (``cohort``, ``first_channel``, ``age``) with an event:
        ``leads`` (leads created, by stitched visitor), ``mql``, ``sql_leads``,
        ``sales`` (deals of those leads reaching mql, sql, won, dated by the
        first entry into that stage or a later one, else ``closed_at`` for a
        sale, else ``deals.created_at``) and ``revenue`` (amount of the sales,
        RUB), ordered by the keys.
    """
    grain = _check_grain(grain)
    lead = stitched_visitors(con).select("lead_id", "visitor_id", "created_at")
    deal = _deal_stage_times(con)
    deal = deal.join(lead, deal.lead_id == lead.lead_id).select(
        "visitor_id", "reached", "amount", "mql_at", "sql_at", "won_at"
    )
    zero, none = ibis.literal(0, type="int64"), ibis.literal(0.0, type="float64")
    one = ibis.literal(1, type="int64")

    def events(table, at, leads=zero, mql=zero, sql_leads=zero, sales=zero, revenue=none):
        return table.select(
            event_visitor_id=table.visitor_id,
            at=at,
            leads=leads,
            mql=mql,
            sql_leads=sql_leads,
            sales=sales,
            revenue=revenue.cast("float64"),
        )

    mql = deal.filter(deal.reached >= MQL_RANK)
    sql_lead = deal.filter(deal.reached >= SQL_RANK)
    won = deal.filter(deal.reached >= WON_RANK)
    all_events = ibis.union(
        events(lead, lead.created_at, leads=one),
        events(mql, mql.mql_at, mql=one),
        events(sql_lead, sql_lead.sql_at, sql_leads=one),
        events(won, won.won_at, sales=one, revenue=won.amount),
        distinct=False,
    )
    all_events = all_events.filter(all_events.at < day_start(as_of_stop))
    first = first_visit_cohorts(con, start, stop, grain, picked)
    aged = all_events.join(first, all_events.event_visitor_id == first.visitor_id)
    counts = aged.group_by(
        cohort=aged.cohort,
        first_channel=aged.first_channel,
        age=cohort_age(aged.at, aged.cohort, grain),
    ).agg(
        leads=aged.leads.sum().cast("int64"),
        mql=aged.mql.sum().cast("int64"),
        sql_leads=aged.sql_leads.sum().cast("int64"),
        sales=aged.sales.sum().cast("int64"),
        revenue=aged.revenue.sum().cast("float64"),
    )
    return counts.order_by("cohort", "first_channel", "age")
