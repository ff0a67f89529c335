"""The DuckDB SQL of the metrics before their port to Ibis, frozen as a test oracle.

Until issue 11 (item 3) the per-lead MQL/SQL flags, segments, influence and the
portable data-quality checks were DuckDB SQL strings in ``analytics.metrics``.
They now run as Ibis expressions (:mod:`analytics.transforms.lead_facts`,
:mod:`analytics.transforms.lead_segments`, :mod:`analytics.transforms.paid_touches`,
:mod:`analytics.transforms.quality_checks`). This module keeps the old code,
copied verbatim (only renamed), so the tests can prove the new code gives the
same columns and values. It is not imported by the library.

The second step of that item ported the booked revenue and the close rule
(``kpi.closed_deals``, ``revenue.booked_*``), the visits and spend of
``kpi.conversion_by`` and the data bounds of ``period`` (see the section
"booked, closed, ..." below), so that the period snapshot runs on PySpark.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from analytics.metrics.definitions import DEFAULT_DEFINITIONS, Definitions
from analytics.metrics.funnel import STAGE_ORDER, UNDETERMINED, funnel_by_channel
from analytics.metrics.period import Period, date_range, previous_period
from analytics.metrics.quality import _percent
from analytics.scoring.features import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    REPEAT_WINDOW_DAYS,
    SIMILARITY_NUMERIC,
    SQL_STAGES,
    TIME_COLUMN,
)
from analytics.scoring.fields import choose_fields, load_params
from analytics.scoring.similarity import SIMILARITY_FEATURES, past_deal_similarity
from analytics.transforms.backends import ibis_backend
from analytics.transforms.booked_deals import closed_deal_table
from analytics.transforms.funnel_facts import count, join_sides, money
from analytics.transforms.lead_facts import lead_flag_table
from analytics.transforms.time_keys import day_start
from analytics.warehouse.schema import LEADS

Windows = Sequence[tuple[date, date]]

LOOKBACK_DAYS = 30
FLAG_COLUMNS = (
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
)
DUPLICATE_WINDOW = timedelta(days=2)

_STAGE_RANK_VALUES = ", ".join(f"('{stage}', {rank})" for rank, stage in enumerate(STAGE_ORDER))
STAGE_RANK_CTE = f"stage_rank(stage, stage_rank) AS (VALUES {_STAGE_RANK_VALUES})"
"""SQL common table ``stage_rank(stage, stage_rank)``: each stage of :data:`STAGE_ORDER`
and its position (0 = new); ``lost`` has no row. For the SQL of modules that do not
go through Ibis (the Ibis form is :func:`analytics.transforms.funnel_facts.stage_rank`)."""


def deal_reach_cte(name: str = "deal_reach") -> str:
    """SQL common table ``<name>(deal_id, reached)``: how far each deal got.

    ``reached`` is the highest ``stage_rank`` of the deal's history
    (``deal_stages``) and current stage (``deals.stage``); a deal none of whose
    stages ranks (e.g. created straight as lost) has no row. The same rule as
    :func:`analytics.transforms.funnel_facts.deal_facts`.

    Parameters
    ----------
    name : str
        Name of the common table.

    Returns
    -------
    str
        ``<name> AS (...)``, to put in a ``WITH`` list after :data:`STAGE_RANK_CTE`,
        which it reads.
    """
    return f"""{name} AS (
    SELECT x.deal_id, max(r.stage_rank) AS reached
    FROM (SELECT deal_id, stage FROM deal_stages UNION ALL SELECT deal_id, stage FROM deals) AS x
    JOIN stage_rank AS r USING (stage)
    GROUP BY x.deal_id
)"""


_LEAD_FACTS_SQL = f"""
WITH {STAGE_RANK_CTE},
cohort AS (
    SELECT lead_id,
           any_value(created_at) AS created_at,
           any_value(lead_type) AS lead_type,
           any_value(visitor_id) AS visitor_id,
           any_value(visit_id) AS visit_id,
           bool_or(phone_hash IS NOT NULL OR email_hash IS NOT NULL) AS has_contact,
           any_value(industry) AS industry,
           any_value(company_size) AS company_size
    FROM leads
    WHERE created_at >= $start::TIMESTAMP AND created_at < $stop::TIMESTAMP
    GROUP BY lead_id
),
-- only the visits the cohort's leads point to: grouping every visit by visit_id
-- would build a hash table of all visits (~3 GB at 10M visits)
visit_attr AS (
    SELECT visit_id,
           arg_min(channel, visit_start) AS channel,
           arg_min(utm_source, visit_start) AS source,
           arg_min(utm_campaign, visit_start) AS campaign
    FROM visits
    WHERE visit_id IN (SELECT visit_id FROM cohort WHERE visit_id IS NOT NULL)
    GROUP BY visit_id
),
{deal_reach_cte()},
deal AS (
    SELECT d.deal_id, any_value(d.lead_id) AS lead_id,
           coalesce(any_value(d.amount), 0) AS amount,
           coalesce(any_value(dr.reached), -1) AS reached,
           bool_or(d.status = 'lost' AND d.loss_reason = ANY($non_target::VARCHAR[]))
               AS non_target
    FROM deals AS d LEFT JOIN deal_reach AS dr USING (deal_id)
    WHERE d.lead_id IS NOT NULL
    GROUP BY d.deal_id
),
lead_deal AS (
    SELECT lead_id, count(*) AS deals, max(reached) AS reached,
           count(*) FILTER (WHERE reached >= {STAGE_ORDER.index("won")}) AS won_deals,
           coalesce(sum(amount) FILTER (WHERE reached >= {STAGE_ORDER.index("won")}), 0)
               AS revenue,
           bool_or(non_target) AS non_target
    FROM deal GROUP BY lead_id
),
behaviour AS (
    SELECT c.lead_id,
           bool_or(v.goal_pricing) AS pricing_viewed,
           sum(v.pageviews) AS pageviews_before
    FROM cohort AS c
    JOIN (
        -- the cohort's visitors in [start - lookback, stop): the join below cannot
        -- match other visits, and filtering first keeps the join input small
        SELECT visitor_id, visit_start, goal_pricing, pageviews FROM visits
        WHERE visit_start >= $start::TIMESTAMP - to_days($lookback::INTEGER)
          AND visit_start < $stop::TIMESTAMP
          AND visitor_id IN (SELECT visitor_id FROM cohort WHERE visitor_id IS NOT NULL)
    ) AS v
      ON v.visitor_id = c.visitor_id
     AND v.visit_start <= c.created_at
     AND v.visit_start >= c.created_at - to_days($lookback::INTEGER)
    GROUP BY c.lead_id
)
SELECT c.lead_id, c.created_at, c.lead_type, c.visitor_id, c.visit_id,
       coalesce(va.channel, '{UNDETERMINED}') AS channel,
       coalesce(va.source, '{UNDETERMINED}') AS source,
       coalesce(va.campaign, '{UNDETERMINED}') AS campaign,
       c.industry, c.company_size, c.has_contact,
       coalesce(b.pricing_viewed, false) AS pricing_viewed,
       coalesce(b.pageviews_before, 0) AS pageviews_before,
       coalesce(ld.deals, 0) AS deals,
       coalesce(ld.reached, -1) AS reached_rank,
       coalesce(ld.won_deals, 0) AS won_deals,
       coalesce(ld.revenue, 0)::DOUBLE AS revenue,
       coalesce(ld.non_target, false) AS is_non_target
FROM cohort AS c
LEFT JOIN visit_attr AS va ON va.visit_id = c.visit_id
LEFT JOIN lead_deal AS ld USING (lead_id)
LEFT JOIN behaviour AS b USING (lead_id)
ORDER BY c.created_at, c.lead_id
"""


def old_lead_flags(con, period: Period, definitions: Definitions | None = None) -> pd.DataFrame:
    """MQL / SQL flags and funnel facts of every lead created in the period.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Leads with ``created_at`` in the period's days (the cohort of
        :mod:`analytics.metrics.funnel`).
    definitions : Definitions, optional
        Defaults to :data:`DEFAULT_DEFINITIONS` (CRM stages).

    Returns
    -------
    pandas.DataFrame
        One row per lead (by ``created_at``, then ``lead_id``):

        * ``lead_id``, ``created_at``, ``lead_type``, ``visitor_id``;
        * ``channel``, ``source``, ``campaign`` -- ``channel``, ``utm_source``,
          ``utm_campaign`` of the lead's visit (``undetermined`` without a
          tracked visit or UTM value);
        * ``has_contact`` -- phone or e-mail present;
        * ``icp_fit``, ``behaviour_fit`` -- the ``rules`` criteria (evaluated
          whatever the method, for inspection; True when a criterion is off);
        * ``crm_mql`` -- a deal reached ``mql_stage``;
        * ``reached_stage`` -- furthest funnel stage any deal of the lead
          reached (missing without a deal or for a deal lost before ``new``);
        * ``is_mql``, ``is_sql`` -- by the definitions; ``is_sql`` implies ``is_mql``;
        * ``is_won`` -- a deal reached ``won``; ``revenue`` -- amount of the won
          deals, RUB;
        * ``is_non_target`` -- a deal was lost with a non-target reason;
        * then the inputs: ``industry``, ``company_size``, ``pricing_viewed``,
          ``pageviews_before`` (pages in the lookback window), ``deals``.
    """
    definitions = definitions or DEFAULT_DEFINITIONS
    rules = definitions.rules
    facts = con.execute(
        _LEAD_FACTS_SQL,
        {
            "start": period.start,
            "stop": period.end_exclusive,
            "lookback": rules.lookback_days,
            "non_target": list(definitions.non_target.loss_reasons),
        },
    ).df()
    rank = facts["reached_rank"].astype("int64")

    def reached(stage: str) -> pd.Series:
        return rank >= STAGE_ORDER.index(stage)

    facts["has_contact"] = facts["has_contact"].astype(bool)
    facts["pricing_viewed"] = facts["pricing_viewed"].astype(bool)
    facts["pageviews_before"] = facts["pageviews_before"].astype("int64")
    if rules.icp_crm_stage:
        icp = reached(rules.icp_crm_stage)
    else:
        icp = pd.Series(True, index=facts.index)
        if rules.industries:
            icp &= facts["industry"].isin(rules.industries)
        if rules.company_sizes:
            icp &= facts["company_size"].isin(rules.company_sizes)
    behaviour = pd.Series(not rules.behaviour_enabled, index=facts.index)
    if rules.pricing_page:
        behaviour |= facts["pricing_viewed"]
    if rules.min_pageviews is not None:
        behaviour |= facts["pageviews_before"] >= rules.min_pageviews
    facts["icp_fit"] = icp.astype(bool)
    facts["behaviour_fit"] = behaviour.astype(bool)
    facts["crm_mql"] = reached(definitions.mql_stage)
    if definitions.mql_method == "crm":
        is_mql = facts["crm_mql"]
    else:
        is_mql = facts["icp_fit"] & facts["behaviour_fit"]
        if rules.require_contact:
            is_mql &= facts["has_contact"]
        if rules.require_crm_stage:
            is_mql &= facts["crm_mql"]
    facts["is_mql"] = is_mql.astype(bool)
    facts["is_sql"] = facts["is_mql"] & reached(definitions.sql_stage)
    facts["is_won"] = facts["won_deals"] > 0
    facts["is_non_target"] = facts["is_non_target"].astype(bool)
    facts["reached_stage"] = [STAGE_ORDER[r] if r >= 0 else None for r in rank]
    inputs = ["industry", "company_size", "pricing_viewed", "pageviews_before", "deals"]
    return facts[list(FLAG_COLUMNS) + inputs].reset_index(drop=True)


UNKNOWN = "unknown"
"""Segment of leads whose dimension is empty on the lead and on its deal."""

_MQL, _SQL, _WON = (STAGE_ORDER.index(s) for s in ("mql", "sql", "won"))

_SEGMENT_LEADS_SQL = f"""
WITH {STAGE_RANK_CTE},
visit_channel AS (
    SELECT visit_id, arg_min(channel, visit_start) AS channel FROM visits GROUP BY visit_id
),
{deal_reach_cte("reach")},
deal AS (
    SELECT d.lead_id,
           count(DISTINCT d.deal_id) FILTER (WHERE r.reached >= {_MQL}) AS mql,
           count(DISTINCT d.deal_id) FILTER (WHERE r.reached >= {_SQL}) AS sql_leads,
           count(DISTINCT d.deal_id) FILTER (WHERE r.reached >= {_WON}) AS sales,
           coalesce(sum(d.amount) FILTER (WHERE r.reached >= {_WON}), 0) AS revenue,
           any_value(nullif(trim(d.region), '')) AS region,
           any_value(nullif(trim(d.industry), '')) AS industry,
           any_value(nullif(trim(d.company_size), '')) AS company_size
    FROM deals AS d LEFT JOIN reach AS r USING (deal_id)
    WHERE d.lead_id IS NOT NULL
    GROUP BY d.lead_id
),
lead AS (
    SELECT l.lead_id, any_value(l.created_at) AS created_at,
           coalesce(any_value(vc.channel), '{UNDETERMINED}') AS channel,
           any_value(nullif(trim(l.region), '')) AS region,
           any_value(nullif(trim(l.industry), '')) AS industry,
           any_value(nullif(trim(l.company_size), '')) AS company_size
    FROM leads AS l LEFT JOIN visit_channel AS vc ON vc.visit_id = l.visit_id
    WHERE l.created_at >= $start::TIMESTAMP AND l.created_at < $stop::TIMESTAMP
    GROUP BY l.lead_id
)
SELECT l.lead_id, l.created_at, l.channel,
       coalesce(l.region, d.region, '{UNKNOWN}') AS region,
       coalesce(l.industry, d.industry, '{UNKNOWN}') AS industry,
       coalesce(l.company_size, d.company_size, '{UNKNOWN}') AS company_size,
       coalesce(d.mql, 0) AS mql, coalesce(d.sql_leads, 0) AS sql_leads,
       coalesce(d.sales, 0) AS sales, coalesce(d.revenue, 0)::DOUBLE AS revenue
