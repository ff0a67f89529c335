"""GA4 BigQuery export -> visits, incremental by daily shard (NDJSON loaded by ``ga4``).

GA4 exports one table per day, ``<project>.<dataset>.events_YYYYMMDD``
(plus ``events_intraday_YYYYMMDD`` while a day is still being collected,
never read here). Protocol: the BigQuery REST API v2
(``https://bigquery.googleapis.com/bigquery/v2``, ``Authorization: Bearer``):

1. ``GET projects/{project}/datasets/{dataset}/tables`` (paged by
   ``pageToken``) lists the shards; the new ones are those after the cursor
   (the last shard loaded), minus ``lookback_days`` shards because GA4 keeps
   updating a daily table for up to 72 hours;
2. ``POST projects/{billing}/queries`` runs one standard-SQL query over the
   selected shards (``_TABLE_SUFFIX BETWEEN @first AND @last``, named query
   parameters); if the answer says ``jobComplete: false``,
   ``GET projects/{billing}/queries/{jobId}`` (``getQueryResults``) is
   polled; every page of rows is read by ``pageToken``;
3. rows come in BigQuery's ``{"f": [{"v": ...}]}`` form and are turned back
   into nested JSON with the result schema (RECORD -> object, REPEATED ->
   list, INT64 kept as text as in BigQuery's own JSON export), one event per
   line -- the NDJSON the ``ga4`` adapter reads.

All shards of a pull go into one file, so sessions crossing midnight are
built whole (the adapter's rule). A session cut by the cursor boundary is
re-read with the lookback shards and upserted by the load.

Settings (``connectors.ga4``): ``project``, ``dataset`` (required;
``analytics_<property id>``), ``billing_project`` (default ``project``),
``location``, ``initial_days``, ``lookback_days`` (3 advisable),
``poll_interval_s``, ``poll_limit``, ``page_rows`` (default 50 000),
``pricing_page``, ``channel_rules``. Secrets: ``client_id``,
``client_secret``, ``refresh_token``, or ``access_token``
(``ANALYTICS_GA4_*``; see :mod:`.google_oauth`).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from analytics.sources.api.google_oauth import access_token
from analytics.sources.api.pulling import Batch, LandedFile, PullContext
from analytics.sources.api.transport import ApiClient, PullError
from analytics.warehouse import InputError

DEFAULT_BASE_URL = "https://bigquery.googleapis.com"
ROOT = "/bigquery/v2"
SHARD = re.compile(r"^events_(\d{8})$")

COLUMNS = ("event_date", "event_timestamp", "event_name", "event_params", "user_pseudo_id",
           "device", "traffic_source", "collected_traffic_source")  # fmt: skip
"""Export columns the ``ga4`` adapter reads."""


def decode_row(fields: list[dict], row: dict) -> dict:
    """One ``{"f": [{"v": ...}]}`` row -> nested dict, by the result schema ``fields``."""
    return {f["name"]: _value(f, cell.get("v")) for f, cell in zip(fields, row["f"], strict=True)}


def _value(field: dict, v):
    if field.get("mode") == "REPEATED":
        single = {**field, "mode": "NULLABLE"}
        return [_value(single, item.get("v")) for item in (v or [])]
    if v is None:
        return None
    if field.get("type") in ("RECORD", "STRUCT"):
        return decode_row(field["fields"], v)
    return v


def list_shards(api: ApiClient, project: str, dataset: str) -> list[str]:
    """Suffixes ``YYYYMMDD`` of the dataset's daily ``events_`` tables, sorted."""
    shards, token = [], None
    while True:
        params = {"maxResults": 1000, **({"pageToken": token} if token else {})}
        body = api.request(
            "GET", f"{ROOT}/projects/{project}/datasets/{dataset}/tables", params=params
        ).json()
        for table in body.get("tables", []):
            match = SHARD.match(table["tableReference"]["tableId"])
            if match:
                shards.append(match.group(1))
        token = body.get("nextPageToken")
        if not token:
            return sorted(shards)


