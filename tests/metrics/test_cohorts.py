"""Tests for analytics.metrics.cohorts: a hand-made warehouse and sanity on the demo company.

Hand-made warehouse: weekly cohorts of 2025-06-02 .. 2025-06-15 (W23, W24), as of
Sun 2025-06-29 (W26), so W23 has ages 0..3 and W24 ages 0..2.

visitors (first visit, first channel): a (Mon 06-02 W23, paid_search; again 06-10 direct),
    b (06-04 W23, organic), c (06-09 W24, paid_search), e (06-12 W24, organic);
    d first came on 05-28 (W22): outside the cohorts.
leads and deals (age = weeks since the cohort week):
    La  a 06-10 (age 1); Da: new 06-10, mql 06-11 (1), sql 06-17 (2), won 06-24 (3), 100 000
    Lb  visitor only through its visit v_b2 (b), 06-04 (0); Db: new, mql 06-05 (0), lost
    Lc  c 06-09 (0); Dc: history only "new", current stage sql -> MQL and SQL dated at
        the deal's creation 06-09 (0)
    Lc2 c 06-30: after as_of, not counted
    Ld  d: not in a cohort; Lx: no visitor
    Le  e 06-13 (0); De: new 06-13, won 07-01 (after as_of: neither MQL nor sale yet)
-> counts (leads, mql, sql, sales) by cohort, channel and age:
    W23 paid_search: age 1 (1, 1, 0, 0), age 2 (0, 0, 1, 0), age 3 (0, 0, 0, 1) + 100 000
    W23 organic:     age 0 (1, 1, 0, 0)
    W24 paid_search: age 0 (1, 1, 1, 0)
    W24 organic:     age 0 (1, 0, 0, 0)
-> cumulative CR visitor -> lead: W23 50, 100, 100, 100; W24 100, 100, 100, NaN.
"""

from __future__ import annotations

import math
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics import warehouse
from analytics.metrics import cohorts
from analytics.metrics.funnel import funnel_by_channel, funnel_summary
from analytics.metrics.period import data_anchor, data_bounds, date_range, parse_period

PERIOD = date_range(date(2025, 6, 2), date(2025, 6, 15))
AS_OF = date(2025, 6, 29)
NAN = math.nan


def insert(con, table: str, rows: list[dict]) -> None:
    """Insert dict rows into a canonical table by column name."""
    con.register("rows_to_insert", pd.DataFrame(rows))
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM rows_to_insert")
    con.unregister("rows_to_insert")


