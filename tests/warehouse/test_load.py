"""Tests for :mod:`analytics.warehouse`: loading, quarantine, PII hashing, reconciliation.

Raw files are written into ``tmp_path`` by the tests; expected outcomes are hand
counts and independent references (``hashlib`` for PII hashes).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import duckdb
import pytest

from analytics import warehouse as wh
from analytics.warehouse import load as wh_load
from analytics.warehouse.schema import CANONICAL

SALT = "test-salt"
NOW = datetime(2024, 6, 1, 12, 0)

SPEND_HEADER = (
    "date,channel,utm_source,utm_medium,campaign,ad_group,creative,impressions,clicks,cost"
)
SPEND_ROWS = [
    "2024-05-01,paid_search,yandex,cpc,brand,g1,c1,1000,50,1234.5",
    "2024-05-01,paid_search,yandex,cpc,brand,g1,c2,2000,70,0",
    "2024-05-02,paid_social,vk,paid_social,promo,g2,c3,300,3,99.99",
]
LEADS_HEADER = "lead_id,created_at,lead_type,visitor_id,phone,email,call_duration_s,call_lost"


def write_csv(path, header, rows, *, newline="\n", encoding="utf-8", final_newline=True):
    text = newline.join([header, *rows]) + (newline if final_newline else "")
    path.write_bytes(text.encode(encoding))
    return path


def sha256_hex(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture
def con(tmp_path):
    connection = wh.connect(tmp_path / "wh" / "warehouse.duckdb")
    wh.init_schema(connection)
    yield connection
    connection.close()


def quarantine_rows(con):
    return con.execute(
        "SELECT row_number, column_name, reason, raw_row, target_table, source_file "
        "FROM quarantine ORDER BY row_number"
    ).fetchall()


def count(con, table):
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# --------------------------------------------------------------------------- schema


def test_connect_creates_parent_dir_and_init_schema_creates_every_table(tmp_path):
    path = tmp_path / "deep" / "dir" / "warehouse.duckdb"
    connection = wh.connect(path)
    wh.init_schema(connection)
    wh.init_schema(connection)  # idempotent
    tables = {
        (s, t)
        for s, t in connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
    }
    schemas = {
        r[0] for r in connection.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()
    }
    connection.close()
    assert path.is_file()
    expected = {("main", name) for name in [*CANONICAL, "quarantine", "load_log"]}
    assert expected <= tables
    assert "truth" in schemas


def _duckdb_shows(setting, value):
    """How DuckDB itself reports ``setting`` after ``SET setting = value`` (e.g. '1.3 GiB')."""
    reference = duckdb.connect()
    try:
        reference.execute(f"SET {setting} = '{value}'")
        return reference.execute(f"SELECT current_setting('{setting}')").fetchone()[0]
    finally:
        reference.close()


def _setting(connection, name):
    return connection.execute(f"SELECT current_setting('{name}')").fetchone()[0]


@pytest.mark.parametrize("read_only", [False, True])
def test_connect_applies_memory_limit_and_threads_from_environment(
    tmp_path, monkeypatch, read_only
):
    path = tmp_path / "warehouse.duckdb"
    wh.connect(path).close()  # the file must exist to open it read-only
    monkeypatch.setenv(wh.MEMORY_LIMIT_VAR, "300MB")
    monkeypatch.setenv(wh.THREADS_VAR, "1")
    connection = wh.connect(path, read_only=read_only)
    try:
        assert _setting(connection, "memory_limit") == _duckdb_shows("memory_limit", "300MB")
        assert _setting(connection, "threads") == 1
        assert _setting(connection, "enable_progress_bar") is False  # see the next test
    finally:
        connection.close()


def test_connect_turns_off_the_progress_bar_duckdb_draws_in_a_plain_process():
    """In a plain Python process (the runner, cron) DuckDB draws a text progress bar on
    stderr for queries over 2 s; under pytest it is already off, so this looks at a
    child process: a plain connection there has it on, the warehouse's has it off."""
    import subprocess
    import sys

    code = (
        "import duckdb\n"
        "from analytics.warehouse import connect\n"
        "q = \"SELECT current_setting('enable_progress_bar')\"\n"
        "print(duckdb.connect().execute(q).fetchone()[0],"
        " connect(':memory:').execute(q).fetchone()[0])"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert shown == ["True", "False"]


def test_connect_default_memory_limit_and_duckdb_threads(monkeypatch):
    monkeypatch.delenv(wh.MEMORY_LIMIT_VAR, raising=False)
    monkeypatch.delenv(wh.THREADS_VAR, raising=False)
    connection = wh.connect(":memory:")
    try:
        expected = _duckdb_shows("memory_limit", wh.DEFAULT_MEMORY_LIMIT)
        assert _setting(connection, "memory_limit") == expected
        reference = duckdb.connect()
        assert _setting(connection, "threads") == _setting(reference, "threads")
        reference.close()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ANALYTICS_DUCKDB_MEMORY_LIMIT", "lots"),
        ("ANALYTICS_DUCKDB_MEMORY_LIMIT", "12 parsecs"),
        ("ANALYTICS_DUCKDB_THREADS", "two"),
        ("ANALYTICS_DUCKDB_THREADS", "0"),
    ],
)
def test_connect_bad_setting_raises_naming_the_variable(tmp_path, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(wh.InputError, match=variable) as info:
        wh.connect(tmp_path / "warehouse.duckdb")
    assert repr(value) in str(info.value)


def test_write_schema_doc_writes_every_table(tmp_path):
    out = wh.write_schema_doc(tmp_path / "docs" / "schema.md")
    text = out.read_text(encoding="utf-8")
    for name in CANONICAL:
        assert f"## `{name}`" in text
    assert "phone_hash" in text


# --------------------------------------------------------------------------- good files


def test_good_csv_loads_with_proper_types(con, tmp_path):
    path = write_csv(tmp_path / "spend.csv", SPEND_HEADER, SPEND_ROWS)
    result = wh.load_file(con, "spend", path, salt=SALT, load_id="L1", now=NOW)

    assert result == wh.LoadResult(
        "spend", str(path.resolve()), 3, 3, 0, rows_inserted=3, load_id="L1"
    )
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE spend)").fetchall())
    assert types["date"] == "DATE"
    assert types["impressions"] == "BIGINT"
    assert types["cost"] == "DOUBLE"
    rows = con.execute(
        "SELECT date, creative, impressions, cost FROM spend ORDER BY creative"
    ).fetchall()
    assert rows == [
        (date(2024, 5, 1), "c1", 1000, 1234.5),
        (date(2024, 5, 1), "c2", 2000, 0.0),
        (date(2024, 5, 2), "c3", 300, 99.99),
    ]
    log = con.execute(
        "SELECT load_id, target_table, source_file, rows_in, rows_loaded, rows_quarantined "
        "FROM load_log"
    ).fetchall()
    assert log == [("L1", "spend", str(path.resolve()), 3, 3, 0)]
    assert count(con, "quarantine") == 0


