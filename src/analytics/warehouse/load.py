"""DuckDB warehouse: load raw files into the canonical tables with a quarantine.

Every raw file (CSV or Parquet) is read with all columns as text, each value is
checked against its declaration in :mod:`analytics.warehouse.schema`, good rows are
inserted with proper types and bad rows go to ``quarantine`` -- one row per
rejected input row, naming the file, the 1-based data row number, the first
failing column and every failing check. One ``load_log`` row per file records
the reconciliation

    rows_in = rows_loaded + rows_quarantined

which is also asserted at load time. All row-level work is done in DuckDB SQL,
so a 10M-row file never passes through Python.

PII (``Column.pii``) is normalised, salted and hashed at ingest,
``<name>_hash = sha256(salt || normalised)``; the raw value is stored nowhere,
not even in ``quarantine.raw_row``.

Decisions
---------
* Row numbers count data records, header excluded: row 1 is line 2 of an
  ordinary CSV file. The CSV reader skips blank lines and a quoted value may
  span lines; in such files the row number is the record ordinal.
* A structurally broken CSV line (fewer or more fields than the header, e.g.
  a truncated last line, or an unterminated quote) rejects the *whole file*
  with :class:`InputError` naming the file and the line. Field alignment of
  such a line cannot be trusted and a truncated line usually means a truncated
  export, so loading the rest silently would undercount.
* Key duplicates are looked for among rows that pass the column checks: the
  first valid occurrence in the file is loaded, later ones are quarantined, as
  are rows whose key is already in the warehouse table.
* Text values are stored trimmed of surrounding spaces, tabs and line breaks;
  an empty value is NULL.
* A file loaded into an empty table is first surveyed (every column check
  and the key, aggregated); if nothing is to be quarantined its rows go
  straight from the file into the table, else the checked rows are staged
  in a temp table first. Both routes store the same rows in the same order.
"""

from __future__ import annotations

import codecs
import contextvars
import csv
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
from tqdm import tqdm

from analytics.warehouse.connection import (
    TRUTH_SCHEMA,
    InputError,
    _sql_str,
    init_schema,
)
from analytics.warehouse.pii import _normalise_pii_sql, _trim_sql, check_salt, forget_salt
from analytics.warehouse.schema import (
    CANONICAL,
    EARLIEST_TIME,
    FUTURE_SLACK,
    HISTORY_SCHEMA,
    WAREHOUSE_TIMEZONE,
    Column,
    Table,
    schema_markdown,
)

LOAD_ORDER = ("spend", "visits", "leads", "lead_fields", "deals", "deal_stages")
"""Order in which :func:`load_raw_dir` loads the canonical tables."""

OPTIONAL_RAW = ("lead_fields",)
"""Tables of :data:`LOAD_ORDER` whose raw file may be absent (skipped, no ``load_log`` row):
folders written before ``lead_fields`` existed and CRMs without extra fields still load."""


BOOLEAN_TRUE = ("true", "1", "yes")
BOOLEAN_FALSE = ("false", "0", "no")

_CHUNK = 1 << 23
_REASON_VALUE_CHARS = 80
_NULL_TEXT = "CAST(NULL AS VARCHAR)"
_TYPE_PATTERNS = {
    "BIGINT": r"^[+-]?[0-9]+$",
    "DOUBLE": r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$",
    "DATE": r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T]00:00(:00(\.0*)?)?)?$",
    "TIMESTAMP": r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ T]|$)",
}
"""Text shapes accepted per type before TRY_CAST (ISO dates, dot decimal point)."""

_TYPED_VALID = {
    "BIGINT": None,
    "BOOLEAN": None,
    "DOUBLE": "isfinite({v})",
    "DATE": "{v} BETWEEN DATE '0001-01-01' AND DATE '9999-12-31'",
    "TIMESTAMP": (
        "{v} BETWEEN make_timestamp(-9998, 1, 1, 0, 0, 0) "
        "AND TIMESTAMP '9999-12-31 23:59:59.999999'"
    ),
}
"""Parquet columns already of the declared type: which values the text route would accept.

The text route (:func:`_typed_sql`) casts a Parquet value to text and back. For
these types that is the identity on the values whose text matches
:data:`_TYPE_PATTERNS`: every BIGINT and BOOLEAN; a DOUBLE unless NaN or
infinite (``'nan'``, ``'inf'``); a DATE of years 1-9999 AD (a BC date prints as
``'0044-03-15 (BC)'``, which the DATE pattern refuses); a TIMESTAMP whose
year prints with four digits, 9999 BC to 9999 AD (``'infinity'`` and
``'10000-01-01 ...'`` do not match). ``None``: every value. Checked against the
text route in ``tests/warehouse/test_load_typed.py``."""

_OFFSET_PATTERN = r"[0-9]:[0-9]{2}(:[0-9]{2}(\.[0-9]*)?)? ?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$"
"""A time of day followed by a UTC offset (``Z``, ``+05:00``, ``+0500``, ``-03``)."""


@dataclass(frozen=True)
class LoadResult:
    """Row counts of one loaded file.

    ``rows_in = rows_inserted + rows_updated + rows_unchanged + rows_quarantined``
    and ``rows_loaded = rows_inserted + rows_updated + rows_unchanged`` (rows
    that passed the checks), so ``rows_in = rows_loaded + rows_quarantined``.

    Parameters
    ----------
    table : str
        Canonical table the file was loaded into.
    source_file : str
        Absolute path of the raw file.
    rows_in : int
        Data rows read from the file (header excluded).
    rows_loaded : int
        Rows that passed the checks (inserted, updated or unchanged).
    rows_quarantined : int
        Rows written to ``quarantine``.
    rows_inserted : int
        Rows whose key was not in ``table``: added.
    rows_updated : int
        Rows whose key was in ``table`` with another value in at least one
        column present in the input: the stored row replaced, the old version
        kept in ``history.<table>``.
    rows_unchanged : int
        Rows equal to the stored row in every column present in the input:
        nothing written.
    warnings : tuple of str
        Input columns ignored (not declared for ``table``) and declared
        optional columns absent from the input.
    checked : bool
        True for a dry run (``check=True``): the counts say what a load would
        do; nothing was written.
    load_id : str
        Id of the load in ``load_log`` and ``quarantine``.
    """

    table: str
    source_file: str
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    warnings: tuple[str, ...] = ()
    checked: bool = False
    load_id: str = ""

    def summary(self) -> str:
        """One line: ``N rows in = I inserted + U updated + S unchanged + Q quarantined``."""
        return (
            f"{self.rows_in:,} rows in = {self.rows_inserted:,} inserted + "
            f"{self.rows_updated:,} updated + {self.rows_unchanged:,} unchanged + "
            f"{self.rows_quarantined:,} quarantined"
        )


