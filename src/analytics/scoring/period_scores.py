"""The lead scoring of one report run, computed once and read by every scoring page.

Notebooks 05 (lead scoring) and 11 (the sales call list) show the same things
from the same model: the saved model loaded (or trained when none is saved,
under :func:`~analytics.scoring.training.load_or_train`'s file lock), its
monitoring (drift of the recent leads against its training window, calibration
of old scores, the retraining advice), and the period's call list with reasons
in words. All of it needs the feature table of every lead (the drift compares
all leads of the training window with the recent ones), which at 10M visits is
most of a page's cost. :func:`compute_period_scores` does it once;
:func:`write_period_scores` puts it beside the period snapshot::

    reports/<period>/marts/lead_scoring/
        lead_scoring.json      model version, status, monitoring, importance, model card
        drift.parquet          the drift table (PSI per feature and of the score)
        calibration.parquet    old scores against outcomes by decile (when any)
        calls_ru.parquet       the period's call list, reasons in Russian
        calls_en.parquet       ... in English

The report runner (:func:`analytics.reports.runner.run_reports`) computes it
when a notebook of the run declares the parameter ``lead_scoring`` and passes
the ``lead_scoring.json`` path; a notebook opened by hand (``lead_scoring =
None``) computes it itself (:func:`load_or_compute`). Reading it back gives
frames equal to the computed ones (same values, dtypes and order), so the pages
do not depend on which way they got it; reading needs neither scikit-learn nor
skops nor Numba, which a kernel would otherwise import (~3 s of CPU).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

LANGUAGES = ("ru", "en")
"""Languages of the reasons and labels: both are written (the words cost little; the
scores, computed once, do not depend on the language)."""

FOLDER = "lead_scoring"
"""Folder of the run's lead scoring under ``reports/<period>/marts/``."""

FILE = "lead_scoring.json"
"""The file whose path the notebooks receive as ``lead_scoring``."""

FORMAT_VERSION = 1


class LeadScoringError(ValueError):
    """A ``lead_scoring`` file that is missing, unreadable or of another version."""


@dataclass
class PeriodScores:
    """What the scoring pages show for one period.

    Attributes
    ----------
    model_version : str
        Stem of the saved model's file (``lead_scoring_<UTC stamp>``).
    status : dict
        ``model_path``, ``retrained`` (bool), ``why`` (sentence)
        (:func:`~analytics.scoring.training.load_or_train` without ``monitoring``).
    monitoring : dict
        :func:`~analytics.scoring.training.monitor` of the model: ``drift``
        (DataFrame), ``calibration`` (dict with ``by_decile``, or None),
        ``recommendation``, ``recent_leads``, ``reference_leads``.
    importance : pandas.Series
        ``LeadScoringModel.global_importance()``, largest first.
    card : dict
        The model card (JSON) next to the saved model, as it was right after
        ``load_or_train`` wrote the monitoring into it.
    calls : dict
        ``{language: call list}``
        (:func:`~analytics.scoring.training.warehouse_call_lists` of the period).
    """

    model_version: str
    status: dict
    monitoring: dict
    importance: pd.Series
    card: dict = field(default_factory=dict)
    calls: dict[str, pd.DataFrame] = field(default_factory=dict)


def compute_period_scores(
    warehouse: str | Path,
    period,
    model_dir: str | Path,
    *,
    retrain: bool = False,
    languages=LANGUAGES,
) -> PeriodScores:
    """Load (or train) the model, check it and list the period's calls, once.

    What notebooks 05 and 11 each did in their first cell: ``load_or_train``,
    ``monitor`` when it was not run (a model just trained), the call list per
    language, from one connection and one feature table.

    Parameters
    ----------
    warehouse : str or Path
        DuckDB warehouse file (opened read-only).
    period : str or analytics.metrics.period.Period
        Period spec, resolved against the warehouse as the pages do, or a period.
    model_dir : str or Path
        Folder of the saved models (``train-scoring --out``).
    retrain : bool
        Train a new model even if the saved one is fine.
    languages : iterable of str
        Languages of the call lists.
    """
    from analytics.metrics.period import data_anchor, data_bounds, parse_period
    from analytics.scoring.persistence import card_path
    from analytics.scoring.training import load_or_train, monitor, warehouse_call_lists
    from analytics.warehouse import connect

    model, status = load_or_train(warehouse, model_dir, retrain=retrain)
    card = json.loads(card_path(status["model_path"]).read_text(encoding="utf-8"))
    con = connect(warehouse, read_only=True)
    try:
        if isinstance(period, str):
            period = parse_period(period, data_anchor(con), bounds=data_bounds(con))
        monitoring = status["monitoring"] or monitor(con, model)
        calls = warehouse_call_lists(con, model, period=period, languages=languages)
    finally:
        con.close()
    return PeriodScores(
        model_version=model.model_version_,
        status={k: v for k, v in status.items() if k != "monitoring"},
        monitoring=monitoring,
        importance=model.global_importance(),
        card=card,
        calls=calls,
    )


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {str(c): str(t) for c, t in frame.dtypes.items()}


