"""The loader's fast routes give the warehouse the slow routes gave.

* A Parquet column stored with its declared type (``visit_start`` TIMESTAMP,
  ``pageviews`` BIGINT, ``cost`` DOUBLE, ...) is checked without casting it to
  text and back. Reference: the same values written as text columns, which go
  the text route, plus the reasons hand-written below (what a text value such
  as ``'infinity'`` or ``'10000-01-01'`` is refused for).
* A first load into an empty table inserts straight from the checked rows,
  without a sort. Reference: the file's own row order (the rows were written
  out of key order on purpose).
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd
import pytest

from analytics import warehouse as wh
from analytics.warehouse import load as wh_load
from analytics.warehouse.schema import CANONICAL

SALT = "test-salt"
NOW = datetime(2024, 6, 1, 12, 0)

VISITS_SQL = """
    SELECT * FROM (VALUES
        (1, 'v3', 'c1', TIMESTAMP '2024-05-01 10:00:00', 'direct', 4::BIGINT, 30::BIGINT, true,
            'desktop'),
        (2, 'v1', 'c1', TIMESTAMP '2024-05-01 10:00:00.123457', ' organic' || chr(9), 1, 0,
            false, ' mobile '),
        (3, 'v2', 'c2', 'infinity'::TIMESTAMP, 'direct', 2, 5, true, 'desktop'),
        (4, 'v9', 'c2', TIMESTAMP '9999-12-31 23:59:59.999999' + INTERVAL 1 microsecond,
            'direct', 2, 5, true, 'desktop'),
        (5, 'v8', 'c3', make_timestamp(-43, 3, 15, 10, 0, 0), 'direct', 2, 5, true, NULL),
        (6, 'v7', 'c3', make_timestamp(-9999, 1, 1, 0, 0, 0), 'direct', 2, 5, true, NULL),
        (7, 'v6', 'c3', TIMESTAMP '2030-01-01 00:00:00', 'direct', 2, 5, true, NULL),
        (8, 'v5', 'c4', NULL, 'direct', 0, -1, NULL, 'tv'),
        (9, 'v3', 'c4', TIMESTAMP '2024-05-02 08:00:00', 'direct', 1, 1, false, 'tablet'),
        (10, 'v4', 'c4', TIMESTAMP '2024-05-02 09:00:00', 'direct', 3, 1, false, NULL)
    ) t(n, visit_id, visitor_id, visit_start, channel, pageviews, duration_s, goal_pricing,
        device)
"""
"""Hand-made visits, out of key order: v3, v1, v4 load; the rest are quarantined."""

VISITS_REASONS = [
    (3, "visit_start", "visit_start: not a TIMESTAMP: 'infinity'"),
    (4, "visit_start", "visit_start: not a TIMESTAMP: '10000-01-01 00:00:00'"),
    (
        5,
        "visit_start",
        "visit_start: implausible date '0044-03-15 (BC) 10:00:00' (before 2000-01-01)",
    ),
    (6, "visit_start", "visit_start: not a TIMESTAMP: '10000-01-01 (BC) 00:00:00'"),
    (
        7,
        "visit_start",
        "visit_start: future date '2030-01-01 00:00:00' (later than 2024-06-02 12:00)",
    ),
    (
        8,
        "visit_start",
        "visit_start: missing required value; pageviews: '0' is below the minimum 1; "
        "duration_s: '-1' is below the minimum 0; goal_pricing: missing required value; "
        "device: 'tv' is not one of desktop, mobile, tablet",
    ),
    (9, "visit_id", "duplicate key visit_id='v3' within file (first at row 1)"),
]
"""Row, first failing column and reason of each quarantined visit, by hand."""

SPEND_SQL = """
    SELECT * FROM (VALUES
        (1, DATE '2024-05-01', 'c1', 10::BIGINT, 1::BIGINT, 'nan'::DOUBLE),
        (2, DATE '2024-05-01', 'c2', 10, 1, '-inf'::DOUBLE),
        (3, DATE '2024-05-01', 'c3', 10, 1, -0.0::DOUBLE),
        (4, DATE '2024-05-01', 'c4', 10, 1, 1e300::DOUBLE),
        (5, DATE '9999-12-31' + 1, 'c5', 10, 1, 1.5::DOUBLE),
        (6, DATE '0001-01-01' - 1, 'c6', 10, 1, 1.5::DOUBLE),
        (7, DATE '2024-05-02', 'c7', -3, 1, 0.1::DOUBLE)
    ) t(n, date, creative, impressions, clicks, cost)
