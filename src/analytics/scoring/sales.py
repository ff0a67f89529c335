"""The call list: scores 0-100, bands A-D from sales economics, reasons in plain words.

Score
-----
``score = round(100 * p)`` with ``p`` the calibrated probability that the lead
converts (reaches SQL): a score of 37 means about 37 such leads in 100 convert.

Bands
-----
A call costs ``c = minutes_per_lead / 60 * manager_cost_per_hour`` RUB and an
SQL is worth ``V`` RUB, so a call pays off in expectation when
``p * V >= (1 - p) * c``, i.e. above the break-even probability
``p0 = c / (c + V)`` (:mod:`analytics.scoring.economics`). With ``b`` the base
rate (share of leads that convert):

* **D** -- ``p < p0``: the call costs more than it is expected to bring; not worth a call;
* **C** -- ``p0 <= p < max(p0, b)``: worth a call, but below the average lead;
* **B** -- ``max(p0, b) <= p < max(p0, 2 b)``: at least average;
* **A** -- ``p >= max(p0, 2 b)``: at least twice the average chance; call first.

Reasons
-------
Every feature has an entry in :data:`REASONS` in Russian and English: a flag is
said as what the lead did or did not do («смотрел страницу цен»), a number as
``label: value`` in the role's locale (Babel), a category as ``label: value``.
A missing value (and ``unknown``) is said «не заполнено» / "not filled". A field
without an entry (an extra CRM field) is said ``«field»: value``. Each reason
is prefixed ``+`` when it raises the score and ``−`` when it lowers it.
"""

from __future__ import annotations

import decimal
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from babel.numbers import format_decimal, format_percent

from analytics.scoring.economics import MANAGER_COST_PER_HOUR, MINUTES_PER_LEAD

LANGUAGES = ("ru", "en")
LOCALES = {"ru": "ru_RU", "en": "en_GB"}
NOT_FILLED = {"ru": "не заполнено", "en": "not filled"}
MISSING_WORDS = frozenset({"unknown", "", "nan", "none"})
BANDS = ("A", "B", "C", "D")

