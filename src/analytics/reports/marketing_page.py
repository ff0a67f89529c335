"""The marketing pages of A/B tests and attribution, in the role's language.

Each function returns one section (an :class:`~analytics.reports.page.Html`
fragment: heading, one-sentence conclusion computed from the data, then the
detail), so that ``notebooks/07_ab_tests.ipynb`` and
``notebooks/06_attribution.ipynb`` open with one call each; the analyst's
English detail follows in cells tagged ``analyst-only``.

A/B tests (:func:`ab_tests_section`)
-----------------------------------
For every test of ``params/ab_tests.yaml`` (:func:`analytics.metrics.abtest.load_ab_tests`):
the arms' visits and MQL over the test's weeks (:func:`analytics.metrics.abtest.arm_counts`),
the verdict sentence (:func:`analytics.reports.summary.ab_verdict`: a winner
when Fisher's p < 0.05, else "no difference yet" and the days still needed at
the current traffic, :func:`analytics.metrics.abtest.duration_plan`), and a
table of the arms with the lift of B over A in % and its 95 % interval
(Katz, :func:`analytics.metrics.abtest.lift_interval`).

Attribution (:func:`attribution_section`)
----------------------------------------
The credit of sales per channel under several models with a bootstrap interval
(:func:`analytics.attribution.uncertainty.bootstrap_credit`), and one conclusion:
which channel leads under every model, or that the leader depends on the model.
"""

from __future__ import annotations

import pandas as pd

from analytics.reports import page
from analytics.reports.formatting import format_change, format_number, is_undefined

AB_PAGE_WORDS = {
    "ru": {
        "title": "A/B-тесты: итоги",
        "none": "Тестов нет: опишите их в params/ab_tests.yaml.",
        "no_visits": "За {weeks} недель до конца периода у теста нет визитов ни в одном варианте.",
        "arm": "Вариант",
        "visits": "Визиты",
        "mql": "MQL",
        "conversion": "Конверсия в MQL",
        "lift": "Разница с контролем",
        "interval": "95 % интервал разницы",
        "from_to": "от {low} до {high}",
        "reference": "база сравнения",
        "chart": "Конверсия в MQL с 95 % интервалом",
        "undefined_lift": "— разница не определена: у контроля нет MQL за время теста.",
        "note": "Тест за {weeks} недель до конца периода ({period}). MQL засчитывается "
        "варианту последнего визита посетителя из теста не раньше чем за {window} дней до "
        "заявки; победитель — при p < 0,05 (точный тест Фишера). Разница — во сколько раз "
        "конверсия варианта выше или ниже контроля, в %.",
    },
    "en": {
        "title": "A/B tests: verdicts",
        "none": "No tests: describe them in params/ab_tests.yaml.",
        "no_visits": "The test has no visits in any arm in the {weeks} weeks to the period's end.",
        "arm": "Arm",
        "visits": "Visits",
        "mql": "MQL",
        "conversion": "Conversion to MQL",
        "lift": "Lift vs control",
        "interval": "95% interval of the lift",
        "from_to": "{low} to {high}",
        "reference": "baseline",
        "chart": "Conversion to MQL with its 95% interval",
        "undefined_lift": "— the lift is undefined: the control has no MQL in the test.",
        "note": "Test over the {weeks} weeks to the period's end ({period}). An MQL counts "
        "for the arm of the visitor's last test visit at most {window} days before the "
        "request; a winner needs p < 0.05 (Fisher's exact test). Lift is how much higher or "
        "lower the arm converts than the control, in %.",
    },
}


