"""Customer journeys: the touch path of every conversion and of every visitor who did not convert.

A *journey* is what attribution models read: the ordered channels of a visitor's
visits before a conversion, or before the visitor left without one.

Definitions
-----------
Conversion types (``conversion``):

* ``lead`` -- a lead (``leads.created_at``); value 1;
* ``mql``, ``sql`` -- a CRM deal of a lead that *reached* that stage, as in
  :mod:`analytics.funnel` (stage history or current stage at or after it in
  ``new < mql < sql < demo < proposal < won``); value 1;
* ``sale`` -- a deal that reached ``won``; value = ``deals.amount``, RUB;
* ``revenue`` -- the same journeys as ``sale``; models weight them by value.

Conversion time (``anchor``):

* ``"lead"`` (default) -- every conversion is timed at the creation of its lead.
  Marketing acts on the funnel through the request; visits after it are mostly
  the sales process, and a B2B deal is often won weeks after the request, so a
  30-day lookback from the won date would lose the touches that brought it.
  With this anchor the conversions of a period are exactly the funnel cohort
  (leads created in the period) of :func:`analytics.funnel.funnel_summary`.
* ``"stage"`` -- the first time the deal entered the stage or a later one
  (``deal_stages.entered_at``); deals whose history lacks it fall back to
  ``deals.created_at``.

Touches of a converting journey: every visit of the lead's visitor
(``leads.visitor_id``, or the visitor of ``leads.visit_id``) with

    conversion_at - lookback_days <= visit_start <= conversion_at,

ordered by ``visit_start`` (then ``visit_id``). Each conversion looks back on
its own: a visitor with two conversions has two journeys, which may share
touches (a duplicate request repeats its original's path).

Non-converting journeys: every visitor with a visit in the period and no
conversion of the type in the period gives one journey ending at their last
visit in the period, with the visits of the lookback window before it. They
are the ``null`` outcome of the Markov chain.

A conversion whose visitor is unknown (a call without a session) or who had no
visit in the window has a journey with no touches: it stays in
:attr:`Journeys.journeys` (see :attr:`Journeys.unattributed`) but no path
carries it, so attribution models share out the *attributable* conversions.

The conversions and the journeys with their touches are the Ibis expressions
:func:`analytics.transforms.touch_paths.conversions` and
:func:`analytics.transforms.touch_paths.journey_touches`, run on the DuckDB
connection given (``transforms.duckdb_backend(con)``), so the same journeys can
be built on PySpark.

Aggregated paths
----------------
Models work on aggregated paths, one row per distinct channel sequence: with a
handful of channels a million journeys collapse to tens of thousands of paths.
Columns: ``path`` (tuple of channels), ``path_str`` (``"a > b"``), ``length``,
``journeys``, ``conversions``, ``value`` and ``nulls`` (non-converting
journeys), with ``journeys = conversions + nulls``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property

import numpy as np
import pandas as pd

from analytics.period import Period, date_range
from analytics.transforms.backends import duckdb_backend
from analytics.transforms.touch_paths import ANCHORS as ANCHORS  # re-exported
from analytics.transforms.touch_paths import CONVERSIONS as CONVERSIONS  # re-exported
from analytics.transforms.touch_paths import STAGE_OF_CONVERSION as STAGE_OF_CONVERSION
from analytics.transforms.touch_paths import conversions, journey_touches

PATH_SEPARATOR = " > "
"""Separator of channels in ``path_str``."""

PATH_COLUMNS = ("path", "path_str", "length", "journeys", "conversions", "value", "nulls")
"""Columns of an aggregated paths frame."""

_JOURNEY_COLUMNS = [
    "journey_id",
    "visitor_id",
    "conversion_id",
    "converted",
    "value",
    "conversion_at",
]


@dataclass(frozen=True)
class EncodedPaths:
    """Aggregated paths as integer arrays (compressed sparse rows of channel codes).

    Path ``p`` is ``channels[codes[offsets[p]:offsets[p + 1]]]``. Every model
    works on this form, so its cost grows with the number of distinct paths and
    touches in them, not with the number of journeys.

    Parameters
    ----------
    channels : tuple of str
        Channel names; a code is an index into it.
    codes : numpy.ndarray of int64
        Channel code of every touch of every path, path after path.
    offsets : numpy.ndarray of int64
        Start of every path in ``codes``, plus the total length at the end.
    conversions, value, nulls : numpy.ndarray of float64
        Per path: converting journeys, their value, non-converting journeys.
    """

    channels: tuple[str, ...]
    codes: np.ndarray
    offsets: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray

    @property
    def n_paths(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def lengths(self) -> np.ndarray:
        """Touches per path."""
        return np.diff(self.offsets)

    @property
    def path_of_touch(self) -> np.ndarray:
        """Index of the path every touch belongs to."""
        return np.repeat(np.arange(self.n_paths), self.lengths)

    @property
    def position(self) -> np.ndarray:
        """0-based position of every touch within its path."""
        return np.arange(len(self.codes)) - np.repeat(self.offsets[:-1], self.lengths)

    def weight(self, weight: str) -> np.ndarray:
        """Per-path amount to share out: ``conversions`` or ``value``."""
        if weight == "conversions":
            return self.conversions
        if weight == "value":
            return self.value
        raise ValueError(f"weight must be 'conversions' or 'value', got {weight!r}")

    def channel_sum(self, touch_weights: np.ndarray) -> pd.Series:
        """Sum per-touch amounts by channel (every channel listed, zeros included)."""
        sums = np.bincount(self.codes, weights=touch_weights, minlength=self.n_channels)
        return pd.Series(sums, index=pd.Index(self.channels, name="channel"), dtype="float64")


def encode_paths(paths: pd.DataFrame | EncodedPaths) -> EncodedPaths:
    """Turn an aggregated paths frame into :class:`EncodedPaths` (returned as is if it is one).

    Paths with no touches are dropped. Channels are coded in sorted order.
    """
    if isinstance(paths, EncodedPaths):
        return paths
    frame = paths[paths["path"].map(len) > 0]
    lengths = frame["path"].map(len).to_numpy(dtype=np.int64)
    flat = [channel for path in frame["path"] for channel in path]
    channels = tuple(sorted(set(flat)))
    lookup = {channel: code for code, channel in enumerate(channels)}
    codes = np.fromiter((lookup[c] for c in flat), dtype=np.int64, count=len(flat))
    offsets = np.zeros(len(frame) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return EncodedPaths(
        channels=channels,
        codes=codes,
        offsets=offsets,
        conversions=frame["conversions"].to_numpy(dtype=np.float64),
        value=frame["value"].to_numpy(dtype=np.float64),
        nulls=frame["nulls"].to_numpy(dtype=np.float64),
    )


def aggregate_sequences(
    codes: np.ndarray,
    lengths: np.ndarray,
    converted: np.ndarray,
    value: np.ndarray,
    channels: Sequence[str],
) -> pd.DataFrame:
    """Aggregate journeys given as integer arrays into distinct paths.

    Parameters
    ----------
    codes : numpy.ndarray of int
        Channel code of every touch, journey after journey, in touch order.
    lengths : numpy.ndarray of int
        Touches per journey (journeys with 0 touches are dropped).
    converted : numpy.ndarray of bool
        Per journey: ended with a conversion.
    value : numpy.ndarray of float
        Per journey: conversion value (ignored where not converted).
    channels : sequence of str
        Channel name of every code.

    Returns
    -------
    pandas.DataFrame
        The aggregated paths (columns :data:`PATH_COLUMNS`), most frequent
        first. Journeys are grouped by length and the rows of each length are
        deduplicated with ``numpy.unique(axis=0)``, so memory stays at one copy
        of the touches.
    """
    codes = np.asarray(codes)
    lengths = np.asarray(lengths, dtype=np.int64)
    converted = np.asarray(converted, dtype=bool)
    value = np.where(converted, np.asarray(value, dtype=np.float64), 0.0)
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    small = codes.astype(np.int16 if len(channels) < 2**15 else np.int32)
    names = np.asarray(channels, dtype=object)
    blocks = []
    for length in np.unique(lengths[lengths > 0]):
        rows = np.flatnonzero(lengths == length)
        matrix = small[starts[rows][:, None] + np.arange(length)]
        unique, inverse = np.unique(matrix, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        n = len(unique)
        conv = np.bincount(inverse, weights=converted[rows], minlength=n)
        total = np.bincount(inverse, minlength=n).astype(np.float64)
        blocks.append(
            pd.DataFrame(
                {
                    "path": list(map(tuple, names[unique])),
                    "length": np.full(n, length, dtype=np.int64),
                    "journeys": total,
                    "conversions": conv,
                    "value": np.bincount(inverse, weights=value[rows], minlength=n),
                    "nulls": total - conv,
                }
            )
        )
    if not blocks:
        return empty_paths()
    out = pd.concat(blocks, ignore_index=True)
    out.insert(1, "path_str", [PATH_SEPARATOR.join(p) for p in out["path"]])
    out = out.sort_values(["journeys", "path_str"], ascending=[False, True], ignore_index=True)
    return out[list(PATH_COLUMNS)]


def empty_paths() -> pd.DataFrame:
    """An aggregated paths frame without rows."""
    return pd.DataFrame(
        {
            "path": pd.Series(dtype=object),
            "path_str": pd.Series(dtype=object),
            "length": pd.Series(dtype="int64"),
            **{c: pd.Series(dtype="float64") for c in ("journeys", "conversions", "value")},
            "nulls": pd.Series(dtype="float64"),
        }
    )


def aggregate_paths(touches: pd.DataFrame) -> pd.DataFrame:
    """Aggregate a long touch table into distinct paths.

    Parameters
    ----------
    touches : pandas.DataFrame
        One row per touch with ``journey_id``, ``touch_index`` (or
        ``visit_start``), ``channel``, ``converted`` and ``value`` (the last two
        constant within a journey), e.g. :attr:`Journeys.touches`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PATH_COLUMNS`, one row per distinct channel sequence.
    """
    if touches.empty:
        return empty_paths()
    order = "touch_index" if "touch_index" in touches.columns else "visit_start"
    t = touches.sort_values(["journey_id", order], kind="stable")
    journey, _ = pd.factorize(t["journey_id"])
    channel_codes, channels = pd.factorize(t["channel"], sort=True)
    first = np.flatnonzero(np.r_[True, journey[1:] != journey[:-1]])
    lengths = np.diff(np.r_[first, len(journey)])
    return aggregate_sequences(
        channel_codes,
        lengths,
        t["converted"].to_numpy(dtype=bool)[first],
        t["value"].to_numpy(dtype=np.float64)[first],
        list(channels),
    )


def paths_from_records(records: Iterable[tuple]) -> pd.DataFrame:
    """Build an aggregated paths frame from ``(path, conversions, nulls[, value])`` records.

    A path is a sequence of channels or a string ``"a > b"``. Repeated paths are
    summed; ``value`` defaults to ``conversions``. Handy for hand examples::

        paths_from_records([("C1 > C2", 1, 0), ("C1", 2, 1), ("C2", 1, 0)])
    """
    rows = {}
    for record in records:
        path, conversions, nulls, *rest = record
        if isinstance(path, str):
            path = tuple(p.strip() for p in path.split(">")) if path.strip() else ()
        path = tuple(path)
        value = float(rest[0]) if rest else float(conversions)
        conv0, val0, null0 = rows.get(path, (0.0, 0.0, 0.0))
        rows[path] = (conv0 + conversions, val0 + value, null0 + nulls)
    out = pd.DataFrame(
        {
            "path": list(rows),
            "path_str": [PATH_SEPARATOR.join(p) for p in rows],
            "length": np.array([len(p) for p in rows], dtype=np.int64),
            "conversions": np.array([r[0] for r in rows.values()], dtype=np.float64),
            "value": np.array([r[1] for r in rows.values()], dtype=np.float64),
            "nulls": np.array([r[2] for r in rows.values()], dtype=np.float64),
        }
    )
    out["journeys"] = out["conversions"] + out["nulls"]
    return out[list(PATH_COLUMNS)] if rows else empty_paths()


@dataclass(frozen=True)
class Journeys:
    """Journeys of one conversion type, as built by :func:`build_journeys`.

    Parameters
    ----------
    conversion : str
        One of :data:`CONVERSIONS`.
    lookback_days : float
        Touch window before the conversion, days.
    anchor : str
        ``"lead"`` or ``"stage"`` (see the module docstring).
    period : Period or None
        Conversions (and last visits of non-converting visitors) in this
        period; ``None`` is all data.
    journeys : pandas.DataFrame
        One row per journey: ``journey_id``, ``visitor_id``, ``conversion_id``
        (lead id or deal id, NULL for non-converting), ``converted``,
        ``value`` (1, or the deal amount in RUB for sale and revenue; 0 for
        non-converting), ``conversion_at`` (conversion time, or the last visit
        of a non-converting journey) and ``n_touches``.
    touches : pandas.DataFrame
        One row per touch: the journey columns plus ``touch_index``
        (0 = first), ``visit_id``, ``channel``, ``visit_start`` and
        ``days_before`` = (conversion_at - visit_start) in days.
    """

    conversion: str
    lookback_days: float
    anchor: str
    period: Period | None
    journeys: pd.DataFrame
    touches: pd.DataFrame

    @cached_property
    def paths(self) -> pd.DataFrame:
        """Aggregated paths of the journeys with a touch (:func:`aggregate_paths`)."""
        return aggregate_paths(self.touches)

    @property
    def unattributed(self) -> dict[str, float]:
        """Conversions without a touch in the window: ``{"conversions": n, "value": v}``."""
        j = self.journeys
        lost = j[j["converted"] & (j["n_touches"] == 0)]
        return {"conversions": float(len(lost)), "value": float(lost["value"].sum())}

    @property
    def default_weight(self) -> str:
        """``value`` for revenue, ``conversions`` otherwise."""
        return "value" if self.conversion == "revenue" else "conversions"


def build_journeys(
    con,
    conversion: str = "lead",
    lookback_days: float = 30,
    period: Period | None = None,
    anchor: str = "lead",
) -> Journeys:
    """Build the journeys of one conversion type from the warehouse.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with ``visits``, ``leads``, ``deals`` and ``deal_stages``.
    conversion : str, default "lead"
        One of :data:`CONVERSIONS`.
    lookback_days : float, default 30
        Touches count if ``conversion_at - lookback_days <= visit_start <=
        conversion_at``; must be >= 0.
    period : Period, optional
        Conversions timed in the period and non-converting visitors whose last
        visit is in it; all data by default.
    anchor : {"lead", "stage"}, default "lead"
        How a conversion is timed (see the module docstring).

    Returns
    -------
    Journeys
    """
    if lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0, got {lookback_days}")
    start, stop = (None, None) if period is None else (period.start, period.end_exclusive)
    expr_args = (conversion, start, stop, lookback_days, anchor)
    with duckdb_backend(con) as backend:
        rows = backend.execute(journey_touches(backend, *expr_args))
    rows["journey_id"] = rows["journey_id"].astype("int64")
    rows["converted"] = rows["converted"].astype(bool)
    rows["value"] = rows["value"].astype("float64")
    has_touch = rows["visit_id"].notna()
    n_touches = has_touch.groupby(rows["journey_id"], sort=False).sum()
    journeys = rows.drop_duplicates("journey_id")[_JOURNEY_COLUMNS].reset_index(drop=True)
    journeys["n_touches"] = journeys["journey_id"].map(n_touches).astype("int64")
    touches = rows[has_touch].reset_index(drop=True)
    touches.insert(6, "touch_index", touches.groupby("journey_id", sort=False).cumcount())
    touches["days_before"] = (
        touches["conversion_at"] - touches["visit_start"]
    ).dt.total_seconds() / 86_400.0
    return Journeys(conversion, float(lookback_days), anchor, period, journeys, touches)


def widen_period(
    con,
    period: Period,
    conversion: str = "sale",
    min_conversions: int = 30,
    anchor: str = "lead",
) -> Period:
    """The report period, or a longer window ending with it if it has too few conversions.

    Attribution of a week with a handful of sales is noise, so reports widen
    the window: the period itself if it has at least ``min_conversions``
    conversions, else the 13 weeks (a quarter) ending on ``period.end``, else
    everything up to ``period.end``.

    Returns
    -------
    Period
        ``period`` or a range ``start_end`` ending on ``period.end``.
    """
    quarter_start = min(period.end - timedelta(weeks=13) + timedelta(days=1), period.start)
    stop_at = _midnight(period.end_exclusive)
    with duckdb_backend(con) as backend:
        conv = conversions(backend, conversion, anchor)
        at = conv.conversion_at
        counts = conv.aggregate(
            first=at.min(),
            in_period=conv.count(where=(at >= _midnight(period.start)) & (at < stop_at)),
            in_quarter=conv.count(where=(at >= _midnight(quarter_start)) & (at < stop_at)),
            up_to_end=conv.count(where=at < stop_at),
        )
        row = backend.execute(counts).iloc[0]
    first = None if pd.isna(row["first"]) else pd.Timestamp(row["first"]).date()
    candidates = [
        (period, row["in_period"]),
        (date_range(quarter_start, period.end), row["in_quarter"]),
    ]
    if first is not None and first < quarter_start:
        candidates.append((date_range(first, period.end), row["up_to_end"]))
    for candidate, count in candidates:
        if count >= min_conversions:
            return candidate
    return candidates[-1][0]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())
