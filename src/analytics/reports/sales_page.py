"""The head of sales' page: who to call first and why, and how each manager is doing.

Two sections, in the role's language, each opening with a sentence computed
from the data (:mod:`analytics.reports.page` components, every value escaped):

* :func:`call_list_section` -- the period's leads ordered by the saved model's
  score (:func:`analytics.scoring.training.warehouse_call_list`): request,
  description (request type, industry, company size -- never a phone or an
  e-mail), manager, channel, hours since the request, score 0-100, band A-D
  and two or three reasons in plain words;
* :func:`managers_section` -- per manager: deals closed in the period, won,
  win rate = won / closed × 100 %, revenue, average deal and the median cycle
  (days from the lead's request to the won deal), from
  :func:`analytics.metrics.kpi.win_rate_by_manager` and
  :func:`analytics.metrics.kpi.cycle_time`.

The call list is also written as CSV (:func:`analytics.scoring.sales.export_call_list`)
into the role's report folder, and the sales e-mail attaches it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from babel import Locale

from analytics.metrics.kpi import cycle_time, win_rate_by_manager
from analytics.reports import page
from analytics.reports.formatting import format_value
from analytics.scoring.sales import HEADERS
from analytics.sources.channels import channel_label

CALL_LIST_FILE = "call_list.csv"
"""File name of the call list in ``reports/<period>/<role>/`` (attached to the e-mail)."""

WORDS = {
    "ru": {
        "title": "Продажи: кому звонить первым",
        "calls": "Кому звонить первым",
        "calls_none": "За период новых заявок нет — звонить некому.",
        "calls_lead": "{n} {requests} за период; в группе A (звонить первыми) — {a}, "
        "в группе B — {b}. Первая в списке: «{label}», балл {score}.",
        "requests": {"one": "заявка", "few": "заявки", "many": "заявок", "other": "заявки"},
        "deals": {"one": "сделка", "few": "сделки", "many": "сделок", "other": "сделки"},
        "calls_more": "Показаны первые {shown} из {n}; весь список — во вложении (CSV).",
        "band_chart": "Заявки по группам",
        "bands": "Группы: A — звонить первыми (шанс на SQL вдвое выше среднего), "
        "D — звонок обходится дороже, чем ожидаемая польза.",
        "managers": "Менеджеры: сделки периода",
        "managers_none": "За период ни одна сделка не закрыта.",
        "managers_lead": "Закрыто: {closed} {deals}, выиграно: {won} (конверсия {rate}); "
        "лучшая конверсия у менеджера {best} ({best_rate}).",
        "managers_none_won": "Закрыто: {closed} {deals}, ни одна не выиграна.",
        "cols": {
            "manager": "Менеджер",
            "closed": "Закрыто сделок",
            "won": "Выиграно",
            "win_rate": "Конверсия в продажу",
            "revenue": "Выручка",
            "average_deal": "Средний чек",
            "median_days": "Цикл сделки, медиана",
        },
    },
    "en": {
        "title": "Sales: who to call first",
        "calls": "Who to call first",
        "calls_none": "No new requests in the period: nobody to call.",
        "calls_lead": "{n} {requests} in the period; {a} in band A (call first), {b} in band B. "
        "First on the list: “{label}”, score {score}.",
        "requests": {"one": "request", "other": "requests"},
        "deals": {"one": "deal", "other": "deals"},
        "calls_more": "The first {shown} of {n} are shown; the whole list is attached (CSV).",
        "band_chart": "Requests by band",
        "bands": "Bands: A, call first (twice the average chance of SQL); "
        "D, a call costs more than it is expected to bring.",
        "managers": "Managers: deals of the period",
        "managers_none": "No deal was closed in the period.",
        "managers_lead": "{closed} {deals} closed, {won} won (win rate {rate}); "
        "the best win rate is {best}'s ({best_rate}).",
        "managers_none_won": "{closed} {deals} closed, none won.",
        "cols": {
            "manager": "Manager",
            "closed": "Deals closed",
            "won": "Won",
            "win_rate": "Win rate",
            "revenue": "Revenue",
            "average_deal": "Average deal",
            "median_days": "Deal cycle, median",
        },
    },
}


def _language(locale: str) -> str:
    return "ru" if str(locale).lower().startswith("ru") else "en"


def _plural(forms: dict[str, str], n: int, language: str) -> str:
    """The word form for ``n`` by the CLDR plural rules of ``language`` (Babel)."""
    return forms.get(Locale(language).plural_form(n), forms["other"])


def page_title(locale: str = "ru") -> str:
    """The call-list page's title in the role's language."""
    return WORDS[_language(locale)]["title"]


def call_list_section(calls: pd.DataFrame, locale: str = "ru", max_rows: int = 30) -> page.Html:
    """The call list as a page section.

    Parameters
    ----------
    calls : pandas.DataFrame
        :func:`analytics.scoring.training.warehouse_call_list` (already in order:
        band, then score).
    locale : {"ru", "en"}
    max_rows : int
        Rows shown on the page (the CSV holds them all).
    """
    language = _language(locale)
    words = WORDS[language]
    headers = HEADERS[language]
    out = page.heading(words["calls"])
    if calls.empty:
        return page.Html(out + page.conclusion(words["calls_none"]))
    counts = calls["band"].value_counts()
    first = calls.iloc[0]
    out += page.conclusion(
        words["calls_lead"].format(
            n=len(calls),
            requests=_plural(words["requests"], len(calls), language),
            a=int(counts.get("A", 0)),
            b=int(counts.get("B", 0)),
            label=first["label"] or first["lead"],
            score=int(first["score"]),
        )
    )
    # one label per distinct channel (each lookup checks the channels file), not per row
    labels = {c: channel_label(c, locale) for c in calls["channel"].unique()}
    shown = calls.assign(channel=calls["channel"].map(labels))
    columns = [
        page.Column("band", headers["band"]),
        page.Column("score", headers["score"], "count"),
        page.Column("label", headers["label"]),
        page.Column("reasons", headers["reasons"]),
        page.Column("owner", headers["owner"]),
        page.Column("channel", headers["channel"]),
        page.Column("hours_since_request", headers["hours_since_request"], "count"),
        page.Column("lead", headers["lead"]),
    ]
    from analytics.reports.summary import figure_html

    bands = ("A", "B", "C", "D")
    chart = page.bar_chart(
        bands, [int(counts.get(b, 0)) for b in bands], "count", locale, words["band_chart"]
    )
    out += figure_html(chart, words["band_chart"])
    out += page.table(shown, columns, locale, max_rows=max_rows)
    if len(calls) > max_rows:
        out += page.note(words["calls_more"].format(shown=max_rows, n=len(calls)))
    return page.Html(out + page.note(words["bands"]))


def manager_frame(con, period) -> pd.DataFrame:
    """Per manager: closed, won, win rate (%), revenue, average deal (RUB), median cycle (days)."""
    managers = win_rate_by_manager(con, period)
    if managers.empty:
        return managers.assign(median_days=pd.Series(dtype="float64"))
    cycles = cycle_time(con, period, by="manager")
    frame = managers.merge(cycles[["median_days"]], left_on="manager", right_index=True, how="left")
    return frame.reset_index(drop=True)


def managers_section(con, period, locale: str = "ru", frame=None) -> page.Html:
    """Win rate, revenue and cycle time per manager for the deals closed in ``period``.

    ``frame``: :func:`manager_frame` of the period when the caller computed it once for
    every language of the page (``con`` is then not read)."""
    language = _language(locale)
    words = WORDS[language]
    out = page.heading(words["managers"])
    frame = manager_frame(con, period) if frame is None else frame
    closed = int(frame["closed"].sum()) if not frame.empty else 0
    if closed == 0:
        return page.Html(out + page.conclusion(words["managers_none"]))
    won = int(frame["won"].sum())
    deals = _plural(words["deals"], closed, language)
    best = frame.sort_values(["win_rate", "closed"], ascending=False).iloc[0]
    if won == 0:
        out += page.conclusion(words["managers_none_won"].format(closed=closed, deals=deals))
    else:
        out += page.conclusion(
            words["managers_lead"].format(
                closed=closed,
                deals=deals,
                won=won,
                rate=format_value(won / closed * 100, "percent", locale),
                best=best["manager"],
                best_rate=format_value(best["win_rate"], "percent", locale),
            )
        )
    cols = words["cols"]
    columns = [
        page.Column("manager", cols["manager"]),
        page.Column("closed", cols["closed"], "count"),
        page.Column("won", cols["won"], "count"),
        page.Column("win_rate", cols["win_rate"], "percent"),
        page.Column("revenue", cols["revenue"], "RUB"),
        page.Column("average_deal", cols["average_deal"], "RUB"),
        page.Column("median_days", cols["median_days"], "days"),
    ]
    return page.Html(out + page.table(frame, columns, locale))


def call_list_path(snapshot: str | Path | None, role: str) -> Path | None:
    """Where the run keeps the role's call list: beside its pages, or None outside a run."""
    if not snapshot:
        return None
    return Path(snapshot).parent / role / CALL_LIST_FILE
