"""Lead facts and MQL/SQL flags of a lead cohort, portable across backends.

The rules are those of :mod:`analytics.metrics.definitions` (which runs these
expressions and documents the definitions); this module only expresses them in
Ibis so that they compute the same on DuckDB, PySpark and the SQL engines.

:func:`lead_facts` -- one row per lead created in ``[start, stop)``:

* ``lead_id``, ``created_at``, ``lead_type``, ``visitor_id`` (``leads.visitor_id``
  as recorded, not stitched), ``visit_id``, ``industry``, ``company_size``;
* ``channel``, ``source``, ``campaign`` -- ``channel``, ``utm_source``,
  ``utm_campaign`` of the lead's visit (its earliest row should the id repeat),
  :data:`~analytics.transforms.stitching.UNDETERMINED` without a tracked visit
  or value;
* ``has_contact`` -- ``phone_hash`` or ``email_hash`` present;
* ``pricing_viewed``, ``pageviews_before`` -- over the visits of the lead's
  visitor with ``created_at - lookback_days <= visit_start <= created_at``:
  any ``goal_pricing``, and the sum of ``pageviews`` (False and 0 without one);
* ``deals`` -- deals of the lead; ``reached_rank`` -- highest stage rank any of
  them reached (:func:`~analytics.transforms.funnel_facts.deal_facts`; -1
  without a deal); ``won_deals`` and ``revenue`` (RUB, amount of those that
  reached ``won``); ``is_non_target`` -- one was lost with a reason in
  ``non_target_reasons``.

:func:`lead_flag_table` adds the flags of a definitions object (``icp_fit``,
``behaviour_fit``, ``crm_mql``, ``reached_stage``, ``is_mql``, ``is_sql``,
``is_won``). Every flag is a non-NULL boolean: a comparison with a missing
value (e.g. an empty ``industry`` against a non-empty list) is False, as in the
pandas rules this replaced.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from analytics.transforms.funnel_facts import STAGE_ORDER, WON_RANK, deal_facts
from analytics.transforms.stitching import UNDETERMINED, visits_of_leads
from analytics.transforms.time_keys import Windows, day_start, in_windows

LEAD_FACT_COLUMNS = (
    "lead_id",
    "created_at",
    "lead_type",
    "visitor_id",
    "visit_id",
    "channel",
    "source",
    "campaign",
    "industry",
    "company_size",
    "has_contact",
    "pricing_viewed",
    "pageviews_before",
    "deals",
    "reached_rank",
    "won_deals",
    "revenue",
    "is_non_target",
)
"""Columns of :func:`lead_facts`, in order."""

LEAD_FLAG_COLUMNS = (
    "lead_id",
    "created_at",
    "lead_type",
    "visitor_id",
    "channel",
    "source",
    "campaign",
    "has_contact",
    "icp_fit",
    "behaviour_fit",
    "crm_mql",
    "reached_stage",
    "is_mql",
    "is_sql",
    "is_won",
    "revenue",
    "is_non_target",
    "industry",
    "company_size",
    "pricing_viewed",
    "pageviews_before",
    "deals",
)
"""Columns of :func:`lead_flag_table`, in order: the flags, then the inputs of the rules."""


def lost_non_target(deals: ir.Table, reasons: Sequence[str]) -> ir.BooleanValue:
    """Whether a deal makes its lead non-target: lost for one of ``reasons``
    (``definitions.non_target.loss_reasons``)."""
    return (deals.status == "lost") & deals.loss_reason.isin(list(reasons))


def _cohort(con, start: date, stop: date, more: Windows = ()) -> ir.Table:
    """One row per lead created in ``[start, stop)`` or in a window of ``more`` (any row
    should the id repeat)."""
    leads = con.table("leads")
    leads = leads.filter(in_windows(leads.created_at, [(start, stop), *more]))
    return leads.group_by("lead_id").agg(
        created_at=leads.created_at.arbitrary(),
        lead_type=leads.lead_type.arbitrary(),
        visitor_id=leads.visitor_id.arbitrary(),
        visit_id=leads.visit_id.arbitrary(),
        has_contact=(leads.phone_hash.notnull() | leads.email_hash.notnull()).any(),
        industry=leads.industry.arbitrary(),
        company_size=leads.company_size.arbitrary(),
    )


def _visit_attributes(con, cohort: ir.Table) -> ir.Table:
    """Channel, source and campaign of the visits ``cohort`` points to (the earliest row
    should a visit id repeat): ``attr_visit_id``, ``attr_channel``, ``attr_source``,
    ``attr_campaign``."""
    # only the visits the cohort's leads point to: grouping every visit by visit_id
    # would build a hash table of all visits (~3 GB at 10M visits in DuckDB); read
    # from the run's mart of the leads' visits when the backend holds it
    visits = visits_of_leads(con)
    pointed = visits.filter(visits.visit_id.isin(cohort.visit_id))
    return pointed.group_by(attr_visit_id=pointed.visit_id).agg(
        attr_channel=pointed.channel.argmin(pointed.visit_start),
        attr_source=pointed.utm_source.argmin(pointed.visit_start),
        attr_campaign=pointed.utm_campaign.argmin(pointed.visit_start),
    )


def lead_channels(con, start: date, stop: date) -> ir.Table:
    """The leads created in ``[start, stop)`` with the channel and campaign of their visit.

    The same ``channel`` and ``campaign`` as :func:`lead_facts` and
    :func:`lead_flag_table` (``undetermined`` without a tracked visit or UTM value)
    without the rest of the facts: ``lead_id``, ``created_at``, ``channel``,
    ``campaign``. Unordered.
    """
    cohort = _cohort(con, start, stop)
    attr = _visit_attributes(con, cohort)
    out = cohort.left_join(attr, cohort.visit_id == attr.attr_visit_id)
    undetermined = ibis.literal(UNDETERMINED)
    return out.select(
        "lead_id",
        "created_at",
        channel=ibis.coalesce(out.attr_channel, undetermined),
        campaign=ibis.coalesce(out.attr_campaign, undetermined),
    )


def lead_facts(
    con,
    start: date,
    stop: date,
    lookback_days: int = 30,
    non_target_reasons: Sequence[str] = ("Нецелевой",),
    more: Windows = (),
) -> ir.Table:
    """Facts of every lead created in ``[start, stop)`` (see the module docstring).

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive) of ``leads.created_at``.
    lookback_days : int, default 30
        Behaviour window before the lead, days (>= 1 in the definitions).
    non_target_reasons : sequence of str
        ``deals.loss_reason`` values of a non-target lead.
    more : sequence of (start, stop)
        Further windows of ``created_at``: the leads created in any window, each
        with the same facts as in a query of its own window (a lead's facts do not
        depend on the window: its behaviour window ends at its own ``created_at``).

    Returns
    -------
    ibis.Table
        One row per lead with :data:`LEAD_FACT_COLUMNS`, ordered by
        ``created_at`` then ``lead_id``.
    """
    lookback = ibis.interval(days=lookback_days)
    cohort = _cohort(con, start, stop, more)
    visits = con.table("visits")
    visit_attr = _visit_attributes(con, cohort)

    deal = deal_facts(con)
    deals = con.table("deals")
    non_target = (
        deals.filter(deals.lead_id.notnull())
        .group_by(nt_deal_id=deals.deal_id)
        .agg(non_target=lost_non_target(deals, non_target_reasons).any())
    )
    deal = deal.left_join(non_target, deal.deal_id == non_target.nt_deal_id)
    won = deal.reached >= WON_RANK
    lead_deal = deal.group_by(deal_lead_id=deal.lead_id).agg(
        deals=deal.count(),
        reached=deal.reached.max(),
        won_deals=deal.count(where=won),
        deal_revenue=deal.amount.sum(where=won),
        deal_non_target=deal.non_target.any(),
    )

    # the cohort's visitors in [start - lookback, stop): the join below cannot match
    # other visits, and filtering first keeps the join input small
    window = visits.filter(
        functools.reduce(
            operator.or_,
            [
                (visits.visit_start >= day_start(a) - lookback)
                & (visits.visit_start < day_start(b))
                for a, b in [(start, stop), *more]
            ],
        ),
        visits.visitor_id.isin(cohort.visitor_id),
    ).select(
        seen_visitor_id="visitor_id",
        seen_at="visit_start",
        seen_pricing="goal_pricing",
        seen_pageviews="pageviews",
    )
    seen = cohort.select(b_lead_id="lead_id", b_visitor_id="visitor_id", b_at="created_at")
    seen = seen.inner_join(
        window,
        [
            seen.b_visitor_id == window.seen_visitor_id,
            window.seen_at <= seen.b_at,
            window.seen_at >= seen.b_at - lookback,
        ],
    )
    behaviour = seen.group_by("b_lead_id").agg(
        b_pricing=seen.seen_pricing.any(), b_pageviews=seen.seen_pageviews.sum()
    )

    out = cohort.left_join(visit_attr, cohort.visit_id == visit_attr.attr_visit_id)
    out = out.left_join(lead_deal, out.lead_id == lead_deal.deal_lead_id)
    out = out.left_join(behaviour, out.lead_id == behaviour.b_lead_id)
    undetermined = ibis.literal(UNDETERMINED)
    return out.select(
        lead_id=out.lead_id,
        created_at=out.created_at,
        lead_type=out.lead_type,
        visitor_id=out.visitor_id,
        visit_id=out.visit_id,
        channel=ibis.coalesce(out.attr_channel, undetermined),
        source=ibis.coalesce(out.attr_source, undetermined),
        campaign=ibis.coalesce(out.attr_campaign, undetermined),
        industry=out.industry,
        company_size=out.company_size,
        has_contact=out.has_contact.fill_null(False),
        pricing_viewed=out.b_pricing.fill_null(False),
        pageviews_before=out.b_pageviews.fill_null(0).cast("int64"),
        deals=out.deals.fill_null(0).cast("int64"),
        reached_rank=out.reached.fill_null(-1).cast("int64"),
        won_deals=out.won_deals.fill_null(0).cast("int64"),
        revenue=out.deal_revenue.cast("float64").fill_null(0.0),
        is_non_target=out.deal_non_target.fill_null(False),
    ).order_by(["created_at", "lead_id"])


def _in(values: ir.StringValue, allowed: Sequence[str]) -> ir.BooleanValue:
    """``values`` in ``allowed``; False (not NULL) for a missing value."""
    return values.isin(list(allowed)).fill_null(False)


def lead_flag_table(con, start: date, stop: date, definitions: Any, more: Windows = ()) -> ir.Table:
    """MQL, SQL and the other flags of every lead created in ``[start, stop)``.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive) of ``leads.created_at``.
    definitions : analytics.metrics.definitions.Definitions
        Or any object with its attributes: ``mql_method`` (``crm`` or
        ``rules``), ``mql_stage``, ``sql_stage``, ``non_target.loss_reasons``
        and ``rules`` (``require_contact``, ``industries``, ``company_sizes``,
        ``icp_crm_stage``, ``pricing_page``, ``min_pageviews``,
        ``lookback_days``, ``require_crm_stage``).
    more : sequence of (start, stop)
        Further windows of ``created_at`` (see :func:`lead_facts`).

    Returns
    -------
    ibis.Table
        One row per lead with :data:`LEAD_FLAG_COLUMNS`, ordered by
        ``created_at`` then ``lead_id``:

        * ``icp_fit`` = reached ``rules.icp_crm_stage`` if set, else
          ``industry`` in ``rules.industries`` (if non-empty) and
          ``company_size`` in ``rules.company_sizes`` (if non-empty);
        * ``behaviour_fit`` = (``pricing_page`` and ``pricing_viewed``) or
          (``pageviews_before >= min_pageviews``); True with both off;
        * ``crm_mql`` = reached ``mql_stage``;
        * ``is_mql`` = ``crm_mql`` (method ``crm``), or ``icp_fit`` and
          ``behaviour_fit`` [and ``has_contact``] [and ``crm_mql``] (``rules``);
        * ``is_sql`` = ``is_mql`` and reached ``sql_stage``;
        * ``is_won`` = ``won_deals > 0``; ``reached_stage`` = name of
          ``reached_rank`` (NULL for -1).

        "Reached stage s" means ``reached_rank >= STAGE_ORDER.index(s)``.
    """
    rules = definitions.rules
    facts = lead_facts(
        con, start, stop, rules.lookback_days, tuple(definitions.non_target.loss_reasons), more
    )
    rank = facts.reached_rank

    def reached(stage: str) -> ir.BooleanValue:
        return rank >= STAGE_ORDER.index(stage)

    if rules.icp_crm_stage:
        icp = reached(rules.icp_crm_stage)
    else:
        icp = ibis.literal(True)
        if rules.industries:
            icp = icp & _in(facts.industry, rules.industries)
        if rules.company_sizes:
            icp = icp & _in(facts.company_size, rules.company_sizes)
    behaviour = ibis.literal(not rules.behaviour_enabled)
    if rules.pricing_page:
        behaviour = behaviour | facts.pricing_viewed
    if rules.min_pageviews is not None:
        behaviour = behaviour | (facts.pageviews_before >= rules.min_pageviews)
    crm_mql = reached(definitions.mql_stage)
    if definitions.mql_method == "crm":
        is_mql = crm_mql
    else:
        is_mql = icp & behaviour
        if rules.require_contact:
            is_mql = is_mql & facts.has_contact
        if rules.require_crm_stage:
            is_mql = is_mql & crm_mql
    stage_name = rank.cases(*((r, name) for r, name in enumerate(STAGE_ORDER)), else_=None)
    return facts.select(
        "lead_id",
        "created_at",
        "lead_type",
        "visitor_id",
        "channel",
        "source",
        "campaign",
        "has_contact",
        icp_fit=icp,
        behaviour_fit=behaviour,
        crm_mql=crm_mql,
        reached_stage=stage_name.cast("string"),
        is_mql=is_mql,
        is_sql=is_mql & reached(definitions.sql_stage),
        is_won=facts.won_deals > 0,
        revenue=facts.revenue,
        is_non_target=facts.is_non_target,
        industry=facts.industry,
        company_size=facts.company_size,
        pricing_viewed=facts.pricing_viewed,
        pageviews_before=facts.pageviews_before,
        deals=facts.deals,
    ).order_by(["created_at", "lead_id"])
