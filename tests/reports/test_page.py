"""Page components on a hand-written snapshot: texts, colours, escaping, footnotes."""

from __future__ import annotations

import re
from datetime import date

import matplotlib
import pandas as pd
import pytest

from analytics.metrics.snapshot import Snapshot
from analytics.reports import page

matplotlib.use("Agg")
NB = "\u00a0"


def entry(value, previous, year_ago, delta=None, delta_pct=None, **extra):
    return {
        "value": value,
        "previous": previous,
        "year_ago": year_ago,
        "delta": delta,
        "delta_pct": delta_pct,
        "delta_year": extra.pop("delta_year", None),
        "delta_year_pct": extra.pop("delta_year_pct", None),
        "reason": extra.pop("reason", None),
        "reasons": extra.pop("reasons", {}),
        **extra,
    }


@pytest.fixture
def snapshot():
    """Revenue 1 200 000 ₽ vs 1 000 000 ₽ the week before (+20 %) and no year ago.

    Weekly revenue 100, 110, 99, 108.9 has week-over-week changes +10 %, −10 %,
    +10 %: sample standard deviation = sqrt(((10−3.33)² + (−10−3.33)² +
    (10−3.33)²) / 2) = sqrt(266.67) = 11.55 %; so +20 % is beyond the normal
    variation (green, revenue: higher is better) and +5 % would be grey.
    Leads fell 3 % vs a weekly noise of 0 changes (no series: default 5 %) → grey.
    ROMI is undefined (no spend): a dash with the snapshot's reason.
    """
    no_year = {"ru": "нет данных год назад", "en": "no data a year ago"}
    data = {
        "period": {"label": "2025-W23", "start": "2025-06-02", "end": "2025-06-08", "days": 7},
        "metrics": {
            "revenue": entry(
                1_200_000, 1_000_000, None, 200_000, 20.0, reasons={"delta_year": no_year}
            ),
            "spend": entry(
                50_000, 10_000, 40_000, 40_000, 400.0, delta_year=10_000, delta_year_pct=25.0
            ),
            "leads": entry(97, 100, 90, -3, -3.0, delta_year=7, delta_year_pct=7.78),
            "cac": entry(
                60_000, 50_000, 40_000, 10_000, 20.0, delta_year=20_000, delta_year_pct=50
            ),
            "romi": entry(
                None,
                None,
                None,
                reason={"ru": "нет расходов на рекламу", "en": "no ad spend"},
            ),
            "drr": entry(4.0, 5.0, 4.0, -1.0, -20.0, delta_year=0.0, delta_year_pct=0.0),
        },
        "channels": {},
        "weekly": [
            {"week": "W20", "week_start": "2025-05-12", "revenue": 100.0},
            {"week": "W21", "week_start": "2025-05-19", "revenue": 110.0},
            {"week": "W22", "week_start": "2025-05-26", "revenue": 99.0},
            {"week": "W23", "week_start": "2025-06-02", "revenue": 108.9},
        ],
    }
    return Snapshot(data)


def tile_of(html: str, label: str) -> str:
    found = re.search(re.escape(label) + r"</div>(.*?</div>)(.*?)</div></div>", html + "</div>")
    assert found, label
    return found.group(0)


def test_normal_variation_is_the_std_of_weekly_changes(snapshot):
    assert page.normal_variation(snapshot, "revenue") == pytest.approx(11.547, abs=0.01)
    assert page.normal_variation(snapshot, "leads") == page.DEFAULT_NOISE_PCT


def test_change_colour_follows_the_metric_direction():
    assert page.change_colour("higher", 20.0, 11.5) == page.GOOD
    assert page.change_colour("higher", -20.0, 11.5) == page.BAD
    assert page.change_colour("lower", 20.0, 11.5) == page.BAD  # CAC up is bad
    assert page.change_colour("higher", 5.0, 11.5) == page.FLAT  # within the noise
    assert page.change_colour("neutral", 400.0, 5.0) == page.FLAT
    assert page.change_colour("higher", None, 5.0) == page.FLAT