FROM lead AS l LEFT JOIN deal AS d USING (lead_id)
ORDER BY l.created_at, l.lead_id
"""


def _ratio(numerator: pd.Series, denominator: pd.Series, scale: float = 1.0) -> pd.Series:
    """``numerator / denominator x scale``; NaN where the denominator is 0."""
    den = denominator.astype("float64")
    return numerator.astype("float64") * scale / den.where(den != 0, np.nan)


def old_segment_leads(con, period: Period) -> pd.DataFrame:
    """Leads of the period with their segment, funnel outcome and allocated spend.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days of the lead cohort.

    Returns
    -------
    pandas.DataFrame
        One row per lead: ``lead_id``, ``created_at``, ``channel``,
        ``region``, ``industry``, ``company_size``, ``mql``, ``sql_leads``,
        ``sales`` (its deals that reached mql, sql, won), ``revenue`` (RUB)
        and ``spend``: the CPL of its channel in the period (RUB; 0 for a
        channel without spend).
    """
    frame = con.execute(
        _SEGMENT_LEADS_SQL, {"start": period.start, "stop": period.end_exclusive}
    ).df()
    for col in ("mql", "sql_leads", "sales"):
        frame[col] = frame[col].astype("int64")
    frame["revenue"] = frame["revenue"].astype("float64")
    channels = funnel_by_channel(con, period).set_index("channel")
    cpl = channels["cpl"].fillna(0.0)
    frame["spend"] = frame["channel"].map(cpl).fillna(0.0).astype("float64")
    return frame


_WON = STAGE_ORDER.index("won")

_TOUCH_SQL = f"""
WITH {STAGE_RANK_CTE},
{deal_reach_cte("reach")},
visit_owner AS (SELECT visit_id, any_value(visitor_id) AS visitor_id FROM visits GROUP BY visit_id),
lead AS (
    SELECT l.lead_id, any_value(l.created_at) AS created_at,
           coalesce(any_value(l.visitor_id), any_value(vo.visitor_id)) AS visitor_id
    FROM leads AS l LEFT JOIN visit_owner AS vo ON vo.visit_id = l.visit_id
    WHERE l.created_at >= $start::TIMESTAMP AND l.created_at < $stop::TIMESTAMP
    GROUP BY l.lead_id
),
sale AS (
    SELECT d.deal_id, any_value(l.visitor_id) AS visitor_id,
           any_value(l.created_at) AS lead_at, coalesce(any_value(d.amount), 0) AS amount
    FROM deals AS d JOIN reach AS r USING (deal_id) JOIN lead AS l ON l.lead_id = d.lead_id
    WHERE r.reached >= {_WON} AND l.visitor_id IS NOT NULL
    GROUP BY d.deal_id
),
touch AS (
    SELECT s.deal_id, s.amount, v.visit_id, v.visit_start,
           v.utm_campaign AS campaign, coalesce(nullif(trim(v.utm_term), ''), '') AS ad_group
    FROM sale AS s
    JOIN visits AS v
      ON v.visitor_id = s.visitor_id AND v.visit_start <= s.lead_at
     AND ($lookback_days IS NULL OR v.visit_start >= s.lead_at - to_days($lookback_days))
    WHERE coalesce(trim(v.utm_campaign), '') <> ''
)
SELECT deal_id, amount, campaign, ad_group,
       row_number() OVER (PARTITION BY deal_id ORDER BY visit_start DESC, visit_id DESC) = 1
           AS last_paid
FROM touch
"""


def old_sale_touches(
    con, period: Period, lookback_days: int | None = LOOKBACK_DAYS
) -> pd.DataFrame:
    """Paid touches in the paths of the period's sales, one row per touch.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days of the leads whose sales are followed.
    lookback_days : int or None, default 30
        Only visits at most this many days before the lead; ``None``: all.

    Returns
    -------
    pandas.DataFrame
        Columns ``deal_id``, ``amount`` (RUB), ``campaign``, ``ad_group``
        (``utm_term``, empty text if missing) and ``last_paid`` (the sale's
        last paid touch).
    """
    if lookback_days is not None and lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0, got {lookback_days}")
    params = {"start": period.start, "stop": period.end_exclusive, "lookback_days": lookback_days}
    frame = con.execute(_TOUCH_SQL, params).df()
    frame["last_paid"] = frame["last_paid"].astype(bool)
    frame["amount"] = frame["amount"].astype("float64")
    return frame


def _empty(column: str) -> str:
    """SQL: the text column is NULL or blank."""
    return f"coalesce(trim({column}), '') = ''"


def _bounds(period: Period) -> dict:
    return {"start": period.start, "stop": period.end_exclusive}


_DEALS_SQL = f"""
SELECT d.deal_id, d.lead_id, d.created_at, d.status, d.amount,
       {_empty("d.utm_campaign")} AS undetermined_campaign,
       coalesce(NOT {_empty("l.utm_campaign")}, false) AS lead_tracked_campaign,
       l.utm_campaign AS lead_campaign
FROM deals AS d
LEFT JOIN (
    SELECT lead_id, any_value(utm_campaign) AS utm_campaign FROM leads GROUP BY lead_id
) AS l ON l.lead_id = d.lead_id
WHERE d.created_at >= $start::TIMESTAMP AND d.created_at < $stop::TIMESTAMP
ORDER BY d.created_at, d.deal_id
"""


def old_deal_campaigns(con, period: Period) -> pd.DataFrame:
    """CRM deals created in the period with what is known of their campaign.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days of ``deals.created_at``.

    Returns
    -------
    pandas.DataFrame
        One row per deal: ``deal_id``, ``lead_id``, ``created_at``, ``status``,
        ``amount`` (RUB), ``undetermined_campaign`` (``deals.utm_campaign``
        empty), ``lead_tracked_campaign`` (the lead has a campaign),
        ``lead_campaign`` and ``lost_utm`` = lead_tracked_campaign and
        undetermined_campaign.
    """
    frame = con.execute(_DEALS_SQL, _bounds(period)).df()
    for col in ("undetermined_campaign", "lead_tracked_campaign"):
        frame[col] = frame[col].astype(bool)
    frame["lost_utm"] = frame["lead_tracked_campaign"] & frame["undetermined_campaign"]
    return frame


_LEADS_SQL = """
WITH lead AS (
    SELECT lead_id, any_value(created_at) AS created_at, any_value(lead_type) AS lead_type,
           any_value(visit_id) AS visit_id, any_value(phone_hash) AS phone_hash,
           any_value(email_hash) AS email_hash
    FROM leads GROUP BY lead_id
),
repeat_phone AS (
    SELECT lead_id,
           lag(lead_id) OVER w AS previous_lead, created_at - lag(created_at) OVER w AS gap
    FROM lead WHERE phone_hash IS NOT NULL
    WINDOW w AS (PARTITION BY phone_hash ORDER BY created_at, lead_id)
),
repeat_email AS (
    SELECT lead_id,
           lag(lead_id) OVER w AS previous_lead, created_at - lag(created_at) OVER w AS gap
    FROM lead WHERE email_hash IS NOT NULL
    WINDOW w AS (PARTITION BY email_hash ORDER BY created_at, lead_id)
),
with_deal AS (SELECT DISTINCT lead_id FROM deals WHERE lead_id IS NOT NULL),
known_visit AS (SELECT DISTINCT visit_id FROM visits)
SELECT l.lead_id, l.created_at, l.lead_type,
       (l.phone_hash IS NOT NULL OR l.email_hash IS NOT NULL) AS has_contact,
       coalesce(rp.gap <= $window, false) AS repeats_phone,
       coalesce(re.gap <= $window, false) AS repeats_email,
       CASE WHEN rp.gap <= $window AND (re.gap IS NULL OR re.gap > $window OR rp.gap <= re.gap)
            THEN rp.previous_lead
            WHEN re.gap <= $window THEN re.previous_lead END AS duplicate_of,
       wd.lead_id IS NOT NULL AS has_deal,
       kv.visit_id IS NOT NULL AS has_session
FROM lead AS l
LEFT JOIN repeat_phone AS rp USING (lead_id)
LEFT JOIN repeat_email AS re USING (lead_id)
LEFT JOIN with_deal AS wd USING (lead_id)
LEFT JOIN known_visit AS kv ON kv.visit_id = l.visit_id
WHERE l.created_at >= $start::TIMESTAMP AND l.created_at < $stop::TIMESTAMP
ORDER BY l.created_at, l.lead_id
"""


def old_lead_checks(
    con, period: Period, duplicate_window: timedelta = DUPLICATE_WINDOW
) -> pd.DataFrame:
    """Leads created in the period with their data-quality flags.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days of ``leads.created_at``.
    duplicate_window : datetime.timedelta, default 2 days
        A lead repeating the phone or e-mail of the same person's previous
        lead at most this long after it is a duplicate. The previous lead may
        lie before the period.

    Returns
    -------
    pandas.DataFrame
        One row per lead: ``lead_id``, ``created_at``, ``lead_type``,
        ``has_contact`` (phone or e-mail), ``repeats_phone``,
        ``repeats_email``, ``is_duplicate`` (either), ``duplicate_of`` (the
        previous lead it repeats, the closer one if both match),
        ``has_deal``, ``has_session`` (its visit id is in ``visits``),
        ``missing_in_crm`` = not duplicate and no deal,
        ``call_without_session`` = not duplicate, a call and no session.
    """
    params = _bounds(period) | {"window": duplicate_window}
    frame = con.execute(_LEADS_SQL, params).df()
    flags = ["has_contact", "repeats_phone", "repeats_email", "has_deal", "has_session"]
    for col in flags:
        frame[col] = frame[col].astype(bool)
    frame.insert(6, "is_duplicate", frame["repeats_phone"] | frame["repeats_email"])
    first = ~frame["is_duplicate"]
    frame["missing_in_crm"] = first & ~frame["has_deal"]
    frame["call_without_session"] = first & (frame["lead_type"] == "call") & ~frame["has_session"]
    return frame


_SPEND_SQL = f"""
WITH ad_day AS (
    SELECT DISTINCT visit_start::DATE AS date, utm_campaign, utm_term, utm_content
    FROM visits
    WHERE visit_start >= $start::TIMESTAMP AND visit_start < $stop::TIMESTAMP
      AND NOT {_empty("utm_campaign")}
)
SELECT s.date, s.channel, s.campaign, s.ad_group, s.creative, s.clicks, s.cost,
       a.date IS NOT NULL AS has_visits
FROM spend AS s
LEFT JOIN ad_day AS a
  ON a.date = s.date AND a.utm_campaign = s.campaign
 AND a.utm_term IS NOT DISTINCT FROM s.ad_group AND a.utm_content IS NOT DISTINCT FROM s.creative
WHERE s.date >= $start::DATE AND s.date < $stop::DATE
ORDER BY s.date, s.campaign, s.ad_group, s.creative
"""


def old_spend_visits(con, period: Period) -> pd.DataFrame:
    """Spend rows of the period and whether their ad brought any visit that day.

    Returns
    -------
    pandas.DataFrame
        One row per spend row dated in the period: ``date``, ``channel``,
        ``campaign``, ``ad_group``, ``creative``, ``clicks``, ``cost`` (RUB) and
        ``has_visits``: some visit that day has ``utm_campaign = campaign``,
        ``utm_term = ad_group`` and ``utm_content = creative``.
    """
    frame = con.execute(_SPEND_SQL, _bounds(period)).df()
    frame["has_visits"] = frame["has_visits"].astype(bool)
    return frame


_WEEKLY_SQL = """
WITH lead AS (
    SELECT date_trunc('week', any_value(created_at))::DATE AS week_start
    FROM leads
    WHERE created_at >= $start::TIMESTAMP AND created_at < $stop::TIMESTAMP
    GROUP BY lead_id
),
deal AS (
    SELECT date_trunc('week', any_value(created_at))::DATE AS week_start
    FROM deals
    WHERE created_at >= $start::TIMESTAMP AND created_at < $stop::TIMESTAMP
    GROUP BY deal_id
)
SELECT week_start, sum(leads) AS leads, sum(deals) AS deals FROM (
    SELECT week_start, 1 AS leads, 0 AS deals FROM lead
    UNION ALL SELECT week_start, 0, 1 FROM deal
)
GROUP BY week_start
"""


def old_marketing_vs_sales(con, period: Period, weeks: int | None = None) -> pd.DataFrame:
    """Leads counted by marketing vs deals counted by the CRM, by ISO week.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days counted; the first and last week may be partial.
    weeks : int, optional
        Instead of the period, the ``weeks`` ISO weeks up to the one holding
        ``period.end`` (as :func:`analytics.metrics.funnel.weekly_funnel`), e.g. 12 to
        see a trend behind a weekly report; >= 1.

    Returns
    -------
    pandas.DataFrame
        One row per ISO week touching the period, oldest first, weeks without
        data included: ``week`` (``YYYY-Www``), ``week_start`` (Monday),
        ``leads`` (created that week), ``deals`` (created that week),
        ``gap`` = leads - deals, ``gap_share`` = gap / leads x 100% (NaN
        without leads).
    """
    if weeks is not None:
        if weeks < 1:
            raise ValueError(f"weeks must be >= 1, got {weeks}")
        last_monday = period.end - timedelta(days=period.end.weekday())
        period = date_range(last_monday - timedelta(weeks=weeks - 1), period.end)
    counts = con.execute(_WEEKLY_SQL, _bounds(period)).df()
    first = period.start - timedelta(days=period.start.weekday())
    mondays = [first + timedelta(weeks=i) for i in range((period.end - first).days // 7 + 1)]
    counts["week_start"] = pd.to_datetime(counts["week_start"]).dt.date
    out = counts.set_index("week_start").reindex(mondays).fillna(0).astype("int64")
    out["gap"] = out["leads"] - out["deals"]
    out["gap_share"] = [_percent(g, n) for g, n in zip(out["gap"], out["leads"], strict=True)]
    out.insert(0, "week", [f"{m.isocalendar()[0]}-W{m.isocalendar()[1]:02d}" for m in mondays])
    out = out.reset_index(names="week_start")
    out["week_start"] = pd.to_datetime(out["week_start"])
    return out[["week", "week_start", "leads", "deals", "gap", "gap_share"]]


# --------------------------------------------------------------------------- booked, closed,
# conversion_by's visits/spend and the data bounds (issue 11 item 3, second step): the
# DuckDB SQL of analytics.metrics.kpi, revenue and period before their port to Ibis
# (analytics.transforms.booked_deals, conversion_counts, data_span), copied verbatim.

_CLOSED_DEALS_SQL = """
WITH history AS (
    SELECT deal_id,
           min(entered_at) FILTER (WHERE stage = 'won') AS won_at,
           min(entered_at) FILTER (WHERE stage = 'lost') AS lost_at
    FROM deal_stages GROUP BY deal_id
),
lead AS (SELECT lead_id, min(created_at) AS created_at FROM leads GROUP BY lead_id),
deal AS (
    SELECT deal_id, any_value(lead_id) AS lead_id, any_value(manager) AS manager,
           any_value(status) AS status, any_value(stage) AS stage,
           any_value(closed_at) AS closed_at, any_value(loss_reason) AS loss_reason,
           any_value(amount) AS amount
    FROM deals GROUP BY deal_id
),
closed AS (
    SELECT d.deal_id, d.lead_id, d.manager, d.loss_reason, d.amount,
           CASE WHEN d.status = 'won' OR d.stage = 'won' THEN 'won'
                WHEN d.status = 'lost' OR d.stage = 'lost' THEN 'lost' END AS outcome,
           CASE WHEN d.status = 'won' OR d.stage = 'won' THEN coalesce(d.closed_at, h.won_at)
                ELSE coalesce(d.closed_at, h.lost_at) END AS closed_at
    FROM deal AS d LEFT JOIN history AS h USING (deal_id)
)
SELECT c.deal_id, c.lead_id, c.manager, c.outcome, c.closed_at, c.loss_reason,
       c.amount, l.created_at AS lead_created_at,
       date_diff('second', l.created_at, c.closed_at) / 86400.0 AS cycle_days
