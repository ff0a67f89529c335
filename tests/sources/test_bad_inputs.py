"""The corpus of bad vendor exports in ``fixtures/bad/`` and the exact outcome of each.

Every file is loaded with :func:`analytics.sources.load_source`. An unusable
file must raise :class:`~analytics.warehouse.InputError` with the exact
message (naming the file and what is wrong) and leave the warehouse
untouched; a usable file with bad rows must quarantine exactly those rows
(row number, column, reason) and reconcile ``rows_in = rows_loaded +
rows_quarantined``.

=================================  ====================================================
file                               defect
=================================  ====================================================
metrica_cp1251.tsv                 wrong encoding (cp1251 where the Logs API writes UTF-8)
metrica_comma_separated.csv        commas instead of tabs (an ETL tool's CSV): loads
calls_cp1251.csv                   wrong encoding when told ``encoding="utf-8"``
amocrm_comma_decimals.csv          comma decimals with (no-break) space thousands
google_ads_decimal_comma.csv       decimal comma (Russian locale) among dot decimals: loads
calls_missing_time.csv             required column missing
amocrm_duplicate_ids.csv           the same deal id twice
amocrm_duplicate_column.csv        the same column twice (custom fields sharing a name)
calls_mixed_timezones.csv          mixed UTC offsets and local times
calls_future_date.csv              a date in the future
direct_negative_cost.tsv           negative cost
amocrm_empty.csv                   empty (0-byte) file
calls_header_only.csv              header and no rows
calls_truncated.csv                truncated last line
calls_unterminated_quote.csv       unterminated quote
ga4_truncated.ndjson               truncated last JSON line
direct_total_mismatch.tsv          fewer rows than the report's ``Total rows``
google_ads_bom_crlf.csv            UTF-8 BOM, CRLF, title and total lines
google_ads_usd.csv                 foreign currency without an exchange rate
amocrm_unknown_stage.csv           a stage name with no canonical stage
amocrm_bad_dates.csv               impossible and foreign-format dates
metrica_bad_values.tsv             missing id, zero page views, unknown device
=================================  ====================================================
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest
from source_checks import BAD, NOW, SALT, assert_reconciled, quarantined

from analytics.sources import load_source
from analytics.warehouse import InputError

NO_GOALS = {"pricing_goal_ids": []}

CALL_TIME_ALIASES = (
    "'Дата и время звонка' / 'Дата и время' / 'Время звонка' / 'Дата звонка' / 'Дата' / "
    "'call_date' / 'start_time'"
)
METRICA_HEADER = (
    "ym:s:visitID,ym:s:clientID,ym:s:dateTime,ym:s:startURL,ym:s:pageViews,"
    "ym:s:visitDuration,ym:s:goalsID,ym:s:deviceCategory,ym:s:lastTrafficSource,"
    "ym:s:UTMSource,ym:s:UTMMedium,ym:s:UTMCampaign"
)

ERRORS = [
    (
        "metrica",
        "metrica_cp1251.tsv",
        NO_GOALS,
        "not valid utf-8 at byte 334 (line 3); re-export the file or pass the right "
        "encoding= (e.g. 'cp1251' or 'utf-8')",
    ),
    (
        "calls",
        "calls_cp1251.csv",
        {"encoding": "utf-8"},
        "not valid utf-8 at byte 3 (line 1); re-export the file or pass the right "
        "encoding= (e.g. 'cp1251' or 'utf-8')",
    ),
    (
        "calls",
        "calls_missing_time.csv",
        {},
        "missing required column(s) for a call-tracking report: created_at "
        f"({CALL_TIME_ALIASES}) (found: ID звонка, Номер абонента, Длительность разговора) "
        "[header on line 1, delimiter ';']; map them: load-source --kind calls "
        '--map "<column>=created_at" (or save them under calls: columns: in '
        "params/sources.yaml)",
    ),
    ("amocrm", "amocrm_empty.csv", {}, "empty file (0 bytes); expected at least a header"),
    (
        "calls",
        "calls_truncated.csv",
        {},
        "malformed call-tracking report at line 3: 2 field(s) where the header has 5; "
        "it is the last line and has no line break: the file looks truncated; "
        "fix or re-export the file (nothing was loaded from it)",
    ),
    (
        "calls",
        "calls_unterminated_quote.csv",
        {},
        "malformed call-tracking report at line 2: unexpected end of data; "
        "fix or re-export the file (nothing was loaded from it)",
    ),
    (
        "ga4",
        "ga4_truncated.ndjson",
        {},
        "malformed GA4 NDJSON export at line 3: not a JSON object; it is the last line: "
        "the file looks truncated; 1 bad line(s) in all; fix or re-export the file "
        "(nothing was loaded from it)",
    ),
    (
        "direct",
        "direct_total_mismatch.tsv",
        {},
        "the report says 'Total rows: 5' but has 1 data row(s): it is incomplete; "
        "download it again",
    ),
    (
        "google_ads",
        "google_ads_usd.csv",
        {},
        "cost in USD but no exchange rate given; pass rates={'USD': <RUB per unit>}",
    ),
]


@pytest.mark.parametrize(("kind", "name", "options", "problem"), ERRORS, ids=[e[1] for e in ERRORS])
def test_unusable_file_raises_naming_file_and_problem(con, kind, name, options, problem):
    path = BAD / name
    with pytest.raises(InputError) as raised:
        load_source(con, kind, path, salt=SALT, now=NOW, **options)
    assert str(raised.value) == f"{path.resolve()}: {problem}"
    for table in ("spend", "visits", "leads", "deals", "quarantine", "load_log"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


QUARANTINES = [
    (
        "amocrm",
        "amocrm_comma_decimals.csv",
        {},
        (4, 3, 1),
        [(3, "amount", "amount: not a DOUBLE: '12,3,4'")],
    ),
    (
        "amocrm",
        "amocrm_duplicate_ids.csv",
        {},
        (3, 2, 1),
        [(3, "deal_id", "duplicate key deal_id='5001' within file (first at row 1)")],
    ),
    (
        "calls",
        "calls_future_date.csv",
        {},
        (2, 1, 1),
        [
            (
                2,
                "created_at",
                "created_at: future date '2030-01-01 10:00:00' (later than 2024-06-02 12:00)",
            )
        ],
    ),
    (
        "direct",
        "direct_negative_cost.tsv",
        {},
        (2, 1, 1),
        [(2, "cost", "cost: '-100.00' is below the minimum 0")],
    ),
    (
        "amocrm",
        "amocrm_unknown_stage.csv",
        {},
        (1, 0, 1),
        [(1, "stage", "stage: 'Тендер' is not one of new, mql, sql, demo, proposal, won, lost")],
    ),
    (
        "amocrm",
        "amocrm_bad_dates.csv",
        {},
        (3, 1, 2),
        [
            (1, "created_at", "created_at: not a TIMESTAMP: '2024-02-31 10:00:00'"),
            (2, "created_at", "created_at: not a TIMESTAMP: '2024/05/01'"),
        ],
    ),
    (
        "metrica",
        "metrica_bad_values.tsv",
        NO_GOALS,
        (4, 1, 3),
        [
            (2, "visit_id", "visit_id: missing required value"),
            (3, "pageviews", "pageviews: '0' is below the minimum 1"),
            (4, "device", "device: '5' is not one of desktop, mobile, tablet"),
        ],
    ),
    ("calls", "calls_mixed_timezones.csv", {}, (4, 4, 0), []),
    ("calls", "calls_header_only.csv", {}, (0, 0, 0), []),
    ("calls", "calls_cp1251.csv", {}, (2, 2, 0), []),
    ("google_ads", "google_ads_bom_crlf.csv", {}, (1, 1, 0), []),
]


@pytest.mark.parametrize(
    ("kind", "name", "options", "counts", "rows"), QUARANTINES, ids=[q[1] for q in QUARANTINES]
)
def test_bad_rows_are_quarantined_exactly_and_counts_reconcile(
    con, kind, name, options, counts, rows
):
    path = BAD / name
    result = load_source(con, kind, path, salt=SALT, now=NOW, **options)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == counts
    assert result.source_file == str(path.resolve())
    assert quarantined(con) == rows
    assert_reconciled(con, result)


def test_comma_decimals_load_as_numbers(con):
    load_source(con, "amocrm", BAD / "amocrm_comma_decimals.csv", salt=SALT, now=NOW)
    amounts = con.execute("SELECT deal_id, amount FROM deals ORDER BY deal_id").fetchall()
    assert amounts == [("5001", 567703932.0), ("5002", 1250.5), ("5004", 1234.5)]


def test_mixed_time_zones_convert_to_account_local_time(con):
    load_source(con, "calls", BAD / "calls_mixed_timezones.csv", salt=SALT, now=NOW)
    times = con.execute("SELECT lead_id, created_at FROM leads ORDER BY lead_id").fetchall()
    moscow_ten = datetime(2024, 5, 1, 10, 0)
    assert times == [("c1", moscow_ten), ("c2", moscow_ten), ("c3", moscow_ten), ("c4", moscow_ten)]


def test_foreign_currency_loads_with_a_rate(con):
    result = load_source(
        con, "google_ads", BAD / "google_ads_usd.csv", salt=SALT, now=NOW, rates={"USD": 90.0}
    )
    assert result.rows_loaded == 1
    assert con.execute("SELECT cost FROM spend").fetchone()[0] == 1125.0


def test_cp1251_calls_are_detected_and_decoded(con):
    load_source(con, "calls", BAD / "calls_cp1251.csv", salt=SALT, now=NOW)
    assert con.execute("SELECT lead_id, lead_type FROM leads ORDER BY 1").fetchall() == [
        ("c1", "call"),
        ("c2", "form"),
    ]


def test_bom_crlf_report_drops_title_and_total_lines(con):
    load_source(con, "google_ads", BAD / "google_ads_bom_crlf.csv", salt=SALT, now=NOW)
    assert con.execute("SELECT campaign, impressions, clicks, cost FROM spend").fetchall() == [
        ("gads_search_brand", 100, 10, 1000.0)
    ]


def test_metrica_comma_separated_csv_loads_like_the_tsv(con):
    """An ETL tool's comma CSV of Logs API fields: one direct visit, as in the file."""
    result = load_source(
        con, "metrica", BAD / "metrica_comma_separated.csv", salt=SALT, now=NOW, **NO_GOALS
    )
    assert (result.rows_in, result.rows_loaded) == (1, 1)
    assert con.execute(
        "SELECT visit_id, visitor_id, visit_start, landing_page, pageviews, duration_s, channel "
        "FROM visits"
    ).fetchall() == [("9001", "111", datetime(2024, 5, 1, 10), "/", 1, 10, "direct")]


