"""Data quality of the end-to-end chain: can marketing and sales figures be trusted?

Marketing counts leads, sales counts CRM deals, and the two only meet if every
lead reaches the CRM with its campaign. This module measures where the chain
breaks, on the canonical warehouse tables (:mod:`analytics.warehouse.schema`), for one
report period. Each check returns its evidence as a frame; :func:`quality_report`
puts them side by side with a status.

Checks (counts; share = value / base x 100%)
--------------------------------------------
``undetermined_campaign_deals``, ``undetermined_campaign_revenue``
    CRM deals created in the period whose ``deals.utm_campaign`` is empty: the
    campaign is "Не определено" in a CRM report. Base: all deals created in the
    period; revenue is the amount of the won ones, RUB. Organic and direct
    deals are undetermined by nature, so this is the size of the blind spot,
    not a defect rate.
``lost_utm``
    Deals created in the period whose lead carries a tracked campaign
    (``leads.utm_campaign`` not empty) but whose own ``utm_campaign`` is
    empty: the UTM was lost between the site and the CRM. Base: deals created
    in the period whose lead has a tracked campaign.
``duplicate_leads``
    Leads created in the period that repeat an earlier lead of the same person
    (equal ``phone_hash`` or equal ``email_hash``) at most ``duplicate_window``
    (2 days by default) after it. Base: first requests (leads that are not
    duplicates) of the period with a phone or an e-mail.
``missing_in_crm``
    First requests of the period without any CRM deal (``deals.lead_id``).
    Duplicates are left out of value and base: a repeat request is expected
    to join the deal of the first one.
``calls_without_session``
    First-request calls of the period with no web session: empty
    ``leads.visit_id`` or a visit id missing from ``visits``, so neither the
    channel nor the campaign of the call is known. Base: first-request calls.
``spend_without_visits``
    Spend rows dated in the period for which no visit carries the same
    campaign, ad group and creative (``utm_campaign``, ``utm_term``,
    ``utm_content``) on the same day: money whose clicks never arrived, or
    broken UTM tagging. Base: spend rows of the period.
``marketing_vs_sales``
    Leads created in the period (what marketing reports) minus CRM deals
    created in the period (what sales reports). Base: leads. The gap may be
    negative (deals without a lead).
``quarantined_rows``, ``unbalanced_files``
    Rows sent to ``quarantine`` out of all rows read (``load_log``), and files
    whose ``rows_in != rows_loaded + rows_quarantined``. These describe the
    loads, whatever their dates, and ignore the period.

Computation
-----------
The evidence of the first eight checks (deals, leads, spend and the weekly
counts) comes from the Ibis expressions of
:mod:`analytics.transforms.quality_checks`, so it computes the same on PySpark
(``docs/backends.md``). :func:`load_summary` and :func:`quarantine_reasons` (the
last two checks) stay DuckDB SQL: they read ``load_log`` and ``quarantine``,
which only the DuckDB load writes (:mod:`analytics.warehouse`); a warehouse on
another engine has its own load diagnostics.

A check is ``warn`` when ``|share|`` exceeds its threshold (in %,
:data:`DEFAULT_THRESHOLDS`), else ``ok``; a check with base 0 has share NaN and
is ``ok``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import pandas as pd

from analytics.metrics.period import Period, date_range
from analytics.transforms.backends import duckdb_backend
from analytics.transforms.quality_checks import (
    deal_campaign_table,
    lead_check_table,
    spend_visit_table,
    weekly_leads_deals,
)
from analytics.warehouse import reconciliation

DUPLICATE_WINDOW = timedelta(days=2)
"""Default time within which a repeat request of the same phone or e-mail is a duplicate."""

CHECKS: dict[str, str] = {
    "undetermined_campaign_deals": "deals with an empty campaign / deals",
    "undetermined_campaign_revenue": "revenue of won deals with an empty campaign / revenue, RUB",
    "lost_utm": "deals with an empty campaign whose lead has one / deals of tracked leads",
    "duplicate_leads": "repeat requests of a phone or e-mail / first requests with contacts",
    "missing_in_crm": "first requests without a CRM deal / first requests",
    "calls_without_session": "calls without a web session / first-request calls",
    "spend_without_visits": "spend rows without a visit of the same ad and day / spend rows",
    "marketing_vs_sales": "(leads - CRM deals) / leads",
    "quarantined_rows": "rows sent to quarantine / rows read (all loads)",
    "unbalanced_files": "files with rows_in != loaded + quarantined / files (all loads)",
}
"""Every check of :func:`quality_report` and its formula."""

DEFAULT_THRESHOLDS: dict[str, float] = {
    "undetermined_campaign_deals": 30.0,
    "undetermined_campaign_revenue": 30.0,
    "lost_utm": 5.0,
    "duplicate_leads": 5.0,
    "missing_in_crm": 5.0,
    "calls_without_session": 10.0,
    "spend_without_visits": 1.0,
    "marketing_vs_sales": 10.0,
    "quarantined_rows": 1.0,
    "unbalanced_files": 0.0,
}
"""Largest ``|share|`` (%) of each check that is still ``ok``."""

CHECK_EVIDENCE: dict[str, tuple[str, ...]] = {
    "undetermined_campaign_deals": ("deals",),
    "undetermined_campaign_revenue": ("deals",),
    "lost_utm": ("deals",),
    "duplicate_leads": ("leads",),
    "missing_in_crm": ("leads",),
    "calls_without_session": ("leads",),
    "spend_without_visits": ("spend",),
    "marketing_vs_sales": ("deals", "leads"),
    "quarantined_rows": ("loads",),
    "unbalanced_files": ("loads",),
}
"""The evidence each check of :func:`quality_report` is measured on: ``deals``
(:func:`deal_campaigns`), ``leads`` (:func:`lead_checks`), ``spend``
(:func:`spend_visits`), ``loads`` (:func:`load_summary`)."""

DEFECT_CHECKS: dict[str, str] = {
    "lost_utm": "lost_utm",
    "missing_in_crm": "missing_in_crm",
    "duplicate_lead": "duplicate_leads",
    "call_without_session": "calls_without_session",
}
"""Defect of the demo generator (``truth.defects.defect``) → the check that finds it
(:func:`defect_recovery`)."""


def _run(con, transform, period: Period, *args) -> pd.DataFrame:
    """Execute ``transform(backend, start, stop, *args)`` (an Ibis expression of
    :mod:`analytics.transforms.quality_checks`) on the DuckDB connection ``con``.

    Dates and timestamps come back as ``datetime64[us]`` (Ibis gives a date column
    in seconds), as the frames of this module always had them."""
    with duckdb_backend(con) as backend:
        frame = backend.execute(transform(backend, period.start, period.end_exclusive, *args))
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = frame[col].astype("datetime64[us]")
    return frame.reset_index(drop=True)


def _percent(part: float, base: float) -> float:
    """``part / base x 100``; NaN when the base is 0."""
    return part * 100.0 / base if base else math.nan


# --------------------------------------------------------------------------- formatting


def format_share(
    part: float,
    total: float,
    *,
    money: bool = False,
    currency: str = "RUB",
    rounding: str = "half_up",
) -> str:
    """A part of a total as the seed's data-quality slide shows it.

    Parameters
    ----------
    part, total : float
        Count or amount of the part and of the whole.
    money : bool, default False
        Amounts with two decimals and ``currency`` (``293,740,432.00 RUB``);
        counts as integers.
    currency : str, default "RUB"
        Currency label of amounts.
    rounding : {"half_up", "down"}
        How the share = part / total x 100% is rounded to a whole percent:
        ``half_up`` (0.5 goes up; 90.53% -> 91%) or ``down`` (truncation,
        90.53% -> 90%, as some BI tools display it).

    Returns
    -------
    str
        ``"189 of 522 (36%)"`` or ``"293,740,432.00 of 567,703,932.00 RUB (52%)"``;
        the share is ``—`` when the total is 0.

    Raises
    ------
    ValueError
        For an unknown ``rounding``.
    """
    modes = {"half_up": ROUND_HALF_UP, "down": ROUND_DOWN}
    if rounding not in modes:
        raise ValueError(f"rounding must be one of {', '.join(modes)}, got {rounding!r}")
    if total:
        exact = Decimal(str(part)) * 100 / Decimal(str(total))
        share = f"{exact.quantize(Decimal(1), rounding=modes[rounding])}%"
    else:
        share = "—"
    if money:
        return f"{part:,.2f} of {total:,.2f} {currency} ({share})"
    return f"{part:,.0f} of {total:,.0f} ({share})"


# --------------------------------------------------------------------------- deals


def deal_campaigns(con, period: Period) -> pd.DataFrame:
    """CRM deals created in the period with what is known of their campaign.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days of ``deals.created_at``.

    Returns
    -------
    pandas.DataFrame
        One row per deal: ``deal_id``, ``lead_id``, ``created_at``, ``status``,
        ``amount`` (RUB), ``undetermined_campaign`` (``deals.utm_campaign``
        empty), ``lead_tracked_campaign`` (the lead has a campaign),
        ``lead_campaign`` and ``lost_utm`` = lead_tracked_campaign and
        undetermined_campaign.
    """
    return _run(con, deal_campaign_table, period)


def undetermined_campaign(deals: pd.DataFrame) -> pd.DataFrame:
    """Deals and revenue with an undetermined campaign, as on the seed's slide.

    Parameters
    ----------
    deals : pandas.DataFrame
        Output of :func:`deal_campaigns`.

    Returns
    -------
    pandas.DataFrame
        Index ``status`` (``all``, then ``won``, ``open``, ``lost`` if present);
        columns ``deals``, ``undetermined_deals``, ``undetermined_deals_share``
        = undetermined_deals / deals x 100%, ``revenue`` (amount of won deals,
        RUB), ``undetermined_revenue``, ``undetermined_revenue_share`` =
        undetermined_revenue / revenue x 100% (NaN when 0 / 0), and ``summary``:
        the two shares as text, ``"189 of 522 (36%); 293,740,432.00 of
        567,703,932.00 RUB (52%)"`` (see :func:`format_share`).
    """
    won = deals["status"] == "won"
    frame = deals.assign(
        revenue=deals["amount"].where(won, 0.0).fillna(0.0),
        undetermined_deals=deals["undetermined_campaign"].astype("int64"),
    )
    frame["undetermined_revenue"] = frame["revenue"].where(frame["undetermined_campaign"], 0.0)
    columns = ["undetermined_deals", "revenue", "undetermined_revenue"]
    statuses = [s for s in ("won", "open", "lost") if (frame["status"] == s).any()]
    rows = {"all": frame}
    rows.update({s: frame[frame["status"] == s] for s in statuses})
    records = []
    for status, part in rows.items():
        record = {"status": status, "deals": len(part)}
        record.update({c: part[c].sum() for c in columns})
        records.append(record)
    out = pd.DataFrame.from_records(records).set_index("status")
    out["deals"] = out["deals"].astype("int64")
    out["undetermined_deals"] = out["undetermined_deals"].astype("int64")
    out[["revenue", "undetermined_revenue"]] = out[["revenue", "undetermined_revenue"]].astype(
        "float64"
    )
    out.insert(
        2,
        "undetermined_deals_share",
        [_percent(p, b) for p, b in zip(out["undetermined_deals"], out["deals"], strict=True)],
    )
    out["undetermined_revenue_share"] = [
        _percent(p, b) for p, b in zip(out["undetermined_revenue"], out["revenue"], strict=True)
    ]
    out["summary"] = [
        format_share(r.undetermined_deals, r.deals)
        + "; "
        + format_share(r.undetermined_revenue, r.revenue, money=True)
        for r in out.itertuples()
    ]
    return out


# --------------------------------------------------------------------------- leads


def lead_checks(
    con, period: Period, duplicate_window: timedelta = DUPLICATE_WINDOW
) -> pd.DataFrame:
    """Leads created in the period with their data-quality flags.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days of ``leads.created_at``.
    duplicate_window : datetime.timedelta, default 2 days
        A lead repeating the phone or e-mail of the same person's previous
        lead at most this long after it is a duplicate. The previous lead may
        lie before the period.

    Returns
    -------
    pandas.DataFrame
        One row per lead: ``lead_id``, ``created_at``, ``lead_type``,
        ``has_contact`` (phone or e-mail), ``repeats_phone``,
        ``repeats_email``, ``is_duplicate`` (either), ``duplicate_of`` (the
        previous lead it repeats, the closer one if both match),
        ``has_deal``, ``has_session`` (its visit id is in ``visits``),
        ``missing_in_crm`` = not duplicate and no deal,
        ``call_without_session`` = not duplicate, a call and no session.
    """
    return _run(con, lead_check_table, period, duplicate_window)


# --------------------------------------------------------------------------- spend


def spend_visits(con, period: Period) -> pd.DataFrame:
    """Spend rows of the period and whether their ad brought any visit that day.

    Returns
    -------
    pandas.DataFrame
        One row per spend row dated in the period: ``date``, ``channel``,
        ``campaign``, ``ad_group``, ``creative``, ``clicks``, ``cost`` (RUB) and
        ``has_visits``: some visit that day has ``utm_campaign = campaign``,
        ``utm_term = ad_group`` and ``utm_content = creative``.
    """
    return _run(con, spend_visit_table, period)


# --------------------------------------------------------------------------- reconciliation


def marketing_vs_sales(con, period: Period, weeks: int | None = None) -> pd.DataFrame:
    """Leads counted by marketing vs deals counted by the CRM, by ISO week.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Days counted; the first and last week may be partial.
    weeks : int, optional
        Instead of the period, the ``weeks`` ISO weeks up to the one holding
        ``period.end`` (as :func:`analytics.metrics.funnel.weekly_funnel`), e.g. 12 to
        see a trend behind a weekly report; >= 1.

    Returns
    -------
    pandas.DataFrame
        One row per ISO week touching the period, oldest first, weeks without
        data included: ``week`` (``YYYY-Www``), ``week_start`` (Monday),
        ``leads`` (created that week), ``deals`` (created that week),
        ``gap`` = leads - deals, ``gap_share`` = gap / leads x 100% (NaN
        without leads).
    """
    if weeks is not None:
        if weeks < 1:
            raise ValueError(f"weeks must be >= 1, got {weeks}")
        last_monday = period.end - timedelta(days=period.end.weekday())
        period = date_range(last_monday - timedelta(weeks=weeks - 1), period.end)
    counts = _run(con, weekly_leads_deals, period)
    first = period.start - timedelta(days=period.start.weekday())
    mondays = [first + timedelta(weeks=i) for i in range((period.end - first).days // 7 + 1)]
    counts["week_start"] = pd.to_datetime(counts["week_start"]).dt.date
    out = counts.set_index("week_start").reindex(mondays).fillna(0).astype("int64")
    out["gap"] = out["leads"] - out["deals"]
    out["gap_share"] = [_percent(g, n) for g, n in zip(out["gap"], out["leads"], strict=True)]
    out.insert(0, "week", [f"{m.isocalendar()[0]}-W{m.isocalendar()[1]:02d}" for m in mondays])
    out = out.reset_index(names="week_start")
    out["week_start"] = pd.to_datetime(out["week_start"])
    return out[["week", "week_start", "leads", "deals", "gap", "gap_share"]]


# --------------------------------------------------------------------------- loads


def load_summary(con) -> pd.DataFrame:
    """Rows read, loaded and quarantined per loaded file, with the quarantine's own count.

    Returns
    -------
    pandas.DataFrame
        :func:`analytics.warehouse.reconciliation` (one row per file plus a
        ``TOTAL`` row; ``balanced`` means rows_in = rows_loaded +
        rows_quarantined) with ``quarantine_rows``: rows of table
        ``quarantine`` of that load and file (equal to ``rows_quarantined``
        unless the quarantine was edited after the load).
    """
    frame = reconciliation(con)
    counts = con.execute(
        "SELECT load_id, source_file, count(*) AS n FROM quarantine GROUP BY ALL"
    ).df()
    found = {(r.load_id, r.source_file): int(r.n) for r in counts.itertuples()}
    frame["quarantine_rows"] = [
        found.get((r.load_id, r.source_file), 0) for r in frame.itertuples()
    ]
    frame.loc[frame["target_table"] == "TOTAL", "quarantine_rows"] = int(counts["n"].sum())
    frame["quarantine_rows"] = frame["quarantine_rows"].astype("int64")
    return frame


def quarantine_reasons(con) -> pd.DataFrame:
    """Quarantined rows by table and first failing column.

    Returns
    -------
    pandas.DataFrame
        Columns ``target_table``, ``column_name``, ``rows`` and ``example``
        (one reason text), most rows first; empty when nothing was rejected.
    """
    return con.execute(
        """
        SELECT target_table, column_name, count(*) AS rows, min(reason) AS example
        FROM quarantine GROUP BY ALL ORDER BY rows DESC, target_table, column_name
        """
    ).df()


# --------------------------------------------------------------------------- report


def quality_report(
    con,
    period: Period,
    thresholds: Mapping[str, float] | None = None,
    duplicate_window: timedelta = DUPLICATE_WINDOW,
    checks: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every data-quality check of the period (or the ``checks`` named) with its status.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables, ``quarantine`` and ``load_log``.
    period : Period
        Report period (see the module docstring for which date each check uses).
    thresholds : mapping of str to float, optional
        Largest ``|share|`` in % that is still ``ok``, per check; overrides
        :data:`DEFAULT_THRESHOLDS` for the checks it names.
    duplicate_window : datetime.timedelta, default 2 days
        See :func:`lead_checks`.
    checks : sequence of str, optional
        Only these checks (keys of :data:`CHECKS`), and only the evidence they
        need (:data:`CHECK_EVIDENCE`) is read: e.g. :data:`DEFECT_CHECKS` for
        :func:`defect_recovery`, without the spend × visits match over all the
        data. Default: every check.

    Returns
    -------
    pandas.DataFrame
        Index ``check`` (the keys of :data:`CHECKS` asked for, in that order); columns
        ``value`` and ``base`` (counts; RUB for the revenue check),
        ``share`` = value / base x 100% (NaN when the base is 0),
        ``threshold`` (%), ``status`` (``ok`` or ``warn``: ``|share| >
        threshold``) and ``definition``.

    Raises
    ------
    KeyError
        For a threshold or a check of an unknown name.
    """
    limits = dict(DEFAULT_THRESHOLDS)
    for name, value in (thresholds or {}).items():
        if name not in CHECKS:
            raise KeyError(f"unknown check {name!r}; checks: {', '.join(CHECKS)}")
        limits[name] = float(value)
    for name in checks or ():
        if name not in CHECKS:
            raise KeyError(f"unknown check {name!r}; checks: {', '.join(CHECKS)}")
    wanted = [name for name in CHECKS if checks is None or name in checks]
    needed = {evidence for name in wanted for evidence in CHECK_EVIDENCE[name]}

    measured = {}
    if "deals" in needed:
        deals = deal_campaigns(con, period)
        table = undetermined_campaign(deals).loc["all"]
        measured["undetermined_campaign_deals"] = (table["undetermined_deals"], table["deals"])
        measured["undetermined_campaign_revenue"] = (
            table["undetermined_revenue"],
            table["revenue"],
        )
        measured["lost_utm"] = (deals["lost_utm"].sum(), deals["lead_tracked_campaign"].sum())
    if "leads" in needed:
        leads = lead_checks(con, period, duplicate_window)
        first = leads[~leads["is_duplicate"]]
        first_calls = first[first["lead_type"] == "call"]
        measured["duplicate_leads"] = (leads["is_duplicate"].sum(), first["has_contact"].sum())
        measured["missing_in_crm"] = (leads["missing_in_crm"].sum(), len(first))
        measured["calls_without_session"] = (
            leads["call_without_session"].sum(),
            len(first_calls),
        )
    if "spend" in needed:
        spend = spend_visits(con, period)
        measured["spend_without_visits"] = ((~spend["has_visits"]).sum(), len(spend))
    if "deals" in needed and "leads" in needed:
        measured["marketing_vs_sales"] = (len(leads) - len(deals), len(leads))
    if "loads" in needed:
        loads = load_summary(con)
        files = loads[loads["target_table"] != "TOTAL"]
        total = loads[loads["target_table"] == "TOTAL"].iloc[0]
        measured["quarantined_rows"] = (total["rows_quarantined"], total["rows_in"])
        measured["unbalanced_files"] = ((~files["balanced"]).sum(), len(files))
    records = []
    for name in wanted:
        value, base = measured[name]
        share = _percent(float(value), float(base))
        ok = math.isnan(share) or abs(share) <= limits[name]
        records.append(
            {
                "check": name,
                "value": float(value),
                "base": float(base),
                "share": share,
                "threshold": limits[name],
                "status": "ok" if ok else "warn",
                "definition": CHECKS[name],
            }
        )
    return pd.DataFrame.from_records(records).set_index("check")