def test_booleans_timestamps_and_blanks_are_parsed(con, tmp_path):
    header = (
        "visit_id,visitor_id,visit_start,channel,pageviews,duration_s,goal_pricing,device,"
        "utm_source"
    )
    rows = [
        "v1,u1,2024-05-01 10:00:00,paid,1,0,TRUE,desktop,  yandex  ",
        "v2,u1,2024-05-01T11:30,paid,2,10,no,mobile,",
        "v3,u2,2024-05-02,organic,3,20,1,tablet,google",
        "v4,u3,2024-05-02 09:15:00,organic,1,5,Yes,,",
        "v5,u3,2024-05-02 09:16:00,organic,1,5,0,,",
    ]
    path = write_csv(tmp_path / "visits.csv", header, rows)
    result = wh.load_file(con, "visits", path, salt=SALT, now=NOW)
    assert (result.rows_loaded, result.rows_quarantined) == (5, 0)
    got = con.execute(
        "SELECT visit_id, visit_start, goal_pricing, device, utm_source "
        "FROM visits ORDER BY visit_id"
    ).fetchall()
    assert got == [
        ("v1", datetime(2024, 5, 1, 10, 0), True, "desktop", "yandex"),
        ("v2", datetime(2024, 5, 1, 11, 30), False, "mobile", None),
        ("v3", datetime(2024, 5, 2, 0, 0), True, "tablet", "google"),
        ("v4", datetime(2024, 5, 2, 9, 15), True, None, None),
        ("v5", datetime(2024, 5, 2, 9, 16), False, None, None),
    ]


