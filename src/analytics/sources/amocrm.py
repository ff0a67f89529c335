"""amoCRM deals export (CSV) -> ``deals``; stage-change history -> ``deal_stages``.

amoCRM ("Сделки" -> "Экспорт") writes one row per deal, usually in cp1251
with ``;`` between fields, amounts with spaces or no-break spaces between
thousands and a decimal comma (``'567 703 932,00'``) and dates as
``dd.mm.yyyy hh:mm:ss``. Column names follow the account's language and
custom fields; each canonical column accepts the names in :data:`COLUMNS`
(trimmed, case-insensitive).

Real exports are also UTF-8 with ``,`` (both are detected), carry notes
that span lines inside quotes, and custom fields that share a name (read as
one field: the first non-empty value, with a note when they disagree). Open
deals have a text placeholder where the closing date would be («не
закрыта»): placeholders in dates and the amount load as NULL and are counted
in the result's notes (:data:`analytics.sources.DEFAULT_PLACEHOLDERS`, more
in ``params/sources.yaml``), so an open deal is never quarantined for it.

Status and stage
----------------
amoCRM's system statuses are 142 (``Успешно реализовано``, won) and 143
(``Закрыто и не реализовано``, lost). ``status`` is won / lost / open from the
status id column when present, else from the stage. The stage name (column
``Этап сделки``) is mapped to a canonical stage by ``stages`` (defaults in
:data:`DEFAULT_STAGES`, keys compared case-insensitively, optionally
``"Воронка / Этап"`` for one pipeline); a name that is not mapped is passed
on as is and quarantined by the ``stage`` check, naming it.

Contacts
--------
The contact's phone and e-mail columns (first non-empty of work / mobile /
other) are hashed with the salt and written, for the deals loaded, to the
side table ``deal_contacts (deal_id, phone_hash, email_hash)`` used by
:mod:`analytics.sources.linkage` to link deals to leads when the deal has
no lead id. Raw values are stored nowhere.

Custom fields
-------------
Every column that is not one of :data:`COLUMNS` (the account's custom fields:
lead-form answers, budget, team size...) is kept in ``lead_fields`` for the
deal's ``lead_id``, recorded at the deal's creation (amoCRM creates the deal
when the request arrives), named by its header or renamed with ``--map
"Рекламный бюджет=field:monthly_ad_budget"``;
see :mod:`analytics.sources.custom_fields`. Deals without a lead id keep no
custom fields (counted in the notes). ``params/scoring.yaml`` names which of
them the lead-scoring model uses and which are filled after the first contact.

Stage history
-------------
amoCRM's events ("Изменение этапа", API ``/api/v4/events`` of type
``lead_status_changed``) flattened to CSV with a deal id, the new stage and
the time: :func:`load_stage_history`. The deal's creation is the ``new``
stage when the history does not list it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import pandas as pd

from analytics import warehouse
from analytics.sources.custom_fields import (
    field_rows,
    load_field_rows,
    read_with_other_columns,
    split_mapping,
)
from analytics.sources.reading import (
    ACCOUNT_TIMEZONE,
    ExportTable,
    customer_phone_text,
    decimal_text,
    epoch_zero_rejects,
    load_translated,
    map_text,
    new_load_id,
    read_export,
    timestamp_text,
)
from analytics.warehouse.schema import DEAL_STAGES

VENDOR = "amoCRM deals export"
HISTORY_VENDOR = "amoCRM stage history export"

WON_STATUS_ID = "142"
LOST_STATUS_ID = "143"

DEFAULT_STAGES: dict[str, str] = {
    "Неразобранное": "new",
    "Первичный контакт": "new",
    "Новая заявка": "new",
    "Квалификация": "mql",
    "Квалифицирован": "mql",
    "Переговоры": "sql",
    "Встреча назначена": "sql",
    "Демонстрация": "demo",
    "Демо проведено": "demo",
    "Коммерческое предложение": "proposal",
    "КП отправлено": "proposal",
    "Принимают решение": "proposal",
    "Успешно реализовано": "won",
    "Закрыто и не реализовано": "lost",
}
"""amoCRM stage name -> canonical stage; canonical names map to themselves too."""

UTM_COLUMNS = {
    u: (u, f"{u} (сделка)", u.replace("_", " ").upper(), u.replace("_", "-").upper())
    for u in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
}

COLUMNS: dict[str, tuple[str, ...]] = {
    "deal_id": ("ID", "ID сделки", "id"),
    "lead_id": ("ID заявки", "ID обращения", "Номер заявки", "lead_id"),
    "pipeline": ("Воронка", "Название воронки"),
    "stage": ("Этап сделки", "Этап", "Статус сделки", "Статус"),
    "status_id": ("ID этапа", "ID статуса", "status_id"),
    "amount": ("Бюджет", "Бюджет ₽", "Бюджет, ₽", "Бюджет руб", "Сумма", "Цена"),
    "manager": ("Ответственный", "Ответственный пользователь", "Ответственный за сделку"),
    "created_at": ("Дата создания", "Дата создания сделки", "Создана"),
    "closed_at": ("Дата закрытия", "Дата закрытия сделки", "Закрыта"),
    "loss_reason": ("Причина отказа", "Причина отказа (сделка)", "Причина закрытия"),
    **UTM_COLUMNS,
    "region": ("Регион", "Регион (компания)", "Город"),
    "industry": ("Отрасль", "Отрасль (компания)", "Сфера деятельности"),
    "company_size": ("Размер компании", "Количество сотрудников", "Сотрудников"),
    "phone": (
        "Рабочий телефон (контакт)",
        "Мобильный телефон (контакт)",
        "Другой телефон (контакт)",
        "Телефон (контакт)",
        "Рабочий телефон",
        "Мобильный телефон",
        "Телефон",
    ),
    "email": (
        "Рабочий email (контакт)",
        "Личный email (контакт)",
        "Другой email (контакт)",
        "Email (контакт)",
        "Рабочий email",
        "Email",
        "E-mail",
    ),
}
REQUIRED = ("deal_id", "stage", "created_at")

HISTORY_COLUMNS: dict[str, tuple[str, ...]] = {
    "deal_id": ("ID сделки", "Сделка ID", "entity_id", "deal_id"),
    "stage": ("Новый этап", "Этап", "Новое значение", "stage"),
    "entered_at": ("Дата", "Дата создания", "Дата изменения", "created_at"),
}

DEAL_CONTACTS_DDL = """
CREATE TABLE IF NOT EXISTS main.deal_contacts (
  deal_id VARCHAR,
  phone_hash VARCHAR,
  email_hash VARCHAR
)"""
"""Side table of hashed contact phones / e-mails of CRM deals (for stitching)."""


def _stage_lookup(stages: Mapping[str, str] | None) -> dict[str, str]:
    table = {s: s for s in DEAL_STAGES} | dict(DEFAULT_STAGES) | dict(stages or {})
    return {" ".join(k.lower().split()): v for k, v in table.items()}


def canonical_stage(
    stage: pd.Series, pipeline: pd.Series, stages: Mapping[str, str] | None = None
) -> pd.Series:
    """Canonical stage of each deal; unmapped names are returned unchanged."""
    lookup = _stage_lookup(stages)
    out = []
    for name, funnel in zip(stage, pipeline, strict=True):
        if not isinstance(name, str):
            out.append(None)
            continue
        key = " ".join(name.lower().split())
        scoped = f"{' '.join(str(funnel).lower().split())} / {key}" if funnel else None
        out.append(lookup.get(scoped) or lookup.get(key) or name)
    return pd.Series(out, index=stage.index, dtype=object)


def _first_item(values: pd.Series) -> pd.Series:
    """First of several comma-separated phones / e-mails in one cell."""
    return map_text(values, lambda v: v.split(",")[0].strip())


def _timestamp(values: pd.Series, timezone: str) -> pd.Series:
    return timestamp_text(values, timezone)


TYPED = ("created_at", "closed_at", "amount")
"""Date and number fields: placeholders there (``не закрыта``) are read as empty."""


def translate(
    export: ExportTable,
    *,
    stages: Mapping[str, str] | None = None,
    timezone: str = ACCOUNT_TIMEZONE,
) -> pd.DataFrame:
    """Canonical ``deals`` columns (text) from a read amoCRM export."""
    f = export.frame
    stage = canonical_stage(f["stage"], f["pipeline"], stages)
    status_id = f["status_id"].map(lambda v: v.strip() if isinstance(v, str) else None)
    from_id = status_id.map({WON_STATUS_ID: "won", LOST_STATUS_ID: "lost"})
    from_stage = stage.map({"won": "won", "lost": "lost"})
    has_id = export.found["status_id"] is not None
    status = (from_id if has_id else from_stage).where(lambda s: s.notna(), "open")
    if not has_id:
        status_id = status.map({"won": WON_STATUS_ID, "lost": LOST_STATUS_ID})
    deals = pd.DataFrame(
        {
            "deal_id": f["deal_id"],
            "lead_id": f["lead_id"],
            "created_at": _timestamp(f["created_at"], timezone),
            "closed_at": _timestamp(f["closed_at"], timezone),
            "status": status,
            "status_id": status_id.astype(object).where(status_id.notna(), None),
            "stage": stage,
            "loss_reason": f["loss_reason"],
            "amount": decimal_text(f["amount"]),
            "manager": f["manager"],
            **{u: f[u] for u in UTM_COLUMNS},
            "region": f["region"],
            "industry": f["industry"],
            "company_size": f["company_size"],
        }
    )
    return deals


def _write_contacts(con, export: ExportTable, load_id: str, salt: str) -> list[str]:
    f = export.frame
    phones, notes = customer_phone_text(
        f["phone"], export.rows, column="phone", ignore=export.rejects
    )
    emails = _first_item(f["email"])
    contacts = pd.DataFrame(
        {
            "_row": export.rows,
            "deal_id": f["deal_id"].map(lambda v: v.strip() if isinstance(v, str) else None),
            "phone_hash": [warehouse.hash_pii(p, "phone", salt) for p in phones],
            "email_hash": [warehouse.hash_pii(e, "email", salt) for e in emails],
        }
    )
    if warehouse.is_dry_run():  # load-source --check: the side table is not written either
        return notes
    con.execute(DEAL_CONTACTS_DDL)
    con.register("_amocrm_contacts", contacts)
    try:
        loaded = (
            "SELECT c.* FROM _amocrm_contacts c WHERE c._row NOT IN "
            "(SELECT row_number FROM main.quarantine WHERE load_id = $load_id "
            "AND source_file = $source) "
            "AND (c.phone_hash IS NOT NULL OR c.email_hash IS NOT NULL)"
        )
        params = {"load_id": load_id, "source": str(export.path)}
        con.execute(
            f"DELETE FROM main.deal_contacts WHERE deal_id IN (SELECT deal_id FROM ({loaded}))",
            params,
        )
        con.execute(
            f"INSERT INTO main.deal_contacts SELECT deal_id, phone_hash, email_hash "
            f"FROM ({loaded}) ORDER BY _row",
            params,
        )
    finally:
        con.unregister("_amocrm_contacts")
    return notes


def load_deals(
    con,
    path: str | Path,
    *,
    salt: str,
    stages: Mapping[str, str] | None = None,
    timezone: str = ACCOUNT_TIMEZONE,
    encoding: str = "auto",
    delimiter: str = "auto",
    columns: Mapping[str, str] | None = None,
    placeholders: tuple[str, ...] | None = None,
    load_id: str | None = None,
    now: datetime | None = None,
) -> warehouse.LoadResult:
    """Load an amoCRM deals export into ``deals`` (and contact hashes into ``deal_contacts``).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    path : str or Path
        The CSV export.
    salt : str
        PII salt: contact phones / e-mails are hashed with it.
    stages : mapping, optional
        Extra stage names -> canonical stage (``new``, ``mql``, ``sql``,
        ``demo``, ``proposal``, ``won``, ``lost``), added to
        :data:`DEFAULT_STAGES`; a key ``"Воронка / Этап"`` applies to one
        pipeline only.
    timezone : str
        Account time zone; dates with a UTC offset are converted to it,
        others are taken as local.
    encoding, delimiter : str
        ``"auto"`` by default (cp1251 or UTF-8; ``;`` or ``,``). Real exports
        are also UTF-8 with ``,``, multi-line quoted notes and custom fields
        sharing a name (read as one field, first non-empty value).
    columns : mapping, optional
        Column mapping ``{their column: field}`` (fields: :data:`COLUMNS`).
    placeholders : tuple of str, optional
        Texts read as empty in dates and the amount (open deals' «не закрыта»);
        :data:`analytics.sources.DEFAULT_PLACEHOLDERS` by default. They are
        counted in the result's notes and do not quarantine the deal.
    load_id : str, optional
        Id of this load in ``quarantine`` and ``load_log``.
    now : datetime, optional
        Reference time of the future-date check.

    Returns
    -------
    SourceResult

    Raises
    ------
    InputError
        An unusable file (see :func:`analytics.sources.read_export`).
    """
    canonical, renames = split_mapping(columns, COLUMNS)
    export, custom = read_with_other_columns(
        path,
        COLUMNS,
        REQUIRED,
        renames=renames,
        vendor=VENDOR,
        delimiter=delimiter,
        encoding=encoding,
        mapping=canonical,
        typed=TYPED,
        placeholders=placeholders,
        kind="amocrm",
    )
    deals = translate(export, stages=stages, timezone=timezone)
    epoch = deals["closed_at"].map(lambda v: isinstance(v, str) and v.startswith("1970-01-01"))
    deals["closed_at"] = deals["closed_at"].where(~epoch.astype(bool), None)
    extra = (
        [
            f"closed_at: {int(epoch.sum())} epoch-zero time(s) (1970-01-01, an empty date) "
            f"read as empty"
        ]
        if epoch.any()
        else []
    )
    load_id = load_id or new_load_id()
    rejects = epoch_zero_rejects(export, deals["created_at"], "created_at")
    result = load_translated(
        con,
        "deals",
        deals,
        export,
        salt=salt,
        load_id=load_id,
        now=now,
        rejects=rejects,
        notes=extra,
    )
    notes = _write_contacts(con, export, load_id, salt)
    notes += _write_custom_fields(con, export, custom, deals, load_id, salt, now)
    return dataclasses.replace(result, notes=result.notes + tuple(notes))


def _write_custom_fields(con, export, custom, deals, load_id, salt, now) -> list[str]:
    """Custom-field columns -> ``lead_fields`` of the deal's lead, recorded at its creation."""
    if not custom:
        return []
    has_lead = deals["lead_id"].notna().to_numpy()
    notes = []
    if not has_lead.all():
        notes.append(
            f"lead_fields: custom fields of {int((~has_lead).sum())} deal(s) without a lead id "
            "not stored (lead_fields is keyed by lead)"
        )
    part = export.subset(has_lead)
    rows = field_rows(
        part,
        custom,
        deals.loc[has_lead, "lead_id"].reset_index(drop=True),
        deals.loc[has_lead, "created_at"].reset_index(drop=True),
    )
    _, loaded = load_field_rows(
        con, rows, part, main_table="deals", salt=salt, load_id=load_id, now=now
    )
    return notes + loaded


def load_stage_history(
    con,
    path: str | Path,
    *,
    salt: str,
    stages: Mapping[str, str] | None = None,
    timezone: str = ACCOUNT_TIMEZONE,
    encoding: str = "auto",
    delimiter: str = "auto",
    columns: Mapping[str, str] | None = None,
    placeholders: tuple[str, ...] | None = None,
    load_id: str | None = None,
    now: datetime | None = None,
) -> warehouse.LoadResult:
    """Load amoCRM stage changes (deal id, new stage, time) into ``deal_stages``.

    Parameters are those of :func:`load_deals`; columns are read by the
    names in :data:`HISTORY_COLUMNS`. A deal entering the same stage twice is
    quarantined the second time (key ``deal_id, stage``).
    """
    export = read_export(
        path,
        HISTORY_COLUMNS,
        tuple(HISTORY_COLUMNS),
        vendor=HISTORY_VENDOR,
        delimiter=delimiter,
        encoding=encoding,
        mapping=columns,
        typed=("entered_at",),
        placeholders=placeholders,
        kind="amocrm_stages",
    )
    f = export.frame
    history = pd.DataFrame(
        {
            "deal_id": f["deal_id"],
            "stage": canonical_stage(f["stage"], pd.Series(None, index=f.index), stages),
            "entered_at": _timestamp(f["entered_at"], timezone),
        }
    )
    return load_translated(con, "deal_stages", history, export, salt=salt, load_id=load_id, now=now)
