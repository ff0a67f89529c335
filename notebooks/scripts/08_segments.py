# ---
# jupyter:
#   jupytext:
#     formats: ipynb,scripts//py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["analyst-only"]
# # Segments, channel profitability and the indirect influence of ads

# %% [markdown] tags=["analyst-only"]
# Conversion, acquisition cost and average deal by segment, ROMI per channel, and ad groups' direct and assisted sales (`analytics.metrics.segments`, `analytics.metrics.influence`). A week has too few sales for this, so the window is the report period or, when it has fewer than 30 sales, widened back from it (`analytics.metrics.journeys.widen_period`). Words, tables and conclusions in the role's language (`locale`) from `analytics.reports.analyst_pages`.

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
locale = "en"  # language and number format of the page: ru or en
views = None  # [[role, locale], ...]: the pages of this run (set by the runner); None: one page
snapshot = None  # metrics.json of the run; None computes the period snapshot here
lead_visits = None  # marts/lead_visits.parquet of the run (set by the runner); None reads visits

# %%
from analytics.metrics.influence import influence
from analytics.metrics.journeys import widen_period
from analytics.metrics.lead_visit_mart import attach_lead_visits
from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.metrics.segments import channel_profitability, segment_leads, segments_overview
from analytics.paths import project_path
from analytics.reports import analyst_pages as pages
from analytics.reports import summary
from analytics.reports.views import Views
from analytics.warehouse import connect

views = Views(views, locale=locale)

shot = summary.period_snapshot(warehouse, period, snapshot)
con = connect(project_path(warehouse), read_only=True)
attach_lead_visits(con, lead_visits)  # the run's mart, if given
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
window = widen_period(con, report_period, "sale", min_conversions=30)
leads = segment_leads(con, window)
overview = segments_overview(leads)
channels = channel_profitability(con, window)
groups = influence(con, window, level="ad_group")

# %%
views.each_locale(
    lambda locale: (
        pages.page_title(shot, "segments_title", locale)
        + pages.window_line(window, len(leads), locale)
        + pages.segments_conclusion(overview, channels, locale)
    )
)

# %%
views.each_locale(lambda locale: pages.segment_section(overview, "region", locale))

# %%
views.each_locale(lambda locale: pages.segment_section(overview, "industry", locale))

# %%
views.each_locale(lambda locale: pages.segment_section(overview, "company_size", locale))

# %%
views.each_locale(lambda locale: pages.profitability_section(channels, locale))

# %%
views.each_locale(lambda locale: pages.influence_section(groups, locale))

# %%
con.close()
