"""As-of queries over the warehouse's version history (``history.<table>``).

Every load upserts (:mod:`analytics.warehouse.load`): an updated row's previous
version is closed in ``history.<table>`` with ``valid_to`` = the load time and
``replaced_by`` = the load id. For *versioned* tables (``leads``, ``deals``,
``deal_stages``) every version is kept, each with ``valid_from`` = the load
time that wrote it (NULL: known since before the history existed), so

    version valid at T  <=>  coalesce(valid_from, -infinity) <= T < coalesce(valid_to, +infinity)

*Unversioned* tables (``spend``, ``visits``: one row per day/campaign or per
visit, corrected rarely) keep only the replaced versions, with ``valid_from``
NULL; their current rows count as known since before any load.

Two kinds of time meet here:

* **load time** (when the warehouse learned a value) -- :func:`as_of_sql` and
  :func:`table_as_of` answer "what did the warehouse hold at T", which is what a
  report built at T showed;
* **business time** (``created_at``, ``closed_at``, ``entered_at``) --
  :func:`deals_as_of` answers "what state was each deal in at T, as far as the
  warehouse knew at T", which is what cohorts frozen at a date and the scoring
  model's no-leakage features need: nothing decided after T may leak in.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from analytics.warehouse.schema import CANONICAL, DEAL_STAGES, HISTORY_SCHEMA, Table


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(name: str) -> Table:
    if name not in CANONICAL:
        raise ValueError(f"unknown table {name!r}; expected one of {', '.join(CANONICAL)}")
    return CANONICAL[name]


def as_of_sql(table: str, param: str = "$as_of") -> str:
    """SELECT of ``table``'s rows as the warehouse held them at load time ``param``.

    Parameters
    ----------
    table : str
        Canonical table name.
    param : str
        SQL expression of the moment (a named parameter by default).

    Returns
    -------
    str
        A query with the table's stored columns, one row per key.
    """
    spec = _table(table)
    cols = ", ".join(_ident(c.stored_name) for c in spec.columns)
    hist = f"{HISTORY_SCHEMA}.{_ident(spec.name)}"
    if spec.versioned:
        return (
            f"SELECT {cols} FROM {hist} "
            f"WHERE coalesce(valid_from, TIMESTAMP '-infinity') <= {param} "
            f"AND (valid_to IS NULL OR valid_to > {param})"
        )
    key = ", ".join(_ident(k) for k in spec.key)
    on = " AND ".join(f"h.{_ident(k)} = x.{_ident(k)}" for k in spec.key)
    return (
        f"SELECT {cols} FROM ("
        f"SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY valid_to) AS _rank "
        f"FROM {hist} WHERE valid_to > {param}) WHERE _rank = 1 "
        f"UNION ALL SELECT {cols} FROM main.{_ident(spec.name)} x "
        f"WHERE NOT EXISTS (SELECT 1 FROM {hist} h WHERE {on} AND h.valid_to > {param})"
    )


def table_as_of(con, table: str, as_of: datetime) -> pd.DataFrame:
    """Rows of ``table`` as the warehouse held them at load time ``as_of`` (see module doc)."""
    spec = _table(table)
    order = ", ".join(_ident(k) for k in spec.key)
    return con.execute(f"{as_of_sql(table)} ORDER BY {order}", {"as_of": as_of}).df()


def deals_as_of(con, as_of: datetime) -> pd.DataFrame:
    """Deals in the state they were in at ``as_of``, from what the warehouse knew then.

    Rules, in order:

    1. Only deals with ``created_at <= as_of``.
    2. Version: the one valid at load time ``as_of`` (see module doc). A deal
       first loaded after ``as_of`` (history older than the warehouse) takes
       its earliest version, masked by rule 3 so that it leaks nothing.
    3. Decisions after ``as_of`` are undone: if ``closed_at > as_of`` the deal
       was open then -- ``status = 'open'``, ``closed_at``, ``status_id`` and
       ``loss_reason`` NULL.
    4. Stage: when rule 3 applied or the version is from after ``as_of``, the
       last stage entered at or before ``as_of`` in ``deal_stages`` (later
       stage of the funnel on a tie), else ``'new'`` when masked, else the
       version's stage; otherwise the version's stage.

    ``amount``, ``manager`` and the other columns are the chosen version's
    (exports do not time-stamp them).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    as_of : datetime
        The moment, naive local time like the warehouse.

    Returns
    -------
    pandas.DataFrame
        The ``deals`` columns, one row per deal, by ``deal_id``.
    """
    spec = CANONICAL["deals"]
    masked_cols = {"status", "closed_at", "status_id", "loss_reason", "stage"}
    others = ", ".join(
        f"v.{_ident(c.stored_name)}" for c in spec.columns if c.name not in masked_cols
    )
    ranks = "[" + ", ".join(f"'{s}'" for s in DEAL_STAGES) + "]"
    sql = f"""
        WITH v AS (
            SELECT *, coalesce(valid_from, TIMESTAMP '-infinity') <= $as_of AS _known
            FROM {HISTORY_SCHEMA}.deals
            WHERE created_at <= $as_of
              AND (valid_to IS NULL OR valid_to > $as_of
                   OR coalesce(valid_from, TIMESTAMP '-infinity') > $as_of)
        ),
        chosen AS (
            SELECT * FROM (
                SELECT *, row_number() OVER (
                    PARTITION BY deal_id
                    ORDER BY _known DESC, valid_from ASC NULLS FIRST
                ) AS _rank FROM v
            ) WHERE _rank = 1
        ),
        stage_then AS (
            SELECT deal_id,
                   arg_max(stage, epoch_us(entered_at) * 10 + list_position({ranks}, stage))
                       AS stage
            FROM main.deal_stages WHERE entered_at <= $as_of GROUP BY deal_id
        )
        SELECT {others},
               CASE WHEN v.closed_at > $as_of THEN NULL ELSE v.closed_at END AS closed_at,
               CASE WHEN v.closed_at > $as_of THEN 'open' ELSE v.status END AS status,
               CASE WHEN v.closed_at > $as_of THEN NULL ELSE v.status_id END AS status_id,
               CASE WHEN v.closed_at > $as_of THEN coalesce(s.stage, 'new')
                    WHEN NOT v._known THEN coalesce(s.stage, v.stage)
                    ELSE v.stage END AS stage,
               CASE WHEN v.closed_at > $as_of THEN NULL ELSE v.loss_reason END AS loss_reason
        FROM chosen v LEFT JOIN stage_then s USING (deal_id)
        ORDER BY v.deal_id
    """
    frame = con.execute(sql, {"as_of": as_of}).df()
    return frame[[c.stored_name for c in spec.columns]]
