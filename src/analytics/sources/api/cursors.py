"""Incremental state of the connectors: table ``pull_state`` in the warehouse.

=============  =========  ==================================================
column         type       meaning
=============  =========  ==================================================
``source``     VARCHAR    connector name (primary key)
``cursor``     VARCHAR    last date loaded (``YYYY-MM-DD``) or the
                          connector's cursor (amoCRM: ``updated_at`` epoch)
``rows_in``    BIGINT     rows of the last successful pull
``updated_at`` TIMESTAMP  when the cursor was saved (UTC)
=============  =========  ==================================================

The cursor is saved only after every file of a pull has been loaded, so a
pull that fails (network, vendor error, an unusable file) leaves it as it
was and the next pull starts from the same place. A crash between the load
and the save re-pulls one window, which the upserting load absorbs.
"""

from __future__ import annotations

from datetime import UTC, datetime

PULL_STATE_DDL = """
CREATE TABLE IF NOT EXISTS main.pull_state (
  source VARCHAR PRIMARY KEY,
  cursor VARCHAR NOT NULL,
  rows_in BIGINT,
  updated_at TIMESTAMP NOT NULL
)"""


def ensure_pull_state(con) -> None:
    """Create ``pull_state`` if missing."""
    con.execute(PULL_STATE_DDL)


def read_cursor(con, source: str) -> str | None:
    """The saved cursor of ``source`` (None before its first successful pull)."""
    ensure_pull_state(con)
    rows = con.execute("SELECT cursor FROM main.pull_state WHERE source = ?", [source]).fetchall()
    return rows[0][0] if rows else None


def save_cursor(con, source: str, cursor: str, rows_in: int, now: datetime | None = None) -> None:
    """Store ``cursor`` for ``source`` (insert or replace) with the time of saving."""
    ensure_pull_state(con)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    con.execute(
        "INSERT OR REPLACE INTO main.pull_state VALUES (?, ?, ?, ?)",
        [source, cursor, rows_in, stamp],
    )


def pull_states(con):
    """All cursors as a frame (source, cursor, rows_in, updated_at)."""
    ensure_pull_state(con)
    return con.execute("SELECT * FROM main.pull_state ORDER BY source").df()
