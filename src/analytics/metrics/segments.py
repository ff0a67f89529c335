"""Client segments and channel profitability.

Clients are not alike: a region, an industry or a company size can convert
better, cost less to acquire or pay a bigger check, and channels differ in how
many roubles they return per rouble spent. This module answers both questions
for the leads of a period, with the cohort convention of
:mod:`analytics.metrics.funnel` (leads created in the period, followed to whatever
their deals reached since; lead channel = channel of its visit,
``undetermined`` without one).

Segments
--------
A lead's segment is its ``region``, ``industry`` or ``company_size`` from
``leads``, else from its deal, else ``unknown``. Spend is not known per
segment, so it is **allocated**: within a lead channel every lead of the
period costs the same, the channel's CPL = channel spend / channel leads; a
segment's ``spend`` is the sum over its leads. Spend of channels without
leads in the period is not allocated to any segment.

Per segment (counts, RUB, %; a division by zero gives NaN):

* ``cr_lead_mql`` = mql / leads x 100%, ``cr_mql_sql`` = sql_leads / mql x
  100%, ``cr_sql_sale`` = sales / sql_leads x 100%, ``cr_lead_sale`` = sales
  / leads x 100% (the segment's conversion);
* ``cpl`` = spend / leads, ``cac`` = spend / sales (acquisition cost), RUB;
* ``average_check`` = revenue / sales, RUB;
* ``romi`` = (revenue - spend) / spend x 100%.

Channel profitability
---------------------
ROMI per channel = (revenue - spend) / spend x 100%, with the revenue of the
won deals of the leads the channel brought and the channel's own spend
(:func:`analytics.metrics.funnel.funnel_by_channel`).

The per-lead table is the Ibis expression
:func:`analytics.transforms.lead_segments.segment_lead_table`, so it computes the
same on PySpark (``docs/backends.md``); the segment tables aggregate it in pandas.
"""

from __future__ import annotations

import pandas as pd

from analytics.metrics.catalogue import ratio
from analytics.metrics.funnel import funnel_by_channel
from analytics.metrics.period import Period
from analytics.transforms.backends import duckdb_backend
from analytics.transforms.lead_segments import DIMENSIONS as DIMENSIONS  # re-exported
from analytics.transforms.lead_segments import UNKNOWN as UNKNOWN  # re-exported
from analytics.transforms.lead_segments import segment_lead_table


def segment_leads(con, period: Period) -> pd.DataFrame:
    """Leads of the period with their segment, funnel outcome and allocated spend.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days of the lead cohort.

    Returns
    -------
    pandas.DataFrame
        One row per lead: ``lead_id``, ``created_at``, ``channel``,
        ``region``, ``industry``, ``company_size``, ``mql``, ``sql_leads``,
        ``sales`` (its deals that reached mql, sql, won), ``revenue`` (RUB)
        and ``spend``: the CPL of its channel in the period (RUB; 0 for a
        channel without spend).
    """
    with duckdb_backend(con) as backend:
        frame = backend.execute(segment_lead_table(backend, period.start, period.end_exclusive))
    return frame.reset_index(drop=True)


def segment_table(leads: pd.DataFrame, by: str = "region") -> pd.DataFrame:
    """Conversion, acquisition cost and average check by segment.

    Parameters
    ----------
    leads : pandas.DataFrame
        Output of :func:`segment_leads`.
    by : {"region", "industry", "company_size"}, default "region"
        Segment dimension.

    Returns
    -------
    pandas.DataFrame
        One row per segment value in column ``by``, most leads first (ties by
        name): ``leads``, ``mql``, ``sql_leads``, ``sales``, ``revenue``
        (RUB), ``spend`` (allocated, RUB), ``share_of_revenue`` (% of the
        period's revenue), ``cr_lead_mql``, ``cr_mql_sql``, ``cr_sql_sale``,
        ``cr_lead_sale`` (%), ``cpl``, ``cac``, ``average_check`` (RUB) and
        ``romi`` (%); see the module docstring for the formulas.
    """
    if by not in DIMENSIONS:
        raise ValueError(f"by must be one of {', '.join(DIMENSIONS)}, got {by!r}")
    out = leads.groupby(by, as_index=False).agg(
        leads=("lead_id", "count"),
        mql=("mql", "sum"),
        sql_leads=("sql_leads", "sum"),
        sales=("sales", "sum"),
        revenue=("revenue", "sum"),
        spend=("spend", "sum"),
    )
    for col in ("leads", "mql", "sql_leads", "sales"):
        out[col] = out[col].astype("int64")
    for col in ("revenue", "spend"):
        out[col] = out[col].astype("float64")
    out["share_of_revenue"] = ratio(out["revenue"], pd.Series(out["revenue"].sum(), out.index), 100)
    out["cr_lead_mql"] = ratio(out["mql"], out["leads"], 100)
    out["cr_mql_sql"] = ratio(out["sql_leads"], out["mql"], 100)
    out["cr_sql_sale"] = ratio(out["sales"], out["sql_leads"], 100)
    out["cr_lead_sale"] = ratio(out["sales"], out["leads"], 100)
    out["cpl"] = ratio(out["spend"], out["leads"])
    out["cac"] = ratio(out["spend"], out["sales"])
    out["average_check"] = ratio(out["revenue"], out["sales"])
    out["romi"] = ratio(out["revenue"] - out["spend"], out["spend"], 100)
    return out.sort_values(["leads", by], ascending=[False, True], ignore_index=True)


def segments_overview(leads: pd.DataFrame) -> pd.DataFrame:
    """:func:`segment_table` of every dimension stacked, for one faceted chart.

    Returns
    -------
    pandas.DataFrame
        Columns ``dimension`` (region, industry, company_size), ``segment``
        and the columns of :func:`segment_table`.
    """
    parts = []
    for dimension in DIMENSIONS:
        table = segment_table(leads, dimension).rename(columns={dimension: "segment"})
        table.insert(0, "dimension", dimension)
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def channel_profitability(con, period: Period) -> pd.DataFrame:
    """Spend, revenue and ROMI per lead channel.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days of the spend and of the lead cohort.

    Returns
    -------
    pandas.DataFrame
        One row per channel of :func:`analytics.metrics.funnel.funnel_by_channel`:
        ``channel``, ``spend`` (RUB), ``leads``, ``sales``, ``revenue`` (RUB,
        won deals of the channel's leads), ``profit`` = revenue - spend (RUB),
        ``romi`` = (revenue - spend) / spend x 100% (NaN without spend),
        ``drr`` (ДРР) = spend / revenue x 100%, ``cac`` = spend / sales (RUB).
        Channels with spend first, by ROMI (descending, NaN last), then the
        rest by revenue.
    """
    channels = funnel_by_channel(con, period)
    out = channels[["channel", "spend", "leads", "sales", "revenue"]].copy()
    out["profit"] = out["revenue"] - out["spend"]
    out["romi"] = channels["romi"]
    out["drr"] = channels["drr"]
    out["cac"] = channels["cac"]
    out["paid"] = out["spend"] > 0
    out = out.sort_values(
        ["paid", "romi", "revenue", "channel"],
        ascending=[False, False, False, True],
        na_position="last",
        ignore_index=True,
    )
    return out.drop(columns="paid")