# --------------------------------------------------------------------------- file checks


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_decodes(path: Path, encoding: str) -> None:
    """Raise InputError at the first byte of ``path`` that does not decode (streamed)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as err:
                raise InputError(
                    f"{path.resolve()}: not valid {encoding} "
                    f"at byte {offset - pending + err.start}; "
                    f"re-export as UTF-8 or pass encoding= (e.g. 'cp1251')"
                ) from None
            if not chunk:
                return
            offset += len(chunk)


def _transcode_to_utf8(path: Path, encoding: str, target: Path) -> None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with path.open("rb") as src, target.open("w", encoding="utf-8", newline="") as dst:
        while True:
            chunk = src.read(_CHUNK)
            pending = len(decoder.getstate()[0])
            try:
                dst.write(decoder.decode(chunk, final=not chunk))
            except UnicodeDecodeError as err:
                raise InputError(
                    f"{path.resolve()}: not valid {encoding} "
                    f"at byte {offset - pending + err.start}; "
                    f"check the file's encoding"
                ) from None
            if not chunk:
                return
            offset += len(chunk)


_BINARY_SIGNATURES = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or a ZIP archive; save it as CSV UTF-8 or unzip it"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls); save it as CSV UTF-8"),
    (b"\x1f\x8b", "a gzip file; decompress it first (gunzip)"),
    (b"PAR1", "a Parquet file; name it .parquet"),
)
"""Leading bytes of binary files a user may hand over as CSV, and what to do instead."""


def _check_not_binary(path: Path, source: Path) -> None:
    """Refuse a workbook, archive or Parquet file given as delimited text, naming what it is."""
    with path.open("rb") as fh:
        head = fh.read(8)
    for magic, what in _BINARY_SIGNATURES:
        if head.startswith(magic):
            raise InputError(f"{source}: not a CSV file but {what}")


def _csv_header(path: Path, source: Path, delimiter: str) -> list[str]:
    """Column names of a UTF-8 CSV file (BOM stripped), parsed like the loader."""
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)
        try:
            header = next(reader, None)
        except csv.Error as err:
            raise InputError(f"{source}: header cannot be parsed: {err}") from None
    if not header or all(not name.strip() for name in header):
        raise InputError(f"{source}: header cannot be parsed: the first line is empty")
    return [name.strip() for name in header]


def _read_csv_sql(path: Path, n_columns: int, delimiter: str, rejects: str) -> str:
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n_columns))
    return (
        f"read_csv({_sql_str(str(path))}, columns={{{columns}}}, header=true, "
        f"auto_detect=false, skip=0, delim={_sql_str(delimiter)}, quote='\"', escape='\"', "
        f"encoding='utf-8', ignore_errors=true, store_rejects=true, "
        f"rejects_table={_sql_str(rejects + '_errors')}, "
        f"rejects_scan={_sql_str(rejects + '_scans')})"
    )


# --------------------------------------------------------------------------- validation SQL


def _value_sql(col: Column, raw: str, typed: bool = False) -> str:
    """Value checked for a column: trimmed text, normalised for PII; empty is NULL.

    ``typed``: ``raw`` is a Parquet column already of the declared type (see
    :data:`_TYPED_VALID`), used as it is.
    """
    if typed:
        return raw
    if col.pii:
        return f"nullif({_normalise_pii_sql(raw, col.pii)}, '')"
    return f"nullif({_trim_sql(raw)}, '')"


def _typed_sql(col: Column, v: str, typed: bool = False) -> str:
    """Typed value of the checked text ``v``; NULL when ``v`` is empty or malformed.

    ``typed``: ``v`` is already of the declared type; NULL where the text
    route would find it malformed (:data:`_TYPED_VALID`).
    """
    dtype = col.dtype
    if typed:
        valid = _TYPED_VALID[dtype]
        return v if valid is None else f"CASE WHEN {valid.format(v=v)} THEN {v} END"
    if col.pii:
        return f"CASE WHEN {v} IS NOT NULL THEN sha256($salt || {v}) END"
    if dtype == "VARCHAR":
        return v
    if dtype == "BOOLEAN":
        low = f"lower({v})"
        true_set = ", ".join(_sql_str(x) for x in BOOLEAN_TRUE)
        false_set = ", ".join(_sql_str(x) for x in BOOLEAN_FALSE)
        return (
            f"CASE WHEN {low} IN ({true_set}) THEN true WHEN {low} IN ({false_set}) THEN false END"
        )
    if dtype in _TYPE_PATTERNS:
        # TRY_CAST alone is too lenient ('1.5' -> BIGINT 2, '1_000', '0x10', 'infinity').
        shape = f"regexp_matches({v}, '{_TYPE_PATTERNS[dtype]}')"
        if dtype == "TIMESTAMP":
            # An explicit offset (Z, +05:00, -0300) is converted to the warehouse's time zone;
            # a plain cast to TIMESTAMP would drop it and shift the hours.
            offset = f"regexp_matches({v}, '{_OFFSET_PATTERN}')"
            return (
                f"CASE WHEN {shape} THEN CASE WHEN {offset} "
                f"THEN timezone({_sql_str(WAREHOUSE_TIMEZONE)}, TRY_CAST({v} AS TIMESTAMPTZ)) "
                f"ELSE TRY_CAST({v} AS TIMESTAMP) END END"
            )
        return f"CASE WHEN {shape} THEN TRY_CAST({v} AS {dtype}) END"
    raise ValueError(f"column {col.name!r}: unsupported type {dtype!r}")


def _error_sql(col: Column, v: str, t: str, typed: bool = False) -> str:
    """Reason the column fails (first failing check) or NULL, from text ``v`` and typed ``t``.

    ``typed``: ``v`` is a value of the declared type, shown as its text.
    """
    name = col.name
    text = f"CAST({v} AS VARCHAR)" if typed else v
    shown = "'***'" if col.pii else f"'''' || left({text}, {_REASON_VALUE_CHARS}) || ''''"
    checks: list[tuple[str, str]] = []  # (condition that fails, reason)
    if col.required:
        checks.append((f"{v} IS NULL", _sql_str(f"{name}: missing required value")))
    if not col.pii and col.dtype != "VARCHAR":
        reason = f"{_sql_str(f'{name}: not a {col.dtype}: ')} || {shown}"
        if col.dtype == "DOUBLE" and not typed:
            reason += (
                f" || CASE WHEN regexp_full_match({v}, '[+-]?[0-9]+,[0-9]+') "
                "THEN ' (decimal comma; use a dot)' ELSE '' END"
            )
        checks.append((f"{v} IS NOT NULL AND {t} IS NULL", reason))
    if col.dtype in ("DATE", "TIMESTAMP"):
        earliest = f"{EARLIEST_TIME:%Y-%m-%d}"
        checks.append(
            (
                f"CAST({t} AS TIMESTAMP) < TIMESTAMP '{EARLIEST_TIME:%Y-%m-%d %H:%M:%S}'",
                f"{_sql_str(name + ': implausible date ')} || {shown} "
                f"|| {_sql_str(f' (before {earliest})')}",
            )
        )
        checks.append(
            (
                f"CAST({t} AS TIMESTAMP) > $future_limit",
                f"{_sql_str(name + ': future date ')} || {shown} "
                "|| ' (later than ' || strftime($future_limit, '%Y-%m-%d %H:%M') || ')'",
            )
        )
    if col.min_value is not None:
        below = f" is below the minimum {col.min_value:g}"
        checks.append(
            (f"{t} < {col.min_value!r}", f"{_sql_str(name + ': ')} || {shown} || {_sql_str(below)}")
        )
    if col.allowed:
        allowed = ", ".join(_sql_str(x) for x in col.allowed)
        not_one_of = " is not one of " + ", ".join(col.allowed)
        checks.append(
            (
                f"{t} NOT IN ({allowed})",
                f"{_sql_str(name + ': ')} || {shown} || {_sql_str(not_one_of)}",
            )
        )
    if not checks:
        return "CAST(NULL AS VARCHAR)"
    # The checks of one column exclude each other in order: report the first that fails.
    return "CASE " + " ".join(f"WHEN {cond} THEN {reason}" for cond, reason in checks) + " END"


def _value_list_sql(
    table: Table,
    present: dict[str, str],
    typed: frozenset[str],
    as_read: frozenset[str] = frozenset(),
) -> str:
    """``v0..vN``: the checked value of each declared column (:func:`_value_sql`).

    ``as_read``: declared columns whose value is the raw column as read,
    without trimming or ``nullif`` -- for columns a survey
    (:func:`_survey_sql`) found unchanged by that normalisation.
    """

    def value(c: Column) -> str:
        if c.name not in present:
            return _NULL_TEXT
        if c.name in as_read:
            return _ident(present[c.name])
        return _value_sql(c, _ident(present[c.name]), typed=c.name in typed)

    return ", ".join(f"{value(c)} AS v{i}" for i, c in enumerate(table.columns))


def _typed_list_sql(table: Table, typed: frozenset[str]) -> str:
    """``t0..tN``: the typed value of each ``v0..vN`` (:func:`_typed_sql`)."""
    return ", ".join(
        f"{_typed_sql(c, f'v{i}', typed=c.name in typed)} AS t{i}"
        for i, c in enumerate(table.columns)
    )


def _normalisable(table: Table, present: dict[str, str], typed: frozenset[str]) -> list[int]:
    """Positions of the declared columns read as text whose value may be normalised.

    Non-PII text columns: their checked value is the raw text trimmed, empty
    as NULL (:func:`_value_sql`); when no value of the input changes by it,
    the raw column can be used as it is.
    """
    return [
        i
        for i, c in enumerate(table.columns)
        if c.name in present and c.name not in typed and not c.pii
    ]


def _validate_sql(
    table: Table,
    source: str,
    present: dict[str, str],
    typed: frozenset[str] = frozenset(),
    *,
    survey: bool = False,
) -> str:
    """SELECT giving ``_row``, typed ``t0..tN``, ``_errors`` (NULL if good) and ``_first_col``.

    Only the column checks; duplicate keys are looked for afterwards on the
    stored result (:func:`_duplicates_sql`). The SELECT is a projection of
    ``source``, so its rows come out in ``source``'s order.

    Parameters
    ----------
    table : Table
        Declaration to check against.
    source : str
        Relation with ``_row`` and the raw text columns.
    present : dict
        Declared column name -> raw column of ``source``, for the columns in the file.
    typed : frozenset of str
        Declared columns whose raw column already has the declared type (Parquet),
        checked without the round trip through text (:data:`_TYPED_VALID`).
    survey : bool
        Also give, for each :func:`_normalisable` column ``i``, its checked
        value ``vi`` and its raw text ``ri``; used by :func:`_survey_sql`.
    """
    cols = table.columns
    idx = range(len(cols))
    values = _value_list_sql(table, present, typed)
    # NUL bytes inside a value mean damaged bytes (a file padded or overwritten with zeros):
    # looked for in the raw text, before trimming and PII normalisation could drop them.
    # A typed Parquet value has no text to damage.
    text_cols = {c.name for c in cols if c.name in present and c.name not in typed}
    damaged = "".join(
        f", contains({_ident(present[c.name])}, chr(0)) AS z{i}"
        for i, c in zip(idx, cols, strict=True)
        if c.name in text_cols
    )
    surveyed = ""
    if survey:
        normalisable = _normalisable(table, present, typed)
        damaged += "".join(f", {_ident(present[cols[i].name])} AS r{i}" for i in normalisable)
        surveyed = "".join(f", v{i}, r{i}" for i in normalisable)
    typed_values = _typed_list_sql(table, typed)

    def column_error(i: int, c: Column) -> str:
        error = _error_sql(c, f"v{i}", f"t{i}", typed=c.name in typed)
        if c.name not in text_cols:
            return error
        nul = _sql_str(f"{c.name}: NUL byte(s) in the value (damaged bytes in the file)")
        return f"CASE WHEN z{i} THEN {nul} ELSE {error} END"

    errors = ", ".join(f"{column_error(i, c)} AS e{i}" for i, c in zip(idx, cols, strict=True))
    t_list = ", ".join(f"t{i}" for i in idx)
    e_list = ", ".join(f"e{i}" for i in idx)
    first_col = " ".join(
        f"WHEN e{i} IS NOT NULL THEN {_sql_str(c.name)}" for i, c in enumerate(cols)
    )
    return f"""
        SELECT _row, {t_list},
               nullif(concat_ws('; ', {e_list}), '') AS _errors,
               CASE {first_col} END AS _first_col{surveyed}
        FROM (
            SELECT *, {errors}
            FROM (SELECT *, {typed_values}
                  FROM (SELECT _row, {values}{damaged} FROM {source}))
        )
    """


def _survey_sql(
    table: Table, source: str, present: dict[str, str], typed: frozenset[str] = frozenset()
) -> str:
    """One aggregate pass over ``source`` with every column check: does a row fail?

    One row: ``rows_in`` (rows of ``source``), ``rows_failing`` (rows failing
    a column check), then one boolean per :func:`_normalisable` column, in
    order: true when normalisation (trimming, empty as NULL) changes no value
    of the column. Normalisation only drops characters or makes a value NULL,
    so it changes none exactly when the non-NULL values and their byte
    lengths add up the same before and after:
    ``count(v) = count(r) AND sum(strlen(v)) = sum(strlen(r))`` -- two cheap
    aggregates instead of comparing the strings. Duplicate keys are looked for
    apart (:func:`_repeated_key_sql`): grouping the key in this pass, with
    the other aggregates riding along, cost more than a second pass at 10M rows.
    """
    checked = _validate_sql(table, source, present, typed, survey=True)
    same = "".join(
        f", count(v{i}) = count(r{i}) AND "
        f"coalesce(sum(strlen(v{i})), 0) = coalesce(sum(strlen(r{i})), 0)"
        for i in _normalisable(table, present, typed)
    )
    return (
        "SELECT count(*) AS rows_in, count(*) FILTER (WHERE _errors IS NOT NULL) AS rows_failing"
        f"{same} FROM ({checked})"
    )


def _repeated_key_sql(table: Table, rows: str) -> str:
    """SELECT of one key held by more than one row of ``rows`` (``t0..tN``), if any."""
    position = {c.name: i for i, c in enumerate(table.columns)}
    keys = ", ".join(f"t{position[k]}" for k in table.key)
    return f"SELECT {keys} FROM ({rows}) GROUP BY {keys} HAVING count(*) > 1 LIMIT 1"


def _clean_rows_sql(
    table: Table,
    source: str,
    present: dict[str, str],
    typed: frozenset[str],
    as_read: frozenset[str],
) -> str:
    """SELECT of ``_row`` and the typed ``t0..tN`` of a ``source`` whose every row passes.

    The same typed values as :func:`_validate_sql` gives when no row fails a
    check (then ``_errors`` is NULL everywhere and ``ti`` is all that is
    stored), without computing the checks; ``as_read`` columns (see
    :func:`_value_list_sql`) skip the normalisation a survey found changes
    nothing. A projection of ``source``: the rows keep its order.
    """
    t_list = ", ".join(f"t{i}" for i in range(len(table.columns)))
    values = _value_list_sql(table, present, typed, as_read)
    return (
        f"SELECT _row, {t_list} FROM (SELECT *, {_typed_list_sql(table, typed)} "
        f"FROM (SELECT _row, {values} FROM {source}))"
    )


def _duplicates_sql(table: Table, stage: str) -> str:
    """Keys of ``stage`` held by more than one row passing the column checks, and the first row.

    Key checks only among rows passing the column checks; keys are required columns,
    so plain equality is exact. A key already in the table is not an error:
    the row is an insert, an update or unchanged (see :func:`_classify_sql`).
    """
    position = {c.name: i for i, c in enumerate(table.columns)}
    key_as = ", ".join(f"t{position[k]} AS {_ident(k)}" for k in table.key)
    return (
        f"SELECT {key_as}, min(_row) AS _first_row FROM {stage} "
        "WHERE _errors IS NULL GROUP BY ALL HAVING count(*) > 1"
    )


def _mark_duplicates_sql(table: Table, stage: str, repeated: str) -> str:
    """UPDATE quarantining the later valid rows of each key in ``repeated`` (first row kept)."""
    position = {c.name: i for i, c in enumerate(table.columns)}
    quoted_key = "coalesce('''' || CAST(c.t{i} AS VARCHAR) || '''', 'NULL')"
    key_shown = " || ', ' || ".join(
        f"{_sql_str(k + '=')} || {quoted_key.format(i=position[k])}" for k in table.key
    )
    on = " AND ".join(f"c.t{position[k]} = d.{_ident(k)}" for k in table.key)
    return (
        f"UPDATE {stage} c SET _errors = 'duplicate key ' || {key_shown} "
        "|| ' within file (first at row ' || d._first_row || ')', "
        f"_first_col = {_sql_str(','.join(table.key))} "
        f"FROM {repeated} d WHERE c._errors IS NULL AND c._row > d._first_row AND {on}"
    )


def _classify_sql(table: Table, stage: str, present: dict[str, str]) -> str:
    """SELECT of the valid rows of ``stage`` with ``_action`` and the row to store.

    ``_action`` is ``insert`` (key not in the table), ``unchanged`` (every
    column present in the input equals the stored value, NULL = NULL) or
    ``update``. The stored row takes the input's value for the columns present
    in the input and keeps the stored value for the others.
    """
    name = _ident(table.name)
    stored = [(i, c, _ident(c.stored_name)) for i, c in enumerate(table.columns)]
    if not table.key:
        cols = ", ".join(f"s.t{i} AS {q}" for i, _, q in stored)
        return f"SELECT s._row, 'insert' AS _action, {cols} FROM {stage} s WHERE s._errors IS NULL"
    position = {c.name: i for i, c in enumerate(table.columns)}
    on = " AND ".join(f"s.t{position[k]} = x.{_ident(k)}" for k in table.key)
    same = " AND ".join(
        f"s.t{i} IS NOT DISTINCT FROM x.{q}" for i, c, q in stored if c.name in present
    )
    cols = ", ".join(f"{f's.t{i}' if c.name in present else f'x.{q}'} AS {q}" for i, c, q in stored)
    return f"""
        SELECT s._row,
               CASE WHEN x.{_ident(table.key[0])} IS NULL THEN 'insert'
                    WHEN {same or "true"} THEN 'unchanged' ELSE 'update' END AS _action,
               {cols}
        FROM {stage} s LEFT JOIN main.{name} x ON {on}
        WHERE s._errors IS NULL
    """


def _apply_changes(con, table: Table, merged: str, *, load_id: str, now: datetime) -> None:
    """Write the classified rows of ``merged``: history first, then the current table.

    For each updated key the version it replaces is closed in
    ``history.<table>`` (``valid_to = now``, ``replaced_by = load_id``); a
    stored row without an open version (an unversioned table, or a row older
    than the history) is written there first with ``valid_from`` NULL. The
    current rows of updated keys are deleted and inserts and updates inserted
    in input order; a versioned table gets each new version as an open
    history row (``valid_from = now``).
    """
    name = _ident(table.name)
    hist = f"{HISTORY_SCHEMA}.{name}"
    cols = ", ".join(_ident(c.stored_name) for c in table.columns)
    params = {"now": now, "load_id": load_id}
    if table.key:

        def on(a: str, b: str) -> str:
            return " AND ".join(f"{a}.{_ident(k)} = {b}.{_ident(k)}" for k in table.key)

        x_cols = ", ".join(f"x.{_ident(c.stored_name)}" for c in table.columns)
        updates = f"(SELECT * FROM {merged} WHERE _action = 'update')"
        con.execute(
            f"INSERT INTO {hist} ({cols}, valid_from, valid_to, load_id, replaced_by) "
            f"SELECT {x_cols}, NULL, $now, NULL, $load_id "
            f"FROM main.{name} x JOIN {updates} m ON {on('x', 'm')} "
            f"WHERE NOT EXISTS (SELECT 1 FROM {hist} h "
            f"WHERE h.valid_to IS NULL AND {on('h', 'x')})",
            params,
        )
        if table.versioned:
            con.execute(
                f"UPDATE {hist} h SET valid_to = $now, replaced_by = $load_id "
                f"FROM {updates} m WHERE h.valid_to IS NULL AND {on('h', 'm')}",
                params,
            )
        con.execute(f"DELETE FROM main.{name} x USING {updates} m WHERE {on('x', 'm')}")
    changed = f"FROM {merged} WHERE _action IN ('insert', 'update') ORDER BY _row"
    con.execute(f"INSERT INTO main.{name} ({cols}) SELECT {cols} {changed}")
    if table.versioned:
        con.execute(
            f"INSERT INTO {hist} ({cols}, valid_from, valid_to, load_id, replaced_by) "
            f"SELECT {cols}, $now, NULL, $load_id, NULL {changed}",
            params,
        )


def _raw_row_sql(
    table: Table, present: dict[str, str], alias: str, typed: frozenset[str] = frozenset()
) -> str:
    """JSON text of the declared columns as read, PII replaced by its salted hash.

    Every value is a JSON string: a ``typed`` column is written as its text, as
    the text route read it.
    """
    parts = []
    for col in table.columns:
        if col.name not in present:
            continue
        raw = f"{alias}.{_ident(present[col.name])}"
        if col.name in typed:
            raw = f"CAST({raw} AS VARCHAR)"
        elif col.pii:
            v = _value_sql(col, raw)
            raw = f"'sha256:' || {_typed_sql(col, v)}"
        parts.append(f"{_sql_str(col.name)}, {raw}")
    if not parts:
        return "'{}'"
    return f"CAST(json_object({', '.join(parts)}) AS VARCHAR)"


# --------------------------------------------------------------------------- loading


def _new_load_id() -> str:
    return f"{datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


_DRY_RUN = contextvars.ContextVar("analytics_warehouse_dry_run", default=False)


@contextmanager
def dry_run() -> Iterator[None]:
    """Make every load inside the block a dry run (``check=True`` unless given).

    For callers that reach :func:`load_frame` through layers that do not
    pass ``check`` on, e.g. ``load-source --check`` through a source adapter
    or a connector's ``--dry-run``::

        with warehouse.dry_run():
            result = sources.load_source(con, "amocrm", path, salt=salt)
    """
    token = _DRY_RUN.set(True)
    try:
        yield
    finally:
        _DRY_RUN.reset(token)


def _is_check(check: bool | None) -> bool:
    return _DRY_RUN.get() if check is None else check


def is_dry_run() -> bool:
    """True inside :func:`dry_run`: side tables an adapter keeps must not be written."""
    return _DRY_RUN.get()


@contextmanager
def _load_transaction(con, check: bool) -> Iterator[None]:
    """One transaction per load; a dry run (``check``) is always rolled back."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("ROLLBACK" if check else "COMMIT")


