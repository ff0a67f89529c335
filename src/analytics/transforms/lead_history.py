"""What was known of each lead when it arrived: the as-of features of lead scoring.

The feature table of :func:`analytics.scoring.features.lead_features`, portable
across backends. Every feature of a lead uses only rows from before its
``created_at``, and every one is computed set-based (hash joins on equal keys,
window functions over sorted keys), never per lead:

* **site behaviour** -- the visits of the lead's visitor with
  ``visit_start < created_at`` (an equi-join on ``visitor_id`` plus that
  condition): count, pageviews, seconds on site, pricing page viewed, days from
  the first of them to the lead, distinct channels, first and last channel
  (ordered by ``visit_start``, then ``visit_id``);
* **earlier requests** -- leads of the same person (same phone hash, e-mail
  hash or visitor id) created before the lead (at the same instant: a smaller
  ``lead_id``) and at most ``repeat_days`` days earlier: three equi-joins, one
  per key, whose distinct pairs are counted (a pair matched by several keys
  counts once);
* **segment history** -- won and closed deals of the lead's segment (industry
  x company size) and of all segments with ``closed_at < created_at``: leads
  and closed deals in one stream sorted by time, a lead before the deals
  closing at its own instant, and running sums over it (``ROWS UNBOUNDED
  PRECEDING``), so a lead's row holds exactly the deals closed before it.

:func:`past_deal_outcomes` lists the closed deals for
:func:`analytics.scoring.similarity.past_deal_similarity`;
:func:`lead_field_values` the CRM fields of each lead known at arrival
(:func:`analytics.scoring.fields.extra_lead_fields`).
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

AS_OF_FEATURE_COLUMNS = (
    "lead_id",
    "created_at",
    "site_tracked",
    "visits_before",
    "pageviews_before",
    "duration_before_s",
    "pricing_viewed",
    "days_first_visit_to_lead",
    "channels_distinct",
    "call_duration_s",
    "call_lost",
    "phone_present",
    "email_present",
    "earlier_requests",
    "segment_win_rate",
    "segment_closed_deals",
    "lead_type",
    "first_channel",
    "last_channel",
    "region",
    "industry",
    "company_size",
)
"""Columns of :func:`as_of_features`, in order."""

PAST_DEAL_COLUMNS = ("lead_id", "closed_at", "won")
"""Columns of :func:`past_deal_outcomes`, in order."""

NO_VISITS = "no_visits"
"""First and last channel of a lead without visits before it."""

UNKNOWN = "unknown"
"""Region, industry or company size not filled."""

MICROSECONDS_PER_DAY = 86_400_000_000

SECONDS_PER_DAY = 86_400


def _leads(con, as_of: datetime | None) -> ir.Table:
    leads = con.table("leads")
    if as_of is not None:
        leads = leads.filter(leads.created_at <= ibis.literal(as_of, type="timestamp"))
    return leads.select(
        "lead_id",
        "created_at",
        "lead_type",
        "visitor_id",
        "call_duration_s",
        "call_lost",
        "phone_hash",
        "email_hash",
        region=leads.region.fill_null(UNKNOWN),
        industry=leads.industry.fill_null(UNKNOWN),
        company_size=leads.company_size.fill_null(UNKNOWN),
    )


def _days_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    """``later - earlier`` in days (double): whole days of the difference x 86400 plus
    the rest in seconds, over 86400 -- the rounding of DuckDB's ``epoch(later - earlier)
    / 86400.0``, so the days are the same to the last bit on every backend."""
    micros = later.delta(earlier, unit="microsecond")
    days = micros // MICROSECONDS_PER_DAY
    rest = micros - days * MICROSECONDS_PER_DAY
    seconds = (days * SECONDS_PER_DAY).cast("float64") + rest.cast("float64") / 1_000_000.0
    return seconds / float(SECONDS_PER_DAY)


def _site_behaviour(con, leads: ir.Table) -> ir.Table:
    """Per lead with visits before it: ``s_lead_id`` and the site features (see module doc)."""
    visits = con.table("visits")
    lead = leads.filter(leads.visitor_id.notnull()).select(
        s_lead_id=leads.lead_id, s_visitor_id=leads.visitor_id, s_created_at=leads.created_at
    )
    pair = lead.inner_join(
        visits,
        [lead.s_visitor_id == visits.visitor_id, visits.visit_start < lead.s_created_at],
    )
    # the first and last visit by (visit_start, visit_id); a visit without a channel only
    # when none has one (as DuckDB's arg_min / arg_max skip NULL values)
    no_channel = pair.channel.isnull()
    first = ibis.row_number().over(
        group_by=pair.s_lead_id, order_by=[no_channel, pair.visit_start, pair.visit_id]
    )
    last = ibis.row_number().over(
        group_by=pair.s_lead_id,
        order_by=[no_channel, pair.visit_start.desc(), pair.visit_id.desc()],
    )
    pair = pair.mutate(first_rank=first, last_rank=last)
    site = pair.group_by("s_lead_id").agg(
        visits_before=pair.count(),
        pageviews_before=pair.pageviews.sum(),
        duration_before_s=pair.duration_s.sum(),
        pricing_viewed=pair.goal_pricing.cast("int32").max(),
        s_created=pair.s_created_at.max(),
        first_visit_start=pair.visit_start.min(),
        channels_distinct=pair.channel.nunique(),
        first_channel=pair.channel.min(where=pair.first_rank == 0),
        last_channel=pair.channel.min(where=pair.last_rank == 0),
    )
    return site.mutate(
        days_first_visit_to_lead=_days_between(site.s_created, site.first_visit_start)
    ).drop("s_created", "first_visit_start")


def _earlier_requests(con, leads: ir.Table, repeat_days: int) -> ir.Table:
    """Per lead with earlier requests: ``r_lead_id`` and ``earlier_requests``."""
    every = con.table("leads")
    pairs = []
    for key in ("phone_hash", "email_hash", "visitor_id"):
        lead = leads.filter(leads[key].notnull()).select(
            r_lead_id=leads.lead_id, r_created_at=leads.created_at, r_key=leads[key]
        )
        earlier = every.filter(every[key].notnull()).select(
            e_lead_id=every.lead_id, e_created_at=every.created_at, e_key=every[key]
        )
        pair = lead.inner_join(
            earlier,
            [
                lead.r_key == earlier.e_key,
                (earlier.e_created_at < lead.r_created_at)
                | (
                    (earlier.e_created_at == lead.r_created_at)
                    & (earlier.e_lead_id < lead.r_lead_id)
                ),
                earlier.e_created_at >= lead.r_created_at - ibis.interval(days=repeat_days),
            ],
        )
        pairs.append(pair.select("r_lead_id", "e_lead_id"))
    same_person = ibis.union(*pairs, distinct=True)
    return same_person.group_by("r_lead_id").agg(earlier_requests=same_person.count())


def _segment_history(con, leads: ir.Table) -> ir.Table:
    """Per lead: ``h_lead_id``, won and closed deals of its segment and of all segments
    closed before it (``segment_won``, ``segment_closed``, ``overall_won``,
    ``overall_closed``)."""
    deals = con.table("deals")
    closed = deals.filter(deals.status.isin(["won", "lost"]), deals.closed_at.notnull())
    events = ibis.union(
        leads.select(
            h_lead_id=leads.lead_id,
            industry=leads.industry,
            company_size=leads.company_size,
            at=leads.created_at,
            after=ibis.literal(0, type="int8"),
            won=ibis.literal(0, type="int64"),
            closed=ibis.literal(0, type="int64"),
        ),
        closed.select(
            h_lead_id=ibis.null("string"),
            industry=closed.industry.fill_null(UNKNOWN),
            company_size=closed.company_size.fill_null(UNKNOWN),
            at=closed.closed_at,
            after=ibis.literal(1, type="int8"),
            won=(closed.status == "won").cast("int64"),
            closed=ibis.literal(1, type="int64"),
        ),
        distinct=False,
    )
    # a lead sorts before the deals closed at its own instant (after = 1): the running sums
    # at its row count the deals with closed_at < created_at only; leads tied with it add 0
    order = [events.at, events.after]
    segment = ibis.window(
        group_by=[events.industry, events.company_size], order_by=order, rows=(None, 0)
    )
    overall = ibis.window(order_by=order, rows=(None, 0))
    events = events.mutate(
        segment_won=events.won.sum().over(segment),
        segment_closed=events.closed.sum().over(segment),
        overall_won=events.won.sum().over(overall),
        overall_closed=events.closed.sum().over(overall),
    )
    return events.filter(events.after == 0).select(
        "h_lead_id", "segment_won", "segment_closed", "overall_won", "overall_closed"
    )


def as_of_features(
    con,
    as_of: datetime | None = None,
    *,
    prior_strength: float = 20.0,
    repeat_days: int = 30,
) -> ir.Table:
    """Features of every lead from what was known when it arrived (see module doc).

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding ``leads``, ``visits`` and ``deals``.
    as_of : datetime, optional
        Only leads created at or before this time (features never read rows from
        after a lead's own ``created_at``, so this only limits the rows).
    prior_strength : float
        ``m``, pseudo-deals of the smoothing prior of the segment win rate.
    repeat_days : int
        Days back within which a request of the same person counts.

    Returns
    -------
    ibis.Table
        :data:`AS_OF_FEATURE_COLUMNS`, one row per lead, ordered by ``created_at``
        then ``lead_id``:

        * ``site_tracked`` (0/1: a visitor id), ``visits_before``,
          ``pageviews_before``, ``duration_before_s`` (seconds, double),
          ``pricing_viewed`` (0/1), ``days_first_visit_to_lead`` (days, double),
          ``channels_distinct``, ``first_channel``, ``last_channel`` over the
          visitor's visits with ``visit_start < created_at`` (0 and
          :data:`NO_VISITS` without any);
        * ``call_duration_s`` (seconds, 0 if empty), ``call_lost``,
          ``phone_present``, ``email_present`` (0/1), ``lead_type``;
        * ``earlier_requests`` (see module doc);
        * with ``w_s``, ``n_s`` won and closed deals of the lead's segment and
          ``W``, ``N`` of all segments closed before ``created_at``:
          ``prior = (W + 1) / (N + 2)``,
          ``segment_win_rate = (w_s + m * prior) / (n_s + m)``,
          ``segment_closed_deals = n_s``;
        * ``region``, ``industry``, ``company_size`` (:data:`UNKNOWN` if empty).

        Counts and flags are int64.
    """
    leads = _leads(con, as_of)
    site = _site_behaviour(con, leads)
    earlier = _earlier_requests(con, leads, repeat_days)
    history = _segment_history(con, leads)
    out = leads.left_join(site, leads.lead_id == site.s_lead_id)
    out = out.left_join(earlier, out.lead_id == earlier.r_lead_id)
    out = out.inner_join(history, out.lead_id == history.h_lead_id)
    m = float(prior_strength)
    prior = (out.overall_won.fill_null(0).cast("float64") + 1.0) / (
        out.overall_closed.fill_null(0).cast("float64") + 2.0
    )
    segment_won = out.segment_won.fill_null(0)
    segment_closed = out.segment_closed.fill_null(0)
    return out.select(
        "lead_id",
        "created_at",
        site_tracked=out.visitor_id.notnull().cast("int64"),
        visits_before=out.visits_before.fill_null(0).cast("int64"),
        pageviews_before=out.pageviews_before.fill_null(0).cast("int64"),
        duration_before_s=out.duration_before_s.fill_null(0).cast("float64"),
        pricing_viewed=out.pricing_viewed.fill_null(0).cast("int64"),
        days_first_visit_to_lead=out.days_first_visit_to_lead.fill_null(0.0),
        channels_distinct=out.channels_distinct.fill_null(0).cast("int64"),
        call_duration_s=out.call_duration_s.fill_null(0).cast("float64"),
        call_lost=out.call_lost.fill_null(False).cast("int64"),
        phone_present=out.phone_hash.notnull().cast("int64"),
        email_present=out.email_hash.notnull().cast("int64"),
        earlier_requests=out.earlier_requests.fill_null(0).cast("int64"),
        segment_win_rate=(segment_won.cast("float64") + m * prior)
        / (segment_closed.cast("float64") + m),
        segment_closed_deals=segment_closed.cast("int64"),
        lead_type=out.lead_type,
        first_channel=out.first_channel.fill_null(NO_VISITS),
        last_channel=out.last_channel.fill_null(NO_VISITS),
        region=out.region,
        industry=out.industry,
        company_size=out.company_size,
    ).order_by(["created_at", "lead_id"])


def past_deal_outcomes(con) -> ir.Table:
    """Closed deals of known leads, for the similarity to past deals.

    Returns
    -------
    ibis.Table
        :data:`PAST_DEAL_COLUMNS`: ``lead_id``, ``closed_at``, ``won`` (int64: 1
        won, 0 lost) of each deal won or lost with a ``closed_at`` and a
        ``lead_id``; ordered by ``closed_at`` then ``deal_id``.
    """
    deals = con.table("deals")
    closed = deals.filter(
        deals.status.isin(["won", "lost"]), deals.closed_at.notnull(), deals.lead_id.notnull()
    )
    closed = closed.order_by(["closed_at", "deal_id"])
    return closed.select("lead_id", "closed_at", won=(closed.status == "won").cast("int64"))


def lead_field_values(
    con, fields: list[str], *, history: bool, grace_hours: float = 1.0
) -> ir.Table:
    """The value of each named CRM field of each lead known when it arrived.

    From the key/value table ``lead_fields(lead_id, field, value, recorded_at)``
    and, with ``history``, its replaced versions ``history.lead_fields``: per lead
    and field the value with the latest ``recorded_at`` at or before the lead's
    ``created_at + grace_hours``; of versions recorded at the same instant the
    current one (``lead_fields``), then the greatest value.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding ``leads`` and ``lead_fields`` (and ``history.lead_fields``).
    fields : list of str
        Field names wanted.
    history : bool
        Read ``history.lead_fields`` too.
    grace_hours : float
        Rows recorded up to this long after ``created_at`` count as known at arrival.

    Returns
    -------
    ibis.Table
        ``lead_id``, ``field``, ``value`` (text): one row per lead and field with
        a value known at arrival. Unordered.
    """
    columns = ("lead_id", "field", "value", "recorded_at")
    current = con.table("lead_fields").select(*columns).mutate(current=ibis.literal(1))
    versions = current
    if history:
        old = con.table("lead_fields", database="history").select(*columns)
        versions = ibis.union(current, old.mutate(current=ibis.literal(0)), distinct=False)
    versions = versions.filter(versions.field.isin(list(fields)))
    leads = con.table("leads")
    leads = leads.select(l_lead_id=leads.lead_id, l_created_at=leads.created_at)
    micros = int(round(grace_hours * 3_600_000_000))
    # whole seconds where they are (ClickHouse has no sub-second intervals)
    if micros % 1_000_000 == 0:
        grace = ibis.interval(micros // 1_000_000, unit="s")
    else:
        grace = ibis.interval(micros, unit="us")
    known = versions.inner_join(
        leads,
        [
            versions.lead_id == leads.l_lead_id,
            versions.recorded_at <= leads.l_created_at + grace,
        ],
    )
    latest = ibis.row_number().over(
        group_by=[known.lead_id, known.field],
        order_by=[known.recorded_at.desc(), known.current.desc(), known.value.desc()],
    )
    known = known.mutate(rank=latest)
    return known.filter(known.rank == 0).select("lead_id", "field", "value")


SQL_TARGET_COLUMNS = ("lead_id", "sql")
"""Columns of :func:`sql_within_window`, in order."""


def latest_event_time(con) -> ir.Scalar:
    """Latest event time in the warehouse: the end of what the data can show.

    Returns
    -------
    ibis.Scalar
        ``max(visits.visit_start, leads.created_at, deal_stages.entered_at,
        deals.closed_at)`` (timestamp); NULL when all four tables are empty.
    """
    parts = [
        con.table(table).aggregate(at=con.table(table)[column].cast("timestamp").max())
        for table, column in (
            ("visits", "visit_start"),
            ("leads", "created_at"),
            ("deal_stages", "entered_at"),
            ("deals", "closed_at"),
        )
    ]
    return ibis.union(*parts, distinct=False).at.max()


def sql_within_window(con, window_days: float, end: datetime, sql_stages) -> ir.Table:
    """Whether each lead reached SQL within ``window_days`` of its creation.

    ``sql = 1`` if a deal of the lead (``deals.lead_id``) entered one of
    ``sql_stages`` (per ``deal_stages``) at or before ``created_at +
    window_days`` (to the microsecond), else 0; leads without such a deal are 0.
    Only leads whose window ends at or before ``end`` (a complete window).

    Returns
    -------
    ibis.Table
        :data:`SQL_TARGET_COLUMNS`: ``lead_id``, ``sql`` (int64 0/1); ordered by
        ``created_at`` then ``lead_id``.
    """
    leads = con.table("leads")
    window = ibis.interval(int(round(window_days * MICROSECONDS_PER_DAY)), unit="us")
    lead = leads.select(
        l_lead_id=leads.lead_id,
        l_created_at=leads.created_at,
        window_end=leads.created_at + window,
    )
    deals = con.table("deals")
    deals = deals.filter(deals.lead_id.notnull()).select("deal_id", "lead_id")
    stages = con.table("deal_stages")
    stages = stages.filter(stages.stage.isin(list(sql_stages))).select("deal_id", "entered_at")
    reached = deals.inner_join(stages, "deal_id")
    reached = reached.group_by("lead_id").aggregate(sql_at=reached.entered_at.min())
    joined = lead.left_join(reached, lead.l_lead_id == reached.lead_id)
    joined = joined.filter(joined.window_end <= ibis.literal(end, type="timestamp"))
    joined = joined.order_by(["l_created_at", "l_lead_id"])
    return joined.select(
        lead_id=joined.l_lead_id,
        sql=(joined.sql_at <= joined.window_end).fill_null(False).cast("int64"),
    )
