"""Ad cost reports (Yandex Direct, Google Ads) -> ``spend``.

Both reports give one row per day and ad: date, campaign, ad group, ad,
impressions, clicks and cost. The canonical ``spend`` is in roubles without
VAT, so the cost is converted per the report's settings:

``cost_rub = cost / 1e6 (if money_in_micros) * rate(currency) / (1 + vat_rate) (if vat_included)``

rounded to kopecks. Defaults follow each vendor: Yandex Direct reports
usually include VAT (Reports API header ``includeVAT: YES``; the web
interface shows costs with VAT) at 20 %, in roubles; Google Ads reports
exclude VAT and name the currency per row (``Currency code``).

* **Yandex Direct** (:func:`load_direct`): the Reports API TSV (UTF-8, tab,
  first line the report name and period, then the column names
  ``Date, CampaignName, AdGroupName, AdId, Impressions, Clicks, Cost`` and
  optionally ``AdNetworkType``, last line ``Total rows: N``, ``--`` for an
  empty value) or a web-interface export with Russian column names. The
  ``Total rows`` count is checked: a report with fewer data rows was cut.
  Money is in currency units unless the request omitted
  ``returnMoneyInMicros: false`` (then pass ``money_in_micros=True``).
  ``utm_medium`` is ``cpc`` for search and ``display`` for the ad network
  (``AdNetworkType`` SEARCH / AD_NETWORK), ``default_medium`` without it.
* **Google Ads** (:func:`load_google_ads`): a report downloaded as CSV from
  the web interface: title lines, then ``Day, Campaign, Ad group, Ad ID,
  Currency code, Impr., Clicks, Cost`` (English or Russian names), numbers
  with ``,`` thousands separators, ``--`` for empty, and ``Total: ...``
  summary lines at the end (removed). ``Campaign type`` Search -> ``cpc``,
  Display / Video -> ``display``.

The channel of each row comes from :mod:`analytics.sources.channels` with
``utm_source`` ``yandex`` or ``google``, the medium above and the campaign.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import pandas as pd

from analytics import warehouse
from analytics.sources import (
    ExportTable,
    decimal_text,
    load_translated,
    map_text,
    read_export,
    ru_datetime_text,
)
from analytics.sources.channels import ChannelRules, load_channel_rules
from analytics.warehouse import InputError

DIRECT_VENDOR = "Yandex Direct report"
GOOGLE_VENDOR = "Google Ads report"

VAT_RATE = 0.20
"""Russian VAT rate included in Yandex Direct costs."""

DIRECT_COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("Date", "Дата"),
    "campaign": ("CampaignName", "Кампания", "Название кампании"),
    "ad_group": ("AdGroupName", "Группа", "Название группы", "Группа объявлений"),
    "creative": ("AdId", "№ объявления", "ID объявления", "Объявление"),
    "impressions": ("Impressions", "Показы"),
    "clicks": ("Clicks", "Клики"),
    "cost": ("Cost", "Расход (руб.)", "Расход, ₽", "Расход"),
    "network": ("AdNetworkType", "Тип площадки"),
}
GOOGLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("Day", "Date", "День", "Дата"),
    "campaign": ("Campaign", "Кампания"),
    "ad_group": ("Ad group", "Группа объявлений"),
    "creative": ("Ad ID", "Ad", "Идентификатор объявления", "Объявление"),
    "impressions": ("Impr.", "Impressions", "Показы"),
    "clicks": ("Clicks", "Клики"),
    "cost": ("Cost", "Стоимость", "Расходы"),
    "currency": ("Currency code", "Currency", "Код валюты", "Валюта"),
    "campaign_type": ("Campaign type", "Тип кампании"),
}
REQUIRED = ("date", "campaign", "ad_group", "creative", "impressions", "clicks", "cost")

NETWORK_MEDIUM = {
    "search": "cpc",
    "поиск": "cpc",
    "ad_network": "display",
    "сети": "display",
    "display": "display",
    "video": "display",
    "видео": "display",
    "медийная сеть": "display",
}
"""Ad network / campaign type -> utm_medium."""

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_EN_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")


def english_number_text(values: pd.Series) -> pd.Series:
    """``'1,234.50'`` -> ``'1234.50'`` (comma thousands); other values unchanged."""
    return map_text(
        values, lambda v: v.strip().replace(",", "") if _EN_THOUSANDS.fullmatch(v.strip()) else v
    )


def net_rub_text(
    cost: pd.Series,
    factor: pd.Series | float,
    *,
    money_in_micros: bool,
    vat_included: bool,
    vat_rate: float,
) -> pd.Series:
    """Cost text -> RUB without VAT, 2 decimals; text that is not a number is unchanged.

    ``rub = value / 1e6 (micros) * factor / (1 + vat_rate) (VAT included)``.
    """
    factors = factor if isinstance(factor, pd.Series) else pd.Series(factor, index=cost.index)
    out = []
    for value, rate in zip(cost, factors, strict=True):
        if not isinstance(value, str) or not _NUMBER.fullmatch(value.strip()):
            out.append(value)
            continue
        amount = float(value)
        if money_in_micros:
            amount /= 1_000_000
        amount *= rate
        if vat_included:
            amount /= 1 + vat_rate
        out.append(f"{round(amount + 0.0, 2):.2f}")
    return pd.Series(out, index=cost.index, dtype=object)


def _currency_factor(
    currency: pd.Series, source: Path, rates: Mapping[str, float] | None
) -> pd.Series:
    table = {"RUB": 1.0, "RUR": 1.0} | {k.upper(): float(v) for k, v in (rates or {}).items()}
    codes = currency.fillna("RUB").str.strip().str.upper()
    unknown = sorted(set(codes) - set(table))
    if unknown:
        raise InputError(
            f"{source}: cost in {', '.join(unknown)} but no exchange rate given; pass "
            f"rates={{{', '.join(repr(c) + ': <RUB per unit>' for c in unknown)}}}"
        )
    return codes.map(table).astype(float)


def _spend(
    export: ExportTable,
    *,
    utm_source: str,
    medium: pd.Series,
    number_text: Callable[[pd.Series], pd.Series],
    factor: pd.Series,
    money_in_micros: bool,
    vat_included: bool,
    vat_rate: float,
    rules: ChannelRules,
) -> pd.DataFrame:
    """Canonical ``spend`` columns (text) from a read ad report.

    ``number_text`` turns the report's number format into plain numbers
    (impressions, clicks, cost); the cost is then converted by
    :func:`net_rub_text` with ``factor`` and the money settings.
    """
    f = export.frame
    cost = net_rub_text(
        number_text(f["cost"]),
        factor,
        money_in_micros=money_in_micros,
        vat_included=vat_included,
        vat_rate=vat_rate,
    )
    source = pd.Series(utm_source, index=f.index, dtype=object)
    return pd.DataFrame(
        {
            "date": ru_datetime_text(f["date"]),
            "channel": rules.assign(source, medium, f["campaign"]),
            "utm_source": source,
            "utm_medium": medium,
            "campaign": f["campaign"],
            "ad_group": f["ad_group"],
            "creative": f["creative"],
            "impressions": number_text(f["impressions"]),
            "clicks": number_text(f["clicks"]),
            "cost": cost,
        }
    )


def _medium(values: pd.Series, default: str) -> pd.Series:
    medium = map_text(values, lambda v: NETWORK_MEDIUM.get(v.strip().lower(), v.strip().lower()))
    return medium.where(medium.notna(), default)


def load_direct(
    con,
    path: str | Path,
    *,
    salt: str,
    vat_included: bool = True,
    vat_rate: float = VAT_RATE,
    money_in_micros: bool = False,
    currency: str = "RUB",
    rates: Mapping[str, float] | None = None,
    default_medium: str = "cpc",
    channel_rules: str | Path | ChannelRules | None = None,
    encoding: str = "auto",
    delimiter: str = "\t",
    load_id: str | None = None,
    now: datetime | None = None,
) -> warehouse.LoadResult:
    """Load a Yandex Direct report into ``spend`` (RUB without VAT).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    path : str or Path
        Reports API TSV or a web-interface export (pass its ``delimiter``).
    salt : str
        PII salt (reports carry no PII; kept for a uniform signature).
    vat_included : bool
        The costs include VAT (Direct's default); it is removed.
    vat_rate : float
        VAT rate included, 0.20 in Russia.
    money_in_micros : bool
        Costs are micro-units (Reports API without ``returnMoneyInMicros: false``).
    currency : str
        Account currency; a currency other than RUB needs ``rates``.
    rates : mapping, optional
        Currency code -> RUB per unit.
    default_medium : str
        ``utm_medium`` when the report has no ``AdNetworkType``.
    channel_rules : path or ChannelRules, optional
        Channel grouping rules; ``params/channels.yaml`` by default.
    encoding, delimiter : str
        Reports API: UTF-8 and tab (a tab-separated file is read without
        quoting, as Direct writes it).
    load_id : str, optional
        Id of this load in ``quarantine`` and ``load_log``.
    now : datetime, optional
        Reference time of the future-date check.

    Returns
    -------
    LoadResult

    Raises
    ------
    InputError
        An unusable file (see :func:`analytics.sources.read_export`), a
        ``Total rows`` line that does not match the data rows, or a
        currency without a rate.
    """
    export = read_export(
        path,
        DIRECT_COLUMNS,
        REQUIRED,
        vendor=DIRECT_VENDOR,
        delimiter=delimiter,
        encoding=encoding,
        tsv_escapes=delimiter == "\t",
        footer=r"^(Total rows|Всего строк):",
        null_values=("--",),
    )
    for line in export.footer:
        stated = int(re.sub(r"\D", "", line[0]) or -1)
        if stated != len(export.rows):
            raise InputError(
                f"{export.path}: the report says 'Total rows: {stated}' but has "
                f"{len(export.rows)} data row(s): it is incomplete; download it again"
            )
    factor = _currency_factor(pd.Series(currency, index=export.frame.index), export.path, rates)
    f = export.frame
    spend = _spend(
        export,
        utm_source="yandex",
        medium=_medium(f["network"], default_medium),
        number_text=decimal_text,
        factor=factor,
        money_in_micros=money_in_micros,
        vat_included=vat_included,
        vat_rate=vat_rate,
        rules=load_channel_rules(channel_rules),
    )
    return load_translated(con, "spend", spend, export, salt=salt, load_id=load_id, now=now)


def load_google_ads(
    con,
    path: str | Path,
    *,
    salt: str,
    vat_included: bool = False,
    vat_rate: float = VAT_RATE,
    money_in_micros: bool = False,
    currency: str = "RUB",
    rates: Mapping[str, float] | None = None,
    default_medium: str = "cpc",
    channel_rules: str | Path | ChannelRules | None = None,
    encoding: str = "auto",
    delimiter: str = "auto",
    load_id: str | None = None,
    now: datetime | None = None,
) -> warehouse.LoadResult:
    """Load a Google Ads report (CSV download) into ``spend`` (RUB without VAT).

    Parameters are those of :func:`load_direct`, with Google's defaults: no
    VAT in the costs, the currency read per row from ``Currency code``
    (``currency`` when the column is absent or empty), delimiter and
    encoding detected (the "Excel CSV" download is UTF-16 with tabs).
    ``default_medium`` applies when there is no ``Campaign type`` column.
    """
    export = read_export(
        path,
        GOOGLE_COLUMNS,
        REQUIRED,
        vendor=GOOGLE_VENDOR,
        delimiter=delimiter,
        encoding=encoding,
        footer=r"^(Total|Итого)",
        null_values=("--", " --"),
    )
    f = export.frame
    factor = _currency_factor(f["currency"].fillna(currency), export.path, rates)
    spend = _spend(
        export,
        utm_source="google",
        medium=_medium(f["campaign_type"], default_medium),
        number_text=english_number_text,
        factor=factor,
        money_in_micros=money_in_micros,
        vat_included=vat_included,
        vat_rate=vat_rate,
        rules=load_channel_rules(channel_rules),
    )
    return load_translated(con, "spend", spend, export, salt=salt, load_id=load_id, now=now)


def load_canonical_spend(
    con,
    path: str | Path,
    *,
    salt: str,
    delimiter: str = ",",
    encoding: str = "utf-8",
    load_id: str | None = None,
    now: datetime | None = None,
) -> warehouse.LoadResult:
    """Load ad cost of any platform without an adapter (VK Ads, myTarget, ...).

    The file has the canonical ``spend`` columns of :mod:`analytics.warehouse.schema`
    (``date, channel, utm_source, utm_medium, campaign, ad_group, creative,
    impressions, clicks, cost``; cost in RUB without VAT) and goes through the
    same validation and quarantine as every other load
    (:func:`analytics.warehouse.load_file`).
    """
    return warehouse.load_file(
        con,
        "spend",
        path,
        salt=salt,
        delimiter=delimiter,
        encoding=encoding,
        load_id=load_id,
        now=now,
    )