def _choose(context: PullContext, shards: list[str]) -> list[str]:
    if context.since is not None:
        first = context.since.strftime("%Y%m%d")
    elif context.cursor:
        lookback = int(context.settings.get("lookback_days", 0))
        chosen = [s for s in shards if s > context.cursor]
        older = [s for s in shards if s <= context.cursor][-lookback:] if lookback else []
        return older + chosen if chosen else []
    else:
        days = int(context.settings.get("initial_days", 30))
        first = (context.today - timedelta(days=days)).strftime("%Y%m%d")
    return [s for s in shards if s >= first]


def run_query(context: PullContext, api: ApiClient, billing: str, sql: str, params: dict):
    """Rows and schema of a query: ``jobs.query``, then ``getQueryResults`` pages."""
    settings = context.settings
    page_rows = int(settings.get("page_rows", 50000))
    body = {
        "query": sql,
        "useLegacySql": False,
        "parameterMode": "NAMED",
        "queryParameters": [
            {"name": k, "parameterType": {"type": "STRING"}, "parameterValue": {"value": v}}
            for k, v in params.items()
        ],
        "maxResults": page_rows,
        "timeoutMs": 10000,
    }
    if settings.get("location"):
        body["location"] = settings["location"]
    answer = api.request("POST", f"{ROOT}/projects/{billing}/queries", json=body).json()
    job = answer.get("jobReference", {})
    results = f"{ROOT}/projects/{billing}/queries/{job.get('jobId')}"
    query = {"maxResults": page_rows, "timeoutMs": 10000}
    if job.get("location"):
        query["location"] = job["location"]
    limit = int(settings.get("poll_limit", context.poll_limit))
    for _ in range(limit):
        if answer.get("jobComplete"):
            break
        context.sleep(float(settings.get("poll_interval_s", 5)))
        answer = api.request("GET", results, params=query).json()
    else:
        raise PullError(
            f"ga4: BigQuery job {job.get('jobId')} not complete after {limit} checks; "
            "the next pull asks again"
        )
    fields = answer["schema"]["fields"]
    while True:
        for row in answer.get("rows", []):
            yield decode_row(fields, row)
        token = answer.get("pageToken")
        if not token:
            return
        answer = api.request("GET", results, params={**query, "pageToken": token}).json()


def pull(context: PullContext) -> Batch:
    """Fetch the new daily shards' events; land one NDJSON file."""
    settings = context.settings
    for key in ("project", "dataset"):
        if not settings.get(key):
            raise InputError(f"ga4: connectors.ga4.{key} is not set in params/sources.yaml")
    project, dataset = settings["project"], settings["dataset"]
    billing = settings.get("billing_project", project)
    token = access_token("ga4", context)
    with context.client(headers=lambda: {"Authorization": f"Bearer {token}"}) as api:
        shards = _choose(context, list_shards(api, project, dataset))
        if not shards:
            return Batch(files=[], cursor=None)
        sql = (
            f"SELECT {', '.join(COLUMNS)} FROM `{project}.{dataset}.events_*` "
            "WHERE _TABLE_SUFFIX BETWEEN @first AND @last "
            "ORDER BY user_pseudo_id, event_timestamp"
        )
        path = context.landing / f"ga4_events_{shards[0]}_{shards[-1]}.ndjson"
        n = 0
        with path.open("w", encoding="utf-8") as out:
            for event in run_query(
                context, api, billing, sql, {"first": shards[0], "last": shards[-1]}
            ):
                out.write(json.dumps(event, ensure_ascii=False) + "\n")
                n += 1
    options = {k: settings[k] for k in ("pricing_page", "channel_rules") if settings.get(k)}
    files = [LandedFile("ga4", path, options)] if n else []
    note = f"; shards {shards[0]}..{shards[-1]} ({len(shards)})"
    return Batch(files=files, cursor=shards[-1], note=note)
