"""Identity stitching at the sources level: leads -> visits, deals <-> leads.

Links the records the adapters loaded, and counts what could not be linked
(unmatched records are counted, never dropped):

* **lead -> visit** (calls, forms, chats): by ``visit_id`` when the lead's
  session id is a visit in ``visits``; else by visitor and time: the latest
  visit of the same ``visitor_id`` that started at or before the lead and
  ended (``visit_start + duration_s``) no more than ``window_minutes`` before
  it. A call-tracking session id that is not a web-analytics visit id falls
  back to the visitor rule.
* **deal -> lead**: by ``lead_id`` when it is a lead in ``leads``; else by the
  hashed contact phone, then e-mail, of the deal (``deal_contacts``, written
  by :func:`analytics.sources.amocrm.load_deals`): the latest lead with that
  hash created at or before the deal, else the earliest one after it.
* **lead -> deal**: a lead is matched by id when a deal names it, by contact
  when a deal's phone / e-mail hash equals the lead's (e.g. a repeated
  request of a customer already in the CRM), else unmatched (a lead missing
  from the CRM).

Everything is computed in DuckDB from the warehouse tables; nothing is
written.
"""

from __future__ import annotations

import pandas as pd

from analytics.warehouse import InputError

WINDOW_MINUTES = 30
"""Minutes after a visit's end within which a lead is still attributed to it."""

_CONTACTS_EMPTY = (
    "(SELECT CAST(NULL AS VARCHAR) AS deal_id, CAST(NULL AS VARCHAR) AS phone_hash, "
    "CAST(NULL AS VARCHAR) AS email_hash WHERE false)"
)


def _tables(con) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }


def _require(con, *names: str) -> set[str]:
    present = _tables(con)
    missing = [n for n in names if n not in present]
    if missing:
        raise InputError(f"warehouse has no table(s) {', '.join(missing)}; load the sources first")
    return present


def lead_visit_links(con, window_minutes: float = WINDOW_MINUTES) -> pd.DataFrame:
    """The visit of every lead.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with ``leads`` and ``visits``.
    window_minutes : float
        Slack after a visit's end for the visitor + time rule.

    Returns
    -------
    pandas.DataFrame
        ``lead_id``, ``lead_type``, ``visit_id`` (None if unmatched),
        ``visitor_id``, ``matched_by`` (``visit_id``, ``visitor_window`` or
        None), one row per lead.
    """
    _require(con, "leads", "visits")
    return con.execute(
        """
        WITH by_id AS (
            SELECT l.lead_id, v.visit_id, v.visitor_id
            FROM leads l JOIN visits v ON v.visit_id = l.visit_id
        ),
        by_window AS (
            SELECT l.lead_id, arg_max(v.visit_id, v.visit_start) AS visit_id,
                   any_value(v.visitor_id) AS visitor_id
            FROM leads l JOIN visits v
              ON v.visitor_id = l.visitor_id
             AND v.visit_start <= l.created_at
             AND l.created_at <= v.visit_start + to_seconds(v.duration_s)
                                 + to_microseconds(CAST($window * 60e6 AS BIGINT))
            WHERE l.lead_id NOT IN (SELECT lead_id FROM by_id)
            GROUP BY l.lead_id
        )
        SELECT l.lead_id, l.lead_type,
               coalesce(i.visit_id, w.visit_id) AS visit_id,
               coalesce(i.visitor_id, w.visitor_id, l.visitor_id) AS visitor_id,
               CASE WHEN i.visit_id IS NOT NULL THEN 'visit_id'
                    WHEN w.visit_id IS NOT NULL THEN 'visitor_window' END AS matched_by
        FROM leads l
        LEFT JOIN by_id i ON i.lead_id = l.lead_id
        LEFT JOIN by_window w ON w.lead_id = l.lead_id
        ORDER BY l.lead_id
        """,
        {"window": float(window_minutes)},
    ).df()


def _contacts(con) -> str:
    return "main.deal_contacts" if "deal_contacts" in _tables(con) else _CONTACTS_EMPTY


