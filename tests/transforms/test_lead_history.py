"""The as-of features of lead scoring as Ibis (``transforms.lead_history``) against the
DuckDB SQL they replaced (frozen in ``sql_oracle.old_lead_features``) and hand counts.

The Spark parity case is ``lead_history`` in ``test_transforms.py`` (one collect).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pandas as pd
import pytest
from sql_oracle import old_data_end, old_extra_lead_fields, old_lead_features, old_sql_target

from analytics import transforms, warehouse
from analytics.scoring import features as scoring_features
from analytics.scoring.fields import extra_lead_fields

T = datetime(2025, 3, 10, 10, 0, 0)
"""Creation time of lead A1 in the hand-made warehouse."""

DAY = timedelta(days=1)

ALL_FIELDS = {
    "standard": [
        *scoring_features.NUMERIC_FEATURES,
        *scoring_features.SIMILARITY_FEATURES,
        *scoring_features.CATEGORICAL_FEATURES,
    ],
    "extra_fields": ["budget"],
    "post_contact": [],
}
"""Every standard column plus the extra field ``budget``."""


def _edge_warehouse() -> duckdb.DuckDBPyConnection:
    """A hand-made warehouse of the edge cases (numbers by hand in the tests below).

    Person 1 (phone p1, e-mail e1, visitor va) asks three times: A1 at T (form), A2 at
    T+1d (call: phone p1 and e-mail e1, no visitor, segment empty), A3 at T+2d (chat:
    visitor va and e-mail e1); A4 at T+40d (phone p1) is more than 30 days after all of
    them. B1 and B2 arrive at the same instant (T+5d, phone p2). C2 arrives exactly 30
    days after C1 (phone p3). N1 has no visitor, N2's only visit is after it, N3's
    visitor has no visits. D1 (visitor vb) has two visits at the same sub-second instant.
    """
    con = duckdb.connect()
    warehouse.init_schema(con)
    leads = [
        # lead_id, created_at, type, visitor, phone, email, call s, lost, region, industry, size
        ("A1", T, "form", "va", "p1", None, None, None, "msk", "retail", "small"),
        ("A2", T + DAY, "call", None, "p1", "e1", 120, False, None, None, None),
        ("A3", T + 2 * DAY, "chat", "va", None, "e1", None, None, "msk", "retail", "small"),
        ("A4", T + 40 * DAY, "form", None, "p1", None, None, None, "spb", "retail", "small"),
        ("B1", T + 5 * DAY, "call", None, "p2", None, 30, True, None, "it", "large"),
        ("B2", T + 5 * DAY, "call", None, "p2", None, 0, False, None, "it", "large"),
        ("C1", T + 3 * DAY, "form", None, "p3", None, None, None, None, None, None),
        ("C2", T + 33 * DAY, "form", None, "p3", None, None, None, None, None, None),
        ("N1", T + 6 * DAY, "call", None, None, None, 45, False, None, None, None),
        ("N2", T + 6 * DAY, "form", "vn", None, None, None, None, None, None, None),
        ("N3", T + 7 * DAY, "form", "vz", None, None, None, None, None, None, None),
        ("D1", T, "form", "vb", None, "e9", None, None, None, "it", "large"),
    ]
    con.executemany(
        "INSERT INTO leads (lead_id, created_at, lead_type, visitor_id, phone_hash, "
        "email_hash, call_duration_s, call_lost, region, industry, company_size) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        leads,
    )
    quarter = timedelta(seconds=0.25)
    half = timedelta(seconds=0.5)
    visits = [
        # visit_id, visitor, start, channel, pageviews, seconds, pricing
        ("v0", "va", T - 4 * DAY, None, 1, 10, None),
        ("v1", "va", T - 2 * DAY + quarter, "organic", 1, 50, True),
        ("v2", "va", T - 2 * DAY + quarter, "email", 3, 100, False),
        ("v3", "va", T - DAY, "paid_search", 2, 30, False),
        ("v4", "va", T + 1.5 * DAY, "direct", 1, 5, False),
        ("v5", "va", T + 2 * DAY, "paid_social", 9, 900, True),  # at A3's instant: not before
        ("v6", "vb", T - timedelta(hours=1) + half, "email", 1, 1, False),
        ("v7", "vb", T - timedelta(hours=1) + half, "organic", 1, 1, False),
        ("v8", "vn", T + 6 * DAY + DAY, "email", 1, 1, True),
    ]
    con.executemany(
        "INSERT INTO visits (visit_id, visitor_id, visit_start, channel, pageviews, "
        "duration_s, goal_pricing) VALUES (?, ?, ?, ?, ?, ?, ?)",
        visits,
    )
    deals = [
        # deal_id, lead_id, status, closed_at, industry, size
        ("X1", None, "won", T - 10 * DAY, "retail", "small"),
        ("X2", "C1", "lost", T - 5 * DAY, "retail", "small"),
        ("X3", "A1", "won", T, "retail", "small"),  # closes at A1's (and D1's) instant
        ("X4", "A2", "won", None, "retail", "small"),  # no close time: never counts
        ("X5", None, "lost", T - DAY, None, None),  # segment unknown x unknown
        ("X6", None, "open", T - 3 * DAY, "retail", "small"),  # not closed
    ]
    con.executemany(
        "INSERT INTO deals (deal_id, lead_id, created_at, status, closed_at, industry, "
        "company_size) VALUES (?, ?, TIMESTAMP '2025-01-01', ?, ?, ?, ?)",
        deals,
    )
    # budget: A1's answer came with the request (an older version in the history), A2's
    # two hours after it (after the hour of grace: not known at arrival)
    con.executemany(
        "INSERT INTO lead_fields VALUES (?, 'budget', ?, ?)",
        [("A1", "100", T), ("A2", "5", T + DAY + timedelta(hours=2)), ("B1", "7", T)],
    )
    con.execute(
        "INSERT INTO history.lead_fields (lead_id, field, value, recorded_at) "
        "VALUES ('A1', 'budget', '90', ?)",
        [T - timedelta(hours=1)],
    )
    return con


@pytest.fixture(scope="module")
def edge():
    con = _edge_warehouse()
    yield con
    con.close()


def _new(con, as_of=None, **kwargs) -> pd.DataFrame:
    """``lead_features`` as the library computes it now (without the process memo)."""
    options = {"prior_strength": 20.0, "similarity": True, "params": None, **kwargs}
    return scoring_features._compute_lead_features(con, as_of, **options)


def test_edge_cases_equal_the_frozen_sql(edge):
    new = _new(edge, similarity=False, params=ALL_FIELDS)
    old = old_lead_features(edge, similarity=False, params=ALL_FIELDS)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    cut = _new(edge, T + 3 * DAY, similarity=False, params=ALL_FIELDS)
    pd.testing.assert_frame_equal(
        cut, old_lead_features(edge, T + 3 * DAY, similarity=False, params=ALL_FIELDS)
    )
    assert sorted(cut.index) == ["A1", "A2", "A3", "C1", "D1"]


def test_earlier_requests_by_hand(edge):
    """A1 none; A2: A1 (phone p1); A3: A1 (visitor va) and A2 (e-mail e1), each once;
    A4: the others are 38-40 days older; B1/B2 at one instant: B2 counts B1 (smaller
    id); C2 exactly 30 days after C1 counts it; N1 has no key at all."""
    got = _new(edge, similarity=False, params=ALL_FIELDS)["earlier_requests"]
    expected = {"A1": 0, "A2": 1, "A3": 2, "A4": 0, "B1": 0, "B2": 1, "C1": 0, "C2": 1}
    assert got[list(expected)].to_dict() == expected
    assert got["N1"] == 0


def test_site_behaviour_by_hand(edge):
    """A1 (visitor va at T): v0 (no channel) at T-4d, v1 and v2 at the same instant
    T-2d+0.25 s (v1 organic: smaller id, first), v3 paid_search at T-1d (last): 4 visits,
    7 pageviews, 190 s, pricing seen (v1), 3 channels, 4.0 days since v0. A3 at T+2d adds
    v4 (direct) but not v5 (starts at A3's instant): 5 visits, 6.0 days. D1: v6 (email)
    and v7 (organic) both at T-1h+0.5 s: first email, last organic, 3599.5 s = 3599.5 /
    86400 days. N1 (no visitor), N2 (visit after it), N3 (visitor without visits): none."""
    got = _new(edge, similarity=False, params=ALL_FIELDS)
    a1 = got.loc["A1"]
    assert (a1["visits_before"], a1["pageviews_before"], a1["duration_before_s"]) == (4, 7, 190)
    assert (a1["pricing_viewed"], a1["channels_distinct"]) == (1, 3)
    assert (a1["first_channel"], a1["last_channel"], a1["days_first_visit_to_lead"]) == (
        "organic",
        "paid_search",
        4.0,
    )
    a3 = got.loc["A3"]
    assert (a3["visits_before"], a3["last_channel"], a3["days_first_visit_to_lead"]) == (
        5,
        "direct",
        6.0,
    )
    d1 = got.loc["D1"]
    assert (d1["first_channel"], d1["last_channel"]) == ("email", "organic")
    assert d1["days_first_visit_to_lead"] == 3599.5 / 86400
    for lead, tracked in (("N1", 0), ("N2", 1), ("N3", 1)):
        row = got.loc[lead]
        assert (row["site_tracked"], row["visits_before"], row["first_channel"]) == (
            tracked,
            0,
            "no_visits",
        )


def test_segment_history_and_fields_by_hand(edge):
    """A1 (retail x small at T): X1 won and X2 lost closed before it, X3 closes at its
    instant (not before), X4 has no close time, X6 is open: w=1, n=2; all segments also
    X5 lost: W=1, N=3, prior 2/5, rate (1 + 20 x 0.4) / (2 + 20) = 9/22. A2 (empty
    segment -> unknown x unknown, T+1d): X5 lost: w=0, n=1; W=2 (X1, X3), N=4: prior 3/6,
    rate (0 + 10) / 21. Budget: A1's 100 (the history's 90 is older), A2's came after
    the grace hour (missing); region, industry, size of A2 are "unknown"."""
    got = _new(edge, similarity=False, params=ALL_FIELDS)
    assert got.loc["A1", "segment_closed_deals"] == 2
    assert got.loc["A1", "segment_win_rate"] == pytest.approx(9 / 22, rel=1e-15)
    assert got.loc["A2", "segment_closed_deals"] == 1
    assert got.loc["A2", "segment_win_rate"] == pytest.approx(10 / 21, rel=1e-15)
    assert got.loc["A1", "budget"] == 100.0 and pd.isna(got.loc["A2", "budget"])
    assert list(got.loc["A2", ["region", "industry", "company_size"]]) == ["unknown"] * 3
    assert (got.loc["A2", "call_duration_s"], got.loc["A2", "call_lost"]) == (120.0, 0)
    assert (got.loc["B1", "call_lost"], got.loc["A1", "call_duration_s"]) == (1, 0.0)
    assert (got.loc["A2", "phone_present"], got.loc["A2", "email_present"]) == (1, 1)


def test_a_field_recorded_twice_at_one_instant_takes_the_current_version(edge):
    """B1's budget 7 (current) and 3 (an older load, same recorded_at): the frozen SQL's
    arg_max picked either; the port takes the current table's."""
    edge.execute("BEGIN TRANSACTION")
    try:
        edge.execute(
            "INSERT INTO history.lead_fields (lead_id, field, value, recorded_at) "
            "VALUES ('B1', 'budget', '3', ?), ('B1', 'budget', '8', ?)",
            [T, T],
        )
        got = extra_lead_fields(edge, ["budget"])
    finally:
        edge.execute("ROLLBACK")
    assert got.loc["B1", "budget"] == 7.0