def _prepare(con, salt: str, *, check: bool, now: datetime) -> None:
    """Ensure the schema (a dry run only if tables are missing) and check the salt."""
    missing = _missing_tables(con) if check else []
    if not check or missing:
        try:
            init_schema(con)
        except duckdb.InvalidInputException as exc:
            if "read-only" not in str(exc):
                raise
            raise InputError(
                f"the warehouse has no table {', '.join(missing)} (it was written by an "
                "earlier version): a dry run cannot add tables; load once without --check, "
                "which adds them and changes nothing else, then check"
            ) from None
    check_salt(con, salt, record=not check, now=now)


def _missing_tables(con) -> list[str]:
    found = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary"
        ).fetchall()
    }
    return [name for name in CANONICAL if name not in found]


def _table(name: str) -> Table:
    if name not in CANONICAL:
        raise InputError(f"unknown table {name!r}; expected one of {', '.join(CANONICAL)}")
    return CANONICAL[name]


def _stage_csv(
    con, path: Path, source: Path, delimiter: str, raw_table: str
) -> tuple[list[str], str]:
    """Read a UTF-8 CSV into temp table ``raw_table`` (``c0..cN`` text).

    Returns the header and a relation with ``_row`` (1-based data record
    number) and ``c0..cN``.
    """
    header = _csv_header(path, source, delimiter)
    rejects = f"{raw_table}_rejects"
    try:
        con.execute(
            f"CREATE TEMP TABLE {raw_table} AS "
            f"SELECT * FROM {_read_csv_sql(path, len(header), delimiter, rejects)}"
        )
        bad = con.execute(
            f"SELECT count(*), min(line), arg_min(error_type, line), arg_min(error_message, line) "
            f"FROM {rejects}_errors"
        ).fetchone()
        if bad[0]:
            n_bad, line, kind, message = bad
            raise InputError(
                f"{source}: malformed CSV at line {line}: {str(kind).lower()} ({message}); "
                f"{n_bad} malformed line(s) in all. The file looks truncated or uses another "
                f"delimiter or quoting; fix or re-export it (nothing was loaded from it)"
            )
        # The CSV reader and CREATE TABLE AS preserve insertion order, so the rowids of
        # the fresh table are consecutive in file order (offset inside a transaction).
        first = con.execute(f"SELECT coalesce(min(rowid), 0) FROM {raw_table}").fetchone()[0]
    except duckdb.Error as err:
        raise InputError(f"{source}: cannot be read as CSV: {str(err).splitlines()[0]}") from None
    finally:
        for suffix in ("_errors", "_scans"):
            try:
                con.execute(f"DROP TABLE IF EXISTS {rejects}{suffix}")
            except duckdb.Error:
                pass  # aborted transaction: the rollback drops them
    return header, f"(SELECT rowid - {int(first)} + 1 AS _row, * FROM {raw_table})"


