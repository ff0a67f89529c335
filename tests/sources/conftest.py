"""Fixtures of the source adapter tests (helpers are in ``source_checks``)."""

from __future__ import annotations

import pytest

from analytics import warehouse as wh


@pytest.fixture
def con():
    """An empty in-memory warehouse with the canonical schema."""
    connection = wh.connect(":memory:")
    wh.init_schema(connection)
    yield connection
    connection.close()