def _language(locale: str) -> str:
    return "ru" if str(locale).startswith("ru") else "en"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def ab_arms_frame(tests: pd.DataFrame, test, locale: str) -> pd.DataFrame:
    """The arms of one test over all its weeks: label, visits, MQL, conversion (%),
    and, as text formatted by Babel, the lift vs the control (``+50,0 %``; the
    control row says it is the baseline) and its 95 % interval (``от +10,0 % до
    +95,0 %``; a dash when undefined).

    Parameters
    ----------
    tests : pandas.DataFrame
        :func:`analytics.metrics.abtest.arm_tests` (its ``total`` row is used).
    test : analytics.metrics.abtest.ABTest
    """
    from analytics.metrics.abtest import TOTAL

    words = AB_PAGE_WORDS[_language(locale)]
    total = tests[tests["week"] == TOTAL].iloc[0]
    lift = format_change(total["lift"] * 100.0, locale)
    interval = "—"
    if not (is_undefined(total["lift_low"]) or is_undefined(total["lift_high"])):
        interval = words["from_to"].format(
            low=format_change(total["lift_low"] * 100.0, locale),
            high=format_change(total["lift_high"] * 100.0, locale),
        )
    return pd.DataFrame(
        [
            {
                "arm": test.text("control", locale),
                "visits": total["visits_a"],
                "mql": total["successes_a"],
                "conversion": total["rate_a_pct"],
                "lift": words["reference"],
                "interval": words["reference"],
            },
            {
                "arm": test.text("treatment", locale),
                "visits": total["visits_b"],
                "mql": total["successes_b"],
                "conversion": total["rate_b_pct"],
                "lift": lift,
                "interval": interval,
            },
        ]
    )


def ab_test_section(
    con, period, test, locale: str, definitions=None, window_days: int = 30, arm_counts=None
):
    """One test of ``params/ab_tests.yaml``: its heading, the verdict sentence and the arms.

    ``arm_counts`` (an :class:`analytics.metrics.abtest.ArmCounts` of ``con``
    with the same definitions and window) reuses counts already computed, e.g.
    by the page in another language; without it the counts are queried.
    """
    from analytics.metrics import abtest
    from analytics.reports.formatting import format_period
    from analytics.reports.summary import ab_verdict, figure_html

    words = AB_PAGE_WORDS[_language(locale)]
    test_period = abtest.trailing_weeks(period, test.weeks)
    if arm_counts is None:
        arm_counts = abtest.ArmCounts(con, definitions, window_days)
    elif arm_counts.window_days != window_days or (
        definitions is not None and arm_counts.definitions != definitions
    ):
        raise ValueError(
            "arm_counts was built with other definitions or window_days than the section's"
        )
    counts = arm_counts(test_period, test.campaign, test.ad_group, test.arm)
    out = page.heading(test.text("title", locale))
    tests = abtest.arm_tests(counts, test.control, test.treatment) if len(counts) else None
    if tests is None or tests.empty:
        return out + page.conclusion(words["no_visits"].format(weeks=test.weeks))
    plan = abtest.duration_plan(counts, test.control, test_period.days, test.lift_to_detect)
    total = tests[tests["week"] == abtest.TOTAL].iloc[0].to_dict()
    sentence = ab_verdict(
        total,
        test.text("control", locale),
        test.text("treatment", locale),
        test_period.days,
        plan["days"].get("MQL"),
        locale,
        lift_to_detect=test.lift_to_detect,
    )
    frame = ab_arms_frame(tests, test, locale)
    table = page.table(
        frame,
        [
            page.Column("arm", words["arm"]),
            page.Column("visits", words["visits"], "count"),
            page.Column("mql", words["mql"], "count"),
            page.Column("conversion", words["conversion"], "percent"),
            page.Column("lift", words["lift"], "text"),
            page.Column("interval", words["interval"], "text"),
        ],
        locale,
    )
    note = words["note"].format(
        weeks=format_number(test.weeks, locale),
        period=format_period(test_period.start, test_period.end, locale),
        window=format_number(window_days, locale),
    )
    out += page.conclusion(_capitalised(sentence)) + table
    fig = page.interval_chart(
        list(frame["arm"]),
        [total["rate_a_pct"], total["rate_b_pct"]],
        [total["rate_a_low_pct"], total["rate_b_low_pct"]],
        [total["rate_a_high_pct"], total["rate_b_high_pct"]],
        "percent",
        locale,
        title=words["chart"],
    )
    out += figure_html(fig, words["chart"])
    if is_undefined(total.get("lift")):
        out += page.note(words["undefined_lift"])
    return out + page.note(note)