FROM closed AS c LEFT JOIN lead AS l USING (lead_id)
WHERE c.outcome IS NOT NULL
  AND c.closed_at >= $start::TIMESTAMP AND c.closed_at < $stop::TIMESTAMP
ORDER BY c.closed_at, c.deal_id
"""

NO_MANAGER = "(no manager)"


def old_closed_deals(con, start, stop) -> pd.DataFrame:
    """Was ``analytics.metrics.kpi.closed_deals``."""
    out = con.execute(_CLOSED_DEALS_SQL, {"start": start, "stop": stop}).df()
    out["manager"] = out["manager"].fillna(NO_MANAGER).astype(str)
    out["amount"] = out["amount"].astype("float64")
    out["cycle_days"] = out["cycle_days"].astype("float64")
    return out


_WON_DEALS = f"""
SELECT lead_id, closed_at, amount FROM ({_CLOSED_DEALS_SQL}) AS closed WHERE outcome = 'won'
"""

_BOOKED_SQL = """
WITH won AS (
  SELECT {key} AS grp, count(*) AS sales, coalesce(sum(amount), 0) AS revenue
  FROM ({won}) AS w
  GROUP BY ALL
), cost AS (
  SELECT {spend_key} AS grp, sum(cost) AS spend
  FROM spend WHERE date >= $start::DATE AND date < $stop::DATE
  GROUP BY ALL
)
SELECT coalesce(won.grp, cost.grp) AS grp,
       coalesce(won.sales, 0) AS sales,
       coalesce(won.revenue, 0) AS revenue,
       coalesce(cost.spend, 0) AS spend
FROM won FULL OUTER JOIN cost ON won.grp IS NOT DISTINCT FROM cost.grp
"""


def _old_booked(con, start, stop, weekly: bool) -> pd.DataFrame:
    key = "date_trunc('week', closed_at)::DATE" if weekly else "'total'"
    spend_key = "date_trunc('week', date)::DATE" if weekly else "'total'"
    sql = _BOOKED_SQL.format(key=key, spend_key=spend_key, won=_WON_DEALS)
    return con.execute(sql, {"start": start, "stop": stop}).df()


def _old_add_booked_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["drr"] = _ratio(out["spend"], out["revenue"], 100.0)
    out["romi"] = _ratio(out["revenue"] - out["spend"], out["spend"], 100.0)
    out["cac"] = _ratio(out["spend"], out["sales"])
    out["average_deal"] = _ratio(out["revenue"], out["sales"])
    return out


def old_booked_summary(con, period: Period) -> pd.DataFrame:
    """Was ``analytics.metrics.revenue.booked_summary``."""
    totals = _old_booked(con, period.start, period.end_exclusive, weekly=False).sum()
    out = pd.DataFrame(
        {
            "revenue": [float(totals.get("revenue", 0.0))],
            "sales": [int(totals.get("sales", 0))],
            "spend": [float(totals.get("spend", 0.0))],
        },
        index=pd.Index([period.label], name="period"),
    )
    return _old_add_booked_ratios(out)


def old_booked_weekly(con, period: Period, weeks: int = 12) -> pd.DataFrame:
    """Was ``analytics.metrics.revenue.booked_weekly``."""
    if weeks < 1:
        raise ValueError(f"weeks must be >= 1, got {weeks}")
    last_monday = period.end - timedelta(days=period.end.weekday())
    first_monday = last_monday - timedelta(weeks=weeks - 1)
    counts = _old_booked(con, first_monday, period.end_exclusive, weekly=True)
    mondays = [first_monday + timedelta(weeks=i) for i in range(weeks)]
    counts["grp"] = pd.to_datetime(counts["grp"]).dt.date
    out = counts.set_index("grp").reindex(mondays)[["revenue", "sales", "spend"]].fillna(0)
    out["sales"] = out["sales"].astype("int64")
    out.insert(0, "week_start", pd.to_datetime(mondays))
    return _old_add_booked_ratios(out.reset_index(drop=True))


_BOOKED_BY_CHANNEL_SQL = f"""
WITH lead AS (SELECT lead_id, any_value(visit_id) AS visit_id FROM leads GROUP BY lead_id),
visit AS (SELECT visit_id, any_value(channel) AS channel FROM visits GROUP BY visit_id),
won AS (
  SELECT coalesce(v.channel, $undetermined) AS channel, count(*) AS sales,
         coalesce(sum(d.amount), 0) AS revenue
  FROM ({_WON_DEALS}) AS d
  LEFT JOIN lead AS l ON l.lead_id = d.lead_id
  LEFT JOIN visit AS v ON v.visit_id = l.visit_id
  GROUP BY ALL
), cost AS (
  SELECT coalesce(channel, $undetermined) AS channel, sum(cost) AS spend
  FROM spend WHERE date >= $start::DATE AND date < $stop::DATE
  GROUP BY ALL
)
SELECT coalesce(won.channel, cost.channel) AS channel,
       coalesce(won.sales, 0) AS sales,
       coalesce(won.revenue, 0) AS revenue,
       coalesce(cost.spend, 0) AS spend
FROM won FULL OUTER JOIN cost ON won.channel = cost.channel
"""


def old_booked_by_channel(con, period: Period) -> pd.DataFrame:
    """Was ``analytics.metrics.revenue.booked_by_channel``."""
    params = {"start": period.start, "stop": period.end_exclusive, "undetermined": UNDETERMINED}
    out = con.execute(_BOOKED_BY_CHANNEL_SQL, params).df()
    out["channel"] = out["channel"].astype(str)
    out["sales"] = out["sales"].astype("int64")
    out["revenue"] = out["revenue"].astype("float64")
    out["spend"] = out["spend"].astype("float64")
    out = out.sort_values(["revenue", "channel"], ascending=[False, True], ignore_index=True)
    return _old_add_booked_ratios(out[["channel", "revenue", "sales", "spend"]])


_GROUP_COLUMNS = {
    # by: (lead_flags column, visits column, spend column)
    "channel": ("channel", "channel", "channel"),
    "source": ("source", "utm_source", "utm_source"),
    "campaign": ("campaign", "utm_campaign", "campaign"),
}
_FUNNEL_COUNT_COLUMNS = ("spend", "visits", "leads", "mql", "sql_leads", "sales", "revenue")


def old_conversion_by(
    con, period: Period, by: str = "channel", definitions: Definitions | None = None
) -> pd.DataFrame:
    """Was ``analytics.metrics.kpi.conversion_by`` (its lead side is the Ibis lead flags)."""
    from analytics.metrics.definitions import lead_flags
    from analytics.metrics.funnel import add_ratios
    from analytics.metrics.kpi import add_kpi_ratios

    if by not in _GROUP_COLUMNS:
        raise ValueError(f"by must be one of {', '.join(_GROUP_COLUMNS)}, got {by!r}")
    lead_col, visit_col, spend_col = _GROUP_COLUMNS[by]
    flags = lead_flags(con, period, definitions)
    lead_side = flags.groupby(lead_col).agg(
        leads=("lead_id", "size"),
        mql=("is_mql", "sum"),
        sql_leads=("is_sql", "sum"),
        sales=("is_won", "sum"),
        revenue=("revenue", "sum"),
        non_target=("is_non_target", "sum"),
    )
    params = {"start": period.start, "stop": period.end_exclusive}
    visit_side = con.execute(
        f"SELECT coalesce({visit_col}, '{UNDETERMINED}') AS grp, count(*) AS visits FROM visits"
        " WHERE visit_start >= $start::TIMESTAMP AND visit_start < $stop::TIMESTAMP"
        " GROUP BY grp",
        params,
    ).df()
    spend_side = con.execute(
        f"SELECT coalesce({spend_col}, '{UNDETERMINED}') AS grp, sum(cost) AS spend FROM spend"
        " WHERE date >= $start::DATE AND date < $stop::DATE GROUP BY grp",
        params,
    ).df()
    out = pd.concat(
        [
            spend_side.set_index("grp")["spend"],
            visit_side.set_index("grp")["visits"],
            lead_side,
        ],
        axis=1,
    ).fillna(0)
    for col in ("visits", "leads", "mql", "sql_leads", "sales", "non_target"):
        out[col] = out[col].astype("int64")
    for col in ("spend", "revenue"):
        out[col] = out[col].astype("float64")
    out.index = out.index.astype(str)
    out = out.rename_axis(by).reset_index()
    out = out.sort_values(["leads", by], ascending=[False, True], ignore_index=True)
    columns = [by, *_FUNNEL_COUNT_COLUMNS, "non_target"]
    return add_kpi_ratios(add_ratios(out[columns]))


def old_data_anchor(con):
    """Was ``analytics.metrics.period.data_anchor``."""
    (anchor,) = con.execute("SELECT max(visit_start)::DATE FROM visits").fetchone()
    if anchor is None:
        raise ValueError("the warehouse has no visits: cannot anchor the report period")
    return anchor


def old_data_bounds(con):
    """Was ``analytics.metrics.period.data_bounds``."""
    first, last = con.execute(
        """
        SELECT min(day), max(day) FROM (
            SELECT visit_start::DATE AS day FROM visits
            UNION ALL SELECT created_at::DATE FROM leads
            UNION ALL SELECT date FROM spend
        )
        """
    ).fetchone()
    if first is None:
        raise ValueError("the warehouse has no visits, leads or spend: no data bounds")
    return first, last


def old_first_record_day(con):
    """Was the first-day query of ``analytics.metrics.kpi.revenue_vs_target``."""
    (first_day,) = con.execute(
        "SELECT min(day) FROM (SELECT visit_start::DATE AS day FROM visits"
        " UNION ALL SELECT created_at::DATE FROM leads"
        " UNION ALL SELECT created_at::DATE FROM deals)"
    ).fetchone()
    return first_day


def old_snapshot_figures(con, period: Period, definitions: Definitions | None) -> tuple[dict, dict]:
    """Was ``analytics.metrics.snapshot._figures`` (on the functions above)."""
    from analytics.metrics import kpi
    from analytics.metrics.catalogue import CATALOGUE
    from analytics.metrics.funnel import COHORT_COLUMNS, add_ratios
    from analytics.metrics.revenue import BOOKED_COLUMNS
    from analytics.metrics.snapshot import TOTAL_ONLY

    booked = old_booked_summary(con, period).iloc[0]
    cohort = kpi.kpi_summary(con, period, definitions).iloc[0]
    total: dict[str, float] = {}
    for column, value in cohort.items():
        key = COHORT_COLUMNS.get(str(column), str(column))
        if key in CATALOGUE:
            total[key] = value
    for column in BOOKED_COLUMNS:
        total[column] = booked[column]
    closed = old_closed_deals(con, period.start, period.end_exclusive)
    won = int((closed["outcome"] == "won").sum())
    total["win_rate"] = won * 100.0 / len(closed) if len(closed) else math.nan
    # kpi.cycle_time's rule on the same frame: won deals with a known lead, median days
    cycles = closed.loc[(closed["outcome"] == "won") & closed["cycle_days"].notna(), "cycle_days"]
    total["cycle_days"] = float(cycles.median()) if len(cycles) else math.nan

    by_channel: dict[str, dict[str, float]] = {}
    conversion = old_conversion_by(con, period, "channel", definitions).set_index("channel")
    booked_channels = old_booked_by_channel(con, period).set_index("channel")
    # a channel with booked deals but no cohort rows (or the reverse) has zero sums there
    names = conversion.index.union(booked_channels.index)
    sums = ["spend", "visits", "leads", "mql", "sql_leads", "sales", "revenue", "non_target"]
    conversion = conversion[sums].reindex(names, fill_value=0)
    conversion = kpi.add_kpi_ratios(add_ratios(conversion))
    booked_channels = booked_channels[["revenue", "sales", "spend"]].reindex(names, fill_value=0)
    booked_channels = _old_add_booked_ratios(booked_channels)
    for name in names:
        values = by_channel.setdefault(str(name), {})
        for column, value in conversion.loc[name].items():
            key = COHORT_COLUMNS.get(str(column), str(column))
            if key in CATALOGUE and key not in TOTAL_ONLY:
                values[key] = value
        for column in BOOKED_COLUMNS:
            values[column] = booked_channels.loc[name, column]
    return total, by_channel


def assert_same_frame(new: pd.DataFrame, old: pd.DataFrame) -> None:
    """Same columns, row order, dtypes and values.

    Text columns are compared as Python strings with ``None`` for missing: DuckDB
    hands an all-NULL text column to pandas as ``object`` and a filled one as
    ``str``, whichever query produced it.
    """
    assert list(new.columns) == list(old.columns)
    assert len(new) == len(old)

    def text_as_objects(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.reset_index(drop=True).copy()
        for col in out.columns:
            dtype = out[col].dtype
            if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
                out[col] = pd.Series(
                    [None if pd.isna(v) else str(v) for v in out[col]], dtype=object
                )
        return out

    pd.testing.assert_frame_equal(text_as_objects(new), text_as_objects(old), check_exact=True)


# --------------------------------------------------------------------------- drill-down
# Was analytics.metrics.drilldown (the drill-down and the campaign weekly series, the
# snapshot's ``campaigns`` and ``campaign_weekly``): DuckDB SQL until the third step of
# issue 11 item 3 (analytics.transforms.ad_hierarchy). Copied verbatim but for the names
# and for reading the frozen lead flags and close rule above.

DRILL_LEVELS = ("channel", "campaign", "ad_group", "creative")
DRILL_COUNTS = (
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
DRILL_RATIOS = ("cpl", "cost_per_mql", "cost_per_sql", "romi", "drr", "romi_booked", "drr_booked")

_DRILL_SPEND_SQL = """
SELECT channel, campaign, ad_group, creative, sum(cost) AS spend
FROM spend WHERE date >= $start AND date < $stop
GROUP BY ALL
"""

_DRILL_VISITS_SQL = """
SELECT channel,
       coalesce(nullif(utm_campaign, ''), 'undetermined') AS campaign,
       coalesce(nullif(utm_term, ''), 'undetermined') AS ad_group,
       coalesce(nullif(utm_content, ''), 'undetermined') AS creative,
       count(*) AS visits
