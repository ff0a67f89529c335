"""Budget what-if: move part of one channel's spend to another and see what it buys.

The response model
------------------
Over the period channel ``c`` spent ``s_c`` (RUB) and was credited ``y_c``
conversions (or revenue) by an attribution model. Its conversions are assumed
to respond to spend along a power curve through that point,

    y_c(s) = y_c x (s / s_c) ** beta,      0 < beta <= 1,

so the marginal conversions per RUB at the current spend are
``beta x y_c / s_c`` and the *marginal cost per conversion* is
``s_c / (beta x y_c)``. ``beta = 1`` is a linear response (marginal cost =
average cost per conversion); ``beta < 1`` is diminishing returns (``0.5`` --
a square-root curve -- is a common media-mix prior). Moving a share ``x`` of
``s_A`` to ``B`` changes conversions by

    dY = y_A ((1 - x) ** beta - 1) + y_B ((1 + x s_A / s_B) ** beta - 1).

Revenue uses the value credit the same way. With no target (``target=None``)
the money is simply cut, and cutting all of it (``x = 1``) loses exactly
``y_A`` whatever ``beta`` is -- the channel's attributed credit.

Assumptions (the caveats to put next to the number): attribution credit is
read as the causal contribution of the channel's spend over the period;
channels respond independently (no cross-channel halo); the curve's shape is
``beta`` (not estimated from one period); spend and conversions are in the
same window. The interval comes from the bootstrap replicates of the credit
(:mod:`.uncertainty`), i.e. sampling noise of the journeys only -- not the
uncertainty of ``beta`` or of the model choice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MEASURES = ("conversions", "value")
"""Credit columns a what-if reads: conversions and their value (revenue, RUB)."""


def _response(y: np.ndarray, ratio: float, beta: float) -> np.ndarray:
    """Change of ``y`` when spend is multiplied by ``ratio`` on the power curve."""
    return y * (ratio**beta - 1.0)


def budget_shift(
    credit: pd.DataFrame,
    spend: pd.Series,
    source: str,
    target: str | None,
    share: float,
    elasticity: float = 1.0,
    replicates: np.ndarray | None = None,
    ci: float = 0.9,
) -> pd.DataFrame:
    """Expected change in conversions and revenue from moving ``share`` of ``source``'s spend.

    Parameters
    ----------
    credit : pandas.DataFrame
        Index channel; columns ``conversions`` and (optional) ``value``: one
        model's credit over the period (e.g. a Markov chain's
        :attr:`~analytics.attribution.markov.MarkovAttribution.attribution_`
        indexed by channel).
    spend : pandas.Series
        Spend by channel over the same period, RUB.
    source, target : str
        Channel that gives the money and the one that gets it (``None``: the
        money is cut).
    share : float
        Share of ``source``'s spend moved, in (0, 1].
    elasticity : float, default 1
        ``beta`` of the response curve, in (0, 1].
    replicates : numpy.ndarray, optional
        Bootstrap replicates of the credit, shape ``(B, n_channels, m)``,
        channels in ``credit.index`` order and measures in ``credit.columns``
        order (:func:`~analytics.attribution.uncertainty.credit_replicates`).
    ci : float, default 0.9
        Interval level.

    Returns
    -------
    pandas.DataFrame
        One row per measure: ``measure``, ``spend_moved`` (RUB), ``change``
        (conversions or RUB), ``lower``, ``upper`` (NaN without replicates),
        ``source_change``, ``target_change``.

    Raises
    ------
    ValueError
        On an unknown channel, a channel without spend, ``share`` or
        ``elasticity`` out of range.
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    if not 0 < elasticity <= 1:
        raise ValueError(f"elasticity must be in (0, 1], got {elasticity}")
    for name in (source, target):
        if name is None:
            continue
        if name not in credit.index:
            raise ValueError(f"channel {name!r} has no credit; channels: {list(credit.index)}")
        if not spend.get(name, 0) > 0:
            raise ValueError(f"channel {name!r} has no spend in the period: no cost curve")
    moved = share * float(spend[source])
    a = credit.index.get_loc(source)
    b = None if target is None else credit.index.get_loc(target)
    ratio_b = None if target is None else 1.0 + moved / float(spend[target])

    def change(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out_a = _response(values[..., a, :], 1.0 - share, elasticity)
        out_b = 0.0 * out_a if b is None else _response(values[..., b, :], ratio_b, elasticity)
        return out_a, out_b

    measures = [m for m in MEASURES if m in credit.columns]
    point = credit[measures].to_numpy(dtype=np.float64)
    src, dst = change(point)
    lower = upper = np.full(len(measures), np.nan)
    if replicates is not None:
        r_src, r_dst = change(np.asarray(replicates)[..., : len(measures)])
        lower, upper = np.quantile(r_src + r_dst, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    return pd.DataFrame(
        {
            "measure": measures,
            "spend_moved": moved,
            "change": src + dst,
            "lower": lower,
            "upper": upper,
            "source_change": src,
            "target_change": dst,
        }
    )


def marginal_costs(credit: pd.DataFrame, spend: pd.Series, elasticity: float = 1.0) -> pd.DataFrame:
    """Average and marginal cost per conversion by channel, RUB.

    ``cost_per_conversion = s_c / y_c``; ``marginal_cost = s_c / (beta y_c)``
    (the cost of one more conversion on the power curve); ``marginal_roas`` =
    marginal revenue per RUB = ``beta value_c / s_c``. NaN where there is no
    spend or no credit.
    """
    s = spend.reindex(credit.index).astype("float64")
    s = s.where(s > 0)
    y = credit["conversions"].where(credit["conversions"] > 0)
    out = pd.DataFrame(
        {
            "spend": s,
            "conversions": credit["conversions"],
            "cost_per_conversion": s / y,
            "marginal_cost": s / (elasticity * y),
        }
    )
    if "value" in credit.columns:
        out["marginal_roas"] = elasticity * credit["value"] / s
    return out


def shift_error_vs_truth(
    credit: pd.DataFrame,
    spend: pd.Series,
    truth_effects: pd.DataFrame,
    conversion: str,
    share: float = 1.0,
    elasticity: float = 1.0,
) -> pd.DataFrame:
    """What-if predictions against the demo generator's true increments.

    The generator knows ``incremental_c`` -- conversions lost when channel
    ``c`` is removed entirely (``truth.channel_effects``). Scaled to the
    conversions being attributed (``true_c = incremental_c / factual x
    sum credit``), they are the truth the what-if is scored on:

    * ``cut`` rows (``target`` empty): cut ``share`` of the source's spend;
      with ``share = 1`` the truth is exactly ``-true_A`` and the prediction
      ``-y_A`` for any ``beta``;
    * pair rows: move ``share`` of A's spend to B; the truth-implied change
      puts ``true_A``, ``true_B`` through the same response curve (the
      generator has no partial-spend truth, so the curve's shape is shared;
      the error isolates the attribution).

    Returns
    -------
    pandas.DataFrame
        ``source``, ``target`` (None for cuts), ``predicted``, ``truth``,
        ``error`` = predicted - truth and ``error_pct_of_total`` (error as %
        of all attributed conversions), for every paid channel and ordered
        pair of paid channels.
    """
    truth = truth_effects[truth_effects["conversion"] == conversion]
    if truth.empty:
        raise ValueError(f"no ground truth for conversion {conversion!r}")
    measure = "value" if conversion == "revenue" else "conversions"
    total = float(credit[measure].sum())
    factual = float(truth["factual"].iloc[0])
    true = truth.groupby("channel")["incremental"].sum() / factual * total
    true_credit = pd.DataFrame({measure: true.reindex(credit.index).fillna(0.0)})
    paid = [c for c in credit.index if spend.get(c, 0) > 0]
    pairs = [(a, None) for a in paid] + [(a, b) for a in paid for b in paid if a != b]
    rows = []
    for a, b in pairs:
        model = budget_shift(credit[[measure]], spend, a, b, share, elasticity)
        real = budget_shift(true_credit, spend, a, b, share, elasticity)
        rows.append(
            {
                "source": a,
                "target": b,
                "predicted": float(model["change"].iloc[0]),
                "truth": float(real["change"].iloc[0]),
            }
        )
    out = pd.DataFrame(rows)
    out["error"] = out["predicted"] - out["truth"]
    out["error_pct_of_total"] = out["error"] / total * 100.0 if total else np.nan
    return out
