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
# # Lead scoring: which new leads will reach SQL

# %% [markdown]
# Managers spend the same quarter of an hour on a lead whether it becomes a sales-qualified lead or not, and most leads do not. A calibrated probability of reaching SQL within 30 days, learned only from what was known when each lead arrived, lets sales call the promising leads first and decide, from the cost of a manager's hour and the value of an SQL, which leads are not worth a call at all. The model is trained on earlier leads and judged on later ones, exactly as it would be used (see `analytics.scoring` for every definition).

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
role = "analyst"  # role whose report this page is (params/roles/<role>.yaml)

# %%
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display

from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.paths import project_path
from analytics.scoring import (
    best_threshold,
    lift_by_decile,
    metrics_table,
    revenue_per_sql,
    score_leads,
    threshold_curve,
    train,
)
from analytics.warehouse import connect

sns.set_theme(style="whitegrid")

# %%
con = connect(project_path(warehouse), read_only=True)
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
model, metrics = train(con, kind="boosting", window_days=30)
holdout = metrics["holdout"]
print(f"Period: {report_period}; validation leads: {len(holdout)}")

# %% [markdown]
# ## Quality on later leads

# %%
metrics_table(metrics).style.format({"value": "{:.3f}"}).hide(axis="index").set_caption(
    "Validation: the latest quarter of leads with a complete 30-day window"
)

# %% [markdown]
# ROC-AUC above 0.5 and a Brier score below the base-rate Brier mean the score ranks and prices leads better than no model; on demo data the oracle rows show the ceiling.

# %% [markdown]
# ## Calibration

# %%
ax = sns.lineplot(data=metrics["calibration"], x="mean_predicted", y="observed_rate", marker="o")
ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
ax.set(
    xlabel="predicted P(SQL)", ylabel="observed SQL rate", title="Calibration on validation leads"
)
plt.show()

# %% [markdown]
# Each point is a tenth of the validation leads by score; points on the dashed diagonal mean a score of 0.3 really does turn into SQL three times in ten.

# %% [markdown]
# ## Lift by decile

# %%
ax = sns.barplot(
    data=lift_by_decile(holdout["sql"], holdout["score"]), x="decile", y="lift", color="#4c72b0"
)
ax.axhline(1, linestyle="--", color="grey")
ax.set(
    xlabel="decile by score (1 = highest)",
    ylabel="lift (SQL rate / average)",
    title="Lift by decile",
)
plt.show()

# %% [markdown]
# Bars above the dashed line are deciles richer in SQL than the average lead; a falling staircase means the score puts the best leads first.

# %% [markdown]
# ## Which leads are worth a call

# %%
economics = dict(value_per_sql=revenue_per_sql(con))
curve = threshold_curve(holdout["score"], holdout["sql"], **economics)
best = best_threshold(holdout["score"], holdout["sql"], **economics)
ax = sns.lineplot(data=curve, x="threshold", y="net_value")
ax.axvline(best["threshold"], linestyle="--", color="grey")
ax.set(
    xlabel="call leads with score ≥ threshold",
    ylabel="net value, RUB",
    title=f"Value of SQL kept minus cost of non-target calls (best {best['threshold']:.2f})",
)
plt.show()

# %% [markdown]
# Net value is the revenue of the SQL leads called minus the manager time spent on non-target calls (15 min at 625 RUB/h each); the dashed line marks the threshold where it peaks.

# %% [markdown]
# ## Leads of the period, best first

# %%
scores = score_leads(con, model, period=report_period)
scores.head(15)[["lead_id", "created_at", "score", "top_reasons"]].style.format(
    {"score": "{:.2f}"}
).hide(axis="index")

# %% [markdown]
# Each row is a lead of the period with its probability of reaching SQL and the three features that moved its score most (log-odds, + raises, − lowers).

# %% [markdown] tags=["analyst-only"]
# ## Analyst checks
#
# Global importance and the full threshold table.

# %% tags=["analyst-only"]
display(model.global_importance().to_frame())
display(curve)

# %%
con.close()
