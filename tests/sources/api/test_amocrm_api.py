"""amoCRM API v4 connector against a local server speaking API v4 and its OAuth2.

The fake account: pipeline 100 "Продажи" (statuses 10 Первичный контакт,
11 Переговоры, 142 won, 143 lost) and pipeline 200 "Партнёры"; user 7 Анна
Петрова; three leads of pipeline 100 served two per page (``page_limit``
2), one lead of pipeline 200; stage-change events. Expected warehouse rows
are written out by hand below from those JSON documents (times: UTC + 3 h =
Europe/Moscow).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug import Response

from analytics import warehouse as wh
from analytics.sources.api import pulling
from analytics.sources.api.cursors import read_cursor
from analytics.sources.api.transport import PullError

SALT = "test-salt"
ROOT = Path(__file__).resolve().parents[3]


def epoch(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


PIPELINES = {
    "_embedded": {
        "pipelines": [
            {
                "id": 100,
                "name": "Продажи",
                "_embedded": {
                    "statuses": [
                        {"id": 10, "name": "Первичный контакт"},
                        {"id": 11, "name": "Переговоры"},
                        {"id": 142, "name": "Успешно реализовано"},
                        {"id": 143, "name": "Закрыто и не реализовано"},
                    ]
                },
            },
            {
                "id": 200,
                "name": "Партнёры",
                "_embedded": {"statuses": [{"id": 20, "name": "Новая"}]},
            },
        ]
    }
}


def lead(lead_id, status_id, price, created, updated, closed=None, pipeline=100, **extra):
    body = {
        "id": lead_id,
        "name": f"Сделка {lead_id}",
        "price": price,
        "responsible_user_id": 7,
        "status_id": status_id,
        "pipeline_id": pipeline,
        "created_at": created,
        "updated_at": updated,
        "closed_at": closed,
        "custom_fields_values": [
            {
                "field_id": 501,
                "field_name": "utm_source",
                "field_code": "UTM_SOURCE",
                "field_type": "tracking_data",
                "values": [{"value": "yandex"}],
            },
            {
                "field_id": 502,
                "field_name": "Регион",
                "field_code": None,
                "field_type": "select",
                "values": [{"value": "Москва", "enum_id": 9}],
            },
            {
                "field_id": 503,
                "field_name": "Номер обращения",
                "field_code": None,
                "field_type": "text",
                "values": [{"value": f"L{lead_id}"}],
            },
        ],  # fmt: skip
        "_embedded": {},
    }
    body.update(extra)
    return body


NOW = datetime.now(UTC)
D = NOW.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=5)
T = int(D.timestamp())
LEADS = [
    lead(1, 142, 450000, T + 36000, T + 86400, closed=T + 86400,
         _embedded={"contacts": [{"id": 302, "is_main": False}, {"id": 301, "is_main": True}]}),
    lead(2, 11, 120000, T + 39600, T + 3600 * 20, _embedded={"contacts": [{"id": 302}]}),
    lead(3, 143, 90000, T + 43200, T + 3600 * 40, closed=T + 3600 * 40,
         _embedded={"loss_reason": [{"id": 5, "name": "Дорого"}]}),
    lead(4, 20, 1000, T + 50000, T + 3600 * 41, pipeline=200),
]  # fmt: skip
CONTACTS = {
    301: {"id": 301, "name": "Иван", "custom_fields_values": [
        {"field_id": 1, "field_code": "PHONE", "values": [{"value": "+7 (912) 345-67-89",
                                                           "enum_code": "WORK"}]},
        {"field_id": 2, "field_code": "EMAIL", "values": [{"value": "Info@Romashka.ru"}]}]},
    302: {"id": 302, "name": "Пётр", "custom_fields_values": [
        {"field_id": 1, "field_code": "PHONE", "values": [{"value": "8 903 111-22-33"}]}]},
}  # fmt: skip
EVENTS = [
    {"id": "e1", "type": "lead_status_changed", "entity_id": 1, "entity_type": "lead",
     "created_at": T + 72000,
     "value_after": [{"lead_status": {"id": 142, "pipeline_id": 100}}],
     "value_before": [{"lead_status": {"id": 11, "pipeline_id": 100}}]},
    {"id": "e2", "type": "lead_status_changed", "entity_id": 4, "entity_type": "lead",
     "created_at": T + 72500,
     "value_after": [{"lead_status": {"id": 20, "pipeline_id": 200}}],
     "value_before": []},
]  # fmt: skip

SETTINGS = {
    "subdomain": "example",
    "pipelines": [100],
    "page_limit": 2,
    "initial_days": 30,
    "redirect_uri": "https://example.ru/oauth",
    "custom_fields": {"503": "ID заявки"},
}


class FakeAmo:
    """API v4 of one account with OAuth2 rotation: every refresh issues a new pair."""

    def __init__(self, server):
        self.server = server
        self.issued = 0
        self.valid_access: set[str] = set()
        self.refresh_valid = {"r1"}
        self.refreshes: list[dict] = []
        self.lead_pages: list[dict] = []
        self.auth_seen: set[str] = set()
        self.fail_page: int | None = None
        self.leads = list(LEADS)
        self.contact_requests: list[list[int]] = []
        for path, name in [
            ("/oauth2/access_token", "token"),
            ("/api/v4/leads/pipelines", "pipelines"),
            ("/api/v4/users", "users"),
            ("/api/v4/leads", "leads_page"),
            ("/api/v4/events", "events"),
            ("/api/v4/contacts", "contacts"),
        ]:
            # looked up per request, so a test can replace a handler on the instance
            server.expect_request(path).respond_with_handler(
                lambda request, name=name: getattr(self, name)(request)
            )

    def _json(self, body, status=200):
        return Response(json.dumps(body), status=status, content_type="application/hal+json")

    def token(self, request):
        body = request.get_json()
        self.refreshes.append(body)
        if body["grant_type"] != "refresh_token" or body["refresh_token"] not in self.refresh_valid:
            return self._json({"hint": "Token has been revoked", "status": 400}, 400)
        assert (body["client_id"], body["client_secret"]) == ("cid", "csecret")
        self.refresh_valid.discard(body["refresh_token"])  # rotation: the old one dies
        self.issued += 1
        access, refresh = f"a{self.issued}", f"r{self.issued + 1}"
        self.valid_access.add(access)
        self.refresh_valid.add(refresh)
        return self._json(
            {
                "token_type": "Bearer",
                "expires_in": 86400,
                "access_token": access,
                "refresh_token": refresh,
            }
        )

    def authorized(self, request) -> bool:
        header = request.headers.get("Authorization", "")
        self.auth_seen.add(header)
        return header.removeprefix("Bearer ") in self.valid_access

    def pipelines(self, request):
        if not self.authorized(request):
            return self._json({"title": "Unauthorized", "status": 401}, 401)
        return self._json(PIPELINES)

    def users(self, request):
        if not self.authorized(request):
            return self._json({"title": "Unauthorized", "status": 401}, 401)
        return self._json({"_embedded": {"users": [{"id": 7, "name": "Анна Петрова"}]}})

    def leads_page(self, request):
        if not self.authorized(request):
            return self._json({"title": "Unauthorized", "status": 401}, 401)
        args = request.args
        page, limit = int(args["page"]), int(args["limit"])
        self.lead_pages.append({"page": page, "limit": limit})
        if self.fail_page == page:
            return Response("bad gateway", status=502)
        pipelines = {int(v) for k, v in args.items() if k.startswith("filter[pipeline_id]")}
        since = int(args["filter[updated_at][from]"])
        rows = [x for x in self.leads if x["updated_at"] >= since]
        rows = [x for x in rows if not pipelines or x["pipeline_id"] in pipelines]
        chunk = rows[(page - 1) * limit : page * limit]
        if not chunk:
            return Response(status=204)
        links = {"self": {"href": f"https://example.amocrm.ru/api/v4/leads?page={page}"}}
        if page * limit < len(rows):
            links["next"] = {
                "href": f"https://example.amocrm.ru/api/v4/leads?page={page + 1}&limit={limit}"
            }
        return self._json({"_page": page, "_links": links, "_embedded": {"leads": chunk}})

    def contacts(self, request):
        if not self.authorized(request):
            return self._json({"title": "Unauthorized", "status": 401}, 401)
        ids = [int(v) for k, v in request.args.items() if k.startswith("filter[id]")]
        self.contact_requests.append(sorted(ids))
        rows = [CONTACTS[i] for i in ids if i in CONTACTS]
        if not rows or int(request.args["page"]) > 1:
            return Response(status=204)
        return self._json({"_embedded": {"contacts": rows}})

    def events(self, request):
        if not self.authorized(request):
            return self._json({"title": "Unauthorized", "status": 401}, 401)
        assert int(request.args["limit"]) <= 100  # amoCRM's maximum for events
        assert request.args["filter[type]"] == "lead_status_changed"
        since = int(request.args["filter[created_at][from]"])
        rows = [e for e in EVENTS if e["created_at"] >= since]
        if not rows or int(request.args["page"]) > 1:
            return Response(status=204)
        return self._json({"_embedded": {"events": rows}})


@pytest.fixture
def amo(httpserver, secrets, monkeypatch):
    monkeypatch.setenv("ANALYTICS_AMOCRM_BASE_URL", httpserver.url_for("/"))
    monkeypatch.setenv("ANALYTICS_AMOCRM_CLIENT_ID", "cid")
    monkeypatch.setenv("ANALYTICS_AMOCRM_CLIENT_SECRET", "csecret")
    monkeypatch.setenv("ANALYTICS_AMOCRM_REFRESH_TOKEN", "r1")
    return FakeAmo(httpserver)


def pull(con, tmp_path, sleeps, **kw):
    kw.setdefault("settings", SETTINGS)
    return pulling.pull_source(
        con, "amocrm", salt=SALT, landing_root=tmp_path / "pulls", sleep=sleeps, **kw
    )


def deals(con):
    return con.execute(
        "SELECT deal_id, lead_id, status, stage, amount, manager, loss_reason, utm_source, region,"
        " created_at, closed_at FROM deals ORDER BY deal_id"
    ).fetchall()


def local(ts: int) -> datetime:
    """Epoch seconds -> naive Europe/Moscow time (UTC + 3 h, no DST since 2014)."""
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None) + timedelta(hours=3)


def test_leads_paged_with_custom_fields_pipelines_users_and_stage_events(
    con, tmp_path, amo, sleeps
):
    report = pull(con, tmp_path, sleeps)
    assert amo.lead_pages == [{"page": 1, "limit": 2}, {"page": 2, "limit": 2}]
    assert deals(con) == [
        ("1", "L1", "won", "won", 450000.0, "Анна Петрова", None, "yandex", "Москва",
         local(T + 36000), local(T + 86400)),
        ("2", "L2", "open", "sql", 120000.0, "Анна Петрова", None, "yandex", "Москва",
         local(T + 39600), None),
        ("3", "L3", "lost", "lost", 90000.0, "Анна Петрова", "Дорого", "yandex", "Москва",
         local(T + 43200), local(T + 3600 * 40)),
    ]  # fmt: skip
    stages = con.execute("SELECT deal_id, stage, entered_at FROM deal_stages WHERE deal_id = '1'"
                         " AND stage = 'won'").fetchall()  # fmt: skip
    assert stages == [("1", "won", local(T + 72000))]
    assert report.rows_quarantined == 0
    # main contacts: lead 1 -> 301 (is_main), lead 2 -> 302; hashed like any export's phones
    assert amo.contact_requests == [[301, 302]]
    contacts = con.execute(
        "SELECT deal_id, phone_hash, email_hash FROM deal_contacts ORDER BY deal_id"
    ).fetchall()
    assert contacts == [
        ("1", wh.hash_pii("+7 (912) 345-67-89", "phone", SALT),
         wh.hash_pii("Info@Romashka.ru", "email", SALT)),
        ("2", wh.hash_pii("8 903 111-22-33", "phone", SALT), None),
    ]  # fmt: skip
    # 8 903 ... and +7 903 ... are the same number after normalisation
    assert contacts[1][1] == wh.hash_pii("+7 903 111 22 33", "phone", SALT)
    # the cursor holds the newest updated_at of the pipeline-100 leads and the newest event time
    assert json.loads(read_cursor(con, "amocrm")) == {"leads": T + 3600 * 40, "events": T + 72500}


def test_first_run_refreshes_and_stores_the_rotated_token_0600(con, tmp_path, amo, sleeps, secrets):
    pull(con, tmp_path, sleeps)
    assert [r["refresh_token"] for r in amo.refreshes] == ["r1"]
    token_file = secrets / "amocrm_tokens.json"
    stored = json.loads(token_file.read_text())
    assert (stored["access_token"], stored["refresh_token"]) == ("a1", "r2")
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert amo.auth_seen == {"Bearer a1"}


def test_expired_access_token_is_refreshed_with_the_newest_refresh_token(
    con, tmp_path, amo, sleeps, secrets
):
    """Run 1 stores r2; its access token is then marked expired; run 2 must use r2 (r1 is
    dead after rotation) and store r3."""
    pull(con, tmp_path, sleeps)
    token_file = secrets / "amocrm_tokens.json"
    stored = json.loads(token_file.read_text())
    token_file.write_text(json.dumps(stored | {"expires_at": 0}))
    pull(con, tmp_path, sleeps)
    assert [r["refresh_token"] for r in amo.refreshes] == ["r1", "r2"]
    assert json.loads(token_file.read_text())["refresh_token"] == "r3"


def test_revoked_access_token_401_is_refreshed_once_and_the_request_retried(
    con, tmp_path, amo, sleeps, secrets
):
    """The stored access token looks valid for a day but the server answers 401."""
    secrets.mkdir()
    future = NOW.timestamp() + 86400
    (secrets / "amocrm_tokens.json").write_text(
        json.dumps({"access_token": "stale", "refresh_token": "r1", "expires_at": future})
    )
    pull(con, tmp_path, sleeps)
    assert [r["refresh_token"] for r in amo.refreshes] == ["r1"]
    assert "Bearer stale" in amo.auth_seen and "Bearer a1" in amo.auth_seen
    assert len(deals(con)) == 3


def test_rejected_refresh_token_fails_clearly_without_leaking_it(
    con, tmp_path, amo, sleeps, monkeypatch, caplog
):
    monkeypatch.setenv("ANALYTICS_AMOCRM_REFRESH_TOKEN", "r-revoked-secret")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(
        PullError, match=r"amocrm: the refresh token was rejected \(HTTP 400\)"
    ) as err:
        pull(con, tmp_path, sleeps)
    assert "r-revoked-secret" not in str(err.value) and "r-revoked-secret" not in caplog.text
    assert "csecret" not in caplog.text
    assert read_cursor(con, "amocrm") is None


def test_token_file_is_git_ignored():
    """The default token file data/secrets/amocrm_tokens.json must never be committed."""
    done = subprocess.run(
        ["git", "check-ignore", "-q", "data/secrets/amocrm_tokens.json"], cwd=ROOT, check=False
    )
    assert done.returncode == 0


def test_rate_limit_on_page_2_honours_retry_after(con, tmp_path, amo, httpserver, sleeps):
    real = amo.leads_page
    state = {"n": 0}

    def limited(request):
        if int(request.args["page"]) == 2 and state["n"] == 0:
            state["n"] += 1
            return Response("Too Many Requests", status=429, headers={"Retry-After": "3"})
        return real(request)

    amo.leads_page = limited
    pull(con, tmp_path, sleeps)
    assert sleeps == [3]
    assert len(deals(con)) == 3


def test_failed_page_leaves_cursor_and_the_next_pull_resumes(con, tmp_path, amo, sleeps):
    """Page 2 answers 502 on every attempt: nothing loaded, cursor unset; then it recovers."""
    amo.fail_page = 2
    with pytest.raises(
        PullError, match=r"amocrm: GET /api/v4/leads failed after 2 attempts: HTTP 502"
    ):
        pull(con, tmp_path, sleeps, max_attempts=2)
    assert deals(con) == [] and read_cursor(con, "amocrm") is None
    amo.fail_page = None
    pull(con, tmp_path, sleeps)
    assert [d[0] for d in deals(con)] == ["1", "2", "3"]


def test_incremental_pull_asks_only_for_leads_updated_since_the_cursor(con, tmp_path, amo, sleeps):
    """After run 1 (cursor = newest updated_at), lead 2 changes stage: run 2 gets leads with
    updated_at >= cursor, i.e. lead 3 (the boundary, re-read) and lead 2."""
    pull(con, tmp_path, sleeps)
    amo.leads[1] = dict(
        amo.leads[1], status_id=142, updated_at=T + 3600 * 50, closed_at=T + 3600 * 50
    )
    amo.lead_pages.clear()
    report = pull(con, tmp_path, sleeps)
    landed = (report.files[0].path).read_text(encoding="utf-8").splitlines()
    assert [line.split(";")[0] for line in landed[1:]] == ["2", "3"]
    assert json.loads(read_cursor(con, "amocrm"))["leads"] == T + 3600 * 50


def test_since_overrides_the_cursor(con, tmp_path, amo, sleeps):
    """--since = day D + 1 (00:00 UTC = T + 24 h): leads updated from then are 1 (24 h,
    inclusive) and 3 (40 h), not 2 (20 h); no stage event is that late (20 h, 20.1 h)."""
    since = (D + timedelta(days=1)).date()
    report = pull(con, tmp_path, sleeps, since=since)
    assert [(r.table, r.rows_in) for r in report.results] == [("deals", 2)]


def test_missing_subdomain_is_a_settings_error(con, tmp_path, amo, sleeps):
    with pytest.raises(ValueError, match="connectors.amocrm.subdomain is not set"):
        pull(con, tmp_path, sleeps, settings={"pipelines": [100]})
