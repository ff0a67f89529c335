"""Touch paths: the ordered channels of the visits before each lead.

The touches of a lead are the visits of its stitched visitor
(:func:`analytics.transforms.stitching.stitched_leads`) with

    created_at - lookback_days <= visit_start <= created_at,

ordered by ``visit_start`` then ``visit_id`` (the convention of
:mod:`analytics.journeys` with the lead anchor). A lead whose visitor is
unknown, or who had no visit in the window, has an empty path.

Ordered aggregation is not portable: ``collect(order_by=...)`` compiles on
DuckDB and BigQuery but Ibis 12 refuses it on PySpark and ClickHouse. So the
touches are collected as structs ``(visit_start, visit_id, channel)``, the
array is sorted (structs sort field by field) and mapped to the channel --
the same result on every backend.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from analytics.transforms.stitching import stitched_leads
from analytics.transforms.time_keys import day_start

DEFAULT_LOOKBACK_DAYS = 30
"""Days before a lead whose visits count as its touches."""


def touch_paths(
    con, start: date, stop: date, lookback_days: int = DEFAULT_LOOKBACK_DAYS
) -> ir.Table:
    """Touch path of every lead created in ``[start, stop)``.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive) of lead creation.
    lookback_days : int, default 30
        Window before the lead, days (>= 0).

    Returns
    -------
    ibis.Table
        One row per lead, ordered by ``lead_id``: ``lead_id``, ``created_at``,
        ``channel`` (the lead's stitched channel), ``path`` (array of the
        touches' channels, oldest first; empty without touches) and
        ``touches`` (its length).
    """
    if lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0, got {lookback_days}")
    lead = stitched_leads(con)
    lead = lead.filter(lead.created_at >= day_start(start), lead.created_at < day_start(stop))
    lead = lead.select("lead_id", "created_at", "visitor_id", "channel")
    visits = con.table("visits")
    touch = visits.select(
        touch_visitor_id=visits.visitor_id,
        touch=ibis.struct(
            {
                "visit_start": visits.visit_start,
                "visit_id": visits.visit_id,
                "channel": visits.channel,
            }
        ),
    )
    window_start = lead.created_at - ibis.interval(days=lookback_days)
    joined = lead.inner_join(
        touch,
        [
            lead.visitor_id == touch.touch_visitor_id,
            touch.touch.visit_start >= window_start,
            touch.touch.visit_start <= lead.created_at,
        ],
    )
    collected = joined.group_by(path_lead_id=joined.lead_id).agg(touch=joined.touch.collect())
    paths = collected.select("path_lead_id", path=collected.touch.sort().map(lambda t: t.channel))
    out = lead.left_join(paths, lead.lead_id == paths.path_lead_id)
    empty = ibis.literal([], type="array<string>")
    path = ibis.coalesce(out.path, empty)
    return out.select(
        lead_id=out.lead_id,
        created_at=out.created_at,
        channel=out.channel,
        path=path,
        touches=path.length().cast("int64"),
    ).order_by("lead_id")
