"""Warehouse connection: the DuckDB file, its settings and the canonical DDL.

:class:`InputError` is the one exception type for a user error (a bad file,
setting or argument); the CLI prints its message as one line and exits 2.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from analytics.paths import DEFAULT_WAREHOUSE
from analytics.warehouse.schema import (
    CANONICAL,
    HISTORY_SCHEMA,
    LOAD_LOG_ADDED,
    LOAD_LOG_DDL,
    QUARANTINE_DDL,
    WAREHOUSE_META_DDL,
    history_ddl,
)

TRUTH_SCHEMA = "truth"
"""DuckDB schema holding the demo generator's ground truth (loaded as-is)."""


class InputError(ValueError):
    """A raw file or setting cannot be loaded; the message says what to fix."""


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


MEMORY_LIMIT_VAR = "ANALYTICS_DUCKDB_MEMORY_LIMIT"
"""Environment variable with DuckDB's ``memory_limit`` for every connection (e.g. ``2GB``)."""

THREADS_VAR = "ANALYTICS_DUCKDB_THREADS"
"""Environment variable with DuckDB's ``threads`` for every connection (e.g. ``1``)."""

LOCK_WAIT_VAR = "ANALYTICS_LOCK_WAIT"
"""Environment variable: seconds to retry a warehouse locked by another process (default 5)."""

DEFAULT_LOCK_WAIT = 5.0

DEFAULT_MEMORY_LIMIT = "1500MB"
"""``memory_limit`` when :data:`MEMORY_LIMIT_VAR` is unset; see :func:`connect`."""


def _duckdb_settings() -> dict[str, str]:
    """DuckDB settings from the environment: ``memory_limit`` always, ``threads`` if set."""
    memory = os.environ.get(MEMORY_LIMIT_VAR, "").strip() or DEFAULT_MEMORY_LIMIT
    settings = {"memory_limit": memory}
    threads = os.environ.get(THREADS_VAR, "").strip()
    if threads:
        settings["threads"] = threads
    return settings


def _apply_settings(con, settings: dict[str, str]) -> None:
    variables = {"memory_limit": MEMORY_LIMIT_VAR, "threads": THREADS_VAR}
    for name, value in settings.items():
        if name == "threads" and not (value.isdigit() and int(value) >= 1):
            raise InputError(f"{THREADS_VAR}={value!r}: must be a whole number of threads >= 1")
        try:
            con.execute(f"SET {name} = {_sql_str(value)}")
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(
                f"{variables[name]}={value!r} is not a valid DuckDB {name} "
                f"(use e.g. 1500MB or 2GB): {first}"
            ) from None


def connect(path: str | Path = DEFAULT_WAREHOUSE, read_only: bool = False):
    """Open (and create if needed) the DuckDB warehouse file, with a memory cap.

    DuckDB settings from the environment are applied to the connection:

    * ``memory_limit`` = ``$ANALYTICS_DUCKDB_MEMORY_LIMIT``, default
      :data:`DEFAULT_MEMORY_LIMIT` (``1500MB``; DuckDB's units, 1 MB = 10^6
      bytes, 1 GB = 10^9 bytes; DuckDB's own default is 80% of RAM);
    * ``threads`` = ``$ANALYTICS_DUCKDB_THREADS`` if set, else DuckDB's
      default (one per core);
    * ``enable_progress_bar`` = false: DuckDB's text bar, drawn on stderr for
      queries over 2 s, would otherwise fill the runner's output and cron mail
      (in a Jupyter kernel it is already off and left alone).

    The limit caps DuckDB's buffer manager (hash tables, sorts, cached
    blocks), not the pandas frames a query returns. Over it, DuckDB spills
    joins, aggregates and sorts to ``<warehouse>.tmp/`` (a writable
    connection) or its default temporary folder, and raises an
    out-of-memory error only for work it cannot spill. Without a cap the
    weekly build at 10M visits needed 3.7 GB for the load alone, and the
    report runs one notebook kernel per core, each with its own DuckDB.
    Measured on that build (``benchmarks/README.md``): with ``1500MB`` the
    load peaks at 1.7 GB in 30 s; ``1GB`` gives 1.2 GB in 28 s and the same
    report peak (after the query fixes of :func:`analytics.metrics.definitions.lead_flags`
    and :func:`analytics.transforms.stitching.stitched_leads` the report's peak
    hardly moves with the cap), so ``1500MB`` is the default: it leaves DuckDB
    more room before it spills on larger data.

    ``SET memory_limit`` works on read-only connections too (checked with
    DuckDB 2.0). The setting is per database instance: connections to the
    same file in one process share one instance, so the last connection
    opened sets it for all of them.

    Parameters
    ----------
    path : str or Path
        Warehouse file; its parent folder is created. ``":memory:"`` opens an
        in-memory database.
    read_only : bool
        Open read-only (several readers may share the file).

    Returns
    -------
    duckdb.DuckDBPyConnection

    Raises
    ------
    InputError
        If :data:`MEMORY_LIMIT_VAR` or :data:`THREADS_VAR` holds a value
        DuckDB does not accept (the message names the variable); if the file
        is not a DuckDB database, cannot be read, or stays locked by another
        process for ``$ANALYTICS_LOCK_WAIT`` seconds (default 5; the message
        names the process DuckDB reports as holding the lock).
    """
    settings = _duckdb_settings()
    if str(path) != ":memory:" and not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only)
    try:
        _apply_settings(con, settings)
        # DuckDB draws a text progress bar on the process's stderr for queries over
        # 2 s; in the runner's terminal and in cron mail it is noise between the lines.
        # In a Jupyter kernel it is off already, and changing it there fails without
        # ipywidgets (DuckDB would draw a widget), so it is only turned off when on.
        [(drawn,)] = con.execute("SELECT current_setting('enable_progress_bar')").fetchall()
        if drawn:
            con.execute("SET enable_progress_bar = false")
    except BaseException:
        con.close()
        raise
    return con


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def _lock_wait() -> float:
    raw = os.environ.get(LOCK_WAIT_VAR, "").strip()
    if not raw:
        return DEFAULT_LOCK_WAIT
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise InputError(f"{LOCK_WAIT_VAR}={raw!r}: must be a number of seconds") from None