def deal_lead_links(con) -> pd.DataFrame:
    """The lead of every deal.

    Returns
    -------
    pandas.DataFrame
        ``deal_id``, ``lead_id`` (None if unmatched), ``matched_by``
        (``lead_id``, ``phone``, ``email`` or None), one row per deal.
    """
    _require(con, "leads", "deals")
    contacts = _contacts(con)
    return con.execute(
        f"""
        WITH by_id AS (
            SELECT d.deal_id, l.lead_id FROM deals d JOIN leads l ON l.lead_id = d.lead_id
        ),
        open_deals AS (
            SELECT d.deal_id, d.created_at, c.phone_hash, c.email_hash
            FROM deals d JOIN {contacts} c ON c.deal_id = d.deal_id
            WHERE d.deal_id NOT IN (SELECT deal_id FROM by_id)
        ),
        candidates AS (
            SELECT o.deal_id, l.lead_id, l.created_at <= o.created_at AS before,
                   l.created_at, CASE WHEN l.phone_hash = o.phone_hash THEN 1 ELSE 2 END AS how
            FROM open_deals o JOIN leads l
              ON l.phone_hash = o.phone_hash OR l.email_hash = o.email_hash
        ),
        best AS (
            SELECT deal_id,
                   arg_min(lead_id, (how, NOT before,
                       CASE WHEN before THEN -epoch(created_at) ELSE epoch(created_at) END))
                       AS lead_id,
                   min(how) AS how
            FROM candidates GROUP BY deal_id
        )
        SELECT d.deal_id, coalesce(i.lead_id, b.lead_id) AS lead_id,
               CASE WHEN i.lead_id IS NOT NULL THEN 'lead_id'
                    WHEN b.how = 1 THEN 'phone' WHEN b.how = 2 THEN 'email' END AS matched_by
        FROM deals d
        LEFT JOIN by_id i ON i.deal_id = d.deal_id
        LEFT JOIN best b ON b.deal_id = d.deal_id
        ORDER BY d.deal_id
        """
    ).df()


def lead_deal_links(con) -> pd.DataFrame:
    """Whether each lead reached the CRM.

    Returns
    -------
    pandas.DataFrame
        ``lead_id``, ``deal_id`` (a deal naming the lead, else one sharing its
        phone / e-mail hash, else None), ``matched_by`` (``lead_id``,
        ``contact`` or None), one row per lead.
    """
    _require(con, "leads", "deals")
    contacts = _contacts(con)
    return con.execute(
        f"""
        WITH by_id AS (
            SELECT lead_id, min(deal_id) AS deal_id FROM deals
            WHERE lead_id IS NOT NULL GROUP BY lead_id
        ),
        by_contact AS (
            SELECT l.lead_id, min(c.deal_id) AS deal_id
            FROM leads l JOIN {contacts} c
              ON l.phone_hash = c.phone_hash OR l.email_hash = c.email_hash
            GROUP BY l.lead_id
        )
        SELECT l.lead_id, coalesce(i.deal_id, c.deal_id) AS deal_id,
               CASE WHEN i.deal_id IS NOT NULL THEN 'lead_id'
                    WHEN c.deal_id IS NOT NULL THEN 'contact' END AS matched_by
        FROM leads l
        LEFT JOIN by_id i ON i.lead_id = l.lead_id
        LEFT JOIN by_contact c ON c.lead_id = l.lead_id
        ORDER BY l.lead_id
        """
    ).df()


def _summary(link: str, segment: str, by: pd.Series, id_value: str) -> dict:
    return {
        "link": link,
        "segment": segment,
        "records": int(len(by)),
        "matched_by_id": int((by == id_value).sum()),
        "matched_by_fallback": int((by.notna() & (by != id_value)).sum()),
        "unmatched": int(by.isna().sum()),
    }


def stitch(con, *, window_minutes: float = WINDOW_MINUTES) -> pd.DataFrame:
    """Match counts of every link, matched and unmatched.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with ``visits``, ``leads`` and ``deals`` (and
        ``deal_contacts`` if amoCRM deals were loaded).
    window_minutes : float
        Slack after a visit's end for linking a lead by visitor and time.

    Returns
    -------
    pandas.DataFrame
        One row per link and segment: ``link`` (``lead_to_visit``,
        ``deal_to_lead``, ``lead_to_deal``), ``segment`` (lead type or
        ``all``), ``records``, ``matched_by_id``, ``matched_by_fallback``
        (visitor + time window; phone / e-mail hash), ``unmatched`` and
        ``matched_share`` = (by id + by fallback) / records. ``records =
        matched_by_id + matched_by_fallback + unmatched`` in every row.
    """
    _require(con, "visits", "leads", "deals")
    visits = lead_visit_links(con, window_minutes)
    rows = [
        _summary(
            "lead_to_visit",
            lead_type,
            visits.loc[visits["lead_type"] == lead_type, "matched_by"],
            "visit_id",
        )
        for lead_type in sorted(visits["lead_type"].dropna().unique())
    ]
    rows.append(_summary("lead_to_visit", "all", visits["matched_by"], "visit_id"))
    rows.append(_summary("deal_to_lead", "all", deal_lead_links(con)["matched_by"], "lead_id"))
    rows.append(_summary("lead_to_deal", "all", lead_deal_links(con)["matched_by"], "lead_id"))
    summary = pd.DataFrame(rows)
    matched = summary["matched_by_id"] + summary["matched_by_fallback"]
    summary["matched_share"] = (matched / summary["records"].where(summary["records"] > 0)).fillna(
        0.0
    )
    return summary
