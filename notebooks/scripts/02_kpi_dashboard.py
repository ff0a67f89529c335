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
# # KPI: revenue, marketing and sales

# %% [markdown] tags=["analyst-only"]
# The CEO's, marketing's and sales' figures on one page, in the role's language (`locale`): the headline and the comparison with the previous period are the period snapshot's (`analytics.metrics.snapshot`), plan vs fact from `analytics.metrics.plan`, managers and non-target leads from `analytics.metrics.kpi` and `analytics.metrics.sales_cost`; words and sections from `analytics.reports.analyst_pages` and `analytics.reports.summary`.

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
locale = "en"  # language and number format of the page: ru or en
views = None  # [[role, locale], ...]: the pages of this run (set by the runner); None: one page
snapshot = None  # metrics.json of the run; None computes the period snapshot here
target_growth = 0.2  # growth of the revenue target when there is no plan
lead_visits = None  # marts/lead_visits.parquet of the run (set by the runner); None reads visits

# %%
from analytics.metrics import sales_cost
from analytics.metrics.definitions import load_definitions
from analytics.metrics.lead_visit_mart import attach_lead_visits
from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.metrics.plan import plan_vs_fact
from analytics.paths import project_path
from analytics.reports import analyst_pages as pages
from analytics.reports import sales_page, summary
from analytics.reports.views import Views
from analytics.warehouse import connect

views = Views(views, locale=locale)

shot = summary.period_snapshot(warehouse, period, snapshot)
con = connect(project_path(warehouse), read_only=True)
attach_lead_visits(con, lead_visits)  # the run's mart, if given
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
plan = plan_vs_fact(con, shot.period.end, target_growth=target_growth)
# the managers' and the non-target tables once, for every language of the page
managers = sales_page.manager_frame(con, report_period)
non_target = sales_cost.non_target_leads(con, report_period, load_definitions())

# %%
views.each_locale(
    lambda locale: pages.page_title(shot, "kpi_title", locale) + pages.kpi_conclusion(shot, locale)
)

# %%
views.each_locale(lambda locale: summary.headline(shot, "analyst", locale, plan))

# %%
views.each_locale(lambda locale: summary.plan_section(plan, locale, target_growth))

# %%
views.each_locale(lambda locale: pages.kpi_weekly_section(shot, locale))

# %%
views.each_locale(lambda locale: pages.kpi_channel_section(shot, locale))

# %%
views.each_locale(
    lambda locale: sales_page.managers_section(con, report_period, locale, frame=managers)
)

# %%
views.each_locale(
    lambda locale: pages.non_target_section(
        con, report_period, locale, load_definitions(), frame=non_target
    )
)

# %%
views.each_locale(lambda locale: pages.kpi_compare_section(shot, locale))

# %%
con.close()