def _stage_parquet(
    con, path: Path, source: Path, table: Table
) -> tuple[list[str], str, frozenset[str]]:
    """Column names of a Parquet file, a relation with ``_row`` and ``c0..cN``, typed columns.

    A column declared for ``table`` with a non-text, non-PII type that the file
    stores with exactly that type (e.g. ``pageviews`` as BIGINT, ``visit_start``
    as TIMESTAMP) is passed on as it is and named in the returned set; it is
    checked without the round trip through text, with the same outcome
    (:data:`_TYPED_VALID`). Every other column is cast to text.
    """
    try:
        described = con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({_sql_str(str(path))})"
        ).fetchall()
    except duckdb.Error as err:
        raise InputError(
            f"{source}: not a readable Parquet file: {str(err).splitlines()[0]}"
        ) from None
    names = [r[0] for r in described]
    declared = {c.name: c for c in table.columns}
    typed = frozenset(
        name
        for name, dtype, *_ in described
        if name in declared
        and names.count(name) == 1
        and not declared[name].pii
        and declared[name].dtype in _TYPED_VALID
        and dtype == declared[name].dtype
    )
    cast = ", ".join(
        f"{_ident(n)} AS c{i}" if n in typed else f"CAST({_ident(n)} AS VARCHAR) AS c{i}"
        for i, n in enumerate(names)
    )
    relation = (
        f"(SELECT file_row_number + 1 AS _row, {cast} "
        f"FROM read_parquet({_sql_str(str(path))}, file_row_number=true))"
    )
    return names, relation, typed


