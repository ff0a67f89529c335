"""Reading vendor exports: decoding, header search, records, value formats.

Every adapter reads its file through :func:`read_export` and hands the
translated canonical frame to :func:`load_translated`.

Shared reading rules (:func:`read_export`)
------------------------------------------
* Encoding ``"auto"``: a BOM decides (UTF-8, UTF-16), else strict UTF-8, else
  cp1251. A named encoding is strict: the first byte that does not decode
  rejects the file with its byte offset and line.
* Delimiter ``"auto"``: the most frequent of ``;``, tab and ``,`` in a line
  among the first five non-blank lines.
* The header is the first of the first five non-blank lines that holds every
  required column (so report titles above it are skipped); column names are
  matched trimmed and case-insensitively against each field's aliases.
* A record with a different field count than the header (a truncated last
  line, a stray delimiter or quote) rejects the whole file with the line
  number: its fields cannot be trusted.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from analytics import warehouse
from analytics.warehouse import InputError, LoadResult

log = logging.getLogger(__name__)

ACCOUNT_TIMEZONE = "Europe/Moscow"
"""Default account time zone: canonical timestamps are naive local time in it."""

HEADER_SEARCH_LINES = 5
"""Non-blank lines searched for the column header (report titles may precede it)."""

_DELIMITERS = (";", "\t", ",")
_BLANK_CHARS = " \t\r\n\u00a0\u202f\u2009"
_TSV_ESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r", "0": "\0", "'": "'", "b": "\b"}
_TSV_ESCAPE_RE = re.compile(r"\\(.)")


def new_load_id() -> str:
    """A fresh load id, in the format of :mod:`analytics.warehouse` (time + random)."""
    return f"{datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ExportTable:
    """A vendor export read as text, its columns picked and renamed.

    Parameters
    ----------
    path : Path
        Absolute path of the file.
    frame : pandas.DataFrame
        One column per requested field (missing optional fields are all
        None); values are the file's text with surrounding blanks removed,
        empty values None.
    rows : numpy.ndarray
        1-based data record number of each frame row.
    found : dict
        Field -> header name it was read from (None if absent).
    header : list of str
        Every column name of the file.
    footer : list of list of str
        Summary records removed from the end (e.g. ``["Total rows: 3"]``).
    """

    path: Path
    frame: pd.DataFrame
    rows: np.ndarray
    found: dict[str, str | None]
    header: list[str]
    footer: list[list[str]] = field(default_factory=list)


def _normal_name(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").strip(_BLANK_CHARS + '"').lower().split())


def decode_export(path: Path, encoding: str) -> str:
    """Text of an export file (see the module notes on ``encoding="auto"``).

    Raises
    ------
    InputError
        Missing or empty file, or bytes that do not decode, with the byte
        offset and line of the first bad byte.
    """
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    data = path.read_bytes()
    if not data:
        raise InputError(f"{path}: empty file (0 bytes); expected at least a header")
    if encoding == "auto":
        if data.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        else:
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                encoding = "cp1251"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(
            f"{path}: not valid {encoding} at byte {err.start} (line {line}); "
            f"re-export the file or pass the right encoding= (e.g. 'cp1251' or 'utf-8')"
        ) from None
    except LookupError:
        raise InputError(f"{path}: unknown encoding {encoding!r}") from None
    return text.removeprefix("\ufeff")


def _sniff_delimiter(text: str) -> str:
    """The delimiter most frequent in one of the first non-blank lines (``,`` if none)."""
    lines = [line for line in text[: 1 << 16].splitlines() if line.strip()][:HEADER_SEARCH_LINES]
    best, most = ",", 0
    for line in lines:
        for d in _DELIMITERS:
            if line.count(d) > most:
                best, most = d, line.count(d)
    return best


def _records(text: str, delimiter: str, tsv_escapes: bool) -> list[tuple[int, list[str]]]:
    """(first line number, fields) of every non-blank record."""
    out: list[tuple[int, list[str]]] = []
    if tsv_escapes:
        for number, line in enumerate(text.split("\n"), start=1):
            line = line.removesuffix("\r")
            if not line.strip(_BLANK_CHARS):
                continue
            fields = line.split(delimiter)
            if "\\" in line:
                fields = [
                    _TSV_ESCAPE_RE.sub(lambda m: _TSV_ESCAPES.get(m[1], m[0]), f) for f in fields
                ]
            out.append((number, fields))
        return out
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quotechar='"',
        doublequote=True,
        strict=True,
    )
    previous = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return out
        except csv.Error as err:
            raise _Malformed(f"line {previous + 1}: {err}") from None
        start, previous = previous + 1, reader.line_num
        if fields and any(f.strip(_BLANK_CHARS) for f in fields):
            out.append((start, fields))


class _Malformed(Exception):
    """A record the CSV parser cannot read (e.g. an unterminated quote)."""


def _find_header(
    records: list[tuple[int, list[str]]],
    columns: Mapping[str, tuple[str, ...]],
    required: Iterable[str],
) -> int | None:
    required = list(required)
    for i, (_, fields) in enumerate(records[:HEADER_SEARCH_LINES]):
        names = {_normal_name(f) for f in fields}
        if all(any(_normal_name(a) in names for a in columns[r]) for r in required):
            return i
    return None


def read_export(
    path: str | Path,
    columns: Mapping[str, tuple[str, ...]],
    required: Iterable[str],
    *,
    vendor: str,
    delimiter: str = "auto",
    encoding: str = "auto",
    tsv_escapes: bool = False,
    footer: str | None = None,
    null_values: tuple[str, ...] = (),
) -> ExportTable:
    """Read a delimited vendor export with every value as text.

    Parameters
    ----------
    path : str or Path
        The export file.
    columns : mapping
        Field -> accepted column names (aliases), matched trimmed and
        case-insensitively. When several alias columns are present the first
        non-empty value in alias order is taken (e.g. work and mobile phone).
    required : iterable of str
        Fields whose column must be present.
    vendor : str
        Export name used in messages (e.g. ``"amoCRM deals export"``).
    delimiter : str
        Field delimiter or ``"auto"``.
    encoding : str
        Encoding or ``"auto"`` (BOM, else UTF-8, else cp1251).
    tsv_escapes : bool
        Plain TSV as the Metrica Logs API and Yandex Direct write it: no
        quoting, one record per line, ClickHouse escapes (``\\t``, ``\\n``,
        ``\\\\``) inside values decoded, other backslashes kept.
    footer : str, optional
        Regular expression matching the first field of summary lines at the
        end of the file (they are removed and returned in ``footer``).
    null_values : tuple of str
        Values that mean "empty" besides the empty string (e.g. ``"--"``).

    Returns
    -------
    ExportTable

    Raises
    ------
    InputError
        File missing, empty, undecodable, without a header holding the
        required columns (with a delimiter hint when the header is one
        column), with a required column twice, or with a malformed record.
    """
    source = Path(path).resolve()
    text = decode_export(source, encoding)
    if delimiter == "auto":
        delimiter = _sniff_delimiter(text)
    try:
        records = _records(text, delimiter, tsv_escapes)
    except _Malformed as err:
        raise InputError(
            f"{source}: malformed {vendor} at {err}; fix or re-export the file "
            f"(nothing was loaded from it)"
        ) from None
    required = list(required)
    if not records:
        raise InputError(f"{source}: no header line; expected a {vendor} with columns")
    at = _find_header(records, columns, required)
    if at is None:
        names = [f.strip(_BLANK_CHARS) for f in records[0][1]]
        present = {_normal_name(n) for n in names}
        missing = [
            f"{r} ({' / '.join(repr(a) for a in columns[r])})"
            for r in required
            if not any(_normal_name(a) in present for a in columns[r])
        ]
        other = [d for d in _DELIMITERS if d != delimiter and d in "".join(names)]
        hint = f"; is the delimiter {other[0]!r}?" if len(names) == 1 and other else ""
        raise InputError(
            f"{source}: missing required column(s) for a {vendor}: {', '.join(missing)} "
            f"(found: {', '.join(names)}{hint})"
        )
    header = [f.strip(_BLANK_CHARS) for f in records[at][1]]
    while header and not header[-1]:
        header.pop()  # trailing delimiter after the last column name
    body = records[at + 1 :]
    tail: list[list[str]] = []
    if footer is not None:
        pattern = re.compile(footer)
        while body and pattern.match(body[-1][1][0].strip(_BLANK_CHARS)):
            tail.insert(0, body.pop()[1])
    width = len(header)
    ends_with_newline = text.endswith(("\n", "\r"))
    for k, (line, fields) in enumerate(body):
        if len(fields) > width and not any(f.strip(_BLANK_CHARS) for f in fields[width:]):
            fields = fields[:width]
            body[k] = (line, fields)
        if len(fields) != width:
            last = k == len(body) - 1 and not tail
            note = (
                "; it is the last line and has no line break: the file looks truncated"
                if last and not ends_with_newline and len(fields) < width
                else ""
            )
            raise InputError(
                f"{source}: malformed {vendor} at line {line}: {len(fields)} field(s) where "
                f"the header has {width}{note}; fix or re-export the file "
                f"(nothing was loaded from it)"
            )
    normal = [_normal_name(n) for n in header]
    nulls = {"", *null_values}
    values = np.array([f for _, f in body], dtype=object).reshape(len(body), width)
    frame = {}
    found: dict[str, str | None] = {}
    for name, aliases in columns.items():
        positions = []
        for alias in aliases:
            hits = [i for i, n in enumerate(normal) if n == _normal_name(alias)]
            if len(hits) > 1:
                raise InputError(
                    f"{source}: column {header[hits[0]]!r} appears {len(hits)} times; "
                    f"keep one (it is read as {name})"
                )
            positions += hits
        found[name] = header[positions[0]] if positions else None
        column = pd.Series([None] * len(body), dtype=object)
        for i in positions:
            cleaned = pd.Series(values[:, i], dtype=object).str.strip(_BLANK_CHARS)
            cleaned = cleaned.where(~cleaned.isin(nulls), None)
            column = column.where(column.notna(), cleaned)
        frame[name] = column
    rows = np.arange(1, len(body) + 1, dtype=np.int64)
    return ExportTable(source, pd.DataFrame(frame), rows, found, header, tail)


def load_translated(
    con,
    table: str,
    frame: pd.DataFrame,
    export: ExportTable,
    *,
    salt: str,
    load_id: str | None = None,
    now: datetime | None = None,
) -> LoadResult:
    """Load the canonical text frame translated from a read export into ``table``.

    The last step of every text adapter: the rows are validated and loaded by
    :func:`analytics.warehouse.load_frame` with the export's absolute path as
    ``source_file`` and its data record numbers (``export.rows``) as
    ``row_numbers``, so ``quarantine`` names the file and record of each bad
    row and ``load_log`` reconciles ``rows_in = rows_loaded + rows_quarantined``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    table : str
        Canonical table name (``deals``, ``leads``, ``spend``, ...).
    frame : pandas.DataFrame
        Canonical columns as text, one row per row of ``export.frame``.
    export : ExportTable
        The export ``frame`` was translated from (:func:`read_export`).
    salt : str
        PII salt; phones and e-mails are hashed with it.
    load_id : str, optional
        Id of this load in ``quarantine`` and ``load_log``; a new one by default.
    now : datetime, optional
        Reference time of the future-date check; current time by default.

    Returns
    -------
    LoadResult
        Row counts of the load (the ``load_log`` row).
    """
    return warehouse.load_frame(
        con,
        table,
        frame,
        source_file=export.path,
        salt=salt,
        row_numbers=export.rows,
        load_id=load_id,
        now=now,
    )


# --------------------------------------------------------------------------- value formats


_RU_DATETIME = re.compile(
    r"^(\d{1,2})[./](\d{1,2})[./](\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?(.*)$"
)
_OFFSET = re.compile(
    r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})$"
)
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_COMMA_DECIMAL = re.compile(r"[+-]?\d+,\d+")
_DOT_THOUSANDS_COMMA_DECIMAL = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?")
_CURRENCY_SIGNS = re.compile(r"(₽|руб\.?|р\.|rub)$", re.IGNORECASE)


def map_text(values: pd.Series, convert) -> pd.Series:
    """Apply ``convert`` to every text value of ``values``; missing values stay None."""
    return pd.Series(
        [convert(v) if isinstance(v, str) else None for v in values],
        index=values.index,
        dtype=object,
    )


def ru_datetime_text(values: pd.Series) -> pd.Series:
    """``dd.mm.yyyy[ hh:mm[:ss]]`` (or ``dd/mm/yyyy``) -> ISO ``yyyy-mm-dd hh:mm:ss``.

    Values of another shape (ISO already, or malformed) are returned
    unchanged, so the warehouse check reports them as they were in the file.
    A suffix after the time (a UTC offset) is kept for :func:`local_time_text`.
    """

    def convert(v: str) -> str:
        m = _RU_DATETIME.match(v.strip())
        if not m:
            return v
        day, month, year, hour, minute, second, rest = m.groups()
        if hour is None:
            return f"{year}-{int(month):02d}-{int(day):02d}{rest}"
        return (
            f"{year}-{int(month):02d}-{int(day):02d} "
            f"{int(hour):02d}:{minute}:{second or '00'}{rest}"
        )

    return map_text(values, convert)


def local_time_text(values: pd.Series, timezone: str = ACCOUNT_TIMEZONE) -> pd.Series:
    """ISO timestamps with a UTC offset (``+05:00``, ``Z``) -> naive local time text.

    Decision: a value with an offset is converted exactly to ``timezone``
    (the account's), so a file mixing offsets loads consistent local times;
    a value without an offset is taken as local time already and left as is.
    """
    zone = ZoneInfo(timezone)

    def convert(v: str) -> str:
        text = v.strip()
        if not _OFFSET.match(text):
            return v
        try:
            moment = datetime.fromisoformat(text.replace(" Z", "Z"))
        except ValueError:
            return v
        return moment.astimezone(zone).replace(tzinfo=None).isoformat(sep=" ")

    return map_text(values, convert)


def decimal_text(values: pd.Series) -> pd.Series:
    """Russian-formatted numbers -> dot-decimal text.

    ``'567 703 932,00'`` (spaces or no-break spaces as thousands separators,
    decimal comma) becomes ``'567703932.00'``; ``'1.234,5'`` becomes
    ``'1234.5'``; a trailing ``₽`` / ``руб.`` is dropped. Anything that is not
    a number after that is returned unchanged for the warehouse check to
    report.
    """

    def convert(v: str) -> str:
        compact = "".join(v.split()).replace("\u00a0", "").replace("\u202f", "")
        compact = _CURRENCY_SIGNS.sub("", compact)
        if _PLAIN_NUMBER.fullmatch(compact):
            return compact
        if _COMMA_DECIMAL.fullmatch(compact):
            return compact.replace(",", ".")
        if _DOT_THOUSANDS_COMMA_DECIMAL.fullmatch(compact):
            return compact.replace(".", "").replace(",", ".")
        return v

    return map_text(values, convert)


def boolean_text(values: pd.Series, true: Iterable[str], false: Iterable[str]) -> pd.Series:
    """Vendor yes/no words -> ``'true'`` / ``'false'``; other values unchanged."""
    true_set = {t.lower() for t in true}
    false_set = {f.lower() for f in false}

    def convert(v: str) -> str:
        low = v.strip().lower()
        if low in true_set:
            return "true"
        if low in false_set:
            return "false"
        return v

    return map_text(values, convert)
