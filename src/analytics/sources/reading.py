"""Reading vendor exports: decoding, header search, records, value formats.

Every adapter reads its file through :func:`read_export` and hands the
translated canonical frame to :func:`load_translated`.

Shared reading rules (:func:`read_export`)
------------------------------------------
* What the file is: a folder, an unreadable file, an Excel workbook
  (``.xlsx``, a zip) or a legacy ``.xls`` is refused with one line saying so;
  a gzip file is unpacked in memory (and said so in the load notes).
* Encoding ``"auto"``: a BOM decides (UTF-8, UTF-16 LE/BE), NUL bytes at
  every other position mean UTF-16 without a BOM, else strict UTF-8, else
  cp1251. A named encoding is strict: the first byte that does not decode
  rejects the file with its byte offset and line.
* JSON lines (the first non-blank character is ``{``): one object per line,
  the header is the union of the keys in order of appearance (ETL tools such
  as Airbyte write this).
* Delimiter ``"auto"``: the one of ``;``, tab and ``,`` that splits the most
  of the first lines into the same number (two or more) of fields, so a title
  or period line above the header does not decide it.
* The header is the first of the first :data:`HEADER_SEARCH_LINES` non-blank
  records that holds every required column: report titles, period lines and
  blank lines above it are skipped (and a period found there is kept in
  :attr:`ExportTable.period`). When none does, the refusal is built from the
  record that holds the most known columns (the real header, not the title),
  lists the required fields still missing and suggests ready-to-run
  ``--map "Their column=field"`` options (fuzzy matches by :mod:`difflib`).
* Summary lines after the data whose first non-empty field (of the first
  three) starts with ``Total`` / ``Итого`` / ``Всего`` are removed and
  returned in :attr:`ExportTable.footer`.
* Empty markers (:data:`EMPTY_MARKERS`: ``--``, ``—``, ``n/a``, ...) are
  empty values in every field; placeholders (:data:`DEFAULT_PLACEHOLDERS`:
  ``не закрыта``, ``0000-00-00``, ...) are empty in date and number fields
  and counted per column in :attr:`ExportTable.placeholders`.
* A record with a different field count than the header (a truncated last
  line, a stray delimiter or quote) rejects the whole file with the line
  number: its fields cannot be trusted. A record holding NUL bytes (damaged
  bytes) is not rejected with the file: it is quarantined with the reason
  (:attr:`ExportTable.rejects`).
* Field size: one field may be of any length (a long CRM note over 128 KB is
  read).
* Columns of the file that no field reads, and optional fields whose column
  is absent, are listed in :attr:`ExportTable.notes`, with a ``--map``
  suggestion when an unread column looks like a known field.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import difflib
import gzip
import io
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from analytics import warehouse
from analytics.warehouse import InputError, LoadResult
from analytics.warehouse.schema import CANONICAL

log = logging.getLogger(__name__)

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

ACCOUNT_TIMEZONE = "Europe/Moscow"
"""Default account time zone: canonical timestamps are naive local time in it."""

HEADER_SEARCH_LINES = 20
"""Non-blank records searched for the column header (titles and period lines may precede it)."""

EMPTY_MARKERS = ("--", "—", "–", "n/a", "N/A", "#N/A", "н/д", "(not set)")
"""Values that mean "empty" in every field of every export."""

DEFAULT_PLACEHOLDERS = (
    "не закрыта",
    "не закрыто",
    "не закрыт",
    "не указано",
    "не указана",
    "нет",
    "-",
    "—",
    "n/a",
    "none",
    "null",
    "0000-00-00",
    "0000-00-00 00:00:00",
    "00.00.0000",
    "00.00.0000 00:00:00",
)
"""Text placeholders that mean "no value" in date and number fields (compared
trimmed, as written or in lower, upper, capitalised or title case). Extend per
source in ``params/sources.yaml`` (``placeholders:``) or with ``--option
placeholders=[...]``."""

FOOTER = r"^(total|итого|всего)\b"
"""Summary lines after the data: first non-empty field of the first three matches."""

_DELIMITERS = (";", "\t", ",")
_BLANK_CHARS = " \t\r\n\u00a0\u202f\u2009"
_TSV_ESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r", "0": "\0", "'": "'", "b": "\b"}
_TSV_ESCAPE_RE = re.compile(r"\\(.)")
_SNIFF_LINES = 30


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
        empty values (and empty markers) None.
    rows : numpy.ndarray
        1-based data record number of each frame row.
    found : dict
        Field -> header name it was read from (None if absent).
    header : list of str
        Every column name of the file.
    footer : list of list of str
        Summary records removed from the end (e.g. ``["Total rows: 3"]``).
    preamble : list of str
        Lines above the header (report title, period), joined fields.
    delimiter : str
        Delimiter the file was read with (``"json"`` for JSON lines).
    placeholders : dict
        Field -> number of placeholder values read as empty.
    rejects : dict
        Data record number -> (column, reason) of records that must be
        quarantined whatever their values (damaged bytes).
    notes : list of str
        Warnings for the load summary (unknown and missing columns, gzip, ...).
    """

    path: Path
    frame: pd.DataFrame
    rows: np.ndarray
    found: dict[str, str | None]
    header: list[str]
    footer: list[list[str]] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)
    delimiter: str = ","
    placeholders: dict[str, int] = field(default_factory=dict)
    rejects: dict[int, tuple[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def period(self) -> tuple[date, date] | None:
        """Report period stated in a line above the header, if any (see :func:`parse_period`)."""
        for line in self.preamble:
            found = parse_period(line)
            if found:
                return found
        return None

    def subset(self, keep: np.ndarray) -> ExportTable:
        """The same export restricted to the rows where ``keep`` is true."""
        keep = np.asarray(keep, dtype=bool)
        rows = self.rows[keep]
        kept = set(rows.tolist())
        return dataclasses.replace(
            self,
            frame=self.frame[keep].reset_index(drop=True),
            rows=rows,
            rejects={r: v for r, v in self.rejects.items() if r in kept},
        )


@dataclass(frozen=True)
class SourceResult(LoadResult):
    """A :class:`~analytics.warehouse.LoadResult` with what the adapter noticed.

    Parameters
    ----------
    notes : tuple of str
        Warnings of the load (unknown, missing or mapped columns, placeholders
        read as empty, phones not hashed, rows skipped, aggregated report ...).
    placeholders : int
        Placeholder values read as empty (e.g. «не закрыта» in ``closed_at``).
    rows_skipped : int
        Records of the file that are not rows of the table by design (outgoing
        calls); not in ``rows_in``.
    """

    notes: tuple[str, ...] = ()
    placeholders: int = 0
    rows_skipped: int = 0


def _normal_name(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").strip(_BLANK_CHARS + '"').lower().split())


def _short_name(name: str) -> str:
    """Column name without an ETL prefix (``ym:s:``, ``ym:pv:``) and separators, lower case."""
    text = _normal_name(name)
    text = re.sub(r"^ym:[a-z]+:", "", text)
    return re.sub(r"[\s_\-:.]", "", text)


_MAGIC = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx, a zip archive)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"PAR1", "a Parquet file"),
)


