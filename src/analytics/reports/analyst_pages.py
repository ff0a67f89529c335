"""Sections of the analyst's pages (notebooks 01–05 and 08), in the role's language.

The analyst reads the same rules as leadership: every visible word in the
page's language (``ru`` or ``en``, one :data:`WORDS` table here), every figure
formatted by Babel (:mod:`analytics.reports.formatting`), an undefined figure
a dash with a footnote, no snake_case headers, no index columns, tables that
scroll inside their own box on a phone. Headline figures (revenue, spend,
ROMI, CAC, leads, MQL, SQL…) come from the period snapshot
(:mod:`analytics.metrics.snapshot`), labelled from the catalogue
(:mod:`analytics.metrics.catalogue`); breakdowns the snapshot does not hold
(cohorts, data-quality checks, segments, model quality) come from their metric
modules. Each section opens with one sentence computed from the data.

A notebook calls each function in one line; the result is an
:class:`~analytics.reports.page.Html` fragment (figures embedded as PNG).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from babel.dates import format_date

from analytics.metrics.catalogue import metric
from analytics.reports import page
from analytics.reports.formatting import (
    format_change,
    format_period,
    format_value,
    is_undefined,
)
from analytics.reports.summary import channel_frame, figure_html, trend_sentence
from analytics.sources.channels import channel_label

WORDS = {
    "ru": {
        "period_window": "Окно: {window}; лидов в нём: {leads}.",
        "yes": "да",
        "no": "нет",
        "channel": "Канал",
        # 01 funnel
        "funnel_title": "Воронка: визиты → лиды → MQL → SQL → продажи",
        "funnel_lead": "Лидов за период: {leads} из {visits} визитов (CR {cr}){change}; "
        "из них MQL — {mql}, SQL — {sql}.",
        "funnel_more": ", на {change} больше, чем в предыдущем",
        "funnel_less": ", на {change} меньше, чем в предыдущем",
        "booked": "По дате события: выручка, продажи, расходы",
        "booked_note": "Выручка и продажи — по дню выигрыша сделки, расходы — по дню оплаты; "
        "те же цифры, что в письме и на странице ключевых показателей (снимок периода).",
        "cohort_title": "Лиды периода (когорта)",
        "cohort_lead": "Лиды периода уже принесли продаж: {sales}, на {revenue}; "
        "ROMI когорты пока {romi}.",
        "cohort_none": "Лиды периода ещё не принесли ни одной продажи: когорта только "
        "начинает созревать.",
        "cohort_note": "Лиды, созданные в периоде, и всё, чего достигли их сделки с тех пор: "
        "продажи, выручка и ROMI когорты растут по мере её созревания.",
        "stages": "Этапы воронки",
        "stages_chart": "Воронка периода",
        "weeks": "Последние 12 недель",
        "weeks_lead": "Лиды, MQL и SQL по неделям",
        "weeks_money": "Выручка и расходы по неделям",
        "by_channel": "По каналам",
        "funnel_channel_lead": "Больше всего лидов дал канал «{top}» ({leads} из {total}).",
        "funnel_channel_none": "За период нет лидов ни из одного канала.",
        "channel_note": "«Без визита» — лиды без отслеженного визита. У каналов без расходов "
        "нет стоимости лида: прочерк.",
        # 02 KPI
        "kpi_title": "Ключевые показатели: выручка, маркетинг и продажи",
        "kpi_romi": " ROMI периода: {romi}, ДРР: {drr}.",
        "kpi_weekly": "Выручка и расходы по неделям",
        "kpi_marketing": "Маркетинг: лиды, MQL, SQL и их стоимость по каналам",
        "kpi_leads_chart": "Лиды по каналам",
        "kpi_compare": "Период против предыдущего",
        "kpi_compare_lead": "Сильнее всего вырос показатель «{up}» ({up_change}), "
        "сильнее всего упал «{down}» ({down_change}).",
        "kpi_compare_none": "С предыдущим периодом сравнить нельзя.",
        "kpi_compare_chart": "Изменение к предыдущему периоду, %",
        "kpi_compare_note": "Показатели по дате события сравнимы от недели к неделе; "
        "показатели когорты (MQL, SQL и их стоимость) последних недель ещё растут.",
        "non_target": "Продажи: нецелевые лиды",
        "non_target_lead": "Нецелевых лидов: {n} из {leads} ({share}); на них ушло {hours} "
        "работы менеджеров на сумму {cost}.",
        "non_target_none": "Нецелевых лидов за период нет.",
        "non_target_cols": ("Канал", "Лиды", "Нецелевые", "Доля нецелевых", "Часы", "Стоимость"),
        "hours": "{h} ч",
        # 03 data quality
        "quality_title": "Качество данных: можно ли верить цифрам",
        "quality_warn": "Выше порога {n} из {m} проверок: {names}.",
        "quality_ok": "Все {m} проверок в пределах порогов.",
        "checks": "Проверки",
        "check_cols": ("Проверка", "Нарушений", "Из", "Доля", "Порог", "Статус"),
        "status": {"warn": "выше порога", "ok": "в норме"},
        "undetermined": "Сделки без кампании",
        "undetermined_lead": "Без кампании {n} из {deals} сделок периода ({share}).",
        "undetermined_none": "За период нет сделок.",
        "undetermined_cols": (
            "Сделки",
            "Всего",
            "Без кампании",
            "Доля",
            "Выручка",
            "Выручка без кампании",
            "Доля выручки",
        ),
        "deal_status": {
            "all": "Все",
            "open": "Открытые",
            "won": "Выигранные",
            "lost": "Проигранные",
        },
        "mvs": "Маркетинг против продаж, 12 недель",
        "mvs_lead": "За 12 недель лидов {leads}, сделок в CRM {deals}: расхождение {gap}.",
        "mvs_leads": "Лиды (маркетинг)",
        "mvs_deals": "Сделки в CRM (продажи)",
        "loads": "Загрузки и карантин",
        "loads_lead": "Загружено файлов: {files}, сходятся (строк на входе = загружено + "
        "в карантине): {balanced}; в карантине строк: {quarantined}.",
        "load_cols": ("Таблица", "Файл", "Строк на входе", "Загружено", "В карантине", "Сходится"),
        "quarantine_none": "В карантине нет ни одной строки.",
        "quarantine_cols": ("Таблица", "Столбец", "Строк", "Пример причины"),
        "defects": "Проверки против внесённых генератором дефектов (демо)",
        "defects_lead": "Найдено {found} из {injected} внесённых дефектов.",
        "defect_cols": ("Дефект", "Внесено", "Найдено", "База", "База найдена", "Доля, факт"),
        # 04 cohorts
        "cohorts_title": "Когорты посетителей: от первого визита к лиду и продаже",
        "cohorts_lead": "За {weeks} недели после первого визита заявку оставляют в среднем "
        "{cr} посетителей (когорты, прожившие столько); лучше всех — пришедшие из канала "
        "«{best}» ({best_cr}).",
        "cohorts_lead_young": "Когорты ещё молоды: ни одна не прожила {weeks} недель.",
        "sizes": "Размер когорт по первому каналу",
        "sizes_note": "Строка — неделя первых визитов, разбитая по каналу, который привёл "
        "посетителей; «Итого» — все посетители когорты.",
        "cohort": "Когорта",
        "total": "Итого",
        "cr_lead": "Накопленная конверсия посетитель → лид, %",
        "weeks_since": "Недель с первого визита",
        "months_since": "Месяцев с первого визита",
        "by_first_channel": "Посетитель → лид по первому каналу (среднее по когортам), %",
        "by_first_channel_chart": "Посетитель → лид за {weeks} нед. по первому каналу",
        "cr_sale": "Помесячные когорты: накопленная конверсия посетитель → продажа, %",
        "cr_sale_note": "В B2B продажи занимают месяцы, поэтому их смотрим по месяцу первого "
        "визита; пустые клетки — возраст, которого когорта ещё не достигла.",
        # 05 scoring
        "scoring_title": "Скоринг лидов: кому звонить первым",
        "scoring_lead": "Модель {version} ({how}) различает лиды с ROC-AUC {auc} "
        "(0,5 — не лучше случайного); переобучение {retrain}.",
        "how": {True: "переобучена", False: "загружена"},
        "retrain": {True: "рекомендуется", False: "не требуется"},
        "quality": "Качество на более поздних лидах (из карточки модели)",
        "quality_cols": ("Показатель", "Значение"),
        "calibration": "Калибровка на проверочных лидах",
        "calibration_x": "предсказанная вероятность SQL",
        "calibration_y": "фактическая доля SQL",
        "drift": "Сдвиг признаков (PSI)",
        "drift_lead": "Сильнее всего сдвинулся признак «{feature}» (PSI {psi}; "
        "ниже 0,1 — стабильно, выше 0,25 — большой сдвиг).",
        "drift_none": "Данных для сравнения признаков пока нет.",
        "drift_cols": ("Признак", "PSI", "Важность"),
        "score_row": "Балл модели",
        "importance": "Важность признаков",
        "importance_cols": ("Признак", "Важность"),
        "model_metrics": {
            "leads": "Проверочных лидов",
            "sql": "Из них дошли до SQL",
            "base_rate": "Доля SQL",
            "roc_auc": "ROC-AUC",
            "roc_auc_without_similarity": "ROC-AUC без сходства с прошлыми сделками",
            "pr_auc": "PR-AUC",
            "brier": "Brier (ниже — лучше)",
            "brier_base_rate": "Brier при одной доле для всех",
            "oracle_roc_auc": "ROC-AUC истинных вероятностей (демо)",
            "oracle_pr_auc": "PR-AUC истинных вероятностей (демо)",
            "oracle_brier": "Brier истинных вероятностей (демо)",
            "lift_at": "Lift в верхних {n} % лидов",
            "capture_at": "Доля всех SQL в верхних {n} % лидов",
        },
        # 08 segments
        "segments_title": "Сегменты, прибыльность каналов и косвенное влияние рекламы",
        "segments_lead": "Лучшая конверсия лид → продажа — у сегмента «{segment}» "
        "({dimension}, {cr}); самый высокий ROMI — у канала «{channel}» ({romi}).",
        "segments_lead_noromi": "Лучшая конверсия лид → продажа — у сегмента «{segment}» "
        "({dimension}, {cr}).",
        "segments_none": "В окне нет лидов.",
        "dimension": {"region": "Регион", "industry": "Отрасль", "company_size": "Размер компании"},
        "segment_cols": ("Лиды", "Продажи", "CR лид → продажа", "CAC", "Средний чек", "ROMI"),
        "segment_chart": "CR лид → продажа, %",
        "profit": "Прибыльность каналов",
        "profit_cols": ("Расходы", "Лиды", "Продажи", "Выручка", "Прибыль", "ROMI", "ДРР", "CAC"),
        "profit_chart": "ROMI по каналам, %",
        "profit_note": "Прибыль = выручка лидов канала − расходы; ROMI = (выручка − расходы) / "
        "расходы × 100 %; у каналов без расходов ROMI нет: прочерк.",
        "influence": "Прямое и косвенное влияние групп объявлений",
        "influence_lead": "Группа «{group}» участвовала в {sales} продажах, из них последним "
        "платным касанием — в {direct}.",
        "influence_none": "В окне нет продаж с платными касаниями.",
        "influence_cols": (
            "Кампания",
            "Группа объявлений",
            "Прямые продажи",
            "Содействие",
            "Всего с участием",
            "Выручка с участием",
        ),
        "influence_note": "Прямые — группа была последним платным касанием; содействие — "
        "касалась раньше в пути клиента и не видна в отчёте по последнему клику.",
    },
    "en": {
        "period_window": "Window: {window}; leads in it: {leads}.",
        "yes": "yes",
        "no": "no",
        "channel": "Channel",
        "funnel_title": "Funnel: visits → leads → MQL → SQL → sales",
        "funnel_lead": "{leads} leads in the period from {visits} visits (CR {cr}){change}; "
        "{mql} of them became MQL and {sql} SQL.",
        "funnel_more": ", {change} more than in the previous period",
        "funnel_less": ", {change} fewer than in the previous period",
        "booked": "Booked in the period: revenue, sales, spend",
        "booked_note": "Revenue and sales on the day the deal is won, spend on the day it is "
        "paid: the figures of the e-mail and the KPI page (the period snapshot).",
        "cohort_title": "The period's leads (cohort)",
        "cohort_lead": "The period's leads have brought {sales} sales so far, worth {revenue}; "
        "the cohort's ROMI is {romi} for now.",
        "cohort_none": "The period's leads have not brought a sale yet: the cohort has only "
        "started to mature.",
        "cohort_note": "The leads created in the period and whatever their deals reached "
        "since: the cohort's sales, revenue and ROMI grow as it matures.",
        "stages": "Funnel stages",
        "stages_chart": "The period's funnel",
        "weeks": "Last 12 weeks",
        "weeks_lead": "Leads, MQL and SQL by week",
        "weeks_money": "Revenue and spend by week",
        "by_channel": "By channel",
        "funnel_channel_lead": "Most leads came from {top} ({leads} of {total}).",
        "funnel_channel_none": "No channel brought leads in the period.",
        "channel_note": "No visit: leads without a tracked visit. Channels without spend have "
        "no cost per lead: a dash.",
        "kpi_title": "KPI: revenue, marketing and sales",
        "kpi_romi": " ROMI of the period: {romi}, ad cost share (ДРР): {drr}.",
        "kpi_weekly": "Revenue and spend by week",
        "kpi_marketing": "Marketing: leads, MQL, SQL and their cost by channel",
        "kpi_leads_chart": "Leads by channel",
        "kpi_compare": "This period against the previous one",
        "kpi_compare_lead": "{up} rose the most ({up_change}), {down} fell the most "
        "({down_change}).",
        "kpi_compare_none": "There is no previous period to compare with.",
        "kpi_compare_chart": "Change vs the previous period, %",
        "kpi_compare_note": "Booked figures are comparable week to week; cohort figures (MQL, "
        "SQL and their cost) of the latest weeks are still growing.",
        "non_target": "Sales: non-target leads",
        "non_target_lead": "{n} of {leads} leads were non-target ({share}); they took {hours} "
        "of the managers' time, worth {cost}.",
        "non_target_none": "No non-target leads in the period.",
        "non_target_cols": ("Channel", "Leads", "Non-target", "Non-target share", "Hours", "Cost"),
        "hours": "{h} h",
        "quality_title": "Data quality: can the figures be trusted?",
        "quality_warn": "{n} of {m} checks are above their threshold: {names}.",
        "quality_ok": "All {m} checks are within their thresholds.",
        "checks": "Checks",
        "check_cols": ("Check", "Failing", "Out of", "Share", "Threshold", "Status"),
        "status": {"warn": "above threshold", "ok": "ok"},
        "undetermined": "Deals without a campaign",
        "undetermined_lead": "{n} of the period's {deals} deals carry no campaign ({share}).",
        "undetermined_none": "No deals in the period.",
        "undetermined_cols": (
            "Deals",
            "All",
            "No campaign",
            "Share",
            "Revenue",
            "Revenue without campaign",
            "Revenue share",
        ),
        "deal_status": {"all": "All", "open": "Open", "won": "Won", "lost": "Lost"},
        "mvs": "Marketing vs sales, 12 weeks",
        "mvs_lead": "In 12 weeks: {leads} leads, {deals} CRM deals; a gap of {gap}.",
        "mvs_leads": "Leads (marketing)",
        "mvs_deals": "CRM deals (sales)",
        "loads": "Loads and quarantine",
        "loads_lead": "{files} files loaded, {balanced} of them balance (rows in = loaded + "
        "quarantined); {quarantined} rows quarantined.",
        "load_cols": ("Table", "File", "Rows in", "Loaded", "Quarantined", "Balanced"),
        "quarantine_none": "No row is in quarantine.",
        "quarantine_cols": ("Table", "Column", "Rows", "Example reason"),
        "defects": "Checks against the defects the generator injected (demo)",
        "defects_lead": "{found} of {injected} injected defects found.",
        "defect_cols": ("Defect", "Injected", "Found", "Base", "Base found", "Found rate"),
        "cohorts_title": "Visitor cohorts: from the first visit to a lead and a sale",
        "cohorts_lead": "Within {weeks} weeks of their first visit, {cr} of visitors leave a "
        "request on average (cohorts that old); the best are those first brought by {best} "
        "({best_cr}).",
        "cohorts_lead_young": "The cohorts are young: none has lived {weeks} weeks yet.",
        "sizes": "Cohort sizes by first channel",
        "sizes_note": "Each row is a week of first visits split by the channel that brought "
        "the visitors; Total is every visitor of the cohort.",
        "cohort": "Cohort",
        "total": "Total",
        "cr_lead": "Cumulative conversion visitor → lead, %",
        "weeks_since": "Weeks since the first visit",
        "months_since": "Months since the first visit",
        "by_first_channel": "Visitor → lead by first channel (mean over cohorts), %",
        "by_first_channel_chart": "Visitor → lead within {weeks} weeks, by first channel",
        "cr_sale": "Monthly cohorts: cumulative conversion visitor → sale, %",
        "cr_sale_note": "B2B sales take months, so they are followed by month of first visit; "
        "empty cells are ages the cohort has not reached yet.",
        "scoring_title": "Lead scoring: who to call first",
        "scoring_lead": "Model {version} ({how}) ranks leads with ROC-AUC {auc} (0.5 is no "
        "better than chance); retraining is {retrain}.",
        "how": {True: "retrained", False: "loaded"},
        "retrain": {True: "recommended", False: "not needed"},
        "quality": "Quality on later leads (from the model card)",
        "quality_cols": ("Measure", "Value"),
        "calibration": "Calibration on validation leads",
        "calibration_x": "predicted chance of SQL",
        "calibration_y": "observed SQL rate",
        "drift": "Feature drift (PSI)",
        "drift_lead": "The feature that moved most is {feature} (PSI {psi}; below 0.1 is "
        "stable, above 0.25 a large shift).",
        "drift_none": "No data to compare the features yet.",
        "drift_cols": ("Feature", "PSI", "Importance"),
        "score_row": "Model score",
        "importance": "Feature importance",
        "importance_cols": ("Feature", "Importance"),
        "model_metrics": {
            "leads": "Validation leads",
            "sql": "Of them reached SQL",
            "base_rate": "SQL share",
            "roc_auc": "ROC-AUC",
            "roc_auc_without_similarity": "ROC-AUC without the similarity to past deals",
            "pr_auc": "PR-AUC",
            "brier": "Brier (lower is better)",
            "brier_base_rate": "Brier of one rate for everyone",
            "oracle_roc_auc": "ROC-AUC of the true chances (demo)",
            "oracle_pr_auc": "PR-AUC of the true chances (demo)",
            "oracle_brier": "Brier of the true chances (demo)",
            "lift_at": "Lift in the top {n}% of leads",
            "capture_at": "Share of all SQL in the top {n}% of leads",
        },
        "segments_title": "Segments, channel profitability and the indirect influence of ads",
        "segments_lead": "The best lead → sale conversion is in {segment} ({dimension}, {cr}); "
        "the highest ROMI is {channel}'s ({romi}).",
        "segments_lead_noromi": "The best lead → sale conversion is in {segment} "
        "({dimension}, {cr}).",
        "segments_none": "No leads in the window.",
        "dimension": {"region": "Region", "industry": "Industry", "company_size": "Company size"},
        "segment_cols": ("Leads", "Sales", "CR lead → sale", "CAC", "Average deal", "ROMI"),
        "segment_chart": "CR lead → sale, %",
        "profit": "Channel profitability",
        "profit_cols": ("Ad spend", "Leads", "Sales", "Revenue", "Profit", "ROMI", "ДРР", "CAC"),
        "profit_chart": "ROMI by channel, %",
        "profit_note": "Profit = revenue of the channel's leads − spend; ROMI = (revenue − "
        "spend) / spend × 100%; channels without spend have no ROMI: a dash.",
        "influence": "Direct and indirect influence of ad groups",
        "influence_lead": "Ad group {group} took part in {sales} sales, {direct} of them as "
        "the last paid touch.",
        "influence_none": "No sales with paid touches in the window.",
        "influence_cols": (
            "Campaign",
            "Ad group",
            "Direct sales",
            "Assisted",
            "Influenced in all",
            "Influenced revenue",
        ),
        "influence_note": "Direct: the ad group was the last paid touch; assisted: it touched "
        "earlier in the path and is invisible in a last-click report.",
    },
}


def words(locale: str) -> dict:
    """The word table of ``locale`` (ru or en)."""
    return WORDS["ru" if str(locale).lower().startswith("ru") else "en"]


def page_title(snapshot, key: str, locale: str) -> page.Html:
    """``<h1>`` of an analyst page (``key`` of :data:`WORDS`, e.g. ``funnel_title``)
    and the period in words."""
    from analytics.reports.summary import title

    return title(snapshot, "analyst", locale, words(locale)[key])


def _columns(names: Sequence[str], headers: Sequence[str], units: Sequence) -> list[page.Column]:
    return [
        page.Column(name, header, unit)
        for name, header, unit in zip(names, headers, units, strict=True)
    ]


# --------------------------------------------------------------------------- 01 funnel

FUNNEL_KEYS = (
    "spend",
    "visits",
    "visitors",
    "leads",
    "leads_form",
    "leads_call",
    "leads_chat",
    "mql",
    "sql_leads",
    "sales_cohort",
    "revenue_cohort",
    "cr_visit_lead",
    "cr_lead_mql",
    "cr_mql_sql",
    "cr_sql_sale",
    "cpl",
    "cost_per_mql",
    "cost_per_sql",
    "cac_cohort",
    "drr_cohort",
    "romi_cohort",
)
"""The period's lead cohort, in funnel order (catalogue keys of the snapshot)."""

