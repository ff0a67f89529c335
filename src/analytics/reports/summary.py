"""The leadership summary page: headline tiles, plan vs fact, trend, channels.

Each function returns one section (an :class:`~analytics.reports.page.Html`
fragment: heading, a one-sentence conclusion computed from the data, then the
detail), in the role's language, so that ``notebooks/09_weekly_summary.ipynb``
is a list of one-line calls and the e-mail can reuse the same sections.

Figures are embedded as PNG ``data:`` URIs, so a section is self-contained.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analytics.metrics.catalogue import metric
from analytics.metrics.plan import PlanFact
from analytics.reports import page
from analytics.reports.formatting import format_change, format_period, format_value, is_undefined
from analytics.sources.channels import channel_label

ROLE_TILES: dict[str, tuple[str, ...]] = {
    "ceo": ("revenue", "sales", "spend", "romi", "drr", "cac"),
    "marketing": ("leads", "mql", "sql_leads", "cpl", "cost_per_mql", "spend"),
    "sales": ("sql_leads", "sales", "win_rate", "cycle_days", "revenue", "average_deal"),
    "analyst": ("revenue", "sales", "spend", "romi", "drr", "cac"),
}
"""Headline tiles of each role's page and e-mail, in order (catalogue keys)."""

ROLE_TREND: dict[str, tuple[str, ...]] = {
    "ceo": ("revenue",),
    "marketing": ("leads", "mql", "sql_leads"),
    "sales": ("sales",),
    "analyst": ("revenue",),
}
"""Weekly series charted for each role (keys of the snapshot's weekly series, one unit)."""

WORDS = {
    "ru": {
        "title": {
            "ceo": "Итоги недели для руководителя",
            "marketing": "Маркетинг: итоги недели",
            "sales": "Продажи: итоги недели",
            "analyst": "Итоги недели",
        },
        "headline": "Главное",
        "plan": "План и факт месяца",
        "trend": "Динамика по неделям",
        "channels": "Каналы",
        "no_plan": (
            "Плана на {month} нет, а данных за тот же месяц прошлого года недостаточно для "
            "цели по формуле. Чтобы видеть план-факт, впишите план месяца в params/plan.yaml, "
            "например: plans: {{{key}: {{revenue: 2500000, leads: 60}}}}."
        ),
        "plan_source": {
            "plan": "План из params/plan.yaml.",
            "target": "Плана нет: цель = выручка того же месяца прошлого года ({last}) × "
            "(1 + {growth}).",
        },
        "plan_cols": ("Показатель", "План", "Факт", "Выполнение", "Темп к плану", "Прогноз"),
        "pace_ok": "{label}: {progress} плана месяца за {elapsed} из {days} дней — "
        "идём с опережением темпа ({pace} от равномерного плана).",
        "pace_behind": "{label}: {progress} плана месяца за {elapsed} из {days} дней — "
        "отстаём от равномерного темпа ({pace}); прогноз на месяц {projected}.",
        "trend_up": "{label} за период: {value}, на {change} больше, чем в предыдущем.",
        "trend_down": "{label} за период: {value}, на {change} меньше, чем в предыдущем.",
        "trend_flat": "{label} за период: {value}, столько же, сколько в предыдущем.",
        "trend_none": "{label} за период: {value}; с предыдущим периодом сравнить нельзя.",
        "channels_top": "Больше всего лидов дал канал «{top}» ({leads} из {total}); "
        "самый высокий ROMI — «{best}» ({romi}).",
        "channels_top_noromi": "Больше всего лидов дал канал «{top}» ({leads} из {total}).",
        "channels_none": "За период нет лидов ни из одного канала.",
        "channel": "Канал",
        "leads_change": "Лиды, изм. к пред. периоду",
        "period": "Период: {period}",
    },
    "en": {
        "title": {
            "ceo": "Week in review for the CEO",
            "marketing": "Marketing: week in review",
            "sales": "Sales: week in review",
            "analyst": "Week in review",
        },
        "headline": "Headline",
        "plan": "Plan vs actual this month",
        "trend": "Week by week",
        "channels": "Channels",
        "no_plan": (
            "There is no plan for {month}, and last year's same month has too little data for "
            "the target formula. To see plan vs actual, add the month's plan to "
            "params/plan.yaml, e.g. plans: {{{key}: {{revenue: 2500000, leads: 60}}}}."
        ),
        "plan_source": {
            "plan": "Plan from params/plan.yaml.",
            "target": "No plan: target = last year's revenue of the month ({last}) × "
            "(1 + {growth}).",
        },
        "plan_cols": ("Metric", "Plan", "Actual", "Done", "Pace vs plan", "Projection"),
        "pace_ok": "{label}: {progress} of the month's plan after {elapsed} of {days} days — "
        "ahead of the straight-line pace ({pace}).",
        "pace_behind": "{label}: {progress} of the month's plan after {elapsed} of {days} days — "
        "behind the straight-line pace ({pace}); the month projects to {projected}.",
        "trend_up": "{label} in the period: {value}, {change} more than in the previous one.",
        "trend_down": "{label} in the period: {value}, {change} less than in the previous one.",
        "trend_flat": "{label} in the period: {value}, the same as in the previous one.",
        "trend_none": "{label} in the period: {value}; no previous period to compare with.",
        "channels_top": "Most leads came from {top} ({leads} of {total}); "
        "the highest ROMI is {best}'s ({romi}).",
        "channels_top_noromi": "Most leads came from {top} ({leads} of {total}).",
        "channels_none": "No channel brought leads in the period.",
        "channel": "Channel",
        "leads_change": "Leads, change vs previous",
        "period": "Period: {period}",
    },
}


