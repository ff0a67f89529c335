"""Direct and indirect (assisted) influence of ad groups and campaigns on sales.

A last-click report credits a sale only to the ad the client clicked last, so
an ad group that brings people early in a long B2B path looks useless and gets
switched off. Here every sale is also credited, as *assisted*, to the ad groups
the client touched earlier, as on the seed's slide "Группа объявлений /
Продажи": sales where the group was the last paid touch next to sales it took
part in.

Conventions
-----------
* Sales follow :mod:`analytics.metrics.funnel`: the deals of the leads created in the
  period that reached stage ``won``; revenue is their amount, RUB. A lead's
  visitor is ``leads.visitor_id``, or the visitor of ``leads.visit_id``; sales
  of leads without a visitor have no path and are left out.
* The path of a sale is the visits of its visitor that started at or before
  the lead's ``created_at`` and no more than ``lookback_days`` (default 30, as
  in :mod:`analytics.metrics.journeys`) days before it; ``None`` takes the whole
  history.
* A paid touch is a visit with a non-empty ``utm_campaign``; its ad group is
  ``(utm_campaign, utm_term)`` -- the same ``utm_term`` in two campaigns is two
  ad groups -- and its campaign is ``utm_campaign``.
* ``direct``: the group (or campaign) of the last paid touch of the path (the
  latest ``visit_start``, ties broken by ``visit_id``). ``assisted``: every
  other group (or campaign) of the path's paid touches. Each sale counts once
  per group, so ``influenced = direct + assisted`` is the number of sales the
  group took part in; summed over groups, ``direct`` gives the sales with a
  paid touch, ``influenced`` counts a sale once per group it touched.

The touches are the Ibis expression
:func:`analytics.transforms.paid_touches.sale_paid_touches` (portable to PySpark,
``docs/backends.md``); the credit per group is computed in pandas.
"""

from __future__ import annotations

import pandas as pd

from analytics.metrics.period import Period
from analytics.transforms.backends import duckdb_backend
from analytics.transforms.paid_touches import sale_paid_touches

LEVELS = {"ad_group": ("campaign", "ad_group"), "campaign": ("campaign",)}
"""Grouping levels of :func:`influence` and their key columns."""

LOOKBACK_DAYS = 30
"""Default touch window before the lead, days (the default of :mod:`analytics.metrics.journeys`)."""


def sale_touches(con, period: Period, lookback_days: int | None = LOOKBACK_DAYS) -> pd.DataFrame:
    """Paid touches in the paths of the period's sales, one row per touch.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days of the leads whose sales are followed.
    lookback_days : int or None, default 30
        Only visits at most this many days before the lead; ``None``: all.

    Returns
    -------
    pandas.DataFrame
        Columns ``deal_id``, ``amount`` (RUB), ``campaign``, ``ad_group``
        (``utm_term``, empty text if missing) and ``last_paid`` (the sale's
        last paid touch).
    """
    if lookback_days is not None and lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0, got {lookback_days}")
    with duckdb_backend(con) as backend:
        expr = sale_paid_touches(backend, period.start, period.end_exclusive, lookback_days)
        frame = backend.execute(expr)
    return frame.reset_index(drop=True)


def influence_table(touches: pd.DataFrame, level: str = "ad_group") -> pd.DataFrame:
    """Direct and assisted sales and revenue per ad group or campaign.

    Parameters
    ----------
    touches : pandas.DataFrame
        Output of :func:`sale_touches`.
    level : {"ad_group", "campaign"}, default "ad_group"
        Group by ``(campaign, ad_group)`` or by ``campaign``.

    Returns
    -------
    pandas.DataFrame
        One row per group that touched a sale, key columns first
        (``campaign`` and ``ad_group``, or ``campaign``), then:

        * ``direct_sales`` -- sales whose last paid touch was the group;
        * ``assisted_sales`` -- sales the group touched earlier, whose last
          paid touch was another group;
        * ``influenced_sales`` = direct_sales + assisted_sales;
        * ``direct_revenue``, ``assisted_revenue``, ``influenced_revenue``
          (RUB) -- the amounts of those sales;
        * ``assist_ratio`` = assisted_sales / direct_sales (NaN without
          direct sales): how many sales the group helps for each it closes.

        Sorted by influenced sales, then direct sales (both descending), then
        the key.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    keys = list(LEVELS[level])
    columns = [
        *keys,
        "direct_sales",
        "assisted_sales",
        "influenced_sales",
        "direct_revenue",
        "assisted_revenue",
        "influenced_revenue",
        "assist_ratio",
    ]
    if touches.empty:
        return pd.DataFrame(columns=columns)
    last = touches[touches["last_paid"]].set_index("deal_id")[keys]
    per_sale = touches.drop_duplicates(["deal_id", *keys])[["deal_id", "amount", *keys]]
    winner = last.loc[per_sale["deal_id"]].to_numpy()
    per_sale = per_sale.assign(direct=(per_sale[keys].to_numpy() == winner).all(axis=1))
    per_sale["assisted"] = ~per_sale["direct"]
    per_sale["direct_revenue"] = per_sale["amount"].where(per_sale["direct"], 0.0)
    per_sale["assisted_revenue"] = per_sale["amount"].where(per_sale["assisted"], 0.0)
    out = per_sale.groupby(keys, as_index=False).agg(
        direct_sales=("direct", "sum"),
        assisted_sales=("assisted", "sum"),
        direct_revenue=("direct_revenue", "sum"),
        assisted_revenue=("assisted_revenue", "sum"),
    )
    out["influenced_sales"] = out["direct_sales"] + out["assisted_sales"]
    out["influenced_revenue"] = out["direct_revenue"] + out["assisted_revenue"]
    for col in ("direct_sales", "assisted_sales", "influenced_sales"):
        out[col] = out[col].astype("int64")
    direct = out["direct_sales"].astype("float64")
    out["assist_ratio"] = out["assisted_sales"] / direct.where(direct > 0)
    out = out.sort_values(
        ["influenced_sales", "direct_sales", *keys],
        ascending=[False, False, *[True] * len(keys)],
        ignore_index=True,
    )
    return out[columns]


def influence_long(table: pd.DataFrame, measure: str = "sales") -> pd.DataFrame:
    """Long form of :func:`influence_table` for a grouped seaborn bar chart.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`influence_table` (either level).
    measure : {"sales", "revenue"}, default "sales"
        Counts of sales or their revenue (RUB).

    Returns
    -------
    pandas.DataFrame
        Columns ``group`` (``campaign / ad_group`` or ``campaign``),
        ``influence`` (``direct`` or ``assisted``) and ``value``; groups in
        the order of ``table``.
    """
    if measure not in ("sales", "revenue"):
        raise ValueError(f"measure must be 'sales' or 'revenue', got {measure!r}")
    if "ad_group" in table.columns:
        group = table["campaign"].astype(str) + " / " + table["ad_group"].astype(str)
    else:
        group = table["campaign"].astype(str)
    wide = pd.DataFrame(
        {
            "group": group,
            "direct": table[f"direct_{measure}"],
            "assisted": table[f"assisted_{measure}"],
        }
    )
    long = wide.melt(id_vars="group", var_name="influence", value_name="value")
    return long.astype({"value": "float64"})


def influence(
    con, period: Period, level: str = "ad_group", lookback_days: int | None = LOOKBACK_DAYS
) -> pd.DataFrame:
    """Direct vs assisted sales per ad group or campaign for the period's leads.

    Shorthand for ``influence_table(sale_touches(con, period, lookback_days), level)``;
    see :func:`influence_table` for the columns.
    """
    return influence_table(sale_touches(con, period, lookback_days), level)
