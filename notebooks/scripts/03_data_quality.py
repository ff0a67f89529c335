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
# # Data quality: can marketing and sales figures be trusted?

# %% [markdown]
# Marketing counts leads, sales counts CRM deals, and the two teams argue whenever the numbers disagree. Before anyone reads a funnel or an attribution report, this page checks where the chain site → lead → CRM deal breaks: deals whose campaign is «Не определено» (undetermined), UTM tags lost on the way to the CRM, leads that never became a deal, repeat requests of the same person, calls without a web session, ad spend without any visit, and rows the loader refused. Each check is a share with a threshold, so a broken integration shows up as `warn` the week it breaks (see `analytics.metrics.quality` for every definition).

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
role = "analyst"  # role whose report this page is (params/roles/<role>.yaml)

# %%
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display

from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.metrics.quality import (
    deal_campaigns,
    defect_recovery,
    lead_checks,
    load_summary,
    marketing_vs_sales,
    quality_report,
    quarantine_reasons,
    spend_visits,
    undetermined_campaign,
)
from analytics.paths import project_path
from analytics.warehouse import connect

sns.set_theme(style="whitegrid")

# %%
con = connect(project_path(warehouse), read_only=True)
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
print(f"Period: {report_period}")

# %% [markdown]
# ## Checks

# %%
report = quality_report(con, report_period)
report.style.format(
    {"value": "{:,.0f}", "base": "{:,.0f}", "share": "{:.1f}%", "threshold": "{:.0f}%"},
    na_rep="—",
).map(lambda s: "color: #c44e52; font-weight: bold" if s == "warn" else "", subset=["status"])

# %% [markdown]
# Each row is one check of the period: how many records fail it out of how many could, and `warn` where the share is above its threshold.

# %% [markdown]
# ## Deals with an undetermined campaign

# %%
undetermined = undetermined_campaign(deal_campaigns(con, report_period))
undetermined.style.format(
    {
        "undetermined_deals_share": "{:.0f}%",
        "revenue": "{:,.2f}",
        "undetermined_revenue": "{:,.2f}",
        "undetermined_revenue_share": "{:.0f}%",
    },
    na_rep="—",
).set_caption("CRM deals created in the period, revenue of won deals in RUB")

# %% [markdown]
# As on the CRM report of the talk, the table shows how many deals and how much revenue carry no campaign: organic and direct deals are in it by nature, lost UTM tags on top.

# %% [markdown]
# ## Marketing vs sales, last 12 weeks

# %%
weekly = marketing_vs_sales(con, report_period, weeks=12)
ax = sns.lineplot(
    data=weekly.melt(id_vars="week_start", value_vars=["leads", "deals"], var_name="counted by"),
    x="week_start",
    y="value",
    hue="counted by",
    marker="o",
)
ax.set(xlabel="week", ylabel="count", title="Leads (marketing) vs CRM deals (sales) per week")
ax.tick_params(axis="x", rotation=45)
plt.show()

# %% [markdown]
# Where the two lines part, leads did not reach the CRM (or deals appeared without a lead); twelve weeks are shown because one week is too short to tell a trend from noise.

# %% [markdown]
# ## Loads and quarantine

# %%
display(load_summary(con).drop(columns="load_id"))
quarantine_reasons(con)

# %% [markdown]
# Every loaded file must balance, rows in = loaded + quarantined; the second table groups refused rows by table and first failing column, with one reason as an example.

# %% [markdown] tags=["analyst-only"]
# ## Analyst checks
#
# The records behind the checks, and — on demo data only — the checks against the defects injected by the generator (`truth.defects`), over all data.

# %% tags=["analyst-only"]
leads = lead_checks(con, report_period)
display(leads[leads["is_duplicate"] | leads["missing_in_crm"] | leads["call_without_session"]])
deals = deal_campaigns(con, report_period)
display(deals[deals["lost_utm"]])
spend = spend_visits(con, report_period)
display(spend[~spend["has_visits"]])

# %% tags=["analyst-only"]
has_truth = con.execute(
    "SELECT count(*) FROM information_schema.tables "
    "WHERE table_schema = 'truth' AND table_name = 'defects'"
).fetchone()[0]
if has_truth:
    everything = parse_period("all", data_anchor(con), bounds=data_bounds(con))
    truth = con.execute("SELECT * FROM truth.defects").df()
    display(defect_recovery(quality_report(con, everything), truth))

# %%
con.close()
