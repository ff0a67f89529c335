"""Loads that update: upsert on the key, version history, as-of queries, dry runs, salt.

Every expected count and value below is worked out by hand from the rows the
test writes (stated in each docstring); none is read back from the loader.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import pandas as pd
import pytest

from analytics import warehouse as wh

SALT = "test-salt"
T1 = datetime(2024, 6, 3, 9, 0)  # week 1 load
T2 = datetime(2024, 6, 10, 9, 0)  # week 2 load

DEALS_HEADER = "deal_id,lead_id,created_at,closed_at,status,stage,amount,manager"
WEEK1 = [
    "D1,L1,2024-05-10 10:00,,open,demo,100000,Ivan",
    "D2,L2,2024-05-20 10:00,,open,sql,50000,Olga",
    "D3,L3,2024-05-21 10:00,,open,proposal,200000,Olga",
    "D4,L4,2024-05-22 10:00,,open,sql,80000,Ivan",
    "D5,L5,2024-05-23 10:00,,open,new,,Ivan",
]
WEEK2 = [
    # D1 won: stage, status, closed_at and amount change.
    "D1,L1,2024-05-10 10:00,2024-06-05 12:00,won,won,150000,Ivan",
    "D2,L2,2024-05-20 10:00,,open,sql,50000,Olga",  # unchanged
    "D3,L3,2024-05-21 10:00,2024-06-06 15:00,lost,lost,200000,Olga",  # lost
    "D4,L4,2024-05-22 10:00,,open,sql,80000,Petr",  # owner changed
    "D5,L5,2024-05-23 10:00,,open,new,,Ivan",  # unchanged (NULL amount = NULL)
    "D6,L6,2024-06-04 10:00,,open,new,30000,Olga",  # new
    "D7,L7,2024-06-04 11:00,,open,fax,1,Olga",  # bad stage -> quarantine
]


def write_csv(path, header, rows):
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def con(tmp_path):
    connection = wh.connect(tmp_path / "warehouse.duckdb")
    yield connection
    connection.close()


def rows(con, sql, params=None):
    return con.execute(sql, params or {}).fetchall()


def counts(result):
    return (
        result.rows_in,
        result.rows_inserted,
        result.rows_updated,
        result.rows_unchanged,
        result.rows_quarantined,
    )


def load_weeks(con, tmp_path):
    w1 = wh.load_file(
        con, "deals", write_csv(tmp_path / "w1.csv", DEALS_HEADER, WEEK1), salt=SALT, now=T1
    )
    w2 = wh.load_file(
        con, "deals", write_csv(tmp_path / "w2.csv", DEALS_HEADER, WEEK2), salt=SALT, now=T2
    )
    return w1, w2


def test_newer_export_inserts_updates_and_leaves_unchanged_rows(con, tmp_path):
    """Week 2: D6 new (1 inserted); D1, D3, D4 changed (3 updated); D2, D5 equal
    (2 unchanged); D7 stage 'fax' (1 quarantined): 7 = 1 + 3 + 2 + 1."""
    w1, w2 = load_weeks(con, tmp_path)
    assert counts(w1) == (5, 5, 0, 0, 0)
    assert counts(w2) == (7, 1, 3, 2, 1)
    assert w2.rows_loaded == 6
    assert rows(con, "SELECT deal_id, status, stage, amount, manager FROM deals ORDER BY 1") == [
        ("D1", "won", "won", 150000.0, "Ivan"),
        ("D2", "open", "sql", 50000.0, "Olga"),
        ("D3", "lost", "lost", 200000.0, "Olga"),
        ("D4", "open", "sql", 80000.0, "Petr"),
        ("D5", "open", "new", None, "Ivan"),
        ("D6", "open", "new", 30000.0, "Olga"),
    ]
    # Won revenue reaches the table: 150 000 (D1).
    assert rows(con, "SELECT sum(amount) FROM deals WHERE status = 'won'") == [(150000.0,)]
    log = rows(
        con,
        "SELECT rows_in, rows_inserted, rows_updated, rows_unchanged, rows_quarantined, "
        "rows_loaded FROM load_log ORDER BY loaded_at",
    )
    assert log == [(5, 5, 0, 0, 0, 5), (7, 1, 3, 2, 1, 6)]
    assert rows(con, "SELECT row_number, column_name FROM quarantine") == [(7, "stage")]
    assert w2.summary() == "7 rows in = 1 inserted + 3 updated + 2 unchanged + 1 quarantined"


def test_same_file_twice_changes_no_table_row(con, tmp_path):
    """Second load of week 2: 6 valid rows all unchanged, D7 quarantined again;
    deals and history.deals are identical before and after."""
    load_weeks(con, tmp_path)
    before = (
        rows(con, "SELECT * FROM deals ORDER BY 1"),
        rows(con, "SELECT * FROM history.deals ORDER BY deal_id, valid_from"),
    )
    again = wh.load_file(con, "deals", tmp_path / "w2.csv", salt=SALT, now=datetime(2024, 6, 11))
    assert counts(again) == (7, 0, 0, 6, 1)
    after = (
        rows(con, "SELECT * FROM deals ORDER BY 1"),
        rows(con, "SELECT * FROM history.deals ORDER BY deal_id, valid_from"),
    )
    assert after == before


def test_history_keeps_every_version_with_validity_intervals(con, tmp_path):
    """D1: week-1 version valid [T1, T2), week-2 version [T2, open); 5 + 1 + 3 = 9 versions."""
    load_weeks(con, tmp_path)
    assert rows(
        con,
        "SELECT stage, amount, valid_from, valid_to FROM history.deals "
        "WHERE deal_id = 'D1' ORDER BY valid_from",
    ) == [("demo", 100000.0, T1, T2), ("won", 150000.0, T2, None)]
    assert rows(con, "SELECT count(*) FROM history.deals") == [(9,)]
    assert rows(con, "SELECT count(*) FROM history.deals WHERE valid_to IS NULL") == [(6,)]
    # The warehouse as a report built on 2024-06-07 saw it: week 1.
    then = wh.table_as_of(con, "deals", datetime(2024, 6, 7))
    assert list(then["deal_id"]) == ["D1", "D2", "D3", "D4", "D5"]
    assert list(then["manager"]) == ["Ivan", "Olga", "Olga", "Ivan", "Ivan"]
    assert wh.table_as_of(con, "deals", datetime(2024, 6, 1)).empty


def test_deals_as_of_undoes_later_decisions(con, tmp_path):
    """Stage history of D1: new 05-10, sql 05-15, demo 05-25, won 06-05.

    * 06-12: week-2 versions: D1 won 150 000, D3 lost, D6 present.
    * 06-07: the warehouse knew week 1 only: D1 open/demo, D3 open/proposal (its
      loss on 06-06 was loaded on 06-10); D6 (created 06-04, first loaded 06-10)
      from its first version, open/new.
    * 05-12: D1 was created (05-10) and in stage new (its week-1 version is from
      after 05-12: stage from deal_stages); D2..D5 not created yet.
    """
    load_weeks(con, tmp_path)
    stages = [
        "D1,new,2024-05-10 10:00",
        "D1,sql,2024-05-15 10:00",
        "D1,demo,2024-05-25 10:00",
        "D1,won,2024-06-05 12:00",
    ]
    wh.load_file(
        con,
        "deal_stages",
        write_csv(tmp_path / "s.csv", "deal_id,stage,entered_at", stages),
        salt=SALT,
        now=T2,
    )
    late = wh.deals_as_of(con, datetime(2024, 6, 12))
    assert list(zip(late.deal_id, late.status, late.stage, strict=True)) == [
        ("D1", "won", "won"),
        ("D2", "open", "sql"),
        ("D3", "lost", "lost"),
        ("D4", "open", "sql"),
        ("D5", "open", "new"),
        ("D6", "open", "new"),
    ]
    mid = wh.deals_as_of(con, datetime(2024, 6, 7))
    assert list(zip(mid.deal_id, mid.status, mid.stage, strict=True)) == [
        ("D1", "open", "demo"),
        ("D2", "open", "sql"),
        ("D3", "open", "proposal"),
        ("D4", "open", "sql"),
        ("D5", "open", "new"),
        ("D6", "open", "new"),
    ]
    assert list(mid.deal_id) == ["D1", "D2", "D3", "D4", "D5", "D6"]
    assert mid.amount.isna().tolist() == [False, False, False, False, True, False]
    assert mid["closed_at"].isna().all()
    early = wh.deals_as_of(con, datetime(2024, 5, 12))
    assert list(zip(early.deal_id, early.status, early.stage, strict=True)) == [
        ("D1", "open", "new")
    ]


def test_deals_as_of_masks_a_first_known_version_closed_later(con, tmp_path):
    """D9 first loaded won (closed 06-01) on 06-10; as of 05-20 it was open, in
    stage sql (entered 05-15), with no closed_at."""
    wh.load_file(
        con,
        "deals",
        write_csv(
            tmp_path / "d.csv",
            DEALS_HEADER,
            ["D9,,2024-05-01 10:00,2024-06-01 10:00,won,won,70000,Ivan"],
        ),
        salt=SALT,
        now=T2,
    )
    wh.load_file(
        con,
        "deal_stages",
        write_csv(
            tmp_path / "s.csv",
            "deal_id,stage,entered_at",
            ["D9,new,2024-05-01 10:00", "D9,sql,2024-05-15 10:00", "D9,won,2024-06-01 10:00"],
        ),
        salt=SALT,
        now=T2,
    )
    frame = wh.deals_as_of(con, datetime(2024, 5, 20))
    [row] = frame.to_dict("records")
    assert (row["status"], row["stage"], row["amount"]) == ("open", "sql", 70000.0)
    assert pd.isna(row["closed_at"])


def test_deal_stages_are_appended_idempotently(con, tmp_path):
    """Week 1: D1 new, sql. Week 2: D1 new, sql (same times) and demo: 3 in = 1
    inserted + 2 unchanged; 3 rows in deal_stages, not 5."""
    header = "deal_id,stage,entered_at"
    first = ["D1,new,2024-05-10 10:00", "D1,sql,2024-05-15 10:00"]
    second = [*first, "D1,demo,2024-05-25 10:00"]
    wh.load_file(
        con, "deal_stages", write_csv(tmp_path / "a.csv", header, first), salt=SALT, now=T1
    )
    result = wh.load_file(
        con, "deal_stages", write_csv(tmp_path / "b.csv", header, second), salt=SALT, now=T2
    )
    assert counts(result) == (3, 1, 0, 2, 0)
    assert rows(con, "SELECT stage FROM deal_stages ORDER BY entered_at") == [
        ("new",),
        ("sql",),
        ("demo",),
    ]


def test_corrected_cost_row_updates_and_keeps_the_old_value(con, tmp_path):
    """spend is unversioned: a corrected cost (1234.5 -> 1300) updates the row and the
    old row is kept in history.spend with valid_to = T2; as of T1 the old cost shows."""
    header = "date,channel,utm_source,utm_medium,campaign,ad_group,creative,impressions,clicks,cost"
    a = "2024-05-01,paid_search,yandex,cpc,brand,g1,c1,1000,50,1234.5"
    b = "2024-05-02,paid_search,yandex,cpc,brand,g1,c1,900,40,1000"
    wh.load_file(con, "spend", write_csv(tmp_path / "a.csv", header, [a, b]), salt=SALT, now=T1)
    fixed = a.replace("1234.5", "1300")
    result = wh.load_file(
        con, "spend", write_csv(tmp_path / "b.csv", header, [fixed, b]), salt=SALT, now=T2
    )
    assert counts(result) == (2, 0, 1, 1, 0)
    assert rows(con, "SELECT cost FROM spend ORDER BY date") == [(1300.0,), (1000.0,)]
    assert rows(con, "SELECT cost, valid_from, valid_to FROM history.spend") == [(1234.5, None, T2)]
    then = wh.table_as_of(con, "spend", T1)
    assert sorted(then["cost"]) == [1000.0, 1234.5]
    assert sorted(wh.table_as_of(con, "spend", T2)["cost"]) == [1000.0, 1300.0]


def test_columns_absent_from_the_input_keep_their_stored_value(con, tmp_path):
    """An export without `manager`: D4's manager stays Ivan; the row counts as unchanged
    (every column present is equal) and the load warns about the absent columns."""
    wh.load_file(
        con, "deals", write_csv(tmp_path / "w1.csv", DEALS_HEADER, WEEK1), salt=SALT, now=T1
    )
    header = "deal_id,lead_id,created_at,status,stage,amount,extra_col"
    result = wh.load_file(
        con,
        "deals",
        write_csv(tmp_path / "n.csv", header, ["D4,L4,2024-05-22 10:00,open,sql,80000,x"]),
        salt=SALT,
        now=T2,
    )
    assert counts(result) == (1, 0, 0, 1, 0)
    assert rows(con, "SELECT manager FROM deals WHERE deal_id = 'D4'") == [("Ivan",)]
    assert result.warnings[0] == "column(s) not in table 'deals', ignored: extra_col"
    assert result.warnings[1].startswith("optional column(s) not in the input: closed_at, ")
    assert "manager" in result.warnings[1]
    [(logged,)] = rows(con, "SELECT warnings FROM load_log WHERE rows_in = 1")
    assert logged == "; ".join(result.warnings)


def test_load_frame_upserts_like_a_file(con):
    """Frames (adapters, connectors): D1 amount 100 -> 120 updated, D2 new."""

    def frame(amount):
        return pd.DataFrame(
            {
                "deal_id": ["D1"],
                "created_at": ["2024-05-01 10:00"],
                "status": ["open"],
                "stage": ["sql"],
                "amount": [amount],
            }
        )

    wh.load_frame(con, "deals", frame("100"), source_file="api", salt=SALT, now=T1)
    second = pd.concat([frame("120"), frame("5").assign(deal_id="D2")], ignore_index=True)
    result = wh.load_frame(con, "deals", second, source_file="api", salt=SALT, now=T2)
    assert counts(result) == (2, 1, 1, 0, 0)
    assert rows(con, "SELECT deal_id, amount FROM deals ORDER BY 1") == [("D1", 120.0), ("D2", 5.0)]


def test_duplicate_key_within_a_file_keeps_the_first_valid_row(con, tmp_path):
    """D1 twice in week 2 (won first, then open): the first is an update, the second
    is quarantined as a within-file duplicate: 2 in = 0 + 1 + 0 + 1."""
    load_weeks(con, tmp_path)
    result = wh.load_file(
        con,
        "deals",
        write_csv(
            tmp_path / "d.csv",
            DEALS_HEADER,
            [
                "D1,L1,2024-05-10 10:00,2024-06-05 12:00,won,won,160000,Ivan",
                "D1,L1,2024-05-10 10:00,,open,demo,100000,Ivan",
            ],
        ),
        salt=SALT,
        now=datetime(2024, 6, 11),
    )
    assert counts(result) == (2, 0, 1, 0, 1)
    assert rows(con, "SELECT amount FROM deals WHERE deal_id = 'D1'") == [(160000.0,)]
    assert rows(
        con, "SELECT reason FROM quarantine WHERE row_number = 2 AND source_file LIKE '%d.csv'"
    ) == [("duplicate key deal_id='D1' within file (first at row 1)",)]


# --------------------------------------------------------------------------- salt


def test_salt_fingerprint_is_recorded_and_another_salt_refused(con, tmp_path):
    """The fingerprint is HMAC-SHA256(salt, label)[:16] (computed here with hmac), never the
    salt; a second load with another salt raises and writes nothing."""
    load_weeks(con, tmp_path)
    expected = hmac.new(SALT.encode(), wh.pii.SALT_LABEL, hashlib.sha256).hexdigest()[:16]
    assert rows(con, "SELECT name, value FROM warehouse_meta") == [
        ("pii_salt_fingerprint", expected)
    ]
    assert SALT not in expected
    before = rows(con, "SELECT count(*) FROM load_log")
    with pytest.raises(wh.InputError, match=r"^ANALYTICS_PII_SALT differs from the salt"):
        wh.load_file(con, "deals", tmp_path / "w2.csv", salt="other", now=T2)
    assert rows(con, "SELECT count(*) FROM load_log") == before


def test_full_rebuild_may_change_the_salt(con, tmp_path):
    """replace=True empties every hashed value first, so a new salt is recorded."""
    raw = tmp_path / "raw"
    raw.mkdir()
    write_csv(
        raw / "spend.csv",
        "date,channel,utm_source,utm_medium,campaign,ad_group,creative,impressions,clicks,cost",
        ["2024-05-01,p,y,cpc,b,g,c,1,1,1"],
    )
    write_csv(
        raw / "visits.csv",
        "visit_id,visitor_id,visit_start,channel,pageviews,duration_s,goal_pricing",
        ["v1,u1,2024-05-01 10:00,p,1,1,true"],
    )
    write_csv(raw / "leads.csv", "lead_id,created_at,lead_type", ["L1,2024-05-01 10:00,form"])
    write_csv(raw / "deals.csv", DEALS_HEADER, WEEK1[:1])
    write_csv(raw / "deal_stages.csv", "deal_id,stage,entered_at", ["D1,new,2024-05-10 10:00"])
    wh.load_raw_dir(con, raw, salt=SALT, now=T1)
    with pytest.raises(wh.InputError, match="differs from the salt"):
        wh.load_raw_dir(con, raw, salt="new-salt", now=T2)
    # A dry run of the rebuild: every row inserted (as into an empty warehouse), rolled back.
    dry = wh.load_raw_dir(con, raw, salt="new-salt", now=T2, replace=True, check=True)
    assert [counts(r) for r in dry] == [(1, 1, 0, 0, 0)] * 5
    assert rows(con, "SELECT value FROM warehouse_meta") == [(wh.salt_fingerprint(SALT),)]
    assert rows(con, "SELECT count(*) FROM load_log") == [(5,)]
    wh.load_raw_dir(con, raw, salt="new-salt", now=T2, replace=True)
    assert rows(con, "SELECT value FROM warehouse_meta") == [(wh.salt_fingerprint("new-salt"),)]
    assert rows(con, "SELECT count(*) FROM history.deals") == [(1,)]


# --------------------------------------------------------------------------- dry run


def test_check_counts_and_writes_nothing(tmp_path):
    """A dry run of week 2 on a read-only connection: 7 = 1 + 3 + 2 + 1 as the real load
    would; the warehouse file is byte-identical afterwards."""
    path = tmp_path / "warehouse.duckdb"
    con = wh.connect(path)
    wh.load_file(
        con, "deals", write_csv(tmp_path / "w1.csv", DEALS_HEADER, WEEK1), salt=SALT, now=T1
    )
    con.close()
    before = path.read_bytes()
    ro = wh.connect(path, read_only=True)
    w2 = write_csv(tmp_path / "w2.csv", DEALS_HEADER, WEEK2)
    result = wh.load_file(ro, "deals", w2, salt=SALT, now=T2, check=True)
    assert counts(result) == (7, 1, 3, 2, 1) and result.checked
    with pytest.raises(wh.InputError, match="differs from the salt"):
        wh.load_file(ro, "deals", w2, salt="other", now=T2, check=True)
    ro.close()
    assert path.read_bytes() == before
    # On a writable connection the dry run is rolled back: tables as after week 1.
    con = wh.connect(path)
    again = wh.load_file(con, "deals", w2, salt=SALT, now=T2, check=True)
    assert counts(again) == (7, 1, 3, 2, 1)
    assert rows(con, "SELECT count(*), count(*) FILTER (status = 'won') FROM deals") == [(5, 0)]
    assert rows(con, "SELECT count(*) FROM load_log") == [(1,)]
    assert rows(con, "SELECT count(*) FROM quarantine") == [(0,)]
    con.close()


# --------------------------------------------------------------------------- implausible values


def test_implausible_timestamps_are_quarantined(con, tmp_path):
    """Epoch zero and 1999-12-31 23:59:59 are before 2000-01-01; 2024-06-03 09:00 is later
    than T1 + 1 day? No (T1 = 06-03 09:00): accepted; 2024-06-04 09:00:01 is > T1 + 1 day."""
    header = "lead_id,created_at,lead_type"
    result = wh.load_file(
        con,
        "leads",
        write_csv(
            tmp_path / "l.csv",
            header,
            [
                "L1,1970-01-01 00:00:00,form",
                "L2,1999-12-31 23:59:59,form",
                "L3,2000-01-01 00:00:00,form",
                "L4,2024-06-04 09:00:00,form",
                "L5,2024-06-04 09:00:01,form",
            ],
        ),
        salt=SALT,
        now=T1,
    )
    assert counts(result) == (5, 2, 0, 0, 3)
    assert rows(con, "SELECT row_number, reason FROM quarantine ORDER BY 1") == [
        (1, "created_at: implausible date '1970-01-01 00:00:00' (before 2000-01-01)"),
        (2, "created_at: implausible date '1999-12-31 23:59:59' (before 2000-01-01)"),
        (5, "created_at: future date '2024-06-04 09:00:01' (later than 2024-06-04 09:00)"),
    ]


def test_nul_bytes_inside_a_field_quarantine_the_row(con, tmp_path):
    """Row 2's channel holds a block of NUL bytes: quarantined naming the column; rows 1
    and 3 load. 3 in = 2 inserted + 1 quarantined."""
    header = b"visit_id,visitor_id,visit_start,channel,pageviews,duration_s,goal_pricing\n"
    body = (
        b"v1,u1,2024-05-01 10:00,paid,1,5,true\n"
        b"v2,u2,2024-05-01 11:00,pa\x00\x00\x00\x00id,1,5,true\n"
        b"v3,u3,2024-05-01 12:00,organic,2,9,false\n"
    )
    path = tmp_path / "visits.csv"
    path.write_bytes(header + body)
    result = wh.load_file(con, "visits", path, salt=SALT, now=T1)
    assert counts(result) == (3, 2, 0, 0, 1)
    assert rows(con, "SELECT row_number, column_name, reason FROM quarantine") == [
        (2, "channel", "channel: NUL byte(s) in the value (damaged bytes in the file)")
    ]
    assert rows(con, "SELECT visit_id FROM visits ORDER BY 1") == [("v1",), ("v3",)]


def test_warehouse_from_before_history_is_migrated(tmp_path):
    """An old warehouse: load_log without the new columns, deals without history. Opening
    it adds the columns and backfills 1 open version with valid_from NULL; an update then
    closes it."""
    import duckdb

    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute(wh.schema.CANONICAL["deals"].ddl())
    old.execute(
        "CREATE TABLE load_log (load_id VARCHAR, loaded_at TIMESTAMP, target_table "
        "VARCHAR, source_file VARCHAR, rows_in BIGINT, rows_loaded BIGINT, "
        "rows_quarantined BIGINT)"
    )
    old.execute(
        "INSERT INTO deals (deal_id, created_at, status, stage, amount) "
        "VALUES ('D1', TIMESTAMP '2024-05-01 10:00', 'open', 'sql', 10)"
    )
    old.close()
    con = wh.connect(path)
    wh.init_schema(con)
    assert rows(con, "SELECT deal_id, valid_from, valid_to FROM history.deals") == [
        ("D1", None, None)
    ]
    frame = pd.DataFrame(
        {
            "deal_id": ["D1"],
            "created_at": ["2024-05-01 10:00"],
            "status": ["open"],
            "stage": ["demo"],
            "amount": ["10"],
        }
    )
    result = wh.load_frame(con, "deals", frame, source_file="x", salt=SALT, now=T1)
    assert counts(result) == (1, 0, 1, 0, 0)
    assert rows(
        con, "SELECT stage, valid_from, valid_to FROM history.deals ORDER BY 2 NULLS FIRST"
    ) == [("sql", None, T1), ("demo", T1, None)]
    con.close()


def test_reconciliation_splits_loaded_rows_and_filters_by_load(con, tmp_path):
    """Week 1: 5 = 5 + 0 + 0 + 0; week 2: 7 = 1 + 3 + 2 + 1; total 12 = 6 + 3 + 2 + 1."""
    w1, w2 = load_weeks(con, tmp_path)
    cols = [
        "rows_in",
        "rows_inserted",
        "rows_updated",
        "rows_unchanged",
        "rows_loaded",
        "rows_quarantined",
    ]
    recon = wh.reconciliation(con)
    assert recon[cols].values.tolist() == [
        [5, 5, 0, 0, 5, 0],
        [7, 1, 3, 2, 6, 1],
        [12, 6, 3, 2, 11, 1],
    ]
    assert recon["balanced"].all()
    only = wh.reconciliation(con, load_id=w2.load_id)
    assert list(only["target_table"]) == ["deals", "TOTAL"]
    assert only[cols].values.tolist() == [[7, 1, 3, 2, 6, 1], [7, 1, 3, 2, 6, 1]]


def test_timestamps_with_a_utc_offset_convert_to_moscow_time(con, tmp_path):
    """Moscow is UTC+3 (no DST since 2014): 10:00+05:00 = 05:00Z = 08:00 MSK;
    10:00Z = 13:00 MSK; 10:00-0300 = 13:00Z = 16:00 MSK; 23:30+00:00 on 05-01 =
    02:30 MSK on 05-02; without an offset the time is taken as MSK."""
    header = "lead_id,created_at,lead_type"
    wh.load_file(
        con,
        "leads",
        write_csv(
            tmp_path / "l.csv",
            header,
            [
                "L1,2024-05-01 10:00:00+05:00,form",
                "L2,2024-05-01T10:00:00Z,form",
                "L3,2024-05-01 10:00-0300,form",
                "L4,2024-05-01 23:30:00+00:00,form",
                "L5,2024-05-01 10:00:00,form",
                "L6,2024-05-01,form",
            ],
        ),
        salt=SALT,
        now=T1,
    )
    assert rows(con, "SELECT lead_id, created_at FROM leads ORDER BY 1") == [
        ("L1", datetime(2024, 5, 1, 8, 0)),
        ("L2", datetime(2024, 5, 1, 13, 0)),
        ("L3", datetime(2024, 5, 1, 16, 0)),
        ("L4", datetime(2024, 5, 2, 2, 30)),
        ("L5", datetime(2024, 5, 1, 10, 0)),
        ("L6", datetime(2024, 5, 1, 0, 0)),
    ]


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00", "an Excel workbook \\(.xlsx\\) or a ZIP archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "a gzip file; decompress it first"),
        (b"PAR1\x15\x04\x15\x00", "a Parquet file; name it .parquet"),
    ],
)
def test_binary_file_given_as_csv_is_named_for_what_it_is(con, tmp_path, head, what):
    path = tmp_path / "leads.csv"
    path.write_bytes(head + b"\x00" * 64)
    with pytest.raises(wh.InputError, match=rf"leads\.csv: not a CSV file but {what}"):
        wh.load_file(con, "leads", path, salt=SALT, now=T1)


def test_a_field_over_128_kb_loads(con, tmp_path):
    """A 200 000-character region loads; the row is not refused (2 in = 2 inserted)."""
    path = write_csv(
        tmp_path / "l.csv",
        "lead_id,created_at,lead_type,region",
        ["L1,2024-05-01 10:00,form," + "x" * 200_000, "L2,2024-05-01 10:00,form,ok"],
    )
    result = wh.load_file(con, "leads", path, salt=SALT, now=T1)
    assert counts(result) == (2, 2, 0, 0, 0)
    assert rows(con, "SELECT length(region) FROM leads ORDER BY lead_id") == [(200_000,), (2,)]


def test_insert_only_frames_quarantine_a_stored_key(con):
    """on_existing='quarantine' (GA4 sessions): v1 stored; v1 again (even changed) is
    quarantined as before upserts existed, v2 inserted: 2 in = 1 + 0 + 0 + 1."""

    def visits(*ids, pageviews="1"):
        return pd.DataFrame(
            {
                "visit_id": list(ids),
                "visitor_id": "u",
                "channel": "p",
                "visit_start": "2024-05-01 10:00",
                "pageviews": pageviews,
                "duration_s": "5",
                "goal_pricing": "false",
            }
        )

    wh.load_frame(con, "visits", visits("v1"), source_file="a", salt=SALT, now=T1)
    result = wh.load_frame(
        con,
        "visits",
        visits("v1", "v2", pageviews="3"),
        source_file="b",
        salt=SALT,
        now=T1,
        on_existing="quarantine",
    )
    assert counts(result) == (2, 1, 0, 0, 1)
    assert rows(con, "SELECT visit_id, pageviews FROM visits ORDER BY 1") == [("v1", 1), ("v2", 3)]
    assert rows(con, "SELECT row_number, column_name, reason FROM quarantine") == [
        (1, "visit_id", "duplicate key visit_id='v1' already in visits")
    ]