# kind, scale, ru, en: flags have (yes, no) phrases; numbers, shares and
# categories a label; categories may name values.
REASONS: dict[str, dict] = {
    "site_tracked": {
        "kind": "flag",
        "ru": ("пришёл с сайта", "заявка без визита на сайт"),
        "en": ("came from the website", "no website visit before the request"),
    },
    "visits_before": {"kind": "number", "ru": "визитов до заявки", "en": "visits before request"},
    "pageviews_before": {
        "kind": "number",
        "ru": "страниц просмотрено до заявки",
        "en": "pages viewed before request",
    },
    "duration_before_s": {
        "kind": "number",
        "scale": 1 / 60,
        "ru": "минут на сайте до заявки",
        "en": "minutes on site before request",
    },
    "pricing_viewed": {
        "kind": "flag",
        "ru": ("смотрел страницу цен", "не смотрел страницу цен"),
        "en": ("viewed the pricing page", "did not view the pricing page"),
    },
    "days_first_visit_to_lead": {
        "kind": "number",
        "ru": "дней от первого визита до заявки",
        "en": "days from first visit to request",
    },
    "channels_distinct": {
        "kind": "number",
        "ru": "каналов до заявки",
        "en": "channels before request",
    },
    "call_duration_s": {
        "kind": "number",
        "scale": 1 / 60,
        "ru": "минут разговора",
        "en": "minutes on the call",
    },
    "call_lost": {
        "kind": "flag",
        "ru": ("звонок пропущен", "звонок принят"),
        "en": ("call was missed", "call was answered"),
    },
    "phone_present": {
        "kind": "flag",
        "ru": ("оставил телефон", "телефон не оставил"),
        "en": ("left a phone number", "left no phone number"),
    },
    "email_present": {
        "kind": "flag",
        "ru": ("оставил e-mail", "e-mail не оставил"),
        "en": ("left an e-mail", "left no e-mail"),
    },
    "earlier_requests": {
        "kind": "number",
        "ru": "заявок того же клиента за 30 дней до этой",
        "en": "requests of the same person in the 30 days before",
    },
    "segment_win_rate": {
        "kind": "share",
        "ru": "доля выигранных сделок в его отрасли и размере",
        "en": "win rate of his industry and size",
    },
    "segment_closed_deals": {
        "kind": "number",
        "ru": "закрытых сделок в его отрасли и размере",
        "en": "closed deals in his industry and size",
    },
    "similar_won_share": {
        "kind": "share",
        "ru": "доля выигранных среди похожих прошлых сделок",
        "en": "won share among similar past deals",
    },
    "won_profile_distance": {
        "kind": "number",
        "ru": "отличие от профиля выигранных сделок",
        "en": "distance from the won-deal profile",
    },
    "lead_type": {
        "kind": "category",
        "ru": "тип заявки",
        "en": "request type",
        "values": {
            "ru": {"form": "форма", "call": "звонок", "chat": "чат"},
            "en": {"form": "form", "call": "call", "chat": "chat"},
        },
    },
    "first_channel": {
        "kind": "category",
        "ru": "первый визит из канала",
        "en": "first visit from",
        "values": {"ru": {"no_visits": "визитов не было"}, "en": {"no_visits": "no visits"}},
    },
    "last_channel": {
        "kind": "category",
        "ru": "последний визит из канала",
        "en": "last visit from",
        "values": {"ru": {"no_visits": "визитов не было"}, "en": {"no_visits": "no visits"}},
    },
    "monthly_ad_budget": {
        "kind": "number",
        "ru": "рекламный бюджет в месяц, ₽",
        "en": "ad budget per month, RUB",
    },
    "sales_team_size": {
        "kind": "number",
        "ru": "человек в отделе продаж",
        "en": "people in the sales team",
    },
    "analytics_tools": {
        "kind": "number",
        "ru": "инструментов аналитики",
        "en": "analytics tools in use",
    },
    "region": {"kind": "category", "ru": "регион", "en": "region"},
    "industry": {"kind": "category", "ru": "отрасль", "en": "industry"},
    "company_size": {"kind": "category", "ru": "размер компании", "en": "company size"},
}
"""Reason catalogue: how each feature is said to a sales manager, per language."""


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in MISSING_WORDS


def reason_text(feature: str, value, language: str = "ru") -> str:
    """One feature's value in plain words (see module doc).

    Examples
    --------
    >>> reason_text("pricing_viewed", 1)
    'смотрел страницу цен'
    >>> reason_text("region", None, "en")
    'region: not filled'
    """
    _check_language(language)
    entry = REASONS.get(feature)
    label = entry[language] if entry and entry["kind"] != "flag" else f"«{feature}»"
    if _is_missing(value):
        if entry and entry["kind"] == "flag":
            return f"«{entry[language][0]}»: {NOT_FILLED[language]}"
        return f"{label}: {NOT_FILLED[language]}"
    locale = LOCALES[language]
    if entry is None:
        if isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool
        ):
            return f"{label}: {format_decimal(float(value), format='#,##0.##', locale=locale)}"
        return f"{label}: {value}"
    kind = entry["kind"]
    if kind == "flag":
        yes, no = entry[language]
        return yes if float(value) >= 0.5 else no
    if kind == "share":
        return f"{label}: {format_percent(float(value), format='#,##0%', locale=locale)}"
    if kind == "number":
        number = float(value) * entry.get("scale", 1.0)
        return f"{label}: {format_decimal(number, format='#,##0.#', locale=locale)}"
    shown = entry.get("values", {}).get(language, {}).get(str(value), str(value))
    return f"{label}: {shown}"


_DISPLAY_DIGITS = {None: (0, 2), "share": (2, 0), "number": (0, 1)}
"""Babel pattern per reason kind as (pattern scale, fraction digits): ``#,##0.##``,
``#,##0%`` (scale 2: x 100) and ``#,##0.#`` in :func:`reason_text`."""