def test_decimal_comma_in_an_english_report_is_read_as_a_decimal(con):
    """'12,50' has two digits after the comma: it cannot be a thousands group, so 12.50."""
    result = load_source(
        con, "google_ads", BAD / "google_ads_decimal_comma.csv", salt=SALT, now=NOW
    )
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (2, 2, 0)
    assert con.execute("SELECT creative, cost FROM spend ORDER BY 1").fetchall() == [
        ("1", 12.5),
        ("2", 12.5),
    ]


def test_custom_fields_sharing_a_name_are_read_as_one_with_a_note(con):
    """Two 'Бюджет' columns (1,00 and 2,00): the first non-empty value, 1.00, and a note."""
    result = load_source(con, "amocrm", BAD / "amocrm_duplicate_column.csv", salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded) == (1, 1)
    assert con.execute("SELECT amount FROM deals").fetchall() == [(1.0,)]
    assert (
        "column 'Бюджет' appears 2 times (custom fields sharing a name): read as amount, the "
        "first non-empty value of each row; 1 row(s) had different values, the first was kept"
    ) in result.notes


# --------------------------------------------------------------------------- issue 16 classes
#
# amocrm_xlsx_as_csv.csv      an Excel workbook (zip) named .csv: refused, says what it is
# calls_gzip.csv.gz           a gzip file: unpacked, loaded, noted
# calls_nul_bytes.csv         NUL bytes inside fields of record 2: that record quarantined
# metrica_nul_block.tsv       a NUL block swallowing a line break (record 2 has 7 fields)
# amocrm_renamed_columns.csv  renamed optional columns: reported by name with a --map hint
# calls_excel_phones.csv      7,90372E+10; доб. 123; two phones; an extension number
# calls_epoch_zero.csv        1970-01-01 times (Unix time 0): quarantined
# amocrm_offsets.csv          Z / +05:00 / +0300 offsets converted to Moscow time
# amocrm_stages_offsets.csv   the same in the stage history


