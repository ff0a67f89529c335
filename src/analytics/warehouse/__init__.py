"""Warehouse layer: schema declaration, DuckDB connection, PII hashing, validated loads.

=================  ============================================================
module             holds
=================  ============================================================
``schema``         the canonical tables declared once (DDL, validation, docs)
``connection``     :func:`connect` with memory/thread settings, :func:`init_schema`
``pii``            salt, normalisation and hashing of phones and e-mails
``load``           staging, validation, quarantine, ``load_log``, reconciliation
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
from analytics.warehouse.load import (
    FUTURE_SLACK,
    LOAD_ORDER,
    LoadResult,
    fingerprint,
    load_file,
    load_frame,
    load_raw_dir,
    reconciliation,
    write_schema_doc,
)
from analytics.warehouse.pii import hash_pii, normalise_pii, pii_salt

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "FUTURE_SLACK",
    "LOAD_ORDER",
    "MEMORY_LIMIT_VAR",
    "THREADS_VAR",
    "TRUTH_SCHEMA",
    "InputError",
    "LoadResult",
    "connect",
    "fingerprint",
    "hash_pii",
    "init_schema",
    "load_file",
    "load_frame",
    "load_raw_dir",
    "normalise_pii",
    "pii_salt",
    "reconciliation",
    "write_schema_doc",
]
