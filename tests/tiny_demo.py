"""Constants of the tiny demo company the session fixtures build (``conftest.py``)."""

TINY_SEED = 7
"""Generator seed of the tiny demo company."""

TEST_SALT = "test-salt"
"""PII salt the tiny warehouse is loaded with."""