def test_tiny_demo_features_equal_the_frozen_sql(tiny_warehouse):
    """The whole table (similarity and the demo's form answers included) as the model
    reads it, for all leads and as of a day mid-year, with another prior strength."""
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        new = _new(con)
        assert len(new) > 200 and new["similar_won_share"].notna().any()
        pd.testing.assert_frame_equal(new, old_lead_features(con), check_exact=True)
        as_of = datetime(2025, 7, 1)
        pd.testing.assert_frame_equal(
            _new(con, as_of, prior_strength=5.0, similarity=False),
            old_lead_features(con, as_of, prior_strength=5.0, similarity=False),
            check_exact=True,
        )
        fields = ["monthly_ad_budget", "analytics_tools", "no_such_field"]
        pd.testing.assert_frame_equal(
            extra_lead_fields(con, fields), old_extra_lead_fields(con, fields)
        )
    finally:
        con.close()


def test_features_run_on_an_ibis_backend_without_the_memo(tiny_warehouse):
    """An Ibis backend (how Spark is passed) gives the DuckDB connection's table."""
    backend = transforms.connect_backend(f"duckdb://{tiny_warehouse}")
    try:
        via_ibis = scoring_features.lead_features(backend, similarity=False)
    finally:
        backend.disconnect()
    assert not scoring_features._LAST_FEATURES  # no DuckDB file to key a memo by
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        expected = old_lead_features(con, similarity=False)
    finally:
        con.close()
    pd.testing.assert_frame_equal(via_ibis, expected, check_exact=True)


