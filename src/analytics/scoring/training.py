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

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from analytics import warehouse
from analytics.scoring.economics import revenue_per_sql
from analytics.scoring.evaluation import evaluate
from analytics.scoring.features import TIME_COLUMN, data_end, lead_features, sql_target, time_split
from analytics.scoring.model import LeadScoringModel
from analytics.scoring.monitoring import (
    drift_table,
    old_score_calibration,
    retraining_recommendation,
)
from analytics.scoring.persistence import card_path, load_model, record_monitoring, save_model
from analytics.scoring.sales import band_cutoffs, call_lists, reason_phrases
from analytics.scoring.similarity import SIMILARITY_FEATURES

LEAD_SCORES_DDL = """
CREATE OR REPLACE TABLE main.lead_scores (
  lead_id VARCHAR,
  score DOUBLE,
  model_version VARCHAR,
  scored_at TIMESTAMP,
  top_reasons VARCHAR
)"""
"""Table ``lead_scores``: one row per lead, P(SQL) in ``score``, reasons as text."""

LEAD_SCORE_HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS main.lead_score_history (
  lead_id VARCHAR,
  score DOUBLE,
  model_version VARCHAR,
  scored_at TIMESTAMP
)"""
"""Table ``lead_score_history``: every score ever written (monitoring compares
scores given a month ago with what happened since)."""

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
    kind: str = "auto",
    window_days: float = 30,
    *,
    calibration: str = "sigmoid",
    valid_share: float = 0.25,
    refit: bool = True,
    ablation: bool = False,
    fields: dict | None = None,
    **params,
) -> tuple[LeadScoringModel, dict]:
    """Fit on earlier leads, validate on later ones, refit on all labelled leads.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection (read-only is enough).
    kind : {"auto", "boosting", "logistic"}
        Model kind (:class:`LeadScoringModel`); ``"auto"``: logistic
        regression for fewer than 1,000 labelled leads, else boosting.
    window_days : float
        SQL target window, days from lead creation (:func:`sql_target`).
    calibration : {"sigmoid", "isotonic"}
        Probability calibration.
    valid_share : float
        Share of the latest labelled leads held out for validation.
    refit : bool
        Refit on train + validation leads after measuring (default). With
        False the returned model is the one the metrics were measured on.
    ablation : bool
        Also fit without the similarity-to-past-deals features on the same
        split and report ``roc_auc_without_similarity``.
    fields : dict, optional
        Which fields are inputs (:func:`analytics.scoring.fields.load_params`
        format); ``params/scoring.yaml`` by default.
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
        and date ranges, ``data_end``, leads excluded for an incomplete window),
        ``window_days`` and ``band_cutoffs`` (:func:`~analytics.scoring.sales.band_cutoffs`
        with the warehouse's revenue per SQL, when any deal reached SQL).
    """
    features = lead_features(con) if fields is None else lead_features(con, params=fields)
    target = sql_target(con, window_days)
    X_train, X_valid, y_train, y_valid = time_split(features, target, valid_share)
    model = LeadScoringModel(kind=kind, calibration=calibration, **params).fit(X_train, y_train)
    p_valid = model.predict_proba(X_valid)[:, 1]
    oracle = oracle_probabilities(con, X_valid.index)
    metrics = evaluate(y_valid.to_numpy(), p_valid, None if oracle is None else oracle.to_numpy())
    if oracle is not None:
        metrics["auc_share_of_oracle"] = metrics["roc_auc"] / metrics["oracle_roc_auc"]
    if ablation:
        without = [c for c in SIMILARITY_FEATURES if c in X_train.columns]
        plain = clone(model).fit(X_train.drop(columns=without), y_train)
        p_plain = plain.predict_proba(X_valid.drop(columns=without))[:, 1]
        metrics["roc_auc_without_similarity"] = float(roc_auc_score(y_valid, p_plain))
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
    model.training_window_ = [str(window["fitted_on"]["start"]), str(window["fitted_on"]["end"])]
    metrics["training_window"] = window
    metrics["window_days"] = window_days
    try:
        metrics["band_cutoffs"] = band_cutoffs(model.base_rate_, value_per_sql=revenue_per_sql(con))
    except ValueError:
        pass
    return model, metrics


def _model_columns(model: LeadScoringModel, features: pd.DataFrame) -> pd.DataFrame:
    """The feature columns a (possibly older) model was trained with, when present."""
    known = [c for c in model.feature_names_in_ if c in features.columns]
    return features[known] if known else features


def score_leads(
    con,
    model: LeadScoringModel,
    *,
    n_reasons: int = 3,
    scored_at=None,
    period=None,
    language: str = "ru",
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
    language : {"ru", "en"}
        Language of the reasons (:mod:`analytics.scoring.sales`).

    Returns
    -------
    pandas.DataFrame
        Highest score first: ``lead_id``, ``created_at``, ``score``
        (calibrated P(SQL)), ``model_version`` (file
        stem of the saved model, ``unsaved`` otherwise), ``scored_at``,
        ``top_reasons`` (plain words, ``+`` raises and ``−`` lowers the
        score, largest effect first, joined by ``; ``).
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
    n = min(n_reasons, len(model.features_))
    reasons = model.score_with_reasons(_model_columns(model, features), n=n)
    scores = reasons["probability"].to_numpy()
    when = scored_at or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return pd.DataFrame(
        {
            "lead_id": features.index.to_numpy(),
            TIME_COLUMN: features[TIME_COLUMN].to_numpy(),
            "score": scores.astype(float),
            "model_version": getattr(model, "model_version_", UNSAVED_VERSION),
            "scored_at": pd.Timestamp(when),
            "top_reasons": reason_phrases(reasons, language),
        }
    ).sort_values(["score", "lead_id"], ascending=[False, True], ignore_index=True)


def write_scores(con, scores: pd.DataFrame) -> int:
    """Replace table ``lead_scores`` with ``scores`` and append them to
    ``lead_score_history``; returns the rows written.

    Both happen in one transaction, so readers see either the old or the new scores.
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
        con.execute(LEAD_SCORE_HISTORY_DDL)
        con.execute(
            "INSERT INTO main.lead_score_history SELECT CAST(lead_id AS VARCHAR), "
            "CAST(score AS DOUBLE), CAST(model_version AS VARCHAR), "
            "CAST(scored_at AS TIMESTAMP) FROM _lead_scores_frame"
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


def train_and_save(warehouse_path: str | Path, out_dir: str | Path, kind: str = "auto") -> dict:
    """Train on a warehouse file and save the model with its card (for the CLI).

    Returns
    -------
    dict
        ``model_path``, ``model_card`` (Markdown card), ``model_version``,
        ``kind``, ``metrics`` (scalar validation metrics) and ``training_window``.
    """
    con = warehouse.connect(_require_warehouse(warehouse_path), read_only=True)
    try:
        model, metrics = train(con, kind=kind, ablation=True)
        fingerprint = warehouse.fingerprint(con)
    finally:
        con.close()
    window = metrics.pop("training_window")
    metrics.pop("holdout")
    cutoffs = metrics.pop("band_cutoffs", None)
    card = {
        "band_cutoffs": cutoffs,
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
        "kind": model.kind_,
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


def monitor(con, model: LeadScoringModel, *, recent_days: float = 28, now=None) -> dict:
    """Drift of the recent leads against the training window, and old scores against outcomes.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    model : LeadScoringModel
        Saved model (its ``training_window_`` says which leads it learnt from).
    recent_days : float
        Leads created in the last ``recent_days`` before ``now`` are "recent".
    now : datetime-like, optional
        End of the recent window; the end of the data by default.

    Returns
    -------
    dict
        ``drift`` (:func:`~analytics.scoring.monitoring.drift_table`),
        ``calibration`` (:func:`~analytics.scoring.monitoring.old_score_calibration`
        of ``lead_score_history`` rows whose target window has closed, the
        latest score per lead), ``recommendation``
        (:func:`~analytics.scoring.monitoring.retraining_recommendation`),
        ``recent_leads`` and ``reference_leads``.
    """
    features = lead_features(con)
    created = features[TIME_COLUMN]
    end = data_end(con) if now is None else pd.Timestamp(now)
    recent = features[created > end - pd.Timedelta(days=recent_days)]
    window = getattr(model, "training_window_", None)
    reference = None
    if window:
        start, stop = pd.Timestamp(window[0]), pd.Timestamp(window[1])
        reference = features[(created >= start) & (created <= stop)]
    if reference is None or reference.empty or recent.empty:
        drift = pd.DataFrame(columns=["what", "psi", "shift", "importance"])
    else:
        drift = drift_table(model, reference, recent)
    calibration = None
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'lead_score_history'"
    ).fetchone()[0]
    if exists:
        window_days = 30
        history = con.execute(
            """
            SELECT lead_id, arg_max(score, scored_at) AS score
            FROM main.lead_score_history
            WHERE scored_at <= CAST($cut AS TIMESTAMP)
            GROUP BY lead_id
            """,
            {"cut": end - pd.Timedelta(days=window_days)},
        ).df()
        calibration = old_score_calibration(history, sql_target(con, window_days, end=end))
    return {
        "drift": drift,
        "calibration": calibration,
        "recommendation": retraining_recommendation(drift, calibration),
        "recent_leads": int(len(recent)),
        "reference_leads": 0 if reference is None else int(len(reference)),
    }


def latest_model(model_dir: str | Path) -> Path | None:
    """The newest ``lead_scoring_*.skops`` in a folder (by its UTC stamp), or None."""
    folder = Path(model_dir)
    files = sorted(folder.glob("lead_scoring_*.skops")) if folder.is_dir() else []
    return files[-1] if files else None


def load_or_train(
    warehouse_path: str | Path, model_dir: str | Path, *, retrain: bool = False
) -> tuple[LeadScoringModel, dict]:
    """The saved model, retrained only when asked, when none is saved, or when monitoring says so.

    Monitoring's advice is not followed while the warehouse holds the very data
    the saved model was trained on (its card's ``data_fingerprint``): the same
    data give the same training window, the same model and the same drift.

    Returns
    -------
    model : LeadScoringModel
    status : dict
        ``model_path``, ``retrained`` (bool), ``why`` (plain sentence) and
        ``monitoring`` (:func:`monitor` of the model that was loaded, or None).

    Notes
    -----
    Runs under a file lock (``<model_dir>/.load_or_train.lock``, :mod:`filelock`):
    the report runner executes notebooks 05 and 11 in parallel, and without the
    lock each would train its own model when none is saved. With it the first
    trains and saves, the others wait and load that model.
    """
    import filelock

    Path(model_dir).mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(Path(model_dir) / ".load_or_train.lock"), timeout=3600):
        return _load_or_train(warehouse_path, model_dir, retrain=retrain)


def _load_or_train(
    warehouse_path: str | Path, model_dir: str | Path, *, retrain: bool
) -> tuple[LeadScoringModel, dict]:
    path = latest_model(model_dir)
    why, monitoring = None, None
    if retrain:
        why = "retraining was asked for"
    elif path is None:
        why = f"no saved model in {model_dir}"
    else:
        model = load_model(path)
        con = warehouse.connect(_require_warehouse(warehouse_path), read_only=True)
        try:
            current = set(lead_features(con).columns)
            lacking = [c for c in model.feature_names_in_ if c not in current]
            if not lacking:
                monitoring = monitor(con, model)
                card = json.loads(card_path(path).read_text(encoding="utf-8"))
                same_data = card.get("data_fingerprint") == warehouse.fingerprint(con)
        finally:
            con.close()
        if lacking:  # e.g. a warehouse loaded before the model's fields existed
            why = f"the saved model uses fields the warehouse lacks: {', '.join(lacking)}"
        else:
            record_monitoring(path, monitoring)
            if not monitoring["recommendation"]["retrain"]:
                return model, {
                    "model_path": str(path),
                    "retrained": False,
                    "why": "the saved model is still fine",
                    "monitoring": monitoring,
                }
            why = "monitoring recommends it: " + "; ".join(monitoring["recommendation"]["reasons"])
            if same_data:  # the same data give the same training window, model and drift
                return model, {
                    "model_path": str(path),
                    "retrained": False,
                    "why": "the saved model was trained on these same data, and retraining "
                    f"on them gives the same model ({why})",
                    "monitoring": monitoring,
                }
    result = train_and_save(warehouse_path, model_dir)
    return load_model(result["model_path"]), {
        "model_path": result["model_path"],
        "retrained": True,
        "why": why,
        "monitoring": monitoring,
    }


_LABEL_WORDS = {
    "ru": {"form": "Форма", "call": "Звонок", "chat": "Чат"},
    "en": {"form": "Form", "call": "Call", "chat": "Chat"},
}


def warehouse_call_list(
    con,
    model: LeadScoringModel,
    *,
    period=None,
    language: str = "ru",
    now=None,
    cutoffs: dict | None = None,
    n_reasons: int = 3,
) -> pd.DataFrame:
    """The call list of the warehouse's leads (:func:`analytics.scoring.sales.call_list`).

    ``label`` is the request type, industry and company size; ``owner`` the
    manager of the lead's CRM deal (empty if none yet); ``channel`` the
    channel of the lead's last visit before the request (or its
    ``utm_source``); ``hours_since_request`` counts from ``created_at`` to
    ``now`` (the end of the data by default). Cut-offs default to
    :func:`~analytics.scoring.sales.band_cutoffs` with the warehouse's revenue
    per SQL.

    Parameters
    ----------
    period : analytics.metrics.period.Period, optional
        Only leads created in this period.
    """
    return warehouse_call_lists(
        con,
        model,
        period=period,
        languages=(language,),
        now=now,
        cutoffs=cutoffs,
        n_reasons=n_reasons,
    )[language]


def warehouse_call_lists(
    con,
    model: LeadScoringModel,
    *,
    period=None,
    languages=("ru", "en"),
    now=None,
    cutoffs: dict | None = None,
    n_reasons: int = 3,
) -> dict[str, pd.DataFrame]:
    """:func:`warehouse_call_list` in each of ``languages``, the leads scored once
    (:func:`analytics.scoring.sales.call_lists`); ``{language: call list}``."""
    features = lead_features(con)
    if period is not None:
        created = features[TIME_COLUMN]
        inside = (created >= pd.Timestamp(period.start)) & (
            created < pd.Timestamp(period.end_exclusive)
        )
        features = features[inside]
    meta = (
        con.execute(
            """
        SELECT l.lead_id, l.utm_source,
               (SELECT arg_max(d.manager, d.created_at) FROM main.deals AS d
                 WHERE d.lead_id = l.lead_id) AS owner
        FROM main.leads AS l
        """
        )
        .df()
        .set_index("lead_id")
    )
    meta = meta.reindex(features.index)
    labels = {}
    for language in dict.fromkeys(languages):
        words = _LABEL_WORDS[language] if language in _LABEL_WORDS else _LABEL_WORDS["en"]
        parts = [
            features["lead_type"].map(lambda v, words=words: words.get(v, v)),
            features["industry"].where(features["industry"] != "unknown"),
            features["company_size"].where(features["company_size"] != "unknown"),
        ]
        label = pd.Series("", index=features.index, dtype=object)
        for part in parts:  # the filled texts joined by ", " (no per-lead apply)
            values = part.to_numpy(dtype=object)
            text = pd.Series(
                np.where([isinstance(v, str) for v in values], values, ""), index=features.index
            )
            label = label + np.where((label != "") & (text != ""), ", ", "") + text
        labels[language] = label if len(features) else ""
    channel = features["last_channel"].where(features["last_channel"] != "no_visits")
    channel = channel.fillna(meta["utm_source"]).fillna("")
    leads = _model_columns(model, features).assign(
        owner=meta["owner"].fillna(""),
        channel=channel,
        created_at=features[TIME_COLUMN],
    )
    if cutoffs is None:
        cutoffs = band_cutoffs(model.base_rate_, value_per_sql=revenue_per_sql(con))
    return call_lists(
        model,
        leads,
        cutoffs=cutoffs,
        languages=languages,
        now=data_end(con) if now is None else now,
        n_reasons=n_reasons,
        labels=labels,
    )
