"""amoCRM API v4 -> deals and stage history (landed as CSV, loaded by ``amocrm``).

Endpoints (``https://{subdomain}.amocrm.ru``, header ``Authorization: Bearer``):

* ``GET /api/v4/leads/pipelines`` -- pipelines and their statuses (names of
  ``pipeline_id`` / ``status_id``);
* ``GET /api/v4/users`` -- names of ``responsible_user_id`` (paged);
* ``GET /api/v4/leads?with=loss_reason,contacts&page&limit&filter[updated_at][from]``
  (``filter[pipeline_id][]`` per configured pipeline) -- leads changed since
  the cursor, with ``custom_fields_values`` and their contacts' ids;
* ``GET /api/v4/contacts?filter[id][]`` -- the main contact of each lead
  (phone and e-mail: custom fields with codes ``PHONE`` and ``EMAIL``), in
  batches of 250 ids, so the warehouse can link deals to calls and forms by
  hashed phone / e-mail;
* ``GET /api/v4/events?filter[type]=lead_status_changed&filter[created_at][from]``
  -- stage changes (``value_after[0].lead_status``).

Every list is paged: ``page`` from 1 with ``limit`` (at most 250; events at
most 100), followed
while the response has ``_links.next`` (its ``page`` is read, the request is
re-sent to the configured base URL with our own parameters); HTTP 204 is
an empty list.

OAuth2 with refresh-token rotation: the access token lives about a day and
every refresh returns a NEW refresh token (the old one stops working). The
token pair is kept in ``<secrets dir>/amocrm_tokens.json`` (git-ignored
``data/secrets/`` by default, mode 0600, written atomically). The first run
takes the refresh token from ``ANALYTICS_AMOCRM_REFRESH_TOKEN``; later runs
use the file, which always holds the newest one. An expired access token
(known expiry, or HTTP 401) is refreshed by ``POST /oauth2/access_token``
(``grant_type=refresh_token``, ``client_id``, ``client_secret``,
``redirect_uri``) and the new pair is stored BEFORE it is used.

Landed files: ``amocrm_deals.csv`` with the deals-export column names the
adapter reads (``ID``, ``Воронка``, ``Этап сделки``, ``ID этапа``,
``Бюджет``, ``Ответственный``, ``Дата создания``, ``Дата закрытия``,
``Причина отказа``, ``Телефон (контакт)``, ``Email (контакт)`` and one
column per custom field) and
``amocrm_stage_history.csv`` (``ID сделки``, ``Новый этап``, ``Дата``).
Times are written as UTC with offset and converted by the adapter to the
account time zone. Custom fields are named by ``custom_fields`` in the
settings (keyed by field id, code or name), by their code for the standard
UTM fields (``UTM_SOURCE`` -> ``utm_source``), else by their own name.

Cursor: JSON ``{"leads": <max updated_at>, "events": <max created_at>}``
(epoch seconds), each ``from`` filter inclusive (the boundary records are
re-read, which the upserting load absorbs).

Settings (``connectors.amocrm``): ``subdomain`` (required), ``pipelines``
(ids, optional), ``custom_fields``, ``stages`` (extra stage name ->
canonical stage), ``initial_days``, ``page_limit`` (default 250),
``redirect_uri``. Secrets: ``client_id``, ``client_secret``,
``refresh_token`` (first run only).
"""

from __future__ import annotations

import csv
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from analytics.sources.api import credentials
from analytics.sources.api.pulling import Batch, LandedFile, PullContext
from analytics.sources.api.transport import ApiClient, PullError
from analytics.warehouse import InputError

DEFAULT_BASE_URL = "https://{subdomain}.amocrm.ru"

TOKENS_FILE = "amocrm_tokens.json"
REFRESH_MARGIN_S = 60
"""Refresh an access token this many seconds before its stated expiry."""

UTM_CODES = {
    f"UTM_{u}": f"utm_{u.lower()}" for u in ("SOURCE", "MEDIUM", "CAMPAIGN", "CONTENT", "TERM")
}


