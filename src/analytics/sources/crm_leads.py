"""Another CRM's lead export (HubSpot, Bitrix24, Pipedrive style) -> ``leads`` + ``lead_fields``
(+ ``deals`` and ``deal_stages`` from its status / outcome columns).

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

Status and outcome
------------------
When the export has a status, stage, amount or won/lost-time column, every
row also becomes a ``deals`` row (``deal_id`` = ``lead_id``) with its status
(won / lost / open, from a vocabulary of the vendors' values that
``--option won=[...]`` / ``lost=[...]`` / ``open=[...]`` / ``stages={...}``
extend; unknown values count as open and are listed in the load summary),
amount (``1 234,50 ₽``, ``$1,234.50``, ``RUB 1234``; other currencies with
``--option rates={USD: 92.5}``), close time and loss reason, and the stages
it is known to have entered go to ``deal_stages`` -- see
:mod:`analytics.sources.crm_outcomes`. The columns read for this:

=====================  ==================================================================
deal field             export columns (HubSpot / Bitrix24 / Pipedrive)
=====================  ==================================================================
status / stage         ``Lead Status``, ``Deal Stage``, ``Lifecycle Stage`` / ``Стадия``,
                       ``Статус``, ``Стадия сделки`` / ``Deal - Status``, ``Deal - Stage``
``amount``             ``Amount`` / ``Сумма``, ``Возможная сумма`` / ``Deal - Value``;
                       currency ``Currency`` / ``Валюта`` / ``Deal - Currency``
won / lost time        ``Became a Customer Date`` / -- / ``Deal - Won time``,
                       ``Deal - Lost time``
close time             ``Close Date`` / ``Дата закрытия``, ``Дата завершения`` /
                       ``Deal - Close time``, ``Deal - Deal closed on``
``loss_reason``        ``Closed Lost Reason`` / ``Причина отказа`` / ``Deal - Lost reason``
stage entered at       ``Became a Marketing Qualified Lead Date``, ``Became a Sales
                       Qualified Lead Date`` / -- / ``Deal - Last stage change``
``manager``            ``Deal owner`` / ``Ответственный`` / ``Deal - Owner``
=====================  ==================================================================

These columns are deal data, not lead fields (they are known only after the
first contact); ``status`` and ``stage`` are kept in ``lead_fields`` as well.
A bad amount or time quarantines the row's deal (naming the export's column);
its lead still loads. ``--option deals=false`` loads leads and fields only.

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

import numpy as np
import pandas as pd

from analytics import warehouse
from analytics.sources.calltracking import LEAD_TYPES
from analytics.sources.crm_outcomes import (
    ACCOUNT_CURRENCY,
    build_vocabulary,
    classify,
    earliest,
    is_iso_time,
    keep_earlier_stages,
    money_text,
)
from analytics.sources.custom_fields import (
    RECORDED_AT,
    field_rows,
    load_field_rows,
    read_with_other_columns,
    split_mapping,
)
from analytics.sources.reading import (
    ACCOUNT_TIMEZONE,
    ExportTable,
    epoch_zero_rejects,
    load_translated,
    map_text,
    new_load_id,
    rows_text,
    timestamp_text,
)
from analytics.warehouse import InputError
from analytics.warehouse.schema import CANONICAL

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
    "stage": ("Deal Stage", "Lifecycle Stage", "Deal - Stage", "Стадия сделки", "stage"),
    # outcome columns -> deals (see analytics.sources.crm_outcomes); not lead fields
    "amount": (
        "Amount",
        "Deal - Value",
        "Value",
        "Сумма",
        "Возможная сумма",
        "Amount in company currency",
        "amount",
    ),
    "currency": ("Deal - Currency", "Currency", "Валюта", "Deal currency code", "currency"),
    "won_at": ("Deal - Won time", "Won time", "Became a Customer Date", "won_at"),
    "lost_at": ("Deal - Lost time", "Lost time", "lost_at"),
    "closed_at": (
        "Close Date",
        "Deal - Close time",
        "Deal - Deal closed on",
        "Deal - Closed on",
        "Дата закрытия",
        "Дата завершения",
        "closed_at",
    ),
    "loss_reason": (
        "Deal - Lost reason",
        "Lost reason",
        "Closed Lost Reason",
        "Причина отказа",
        "Причина провала",
        "loss_reason",
    ),
    "stage_at": ("Deal - Last stage change", "Last stage change", "Deal - Stage change time"),
    "mql_at": ("Became a Marketing Qualified Lead Date",),
    "sql_at": ("Became a Sales Qualified Lead Date", "Became an Opportunity Date"),
    "manager": ("Deal - Owner", "Deal owner", "Ответственный", "manager"),
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

TIMES = (
    "created_at",
    "modified_at",
    "won_at",
    "lost_at",
    "closed_at",
    "stage_at",
    "mql_at",
    "sql_at",
)
"""Time fields of the export (placeholders there are read as empty)."""

OUTCOME_FIELDS = ("status", "stage", "amount", "won_at", "lost_at")
"""An export with any of these columns also loads ``deals`` (and ``deal_stages``)."""

DEAL_FIELDS = (
    "amount",
    "currency",
    "won_at",
    "lost_at",
    "closed_at",
    "loss_reason",
    "stage_at",
    "mql_at",
    "sql_at",
    "manager",
)
"""Fields read for ``deals`` only; with ``deals=False`` their columns stay lead fields."""


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
    won=None,
    lost=None,
    open=None,
    stages: Mapping[str, str] | None = None,
    currency: str = ACCOUNT_CURRENCY,
    rates: Mapping[str, float] | None = None,
    deals: bool = True,
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
    won, lost, open : str or list of str, optional
        Status / stage values meaning a won, lost or open deal, added to
        :data:`analytics.sources.crm_outcomes.VOCABULARY` (``--option won=[Оплачено]``).
    stages : mapping, optional
        ``{their stage: canonical stage}`` (``new`` ... ``proposal``, ``won``, ``lost``).
    currency : str
        Currency of amounts without a sign, code or currency column (RUB).
    rates : mapping, optional
        RUB per unit of other currencies (``{"USD": 92.5}``); an amount in a
        currency without a rate quarantines its deal.
    deals : bool
        Load the status / outcome columns into ``deals`` and ``deal_stages``
        (:func:`load_outcomes`); ``False`` loads no deals and keeps those
        columns in ``lead_fields`` like any other (the behaviour before deals).
    load_id : str, optional
        Id of this load in ``quarantine`` and ``load_log`` (both tables).
    now : datetime, optional
        Reference time of the future-date check.

    Returns
    -------
    SourceResult
        The ``leads`` load; its notes say how many values went to ``lead_fields``
        and how many rows to ``deals`` (won / lost / open, values not in the
        vocabulary) and ``deal_stages``; each of those loads has its own
        ``load_log`` row.

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
    vocabulary = build_vocabulary(won, lost, open, stages)
    fields = COLUMNS if deals else {k: v for k, v in COLUMNS.items() if k not in DEAL_FIELDS}
    canonical, renames = split_mapping(columns, fields)
    export, others = read_with_other_columns(
        path,
        fields,
        REQUIRED,
        renames=renames,
        vendor=VENDOR,
        delimiter=delimiter,
        encoding=encoding,
        mapping=canonical,
        typed=(*TIMES, "amount"),
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
    if deals and any(export.found[k] is not None for k in OUTCOME_FIELDS):
        notes += load_outcomes(
            con,
            export,
            leads,
            vocabulary=vocabulary,
            currency=currency,
            rates=rates,
            decimal_comma=russian,
            timezone=timezone,
            rejects=rejects,
            salt=salt,
            load_id=load_id,
            now=now,
        )
    return dataclasses.replace(result, notes=result.notes + tuple(notes))


def _time_rejects(export: ExportTable, times: dict[str, pd.Series]) -> dict[int, tuple[str, str]]:
    """Records whose outcome time does not parse: record -> (export column, reason)."""
    out: dict[int, tuple[str, str]] = {}
    for name, values in times.items():
        header = export.found[name]
        if header is None:
            continue
        for pos in np.flatnonzero(~is_iso_time(values)):
            raw = export.frame[name].iloc[pos]
            out.setdefault(
                int(export.rows[pos]),
                (header, f"{name}: not a date or time: {raw!r} (column {header!r})"),
            )
    return out


def load_outcomes(
    con,
    export: ExportTable,
    leads: pd.DataFrame,
    *,
    vocabulary: dict,
    currency: str,
    rates,
    decimal_comma: bool,
    timezone: str,
    rejects: dict[int, tuple[str, str]],
    salt: str,
    load_id: str,
    now: datetime | None,
) -> list[str]:
    """The export's status / outcome columns -> ``deals`` and ``deal_stages`` (same load id).

    See :mod:`analytics.sources.crm_outcomes` for the rules. Records with an
    amount or time that does not read are quarantined in ``deals`` naming the
    export's column; ``deals`` and ``deal_stages`` get their own ``load_log``
    rows (``rows_in = inserted + updated + unchanged + quarantined``).

    Returns
    -------
    list of str
        Notes for the load summary: counts by status, values not in the
        vocabulary (counted as open), times taken from the last-modified column.
    """
    f = export.frame
    outcomes = classify(f["status"], f["stage"], vocabulary)
    status = outcomes.status
    amounts, bad_amounts = money_text(
        f["amount"], f["currency"], currency=currency, rates=rates, decimal_comma=decimal_comma
    )
    times = {k: timestamp_text(f[k], timezone) for k in TIMES if k != "created_at"}
    bad = {
        int(export.rows[pos]): (
            export.found["amount"],
            f"{reason} (column {export.found['amount']!r})",
        )
        for pos, reason in bad_amounts.items()
    }
    bad = {**_time_rejects(export, times), **bad, **rejects, **export.rejects}
    won, lost = (status == "won"), (status == "lost")
    outcome_time = earliest(
        times["won_at"].where(won, times["lost_at"].where(lost, None)), times["closed_at"]
    ).where(won | lost, None)
    from_modified = (won | lost) & outcome_time.isna() & times["modified_at"].notna()
    closed = outcome_time.where(~from_modified, times["modified_at"])
    no_time = (won | lost) & closed.isna()
    deals = pd.DataFrame(
        {
            "deal_id": f["lead_id"],
            "lead_id": f["lead_id"],
            "created_at": leads["created_at"],
            "closed_at": closed,
            "status": status,
            "stage": outcomes.stage,
            "loss_reason": f["loss_reason"].where(lost, None),
            "amount": amounts,
            "manager": f["manager"],
            **{u: f[u] for u in UTM},
            "region": f["region"],
            "industry": f["industry"],
            "company_size": f["company_size"],
        }
    )
    result = _load_with_rejects(con, "deals", deals, export, bad, salt, load_id, now)
    notes = [
        f"deals: {result.rows_in} row(s) ({int(won.sum())} won, {int(lost.sum())} lost, "
        f"{int((status == 'open').sum())} open) -> {result.rows_inserted} inserted, "
        f"{result.rows_updated} updated, {result.rows_unchanged} unchanged, "
        f"{result.rows_quarantined} quarantined"
    ]
    if outcomes.unknown:
        shown = ", ".join(f"{v!r} ({n})" for v, n in outcomes.unknown.most_common(10))
        notes.append(
            f"deals: {sum(outcomes.unknown.values())} status/stage value(s) not in the "
            f"vocabulary, counted as open: {shown}; name them with --option won=[...] / "
            f"lost=[...] / open=[...] / stages={{...}} (or leads: options: in "
            f"params/sources.yaml)"
        )
    if outcomes.conflicts:
        notes.append(
            f"deals: {outcomes.conflicts} row(s) with a won and a lost value: counted as won"
        )
    if from_modified.any():
        notes.append(
            f"deals: {int(from_modified.sum())} closed deal(s) without a won/lost/close time: "
            f"closed at the export's last-modified time ({export.found['modified_at']!r})"
        )
    if no_time.any():
        notes.append(
            f"deals: {int(no_time.sum())} closed deal(s) without any close time (rows "
            f"{rows_text(export.rows[no_time.to_numpy()])}): not counted in any period"
        )
    if len(notes) > 1 and not warehouse.is_dry_run():  # the warnings stay with the load
        con.execute(
            "UPDATE main.load_log SET warnings = concat_ws('; ', warnings, ?) WHERE load_id = ? "
            "AND source_file = ? AND target_table = 'deals'",
            ["; ".join(notes[1:]), load_id, str(result.source_file)],
        ).fetchall()
    loaded = np.ones(len(deals), dtype=bool)
    if not warehouse.is_dry_run():
        gone = _quarantined_rows(con, load_id, export.path, "deals")
        loaded = ~np.isin(export.rows, list(gone))
    notes += _load_stages(
        con, export, deals, outcomes, times, loaded, salt=salt, load_id=load_id, now=now
    )
    return notes


def _quarantined_rows(con, load_id: str, path, table: str) -> set[int]:
    return {
        int(r[0])
        for r in con.execute(
            "SELECT row_number FROM main.quarantine WHERE load_id = ? AND source_file = ? "
            "AND target_table = ?",
            [load_id, str(path), table],
        ).fetchall()
    }


def _load_with_rejects(con, table, frame, export, rejects, salt, load_id, now):
    """:func:`analytics.warehouse.load_frame` of ``frame`` with ``rejects`` quarantined.

    As :func:`analytics.sources.reading.load_translated` does, but without touching
    the ``load_log`` rows of the file's other tables: the rejected records get an
    invalid time so the checks quarantine them, then their real column and reason.
    """
    frame = frame.copy()
    if rejects:
        mask = np.isin(export.rows, list(rejects))
        frame.loc[mask, CANONICAL[table].time_column] = "rejected"
    result = warehouse.load_frame(
        con,
        table,
        frame,
        source_file=export.path,
        salt=salt,
        row_numbers=export.rows,
        load_id=load_id,
        now=now,
    )
    if not warehouse.is_dry_run():
        for row, (column, reason) in rejects.items():
            con.execute(
                "UPDATE main.quarantine SET column_name = ?, reason = ? WHERE load_id = ? "
                "AND source_file = ? AND row_number = ? AND target_table = ?",
                [column, reason, load_id, str(result.source_file), int(row), table],
            ).fetchall()
    return result


def _load_stages(con, export, deals, outcomes, times, loaded, *, salt, load_id, now) -> list[str]:
    """``deal_stages`` of the loaded deals (times in :mod:`analytics.sources.crm_outcomes`)."""
    current, reached = outcomes.stage, outcomes.reached
    is_open = (outcomes.status == "open").to_numpy()
    # the stage reached: entered at the stage-change time; an open deal's current
    # stage, without one, at the last-modified time (a closed deal's is its close)
    stage_time = times["stage_at"].where(
        ~is_open, earliest(times["stage_at"], times["modified_at"])
    )
    past_new = reached.isin(("mql", "sql", "demo", "proposal"))
    candidates = [
        ("new", deals["created_at"]),
        ("mql", times["mql_at"]),
        ("sql", times["sql_at"]),
        ("reached", stage_time.where(past_new, None)),
        ("closed", deals["closed_at"].where(current.isin(("won", "lost")), None)),
    ]
    parts = []
    for name, when in candidates:
        stage = {"reached": reached, "closed": current}.get(name)
        stage = pd.Series(name, index=current.index) if stage is None else stage
        parts.append(
            pd.DataFrame(
                {
                    "_row": export.rows,
                    "deal_id": deals["deal_id"].to_numpy(),
                    "stage": stage.to_numpy(),
                    "entered_at": when.to_numpy(),
                }
            )[loaded & when.notna().to_numpy()]
        )
    rows = pd.concat(parts, ignore_index=True)
    untimed = loaded & is_open & past_new.to_numpy() & stage_time.isna().to_numpy()
    notes = []
    if untimed.any():
        notes.append(
            f"deal_stages: {int(untimed.sum())} open deal(s) past 'new' without a stage-change "
            f"or last-modified time: their stage is in deals only"
        )
    if rows.empty:
        return notes
    # one row per deal and stage: the earliest time (a stage said twice, e.g. sql by
    # the lifecycle date and by the current stage)
    order = pd.to_datetime(rows["entered_at"], errors="coerce", format="ISO8601")
    rows = rows.assign(_t=order).sort_values(["_row", "_t"], kind="stable")
    rows = rows.drop_duplicates(["deal_id", "stage"]).drop(columns="_t").reset_index(drop=True)
    rows = keep_earlier_stages(con, rows)
    result = warehouse.load_frame(
        con,
        "deal_stages",
        rows[["deal_id", "stage", "entered_at"]],
        source_file=export.path,
        salt=salt,
        load_id=load_id,
        now=now,
    )
    if result.rows_quarantined and not warehouse.is_dry_run():
        # ordinals -> the file's record numbers (as lead_fields does)
        where = pd.DataFrame(
            {
                "ordinal": np.arange(1, len(rows) + 1, dtype=np.int64),
                "record": rows["_row"].to_numpy(dtype=np.int64),
            }
        )
        con.register("_deal_stage_records", where)
        try:
            con.execute(
                "UPDATE main.quarantine AS q SET row_number = w.record "
                "FROM _deal_stage_records AS w WHERE q.row_number = w.ordinal "
                "AND q.load_id = ? AND q.source_file = ? AND q.target_table = 'deal_stages'",
                [load_id, str(result.source_file)],
            ).fetchall()
        finally:
            con.unregister("_deal_stage_records")
    notes.append(
        f"deal_stages: {result.rows_in} stage(s) -> {result.rows_inserted} inserted, "
        f"{result.rows_updated} updated, {result.rows_unchanged} unchanged, "
        f"{result.rows_quarantined} quarantined"
    )
    return notes