def test_excel_workbook_given_as_csv_is_named_as_such(con):
    path = BAD / "amocrm_xlsx_as_csv.csv"
    with pytest.raises(InputError) as raised:
        load_source(con, "amocrm", path, salt=SALT, now=NOW)
    assert str(raised.value) == (
        f"{path.resolve()}: this is an Excel workbook (.xlsx, a zip archive), not a CSV/TSV "
        f"text export; save it as CSV (UTF-8) or download the report as CSV, then load that file"
    )


def test_gzip_file_is_unpacked_and_loaded(con):
    result = load_source(con, "calls", BAD / "calls_gzip.csv.gz", salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded) == (1, 1)
    assert "gzip file, unpacked before reading" in result.notes
    assert con.execute("SELECT lead_id, created_at FROM leads").fetchall() == [
        ("c1", datetime(2024, 5, 1, 10))
    ]


def test_folder_given_as_file_is_a_clear_line(con):
    with pytest.raises(
        InputError, match=r"fixtures/bad: is a folder, not a file; pass the export file itself$"
    ):
        load_source(con, "calls", BAD, salt=SALT, now=NOW)


def test_unreadable_file_is_a_clear_line(con, tmp_path, monkeypatch):
    """Permission denied (simulated: the tests may run as root, who reads anything)."""
    path = tmp_path / "calls.csv"
    path.write_text("ID звонка;Дата\nc1;01.05.2024\n", encoding="utf-8")
    original = type(path).read_bytes

    def denied(self):
        if self == path.resolve():
            raise PermissionError(13, "Permission denied")
        return original(self)

    monkeypatch.setattr(type(path), "read_bytes", denied)
    with pytest.raises(InputError, match=r"calls\.csv: cannot read the file: Permission denied$"):
        load_source(con, "calls", path, salt=SALT, now=NOW)


