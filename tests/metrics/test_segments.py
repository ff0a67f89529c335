"""Tests for analytics.metrics.segments on a hand-made example (period June 2025).

spend: paid_search 30 000, paid_social 10 000 (no leads: not allocated), RUB
leads (channel, region, industry, size) and deals:
    L1 paid_search  Москва  IT      11-50   won 100 000
    L2 paid_search  Москва  Retail  1-10    mql -> lost
    L3 paid_search  (deal: Казань) IT 11-50 sql, open
    L4 organic      Казань  IT      51-250  won 300 000
    L5 no visit     (nothing anywhere) -> unknown, no deal
    L0 paid_search in May: outside
-> paid_search CPL = 30 000 / 3 = 10 000 RUB per lead; organic and undetermined 0.
by region:
    Казань: leads 2, MQL 2, SQL 2, sales 1, revenue 300 000, spend 10 000
    Москва: leads 2, MQL 2, SQL 1, sales 1, revenue 100 000, spend 20 000
    unknown: leads 1, nothing else
channels: paid_search ROMI (100 000 - 30 000) / 30 000 = 233.3%, paid_social -100%.
"""

from __future__ import annotations

import math
from datetime import date

import duckdb
import pandas as pd
import pytest
from funnel_fixture import fill as fill_funnel_fixture
from sql_oracle import assert_same_frame, old_segment_leads

from analytics import warehouse
from analytics.metrics import segments
from analytics.metrics.period import data_anchor, data_bounds, date_range, parse_period

PERIOD = date_range(date(2025, 6, 1), date(2025, 6, 30))
NAN = math.nan


def insert(con, table: str, rows: list[dict]) -> None:
    """Insert dict rows into a canonical table by column name."""
    con.register("rows_to_insert", pd.DataFrame(rows))
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM rows_to_insert")
    con.unregister("rows_to_insert")


LEADS = [
    # lead, visit, channel, region, industry, size, deal stage history, amount
    ("L1", "v1", "paid_search", "Москва", "IT", "11-50", ("new", "mql", "sql", "won"), 100_000.0),
    ("L2", "v2", "paid_search", "Москва", "Retail", "1-10", ("new", "mql", "lost"), None),
    ("L3", "v3", "paid_search", None, "IT", "11-50", ("new", "mql", "sql"), None),
    ("L4", "v4", "organic", "Казань", "IT", "51-250", ("new", "won"), 300_000.0),
    ("L5", None, None, None, None, None, None, None),
    ("L0", "v0", "paid_search", "Москва", "IT", "1-10", ("new", "won"), 1_000.0),
]


def fill(con) -> None:
    warehouse.init_schema(con)
    insert(
        con,
        "spend",
        [
            {
                "date": date(2025, 6, day),
                "channel": channel,
                "utm_source": "src",
                "utm_medium": "cpc",
                "campaign": f"{channel}_c",
                "ad_group": "g",
                "creative": "k",
                "impressions": 1000,
                "clicks": 10,
                "cost": cost,
            }
            for day, channel, cost in [
                (2, "paid_search", 20_000.0),
                (9, "paid_search", 10_000.0),
                (3, "paid_social", 10_000.0),
            ]
        ]
        + [
            {
                "date": date(2025, 5, 30),
                "channel": "paid_search",
                "utm_source": "src",
                "utm_medium": "cpc",
                "campaign": "old",
                "ad_group": "g",
                "creative": "k",
                "impressions": 1000,
                "clicks": 10,
                "cost": 99_999.0,
            }
        ],
    )
    insert(
        con,
        "visits",
        [
            {
                "visit_id": visit_id,
                "visitor_id": f"x{i}",
                "visit_start": pd.Timestamp("2025-05-31" if lead_id == "L0" else "2025-06-05"),
                "channel": channel,
                "pageviews": 1,
                "duration_s": 10,
                "goal_pricing": False,
            }
            for i, (lead_id, visit_id, channel, *_) in enumerate(LEADS)
            if visit_id
        ],
    )
    insert(
        con,
        "leads",
        [
            {
                "lead_id": lead_id,
                "visit_id": visit_id,
                "created_at": pd.Timestamp(
                    "2025-05-31 10:00" if lead_id == "L0" else "2025-06-05 10:00"
                ),
                "lead_type": "form",
                "region": region,
                "industry": industry,
                "company_size": size,
            }
            for lead_id, visit_id, _, region, industry, size, *_ in LEADS
        ],
    )
    deals, stages = [], []
    for lead_id, _, _, region, industry, size, history, amount in LEADS:
        if history is None:
            continue
        final = history[-1]
        deals.append(
            {
                "deal_id": "D" + lead_id[1:],
                "lead_id": lead_id,
                "created_at": pd.Timestamp("2025-06-05 11:00"),
                "status": final if final in ("won", "lost") else "open",
                "stage": final,
                "amount": amount,
                "region": region or "Казань",
                "industry": industry,
                "company_size": size,
            }
        )
        stages += [
            {"deal_id": "D" + lead_id[1:], "stage": s, "entered_at": pd.Timestamp("2025-06-06")}
            for s in history
        ]
    insert(con, "deals", deals)
    insert(con, "deal_stages", stages)


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    fill(connection)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def leads(con):
    return segments.segment_leads(con, PERIOD)