def _read_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file; pass the export file itself")
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        return path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read the file: {err.strerror or err}") from None


def decode_export(path: Path, encoding: str, notes: list[str] | None = None) -> str:
    """Text of an export file (see the module notes on ``encoding="auto"``).

    Parameters
    ----------
    path : Path
        The file.
    encoding : str
        ``"auto"`` or a codec name.
    notes : list of str, optional
        Receives a note when the file was gzip-compressed.

    Raises
    ------
    InputError
        A folder, missing, unreadable or empty file, a workbook or other
        binary format, or bytes that do not decode, with the byte offset and
        line of the first bad byte.
    """
    data = _read_bytes(path)
    if not data:
        raise InputError(f"{path}: empty file (0 bytes); expected at least a header")
    if data.startswith(b"\x1f\x8b"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise InputError(f"{path}: this is a gzip file but it does not unpack: {err}") from None
        if notes is not None:
            notes.append("gzip file, unpacked before reading")
        if not data:
            raise InputError(f"{path}: empty file (gzip of 0 bytes); expected at least a header")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise InputError(
                f"{path}: this is {what}, not a CSV/TSV text export; save it as CSV "
                f"(UTF-8) or download the report as CSV, then load that file"
            )
    if encoding == "auto":
        if data.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        elif len(data) >= 4 and data[1:200:2].count(0) > 0.4 * len(data[1:200:2]):
            encoding = "utf-16-le"
        elif len(data) >= 4 and data[0:200:2].count(0) > 0.4 * len(data[0:200:2]):
            encoding = "utf-16-be"
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
    """The delimiter splitting most of the first lines into one field count >= 2 (``,`` if none).

    Score of a delimiter = (number of lines with the most common field count)
    x (that count), over the first non-blank lines; lines of one field (report
    titles) do not count.
    """
    lines = [line for line in text[: 1 << 16].splitlines() if line.strip()][:_SNIFF_LINES]
    best, best_score = ",", 0
    for d in _DELIMITERS:
        counts: dict[int, int] = {}
        for line in lines:
            try:
                n = len(next(csv.reader([line], delimiter=d)))
            except (csv.Error, StopIteration):
                n = line.count(d) + 1
            if n >= 2:
                counts[n] = counts.get(n, 0) + 1
        if not counts:
            continue
        width, lines_with = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        score = lines_with * width
        if score > best_score:
            best, best_score = d, score
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


def _json_records(text: str, source: Path, vendor: str) -> list[tuple[int, list[str]]]:
    """Records of a JSON-lines file: the first is the header (union of keys)."""
    objects: list[tuple[int, dict]] = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        if not isinstance(item, dict):
            last = number == len(lines) and not text.endswith("\n")
            note = "; it is the last line: the file looks truncated" if last else ""
            raise InputError(
                f"{source}: malformed {vendor} (JSON lines) at line {number}: not a JSON "
                f"object{note}; fix or re-export the file (nothing was loaded from it)"
            )
        objects.append((number, item))
    keys: dict[str, None] = {}
    for _, item in objects:
        keys.update(dict.fromkeys(item))
    header = list(keys)

    def text_of(value) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value) if isinstance(value, float) else str(value)
        return json.dumps(value, ensure_ascii=False)

    return [(0, header)] + [(n, [text_of(item.get(k)) for k in header]) for n, item in objects]


