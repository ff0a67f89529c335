"""The metric catalogue: every figure the reports show, defined once.

One table, :data:`CATALOGUE`, holds for each metric its key, its label in
Russian and English, its unit, which direction is good, its formula, its
definition and its **basis**. Pages, the index, the e-mail and the command
line take labels, units and definitions from here and values from the period
snapshot (:mod:`analytics.metrics.snapshot`); no other module keeps a table of
labels.

Basis
-----
``booked``
    Counted on the day the event happened: revenue and sales on the day the
    deal is **won** (``deals.closed_at``), spend on the day it is paid
    (``spend.date``), visits on the day they start, leads on the day they are
    created, deals closed (won or lost) on the day they close. Booked figures
    of a past period never change once the data are complete; headline
    figures (the CEO's revenue, sales, ROMI, CAC, ДРР) are booked.
``cohort``
    Outcomes of the **leads acquired in the period** (``leads.created_at`` in
    the period), whatever day those outcomes happen: MQL, SQL, sales and
    revenue of the period's leads, and ratios built on them. A young cohort
    has not had time to convert, so its figures grow for weeks after the
    period ends: each cohort metric has a :attr:`Metric.maturity_days`, and
    the snapshot reports the cohort's age (days from the period's last day to
    the data's last day) and flags it ``immature`` while the age is below it.

Two different things get two keys and two names: ``romi`` (booked, «ROMI»)
and ``romi_cohort`` («ROMI лидов периода (когорта)») are never the same
figure.

Units
-----
``RUB`` roubles without VAT; ``count``; ``percent`` (values already × 100;
a change is in percentage points); ``ratio`` (a plain quotient, e.g. visits
per lead); ``days``.

API
---
``CATALOGUE: dict[str, Metric]``
    Every metric by key, in display order.
``metric(key) -> Metric``
    One metric; :class:`KeyError` naming the known keys for an unknown key.
``Metric.label(locale)``, ``Metric.formula_text(locale)``, ``Metric.definition_text(locale)``
    Texts in ``ru`` or ``en`` (any ``ru_RU``/``en-US`` style locale; other
    languages fall back to English).
``Metric.label_with_unit(locale)``
    ``"Выручка, ₽"``, ``"ROMI, %"``, ``"Лиды"`` (counts have no unit suffix):
    axis titles and column headers.
``keys(basis=None)``
    Keys in catalogue order, optionally only one basis.
``HEADLINE``
    The booked headline keys of the leadership pages and e-mails.

Formatting numbers (Babel) is the reports layer's job; this module only says
what a number is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

UNITS = ("RUB", "count", "percent", "ratio", "days")
"""Units a metric can have."""

DIRECTIONS = ("higher", "lower", "neutral")
"""``higher`` (more is better), ``lower`` (less is better) or ``neutral``."""

BASES = ("booked", "cohort")
"""See the module docstring."""

UNIT_SUFFIX = {"RUB": "₽", "percent": "%", "days": {"ru": "дн.", "en": "days"}}
"""Unit shown after a label in :meth:`Metric.label_with_unit` (counts and ratios have none)."""


def language(locale: str | None) -> str:
    """``"ru"`` or ``"en"`` for a locale such as ``ru``, ``ru_RU``, ``en-US`` (default ``en``)."""
    text = (locale or "en").replace("-", "_").split("_")[0].lower()
    return "ru" if text == "ru" else "en"


@dataclass(frozen=True)
class Metric:
    """One catalogue entry.

    Attributes
    ----------
    key : str
        Identifier, also the column of snapshot frames and the key of
        ``metrics.json``.
    label_ru, label_en : str
        Human name (Russian, English).
    unit : str
        One of :data:`UNITS`.
    direction : str
        One of :data:`DIRECTIONS`: whether a rise is good news.
    basis : str
        ``booked`` or ``cohort`` (module docstring).
    formula_ru, formula_en : str
        The formula in words, e.g. ``ROMI = (revenue − spend) / spend × 100%``.
    definition_ru, definition_en : str
        What is counted, and by which date.
    maturity_days : int or None
        Cohort metrics only: days after the period's end before the figure
        is treated as settled (typical time for the outcome to happen).
    """

    key: str
    label_ru: str
    label_en: str
    unit: str
    direction: str
    basis: str
    formula_ru: str
    formula_en: str
    definition_ru: str
    definition_en: str
    maturity_days: int | None = None

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"metric {self.key}: unit {self.unit!r} not in {UNITS}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"metric {self.key}: direction {self.direction!r} not in {DIRECTIONS}")
        if self.basis not in BASES:
            raise ValueError(f"metric {self.key}: basis {self.basis!r} not in {BASES}")
        if (self.basis == "cohort") != (self.maturity_days is not None):
            raise ValueError(f"metric {self.key}: maturity_days is for cohort metrics only")

    def label(self, locale: str | None = "ru") -> str:
        """Label in the locale's language (``ru`` or ``en``)."""
        return self.label_ru if language(locale) == "ru" else self.label_en

    def formula_text(self, locale: str | None = "ru") -> str:
        """Formula in the locale's language."""
        return self.formula_ru if language(locale) == "ru" else self.formula_en

    def definition_text(self, locale: str | None = "ru") -> str:
        """Definition in the locale's language."""
        return self.definition_ru if language(locale) == "ru" else self.definition_en

    def label_with_unit(self, locale: str | None = "ru") -> str:
        """``label, unit`` for axes and column headers (``Выручка, ₽``; counts bare)."""
        suffix = UNIT_SUFFIX.get(self.unit)
        if isinstance(suffix, dict):
            suffix = suffix[language(locale)]
        return f"{self.label(locale)}, {suffix}" if suffix else self.label(locale)

    @property
    def is_cohort(self) -> bool:
        """True for ``cohort`` basis."""
        return self.basis == "cohort"


