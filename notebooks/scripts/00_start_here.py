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

# %% [markdown]
# # Start here: the warehouse, the marts and a first hypothesis

# %% [markdown]
# This page is where an analyst's question starts: what is in the warehouse, how to query it with SQL or Ibis, and how to test a hypothesis with an interval rather than a hunch. The example asks whether leads from one channel that viewed the pricing page become SQL more often than the channel's other leads; change the parameters to ask your own question.

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "all"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
channel = "yandex_search"  # channel key of params/channels.yaml whose leads are compared
group = "pricing_viewed"  # true/false column of the leads: the property tested
outcome = "is_sql"  # true/false column of the leads: the conversion (is_mql, is_sql, is_won)
confidence = 0.95  # fraction; level of the intervals
lead_visits = None  # marts/lead_visits.parquet of the run (set by the runner); None reads visits

# %%
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import Markdown, display

from analytics.metrics.definitions import lead_flags, load_definitions
from analytics.metrics.hypothesis import compare_rates
from analytics.metrics.lead_visit_mart import attach_lead_visits
from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.paths import project_path
from analytics.transforms.backends import duckdb_backend
from analytics.warehouse import connect

sns.set_theme(style="whitegrid")

# %%
con = connect(project_path(warehouse), read_only=True)
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
print(f"Period: {report_period}")

# %% [markdown]
# ## What the warehouse holds
#
# The canonical tables (`docs/schema.md`), the `quarantine` and `load_log` of every load, the demo's ground truth in schema `truth`, and the marts the weekly run writes. Plain SQL works on the DuckDB connection (`con.execute(sql).df()` gives a pandas frame):

# %%
con.execute(
    "SELECT schema_name, table_name, estimated_size AS rows FROM duckdb_tables() "
    "ORDER BY schema_name, table_name"
).df()

# %% [markdown]
# ## The same data through Ibis
#
# Ibis expressions run unchanged on DuckDB and on PySpark (`docs/backends.md`); the library's transforms are written this way. Leads per type and month:

# %%
with duckdb_backend(con) as backend:
    leads = backend.table("leads")
    month = leads.created_at.truncate("M").name("month")
    per_month = (
        leads.group_by([month, "lead_type"])
        .agg(leads=leads.count())
        .order_by(["month", "lead_type"])
    ).to_pandas()
per_month.pivot(index="month", columns="lead_type", values="leads").fillna(0).astype(int).tail(6)

# %% [markdown]
# ## A hypothesis with an interval

# %%
attach_lead_visits(con, lead_visits)  # the run's mart, if given (after the table list)
flags = lead_flags(con, report_period, load_definitions())
leads_of_channel = flags[flags["channel"] == channel]
result = compare_rates(leads_of_channel, group, outcome, confidence)
display(Markdown(result.sentence(f"leads of {channel} with {group}", f"reach {outcome}")))

# %%
points = [
    (f"with {group}", result.rate_with * 100, result.n_with),
    (f"without {group}", result.rate_without * 100, result.n_without),
]
fig, ax = plt.subplots(figsize=(6, 2.4))
ax.barh([p[0] for p in points], [p[1] for p in points], color=["#4c72b0", "#999999"])
for y, (_, rate, n) in enumerate(points):
    ax.annotate(
        f"{rate:.1f} % of {n}", (rate, y), xytext=(4, 0), textcoords="offset points", va="center"
    )
ax.set(xlabel=f"{outcome}, % of the channel's leads", title=f"{channel}, {report_period.label}")
plt.show()

# %% [markdown]
# The bars are the two conversion rates; the sentence above gives the difference in percentage points with its interval (Newcombe's method) and says whether it can be told from zero. With few leads the interval is wide: widen the period before drawing a conclusion.

# %% [markdown]
# ## From a finding to a weekly page
#
# 1. Copy this notebook to `notebooks/NN_your_topic.ipynb`, keep the `parameters` cell and replace the example with your analysis (logic goes into `src/analytics/` with a unit test; the notebook only calls it).
# 2. Add one line `  - NN_your_topic.ipynb` under `notebooks:` in `params/roles/<role>.yaml`.
# 3. `python -m analytics report --roles <role>` renders it with the role's other pages, and the weekly e-mail attaches it.

# %%
con.close()
