"""Connectors that pull from vendor APIs into the warehouse.

Metrica Logs API, amoCRM API v4, Yandex Direct Reports API, Google Ads API
(GAQL searchStream), CoMagic Data API and the GA4 BigQuery export.

``transport`` is the HTTP client (httpx + tenacity: timeouts, retries,
Retry-After), ``credentials`` the secrets, ``cursors`` the incremental state
(``pull_state``), ``pulling`` the pull of one source
(:func:`~analytics.sources.api.pulling.pull_source`); one module per API
(``metrica_logs``, ``amocrm_api``, ``direct_reports``, ``google_ads_api``,
``comagic_api``, ``ga4_bigquery``; ``google_oauth`` gets Google access
tokens) fetches and lands the vendor's export format, which the file adapters then load.
"""

from analytics.sources.api.pulling import (
    CONNECTORS,
    PullError,
    PullReport,
    enabled_sources,
    load_settings,
    pull_source,
)

__all__ = [
    "CONNECTORS",
    "PullError",
    "PullReport",
    "enabled_sources",
    "load_settings",
    "pull_source",
]