def test_tiles_show_values_changes_and_colours(snapshot):
    html = page.tiles(snapshot, ["revenue", "leads", "cac", "romi", "drr"], locale="ru")
    revenue = tile_of(html, "Выручка")
    assert f"1{NB}200{NB}000{NB}₽" in revenue
    assert f'color:{page.GOOD}">+20,0{NB}% к прошлой неделе' in revenue
    assert "—¹ к прошлому году" in revenue  # no year ago: a dash and a footnote
    assert "¹ нет данных год назад" in html
    leads = tile_of(html, "Лиды")
    assert f'color:{page.FLAT}">\u22123,0{NB}% к прошлой неделе' in leads  # within 5 %
    cac = tile_of(html, "CAC")
    assert f'color:{page.BAD}">+20,0{NB}%' in cac  # CAC grew: bad
    drr = tile_of(html, "ДРР")
    assert f"\u22121,0{NB}п.{NB}п. к прошлой неделе" in drr  # percent metrics change in pp
    romi = tile_of(html, "ROMI")
    assert "—²" in romi and "² нет расходов на рекламу" in html
    for bad in ("nan", "None", "NaN", "inf"):
        assert bad not in html


def test_tile_plan_line_says_it_is_the_month_plan_and_how_much_is_done(snapshot):
    """Plan 600 000 ₽ for the month, progress 25.13 % → "план месяца 600 000 ₽, выполнено 25 %"
    (the week's value beside a month's plan must not read as the week's completion)."""
    plan = {"revenue": {"plan": 600_000.0, "progress_pct": 25.1295}}
    revenue = tile_of(page.tiles(snapshot, ["revenue"], "ru", plan), "Выручка")
    assert f"план месяца 600{NB}000{NB}₽, выполнено 25{NB}%" in revenue
    english = tile_of(page.tiles(snapshot, ["revenue"], "en", plan), "Revenue")
    assert "month's plan RUB\u00a0600,000, done 25%" in english


def test_tiles_in_english(snapshot):
    html = page.tiles(snapshot, ["revenue"], locale="en")
    assert "RUB\u00a01,200,000" in html and "+20.0% vs last week" in html
    assert "no data a year ago" in html


def test_table_escapes_values_hides_the_index_and_uses_catalogue_labels():
    frame = pd.DataFrame(
        {
            "campaign": ["<script>alert(1)</script>", "brand & co"],
            "spend": [1500.0, 0.0],
            "leads": [3.0, 0.0],
            "cpl": [500.0, float("nan")],
            "leads_change": [12.5, None],
        },
        index=[7, 8],
    )
    html = page.table(
        frame,
        [
            page.Column("campaign", "Кампания"),
            "spend",
            "leads",
            "cpl",
            page.Column("leads_change", "Лиды, изм.", "change", "higher"),
        ],
        locale="ru",
    )
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "brand &amp; co" in html
    headers = re.findall(r"<th style=[^>]*>(.*?)</th>", html)
    assert headers == ["Кампания", "Расходы на рекламу", "Лиды", "CPL", "Лиды, изм."]
    cells = re.findall(r"<td style=[^>]*>(.*?)</td>", html)
    assert cells[:5] == [
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        f"1{NB}500{NB}₽",
        "3",
        f"500{NB}₽",
        f"+12,5{NB}%",
    ]
    assert cells[5:] == ["brand &amp; co", f"0{NB}₽", "0", "—¹", "—¹"]
    assert ">7<" not in html and ">8<" not in html  # no index column
    assert "не определено" in html  # the dash footnote
    assert "overflow-x:auto" in html  # scrolls inside its own box


def test_table_refuses_a_missing_column():
    with pytest.raises(KeyError, match="columns not in the frame: cpl"):
        page.table(pd.DataFrame({"spend": [1.0]}), ["spend", "cpl"])


def test_axis_formatter_never_prints_scientific_notation():
    money = page.axis_formatter("RUB", "ru")
    assert money(1.5e8) == f"150{NB}млн{NB}₽"
    assert money(5000) == f"5{NB}000{NB}₽"
    assert page.axis_formatter("RUB", "en")(1.5e6) == f"RUB{NB}1.5M"
    assert page.axis_formatter("percent", "ru")(-30) == f"-30{NB}%"
    assert page.axis_formatter("count", "ru")(1200) == f"1{NB}200"


