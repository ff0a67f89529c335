"""Tests for :mod:`analytics.sources.adcost`: Yandex Direct and Google Ads reports -> ``spend``."""

from __future__ import annotations

from datetime import date

import pytest
from source_checks import FIXTURES, NOW, SALT, assert_reconciled, quarantined

from analytics.sources import adcost


def test_direct_report_removes_vat_and_reads_network_type(con):
    result = adcost.load_direct(con, FIXTURES / "direct_report.tsv", salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (3, 3, 0)
    assert_reconciled(con, result)
    rows = con.execute(
        "SELECT date, channel, utm_source, utm_medium, campaign, ad_group, creative, "
        "impressions, clicks, cost FROM spend ORDER BY date, campaign"
    ).fetchall()
    assert rows == [
        (
            date(2024, 5, 1),
            "yandex_rsya",
            "yandex",
            "display",
            "yd_rsya_interests",
            "interest_sales",
            "15873645377",
            45000,
            180,
            5040.0,
        ),
        (
            date(2024, 5, 1),
            "yandex_search",
            "yandex",
            "cpc",
            "yd_search_brand",
            "brand_name",
            "15873645210",
            1200,
            84,
            7980.0,
        ),
        (
            date(2024, 5, 2),
            "yandex_search",
            "yandex",
            "cpc",
            "yd_search_brand",
            "brand_name",
            "15873645210",
            980,
            0,
            0.0,
        ),
    ]


@pytest.mark.parametrize(
    ("text", "options", "cost"),
    [
        ("600.00", {"vat_included": False}, 600.0),
        ("600.00", {}, 500.0),
        ("600.00", {"vat_rate": 0.0}, 600.0),
        ("600000000", {"money_in_micros": True}, 500.0),
        ("600.00", {"currency": "KZT", "rates": {"KZT": 0.2}, "vat_included": False}, 120.0),
    ],
)
def test_direct_cost_conversion_options(con, tmp_path, text, options, cost):
    path = tmp_path / "direct.tsv"
    path.write_text(
        "Date\tCampaignName\tAdGroupName\tAdId\tImpressions\tClicks\tCost\n"
        f"2024-05-01\tbrand\tg1\t101\t100\t5\t{text}\n"
    )
    adcost.load_direct(con, path, salt=SALT, now=NOW, **options)
    assert con.execute("SELECT cost FROM spend").fetchone()[0] == cost


def test_direct_web_export_with_russian_columns(con, tmp_path):
    path = tmp_path / "direct.csv"
    path.write_bytes(
        (
            "Дата;Кампания;Группа;№ объявления;Показы;Клики;Расход (руб.)\r\n"
            "01.05.2024;Бренд;Группа 1;101;1 200;84;9 576,00\r\n"
        ).encode("cp1251")
    )
    adcost.load_direct(con, path, salt=SALT, now=NOW, delimiter=";")
    assert con.execute("SELECT date, impressions, cost FROM spend").fetchall() == [
        (date(2024, 5, 1), 1200, 7980.0)
    ]


def test_google_ads_report_skips_title_and_totals(con):
    path = FIXTURES / "google_ads_report.csv"
    result = adcost.load_google_ads(con, path, salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    rows = con.execute(
        "SELECT channel, campaign, creative, impressions, clicks, cost FROM spend ORDER BY cost"
    ).fetchall()
    assert rows == [
        ("google_search", "gads_search_brand", "689012349999", 410, 37, 2150.0),
        ("google_search", "gads_search_generic", "689012345678", 1530, 61, 7320.4),
    ]
    # "--" impressions is an empty required value
    assert quarantined(con) == [(3, "impressions", "impressions: missing required value")]
    assert_reconciled(con, result)


def test_google_ads_excel_csv_is_utf16_with_tabs(con, tmp_path):
    path = tmp_path / "report.csv"
    text = (
        "Ad report\r\nDay\tCampaign\tAd group\tAd ID\tImpr.\tClicks\tCost\r\n"
        "2024-05-01\tgads_search_brand\tbrand_name\t1\t1,100\t10\t1,000.50\r\n"
    )
    path.write_bytes(text.encode("utf-16"))
    adcost.load_google_ads(con, path, salt=SALT, now=NOW)
    assert con.execute("SELECT impressions, cost FROM spend").fetchall() == [(1100, 1000.5)]
