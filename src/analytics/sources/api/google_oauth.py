"""Google OAuth2 access tokens for the Google connectors (Google Ads, GA4 BigQuery).

An access token (valid about an hour) is obtained once per pull from the
refresh token of an OAuth client: ``POST https://oauth2.googleapis.com/token``
with form fields ``grant_type=refresh_token``, ``client_id``,
``client_secret``, ``refresh_token`` -> ``{"access_token", "expires_in"}``.
Google does not rotate refresh tokens, so nothing is written back.
``ANALYTICS_<SOURCE>_ACCESS_TOKEN`` (e.g. from ``gcloud auth
print-access-token``) is used as is when set; ``ANALYTICS_<SOURCE>_TOKEN_URL``
overrides the endpoint (tests, proxies).
"""

from __future__ import annotations

import os

from analytics.sources.api import credentials
from analytics.sources.api.pulling import PullContext
from analytics.sources.api.transport import ApiClient, PullError

TOKEN_URL = "https://oauth2.googleapis.com/token"


def access_token(source: str, context: PullContext) -> str:
    """An access token for ``source`` (see the module notes); never logged."""
    given = os.environ.get(credentials.env_name(source, "access_token"))
    if given:
        return given
    url = os.environ.get(credentials.env_name(source, "token_url")) or TOKEN_URL
    with ApiClient(
        source, url, timeout=context.timeout, max_attempts=context.max_attempts, sleep=context.sleep
    ) as oauth:
        response = oauth.request(
            "POST",
            url,
            data={
                "grant_type": "refresh_token",
                "client_id": credentials.secret(source, "client_id"),
                "client_secret": credentials.secret(source, "client_secret"),
                "refresh_token": credentials.secret(source, "refresh_token"),
            },
            ok=(200, 400, 401),
        )
    if response.status_code != 200:
        raise PullError(
            f"{source}: the OAuth2 refresh token was rejected (HTTP {response.status_code}); "
            f"authorize again and set {credentials.env_name(source, 'refresh_token')}"
        )
    return response.json()["access_token"]
