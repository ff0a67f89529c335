"""The period snapshot against the hand computation in ``funnel_fixture``'s docstring."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from funnel_fixture import build_warehouse

from analytics.metrics import snapshot as snap
from analytics.metrics.catalogue import CATALOGUE
from analytics.metrics.period import data_anchor, iso_week, parse_period

W23 = iso_week(2025, 23)


@pytest.fixture(scope="module")
def shot(hand_w23_snapshot):
    """The W23 snapshot of funnel_fixture's warehouse (session fixture, ``conftest.py``)."""
    return hand_w23_snapshot


def test_booked_headline_by_hand(shot):
    """Deals won in W23: D1 100 000 + D4 50 000 + DX 777; spend 10 000 + 6 000 + 5 000."""
    assert shot.value("revenue") == pytest.approx(150_777.0)
    assert shot.value("sales") == 3
    assert shot.value("spend") == pytest.approx(21_000.0)
    assert shot.value("romi") == pytest.approx((150_777 - 21_000) / 21_000 * 100)  # 617.99 %
    assert shot.value("cac") == pytest.approx(21_000 / 3)
    assert shot.value("drr") == pytest.approx(21_000 / 150_777 * 100)  # 13.93 %
    assert shot.value("average_deal") == pytest.approx(150_777 / 3)
    assert shot.value("win_rate") == pytest.approx(75.0)  # D1, D4, DX won; D2 lost
    # lead created -> won: D1 09:05 -> 15:00 (5 h 55 min), D4 15:00 -> 17:00 (2 h); DX no lead
    assert shot.value("cycle_days") == pytest.approx((355 / 60 + 2) / 2 / 24)


def test_previous_week_and_deltas_by_hand(shot):
    """W22: D0 won 20 000 on Sat 05-31, spend 3 000 on Fri 05-30; data start 05-30 (partial)."""
    assert shot.data["previous"]["label"] == "2025-W22"
    assert shot.data["previous"]["partial"] is True
    assert shot.value("revenue", "previous") == pytest.approx(20_000.0)
    assert shot.value("spend", "previous") == pytest.approx(3_000.0)
    assert shot.value("romi", "previous") == pytest.approx((20_000 - 3_000) / 3_000 * 100)
    assert shot.value("cac", "previous") == pytest.approx(3_000.0)
    assert shot.value("revenue", "delta") == pytest.approx(130_777.0)
    assert shot.value("revenue", "delta_pct") == pytest.approx(130_777 / 20_000 * 100)
    # percent metrics change in percentage points
    romi_pp = (150_777 - 21_000) / 21_000 * 100 - 17_000 / 3_000 * 100
    assert shot.value("romi", "delta") == pytest.approx(romi_pp)


def test_year_ago_without_data_is_null_with_a_reason(shot):
    assert shot.data["year_ago"]["label"] == "2024-W23"
    assert shot.data["year_ago"]["covered"] is False
    entry = shot.metric("revenue")
    assert entry["year_ago"] is None and entry["delta_year"] is None
    assert "2025-05-30" in entry["reasons"]["year_ago"]["en"]
    assert entry["reasons"]["delta_year_pct"]["ru"]


def test_cohort_figures_keep_their_own_names_and_maturity(shot):
    """The week's leads: revenue 150 000 (D1 + D4), ROMI (150 000 − 21 000) / 21 000."""
    assert shot.value("revenue_cohort") == pytest.approx(150_000.0)
    assert shot.value("romi_cohort") == pytest.approx(129_000 / 21_000 * 100)
    assert shot.value("sales_cohort") == 2
    assert shot.value("mql") == 4 and shot.value("sql_leads") == 3
    entry = shot.metric("romi_cohort")
    assert entry["label"] == "ROMI лидов периода (когорта)" and entry["basis"] == "cohort"
    # the data end Tue 06-10, two days after the week: far below 90 days of maturity
    assert entry["maturity"]["age_days"] == 2 and entry["maturity"]["immature"] is True
    assert shot.metric("romi")["maturity"] is None


def test_per_channel_by_hand(shot):
    """A won deal follows its lead's visit's channel; DX (no lead), L4 (no visit): undetermined."""
    assert shot.value("revenue", channel="paid_search") == pytest.approx(100_000.0)
    assert shot.value("romi", channel="paid_search") == pytest.approx(85_000 / 15_000 * 100)
    assert shot.value("romi", channel="paid_social") == pytest.approx(-100.0)
    assert shot.value("revenue", channel="undetermined") == pytest.approx(50_777.0)
    assert shot.value("sales", channel="undetermined") == 2
    social = shot.metric("cac", channel="paid_social")
    assert social["value"] is None
    assert social["reason"] == {"ru": "не определено: Продажи = 0", "en": "undefined: Sales is 0"}
    organic = shot.metric("romi", channel="organic")
    assert organic["value"] is None and "Ad spend is 0" in organic["reason"]["en"]
    channels = [shot.value("revenue", channel=c) for c in shot.channels]
    assert sum(channels) == pytest.approx(shot.value("revenue"))
    with pytest.raises(KeyError, match="no 'visitors' for channel 'paid_search'"):
        shot.metric("visitors", channel="paid_search")


