"""Tests for analytics.metrics.influence on a hand-made example (period June 2025).

paths (paid touches as campaign/ad group) and sales:
    a: 06-01 C1/G1, 06-03 C1/G2, 06-05 organic; lead 06-05 -> won 100 000
       last paid C1/G2 (direct), C1/G1 assisted
    b: 06-02 C2/G1, 06-04 C1/G1, 06-04 C1/G1 again; lead 06-06 -> won 50 000
       last paid C1/G1 (direct, counted once), C2/G1 assisted (same term, other campaign)
    c: organic only; lead -> won 70 000: no paid touch, left out
    d: 06-03 C1/G2; lead -> lost: not a sale
    e: 05-01 C2/G1 (35 days before the lead), 06-05 C1/G1, lead 06-05 12:00 through
       visit v_e2 only (no visitor id) -> won 30 000 by current stage (history only
       "new"); 06-07 C2/G3 is after the lead and does not count
    f: lead 05-20 (before the period) -> won: outside
-> ad groups: C1/G1 direct 2 (80 000), assisted 1 (100 000);
              C2/G1 direct 0, assisted 2 (80 000); C1/G2 direct 1 (100 000)
   with a 30-day lookback (the default) C2/G1 assists b only.
   campaigns: C1 direct 3 (180 000); C2 assisted 2 (80 000).
"""

from __future__ import annotations

import math
from datetime import date

import duckdb
import pandas as pd
import pytest
from sql_oracle import assert_same_frame, old_sale_touches

from analytics import warehouse
from analytics.metrics import influence
from analytics.metrics.period import data_anchor, data_bounds, date_range, parse_period

PERIOD = date_range(date(2025, 6, 1), date(2025, 6, 30))


def insert(con, table: str, rows: list[dict]) -> None:
    """Insert dict rows into a canonical table by column name."""
    con.register("rows_to_insert", pd.DataFrame(rows))
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM rows_to_insert")
    con.unregister("rows_to_insert")


VISITS = [
    # visit, visitor, start, campaign, ad group
    ("v_a1", "a", "2025-06-01 10:00", "C1", "G1"),
    ("v_a2", "a", "2025-06-03 10:00", "C1", "G2"),
    ("v_a3", "a", "2025-06-05 10:00", None, None),
    ("v_b1", "b", "2025-06-02 10:00", "C2", "G1"),
    ("v_b2", "b", "2025-06-04 10:00", "C1", "G1"),
    ("v_b3", "b", "2025-06-04 11:00", "C1", "G1"),
    ("v_c1", "c", "2025-06-02 10:00", None, None),
    ("v_d1", "d", "2025-06-03 10:00", "C1", "G2"),
    ("v_e1", "e", "2025-05-01 10:00", "C2", "G1"),
    ("v_e2", "e", "2025-06-05 10:00", "C1", "G1"),
    ("v_e3", "e", "2025-06-07 10:00", "C2", "G3"),
    ("v_f1", "f", "2025-05-19 10:00", "C1", "G1"),
]
LEADS = [
    # lead, visitor, visit, created, deal status, stage, amount
    ("La", "a", "v_a3", "2025-06-05 10:05", "won", "won", 100_000.0),
    ("Lb", "b", "v_b3", "2025-06-06 10:00", "won", "won", 50_000.0),
    ("Lc", "c", "v_c1", "2025-06-02 10:05", "won", "won", 70_000.0),
    ("Ld", "d", "v_d1", "2025-06-03 10:05", "lost", "lost", None),
    ("Le", None, "v_e2", "2025-06-05 12:00", "won", "won", 30_000.0),
    ("Lf", "f", "v_f1", "2025-05-20 10:00", "won", "won", 9_000.0),
]


def fill(con) -> None:
    warehouse.init_schema(con)
    insert(
        con,
        "visits",
        [
            {
                "visit_id": v,
                "visitor_id": who,
                "visit_start": pd.Timestamp(t),
                "channel": "paid" if campaign else "organic",
                "utm_campaign": campaign,
                "utm_term": term,
                "pageviews": 1,
                "duration_s": 10,
                "goal_pricing": False,
            }
            for v, who, t, campaign, term in VISITS
        ],
    )
    insert(
        con,
        "leads",
        [
            {
                "lead_id": lead_id,
                "visitor_id": who,
                "visit_id": v,
                "created_at": pd.Timestamp(t),
                "lead_type": "form",
            }
            for lead_id, who, v, t, *_ in LEADS
        ],
    )
    insert(
        con,
        "deals",
        [
            {
                "deal_id": "D" + lead_id[1:],
                "lead_id": lead_id,
                "created_at": pd.Timestamp(t) + pd.Timedelta(hours=1),
                "status": status,
                "stage": stage,
                "amount": amount,
            }
            for lead_id, _, _, t, status, stage, amount in LEADS
        ],
    )
    insert(
        con,
        "deal_stages",
        [
            {"deal_id": "D" + lead_id[1:], "stage": "new", "entered_at": pd.Timestamp(t)}
            for lead_id, _, _, t, *_ in LEADS
        ],
    )


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    fill(connection)
    yield connection
    connection.close()