def _display_keys(feature: str, values: np.ndarray) -> np.ndarray | None:
    """Integer keys equal exactly when :func:`reason_text` writes two numbers the same.

    Babel writes ``x`` as ``Decimal(str(x))`` shifted by the pattern's scale,
    rounded half-to-even to the pattern's fraction digits, with a minus sign when
    ``x`` is negative (also ``-0.0``). The key is ``2 * |rounded| * 10**digits +
    sign``. Rounding ``t = x * 10**(scale + digits)`` in floating point agrees with
    that whenever ``|t| < 1e8`` and ``t`` is more than ``1e-6`` away from a tie
    (the float and decimal values of ``t`` differ by less than ``3e-8`` there);
    the other values are rounded in :mod:`decimal` the way Babel does.

    Returns None when the kind is not a number, or a value is infinite.
    """
    entry = REASONS.get(feature)
    kind = None if entry is None else entry["kind"]
    if kind not in _DISPLAY_DIGITS:
        return None
    x = values.astype(float)
    if kind == "number":
        x = x * entry.get("scale", 1.0)  # the same float product as reason_text
    if np.isinf(x).any():
        return None
    scale, digits = _DISPLAY_DIGITS[kind]
    with np.errstate(invalid="ignore"):
        t = np.abs(x) * 10.0 ** (scale + digits)
        safe = (t < 1e8) & (np.abs(t - np.floor(t) - 0.5) > 1e-6)
    keys = np.zeros(len(x), dtype=object)
    keys[safe] = 2 * np.rint(t[safe]).astype(np.int64) + np.signbit(x[safe])
    quantum = decimal.Decimal(1).scaleb(-digits)
    for i in np.flatnonzero(~safe & ~np.isnan(x)):
        exact = decimal.Decimal(str(float(x[i]))).scaleb(scale)
        rounded = abs(exact).quantize(quantum, rounding=decimal.ROUND_HALF_EVEN)
        keys[i] = 2 * int(rounded.scaleb(digits)) + int(exact.is_signed())
    keys[np.isnan(x)] = None
    return keys


_SAFE_TO_GROUP = frozenset({"integer", "floating", "string", "boolean", "empty"})
"""``pandas.api.types.infer_dtype`` kinds whose equal values also read the same
(``True == 1 == 1.0`` would otherwise share one phrase)."""


def reason_phrases(scored: pd.DataFrame, language: str = "ru") -> np.ndarray:
    """Every lead's reasons as one line: ``+``/``−`` phrases joined by ``; ``.

    Parameters
    ----------
    scored : pandas.DataFrame
        Output of ``LeadScoringModel.score_with_reasons`` or ``top_reasons``:
        ``reason_k``, ``value_k``, ``effect_k`` for ``k = 1..n``.
    language : {"ru", "en"}

    Returns
    -------
    numpy.ndarray of str
        One line per row of ``scored``, the same text as
        :func:`reason_text` per reason. Each distinct (feature, value) is put
        into words once (Babel is called per distinct value, not per lead),
        so 100k leads with a few thousand distinct values take a fraction of
        a second.
    """
    _check_language(language)
    n = sum(1 for c in scored.columns if c.startswith("reason_"))
    line = None
    for k in range(1, n + 1):
        features = pd.Categorical(scored[f"reason_{k}"])
        values = scored[f"value_{k}"].to_numpy(dtype=object)
        phrase = np.empty(len(scored), dtype=object)
        codes = features.codes
        for c, feature in enumerate(features.categories):
            at = np.flatnonzero(codes == c)
            if not len(at):
                continue
            chosen = values[at]
            inferred = pd.api.types.infer_dtype(chosen, skipna=True)
            keys = _display_keys(feature, chosen) if inferred == "floating" else None
            if keys is not None:
                # one phrase per number as written, not per float: 100k leads'
                # continuous values have tens of thousands of distinct floats
                ids, _ = pd.factorize(keys, use_na_sentinel=True)
                first = pd.Series(np.arange(len(ids))).groupby(ids).first()
                first = first[first.index >= 0].to_numpy()
                words = [reason_text(feature, chosen[i], language) for i in first]
                words.append(reason_text(feature, None, language))  # id -1: not filled
                phrase[at] = np.asarray(words, dtype=object)[ids]
            elif inferred in _SAFE_TO_GROUP:
                ids, distinct = pd.factorize(chosen, use_na_sentinel=True)
                words = [reason_text(feature, v, language) for v in distinct]
                words.append(reason_text(feature, None, language))  # id -1: not filled
                phrase[at] = np.asarray(words, dtype=object)[ids]
            else:
                phrase[at] = [reason_text(feature, v, language) for v in chosen]
        signs = np.where(scored[f"effect_{k}"].to_numpy() >= 0, "+ ", "− ").astype(object)
        phrase = signs + phrase
        line = phrase if line is None else line + "; " + phrase
    return line if line is not None else np.full(len(scored), "", dtype=object)