def ab_tests_section(
    con, period, locale: str, tests=None, definitions=None, window_days: int = 30, arm_counts=None
) -> page.Html:
    """Every A/B test (default: ``params/ab_tests.yaml``): a verdict sentence each.

    ``arm_counts``: see :func:`ab_test_section` (pass one
    :class:`analytics.metrics.abtest.ArmCounts` to every language's call so that
    each test is queried once per page).
    """
    from analytics.metrics.abtest import load_ab_tests

    words = AB_PAGE_WORDS[_language(locale)]
    tests = load_ab_tests() if tests is None else tests
    out = page.heading(words["title"], 1)
    if not tests:
        return out + page.conclusion(words["none"])
    for test in tests:
        out += ab_test_section(con, period, test, locale, definitions, window_days, arm_counts)
    return out


ATTRIBUTION_WORDS = {
    "ru": {
        "title": "Атрибуция: какие каналы приносят продажи",
        "conversion": {"sale": "продаж", "lead": "лидов", "mql": "MQL", "sql": "SQL"},
        "window": "Отчётный период — {period}; {what} за него мало для атрибуции, поэтому "
        "окно расширено до {window} ({what} в окне: {n}).",
        "window_same": "Отчётный период — {period} ({what} в нём: {n}).",
        "same_leader": "Во всех моделях больше всего {what} приносит канал «{channel}»: "
        "от {low} до {high} из {total} в зависимости от модели.",
        "leader_depends": "Лидер зависит от модели: {leaders}. Решение о бюджете между "
        "этими каналами стоит проверить экспериментом.",
        "leader": "«{channel}» по {models}",
        "by_model": "модели «{model}»",
        "by_models": "моделям {models}",
        "unclear": "Вклад каналов {channels} неотличим от нуля: на него не стоит "
        "опираться при переносе бюджета.",
        "none": "В окне нет {what} с отслеженными касаниями — распределять нечего.",
        "channel": "Канал",
        "cell": "{credit} ({low}–{high})",
        "chart": "{what_title} по модели «{model}» с 90 % интервалом",
        "what_title": {"sale": "Продажи", "lead": "Лиды", "mql": "MQL", "sql": "SQL"},
        "note": "В ячейке — число {what}, отнесённых каналу моделью, и в скобках 90 % интервал: "
        "где оказывается вклад в 90 % из {n_boot} пересчётов на случайно перевыбранных "
        "путях клиентов. «Последнее касание» отдаёт продажу последнему каналу перед "
        "заявкой, «Линейная» делит её поровну между касаниями, «Марков» — по тому, сколько "
        "продаж теряется без канала, «Шепли» — по среднему вкладу канала во все сочетания "
        "каналов.",
        "models": {
            "first_touch": "Первое касание",
            "last_touch": "Последнее касание",
            "last_non_direct": "Последнее непрямое",
            "linear": "Линейная",
            "position_based": "С учётом позиции",
            "time_decay": "С затуханием",
            "markov_1": "Марков",
            "markov_2": "Марков, 2-й порядок",
            "markov_3": "Марков, 3-й порядок",
            "shapley": "Шепли",
        },
    },
    "en": {
        "title": "Attribution: which channels earn the sales",
        "conversion": {"sale": "sales", "lead": "leads", "mql": "MQL", "sql": "SQL"},
        "window": "Report period: {period}; it has too few {what} for attribution, so the "
        "window is widened to {window} ({what} in the window: {n}).",
        "window_same": "Report period: {period} ({what} in it: {n}).",
        "same_leader": "Under every model, {channel} brings the most {what}: from {low} to "
        "{high} of {total} depending on the model.",
        "leader_depends": "The leader depends on the model: {leaders}. A budget move between "
        "these channels needs an experiment.",
        "leader": "{channel} under {models}",
        "by_model": "{model}",
        "by_models": "{models}",
        "unclear": "The credit of {channels} is not distinguishable from zero: do not move "
        "budget on it.",
        "none": "The window has no {what} with a tracked touch: nothing to attribute.",
        "channel": "Channel",
        "cell": "{credit} ({low}–{high})",
        "chart": "{what_title} credited by {model}, with the 90% interval",
        "what_title": {"sale": "Sales", "lead": "Leads", "mql": "MQL", "sql": "SQL"},
        "note": "Each cell is the number of {what} the model credits to the channel and, in "
        "brackets, "
        "the 90% interval: where the credit lands in 90% of {n_boot} refits on resampled "
        "customer journeys. Last touch gives the sale to the last channel before the "
        "request, Linear splits it evenly over the touches, Markov by how many sales are lost "
        "without the channel, Shapley by the channel's average part in every mix of channels.",
        "models": {
            "first_touch": "First touch",
            "last_touch": "Last touch",
            "last_non_direct": "Last non-direct",
            "linear": "Linear",
            "position_based": "Position-based",
            "time_decay": "Time decay",
            "markov_1": "Markov",
            "markov_2": "Markov, order 2",
            "markov_3": "Markov, order 3",
            "shapley": "Shapley",
        },
    },
}


