"""Generator -> loader: the warehouse holds exactly what the generator made."""

from __future__ import annotations

import duckdb
import pandas as pd

from analytics import warehouse
from analytics.demo import generator
from analytics.warehouse import schema
from tests.conftest import TEST_SALT


def test_every_generated_row_loads(tiny_demo, tiny_warehouse):
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        for name, df in tiny_demo.tables.items():
            n = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            assert n == len(df), name
        assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
        log = con.execute(
            "SELECT sum(rows_in), sum(rows_loaded), sum(rows_quarantined) FROM load_log"
        ).fetchone()
        assert log[0] == log[1] + log[2] == sum(len(df) for df in tiny_demo.tables.values())
        truth = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'truth'"
            ).fetchall()
        }
        assert truth == set(tiny_demo.truth)
    finally:
        con.close()


def test_values_survive_the_roundtrip(tiny_demo, tiny_warehouse):
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        deals = con.execute("SELECT * FROM deals ORDER BY deal_id").df()
        src = tiny_demo.tables["deals"].sort_values("deal_id").reset_index(drop=True)
        assert deals["amount"].sum() == src["amount"].sum()
        assert (deals["status"].to_numpy() == src["status"].to_numpy()).all()
        spend = con.execute("SELECT sum(cost), sum(clicks) FROM spend").fetchone()
        assert abs(spend[0] - tiny_demo.tables["spend"]["cost"].sum()) < 1e-6
        assert spend[1] == tiny_demo.tables["spend"]["clicks"].sum()
        # phones are stored only as salted hashes equal to the reference hash
        leads = con.execute("SELECT lead_id, phone_hash FROM leads ORDER BY lead_id").df()
        raw = tiny_demo.tables["leads"].sort_values("lead_id").reset_index(drop=True)
        expected = [
            warehouse.hash_pii(p if pd.notna(p) else None, "phone", TEST_SALT) for p in raw["phone"]
        ]
        got = leads["phone_hash"].tolist()
        assert [g if pd.notna(g) else None for g in got] == expected
        # the lead form's answers land in lead_fields as written by the generator
        stored = con.execute(
            "SELECT lead_id, field, value, recorded_at FROM lead_fields ORDER BY lead_id, field"
        ).df()
        written = tiny_demo.tables["lead_fields"].sort_values(["lead_id", "field"])
        assert len(stored) == len(written) > 0
        assert stored["value"].tolist() == written["value"].tolist()
        assert (stored["recorded_at"].to_numpy() == written["recorded_at"].to_numpy()).all()
        cols = [c.stored_name for c in schema.LEADS.columns]
        assert "phone" not in cols and "phone_hash" in cols
    finally:
        con.close()


def test_csv_and_parquet_give_the_same_warehouse(tiny_demo, tmp_path):
    counts = {}
    for fmt in ("parquet", "csv"):
        raw = generator.write_raw(tiny_demo, tmp_path / fmt, fmt=fmt)
        con = warehouse.connect(tmp_path / f"{fmt}.duckdb")
        warehouse.init_schema(con)
        warehouse.load_raw_dir(con, raw, salt=TEST_SALT)
        counts[fmt] = {
            t: con.execute(
                f"SELECT count(*), count(DISTINCT {schema.CANONICAL[t].key[0]}) FROM {t}"
            ).fetchone()
            for t in schema.CANONICAL
        }
        counts[fmt]["revenue"] = con.execute(
            "SELECT sum(amount) FROM deals WHERE status = 'won'"
        ).fetchone()
        con.close()
    assert counts["parquet"] == counts["csv"]
