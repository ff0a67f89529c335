"""The run's lead scoring (``analytics.scoring.period_scores``): computed once per run by
the runner for notebooks 05 and 11, equal to what each page computed for itself before
(``sql_oracle.old_scoring_page``), read back exactly, and computed by a notebook opened
by hand."""

from __future__ import annotations

import gc
import json
import os
from dataclasses import replace
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from sql_oracle import old_scoring_page

from analytics.reports import runner
from analytics.reports.roles import load_role
from analytics.scoring import period_scores
from analytics.scoring.period_scores import PeriodScores


def _hand_scores(calls_en: pd.DataFrame, calibration) -> PeriodScores:
    """A hand-made scoring: two features' drift, one call, an empty Russian list."""
    drift = pd.DataFrame(
        {
            "what": ["score", "pricing_viewed", "region"],
            "psi": [0.01, 0.3, 0.12],
            "shift": ["stable", "large", "moderate"],
            "importance": [np.nan, 0.5, 0.25],
        }
    )
    return PeriodScores(
        model_version="lead_scoring_20250101T000000Z",
        status={
            "model_path": "/m/lead_scoring_20250101T000000Z.skops",
            "retrained": False,
            "why": "the saved model is still fine",
        },
        monitoring={
            "drift": drift,
            "calibration": calibration,
            "recommendation": {"retrain": True, "reasons": ["important feature shifted"]},
            "recent_leads": 12,
            "reference_leads": 340,
        },
        importance=pd.Series(
            [0.5, 0.25],
            index=pd.Index(["pricing_viewed", "region"], dtype=object),
            name="mean_abs_contribution",
        ),
        card={"model_version": "lead_scoring_20250101T000000Z", "metrics": {"roc_auc": 0.71}},
        calls={
            "en": calls_en,
            "ru": pd.DataFrame(
                columns=[
                    "lead",
                    "label",
                    "owner",
                    "channel",
                    "hours_since_request",
                    "score",
                    "band",
                    "reasons",
                    "probability",
                ]
            ),
        },
    )


def _assert_same(read: PeriodScores, written: PeriodScores) -> None:
    assert read.model_version == written.model_version
    assert read.status == written.status
    assert read.card == written.card
    pd.testing.assert_series_equal(read.importance, written.importance)
    pd.testing.assert_frame_equal(read.monitoring["drift"], written.monitoring["drift"])
    for key in ("recommendation", "recent_leads", "reference_leads"):
        assert read.monitoring[key] == written.monitoring[key]
    assert read.calls.keys() == written.calls.keys()
    for language, frame in written.calls.items():
        pd.testing.assert_frame_equal(read.calls[language], frame)


def test_written_scores_read_back_exactly(tmp_path):
    """Text columns come back as the objects they were (pandas reads Parquet text as
    ``str``), numbers as written, NaN (the score row's importance, a calibration
    without outcomes) as NaN, an empty list as an empty list of the same columns."""
    calls = pd.DataFrame(
        {
            "lead": pd.Series(["L1", "L2"], dtype="str"),
            "label": pd.Series(["Form, IT", ""], dtype=object),
            "owner": np.array(["Анна", ""], dtype=object),
            "channel": np.array(["yandex_direct", ""], dtype=object),
            "hours_since_request": [1.5, np.nan],
            "score": np.array([37, 5]),
            "band": np.array(["A", "D"], dtype=object),
            "reasons": np.array(
                ["+ viewed the pricing page", "− region: not filled"], dtype=object
            ),
            "probability": [0.37, 0.05],
        }
    )
    no_outcomes = {
        "leads": 0,
        "mean_score": np.nan,
        "observed_rate": np.nan,
        "gap": np.nan,
        "by_decile": pd.DataFrame(columns=["decile", "leads", "mean_score", "observed_rate"]),
    }
    written = _hand_scores(calls, no_outcomes)
    path = period_scores.write_period_scores(written, tmp_path / "lead_scoring")
    by_str = replace(
        written,
        importance=written.importance.set_axis(pd.Index(["pricing_viewed", "region"], dtype="str")),
    )  # a fitted model's index
    read = period_scores.read_period_scores(
        period_scores.write_period_scores(by_str, tmp_path / "str")
    )
    pd.testing.assert_series_equal(read.importance, by_str.importance)
    assert path == tmp_path / "lead_scoring" / "lead_scoring.json"
    assert "NaN" not in path.read_text(encoding="utf-8")  # strict JSON
    read = period_scores.read_period_scores(path)
    _assert_same(read, written)
    calibration = read.monitoring["calibration"]
    assert calibration["leads"] == 0 and np.isnan(calibration["mean_score"])
    assert np.isnan(calibration["gap"]) and calibration["by_decile"].empty
    assert list(calibration["by_decile"].columns) == [
        "decile",
        "leads",
        "mean_score",
        "observed_rate",
    ]
    written_calls = written.calls["en"]
    assert dict(read.calls["en"].dtypes) == dict(written_calls.dtypes)
    assert any(map(pd.api.types.is_object_dtype, written_calls.dtypes))  # objects, not str