def attribution_frame(intervals: pd.DataFrame, locale: str, measure: str = "conversions"):
    """Credit by model per channel with the interval, as text cells for the page.

    Parameters
    ----------
    intervals : pandas.DataFrame
        :func:`analytics.attribution.uncertainty.bootstrap_credit` (``channel``,
        ``model``, ``measure``, ``credit``, ``lower``, ``upper``).

    Returns
    -------
    pandas.DataFrame
        One row per channel (label from ``params/channels.yaml``), sorted by
        the credit of the last model given (descending): ``channel`` and one
        text column per model, ``"12,3 (8,1–16,0)"`` (Babel, one decimal).
    """
    from analytics.sources.channels import channel_label

    words = ATTRIBUTION_WORDS[_language(locale)]
    rows = intervals[intervals["measure"] == measure]
    models = list(dict.fromkeys(rows["model"]))
    order = rows[rows["model"] == models[-1]].sort_values("credit", ascending=False, kind="stable")
    out = []
    for channel in order["channel"]:
        record = {"channel": channel_label(channel, locale)}
        for model in models:
            found = rows[(rows["model"] == model) & (rows["channel"] == channel)]
            if found.empty:  # a model that did not see the channel
                record[model] = "—"
                continue
            cell = found.iloc[0]
            record[model] = words["cell"].format(
                credit=format_number(cell["credit"], locale, 1),
                low=format_number(cell["lower"], locale, 1),
                high=format_number(cell["upper"], locale, 1),
            )
        out.append(record)
    return pd.DataFrame(out, columns=["channel", *models])


