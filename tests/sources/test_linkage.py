"""Tests for :mod:`analytics.sources.linkage`: leads -> visits, deals <-> leads."""

from __future__ import annotations

import pandas as pd
import pytest
from source_checks import FIXTURES, NOW, SALT

from analytics import warehouse as wh
from analytics.sources import load_source
from analytics.sources.linkage import (
    deal_lead_links,
    lead_deal_links,
    lead_visit_links,
    stitch,
)
from analytics.warehouse import InputError


@pytest.fixture(scope="module")
def fixture_warehouse():
    """The vendor fixtures loaded: 6 Metrica visits, 5 calls/requests, 4 amoCRM deals."""
    con = wh.connect(":memory:")
    load_source(
        con,
        "metrica",
        FIXTURES / "metrica_visits.tsv",
        salt=SALT,
        now=NOW,
        pricing_goal_ids=[301234567],
    )
    load_source(con, "calls", FIXTURES / "calltracking_calls.csv", salt=SALT, now=NOW)
    load_source(con, "amocrm", FIXTURES / "amocrm_deals.csv", salt=SALT, now=NOW)
    yield con
    con.close()


def test_leads_link_to_visits_by_session_then_visitor_and_time(fixture_warehouse):
    links = lead_visit_links(fixture_warehouse)
    assert links[["lead_id", "visit_id", "matched_by"]].astype(object).where(
        links.notna(), None
    ).values.tolist() == [
        ["L0000001", "7351207541872123905", "visit_id"],
        ["L0000002", None, None],  # call without a session or visitor
        ["L0000003", "7351207541872123907", "visitor_window"],  # form 40 s before visit end
        ["L0000004", "7351207541872123909", "visit_id"],
        ["L0000005", "7351207541872123910", "visitor_window"],  # call 2.8 min after visit end
    ]


def test_deals_link_to_leads_by_id_then_phone(fixture_warehouse):
    links = deal_lead_links(fixture_warehouse).astype(object)
    assert links.where(links.notna(), None).values.tolist() == [
        ["31544001", "L0000001", "lead_id"],
        ["31544002", "L0000002", "lead_id"],
        ["31544003", "L0000005", "phone"],  # no lead id; mobile phone = the call's number
        ["31544004", None, None],  # e-mail of no lead
    ]
    back = lead_deal_links(fixture_warehouse).astype(object)
    assert back.where(back.notna(), None).values.tolist() == [
        ["L0000001", "31544001", "lead_id"],
        ["L0000002", "31544002", "lead_id"],
        ["L0000003", None, None],
        ["L0000004", None, None],
        ["L0000005", "31544003", "contact"],
    ]


def test_stitch_summary_counts_matched_and_unmatched(fixture_warehouse):
    summary = stitch(fixture_warehouse)
    assert summary.drop(columns="matched_share").values.tolist() == [
        ["lead_to_visit", "call", 3, 1, 1, 1],
        ["lead_to_visit", "chat", 1, 1, 0, 0],
        ["lead_to_visit", "form", 1, 0, 1, 0],
        ["lead_to_visit", "all", 5, 2, 2, 1],
        ["deal_to_lead", "all", 4, 2, 1, 1],
        ["lead_to_deal", "all", 5, 2, 1, 2],
    ]
    counts = summary["matched_by_id"] + summary["matched_by_fallback"] + summary["unmatched"]
    assert (counts == summary["records"]).all()
    assert summary["matched_share"].tolist() == pytest.approx([2 / 3, 1, 1, 0.8, 0.75, 0.6])


def _frame(rows, columns):
    return pd.DataFrame(rows, columns=columns, dtype=object)


def test_time_window_and_contact_choice(con):
    visits = _frame(
        [["v1", "c1", "2024-05-01 10:00:00", "direct", "1", "60", "false"]],
        [
            "visit_id",
            "visitor_id",
            "visit_start",
            "channel",
            "pageviews",
            "duration_s",
            "goal_pricing",
        ],
    )
    wh.load_frame(con, "visits", visits, source_file="visits", salt=SALT, now=NOW)
    leads = _frame(
        [
            ["a", "2024-05-01 10:30:59", "call", "c1", "+79001112233", None],  # end + 29:59
            ["b", "2024-05-01 10:31:01", "call", "c1", "+79001112233", None],  # end + 30:01
            ["c", "2024-05-01 09:59:59", "form", "c1", None, "x@y.ru"],  # before the visit
            ["d", "2024-05-03 10:00:00", "call", None, "+79001112233", None],
        ],
        ["lead_id", "created_at", "lead_type", "visitor_id", "phone", "email"],
    )
    wh.load_frame(con, "leads", leads, source_file="leads", salt=SALT, now=NOW)
    links = lead_visit_links(con).set_index("lead_id")["matched_by"].astype(object)
    assert links.where(links.notna(), None).to_dict() == {
        "a": "visitor_window",
        "b": None,
        "c": None,
        "d": None,
    }
    assert lead_visit_links(con, window_minutes=31).set_index("lead_id").loc["b", "matched_by"] == (
        "visitor_window"
    )
    deals = _frame(
        [
            ["D1", "2024-05-02 12:00:00", "open", "new"],
            ["D2", "2024-04-01 12:00:00", "open", "new"],
            ["D3", "2024-05-02 12:00:00", "open", "new"],
        ],
        ["deal_id", "created_at", "status", "stage"],
    )
    wh.load_frame(con, "deals", deals, source_file="deals", salt=SALT, now=NOW)
    con.execute(
        "CREATE TABLE deal_contacts (deal_id VARCHAR, phone_hash VARCHAR, email_hash VARCHAR)"
    )
    phone = wh.hash_pii("+79001112233", "phone", SALT)
    email = wh.hash_pii("X@y.ru", "email", SALT)
    con.executemany(
        "INSERT INTO deal_contacts VALUES (?, ?, ?)",
        [["D1", phone, None], ["D2", phone, None], ["D3", None, email]],
    )
    links = deal_lead_links(con).set_index("deal_id")
    # D1: latest lead with the phone created before the deal; D2: none before -> earliest after
    assert links["lead_id"].to_dict() == {"D1": "b", "D2": "a", "D3": "c"}
    assert links["matched_by"].to_dict() == {"D1": "phone", "D2": "phone", "D3": "email"}


def test_stitch_needs_the_tables():
    con = wh.connect(":memory:")
    with pytest.raises(InputError, match="warehouse has no table"):
        stitch(con)
