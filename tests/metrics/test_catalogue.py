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
