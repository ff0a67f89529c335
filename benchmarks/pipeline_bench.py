"""Pipeline benchmark: generate, load, transforms and the weekly build on N visits.

Every stage runs in its own Python process, started by :func:`run_size`, so the
peak memory of one stage is not the leftover of another:

* **seconds** -- wall time of the stage's work, measured inside its process
  (interpreter start and imports excluded; ``process_seconds`` includes them);
* **cpu s** -- user + system CPU seconds of the whole stage process and its
  descendants (``os.wait4``), start and imports included: less sensitive than
  wall time to other jobs on a shared machine;
* **x baseline** -- seconds / seconds of the baseline, DuckDB's single full
  scan of the raw Parquet files, measured in the same run on the same files;
* **peak MB** -- the largest sum of resident memory (RSS) of the stage's
  process and all its descendants (report workers, Jupyter kernels), sampled
  every 0.1 s with psutil; 1 MB = 2**20 bytes. Shared library pages are
  counted once per process, so this is an upper bound of what the stage needs;
* **max proc MB** -- the exact peak RSS of the largest single process of the
  stage (``ru_maxrss`` from ``os.wait4``, i.e. ``getrusage(RUSAGE_CHILDREN)``
  of that one child);
* **peak PSS MB** -- like peak MB but proportional set size (a page shared by
  k processes counts 1/k in each), sampled every 0.5 s: what the stage really
  takes from the machine when it runs several processes (the report stage).

The *weekly build* is what a Monday morning runs on fresh exports:
``python -m analytics load`` (validation, quarantine, PII hashing in DuckDB)
then ``python -m analytics report --period last-week`` (every role's
notebooks through Papermill, rendered to HTML). Its seconds are the sum of the
two stages, its peak the larger of their peaks (they run one after the other),
and it is checked against :data:`BUILD_LIMIT_MB`.

Entry point: ``python -m benchmarks`` (see ``benchmarks/README.md``). This
module is also the stage runner: ``python -m benchmarks.pipeline_bench
--child STAGE --params JSON --result FILE`` runs one stage and writes its
timings to ``FILE``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

try:
    import psutil
except ImportError:  # pragma: no cover - psutil comes with ipykernel
    psutil = None

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
WORK_DIR = ROOT / "data" / "bench"

BUILD_LIMIT_MB = 4096
"""Peak memory the 10M weekly build (load + report) must stay under: 4 GB = 4096 MB."""

SAMPLE_SECONDS = 0.1
"""Interval of the process-tree RSS sampler."""

PSS_EVERY = 5
"""Read PSS (``/proc/<pid>/smaps_rollup``, ~2 ms a process) every this many samples."""

PERIODS = {"week": "last-week", "month": "last-month", "year": "all"}
"""Period names of the transform stages and their specs (see ``parse_period``)."""

RAW_SCANS = {
    "visits": "count(*), sum(pageviews), max(visit_start)",
    "leads": "count(*), count(phone), max(created_at)",
    "deals": "count(*), sum(amount), max(created_at)",
    "deal_stages": "count(*), count(stage), max(entered_at)",
    "spend": "count(*), sum(cost), max(date)",
}
"""Baseline: one aggregate query per raw file, the cheapest full read DuckDB can do."""

BASELINE_REPEAT = 3

WHAT_IF_MEMORY_LIMIT = "DuckDB default (80% of RAM)"
"""What the what-if load runs with: ``RESET memory_limit``, DuckDB's own default.
Every other stage opens the warehouse with :func:`analytics.warehouse.connect`,
which applies ``$ANALYTICS_DUCKDB_MEMORY_LIMIT`` (default 1500MB); the what-if
shows what that cap costs or saves on the load."""
PACKAGES = ("duckdb", "pandas", "numpy", "pyarrow", "papermill", "scikit-learn", "psutil")


@dataclass(frozen=True)
class Stage:
    """One timed step, run in its own process.

    Parameters
    ----------
    key : str
        Name of the stage function (``_stage_<key>``).
    label : str
        Row label of the printed table.
    period : str or None
        ``week``, ``month`` or ``year`` (:data:`PERIODS`) for transform stages.
    """

    key: str
    label: str
    period: str | None = None

    @property
    def name(self) -> str:
        return self.key if self.period is None else f"{self.key}:{self.period}"


STAGES: tuple[Stage, ...] = (
    Stage("generate", "generate raw files (synth + parquet)"),
    Stage("baseline", "BASELINE: DuckDB full scan of raw files"),
    Stage("load", "load: validate + quarantine + hash (DuckDB)"),
    Stage("load_uncapped", "what-if: load with DuckDB's default memory_limit (80% of RAM)"),
    Stage("funnel", "funnel: summary + channels + 12 weeks", "week"),
    Stage("funnel", "funnel: summary + channels + 12 weeks", "month"),
    Stage("funnel", "funnel: summary + channels + 12 weeks", "year"),
    Stage("kpi", "kpi: kpi_summary", "week"),
    Stage("kpi", "kpi: kpi_summary", "month"),
    Stage("kpi", "kpi: kpi_summary", "year"),
    Stage("quality", "quality: quality_report", "week"),
    Stage("quality", "quality: quality_report", "year"),
    Stage("cohorts", "cohorts: weekly cohort_funnel", "year"),
    Stage("journeys", "journeys (lead, 30 d) + attribution models", "month"),
    Stage("journeys", "journeys (lead, 30 d) + attribution models", "year"),
    Stage("scoring", "scoring: train + score all leads; fit/score ratios, AUC vs HGB/LightGBM"),
    Stage("model", "setup: the lead-scoring model an earlier week saved (trained once)"),
    Stage("report", "report: all roles, last-week (Papermill + HTML)"),
)
"""Stages in run order. ``generate`` and ``load`` must succeed for the rest to run."""

BUILD_STAGES = ("load", "report")
"""Stages that make up the weekly build."""

SETUP_STAGES = ("generate", "baseline", "load", "model")
"""Stages that make the inputs of the others (raw files, baseline, warehouse)."""


def stage_keys() -> tuple[str, ...]:
    """Distinct stage keys of :data:`STAGES`, in run order (what ``--only`` accepts)."""
    return tuple(dict.fromkeys(stage.key for stage in STAGES))


def parse_only(text: str) -> tuple[str, ...]:
    """``"generate,load,report"`` -> the keys in run order; unknown keys raise."""
    wanted = [part.strip().lower() for part in text.split(",") if part.strip()]
    known = stage_keys()
    unknown = [key for key in wanted if key not in known]
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(
            f"unknown stage {', '.join(unknown) or repr(text)}: use some of {', '.join(known)}"
        )
    return tuple(key for key in known if key in wanted)


def result_name(label: str, only: tuple[str, ...] | None) -> str:
    """File name of a size's JSON: ``pipeline-<label>.json`` for a run of every stage.

    A subset never overwrites the full result: it writes
    ``pipeline-<label>-build.json`` when its only stage after the setup is
    ``report`` (the weekly build), else ``pipeline-<label>-<stages>.json``
    with the stages after the setup (e.g. ``pipeline-12.5m-scoring.json``).
    """
    if only is None or set(only) == set(stage_keys()):
        return f"pipeline-{label}.json"
    rest = [key for key in only if key not in SETUP_STAGES]
    tag = "build" if rest == ["report"] else "-".join(rest or only)
    return f"pipeline-{label}-{tag}.json"


# --------------------------------------------------------------------------- sizes


def parse_size(text: str) -> tuple[str, int]:
    """``"10m"`` -> ``("10m", 10_000_000)``; also ``200k``, ``1.5m`` or a plain number."""
    label = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(label[-1:], 1)
    number = label[:-1] if factor > 1 else label
    try:
        visits = int(round(float(number) * factor))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: use e.g. 200k, 1m, 10m") from None
    if visits < 1_000:
        raise argparse.ArgumentTypeError(f"size {text!r} is too small (at least 1k visits)")
    return label, visits


# --------------------------------------------------------------------------- stages (child side)


def _connect_read_only(params: dict):
    from analytics.warehouse import connect

    return connect(params["warehouse"], read_only=True)


def _period(con, which: str):
    from analytics.metrics.period import data_anchor, data_bounds, parse_period

    spec = PERIODS[which]
    bounds = data_bounds(con) if spec == "all" else None
    return parse_period(spec, data_anchor(con), bounds=bounds)


def _timed(detail: dict, name: str, call):
    """Run ``call()``, store its seconds in ``detail[name + "_s"]``, return its result."""
    started = time.perf_counter()
    result = call()
    detail[f"{name}_s"] = round(time.perf_counter() - started, 4)
    return result


def _stage_generate(params: dict) -> tuple[float, dict]:
    from analytics.demo import generator

    detail: dict = {}
    started = time.perf_counter()
    data = _timed(
        detail, "generate", lambda: generator.generate(visits=params["visits"], seed=params["seed"])
    )
    _timed(detail, "write_parquet", lambda: generator.write_raw(data, params["raw"]))
    seconds = time.perf_counter() - started
    detail["rows"] = data.summary()
    detail["raw_mb"] = round(
        sum(p.stat().st_size for p in Path(params["raw"]).rglob("*.parquet")) / 2**20, 1
    )
    return seconds, detail


def _stage_baseline(params: dict) -> tuple[float, dict]:
    import duckdb

    raw = Path(params["raw"])
    con = duckdb.connect()
    runs, per_file = [], {}
    for _ in range(BASELINE_REPEAT):
        started = time.perf_counter()
        for name, select in RAW_SCANS.items():
            path = str(raw / f"{name}.parquet").replace("'", "''")
            t0 = time.perf_counter()
            row = con.execute(f"SELECT {select} FROM read_parquet('{path}')").fetchone()
            per_file.setdefault(name, []).append(time.perf_counter() - t0)
            if name == "visits":
                visits_row = row
        runs.append(time.perf_counter() - started)
    con.close()
    detail = {
        "runs_s": [round(r, 4) for r in runs],
        "median_of": BASELINE_REPEAT,
        "per_file_median_s": {n: round(statistics.median(t), 4) for n, t in per_file.items()},
        "visits": int(visits_row[0]),
    }
    return statistics.median(runs), detail


def _stage_load(params: dict, uncapped: bool = False) -> tuple[float, dict]:
    from analytics import warehouse as wh

    path = Path(params["warehouse"])
    if uncapped:  # what-if: a separate file, removed afterwards
        path = path.with_name(f"{path.stem}-uncapped{path.suffix}")
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    salt = wh.pii_salt()
    started = time.perf_counter()
    con = wh.connect(path)
    try:
        if uncapped:
            con.execute("RESET memory_limit")
        memory_limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        wh.init_schema(con)
        results = wh.load_raw_dir(con, params["raw"], salt=salt)
    finally:
        con.close()
    seconds = time.perf_counter() - started
    detail = {
        "rows_loaded": {r.table: r.rows_loaded for r in results},
        "rows_quarantined": {r.table: r.rows_quarantined for r in results},
        "warehouse_mb": round(path.stat().st_size / 2**20, 1),
        "duckdb_memory_limit": memory_limit,
        "duckdb_threads": threads,
    }
    if uncapped:
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)
    return seconds, detail


def _stage_load_uncapped(params: dict) -> tuple[float, dict]:
    return _stage_load(params, uncapped=True)


def _stage_funnel(params: dict) -> tuple[float, dict]:
    from analytics.metrics.funnel import funnel_by_channel, funnel_summary, weekly_funnel

    con = _connect_read_only(params)
    detail: dict = {}
    started = time.perf_counter()
    period = _timed(detail, "period", lambda: _period(con, params["period"]))
    summary = _timed(detail, "funnel_summary", lambda: funnel_summary(con, period))
    _timed(detail, "funnel_by_channel", lambda: funnel_by_channel(con, period))
    _timed(detail, "weekly_funnel", lambda: weekly_funnel(con, period, weeks=12))
    seconds = time.perf_counter() - started
    con.close()
    detail["period"] = str(period)
    detail["leads"] = int(summary["leads"].iloc[0])
    return seconds, detail


def _stage_kpi(params: dict) -> tuple[float, dict]:
    from analytics.metrics.kpi import kpi_summary

    con = _connect_read_only(params)
    detail: dict = {}
    started = time.perf_counter()
    period = _timed(detail, "period", lambda: _period(con, params["period"]))
    _timed(detail, "kpi_summary", lambda: kpi_summary(con, period))
    seconds = time.perf_counter() - started
    con.close()
    detail["period"] = str(period)
    return seconds, detail


def _stage_quality(params: dict) -> tuple[float, dict]:
    from analytics.metrics.quality import quality_report

    con = _connect_read_only(params)
    detail: dict = {}
    started = time.perf_counter()
    period = _timed(detail, "period", lambda: _period(con, params["period"]))
    report = _timed(detail, "quality_report", lambda: quality_report(con, period))
    seconds = time.perf_counter() - started
    con.close()
    detail["period"] = str(period)
    detail["warnings"] = int((report["status"] == "warn").sum())
    return seconds, detail


def _stage_cohorts(params: dict) -> tuple[float, dict]:
    from analytics.metrics.cohorts import cohort_funnel

    con = _connect_read_only(params)
    detail: dict = {}
    started = time.perf_counter()
    period = _timed(detail, "period", lambda: _period(con, params["period"]))
    cohorts = _timed(detail, "cohort_funnel", lambda: cohort_funnel(con, period, grain="week"))
    seconds = time.perf_counter() - started
    con.close()
    detail["period"] = str(period)
    detail["rows"] = len(cohorts)
    return seconds, detail


def _stage_journeys(params: dict) -> tuple[float, dict]:
    from analytics.attribution import compare_models
    from analytics.metrics.journeys import build_journeys

    con = _connect_read_only(params)
    detail: dict = {}
    started = time.perf_counter()
    period = _timed(detail, "period", lambda: _period(con, params["period"]))
    journeys = _timed(
        detail, "build_journeys", lambda: build_journeys(con, "lead", 30, period=period)
    )
    _timed(detail, "compare_models", lambda: compare_models(journeys.paths, journeys.touches))
    seconds = time.perf_counter() - started
    con.close()
    detail["period"] = str(period)
    detail["journeys"] = len(journeys.journeys)
    detail["touches"] = len(journeys.touches)
    detail["distinct_paths"] = len(journeys.paths)
    return seconds, detail


def _stage_scoring(params: dict) -> tuple[float, dict]:
    """Train + score as the weekly build does, then the speed and accuracy ratios.

    Speed is measured in this one process on every labelled lead (about 100k
    at 12.5M visits): ``fit_ratio`` = LeadScoringModel fit (one early-stopped
    booster, Platt calibration on its holdout, the trees flattened for the
    reasons and importance) / a bare ``HistGradientBoostingClassifier()`` fit
    with default parameters on the same leads; ``score_with_reasons_s`` =
    calibrated scores + top-3 reasons of every lead, after one call on 10
    leads (``score_first_10_s``, which loads the compiled reason code once
    per process);
    ``reason_phrases_s`` = those reasons in Russian words, one line per lead
    (what the call list and ``lead_scores`` show). Each is given in wall
    seconds and in CPU seconds of the process (``*_cpu_s``: on a shared machine
    the wall time also counts waiting for a core), with the targets (fit <= 2x
    bare and <= 5 s, scoring <= 1 s on 2 cores) in ``speed_targets``.
    Accuracy: validation ROC-AUC (later 25% of labelled leads) of the model,
    the bare booster, LightGBM defaults when installed, the model without the
    similarity features, and the oracle (true probabilities of the demo);
    ``auc_share_of_oracle`` against the target 0.97.
    """
    import warnings

    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    from analytics.scoring import (
        SIMILARITY_FEATURES,
        LeadScoringModel,
        lead_features,
        oracle_probabilities,
        reason_phrases,
        score_leads,
        sql_target,
        time_split,
        train,
    )

    con = _connect_read_only(params)
    detail: dict = {}
    started = time.perf_counter()
    model, metrics = _timed(detail, "train", lambda: train(con, kind="boosting"))
    scores = _timed(detail, "score_leads", lambda: score_leads(con, model))
    seconds = time.perf_counter() - started
    detail["leads_scored"] = len(scores)
    detail["validation_auc"] = metrics.get("roc_auc")

    from analytics.scoring import features as feature_module

    feature_module._LAST_FEATURES.clear()  # time the computation, not the process memo
    features = _timed(detail, "lead_features", lambda: lead_features(con))
    target = sql_target(con, 30)
    X_train, X_valid, y_train, y_valid = time_split(features, target, 0.25)
    X_train, X_valid = X_train.drop(columns="created_at"), X_valid.drop(columns="created_at")

    def bare_frame(frame):
        frame = frame.copy()
        for name in frame.columns:
            if not pd.api.types.is_numeric_dtype(frame[name]):
                frame[name] = frame[name].astype("category")
        return frame

    bare_train, bare_valid = bare_frame(X_train), bare_frame(X_valid)
    for name in bare_valid.select_dtypes("category"):
        bare_valid[name] = bare_valid[name].cat.set_categories(bare_train[name].cat.categories)

    def both_clocks(name, call):
        cpu = time.process_time()
        result = _timed(detail, name, call)
        detail[f"{name}_cpu_s"] = round(time.process_time() - cpu, 4)
        return result

    X_all, y_all = pd.concat([X_train, X_valid]), pd.concat([y_train, y_valid])
    bare_all = bare_frame(X_all)
    both_clocks(
        "bare_hgb_fit",
        lambda: HistGradientBoostingClassifier(
            categorical_features="from_dtype", random_state=0
        ).fit(bare_all, y_all),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = both_clocks("model_fit", lambda: LeadScoringModel().fit(X_all, y_all))
    everyone = features.drop(columns="created_at")
    # first call of the process: Numba loads the compiled reason code (timed apart)
    _timed(detail, "score_first_10", lambda: fitted.score_with_reasons(everyone.head(10), n=3))
    scored = both_clocks("score_with_reasons", lambda: fitted.score_with_reasons(everyone, n=3))
    both_clocks("reason_phrases", lambda: reason_phrases(scored, "ru"))
    detail["leads_fit"] = len(X_all)
    detail["leads_all"] = len(everyone)
    detail["model_trees"] = int(fitted.n_iter_)
    detail["fit_ratio"] = round(detail["model_fit_s"] / detail["bare_hgb_fit_s"], 3)
    detail["fit_ratio_cpu"] = round(detail["model_fit_cpu_s"] / detail["bare_hgb_fit_cpu_s"], 3)
    detail["speed_targets"] = {
        "fit_ratio_max": 2.0,
        "fit_s_max": 5.0,
        "score_with_reasons_s_max": 1.0,
        "fit_ratio_met": detail["fit_ratio"] <= 2.0,
        "fit_s_met": detail["model_fit_s"] <= 5.0,
        "score_s_met": detail["score_with_reasons_s"] <= 1.0,
    }
    bare = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    bare.fit(bare_train, y_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = LeadScoringModel().fit(X_train, y_train)
    detail["leads_train"] = len(X_train)
    auc = {
        "model": roc_auc_score(y_valid, ours.predict_proba(X_valid)[:, 1]),
        "bare_hgb": roc_auc_score(y_valid, bare.predict_proba(bare_valid)[:, 1]),
    }
    without = [c for c in SIMILARITY_FEATURES if c in X_train.columns]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = LeadScoringModel().fit(X_train.drop(columns=without), y_train)
    auc["model_without_similarity"] = roc_auc_score(
        y_valid, plain.predict_proba(X_valid.drop(columns=without))[:, 1]
    )
    try:
        from lightgbm import LGBMClassifier

        lgbm = LGBMClassifier(verbose=-1, random_state=0)
        _timed(detail, "lightgbm_fit", lambda: lgbm.fit(bare_train, y_train))
        auc["lightgbm"] = roc_auc_score(y_valid, lgbm.predict_proba(bare_valid)[:, 1])
    except ImportError:
        detail["lightgbm"] = "not installed (pip install -e '.[dev]')"
    oracle = oracle_probabilities(con, X_valid.index)
    if oracle is not None:
        auc["oracle"] = roc_auc_score(y_valid, oracle)
        detail["auc_share_of_oracle"] = round(auc["model"] / auc["oracle"], 4)
        detail["auc_share_target_met"] = detail["auc_share_of_oracle"] >= 0.97
    detail["validation_auc_same_split"] = {k: round(float(v), 4) for k, v in auc.items()}
    con.close()
    return seconds, detail


def scoring_summary(detail: dict) -> list[str]:
    """Console lines of the scoring stage: speed ratios and seconds against the targets."""
    if "fit_ratio" not in detail:
        return []
    lines = [
        f"fit on {detail['leads_fit']:,} leads: {detail['model_fit_s']:.2f} s "
        f"(CPU {detail['model_fit_cpu_s']:.2f} s, {detail['model_trees']} trees) vs bare "
        f"HistGradientBoosting {detail['bare_hgb_fit_s']:.2f} s (CPU "
        f"{detail['bare_hgb_fit_cpu_s']:.2f} s): ratio {detail['fit_ratio']:.2f} "
        f"(CPU {detail['fit_ratio_cpu']:.2f}); targets <= 2x and <= 5 s",
        f"scores + 3 reasons of {detail['leads_all']:,} leads: "
        f"{detail['score_with_reasons_s']:.2f} s (CPU {detail['score_with_reasons_cpu_s']:.2f} s);"
        " target <= 1 s",
    ]
    if "reason_phrases_s" in detail:
        lines.append(
            f"their reasons in words: {detail['reason_phrases_s']:.2f} s "
            f"(CPU {detail['reason_phrases_cpu_s']:.2f} s)"
        )
    if "auc_share_of_oracle" in detail:
        lines.append(
            f"validation ROC-AUC {detail['validation_auc_same_split']['model']:.4f} = "
            f"{detail['auc_share_of_oracle']:.4f} of the oracle's; target >= 0.97"
        )
    return lines


def _stage_model(params: dict) -> tuple[float, dict]:
    """The lead-scoring model the weekly report loads, as an earlier week left it in the
    model folder: trained on this warehouse when the folder has none (kept with the data
    under ``--keep-data``), else left as it is. Not part of the weekly build's time: a
    weekly run trains only when monitoring asks for it (``scoring.training.load_or_train``)."""
    from analytics.scoring.persistence import card_path
    from analytics.scoring.training import latest_model, load_or_train

    models = Path(params["models"])
    started = time.perf_counter()
    trained = latest_model(models) is None
    if trained:
        load_or_train(params["warehouse"], models)
    seconds = time.perf_counter() - started
    path = latest_model(models)
    card = json.loads(card_path(path).read_text(encoding="utf-8"))
    return seconds, {
        "trained_now": trained,
        "model": path.name,
        "training_window": card.get("training_window"),
        "data_fingerprint": card.get("data_fingerprint"),
    }


def _model_roles(models: Path) -> list:
    """Every role file's role, with ``model_dir`` set to ``models`` where one of its
    notebooks declares it (the scoring pages and the runner's lead-scoring step)."""
    from dataclasses import replace

    from analytics.reports.roles import available_roles, load_role
    from analytics.reports.runner import declared_parameters

    roles = []
    for name in available_roles():
        role = load_role(name)
        if any("model_dir" in declared_parameters(n) for n in role.notebooks):
            role = replace(role, parameters={**role.parameters, "model_dir": str(models)})
        roles.append(role)
    return roles


def _stage_report(params: dict) -> tuple[float, dict]:
    from analytics.reports.runner import run_reports

    out = Path(params["reports"])
    shutil.rmtree(out, ignore_errors=True)
    roles = _model_roles(Path(params["models"]))
    started = time.perf_counter()
    summary = run_reports(
        roles=roles,
        period="last-week",
        warehouse=params["warehouse"],
        out_dir=out,
        jobs=None,
        progress=False,
    )
    seconds = time.perf_counter() - started
    detail = {
        "ok": summary.ok,
        "period": str(summary.period),
        "notebooks": [
            {
                "role": r.role,
                "notebook": r.notebook,
                "status": r.status,
                "execute_s": round(r.execute_seconds, 2),
                "render_s": round(r.render_seconds, 2),
                "error": r.error,
            }
            for r in summary.results
        ],
    }
    manifest = json.loads(summary.manifest_path.read_text(encoding="utf-8"))
    detail["executions"] = manifest.get("executions")
    detail["distinct_notebooks"] = len({r.notebook for r in summary.results})
    detail["snapshot_s"] = (manifest.get("snapshot") or {}).get("seconds")
    floor = weekly_floor(detail["distinct_notebooks"], out)
    # the goal's ratio counts distinct notebooks; the one by executions is kept beside it
    # (they coincide when every notebook is executed once, analytics.reports.views)
    floor["executions"] = detail["executions"] or len(summary.results)
    floor["executions_floor_s"] = round(
        floor["executions"] * floor["notebook_s"] / floor["cores"], 3
    )
    floor["ratio"] = round(seconds / floor["floor_s"], 2)
    floor["executions_ratio"] = round(seconds / floor["executions_floor_s"], 2)
    detail["floor"] = floor
    if not summary.ok:
        raise RuntimeError("; ".join(f"{f.role}/{f.notebook}: {f.error}" for f in summary.failures))
    return seconds, detail


FLOOR_NOTEBOOK_SOURCE = """\
import duckdb
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

frame = pd.DataFrame({"x": range(10), "y": range(10)})
sns.lineplot(data=frame, x="x", y="y")
plt.show()
duckdb.sql("SELECT 1").fetchall()
"""
"""The one-cell notebook of the floor: the report notebooks' imports and one plot."""

FLOOR_RATIO_GOAL = 3.0
"""The weekly build should take at most this many floors (issue 11)."""


def weekly_floor(notebooks: int, work: Path, repeat: int = 2) -> dict:
    """What the weekly build cannot go below on this machine, measured now.

    floor = notebooks x (Papermill time of :data:`FLOOR_NOTEBOOK_SOURCE`) / cores,
    where notebooks is the number of distinct notebooks of the report (issue 11:
    each one executed once and rendered per role) and the notebook time is the
    median of ``repeat`` runs, s.
    """
    import nbformat
    import papermill
    from nbformat.v4 import new_code_cell, new_notebook

    work.mkdir(parents=True, exist_ok=True)
    source = work / "floor.ipynb"
    notebook = new_notebook(cells=[new_code_cell(FLOOR_NOTEBOOK_SOURCE)])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, source)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        papermill.execute_notebook(
            str(source), str(work / "floor-out.ipynb"), kernel_name="python3", progress_bar=False
        )
        times.append(time.perf_counter() - started)
    cores = os.cpu_count() or 1
    notebook_s = statistics.median(times)
    return {
        "notebooks": notebooks,
        "cores": cores,
        "notebook_s": round(notebook_s, 3),
        "floor_s": round(notebooks * notebook_s / cores, 3),
        "goal_ratio": FLOOR_RATIO_GOAL,
    }