class _Malformed(Exception):
    """A record the CSV parser cannot read (e.g. an unterminated quote)."""


def _matches(fields: list[str], columns: Mapping[str, tuple[str, ...]]) -> set[str]:
    names = {_normal_name(f) for f in fields}
    return {
        name for name, aliases in columns.items() if any(_normal_name(a) in names for a in aliases)
    }


def _find_header(
    records: list[tuple[int, list[str]]],
    columns: Mapping[str, tuple[str, ...]],
    required: Iterable[str],
) -> int | None:
    required = set(required)
    for i, (_, fields) in enumerate(records[:HEADER_SEARCH_LINES]):
        if required <= _matches(fields, columns):
            return i
    return None


def _best_header(
    records: list[tuple[int, list[str]]], columns: Mapping[str, tuple[str, ...]]
) -> int:
    """Index of the record most like the header: most known columns, then most fields."""
    scored = [
        (len(_matches(fields, columns)), sum(bool(f.strip()) for f in fields), -i)
        for i, (_, fields) in enumerate(records[:HEADER_SEARCH_LINES])
    ]
    return -max(scored)[2]


def _likeness(a: str, b: str) -> float:
    """Similarity of two short names: :class:`difflib.SequenceMatcher` ratio, or 0.9
    when the shorter (4+ characters) is contained in the longer one."""
    shorter, longer = sorted((a, b), key=len)
    if len(shorter) >= 4 and shorter in longer:
        return 0.9
    return difflib.SequenceMatcher(None, a, b).ratio()


MATCH_CUTOFF = 0.75
"""Least :func:`_likeness` of a column name proposed for a field."""


def suggest_mapping(
    header: Iterable[str], missing: Iterable[str], columns: Mapping[str, tuple[str, ...]]
) -> dict[str, str]:
    """Fuzzy candidates ``{their column: field}`` for fields missing from a header.

    Each missing field takes the unread header name most like the field name
    or one of its aliases (names compared lower-cased without ``ym:s:``
    prefixes and separators; :func:`_likeness` at least
    :data:`MATCH_CUTOFF`: a :mod:`difflib` ratio, or containment such as
    ``Сумма`` in ``Сумма сделки``); a header name is proposed once, to the
    field it is most like.
    """
    used = {_normal_name(a) for aliases in columns.values() for a in aliases}
    names = [h for h in header if h and _normal_name(h) not in used]
    pairs = []
    for name in missing:
        targets = {_short_name(a) for a in (name, *columns[name])}
        for h in names:
            score = max(_likeness(t, _short_name(h)) for t in targets)
            if score >= MATCH_CUTOFF:
                pairs.append((score, h, name))
    out: dict[str, str] = {}
    for _score, h, name in sorted(pairs, key=lambda p: -p[0]):
        if h not in out and name not in out.values():
            out[h] = name
    return out


def map_option(their: str, field_name: str) -> str:
    """The CLI option mapping one column: ``--map "Their column=field"``."""
    return f'--map "{their}={field_name}"'


def _with_mapping(
    columns: Mapping[str, tuple[str, ...]],
    mapping: Mapping[str, str] | None,
    source: Path,
    vendor: str,
) -> dict[str, tuple[str, ...]]:
    """Aliases with the user's mapped column names put first."""
    out = {k: tuple(v) for k, v in columns.items()}
    for their, name in (mapping or {}).items():
        if name not in out:
            raise InputError(
                f"{source}: column mapping {their!r}={name!r}: {name!r} is not a field of a "
                f"{vendor}; fields: {', '.join(out)}"
            )
        out[name] = (str(their), *out[name])
    return out


