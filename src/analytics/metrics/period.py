"""Report periods: what "last week" means for a given warehouse.

A report is always about a closed range of calendar days. The range is written
by people as a short spec (``last-week``, ``2025-W23``, ``2025-06``,
``2025-06-01..2025-06-07``, ``all``) and resolved here against an *anchor* day,
the report's "today". For demo or lagging data the anchor is the last day with
visits in the warehouse (:func:`data_anchor`), not the wall clock, so a weekly
report on a frozen export still shows its last complete week.

Every period carries a filesystem-safe label used as the report folder name:
``2025-W23`` for ISO weeks, ``2025-06`` for months and ``2025-06-01_2025-06-07``
for explicit ranges and ``all``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

# pandas and the transforms are imported by the functions that query the warehouse: a
# Period alone (e.g. unpickled by the report runner from the process that resolved it)
# must not load pandas, Ibis and DuckDB.

ACCEPTED_FORMS = (
    "last-week (last complete ISO week, Monday-Sunday, ending on or before the anchor)",
    "last-month (last complete calendar month ending on or before the anchor)",
    "YYYY-Www (ISO week, e.g. 2025-W23)",
    "YYYY-MM (calendar month, e.g. 2025-06)",
    "YYYY-MM-DD..YYYY-MM-DD (inclusive range, e.g. 2025-06-01..2025-06-07)",
    "all (first to last day with data)",
)

_ISO_WEEK = re.compile(r"^(\d{4})-[Ww](\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Period:
    """A closed range of calendar days a report is about.

    Parameters
    ----------
    start : datetime.date
        First day of the period.
    end : datetime.date
        Last day of the period, inclusive.
    label : str
        Filesystem-safe name of the period (``2025-W23``, ``2025-06``,
        ``2025-06-01_2025-06-07``), used as the report folder.
    """

    start: date
    end: date
    label: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def end_exclusive(self) -> date:
        """Day after :attr:`end`: timestamps ``t`` are in the period iff
        ``start <= t < end_exclusive``."""
        return self.end + timedelta(days=1)

    @property
    def days(self) -> int:
        """Number of days in the period, ``end - start + 1``."""
        return (self.end - self.start).days + 1

    def __contains__(self, day: date) -> bool:
        if isinstance(day, datetime):
            day = day.date()
        return self.start <= day <= self.end

    def __str__(self) -> str:
        return f"{self.label} ({self.start.isoformat()} – {self.end.isoformat()})"


def iso_week(year: int, week: int) -> Period:
    """ISO week ``year-Wweek``: Monday to Sunday.

    Raises
    ------
    ValueError
        If the year has no such ISO week (weeks run 1..52 or 1..53).
    """
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ValueError(f"{year}-W{week:02d} is not an ISO week: {exc}") from None
    return Period(monday, monday + timedelta(days=6), f"{year}-W{week:02d}")


def month(year: int, month_number: int) -> Period:
    """Calendar month ``year-month_number``: first to last day.

    Raises
    ------
    ValueError
        If ``month_number`` is not in 1..12.
    """
    if not 1 <= month_number <= 12:
        raise ValueError(f"{year}-{month_number:02d} is not a month: month must be 01..12")
    first = date(year, month_number, 1)
    next_first = date(year + month_number // 12, month_number % 12 + 1, 1)
    return Period(first, next_first - timedelta(days=1), f"{year}-{month_number:02d}")


def date_range(start: date, end: date) -> Period:
    """Inclusive range of days labelled ``start_end`` (``2025-06-01_2025-06-07``)."""
    return Period(start, end, f"{start.isoformat()}_{end.isoformat()}")


def parse_period(
    spec: str,
    anchor: date,
    bounds: tuple[date, date] | None = None,
) -> Period:
    """Resolve a period spec against the report's anchor day.

    Parameters
    ----------
    spec : str
        One of: ``last-week``, ``last-month``, ``YYYY-Www``, ``YYYY-MM``,
        ``YYYY-MM-DD..YYYY-MM-DD`` or ``all`` (see :data:`ACCEPTED_FORMS`).
    anchor : datetime.date
        The report's "today" (e.g. :func:`data_anchor`). ``last-week`` is the
        last complete ISO week ending on or before the anchor: on a Sunday
        anchor it is the week that ends that day, on Monday to Saturday the
        week before. ``last-month`` likewise: the anchor's own month if the
        anchor is its last day, else the previous month. Absolute specs ignore
        the anchor.
    bounds : tuple of datetime.date, optional
        ``(first_day, last_day)`` with data, required by ``all``
        (e.g. :func:`data_bounds`).

    Returns
    -------
    Period

    Raises
    ------
    ValueError
        For an unknown or malformed spec (the message lists the accepted forms),
        an impossible date, a range that ends before it starts, or ``all``
        without bounds.
    """
    if isinstance(anchor, datetime):
        anchor = anchor.date()
    text = spec.strip() if isinstance(spec, str) else spec
    if not isinstance(text, str):
        raise ValueError(_bad_spec(spec))
    lowered = text.lower()

    if lowered == "last-week":
        sunday = anchor - timedelta(days=anchor.isoweekday() % 7)
        year, week, _ = sunday.isocalendar()
        return iso_week(year, week)
    if lowered == "last-month":
        last_day = anchor
        if (anchor + timedelta(days=1)).month == anchor.month:
            last_day = anchor.replace(day=1) - timedelta(days=1)
        return month(last_day.year, last_day.month)
    if lowered == "all":
        if bounds is None:
            raise ValueError("period 'all' needs the data bounds (first and last day with data)")
        first, last = (b.date() if isinstance(b, datetime) else b for b in bounds)
        return date_range(first, last)

    if m := _ISO_WEEK.match(text):
        return iso_week(int(m[1]), int(m[2]))
    if m := _MONTH.match(text):
        return month(int(m[1]), int(m[2]))
    if m := _RANGE.match(text):
        try:
            start, end = date.fromisoformat(m[1]), date.fromisoformat(m[2])
        except ValueError as exc:
            raise ValueError(f"bad date in period {spec!r}: {exc}") from None
        if end < start:
            raise ValueError(f"period {spec!r} ends before it starts")
        return date_range(start, end)
    raise ValueError(_bad_spec(spec))


def _bad_spec(spec: object) -> str:
    forms = "\n  ".join(ACCEPTED_FORMS)
    return f"unknown period {spec!r}; accepted forms:\n  {forms}"


def as_date(value) -> date | None:
    """A date from what a backend returns for a date (date, Timestamp, datetime64; None if null)."""
    import pandas as pd

    if value is None or pd.isna(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def data_anchor(con) -> date:
    """Last day with visits in the warehouse: a report's "today" for the data.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or ibis.BaseBackend
        Connection to a warehouse with the canonical ``visits`` table, or an
        Ibis backend holding it (the expression is
        :func:`analytics.transforms.data_span.last_visit_day`).

    Returns
    -------
    datetime.date
        ``max(visit_start)::DATE``.

    Raises
    ------
    ValueError
        If the warehouse has no visits.
    """
    from analytics.transforms.backends import ibis_backend
    from analytics.transforms.data_span import last_visit_day

    with ibis_backend(con) as backend:
        anchor = as_date(backend.execute(last_visit_day(backend)))
    if anchor is None:
        raise ValueError("the warehouse has no visits: cannot anchor the report period")
    return anchor


def data_bounds(con) -> tuple[date, date]:
    """First and last day with any visits, leads or spend in the warehouse.

    Used to resolve the period ``all``. ``con`` is a DuckDB connection or an
    Ibis backend (:func:`analytics.transforms.data_span.data_span`).

    Raises
    ------
    ValueError
        If the warehouse has no visits, leads or spend.
    """
    from analytics.transforms.backends import ibis_backend
    from analytics.transforms.data_span import data_span

    with ibis_backend(con) as backend:
        span = backend.execute(data_span(backend))
    first, last = (as_date(span[name].iloc[0]) for name in ("first_day", "last_day"))
    if first is None:
        raise ValueError("the warehouse has no visits, leads or spend: no data bounds")
    return first, last


def data_extent(con) -> tuple[date, date, date]:
    """:func:`data_bounds` and :func:`data_anchor` with one query.

    Returns
    -------
    tuple of datetime.date
        ``(first_day, last_day, anchor)``.

    Raises
    ------
    ValueError
        If the warehouse has no visits, leads or spend, or no visits.
    """
    from analytics.transforms.backends import ibis_backend
    from analytics.transforms.data_span import data_span

    with ibis_backend(con) as backend:
        span = backend.execute(data_span(backend, with_anchor=True))
    first, last, anchor = (
        as_date(span[name].iloc[0]) for name in ("first_day", "last_day", "last_visit_day")
    )
    if first is None:
        raise ValueError("the warehouse has no visits, leads or spend: no data bounds")
    if anchor is None:
        raise ValueError("the warehouse has no visits: cannot anchor the report period")
    return first, last, anchor


def previous_period(period: Period) -> Period:
    """The period of the same length that ends the day before ``period`` starts.

    The week before an ISO week is labelled as an ISO week (``2025-W22``);
    anything else (a month too: the 30 days before June) is the same number
    of days, labelled as a date range.
    """
    if _ISO_WEEK.match(period.label):
        year, week, _ = (period.start - timedelta(days=7)).isocalendar()
        return iso_week(year, week)
    end = period.start - timedelta(days=1)
    return date_range(end - timedelta(days=period.days - 1), end)


def year_ago_period(period: Period) -> Period:
    """The same period a year earlier.

    An ISO week ``YYYY-Www`` gives the same week number of the previous ISO
    year (week 53 falls back to week 52 when that year has none); a month the
    same month; any other range the same calendar days one year earlier
    (29 February becomes 28 February).
    """
    if m := _ISO_WEEK.match(period.label):
        year, week = int(m[1]) - 1, int(m[2])
        weeks_in_year = date(year, 12, 28).isocalendar()[1]
        return iso_week(year, min(week, weeks_in_year))
    if m := _MONTH.match(period.label):
        return month(int(m[1]) - 1, int(m[2]))

    def back(day: date) -> date:
        try:
            return day.replace(year=day.year - 1)
        except ValueError:  # 29 February
            return day.replace(year=day.year - 1, day=28)

    return date_range(back(period.start), back(period.end))
