"""Every attribution model side by side, and how far each is from the causal truth.

Attribution models share out the same conversions by different rules; they are
judged here on *shares*: ``credit share_c = credit_c / sum_d credit_d``. The demo
company knows each channel's true incremental contribution (``truth.channel_effects``,
by counterfactual re-simulation). Single-channel increments are not additive
-- every lead needs the channel that brought it, so removing either of two
channels on a path loses the lead and the increments sum to more than the
total -- so they are compared as shares too:
``true share_c = incremental_c / sum_d incremental_d``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from analytics.attribution.heuristics import (
    DIRECT_CHANNELS,
    first_touch,
    last_non_direct,
    last_touch,
    linear,
    position_based,
    time_decay,
)
from analytics.attribution.markov import MarkovAttribution
from analytics.attribution.path_frames import EncodedPaths, encode_paths
from analytics.attribution.shapley import shapley_credit

MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "position_based",
    "time_decay",
    "markov_1",
    "markov_2",
    "markov_3",
    "shapley",
)
"""Model columns of :func:`compare_models`, in order."""

MODEL_LABELS = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "last_non_direct": "Last non-direct",
    "linear": "Linear",
    "position_based": "Position-based 40/20/40",
    "time_decay": "Time decay",
    "markov_1": "Markov, order 1",
    "markov_2": "Markov, order 2",
    "markov_3": "Markov, order 3",
    "shapley": "Shapley",
}
"""Human names of the models."""


def compare_models(
    paths: pd.DataFrame | EncodedPaths,
    touches: pd.DataFrame | None = None,
    weight: str = "conversions",
    half_life_days: float = 7.0,
    position_shares: tuple[float, float, float] = (0.4, 0.2, 0.4),
    markov_orders: Sequence[int] = (1, 2, 3),
    direct_channels: Sequence[str] = DIRECT_CHANNELS,
) -> pd.DataFrame:
    """Credit by channel under every model.

    Parameters
    ----------
    paths : pandas.DataFrame or EncodedPaths
        Aggregated paths (:attr:`analytics.metrics.journeys.Journeys.paths`).
    touches : pandas.DataFrame, optional
        Long touch table of the same journeys; needed for ``time_decay``
        (the column is left out without it).
    weight : {"conversions", "value"}
        Share out conversions or their value (RUB).
    half_life_days : float, default 7
        Half-life of the time-decay model, days.
    position_shares : tuple of float, default (0.4, 0.2, 0.4)
        First, middle and last shares of the position-based model.
    markov_orders : sequence of int, default (1, 2, 3)
        Markov chain orders to fit (columns ``markov_<k>``).
    direct_channels : sequence of str
        Channels skipped by the last non-direct model.

    Returns
    -------
    pandas.DataFrame
        Index ``channel``, one column per model (:data:`MODELS` order); every
        column sums to the conversions (or value) of the paths. Rows sorted by
        last-touch credit, descending.
    """
    enc = encode_paths(paths)
    columns = [
        first_touch(enc, weight),
        last_touch(enc, weight),
        last_non_direct(enc, weight, direct_channels),
        linear(enc, weight),
        position_based(enc, weight, position_shares),
    ]
    if touches is not None:
        columns.append(time_decay(touches, half_life_days, weight))
    columns += [MarkovAttribution(order=k, weight=weight).fit(enc).credit_ for k in markov_orders]
    columns.append(shapley_credit(enc, weight))
    credit = pd.concat(columns, axis=1).fillna(0.0)
    credit.index.name = "channel"
    order = [m for m in MODELS if m in credit.columns]
    order += [c for c in credit.columns if c not in order]
    return credit[order].sort_values("last_touch", ascending=False, kind="stable")


NATIVE_MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "position_based",
    "markov_1",
    "shapley",
)
"""Default models of :func:`attribute`."""


def attribute(
    paths: pd.DataFrame | EncodedPaths,
    models: Sequence[str] = NATIVE_MODELS,
    path: str = "path",
    conversions: str = "conversions",
    value: str | None = "value",
    nulls: str | None = "nulls",
    sep: str = ">",
    window: str = "grow",
    direct_channels: Sequence[str] = DIRECT_CHANNELS,
    position_shares: tuple[float, float, float] = (0.4, 0.2, 0.4),
) -> pd.DataFrame:
    """Conversions and value credited to every channel by every model, one tidy frame.

    The paths are encoded once and every model reads that encoding; each
    Markov chain is solved once for conversions and value together.

    Parameters
    ----------
    paths : pandas.DataFrame or EncodedPaths
        One row per path; ``path`` holds strings (``"alpha > beta"`` is two
        channels, split on ``sep``) or sequences of channels.
    models : sequence of str
        Rule-based models, ``markov_<k>`` for any order ``k >= 1`` and
        ``shapley`` (simplified Shapley, closed form: a path's amount shared
        equally among its distinct channels, equal to the coalition enumeration
        of :func:`~analytics.attribution.shapley.shapley_credit`).
    path, conversions, value, nulls : str
        Column names; ``value`` and ``nulls`` are optional.
    sep : str, default ">"
        Channel separator of string paths.
    window : {"grow", "full"}
        First states of a Markov walk (:class:`~analytics.attribution.markov.MarkovAttribution`).

    Returns
    -------
    pandas.DataFrame
        ``channel``, ``model``, ``conversions`` and (with value) ``value``;
        models in the order given, channels in order of first appearance.
    """
    from analytics.attribution.uncertainty import point_credit

    enc = encode_paths(paths, path, conversions, value, nulls, sep)
    credit = point_credit(enc, models, window, direct_channels, position_shares)
    frames = []
    for model in models:
        frame = pd.DataFrame(
            {"channel": list(enc.channels), "model": model, "conversions": credit[model][:, 0]}
        )
        if enc.has_value:
            frame["value"] = credit[model][:, 1]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def credit_shares(credit: pd.DataFrame) -> pd.DataFrame:
    """Credit as a share of each model's total, % (``credit_c / sum credit x 100``)."""
    totals = credit.sum(axis=0)
    return credit.div(totals.where(totals != 0, np.nan), axis=1) * 100.0


