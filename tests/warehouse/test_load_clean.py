"""A clean file loaded into an empty table skips the checked stage, with the same result.

The clean route (``load._load_clean``): one aggregate survey of every column
check, one grouping of the key, then an insert straight from the file. The
reference is the staged route the loader takes for every other file (checked
temp table, duplicate marking, insert from the stage): each input is loaded
twice, once with the clean route disabled, and every table is compared row
for row in storage order. Stored values are also checked against hand values.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from analytics import warehouse as wh
from analytics.warehouse import load as wh_load
from analytics.warehouse.schema import CANONICAL

SALT = "test-salt"
NOW = datetime(2024, 6, 1, 12, 0)

VISITS_CLEAN = """
    SELECT * FROM (VALUES
        (1, 'v3', 'c1', TIMESTAMP '2024-05-01 10:00:00', 'direct', NULL, '/a', 4::BIGINT, 30,
            true),
        (2, ' v1' || chr(9), 'c1', TIMESTAMP '2024-05-01 11:00:00', 'organic', '', ' /b ', 1, 0,
            false),
        (3, 'v2', 'c2', TIMESTAMP '2024-05-02 09:30:00', 'direct', 'g1', '/a', 2, 5, true)
    ) t(n, visit_id, visitor_id, visit_start, channel, utm_term, landing_page, pageviews,
        duration_s, goal_pricing)
"""
"""Hand-made visits that all pass, out of key order; row 2 needs trimming and its
empty ``utm_term`` becomes NULL."""

LEADS_CLEAN = """
    SELECT * FROM (VALUES
        (1, 'L2', '2024-05-01 09:00:00', 'form', '8 (912) 000-11-22', ' A@B.RU '),
        (2, 'L1', '2024-05-01 10:00:00', 'call', '+7 912 000 11 22', NULL)
    ) t(n, lead_id, created_at, lead_type, phone, email)
