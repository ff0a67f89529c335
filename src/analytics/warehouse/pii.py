"""PII: phones and e-mails normalised, salted and SHA-256 hashed at ingest.

``<name>_hash = sha256(salt || normalised)``; the raw value is stored nowhere.
The Python functions are the reference the loader's SQL is tested against.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from datetime import datetime

from analytics.warehouse.connection import InputError, _sql_str

_BLANKS = " \t\r\n"


def pii_salt() -> str:
    """Salt for PII hashes, from the environment variable ``ANALYTICS_PII_SALT``.

    Raises
    ------
    InputError
        If the variable is unset or empty.
    """
    salt = os.environ.get("ANALYTICS_PII_SALT", "")
    if not salt:
        raise InputError(
            "ANALYTICS_PII_SALT is not set: phones and e-mails are hashed as "
            "sha256(salt || value) at ingest and the salt must stay the same for every "
            "load. Set a long random secret once, e.g. "
            "`export ANALYTICS_PII_SALT=$(python -c "
            "'import secrets; print(secrets.token_hex(32))')`, and keep it out of the repository."
        )
    return salt


def normalise_pii(value: str | None, kind: str) -> str | None:
    """Normalise a phone or e-mail the same way the loader's SQL does.

    Parameters
    ----------
    value : str or None
        Raw value as it appears in the file.
    kind : {"phone", "email"}
        Phone: digits only; an 11-digit number starting with 8 becomes 7...,
        a 10-digit number gets a leading 7. E-mail: trimmed and lower-cased.

    Returns
    -------
    str or None
        Normalised value; None if nothing is left (no digits, empty e-mail).
    """
    if value is None:
        return None
    if kind == "phone":
        digits = re.sub(r"[^0-9]", "", value)
        if len(digits) == 11 and digits.startswith("8"):
            digits = "7" + digits[1:]
        elif len(digits) == 10:
            digits = "7" + digits
        return digits or None
    if kind == "email":
        return value.strip(_BLANKS).lower() or None
    raise ValueError(f"unknown PII kind {kind!r}; expected 'phone' or 'email'")


def hash_pii(value: str | None, kind: str, salt: str) -> str | None:
    """Salted SHA-256 hex of a normalised phone or e-mail (pure-Python reference).

    ``hash = sha256(salt || normalise_pii(value, kind))``; None stays None.
    """
    normalised = normalise_pii(value, kind)
    if normalised is None:
        return None
    return hashlib.sha256((salt + normalised).encode("utf-8")).hexdigest()


def _trim_sql(raw: str) -> str:
    """``raw`` without surrounding blanks (``_BLANKS``); trims only when needed (fast path).

    The test looks at the first and last byte (``starts_with``/``ends_with``; a
    blank is one ASCII byte, never part of a multi-byte character), which costs
    about a third of indexing the first and last character (``raw[1]``,
    ``raw[-1]``) and half of ``trim`` itself on every value.
    """
    edges = " OR ".join(
        f"{test}({raw}, {_sql_str(b)})" for test in ("starts_with", "ends_with") for b in _BLANKS
    )
    return f"CASE WHEN {edges} THEN trim({raw}, {_sql_str(_BLANKS)}) ELSE {raw} END"


def _normalise_pii_sql(raw: str, kind: str) -> str:
    if kind == "phone":
        digits = f"regexp_replace(coalesce({raw}, ''), '[^0-9]', '', 'g')"
        return (
            f"CASE WHEN length({digits}) = 11 AND starts_with({digits}, '8') "
            f"THEN '7' || substr({digits}, 2) "
            f"WHEN length({digits}) = 10 THEN '7' || {digits} ELSE {digits} END"
        )
    if kind == "email":
        text = f"coalesce({raw}, '')"
        return f"lower({_trim_sql(text)})"
    raise ValueError(f"unknown PII kind {kind!r}; expected 'phone' or 'email'")


SALT_LABEL = b"analytics warehouse: PII salt fingerprint v1"
"""Fixed message of the salt fingerprint (HMAC-SHA256 keyed with the salt)."""


def salt_fingerprint(salt: str) -> str:
    """Fingerprint of the PII salt: ``HMAC-SHA256(key=salt, msg=SALT_LABEL)``, 16 hex digits.

    It tells two salts apart without revealing the salt (HMAC is one-way in
    its key), and it differs from every PII hash, which is a plain SHA-256 of
    ``salt || value``.
    """
    return hmac.new(salt.encode("utf-8"), SALT_LABEL, hashlib.sha256).hexdigest()[:16]


def check_salt(con, salt: str, *, record: bool = True, now: datetime | None = None) -> None:
    """Refuse a salt other than the one the warehouse's PII was hashed with.

    The first load records :func:`salt_fingerprint` in ``warehouse_meta``
    (name ``pii_salt_fingerprint``); later loads compare against it.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection (inside the load's transaction).
    salt : str
        The salt of this load.
    record : bool
        Record the fingerprint if none is recorded yet (False for a dry run).

    Raises
    ------
    InputError
        The recorded fingerprint differs: the same phone would get two hashes
        and stitching would silently stop matching.
    """
    # fetchall, not fetchone: an unfinished result would block a later register().
    [(exists,)] = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' "
        "AND table_name = 'warehouse_meta' AND NOT temporary"
    ).fetchall()
    stored = None
    if exists:
        found = con.execute(
            "SELECT value FROM main.warehouse_meta WHERE name = 'pii_salt_fingerprint'"
        ).fetchall()
        stored = found[0][0] if found else None
    mine = salt_fingerprint(salt)
    if stored is not None and stored != mine:
        raise InputError(
            f"ANALYTICS_PII_SALT differs from the salt this warehouse's phones and e-mails were "
            f"hashed with (salt fingerprint {mine}, warehouse {stored}); set the original salt, "
            "or load into a new warehouse file"
        )
    if stored is None and record:
        con.execute(
            "INSERT INTO main.warehouse_meta VALUES ('pii_salt_fingerprint', $value, $at)",
            {"value": mine, "at": now or datetime.now()},
        )


def forget_salt(con) -> None:
    """Drop the recorded salt fingerprint (a full rebuild re-hashes every value)."""
    con.execute("DELETE FROM main.warehouse_meta WHERE name = 'pii_salt_fingerprint'")
