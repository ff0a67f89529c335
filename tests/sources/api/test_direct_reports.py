"""Yandex Direct Reports API connector against a local server speaking the Reports API.

The fake server answers a new report with 201 (queued, ``retryIn: 2``), the
same report asked again with 202 (being built, ``retryIn: 3``), then 200 with
the TSV (title line, column names, rows, ``Total rows: N``). Costs include
VAT (``IncludeVAT: YES``): 1 200.00 ₽ with 20 % VAT is 1 000.00 ₽ net.
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
TOKEN = "direct-secret-token"
TODAY = date.today()
D1, D2 = TODAY - timedelta(days=2), TODAY - timedelta(days=1)
SETTINGS = {"initial_days": 2, "poll_interval_s": 10}


def rows_for(level: str, body: dict) -> list[str]:
    """Two SEARCH rows per ad report (one per day); keyword reports split them by keyword."""
    if level == "keyword":
        return [
            f"{D1}\tyd_search_brand\tbrand_name\t1587\t11\tcrm\tSEARCH\t100\t5\t600.00",
            f"{D1}\tyd_search_brand\tbrand_name\t1587\t12\tcrm price\tSEARCH\t100\t5\t600.00",
        ]
    return [
        f"{D1}\tyd_search_brand\tbrand_name\t1587\tSEARCH\t200\t10\t1200.00",
        f"{D2}\tyd_rsya_interests\tinterest_sales\t1599\tAD_NETWORK\t4500\t18\t604.80",
    ]


class FakeReports:
    def __init__(self, server):
        self.asked: dict[str, int] = {}
        self.requests: list[dict] = []
        self.truncate = False
        self.always_building = False
        server.expect_request("/json/v5/reports", method="POST").respond_with_handler(
            lambda r: self.report(r)
        )

    def report(self, request):
        body = request.get_json()
        params = body["params"]
        self.requests.append({"headers": dict(request.headers), "params": params})
        if params["ReportType"] != "CUSTOM_REPORT" or params["Format"] != "TSV":
            return Response(
                json.dumps({"error": {"error_code": 4000, "error_string": "Invalid request",
                                      "error_detail": "ReportType must be CUSTOM_REPORT"}}),
                status=400,
            )  # fmt: skip
        name = params["ReportName"]
        self.asked[name] = self.asked.get(name, 0) + 1
        if self.always_building or self.asked[name] == 2:
            return Response("", status=202, headers={"retryIn": "3", "reportsInQueue": "1"})
        if self.asked[name] == 1:
            return Response("", status=201, headers={"retryIn": "2", "reportsInQueue": "1"})
        fields = params["FieldNames"]
        level = "keyword" if "Criterion" in fields else "ad"
        rows = rows_for(level, body)
        total = len(rows) + (1 if self.truncate else 0)
        dates = params["SelectionCriteria"]
        text = "\n".join(
            [f'"{name} ({dates["DateFrom"]} - {dates["DateTo"]})"', "\t".join(fields), *rows,
             f"Total rows: {total}"]
        ) + "\n"  # fmt: skip
        return Response(text, status=200, content_type="text/tab-separated-values")


@pytest.fixture
def reports(httpserver, secrets, monkeypatch):
    monkeypatch.setenv("ANALYTICS_DIRECT_TOKEN", TOKEN)
    monkeypatch.setenv("ANALYTICS_DIRECT_BASE_URL", httpserver.url_for("/"))
    return FakeReports(httpserver)


def pull(con, tmp_path, sleeps, **kw):
    kw.setdefault("settings", SETTINGS)
    return pulling.pull_source(
        con, "direct", salt=SALT, landing_root=tmp_path / "pulls", sleep=sleeps, **kw
    )


def spend(con):
    return con.execute(
        "SELECT date, campaign, ad_group, creative, utm_source, utm_medium, impressions, clicks,"
        " cost FROM spend ORDER BY date"
    ).fetchall()


def test_offline_report_waits_retry_in_and_loads_net_of_vat(con, tmp_path, reports, sleeps):
    """201 then 202 then 200: waits 2 s then 3 s. Costs: 1200.00 / 1.2 = 1000.00,
    604.80 / 1.2 = 504.00; AD_NETWORK is medium display, SEARCH cpc."""
    report = pull(con, tmp_path, sleeps)
    assert sleeps == [2, 3]
    assert spend(con) == [
        (D1, "yd_search_brand", "brand_name", "1587", "yandex", "cpc", 200, 10, 1000.0),
        (D2, "yd_rsya_interests", "interest_sales", "1599", "yandex", "display", 4500, 18, 504.0),
    ]
    sent = reports.requests[0]
    assert sent["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert sent["headers"]["Processingmode"] == "offline"
    assert sent["headers"]["Returnmoneyinmicros"] == "false"
    assert sent["params"]["SelectionCriteria"] == {"DateFrom": str(D1), "DateTo": str(D2)}
    assert sent["params"]["IncludeVAT"] == "YES"
    # the three requests are the same report (same name and parameters)
    assert len({json.dumps(r["params"], sort_keys=True) for r in reports.requests}) == 1
    assert read_cursor(con, "direct") == str(D2)
    assert report.rows_in == 2


def test_keyword_level_is_landed_but_only_the_ad_level_is_loaded(con, tmp_path, reports, sleeps):
    report = pull(con, tmp_path, sleeps, settings=SETTINGS | {"levels": ["ad", "keyword"]})
    fields = [r["params"]["FieldNames"] for r in reports.requests]
    assert ["Date", "CampaignName", "AdGroupName", "AdId", "CriterionId", "Criterion",
            "AdNetworkType", "Impressions", "Clicks", "Cost"] in fields  # fmt: skip
    assert len(spend(con)) == 2
    landed = sorted(p.name for p in report.files[0].path.parent.iterdir())
    assert landed == [f"direct_ad_{D1}_{D2}.tsv", f"direct_keyword_{D1}_{D2}.tsv"]
    assert "landed, not loaded: direct_keyword" in report.line()


def test_agency_pulls_every_client_login(con, tmp_path, reports, sleeps):
    pull(con, tmp_path, sleeps, settings=SETTINGS | {"client_logins": ["client-a", "client-b"]})
    logins = {r["headers"].get("Client-Login") for r in reports.requests}
    assert logins == {"client-a", "client-b"}


def test_400_fails_with_the_vendor_error(con, tmp_path, reports, sleeps, monkeypatch):
    monkeypatch.setattr(
        "analytics.sources.api.direct_reports.report_body",
        lambda *a: {"params": {"ReportType": "ACCOUNT_PERFORMANCE_REPORT", "Format": "TSV",
                               "ReportName": "x"}},
    )  # fmt: skip
    with pytest.raises(PullError, match="direct: report 'x' refused: Invalid request"):
        pull(con, tmp_path, sleeps)
    assert read_cursor(con, "direct") is None


def test_report_still_building_after_poll_limit(con, tmp_path, reports, sleeps):
    reports.always_building = True
    with pytest.raises(PullError, match="still being built after 4 checks"):
        pull(con, tmp_path, sleeps, settings=SETTINGS | {"poll_limit": 4})
    assert sleeps == [3, 3, 3, 3]


def test_truncated_report_is_rejected_by_the_adapter_and_cursor_kept(
    con, tmp_path, reports, sleeps
):
    """'Total rows: 3' over 2 rows: the direct adapter's check rejects the file; nothing loaded."""
    reports.truncate = True
    with pytest.raises(ValueError, match=r"says 'Total rows: 3' but has 2 data row\(s\)"):
        pull(con, tmp_path, sleeps)
    assert spend(con) == [] and read_cursor(con, "direct") is None


def test_server_error_502_with_retry_after_is_retried(con, tmp_path, reports, httpserver, sleeps):
    httpserver.expect_ordered_request("/json/v5/reports", method="POST").respond_with_response(
        Response("Request processing timed out", status=502, headers={"Retry-After": "11"})
    )
    pull(con, tmp_path, sleeps)
    assert sleeps == [11, 2, 3]
    assert len(spend(con)) == 2