_BOOKED_RU = "по дате события"
_COHORT_RU = "лиды, созданные в периоде"


def _m(key, label_ru, label_en, unit, direction, basis, formula, definition, maturity=None):
    formula_ru, formula_en = formula
    definition_ru, definition_en = definition
    return Metric(
        key=key,
        label_ru=label_ru,
        label_en=label_en,
        unit=unit,
        direction=direction,
        basis=basis,
        formula_ru=formula_ru,
        formula_en=formula_en,
        definition_ru=definition_ru,
        definition_en=definition_en,
        maturity_days=maturity,
    )


_ENTRIES = (
    # ------------------------------------------------------------------ booked
    _m(
        "revenue", "Выручка", "Revenue", "RUB", "higher", "booked",
        ("выручка = Σ сумм сделок, выигранных в периоде",
         "revenue = Σ amount of deals won in the period"),
        ("сделки, выигранные в периоде (по дате закрытия), какой бы ни была дата лида",
         "deals won in the period (by close date), whenever their lead came in"),
    ),
    _m(
        "sales", "Продажи", "Sales", "count", "higher", "booked",
        ("продажи = число сделок, выигранных в периоде",
         "sales = number of deals won in the period"),
        ("сделки, выигранные в периоде (по дате закрытия)",
         "deals won in the period (by close date)"),
    ),
    _m(
        "spend", "Расходы на рекламу", "Ad spend", "RUB", "neutral", "booked",
        ("расходы = Σ затрат на рекламу за дни периода",
         "spend = Σ ad cost of the days of the period"),
        ("затраты на рекламу по дате списания, без НДС",
         "ad cost by the day it is paid, without VAT"),
    ),
    _m(
        "romi", "ROMI", "ROMI", "percent", "higher", "booked",
        ("ROMI = (выручка − расходы) / расходы × 100%",
         "ROMI = (revenue − spend) / spend × 100%"),
        ("выручка сделок, выигранных в периоде, против расходов периода",
         "revenue of deals won in the period against the period's spend"),
    ),
    _m(
        "drr", "ДРР", "Ad cost share (ДРР)", "percent", "lower", "booked",
        ("ДРР = расходы / выручка × 100%", "ДРР = spend / revenue × 100%"),
        ("доля рекламных расходов в выручке выигранных в периоде сделок",
         "ad spend as a share of the revenue of deals won in the period"),
    ),
    _m(
        "cac", "CAC", "CAC", "RUB", "lower", "booked",
        ("CAC = расходы / продажи", "CAC = spend / sales"),
        ("расходы периода на одну выигранную в периоде сделку",
         "the period's spend per deal won in the period"),
    ),
    _m(
        "average_deal", "Средний чек", "Average deal", "RUB", "higher", "booked",
        ("средний чек = выручка / продажи", "average deal = revenue / sales"),
        ("средняя сумма сделки, выигранной в периоде",
         "mean amount of a deal won in the period"),
    ),
    _m(
        "win_rate", "Доля выигранных сделок", "Win rate", "percent", "higher", "booked",
        ("win rate = выиграно / (выиграно + проиграно) × 100%",
         "win rate = won / (won + lost) × 100%"),
        ("сделки, закрытые в периоде (выигранные или проигранные)",
         "deals closed in the period (won or lost)"),
    ),
    _m(
        "cycle_days", "Цикл сделки (медиана)", "Sales cycle (median)", "days", "lower", "booked",
        ("цикл = дата выигрыша − дата создания лида, медиана",
         "cycle = won at − lead created at, median"),
        ("сделки, выигранные в периоде, у которых известен лид",
         "deals won in the period whose lead is known"),
    ),
    _m(
        "visits", "Визиты", "Visits", "count", "higher", "booked",
        ("визиты = число визитов, начатых в периоде",
         "visits = number of visits started in the period"),
        ("визиты на сайт по дате начала", "site visits by start day"),
    ),
    _m(
        "visitors", "Посетители", "Visitors", "count", "higher", "booked",
        ("посетители = число различных посетителей визитов периода",
         "visitors = distinct visitors of the period's visits"),
        ("различные посетители визитов периода", "distinct visitors of the period's visits"),
    ),
    _m(
        "leads", "Лиды", "Leads", "count", "higher", "booked",
        ("лиды = число заявок, созданных в периоде",
         "leads = number of requests created in the period"),
        ("заявки (формы, звонки, чаты) по дате создания",
         "requests (forms, calls, chats) by creation day"),
    ),
    _m(
        "leads_form", "Лиды: формы", "Leads: forms", "count", "higher", "booked",
        ("заявки-формы, созданные в периоде", "form requests created in the period"),
        ("заявки через формы сайта по дате создания", "website form requests by creation day"),
    ),
    _m(
        "leads_call", "Лиды: звонки", "Leads: calls", "count", "higher", "booked",
        ("звонки-заявки, созданные в периоде", "call requests created in the period"),
        ("звонки по дате создания лида", "calls by lead creation day"),
    ),
    _m(
        "leads_chat", "Лиды: чаты", "Leads: chats", "count", "higher", "booked",
        ("чаты-заявки, созданные в периоде", "chat requests created in the period"),
        ("чаты по дате создания лида", "chats by lead creation day"),
    ),
    _m(
        "cpl", "CPL", "CPL", "RUB", "lower", "booked",
        ("CPL = расходы / лиды", "CPL = spend / leads"),
        ("расходы периода на один лид, созданный в периоде",
         "the period's spend per lead created in the period"),
    ),
    _m(
        "cr_visit_lead", "CR визит → лид", "CR visit → lead", "percent", "higher", "booked",
        ("CR = лиды / визиты × 100%", "CR = leads / visits × 100%"),
        ("лиды и визиты периода; лиды без визита (звонки) тоже в числителе",
         "leads and visits of the period; leads without a visit (calls) count too"),
    ),
    _m(
        "visits_per_lead", "Визитов на лид", "Visits per lead", "ratio", "lower", "booked",
        ("визиты / лиды", "visits / leads"),
        ("визиты и лиды периода", "visits and leads of the period"),
    ),
    # ------------------------------------------------------------------ cohort
    _m(
        "mql", "MQL лидов периода", "MQL of the period's leads", "count", "higher", "cohort",
        ("MQL = лиды периода, чьи сделки дошли до MQL",
         "MQL = leads of the period whose deal reached MQL"),
        ("лиды, созданные в периоде, ставшие MQL к дате данных (по определениям)",
         "leads created in the period that are MQL by the data's last day (by the definitions)"),
        14,
    ),
    _m(
        "sql_leads", "SQL лидов периода", "SQL of the period's leads", "count", "higher",
        "cohort",
        ("SQL = лиды периода, чьи сделки дошли до SQL",
         "SQL = leads of the period whose deal reached SQL"),
        ("лиды, созданные в периоде, ставшие SQL к дате данных (по определениям)",
         "leads created in the period that are SQL by the data's last day (by the definitions)"),
        30,
    ),
    _m(
        "sales_cohort", "Продажи лидов периода (когорта)", "Sales of the period's leads (cohort)",
        "count", "higher", "cohort",
        ("продажи когорты = выигранные сделки лидов периода",
         "cohort sales = won deals of the period's leads"),
        ("сделки лидов, созданных в периоде, выигранные к дате данных",
         "deals of the leads created in the period, won by the data's last day"),
        90,
    ),
    _m(
        "revenue_cohort", "Выручка лидов периода (когорта)",
        "Revenue of the period's leads (cohort)", "RUB", "higher", "cohort",
        ("выручка когорты = Σ сумм выигранных сделок лидов периода",
         "cohort revenue = Σ amount of won deals of the period's leads"),
        ("сделки лидов, созданных в периоде, выигранные к дате данных",
         "deals of the leads created in the period, won by the data's last day"),
        90,
    ),
    _m(
        "romi_cohort", "ROMI лидов периода (когорта)", "ROMI of the period's leads (cohort)",
        "percent", "higher", "cohort",
        ("ROMI когорты = (выручка когорты − расходы) / расходы × 100%",
         "cohort ROMI = (cohort revenue − spend) / spend × 100%"),
        ("выручка лидов периода к дате данных против расходов периода; растёт, пока когорта "
         "созревает",
         "revenue of the period's leads so far against the period's spend; grows as the "
         "cohort matures"),
        90,
    ),
    _m(
        "drr_cohort", "ДРР лидов периода (когорта)", "Ad cost share of the period's leads (cohort)",
        "percent", "lower", "cohort",
        ("ДРР когорты = расходы / выручка когорты × 100%",
         "cohort ДРР = spend / cohort revenue × 100%"),
        ("расходы периода против выручки его лидов к дате данных",
         "the period's spend against the revenue of its leads so far"),
        90,
    ),
    _m(
        "cac_cohort", "CAC лидов периода (когорта)", "CAC of the period's leads (cohort)", "RUB",
        "lower", "cohort",
        ("CAC когорты = расходы / продажи когорты", "cohort CAC = spend / cohort sales"),
        ("расходы периода на одну выигранную сделку его лидов",
         "the period's spend per won deal of its leads"),
        90,
    ),
    _m(
        "cost_per_mql", "Стоимость MQL", "Cost per MQL", "RUB", "lower", "cohort",
        ("стоимость MQL = расходы / MQL", "cost per MQL = spend / MQL"),
        ("расходы периода на один MQL из лидов периода",
         "the period's spend per MQL among its leads"),
        14,
    ),
    _m(
        "cost_per_sql", "Стоимость SQL", "Cost per SQL", "RUB", "lower", "cohort",
        ("стоимость SQL = расходы / SQL", "cost per SQL = spend / SQL"),
        ("расходы периода на один SQL из лидов периода",
         "the period's spend per SQL among its leads"),
        30,
    ),
    _m(
        "cr_lead_mql", "CR лид → MQL", "CR lead → MQL", "percent", "higher", "cohort",
        ("CR = MQL / лиды × 100%", "CR = MQL / leads × 100%"),
        ("доля лидов периода, ставших MQL", "share of the period's leads that became MQL"),
        14,
    ),
    _m(
        "cr_mql_sql", "CR MQL → SQL", "CR MQL → SQL", "percent", "higher", "cohort",
        ("CR = SQL / MQL × 100%", "CR = SQL / MQL × 100%"),
        ("доля MQL лидов периода, ставших SQL", "share of the period's MQL that became SQL"),
        30,
    ),
    _m(
        "cr_sql_sale", "CR SQL → продажа (когорта)", "CR SQL → sale (cohort)", "percent",
        "higher", "cohort",
        ("CR = продажи когорты / SQL × 100%", "CR = cohort sales / SQL × 100%"),
        ("доля SQL лидов периода, выигранных к дате данных",
         "share of the period's SQL won by the data's last day"),
        90,
    ),
    _m(
        "cr_lead_sale", "CR лид → продажа (когорта)", "CR lead → sale (cohort)", "percent",
        "higher", "cohort",
        ("CR = продажи когорты / лиды × 100%", "CR = cohort sales / leads × 100%"),
        ("доля лидов периода, выигранных к дате данных",
         "share of the period's leads won by the data's last day"),
        90,
    ),
    _m(
        "value_per_lead", "Выручка на лид (когорта)", "Value per lead (cohort)", "RUB", "higher",
        "cohort",
        ("выручка когорты / лиды", "cohort revenue / leads"),
        ("выручка лидов периода к дате данных на один лид",
         "revenue of the period's leads so far per lead"),
        90,
    ),
    _m(
        "average_deal_cohort", "Средний чек лидов периода (когорта)",
        "Average deal of the period's leads (cohort)", "RUB", "higher", "cohort",
        ("средний чек когорты = выручка когорты / продажи когорты",
         "cohort average deal = cohort revenue / cohort sales"),
        ("средняя сумма выигранной сделки лидов периода",
         "mean amount of a won deal of the period's leads"),
        90,
    ),
    _m(
        "value_per_visit", "Выручка на визит (когорта)", "Value per visit (cohort)", "RUB",
        "higher", "cohort",
        ("выручка когорты / визиты", "cohort revenue / visits"),
        ("выручка лидов периода к дате данных на один визит периода",
         "revenue of the period's leads so far per visit of the period"),
        90,
    ),
    _m(
        "cr_visit_mql", "CR визит → MQL", "CR visit → MQL", "percent", "higher", "cohort",
        ("CR = MQL / визиты × 100%", "CR = MQL / visits × 100%"),
        ("MQL лидов периода на визиты периода",
         "MQL of the period's leads per visit of the period"),
        14,
    ),
    _m(
        "non_target", "Нецелевые лиды", "Non-target leads", "count", "lower", "cohort",
        ("лиды периода, проигранные с причиной «Нецелевой»",
         "leads of the period lost as non-target"),
        ("лиды, созданные в периоде, отмеченные нецелевыми к дате данных",
         "leads created in the period marked non-target by the data's last day"),
        14,
    ),
    _m(
        "non_target_share", "Доля нецелевых лидов", "Non-target share", "percent", "lower",
        "cohort",
        ("нецелевые / лиды × 100%", "non-target / leads × 100%"),
        ("доля лидов периода, отмеченных нецелевыми",
         "share of the period's leads marked non-target"),
        14,
    ),
)  # fmt: skip

