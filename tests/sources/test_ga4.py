"""Tests for :mod:`analytics.sources.ga4`: BigQuery export events -> sessions in ``visits``."""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from source_checks import FIXTURES, NOW, SALT, assert_reconciled, quarantined

from analytics.sources import ga4
from analytics.warehouse import InputError

NDJSON = FIXTURES / "ga4_events.ndjson"

VALUE = pa.struct(
    [
        ("string_value", pa.string()),
        ("int_value", pa.int64()),
        ("float_value", pa.float64()),
        ("double_value", pa.float64()),
    ]
)
EVENT_SCHEMA = pa.schema(
    [
        ("event_date", pa.string()),
        ("event_timestamp", pa.int64()),
        ("event_name", pa.string()),
        ("event_params", pa.list_(pa.struct([("key", pa.string()), ("value", VALUE)]))),
        ("user_pseudo_id", pa.string()),
        ("device", pa.struct([("category", pa.string())])),
        (
            "traffic_source",
            pa.struct([("name", pa.string()), ("medium", pa.string()), ("source", pa.string())]),
        ),
        (
            "collected_traffic_source",
            pa.struct(
                [
                    ("manual_campaign_name", pa.string()),
                    ("manual_source", pa.string()),
                    ("manual_medium", pa.string()),
                    ("manual_term", pa.string()),
                    ("manual_content", pa.string()),
                    ("gclid", pa.string()),
                ]
            ),
        ),
    ]
)

EXPECTED = [
    (
        "1111.1714546800.1714546800",
        "1111.1714546800",
        datetime(2024, 5, 1, 10, 0),
        "google_search",
        "gads_search_generic",
        "/",
        2,
        185,
        True,
        "desktop",
    ),
    (
        "1111.1714546800.1714663200",
        "1111.1714546800",
        datetime(2024, 5, 2, 18, 20),
        "direct",
        None,
        "/cases",
        1,
        0,
        False,
        "mobile",
    ),
    (
        "2222.1714770000.1714770600",
        "2222.1714770000",
        datetime(2024, 5, 4, 0, 10),
        "organic",
        None,
        "/blog/skvoznaya-analitika",
        2,
        40,
        False,
        "tablet",
    ),
]
QUERY = (
    "SELECT visit_id, visitor_id, visit_start, channel, utm_campaign, landing_page, pageviews, "
    "duration_s, goal_pricing, device FROM visits ORDER BY visit_id"
)
ORPHAN = [
    (9, "visit_id", "visit_id: missing required value; pageviews: '0' is below the minimum 1")
]


def test_ndjson_events_become_sessions_in_local_time(con):
    result = ga4.load_sessions(con, NDJSON, salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (4, 3, 1)
    assert con.execute(QUERY).fetchall() == EXPECTED
    # the event without ga_session_id is counted in quarantine at its file line
    assert quarantined(con) == ORPHAN
    assert_reconciled(con, result)


def test_parquet_export_gives_the_same_sessions(con, tmp_path):
    events = [json.loads(line) for line in NDJSON.read_text().splitlines()]
    for event in events:
        event["event_timestamp"] = int(event["event_timestamp"])
        for param in event["event_params"]:
            value = param["value"]
            value["int_value"] = None if value["int_value"] is None else int(value["int_value"])
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pylist(events, schema=EVENT_SCHEMA), path)
    result = ga4.load_sessions(con, path, salt=SALT, now=NOW)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (4, 3, 1)
    assert con.execute(QUERY).fetchall() == EXPECTED
    assert quarantined(con) == ORPHAN


def test_gclid_and_first_touch_fall_back_to_paid_and_acquisition(con, tmp_path):
    def event(uid, sid, number, **extra):
        params = [
            {"key": "ga_session_id", "value": {"int_value": sid}},
            {"key": "ga_session_number", "value": {"int_value": number}},
            {"key": "page_location", "value": {"string_value": "https://ex.ru/p"}},
        ]
        return {
            "event_timestamp": 1714550400000000 + sid,
            "event_name": "page_view",
            "user_pseudo_id": uid,
            "event_params": params,
            **extra,
        }

    lines = [
        event("a", 1, 1, collected_traffic_source={"gclid": "Cj0KCQ"}),
        event("b", 2, 1, traffic_source={"source": "vc.ru", "medium": "referral", "name": "x"}),
        event("c", 3, 2, traffic_source={"source": "vc.ru", "medium": "referral", "name": "x"}),
    ]
    path = tmp_path / "events.json"
    path.write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    ga4.load_sessions(con, path, salt=SALT, now=NOW)
    rows = con.execute("SELECT visitor_id, channel, utm_source FROM visits ORDER BY 1").fetchall()
    # utm_* stay as captured (none); first-touch source only for the user's first session
    assert rows == [("a", "google_search", None), ("b", "referral", None), ("c", "direct", None)]


def test_unreadable_parquet_and_missing_file_raise(con, tmp_path):
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="broken.parquet: not a readable Parquet file"):
        ga4.load_sessions(con, broken, salt=SALT, now=NOW)
    with pytest.raises(InputError, match="nothing.ndjson: file not found"):
        ga4.load_sessions(con, tmp_path / "nothing.ndjson", salt=SALT, now=NOW)
