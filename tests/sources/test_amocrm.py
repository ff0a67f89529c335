"""Tests for :mod:`analytics.sources.amocrm`: deals export and stage history."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from source_checks import FIXTURES, NOW, SALT, assert_reconciled, quarantined

from analytics.sources import amocrm
from analytics.warehouse import hash_pii


def test_cp1251_export_loads_statuses_amounts_and_fields(con):
    result = amocrm.load_deals(con, FIXTURES / "amocrm_deals.csv", salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (4, 4, 0)
    assert_reconciled(con, result)
    rows = con.execute(
        "SELECT deal_id, lead_id, created_at, closed_at, status, status_id, stage, loss_reason, "
        "amount, manager, utm_campaign, region FROM deals ORDER BY deal_id"
    ).fetchall()
    assert rows == [
        (
            "31544001",
            "L0000001",
            datetime(2024, 5, 1, 10, 20),
            datetime(2024, 5, 20, 16, 45, 10),
            "won",
            142,
            "won",
            None,
            567703932.0,
            "Анна Смирнова",
            "yd_search_brand",
            "Москва",
        ),
        (
            "31544002",
            "L0000002",
            datetime(2024, 5, 2, 11, 0),
            datetime(2024, 5, 3, 9, 0),
            "lost",
            143,
            "lost",
            "Дорого",
            1250.5,
            "Игорь Волков",
            "gads_search_generic",
            "Казань",
        ),
        (
            "31544003",
            None,
            datetime(2024, 5, 3, 12, 30),
            None,
            "open",
            None,
            "sql",
            None,
            None,
            "Елена Попова",
            None,
            None,
        ),
        (
            "31544004",
            None,
            datetime(2024, 5, 4, 9, 15),
            None,
            "open",
            None,
            "new",
            None,
            0.0,
            "Мария Новикова",
            None,
            None,
        ),
    ]


def test_contact_phone_and_email_are_hashed_into_deal_contacts(con):
    amocrm.load_deals(con, FIXTURES / "amocrm_deals.csv", salt=SALT, now=NOW)
    contacts = con.execute("SELECT * FROM deal_contacts ORDER BY deal_id").fetchall()
    assert contacts == [
        (
            "31544001",
            hash_pii("+7 (912) 345-67-89", "phone", SALT),
            hash_pii("info@romashka.ru", "email", SALT),
        ),
        ("31544002", hash_pii("79031112233", "phone", SALT), None),
        # the mobile phone is taken when the work phone is empty
        ("31544003", hash_pii("+7 999 000-11-22", "phone", SALT), None),
        ("31544004", None, hash_pii("client9@mail.ru", "email", SALT)),
    ]
    raw = con.execute("SELECT * FROM deals").df().to_string()
    assert "345-67-89" not in raw and "romashka" not in raw.lower()


def test_status_id_column_wins_and_custom_stage_names_map(con, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(
        "ID;ID этапа;Этап сделки;Воронка;Дата создания\n"
        "1;142;Оплачено;Партнёры;01.05.2024 10:00:00\n"
        "2;143;Отказ;Партнёры;01.05.2024 10:00:00\n"
        "3;55501;Тендер;Партнёры;01.05.2024 10:00:00\n"
        "4;55502;Тендер;Продажи;01.05.2024 10:00:00\n",
        encoding="utf-8",
    )
    stages = {"Оплачено": "won", "Отказ": "lost", "Партнёры / Тендер": "proposal"}
    result = amocrm.load_deals(con, path, salt=SALT, stages=stages, now=NOW)
    rows = con.execute("SELECT deal_id, status, status_id, stage FROM deals ORDER BY 1").fetchall()
    assert rows == [
        ("1", "won", 142, "won"),
        ("2", "lost", 143, "lost"),
        ("3", "open", 55501, "proposal"),
    ]
    # the pipeline-scoped name does not apply to another pipeline
    assert quarantined(con) == [
        (4, "stage", "stage: 'Тендер' is not one of new, mql, sql, demo, proposal, won, lost")
    ]
    assert_reconciled(con, result)


def test_quarantined_deals_get_no_contacts(con, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(
        "ID;Этап сделки;Дата создания;Телефон\n"
        "1;Переговоры;01.05.2024 10:00:00;+79001112233\n"
        "1;Переговоры;01.05.2024 10:00:00;+79004445566\n",
        encoding="utf-8",
    )
    amocrm.load_deals(con, path, salt=SALT, now=NOW)
    contacts = con.execute("SELECT deal_id, phone_hash FROM deal_contacts").fetchall()
    assert contacts == [("1", hash_pii("+79001112233", "phone", SALT))]


def test_stage_history_loads_into_deal_stages(con):
    result = amocrm.load_stage_history(
        con, FIXTURES / "amocrm_stage_history.csv", salt=SALT, now=NOW
    )
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (6, 6, 0)
    stages = con.execute(
        "SELECT deal_id, stage, entered_at FROM deal_stages ORDER BY deal_id, entered_at"
    ).df()
    assert stages["stage"].tolist() == ["new", "mql", "sql", "won", "new", "lost"]
    assert stages["entered_at"].iloc[3] == pd.Timestamp("2024-05-20 16:45:10")
    assert_reconciled(con, result)
