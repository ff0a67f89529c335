"""Warehouse transforms as Ibis expressions: one code path for DuckDB, Spark and SQL engines.

Each transform takes an Ibis backend holding the canonical tables
(:mod:`analytics.warehouse.schema`) and returns an unevaluated ``ibis.Table``; run it
with ``backend.execute(expr)`` (a pandas DataFrame) or compile it with
``ibis.to_sql(expr, dialect=...)``. :func:`connect_backend` opens the backend
from a connection string (``duckdb://...`` by default, ``pyspark://local``).

* :mod:`~analytics.transforms.stitching` -- lead -> visit -> visitor, channel;
* :mod:`~analytics.transforms.funnel_facts` -- deal stage reach, funnel counts of a cohort;
* :mod:`~analytics.transforms.lead_facts` -- per-lead facts and the MQL/SQL flags
  of :mod:`analytics.metrics.definitions`;
* :mod:`~analytics.transforms.lead_segments` -- segment, outcome and allocated
  spend of each lead (:mod:`analytics.metrics.segments`);
* :mod:`~analytics.transforms.paid_touches` -- paid touches of the sales' paths
  (:mod:`analytics.metrics.influence`);
* :mod:`~analytics.transforms.quality_checks` -- evidence of the data-quality
  checks of :mod:`analytics.metrics.quality` (deals, leads, spend, weekly counts);
* :mod:`~analytics.transforms.touch_paths` -- ordered touch path of each lead,
  conversions of each type and the journeys (with touches, or aggregated into
  distinct paths in the engine) of attribution;
* :mod:`~analytics.transforms.cohort_events` -- weekly visitor cohorts, and the
  weekly or monthly cohort funnel by first channel;
* :mod:`~analytics.transforms.weekly_rollup` -- weekly KPI rollup;
* :mod:`~analytics.transforms.booked_deals` -- the close rule (deals won or lost
  in the days) and booked revenue, sales and spend (:mod:`analytics.metrics.revenue`);
* :mod:`~analytics.transforms.conversion_counts` -- the lead cohort's counts by
  channel, source or campaign with the MQL rules in force
  (:func:`analytics.metrics.kpi.conversion_by`);
* :mod:`~analytics.transforms.data_span` -- the data's first and last days
  (:mod:`analytics.metrics.period`);
* :mod:`~analytics.transforms.ad_hierarchy` -- spend, visits, the lead cohort and
  booked deals per channel → campaign → ad group → creative, and spend and leads
  per campaign and week (:mod:`analytics.metrics.drilldown`, the snapshot's
  campaign movers and anomalies);
* :mod:`~analytics.transforms.ab_arms` -- the A/B test visit split and the MQL and
  sales attributed to each arm (:func:`analytics.metrics.abtest.arm_counts`);
* :mod:`~analytics.transforms.non_target_deals` -- non-target leads per manager
  (:func:`analytics.metrics.sales_cost.manager_time`);
* :mod:`~analytics.transforms.lead_history` -- what was known of each lead when it
  arrived: the as-of features of lead scoring, the closed deals of its similarity and
  the CRM fields known at arrival (:func:`analytics.scoring.lead_features`), the SQL
  target and the end of the data (:func:`analytics.scoring.sql_target`).

The metrics functions take a DuckDB connection or any of these backends
(:func:`~analytics.transforms.backends.ibis_backend`), so the period snapshot
(:mod:`analytics.metrics.snapshot`) computes the same on PySpark.

See ``docs/backends.md``.
"""

