"""The booked revenue, the close rule, the channel conversion, the data bounds and the
snapshot's figures ported to Ibis give what the DuckDB SQL they replaced gave.

The old code is frozen in ``tests/sql_oracle.py``; the frames must have the same
columns, row order, dtypes and values (``assert_same_frame``: exact), on the
hand-made warehouse of ``funnel_fixture`` and on the tiny demo, for weeks with
data, the whole span, a year with nothing in it and both MQL methods.
"""

from __future__ import annotations

import math
from datetime import date

import duckdb
import pandas as pd
import pytest
from funnel_fixture import SUMMARY_W23, fill
from sql_oracle import (
    assert_same_frame,
    old_booked_by_channel,
    old_booked_summary,
    old_booked_weekly,
    old_campaign_weekly,
    old_closed_deals,
    old_conversion_by,
    old_data_anchor,
    old_data_bounds,
    old_drilldown,
    old_first_record_day,
    old_funnel_counts,
    old_snapshot_campaigns,
    old_snapshot_figures,
    old_snapshot_weekly,
)

from analytics.metrics import drilldown, funnel, kpi, revenue, snapshot
from analytics.metrics.definitions import DEFAULT_DEFINITIONS, Definitions, load_definitions
from analytics.metrics.period import (
    as_date,
    data_anchor,
    data_bounds,
    date_range,
    iso_week,
    previous_period,
    year_ago_period,
)
from analytics.transforms import connect_backend
from analytics.transforms.backends import ibis_backend
from analytics.transforms.data_span import first_record_day
from analytics.transforms.funnel_facts import funnel_counts, funnel_counts_by_window

SHIPPED = load_definitions()
RULES = Definitions(mql_method="rules", rules=SHIPPED.rules, non_target=SHIPPED.non_target)


@pytest.fixture(scope="module")
def hand():
    con = duckdb.connect()
    fill(con)
    yield con
    con.close()


@pytest.fixture(scope="module")
def tiny(tiny_warehouse):
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module", autouse=True)
def oracle_flags_once():
    """The frozen conversion (``old_conversion_by``) builds on the Ibis ``lead_flags`` of
    its period, and the tests below ask it for the same (warehouse, period, definitions)
    several times (once per grouping; again inside ``old_snapshot_figures``): each is
    computed once in this module (an Ibis build and compile, ~0.4 CPU-s) and every caller
    gets its own copy. Only the oracle's calls go through here (the product imports
    ``lead_flags`` by name); the module's warehouses are read, never written."""
    from analytics.metrics import definitions as module

    real, done = module.lead_flags, {}

    def once(con, period, definitions=None):
        key = (con, period, definitions or DEFAULT_DEFINITIONS)
        if key not in done:
            done[key] = real(con, period, definitions)
        return done[key].copy()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "lead_flags", once)
        yield


def periods(con):
    first, last = old_data_bounds(con)
    return [
        iso_week(2025, 23),  # the hand fixture's week; a week of the tiny demo
        date_range(first, last),  # everything
        date_range(date(2019, 1, 1), date(2019, 12, 31)),  # nothing at all
    ]


@pytest.mark.parametrize("db", ["hand", "tiny"])
def test_booked_and_closed_deals_match_the_frozen_sql(db, request):
    con = request.getfixturevalue(db)
    rows = 0
    week, span, empty = periods(con)
    for period in (week, empty) if db == "hand" else (week, span):
        assert_same_frame(revenue.booked_summary(con, period), old_booked_summary(con, period))
        assert_same_frame(revenue.booked_weekly(con, period), old_booked_weekly(con, period))
        new = revenue.booked_by_channel(con, period)
        assert_same_frame(new, old_booked_by_channel(con, period))
        closed = kpi.closed_deals(con, period.start, period.end_exclusive)
        assert_same_frame(closed, old_closed_deals(con, period.start, period.end_exclusive))
        rows += len(new) + len(closed)
    assert rows >= 5  # not a comparison of empty frames


