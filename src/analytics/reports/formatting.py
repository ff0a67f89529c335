"""Numbers, money, percentages, dates and periods for people, per locale, by Babel.

Every figure on a leadership page or in an e-mail goes through this module, so
that one page never mixes ``1,759,422`` with ``1 759 422`` and never shows
``nan``, ``None``, ``inf`` or ``1.759422e+06``. The locale's own CLDR patterns
(thousands separator, decimal mark, where the currency sign and the ``%`` go)
come from Babel; this module only chooses how many decimals a unit gets:

======== ===================== ============================ ======================
unit     meaning               ru                           en
======== ===================== ============================ ======================
RUB      money, roubles        ``6 093 000 ₽``              ``RUB 6,093,000``
count    people, leads, deals  ``1 234``                    ``1,234``
%        a value already ×100  ``14,0 %``                   ``14.0%``
ratio    a plain number        ``3,25``                     ``3.25``
days     duration              ``12,5 дн.``                 ``12.5 days``
======== ===================== ============================ ======================

An *undefined* value (``None``, NaN, ±inf, ``pd.NA``, ``NaT``) is shown as a
dash, :data:`DASH`, never as ``0``: a CPL of a channel without leads is not
zero, it does not exist. Pages explain the dash once in a footnote
(:func:`dash_footnote`).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from numbers import Number

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval
from babel.numbers import format_currency, format_decimal, format_percent

LOCALES = ("ru", "en")
"""Locales the reports are written in."""

DASH = "—"
"""What an undefined figure is shown as."""

CURRENCY = "RUB"

UNITS = ("RUB", "count", "%", "ratio", "days")
"""Units :func:`format_value` understands."""

_DASH_NOTE = {
    "ru": "— значение не определено: нет данных или делитель равен нулю "
    "(например, нет лидов для CPL или нет расходов для ROMI).",
    "en": "— not defined: no data, or the divisor is zero "
    "(e.g. no leads for CPL, no spend for ROMI).",
}

_DAYS = {"ru": "дн.", "en": "days"}


def check_locale(locale: str) -> str:
    """``locale`` if it is one of :data:`LOCALES`.

    Raises
    ------
    ValueError
        Naming the locale and the allowed ones.
    """
    if locale not in LOCALES:
        raise ValueError(f"locale {locale!r} is not supported (use one of: {', '.join(LOCALES)})")
    return locale


def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(check_locale(locale))
    except UnknownLocaleError as exc:  # pragma: no cover - Babel ships ru and en
        raise ValueError(f"locale {locale!r}: {exc}") from None


def is_undefined(value: object) -> bool:
    """True for ``None``, NaN, ±inf, ``pd.NA``, ``pd.NaT`` and non-numbers-like NA.

    >>> is_undefined(float("nan")), is_undefined(0.0), is_undefined(None)
    (True, False, True)
    """
    if value is None:
        return True
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return True
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, bool):
        return False
    if isinstance(value, Number):
        try:
            return not math.isfinite(float(value))
        except (TypeError, ValueError):
            return True
    return False


def _number_pattern(locale: str, decimals: int) -> str:
    base = _babel_locale(locale).decimal_formats[None].pattern.split(";")[0]
    integer = base.split(".")[0]
    return integer + ("." + "0" * decimals if decimals else "")


def format_number(value: object, locale: str, decimals: int = 0) -> str:
    """A number with the locale's grouping and decimal mark, fixed decimals.

    Parameters
    ----------
    value : number or None
    locale : {"ru", "en"}
    decimals : int, default 0
        Digits after the decimal mark (rounded half-even by Babel).

    Returns
    -------
    str
        ``"6 093 000"`` (ru; the separator is a no-break space), ``"6,093,000"``
        (en); :data:`DASH` when undefined.
    """
    if is_undefined(value):
        return DASH
    return format_decimal(value, format=_number_pattern(locale, decimals), locale=locale)


def format_money(value: object, locale: str, decimals: int = 0) -> str:
    """Roubles with the locale's currency pattern, whole roubles by default.

    ``6093000`` → ``"6 093 000 ₽"`` (ru), ``"RUB 6,093,000"`` (en: CLDR's
    English symbol of the rouble is ``RUB``); :data:`DASH` when undefined.
    """
    if is_undefined(value):
        return DASH
    pattern = _babel_locale(locale).currency_formats["standard"].pattern.split(";")[0]
    head, _, tail = pattern.partition(".")
    pattern = head + ("." + "0" * decimals if decimals else "") + tail.lstrip("0#")
    text = format_currency(value, CURRENCY, format=pattern, locale=locale, currency_digits=False)
    if locale == "en":
        text = text.replace("RUB", "RUB\u00a0", 1).replace("\u00a0\u00a0", "\u00a0")
    return text


def format_percent_value(value: object, locale: str, decimals: int = 1) -> str:
    """A percentage given in percent (``14.0`` means 14 %), in the locale's pattern.

    ``14.0`` → ``"14,0 %"`` (ru, no-break space before ``%``), ``"14.0%"`` (en);
    :data:`DASH` when undefined.
    """
    if is_undefined(value):
        return DASH
    pattern = _babel_locale(locale).percent_formats[None].pattern.split(";")[0]
    if decimals:
        pattern = pattern.replace("0%", "0." + "0" * decimals + "%", 1)
        pattern = pattern.replace("0 %", "0." + "0" * decimals + " %", 1)
        pattern = pattern.replace("0\u00a0%", "0." + "0" * decimals + "\u00a0%", 1)
    return format_percent(float(value) / 100.0, format=pattern, locale=locale)


def format_change(value: object, locale: str, unit: str = "%", decimals: int = 1) -> str:
    """A signed change: ``+12,5 %``, ``−3 ₽``, ``+0 лидов`` style (sign always shown).

    Parameters
    ----------
    value : number or None
        The change; for ``unit="%"`` in percent (``12.5`` = +12.5 %), for
        ``"pp"`` in percentage points.
    unit : {"%", "pp", "RUB", "count", "ratio", "days"}

    Returns
    -------
    str
        With a plus sign for growth and a true minus sign (U+2212) for a fall;
        :data:`DASH` when undefined.
    """
    if is_undefined(value):
        return DASH
    number = float(value)
    if unit == "pp":
        body = format_number(abs(number), locale, decimals) + (
            "\u00a0п.\u00a0п." if locale == "ru" else "\u00a0pp"
        )
    else:
        body = format_value(abs(number), unit, locale, decimals=decimals if unit == "%" else None)
    shown = {"%": decimals, "pp": decimals, "ratio": 2, "days": 1}.get(unit, 0)
    sign = "" if round(abs(number), shown) == 0 else ("+" if number > 0 else "\u2212")
    return sign + body


def format_value(value: object, unit: str, locale: str, decimals: int | None = None) -> str:
    """Any figure by its unit (see the module table); :data:`DASH` when undefined.

    Parameters
    ----------
    value : number or None
    unit : {"RUB", "count", "%", "ratio", "days"}
        Also accepted: ``"rub"``, ``"₽"``, ``"pct"``, ``"percent"``.
    locale : {"ru", "en"}
    decimals : int, optional
        Override the unit's default (RUB 0, count 0, % 1, ratio 2, days 1).

    Raises
    ------
    ValueError
        For an unknown unit or locale.
    """
    check_locale(locale)
    unit = {"rub": "RUB", "₽": "RUB", "pct": "%", "percent": "%"}.get(unit, unit)
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r} (use one of: {', '.join(UNITS)})")
    if is_undefined(value):
        return DASH
    if unit == "RUB":
        return format_money(value, locale, 0 if decimals is None else decimals)
    if unit == "count":
        return format_number(value, locale, 0 if decimals is None else decimals)
    if unit == "%":
        return format_percent_value(value, locale, 1 if decimals is None else decimals)
    if unit == "days":
        number = format_number(value, locale, 1 if decimals is None else decimals)
        return f"{number}\u00a0{_DAYS[locale]}"
    return format_number(value, locale, 2 if decimals is None else decimals)


def _as_date(day: date | datetime | str) -> date:
    if isinstance(day, datetime):
        return day.date()
    if isinstance(day, date):
        return day
    return date.fromisoformat(str(day))


def format_day(day: date | datetime | str, locale: str) -> str:
    """One day, medium length: ``"22 дек. 2025 г."`` (ru), ``"Dec 22, 2025"`` (en)."""
    return format_date(_as_date(day), format="medium", locale=check_locale(locale))


def format_period(start: date | datetime | str, end: date | datetime | str, locale: str) -> str:
    """A date range, shortest form per CLDR interval rules (Babel ``format_interval``).

    ``2025-12-22``–``2025-12-28`` → ``"22–28 дек. 2025 г."`` (ru),
    ``"Dec 22 – 28, 2025"`` (en); across months or years the repeated parts
    are kept. One day gives that day. The dash is normalised to an en dash.
    """
    start, end = _as_date(start), _as_date(end)
    check_locale(locale)
    if start == end:
        return format_day(start, locale)
    text = format_interval(start, end, "yMMMd", locale=locale)
    return text.replace("\u2014", "\u2013")


def dash_footnote(locale: str) -> str:
    """The footnote that explains :data:`DASH`, in the locale's language."""
    return _DASH_NOTE[check_locale(locale)]