def share_vs_truth(
    credit: pd.DataFrame, truth_effects: pd.DataFrame, conversion: str
) -> pd.DataFrame:
    """Each model's credit share next to the true incremental share, per channel.

    Parameters
    ----------
    credit : pandas.DataFrame
        :func:`compare_models` output (index channel, one column per model).
    truth_effects : pandas.DataFrame
        ``truth.channel_effects``: ``channel``, ``conversion``, ``incremental``.
    conversion : str
        ``lead``, ``mql``, ``sql``, ``sale`` or ``revenue``.

    Returns
    -------
    pandas.DataFrame
        Long: ``channel``, ``model``, ``credit_share`` and ``true_share`` (% of
        the channels in the truth table; a channel absent from ``credit`` has
        share 0, channels absent from the truth are left out) and
        ``error_pp`` = credit_share - true_share, percentage points.
    """
    truth = truth_effects[truth_effects["conversion"] == conversion]
    if truth.empty:
        raise ValueError(f"no ground truth for conversion {conversion!r}")
    incremental = truth.groupby("channel")["incremental"].sum()
    true_share = incremental / incremental.sum() * 100.0
    aligned = credit.reindex(incremental.index).fillna(0.0)
    shares = credit_shares(aligned).fillna(0.0)
    long = shares.rename_axis(index="channel", columns="model").stack().rename("credit_share")
    out = long.reset_index()
    out["true_share"] = out["channel"].map(true_share)
    out["error_pp"] = out["credit_share"] - out["true_share"]
    return out