@pytest.mark.parametrize(
    ("definitions", "groupings"),
    [(DEFAULT_DEFINITIONS, ("channel", "source", "campaign")), (RULES, ("campaign",))],
    ids=["crm", "rules"],
)
def test_conversion_by_matches_the_frozen_sql(tiny, definitions, groupings):
    period = periods(tiny)[1]
    for by in groupings:
        new = kpi.conversion_by(tiny, period, by, definitions)
        assert len(new) > 1
        assert_same_frame(new, old_conversion_by(tiny, period, by, definitions))


def test_data_bounds_match_the_frozen_sql_on_duckdb_and_on_an_ibis_backend(tiny, tiny_warehouse):
    expected = (old_data_anchor(tiny), old_data_bounds(tiny))
    assert (data_anchor(tiny), data_bounds(tiny)) == expected
    backend = connect_backend(f"duckdb://{tiny_warehouse}")
    try:
        assert (data_anchor(backend), data_bounds(backend)) == expected
        # revenue_vs_target's start of history (visits, leads and deals, not spend)
        assert as_date(backend.execute(first_record_day(backend))) == old_first_record_day(tiny)
    finally:
        backend.disconnect()
    assert isinstance(expected[0], date) and expected[1][0] < expected[0] <= expected[1][1]


def _same_figures(new: dict, old: dict) -> None:
    assert list(new) == list(old)
    for key, value in old.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(new[key]), key
        else:
            assert new[key] == value and type(new[key]) is type(value), key


def test_closed_deals_of_several_periods_is_each_periods_closed_deals(tiny):
    """One query for the snapshot's three periods, sliced: the frozen SQL per period."""
    week = iso_week(2025, 23)
    chosen = [week, date_range(date(2025, 5, 26), date(2025, 6, 1)), iso_week(2024, 23)]
    frames = kpi.closed_deals_of(tiny, chosen)
    assert len(frames) == 3 and sum(map(len, frames)) > 0
    for period, frame in zip(chosen, frames, strict=True):
        assert_same_frame(frame, old_closed_deals(tiny, period.start, period.end_exclusive))


@pytest.mark.parametrize("db", ["hand", "tiny"])
def test_snapshot_figures_match_the_frozen_sql(db, request):
    """The snapshot's raw figures, total and per channel, of a week."""
    con = request.getfixturevalue(db)
    for period in periods(con)[:1]:
        total, channels = snapshot._figures(con, period, SHIPPED)
        old_total, old_channels = old_snapshot_figures(con, period, SHIPPED)
        _same_figures(total, old_total)
        assert list(channels) == list(old_channels) and len(channels) >= 2
        for name, figures in old_channels.items():
            _same_figures(channels[name], figures)


