"""What changed: the change of a total split by channel, the biggest movers, anomalies.

All three read a period snapshot (:mod:`analytics.metrics.snapshot`).

Decomposition
-------------
For an additive metric (leads, revenue, spend, sales...) the change of the
total, ``Δ = value − previous``, is split by channel: each channel's part is
its own ``value − previous``; whatever the channels do not cover (a channel
the snapshot does not break down, rounding in the source) is one more part,
``other = Δ − Σ parts``, so that the parts always **sum exactly** to ``Δ``.

Movers
------
Every (metric, channel) pair of :data:`MOVER_METRICS`, ranked by the size of
its change relative to the metric's total in the previous period:
``share = (value − previous) / previous_total × 100`` (percentage points of
the total's change), largest ``|share|`` first.

Anomalies
---------
The last week of the snapshot's weekly series against the weeks before it
(at least :data:`MIN_HISTORY` = 8, at most 12): an anomaly when the value is
outside ``mean ± k × sd`` of those weeks (``k`` = 2 by default, sample sd);
``z = (value − mean) / sd``.
"""

from __future__ import annotations

import math

import pandas as pd

ADDITIVE = ("leads", "revenue", "spend", "sales", "visits", "mql", "sql_leads")
MOVER_METRICS = ("leads", "revenue", "spend", "sales")
MIN_HISTORY = 8
OTHER = "other"


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def decompose_change(snapshot, key: str) -> pd.DataFrame:
    """The change of ``key``'s total split by channel (module docstring).

    Returns
    -------
    pandas.DataFrame
        ``channel``, ``value``, ``previous``, ``change`` (value − previous),
        ``share_pct`` (change / |total change| × 100; NaN when the total did
        not change); sorted by ``|change|`` descending, the ``other`` row (only
        when not zero) last. ``change`` sums exactly to the total change.

    Raises
    ------
    ValueError
        If ``key`` is not additive or the total is undefined.
    """
    if key not in ADDITIVE:
        raise ValueError(f"{key!r} is not additive; decompose one of {', '.join(ADDITIVE)}")
    total = snapshot.metric(key)
    value, previous = _number(total.get("value")), _number(total.get("previous"))
    if value is None or previous is None:
        raise ValueError(f"{key}: the total or the previous period is undefined")
    rows = []
    for channel in snapshot.channels:
        entry = snapshot.data["channels"][channel].get(key)
        if not entry:
            continue
        v = _number(entry.get("value")) or 0.0
        p = _number(entry.get("previous")) or 0.0
        rows.append({"channel": channel, "value": v, "previous": p, "change": v - p})
    frame = pd.DataFrame(rows, columns=["channel", "value", "previous", "change"])
    delta = value - previous
    other = delta - float(frame["change"].sum())
    frame = frame.reindex(frame["change"].abs().sort_values(ascending=False).index)
    if abs(other) > 1e-9 * max(1.0, abs(delta)):
        rest = {
            "channel": OTHER,
            "value": value - float(frame["value"].sum()),
            "previous": previous - float(frame["previous"].sum()),
            "change": other,
        }
        frame = pd.concat([frame, pd.DataFrame([rest])], ignore_index=True)
    frame = frame.reset_index(drop=True)
    frame["share_pct"] = frame["change"] / abs(delta) * 100.0 if delta else math.nan
    return frame


def movers(snapshot, metrics=MOVER_METRICS, top: int = 5) -> pd.DataFrame:
    """The (metric, channel) pairs that moved most (module docstring).

    Returns
    -------
    pandas.DataFrame
        ``metric``, ``channel``, ``value``, ``previous``, ``change``,
        ``change_pct`` (vs the channel's previous value; NaN from 0) and
        ``share_pct`` (vs the metric's previous total); the ``top`` rows by
        ``|share_pct|``; pairs that did not change are left out.
    """
    rows = []
    for key in metrics:
        total_previous = _number((snapshot.data["metrics"].get(key) or {}).get("previous"))
        if not total_previous:
            continue
        for channel in snapshot.channels:
            entry = snapshot.data["channels"][channel].get(key) or {}
            v, p = _number(entry.get("value")), _number(entry.get("previous"))
            if v is None or p is None or v == p:
                continue
            rows.append(
                {
                    "metric": key,
                    "channel": channel,
                    "value": v,
                    "previous": p,
                    "change": v - p,
                    "change_pct": (v - p) / abs(p) * 100.0 if p else math.nan,
                    "share_pct": (v - p) / abs(total_previous) * 100.0,
                }
            )
    frame = pd.DataFrame(
        rows,
        columns=["metric", "channel", "value", "previous", "change", "change_pct", "share_pct"],
    )
    if frame.empty:
        return frame
    order = frame["share_pct"].abs().sort_values(ascending=False, kind="stable").index
    return frame.loc[order].head(top).reset_index(drop=True)


def anomalies(snapshot, keys=("revenue", "sales", "spend", "leads", "mql", "sql_leads"), k=2.0):
    """The last week of the weekly series against the 8–12 weeks before it.

    Returns
    -------
    pandas.DataFrame
        One row per key with enough history: ``metric``, ``week``,
        ``value``, ``mean``, ``sd``, ``low``, ``high`` (mean ∓ k·sd), ``z``
        and ``anomaly`` (value outside [low, high]); a key with fewer than
        :data:`MIN_HISTORY` earlier weeks is left out.
    """
    weekly = pd.DataFrame.from_records(snapshot.data.get("weekly") or [])
    rows = []
    if weekly.empty:
        return pd.DataFrame(
            columns=["metric", "week", "value", "mean", "sd", "low", "high", "z", "anomaly"]
        )
    last = weekly.iloc[-1]
    history = weekly.iloc[:-1].tail(12)
    for key in keys:
        if key not in weekly or len(history) < MIN_HISTORY:
            continue
        past = history[key].astype(float)
        mean, sd = float(past.mean()), float(past.std(ddof=1))
        value = float(last[key])
        low, high = mean - k * sd, mean + k * sd
        z = (value - mean) / sd if sd > 0 else (0.0 if value == mean else math.inf)
        rows.append(
            {
                "metric": key,
                "week": last.get("week"),
                "value": value,
                "mean": mean,
                "sd": sd,
                "low": low,
                "high": high,
                "z": z,
                "anomaly": bool(value < low or value > high),
            }
        )
    return pd.DataFrame(rows)
