"""Tests for analytics.metrics.definitions: the yaml, its validation and the MQL / SQL flags.

Hand-made leads of 2025-06-01 .. 2025-06-07 (rules: industries IT, Финансы, Производство;
sizes 11-50, 51-250, 251-1000; pricing page or >= 8 pageviews within 30 days):

lead  contact  industry/size        visits before the lead (pv, pricing)   deal (history)
L1    phone    IT / 51-250          a: 3 + 6 = 9 pv                         D1 new mql sql
L2    email    Финансы / 11-50      b: pricing                              D2 new, lost «Нецелевой»
L3    phone    IT / 1-10            c: 1 pv (20 pv + pricing 63 days ago)   D3 new, now demo
L4    none     IT / 51-250          d: 2 pv (30 pv + pricing after it)      --
L5    phone    Производство / 251+  no visitor (call, no session)           D5 new mql lost «Дорого»
L6    phone    (none) / 11-50       e: 8 pv                                 --
L0    phone    IT / 51-250          outside the period                     D0 new mql sql

CRM stages: MQL = L1 L3 L5, SQL = L1 L3.
Rules: contact L1 L2 L3 L5 L6; ICP L1 L2 L4 L5; behaviour L1 L2 L6 -> MQL = L1 L2, SQL = L1.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from funnel_fixture import fill
from sql_oracle import assert_same_frame, old_lead_flags

from analytics.demo import generator
from analytics.metrics.definitions import (
    DEFAULT_DEFINITIONS,
    DEFINITIONS_FILE,
    Definitions,
    DefinitionsError,
    definitions_from_dict,
    flag_counts,
    lead_flags,
    load_definitions,
)
from analytics.metrics.funnel import funnel_summary
from analytics.metrics.period import data_anchor, data_bounds, date_range, parse_period
from analytics.warehouse.schema import CANONICAL

PERIOD = date_range(date(2025, 6, 1), date(2025, 6, 7))

VISITS = [
    # visit_id, visitor_id, start, pageviews, pricing
    ("va1", "a", "2025-06-01 10:00", 3, False),
    ("va2", "a", "2025-06-02 10:00", 6, False),
    ("vb1", "b", "2025-06-02 11:00", 2, True),
    ("vc_old", "c", "2025-04-01 09:00", 20, True),
    ("vc1", "c", "2025-06-03 09:00", 1, False),
    ("vd1", "d", "2025-06-03 12:00", 2, False),
    ("vd_after", "d", "2025-06-04 12:00", 30, True),
    ("ve1", "e", "2025-06-04 10:00", 8, False),
    ("vx", "x", "2025-05-10 10:00", 9, True),
]
LEADS = [
    # lead_id, created_at, visitor, visit, phone_hash, email_hash, industry, size
    ("L0", "2025-05-10 10:05", "x", "vx", "p0", None, "IT", "51-250"),
    ("L1", "2025-06-02 10:05", "a", "va2", "p1", None, "IT", "51-250"),
    ("L2", "2025-06-02 11:05", "b", "vb1", None, "e2", "Финансы", "11-50"),
    ("L3", "2025-06-03 09:05", "c", "vc1", "p3", None, "IT", "1-10"),
    ("L4", "2025-06-03 12:05", "d", "vd1", None, None, "IT", "51-250"),
    ("L5", "2025-06-04 08:00", None, None, "p5", None, "Производство", "251-1000"),
    ("L6", "2025-06-04 10:05", "e", "ve1", "p6", None, None, "11-50"),
]
DEALS = [
    # deal_id, lead_id, status, stage, loss_reason, history
    ("D0", "L0", "open", "sql", None, ("new", "mql", "sql")),
    ("D1", "L1", "open", "sql", None, ("new", "mql", "sql")),
    ("D2", "L2", "lost", "lost", "Нецелевой", ("new", "lost")),
    ("D3", "L3", "open", "demo", None, ("new",)),
    ("D5", "L5", "lost", "lost", "Дорого", ("new", "mql", "lost")),
]
RULES = {
    "mql": {
        "method": "rules",
        "rules": {
            "require_contact": True,
            "icp": {
                "industries": ["IT", "Финансы", "Производство"],
                "company_sizes": ["11-50", "51-250", "251-1000"],
            },
            "behaviour": {"pricing_page": True, "min_pageviews": 8, "lookback_days": 30},
        },
    }
}


def _build(con) -> None:
    for table in CANONICAL.values():
        con.execute(table.ddl())
    for visit_id, visitor, start, pageviews, pricing in VISITS:
        con.execute(
            "INSERT INTO visits (visit_id, visitor_id, visit_start, channel, pageviews,"
            " duration_s, goal_pricing) VALUES (?, ?, ?, 'organic', ?, 60, ?)",
            [visit_id, visitor, start, pageviews, pricing],
        )
    for lead_id, created, visitor, visit, phone, email, industry, size in LEADS:
        con.execute(
            "INSERT INTO leads (lead_id, created_at, lead_type, visitor_id, visit_id, phone_hash,"
            " email_hash, industry, company_size) VALUES (?, ?, 'form', ?, ?, ?, ?, ?, ?)",
            [lead_id, created, visitor, visit, phone, email, industry, size],
        )
    created = {lead[0]: lead[1] for lead in LEADS}
    for deal_id, lead_id, status, stage, reason, history in DEALS:
        con.execute(
            "INSERT INTO deals (deal_id, lead_id, created_at, status, stage, loss_reason)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [deal_id, lead_id, created[lead_id], status, stage, reason],
        )
        for hours, step in enumerate(history):
            con.execute(
                "INSERT INTO deal_stages VALUES (?, ?, ?::TIMESTAMP + to_hours(?))",
                [deal_id, step, created[lead_id], hours + 1],
            )


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    _build(connection)
    yield connection
    connection.close()


def _ids(flags, column: str) -> list[str]:
    return sorted(flags.loc[flags[column], "lead_id"])


# --------------------------------------------------------------------------- flags


def test_default_definitions_are_the_crm_stages(con):
    flags = lead_flags(con, PERIOD)
    assert list(flags["lead_id"]) == ["L1", "L2", "L3", "L4", "L5", "L6"]
    assert _ids(flags, "is_mql") == ["L1", "L3", "L5"]
    assert _ids(flags, "is_sql") == ["L1", "L3"]
    assert _ids(flags, "is_non_target") == ["L2"]
    reached = flags.set_index("lead_id")["reached_stage"]
    assert reached.dropna().to_dict() == {"L1": "sql", "L2": "new", "L3": "demo", "L5": "mql"}
    assert sorted(reached[reached.isna()].index) == ["L4", "L6"]


def test_default_flags_agree_with_funnel(con):
    counts = flag_counts(lead_flags(con, PERIOD))
    funnel = funnel_summary(con, PERIOD).iloc[0]
    assert (counts["leads"], counts["mql"], counts["sql_leads"]) == (
        funnel["leads"],
        funnel["mql"],
        funnel["sql_leads"],
    )


def test_rule_criteria_by_hand(con):
    flags = lead_flags(con, PERIOD, definitions_from_dict(RULES))
    assert _ids(flags, "has_contact") == ["L1", "L2", "L3", "L5", "L6"]
    assert _ids(flags, "icp_fit") == ["L1", "L2", "L4", "L5"]
    assert _ids(flags, "behaviour_fit") == ["L1", "L2", "L6"]
    pageviews = dict(zip(flags["lead_id"], flags["pageviews_before"], strict=True))
    assert pageviews == {"L1": 9, "L2": 2, "L3": 1, "L4": 2, "L5": 0, "L6": 8}
    assert _ids(flags, "is_mql") == ["L1", "L2"]
    assert _ids(flags, "is_sql") == ["L1"]


def test_rules_with_crm_stage_required(con):
    rules = {"mql": {**RULES["mql"], "rules": {**RULES["mql"]["rules"], "require_crm_stage": True}}}
    flags = lead_flags(con, PERIOD, definitions_from_dict(rules))
    assert _ids(flags, "is_mql") == ["L1"]


def test_icp_by_crm_stage(con):
    rules = {
        "mql": {
            "method": "rules",
            "rules": {"icp": {"crm_stage": "sql"}, "behaviour": {"min_pageviews": 8}},
        }
    }
    flags = lead_flags(con, PERIOD, definitions_from_dict(rules))
    assert _ids(flags, "icp_fit") == ["L1", "L3"]
    assert _ids(flags, "is_mql") == ["L1"]


def test_behaviour_switches_and_lookback(con):
    pricing_only = {"mql": {"method": "rules", "rules": {"behaviour": {"pricing_page": True}}}}
    flags = lead_flags(con, PERIOD, definitions_from_dict(pricing_only))
    assert _ids(flags, "behaviour_fit") == ["L2"]
    off = {"mql": {"method": "rules", "rules": {"behaviour": {"pricing_page": False}}}}
    flags = lead_flags(con, PERIOD, definitions_from_dict(off))
    assert flags["behaviour_fit"].all()
    # no ICP lists: contact alone decides
    assert _ids(flags, "is_mql") == ["L1", "L2", "L3", "L5", "L6"]
    long = {"mql": {"method": "rules", "rules": {"behaviour": {"lookback_days": 90}}}}
    flags = lead_flags(con, PERIOD, definitions_from_dict(long))
    assert "L3" in _ids(flags, "behaviour_fit")  # the visit of 63 days ago counts now


def test_sql_stage_is_configurable(con):
    flags = lead_flags(con, PERIOD, definitions_from_dict({"sql": {"crm_stage": "demo"}}))
    assert _ids(flags, "is_sql") == ["L3"]


def test_flags_on_the_tiny_demo_agree_with_funnel(tiny_warehouse):
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        period = parse_period("all", data_anchor(con), bounds=data_bounds(con))
        flags = lead_flags(con, period)
        funnel = funnel_summary(con, period).iloc[0]
        counts = flag_counts(flags)
        assert counts["mql"] == funnel["mql"] and counts["sql_leads"] == funnel["sql_leads"]
        (non_target,) = con.execute(
            "SELECT count(DISTINCT lead_id) FROM deals WHERE loss_reason = ?",
            [generator.LOSS_NON_TARGET],
        ).fetchone()
        assert counts["non_target"] == non_target
        rules = lead_flags(con, period, Definitions(mql_method="rules"))
        assert (rules["is_sql"] <= rules["is_mql"]).all()
    finally:
        con.close()


# --------------------------------------------------------------------------- Ibis = old SQL

PORT_DEFINITIONS = {
    "crm": DEFAULT_DEFINITIONS,
    "rules_shipped": None,  # params/definitions.yaml switched to rules, see below
    "rules_defaults": Definitions(mql_method="rules"),
    "rules_icp_by_stage": definitions_from_dict(
        {"mql": {"method": "rules", "rules": {"icp": {"crm_stage": "sql"}}}}
    ),
    "rules_pageviews_only_with_crm": definitions_from_dict(
        {
            "mql": {
                "method": "rules",
                "crm_stage": "new",
                "rules": {
                    "require_contact": False,
                    "require_crm_stage": True,
                    "icp": {"industries": ["IT"]},
                    "behaviour": {"pricing_page": False, "min_pageviews": 3, "lookback_days": 1},
                },
            },
            "sql": {"crm_stage": "demo"},
        }
    ),
    "rules_no_behaviour": definitions_from_dict(
        {"mql": {"method": "rules", "rules": {"behaviour": {"pricing_page": False}}}}
    ),
}


def _port_definitions(name: str) -> Definitions:
    if name == "rules_shipped":
        shipped = load_definitions()
        return Definitions(
            mql_method="rules",
            mql_stage=shipped.mql_stage,
            rules=shipped.rules,
            sql_stage=shipped.sql_stage,
            non_target=shipped.non_target,
        )
    return PORT_DEFINITIONS[name]


@pytest.mark.parametrize("name", list(PORT_DEFINITIONS))
def test_ibis_flags_equal_the_old_sql(con, tiny_warehouse, name):
    """lead_flags (Ibis) gives the columns, order, dtypes and values of the DuckDB SQL it
    replaced (tests/sql_oracle.py), on this module's leads, on the funnel fixture's
    week and on the whole tiny demo year."""
    definitions = _port_definitions(name)
    fixture = duckdb.connect()
    fill(fixture)
    tiny = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        tiny_period = parse_period("all", data_anchor(tiny), bounds=data_bounds(tiny))
        for db, period in (
            (con, PERIOD),
            (fixture, date_range(date(2025, 6, 2), date(2025, 6, 8))),
            (tiny, tiny_period),
        ):
            new = lead_flags(db, period, definitions)
            old = old_lead_flags(db, period, definitions)
            assert len(new) > 0
            assert_same_frame(new, old)
        # the tiny year has leads on both sides of the MQL and SQL lines
        assert 0 < new["is_sql"].sum() <= new["is_mql"].sum() < len(new)
    finally:
        fixture.close()
        tiny.close()


# --------------------------------------------------------------------------- the yaml


def test_shipped_yaml_loads_and_defaults_to_crm_stages():
    loaded = load_definitions()
    assert loaded.source == str(DEFINITIONS_FILE)
    assert (loaded.mql_method, loaded.mql_stage, loaded.sql_stage) == ("crm", "mql", "sql")
    assert loaded.non_target.loss_reasons == (generator.LOSS_NON_TARGET,)
    assert DEFAULT_DEFINITIONS.non_target.loss_reasons == (generator.LOSS_NON_TARGET,)
    assert loaded.rules.min_pageviews == 8 and loaded.rules.industries
    assert any("MQL" in line for line in loaded.describe())


def test_rules_description_lists_every_criterion():
    text = " ".join(definitions_from_dict(RULES).describe())
    assert "phone or e-mail" in text and "IT" in text and "≥ 8 pageviews" in text


def test_missing_keys_fall_back_to_defaults():
    assert definitions_from_dict({}) == Definitions(source="<dict>")
    assert definitions_from_dict(None).mql_method == "crm"


@pytest.mark.parametrize(
    ("data", "key", "problem"),
    [
        ({"mql": {"methd": "crm"}}, "mql.methd", "unknown key"),
        ({"mgl": {}}, "mgl", "unknown key"),
        ({"mql": {"method": "score"}}, "mql.method", "must be one of crm, rules"),
        ({"mql": {"crm_stage": "qualified"}}, "mql.crm_stage", "must be a CRM stage"),
        ({"sql": {"crm_stage": "lost"}}, "sql.crm_stage", "must be a CRM stage"),
        ({"mql": []}, "mql", "must be a mapping"),
        (
            {"mql": {"rules": {"behaviour": {"min_pageviews": 0}}}},
            "mql.rules.behaviour.min_pageviews",
            "positive integer",
        ),
        (
            {"mql": {"rules": {"behaviour": {"lookback_days": "30"}}}},
            "mql.rules.behaviour.lookback_days",
            "positive integer",
        ),
        (
            {"mql": {"rules": {"icp": {"industries": "IT"}}}},
            "mql.rules.icp.industries",
            "list of non-empty strings",
        ),
        (
            {"mql": {"rules": {"icp": {"industries": ["IT"], "crm_stage": "sql"}}}},
            "mql.rules.icp.crm_stage",
            "not both",
        ),
        (
            {"mql": {"rules": {"require_contact": "yes"}}},
            "mql.rules.require_contact",
            "true or false",
        ),
        ({"non_target": {"loss_reasons": []}}, "non_target.loss_reasons", "at least one"),
        (
            {"non_target": {"minutes_per_lead": -5}},
            "non_target.minutes_per_lead",
            "positive number",
        ),
    ],
)
def test_validation_names_file_and_key(data, key, problem):
    with pytest.raises(DefinitionsError) as error:
        definitions_from_dict(data, source="params/definitions.yaml")
    message = str(error.value)
    assert message.startswith(f"params/definitions.yaml: {key}: ")
    assert problem in message


def test_load_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(DefinitionsError, match="nope.yaml: cannot read"):
        load_definitions(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("mql: [unclosed\n", encoding="utf-8")
    with pytest.raises(DefinitionsError, match="broken.yaml: not valid YAML"):
        load_definitions(broken)
    bad = tmp_path / "bad.yaml"
    bad.write_text("mql:\n  method: crm\n  crm_stage: won_deal\n", encoding="utf-8")
    with pytest.raises(DefinitionsError, match=r"bad.yaml: mql.crm_stage: must be a CRM stage"):
        load_definitions(bad)
    good = tmp_path / "good.yaml"
    good.write_text("mql:\n  method: rules\nsql:\n  crm_stage: demo\n", encoding="utf-8")
    loaded = load_definitions(good)
    assert (loaded.mql_method, loaded.sql_stage, loaded.source) == ("rules", "demo", str(good))
