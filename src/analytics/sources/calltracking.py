"""Call-tracking report (CoMagic / Calltouch style) -> ``leads``.

A call-tracking service exports one row per communication: calls, and with
most services also chats and site requests (forms). Columns read (names
trimmed, case-insensitive; see :data:`COLUMNS` for every accepted name):

==========================  ============================================================
canonical column            typical export columns
==========================  ============================================================
``lead_id`` (required)      ``ID звонка``, ``ID обращения``, ``call_id``
``created_at`` (required)   ``Дата и время звонка``, ``Время звонка``, ``Дата``;
                            ``dd.mm.yyyy hh:mm:ss``, ``dd/mm/yyyy ...`` or ISO,
                            with or without a UTC offset
``lead_type``               ``Тип обращения``: Звонок / Чат / Заявка (or call / chat /
                            form / offline_message); ``call`` when the column is absent
``visitor_id``              web analytics client id: ``Yandex ClientID``,
                            ``ym_client_id``, ``ID посетителя``
``visit_id``                ``ID сессии``, ``ID визита``, ``session_id``
``phone``                   ``Номер абонента``, ``Номер звонящего``, ``Телефон``
``email``                   ``Email``, ``E-mail``
``utm_*``                   ``utm_source`` ... (also ``UTM Source``)
``call_duration_s``         ``Длительность разговора``: seconds, ``mm:ss`` or
                            ``hh:mm:ss``
``call_lost``               ``Потерянный звонок``: Да / Нет, 1 / 0, true / false,
                            Потерянный / Пропущенный / Успешный
``region`` ...              form fields ``Регион``, ``Отрасль``, ``Размер компании``
==========================  ============================================================

Phones and e-mails are hashed with the salt by the warehouse loader. Times
with a UTC offset are converted to the account time zone, others are taken
as local (see :func:`analytics.sources.local_time_text`). ``call_duration_s``
and ``call_lost`` are left empty for chats and forms.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pandas as pd

from analytics import warehouse
from analytics.sources import (
    ACCOUNT_TIMEZONE,
    boolean_text,
    load_translated,
    local_time_text,
    map_text,
    read_export,
    ru_datetime_text,
)

VENDOR = "call-tracking report"

LEAD_TYPES = {
    "звонок": "call",
    "call": "call",
    "входящий звонок": "call",
    "обратный звонок": "call",
    "callback": "call",
    "чат": "chat",
    "chat": "chat",
    "заявка": "form",
    "форма": "form",
    "form": "form",
    "request": "form",
    "offline_message": "form",
    "оффлайн-заявка": "form",
}
"""Communication type words -> canonical lead type (others are passed on and quarantined)."""

LOST_TRUE = ("да", "1", "true", "yes", "потерянный", "пропущенный", "missed", "lost")
LOST_FALSE = ("нет", "0", "false", "no", "успешный", "принятый", "answered", "отвеченный")


UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


def _utm(name: str) -> tuple[str, ...]:
    return (name, name.replace("_", " ").title().replace("Utm", "UTM"), name.upper())


COLUMNS: dict[str, tuple[str, ...]] = {
    "lead_id": ("ID звонка", "ID обращения", "Идентификатор звонка", "call_id", "id"),
    "created_at": (
        "Дата и время звонка",
        "Дата и время",
        "Время звонка",
        "Дата звонка",
        "Дата",
        "call_date",
        "start_time",
    ),
    "lead_type": ("Тип обращения", "Тип коммуникации", "communication_type", "type"),
    "visitor_id": (
        "Yandex ClientID",
        "ym_client_id",
        "ClientID",
        "Metrika Client ID",
        "ID посетителя",
        "visitor_id",
    ),
    "visit_id": ("ID сессии", "ID визита", "session_id", "sessionId", "visit_id"),
    "phone": ("Номер абонента", "Номер звонящего", "Телефон", "contact_phone_number", "phone"),
    "email": ("Email", "E-mail", "contact_email", "email"),
    **{u: _utm(u) for u in UTM},
    "call_duration_s": (
        "Длительность разговора",
        "Продолжительность разговора",
        "Длительность звонка",
        "talk_duration",
        "duration",
    ),
    "call_lost": ("Потерянный звонок", "Потерянный", "is_lost", "lost"),
    "region": ("Регион",),
    "industry": ("Отрасль",),
    "company_size": ("Размер компании",),
}
REQUIRED = ("lead_id", "created_at")

_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})$")


def duration_seconds_text(values: pd.Series) -> pd.Series:
    """``'2:05'`` / ``'0:02:05'`` / ``'125'`` -> ``'125'``; other values unchanged."""

    def convert(v: str) -> str:
        m = _CLOCK.match(v.strip())
        if not m:
            return v
        hours, minutes, seconds = (int(x) if x else 0 for x in m.groups())
        return str(hours * 3600 + minutes * 60 + seconds)

    return map_text(values, convert)


def translate(frame: pd.DataFrame, *, timezone: str = ACCOUNT_TIMEZONE) -> pd.DataFrame:
    """Canonical ``leads`` columns (text) from a read call-tracking report."""
    lead_type = map_text(
        frame["lead_type"], lambda t: LEAD_TYPES.get(" ".join(t.lower().split()), t)
    )
    lead_type = lead_type.where(frame["lead_type"].notna(), "call")
    is_call = lead_type == "call"
    leads = pd.DataFrame(
        {
            "lead_id": frame["lead_id"],
            "created_at": local_time_text(ru_datetime_text(frame["created_at"]), timezone),
            "lead_type": lead_type,
            "visitor_id": frame["visitor_id"],
            "visit_id": frame["visit_id"],
            "phone": frame["phone"],
            "email": frame["email"],
            **{u: frame[u] for u in UTM},
            "call_duration_s": duration_seconds_text(frame["call_duration_s"]).where(is_call, None),
            "call_lost": boolean_text(frame["call_lost"], LOST_TRUE, LOST_FALSE).where(
                is_call, None
            ),
            "region": frame["region"],
            "industry": frame["industry"],
            "company_size": frame["company_size"],
        }
    )
    return leads


def load_calls(
    con,
    path: str | Path,
    *,
    salt: str,
    timezone: str = ACCOUNT_TIMEZONE,
    encoding: str = "auto",
    delimiter: str = "auto",
    load_id: str | None = None,
    now: datetime | None = None,
) -> warehouse.LoadResult:
    """Load a call-tracking calls / requests report into ``leads``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    path : str or Path
        The CSV report.
    salt : str
        PII salt: phones and e-mails are hashed with it.
    timezone : str
        Account time zone for times with a UTC offset.
    encoding, delimiter : str
        ``"auto"`` by default (cp1251 or UTF-8; ``;``, tab or ``,``).
    load_id : str, optional
        Id of this load in ``quarantine`` and ``load_log``.
    now : datetime, optional
        Reference time of the future-date check.

    Returns
    -------
    LoadResult

    Raises
    ------
    InputError
        An unusable file (see :func:`analytics.sources.read_export`).
    """
    export = read_export(
        path, COLUMNS, REQUIRED, vendor=VENDOR, delimiter=delimiter, encoding=encoding
    )
    leads = translate(export.frame, timezone=timezone)
    return load_translated(con, "leads", leads, export, salt=salt, load_id=load_id, now=now)
