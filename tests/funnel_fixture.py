"""A tiny hand-made warehouse whose funnel is computed by hand below.

The report week is ISO week 2025-W23 (Mon 2025-06-02 .. Sun 2025-06-08); the last
visit is on Tue 2025-06-10, so ``last-week`` resolves to 2025-W23.

Week 2025-W23 by hand
---------------------
spend: paid_search 10 000 + 5 000, paid_social 6 000 -> 21 000 RUB
visits: v1 v2 v3 (paid_search; visitors a, a, b), v4 v9 (paid_social; c, b),
        v5 v6 (organic; d, e; v6 at Sun 23:30) -> 7 visits, 5 visitors
leads (deal, stage history):
    L1 form  v1 paid_search  D1 new mql sql demo proposal won, 100 000  -> MQL SQL sale
    L2 call  v3 paid_search  D2 new mql lost (amount 30 000)           -> MQL
    L3 chat  v4 paid_social  D3 new mql sql, open (40 000)             -> MQL SQL
    L4 call  no visit        D4 new won, 50 000                        -> MQL SQL sale
    L5 form  v5 organic      no deal
    L6 form  visit not in visits (Sun 23:59:59)  D6 new                -> lead only
-> leads 6 (form 3, call 2, chat 1), MQL 4, SQL 3, sales 2, revenue 150 000 RUB

Booked in W23 (deals by the day they are won: ``closed_at`` = created + one hour per
history step after the first): D1 won Mon 06-02 15:00 (100 000), D4 won Fri 06-06 17:00
(50 000), DX won Tue 06-03 10:00 (777, no lead: channel undetermined); D2 lost Wed 06-04
14:00 -> booked revenue 150 777 RUB, sales 3, spend 21 000, ROMI = (150 777 − 21 000) /
21 000 × 100 = 617.9857 %, CAC = 21 000 / 3 = 7 000, ДРР = 21 000 / 150 777 × 100 =
13.9278 %, average deal 50 259; win rate = 3 won / 4 closed = 75 %.
By channel (a deal's channel is its lead's visit's): paid_search revenue 100 000, sales 1,
spend 15 000, ROMI 566.67 %, CAC 15 000; paid_social revenue 0, spend 6 000, ROMI −100 %,
CAC undefined (no sale); undetermined revenue 50 777, sales 2, no spend (ROMI undefined).
Previous week W22 (05-26..06-01, data start Fri 05-30): D0 won Sat 05-31 16:00 (20 000),
spend 3 000 -> ROMI 566.67 %, CAC 3 000. The same week a year earlier (2024-W23) has no data.

Outside the week (must not count in W23): spend 3 000 on Fri 05-30 and 7 000 on
Mon 06-09; visit v0 (05-31), v7 (Mon 06-09 00:00), v8 (06-10); lead L0 (Sat 05-31,
its deal D0 won 20 000) and L7 (Mon 06-09 00:00, D7 won 999); deal DX
without a lead, won 777 in W23.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from analytics.warehouse.schema import CANONICAL, QUARANTINE_DDL

ANCHOR = "2025-06-10"
WEEK = "2025-W23"

SUMMARY_W23 = {
    "spend": 21_000.0,
    "visits": 7,
    "visitors": 5,
    "leads": 6,
    "leads_form": 3,
    "leads_call": 2,
    "leads_chat": 1,
    "mql": 4,
    "sql_leads": 3,
    "sales": 2,
    "revenue": 150_000.0,
    "cr_visit_lead": 6 / 7 * 100,
    "cr_lead_mql": 4 / 6 * 100,
    "cr_mql_sql": 3 / 4 * 100,
    "cr_sql_sale": 2 / 3 * 100,
    "cpl": 3_500.0,
    "cost_per_mql": 5_250.0,
    "cost_per_sql": 7_000.0,
    "cac": 10_500.0,
    "drr": 14.0,
    "romi": (150_000 - 21_000) / 21_000 * 100,
}

NAN = math.nan
BY_CHANNEL_W23 = {
    # channel: spend, visits, visitors, leads, mql, sql_leads, sales, revenue, cac, drr, romi
    "paid_search": (15_000.0, 3, 2, 2, 2, 1, 1, 100_000.0, 15_000.0, 15.0, 85_000 / 15_000 * 100),
    "paid_social": (6_000.0, 2, 2, 1, 1, 1, 0, 0.0, NAN, NAN, -100.0),
    "organic": (0.0, 2, 2, 1, 0, 0, 0, 0.0, NAN, NAN, NAN),
    "undetermined": (0.0, 0, 0, 2, 1, 1, 1, 50_000.0, 0.0, 0.0, NAN),
}


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


SPEND = [
    ("2025-05-30", "paid_search", 3_000.0),
    ("2025-06-02", "paid_search", 10_000.0),
    ("2025-06-03", "paid_social", 6_000.0),
    ("2025-06-05", "paid_search", 5_000.0),
    ("2025-06-09", "paid_search", 7_000.0),
]
VISITS = [
    ("v0", "h", "2025-05-31 12:00:00", "paid_search"),
    ("v1", "a", "2025-06-02 09:00:00", "paid_search"),
    ("v2", "a", "2025-06-03 10:00:00", "paid_search"),
    ("v3", "b", "2025-06-04 11:00:00", "paid_search"),
    ("v4", "c", "2025-06-05 12:00:00", "paid_social"),
    ("v5", "d", "2025-06-06 13:00:00", "organic"),
    ("v6", "e", "2025-06-08 23:30:00", "organic"),
    ("v9", "b", "2025-06-07 14:00:00", "paid_social"),
    ("v7", "f", "2025-06-09 00:00:00", "paid_search"),
    ("v8", "g", "2025-06-10 08:00:00", "organic"),
]
LEADS = [
    # lead_id, created_at, lead_type, visitor_id, visit_id
    ("L0", "2025-05-31 12:10:00", "form", "h", "v0"),
    ("L1", "2025-06-02 09:05:00", "form", "a", "v1"),
    ("L2", "2025-06-04 11:05:00", "call", "b", "v3"),
    ("L3", "2025-06-05 12:05:00", "chat", "c", "v4"),
    ("L4", "2025-06-06 15:00:00", "call", None, None),
    ("L5", "2025-06-06 13:05:00", "form", "d", "v5"),
    ("L6", "2025-06-08 23:59:59", "form", "z", "v_missing"),
    ("L7", "2025-06-09 00:00:00", "form", "f", "v7"),
]
DEALS = [
    # deal_id, lead_id, created_at, status, stage, amount, history
    ("D0", "L0", "2025-05-31 13:00:00", "won", "won", 20_000.0, ("new", "mql", "sql", "won")),
    (
        "D1",
        "L1",
        "2025-06-02 10:00:00",
        "won",
        "won",
        100_000.0,
        ("new", "mql", "sql", "demo", "proposal", "won"),
    ),
    ("D2", "L2", "2025-06-04 12:00:00", "lost", "lost", 30_000.0, ("new", "mql", "lost")),
    ("D3", "L3", "2025-06-05 13:00:00", "open", "sql", 40_000.0, ("new", "mql", "sql")),
    ("D4", "L4", "2025-06-06 16:00:00", "won", "won", 50_000.0, ("new", "won")),
    ("D6", "L6", "2025-06-08 23:59:59", "open", "new", None, ("new",)),
    ("D7", "L7", "2025-06-09 01:00:00", "won", "won", 999.0, ("new", "won")),
    ("DX", None, "2025-06-03 09:00:00", "won", "won", 777.0, ("new", "won")),
]


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the canonical tables (and quarantine) on ``con``."""
    for table in CANONICAL.values():
        con.execute(table.ddl())
    con.execute(QUARANTINE_DDL)


