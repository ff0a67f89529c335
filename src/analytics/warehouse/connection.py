"""Warehouse connection: the DuckDB file, its settings and the canonical DDL.

:class:`InputError` is the one exception type for a user error (a bad file,
setting or argument); the CLI prints its message as one line and exits 2.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from analytics.paths import DEFAULT_WAREHOUSE
from analytics.warehouse.schema import CANONICAL, LOAD_LOG_DDL, QUARANTINE_DDL

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
      default (one per core).

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
        DuckDB does not accept; the message names the variable.
    """
    settings = _duckdb_settings()
    if str(path) != ":memory:" and not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        _apply_settings(con, settings)
    except BaseException:
        con.close()
        raise
    return con


def init_schema(con) -> None:
    """Create the canonical tables, ``quarantine``, ``load_log`` and schema ``truth``.

    Idempotent: existing tables are left as they are.
    """
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {TRUTH_SCHEMA}")
    for table in CANONICAL.values():
        con.execute(table.ddl())
    con.execute(QUARANTINE_DDL)
    con.execute(LOAD_LOG_DDL)


@contextmanager
def _transaction(con) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
