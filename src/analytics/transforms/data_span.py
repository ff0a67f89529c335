"""The days a warehouse holds data for: what "today" and "all" mean for a report.

:func:`analytics.metrics.period.data_anchor` and
:func:`analytics.metrics.period.data_bounds` run these expressions (on DuckDB,
or on any backend holding the canonical tables, such as PySpark).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def last_visit_day(con) -> ir.DateScalar:
    """Day of the latest ``visits.visit_start`` (NULL without visits)."""
    return con.table("visits").visit_start.max().date()


def data_days(con) -> ir.Table:
    """Every day with a visit, a lead or spend, one row per record: column ``day`` (date).

    ``visits.visit_start``, ``leads.created_at`` and ``spend.date`` as dates
    (``min``/``max`` of it give :func:`analytics.metrics.period.data_bounds`).
    """
    visits, leads, spend = (con.table(name) for name in ("visits", "leads", "spend"))
    return ibis.union(
        visits.select(day=visits.visit_start.date()),
        leads.select(day=leads.created_at.date()),
        spend.select(day=spend.date.cast("date")),
        distinct=False,
    )


def data_span(con, with_anchor: bool = False) -> ir.Table:
    """One row: ``first_day`` and ``last_day`` of :func:`data_days` (NULL without data).

    With ``with_anchor`` also ``last_visit_day`` (:func:`last_visit_day`), so
    a caller needing both gets them with one query.
    """
    days = data_days(con)
    span = days.aggregate(first_day=days.day.min(), last_day=days.day.max())
    if not with_anchor:
        return span
    visits = con.table("visits")
    anchor = visits.aggregate(last_visit_day=visits.visit_start.max().date())
    return span.cross_join(anchor)


def first_record_day(con) -> ir.DateScalar:
    """Earliest day with a visit, a lead or a deal (``deals.created_at``); NULL without any.

    The start of the CRM and web history: :func:`analytics.metrics.kpi.revenue_vs_target`
    trusts last year's revenue only when it starts on or before 1 January.
    """
    visits, leads, deals = (con.table(name) for name in ("visits", "leads", "deals"))
    days = ibis.union(
        visits.select(day=visits.visit_start.date()),
        leads.select(day=leads.created_at.date()),
        deals.select(day=deals.created_at.date()),
        distinct=False,
    )
    return days.day.min()
