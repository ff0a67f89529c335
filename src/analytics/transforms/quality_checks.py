"""Data-quality evidence of a period, portable across backends.

The checks and their meaning are documented in :mod:`analytics.metrics.quality`,
which runs these expressions and turns them into a report. Only the evidence
drawn from the canonical tables is here; the diagnostics of the DuckDB load
itself (``load_log``, ``quarantine``) stay SQL in that module, since a
warehouse on another engine has no such tables.

* :func:`deal_campaign_table` -- deals created in the days and what is known of
  their campaign (empty ``utm_campaign``, lost between the lead and the CRM);
* :func:`lead_check_table` -- leads created in the days: repeat requests of a
  phone or e-mail within a window, deal and web session present;
* :func:`spend_visit_table` -- spend rows of the days and whether their ad
  brought a visit that day;
* :func:`weekly_leads_deals` -- leads and deals created per ISO week.

Text is *empty* when it is NULL or blank after trimming.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from analytics.transforms.stitching import visits_of_leads
from analytics.transforms.time_keys import day_start, week_start


def _empty(value: ir.StringValue) -> ir.BooleanValue:
    """The text is NULL or blank (SQL ``coalesce(trim(x), '') = ''``)."""
    return value.strip().fill_null("") == ""


def deal_campaign_table(con, start: date, stop: date) -> ir.Table:
    """Deals created in ``[start, stop)`` with what is known of their campaign.

    Returns
    -------
    ibis.Table
        One row per deal row, ordered by ``created_at`` then ``deal_id``:
        ``deal_id``, ``lead_id``, ``created_at``, ``status``, ``amount`` (RUB),
        ``undetermined_campaign`` (``deals.utm_campaign`` empty),
        ``lead_tracked_campaign`` (its lead's ``utm_campaign`` is not empty),
        ``lead_campaign`` and ``lost_utm`` = lead_tracked_campaign and
        undetermined_campaign.
    """
    deals = con.table("deals")
    deals = deals.filter(deals.created_at >= day_start(start), deals.created_at < day_start(stop))
    leads = con.table("leads")
    lead = leads.group_by(l_lead_id=leads.lead_id).agg(l_campaign=leads.utm_campaign.arbitrary())
    joined = deals.left_join(lead, deals.lead_id == lead.l_lead_id)
    undetermined = _empty(joined.utm_campaign)
    tracked = ~_empty(joined.l_campaign)
    return joined.select(
        deal_id=joined.deal_id,
        lead_id=joined.lead_id,
        created_at=joined.created_at,
        status=joined.status,
        amount=joined.amount,
        undetermined_campaign=undetermined,
        lead_tracked_campaign=tracked,
        lead_campaign=joined.l_campaign,
        lost_utm=tracked & undetermined,
    ).order_by(["created_at", "deal_id"])


def _interval(window: timedelta) -> ir.IntervalScalar:
    """An interval literal of ``window``: whole seconds if it has no fraction, else
    microseconds (which ClickHouse cannot compile; DuckDB and PySpark run it)."""
    seconds = window.total_seconds()
    if seconds == int(seconds):
        return ibis.interval(seconds=int(seconds))
    return ibis.interval(int(window / timedelta(microseconds=1)), unit="us")


def _repeats(lead: ir.Table, contact: str, prefix: str) -> ir.Table:
    """For each lead with ``contact``: the previous lead of that contact and its time.

    Previous = the one before in the order ``created_at``, ``lead_id`` (SQL ``lag``).
    """
    having = lead.filter(lead[contact].notnull())
    order = [having.created_at, having.lead_id]
    return having.select(
        **{
            f"{prefix}_lead_id": having.lead_id,
            f"{prefix}_previous": having.lead_id.lag().over(
                group_by=having[contact], order_by=order
            ),
            f"{prefix}_previous_at": having.created_at.lag().over(
                group_by=having[contact], order_by=order
            ),
        }
    )


def lead_check_table(
    con, start: date, stop: date, duplicate_window: timedelta = timedelta(days=2)
) -> ir.Table:
    """Leads created in ``[start, stop)`` with their data-quality flags.

    A lead *repeats* a phone (e-mail) when the previous lead with the same
    ``phone_hash`` (``email_hash``), which may lie before the days, was created
    at most ``duplicate_window`` before it.

    Returns
    -------
    ibis.Table
        One row per lead, ordered by ``created_at`` then ``lead_id``:
        ``lead_id``, ``created_at``, ``lead_type``, ``has_contact``,
        ``repeats_phone``, ``repeats_email``, ``is_duplicate`` (either),
        ``duplicate_of`` (the previous lead it repeats; the closer one, the
        phone's on a tie), ``has_deal`` (some ``deals.lead_id`` is it),
        ``has_session`` (its ``visit_id`` is in ``visits``), ``missing_in_crm``
        = not a duplicate and no deal, ``call_without_session`` = not a
        duplicate, a call and no session.
    """
    leads = con.table("leads")
    lead = leads.group_by("lead_id").agg(
        created_at=leads.created_at.arbitrary(),
        lead_type=leads.lead_type.arbitrary(),
        visit_id=leads.visit_id.arbitrary(),
        phone_hash=leads.phone_hash.arbitrary(),
        email_hash=leads.email_hash.arbitrary(),
    )
    phone = _repeats(lead, "phone_hash", "rp")
    email = _repeats(lead, "email_hash", "re")
    deals = con.table("deals")
    with_deal = deals.filter(deals.lead_id.notnull()).select(wd_lead_id="lead_id").distinct()
    cohort = lead.filter(lead.created_at >= day_start(start), lead.created_at < day_start(stop))
    visits = visits_of_leads(con)  # the run's mart of the leads' visits, else visits
    # only the visit ids the cohort's leads point to (a semi-join probing one column):
    # the distinct ids of every visit were a hash table of all visits (9.9M at 10M visits)
    visits = visits.semi_join(cohort, visits.visit_id == cohort.visit_id)
    known_visit = visits.select(kv_visit_id="visit_id").distinct()

    out = cohort.left_join(phone, cohort.lead_id == phone.rp_lead_id)
    out = out.left_join(email, out.lead_id == email.re_lead_id)
    out = out.left_join(with_deal, out.lead_id == with_deal.wd_lead_id)
    out = out.left_join(known_visit, out.visit_id == known_visit.kv_visit_id)

    window = _interval(duplicate_window)
    phone_ok = (out.rp_previous_at >= out.created_at - window).fill_null(False)
    email_ok = (out.re_previous_at >= out.created_at - window).fill_null(False)
    phone_closer = phone_ok & (~email_ok | (out.rp_previous_at >= out.re_previous_at))
    duplicate_of = ibis.cases(
        (phone_closer, out.rp_previous), (email_ok, out.re_previous), else_=None
    )
    is_duplicate = phone_ok | email_ok
    has_deal = out.wd_lead_id.notnull()
    has_session = out.kv_visit_id.notnull()
    return out.select(
        lead_id=out.lead_id,
        created_at=out.created_at,
        lead_type=out.lead_type,
        has_contact=out.phone_hash.notnull() | out.email_hash.notnull(),
        repeats_phone=phone_ok,
        repeats_email=email_ok,
        is_duplicate=is_duplicate,
        duplicate_of=duplicate_of.cast("string"),
        has_deal=has_deal,
        has_session=has_session,
        missing_in_crm=~is_duplicate & ~has_deal,
        call_without_session=~is_duplicate & (out.lead_type == "call") & ~has_session,
    ).order_by(["created_at", "lead_id"])


def spend_visit_table(con, start: date, stop: date) -> ir.Table:
    """Spend rows dated in ``[start, stop)`` and whether their ad brought a visit that day.

    Returns
    -------
    ibis.Table
        One row per spend row, ordered by ``date``, ``campaign``, ``ad_group``,
        ``creative``: ``date``, ``channel``, ``campaign``, ``ad_group``,
        ``creative``, ``clicks``, ``cost`` (RUB) and ``has_visits``: a visit
        that day (``visit_start`` in the days) has ``utm_campaign = campaign``,
        and ``utm_term``, ``utm_content`` equal to ``ad_group``, ``creative``
        (two missing values are equal).
    """
    visits = con.table("visits")
    visits = visits.filter(
        visits.visit_start >= day_start(start),
        visits.visit_start < day_start(stop),
        ~_empty(visits.utm_campaign),
    )
    ad_day = visits.select(
        a_date=visits.visit_start.date(),
        a_campaign=visits.utm_campaign,
        a_term=visits.utm_term,
        a_content=visits.utm_content,
    ).distinct()
    spend = con.table("spend")
    spend = spend.filter(spend.date >= ibis.literal(start), spend.date < ibis.literal(stop))
    joined = spend.left_join(
        ad_day,
        [
            ad_day.a_date == spend.date,
            ad_day.a_campaign == spend.campaign,
            ad_day.a_term.identical_to(spend.ad_group),
            ad_day.a_content.identical_to(spend.creative),
        ],
    )
    return joined.select(
        date=joined.date,
        channel=joined.channel,
        campaign=joined.campaign,
        ad_group=joined.ad_group,
        creative=joined.creative,
        clicks=joined.clicks,
        cost=joined.cost,
        has_visits=joined.a_date.notnull(),
    ).order_by(["date", "campaign", "ad_group", "creative"])


def weekly_leads_deals(con, start: date, stop: date) -> ir.Table:
    """Leads and CRM deals created in ``[start, stop)`` per ISO week.

    Returns
    -------
    ibis.Table
        One row per Monday with a lead or a deal, oldest first: ``week_start``
        (date), ``leads`` (distinct ``lead_id``) and ``deals`` (distinct
        ``deal_id``), int64.
    """
    start_at, stop_at = day_start(start), day_start(stop)
    leads = con.table("leads")
    leads = leads.filter(leads.created_at >= start_at, leads.created_at < stop_at)
    lead = leads.group_by("lead_id").agg(created_at=leads.created_at.arbitrary())
    deals = con.table("deals")
    deals = deals.filter(deals.created_at >= start_at, deals.created_at < stop_at)
    deal = deals.group_by("deal_id").agg(created_at=deals.created_at.arbitrary())
    events = ibis.union(
        lead.select(
            week_start=week_start(lead.created_at), lead=ibis.literal(1), deal=ibis.literal(0)
        ),
        deal.select(
            week_start=week_start(deal.created_at), lead=ibis.literal(0), deal=ibis.literal(1)
        ),
        distinct=False,
    )
    return (
        events.group_by("week_start")
        .agg(leads=events.lead.sum().cast("int64"), deals=events.deal.sum().cast("int64"))
        .order_by("week_start")
    )
