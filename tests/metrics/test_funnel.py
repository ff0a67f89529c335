"""Tests for analytics.metrics.funnel against the hand-computed figures in funnel_fixture."""

import math
from datetime import date

import duckdb
import pandas as pd
import pytest
from funnel_fixture import BY_CHANNEL_W23, SUMMARY_W23, fill

from analytics.metrics.funnel import (
    RATIO_COLUMNS,
    channel_table,
    funnel_by_channel,
    funnel_stages,
    funnel_summary,
    spend_by_channel,
    summary_table,
    weekly_funnel,
    weekly_long,
)
from analytics.metrics.period import parse_period

ANCHOR = date(2025, 6, 10)


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    fill(connection)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def week(con):
    return parse_period("last-week", ANCHOR)


@pytest.fixture(scope="module")
def week_summary(con, week):
    """``funnel_summary`` of the hand-made W23 (an Ibis compile), read by four tests; each
    takes a copy."""
    return funnel_summary(con, week)


@pytest.fixture(scope="module")
def week_channels(con, week):
    """``funnel_by_channel`` of the hand-made W23, read by four tests; each takes a copy."""
    return funnel_by_channel(con, week)


def assert_close(actual, expected, what):
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(actual), f"{what}: expected NaN, got {actual}"
    else:
        assert actual == pytest.approx(expected), f"{what}: {actual} != {expected}"


def test_summary_matches_hand_computed_week(week_summary):
    summary = week_summary.copy()
    assert summary.shape[0] == 1
    assert summary.index.tolist() == ["2025-W23"]
    row = summary.iloc[0]
    for column, expected in SUMMARY_W23.items():
        assert_close(row[column], expected, column)
    assert list(summary.columns) == list(SUMMARY_W23)


def test_counts_are_integers_and_money_floats(week_summary):
    summary = week_summary.copy()
    assert summary["leads"].dtype == "int64"
    assert summary["sales"].dtype == "int64"
    assert summary["revenue"].dtype == "float64"
    assert summary["spend"].dtype == "float64"


def test_new_mql_lost_deal_counts_as_mql_not_sql(con):
    # L2 alone (call on Wed 2025-06-04): its deal went new -> mql -> lost.
    day = parse_period("2025-06-04..2025-06-04", ANCHOR)
    row = funnel_summary(con, day).iloc[0]
    assert (row["leads"], row["mql"], row["sql_leads"], row["sales"]) == (1, 1, 0, 0)
    assert row["revenue"] == 0  # the lost deal's amount is not revenue
    assert row["cr_lead_mql"] == 100
    assert row["cr_mql_sql"] == 0
    assert math.isnan(row["cr_sql_sale"])  # 0 sales / 0 SQL


def test_a_later_stage_implies_the_earlier_ones(con):
    # L4 (Fri 2025-06-06, call without a visit): history new -> won, no mql/sql rows.
    # L5 the same day has no deal at all.
    day = parse_period("2025-06-06..2025-06-06", ANCHOR)
    row = funnel_summary(con, day).iloc[0]
    assert (row["leads"], row["mql"], row["sql_leads"], row["sales"]) == (2, 1, 1, 1)
    assert row["revenue"] == 50_000


def test_current_stage_counts_when_history_is_missing():
    connection = duckdb.connect()
    fill(connection)
    connection.execute("DELETE FROM deal_stages WHERE deal_id = 'D3'")  # current stage: sql
    row = funnel_summary(connection, parse_period("2025-06-05..2025-06-05", ANCHOR)).iloc[0]
    assert (row["leads"], row["mql"], row["sql_leads"], row["sales"]) == (1, 1, 1, 0)


def test_empty_period_gives_zeros_and_nan_not_errors(con):
    summary = funnel_summary(con, parse_period("2025-W10", ANCHOR))
    assert summary.shape[0] == 1
    row = summary.iloc[0]
    for column in ("spend", "visits", "visitors", "leads", "mql", "sql_leads", "sales", "revenue"):
        assert row[column] == 0, column
    for column in RATIO_COLUMNS:
        assert math.isnan(row[column]), column


def test_spend_without_revenue_gives_romi_minus_100_and_nan_drr(con):
    # Tue 2025-06-03: 6 000 RUB on paid_social, one visit, no leads.
    row = funnel_summary(con, parse_period("2025-06-03..2025-06-03", ANCHOR)).iloc[0]
    assert row["spend"] == 6_000
    assert row["leads"] == 0
    assert math.isnan(row["cpl"])
    assert math.isnan(row["drr"])
    assert row["romi"] == -100


