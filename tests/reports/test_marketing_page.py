"""The marketing pages of A/B tests and attribution (analytics.reports.marketing_page).

A/B by hand: control 100 MQL of 1 000 visits (10 %), treatment 150 of 1 000 (15 %):
lift = 15 / 10 − 1 = +50 %; Katz 95 % interval exp(ln 1.5 ± 1.96 × sqrt(1/150 − 1/1000 +
1/100 − 1/1000)) − 1 = exp(0.405465 ± 1.96 × 0.121106) − 1 = [+18.3 %, +90.2 %]; Fisher's
exact p (scipy) = 0.000895 < 0.05: the treatment wins.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from analytics.metrics import abtest
from analytics.reports import marketing_page

NB = "\u00a0"
RU_TEST = abtest.ABTest(
    title={"ru": "Тест", "en": "Test"},
    campaign="c",
    ad_group="g",
    arm="creative",
    control="a",
    treatment="b",
    labels={"a": {"ru": "объявление 1", "en": "ad 1"}, "b": {"ru": "объявление 2", "en": "ad 2"}},
)


@pytest.fixture
def arm_tests():
    counts = pd.DataFrame(
        {
            "week": ["2025-W01", "2025-W01"],
            "arm": ["a", "b"],
            "visits": [1000, 1000],
            "mql": [100, 150],
            "sales": [0, 0],
        }
    )
    return abtest.arm_tests(counts, "a", "b")


def test_arms_table_shows_the_lift_and_its_interval_in_percent(arm_tests):
    frame = marketing_page.ab_arms_frame(arm_tests, RU_TEST, "ru").set_index("arm")
    assert list(frame.index) == ["объявление 1", "объявление 2"]
    assert frame.loc["объявление 2", "conversion"] == pytest.approx(15.0)
    assert frame.loc["объявление 2", "lift"] == f"+50,0{NB}%"
    assert frame.loc["объявление 2", "interval"] == f"от +18,3{NB}% до +90,2{NB}%"
    assert frame.loc["объявление 1", "lift"] == "база сравнения"
    english = marketing_page.ab_arms_frame(arm_tests, RU_TEST, "en").set_index("arm")
    assert english.loc["ad 2", "interval"] == "+18.3% to +90.2%"


def test_verdict_names_the_winner_in_russian(arm_tests):
    from analytics.reports.summary import ab_verdict

    total = arm_tests[arm_tests["week"] == abtest.TOTAL].iloc[0].to_dict()
    sentence = ab_verdict(total, "объявление 1", "объявление 2", 28, 10, "ru")
    assert sentence == (
        f"объявление 2 лучше, чем объявление 1, по MQL: конверсия 15,0{NB}% против "
        f"10,0{NB}% (+50,0{NB}% к контролю, p = 0,001)."
    )


def test_the_repository_lists_the_demo_companys_test():
    """The demo generator's creative test (its constants, not the file) is the one listed."""
    from analytics.demo import generator

    tests = abtest.load_ab_tests()
    assert [(t.campaign, t.ad_group, t.control, t.treatment) for t in tests] == [
        (generator.TEST_CAMPAIGN, generator.TEST_AD_GROUP, *generator.TEST_CREATIVES)
    ]
    assert tests[0].text("treatment", "ru") == "объявление 2"


def test_a_test_without_control_is_a_clear_error(tmp_path):
    path = tmp_path / "ab_tests.yaml"
    path.write_text("tests:\n  - campaign: c\n    treatment: b\n", encoding="utf-8")
    with pytest.raises(abtest.ABTestsError, match=r"ab_tests.yaml: test 1: 'control' is missing"):
        abtest.load_ab_tests(path)
    path.write_text("tests:\n  - {control: a, treatment: b, arm: colour}\n", encoding="utf-8")
    with pytest.raises(abtest.ABTestsError, match=r"test 1: arm must be one of creative"):
        abtest.load_ab_tests(path)


# --- attribution ----------------------------------------------------------------------------