def test_every_catalogue_metric_is_there_with_its_label(shot):
    assert list(shot.data["metrics"]) == list(CATALOGUE)
    for key, entry in shot.data["metrics"].items():
        assert entry["label"] == CATALOGUE[key].label_ru
        assert entry["unit"] == CATALOGUE[key].unit
        assert entry["basis"] == CATALOGUE[key].basis
        for field in ("value", "previous", "year_ago", "delta", "delta_pct"):
            assert (entry[field] is None) == (field in entry["reasons"]), (key, field)


@pytest.fixture(scope="module")
def funnel_warehouse(tmp_path_factory):
    """The hand-made warehouse as a file, read (never written) by the tests below."""
    return build_warehouse(tmp_path_factory.mktemp("funnel") / "w.duckdb")


@pytest.fixture(scope="module")
def computed_once(funnel_warehouse):
    """``compute_snapshot`` that computes each (period, definitions, as_of, weeks) of
    ``funnel_warehouse`` once in this module and hands the same snapshot to the later callers.

    Ibis compiling the snapshot's SQL costs ~3 s of CPU a call; the tests that take this
    fixture check what ``build_snapshot`` and the ``metrics`` command do with a snapshot
    (files, formats, flags) against the hand computation, so one computation serves them.
    It refuses a connection to any other database than ``funnel_warehouse``.
    """
    compute, done = snap.compute_snapshot, {}

    def once(con, period, definitions=None, as_of=None, weeks=snap.WEEKS):
        (path,) = con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()
        assert Path(path).resolve() == funnel_warehouse.resolve(), path
        key = (period, definitions, as_of, weeks)
        if key not in done:
            done[key] = compute(con, period, definitions, as_of=as_of, weeks=weeks)
        return done[key]

    return once


def test_written_json_is_strict_and_loads_back(
    tmp_path, monkeypatch, funnel_warehouse, computed_once
):
    monkeypatch.setattr(snap, "compute_snapshot", computed_once)
    warehouse = funnel_warehouse
    shot, path = snap.build_snapshot(warehouse, "last-week", tmp_path / "reports")
    assert path == tmp_path / "reports" / "2025-W23" / "metrics.json"
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    loaded = snap.load_snapshot(path.parent)
    assert loaded.value("romi") == pytest.approx(shot.value("romi"))
    assert loaded.period == W23
    marts = pd.read_parquet(path.parent / "marts" / "metric_values.parquet")
    romi = marts[(marts["scope"] == "total") & (marts["metric"] == "romi")].iloc[0]
    assert romi["value"] == pytest.approx(129_777 / 21_000 * 100)
    cac = marts[(marts["channel"] == "paid_social") & (marts["metric"] == "cac")].iloc[0]
    assert math.isnan(cac["value"]) and cac["reason"] == "undefined: Sales is 0"
    weekly = pd.read_parquet(path.parent / "marts" / "weekly.parquet")
    assert weekly["week"].iloc[-1] == "2025-W23" and weekly["revenue"].iloc[-1] == 150_777


def test_loading_a_missing_or_foreign_file_names_it(tmp_path):
    with pytest.raises(snap.SnapshotError, match=r"metrics\.json does not exist"):
        snap.load_snapshot(tmp_path)
    (tmp_path / "metrics.json").write_text('{"schema_version": 99}', encoding="utf-8")
    with pytest.raises(snap.SnapshotError, match="schema_version 99, expected 1"):
        snap.load_snapshot(tmp_path)


def test_table_uses_catalogue_labels(shot):
    table = shot.table(["revenue", "romi", "romi_cohort"], locale="ru")
    assert table["label"].tolist() == ["Выручка", "ROMI", "ROMI лидов периода (когорта)"]
    assert table.loc["romi_cohort", "immature"]
    assert table.loc["revenue", "value"] == pytest.approx(150_777.0)


