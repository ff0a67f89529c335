"""Tests for analytics.metrics.period: spec forms, anchors, labels and errors."""

from datetime import date, datetime

import duckdb
import pytest
from funnel_fixture import fill

from analytics.metrics.period import Period, data_anchor, data_bounds, parse_period

WED = date(2025, 6, 11)  # Wednesday of ISO week 2025-W24


@pytest.mark.parametrize(
    ("anchor", "start", "end", "label"),
    [
        (WED, date(2025, 6, 2), date(2025, 6, 8), "2025-W23"),
        (date(2025, 6, 8), date(2025, 6, 2), date(2025, 6, 8), "2025-W23"),  # Sunday: own week
        (date(2025, 6, 9), date(2025, 6, 2), date(2025, 6, 8), "2025-W23"),  # Monday
        (date(2025, 6, 14), date(2025, 6, 2), date(2025, 6, 8), "2025-W23"),  # Saturday
        (date(2025, 1, 2), date(2024, 12, 23), date(2024, 12, 29), "2024-W52"),
        (date(2026, 1, 4), date(2025, 12, 29), date(2026, 1, 4), "2026-W01"),  # ISO year
        (date(2021, 1, 5), date(2020, 12, 28), date(2021, 1, 3), "2020-W53"),
    ],
)
def test_last_week_is_last_complete_iso_week(anchor, start, end, label):
    assert parse_period("last-week", anchor) == Period(start, end, label)


@pytest.mark.parametrize(
    ("anchor", "start", "end", "label"),
    [
        (WED, date(2025, 5, 1), date(2025, 5, 31), "2025-05"),
        (date(2025, 6, 30), date(2025, 6, 1), date(2025, 6, 30), "2025-06"),  # last day
        (date(2025, 6, 1), date(2025, 5, 1), date(2025, 5, 31), "2025-05"),
        (date(2025, 1, 15), date(2024, 12, 1), date(2024, 12, 31), "2024-12"),
        (date(2024, 3, 1), date(2024, 2, 1), date(2024, 2, 29), "2024-02"),  # leap year
    ],
)
def test_last_month_is_last_complete_month(anchor, start, end, label):
    assert parse_period("last-month", anchor) == Period(start, end, label)


def test_absolute_forms_ignore_the_anchor():
    assert parse_period("2025-W23", WED) == Period(date(2025, 6, 2), date(2025, 6, 8), "2025-W23")
    assert parse_period("2025-06", WED) == Period(date(2025, 6, 1), date(2025, 6, 30), "2025-06")
    assert parse_period("2025-12", WED).end == date(2025, 12, 31)
    assert parse_period("2020-W53", WED).start == date(2020, 12, 28)
    assert parse_period("2025-06-01..2025-06-07", WED) == Period(
        date(2025, 6, 1), date(2025, 6, 7), "2025-06-01_2025-06-07"
    )
    assert parse_period(" 2025-06-03..2025-06-03 ", WED).days == 1


def test_all_uses_data_bounds():
    bounds = (date(2025, 1, 1), date(2025, 6, 10))
    period = parse_period("all", WED, bounds=bounds)
    assert period == Period(date(2025, 1, 1), date(2025, 6, 10), "2025-01-01_2025-06-10")
    with pytest.raises(ValueError, match="bounds"):
        parse_period("all", WED)


def test_spec_is_case_insensitive_and_anchor_may_be_a_datetime():
    assert parse_period("Last-Week", datetime(2025, 6, 11, 15, 30)).label == "2025-W23"
    assert parse_period("2025-w23", WED).label == "2025-W23"


def test_labels_are_filesystem_safe():
    specs = ["last-week", "last-month", "2025-W23", "2025-06", "2025-06-01..2025-06-07"]
    for spec in specs:
        label = parse_period(spec, WED).label
        assert all(ch.isalnum() or ch in "-_" for ch in label), label


@pytest.mark.parametrize("spec", ["yesterday", "2025-6", "2025-W5", "", "2025-06-01..", "W23"])
def test_bad_spec_lists_accepted_forms(spec):
    with pytest.raises(ValueError) as info:
        parse_period(spec, WED)
    message = str(info.value)
    for form in ("last-week", "last-month", "YYYY-Www", "YYYY-MM", "..", "all"):
        assert form in message


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("2025-W54", "not an ISO week"),
        ("2025-W53", "not an ISO week"),  # 2025 has 52 ISO weeks
        ("2025-W00", "not an ISO week"),
        ("2025-13", "not a month"),
        ("2025-02-30..2025-03-01", "bad date"),
        ("2025-06-07..2025-06-01", "ends before it starts"),
    ],
)
def test_impossible_dates_are_rejected(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_period(spec, WED)


def test_period_helpers():
    period = parse_period("2025-W23", WED)
    assert period.days == 7
    assert period.end_exclusive == date(2025, 6, 9)
    assert date(2025, 6, 8) in period
    assert datetime(2025, 6, 8, 23, 59) in period
    assert date(2025, 6, 9) not in period
    assert str(period) == "2025-W23 (2025-06-02 – 2025-06-08)"
    with pytest.raises(ValueError, match=r"ends \(2025-06-02\) before it starts \(2025-06-08\)"):
        Period(date(2025, 6, 8), date(2025, 6, 2), "backwards")


def test_data_anchor_and_bounds():
    con = duckdb.connect()
    fill(con)
    assert data_anchor(con) == date(2025, 6, 10)  # the last visit
    assert data_bounds(con) == (date(2025, 5, 30), date(2025, 6, 10))  # first spend row
    assert parse_period("last-week", data_anchor(con)).label == "2025-W23"


def test_data_anchor_of_an_empty_warehouse_is_an_error():
    con = duckdb.connect()
    fill(con)
    for table in ("visits", "leads", "spend"):
        con.execute(f"DELETE FROM {table}")
    with pytest.raises(ValueError, match="no visits"):
        data_anchor(con)
    with pytest.raises(ValueError, match="no visits, leads or spend"):
        data_bounds(con)
