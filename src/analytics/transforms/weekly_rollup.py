"""Weekly KPI rollup: the funnel of each ISO week with its unit economics.

Each week is a cohort of the leads created in it, as in
:func:`analytics.transforms.funnel_facts.funnel_counts` with ``by="week"``; ratios
are computed in the backend, NULL where the denominator is 0:

* ``cr_visit_lead`` = leads / visits x 100%, ``cr_lead_mql`` = mql / leads x 100%,
  ``cr_mql_sql`` = sql_leads / mql x 100%, ``cr_sql_sale`` = sales / sql_leads x 100%;
* ``cpl`` = spend / leads, ``cac`` = spend / sales,
  ``average_deal`` = revenue / sales (RUB);
* ``drr`` (ДРР) = spend / revenue x 100%, ``romi`` = (revenue - spend) / spend x 100%.
"""

from __future__ import annotations

from datetime import date

import ibis.expr.types as ir

from analytics.transforms.funnel_facts import FUNNEL_COUNT_COLUMNS, funnel_counts

KPI_RATIO_COLUMNS = (
    "cr_visit_lead",
    "cr_lead_mql",
    "cr_mql_sql",
    "cr_sql_sale",
    "cpl",
    "cac",
    "average_deal",
    "drr",
    "romi",
)
"""Ratio columns of :func:`weekly_kpi`, after the counts."""


def _per(numerator: ir.NumericValue, denominator: ir.NumericValue, scale: float = 1.0):
    """``numerator / denominator x scale`` as float64; NULL where the denominator is 0."""
    return numerator.cast("float64") * scale / denominator.cast("float64").nullif(0.0)


def weekly_kpi(con, start: date, stop: date) -> ir.Table:
    """KPIs per ISO week for the leads, visits and spend of ``[start, stop)``.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive). A week cut by either
        end counts only its days inside.

    Returns
    -------
    ibis.Table
        One row per week with any spend, visit or lead, ordered by
        ``week_start`` (Monday, date): the counts of
        :data:`analytics.transforms.funnel_facts.FUNNEL_COUNT_COLUMNS` and the ratios
        of :data:`KPI_RATIO_COLUMNS`.
    """
    w = funnel_counts(con, start, stop, by="week").rename(week_start="grp")
    return w.select(
        "week_start",
        *FUNNEL_COUNT_COLUMNS,
        cr_visit_lead=_per(w.leads, w.visits, 100.0),
        cr_lead_mql=_per(w.mql, w.leads, 100.0),
        cr_mql_sql=_per(w.sql_leads, w.mql, 100.0),
        cr_sql_sale=_per(w.sales, w.sql_leads, 100.0),
        cpl=_per(w.spend, w.leads),
        cac=_per(w.spend, w.sales),
        average_deal=_per(w.revenue, w.sales),
        drr=_per(w.spend, w.revenue, 100.0),
        romi=_per(w.revenue - w.spend, w.spend, 100.0),
    ).order_by("week_start")
