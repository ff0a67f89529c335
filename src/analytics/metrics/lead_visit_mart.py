"""The run's mart of the leads' visits: the visits some lead came from, computed once.

Many report queries look up a lead's visit (its channel, campaign, ad group, visitor):
the snapshot's per-channel figures, the lead flags of pages 00, 02, 07 and 10, the
spend by channel of 06, the segments of 08, the data checks of 03. Each did it by
scanning every ``visits.visit_id`` to probe the leads' visit ids -- at 10M visits
~0.5-1 CPU-s a query, for the same 73,470 rows each time.

The report run computes those rows once
(:func:`analytics.transforms.stitching.lead_visits`), writes them beside the
snapshot::

    reports/<period>/marts/lead_visits.parquet

and each consumer attaches the file to its warehouse connection as the temporary
table :data:`~analytics.transforms.stitching.LEAD_VISITS_MART`
(:func:`attach_lead_visits`); the transforms then read the leads' visits from it
(:func:`~analytics.transforms.stitching.visits_of_leads`). Without it (a notebook
opened by hand, ``lead_visits = None``) they read ``visits`` as before: the same rows.
"""

from __future__ import annotations

from pathlib import Path

MART_FILE = "lead_visits.parquet"
"""File name of the mart in the period's ``marts/`` folder."""


def compute_lead_visits(con):
    """The leads' visits of the warehouse ``con`` as an Arrow table.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or ibis.BaseBackend
        Warehouse with the canonical tables.

    Returns
    -------
    pyarrow.Table
        :func:`analytics.transforms.stitching.lead_visits`: every column of
        ``visits``, the rows whose ``visit_id`` some lead points to.
    """
    from analytics.transforms.backends import ibis_backend
    from analytics.transforms.stitching import lead_visits

    with ibis_backend(con) as backend:
        return backend.to_pyarrow(lead_visits(backend))


def write_lead_visits(warehouse: str | Path, marts_dir: str | Path) -> Path:
    """Compute the mart from the warehouse file (opened read-only) and write it.

    Parameters
    ----------
    warehouse : str or pathlib.Path
        DuckDB warehouse file.
    marts_dir : str or pathlib.Path
        The period's ``marts/`` folder (created if needed).

    Returns
    -------
    pathlib.Path
        ``<marts_dir>/lead_visits.parquet``, written whole (a temporary file renamed).
    """
    import pyarrow.parquet as pq

    from analytics.warehouse.connection import connect

    con = connect(warehouse, read_only=True)
    try:
        table = compute_lead_visits(con)
    finally:
        con.close()
    marts_dir = Path(marts_dir)
    marts_dir.mkdir(parents=True, exist_ok=True)
    path = marts_dir / MART_FILE
    partial = path.with_name(path.name + ".partial")
    pq.write_table(table, partial)
    partial.replace(path)
    return path


def attach_lead_visits(con, path: str | Path | None) -> None:
    """Attach the mart file to a DuckDB connection as a temporary table.

    The table, :data:`~analytics.transforms.stitching.LEAD_VISITS_MART`, lives as
    long as the connection and only in it (a read-only warehouse stays untouched).
    The transforms of that connection then read the leads' visits from it.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection to the warehouse the mart was computed from.
    path : str, pathlib.Path or None
        The run's ``lead_visits.parquet``; None attaches nothing (a notebook opened
        by hand: its queries read ``visits``).

    Nothing is returned, so that a notebook cell ending with the call shows no output.
    """
    if path is None:
        return
    import pyarrow.parquet as pq

    from analytics.transforms.stitching import LEAD_VISITS_MART

    rows = pq.read_table(path)
    staging = f"{LEAD_VISITS_MART}_arrow"
    con.register(staging, rows)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {LEAD_VISITS_MART} AS SELECT * FROM {staging}")
    finally:
        con.unregister(staging)
