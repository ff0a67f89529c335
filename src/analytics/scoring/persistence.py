"""Saving and loading lead-scoring models with skops (never pickle) plus a model card.

A saved model is three files in one folder, named by the UTC time of saving:

* ``lead_scoring_<YYYYmmddTHHMMSSZ>.skops`` -- the fitted
  :class:`~analytics.scoring.model.LeadScoringModel` in the skops format,
  which stores objects as data and refuses, at load time, any type not on an
  explicit trusted list (a pickle file can run arbitrary code when loaded);
* ``lead_scoring_<...>.model_card.json`` and ``.model_card.md`` -- what the
  model is, which features it takes, its training window, validation metrics
  and the fingerprint of the data it was trained on.

The stem of the file name is the ``model_version`` written with every score.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio

from analytics.scoring.model import LeadScoringModel

TRUSTED_TYPES = (
    "analytics.scoring.model.LeadScoringModel",
    "functools.partial",
    "sklearn.utils.validation.check_array",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)
"""Types a saved model may contain beyond those skops trusts by default.

Found with ``skops.io.get_untrusted_types`` on fitted logistic and boosting
models with both calibrations; everything else in them (pipelines, encoders,
scalers, classifiers, isotonic regression, numpy arrays) is trusted by skops
itself. The booster with native categorical splits keeps a
``FunctionTransformer(partial(check_array))`` for its numeric columns, hence
``functools.partial`` and ``check_array`` (skops checks the wrapped function
too, so a partial of anything else is still refused). A file holding any other
type is refused by :func:`load_model`.
"""

MODEL_PREFIX = "lead_scoring_"


def _version_stem(directory: Path) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    stem, k = f"{MODEL_PREFIX}{stamp}", 1
    while (directory / f"{stem}.skops").exists():
        k += 1
        stem = f"{MODEL_PREFIX}{stamp}_{k}"
    return stem


def _plain(value):
    """JSON-ready copy: frames to records, numpy and pandas scalars to Python."""
    if isinstance(value, pd.DataFrame):
        return [_plain(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def package_versions() -> dict[str, str]:
    out = {}
    for name in ("analytics", "scikit-learn", "skops", "numpy", "pandas", "duckdb"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


def model_card_markdown(card: dict) -> str:
    """Render a model card (as written by :func:`save_model`) as Markdown."""
    lines = [f"# Lead scoring model `{card['model_version']}`", ""]
    lines += [
        "Predicts the probability that a new lead reaches SQL (stage sql or later "
        f"within {card.get('window_days', '?')} days of the lead) from site behaviour "
        "before the lead, lead facts, firmographics and the win rate of its segment "
        "among deals closed before it. Scores are calibrated probabilities; managers "
        "call leads above a threshold chosen from sales-time economics.",
        "",
        "## Model",
        "",
        f"- file: `{card['model_file']}` (skops; load with `analytics.scoring.load_model`)",
        f"- saved at (UTC): {card['saved_at']}",
        f"- kind: {card['kind']}, calibration: {card['calibration']}",
        f"- parameters: `{json.dumps(card['params'], ensure_ascii=False)}`",
        "",
    ]
    window = card.get("training_window") or {}
    if window:
        lines += ["## Training window", ""]
        for key, value in window.items():
            if isinstance(value, dict) and {"leads", "start", "end"} <= set(value):
                value = f"{value['leads']} leads created {value['start']} .. {value['end']}"
            lines.append(f"- {key.replace('_', ' ')}: {value}")
        lines.append("")
    lines += ["## Features", ""]
    lines += [f"- numeric: {', '.join(card['features']['numeric'])}"]
    lines += [f"- categorical: {', '.join(card['features']['categorical'])}"]
    lines += [f"- input columns: {', '.join(card['feature_columns'])}", ""]
    metrics = card.get("metrics") or {}
    scalars = {k: v for k, v in metrics.items() if not isinstance(v, list | dict)}
    if scalars:
        lines += ["## Validation metrics (later leads, time split)", "", "| metric | value |"]
        lines.append("|---|---|")
        for k, v in scalars.items():
            shown = f"{v:.4f}" if isinstance(v, float) else str(v)
            lines.append(f"| {k} | {shown} |")
        lines.append("")
    calibration = metrics.get("calibration")
    if calibration:
        lines += ["### Calibration", "", "| bin | leads | mean predicted | observed rate |"]
        lines.append("|---|---|---|---|")
        for row in calibration:
            lines.append(
                f"| {row['bin']} | {row['leads']} | {row['mean_predicted']:.3f} "
                f"| {row['observed_rate']:.3f} |"
            )
        lines.append("")
    importance = card.get("global_importance") or {}
    if importance:
        lines += ["## Global importance (mean |contribution|, log-odds)", ""]
        lines += [f"- {k}: {v:.3f}" for k, v in importance.items()]
        lines.append("")
    monitoring = card.get("monitoring")
    if monitoring:
        advice = monitoring.get("recommendation") or {}
        lines += ["## Monitoring", "", f"- checked at (UTC): {monitoring.get('checked_at')}"]
        lines.append(f"- retraining recommended: {'yes' if advice.get('retrain') else 'no'}")
        lines += [f"  - {reason}" for reason in advice.get("reasons", [])]
        calibration = monitoring.get("calibration") or {}
        if calibration.get("leads"):
            lines.append(
                f"- scores given a month or more ago: {calibration['leads']} leads, mean score "
                f"{calibration['mean_score']:.3f}, observed rate {calibration['observed_rate']:.3f}"
            )
        drift = monitoring.get("drift") or []
        if drift:
            lines += ["", "| what | PSI | shift |", "|---|---|---|"]
            lines += [f"| {r['what']} | {r['psi']:.3f} | {r['shift']} |" for r in drift[:10]]
        lines.append("")
    lines += [
        "## Data",
        "",
        f"- data fingerprint: `{card.get('data_fingerprint', 'not given')}`",
        f"- package versions: {json.dumps(card['package_versions'])}",
        "",
    ]
    extra = {
        k: v
        for k, v in card.items()
        if k
        not in {
            "model_version",
            "model_file",
            "saved_at",
            "kind",
            "calibration",
            "params",
            "training_window",
            "features",
            "feature_columns",
            "metrics",
            "global_importance",
            "data_fingerprint",
            "package_versions",
            "window_days",
            "monitoring",
        }
    }
    if extra:
        lines += ["## Notes", ""]
        lines += [f"- {k}: {json.dumps(v, ensure_ascii=False)}" for k, v in extra.items()]
        lines.append("")
    return "\n".join(lines)


def save_model(model: LeadScoringModel, directory: str | Path, card: dict) -> Path:
    """Save a fitted model as a versioned skops file with its model card.

    Parameters
    ----------
    model : LeadScoringModel
        Fitted model; its ``model_version_`` is set to the file stem.
    directory : str or Path
        Folder for the files (created if needed).
    card : dict
        What the caller knows about the training: ``training_window``,
        ``metrics`` (e.g. from :func:`analytics.scoring.evaluate`; frames are
        stored as records), ``data_fingerprint``, ``window_days``... The card
        adds model version, file, save time, kind, parameters, features,
        global importance and package versions.

    Returns
    -------
    Path
        The ``lead_scoring_<UTC timestamp>.skops`` file; the card is next to it
        as ``<stem>.model_card.json`` and ``<stem>.model_card.md``.
    """
    if not hasattr(model, "classifier_"):
        raise ValueError("the model is not fitted: fit it before saving")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = _version_stem(directory)
    path = directory / f"{stem}.skops"
    model.model_version_ = stem
    sio.dump(model, path)
    full = {
        "model_version": stem,
        "model_file": path.name,
        "saved_at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        "kind": getattr(model, "kind_", model.kind),
        "calibration": model.calibration,
        "params": model.get_params(),
        "features": {
            "numeric": list(model.numeric_features_),
            "categorical": list(model.categorical_features_),
        },
        "feature_columns": list(model.feature_names_in_),
        "global_importance": model.global_importance(),
        "package_versions": package_versions(),
        **card,
    }
    full = _plain(full)
    (directory / f"{stem}.model_card.json").write_text(
        json.dumps(full, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    (directory / f"{stem}.model_card.md").write_text(model_card_markdown(full), encoding="utf-8")
    return path


def record_monitoring(model_path: str | Path, monitoring: dict) -> None:
    """Write a monitoring result (:func:`analytics.scoring.monitor`) into the model card.

    The JSON card gets ``monitoring`` (drift table, calibration of month-old
    scores without its decile table, the recommendation, the UTC time) and the
    Markdown card is rendered again with a Monitoring section.
    """
    path = card_path(model_path)
    card = json.loads(path.read_text(encoding="utf-8"))
    calibration = dict(monitoring.get("calibration") or {})
    calibration.pop("by_decile", None)
    card["monitoring"] = _plain(
        {
            "checked_at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            "recommendation": monitoring.get("recommendation"),
            "calibration": calibration or None,
            "drift": monitoring.get("drift"),
            "recent_leads": monitoring.get("recent_leads"),
        }
    )
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False), encoding="utf-8")
    card_path(model_path, ".md").write_text(model_card_markdown(card), encoding="utf-8")


def card_path(model_path: str | Path, suffix: str = ".json") -> Path:
    """The model card file next to a saved model (``.json`` or ``.md``)."""
    model_path = Path(model_path)
    return model_path.with_name(f"{model_path.stem}.model_card{suffix}")


def load_model(path: str | Path) -> LeadScoringModel:
    """Load a model saved by :func:`save_model`, trusting only :data:`TRUSTED_TYPES`.

    skops checks every type in the file against the trusted list (and its own
    defaults) before it builds anything; if any is outside, nothing is loaded and
    the error names them (``skops.io.get_untrusted_types``, asked only then: reading
    the file's tree twice cost ~0.3 CPU-s per load at 10M).

    Raises
    ------
    ValueError
        Missing file, a type outside the trusted list, or not a lead-scoring model.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such model file (train one with `train-scoring`)")
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        model = sio.load(path, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException:
        unexpected = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
        raise ValueError(
            f"{path}: refusing to load types outside the trusted list: {', '.join(unexpected)}"
        ) from None
    if not isinstance(model, LeadScoringModel):
        raise ValueError(f"{path}: holds a {type(model).__name__}, not a LeadScoringModel")
    return model
