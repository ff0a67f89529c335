"""Figures of the ad hierarchy (channel → campaign → ad group → creative), portable.

The counts of :func:`analytics.metrics.drilldown.drilldown` and
:func:`analytics.metrics.drilldown.campaign_weekly` (which run these expressions
and add the ratios, the sort and the week grid), and so of the snapshot's
``campaigns`` and ``campaign_weekly`` (the campaign movers and anomalies of
:mod:`analytics.metrics.changes`). Each figure is grouped by its own record's keys:

* ``spend``: Σ ``spend.cost`` dated in the days by ``spend.channel``,
  ``campaign``, ``ad_group``, ``creative`` as recorded (required columns), RUB;
* ``visits``: the visits started in the days by their ``channel``,
  ``utm_campaign``, ``utm_term``, ``utm_content`` (an empty or missing UTM
  value is :data:`~analytics.transforms.stitching.UNDETERMINED`);
* ``leads``, ``mql``, ``sql_leads``, ``sales``, ``revenue``: the cohort of
  leads created in the days with the flags of
  :func:`~analytics.transforms.lead_facts.lead_flag_table` (channel and
  campaign as there; ad group and creative the ``utm_term``/``utm_content``
  of the lead's visit, undetermined without one);
* ``sales_booked``, ``revenue_booked``: deals won in the days
  (:func:`~analytics.transforms.booked_deals.closed_deal_table`), each in the
  row of its lead's visit (``deals.lead_id`` → ``leads.visit_id`` → the
  visit's channel and UTM; undetermined without one), RUB.

The snapshot's campaign rows (:func:`campaign_figures`) are the campaign rows of
the same figures for several windows in one query, the cohort's leads counted by
:func:`~analytics.transforms.lead_facts.lead_channels` (no outcome flags).

The weekly series (:func:`campaign_week_counts`) groups spend by
``spend.channel`` and ``campaign`` and the leads by the channel and
``utm_campaign`` of the lead's visit, by the Monday of the ISO week.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from analytics.transforms.booked_deals import closed_deal_table
from analytics.transforms.funnel_facts import count, join_sides, money
from analytics.transforms.lead_facts import lead_channels, lead_flag_table
from analytics.transforms.stitching import UNDETERMINED, visits_of_leads
from analytics.transforms.time_keys import Windows, day_start, tagged, week_start, window_of

LEVELS = ("channel", "campaign", "ad_group", "creative")
"""The hierarchy, top to bottom (ad group = keyword = ``utm_term``)."""

VISIT_COLUMNS = {
    "channel": "channel",
    "campaign": "utm_campaign",
    "ad_group": "utm_term",
    "creative": "utm_content",
}
"""Level → the ``visits`` column that holds it."""

HIERARCHY_COUNT_COLUMNS = (
    "spend",
    "visits",
    "leads",
    "mql",
    "sql_leads",
    "sales",
    "revenue",
    "sales_booked",
    "revenue_booked",
)
"""Figures of a row of :func:`hierarchy_figures` (after the levels), in order."""

_MONEY = ("spend", "revenue", "revenue_booked")

CAMPAIGN_FIGURE_COLUMNS = (
    "window",
    "channel",
    "campaign",
    "visits",
    "leads",
    "spend",
    "sales_booked",
    "revenue_booked",
)
"""Columns of :func:`campaign_figures`, in order."""

CAMPAIGN_WEEK_COLUMNS = ("week_start", "channel", "campaign", "spend", "leads")
"""Columns of :func:`campaign_week_counts`, in order."""


def _utm(value: ir.StringValue) -> ir.StringValue:
    """A UTM value, :data:`UNDETERMINED` when empty or missing."""
    return ibis.coalesce(value.nullif(""), ibis.literal(UNDETERMINED))


def levels_to(depth: str) -> list[str]:
    """The levels of :data:`LEVELS` down to ``depth``; ValueError for another name."""
    if depth not in LEVELS:
        raise ValueError(f"depth must be one of {', '.join(LEVELS)}, got {depth!r}")
    return list(LEVELS[: LEVELS.index(depth) + 1])


def _lead_places(con, lead_ids: ir.Column) -> ir.Table:
    """``p_lead_id`` and the channel and UTM of the lead's visit (one row per lead),
    for the leads ``lead_ids`` holds."""
    leads = con.table("leads")
    leads = leads.filter(leads.lead_id.isin(lead_ids))
    lead = leads.group_by(p_lead_id=leads.lead_id).agg(p_visit_id=leads.visit_id.arbitrary())
    visits = visits_of_leads(con)  # the run's mart of the leads' visits, else visits
    # only the visits these leads came from (a semi-join: a scan of one column), so the
    # dedupe below groups at most one row per lead, not every visit (10M at 10M visits)
    visits = visits.semi_join(leads, visits.visit_id == leads.visit_id)
    visit = visits.group_by(v_visit_id=visits.visit_id).agg(
        **{f"v_{level}": visits[column].arbitrary() for level, column in VISIT_COLUMNS.items()}
    )
    out = lead.left_join(visit, lead.p_visit_id == visit.v_visit_id)
    return out.select("p_lead_id", **{level: _utm(out[f"v_{level}"]) for level in LEVELS})


def _spend_side(con, windows: Windows, keys: list[str]) -> ir.Table:
    spend = con.table("spend")
    spend = tagged(spend, spend.date, windows, days=True)
    return spend.group_by(["window", *keys]).agg(spend=spend.cost.sum())


def _visit_side(con, windows: Windows, keys: list[str]) -> ir.Table:
    visits = con.table("visits")
    visits = tagged(visits, visits.visit_start, windows)
    return visits.group_by(
        window=visits.window,
        channel=visits.channel,
        **{level: _utm(visits[VISIT_COLUMNS[level]]) for level in keys[1:]},
    ).agg(visits=visits.count())


def _booked_side(con, windows: Windows, keys: list[str]) -> ir.Table:
    won = closed_deal_table(con, *windows[0], more=windows[1:])
    won = won.filter(won.outcome == "won")
    won = won.mutate(window=window_of(won.closed_at, windows))
    places = _lead_places(con, won.lead_id)
    won = won.left_join(places, won.lead_id == places.p_lead_id)
    undetermined = ibis.literal(UNDETERMINED)
    return won.group_by(
        window=won.window, **{level: ibis.coalesce(won[level], undetermined) for level in keys}
    ).agg(sales_booked=won.count(), revenue_booked=won.amount.fill_null(0.0).sum())


def _figures(out: ir.Table, keys: list[str], names: Sequence[str]) -> ir.Table:
    """The keys and the ``names`` of :func:`join_sides`' output, zero where missing."""
    return out.select(
        *keys, **{name: money(out, name) if name in _MONEY else count(out, name) for name in names}
    )


