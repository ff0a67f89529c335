"""Generic CRM lead exports (kind ``leads``): HubSpot, Bitrix24 and Pipedrive style files.

Expected values are written by hand from the fixture text below; hashes are
recomputed here as ``sha256(salt || normalised value)`` (the documented rule).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest
from source_checks import NOW, SALT, assert_fields_reconciled, assert_reconciled

from analytics import cli
from analytics.sources import load_source
from analytics.warehouse import InputError

HUBSPOT = (
    "Record ID,First Name,Email,Phone Number,Create Date,Lifecycle Stage,Lead Status,"
    "Original Source,Monthly Budget,Team size,Last Modified Date\n"
    "101,Ann,Ann@Example.com,+7 900 111-22-33,2024-05-01 10:00,lead,New,Paid Search,"
    '"150,000",5,2024-05-03 09:00\n'
    "102,Bob,bob@example.com,,2024-05-02 11:30,opportunity,Connected,Organic Search,"
    "80000,,2024-05-04 12:00\n"
    "103,Cy,,+7 900 222-33-44,yesterday,lead,,Direct Traffic,,3,2024-05-05 08:00\n"
)


def _sha(salt: str, value: str) -> str:
    return hashlib.sha256((salt + value).encode("utf-8")).hexdigest()


def _fields(con) -> list[tuple]:
    return con.execute(
        "SELECT lead_id, field, value, CAST(recorded_at AS VARCHAR) FROM lead_fields "
        "ORDER BY lead_id, field"
    ).fetchall()


def test_hubspot_contacts_export_loads_leads_and_every_other_column(con, tmp_path):
    path = tmp_path / "hubspot-crm-exports-all-contacts.csv"
    path.write_text(HUBSPOT, encoding="utf-8")
    result = load_source(con, "leads", path, salt=SALT, now=NOW)

    assert (result.table, result.rows_in, result.rows_loaded) == ("leads", 3, 2)
    assert_reconciled(con, result)
    # the third record has no usable creation time: quarantined, naming row and column
    # (its deal too: the lifecycle stage and lead status make a deal of every row)
    assert con.execute(
        "SELECT target_table, row_number, column_name FROM quarantine ORDER BY target_table DESC"
    ).fetchall() == [("leads", 3, "created_at"), ("deals", 3, "created_at")]
    # lifecycle 'lead' + status 'New' -> open at new; 'opportunity' -> open at sql,
    # entered at the last-modified time (no stage-change column)
    assert con.execute(
        "SELECT deal_id, lead_id, status, stage, closed_at FROM deals ORDER BY deal_id"
    ).fetchall() == [("101", "101", "open", "new", None), ("102", "102", "open", "sql", None)]
    assert con.execute(
        "SELECT deal_id, stage, CAST(entered_at AS VARCHAR) FROM deal_stages ORDER BY ALL"
    ).fetchall() == [
        ("101", "new", "2024-05-01 10:00:00"),
        ("102", "new", "2024-05-02 11:30:00"),
        ("102", "sql", "2024-05-04 12:00:00"),
    ]
    leads = con.execute(
        "SELECT lead_id, CAST(created_at AS VARCHAR), lead_type, phone_hash, email_hash FROM leads "
        "ORDER BY lead_id"
    ).fetchall()
    assert leads == [
        ("101", "2024-05-01 10:00:00", "form", _sha(SALT, "79001112233"),
         _sha(SALT, "ann@example.com")),
        ("102", "2024-05-02 11:30:00", "form", None, _sha(SALT, "bob@example.com")),
    ]  # fmt: skip
    # other columns by their header, known ones by fixed names; numbers with a dot;
    # empty values are not stored; the quarantined lead's values are not loaded
    assert _fields(con) == [
        ("101", "First Name", "Ann", "2024-05-01 10:00:00"),
        ("101", "Monthly Budget", "150000", "2024-05-01 10:00:00"),
        ("101", "Team size", "5", "2024-05-01 10:00:00"),
        ("101", "source", "Paid Search", "2024-05-01 10:00:00"),
        ("101", "stage", "lead", "2024-05-01 10:00:00"),
        ("101", "status", "New", "2024-05-01 10:00:00"),
        ("102", "First Name", "Bob", "2024-05-02 11:30:00"),
        ("102", "Monthly Budget", "80000", "2024-05-02 11:30:00"),
        ("102", "source", "Organic Search", "2024-05-02 11:30:00"),
        ("102", "stage", "opportunity", "2024-05-02 11:30:00"),
        ("102", "status", "Connected", "2024-05-02 11:30:00"),
    ]
    assert_fields_reconciled(con, result.source_file, 11)
    # no raw phone or e-mail anywhere
    dump = str(con.execute("SELECT * FROM leads").fetchall()) + str(_fields(con))
    assert "900 111" not in dump and "example.com" not in dump


def test_loading_again_is_unchanged_and_a_changed_value_is_an_update(con, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(HUBSPOT, encoding="utf-8")
    load_source(con, "leads", path, salt=SALT, now=NOW)
    again = load_source(con, "leads", path, salt=SALT, now=NOW)
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 2)
    assert_fields_reconciled(con, again.source_file, 11)
    logged = con.execute(
        "SELECT rows_inserted, rows_unchanged FROM load_log WHERE target_table = 'lead_fields' "
        "ORDER BY loaded_at"
    ).fetchall()
    assert logged[-1] == (0, 11)

    path.write_text(HUBSPOT.replace("Paid Search", "Paid Social"), encoding="utf-8")
    later = datetime(2024, 6, 2)
    load_source(con, "leads", path, salt=SALT, now=later)
    assert con.execute(
        "SELECT value FROM lead_fields WHERE lead_id = '101' AND field = 'source'"
    ).fetchall() == [("Paid Social",)]
    versions = con.execute(
        "SELECT value FROM history.lead_fields WHERE lead_id = '101' AND field = 'source'"
    ).fetchall()
    assert ("Paid Search",) in versions  # the replaced version is kept


def test_bitrix24_lead_list_in_cp1251_with_russian_headers(con, tmp_path):
    text = (
        "ID;Название лида;Дата создания;Рабочий телефон;Рабочий e-mail;Стадия;Источник;"
        "Бюджет на рекламу;Регион\n"
        "7;Заявка с сайта;01.05.2024 09:15:00;8 (900) 333-44-55;ivan@firma.ru;Не обработан;"
        "Веб-сайт;1 500 000,50;Москва\n"
        "8;Звонок;02.05.2024 14:00:00;;;В работе;Звонок;250 000;Казань\n"
    )
    path = tmp_path / "LEAD.csv"
    path.write_bytes(text.encode("cp1251"))
    result = load_source(con, "leads", path, salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded) == (2, 2)
    assert_reconciled(con, result)
    assert con.execute(
        "SELECT lead_id, CAST(created_at AS VARCHAR), phone_hash, email_hash, region FROM leads "
        "ORDER BY lead_id"
    ).fetchall() == [
        ("7", "2024-05-01 09:15:00", _sha(SALT, "79003334455"), _sha(SALT, "ivan@firma.ru"),
         "Москва"),
        ("8", "2024-05-02 14:00:00", None, None, "Казань"),
    ]  # fmt: skip
    assert _fields(con) == [
        ("7", "source", "Веб-сайт", "2024-05-01 09:15:00"),
        ("7", "status", "Не обработан", "2024-05-01 09:15:00"),
        ("7", "Бюджет на рекламу", "1500000.50", "2024-05-01 09:15:00"),
        ("7", "Название лида", "Заявка с сайта", "2024-05-01 09:15:00"),
        ("8", "source", "Звонок", "2024-05-02 14:00:00"),
        ("8", "status", "В работе", "2024-05-02 14:00:00"),
        ("8", "Бюджет на рекламу", "250000", "2024-05-02 14:00:00"),
        ("8", "Название лида", "Звонок", "2024-05-02 14:00:00"),
    ]


def test_pipedrive_deals_export_renames_and_modified_time(con, tmp_path):
    """``--map "Org size=field:employees"`` renames a kept column; ``recorded_at=modified``
    records the values at the export's update time."""
    text = (
        "Deal - ID,Deal - Title,Deal - Deal created,Deal - Status,Person - Email,"
        "Deal - Update time,Org size\n"
        "55,Acme,2024-04-10 08:00:00,won,a@acme.io,2024-04-20 17:30:00,120\n"
    )
    path = tmp_path / "deals-export.csv"
    path.write_text(text, encoding="utf-8")
    result = load_source(
        con,
        "leads",
        path,
        salt=SALT,
        now=NOW,
        columns={"Org size": "field:employees"},
        recorded_at="modified",
    )
    assert result.rows_loaded == 1
    assert _fields(con) == [
        ("55", "Deal - Title", "Acme", "2024-04-20 17:30:00"),
        ("55", "employees", "120", "2024-04-20 17:30:00"),
        ("55", "status", "won", "2024-04-20 17:30:00"),
    ]
    assert con.execute("SELECT email_hash FROM leads").fetchall() == [(_sha(SALT, "a@acme.io"),)]


def test_missing_creation_column_is_one_clear_error(con, tmp_path):
    path = tmp_path / "no_dates.csv"
    path.write_text("Record ID,Email\n1,a@b.c\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no_dates\.csv: .*created_at"):
        load_source(con, "leads", path, salt=SALT, now=NOW)
    assert con.execute("SELECT count(*) FROM leads").fetchone() == (0,)


def test_recorded_at_modified_without_the_column_is_refused(con, tmp_path):
    path = tmp_path / "bitrix.csv"
    path.write_text("ID,Дата создания\n1,01.05.2024 10:00\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bitrix\.csv: recorded_at=modified needs"):
        load_source(con, "leads", path, salt=SALT, now=NOW, recorded_at="modified")


def test_cli_bad_file_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    path = tmp_path / "leads.csv"
    path.write_text('Record ID,Create Date\n1,2024-05-01\n2,"2024-05-02\n', encoding="utf-8")
    args = ["load-source", "--kind", "leads", "--file", str(path)]
    assert cli.main([*args, "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    err = capsys.readouterr().err
    assert "leads.csv" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