class TokenStore:
    """The amoCRM OAuth2 token pair, refreshed and rotated (see the module notes).

    Parameters
    ----------
    api : ApiClient
        Client on the account's base URL (``/oauth2/access_token`` is there).
    path : Path
        Token file (mode 0600).
    redirect_uri : str
        The integration's redirect URI (part of the refresh request).
    clock : callable
        Current epoch seconds (tests move it).
    """

    def __init__(self, api: ApiClient, path: Path, redirect_uri: str, clock=time.time):
        self.api = api
        self.path = path
        self.redirect_uri = redirect_uri
        self.clock = clock
        self.tokens = credentials.read_secret_file(path)
        if not self.tokens.get("refresh_token"):
            bootstrap = credentials.secret("amocrm", "refresh_token", required=False)
            if not bootstrap:
                raise credentials.MissingSecret(
                    f"amocrm: no refresh token; set ANALYTICS_AMOCRM_REFRESH_TOKEN once "
                    f"(later ones are rotated into {path})"
                )
            self.tokens = {"refresh_token": bootstrap, "access_token": None, "expires_at": 0}

    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer`` with a valid access token (refreshed if due)."""
        if not self.tokens.get("access_token") or (
            float(self.tokens.get("expires_at") or 0) - REFRESH_MARGIN_S <= self.clock()
        ):
            self.refresh()
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}

    def refresh(self) -> None:
        """Exchange the refresh token for a new pair and store it (0600) before use."""
        response = self.api.request(
            "POST",
            "/oauth2/access_token",
            json={
                "client_id": credentials.secret("amocrm", "client_id"),
                "client_secret": credentials.secret("amocrm", "client_secret"),
                "grant_type": "refresh_token",
                "refresh_token": self.tokens["refresh_token"],
                "redirect_uri": self.redirect_uri,
            },
            ok=(200, 400, 401),
        )
        if response.status_code != 200:
            raise PullError(
                f"amocrm: the refresh token was rejected (HTTP {response.status_code}); "
                f"re-authorize the integration and set ANALYTICS_AMOCRM_REFRESH_TOKEN, "
                f"then delete {self.path}"
            )
        body = response.json()
        try:
            self.tokens = {
                "access_token": body["access_token"],
                "refresh_token": body["refresh_token"],
                "expires_at": self.clock() + float(body.get("expires_in", 86400)),
            }
        except KeyError:
            raise PullError("amocrm: /oauth2/access_token answered without a token pair") from None
        credentials.write_secret_file(self.path, self.tokens)


class AmoCrm:
    """Authorized, paged GETs of one amoCRM account."""

    def __init__(self, api: ApiClient, tokens: TokenStore, page_limit: int = 250):
        self.api = api
        self.tokens = tokens
        self.page_limit = min(int(page_limit), 250)

    def get(self, path: str, params: dict | None = None):
        """GET with one token refresh on HTTP 401; the JSON body, or None for 204."""
        response = self.api.request("GET", path, params=params, ok=(200, 204, 401))
        if response.status_code == 401:
            self.tokens.refresh()
            response = self.api.request("GET", path, params=params, ok=(200, 204))
        return None if response.status_code == 204 or not response.content else response.json()

    def pages(self, path: str, key: str, params: dict | None = None, limit: int | None = None):
        """Every item of ``_embedded[key]`` over all pages (``_links.next``)."""
        page = 1
        while True:
            size = min(self.page_limit, limit or self.page_limit)
            body = self.get(path, {**(params or {}), "page": page, "limit": size})
            if body is None:
                return
            yield from body.get("_embedded", {}).get(key, [])
            nxt = body.get("_links", {}).get("next", {}).get("href")
            if not nxt:
                return
            following = parse_qs(urlsplit(nxt).query).get("page", [str(page + 1)])[0]
            if int(following) <= page:
                raise PullError(f"amocrm: {path} next page {following} after page {page}")
            page = int(following)


EVENTS_LIMIT = 100
"""amoCRM serves at most 100 events per page."""


def _main_contact(lead: dict) -> int | None:
    """Id of the lead's main contact (else its first contact), None without contacts."""
    linked = lead.get("_embedded", {}).get("contacts") or []
    main = [c for c in linked if c.get("is_main")] or linked
    return main[0]["id"] if main else None


def _contact_value(contact: dict | None, code: str) -> str | None:
    """First value of the contact's custom field with ``field_code`` ``code``."""
    for field in (contact or {}).get("custom_fields_values") or []:
        if field.get("field_code") == code:
            values = [v.get("value") for v in field.get("values") or [] if v.get("value")]
            if values:
                return str(values[0])
    return None


def _utc_text(epoch) -> str | None:
    if not epoch:
        return None
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")


def _field_column(field: dict, names: dict) -> str:
    for key in (str(field.get("field_id")), field.get("field_code"), field.get("field_name")):
        if key and key in names:
            return names[key]
    code = field.get("field_code")
    return UTM_CODES.get(code) or field.get("field_name") or f"field {field.get('field_id')}"


def _field_text(field: dict) -> str:
    values = [v.get("value") for v in field.get("values") or []]
    return ", ".join(str(v) for v in values if v not in (None, ""))


def _write_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=header, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)


def _cursor(context: PullContext) -> dict[str, int]:
    if context.since is not None:
        start = int(datetime.combine(context.since, datetime.min.time(), UTC).timestamp())
        return {"leads": start, "events": start}
    if context.cursor:
        return json.loads(context.cursor)
    days = int(context.settings.get("initial_days", 30))
    start = int(
        (
            datetime.combine(context.today, datetime.min.time(), UTC) - timedelta(days=days)
        ).timestamp()
    )
    return {"leads": start, "events": start}


