"""Google Ads API connector (GAQL searchStream over REST) against a local server.

The server plays Google's OAuth2 token endpoint (``/token``) and
``googleAds:searchStream``: a JSON array of batches whose ``results`` are
``GoogleAdsRow`` objects in camelCase with int64 values as strings. Costs:
``costMicros`` 1 234 560 000 = 1 234.56 ₽ (Google Ads costs exclude VAT).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from werkzeug import Response

from analytics.sources.api import pulling
from analytics.sources.api.cursors import read_cursor
from analytics.sources.api.transport import PullError

SALT = "test-salt"
TODAY = date.today()
D1, D2 = TODAY - timedelta(days=2), TODAY - timedelta(days=1)
SETTINGS = {"customer_ids": ["123-456-7890", "5550001111"], "login_customer_id": "999-000-1111",
            "initial_days": 2, "api_version": "v24"}  # fmt: skip


def row(day, campaign, kind, group, ad, impressions, clicks, micros):
    return {
        "segments": {"date": str(day)},
        "campaign": {"resourceName": "customers/1/campaigns/1", "name": campaign,
                     "advertisingChannelType": kind},
        "adGroup": {"resourceName": "customers/1/adGroups/2", "name": group},
        "adGroupAd": {"resourceName": "customers/1/adGroupAds/2~3", "ad": {"id": ad}},
        "customer": {"resourceName": "customers/1", "currencyCode": "RUB"},
        "metrics": {"impressions": impressions, "clicks": clicks, "costMicros": micros},
    }  # fmt: skip


STREAMS = {
    "1234567890": [
        {"results": [row(D1, "gads_search_generic", "SEARCH", "generic_crm", "701", "300", "12",
                         "1234560000")], "fieldMask": "segments.date,...", "requestId": "r1"},
        {"results": [row(D2, "gads_display_remarketing", "DISPLAY", "remarketing", "702", "9000",
                         "30", "600000000")], "requestId": "r1"},
    ],
    "5550001111": [{"results": [], "requestId": "r2"}],
}  # fmt: skip


class FakeGoogleAds:
    def __init__(self, server):
        self.token_requests = []
        self.queries = []
        self.throttle = 0
        server.expect_request("/token", method="POST").respond_with_handler(self.token)
        for customer in STREAMS:
            server.expect_request(
                f"/v24/customers/{customer}/googleAds:searchStream", method="POST"
            ).respond_with_handler(lambda r, c=customer: self.stream(r, c))

    def token(self, request):
        self.token_requests.append(dict(request.form))
        if request.form.get("refresh_token") != "g-refresh":
            return Response(json.dumps({"error": "invalid_grant"}), status=400)
        body = {"access_token": "ya29.g-access", "expires_in": 3599, "token_type": "Bearer"}
        return Response(json.dumps(body), content_type="application/json")

    def stream(self, request, customer):
        if self.throttle:
            self.throttle -= 1
            return Response(
                json.dumps({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                                      "message": "Too many requests"}}),
                status=429, headers={"Retry-After": "4"},
            )  # fmt: skip
        assert request.headers["Authorization"] == "Bearer ya29.g-access"
        assert request.headers["developer-token"] == "dev-token"
        assert request.headers["login-customer-id"] == "9990001111"
        self.queries.append((customer, request.get_json()["query"]))
        return Response(json.dumps(STREAMS[customer]), content_type="application/json")


@pytest.fixture
def gads(httpserver, secrets, monkeypatch):
    monkeypatch.setenv("ANALYTICS_GOOGLE_ADS_BASE_URL", httpserver.url_for("/"))
    monkeypatch.setenv("ANALYTICS_GOOGLE_ADS_TOKEN_URL", httpserver.url_for("/token"))
    secrets_of_test = {"DEVELOPER_TOKEN": "dev-token", "CLIENT_ID": "cid",
                       "CLIENT_SECRET": "csecret", "REFRESH_TOKEN": "g-refresh"}  # fmt: skip
    for key, value in secrets_of_test.items():
        monkeypatch.setenv(f"ANALYTICS_GOOGLE_ADS_{key}", value)
    return FakeGoogleAds(httpserver)


def pull(con, tmp_path, sleeps, **kw):
    kw.setdefault("settings", SETTINGS)
    return pulling.pull_source(
        con, "google_ads", salt=SALT, landing_root=tmp_path / "pulls", sleep=sleeps, **kw
    )


def test_search_stream_batches_of_every_customer_are_loaded(con, tmp_path, gads, sleeps):
    pull(con, tmp_path, sleeps)
    assert [c for c, _ in gads.queries] == ["1234567890", "5550001111"]
    assert f"segments.date BETWEEN '{D1}' AND '{D2}'" in gads.queries[0][1]
    assert "FROM ad_group_ad" in gads.queries[0][1]
    assert gads.token_requests[0]["grant_type"] == "refresh_token"
    spend = con.execute(
        "SELECT date, campaign, ad_group, creative, utm_source, utm_medium, impressions, clicks,"
        " cost FROM spend ORDER BY date"
    ).fetchall()
    assert spend == [
        (D1, "gads_search_generic", "generic_crm", "701", "google", "cpc", 300, 12, 1234.56),
        (D2, "gads_display_remarketing", "remarketing", "702", "google", "display", 9000, 30,
         600.0),
    ]  # fmt: skip
    assert read_cursor(con, "google_ads") == str(D2)


def test_resource_exhausted_429_is_retried_after_retry_after(con, tmp_path, gads, sleeps):
    gads.throttle = 2
    pull(con, tmp_path, sleeps)
    assert sleeps == [4, 4]
    assert con.execute("SELECT count(*) FROM spend").fetchone()[0] == 2


def test_rejected_refresh_token_fails_clearly(con, tmp_path, gads, sleeps, monkeypatch):
    monkeypatch.setenv("ANALYTICS_GOOGLE_ADS_REFRESH_TOKEN", "revoked")
    with pytest.raises(PullError, match=r"google_ads: the OAuth2 refresh token was rejected"):
        pull(con, tmp_path, sleeps)
    assert gads.queries == [] and read_cursor(con, "google_ads") is None


def test_customer_ids_are_required(con, tmp_path, gads, sleeps):
    with pytest.raises(ValueError, match="connectors.google_ads.customer_ids is not set"):
        pull(con, tmp_path, sleeps, settings={"initial_days": 2})
