"""Backends the transforms run on, chosen by a connection string.

The transforms of this package are Ibis expressions over the canonical
warehouse tables (:mod:`analytics.warehouse.schema`); a *backend* is an Ibis connection
whose catalog holds those tables. The connection string picks it:

* ``duckdb://<path>`` -- the DuckDB warehouse file (the default,
  ``duckdb://data/warehouse.duckdb``); ``duckdb://:memory:`` for an empty
  in-memory database.
* ``pyspark://local`` or ``pyspark://local[N]`` -- a local SparkSession
  (Spark master ``local``: one core; ``local[N]``: ``N`` cores) with the Spark
  UI off and few shuffle partitions;
  the canonical tables are exported from a DuckDB warehouse to Parquet
  (query parameter ``warehouse=<path>``, default the default warehouse;
  ``export=<dir>``, default a temporary folder) and registered as temporary
  views, cached in Spark's memory when first read. Meant for trying the
  Spark path on one machine and for the parity test, not for speed.
* ``pyspark://active`` -- the active SparkSession (e.g. on a cluster, started
  by ``spark-submit`` or a notebook); its catalog must already hold the
  canonical tables.

BigQuery and ClickHouse are compiled targets: ``ibis.to_sql(expr,
dialect="bigquery")`` gives SQL to run there (see ``docs/backends.md``).

The default connection string is ``url`` in ``params/backend.yaml`` when
that file exists, else :data:`DEFAULT_BACKEND_URL`.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs

import ibis
import pandas as pd
import yaml

from analytics.paths import DEFAULT_WAREHOUSE, PARAMS_DIR, ROOT

CANONICAL_TABLES = ("spend", "visits", "leads", "lead_fields", "deals", "deal_stages")
"""Warehouse tables the transforms read."""

DEFAULT_BACKEND_URL = f"duckdb://{DEFAULT_WAREHOUSE}"
"""Backend used when neither the caller nor ``params/backend.yaml`` names one."""

BACKEND_PARAMS = PARAMS_DIR / "backend.yaml"
"""Optional params file with the backend connection string (key ``url``)."""

SPARK_CONFIG = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
"""Settings of the local SparkSession built for ``pyspark://local``."""

ibis.options.sql.fuse_selects = False
# Ibis's compiler merges each SELECT into the one around it when it can
# (``fuse_selects``, on by default): a rewrite it retries over the whole expression
# graph, which took a quarter of the compile time of this package's expressions
# (tests/metrics in one process: 42.2 of 132 CPU-s compiling 508 queries, 31.4 of
# 117 without it; the 10M-visit report 88.7 -> 83.3 CPU-s, identical metrics.json).
# The SQL then nests its SELECTs, which DuckDB's and Spark's optimisers collapse
# themselves (the 46 Spark parity cases: 49.0 JVM-s unfused, 51.0 fused). Set once,
# when the transforms are imported: every expression of the package compiles this way.

_LOCAL_MASTER = re.compile(r"local(\[(\d+|\*)\])?")


def _from_root(path: str | Path) -> Path:
    """Relative paths in connection strings are relative to the project root."""
    path = Path(path)
    return path if path.is_absolute() else ROOT / path


def default_backend_url(params_file: Path = BACKEND_PARAMS) -> str:
    """Connection string from ``params/backend.yaml`` (``url:``), else the DuckDB default."""
    if params_file.is_file():
        url = (yaml.safe_load(params_file.read_text(encoding="utf-8")) or {}).get("url")
        if url:
            return str(url)
    return DEFAULT_BACKEND_URL


def connect_backend(url: str | None = None, *, read_only: bool = True):
    """Open the Ibis backend named by a connection string.

    Parameters
    ----------
    url : str, optional
        ``duckdb://<path>``, ``pyspark://local[N]`` (``?warehouse=<duckdb file>``,
        ``&export=<dir>``) or ``pyspark://active``; default
        :func:`default_backend_url`.
    read_only : bool, default True
        Open a DuckDB file read-only (transforms only read).

    Returns
    -------
    ibis.BaseBackend
        A backend whose ``table(name)`` gives each of :data:`CANONICAL_TABLES`.
    """
    url = url or default_backend_url()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"{url!r} is not a connection string like duckdb://<path>")
    target, _, query_string = rest.partition("?")
    query = {k: v[-1] for k, v in parse_qs(query_string).items()}
    scheme = scheme.lower()
    if scheme == "duckdb":
        if target in ("", ":memory:"):
            return ibis.duckdb.connect()
        return ibis.duckdb.connect(str(_from_root(target)), read_only=read_only)
    if scheme == "pyspark":
        master = target
        if master == "active":
            from pyspark.sql import SparkSession

            session = SparkSession.getActiveSession()
            if session is None:
                raise RuntimeError("pyspark://active: no active SparkSession")
            return ibis.pyspark.connect(session)
        if not _LOCAL_MASTER.fullmatch(master):
            raise ValueError(
                f"{url!r}: use pyspark://local, pyspark://local[N] or pyspark://active "
                "(build a cluster session yourself and use 'active')"
            )
        warehouse = _from_root(query.get("warehouse", DEFAULT_WAREHOUSE))
        export = Path(query["export"]) if "export" in query else None
        return connect_local_spark(warehouse, master=master, export_dir=export)
    raise ValueError(f"unknown backend {url!r}: expected duckdb://... or pyspark://...")


