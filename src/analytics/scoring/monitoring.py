"""Is the saved model still right? Drift of scores and features, calibration of old scores.

Population stability index
--------------------------
Bins from the training window (deciles of a numeric value; each category its
own bin, plus one for values not seen in training), shares ``e_i`` in the
training window and ``a_i`` in the recent leads, each floored at ``1e-4``:

``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)``.

Rules of thumb: below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a
large shift (:data:`PSI_MODERATE`, :data:`PSI_LARGE`).

Calibration of old scores
-------------------------
Scores written ``age_days`` (30) or more ago are compared with what happened
since: ``mean(score)`` against the observed conversion rate of the same leads
(:func:`analytics.scoring.features.sql_target`), overall and per score decile.

Recommendation
--------------
Retrain when the score PSI is large, when any of the three most important
features drifted by a large PSI, or when the old scores miss the observed rate
by more than ``max(0.02, 0.25 * observed)`` (absolute).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PSI_MODERATE = 0.1
PSI_LARGE = 0.25
_FLOOR = 1e-4


def psi(expected, actual, *, bins: int = 10, categorical: bool = False) -> float:
    """Population stability index of ``actual`` against ``expected`` (see module doc).

    Parameters
    ----------
    expected, actual : array-like
        Values in the reference (training) window and in the recent window.
    bins : int
        Quantile bins of a numeric value (fewer when quantiles coincide).
    categorical : bool
        Treat values as categories (missing values are a category of their own).
    """
    expected = pd.Series(np.asarray(expected, dtype=object if categorical else float))
    actual = pd.Series(np.asarray(actual, dtype=object if categorical else float))
    if expected.empty or actual.empty:
        raise ValueError("PSI needs values in both windows")
    if categorical:
        e = expected.fillna("(missing)").astype(str)
        a = actual.fillna("(missing)").astype(str)
        labels = sorted(set(e.unique()))  # not set(e): one Python str per row
        a = a.where(a.isin(labels), "(unseen)")
        labels = labels + ["(unseen)"]
        e_share = e.value_counts(normalize=True).reindex(labels, fill_value=0).to_numpy()
        a_share = a.value_counts(normalize=True).reindex(labels, fill_value=0).to_numpy()
    else:
        e_values = expected.to_numpy(dtype=float)
        a_values = actual.to_numpy(dtype=float)
        filled = e_values[~np.isnan(e_values)]
        edges = (
            np.unique(np.quantile(filled, np.linspace(0, 1, bins + 1)[1:-1]))
            if len(filled)
            else np.array([])
        )

        def shares(values):
            missing = np.isnan(values)
            index = np.searchsorted(edges, values[~missing], side="right")
            counts = np.bincount(index, minlength=len(edges) + 1).astype(float)
            return np.append(counts, missing.sum()) / len(values)

        e_share, a_share = shares(e_values), shares(a_values)
    e_share = np.maximum(e_share, _FLOOR)
    a_share = np.maximum(a_share, _FLOOR)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def drift_table(model, reference: pd.DataFrame, recent: pd.DataFrame) -> pd.DataFrame:
    """PSI of the score and of every model feature, recent leads against the training window.

    Parameters
    ----------
    model : LeadScoringModel
        Fitted model.
    reference, recent : pandas.DataFrame
        Leads of the training window and recent leads (the model's feature columns).

    Returns
    -------
    pandas.DataFrame
        ``what`` (``score`` or a feature), ``psi``, ``shift`` (``stable``,
        ``moderate``, ``large``), ``importance`` (mean |contribution|; NaN for the
        score), largest PSI first after the score row.
    """
    from threadpoolctl import threadpool_limits

    importance = model.global_importance()
    # scikit-learn's tree prediction runs one OpenMP region per tree (hundreds); with a
    # second thread those regions cost 2x the CPU on a busy machine (waiting threads
    # spin) for the same scores (each lead is predicted alone): 2.7 -> 1.2 CPU-s at 10M
    with threadpool_limits(limits=1, user_api="openmp"):
        expected, actual = model.predict_proba(reference), model.predict_proba(recent)
    rows = [{"what": "score", "psi": psi(expected[:, 1], actual[:, 1]), "importance": np.nan}]
    for name in model.features_:
        rows.append(
            {
                "what": name,
                "psi": psi(
                    reference[name],
                    recent[name],
                    categorical=name in model.categorical_features_,
                ),
                "importance": float(importance[name]),
            }
        )
    table = pd.DataFrame(rows)
    table["shift"] = np.select(
        [table["psi"] >= PSI_LARGE, table["psi"] >= PSI_MODERATE], ["large", "moderate"], "stable"
    )
    head, rest = table.iloc[:1], table.iloc[1:].sort_values("psi", ascending=False)
    return pd.concat([head, rest], ignore_index=True)[["what", "psi", "shift", "importance"]]


def old_score_calibration(scores: pd.DataFrame, outcomes: pd.Series) -> dict:
    """How scores given earlier compare with what happened to the same leads.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``lead_id`` and ``score`` (P(convert)) of scores given at least a target
        window ago (e.g. rows of ``lead_score_history``).
    outcomes : pandas.Series
        0/1 by lead id for leads whose window is complete.

    Returns
    -------
    dict
        ``leads``, ``mean_score``, ``observed_rate``, ``gap`` (observed - mean
        score) and ``by_decile`` (DataFrame: ``decile``, ``leads``,
        ``mean_score``, ``observed_rate``); ``leads = 0`` and NaNs when no
        scored lead has an outcome yet.
    """
    joined = scores[["lead_id", "score"]].merge(
        outcomes.rename("outcome"), left_on="lead_id", right_index=True
    )
    if joined.empty:
        return {
            "leads": 0,
            "mean_score": np.nan,
            "observed_rate": np.nan,
            "gap": np.nan,
            "by_decile": pd.DataFrame(columns=["decile", "leads", "mean_score", "observed_rate"]),
        }
    ranks = joined["score"].rank(method="first", ascending=False)
    joined["decile"] = np.ceil(10 * ranks / len(joined)).astype(int)
    by_decile = (
        joined.groupby("decile")
        .agg(
            leads=("score", "size"), mean_score=("score", "mean"), observed_rate=("outcome", "mean")
        )
        .reset_index()
    )
    mean_score, observed = float(joined["score"].mean()), float(joined["outcome"].mean())
    return {
        "leads": int(len(joined)),
        "mean_score": mean_score,
        "observed_rate": observed,
        "gap": observed - mean_score,
        "by_decile": by_decile,
    }


def retraining_recommendation(drift: pd.DataFrame, calibration: dict | None = None) -> dict:
    """Whether to retrain, and why, from :func:`drift_table` and :func:`old_score_calibration`.

    Returns
    -------
    dict
        ``retrain`` (bool) and ``reasons`` (list of plain sentences; empty when
        the model is fine).
    """
    reasons = []
    score = drift[drift["what"] == "score"]
    if not score.empty and score["psi"].iloc[0] >= PSI_LARGE:
        reasons.append(f"score distribution shifted (PSI {score['psi'].iloc[0]:.2f})")
    features = drift[drift["what"] != "score"].sort_values("importance", ascending=False).head(3)
    for row in features.itertuples():
        if row.psi >= PSI_LARGE:
            reasons.append(f"important feature {row.what} shifted (PSI {row.psi:.2f})")
    if calibration and calibration.get("leads", 0) > 0:
        gap, observed = calibration["gap"], calibration["observed_rate"]
        if abs(gap) > max(0.02, 0.25 * observed):
            reasons.append(
                f"scores given a month ago averaged {calibration['mean_score']:.3f}, "
                f"but {observed:.3f} of those leads converted"
            )
    return {"retrain": bool(reasons), "reasons": reasons}