def _words(locale: str) -> dict:
    return WORDS["ru" if str(locale).startswith("ru") else "en"]


def figure_html(fig, alt: str = "") -> page.Html:
    """A matplotlib figure as an ``<img>`` with a PNG ``data:`` URI (then closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return page.Html(
        f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
        'style="max-width:100%;height:auto">'
    )


_COMPUTED_SNAPSHOTS: dict[tuple, object] = {}
"""Snapshots computed in this process by :func:`period_snapshot`, by :func:`_inputs_key`."""


def _inputs_key(warehouse: Path, period: str) -> tuple:
    """What a computed snapshot depends on: the warehouse file, its write-ahead log
    and every parameter file (:func:`analytics.paths.inputs_stamp`), and the period
    spec. A write to the warehouse or an edited parameter file changes the key."""
    from analytics.paths import inputs_stamp

    return (inputs_stamp(warehouse), str(period))


def period_snapshot(warehouse: str | Path, period: str, snapshot: str | Path | None = None):
    """The run's snapshot (``metrics.json`` at ``snapshot``), or, without one, the
    period's snapshot computed from the warehouse (read-only) the same way
    (:func:`analytics.metrics.snapshot.build_snapshot`).

    A computed snapshot is kept for the process while the warehouse and the
    parameter files are unchanged (:func:`_inputs_key`): notebooks run one after
    another in one kernel (JupyterLab, ``%run``) compute it once, not once per page.
    Each call gets its own copy.
    """
    import copy

    from analytics.metrics.snapshot import build_snapshot, load_snapshot
    from analytics.paths import project_path

    if snapshot:
        return load_snapshot(snapshot)
    path = project_path(warehouse)
    key = _inputs_key(path, period)
    if key not in _COMPUTED_SNAPSHOTS:
        _COMPUTED_SNAPSHOTS.clear()  # one period's snapshot at a time
        _COMPUTED_SNAPSHOTS[key], _ = build_snapshot(path, period)
    return copy.deepcopy(_COMPUTED_SNAPSHOTS[key])


def title(snapshot, role: str, locale: str, text: str | None = None) -> page.Html:
    """The page's ``<h1>`` (the role's summary title unless ``text``) and the period in words."""
    words = _words(locale)
    info = snapshot.data["period"]
    when = format_period(info["start"], info["end"], locale)
    text = text or words["title"].get(role, words["title"]["analyst"])
    return page.heading(text, 1) + page.note(words["period"].format(period=when))


def headline(snapshot, role: str, locale: str, plan: PlanFact | None = None) -> page.Html:
    """The role's 4–6 tiles (:data:`ROLE_TILES`), with the month's plan where there is one."""
    planned = None
    if plan is not None and plan.source is not None:
        planned = {row["key"]: row for row in plan.rows}
    keys = ROLE_TILES.get(role, ROLE_TILES["analyst"])
    return page.heading(_words(locale)["headline"]) + page.tiles(snapshot, keys, locale, planned)


def plan_section(plan: PlanFact, locale: str, target_growth: float = 0.2) -> page.Html:
    """Plan vs fact: a conclusion on the pace, then the table; or how to set a plan."""
    words = _words(locale)
    out = page.heading(words["plan"])
    if plan.source is None:
        from babel.dates import format_date

        month = format_date(plan.as_of, "LLLL y", locale=locale)
        text = words["no_plan"].format(month=month, key=plan.month)
        return out + page.conclusion(text)
    first = plan.rows[0]
    info = metric(first["key"])
    on_pace = not is_undefined(first["pace_pct"]) and first["pace_pct"] >= 100
    sentence = words["pace_ok" if on_pace else "pace_behind"].format(
        label=info.label(locale),
        progress=format_value(first["progress_pct"], "percent", locale, decimals=0),
        elapsed=plan.elapsed_days,
        days=plan.days,
        pace=format_value(first["pace_pct"], "percent", locale, decimals=0),
        projected=format_value(first["projected"], info.unit, locale),
    )
    frame = pd.DataFrame(plan.rows)
    cols = words["plan_cols"]
    rows = []
    for row in plan.rows:
        unit = metric(row["key"]).unit
        rows.append(
            {
                "metric": metric(row["key"]).label(locale),
                "plan": format_value(row["plan"], unit, locale),
                "fact": format_value(row["fact"], unit, locale),
                "progress": format_value(row["progress_pct"], "percent", locale, decimals=0),
                "pace": format_value(row["pace_pct"], "percent", locale, decimals=0),
                "projected": format_value(row["projected"], unit, locale),
            }
        )
    frame = pd.DataFrame(rows)
    table = page.table(
        frame,
        [page.Column(name, header) for name, header in zip(frame.columns, cols, strict=True)],
        locale,
    )
    source = words["plan_source"][plan.source].format(
        last=format_value(plan.last_year, "RUB", locale),
        growth=format_value(target_growth * 100, "percent", locale, decimals=0),
    )
    return out + page.conclusion(sentence) + table + page.note(source)


def trend_sentence(snapshot, key: str, locale: str) -> str:
    """``Выручка за период: 175 800 ₽, на 60,7 % меньше, чем в предыдущем.``"""
    words = _words(locale)
    entry, info = snapshot.metric(key), metric(key)
    value = format_value(entry.get("value"), info.unit, locale)
    relative = entry.get("delta_pct")
    if is_undefined(relative):
        template, change = "trend_none", ""
    elif round(relative, 1) == 0:
        template, change = "trend_flat", ""
    else:
        template = "trend_up" if relative > 0 else "trend_down"
        change = format_value(abs(relative), "percent", locale)
    return words[template].format(label=info.label(locale), value=value, change=change)


def trend_section(snapshot, role: str, locale: str) -> page.Html:
    """The role's weekly series (:data:`ROLE_TREND`) with a conclusion on the first one."""
    keys = ROLE_TREND.get(role, ROLE_TREND["analyst"])
    words = _words(locale)
    fig = page.weekly_chart(snapshot, keys, locale)
    return (
        page.heading(words["trend"])
        + page.conclusion(trend_sentence(snapshot, keys[0], locale))
        + figure_html(fig, metric(keys[0]).label(locale))
    )


