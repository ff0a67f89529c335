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
# # Funnel: visits → leads → MQL → SQL → sales

# %% [markdown] tags=["analyst-only"]
# One funnel for marketing and sales, in the role's language (`locale`): every figure is the period snapshot's (`analytics.metrics.snapshot`, labels and formulas from `analytics.metrics.catalogue`), every word and section from `analytics.reports.analyst_pages`, formatted by Babel.

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
locale = "en"  # language and number format of the page: ru or en
views = None  # [[role, locale], ...]: the pages of this run (set by the runner); None: one page
snapshot = None  # metrics.json of the run; None computes the period snapshot here

# %%
from analytics.reports import analyst_pages as pages
from analytics.reports import summary
from analytics.reports.views import Views

views = Views(views, locale=locale)

shot = summary.period_snapshot(warehouse, period, snapshot)

# %%
views.each_locale(
    lambda locale: (
        pages.page_title(shot, "funnel_title", locale) + pages.funnel_conclusion(shot, locale)
    )
)

# %%
views.each_locale(lambda locale: pages.booked_section(shot, locale))

# %%
views.each_locale(lambda locale: pages.cohort_section(shot, locale))

# %%
views.each_locale(lambda locale: pages.stages_section(shot, locale))

# %%
views.each_locale(lambda locale: pages.weeks_section(shot, locale))

# %%
views.each_locale(lambda locale: pages.channel_section(shot, locale))
