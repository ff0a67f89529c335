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


def _has_table(backend, name: str, database: str | None = None) -> bool:
    """Whether the Ibis backend has table ``name`` (in ``database``, else the current one).

    Asked by opening the table: ``list_tables`` of Ibis 12 fails on DuckDB 2.0."""
    try:
        backend.table(name, database=database)
    except Exception:  # noqa: BLE001 -- no such table or schema: each backend has its error
        return False
    return True


def extra_lead_fields(con, fields, *, canonical=(), grace_hours: float = 1.0) -> pd.DataFrame:
    """Extra CRM fields of every lead, indexed by ``lead_id`` (see module doc).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or ibis.BaseBackend
        Warehouse (the key/value rows are picked by
        :func:`analytics.transforms.lead_history.lead_field_values`).
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
    from analytics.transforms.backends import ibis_backend
    from analytics.transforms.lead_history import lead_field_values

    fields = list(fields)
    with ibis_backend(con) as backend:
        leads = backend.table("leads")
        in_leads = [f for f in fields if f in leads.columns and f not in set(canonical)]
        out = backend.execute(leads.select("lead_id", *in_leads)).set_index("lead_id")
        rest = [f for f in fields if f not in in_leads]
        if rest and _has_table(backend, "lead_fields"):
            # A value replaced by a later load (another value or time) lives on in the
            # history: every version counts, so the value known at arrival is found.
            history = _has_table(backend, "lead_fields", database="history")
            kv = backend.execute(
                lead_field_values(backend, rest, history=history, grace_hours=grace_hours)
            )
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
