"""Funnel counts of a lead cohort by channel, source or campaign, with the MQL rules in force.

The figures of :func:`analytics.metrics.kpi.conversion_by` (which runs this
expression and adds the ratios), portable across backends:

* the lead side counts the leads created in ``[start, stop)`` by the flags of
  :func:`~analytics.transforms.lead_facts.lead_flag_table` (so MQL and SQL
  follow ``params/definitions.yaml``, both methods): ``leads``, ``mql``,
  ``sql_leads``, ``sales`` (leads with a won deal), ``revenue`` (RUB, their
  won deals' amount) and ``non_target``; a lead's group is the ``channel``,
  ``utm_source`` or ``utm_campaign`` of its visit (``undetermined`` without
  one);
* ``visits`` counts the visits started in the days by their own ``channel``,
  ``utm_source`` or ``utm_campaign``; ``spend`` sums ``spend.cost`` dated in
  the days by ``spend.channel``, ``spend.utm_source`` or ``spend.campaign``;
  a missing value is ``undetermined``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from analytics.transforms.funnel_facts import count, join_sides, money
from analytics.transforms.lead_facts import lead_flag_table
from analytics.transforms.stitching import UNDETERMINED
from analytics.transforms.time_keys import Windows, tagged

CONVERSION_GROUPS: dict[str, tuple[str, str, str]] = {
    # by: (lead flag column, visits column, spend column)
    "channel": ("channel", "channel", "channel"),
    "source": ("source", "utm_source", "utm_source"),
    "campaign": ("campaign", "utm_campaign", "campaign"),
}
"""Values of ``by`` in :func:`conversion_counts` and the column each table is grouped by."""

CONVERSION_COUNT_COLUMNS = (
    "grp",
    "spend",
    "visits",
    "leads",
    "mql",
    "sql_leads",
    "sales",
    "revenue",
    "non_target",
)
"""Columns of :func:`conversion_counts`, in order."""


def conversion_counts(con, start: date, stop: date, by: str, definitions: Any) -> ir.Table:
    """Spend, visits and the lead cohort's counts of ``[start, stop)`` by one grouping.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive).
    by : {"channel", "source", "campaign"}
        Grouping (see the module docstring).
    definitions : analytics.metrics.definitions.Definitions
        MQL/SQL definitions (see :func:`~analytics.transforms.lead_facts.lead_flag_table`).

    Returns
    -------
    ibis.Table
        :data:`CONVERSION_COUNT_COLUMNS`, one row per group seen in the spend,
        visits or leads of the days, ordered by ``grp``: ``spend`` and
        ``revenue`` (RUB, float), the counts (int64); zero where a group has
        nothing on a side.
    """
    return conversion_counts_by_window(con, [(start, stop)], by, definitions).drop("window")


def conversion_counts_by_window(con, windows: Windows, by: str, definitions: Any) -> ir.Table:
    """:func:`conversion_counts` of several windows of days in one query.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    windows : sequence of (start, stop)
        Days ``[start, stop)`` (dates), e.g. a period, the previous one and the
        same period a year earlier; a record counts in the first window holding it.
    by : {"channel", "source", "campaign"}
        Grouping within each window (see the module docstring).
    definitions : analytics.metrics.definitions.Definitions
        MQL/SQL definitions (see :func:`~analytics.transforms.lead_facts.lead_flag_table`).

    Returns
    -------
    ibis.Table
        ``window`` (index in ``windows``), then :data:`CONVERSION_COUNT_COLUMNS`;
        the rows of window ``i`` are ``conversion_counts(con, *windows[i], by,
        definitions)``'s. Ordered by ``window``, ``grp``.
    """
    if by not in CONVERSION_GROUPS:
        raise ValueError(f"by must be one of {', '.join(CONVERSION_GROUPS)}, got {by!r}")
    lead_col, visit_col, spend_col = CONVERSION_GROUPS[by]
    undetermined = ibis.literal(UNDETERMINED)
    keys = ["window", "grp"]

    first, *more = windows
    flags = lead_flag_table(con, *first, definitions, more=more)
    flags = tagged(flags, flags.created_at, windows)
    lead_side = flags.group_by(window=flags.window, grp=flags[lead_col]).agg(
        leads=flags.count(),
        mql=flags.count(where=flags.is_mql),
        sql_leads=flags.count(where=flags.is_sql),
        sales=flags.count(where=flags.is_won),
        revenue=flags.revenue.sum(),
        non_target=flags.count(where=flags.is_non_target),
    )
    visits = con.table("visits")
    visits = tagged(visits, visits.visit_start, windows)
    visit_side = visits.group_by(
        window=visits.window, grp=ibis.coalesce(visits[visit_col], undetermined)
    ).agg(visits=visits.count())
    spend = con.table("spend")
    spend = tagged(spend, spend.date, windows, days=True)
    spend_side = spend.group_by(
        window=spend.window, grp=ibis.coalesce(spend[spend_col], undetermined)
    ).agg(spend=spend.cost.sum())

    out = join_sides(spend_side, visit_side, lead_side, keys=keys)
    return out.select(
        window=out.window,
        grp=out.grp,
        spend=money(out, "spend"),
        visits=count(out, "visits"),
        leads=count(out, "leads"),
        mql=count(out, "mql"),
        sql_leads=count(out, "sql_leads"),
        sales=count(out, "sales"),
        revenue=money(out, "revenue"),
        non_target=count(out, "non_target"),
    ).order_by(keys)
