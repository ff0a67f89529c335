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
# # Segments, channel profitability and the indirect influence of ads

# %% [markdown]
# Clients are not alike: a region, an industry or a company size can convert better, cost less to acquire or pay a bigger check, and channels return very different amounts per rouble spent. Ads also work before the last click: an ad group that brings people early in a long B2B path looks useless in a last-click report and gets switched off. This page shows conversion, acquisition cost and average check by segment, ROMI per channel, and sales where each ad group was the last paid touch (direct) next to sales it touched earlier (assisted). A week has too few sales for this, so the window is the report period or, when it has fewer than 30 sales, the quarter ending with it (see `analytics.metrics.segments` and `analytics.metrics.influence` for every definition).

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
role = "analyst"  # role whose report this page is (params/roles/<role>.yaml)

# %%
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display
from matplotlib.ticker import EngFormatter

from analytics.metrics.influence import influence, influence_long
from analytics.metrics.journeys import widen_period
from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.metrics.segments import channel_profitability, segment_leads, segments_overview
from analytics.paths import project_path
from analytics.warehouse import connect

sns.set_theme(style="whitegrid")

# %%
con = connect(project_path(warehouse), read_only=True)
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
window = widen_period(con, report_period, "sale", min_conversions=30)
leads = segment_leads(con, window)
overview = segments_overview(leads)
print(f"Period: {report_period}; window: {window}; leads: {len(leads)}")

# %% [markdown]
# ## Conversion lead → sale by segment

# %%
grid = sns.catplot(
    data=overview,
    x="cr_lead_sale",
    y="segment",
    col="dimension",
    kind="bar",
    sharey=False,
    height=4,
    aspect=1.1,
    color="#4c72b0",
)
grid.set_titles("{col_name}").set_axis_labels("CR lead → sale, %", "")
plt.show()

# %% [markdown]
# Each bar is the share of a segment's leads that became a sale; segments are listed by the number of leads, so thin bars at the bottom rest on few leads.

# %% [markdown]
# ## Acquisition cost and average check by segment

# %%
costs = overview.melt(
    id_vars=["dimension", "segment"],
    value_vars=["cac", "average_check"],
    var_name="metric",
    value_name="RUB",
)
grid = sns.catplot(
    data=costs,
    x="RUB",
    y="segment",
    hue="metric",
    col="dimension",
    kind="bar",
    sharey=False,
    height=4,
    aspect=1.1,
)
grid.set_titles("{col_name}").set_axis_labels("RUB", "")
for ax in grid.axes.flat:
    ax.xaxis.set_major_formatter(EngFormatter())
plt.show()

# %% [markdown]
# A segment whose average check is far above its acquisition cost (CAC, with spend shared out by channel CPL) deserves more budget; segments without a sale are left out.

# %% [markdown]
# ## Channel profitability

# %%
channels = channel_profitability(con, window)
paid = channels[channels["spend"] > 0]
ax = sns.barplot(data=paid, x="romi", y="channel", color="#55a868")
ax.axvline(0, color="grey", linewidth=1)
ax.bar_label(ax.containers[0], fmt="%.0f%%", label_type="center", color="white")
ax.set(xlabel="ROMI, % = (revenue − spend) / spend × 100%", ylabel="", title="ROMI by channel")
plt.show()

# %% [markdown]
# Bars right of zero are channels whose leads brought more revenue than the channel cost; channels without spend are in the table below and have no ROMI.

# %%
channels.style.format(
    {
        "spend": "{:,.0f}",
        "revenue": "{:,.0f}",
        "profit": "{:,.0f}",
        "romi": "{:.0f}%",
        "drr": "{:.1f}%",
        "cac": "{:,.0f}",
    },
    na_rep="—",
).hide(axis="index").set_caption("Channels, money in RUB")

# %% [markdown]
# Profit is revenue of the channel's leads minus its spend; ДРР is spend / revenue.

# %% [markdown]
# ## Direct and indirect influence of ad groups

# %%
groups = influence(con, window, level="ad_group")
top = groups.head(15)
fig, ax = plt.subplots(figsize=(9, 0.45 * len(top) + 1.5))
sns.barplot(data=influence_long(top), x="value", y="group", hue="influence", ax=ax)
ax.set(xlabel="sales", ylabel="", title="Sales per ad group: last paid touch vs earlier touch")
plt.show()

# %% [markdown]
# Blue bars are the sales a last-click report credits to the ad group; orange bars are sales it helped earlier in the path, invisible in that report.

# %% [markdown] tags=["analyst-only"]
# ## Analyst checks
#
# Segment tables of every dimension, influence per ad group and per campaign, unformatted.

# %% tags=["analyst-only"]
display(overview)
display(groups)
display(influence(con, window, level="campaign"))

# %%
con.close()
