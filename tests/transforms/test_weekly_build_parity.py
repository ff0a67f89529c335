"""The weekly build's snapshot and marts are identical on DuckDB and on PySpark local[1].

The period snapshot (:mod:`analytics.metrics.snapshot`: every catalogue metric,
in total and per channel, for the period, the previous period and a year
earlier) and its mart tables (``marts/*.parquet``) are built twice from the
tiny demo warehouse: on DuckDB (the reference, itself compared with the frozen
SQL in ``tests/metrics/test_ibis_port.py``) and on Spark through the CLI
(``python -m analytics metrics --backend pyspark://active``). Both go through
the same Ibis expressions, so they must agree on every figure.

The Spark side runs on the suite's one SparkSession (fixture ``spark``) and the
tiny warehouse's views it holds, exported and cached by
:func:`analytics.transforms.connect_local_spark` as ``pyspark://local[N]`` does
(which hands ``--warehouse`` to it: ``tests/metrics/test_snapshot.py``), so the
views are not exported, registered and cached a second time. Without pyspark or
Java it is skipped, and under ``CI=true`` it fails instead.
"""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest

from analytics import cli
from analytics.metrics import snapshot
from analytics.metrics.catalogue import CATALOGUE

PERIOD = "2025-W52"
"""The tiny demo's last complete week: its previous week and the same week of 2024
are inside the data, so ``value``, ``previous`` and ``year_ago`` are all computed."""

FIELDS = snapshot.COMPARISONS + snapshot.DELTA_FIELDS

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings(
        # PySpark 4 with pandas 3: works for these transforms, warns on every conversion
        "ignore:PySpark does not yet fully support pandas:FutureWarning",
        "ignore:The copy keyword is deprecated::pyspark\\.",
    ),
]


@pytest.fixture(scope="module")
def on_duckdb(tiny_warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("duckdb-reports")
    shot, path = snapshot.build_snapshot(tiny_warehouse, PERIOD, out, backend="duckdb://")
    return shot, path.parent


@pytest.fixture(scope="module")
def on_spark(spark, tiny_warehouse, tmp_path_factory):
    """The CLI on Spark: the session of fixture ``spark`` and its cached views of the tiny
    warehouse (the same file as ``--warehouse``, which the DuckDB side reads)."""
    out = tmp_path_factory.mktemp("spark-reports")
    started = time.perf_counter()
    code = cli.main(
        [
            "metrics",
            "--period",
            PERIOD,
            "--backend",
            "pyspark://active",
            "--warehouse",
            str(tiny_warehouse),
            "--out",
            str(out),
            "--format",
            "json",
        ]
    )
    seconds = time.perf_counter() - started
    print(f"snapshot on Spark through the CLI: {seconds:.1f}s")
    assert code == 0
    return snapshot.load_snapshot(out / PERIOD), out / PERIOD


def same(actual, expected) -> bool:
    if expected is None or actual is None:
        return actual is expected
    return actual == pytest.approx(expected, rel=1e-12, abs=1e-9)


def test_every_snapshot_metric_is_identical(on_duckdb, on_spark):
    duck, spark = on_duckdb[0].data, on_spark[0].data
    for key in ("as_of", "data_start", "definitions", "period", "previous", "year_ago", "weekly"):
        assert spark[key] == duck[key], key
    # the campaign movers' and anomalies' input (issue 11 item 3: no channel-level fallback)
    for key in ("campaigns", "campaign_weekly"):
        assert len(spark[key]) == len(duck[key]) > 10, key
        for actual, expected in zip(spark[key], duck[key], strict=True):
            assert list(actual) == list(expected), key
            for name, value in expected.items():
                pairs = value.items() if isinstance(value, dict) else [(None, value)]
                for field, number in pairs:
                    got = actual[name][field] if field else actual[name]
                    assert same(got, number) if isinstance(number, float) else got == number, (
                        key,
                        expected.get("campaign"),
                        name,
                        field,
                    )
    assert list(spark["metrics"]) == list(duck["metrics"]) == list(CATALOGUE)
    assert sorted(spark["channels"]) == sorted(duck["channels"])
    compared = defined = 0
    scopes = [("total", duck["metrics"], spark["metrics"])]
    scopes += [(name, duck["channels"][name], spark["channels"][name]) for name in duck["channels"]]
    for scope, expected, actual in scopes:
        assert list(actual) == list(expected), scope
        for key, entry in expected.items():
            for field in FIELDS:
                assert same(actual[key][field], entry[field]), (scope, key, field)
                compared += 1
                defined += entry[field] is not None
            assert actual[key]["reasons"] == entry["reasons"], (scope, key)
            assert actual[key].get("maturity") == entry.get("maturity"), (scope, key)
    channel_entries = sum(len(v) for v in duck["channels"].values())
    print(
        f"{len(CATALOGUE)} total metrics + {channel_entries} channel metrics "
        f"({len(duck['channels'])} channels) x {len(FIELDS)} fields: {compared} figures, "
        f"{defined} defined"
    )
    assert len(duck["channels"]) >= 4
    # not a comparison of nulls: in total most figures of a covered week are defined
    # (per channel many ratios are null: organic channels have no spend, small ones no sale)
    total_defined = sum(
        entry[field] is not None for entry in duck["metrics"].values() for field in FIELDS
    )
    assert total_defined > 0.75 * len(CATALOGUE) * len(FIELDS)
    assert defined > compared / 3


def test_every_mart_table_is_identical(on_duckdb, on_spark):
    duck_dir, spark_dir = on_duckdb[1] / snapshot.MARTS_DIR, on_spark[1] / snapshot.MARTS_DIR
    names = sorted(p.name for p in duck_dir.glob("*.parquet"))
    assert names == ["metric_values.parquet", "weekly.parquet"]
    assert sorted(p.name for p in spark_dir.glob("*.parquet")) == names
    for name in names:
        expected = pd.read_parquet(duck_dir / name)
        actual = pd.read_parquet(spark_dir / name)
        assert len(expected) > 10, name
        pd.testing.assert_frame_equal(actual, expected, check_exact=False, rtol=1e-12, atol=1e-9)
    values = pd.read_parquet(duck_dir / "metric_values.parquet")
    # one row per catalogue metric in total and per (metric defined by channel, channel)
    n_channels = values["channel"].nunique()
    per_channel = len(CATALOGUE) - len(snapshot.TOTAL_ONLY)
    assert len(values) == len(CATALOGUE) + n_channels * per_channel
    assert not values["value"].isna().all() and math.isfinite(values["value"].max())