def fill(con: duckdb.DuckDBPyConnection) -> None:
    """Create the canonical tables and insert the hand-made rows."""
    create_tables(con)
    for day, channel, cost in SPEND:
        con.execute(
            "INSERT INTO spend (date, channel, utm_source, utm_medium, campaign, ad_group,"
            " creative, impressions, clicks, cost) VALUES (?, ?, 'src', 'cpc', ?, 'g', 'c',"
            " 1000, 10, ?)",
            [day, channel, f"{channel}-{day}", cost],
        )
    for visit_id, visitor_id, start, channel in VISITS:
        con.execute(
            "INSERT INTO visits (visit_id, visitor_id, visit_start, channel, pageviews,"
            " duration_s, goal_pricing, device) VALUES (?, ?, ?, ?, 3, 60, false, 'desktop')",
            [visit_id, visitor_id, _ts(start), channel],
        )
    for lead_id, created, lead_type, visitor_id, visit_id in LEADS:
        con.execute(
            "INSERT INTO leads (lead_id, created_at, lead_type, visitor_id, visit_id)"
            " VALUES (?, ?, ?, ?, ?)",
            [lead_id, _ts(created), lead_type, visitor_id, visit_id],
        )
    for deal_id, lead_id, created, status, stage, amount, history in DEALS:
        # a won or lost deal closes when its history enters the last stage (one hour a step)
        closed = _ts(created) + timedelta(hours=len(history) - 1)
        con.execute(
            "INSERT INTO deals (deal_id, lead_id, created_at, status, stage, amount, closed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                deal_id,
                lead_id,
                _ts(created),
                status,
                stage,
                amount,
                closed if status in ("won", "lost") else None,
            ],
        )
        for hours, history_stage in enumerate(history):
            con.execute(
                "INSERT INTO deal_stages VALUES (?, ?, ?::TIMESTAMP + to_hours(?))",
                [deal_id, history_stage, _ts(created), hours],
            )


def build_warehouse(path: Path) -> Path:
    """Write the hand-made warehouse to a DuckDB file at ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        fill(con)
    finally:
        con.close()
    return path