BOOKED_KEYS = ("revenue", "sales", "spend", "romi", "cac", "drr")
"""Booked figures of the period: the e-mail's and the KPI page's."""

STAGES = ("leads", "mql", "sql_leads", "sales_cohort")
"""Funnel stages charted, in order (catalogue keys); visits are left out, their bar
would flatten the others (the conclusion gives them)."""

CHANNEL_FUNNEL = (
    "spend",
    "visits",
    "leads",
    "mql",
    "sql_leads",
    "cpl",
    "cost_per_mql",
    "cost_per_sql",
    "sales_cohort",
    "revenue_cohort",
    "romi_cohort",
)
"""Channel columns of the funnel page (the snapshot's channel figures)."""


def funnel_conclusion(snapshot, locale: str) -> page.Html:
    """``6 leads in the period from 370 visits (CR 1.6%), 20.0% more than…; 4 MQL, 3 SQL.``

    Every figure is the snapshot's: leads, visits, ``cr_visit_lead``, the
    leads' relative change vs the previous period, MQL and SQL.
    """
    w = words(locale)
    leads = snapshot.metric("leads")
    change = ""
    relative = leads.get("delta_pct")
    if not is_undefined(relative) and round(relative, 1) != 0:
        template = w["funnel_more"] if relative > 0 else w["funnel_less"]
        change = template.format(change=format_value(abs(relative), "percent", locale))
    return page.conclusion(
        w["funnel_lead"].format(
            leads=format_value(leads.get("value"), "count", locale),
            visits=format_value(snapshot.value("visits"), "count", locale),
            cr=format_value(snapshot.value("cr_visit_lead"), "percent", locale),
            change=change,
            mql=format_value(snapshot.value("mql"), "count", locale),
            sql=format_value(snapshot.value("sql_leads"), "count", locale),
        )
    )


