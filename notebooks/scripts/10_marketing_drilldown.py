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
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["analyst-only"]
# # Marketing drill-down: channel, campaign, ad group, creative

# %% [markdown] tags=["analyst-only"]
# For the head of marketing and channel managers, in the role's language: spend, visits, the period's leads and their outcomes, cost ratios and the change vs the previous period, per campaign and per ad group / creative (`analytics.metrics.drilldown`).

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
role = "marketing"  # role whose page this is
locale = "ru"  # language and number format of the page: ru or en
snapshot = None  # metrics.json of the run; None computes the period snapshot here
views = None  # [[role, locale], ...]: the pages of this run (set by the runner); None: one page
lead_visits = None  # marts/lead_visits.parquet of the run (set by the runner); None reads visits

# %%
import duckdb

from analytics.metrics.drilldown import drilldown_tables
from analytics.metrics.lead_visit_mart import attach_lead_visits
from analytics.paths import project_path
from analytics.reports import summary
from analytics.reports.views import Views

views = Views(views, role, locale)
snapshot = summary.period_snapshot(warehouse, period, snapshot)
con = duckdb.connect(str(project_path(warehouse)), read_only=True)
attach_lead_visits(con, lead_visits)  # the run's mart, if given

# %%
tables = drilldown_tables(con, snapshot.period)  # once for every page of the run
views.each_locale(lambda locale: summary.drilldown_section(tables, locale))

# %% tags=["analyst-only"]
con.close()
