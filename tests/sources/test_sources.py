"""Tests for :mod:`analytics.sources`: ``load_source``, export reading and value formats."""

from __future__ import annotations

import pandas as pd
import pytest
from source_checks import FIXTURES, NOW, SALT

from analytics.sources import (
    SOURCE_KINDS,
    decimal_text,
    load_source,
    local_time_text,
    read_export,
    ru_datetime_text,
)
from analytics.warehouse import InputError

COLUMNS = {"id": ("ID", "Идентификатор"), "phone": ("Рабочий телефон", "Мобильный телефон")}


def test_every_kind_resolves_to_a_loader():
    for kind, (module, function) in SOURCE_KINDS.items():
        loader = getattr(__import__(module, fromlist=[function]), function)
        assert callable(loader), kind
    assert set(SOURCE_KINDS) >= {"metrica", "ga4", "amocrm", "calls", "direct", "google_ads"}


def test_unknown_kind_and_option_raise_input_errors(con):
    with pytest.raises(InputError, match="unknown source kind 'bitrix'; expected one of metrica"):
        load_source(con, "bitrix", FIXTURES / "amocrm_deals.csv", salt=SALT)
    with pytest.raises(InputError, match="source 'amocrm': .*unexpected keyword argument 'vat'"):
        load_source(con, "amocrm", FIXTURES / "amocrm_deals.csv", salt=SALT, now=NOW, vat=0.2)


def test_header_is_found_below_title_lines_and_alias_columns_coalesce(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "Отчёт за май\n\n"
        "Идентификатор;Мобильный телефон;Рабочий телефон;Лишнее\n"
        "1;+7 900;+7 800;x\n"
        "2;+7 901;;\n"
        "3; -- ;;\n"
    )
    table = read_export(path, COLUMNS, ["id"], vendor="test export", null_values=("--",))
    assert table.header == ["Идентификатор", "Мобильный телефон", "Рабочий телефон", "Лишнее"]
    assert table.found == {"id": "Идентификатор", "phone": "Рабочий телефон"}
    assert table.rows.tolist() == [1, 2, 3]
    assert table.frame.astype(object).where(table.frame.notna(), None).values.tolist() == [
        ["1", "+7 800"],  # work phone first (alias order), mobile when it is empty
        ["2", "+7 901"],
        ["3", None],
    ]


def test_delimiter_is_sniffed_and_trailing_delimiters_are_tolerated(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("ID\tРабочий телефон\t\n1\t+7 900\t\n")
    table = read_export(path, COLUMNS, ["id"], vendor="test export")
    assert table.frame["phone"].tolist() == ["+7 900"]


def test_extra_field_in_a_line_rejects_the_file(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("ID;Рабочий телефон\n1;+7 900\n2;+7;901\n")
    with pytest.raises(InputError) as raised:
        read_export(path, COLUMNS, ["id"], vendor="test export")
    assert str(raised.value) == (
        f"{path.resolve()}: malformed test export at line 3: 3 field(s) where the header has 2; "
        "fix or re-export the file (nothing was loaded from it)"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("567 703 932,00", "567703932.00"),
        ("567\u00a0703\u00a0932,00", "567703932.00"),
        ("1.234,5", "1234.5"),
        ("1 250", "1250"),
        ("99,9 руб.", "99.9"),
        ("-5", "-5"),
        ("12,3,4", "12,3,4"),
        ("n/a", "n/a"),
        (None, None),
    ],
)
def test_decimal_text(raw, expected):
    assert decimal_text(pd.Series([raw], dtype=object)).tolist() == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("01.05.2024 10:20:00", "2024-05-01 10:20:00"),
        ("1.5.2024 9:05", "2024-05-01 09:05:00"),
        ("22/05/2024 10:15:34", "2024-05-22 10:15:34"),
        ("01.05.2024", "2024-05-01"),
        ("2024-05-01 10:00:00", "2024-05-01 10:00:00"),
        ("31.02.2024", "2024-02-31"),
        ("вчера", "вчера"),
    ],
)
def test_ru_datetime_text(raw, expected):
    assert ru_datetime_text(pd.Series([raw], dtype=object)).tolist() == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01T10:00:00+03:00", "2024-05-01 10:00:00"),
        ("2024-05-01 05:00:00+0000", "2024-05-01 08:00:00"),
        ("2024-05-01T21:30:00Z", "2024-05-02 00:30:00"),
        ("2024-05-01 10:00:00", "2024-05-01 10:00:00"),
        ("2024-13-01T10:00:00+03:00", "2024-13-01T10:00:00+03:00"),
    ],
)
def test_local_time_text_converts_offsets_to_moscow(raw, expected):
    assert local_time_text(pd.Series([raw], dtype=object)).tolist() == [expected]


