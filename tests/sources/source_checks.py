"""Helpers of the source adapter tests: fixture paths, reference time, reconciliation checks."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
BAD = FIXTURES / "bad"
SALT = "test-salt"
NOW = datetime(2024, 6, 1, 12, 0)


def quarantined(con) -> list[tuple[int, str, str]]:
    """(row number, column, reason) of every quarantined row, by row number."""
    return con.execute(
        "SELECT row_number, column_name, reason FROM quarantine ORDER BY row_number"
    ).fetchall()


def assert_reconciled(con, result) -> None:
    """``rows_in = rows_loaded + rows_quarantined`` in the result, load_log and quarantine."""
    assert result.rows_in == result.rows_loaded + result.rows_quarantined
    logged = con.execute(
        "SELECT rows_in, rows_loaded, rows_quarantined FROM load_log WHERE source_file = ?",
        [result.source_file],
    ).fetchall()
    assert logged == [(result.rows_in, result.rows_loaded, result.rows_quarantined)]
    in_quarantine = con.execute(
        "SELECT count(*) FROM quarantine WHERE source_file = ?", [result.source_file]
    ).fetchone()[0]
    assert in_quarantine == result.rows_quarantined