def test_weekly_chart_uses_catalogue_labels_and_locale_ticks(snapshot):
    fig = page.weekly_chart(snapshot, ["revenue"], locale="ru", title="Выручка по неделям")
    ax = fig.axes[0]
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks and all("e" not in t for t in ticks) and all(t.endswith("₽") for t in ticks)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "12 мая"
    assert ax.get_title(loc="left") == "Выручка по неделям"
    with pytest.raises(ValueError, match="keys of one unit only"):
        page.weekly_chart(snapshot, ["revenue", "leads"])


def test_bar_chart_colours_negative_bars_red():
    fig = page.bar_chart(["A", "B", "C"], [50.0, -20.0, float("nan")], "percent", signed=True)
    bars = fig.axes[0].patches
    assert len(bars) == 2  # the undefined value is left out
    colours = [matplotlib.colors.to_hex(b.get_facecolor()) for b in bars]
    assert colours == [page.GOOD, page.BAD]


def test_the_same_chart_twice_gives_the_same_png(snapshot):
    """Figures are deterministic: the same snapshot draws byte-identical PNGs."""
    from analytics.reports.summary import figure_html

    first = figure_html(page.weekly_chart(snapshot, ["revenue"], "ru"))
    second = figure_html(page.weekly_chart(snapshot, ["revenue"], "ru"))
    assert first == second and "data:image/png;base64," in first


# --- the summary sections ------------------------------------------------------------


def test_trend_sentence_is_computed_from_the_snapshot(snapshot):
    from analytics.reports.summary import trend_sentence

    assert trend_sentence(snapshot, "revenue", "ru") == (
        f"Выручка за период: 1{NB}200{NB}000{NB}₽, на 20,0{NB}% больше, чем в предыдущем."
    )
    assert trend_sentence(snapshot, "leads", "en") == (
        "Leads in the period: 97, 3.0% less than in the previous one."
    )


def test_plan_section_sentence_and_table():
    """Revenue plan 600 000, fact 150 777 after 8 of 30 days (tests/metrics/test_plan.py):
    progress 25 %, pace 94 % (behind), projection 565 414 ₽."""
    from datetime import date

    from analytics.metrics.plan import PlanFact
    from analytics.reports.summary import plan_section

    row = {
        "key": "revenue",
        "plan": 600_000.0,
        "fact": 150_777.0,
        "progress_pct": 25.1295,
        "expected": 160_000.0,
        "pace_pct": 94.2356,
        "projected": 565_413.75,
    }
    plan = PlanFact("2025-06", date(2025, 6, 8), 8, 30, "plan", [row])
    html = plan_section(plan, "ru")
    assert (
        f"Выручка: 25{NB}% плана месяца за 8 из 30 дней — отстаём от равномерного темпа "
        f"(94{NB}%); прогноз на месяц 565{NB}414{NB}₽."
    ) in html
    cells = re.findall(r"<td style=[^>]*>(.*?)</td>", html)
    assert cells == [
        "Выручка",
        f"600{NB}000{NB}₽",
        f"150{NB}777{NB}₽",
        f"25{NB}%",
        f"94{NB}%",
        f"565{NB}414{NB}₽",
    ]


def test_without_a_plan_the_page_says_how_to_set_one():
    from datetime import date

    from analytics.metrics.plan import PlanFact
    from analytics.reports.summary import plan_section

    html = plan_section(PlanFact("2025-06", date(2025, 6, 8), 8, 30, None), "ru")
    assert "Плана на июнь 2025 нет" in html and "params/plan.yaml" in html
    assert "plans: {2025-06: {revenue: 2500000, leads: 60}}" in html
    assert "nan" not in html.lower()


