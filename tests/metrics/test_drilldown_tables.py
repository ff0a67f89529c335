"""The drill-down of every depth and both periods from one query (drilldown_tables).

Hand-made warehouse: tests/funnel_fixture.py (its visits carry no UTM) plus rows with
UTM values, W23 = 2025-06-02..08 and the previous week W22 = 05-26..06-01:

visits   u1 06-03 paid_search C1 / G1 / K1
         u2 06-04 paid_search C1 / G1 / "" (empty creative -> undetermined)
         u3 05-28 paid_search C1 / G2 / K2 (W22)
leads    M1 06-03 visit u1 -> E1 won 06-03 (1 000)
         M2 05-28 visit u3 -> E2 created 05-28, won 06-04 (500): cohort W22, booked W23
         M3 06-04 visit u2, no deal
         (each lead's own utm_* columns as its visit's)
spend    06-03 paid_search C1 G1 K1 100.5; 05-29 paid_search C1 G2 K2 40.25

W23, campaign (paid_search, C1): spend 100.5, visits 2, leads 2 (M1, M3), MQL 1, SQL 1,
sales 1, revenue 1 000, booked 2 sales (E1, E2) 1 500 RUB; W22: spend 40.25, visits 1,
leads 1 (M2), sales 1, revenue 500, booked 0 -> spend change (100.5 - 40.25) / 40.25 x 100
= 149.689 %, leads +100 %, booked sales: previous 0 -> change undefined (NaN).
W23, creative: (C1, G1, K1) spend 100.5, visits 1, lead M1, sales 1, revenue 1 000,
booked 1 / 1 000; (C1, G1, undetermined) visits 1, lead M3; (C1, G2, K2) booked E2 500,
no spend, visit or lead in W23 (W22: spend 40.25, visits 1, lead M2, revenue 500).
"""

from __future__ import annotations

import math
from datetime import date

import duckdb
import pandas as pd
import pytest
from funnel_fixture import fill
from sql_oracle import old_drilldown, old_ibis_drilldown, old_ibis_drilldown_with_change

from analytics.metrics.definitions import DEFAULT_DEFINITIONS, Definitions, load_definitions
from analytics.metrics.drilldown import drilldown, drilldown_tables
from analytics.metrics.period import date_range, iso_week
from analytics.transforms import duckdb_backend, hierarchy_figures

W23 = iso_week(2025, 23)


def _utm_rows(con) -> None:
    for visit_id, start, campaign, term, content in [
        ("u1", "2025-06-03 10:00:00", "C1", "G1", "K1"),
        ("u2", "2025-06-04 10:00:00", "C1", "G1", ""),
        ("u3", "2025-05-28 10:00:00", "C1", "G2", "K2"),
    ]:
        con.execute(
            "INSERT INTO visits (visit_id, visitor_id, visit_start, channel, utm_campaign,"
            " utm_term, utm_content, pageviews, duration_s, goal_pricing, device)"
            " VALUES (?, ?, ?::TIMESTAMP, 'paid_search', ?, ?, ?, 2, 30, false, 'mobile')",
            [visit_id, f"x{visit_id}", start, campaign, term, content],
        )
    # the lead's own UTM columns as its visit's (as the demo generator and the trackers
    # write them)
    for lead_id, created, visit_id, term, content in [
        ("M1", "2025-06-03 10:05:00", "u1", "G1", "K1"),
        ("M2", "2025-05-28 10:05:00", "u3", "G2", "K2"),
        ("M3", "2025-06-04 10:05:00", "u2", "G1", ""),
    ]:
        con.execute(
            "INSERT INTO leads (lead_id, created_at, lead_type, visitor_id, visit_id,"
            " utm_campaign, utm_term, utm_content)"
            " VALUES (?, ?::TIMESTAMP, 'form', ?, ?, 'C1', ?, ?)",
            [lead_id, created, f"x{visit_id}", visit_id, term, content],
        )
    for deal_id, lead_id, created, closed, amount in [
        ("E1", "M1", "2025-06-03 11:00:00", "2025-06-03 14:00:00", 1_000.0),
        ("E2", "M2", "2025-05-28 11:00:00", "2025-06-04 09:00:00", 500.0),
    ]:
        con.execute(
            "INSERT INTO deals (deal_id, lead_id, created_at, status, stage, amount, closed_at)"
            " VALUES (?, ?, ?::TIMESTAMP, 'won', 'won', ?, ?::TIMESTAMP)",
            [deal_id, lead_id, created, amount, closed],
        )
        for stage, at in [("new", created), ("mql", created), ("sql", created), ("won", closed)]:
            con.execute("INSERT INTO deal_stages VALUES (?, ?, ?::TIMESTAMP)", [deal_id, stage, at])
    for day, ad_group, creative, cost in [
        ("2025-06-03", "G1", "K1", 100.5),
        ("2025-05-29", "G2", "K2", 40.25),
    ]:
        con.execute(
            "INSERT INTO spend (date, channel, utm_source, utm_medium, campaign, ad_group,"
            " creative, impressions, clicks, cost)"
            " VALUES (?, 'paid_search', 'src', 'cpc', 'C1', ?, ?, 100, 5, ?)",
            [day, ad_group, creative, cost],
        )


@pytest.fixture(scope="module")
def hand():
    con = duckdb.connect()
    fill(con)
    _utm_rows(con)
    yield con
    con.close()


@pytest.fixture(scope="module")
def tiny(tiny_warehouse):
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    yield con
    con.close()


