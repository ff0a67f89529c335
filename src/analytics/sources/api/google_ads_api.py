"""Google Ads API (GAQL ``searchStream`` over REST) -> spend (CSV loaded by ``google_ads``).

Protocol (developers.google.com/google-ads/api, REST interface):

* an access token from Google's OAuth2 token endpoint
  (``POST https://oauth2.googleapis.com/token``, form ``grant_type=refresh_token``,
  ``client_id``, ``client_secret``, ``refresh_token``; Google does not rotate
  the refresh token); overridable by ``ANALYTICS_GOOGLE_ADS_TOKEN_URL``;
* ``POST /{version}/customers/{customer_id}/googleAds:searchStream`` with headers
  ``Authorization: Bearer``, ``developer-token`` and, for a manager account,
  ``login-customer-id``; body ``{"query": GAQL}``;
* the answer is a JSON array of ``SearchGoogleAdsStreamResponse`` batches,
  each with ``results`` (``GoogleAdsRow`` objects in camelCase:
  ``segments.date``, ``campaign.name``, ``campaign.advertisingChannelType``,
  ``adGroup.name``, ``adGroupAd.ad.id``, ``customer.currencyCode``,
  ``metrics.impressions``, ``metrics.clicks``, ``metrics.costMicros``;
  int64 values arrive as strings), ``fieldMask`` and ``requestId``.

One query per customer and window, at the ad level (``FROM ad_group_ad``):
cost by day, campaign, ad group and ad. Rows are landed as the CSV the
``google_ads`` adapter reads (``Day, Campaign, Ad group, Ad ID, Currency
code, Campaign type, Impr., Clicks, Cost``) with the cost in micros
(``money_in_micros=True``), so no rounding happens before the adapter.

Settings (``connectors.google_ads``): ``customer_ids`` (required, digits
only), ``login_customer_id`` (manager account, optional), ``api_version``
(default :data:`API_VERSION`), ``initial_days``, ``lookback_days``.
Secrets: ``developer_token``, ``client_id``, ``client_secret``,
``refresh_token`` (``ANALYTICS_GOOGLE_ADS_*``).
"""

from __future__ import annotations

import csv
from datetime import date

from analytics.sources.api import credentials
from analytics.sources.api.google_oauth import access_token
from analytics.sources.api.pulling import Batch, LandedFile, PullContext
from analytics.sources.api.transport import ApiClient
from analytics.warehouse import InputError

DEFAULT_BASE_URL = "https://googleads.googleapis.com"
API_VERSION = "v24"

QUERY = (
    "SELECT segments.date, campaign.name, campaign.advertising_channel_type, ad_group.name, "
    "ad_group_ad.ad.id, customer.currency_code, metrics.impressions, metrics.clicks, "
    "metrics.cost_micros FROM ad_group_ad "
    "WHERE segments.date BETWEEN '{first}' AND '{last}'"
)
"""GAQL of the ad-level cost report; dates are ``YYYY-MM-DD``, both inclusive."""

HEADER = ["Day", "Campaign", "Ad group", "Ad ID", "Currency code", "Campaign type",
          "Impr.", "Clicks", "Cost"]  # fmt: skip


def _row(result: dict) -> dict:
    get = lambda *keys: _dig(result, keys)  # noqa: E731
    return {
        "Day": get("segments", "date"),
        "Campaign": get("campaign", "name"),
        "Ad group": get("adGroup", "name"),
        "Ad ID": get("adGroupAd", "ad", "id"),
        "Currency code": get("customer", "currencyCode"),
        "Campaign type": get("campaign", "advertisingChannelType"),
        "Impr.": get("metrics", "impressions") or "0",
        "Clicks": get("metrics", "clicks") or "0",
        "Cost": get("metrics", "costMicros") or "0",
    }


def _dig(value, keys):
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def search_stream(api: ApiClient, version: str, customer: str, first: date, last: date, headers):
    """Every ``GoogleAdsRow`` of the window for one customer."""
    response = api.request(
        "POST",
        f"/{version}/customers/{customer}/googleAds:searchStream",
        json={"query": QUERY.format(first=first.isoformat(), last=last.isoformat())},
        headers=headers,
    )
    batches = response.json()
    if isinstance(batches, dict):  # a single batch not wrapped in an array
        batches = [batches]
    for batch in batches:
        yield from batch.get("results", [])


def pull(context: PullContext) -> Batch:
    """Fetch the window's ad-level cost for every customer; land one CSV."""
    settings = context.settings
    customers = [str(c).replace("-", "") for c in settings.get("customer_ids") or []]
    if not customers:
        raise InputError(
            "google_ads: connectors.google_ads.customer_ids is not set in params/sources.yaml"
        )
    window = context.window()
    if window is None:
        return Batch(files=[], cursor=None)
    developer_token = credentials.secret("google_ads", "developer_token")
    token = access_token("google_ads", context)
    headers = {"developer-token": developer_token}
    if settings.get("login_customer_id"):
        headers["login-customer-id"] = str(settings["login_customer_id"]).replace("-", "")
    version = settings.get("api_version", API_VERSION)
    rows = []
    with context.client(headers=lambda: {"Authorization": f"Bearer {token}"}) as api:
        for customer in customers:
            rows += [_row(r) for r in search_stream(api, version, customer, *window, headers)]
    path = context.landing / f"google_ads_{window[0]}_{window[1]}.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    files = [LandedFile("google_ads", path, {"money_in_micros": True, "delimiter": ","})]
    if not rows:
        files = []
    return Batch(files=files, cursor=window[1].isoformat())
