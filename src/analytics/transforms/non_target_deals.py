"""Who spent time on the non-target leads: the manager of each non-target lead's lost deal.

The counts of :func:`analytics.metrics.sales_cost.manager_time` (which runs this
expression and adds the hours and their cost), portable across backends:

* the non-target leads are the leads created in ``[start, stop)`` with a deal
  lost for one of ``definitions.non_target.loss_reasons`` (the rule of
  ``is_non_target`` in :func:`~analytics.transforms.lead_facts.lead_flag_table`,
  without the other flags, which this count does not need);
* each such lead counts once, for the manager of its lost non-target deal
  (any one of them should there be several; :data:`NO_MANAGER` when empty).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from analytics.transforms.lead_facts import lost_non_target
from analytics.transforms.time_keys import day_start

NO_MANAGER = "(no manager)"
"""Manager of a non-target deal without one."""

MANAGER_COUNT_COLUMNS = ("manager", "non_target")
"""Columns of :func:`non_target_by_manager`, in order."""


def non_target_by_manager(con, start: date, stop: date, definitions: Any) -> ir.Table:
    """Non-target leads of ``[start, stop)`` per manager of their lost deal.

    Parameters
    ----------
    con : ibis.BaseBackend
        Backend holding the canonical tables.
    start, stop : datetime.date
        First day and the day after the last (exclusive) of the leads' creation.
    definitions : analytics.metrics.definitions.Definitions
        The non-target loss reasons (``non_target.loss_reasons``).

    Returns
    -------
    ibis.Table
        :data:`MANAGER_COUNT_COLUMNS`: ``manager`` and ``non_target`` (leads,
        int64), one row per manager with a non-target lead. Unordered.
    """
    leads = con.table("leads")
    leads = leads.filter(leads.created_at >= day_start(start), leads.created_at < day_start(stop))
    cohort = leads.select(n_lead_id=leads.lead_id).distinct()
    deals = con.table("deals")
    lost = deals.filter(lost_non_target(deals, definitions.non_target.loss_reasons))
    lost = lost.inner_join(cohort, lost.lead_id == cohort.n_lead_id)
    lead = lost.group_by("lead_id").agg(
        manager=ibis.coalesce(lost.manager.arbitrary(), ibis.literal(NO_MANAGER))
    )
    return lead.group_by("manager").agg(non_target=lead.count().cast("int64"))