def _load_file(
    con,
    table: Table,
    path: Path,
    *,
    salt: str,
    load_id: str,
    delimiter: str,
    encoding: str,
    now: datetime,
    check: bool = False,
) -> LoadResult:
    """Load one file inside the caller's transaction."""
    source = path.resolve()
    if path.is_dir():
        raise InputError(f"{source}: is a folder, not a file")
    if not path.is_file():
        raise InputError(f"{source}: file not found")
    if not os.access(path, os.R_OK):
        raise InputError(f"{source}: no permission to read the file")
    if path.stat().st_size == 0:
        raise InputError(f"{source}: empty file (0 bytes); expected at least a header")
    raw_table = f"_wh_raw_{uuid.uuid4().hex[:12]}"
    tmpdir = None
    try:
        if path.suffix.lower() == ".parquet":
            names, relation, typed = _stage_parquet(con, path, source, table)
        else:
            _check_not_binary(path, source)
            read_path = path
            if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
                _check_decodes(path, "utf-8")
            else:
                tmpdir = tempfile.mkdtemp(prefix="analytics_load_")
                read_path = Path(tmpdir) / "utf8.csv"
                _transcode_to_utf8(path, encoding, read_path)
            names, relation = _stage_csv(con, read_path, source, delimiter, raw_table)
            typed = frozenset()
        result = _load_relation(
            con,
            table,
            names,
            relation,
            source,
            salt=salt,
            load_id=load_id,
            now=now,
            delimiter=delimiter,
            check=check,
            typed=typed,
        )
        con.execute(f"DROP TABLE IF EXISTS {raw_table}")
        return result
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _load_relation(
    con,
    table: Table,
    names: list[str],
    relation: str,
    source: Path | str,
    *,
    salt: str,
    load_id: str,
    now: datetime,
    delimiter: str | None = None,
    check: bool = False,
    on_existing: str = "upsert",
    typed: frozenset[str] = frozenset(),
    in_row_order: bool = True,
) -> LoadResult:
    """Validate ``relation`` (``_row`` and text ``c0..cN`` named ``names``) and load it.

    Shared by files and in-memory frames, inside the caller's transaction.
    ``delimiter`` only feeds the wrong-delimiter hint of a missing column.
    With ``check`` only temporary tables are written (a dry run). ``typed``
    names the declared columns ``relation`` holds with their declared type
    (:func:`_stage_parquet`). ``in_row_order``: ``relation`` yields its rows
    by ascending ``_row``, so rows inserted into an empty table keep the
    file's order without a sort.
    """
    stage = f"_wh_checked_{uuid.uuid4().hex[:12]}"
    declared = {c.name for c in table.columns}
    duplicated = sorted({n for n in names if n in declared and names.count(n) > 1})
    if duplicated:
        raise InputError(f"{source}: column(s) appear more than once: {', '.join(duplicated)}")
    present = {n: f"c{i}" for i, n in enumerate(names) if n in declared}
    missing = [c for c in table.required_columns if c not in present]
    if missing:
        other = [d for d in (";", "\t", "|", ",") if d != delimiter and d in "".join(names)]
        hint = (
            f"; is the delimiter {other[0]!r}?"
            if delimiter is not None and len(names) == 1 and other
            else ""
        )
        raise InputError(
            f"{source}: missing required column(s) for table {table.name!r}: "
            f"{', '.join(missing)} (found: {', '.join(names)}{hint})"
        )

    warnings = _column_warnings(table, names, present)
    params = {"salt": salt, "future_limit": now + FUTURE_SLACK}
    # An empty table (a first load, a rebuild) and a clean input: every row is an insert,
    # written straight from the input after one survey pass, without a checked stage.
    empty = not con.execute(f"SELECT 1 FROM main.{_ident(table.name)} LIMIT 1").fetchall()
    if empty:
        clean = _load_clean(
            con,
            table,
            relation,
            source,
            present,
            typed,
            params,
            load_id=load_id,
            now=now,
            check=check,
            in_row_order=in_row_order,
            warnings=warnings,
        )
        if clean is not None:
            return clean
    sql = f"CREATE TEMP TABLE {stage} AS {_validate_sql(table, relation, present, typed)}"
    # DuckDB rejects unused named parameters (a table without PII has no $salt).
    con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
    if table.key:
        _quarantine_duplicates(con, table, stage)
    # An empty table (a first load, a rebuild): every valid row is an insert; they go in
    # straight from the stage, in input order, without the classifying join and sort.
    merged = None
    if empty:
        [(inserted,)] = con.execute(
            f"SELECT count(*) FROM {stage} WHERE _errors IS NULL"
        ).fetchall()
        updated = unchanged = 0
    else:
        if on_existing == "quarantine" and table.key:
            _quarantine_existing(con, table, stage)
        merged = f"_wh_merged_{uuid.uuid4().hex[:12]}"
        con.execute(f"CREATE TEMP TABLE {merged} AS {_classify_sql(table, stage, present)}")
        counts = dict(
            con.execute(f"SELECT _action, count(*) FROM {merged} GROUP BY ALL").fetchall()
        )
        inserted, updated, unchanged = (counts.get(k, 0) for k in ("insert", "update", "unchanged"))
    if not check:
        if merged is None:
            _insert_all(con, table, stage, load_id=load_id, now=now, in_row_order=in_row_order)
        else:
            _apply_changes(con, table, merged, load_id=load_id, now=now)
        raw_row = _raw_row_sql(table, present, "r", typed)
        con.execute(
            "INSERT INTO main.quarantine "
            f"SELECT $load_id, $table, $source, s._row, s._first_col, s._errors, {raw_row} "
            f"FROM {stage} s JOIN {relation} r ON r._row = s._row "
            "WHERE s._errors IS NOT NULL ORDER BY s._row",
            {"load_id": load_id, "table": table.name, "source": str(source)}
            | ({"salt": salt} if "$salt" in raw_row else {}),
        )
    rows_in = con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]
    quarantined = con.execute(f"SELECT count(*) FROM {stage} WHERE _errors IS NOT NULL").fetchone()[
        0
    ]
    loaded = inserted + updated + unchanged
    if rows_in != loaded + quarantined:
        raise AssertionError(
            f"{source}: rows_in {rows_in} != inserted {inserted} + updated {updated} "
            f"+ unchanged {unchanged} + quarantined {quarantined}"
        )
    result = LoadResult(
        table.name,
        str(source),
        rows_in,
        loaded,
        quarantined,
        rows_inserted=inserted,
        rows_updated=updated,
        rows_unchanged=unchanged,
        warnings=tuple(warnings),
        checked=check,
        load_id=load_id,
    )
    if not check:
        _log_load(con, result)
    if merged is not None:
        con.execute(f"DROP TABLE IF EXISTS {merged}")
    con.execute(f"DROP TABLE IF EXISTS {stage}")
    return result


