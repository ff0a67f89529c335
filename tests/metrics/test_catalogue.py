"""The metric catalogue: one entry per figure, two names for two different things."""

from __future__ import annotations

import pytest

from analytics.metrics import catalogue
from analytics.metrics.catalogue import CATALOGUE, metric


def test_labels_are_unique_per_language():
    for locale in ("ru", "en"):
        labels = [m.label(locale) for m in CATALOGUE.values()]
        assert len(labels) == len(set(labels)), locale


def test_booked_and_cohort_figures_have_two_keys_and_two_names():
    pairs = [
        ("romi", "romi_cohort"),
        ("revenue", "revenue_cohort"),
        ("sales", "sales_cohort"),
        ("cac", "cac_cohort"),
        ("drr", "drr_cohort"),
    ]
    for booked, cohort in pairs:
        assert metric(booked).basis == "booked"
        assert metric(cohort).basis == "cohort"
        assert metric(cohort).label("ru").endswith("(когорта)")
        assert metric(booked).label("ru") != metric(cohort).label("ru")
    assert metric("romi_cohort").label("ru") == "ROMI лидов периода (когорта)"


def test_every_cohort_metric_has_a_maturity_and_no_booked_one_does():
    for m in CATALOGUE.values():
        assert (m.maturity_days is not None) == (m.basis == "cohort"), m.key
        assert m.label_ru and m.label_en and m.formula_ru and m.formula_en, m.key
        assert m.definition_ru and m.definition_en, m.key


def test_headline_is_booked():
    assert catalogue.HEADLINE == ("revenue", "sales", "spend", "romi", "cac", "drr")
    assert {metric(k).basis for k in catalogue.HEADLINE} == {"booked"}


def test_labels_by_locale_and_unit():
    romi = metric("romi")
    assert romi.label("ru_RU") == "ROMI" and romi.unit == "percent"
    assert metric("revenue").label("ru") == "Выручка"
    assert metric("revenue").label("en-US") == "Revenue"
    assert metric("revenue").label_with_unit("ru") == "Выручка, ₽"
    assert metric("leads").label_with_unit("ru") == "Лиды"
    assert metric("cycle_days").label_with_unit("ru") == "Цикл сделки (медиана), дн."
    assert metric("drr").direction == "lower" and metric("revenue").direction == "higher"
    assert catalogue.keys("cohort")[0] == "mql"
    assert "revenue" in catalogue.keys("booked") and "revenue" not in catalogue.keys("cohort")


def test_unknown_key_names_the_catalogue():
    with pytest.raises(KeyError, match="unknown metric 'romi2'.*romi_cohort"):
        metric("romi2")
    with pytest.raises(ValueError, match="basis must be one of"):
        catalogue.keys("weekly")


def test_an_entry_is_validated():
    with pytest.raises(ValueError, match="unit 'EUR'"):
        catalogue.Metric("x", "x", "x", "EUR", "higher", "booked", "f", "f", "d", "d")
    with pytest.raises(ValueError, match="maturity_days is for cohort metrics only"):
        catalogue.Metric("x", "x", "x", "count", "higher", "cohort", "f", "f", "d", "d")


def test_the_one_ratio_by_hand():
    """``ratio`` is numerator x scale / denominator, undefined (NaN, never 0 or inf)
    where the denominator is 0: CPL 1 500 / 3 = 500 RUB; CR 30 / 1 000 x 100 = 3 %;
    element-wise on Series, with an int numerator over a float denominator."""
    import math

    import pandas as pd

    from analytics.metrics.catalogue import ratio

    assert ratio(1_500.0, 3) == 500.0
    assert ratio(30, 1_000, 100.0) == 3.0
    assert math.isnan(ratio(10, 0))
    out = ratio(pd.Series([30, 5, 0]), pd.Series([1_000.0, 0.0, 4.0]), 100.0)
    assert out.dtype == "float64"
    assert out.iloc[0] == 3.0 and math.isnan(out.iloc[1]) and out.iloc[2] == 0.0
    assert ratio(pd.Series([6, 9]), 3).tolist() == [2.0, 3.0]
    assert ratio(pd.Series([6, 9]), 0).isna().all()
