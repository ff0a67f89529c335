"""Fixtures of the connector tests: secrets in a temporary folder, a sleep recorder.

The vendor APIs are played by ``pytest-httpserver`` (a real HTTP server on
127.0.0.1); each connector's base URL is pointed at it through
``ANALYTICS_<SOURCE>_BASE_URL``, as a user would point it at a proxy.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def secrets(tmp_path, monkeypatch):
    """An empty secrets folder (``ANALYTICS_SECRETS_DIR``) and no connector variables set."""
    folder = tmp_path / "secrets"
    monkeypatch.setenv("ANALYTICS_SECRETS_DIR", str(folder))
    for source in ("METRICA", "AMOCRM", "DIRECT", "GOOGLE_ADS", "COMAGIC", "GA4"):
        for key in ("TOKEN", "BASE_URL", "CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN",
                    "DEVELOPER_TOKEN", "TOKEN_URL", "ACCESS_TOKEN"):  # fmt: skip
            monkeypatch.delenv(f"ANALYTICS_{source}_{key}", raising=False)
    return folder


class Sleeps(list):
    """Records the seconds a pull would have slept (tests do not wait)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()