FROM visits WHERE visit_start >= $start AND visit_start < $stop
GROUP BY ALL
"""

_DRILL_LEAD_UTM_SQL = """
SELECT l.lead_id,
       coalesce(nullif(v.utm_term, ''), 'undetermined') AS ad_group,
       coalesce(nullif(v.utm_content, ''), 'undetermined') AS creative
FROM leads l LEFT JOIN visits v USING (visit_id)
WHERE l.created_at >= $start AND l.created_at < $stop
"""

_DRILL_LEAD_PLACE_SQL = """
WITH lead AS (SELECT lead_id, any_value(visit_id) AS visit_id FROM leads GROUP BY lead_id),
visit AS (
  SELECT visit_id, any_value(channel) AS channel, any_value(utm_campaign) AS campaign,
         any_value(utm_term) AS ad_group, any_value(utm_content) AS creative
  FROM visits GROUP BY visit_id
)
SELECT l.lead_id,
       coalesce(nullif(v.channel, ''), 'undetermined') AS channel,
       coalesce(nullif(v.campaign, ''), 'undetermined') AS campaign,
       coalesce(nullif(v.ad_group, ''), 'undetermined') AS ad_group,
       coalesce(nullif(v.creative, ''), 'undetermined') AS creative
FROM lead AS l LEFT JOIN visit AS v ON v.visit_id = l.visit_id
"""
"""Channel and UTM of each lead's visit (``undetermined`` without one)."""


def _old_drill_booked(con, period: Period) -> pd.DataFrame:
    """Deals won in the period (:func:`analytics.metrics.kpi.closed_deals`' rule), each in
    the row of its lead's visit: ``DRILL_LEVELS``, ``sales_booked`` (1) and ``revenue_booked``."""
    closed = old_closed_deals(con, period.start, period.end_exclusive)
    won = closed.loc[closed["outcome"] == "won", ["lead_id", "amount"]]
    places = con.execute(_DRILL_LEAD_PLACE_SQL).df()
    won = won.merge(places, on="lead_id", how="left")
    for level in DRILL_LEVELS:
        won[level] = won[level].fillna(UNDETERMINED)
    return won.assign(sales_booked=1, revenue_booked=won["amount"].fillna(0.0).astype(float))


def _drill_ratio(numerator: pd.Series, denominator: pd.Series, scale: float = 1.0) -> pd.Series:
    """The drill-down's ratios through the metrics layer's one ratio helper (checked by hand
    in ``test_catalogue.py``): these oracles freeze the old queries, not the old rounding.
    The drill-down had its own ``(numerator / denominator) x scale``, one ulp away from the
    catalogue's ``numerator x scale / denominator`` for some values (ROMI of the hand-made
    warehouse), until the three copies were made one."""
    from analytics.metrics.catalogue import ratio

    return ratio(numerator, denominator, scale)


def old_drilldown(
    con,
    period: Period,
    depth: str = "creative",
    definitions: Definitions | None = None,
) -> pd.DataFrame:
    """Figures of the period per row of the hierarchy down to ``depth``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    period : Period
    depth : {"channel", "campaign", "ad_group", "creative"}
    definitions : Definitions, optional
        MQL/SQL definitions; default the CRM stages.

    Returns
    -------
    pandas.DataFrame
        Columns: the levels down to ``depth``, :data:`COUNTS` and
        :data:`RATIOS` (module docstring); sorted by spend then leads,
        descending. Rows with nothing at all are absent.

    Raises
    ------
    ValueError
        For an unknown ``depth``.
    """
    if depth not in DRILL_LEVELS:
        raise ValueError(f"depth must be one of {', '.join(DRILL_LEVELS)}, got {depth!r}")
    keys = list(DRILL_LEVELS[: DRILL_LEVELS.index(depth) + 1])
    params = {"start": period.start, "stop": period.end_exclusive}
    spend = con.execute(_DRILL_SPEND_SQL, params).df()
    visits = con.execute(_DRILL_VISITS_SQL, params).df()
    flags = old_lead_flags(con, period, definitions)
    utm = con.execute(_DRILL_LEAD_UTM_SQL, params).df()
    leads = flags.merge(utm, on="lead_id", how="left")
    for column in ("ad_group", "creative"):
        leads[column] = leads[column].fillna(UNDETERMINED)
    leads = leads.assign(
        leads=1,
        mql=leads["is_mql"].astype(int),
        sql_leads=leads["is_sql"].astype(int),
        sales=leads["is_won"].astype(int),
        revenue=leads["revenue"].fillna(0.0).astype(float),
    )
    booked = _old_drill_booked(con, period)
    parts = [
        spend.groupby(keys, dropna=False)[["spend"]].sum(),
        booked.groupby(keys, dropna=False)[["sales_booked", "revenue_booked"]].sum(),
        visits.groupby(keys, dropna=False)[["visits"]].sum(),
        leads.groupby(keys, dropna=False)[["leads", "mql", "sql_leads", "sales", "revenue"]].sum(),
    ]
    frame = pd.concat(parts, axis=1).fillna(0.0).reset_index()
    for column in DRILL_COUNTS:
        if column not in frame:
            frame[column] = 0.0
    for column in ("visits", "leads", "mql", "sql_leads", "sales", "sales_booked"):
        frame[column] = frame[column].astype("int64")
    for column in ("spend", "revenue", "revenue_booked"):
        frame[column] = frame[column].astype("float64")
    frame["cpl"] = _drill_ratio(frame["spend"], frame["leads"])
    frame["cost_per_mql"] = _drill_ratio(frame["spend"], frame["mql"])
    frame["cost_per_sql"] = _drill_ratio(frame["spend"], frame["sql_leads"])
    frame["romi"] = _drill_ratio(frame["revenue"] - frame["spend"], frame["spend"], 100.0)
    frame["drr"] = _drill_ratio(frame["spend"], frame["revenue"], 100.0)
    frame["romi_booked"] = _drill_ratio(
        frame["revenue_booked"] - frame["spend"], frame["spend"], 100.0
    )
    frame["drr_booked"] = _drill_ratio(frame["spend"], frame["revenue_booked"], 100.0)
    frame = frame.sort_values(
        ["spend", "leads", *keys], ascending=[False, False, *[True] * len(keys)]
    )
    return frame[keys + list(DRILL_COUNTS) + list(DRILL_RATIOS)].reset_index(drop=True)


_OLD_CAMPAIGN_WEEKLY_SQL = """
WITH cost AS (
  SELECT date_trunc('week', date)::DATE AS week_start, channel,
         coalesce(nullif(campaign, ''), 'undetermined') AS campaign, sum(cost) AS spend
  FROM spend WHERE date >= $start AND date < $stop
  GROUP BY ALL
), lead AS (
  SELECT date_trunc('week', l.created_at)::DATE AS week_start,
         coalesce(nullif(v.channel, ''), 'undetermined') AS channel,
         coalesce(nullif(v.utm_campaign, ''), 'undetermined') AS campaign,
         count(DISTINCT l.lead_id) AS leads
  FROM leads AS l LEFT JOIN visits AS v USING (visit_id)
  WHERE l.created_at >= $start AND l.created_at < $stop
  GROUP BY ALL
)
SELECT coalesce(c.week_start, l.week_start) AS week_start,
       coalesce(c.channel, l.channel) AS channel,
       coalesce(c.campaign, l.campaign) AS campaign,
       coalesce(c.spend, 0) AS spend, coalesce(l.leads, 0) AS leads
FROM cost AS c FULL OUTER JOIN lead AS l
  ON c.week_start = l.week_start AND c.channel = l.channel AND c.campaign = l.campaign
"""


def old_campaign_weekly(con, period: Period, weeks: int = 13) -> pd.DataFrame:
    """Spend and leads per channel × campaign for the ``weeks`` ISO weeks to ``period.end``.

    The input of the per-campaign anomaly check
    (:func:`analytics.metrics.changes.campaign_anomalies`): the last week
    against the weeks before it.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    period : Period
        The last week is the ISO week holding ``period.end``.
    weeks : int, default 13
        Weeks in the series (the last one and up to 12 before it).

    Returns
    -------
    pandas.DataFrame
        One row per week × channel × campaign that had spend or leads in any
        of the weeks (zeros filled in, so every campaign has every week):
        ``week`` (``YYYY-Www``), ``week_start`` (Monday), ``channel``,
        ``campaign``, ``spend`` (RUB, by ``spend.date``) and ``leads`` (by
        ``leads.created_at``, in the campaign of the lead's visit), oldest
        week first.
    """
    from datetime import timedelta

    if weeks < 1:
        raise ValueError(f"weeks must be >= 1, got {weeks}")
    last_monday = period.end - timedelta(days=period.end.weekday())
    first_monday = last_monday - timedelta(weeks=weeks - 1)
    params = {"start": first_monday, "stop": period.end_exclusive}
    raw = con.execute(_OLD_CAMPAIGN_WEEKLY_SQL, params).df()
    mondays = [first_monday + timedelta(weeks=i) for i in range(weeks)]
    columns = ["week", "week_start", "channel", "campaign", "spend", "leads"]
    if raw.empty:
        return pd.DataFrame(columns=columns)
    raw["week_start"] = pd.to_datetime(raw["week_start"]).dt.date
    pairs = raw[["channel", "campaign"]].drop_duplicates().sort_values(["channel", "campaign"])
    grid = pd.MultiIndex.from_tuples(
        [(m, c, k) for c, k in pairs.itertuples(index=False) for m in mondays],
        names=["week_start", "channel", "campaign"],
    )
    out = (
        raw.groupby(["week_start", "channel", "campaign"])[["spend", "leads"]]
        .sum()
        .reindex(grid, fill_value=0)
        .reset_index()
        .sort_values(["week_start", "channel", "campaign"], ignore_index=True)
    )
    out["spend"] = out["spend"].astype("float64")
    out["leads"] = out["leads"].astype("int64")
    iso = [m.isocalendar() for m in out["week_start"]]
    out["week"] = [f"{y}-W{w:02d}" for y, w, _ in iso]
    out["week_start"] = out["week_start"].map(lambda d: d.isoformat())
    return out[columns]


# --------------------------------------------------------------------------- A/B test split
# Was analytics.metrics.abtest.arm_counts (the visit split in DuckDB SQL, the attribution
# by pandas.merge_asof): ported in the third step of issue 11 item 3
# (analytics.transforms.ab_arms). Verbatim but for the names and the frozen lead flags.

OLD_ARM_COLUMNS = {"creative": "utm_content", "audience": "utm_term"}


def _old_rate_pct(successes: pd.Series, trials: pd.Series) -> pd.Series:
    den = trials.astype("float64")
    return successes.astype("float64") * 100.0 / den.where(den != 0, np.nan)