def fill(con) -> None:
    warehouse.init_schema(con)
    visits = [
        ("v_a1", "a", "2025-06-02 09:00", "paid_search"),
        ("v_a2", "a", "2025-06-10 10:00", "direct"),
        ("v_b1", "b", "2025-06-04 09:00", "organic"),
        ("v_b2", "b", "2025-06-04 09:30", "direct"),
        ("v_c1", "c", "2025-06-09 09:00", "paid_search"),
        ("v_d1", "d", "2025-05-28 09:00", "organic"),
        ("v_d2", "d", "2025-06-03 09:00", "direct"),
        ("v_e1", "e", "2025-06-12 09:00", "organic"),
    ]
    insert(
        con,
        "visits",
        [
            {
                "visit_id": v,
                "visitor_id": who,
                "visit_start": pd.Timestamp(t),
                "channel": ch,
                "pageviews": 1,
                "duration_s": 10,
                "goal_pricing": False,
            }
            for v, who, t, ch in visits
        ],
    )
    leads = [
        ("La", "a", "v_a2", "2025-06-10 11:00"),
        ("Lb", None, "v_b2", "2025-06-04 10:00"),
        ("Lc", "c", "v_c1", "2025-06-09 10:00"),
        ("Lc2", "c", None, "2025-06-30 10:00"),
        ("Ld", "d", "v_d2", "2025-06-03 10:00"),
        ("Lx", None, None, "2025-06-05 10:00"),
        ("Le", "e", "v_e1", "2025-06-13 10:00"),
    ]
    insert(
        con,
        "leads",
        [
            {
                "lead_id": lead_id,
                "visitor_id": who,
                "visit_id": visit_id,
                "created_at": pd.Timestamp(t),
                "lead_type": "form",
            }
            for lead_id, who, visit_id, t in leads
        ],
    )
    deals = [
        # deal, lead, created, status, stage, amount, closed, history
        (
            "Da",
            "La",
            "2025-06-10 12:00",
            "won",
            "won",
            100_000.0,
            "2025-06-24 12:00",
            [("new", "06-10"), ("mql", "06-11"), ("sql", "06-17"), ("won", "06-24")],
        ),
        (
            "Db",
            "Lb",
            "2025-06-04 11:00",
            "lost",
            "lost",
            None,
            "2025-06-20 12:00",
            [("new", "06-04"), ("mql", "06-05"), ("lost", "06-20")],
        ),
        ("Dc", "Lc", "2025-06-09 11:00", "open", "sql", None, None, [("new", "06-09")]),
        (
            "Dd",
            "Ld",
            "2025-06-03 11:00",
            "won",
            "won",
            5_000.0,
            "2025-06-04 12:00",
            [("new", "06-03"), ("won", "06-04")],
        ),
        (
            "De",
            "Le",
            "2025-06-13 11:00",
            "won",
            "won",
            70_000.0,
            "2025-07-01 12:00",
            [("new", "06-13"), ("won", "07-01")],
        ),
    ]
    insert(
        con,
        "deals",
        [
            {
                "deal_id": d,
                "lead_id": lead_id,
                "created_at": pd.Timestamp(created),
                "status": status,
                "stage": stage,
                "amount": amount,
                "closed_at": pd.Timestamp(closed) if closed else pd.NaT,
            }
            for d, lead_id, created, status, stage, amount, closed, _ in deals
        ],
    )
    insert(
        con,
        "deal_stages",
        [
            {"deal_id": d, "stage": stage, "entered_at": pd.Timestamp(f"2025-{day} 12:00")}
            for d, *_, history in deals
            for stage, day in history
        ],
    )


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    fill(connection)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def weekly(con):
    return cohorts.cohort_funnel(con, PERIOD, as_of=AS_OF)


def counts(frame, cohort, channel):
    rows = frame[(frame["cohort"] == cohort) & (frame["first_channel"] == channel)]
    return [tuple(r) for r in rows[["leads", "mql", "sql_leads", "sales"]].to_numpy()]


def test_weekly_counts_match_hand_computed(weekly):
    assert list(weekly.columns) == [
        "cohort_week",
        "cohort",
        "first_channel",
        "weeks_since_first_visit",
        "visitors",
        "leads",
        "mql",
        "sql_leads",
        "sales",
        "revenue",
    ]
    zero = (0, 0, 0, 0)
    assert counts(weekly, "2025-W23", "paid_search") == [
        zero,
        (1, 1, 0, 0),
        (0, 0, 1, 0),
        (0, 0, 0, 1),
    ]
    assert counts(weekly, "2025-W23", "organic") == [(1, 1, 0, 0), zero, zero, zero]
    assert counts(weekly, "2025-W24", "paid_search") == [(1, 1, 1, 0), zero, zero]
    assert counts(weekly, "2025-W24", "organic") == [(1, 0, 0, 0), zero, zero]
    assert weekly["revenue"].sum() == 100_000.0
    assert weekly.loc[weekly["sales"] == 1, "weeks_since_first_visit"].tolist() == [3]
    assert weekly["cohort_week"].min() == pd.Timestamp("2025-06-02")
    assert weekly["leads"].dtype == "int64"


def test_cohort_sizes(weekly):
    sizes = cohorts.cohort_sizes(weekly)
    assert list(sizes.index) == ["2025-W23", "2025-W24"]
    assert sizes.loc["2025-W23", "paid_search"] == 1
    assert sizes.loc["2025-W24", "organic"] == 1
    assert list(sizes["total"]) == [2, 2]


