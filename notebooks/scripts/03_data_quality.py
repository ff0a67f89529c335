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
# # Data quality: can the figures be trusted?

# %% [markdown] tags=["analyst-only"]
# Where the chain site → lead → CRM deal breaks, in the role's language (`locale`): every check, share and threshold from `analytics.metrics.quality`, words and sections from `analytics.reports.analyst_pages`, figures formatted by Babel. On demo data the checks are also compared with the defects the generator injected (`truth.defects`, all data).

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
locale = "en"  # language and number format of the page: ru or en
views = None  # [[role, locale], ...]: the pages of this run (set by the runner); None: one page
snapshot = None  # metrics.json of the run; None computes the period snapshot here
lead_visits = None  # marts/lead_visits.parquet of the run (set by the runner); None reads visits

# %%
from analytics.metrics import quality
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
report = quality.quality_report(con, report_period)

# %%
views.each_locale(
    lambda locale: (
        pages.page_title(shot, "quality_title", locale) + pages.checks_section(report, locale)
    )
)

# %%
undetermined = quality.undetermined_campaign(quality.deal_campaigns(con, report_period))
views.each_locale(lambda locale: pages.undetermined_section(undetermined, locale))

# %%
weekly = quality.marketing_vs_sales(con, report_period, weeks=12)
views.each_locale(lambda locale: pages.marketing_vs_sales_section(weekly, locale))

# %%
loads, quarantine = quality.load_summary(con), quality.quarantine_reasons(con)
views.each_locale(lambda locale: pages.loads_section(loads, quarantine, locale))

# %% tags=["analyst-only"]
defects = quality.demo_defect_recovery(con)  # None on real data (no truth.defects)
views.each_locale(lambda locale: pages.demo_defects_section(defects, locale))

# %%
con.close()
