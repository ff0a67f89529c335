"""GA4 BigQuery export connector against a local server speaking the BigQuery REST API v2.

The fake project holds the events of ``fixtures/ga4_events.ndjson`` (9 events
on 2024-05-01, 02, 03) as daily shards ``events_YYYYMMDD`` plus an intraday
table, listed two per page. ``jobs.query`` answers ``jobComplete: false``
first; ``getQueryResults`` then pages the rows three at a time, encoded as
BigQuery does (``{"f": [{"v": ...}]}``, RECORD = nested ``f``, REPEATED =
list of ``{"v"}``). Reference: the same events loaded from the file by the
``ga4`` adapter (``load_source``), whose sessions are checked by hand in
``tests/sources/test_ga4.py``.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from source_checks import FIXTURES
from werkzeug import Response

from analytics import warehouse as wh
from analytics.sources import load_source
from analytics.sources.api import pulling
from analytics.sources.api.cursors import read_cursor, save_cursor
from analytics.sources.api.transport import PullError

SALT = "test-salt"
EVENTS = [json.loads(line) for line in (FIXTURES / "ga4_events.ndjson").read_text().splitlines()]
PROJECT, DATASET = "acme-analytics", "analytics_123456789"
SETTINGS = {"project": PROJECT, "dataset": DATASET, "page_rows": 3, "poll_interval_s": 2}


def rec(name, *fields, mode="NULLABLE"):
    return {"name": name, "type": "RECORD", "mode": mode, "fields": list(fields)}


def col(name, kind="STRING"):
    return {"name": name, "type": kind, "mode": "NULLABLE"}


SCHEMA = [  # the GA4 export schema, columns the connector selects
    col("event_date"),
    col("event_timestamp", "INTEGER"),
    col("event_name"),
    rec("event_params", col("key"),
        rec("value", col("string_value"), col("int_value", "INTEGER"), col("float_value", "FLOAT"),
            col("double_value", "FLOAT")), mode="REPEATED"),
    col("user_pseudo_id"),
    rec("device", col("category"), col("operating_system")),
    rec("traffic_source", col("name"), col("medium"), col("source")),
    rec("collected_traffic_source", col("manual_campaign_id"), col("manual_campaign_name"),
        col("manual_source"), col("manual_medium"), col("manual_term"), col("manual_content"),
        col("gclid")),
]  # fmt: skip


def encode(fields, obj):
    """Nested JSON -> BigQuery REST row form (written from the REST reference)."""
    cells = []
    for f in fields:
        value = (obj or {}).get(f["name"])
        if f["mode"] == "REPEATED":
            single = {**f, "mode": "NULLABLE"}
            cells.append({"v": [{"v": encode_value(single, x)} for x in value or []]})
        else:
            cells.append({"v": encode_value(f, value)})
    return {"f": cells}


def encode_value(f, value):
    if value is None:
        return None
    if f["type"] == "RECORD":
        return encode(f["fields"], value)
    return str(value)


class FakeBigQuery:
    def __init__(self, server):
        self.jobs = {}
        self.queries = []
        self.table_pages = 0
        shards = sorted({e["event_date"] for e in EVENTS})
        self.tables = [f"events_{s}" for s in shards] + ["events_intraday_20240504"]
        base = "/bigquery/v2/projects"
        server.expect_request(f"{base}/{PROJECT}/datasets/{DATASET}/tables").respond_with_handler(
            lambda r: self.list_tables(r)
        )
        server.expect_request(f"{base}/{PROJECT}/queries", method="POST").respond_with_handler(
            lambda r: self.query(r)
        )
        server.expect_request(f"{base}/{PROJECT}/queries/job_1").respond_with_handler(
            lambda r: self.results(r)
        )

    def _json(self, body, status=200):
        return Response(json.dumps(body), status=status, content_type="application/json")

    def list_tables(self, request):
        self.table_pages += 1
        assert request.headers["Authorization"] == "Bearer ya29.bq"
        start = int(request.args.get("pageToken", 0))
        page = self.tables[start : start + 2]
        body = {"kind": "bigquery#tableList", "tables": [
            {"tableReference": {"projectId": PROJECT, "datasetId": DATASET, "tableId": t}}
            for t in page]}  # fmt: skip
        if start + 2 < len(self.tables):
            body["nextPageToken"] = str(start + 2)
        return self._json(body)

    def query(self, request):
        body = request.get_json()
        assert body["useLegacySql"] is False and body["parameterMode"] == "NAMED"
        params = {p["name"]: p["parameterValue"]["value"] for p in body["queryParameters"]}
        self.queries.append((body["query"], params))
        rows = [e for e in EVENTS if params["first"] <= e["event_date"] <= params["last"]]
        self.jobs["job_1"] = {"rows": rows, "checks": 0, "page": int(body["maxResults"])}
        return self._json({"kind": "bigquery#queryResponse", "jobComplete": False,
                           "jobReference": {"projectId": PROJECT, "jobId": "job_1",
                                            "location": "EU"}})  # fmt: skip

    def results(self, request):
        job = self.jobs["job_1"]
        assert request.args["location"] == "EU"
        start = int(request.args.get("pageToken", 0))
        rows = job["rows"][start : start + job["page"]]
        reference = {"projectId": PROJECT, "jobId": "job_1", "location": "EU"}
        body = {"kind": "bigquery#getQueryResultsResponse", "jobComplete": True,
                "schema": {"fields": SCHEMA}, "totalRows": str(len(job["rows"])),
                "rows": [encode(SCHEMA, e) for e in rows], "jobReference": reference}  # fmt: skip
        if start + job["page"] < len(job["rows"]):
            body["pageToken"] = str(start + job["page"])
        return self._json(body)


@pytest.fixture
def bigquery(httpserver, secrets, monkeypatch):
    monkeypatch.setenv("ANALYTICS_GA4_BASE_URL", httpserver.url_for("/"))
    monkeypatch.setenv("ANALYTICS_GA4_ACCESS_TOKEN", "ya29.bq")
    return FakeBigQuery(httpserver)


def pull(con, tmp_path, sleeps, **kw):
    kw.setdefault("settings", SETTINGS)
    return pulling.pull_source(
        con, "ga4", salt=SALT, landing_root=tmp_path / "pulls", sleep=sleeps, **kw
    )


VISITS = "SELECT * FROM visits ORDER BY visit_id"


def reference_visits():
    """Visits of the fixture file loaded by the ga4 file adapter."""
    con = wh.connect(":memory:")
    wh.init_schema(con)
    load_source(con, "ga4", FIXTURES / "ga4_events.ndjson", salt=SALT)
    rows = con.execute(VISITS).fetchall()
    con.close()
    return rows


def test_shards_listed_query_polled_pages_decoded_equal_the_file_export(
    con, tmp_path, bigquery, sleeps
):
    report = pull(con, tmp_path, sleeps, since=date(2024, 5, 1))
    assert bigquery.table_pages == 2  # 4 tables, 2 per page
    ((sql, params),) = bigquery.queries
    assert params == {"first": "20240501", "last": "20240503"}  # the intraday table is skipped
    assert (
        f"`{PROJECT}.{DATASET}.events_*`" in sql and "_TABLE_SUFFIX BETWEEN @first AND @last" in sql
    )
    assert sleeps == [2]  # one wait while jobComplete was false
    landed = [json.loads(x) for x in report.files[0].path.read_text().splitlines()]
    assert len(landed) == 9
    expected = reference_visits()
    assert len(expected) >= 3
    assert con.execute(VISITS).fetchall() == expected
    assert read_cursor(con, "ga4") == "20240503"


def test_incremental_by_shard_with_lookback(con, tmp_path, bigquery, sleeps):
    """Cursor 20240502, lookback 1: shards 20240502 (re-read) and 20240503."""
    save_cursor(con, "ga4", "20240502", 6)
    pull(con, tmp_path, sleeps, settings=SETTINGS | {"lookback_days": 1})
    assert bigquery.queries[0][1] == {"first": "20240502", "last": "20240503"}


def test_no_new_shard_means_no_query(con, tmp_path, bigquery, sleeps):
    save_cursor(con, "ga4", "20240503", 9)
    report = pull(con, tmp_path, sleeps)
    assert bigquery.queries == [] and report.files == []
    assert read_cursor(con, "ga4") == "20240503"


def test_job_never_complete_fails_and_keeps_cursor(con, tmp_path, bigquery, sleeps, monkeypatch):
    monkeypatch.setattr(
        bigquery, "results",
        lambda r: bigquery._json({"jobComplete": False,
                                  "jobReference": {"jobId": "job_1", "location": "EU"}}),
    )  # fmt: skip
    with pytest.raises(PullError, match="BigQuery job job_1 not complete after 3 checks"):
        pull(con, tmp_path, sleeps, since=date(2024, 5, 1), settings=SETTINGS | {"poll_limit": 3})
    assert read_cursor(con, "ga4") is None