from analytics.transforms.ab_arms import ARM_WEEK_COLUMNS, arm_week_counts
from analytics.transforms.ad_hierarchy import (
    CAMPAIGN_FIGURE_COLUMNS,
    CAMPAIGN_WEEK_COLUMNS,
    HIERARCHY_COUNT_COLUMNS,
    HIERARCHY_FIGURE_COLUMNS,
    campaign_figures,
    campaign_week_counts,
    hierarchy_figures,
)
from analytics.transforms.backends import (
    CANONICAL_TABLES,
    DEFAULT_BACKEND_URL,
    connect_backend,
    connect_local_spark,
    default_backend_url,
    duckdb_backend,
    export_parquet,
    ibis_backend,
    local_spark_session,
)
from analytics.transforms.booked_deals import (
    BOOKED_GROUPINGS,
    CLOSED_DEAL_COLUMNS,
    booked_counts,
    closed_deal_table,
)
from analytics.transforms.cohort_events import (
    COHORT_EVENT_COLUMNS,
    GRAINS,
    cohort_stage_events,
    cohort_visitors,
    first_visit_cohorts,
    first_visits,
    weekly_cohorts,
)
from analytics.transforms.conversion_counts import (
    CONVERSION_COUNT_COLUMNS,
    CONVERSION_GROUPS,
    conversion_counts,
)
from analytics.transforms.data_span import data_span, first_record_day, last_visit_day
from analytics.transforms.funnel_facts import (
    FUNNEL_COUNT_COLUMNS,
    GROUPINGS,
    STAGE_ORDER,
    channel_spend,
    deal_facts,
    funnel_counts,
    stage_rank,
)
from analytics.transforms.lead_facts import (
    LEAD_FACT_COLUMNS,
    LEAD_FLAG_COLUMNS,
    lead_facts,
    lead_flag_table,
)
from analytics.transforms.lead_history import (
    AS_OF_FEATURE_COLUMNS,
    PAST_DEAL_COLUMNS,
    SQL_TARGET_COLUMNS,
    as_of_features,
    latest_event_time,
    lead_field_values,
    past_deal_outcomes,
    sql_within_window,
)
from analytics.transforms.lead_segments import SEGMENT_LEAD_COLUMNS, segment_lead_table
from analytics.transforms.non_target_deals import MANAGER_COUNT_COLUMNS, non_target_by_manager
from analytics.transforms.paid_touches import PAID_TOUCH_COLUMNS, sale_paid_touches
from analytics.transforms.quality_checks import (
    deal_campaign_table,
    lead_check_table,
    spend_visit_table,
    weekly_leads_deals,
)
from analytics.transforms.stitching import (
    LEAD_VISIT_COLUMNS,
    LEAD_VISITS_MART,
    UNDETERMINED,
    lead_visits,
    stitched_leads,
    stitched_visitors,
    visit_attributes,
    visits_of_leads,
)
from analytics.transforms.touch_paths import (
    ANCHORS,
    CONVERSIONS,
    DEFAULT_LOOKBACK_DAYS,
    JOURNEY_PATH_COLUMNS,
    JOURNEY_TOUCH_COLUMNS,
    STAGE_OF_CONVERSION,
    conversion_touches,
    conversions,
    journey_paths,
    journey_touches,
    touch_paths,
)
from analytics.transforms.weekly_rollup import KPI_RATIO_COLUMNS, weekly_kpi

__all__ = [
    "AS_OF_FEATURE_COLUMNS",
    "PAST_DEAL_COLUMNS",
    "SQL_TARGET_COLUMNS",
    "as_of_features",
    "latest_event_time",
    "lead_field_values",
    "past_deal_outcomes",
    "sql_within_window",
    "ARM_WEEK_COLUMNS",
    "CAMPAIGN_FIGURE_COLUMNS",
    "CAMPAIGN_WEEK_COLUMNS",
    "HIERARCHY_COUNT_COLUMNS",
    "HIERARCHY_FIGURE_COLUMNS",
    "MANAGER_COUNT_COLUMNS",
    "arm_week_counts",
    "campaign_figures",
    "campaign_week_counts",
    "hierarchy_figures",
    "non_target_by_manager",
    "ANCHORS",
    "BOOKED_GROUPINGS",
    "CLOSED_DEAL_COLUMNS",
    "CONVERSION_COUNT_COLUMNS",
    "CONVERSION_GROUPS",
    "booked_counts",
    "closed_deal_table",
    "conversion_counts",
    "data_span",
    "first_record_day",
    "ibis_backend",
    "last_visit_day",
    "CANONICAL_TABLES",
    "COHORT_EVENT_COLUMNS",
    "CONVERSIONS",
    "DEFAULT_BACKEND_URL",
    "DEFAULT_LOOKBACK_DAYS",
    "FUNNEL_COUNT_COLUMNS",
    "GRAINS",
    "GROUPINGS",
    "JOURNEY_PATH_COLUMNS",
    "JOURNEY_TOUCH_COLUMNS",
    "KPI_RATIO_COLUMNS",
    "LEAD_FACT_COLUMNS",
    "LEAD_FLAG_COLUMNS",
    "PAID_TOUCH_COLUMNS",
    "SEGMENT_LEAD_COLUMNS",
    "STAGE_OF_CONVERSION",
    "STAGE_ORDER",
    "UNDETERMINED",
    "channel_spend",
    "cohort_stage_events",
    "cohort_visitors",
    "connect_backend",
    "connect_local_spark",
    "conversion_touches",
    "conversions",
    "deal_campaign_table",
    "deal_facts",
    "default_backend_url",
    "duckdb_backend",
    "export_parquet",
    "first_visit_cohorts",
    "first_visits",
    "funnel_counts",
    "journey_paths",
    "journey_touches",
    "lead_check_table",
    "lead_facts",
    "lead_flag_table",
    "sale_paid_touches",
    "segment_lead_table",
    "local_spark_session",
    "stage_rank",
    "spend_visit_table",
    "stitched_leads",
    "stitched_visitors",
    "touch_paths",
    "visit_attributes",
    "visits_of_leads",
    "lead_visits",
    "LEAD_VISITS_MART",
    "LEAD_VISIT_COLUMNS",
    "weekly_cohorts",
    "weekly_kpi",
    "weekly_leads_deals",
]
