"""Which columns of a lead table a model can learn from, decided once at fit time.

Real CRM exports are untidy: a trailing comma makes an empty ``Unnamed: 27``
column, a lead number is left in, a field nobody fills is all empty, a free-text
comment has a different value in every row. :func:`inspect_columns` sorts the
columns of a lead table into model inputs and dropped columns, warning once per
dropped column with a :class:`TableWarning`:

* **empty or unnamed** -- no name (``""``, ``Unnamed: N`` as pandas names a
  nameless CSV column) or no value at all: dropped;
* **constant** -- one distinct value (missing counted as a value): dropped;
* **ID-like** -- text or whole-number column whose distinct values are at least
  ``id_share`` (95%) of its filled rows, with at least ``min_rows_for_id`` (50)
  filled rows: an identifier, not a property of the lead; dropped (a booster
  would otherwise memorise it and, as text, one-hot it into thousands of columns);
* **high-cardinality text** -- more than ``max_categories`` (254) distinct
  values but not ID-like: kept, the ``max_categories - 1`` most frequent values
  kept as they are and the rest pooled into one ``other`` value (warned);
* **time** -- datetime columns (e.g. ``created_at``): carried, not model inputs.

What remains are numeric inputs (numbers and booleans) and categorical inputs
(everything else, as text). One-class targets, tables with no usable column and
tables whose columns do not match the fitted model each raise one
``ValueError`` naming the problem.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MAX_CATEGORIES = 254
"""Most distinct values a categorical input keeps (the booster's limit is 255 bins)."""

ID_SHARE = 0.95
"""A text or whole-number column with this share of distinct values per filled row is an ID."""

MIN_ROWS_FOR_ID = 50
"""Filled rows needed before a column can be called ID-like."""

OTHER = "other"
"""The value rare categories are pooled into."""

_UNNAMED = re.compile(r"^\s*$|^Unnamed: \d+(_level_\d+)?$")


class TableWarning(UserWarning):
    """A column of the lead table was dropped or changed before fitting."""


@dataclass
class TableColumns:
    """The outcome of :func:`inspect_columns`.

    Attributes
    ----------
    numeric, categorical : list of str
        Model inputs by type, in table order.
    time : list of str
        Datetime columns carried but not used.
    dropped : dict
        Dropped column -> reason (``empty or unnamed``, ``constant``, ``ID-like``).
    pooled : dict
        High-cardinality column -> distinct values it had.
    """

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    time: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    pooled: dict[str, int] = field(default_factory=dict)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(series) or (
        pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_complex_dtype(series)
    )


def _whole_numbers(values: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(values):
        return True
    if pd.api.types.is_float_dtype(values):
        array = values.to_numpy(dtype=float)
        return bool(np.all(np.isfinite(array)) and np.all(array == np.round(array)))
    return False


def inspect_columns(
    X: pd.DataFrame,
    *,
    max_categories: int = MAX_CATEGORIES,
    id_share: float = ID_SHARE,
    min_rows_for_id: int = MIN_ROWS_FOR_ID,
    warn: bool = True,
) -> TableColumns:
    """Sort the columns of a lead table into model inputs and dropped columns.

    Parameters
    ----------
    X : pandas.DataFrame
        One row per lead, any columns.
    max_categories : int
        Distinct values kept per categorical input (the rest pooled).
    id_share : float
        Distinct values / filled rows at or above which a text or whole-number
        column is an identifier.
    min_rows_for_id : int
        Filled rows below which no column is called an identifier.
    warn : bool
        Emit one :class:`TableWarning` per dropped or pooled column.

    Returns
    -------
    TableColumns

    Raises
    ------
    ValueError
        No column is left to learn from (every column names its reason).
    """
    out = TableColumns()
    for name in X.columns:
        series = X[name]
        label = str(name)
        nameless = name is None or (isinstance(name, float) and np.isnan(name))
        if nameless or _UNNAMED.match(label) or series.isna().all():
            out.dropped[label] = "empty or unnamed"
            continue
        if pd.api.types.is_datetime64_any_dtype(series):
            out.time.append(name)
            continue
        filled = series.dropna()
        distinct = filled.nunique()
        if distinct + int(series.isna().any()) <= 1:
            out.dropped[label] = "constant"
            continue
        numeric = _is_numeric(series)
        if (
            len(filled) >= min_rows_for_id
            and distinct >= id_share * len(filled)
            and (not numeric or (_whole_numbers(filled) and not pd.api.types.is_bool_dtype(series)))
        ):
            out.dropped[label] = "ID-like"
            continue
        if numeric:
            out.numeric.append(name)
            continue
        out.categorical.append(name)
        if distinct > max_categories:
            out.pooled[label] = int(distinct)
    if warn:
        for name, reason in out.dropped.items():
            shown = name if name.strip() else "(no name)"
            advice = {
                "empty or unnamed": "it has no name or no value",
                "constant": "it has the same value in every row",
                "ID-like": "nearly every row has its own value, so it identifies leads "
                "rather than describing them",
            }[reason]
            warnings.warn(f"column {shown!r} dropped: {advice}", TableWarning, stacklevel=3)
        for name, distinct in out.pooled.items():
            warnings.warn(
                f"column {name!r} has {distinct} distinct values: the {max_categories - 1} "
                f"most frequent are kept and the rest pooled as {OTHER!r}",
                TableWarning,
                stacklevel=3,
            )
    if not out.numeric and not out.categorical:
        reasons = ", ".join(f"{k!r} ({v})" for k, v in out.dropped.items()) or "none"
        raise ValueError(
            f"the lead table has no column to learn from; dropped: {reasons}; "
            f"time columns: {[str(c) for c in out.time]}"
        )
    return out


def check_target(y, n_rows: int) -> np.ndarray:
    """The target as int 0/1, or one clear ``ValueError``.

    Accepts 0/1 numbers, booleans and the text ``0``/``1``/``true``/``false``/
    ``yes``/``no``; rejects missing values, other labels, a length different
    from the table and a single class.
    """
    array = np.asarray(y).ravel()
    if len(array) != n_rows:
        raise ValueError(f"the lead table has {n_rows} rows but the target has {len(array)}")
    if array.dtype.kind in "biuf" and np.isin(array, (0, 1)).all():
        target = array.astype(int)
        if len(np.unique(target)) < 2:
            raise ValueError(
                f"the target has one class only (every lead is {target[0]}): a model needs "
                "leads that converted and leads that did not"
            )
        return target
    series = pd.Series(array.astype(object))
    if len(series) != n_rows:
        raise ValueError(f"the lead table has {n_rows} rows but the target has {len(series)}")
    if series.isna().any():
        raise ValueError(f"the target is missing in {int(series.isna().sum())} rows")
    words = {"1": 1, "0": 0, "true": 1, "false": 0, "yes": 1, "no": 0, "1.0": 1, "0.0": 0}
    mapped = series.map(lambda v: words.get(str(v).strip().lower()))
    if mapped.isna().any():
        bad = sorted({str(v) for v in series[mapped.isna()]})[:5]
        raise ValueError(f"the target must be 0/1 (or yes/no, true/false); found {bad}")
    target = mapped.to_numpy(dtype=int)
    classes = np.unique(target)
    if len(classes) < 2:
        raise ValueError(
            f"the target has one class only (every lead is {classes[0]}): a model needs "
            "leads that converted and leads that did not"
        )
    return target
