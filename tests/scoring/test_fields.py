"""CRM fields as features: params/scoring.yaml, post-contact fields, key/value extra fields."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from analytics.scoring.fields import (
    PostContactWarning,
    choose_fields,
    extra_lead_fields,
    load_params,
)


def test_the_shipped_params_name_every_standard_feature_and_exclude_post_contact():
    from analytics import scoring

    params = load_params()
    standard = [*scoring.NUMERIC_FEATURES, *scoring.SIMILARITY_FEATURES]
    standard += list(scoring.CATEGORICAL_FEATURES)
    assert sorted(params["standard"]) == sorted(standard)
    assert params["allow_post_contact"] is False


def test_post_contact_fields_are_excluded_by_default_and_warned_when_allowed():
    params = {
        "standard": ["visits_before"],
        "extra_fields": ["Lead Quality", "monthly_ad_budget"],
        "post_contact": ["lead_quality"],
        "allow_post_contact": False,
    }
    columns = ["visits_before", "Lead Quality", "monthly_ad_budget", "not_selected"]
    assert choose_fields(columns, params) == ["visits_before", "monthly_ad_budget"]
    with pytest.warns(PostContactWarning, match="'Lead Quality' is filled after the first"):
        chosen = choose_fields(columns, {**params, "allow_post_contact": True})
    assert chosen == ["visits_before", "Lead Quality", "monthly_ad_budget"]


def test_unknown_keys_in_params_are_one_clear_error(tmp_path):
    path = tmp_path / "scoring.yaml"
    path.write_text("standard: [a]\nfeatures: [b]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"scoring.yaml: unknown keys \['features'\]"):
        load_params(path)


def test_extra_fields_from_key_value_table_only_as_known_at_arrival():
    """L1 answered the budget with the request (known), then sales changed it a day later
    (not known at arrival); L2's budget came only after contact (not known); tools is text."""
    con = duckdb.connect()
    con.execute("CREATE TABLE leads (lead_id VARCHAR, created_at TIMESTAMP, extra_col DOUBLE)")
    con.execute(
        "INSERT INTO leads VALUES ('L1', '2025-03-01 10:00', 5), ('L2', '2025-03-02 10:00', 7)"
    )
    con.execute(
        "CREATE TABLE lead_fields (lead_id VARCHAR, field VARCHAR, value VARCHAR, "
        "recorded_at TIMESTAMP)"
    )
    con.execute(
        """INSERT INTO lead_fields VALUES
        ('L1', 'budget', '150000', '2025-03-01 10:00'),
        ('L1', 'budget', '900000', '2025-03-02 12:00'),
        ('L2', 'budget', '50000', '2025-03-05 10:00'),
        ('L1', 'tools', 'Metrica', '2025-03-01 10:05')"""
    )
    out = extra_lead_fields(con, ["budget", "tools", "extra_col", "absent"])
    expected = pd.DataFrame(
        {"extra_col": [5.0, 7.0], "budget": [150000.0, None], "tools": ["Metrica", None]},
        index=pd.Index(["L1", "L2"], name="lead_id"),
    )
    pd.testing.assert_frame_equal(
        out.sort_index()[["extra_col", "budget", "tools"]],
        expected,
        check_dtype=False,
        check_names=False,
    )
    assert "absent" not in out.columns