def read_export(
    path: str | Path,
    columns: Mapping[str, tuple[str, ...]],
    required: Iterable[str],
    *,
    vendor: str,
    delimiter: str = "auto",
    encoding: str = "auto",
    tsv_escapes: bool | None = False,
    footer: str | None = FOOTER,
    null_values: tuple[str, ...] = (),
    mapping: Mapping[str, str] | None = None,
    typed: Iterable[str] = (),
    placeholders: Iterable[str] | None = None,
    kind: str | None = None,
) -> ExportTable:
    """Read a delimited (or JSON-lines) vendor export with every value as text.

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
    tsv_escapes : bool or None
        Plain TSV as the Metrica Logs API and Yandex Direct write it: no
        quoting, one record per line, ClickHouse escapes (``\\t``, ``\\n``,
        ``\\\\``) inside values decoded, other backslashes kept. ``None``:
        plain TSV when the delimiter (given or detected) is a tab.
    footer : str, optional
        Regular expression (case-insensitive) matching the first non-empty
        of the first three fields of summary lines at the end of the file
        (removed and returned in ``footer``); ``None`` keeps every line.
    null_values : tuple of str
        Values that mean "empty" besides the empty string and
        :data:`EMPTY_MARKERS`.
    mapping : mapping, optional
        The user's column mapping ``{their column: field}`` (``--map`` and
        ``params/sources.yaml``); tried before the built-in aliases.
    typed : iterable of str
        Date and number fields: placeholders there are read as empty.
    placeholders : iterable of str, optional
        Placeholder texts; :data:`DEFAULT_PLACEHOLDERS` by default.
    kind : str, optional
        Source kind, to word the ``--map`` suggestion of a refusal.

    Returns
    -------
    ExportTable

    Raises
    ------
    InputError
        File unusable (see :func:`decode_export`), without a header holding
        the required columns (the refusal names the missing fields, the real
        header, the delimiter and ``--map`` suggestions), with a required
        column twice, or with a malformed record.
    """
    source = Path(path).resolve()
    notes: list[str] = []
    text = decode_export(source, encoding, notes)
    columns = _with_mapping(columns, mapping, source, vendor)
    if text.lstrip(_BLANK_CHARS).startswith("{"):
        records = _json_records(text, source, vendor)
        delimiter = "json"
    else:
        if delimiter == "auto":
            delimiter = _sniff_delimiter(text)
        if tsv_escapes is None:
            tsv_escapes = delimiter == "\t"
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
        raise _missing_columns(records, columns, required, source, vendor, delimiter, kind)
    header = [f.strip(_BLANK_CHARS) for f in records[at][1]]
    while header and not header[-1]:
        header.pop()  # trailing delimiter after the last column name
    preamble = [" ".join(f.strip() for f in fields if f.strip()) for _, fields in records[:at]]
    body = records[at + 1 :]
    tail: list[list[str]] = []
    if footer is not None:
        pattern = re.compile(footer, re.IGNORECASE)
        while body and _is_summary(body[-1][1], pattern):
            tail.insert(0, body.pop()[1])
    width = len(header)
    ends_with_newline = text.endswith(("\n", "\r"))
    rejects: dict[int, tuple[str, str]] = {}
    has_nul = "\x00" in text
    for k, (line, fields) in enumerate(body):
        if len(fields) > width and not any(f.strip(_BLANK_CHARS) for f in fields[width:]):
            fields = fields[:width]
            body[k] = (line, fields)
        damaged = [i for i, f in enumerate(fields) if "\x00" in f] if has_nul else []
        if damaged:
            name = header[damaged[0]] if damaged[0] < width else f"field {damaged[0] + 1}"
            rejects[k + 1] = (
                name,
                f"damaged bytes: NUL (0x00) in column {name!r} at line {line}"
                + ("" if len(fields) == width else f" ({len(fields)} fields, header has {width})")
                + "; the record cannot be trusted, re-export the file",
            )
            fields = [f.replace("\x00", "") for f in fields][:width]
            fields += [""] * (width - len(fields))
            body[k] = (line, fields)
            continue
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
    nulls = {"", *EMPTY_MARKERS, *null_values}
    holders = {
        variant
        for p in (DEFAULT_PLACEHOLDERS if placeholders is None else placeholders)
        for variant in _case_variants(p.strip())
    }
    typed = set(typed)
    values = np.array([f for _, f in body], dtype=object).reshape(len(body), width)
    frame = {}
    found: dict[str, str | None] = {}
    read_positions: set[int] = set()
    placeholder_counts: dict[str, int] = {}
    placeholder_texts: dict[str, dict[str, None]] = {}
    for name, aliases in columns.items():
        positions = []
        for alias in aliases:
            hits = [
                i for i, n in enumerate(normal) if n == _normal_name(alias) and i not in positions
            ]
            if len(hits) > 1:
                hits = _same_name_columns(values, hits, header, name, source, notes, required)
            positions += hits
        found[name] = header[positions[0]] if positions else None
        read_positions.update(positions)
        column = pd.Series([None] * len(body), dtype=object)
        for i in positions:
            cleaned = pd.Series(values[:, i], dtype=object).str.strip(_BLANK_CHARS)
            cleaned = cleaned.where(~cleaned.isin(nulls), None)
            if name in typed:
                is_holder = cleaned.isin(holders)
                if is_holder.any():
                    placeholder_counts[name] = placeholder_counts.get(name, 0) + int(
                        is_holder.sum()
                    )
                    seen = placeholder_texts.setdefault(name, {})
                    seen.update(dict.fromkeys(cleaned[is_holder]))
                    cleaned = cleaned.where(~is_holder, None)
            column = column.where(column.notna(), cleaned)
        frame[name] = column
    notes += _column_notes(header, read_positions, columns, found, required, mapping)
    for name, n in placeholder_counts.items():
        shown = ", ".join(repr(t) for t in list(placeholder_texts[name])[:3])
        notes.append(f"{name}: {n} placeholder value(s) read as empty ({shown})")
    rows = np.arange(1, len(body) + 1, dtype=np.int64)
    return ExportTable(
        source,
        pd.DataFrame(frame),
        rows,
        found,
        header,
        tail,
        preamble,
        delimiter,
        placeholder_counts,
        rejects,
        notes,
    )


