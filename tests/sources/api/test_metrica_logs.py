"""Metrica Logs API connector against a local server speaking the Logs API protocol.

The fake server implements evaluate -> create -> status (``created`` then
``processed``) -> part download -> clean, as documented at
https://yandex.ru/dev/metrika/en/logs/practice/quick-start. Expected rows are
the TSV lines the server serves (written out in each test), not the
connector's output.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date, timedelta

import pytest
from werkzeug import Response

from analytics.sources.api import pulling
from analytics.sources.api.cursors import read_cursor, save_cursor
from analytics.sources.api.metrica_logs import FIELDS
from analytics.sources.api.transport import PullError

SALT = "test-salt"
TOKEN = "y0_metrica-secret-token"
COUNTER = 44147844
ROOT = f"/management/v1/counter/{COUNTER}"
TODAY = date.today()
YESTERDAY = TODAY - timedelta(days=1)


def visit_line(visit_id: int, day: date, client: int = 1714550123987654321) -> str:
    """One Logs API TSV line in :data:`FIELDS` order (a direct visit, 2 pages, 60 s)."""
    values = {
        "ym:s:visitID": str(visit_id),
        "ym:s:clientID": str(client),
        "ym:s:dateTime": f"{day} 10:15:02",
        "ym:s:pageViews": "2",
        "ym:s:visitDuration": "60",
        "ym:s:goalsID": "[]",
        "ym:s:startURL": "https://example.ru/pricing",
        "ym:s:deviceCategory": "1",
        "ym:s:lastTrafficSource": "direct",
    }
    return "\t".join(values.get(f, "") for f in FIELDS)


HEADER = "\t".join(FIELDS)


class FakeLogsApi:
    """The Logs API for one counter: log requests, their parts, a call log."""

    def __init__(self, server, *, parts: int = 2, polls_before_processed: int = 1):
        self.server = server
        self.parts = parts
        self.polls_before_processed = polls_before_processed
        self.requests: dict[int, dict] = {}
        self.cleaned: list[int] = []
        self.calls: list[str] = []
        self.max_days: int | None = None
        self.auth: set[str] = set()
        server.expect_request(f"{ROOT}/logrequests/evaluate").respond_with_handler(self.evaluate)
        server.expect_request(f"{ROOT}/logrequests", method="POST").respond_with_handler(
            self.create
        )

    def _json(self, body, status=200):
        return Response(json.dumps(body), status=status, content_type="application/json")

    def evaluate(self, request):
        self.auth.add(request.headers.get("Authorization"))
        self.calls.append("evaluate")
        d1 = date.fromisoformat(request.args["date1"])
        d2 = date.fromisoformat(request.args["date2"])
        days = (d2 - d1).days + 1
        possible = self.max_days is None or days <= self.max_days
        return self._json(
            {
                "log_request_evaluation": {
                    "possible": possible,
                    "max_possible_day_quantity": self.max_days or 365,
                }
            }
        )

    def create(self, request):
        self.auth.add(request.headers.get("Authorization"))
        assert request.args["source"] == "visits"
        assert request.args["fields"] == ",".join(FIELDS)
        rid = 1000 + len(self.requests)
        self.requests[rid] = {
            "date1": request.args["date1"],
            "date2": request.args["date2"],
            "polls": 0,
        }
        self.calls.append(f"create {request.args['date1']}..{request.args['date2']}")
        self.server.expect_request(f"{ROOT}/logrequest/{rid}").respond_with_handler(
            lambda r, rid=rid: self.status(rid)
        )
        for n in range(self.parts):
            self.server.expect_request(
                f"{ROOT}/logrequest/{rid}/part/{n}/download"
            ).respond_with_handler(lambda r, rid=rid, n=n: self.download(rid, n))
        self.server.expect_request(
            f"{ROOT}/logrequest/{rid}/clean", method="POST"
        ).respond_with_handler(lambda r, rid=rid: self.clean(rid))
        return self._json({"log_request": {"request_id": rid, "status": "created"}})

    def info(self, rid):
        req = self.requests[rid]
        processed = req["polls"] >= self.polls_before_processed
        body = {"request_id": rid, "counter_id": COUNTER, "source": "visits"}
        body |= {"date1": req["date1"], "date2": req["date2"]}
        body["status"] = "processed" if processed else "created"
        if processed:
            body["parts"] = [{"part_number": n, "size": 100} for n in range(self.parts)]
        return body

    def status(self, rid):
        self.requests[rid]["polls"] += 1
        self.calls.append(f"status {rid}")
        return self._json({"log_request": self.info(rid)})

    def rows(self, rid, n):
        """Two visits per part, dated the request's first day (ids 10*rid + 2n, +1)."""
        day = date.fromisoformat(self.requests[rid]["date1"])
        return [visit_line(10 * rid + 2 * n + k, day) for k in range(2)]

    def download(self, rid, n):
        self.calls.append(f"download {rid}/{n}")
        return Response(
            "\n".join([HEADER, *self.rows(rid, n)]) + "\n",
            content_type="text/tab-separated-values",
        )

    def clean(self, rid):
        self.cleaned.append(rid)
        self.calls.append(f"clean {rid}")
        return self._json({"log_request": self.info(rid) | {"status": "cleaned_by_user"}})


