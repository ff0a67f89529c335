"""Touch paths: the ordered channels of the visits before each lead.

The touches of a lead are the visits of its stitched visitor
(:func:`analytics.transforms.stitching.stitched_leads`) with

    created_at - lookback_days <= visit_start <= created_at,

ordered by ``visit_start`` then ``visit_id`` (the convention of
:mod:`analytics.metrics.journeys` with the lead anchor). A lead whose visitor is
unknown, or who had no visit in the window, has an empty path.

Ordered aggregation is not portable: ``collect(order_by=...)`` compiles on
DuckDB and BigQuery but Ibis 12 refuses it on PySpark and ClickHouse. So the
touches are collected as structs ``(visit_start, visit_id, channel)``, the
array is sorted (structs sort field by field) and mapped to the channel --
the same result on every backend.

:func:`conversions` and :func:`journey_touches` are the journeys of
:mod:`analytics.metrics.journeys` (which runs them): conversions of every type (lead,
mql, sql, sale, revenue) with either anchor, non-converting journeys, and one
row per touch with its visit.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir

from analytics.transforms.funnel_facts import STAGE_ORDER, deal_facts, stage_rank
from analytics.transforms.stitching import stitched_leads, stitched_visitors
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


CONVERSIONS = ("lead", "mql", "sql", "sale", "revenue")
"""Conversion types of :func:`conversions` and :func:`journey_touches`."""

STAGE_OF_CONVERSION = {"mql": "mql", "sql": "sql", "sale": "won", "revenue": "won"}
"""Deal stage a deal must reach to count as the conversion."""

ANCHORS = ("lead", "stage")
"""Ways to time a conversion: at its lead's creation, or when the deal entered the stage."""

JOURNEY_TOUCH_COLUMNS = (
    "journey_id",
    "visitor_id",
    "conversion_id",
    "converted",
    "value",
    "conversion_at",
    "visit_id",
    "channel",
    "visit_start",
)
"""Columns of :func:`journey_touches`, in order."""


def conversions(con, conversion: str = "lead", anchor: str = "lead") -> ir.Table:
    """Every conversion of a type: ``conversion_id``, ``visitor_id``, ``conversion_at``, ``value``.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    conversion : {"lead", "mql", "sql", "sale", "revenue"}, default "lead"
        A lead (id = ``lead_id``, value 1), or a deal of a lead that reached the
        stage of :data:`STAGE_OF_CONVERSION` (id = ``deal_id``; value 1, or
        ``deals.amount`` in RUB, 0 if empty, for ``sale`` and ``revenue``).
    anchor : {"lead", "stage"}, default "lead"
        Time a conversion at the creation of its lead, or at the first entry of
        the deal into the stage or a later one (else ``deals.created_at``).

    Returns
    -------
    ibis.Table
        One row per conversion; ``visitor_id`` is the lead's stitched visitor
        (:func:`analytics.transforms.stitching.stitched_visitors`, the visitor of
        :func:`~analytics.transforms.stitching.stitched_leads`), NULL if unknown.
    """
    if conversion not in CONVERSIONS:
        raise ValueError(f"conversion must be one of {', '.join(CONVERSIONS)}, got {conversion!r}")
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {', '.join(ANCHORS)}, got {anchor!r}")
    lead = stitched_visitors(con)
    if conversion == "lead":
        return lead.select(
            conversion_id=lead.lead_id,
            visitor_id=lead.visitor_id,
            conversion_at=lead.created_at,
            value=ibis.literal(1.0, type="float64"),
        )
    stage = STAGE_OF_CONVERSION[conversion]
    rank = STAGE_ORDER.index(stage)
    deal = deal_facts(con)
    deal = deal.filter(deal.reached >= rank)
    joined = deal.join(lead, deal.lead_id == lead.lead_id)
    if anchor == "lead":
        at = joined.created_at
    else:
        history = con.table("deal_stages")
        history = history.filter(stage_rank(history.stage) >= rank)
        entered = history.group_by(entered_deal_id=history.deal_id).agg(
            entered_at=history.entered_at.min()
        )
        deals = con.table("deals")
        created = deals.group_by(created_deal_id=deals.deal_id).agg(
            deal_created_at=deals.created_at.arbitrary()
        )
        joined = joined.left_join(entered, joined.deal_id == entered.entered_deal_id)
        joined = joined.left_join(created, joined.deal_id == created.created_deal_id)
        at = ibis.coalesce(joined.entered_at, joined.deal_created_at)
    value = joined.amount.cast("float64") if stage == "won" else ibis.literal(1.0, "float64")
    return joined.select(
        conversion_id=joined.deal_id,
        visitor_id=joined.visitor_id,
        conversion_at=at,
        value=value,
    )


