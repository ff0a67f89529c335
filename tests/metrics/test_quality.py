"""Tests for analytics.metrics.quality: hand-made cases and the demo company's injected defects.

Hand-made warehouse, period 2025-06-02 .. 2025-06-15 (ISO weeks W23 and W24)
-----------------------------------------------------------------------------
visits: v1 (a, 06-02, C1/G1/K1), v2 (b, 06-03, organic), v3 (c, 06-09, C1/G1/K2)
spend rows in the period: 06-02 C1/G1/K1 (v1), 06-03 C1/G1/K1 (no visit that day),
    06-09 C1/G1/K2 (v3), 06-09 C1/G2/K3 (no visit) -> 2 of 4 without visits;
    06-20 is outside the period.
leads (phone / e-mail hashes):
    L0 05-31 p9           before the period
    L1 06-02 form v1 p1 e1, campaign C1 -> D1 won 100 000, campaign lost
    L9 06-02 08:00 p9     repeats L0 (phone, 47 h later)         -> duplicate
    L2 06-03 form v2 p2   no campaign -> D2 won 50 000
    L3 06-04 form v2 p2   repeats L2 (phone, 1 day)              -> duplicate
    L4 06-05 call, no visit, p4 -> D4 open                        -> call without session
    L5 06-06 call, visit id not in visits, p5, no deal            -> call w/o session, missing
    L6 06-09 form v3 p6 e6, campaign C1 -> D6 won 200 000, campaign kept
    L7 06-11 10:05 e6     repeats L6 (e-mail, exactly 2 days)     -> duplicate
    L8 06-13 10:06 e6     2 days 1 minute after L7, no deal       -> missing in CRM
deals created in the period: D1, D2, D4 (W23), D6, DX (W24; DX has no lead, campaign C1,
    won 30 000); D0 (05-31) is outside.
-> leads 9, first requests 6 (all with contacts), duplicates 3, missing in CRM 2 of 6,
   calls without session 2 of 2, deals 5, undetermined 3 of 5, revenue 150 000 of
   380 000 RUB, lost UTM 1 of 2, marketing vs sales gap 9 - 5 = 4;
   weekly: W23 leads 6 deals 3, W24 leads 3 deals 2.
loads: spend 10 in = 8 + 2, visits 5 = 5 + 0, leads 7 != 5 + 1 (unbalanced);
   quarantine rows 2 + 0 + 1 -> 3 of 22 rows, 1 of 3 files unbalanced.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest
from funnel_fixture import fill as fill_funnel_fixture
from sql_oracle import (
    assert_same_frame,
    old_deal_campaigns,
    old_demo_defect_recovery,
    old_lead_checks,
    old_marketing_vs_sales,
    old_spend_visits,
)

from analytics import warehouse
from analytics.demo import generator
from analytics.metrics import quality
from analytics.metrics.period import data_anchor, data_bounds, date_range, parse_period

PERIOD = date_range(date(2025, 6, 2), date(2025, 6, 15))


def insert(con, table: str, rows: list[dict]) -> None:
    """Insert dict rows into a canonical table by column name."""
    frame = pd.DataFrame(rows)
    con.register("rows_to_insert", frame)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM rows_to_insert")
    con.unregister("rows_to_insert")


def visit(visit_id, visitor_id, start, channel, campaign=None, term=None, content=None):
    return {
        "visit_id": visit_id,
        "visitor_id": visitor_id,
        "visit_start": pd.Timestamp(start),
        "channel": channel,
        "utm_campaign": campaign,
        "utm_term": term,
        "utm_content": content,
        "pageviews": 1,
        "duration_s": 10,
        "goal_pricing": False,
    }


def lead(lead_id, created, lead_type="form", visit_id=None, phone=None, email=None, camp=None):
    return {
        "lead_id": lead_id,
        "created_at": pd.Timestamp(created),
        "lead_type": lead_type,
        "visit_id": visit_id,
        "phone_hash": phone,
        "email_hash": email,
        "utm_campaign": camp,
    }


def deal(deal_id, lead_id, created, status, amount=None, campaign=None):
    stage = {"won": "won", "lost": "lost", "open": "mql"}[status]
    return {
        "deal_id": deal_id,
        "lead_id": lead_id,
        "created_at": pd.Timestamp(created),
        "status": status,
        "stage": stage,
        "amount": amount,
        "utm_campaign": campaign,
    }


def spend_row(day, campaign, ad_group, creative):
    return {
        "date": date.fromisoformat(day),
        "channel": "yandex_search",
        "utm_source": "yandex",
        "utm_medium": "cpc",
        "campaign": campaign,
        "ad_group": ad_group,
        "creative": creative,
        "impressions": 100,
        "clicks": 5,
        "cost": 500.0,
    }


def fill(con) -> None:
    warehouse.init_schema(con)
    insert(
        con,
        "visits",
        [
            visit("v1", "a", "2025-06-02 10:00", "yandex_search", "C1", "G1", "K1"),
            visit("v2", "b", "2025-06-03 10:00", "organic"),
            visit("v3", "c", "2025-06-09 10:00", "yandex_search", "C1", "G1", "K2"),
        ],
    )
    insert(
        con,
        "spend",
        [
            spend_row("2025-06-02", "C1", "G1", "K1"),
            spend_row("2025-06-03", "C1", "G1", "K1"),
            spend_row("2025-06-09", "C1", "G1", "K2"),
            spend_row("2025-06-09", "C1", "G2", "K3"),
            spend_row("2025-06-20", "C1", "G1", "K1"),
        ],
    )
    insert(
        con,
        "leads",
        [
            lead("L0", "2025-05-31 09:00", phone="p9"),
            lead("L1", "2025-06-02 10:05", visit_id="v1", phone="p1", email="e1", camp="C1"),
            lead("L9", "2025-06-02 08:00", phone="p9"),
            lead("L2", "2025-06-03 10:05", visit_id="v2", phone="p2"),
            lead("L3", "2025-06-04 10:05", visit_id="v2", phone="p2"),
            lead("L4", "2025-06-05 12:00", "call", phone="p4"),
            lead("L5", "2025-06-06 12:00", "call", visit_id="v_missing", phone="p5"),
            lead("L6", "2025-06-09 10:05", visit_id="v3", phone="p6", email="e6", camp="C1"),
            lead("L7", "2025-06-11 10:05", email="e6"),
            lead("L8", "2025-06-13 10:06", email="e6"),
        ],
    )
    insert(
        con,
        "deals",
        [
            deal("D0", "L0", "2025-05-31 10:00", "won", 999.0),
            deal("D1", "L1", "2025-06-02 11:00", "won", 100_000.0),
            deal("D2", "L2", "2025-06-03 11:00", "won", 50_000.0),
            deal("D4", "L4", "2025-06-05 13:00", "open", 70_000.0),
            deal("D6", "L6", "2025-06-09 11:00", "won", 200_000.0, "C1"),
            deal("DX", None, "2025-06-10 09:00", "won", 30_000.0, "C1"),
        ],
    )
    con.execute(
        """
        INSERT INTO load_log (load_id, loaded_at, target_table, source_file, rows_in,
                              rows_loaded, rows_quarantined) VALUES
          ('load1', TIMESTAMP '2025-06-16 08:00', 'spend', 'spend.csv', 10, 8, 2),
          ('load1', TIMESTAMP '2025-06-16 08:00', 'visits', 'visits.csv', 5, 5, 0),
          ('load1', TIMESTAMP '2025-06-16 08:00', 'leads', 'leads.csv', 7, 5, 1);
        INSERT INTO quarantine VALUES
          ('load1', 'spend', 'spend.csv', 3, 'cost', 'cost: ''-5'' is below the minimum 0', '{}'),
          ('load1', 'spend', 'spend.csv', 7, 'date', 'date: missing required value', '{}'),
          ('load1', 'leads', 'leads.csv', 2, 'cost', 'cost: ''x'' is not a DOUBLE', '{}');
        """
    )


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    fill(connection)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def report(con):
    return quality.quality_report(con, PERIOD)


# --------------------------------------------------------------------------- formatting


def test_format_share_on_the_seed_slide_numbers():
    assert quality.format_share(189, 522) == "189 of 522 (36%)"
    assert (
        quality.format_share(293_740_432.00, 567_703_932.00, money=True)
        == "293,740,432.00 of 567,703,932.00 RUB (52%)"
    )
    assert quality.format_share(237, 935) == "237 of 935 (25%)"
    # 220 / 243 = 90.53%: rounded half up it is 91%, the slide truncates to 90%.
    assert quality.format_share(220, 243) == "220 of 243 (91%)"
    assert quality.format_share(220, 243, rounding="down") == "220 of 243 (90%)"


def test_format_share_edge_cases():
    assert quality.format_share(1, 8) == "1 of 8 (13%)"  # 12.5 goes up, not to even
    assert quality.format_share(0, 0) == "0 of 0 (—)"
    assert quality.format_share(1_500, 3_000, money=True, currency="₽").endswith("₽ (50%)")
    with pytest.raises(ValueError, match="rounding"):
        quality.format_share(1, 2, rounding="bankers")


# --------------------------------------------------------------------------- hand-made


def test_undetermined_campaign_table(con):
    table = quality.undetermined_campaign(quality.deal_campaigns(con, PERIOD))
    assert list(table.index) == ["all", "won", "open"]
    row = table.loc["all"]
    assert (row["deals"], row["undetermined_deals"]) == (5, 3)
    assert row["undetermined_deals_share"] == pytest.approx(60.0)
    assert (row["revenue"], row["undetermined_revenue"]) == (380_000.0, 150_000.0)
    assert row["undetermined_revenue_share"] == pytest.approx(150 / 380 * 100)
    assert row["summary"] == "3 of 5 (60%); 150,000.00 of 380,000.00 RUB (39%)"
    assert table.loc["won", "deals"] == 4
    assert table.loc["open", "undetermined_deals"] == 1
    assert math.isnan(table.loc["open", "undetermined_revenue_share"])


def test_deal_flags(con):
    deals = quality.deal_campaigns(con, PERIOD).set_index("deal_id")
    assert list(deals.index) == ["D1", "D2", "D4", "D6", "DX"]
    assert deals["lost_utm"].to_dict() == {
        "D1": True,
        "D2": False,
        "D4": False,
        "D6": False,
        "DX": False,
    }
    assert deals["lead_tracked_campaign"].sum() == 2


def test_lead_flags(con):
    leads = quality.lead_checks(con, PERIOD).set_index("lead_id")
    assert sorted(leads.index) == ["L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9"]
    duplicates = leads[leads["is_duplicate"]]["duplicate_of"].to_dict()
    assert duplicates == {"L9": "L0", "L3": "L2", "L7": "L6"}
    assert leads.loc["L7", "repeats_email"] and not leads.loc["L7", "repeats_phone"]
    assert sorted(leads.index[leads["missing_in_crm"]]) == ["L5", "L8"]
    assert sorted(leads.index[leads["call_without_session"]]) == ["L4", "L5"]


def test_duplicate_window_is_configurable(con):
    wider = quality.lead_checks(con, PERIOD, duplicate_window=timedelta(days=3))
    assert sorted(wider.loc[wider["is_duplicate"], "lead_id"]) == ["L3", "L7", "L8", "L9"]
    narrower = quality.lead_checks(con, PERIOD, duplicate_window=timedelta(days=1))
    assert sorted(narrower.loc[narrower["is_duplicate"], "lead_id"]) == ["L3"]


def test_spend_without_visits(con):
    spend = quality.spend_visits(con, PERIOD)
    assert len(spend) == 4
    missing = spend[~spend["has_visits"]]
    assert list(zip(missing["date"].astype(str), missing["ad_group"], strict=True)) == [
        ("2025-06-03", "G1"),
        ("2025-06-09", "G2"),
    ]


def test_marketing_vs_sales_by_week(con):
    weekly = quality.marketing_vs_sales(con, PERIOD)
    assert list(weekly["week"]) == ["2025-W23", "2025-W24"]
    assert list(weekly["leads"]) == [6, 3]
    assert list(weekly["deals"]) == [3, 2]
    assert list(weekly["gap"]) == [3, 1]
    assert weekly["gap_share"].tolist() == pytest.approx([50.0, 100 / 3])
    trend = quality.marketing_vs_sales(con, PERIOD, weeks=3)
    assert list(trend["week"]) == ["2025-W22", "2025-W23", "2025-W24"]
    assert list(trend["leads"]) == [1, 6, 3]  # L0 on Sat 05-31


def test_load_summary_and_reasons(con):
    loads = quality.load_summary(con)
    assert list(loads["target_table"]) == ["spend", "visits", "leads", "TOTAL"]
    assert list(loads["balanced"]) == [True, True, False, False]
    assert list(loads["quarantine_rows"]) == [2, 0, 1, 3]
    reasons = quality.quarantine_reasons(con)
    assert list(zip(reasons["target_table"], reasons["column_name"], strict=True)) == [
        ("leads", "cost"),
        ("spend", "cost"),
        ("spend", "date"),
    ]
    assert reasons["rows"].tolist() == [1, 1, 1]


def test_quality_report_values(report):
    expected = {
        # check: (value, base)
        "undetermined_campaign_deals": (3, 5),
        "undetermined_campaign_revenue": (150_000, 380_000),
        "lost_utm": (1, 2),
        "duplicate_leads": (3, 6),
        "missing_in_crm": (2, 6),
        "calls_without_session": (2, 2),
        "spend_without_visits": (2, 4),
        "marketing_vs_sales": (4, 9),
        "quarantined_rows": (3, 22),
        "unbalanced_files": (1, 3),
    }
    assert list(report.index) == list(quality.CHECKS)
    for check, (value, base) in expected.items():
        assert (report.loc[check, "value"], report.loc[check, "base"]) == (value, base), check
        assert report.loc[check, "share"] == pytest.approx(value / base * 100), check
    assert set(report["status"]) == {"warn"}


def test_status_follows_thresholds(con):
    report = quality.quality_report(
        con, PERIOD, thresholds={"spend_without_visits": 50, "lost_utm": 49.9}
    )
    assert report.loc["spend_without_visits", "status"] == "ok"  # 50% is not above 50%
    assert report.loc["lost_utm", "status"] == "warn"
    with pytest.raises(KeyError, match="unknown check"):
        quality.quality_report(con, PERIOD, thresholds={"nonsense": 1})


def test_report_of_some_checks_reads_only_their_evidence(con, monkeypatch):
    """The hand values of the module docstring for the checks asked for, in the order of
    CHECKS; spend and loads are not read when no check asked for needs them."""
    asked = ["calls_without_session", "lost_utm", "duplicate_leads", "missing_in_crm"]

    def unread(*args, **kwargs):
        raise AssertionError("evidence read for a check not asked for")

    monkeypatch.setattr(quality, "spend_visits", unread)
    monkeypatch.setattr(quality, "load_summary", unread)
    report = quality.quality_report(con, PERIOD, checks=asked)
    assert list(report.index) == [
        "lost_utm",
        "duplicate_leads",
        "missing_in_crm",
        "calls_without_session",
    ]
    assert report[["value", "base"]].to_numpy().tolist() == [[1, 2], [3, 6], [2, 6], [2, 2]]
    assert report["share"].tolist() == [50.0, 50.0, pytest.approx(100 / 3), 100.0]
    gap = quality.quality_report(con, PERIOD, checks=["marketing_vs_sales"])
    assert gap[["value", "base"]].to_numpy().tolist() == [[4, 9]]
    with pytest.raises(KeyError, match="unknown check 'lost_utms'"):
        quality.quality_report(con, PERIOD, checks=["lost_utms"])


def test_demo_defect_recovery_equals_the_old_section_data(con, tiny_warehouse):
    """Once per run, only the four checks: the frame the old per-language section built
    from the whole report (tests/sql_oracle.py), and the generator's injected counts;
    None on a warehouse without ``truth.defects`` (the hand-made one)."""
    tiny = warehouse.connect(tiny_warehouse, read_only=True)
    try:
        new = quality.demo_defect_recovery(tiny)
        pd.testing.assert_frame_equal(new, old_demo_defect_recovery(tiny), check_exact=True)
        assert (new["found"] == new["injected_count"]).all() and new["found"].sum() > 0
    finally:
        tiny.close()
    assert quality.demo_defect_recovery(con) is None
    assert old_demo_defect_recovery(con) is None


def test_empty_period_is_ok():
    connection = duckdb.connect()
    warehouse.init_schema(connection)
    report = quality.quality_report(connection, PERIOD)
    assert (report["value"] == 0).all()
    assert report["share"].isna().all()
    assert set(report["status"]) == {"ok"}
    connection.close()


# --------------------------------------------------------------------------- demo company


def whole_data(con):
    return parse_period("all", data_anchor(con), bounds=data_bounds(con))


def assert_recovers_truth(con):
    report = quality.quality_report(con, whole_data(con))
    defects = con.execute("SELECT * FROM truth.defects").df()
    recovery = quality.defect_recovery(report, defects)
    assert (recovery["found"] == recovery["injected_count"]).all(), recovery
    assert (recovery["found_base"] == recovery["base_count"]).all(), recovery
    assert recovery["found_rate"].to_numpy() == pytest.approx(recovery["injected_rate"].to_numpy())
    assert report.loc["spend_without_visits", "value"] == 0  # demo spend comes from visits
    assert report.loc["quarantined_rows", "value"] == 0
    assert report.loc["unbalanced_files", "value"] == 0
    return recovery


def test_tiny_demo_defects_are_recovered_exactly(tiny_warehouse):
    con = warehouse.connect(tiny_warehouse, read_only=True)
    try:
        recovery = assert_recovers_truth(con)
        assert recovery["found"].sum() > 0
    finally:
        con.close()


@pytest.fixture(scope="module")
def defect_rich_warehouse(tmp_path_factory):
    """A small demo company with high defect rates (hundreds of duplicates)."""
    data = generator.generate(
        size="tiny",
        seed=11,
        visits=30_000,
        duplicate_rate=0.3,
        missing_in_crm_rate=0.15,
        call_without_session_rate=0.3,
    )
    raw = generator.write_raw(data, tmp_path_factory.mktemp("rich") / "raw")
    path = tmp_path_factory.mktemp("rich_wh") / "warehouse.duckdb"
    con = warehouse.connect(path)
    try:
        warehouse.load_raw_dir(con, raw, salt="test-salt")
    finally:
        con.close()
    return path


def test_high_defect_rates_are_recovered_exactly(defect_rich_warehouse):
    con = warehouse.connect(defect_rich_warehouse, read_only=True)
    try:
        recovery = assert_recovers_truth(con)
        assert recovery.loc["duplicate_lead", "found"] >= 20
    finally:
        con.close()


@pytest.fixture(scope="module")
def window_free_checks() -> dict:
    """The frames of ``test_ibis_checks_equal_the_old_sql`` that do not depend on its
    duplicate window (deal campaigns, spend x visits, marketing vs sales: new and frozen),
    per warehouse and period: computed by the first window's case, compared again by
    every case (the same data each time; ~2/3 of the test's Ibis compiles)."""
    return {}


@pytest.mark.parametrize("window", [timedelta(days=2), timedelta(hours=47, seconds=30), None])
def test_ibis_checks_equal_the_old_sql(
    con, tiny_warehouse, defect_rich_warehouse, window, window_free_checks
):
    """deal_campaigns, lead_checks, spend_visits and marketing_vs_sales (Ibis) give the
    columns, order, dtypes and values of the DuckDB SQL they replaced (tests/sql_oracle.py)
    on this module's warehouse, the funnel fixture, the tiny demo and the defect-rich one."""
    window = window or timedelta(days=400)
    fixture = duckdb.connect()
    fill_funnel_fixture(fixture)
    tiny = duckdb.connect(str(tiny_warehouse), read_only=True)
    rich = duckdb.connect(str(defect_rich_warehouse), read_only=True)
    try:
        cases = [
            (con, date_range(date(2025, 6, 2), date(2025, 6, 15))),
            (fixture, date_range(date(2025, 6, 2), date(2025, 6, 8))),
        ]
        for db in (tiny, rich):
            cases.append((db, parse_period("all", data_anchor(db), bounds=data_bounds(db))))
        for name, (db, period) in zip(["con", "fixture", "tiny", "rich"], cases, strict=True):
            if (name, period) not in window_free_checks:
                window_free_checks[name, period] = {
                    "deals": (quality.deal_campaigns(db, period), old_deal_campaigns(db, period)),
                    "spend": (quality.spend_visits(db, period), old_spend_visits(db, period)),
                    "weekly": (
                        quality.marketing_vs_sales(db, period, weeks=12),
                        old_marketing_vs_sales(db, period, weeks=12),
                    ),
                }
            free = window_free_checks[name, period]
            checks = {
                "deals": free["deals"],
                "leads": (
                    quality.lead_checks(db, period, window),
                    old_lead_checks(db, period, window),
                ),
                "spend": free["spend"],
                "weekly": free["weekly"],
            }
            for new, old in checks.values():
                assert len(new) > 0
                assert_same_frame(new, old)
        leads = checks["leads"][0]
        assert leads["is_duplicate"].any() and leads["duplicate_of"].notna().any()
        assert leads["missing_in_crm"].any() and leads["call_without_session"].any()
    finally:
        for db in (fixture, tiny, rich):
            db.close()
