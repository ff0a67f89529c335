"""The HTTP transport: Retry-After forms, the wait cap, what is and is not retried."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from werkzeug import Response

from analytics.sources.api.transport import ApiClient, PullError, retry_after_seconds


def test_retry_after_seconds_and_http_date():
    """RFC 9110: delay-seconds or an HTTP-date; 07:28:30 - 07:28:00 = 30 s."""
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Wed, 21 Oct 2026 07:28:30 GMT", now=now) == 30
    assert retry_after_seconds("Wed, 21 Oct 2026 07:27:00 GMT", now=now) == 0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_retry_after_is_capped_by_max_wait(httpserver, sleeps):
    httpserver.expect_ordered_request("/x").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "3600"})
    )
    httpserver.expect_ordered_request("/x").respond_with_data("ok")
    with ApiClient("t", httpserver.url_for("/"), max_wait=30, sleep=sleeps) as api:
        assert api.request("GET", "/x").text == "ok"
    assert sleeps == [30]


def test_client_errors_are_not_retried(httpserver, sleeps):
    httpserver.expect_request("/missing").respond_with_json({"message": "Counter not found"}, 404)
    with ApiClient("t", httpserver.url_for("/"), sleep=sleeps) as api:
        with pytest.raises(PullError, match=r"^t: GET /missing -> HTTP 404 Counter not found$"):
            api.request("GET", "/missing")
    assert sleeps == [] and len(httpserver.log) == 1


def test_connection_refused_is_retried_then_one_line(sleeps):
    """Nothing listens on port 9 of 127.0.0.1 (discard): 3 attempts, 2 backoff waits."""
    with ApiClient("t", "http://127.0.0.1:9", max_attempts=3, sleep=sleeps) as api:
        with pytest.raises(PullError, match=r"t: GET /x failed after 3 attempts: ConnectError"):
            api.request("GET", "/x")
    assert len(sleeps) == 2 and 1 <= sleeps[0] < 2 and 2 <= sleeps[1] < 3


def test_query_string_is_not_in_error_messages(httpserver, sleeps):
    httpserver.expect_request("/r").respond_with_data("no", status=403)
    with ApiClient("t", httpserver.url_for("/"), sleep=sleeps) as api:
        with pytest.raises(PullError) as err:
            api.request("GET", "/r", params={"oauth_token": "s3cret"})
    assert "s3cret" not in str(err.value)