def _case_variants(text: str) -> set[str]:
    """A placeholder as written and in lower, upper, capitalised and title case
    (compared with a vectorised ``isin``: no Python call per value)."""
    return {text, text.lower(), text.upper(), text.capitalize(), text.title()}


def _is_summary(fields: list[str], pattern: re.Pattern) -> bool:
    for f in fields[:3]:
        text = f.strip(_BLANK_CHARS)
        if text:
            return bool(pattern.match(text))
    return False


def _same_name_columns(values, hits, header, name, source, notes, required) -> list[int]:
    """Several columns share one name (amoCRM custom fields): read them as one.

    A value is taken from the first of them that is not empty; rows where two
    of them hold different non-empty values are counted in a note. For a
    required field the file is refused (which column is the real one cannot
    be known).
    """
    if name in required:
        raise InputError(
            f"{source}: column {header[hits[0]]!r} appears {len(hits)} times; "
            f"keep one (it is read as {name})"
        )
    block = values[:, hits]
    conflicts = 0
    for row in block:
        filled = {str(v).strip(_BLANK_CHARS) for v in row if str(v).strip(_BLANK_CHARS)}
        conflicts += len(filled) > 1
    notes.append(
        f"column {header[hits[0]]!r} appears {len(hits)} times (custom fields sharing a name): "
        f"read as {name}, the first non-empty value of each row"
        + (f"; {conflicts} row(s) had different values, the first was kept" if conflicts else "")
    )
    return hits


def _column_notes(header, read_positions, columns, found, required, mapping) -> list[str]:
    notes = []
    unread = [h for i, h in enumerate(header) if i not in read_positions and h]
    missing = [n for n, col in found.items() if col is None and n not in required]
    for their, name in (mapping or {}).items():
        if found.get(name) != their and _normal_name(their) not in {
            _normal_name(h) for h in header
        }:
            notes.append(f"mapping {their!r}={name}: no column {their!r} in this file")
    guess = suggest_mapping(unread, missing, columns)
    if unread:
        notes.append(f"column(s) not read: {', '.join(repr(h) for h in unread)}")
    for their, name in guess.items():
        notes.append(
            f"column {their!r} looks like {name} (not read); if it is, load with "
            f"{map_option(their, name)} or save the mapping in params/sources.yaml"
        )
    if missing:
        notes.append(f"optional field(s) absent, loaded empty: {', '.join(missing)}")
    return notes


def _missing_columns(records, columns, required, source, vendor, delimiter, kind) -> InputError:
    at = _best_header(records, columns)
    line, fields = records[at]
    names = [f.strip(_BLANK_CHARS) for f in fields]
    while names and not names[-1]:
        names.pop()
    present = _matches(names, columns)
    missing = [r for r in required if r not in present]
    described = [f"{r} ({' / '.join(repr(a) for a in columns[r])})" for r in missing]
    other = [d for d in _DELIMITERS if d != delimiter and d in "".join(names)]
    hint = f"; is the delimiter {other[0]!r}?" if len(names) == 1 and other else ""
    shown = {"\t": "tab", "json": "JSON lines"}.get(delimiter, repr(delimiter))
    where = f"header on line {line}, delimiter {shown}" if line else "JSON lines keys"
    guess = suggest_mapping(names, missing, columns)
    options = [map_option(their, name) for their, name in guess.items()]
    options += [map_option("<column>", name) for name in missing if name not in guess.values()]
    command = f"load-source --kind {kind} " if kind else ""
    return InputError(
        f"{source}: missing required column(s) for a {vendor}: {', '.join(described)} "
        f"(found: {', '.join(names)}{hint}) [{where}]; map them: "
        f"{command}{' '.join(options)} (or save them under "
        f"{kind or '<kind>'}: columns: in params/sources.yaml)"
    )