def journey_touches(
    con,
    conversion: str = "lead",
    start: date | None = None,
    stop: date | None = None,
    lookback_days: float = DEFAULT_LOOKBACK_DAYS,
    anchor: str = "lead",
) -> ir.Table:
    """Journeys of one conversion type with their touches, one row per touch.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    conversion, anchor : str
        As in :func:`conversions`.
    start, stop : datetime.date, optional
        Conversions timed in ``[start, stop)`` and non-converting visitors
        (no such conversion in it) with a visit in it; unbounded if omitted.
    lookback_days : float, default 30
        Touches of a journey: the visits of its visitor with
        ``conversion_at - lookback_days <= visit_start <= conversion_at`` (>= 0;
        rounded to the microsecond).

    Returns
    -------
    ibis.Table
        Columns :data:`JOURNEY_TOUCH_COLUMNS`, ordered by ``journey_id``,
        ``visit_start``, ``visit_id``. ``journey_id`` numbers the journeys from 0:
        conversions first, then by ``conversion_at``, ``conversion_id``,
        ``visitor_id``. A non-converting journey ends at the visitor's last visit
        in the days (``conversion_id`` NULL, ``value`` 0). A journey without a
        touch has one row with NULL ``visit_id``, ``channel`` and ``visit_start``.
    """
    joined = _journeys_with_touches(
        con, conversion, start, stop, lookback_days, anchor, nonconverting=True
    )
    return joined.select(*JOURNEY_TOUCH_COLUMNS).order_by("journey_id", "visit_start", "visit_id")


def conversion_touches(
    con,
    conversion: str = "lead",
    start: date | None = None,
    stop: date | None = None,
    lookback_days: float = DEFAULT_LOOKBACK_DAYS,
    anchor: str = "lead",
) -> ir.Table:
    """The rows of :func:`journey_touches` of the converting journeys only.

    The same rows, ``journey_id`` included: the journeys are numbered
    conversions first, so numbering the conversions alone gives them the same
    ids. Non-converting visitors are not looked at, so the visits are read for
    the converters only (what time decay needs, see
    :func:`analytics.attribution.heuristics.time_decay`).

    Returns
    -------
    ibis.Table
        Columns :data:`JOURNEY_TOUCH_COLUMNS`, ordered by ``journey_id``,
        ``visit_start``, ``visit_id``; ``converted`` is True on every row.
    """
    joined = _journeys_with_touches(
        con, conversion, start, stop, lookback_days, anchor, nonconverting=False
    )
    return joined.select(*JOURNEY_TOUCH_COLUMNS).order_by("journey_id", "visit_start", "visit_id")


JOURNEY_PATH_COLUMNS = ("path", "length", "journeys", "conversions", "value", "nulls")
"""Columns of :func:`journey_paths`, in order."""


def journey_paths(
    con,
    conversion: str = "lead",
    start: date | None = None,
    stop: date | None = None,
    lookback_days: float = DEFAULT_LOOKBACK_DAYS,
    anchor: str = "lead",
) -> ir.Table:
    """The journeys of :func:`journey_touches` aggregated into distinct touch paths.

    Each journey's touches are collected as structs ``(visit_start, visit_id,
    channel)``, sorted (field by field: the order of :func:`journey_touches`)
    and mapped to their channels; the journeys are then grouped by that array.
    A journey without a touch has the empty path. What leaves the engine is one
    row per distinct path (tens of thousands at 10M visits) instead of one row
    per touch (millions).

    Parameters
    ----------
    con, conversion, start, stop, lookback_days, anchor
        As in :func:`journey_touches`.

    Returns
    -------
    ibis.Table
        Columns :data:`JOURNEY_PATH_COLUMNS`, unordered: ``path`` (array of
        channels, oldest touch first; empty for the journeys without a touch),
        ``length`` (its touches, int64), and as float64 ``journeys`` (journeys
        with that path), ``conversions`` (those converted), ``value`` (sum of
        their conversion values, RUB or 1 each) and ``nulls`` (non-converting
        journeys), so ``journeys = conversions + nulls``.
    """
    joined = _journeys_with_touches(
        con, conversion, start, stop, lookback_days, anchor, nonconverting=True, numbered=False
    )
    touch = ibis.struct(
        {
            "visit_start": joined.visit_start,
            "visit_id": joined.visit_id,
            "channel": joined.channel,
        }
    )
    # a journey is one conversion (conversion_id unique) or one non-converting visitor
    # (conversion_id NULL, visitor_id unique): these keys group the touches as
    # journey_id does, without numbering the journeys (a window over all of them)
    per_journey = joined.group_by(
        path_conversion_id=joined.conversion_id,
        path_visitor_id=joined.visitor_id,
        path_converted=joined.converted,
    ).agg(
        converted=joined.converted.arbitrary(),
        journey_value=joined.value.arbitrary(),
        touches=touch.collect(where=joined.visit_id.notnull()),
    )
    empty = ibis.literal([], type="array<string>")
    path = ibis.coalesce(per_journey.touches.sort().map(lambda t: t.channel), empty)
    per_journey = per_journey.select(
        path=path,
        converted=per_journey.converted,
        journey_value=per_journey.journey_value,
    )
    converted = per_journey.converted
    grouped = per_journey.group_by("path").agg(
        journeys=per_journey.count(),
        conversions=per_journey.count(where=converted),
        value=per_journey.journey_value.sum(where=converted),
    )
    return grouped.select(
        path=grouped.path,
        length=grouped.path.length().cast("int64"),
        journeys=grouped.journeys.cast("float64"),
        conversions=grouped.conversions.cast("float64"),
        value=grouped.value.fill_null(0.0).cast("float64"),
        nulls=(grouped.journeys - grouped.conversions).cast("float64"),
    )