def _log_load(con, result: LoadResult) -> None:
    """Write the ``load_log`` row of one loaded file."""
    con.execute(
        "INSERT INTO main.load_log (load_id, loaded_at, target_table, source_file, rows_in, "
        "rows_loaded, rows_quarantined, rows_inserted, rows_updated, rows_unchanged, "
        "warnings) VALUES ($load_id, $loaded_at, $table, $source, $rows_in, $loaded, "
        "$quarantined, $inserted, $updated, $unchanged, $warnings)",
        {
            "load_id": result.load_id,
            "loaded_at": datetime.now(),
            "table": result.table,
            "source": result.source_file,
            "rows_in": result.rows_in,
            "loaded": result.rows_loaded,
            "quarantined": result.rows_quarantined,
            "inserted": result.rows_inserted,
            "updated": result.rows_updated,
            "unchanged": result.rows_unchanged,
            "warnings": "; ".join(result.warnings) or None,
        },
    )


def _load_clean(
    con,
    table: Table,
    relation: str,
    source: Path | str,
    present: dict[str, str],
    typed: frozenset[str],
    params: dict,
    *,
    load_id: str,
    now: datetime,
    check: bool,
    in_row_order: bool,
    warnings: list[str],
) -> LoadResult | None:
    """Load ``relation`` into the EMPTY ``table`` if no row fails a check; else None.

    One aggregate pass (:func:`_survey_sql`) runs every column check, a second
    groups the key (:func:`_repeated_key_sql`). If a row fails or a key
    repeats, nothing is written and None is returned: the caller takes the
    checked-stage route, which quarantines. Otherwise every row is an insert
    and is written straight from ``relation`` (:func:`_clean_rows_sql`), in
    input order; a versioned table's open versions are copied from the table
    just filled. Same rows, same order, same ``load_log`` row as the staged
    route gives a clean input, without writing and re-reading a checked stage
    of every row.
    """

    def run(sql: str) -> list[tuple]:
        # DuckDB rejects unused named parameters (a table without PII has no $salt).
        return con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).fetchall()

    [(rows_in, failing, *same)] = run(_survey_sql(table, relation, present, typed))
    if failing:
        return None
    normalisable = _normalisable(table, present, typed)
    as_read = frozenset(
        table.columns[i].name for i, unchanged in zip(normalisable, same, strict=True) if unchanged
    )
    rows = _clean_rows_sql(table, relation, present, typed, as_read)
    # Every row passes the column checks, so a key repeated among all rows is a duplicate.
    if table.key and run(_repeated_key_sql(table, rows)):
        return None
    if not check:
        [(preserved,)] = con.execute(
            "SELECT current_setting('preserve_insertion_order')"
        ).fetchall()
        order = "" if in_row_order and preserved else " ORDER BY _row"
        name = _ident(table.name)
        cols = ", ".join(_ident(c.stored_name) for c in table.columns)
        values = ", ".join(f"t{i}" for i in range(len(table.columns)))
        sql = f"INSERT INTO main.{name} ({cols}) SELECT {values} FROM ({rows}){order}"
        [(inserted,)] = run(sql)
        if inserted != rows_in:
            raise AssertionError(
                f"{source}: rows_in {rows_in} != inserted {inserted} (quarantined 0)"
            )
        if table.versioned:
            con.execute(
                f"INSERT INTO {HISTORY_SCHEMA}.{name} "
                f"({cols}, valid_from, valid_to, load_id, replaced_by) "
                f"SELECT {cols}, $now, NULL, $load_id, NULL FROM main.{name}",
                {"now": now, "load_id": load_id},
            )
    result = LoadResult(
        table.name,
        str(source),
        rows_in,
        rows_in,
        0,
        rows_inserted=rows_in,
        warnings=tuple(warnings),
        checked=check,
        load_id=load_id,
    )
    if not check:
        _log_load(con, result)
    return result


def _quarantine_duplicates(con, table: Table, stage: str) -> None:
    """Quarantine the later valid rows of a key repeated within the input (the first is loaded).

    The keys are grouped on the stored stage; the UPDATE runs only when a key
    repeats, so a clean file's stage is never rewritten.
    """
    repeated = f"_wh_repeated_{uuid.uuid4().hex[:12]}"
    con.execute(f"CREATE TEMP TABLE {repeated} AS {_duplicates_sql(table, stage)}")
    if con.execute(f"SELECT 1 FROM {repeated} LIMIT 1").fetchall():
        con.execute(_mark_duplicates_sql(table, stage, repeated))
    con.execute(f"DROP TABLE {repeated}")


def _insert_all(
    con, table: Table, stage: str, *, load_id: str, now: datetime, in_row_order: bool
) -> None:
    """Insert every valid row of ``stage`` into the empty ``table`` (and open its versions).

    The same rows :func:`_apply_changes` writes when every row is an insert.
    ``ORDER BY _row`` only when ``stage`` is not already in row order
    (``in_row_order`` False, or DuckDB told not to preserve insertion order):
    a plain projection of the stage keeps its order.
    """
    name = _ident(table.name)
    cols = ", ".join(_ident(c.stored_name) for c in table.columns)
    values = ", ".join(f"t{i}" for i in range(len(table.columns)))
    [(preserved,)] = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
    order = "" if in_row_order and preserved else " ORDER BY _row"
    valid = f"FROM {stage} WHERE _errors IS NULL{order}"
    con.execute(f"INSERT INTO main.{name} ({cols}) SELECT {values} {valid}")
    if table.versioned:
        con.execute(
            f"INSERT INTO {HISTORY_SCHEMA}.{name} "
            f"({cols}, valid_from, valid_to, load_id, replaced_by) "
            f"SELECT {values}, $now, NULL, $load_id, NULL {valid}",
            {"now": now, "load_id": load_id},
        )