def attribution_conclusion(
    intervals: pd.DataFrame, locale: str, conversion: str = "sale", measure: str = "conversions"
) -> list[str]:
    """The conclusion sentences: the channel with the most credit under every model (or
    each model's leader when they differ) and the channels whose credit is not
    distinguishable from zero under the last model."""
    from analytics.sources.channels import channel_label

    words = ATTRIBUTION_WORDS[_language(locale)]
    what = words["conversion"].get(conversion, conversion)
    rows = intervals[intervals["measure"] == measure]
    total = float(rows.groupby("model")["credit"].sum().max()) if len(rows) else 0.0
    if rows.empty or total <= 0:
        return [words["none"].format(what=what)]
    models = list(dict.fromkeys(rows["model"]))
    leaders = {
        model: rows[rows["model"] == model].sort_values("credit", ascending=False).iloc[0]
        for model in models
    }
    names = {row["channel"] for row in leaders.values()}
    if len(names) == 1:
        channel = next(iter(names))
        credits = [row["credit"] for row in leaders.values()]
        sentences = [
            words["same_leader"].format(
                what=what,
                channel=channel_label(channel, locale),
                low=format_number(min(credits), locale, 1),
                high=format_number(max(credits), locale, 1),
                total=format_number(total, locale, 0),
            )
        ]
    else:
        by_channel: dict[str, list[str]] = {}
        for model, row in leaders.items():
            by_channel.setdefault(row["channel"], []).append(words["models"].get(model, model))
        parts = []
        for channel, names_of_models in by_channel.items():
            if len(names_of_models) == 1:
                models_text = words["by_model"].format(model=names_of_models[0])
            else:
                quoted = [f"«{m}»" if _language(locale) == "ru" else m for m in names_of_models]
                models_text = words["by_models"].format(models=", ".join(quoted))
            parts.append(
                words["leader"].format(channel=channel_label(channel, locale), models=models_text)
            )
        sentences = [words["leader_depends"].format(leaders="; ".join(parts))]
    last = rows[rows["model"] == models[-1]]
    unclear = last[(last["lower"] <= 0) & (last["credit"] > 0)]
    if not unclear.empty:
        channels = ", ".join(f"«{channel_label(c, locale)}»" for c in unclear["channel"])
        sentences.append(words["unclear"].format(channels=channels))
    return sentences


def attribution_section(
    intervals: pd.DataFrame,
    report_period,
    window,
    locale: str,
    conversion: str = "sale",
    n_boot: int = 200,
) -> page.Html:
    """The marketing attribution page: heading, the window, the conclusion, credit by
    model per channel with 90 % intervals, and what the models mean.

    Parameters
    ----------
    intervals : pandas.DataFrame
        :func:`analytics.attribution.uncertainty.bootstrap_credit` of the window's
        journeys (measure ``conversions``).
    report_period, window : Period
        The report period and the attribution window ending with it
        (:func:`analytics.metrics.journeys.widen_period`).
    """
    from analytics.reports.formatting import format_period

    words = ATTRIBUTION_WORDS[_language(locale)]
    what = words["conversion"].get(conversion, conversion)
    rows = intervals[intervals["measure"] == "conversions"]
    n = float(rows.groupby("model")["credit"].sum().max()) if len(rows) else 0.0
    period = format_period(report_period.start, report_period.end, locale)
    key = "window_same" if window.start == report_period.start else "window"
    out = page.heading(words["title"], 1) + page.note(
        words[key].format(
            period=period,
            window=format_period(window.start, window.end, locale),
            n=format_number(n, locale, 0),
            what=what,
        )
    )
    out += "".join(
        page.conclusion(s) for s in attribution_conclusion(intervals, locale, conversion)
    )
    if rows.empty:
        return out
    frame = attribution_frame(intervals, locale)
    columns = [page.Column("channel", words["channel"])]
    columns += [page.Column(m, words["models"].get(m, m), "text") for m in frame.columns[1:]]
    out += page.table(frame, columns, locale)
    from analytics.reports.summary import figure_html
    from analytics.sources.channels import channel_label

    model = frame.columns[-1]
    shown = rows[rows["model"] == model].sort_values("credit", ascending=False, kind="stable")
    title = words["chart"].format(
        what_title=words["what_title"].get(conversion, conversion),
        model=words["models"].get(model, model),
    )
    fig = page.interval_chart(
        [channel_label(c, locale) for c in shown["channel"]],
        list(shown["credit"]),
        list(shown["lower"]),
        list(shown["upper"]),
        "count",
        locale,
        title=title,
    )
    out += figure_html(fig, title)
    return out + page.note(words["note"].format(what=what, n_boot=format_number(n_boot, locale)))