def test_by_channel_matches_hand_computed_week(week_channels):
    frame = week_channels.copy().set_index("channel")
    assert sorted(frame.index) == sorted(BY_CHANNEL_W23)
    columns = ["spend", "visits", "visitors", "leads", "mql", "sql_leads", "sales", "revenue"]
    columns += ["cac", "drr", "romi"]
    for channel, expected in BY_CHANNEL_W23.items():
        for column, value in zip(columns, expected, strict=True):
            assert_close(frame.loc[channel, column], value, f"{channel}.{column}")


def test_by_channel_adds_up_to_the_summary(week_channels, week_summary):
    frame = week_channels.copy()
    row = week_summary.copy().iloc[0]
    for column in ("spend", "visits", "leads", "leads_form", "mql", "sql_leads", "sales"):
        assert frame[column].sum() == row[column], column
    assert frame["revenue"].sum() == row["revenue"]
    assert frame["visitors"].sum() >= row["visitors"]  # b visited two channels


def test_by_channel_sorted_by_leads_and_empty_period(con, week_channels):
    frame = week_channels.copy()
    assert frame["leads"].is_monotonic_decreasing
    empty = funnel_by_channel(con, parse_period("2025-W10", ANCHOR))
    assert empty.empty
    assert "cac" in empty.columns


def test_weekly_funnel_hand_computed(con, week):
    weekly = weekly_funnel(con, week, weeks=3)
    assert weekly["week"].tolist() == ["2025-W21", "2025-W22", "2025-W23"]
    assert weekly["week_start"].tolist() == [
        pd.Timestamp("2025-05-19"),
        pd.Timestamp("2025-05-26"),
        pd.Timestamp("2025-06-02"),
    ]
    expected = {
        "visits": [0, 1, 7],
        "leads": [0, 1, 6],
        "mql": [0, 1, 4],
        "sql_leads": [0, 1, 3],
        "sales": [0, 1, 2],
        "revenue": [0.0, 20_000.0, 150_000.0],
        "spend": [0.0, 3_000.0, 21_000.0],
    }
    for column, values in expected.items():
        assert weekly[column].tolist() == values, column


def test_weekly_funnel_stops_at_period_end(con):
    # The period ends on Monday 2025-06-09: W24 holds that day only (v7, L7/D7, 7 000 spend),
    # not the visit on Tuesday 2025-06-10.
    period = parse_period("2025-06-02..2025-06-09", ANCHOR)
    weekly = weekly_funnel(con, period, weeks=2)
    assert weekly["week"].tolist() == ["2025-W23", "2025-W24"]
    last = weekly.iloc[-1]
    assert (last["visits"], last["leads"], last["sales"]) == (1, 1, 1)
    assert last["revenue"] == 999
    assert last["spend"] == 7_000
    assert len(weekly_funnel(con, period)) == 12
    with pytest.raises(ValueError, match="weeks must be >= 1, got 0"):
        weekly_funnel(con, period, weeks=0)


def test_presentation_tables(con, week, week_summary, week_channels):
    summary = week_summary.copy()
    table = summary_table(summary)
    assert table.loc["Ad spend", "value"] == "21\u202f000 ₽"
    # the funnel's ДРР and ROMI are those of the week's leads: named as cohort figures
    assert "ДРР" not in table.index and "ROMI" not in table.index
    assert table.loc["Ad cost share of the period's leads (cohort)", "value"] == "14.0%"
    assert table.loc["ROMI of the period's leads (cohort)", "definition"] == (
        "cohort ROMI = (cohort revenue − spend) / spend × 100%"
    )
    russian = summary_table(summary, locale="ru")
    assert russian.loc["Выручка лидов периода (когорта)", "value"] == "150\u202f000 ₽"
    stages = funnel_stages(summary)
    assert stages["stage"].tolist() == [
        "Visits",
        "Leads",
        "MQL of the period's leads",
        "SQL of the period's leads",
        "Sales of the period's leads (cohort)",
    ]
    assert stages["count"].tolist() == [7, 6, 4, 3, 2]
    assert stages["conversion"].iloc[2] == pytest.approx(4 / 6 * 100)
    channels = channel_table(week_channels.copy())
    assert channels.loc["paid_social", "CAC of the period's leads (cohort)"] == "—"
    assert channels.loc["paid_social", "ROMI of the period's leads (cohort)"] == "-100.0%"
    long = weekly_long(weekly_funnel(con, week, weeks=2))
    assert set(long["metric"]) == {
        "Visits",
        "Leads",
        "MQL of the period's leads",
        "SQL of the period's leads",
        "Sales of the period's leads (cohort)",
        "Revenue of the period's leads (cohort), ₽",
        "Ad spend, ₽",
    }
    assert len(long) == 2 * 7
    empty = summary_table(funnel_summary(con, parse_period("2025-W10", ANCHOR)))
    assert empty.loc["CPL", "value"] == "—"


