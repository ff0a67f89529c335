"""Day and week keys shared by the transforms (portable across backends)."""

from __future__ import annotations

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
