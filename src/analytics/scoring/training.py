"""Train, validate, save and apply the lead-scoring model on a warehouse.

Training: features of every lead (:func:`lead_features`), the SQL target of
leads with a complete window (:func:`sql_target`), a time split (earlier 75%
train, later 25% validate), validation metrics (with the oracle AUC when the
demo ground truth ``truth.lead_truth`` is present), then a refit on every
labelled lead so the saved model has seen the newest behaviour.

Scoring: every lead in ``leads`` gets a calibrated P(SQL), the model version,
the time of scoring (UTC) and its top three reasons, written to table
``lead_scores`` (replaced on each run).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

from analytics import warehouse
from analytics.scoring.evaluation import evaluate
from analytics.scoring.features import TIME_COLUMN, data_end, lead_features, sql_target, time_split
from analytics.scoring.model import LeadScoringModel
from analytics.scoring.persistence import card_path, load_model, save_model

LEAD_SCORES_DDL = """
CREATE OR REPLACE TABLE main.lead_scores (
  lead_id VARCHAR,
  score DOUBLE,
  model_version VARCHAR,
  scored_at TIMESTAMP,
  top_reasons VARCHAR
)"""
"""Table ``lead_scores``: one row per lead, P(SQL) in ``score``, reasons as text."""

SCORE_COLUMNS = ("lead_id", "score", "model_version", "scored_at", "top_reasons")
"""Columns of ``lead_scores``, in order."""

UNSAVED_VERSION = "unsaved"


def oracle_probabilities(con, lead_ids) -> pd.Series | None:
    """True P(SQL) of the given leads from ``truth.lead_truth`` (demo data), else None."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'truth' AND table_name = 'lead_truth'"
    ).fetchone()[0]
    if not exists:
        return None
    truth = con.execute("SELECT lead_id, p_sql FROM truth.lead_truth").df()
    series = truth.set_index("lead_id")["p_sql"].reindex(pd.Index(lead_ids))
    return None if series.isna().any() else series.astype(float)


def _window(frame: pd.DataFrame) -> dict:
    created = frame[TIME_COLUMN]
    return {"leads": len(frame), "start": created.min(), "end": created.max()}


def train(
    con,
    kind: str = "boosting",
    window_days: float = 30,
    *,
    calibration: str = "sigmoid",
    valid_share: float = 0.25,
    refit: bool = True,
    **params,
) -> tuple[LeadScoringModel, dict]:
    """Fit on earlier leads, validate on later ones, refit on all labelled leads.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection (read-only is enough).
    kind : {"boosting", "logistic"}
        Model kind (:class:`LeadScoringModel`).
    window_days : float
        SQL target window, days from lead creation (:func:`sql_target`).
    calibration : {"sigmoid", "isotonic"}
        Probability calibration.
    valid_share : float
        Share of the latest labelled leads held out for validation.
    refit : bool
        Refit on train + validation leads after measuring (default). With
        False the returned model is the one the metrics were measured on.
    **params
        Other :class:`LeadScoringModel` parameters.

    Returns
    -------
    model : LeadScoringModel
    metrics : dict
        :func:`evaluate` on the validation leads (``oracle_*`` on demo data)
        plus ``holdout`` (DataFrame by ``lead_id``: ``created_at``, ``sql``,
        ``score`` of the model fitted on the training leads, ``oracle_p_sql``
        or NaN), ``training_window`` (train, validation and fitted lead counts
        and date ranges, ``data_end``, leads excluded for an incomplete window)
        and ``window_days``.
    """
    features = lead_features(con)
    target = sql_target(con, window_days)
    X_train, X_valid, y_train, y_valid = time_split(features, target, valid_share)
    model = LeadScoringModel(kind=kind, calibration=calibration, **params).fit(X_train, y_train)
    p_valid = model.predict_proba(X_valid)[:, 1]
    oracle = oracle_probabilities(con, X_valid.index)
    metrics = evaluate(y_valid.to_numpy(), p_valid, None if oracle is None else oracle.to_numpy())
    metrics["holdout"] = pd.DataFrame(
        {
            TIME_COLUMN: X_valid[TIME_COLUMN],
            "sql": y_valid,
            "score": p_valid,
            "oracle_p_sql": np.nan if oracle is None else oracle,
        },
        index=X_valid.index,
    )
    window = {
        "train": _window(X_train),
        "validation": _window(X_valid),
        "data_end": data_end(con),
        "excluded_incomplete_window": int(len(features) - len(target)),
    }
    if refit:
        X_all = pd.concat([X_train, X_valid])
        y_all = pd.concat([y_train, y_valid])
        model = clone(model).fit(X_all, y_all)
        window["fitted_on"] = _window(X_all)
    else:
        window["fitted_on"] = window["train"]
    metrics["training_window"] = window
    metrics["window_days"] = window_days
    return model, metrics