def test_a_missing_or_foreign_file_is_named(tmp_path):
    with pytest.raises(period_scores.LeadScoringError, match="nowhere.json: not a readable"):
        period_scores.read_period_scores(tmp_path / "nowhere.json")
    other = tmp_path / "lead_scoring.json"
    other.write_text(json.dumps({"format_version": 99}), encoding="utf-8")
    with pytest.raises(period_scores.LeadScoringError, match="expected lead scoring format 1"):
        period_scores.read_period_scores(tmp_path)


def test_a_notebook_without_the_parameter_computes_it_and_with_it_reads_it(monkeypatch, tmp_path):
    """``lead_scoring = None`` (opened by hand): computed here, with the warehouse and
    model folder from the project root; a path: read, nothing computed."""
    calls = []

    def computing(warehouse, period, model_dir, *, retrain, languages):
        calls.append((Path(warehouse).name, period, Path(model_dir).name, retrain))
        return written

    written = _hand_scores(pd.DataFrame(columns=["lead"]), None)
    monkeypatch.setattr(period_scores, "compute_period_scores", computing)
    got = period_scores.load_or_compute(
        None, "data/warehouse.duckdb", "2025-W52", "data/models", retrain=True
    )
    assert got is written
    assert calls == [("warehouse.duckdb", "2025-W52", "models", True)]
    path = period_scores.write_period_scores(written, tmp_path)
    read = period_scores.load_or_compute(
        str(path), "data/warehouse.duckdb", "2025-W52", "data/models"
    )
    assert len(calls) == 1
    assert read.model_version == written.model_version


@pytest.fixture
def counted(monkeypatch):
    """``compute_period_scores`` counted; it returns a hand-made scoring."""
    calls = []

    def computing(warehouse, period, model_dir, *, retrain=False, languages=("ru", "en")):
        calls.append((model_dir, retrain))
        return _hand_scores(pd.DataFrame(columns=["lead"]), None)

    monkeypatch.setattr(period_scores, "compute_period_scores", computing)
    return calls


def _tasks(tmp_path, analyst_parameters=None):
    """The executions of a sales + analyst + ceo run (05 and 11 among them)."""
    analyst = load_role("analyst")
    if analyst_parameters:
        analyst = replace(analyst, parameters={**analyst.parameters, **analyst_parameters})
    shared = {"warehouse": "w.duckdb", "period": "last-week", "snapshot": "m.json"}
    return runner._executions([load_role("sales"), analyst, load_role("ceo")], tmp_path, shared)


def test_the_runner_computes_the_scoring_once_for_05_and_11(counted, tmp_path):
    tasks = _tasks(tmp_path)
    shared, done = runner.share_lead_scoring(tasks, tmp_path / "w.duckdb", None, tmp_path)
    assert len(counted) == 1
    path = tmp_path / "marts" / "lead_scoring" / "lead_scoring.json"
    assert path.is_file() and done[0]["path"] == path and done[0]["error"] is None
    given = {t.notebook.name: t.parameters.get("lead_scoring") for t in shared}
    assert given["05_lead_scoring.ipynb"] == given["11_sales_call_list.ipynb"] == str(path)
    assert {name for name, value in given.items() if value} == {
        "05_lead_scoring.ipynb",
        "11_sales_call_list.ipynb",
    }
    assert len(shared) == len(tasks)