def old_arm_counts(
    con,
    period: Period,
    campaign: str | None = None,
    ad_group: str | None = None,
    arm: str = "creative",
    definitions: Definitions | None = None,
    window_days: int = 30,
) -> pd.DataFrame:
    """Visits, MQL and sales by ISO week of the visit and arm.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days of the test visits.
    campaign, ad_group : str, optional
        ``utm_campaign`` and ``utm_term`` of the test (None = any).
    arm : {"creative", "audience"}
        The arm is the visit's ``utm_content`` (creative) or ``utm_term``
        (ad group as audience).
    definitions : Definitions, optional
        MQL definitions (default: CRM stages).
    window_days : int
        Attribution window, days: a lead is attributed to the visitor's last
        test visit at most this many days before it (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per week and arm with visits: ``week`` (``YYYY-Www``),
        ``week_start`` (Monday), ``arm``, ``visits``, ``mql`` and ``sales``
        (attributed leads) and ``conversion_pct`` = mql / visits × 100%,
        sorted by week then arm.
    """
    if arm not in OLD_ARM_COLUMNS:
        raise ValueError(f"arm must be one of {', '.join(OLD_ARM_COLUMNS)}, got {arm!r}")
    if window_days < 1:
        raise ValueError(f"window_days must be >= 1, got {window_days}")
    window = timedelta(days=window_days)
    column = OLD_ARM_COLUMNS[arm]
    filters = [f"{column} IS NOT NULL"]
    params: dict = {"start": period.start - window, "stop": period.end_exclusive + window}
    if campaign is not None:
        filters.append("utm_campaign = $campaign")
        params["campaign"] = campaign
    if ad_group is not None:
        filters.append("utm_term = $ad_group")
        params["ad_group"] = ad_group
    visits = con.execute(
        f"SELECT visit_id, visitor_id, visit_start, {column} AS arm FROM visits"
        " WHERE visit_start >= $start::TIMESTAMP AND visit_start < $stop::TIMESTAMP"
        f" AND {' AND '.join(filters)} ORDER BY visit_start, visit_id",
        params,
    ).df()
    visits["visit_start"] = pd.to_datetime(visits["visit_start"]).astype("datetime64[us]")
    visits["visitor_id"] = visits["visitor_id"].astype("str")
    in_period = (visits["visit_start"].dt.date >= period.start) & (
        visits["visit_start"].dt.date <= period.end
    )

    leads = old_lead_flags(con, date_range(period.start, period.end + window), definitions)
    leads = leads[leads["visitor_id"].notna() & (leads["is_mql"] | leads["is_won"])]
    leads = leads[["lead_id", "visitor_id", "created_at", "is_mql", "is_won"]].copy()
    leads["created_at"] = pd.to_datetime(leads["created_at"]).astype("datetime64[us]")
    leads["visitor_id"] = leads["visitor_id"].astype("str")
    attributed = pd.merge_asof(
        leads.sort_values("created_at"),
        visits[["visitor_id", "visit_id", "visit_start", "arm"]],
        left_on="created_at",
        right_on="visit_start",
        by="visitor_id",
        direction="backward",
        tolerance=pd.Timedelta(window),
    )
    attributed = attributed[attributed["visit_id"].notna()]
    attributed = attributed[
        (attributed["visit_start"].dt.date >= period.start)
        & (attributed["visit_start"].dt.date <= period.end)
    ]

    visits = visits[in_period]
    by_visit = visits.assign(week_start=_old_monday(visits["visit_start"])).groupby(
        ["week_start", "arm"]
    )
    counts = by_visit.size().rename("visits").to_frame()
    by_lead = attributed.assign(week_start=_old_monday(attributed["visit_start"])).groupby(
        ["week_start", "arm"]
    )
    counts["mql"] = by_lead["is_mql"].sum()
    counts["sales"] = by_lead["is_won"].sum()
    counts = counts.fillna(0).astype("int64").reset_index()
    iso = counts["week_start"].dt.isocalendar()
    counts.insert(0, "week", iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2))
    counts["arm"] = counts["arm"].astype(str)
    counts["conversion_pct"] = _old_rate_pct(counts["mql"], counts["visits"])
    return counts.sort_values(["week_start", "arm"], ignore_index=True)


def _old_monday(times: pd.Series) -> pd.Series:
    days = times.dt.normalize()
    return days - pd.to_timedelta(days.dt.day_of_week, unit="D")


# --------------------------------------------------------------------------- sales cost
# Was analytics.metrics.sales_cost.manager_time (the deal query in DuckDB SQL): ported in
# the third step of issue 11 item 3 (analytics.transforms.non_target_deals).

OLD_DAYS_PER_MONTH = 365.25 / 12


def _old_non_target_hours(non_target_leads: float, minutes_per_lead: float) -> float:
    return non_target_leads * minutes_per_lead / 60.0


def old_manager_time(con, period: Period, definitions: Definitions | None = None) -> pd.DataFrame:
    """Share of each sales manager's time spent on the period's non-target leads.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Leads created in the period.
    definitions : Definitions, optional
        Loss reasons and sales-time assumptions.

    Returns
    -------
    pandas.DataFrame
        One row per manager of a non-target deal (``(no manager)`` if empty),
        sorted by non-target leads (desc): ``manager``, ``non_target``,
        ``hours`` = non-target × minutes per lead / 60, ``available_hours`` =
        monthly hours × period days / 30.4375, ``share_of_time_pct`` = hours /
        available hours × 100% and ``cost`` = hours × hourly cost (RUB).
    """
    definitions = definitions or DEFAULT_DEFINITIONS
    nt = definitions.non_target
    flags = old_lead_flags(con, period, definitions)
    lead_ids = flags.loc[flags["is_non_target"], "lead_id"].tolist()
    deals = con.execute(
        "SELECT lead_id, coalesce(any_value(manager), '(no manager)') AS manager FROM deals"
        " WHERE status = 'lost' AND loss_reason = ANY($reasons::VARCHAR[])"
        " AND lead_id = ANY($leads::VARCHAR[]) GROUP BY lead_id",
        {"reasons": list(nt.loss_reasons), "leads": lead_ids},
    ).df()
    out = deals.groupby("manager").size().rename("non_target").reset_index()
    out["non_target"] = out["non_target"].astype("int64")
    out["hours"] = _old_non_target_hours(out["non_target"], nt.minutes_per_lead)
    available = nt.manager_monthly_hours * period.days / OLD_DAYS_PER_MONTH
    out["available_hours"] = available
    out["share_of_time_pct"] = out["hours"] * 100.0 / available if available else math.nan
    out["cost"] = out["hours"] * nt.hourly_cost
    return out.sort_values(["non_target", "manager"], ascending=[False, True], ignore_index=True)


# Was analytics.metrics.snapshot._campaigns (the snapshot's ``campaigns``, two drill-downs).


def old_snapshot_campaigns(
    con, periods: list[Period], covered: list[bool], definitions
) -> list[dict]:
    """Was ``analytics.metrics.snapshot._campaigns`` (on DuckDB, through the drill-down)."""
    from analytics.metrics.snapshot import CAMPAIGN_FIGURES, _clean

    keys = ["channel", "campaign"]
    frames = []
    for field, period, ok in zip(("value", "previous"), periods[:2], covered[:2], strict=True):
        if not ok:
            continue
        frame = old_drilldown(con, period, "campaign", definitions)
        frame = frame[keys + list(CAMPAIGN_FIGURES.values())].set_index(keys)
        frames.append(frame.add_suffix(f"|{field}"))
    if not frames:
        return []
    merged = pd.concat(frames, axis=1).fillna(0.0).sort_index()
    rows = []
    for (channel, campaign), values in merged.iterrows():
        row: dict = {"channel": str(channel), "campaign": str(campaign)}
        for key, column in CAMPAIGN_FIGURES.items():
            row[key] = {
                field: _clean(values.get(f"{column}|{field}")) if covered[i] else None
                for i, field in enumerate(("value", "previous"))
            }
            if key in ("leads", "sales"):
                for field, number in row[key].items():
                    if number is not None:
                        row[key][field] = int(number)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- lead features
# Was analytics.scoring.features (the feature table of lead scoring) and
# analytics.scoring.fields.extra_lead_fields: DuckDB SQL until issue 11 item 3's last
# step ported them to analytics.transforms.lead_history. Copied verbatim but for the
# names; the pandas steps (dtypes, field choice, similarity) are the library's own.

_OLD_FEATURES_SQL = """
WITH lead AS (
  SELECT lead_id, created_at, lead_type, visitor_id, call_duration_s, call_lost,
         phone_hash, email_hash,
         coalesce(region, 'unknown') AS region,
         coalesce(industry, 'unknown') AS industry,
         coalesce(company_size, 'unknown') AS company_size
  FROM main.leads
  WHERE CAST($as_of AS TIMESTAMP) IS NULL OR created_at <= CAST($as_of AS TIMESTAMP)
),
site AS (
  SELECT l.lead_id,
         count(*) AS visits_before,
         sum(v.pageviews) AS pageviews_before,
         sum(v.duration_s) AS duration_before_s,
         max(CAST(v.goal_pricing AS INTEGER)) AS pricing_viewed,
         epoch(max(l.created_at) - min(v.visit_start)) / 86400.0 AS days_first_visit_to_lead,
         count(DISTINCT v.channel) AS channels_distinct,
         arg_min(v.channel, (v.visit_start, v.visit_id)) AS first_channel,
         arg_max(v.channel, (v.visit_start, v.visit_id)) AS last_channel
  FROM lead AS l
  JOIN main.visits AS v ON v.visitor_id = l.visitor_id AND v.visit_start < l.created_at
  GROUP BY l.lead_id
),
closed AS (
  SELECT coalesce(industry, 'unknown') AS industry,
         coalesce(company_size, 'unknown') AS company_size,
         closed_at,
         CAST(status = 'won' AS INTEGER) AS won
  FROM main.deals
  WHERE status IN ('won', 'lost') AND closed_at IS NOT NULL
),
-- running totals per closing time; RANGE framing (the default) counts deals
-- closed at the same instant together, so DISTINCT leaves one row per instant
segment_history AS (
  SELECT DISTINCT industry, company_size, closed_at,
         sum(won) OVER w AS segment_won, count(*) OVER w AS segment_closed
  FROM closed
  WINDOW w AS (PARTITION BY industry, company_size ORDER BY closed_at)
),
overall_history AS (
  SELECT DISTINCT closed_at, sum(won) OVER w AS overall_won, count(*) OVER w AS overall_closed
  FROM closed
  WINDOW w AS (ORDER BY closed_at)
),
-- earlier requests of the same person: same phone or e-mail hash or visitor id,
-- created before this lead (strictly; ties by lead id) within the window
earlier AS (
  SELECT l.lead_id, count(DISTINCT e.lead_id) AS earlier_requests
  FROM lead AS l
  JOIN main.leads AS e
    ON (e.phone_hash = l.phone_hash OR e.email_hash = l.email_hash
        OR e.visitor_id = l.visitor_id)
   AND (e.created_at < l.created_at OR (e.created_at = l.created_at AND e.lead_id < l.lead_id))
   AND e.created_at >= l.created_at - to_days(CAST($repeat_days AS INTEGER))
  GROUP BY l.lead_id
),
history AS (
  SELECT l.lead_id,
         coalesce(s.segment_won, 0) AS segment_won,
         coalesce(s.segment_closed, 0) AS segment_closed,
         (coalesce(o.overall_won, 0) + 1.0) / (coalesce(o.overall_closed, 0) + 2.0) AS prior_rate
  FROM lead AS l
  ASOF LEFT JOIN segment_history AS s
    ON l.industry = s.industry AND l.company_size = s.company_size
   AND l.created_at > s.closed_at
  ASOF LEFT JOIN overall_history AS o ON l.created_at > o.closed_at
)
SELECT l.lead_id,
       l.created_at,
       CAST(l.visitor_id IS NOT NULL AS INTEGER) AS site_tracked,
       coalesce(s.visits_before, 0) AS visits_before,
       coalesce(s.pageviews_before, 0) AS pageviews_before,
       CAST(coalesce(s.duration_before_s, 0) AS DOUBLE) AS duration_before_s,
       coalesce(s.pricing_viewed, 0) AS pricing_viewed,
       coalesce(s.days_first_visit_to_lead, 0.0) AS days_first_visit_to_lead,
       coalesce(s.channels_distinct, 0) AS channels_distinct,
       CAST(coalesce(l.call_duration_s, 0) AS DOUBLE) AS call_duration_s,
       CAST(coalesce(l.call_lost, false) AS INTEGER) AS call_lost,
       CAST(l.phone_hash IS NOT NULL AS INTEGER) AS phone_present,
       CAST(l.email_hash IS NOT NULL AS INTEGER) AS email_present,
       coalesce(r.earlier_requests, 0) AS earlier_requests,
       (h.segment_won + $prior_strength * h.prior_rate)
         / (h.segment_closed + $prior_strength) AS segment_win_rate,
       h.segment_closed AS segment_closed_deals,
       l.lead_type,
       coalesce(s.first_channel, 'no_visits') AS first_channel,
       coalesce(s.last_channel, 'no_visits') AS last_channel,
       l.region,
       l.industry,
       l.company_size
FROM lead AS l
LEFT JOIN site AS s USING (lead_id)
LEFT JOIN earlier AS r USING (lead_id)
JOIN history AS h USING (lead_id)
ORDER BY l.created_at, l.lead_id
"""

_OLD_CLOSED_DEALS_SQL = """
SELECT lead_id, closed_at, CAST(status = 'won' AS INTEGER) AS won
FROM main.deals
WHERE status IN ('won', 'lost') AND closed_at IS NOT NULL AND lead_id IS NOT NULL
ORDER BY closed_at, deal_id
"""