def _quarantine_existing(con, table: Table, stage: str) -> None:
    """Insert-only loads: a valid row whose key is already stored becomes a quarantined row."""
    position = {c.name: i for i, c in enumerate(table.columns)}
    on = " AND ".join(f"s.t{position[k]} = x.{_ident(k)}" for k in table.key)
    quote = _sql_str("'")
    shown = " || ', ' || ".join(
        f"{_sql_str(k + '=')} || {quote} || CAST(s.t{position[k]} AS VARCHAR) || {quote}"
        for k in table.key
    )
    con.execute(
        f"UPDATE {stage} s SET _errors = 'duplicate key ' || {shown} || "
        f"{_sql_str(' already in ' + table.name)}, _first_col = {_sql_str(','.join(table.key))} "
        f"FROM main.{_ident(table.name)} x WHERE s._errors IS NULL AND {on}"
    )


def _column_warnings(table: Table, names: list[str], present: dict[str, str]) -> list[str]:
    """Input columns the table does not declare, and declared optional columns not in the input."""
    warnings = []
    unknown = [n for n in names if n not in present and not n.startswith("_")]
    if unknown:
        warnings.append(f"column(s) not in table {table.name!r}, ignored: {', '.join(unknown)}")
    absent = [c.name for c in table.columns if c.name not in present]
    if absent:
        warnings.append(
            f"optional column(s) not in the input: {', '.join(absent)} "
            "(new rows get NULL, rows already stored keep their values)"
        )
    return warnings


def load_file(
    con,
    table: str,
    path: str | Path,
    *,
    salt: str,
    load_id: str | None = None,
    delimiter: str = ",",
    encoding: str = "utf-8",
    now: datetime | None = None,
    check: bool | None = None,
) -> LoadResult:
    """Validate one raw file and upsert it into a canonical table.

    Each data row is checked against its declaration
    (:data:`analytics.warehouse.schema.CANONICAL`):
    required value present, type (``BIGINT``/``DOUBLE`` with a dot decimal point,
    ``BOOLEAN`` as true/false/1/0/yes/no, ``DATE``/``TIMESTAMP`` in ISO form),
    ``min_value``, allowed values, no date before 2000-01-01 or later than
    ``now + 1 day``, no NUL byte in a value, and no duplicate key within the
    file (the first valid row of a key is loaded, later ones are quarantined).
    Good rows are upserted on the table's key: a new key is inserted, a key
    already stored with another value in a column present in the file is
    updated (the old version kept in ``history.<table>``), an equal row is
    left alone. Bad rows go to ``quarantine`` with the row number, the first
    failing column and every failing check; one ``load_log`` row is written.
    The file is loaded in one transaction: on :class:`InputError` nothing of
    it is kept. The warehouse's PII salt fingerprint is checked (and recorded
    by the first load).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection; the schema is created if missing.
    table : str
        Canonical table name (``spend``, ``visits``, ``leads``, ``lead_fields``,
        ``deals``, ``deal_stages``).
    path : str or Path
        ``.parquet`` file (every column cast to text) or a delimited text file
        with a header line (a UTF-8 BOM is fine).
    salt : str
        PII salt (see :func:`pii_salt`).
    load_id : str, optional
        Id written to ``quarantine`` and ``load_log``; a new one by default.
    delimiter : str
        Field delimiter of a text file.
    encoding : str
        Encoding of a text file; other than UTF-8 it is transcoded first.
    now : datetime, optional
        Load time (naive local): reference of the future-date check and
        ``valid_from`` of the versions written; current time by default.
    check : bool, optional
        Dry run: count what would be inserted, updated, unchanged and
        quarantined, write nothing (the transaction is rolled back; a
        read-only connection works). Default: False, or True inside
        :func:`dry_run`.

    Returns
    -------
    LoadResult
        Counts with ``rows_in = inserted + updated + unchanged + quarantined``.

    Raises
    ------
    InputError
        Another PII salt than the warehouse's, empty (0-byte) file, bytes
        not valid in ``encoding``, an unparsable header, a malformed CSV line
        (wrong field count, e.g. a truncated last line), or a required column
        missing from the file. The message names the file and the problem.
    """
    spec = _table(table)
    now = now or datetime.now()
    check = _is_check(check)
    with _load_transaction(con, check):
        _prepare(con, salt, check=check, now=now)
        return _load_file(
            con,
            spec,
            Path(path),
            salt=salt,
            load_id=load_id or _new_load_id(),
            delimiter=delimiter,
            encoding=encoding,
            now=now,
            check=check,
        )


def load_frame(
    con,
    table: str,
    frame: pd.DataFrame,
    *,
    source_file: str | Path,
    salt: str,
    row_numbers=None,
    load_id: str | None = None,
    now: datetime | None = None,
    check: bool | None = None,
    on_existing: str = "upsert",
) -> LoadResult:
    """Validate an in-memory frame of text values and upsert it like :func:`load_file`.

    For source adapters (:mod:`analytics.sources`): a vendor export is
    translated into the canonical column names with text values and checked
    by the same SQL as a raw file -- same checks, same ``quarantine`` rows,
    same ``load_log`` reconciliation, same PII hashing -- in one transaction.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection; the schema is created if missing.
    table : str
        Canonical table name.
    frame : pandas.DataFrame
        Canonical column names; values as text (``str``), missing as None/NaN.
        Other dtypes are cast to text by DuckDB (e.g. ``5.0`` stays ``'5.0'``
        and fails a ``BIGINT`` check), so adapters should hand over text.
        Columns not declared for ``table`` are ignored.
    source_file : str or Path
        File the rows came from, written to ``quarantine`` and ``load_log``
        (resolved to an absolute path if it is an existing file, else kept as given).
    salt : str
        PII salt (see :func:`pii_salt`).
    row_numbers : sequence of int, optional
        Row number of each frame row in ``source_file`` (1-based, unique);
        ``1..len(frame)`` by default.
    load_id : str, optional
        Id written to ``quarantine`` and ``load_log``; a new one by default.
    now : datetime, optional
        Load time: reference of the future-date check and ``valid_from`` of
        the versions written; current time by default.
    check : bool, optional
        Dry run: count, write nothing (default False, True inside :func:`dry_run`).
    on_existing : {"upsert", "quarantine"}
        What a valid row whose key is already stored does: update or stay
        unchanged (default), or -- for insert-only sources whose stored row
        may be a merge of several inputs, e.g. GA4 sessions split over two
        daily files -- go to quarantine as ``duplicate key ... already in
        <table>``.

    Returns
    -------
    LoadResult
        Counts with ``rows_in = inserted + updated + unchanged + quarantined``
        (``rows_in`` is ``len(frame)``).

    Raises
    ------
    InputError
        Another PII salt than the warehouse's, a required column is missing,
        a column appears twice, or the row numbers are not unique or do not
        match the frame's length.
    """
    spec = _table(table)
    if on_existing not in ("upsert", "quarantine"):
        raise ValueError(f"on_existing={on_existing!r}: expected 'upsert' or 'quarantine'")
    source = Path(source_file).resolve() if Path(source_file).exists() else str(source_file)
    names = [str(c) for c in frame.columns]
    if row_numbers is None:
        rows = pd.Series(range(1, len(frame) + 1), dtype="int64")
    else:
        rows = pd.Series(list(row_numbers), dtype="int64")
        if len(rows) != len(frame):
            raise InputError(f"{source}: {len(rows)} row numbers given for {len(frame)} rows")
        if rows.duplicated().any():
            raise InputError(f"{source}: row numbers are not unique")
    text = pd.DataFrame(
        {"_row": rows.to_numpy()}
        | {f"c{i}": frame.iloc[:, i].astype("str").to_numpy() for i in range(len(names))}
    )
    view = f"_wh_frame_{uuid.uuid4().hex[:12]}"
    now = now or datetime.now()
    check = _is_check(check)
    with _load_transaction(con, check):
        # execute() first: it also completes a result the caller left unfetched.
        _prepare(con, salt, check=check, now=now)
        con.register(view, text)
        try:
            cast = ", ".join(f"CAST(c{i} AS VARCHAR) AS c{i}" for i in range(len(names)))
            relation = f"(SELECT _row{', ' if cast else ''}{cast} FROM {view})"
            return _load_relation(
                con,
                spec,
                names,
                relation,
                source,
                salt=salt,
                load_id=load_id or _new_load_id(),
                now=now,
                check=check,
                on_existing=on_existing,
                in_row_order=bool(rows.is_monotonic_increasing),
            )
        finally:
            con.unregister(view)


