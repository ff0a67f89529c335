"""Rule-based attribution: first, last, last non-direct, linear, position-based, time decay.

Every model shares out the conversions (``weight="conversions"``) or their value
(``weight="value"``, RUB) of the converting journeys among the channels of
their paths, so for every model

    sum over channels of credit_c = sum over paths of conversions_p (or value_p).

Non-converting journeys never get credit. Each function returns a Series
indexed by ``channel`` listing every channel seen on a path (zero included).
For a path ``c_1 > ... > c_n`` with amount ``w`` the share of touch ``i`` is:

* first touch: ``w`` to ``c_1``; last touch: ``w`` to ``c_n``;
* last non-direct: ``w`` to the last touch whose channel is not direct
  (:data:`DIRECT_CHANNELS`); to ``c_n`` if every touch is direct;
* linear: ``w / n`` to every touch;
* position-based (U-shaped) with shares ``(f, m, l)``, default 40/20/40:
  ``f`` to the first touch, ``l`` to the last, ``m / (n - 2)`` to each middle
  touch; a one-touch path gives 100% to its touch and a two-touch path
  ``f / (f + l)`` and ``l / (f + l)`` (50/50 by default);
* time decay with half-life ``h`` days: touch ``i`` made ``d_i`` days before the
  conversion has weight ``2 ** (-d_i / h)``, normalised within the journey,
  ``w * 2 ** (-d_i / h) / sum_j 2 ** (-d_j / h)``. It needs touch timestamps,
  so it reads the long touch table, not aggregated paths.

A channel repeated on a path gets the sum of its touches' shares.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analytics.attribution.path_frames import EncodedPaths, encode_paths

DIRECT_CHANNELS = ("direct", "(direct)", "(none)")
"""Channel names treated as direct traffic by :func:`last_non_direct`."""

WEIGHTS = ("conversions", "value")
"""What a model shares out: conversion counts or their value (RUB)."""


def touch_shares(
    enc: EncodedPaths,
    model: str,
    direct_channels: Sequence[str] = DIRECT_CHANNELS,
    shares: tuple[float, float, float] = (0.4, 0.2, 0.4),
) -> np.ndarray:
    """Share of its path's amount that every touch gets under a rule-based model.

    Credit is linear in the per-path amounts ``w``:
    ``credit_c = sum over touches t of channel c of w[path(t)] x share[t]``, which is
    what makes a bootstrap of these models a matrix product.

    Parameters
    ----------
    model : {"first_touch", "last_touch", "last_non_direct", "linear", "position_based"}

    Returns
    -------
    numpy.ndarray
        One share per touch; the shares of a path sum to 1.
    """
    share = np.zeros(len(enc.codes))
    if model == "first_touch":
        share[enc.offsets[:-1]] = 1.0
    elif model == "last_touch":
        share[enc.offsets[1:] - 1] = 1.0
    elif model == "linear":
        share = np.repeat(1.0 / np.maximum(enc.lengths, 1), enc.lengths)
    elif model == "last_non_direct":
        if enc.n_paths:
            direct = [
                code for code, name in enumerate(enc.channels) if name in set(direct_channels)
            ]
            index = np.arange(len(enc.codes))
            candidate = np.where(np.isin(enc.codes, direct), -1, index)
            chosen = np.maximum.reduceat(candidate, enc.offsets[:-1])
            all_direct = chosen < enc.offsets[:-1]
            chosen[all_direct] = enc.offsets[1:][all_direct] - 1
            share[chosen] = 1.0
    elif model == "position_based":
        first, middle, last = (float(s) for s in shares)
        if min(first, middle, last) < 0 or not np.isclose(first + middle + last, 1.0):
            raise ValueError(f"shares must be non-negative and sum to 1, got {shares}")
        if first + last == 0:
            raise ValueError("first and last shares cannot both be 0")
        n = np.repeat(enc.lengths, enc.lengths)
        pos = enc.position
        share = np.where(n > 2, middle / np.maximum(n - 2, 1), 0.0)
        share = np.where(pos == 0, np.where(n == 2, first / (first + last), first), share)
        share = np.where(
            (pos == n - 1) & (n > 1), np.where(n == 2, last / (first + last), last), share
        )
        share = np.where(n == 1, 1.0, share)
    else:
        raise ValueError(f"unknown rule-based model {model!r}")
    return share


def first_touch(paths: pd.DataFrame | EncodedPaths, weight: str = "conversions") -> pd.Series:
    """First-touch credit: every conversion to the first channel of its path.

    Returns
    -------
    pandas.Series
        Credit by channel, named ``first_touch``.
    """
    enc = encode_paths(paths)
    touch = np.zeros(len(enc.codes))
    touch[enc.offsets[:-1]] = enc.weight(weight)
    return enc.channel_sum(touch).rename("first_touch")


def last_touch(paths: pd.DataFrame | EncodedPaths, weight: str = "conversions") -> pd.Series:
    """Last-touch credit: every conversion to the last channel of its path.

    Returns
    -------
    pandas.Series
        Credit by channel, named ``last_touch``.
    """
    enc = encode_paths(paths)
    touch = np.zeros(len(enc.codes))
    touch[enc.offsets[1:] - 1] = enc.weight(weight)
    return enc.channel_sum(touch).rename("last_touch")


def last_non_direct(
    paths: pd.DataFrame | EncodedPaths,
    weight: str = "conversions",
    direct_channels: Sequence[str] = DIRECT_CHANNELS,
) -> pd.Series:
    """Last non-direct credit: to the last touch that is not direct traffic.

    Direct touches are skipped when anything else is on the path; an all-direct
    path credits direct.

    Parameters
    ----------
    direct_channels : sequence of str
        Channel names that count as direct (default :data:`DIRECT_CHANNELS`).

    Returns
    -------
    pandas.Series
        Credit by channel, named ``last_non_direct``.
    """
    enc = encode_paths(paths)
    touch = np.zeros(len(enc.codes))
    if enc.n_paths:
        direct = [code for code, name in enumerate(enc.channels) if name in set(direct_channels)]
        index = np.arange(len(enc.codes))
        candidate = np.where(np.isin(enc.codes, direct), -1, index)
        chosen = np.maximum.reduceat(candidate, enc.offsets[:-1])
        all_direct = chosen < enc.offsets[:-1]
        chosen[all_direct] = enc.offsets[1:][all_direct] - 1
        np.add.at(touch, chosen, enc.weight(weight))
    return enc.channel_sum(touch).rename("last_non_direct")


def linear(paths: pd.DataFrame | EncodedPaths, weight: str = "conversions") -> pd.Series:
    """Linear credit: ``w / n`` to each of the ``n`` touches of a path.

    Returns
    -------
    pandas.Series
        Credit by channel, named ``linear``.
    """
    enc = encode_paths(paths)
    per_touch = enc.weight(weight) / np.maximum(enc.lengths, 1)
    return enc.channel_sum(np.repeat(per_touch, enc.lengths)).rename("linear")


def position_based(
    paths: pd.DataFrame | EncodedPaths,
    weight: str = "conversions",
    shares: tuple[float, float, float] = (0.4, 0.2, 0.4),
) -> pd.Series:
    """Position-based (U-shaped) credit.

    Parameters
    ----------
    shares : tuple of float, default (0.4, 0.2, 0.4)
        ``(first, middle, last)`` shares of a path with three or more touches,
        non-negative, summing to 1. The middle share is split equally among
        the middle touches; a one-touch path gives its touch 100%, a two-touch
        path ``first / (first + last)`` and ``last / (first + last)``.

    Returns
    -------
    pandas.Series
        Credit by channel, named ``position_based``.
    """
    first, middle, last = (float(s) for s in shares)
    if min(first, middle, last) < 0 or not np.isclose(first + middle + last, 1.0):
        raise ValueError(f"shares must be non-negative and sum to 1, got {shares}")
    if first + last == 0:
        raise ValueError("first and last shares cannot both be 0")
    enc = encode_paths(paths)
    n = np.repeat(enc.lengths, enc.lengths)
    pos = enc.position
    share = np.where(n > 2, middle / np.maximum(n - 2, 1), 0.0)
    share = np.where(pos == 0, np.where(n == 2, first / (first + last), first), share)
    share = np.where((pos == n - 1) & (n > 1), np.where(n == 2, last / (first + last), last), share)
    share = np.where(n == 1, 1.0, share)
    touch = share * np.repeat(enc.weight(weight), enc.lengths)
    return enc.channel_sum(touch).rename("position_based")


def time_decay(
    touches: pd.DataFrame,
    half_life_days: float = 7.0,
    weight: str = "conversions",
) -> pd.Series:
    """Time-decay credit from touch timestamps.

    Touch ``i`` of a converting journey, made ``d_i`` days before the conversion,
    gets ``w * 2 ** (-d_i / h) / sum_j 2 ** (-d_j / h)``: a touch ``h`` days older
    than another gets half its credit.

    Parameters
    ----------
    touches : pandas.DataFrame
        Long touch table (:attr:`analytics.metrics.journeys.Journeys.touches`) with
        ``journey_id``, ``channel``, ``days_before``, ``converted`` and ``value``.
    half_life_days : float, default 7
        Half-life ``h``, days (> 0).
    weight : {"conversions", "value"}
        Share out conversion counts (1 per converting journey) or ``value``.

    Returns
    -------
    pandas.Series
        Credit by channel (every channel of ``touches``), named ``time_decay``.
    """
    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be > 0, got {half_life_days}")
    if weight not in WEIGHTS:
        raise ValueError(f"weight must be 'conversions' or 'value', got {weight!r}")
    codes, channels = pd.factorize(touches["channel"], sort=True)
    journey, _ = pd.factorize(touches["journey_id"])
    converted = touches["converted"].to_numpy(dtype=bool)
    amount = touches["value"].to_numpy(dtype=np.float64) if weight == "value" else 1.0
    amount = np.where(converted, amount, 0.0)
    days = touches["days_before"].to_numpy(dtype=np.float64)
    # shift by the journey's most recent touch so that long lookbacks do not underflow
    newest = np.full(journey.max() + 1 if len(journey) else 0, np.inf)
    np.minimum.at(newest, journey, days)
    decay = np.exp2(-(days - newest[journey]) / half_life_days)
    total = np.bincount(journey, weights=decay)
    touch = amount * decay / total[journey]
    credit = np.bincount(codes, weights=touch, minlength=len(channels))
    index = pd.Index(list(channels), name="channel")
    return pd.Series(credit, index=index, dtype="float64", name="time_decay")


def direct_assisted(
    paths: pd.DataFrame | EncodedPaths, weight: str = "conversions"
) -> pd.DataFrame:
    """Last-touch (direct) and assisted conversions per channel.

    A conversion is a *last-touch* conversion of the channel of its last touch
    and an *assisted* conversion of every channel that appears on its path
    before the last touch (counted once per conversion however often the
    channel repeats; a channel that is both last and earlier on the path counts
    in both, as in Google Analytics' multi-channel funnels).

    Returns
    -------
    pandas.DataFrame
        Index ``channel``; columns ``last_touch`` (conversions or value where
        the channel was last), ``assisted`` (where it appeared earlier),
        ``any_touch`` (where it appeared at all) and ``assist_ratio`` =
        assisted / last_touch (NaN for no last-touch conversions).
    """
    enc = encode_paths(paths)
    w = enc.weight(weight)
    n_ch = enc.n_channels
    path = enc.path_of_touch
    is_last = np.zeros(len(enc.codes), dtype=bool)
    is_last[enc.offsets[1:] - 1] = True

    def once_per_path(mask: np.ndarray) -> np.ndarray:
        pairs = np.unique(path[mask] * n_ch + enc.codes[mask])
        return np.bincount(pairs % n_ch, weights=w[pairs // n_ch], minlength=n_ch)

    last = np.bincount(enc.codes[is_last], weights=w, minlength=n_ch)
    assisted = once_per_path(~is_last)
    anywhere = once_per_path(np.ones(len(enc.codes), dtype=bool))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(last > 0, assisted / np.where(last > 0, last, 1), np.nan)
    return pd.DataFrame(
        {"last_touch": last, "assisted": assisted, "any_touch": anywhere, "assist_ratio": ratio},
        index=pd.Index(enc.channels, name="channel"),
    )