def defect_recovery(report: pd.DataFrame, defects: pd.DataFrame) -> pd.DataFrame:
    """Compare the report's counts with injected defects of the demo company.

    Parameters
    ----------
    report : pandas.DataFrame
        :func:`quality_report` over the whole data (period ``all``).
    defects : pandas.DataFrame
        ``truth.defects`` of :mod:`analytics.demo.generator`: ``defect``,
        ``base_count``, ``injected_count``, ``realized_rate``.

    Returns
    -------
    pandas.DataFrame
        Index ``defect``; columns ``injected_count``, ``found`` (report value),
        ``base_count``, ``found_base``, ``injected_rate`` and ``found_rate``
        (both in %).
    """
    checks = DEFECT_CHECKS
    truth = defects.set_index("defect").loc[list(checks)]
    found = report.loc[list(checks.values())]
    return pd.DataFrame(
        {
            "injected_count": truth["injected_count"].astype("int64").to_numpy(),
            "found": found["value"].astype("int64").to_numpy(),
            "base_count": truth["base_count"].astype("int64").to_numpy(),
            "found_base": found["base"].astype("int64").to_numpy(),
            "injected_rate": (truth["realized_rate"] * 100).to_numpy(),
            "found_rate": found["share"].to_numpy(),
        },
        index=pd.Index(list(checks), name="defect"),
    )


def demo_defect_recovery(con) -> pd.DataFrame | None:
    """:func:`defect_recovery` over all the data when the warehouse holds the demo
    generator's ``truth.defects``; None otherwise (real data).

    Only the checks of :data:`DEFECT_CHECKS` are measured (their deals and leads
    evidence over every day with data), not the whole :func:`quality_report`.
    Computed once per run and rendered per language
    (:func:`analytics.reports.analyst_pages.demo_defects_section`).
    """
    from analytics.metrics.period import data_anchor, data_bounds, parse_period

    found = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'truth' AND table_name = 'defects'"
    ).fetchone()[0]
    if not found:
        return None
    everything = parse_period("all", data_anchor(con), bounds=data_bounds(con))
    report = quality_report(con, everything, checks=list(DEFECT_CHECKS.values()))
    return defect_recovery(report, con.execute("SELECT * FROM truth.defects").df())
