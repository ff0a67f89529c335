"""The run's mart of the leads' visits (analytics.metrics.lead_visit_mart, design note 54).

Hand-made warehouse: tests/funnel_fixture.py plus these rows (W23 = 2025-06-02..08):

visits   u1 06-03 paid_search C1 / G1 / K1 (visitor xu1)
         u2 06-04 paid_search C1 / G1 / "" and u2 again 06-04 09:00 (a repeated id: both
         rows kept by the mart; the same visitor, channel and UTM, an earlier start)
         n1 06-04 paid_social C9, n2 06-05 organic: no lead points to them
leads    M1 06-03 visit u1 -> E1 won 06-03 (1 000); M3 06-04 visit u2, no deal

So the mart holds the rows of v0 v1 v3 v4 v5 v7 (funnel_fixture's leads L0-L7 point to
them; L4 has no visit, L6's v_missing is not in ``visits``), u1 and both u2 rows: 9 rows;
v2, v6, v8, v9, n1, n2 are left out.

Each page's queries that look up a lead's visit give exactly the frames of the old code
(``sql_oracle.old_visits_of_leads``: ``visits`` itself) with the mart attached on this
warehouse (whose rows hold the edge cases: a repeated visit id, a lead whose visit is
missing, visits no lead points to), the snapshot's campaign figures included; on the
tiny demo, 07's, 04's, 06's and 08's queries. The other pages' look-ups were compared on
the tiny demo too when the mart came in, and the whole ``metrics.json`` of the 10M
warehouse by hand: identical (design note 54); that comparison is not repeated in every
run of the suite, whose time budget it would cost ~5 CPU-s.
"""

from __future__ import annotations

import importlib
from datetime import timedelta

import duckdb
import pandas as pd
import pytest
import sql_oracle
from funnel_fixture import build_warehouse

from analytics.metrics import abtest, quality
from analytics.metrics.cohorts import cohort_funnels
from analytics.metrics.definitions import (
    Definitions,
    lead_flags,
    load_definitions,
)
from analytics.metrics.drilldown import campaign_weekly, drilldown_tables
from analytics.metrics.funnel import funnel_by_channel
from analytics.metrics.influence import influence
from analytics.metrics.journeys import build_paths
from analytics.metrics.lead_visit_mart import (
    MART_FILE,
    attach_lead_visits,
    write_lead_visits,
)
from analytics.metrics.period import data_anchor, iso_week, parse_period
from analytics.metrics.segments import segment_leads
from analytics.transforms import (
    LEAD_VISIT_COLUMNS,
    LEAD_VISITS_MART,
    campaign_figures,
    duckdb_backend,
)
from analytics.transforms.stitching import visits_of_leads

W23 = iso_week(2025, 23)
SHIPPED = load_definitions()
RULES = Definitions(mql_method="rules", rules=SHIPPED.rules, non_target=SHIPPED.non_target)
"""The MQL rules (their behaviour window reads the visits of each lead's visitor)."""


def _extra_rows(con) -> None:
    visits = [
        ("u1", "xu1", "2025-06-03 10:00:00", "paid_search", "C1", "G1", "K1"),
        ("u2", "xu2", "2025-06-04 10:00:00", "paid_search", "C1", "G1", ""),
        ("u2", "xu2", "2025-06-04 09:00:00", "paid_search", "C1", "G1", ""),
        ("n1", "xn1", "2025-06-04 11:00:00", "paid_social", "C9", "G9", "K9"),
        ("n2", "xn2", "2025-06-05 11:00:00", "organic", None, None, None),
    ]
    for visit_id, visitor, start, channel, campaign, term, content in visits:
        con.execute(
            "INSERT INTO visits (visit_id, visitor_id, visit_start, channel, utm_source,"
            " utm_campaign, utm_term, utm_content, pageviews, duration_s, goal_pricing, device)"
            " VALUES (?, ?, ?::TIMESTAMP, ?, 'src', ?, ?, ?, 4, 30, true, 'mobile')",
            [visit_id, visitor, start, channel, campaign, term, content],
        )
    for lead_id, created, visit_id in [
        ("M1", "2025-06-03 10:05:00", "u1"),
        ("M3", "2025-06-04 10:05:00", "u2"),
    ]:
        con.execute(
            "INSERT INTO leads (lead_id, created_at, lead_type, visitor_id, visit_id, phone_hash)"
            " VALUES (?, ?::TIMESTAMP, 'form', ?, ?, 'p')",
            [lead_id, created, f"x{visit_id}", visit_id],
        )
    con.execute(
        "INSERT INTO deals (deal_id, lead_id, created_at, status, stage, amount, closed_at)"
        " VALUES ('E1', 'M1', '2025-06-03 11:00:00', 'won', 'won', 1000.0,"
        " '2025-06-03 14:00:00')"
    )
    for stage in ("new", "mql", "sql", "won"):
        con.execute(
            "INSERT INTO deal_stages VALUES ('E1', ?, '2025-06-03 11:00:00'::TIMESTAMP)", [stage]
        )
    con.execute(
        "INSERT INTO spend (date, channel, utm_source, utm_medium, campaign, ad_group,"
        " creative, impressions, clicks, cost)"
        " VALUES ('2025-06-03', 'paid_search', 'src', 'cpc', 'C1', 'G1', 'K1', 100, 5, 100.5)"
    )