def old_lead_features(
    con, as_of=None, *, prior_strength=20.0, similarity=True, params=None
) -> pd.DataFrame:
    """Was ``analytics.scoring.features._compute_lead_features`` (``lead_features``
    without the memo)."""
    frame = con.execute(
        _OLD_FEATURES_SQL,
        {
            "as_of": None if as_of is None else pd.Timestamp(as_of),
            "prior_strength": prior_strength,
            "repeat_days": REPEAT_WINDOW_DAYS,
        },
    ).df()
    frame = frame.set_index("lead_id")
    frame[TIME_COLUMN] = pd.to_datetime(frame[TIME_COLUMN])
    ints = [
        "site_tracked",
        "visits_before",
        "pageviews_before",
        "pricing_viewed",
        "channels_distinct",
        "call_lost",
        "phone_present",
        "email_present",
        "earlier_requests",
        "segment_closed_deals",
    ]
    floats = sorted(set(NUMERIC_FEATURES) - set(ints))
    frame[ints] = frame[ints].astype("int64")
    frame[floats] = frame[floats].astype("float64")
    frame[list(CATEGORICAL_FEATURES)] = frame[list(CATEGORICAL_FEATURES)].astype("str")
    columns = [TIME_COLUMN, *NUMERIC_FEATURES]
    if params is None:
        try:
            params = load_params()
        except ValueError:
            params = {"standard": [], "extra_fields": [], "post_contact": []}
    canonical = [c.stored_name for c in LEADS.columns] + [c.name for c in LEADS.columns]
    extra = old_extra_lead_fields(con, params.get("extra_fields", []), canonical=canonical)
    extra = extra.reindex(frame.index)
    frame = frame.join(extra)
    extra_numeric = [c for c in extra.columns if pd.api.types.is_float_dtype(extra[c])]
    if similarity:
        closed = con.execute(_OLD_CLOSED_DEALS_SQL).df()
        near = past_deal_similarity(
            frame,
            closed,
            numeric=[*SIMILARITY_NUMERIC, *extra_numeric],
            categorical=list(CATEGORICAL_FEATURES),
        )
        frame = frame.join(near)
        columns += list(SIMILARITY_FEATURES)
    ordered = [*columns, *extra.columns, *CATEGORICAL_FEATURES]
    chosen = choose_fields(ordered[1:], params)
    return frame[[TIME_COLUMN, *chosen]]


def old_extra_lead_fields(con, fields, *, canonical=(), grace_hours: float = 1.0) -> pd.DataFrame:
    """Extra CRM fields of every lead, indexed by ``lead_id`` (see module doc).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse.
    fields : list of str
        Field names wanted.
    canonical : iterable of str
        Columns of ``leads`` that are not extra fields.
    grace_hours : float
        Key/value rows recorded up to this long after ``created_at`` count as
        known at arrival.

    Returns
    -------
    pandas.DataFrame
        One column per field found (numbers as float when every filled value
        parses as a number, else text); fields found nowhere are left out.
    """
    fields = list(fields)
    leads_columns = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = 'leads'"
        ).fetchall()
    ]
    out = con.execute("SELECT lead_id FROM main.leads").df().set_index("lead_id")
    in_leads = [f for f in fields if f in leads_columns and f not in set(canonical)]
    if in_leads:
        quoted = ", ".join(f'"{f}"' for f in in_leads)
        out = out.join(
            con.execute(f"SELECT lead_id, {quoted} FROM main.leads").df().set_index("lead_id")
        )
    kv_tables = {
        r[0]
        for r in con.execute(
            "SELECT table_schema FROM information_schema.tables "
            "WHERE table_schema IN ('main', 'history') AND table_name = 'lead_fields'"
        ).fetchall()
    }
    rest = [f for f in fields if f not in in_leads]
    if "main" in kv_tables and rest:
        # A value replaced by a later load (another value or time) lives on in the
        # history: every version counts, so the value known at arrival is found.
        versions = "SELECT lead_id, field, value, recorded_at FROM main.lead_fields"
        if "history" in kv_tables:
            versions += " UNION SELECT lead_id, field, value, recorded_at FROM history.lead_fields"
        kv = con.execute(
            f"""
            SELECT f.lead_id, f.field, arg_max(f.value, f.recorded_at) AS value
            FROM ({versions}) AS f
            JOIN main.leads AS l USING (lead_id)
            WHERE f.field IN (SELECT unnest($fields))
              AND f.recorded_at <= l.created_at + to_seconds(CAST($grace AS DOUBLE) * 3600)
            GROUP BY f.lead_id, f.field
            """,
            {"fields": rest, "grace": float(grace_hours)},
        ).df()
        if not kv.empty:
            wide = kv.pivot(index="lead_id", columns="field", values="value")
            out = out.join(wide)
    for name in out.columns:
        series = out[name]
        if pd.api.types.is_numeric_dtype(series):
            out[name] = series.astype(float)
            continue
        numbers = pd.to_numeric(series, errors="coerce")
        if series.notna().sum() and numbers.notna().sum() == series.notna().sum():
            out[name] = numbers.astype(float)
        else:
            out[name] = series.astype(object).where(series.notna(), np.nan)
    return out


# The SQL target and data end of lead scoring before they became Ibis
# (transforms.lead_history.sql_within_window / latest_event_time), frozen.


def old_data_end(con) -> pd.Timestamp:
    """Latest event time in the warehouse: the end of what the data can show.

    ``max(visits.visit_start, leads.created_at, deal_stages.entered_at, deals.closed_at)``.
    """
    value = con.execute(
        """
        SELECT greatest(
          (SELECT max(visit_start) FROM main.visits),
          (SELECT max(created_at) FROM main.leads),
          (SELECT max(entered_at) FROM main.deal_stages),
          (SELECT max(closed_at) FROM main.deals))
        """
    ).fetchone()[0]
    if value is None:
        raise ValueError("the warehouse has no visits, leads or deals: nothing to score")
    return pd.Timestamp(value)


def old_sql_target(con, window_days: float = 30, *, end=None) -> pd.Series:
    """Whether each lead reached SQL within ``window_days`` of its creation.

    ``sql = 1`` if a CRM deal of the lead (``deals.lead_id``) entered a stage
    of :data:`SQL_STAGES` (sql, demo, proposal or won; per ``deal_stages``)
    at or before ``created_at + window_days``, else 0. Leads without a deal
    (not in the CRM, duplicates) are 0.

    Leads whose window is not complete by the end of the data,
    ``created_at + window_days > end``, are **excluded**: a 0 for them would
    only mean "not yet", and training on such labels biases the model
    towards 0 for the newest leads. They are scored but not trained on.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with ``leads``, ``deals`` and ``deal_stages``.
    window_days : float
        Days from lead creation within which SQL must be reached.
    end : datetime-like, optional
        End of the data; :func:`data_end` by default.

    Returns
    -------
    pandas.Series
        ``sql`` (int 0/1) indexed by ``lead_id``, leads with a complete window only.
    """
    if window_days <= 0:
        raise ValueError(f"window_days must be positive, got {window_days!r}")
    end = old_data_end(con) if end is None else pd.Timestamp(end)
    stages = ", ".join(f"'{s}'" for s in SQL_STAGES)
    frame = con.execute(
        f"""
        WITH lead AS (
          SELECT lead_id, created_at,
                 created_at + to_seconds(CAST($window_days AS DOUBLE) * 86400) AS window_end
          FROM main.leads
        ),
        reached AS (
          SELECT d.lead_id, min(s.entered_at) AS sql_at
          FROM main.deals AS d
          JOIN main.deal_stages AS s USING (deal_id)
          WHERE d.lead_id IS NOT NULL AND s.stage IN ({stages})
          GROUP BY d.lead_id
        )
        SELECT l.lead_id,
               CAST(coalesce(r.sql_at <= l.window_end, false) AS INTEGER) AS sql
        FROM lead AS l
        LEFT JOIN reached AS r USING (lead_id)
        WHERE l.window_end <= CAST($end AS TIMESTAMP)
        ORDER BY l.created_at, l.lead_id
        """,
        {"window_days": float(window_days), "end": end},
    ).df()
    target = frame.set_index("lead_id")["sql"].astype("int64")
    return target


# --------------------------------------------------------------------------- journeys' paths
# Until the 10M work on notebook 06 (design note "journey paths built in the engine"),
# the attribution page fetched one row per touch of every journey (1.7M rows at 10M
# visits) and aggregated the paths in pandas: ``build_journeys(...).paths``. The body
# of ``analytics.metrics.journeys.build_journeys`` and ``aggregate_paths`` as they were,
# frozen here as the oracle of ``build_paths``.


def old_journey_paths(con, conversion="lead", lookback_days=30, period=None, anchor="lead"):
    """``(paths, unattributed, touches)`` of ``build_journeys`` as it was: the aggregated
    paths, ``{"conversions", "value"}`` of the conversions without a touch, and the
    long touch table of every journey (converting or not)."""
    from analytics.attribution.path_frames import aggregate_sequences, empty_paths
    from analytics.transforms.backends import duckdb_backend, fetch_frame
    from analytics.transforms.touch_paths import journey_touches

    start, stop = (None, None) if period is None else (period.start, period.end_exclusive)
    expr_args = (conversion, start, stop, lookback_days, anchor)
    with duckdb_backend(con) as backend:
        rows = fetch_frame(backend, journey_touches(backend, *expr_args))
    rows["journey_id"] = rows["journey_id"].astype("int64")
    rows["converted"] = rows["converted"].astype(bool)
    rows["value"] = rows["value"].astype("float64")
    has_touch = rows["visit_id"].notna()
    n_touches = has_touch.groupby(rows["journey_id"], sort=False).sum()
    journeys = rows.drop_duplicates("journey_id").reset_index(drop=True)
    journeys["n_touches"] = journeys["journey_id"].map(n_touches).astype("int64")
    keep = has_touch.to_numpy()
    touches = pd.DataFrame(
        {name: rows.pop(name).array[keep] for name in list(rows.columns)}, copy=False
    )
    touches.insert(6, "touch_index", touches.groupby("journey_id", sort=False).cumcount())
    touches["days_before"] = (
        touches["conversion_at"] - touches["visit_start"]
    ).dt.total_seconds() / 86_400.0
    lost = journeys[journeys["converted"] & (journeys["n_touches"] == 0)]
    unattributed = {"conversions": float(len(lost)), "value": float(lost["value"].sum())}
    if touches.empty:
        return empty_paths(), unattributed, touches
    needed = touches[["journey_id", "touch_index", "channel", "converted", "value"]]
    t = needed.sort_values(["journey_id", "touch_index"], kind="stable")
    journey, _ = pd.factorize(t["journey_id"])
    channel_codes, channels = pd.factorize(t["channel"], sort=True)
    first = np.flatnonzero(np.r_[True, journey[1:] != journey[:-1]])
    lengths = np.diff(np.r_[first, len(journey)])
    paths = aggregate_sequences(
        channel_codes,
        lengths,
        t["converted"].to_numpy(dtype=bool)[first],
        t["value"].to_numpy(dtype=np.float64)[first],
        list(channels),
    )
    return paths, unattributed, touches


# --------------------------------------------------------------------------- demo defects
# Was the data half of analytics.reports.analyst_pages.demo_defects_section (run once per
# language by notebook 03): the whole quality report over all the data, then
# defect_recovery. Now analytics.metrics.quality.demo_defect_recovery (once per run, only
# the four checks the defects are compared with).


def old_demo_defect_recovery(con) -> pd.DataFrame | None:
    """Was ``demo_defects_section``'s recovery frame; None without ``truth.defects``."""
    from analytics.metrics.period import data_anchor, data_bounds, parse_period
    from analytics.metrics.quality import defect_recovery, quality_report

    found = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'truth' AND table_name = 'defects'"
    ).fetchone()[0]
    if not found:
        return None
    everything = parse_period("all", data_anchor(con), bounds=data_bounds(con))
    truth = con.execute("SELECT * FROM truth.defects").df()
    return defect_recovery(quality_report(con, everything), truth)


# --------------------------------------------------------------------------- drill-down, Ibis
# Was analytics.transforms.ad_hierarchy.hierarchy_counts and the pandas half of
# analytics.metrics.drilldown.drilldown / drilldown_with_change (one query per depth and
# period: four for notebook 10's campaigns and ads, run once per language). Now
# ad_hierarchy.hierarchy_figures (every depth and period in one query) and
# drilldown.drilldown_tables (once per run). Copied verbatim but for the names.

_OI_VISIT_COLUMNS = {
    "channel": "channel",
    "campaign": "utm_campaign",
    "ad_group": "utm_term",
    "creative": "utm_content",
}
_OI_MONEY = ("spend", "revenue", "revenue_booked")
OLD_DRILL_CHANGED = (
    "spend",
    "leads",
    "mql",
    "sql_leads",
    "sales",
    "revenue",
    "sales_booked",
    "revenue_booked",
)


def _oi_levels_to(depth: str) -> list[str]:
    if depth not in DRILL_LEVELS:
        raise ValueError(f"depth must be one of {', '.join(DRILL_LEVELS)}, got {depth!r}")
    return list(DRILL_LEVELS[: DRILL_LEVELS.index(depth) + 1])


def _oi_utm(value: ir.StringValue) -> ir.StringValue:
    """A UTM value, :data:`UNDETERMINED` when empty or missing."""
    return ibis.coalesce(value.nullif(""), ibis.literal(UNDETERMINED))


def _oi_lead_places(con, lead_ids: ir.Column) -> ir.Table:
    """``p_lead_id`` and the channel and UTM of the lead's visit (one row per lead),
    for the leads ``lead_ids`` holds."""
    leads = con.table("leads")
    leads = leads.filter(leads.lead_id.isin(lead_ids))
    lead = leads.group_by(p_lead_id=leads.lead_id).agg(p_visit_id=leads.visit_id.arbitrary())
    visits = con.table("visits")
    # only the visits these leads came from (a semi-join: a scan of one column), so the
    # dedupe below groups at most one row per lead, not every visit (10M at 10M visits)
    visits = visits.semi_join(leads, visits.visit_id == leads.visit_id)
    visit = visits.group_by(v_visit_id=visits.visit_id).agg(
        **{f"v_{level}": visits[column].arbitrary() for level, column in _OI_VISIT_COLUMNS.items()}
    )
    out = lead.left_join(visit, lead.p_visit_id == visit.v_visit_id)
    return out.select("p_lead_id", **{level: _oi_utm(out[f"v_{level}"]) for level in DRILL_LEVELS})


