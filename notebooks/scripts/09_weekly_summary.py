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
# # Weekly summary: headline, plan vs fact, trend, channels

# %% [markdown] tags=["analyst-only"]
# The leadership page of every role, in the role's language (`locale`): every visible word comes from `analytics.reports.summary`, every figure from the period snapshot (`analytics.metrics.snapshot`), formatted by Babel.

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
role = "ceo"  # role whose page this is: its tiles and sections
locale = "ru"  # language and number format of the page: ru or en
snapshot = None  # metrics.json of the run; None computes the period snapshot here
target_growth = 0.2  # growth of the revenue target when there is no plan
views = None  # [[role, locale], ...]: the pages of this run (set by the runner); None: one page

# %%
import duckdb

from analytics.metrics.plan import plan_vs_fact
from analytics.paths import project_path
from analytics.reports import summary
from analytics.reports.views import Views

views = Views(views, role, locale)
snapshot = summary.period_snapshot(warehouse, period, snapshot)
with duckdb.connect(str(project_path(warehouse)), read_only=True) as con:
    plan = plan_vs_fact(con, snapshot.period.end, target_growth=target_growth)

# %%
views.each(lambda role, locale: summary.title(snapshot, role, locale))

# %%
views.each(lambda role, locale: summary.headline(snapshot, role, locale, plan))

# %%
views.each(lambda role, locale: summary.what_changed_section(snapshot, locale, role))

# %%
views.each_locale(lambda locale: summary.plan_section(plan, locale, target_growth))

# %%
views.each(lambda role, locale: summary.trend_section(snapshot, role, locale))

# %%
views.each_locale(lambda locale: summary.channels_section(snapshot, locale))