SETTINGS = {"counter_id": COUNTER, "pricing_goal_ids": [], "initial_days": 3, "poll_interval_s": 5}


@pytest.fixture
def logs_api(httpserver, secrets, monkeypatch):
    monkeypatch.setenv("ANALYTICS_METRICA_TOKEN", TOKEN)
    monkeypatch.setenv("ANALYTICS_METRICA_BASE_URL", httpserver.url_for("/"))
    return FakeLogsApi(httpserver)


def pull(con, tmp_path, sleeps, **kw):
    kw.setdefault("settings", SETTINGS)
    return pulling.pull_source(
        con, "metrica", salt=SALT, landing_root=tmp_path / "pulls", sleep=sleeps, **kw
    )


def visit_ids(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT visit_id FROM visits ORDER BY visit_id").fetchall()]


def test_full_protocol_loads_every_part_and_cleans(con, tmp_path, logs_api, sleeps):
    """3-day window (initial_days 3, up to yesterday), 2 parts x 2 visits = 4 visits.

    Request 1000 serves ids 10000..10003; the status is ``created`` on the
    first check, so the pull sleeps one poll interval (5 s) before the second.
    """
    report = pull(con, tmp_path, sleeps)
    first = TODAY - timedelta(days=3)
    assert logs_api.calls == [
        "evaluate",
        f"create {first}..{YESTERDAY}",
        "status 1000",
        "download 1000/0",
        "download 1000/1",
        "clean 1000",
    ]
    assert logs_api.auth == {f"OAuth {TOKEN}"}
    assert visit_ids(con) == ["10000", "10001", "10002", "10003"]
    assert sleeps == [5]
    assert report.rows_in == 4 and report.rows_quarantined == 0
    assert read_cursor(con, "metrica") == YESTERDAY.isoformat()
    # the landed file is the concatenation under one header, as the adapter reads it
    (landed,) = report.files
    assert landed.path.read_text(encoding="utf-8").count("ym:s:visitID") == 1
    load_log = con.execute("SELECT source_file, rows_in FROM load_log").fetchall()
    assert load_log == [(str(landed.path), 4)]


def test_incremental_pull_starts_after_the_cursor(con, tmp_path, logs_api, sleeps):
    """Cursor = 3 days ago -> the next window is 2 days ago .. yesterday."""
    save_cursor(con, "metrica", (TODAY - timedelta(days=3)).isoformat(), 10)
    pull(con, tmp_path, sleeps)
    assert logs_api.calls[1] == f"create {TODAY - timedelta(days=2)}..{YESTERDAY}"


def test_up_to_date_source_calls_nothing(con, tmp_path, logs_api, sleeps):
    save_cursor(con, "metrica", YESTERDAY.isoformat(), 10)
    report = pull(con, tmp_path, sleeps)
    assert logs_api.calls == [] and report.files == []
    assert "up to date" in report.line()


def test_window_too_large_is_split_by_max_possible_day_quantity(con, tmp_path, logs_api, sleeps):
    """10 days with at most 4 per request -> 4 + 4 + 2 days, three log requests."""
    logs_api.max_days = 4
    pull(con, tmp_path, sleeps, settings=SETTINGS | {"initial_days": 10})
    creates = [c for c in logs_api.calls if c.startswith("create")]
    d = TODAY - timedelta(days=10)
    assert creates == [
        f"create {d}..{d + timedelta(days=3)}",
        f"create {d + timedelta(days=4)}..{d + timedelta(days=7)}",
        f"create {d + timedelta(days=8)}..{YESTERDAY}",
    ]
    assert logs_api.cleaned == [1000, 1001, 1002]
    assert len(visit_ids(con)) == 3 * 4


def test_quota_429_honours_retry_after(con, tmp_path, logs_api, httpserver, sleeps):
    """The first evaluate answers 429 (Retry-After: 7); the retry waits 7 s, not the backoff."""
    body = {"errors": [{"error_type": "quota_requests_by_ip", "message": "Quota exceeded"}]}
    httpserver.expect_ordered_request(f"{ROOT}/logrequests/evaluate").respond_with_response(
        Response(json.dumps(body), status=429, headers={"Retry-After": "7"})
    )
    pull(con, tmp_path, sleeps)
    assert sleeps[0] == 7
    assert len(visit_ids(con)) == 4


def test_persistent_quota_error_fails_with_vendor_message_and_keeps_cursor(
    con, tmp_path, logs_api, httpserver, sleeps, caplog
):
    """Five 429s in a row (max_attempts 5): one clear line with the vendor's message.

    The waits are the backoff ``min(120, 2**(n-1)) + U(0,1)``: 1..2, 2..3, 4..5, 8..9 s.
    """
    httpserver.clear_all_handlers()
    body = {"errors": [{"error_type": "quota_requests_by_ip", "message": "Quota exceeded"}]}
    httpserver.expect_request(f"{ROOT}/logrequests/evaluate").respond_with_json(body, status=429)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(
        PullError, match=r"metrica: GET .*evaluate failed after 5 attempts: HTTP 429 Quota exceeded"
    ):
        pull(con, tmp_path, sleeps)
    assert [int(s) for s in sleeps] == [1, 2, 4, 8]
    assert read_cursor(con, "metrica") is None
    assert TOKEN not in caplog.text


def test_server_error_then_success_uses_exponential_backoff(
    con, tmp_path, logs_api, httpserver, sleeps
):
    """503 without Retry-After on the first status check: wait in [1, 2) s, then go on."""
    real = logs_api.status
    state = {"n": 0}

    def flaky(rid):
        state["n"] += 1
        if state["n"] == 1:
            return Response("unavailable", status=503)
        return real(rid)

    logs_api.status = flaky
    pull(con, tmp_path, sleeps)
    assert sleeps[0] == 5  # the poll interval before the first check
    assert 1 <= sleeps[1] < 2
    assert len(visit_ids(con)) == 4


def test_read_timeout_is_retried(con, tmp_path, logs_api, sleeps):
    """A part that takes 1.5 s against a 0.5 s timeout on its first request, then answers.

    The local server handles one request at a time, so a retry sent while it
    still sleeps may time out too; at least one retry, each after a backoff
    wait (the first in [1, 2) s). Without the timeout the first request would
    simply succeed after 1.5 s and be the only one.
    """
    real = logs_api.download
    state = {"n": 0}

    def slow(rid, n):
        state["n"] += 1
        if state["n"] == 1:
            time.sleep(1.5)
        return real(rid, n)

    logs_api.download = slow
    pull(con, tmp_path, sleeps, timeout=0.5)
    assert logs_api.calls.count("download 1000/0") >= 2
    assert 1 <= sleeps[1] < 2
    assert len(visit_ids(con)) == 4


def test_failed_pull_keeps_cursor_cleans_and_next_pull_resumes(con, tmp_path, logs_api, sleeps):
    """Part 1 fails with 500 on every attempt: nothing loaded, cursor unchanged, request
    cleaned; the next pull asks for the same window and loads all 4 visits."""
    save_cursor(con, "metrica", (TODAY - timedelta(days=3)).isoformat(), 10)
    real = logs_api.download
    logs_api.download = lambda rid, n: Response("boom", status=500) if n == 1 else real(rid, n)
    with pytest.raises(PullError, match="download failed after 2 attempts: HTTP 500"):
        pull(con, tmp_path, sleeps, max_attempts=2)
    assert read_cursor(con, "metrica") == (TODAY - timedelta(days=3)).isoformat()
    assert visit_ids(con) == []
    assert logs_api.cleaned == [1000]

    logs_api.download = real
    pull(con, tmp_path, sleeps)
    creates = [c for c in logs_api.calls if c.startswith("create")]
    assert creates[0] == creates[1] == f"create {TODAY - timedelta(days=2)}..{YESTERDAY}"
    assert len(visit_ids(con)) == 4
    assert read_cursor(con, "metrica") == YESTERDAY.isoformat()


def test_request_never_processed_fails_clearly(con, tmp_path, logs_api, sleeps):
    """Still ``created`` after poll_limit=3 checks: a clear failure, 3 waits of 5 s, no cursor."""
    logs_api.polls_before_processed = 10_000
    with pytest.raises(PullError, match=r"log request 1000 .* still 'created' after 3 checks"):
        pull(con, tmp_path, sleeps, settings=SETTINGS | {"poll_limit": 3})
    assert sleeps == [5, 5, 5]
    assert read_cursor(con, "metrica") is None


def test_dry_run_loads_nothing_and_keeps_cursor(con, tmp_path, logs_api, sleeps):
    report = pull(con, tmp_path, sleeps, dry_run=True)
    assert report.rows_in == 4
    assert visit_ids(con) == []
    assert read_cursor(con, "metrica") is None
    assert "dry run" in report.line()


def test_missing_token_names_the_variable(con, tmp_path, logs_api, sleeps, monkeypatch):
    monkeypatch.delenv("ANALYTICS_METRICA_TOKEN")
    with pytest.raises(ValueError, match="metrica: no token; set ANALYTICS_METRICA_TOKEN"):
        pull(con, tmp_path, sleeps)
    assert logs_api.calls == []
