"""Weekly visitor cohorts: what the visitors first seen in a week did in each later week.

* A visitor's first visit is the earliest ``visits.visit_start`` of its
  ``visitor_id`` in the whole warehouse; ``cohort_week`` is the Monday of its
  ISO week. Only visitors first seen in ``[start, stop)`` are in a cohort.
* ``weeks_since_first_visit`` = (Monday of the event's week - cohort_week) / 7;
  0 is the cohort's own week.
* ``visitors`` -- distinct visitors of the cohort with a visit in that week
  (at age 0 this is the cohort size);
  ``leads`` -- leads created that week whose stitched visitor
  (:func:`analytics.transforms.stitching.stitched_leads`) is in the cohort.
* Events on or after ``stop`` are not counted.

:mod:`analytics.cohorts` builds the full cohort funnel (MQL, SQL, sales) in
DuckDB SQL; this is the portable core of it.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from analytics.transforms.stitching import stitched_leads
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