def _open(path: str | Path, read_only: bool):
    """``duckdb.connect`` with a brief retry on another process's lock; errors as one line."""
    if str(path) == ":memory:":
        return duckdb.connect(":memory:")
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a DuckDB warehouse file")
    if path.exists() and not os.access(path, os.R_OK | (0 if read_only else os.W_OK)):
        mode = "read" if read_only else "read and write"
        raise InputError(f"{path}: no permission to {mode} the warehouse file")
    deadline = time.monotonic() + _lock_wait()
    delay = 0.1
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            message = str(exc)
            holder = _LOCK_HOLDER.search(message)
            if holder is None and "lock" not in message.lower():
                first = message.splitlines()[0] if message else type(exc).__name__
                if "not a valid DuckDB database file" in message or "database file" in message:
                    raise InputError(
                        f"{path}: not a DuckDB warehouse file; pass the .duckdb file "
                        "written by `load`"
                    ) from None
                raise InputError(f"{path}: cannot open the warehouse: {first}") from None
            if time.monotonic() >= deadline:
                who = (
                    f"process {holder['pid']} ({holder['program']})"
                    if holder
                    else "another process"
                )
                raise InputError(
                    f"{path}: the warehouse is locked by {who}; "
                    f"waited {_lock_wait():g} s (set {LOCK_WAIT_VAR} to wait longer). "
                    "Wait for that run to finish or stop it, then retry"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def init_schema(con) -> None:
    """Create the canonical tables, their ``history`` tables, ``quarantine``, ``load_log``,
    ``warehouse_meta`` and schema ``truth``.

    Idempotent: existing tables are left as they are, except that a warehouse
    written before these additions gets them: the new ``load_log`` columns
    (NULL for old rows), and each versioned table's current rows as open
    versions with ``valid_from`` NULL (known since before any recorded load).
    """
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {TRUTH_SCHEMA}")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {HISTORY_SCHEMA}")
    for table in CANONICAL.values():
        con.execute(table.ddl())
        con.execute(history_ddl(table))
    con.execute(QUARANTINE_DDL)
    con.execute(LOAD_LOG_DDL)
    con.execute(WAREHOUSE_META_DDL)
    for name, dtype in LOAD_LOG_ADDED:
        con.execute(f"ALTER TABLE main.load_log ADD COLUMN IF NOT EXISTS {name} {dtype}")
    for table in CANONICAL.values():
        if not table.versioned:
            continue
        cols = ", ".join(c.stored_name for c in table.columns)
        con.execute(
            f"INSERT INTO {HISTORY_SCHEMA}.{table.name} ({cols}) "
            f"SELECT {cols} FROM main.{table.name} "
            f"WHERE NOT EXISTS (SELECT 1 FROM {HISTORY_SCHEMA}.{table.name} LIMIT 1)"
        )


@contextmanager
def _transaction(con) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
