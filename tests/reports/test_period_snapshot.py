"""``summary.period_snapshot`` without a run's ``metrics.json``: computed from the
warehouse once per process while the warehouse and the parameter files are unchanged
(notebooks run in turn in one kernel), recomputed after either changes."""

from __future__ import annotations

import os

import pytest

from analytics import paths
from analytics.metrics import snapshot as snapshot_module
from analytics.reports import summary


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """A project folder with a copy of one parameter file and a stand-in warehouse file;
    ``build_snapshot`` replaced by a counter returning a fresh mutable document."""
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "definitions.yaml").write_text("mql: {}\n", encoding="utf-8")
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(b"stand-in")
    calls = []

    def build(path, period):
        calls.append((path, period))
        return snapshot_module.Snapshot({"n": len(calls), "metrics": {}}), None

    monkeypatch.setattr(snapshot_module, "build_snapshot", build)
    summary._COMPUTED_SNAPSHOTS.clear()
    yield warehouse, calls
    summary._COMPUTED_SNAPSHOTS.clear()


def bump(path):
    """Change a file's modification time by one second (as an edit would)."""
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


def test_a_snapshot_is_computed_once_per_inputs(counted):
    warehouse, calls = counted
    first = summary.period_snapshot(warehouse, "last-week")
    first.data["metrics"]["changed by a page"] = 1  # a page mutating its copy
    second = summary.period_snapshot(warehouse, "last-week")
    assert len(calls) == 1
    assert second.data == {"n": 1, "metrics": {}}  # not the first page's edit

    summary.period_snapshot(warehouse, "last-month")  # another period
    assert len(calls) == 2

    bump(paths.ROOT / "params" / "definitions.yaml")  # an edited definition
    assert summary.period_snapshot(warehouse, "last-month").data["n"] == 3

    bump(warehouse)  # a load into the warehouse
    assert summary.period_snapshot(warehouse, "last-month").data["n"] == 4
    warehouse.with_name(warehouse.name + ".wal").write_bytes(b"pending")  # an uncommitted write
    assert summary.period_snapshot(warehouse, "last-month").data["n"] == 5
    assert summary.period_snapshot(warehouse, "last-month").data["n"] == 5


def test_a_run_snapshot_file_is_read_not_computed(counted, tmp_path, monkeypatch):
    warehouse, calls = counted
    monkeypatch.setattr(snapshot_module, "load_snapshot", lambda path: ("read", path))
    assert summary.period_snapshot(warehouse, "last-week", tmp_path / "metrics.json") == (
        "read",
        tmp_path / "metrics.json",
    )
    assert calls == []