"""
"""Hand-made spend rows: c3 and c4 load; the rest are quarantined."""

SPEND_REASONS = [
    (1, "cost", "cost: not a DOUBLE: 'nan'"),
    (2, "cost", "cost: not a DOUBLE: '-inf'"),
    (5, "date", "date: not a DATE: '10000-01-01'"),
    (6, "date", "date: not a DATE: '0001-12-31 (BC)'"),
    (7, "impressions", "impressions: '-3' is below the minimum 0"),
]
SPEND_CONSTANTS = (
    "'paid' AS channel, 'yandex' AS utm_source, 'cpc' AS utm_medium, 'brand' AS campaign, "
    "'g1' AS ad_group"
)


def write_parquet(path, select: str, *, as_text: bool, extra: str = "") -> None:
    """Write ``select`` (ordered by its column ``n``, dropped) as Parquet, typed or all text."""
    con = duckdb.connect()
    names = [r[0] for r in con.execute(f"DESCRIBE {select}").fetchall() if r[0] != "n"]
    if extra:
        names += [part.rsplit(" AS ", 1)[1] for part in extra.split(", ")]
        select = f"SELECT *, {extra} FROM ({select})"
    columns = ", ".join(f"CAST({n} AS VARCHAR) AS {n}" if as_text else n for n in names)
    con.execute(f"COPY (SELECT {columns} FROM ({select}) ORDER BY n) TO '{path}' (FORMAT parquet)")
    con.close()


def load(tmp_path, name: str, table: str, select: str, *, as_text: bool, extra: str = ""):
    folder = tmp_path / name
    folder.mkdir()
    path = folder / f"{table}.parquet"
    write_parquet(path, select, as_text=as_text, extra=extra)
    con = wh.connect(folder / "warehouse.duckdb")
    result = wh.load_file(con, table, path, salt=SALT, now=NOW, load_id="L1")
    return con, result, path


def stored(con, table: str):
    """The table's rows in storage order, and the quarantine without the file path."""
    rows = con.execute(f"SELECT * FROM main.{table} ORDER BY rowid").fetchall()
    quarantine = con.execute(
        "SELECT row_number, column_name, reason, raw_row FROM quarantine ORDER BY row_number"
    ).fetchall()
    return rows, quarantine


@pytest.mark.parametrize(
    ("table", "select", "extra", "reasons", "typed"),
    [
        (
            "visits",
            VISITS_SQL,
            "",
            VISITS_REASONS,
            {"visit_start", "pageviews", "duration_s", "goal_pricing"},
        ),
        (
            "spend",
            SPEND_SQL,
            SPEND_CONSTANTS,
            SPEND_REASONS,
            {"date", "impressions", "clicks", "cost"},
        ),
    ],
    ids=["visits", "spend"],
)
def test_typed_parquet_loads_like_the_same_values_as_text(
    tmp_path, table, select, extra, reasons, typed
):
    con_t, typed_result, typed_path = load(
        tmp_path, "typed", table, select, as_text=False, extra=extra
    )
    con_x, text_result, text_path = load(tmp_path, "text", table, select, as_text=True, extra=extra)
    try:
        # the typed file takes the typed route, the text file the text route
        assert wh_load._stage_parquet(con_t, typed_path, typed_path, CANONICAL[table])[2] == typed
        assert wh_load._stage_parquet(con_x, text_path, text_path, CANONICAL[table])[2] == set()
        got_typed, got_text = stored(con_t, table), stored(con_x, table)
    finally:
        con_t.close()
        con_x.close()
    assert got_typed == got_text
    assert [q[:3] for q in got_typed[1]] == reasons
    n_bad = len(reasons)
    for result in (typed_result, text_result):
        assert (result.rows_quarantined, result.rows_loaded) == (n_bad, result.rows_in - n_bad)


def test_typed_values_load_unchanged_and_blanks_are_trimmed(tmp_path):
    con, result, _ = load(tmp_path, "typed", "visits", VISITS_SQL, as_text=False)
    try:
        rows = con.execute(
            "SELECT visit_id, visit_start, channel, pageviews, goal_pricing, device "
            "FROM visits ORDER BY rowid"
        ).fetchall()
        raw_row = con.execute("SELECT raw_row FROM quarantine WHERE row_number = 3").fetchone()[0]
    finally:
        con.close()
    assert (result.rows_in, result.rows_loaded) == (10, 3)
    # file order (v3, v1, v4), not key order; microseconds kept; blanks trimmed
    assert rows == [
        ("v3", datetime(2024, 5, 1, 10, 0), "direct", 4, True, "desktop"),
        ("v1", datetime(2024, 5, 1, 10, 0, 0, 123457), "organic", 1, False, "mobile"),
        ("v4", datetime(2024, 5, 2, 9, 0), "direct", 3, False, None),
    ]
    # typed values are written to the raw row as JSON strings, like text values
    assert '"pageviews":"2"' in raw_row and '"visit_start":"infinity"' in raw_row


def test_frame_rows_given_out_of_order_are_stored_by_row_number(tmp_path):
    """An adapter's row numbers need not ascend: a first load stores rows by row number."""
    con = wh.connect(tmp_path / "warehouse.duckdb")
    frame = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3"],
            "created_at": ["2024-05-01 09:00", "2024-05-01 10:00", "2024-05-01 11:00"],
            "lead_type": ["form", "call", "chat"],
        }
    )
    try:
        wh.load_frame(
            con, "leads", frame, source_file="export.csv", salt=SALT, row_numbers=[3, 1, 2], now=NOW
        )
        current = con.execute("SELECT lead_id FROM leads ORDER BY rowid").fetchall()
        versions = con.execute("SELECT lead_id FROM history.leads ORDER BY rowid").fetchall()
    finally:
        con.close()
    assert current == versions == [("L2",), ("L3",), ("L1",)]