FREE_CHANNEL_UNDEFINED = ("cpl", "cost_per_mql", "cost_per_sql", "cac", "romi", "drr")
"""Cost ratios shown as a dash for a channel without spend (organic, direct, e-mail)."""


def channel_frame(snapshot, locale: str, keys: Sequence[str]) -> pd.DataFrame:
    """One row per channel of the snapshot: its label and ``keys`` (value), plus
    ``leads_change`` (leads' change vs the previous period, %). A channel without
    spend has no cost ratios (:data:`FREE_CHANNEL_UNDEFINED` are None)."""
    rows = []
    for channel in snapshot.channels:
        values = snapshot.data["channels"][channel]
        row = {"channel": channel_label(channel, locale)}
        for key in keys:
            row[key] = (values.get(key) or {}).get("value")
        row["leads_change"] = (values.get("leads") or {}).get("delta_pct")
        if not row.get("spend"):
            # a free channel has no cost per lead: a dash, not 0 ₽
            for key in FREE_CHANNEL_UNDEFINED:
                if key in row:
                    row[key] = None
        rows.append(row)
    frame = pd.DataFrame(rows)
    for key in [*keys, "leads_change"]:
        if key in frame:
            frame[key] = pd.to_numeric(frame[key], errors="coerce")
    return frame


def channels_section(snapshot, locale: str) -> page.Html:
    """Channels: which brought most leads and which returns most, then the table."""
    words = _words(locale)
    keys = ("spend", "leads", "cpl", "sales", "revenue", "romi")
    frame = channel_frame(snapshot, locale, keys)
    out = page.heading(words["channels"])
    if frame.empty or frame["leads"].fillna(0).sum() == 0:
        return out + page.conclusion(words["channels_none"])
    frame = frame.sort_values(["leads", "spend"], ascending=False, kind="stable")
    top = frame.iloc[0]
    total = frame["leads"].fillna(0).sum()
    romi = frame.dropna(subset=["romi"])
    if romi.empty:
        sentence = words["channels_top_noromi"].format(
            top=top["channel"],
            leads=format_value(top["leads"], "count", locale),
            total=format_value(total, "count", locale),
        )
    else:
        best = romi.loc[romi["romi"].idxmax()]
        sentence = words["channels_top"].format(
            top=top["channel"],
            leads=format_value(top["leads"], "count", locale),
            total=format_value(total, "count", locale),
            best=best["channel"],
            romi=format_value(best["romi"], "percent", locale),
        )
    columns = [page.Column("channel", words["channel"]), *keys]
    columns.append(page.Column("leads_change", words["leads_change"], "change", "higher"))
    return out + page.conclusion(sentence) + page.table(frame, columns, locale)