def load_translated(
    con,
    table: str,
    frame: pd.DataFrame,
    export: ExportTable,
    *,
    salt: str,
    load_id: str | None = None,
    now: datetime | None = None,
    rejects: Mapping[int, tuple[str, str]] | None = None,
    notes: Iterable[str] = (),
    rows_skipped: int = 0,
) -> SourceResult:
    """Load the canonical text frame translated from a read export into ``table``.

    The last step of every text adapter: the rows are validated and loaded by
    :func:`analytics.warehouse.load_frame` with the export's absolute path as
    ``source_file`` and its data record numbers (``export.rows``) as
    ``row_numbers``, so ``quarantine`` names the file and record of each bad
    row and ``load_log`` reconciles ``rows_in = rows_loaded + rows_quarantined``.

    Records to reject whatever their values (``export.rejects``: damaged
    bytes; ``rejects``: e.g. epoch-zero times) get the table's time column
    replaced by an invalid marker, so the warehouse check quarantines them in
    the same transaction; their ``quarantine`` row then gets the real column
    and reason.

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
    rejects : mapping, optional
        More data record numbers -> (column, reason) to quarantine.
    notes : iterable of str
        The adapter's own warnings, added to the export's.
    rows_skipped : int
        Records left out by design (see :class:`SourceResult`).

    Returns
    -------
    SourceResult
        Row counts of the load (the ``load_log`` row) and the notes.
    """
    load_id = load_id or new_load_id()
    every = dict(export.rejects) | dict(rejects or {})
    frame = frame.copy()
    if every:
        time_column = CANONICAL[table].time_column
        mask = np.isin(export.rows, list(every))
        frame.loc[mask, time_column] = "rejected"
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
    for row, (column, reason) in ({} if warehouse.is_dry_run() else every).items():
        con.execute(
            "UPDATE main.quarantine SET column_name = ?, reason = ? "
            "WHERE load_id = ? AND source_file = ? AND row_number = ?",
            [column, reason, load_id, str(result.source_file), int(row)],
        ).fetchall()
    all_notes = tuple(export.notes) + tuple(notes)
    if every:
        all_notes += (f"{len(every)} record(s) quarantined before the checks: see quarantine",)
    if all_notes and not warehouse.is_dry_run():  # the reading notes go to load_log too
        con.execute(
            "UPDATE main.load_log SET warnings = concat_ws('; ', warnings, ?) WHERE load_id = ? "
            "AND source_file = ?",
            ["; ".join(all_notes), result.load_id, str(result.source_file)],
        ).fetchall()
    for note in all_notes:
        log.info("%s: %s", export.path.name, note)
    return SourceResult(
        **{f.name: getattr(result, f.name) for f in dataclasses.fields(result)},
        notes=all_notes,
        placeholders=sum(export.placeholders.values()),
        rows_skipped=rows_skipped,
    )


# --------------------------------------------------------------------------- value formats