def test_parquet_input_loads_and_numbers_rows(con, tmp_path):
    path = tmp_path / "spend.parquet"
    duckdb.execute(
        f"""COPY (
            SELECT * REPLACE (CAST(cost AS DOUBLE) AS cost) FROM (VALUES
                (DATE '2024-05-01', 'paid', 'yandex', 'cpc', 'brand', 'g1', 'c1', 10, 1, 5.5),
                (DATE '2024-05-01', 'paid', 'yandex', 'cpc', 'brand', 'g1', 'c2', 20, 2, -1.0),
                (DATE '2024-05-02', 'paid', 'yandex', 'cpc', 'brand', 'g1', 'c3', 30, 3, 7.25)
            ) t(date, channel, utm_source, utm_medium, campaign, ad_group, creative,
                impressions, clicks, cost)
        ) TO '{path}' (FORMAT parquet)"""
    )
    result = wh.load_file(con, "spend", path, salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    assert con.execute("SELECT sum(cost), sum(impressions) FROM spend").fetchone() == (12.75, 40)
    [(row, column, reason, *_)] = quarantine_rows(con)
    assert (row, column) == (2, "cost")
    assert "cost: '-1.0' is below the minimum 0" in reason


# --------------------------------------------------------------------------- bad rows

BAD_CASES = {
    "missing required value": (
        "spend",
        "2024-05-01,paid_search,yandex,cpc,,g1,c9,1,1,1",
        "campaign",
        "campaign: missing required value",
    ),
    "bad int": (
        "spend",
        "2024-05-01,paid_search,yandex,cpc,brand,g1,c9,abc,1,1",
        "impressions",
        "impressions: not a BIGINT: 'abc'",
    ),
    "fractional int": (
        "spend",
        "2024-05-01,paid_search,yandex,cpc,brand,g1,c9,1.5,1,1",
        "impressions",
        "impressions: not a BIGINT: '1.5'",
    ),
    "bad date": (
        "spend",
        "2024-02-30,paid_search,yandex,cpc,brand,g1,c9,1,1,1",
        "date",
        "date: not a DATE: '2024-02-30'",
    ),
    "negative cost": (
        "spend",
        "2024-05-01,paid_search,yandex,cpc,brand,g1,c9,1,1,-5.5",
        "cost",
        "cost: '-5.5' is below the minimum 0",
    ),
    "comma decimal": (
        "spend",
        '2024-05-01,paid_search,yandex,cpc,brand,g1,c9,1,1,"12,5"',
        "cost",
        "cost: not a DOUBLE: '12,5' (decimal comma; use a dot)",
    ),
    "future date": (
        "spend",
        "2024-06-03,paid_search,yandex,cpc,brand,g1,c9,1,1,1",
        "date",
        "date: future date '2024-06-03' (later than 2024-06-02 12:00)",
    ),
    "bad timestamp": (
        "leads",
        "L9,01.05.2024 10:00,form,u9,,,,",
        "created_at",
        "created_at: not a TIMESTAMP: '01.05.2024 10:00'",
    ),
    "value outside allowed set": (
        "leads",
        "L9,2024-05-01 10:00,fax,u9,,,,",
        "lead_type",
        "lead_type: 'fax' is not one of form, call, chat",
    ),
    "bad boolean": (
        "leads",
        "L9,2024-05-01 10:00,call,u9,,,30,maybe",
        "call_lost",
        "call_lost: not a BOOLEAN: 'maybe'",
    ),
}
LEADS_GOOD = ["L1,2024-05-01 09:00,form,u1,,,,", "L2,2024-05-01 09:30,call,u2,,,45,no"]


@pytest.mark.parametrize("case", list(BAD_CASES), ids=list(BAD_CASES))
def test_bad_value_is_quarantined_with_row_column_and_reason(con, tmp_path, case):
    table, bad_row, column, reason = BAD_CASES[case]
    header, good = (
        (SPEND_HEADER, SPEND_ROWS[:2]) if table == "spend" else (LEADS_HEADER, LEADS_GOOD)
    )
    path = write_csv(tmp_path / f"{table}.csv", header, [good[0], bad_row, good[1]])

    result = wh.load_file(con, table, path, salt=SALT, load_id="bad", now=NOW)

    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    assert count(con, table) == 2
    [(row, col, got_reason, raw_row, target, source)] = quarantine_rows(con)
    assert (row, col, target, source) == (2, column, table, str(path.resolve()))
    assert got_reason == reason
    assert raw_row.startswith("{") and f'"{column}"' in raw_row
    log = con.execute("SELECT rows_in, rows_loaded, rows_quarantined FROM load_log").fetchall()
    assert log == [(3, 2, 1)]


def test_date_within_one_day_slack_is_accepted(con, tmp_path):
    rows = [SPEND_ROWS[0].replace("2024-05-01", "2024-06-02")]
    path = write_csv(tmp_path / "spend.csv", SPEND_HEADER, rows)
    result = wh.load_file(con, "spend", path, salt=SALT, now=NOW)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 0)