DRILL_WORDS = {
    "ru": {
        "title": "Маркетинг: кампании, группы объявлений и объявления",
        "campaigns": "Кампании",
        "creatives": "Группы объявлений (ключевые слова) и объявления",
        "channel": "Канал",
        "campaign": "Кампания",
        "ad_group": "Группа / ключевое слово",
        "creative": "Объявление",
        "change": "Лиды, изм.",
        "spend_change": "Расходы, изм.",
        "top": "Больше всего лидов дала кампания «{top}» ({leads}, CPL {cpl}); "
        "из кампаний с расходами дороже всего лид обходится в «{worst}» (CPL {worst_cpl}).",
        "top_only": "Больше всего лидов дала кампания «{top}» ({leads}).",
        "booked": "Выручку периода принесла прежде всего кампания «{top}»: {revenue} "
        "за {sales} (сделки, выигранные в периоде, по кампании лида).",
        "booked_none": "Сделок, выигранных в периоде, нет ни в одной кампании.",
        "revenue_change": "Выручка, изм.",
        "none": "За период нет ни расходов, ни лидов.",
        "undetermined": "(без метки)",
        "spend_chart": "Расходы по кампаниям",
        "sales_word": "{n} продаж",
        "note": "Продажи и выручка — сделки, выигранные в периоде, в кампании, группе и "
        "объявлении лида; ROMI и ДРР — на этой выручке. Лиды, MQL, SQL и «…лидов периода "
        "(когорта)» — лиды, созданные в периоде, и их исходы к сегодняшнему дню; расходы и "
        "визиты — по дате. Изменения — к предыдущему периоду той же длины. Показаны {shown} "
        "строк из {total} по убыванию расходов.",
    },
    "en": {
        "title": "Marketing: campaigns, ad groups and ads",
        "campaigns": "Campaigns",
        "creatives": "Ad groups (keywords) and ads",
        "channel": "Channel",
        "campaign": "Campaign",
        "ad_group": "Ad group / keyword",
        "creative": "Ad",
        "change": "Leads, change",
        "spend_change": "Spend, change",
        "top": "Most leads came from campaign {top} ({leads}, CPL {cpl}); among campaigns "
        "with spend, the most expensive lead is in {worst} (CPL {worst_cpl}).",
        "top_only": "Most leads came from campaign {top} ({leads}).",
        "booked": "Most of the period's revenue came from campaign «{top}»: {revenue} from "
        "{sales} (deals won in the period, in their lead's campaign).",
        "booked_none": "No campaign has a deal won in the period.",
        "revenue_change": "Revenue, change",
        "sales_word": "{n} sales",
        "none": "No spend and no leads in the period.",
        "undetermined": "(no tag)",
        "spend_chart": "Spend by campaign",
        "note": "Sales and revenue are the deals won in the period, in their lead's campaign, "
        "ad group and ad; ROMI and ad cost share on that revenue. Leads, MQL, SQL and the "
        "cohort columns are the leads created in the period and their outcomes so far; spend "
        "and visits by day. Changes are against the previous period of the same length. "
        "{shown} of {total} rows by spend.",
    },
}

_DRILL_FIGURES = (
    ("spend", "spend"),
    ("visits", "visits"),
    ("leads", "leads"),
    ("mql", "mql"),
    ("sql_leads", "sql_leads"),
    ("sales_booked", "sales"),
    ("revenue_booked", "revenue"),
    ("sales", "sales_cohort"),
    ("revenue", "revenue_cohort"),
    ("cpl", "cpl"),
    ("cost_per_mql", "cost_per_mql"),
    ("cost_per_sql", "cost_per_sql"),
    ("romi_booked", "romi"),
    ("drr_booked", "drr"),
)
"""Drill-down column → catalogue key giving its header and unit: booked sales and revenue
(deals won in the period) beside the cohort outcomes; ROMI and ДРР on the booked basis."""


def _drill_columns(locale: str, levels: Sequence[str], words: dict) -> list[page.Column]:
    columns = [page.Column(level, words[level]) for level in levels]
    for name, key in _DRILL_FIGURES:
        info = metric(key)
        columns.append(page.Column(name, info.label(locale), info.unit, info.direction))
    columns.append(page.Column("spend_change", words["spend_change"], "change", "neutral"))
    columns.append(page.Column("leads_change", words["change"], "change", "higher"))
    columns.append(
        page.Column("revenue_booked_change", words["revenue_change"], "change", "higher")
    )
    return columns