def _journeys_with_touches(
    con,
    conversion: str,
    start: date | None,
    stop: date | None,
    lookback_days: float,
    anchor: str,
    nonconverting: bool,
    numbered: bool = True,
) -> ir.Table:
    """Every journey (numbered) left-joined to its touches; see :func:`journey_touches`.

    With ``nonconverting=False`` only the conversions are numbered and joined
    (their ids are the same: conversions come first in the numbering).
    """
    if lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0, got {lookback_days}")
    conv = conversions(con, conversion, anchor)
    visits = con.table("visits")

    def in_days(moment):
        conditions = [moment.notnull()]
        if start is not None:
            conditions.append(moment >= day_start(start))
        if stop is not None:
            conditions.append(moment < day_start(stop))
        return conditions

    conv = conv.filter(*in_days(conv.conversion_at))
    journeys = conv.select(
        "conversion_id",
        "visitor_id",
        converted=ibis.literal(True),
        value="value",
        conversion_at="conversion_at",
    )
    if nonconverting:
        converters = conv.filter(conv.visitor_id.notnull()).select("visitor_id").distinct()
        seen = visits.filter(*in_days(visits.visit_start))
        seen = seen.filter(seen.visitor_id.notin(converters.visitor_id))
        nonconv = seen.group_by("visitor_id").agg(conversion_at=seen.visit_start.max())
        journeys = ibis.union(
            journeys,
            nonconv.select(
                conversion_id=ibis.null("string"),
                visitor_id=nonconv.visitor_id,
                converted=ibis.literal(False),
                value=ibis.literal(0.0, type="float64"),
                conversion_at=nonconv.conversion_at,
            ),
            distinct=False,
        )
    order = ibis.window(
        order_by=[
            journeys.converted.desc(),
            journeys.conversion_at,
            journeys.conversion_id,
            journeys.visitor_id,
        ]
    )
    if numbered:
        journeys = journeys.mutate(journey_id=ibis.row_number().over(order).cast("int64"))
    lookback_us = int(round(lookback_days * 86_400 * 1_000_000))
    # Every journey ends in [start, stop) (a conversion or a last visit there), so its
    # touches start in [start - lookback, stop): the visits outside cannot join. Cutting
    # them before the join keeps the join's build side to those weeks instead of every
    # visit (at 10M visits and a 13-week window: ~1.5 GB less at the peak of 06).
    near = visits
    if start is not None:
        earliest = datetime.combine(start, time()) - timedelta(microseconds=lookback_us)
        near = near.filter(near.visit_start >= ibis.literal(earliest, type="timestamp"))
    if stop is not None:
        near = near.filter(near.visit_start < day_start(stop))
    touch = near.select(
        touch_visitor_id=near.visitor_id,
        visit_id=near.visit_id,
        channel=near.channel,
        visit_start=near.visit_start,
    )
    lookback = _exact_interval(lookback_us)
    return journeys.left_join(
        touch,
        [
            journeys.visitor_id == touch.touch_visitor_id,
            touch.visit_start <= journeys.conversion_at,
            touch.visit_start >= journeys.conversion_at - lookback,
        ],
    )


def _exact_interval(microseconds: int) -> ir.IntervalScalar:
    """The interval in the coarsest exact unit: days, seconds, else microseconds.

    ClickHouse has no sub-second intervals, so whole days and seconds keep the
    expression compiling there.
    """
    for unit, size in (("D", 86_400_000_000), ("s", 1_000_000)):
        if microseconds % size == 0:
            return ibis.interval(microseconds // size, unit=unit)
    return ibis.interval(microseconds, unit="us")
