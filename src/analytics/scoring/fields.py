"""Which lead fields are model inputs: ``params/scoring.yaml``, post-contact fields excluded.

A post-contact field is filled by sales after the first contact (call result,
lead quality, loss reason, tags). It is not known when the lead arrives, so
a model that learns from it scores well in validation and cannot tell a manager
whom to call first. Such fields are excluded by default; selecting them (with
``allow_post_contact: true``) keeps them with a :class:`PostContactWarning`.

Extra CRM fields (:func:`extra_lead_fields`) come from columns of the warehouse
table ``leads`` beyond the canonical schema, or from a key/value table
``lead_fields(lead_id, field, value, recorded_at)`` (the latest value recorded
at or before the lead's ``created_at`` plus ``grace_hours``: form answers
arrive with the request; versions replaced by later loads are read from
``history.lead_fields``, so a value changed after arrival does not hide the
value known at arrival).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analytics import paths

SCORING_PARAMS = "scoring.yaml"


class PostContactWarning(UserWarning):
    """A field filled after the first contact was selected as a model input."""


def _key(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def load_params(path: str | Path | None = None) -> dict:
    """``params/scoring.yaml`` as a dict with ``standard``, ``extra_fields``,
    ``post_contact`` (lists) and ``allow_post_contact`` (bool)."""
    if path is None:
        try:
            path = paths.params_file(SCORING_PARAMS)
        except FileNotFoundError as error:
            raise ValueError(str(error)) from None
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no scoring parameters file")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = sorted(set(data) - {"standard", "extra_fields", "post_contact", "allow_post_contact"})
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}")
    return {
        "standard": list(data.get("standard") or []),
        "extra_fields": list(data.get("extra_fields") or []),
        "post_contact": list(data.get("post_contact") or []),
        "allow_post_contact": bool(data.get("allow_post_contact", False)),
    }


def choose_fields(columns, params: dict) -> list[str]:
    """The columns to use as inputs, in table order (see module doc).

    Parameters
    ----------
    columns : iterable of str
        Columns available (e.g. of :func:`analytics.scoring.lead_features` plus
        extra fields, or of a flat lead table).
    params : dict
        From :func:`load_params`. An empty ``standard`` and ``extra_fields``
        means "every column".

    Returns
    -------
    list of str
        Selected columns. Post-contact names are matched ignoring case, spaces
        and punctuation (``Lead Quality`` is ``lead_quality``).
    """
    columns = [str(c) for c in columns]
    wanted = list(params.get("standard", [])) + list(params.get("extra_fields", []))
    post = {_key(name) for name in params.get("post_contact", [])}
    chosen = [c for c in columns if c in wanted] if wanted else list(columns)
    flagged = [c for c in chosen if _key(c) in post]
    if flagged and not params.get("allow_post_contact", False):
        return [c for c in chosen if c not in flagged]
    for name in flagged:
        warnings.warn(
            f"field {name!r} is filled after the first contact: a model using it looks "
            "better in validation than it can be when a new lead arrives",
            PostContactWarning,
            stacklevel=2,
        )
    return chosen


def extra_lead_fields(con, fields, *, canonical=(), grace_hours: float = 1.0) -> pd.DataFrame:
    """Extra CRM fields of every lead, indexed by ``lead_id`` (see module doc).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse.
    fields : list of str
        Field names wanted.
    canonical : iterable of str
        Columns of ``leads`` that are not extra fields.
    grace_hours : float
        Key/value rows recorded up to this long after ``created_at`` count as
        known at arrival.

    Returns
    -------
    pandas.DataFrame
        One column per field found (numbers as float when every filled value
        parses as a number, else text); fields found nowhere are left out.
    """
    fields = list(fields)
    leads_columns = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = 'leads'"
        ).fetchall()
    ]
    out = con.execute("SELECT lead_id FROM main.leads").df().set_index("lead_id")
    in_leads = [f for f in fields if f in leads_columns and f not in set(canonical)]
    if in_leads:
        quoted = ", ".join(f'"{f}"' for f in in_leads)
        out = out.join(
            con.execute(f"SELECT lead_id, {quoted} FROM main.leads").df().set_index("lead_id")
        )
    kv_tables = {
        r[0]
        for r in con.execute(
            "SELECT table_schema FROM information_schema.tables "
            "WHERE table_schema IN ('main', 'history') AND table_name = 'lead_fields'"
        ).fetchall()
    }
    rest = [f for f in fields if f not in in_leads]
    if "main" in kv_tables and rest:
        # A value replaced by a later load (another value or time) lives on in the
        # history: every version counts, so the value known at arrival is found.
        versions = "SELECT lead_id, field, value, recorded_at FROM main.lead_fields"
        if "history" in kv_tables:
            versions += " UNION SELECT lead_id, field, value, recorded_at FROM history.lead_fields"
        kv = con.execute(
            f"""
            SELECT f.lead_id, f.field, arg_max(f.value, f.recorded_at) AS value
            FROM ({versions}) AS f
            JOIN main.leads AS l USING (lead_id)
            WHERE f.field IN (SELECT unnest($fields))
              AND f.recorded_at <= l.created_at + to_seconds(CAST($grace AS DOUBLE) * 3600)
            GROUP BY f.lead_id, f.field
            """,
            {"fields": rest, "grace": float(grace_hours)},
        ).df()
        if not kv.empty:
            wide = kv.pivot(index="lead_id", columns="field", values="value")
            out = out.join(wide)
    for name in out.columns:
        series = out[name]
        if pd.api.types.is_numeric_dtype(series):
            out[name] = series.astype(float)
            continue
        numbers = pd.to_numeric(series, errors="coerce")
        if series.notna().sum() and numbers.notna().sum() == series.notna().sum():
            out[name] = numbers.astype(float)
        else:
            out[name] = series.astype(object).where(series.notna(), np.nan)
    return out