def test_a_run_without_a_scoring_page_computes_nothing(counted, tmp_path):
    tasks = runner._executions([load_role("ceo")], tmp_path, {"warehouse": "w.duckdb"})
    assert runner.share_lead_scoring(tasks, tmp_path / "w.duckdb", None, tmp_path) == (tasks, [])
    assert counted == []


def test_a_retraining_page_is_computed_first_and_apart(counted, tmp_path):
    """05 retrains (analyst role), 11 does not: two computations, the retraining one
    first so that 11's loads the model it saved; each page gets its own."""
    tasks = _tasks(tmp_path, {"retrain": True})
    shared, done = runner.share_lead_scoring(tasks, tmp_path / "w.duckdb", None, tmp_path)
    assert [retrain for _, retrain in counted] == [True, False]
    given = {t.notebook.name: t.parameters.get("lead_scoring") for t in shared}
    assert given["05_lead_scoring.ipynb"].endswith("marts/lead_scoring/lead_scoring.json")
    assert given["11_sales_call_list.ipynb"].endswith("marts/lead_scoring_2/lead_scoring.json")


def test_a_failed_computation_leaves_the_pages_to_compute(monkeypatch, tmp_path):
    def failing(*args, **kwargs):
        raise ValueError("the warehouse has no leads")

    monkeypatch.setattr(period_scores, "compute_period_scores", failing)
    tasks = _tasks(tmp_path)
    shared, done = runner.share_lead_scoring(tasks, tmp_path / "w.duckdb", None, tmp_path)
    assert done[0]["path"] is None
    assert done[0]["error"] == "ValueError: the warehouse has no leads"
    assert all("lead_scoring" not in t.parameters for t in shared)


