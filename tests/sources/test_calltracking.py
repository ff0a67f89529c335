"""Tests for :mod:`analytics.sources.calltracking`: calls / requests report -> ``leads``."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from source_checks import FIXTURES, NOW, SALT, assert_reconciled, quarantined

from analytics.sources import calltracking
from analytics.warehouse import hash_pii


def test_report_loads_calls_chats_and_forms(con):
    result = calltracking.load_calls(con, FIXTURES / "calltracking_calls.csv", salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (5, 5, 0)
    assert_reconciled(con, result)
    rows = con.execute(
        "SELECT lead_id, lead_type, created_at, visitor_id, visit_id, utm_source, "
        "call_duration_s, call_lost, region FROM leads ORDER BY lead_id"
    ).fetchall()
    assert rows == [
        (
            "L0000001",
            "call",
            datetime(2024, 5, 1, 10, 17, 30),
            "1714550123987654321",
            "7351207541872123905",
            "yandex",
            125,
            False,
            "Москва",
        ),
        ("L0000002", "call", datetime(2024, 5, 2, 10, 55), None, None, None, 0, True, None),
        (
            "L0000003",
            "form",
            datetime(2024, 5, 2, 11, 40, 12),
            "1698765432100000001",
            None,
            None,
            None,
            None,
            "Казань",
        ),
        (
            "L0000004",
            "chat",
            datetime(2024, 5, 3, 20, 50),
            "1698765432100000003",
            "7351207541872123909",
            "yandex",
            None,
            None,
            None,
        ),
        # ISO time with +03:00 offset; duration written as h:mm:ss
        (
            "L0000005",
            "call",
            datetime(2024, 5, 4, 8, 3),
            "1698765432100000004",
            None,
            None,
            3723,
            False,
            None,
        ),
    ]


def test_phones_and_emails_are_hashed_with_the_salt(con):
    calltracking.load_calls(con, FIXTURES / "calltracking_calls.csv", salt=SALT, now=NOW)
    hashes = con.execute("SELECT lead_id, phone_hash, email_hash FROM leads ORDER BY 1").df()
    assert hashes["phone_hash"].iloc[0] == hash_pii("+7 (912) 345-67-89", "phone", SALT)
    assert hashes["phone_hash"].iloc[1] == hash_pii("79031112233", "phone", SALT)
    assert hashes["email_hash"].iloc[2] == hash_pii("client7@mail.ru", "email", SALT)
    assert pd.isna(hashes["email_hash"].iloc[0])


def test_unknown_type_and_lost_flag_are_quarantined(con, tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(
        "ID звонка,Тип обращения,Время звонка,Потерянный звонок,Длительность разговора\n"
        "1,Звонок,01.05.2024 10:00:00,может быть,0:30\n"
        "2,Видеозвонок,01.05.2024 10:05:00,,\n"
        "3,,01.05.2024 10:10:00,нет,45\n"
    )
    result = calltracking.load_calls(con, path, salt=SALT, now=NOW)
    assert quarantined(con) == [
        (1, "call_lost", "call_lost: not a BOOLEAN: 'может быть'"),
        (2, "lead_type", "lead_type: 'Видеозвонок' is not one of form, call, chat"),
    ]
    assert con.execute("SELECT lead_id, lead_type, call_duration_s FROM leads").fetchall() == [
        ("3", "call", 45)
    ]
    assert_reconciled(con, result)