def booked_section(snapshot, locale: str) -> page.Html:
    """The booked figures of the period (snapshot) with their change."""
    w = words(locale)
    return (
        page.heading(w["booked"])
        + page.conclusion(trend_sentence(snapshot, "revenue", locale))
        + page.snapshot_table(snapshot, BOOKED_KEYS, locale)
        + page.note(w["booked_note"])
    )


def cohort_conclusion(snapshot, locale: str) -> page.Html:
    """What the period's leads have brought so far: cohort sales, revenue and ROMI
    (the snapshot's ``sales_cohort``, ``revenue_cohort``, ``romi_cohort``)."""
    w = words(locale)
    sales = snapshot.value("sales_cohort")
    if is_undefined(sales) or sales == 0:
        return page.conclusion(w["cohort_none"])
    return page.conclusion(
        w["cohort_lead"].format(
            sales=format_value(sales, "count", locale),
            revenue=format_value(snapshot.value("revenue_cohort"), "RUB", locale),
            romi=format_value(snapshot.value("romi_cohort"), "percent", locale),
        )
    )


def cohort_section(snapshot, locale: str) -> page.Html:
    """The period's lead cohort: every funnel figure with its formula (snapshot)."""
    w = words(locale)
    return (
        page.heading(w["cohort_title"])
        + cohort_conclusion(snapshot, locale)
        + page.snapshot_table(snapshot, FUNNEL_KEYS, locale, formula=True)
        + page.note(w["cohort_note"])
    )


