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

Report shapes (both vendors)
----------------------------
Title and period lines above the header and ``Total`` / ``Итого`` lines
below the data are skipped; the "Excel CSV" download (UTF-16 with a BOM and
tabs) is read like the UTF-8 CSV; numbers may use either thousands style
(``"1,356,884"``, ``1 356 884``, ``1.356.884,50``); ``--``, ``—`` and ``n/a``
are empty.

Aggregated reports (no day segment)
-----------------------------------
A campaign report downloaded without the ``Day`` / ``Дата`` column is
accepted when its period is known: from the period line of the report
(``"June 1, 2025 - June 30, 2025"``, ``01.06.2025 - 30.06.2025``) or from
the ``period`` option (``2025-06-01..2025-06-30``, which wins). Decision: each
row is **spread evenly over the days of the period** -- cost in kopecks with
the rounding remainder on the last day, impressions and clicks as whole
numbers with the remainder on the first days -- so weekly and monthly
figures of a period that covers the report are exact and campaign-level
spend feeds every campaign-level figure; a daily figure inside the period is
an average, which the load notes say. Row ``r`` of the file becomes rows
``(r - 1) * n + 1 .. r * n`` of an ``n``-day period in ``quarantine``. A
report without ``Ad group`` / ``Ad ID`` (campaign level) loads them as
``(all)``.

The channel of each row comes from :mod:`analytics.sources.channels` with
``utm_source`` ``yandex`` or ``google``, the medium above and the campaign.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from analytics import warehouse
from analytics.sources.channels import ChannelRules, load_channel_rules
from analytics.sources.reading import (
    ExportTable,
    day_text,
    load_translated,
    map_text,
    number_text,
    parse_period,
    read_export,
    ru_datetime_text,
)
from analytics.warehouse import InputError
from analytics.warehouse.schema import CANONICAL

SPEND_TABLE = CANONICAL["spend"]

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
    "campaign_type": ("CampaignType", "Тип кампании"),
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
REQUIRED = ("campaign", "impressions", "clicks", "cost")
"""Fields every ad report needs; ``date`` too unless the period is known (aggregated report)."""

CAMPAIGN_LEVEL = "(all)"
"""``ad_group`` / ``creative`` of a campaign-level report (no ad group or ad column)."""

NETWORK_MEDIUM = {
    "search": "cpc",
    "поиск": "cpc",
    "ad_network": "display",
    "сети": "display",
    "display": "display",
    "медийная сеть": "display",
    "медийная": "display",
    "video": "video",
    "видео": "video",
    "youtube": "video",
    "performance max": "pmax",
    "performance_max": "pmax",
    "максимальная эффективность": "pmax",
    "demand gen": "demand_gen",
    "demand_gen": "demand_gen",
    "discovery": "demand_gen",
    "мастер кампаний": "master",
    "мастер_кампаний": "master",
    "unified_campaign": "cpc",
    "единая перфоманс-кампания": "cpc",
    "text_campaign": "cpc",
    "текстово-графические объявления": "cpc",
}
"""Ad network / campaign type -> utm_medium (channel rules then group pmax,
demand_gen, video and master campaigns into their own channels)."""

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")


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
            "date": day_text(f["date"]),
            "channel": rules.assign(source, medium, f["campaign"]),
            "utm_source": source,
            "utm_medium": medium,
            "campaign": f["campaign"],
            "ad_group": f["ad_group"].where(f["ad_group"].notna(), CAMPAIGN_LEVEL)
            if export.found["ad_group"] is None
            else f["ad_group"],
            "creative": f["creative"].where(f["creative"].notna(), CAMPAIGN_LEVEL)
            if export.found["creative"] is None
            else f["creative"],
            "impressions": number_text(f["impressions"], integer=True),
            "clicks": number_text(f["clicks"], integer=True),
            "cost": cost,
        }
    )