def run_child(stage_key: str, params: dict, result_path: Path) -> int:
    """Run one stage in this process and write ``{"status", "seconds", "detail"}``.

    ``status`` is ``ok``, ``skipped`` (the stage's module or function is not
    importable: another engineer's module that is not there yet) or ``failed``.
    """
    stage = globals()[f"_stage_{stage_key}"]
    try:
        seconds, detail = stage(params)
        result = {"status": "ok", "seconds": seconds, "detail": detail}
    except ImportError as exc:
        result = {"status": "skipped", "note": f"not importable: {exc}"}
    except Exception as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        result = {
            "status": "failed",
            "error": f"{type(exc).__name__}: {lines[0] if lines else ''}"[:500],
        }
    result_path.write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0 if result["status"] != "failed" else 1


# --------------------------------------------------------------------------- stages (parent side)


@dataclass
class StageResult:
    """Timings and memory of one stage (see the module docstring for the columns)."""

    name: str
    label: str
    status: str
    seconds: float | None = None
    process_seconds: float = 0.0
    cpu_seconds: float | None = None
    x_baseline: float | None = None
    peak_mb: float | None = None
    max_process_mb: float | None = None
    peak_pss_mb: float | None = None
    load_average_before: float | None = None
    note: str | None = None
    detail: dict = field(default_factory=dict)