def stages_section(snapshot, locale: str) -> page.Html:
    """Bars of leads, MQL, SQL and cohort sales of the period (snapshot)."""
    w = words(locale)
    labels = [metric(k).label(locale) for k in STAGES]
    values = [snapshot.value(k) for k in STAGES]
    fig = page.bar_chart(labels, values, "count", locale, title=w["stages_chart"])
    return page.heading(w["stages"]) + figure_html(fig, w["stages_chart"])


def weeks_section(snapshot, locale: str) -> page.Html:
    """The snapshot's 12 weeks: leads/MQL/SQL, then revenue and spend."""
    w = words(locale)
    counts = page.weekly_chart(snapshot, ("leads", "mql", "sql_leads"), locale, w["weeks_lead"])
    money = page.weekly_chart(snapshot, ("revenue", "spend"), locale, w["weeks_money"])
    return (
        page.heading(w["weeks"])
        + page.conclusion(trend_sentence(snapshot, "leads", locale))
        + figure_html(counts, w["weeks_lead"])
        + figure_html(money, w["weeks_money"])
    )


def channel_section(
    snapshot, locale: str, keys: Sequence[str] = CHANNEL_FUNNEL, heading: str | None = None
) -> page.Html:
    """The snapshot's channels: which brought most leads, then ``keys`` per channel.

    A channel without spend shows a dash for its cost ratios
    (:func:`analytics.reports.summary.channel_frame`).
    """
    w = words(locale)
    frame = channel_frame(snapshot, locale, keys)
    out = page.heading(heading or w["by_channel"])
    if frame.empty or frame["leads"].fillna(0).sum() == 0:
        return out + page.conclusion(w["funnel_channel_none"])
    frame = frame.sort_values(["leads", "spend"], ascending=False, kind="stable")
    top = frame.iloc[0]
    out += page.conclusion(
        w["funnel_channel_lead"].format(
            top=top["channel"],
            leads=format_value(top["leads"], "count", locale),
            total=format_value(frame["leads"].fillna(0).sum(), "count", locale),
        )
    )
    columns = [page.Column("channel", w["channel"]), *keys]
    return out + page.table(frame, columns, locale) + page.note(w["channel_note"])


