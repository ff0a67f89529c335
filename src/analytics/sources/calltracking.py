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

Direction and foreign call logs
-------------------------------
Telephony services (Sipuni, Mango Office, Zadarma, UIS, ...) log every call,
incoming and outgoing, with the two numbers as "from" and "to". The
direction is read from ``direction`` (``Направление``, ``Тип звонка``,
``Тип``, ``direction``; or from the communication type when it says
"Исходящий звонок"): see :data:`DIRECTIONS`. Decision: only **incoming
calls and callbacks** (a callback ordered on the site is the customer's
request) become leads; outgoing and internal calls are skipped (counted in
the result's ``rows_skipped`` and notes, not quarantined: they are not bad
rows, they are not leads). The customer's phone is ``phone`` when present,
else the "from" number of an incoming call and the "to" number of a callback;
a number of at most six digits (an extension) or one of ``employee_numbers``
is never hashed as a customer's phone. Headers of other services that the
aliases do not know are mapped with ``--map "Their column=field"`` or
``params/sources.yaml``.

Phones and e-mails are hashed with the salt by the warehouse loader. Times
with a UTC offset are converted to the account time zone, others are taken
as local (see :func:`analytics.sources.local_time_text`). ``call_duration_s``
and ``call_lost`` are left empty for chats and forms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

import pandas as pd

