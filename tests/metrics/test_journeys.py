"""Tests for analytics.metrics.journeys: hand-made warehouse by hand, tiny demo against pandas."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest
from funnel_fixture import fill

from analytics.metrics import journeys as jr
from analytics.metrics.period import parse_period

W23 = parse_period("2025-W23", date(2025, 6, 10))


@pytest.fixture(scope="module")
def hand():
    """The hand-made warehouse of funnel_fixture (week 2025-W23)."""
    con = duckdb.connect()
    fill(con)
    yield con
    con.close()


@pytest.fixture(scope="module")
def tiny(tiny_warehouse):
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    yield con
    con.close()


def paths_dict(paths: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    return {
        row.path_str: (row.conversions, row.nulls, row.value)
        for row in paths.itertuples(index=False)
    }


def test_lead_journeys_of_the_hand_made_week(hand):
    # Leads of W23 and their visitors' visits in the day before the lead:
    #   L1 a 06-02 09:05 <- v1 paid_search 09:00      L2 b 06-04 11:05 <- v3 paid_search
    #   L3 c 06-05 12:05 <- v4 paid_social            L5 d 06-06 13:05 <- v5 organic
    #   L4 (call, no visitor) and L6 (visitor z, no visits) have no touch.
    # Visitors with a W23 visit and no W23 lead: e only (v6 organic) -> null journey.
    j = jr.build_journeys(hand, "lead", lookback_days=1, period=W23)
    assert paths_dict(j.paths) == {
        "paid_search": (2.0, 0.0, 2.0),
        "paid_social": (1.0, 0.0, 1.0),
        "organic": (1.0, 1.0, 1.0),
    }
    assert j.unattributed == {"conversions": 2.0, "value": 2.0}
    assert len(j.journeys) == 7
    assert j.journeys["converted"].sum() == 6
    nulls = j.journeys[~j.journeys["converted"]]
    assert nulls["visitor_id"].tolist() == ["e"]
    assert nulls["conversion_at"].tolist() == [pd.Timestamp("2025-06-08 23:30:00")]


def test_sale_journeys_carry_the_deal_amount(hand):
    # W23 sales: D1 (lead L1 of a, 100 000) and D4 (L4, no visitor: unattributed 50 000).
    # Non-converting W23 visitors b, c, d, e; b's last W23 visit is v9 (06-07), and
    # v3 (06-04) is within 30 days before it -> paid_search > paid_social.
    j = jr.build_journeys(hand, "sale", lookback_days=30, period=W23)
    assert paths_dict(j.paths) == {
        "paid_search": (1.0, 0.0, 100_000.0),
        "paid_search > paid_social": (0.0, 1.0, 0.0),
        "paid_social": (0.0, 1.0, 0.0),
        "organic": (0.0, 2.0, 0.0),
    }
    assert j.unattributed == {"conversions": 1.0, "value": 50_000.0}
    assert j.default_weight == "conversions"
    assert jr.build_journeys(hand, "revenue", period=W23).default_weight == "value"


def test_mql_and_sql_follow_the_stage_reached(hand):
    # W23 MQL: D1, D2 (new mql lost), D3, D4 (reached won); SQL: D1, D3, D4.
    mql = jr.build_journeys(hand, "mql", lookback_days=1, period=W23)
    sql = jr.build_journeys(hand, "sql", lookback_days=1, period=W23)
    assert sorted(mql.journeys["conversion_id"].dropna()) == ["D1", "D2", "D3", "D4"]
    assert sorted(sql.journeys["conversion_id"].dropna()) == ["D1", "D3", "D4"]


def test_stage_anchor_times_the_conversion_at_the_stage(hand):
    # D1 was created 06-02 10:00 and entered "won" 5 hours later, 15:00; its only
    # touch v1 was at 09:00: 5 min before the lead, 6 h before the sale.
    lead_anchor = jr.build_journeys(hand, "sale", lookback_days=0.1, period=W23)
    stage_anchor = jr.build_journeys(hand, "sale", lookback_days=0.1, period=W23, anchor="stage")
    d1 = stage_anchor.journeys.set_index("conversion_id").loc["D1"]
    assert d1["conversion_at"] == pd.Timestamp("2025-06-02 15:00:00")
    assert lead_anchor.unattributed["conversions"] == 1.0  # D4 only
    assert stage_anchor.unattributed["conversions"] == 2.0  # D1 lost its touch
    with pytest.raises(ValueError, match="anchor"):
        jr.build_journeys(hand, "sale", anchor="won")
    with pytest.raises(ValueError, match="conversion"):
        jr.build_journeys(hand, "purchase")
    with pytest.raises(ValueError, match="lookback"):
        jr.build_journeys(hand, "lead", lookback_days=-1)


def test_widen_period_falls_back_to_a_quarter(hand):
    # W23 has 2 sales (D1, D4); the 13 weeks to 06-08 add D0 (05-31): 3.
    assert jr.widen_period(hand, W23, "sale", min_conversions=2) == W23
    quarter = jr.widen_period(hand, W23, "sale", min_conversions=3)
    assert quarter.label == "2025-03-10_2025-06-08"
    assert jr.widen_period(hand, W23, "sale", min_conversions=100) == quarter


def test_touches_respect_lookback_and_order(tiny):
    j = jr.build_journeys(tiny, "lead", lookback_days=10)
    t = j.touches
    assert (t["visit_start"] <= t["conversion_at"]).all()
    assert (t["days_before"] <= 10 + 1e-9).all() and (t["days_before"] >= 0).all()
    by_journey = t.groupby("journey_id", sort=False)
    assert (by_journey["touch_index"].diff().dropna() == 1).all()
    assert (by_journey["visit_start"].diff().dropna() >= pd.Timedelta(0)).all()
    counts = by_journey.size()
    n_touches = j.journeys.set_index("journey_id")["n_touches"]
    assert (n_touches[n_touches > 0] == counts.reindex(n_touches[n_touches > 0].index)).all()
    longer = jr.build_journeys(tiny, "lead", lookback_days=30)
    assert len(longer.touches) > len(t)
    assert longer.journeys["converted"].sum() == j.journeys["converted"].sum()


def test_lead_journeys_match_an_independent_pandas_count(tiny_demo, tiny):
    # Touches per lead recomputed from the generator's tables with plain pandas.
    lookback = pd.Timedelta(days=10)
    visits = tiny_demo.tables["visits"]
    leads = tiny_demo.tables["leads"].dropna(subset=["visitor_id"])
    merged = leads[["lead_id", "visitor_id", "created_at"]].merge(
        visits[["visitor_id", "visit_start"]], on="visitor_id"
    )
    in_window = (merged["visit_start"] <= merged["created_at"]) & (
        merged["visit_start"] >= merged["created_at"] - lookback
    )
    expected = merged[in_window].groupby("lead_id").size()
    j = jr.build_journeys(tiny, "lead", lookback_days=10)
    got = j.journeys.dropna(subset=["conversion_id"]).set_index("conversion_id")["n_touches"]
    got = got[got > 0]
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, check_dtype=False
    )
    # non-converting: every visitor without a lead, once
    lead_visitors = set(leads["visitor_id"])
    nonconv = j.journeys[~j.journeys["converted"]]
    assert set(nonconv["visitor_id"]) == set(visits["visitor_id"]) - lead_visitors
    assert nonconv["visitor_id"].is_unique


def test_aggregate_paths_matches_a_plain_python_groupby(tiny):
    j = jr.build_journeys(tiny, "sale", lookback_days=30)
    per_journey = (
        j.touches.sort_values(["journey_id", "touch_index"])
        .groupby("journey_id")
        .agg(
            path=("channel", " > ".join), converted=("converted", "first"), value=("value", "first")
        )
    )
    expected = defaultdict(lambda: [0.0, 0.0, 0.0])
    for path, converted, value in per_journey.itertuples(index=False):
        expected[path][0] += converted
        expected[path][1] += not converted
        expected[path][2] += value
    got = paths_dict(j.paths)
    assert got == {k: tuple(v) for k, v in expected.items()}
    assert (j.paths["journeys"] == j.paths["conversions"] + j.paths["nulls"]).all()
    assert j.paths["path"].map(len).tolist() == j.paths["length"].tolist()


def test_aggregate_sequences_and_records():
    # journeys: a>b (conv 5.0), b (null), a>b (null), b (conv 2.0), a>b>a (conv 1.0)
    codes = np.array([0, 1, 1, 0, 1, 1, 0, 1, 0])
    lengths = np.array([2, 1, 2, 1, 3])
    converted = np.array([True, False, False, True, True])
    value = np.array([5.0, 9.0, 9.0, 2.0, 1.0])
    paths = jr.aggregate_sequences(codes, lengths, converted, value, ["a", "b"])
    assert paths_dict(paths) == {
        "a > b": (1.0, 1.0, 5.0),
        "b": (1.0, 1.0, 2.0),
        "a > b > a": (1.0, 0.0, 1.0),
    }
    records = jr.paths_from_records(
        [("a > b", 1, 1, 5.0), ("b", 1, 1, 2.0), (("a", "b", "a"), 1, 0)]
    )
    assert paths_dict(records) == paths_dict(paths)
    enc = jr.encode_paths(records)
    assert enc.channels == ("a", "b")
    assert enc.lengths.tolist() == [2, 1, 3]
    assert enc.position.tolist() == [0, 1, 0, 0, 1, 2]
    assert jr.aggregate_sequences(codes[:0], lengths[:0], converted[:0], value[:0], []).empty
