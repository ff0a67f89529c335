"""Warehouse layer: schema declaration, DuckDB connection, PII hashing, validated loads.

=================  ============================================================
module             holds
=================  ============================================================
``schema``         the canonical tables declared once (DDL, validation, docs)
``connection``     :func:`connect` with memory/thread settings, :func:`init_schema`
``pii``            salt, normalisation and hashing of phones and e-mails
``load``           staging, validation, upsert, quarantine, ``load_log``, reconciliation
``history``        as-of queries over ``history.<table>`` (validity intervals)
=================  ============================================================

The names below are the layer's public interface; ``from analytics import
warehouse; warehouse.connect(...)`` is how the rest of the package uses it.
"""

from analytics.warehouse.connection import (
    DEFAULT_MEMORY_LIMIT,
    MEMORY_LIMIT_VAR,
    THREADS_VAR,
    TRUTH_SCHEMA,
    InputError,
    connect,
    init_schema,
)
from analytics.warehouse.history import as_of_sql, deals_as_of, table_as_of
from analytics.warehouse.load import (
    LOAD_ORDER,
    OPTIONAL_RAW,
    LoadResult,
    dry_run,
    fingerprint,
    is_dry_run,
    load_file,
    load_frame,
    load_raw_dir,
    reconciliation,
    write_schema_doc,
)
from analytics.warehouse.pii import check_salt, hash_pii, normalise_pii, pii_salt, salt_fingerprint
from analytics.warehouse.schema import EARLIEST_TIME, FUTURE_SLACK

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "FUTURE_SLACK",
    "LOAD_ORDER",
    "MEMORY_LIMIT_VAR",
    "OPTIONAL_RAW",
    "THREADS_VAR",
    "TRUTH_SCHEMA",
    "InputError",
    "LoadResult",
    "EARLIEST_TIME",
    "as_of_sql",
    "check_salt",
    "connect",
    "deals_as_of",
    "dry_run",
    "fingerprint",
    "is_dry_run",
    "hash_pii",
    "init_schema",
    "load_file",
    "load_frame",
    "load_raw_dir",
    "normalise_pii",
    "pii_salt",
    "reconciliation",
    "salt_fingerprint",
    "table_as_of",
    "write_schema_doc",
]
