"""Yandex Metrica Logs API visits export (TSV) -> ``visits``.

The Logs API returns visits as tab-separated text, one visit per line, a
header of field names (``ym:s:visitID``, ``ym:s:clientID``, ...), no quoting
and ClickHouse escapes (``\\t``, ``\\n``, ``\\\\``) inside values. Fields read:

====================================  ====================================================
Logs API field                        canonical column
====================================  ====================================================
``ym:s:visitID``                      ``visit_id`` (required)
``ym:s:clientID``                     ``visitor_id`` (required)
``ym:s:dateTime``                     ``visit_start``, the counter's time zone (required)
``ym:s:pageViews``                    ``pageviews`` (required)
``ym:s:visitDuration``                ``duration_s``, seconds (required)
``ym:s:goalsID``                      ``goal_pricing``: one of ``pricing_goal_ids`` reached
``ym:s:startURL``                     ``landing_page``: path of the landing URL
``ym:s:deviceCategory``               ``device``: 1 desktop, 2 mobile, 3 tablet, 4 TV
``ym:s:UTMSource`` ... ``UTMTerm``    ``utm_source`` ... ``utm_term`` as captured
``ym:s:lastTrafficSource``            channel input when a visit has no UTM
``ym:s:lastSearchEngineRoot``         source of organic visits without UTM
``ym:s:lastAdvEngine``                source of ad visits without UTM
``ym:s:lastReferalSource``            source of referral visits without UTM
``ym:s:lastSocialNetwork``            source of social visits without UTM
====================================  ====================================================

The ``last`` attribution prefix may also be ``lastsign`` or another model
(``ym:s:lastsignTrafficSource``); both spellings are accepted.

Channel: the visit's UTM source/medium/campaign if it has a UTM source, else
the traffic source translated to a source/medium pair (direct ->
``(direct)``/``(none)``, organic -> search engine/``organic``, ad -> ad
engine/``cpc``, referral -> referring site/``referral``, ...) and grouped by
:mod:`analytics.sources.channels`.

ETL shapes
----------
Connectors (Airbyte-style) write the same fields without the ``ym:s:``
prefix (``visitID``) or in snake case (``visit_id``, ``client_id``,
``date_time``), as CSV or JSON lines, and ``dateTime`` as ISO with an offset
(``2024-05-01T07:15:02Z``, ``+05:00``): every spelling is accepted, the
delimiter is detected (a tab file is read as plain TSV, others as quoted
CSV), JSON lines are read by the first ``{``, and an offset is converted to
the warehouse time zone (``timezone``, Europe/Moscow by default). A visit at
the Unix epoch (1970-01-01, an empty time written as 0) is quarantined.

Decisions: device category 4 (TV) is loaded with an empty device (the schema
knows desktop, mobile and tablet only) rather than rejecting the visit; other
unknown categories are passed on and quarantined.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from analytics import warehouse
from analytics.sources.channels import ChannelRules, load_channel_rules
from analytics.sources.reading import (
    ACCOUNT_TIMEZONE,
    ExportTable,
    epoch_zero_rejects,
    load_translated,
    map_text,
    read_export,
    timestamp_text,
)
from analytics.warehouse import InputError

VENDOR = "Metrica Logs API visits export"


def _attributed(name: str) -> tuple[str, ...]:
    return (f"ym:s:last{name}", f"ym:s:lastsign{name}", f"ym:s:{name[0].lower()}{name[1:]}")


LOGS_API_COLUMNS: dict[str, tuple[str, ...]] = {
    "visit_id": ("ym:s:visitID",),
    "visitor_id": ("ym:s:clientID",),
    "visit_start": ("ym:s:dateTime",),
    "pageviews": ("ym:s:pageViews",),
    "duration_s": ("ym:s:visitDuration",),
    "goals": ("ym:s:goalsID",),
    "start_url": ("ym:s:startURL",),
    "device": ("ym:s:deviceCategory",),
    "utm_source": ("ym:s:UTMSource", "ym:s:lastUTMSource", "ym:s:lastsignUTMSource"),
    "utm_medium": ("ym:s:UTMMedium", "ym:s:lastUTMMedium", "ym:s:lastsignUTMMedium"),
    "utm_campaign": ("ym:s:UTMCampaign", "ym:s:lastUTMCampaign", "ym:s:lastsignUTMCampaign"),
    "utm_content": ("ym:s:UTMContent", "ym:s:lastUTMContent", "ym:s:lastsignUTMContent"),
    "utm_term": ("ym:s:UTMTerm", "ym:s:lastUTMTerm", "ym:s:lastsignUTMTerm"),
    "traffic_source": _attributed("TrafficSource"),
    "search_engine": _attributed("SearchEngineRoot"),
    "adv_engine": _attributed("AdvEngine"),
    "referal_source": _attributed("ReferalSource"),
    "social_network": _attributed("SocialNetwork"),
}


def _etl_spellings(alias: str) -> tuple[str, ...]:
    """``ym:s:visitID`` -> (``ym:s:visitID``, ``visitID``, ``visit_id``)."""
    bare = alias.removeprefix("ym:s:")
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", bare).lower()
    return tuple(dict.fromkeys((alias, bare, snake)))


COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(dict.fromkeys(a for alias in aliases for a in _etl_spellings(alias)))
    for name, aliases in LOGS_API_COLUMNS.items()
}
"""Logs API names, also without ``ym:s:`` and in snake case (ETL connectors)."""

REQUIRED = ("visit_id", "visitor_id", "visit_start", "pageviews", "duration_s")

DEVICES = {"1": "desktop", "2": "mobile", "3": "tablet", "4": None, "tv": None}
"""Logs API device category -> canonical device (names are accepted too)."""

AD_ENGINES = {
    "ya_direct": "yandex",
    "ya_undefined": "yandex",
    "google_adwords": "google",
    "google_ads": "google",
    "vkontakte": "vk",
    "vk_ads": "vk",
    "mytarget": "vk",
}
"""Metrica ad engine ids -> utm_source-like source names."""

TRAFFIC_MEDIUM = {
    "organic": "organic",
    "ad": "cpc",
    "referral": "referral",
    "social": "social",
    "email": "email",
    "messenger": "messenger",
    "recommend": "recommend",
    "external": "referral",
}
"""Metrica traffic source -> medium of a visit without UTM; others count as direct."""

_GOAL_ID = re.compile(r"\d+")


def traffic_source_medium(export: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Source and medium of each visit for channel grouping.

    UTM source/medium when the visit has a UTM source, else derived from the
    Metrica traffic source (see the module notes).
    """
    traffic = export["traffic_source"].fillna("").str.strip().str.lower()
    engine = export["adv_engine"].fillna("").str.lower()
    derived_source = pd.Series("(direct)", index=export.index, dtype=object)
    derived_source[traffic == "organic"] = export["search_engine"].fillna("(organic)")
    derived_source[traffic == "ad"] = engine.map(lambda e: AD_ENGINES.get(e, e or "(ad)"))
    derived_source[traffic.isin(["referral", "external"])] = export["referal_source"].fillna(
        "(referral)"
    )
    derived_source[traffic == "social"] = export["social_network"].fillna("(social)")
    derived_source[traffic.isin(["email", "messenger", "recommend"])] = traffic
    derived_medium = traffic.map(lambda t: TRAFFIC_MEDIUM.get(t, "(none)")).astype(object)
    has_utm = export["utm_source"].notna()
    source = export["utm_source"].where(has_utm, derived_source)
    medium = export["utm_medium"].where(has_utm, derived_medium)
    return source, medium


