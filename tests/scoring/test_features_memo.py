"""``lead_features`` on a read-only warehouse is computed once per process while the
warehouse and the parameter files are unchanged (a scoring page loads the model,
checks drift and lists the calls from one table); a write or a writable connection
(whose open transaction is not on disk yet) computes it again."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from funnel_fixture import build_warehouse

from analytics.scoring import features as module


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """The hand-made warehouse; ``_compute_lead_features`` counted (still computing)."""
    path = build_warehouse(tmp_path / "warehouse.duckdb")
    calls = []
    compute = module._compute_lead_features

    def counting(*args, **kwargs):
        calls.append(args[1:])
        return compute(*args, **kwargs)

    monkeypatch.setattr(module, "_compute_lead_features", counting)
    module._LAST_FEATURES.clear()
    yield path, calls
    module._LAST_FEATURES.clear()


def test_read_only_features_are_computed_once_and_copied(counted):
    path, calls = counted
    with duckdb.connect(str(path), read_only=True) as con:
        first = module.lead_features(con, similarity=False)
        first.iloc[0, 1] = -999  # a caller editing its table
        second = module.lead_features(con, similarity=False)
    assert len(calls) == 1
    assert len(second) == len(first) > 0
    assert (second.iloc[:, 1] != -999).all()
    with duckdb.connect(str(path), read_only=True) as con:  # another connection, same file
        third = module.lead_features(con, similarity=False)
        module.lead_features(con, similarity=True)  # other arguments
    assert len(calls) == 2
    pd.testing.assert_frame_equal(third, second)


def test_a_write_or_a_writable_connection_computes_again(counted):
    path, calls = counted
    with duckdb.connect(str(path), read_only=True) as con:
        before = module.lead_features(con, similarity=False)
    with duckdb.connect(str(path)) as con:  # writable: never from the memo
        module.lead_features(con, similarity=False)
        module.lead_features(con, similarity=False)
        assert len(calls) == 3
        con.execute("DELETE FROM leads WHERE lead_id = ?", [before.index[0]])
    with duckdb.connect(str(path), read_only=True) as con:
        after = module.lead_features(con, similarity=False)
    assert len(calls) == 4
    assert list(after.index) == list(before.index[1:])
