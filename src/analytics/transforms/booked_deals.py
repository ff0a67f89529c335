"""Closed deals and booked revenue: deals counted on the day they are won or lost.

The rules are those of :func:`analytics.metrics.kpi.closed_deals` and
:mod:`analytics.metrics.revenue` (which run these expressions and document the
figures); this module expresses them in Ibis so that they compute the same on
DuckDB, PySpark and the SQL engines.

Close rule (:func:`closed_deal_table`):

* a deal is *won* if its status or current stage is ``won``, else *lost* if
  its status or current stage is ``lost``; any other deal is open and left out;
* its close time is ``deals.closed_at`` or, when that is empty, the earliest
  time its history (``deal_stages``) entered the stage of its outcome;
* ``cycle_days`` = (close time − the lead's earliest ``created_at``) in whole
  seconds / 86 400, days (NULL for a deal without a known lead).

Booked figures (:func:`booked_counts`): ``sales`` = deals won in the days,
``revenue`` = Σ their ``amount`` (RUB, a missing amount counts 0), ``spend`` =
Σ ``spend.cost`` dated in the days (RUB); grouped in total, by the Monday of
the ISO week (of the close time and of the spend day) or by channel (a won
deal's channel is the stitched channel of its lead,
:func:`~analytics.transforms.stitching.stitched_leads`, ``undetermined``
without a lead or a tracked visit; spend follows ``spend.channel``).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir

from analytics.transforms.stitching import UNDETERMINED, stitched_leads
from analytics.transforms.time_keys import Windows, day_start, tagged, week_start, window_of

CLOSED_DEAL_COLUMNS = (
    "deal_id",
    "lead_id",
    "manager",
    "outcome",
    "closed_at",
    "loss_reason",
    "amount",
    "lead_created_at",
    "cycle_days",
)
"""Columns of :func:`closed_deal_table`, in order."""

BOOKED_GROUPINGS = ("total", "week", "channel")
"""Values of ``by`` in :func:`booked_counts`."""

BOOKED_COUNT_COLUMNS = ("grp", "sales", "revenue", "spend")
"""Columns of :func:`booked_counts`, in order."""

SECONDS_PER_DAY = 86_400.0


def closed_deal_table(
    con, start: date, stop: date, more: Sequence[tuple[date, date]] = ()
) -> ir.Table:
    """Deals won or lost with a close time in ``[start, stop)`` (see the module docstring).

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive) of the close time.
    more : sequence of (start, stop)
        Further windows of close time: a deal closed in any window is kept
        (one query for several periods, e.g. a period and its comparisons).

    Returns
    -------
    ibis.Table
        :data:`CLOSED_DEAL_COLUMNS`, ordered by ``closed_at`` then ``deal_id``:
        ``deal_id``, ``lead_id``, ``manager`` (as recorded, NULL if empty),
        ``outcome`` (``won``/``lost``), ``closed_at``, ``loss_reason``,
        ``amount`` (RUB), ``lead_created_at`` and ``cycle_days`` (days, float).
    """
    history = con.table("deal_stages")
    entered = history.group_by(h_deal_id=history.deal_id).agg(
        won_at=history.entered_at.min(where=history.stage == "won"),
        lost_at=history.entered_at.min(where=history.stage == "lost"),
    )
    leads = con.table("leads")
    lead = leads.group_by(l_lead_id=leads.lead_id).agg(lead_created_at=leads.created_at.min())
    deals = con.table("deals")
    deal = deals.group_by("deal_id").agg(
        lead_id=deals.lead_id.arbitrary(),
        manager=deals.manager.arbitrary(),
        status=deals.status.arbitrary(),
        stage=deals.stage.arbitrary(),
        recorded_closed_at=deals.closed_at.arbitrary(),
        loss_reason=deals.loss_reason.arbitrary(),
        amount=deals.amount.arbitrary(),
    )
    d = deal.left_join(entered, deal.deal_id == entered.h_deal_id)
    won = (d.status == "won") | (d.stage == "won")
    lost = (d.status == "lost") | (d.stage == "lost")
    closed = d.select(
        "deal_id",
        "lead_id",
        "manager",
        "loss_reason",
        "amount",
        # SQL CASE: a NULL condition is not true, so an unknown status falls through
        outcome=ibis.cases((won, "won"), (lost, "lost"), else_=None),
        closed_at=ibis.cases(
            (won, ibis.coalesce(d.recorded_closed_at, d.won_at)),
            else_=ibis.coalesce(d.recorded_closed_at, d.lost_at),
        ),
    )
    in_window = [
        (closed.closed_at >= day_start(a)) & (closed.closed_at < day_start(b))
        for a, b in [(start, stop), *more]
    ]
    closed = closed.filter(closed.outcome.notnull(), functools.reduce(operator.or_, in_window))
    out = closed.left_join(lead, closed.lead_id == lead.l_lead_id)
    # whole seconds crossed, as DuckDB's date_diff('second', ...), on every backend
    seconds = out.closed_at.epoch_seconds().floor() - out.lead_created_at.epoch_seconds().floor()
    return out.select(
        deal_id=out.deal_id,
        lead_id=out.lead_id,
        manager=out.manager,
        outcome=out.outcome.cast("string"),
        closed_at=out.closed_at,
        loss_reason=out.loss_reason,
        amount=out.amount,
        lead_created_at=out.lead_created_at,
        cycle_days=seconds.cast("float64") / SECONDS_PER_DAY,
    ).order_by(["closed_at", "deal_id"])


def booked_counts(con, start: date, stop: date, by: str = "total") -> ir.Table:
    """Deals won, their revenue and the spend booked in ``[start, stop)``, grouped.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive).
    by : {"total", "week", "channel"}
        Grouping: one row ``'total'``; the Monday of the ISO week (a date) of
        the close time and of the spend day; the channel (see the module
        docstring).

    Returns
    -------
    ibis.Table
        One row per group with a won deal or spend, ordered by ``grp``:
        ``grp``, ``sales`` (int64), ``revenue`` and ``spend`` (RUB, float);
        zeros where a group has only one side. Empty if nothing was won or spent.
    """
    return booked_counts_by_window(con, [(start, stop)], by).drop("window")


def booked_counts_by_window(con, windows: Windows, by: str = "total") -> ir.Table:
    """:func:`booked_counts` of several windows of days in one query.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    windows : sequence of (start, stop)
        Days ``[start, stop)`` (dates), e.g. a period, the previous one and the
        same period a year earlier; a record counts in the first window holding it.
    by : {"total", "week", "channel"}
        Grouping within each window (see :func:`booked_counts`).

    Returns
    -------
    ibis.Table
        ``window`` (index in ``windows``), then :data:`BOOKED_COUNT_COLUMNS`; the
        rows of window ``i`` are ``booked_counts(con, *windows[i], by)``'s.
        Ordered by ``window``, ``grp``.
    """
    if by not in BOOKED_GROUPINGS:
        raise ValueError(f"by must be one of {BOOKED_GROUPINGS}, got {by!r}")
    first, *more = windows
    won = closed_deal_table(con, *first, more=more)
    won = won.filter(won.outcome == "won")
    won = won.mutate(window=window_of(won.closed_at, windows))
    spend = con.table("spend")
    spend = tagged(spend, spend.date, windows, days=True)
    if by == "total":
        won_key, spend_key = ibis.literal("total"), ibis.literal("total")
    elif by == "week":
        won_key, spend_key = week_start(won.closed_at), week_start(spend.date)
    else:
        lead = stitched_leads(con).select(w_lead_id="lead_id", w_channel="channel")
        won = won.left_join(lead, won.lead_id == lead.w_lead_id)
        undetermined = ibis.literal(UNDETERMINED)
        won_key = ibis.coalesce(won.w_channel, undetermined)
        spend_key = ibis.coalesce(spend.channel, undetermined)
    won_side = won.group_by(window=won.window, grp=won_key).agg(
        w_sales=won.count(), w_revenue=won.amount.sum().fill_null(0.0)
    )
    spend_side = spend.group_by(window=spend.window, grp=spend_key).agg(s_spend=spend.cost.sum())
    keys = ["window", "grp"]
    groups = ibis.union(won_side.select(keys), spend_side.select(keys), distinct=True)
    out = groups
    for side in (won_side, spend_side):
        side = side.rename(side_window="window", side_grp="grp")
        out = out.left_join(
            side, (out.window == side.side_window) & (out.grp == side.side_grp)
        ).drop("side_window", "side_grp")
    return out.select(
        window=out.window,
        grp=out.grp,
        sales=out.w_sales.fill_null(0).cast("int64"),
        revenue=out.w_revenue.cast("float64").fill_null(0.0),
        spend=out.s_spend.cast("float64").fill_null(0.0),
    ).order_by(keys)
