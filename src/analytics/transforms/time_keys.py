"""Day and week keys shared by the transforms (portable across backends)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from datetime import date, datetime, time

import ibis
import ibis.expr.types as ir


def day_start(day: date) -> ir.TimestampScalar:
    """Timestamp literal of midnight at the start of ``day`` (naive, like the warehouse)."""
    return ibis.literal(datetime.combine(day, time()), type="timestamp")


def week_start(value: ir.TimestampValue | ir.DateValue) -> ir.DateValue:
    """Monday of the ISO week of a date or timestamp, as a date."""
    monday = value.truncate("W")
    return monday.date() if isinstance(monday, ir.TimestampValue) else monday


Windows = Sequence[tuple[date, date]]
"""Windows of days ``[start, stop)`` (dates): a period and the ones it is compared with."""


def window_of(moment: ir.Value, windows: Windows, *, days: bool = False) -> ir.IntegerValue:
    """Index in ``windows`` of the ``[start, stop)`` holding ``moment`` (the first one);
    NULL outside them all. ``days``: ``moment`` is a date, not a timestamp."""
    bound = ibis.literal if days else day_start
    return ibis.cases(
        *(((moment >= bound(a)) & (moment < bound(b)), i) for i, (a, b) in enumerate(windows)),
        else_=None,
    ).cast("int64")


def tagged(table: ir.Table, moment: ir.Value, windows: Windows, *, days: bool = False) -> ir.Table:
    """``table`` with the column ``window`` (:func:`window_of`), its rows outside the
    windows dropped.

    The rows are first cut to the windows' :func:`spans` (a few plain ranges on
    ``moment``, which a columnar engine answers from its min/max statistics), then
    tagged: one scan for several periods gives each period's rows, as a query per
    period would.
    """
    table = table.filter(in_windows(moment, spans(windows), days=days))
    table = table.mutate(window=window_of(moment, windows, days=days))
    return table.filter(table.window.notnull())


def in_windows(moment: ir.Value, windows: Windows, *, days: bool = False) -> ir.BooleanValue:
    """Whether ``moment`` falls in any of ``windows``."""
    bound = ibis.literal if days else day_start
    return functools.reduce(
        operator.or_, [(moment >= bound(a)) & (moment < bound(b)) for a, b in windows]
    )


def spans(windows: Windows) -> list[tuple[date, date]]:
    """The days of ``windows`` as few ``[start, stop)`` ranges: overlapping or adjacent
    windows merged (e.g. twelve consecutive weeks are one range), sorted."""
    merged: list[tuple[date, date]] = []
    for start, stop in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return merged
