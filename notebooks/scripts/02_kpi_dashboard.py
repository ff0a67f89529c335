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
# # KPI dashboard: revenue, marketing and sales

# %% [markdown]
# The CEO asks whether the year's revenue target will be met and what a rouble of advertising returns; marketing is judged by how many qualified leads it brings and at what cost; sales by how often and how fast it wins. This dashboard puts the three views on the same data and the same definitions of MQL and SQL (`params/definitions.yaml`), so that the teams argue about decisions rather than about whose numbers are right. Every figure's formula is in `analytics.metrics.kpi`.

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
role = "analyst"  # role whose report this page is (params/roles/<role>.yaml)
target_growth = 0.2  # fraction; revenue target: last year's revenue × (1 + target_growth)
last_year_revenue = None  # RUB; None: the deals won last year, from the warehouse
weeks = 12  # weeks shown in the trend charts
snapshot = None  # metrics.json of the run; None computes the period snapshot here

# %%
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display

from analytics.metrics import kpi, revenue, sales_cost
from analytics.metrics.definitions import load_definitions
from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.metrics.snapshot import compute_snapshot, formatted_table, load_snapshot
from analytics.paths import project_path
from analytics.warehouse import connect

sns.set_theme(style="whitegrid")

# %%
con = connect(project_path(warehouse), read_only=True)
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
definitions = load_definitions()
summary = kpi.kpi_summary(con, report_period, definitions)
shot = load_snapshot(snapshot) if snapshot else compute_snapshot(con, report_period, definitions)
print(f"Period: {report_period}")
print("\n".join(definitions.describe()))

# %% [markdown]
# ## CEO: revenue against the year's target

# %%
target = kpi.revenue_vs_target(con, report_period.end, target_growth, last_year_revenue)
display(
    target[
        [
            "last_year_revenue",
            "target",
            "revenue_to_date",
            "progress_pct",
            "expected_pct",
            "projected",
            "last_year_complete",
        ]
    ].style.format(precision=1, thousands="\u202f")
)
pace = kpi.revenue_pace(con, report_period.end, float(target["target"].iloc[0]))
ax = sns.lineplot(
    data=pace.melt(id_vars="week_end", value_vars=["cumulative", "pace"], var_name="line"),
    x="week_end",
    y="value",
    hue="line",
    marker="o",
)
ax.set(
    xlabel="week",
    ylabel="revenue since 1 January, RUB",
    title=f"Revenue to target, {report_period.end.year}",
)
ax.tick_params(axis="x", rotation=45)
plt.show()

# %% [markdown]
# The blue line is the revenue won so far this year, the orange one where it should be on a straight path to the target (missing when last year's revenue is not in the warehouse: set `last_year_revenue`).

# %% [markdown]
# ## CEO: revenue, ДРР, ROMI and CAC booked in the period

# %%
display(formatted_table(shot, ("revenue", "sales", "spend", "drr", "romi", "cac", "average_deal")))
booked_weeks = revenue.booked_weekly(con, report_period, weeks)
grid = sns.relplot(
    data=kpi.kpi_long(
        booked_weeks, ("revenue", "drr", "romi", "cac"), "week_start", basis="booked"
    ),
    x="week_start",
    y="value",
    col="metric",
    kind="line",
    marker="o",
    height=2.6,
    aspect=1.1,
    facet_kws={"sharey": False},
)
grid.set_titles("{col_name}").set_axis_labels("week", "")
grid.tick_params(axis="x", rotation=45)
plt.show()

# %% [markdown]
# Revenue is counted on the day a deal is won and spend on the day it is paid, so each week shows what the company earned and spent in it; ДРР = spend / revenue, ROMI = (revenue − spend) / spend, CAC = spend / sales.

# %% [markdown] tags=["analyst-only"]
# ### Analysts: the same ratios by lead cohort

# %% tags=["analyst-only"]
weekly = kpi.weekly_kpi(con, report_period, weeks)
grid = sns.relplot(
    data=kpi.kpi_long(weekly, ("drr", "romi", "cac"), "week_start"),
    x="week_start",
    y="value",
    col="metric",
    kind="line",
    marker="o",
    height=2.6,
    aspect=1.3,
    facet_kws={"sharey": False},
)
grid.set_titles("{col_name}").set_axis_labels("week", "")
grid.tick_params(axis="x", rotation=45)
plt.show()