def _raw_file(raw_dir: Path, table: str) -> Path:
    for suffix in (".parquet", ".csv"):
        candidate = raw_dir / f"{table}{suffix}"
        if candidate.is_file():
            return candidate
    raise InputError(f"{raw_dir / (table + '.parquet')} (or .csv): file not found")


def _has_raw_file(raw_dir: Path, table: str) -> bool:
    return any((raw_dir / f"{table}{suffix}").is_file() for suffix in (".parquet", ".csv"))


def load_raw_dir(
    con,
    raw_dir: str | Path,
    *,
    salt: str,
    replace: bool = False,
    load_id: str | None = None,
    now: datetime | None = None,
    check: bool | None = None,
) -> list[LoadResult]:
    """Load a folder of raw files: the canonical tables plus ``truth/``.

    Loads ``<raw_dir>/<table>.parquet`` (preferred) or ``<table>.csv`` for
    ``spend``, ``visits``, ``leads``, ``lead_fields``, ``deals`` and
    ``deal_stages`` in that order (:data:`LOAD_ORDER`; ``lead_fields`` is
    skipped when its file is absent, :data:`OPTIONAL_RAW`), then every
    ``<raw_dir>/truth/*.parquet`` as-is into
    ``truth.<stem>`` (CREATE OR REPLACE, no validation: it is the demo
    generator's ground truth). All in one transaction, with a progress bar
    over files (hidden when not on a terminal).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    raw_dir : str or Path
        Folder with the raw files.
    salt : str
        PII salt (see :func:`pii_salt`).
    replace : bool
        Empty the canonical tables, their history, ``quarantine``,
        ``load_log`` and the recorded salt fingerprint first (a full rebuild).
        By default (False) the files are upserted: new keys inserted, changed
        rows updated with history, equal rows left alone, so reloading the
        same folder changes no table row.
    load_id : str, optional
        One id for every file of this load; a new one by default.
    now : datetime, optional
        Load time: reference of the future-date check and ``valid_from`` of
        the versions written.
    check : bool, optional
        Dry run: count what each file would do, write nothing (``truth/`` is
        not read); default False, True inside :func:`dry_run`.

    Returns
    -------
    list of LoadResult
        One per canonical table loaded, in load order.

    Raises
    ------
    InputError
        A canonical file is missing (checked before anything changes) or a
        file cannot be loaded.
    """
    raw_dir = Path(raw_dir)
    files = [
        (name, _raw_file(raw_dir, name))
        for name in LOAD_ORDER
        if name not in OPTIONAL_RAW or _has_raw_file(raw_dir, name)
    ]
    truth_dir = raw_dir / TRUTH_SCHEMA
    truth_files = sorted(truth_dir.glob("*.parquet")) if truth_dir.is_dir() else []
    check = _is_check(check)
    if check:
        truth_files = []
    load_id = load_id or _new_load_id()
    now = now or datetime.now()
    results: list[LoadResult] = []
    with (
        _load_transaction(con, check),
        tqdm(total=len(files) + len(truth_files), desc="load", unit="file", disable=None) as bar,
    ):
        if replace:
            # In a dry run these deletes are rolled back with the rest.
            init_schema(con)
            for name in (*CANONICAL, "quarantine", "load_log"):
                con.execute(f"DELETE FROM main.{_ident(name)}")
            for name in CANONICAL:
                con.execute(f"DELETE FROM {HISTORY_SCHEMA}.{_ident(name)}")
            forget_salt(con)
        _prepare(con, salt, check=check, now=now)
        for name, path in files:
            bar.set_postfix_str(path.name)
            results.append(
                _load_file(
                    con,
                    CANONICAL[name],
                    path,
                    salt=salt,
                    load_id=load_id,
                    delimiter=",",
                    encoding="utf-8",
                    now=now,
                    check=check,
                )
            )
            bar.update()
        for path in truth_files:
            bar.set_postfix_str(f"truth/{path.name}")
            con.execute(
                f"CREATE OR REPLACE TABLE {TRUTH_SCHEMA}.{_ident(path.stem)} AS "
                f"SELECT * FROM read_parquet({_sql_str(str(path.resolve()))})"
            )
            bar.update()
    return results


# --------------------------------------------------------------------------- reporting


def reconciliation(con, load_id: str | None = None) -> pd.DataFrame:
    """Per-file row reconciliation from ``load_log`` (in load order) with a total row.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    load_id : str, optional
        Only the files of this load; every load by default.

    Returns
    -------
    pandas.DataFrame
        Columns ``load_id``, ``target_table``, ``source_file``, ``rows_in``,
        ``rows_inserted``, ``rows_updated``, ``rows_unchanged``,
        ``rows_loaded`` (= inserted + updated + unchanged), ``rows_quarantined``
        and ``balanced`` (``rows_in = rows_loaded + rows_quarantined`` and, for
        loads that logged the split, ``rows_in = inserted + updated + unchanged
        + quarantined``); the last row has ``target_table == "TOTAL"`` and the
        column sums. Rows logged before the split existed count their loaded
        rows as inserted.
    """
    where = "WHERE load_id = $load_id" if load_id is not None else ""
    frame = con.execute(
        "SELECT load_id, target_table, source_file, rows_in, "
        "coalesce(rows_inserted, rows_loaded) AS rows_inserted, "
        "coalesce(rows_updated, 0) AS rows_updated, "
        "coalesce(rows_unchanged, 0) AS rows_unchanged, rows_loaded, rows_quarantined "
        f"FROM main.load_log {where} ORDER BY rowid",
        {"load_id": load_id} if load_id is not None else {},
    ).df()
    counts = [
        "rows_in",
        "rows_inserted",
        "rows_updated",
        "rows_unchanged",
        "rows_loaded",
        "rows_quarantined",
    ]
    total = pd.DataFrame(
        [
            {"load_id": None, "target_table": "TOTAL", "source_file": None}
            | {c: int(frame[c].sum()) for c in counts}
        ]
    )
    frame = pd.concat([frame, total], ignore_index=True) if len(frame) else total
    frame[counts] = frame[counts].astype("int64")
    split = frame["rows_inserted"] + frame["rows_updated"] + frame["rows_unchanged"]
    frame["balanced"] = (frame["rows_in"] == frame["rows_loaded"] + frame["rows_quarantined"]) & (
        split == frame["rows_loaded"]
    )
    return frame


def fingerprint(con) -> str:
    """Short hash of the warehouse contents for run manifests.

    sha256 over, per canonical table, the row count and the min/max of its
    time column; 16 hex characters. Equal data give equal fingerprints.
    """
    parts = []
    for table in CANONICAL.values():
        if table.time_column:
            col = _ident(table.time_column)
            row = con.execute(
                f"SELECT count(*), CAST(min({col}) AS VARCHAR), CAST(max({col}) AS VARCHAR) "
                f"FROM main.{_ident(table.name)}"
            ).fetchone()
        else:
            row = con.execute(f"SELECT count(*) FROM main.{_ident(table.name)}").fetchone()
        parts.append(f"{table.name}:" + "|".join(str(v) for v in row))
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]


def write_schema_doc(path: str | Path) -> Path:
    """Write the canonical schema as Markdown (``schema.schema_markdown``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_markdown(), encoding="utf-8")
    return path
