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
# # Lead scoring: who to call first

# %% [markdown] tags=["analyst-only"]
# The saved model (`analytics.scoring`) scores every lead 0–100 (its calibrated chance, in percent, of reaching SQL within 30 days), bands it A–D and gives reasons in plain words; the weekly report loads it and retrains only when asked or when monitoring finds it out of date. Words, tables and the conclusion in the role's language (`locale`) from `analytics.reports.analyst_pages` and `analytics.reports.sales_page`.

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
locale = "en"  # language and number format of the page and of the reasons: ru or en
views = None  # [[role, locale], ...]: the pages of this run (set by the runner); None: one page
snapshot = None  # metrics.json of the run; None computes the period snapshot here
lead_scoring = None  # the run's lead scoring (set by the runner); None: computed here
model_dir = "data/models"  # saved models (train-scoring --out); relative to the project root
retrain = False  # True: train a new model even if the saved one is fine
call_list_csv = ""  # where to write the call list as CSV; empty: not written
max_rows = 20  # rows of the call list shown on the page

# %%
from analytics.paths import project_path
from analytics.reports import analyst_pages as pages
from analytics.reports import sales_page, summary
from analytics.reports.views import Views
from analytics.scoring.period_scores import load_or_compute
from analytics.scoring.sales import export_call_list

views = Views(views, locale=locale)

shot = summary.period_snapshot(warehouse, period, snapshot)
# the model (loaded, or trained when none is saved), its monitoring and the call list in
# each language (reasons in words): computed once per run, or here when opened by hand
scores = load_or_compute(lead_scoring, warehouse, period, model_dir, retrain=retrain)
card = scores.card
if call_list_csv:  # in the language of the `locale` parameter
    export_call_list(scores.calls[locale], project_path(call_list_csv), language=locale)

# %%
views.each_locale(
    lambda locale: (
        pages.page_title(shot, "scoring_title", locale)
        + pages.scoring_conclusion(
            scores.model_version, scores.status, scores.monitoring, card, locale
        )
    )
)

# %%
views.each_locale(
    lambda locale: sales_page.call_list_section(scores.calls[locale], locale, max_rows)
)

# %%
views.each_locale(lambda locale: pages.model_quality_section(card, locale))

# %%
views.each_locale(lambda locale: pages.drift_section(scores.monitoring, locale))

# %%
views.each_locale(lambda locale: pages.importance_section(scores.importance, locale))