class _TreeSampler(threading.Thread):
    """Samples the RSS (and PSS) sums of a process and its descendants until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.peak_rss = 0
        self.peak_pss = 0
        self._stop_event = threading.Event()
        self._root = psutil.Process(pid) if psutil is not None else None

    def run(self) -> None:
        tick = 0
        while self._root is not None and not self._stop_event.is_set():
            try:
                procs = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                break
            with_pss = tick % PSS_EVERY == 0
            rss = pss = 0
            for proc in procs:
                try:
                    if with_pss:
                        full = proc.memory_full_info()
                        rss, pss = rss + full.rss, pss + full.pss
                    else:
                        rss += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            tick += 1
            self._stop_event.wait(SAMPLE_SECONDS)

    def stop(self) -> tuple[int, int]:
        self._stop_event.set()
        self.join(timeout=5)
        return self.peak_rss, self.peak_pss


def _child_env() -> dict:
    env = dict(os.environ)
    # demo data only, like the Makefile; a real load sets its own secret
    env.setdefault("ANALYTICS_PII_SALT", "benchmark-only-salt")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_stage(stage: Stage, params: dict, log_dir: Path, timeout: float | None) -> StageResult:
    """Run ``stage`` in a new Python process; measure its wall time and memory."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stem = stage.name.replace(":", "-")
    result_path = log_dir / f"{stem}.result.json"
    result_path.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.pipeline_bench",
        "--child",
        stage.key,
        "--params",
        json.dumps({**params, "period": stage.period}),
        "--result",
        str(result_path),
    ]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with (log_dir / f"{stem}.log").open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=_child_env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        sampler = _TreeSampler(proc.pid)
        sampler.start()
        timer = None
        if timeout:
            timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)  # the stage's own process group
            raise
        finally:
            if timer is not None:
                timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak, peak_pss = sampler.stop()
    wall = time.perf_counter() - started
    max_proc_mb = usage.ru_maxrss / 1024  # kB on Linux
    out = StageResult(
        name=stage.name,
        label=stage.label + (f" [{stage.period}]" if stage.period else ""),
        status="failed",
        process_seconds=round(wall, 3),
        cpu_seconds=round(usage.ru_utime + usage.ru_stime, 2),
        peak_mb=round(max(peak / 2**20, max_proc_mb), 1),
        max_process_mb=round(max_proc_mb, 1),
        peak_pss_mb=round(peak_pss / 2**20, 1) if peak_pss else None,
        load_average_before=round(load_before, 2),
    )
    if not result_path.is_file():
        out.note = f"process exited with {proc.returncode} and no result; see {log.name}"
        return out
    child = json.loads(result_path.read_text(encoding="utf-8"))
    out.status = child["status"]
    out.note = child.get("note") or child.get("error")
    if child["status"] == "ok":
        out.seconds = round(child["seconds"], 4)
        out.detail = child["detail"]
    return out