def test_every_failing_check_of_a_row_is_reported_first_column_named(con, tmp_path):
    rows = ["L1,not-a-time,fax,u1,,,-3,perhaps"]
    path = write_csv(tmp_path / "leads.csv", LEADS_HEADER, rows)
    wh.load_file(con, "leads", path, salt=SALT, now=NOW)
    [(row, column, reason, *_)] = quarantine_rows(con)
    assert (row, column) == (1, "created_at")
    assert reason.split("; ") == [
        "created_at: not a TIMESTAMP: 'not-a-time'",
        "lead_type: 'fax' is not one of form, call, chat",
        "call_duration_s: '-3' is below the minimum 0",
        "call_lost: not a BOOLEAN: 'perhaps'",
    ]


def test_duplicate_key_within_file_keeps_first_occurrence(con, tmp_path):
    rows = [SPEND_ROWS[0], SPEND_ROWS[1], SPEND_ROWS[0].replace("1234.5", "1.0"), SPEND_ROWS[2]]
    path = write_csv(tmp_path / "spend.csv", SPEND_HEADER, rows)
    result = wh.load_file(con, "spend", path, salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (4, 3, 1)
    assert con.execute("SELECT cost FROM spend WHERE creative = 'c1'").fetchall() == [(1234.5,)]
    [(row, column, reason, *_)] = quarantine_rows(con)
    assert (row, column) == (3, "date,campaign,ad_group,creative")
    assert reason == (
        "duplicate key date='2024-05-01', campaign='brand', ad_group='g1', creative='c1' "
        "within file (first at row 1)"
    )


def test_key_already_stored_with_equal_values_is_unchanged_not_quarantined(con, tmp_path):
    """L2 again with equal values: unchanged; L3 new: inserted; 2 in = 1 + 0 + 1 + 0."""
    first = write_csv(tmp_path / "leads_1.csv", LEADS_HEADER, LEADS_GOOD)
    second = write_csv(
        tmp_path / "leads_2.csv", LEADS_HEADER, ["L3,2024-05-02 09:00,chat,u3,,,,", LEADS_GOOD[1]]
    )
    wh.load_file(con, "leads", first, salt=SALT, now=NOW)
    result = wh.load_file(con, "leads", second, salt=SALT, now=NOW)
    counts = (result.rows_inserted, result.rows_updated, result.rows_unchanged)
    assert (result.rows_in, *counts, result.rows_quarantined) == (2, 1, 0, 1, 0)
    assert count(con, "leads") == 3
    assert count(con, "quarantine") == 0


def test_row_numbers_match_data_lines_in_a_larger_file(con, tmp_path):
    n = 30_000
    bad = {7, 12_345, n}
    rows = [
        f"V{i},u{i % 97},2024-05-01 10:00:00,paid,{0 if i in bad else 1},{i},true,desktop"
        for i in range(1, n + 1)
    ]
    header = "visit_id,visitor_id,visit_start,channel,pageviews,duration_s,goal_pricing,device"
    path = write_csv(tmp_path / "visits.csv", header, rows)
    result = wh.load_file(con, "visits", path, salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (n, n - 3, 3)
    got = con.execute("SELECT row_number, reason, raw_row FROM quarantine ORDER BY 1").fetchall()
    assert [r[0] for r in got] == sorted(bad)
    for row, reason, raw_row in got:
        assert reason == "pageviews: '0' is below the minimum 1"
        # The row number points at the data line holding that visit (line = row + 1).
        assert f'"visit_id":"V{row}"' in raw_row


# --------------------------------------------------------------------------- columns


def test_missing_required_column_raises_naming_file_and_column(con, tmp_path):
    header = SPEND_HEADER.replace(",cost", "")
    rows = [r.rsplit(",", 1)[0] for r in SPEND_ROWS]
    path = write_csv(tmp_path / "spend_no_cost.csv", header, rows)
    with pytest.raises(wh.InputError, match=r"spend_no_cost\.csv.*missing required.*\bcost\b"):
        wh.load_file(con, "spend", path, salt=SALT, now=NOW)
    assert count(con, "spend") == 0
    assert count(con, "load_log") == 0


def test_missing_optional_columns_are_null_and_extra_columns_ignored(con, tmp_path):
    header = "lead_id,created_at,lead_type,crm_note"
    rows = ["L1,2024-05-01 09:00,form,call back", "L2,2024-05-01 09:30,chat,"]
    path = write_csv(tmp_path / "leads.csv", header, rows)
    result = wh.load_file(con, "leads", path, salt=SALT, now=NOW)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 0)
    got = con.execute(
        "SELECT lead_id, phone_hash, email_hash, utm_source, call_duration_s, call_lost "
        "FROM leads ORDER BY lead_id"
    ).fetchall()
    assert got == [("L1", None, None, None, None, None), ("L2", None, None, None, None, None)]
    assert "crm_note" not in {r[0] for r in con.execute("DESCRIBE leads").fetchall()}


# --------------------------------------------------------------------------- broken files


def test_zero_byte_file_raises(con, tmp_path):
    path = tmp_path / "spend.csv"
    path.write_bytes(b"")
    with pytest.raises(wh.InputError, match=r"spend\.csv: empty file \(0 bytes\)"):
        wh.load_file(con, "spend", path, salt=SALT, now=NOW)


def test_header_only_file_loads_zero_rows(con, tmp_path):
    path = write_csv(tmp_path / "spend.csv", SPEND_HEADER, [])
    result = wh.load_file(con, "spend", path, salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (0, 0, 0)
    assert con.execute("SELECT rows_in FROM load_log").fetchall() == [(0,)]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\n2024-05-01,x\n", "the first line is empty"),
        (b'"date,channel\n2024-05-01,x\n', "unexpected end of data"),
    ],
    ids=["blank first line", "unterminated quote"],
)
def test_unparsable_header_raises(con, tmp_path, content, problem):
    path = tmp_path / "spend.csv"
    path.write_bytes(content)
    with pytest.raises(wh.InputError, match=rf"spend\.csv: header cannot be parsed: {problem}"):
        wh.load_file(con, "spend", path, salt=SALT, now=NOW)


