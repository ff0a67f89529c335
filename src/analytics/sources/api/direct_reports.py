"""Yandex Direct Reports API -> spend (landed as the report TSV, loaded by ``direct``).

Protocol (https://yandex.com/dev/direct/doc/en/ reports: "Online and offline
reports", "HTTP headers", "Response codes"): ``POST /json/v5/reports`` with
``Authorization: Bearer <token>``, ``Client-Login`` (agency accounts),
``processingMode: offline``, ``returnMoneyInMicros: false`` and a body
``{"params": {SelectionCriteria, FieldNames, ReportName, ReportType,
DateRangeType, Format: "TSV", IncludeVAT: "YES"}}``. Answers:

* 200 -- the report (first line its name and period, then the column names,
  the rows, and ``Total rows: N``);
* 201 -- queued offline; 202 -- still being built: the same request is sent
  again after ``retryIn`` seconds (header; ``poll_interval_s`` if absent), at
  most ``poll_limit`` times;
* 400 -- an error in the request or too many reports queued (the vendor's
  ``error_string`` / ``error_detail`` is the message);
* 500, 502 -- retried by the transport with backoff.

A report is identified by its name and parameters, so the name encodes the
level, the period and the account.

Levels (``levels`` in the settings, default ``[ad]``), each one
``CUSTOM_REPORT`` with the grouping fields of :data:`LEVEL_FIELDS` plus
``Date``, ``AdNetworkType``, ``Impressions``, ``Clicks``, ``Cost``. Only the
``ad`` level has the grain of ``spend`` (day, campaign, ad group, ad) and is
loaded; ``campaign``, ``ad_group`` and ``keyword`` reports are landed next
to it in ``data/pulls/direct/<run>/`` for analysis but not loaded (the
warehouse has no table of that grain; campaign and ad-group totals are sums
of the ad rows).

Settings (``connectors.direct``): ``client_logins`` (list; empty or absent
for a direct advertiser account), ``levels``, ``initial_days``,
``lookback_days`` (Direct revises recent statistics; 3 is sensible),
``poll_interval_s`` (10), ``poll_limit`` (120), ``vat_included`` (true).
Secret: ``token`` (``ANALYTICS_DIRECT_TOKEN``).
"""

from __future__ import annotations

from datetime import date

from analytics.sources.api import credentials
from analytics.sources.api.pulling import Batch, LandedFile, PullContext
from analytics.sources.api.transport import ApiClient, PullError, error_text
from analytics.warehouse import InputError

DEFAULT_BASE_URL = "https://api.direct.yandex.com"
REPORTS_PATH = "/json/v5/reports"

LEVEL_FIELDS: dict[str, tuple[str, ...]] = {
    "campaign": ("CampaignId", "CampaignName"),
    "ad_group": ("CampaignName", "AdGroupId", "AdGroupName"),
    "ad": ("CampaignName", "AdGroupName", "AdId"),
    "keyword": ("CampaignName", "AdGroupName", "AdId", "CriterionId", "Criterion"),
}
"""Grouping fields of each report level."""

MEASURES = ("AdNetworkType", "Impressions", "Clicks", "Cost")
LOADED_LEVEL = "ad"


def report_body(level: str, first: date, last: date, login: str | None) -> dict:
    """Body of a ``CUSTOM_REPORT`` request for one level, period and account."""
    name = f"analytics {level} {first}..{last}" + (f" {login}" if login else "")
    return {
        "params": {
            "SelectionCriteria": {"DateFrom": first.isoformat(), "DateTo": last.isoformat()},
            "FieldNames": ["Date", *LEVEL_FIELDS[level], *MEASURES],
            "ReportName": name,
            "ReportType": "CUSTOM_REPORT",
            "DateRangeType": "CUSTOM_DATE",
            "Format": "TSV",
            "IncludeVAT": "YES",
        }
    }


def fetch_report(context: PullContext, api: ApiClient, body: dict, login: str | None) -> str:
    """The report text, waiting ``retryIn`` seconds while it is built offline (201/202)."""
    headers = {"processingMode": "offline", "returnMoneyInMicros": "false"}
    if login:
        headers["Client-Login"] = login
    interval = float(context.settings.get("poll_interval_s", 10))
    limit = int(context.settings.get("poll_limit", context.poll_limit))
    name = body["params"]["ReportName"]
    for _ in range(limit):
        response = api.request(
            "POST", REPORTS_PATH, json=body, headers=headers, ok=(200, 201, 202, 400)
        )
        if response.status_code == 200:
            return response.text
        if response.status_code == 400:
            raise PullError(f"direct: report {name!r} refused: {error_text(response)}")
        retry_in = response.headers.get("retryIn")
        context.sleep(float(retry_in) if retry_in else interval)
    raise PullError(
        f"direct: report {name!r} still being built after {limit} checks; the next pull asks again"
    )


def pull(context: PullContext) -> Batch:
    """Fetch the window's reports for every account and level; land them as TSV."""
    settings = context.settings
    levels = settings.get("levels") or [LOADED_LEVEL]
    unknown = [lv for lv in levels if lv not in LEVEL_FIELDS]
    if unknown:
        raise InputError(
            f"direct: connectors.direct.levels: unknown level(s) {', '.join(map(str, unknown))}; "
            f"expected some of {', '.join(LEVEL_FIELDS)}"
        )
    window = context.window()
    if window is None:
        return Batch(files=[], cursor=None)
    token = credentials.secret("direct", "token")
    logins = settings.get("client_logins") or [None]
    options = {"vat_included": bool(settings.get("vat_included", True))}
    if settings.get("channel_rules"):
        options["channel_rules"] = settings["channel_rules"]
    files, kept = [], []
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    with context.client(headers=lambda: headers) as api:
        for login in logins:
            for level in levels:
                text = fetch_report(context, api, report_body(level, *window, login), login)
                suffix = f"_{login}" if login else ""
                path = context.landing / f"direct_{level}_{window[0]}_{window[1]}{suffix}.tsv"
                path.write_text(text, encoding="utf-8")
                if level == LOADED_LEVEL:
                    files.append(LandedFile("direct", path, options))
                else:
                    kept.append(path.name)
    note = f"; landed, not loaded: {', '.join(kept)}" if kept else ""
    return Batch(files=files, cursor=window[1].isoformat(), note=note)
