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


@pytest.fixture(scope="module")
def lead_journeys_10(tiny):
    """The tiny demo's lead journeys with a 10-day lookback, read by two tests."""
    return jr.build_journeys(tiny, "lead", lookback_days=10)


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


def test_touches_respect_lookback_and_order(tiny, lead_journeys_10):
    j = lead_journeys_10
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


def test_lead_journeys_match_an_independent_pandas_count(tiny_demo, lead_journeys_10):
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
    j = lead_journeys_10
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


# --------------------------------------------------------------------------- build_paths
# build_paths aggregates the paths in the engine (transforms.journey_paths); the oracle
# is the pandas aggregation it replaced on the attribution page (sql_oracle).


def assert_same_as_oracle(con, conversion, lookback_days, period, anchor="lead"):
    from sql_oracle import old_journey_paths

    new = jr.build_paths(con, conversion, lookback_days, period=period, anchor=anchor)
    paths, unattributed, touches = old_journey_paths(con, conversion, lookback_days, period, anchor)
    pd.testing.assert_frame_equal(new.paths, paths, check_exact=True)
    assert new.unattributed == unattributed
    converting = touches[touches["converted"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(new.touches, converting, check_exact=True)
    return new


@pytest.mark.parametrize(
    ("conversion", "lookback_days", "days", "anchor"),
    [
        ("sale", 30, ("2025-03-01", "2025-06-30"), "lead"),
        ("lead", 7.5, None, "lead"),
        ("mql", 0, ("2025-06-02", "2025-06-08"), "stage"),
        ("revenue", 30, ("2025-01-01", "2025-12-31"), "stage"),
    ],
)
def test_build_paths_equals_the_pandas_aggregation_on_the_tiny_demo(
    tiny, conversion, lookback_days, days, anchor
):
    period = None if days is None else parse_period(f"{days[0]}..{days[1]}", date(2026, 1, 1))
    new = assert_same_as_oracle(tiny, conversion, lookback_days, period, anchor)
    assert len(new.paths) > 5  # not a comparison of empty frames
    assert new.default_weight == ("value" if conversion == "revenue" else "conversions")


def test_build_paths_gives_the_same_credit_from_the_converting_touches(tiny):
    # Time decay reads the touches; non-converting journeys carry no amount, so the
    # credit of every model from build_paths equals the one from every touch.
    from analytics.attribution import compare_models

    period = parse_period("2025-03-01..2025-12-31", date(2026, 1, 1))
    old = jr.build_journeys(tiny, "sale", 30, period=period)
    new = jr.build_paths(tiny, "sale", 30, period=period)
    assert len(new.touches) < len(old.touches)
    for weight in ("conversions", "value"):
        pd.testing.assert_frame_equal(
            compare_models(new.paths, new.touches, weight=weight),
            compare_models(old.paths, old.touches, weight=weight),
            check_exact=True,
        )


@pytest.fixture(scope="module")
def ties():
    """The hand-made week plus visitor t: visits vt2 (organic) and vt1 (paid_social) both
    at 06-03 10:00, lead LT at 10:30 with deal DT won for 1 234.5 RUB."""
    con = duckdb.connect()
    fill(con)
    con.execute(
        "INSERT INTO visits (visit_id, visitor_id, visit_start, channel, pageviews,"
        " duration_s, goal_pricing, device) VALUES"
        " ('vt2', 't', '2025-06-03 10:00:00', 'organic', 1, 10, false, 'desktop'),"
        " ('vt1', 't', '2025-06-03 10:00:00', 'paid_social', 1, 10, false, 'desktop')"
    )
    con.execute(
        "INSERT INTO leads (lead_id, created_at, lead_type, visitor_id, visit_id)"
        " VALUES ('LT', '2025-06-03 10:30:00', 'form', 't', 'vt1')"
    )
    con.execute(
        "INSERT INTO deals (deal_id, lead_id, created_at, status, stage, amount, closed_at)"
        " VALUES ('DT', 'LT', '2025-06-03 11:00:00', 'won', 'won', 1234.5,"
        " '2025-06-03 12:00:00')"
    )
    yield con
    con.close()


def test_build_paths_of_the_hand_made_week_with_tied_visits(ties):
    # W23 sales, lookback 30 days (test_sale_journeys_carry_the_deal_amount) plus DT:
    # t's two visits start together, so visit_id orders them: vt1 paid_social, then vt2
    # organic. D1 (lead 06-02 09:05) is journey 0 with one touch, v1 at 09:00: 5 minutes
    # = 5 / 1440 days before; DT (10:30) is journey 1, both touches 30 min = 1/48 day
    # before; D4 has no visitor (unattributed 50 000).
    new = assert_same_as_oracle(ties, "sale", 30, W23)
    assert paths_dict(new.paths) == {
        "paid_search": (1.0, 0.0, 100_000.0),
        "paid_social > organic": (1.0, 0.0, 1_234.5),
        "paid_search > paid_social": (0.0, 1.0, 0.0),
        "paid_social": (0.0, 1.0, 0.0),
        "organic": (0.0, 2.0, 0.0),
    }
    assert new.unattributed == {"conversions": 1.0, "value": 50_000.0}
    t = new.touches
    assert t["journey_id"].tolist() == [0, 1, 1]
    assert t["visit_id"].tolist() == ["v1", "vt1", "vt2"]
    assert t["touch_index"].tolist() == [0, 0, 1]
    assert t["days_before"].tolist() == [5 / 1440, 1 / 48, 1 / 48]


def test_build_paths_of_an_empty_window_and_bad_arguments(ties):
    # No visit, lead or deal in 2024: no paths, nothing unattributed, no touches.
    empty = jr.build_paths(ties, "sale", 30, period=parse_period("2024-W23", date(2024, 6, 10)))
    assert empty.paths.empty and list(empty.paths.columns) == list(jr.PATH_COLUMNS)
    assert empty.unattributed == {"conversions": 0.0, "value": 0.0}
    assert empty.touches.empty
    with pytest.raises(ValueError, match="lookback_days must be >= 0"):
        jr.build_paths(ties, "sale", -1)
    with pytest.raises(ValueError, match="conversion must be one of"):
        jr.build_paths(ties, "purchase")


# --------------------------------------------------------------------------- conversions
# conversions() reads the visitor from stitching.stitched_visitors (only the visits of
# leads without a visitor are looked up); the oracle is the stitched_leads version.


def same_conversions(con, conversion, anchor):
    from sql_oracle import old_conversions

    from analytics.transforms.backends import duckdb_backend
    from analytics.transforms.touch_paths import conversions

    with duckdb_backend(con) as backend:
        new = backend.execute(conversions(backend, conversion, anchor))
        old = backend.execute(old_conversions(backend, conversion, anchor))
    new = new.sort_values("conversion_id", kind="stable").reset_index(drop=True)
    old = old.sort_values("conversion_id", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    return new


@pytest.mark.parametrize("conversion", ["lead", "mql", "sql", "sale", "revenue"])
@pytest.mark.parametrize("anchor", ["lead", "stage"])
def test_conversions_equal_the_stitched_leads_version_on_the_tiny_demo(tiny, conversion, anchor):
    new = same_conversions(tiny, conversion, anchor)
    assert len(new) > 5 and new["visitor_id"].notna().any()


@pytest.fixture(scope="module")
def anonymous():
    """The hand-made week plus four leads on 06-03: LA without a visitor but with visit
    v4 (visitor c), LB without a visitor and a visit missing from ``visits``, LC with
    visitor x and visit v1 (visitor a), LD with neither."""
    con = duckdb.connect()
    fill(con)
    con.execute(
        "INSERT INTO leads (lead_id, created_at, lead_type, visitor_id, visit_id) VALUES"
        " ('LA', '2025-06-03 10:00:00', 'form', NULL, 'v4'),"
        " ('LB', '2025-06-03 10:00:00', 'form', NULL, 'v_none'),"
        " ('LC', '2025-06-03 10:00:00', 'form', 'x', 'v1'),"
        " ('LD', '2025-06-03 10:00:00', 'call', NULL, NULL)"
    )
    yield con
    con.close()


def test_conversions_take_the_visit_s_visitor_only_for_leads_without_one(anonymous):
    # By hand: LA -> c (its visit v4's visitor), LB -> NULL (visit unknown), LC -> x (its
    # own visitor wins over v1's a), LD -> NULL; the fixture's L4 (no visit) -> NULL, L6
    # (own z, visit missing) -> z.
    leads = same_conversions(anonymous, "lead", "lead").set_index("conversion_id")
    visitor = leads["visitor_id"].to_dict()
    assert {k: visitor[k] for k in ("LA", "LC", "L6")} == {"LA": "c", "LC": "x", "L6": "z"}
    assert all(pd.isna(visitor[k]) for k in ("LB", "LD", "L4"))
    same_conversions(anonymous, "sale", "stage")
