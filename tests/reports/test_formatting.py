"""Figures per locale: expectations written by hand from the CLDR conventions.

Russian: groups of three digits separated by a no-break space (U+00A0), decimal
comma, the rouble sign after the number, a no-break space before ``%``.
English: comma groups, decimal point, ``%`` glued to the number, CLDR's English
symbol for the rouble is ``RUB`` before the number.
"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from analytics.reports.formatting import (
    DASH,
    dash_footnote,
    format_change,
    format_money,
    format_number,
    format_percent_value,
    format_period,
    format_value,
    is_undefined,
)

NB = "\u00a0"


def test_money_matches_the_brief_in_russian():
    assert format_money(6_093_000, "ru") == f"6{NB}093{NB}000{NB}₽"
    assert format_money(6_093_000.49, "ru") == f"6{NB}093{NB}000{NB}₽"  # whole roubles
    assert format_money(999, "ru") == f"999{NB}₽"


def test_money_in_english():
    assert format_money(6_093_000, "en") == f"RUB{NB}6,093,000"


def test_percent_matches_the_brief():
    assert format_percent_value(14.0, "ru") == f"14,0{NB}%"
    assert format_percent_value(14.0, "en") == "14.0%"
    assert format_percent_value(2.5, "ru", decimals=2) == f"2,50{NB}%"
    assert format_percent_value(-0.75, "en", decimals=0) == "-1%"  # half-even: 0.75 -> 1


def test_counts_have_no_trailing_decimals():
    """``894.000`` leads was a defect: a count of 894.0 is ``894``."""
    assert format_number(894.0, "ru") == "894"
    assert format_number(1_234_567, "ru") == f"1{NB}234{NB}567"
    assert format_number(1_234_567, "en") == "1,234,567"
    assert format_value(3.257, "ratio", "ru") == "3,26"
    assert format_value(12.46, "days", "ru") == f"12,5{NB}дн."


@pytest.mark.parametrize(
    "value", [None, float("nan"), math.inf, -math.inf, pd.NA, pd.NaT, float("-nan")]
)
@pytest.mark.parametrize("unit", ["RUB", "count", "%", "ratio", "days"])
def test_undefined_is_a_dash_never_zero_or_nan(value, unit):
    for locale in ("ru", "en"):
        assert format_value(value, unit, locale) == DASH


def test_zero_is_a_figure_not_a_dash():
    assert not is_undefined(0.0)
    assert format_value(0.0, "RUB", "ru") == f"0{NB}₽"


def test_change_has_explicit_signs():
    assert format_change(12.5, "ru") == f"+12,5{NB}%"
    assert format_change(-3, "ru", unit="RUB") == f"\u22123{NB}₽"
    assert format_change(0.01, "ru") == f"0,0{NB}%"  # rounds to zero: no sign
    assert format_change(2.5, "en", unit="pp") == f"+2.5{NB}pp"
    assert format_change(float("nan"), "ru") == DASH


def test_period_of_one_week_in_russian_and_english():
    assert format_period(date(2025, 12, 22), date(2025, 12, 28), "ru") == (
        "22\u201328 дек. 2025\u202fг."
    )
    assert format_period("2025-12-22", "2025-12-28", "en") == "Dec 22\u2009\u2013\u200928, 2025"


def test_period_across_a_year_keeps_both_years():
    text = format_period(date(2025, 12, 29), date(2026, 1, 4), "ru")
    assert "29 дек. 2025" in text and "4 янв. 2026" in text


def test_unknown_locale_and_unit_are_refused():
    with pytest.raises(ValueError, match="locale 'de' is not supported"):
        format_value(1, "count", "de")
    with pytest.raises(ValueError, match="unknown unit 'furlong'"):
        format_value(1, "furlong", "ru")


def test_footnote_explains_the_dash_in_the_page_language():
    assert dash_footnote("ru").startswith(DASH) and "не определено" in dash_footnote("ru")
    assert "not defined" in dash_footnote("en")