def assert_same_sums(new, old, money=("spend", "revenue", "revenue_booked")) -> None:
    """:func:`assert_same_frame`, but money summed over several rows may differ in the last
    bits of a float: the old code added the creative rows' SQL sums in pandas, the new one
    sums in one pass, so the order of the additions differs (relative 1e-12 at most)."""
    money = [c for c in new.columns if c in money or c in drilldown.RATIOS]
    assert_same_frame(new.drop(columns=money), old.drop(columns=money))
    pd.testing.assert_frame_equal(new[money], old[money], check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("db", ["hand", "tiny"])
def test_drilldown_and_campaign_weekly_match_the_frozen_sql(db, request):
    """Every depth of the drill-down, both MQL methods, and the campaign weekly series (the
    snapshot's ``campaigns`` and ``campaign_weekly``: the campaign movers and anomalies)."""
    con = request.getfixturevalue(db)
    week, span, empty = periods(con)
    if db == "hand":
        cases = [(week, "creative", DEFAULT_DEFINITIONS), (empty, "campaign", DEFAULT_DEFINITIONS)]
    else:
        cases = [(week, "creative", RULES), (span, "campaign", DEFAULT_DEFINITIONS)]
    rows = 0
    for period, depth, definitions in cases:
        new = drilldown.drilldown(con, period, depth, definitions)
        assert_same_sums(new, old_drilldown(con, period, depth, definitions))
        rows += len(new)
    weekly = drilldown.campaign_weekly(con, week)
    assert_same_frame(weekly, old_campaign_weekly(con, week))
    assert rows + len(weekly) >= 20


def approx(value):
    return pytest.approx(value, rel=1e-12, abs=0)


@pytest.mark.parametrize("db", ["hand", "tiny"])
def test_snapshot_campaigns_match_the_frozen_drilldowns(db, request):
    """The snapshot's ``campaigns`` (the campaign movers' input), now one query for the
    period and the previous one, against the two frozen drill-downs it replaced."""
    con = request.getfixturevalue(db)
    week = periods(con)[0]
    chosen = [week, previous_period(week), year_ago_period(week)]
    # the hand W22 has a campaign W23 lacks; on the tiny demo no previous period is
    # covered: its figures are None
    covered = [True, db == "hand", False]
    new = snapshot._campaigns(con, chosen, covered, SHIPPED)
    old = old_snapshot_campaigns(con, chosen, covered, SHIPPED)
    assert len(new) == len(old) >= 3
    for got, expected in zip(new, old, strict=True):
        assert list(got) == list(expected)
        assert (got["channel"], got["campaign"]) == (expected["channel"], expected["campaign"])
        for key in snapshot.CAMPAIGN_FIGURES:
            for field, value in expected[key].items():
                # money: the old sum of the creatives' sums differs in the last bits
                assert type(got[key][field]) is type(value), (key, field)
                assert got[key][field] == (value if value is None else approx(value))


# --------------------------------------------------------------------------- one query per source
# The snapshot asks each source once for its periods (``*_by_window``); each period's
# rows must be what the frozen one-period code gives, and the hand values of
# ``funnel_fixture``'s docstring.

W22, W24 = iso_week(2025, 22), iso_week(2025, 24)


def _windows_of(con):
    """The snapshot's three periods (the last without data) and W24 (the days after W23:
    L7 at Mon 00:00 and D7 are there, not in W23)."""
    week = iso_week(2025, 23)
    return [week, previous_period(week), year_ago_period(week), W24]


def test_windowed_figures_by_hand(hand):
    """Hand values (``funnel_fixture``): W22 = spend 3 000 (paid_search, Fri 05-30), visit
    v0 (visitor h), lead L0 (form, v0) whose D0 won 20 000 on Sat 05-31 -> visits 1,
    visitors 1, leads 1, MQL 1, SQL 1, sales 1, revenue 20 000, booked 20 000 / 1 sale /
    spend 3 000, all paid_search; 2024-W23: nothing; W24 (to 06-10): spend 7 000, visits
    v7, v8, lead L7 (v7, paid_search) with D7 won 999 -> leads 1, sales 1, revenue 999."""
    chosen = _windows_of(hand)
    summaries = funnel.funnel_summaries(hand, chosen)
    w23, w22, ago, w24 = (s.iloc[0] for s in summaries)
    assert {k: w23[k] for k in SUMMARY_W23} == pytest.approx(SUMMARY_W23, nan_ok=True)
    expected = {"spend": 3_000.0, "visits": 1, "visitors": 1, "leads": 1, "mql": 1}
    expected |= {"sql_leads": 1, "sales": 1, "revenue": 20_000.0}
    assert {k: w22[k] for k in expected} == expected
    assert (ago["visits"], ago["leads"], ago["spend"], ago["revenue"]) == (0, 0, 0.0, 0.0)
    assert (w24["spend"], w24["visits"], w24["leads"], w24["sales"]) == (7_000.0, 2, 1, 1)
    assert w24["revenue"] == 999.0
    booked = [b.iloc[0] for b in revenue.booked_summaries(hand, chosen)]
    assert [(b["revenue"], b["sales"], b["spend"]) for b in booked] == [
        (150_777.0, 3, 21_000.0),
        (20_000.0, 1, 3_000.0),
        (0.0, 0, 0.0),
        (999.0, 1, 7_000.0),
    ]
    w22_channels = revenue.booked_by_channel_of(hand, chosen)[1]
    assert w22_channels[["channel", "revenue", "sales", "spend"]].values.tolist() == [
        ["paid_search", 20_000.0, 1, 3_000.0]
    ]
    conversion = kpi.conversion_by_periods(hand, chosen, "channel", SHIPPED)
    assert conversion[2].empty
    assert conversion[1][["channel", "leads", "sales", "revenue"]].values.tolist() == [
        ["paid_search", 1, 1, 20_000.0]
    ]


def test_windowed_funnel_counts_match_one_query_per_window(hand):
    """The hand weeks W23, W22, 2024-W23 (empty) and W24 (L7 at Mon 06-09 00:00 and v7
    belong there, not to W23): each window's rows of the one query by channel equal the
    frozen one-window expression's; by total and by week for W23 too, and the one-window
    ``funnel_counts`` (now the windowed query with one window) equals it."""
    windows = [(p.start, p.end_exclusive) for p in _windows_of(hand)]
    with ibis_backend(hand) as con:
        every = con.execute(funnel_counts_by_window(con, windows, "channel"))
        for i, (start, stop) in enumerate(windows):
            old = con.execute(old_funnel_counts(con, start, stop, "channel"))
            assert_same_frame(every[every["window"] == i].drop(columns="window"), old)
        assert every.groupby("window")["leads"].sum().to_dict() == {0: 6, 1: 1, 3: 1}
        for by in ("total", "week"):
            old = con.execute(old_funnel_counts(con, *windows[0], by))
            assert_same_frame(con.execute(funnel_counts(con, *windows[0], by)), old)


def test_windowed_queries_match_one_query_per_period(tiny):
    """On the tiny demo (2025-W52, its previous week, 2024-W52 and 2025-W23, all with
    data), each period's slice of the one query equals the frozen code of that period
    alone: the conversion (both MQL methods), the booked figures and the snapshot's raw
    figures; a period overlapping another (the whole span and a week in it) is asked
    apart (``_disjoint_batches``) and still matches."""
    week = iso_week(2025, 52)
    chosen = [week, previous_period(week), year_ago_period(week), iso_week(2025, 23)]
    rows = 0
    for definitions, some in ((SHIPPED, chosen), (RULES, chosen[:1])):
        frames = kpi.conversion_by_periods(tiny, some, "channel", definitions)
        for period, frame in zip(some, frames, strict=True):
            assert_same_frame(frame, old_conversion_by(tiny, period, "channel", definitions))
            rows += len(frame)
    for period, frame in zip(chosen, revenue.booked_summaries(tiny, chosen), strict=True):
        assert_same_frame(frame, old_booked_summary(tiny, period))
    for period, frame in zip(chosen, revenue.booked_by_channel_of(tiny, chosen), strict=True):
        assert_same_frame(frame, old_booked_by_channel(tiny, period))
        rows += len(frame)
    for period, (total, channels) in zip(
        chosen[:3], snapshot._figures_of(tiny, chosen[:3], SHIPPED), strict=True
    ):
        old_total, old_channels = old_snapshot_figures(tiny, period, SHIPPED)
        _same_figures(total, old_total)
        assert list(channels) == list(old_channels)
        for name, figures in old_channels.items():
            _same_figures(channels[name], figures)
    span = date_range(*old_data_bounds(tiny))
    totals = snapshot._totals_of(tiny, [span, week, span])
    expected = {
        p: (old_booked_summary(tiny, p), funnel.funnel_summary(tiny, p)) for p in (span, week)
    }
    for period, (booked, summary) in zip([span, week, span], totals, strict=True):
        assert_same_frame(booked, expected[period][0])
        assert_same_frame(summary, expected[period][1])
    assert rows >= 20


def test_disjoint_batches_by_hand():
    """Periods sharing no day go together, first fit: W23, the span 2025 (overlaps all
    weeks of 2025), W22 (joins W23), 2024-W23 (joins W23's batch too)."""
    w23, w22, ago = iso_week(2025, 23), iso_week(2025, 22), iso_week(2024, 23)
    year = date_range(date(2025, 1, 1), date(2025, 12, 31))
    assert snapshot._disjoint_batches([w23, year, w22, ago]) == [[0, 2, 3], [1]]
    assert snapshot._disjoint_batches([w23, w23]) == [[0], [1]]
    assert snapshot._disjoint_batches([]) == []


def test_snapshot_weekly_from_the_shared_totals_matches_its_own_queries(hand, tiny):
    """The weekly series now comes from the periods' totals query (the weeks are windows
    of it): the same rows as the frozen two weekly queries, for a full week on the tiny
    demo and, on the hand warehouse, a period ending mid-week (its last week cut at the
    period's end). By hand (``funnel_fixture``), W22 = booked 20 000 / 1 sale / spend
    3 000, leads 1, MQL 1, SQL 1; W23 to Thu 06-05 = booked D1 100 000 (Mon) and DX 777
    (Tue), 2 sales (D4 is won on Fri), spend 10 000 + 6 000 + 5 000 = 21 000 (Mon, Tue,
    Thu), leads L1, L2, L3 whose deals D1, D2, D3 all reached MQL and D1, D3 SQL."""
    week = iso_week(2025, 52)
    chosen = [week, previous_period(week), year_ago_period(week)]
    week_periods = snapshot._week_periods(week, 12)
    totals = snapshot._totals_of(tiny, chosen + week_periods)
    new = snapshot._weekly(week_periods, totals[len(chosen) :])
    assert new == old_snapshot_weekly(tiny, week, 12)
    assert sum(row["sales"] for row in new) > 0

    cut = date_range(date(2025, 6, 2), date(2025, 6, 5))  # Mon..Thu of W23
    week_periods = snapshot._week_periods(cut, 2)
    rows = snapshot._weekly(week_periods, snapshot._totals_of(hand, [cut, *week_periods])[1:])
    assert rows == old_snapshot_weekly(hand, cut, 2)
    assert [(r["week"], r["revenue"], r["sales"], r["spend"]) for r in rows] == [
        ("2025-W22", 20_000.0, 1, 3_000.0),
        ("2025-W23", 100_777.0, 2, 21_000.0),
    ]
    assert [(r["leads"], r["mql"], r["sql_leads"]) for r in rows] == [(1, 1, 1), (3, 3, 2)]


def test_a_duckdb_backend_reads_each_table_schema_once_per_block():
    """``duckdb_backend`` asks DuckDB for a table's schema once per ``with`` block (Ibis
    would run a DESCRIBE each time an expression names the table); a table's new column
    added between two blocks is seen by the second, and the connection's settings are
    back as they were after each block."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Europe/Moscow'")
    con.execute("CREATE TABLE t (a INTEGER)")
    con.execute("INSERT INTO t VALUES (1), (2)")
    with ibis_backend(con) as backend:
        described = []
        get_schema = backend.get_schema

        def counting(name, *args, **kwargs):
            described.append(name)
            return get_schema(name, *args, **kwargs)

        backend.get_schema = counting  # what Ibis's table() calls to run its DESCRIBE
        first, again = backend.table("t"), backend.table("t")
        assert first is again and list(first.columns) == ["a"]
        assert described == ["t"]
        assert backend.execute(first.a.sum()) == 3
    con.execute("ALTER TABLE t ADD COLUMN b VARCHAR")
    with ibis_backend(con) as backend:
        assert list(backend.table("t").columns) == ["a", "b"]
    assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "Europe/Moscow"
    con.close()
