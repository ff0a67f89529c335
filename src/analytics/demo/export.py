"""The demo company's tables written as vendor exports, and loaded back.

:func:`write_vendor_exports` turns :class:`analytics.demo.generator.DemoData` into the
files the adapters read, in the vendors' formats:

==================  =====================================================  =============
kind                file                                                   from
==================  =====================================================  =============
``metrica``         ``metrica_visits.tsv``: Logs API TSV, UTF-8            ``visits``
``calls``           ``calltracking_requests.csv``: calls, chats and forms,  ``leads``
                    ``;``, UTF-8 with BOM, ``dd.mm.yyyy`` times, ``m:ss``
``amocrm``          ``amocrm_deals.csv``: cp1251, ``;``, amounts            ``deals``
                    ``'447 400,00'`` (no-break space), contact phone/e-mail
``amocrm_stages``   ``amocrm_stage_history.csv``: cp1251, ``;``             ``deal_stages``
``direct``          ``direct_report.tsv``: Reports API TSV, costs with      ``spend``
                    20 % VAT, title and ``Total rows`` lines
``google_ads``      ``google_ads_report.csv``: web download, title lines,   ``spend``
                    ``1,234`` numbers, ``Total`` lines
==================  =====================================================  =============

Spend of channels with no vendor adapter (VK Ads:
:data:`CANONICAL_SPEND_CHANNELS`) goes to ``vk_ads_spend.csv`` in the
canonical ``spend`` columns (source kind ``spend``).
:func:`load_vendor_exports` loads them through :func:`analytics.sources.load_source`;
the result equals loading the canonical files.

The lead form's profile answers (canonical table ``lead_fields``) travel only as
the amoCRM deal's custom fields (:data:`AMOCRM_PROFILE_FIELDS`); the amoCRM
adapter keeps custom fields in ``lead_fields`` (recorded at the deal's creation,
five minutes after the lead), and :func:`load_vendor_exports` renames the
Russian labels to the form's field names (``--map "label=field:name"``), so the
scoring fields of ``params/scoring.yaml`` are found on both paths.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.demo.generator import DemoData, profile_answers
from analytics.sources import load_source
from analytics.warehouse import LoadResult

SITE = "https://demo-analytics.ru"
"""Site of the demo company (landing URLs in the Metrica export)."""

PRICING_GOAL_ID = 301234567
"""Metrica goal id of "pricing page viewed" in the demo export."""

OTHER_GOAL_ID = 301234999
"""Another goal (any form shown) listed beside the pricing goal, for realism."""

CANONICAL_SPEND_CHANNELS = ("vk_ads",)
"""Demo spend channels with no vendor adapter here (VK Ads): exported as a
canonical ``spend`` CSV, the format for any ad platform without an adapter."""

FILES = {
    "direct": "direct_report.tsv",
    "google_ads": "google_ads_report.csv",
    "spend": "vk_ads_spend.csv",
    "metrica": "metrica_visits.tsv",
    "calls": "calltracking_requests.csv",
    "amocrm": "amocrm_deals.csv",
    "amocrm_stages": "amocrm_stage_history.csv",
}
"""Source kind -> file name, in load order (leads before deals)."""

AMOCRM_STAGE_NAMES = {
    "new": "Первичный контакт",
    "mql": "Квалификация",
    "sql": "Переговоры",
    "demo": "Демонстрация",
    "proposal": "Коммерческое предложение",
    "won": "Успешно реализовано",
    "lost": "Закрыто и не реализовано",
}
"""Canonical stage -> amoCRM stage name written (mapped back by the adapter's defaults)."""

_TRAFFIC_SOURCE = {
    "organic": "organic",
    "referral": "referral",
    "direct": "direct",
    "email": "email",
}
_AD_ENGINE = {"yandex": "ya_direct", "google": "google_adwords", "vk": "vk_ads"}
_DEVICE_CODE = {"desktop": "1", "mobile": "2", "tablet": "3"}
_LEAD_TYPE_NAME = {"call": "Звонок", "chat": "Чат", "form": "Заявка"}
_UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


def _text(values: pd.Series) -> pd.Series:
    """Text of each value, missing as ``""``."""
    return values.astype(object).where(values.notna(), "").astype(str)


def _ru_time(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values)
    return _text(stamps.dt.strftime("%d.%m.%Y %H:%M:%S").where(stamps.notna(), None))


def _ru_money(value: float) -> str:
    """``447400.0`` -> ``'447 400,00'`` with no-break spaces."""
    if value is None or np.isnan(value):
        return ""
    return f"{value:,.2f}".replace(",", "\u00a0").replace(".", ",")


def _write(path: Path, frame: pd.DataFrame, *, sep: str, encoding: str) -> None:
    frame.to_csv(path, sep=sep, index=False, encoding=encoding, quoting=csv.QUOTE_MINIMAL)


def metrica_visits(visits: pd.DataFrame) -> pd.DataFrame:
    """Demo visits as Logs API fields (``ym:s:*``)."""
    channel = visits["channel"]
    paid = visits["utm_campaign"].notna()
    source = _text(visits["utm_source"])
    traffic = channel.map(_TRAFFIC_SOURCE).where(~paid, "ad").fillna("direct")
    query = np.where(
        visits["utm_source"].notna(),
        "?utm_source=" + source + "&utm_medium=" + _text(visits["utm_medium"]),
        "",
    )
    return pd.DataFrame(
        {
            "ym:s:visitID": visits["visit_id"],
            "ym:s:counterID": "44147844",
            "ym:s:clientID": visits["visitor_id"],
            "ym:s:dateTime": pd.to_datetime(visits["visit_start"]).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "ym:s:startURL": SITE + _text(visits["landing_page"]) + query,
            "ym:s:pageViews": visits["pageviews"].astype(str),
            "ym:s:visitDuration": visits["duration_s"].astype(str),
            "ym:s:goalsID": np.where(
                visits["goal_pricing"], f"[{OTHER_GOAL_ID},{PRICING_GOAL_ID}]", "[]"
            ),
            "ym:s:deviceCategory": visits["device"].map(_DEVICE_CODE).fillna(""),
            "ym:s:lastTrafficSource": traffic,
            "ym:s:lastSearchEngineRoot": np.where(traffic == "organic", source, ""),
            "ym:s:lastAdvEngine": np.where(paid, source.map(_AD_ENGINE).fillna(""), ""),
            "ym:s:lastReferalSource": np.where(traffic == "referral", source, ""),
            "ym:s:UTMSource": source,
            "ym:s:UTMMedium": _text(visits["utm_medium"]),
            "ym:s:UTMCampaign": _text(visits["utm_campaign"]),
            "ym:s:UTMContent": _text(visits["utm_content"]),
            "ym:s:UTMTerm": _text(visits["utm_term"]),
        }
    )


def calltracking_requests(leads: pd.DataFrame) -> pd.DataFrame:
    """Demo leads as a CoMagic-style communications report."""
    duration = leads["call_duration_s"]
    minutes = duration.fillna(0).astype("int64")
    clock = (minutes // 60).astype(str) + ":" + (minutes % 60).astype(str).str.zfill(2)
    lost = leads["call_lost"].map({True: "Да", False: "Нет"})
    return pd.DataFrame(
        {
            "ID обращения": leads["lead_id"],
            "Тип обращения": leads["lead_type"].map(_LEAD_TYPE_NAME),
            "Дата и время": _ru_time(leads["created_at"]),
            "Номер абонента": _text(leads["phone"]),
            "Email": _text(leads["email"]),
            "Yandex ClientID": _text(leads["visitor_id"]),
            "ID сессии": _text(leads["visit_id"]),
            **{u: _text(leads[u]) for u in _UTM},
            "Длительность разговора": clock.where(duration.notna(), ""),
            "Потерянный звонок": _text(lost),
            "Регион": _text(leads["region"]),
            "Отрасль": _text(leads["industry"]),
            "Размер компании": _text(leads["company_size"]),
        }
    )


AMOCRM_PROFILE_FIELDS = {
    "monthly_ad_budget": "Рекламный бюджет в месяц, руб.",  # cp1251 has no ₽
    "sales_team_size": "Менеджеров в отделе продаж",
    "analytics_tools": "Инструментов аналитики",
}
"""The lead form's profile answers (:data:`analytics.demo.generator.PROFILE_FIELDS`)
as the amoCRM custom fields of the deal they land in (empty when unanswered)."""


def amocrm_deals(
    deals: pd.DataFrame, leads: pd.DataFrame, answers: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Demo deals as an amoCRM export, with the lead's phone and e-mail as contact
    and the lead form's profile answers as custom fields (:data:`AMOCRM_PROFILE_FIELDS`).

    ``answers`` is :func:`analytics.demo.generator.profile_answers` (one row per
    lead id, a column per field); without it, answer columns of ``leads`` are used
    if any."""
    contact = leads.drop_duplicates("lead_id").set_index("lead_id")
    if answers is not None:
        contact = contact.drop(columns=list(answers.columns), errors="ignore").join(answers)
    return pd.DataFrame(
        {
            "ID": deals["deal_id"],
            "Название сделки": "Сделка #" + deals["deal_id"].astype(str),
            "Бюджет": [_ru_money(a) for a in deals["amount"].astype(float)],
            "Ответственный": _text(deals["manager"]),
            "Дата создания": _ru_time(deals["created_at"]),
            "Дата закрытия": _ru_time(deals["closed_at"]),
            "Воронка": "Продажи",
            "Этап сделки": deals["stage"].map(AMOCRM_STAGE_NAMES),
            "Причина отказа": _text(deals["loss_reason"]),
            "ID заявки": _text(deals["lead_id"]),
            "Рабочий телефон (контакт)": _text(deals["lead_id"].map(contact["phone"])),
            "Рабочий email (контакт)": _text(deals["lead_id"].map(contact["email"])),
            **{u: _text(deals[u]) for u in _UTM},
            "Регион": _text(deals["region"]),
            "Отрасль": _text(deals["industry"]),
            "Размер компании": _text(deals["company_size"]),
            **{
                label: _text(deals["lead_id"].map(contact[field]))
                for field, label in AMOCRM_PROFILE_FIELDS.items()
                if field in contact.columns
            },
        }
    )


def amocrm_stage_history(stages: pd.DataFrame) -> pd.DataFrame:
    """Demo stage history as flattened amoCRM stage-change events."""
    return pd.DataFrame(
        {
            "Дата": _ru_time(stages["entered_at"]),
            "ID сделки": stages["deal_id"],
            "Новый этап": stages["stage"].map(AMOCRM_STAGE_NAMES),
        }
    )


def _period(spend: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    dates = pd.to_datetime(spend["date"])
    return dates.min(), dates.max()


def write_direct_report(spend: pd.DataFrame, path: Path, vat_rate: float = 0.20) -> Path:
    """Yandex Direct rows of ``spend`` as a Reports API TSV with VAT in the costs."""
    rows = spend[spend["utm_source"] == "yandex"]
    start, end = _period(spend)
    table = pd.DataFrame(
        {
            "Date": pd.to_datetime(rows["date"]).dt.strftime("%Y-%m-%d"),
            "CampaignName": rows["campaign"],
            "AdGroupName": rows["ad_group"],
            "AdId": rows["creative"],
            "AdNetworkType": np.where(rows["utm_medium"] == "display", "AD_NETWORK", "SEARCH"),
            "Impressions": rows["impressions"].astype(str),
            "Clicks": rows["clicks"].astype(str),
            "Cost": [f"{c * (1 + vat_rate):.2f}" for c in rows["cost"]],
        }
    )
    lines = [f'"demo_spend ({start:%Y-%m-%d} - {end:%Y-%m-%d})"', "\t".join(table.columns)]
    lines += ["\t".join(r) for r in table.itertuples(index=False, name=None)]
    lines.append(f"Total rows: {len(table)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_google_ads_report(spend: pd.DataFrame, path: Path) -> Path:
    """Google Ads rows of ``spend`` as a web-interface CSV download."""
    rows = spend[spend["utm_source"] == "google"]
    start, end = _period(spend)
    table = pd.DataFrame(
        {
            "Day": pd.to_datetime(rows["date"]).dt.strftime("%Y-%m-%d"),
            "Campaign": rows["campaign"],
            "Ad group": rows["ad_group"],
            "Ad ID": rows["creative"],
            "Campaign type": np.where(rows["utm_medium"] == "display", "Display", "Search"),
            "Currency code": "RUB",
            "Impr.": [f"{n:,}" for n in rows["impressions"]],
            "Clicks": [f"{n:,}" for n in rows["clicks"]],
            "Cost": [f"{c:,.2f}" for c in rows["cost"]],
        }
    )
    total = ["Total: Account", "--", "--", "--", "--", "RUB"]
    total += [f"{rows['impressions'].sum():,}", f"{rows['clicks'].sum():,}"]
    total += [f"{rows['cost'].sum():,.2f}"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["Ad report"])
        writer.writerow([f"{start:%B %-d, %Y} - {end:%B %-d, %Y}"])
        writer.writerow(table.columns)
        writer.writerows(table.itertuples(index=False, name=None))
        writer.writerow(total)
    return path


def write_vendor_exports(data: DemoData, out_dir: str | Path) -> dict[str, Path]:
    """Write the demo company's tables as vendor exports.

    Parameters
    ----------
    data : DemoData
        From :func:`analytics.demo.generator.generate` (phones and e-mails in clear).
    out_dir : str or Path
        Folder to write into (created).

    Returns
    -------
    dict
        Source kind -> file, in load order (:data:`FILES`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t = data.tables
    paths = {kind: out / name for kind, name in FILES.items()}
    write_direct_report(t["spend"], paths["direct"])
    write_google_ads_report(t["spend"], paths["google_ads"])
    other = t["spend"][t["spend"]["channel"].isin(CANONICAL_SPEND_CHANNELS)]
    other.to_csv(paths["spend"], index=False)
    metrica = metrica_visits(t["visits"])
    metrica.to_csv(paths["metrica"], sep="\t", index=False, quoting=csv.QUOTE_NONE)
    _write(paths["calls"], calltracking_requests(t["leads"]), sep=";", encoding="utf-8-sig")
    amocrm = amocrm_deals(t["deals"], t["leads"], profile_answers(data))
    _write(paths["amocrm"], amocrm, sep=";", encoding="cp1251")
    _write(
        paths["amocrm_stages"], amocrm_stage_history(t["deal_stages"]), sep=";", encoding="cp1251"
    )
    return paths


def load_vendor_exports(
    con,
    files: dict[str, Path],
    *,
    salt: str,
    load_id: str | None = None,
    now: datetime | None = None,
) -> list[LoadResult]:
    """Load the files of :func:`write_vendor_exports` through the adapters, in order.

    Returns
    -------
    list of LoadResult
        One per file, in the order of ``files``.
    """
    options = {
        "metrica": {"pricing_goal_ids": [PRICING_GOAL_ID]},
        "amocrm": {
            "columns": {label: f"field:{name}" for name, label in AMOCRM_PROFILE_FIELDS.items()}
        },
    }
    return [
        load_source(con, kind, path, salt=salt, load_id=load_id, now=now, **options.get(kind, {}))
        for kind, path in files.items()
    ]