def _oi_window_of(moment: ir.Value, windows: Windows, *, days: bool = False) -> ir.IntegerValue:
    """Index in ``windows`` of the ``[start, stop)`` holding ``moment`` (the first one);
    NULL outside them all. ``days``: ``moment`` is a date, not a timestamp."""
    bound = ibis.literal if days else day_start
    return ibis.cases(
        *(((moment >= bound(a)) & (moment < bound(b)), i) for i, (a, b) in enumerate(windows)),
        else_=None,
    ).cast("int64")


def _oi_tagged(table: ir.Table, moment: ir.Value, windows: Windows, days: bool = False):
    """``table`` with the column ``window`` (:func:`_window_of`), its rows outside the
    windows dropped."""
    table = table.mutate(window=_oi_window_of(moment, windows, days=days))
    return table.filter(table.window.notnull())


def _oi_spend_side(con, windows: Windows, keys: list[str]) -> ir.Table:
    spend = con.table("spend")
    spend = _oi_tagged(spend, spend.date, windows, days=True)
    return spend.group_by(["window", *keys]).agg(spend=spend.cost.sum())


def _oi_visit_side(con, windows: Windows, keys: list[str]) -> ir.Table:
    visits = con.table("visits")
    visits = _oi_tagged(visits, visits.visit_start, windows)
    return visits.group_by(
        window=visits.window,
        channel=visits.channel,
        **{level: _oi_utm(visits[_OI_VISIT_COLUMNS[level]]) for level in keys[1:]},
    ).agg(visits=visits.count())


def _oi_booked_side(con, windows: Windows, keys: list[str]) -> ir.Table:
    won = closed_deal_table(con, *windows[0], more=windows[1:])
    won = won.filter(won.outcome == "won")
    won = won.mutate(window=_oi_window_of(won.closed_at, windows))
    places = _oi_lead_places(con, won.lead_id)
    won = won.left_join(places, won.lead_id == places.p_lead_id)
    undetermined = ibis.literal(UNDETERMINED)
    return won.group_by(
        window=won.window, **{level: ibis.coalesce(won[level], undetermined) for level in keys}
    ).agg(sales_booked=won.count(), revenue_booked=won.amount.fill_null(0.0).sum())


def _oi_figures(out: ir.Table, keys: list[str], names: Sequence[str]) -> ir.Table:
    """The keys and the ``names`` of :func:`join_sides`' output, zero where missing."""
    return out.select(
        *keys,
        **{name: money(out, name) if name in _OI_MONEY else count(out, name) for name in names},
    )


def old_hierarchy_counts(con, start: date, stop: date, depth: str, definitions: Any) -> ir.Table:
    """Spend, visits, the lead cohort and the booked deals of ``[start, stop)`` per row.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive).
    depth : {"channel", "campaign", "ad_group", "creative"}
        The rows are the combinations of the levels down to ``depth``.
    definitions : analytics.metrics.definitions.Definitions
        MQL/SQL definitions (see :func:`~analytics.transforms.lead_facts.lead_flag_table`).

    Returns
    -------
    ibis.Table
        The levels, then :data:`DRILL_COUNTS`: one row per
        combination seen in any of the four figures (module docstring), zero
        where a figure has nothing; money (RUB) float, counts int64. Unordered.
    """
    keys = _oi_levels_to(depth)
    windows = [(start, stop)]
    flags = lead_flag_table(con, start, stop, definitions)
    deeper = [level for level in keys if level not in ("channel", "campaign")]
    if deeper:
        # ad group and creative of the lead's visit (the flags carry channel and campaign)
        leads = con.table("leads")
        leads = leads.filter(
            leads.created_at >= day_start(start), leads.created_at < day_start(stop)
        )
        seen = con.table("visits")
        utm = leads.left_join(seen, leads.visit_id == seen.visit_id)
        utm = utm.select(
            u_lead_id=utm.lead_id,
            **{level: _oi_utm(utm[_OI_VISIT_COLUMNS[level]]) for level in deeper},
        )
        flags = flags.left_join(utm, flags.lead_id == utm.u_lead_id)
        flags = flags.mutate(**{level: _oi_utm(flags[level]) for level in deeper})
    lead_side = flags.group_by(keys).agg(
        leads=flags.count(),
        mql=flags.count(where=flags.is_mql),
        sql_leads=flags.count(where=flags.is_sql),
        sales=flags.count(where=flags.is_won),
        revenue=flags.revenue.sum(),
    )
    sides = [
        side(con, windows, keys).drop("window")  # one window: the keys are unique
        for side in (_oi_spend_side, _oi_booked_side, _oi_visit_side)
    ]
    out = join_sides(*sides, lead_side, keys=keys)
    return _oi_figures(out, keys, DRILL_COUNTS)


def old_ibis_drilldown(
    con,
    period: Period,
    depth: str = "creative",
    definitions: Definitions | None = None,
) -> pd.DataFrame:
    """Figures of the period per row of the hierarchy down to ``depth``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or ibis.BaseBackend
        Warehouse, or an Ibis backend holding the canonical tables (PySpark).
    period : Period
    depth : {"channel", "campaign", "ad_group", "creative"}
    definitions : Definitions, optional
        MQL/SQL definitions; default the CRM stages.

    Returns
    -------
    pandas.DataFrame
        Columns: the levels down to ``depth``, :data:`COUNTS` and
        :data:`RATIOS` (module docstring); sorted by spend then leads,
        descending. Rows with nothing at all are absent.

    Raises
    ------
    ValueError
        For an unknown ``depth``.
    """
    keys = _oi_levels_to(depth)
    definitions = definitions or DEFAULT_DEFINITIONS
    with ibis_backend(con) as backend:
        expr = old_hierarchy_counts(backend, period.start, period.end_exclusive, depth, definitions)
        frame = backend.execute(expr)
    for level in keys:
        frame[level] = frame[level].astype(str)
    for column in ("visits", "leads", "mql", "sql_leads", "sales", "sales_booked"):
        frame[column] = frame[column].astype("int64")
    for column in ("spend", "revenue", "revenue_booked"):
        frame[column] = frame[column].astype("float64")
    frame["cpl"] = _drill_ratio(frame["spend"], frame["leads"])
    frame["cost_per_mql"] = _drill_ratio(frame["spend"], frame["mql"])
    frame["cost_per_sql"] = _drill_ratio(frame["spend"], frame["sql_leads"])
    frame["romi"] = _drill_ratio(frame["revenue"] - frame["spend"], frame["spend"], 100.0)
    frame["drr"] = _drill_ratio(frame["spend"], frame["revenue"], 100.0)
    frame["romi_booked"] = _drill_ratio(
        frame["revenue_booked"] - frame["spend"], frame["spend"], 100.0
    )
    frame["drr_booked"] = _drill_ratio(frame["spend"], frame["revenue_booked"], 100.0)
    frame = frame.sort_values(
        ["spend", "leads", *keys], ascending=[False, False, *[True] * len(keys)]
    )
    return frame[keys + list(DRILL_COUNTS) + list(DRILL_RATIOS)].reset_index(drop=True)


def old_ibis_drilldown_with_change(
    con,
    period: Period,
    depth: str = "creative",
    definitions: Definitions | None = None,
) -> pd.DataFrame:
    """:func:`drilldown` of the period with the previous period's figures and the change.

    Adds ``<figure>_previous`` and ``<figure>_change`` (%, NaN when the
    previous value is 0) for :data:`CHANGED`. Rows are those of the period; a row
    the previous period did not have counts 0 there (its change is NaN).
    """
    keys = list(DRILL_LEVELS[: DRILL_LEVELS.index(depth) + 1])
    now = old_ibis_drilldown(con, period, depth, definitions)
    before = old_ibis_drilldown(con, previous_period(period), depth, definitions)
    before = before[keys + list(OLD_DRILL_CHANGED)].rename(
        columns={c: f"{c}_previous" for c in OLD_DRILL_CHANGED}
    )
    merged = now.merge(before, on=keys, how="left")
    for column in OLD_DRILL_CHANGED:
        previous = merged[f"{column}_previous"].fillna(0.0).astype("float64")
        merged[f"{column}_previous"] = previous
        merged[f"{column}_change"] = np.where(
            previous != 0,
            (merged[column] - previous) / previous.abs().where(previous != 0) * 100,
            np.nan,
        )
    return merged


# --------------------------------------------------------------------------- one query per period
# Was analytics.transforms.funnel_facts.funnel_counts (an Ibis expression, one window of
# days per query) until the snapshot grouped its three periods in one query
# (funnel_counts_by_window); copied verbatim but for the name.


def old_funnel_counts(con, start, stop, by: str = "total"):
    """Was ``analytics.transforms.funnel_facts.funnel_counts``."""
    import ibis

    from analytics.transforms.funnel_facts import (
        COUNT_COLUMNS,
        GROUPINGS,
        MQL_RANK,
        SQL_RANK,
        WON_RANK,
        _group_key,
        count,
        deal_facts,
        join_sides,
        money,
    )
    from analytics.transforms.stitching import stitched_leads
    from analytics.transforms.time_keys import day_start

    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {GROUPINGS}, got {by!r}")
    start_at, stop_at = day_start(start), day_start(stop)

    lead = stitched_leads(con)
    lead = lead.filter(lead.created_at >= start_at, lead.created_at < stop_at)
    deal = deal_facts(con).rename(deal_lead_id="lead_id")
    cohort = lead.left_join(deal, lead.lead_id == deal.deal_lead_id)
    mql, sql_lead, won = (cohort.reached >= r for r in (MQL_RANK, SQL_RANK, WON_RANK))
    lead_side = cohort.group_by(grp=_group_key(by, cohort.channel, cohort.created_at)).agg(
        leads=cohort.lead_id.nunique(),
        leads_form=cohort.lead_id.nunique(where=cohort.lead_type == "form"),
        leads_call=cohort.lead_id.nunique(where=cohort.lead_type == "call"),
        leads_chat=cohort.lead_id.nunique(where=cohort.lead_type == "chat"),
        mql=cohort.deal_id.nunique(where=mql),
        sql_leads=cohort.deal_id.nunique(where=sql_lead),
        sales=cohort.deal_id.nunique(where=won),
        revenue=cohort.amount.sum(where=won),
    )

    visits = con.table("visits")
    visits = visits.filter(visits.visit_start >= start_at, visits.visit_start < stop_at)
    visit_side = visits.group_by(grp=_group_key(by, visits.channel, visits.visit_start)).agg(
        visits=visits.count(), visitors=visits.visitor_id.nunique()
    )

    spend = con.table("spend")
    spend = spend.filter(spend.date >= ibis.literal(start), spend.date < ibis.literal(stop))
    spend_side = spend.group_by(grp=_group_key(by, spend.channel, spend.date)).agg(
        spend=spend.cost.sum()
    )

    out = join_sides(lead_side, visit_side, spend_side)
    return out.select(
        grp=out.grp,
        spend=money(out, "spend"),
        **{name: count(out, name) for name in COUNT_COLUMNS},
        revenue=money(out, "revenue"),
    ).order_by("grp")


def old_snapshot_weekly(con, period: Period, weeks: int) -> list[dict]:
    """Was ``analytics.metrics.snapshot._weekly`` (two queries of their own: the booked
    and the cohort weekly series)."""
    from analytics.metrics.funnel import weekly_funnel
    from analytics.metrics.revenue import booked_weekly
    from analytics.metrics.snapshot import _clean

    booked = booked_weekly(con, period, weeks)
    cohort = weekly_funnel(con, period, weeks)
    rows = []
    for b, c in zip(booked.to_dict("records"), cohort.to_dict("records"), strict=True):
        rows.append(
            {
                "week": c["week"],
                "week_start": pd.Timestamp(c["week_start"]).date().isoformat(),
                "revenue": _clean(b["revenue"]),
                "sales": int(b["sales"]),
                "spend": _clean(b["spend"]),
                "leads": int(c["leads"]),
                "mql": int(c["mql"]),
                "sql_leads": int(c["sql_leads"]),
            }
        )
    return rows


# --------------------------------------------------------------------------- scoring pages
# Notebooks 05 and 11 until the run's lead scoring was computed once
# (analytics.scoring.period_scores): each page loaded the model, checked it and
# listed the calls in each language, the leads scored once per language. The call
# list code below is copied verbatim from analytics.scoring.sales and
# analytics.scoring.training of that time (only renamed); old_scoring_page is the
# notebooks' first cell.

from datetime import UTC, datetime  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

from analytics.scoring.economics import revenue_per_sql  # noqa: E402
from analytics.scoring.features import data_end, lead_features  # noqa: E402
from analytics.scoring.sales import (  # noqa: E402
    CALL_LIST_COLUMNS,
    _check_language,
    band_cutoffs,
    bands,
    reason_phrases,
)

if TYPE_CHECKING:  # scikit-learn is imported by the tests that score, not by every user
    from analytics.scoring.model import LeadScoringModel


def _model_columns(model: LeadScoringModel, features: pd.DataFrame) -> pd.DataFrame:
    """The feature columns a (possibly older) model was trained with, when present."""
    known = [c for c in model.feature_names_in_ if c in features.columns]
    return features[known] if known else features


