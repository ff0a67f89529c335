"""Quality of lead scores: ranking, calibration, lift and capture.

With ``n`` leads, ``P`` of them positive (reached SQL), base rate ``b = P / n``
and the ``k`` highest-scored leads called "the top":

* ROC-AUC: probability that a random SQL lead scores above a random non-SQL lead;
* PR-AUC: average precision, ``sum_i (R_i - R_{i-1}) * Prec_i`` over thresholds;
* Brier score: ``mean((p - y) ** 2)``; predicting the base rate for everyone
  scores ``b * (1 - b)``, so a useful model is below that;
* precision at a share ``s`` of leads: ``Prec(s) = P_top / k`` with
  ``k = floor(s * n + 1/2)`` (at least 1);
* lift at ``s``: ``Prec(s) / b`` -- how many times richer in SQL the top is
  than the average lead (1 = no better than random);
* capture at ``s``: ``P_top / P`` -- the share of all SQL leads found in the top.

Ties are counted in expectation: if the ``k``-th score is shared by a group of
leads, the slots left in the top are filled with that group's positive rate
(the average over random orderings of the tied leads), so the figures do not
depend on the input order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

TOP_SHARES = (0.1, 0.2, 0.3)
"""Shares of leads at which lift and capture are reported by :func:`evaluate`."""


def _arrays(y_true, p) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"y_true and p must be 1-d of equal length, got {y.shape} and {p.shape}")
    if len(y) == 0:
        raise ValueError("no leads to evaluate")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must be 0/1")
    if np.isnan(p).any():
        raise ValueError("scores contain NaN")
    return y, p


def _top_positives(y: np.ndarray, p: np.ndarray, k: int) -> float:
    """Expected positives among the ``k`` highest scores (ties shared in expectation)."""
    if k <= 0:
        return 0.0
    if k >= len(p):
        return float(y.sum())
    cut = np.sort(p)[::-1][k - 1]
    above = p > cut
    tied = p == cut
    slots = k - int(above.sum())
    return float(y[above].sum() + slots * y[tied].mean())


def _top_size(share: float, n: int) -> int:
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    return max(1, int(np.floor(share * n + 0.5)))


def lift_table(y_true, p, shares=TOP_SHARES) -> pd.DataFrame:
    """Precision, lift and capture of the top ``share`` of leads by score.

    Parameters
    ----------
    y_true : array-like of {0, 1}
        1 if the lead reached SQL.
    p : array-like of float
        Scores (higher = more likely SQL).
    shares : sequence of float
        Shares of leads in the top, each in ``(0, 1]``.

    Returns
    -------
    pandas.DataFrame
        One row per share: ``share``, ``leads`` (``k``), ``sql`` (expected
        positives in the top), ``precision``, ``lift`` and ``capture`` (see
        module doc).
    """
    y, p = _arrays(y_true, p)
    n, positives = len(y), y.sum()
    base = positives / n
    rows = []
    for share in shares:
        k = _top_size(share, n)
        hits = _top_positives(y, p, k)
        precision = hits / k
        rows.append(
            {
                "share": float(share),
                "leads": k,
                "sql": hits,
                "precision": precision,
                "lift": precision / base if base > 0 else np.nan,
                "capture": hits / positives if positives > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows)


def lift_by_decile(y_true, p, groups: int = 10) -> pd.DataFrame:
    """SQL rate and lift in each tenth (by default) of leads ranked by score.

    Group ``g = 1..groups`` holds the leads ranked between the top
    ``(g - 1) / groups`` and ``g / groups`` shares; its SQL count is the
    difference of the expected top positives (:func:`lift_table`), so ties are
    shared the same way.

    Returns
    -------
    pandas.DataFrame
        ``decile`` (1 = highest scores), ``leads``, ``sql``, ``sql_rate``,
        ``lift`` (``sql_rate / base rate``) and ``mean_score``.
    """
    y, p = _arrays(y_true, p)
    n = len(y)
    base = y.mean()
    bounds = [0] + [_top_size(g / groups, n) for g in range(1, groups + 1)]
    hits = [_top_positives(y, p, k) for k in bounds]
    ranked = np.sort(p)[::-1]
    rows = []
    for g in range(groups):
        leads = bounds[g + 1] - bounds[g]
        sql = hits[g + 1] - hits[g]
        rate = sql / leads if leads else np.nan
        rows.append(
            {
                "decile": g + 1,
                "leads": leads,
                "sql": sql,
                "sql_rate": rate,
                "lift": rate / base if base > 0 else np.nan,
                "mean_score": ranked[bounds[g] : bounds[g + 1]].mean() if leads else np.nan,
            }
        )
    return pd.DataFrame(rows)


def calibration_table(y_true, p, n_bins: int = 10, strategy: str = "quantile") -> pd.DataFrame:
    """Mean predicted probability against the observed SQL rate per score bin.

    Parameters
    ----------
    n_bins : int
        Number of bins (fewer if quantile edges coincide).
    strategy : {"quantile", "uniform"}
        Equal numbers of leads per bin, or equal-width bins on ``[0, 1]``.

    Returns
    -------
    pandas.DataFrame
        ``bin`` (0-based), ``leads``, ``mean_predicted``, ``observed_rate``
        (empty bins left out). A calibrated model has the two close in every bin.
    """
    y, p = _arrays(y_true, p)
    if strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    elif strategy == "uniform":
        edges = np.linspace(0, 1, n_bins + 1)
    else:
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    bins = np.clip(np.searchsorted(edges[1:-1], p, side="right"), 0, max(len(edges) - 2, 0))
    frame = pd.DataFrame({"bin": bins, "y": y, "p": p})
    table = frame.groupby("bin").agg(
        leads=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean")
    )
    return table.reset_index()


def evaluate(y_true, p, oracle=None, *, shares=TOP_SHARES, n_bins: int = 10) -> dict:
    """Ranking, calibration and top-share quality of scores on labelled leads.

    Parameters
    ----------
    y_true : array-like of {0, 1}
        1 if the lead reached SQL within the target window.
    p : array-like of float
        Predicted P(SQL).
    oracle : array-like of float, optional
        True P(SQL) of the same leads (demo data: ``truth.lead_truth.p_sql``):
        the best any model could do on these rows.
    shares : sequence of float
        Top shares for lift and capture.
    n_bins : int
        Bins of the calibration table.

    Returns
    -------
    dict
        ``leads``, ``sql``, ``base_rate``, ``roc_auc``, ``pr_auc``, ``brier``,
        ``brier_base_rate`` (``b (1 - b)``), ``lift_at_10``/``capture_at_10``
        (and so on per share, in percent of leads), ``calibration``
        (DataFrame, :func:`calibration_table`) and, with ``oracle``,
        ``oracle_roc_auc``, ``oracle_pr_auc``, ``oracle_brier``.
    """
    y, p = _arrays(y_true, p)
    if len(np.unique(y)) < 2:
        raise ValueError("y_true has one class only: ROC-AUC and PR-AUC are undefined")
    base = float(y.mean())
    out = {
        "leads": int(len(y)),
        "sql": int(y.sum()),
        "base_rate": base,
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "brier_base_rate": base * (1 - base),
    }
    for row in lift_table(y, p, shares).itertuples():
        pct = int(round(row.share * 100))
        out[f"lift_at_{pct}"] = float(row.lift)
        out[f"capture_at_{pct}"] = float(row.capture)
    out["calibration"] = calibration_table(y, p, n_bins=n_bins)
    if oracle is not None:
        _, q = _arrays(y, oracle)
        out["oracle_roc_auc"] = float(roc_auc_score(y, q))
        out["oracle_pr_auc"] = float(average_precision_score(y, q))
        out["oracle_brier"] = float(brier_score_loss(y, q))
    return out


_MEANINGS = {
    "leads": "validation leads",
    "sql": "of them reached SQL",
    "base_rate": "SQL share, b = sql / leads",
    "roc_auc": "P(random SQL lead scores above a random other lead)",
    "pr_auc": "average precision over thresholds",
    "brier": "mean (p - y)^2, lower is better",
    "brier_base_rate": "Brier of predicting b for everyone, b (1 - b)",
    "oracle_roc_auc": "ROC-AUC of the true probabilities (demo data)",
    "oracle_pr_auc": "PR-AUC of the true probabilities (demo data)",
    "oracle_brier": "Brier of the true probabilities (demo data)",
}


def metrics_table(metrics: dict) -> pd.DataFrame:
    """The scalar metrics of :func:`evaluate` as a table with what each one means.

    Returns
    -------
    pandas.DataFrame
        ``metric``, ``value``, ``meaning``; frames and nested values left out.
    """
    rows = []
    for key, value in metrics.items():
        if not np.isscalar(value) or isinstance(value, str):
            continue
        meaning = _MEANINGS.get(key, "")
        if key.startswith("lift_at_"):
            meaning = f"SQL rate of the top {key[8:]}% of leads / b"
        elif key.startswith("capture_at_"):
            meaning = f"share of all SQL found in the top {key[11:]}% of leads"
        rows.append({"metric": key, "value": float(value), "meaning": meaning})
    return pd.DataFrame(rows)