def _drill_rows(frame: pd.DataFrame, locale: str, words: dict) -> pd.DataFrame:
    frame = frame.copy()
    frame["channel"] = [channel_label(c, locale) for c in frame["channel"]]
    free = frame["spend"] == 0  # no cost per lead for a row without spend: a dash
    for key in (*FREE_CHANNEL_UNDEFINED, "romi_booked", "drr_booked"):
        if key in frame:
            frame[key] = frame[key].astype("float64").mask(free)
    for level in ("campaign", "ad_group", "creative"):
        if level in frame:
            frame[level] = frame[level].replace("undetermined", words["undetermined"])
    return frame


def booked_sentence(campaigns: pd.DataFrame, locale: str, words: dict) -> str:
    """The campaign with the most booked revenue of the period (deals won in it)."""
    won = campaigns[campaigns["revenue_booked"] > 0]
    if won.empty:
        return words["booked_none"]
    top = won.sort_values(["revenue_booked", "sales_booked"], ascending=False).iloc[0]
    from babel.numbers import format_decimal

    sales = int(top["sales_booked"])
    from babel import Locale

    language = "ru" if str(locale).startswith("ru") else "en"
    form = Locale(language).plural_form(sales)  # one / few / many / other
    nouns = {
        "ru": {"one": "продажу", "few": "продажи"},
        "en": {"one": "sale"},
    }[language]
    noun = nouns.get(form, "продаж" if language == "ru" else "sales")
    count = f"{format_decimal(sales, locale=language)} {noun}"
    return words["booked"].format(
        top=top["campaign"], revenue=format_value(top["revenue_booked"], "RUB", locale), sales=count
    )


def drilldown_section(tables: dict, locale: str, max_rows: int = 20) -> page.Html:
    """Campaigns, then ad groups and ads: figures, cost ratios and the change (marketing).

    ``tables`` is :func:`analytics.metrics.drilldown.drilldown_tables` of the period
    (depths ``campaign`` and ``creative``), computed once and rendered per language.
    """
    words = DRILL_WORDS["ru" if str(locale).startswith("ru") else "en"]
    out = page.heading(words["title"], 1)
    campaigns = tables["campaign"]
    if campaigns.empty:
        return out + page.conclusion(words["none"])
    shown = _drill_rows(campaigns, locale, words)
    by_leads = shown.sort_values(["leads", "spend"], ascending=False, kind="stable").iloc[0]
    paid = shown[(shown["spend"] > 0) & shown["cpl"].notna()]
    if by_leads["leads"] > 0 and not paid.empty and not is_undefined(by_leads["cpl"]):
        worst = paid.loc[paid["cpl"].idxmax()]
        sentence = words["top"].format(
            top=by_leads["campaign"],
            leads=format_value(by_leads["leads"], "count", locale),
            cpl=format_value(by_leads["cpl"], "RUB", locale),
            worst=worst["campaign"],
            worst_cpl=format_value(worst["cpl"], "RUB", locale),
        )
    else:
        sentence = words["top_only"].format(
            top=by_leads["campaign"], leads=format_value(by_leads["leads"], "count", locale)
        )
    out += page.heading(words["campaigns"]) + page.conclusion(sentence)
    out += page.conclusion(booked_sentence(shown, locale, words))
    out += page.table(
        shown, _drill_columns(locale, ("channel", "campaign"), words), locale, max_rows=max_rows
    )
    out += page.note(words["note"].format(shown=min(max_rows, len(shown)), total=len(shown)))
    top = shown[shown["spend"] > 0].head(10)
    fig = page.bar_chart(
        list(top["campaign"]), list(top["spend"]), "RUB", locale, title=words["spend_chart"]
    )
    out += figure_html(fig, words["spend_chart"])
    ads = _drill_rows(tables["creative"], locale, words)
    out += page.heading(words["creatives"])
    out += page.table(
        ads,
        _drill_columns(locale, ("channel", "campaign", "ad_group", "creative"), words),
        locale,
        max_rows=max_rows,
    )
    return out + page.note(words["note"].format(shown=min(max_rows, len(ads)), total=len(ads)))


AB_WORDS = {
    "ru": {
        "winner": "{winner} лучше, чем {loser}, по {metric}: конверсия {rate_w} против "
        "{rate_l} ({lift} к контролю, p = {p}).",
        "no_difference": "{treatment} и {control} по {metric} пока не различаются "
        "({lift} к контролю, p = {p}); при текущем трафике нужно ещё {days} дн.",
        "no_difference_done": "{treatment} и {control} по {metric} не различаются "
        "({lift} к контролю, p = {p}), хотя трафика уже достаточно, чтобы заметить {mde}.",
        "no_traffic": "{treatment} и {control} по {metric} пока не различаются; при текущем "
        "трафике разницу не увидеть — нужен больший трафик или более сильное изменение.",
        "metric": {"mql": "MQL", "sales": "продажам"},
    },
    "en": {
        "winner": "{winner} beats {loser} on {metric}: {rate_w} vs {rate_l} conversion "
        "({lift} vs {control_name}, p = {p}).",
        "no_difference": "No difference between {treatment} and {control} on {metric} yet "
        "({lift} vs {control}, p = {p}); at the current traffic it needs {days} more days.",
        "no_difference_done": "No difference between {treatment} and {control} on {metric} "
        "({lift} vs {control}, p = {p}), although the traffic already suffices to see {mde}.",
        "no_traffic": "No difference between {treatment} and {control} on {metric} yet; the "
        "current traffic cannot show one — more traffic or a bolder change is needed.",
        "metric": {"mql": "MQL", "sales": "sales"},
    },
}