def test_segment_leads(leads):
    frame = leads.set_index("lead_id")
    assert sorted(frame.index) == ["L1", "L2", "L3", "L4", "L5"]
    assert frame.loc["L3", "region"] == "Казань"  # from the deal
    assert frame.loc["L5", "region"] == segments.UNKNOWN
    assert frame.loc["L5", "channel"] == "undetermined"
    assert frame["spend"].to_dict() == {
        "L1": 10_000.0,
        "L2": 10_000.0,
        "L3": 10_000.0,
        "L4": 0.0,
        "L5": 0.0,
    }


def test_segments_by_region_by_hand(leads):
    table = segments.segment_table(leads, "region")
    assert table["region"].tolist() == ["Казань", "Москва", segments.UNKNOWN]
    expected = {
        # leads, mql, sql, sales, revenue, spend, cr_lead_sale, cpl, cac, average_check, romi
        "Казань": (2, 2, 2, 1, 300_000.0, 10_000.0, 50.0, 5_000.0, 10_000.0, 300_000.0, 2_900.0),
        "Москва": (2, 2, 1, 1, 100_000.0, 20_000.0, 50.0, 10_000.0, 20_000.0, 100_000.0, 400.0),
        segments.UNKNOWN: (1, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, NAN, NAN, NAN),
    }
    columns = ["leads", "mql", "sql_leads", "sales", "revenue", "spend", "cr_lead_sale"]
    columns += ["cpl", "cac", "average_check", "romi"]
    for _, row in table.iterrows():
        for column, value in zip(columns, expected[row["region"]], strict=True):
            if math.isnan(value):
                assert math.isnan(row[column]), (row["region"], column)
            else:
                assert row[column] == pytest.approx(value), (row["region"], column)
    moscow = table.set_index("region").loc["Москва"]
    assert moscow["cr_lead_mql"] == pytest.approx(100.0)
    assert moscow["cr_mql_sql"] == pytest.approx(50.0)
    assert moscow["cr_sql_sale"] == pytest.approx(100.0)
    assert table["share_of_revenue"].tolist() == pytest.approx([75.0, 25.0, 0.0])


def test_segments_by_industry_and_size(leads):
    industry = segments.segment_table(leads, "industry").set_index("industry")
    assert industry.loc["IT", "leads"] == 3
    assert industry.loc["IT", "average_check"] == pytest.approx(200_000.0)
    assert industry.loc["IT", "cac"] == pytest.approx(10_000.0)
    size = segments.segment_table(leads, "company_size").set_index("company_size")
    assert size.loc["11-50", "cr_lead_sale"] == pytest.approx(50.0)
    with pytest.raises(ValueError, match="by must be"):
        segments.segment_table(leads, "manager")


def test_overview_stacks_every_dimension(leads):
    overview = segments.segments_overview(leads)
    assert list(overview["dimension"].unique()) == list(segments.DIMENSIONS)
    # allocated spend: 30 000 of paid_search; paid_social had no leads
    totals = overview.groupby("dimension")[["leads", "spend", "revenue"]].sum()
    assert (totals["leads"] == 5).all()
    assert totals["spend"].tolist() == pytest.approx([30_000.0] * 3)
    assert totals["revenue"].tolist() == pytest.approx([400_000.0] * 3)


def test_channel_profitability(con):
    table = segments.channel_profitability(con, PERIOD)
    assert table["channel"].tolist() == ["paid_search", "paid_social", "organic", "undetermined"]
    row = table.set_index("channel").loc["paid_search"]
    assert (row["spend"], row["revenue"], row["profit"]) == (30_000.0, 100_000.0, 70_000.0)
    assert row["romi"] == pytest.approx((100_000 - 30_000) / 30_000 * 100)
    assert row["drr"] == pytest.approx(30.0)
    social = table.set_index("channel").loc["paid_social"]
    assert social["romi"] == pytest.approx(-100.0)
    assert math.isnan(table.set_index("channel").loc["organic", "romi"])


def test_ibis_segment_leads_equal_the_old_sql(con, tiny_warehouse):
    """segment_leads (Ibis) gives the columns, order, dtypes and values of the DuckDB SQL
    (plus the pandas CPL allocation) it replaced (tests/sql_oracle.py), on this module's
    leads, on the funnel fixture's week and on the whole tiny demo year."""
    fixture = duckdb.connect()
    fill_funnel_fixture(fixture)
    tiny = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        tiny_period = parse_period("all", data_anchor(tiny), bounds=data_bounds(tiny))
        for db, period in (
            (con, PERIOD),
            (fixture, date_range(date(2025, 6, 2), date(2025, 6, 8))),
            (tiny, tiny_period),
        ):
            new = segments.segment_leads(db, period)
            assert len(new) > 0
            assert_same_frame(new, old_segment_leads(db, period))
        assert new["spend"].gt(0).any() and new["sales"].gt(0).any()
    finally:
        fixture.close()
        tiny.close()