# --------------------------------------------------------------------------- 02 KPI

COMPARED = (
    "revenue",
    "sales",
    "spend",
    "romi",
    "drr",
    "cac",
    "leads",
    "cpl",
    "mql",
    "sql_leads",
    "cost_per_mql",
    "cost_per_sql",
    "cr_lead_mql",
    "cr_mql_sql",
)
"""Figures compared with the previous period on the KPI page."""

CHANNEL_KPI = (
    "spend",
    "leads",
    "mql",
    "sql_leads",
    "cpl",
    "cost_per_mql",
    "cost_per_sql",
    "cr_lead_mql",
    "cr_mql_sql",
    "drr",
)
"""Channel columns of the KPI page."""


def kpi_conclusion(snapshot, locale: str) -> page.Html:
    """Revenue's change (:func:`~analytics.reports.summary.trend_sentence`), ROMI and ДРР."""
    w = words(locale)
    text = trend_sentence(snapshot, "revenue", locale) + w["kpi_romi"].format(
        romi=format_value(snapshot.value("romi"), "percent", locale),
        drr=format_value(snapshot.value("drr"), "percent", locale),
    )
    return page.conclusion(text)


def kpi_weekly_section(snapshot, locale: str) -> page.Html:
    """Booked revenue and spend of the snapshot's 12 weeks."""
    w = words(locale)
    fig = page.weekly_chart(snapshot, ("revenue", "spend"), locale)
    return page.heading(w["kpi_weekly"]) + figure_html(fig, w["kpi_weekly"])


def kpi_channel_section(snapshot, locale: str) -> page.Html:
    """Leads, MQL, SQL, their cost and conversions by channel, with a leads chart."""
    w = words(locale)
    out = channel_section(snapshot, locale, CHANNEL_KPI, w["kpi_marketing"])
    frame = channel_frame(snapshot, locale, ("leads",)).sort_values("leads", ascending=False)
    frame = frame[frame["leads"].fillna(0) > 0]
    if not frame.empty:
        fig = page.bar_chart(
            list(frame["channel"]), list(frame["leads"]), "count", locale, w["kpi_leads_chart"]
        )
        out += figure_html(fig, w["kpi_leads_chart"])
    return out


def biggest_changes(snapshot, keys: Sequence[str] = COMPARED) -> tuple[str | None, str | None]:
    """Keys of the largest rise and the largest fall of ``delta_pct`` (None if none).

    Only defined relative changes count; a metric that did not move is neither.
    """
    changes = {
        k: snapshot.value(k, "delta_pct")
        for k in keys
        if not is_undefined(snapshot.value(k, "delta_pct"))
    }
    rises = {k: v for k, v in changes.items() if v > 0}
    falls = {k: v for k, v in changes.items() if v < 0}
    up = max(rises, key=rises.get) if rises else None
    down = min(falls, key=falls.get) if falls else None
    return up, down


def kpi_compare_section(snapshot, locale: str, keys: Sequence[str] = COMPARED) -> page.Html:
    """Every compared figure against the previous period: conclusion, table, chart."""
    w = words(locale)
    out = page.heading(w["kpi_compare"])
    up, down = biggest_changes(snapshot, keys)
    if up is None or down is None:
        out += page.conclusion(w["kpi_compare_none"])
    else:
        out += page.conclusion(
            w["kpi_compare_lead"].format(
                up=metric(up).label(locale),
                up_change=format_change(snapshot.value(up, "delta_pct"), locale),
                down=metric(down).label(locale),
                down_change=format_change(snapshot.value(down, "delta_pct"), locale),
            )
        )
    out += page.snapshot_table(snapshot, keys, locale)
    defined = [k for k in keys if not is_undefined(snapshot.value(k, "delta_pct"))]
    if defined:
        fig = page.bar_chart(
            [metric(k).label(locale) for k in defined],
            [snapshot.value(k, "delta_pct") for k in defined],
            "percent",
            locale,
            w["kpi_compare_chart"],
        )
        out += figure_html(fig, w["kpi_compare_chart"])
    return out + page.note(w["kpi_compare_note"])


def non_target_section(con, period, locale: str, definitions=None, frame=None) -> page.Html:
    """Non-target leads by channel and the managers' time they took
    (:func:`analytics.metrics.sales_cost.non_target_leads`; ``frame``: that frame when the
    caller computed it once for every language of the page, ``con`` is then not read)."""
    from analytics.metrics import sales_cost

    w = words(locale)
    frame = sales_cost.non_target_leads(con, period, definitions) if frame is None else frame
    out = page.heading(w["non_target"])
    n = int(frame["non_target"].sum()) if not frame.empty else 0
    if n == 0:
        return out + page.conclusion(w["non_target_none"])
    leads = int(frame["leads"].sum())
    out += page.conclusion(
        w["non_target_lead"].format(
            n=format_value(n, "count", locale),
            leads=format_value(leads, "count", locale),
            share=format_value(n / leads * 100 if leads else None, "percent", locale),
            hours=w["hours"].format(h=format_value(frame["hours"].sum(), "ratio", locale, 1)),
            cost=format_value(frame["cost"].sum(), "RUB", locale),
        )
    )
    shown = frame.assign(channel=[channel_label(c, locale) for c in frame["channel"]])
    names = ("channel", "leads", "non_target", "non_target_share_pct", "hours", "cost")
    units = (None, "count", "count", "percent", "ratio", "RUB")
    return out + page.table(shown, _columns(names, w["non_target_cols"], units), locale)


# --------------------------------------------------------------------------- 03 quality

CHECK_LABELS = {
    "ru": {
        "undetermined_campaign_deals": "Сделки без кампании",
        "undetermined_campaign_revenue": "Выручка сделок без кампании",
        "lost_utm": "Потерянные UTM-метки",
        "duplicate_leads": "Повторные заявки",
        "missing_in_crm": "Заявки без сделки в CRM",
        "calls_without_session": "Звонки без веб-сессии",
        "spend_without_visits": "Расходы без визитов",
        "marketing_vs_sales": "Расхождение лидов и сделок",
        "quarantined_rows": "Строки в карантине",
        "unbalanced_files": "Несходящиеся файлы загрузки",
    },
    "en": {
        "undetermined_campaign_deals": "Deals without a campaign",
        "undetermined_campaign_revenue": "Revenue of deals without a campaign",
        "lost_utm": "Lost UTM tags",
        "duplicate_leads": "Repeat requests",
        "missing_in_crm": "Requests without a CRM deal",
        "calls_without_session": "Calls without a web session",
        "spend_without_visits": "Spend without visits",
        "marketing_vs_sales": "Leads vs CRM deals gap",
        "quarantined_rows": "Rows in quarantine",
        "unbalanced_files": "Load files that do not balance",
    },
}
"""Names of :func:`analytics.metrics.quality.quality_report` checks for people."""