def ab_verdict(
    total: dict,
    control: str,
    treatment: str,
    days_run: float,
    days_needed: float | None,
    locale: str = "ru",
    metric_name: str = "mql",
    alpha: float = 0.05,
    lift_to_detect: float = 0.2,
) -> str:
    """One verdict sentence for an A/B test, lifts in %.

    Parameters
    ----------
    total : dict
        The ``total`` row of :func:`analytics.metrics.abtest.arm_tests`
        (``rate_a_pct``, ``rate_b_pct``, ``lift`` as a fraction, ``fisher_p``).
    control, treatment : str
        Names of A and B.
    days_run : float
        Days the test has run.
    days_needed : float or None
        Days of traffic it needs to detect ``lift_to_detect``
        (:func:`analytics.metrics.abtest.duration_plan`'s ``days``); None/NaN
        when the traffic can never show it.

    Rule
    ----
    Fisher p < ``alpha``: the arm with the higher rate wins. Otherwise: no
    difference yet and ``ceil(days_needed − days_run)`` more days, or "no
    difference" when the days needed have already passed.
    """
    import math

    words = AB_WORDS["ru" if str(locale).startswith("ru") else "en"]
    metric_word = words["metric"].get(metric_name, metric_name)
    lift_pct = None if is_undefined(total.get("lift")) else total["lift"] * 100.0
    from analytics.reports.formatting import format_change, format_number

    lift = format_change(lift_pct, locale, unit="%")
    p_value = format_number(total.get("fisher_p"), locale, 3)
    if not is_undefined(total.get("fisher_p")) and total["fisher_p"] < alpha:
        b_wins = total["rate_b_pct"] > total["rate_a_pct"]
        winner, loser = (treatment, control) if b_wins else (control, treatment)
        rate_w, rate_l = (
            (total["rate_b_pct"], total["rate_a_pct"])
            if b_wins
            else (total["rate_a_pct"], total["rate_b_pct"])
        )
        return words["winner"].format(
            winner=winner,
            loser=loser,
            metric=metric_word,
            rate_w=format_value(rate_w, "percent", locale),
            rate_l=format_value(rate_l, "percent", locale),
            lift=lift,
            control_name=control,
            p=p_value,
        )
    common = {
        "treatment": treatment,
        "control": control,
        "metric": metric_word,
        "lift": lift,
        "p": p_value,
    }
    if is_undefined(days_needed):
        return words["no_traffic"].format(**common)
    more = math.ceil(days_needed - days_run)
    if more <= 0:
        mde = format_change(lift_to_detect * 100.0, locale, unit="%", decimals=0)
        return words["no_difference_done"].format(mde=mde, **common)
    return words["no_difference"].format(days=format_number(more, locale), **common)


def ab_verdict_section(
    tests: pd.DataFrame,
    plan: pd.DataFrame,
    control: str,
    treatment: str,
    days_run: float,
    locale: str = "ru",
    lift_to_detect: float = 0.2,
) -> page.Html:
    """:func:`ab_verdict` on the ``total`` row of ``arm_tests`` and the MQL row of
    ``duration_plan``, as a conclusion paragraph."""
    from analytics.metrics.abtest import TOTAL

    totals = tests[tests["week"] == TOTAL]
    if totals.empty:
        return page.conclusion(
            AB_WORDS["ru" if str(locale).startswith("ru") else "en"]["no_traffic"].format(
                treatment=treatment, control=control, metric="MQL", lift="", p=""
            )
        )
    days = plan["days"].get("MQL") if "days" in plan else None
    return page.conclusion(
        ab_verdict(
            totals.iloc[0].to_dict(),
            control,
            treatment,
            days_run,
            days,
            locale,
            lift_to_detect=lift_to_detect,
        )
    )


def week_text(week, locale: str) -> str:
    """An ISO week label or a week's first day as the locale's date range by Babel:
    ``2025-W52`` or ``2025-12-22`` → ``22–28 дек. 2025 г.``; anything else unchanged."""
    from datetime import date, timedelta

    text = str(week)
    try:
        if len(text) == 8 and text[4:6] == "-W":
            start = date.fromisocalendar(int(text[:4]), int(text[6:]), 1)
        else:
            start = date.fromisoformat(text[:10])
    except ValueError:
        return text
    return format_period(start, start + timedelta(days=6), locale)