def rows(table, keys):
    columns = [
        "direct_sales",
        "assisted_sales",
        "influenced_sales",
        "direct_revenue",
        "assisted_revenue",
    ]
    return {tuple(r[k] for k in keys): tuple(r[c] for c in columns) for _, r in table.iterrows()}


def test_ad_group_influence_by_hand(con):
    table = influence.influence(con, PERIOD, lookback_days=None)
    assert list(table.columns[:2]) == ["campaign", "ad_group"]
    assert rows(table, ["campaign", "ad_group"]) == {
        ("C1", "G1"): (2, 1, 3, 80_000.0, 100_000.0),
        ("C2", "G1"): (0, 2, 2, 0.0, 80_000.0),
        ("C1", "G2"): (1, 0, 1, 100_000.0, 0.0),
    }
    # sorted by influenced, then direct sales
    assert list(zip(table["campaign"], table["ad_group"], strict=True)) == [
        ("C1", "G1"),
        ("C2", "G1"),
        ("C1", "G2"),
    ]
    assert table["influenced_revenue"].tolist() == [180_000.0, 80_000.0, 100_000.0]
    assert table.loc[0, "assist_ratio"] == pytest.approx(0.5)
    assert math.isnan(table.loc[1, "assist_ratio"])
    # direct sales add up to the sales with a paid touch (a, b, e)
    assert table["direct_sales"].sum() == 3


def test_lookback_window(con):
    table = influence.influence(con, PERIOD, lookback_days=30)
    assert rows(table, ["campaign", "ad_group"])[("C2", "G1")] == (0, 1, 1, 0.0, 50_000.0)
    pd.testing.assert_frame_equal(influence.influence(con, PERIOD), table)  # default 30 days
    with pytest.raises(ValueError, match="lookback_days"):
        influence.influence(con, PERIOD, lookback_days=-1)


def test_campaign_influence_by_hand(con):
    table = influence.influence(con, PERIOD, level="campaign", lookback_days=None)
    assert list(table.columns[:2]) == ["campaign", "direct_sales"]
    assert rows(table, ["campaign"]) == {
        ("C1",): (3, 0, 3, 180_000.0, 0.0),
        ("C2",): (0, 2, 2, 0.0, 80_000.0),
    }
    with pytest.raises(ValueError, match="level"):
        influence.influence(con, PERIOD, level="creative")


def test_touches_of_a_sale(con):
    touches = influence.sale_touches(con, PERIOD, lookback_days=None)
    lead_e = touches[touches["deal_id"] == "De"]
    assert sorted(lead_e["campaign"]) == ["C1", "C2"]  # v_e3 after the lead is not a touch
    assert lead_e.loc[lead_e["last_paid"], "campaign"].tolist() == ["C1"]
    assert touches.groupby("deal_id")["last_paid"].sum().eq(1).all()


def test_no_sales_gives_an_empty_table(con):
    empty = influence.influence(con, date_range(date(2025, 7, 1), date(2025, 7, 31)))
    assert empty.empty
    assert "direct_sales" in empty.columns


def test_long_form_for_a_bar_chart(con):
    table = influence.influence(con, PERIOD, lookback_days=None)
    long = influence.influence_long(table)
    assert len(long) == 2 * len(table)
    assert long.loc[long["group"] == "C2 / G1"].set_index("influence")["value"].to_dict() == {
        "direct": 0.0,
        "assisted": 2.0,
    }
    campaigns = influence.influence_long(
        influence.influence_table(
            influence.sale_touches(con, PERIOD, lookback_days=None), "campaign"
        ),
        "revenue",
    )
    assert campaigns.set_index(["group", "influence"]).loc[("C1", "direct"), "value"] == 180_000.0


@pytest.mark.parametrize("lookback_days", [30, 3, None])
def test_ibis_sale_touches_equal_the_old_sql(con, tiny_warehouse, lookback_days):
    """sale_touches (Ibis) gives the columns, dtypes and rows of the DuckDB SQL it replaced
    (tests/sql_oracle.py; that SQL had no ORDER BY, so rows are compared sorted), on this
    module's sales and on the whole tiny demo year."""
    tiny = duckdb.connect(str(tiny_warehouse), read_only=True)
    keys = ["deal_id", "campaign", "ad_group", "last_paid"]
    try:
        tiny_period = parse_period("all", data_anchor(tiny), bounds=data_bounds(tiny))
        for db, period in ((con, PERIOD), (tiny, tiny_period)):
            new = influence.sale_touches(db, period, lookback_days)
            old = old_sale_touches(db, period, lookback_days)
            assert len(new) > 0
            assert_same_frame(
                new.sort_values(keys, ignore_index=True), old.sort_values(keys, ignore_index=True)
            )
            assert new.groupby("deal_id")["last_paid"].sum().eq(1).all()
    finally:
        tiny.close()
