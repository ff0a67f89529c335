"""CoMagic Data API connector (JSON-RPC 2.0 ``get.calls_report``) against a local server.

Five calls served two per page (``page_limit`` 2): offsets 0, 2, 4, with
``metadata.total_items`` 5. Expected leads are written out from the served
JSON: CoMagic times are account-local (no offset) and kept as they are.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from werkzeug import Response

from analytics.sources.api import pulling
from analytics.sources.api.cursors import read_cursor
from analytics.sources.api.transport import PullError

SALT = "test-salt"
TOKEN = "comagic-api-key"
TODAY = date.today()
D1 = TODAY - timedelta(days=1)
SETTINGS = {"initial_days": 1, "page_limit": 2}

CALLS = [
    {"id": 9000 + i, "start_time": f"{D1} 1{i}:00:00", "contact_phone_number": f"7912000000{i}",
     "ym_client_id": f"17145501239876543{i}" if i % 2 == 0 else None,
     "utm_source": "yandex" if i < 3 else None, "utm_medium": "cpc" if i < 3 else None,
     "utm_campaign": None, "utm_content": None, "utm_term": None,
     "talk_duration": 0 if i == 4 else 60 * i, "is_lost": i == 4}
    for i in range(5)
]  # fmt: skip


class FakeDataApi:
    def __init__(self, server):
        self.offsets = []
        self.error = None
        server.expect_request("/v2.0", method="POST").respond_with_handler(lambda r: self.rpc(r))

    def rpc(self, request):
        body = request.get_json()
        assert body["jsonrpc"] == "2.0" and body["method"] == "get.calls_report"
        params = body["params"]
        if self.error:
            answer = {"jsonrpc": "2.0", "id": body["id"], "error": self.error}
            return Response(json.dumps(answer), content_type="application/json")
        assert params["access_token"] == TOKEN
        assert (params["date_from"], params["date_till"]) == (f"{D1} 00:00:00", f"{D1} 23:59:59")
        assert "visitor_id" not in params["fields"]
        self.offsets.append(params["offset"])
        page = CALLS[params["offset"] : params["offset"] + params["limit"]]
        result = {"data": [{k: c[k] for k in params["fields"]} for c in page],
                  "metadata": {"total_items": len(CALLS)}}  # fmt: skip
        answer = {"jsonrpc": "2.0", "id": body["id"], "result": result}
        return Response(json.dumps(answer), content_type="application/json")


@pytest.fixture
def data_api(httpserver, secrets, monkeypatch):
    monkeypatch.setenv("ANALYTICS_COMAGIC_TOKEN", TOKEN)
    monkeypatch.setenv("ANALYTICS_COMAGIC_BASE_URL", httpserver.url_for("/"))
    return FakeDataApi(httpserver)


def pull(con, tmp_path, sleeps, **kw):
    kw.setdefault("settings", SETTINGS)
    return pulling.pull_source(
        con, "comagic", salt=SALT, landing_root=tmp_path / "pulls", sleep=sleeps, **kw
    )


def test_calls_are_paged_by_offset_and_loaded_as_leads(con, tmp_path, data_api, sleeps):
    report = pull(con, tmp_path, sleeps)
    assert data_api.offsets == [0, 2, 4]
    leads = con.execute(
        "SELECT lead_id, created_at, lead_type, visitor_id, utm_source, call_duration_s,"
        " call_lost, length(phone_hash) = 64 FROM leads ORDER BY lead_id"
    ).fetchall()
    t = datetime.combine(D1, datetime.min.time())
    assert leads == [
        ("9000", t + timedelta(hours=10), "call", "171455012398765430", "yandex", 0, False, True),
        ("9001", t + timedelta(hours=11), "call", None, "yandex", 60, False, True),
        ("9002", t + timedelta(hours=12), "call", "171455012398765432", "yandex", 120, False, True),
        ("9003", t + timedelta(hours=13), "call", None, None, 180, False, True),
        ("9004", t + timedelta(hours=14), "call", "171455012398765434", None, 0, True, True),
    ]
    assert report.rows_in == 5 and read_cursor(con, "comagic") == str(D1)
    assert TOKEN not in report.files[0].path.read_text(encoding="utf-8")


def test_json_rpc_error_is_one_line_with_mnemonic(con, tmp_path, data_api, sleeps):
    data_api.error = {"code": -32029, "message": "Too many requests",
                      "data": {"mnemonic": "limit_exceeded"}}  # fmt: skip
    with pytest.raises(PullError, match="comagic: get.calls_report error -32029 limit_exceeded"):
        pull(con, tmp_path, sleeps)
    assert read_cursor(con, "comagic") is None


def test_http_503_is_retried(con, tmp_path, data_api, httpserver, sleeps):
    httpserver.expect_ordered_request("/v2.0", method="POST").respond_with_response(
        Response("maintenance", status=503, headers={"Retry-After": "2"})
    )
    pull(con, tmp_path, sleeps)
    assert sleeps == [2]
    assert con.execute("SELECT count(*) FROM leads").fetchone()[0] == 5
