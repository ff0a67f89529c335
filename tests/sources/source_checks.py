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
    """``rows_in = rows_loaded + rows_quarantined`` in the result, load_log and quarantine.

    Only the rows of ``result.table``: a CRM export also loads its other columns
    into ``lead_fields`` (its own load_log row, see :func:`assert_fields_reconciled`).
    """
    assert result.rows_in == result.rows_loaded + result.rows_quarantined
    logged = con.execute(
        "SELECT rows_in, rows_loaded, rows_quarantined FROM load_log WHERE source_file = ? "
        "AND target_table = ?",
        [result.source_file, result.table],
    ).fetchall()
    assert logged == [(result.rows_in, result.rows_loaded, result.rows_quarantined)]
    in_quarantine = con.execute(
        "SELECT count(*) FROM quarantine WHERE source_file = ? AND target_table = ?",
        [result.source_file, result.table],
    ).fetchone()[0]
    assert in_quarantine == result.rows_quarantined


def assert_fields_reconciled(con, source_file, expected_values: int) -> None:
    """The ``lead_fields`` load of a file: ``rows_in`` = the filled values counted by the
    test, ``rows_in = rows_loaded + rows_quarantined`` and the quarantine agrees."""
    rows_in, loaded, quarantined_n = con.execute(
        "SELECT rows_in, rows_loaded, rows_quarantined FROM load_log WHERE source_file = ? "
        "AND target_table = 'lead_fields' ORDER BY loaded_at DESC LIMIT 1",
        [str(source_file)],
    ).fetchone()
    assert rows_in == expected_values
    assert rows_in == loaded + quarantined_n
