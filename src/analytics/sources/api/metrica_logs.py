"""Yandex Metrica Logs API -> visits (landed as the Logs API TSV, loaded by ``metrica``).

Protocol (https://yandex.ru/dev/metrika/en/logs/practice/quick-start), all
under ``/management/v1/counter/{counter_id}`` with the header
``Authorization: OAuth <token>``:

1. ``GET logrequests/evaluate?date1&date2&fields&source=visits`` ->
   ``log_request_evaluation.possible`` and ``max_possible_day_quantity``;
   a window that is not possible is split into chunks of that many days
   (none possible -> :class:`PullError`: the log storage quota is full);
2. ``POST logrequests?...`` -> ``log_request.request_id``;
3. ``GET logrequest/{id}`` until ``status`` is ``processed`` (every
   ``poll_interval_s`` seconds, at most ``poll_limit`` times); ``canceled``
   or ``processing_failed`` -> :class:`PullError`;
4. ``GET logrequest/{id}/part/{n}/download`` for every part listed in
   ``log_request.parts`` (each part starts with the header line; parts are
   concatenated under one header);
5. ``POST logrequest/{id}/clean`` (also after a failed download), so the
   prepared logs stop counting against the counter's storage quota.

Quota errors (HTTP 429 ``quota_requests_by_ip`` and the like) are retried
with Retry-After / backoff by the transport; if they persist the pull fails
with the vendor's message.

Settings (``params/sources.yaml``, ``connectors.metrica``): ``counter_id``
(required), ``pricing_goal_ids`` (required by the adapter, may be ``[]``),
``fields`` (default :data:`FIELDS`), ``initial_days``, ``lookback_days``,
``poll_interval_s`` (default 10), ``poll_limit`` (default 120),
``channel_rules``. Secret: ``token``
(``ANALYTICS_METRICA_TOKEN``).
"""

from __future__ import annotations

from datetime import date, timedelta

from analytics.sources.api import credentials
from analytics.sources.api.pulling import Batch, LandedFile, PullContext
from analytics.sources.api.transport import ApiClient, PullError
from analytics.warehouse import InputError

DEFAULT_BASE_URL = "https://api-metrika.yandex.net"

FIELDS = (
    "ym:s:visitID",
    "ym:s:clientID",
    "ym:s:dateTime",
    "ym:s:pageViews",
    "ym:s:visitDuration",
    "ym:s:goalsID",
    "ym:s:startURL",
    "ym:s:deviceCategory",
    "ym:s:UTMSource",
    "ym:s:UTMMedium",
    "ym:s:UTMCampaign",
    "ym:s:UTMContent",
    "ym:s:UTMTerm",
    "ym:s:lastTrafficSource",
    "ym:s:lastSearchEngineRoot",
    "ym:s:lastAdvEngine",
    "ym:s:lastReferalSource",
    "ym:s:lastSocialNetwork",
)
"""Visit fields requested: everything :mod:`analytics.sources.metrica` reads."""

FAILED_STATUSES = {"canceled", "processing_failed", "cleaned_by_user"}


def _chunks(first: date, last: date, days: int):
    start = first
    while start <= last:
        end = min(last, start + timedelta(days=days - 1))
        yield start, end
        start = end + timedelta(days=1)


def _plan(api: ApiClient, root: str, params: dict, first: date, last: date) -> list:
    """Windows the Logs API can prepare (``evaluate``), splitting a too-large one."""
    response = api.request(
        "GET",
        f"{root}/logrequests/evaluate",
        params={**params, "date1": first.isoformat(), "date2": last.isoformat()},
    )
    evaluation = response.json().get("log_request_evaluation", {})
    if evaluation.get("possible"):
        return [(first, last)]
    days = int(evaluation.get("max_possible_day_quantity") or 0)
    if days < 1:
        raise PullError(
            f"metrica: the Logs API cannot prepare {first}..{last} now (storage quota full); "
            "clean old log requests or retry later"
        )
    return list(_chunks(first, last, days))


def _download(context: PullContext, api: ApiClient, root: str, params: dict, first, last):
    created = api.request(
        "POST",
        f"{root}/logrequests",
        params={**params, "date1": first.isoformat(), "date2": last.isoformat()},
    ).json()["log_request"]
    request_id = created["request_id"]
    interval = float(context.settings.get("poll_interval_s", 10))
    limit = int(context.settings.get("poll_limit", context.poll_limit))
    status = created.get("status")
    info = created
    for _ in range(limit):
        if status == "processed":
            break
        if status in FAILED_STATUSES:
            raise PullError(f"metrica: log request {request_id} for {first}..{last} is {status}")
        context.sleep(interval)
        info = api.request("GET", f"{root}/logrequest/{request_id}").json()["log_request"]
        status = info.get("status")
    else:
        raise PullError(
            f"metrica: log request {request_id} for {first}..{last} still {status!r} after "
            f"{limit} checks every {interval:g} s; the next pull asks again"
        )
    header, lines = None, []
    try:
        for part in sorted(info.get("parts") or [], key=lambda p: p["part_number"]):
            text = api.request(
                "GET", f"{root}/logrequest/{request_id}/part/{part['part_number']}/download"
            ).text
            part_lines = text.splitlines()
            if not part_lines:
                continue
            if header is None:
                header = part_lines[0]
            if part_lines[0] == header:
                part_lines = part_lines[1:]
            lines.extend(line for line in part_lines if line)
    finally:
        api.request("POST", f"{root}/logrequest/{request_id}/clean")
    if header is None:
        header = "\t".join(params["fields"].split(","))
    return header, lines


def pull(context: PullContext) -> Batch:
    """Fetch visits of the window (:meth:`PullContext.window`) and land them as TSV."""
    settings = context.settings
    if "counter_id" not in settings:
        raise InputError("metrica: connectors.metrica.counter_id is not set in params/sources.yaml")
    if "pricing_goal_ids" not in settings:
        raise InputError(
            "metrica: connectors.metrica.pricing_goal_ids is not set in params/sources.yaml "
            "(use [] if no goal marks a pricing-page view)"
        )
    window = context.window()
    if window is None:
        return Batch(files=[], cursor=None)
    token = credentials.secret("metrica", "token")
    root = f"/management/v1/counter/{settings['counter_id']}"
    params = {"fields": ",".join(settings.get("fields") or FIELDS), "source": "visits"}
    options = {"pricing_goal_ids": settings["pricing_goal_ids"]}
    if settings.get("channel_rules"):
        options["channel_rules"] = settings["channel_rules"]
    files = []
    with context.client(headers=lambda: {"Authorization": f"OAuth {token}"}) as api:
        for first, last in _plan(api, root, params, *window):
            header, lines = _download(context, api, root, params, first, last)
            path = context.landing / f"metrica_visits_{first}_{last}.tsv"
            path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
            files.append(LandedFile("metrica", path, options))
    return Batch(files=files, cursor=window[1].isoformat())
