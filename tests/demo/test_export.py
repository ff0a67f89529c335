"""Tests for :mod:`analytics.demo.export`: the demo company as vendor exports, loaded back.

Loading the vendor files through the adapters must reproduce the warehouse
loaded from the generator's canonical files row for row (same rows, same
values, same PII hashes); VK Ads spend, which has no vendor adapter, travels
as a canonical ``spend`` CSV.
"""

from __future__ import annotations

import pandas as pd
import pytest
from tiny_demo import TEST_SALT as SALT  # the salt of the session fixture `tiny_warehouse`

from analytics import warehouse as wh
from analytics.demo import export, generator
from analytics.sources.linkage import stitch

KEYS = {
    "spend": "date, campaign, ad_group, creative",
    "visits": "visit_id",
    "leads": "lead_id",
    "deals": "deal_id",
    "deal_stages": "deal_id, stage",
}


@pytest.fixture(scope="module")
def vendor_warehouse(tiny_demo, tmp_path_factory):
    """Warehouse loaded from the tiny demo company's vendor exports, and the load results."""
    files = export.write_vendor_exports(tiny_demo, tmp_path_factory.mktemp("vendor"))
    con = wh.connect(tmp_path_factory.mktemp("vendor_wh") / "warehouse.duckdb")
    results = export.load_vendor_exports(con, files, salt=SALT)
    yield con, files, results
    con.close()


@pytest.fixture(scope="module")
def canonical(tiny_warehouse):
    con = wh.connect(tiny_warehouse, read_only=True)
    yield con
    con.close()


def test_files_are_written_in_the_vendor_formats(vendor_warehouse):
    _, files, _ = vendor_warehouse
    kinds = ["direct", "google_ads", "spend", "metrica", "calls", "amocrm", "amocrm_stages"]
    assert list(files) == kinds
    vk = files["spend"].read_text().splitlines()
    assert (
        vk[0]
        == "date,channel,utm_source,utm_medium,campaign,ad_group,creative,impressions,clicks,cost"
    )
    assert vk[1].split(",")[1] == "vk_ads"
    amo = files["amocrm"].read_bytes()
    assert amo.decode("cp1251").startswith("ID;Название сделки;Бюджет;")
    assert "\u00a0400,00".encode("cp1251") in amo  # e.g. 447 400,00 with a no-break space
    assert files["calls"].read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    direct = files["direct"].read_text().splitlines()
    assert direct[1].startswith("Date\tCampaignName") and direct[-1].startswith("Total rows: ")
    assert files["metrica"].read_text().startswith("ym:s:visitID\tym:s:counterID\tym:s:clientID")


def test_every_row_loads_and_reconciles(vendor_warehouse, tiny_demo):
    con, _, results = vendor_warehouse
    assert [r.rows_quarantined for r in results] == [0] * len(export.FILES)
    rows = {}
    for r in results:
        rows[r.table] = rows.get(r.table, 0) + r.rows_loaded
    tables = tiny_demo.tables
    assert rows == {
        "spend": len(tables["spend"]),
        "visits": len(tables["visits"]),
        "leads": len(tables["leads"]),
        "deals": len(tables["deals"]),
        "deal_stages": len(tables["deal_stages"]),
    }
    assert wh.reconciliation(con)["balanced"].all()


@pytest.mark.parametrize("table", list(KEYS))
def test_vendor_load_reproduces_the_canonical_warehouse(vendor_warehouse, canonical, table):
    con, _, _ = vendor_warehouse
    expected = canonical.execute(f"SELECT * FROM {table} ORDER BY {KEYS[table]}").df()
    loaded = con.execute(f"SELECT * FROM {table} ORDER BY {KEYS[table]}").df()
    pd.testing.assert_frame_equal(loaded, expected, check_dtype=False)


def test_key_aggregates_match(vendor_warehouse, canonical):
    con, _, _ = vendor_warehouse
    queries = [
        "SELECT channel, count(*), round(sum(cost), 2), sum(clicks) FROM spend "
        "GROUP BY 1 ORDER BY 1",
        "SELECT channel, count(*), sum(pageviews), count(*) FILTER (goal_pricing) FROM visits "
        "GROUP BY 1 ORDER BY 1",
        "SELECT lead_type, count(*), count(phone_hash), count(visit_id) FROM leads "
        "GROUP BY 1 ORDER BY 1",
        "SELECT status, count(*), round(sum(amount), 2) FROM deals GROUP BY 1 ORDER BY 1",
    ]
    for query in queries:
        assert con.execute(query).fetchall() == canonical.execute(query).fetchall()


def test_stitching_recovers_the_injected_defects(vendor_warehouse, tiny_demo):
    con, _, _ = vendor_warehouse
    truth = tiny_demo.truth["lead_truth"]
    summary = stitch(con).set_index(["link", "segment"])
    no_session = int(truth["call_without_session"].sum())
    assert summary.loc[("lead_to_visit", "call"), "unmatched"] == no_session
    assert summary.loc[("lead_to_visit", "all"), "unmatched"] == no_session
    assert summary.loc[("deal_to_lead", "all"), "matched_by_id"] == len(tiny_demo.tables["deals"])
    # a lead reaches no deal when its original request is missing from the CRM
    original = truth[~truth["is_duplicate"]]
    missing = set(original.loc[~original["in_crm"], "lead_id"])
    duplicates = truth[truth["is_duplicate"]]
    expected_unmatched = len(missing) + int(duplicates["duplicate_of"].isin(missing).sum())
    row = summary.loc[("lead_to_deal", "all")]
    assert row["unmatched"] == expected_unmatched
    assert row["matched_by_fallback"] == int((~duplicates["duplicate_of"].isin(missing)).sum())


def test_amocrm_export_carries_the_profile_answers_as_custom_fields(vendor_warehouse, tiny_demo):
    """The lead form's answers land in the deal's custom fields, as amoCRM keeps them."""
    _, files, _ = vendor_warehouse
    amo = pd.read_csv(files["amocrm"], sep=";", encoding="cp1251", dtype=str, keep_default_na=False)
    leads = generator.profile_answers(tiny_demo)
    for field, label in export.AMOCRM_PROFILE_FIELDS.items():
        expected = amo["ID заявки"].map(leads[field])
        answered = expected.notna().to_numpy()
        assert answered.any() and not answered.all(), field
        assert (amo.loc[answered, label].astype(int) == expected[answered].astype(int)).all()
        assert (amo.loc[~answered, label] == "").all(), field
