"""Identity stitching: request (form, call, chat) -> visit -> visitor and channel.

A lead carries the visit it came from (``leads.visit_id``) when the site or
the call tracking caught one, and usually the visitor (``leads.visitor_id``).
Stitching fills in what is missing from the visit:

* ``channel`` -- the channel of the lead's visit (``visits.channel``); a lead
  with no visit id, or whose visit id is missing from ``visits`` (e.g. a call
  without a session), is :data:`UNDETERMINED`;
* ``visitor_id`` -- ``leads.visitor_id``, else the visitor of the lead's visit;
  ``NULL`` when neither is known.

Deals join leads by ``deals.lead_id`` (see :mod:`analytics.transforms.funnel_facts`).
Ids are keys of the canonical tables; should a key repeat, one arbitrary row
per key is used (as the SQL ``any_value``), so every lead appears once.

The leads' visits are looked up through :func:`visits_of_leads`: the run's mart
:data:`LEAD_VISITS_MART` (:func:`lead_visits`, computed once per report run) when
the backend holds it, else ``visits`` itself.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from ibis.common.exceptions import TableNotFound

UNDETERMINED = "undetermined"
"""Channel of leads whose visit is unknown."""

LEAD_VISIT_COLUMNS = (
    "visit_id",
    "visitor_id",
    "visit_start",
    "channel",
    "utm_source",
    "utm_campaign",
    "utm_term",
    "utm_content",
)
"""Columns of :func:`lead_visits`: those of ``visits`` that the look-ups of a lead's
visit read (channel, source, campaign, ad group, creative, visitor, start)."""

LEAD_VISITS_MART = "mart_lead_visits"
"""Table name of the run's :func:`lead_visits` mart in a backend that holds it (a
temporary table the report run attaches: :mod:`analytics.metrics.lead_visit_mart`)."""


def lead_visits(con) -> ir.Table:
    """The visits some lead came from: the rows of ``visits`` whose ``visit_id`` is a
    ``leads.visit_id``, with the columns :data:`LEAD_VISIT_COLUMNS`.

    At 10M visits these are 73,470 rows of 9,880,053. A query that reads those
    columns of ``visits`` only through the visit ids of leads (a semi-join, ``isin``
    or join on a lead's ``visit_id``) reads the same rows from this table as from
    ``visits``; computed once per report run, it spares each such query its scan of
    every ``visit_id`` (~0.5-1 CPU-s at 10M visits).

    Returns
    -------
    ibis.Table
        :data:`LEAD_VISIT_COLUMNS` as typed in ``visits``; every row of a matching
        visit id (a repeated id keeps all its rows), none for a ``NULL`` id. Unordered.
    """
    visits = con.table("visits").select(*LEAD_VISIT_COLUMNS)
    leads = con.table("leads")
    return visits.semi_join(leads, visits.visit_id == leads.visit_id)


def visits_of_leads(con) -> ir.Table:
    """Where to look up the visits that leads point to: the backend's
    :data:`LEAD_VISITS_MART` when it holds one, else ``visits``.

    Only for a query that matches the result against lead visit ids and reads only
    :data:`LEAD_VISIT_COLUMNS` (see :func:`lead_visits`): both tables then give the
    same rows. The mart must be of the same data (the report run computes it from
    the warehouse it reports on).
    """
    try:
        return con.table(LEAD_VISITS_MART)
    except TableNotFound:
        return con.table("visits")


def visit_attributes(con, visit_ids: ir.Column | None = None) -> ir.Table:
    """One row per ``visit_id``: ``visit_channel`` and ``visit_visitor_id``.

    A repeated visit id keeps the channel of its earliest start.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    visit_ids : ibis column, optional
        Only these visit ids, which must be leads' (values of ``leads.visit_id``):
        the visits are filtered before they are grouped, so the grouping holds at
        most one id per lead instead of every visit (at 10M visits the full grouping
        took ~0.4-1 GB in DuckDB). The rows kept are the same as without it. They
        are read from :func:`visits_of_leads` (the run's mart when attached).
    """
    if visit_ids is not None:  # only leads' visit ids are asked for (see the callers)
        visits = visits_of_leads(con)
        visits = visits.filter(visits.visit_id.isin(visit_ids))
    else:
        visits = con.table("visits")
    return visits.group_by("visit_id").agg(
        visit_channel=visits.channel.argmin(visits.visit_start),
        visit_visitor_id=visits.visitor_id.arbitrary(),
    )


def lead_rows(con) -> ir.Table:
    """One row per lead as recorded, before stitching: ``lead_id``, ``created_at``,
    ``lead_type``, ``visit_id`` and ``own_visitor_id`` (``leads.visitor_id``); the rows
    and values of :func:`stitched_leads` without the visit's channel and visitor (no
    look-up in ``visits``)."""
    leads = con.table("leads")
    return leads.group_by("lead_id").agg(
        created_at=leads.created_at.arbitrary(),
        lead_type=leads.lead_type.arbitrary(),
        visit_id=leads.visit_id.arbitrary(),
        own_visitor_id=leads.visitor_id.arbitrary(),
    )


def stitched_visitors(con) -> ir.Table:
    """Every lead with its stitched visitor, looking up only the visits that give one.

    The rows and values of :func:`stitched_leads` without ``channel``: a lead's
    ``visitor_id`` is ``leads.visitor_id``, else the visitor of its visit, so
    only the visits of the leads without an own visitor are read (none at all
    when every lead has one: at 10M visits the look-up of every lead's visit
    cost ~1 CPU-s per query, for a value the coalesce then drops).

    Returns
    -------
    ibis.Table
        One row per lead: ``lead_id``, ``created_at``, ``lead_type``,
        ``visit_id`` and ``visitor_id`` as in :func:`stitched_leads`.
    """
    lead = lead_rows(con)
    anonymous = lead.filter(lead.own_visitor_id.isnull())
    visit = visit_attributes(con, anonymous.visit_id)
    joined = lead.left_join(visit, lead.visit_id == visit.visit_id)
    return joined.select(
        lead_id=joined.lead_id,
        created_at=joined.created_at,
        lead_type=joined.lead_type,
        visit_id=joined.visit_id,
        visitor_id=ibis.coalesce(joined.own_visitor_id, joined.visit_visitor_id),
    )


def stitched_leads(con) -> ir.Table:
    """Every lead with its stitched visitor and channel.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.

    Returns
    -------
    ibis.Table
        One row per lead: ``lead_id``, ``created_at``, ``lead_type``,
        ``visit_id``, ``visitor_id`` (``leads.visitor_id``, else the visitor of
        the visit) and ``channel`` (channel of the visit, else
        ``undetermined``).
    """
    lead = lead_rows(con)
    visit = visit_attributes(con, lead.visit_id)
    joined = lead.left_join(visit, lead.visit_id == visit.visit_id)
    return joined.select(
        lead_id=joined.lead_id,
        created_at=joined.created_at,
        lead_type=joined.lead_type,
        visit_id=joined.visit_id,
        visitor_id=ibis.coalesce(joined.own_visitor_id, joined.visit_visitor_id),
        channel=ibis.coalesce(joined.visit_channel, ibis.literal(UNDETERMINED)),
    )