def test_explicit_delimiter_and_wrong_delimiter_hint(con, tmp_path):
    rows = [r.replace(",", ";") for r in SPEND_ROWS]
    path = write_csv(tmp_path / "spend.csv", SPEND_HEADER.replace(",", ";"), rows)
    with pytest.raises(wh.InputError, match=r"is the delimiter ';'\?"):
        wh.load_file(con, "spend", path, salt=SALT, now=NOW)
    result = wh.load_file(con, "spend", path, salt=SALT, delimiter=";", now=NOW)
    assert (result.rows_loaded, result.rows_quarantined) == (3, 0)


def test_cp1251_bytes_raise_mentioning_utf8_and_byte(con, tmp_path):
    header = "lead_id,created_at,lead_type,region"
    path = write_csv(
        tmp_path / "leads.csv", header, ["L1,2024-05-01 09:00,form,Москва"], encoding="cp1251"
    )
    offset = len(f"{header}\nL1,2024-05-01 09:00,form,".encode())
    with pytest.raises(wh.InputError, match=rf"leads\.csv: not valid utf-8 at byte {offset}\b"):
        wh.load_file(con, "leads", path, salt=SALT, now=NOW)
    assert count(con, "leads") == 0

    result = wh.load_file(con, "leads", path, salt=SALT, encoding="cp1251", now=NOW)
    assert result.rows_loaded == 1
    assert con.execute("SELECT region FROM leads").fetchall() == [("Москва",)]


def test_invalid_byte_offset_is_exact_across_read_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(wh_load, "_CHUNK", 4)
    data = "aéé".encode() + b"\xff" + b"tail"  # 'é' is 2 bytes: chunks split it
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    with pytest.raises(wh.InputError, match=r"at byte 5\b"):
        wh_load._check_decodes(path, "utf-8")
    path.write_bytes("aéé".encode()[:-1])  # truncated multi-byte character at the end
    with pytest.raises(wh.InputError, match=r"at byte 3\b"):
        wh_load._check_decodes(path, "utf-8")


def test_utf8_bom_and_crlf_are_handled(con, tmp_path):
    path = tmp_path / "spend.csv"
    text = "\r\n".join([SPEND_HEADER, *SPEND_ROWS]) + "\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = wh.load_file(con, "spend", path, salt=SALT, now=NOW)
    assert (result.rows_loaded, result.rows_quarantined) == (3, 0)
    assert con.execute("SELECT min(date), max(cost) FROM spend").fetchone() == (
        date(2024, 5, 1),
        1234.5,
    )