def test_spend_by_channel_is_the_funnels_spend_column(con, week, tiny_warehouse):
    """W23 by hand (funnel_fixture): spend paid_search 10 000 + 5 000, paid_social 6 000;
    leads paid_search 2 (L1, L2), undetermined 2 (L4 no visit, L6 visit not in visits),
    organic 1, paid_social 1 -> the funnel's order, leads descending then channel."""
    spend = spend_by_channel(con, week)
    assert spend.to_dict() == {
        "paid_search": 15_000.0,
        "undetermined": 0.0,
        "organic": 0.0,
        "paid_social": 6_000.0,
    }
    assert list(spend.index) == ["paid_search", "undetermined", "organic", "paid_social"]
    assert spend_by_channel(con, parse_period("2025-W10", ANCHOR)).empty
    # the page used the funnel's column: the same channels, order and values
    tiny = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        for spec in ("2025-03-01..2025-06-30", "2025-W23", "2025-12"):
            period = parse_period(spec, date(2026, 1, 1))
            expected = funnel_by_channel(tiny, period).set_index("channel")["spend"]
            assert len(expected) >= 5
            pd.testing.assert_series_equal(spend_by_channel(tiny, period), expected)
    finally:
        tiny.close()


def test_ratios_on_numpy_equal_the_pandas_formulas():
    """The ratio columns (``catalogue.ratio`` of two Series, computed on numpy arrays for
    speed) are, bit for bit, the pandas formula ``num.astype(float) x scale /
    den.where(den != 0)``; NaN where the denominator is 0 or missing, on a frame with a
    non-default index and a nullable integer column holding a missing value. By hand,
    row "a": cpl = 300 / 3 = 100, romi = (50 - 300) / 300 x 100 = -83.33 %."""
    from analytics.metrics import kpi
    from analytics.metrics.funnel import add_ratios

    frame = pd.DataFrame(
        {
            "spend": [300.0, 0.0, 7.5, 1e-3],
            "visits": [30, 0, 9, 1],
            "leads": pd.array([3, 0, None, 7], dtype="Int64"),
            "mql": [2, 0, 1, 3],
            "sql_leads": [1, 0, 0, 3],
            "sales": [1, 0, 0, 2],
            "revenue": [50.0, 0.0, 0.0, 0.1],
            "non_target": [1, 0, 0, 1],
        },
        index=["a", "b", "c", "d"],
    )

    def pandas_ratio(num, den, scale=1.0):
        den = den.astype("float64")
        return num.astype("float64") * scale / den.where(den != 0, float("nan"))

    out = kpi.add_kpi_ratios(add_ratios(frame))
    f = frame
    expected = {
        "cr_visit_lead": pandas_ratio(f["leads"], f["visits"], 100),
        "cr_lead_mql": pandas_ratio(f["mql"], f["leads"], 100),
        "cr_mql_sql": pandas_ratio(f["sql_leads"], f["mql"], 100),
        "cr_sql_sale": pandas_ratio(f["sales"], f["sql_leads"], 100),
        "cpl": pandas_ratio(f["spend"], f["leads"]),
        "cost_per_mql": pandas_ratio(f["spend"], f["mql"]),
        "cost_per_sql": pandas_ratio(f["spend"], f["sql_leads"]),
        "cac": pandas_ratio(f["spend"], f["sales"]),
        "drr": pandas_ratio(f["spend"], f["revenue"], 100),
        "romi": pandas_ratio(f["revenue"] - f["spend"], f["spend"], 100),
        "visits_per_lead": pandas_ratio(f["visits"], f["leads"]),
        "value_per_lead": pandas_ratio(f["revenue"], f["leads"]),
        "value_per_visit": pandas_ratio(f["revenue"], f["visits"]),
        "average_deal": pandas_ratio(f["revenue"], f["sales"]),
        "cr_lead_sale": pandas_ratio(f["sales"], f["leads"], 100.0),
        "cr_visit_mql": pandas_ratio(f["mql"], f["visits"], 100.0),
        "non_target_share": pandas_ratio(f["non_target"], f["leads"], 100.0),
    }
    assert list(out.columns) == [*frame.columns, *expected]
    pd.testing.assert_frame_equal(out[list(frame.columns)], frame)
    pd.testing.assert_frame_equal(out[list(expected)], pd.DataFrame(expected), check_exact=True)
    assert out.loc["a", "cpl"] == 100.0 and out.loc["a", "romi"] == pytest.approx(-250 / 3)
    assert out.loc[["b", "c"], "cpl"].isna().all() and out.loc["b"].iloc[8:].isna().all()
