"""Segment and funnel outcome of every lead of a cohort, with its allocated spend.

The rules are those of :mod:`analytics.metrics.segments` (which runs this
expression and aggregates it into segment tables):

* a lead's ``region``, ``industry`` and ``company_size`` are its own (trimmed;
  blank is missing), else those of one of its deals, else :data:`UNKNOWN`;
* ``mql``, ``sql_leads``, ``sales`` count its deals that reached ``mql``,
  ``sql`` and ``won`` (:func:`~analytics.transforms.funnel_facts.deal_facts`);
  ``revenue`` is the amount of the won ones, RUB;
* ``channel`` is the channel of its visit (earliest row of a repeated visit
  id), :data:`~analytics.transforms.stitching.UNDETERMINED` without one;
* ``spend`` is the CPL of its channel in the days: the channel's spend
  (``spend.channel``, ``spend.date`` in the days) / the cohort's leads of that
  channel, RUB; 0 for a channel without spend.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from analytics.transforms.funnel_facts import MQL_RANK, SQL_RANK, WON_RANK, deal_facts
from analytics.transforms.stitching import UNDETERMINED, visits_of_leads
from analytics.transforms.time_keys import day_start

DIMENSIONS = ("region", "industry", "company_size")
"""Segment dimensions: columns of ``leads`` and ``deals``."""

UNKNOWN = "unknown"
"""Segment of leads whose dimension is empty on the lead and on its deal."""

SEGMENT_LEAD_COLUMNS = (
    "lead_id",
    "created_at",
    "channel",
    *DIMENSIONS,
    "mql",
    "sql_leads",
    "sales",
    "revenue",
    "spend",
)
"""Columns of :func:`segment_lead_table`, in order."""


def _text(value: ir.StringValue) -> ir.StringValue:
    """Trimmed text; NULL when blank (SQL ``nullif(trim(x), '')``)."""
    return value.strip().nullif("")


def segment_lead_table(con, start: date, stop: date) -> ir.Table:
    """Every lead created in ``[start, stop)`` with its segment, outcome and spend.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive) of the leads and the spend.

    Returns
    -------
    ibis.Table
        One row per lead with :data:`SEGMENT_LEAD_COLUMNS` (see the module
        docstring), ordered by ``created_at`` then ``lead_id``; counts int64,
        money float64.
    """
    start_at, stop_at = day_start(start), day_start(stop)
    leads = con.table("leads")
    leads = leads.filter(leads.created_at >= start_at, leads.created_at < stop_at)
    visits = visits_of_leads(con)  # the run's mart of the leads' visits, else visits
    pointed = visits.filter(visits.visit_id.isin(leads.visit_id))
    visit_channel = pointed.group_by(vc_visit_id=pointed.visit_id).agg(
        vc_channel=pointed.channel.argmin(pointed.visit_start)
    )
    with_visit = leads.left_join(visit_channel, leads.visit_id == visit_channel.vc_visit_id)
    lead = with_visit.group_by("lead_id").agg(
        created_at=with_visit.created_at.arbitrary(),
        channel=ibis.coalesce(with_visit.vc_channel.arbitrary(), ibis.literal(UNDETERMINED)),
        **{f"lead_{dim}": _text(with_visit[dim]).arbitrary() for dim in DIMENSIONS},
    )

    deals = con.table("deals")
    deals = deals.filter(deals.lead_id.notnull())
    reach = deal_facts(con).select(r_deal_id="deal_id", r_reached="reached")
    deal = deals.left_join(reach, deals.deal_id == reach.r_deal_id)
    won = deal.r_reached >= WON_RANK
    per_lead = deal.group_by(d_lead_id=deal.lead_id).agg(
        d_mql=deal.deal_id.nunique(where=deal.r_reached >= MQL_RANK),
        d_sql=deal.deal_id.nunique(where=deal.r_reached >= SQL_RANK),
        d_sales=deal.deal_id.nunique(where=won),
        d_revenue=deal.amount.sum(where=won),
        **{f"deal_{dim}": _text(deal[dim]).arbitrary() for dim in DIMENSIONS},
    )

    spend = con.table("spend")
    spend = spend.filter(spend.date >= ibis.literal(start), spend.date < ibis.literal(stop))
    channel_spend = spend.group_by(s_channel=spend.channel).agg(s_spend=spend.cost.sum())
    channel_leads = lead.group_by(n_channel=lead.channel).agg(n_leads=lead.count())
    cpl = channel_leads.left_join(channel_spend, channel_leads.n_channel == channel_spend.s_channel)
    cpl = cpl.select(
        c_channel=cpl.n_channel,
        c_cpl=(cpl.s_spend.cast("float64") / cpl.n_leads.cast("float64")).fill_null(0.0),
    )

    out = lead.left_join(per_lead, lead.lead_id == per_lead.d_lead_id)
    out = out.left_join(cpl, out.channel == cpl.c_channel)
    unknown = ibis.literal(UNKNOWN)
    return out.select(
        lead_id=out.lead_id,
        created_at=out.created_at,
        channel=out.channel,
        **{
            dim: ibis.coalesce(out[f"lead_{dim}"], out[f"deal_{dim}"], unknown)
            for dim in DIMENSIONS
        },
        mql=out.d_mql.fill_null(0).cast("int64"),
        sql_leads=out.d_sql.fill_null(0).cast("int64"),
        sales=out.d_sales.fill_null(0).cast("int64"),
        revenue=out.d_revenue.cast("float64").fill_null(0.0),
        spend=out.c_cpl.fill_null(0.0),
    ).order_by(["created_at", "lead_id"])