from analytics import warehouse
from analytics.sources.reading import (
    ACCOUNT_TIMEZONE,
    INTERNAL_NUMBER_DIGITS,
    boolean_text,
    customer_phone_text,
    epoch_zero_rejects,
    load_translated,
    map_text,
    read_export,
    timestamp_text,
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

DIRECTIONS = {
    "входящий": "incoming",
    "входящий звонок": "incoming",
    "входящие": "incoming",
    "вход.": "incoming",
    "incoming": "incoming",
    "inbound": "incoming",
    "in": "incoming",
    "исходящий": "outgoing",
    "исходящий звонок": "outgoing",
    "исходящие": "outgoing",
    "исх.": "outgoing",
    "outgoing": "outgoing",
    "outbound": "outgoing",
    "out": "outgoing",
    "обратный звонок": "callback",
    "заказ обратного звонка": "callback",
    "перезвон": "callback",
    "callback": "callback",
    "call back": "callback",
    "внутренний": "internal",
    "внутренний звонок": "internal",
    "internal": "internal",
}
"""Direction words -> incoming / outgoing / callback / internal (compared trimmed, lower case)."""

LEAD_DIRECTIONS = ("incoming", "callback")
"""Directions of calls that become leads."""

LOST_TRUE = (
    "да", "1", "true", "yes", "потерянный", "пропущенный", "missed", "lost",
    "не отвечен", "неотвеченный", "no answer", "noanswer", "busy", "занято",
)  # fmt: skip
LOST_FALSE = (
    "нет", "0", "false", "no", "успешный", "принятый", "answered", "отвеченный",
    "отвечен", "answer", "success",
)  # fmt: skip


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
    "phone": (
        "Номер абонента",
        "Номер клиента",
        "Телефон клиента",
        "Телефон",
        "contact_phone_number",
        "phone",
    ),
    "direction": ("Направление", "Направление звонка", "Тип звонка", "Тип", "direction"),
    "caller": ("Откуда", "Кто звонил", "Номер звонящего", "Звонящий", "from", "caller", "src"),
    "callee": ("Куда", "Кому звонили", "Номер назначения", "Куда звонили", "to", "callee", "dst"),
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


def call_direction(frame: pd.DataFrame) -> pd.Series:
    """Direction of each row: incoming / outgoing / callback / internal, None if not stated.

    From ``direction``, else from the communication type when it names a
    direction ("Исходящий звонок", "Обратный звонок").
    """

    def word(v):
        return DIRECTIONS.get(" ".join(v.lower().split())) if isinstance(v, str) else None

    stated = frame["direction"].map(word)
    from_type = frame["lead_type"].map(word)
    return stated.where(stated.notna(), from_type).astype(object)


def _digits(value) -> str:
    return re.sub(r"\D", "", value)[-10:] if isinstance(value, str) else ""


def customer_phone(frame: pd.DataFrame, direction: pd.Series, employee_numbers=()) -> pd.Series:
    """The customer's number of each call (raw text), never an employee's.

    ``phone`` when present, else ``caller`` of an incoming call (or of a call
    of unknown direction) and ``callee`` of a callback (then ``caller``);
    numbers listed in ``employee_numbers`` (compared by their last ten
    digits) and extensions (at most :data:`INTERNAL_NUMBER_DIGITS` digits)
    are passed over.
    """
    own = {_digits(str(n)) for n in employee_numbers if _digits(str(n))}
    out = []
    for phone, caller, callee, way in zip(
        frame["phone"], frame["caller"], frame["callee"], direction, strict=True
    ):
        order = (phone, callee, caller) if way in ("callback", "outgoing") else (phone, caller)
        pick = None
        for k, candidate in enumerate(order):
            if not isinstance(candidate, str) or not candidate.strip():
                continue
            if _digits(candidate) in own:
                continue  # the company's own line
            if k > 0 and len(_digits(candidate)) <= INTERNAL_NUMBER_DIGITS:
                continue  # an extension on one end of the call (the phone column is flagged later)
            pick = candidate
            break
        out.append(pick)
    return pd.Series(out, index=frame.index, dtype=object)


def translate(
    frame: pd.DataFrame,
    *,
    timezone: str = ACCOUNT_TIMEZONE,
    phone: pd.Series | None = None,
) -> pd.DataFrame:
    """Canonical ``leads`` columns (text) from a read call-tracking report.

    ``phone`` overrides the phone column (the cleaned customer phone).
    """
    lead_type = map_text(
        frame["lead_type"],
        lambda t: (
            "call"
            if DIRECTIONS.get(" ".join(t.lower().split()))
            else LEAD_TYPES.get(" ".join(t.lower().split()), t)
        ),
    )
    lead_type = lead_type.where(frame["lead_type"].notna(), "call")
    is_call = lead_type == "call"
    leads = pd.DataFrame(
        {
            "lead_id": frame["lead_id"],
            "created_at": timestamp_text(frame["created_at"], timezone),
            "lead_type": lead_type,
            "visitor_id": frame["visitor_id"],
            "visit_id": frame["visit_id"],
            "phone": frame["phone"] if phone is None else phone,
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
    columns: Mapping[str, str] | None = None,
    placeholders: tuple[str, ...] | None = None,
    employee_numbers: Iterable[str] = (),
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
    columns : mapping, optional
        Column mapping ``{their column: field}`` for a foreign call log
        (fields: :data:`COLUMNS`).
    placeholders : tuple of str, optional
        Texts read as empty in the time and duration fields.
    employee_numbers : iterable of str
        The company's own numbers (office lines, managers' mobiles): never
        taken as a customer's phone.
    load_id : str, optional
        Id of this load in ``quarantine`` and ``load_log``.
    now : datetime, optional
        Reference time of the future-date check.

    Returns
    -------
    SourceResult
        ``rows_skipped`` counts outgoing and internal calls (not leads).

    Raises
    ------
    InputError
        An unusable file (see :func:`analytics.sources.read_export`).
    """
    export = read_export(
        path,
        COLUMNS,
        REQUIRED,
        vendor=VENDOR,
        delimiter=delimiter,
        encoding=encoding,
        mapping=columns,
        typed=("created_at", "call_duration_s"),
        placeholders=placeholders,
        kind="calls",
    )
    direction = call_direction(export.frame)
    notes: list[str] = []
    keep = ~direction.isin(["outgoing", "internal"]).to_numpy()
    skipped = int((~keep).sum())
    if skipped:
        counts = direction[~keep].value_counts()
        notes.append(
            f"{skipped} call(s) skipped, not leads: "
            + ", ".join(f"{n} {way}" for way, n in counts.items())
            + " (only incoming calls and callbacks become leads)"
        )
        export = export.subset(keep)
        direction = direction[keep].reset_index(drop=True)
    phone, phone_notes = customer_phone_text(
        customer_phone(export.frame, direction, employee_numbers),
        export.rows,
        ignore=export.rejects,
    )
    notes += phone_notes
    leads = translate(export.frame, timezone=timezone, phone=phone)
    rejects = epoch_zero_rejects(export, leads["created_at"], "created_at")
    return load_translated(
        con,
        "leads",
        leads,
        export,
        salt=salt,
        load_id=load_id,
        now=now,
        rejects=rejects,
        notes=notes,
        rows_skipped=skipped,
    )