def translate(
    export: ExportTable,
    *,
    pricing_goal_ids: Iterable[int | str],
    rules: ChannelRules,
    timezone: str = ACCOUNT_TIMEZONE,
) -> pd.DataFrame:
    """Canonical ``visits`` columns (text) from a read Metrica export."""
    frame = export.frame
    goals = {str(g).strip() for g in pricing_goal_ids}
    source, medium = traffic_source_medium(frame)
    visits = pd.DataFrame(
        {
            "visit_id": frame["visit_id"],
            "visitor_id": frame["visitor_id"],
            "visit_start": timestamp_text(frame["visit_start"], timezone),
            "channel": rules.assign(source, medium, frame["utm_campaign"]),
            "utm_source": frame["utm_source"],
            "utm_medium": frame["utm_medium"],
            "utm_campaign": frame["utm_campaign"],
            "utm_content": frame["utm_content"],
            "utm_term": frame["utm_term"],
            "landing_page": map_text(frame["start_url"], url_path),
            "pageviews": frame["pageviews"],
            "duration_s": frame["duration_s"],
            "goal_pricing": frame["goals"]
            .fillna("")
            .map(lambda text: "true" if goals & set(_GOAL_ID.findall(text)) else "false"),
            "device": map_text(
                frame["device"], lambda d: DEVICES.get(d.strip().lower(), d.strip().lower())
            ),
        }
    )
    return visits


