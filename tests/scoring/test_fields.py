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


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loaded_lead_fields_are_used_as_known_at_arrival_even_after_an_update(tmp_path):
    """Through the loader: only values recorded by creation + 1 h count, and a value
    replaced by a later load (kept in ``history.lead_fields``) still counts.

    L1 (created 10:00) answered budget 150000 at 10:00; a second load a week later
    replaces it with 900000 recorded the next day: the feature stays 150000.
    L2 (created 10:00) got its budget at 10:59 (within the hour: used) and its
    team size at 11:01 (after the hour: not used). L3 has no row: missing.
    """
    from datetime import datetime

    from analytics import warehouse as wh

    con = wh.connect(tmp_path / "warehouse.duckdb")
    _write(
        tmp_path / "leads.csv",
        [
            "lead_id,created_at,lead_type",
            "L1,2025-03-01 10:00,form",
            "L2,2025-03-02 10:00,call",
            "L3,2025-03-03 10:00,chat",
        ],
    )
    wh.load_file(con, "leads", tmp_path / "leads.csv", salt="s", now=datetime(2025, 4, 1))
    first = _write(
        tmp_path / "lead_fields.csv",
        [
            "lead_id,field,value,recorded_at",
            "L1,monthly_ad_budget,150000,2025-03-01 10:00",
            "L2,monthly_ad_budget,40000,2025-03-02 10:59",
            "L2,sales_team_size,3,2025-03-02 11:01",
        ],
    )
    result = wh.load_file(con, "lead_fields", first, salt="s", now=datetime(2025, 4, 1))
    assert (result.rows_inserted, result.rows_quarantined) == (3, 0)
    update = _write(
        tmp_path / "lead_fields_update.csv",
        ["lead_id,field,value,recorded_at", "L1,monthly_ad_budget,900000,2025-03-02 09:00"],
    )
    result = wh.load_file(con, "lead_fields", update, salt="s", now=datetime(2025, 4, 8))
    assert (result.rows_updated, result.rows_inserted) == (1, 0)
    assert con.execute("SELECT value FROM lead_fields WHERE lead_id = 'L1'").fetchall() == [
        ("900000",)
    ]

    out = extra_lead_fields(con, ["monthly_ad_budget", "sales_team_size"]).sort_index()
    assert out["monthly_ad_budget"].tolist()[:2] == [150000.0, 40000.0]
    assert pd.isna(out.loc["L3", "monthly_ad_budget"])
    assert "sales_team_size" not in out.columns or out["sales_team_size"].isna().all()
    con.close()


def test_warehouse_features_carry_the_demo_form_answers(tiny_demo, tiny_warehouse):
    """``lead_features`` of the tiny demo warehouse has the three form answers the
    generator wrote (``profile_answers``), as numbers, NaN where unanswered."""
    from analytics import scoring
    from analytics import warehouse as wh
    from analytics.demo import generator

    con = wh.connect(tiny_warehouse, read_only=True)
    try:
        features = scoring.lead_features(con)
    finally:
        con.close()
    expected = generator.profile_answers(tiny_demo).astype("float64")
    fields = [f[0] for f in generator.PROFILE_FIELDS]
    got = features[fields].reindex(expected.index)
    assert got.notna().any().all() and got.isna().any().any()
    pd.testing.assert_frame_equal(got, expected[fields], check_names=False)


def test_amocrm_custom_fields_are_loaded_and_become_model_features(
    tiny_demo, tiny_warehouse, tmp_path
):
    """The tiny demo's deals exported as amoCRM (cp1251, ``;``) with the lead form's answers
    as custom fields under their Russian labels, plus a post-contact custom field
    (``Результат звонка`` = the deal's stage). Loaded into a copy of the warehouse whose
    ``lead_fields`` were emptied: the stored values equal the generator's answers, and a
    model trained from the warehouse with the labels named in the params uses them; the
    post-contact field is stored but left out (allowing it is tested above)."""
    import shutil

    from tiny_demo import TEST_SALT

    from analytics import scoring
    from analytics import warehouse as wh
    from analytics.demo import export, generator
    from analytics.sources import load_source

    path = tmp_path / "warehouse.duckdb"
    shutil.copy(tiny_warehouse, path)
    con = wh.connect(path)
    con.execute("DELETE FROM main.lead_fields")
    con.execute("DELETE FROM history.lead_fields")
    answers = generator.profile_answers(tiny_demo)
    tables = tiny_demo.tables
    frame = export.amocrm_deals(tables["deals"], tables["leads"], answers)
    frame["Результат звонка"] = frame["Этап сделки"]
    csv = tmp_path / "amocrm_deals.csv"
    frame.to_csv(csv, sep=";", index=False, encoding="cp1251")
    result = load_source(con, "amocrm", csv, salt=TEST_SALT)
    assert result.rows_quarantined == 0

    labels = dict(export.AMOCRM_PROFILE_FIELDS)
    stored = con.execute(
        "SELECT lead_id, field, CAST(value AS DOUBLE) AS value FROM lead_fields "
        "WHERE field <> 'Результат звонка' AND field <> 'Название сделки'"
    ).df()
    wide = stored.pivot(index="lead_id", columns="field", values="value")
    with_deal = answers.loc[answers.index.isin(tables["deals"]["lead_id"])]
    for name, label in labels.items():
        expected = with_deal[name].dropna().astype(float).sort_index()
        got = wide[label].dropna().sort_index()
        pd.testing.assert_series_equal(got, expected, check_names=False, check_index_type=False)

    fields = {
        "standard": ["visits_before", "pricing_viewed", "industry", "company_size"],
        "extra_fields": [*labels.values(), "Результат звонка"],
        "post_contact": ["результат звонка"],
        "allow_post_contact": False,
    }
    model, _ = scoring.train(con, fields=fields, refit=False)
    assert set(labels.values()) <= set(model.features_)
    assert "Результат звонка" not in model.features_  # loaded, but post-contact
    assert con.execute(
        "SELECT count(*) FROM lead_fields WHERE field = 'Результат звонка'"
    ).fetchone()[0] == len(frame)
    con.close()


def test_earlier_requests_find_the_generators_duplicate_requests(tiny_warehouse):
    """``earlier_requests`` counts requests of the same person before the lead (as of its
    creation). The generator records which leads are repeated requests
    (``truth.lead_truth.is_duplicate``: the same person asking again within two days,
    never a deal of its own): each has at least one earlier request, while a first
    request has none (one lead per person otherwise)."""
    from analytics import scoring
    from analytics import warehouse as wh

    con = wh.connect(tiny_warehouse, read_only=True)
    try:
        features = scoring.lead_features(con, similarity=False)
        truth = con.execute("SELECT lead_id, is_duplicate FROM truth.lead_truth").df()
    finally:
        con.close()
    truth = truth.set_index("lead_id")["is_duplicate"].reindex(features.index).astype(bool)
    assert truth.sum() > 0
    assert (features.loc[truth, "earlier_requests"] >= 1).all()
    assert (features.loc[~truth, "earlier_requests"] == 0).all()
