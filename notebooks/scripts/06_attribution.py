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
# # Attribution: which channels earn the sales

# %% [markdown]
# A sale is preceded by several visits through different channels, and the usual last-click view gives all of it to whatever came last — often direct traffic or a brand search that only closed what ads and content opened. This report shares the same conversions out under every common model — first, last, last non-direct, linear, position-based, time decay, Markov chains of order 1–3 with exact removal effects and Shapley values — and shows how revenue and ROMI by channel move with the model. A budget decision that holds under every model is safe; one that flips between them needs an experiment. On the demo company the true causal share of every channel is known, so the models are also scored against it. Attribution of one week with a handful of sales is noise, so the window widens to the quarter (or all data) ending with the report period when the period has fewer than 30 conversions (see `analytics.metrics.journeys` and `analytics.attribution` for every definition).

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
role = "analyst"  # role whose report this page is (params/roles/<role>.yaml)
lookback_days = 30  # days of visits before a conversion that count as its touches
conversion = "sale"  # lead, mql, sql, sale or revenue: what the models attribute

# %%
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display

from analytics.attribution import (
    MODEL_LABELS,
    compare_models,
    credit_shares,
    direct_assisted,
    error_vs_truth,
    rank_changes,
    romi_by_model,
    share_vs_truth,
    truth_effects,
)
from analytics.metrics.funnel import funnel_by_channel
from analytics.metrics.journeys import build_journeys, widen_period
from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.paths import project_path
from analytics.warehouse import connect

sns.set_theme(style="whitegrid")

# %%
con = connect(project_path(warehouse), read_only=True)
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
window = widen_period(con, report_period, conversion, min_conversions=30)
journeys = build_journeys(con, conversion, lookback_days=lookback_days, period=window)
sales = (
    journeys
    if conversion == "sale"
    else build_journeys(con, "sale", lookback_days=lookback_days, period=window)
)
weight = journeys.default_weight
credit = compare_models(journeys.paths, journeys.touches, weight=weight)
sales_credit = compare_models(sales.paths, sales.touches, weight="conversions")
revenue_credit = compare_models(sales.paths, sales.touches, weight="value")
spend = funnel_by_channel(con, window).set_index("channel")["spend"]
romi = romi_by_model(sales_credit, revenue_credit, spend)
print(f"Period: {report_period}; attribution window: {window}; lookback {lookback_days} days")
print(
    f"{conversion}: {journeys.paths['conversions'].sum():.0f} conversions on paths, "
    f"{journeys.unattributed['conversions']:.0f} without a tracked touch; "
    f"{journeys.paths['nulls'].sum():.0f} journeys without a conversion"
)

# %% [markdown]
# ## Credit by model

# %%
fig, ax = plt.subplots(figsize=(10, 4.5))
sns.heatmap(
    credit_shares(credit).rename(columns=MODEL_LABELS),
    annot=True,
    fmt=".0f",
    cmap="Blues",
    cbar_kws={"label": "% of credit"},
    ax=ax,
)
ax.set(xlabel="", ylabel="", title=f"Share of {conversion} credit by channel, {window.label}")
plt.show()

# %% [markdown]
# Each column shares out the same conversions; a channel whose share changes a lot from column to column is one whose value depends on the model, not on the data.

# %% [markdown]
# ## Revenue and ROMI by model

# %%
revenue_credit.rename(columns=MODEL_LABELS).style.format("{:,.0f} ₽").set_caption(
    f"Revenue credited to each channel, RUB, {window.label}"
)

# %%
paid = romi[romi["spend"] > 0].pivot(index="channel", columns="model", values="romi")
fig, ax = plt.subplots(figsize=(10, 0.6 * len(paid) + 2))
sns.heatmap(
    paid[list(credit.columns)].rename(columns=MODEL_LABELS),
    annot=True,
    fmt=".0f",
    center=0,
    cmap="RdYlGn",
    cbar_kws={"label": "ROMI, %"},
    ax=ax,
)
ax.set(xlabel="", ylabel="", title=f"ROMI of paid channels by model, {window.label}")
plt.show()

# %% [markdown]
# ROMI = (credited revenue − spend) / spend × 100%: green cells pay back under that model, red ones do not, and a row that changes colour is a budget call to test.

# %% [markdown]
# ## Rank changes

# %%
ranks = rank_changes(credit, base="last_touch")
fig, ax = plt.subplots(figsize=(10, 4.5))
sns.pointplot(
    data=ranks.assign(model=ranks["model"].map(MODEL_LABELS)),
    x="model",
    y="rank",
    hue="channel",
    markers="o",
    ax=ax,
)
ax.invert_yaxis()
ax.set(xlabel="", ylabel="rank (1 = most credit)", title="Channel rank under each model")
plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
ax.legend(bbox_to_anchor=(1.02, 1), loc="upper left", title="channel")
plt.show()

# %% [markdown]
# Lines that rise to the right of *Last touch* are channels that open journeys which other channels close; falling lines are channels that mostly close them.

# %% [markdown]
# ## Direct vs assisted conversions

# %%
assists = direct_assisted(journeys.paths, weight)
ax = sns.barplot(
    data=assists[["last_touch", "assisted"]]
    .reset_index()
    .melt(id_vars="channel", var_name="credited as"),
    x="value",
    y="channel",
    hue="credited as",
)
ax.set(xlabel=f"{conversion} ({weight})", ylabel="", title="Last-touch and assisted conversions")
plt.show()

# %% [markdown]
# A channel with many more assisted than last-touch conversions prepares sales that are credited elsewhere under last click; cutting it would show up in other channels' results.

# %% [markdown]
# ## Error against the ground truth

# %%
truth = truth_effects(con)
if truth is None:
    print("No ground truth in this warehouse (schema `truth` exists only for demo data).")
else:
    errors = error_vs_truth(credit, truth, conversion)
    ax = sns.barplot(
        data=errors.reset_index().assign(model=lambda f: f["model"].map(MODEL_LABELS)),
        x="mae_pp",
        y="model",
        color="#4c72b0",
    )
    ax.bar_label(ax.containers[0], fmt="%.1f", padding=3)
    ax.set(xlabel="mean |credit share − true incremental share|, pp", ylabel="")
    ax.set(title=f"Distance from the causal truth, {conversion}")
    plt.show()

# %% [markdown]
# The shorter the bar, the closer the model's channel shares are to the true incremental shares of the demo company (known by re-simulating it without each channel).

# %% [markdown] tags=["analyst-only"]
# ## Analyst checks
#
# The frames behind the figures, unformatted.

# %% tags=["analyst-only"]
display(credit)
display(assists)
display(romi)
display(journeys.paths.head(20))
if truth is not None:
    display(errors)
    display(share_vs_truth(credit, truth, conversion))

# %%
con.close()
