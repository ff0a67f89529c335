"""The sales view: reasons in words, bands from economics, the call list and its CSV; monitoring."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from analytics.scoring import LeadScoringModel
from analytics.scoring.monitoring import (
    old_score_calibration,
    psi,
    retraining_recommendation,
)
from analytics.scoring.sales import (
    band_cutoffs,
    bands,
    call_list,
    export_call_list,
    reason_phrases,
    reason_text,
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.mark.parametrize(
    ("feature", "value", "language", "expected"),
    [
        ("pricing_viewed", 1, "ru", "смотрел страницу цен"),
        ("pricing_viewed", 0, "en", "did not view the pricing page"),
        ("region", None, "ru", "регион: не заполнено"),
        ("industry", "unknown", "en", "industry: not filled"),
        ("duration_before_s", 750.0, "ru", "минут на сайте до заявки: 12,5"),
        ("segment_win_rate", 0.2209, "en", "win rate of his industry and size: 22%"),
        ("lead_type", "call", "ru", "тип заявки: звонок"),
        ("first_channel", "no_visits", "ru", "первый визит из канала: визитов не было"),
        ("Budget", float("nan"), "ru", "«Budget»: не заполнено"),
        ("Budget", 1234567.0, "ru", "«Budget»: 1\xa0234\xa0567"),
        ("Lead Source", "Olark Chat", "en", "«Lead Source»: Olark Chat"),
    ],
)
def test_reason_text_in_plain_words(feature, value, language, expected):
    assert reason_text(feature, value, language) == expected


def test_band_cutoffs_by_hand():
    """c = 15 / 60 * 625 = 156.25 RUB; V = 1406.25 -> p0 = 156.25 / 1562.5 = 0.1.

    Base rate 0.08: A >= max(0.1, 0.16) = 0.16, B >= max(0.1, 0.08) = 0.1, C >= 0.1.
    """
    cutoffs = band_cutoffs(0.08, value_per_sql=1406.25)
    assert cutoffs == pytest.approx({"A": 0.16, "B": 0.1, "C": 0.1})
    np.testing.assert_array_equal(
        bands([0.5, 0.16, 0.12, 0.1, 0.099], cutoffs), ["A", "A", "B", "B", "D"]
    )
    with pytest.raises(ValueError, match="value_per_sql must be positive"):
        band_cutoffs(0.1, value_per_sql=0)


def _fitted():
    rng = np.random.default_rng(2)
    n = 1500
    X = pd.DataFrame(
        {
            "pricing_viewed": rng.integers(0, 2, n),
            "region": rng.choice(["Moscow", "Kazan", None], n),
            "visits_before": rng.poisson(2, n),
        },
        index=[f"L{i}" for i in range(n)],
    )
    y = (rng.random(n) < 0.05 + 0.4 * X["pricing_viewed"]).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LeadScoringModel(max_iter=20).fit(X, y), X


def test_call_list_orders_bands_and_says_reasons(tmp_path):
    model, X = _fitted()
    leads = X.head(40).assign(
        owner="Анна",
        channel="yandex",
        created_at=pd.Timestamp("2026-03-02 09:00"),
        label="Форма",
    )
    cutoffs = {"A": 0.3, "B": 0.2, "C": 0.1}
    table = call_list(model, leads, cutoffs=cutoffs, now=pd.Timestamp("2026-03-02 12:30"))
    p = model.predict_proba(X.head(40))[:, 1]
    assert sorted(table["score"]) == sorted(np.rint(100 * p).astype(int))
    assert table["hours_since_request"].eq(3.5).all()
    # band order A, B, C, D and scores falling within a band
    order = table["band"].map({"A": 0, "B": 1, "C": 2, "D": 3})
    assert order.is_monotonic_increasing
    for _, group in table.groupby("band"):
        assert group["probability"].is_monotonic_decreasing
    # the strongest reason of this model is the pricing page, said in Russian
    assert table["reasons"].str.contains("страницу цен").all()
    assert not table["reasons"].str.contains("nan|None|pricing_viewed").any()
    path = export_call_list(table, tmp_path / "calls.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, sep=";", encoding="utf-8-sig", decimal=",")
    assert list(back.columns) == [
        "Заявка",
        "Описание",
        "Менеджер",
        "Канал",
        "Часов с заявки",
        "Балл",
        "Группа",
        "Почему",
    ]
    assert back["Часов с заявки"].eq(3.5).all() and len(back) == 40


def test_psi_by_hand():
    """Two bins split at the median of ``expected`` (one edge for bins=2):

    expected shares (0.5, 0.5, missing 0), actual (0.8, 0.2, 0) ->
    PSI = (0.8 - 0.5) ln(0.8 / 0.5) + (0.2 - 0.5) ln(0.2 / 0.5) + 0 = 0.1410 + 0.2749.
    """
    expected = np.arange(10.0)
    actual = np.array([0, 1, 2, 3, 1, 2, 3, 0, 8, 9], dtype=float)
    by_hand = 0.3 * np.log(0.8 / 0.5) + (-0.3) * np.log(0.2 / 0.5)
    assert psi(expected, actual, bins=2) == pytest.approx(by_hand)
    assert psi(expected, expected) == pytest.approx(0.0)
    # categories: an unseen value is its own bin, floored at 1e-4 in the reference
    cat = psi(["a", "a", "b", "b"], ["a", "a", "a", "c"], categorical=True)
    shares = {"a": (0.5, 0.75), "b": (0.5, 1e-4), "(unseen)": (1e-4, 0.25)}
    assert cat == pytest.approx(sum((a - e) * np.log(a / e) for e, a in shares.values()))


def test_old_score_calibration_and_recommendation_by_hand():
    scores = pd.DataFrame({"lead_id": ["a", "b", "c", "d"], "score": [0.1, 0.1, 0.1, 0.1]})
    outcomes = pd.Series([1, 1, 0, 0, 1], index=["a", "b", "c", "d", "z"])
    result = old_score_calibration(scores, outcomes)
    assert result["leads"] == 4
    assert result["mean_score"] == pytest.approx(0.1)
    assert result["observed_rate"] == pytest.approx(0.5)
    drift = pd.DataFrame({"what": ["score", "x"], "psi": [0.05, 0.3], "importance": [np.nan, 1.0]})
    advice = retraining_recommendation(drift, result)
    assert advice["retrain"]
    assert advice["reasons"] == [
        "important feature x shifted (PSI 0.30)",
        "scores given a month ago averaged 0.100, but 0.500 of those leads converted",
    ]
    calm = drift.assign(psi=[0.01, 0.02])
    assert retraining_recommendation(calm, None) == {"retrain": False, "reasons": []}


@pytest.mark.parametrize("language", ["ru", "en"])
def test_reason_phrases_group_numbers_as_babel_writes_them(language):
    """Phrases are grouped by the number as written, so every lead must read exactly
    what :func:`reason_text` (one Babel call per value) writes for its own value:
    ties on the rounding digit (0.125, 2.5 %, 0.05 of a minute), values a hair
    either side of a tie (1.445 and 1.4451 round alike as floats, x 100 = 144.50000000000003,
    but Babel writes 1,44 and 1,45), negative zero and tiny negatives (Babel keeps the minus),
    huge values, NaN, and random floats; one feature of each numeric kind and one
    outside the catalogue (``#,##0.##``)."""
    rng = np.random.default_rng(7)
    edges = [0.125, 0.135, 2.675, 1.005, 0.0249999999, 0.025, 0.0250000001, 0.005, 0.015,
             -0.0, -0.001, -0.004, -0.006, 1e-12, 123456789.125, 9.87654321e15, np.nan,
             0.05 * 60, 0.15 * 60, 2.5 * 60, 0.7, 0.285, 1.0, 0.0,
             1.445, 1.4451, 2.675, 2.6749, 1.015, 1.0149]  # fmt: skip
    digits = rng.integers(0, 6, 400)
    rounded = [round(v, int(d)) for v, d in zip(rng.uniform(-5, 5, 400), digits, strict=True)]
    values = np.concatenate([edges, rounded])
    values = np.concatenate([values, rng.lognormal(3, 2, 400)])
    for feature in ("segment_win_rate", "duration_before_s", "visits_before", "not_in_catalogue"):
        scored = pd.DataFrame(
            {
                "reason_1": feature,
                "value_1": pd.Series(values, dtype=object),
                "effect_1": np.where(np.arange(len(values)) % 2, 0.3, -0.2),
            }
        )
        got = reason_phrases(scored, language)
        signs = np.where(scored["effect_1"] >= 0, "+ ", "− ")
        texts = [reason_text(feature, v, language) for v in values]
        expected = [s + t for s, t in zip(signs, texts, strict=True)]
        assert list(got) == expected, feature
    assert reason_text("segment_win_rate", 0.025, "en").endswith(": 2%")  # half to even
    assert reason_text("not_in_catalogue", -0.001, "en") == "«not_in_catalogue»: -0"
