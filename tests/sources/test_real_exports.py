"""Vendor exports as people actually download them (issue 17), with exact outcomes.

Every fixture in ``fixtures/real/`` is written by hand in the vendor's
download shape; each test states the expected rows computed by hand.

=====================================  =================================================
file                                   shape
=====================================  =================================================
google_ads_campaigns_excel_utf16.csv   "Excel CSV": UTF-16LE + BOM, tabs, title and period
                                       lines, ``Total:`` lines, ``"1,356,884"``, `` --``,
                                       no Day segment (aggregated), PMax / Demand Gen / Video
google_ads_daily_ru_utf16be.csv        Russian UI: UTF-16BE + BOM, ``;``, blank line,
                                       ``1 356 884`` (no-break spaces), ``1.234,50``,
                                       ``—`` and ``n/a``, ``Итого`` line
direct_web_campaigns.csv               Direct web export: period in the title, «Мастер
                                       кампаний», ``1.356.884,40``, ``Итого`` line
amocrm_deals_utf8.csv                  UTF-8 with ``,``, multi-line quoted notes, «не
                                       закрыта», ``0000-00-00``, custom fields sharing a name
calls_sipuni.csv                       Sipuni-like log: direction, from / to numbers
calls_uis.csv + sources_uis.yaml       UIS-like log with a saved mapping
metrica_airbyte.jsonl                  ETL JSON lines, snake case, ``Z`` / ``+05:00``, epoch 0
metrica_etl_bare.csv                   ETL CSV, names without ``ym:s:``, offsets
=====================================  =================================================
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import pytest
from source_checks import FIXTURES, NOW, SALT, assert_reconciled, quarantined

from analytics.sources import load_source
from analytics.warehouse import InputError

REAL = FIXTURES / "real"


def phone_hash(digits: str) -> str:
    """Independent reference of the warehouse phone hash: sha256(salt || 7XXXXXXXXXX)."""
    return hashlib.sha256((SALT + digits).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- Google Ads


def test_google_ads_excel_csv_aggregated_report_is_spread_over_its_period(con):
    """Campaign report without Day, period line 'May 1, 2024 - May 10, 2024' (10 days).

    PMax 15,000.05 RUB -> 1,500.00 on days 1-9 and 1,500.05 on day 10 (remainder on the
    last day); 1,356,884 impressions = 10 x 135,688 + 4 -> 135,689 on days 1-4;
    2,410 clicks -> 241 a day. The two ``Total:`` lines are not data.
    """
    result = load_source(
        con, "google_ads", REAL / "google_ads_campaigns_excel_utf16.csv", salt=SALT, now=NOW
    )
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (40, 40, 0)
    assert_reconciled(con, result)
    pmax = con.execute(
        "SELECT date, impressions, clicks, cost FROM spend WHERE campaign = 'PMax | all products' "
        "ORDER BY date"
    ).fetchall()
    days = [date(2024, 5, d) for d in range(1, 11)]
    assert [r[0] for r in pmax] == days
    assert [r[1] for r in pmax] == [135689] * 4 + [135688] * 6
    assert [r[2] for r in pmax] == [241] * 10
    assert [r[3] for r in pmax] == [1500.0] * 9 + [1500.05]
    totals = con.execute(
        "SELECT campaign, channel, utm_medium, ad_group, creative, sum(impressions), sum(clicks), "
        "round(sum(cost), 2) FROM spend GROUP BY ALL ORDER BY campaign"
    ).fetchall()
    assert totals == [
        (
            "Demand Gen | lookalike",
            "google_demand_gen",
            "demand_gen",
            "(all)",
            "(all)",
            120000,
            800,
            4000.0,
        ),
        ("PMax | all products", "google_pmax", "pmax", "(all)", "(all)", 1356884, 2410, 15000.05),
        ("Search | brand", "google_search", "cpc", "(all)", "(all)", 9, 3, 0.07),
        ("YouTube | brand video", "youtube", "video", "(all)", "(all)", 50000, 25, 1234.5),
    ]
    assert any(
        n.startswith("aggregated report (no day column): 4 row(s) spread evenly over 10 day(s)")
        for n in result.notes
    )
    assert "column(s) not read: 'Conv.', 'Avg. CPC'" in result.notes


def test_aggregated_report_period_option_wins_over_the_period_line(con):
    """period=2024-05-01..2024-05-02: two days; Search | brand 0.07 -> 0.03 + 0.04,
    9 impressions -> 5 + 4, 3 clicks -> 2 + 1."""
    load_source(
        con,
        "google_ads",
        REAL / "google_ads_campaigns_excel_utf16.csv",
        salt=SALT,
        now=NOW,
        period="2024-05-01..2024-05-02",
    )
    assert con.execute(
        "SELECT date, impressions, clicks, cost FROM spend "
        "WHERE campaign = 'Search | brand' ORDER BY date"
    ).fetchall() == [(date(2024, 5, 1), 5, 2, 0.03), (date(2024, 5, 2), 4, 1, 0.04)]


def test_aggregated_report_without_a_period_is_refused_with_what_to_do(con, tmp_path):
    path = tmp_path / "campaigns.csv"
    path.write_text("Campaign,Impr.,Clicks,Cost\nc,10,1,5.00\n", encoding="utf-8")
    with pytest.raises(
        InputError,
        match=r"no day column \(Day / Date / Дата\) and no report period: "
        r".*--option period=YYYY-MM-DD\.\.YYYY-MM-DD",
    ):
        load_source(con, "google_ads", path, salt=SALT, now=NOW)
    assert con.execute("SELECT count(*) FROM spend").fetchone()[0] == 0


def test_google_ads_russian_utf16be_semicolon_report(con):
    """Row 1: '1 356 884' / '2 410' / '15 000,05' with no-break spaces -> 1356884, 2410, 15000.05.
    Row 2: currency '—' is empty (RUB by default), impressions '1.234' -> 1234, cost
    '1.234,50' -> 1234.5. Row 3: impressions 'n/a' is empty -> quarantined (required).
    The 'Итого: аккаунт' line is a summary, not data."""
    result = load_source(
        con, "google_ads", REAL / "google_ads_daily_ru_utf16be.csv", salt=SALT, now=NOW
    )
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    assert con.execute(
        "SELECT date, creative, impressions, clicks, cost FROM spend ORDER BY date"
    ).fetchall() == [
        (date(2024, 5, 1), "101", 1356884, 2410, 15000.05),
        (date(2024, 5, 2), "101", 1234, 12, 1234.5),
    ]
    assert quarantined(con) == [(3, "impressions", "impressions: missing required value")]


# --------------------------------------------------------------------------- Yandex Direct


def test_direct_web_export_with_master_campaigns_and_dot_thousands(con):
    """Costs include VAT 20 %: 1.356.884,40 / 1.2 = 1,130,737.00; 120,00 / 1.2 = 100.00.
    «Мастер кампаний» -> medium master -> channel yandex_master."""
    result = load_source(con, "direct", REAL / "direct_web_campaigns.csv", salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded) == (2, 2)
    assert con.execute(
        "SELECT date, campaign, channel, utm_medium, ad_group, impressions, clicks, cost "
        "FROM spend ORDER BY date"
    ).fetchall() == [
        (date(2024, 5, 1), "МК | Товары", "yandex_master", "master", "(all)", 1200, 30, 1130737.0),
        (date(2024, 5, 2), "Поиск | бренд", "yandex_search", "cpc", "(all)", 100, 10, 100.0),
    ]


# --------------------------------------------------------------------------- amoCRM


def test_amocrm_utf8_export_with_placeholders_loads_every_open_deal(con):
    """Five deals, none quarantined: «не закрыта» / «Не закрыта» / '0000-00-00 00:00:00' in
    closed_at and 'не указано' in the amount are 4 placeholders read as NULL ('—' is an
    empty marker, not counted). Multi-line notes do not split records. Offsets: 07:00Z and
    12:00+05:00 are 10:00 in Moscow. Two 'Отрасль' columns: the first non-empty value."""
    result = load_source(con, "amocrm", REAL / "amocrm_deals_utf8.csv", salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (5, 5, 0)
    assert result.placeholders == 4
    assert con.execute(
        "SELECT deal_id, status, stage, amount, created_at, closed_at, industry "
        "FROM deals ORDER BY deal_id"
    ).fetchall() == [
        ("1001", "open", "sql", 150000.0, datetime(2024, 5, 1, 10), None, "IT"),
        (
            "1002",
            "won",
            "won",
            98500.5,
            datetime(2024, 5, 2, 11),
            datetime(2024, 5, 20, 15, 30),
            "Финансы",
        ),
        ("1003", "open", "mql", None, datetime(2024, 5, 3, 10), None, "Логистика"),
        ("1004", "lost", "lost", 12000.0, datetime(2024, 5, 4, 9, 15), None, "IT"),
        ("1005", "open", "new", 5000.0, datetime(2024, 5, 5, 10), None, None),
    ]
    assert (
        "closed_at: 3 placeholder value(s) read as empty "
        "('не закрыта', '0000-00-00 00:00:00', 'Не закрыта')" in result.notes
    )
    assert "amount: 1 placeholder value(s) read as empty ('не указано')" in result.notes
    assert con.execute("SELECT deal_id, phone_hash FROM deal_contacts").fetchall() == [
        ("1001", phone_hash("79031234567"))
    ]


def test_placeholders_are_extended_per_source(con, tmp_path):
    """'сделка открыта' is not built in: quarantined by default, NULL when listed."""
    path = tmp_path / "deals.csv"
    path.write_text(
        "ID,Этап сделки,Дата создания,Дата закрытия\n"
        "1,Переговоры,01.05.2024 10:00:00,сделка открыта\n",
        encoding="utf-8",
    )
    plain = tmp_path / "plain.yaml"
    plain.write_text("amocrm: {}\n", encoding="utf-8")
    result = load_source(con, "amocrm", path, salt=SALT, now=NOW, settings=plain)
    assert (result.rows_loaded, result.rows_quarantined) == (0, 1)
    settings = tmp_path / "sources.yaml"
    settings.write_text("amocrm:\n  placeholders: [сделка открыта]\n", encoding="utf-8")
    con.execute("DELETE FROM quarantine")
    con.execute("DELETE FROM load_log")
    result = load_source(con, "amocrm", path, salt=SALT, now=NOW, settings=settings)
    assert (result.rows_loaded, result.rows_quarantined, result.placeholders) == (1, 0, 1)


# --------------------------------------------------------------------------- calls


SIPUNI_MAP = {"ID записи": "lead_id", "Время": "created_at"}


def test_foreign_call_log_is_refused_with_a_ready_mapping(con):
    path = REAL / "calls_sipuni.csv"
    with pytest.raises(InputError) as raised:
        load_source(con, "calls", path, salt=SALT, now=NOW)
    message = str(raised.value)
    assert message.startswith(
        f"{path.resolve()}: missing required column(s) for a call-tracking report: lead_id ("
    )
    assert (
        "(found: Тип, Статус, Время, Схема, Откуда, Куда, Кто ответил, Длительность звонка, "
        "Длительность разговора, ID записи) [header on line 1, delimiter ';']; map them: "
        'load-source --kind calls --map "Время=created_at" --map "<column>=lead_id"'
    ) in message


def test_sipuni_log_with_a_mapping_loads_incoming_calls_and_callbacks_only(con):
    """5 calls: incoming s-1 and s-5 (from 79031234567), callback s-3 (to 79037776655),
    outgoing s-2 and internal s-4 skipped. The office line 74951112233 and the extensions
    101 / 102 are never hashed."""
    result = load_source(
        con,
        "calls",
        REAL / "calls_sipuni.csv",
        salt=SALT,
        now=NOW,
        columns=SIPUNI_MAP,
        employee_numbers=["+7 495 111-22-33"],
    )
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined, result.rows_skipped) == (
        3,
        3,
        0,
        2,
    )
    assert_reconciled(con, result)
    assert con.execute(
        "SELECT lead_id, created_at, phone_hash, call_duration_s FROM leads ORDER BY lead_id"
    ).fetchall() == [
        ("s-1", datetime(2024, 5, 1, 10), phone_hash("79031234567"), 95),
        ("s-3", datetime(2024, 5, 1, 12), phone_hash("79037776655"), 70),
        ("s-5", datetime(2024, 5, 1, 14), phone_hash("79031234567"), 0),
    ]
    office = {phone_hash("74951112233"), phone_hash("101"), phone_hash("102")}
    hashes = {h for (h,) in con.execute("SELECT phone_hash FROM leads").fetchall()}
    assert not hashes & office
    assert (
        "2 call(s) skipped, not leads: 1 outgoing, 1 internal "
        "(only incoming calls and callbacks become leads)" in result.notes
    )


def test_uis_log_loads_with_the_mapping_saved_in_sources_yaml(con):
    """'ID сессии звонка: lead_id' saved once; 'in' -> lead, 'out' skipped; 0:02:05 = 125 s."""
    result = load_source(
        con, "calls", REAL / "calls_uis.csv", salt=SALT, now=NOW, settings=REAL / "sources_uis.yaml"
    )
    assert (result.rows_loaded, result.rows_skipped) == (1, 1)
    assert con.execute("SELECT lead_id, phone_hash, call_duration_s FROM leads").fetchall() == [
        ("u-1", phone_hash("79160001122"), 125)
    ]


def test_outgoing_calls_never_become_leads_in_a_calltracking_report(con, tmp_path):
    """A call-tracking report whose type column says 'Исходящий звонок'."""
    path = tmp_path / "calls.csv"
    path.write_text(
        "ID звонка;Тип обращения;Дата и время звонка;Номер абонента\n"
        "c1;Входящий звонок;01.05.2024 10:00:00;+79031234567\n"
        "c2;Исходящий звонок;01.05.2024 10:05:00;+79035550000\n"
        "c3;Обратный звонок;01.05.2024 10:10:00;+79037776655\n",
        encoding="utf-8",
    )
    result = load_source(con, "calls", path, salt=SALT, now=NOW)
    assert result.rows_skipped == 1
    assert con.execute("SELECT lead_id, lead_type FROM leads ORDER BY 1").fetchall() == [
        ("c1", "call"),
        ("c3", "call"),
    ]


# --------------------------------------------------------------------------- Metrica


def test_metrica_json_lines_from_an_etl_tool(con):
    """07:15:02Z and 12:15:02+05:00 are both 10:15:02 in Moscow (UTC+3); the visit at
    1970-01-01T00:00:00Z (Unix time 0) is quarantined, not loaded as a real visit."""
    result = load_source(
        con,
        "metrica",
        REAL / "metrica_airbyte.jsonl",
        salt=SALT,
        now=NOW,
        pricing_goal_ids=[301234567],
    )
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    assert con.execute(
        "SELECT visit_id, visitor_id, visit_start, channel, landing_page, pageviews, "
        "goal_pricing, device "
        "FROM visits ORDER BY visit_id"
    ).fetchall() == [
        ("9101", "111", datetime(2024, 5, 1, 10, 15, 2), "organic", "/pricing", 3, True, "desktop"),
        ("9102", "222", datetime(2024, 5, 1, 10, 15, 2), "yandex_search", "/", 1, False, "mobile"),
    ]
    assert quarantined(con) == [
        (
            3,
            "visit_start",
            "epoch-zero time '1970-01-01 03:00:00' (Unix time 0, an empty time in the "
            "exporting system): not a real time",
        )
    ]


def test_metrica_etl_csv_without_the_ym_prefix(con):
    """10:00+03:00 stays 10:00; 06:00Z is 09:00 in Moscow. The PMax campaign UTM -> google_pmax."""
    result = load_source(
        con,
        "metrica",
        REAL / "metrica_etl_bare.csv",
        salt=SALT,
        now=NOW,
        pricing_goal_ids=[301234567],
    )
    assert result.rows_loaded == 2
    assert con.execute(
        "SELECT visit_id, visit_start, channel, goal_pricing, device FROM visits ORDER BY 1"
    ).fetchall() == [
        ("9201", datetime(2024, 5, 2, 10), "google_pmax", True, "desktop"),
        ("9202", datetime(2024, 5, 2, 9), "direct", False, "tablet"),
    ]


# --------------------------------------------------------------------------- mapping


def test_map_reads_a_renamed_column_and_unknown_names_are_refused(con, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(
        "ID;Этап сделки;Дата создания;Сумма сделки\n1;Переговоры;01.05.2024;1 000,50\n",
        encoding="utf-8",
    )
    load_source(con, "amocrm", path, salt=SALT, now=NOW, columns={"Сумма сделки": "amount"})
    assert con.execute("SELECT amount FROM deals").fetchall() == [(1000.5,)]
    with pytest.raises(
        InputError,
        match=r"column mapping 'Сумма сделки'='budget': 'budget' is not a field of a "
        r"amoCRM deals export; fields: deal_id, ",
    ):
        load_source(con, "amocrm", path, salt=SALT, now=NOW, columns={"Сумма сделки": "budget"})


def test_refusal_is_built_from_the_real_header_not_the_title(con, tmp_path):
    """Title and period lines above a header that lacks 'Cost': the refusal names the
    header on line 3 and its delimiter, not the title line."""
    path = tmp_path / "ads.csv"
    path.write_text(
        'Ad report\n"May 1, 2024 - May 2, 2024"\n'
        "Day,Campaign,Impr.,Clicks,Spend (RUB)\n2024-05-01,c,1,1,1.00\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as raised:
        load_source(con, "google_ads", path, salt=SALT, now=NOW)
    message = str(raised.value)
    assert (
        "(found: Day, Campaign, Impr., Clicks, Spend (RUB)) [header on line 3, delimiter ',']"
        in message
    )
    assert (
        "missing required column(s) for a Google Ads report: "
        "cost ('Cost' / 'Стоимость' / 'Расходы')" in message
    )


@pytest.mark.parametrize(
    ("name", "mapping", "expected"),
    [
        (
            # cp1251, a title and a blank line, 'Итого' line; «Отдел продаж» is not a phone
            "calls_mango.csv",
            {
                "UID": "lead_id",
                "Дата/время начала": "created_at",
                "Длительность": "call_duration_s",
            },
            [
                ("m-1", datetime(2024, 5, 1, 10, 0, 5), "79031234567", 70),
                ("m-3", datetime(2024, 5, 1, 10, 40), "79037776655", 0),
            ],
        ),
        (
            # English headers, 'Type' incoming / outgoing / callback, ISO times with offsets;
            # the callback's 'To' is extension 101, so the customer is its 'From'
            "calls_zadarma.csv",
            {"Call ID": "lead_id", "Date": "created_at"},
            [
                ("z-1", datetime(2024, 5, 1, 10), "79031234567", 65),
                ("z-3", datetime(2024, 5, 1, 10, 45), "79037776655", 12),
            ],
        ),
    ],
)
def test_other_telephony_logs_load_with_a_mapping(con, name, mapping, expected):
    result = load_source(con, "calls", REAL / name, salt=SALT, now=NOW, columns=mapping)
    assert (result.rows_loaded, result.rows_quarantined, result.rows_skipped) == (2, 0, 1)
    assert con.execute(
        "SELECT lead_id, created_at, phone_hash, call_duration_s FROM leads ORDER BY 1"
    ).fetchall() == [(i, t, phone_hash(p), d) for i, t, p, d in expected]


def test_canonical_spend_file_with_a_renamed_column_loads_with_a_mapping(con, tmp_path):
    """VK Ads cost in the canonical columns, except 'Расход' for cost and a total line."""
    path = tmp_path / "vk.csv"
    path.write_text(
        "date,channel,utm_source,utm_medium,campaign,ad_group,creative,impressions,clicks,Расход\n"
        '2024-05-01,vk_ads,vk,cpc,vk_leads,g1,c1,1 000,20,"1 234,50"\n'
        'Итого,,,,,,,1 000,20,"1 234,50"\n',
        encoding="utf-8",
    )
    result = load_source(con, "spend", path, salt=SALT, now=NOW, columns={"Расход": "cost"})
    assert (result.rows_in, result.rows_loaded) == (1, 1)
    assert con.execute("SELECT campaign, impressions, clicks, cost FROM spend").fetchall() == [
        ("vk_leads", 1000, 20, 1234.5)
    ]


def test_utf16_without_a_bom_is_detected(con, tmp_path):
    """UTF-16LE with no BOM: NUL bytes at every odd position give it away."""
    path = tmp_path / "calls.csv"
    path.write_bytes("ID звонка;Дата и время звонка\nc1;01.05.2024 10:00:00\n".encode("utf-16-le"))
    result = load_source(con, "calls", path, salt=SALT, now=NOW)
    assert result.rows_loaded == 1
    assert con.execute("SELECT lead_id, created_at FROM leads").fetchall() == [
        ("c1", datetime(2024, 5, 1, 10))
    ]