# %% [markdown] tags=["analyst-only"]
# Here each week is the cohort of leads it brought, so the last weeks look worse until their deals close: compare a week with weeks of the same age.

# %% [markdown]
# ## Marketing: MQL, SQL, cost per lead and conversion by channel

# %%
display(
    kpi.kpi_table(
        summary,
        (
            "leads",
            "mql",
            "sql_leads",
            "cpl",
            "cost_per_mql",
            "cost_per_sql",
            "cr_lead_mql",
            "cr_mql_sql",
            "visits_per_lead",
            "value_per_lead",
            "value_per_visit",
        ),
    )
)
by_channel = kpi.conversion_by(con, report_period, "channel", definitions)
ax = sns.barplot(
    data=by_channel.melt(
        id_vars="channel", value_vars=["leads", "mql", "sql_leads"], var_name="stage"
    ),
    x="value",
    y="channel",
    hue="stage",
)
ax.set(xlabel="count", ylabel="", title=f"Leads, MQL and SQL by channel, {report_period.label}")
plt.show()

# %% [markdown]
# Channels whose MQL and SQL bars are short next to their leads bring volume that sales cannot use.

# %%
by_channel.set_index("channel")[
    [
        "spend",
        "leads",
        "mql",
        "sql_leads",
        "sales",
        "cpl",
        "cost_per_mql",
        "cost_per_sql",
        "cr_lead_mql",
        "cr_mql_sql",
        "drr",
    ]
].style.format(precision=1, thousands="\u202f", na_rep="—")

# %% [markdown]
# Money in roubles and conversions in percent per channel; a dash where the denominator is zero, e.g. CPL of a channel without leads.

# %% [markdown]
# ## Sales: win rate, cycle time and the cost of non-target leads

# %%
managers = kpi.win_rate_by_manager(con, report_period)
ax = sns.barplot(data=managers, x="win_rate", y="manager", color="#4c72b0")
ax.set(
    xlabel="win rate = won / closed, %",
    ylabel="",
    xlim=(0, 100),
    title=f"Win rate of deals closed in {report_period.label}",
)
plt.show()
display(kpi.cycle_time(con, report_period).style.format(precision=1))

# %% [markdown]
# Bars compare the managers on the deals they closed in the period; the table shows how many days a won deal took from the lead's request.

# %%
non_target = sales_cost.non_target_leads(con, report_period, definitions)
time_share = sales_cost.manager_time(con, report_period, definitions)
display(non_target.style.format(precision=1, thousands="\u202f"))
ax = sns.barplot(data=time_share, x="share_of_time_pct", y="manager", color="#c44e52")
ax.set(
    xlabel="share of working time on non-target leads, %",
    ylabel="",
    title="Sales time lost to non-target leads",
)
plt.show()

# %% [markdown]
# Each non-target lead costs the minutes a manager spends calling and disqualifying it (`non_target` in `params/definitions.yaml`); the bars show that time as a share of each manager's hours in the period.

# %% [markdown]
# ## This period against the previous one

# %%
compared = (
    "revenue",
    "sales",
    "spend",
    "romi",
    "drr",
    "cac",
    "leads",
    "cpl",
    "mql",
    "sql_leads",
    "cost_per_mql",
    "cost_per_sql",
    "cr_lead_mql",
    "cr_mql_sql",
)
display(formatted_table(shot, compared))
changes = shot.table(compared, locale="en").dropna(subset=["delta_pct"])
ax = sns.barplot(data=changes, x="delta_pct", y="label", color="#55a868")
ax.set(xlabel="change against the previous period of the same length, %", ylabel="")
plt.show()

# %% [markdown]
# Booked figures (revenue, sales, ROMI, ДРР, CAC by the day deals are won) are comparable week to week; cohort figures (MQL, SQL and their costs) of the latest weeks are still young and grow as the leads progress. Bars to the right mean the figure grew; for costs (CPL, CAC, ДРР) that is bad news, for leads, MQL and revenue good news.

# %% [markdown] tags=["analyst-only"]
# ## Analyst checks
#
# The raw frames behind the figures, the CRM stage funnel of the period's leads and the definitions in force.

# %% tags=["analyst-only"]
display(summary.T)
display(kpi.stage_conversion(con, report_period, definitions))
display(kpi.conversion_by(con, report_period, "campaign", definitions))
display(target.T)
print(definitions)

# %%
con.close()
