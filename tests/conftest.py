"""Shared fixtures: the tiny demo company, generated once per test session, and the one
SparkSession of the Spark parity tests (``spark_session.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from spark_session import start_session
from tiny_demo import TEST_SALT, TINY_SEED

from analytics import warehouse
from analytics.demo import generator


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
def tiny_reports(tiny_warehouse, tmp_path_factory):
    """The weekly run on the tiny demo: the leadership roles (ceo, marketing, sales: code
    hidden, Russian) and analyst (every notebook, English).

    Shared by the notebook and browser tests so each notebook runs once per session.
    """
    from analytics.reports import load_role, run_reports

    out = tmp_path_factory.mktemp("reports")
    return run_reports(
        [load_role("ceo"), load_role("marketing"), load_role("sales"), load_role("analyst")],
        period="last-week",
        warehouse=tiny_warehouse,
        out_dir=out,
        progress=False,
    )


@pytest.fixture(scope="session")
def spark(tiny_warehouse, tmp_path_factory):
    """Ibis PySpark backend (local[1]) holding the tiny warehouse's canonical tables.

    One SparkSession for the whole test run, shared by every parity module; skipped
    without pyspark or Java, failed instead under ``CI=true``.
    """
    from analytics import transforms

    session = start_session()
    backend = transforms.connect_local_spark(
        tiny_warehouse, session=session, export_dir=tmp_path_factory.mktemp("parquet")
    )
    yield backend
    session.stop()