CHANGE_WORDS = {
    "ru": {
        "title": "Что изменилось",
        "split": "{label}: {change} к предыдущему периоду, больше всего за счёт канала "
        "«{channel}» ({part}).",
        "split_flat": "{label}: без изменений к предыдущему периоду.",
        "anomaly": "Необычно: {label} — {value} за неделю {week}, обычный диапазон последних "
        "{weeks} недель {low} – {high}.",
        "campaign_anomaly": "Необычно в кампании «{campaign}» (канал «{channel}»): "
        "{label} — {value} за неделю {week}, в среднем за предыдущие {weeks} недель "
        "{mean} (обычный диапазон {low} – {high}).",
        "no_anomaly": "Необычных значений нет: выручка, продажи, расходы, лиды, MQL и SQL "
        "последней недели в обычном диапазоне предыдущих {weeks} недель.",
        "movers": "Сильнее всего изменились",
        "metric": "Показатель",
        "channel": "Канал",
        "campaign": "Кампания",
        "before": "Было",
        "after": "Стало",
        "change": "Изменение",
        "share": "Доля в изменении итога",
        "split_title": "{label}: вклад каналов в изменение",
        "other": "Прочее",
        "undetermined": "(без метки)",
        "note": "Вклады каналов складываются ровно в изменение итога; «Прочее» — то, что "
        "не разнесено по каналам. Диапазон итогов — среднее ± 2 стандартных отклонения, "
        "кампаний — ± 3 при отличии от среднего не меньше чем на 25 %. Выручка и продажи — "
        "по дате выигрыша сделки, в кампании лида.",
    },
    "en": {
        "title": "What changed",
        "split": "{label}: {change} vs the previous period, mostly from {channel} ({part}).",
        "split_flat": "{label}: unchanged vs the previous period.",
        "anomaly": "Unusual: {label} at {value} in the week {week}; the normal range of the last "
        "{weeks} weeks is {low} – {high}.",
        "campaign_anomaly": "Unusual in campaign «{campaign}» ({channel}): {label} at {value} "
        "in the week {week}, against {mean} on average over the {weeks} weeks before "
        "(normal range {low} – {high}).",
        "no_anomaly": "Nothing unusual: revenue, sales, spend, leads, MQL and SQL of the last "
        "week are within the normal range of the {weeks} weeks before.",
        "movers": "Biggest movers",
        "metric": "Metric",
        "channel": "Channel",
        "campaign": "Campaign",
        "before": "Before",
        "after": "Now",
        "change": "Change",
        "share": "Share of the total's change",
        "split_title": "{label}: channels' part of the change",
        "other": "Other",
        "undetermined": "(no tag)",
        "note": "The channels' parts add up exactly to the total's change; Other is what no "
        "channel carries. The totals' range is the mean ± 2 standard deviations, the "
        "campaigns' ± 3 and at least 25 % off the mean. Revenue and sales are booked on the "
        "day the deal is won, in the campaign of its lead.",
    },
}


CHANGE_ROLES = ("ceo", "marketing", "analyst")
"""Roles whose page and e-mail show what changed (not sales)."""


def _change_words(locale: str) -> dict:
    return CHANGE_WORDS["ru" if str(locale).startswith("ru") else "en"]


def _channel_name(channel: str, locale: str) -> str:
    words = _change_words(locale)
    return words["other"] if channel == "other" else channel_label(channel, locale)


def _campaign_name(campaign, locale: str) -> str:
    """A campaign as the ad account names it; ``(без метки)`` for ``undetermined``."""
    if campaign is None or (isinstance(campaign, float) and campaign != campaign):
        return _change_words(locale)["undetermined"]
    return _change_words(locale)["undetermined"] if campaign == "undetermined" else str(campaign)