def error_vs_truth(
    credit: pd.DataFrame, truth_effects: pd.DataFrame, conversion: str
) -> pd.DataFrame:
    """How far each model's credit shares are from the true incremental shares.

    Parameters
    ----------
    credit : pandas.DataFrame
        :func:`compare_models` output.
    truth_effects : pandas.DataFrame
        ``truth.channel_effects`` of the demo company.
    conversion : str
        Conversion type the credit is for.

    Returns
    -------
    pandas.DataFrame
        One row per model (index ``model``), best first:

        * ``mae_pp`` -- mean over channels of ``|credit share - true share|``,
          percentage points;
        * ``max_error_pp`` -- the largest of those, pp;
        * ``spearman`` -- rank correlation of credit and true shares (NaN if
          either is constant);
        * ``channels`` -- channels compared.
    """
    table = share_vs_truth(credit, truth_effects, conversion)
    rows = []
    for model, group in table.groupby("model", sort=False):
        a, b = group["credit_share"].to_numpy(), group["true_share"].to_numpy()
        rho = spearmanr(a, b).statistic if np.ptp(a) > 0 and np.ptp(b) > 0 else np.nan
        rows.append(
            {
                "model": model,
                "mae_pp": float(np.mean(np.abs(a - b))),
                "max_error_pp": float(np.max(np.abs(a - b))),
                "spearman": float(rho),
                "channels": len(group),
            }
        )
    return pd.DataFrame(rows).set_index("model").sort_values("mae_pp", kind="stable")


def rank_changes(credit: pd.DataFrame, base: str = "last_touch") -> pd.DataFrame:
    """Rank of every channel under every model and its move against ``base``.

    Returns
    -------
    pandas.DataFrame
        Long: ``channel``, ``model``, ``credit``, ``rank`` (1 = most credit,
        ties share the best rank) and ``rank_change`` = rank under ``base`` -
        rank under the model (positive: the model ranks the channel higher).
    """
    ranks = credit.rank(ascending=False, method="min").astype("int64")
    change = ranks.rsub(ranks[base], axis=0)
    long = pd.DataFrame(
        {
            "credit": credit.stack(),
            "rank": ranks.stack(),
            "rank_change": change.stack(),
        }
    )
    long.index.names = ["channel", "model"]
    return long.reset_index()


def romi_by_model(
    sales_credit: pd.DataFrame, revenue_credit: pd.DataFrame, spend: pd.Series
) -> pd.DataFrame:
    """Sales, revenue, CAC and ROMI by channel under every model.

    Parameters
    ----------
    sales_credit, revenue_credit : pandas.DataFrame
        :func:`compare_models` with ``weight="conversions"`` and ``"value"``
        on the same sale journeys.
    spend : pandas.Series
        Spend by channel, RUB, over the same window.

    Returns
    -------
    pandas.DataFrame
        Long: ``channel``, ``model``, ``sales``, ``revenue`` (RUB), ``spend``
        (RUB), ``cac`` = spend / sales (RUB) and ``romi`` = (revenue - spend) /
        spend x 100% (NaN where the denominator is 0). Channels with spend but
        no credit appear with zeros.
    """
    channels = sales_credit.index.union(revenue_credit.index).union(spend.index)
    sales = sales_credit.reindex(channels).fillna(0.0).stack().rename("sales")
    revenue = revenue_credit.reindex(channels).fillna(0.0).stack().rename("revenue")
    out = pd.concat([sales, revenue], axis=1).fillna(0.0)
    out.index.names = ["channel", "model"]
    out = out.reset_index()
    out["spend"] = out["channel"].map(spend).fillna(0.0).astype("float64")
    den = out["spend"].where(out["spend"] != 0, np.nan)
    out["cac"] = out["spend"] / out["sales"].where(out["sales"] != 0, np.nan)
    out["romi"] = (out["revenue"] - out["spend"]) / den * 100.0
    return out


def truth_effects(con) -> pd.DataFrame | None:
    """``truth.channel_effects`` of a demo warehouse, or ``None`` for real data."""
    (found,) = con.execute(
        "SELECT count(*) FROM information_schema.tables"
        " WHERE table_schema = 'truth' AND table_name = 'channel_effects'"
    ).fetchone()
    if not found:
        return None
    return con.execute("SELECT * FROM truth.channel_effects").df()