# --------------------------------------------------------------------------- machine and output


def machine_info() -> dict:
    """Cores, RAM, CPU, Python and package versions, git commit of the tree."""
    info: dict = {
        "cores": os.cpu_count(),
        "ram_gb": None,
        "cpu": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {},
        "git_commit": None,
        "git_dirty": None,
    }
    if psutil is not None:
        info["ram_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    for name in PACKAGES:
        try:
            info["packages"][name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info["packages"][name] = None
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # read-only: never refresh the index
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, env=env
        )
        info["git_commit"] = head.stdout.strip() or None
        diff = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", "src", "benchmarks", "notebooks", "params"],
            cwd=ROOT,
            capture_output=True,
            env=env,
        )
        info["git_dirty"] = diff.returncode != 0
    except OSError:
        pass
    return info


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(results: list[StageResult], build: dict) -> str:
    """Readable table of the stages plus the weekly build row."""
    header = (
        f"{'stage':<58} {'seconds':>9} {'x baseline':>11} {'cpu s':>8} {'peak MB':>8} "
        f"{'max proc MB':>11} {'peak PSS MB':>11}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        if r.status == "ok":
            lines.append(
                f"{r.label:<58} {_fmt(r.seconds, '9.2f')} {_fmt(r.x_baseline, '11,.1f')} "
                f"{_fmt(r.cpu_seconds, '8.1f')} {_fmt(r.peak_mb, '8,.0f')} "
                f"{_fmt(r.max_process_mb, '11,.0f')} "
                f"{_fmt(r.peak_pss_mb, '11,.0f')}"
            )
        else:
            lines.append(f"{r.label:<58} {r.status.upper()}: {r.note}")
    lines.append("-" * len(header))
    if build.get("seconds") is not None:
        lines.append(
            f"{'WEEKLY BUILD = load + report':<58} {build['seconds']:9.2f} "
            f"{_fmt(build['x_baseline'], '11,.1f')} {build['cpu_seconds']:8.1f} "
            f"{build['peak_mb']:8,.0f} "
            f"{build['max_process_mb']:11,.0f} {_fmt(build['peak_pss_mb'], '11,.0f')}"
        )
    return "\n".join(lines)


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)