def test_channels_section_names_the_leader_and_dashes_free_channels():
    """Two channels: paid (spend 1 000, 2 leads, CPL 500, ROMI 50 %) and organic
    (no spend, 5 leads: its CPL 0 ₽ in the snapshot is shown as a dash)."""
    from analytics.reports.summary import channels_section

    def values(**figures):
        return {k: {"value": v, "delta_pct": None} for k, v in figures.items()}

    data = {
        "period": {"label": "2025-W23", "start": "2025-06-02", "end": "2025-06-08", "days": 7},
        "metrics": {},
        "weekly": [],
        "channels": {
            "yandex_search": values(
                spend=1000.0, leads=2, cpl=500.0, sales=1, revenue=1500.0, romi=50.0
            ),
            "organic": values(spend=0.0, leads=5, cpl=0.0, sales=0, revenue=0.0, romi=None),
        },
    }
    html = channels_section(Snapshot(data), "ru")
    assert (
        "Больше всего лидов дал канал «Поиск (органика)» (5 из 7); самый высокий ROMI — "
        f"«Яндекс Поиск» (50,0{NB}%)." in html
    )
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    organic = re.findall(r"<td style=[^>]*>(.*?)</td>", rows[1])
    assert organic[:4] == ["Поиск (органика)", f"0{NB}₽", "5", "—¹"]


def test_drilldown_section_on_the_hand_made_warehouse(tmp_path):
    """W23 of tests/funnel_fixture.py by campaign (tests/metrics/test_drilldown.py):
    most leads in paid_search "undetermined" (2 leads, no spend: CPL a dash); among
    campaigns with spend none has leads, so no CPL: the short sentence. Booked: D1 won
    100 000 in W23 (L1, paid_search, no UTM) is the most revenue of a campaign row
    (undetermined/undetermined has 50 777 from 2 deals)."""
    import duckdb
    from funnel_fixture import build_warehouse

    from analytics.metrics.drilldown import drilldown_tables
    from analytics.metrics.period import iso_week
    from analytics.reports.summary import drilldown_section

    con = duckdb.connect(str(build_warehouse(tmp_path / "w.duckdb")), read_only=True)
    try:
        html = drilldown_section(drilldown_tables(con, iso_week(2025, 23)), "ru")
    finally:
        con.close()
    assert "Больше всего лидов дала кампания «(без метки)» (2)." in html
    assert "paid_search-2025-06-02" in html and f"10{NB}000{NB}₽" in html
    assert (
        f"Выручку периода принесла прежде всего кампания «(без метки)»: 100{NB}000{NB}₽ "
        "за 1 продажу (сделки, выигранные в периоде, по кампании лида)." in html
    )
    headers = re.findall(r"<th style=[^>]*>(.*?)</th>", html)
    for header in ("Выручка", "Продажи", "ROMI", "ДРР", "Выручка лидов периода (когорта)"):
        assert header in headers
    assert not any("_" in h for h in headers)
    for bad in ("nan", "None", "NaN", "inf"):
        assert bad not in re.sub(r"paid_s\w+", "", html)


def test_ab_verdict_names_the_winner_with_the_lift_in_percent():
    """A 100/1000 = 10 %, B 150/1000 = 15 %: lift = 15/10 − 1 = +50 %; Fisher p ≈ 0.0008."""
    from analytics.reports.summary import ab_verdict

    total = {"rate_a_pct": 10.0, "rate_b_pct": 15.0, "lift": 0.5, "fisher_p": 0.0008}
    assert ab_verdict(total, "A", "B", 28, 10, "ru") == (
        f"B лучше, чем A, по MQL: конверсия 15,0{NB}% против 10,0{NB}% "
        f"(+50,0{NB}% к контролю, p = 0,001)."
    )
    total = {"rate_a_pct": 15.0, "rate_b_pct": 10.0, "lift": -1 / 3, "fisher_p": 0.0008}
    assert ab_verdict(total, "A", "B", 28, 10, "en").startswith("A beats B on MQL: 15.0% vs")