"""
"""Hand-made leads (a versioned table with PII), all passing."""


def write_file(path, select: str) -> None:
    """Write ``select`` (ordered by its column ``n``, dropped) as Parquet or CSV by suffix."""
    con = duckdb.connect()
    names = [r[0] for r in con.execute(f"DESCRIBE {select}").fetchall() if r[0] != "n"]
    options = "FORMAT parquet" if path.suffix == ".parquet" else "HEADER, DELIMITER ','"
    con.execute(
        f"COPY (SELECT {', '.join(names)} FROM ({select}) ORDER BY n) TO '{path}' ({options})"
    )
    con.close()


def contents(con) -> dict[str, list]:
    """Every table of ``main`` and ``history`` in storage order (``load_log`` without its clock)."""
    tables = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE NOT temporary AND schema_name IN ('main', 'history') ORDER BY ALL"
    ).fetchall()
    found = {}
    for schema, name in tables:
        columns = "* EXCLUDE (loaded_at)" if name == "load_log" else "*"
        found[f"{schema}.{name}"] = con.execute(
            f"SELECT {columns} FROM {schema}.{name} ORDER BY rowid"
        ).fetchall()
    return found


def load_both(tmp_path, monkeypatch, table: str, select: str, suffix: str, *, check=False):
    """Load ``select`` as a file into two new warehouses: clean route allowed, then disabled.

    Returns ``(clean, staged)``, each ``(LoadResult, contents, route taken)``.
    """
    path = tmp_path / f"{table}{suffix}"
    write_file(path, select)
    real = wh_load._load_clean
    runs = []
    for allowed in (True, False):
        routes = []

        def spy(*args, _allowed=allowed, _routes=routes, **kwargs):
            result = real(*args, **kwargs) if _allowed else None
            _routes.append("clean" if result is not None else "staged")
            return result

        monkeypatch.setattr(wh_load, "_load_clean", spy)
        con = wh.connect(":memory:")
        try:
            result = wh.load_file(con, table, path, salt=SALT, now=NOW, load_id="L1", check=check)
            runs.append((result, contents(con), routes))
        finally:
            con.close()
    return runs


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
@pytest.mark.parametrize(("table", "select"), [("visits", VISITS_CLEAN), ("leads", LEADS_CLEAN)])
def test_clean_route_stores_what_the_staged_route_stores(
    tmp_path, monkeypatch, table, select, suffix
):
    (clean, clean_rows, clean_route), (staged, staged_rows, staged_route) = load_both(
        tmp_path, monkeypatch, table, select, suffix
    )
    assert (clean_route, staged_route) == (["clean"], ["staged"])
    assert clean_rows == staged_rows
    assert clean == staged
    assert (clean.rows_in, clean.rows_inserted, clean.rows_quarantined) == (
        len(clean_rows[f"main.{table}"]),
    ) * 2 + (0,)


def test_clean_route_trims_and_keeps_the_file_order(tmp_path, monkeypatch):
    """Hand values: ``' v1\\t'`` -> ``'v1'``, ``''`` -> NULL, ``' /b '`` -> ``'/b'``, file order."""
    (_, rows, route), _ = load_both(tmp_path, monkeypatch, "visits", VISITS_CLEAN, ".parquet")
    assert route == ["clean"]
    picked = [(r[0], r[8], r[9]) for r in rows["main.visits"]]  # visit_id, utm_term, landing_page
    assert picked == [("v3", None, "/a"), ("v1", None, "/b"), ("v2", "g1", "/a")]
    assert rows["main.quarantine"] == []


def test_leads_clean_route_hashes_pii_and_opens_versions(tmp_path, monkeypatch):
    """Hand values: both phones normalise to 79120001122 (same hash); the e-mail to a@b.ru."""
    (_, rows, route), _ = load_both(tmp_path, monkeypatch, "leads", LEADS_CLEAN, ".csv")
    assert route == ["clean"]
    phone = wh.hash_pii("79120001122", "phone", SALT)
    email = wh.hash_pii("a@b.ru", "email", SALT)
    current = [(r[0], r[5], r[6]) for r in rows["main.leads"]]
    assert current == [("L2", phone, email), ("L1", phone, None)]
    versions = rows["history.leads"]
    assert [(v[0], v[-4], v[-3], v[-2]) for v in versions] == [
        ("L2", NOW, None, "L1"),
        ("L1", NOW, None, "L1"),
    ]


def test_a_key_repeated_after_trimming_goes_the_staged_route(tmp_path, monkeypatch):
    """``'v1'`` at row 1 and ``' v1\\t'`` at row 3 are one key: row 3 is quarantined."""
    select = VISITS_CLEAN.replace("'v3'", "'v1'")
    (result, rows, route), (staged, staged_rows, _) = load_both(
        tmp_path, monkeypatch, "visits", select, ".parquet"
    )
    assert route == ["staged"]
    assert (result.rows_in, result.rows_inserted, result.rows_quarantined) == (3, 2, 1)
    assert [q[3:6] for q in rows["main.quarantine"]] == [
        (2, "visit_id", "duplicate key visit_id='v1' within file (first at row 1)")
    ]
    assert (result, rows) == (staged, staged_rows)


def test_a_failing_row_goes_the_staged_route(tmp_path, monkeypatch):
    select = VISITS_CLEAN.replace("4::BIGINT", "0::BIGINT")  # row 1: pageviews 0
    (result, rows, route), _ = load_both(tmp_path, monkeypatch, "visits", select, ".csv")
    assert route == ["staged"]
    assert (result.rows_in, result.rows_inserted, result.rows_quarantined) == (3, 2, 1)
    assert [q[3:6] for q in rows["main.quarantine"]] == [
        (1, "pageviews", "pageviews: '0' is below the minimum 1")
    ]


def test_clean_dry_run_counts_and_writes_nothing(tmp_path, monkeypatch):
    (clean, rows, route), (staged, _, _) = load_both(
        tmp_path, monkeypatch, "visits", VISITS_CLEAN, ".parquet", check=True
    )
    assert route == ["clean"]
    assert clean == staged
    assert (clean.rows_in, clean.rows_inserted, clean.checked) == (3, 3, True)
    assert rows.get("main.visits", []) == []


@pytest.mark.parametrize(
    ("values", "unchanged"),
    [
        (["a", "bb", None], True),
        (["a", " b", None], False),  # trimmed: one byte shorter
        (["a", "", None], False),  # empty -> NULL: one non-NULL value fewer
        (["a", "b\n", "  "], False),  # both
        ([None, None], True),
    ],
)
def test_survey_says_whether_normalisation_changes_a_column(values, unchanged):
    """``_survey_sql``'s per-column flag against the hand answer, on ``lead_fields.value``."""
    con = duckdb.connect()
    rows = ", ".join(
        f"({n}, 'L{n}', {'NULL' if v is None else repr(v)}, '2024-05-01 10:00:00')"
        for n, v in enumerate(values, 1)
    )
    relation = f"(SELECT * FROM (VALUES {rows}) t(_row, c0, c1, c2))"
    # lead_id and field from one column; every column is text, so all four are normalisable
    present = {"lead_id": "c0", "field": "c0", "value": "c1", "recorded_at": "c2"}
    sql = wh_load._survey_sql(CANONICAL["lead_fields"], relation, present)
    rows_in, failing, *same = con.execute(sql, {"future_limit": NOW}).fetchone()
    assert (rows_in, failing) == (len(values), 0)
    assert same == [True, True, unchanged, True]  # lead_id, field, value, recorded_at