def _reason_text(reasons: pd.DataFrame, n: int) -> list[str]:
    parts = []
    for k in range(1, n + 1):
        parts.append(
            reasons[f"reason_{k}"].astype(str)
            + "="
            + reasons[f"value_{k}"].astype(str)
            + " ("
            + reasons[f"effect_{k}"].map(lambda e: f"{e:+.2f}")
            + ")"
        )
    return ["; ".join(row) for row in zip(*parts, strict=True)]


def score_leads(
    con, model: LeadScoringModel, *, n_reasons: int = 3, scored_at=None, period=None
) -> pd.DataFrame:
    """Score every lead in the warehouse.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    model : LeadScoringModel
        Fitted (or loaded) model.
    n_reasons : int
        Reasons per lead.
    scored_at : datetime, optional
        Time of scoring (UTC, naive); now by default.
    period : analytics.metrics.period.Period, optional
        Only leads created in this period (all leads by default).

    Returns
    -------
    pandas.DataFrame
        Highest score first: ``lead_id``, ``created_at``, ``score``
        (calibrated P(SQL)), ``model_version`` (file
        stem of the saved model, ``unsaved`` otherwise), ``scored_at``,
        ``top_reasons`` (text: ``feature=value (+effect); ...``, effects in
        log-odds, largest absolute first).
    """
    features = lead_features(con)
    if period is not None:
        created = features[TIME_COLUMN]
        inside = (created >= pd.Timestamp(period.start)) & (
            created < pd.Timestamp(period.end_exclusive)
        )
        features = features[inside]
    if features.empty:
        return pd.DataFrame(columns=["lead_id", TIME_COLUMN, *SCORE_COLUMNS[1:]])
    scores = model.predict_proba(features)[:, 1]
    n = min(n_reasons, len(model.features_))
    reasons = model.top_reasons(features, n=n)
    when = scored_at or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return pd.DataFrame(
        {
            "lead_id": features.index.to_numpy(),
            TIME_COLUMN: features[TIME_COLUMN].to_numpy(),
            "score": scores.astype(float),
            "model_version": getattr(model, "model_version_", UNSAVED_VERSION),
            "scored_at": pd.Timestamp(when),
            "top_reasons": _reason_text(reasons, n),
        }
    ).sort_values(["score", "lead_id"], ascending=[False, True], ignore_index=True)


def write_scores(con, scores: pd.DataFrame) -> int:
    """Replace table ``lead_scores`` with ``scores``; returns the rows written.

    The table is recreated in one transaction, so readers see either the old
    or the new scores.
    """
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise ValueError(f"scores lack columns {missing}; build them with score_leads")
    frame = scores[list(SCORE_COLUMNS)]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(LEAD_SCORES_DDL)
        con.register("_lead_scores_frame", frame)
        con.execute(
            "INSERT INTO main.lead_scores SELECT CAST(lead_id AS VARCHAR), "
            "CAST(score AS DOUBLE), CAST(model_version AS VARCHAR), "
            "CAST(scored_at AS TIMESTAMP), CAST(top_reasons AS VARCHAR) FROM _lead_scores_frame"
        )
        con.unregister("_lead_scores_frame")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return int(len(frame))


def _require_warehouse(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"{path}: no such warehouse file (build it with `python -m analytics demo`)"
        )
    return path


def train_and_save(warehouse_path: str | Path, out_dir: str | Path, kind: str = "boosting") -> dict:
    """Train on a warehouse file and save the model with its card (for the CLI).

    Returns
    -------
    dict
        ``model_path``, ``model_card`` (Markdown card), ``model_version``,
        ``kind``, ``metrics`` (scalar validation metrics) and ``training_window``.
    """
    con = warehouse.connect(_require_warehouse(warehouse_path), read_only=True)
    try:
        model, metrics = train(con, kind=kind)
        fingerprint = warehouse.fingerprint(con)
    finally:
        con.close()
    window = metrics.pop("training_window")
    metrics.pop("holdout")
    card = {
        "window_days": metrics.pop("window_days"),
        "training_window": window,
        "metrics": metrics,
        "data_fingerprint": fingerprint,
        "warehouse": str(warehouse_path),
    }
    path = save_model(model, out_dir, card)
    return {
        "model_path": str(path),
        "model_card": str(card_path(path, ".md")),
        "model_version": model.model_version_,
        "kind": kind,
        "metrics": {k: v for k, v in metrics.items() if np.isscalar(v)},
        "training_window": window,
    }


def score_and_write(warehouse_path: str | Path, model_path: str | Path) -> int:
    """Score every lead with a saved model into ``lead_scores`` (for the CLI).

    Returns
    -------
    int
        Rows written.
    """
    model = load_model(model_path)
    con = warehouse.connect(_require_warehouse(warehouse_path))
    try:
        return write_scores(con, score_leads(con, model))
    finally:
        con.close()
