"""A CRM export's other columns -> ``lead_fields`` (lead id, field, value, recorded_at).

CRM exports carry many columns besides the ones an adapter maps to a canonical
table: amoCRM custom fields, HubSpot contact properties, Bitrix24 lead fields,
Pipedrive deal and person fields, lead-form answers. Lead scoring can learn from
them (``params/scoring.yaml``, :mod:`analytics.scoring.fields`), so the
``amocrm`` and ``leads`` adapters keep every such column: one ``lead_fields``
row per lead and filled value, the field named by the column header (or renamed with
``--map "Their column=field:name"``).

Values are text; a column whose every filled value is a number in either
thousands style (``'1 500 000,00'``, ``'1,500,000.00'``; an ambiguous ``'1,500'``
follows the export's language) is stored as
dot-decimal text (:func:`analytics.sources.reading.number_text`), so the model
reads it as a number. Empty values are not stored (a field not filled is a
missing value for the model).

``recorded_at`` is the time the value is taken to be known: by default the
lead's (or deal's) creation time -- form answers and fields filled when the
request arrives. A field that sales fill in later (call result, lead quality,
loss reason) must be named in ``post_contact`` of ``params/scoring.yaml``: it is
then excluded from the model unless explicitly allowed. With
``recorded_at="modified"`` the export's last-modified column is used instead
(every value then counts as known only when the record was last changed, which
is safe but usually leaves nothing usable at arrival).

The rows go through :func:`analytics.warehouse.load_frame` like every canonical
load: one ``load_log`` row for ``lead_fields`` per file (``rows_in`` = filled
values of the records loaded), upsert on ``(lead_id, field)`` with the replaced
version kept in ``history.lead_fields``, the same file loaded twice is
unchanged. Values of records quarantined by the main table are not loaded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from analytics import warehouse
from analytics.sources.reading import ExportTable, _normal_name, number_text, read_export

EXTRA_PREFIX = "\x1fextra:"
"""Key prefix of the other columns among the fields of a read export."""

RECORDED_AT = ("created", "modified")
"""Choices of ``recorded_at`` (see module doc)."""


RENAME_PREFIX = "field:"
"""A mapping target ``field:<name>`` renames a kept column (``--map "Бюджет=field:budget"``)."""


def split_mapping(
    mapping: Mapping[str, str] | None, fields: Mapping[str, tuple[str, ...]]
) -> tuple[dict[str, str], dict[str, str]]:
    """``{their column: target}`` -> (mapping to canonical fields, renames of kept columns).

    A target ``field:<name>`` renames a kept column to ``<name>`` in
    ``lead_fields``; any other target must be a canonical field (the reader
    refuses an unknown one, so a typo is not silently kept as a field).
    """
    canonical, renames = {}, {}
    for their, name in (mapping or {}).items():
        name = str(name)
        if name.startswith(RENAME_PREFIX) and name[len(RENAME_PREFIX) :].strip():
            renames[str(their)] = name[len(RENAME_PREFIX) :].strip()
        else:
            canonical[str(their)] = name
    return canonical, renames


def read_with_other_columns(
    path: str | Path,
    columns: Mapping[str, tuple[str, ...]],
    required,
    *,
    renames: Mapping[str, str] | None = None,
    **options,
) -> tuple[ExportTable, dict[str, str]]:
    """Read an export (:func:`~analytics.sources.reading.read_export`) with every other column.

    Returns
    -------
    export : ExportTable
        Its ``frame`` has the canonical fields and one column per other header
        column, keyed ``EXTRA_PREFIX + header``.
    names : dict
        Frame key of each other column -> field name in ``lead_fields`` (the
        header, or its rename). Empty or unnamed columns are left out.
    """
    first = read_export(path, columns, required, **options)
    mapped = {_normal_name(k) for k in (options.get("mapping") or {})}
    known = {_normal_name(a) for aliases in columns.values() for a in aliases} | mapped
    renamed = {_normal_name(k): v for k, v in (renames or {}).items()}
    others: dict[str, str] = {}
    for name in first.header:
        normal = _normal_name(name)
        if not normal or normal in known or normal.startswith("unnamed:"):
            continue
        key = EXTRA_PREFIX + name
        if any(_normal_name(k[len(EXTRA_PREFIX) :]) == normal for k in others):
            continue  # same-name columns are read as one field by read_export
        others[key] = renamed.get(normal, " ".join(name.split()))
    if not others:
        return first, {}
    wider = {**columns, **{key: (key[len(EXTRA_PREFIX) :],) for key in others}}
    second = read_export(path, wider, required, **options)
    # the first read's notes name the columns no canonical field reads (and what
    # they look like); say where they went instead of "not read"
    notes = [
        note.replace("column(s) not read:", "column(s) kept as lead fields (lead_fields):").replace(
            "(not read);", "(kept as a lead field);"
        )
        for note in first.notes
    ]
    return dataclasses.replace(second, notes=notes), others


def field_rows(
    export: ExportTable,
    names: Mapping[str, str],
    lead_ids: pd.Series,
    recorded_at: pd.Series,
    *,
    decimal_comma: bool = True,
) -> pd.DataFrame:
    """Long ``lead_fields`` rows (text) of the other columns, with ``_row`` = data record number.

    Parameters
    ----------
    export : ExportTable
        From :func:`read_with_other_columns`.
    names : dict
        Frame key -> field name.
    lead_ids, recorded_at : pandas.Series
        Per frame row: the lead id and the canonical time text the values are
        recorded at.
    decimal_comma : bool
        How an ambiguous ``'1,500'`` reads when no value of the column shows the
        style: ``1.5`` (Russian exports) or ``1500`` (English exports).
    """
    parts = []
    for key, field in names.items():
        values = export.frame[key]
        filled = values.notna()
        texts = values[filled].astype(str)
        converted = number_text(texts, decimal_comma=decimal_comma)
        numeric = pd.to_numeric(converted, errors="coerce")
        if len(texts) and numeric.notna().all():
            texts = converted
        parts.append(
            pd.DataFrame(
                {
                    "_row": export.rows[filled.to_numpy()],
                    "lead_id": lead_ids[filled].to_numpy(),
                    "field": field,
                    "value": texts.to_numpy(),
                    "recorded_at": recorded_at[filled].to_numpy(),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["_row", "lead_id", "field", "value", "recorded_at"])
    rows = pd.concat(parts, ignore_index=True)
    return rows.sort_values(["_row", "field"], kind="stable").reset_index(drop=True)


def load_field_rows(
    con,
    rows: pd.DataFrame,
    export: ExportTable,
    *,
    main_table: str,
    salt: str,
    load_id: str,
    now: datetime | None = None,
) -> tuple[warehouse.LoadResult | None, list[str]]:
    """Load :func:`field_rows` into ``lead_fields``, skipping records ``main_table`` quarantined.

    Returns
    -------
    result : LoadResult or None
        The ``lead_fields`` load (None when there was nothing to load).
    notes : list of str
        What happened, for the adapter's notes.
    """
    if rows.empty:
        return None, []
    notes = []
    if not warehouse.is_dry_run():
        bad = {
            int(r[0])
            for r in con.execute(
                "SELECT row_number FROM main.quarantine WHERE load_id = ? AND source_file = ? "
                "AND target_table = ?",
                [load_id, str(export.path), main_table],
            ).fetchall()
        }
        if bad:
            keep = ~np.isin(rows["_row"].to_numpy(), list(bad))
            skipped = int((~keep).sum())
            rows = rows[keep]
            if skipped:
                notes.append(
                    f"lead_fields: {skipped} value(s) of quarantined {main_table} records "
                    "not loaded"
                )
        if rows.empty:
            return None, notes
    rows = rows.reset_index(drop=True)
    # One record gives several values, and load_frame wants one row number per
    # value: the values are numbered 1..n, then their quarantine rows are given
    # the file's record number and the column of the value.
    result = warehouse.load_frame(
        con,
        "lead_fields",
        rows[["lead_id", "field", "value", "recorded_at"]],
        source_file=export.path,
        salt=salt,
        load_id=load_id,
        now=now,
    )
    if result.rows_quarantined and not warehouse.is_dry_run():
        where = pd.DataFrame(
            {
                "ordinal": np.arange(1, len(rows) + 1, dtype=np.int64),
                "record": rows["_row"].to_numpy(dtype=np.int64),
                "field": rows["field"].to_numpy(dtype=object),
            }
        )
        con.register("_lead_field_records", where)
        try:
            con.execute(
                "UPDATE main.quarantine AS q SET row_number = w.record, "
                "column_name = w.field || ' (' || q.column_name || ')' "
                "FROM _lead_field_records AS w WHERE q.row_number = w.ordinal "
                "AND q.load_id = ? AND q.source_file = ? AND q.target_table = 'lead_fields'",
                [load_id, str(result.source_file)],
            ).fetchall()
        finally:
            con.unregister("_lead_field_records")
    fields = rows["field"].nunique()
    notes.append(
        f"lead_fields: {result.rows_in} value(s) of {fields} other column(s) -> "
        f"{result.rows_inserted} inserted, {result.rows_updated} updated, "
        f"{result.rows_unchanged} unchanged, {result.rows_quarantined} quarantined"
    )
    return result, notes
