"""Paid touches in the paths of a lead cohort's sales (direct and assisted influence).

The conventions are those of :mod:`analytics.metrics.influence`, which runs this
expression and credits the touches to ad groups and campaigns:

* sales are the deals of the leads created in ``[start, stop)`` that reached
  ``won`` (:func:`~analytics.transforms.funnel_facts.deal_facts`), with their
  amount (RUB, 0 if empty); a lead's visitor is stitched
  (the visitor of :func:`~analytics.transforms.stitching.stitched_leads`, read from
  :func:`~analytics.transforms.stitching.stitched_visitors`, which looks up only the
  visits of leads without an own visitor) and sales of leads
  without one are left out;
* a sale's path is its visitor's visits with
  ``created_at - lookback_days <= visit_start <= created_at`` of the lead (no
  lower bound without a lookback);
* a paid touch is such a visit with a non-blank ``utm_campaign``; its
  ``ad_group`` is the trimmed ``utm_term`` (empty text if missing);
* ``last_paid`` marks the sale's latest paid touch (ties by the larger
  ``visit_id``), computed with a window function, which every backend has.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from analytics.transforms.funnel_facts import WON_RANK, deal_facts
from analytics.transforms.stitching import stitched_visitors
from analytics.transforms.time_keys import day_start

PAID_TOUCH_COLUMNS = ("deal_id", "amount", "campaign", "ad_group", "last_paid")
"""Columns of :func:`sale_paid_touches`, in order."""


def sale_paid_touches(con, start: date, stop: date, lookback_days: int | None = 30) -> ir.Table:
    """Paid touches of the sales of the leads created in ``[start, stop)``, one row per touch.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive) of lead creation.
    lookback_days : int or None, default 30
        Only visits at most this many days before the lead (>= 0); ``None``: all.

    Returns
    -------
    ibis.Table
        :data:`PAID_TOUCH_COLUMNS`: ``deal_id``, ``amount`` (RUB, float),
        ``campaign`` (``utm_campaign`` as recorded), ``ad_group`` and
        ``last_paid`` (bool), ordered by ``deal_id``, then the touch's
        ``visit_start`` and ``visit_id``.
    """
    if lookback_days is not None and lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0, got {lookback_days}")
    lead = stitched_visitors(con)
    lead = lead.filter(
        lead.created_at >= day_start(start),
        lead.created_at < day_start(stop),
        lead.visitor_id.notnull(),
    ).select(s_lead_id="lead_id", s_visitor_id="visitor_id", s_lead_at="created_at")
    deal = deal_facts(con)
    deal = deal.filter(deal.reached >= WON_RANK)
    sale = deal.inner_join(lead, deal.lead_id == lead.s_lead_id)

    visits = con.table("visits")
    paid = visits.filter(visits.utm_campaign.strip().fill_null("") != "").select(
        t_visitor_id="visitor_id",
        t_visit_id="visit_id",
        t_visit_start="visit_start",
        campaign="utm_campaign",
        ad_group=visits.utm_term.strip().nullif("").fill_null(""),
    )
    on = [paid.t_visitor_id == sale.s_visitor_id, paid.t_visit_start <= sale.s_lead_at]
    if lookback_days is not None:
        on.append(paid.t_visit_start >= sale.s_lead_at - ibis.interval(days=lookback_days))
    touch = sale.inner_join(paid, on)
    latest = ibis.row_number().over(
        group_by=touch.deal_id,
        order_by=[touch.t_visit_start.desc(), touch.t_visit_id.desc()],
    )
    return (
        touch.select(
            deal_id=touch.deal_id,
            amount=touch.amount.cast("float64"),
            campaign=touch.campaign,
            ad_group=touch.ad_group,
            last_paid=latest == 0,
            t_visit_start=touch.t_visit_start,
            t_visit_id=touch.t_visit_id,
        )
        .order_by(["deal_id", "t_visit_start", "t_visit_id"])
        .drop("t_visit_start", "t_visit_id")
    )