# --------------------------------------------------------------------------- one size


def run_size(
    label: str,
    visits: int,
    *,
    seed: int = 42,
    work_dir: Path = WORK_DIR,
    results_dir: Path = RESULTS_DIR,
    keep_data: bool = False,
    timeout: float | None = None,
    machine: dict | None = None,
    only: tuple[str, ...] | None = None,
) -> dict:
    """Benchmark every stage on ``visits`` visits; print the table, write the JSON.

    Parameters
    ----------
    only : tuple of str, optional
        Run only the stages with these keys (:func:`parse_only`). Without
        ``generate`` the raw files (and without ``load`` the warehouse) of an
        earlier ``--keep-data`` run in ``<work_dir>/<label>/`` are used, and
        the data are not removed afterwards (this run did not make them).

    Returns the JSON payload (also written to ``<results_dir>/<name>``,
    name from :func:`result_name`).
    """
    folder = work_dir / label
    params = {
        "visits": visits,
        "seed": seed,
        "raw": str(folder / "raw"),
        "warehouse": str(folder / "warehouse.duckdb"),
        "reports": str(folder / "reports"),
        "models": str(folder / "models"),
    }
    # the report scores with the model of this warehouse that an earlier week saved: the
    # "model" stage trains it once (not part of the build) when --only leaves it out
    wanted = None if only is None else {*only, *(("model",) if "report" in only else ())}
    stages = [s for s in STAGES if wanted is None or s.key in wanted]
    generates = any(s.key == "generate" for s in stages)
    if generates:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    else:
        needed = [Path(params["raw"])]
        if not any(s.key == "load" for s in stages):
            needed.append(Path(params["warehouse"]))
        missing = [str(p) for p in needed if not p.exists()]
        if missing:
            raise FileNotFoundError(
                f"--only without generate/load needs {', '.join(missing)} of an earlier run; not "
                "there: run those stages first, with --keep-data"
            )
    subset = "" if only is None else f", only {','.join(only)}"
    print(
        f"\n=== pipeline benchmark: {label} ({visits:,} visits requested, seed {seed}{subset}) ==="
    )
    results: list[StageResult] = []
    for stage in stages:
        result = run_stage(stage, params, folder / "logs", timeout)
        results.append(result)
        shown = f"{result.seconds:.2f} s" if result.seconds is not None else result.status
        print(
            f"  {result.label:<62} {shown:>12}  peak {result.peak_mb:,.0f} MB",
            flush=True,
        )
        if result.status == "ok" and stage.key == "scoring":
            for line in scoring_summary(result.detail or {}):
                print(f"    {line}")
        if result.status == "skipped":
            print(f"    note: skipped, {result.note}")
        elif result.status == "failed":
            print(f"    FAILED: {result.note} (log: {folder / 'logs'})")
            if stage.key in ("generate", "baseline", "load"):
                print("    later stages need it: stopping this size")
                break

    baseline = next((r for r in results if r.name == "baseline" and r.status == "ok"), None)
    for r in results:
        if baseline is not None and r.seconds is not None:
            r.x_baseline = round(r.seconds / baseline.seconds, 2)
    by_name = {r.name: r for r in results}
    parts = [by_name.get(name) for name in BUILD_STAGES]
    build: dict = {"stages": list(BUILD_STAGES), "limit_mb": BUILD_LIMIT_MB}
    if all(p is not None and p.status == "ok" for p in parts):
        build["seconds"] = round(sum(p.seconds for p in parts), 3)
        build["cpu_seconds"] = round(sum(p.cpu_seconds for p in parts), 2)
        build["x_baseline"] = (
            round(build["seconds"] / baseline.seconds, 2) if baseline is not None else None
        )
        build["peak_mb"] = max(p.peak_mb for p in parts)
        build["max_process_mb"] = max(p.max_process_mb for p in parts)
        pss = [p.peak_pss_mb for p in parts if p.peak_pss_mb is not None]
        build["peak_pss_mb"] = max(pss) if pss else None
        build["peak_stage"] = max(parts, key=lambda p: p.peak_mb).name
        build["under_limit"] = build["peak_mb"] < BUILD_LIMIT_MB
    else:
        build["under_limit"] = None

    generated = by_name.get("generate")
    rows = generated.detail.get("rows", {}) if generated and generated.detail else {}
    if not rows and (folder / "logs" / "generate.result.json").is_file():  # an earlier run's
        earlier = json.loads((folder / "logs" / "generate.result.json").read_text("utf-8"))
        rows = earlier.get("detail", {}).get("rows", {})
    print()
    print(
        f"{label}: {rows.get('visits', 0):,} visits, {rows.get('leads', 0):,} leads, "
        f"{rows.get('deals', 0):,} deals; baseline "
        + (f"{baseline.seconds:.3f} s (median of {BASELINE_REPEAT})" if baseline else "missing")
    )
    print(format_table(results, build))
    if only is not None and not set(BUILD_STAGES) <= set(only):
        print("weekly build: not in this run (--only)")
    elif build["under_limit"] is None:
        print(f"weekly build: incomplete, cannot check the {BUILD_LIMIT_MB:,} MB limit")
    else:
        verdict = "UNDER" if build["under_limit"] else "OVER"
        print(
            f"weekly build peak {build['peak_mb']:,.0f} MB (in {build['peak_stage']}): "
            f"{verdict} the {BUILD_LIMIT_MB:,} MB (4 GB) limit"
        )
    payload = {
        "benchmark": "pipeline",
        "size": label,
        "visits_requested": visits,
        "seed": seed,
        "only": list(only) if only is not None else None,
        "rows": rows,
        "created_at": datetime.now().isoformat(timespec="seconds"),
        "machine": machine or machine_info(),
        "units": {
            "seconds": "wall time of the stage's work inside its process",
            "process_seconds": "wall time of the whole stage process (start and imports too)",
            "cpu_seconds": "user + system CPU of the stage process tree (start and imports too)",
            "x_baseline": "seconds / baseline seconds",
            "peak_mb": "max sampled RSS sum of the stage's process tree, MB = 2**20 bytes",
            "max_process_mb": "ru_maxrss of the largest single process of the stage",
            "peak_pss_mb": "max sampled PSS sum of the process tree (every 0.5 s), MB",
        },
        "baseline": {
            "seconds": baseline.seconds if baseline else None,
            "definition": RAW_SCANS,
        },
        "stages": [asdict(r) for r in results],
        "weekly_build": build,
    }
    out = results_dir / result_name(label, only)
    _write_json(out, payload)
    print(f"written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    if generates and not keep_data:  # raw files, warehouses, spill folders, reports; logs stay
        for target in folder.iterdir():
            if target.name == "logs":
                continue
            if target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)
    return payload


def _child_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline_bench",
        description="Run one benchmark stage (used by `python -m benchmarks`).",
    )
    parser.add_argument("--child", required=True, help="stage key, e.g. load")
    parser.add_argument("--params", required=True, help="JSON parameters of the stage")
    parser.add_argument("--result", required=True, type=Path, help="where to write the result")
    args = parser.parse_args(argv)
    return run_child(args.child, json.loads(args.params), args.result)


if __name__ == "__main__":
    sys.exit(_child_main())
