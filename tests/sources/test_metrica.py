"""Tests for :mod:`analytics.sources.metrica`: Logs API visits TSV -> ``visits``."""

from __future__ import annotations

from datetime import datetime

import pytest
from source_checks import FIXTURES, NOW, SALT, assert_reconciled, quarantined

from analytics.sources import metrica
from analytics.warehouse import InputError

PRICING_GOAL = 301234567


def test_fixture_loads_every_visit_with_channels_goals_devices_and_paths(con):
    result = metrica.load_visits(
        con, FIXTURES / "metrica_visits.tsv", salt=SALT, pricing_goal_ids=[PRICING_GOAL], now=NOW
    )
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (6, 6, 0)
    assert_reconciled(con, result)
    rows = con.execute(
        "SELECT visit_id, visitor_id, visit_start, channel, utm_campaign, landing_page, "
        "pageviews, duration_s, goal_pricing, device FROM visits ORDER BY visit_id"
    ).fetchall()
    assert rows == [
        (
            "7351207541872123905",
            "1714550123987654321",
            datetime(2024, 5, 1, 10, 15, 2),
            "yandex_search",
            "yd_search_brand",
            "/pricing",
            3,
            245,
            True,
            "desktop",
        ),
        (
            "7351207541872123906",
            "1714550123987654321",
            datetime(2024, 5, 2, 9, 0),
            "direct",
            None,
            "/",
            1,
            0,
            False,
            "mobile",
        ),
        (
            "7351207541872123907",
            "1698765432100000001",
            datetime(2024, 5, 2, 11, 30, 45),
            "organic",
            None,
            "/blog/skvoznaya-analitika",
            5,
            610,
            False,
            "tablet",
        ),
        (
            "7351207541872123908",
            "1698765432100000002",
            datetime(2024, 5, 3, 18, 5),
            "referral",
            None,
            "/cases",
            2,
            75,
            False,
            "desktop",
        ),
        (
            "7351207541872123909",
            "1698765432100000003",
            datetime(2024, 5, 3, 20, 40, 10),
            "yandex_rsya",
            "yd_rsya_interests",
            "/demo",
            4,
            320,
            True,
            "mobile",
        ),
        # device category 4 (TV) loads with an empty device; "\t" in the URL is an escape
        (
            "7351207541872123910",
            "1698765432100000004",
            datetime(2024, 5, 4, 8, 0),
            "direct",
            None,
            "/product",
            1,
            12,
            False,
            None,
        ),
    ]


def test_pricing_goal_ids_are_required_but_may_be_empty(con, tmp_path):
    path = FIXTURES / "metrica_visits.tsv"
    with pytest.raises(InputError, match="pricing_goal_ids not given"):
        metrica.load_visits(con, path, salt=SALT, now=NOW)
    metrica.load_visits(con, path, salt=SALT, pricing_goal_ids=[], now=NOW)
    assert con.execute("SELECT count(*) FILTER (goal_pricing) FROM visits").fetchone() == (0,)


def test_goals_column_is_required_when_goal_ids_are_given(con, tmp_path):
    path = tmp_path / "no_goals.tsv"
    path.write_text(
        "ym:s:visitID\tym:s:clientID\tym:s:dateTime\tym:s:pageViews\tym:s:visitDuration\n"
        "1\t2\t2024-05-01 10:00:00\t1\t5\n"
    )
    with pytest.raises(InputError, match=r"goals \('ym:s:goalsID' / 'goalsID' / 'goals_id'\)"):
        metrica.load_visits(con, path, salt=SALT, pricing_goal_ids=[1], now=NOW)
    result = metrica.load_visits(con, path, salt=SALT, pricing_goal_ids=[], now=NOW)
    assert result.rows_loaded == 1


def test_attribution_prefixed_fields_and_traffic_source_without_utm(con, tmp_path):
    path = tmp_path / "lastsign.tsv"
    path.write_text(
        "ym:s:visitID\tym:s:clientID\tym:s:dateTime\tym:s:pageViews\tym:s:visitDuration\t"
        "ym:s:lastsignTrafficSource\tym:s:lastsignAdvEngine\tym:s:lastsignSearchEngineRoot\n"
        "1\t9\t2024-05-01 10:00:00\t1\t5\tad\tgoogle_adwords\t\n"
        "2\t9\t2024-05-01 11:00:00\t1\t5\torganic\t\tgoogle\n"
        "3\t9\t2024-05-01 12:00:00\t1\t5\tsaved\t\t\n"
    )
    metrica.load_visits(con, path, salt=SALT, pricing_goal_ids=[], now=NOW)
    channels = con.execute("SELECT visit_id, channel, utm_source FROM visits ORDER BY 1").fetchall()
    assert channels == [("1", "google_search", None), ("2", "organic", None), ("3", "direct", None)]


def test_escaped_values_and_bad_rows_keep_their_row_numbers(con, tmp_path):
    path = tmp_path / "escaped.tsv"
    path.write_text(
        "ym:s:visitID\tym:s:clientID\tym:s:dateTime\tym:s:pageViews\tym:s:visitDuration\t"
        "ym:s:UTMCampaign\n"
        "1\t9\t2024-05-01 10:00:00\t1\t5\tspring\\tsale\n"
        "\n"
        "2\t9\t2024-05-01 10:00:00\tmany\t5\t\n"
    )
    result = metrica.load_visits(con, path, salt=SALT, pricing_goal_ids=[], now=NOW)
    assert con.execute("SELECT utm_campaign FROM visits").fetchone() == ("spring\tsale",)
    assert quarantined(con) == [(2, "pageviews", "pageviews: not a BIGINT: 'many'")]
    assert_reconciled(con, result)