def _fetch(crm: AmoCrm, settings: dict, since: dict):
    """Leads, stage-change events, pipeline names, status names and user names."""
    status_names, pipeline_names = {}, {}
    for pipeline in crm.pages("/api/v4/leads/pipelines", "pipelines"):
        pipeline_names[pipeline["id"]] = pipeline["name"]
        for status in pipeline.get("_embedded", {}).get("statuses", []):
            status_names[(pipeline["id"], status["id"])] = status["name"]
    users = {u["id"]: u.get("name") for u in crm.pages("/api/v4/users", "users")}
    lead_params = {"with": "loss_reason,contacts", "filter[updated_at][from]": since["leads"]}
    pipelines = settings.get("pipelines") or []
    for i, pid in enumerate(pipelines):
        lead_params[f"filter[pipeline_id][{i}]"] = pid
    leads = list(crm.pages("/api/v4/leads", "leads", lead_params))
    events = list(
        crm.pages(
            "/api/v4/events",
            "events",
            {"filter[type]": "lead_status_changed", "filter[created_at][from]": since["events"]},
            limit=EVENTS_LIMIT,
        )
    )
    contact_ids = sorted({c for c in (_main_contact(x) for x in leads) if c is not None})
    contacts = {}
    for i in range(0, len(contact_ids), 250):
        batch = {f"filter[id][{k}]": cid for k, cid in enumerate(contact_ids[i : i + 250])}
        for contact in crm.pages("/api/v4/contacts", "contacts", batch):
            contacts[contact["id"]] = contact
    return leads, events, pipeline_names, status_names, users, contacts


def pull(context: PullContext) -> Batch:
    """Fetch leads changed and stage changes made since the cursor; land two CSVs."""
    settings = context.settings
    if not settings.get("subdomain"):
        raise InputError("amocrm: connectors.amocrm.subdomain is not set in params/sources.yaml")
    since = _cursor(context)
    with context.client() as oauth:
        tokens = TokenStore(
            oauth,
            credentials.secrets_dir() / TOKENS_FILE,
            settings.get("redirect_uri", ""),
        )
        # every attempt (retries included) asks the store for the current access token
        with context.client(headers=tokens.headers) as api:
            leads, events, pipeline_names, status_names, users, contacts = _fetch(
                AmoCrm(api, tokens, settings.get("page_limit", 250)), settings, since
            )
    names = {str(k): v for k, v in (settings.get("custom_fields") or {}).items()}
    header = ["ID", "Воронка", "Этап сделки", "ID этапа", "Бюджет", "Ответственный",
              "Дата создания", "Дата закрытия", "Причина отказа", "Телефон (контакт)",
              "Email (контакт)"]  # fmt: skip
    deals = []
    for lead in leads:
        reasons = lead.get("_embedded", {}).get("loss_reason") or []
        row = {
            "ID": lead["id"],
            "Воронка": pipeline_names.get(lead.get("pipeline_id")),
            "Этап сделки": status_names.get((lead.get("pipeline_id"), lead.get("status_id"))),
            "ID этапа": lead.get("status_id"),
            "Бюджет": lead.get("price"),
            "Ответственный": users.get(
                lead.get("responsible_user_id"), lead.get("responsible_user_id")
            ),
            "Дата создания": _utc_text(lead.get("created_at")),
            "Дата закрытия": _utc_text(lead.get("closed_at")),
            "Причина отказа": reasons[0].get("name") if reasons else None,
            "Телефон (контакт)": _contact_value(contacts.get(_main_contact(lead)), "PHONE"),
            "Email (контакт)": _contact_value(contacts.get(_main_contact(lead)), "EMAIL"),
        }
        for field in lead.get("custom_fields_values") or []:
            column = _field_column(field, names)
            if column not in header:
                header.append(column)
            row[column] = _field_text(field)
        deals.append(row)
    history = []
    pipeline_ids = set(settings.get("pipelines") or [])
    for event in events:
        after = (event.get("value_after") or [{}])[0].get("lead_status") or {}
        if pipeline_ids and after.get("pipeline_id") not in pipeline_ids:
            continue
        history.append(
            {
                "ID сделки": event["entity_id"],
                "Новый этап": status_names.get((after.get("pipeline_id"), after.get("id"))),
                "Дата": _utc_text(event.get("created_at")),
            }
        )
    files = []
    options = {"stages": settings["stages"]} if settings.get("stages") else {}
    if deals:
        path = context.landing / "amocrm_deals.csv"
        _write_csv(path, header, deals)
        files.append(LandedFile("amocrm", path, options))
    if history:
        path = context.landing / "amocrm_stage_history.csv"
        _write_csv(path, ["ID сделки", "Новый этап", "Дата"], history)
        files.append(LandedFile("amocrm_stages", path, options))
    cursor = {
        "leads": max([since["leads"], *(int(x["updated_at"]) for x in leads)]),
        "events": max([since["events"], *(int(x["created_at"]) for x in events)]),
    }
    return Batch(files=files, cursor=json.dumps(cursor, sort_keys=True))
