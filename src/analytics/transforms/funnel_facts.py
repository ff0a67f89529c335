"""Funnel facts: how far each deal got, and the funnel counts of a lead cohort.

Conventions (the same as :mod:`analytics.metrics.funnel`, which reads these counts):

* a deal *reached* a stage if its history (``deal_stages``) or its current
  stage (``deals.stage``) is that stage or a later one in
  :data:`STAGE_ORDER`; ``lost`` ranks nowhere;
* a period's cohort is the leads created in ``[start, stop)``; ``mql``,
  ``sql_leads`` and ``sales`` count the deals of those leads that reached
  ``mql``, ``sql`` and ``won``; ``revenue`` sums ``deals.amount`` of those won
  deals, RUB; a deal without a lead is outside every cohort;
* ``visits``/``visitors`` are counted by ``visits.visit_start`` and ``spend``
  by ``spend.date`` in the same days;
* a lead's channel is stitched (:func:`analytics.transforms.stitching.stitched_leads`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir

from analytics.transforms.stitching import lead_rows, stitched_leads
from analytics.transforms.time_keys import Windows, day_start, tagged, week_start

STAGE_ORDER = ("new", "mql", "sql", "demo", "proposal", "won")
"""Stages in funnel order; a deal that reached one reached all before it."""

MQL_RANK, SQL_RANK, WON_RANK = (STAGE_ORDER.index(s) for s in ("mql", "sql", "won"))

GROUPINGS = ("total", "channel", "week")
"""Values of ``by`` in :func:`funnel_counts`."""

COUNT_COLUMNS = (
    "visits",
    "visitors",
    "leads",
    "leads_form",
    "leads_call",
    "leads_chat",
    "mql",
    "sql_leads",
    "sales",
)
"""Count columns (int64) of :func:`funnel_counts`, in order."""

FUNNEL_COUNT_COLUMNS = ("spend", *COUNT_COLUMNS, "revenue")
"""Columns of :func:`funnel_counts` after ``grp``, in order: the counts between
``spend`` and ``revenue`` (RUB)."""


def stage_rank(stage: ir.StringValue) -> ir.IntegerValue:
    """Position of a stage in :data:`STAGE_ORDER` (0 = new); NULL for ``lost`` or unknown."""
    return stage.cases(*((name, rank) for rank, name in enumerate(STAGE_ORDER)), else_=None)


def deal_facts(con) -> ir.Table:
    """One row per deal with a lead: ``deal_id``, ``lead_id``, ``amount`` (RUB, 0 if
    empty) and ``reached`` (highest rank of :data:`STAGE_ORDER` in its history or
    current stage; -1 if none, e.g. a deal created straight as lost).
    """
    deals = con.table("deals")
    history = con.table("deal_stages")
    stages = ibis.union(
        history.select("deal_id", "stage"), deals.select("deal_id", "stage"), distinct=False
    )
    reach = stages.group_by("deal_id").agg(reached=stage_rank(stages.stage).max())
    deal = (
        deals.filter(deals.lead_id.notnull())
        .group_by("deal_id")
        .agg(lead_id=deals.lead_id.arbitrary(), amount=deals.amount.arbitrary())
    )
    joined = deal.left_join(reach, deal.deal_id == reach.deal_id)
    return joined.select(
        deal_id=joined.deal_id,
        lead_id=joined.lead_id,
        amount=joined.amount.fill_null(0.0),
        reached=joined.reached.fill_null(-1),
    )


def _group_key(by: str, channel: ir.StringValue, moment) -> ir.Value:
    if by == "total":
        return ibis.literal("total")
    if by == "channel":
        return channel
    if by == "week":
        return week_start(moment)
    raise ValueError(f"by must be one of {GROUPINGS}, got {by!r}")


def funnel_counts(con, start: date, stop: date, by: str = "total") -> ir.Table:
    """Funnel counts of the leads created in ``[start, stop)``, grouped.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive).
    by : {"total", "channel", "week"}
        Grouping: one row ``'total'``; the channel (of the lead, the visit and
        the spend row respectively); the Monday of the ISO week (a date).

    Returns
    -------
    ibis.Table
        One row per group seen in the spend, visits or leads of the days,
        ordered by ``grp``: ``grp``, ``spend`` (RUB, float), ``visits``,
        ``visitors`` (distinct within the group), ``leads``, ``leads_form``,
        ``leads_call``, ``leads_chat``, ``mql``, ``sql_leads``, ``sales``
        (int64) and ``revenue`` (RUB, float). Empty if nothing happened.
        :func:`funnel_counts_by_window` of the one window, without ``window``.
    """
    return funnel_counts_by_window(con, [(start, stop)], by).drop("window")


def funnel_counts_by_window(con, windows: Windows, by: str = "total") -> ir.Table:
    """:func:`funnel_counts` of several windows of days in one query.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    windows : sequence of (start, stop)
        Days ``[start, stop)`` (dates), e.g. a period, the previous one and the
        same period a year earlier; a record counts in the first window holding it.
    by : {"total", "channel", "week"}
        Grouping within each window (see :func:`funnel_counts`).

    Returns
    -------
    ibis.Table
        ``window`` (index in ``windows``), then the columns of
        :func:`funnel_counts`; the rows of window ``i`` are
        ``funnel_counts(con, *windows[i], by)``'s. Ordered by ``window``, ``grp``.
    """
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {GROUPINGS}, got {by!r}")
    keys = ["window", "grp"]

    # the channel only when grouped by it: a lead's channel is a look-up in every visit
    lead = stitched_leads(con) if by == "channel" else lead_rows(con)
    lead = tagged(lead, lead.created_at, windows)
    deal = deal_facts(con).rename(deal_lead_id="lead_id")
    cohort = lead.left_join(deal, lead.lead_id == deal.deal_lead_id)
    mql, sql_lead, won = (cohort.reached >= r for r in (MQL_RANK, SQL_RANK, WON_RANK))
    channel = cohort.channel if by == "channel" else None
    lead_side = cohort.group_by(
        window=cohort.window, grp=_group_key(by, channel, cohort.created_at)
    ).agg(
        leads=cohort.lead_id.nunique(),
        leads_form=cohort.lead_id.nunique(where=cohort.lead_type == "form"),
        leads_call=cohort.lead_id.nunique(where=cohort.lead_type == "call"),
        leads_chat=cohort.lead_id.nunique(where=cohort.lead_type == "chat"),
        mql=cohort.deal_id.nunique(where=mql),
        sql_leads=cohort.deal_id.nunique(where=sql_lead),
        sales=cohort.deal_id.nunique(where=won),
        revenue=cohort.amount.sum(where=won),
    )

    visits = con.table("visits")
    visits = tagged(visits, visits.visit_start, windows)
    visit_side = visits.group_by(
        window=visits.window, grp=_group_key(by, visits.channel, visits.visit_start)
    ).agg(visits=visits.count(), visitors=visits.visitor_id.nunique())

    spend = con.table("spend")
    spend = tagged(spend, spend.date, windows, days=True)
    spend_side = spend.group_by(
        window=spend.window, grp=_group_key(by, spend.channel, spend.date)
    ).agg(spend=spend.cost.sum())

    out = join_sides(lead_side, visit_side, spend_side, keys=keys)
    return out.select(
        window=out.window,
        grp=out.grp,
        spend=money(out, "spend"),
        **{name: count(out, name) for name in COUNT_COLUMNS},
        revenue=money(out, "revenue"),
    ).order_by(keys)


def channel_spend(con, start: date, stop: date) -> ir.Table:
    """Spend by channel in ``[start, stop)``, for every channel of :func:`funnel_counts`.

    The channels and ``spend`` of ``funnel_counts(con, start, stop, "channel")``
    without its other counts (the distinct visitors and the deals of every
    channel are what make that query expensive): one row per channel seen in
    the days' spend, visits or leads (the lead's stitched channel), ``grp``
    (the channel), ``leads`` (leads created in the days, int64) and ``spend``
    (RUB, float, 0.0 without spend). Ordered by ``grp``.
    """
    start_at, stop_at = day_start(start), day_start(stop)
    lead = stitched_leads(con)
    lead = lead.filter(lead.created_at >= start_at, lead.created_at < stop_at)
    lead_side = lead.group_by(grp=lead.channel).agg(leads=lead.lead_id.nunique())
    visits = con.table("visits")
    visits = visits.filter(visits.visit_start >= start_at, visits.visit_start < stop_at)
    visit_side = visits.select(grp=visits.channel).distinct()
    spend = con.table("spend")
    spend = spend.filter(spend.date >= ibis.literal(start), spend.date < ibis.literal(stop))
    spend_side = spend.group_by(grp=spend.channel).agg(spend=spend.cost.sum())
    out = join_sides(lead_side, visit_side, spend_side)
    return out.select(grp=out.grp, leads=count(out, "leads"), spend=money(out, "spend")).order_by(
        "grp"
    )


def join_sides(*sides: ir.Table, keys: Sequence[str] = ("grp",)) -> ir.Table:
    """One row per ``grp`` (or per combination of ``keys``) found in any side, each side's
    columns left-joined on it (missing where that side has no row for the group: see
    :func:`count`, :func:`money`). The keys must not be NULL (a NULL never joins)."""
    keys = list(keys)
    out = ibis.union(*(side.select(*keys) for side in sides), distinct=True)
    for side in sides:
        side = side.rename({f"side_{key}": key for key in keys})
        on = [out[key] == side[f"side_{key}"] for key in keys]
        out = out.left_join(side, on).drop(*(f"side_{key}" for key in keys))
    return out


def count(table: ir.Table, name: str) -> ir.IntegerValue:
    """A count column of :func:`join_sides` with 0 where its side had no row."""
    return table[name].fill_null(0).cast("int64")


def money(table: ir.Table, name: str) -> ir.FloatingValue:
    """A money column of :func:`join_sides` as float with 0.0 where its side had no row."""
    return table[name].cast("float64").fill_null(0.0)