DEFECT_CHECKS = {
    "lost_utm": "lost_utm",
    "missing_in_crm": "missing_in_crm",
    "duplicate_lead": "duplicate_leads",
    "call_without_session": "calls_without_session",
}
"""Generator defect (``truth.defects``) → the check that finds it."""


def _lang(locale: str) -> str:
    return "ru" if str(locale).lower().startswith("ru") else "en"


def check_label(check: str, locale: str) -> str:
    """A check's name in the page's language (the id itself if unknown)."""
    return CHECK_LABELS[_lang(locale)].get(check, check.replace("_", " "))


def checks_section(report: pd.DataFrame, locale: str) -> page.Html:
    """Every check of :func:`~analytics.metrics.quality.quality_report`: which are above
    their thresholds, then the table (share and threshold in %)."""
    w = words(locale)
    frame = report.reset_index()
    frame["check"] = [check_label(c, locale) for c in frame["check"]]
    frame["status"] = [w["status"].get(s, s) for s in report["status"]]
    warned = frame.loc[report["status"].to_numpy() == "warn", "check"].tolist()
    if warned:
        text = w["quality_warn"].format(n=len(warned), m=len(frame), names=", ".join(warned))
    else:
        text = w["quality_ok"].format(m=len(frame))
    names = ("check", "value", "base", "share", "threshold", "status")
    units = (None, "count", "count", "percent", "percent", None)
    return (
        page.heading(w["checks"])
        + page.conclusion(text)
        + page.table(frame, _columns(names, w["check_cols"], units), locale)
    )


def undetermined_section(table: pd.DataFrame, locale: str) -> page.Html:
    """Deals and revenue without a campaign by deal status
    (:func:`~analytics.metrics.quality.undetermined_campaign`)."""
    w = words(locale)
    out = page.heading(w["undetermined"])
    if table.empty or "all" not in table.index or table.loc["all", "deals"] == 0:
        return out + page.conclusion(w["undetermined_none"])
    total = table.loc["all"]
    out += page.conclusion(
        w["undetermined_lead"].format(
            n=format_value(total["undetermined_deals"], "count", locale),
            deals=format_value(total["deals"], "count", locale),
            share=format_value(total["undetermined_deals_share"], "percent", locale),
        )
    )
    frame = table.reset_index()
    frame["status"] = [w["deal_status"].get(s, s) for s in frame["status"]]
    names = (
        "status",
        "deals",
        "undetermined_deals",
        "undetermined_deals_share",
        "revenue",
        "undetermined_revenue",
        "undetermined_revenue_share",
    )
    units = (None, "count", "count", "percent", "RUB", "RUB", "percent")
    return out + page.table(frame, _columns(names, w["undetermined_cols"], units), locale)


def marketing_vs_sales_section(weekly: pd.DataFrame, locale: str) -> page.Html:
    """Leads against CRM deals per week (:func:`~analytics.metrics.quality.marketing_vs_sales`)."""
    w = words(locale)
    leads, deals = int(weekly["leads"].sum()), int(weekly["deals"].sum())
    text = w["mvs_lead"].format(
        leads=format_value(leads, "count", locale),
        deals=format_value(deals, "count", locale),
        gap=format_value(leads - deals, "count", locale),
    )
    fig = page.series_chart(
        weekly["week_start"],
        {w["mvs_leads"]: weekly["leads"], w["mvs_deals"]: weekly["deals"]},
        "count",
        locale,
    )
    return page.heading(w["mvs"]) + page.conclusion(text) + figure_html(fig, w["mvs"])


def loads_section(loads: pd.DataFrame, quarantine: pd.DataFrame, locale: str) -> page.Html:
    """Every load file's balance and the quarantine's reasons
    (:func:`~analytics.metrics.quality.load_summary`, ``quarantine_reasons``)."""
    from pathlib import PurePath

    w = words(locale)
    out = page.heading(w["loads"])
    total = loads["target_table"] == "TOTAL"
    files = loads[~total]
    out += page.conclusion(
        w["loads_lead"].format(
            files=format_value(len(files), "count", locale),
            balanced=format_value(int(files["balanced"].sum()), "count", locale),
            quarantined=format_value(files["rows_quarantined"].sum(), "count", locale),
        )
    )
    frame = loads.assign(
        target_table=[
            w["total"] if t else n for t, n in zip(total, loads["target_table"], strict=True)
        ],
        source_file=[
            "" if is_undefined(f) or t else PurePath(str(f)).name
            for f, t in zip(loads["source_file"], total, strict=True)
        ],
        balanced=[w["yes"] if b else w["no"] for b in loads["balanced"]],
    )
    names = ("target_table", "source_file", "rows_in", "rows_loaded", "rows_quarantined")
    units = (None, None, "count", "count", "count", None)
    out += page.table(frame, _columns((*names, "balanced"), w["load_cols"], units), locale)
    if quarantine.empty:
        return out + page.note(w["quarantine_none"])
    names = ("target_table", "column_name", "rows", "example")
    return out + page.table(
        quarantine, _columns(names, w["quarantine_cols"], (None, None, "count", None)), locale
    )


def defects_section(recovery: pd.DataFrame, locale: str) -> page.Html:
    """The checks against the generator's injected defects
    (:func:`~analytics.metrics.quality.defect_recovery`), demo data only."""
    w = words(locale)
    frame = recovery.reset_index()
    frame["defect"] = [check_label(DEFECT_CHECKS.get(d, d), locale) for d in frame["defect"]]
    text = w["defects_lead"].format(
        found=format_value(recovery["found"].sum(), "count", locale),
        injected=format_value(recovery["injected_count"].sum(), "count", locale),
    )
    names = ("defect", "injected_count", "found", "base_count", "found_base", "found_rate")
    units = (None, "count", "count", "count", "count", "percent")
    return (
        page.heading(w["defects"], 3)
        + page.conclusion(text)
        + page.table(frame, _columns(names, w["defect_cols"], units), locale)
    )


# --------------------------------------------------------------------------- 04 cohorts

MATURE_WEEKS = 4
"""Age (weeks, the first week included) at which cohorts are compared in the conclusion."""


def mean_conversion_at(matrix: pd.DataFrame, age: int) -> float | None:
    """Mean over cohorts of the cumulative conversion at ``age`` (cohorts that reached it).

    ``matrix`` is :func:`analytics.metrics.cohorts.conversion_matrix` (cohorts ×
    ages); None when no cohort is that old or the column is missing.
    """
    if age not in matrix.columns:
        return None
    values = matrix[age].dropna()
    return float(values.mean()) if not values.empty else None


def channel_conversion_frame(cohorts: pd.DataFrame, channels: Sequence[str]) -> pd.DataFrame:
    """First channel × age: the mean over cohorts of the cumulative visitor → lead conversion.

    Rows in the order of ``channels``; NaN where no cohort of the channel is that old.
    """
    from analytics.metrics.cohorts import conversion_matrix

    rows = {
        channel: conversion_matrix(cohorts, "cr_visitor_lead", first_channel=channel).mean()
        for channel in channels
    }
    return pd.DataFrame(rows).T