_RU_DATETIME = re.compile(
    r"^(\d{1,2})[./](\d{1,2})[./](\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?(.*)$"
)
_OFFSET = re.compile(
    r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"
)
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_COMMA_DECIMAL = re.compile(r"[+-]?\d+,\d+")
_COMMA_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_DOT_THOUSANDS_COMMA_DECIMAL = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?")
_CURRENCY_SIGNS = re.compile(r"(₽|руб\.?|р\.|rub|\$|€)$", re.IGNORECASE)
_EPOCH_ZERO = re.compile(r"^1970-01-01([ T]|$)")


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
    """ISO timestamps with a UTC offset (``+05:00``, ``+0500``, ``Z``) -> naive local time text.

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
            moment = datetime.fromisoformat(re.sub(r"\s+(?=Z|[+-]\d)", "", text))
        except ValueError:
            return v
        return moment.astimezone(zone).replace(tzinfo=None).isoformat(sep=" ")

    return map_text(values, convert)


def timestamp_text(values: pd.Series, timezone: str = ACCOUNT_TIMEZONE) -> pd.Series:
    """Any supported date-time text -> naive local ISO text (:func:`ru_datetime_text`,
    then :func:`local_time_text`)."""
    return local_time_text(ru_datetime_text(values), timezone)


_DAY_LABEL = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T]00:00(:00(\.0+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?$")


def day_text(values: pd.Series) -> pd.Series:
    """Report days -> ISO ``yyyy-mm-dd``: ``dd.mm.yyyy``, worded days of the web
    interfaces (``Jun 1, 2025``, ``1 июн. 2025 г.``) and an ETL tool's midnight
    with an offset (``2024-05-01T00:00:00Z``) alike.

    Decision: an ad platform's day is a label in the account's time zone, not an
    instant, so a midnight time and its offset are dropped rather than converted
    (converting ``00:00Z`` to Moscow would keep the day, but ``00:00+05:00`` would
    move it to the day before). Other values are returned unchanged.
    """

    def convert(v: str) -> str:
        text = v.strip()
        m = _DAY_LABEL.match(text)
        if m:
            return m[1]
        worded = _worded_day(text)
        return worded.isoformat() if worded else v

    return map_text(ru_datetime_text(values), convert)


def _worded_day(text: str) -> date | None:
    """``Jun 1, 2025`` / ``Mon, Jun 1, 2025`` / ``1 июн. 2025 г.`` -> date, else None."""
    text = re.sub(r"^[A-Za-zА-Яа-я]{2,3},\s*", "", text)  # weekday
    text = re.sub(r"\s*г\.?$", "", text)
    m = re.fullmatch(_EN_DATE, text)
    if m:
        month = _MONTHS.get(m[1].lower())
        try:
            return date(int(m[3]), month, int(m[2])) if month else None
        except ValueError:
            return None
    m = re.fullmatch(_RU_WORD_DATE, text)
    if m:
        month = _MONTHS.get(m[2].lower())
        try:
            return date(int(m[3]), month, int(m[1])) if month else None
        except ValueError:
            return None
    return None


def epoch_zero_rejects(
    export: ExportTable, values: pd.Series, column: str
) -> dict[int, tuple[str, str]]:
    """Records whose translated time is the Unix epoch (1970-01-01): an empty time
    written as 0 by the exporting system, not a real visit or call.

    Returns
    -------
    dict
        Data record number -> (column, reason), for :func:`load_translated`.
    """
    hits = values.map(lambda v: isinstance(v, str) and bool(_EPOCH_ZERO.match(v.strip())))
    return {
        int(row): (
            column,
            f"epoch-zero time {value!r} (Unix time 0, an empty time in the exporting "
            f"system): not a real time",
        )
        for row, value, hit in zip(export.rows, values, hits, strict=True)
        if hit
    }


def rows_text(rows: Iterable[int], limit: int = 10) -> str:
    """``1, 4, 7 ...``: record numbers for a note (the first ``limit``, then ``...``)."""
    rows = list(rows)
    return ", ".join(str(r) for r in rows[:limit]) + (" ..." if len(rows) > limit else "")


def _number_style(values: Iterable[str]) -> str | None:
    """``'en'`` (comma thousands), ``'ru'`` (comma decimal) or None, from unambiguous values."""
    for v in values:
        compact = "".join(v.split())
        if re.fullmatch(r"[+-]?\d{1,3}(,\d{3}){2,}(\.\d+)?|[+-]?\d{1,3}(,\d{3})+\.\d+", compact):
            return "en"
        if re.fullmatch(r"[+-]?\d+,(\d{1,2}|\d{4,})|[+-]?\d{1,3}(\.\d{3})+(,\d+)?", compact):
            return "ru"
    return None


def number_text(
    values: pd.Series, *, decimal_comma: bool = True, integer: bool = False
) -> pd.Series:
    """Numbers in either thousands style -> dot-decimal text.

    Accepted: ``'1,356,884'`` / ``'1,356,884.50'`` (comma thousands),
    ``'1 356 884,50'`` (space, no-break or thin-space thousands, decimal
    comma), ``'1.356.884,50'`` (dot thousands, decimal comma), a trailing
    ``₽`` / ``руб.`` / ``$``. An ambiguous ``'1,356'`` follows the other values
    of the column when one of them shows the style, else ``decimal_comma``
    (Russian exports: decimal comma; Google Ads in English: thousands).
    With ``integer`` (counts: impressions, clicks) a ``'1.234'`` or
    ``'1,234'`` is always a thousands group. Anything that is not a number is
    returned unchanged for the warehouse check to report.
    """
    texts = [v for v in values if isinstance(v, str)]
    groups = re.compile(r"[+-]?\d{1,3}([.,]\d{3})+")
    style = _number_style(texts) or ("ru" if decimal_comma else "en")

    def convert(v: str) -> str:
        compact = "".join(v.split()).replace("\u00a0", "").replace("\u202f", "")
        compact = _CURRENCY_SIGNS.sub("", compact)
        if integer and groups.fullmatch(compact):
            return compact.replace(".", "").replace(",", "")
        if _PLAIN_NUMBER.fullmatch(compact):
            return compact
        if _COMMA_THOUSANDS.fullmatch(compact) and (
            style == "en" or not _COMMA_DECIMAL.fullmatch(compact)
        ):
            return compact.replace(",", "")
        if _COMMA_DECIMAL.fullmatch(compact):
            return compact.replace(",", ".")
        if _DOT_THOUSANDS_COMMA_DECIMAL.fullmatch(compact):
            return compact.replace(".", "").replace(",", ".")
        return v

    return map_text(values, convert)


def decimal_text(values: pd.Series) -> pd.Series:
    """Russian-formatted numbers -> dot-decimal text (:func:`number_text`, decimal comma).

    ``'567 703 932,00'`` becomes ``'567703932.00'``; ``'1.234,5'`` becomes
    ``'1234.5'``; a trailing ``₽`` / ``руб.`` is dropped.
    """
    return number_text(values, decimal_comma=True)


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


# --------------------------------------------------------------------------- phones

_SCIENTIFIC = re.compile(r"^[+-]?\d+([.,]\d+)?[eE][+]?\d+$")
_EXTENSION = re.compile(r"\s*(?:,|;)?\s*(доб\.?|добавочный|вн\.?|ext\.?|x|#)\s*\d{1,6}\s*$", re.I)
_SPLIT_PHONES = re.compile(r"\s*(?:[,;/]|\s или\s|\s or\s)\s*")

INTERNAL_NUMBER_DIGITS = 6
"""A phone of at most this many digits is an internal number or extension, not a customer's."""