@pytest.fixture(scope="module")
def hand_file(tmp_path_factory):
    path = build_warehouse(tmp_path_factory.mktemp("hand") / "warehouse.duckdb")
    con = duckdb.connect(str(path))
    try:
        _extra_rows(con)
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def hand_mart(hand_file, tmp_path_factory):
    return write_lead_visits(hand_file, tmp_path_factory.mktemp("hand_marts"))


@pytest.fixture(scope="module")
def tiny_mart(tiny_warehouse, tmp_path_factory):
    return write_lead_visits(tiny_warehouse, tmp_path_factory.mktemp("tiny_marts"))


def _open(path, mart):
    con = duckdb.connect(str(path), read_only=True)
    attach_lead_visits(con, mart)
    return con


@pytest.fixture
def old_code(monkeypatch):
    """Run the library as before the mart: ``visits_of_leads`` = every visit."""

    def use():
        for name in sql_oracle.LEAD_VISIT_MODULES:
            module = importlib.import_module(name)
            monkeypatch.setattr(module, "visits_of_leads", sql_oracle.old_visits_of_leads)

    return use


def test_the_mart_holds_every_row_of_the_visits_leads_point_to(hand_file, hand_mart):
    """9 rows by hand (module docstring): both rows of the repeated u2, no row of a visit
    no lead points to; the columns typed as in ``visits``."""
    assert hand_mart.name == MART_FILE
    con = _open(hand_file, hand_mart)
    try:
        mart = con.execute(f"SELECT * FROM {LEAD_VISITS_MART}").df()
        assert sorted(mart["visit_id"]) == sorted(
            ["v0", "v1", "v3", "v4", "v5", "v7", "u1", "u2", "u2"]
        )
        assert sorted(mart.loc[mart.visit_id == "u2", "visit_start"].astype(str)) == [
            "2025-06-04 09:00:00",
            "2025-06-04 10:00:00",
        ]
        described = {r[0]: r[1] for r in con.execute(f"DESCRIBE {LEAD_VISITS_MART}").fetchall()}
        in_visits = {r[0]: r[1] for r in con.execute("DESCRIBE visits").fetchall()}
        assert list(described) == list(LEAD_VISIT_COLUMNS)
        assert described == {c: in_visits[c] for c in LEAD_VISIT_COLUMNS}
        # the same rows as pandas picks from the whole tables
        visits = con.execute("SELECT * FROM visits").df()
        leads = con.execute("SELECT visit_id FROM leads").df()
        expected = visits[visits.visit_id.isin(leads.visit_id.dropna())][list(LEAD_VISIT_COLUMNS)]
        key = ["visit_id", "visit_start"]
        pd.testing.assert_frame_equal(
            mart.sort_values(key).reset_index(drop=True),
            expected.sort_values(key).reset_index(drop=True),
            check_exact=True,
        )
    finally:
        con.close()