def _medium(values: pd.Series, default: str) -> pd.Series:
    medium = map_text(values, lambda v: NETWORK_MEDIUM.get(v.strip().lower(), v.strip().lower()))
    return medium.where(medium.notna(), default)


def _report_period(period, export: ExportTable) -> tuple[date, date] | None:
    if period is None:
        return export.period
    if isinstance(period, (list, tuple)) and len(period) == 2:
        period = f"{period[0]}..{period[1]}"
    found = parse_period(str(period))
    if found is None:
        raise InputError(
            f"{export.path}: period {period!r} not understood; pass it as "
            f"YYYY-MM-DD..YYYY-MM-DD (e.g. period=2025-06-01..2025-06-30)"
        )
    return found


def spread_over_days(
    spend: pd.DataFrame, rows: np.ndarray, start: date, end: date
) -> tuple[pd.DataFrame, np.ndarray]:
    """Spread period totals evenly over the days ``start..end`` (inclusive).

    Cost (text, RUB) per day = ``round(cost / n, 2)`` with the remainder on
    the last day, so the days sum to the row's cost to the kopeck;
    impressions and clicks per day = ``total // n`` plus one on the first
    ``total % n`` days. Text that is not a number is repeated unchanged on
    every day (the warehouse check then quarantines each day). Row ``r``
    becomes rows ``(r - 1) * n + 1 .. r * n``.

    Returns
    -------
    (pandas.DataFrame, numpy.ndarray)
        One row per input row and day, and its row numbers.
    """
    days = pd.date_range(start, end, freq="D")
    n = len(days)
    out = []
    for record in spend.to_dict("records"):
        cost = record["cost"]
        cents = None
        if isinstance(cost, str) and _NUMBER.fullmatch(cost.strip()):
            cents = round(float(cost) * 100)
        parts = {}
        for name in ("impressions", "clicks"):
            value = record[name]
            if isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
                total = int(value)
                parts[name] = [str(total // n + (1 if k < total % n else 0)) for k in range(n)]
            else:
                parts[name] = [value] * n
        if cents is not None:
            each = int(cents / n) if cents >= 0 else -int(-cents / n)
            costs = [each] * (n - 1) + [cents - each * (n - 1)]
            parts["cost"] = [f"{c / 100:.2f}" for c in costs]
        else:
            parts["cost"] = [cost] * n
        for k, day in enumerate(days):
            out.append(
                record
                | {"date": day.strftime("%Y-%m-%d")}
                | {name: parts[name][k] for name in ("impressions", "clicks", "cost")}
            )
    numbers = np.array([(r - 1) * n + k + 1 for r in rows for k in range(n)], dtype=np.int64)
    columns = list(spend.columns)
    return pd.DataFrame(out, columns=columns, dtype=object), numbers


def _load_report(
    con,
    path,
    *,
    kind: str,
    vendor: str,
    columns_spec: dict[str, tuple[str, ...]],
    utm_source: str,
    decimal_comma: bool,
    currency_of,
    medium_of,
    salt: str,
    vat_included: bool,
    vat_rate: float,
    money_in_micros: bool,
    rates,
    channel_rules,
    encoding: str,
    delimiter: str,
    tsv_escapes,
    footer: str,
    columns,
    placeholders,
    period,
    load_id,
    now,
    check_footer=None,
) -> warehouse.LoadResult:
    """Shared body of :func:`load_direct` and :func:`load_google_ads`."""
    export = read_export(
        path,
        columns_spec,
        REQUIRED,
        vendor=vendor,
        delimiter=delimiter,
        encoding=encoding,
        tsv_escapes=tsv_escapes,
        footer=footer,
        mapping=columns,
        typed=("date", "impressions", "clicks", "cost"),
        placeholders=placeholders,
        kind=kind,
    )
    if check_footer is not None:
        check_footer(export)
    f = export.frame
    factor = _currency_factor(currency_of(f), export.path, rates)
    spend = _spend(
        export,
        utm_source=utm_source,
        medium=medium_of(f),
        number_text=lambda v, integer=False: number_text(
            v, decimal_comma=decimal_comma, integer=integer
        ),
        factor=factor,
        money_in_micros=money_in_micros,
        vat_included=vat_included,
        vat_rate=vat_rate,
        rules=load_channel_rules(channel_rules),
    )
    notes: list[str] = []
    stated = _report_period(period, export)
    if export.found["date"] is None:
        if stated is None:
            raise InputError(
                f"{export.path}: no day column (Day / Date / Дата) and no report period: "
                f"add the Day segment to the report, or load this aggregated report with "
                f"--option period=YYYY-MM-DD..YYYY-MM-DD (the report's dates)"
            )
        start, end = stated
        spend, numbers = spread_over_days(spend, export.rows, start, end)
        n = (end - start).days + 1
        rejects = {
            (r - 1) * n + k + 1: reason for r, reason in export.rejects.items() for k in range(n)
        }
        export = dataclasses.replace(export, frame=spend, rows=numbers, rejects=rejects)
        notes.append(
            f"aggregated report (no day column): {len(numbers) // n} row(s) spread evenly over "
            f"{n} day(s) {start:%Y-%m-%d}..{end:%Y-%m-%d}; weekly and monthly totals of the "
            f"period are exact, a single day's figure is an average"
        )
    return load_translated(
        con, "spend", spend, export, salt=salt, load_id=load_id, now=now, notes=notes
    )


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
    delimiter: str = "auto",
    columns: Mapping[str, str] | None = None,
    placeholders: tuple[str, ...] | None = None,
    period: str | None = None,
    load_id: str | None = None,
    now: datetime | None = None,
) -> warehouse.LoadResult:
    """Load a Yandex Direct report into ``spend`` (RUB without VAT).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    path : str or Path
        Reports API TSV or a web-interface export (delimiter detected).
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
        ``utm_medium`` when the report has no ``AdNetworkType`` / ``CampaignType``.
    channel_rules : path or ChannelRules, optional
        Channel grouping rules; ``params/channels.yaml`` by default.
    encoding, delimiter : str
        ``"auto"``: the Reports API's UTF-8 TSV (read without quoting, as
        Direct writes it) or a web export (``;`` / ``,``, cp1251 or UTF-8).
    columns : mapping, optional
        Column mapping ``{their column: field}`` (fields: :data:`DIRECT_COLUMNS`).
    placeholders : tuple of str, optional
        Texts read as empty in the date and number fields.
    period : str, optional
        ``YYYY-MM-DD..YYYY-MM-DD`` of an aggregated report (no date column);
        by default read from the report's title line (see the module notes).
    load_id : str, optional
        Id of this load in ``quarantine`` and ``load_log``.
    now : datetime, optional
        Reference time of the future-date check.

    Returns
    -------
    SourceResult

    Raises
    ------
    InputError
        An unusable file (see :func:`analytics.sources.read_export`), a
        ``Total rows`` line that does not match the data rows, a currency
        without a rate, or an aggregated report without a period.
    """

    def check_total(export: ExportTable) -> None:
        for line in export.footer:
            if not re.match(r"(?i)(total rows|всего строк)", line[0].strip()):
                continue
            stated = int(re.sub(r"\D", "", line[0]) or -1)
            if stated != len(export.rows):
                raise InputError(
                    f"{export.path}: the report says 'Total rows: {stated}' but has "
                    f"{len(export.rows)} data row(s): it is incomplete; download it again"
                )

    def medium_of(f: pd.DataFrame) -> pd.Series:
        by_network = _medium(f["network"], default_medium)
        by_type = _medium(f["campaign_type"], default_medium)
        special = by_type.isin(["master", "pmax"])
        return by_type.where(special | f["network"].isna(), by_network)

    return _load_report(
        con,
        path,
        kind="direct",
        vendor=DIRECT_VENDOR,
        columns_spec=DIRECT_COLUMNS,
        utm_source="yandex",
        decimal_comma=True,
        currency_of=lambda f: pd.Series(currency, index=f.index),
        medium_of=medium_of,
        salt=salt,
        vat_included=vat_included,
        vat_rate=vat_rate,
        money_in_micros=money_in_micros,
        rates=rates,
        channel_rules=channel_rules,
        encoding=encoding,
        delimiter=delimiter,
        tsv_escapes=None,
        footer=r"^(total rows|всего строк|total|итого|всего)\b",
        columns=columns,
        placeholders=placeholders,
        period=period,
        load_id=load_id,
        now=now,
        check_footer=check_total,
    )


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
    columns: Mapping[str, str] | None = None,
    placeholders: tuple[str, ...] | None = None,
    period: str | None = None,
    load_id: str | None = None,
    now: datetime | None = None,
) -> warehouse.LoadResult:
    """Load a Google Ads report (CSV download) into ``spend`` (RUB without VAT).

    Parameters are those of :func:`load_direct`, with Google's defaults: no
    VAT in the costs, the currency read per row from ``Currency code``
    (``currency`` when the column is absent or empty), delimiter and
    encoding detected (the "Excel CSV" download is UTF-16 with tabs), an
    ambiguous ``1,234`` read with comma thousands. ``Campaign type`` gives
    the medium (Search -> ``cpc``, Display -> ``display``, Video ->
    ``video``, Performance Max -> ``pmax``, Demand Gen -> ``demand_gen``);
    ``default_medium`` applies without it.
    """
    return _load_report(
        con,
        path,
        kind="google_ads",
        vendor=GOOGLE_VENDOR,
        columns_spec=GOOGLE_COLUMNS,
        utm_source="google",
        decimal_comma=False,
        currency_of=lambda f: f["currency"].fillna(currency),
        medium_of=lambda f: _medium(f["campaign_type"], default_medium),
        salt=salt,
        vat_included=vat_included,
        vat_rate=vat_rate,
        money_in_micros=money_in_micros,
        rates=rates,
        channel_rules=channel_rules,
        encoding=encoding,
        delimiter=delimiter,
        tsv_escapes=False,
        footer=r"^(total|итого|всего)\b",
        columns=columns,
        placeholders=placeholders,
        period=period,
        load_id=load_id,
        now=now,
    )