def test_line_with_too_many_fields_rejects_the_whole_file(con, tmp_path):
    rows = [SPEND_ROWS[0], SPEND_ROWS[1] + ",extra", SPEND_ROWS[2]]
    path = write_csv(tmp_path / "spend.csv", SPEND_HEADER, rows)
    with pytest.raises(wh.InputError, match=r"spend\.csv: malformed CSV at line 3: too many"):
        wh.load_file(con, "spend", path, salt=SALT, now=NOW)
    assert count(con, "spend") == 0


def test_truncated_last_line_rejects_the_whole_file(con, tmp_path):
    rows = [*SPEND_ROWS, "2024-05-03,paid_search,yandex,cpc,bra"]
    path = write_csv(tmp_path / "spend.csv", SPEND_HEADER, rows, final_newline=False)
    with pytest.raises(
        wh.InputError, match=r"spend\.csv: malformed CSV at line 5: missing columns"
    ):
        wh.load_file(con, "spend", path, salt=SALT, now=NOW)
    # Nothing of the file is kept: the load is one transaction.
    assert count(con, "spend") == 0
    assert count(con, "quarantine") == 0
    assert count(con, "load_log") == 0


# --------------------------------------------------------------------------- PII


def test_pii_salt_from_environment(monkeypatch):
    monkeypatch.delenv("ANALYTICS_PII_SALT", raising=False)
    with pytest.raises(wh.InputError, match="ANALYTICS_PII_SALT is not set: .*export"):
        wh.pii_salt()
    monkeypatch.setenv("ANALYTICS_PII_SALT", "")
    with pytest.raises(wh.InputError):
        wh.pii_salt()
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s3cret")
    assert wh.pii_salt() == "s3cret"


@pytest.mark.parametrize(
    ("value", "kind", "normalised"),
    [
        ("+7 (916) 123-45-67", "phone", "79161234567"),
        ("8 916 123 45 67", "phone", "79161234567"),
        ("916-123-45-67", "phone", "79161234567"),
        ("+1 212 555 0100 ext", "phone", "12125550100"),
        ("  Ivan.Petrov@Example.RU \t", "email", "ivan.petrov@example.ru"),
    ],
)
def test_hash_pii_equals_hashlib_reference(value, kind, normalised):
    assert wh.hash_pii(value, kind, SALT) == sha256_hex(SALT + normalised)


def test_hash_pii_keeps_empty_as_none():
    assert wh.hash_pii(None, "phone", SALT) is None
    assert wh.hash_pii("", "email", SALT) is None
    assert wh.hash_pii("n/a", "phone", SALT) is None


def test_pii_is_hashed_in_sql_and_never_stored_raw(tmp_path):
    db = tmp_path / "pii.duckdb"
    con = wh.connect(db)
    raw_phone, raw_email = "+7 (916) 123-45-67", "Ivan.Petrov@Example.RU"
    rows = [
        f'L1,2024-05-01 09:00,form,u1,"{raw_phone}", {raw_email} ,,',
        "L2,2024-05-01 09:30,call,u2,8 916 123 45 67,,60,no",
        "L3,2024-05-01 09:40,call,u3,,,,",
        f'L4,2024-05-01 09:50,fax,u4,"{raw_phone}",{raw_email},,',  # quarantined
    ]
    path = write_csv(tmp_path / "leads.csv", LEADS_HEADER, rows)
    result = wh.load_file(con, "leads", path, salt=SALT, now=NOW)
    assert (result.rows_loaded, result.rows_quarantined) == (3, 1)

    phone_ref = sha256_hex(SALT + "79161234567")
    email_ref = sha256_hex(SALT + "ivan.petrov@example.ru")
    got = con.execute("SELECT lead_id, phone_hash, email_hash FROM leads ORDER BY 1").fetchall()
    assert got == [("L1", phone_ref, email_ref), ("L2", phone_ref, None), ("L3", None, None)]
    [(_, _, _, raw_row, *_)] = quarantine_rows(con)
    assert f'"phone":"sha256:{phone_ref}"' in raw_row
    con.execute("CHECKPOINT")
    con.close()

    con = wh.connect(db, read_only=True)
    columns = con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE data_type = 'VARCHAR'"
    ).fetchall()
    needles = [raw_phone, "79161234567", "89161234567", "9161234567", raw_email.lower()]
    found = []
    for schema, table, column in columns:
        for needle in needles:
            hits = con.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE lower("{column}") LIKE ?',
                [f"%{needle.lower()}%"],
            ).fetchone()[0]
            if hits:
                found.append((table, column, needle))
    con.close()
    assert len(columns) > 20  # the scan covered the warehouse, not an empty list
    assert found == []
    assert raw_phone.encode() not in db.read_bytes()


