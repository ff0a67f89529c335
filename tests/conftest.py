"""Shared fixtures: the tiny demo company, generated once per test session, and the one
SparkSession of the Spark parity tests (``spark_session.py``)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from spark_session import start_session
from tiny_demo import TEST_SALT, TINY_SEED

from analytics import warehouse
from analytics.demo import generator
from analytics.reports.kernels import quieter_collector
from analytics.reports.runner import skip_iri_grammars

skip_iri_grammars()  # before the tests import nbformat: 2.1 CPU-s less per pytest worker

SHARED_SESSIONS = ("tiny_reports", "spark")
"""Session fixtures too costly to build once per xdist worker: the weekly run on the tiny
demo (12 notebook executions, one per distinct notebook) and the Spark session (a JVM)."""

HEAVY_FIRST = (
    "tiny_reports",
    "spark",
    "tests/reports/test_notebooks_as_opened.py",
    "tests/reports/test_runner.py",
    "tests/metrics/test_ibis_port.py",
    "tests/scoring/test_scoring.py",
    "tests/metrics/test_drilldown_tables.py",
    "tests/reports/test_kernels.py",
)
"""Work units handed out first, in this order (the rest go by number of tests, pytest-xdist's
default): the two shared sessions start at once on the two workers of the CI machine, and the
modules executing notebooks of their own (every notebook as opened; the runner's runs on a
hand-made warehouse) go next, then the other modules costing 10-30 CPU-s in few tests (the
frozen-SQL comparisons, the scoring model, the drill-down's one query, the warm kernels' run),
so that no costly unit is left for the end of the run, when the other worker has nothing left
to take (measured with ``--cpu-profile``: the drill-down and kernel modules, taken last, kept
one worker busy 17 s after the other had finished)."""


@functools.cache
def _shared_session_of(module: str) -> str | None:
    """The first of :data:`SHARED_SESSIONS` that a function of the test module (path from
    the project root) takes as an argument, or None."""
    import ast

    try:
        tree = ast.parse((Path(__file__).parent.parent / module).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError):
        return None
    taken = {
        arg.arg
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for arg in node.args.args
    }
    return next((name for name in SHARED_SESSIONS if name in taken), None)


def pytest_addoption(parser):
    parser.addoption(
        "--cpu-profile",
        metavar="DIR",
        help="append each test phase's CPU seconds (with its kernels, JVM, browser) to "
        "DIR/<worker>.jsonl; summary: python tests/cpu_profile.py DIR",
    )


def pytest_configure(config):
    # the report processes' collector thresholds (their docstring: on tests/metrics in
    # one process, 10.4 of 136 CPU-s in the collector with Python's, 2.8 of 130 with them)
    quieter_collector()
    folder = config.getoption("--cpu-profile")
    if folder:
        from cpu_profile import CpuProfile

        config.pluginmanager.register(CpuProfile(Path(folder)), "cpu-profile")


def pytest_collection_finish(session):
    """Move what collection built (modules, items, imported libraries) out of the
    collector's reach (:func:`gc.freeze`): it lives until the process ends anyway."""
    import gc

    gc.collect()
    gc.freeze()


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook; ignored without pytest-xdist
def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist (``make test``: ``-n auto``) a worker takes whole modules, and all
    modules using one of :data:`SHARED_SESSIONS` go to one worker, so each session fixture
    and every module-scoped one (a hand-made warehouse) is built once; the units of
    :data:`HEAVY_FIRST` are handed out before the others.

    (``--dist loadgroup`` with ``xdist_group`` marks would do it, but pytest-xdist 3.8 sets
    a node id attribute that pytest 9 no longer reads, so its groups are ignored.)
    """
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return _shared_session_of(module) or module

        def _assign_work_unit(self, node) -> None:
            for scope in reversed(HEAVY_FIRST):  # the next unit is the first queued
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return ModuleScheduling(config, log)


@pytest.fixture(scope="session")
def tiny_demo() -> generator.DemoData:
    """The tiny demo company (~20k visits) with ground truth."""
    return generator.generate(size="tiny", seed=TINY_SEED)


@pytest.fixture(scope="session")
def tiny_raw(tiny_demo, tmp_path_factory) -> Path:
    """Raw parquet files of the tiny demo company."""
    return generator.write_raw(tiny_demo, tmp_path_factory.mktemp("raw") / "tiny")


@pytest.fixture(scope="session")
def tiny_warehouse(tiny_raw, tmp_path_factory) -> Path:
    """A DuckDB warehouse loaded from the tiny raw files (read it, don't modify it)."""
    path = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    con = warehouse.connect(path)
    try:
        warehouse.init_schema(con)
        warehouse.load_raw_dir(con, tiny_raw, salt=TEST_SALT)
    finally:
        con.close()
    return path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """Model folder (``model_dir``) of the scoring notebooks in :func:`tiny_reports`."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_reports(tiny_warehouse, tiny_models, tmp_path_factory):
    """The weekly run on the tiny demo: the leadership roles (ceo, marketing, sales: code
    hidden, Russian) and analyst (every notebook, English).

    Shared by the notebook and browser tests so each notebook runs once per session.
    The scoring notebooks (05, 11) save and load their model in a folder of the
    session, not in the checkout's ``data/models`` (whose model, if any, was
    trained on other data).
    """
    from dataclasses import replace

    from analytics.reports import load_role, run_reports

    out = tmp_path_factory.mktemp("reports")
    models = {"model_dir": str(tiny_models)}
    sales, analyst = load_role("sales"), load_role("analyst")
    return run_reports(
        [
            load_role("ceo"),
            load_role("marketing"),
            replace(sales, parameters={**sales.parameters, **models}),
            replace(analyst, parameters={**analyst.parameters, **models}),
        ],
        period="last-week",
        warehouse=tiny_warehouse,
        out_dir=out,
        progress=False,
        # one notebook worker and kernel under pytest-xdist, whose other workers have the
        # other cores: a second one only costs its start (5 CPU-s)
        jobs=1 if os.environ.get("PYTEST_XDIST_WORKER") else None,
    )


@pytest.fixture(scope="session")
def browsed_pages(tiny_reports):
    """Every page of :func:`tiny_reports` (the index, then each report page) loaded at
    1200 and 390 px in one headless Chromium (``chromium_pages.py``), for the browser
    checks of ``test_browser.py`` and ``test_pages.py``."""
    from chromium_pages import browse

    assert tiny_reports.ok, tiny_reports.text
    folder = Path(tiny_reports.index_path).parent
    return browse([folder / "index.html", *tiny_reports.outputs])


@pytest.fixture(scope="session")
def spark(tiny_warehouse, tmp_path_factory):
    """Ibis PySpark backend (local[1]) holding the tiny warehouse's canonical tables.

    One SparkSession for the whole test run, shared by every parity module; skipped
    without pyspark or Java, failed instead under ``CI=true``.
    """
    from analytics import transforms

    session = start_session()
    backend = transforms.connect_local_spark(
        tiny_warehouse,
        session=session,
        export_dir=tmp_path_factory.mktemp("parquet"),
        partitions=1,  # spark_session.TEST_SPARK_CONFIG: no shuffle, no broadcast
    )
    yield backend
    session.stop()


@pytest.fixture(scope="session")
def hand_w23_snapshot():
    """``compute_snapshot`` of ``funnel_fixture``'s hand-made warehouse for 2025-W23 (CRM
    stages; ~2.3 CPU-s of Ibis compiles), shared by ``test_snapshot.py`` and
    ``test_email.py``: read it, don't modify it (deep-copy its ``data`` to change it)."""
    import duckdb
    from funnel_fixture import fill

    from analytics.metrics.period import iso_week
    from analytics.metrics.snapshot import compute_snapshot

    con = duckdb.connect()
    try:
        fill(con)
        return compute_snapshot(con, iso_week(2025, 23))
    finally:
        con.close()