CATALOGUE: dict[str, Metric] = {m.key: m for m in _ENTRIES}
"""Every metric by key, in display order (booked first, then cohort)."""

HEADLINE: tuple[str, ...] = ("revenue", "sales", "spend", "romi", "cac", "drr")
"""Booked headline figures of the leadership pages and e-mails."""


def metric(key: str) -> Metric:
    """The catalogue entry of ``key``.

    Raises
    ------
    KeyError
        If ``key`` is not in :data:`CATALOGUE` (the message lists the keys).
    """
    try:
        return CATALOGUE[key]
    except KeyError:
        raise KeyError(
            f"unknown metric {key!r}; the catalogue has: {', '.join(CATALOGUE)}"
        ) from None


def keys(basis: str | None = None) -> tuple[str, ...]:
    """Catalogue keys in order; only those of ``basis`` (``booked``/``cohort``) if given."""
    if basis is not None and basis not in BASES:
        raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
    return tuple(k for k, m in CATALOGUE.items() if basis is None or m.basis == basis)


if len(CATALOGUE) != len(_ENTRIES):  # pragma: no cover - a typo in the table above
    raise RuntimeError("duplicate key in the metric catalogue")


def ratio(numerator, denominator, scale: float = 1.0):
    """``numerator × scale / denominator``, the one ratio of the metrics layer.

    For numbers or pandas Series (element-wise, as float64). Undefined where the
    denominator is 0 or missing: NaN, which the snapshot turns into ``null`` with a
    reason and the pages into a dash -- never ``0`` or ``inf``.

    Examples
    --------
    >>> ratio(1_500.0, 3)  # CPL = spend / leads, RUB
    500.0
    >>> ratio(30, 1_000, 100.0)  # CR visit -> lead, %
    3.0
    >>> ratio(10, 0)
    nan
    """
    import numpy as np
    import pandas as pd

    series = [x for x in (numerator, denominator) if isinstance(x, pd.Series)]
    if series:
        # on numpy arrays: the values of the pandas arithmetic, without its ~1 ms of
        # overhead a call (a funnel, KPI or drill-down table adds ten ratios, several
        # times a page); a Series gives the index, a number stands for every row
        def values(x):
            if isinstance(x, pd.Series):
                return x.to_numpy(dtype="float64", na_value=np.nan)
            return x

        num, den = values(numerator), values(denominator)
        if not isinstance(denominator, pd.Series):
            den = den if den else math.nan
        out = num * scale / np.where(den != 0, den, np.nan)
        return pd.Series(out, index=series[0].index)
    return numerator * scale / denominator if denominator else math.nan