def cohorts_conclusion(cohorts: pd.DataFrame, locale: str, weeks: int = MATURE_WEEKS) -> page.Html:
    """Mean conversion visitor → lead after ``weeks`` weeks and the best first channel."""
    from analytics.metrics.cohorts import cohort_sizes, conversion_matrix

    w = words(locale)
    age = weeks - 1
    overall = mean_conversion_at(conversion_matrix(cohorts, "cr_visitor_lead"), age)
    if overall is None:
        return page.conclusion(w["cohorts_lead_young"].format(weeks=weeks))
    channels = list(cohort_sizes(cohorts).drop(columns="total").columns)
    by_channel = channel_conversion_frame(cohorts, channels)
    at_age = by_channel[age].dropna() if age in by_channel else pd.Series(dtype=float)
    best = at_age.idxmax() if not at_age.empty else None
    return page.conclusion(
        w["cohorts_lead"].format(
            weeks=weeks,
            cr=format_value(overall, "percent", locale),
            best=channel_label(best, locale) if best else "—",
            best_cr=format_value(at_age.max() if best else None, "percent", locale),
        )
    )


def sizes_section(cohorts: pd.DataFrame, locale: str) -> page.Html:
    """Visitors per weekly cohort and first channel (channel labels as headers)."""
    from analytics.metrics.cohorts import cohort_sizes

    w = words(locale)
    sizes = cohort_sizes(cohorts)
    channels = [c for c in sizes.columns if c != "total"]
    frame = sizes.reset_index()
    columns = [page.Column("cohort", w["cohort"])]
    columns += [page.Column(c, channel_label(c, locale), "count") for c in channels]
    columns.append(page.Column("total", w["total"], "count"))
    return (
        page.heading(w["sizes"]) + page.table(frame, columns, locale) + page.note(w["sizes_note"])
    )


def month_label(cohort: str, locale: str) -> str:
    """``2025-03`` → ``мар. 2025`` / ``Mar 2025`` (Babel); other labels unchanged."""
    try:
        day = pd.Timestamp(f"{cohort}-01").date()
    except ValueError:
        return cohort
    return format_date(day, "LLL y", locale=locale)


def conversion_section(cohorts: pd.DataFrame, monthly: pd.DataFrame, locale: str) -> page.Html:
    """Cumulative conversions as shaded tables: weekly visitor → lead, by first channel,
    monthly visitor → sale."""
    from analytics.metrics.cohorts import cohort_sizes, conversion_matrix

    w = words(locale)
    weekly = conversion_matrix(cohorts, "cr_visitor_lead")
    out = page.heading(w["cr_lead"]) + page.heat_table(
        weekly, "percent", locale, w["cohort"], w["weeks_since"]
    )
    sizes = cohort_sizes(cohorts).drop(columns="total").sum().sort_values(ascending=False)
    by_channel = channel_conversion_frame(cohorts, list(sizes.index[:6]))
    by_channel.index = [channel_label(c, locale) for c in by_channel.index]
    out += page.heading(w["by_first_channel"])
    age = MATURE_WEEKS - 1
    if age in by_channel and by_channel[age].notna().any():
        at_age = by_channel[age].dropna().sort_values(ascending=False)
        title = w["by_first_channel_chart"].format(weeks=MATURE_WEEKS)
        out += figure_html(
            page.bar_chart(list(at_age.index), list(at_age.to_numpy()), "percent", locale, title),
            title,
        )
    out += page.heat_table(by_channel, "percent", locale, w["channel"], w["weeks_since"])
    sale = conversion_matrix(monthly, "cr_visitor_sale")
    sale.index = [month_label(c, locale) for c in sale.index]
    out += page.heading(w["cr_sale"]) + page.heat_table(
        sale, "percent", locale, w["cohort"], w["months_since"]
    )
    return out + page.note(w["cr_sale_note"])


# --------------------------------------------------------------------------- 05 scoring


def model_metric_label(key: str, locale: str) -> str:
    """A model-card metric's name for people (``lift_at_10`` → "Lift in the top 10% …")."""
    names = words(locale)["model_metrics"]
    for prefix in ("lift_at", "capture_at"):
        if key.startswith(prefix + "_"):
            return names[prefix].format(n=key.removeprefix(prefix + "_"))
    return names.get(key, key.replace("_", " "))


def model_metrics_frame(metrics: Mapping, locale: str) -> pd.DataFrame:
    """The model card's scalar metrics: ``measure`` (label) and ``value`` (text by Babel).

    Counts (leads, sql) as whole numbers, the SQL share in %, the rest with 3 decimals.
    """
    rows = []
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if key in ("leads", "sql"):
            text = format_value(value, "count", locale)
        elif key == "base_rate":
            text = format_value(value * 100, "percent", locale)
        else:
            text = format_value(value, "ratio", locale, decimals=3)
        rows.append({"measure": model_metric_label(key, locale), "value": text})
    return pd.DataFrame(rows, columns=["measure", "value"])


def scoring_conclusion(
    version: str, status: Mapping, monitoring: Mapping, card: Mapping, locale: str
):
    """Model version (file stem), loaded or retrained, its validation ROC-AUC, whether to
    retrain."""
    w = words(locale)
    retrain = bool((monitoring.get("recommendation") or {}).get("retrain"))
    return page.conclusion(
        w["scoring_lead"].format(
            version=version,
            how=w["how"][bool(status.get("retrained"))],
            auc=format_value(card.get("metrics", {}).get("roc_auc"), "ratio", locale, 3),
            retrain=w["retrain"][retrain],
        )
    )


def model_quality_section(card: Mapping, locale: str) -> page.Html:
    """The card's validation metrics as a table and the calibration curve."""
    w = words(locale)
    frame = model_metrics_frame(card.get("metrics", {}), locale)
    cols = w["quality_cols"]
    out = page.heading(w["quality"]) + page.table(
        frame, [page.Column("measure", cols[0]), page.Column("value", cols[1], "text")], locale
    )
    calibration = card.get("metrics", {}).get("calibration") or []
    if calibration:
        fig, ax = page.new_figure()
        xs = [row["mean_predicted"] * 100 for row in calibration]
        ys = [row["observed_rate"] * 100 for row in calibration]
        ax.plot([0, 100], [0, 100], linestyle="--", color="grey")
        ax.plot(xs, ys, marker="o", lw=2)
        ax.xaxis.set_major_formatter(page.axis_formatter("percent", locale))
        ax.yaxis.set_major_formatter(page.axis_formatter("percent", locale))
        ax.set_xlabel(w["calibration_x"], fontsize=11)
        ax.set_ylabel(w["calibration_y"], fontsize=11)
        ax.set_title(w["calibration"], fontsize=12, loc="left")
        out += figure_html(fig, w["calibration"])
    return out