def url_path(url: str) -> str:
    """Path of a URL (``/`` for a bare host); text that is not a URL is returned unchanged."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url
    if not parts.scheme and not url.startswith("/"):
        return url
    return parts.path or "/"


def load_visits(
    con,
    path: str | Path,
    *,
    salt: str,
    pricing_goal_ids: Iterable[int | str] | None = None,
    channel_rules: str | Path | ChannelRules | None = None,
    timezone: str = ACCOUNT_TIMEZONE,
    encoding: str = "utf-8",
    delimiter: str = "auto",
    columns: Mapping[str, str] | None = None,
    placeholders: tuple[str, ...] | None = None,
    load_id: str | None = None,
    now: datetime | None = None,
) -> warehouse.LoadResult:
    """Load a Metrica Logs API visits TSV into ``visits``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    path : str or Path
        The TSV file as downloaded from the Logs API (``source=visits``).
    salt : str
        PII salt (visits carry no PII; kept for a uniform signature).
    pricing_goal_ids : iterable of int or str
        Metrica goal id(s) meaning "pricing page viewed"; ``goal_pricing`` is
        true when ``ym:s:goalsID`` holds one of them. Required: pass ``[]``
        knowingly to load every visit with ``goal_pricing = false``.
    channel_rules : path or ChannelRules, optional
        Channel grouping rules; ``params/channels.yaml`` by default.
    timezone : str
        Warehouse time zone: ``dateTime`` values with an offset are converted
        to it; values without one are the counter's local time, kept.
    encoding, delimiter : str
        The Logs API writes UTF-8 and tabs; ``delimiter="auto"`` also reads
        an ETL tool's CSV (JSON lines are recognised by their ``{``).
    columns : mapping, optional
        Column mapping ``{their column: field}`` (fields: :data:`COLUMNS`).
    placeholders : tuple of str, optional
        Texts read as empty in the time and number fields.
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
        ``pricing_goal_ids`` not given, ``ym:s:goalsID`` missing while goal
        ids are given, or an unusable file (see
        :func:`analytics.sources.read_export`).
    """
    source = Path(path).resolve()
    if pricing_goal_ids is None:
        raise InputError(
            f"{source}: pricing_goal_ids not given: goal_pricing (pricing page viewed) is "
            f"read from ym:s:goalsID; pass the Metrica goal id(s) of the pricing page, or "
            f"pricing_goal_ids=[] to load every visit with goal_pricing=false"
        )
    pricing_goal_ids = list(pricing_goal_ids)
    required = REQUIRED + (("goals",) if pricing_goal_ids else ())
    export = read_export(
        path,
        COLUMNS,
        required,
        vendor=VENDOR,
        delimiter=delimiter,
        encoding=encoding,
        tsv_escapes=None,
        mapping=columns,
        typed=("visit_start", "pageviews", "duration_s"),
        placeholders=placeholders,
        kind="metrica",
    )
    visits = translate(
        export,
        pricing_goal_ids=pricing_goal_ids,
        rules=load_channel_rules(channel_rules),
        timezone=timezone,
    )
    rejects = epoch_zero_rejects(export, visits["visit_start"], "visit_start")
    return load_translated(
        con, "visits", visits, export, salt=salt, load_id=load_id, now=now, rejects=rejects
    )
