"""Cohorts of visitors: what the people who first came in a week did afterwards.

A weekly funnel mixes people who arrived long ago with newcomers, so a good or
bad week of ads shows up in sales months later and under other weeks. Cohorts
follow the **visitors whose first visit** (in the whole warehouse) fell in a
week or month -- ``cohort_week`` / ``cohort_month`` -- and count what they did
in each later week or month of their life, by the channel of that first visit
(``first_channel``).

Conventions
-----------
* A visitor's first visit is the earliest ``visits.visit_start`` of its
  ``visitor_id`` (ties broken by ``visit_id``); ``first_channel`` is that
  visit's channel. The cohort is the Monday of its ISO week (``grain="week"``)
  or the first day of its month (``grain="month"``).
* A lead belongs to the visitor ``leads.visitor_id``, or the visitor of
  ``leads.visit_id`` when the former is empty; leads with neither (calls
  without a session) are outside every cohort.
* Stages follow :mod:`analytics.metrics.funnel`: ``mql``, ``sql_leads`` and ``sales``
  count the deals of the cohort's leads that reached stage mql, sql and won
  (history or current stage, order :data:`analytics.metrics.funnel.STAGE_ORDER`);
  ``revenue`` is the amount of the won deals, RUB.
* Each event is dated: a lead by ``leads.created_at``; a stage by the first
  time the deal entered it or any later stage (``deal_stages.entered_at``),
  falling back to ``deals.closed_at`` for a sale and to ``deals.created_at``
  when the history has no such row.
* ``weeks_since_first_visit`` = (Monday of the event's week - cohort_week) / 7;
  ``months_since_first_visit`` = months between the cohort month and the
  event's month. Age 0 is the cohort's own week or month.
* Nothing after ``as_of`` (default: the period's last day) is counted, and an
  age is listed only once its week or month has started by ``as_of``, so the
  newest cohorts have the fewest ages (the usual triangle). The age holding
  ``as_of`` may be partial.

Cumulative conversion of a cohort at age ``k`` = events at ages ``0..k`` /
cohort visitors x 100%; it never decreases with age.

The counts come from the Ibis expressions
:func:`analytics.transforms.cohort_events.cohort_visitors` and
:func:`analytics.transforms.cohort_events.cohort_stage_events`, run on the DuckDB
connection given (``transforms.duckdb_backend(con)``); this module adds the
grid of observed ages, labels and cumulative metrics in pandas.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import ibis
import numpy as np
import pandas as pd

from analytics.metrics.period import Period, date_range
from analytics.transforms.backends import duckdb_backend, fetch_frame
from analytics.transforms.cohort_events import GRAINS as GRAINS  # re-exported
from analytics.transforms.cohort_events import (
    cohort_stage_events,
    cohort_visitors,
    first_visit_rows,
)

STAGES = ("leads", "mql", "sql_leads", "sales")
"""Cohort counts in funnel order."""

CONVERSIONS: dict[str, tuple[str, str]] = {
    # column: (label, formula)
    "cr_visitor_lead": ("CR visitor → lead, %", "cumulative leads / visitors × 100%"),
    "cr_visitor_mql": ("CR visitor → MQL, %", "cumulative MQL / visitors × 100%"),
    "cr_visitor_sql": ("CR visitor → SQL, %", "cumulative SQL / visitors × 100%"),
    "cr_visitor_sale": ("CR visitor → sale, %", "cumulative sales / visitors × 100%"),
    "revenue_per_visitor": ("Revenue per visitor, RUB", "cumulative revenue / visitors"),
}
"""Cumulative metrics of :func:`cumulative_conversion`: label and formula."""


def cohort_column(grain: str) -> str:
    """Name of the cohort column: ``cohort_week`` or ``cohort_month``."""
    return f"cohort_{_check_grain(grain)}"


def age_column(grain: str) -> str:
    """Name of the age column: ``weeks_since_first_visit`` or ``months_since_first_visit``."""
    return f"{_check_grain(grain)}s_since_first_visit"


def _check_grain(grain: str) -> str:
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {', '.join(GRAINS)}, got {grain!r}")
    return grain


def _ages_observed(cohort: date, as_of: date, grain: str) -> int:
    """Number of ages whose week or month has started by ``as_of`` (0 if none)."""
    if as_of < cohort:
        return 0
    if grain == "week":
        return (as_of - cohort).days // 7 + 1
    return (as_of.year - cohort.year) * 12 + as_of.month - cohort.month + 1


def cohort_label(cohort: date, grain: str) -> str:
    """``2025-W23`` for a week cohort (its Monday), ``2025-06`` for a month cohort."""
    if grain == "week":
        year, week, _ = cohort.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{cohort.year}-{cohort.month:02d}"


def cohort_window(period: Period, count: int = 12, grain: str = "week") -> Period:
    """The ``count`` weeks or months of cohorts up to the end of a report period.

    A weekly report period holds one cohort with a week of history, too short to
    see visitors convert; reports look at the cohorts of the weeks (months)
    before it instead, as of the period's last day.

    Parameters
    ----------
    period : Period
        Only ``period.end`` is used.
    count : int, default 12
        Number of cohorts, >= 1.
    grain : {"week", "month"}, default "week"
        Cohort unit.

    Returns
    -------
    Period
        From the Monday ``count - 1`` weeks before the week of ``period.end``
        (or the first day of the month ``count - 1`` months before its month)
        to ``period.end``; the last cohort is partial unless the period ends on
        a Sunday (the last day of a month).
    """
    grain = _check_grain(grain)
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    end = period.end
    if grain == "week":
        first = end - timedelta(days=end.weekday()) - timedelta(weeks=count - 1)
    else:
        months = end.year * 12 + end.month - 1 - (count - 1)
        first = date(months // 12, months % 12 + 1, 1)
    return date_range(first, end)


def cohort_funnel(
    con,
    period: Period,
    grain: str = "week",
    as_of: date | None = None,
    max_age: int | None = None,
) -> pd.DataFrame:
    """Funnel events of visitor cohorts by age, one row per cohort, first channel and age.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        The cohorts are the visitors whose first visit fell in these days. A
        period not aligned to the grain gives partial first and last cohorts.
    grain : {"week", "month"}, default "week"
        Cohort and age unit.
    as_of : datetime.date, optional
        Last day whose events are counted; default ``period.end``.
    max_age : int, optional
        Largest age listed (weeks or months); default: all observed.

    Returns
    -------
    pandas.DataFrame
        Columns ``cohort_week`` (or ``cohort_month``; Timestamp of the Monday
        or first day), ``cohort`` (label ``2025-W23`` / ``2025-06``),
        ``first_channel``, ``weeks_since_first_visit`` (or
        ``months_since_first_visit``), ``visitors`` (cohort size, repeated on
        every age), ``leads``, ``mql``, ``sql_leads``, ``sales`` (counts in
        that age) and ``revenue`` (RUB in that age). Every observed age of
        every cohort and first channel is listed, zeros included; ages not
        yet observed by ``as_of`` are absent. Sorted by cohort, channel, age.

    Notes
    -----
    The counts are computed by the Ibis expressions
    :func:`analytics.transforms.cohort_events.cohort_visitors` and
    :func:`analytics.transforms.cohort_events.cohort_stage_events` on ``con``.
    """
    return cohort_funnels(con, [(period, grain)], as_of, max_age)[0]


def cohort_funnels(
    con,
    windows: list[tuple[Period, str]],
    as_of: date | None = None,
    max_age: int | None = None,
) -> list[pd.DataFrame]:
    """:func:`cohort_funnel` of several cohort windows (e.g. 12 weeks and 12 months) in one query.

    Every window reads the first visit of every visitor (a group-by over every
    visit, most of the time at 10M visits); in one query Ibis writes that
    subquery once, as a CTE the windows share, so it is computed once.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    windows : list of (Period, grain)
        The cohorts' days and their grain (``week`` or ``month``), as
        :func:`cohort_funnel`'s ``period`` and ``grain``.
    as_of, max_age
        As in :func:`cohort_funnel` (``as_of`` default: each window's end).

    Returns
    -------
    list of pandas.DataFrame
        One frame per window, in order, equal to
        ``cohort_funnel(con, period, grain, as_of, max_age)``.
    """
    specs = []
    for period, grain in windows:
        day = as_of or period.end
        if isinstance(day, datetime):
            day = day.date()
        specs.append((period, _check_grain(grain), day))
    with duckdb_backend(con) as backend:
        fetched = _sizes_and_events(
            backend,
            [(p.start, p.end_exclusive, day + timedelta(days=1), g) for p, g, day in specs],
        )
    return [
        _funnel_frame(sizes, events, grain, day, max_age)
        for (sizes, events), (_, grain, day) in zip(fetched, specs, strict=True)
    ]


def _funnel_frame(
    sizes: pd.DataFrame, events: pd.DataFrame, grain: str, as_of: date, max_age: int | None
) -> pd.DataFrame:
    """:func:`cohort_funnel`'s frame from the sizes and events of its window."""
    cohort_col, age_col = cohort_column(grain), age_column(grain)
    columns = [cohort_col, "cohort", "first_channel", age_col, "visitors", *STAGES, "revenue"]
    if sizes.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64") for c in columns})
    sizes["cohort"] = pd.to_datetime(sizes["cohort"]).dt.date
    sizes = sizes.set_index(["cohort", "first_channel"])["visitors"]
    events["cohort"] = pd.to_datetime(events["cohort"]).dt.date
    events = events.astype({"age": "int64"}).set_index(["cohort", "first_channel", "age"])
    grid = []
    for (cohort, channel), visitors in sizes.items():
        ages = _ages_observed(cohort, as_of, grain)
        if max_age is not None:
            ages = min(ages, max_age + 1)
        grid += [(cohort, channel, age, int(visitors)) for age in range(ages)]
    frame = pd.DataFrame(grid, columns=["cohort", "first_channel", "age", "visitors"])
    frame = frame.join(events, on=["cohort", "first_channel", "age"])
    frame[list(STAGES)] = frame[list(STAGES)].fillna(0).astype("int64")
    frame["revenue"] = frame["revenue"].fillna(0.0).astype("float64")
    frame.insert(0, cohort_col, pd.to_datetime(frame["cohort"]))
    frame["cohort"] = [cohort_label(c, grain) for c in frame["cohort"]]
    frame = frame.rename(columns={"age": age_col})
    frame["visitors"] = frame["visitors"].astype("int64")
    frame[age_col] = frame[age_col].astype("int64")
    return frame[columns].sort_values([cohort_col, "first_channel", age_col], ignore_index=True)


def _sizes_and_events(
    backend, windows: list[tuple[date, date, date, str]]
) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """:func:`cohort_visitors` and :func:`cohort_stage_events` of each window in one query.

    ``windows`` are ``(start, stop, as_of_stop, grain)``. Every part reads the
    first visit of every visitor (a group-by over every visit, most of each
    query's time: ~5 s of the 12-month window at 10M visits); one ``UNION ALL``
    of them all lets Ibis share that subquery as one CTE, so the first visits
    are found once. Rows are told apart by ``part`` (``sizes<i>``,
    ``events<i>``) and split back; per window, sizes ``cohort``,
    ``first_channel``, ``visitors`` and events ``cohort``, ``first_channel``,
    ``age``, the stage counts (int64) and ``revenue`` (RUB), unordered.
    """
    event_columns = ["age", *STAGES, "revenue"]
    # the first visits of the windows' whole span, once: each window takes its rows
    span = (min(w[0] for w in windows), max(w[1] for w in windows))
    picked = first_visit_rows(backend, *span) if len(windows) > 1 else None
    parts = []
    for i, (start, stop, as_of_stop, grain) in enumerate(windows):
        sizes = cohort_visitors(backend, start, stop, grain, picked)
        events = cohort_stage_events(backend, start, stop, as_of_stop, grain, picked)
        sizes = sizes.mutate(
            part=ibis.literal(f"sizes{i}"),
            **{c: ibis.null(events.schema()[c]) for c in event_columns},
        )
        events = events.mutate(part=ibis.literal(f"events{i}"), visitors=ibis.null("int64"))
        parts += [sizes, events.select(*sizes.columns)]
    both = fetch_frame(backend, ibis.union(*parts, distinct=False))
    counts = {c: "int64" for c in ("age", *STAGES)}
    out = []
    for i in range(len(windows)):
        is_size = (both["part"] == f"sizes{i}").to_numpy()
        is_event = (both["part"] == f"events{i}").to_numpy()
        size_rows = both.loc[is_size, ["cohort", "first_channel", "visitors"]]
        size_rows = size_rows.astype({"visitors": "int64"}).reset_index(drop=True)
        event_rows = both.loc[is_event, ["cohort", "first_channel", *event_columns]]
        out.append((size_rows, event_rows.astype(counts).reset_index(drop=True)))
    return out


def _grain_of(cohorts: pd.DataFrame) -> str:
    for grain in GRAINS:
        if cohort_column(grain) in cohorts.columns:
            return grain
    raise ValueError("not a cohort_funnel frame: no cohort_week or cohort_month column")


def cohort_sizes(cohorts: pd.DataFrame) -> pd.DataFrame:
    """Visitors by cohort (rows) and first channel (columns), with a total column.

    Parameters
    ----------
    cohorts : pandas.DataFrame
        Output of :func:`cohort_funnel`.

    Returns
    -------
    pandas.DataFrame
        Index ``cohort`` (label, oldest first), one column per first channel
        (visitors, 0 where none) and ``total``.
    """
    grain = _grain_of(cohorts)
    age_col = age_column(grain)
    first_age = cohorts[cohorts[age_col] == 0]
    table = first_age.pivot_table(
        index=[cohort_column(grain), "cohort"],
        columns="first_channel",
        values="visitors",
        aggfunc="sum",
        fill_value=0,
    )
    table = table.droplevel(0)
    table.columns.name = "first_channel"
    table["total"] = table.sum(axis=1)
    return table.astype("int64")


def cumulative_conversion(cohorts: pd.DataFrame, by_channel: bool = True) -> pd.DataFrame:
    """Cumulative counts and conversion of each cohort by age.

    Parameters
    ----------
    cohorts : pandas.DataFrame
        Output of :func:`cohort_funnel`.
    by_channel : bool, default True
        Keep one row per first channel; with False the channels of a cohort are
        added up (visitors and events).

    Returns
    -------
    pandas.DataFrame
        The counts of ``cohorts`` (summed over channels if ``by_channel`` is
        False) plus, per cohort (and channel), cumulative sums over ages
        ``0..k``: ``leads_cum``, ``mql_cum``, ``sql_leads_cum``, ``sales_cum``,
        ``revenue_cum`` (RUB) and the metrics of :data:`CONVERSIONS`:
        ``cr_visitor_lead`` = leads_cum / visitors x 100%, ``cr_visitor_mql``,
        ``cr_visitor_sql``, ``cr_visitor_sale`` (%), ``revenue_per_visitor``
        = revenue_cum / visitors (RUB). NaN for a cohort without visitors.
    """
    grain = _grain_of(cohorts)
    cohort_col, age_col = cohort_column(grain), age_column(grain)
    keys = [cohort_col, "cohort"] + (["first_channel"] if by_channel else [])
    values = ["visitors", *STAGES, "revenue"]
    frame = cohorts.groupby([*keys, age_col], as_index=False)[values].sum()
    frame = frame.sort_values([*keys, age_col], ignore_index=True)
    grouped = frame.groupby(keys, sort=False)
    for col in (*STAGES, "revenue"):
        frame[f"{col}_cum"] = grouped[col].cumsum()
    visitors = frame["visitors"].astype("float64").where(frame["visitors"] > 0, np.nan)
    sources = ("leads_cum", "mql_cum", "sql_leads_cum", "sales_cum", "revenue_cum")
    for (metric, _), source in zip(CONVERSIONS.items(), sources, strict=True):
        scale = 1.0 if metric == "revenue_per_visitor" else 100.0
        frame[metric] = frame[source] * scale / visitors
    return frame


def conversion_matrix(
    cohorts: pd.DataFrame,
    metric: str = "cr_visitor_lead",
    first_channel: str | None = None,
) -> pd.DataFrame:
    """Cohort x age matrix of a cumulative metric, ready for ``seaborn.heatmap``.

    Parameters
    ----------
    cohorts : pandas.DataFrame
        Output of :func:`cohort_funnel`.
    metric : str, default "cr_visitor_lead"
        One of :data:`CONVERSIONS`.
    first_channel : str, optional
        Only the visitors who came first through this channel; default all.

    Returns
    -------
    pandas.DataFrame
        Index ``cohort`` (label, oldest first; every cohort of ``cohorts``,
        so matrices of different channels align), columns the ages
        (``weeks_since_first_visit`` or ``months_since_first_visit``), values
        the cumulative metric (% or RUB per visitor); NaN where the age is not
        yet observed or the cohort has no visitor of ``first_channel``.
    """
    if metric not in CONVERSIONS:
        raise ValueError(f"metric must be one of {', '.join(CONVERSIONS)}, got {metric!r}")
    grain = _grain_of(cohorts)
    cohort_col, age_col = cohort_column(grain), age_column(grain)
    rows = cohorts[[cohort_col, "cohort"]].drop_duplicates().sort_values(cohort_col)["cohort"]
    ages = sorted(cohorts[age_col].unique())
    if first_channel is not None:
        cohorts = cohorts[cohorts["first_channel"] == first_channel]
    frame = cumulative_conversion(cohorts, by_channel=False)
    matrix = frame.pivot(index="cohort", columns=age_col, values=metric)
    matrix = matrix.reindex(index=pd.Index(rows, name="cohort"), columns=ages)
    matrix.columns.name = age_col
    return matrix.astype("float64")


def cohort_totals(cohorts: pd.DataFrame) -> pd.Series:
    """Visitors and every event summed over all cohorts, channels and ages.

    Returns
    -------
    pandas.Series
        ``visitors``, ``leads``, ``mql``, ``sql_leads``, ``sales``, ``revenue``.
    """
    grain = _grain_of(cohorts)
    first_age = cohorts[cohorts[age_column(grain)] == 0]
    totals = cohorts[[*STAGES, "revenue"]].sum()
    return pd.concat([pd.Series({"visitors": first_age["visitors"].sum()}), totals])
