"""The one local SparkSession of the test suite (fixture ``spark`` in ``conftest.py``).

Every Spark parity module (``tests/transforms/test_transforms.py``,
``tests/transforms/test_weekly_build_parity.py``) uses the same session-scoped
fixture, so a test run starts one JVM. Without pyspark or Java the parity tests
are skipped -- except in CI (``CI=true``, set by ``.ci/run``), where a parity
test that cannot run fails.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

TEST_SPARK_CONFIG = {
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.sql.adaptive.enabled": "false",
    # a short-lived JVM: C1 only and the serial GC start much faster on small machines
    "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
    # on the tiny data compiling each query's whole-stage Java code costs more than it
    # saves: measured 3.4 s against 5.2-9.9 s for the booked counts, 12.6 s against
    # 19-21 s for the channel conversion (local[1], shared 2-core machine under load)
    "spark.sql.codegen.wholeStage": "false",
    # ... and the same holds for the Java code Spark compiles (Janino) for each projection,
    # predicate and ordering outside whole-stage code: interpreted evaluation instead.
    # Measured on 8 parity cases (process CPU, views cached): Spark JVM 18.7 s against 27.5 s
    # (docs/design.md, test-suite speed). An internal Spark setting, for the tiny data only.
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    # The views are cached as ONE partition (``conftest.spark``: ``partitions=1``), so
    # an aggregation, a window or a join over them needs no shuffle; with broadcast
    # joins off and hash joins preferred, a join of two such inputs also runs in the
    # same task instead of a job collecting and broadcasting one side. Measured on the
    # 46 parity cases (JVM CPU-s, one process, quiet machine): 60.4-66.0 as before,
    # 53.4-54.0 with one partition alone, 47.0-47.3 with both.
    "spark.sql.autoBroadcastJoinThreshold": "-1",
    "spark.sql.join.preferSortMergeJoin": "false",
}
"""Settings on top of :data:`analytics.transforms.backends.SPARK_CONFIG` for the tiny data."""


def spark_unavailable(reason: str) -> None:
    """Skip a Spark parity test that cannot run -- or fail it in CI (``CI=true``).

    In CI the "runs on Spark" claim must be tested: a missing pyspark or Java
    there is a broken environment, not a reason to stay green.
    """
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"CI=true but the Spark parity test cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def start_session():
    """A local[1] SparkSession with the test settings, or skip/fail (:func:`spark_unavailable`)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        spark_unavailable("pyspark not installed (pip install -e '.[spark]')")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        spark_unavailable("no Java runtime for PySpark (apt-get install default-jre-headless)")
    from pyspark.sql import SparkSession

    from analytics.transforms import backends

    started = time.perf_counter()
    builder = SparkSession.builder.master("local[1]").appName("analytics-parity")
    for key, value in {**backends.SPARK_CONFIG, **TEST_SPARK_CONFIG}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    print(f"SparkSession ready in {time.perf_counter() - started:.1f}s")
    return session