def _write_frame(frame: pd.DataFrame, path: Path) -> dict:
    frame.to_parquet(path, index=False)
    return {"file": path.name, "dtypes": _dtypes(frame), "columns": list(map(str, frame.columns))}


def _read_frame(folder: Path, entry: dict) -> pd.DataFrame:
    """A frame as written: Parquet keeps numbers; text columns get their dtype back
    (pandas reads Parquet text as ``str``, the pages' frames hold ``object``)."""
    frame = pd.read_parquet(folder / entry["file"])
    frame = (
        frame[entry["columns"]] if len(frame.columns) else frame.reindex(columns=entry["columns"])
    )
    for column, dtype in entry["dtypes"].items():
        if str(frame[column].dtype) != dtype:
            frame[column] = frame[column].astype(dtype)
    return frame


def _number(value):
    """JSON has no NaN: a missing float is written as None and read back as NaN."""
    if value is None:
        return float("nan")
    return value


def write_period_scores(scores: PeriodScores, folder: str | Path) -> Path:
    """Write ``scores`` to ``folder`` (see the module doc); returns the ``lead_scoring.json``."""
    import math

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    monitoring = scores.monitoring
    calibration = monitoring.get("calibration")
    if calibration is not None:
        calibration = dict(calibration)
        by_decile = calibration.pop("by_decile", None)
        calibration = {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in calibration.items()
        }
        if by_decile is not None:
            calibration["by_decile"] = _write_frame(by_decile, folder / "calibration.parquet")
    drift = pd.DataFrame(monitoring["drift"])
    data = {
        "format_version": FORMAT_VERSION,
        "model_version": scores.model_version,
        "status": scores.status,
        "monitoring": {
            "drift": _write_frame(drift, folder / "drift.parquet"),
            "calibration": calibration,
            "recommendation": monitoring["recommendation"],
            "recent_leads": monitoring["recent_leads"],
            "reference_leads": monitoring["reference_leads"],
        },
        "importance": {
            "name": scores.importance.name,
            "features": [str(k) for k in scores.importance.index],
            "index_dtype": str(scores.importance.index.dtype),
            "values": [float(v) for v in scores.importance.to_numpy()],
        },
        "card": scores.card,
        "calls": {
            language: _write_frame(frame, folder / f"calls_{language}.parquet")
            for language, frame in scores.calls.items()
        },
    }
    path = folder / FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def read_period_scores(path: str | Path) -> PeriodScores:
    """Read what :func:`write_period_scores` wrote (``lead_scoring.json`` or its folder).

    Raises
    ------
    LeadScoringError
        Missing or unreadable file, or another format version (the message names it).
    """
    path = Path(path)
    if path.is_dir():
        path = path / FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LeadScoringError(f"{path}: not a readable lead scoring file ({exc})") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise LeadScoringError(f"{path}: expected lead scoring format {FORMAT_VERSION}")
    folder = path.parent
    saved = data["monitoring"]
    calibration = saved["calibration"]
    if calibration is not None:
        calibration = {
            k: (_number(v) if k in ("mean_score", "observed_rate", "gap") else v)
            for k, v in calibration.items()
        }
        if "by_decile" in calibration:
            calibration["by_decile"] = _read_frame(folder, calibration["by_decile"])
    monitoring = {
        "drift": _read_frame(folder, saved["drift"]),
        "calibration": calibration,
        "recommendation": saved["recommendation"],
        "recent_leads": saved["recent_leads"],
        "reference_leads": saved["reference_leads"],
    }
    importance = data["importance"]
    return PeriodScores(
        model_version=data["model_version"],
        status=data["status"],
        monitoring=monitoring,
        importance=pd.Series(
            importance["values"],
            index=pd.Index(importance["features"], dtype=importance["index_dtype"]),
            name=importance["name"],
            dtype="float64",
        ),
        card=data["card"],
        calls={language: _read_frame(folder, entry) for language, entry in data["calls"].items()},
    )


def load_or_compute(
    lead_scoring: str | Path | None,
    warehouse: str | Path,
    period: str,
    model_dir: str | Path,
    *,
    retrain: bool = False,
    languages=LANGUAGES,
) -> PeriodScores:
    """The run's lead scoring (``lead_scoring.json`` written by the runner), or, without
    one (a notebook opened by hand), computed here by :func:`compute_period_scores`.

    Relative ``warehouse`` and ``model_dir`` are from the project root.
    """
    if lead_scoring:
        return read_period_scores(lead_scoring)
    from analytics.paths import project_path

    return compute_period_scores(
        project_path(warehouse),
        period,
        project_path(model_dir),
        retrain=retrain,
        languages=languages,
    )