def test_conversion_matrix_lead(weekly):
    matrix = cohorts.conversion_matrix(weekly, "cr_visitor_lead")
    expected = pd.DataFrame(
        [[50.0, 100.0, 100.0, 100.0], [100.0, 100.0, 100.0, NAN]],
        index=pd.Index(["2025-W23", "2025-W24"], name="cohort"),
        columns=pd.Index([0, 1, 2, 3], name="weeks_since_first_visit"),
    )
    pd.testing.assert_frame_equal(matrix, expected, check_column_type=False)


def test_conversion_matrix_other_metrics(weekly):
    mql = cohorts.conversion_matrix(weekly, "cr_visitor_mql")
    np.testing.assert_allclose(mql.to_numpy(), [[50, 100, 100, 100], [50, 50, 50, NAN]])
    sale = cohorts.conversion_matrix(weekly, "cr_visitor_sale")
    np.testing.assert_allclose(sale.to_numpy(), [[0, 0, 0, 50], [0, 0, 0, NAN]])
    revenue = cohorts.conversion_matrix(weekly, "revenue_per_visitor")
    np.testing.assert_allclose(revenue.to_numpy(), [[0, 0, 0, 50_000], [0, 0, 0, NAN]])
    paid_sql = cohorts.conversion_matrix(weekly, "cr_visitor_sql", first_channel="paid_search")
    np.testing.assert_allclose(paid_sql.to_numpy(), [[0, 0, 100, 100], [100, 100, 100, NAN]])
    with pytest.raises(ValueError, match="metric"):
        cohorts.conversion_matrix(weekly, "leads")


def test_as_of_defaults_to_period_end_and_max_age(con):
    short = cohorts.cohort_funnel(con, PERIOD)
    # as of Sun 06-15: W23 has ages 0..1, W24 age 0; Da reached MQL 06-11 but SQL later
    assert short.groupby("cohort")["weeks_since_first_visit"].max().to_dict() == {
        "2025-W23": 1,
        "2025-W24": 0,
    }
    assert short["sql_leads"].sum() == 1  # Dc only
    capped = cohorts.cohort_funnel(con, PERIOD, as_of=AS_OF, max_age=1)
    assert capped["weeks_since_first_visit"].max() == 1
    assert capped["sales"].sum() == 0


def test_monthly_cohorts(con):
    june = date_range(date(2025, 6, 1), date(2025, 6, 30))
    monthly = cohorts.cohort_funnel(con, june, grain="month", as_of=date(2025, 7, 31))
    assert "cohort_month" in monthly.columns
    totals = monthly.groupby("months_since_first_visit")[["leads", "sales"]].sum()
    # June: La, Lb, Lc, Lc2, Le; sales Da (June) and De (July)
    assert totals["leads"].tolist() == [5, 0]
    assert totals["sales"].tolist() == [1, 1]
    assert set(monthly["cohort"]) == {"2025-06"}
    assert monthly.loc[monthly["months_since_first_visit"] == 0, "visitors"].sum() == 4
    with pytest.raises(ValueError, match="grain"):
        cohorts.cohort_funnel(con, june, grain="day")


def test_empty_cohorts(con):
    nothing = cohorts.cohort_funnel(con, date_range(date(2024, 1, 1), date(2024, 1, 7)))
    assert nothing.empty


# --------------------------------------------------------------------------- demo company


@pytest.fixture(scope="module")
def demo(tiny_warehouse):
    connection = warehouse.connect(tiny_warehouse, read_only=True)
    yield connection
    connection.close()


def test_demo_cumulative_conversion_never_decreases(demo):
    window = date_range(date(2025, 9, 1), date(2025, 11, 30))
    frame = cohorts.cumulative_conversion(cohorts.cohort_funnel(demo, window))
    for metric in cohorts.CONVERSIONS:
        steps = frame.groupby(["cohort", "first_channel"])[metric].diff().dropna()
        assert (steps >= -1e-12).all(), metric
    matrix = cohorts.conversion_matrix(cohorts.cohort_funnel(demo, window), "cr_visitor_mql")
    assert (matrix.diff(axis=1).iloc[:, 1:].stack().dropna() >= -1e-12).all()


