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

# %% [markdown]
# # Funnel overview: visits → leads → MQL → SQL → sales

# %% [markdown]
# Marketing is judged by leads and sales by deals, but both teams spend the same roubles and work the same people. This report puts them on one funnel for the period — visits → leads → MQL → SQL → sales — with what each step costs, so a drop can be traced to the stage and the channel where it happened instead of being argued about. Leads are counted by the day they arrived and followed to whatever their deals reached since (see `analytics.metrics.funnel` for every definition).

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
role = "analyst"  # role whose report this page is (params/roles/<role>.yaml)
snapshot = None  # metrics.json of the run; None computes the period snapshot here

# %%
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display

from analytics.metrics.funnel import (
    channel_table,
    funnel_by_channel,
    funnel_stages,
    funnel_summary,
    summary_table,
    weekly_funnel,
    weekly_long,
)
from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.metrics.snapshot import compute_snapshot, formatted_table, load_snapshot
from analytics.paths import project_path
from analytics.warehouse import connect

sns.set_theme(style="whitegrid")

# %%
con = connect(project_path(warehouse), read_only=True)
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
shot = load_snapshot(snapshot) if snapshot else compute_snapshot(con, report_period)
print(f"Period: {report_period}")

# %% [markdown]
# ## Booked in the period
#
# Revenue and sales on the day the deal is won, spend on the day it is paid: the figures of the e-mail and the KPI dashboard, read from the run's snapshot (`metrics.json`).

# %%
formatted_table(shot, ("revenue", "sales", "spend", "romi", "cac", "drr"))

# %% [markdown]
# ## The period's leads (cohort)

# %%
summary = funnel_summary(con, report_period)
summary_table(summary).style.set_caption(f"Funnel {report_period.label}, money in RUB")

# %% [markdown]
# Each row is one figure of the period's lead cohort with its formula: the leads created in the period and whatever their deals reached since, so sales, revenue and ROMI here are the cohort's (they grow as the cohort matures) and differ from the booked figures above. Money in roubles without VAT, conversions in percent, a dash where the denominator is zero.

# %% [markdown]
# ## Funnel stages

# %%
ax = sns.barplot(data=funnel_stages(summary), x="count", y="stage", color="#4c72b0")
ax.bar_label(ax.containers[0], padding=3)
ax.set(xlabel="count", ylabel="", title=f"Funnel, {report_period.label}")
plt.show()

# %% [markdown]
# The bars show how many visits, leads, MQL, SQL and sales the period produced; the gap between neighbouring bars is where the funnel leaks.

# %% [markdown]
# ## Last 12 weeks

# %%
weekly = weekly_funnel(con, report_period, weeks=12)
grid = sns.relplot(
    data=weekly_long(weekly),
    x="week_start",
    y="value",
    col="metric",
    col_wrap=4,
    kind="line",
    marker="o",
    height=2.4,
    aspect=1.3,
    facet_kws={"sharey": False},
)
grid.set_titles("{col_name}").set_axis_labels("week", "").set(ylim=(0, None))
grid.tick_params(axis="x", rotation=45)
plt.show()

# %% [markdown]
# Each panel follows one figure week by week, so a change in the last week can be told apart from the usual week-to-week noise.

# %% [markdown]
# ## By channel

# %%
by_channel = funnel_by_channel(con, report_period)
channel_table(by_channel).style.set_caption("Funnel by lead channel, money in RUB")

# %% [markdown]
# Each row is one channel: its spend, the funnel of the leads it brought and their unit economics; `undetermined` holds leads without a tracked visit.

# %% [markdown] tags=["analyst-only"]
# ## Analyst checks
#
# The raw frames behind the tables above, unformatted.

# %% tags=["analyst-only"]
display(summary.T)
display(by_channel)
display(weekly)

# %%
con.close()
