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
# # Cohorts of visitors: how long it takes to turn a visit into a lead and a sale

# %% [markdown]
# A weekly funnel mixes people who arrived long ago with newcomers, so the ads of one week show their leads and sales weeks later, under other weeks. Cohorts follow the visitors who came for the first time in the same week, through the channel of that first visit, and accumulate what they did in each following week. A weekly report period holds a single cohort with no history, so this page looks at the 12 weekly cohorts (and 12 monthly ones for sales) ending with the report period, counted as of its last day; the newest cohorts have the fewest weeks behind them (see `analytics.metrics.cohorts` for every definition).

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
role = "analyst"  # role whose report this page is (params/roles/<role>.yaml)

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import display

from analytics.metrics.cohorts import (
    CONVERSIONS,
    cohort_funnel,
    cohort_sizes,
    cohort_window,
    conversion_matrix,
    cumulative_conversion,
)
from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.paths import project_path
from analytics.warehouse import connect

sns.set_theme(style="white")

# %%
con = connect(project_path(warehouse), read_only=True)
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
weeks = cohort_window(report_period, 12)
months = cohort_window(report_period, 12, grain="month")
cohorts = cohort_funnel(con, weeks, as_of=report_period.end)
monthly = cohort_funnel(con, months, grain="month", as_of=report_period.end)
print(f"Period: {report_period}; weekly cohorts {weeks}; monthly cohorts {months}")

# %% [markdown]
# ## Cohort sizes by first channel

# %%
sizes = cohort_sizes(cohorts)
sizes.style.background_gradient(cmap="Greys", subset=sizes.columns[:-1], axis=None)

# %% [markdown]
# Each row is a week of first visits split by the channel that brought the visitors; the mix explains part of the differences between cohorts below.

# %% [markdown]
# ## Cumulative conversion visitor → lead

# %%
fig, ax = plt.subplots(figsize=(11, 5))
sns.heatmap(
    conversion_matrix(cohorts, "cr_visitor_lead"),
    annot=True,
    fmt=".1f",
    cmap="Blues",
    cbar_kws={"label": CONVERSIONS["cr_visitor_lead"][0]},
    ax=ax,
)
ax.set(xlabel="weeks since first visit", ylabel="cohort (week of first visit)")
plt.show()

# %% [markdown]
# Reading a row left to right shows how the share of a cohort's visitors who left a request grows week after week; blank cells are weeks that have not happened yet.

# %% [markdown]
# ## Visitor → lead by first channel

# %%
channels = sizes.drop(columns="total").sum().sort_values(ascending=False).index[:6]
matrices = {c: conversion_matrix(cohorts, "cr_visitor_lead", first_channel=c) for c in channels}
top = pd.concat(matrices.values()).max().max()
fig, axes = plt.subplots(2, 3, figsize=(16, 8), sharex=True, sharey=True)
scale = fig.add_axes([0.92, 0.15, 0.012, 0.7])
for (channel, matrix), ax in zip(matrices.items(), axes.flat, strict=False):
    sns.heatmap(matrix, cmap="Blues", vmin=0, vmax=top, cbar_ax=scale, ax=ax)
    ax.set(title=channel, xlabel="weeks since first visit", ylabel="")
for ax in axes.flat[len(channels) :]:
    ax.set_visible(False)
scale.set_ylabel(CONVERSIONS["cr_visitor_lead"][0])
fig.subplots_adjust(right=0.9, hspace=0.3)
plt.show()

# %% [markdown]
# The six largest first channels side by side: a channel whose cohorts darken late brings people who need several returns before they ask, which a last-click report undervalues.

# %% [markdown]
# ## Monthly cohorts: cumulative conversion visitor → sale

# %%
fig, ax = plt.subplots(figsize=(11, 5))
sns.heatmap(
    conversion_matrix(monthly, "cr_visitor_sale"),
    annot=True,
    fmt=".2f",
    cmap="Greens",
    cbar_kws={"label": CONVERSIONS["cr_visitor_sale"][0]},
    ax=ax,
)
ax.set(xlabel="months since first visit", ylabel="cohort (month of first visit)")
plt.show()

# %% [markdown]
# Sales take months in B2B, so they are followed by month of first visit: the right edge of each row shows how many of the cohort's visitors have bought so far.

# %% [markdown] tags=["analyst-only"]
# ## Analyst checks
#
# Cumulative counts and every conversion of the weekly cohorts, all first channels together.

# %% tags=["analyst-only"]
display(cumulative_conversion(cohorts, by_channel=False))
display(conversion_matrix(monthly, "revenue_per_visitor").round(0))

# %%
con.close()
