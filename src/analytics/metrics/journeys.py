"""Customer journeys: the touch path of every conversion and of every visitor who did not convert.

A *journey* is what attribution models read: the ordered channels of a visitor's
visits before a conversion, or before the visitor left without one.

Definitions
-----------
Conversion types (``conversion``):

* ``lead`` -- a lead (``leads.created_at``); value 1;
* ``mql``, ``sql`` -- a CRM deal of a lead that *reached* that stage, as in
  :mod:`analytics.metrics.funnel` (stage history or current stage at or after it in
  ``new < mql < sql < demo < proposal < won``); value 1;
* ``sale`` -- a deal that reached ``won``; value = ``deals.amount``, RUB;
* ``revenue`` -- the same journeys as ``sale``; models weight them by value.

Conversion time (``anchor``):

* ``"lead"`` (default) -- every conversion is timed at the creation of its lead.
  Marketing acts on the funnel through the request; visits after it are mostly
  the sales process, and a B2B deal is often won weeks after the request, so a
  30-day lookback from the won date would lose the touches that brought it.
  With this anchor the conversions of a period are exactly the funnel cohort
  (leads created in the period) of :func:`analytics.metrics.funnel.funnel_summary`.
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

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property

import pandas as pd

# re-exported: the journeys' aggregated paths are attribution's input format
from analytics.attribution.path_frames import (  # noqa: F401
    PATH_COLUMNS,
    PATH_SEPARATOR,
    EncodedPaths,
    aggregate_paths,
    aggregate_sequences,
    empty_paths,
    encode_paths,
    paths_from_records,
)
from analytics.metrics.period import Period, date_range
from analytics.transforms.backends import duckdb_backend, fetch_frame
from analytics.transforms.touch_paths import ANCHORS as ANCHORS  # re-exported
from analytics.transforms.touch_paths import CONVERSIONS as CONVERSIONS  # re-exported
from analytics.transforms.touch_paths import STAGE_OF_CONVERSION as STAGE_OF_CONVERSION
from analytics.transforms.touch_paths import (
    conversion_touches,
    conversions,
    journey_paths,
    journey_touches,
)

_JOURNEY_COLUMNS = [
    "journey_id",
    "visitor_id",
    "conversion_id",
    "converted",
    "value",
    "conversion_at",
]


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
        rows = fetch_frame(backend, journey_touches(backend, *expr_args))
    rows["journey_id"] = rows["journey_id"].astype("int64")
    rows["converted"] = rows["converted"].astype(bool)
    rows["value"] = rows["value"].astype("float64")
    has_touch = rows["visit_id"].notna()
    n_touches = has_touch.groupby(rows["journey_id"], sort=False).sum()
    journeys = rows.drop_duplicates("journey_id")[_JOURNEY_COLUMNS].reset_index(drop=True)
    journeys["n_touches"] = journeys["journey_id"].map(n_touches).astype("int64")
    # Column by column, each column of ``rows`` dropped once filtered: the peak holds
    # one column twice instead of the whole frame (~150 MB less at 10M visits).
    keep = has_touch.to_numpy()
    touches = pd.DataFrame(
        {name: rows.pop(name).array[keep] for name in list(rows.columns)}, copy=False
    )
    touches.insert(6, "touch_index", touches.groupby("journey_id", sort=False).cumcount())
    touches["days_before"] = (
        touches["conversion_at"] - touches["visit_start"]
    ).dt.total_seconds() / 86_400.0
    return Journeys(conversion, float(lookback_days), anchor, period, journeys, touches)


@dataclass(frozen=True)
class JourneyPaths:
    """The aggregated paths of one conversion type, as built by :func:`build_paths`.

    What the attribution pages read, without a row per touch of every
    journey: :attr:`paths` is :attr:`Journeys.paths` of the same journeys,
    :attr:`unattributed` is :attr:`Journeys.unattributed`, and :attr:`touches`
    holds the rows of :attr:`Journeys.touches` of the *converting* journeys
    only (the non-converting ones get no credit from any model, so time decay
    gives the same credit from these rows).

    Parameters
    ----------
    conversion, lookback_days, anchor, period
        As in :class:`Journeys`.
    paths : pandas.DataFrame
        Columns :data:`PATH_COLUMNS`, one row per distinct channel sequence of
        the journeys with a touch, most frequent first (then by ``path_str``).
    unattributed : dict
        Conversions without a touch in the window: ``{"conversions": n,
        "value": v}`` (v in RUB for sale and revenue, else n).
    touches : pandas.DataFrame
        The touches of the converting journeys, the columns of
        :attr:`Journeys.touches` (``journey_id`` as there).
    """

    conversion: str
    lookback_days: float
    anchor: str
    period: Period | None
    paths: pd.DataFrame
    unattributed: dict[str, float]
    touches: pd.DataFrame

    @property
    def default_weight(self) -> str:
        """``value`` for revenue, ``conversions`` otherwise."""
        return "value" if self.conversion == "revenue" else "conversions"


def build_paths(
    con,
    conversion: str = "lead",
    lookback_days: float = 30,
    period: Period | None = None,
    anchor: str = "lead",
) -> JourneyPaths:
    """The aggregated paths of :func:`build_journeys`, built in the engine.

    The journeys are grouped into distinct paths by the Ibis expression
    :func:`analytics.transforms.touch_paths.journey_paths`, so what is fetched
    is one row per distinct path, not one per touch (at 10M visits and a
    13-week window: ~20 thousand paths instead of 1.7 million touches). The
    converting journeys' touches (for time decay) come from
    :func:`analytics.transforms.touch_paths.conversion_touches`.

    The result equals ``build_journeys(...)``'s ``paths``, ``unattributed``
    and converting rows of ``touches`` (``value`` sums are exact when the
    amounts are whole roubles, as in the CRM exports; otherwise they may
    differ in the last bit, the summation order being the engine's).

    Parameters
    ----------
    con, conversion, lookback_days, period, anchor
        As in :func:`build_journeys`.

    Returns
    -------
    JourneyPaths
    """
    if lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0, got {lookback_days}")
    start, stop = (None, None) if period is None else (period.start, period.end_exclusive)
    expr_args = (conversion, start, stop, lookback_days, anchor)
    with duckdb_backend(con) as backend:
        grouped = backend.to_pyarrow(journey_paths(backend, *expr_args))
        rows = fetch_frame(backend, conversion_touches(backend, *expr_args))
    path_lists = grouped.column("path").to_pylist()
    counts = grouped.drop_columns(["path"]).to_pandas()
    counts.insert(0, "path", [tuple(p) for p in path_lists])
    lost = counts["length"] == 0
    unattributed = {
        "conversions": float(counts.loc[lost, "conversions"].sum()),
        "value": float(counts.loc[lost, "value"].sum()),
    }
    paths = counts[~lost].reset_index(drop=True)
    if paths.empty:
        paths = empty_paths()
    else:
        paths.insert(1, "path_str", [PATH_SEPARATOR.join(p) for p in paths["path"]])
        # aggregate_paths' order: most journeys first, then path_str (then, for two
        # paths with one string, shorter first and by channel)
        paths = paths.sort_values(
            ["journeys", "path_str", "length"], ascending=[False, True, True], kind="stable"
        )
        paths = paths[list(PATH_COLUMNS)].reset_index(drop=True)
    return JourneyPaths(
        conversion,
        float(lookback_days),
        anchor,
        period,
        paths,
        unattributed,
        _touch_frame(rows),
    )


def _touch_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """:attr:`Journeys.touches` from fetched :func:`journey_touches` rows with a touch."""
    rows = rows[rows["visit_id"].notna()].reset_index(drop=True)
    rows["journey_id"] = rows["journey_id"].astype("int64")
    rows["converted"] = rows["converted"].astype(bool)
    rows["value"] = rows["value"].astype("float64")
    rows.insert(6, "touch_index", rows.groupby("journey_id", sort=False).cumcount())
    rows["days_before"] = (
        rows["conversion_at"] - rows["visit_start"]
    ).dt.total_seconds() / 86_400.0
    return rows


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