# --------------------------------------------------------------------------- raw dir


LEAD_FIELDS_HEADER = "lead_id,field,value,recorded_at"
LEAD_FIELDS_ROWS = [
    "L1,monthly_ad_budget,150000,2024-05-01 09:00",  # row 1: loaded
    "L1,analytics_tools,,2024-05-01 09:00",  # row 2: loaded, value not filled (NULL)
    "L2,monthly_ad_budget,40000,",  # row 3: recorded_at missing
    "L1,monthly_ad_budget,99,2024-05-01 09:05",  # row 4: key (L1, budget) again
]
"""Hand-made ``lead_fields`` rows: 2 loaded, 2 quarantined."""


def write_raw_dir(raw):
    raw.mkdir()
    write_csv(raw / "spend.csv", SPEND_HEADER, SPEND_ROWS)
    duckdb.execute(
        f"""COPY (SELECT * FROM (VALUES
                ('v1', 'u1', TIMESTAMP '2024-05-01 10:00', 'paid', 2, 30, true),
                ('v2', 'u2', TIMESTAMP '2024-05-01 11:00', 'paid', 1, 0, false)
            ) t(visit_id, visitor_id, visit_start, channel, pageviews, duration_s, goal_pricing)
        ) TO '{raw / "visits.parquet"}' (FORMAT parquet)"""
    )
    write_csv(raw / "leads.csv", LEADS_HEADER, [*LEADS_GOOD, "L3,2024-05-01 10:00,fax,u3,,,,"])
    write_csv(raw / "lead_fields.csv", LEAD_FIELDS_HEADER, LEAD_FIELDS_ROWS)
    write_csv(
        raw / "deals.csv",
        "deal_id,lead_id,created_at,status,stage,amount",
        ["D1,L1,2024-05-02 10:00,won,won,50000", "D2,L2,2024-05-03 10:00,open,sql,"],
    )
    write_csv(
        raw / "deal_stages.csv",
        "deal_id,stage,entered_at",
        ["D1,new,2024-05-02 10:00", "D1,won,2024-05-10 10:00", "D2,new,2024-05-03 10:00"],
    )
    (raw / "truth").mkdir()
    duckdb.execute(
        f"""COPY (SELECT channel, CAST(effect AS DOUBLE) AS effect
            FROM (VALUES ('paid', 0.25), ('organic', 0.1)) t(channel, effect))
        TO '{raw / "truth" / "channel_effects.parquet"}' (FORMAT parquet)"""
    )


def test_load_raw_dir_loads_all_tables_and_truth(con, tmp_path):
    raw = tmp_path / "raw"
    write_raw_dir(raw)
    results = wh.load_raw_dir(con, raw, salt=SALT, now=NOW)

    assert [r.table for r in results] == list(wh.LOAD_ORDER)
    counts = {r.table: (r.rows_in, r.rows_loaded, r.rows_quarantined) for r in results}
    assert counts == {
        "spend": (3, 3, 0),
        "visits": (2, 2, 0),
        "leads": (3, 2, 1),
        "lead_fields": (4, 2, 2),
        "deals": (2, 2, 0),
        "deal_stages": (3, 3, 0),
    }
    assert results[1].source_file.endswith("visits.parquet")
    assert con.execute("SELECT * FROM truth.channel_effects ORDER BY channel").fetchall() == [
        ("organic", 0.1),
        ("paid", 0.25),
    ]
    assert len({r[0] for r in con.execute("SELECT load_id FROM load_log").fetchall()}) == 1

    recon = wh.reconciliation(con)
    assert list(recon["target_table"]) == [*wh.LOAD_ORDER, "TOTAL"]
    total = recon.iloc[-1]
    assert (total.rows_in, total.rows_loaded, total.rows_quarantined) == (17, 14, 3)
    assert recon["balanced"].all()
    assert con.execute(
        "SELECT lead_id, field, value, recorded_at FROM lead_fields ORDER BY field"
    ).fetchall() == [
        ("L1", "analytics_tools", None, datetime(2024, 5, 1, 9, 0)),
        ("L1", "monthly_ad_budget", "150000", datetime(2024, 5, 1, 9, 0)),
    ]
    assert con.execute(
        "SELECT row_number, column_name, reason FROM quarantine "
        "WHERE target_table = 'lead_fields' ORDER BY row_number"
    ).fetchall() == [
        (3, "recorded_at", "recorded_at: missing required value"),
        (
            4,
            "lead_id,field",
            "duplicate key lead_id='L1', field='monthly_ad_budget' within file (first at row 1)",
        ),
    ]