def customer_phone_text(
    values: pd.Series,
    rows: np.ndarray | None = None,
    *,
    column: str = "phone",
    ignore: Iterable[int] = (),
) -> tuple[pd.Series, list[str]]:
    """Customer phones as the hashing expects them, and notes on what was changed.

    * ``7,90372E+10`` (Excel scientific notation): the digits are lost, the
      value cannot be recovered -> empty (not hashed), noted with its rows;
    * ``+7 903 123-45-67 доб. 123`` -> the extension is stripped;
    * two phones in one field (``, ; /`` or "или") -> the first is kept, noted;
    * a number of at most :data:`INTERNAL_NUMBER_DIGITS` digits (an
      employee's extension, ``101``) -> empty (not hashed), noted.

    Records in ``ignore`` (already rejected, e.g. damaged bytes) are cleaned
    but left out of the notes.

    Returns
    -------
    (pandas.Series, list of str)
        Cleaned phones (None where not usable) and the notes.
    """
    rows = np.arange(1, len(values) + 1) if rows is None else rows
    ignore = set(ignore)
    scientific, two, internal, extension = [], [], [], 0
    out = []
    for row, v in zip(rows, values, strict=True):
        if not isinstance(v, str) or not v.strip():
            out.append(None)
            continue
        text = v.strip()
        if _SCIENTIFIC.match(text.replace(" ", "")):
            scientific.append(int(row))
            out.append(None)
            continue
        parts = [p for p in _SPLIT_PHONES.split(text) if re.search(r"\d", p)]
        if len(parts) > 1 and all(len(re.sub(r"\D", "", p)) >= 7 for p in parts[:2]):
            two.append(int(row))
            text = parts[0]
        stripped = _EXTENSION.sub("", text)
        extension += stripped != text
        text = stripped
        if len(re.sub(r"\D", "", text)) <= INTERNAL_NUMBER_DIGITS:
            internal.append(int(row))
            out.append(None)
            continue
        out.append(text)
    notes = []
    scientific = [r for r in scientific if r not in ignore]
    two = [r for r in two if r not in ignore]
    internal = [r for r in internal if r not in ignore]

    if scientific:
        notes.append(
            f"{column}: {len(scientific)} value(s) in Excel scientific notation (e.g. "
            f"'7,90372E+10'; rows {rows_text(scientific)}) cannot be recovered: not hashed, "
            f"loaded empty; export the phone column as text"
        )
    if extension:
        notes.append(f"{column}: extension (доб. / ext.) stripped from {extension} phone(s)")
    if two:
        notes.append(
            f"{column}: {len(two)} field(s) hold two phones (rows {rows_text(two)}): "
            f"the first is kept"
        )
    if internal:
        notes.append(
            f"{column}: {len(internal)} internal or extension number(s) (rows "
            f"{rows_text(internal)}) are not a customer's phone: not hashed"
        )
    return pd.Series(out, index=values.index, dtype=object), notes


# --------------------------------------------------------------------------- report periods

_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("jan", "january", "янв", "января", "январь"),
            ("feb", "february", "фев", "февраля", "февраль"),
            ("mar", "march", "мар", "марта", "март"),
            ("apr", "april", "апр", "апреля", "апрель"),
            ("may", "мая", "май"),
            ("jun", "june", "июн", "июня", "июнь"),
            ("jul", "july", "июл", "июля", "июль"),
            ("aug", "august", "авг", "августа", "август"),
            ("sep", "sept", "september", "сен", "сентября", "сентябрь"),
            ("oct", "october", "окт", "октября", "октябрь"),
            ("nov", "november", "ноя", "ноября", "ноябрь"),
            ("dec", "december", "дек", "декабря", "декабрь"),
        ),
        start=1,
    )
    for m in names
}
_ISO_DATE = r"(\d{4})-(\d{2})-(\d{2})"
_RU_DATE = r"(\d{1,2})\.(\d{1,2})\.(\d{4})"
_EN_DATE = r"([A-Za-z]{3,9})\.? (\d{1,2}), (\d{4})"
_RU_WORD_DATE = r"(\d{1,2}) ([а-яА-Я]{3,8})\.? (\d{4})"
_RANGE_SEP = r"(?:\s*г\.?)?\s*(?:-|–|—|\.\.|по|to)\s*"


def parse_period(text: str) -> tuple[date, date] | None:
    """A report period written in a title or period line, or None.

    Accepted: ``2025-06-01 - 2025-06-30`` (also ``..``), ``01.06.2025 - 30.06.2025``,
    ``June 1, 2025 - June 30, 2025`` (Google Ads), ``1 июня 2025 - 30 июня 2025``;
    the dates may be inside other text (``Campaign report (01.06.2025 - 30.06.2025)``).
    """

    def build(kind: str, groups: tuple[str, ...]) -> date | None:
        try:
            if kind == "iso":
                return date(int(groups[0]), int(groups[1]), int(groups[2]))
            if kind == "ru":
                return date(int(groups[2]), int(groups[1]), int(groups[0]))
            if kind == "en":
                month = _MONTHS.get(groups[0].lower())
                return date(int(groups[2]), month, int(groups[1])) if month else None
            month = _MONTHS.get(groups[1].lower())
            return date(int(groups[2]), month, int(groups[0])) if month else None
        except (TypeError, ValueError):
            return None

    for kind, pattern in (
        ("iso", _ISO_DATE),
        ("ru", _RU_DATE),
        ("en", _EN_DATE),
        ("word", _RU_WORD_DATE),
    ):
        m = re.search(pattern + _RANGE_SEP + pattern, text)
        if m:
            n = len(m.groups()) // 2
            start, end = build(kind, m.groups()[:n]), build(kind, m.groups()[n:])
            if start and end and start <= end:
                return start, end
    return None