def test_a_field_over_128_kb_is_read(con, tmp_path):
    """A 200,000-character quoted note (Python's csv refuses over 131,072 by default)."""
    note = "заметка " * 25_000
    path = tmp_path / "deals.csv"
    path.write_text(
        f'ID;Этап сделки;Дата создания;Примечание\n1;Переговоры;01.05.2024 10:00:00;"{note}"\n',
        encoding="utf-8",
    )
    result = load_source(con, "amocrm", path, salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded) == (1, 1)


def test_nul_bytes_quarantine_the_damaged_record_with_the_reason(con):
    path = BAD / "calls_nul_bytes.csv"
    result = load_source(con, "calls", path, salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    assert_reconciled(con, result)
    assert quarantined(con) == [
        (
            2,
            "Номер абонента",
            "damaged bytes: NUL (0x00) in column 'Номер абонента' at line 3; "
            "the record cannot be trusted, re-export the file",
        )
    ]
    assert con.execute("SELECT lead_id FROM leads ORDER BY 1").fetchall() == [("c1",), ("c3",)]
    assert not any("internal" in n for n in result.notes)


def test_nul_block_swallowing_a_line_break_is_quarantined_not_merged(con):
    result = load_source(
        con, "metrica", BAD / "metrica_nul_block.tsv", salt=SALT, now=NOW, **NO_GOALS
    )
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    assert quarantined(con) == [
        (
            2,
            "ym:s:dateTime",
            "damaged bytes: NUL (0x00) in column 'ym:s:dateTime' at line 3 (7 fields, header "
            "has 5); the record cannot be trusted, re-export the file",
        )
    ]
    assert con.execute("SELECT visit_id FROM visits ORDER BY 1").fetchall() == [
        ("9001",),
        ("9004",),
    ]


def test_renamed_and_unknown_columns_are_reported_by_name(con):
    result = load_source(con, "amocrm", BAD / "amocrm_renamed_columns.csv", salt=SALT, now=NOW)
    assert result.rows_loaded == 1
    assert result.notes[:3] == (
        "column(s) kept as lead fields (lead_fields): 'Сумма сделки', "
        "'Ответственный менеджер', 'Теги'",
        "column 'Сумма сделки' looks like amount (kept as a lead field); if it is, load with "
        '--map "Сумма сделки=amount" or save the mapping in params/sources.yaml',
        "column 'Ответственный менеджер' looks like manager (kept as a lead field); if it "
        "is, load with "
        '--map "Ответственный менеджер=manager" or save the mapping in params/sources.yaml',
    )
    assert result.notes[3].startswith("optional field(s) absent, loaded empty: lead_id, pipeline")
    # the same words are kept in load_log beside the counts
    logged = con.execute(
        "SELECT warnings FROM load_log WHERE load_id = ?", [result.load_id]
    ).fetchone()[0]
    assert logged.split("; ")[0] == result.notes[0]
    assert '--map "Сумма сделки=amount"' in logged and "loaded empty: lead_id" in logged


def test_excel_mangled_extension_and_double_phones(con):
    """c1 '7,90372E+10' lost its digits: not hashed (NULL), flagged. c2 '... доб. 123' and
    c3 'first, second' hash as +7 903 123-45-67. c4 '105' is an extension: not hashed."""
    result = load_source(con, "calls", BAD / "calls_excel_phones.csv", salt=SALT, now=NOW)
    assert (result.rows_loaded, result.rows_quarantined) == (4, 0)
    expected = hashlib.sha256((SALT + "79031234567").encode()).hexdigest()
    assert con.execute("SELECT lead_id, phone_hash FROM leads ORDER BY 1").fetchall() == [
        ("c1", None),
        ("c2", expected),
        ("c3", expected),
        ("c4", None),
    ]
    assert result.notes[1:] == (
        "phone: 1 value(s) in Excel scientific notation (e.g. '7,90372E+10'; rows 1) cannot be "
        "recovered: not hashed, loaded empty; export the phone column as text",
        "phone: extension (доб. / ext.) stripped from 1 phone(s)",
        "phone: 1 field(s) hold two phones (rows 3): the first is kept",
        "phone: 1 internal or extension number(s) (rows 4) are not a customer's phone: not hashed",
    )


def test_epoch_zero_times_are_not_loaded_as_real_calls(con):
    result = load_source(con, "calls", BAD / "calls_epoch_zero.csv", salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (3, 1, 2)
    reason = (
        "epoch-zero time {!r} (Unix time 0, an empty time in the exporting system): not a real time"
    )
    assert quarantined(con) == [
        (1, "created_at", reason.format("1970-01-01 00:00:00")),
        (2, "created_at", reason.format("1970-01-01 03:00:00")),
    ]


def test_offsets_are_converted_in_the_crm_adapters(con):
    """07:00Z, 12:00+05:00 and 10:00+0300 are all 10:00 in Moscow (UTC+3)."""
    load_source(con, "amocrm", BAD / "amocrm_offsets.csv", salt=SALT, now=NOW)
    assert con.execute(
        "SELECT deal_id, created_at, closed_at FROM deals ORDER BY 1"
    ).fetchall() == [
        ("5001", datetime(2024, 5, 1, 10), None),
        ("5002", datetime(2024, 5, 1, 10), datetime(2024, 5, 2, 10)),
    ]
    load_source(con, "amocrm_stages", BAD / "amocrm_stages_offsets.csv", salt=SALT, now=NOW)
    assert con.execute("SELECT stage, entered_at FROM deal_stages ORDER BY 2").fetchall() == [
        ("mql", datetime(2024, 5, 1, 10)),
        ("sql", datetime(2024, 5, 2, 10)),
    ]


def test_a_ga4_session_split_over_two_daily_files_is_merged(con):
    """Session 7777.1714000000.1714596600 starts 2024-05-01 20:50:00 UTC (23:50 Moscow):
    day 1 has page views at +0 and +300 s (/ and /pricing), day 2 at +900 and +1200 s.
    Merged: start 23:50:00, duration 1200 s, 4 page views, pricing seen, landing '/'.
    Loading day 2 again is not a continuation: a duplicate, quarantined."""
    first = load_source(con, "ga4", BAD / "ga4_split_day1.ndjson", salt=SALT, now=NOW)
    second = load_source(con, "ga4", BAD / "ga4_split_day2.ndjson", salt=SALT, now=NOW)
    assert (first.rows_loaded, second.rows_loaded) == (1, 1)
    assert con.execute(
        "SELECT visit_id, visit_start, duration_s, pageviews, goal_pricing, landing_page, device "
        "FROM visits"
    ).fetchall() == [
        (
            "7777.1714000000.1714596600",
            datetime(2024, 5, 1, 23, 50),
            1200,
            4,
            True,
            "/",
            "mobile",
        )
    ]
    assert second.notes == (
        "1 session(s) continued from an earlier file merged (start = the earlier start, "
        "end = the later end, page views summed)",
    )
    again = load_source(con, "ga4", BAD / "ga4_split_day2.ndjson", salt=SALT, now=NOW)
    assert (again.rows_loaded, again.rows_quarantined) == (0, 1)
    assert con.execute("SELECT pageviews FROM visits").fetchall() == [(4,)]


EVERY_TEXT_KIND = [
    ("metrica", NO_GOALS),
    ("ga4", {}),
    ("amocrm", {}),
    ("amocrm_stages", {}),
    ("calls", {}),
    ("direct", {}),
    ("google_ads", {}),
]


@pytest.mark.parametrize(("kind", "options"), EVERY_TEXT_KIND, ids=[k for k, _ in EVERY_TEXT_KIND])
def test_every_adapter_names_a_workbook_and_a_folder(con, kind, options):
    workbook = BAD / "amocrm_xlsx_as_csv.csv"
    with pytest.raises(InputError, match=r"this is an Excel workbook \(\.xlsx, a zip archive\)"):
        load_source(con, kind, workbook, salt=SALT, now=NOW, **options)
    with pytest.raises(InputError, match=r": is a folder, not a file; pass the export file itself"):
        load_source(con, kind, BAD, salt=SALT, now=NOW, **options)


def test_nul_bytes_in_an_amocrm_export_quarantine_the_deal(con, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(
        "ID;Этап сделки;Дата создания;Бюджет\n"
        "1;Переговоры;01.05.2024 10:00:00;1 000\n"
        "2;Перег\x00\x00\x00;01.05.2024 11:00:00;2 000\n",
        encoding="utf-8",
    )
    result = load_source(con, "amocrm", path, salt=SALT, now=NOW)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert quarantined(con) == [
        (
            2,
            "Этап сделки",
            "damaged bytes: NUL (0x00) in column 'Этап сделки' at line 3; "
            "the record cannot be trusted, re-export the file",
        )
    ]


def test_epoch_zero_dates_in_an_amocrm_export(con, tmp_path):
    """created_at at Unix time 0 quarantines the deal; closed_at at Unix time 0 is an
    empty closing date (the deal is open), read as NULL and noted."""
    path = tmp_path / "deals.csv"
    path.write_text(
        "ID;Этап сделки;Дата создания;Дата закрытия\n"
        "1;Переговоры;01.01.1970 03:00:00;\n"
        "2;Переговоры;01.05.2024 10:00:00;1970-01-01T00:00:00Z\n",
        encoding="utf-8",
    )
    result = load_source(con, "amocrm", path, salt=SALT, now=NOW)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert con.execute("SELECT deal_id, closed_at FROM deals").fetchall() == [("2", None)]
    assert [r[:2] for r in quarantined(con)] == [(1, "created_at")]
    assert (
        "closed_at: 1 epoch-zero time(s) (1970-01-01, an empty date) read as empty" in result.notes
    )


def test_a_merged_ga4_session_is_not_merged_again_by_a_re_pulled_day(con, tmp_path):
    """After day 1 + day 2 are merged (23:50:00, 1200 s), day 2 landed again under another
    name (a connector's lookback) overlaps the stored session: quarantined, 4 page views stay."""
    load_source(con, "ga4", BAD / "ga4_split_day1.ndjson", salt=SALT, now=NOW)
    load_source(con, "ga4", BAD / "ga4_split_day2.ndjson", salt=SALT, now=NOW)
    again = tmp_path / "events_20240502_pull2.ndjson"
    again.write_bytes((BAD / "ga4_split_day2.ndjson").read_bytes())
    result = load_source(con, "ga4", again, salt=SALT, now=NOW)
    assert (result.rows_loaded, result.rows_quarantined) == (0, 1)
    assert con.execute("SELECT visit_start, duration_s, pageviews FROM visits").fetchall() == [
        (datetime(2024, 5, 1, 23, 50), 1200, 4)
    ]


def test_ga4_day_two_loaded_before_day_one_merges_the_same(con):
    """Files in the other order: the earlier part comes second and still gives one visit."""
    load_source(con, "ga4", BAD / "ga4_split_day2.ndjson", salt=SALT, now=NOW)
    load_source(con, "ga4", BAD / "ga4_split_day1.ndjson", salt=SALT, now=NOW)
    assert con.execute(
        "SELECT visit_start, duration_s, pageviews, goal_pricing, landing_page FROM visits"
    ).fetchall() == [(datetime(2024, 5, 1, 23, 50), 1200, 4, True, "/")]