def test_cli_prints_the_snapshot_with_catalogue_labels(
    capsys, monkeypatch, funnel_warehouse, computed_once
):
    from analytics import cli

    monkeypatch.setattr(snap, "compute_snapshot", computed_once)
    warehouse = funnel_warehouse
    assert cli.main(["metrics", "--period", "2025-W23", "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    lines = {line.split("  ")[0]: line for line in out.splitlines()}
    assert "150\u202f777 ₽" in lines["Выручка"] and "20\u202f000 ₽" in lines["Выручка"]
    assert "618.0%" in lines["ROMI"]  # (150 777 − 21 000) / 21 000
    assert "614.3%" in lines["ROMI лидов периода (когорта)"]  # (150 000 − 21 000) / 21 000
    assert "когорта не созрела" in lines["ROMI лидов периода (когорта)"]
    assert cli.main(["metrics", "--format", "json", "--warehouse", str(warehouse)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metrics"]["cac"]["value"] == pytest.approx(7_000.0)
    code = cli.main(["metrics", "--period", "2025-W99", "--warehouse", str(warehouse)])
    assert code == 2
    assert "2025-W99 is not an ISO week" in capsys.readouterr().err


def test_cli_backend_flag_rejects_an_unknown_engine_in_one_line(
    capsys, monkeypatch, funnel_warehouse, computed_once
):
    from analytics import cli

    monkeypatch.setattr(snap, "compute_snapshot", computed_once)
    warehouse = funnel_warehouse
    args = ["metrics", "--period", "2025-W23", "--warehouse", str(warehouse)]
    assert cli.main([*args, "--backend", "mysql://db"]) == 2
    err = capsys.readouterr().err
    assert err == "error: unknown backend 'mysql://db': expected duckdb://... or pyspark://...\n"
    assert cli.main([*args, "--backend", "pyspark://yarn"]) == 2
    assert "use pyspark://local, pyspark://local[N] or pyspark://active" in capsys.readouterr().err
    # duckdb:// computes on --warehouse: the hand-computed booked revenue
    assert cli.main([*args, "--backend", "duckdb://", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metrics"]["revenue"]["value"] == pytest.approx(150_777.0)


def test_local_spark_backend_gets_the_warehouse_of_the_command(tmp_path, monkeypatch):
    """``--backend pyspark://local[N]`` exports ``--warehouse`` (not the project's default
    warehouse) to a local SparkSession: ``build_snapshot`` and ``connect_backend`` hand the
    file and the master to ``connect_local_spark``, stopped here before a JVM starts (the
    Spark parity test computes the snapshot on the suite's session and its views, built by
    ``connect_local_spark`` itself)."""
    from analytics.transforms import backends

    calls = []

    def connect_local_spark(warehouse, *, master, export_dir=None):
        calls.append((Path(warehouse), master, export_dir))
        raise RuntimeError("no Spark in this test")

    monkeypatch.setattr(backends, "connect_local_spark", connect_local_spark)
    warehouse = build_warehouse(tmp_path / "w.duckdb")
    with pytest.raises(RuntimeError, match="no Spark in this test"):
        snap.build_snapshot(warehouse, "2025-W23", backend="pyspark://local[1]")
    export = tmp_path / "parquet"
    with pytest.raises(RuntimeError, match="no Spark in this test"):
        snap.build_snapshot(warehouse, "2025-W23", backend=f"pyspark://local[2]?export={export}")
    assert calls == [
        (warehouse.resolve(), "local[1]", None),
        (warehouse.resolve(), "local[2]", export),
    ]


@pytest.fixture(scope="module")
def tiny_shot(tiny_warehouse):
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        month = parse_period("last-month", data_anchor(con))
        yield (
            snap.compute_snapshot(con, month),
            con.execute("SELECT * FROM deals").df(),
            con.execute("SELECT * FROM spend").df(),
        )
    finally:
        con.close()


def test_tiny_demo_booked_figures_against_pandas(tiny_shot):
    """Booked revenue, sales and spend recomputed with pandas from the raw tables."""
    shot, deals, spend = tiny_shot
    period = shot.period
    start, stop = pd.Timestamp(period.start), pd.Timestamp(period.end_exclusive)
    won = deals[(deals["status"] == "won") | (deals["stage"] == "won")]
    assert won["closed_at"].notna().all()  # so the close date alone decides the period
    in_period = won[(won["closed_at"] >= start) & (won["closed_at"] < stop)]
    assert len(in_period) > 0
    assert shot.value("sales") == len(in_period)
    assert shot.value("revenue") == pytest.approx(in_period["amount"].fillna(0).sum())
    days = pd.to_datetime(spend["date"])
    cost = spend.loc[(days >= start) & (days < stop), "cost"].sum()
    assert shot.value("spend") == pytest.approx(cost)
    assert shot.value("romi") == pytest.approx((in_period["amount"].sum() - cost) / cost * 100)


def test_tiny_demo_channels_add_up_to_the_total(tiny_shot):
    """Sums split by channel (a deal, lead or cost has exactly one channel) add up."""
    shot = tiny_shot[0]
    for key in ("revenue", "sales", "spend", "visits", "leads", "mql", "sql_leads"):
        for field in ("value", "previous"):
            parts = [shot.value(key, field, channel=c) for c in shot.channels]
            assert sum(parts) == pytest.approx(shot.value(key, field)), (key, field)
    text = shot.to_json()
    assert "NaN" not in text and "Infinity" not in text