def drift_section(monitoring: Mapping, locale: str, rows: int = 10) -> page.Html:
    """The features whose distribution moved most since training (PSI)."""
    w = words(locale)
    out = page.heading(w["drift"])
    drift = monitoring.get("drift")
    if drift is None or len(drift) == 0:
        return out + page.conclusion(w["drift_none"])
    drift = pd.DataFrame(drift)  # a saved status holds records
    features = drift[drift["what"] != "score"].sort_values("psi", ascending=False, kind="stable")
    if features.empty or features["psi"].isna().all():
        out += page.conclusion(w["drift_none"])
    else:
        top = features.iloc[0]
        out += page.conclusion(
            w["drift_lead"].format(
                feature=top["what"], psi=format_value(top["psi"], "ratio", locale, 3)
            )
        )
    shown = drift.assign(what=[w["score_row"] if x == "score" else x for x in drift["what"]])
    cols = w["drift_cols"]
    columns = [page.Column("what", cols[0]), page.Column("psi", cols[1], "ratio")]
    if "importance" in drift:
        columns.append(page.Column("importance", cols[2], "ratio"))
    return out + page.table(shown, columns, locale, max_rows=rows)


def importance_section(importance: pd.Series, locale: str, rows: int = 10) -> page.Html:
    """The model's global feature importance, largest first."""
    w = words(locale)
    frame = (
        importance.sort_values(ascending=False)
        .head(rows)
        .rename("importance")
        .rename_axis("feature")
        .reset_index()
    )
    cols = w["importance_cols"]
    return page.heading(w["importance"]) + page.table(
        frame,
        [page.Column("feature", cols[0]), page.Column("importance", cols[1], "ratio")],
        locale,
    )


# --------------------------------------------------------------------------- 08 segments


def window_line(window, leads: int, locale: str) -> page.Html:
    """``Window: Mar 2, 2024 – Dec 28, 2025; leads in it: 240.``"""
    return page.note(
        words(locale)["period_window"].format(
            window=format_period(window.start, window.end, locale),
            leads=format_value(leads, "count", locale),
        )
    )


def best_segment(overview: pd.DataFrame) -> pd.Series | None:
    """The segment (any dimension) with the highest lead → sale conversion among those
    with a sale; ties go to the one with more leads. None without sales."""
    sold = overview[overview["sales"] > 0]
    if sold.empty:
        return None
    return sold.sort_values(["cr_lead_sale", "leads"], ascending=False, kind="stable").iloc[0]


def segments_conclusion(overview: pd.DataFrame, channels: pd.DataFrame, locale: str):
    """Best converting segment and the channel with the highest ROMI."""
    w = words(locale)
    best = best_segment(overview)
    if best is None:
        return page.conclusion(w["segments_none"])
    common = {
        "segment": best["segment"],
        "dimension": w["dimension"].get(best["dimension"], best["dimension"]).lower(),
        "cr": format_value(best["cr_lead_sale"], "percent", locale),
    }
    romi = channels[channels["spend"] > 0].dropna(subset=["romi"])
    if romi.empty:
        return page.conclusion(w["segments_lead_noromi"].format(**common))
    top = romi.loc[romi["romi"].idxmax()]
    return page.conclusion(
        w["segments_lead"].format(
            channel=channel_label(top["channel"], locale),
            romi=format_value(top["romi"], "percent", locale),
            **common,
        )
    )


def segment_section(overview: pd.DataFrame, dimension: str, locale: str) -> page.Html:
    """One dimension's segments: conversion chart and table (leads, sales, CR, CAC,
    average deal, ROMI)."""
    w = words(locale)
    title = w["dimension"].get(dimension, dimension)
    frame = overview[overview["dimension"] == dimension]
    fig = page.bar_chart(
        list(frame["segment"]), list(frame["cr_lead_sale"]), "percent", locale, w["segment_chart"]
    )
    names = ("segment", "leads", "sales", "cr_lead_sale", "cac", "average_check", "romi")
    units = (None, "count", "count", "percent", "RUB", "RUB", "percent")
    return (
        page.heading(title, 3)
        + figure_html(fig, f"{title}: {w['segment_chart']}")
        + page.table(frame, _columns(names, (title, *w["segment_cols"]), units), locale)
    )


def profitability_section(channels: pd.DataFrame, locale: str) -> page.Html:
    """ROMI of paid channels (signed bars) and every channel's money
    (:func:`~analytics.metrics.segments.channel_profitability`)."""
    w = words(locale)
    frame = channels.assign(channel=[channel_label(c, locale) for c in channels["channel"]])
    free = frame["spend"] == 0
    for key in ("romi", "drr", "cac"):
        frame[key] = frame[key].astype("float64").mask(free)  # no spend: a dash, not 0
    paid = frame[~free]
    fig = page.bar_chart(
        list(paid["channel"]), list(paid["romi"]), "percent", locale, w["profit_chart"], True
    )
    names = ("spend", "leads", "sales", "revenue", "profit", "romi", "drr", "cac")
    units = ("RUB", "count", "count", "RUB", "RUB", "percent", "percent", "RUB")
    columns = [page.Column("channel", w["channel"]), *_columns(names, w["profit_cols"], units)]
    return (
        page.heading(w["profit"])
        + figure_html(fig, w["profit_chart"])
        + page.table(frame, columns, locale)
        + page.note(w["profit_note"])
    )


def influence_section(groups: pd.DataFrame, locale: str, rows: int = 15) -> page.Html:
    """Ad groups' direct (last paid touch) and assisted sales
    (:func:`~analytics.metrics.influence.influence`)."""
    w = words(locale)
    out = page.heading(w["influence"])
    if groups.empty or groups["influenced_sales"].sum() == 0:
        return out + page.conclusion(w["influence_none"])
    top = groups.sort_values("influenced_sales", ascending=False, kind="stable").iloc[0]
    out += page.conclusion(
        w["influence_lead"].format(
            group=top["ad_group"],
            sales=format_value(top["influenced_sales"], "count", locale),
            direct=format_value(top["direct_sales"], "count", locale),
        )
    )
    names = (
        "campaign",
        "ad_group",
        "direct_sales",
        "assisted_sales",
        "influenced_sales",
        "influenced_revenue",
    )
    units = (None, None, "count", "count", "count", "RUB")
    return (
        out
        + page.table(groups, _columns(names, w["influence_cols"], units), locale, max_rows=rows)
        + page.note(w["influence_note"])
    )


def demo_defects_section(recovery: pd.DataFrame | None, locale: str) -> page.Html:
    """:func:`defects_section` of :func:`analytics.metrics.quality.demo_defect_recovery`
    (computed once, rendered per language); an empty fragment for None (real data)."""
    if recovery is None:
        return page.Html("")
    return defects_section(recovery, locale)
