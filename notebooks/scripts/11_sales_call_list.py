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
# # Sales: who to call first

# %% [markdown] tags=["analyst-only"]
# The head of sales' page, in the role's language: the period's requests ordered by the saved lead-scoring model (score 0–100, band A–D, reasons in plain words; `analytics.scoring`), then each manager's win rate, revenue and cycle time (`analytics.metrics.kpi`). The call list is also written as CSV beside the page and attached to the sales e-mail.

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
role = "sales"  # role whose page this is (its call list file goes in its report folder)
locale = "ru"  # language and number format of the page: ru or en
snapshot = None  # metrics.json of the run; None: no call-list file is written
lead_scoring = None  # the run's lead scoring (set by the runner); None: computed here
model_dir = "data/models"  # saved scoring models (train-scoring --out); from the project root
max_rows = 30  # rows of the call list shown on the page (the CSV has them all)
views = None  # [[role, locale], ...]: the pages of this run (set by the runner); None: one page

# %%
from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.paths import project_path
from analytics.reports import sales_page, summary
from analytics.reports.views import Views
from analytics.scoring.period_scores import load_or_compute
from analytics.scoring.sales import export_call_list
from analytics.warehouse import connect

views = Views(views, role, locale)
shot = summary.period_snapshot(warehouse, period, snapshot)
# the call list in each language (reasons in words) from the saved model: computed once
# per run, or here when the notebook is opened by hand
scores = load_or_compute(lead_scoring, warehouse, period, model_dir)
con = connect(project_path(warehouse), read_only=True)
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
for page_role, page_locale in views.pages:  # each role's CSV, beside its page
    csv_path = sales_page.call_list_path(snapshot, page_role)
    if csv_path is not None:
        export_call_list(scores.calls[page_locale], csv_path, page_locale)

# %%
views.each_locale(lambda locale: summary.title(shot, role, locale, sales_page.page_title(locale)))

# %%
views.each_locale(
    lambda locale: sales_page.call_list_section(scores.calls[locale], locale, max_rows)
)

# %%
managers = sales_page.manager_frame(con, report_period)  # once for every language
views.each_locale(
    lambda locale: sales_page.managers_section(con, report_period, locale, frame=managers)
)

# %%
con.close()