def load_canonical_spend(
    con,
    path: str | Path,
    *,
    salt: str,
    delimiter: str = ",",
    encoding: str = "utf-8",
    columns: Mapping[str, str] | None = None,
    placeholders: tuple[str, ...] | None = None,
    load_id: str | None = None,
    now: datetime | None = None,
) -> warehouse.LoadResult:
    """Load ad cost of any platform without an adapter (VK Ads, myTarget, ...).

    The file has the canonical ``spend`` columns of :mod:`analytics.warehouse.schema`
    (``date, channel, utm_source, utm_medium, campaign, ad_group, creative,
    impressions, clicks, cost``; cost in RUB without VAT) and goes through the
    same validation and quarantine as every other load
    (:func:`analytics.warehouse.load_file`). With a column mapping
    (``columns``, ``--map "Расход=cost"``) or a file whose header is not
    exactly canonical it is read by :func:`analytics.sources.read_export`
    instead (title and total lines skipped, numbers in either style).
    """
    spec = {c.name: (c.name,) for c in SPEND_TABLE.columns}
    if columns:
        export = read_export(
            path,
            spec,
            [c.name for c in SPEND_TABLE.columns if c.required],
            vendor="canonical spend file",
            delimiter=delimiter,
            encoding=encoding,
            mapping=columns,
            typed=("date", "impressions", "clicks", "cost"),
            placeholders=placeholders,
            kind="spend",
        )
        f = export.frame.copy()
        for name in ("impressions", "clicks", "cost"):
            f[name] = number_text(f[name])
        f["date"] = ru_datetime_text(f["date"])
        return load_translated(con, "spend", f, export, salt=salt, load_id=load_id, now=now)
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