def test_load_frame_validates_like_a_file_with_given_row_numbers(con):
    from analytics import warehouse as wh

    frame = pd.DataFrame(
        {
            "lead_id": ["a", "b", "a"],
            "created_at": ["2024-05-01 10:00:00", "yesterday", "2024-05-01 11:00:00"],
            "lead_type": ["call", "call", "form"],
            "phone": ["8 (900) 111-22-33", None, None],
            "not_in_schema": ["x", "y", "z"],
        },
        dtype=object,
    )
    result = wh.load_frame(
        con,
        "leads",
        frame,
        source_file="crm://export/7",
        salt=SALT,
        row_numbers=[10, 20, 30],
        now=NOW,
    )
    assert (result.source_file, result.rows_in, result.rows_loaded) == ("crm://export/7", 3, 1)
    assert con.execute("SELECT row_number, column_name, reason FROM quarantine").fetchall() == [
        (20, "created_at", "created_at: not a TIMESTAMP: 'yesterday'"),
        (30, "lead_id", "duplicate key lead_id='a' within file (first at row 10)"),
    ]
    phone = con.execute("SELECT phone_hash FROM leads").fetchone()[0]
    assert phone == wh.hash_pii("+79001112233", "phone", SALT)
    with pytest.raises(InputError, match="2 row numbers given for 3 rows"):
        wh.load_frame(con, "leads", frame, source_file="x", salt=SALT, row_numbers=[1, 2])
    with pytest.raises(InputError, match="row numbers are not unique"):
        wh.load_frame(con, "leads", frame, source_file="x", salt=SALT, row_numbers=[1, 1, 2])
    with pytest.raises(InputError, match="missing required column"):
        wh.load_frame(con, "leads", frame[["lead_id"]], source_file="x", salt=SALT)


def test_day_text_drops_an_etl_midnight_and_its_offset():
    """Ad report days are labels: '2024-05-01T00:00:00+05:00' is 1 May, not 30 April."""
    from analytics.sources import day_text

    values = pd.Series(
        ["2024-05-01T00:00:00Z", "2024-05-01 00:00:00+05:00", "01.05.2024", "2024-05-01", None]
    )
    assert day_text(values).tolist() == [
        "2024-05-01",
        "2024-05-01",
        "2024-05-01",
        "2024-05-01",
        None,
    ]


@pytest.mark.parametrize(
    ("raw", "decimal_comma", "expected"),
    [
        (["1,356,884"], False, ["1356884"]),
        (["1,356,884.50"], True, ["1356884.50"]),
        (["1 356 884,50"], False, ["1356884.50"]),
        (["1\u00a0356\u00a0884"], False, ["1356884"]),
        (["1.356.884,50"], False, ["1356884.50"]),
        (["1,356"], False, ["1356"]),
        (["1,356"], True, ["1.356"]),
        (["1,356", "12,50"], False, ["1.356", "12.50"]),
        (["1,356", "2,000,000"], True, ["1356", "2000000"]),
        (["12.5 ₽"], True, ["12.5"]),
        (["abc"], True, ["abc"]),
    ],
)
def test_number_text_reads_both_thousands_styles(raw, decimal_comma, expected):
    """Hand-read values; an ambiguous '1,356' follows the column's unambiguous values."""
    from analytics.sources import number_text

    assert number_text(pd.Series(raw), decimal_comma=decimal_comma).tolist() == expected


def test_counts_read_dot_and_comma_groups_as_thousands():
    from analytics.sources import number_text

    out = number_text(pd.Series(["1.234", "1,234", "12"]), decimal_comma=True, integer=True)
    assert out.tolist() == ["1234", "1234", "12"]


def test_day_text_reads_worded_days_of_the_web_interfaces():
    from analytics.sources import day_text

    values = pd.Series(
        ["Jun 1, 2025", "Mon, Jun 2, 2025", "3 июн. 2025 г.", "4 июня 2025", "Jun 31, 2025"]
    )
    assert day_text(values).tolist() == [
        "2025-06-01",
        "2025-06-02",
        "2025-06-03",
        "2025-06-04",
        "Jun 31, 2025",  # no such day: left for the warehouse check to report
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"June 1, 2025 - June 30, 2025"', ("2025-06-01", "2025-06-30")),
        ("1 июня 2025 г. - 30 июня 2025 г.", ("2025-06-01", "2025-06-30")),
        ("Статистика по кампаниям (01.06.2025 - 30.06.2025)", ("2025-06-01", "2025-06-30")),
        ("CUSTOM_REPORT (2025-06-01 - 2025-06-30)", ("2025-06-01", "2025-06-30")),
        ("2025-06-01..2025-06-07", ("2025-06-01", "2025-06-07")),
        ("Campaign report", None),
        ("30.06.2025 - 01.06.2025", None),
    ],
)
def test_parse_period_reads_report_period_lines(line, expected):
    from datetime import date

    from analytics.sources import parse_period

    found = parse_period(line)
    assert found == (None if expected is None else tuple(date.fromisoformat(d) for d in expected))
