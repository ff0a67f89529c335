"""Another CRM's lead export (HubSpot, Bitrix24, Pipedrive style) -> ``leads`` + ``lead_fields``.

One row per lead, any columns. The columns below are mapped to the canonical
``leads`` table (names trimmed, case-insensitive; see :data:`COLUMNS`); every
other column is kept in ``lead_fields`` (:mod:`analytics.sources.custom_fields`),
named by its header, so lead scoring can use it (``params/scoring.yaml``).

=====================  ==================================================================
canonical              export columns (HubSpot / Bitrix24 / Pipedrive / generic)
=====================  ==================================================================
``lead_id`` (req.)     ``Record ID``, ``Contact ID`` / ``ID`` / ``Deal - ID`` / ``lead_id``
``created_at`` (req.)  ``Create Date`` / ``Дата создания`` / ``Deal - Deal created``,
                       ``Deal - Deal created on``; ``dd.mm.yyyy hh:mm[:ss]`` or ISO
``phone``              ``Phone Number``, ``Mobile Phone Number`` / ``Рабочий телефон``,
                       ``Мобильный телефон`` / ``Person - Phone``, ``Person - Phone - Work``
``email``              ``Email`` / ``Рабочий e-mail``, ``Частный e-mail`` /
                       ``Person - Email``, ``Person - Email - Work``
``utm_*``              ``utm_source`` ... (also ``UTM Source``, ``UTM_SOURCE``)
``lead_type``          ``Тип обращения``, ``Lead type``: form / call / chat words; ``form``
                       when absent (a lead export lists requests, mostly forms)
``visitor_id``         ``ym_client_id``, ``ClientID``, ``Yandex ClientID``, ``visitor_id``
``region``             ``State/Region`` / ``Регион``
``industry``           ``Industry`` / ``Отрасль``, ``Сфера деятельности``
``company_size``       ``Number of Employees`` / ``Размер компании``, ``Количество сотрудников``
=====================  ==================================================================

Kept in ``lead_fields`` under a fixed name (whatever the CRM calls them):
``source`` (``Original Source`` / ``Источник`` / ``Deal - Source``), ``status``
(``Lead Status`` / ``Стадия`` / ``Deal - Status``) and ``stage``
(``Lifecycle Stage`` / ``Deal - Stage``). ``status`` and ``stage`` describe what
sales did with the lead: they are post-contact fields in ``params/scoring.yaml``
(not model inputs unless allowed). The last-modified column (``Last Modified
Date`` / ``Дата изменения`` / ``Deal - Update time``) is read only for
``recorded_at="modified"``.

Header names were checked against public exports and code reading them
(HubSpot contacts export: ``Record ID``, ``Create Date``, ``Lifecycle Stage``,
``Lead Status``, ``Original Source``; Bitrix24 lead list: ``ID``, ``Название
лида``, ``Рабочий телефон``, ``Рабочий e-mail``, ``Стадия``, ``Источник``;
Pipedrive deals export: ``Deal - ID``, ``Deal - Deal created``, ``Deal -
Status``, ``Person - Email``, ``Person - Phone``). Other headers are mapped with
``--map "Their column=field"`` or ``params/sources.yaml``;
``--map "Budget=field:monthly_ad_budget"`` renames a kept column.

Phones and e-mails are hashed with the salt at ingest (the warehouse loader);
raw values are stored nowhere -- also not in ``lead_fields``: other phone and
e-mail columns of the export (fax, other e-mail) are not kept.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import pandas as pd

from analytics import warehouse
from analytics.sources.calltracking import LEAD_TYPES
from analytics.sources.custom_fields import (
    RECORDED_AT,
    field_rows,
    load_field_rows,
    read_with_other_columns,
    split_mapping,
)
from analytics.sources.reading import (
    ACCOUNT_TIMEZONE,
    epoch_zero_rejects,
    load_translated,
    map_text,
    new_load_id,
    timestamp_text,
)
from analytics.warehouse import InputError

VENDOR = "CRM lead export"

UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")

COLUMNS: dict[str, tuple[str, ...]] = {
    "lead_id": ("Record ID", "Contact ID", "ID", "Deal - ID", "ID лида", "lead_id", "id"),
    "created_at": (
        "Create Date",
        "Дата создания",
        "Deal - Deal created",
        "Deal - Deal created on",
        "Created",
        "created_at",
    ),
    "lead_type": ("Тип обращения", "Lead type", "lead_type"),
    "visitor_id": ("ym_client_id", "ClientID", "Yandex ClientID", "visitor_id"),
    "visit_id": ("visit_id", "session_id"),
    "phone": (
        "Phone Number",
        "Mobile Phone Number",
        "Рабочий телефон",
        "Мобильный телефон",
        "Телефон",
        "Person - Phone",
        "Person - Phone - Work",
        "Person - Phone - Mobile",
        "phone",
    ),
    "email": (
        "Email",
        "Рабочий e-mail",
        "Частный e-mail",
        "E-mail",
        "Person - Email",
        "Person - Email - Work",
        "email",
    ),
    **{u: (u, u.replace("_", " ").title().replace("Utm", "UTM"), u.upper()) for u in UTM},
    "region": ("State/Region", "Регион", "region"),
    "industry": ("Industry", "Отрасль", "Сфера деятельности", "industry"),
    "company_size": (
        "Number of Employees",
        "Размер компании",
        "Количество сотрудников",
        "company_size",
    ),
    "source": ("Original Source", "Источник", "Deal - Source", "source"),
    "status": ("Lead Status", "Стадия", "Статус", "Deal - Status", "status"),
    "stage": ("Lifecycle Stage", "Deal - Stage", "stage"),
    "modified_at": (
        "Last Modified Date",
        "Дата изменения",
        "Обновлено",
        "Deal - Update time",
        "modified_at",
    ),
    # other contact columns: read (so not kept as fields), never stored
    "other_contact": (
        "Другой телефон",
        "Домашний телефон",
        "Номер факса",
        "Другой e-mail",
        "E-mail для рассылок",
        "Person - Phone - Home",
        "Person - Phone - Other",
        "Person - Email - Home",
        "Person - Email - Other",
        "Fax Number",
    ),
}
REQUIRED = ("lead_id", "created_at")

NAMED_FIELDS = ("source", "status", "stage")
"""Columns kept in ``lead_fields`` under these names (see module doc)."""


def translate(frame: pd.DataFrame, *, timezone: str = ACCOUNT_TIMEZONE) -> pd.DataFrame:
    """Canonical ``leads`` columns (text) from a read lead export."""
    lead_type = map_text(
        frame["lead_type"], lambda t: LEAD_TYPES.get(" ".join(t.lower().split()), t)
    )
    return pd.DataFrame(
        {
            "lead_id": frame["lead_id"],
            "created_at": timestamp_text(frame["created_at"], timezone),
            "lead_type": lead_type.where(frame["lead_type"].notna(), "form"),
            "visitor_id": frame["visitor_id"],
            "visit_id": frame["visit_id"],
            "phone": frame["phone"],
            "email": frame["email"],
            **{u: frame[u] for u in UTM},
            "region": frame["region"],
            "industry": frame["industry"],
            "company_size": frame["company_size"],
        }
    )


def load_leads(
    con,
    path: str | Path,
    *,
    salt: str,
    timezone: str = ACCOUNT_TIMEZONE,
    encoding: str = "auto",
    delimiter: str = "auto",
    columns: Mapping[str, str] | None = None,
    placeholders: tuple[str, ...] | None = None,
    recorded_at: str = "created",
    load_id: str | None = None,
    now: datetime | None = None,
) -> warehouse.LoadResult:
    """Load a CRM's lead export into ``leads``, its other columns into ``lead_fields``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    path : str or Path
        The export (CSV in any delimiter and encoding, or JSON lines).
    salt : str
        PII salt: phones and e-mails are hashed with it.
    timezone : str
        Account time zone; times with a UTC offset are converted to it.
    encoding, delimiter : str
        ``"auto"`` by default.
    columns : mapping, optional
        ``{their column: field}``: a canonical field of :data:`COLUMNS`, or
        ``field:<name>`` to rename a kept column in ``lead_fields``.
    placeholders : tuple of str, optional
        Texts read as empty in the time fields.
    recorded_at : {"created", "modified"}
        Time the kept values are recorded at: the lead's creation (default) or
        the export's last-modified column (see
        :mod:`analytics.sources.custom_fields`).
    load_id : str, optional
        Id of this load in ``quarantine`` and ``load_log`` (both tables).
    now : datetime, optional
        Reference time of the future-date check.

    Returns
    -------
    SourceResult
        The ``leads`` load; its notes say how many values went to ``lead_fields``
        (that load has its own ``load_log`` row).

    Raises
    ------
    InputError
        An unusable file, missing id / creation columns, or ``recorded_at``
        unknown or ``"modified"`` without a last-modified column.
    """
    if recorded_at not in RECORDED_AT:
        raise InputError(
            f"recorded_at must be one of {', '.join(RECORDED_AT)}, got {recorded_at!r}"
        )
    canonical, renames = split_mapping(columns, COLUMNS)
    export, others = read_with_other_columns(
        path,
        COLUMNS,
        REQUIRED,
        renames=renames,
        vendor=VENDOR,
        delimiter=delimiter,
        encoding=encoding,
        mapping=canonical,
        typed=("created_at", "modified_at"),
        placeholders=placeholders,
        kind="leads",
    )
    if recorded_at == "modified" and export.found["modified_at"] is None:
        raise InputError(
            f"{export.path}: recorded_at=modified needs a last-modified column "
            f"({', '.join(COLUMNS['modified_at'][:4])}); none found"
        )
    leads = translate(export.frame, timezone=timezone)
    load_id = load_id or new_load_id()
    rejects = epoch_zero_rejects(export, leads["created_at"], "created_at")
    result = load_translated(
        con, "leads", leads, export, salt=salt, load_id=load_id, now=now, rejects=rejects
    )
    names = {**{k: k for k in NAMED_FIELDS if export.found[k] is not None}, **others}
    when = (
        leads["created_at"]
        if recorded_at == "created"
        else timestamp_text(export.frame["modified_at"], timezone)
    )
    russian = any(re.search("[а-яё]", h.lower()) for h in export.header)
    rows = field_rows(export, names, export.frame["lead_id"], when, decimal_comma=russian)
    _, notes = load_field_rows(
        con, rows, export, main_table="leads", salt=salt, load_id=load_id, now=now
    )
    return dataclasses.replace(result, notes=result.notes + tuple(notes))