HIERARCHY_FIGURE_COLUMNS = ("depth", "window", *LEVELS, *HIERARCHY_COUNT_COLUMNS)
"""Columns of :func:`hierarchy_figures`, in order."""


def _visit_places(con, ids: ir.Table) -> ir.Table:
    """``v_visit_id`` and the channel and UTM columns (``v_<level>``, as recorded) of the
    visits whose id is in ``ids.vid``: one row per visit id, one scan of ``visits``."""
    visits = visits_of_leads(con)  # ids.vid are leads' visit ids
    # a semi-join probing the visit ids: only the visits of the leads asked for are
    # grouped (a few thousand), not every visit (9.9M at 10M visits)
    visits = visits.semi_join(ids, visits.visit_id == ids.vid)
    return visits.group_by(v_visit_id=visits.visit_id).agg(
        **{f"v_{level}": visits[column].arbitrary() for level, column in VISIT_COLUMNS.items()}
    )


def hierarchy_figures(
    con,
    windows: Windows,
    depths: Sequence[str],
    definitions: Any,
) -> ir.Table:
    """Spend, visits, the lead cohort and the booked deals per row of the hierarchy, for
    several windows and depths in one query.

    The rows of depth ``d`` and window ``i`` are those of the drill-down of the days
    ``windows[i]`` down to ``d`` (module docstring; one row per combination seen in
    any of the four figures). Each source is read once for all windows and depths:
    the visits of the windows are counted per creative and those counts summed per
    coarser depth (integers: exact); the cohort's leads (flags of
    :func:`~analytics.transforms.lead_facts.lead_flag_table` over the span of the
    windows, each lead in the window of its ``created_at``), the won deals and the
    spend rows are grouped per depth from their rows, so every money sum adds the
    same records as a query of one window and depth. The visits of the cohort's
    leads and of the won deals' leads are looked up in one semi-join.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    windows : sequence of (start, stop)
        Days ``[start, stop)`` (dates), not overlapping; a record counts in the
        first window holding it.
    depths : sequence of {"channel", "campaign", "ad_group", "creative"}
        Depths of the rows (each once).
    definitions : analytics.metrics.definitions.Definitions
        MQL/SQL definitions (see :func:`~analytics.transforms.lead_facts.lead_flag_table`).

    Returns
    -------
    ibis.Table
        :data:`HIERARCHY_FIGURE_COLUMNS`: ``depth`` (its name), ``window`` (index
        in ``windows``), the levels (NULL below ``depth``), then
        :data:`HIERARCHY_COUNT_COLUMNS` (zero where a figure has nothing; money
        RUB float, counts int64). Unordered.

    Raises
    ------
    ValueError
        For an unknown or repeated depth, or no window.
    """
    depths = list(depths)
    for depth in depths:
        levels_to(depth)
    if not depths or len(set(depths)) != len(depths):
        raise ValueError(f"depths must be distinct levels, got {depths!r}")
    if not windows:
        raise ValueError("windows must hold at least one (start, stop)")
    first = min(start for start, _ in windows)
    last = max(stop for _, stop in windows)
    undetermined = ibis.literal(UNDETERMINED)

    # the cohort (leads created in the windows, one row per lead) and its visit ids
    leads = con.table("leads")
    leads = leads.filter(leads.created_at >= day_start(first), leads.created_at < day_start(last))
    cohort = leads.group_by(c_lead_id=leads.lead_id).agg(c_visit_id=leads.visit_id.arbitrary())
    # the won deals of the windows (each in the window of its close) and their leads' visits
    won = closed_deal_table(con, *windows[0], more=windows[1:])
    won = won.filter(won.outcome == "won")
    won = won.mutate(window=window_of(won.closed_at, windows))
    booked = con.table("leads")
    booked = booked.filter(booked.lead_id.isin(won.lead_id))
    booked = booked.group_by(p_lead_id=booked.lead_id).agg(p_visit_id=booked.visit_id.arbitrary())
    ids = ibis.union(
        cohort.select(vid=cohort.c_visit_id),
        booked.select(vid=booked.p_visit_id),
        distinct=True,
    )

    # one record per lead of the cohort (its flags; channel and campaign as the flags
    # carry them) and per won deal; the visit of each looked up once, below
    flags = lead_flag_table(con, first, last, definitions)
    flags = tagged(flags, flags.created_at, windows)
    flags = flags.left_join(cohort, flags.lead_id == cohort.c_lead_id)
    won = won.left_join(booked, won.lead_id == booked.p_lead_id)
    no_text = ibis.null("string")
    people = ibis.union(
        flags.select(
            kind=ibis.literal("lead"),
            window=flags.window,
            visit_id=flags.c_visit_id,
            l_channel=flags.channel,
            l_campaign=flags.campaign,
            is_mql=flags.is_mql,
            is_sql=flags.is_sql,
            is_won=flags.is_won,
            money=flags.revenue.cast("float64"),
        ),
        won.select(
            kind=ibis.literal("won"),
            window=won.window,
            visit_id=won.p_visit_id,
            l_channel=no_text,
            l_campaign=no_text,
            is_mql=ibis.literal(False),
            is_sql=ibis.literal(False),
            is_won=ibis.literal(False),
            money=won.amount.cast("float64").fill_null(0.0),
        ),
        distinct=False,
    )
    places = _visit_places(con, ids)
    people = people.left_join(places, people.visit_id == places.v_visit_id)
    is_lead = people.kind == "lead"
    people = people.select(
        "kind",
        "window",
        channel=ibis.cases(
            (is_lead, people.l_channel),
            else_=ibis.coalesce(_utm(people.v_channel), undetermined),
        ),
        campaign=ibis.cases(
            (is_lead, people.l_campaign),
            else_=ibis.coalesce(_utm(people.v_campaign), undetermined),
        ),
        ad_group=_utm(people.v_ad_group),
        creative=_utm(people.v_creative),
        n=ibis.literal(1, type="int64"),
        money=people.money,
        is_mql=people.is_mql,
        is_sql=people.is_sql,
        is_won=people.is_won,
    )

    spend = con.table("spend")
    spend = tagged(spend, spend.date, windows, days=True)
    spend = spend.select(
        kind=ibis.literal("spend"),
        window=spend.window,
        channel=spend.channel,
        campaign=spend.campaign,
        ad_group=spend.ad_group,
        creative=spend.creative,
        n=ibis.literal(1, type="int64"),
        money=spend.cost.cast("float64"),
        is_mql=ibis.literal(False),
        is_sql=ibis.literal(False),
        is_won=ibis.literal(False),
    )
    # the visits counted per window and creative (the other depths sum these counts)
    visits = con.table("visits")
    visits = tagged(visits, visits.visit_start, windows)
    visits = visits.group_by(
        window=visits.window,
        channel=visits.channel,
        **{level: _utm(visits[VISIT_COLUMNS[level]]) for level in LEVELS[1:]},
    ).agg(n=visits.count())
    visits = visits.select(
        kind=ibis.literal("visit"),
        window=visits.window,
        channel=visits.channel,
        campaign=visits.campaign,
        ad_group=visits.ad_group,
        creative=visits.creative,
        n=visits.n.cast("int64"),
        money=ibis.null("float64"),
        is_mql=ibis.literal(False),
        is_sql=ibis.literal(False),
        is_won=ibis.literal(False),
    )
    records = ibis.union(people, spend, visits, distinct=False)

    # every record once per depth (a cross join with the depths: each source above is
    # read once), its levels below the depth NULL, then one grouping
    grid = ibis.memtable({"depth": depths})
    rows = records.cross_join(grid)
    cut = {}
    for level in LEVELS:
        kept = [rows.depth == depth for depth in depths if level in levels_to(depth)]
        if len(kept) < len(depths):
            cut[level] = (
                ibis.cases(*((shown, rows[level]) for shown in kept), else_=no_text)
                if kept
                else no_text
            )
    rows = rows.mutate(**cut)
    kind = rows.kind
    out = rows.group_by(["depth", "window", *LEVELS]).agg(
        spend=rows.money.sum(where=kind == "spend"),
        visits=rows.n.sum(where=kind == "visit"),
        leads=rows.count(where=kind == "lead"),
        mql=rows.count(where=(kind == "lead") & rows.is_mql),
        sql_leads=rows.count(where=(kind == "lead") & rows.is_sql),
        sales=rows.count(where=(kind == "lead") & rows.is_won),
        revenue=rows.money.sum(where=kind == "lead"),
        sales_booked=rows.count(where=kind == "won"),
        revenue_booked=rows.money.sum(where=kind == "won"),
    )
    return out.select(
        "depth",
        window=out.window.cast("int64"),
        **{level: out[level] for level in LEVELS},
        **{
            name: money(out, name) if name in _MONEY else count(out, name)
            for name in HIERARCHY_COUNT_COLUMNS
        },
    )