def test_demo_totals_reconcile_with_the_funnel(demo):
    period = parse_period("all", data_anchor(demo), bounds=data_bounds(demo))
    totals = cohorts.cohort_totals(cohorts.cohort_funnel(demo, period))
    funnel = funnel_summary(demo, period).iloc[0]
    by_channel = funnel_by_channel(demo, period).set_index("channel")
    # The same visitors: every lead but those without any visit (calls without a
    # session), which the funnel puts in channel "undetermined".
    untracked = by_channel.loc["undetermined"]
    no_visitor = demo.execute(
        "SELECT count(*) FROM leads WHERE visitor_id IS NULL AND visit_id IS NULL"
    ).fetchone()[0]
    assert untracked["leads"] == no_visitor > 0
    assert totals["visitors"] == funnel["visitors"]
    for column in ("leads", "mql", "sql_leads", "sales", "revenue"):
        assert totals[column] == pytest.approx(funnel[column] - untracked[column]), column
    assert totals["sales"] > 0


def test_cohort_window():
    week = date_range(date(2025, 6, 9), date(2025, 6, 15))
    window = cohorts.cohort_window(week, 12)
    assert (window.start, window.end) == (date(2025, 3, 24), date(2025, 6, 15))
    assert window.start.weekday() == 0 and window.days == 12 * 7
    months = cohorts.cohort_window(week, 12, grain="month")
    assert (months.start, months.end) == (date(2024, 7, 1), date(2025, 6, 15))
    with pytest.raises(ValueError, match="count"):
        cohorts.cohort_window(week, 0)


def test_channel_matrices_align(con):
    # no visitor of the W23 cohort came first through "direct": its row is empty
    frame = cohorts.cohort_funnel(con, PERIOD, as_of=AS_OF)
    matrix = cohorts.conversion_matrix(frame, first_channel="direct")
    assert list(matrix.index) == ["2025-W23", "2025-W24"]
    assert list(matrix.columns) == [0, 1, 2, 3]
    assert matrix.isna().all().all()


def test_several_windows_in_one_query_match_one_query_each(con, demo):
    """:func:`cohorts.cohort_funnels` (the notebook's 12 weeks and 12 months in one query,
    the first visits found once for the whole span) gives, exactly, what one
    :func:`cohorts.cohort_funnel` per window gives (one query each, its own first visits:
    the code before the merge). By hand: the weeks are those of
    ``test_weekly_counts_match_hand_computed``; in months May-June, visitor d (first seen
    Wed 05-28, organic) is the May cohort alone, and June has a, b, c, e (4 visitors)."""
    may_june = date_range(date(2025, 5, 1), date(2025, 6, 30))
    weekly, monthly = cohorts.cohort_funnels(
        con, [(PERIOD, "week"), (may_june, "month")], as_of=AS_OF
    )
    pd.testing.assert_frame_equal(
        weekly, cohorts.cohort_funnel(con, PERIOD, as_of=AS_OF), check_exact=True
    )
    pd.testing.assert_frame_equal(
        monthly, cohorts.cohort_funnel(con, may_june, grain="month", as_of=AS_OF), check_exact=True
    )
    assert counts(weekly, "2025-W24", "paid_search") == [(1, 1, 1, 0), (0, 0, 0, 0)] + [
        (0, 0, 0, 0)
    ]
    first_age = monthly[monthly["months_since_first_visit"] == 0]
    sizes = first_age.groupby(["cohort", "first_channel"])["visitors"].sum().to_dict()
    assert sizes == {
        ("2025-05", "organic"): 1,
        ("2025-06", "organic"): 2,
        ("2025-06", "paid_search"): 2,
    }

    period = parse_period("last-week", data_anchor(demo), bounds=data_bounds(demo))
    windows = [
        (cohorts.cohort_window(period, 12), "week"),
        (cohorts.cohort_window(period, 12, grain="month"), "month"),
    ]
    both = cohorts.cohort_funnels(demo, windows, as_of=period.end)
    for (window, grain), frame in zip(windows, both, strict=True):
        alone = cohorts.cohort_funnel(demo, window, grain=grain, as_of=period.end)
        assert len(alone) > 20
        pd.testing.assert_frame_equal(frame, alone, check_exact=True)