def _injected(ipynb: Path) -> str:
    notebook = nbformat.read(ipynb, as_version=4)
    cell = next(c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", []))
    return cell.source


def test_the_weekly_run_shares_one_scoring_equal_to_each_pages_own(tiny_reports, tiny_warehouse):
    """The tiny demo's run: one computation, passed to 05 and 11; its model status,
    drift, importance and call lists (both languages) are exactly what each page
    computed for itself before (``old_scoring_page``: the model, then ``monitor`` and
    the call list per language, each language scoring the leads again)."""
    from analytics.metrics.period import data_anchor, data_bounds, parse_period
    from analytics.scoring import card_path, load_model
    from analytics.warehouse import connect

    manifest = json.loads(tiny_reports.manifest_path.read_text(encoding="utf-8"))
    (entry,) = manifest["lead_scoring"]
    assert entry["error"] is None
    path = tiny_reports.folder / entry["path"]
    for role, notebook in (("analyst", "05_lead_scoring"), ("sales", "11_sales_call_list")):
        assert f'lead_scoring = "{path}"' in _injected(
            tiny_reports.folder / role / f"{notebook}.ipynb"
        )
    shared = period_scores.read_period_scores(path)

    model = load_model(shared.status["model_path"])
    con = connect(tiny_warehouse, read_only=True)
    try:
        period = parse_period("last-week", data_anchor(con), bounds=data_bounds(con))
        # the run found no saved model and trained one: monitoring was not run by load_or_train
        assert shared.status["retrained"] is True
        old = old_scoring_page(con, model, {"monitoring": None}, period, ("ru", "en"))
    finally:
        con.close()
    assert shared.model_version == model.model_version_
    pd.testing.assert_frame_equal(shared.monitoring["drift"], old["monitoring"]["drift"])
    assert shared.monitoring["recommendation"] == old["monitoring"]["recommendation"]
    assert shared.monitoring["recent_leads"] == old["monitoring"]["recent_leads"]
    assert shared.monitoring["reference_leads"] == old["monitoring"]["reference_leads"]
    pd.testing.assert_series_equal(shared.importance, old["importance"])
    for language in ("ru", "en"):
        assert len(old["calls"][language]) > 0
        pd.testing.assert_frame_equal(shared.calls[language], old["calls"][language])
    card = json.loads(card_path(shared.status["model_path"]).read_text(encoding="utf-8"))
    assert shared.card == card


def test_a_scoring_process_that_fails_leaves_the_pages_to_compute(monkeypatch, tmp_path):
    """The runner computes the scoring in a process of its own
    (``share_lead_scoring_apart``); when that process cannot do it at all (here its
    arguments cannot even be sent to it: the period is a lambda), the error is recorded
    per (model folder, retrain) and no page gets a path, as for a failed computation."""
    tasks = _tasks(tmp_path)
    # a plain worker: its start need not import skops for a process that gets nothing
    monkeypatch.setattr(runner, "scoring_process", lambda: runner.notebook_pool(1))
    shared, done = runner.share_lead_scoring_apart(
        tasks, tmp_path / "w.duckdb", lambda: None, tmp_path
    )
    assert shared == tasks
    assert len(done) == 1 and done[0]["path"] is None and done[0]["retrain"] is False
    assert "pickle" in done[0]["error"].lower()
    assert all("lead_scoring" not in t.parameters for t in shared)


def test_a_small_warehouse_is_scored_in_the_runner_and_a_big_one_apart(tmp_path):
    """From ``SCORING_APART_MIN_BYTES`` (64 MiB) the scoring gets a process of its own."""
    small, big = tmp_path / "small.duckdb", tmp_path / "big.duckdb"
    small.write_bytes(b"\0" * 1024)
    with big.open("wb") as file:
        file.truncate(runner.SCORING_APART_MIN_BYTES)  # sparse: no disk space used
    assert runner.scores_apart(small) is False
    assert runner.scores_apart(big) is True


def test_without_a_scoring_page_no_scoring_process_starts(monkeypatch, tmp_path):
    """A run without a scoring page: nothing to compute, the tasks come back unchanged
    and no scoring process is started."""

    def no_process(workers):
        raise AssertionError("a scoring process was started")

    monkeypatch.setattr(runner, "notebook_pool", no_process)
    tasks = runner._executions([load_role("ceo")], tmp_path, {"warehouse": "w.duckdb"})
    shared, done = runner.share_lead_scoring_apart(tasks, tmp_path / "w.duckdb", None, tmp_path)
    assert (shared, done) == (tasks, [])


SKOPS_TRUSTED_NAMES = (
    "{k: list(getattr(m, k)) for m in [__import__('skops.io._trusted_types', fromlist=['_'])]"
    " for k in dir(m) if k.endswith('_NAMES')}"
)
"""skops's default trusted type names, as the process's import of skops listed them (an
expression for ``eval``: a builtin, so the scoring process need not import this module)."""


def test_the_scoring_process_trusts_what_skops_trusts_anywhere():
    """The scoring process imports skops first thing (cheaper: fewer modules to search
    for SciPy's ufuncs); what skops then trusts must equal its lists in this test
    process, which imported skops after pytest, pandas, DuckDB and Ibis."""
    import pandas  # noqa: F401 -- loaded before skops here, as in the runner

    import analytics.scoring.persistence  # noqa: F401 -- imports skops
    from analytics.reports.kernels import COLLECTOR_THRESHOLDS
    from analytics.warehouse.connection import THREADS_VAR

    with runner.scoring_process() as child:
        there = child.submit(eval, SKOPS_TRUSTED_NAMES).result()
        threads = child.submit(os.getenv, THREADS_VAR).result()
        thresholds = child.submit(gc.get_threshold).result()
    assert threads == os.environ.get(THREADS_VAR, "1")  # one DuckDB thread unless set
    assert thresholds == COLLECTOR_THRESHOLDS  # the report processes' collector
    here = eval(SKOPS_TRUSTED_NAMES)
    assert len(here["SCIPY_UFUNC_TYPE_NAMES"]) > 100
    assert len(here["SKLEARN_ESTIMATOR_TYPE_NAMES"]) > 100
    assert there == here
