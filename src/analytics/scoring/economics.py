"""Which leads are worth a sales call: the score threshold from sales-time economics.

Managers call every lead whose score is at or above a threshold ``t`` and
drop the rest. Calling a lead that will not become SQL (non-target) costs
manager time; dropping a lead that would have become SQL loses its value.

With ``m`` minutes per call, manager cost ``h`` RUB per hour and value ``V``
RUB per SQL, for the leads with ``p >= t``:

* ``hours_non_target = non_target_called * m / 60``;
* ``cost_non_target = hours_non_target * h`` (RUB);
* ``value_sql_kept = sql_kept * V`` (RUB);
* ``net_value = value_sql_kept - cost_non_target`` (RUB); the best threshold
  maximises it. For calibrated scores this is calling a lead iff
  ``p * V >= (1 - p) * c`` with ``c = m / 60 * h`` per call, i.e.
  ``p >= c / (c + V)``.

Seed example: 500 non-target leads x 15 min = 125 h a month; a manager costs
100,000 RUB per 160 working hours = 625 RUB/h, so those calls cost
125 h x 625 RUB/h = 78,125 RUB, i.e. 156.25 RUB per call, and take 39% of
two managers' 320 h. Dropping them pays only while the SQL leads dropped with
them are worth less.

``sql_kept`` is the realised count of SQL leads called when outcomes ``y``
are given (validation), else the expected count ``sum(p)`` over called leads
(fresh leads, calibrated scores).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.scoring.features import SQL_STAGES

MINUTES_PER_LEAD = 15.0
"""Manager minutes spent on one lead (call plus CRM notes)."""

MANAGER_COST_PER_HOUR = 100_000 / 160
"""Manager cost, RUB per working hour: 100,000 RUB a month / 160 hours = 625 RUB/h."""


def threshold_curve(
    p,
    y=None,
    *,
    value_per_sql: float,
    minutes_per_lead: float = MINUTES_PER_LEAD,
    manager_cost_per_hour: float = MANAGER_COST_PER_HOUR,
    thresholds=None,
) -> pd.DataFrame:
    """Cost of calling non-target leads against the value of SQL kept, per threshold.

    Parameters
    ----------
    p : array-like of float
        Calibrated P(SQL) per lead.
    y : array-like of {0, 1}, optional
        Realised outcomes; without them, expected counts from ``p``.
    value_per_sql : float
        Value of one SQL lead, RUB (e.g. :func:`revenue_per_sql` times a margin).
    minutes_per_lead : float
        Manager minutes per called lead.
    manager_cost_per_hour : float
        RUB per manager hour.
    thresholds : array-like of float, optional
        Thresholds to evaluate; 0, 0.01, ..., 1 by default.

    Returns
    -------
    pandas.DataFrame
        Per threshold (ascending): ``threshold``, ``leads_called``,
        ``share_called``, ``sql_kept``, ``sql_missed``, ``non_target_called``,
        ``hours_non_target``, ``cost_non_target`` (RUB), ``value_sql_kept``
        (RUB), ``net_value`` (RUB); formulas in the module doc.
    """
    p = np.asarray(p, dtype=float)
    if p.ndim != 1 or len(p) == 0:
        raise ValueError("p must be a non-empty 1-d array of scores")
    if y is None:
        outcome = p
    else:
        outcome = np.asarray(y, dtype=float)
        if outcome.shape != p.shape:
            raise ValueError(f"p and y differ in length: {len(p)} and {len(outcome)}")
    if thresholds is None:
        thresholds = np.round(np.linspace(0, 1, 101), 2)
    thresholds = np.sort(np.asarray(thresholds, dtype=float))
    called = p[None, :] >= thresholds[:, None]
    leads_called = called.sum(axis=1)
    sql_kept = called.astype(float) @ outcome
    non_target = leads_called - sql_kept
    hours = non_target * minutes_per_lead / 60.0
    cost = hours * manager_cost_per_hour
    value = sql_kept * value_per_sql
    return pd.DataFrame(
        {
            "threshold": thresholds,
            "leads_called": leads_called,
            "share_called": leads_called / len(p),
            "sql_kept": sql_kept,
            "sql_missed": outcome.sum() - sql_kept,
            "non_target_called": non_target,
            "hours_non_target": hours,
            "cost_non_target": cost,
            "value_sql_kept": value,
            "net_value": value - cost,
        }
    )


def best_threshold(p, y=None, **economics) -> dict:
    """The threshold with the highest net value (lowest such threshold on ties).

    Parameters
    ----------
    p, y, **economics
        As for :func:`threshold_curve` (``value_per_sql`` is required).

    Returns
    -------
    dict
        The winning row of :func:`threshold_curve`: ``threshold``,
        ``leads_called``, ``sql_kept``, ``cost_non_target``, ``net_value``...
    """
    curve = threshold_curve(p, y, **economics)
    row = curve.loc[curve["net_value"].idxmax()]
    return {k: float(v) for k, v in row.items()}


def revenue_per_sql(con) -> float:
    """Historical revenue per SQL lead, RUB: a default for ``value_per_sql``.

    ``revenue of won deals / deals that reached SQL`` over every deal in the
    warehouse (reached = a ``deal_stages`` row at sql, demo, proposal or won).
    It is revenue, not profit: multiply by the gross margin for the value of
    an SQL to the company.
    """
    stages = ", ".join(f"'{s}'" for s in SQL_STAGES)
    revenue, sql_deals = con.execute(
        f"""
        SELECT
          (SELECT coalesce(sum(amount), 0) FROM main.deals WHERE status = 'won'),
          (SELECT count(DISTINCT deal_id) FROM main.deal_stages WHERE stage IN ({stages}))
        """
    ).fetchone()
    if not sql_deals:
        raise ValueError("no deal reached SQL in the warehouse: revenue per SQL is undefined")
    return float(revenue) / float(sql_deals)
