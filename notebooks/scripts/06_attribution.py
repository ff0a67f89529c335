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
# # Attribution: which channels earn the sales

# %% [markdown] tags=["analyst-only"]
# The page opens, in the role's language, with the credit of sales by model per channel with 90% bootstrap intervals and one conclusion (`analytics.reports.marketing_page`: the marketing role reads it in Russian); the analyst detail follows. A sale is preceded by several visits through different channels, and the usual last-click view gives all of it to whatever came last — often direct traffic or a brand search that only closed what ads and content opened. This report shares the same conversions out under every common model — first, last, last non-direct, linear, position-based, time decay, Markov chains of order 1–3 with exact removal effects and Shapley values — and shows how revenue and ROMI by channel move with the model. A budget decision that holds under every model is safe; one that flips between them needs an experiment. On the demo company the true causal share of every channel is known, so the models are also scored against it. Attribution of one week with a handful of sales is noise, so the window widens to the quarter (or all data) ending with the report period when the period has fewer than 30 conversions (see `analytics.metrics.journeys` and `analytics.attribution` for every definition).

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
lookback_days = 30  # days of visits before a conversion that count as its touches
conversion = "sale"  # lead, mql, sql, sale or revenue: what the models attribute
locale = "en"  # language of the page: ru (marketing) or en (analyst)
views = None  # [[role, locale], ...]: the pages of this run (set by the runner); None: one page
lead_visits = None  # marts/lead_visits.parquet of the run (set by the runner); None reads visits

# %%
import matplotlib.pyplot as plt
import seaborn as sns
from babel.numbers import format_currency, format_decimal
from IPython.display import display

from analytics.attribution import (
    MODEL_LABELS,
    MarkovAttribution,
    bootstrap_credit,
    budget_shift,
    compare_models,
    credit_replicates,
    credit_shares,
    direct_assisted,
    error_vs_truth,
    marginal_costs,
    plot_intervals,
    plot_removal_effects,
    plot_transitions,
    rank_changes,
    romi_by_model,
    share_vs_truth,
    shift_error_vs_truth,
    truth_effects,
)
from analytics.metrics.funnel import spend_by_channel
from analytics.metrics.journeys import build_paths, widen_period
from analytics.metrics.lead_visit_mart import attach_lead_visits
from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.paths import project_path
from analytics.reports.marketing_page import attribution_section
from analytics.reports.views import Views
from analytics.warehouse import connect

sns.set_theme(style="whitegrid")

# %%
views = Views(views, locale=locale)
con = connect(project_path(warehouse), read_only=True)
attach_lead_visits(con, lead_visits)  # the run's mart, if given
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
window = widen_period(con, report_period, conversion, min_conversions=30)
journeys = build_paths(con, conversion, lookback_days=lookback_days, period=window)
sales = (
    journeys
    if conversion == "sale"
    else build_paths(con, "sale", lookback_days=lookback_days, period=window)
)
weight = journeys.default_weight
credit = compare_models(journeys.paths, journeys.touches, weight=weight)
sales_credit = compare_models(sales.paths, sales.touches, weight="conversions")
revenue_credit = compare_models(sales.paths, sales.touches, weight="value")
spend = spend_by_channel(con, window)
romi = romi_by_model(sales_credit, revenue_credit, spend)
boot_models = ["last_touch", "linear", "markov_1", "shapley"]
drawn = credit_replicates(journeys.paths, boot_models, n_boot=200)  # the what-if's too
intervals = bootstrap_credit(
    journeys.paths, models=boot_models, n_boot=200, ci=0.9, replicates=drawn
)

# %%
views.each_locale(
    lambda locale: attribution_section(
        intervals, report_period, window, locale, conversion, n_boot=200
    )
)

# %% tags=["analyst-only"]
print(f"Period: {report_period}; attribution window: {window}; lookback {lookback_days} days")
print(
    f"{conversion}: {journeys.paths['conversions'].sum():.0f} conversions on paths, "
    f"{journeys.unattributed['conversions']:.0f} without a tracked touch; "
    f"{journeys.paths['nulls'].sum():.0f} journeys without a conversion"
)

# %% [markdown] tags=["analyst-only"]
# ## Credit by model

# %% tags=["analyst-only"]
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

# %% [markdown] tags=["analyst-only"]
# Each column shares out the same conversions; a channel whose share changes a lot from column to column is one whose value depends on the model, not on the data.

# %% [markdown] tags=["analyst-only"]
# ## How sure is the credit

# %% tags=["analyst-only"]
if weight != "conversions":  # the table above shows the credit of conversions
    display(plot_intervals(intervals, measure=weight))
unclear = intervals[(intervals["measure"] == weight) & ~intervals["distinguishable"]]
print(
    "Credit not distinguishable from zero (90% interval reaches 0): "
    + (", ".join(sorted(set(unclear["channel"]))) or "none")
)