def local_spark_session(master: str = "local", app_name: str = "analytics"):
    """A local SparkSession with :data:`SPARK_CONFIG`; the active session if one is running.

    A running session is returned as it is (its master and settings are left
    alone: changing them would affect the others using it).
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in SPARK_CONFIG.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def export_parquet(
    warehouse: Path | str, out_dir: Path | str, tables: tuple[str, ...] = CANONICAL_TABLES
) -> dict[str, Path]:
    """Copy warehouse tables from DuckDB to ``<out_dir>/<table>.parquet``.

    Returns
    -------
    dict of str to Path
        Parquet file of each table.
    """
    import duckdb

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {name: out / f"{name}.parquet" for name in tables}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for name, file in files.items():
            con.execute(f"COPY main.{name} TO '{file}' (FORMAT parquet)")
    finally:
        con.close()
    return files


def connect_local_spark(
    warehouse: Path | str = DEFAULT_WAREHOUSE,
    *,
    master: str = "local",
    export_dir: Path | str | None = None,
    session=None,
    cache: bool = True,
    partitions: int | None = None,
):
    """Ibis PySpark backend on a local SparkSession holding the warehouse tables.

    The canonical tables are exported from the DuckDB ``warehouse`` to Parquet
    (in ``export_dir``, default a new temporary folder) and registered as
    temporary views of the session, cached in Spark's memory (spilling to
    disk) when first read: a weekly build runs dozens of queries over the same
    five tables, and each would otherwise decode the Parquet files again.

    Parameters
    ----------
    warehouse : Path or str
        DuckDB warehouse file.
    master : str, default "local"
        Spark master, ``local`` or ``local[N]``.
    export_dir : Path or str, optional
        Folder for the Parquet files.
    session : pyspark.sql.SparkSession, optional
        Use this session instead of building one (e.g. one per test module).
    cache : bool, default True
        Cache the views (``spark.catalog.cacheTable``, lazy: filled by the
        first query that reads a table).
    partitions : int, optional
        Repartition each view into this many partitions before caching it (default:
        as Spark reads the file). With ``1`` on small data (the test suite's tiny
        warehouse) every scan reports ``SinglePartition``, so Spark plans no shuffle
        before an aggregation, a window or a join over it, and -- with broadcast
        joins off and hash joins preferred -- joins two of them in the same task
        instead of broadcasting one side.
    """
    export_dir = Path(export_dir or tempfile.mkdtemp(prefix="analytics-spark-"))
    files = export_parquet(warehouse, export_dir)
    spark = session or local_spark_session(master)
    for name, file in files.items():
        frame = spark.read.parquet(str(file))
        if partitions is not None:
            frame = frame.repartition(partitions)
        frame.createOrReplaceTempView(name)
        if cache:
            spark.catalog.cacheTable(name)
    backend = ibis.pyspark.connect(spark)
    # the views are this function's and stay as registered: read each one's schema from
    # the JVM once (the transforms name the same tables again and again: 156 look-ups
    # for every parity expression of the tests), as duckdb_backend does for DuckDB
    backend.table = functools.cache(backend.table)
    return backend


@contextmanager
def duckdb_backend(con) -> Iterator:
    """Ibis backend on an open ``duckdb`` connection, leaving its settings as they were.

    Ibis sets ``TimeZone`` to UTC and turns off DuckDB's replacement scans
    (``python_enable_replacements``) on the connection it wraps; both are put
    back on exit, so callers holding the connection see no change.

    The backend reads each table's schema once (``backend.table`` cached): Ibis
    runs a ``DESCRIBE`` query (~4 ms of CPU) every time an expression names a
    table, and one query's expression names the same table several times (the
    lead flags: ``leads``, ``deals``, ``visits`` again and again). Nothing in a
    ``with`` block changes a table's columns (the transforms only read).
    """
    names = ("TimeZone", "python_enable_replacements")
    saved = {name: con.execute(f"SELECT current_setting('{name}')").fetchone()[0] for name in names}
    try:
        backend = ibis.duckdb.from_connection(con)
        backend.table = functools.cache(backend.table)
        yield backend
    finally:
        for name, value in saved.items():
            con.execute(
                f"SET {name} = '{value}'" if name == "TimeZone" else f"SET {name} = {value}"
            )


def fetch_frame(backend, expr) -> pd.DataFrame:
    """Run a table expression and return it as pandas, through Arrow column by column.

    The same frame as ``backend.execute(expr)`` (the columns are then cast to the
    expression's schema by Ibis's own ``PandasData.convert_table``), without
    its slow path: Ibis's DuckDB ``execute`` turns every column holding a NULL
    into a list of Python objects (``to_pylist``) before casting it back. On the
    1.7M touch rows of a 13-week window of the 10M-visit warehouse (string and
    timestamp columns with NULLs for journeys without a touch) that took 10 s
    and ~600 MB more at the peak; ``pyarrow.Table.to_pandas`` takes 0.2 s.

    Parameters
    ----------
    backend : ibis.BaseBackend
        Any backend with ``to_pyarrow`` (DuckDB, PySpark).
    expr : ibis.Table
        Expression to run.

    Returns
    -------
    pandas.DataFrame
        One column per column of ``expr``, typed as ``backend.execute`` types them.
    """
    from ibis.formats.pandas import PandasData

    frame = backend.to_pyarrow(expr).to_pandas()
    return PandasData.convert_table(frame, expr.schema())


@contextmanager
def ibis_backend(con) -> Iterator:
    """The Ibis backend of ``con``: ``con`` itself if it is one, else :func:`duckdb_backend`.

    Lets the metrics functions take either an open ``duckdb`` connection (the
    warehouse, as the notebooks pass it) or any Ibis backend holding the
    canonical tables (e.g. :func:`connect_backend` ``("pyspark://local[2]")``)
    and run the same transforms on it.
    """
    if isinstance(con, ibis.BaseBackend):
        yield con
    else:
        with duckdb_backend(con) as backend:
            yield backend
