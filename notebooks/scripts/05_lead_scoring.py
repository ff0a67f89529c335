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
# # Lead scoring: which new leads to call first

# %% [markdown]
# Managers spend the same quarter of an hour on a lead whether it becomes a sales-qualified lead or not, and most leads do not. The saved model gives every lead a score from 0 to 100 (its calibrated chance, in percent, of reaching SQL within 30 days), a band from A (call first) to D (a call costs more than it is expected to bring) and two or three reasons in plain words. The weekly report loads the saved model and retrains only when asked or when monitoring finds it out of date (see `analytics.scoring` for every definition).

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
model_dir = "data/models"  # saved models (train-scoring --out); relative to the project root
retrain = False  # True: train a new model even if the saved one is fine
language = "ru"  # language of the reasons: ru or en
call_list_csv = ""  # where to write the call list as CSV; empty: not written

# %%
import json

import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display

from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.paths import project_path
from analytics.scoring import (
    card_path,
    export_call_list,
    load_or_train,
    metrics_table,
    monitor,
    warehouse_call_list,
)
from analytics.warehouse import connect

sns.set_theme(style="whitegrid")

# %%
model, status = load_or_train(project_path(warehouse), project_path(model_dir), retrain=retrain)
card = json.loads(card_path(status["model_path"]).read_text(encoding="utf-8"))
con = connect(project_path(warehouse), read_only=True)
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
how = "retrained" if status["retrained"] else "loaded"
print(f"Model {model.model_version_}: {how}, {status['why']}")

# %% [markdown]
# ## Quality on later leads (from the model card)

# %%
metrics_table(card["metrics"]).style.format({"value": "{:.3f}"}).hide(axis="index").set_caption(
    "Validation when the model was trained: the latest quarter of labelled leads"
)

# %% [markdown]
# ROC-AUC above 0.5 and a Brier score below the base-rate Brier mean the score ranks and prices leads better than no model; `roc_auc_without_similarity` is the same model without the similarity to past deals (the ablation), and on demo data the oracle rows show the ceiling.

# %%
calibration = card["metrics"]["calibration"]
ax = sns.lineplot(
    x=[row["mean_predicted"] for row in calibration],
    y=[row["observed_rate"] for row in calibration],
    marker="o",
)
ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
ax.set(
    xlabel="predicted P(SQL)", ylabel="observed SQL rate", title="Calibration on validation leads"
)
plt.show()

# %% [markdown]
# ## Is the model still right?

# %%
monitoring = status["monitoring"] or monitor(con, model)
print("Retraining recommended:", monitoring["recommendation"]["retrain"])
for reason in monitoring["recommendation"]["reasons"]:
    print(" -", reason)
display(
    monitoring["drift"]
    .head(10)
    .style.format({"psi": "{:.3f}", "importance": "{:.3f}"})
    .hide(axis="index")
)
if monitoring["calibration"] and monitoring["calibration"]["leads"]:
    display(monitoring["calibration"]["by_decile"].style.hide(axis="index"))

# %% [markdown]
# PSI compares recent leads with the leads the model learnt from (below 0.1 stable, above 0.25 a large shift); the decile table compares scores written a month or more ago with what those leads did since.

# %% [markdown]
# ## Call list of the period

# %%
calls = warehouse_call_list(con, model, period=report_period, language=language)
if call_list_csv:
    export_call_list(calls, project_path(call_list_csv), language=language)
print(calls["band"].value_counts().sort_index().to_dict())
calls.head(20).drop(columns="probability").style.hide(axis="index")

# %% [markdown]
# Band A leads have at least twice the average chance and are called first; band D leads are below the break-even chance at which a manager's quarter of an hour pays for itself.

# %% [markdown]
# ## Analyst checks

# %%
display(model.global_importance().to_frame())
print("Band cut-offs (lowest P(SQL) of A, B, C):", card.get("band_cutoffs"))

# %%
con.close()