def old_call_list(
    model,
    leads: pd.DataFrame,
    *,
    cutoffs: dict[str, float],
    language: str = "ru",
    now=None,
    n_reasons: int = 3,
) -> pd.DataFrame:
    """Leads to call, band A first, each with its score and reasons in plain words.

    Parameters
    ----------
    model : LeadScoringModel
        Fitted or loaded model.
    leads : pandas.DataFrame
        One row per lead, indexed by lead id, with the model's feature columns
        and optionally ``label``, ``owner``, ``channel`` (text) and
        ``created_at`` (naive UTC timestamp of the request).
    cutoffs : dict
        From :func:`band_cutoffs`.
    language : {"ru", "en"}
        Language of the reasons.
    now : datetime-like, optional
        Time the list is made (naive UTC); now by default.
    n_reasons : int
        Reasons per lead (2-3 read well).

    Returns
    -------
    pandas.DataFrame
        :data:`CALL_LIST_COLUMNS` plus ``probability``: ``lead`` (id),
        ``hours_since_request`` (hours from ``created_at`` to ``now``, one
        decimal; NaN without ``created_at``), ``score`` (0-100), ``band``
        (A-D), ``reasons`` (``+``/``−`` phrases joined by ``; ``); sorted by
        band, then score (highest first), then the oldest request first.
    """
    _check_language(language)
    if leads.empty:
        return pd.DataFrame(columns=[*CALL_LIST_COLUMNS, "probability"])
    scored = model.score_with_reasons(leads, n=n_reasons)
    reasons = reason_phrases(scored, language)
    when = (
        pd.Timestamp(now) if now is not None else pd.Timestamp(datetime.now(UTC)).tz_localize(None)
    )
    if "created_at" in leads.columns:
        hours = ((when - pd.to_datetime(leads["created_at"])).dt.total_seconds() / 3600).round(1)
        hours = hours.to_numpy()
    else:
        hours = np.full(len(leads), np.nan)
    probability = scored["probability"].to_numpy()

    def text_column(name: str) -> np.ndarray:
        if name not in leads.columns:
            return np.full(len(leads), "", dtype=object)
        return leads[name].astype(object).where(leads[name].notna(), "").to_numpy()

    frame = pd.DataFrame(
        {
            "lead": leads.index.astype(str),
            "label": text_column("label"),
            "owner": text_column("owner"),
            "channel": text_column("channel"),
            "hours_since_request": hours,
            "score": np.rint(100 * probability).astype(int),
            "band": bands(probability, cutoffs),
            "reasons": reasons,
            "probability": probability,
        }
    )
    frame["_age"] = -np.nan_to_num(hours, nan=0.0)
    frame = frame.sort_values(
        ["band", "probability", "_age", "lead"], ascending=[True, False, True, True]
    )
    return frame.drop(columns="_age").reset_index(drop=True)


_OLD_LABEL_WORDS = {
    "ru": {"form": "Форма", "call": "Звонок", "chat": "Чат"},
    "en": {"form": "Form", "call": "Call", "chat": "Chat"},
}


def old_warehouse_call_list(
    con,
    model: LeadScoringModel,
    *,
    period=None,
    language: str = "ru",
    now=None,
    cutoffs: dict | None = None,
    n_reasons: int = 3,
) -> pd.DataFrame:
    """The call list of the warehouse's leads (:func:`analytics.scoring.sales.call_list`).

    ``label`` is the request type, industry and company size; ``owner`` the
    manager of the lead's CRM deal (empty if none yet); ``channel`` the
    channel of the lead's last visit before the request (or its
    ``utm_source``); ``hours_since_request`` counts from ``created_at`` to
    ``now`` (the end of the data by default). Cut-offs default to
    :func:`~analytics.scoring.sales.band_cutoffs` with the warehouse's revenue
    per SQL.

    Parameters
    ----------
    period : analytics.metrics.period.Period, optional
        Only leads created in this period.
    """
    features = lead_features(con)
    if period is not None:
        created = features[TIME_COLUMN]
        inside = (created >= pd.Timestamp(period.start)) & (
            created < pd.Timestamp(period.end_exclusive)
        )
        features = features[inside]
    meta = (
        con.execute(
            """
        SELECT l.lead_id, l.utm_source,
               (SELECT arg_max(d.manager, d.created_at) FROM main.deals AS d
                 WHERE d.lead_id = l.lead_id) AS owner
        FROM main.leads AS l
        """
        )
        .df()
        .set_index("lead_id")
    )
    meta = meta.reindex(features.index)
    words = _OLD_LABEL_WORDS[language] if language in _OLD_LABEL_WORDS else _OLD_LABEL_WORDS["en"]
    parts = [
        features["lead_type"].map(lambda v: words.get(v, v)),
        features["industry"].where(features["industry"] != "unknown"),
        features["company_size"].where(features["company_size"] != "unknown"),
    ]
    label = pd.Series("", index=features.index, dtype=object)
    for part in parts:  # the filled texts joined by ", " (no per-lead apply)
        values = part.to_numpy(dtype=object)
        text = pd.Series(
            np.where([isinstance(v, str) for v in values], values, ""), index=features.index
        )
        label = label + np.where((label != "") & (text != ""), ", ", "") + text
    channel = features["last_channel"].where(features["last_channel"] != "no_visits")
    channel = channel.fillna(meta["utm_source"]).fillna("")
    leads = _model_columns(model, features).assign(
        label=label if len(features) else "",
        owner=meta["owner"].fillna(""),
        channel=channel,
        created_at=features[TIME_COLUMN],
    )
    if cutoffs is None:
        cutoffs = band_cutoffs(model.base_rate_, value_per_sql=revenue_per_sql(con))
    return old_call_list(
        model,
        leads,
        cutoffs=cutoffs,
        language=language,
        now=data_end(con) if now is None else now,
        n_reasons=n_reasons,
    )


def old_scoring_page(con, model, status: dict, period, languages) -> dict:
    """What notebook 05's first cell computed after ``load_or_train`` (11's is the same
    call list): the monitoring (from ``load_or_train``, else computed) and the call
    list per language."""
    from analytics.scoring import monitor

    monitoring = status["monitoring"] or monitor(con, model)
    calls = {
        language: old_warehouse_call_list(con, model, period=period, language=language)
        for language in dict.fromkeys(languages)
    }
    return {"monitoring": monitoring, "calls": calls, "importance": model.global_importance()}


# --------------------------------------------------------------------------- conversions
# Until the second 10M pass on notebook 06, ``transforms.touch_paths.conversions`` took
# the visitor from ``stitched_leads`` (every lead's visit looked up in ``visits``); it
# now reads ``stitched_visitors`` (only the visits of leads without a visitor). The body
# as it was, frozen.


def old_conversions(con, conversion: str = "lead", anchor: str = "lead") -> ir.Table:
    """``transforms.touch_paths.conversions`` before ``stitched_visitors``."""
    from analytics.transforms.funnel_facts import STAGE_ORDER as STAGES
    from analytics.transforms.funnel_facts import deal_facts, stage_rank
    from analytics.transforms.stitching import stitched_leads
    from analytics.transforms.touch_paths import STAGE_OF_CONVERSION

    lead = stitched_leads(con)
    if conversion == "lead":
        return lead.select(
            conversion_id=lead.lead_id,
            visitor_id=lead.visitor_id,
            conversion_at=lead.created_at,
            value=ibis.literal(1.0, type="float64"),
        )
    stage = STAGE_OF_CONVERSION[conversion]
    rank = STAGES.index(stage)
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


# --------------------------------------------------------------------------- cohort stage events
# ``transforms.cohort_events.cohort_stage_events`` before design note 47: the leads' visitor
# from ``stitched_leads`` (every lead's visit looked up in ``visits``).


def old_cohort_stage_events(con, start, stop, as_of_stop, grain="week", picked=None) -> ir.Table:
    """Funnel events of the cohorts of ``[start, stop)`` by first channel and age (see the
    current ``cohort_stage_events``), the code of main at 79a3614 verbatim."""
    from analytics.transforms.cohort_events import (
        _check_grain,
        _deal_stage_times,
        cohort_age,
        first_visit_cohorts,
    )
    from analytics.transforms.funnel_facts import MQL_RANK, SQL_RANK, WON_RANK
    from analytics.transforms.stitching import stitched_leads

    grain = _check_grain(grain)
    lead = stitched_leads(con).select("lead_id", "visitor_id", "created_at")
    deal = _deal_stage_times(con)
    deal = deal.join(lead, deal.lead_id == lead.lead_id).select(
        "visitor_id", "reached", "amount", "mql_at", "sql_at", "won_at"
    )
    zero, none = ibis.literal(0, type="int64"), ibis.literal(0.0, type="float64")
    one = ibis.literal(1, type="int64")

    def events(table, at, leads=zero, mql=zero, sql_leads=zero, sales=zero, revenue=none):
        return table.select(
            event_visitor_id=table.visitor_id,
            at=at,
            leads=leads,
            mql=mql,
            sql_leads=sql_leads,
            sales=sales,
            revenue=revenue.cast("float64"),
        )

    mql = deal.filter(deal.reached >= MQL_RANK)
    sql_lead = deal.filter(deal.reached >= SQL_RANK)
    won = deal.filter(deal.reached >= WON_RANK)
    all_events = ibis.union(
        events(lead, lead.created_at, leads=one),
        events(mql, mql.mql_at, mql=one),
        events(sql_lead, sql_lead.sql_at, sql_leads=one),
        events(won, won.won_at, sales=one, revenue=won.amount),
        distinct=False,
    )
    all_events = all_events.filter(all_events.at < day_start(as_of_stop))
    first = first_visit_cohorts(con, start, stop, grain, picked)
    aged = all_events.join(first, all_events.event_visitor_id == first.visitor_id)
    counts = aged.group_by(
        cohort=aged.cohort,
        first_channel=aged.first_channel,
        age=cohort_age(aged.at, aged.cohort, grain),
    ).agg(
        leads=aged.leads.sum().cast("int64"),
        mql=aged.mql.sum().cast("int64"),
        sql_leads=aged.sql_leads.sum().cast("int64"),
        sales=aged.sales.sum().cast("int64"),
        revenue=aged.revenue.sum().cast("float64"),
    )
    return counts.order_by("cohort", "first_channel", "age")


# --------------------------------------------------------------------------------------
# The similarity's screen before issue 11 item 6 (10M scoring step): each row's k-th
# screened value by a partition of the whole row. `similarity._candidates_blas` now finds
# it in two steps (a sample's k-th as a bound, then the k-th of the cells under it); the
# pairs must be the same, in the same order. Copied verbatim but for the name and the
# module's constants, which did not change.

from analytics.scoring import similarity  # noqa: E402


def old_candidates_blas(queries: np.ndarray, reference: np.ndarray, k: int):
    """(query row, deal row) pairs holding every deal within ``d_k`` (+ slack) of each query.

    A screen in single precision: ``|r|^2 - 2 q.r`` (the squared distance less
    ``|q|^2``, a constant of the row) as float32. Its rounding error is at most
    about ``(p + 2) u (2 |q||r| + |r|^2) <= (p + 2) 1.2e-7 (|q|^2 + |r|^2)``
    (``p`` dimensions, ``u = 6e-8``, the inputs' rounding to float32 included);
    the margin, :data:`similarity.SCREEN_TOLERANCE` ``(p + 2) (|q|^2 + max |r|^2)``, is over
    three times that, so no deal at or within the k-th distance is missed.
    The kept pairs' distances are recomputed in double precision by the caller.
    """
    size = len(reference)
    norms = np.einsum("ij,ij->i", reference, reference)
    top = norms.max()
    minus_twice = (np.ascontiguousarray(reference.T) * -2.0).astype(np.float32)
    norms32 = norms.astype(np.float32)
    step = max(1, similarity.CHUNK_CELLS // size)
    # two reused buffers: fresh arrays per chunk cost more in page faults than the sums
    buffer = np.empty((min(step, len(queries)), size), dtype=np.float32)
    scratch = np.empty_like(buffer)
    rows, cols = [], []
    for first in range(0, len(queries), step):
        chunk = queries[first : first + step]
        partial = np.matmul(chunk.astype(np.float32), minus_twice, out=buffer[: len(chunk)])
        partial += norms32
        ordered = scratch[: len(chunk)]
        np.copyto(ordered, partial)
        ordered.partition(k - 1, axis=1)
        chunk_norms = np.einsum("ij,ij->i", chunk, chunk)
        tolerance = similarity.SCREEN_TOLERANCE * (queries.shape[1] + 2) * (chunk_norms + top)
        kth = ordered[:, k - 1].astype(float) + chunk_norms + tolerance  # >= exact d_k^2
        limit = (np.sqrt(np.maximum(kth, 0.0)) + similarity._SLACK) ** 2 + tolerance - chunk_norms
        row, col = np.divmod(np.flatnonzero(partial <= limit[:, None]), size)
        rows.append(row + first)
        cols.append(col)
    return np.concatenate(rows), np.concatenate(cols)


# --- the leads' visits looked up in `visits` (before the run's mart, docs/design.md 54) ---
#
# Every look-up of a lead's visit (``stitching.visit_attributes``, ``lead_facts._visit_attributes``,
# ``ad_hierarchy._lead_places`` / ``_visit_places`` / ``campaign_week_counts``,
# ``lead_segments.segment_lead_table``, ``quality_checks.lead_check_table``) read
# ``con.table("visits")`` and matched it against the leads' visit ids; each now reads
# ``stitching.visits_of_leads(con)`` instead, which is the run's mart when the backend holds
# it. Substituting this function for ``visits_of_leads`` in those modules gives the old code.

LEAD_VISIT_MODULES = (
    "analytics.transforms.stitching",
    "analytics.transforms.lead_facts",
    "analytics.transforms.ad_hierarchy",
    "analytics.transforms.lead_segments",
    "analytics.transforms.quality_checks",
)
"""Modules whose ``visits_of_leads`` was ``con.table("visits")``."""


def old_visits_of_leads(con):
    """What each look-up of a lead's visit read before the mart: every visit."""
    return con.table("visits")