def test_ab_verdict_without_a_difference_says_how_many_more_days():
    """p = 0.42: no difference; 20.3 days needed, 14 run -> ceil(6.3) = 7 more days."""
    from analytics.reports.summary import ab_verdict

    total = {"rate_a_pct": 10.0, "rate_b_pct": 10.5, "lift": 0.05, "fisher_p": 0.42}
    assert ab_verdict(total, "A", "B", 14, 20.3, "ru") == (
        f"B и A по MQL пока не различаются (+5,0{NB}% к контролю, p = 0,420); "
        "при текущем трафике нужно ещё 7 дн."
    )
    assert "no difference" in ab_verdict(total, "A", "B", 30, 20.3, "en").lower()
    assert "cannot show one" in ab_verdict(total, "A", "B", 14, float("nan"), "en")


def test_what_changed_section_golden():
    """The snapshot of tests/metrics/test_changes.py: leads +10 mostly from search (+7),
    revenue −300 mostly from social (−200); leads of the last week (30) are unusual
    against 9 earlier weeks (band 8.18–12.71, shown as 8–13)."""
    from analytics.reports.summary import what_changed_section

    def figures(value, previous):
        return {"value": value, "previous": previous}

    data = {
        "period": {"label": "2025-W23", "start": "2025-06-02", "end": "2025-06-08", "days": 7},
        "metrics": {"leads": figures(30, 20), "revenue": figures(500.0, 800.0)},
        "channels": {
            "organic": {"leads": figures(6, 5)},
            "yandex_search": {"leads": figures(12, 5), "revenue": figures(400.0, 500.0)},
            "vk_ads": {"leads": figures(8, 10), "revenue": figures(100.0, 300.0)},
        },
        "weekly": [
            {"week": f"2025-W{i}", "leads": n, "revenue": 100.0}
            for i, n in enumerate([10, 12, 11, 9, 10, 11, 12, 10, 9, 30], start=14)
        ],
    }
    html = what_changed_section(Snapshot(data), "ru")
    assert (
        "Лиды: +10 к предыдущему периоду, больше всего за счёт канала «Яндекс Поиск» (+7)." in html
    )
    assert (
        f"Выручка: \u2212300{NB}₽ к предыдущему периоду, больше всего за счёт канала "
        f"«VK Реклама» (\u2212200{NB}₽)."
    ) in html
    assert (
        "Необычно: лиды — 30 за неделю 2–8 июн. 2025\u202fг., обычный диапазон последних 9 "
        "недель 8 – 13." in html
    )
    assert "Прочее" in html  # leads: 4 of the 30 are in no channel
    assert "nan" not in html.lower()


LONG_TITLE = "Продаж по модели «Шепли» с 90 % интервалом: каналы, кампании и группы объявлений"


@pytest.mark.parametrize(
    "draw",
    [
        lambda: page.interval_chart(
            ["Прямые заходы", "Переходы с сайтов"],
            [488.0, 33.0],
            [456.0, 23.0],
            [527.0, 41.0],
            "count",
            title=LONG_TITLE,
        ),
        lambda: page.bar_chart(
            ["Прямые заходы", "Яндекс Поиск"], [12.0, 7.5], "percent", title=LONG_TITLE
        ),
        lambda: page.series_chart(
            [date(2025, 6, 2), date(2025, 6, 9)], {"Лиды": [3.0, 5.0]}, "count", title=LONG_TITLE
        ),
    ],
    ids=["interval", "bar", "series"],
)
def test_a_long_chart_title_wraps_inside_the_figure(draw):
    """A title longer than the figure is wide (its left edge is at the axes, right of the
    channel names) is drawn on several lines inside the image, not cut at its right edge
    (the attribution chart's title was cut on a 390 px phone); the text itself is kept."""
    fig = draw()
    fig.canvas.draw()
    title = fig.axes[0].title if fig.axes[0].get_title() else fig.axes[0]._left_title
    extent = title.get_window_extent(fig.canvas.get_renderer())
    assert fig.axes[0].get_title(loc="left") == LONG_TITLE
    assert extent.x0 >= fig.bbox.x0 and extent.x1 <= fig.bbox.x1
    assert extent.height > 1.5 * title.get_fontsize() * fig.dpi / 72  # more than one line