def test_sql_target_and_data_end_by_hand_and_equal_to_the_frozen_sql():
    """``sql_target`` / ``data_end`` (now Ibis) against hand values and the old SQL.

    Window 30 days from T: L1's deal enters ``sql`` exactly at T+30d (in: "at or
    before"), L2's enters ``demo`` 1 us later (0); L3's deal only reaches ``mql`` (0);
    L4 has no deal (0); L5 has two deals, the earlier SQL one counts (1); a deal
    without a lead reaching ``won`` counts for nobody. The data end is the latest
    event, L2's ``demo`` at T+30d+1us, so L1-L5 have a complete window and L6 (created
    T+5d+1h, window to T+35d+1h) has not; with end 1 us before T+30d no lead is kept;
    with 1.5 days (to the microsecond) and end T+2d, L1-L5 are kept and only L5 (its
    ``proposal`` at T+1d) reached SQL in time.
    """
    con = duckdb.connect()
    warehouse.init_schema(con)
    leads = [(f"L{i}", T) for i in range(1, 6)] + [("L6", T + 5 * DAY + timedelta(hours=1))]
    con.executemany("INSERT INTO leads (lead_id, created_at) VALUES (?, ?)", leads)
    deals = [("d1", "L1"), ("d2", "L2"), ("d3", "L3"), ("d5a", "L5"), ("d5b", "L5"), ("dx", None)]
    con.executemany(
        "INSERT INTO deals (deal_id, lead_id, created_at, status) "
        "VALUES (?, ?, TIMESTAMP '2025-01-01', 'open')",
        deals,
    )
    stages = [
        ("d1", "sql", T + 30 * DAY),
        ("d2", "mql", T + DAY),
        ("d2", "demo", T + 30 * DAY + timedelta(microseconds=1)),
        ("d3", "mql", T + DAY),
        ("d5a", "proposal", T + DAY),
        ("d5b", "sql", T + 5 * DAY),
        ("dx", "won", T),
    ]
    con.executemany("INSERT INTO deal_stages (deal_id, stage, entered_at) VALUES (?, ?, ?)", stages)
    try:
        end = scoring_features.data_end(con)
        assert end == pd.Timestamp(T + 30 * DAY + timedelta(microseconds=1))
        assert end == old_data_end(con)
        got = scoring_features.sql_target(con, 30)
        assert got.to_dict() == {"L1": 1, "L2": 0, "L3": 0, "L4": 0, "L5": 1}
        assert got.dtype == "int64" and got.index.name == "lead_id"
        pd.testing.assert_series_equal(got, old_sql_target(con, 30))
        early = T + 30 * DAY - timedelta(microseconds=1)
        assert scoring_features.sql_target(con, 30, end=early).empty
        assert old_sql_target(con, 30, end=early).empty
        short = scoring_features.sql_target(con, 1.5, end=T + 2 * DAY)
        assert short.to_dict() == {"L1": 0, "L2": 0, "L3": 0, "L4": 0, "L5": 1}
        pd.testing.assert_series_equal(short, old_sql_target(con, 1.5, end=T + 2 * DAY))
        with pytest.raises(ValueError, match="window_days must be positive"):
            scoring_features.sql_target(con, 0)
        con.execute("DELETE FROM deal_stages; DELETE FROM deals; DELETE FROM leads")
        with pytest.raises(ValueError, match="no visits, leads or deals"):
            scoring_features.data_end(con)
    finally:
        con.close()


def test_tiny_demo_sql_target_equals_the_frozen_sql(tiny_warehouse):
    """The whole target of the tiny demo, three windows (one fractional)."""
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        assert scoring_features.data_end(con) == old_data_end(con)
        for days in (30, 7.25, 90):
            new = scoring_features.sql_target(con, days)
            assert len(new) > 100
            pd.testing.assert_series_equal(new, old_sql_target(con, days), check_exact=True)
    finally:
        con.close()
