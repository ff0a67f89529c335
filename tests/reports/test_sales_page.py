"""Tests for analytics.reports.sales_page: the call list and the managers' table.

Managers' figures are checked on the hand-made warehouse of ``funnel_fixture``
(week 2025-W23), with managers assigned here: D1 (won 100 000) and D2 (lost)
to Анна, D4 (won 50 000) and DX (won 777) to Борис. Hand computation:
Анна closed 2, won 1, win rate 50 %, revenue 100 000 ₽; Борис closed 2,
won 2, win rate 100 %, revenue 50 777 ₽; together 4 closed, 3 won = 75 %.
"""

import duckdb
import pandas as pd
import pytest
from funnel_fixture import fill

from analytics.metrics.period import parse_period
from analytics.reports import sales_page

NBSP = "\u00a0"


@pytest.fixture
def week_con():
    con = duckdb.connect(":memory:")
    fill(con)
    for deal, manager in (("D1", "Анна"), ("D2", "Анна"), ("D4", "Борис"), ("DX", "Борис")):
        con.execute("UPDATE deals SET manager = ? WHERE deal_id = ?", [manager, deal])
    yield con, parse_period("2025-W23", pd.Timestamp("2025-06-10").date())
    con.close()


def test_managers_frame_matches_the_hand_computation(week_con):
    con, period = week_con
    frame = sales_page.manager_frame(con, period).set_index("manager")
    assert frame.loc["Анна", ["closed", "won"]].tolist() == [2, 1]
    assert frame.loc["Борис", ["closed", "won"]].tolist() == [2, 2]
    assert frame.loc["Анна", "win_rate"] == pytest.approx(50.0)
    assert frame.loc["Борис", "win_rate"] == pytest.approx(100.0)
    assert frame.loc["Анна", "revenue"] == pytest.approx(100_000)
    assert frame.loc["Борис", "revenue"] == pytest.approx(50_777)


def test_managers_section_opens_with_its_conclusion_in_russian(week_con):
    con, period = week_con
    html = sales_page.managers_section(con, period, "ru")
    assert (
        f"Закрыто: 4 сделки, выиграно: 3 (конверсия 75,0{NBSP}%); "
        f"лучшая конверсия у менеджера Борис (100,0{NBSP}%)."
    ) in html
    assert f"50{NBSP}777{NBSP}₽" in html and "<th" in html and "Конверсия в продажу" in html


def test_a_period_without_closed_deals_says_so(week_con):
    con, _ = week_con
    quiet = parse_period("2025-W10", pd.Timestamp("2025-06-10").date())
    assert "За период ни одна сделка не закрыта." in sales_page.managers_section(con, quiet, "ru")


def _calls() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead": ["L1", "L2", "L3"],
            "label": ["<script>alert(1)</script>", "Форма, IT", "Чат"],
            "owner": ["Анна", "", "Борис"],
            "channel": ["yandex_search", "direct", "email"],
            "hours_since_request": [5.0, 30.0, 2.0],
            "score": [71, 40, 12],
            "band": ["A", "B", "D"],
            "reasons": ["+ смотрел страницу цен", "+ отрасль: IT", "− не заполнено"],
            "probability": [0.71, 0.40, 0.12],
        }
    )


def test_call_list_section_counts_bands_escapes_and_truncates():
    html = sales_page.call_list_section(_calls(), "ru", max_rows=2)
    # 3 is "few" in Russian plural rules: «3 заявки»
    assert "3 заявки за период; в группе A (звонить первыми) — 1, в группе B — 1." in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Показаны первые 2 из 3" in html
    assert '<img src="data:image/png;base64,' in html and 'alt="Заявки по группам"' in html
    assert "Чат" not in html  # the third row is only in the CSV
    assert "Яндекс" in html  # channel names from params/channels.yaml labels
    for header in ("Группа", "Балл", "Описание", "Почему", "Менеджер", "Канал"):
        assert f">{header}</th>" in html


def test_empty_call_list():
    empty = _calls().iloc[:0]
    assert "нет — звонить некому" in sales_page.call_list_section(empty, "ru")
    assert "nobody to call" in sales_page.call_list_section(empty, "en")


def test_managers_section_from_a_frame_computed_once_is_the_same_page(week_con):
    """The notebooks compute the managers' table once for every language of the page
    (``frame=``): each language's section is the one computed from the warehouse, and
    the warehouse is not read again (``con`` None would fail)."""
    con, period = week_con
    frame = sales_page.manager_frame(con, period)
    for locale in ("ru", "en"):
        alone = sales_page.managers_section(con, period, locale)
        assert sales_page.managers_section(None, period, locale, frame=frame) == alone
    assert "Борис" in alone
