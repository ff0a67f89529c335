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
# # Visitor cohorts: from the first visit to a lead and a sale

# %% [markdown] tags=["analyst-only"]
# Visitors followed by the week (sales: the month) of their first visit and its channel, in the role's language (`locale`): the 12 weekly and 12 monthly cohorts ending with the report period, counted as of its last day (`analytics.metrics.cohorts`); words, shaded tables and the conclusion from `analytics.reports.analyst_pages`, figures formatted by Babel.

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
locale = "en"  # language and number format of the page: ru or en
views = None  # [[role, locale], ...]: the pages of this run (set by the runner); None: one page
snapshot = None  # metrics.json of the run; None computes the period snapshot here
lead_visits = None  # marts/lead_visits.parquet of the run (set by the runner); None reads visits

# %%
from analytics.metrics.cohorts import cohort_funnels, cohort_window
from analytics.metrics.lead_visit_mart import attach_lead_visits
from analytics.metrics.period import data_anchor, data_bounds, parse_period
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
weeks = cohort_window(report_period, 12)
months = cohort_window(report_period, 12, grain="month")
# one query for both: the first visit of every visitor is found once
cohorts, monthly = cohort_funnels(
    con, [(weeks, "week"), (months, "month")], as_of=report_period.end
)

# %%
views.each_locale(
    lambda locale: (
        pages.page_title(shot, "cohorts_title", locale) + pages.cohorts_conclusion(cohorts, locale)
    )
)

# %%
views.each_locale(lambda locale: pages.sizes_section(cohorts, locale))

# %%
views.each_locale(lambda locale: pages.conversion_section(cohorts, monthly, locale))

# %%
con.close()