def test_without_the_mart_the_lookups_read_visits(hand_file, hand_mart):
    """A connection without the mart (a notebook opened by hand) reads ``visits``: the old
    query; with it, the mart."""
    plain = duckdb.connect(str(hand_file), read_only=True)
    attached = _open(hand_file, hand_mart)
    try:
        attach_lead_visits(plain, None)  # a notebook opened by hand: nothing attached
        with duckdb_backend(plain) as backend:
            assert visits_of_leads(backend).get_name() == "visits"
        with duckdb_backend(attached) as backend:
            assert visits_of_leads(backend).get_name() == LEAD_VISITS_MART
    finally:
        plain.close()
        attached.close()


def _frames(con, period):
    """One metric per changed look-up, as the pages call them: the lead flags (the
    facts' visit), the funnel by channel (the stitched leads), the segments, the
    data checks' sessions, the drill-down (its places) and the weekly campaigns; the
    snapshot's campaign figures in the snapshot test below."""
    return {
        "lead_flags_rules": lead_flags(con, period, RULES),
        "funnel_by_channel": funnel_by_channel(con, period),
        "segment_leads": segment_leads(con, period),
        "lead_checks": quality.lead_checks(con, period),
        "campaign_weekly": campaign_weekly(con, period),
        **{f"drilldown_{k}": v for k, v in drilldown_tables(con, period).items()},
        "campaign_figures": _campaign_figures(con, period),
    }


def _campaign_figures(con, period):
    """The snapshot's ``campaigns`` query (the won deals' leads' places) for the period
    and the week before."""
    windows = [
        (period.start, period.end_exclusive),
        (period.start - timedelta(days=7), period.start),
    ]
    with duckdb_backend(con) as backend:
        return backend.execute(campaign_figures(backend, windows))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a stable order (an unordered query's rows come in any order)."""
    named = frame.index.name is not None or isinstance(frame.index, pd.MultiIndex)
    frame = frame.reset_index(drop=not named)
    cols = [c for c in frame.columns if frame[c].map(lambda v: not isinstance(v, list)).all()]
    return frame.sort_values(cols, kind="stable").reset_index(drop=True) if cols else frame


def _compare(con, period, old_code):
    new = _frames(con, period)
    old_code()
    old = _frames(con, period)
    for name in new:
        pd.testing.assert_frame_equal(_sorted(new[name]), _sorted(old[name]), check_exact=True)
    return new


def test_every_lookup_equals_the_old_code_on_the_hand_warehouse(hand_file, hand_mart, old_code):
    """W23: the same frames with the mart as with ``visits`` (the old code); the hand
    figures of the week show the lookups found the visits: paid_search's spend 15 000 +
    100.5 (funnel_fixture + u1's ad), M1's channel paid_search and campaign C1."""
    con = _open(hand_file, hand_mart)
    try:
        new = _compare(con, W23, old_code)
    finally:
        con.close()
    flags = new["lead_flags_rules"].set_index("lead_id")
    assert (flags.loc["M1", "channel"], flags.loc["M1", "campaign"]) == ("paid_search", "C1")
    assert flags.loc["L6", "channel"] == "undetermined"  # its visit is not in visits
    assert new["funnel_by_channel"].set_index("channel").loc["paid_search", "spend"] == 15_100.5
    checks = new["lead_checks"].set_index("lead_id")
    assert checks.loc["L6", "has_session"] == False  # noqa: E712
    assert checks.loc["M3", "has_session"] == True  # noqa: E712


def test_ab_arms_and_cohorts_equal_the_old_code_on_the_tiny_demo(
    tiny_warehouse, tiny_mart, old_code
):
    """07's arm counts (the lead flags of the test's weeks), 04's cohorts (the stitched
    leads), 06's paths and 08's influence (the stitched visitors)."""
    con = _open(tiny_warehouse, tiny_mart)
    try:
        anchor = data_anchor(con)
        period = parse_period("last-week", anchor)
        test = abtest.trailing_weeks(period, 26)

        def frames():
            return [
                abtest.arm_counts(con, test, "yd_search_generic", "generic_crm", "creative"),
                *cohort_funnels(con, [(period, "week")]),
                build_paths(con, "sale", lookback_days=30, period=period).paths,
                influence(con, period, level="ad_group"),
            ]

        new = frames()
        old_code()
        old = frames()
        assert new[0]["visits"].sum() > 0
        for a, b in zip(new, old, strict=True):
            pd.testing.assert_frame_equal(_sorted(a), _sorted(b), check_exact=True)
    finally:
        con.close()