def _in_sentence(label: str) -> str:
    """A catalogue label inside a sentence: «расходы на рекламу», but «ROMI», «MQL лидов»."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def campaign_anomaly_sentences(snapshot, locale: str) -> list[str]:
    """One sentence per campaign flagged by
    :func:`analytics.metrics.changes.campaign_anomalies` (the campaign named)."""
    from analytics.metrics.changes import campaign_anomalies

    words = _change_words(locale)
    flagged = campaign_anomalies(snapshot)
    weekly = pd.DataFrame.from_records(snapshot.data.get("campaign_weekly") or [])
    weeks = min(12, max(weekly["week_start"].nunique() - 1, 0)) if not weekly.empty else 0
    out = []
    for row in flagged[flagged["anomaly"]].itertuples() if not flagged.empty else []:
        info = metric(row.metric)
        out.append(
            words["campaign_anomaly"].format(
                campaign=_campaign_name(row.campaign, locale),
                channel=channel_label(row.channel, locale),
                label=_in_sentence(info.label(locale)),
                value=format_value(row.value, info.unit, locale),
                week=week_text(row.week, locale),
                weeks=weeks,
                mean=format_value(row.mean, info.unit, locale),
                low=format_value(max(row.low, 0.0), info.unit, locale),
                high=format_value(row.high, info.unit, locale),
            )
        )
    return out


def what_changed_sentences(snapshot, locale: str) -> list[str]:
    """The conclusions of what changed, for the page and the e-mail: the change of
    leads and revenue and the channel that carried most of it, the totals' anomalies
    (or that there are none) and every campaign anomaly, named."""
    from analytics.metrics.changes import anomalies, decompose_change

    words = _change_words(locale)
    sentences = []
    for key in ("leads", "revenue"):
        info = metric(key)
        try:
            frame = decompose_change(snapshot, key)
        except (ValueError, KeyError):
            continue
        delta = float(frame["change"].sum())
        if delta == 0 or frame.empty:
            sentences.append(words["split_flat"].format(label=info.label(locale)))
            continue
        same_sign = frame[frame["change"] * delta > 0]
        lead = same_sign.iloc[0] if not same_sign.empty else frame.iloc[0]
        sentences.append(
            words["split"].format(
                label=info.label(locale),
                change=format_change(delta, locale, unit=info.unit),
                channel=_channel_name(lead["channel"], locale),
                part=format_change(lead["change"], locale, unit=info.unit),
            )
        )
    flagged = anomalies(snapshot)
    weeks = min(12, max(len(snapshot.data.get("weekly") or []) - 1, 0))
    campaigns = campaign_anomaly_sentences(snapshot, locale)
    if not flagged.empty and flagged["anomaly"].any():
        for row in flagged[flagged["anomaly"]].itertuples():
            unit = metric(row.metric).unit
            sentences.append(
                words["anomaly"].format(
                    label=_in_sentence(metric(row.metric).label(locale)),
                    value=format_value(row.value, unit, locale),
                    week=week_text(row.week, locale),
                    weeks=weeks,
                    low=format_value(max(row.low, 0.0), unit, locale),
                    high=format_value(row.high, unit, locale),
                )
            )
    elif not flagged.empty and not campaigns:
        sentences.append(words["no_anomaly"].format(weeks=weeks))
    return sentences + campaigns


def movers_frame(snapshot, locale: str, top: int = 5) -> pd.DataFrame:
    """:func:`analytics.metrics.changes.movers` with labels for people: metric (catalogue),
    channel (``params/channels.yaml``), campaign (``(без метки)`` for none)."""
    from analytics.metrics.changes import movers

    frame = movers(snapshot, top=top)
    if frame.empty:
        return frame
    return frame.assign(
        metric=[metric(k).label(locale) for k in frame["metric"]],
        channel=[_channel_name(c, locale) for c in frame["channel"]],
        campaign=[None if c is None else _campaign_name(c, locale) for c in frame["campaign"]],
    )


def what_changed_section(snapshot, locale: str, role: str = "ceo") -> page.Html:
    """Changes in leads and revenue split by channel, anomalies (of the totals and
    per campaign), biggest movers by metric × channel × campaign (an empty fragment
    for a role not in :data:`CHANGE_ROLES`)."""
    if role not in CHANGE_ROLES:
        return page.Html("")
    from analytics.metrics.changes import decompose_change

    words = _change_words(locale)
    out = page.heading(words["title"])
    splits = []
    for key in ("leads", "revenue"):
        info = metric(key)
        try:
            frame = decompose_change(snapshot, key)
        except (ValueError, KeyError):
            continue
        frame = frame.assign(channel=[_channel_name(c, locale) for c in frame["channel"]])
        splits.append(
            page.heading(words["split_title"].format(label=info.label(locale)), 3)
            + page.table(
                frame,
                [
                    page.Column("channel", words["channel"]),
                    page.Column("previous", words["before"], info.unit),
                    page.Column("value", words["after"], info.unit),
                    page.Column("change", words["change"], _change_unit(info.unit), "neutral"),
                ],
                locale,
            )
        )
    out += "".join(page.conclusion(s) for s in what_changed_sentences(snapshot, locale))
    top = movers_frame(snapshot, locale)
    if not top.empty:
        columns = [
            page.Column("metric", words["metric"]),
            page.Column("channel", words["channel"]),
        ]
        if top["campaign"].notna().any():
            columns.append(page.Column("campaign", words["campaign"]))
        columns += [
            page.Column("change_pct", words["change"], "change", "neutral"),
            page.Column("share_pct", words["share"], "change", "neutral"),
        ]
        out += page.heading(words["movers"], 3) + page.table(top, columns, locale)
    return out + "".join(splits) + page.note(words["note"])


def _change_unit(unit: str) -> str:
    """Column unit of an absolute change (signed money or count)."""
    return {"RUB": "signed_RUB", "count": "signed_count"}.get(unit, "change")
