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
Every (metric, channel, campaign) row of :data:`MOVER_METRICS` (the
snapshot's ``campaigns``; (metric, channel) pairs for a snapshot without
them), ranked by the size of its change relative to the metric's total in the
previous period: ``share = (value − previous) / previous_total × 100``
(percentage points of the total's change), largest ``|share|`` first.

Anomalies
---------
The last week of the snapshot's weekly series against the weeks before it
(at least :data:`MIN_HISTORY` = 8, at most 12): an anomaly when the value is
outside ``mean ± k × sd`` of those weeks (``k`` = 2 by default, sample sd);
``z = (value − mean) / sd``.

Per campaign (:func:`campaign_anomalies`), on the snapshot's
``campaign_weekly``: each campaign's spend and leads of the last week against
its own 8–12 weeks before, flagged when outside ``mean ± k × sd`` (``k`` = 3:
there are many campaigns, so a wider band keeps chance flags rare) **and**
at least :data:`MIN_RELATIVE` away from the mean (a material change), leads
only for campaigns with at least :data:`MIN_LEADS` a week on average (a
count of 0–2 leads a week is all noise).
"""

from __future__ import annotations

import math

import pandas as pd

ADDITIVE = ("leads", "revenue", "spend", "sales", "visits", "mql", "sql_leads")
MOVER_METRICS = ("leads", "revenue", "spend", "sales")
MIN_HISTORY = 8
OTHER = "other"
MIN_RELATIVE = 0.25
"""A campaign's value must differ from its mean by at least this share to be flagged."""
MIN_LEADS = 3.0
"""Mean weekly leads below which a campaign's leads are not checked."""


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


def _mover_scopes(snapshot, key: str):
    """(channel, campaign or None, entry) of ``key``: campaigns when the snapshot has them."""
    campaigns = snapshot.data.get("campaigns")
    if campaigns:
        for row in campaigns:
            yield row["channel"], row["campaign"], row.get(key) or {}
    else:
        for channel in snapshot.channels:
            yield channel, None, snapshot.data["channels"][channel].get(key) or {}


def movers(snapshot, metrics=MOVER_METRICS, top: int = 5) -> pd.DataFrame:
    """The (metric, channel, campaign) rows that moved most (module docstring).

    Returns
    -------
    pandas.DataFrame
        ``metric``, ``channel``, ``campaign`` (None for a snapshot without
        campaigns), ``value``, ``previous``, ``change``, ``change_pct`` (vs
        the row's previous value; NaN from 0) and ``share_pct`` (vs the
        metric's previous total); the ``top`` rows by ``|share_pct|``; rows
        that did not change are left out.
    """
    rows = []
    for key in metrics:
        total_previous = _number((snapshot.data["metrics"].get(key) or {}).get("previous"))
        if not total_previous:
            continue
        for channel, campaign, entry in _mover_scopes(snapshot, key):
            v, p = _number(entry.get("value")), _number(entry.get("previous"))
            if v is None or p is None or v == p:
                continue
            rows.append(
                {
                    "metric": key,
                    "channel": channel,
                    "campaign": campaign,
                    "value": v,
                    "previous": p,
                    "change": v - p,
                    "change_pct": (v - p) / abs(p) * 100.0 if p else math.nan,
                    "share_pct": (v - p) / abs(total_previous) * 100.0,
                }
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "metric",
            "channel",
            "campaign",
            "value",
            "previous",
            "change",
            "change_pct",
            "share_pct",
        ],
    )
    if frame.empty:
        return frame
    order = frame["share_pct"].abs().sort_values(ascending=False, kind="stable").index
    return frame.loc[order].head(top).reset_index(drop=True)


def normal_range(past: pd.Series, value: float, k: float) -> dict:
    """``value`` against the range of ``past`` weeks: ``mean``, ``sd`` (sample, ddof 1),
    ``low``/``high`` = mean ∓ k·sd, ``z`` = (value − mean) / sd (0 when equal to a
    constant past, ±inf when off it) and ``anomaly`` = value outside [low, high]."""
    past = past.astype(float)
    mean, sd = float(past.mean()), float(past.std(ddof=1))
    low, high = mean - k * sd, mean + k * sd
    z = (value - mean) / sd if sd > 0 else (0.0 if value == mean else math.inf)
    return {
        "value": value,
        "mean": mean,
        "sd": sd,
        "low": low,
        "high": high,
        "z": z,
        "anomaly": bool(value < low or value > high),
    }


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
        stats = normal_range(history[key], float(last[key]), k)
        rows.append({"metric": key, "week": last.get("week"), **stats})
    return pd.DataFrame(rows)


CAMPAIGN_ANOMALY_COLUMNS = [
    "channel",
    "campaign",
    "metric",
    "week",
    "value",
    "mean",
    "sd",
    "low",
    "high",
    "z",
    "anomaly",
]


def campaign_anomalies(
    snapshot, keys=("spend", "leads"), k: float = 3.0, min_relative: float = MIN_RELATIVE
) -> pd.DataFrame:
    """Each campaign's last week against its own 8–12 weeks before (module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per campaign × key with enough history (and, for leads, at
        least :data:`MIN_LEADS` a week): ``channel``, ``campaign``,
        ``metric``, ``week``, ``value``, ``mean``, ``sd``, ``low``, ``high``
        (mean ∓ k·sd), ``z`` and ``anomaly`` (outside [low, high] and
        ``|value − mean| ≥ min_relative × mean``); flagged rows first, by
        ``|z|``. Empty for a snapshot without ``campaign_weekly``.
    """
    weekly = pd.DataFrame.from_records(snapshot.data.get("campaign_weekly") or [])
    if weekly.empty:
        return pd.DataFrame(columns=CAMPAIGN_ANOMALY_COLUMNS)
    last_week = max(weekly["week_start"])
    rows = []
    for (channel, campaign), group in weekly.groupby(["channel", "campaign"], sort=True):
        group = group.sort_values("week_start")
        last = group[group["week_start"] == last_week]
        history = group[group["week_start"] < last_week].tail(12)
        if last.empty or len(history) < MIN_HISTORY:
            continue
        for key in keys:
            stats = normal_range(history[key], float(last[key].iloc[0]), k)
            mean, value = stats["mean"], stats["value"]
            if key == "leads" and mean < MIN_LEADS:
                continue
            material = abs(value - mean) >= min_relative * abs(mean) and value != mean
            stats["anomaly"] = stats["anomaly"] and material
            row = {"channel": channel, "campaign": campaign, "metric": key}
            rows.append({**row, "week": last["week"].iloc[0], **stats})
    frame = pd.DataFrame(rows, columns=CAMPAIGN_ANOMALY_COLUMNS)
    if frame.empty:
        return frame
    order = frame.assign(_flag=~frame["anomaly"], _z=-frame["z"].abs())
    order = order.sort_values(["_flag", "_z"], kind="stable").index
    return frame.loc[order].reset_index(drop=True)