def intervals(rows):
    return pd.DataFrame(rows, columns=["channel", "model", "credit", "lower", "upper"]).assign(
        measure="conversions"
    )


def test_one_leader_under_every_model_and_an_unclear_channel():
    """yandex_search leads with 12.3 (last touch) and 10.0 (Markov) of 20 sales;
    vk_ads's Markov interval reaches 0: not distinguishable from zero."""
    frame = intervals(
        [
            ("yandex_search", "last_touch", 12.3, 8.06, 16.04),
            ("vk_ads", "last_touch", 7.7, 4.0, 11.0),
            ("yandex_search", "markov_1", 10.0, 7.0, 13.0),
            ("vk_ads", "markov_1", 2.0, 0.0, 4.5),
            ("organic", "markov_1", 8.0, 5.0, 11.0),
        ]
    )
    sentences = marketing_page.attribution_conclusion(frame, "ru")
    assert sentences == [
        "Во всех моделях больше всего продаж приносит канал «Яндекс Поиск»: от 10,0 до "
        "12,3 из 20 в зависимости от модели.",
        "Вклад каналов «VK Реклама» неотличим от нуля: на него не стоит опираться при "
        "переносе бюджета.",
    ]
    table = marketing_page.attribution_frame(frame, "ru")
    assert list(table.columns) == ["channel", "last_touch", "markov_1"]
    assert list(table["channel"]) == ["Яндекс Поиск", "Поиск (органика)", "VK Реклама"]
    assert table.iloc[0]["last_touch"] == "12,3 (8,1–16,0)"


def test_leader_that_depends_on_the_model_is_said_so():
    frame = intervals(
        [
            ("direct", "last_touch", 9.0, 6.0, 12.0),
            ("organic", "last_touch", 3.0, 1.0, 5.0),
            ("direct", "linear", 7.0, 5.0, 9.0),
            ("organic", "linear", 5.0, 3.0, 7.0),
            ("direct", "shapley", 5.0, 3.0, 7.0),
            ("organic", "shapley", 7.0, 5.0, 9.0),
        ]
    )
    assert marketing_page.attribution_conclusion(frame, "ru") == [
        "Лидер зависит от модели: «Прямые заходы» по моделям «Последнее касание», "
        "«Линейная»; «Поиск (органика)» по модели «Шепли». Решение о бюджете между этими "
        "каналами стоит проверить экспериментом."
    ]


# --- the pages of the tiny weekly run ---------------------------------------------------------


def test_marketing_role_gets_russian_ab_and_attribution_pages(tiny_reports):
    """One verdict sentence per test of params/ab_tests.yaml, and the attribution table
    with a column per model, in Russian; the analyst keeps the English page."""
    pages = {r.notebook: r for r in tiny_reports.results if r.role == "marketing"}
    assert pages["07_ab_tests.ipynb"].status == "ok", pages["07_ab_tests.ipynb"].error
    assert pages["06_attribution.ipynb"].status == "ok", pages["06_attribution.ipynb"].error
    ab = Path(pages["07_ab_tests.ipynb"].html).read_text(encoding="utf-8")
    tests = abtest.load_ab_tests()
    assert ab.count("<h2>") == len(tests)
    verdicts = re.findall(r"<p style=\"font-size:16px;font-weight:600[^>]*>([^<]*)</p>", ab)
    assert len(verdicts) == len(tests)
    assert all(re.search(r"лучше, чем|не различаются", v) and "MQL" in v for v in verdicts), (
        verdicts
    )
    assert "A/B tests of creatives" not in ab  # the analyst's English cells are hidden
    attribution = Path(pages["06_attribution.ipynb"].html).read_text(encoding="utf-8")
    for header in ("Последнее касание", "Линейная", "Марков", "Шепли"):
        assert f">{header}</th>" in attribution
    analyst = next(
        r for r in tiny_reports.results if r.role == "analyst" and r.notebook == "07_ab_tests.ipynb"
    )
    english = Path(analyst.html).read_text(encoding="utf-8")
    assert "A/B tests: verdicts" in english and "A/B tests of creatives on MQL" in english