def test_lead_fields_file_is_optional_and_its_updates_keep_history(con, tmp_path):
    """A folder without ``lead_fields`` still loads (5 files); loading one later with a
    changed value updates the row and keeps the replaced version in history."""
    raw = tmp_path / "raw"
    write_raw_dir(raw)
    (raw / "lead_fields.csv").unlink()
    results = wh.load_raw_dir(con, raw, salt=SALT, now=NOW)
    assert [r.table for r in results] == [t for t in wh.LOAD_ORDER if t != "lead_fields"]
    assert count(con, "lead_fields") == 0

    write_csv(raw / "lead_fields.csv", LEAD_FIELDS_HEADER, LEAD_FIELDS_ROWS[:1])
    wh.load_raw_dir(con, raw, salt=SALT, now=NOW)
    later = datetime(2024, 6, 2, 12, 0)
    changed = "L1,monthly_ad_budget,900000,2024-05-03 10:00"
    write_csv(raw / "lead_fields.csv", LEAD_FIELDS_HEADER, [changed])
    results = wh.load_raw_dir(con, raw, salt=SALT, now=later)
    fields = next(r for r in results if r.table == "lead_fields")
    assert (fields.rows_in, fields.rows_updated, fields.rows_inserted) == (1, 1, 0)
    assert con.execute("SELECT value FROM lead_fields").fetchall() == [("900000",)]
    assert con.execute(
        "SELECT value, recorded_at, valid_from, valid_to FROM history.lead_fields "
        "ORDER BY valid_from"
    ).fetchall() == [
        ("150000", datetime(2024, 5, 1, 9, 0), NOW, later),
        ("900000", datetime(2024, 5, 3, 10, 0), later, None),
    ]


def test_reload_with_replace_does_not_duplicate(con, tmp_path):
    raw = tmp_path / "raw"
    write_raw_dir(raw)
    wh.load_raw_dir(con, raw, salt=SALT, now=NOW)
    before = {t: count(con, t) for t in [*CANONICAL, "quarantine", "load_log"]}
    print_before = wh.fingerprint(con)

    wh.load_raw_dir(con, raw, salt=SALT, now=NOW, replace=True)
    after = {t: count(con, t) for t in [*CANONICAL, "quarantine", "load_log"]}
    assert after == before
    assert before["load_log"] == 6 and before["leads"] == 2 and before["lead_fields"] == 2
    assert wh.fingerprint(con) == print_before

    # Upserting (the default) finds every valid row unchanged: 14 unchanged, 3 quarantined
    # again; the tables keep their rows, load_log and quarantine record the second load.
    results = wh.load_raw_dir(con, raw, salt=SALT, now=NOW)
    assert sum(r.rows_inserted + r.rows_updated for r in results) == 0
    assert sum(r.rows_unchanged for r in results) == 14
    assert {t: count(con, t) for t in CANONICAL} == {t: before[t] for t in CANONICAL}
    assert (count(con, "load_log"), count(con, "quarantine")) == (12, 6)
    assert wh.fingerprint(con) == print_before


def test_load_raw_dir_missing_file_raises_before_changing_anything(con, tmp_path):
    raw = tmp_path / "raw"
    write_raw_dir(raw)
    wh.load_raw_dir(con, raw, salt=SALT, now=NOW)
    (raw / "deals.csv").unlink()
    with pytest.raises(wh.InputError, match=r"deals\.parquet \(or \.csv\): file not found"):
        wh.load_raw_dir(con, raw, salt=SALT, now=NOW)
    assert count(con, "deals") == 2


# --------------------------------------------------------------------------- fingerprint


def test_fingerprint_tracks_counts_and_time_range(tmp_path):
    def load(db, rows):
        connection = wh.connect(tmp_path / db)
        wh.load_file(
            connection,
            "spend",
            write_csv(tmp_path / f"{db}.csv", SPEND_HEADER, rows),
            salt=SALT,
            now=NOW,
        )
        value = wh.fingerprint(connection)
        connection.close()
        return value

    same_a = load("a.duckdb", SPEND_ROWS)
    same_b = load("b.duckdb", list(reversed(SPEND_ROWS)))
    fewer = load("c.duckdb", SPEND_ROWS[:2])
    assert same_a == same_b
    assert same_a != fewer
    assert len(same_a) == 16 and int(same_a, 16) >= 0
