"""Connectors that pull from vendor APIs (Metrica Logs API, amoCRM API v4, Yandex Direct Reports).

``transport`` is the HTTP client (httpx + tenacity: timeouts, retries,
Retry-After), ``credentials`` the secrets, ``cursors`` the incremental state
(``pull_state``), ``pulling`` the pull of one source
(:func:`~analytics.sources.api.pulling.pull_source`); one module per API
(``metrica_logs``, ``amocrm_api``, ``direct_reports``) fetches and lands the
vendor's export format, which the file adapters then load.
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