def band_cutoffs(
    base_rate: float,
    *,
    value_per_sql: float,
    minutes_per_lead: float = MINUTES_PER_LEAD,
    manager_cost_per_hour: float = MANAGER_COST_PER_HOUR,
) -> dict[str, float]:
    """Lowest probability of bands A, B and C (below C is D); formulas in the module doc.

    Parameters
    ----------
    base_rate : float
        ``b``, share of leads that convert (the model's ``base_rate_``).
    value_per_sql : float
        ``V``, RUB per SQL (:func:`analytics.scoring.revenue_per_sql` times a margin).
    minutes_per_lead, manager_cost_per_hour : float
        Manager minutes per call and RUB per manager hour.

    Returns
    -------
    dict
        ``{"A": max(p0, 2b), "B": max(p0, b), "C": p0}``, ``p0 = c / (c + V)``.
    """
    if value_per_sql <= 0:
        raise ValueError(f"value_per_sql must be positive, got {value_per_sql!r}")
    call_cost = minutes_per_lead / 60.0 * manager_cost_per_hour
    break_even = call_cost / (call_cost + value_per_sql)
    return {
        "A": max(break_even, 2 * base_rate),
        "B": max(break_even, base_rate),
        "C": break_even,
    }


def bands(p, cutoffs: dict[str, float]) -> np.ndarray:
    """Band A-D of each probability: the best band whose lower cut-off it reaches."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, "D", dtype=object)
    for band in ("C", "B", "A"):
        out[p >= cutoffs[band]] = band
    return out


CALL_LIST_COLUMNS = (
    "lead",
    "label",
    "owner",
    "channel",
    "hours_since_request",
    "score",
    "band",
    "reasons",
)
"""Columns of :func:`call_list`, in order."""

HEADERS = {
    "ru": {
        "lead": "Заявка",
        "label": "Описание",
        "owner": "Менеджер",
        "channel": "Канал",
        "hours_since_request": "Часов с заявки",
        "score": "Балл",
        "band": "Группа",
        "reasons": "Почему",
    },
    "en": {
        "lead": "Lead",
        "label": "Description",
        "owner": "Manager",
        "channel": "Channel",
        "hours_since_request": "Hours since request",
        "score": "Score",
        "band": "Band",
        "reasons": "Why",
    },
}
"""Column headers of the call list per language (CSV export and pages)."""


def call_list(
    model,
    leads: pd.DataFrame,
    *,
    cutoffs: dict[str, float],
    language: str = "ru",
    now=None,
    n_reasons: int = 3,
) -> pd.DataFrame:
    """Leads to call, band A first, each with its score and reasons in plain words.

    Parameters
    ----------
    model : LeadScoringModel
        Fitted or loaded model.
    leads : pandas.DataFrame
        One row per lead, indexed by lead id, with the model's feature columns
        and optionally ``label``, ``owner``, ``channel`` (text) and
        ``created_at`` (naive UTC timestamp of the request).
    cutoffs : dict
        From :func:`band_cutoffs`.
    language : {"ru", "en"}
        Language of the reasons.
    now : datetime-like, optional
        Time the list is made (naive UTC); now by default.
    n_reasons : int
        Reasons per lead (2-3 read well).

    Returns
    -------
    pandas.DataFrame
        :data:`CALL_LIST_COLUMNS` plus ``probability``: ``lead`` (id),
        ``hours_since_request`` (hours from ``created_at`` to ``now``, one
        decimal; NaN without ``created_at``), ``score`` (0-100), ``band``
        (A-D), ``reasons`` (``+``/``−`` phrases joined by ``; ``); sorted by
        band, then score (highest first), then the oldest request first.
    """
    return call_lists(
        model, leads, cutoffs=cutoffs, languages=(language,), now=now, n_reasons=n_reasons
    )[language]


def call_lists(
    model,
    leads: pd.DataFrame,
    *,
    cutoffs: dict[str, float],
    languages=LANGUAGES,
    now=None,
    n_reasons: int = 3,
    labels: dict | None = None,
) -> dict[str, pd.DataFrame]:
    """:func:`call_list` in several languages from one scoring of the leads.

    The scores and reasons (the costly part: one walk of the booster per lead)
    do not depend on the language; only the reasons' words do, and the
    ``label`` when ``labels`` gives one per language.

    Parameters
    ----------
    labels : dict, optional
        ``{language: label per lead}`` (aligned with ``leads``) used instead of
        ``leads["label"]`` for that language.

    Returns
    -------
    dict
        ``{language: call list}`` for each of ``languages``, each the frame
        :func:`call_list` returns for that language.
    """
    languages = tuple(dict.fromkeys(languages))
    for language in languages:
        _check_language(language)
    if leads.empty:
        return {
            language: pd.DataFrame(columns=[*CALL_LIST_COLUMNS, "probability"])
            for language in languages
        }
    scored = model.score_with_reasons(leads, n=n_reasons)
    when = (
        pd.Timestamp(now) if now is not None else pd.Timestamp(datetime.now(UTC)).tz_localize(None)
    )
    if "created_at" in leads.columns:
        hours = ((when - pd.to_datetime(leads["created_at"])).dt.total_seconds() / 3600).round(1)
        hours = hours.to_numpy()
    else:
        hours = np.full(len(leads), np.nan)
    probability = scored["probability"].to_numpy()

    def text_column(name: str, frame: pd.DataFrame = leads) -> np.ndarray:
        if name not in frame.columns:
            return np.full(len(frame), "", dtype=object)
        return frame[name].astype(object).where(frame[name].notna(), "").to_numpy()

    out = {}
    for language in languages:
        labelled = leads
        if labels is not None and language in labels:
            labelled = leads.assign(label=labels[language])
        frame = pd.DataFrame(
            {
                "lead": leads.index.astype(str),
                "label": text_column("label", labelled),
                "owner": text_column("owner"),
                "channel": text_column("channel"),
                "hours_since_request": hours,
                "score": np.rint(100 * probability).astype(int),
                "band": bands(probability, cutoffs),
                "reasons": reason_phrases(scored, language),
                "probability": probability,
            }
        )
        frame["_age"] = -np.nan_to_num(hours, nan=0.0)
        frame = frame.sort_values(
            ["band", "probability", "_age", "lead"], ascending=[True, False, True, True]
        )
        out[language] = frame.drop(columns="_age").reset_index(drop=True)
    return out


def export_call_list(frame: pd.DataFrame, path: str | Path, language: str = "ru") -> Path:
    """Write a call list as CSV that opens in Excel: headers in the role's language.

    Russian: ``;`` separator and decimal comma (what Russian Excel expects);
    English: ``,`` and decimal point. UTF-8 with a byte-order mark. The
    ``probability`` column is left out (``score`` carries it).

    Returns
    -------
    Path
        The file written.
    """
    _check_language(language)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = frame[list(CALL_LIST_COLUMNS)].rename(columns=HEADERS[language])
    table.to_csv(
        path,
        index=False,
        sep=";" if language == "ru" else ",",
        decimal="," if language == "ru" else ".",
        encoding="utf-8-sig",
    )
    return path