def campaign_figures(con, windows: Windows) -> ir.Table:
    """The campaign rows of :func:`hierarchy_figures` for several windows, without the
    cohort's outcomes: one query for a period and the ones it is compared with.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    windows : sequence of (start, stop)
        Days ``[start, stop)`` (dates); a record counts in the first window holding it.

    Returns
    -------
    ibis.Table
        :data:`CAMPAIGN_FIGURE_COLUMNS`: ``window`` (index in ``windows``),
        ``channel``, ``campaign`` and ``visits``, ``leads`` (the cohort:
        leads created in the window), ``spend``, ``sales_booked`` and
        ``revenue_booked`` as in :func:`hierarchy_figures` at depth
        ``campaign``; one row per window and campaign with any of them. Unordered.
    """
    keys = ["window", "channel", "campaign"]
    first = min(start for start, _ in windows)
    last = max(stop for _, stop in windows)
    leads = lead_channels(con, first, last)
    leads = tagged(leads, leads.created_at, windows)
    lead_side = leads.group_by(keys).agg(leads=leads.count())
    sides = [side(con, windows, keys[1:]) for side in (_spend_side, _booked_side, _visit_side)]
    out = join_sides(*sides, lead_side, keys=keys)
    return _figures(out, keys, CAMPAIGN_FIGURE_COLUMNS[3:])


