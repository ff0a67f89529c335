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
# # A/B tests of creatives on MQL

# %% [markdown] tags=["analyst-only"]
# The page opens with the verdict of every test of `params/ab_tests.yaml` in the role's language (`analytics.reports.marketing_page`: the marketing role reads it in Russian); the analyst detail of the test named by the parameters follows. A creative test judged on sales needs months, because sales are rare and come weeks after the click; judged on MQL, which are several times more frequent and arrive within days, the same test can end in weeks. This report shows the test's week × creative table of visits, MQL and conversion, says whether the difference is real (Fisher exact test, z-test, Bayesian probability to be best, confidence intervals) and how many days the test still needs on MQL and on sales. An MQL counts for the creative of the visitor's last test visit within the attribution window (see `analytics.metrics.abtest`).

# %% tags=["parameters"]
warehouse = "data/warehouse.duckdb"  # DuckDB file; a relative path is from the project root
period = "last-week"  # last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07
locale = "en"  # language of the page: ru (marketing) or en (analyst)
views = None  # [[role, locale], ...]: the pages of this run (set by the runner); None: one page
test_weeks = 26  # ISO weeks of the test, up to the end of the period
campaign = "yd_search_generic"  # utm_campaign of the test
ad_group = "generic_crm"  # utm_term of the test
arm = "creative"  # creative (utm_content) or audience (utm_term)
control = "generic_crm_cr1"  # arm value (utm_content or utm_term) of the control
treatment = "generic_crm_cr2"  # arm value of the treatment
window_days = 30  # days from a visit in which its MQL counts for the arm
lift_to_detect = 0.3  # fraction; relative lift the test must detect (0.3 is +30 %)
lead_visits = None  # marts/lead_visits.parquet of the run (set by the runner); None reads visits

# %%
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import display

from analytics.metrics import abtest
from analytics.metrics.definitions import load_definitions
from analytics.metrics.lead_visit_mart import attach_lead_visits
from analytics.metrics.period import data_anchor, data_bounds, parse_period
from analytics.paths import project_path
from analytics.reports.marketing_page import ab_tests_section
from analytics.reports.summary import ab_verdict_section
from analytics.reports.views import Views
from analytics.warehouse import connect

sns.set_theme(style="whitegrid")

# %%
views = Views(views, locale=locale)
con = connect(project_path(warehouse), read_only=True)
attach_lead_visits(con, lead_visits)  # the run's mart, if given
report_period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
test_period = abtest.trailing_weeks(report_period, test_weeks)
definitions = load_definitions()
arm_counts = abtest.ArmCounts(con, definitions, window_days)  # each test queried once
counts = arm_counts(test_period, campaign, ad_group, arm)

# %%
views.each_locale(
    lambda locale: ab_tests_section(
        con,
        report_period,
        locale,
        definitions=definitions,
        window_days=window_days,
        arm_counts=arm_counts,
    )
)

# %% tags=["analyst-only"]
print(f"Test weeks: {test_period}; {campaign} / {ad_group}: {control} (A) vs {treatment} (B)")

# %% [markdown] tags=["analyst-only"]
# ## Visits, MQL and conversion by week and creative

# %% tags=["analyst-only"]
table = abtest.arm_intervals(abtest.weekly_table(counts))
display(table.style.format(precision=2, na_rep="—").hide(axis="index"))
ax = sns.barplot(data=counts, x="week", y="conversion_pct", hue="arm")
ax.set(xlabel="week of the visit", ylabel="visit → MQL, %", title="Conversion by week and creative")
ax.tick_params(axis="x", rotation=90)
plt.show()

# %% [markdown] tags=["analyst-only"]
# Each week has a row for all creatives and one per creative, as in the CRM report; the last row adds up every week, and the low/high columns are 95% Wilson intervals of the conversion.

# %% [markdown] tags=["analyst-only"]
# ## Is creative B better?

# %% tags=["analyst-only"]
tests = abtest.arm_tests(counts, control, treatment)
display(tests.style.format(precision=3, na_rep="—").hide(axis="index"))
ax = sns.pointplot(
    data=abtest.lift_long(tests),
    x="lift_pct",
    y="week",
    estimator="median",
    errorbar=("pi", 100),
    linestyle="none",
    capsize=0.2,
)
ax.axvline(0, color="grey", linewidth=1)
ax.set(
    xlabel="lift of B over A, % (95% interval)",
    ylabel="",
    title="Lift by week and over the whole test",
)
plt.show()

# %% [markdown] tags=["analyst-only"]
# A week is conclusive only when its interval stays on one side of zero (and the Fisher and z-test p-values are below 0.05); `prob_b_best` is the Bayesian probability, with Beta(1, 1) priors, that B converts better. The `total` row also gives each creative's conversion over all the test weeks with its 95% Wilson interval (`rate_a_low_pct` to `rate_b_high_pct`), the figures the chart at the top of the page draws for the tests of `params/ab_tests.yaml`.

# %% [markdown] tags=["analyst-only"]
# ## How long the test needs: MQL against sales

# %% tags=["analyst-only"]
plan = abtest.duration_plan(counts, control, test_period.days, lift_to_detect)
display(plan.style.format(precision=2, na_rep="—"))

# %% [markdown] tags=["analyst-only"]
# The `days` column compares how many days of the current traffic a test needs when judged on MQL and when judged on sales; `mde_now_pct` is the smallest lift the visits so far can detect.

# %% [markdown] tags=["analyst-only"]
# ## Verdict

# %% tags=["analyst-only"]
views.each_locale(
    lambda locale: ab_verdict_section(
        tests, plan, control, treatment, test_period.days, locale, lift_to_detect
    )
)

# %% [markdown] tags=["analyst-only"]
# ## Analyst checks
#
# The attributed counts by week and arm and the MQL definition in force.

# %% tags=["analyst-only"]
display(counts)
print("\n".join(definitions.describe()))

# %% tags=["analyst-only"]
con.close()