def test_campaign_and_creative_rows_by_hand(hand):
    tables = drilldown_tables(hand, W23)
    assert set(tables) == {"campaign", "creative"}
    row = tables["campaign"].set_index(["channel", "campaign"]).loc[("paid_search", "C1")]
    assert row[["spend", "visits", "leads", "mql", "sql_leads", "sales"]].tolist() == [
        100.5,
        2,
        2,
        1,
        1,
        1,
    ]
    assert (row["revenue"], row["sales_booked"], row["revenue_booked"]) == (1_000.0, 2, 1_500.0)
    assert (row["spend_previous"], row["leads_previous"], row["revenue_previous"]) == (
        40.25,
        1.0,
        500.0,
    )
    assert row["spend_change"] == pytest.approx((100.5 - 40.25) / 40.25 * 100)
    assert row["leads_change"] == 100.0
    assert row["sales_booked_previous"] == 0.0 and math.isnan(row["sales_booked_change"])

    ads = tables["creative"].set_index(["channel", "campaign", "ad_group", "creative"])
    k1 = ads.loc[("paid_search", "C1", "G1", "K1")]
    assert k1[["spend", "visits", "leads", "sales", "revenue"]].tolist() == [
        100.5,
        1,
        1,
        1,
        1_000.0,
    ]
    assert (k1["sales_booked"], k1["revenue_booked"]) == (1, 1_000.0)
    empty = ads.loc[("paid_search", "C1", "G1", "undetermined")]
    assert (empty["visits"], empty["leads"], empty["spend"], empty["sales_booked"]) == (1, 1, 0, 0)
    g2 = ads.loc[("paid_search", "C1", "G2", "K2")]
    assert (g2["spend"], g2["visits"], g2["leads"], g2["sales_booked"]) == (0.0, 0, 0, 1)
    assert (g2["revenue_booked"], g2["spend_previous"], g2["leads_previous"]) == (
        500.0,
        40.25,
        1.0,
    )
    assert math.isnan(g2["cpl"]) and g2["revenue_previous"] == 500.0


def assert_same_tables(con, period, definitions) -> int:
    """drilldown_tables of both depths against the frozen per-depth queries, exactly."""
    tables = drilldown_tables(con, period, ("campaign", "creative"), definitions)
    rows = 0
    for depth, new in tables.items():
        old = old_ibis_drilldown_with_change(con, period, depth, definitions)
        pd.testing.assert_frame_equal(new, old, check_exact=True)
        rows += len(new)
    return rows


@pytest.mark.parametrize("db", ["hand", "tiny"])
def test_one_query_equals_the_frozen_per_depth_queries(db, request):
    """Both depths, the period and the previous one, on the hand-made warehouse (W23; an
    empty year) and the tiny demo (a month, the MQL rules): the frames of
    the four queries per page the marketing notebook ran before (tests/sql_oracle.py)."""
    con = request.getfixturevalue(db)
    shipped = load_definitions()
    rules = Definitions(mql_method="rules", rules=shipped.rules, non_target=shipped.non_target)
    if db == "hand":
        cases = [
            (W23, DEFAULT_DEFINITIONS),
            (date_range(date(2019, 1, 1), date(2019, 12, 31)), None),
        ]
    else:
        cases = [(date_range(date(2025, 5, 1), date(2025, 5, 31)), rules)]
    rows = [assert_same_tables(con, period, definitions) for period, definitions in cases]
    assert rows[0] >= 10


def test_single_depth_drilldown_equals_the_frozen_query(hand):
    """The one-period drill-down at the two depths the page does not use."""
    for depth in ("channel", "ad_group"):
        new = drilldown(hand, W23, depth)
        pd.testing.assert_frame_equal(new, old_ibis_drilldown(hand, W23, depth), check_exact=True)
        assert len(new) >= 4


def test_bad_depths_and_windows(hand):
    with duckdb_backend(hand) as backend:
        windows = [(W23.start, W23.end_exclusive)]
        with pytest.raises(ValueError, match="depth must be one of"):
            hierarchy_figures(backend, windows, ["keyword"], DEFAULT_DEFINITIONS)
        with pytest.raises(ValueError, match="depths must be distinct levels"):
            hierarchy_figures(backend, windows, ["campaign", "campaign"], DEFAULT_DEFINITIONS)
        with pytest.raises(ValueError, match="at least one"):
            hierarchy_figures(backend, [], ["campaign"], DEFAULT_DEFINITIONS)


def test_ad_group_and_creative_of_a_lead_are_its_visits(hand):
    """The fix of note 38: a lead whose own row lost its UTM (M1's ``utm_term`` and
    ``utm_content`` emptied) still counts under its visit's ad group and creative (u1: G1 /
    K1), as the module docstrings and the drill-down's SQL before the Ibis port
    (``old_drilldown``) say; the frozen Ibis query read the lead's own columns (a join
    name clash) and put M1 under (C1, undetermined, undetermined). Equal on the demo data,
    whose leads carry their visit's UTM (0 of 81,318 differ at 10M visits)."""
    con = duckdb.connect()
    fill(con)
    _utm_rows(con)
    con.execute("UPDATE leads SET utm_term = NULL, utm_content = NULL WHERE lead_id = 'M1'")
    try:
        keys = ["channel", "campaign", "ad_group", "creative"]
        new = drilldown_tables(con, W23, ("creative",))["creative"].set_index(keys)
        assert new.loc[("paid_search", "C1", "G1", "K1"), "leads"] == 1
        assert ("paid_search", "C1", "undetermined", "undetermined") not in new.index
        sql = old_drilldown(con, W23, "creative").set_index(keys)
        assert new["leads"].sort_index().equals(sql["leads"].sort_index())
        frozen = old_ibis_drilldown(con, W23, "creative").set_index(keys)
        assert frozen.loc[("paid_search", "C1", "undetermined", "undetermined"), "leads"] == 1
    finally:
        con.close()