def campaign_week_counts(con, start: date, stop: date) -> ir.Table:
    """Spend and leads of ``[start, stop)`` per ISO week, channel and campaign.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive).

    Returns
    -------
    ibis.Table
        :data:`CAMPAIGN_WEEK_COLUMNS`: ``week_start`` (the Monday, a date),
        ``channel``, ``campaign`` (an empty campaign is undetermined), ``spend``
        (RUB, by ``spend.date``) and ``leads`` (distinct leads by
        ``leads.created_at``, in the channel and campaign of the lead's visit,
        undetermined without one); one row per combination with spend or
        leads, zero on the other side. Unordered.
    """
    keys = ["week_start", "channel", "campaign"]
    start_at, stop_at = day_start(start), day_start(stop)
    spend = con.table("spend")
    spend = spend.filter(spend.date >= ibis.literal(start), spend.date < ibis.literal(stop))
    cost = spend.group_by(
        week_start=week_start(spend.date), channel=spend.channel, campaign=_utm(spend.campaign)
    ).agg(spend=spend.cost.sum())

    leads = con.table("leads")
    leads = leads.filter(leads.created_at >= start_at, leads.created_at < stop_at)
    # the leads' visits only: the join below matches nothing else
    visits = visits_of_leads(con).select(
        v_visit_id="visit_id", v_channel="channel", v_utm="utm_campaign"
    )
    lead = leads.left_join(visits, leads.visit_id == visits.v_visit_id)
    lead = lead.group_by(
        week_start=week_start(lead.created_at),
        channel=_utm(lead.v_channel),
        campaign=_utm(lead.v_utm),
    ).agg(leads=lead.lead_id.nunique())

    out = join_sides(cost, lead, keys=keys)
    return out.select(*keys, spend=money(out, "spend"), leads=count(out, "leads"))