# %% [markdown] tags=["analyst-only"]
# The table at the top of the page gives each model's credit on this window's journeys with, in brackets, where 90% of 200 re-draws of the same number of journeys land (a chart of the intervals is drawn here only when the models share out revenue, which that table does not show). Credit whose interval reaches zero could be erased by one more quiet week — no budget move should rest on it.

# %% [markdown] tags=["analyst-only"]
# ## The Markov chain behind the credit

# %% tags=["analyst-only"]
chain = MarkovAttribution(order=1).fit(sales.paths)
display(plot_removal_effects(chain))
display(plot_transitions(chain))

# %% [markdown] tags=["analyst-only"]
# Removal effect: the share of sales the chain loses when a channel is taken out of every journey; the heatmap shows where journeys go next from each channel.

# %% [markdown] tags=["analyst-only"]
# ## Revenue and ROMI by model

# %% tags=["analyst-only"]
revenue_credit.rename(columns=MODEL_LABELS).style.format("{:,.0f} ₽").set_caption(
    f"Revenue credited to each channel, RUB, {window.label}"
)

# %% tags=["analyst-only"]
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

# %% [markdown] tags=["analyst-only"]
# ROMI = (credited revenue − spend) / spend × 100%: green cells pay back under that model, red ones do not, and a row that changes colour is a budget call to test.

# %% [markdown] tags=["analyst-only"]
# ## Rank changes

# %% tags=["analyst-only"]
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

# %% [markdown] tags=["analyst-only"]
# Lines that rise to the right of *Last touch* are channels that open journeys which other channels close; falling lines are channels that mostly close them.

# %% [markdown] tags=["analyst-only"]
# ## Direct vs assisted conversions

# %% tags=["analyst-only"]
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

# %% [markdown] tags=["analyst-only"]
# A channel with many more assisted than last-touch conversions prepares sales that are credited elsewhere under last click; cutting it would show up in other channels' results.

# %% [markdown] tags=["analyst-only"]
# ## Error against the ground truth

# %% tags=["analyst-only"]
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

# %% [markdown] tags=["analyst-only"]
# The shorter the bar, the closer the model's channel shares are to the true incremental shares of the demo company (known by re-simulating it without each channel).

# %% [markdown] tags=["analyst-only"]
# ## Budget what-if: moving 20% of spend

# %% tags=["analyst-only"]
elasticity = 0.5
sales_fit = chain.attribution_.set_index("channel")[["conversions", "value"]]
replicates = (
    drawn if sales is journeys else credit_replicates(sales.paths, ["markov_1"], n_boot=200)
)["markov_1"]
costs = marginal_costs(sales_fit, spend, elasticity=elasticity).dropna(subset=["marginal_cost"])


def _n(x, digits=2):
    return format_decimal(x, format="#,##0." + "0" * digits, locale="ru_RU")


def _rub(x):
    return format_currency(x, "RUB", format="#,##0\u00a0¤", locale="ru_RU", currency_digits=False)


shift = None
if len(costs) >= 2:
    source, target = costs["marginal_cost"].idxmax(), costs["marginal_cost"].idxmin()
    shift = budget_shift(
        sales_fit, spend, source, target, share=0.2, elasticity=elasticity, replicates=replicates
    ).set_index("measure")
    sales_row, revenue_row = shift.loc["conversions"], shift.loc["value"]
    print(
        f"Moving 20% of {source} spend ({_rub(sales_row['spend_moved'])}) to {target}, "
        f"the channel with the lowest marginal cost per sale: "
        f"{_n(sales_row['change'])} sales (90% interval {_n(sales_row['lower'])} to "
        f"{_n(sales_row['upper'])}), revenue {_rub(revenue_row['change'])} "
        f"({_rub(revenue_row['lower'])} to {_rub(revenue_row['upper'])})."
    )
else:
    print("Fewer than two channels with both spend and sales credit: no what-if.")

# %% tags=["analyst-only"]
display(shift)
display(costs)

# %% [markdown] tags=["analyst-only"]
# The what-if reads each channel's Markov credit as what its spend bought and bends it along a square-root response curve (elasticity 0.5): the first rouble moved is worth the channel's marginal cost per sale, later ones less. The interval covers the noise of this window's journeys, not the choice of curve or model (see `analytics.attribution.budget`).

# %% tags=["analyst-only"]
shift_errors = None
if truth is not None and len(costs) >= 2:
    shift_errors = shift_error_vs_truth(
        sales_fit[["conversions"]], spend, truth, "sale", share=1.0, elasticity=elasticity
    )
    cuts = shift_errors[shift_errors["target"].isna()]
    print(
        "What-if against the demo's true increments (cutting a channel's whole spend): "
        f"mean absolute error {_n(cuts['error'].abs().mean(), 1)} sales, "
        f"{_n(cuts['error_pct_of_total'].abs().mean(), 1)}% of attributed sales."
    )

# %% tags=["analyst-only"]
display(shift_errors)

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

# %% tags=["analyst-only"]
con.close()
