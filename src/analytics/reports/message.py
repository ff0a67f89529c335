"""The e-mail message of one role: KPI summary body, CID chart, the report attached."""

from __future__ import annotations

import html
import io
import math
import secrets
import zipfile
from collections.abc import Mapping
from datetime import date
from email import policy
from email.message import EmailMessage, MIMEPart
from email.utils import formatdate, make_msgid
from pathlib import Path

import pandas as pd

from analytics import paths
from analytics.reports.email_config import DEFAULT_CONFIG, EmailConfig, load_email_config
from analytics.reports.manifest import (
    ReportFailedError,
    period_label,
    period_text,
    read_manifest,
    role_reports,
)

KPI_LABELS: dict[str, tuple[str, str]] = {
    # column of analytics.metrics.funnel.funnel_summary: (label in the e-mail, unit)
    "spend": ("Расходы на рекламу", "RUB"),
    "visits": ("Визиты", "count"),
    "visitors": ("Посетители", "count"),
    "leads": ("Лиды", "count"),
    "leads_form": ("Лиды: формы", "count"),
    "leads_call": ("Лиды: звонки", "count"),
    "leads_chat": ("Лиды: чаты", "count"),
    "mql": ("MQL", "count"),
    "sql_leads": ("SQL", "count"),
    "sales": ("Продажи", "count"),
    "revenue": ("Выручка", "RUB"),
    "cr_visit_lead": ("CR визит → лид", "%"),
    "cr_lead_mql": ("CR лид → MQL", "%"),
    "cr_mql_sql": ("CR MQL → SQL", "%"),
    "cr_sql_sale": ("CR SQL → продажа (win rate)", "%"),
    "cpl": ("CPL", "RUB"),
    "cost_per_mql": ("Стоимость MQL", "RUB"),
    "cost_per_sql": ("Стоимость SQL", "RUB"),
    "cac": ("CAC", "RUB"),
    "drr": ("ДРР", "%"),
    "romi": ("ROMI", "%"),
}
"""Russian label and unit (RUB, count, %) of every KPI the summary can show."""


KPI_DEFINITIONS: dict[str, str] = {
    "cpl": "CPL = расходы / лиды",
    "cost_per_mql": "стоимость MQL = расходы / MQL",
    "cost_per_sql": "стоимость SQL = расходы / SQL",
    "cac": "CAC = расходы / продажи",
    "drr": "ДРР = расходы / выручка × 100%",
    "romi": "ROMI = (выручка − расходы) / расходы × 100%",
    "cr_sql_sale": "win rate = продажи / SQL × 100%",
}
"""Formulas printed under the KPIs that need one (see :mod:`analytics.metrics.funnel`)."""


ROLE_KPIS: dict[str, tuple[str, ...]] = {
    "ceo": ("revenue", "spend", "drr", "romi", "cac", "sales"),
    "marketing": ("leads", "mql", "sql_leads", "cpl", "cost_per_mql"),
    "sales": ("sql_leads", "sales", "cr_sql_sale", "revenue"),
    "analyst": tuple(KPI_LABELS),
}
"""KPIs in each role's e-mail, in order."""


HTML_BODY_LIMIT = 100_000
"""Maximum size of the encoded ``text/html`` body part, bytes (Gmail clips at ~102 KB)."""


CHART_SIZE_PX = (600, 300)


CHART_DPI = 80


SUBJECT_FIELDS = ("role", "role_title", "period", "label")
"""Placeholders the subject template may use."""


DEFAULT_KPIS = ("revenue", "spend", "leads", "sales", "drr", "romi")
"""KPIs for a role not in :data:`ROLE_KPIS`."""


THIN_SPACE = "\u202f"
"""Narrow no-break space: Russian thousands separator and the gap before ₽ and %."""


def funnel_from_warehouse(manifest: Mapping, weeks: int = 8) -> tuple[dict, pd.DataFrame]:
    """Funnel summary and weekly funnel of the manifest's period, from its warehouse.

    Parameters
    ----------
    manifest : Mapping
        Run manifest: ``period`` (``start``, ``end``, ``label``, or a ``spec``
        resolved against the warehouse's last day with visits) and the
        warehouse path (``warehouse.path`` or ``params.warehouse``).
    weeks : int, default 8
        Weeks in the weekly funnel, ending with the week of the period's end.

    Returns
    -------
    summary_row : dict
        Columns of :func:`analytics.metrics.funnel.funnel_summary`.
    weekly : pandas.DataFrame
        :func:`analytics.metrics.funnel.weekly_funnel`.

    Raises
    ------
    ValueError
        If the warehouse file or the period is missing from the manifest.
    """
    import duckdb

    from analytics.metrics.funnel import funnel_summary, weekly_funnel
    from analytics.metrics.period import Period, data_anchor, data_bounds, parse_period

    params = manifest.get("params") or {}
    warehouse = (manifest.get("warehouse") or {}).get("path") or params.get("warehouse")
    if not warehouse:
        raise ValueError("the manifest names no warehouse: cannot compute the summary")
    warehouse = Path(warehouse) if Path(warehouse).is_absolute() else paths.ROOT / warehouse
    if not warehouse.is_file():
        raise ValueError(f"warehouse {warehouse} named in the manifest does not exist")
    period = manifest.get("period") or {}
    if isinstance(period, str):
        period = {"spec": period}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        if period.get("start") and period.get("end"):
            start, end = date.fromisoformat(period["start"]), date.fromisoformat(period["end"])
            resolved = Period(start, end, period.get("label") or f"{start}_{end}")
        else:
            spec = period.get("spec") or params.get("period")
            if not spec:
                raise ValueError("the manifest has no period: cannot compute the summary")
            bounds = data_bounds(con) if str(spec).strip().lower() == "all" else None
            resolved = parse_period(spec, data_anchor(con), bounds=bounds)
        summary = funnel_summary(con, resolved).iloc[0].to_dict()
        weekly = weekly_funnel(con, resolved, weeks=weeks)
    finally:
        con.close()
    return summary, weekly


def format_kpi(value: object, unit: str) -> str:
    """A KPI value in Russian style.

    Thousands are separated by a narrow no-break space, decimals by a comma:
    ``150 000 ₽`` (RUB, whole roubles), ``14,0 %`` (one decimal), ``1 234``
    (counts); negative values use the minus sign ``−``; missing or NaN (a
    division by zero) is ``—``.
    """
    if value is None or value is pd.NA:
        return "—"
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return "—"
    digits = 1 if unit == "%" else 0
    text = f"{abs(number):,.{digits}f}".replace(",", THIN_SPACE).replace(".", ",")
    if number < 0 and text.strip("0,\u202f"):
        text = "−" + text
    if unit == "RUB":
        return f"{text}{THIN_SPACE}₽"
    if unit == "%":
        return f"{text}{THIN_SPACE}%"
    return text


def role_kpis(role: str, summary_row: Mapping) -> list[tuple[str, str]]:
    """``(label, formatted value)`` of the KPIs of a role (:data:`ROLE_KPIS`).

    Raises
    ------
    ValueError
        If the summary row lacks a KPI column.
    """
    columns = ROLE_KPIS.get(role, DEFAULT_KPIS)
    missing = [c for c in columns if c not in summary_row]
    if missing:
        raise ValueError(f"summary row lacks KPI column(s) {', '.join(missing)}")
    return [(KPI_LABELS[c][0], format_kpi(summary_row[c], KPI_LABELS[c][1])) for c in columns]


def summary_dict(summary_row) -> dict:
    """A funnel summary row (Mapping, Series or one-row DataFrame) as a dict."""
    if isinstance(summary_row, pd.DataFrame):
        if len(summary_row) != 1:
            raise ValueError(f"expected a one-row summary, got {len(summary_row)} rows")
        return summary_row.iloc[0].to_dict()
    if isinstance(summary_row, pd.Series):
        return summary_row.to_dict()
    return dict(summary_row)


def chart_png(summary_row: Mapping, weekly: pd.DataFrame | None = None) -> bytes:
    """A small PNG chart for the e-mail body, 600 x 300 px at 80 dpi.

    Parameters
    ----------
    summary_row : Mapping
        Funnel summary with ``leads``, ``mql``, ``sql_leads``, ``sales``: drawn
        as funnel bars when ``weekly`` is not given.
    weekly : pandas.DataFrame, optional
        :func:`analytics.metrics.funnel.weekly_funnel` (``week``, ``leads``, ``mql``,
        ``sql_leads``): drawn as weekly lines of leads, MQL and SQL.

    Returns
    -------
    bytes
        PNG image.
    """
    from matplotlib.figure import Figure

    width, height = CHART_SIZE_PX
    fig = Figure(figsize=(width / CHART_DPI, height / CHART_DPI), dpi=CHART_DPI)
    ax = fig.subplots()
    colors = ("#4C72B0", "#DD8452", "#55A868", "#C44E52")
    if weekly is not None and len(weekly) > 1:
        x = [str(w).split("-")[-1] for w in weekly["week"]]
        for column, label, color in zip(
            ("leads", "mql", "sql_leads"), ("Лиды", "MQL", "SQL"), colors, strict=False
        ):
            ax.plot(x, weekly[column], marker="o", label=label, color=color)
        ax.set_title("Лиды, MQL и SQL по неделям")
        ax.legend(frameon=False, loc="upper left")
        ax.set_ylim(bottom=0)
    else:
        stages = ("leads", "mql", "sql_leads", "sales")
        counts = [float(summary_row[c]) for c in stages]
        bars = ax.bar(["Лиды", "MQL", "SQL", "Продажи"], counts, color=colors)
        ax.bar_label(bars, labels=[format_kpi(c, "count") for c in counts], padding=2)
        ax.set_title("Воронка за период")
        ax.set_ylim(0, max(counts + [1.0]) * 1.18)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _role_field(role_cfg, key: str, default=None):
    """``role_cfg[key]`` of a mapping or ``role_cfg.key`` of a RoleConfig."""
    if isinstance(role_cfg, Mapping):
        return role_cfg.get(key, default)
    return getattr(role_cfg, key, default)


def _summary_html(
    title: str, period: str, kpis, notes: list[str], cid: str, attached: list[str]
) -> str:
    esc = html.escape
    rows = "\n".join(
        f'<tr><td style="padding:4px 16px 4px 0;color:#555">{esc(label)}</td>'
        f'<td style="padding:4px 0;font-weight:bold;text-align:right;white-space:nowrap">'
        f"{esc(value)}</td></tr>"
        for label, value in kpis
    )
    width, height = CHART_SIZE_PX
    definitions = ""
    if notes:
        definitions = (
            f'<p style="margin:8px 0 0 0;color:#888;font-size:12px">{esc("; ".join(notes))}.</p>'
        )
    return f"""<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8"><title>{esc(title)}</title></head>
<body style="margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;color:#222">
<h2 style="margin:0 0 4px 0;font-size:20px">{esc(title)}</h2>
<p style="margin:0 0 16px 0;color:#666">Период: {esc(period)}</p>
<table role="presentation" style="border-collapse:collapse;font-size:15px">
{rows}
</table>
{definitions}
<p style="margin:16px 0"><img src="cid:{esc(cid)}" width="{width}" height="{height}"
 alt="График воронки за период" style="display:block;max-width:100%;height:auto"></p>
<p style="margin:0 0 8px 0">Полный отчёт — во вложении: {esc(", ".join(attached))}.</p>
<p style="margin:0;color:#888;font-size:12px">Только агрегированные показатели за период,
без персональных данных. Письмо сформировано автоматически.</p>
</body></html>
"""


def _summary_text(title: str, period: str, kpis, notes: list[str], attached: list[str]) -> str:
    width = max(len(label) for label, _ in kpis)
    lines = [title, f"Период: {period}", ""]
    lines += [f"{label.ljust(width)}  {value}" for label, value in kpis]
    if notes:
        lines += ["", "; ".join(notes) + "."]
    lines += [
        "",
        f"Полный отчёт — во вложении: {', '.join(attached)}.",
        "Только агрегированные показатели за период, без персональных данных.",
    ]
    return "\n".join(lines) + "\n"


def _attachments(
    pages: list[Path], role: str, label: str, limit_mb: float
) -> list[tuple[str, str, str, bytes]]:
    """``(file name, maintype, subtype, bytes)`` of the report pages, zipped if too big.

    Raises
    ------
    ReportFailedError
        If even the zip exceeds ``limit_mb``.
    """
    limit = limit_mb * 1024 * 1024
    files = [(f"{page.stem}_{label}.html", page.read_bytes()) for page in pages]
    if sum(len(data) for _, data in files) <= limit:
        return [(name, "text", "html", data) for name, data in files]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    packed = buffer.getvalue()
    if len(packed) > limit:
        raise ReportFailedError(
            f"report is {len(packed) / 2**20:.1f} MB zipped, above max_attachment_mb={limit_mb:g}"
        )
    return [(f"{role}_{label}.zip", "application", "zip", packed)]


def build_message(
    role: str,
    role_cfg,
    period_dir: str | Path,
    summary_row,
    *,
    config: EmailConfig | str | Path = DEFAULT_CONFIG,
    weekly: pd.DataFrame | None = None,
    manifest: Mapping | None = None,
    chart: bytes | None = None,
) -> EmailMessage:
    """The e-mail of one role: KPI summary and chart inline, full report attached.

    Parameters
    ----------
    role : str
        Role name (report folder, key of :data:`ROLE_KPIS`).
    role_cfg : Mapping or RoleConfig
        ``title`` and ``recipients`` (list of e-mail addresses) of the role.
    period_dir : str or pathlib.Path
        ``reports/<period label>/`` with ``manifest.json`` and the role's pages.
    summary_row : Mapping, pandas.Series or one-row pandas.DataFrame
        :func:`analytics.metrics.funnel.funnel_summary` of the period (aggregates only).
    config : EmailConfig, str or pathlib.Path
        SMTP settings or the settings file (``From``, subject template, limits).
    weekly : pandas.DataFrame, optional
        :func:`analytics.metrics.funnel.weekly_funnel`; if given the chart shows weekly
        leads, MQL and SQL, else the period's funnel bars.
    manifest : Mapping, optional
        The period's manifest, if already read.
    chart : bytes, optional
        PNG of :func:`chart_png`, if already drawn (one chart serves every role).

    Returns
    -------
    email.message.EmailMessage
        ``multipart/mixed``: ``multipart/related`` (``multipart/alternative``
        of text/plain and text/html, plus the chart PNG referenced by
        ``cid:``), then the report page(s) as attachments.

    Raises
    ------
    ReportFailedError
        If the role's report failed or a page is missing.
    ValueError
        If the role has no recipients, the summary lacks a KPI, or the HTML
        body part is not under :data:`HTML_BODY_LIMIT` bytes.
    """
    if not isinstance(config, EmailConfig):
        config = load_email_config(config)
    period_dir = Path(period_dir)
    if manifest is None:
        manifest = read_manifest(period_dir)
    recipients = [str(a).strip() for a in _role_field(role_cfg, "recipients", None) or []]
    if not recipients:
        raise ValueError(f"role {role!r} has no recipients")
    title = str(_role_field(role_cfg, "title", None) or role)
    pages = role_reports(manifest, period_dir, role)

    summary = summary_dict(summary_row)
    kpis = role_kpis(role, summary)
    notes = [KPI_DEFINITIONS[c] for c in ROLE_KPIS.get(role, DEFAULT_KPIS) if c in KPI_DEFINITIONS]
    period = period_text(manifest, period_dir)
    label = period_label(manifest, period_dir)
    attachments = _attachments(pages, role, label, config.max_attachment_mb)
    attached = [name for name, *_ in attachments]

    chart_cid = f"<chart.{secrets.token_hex(8)}@{config.sender_domain}>"  # short: no folding
    body = MIMEPart(policy=policy.default)
    body.set_content(_summary_text(title, period, kpis, notes, attached), cte="base64")
    html_body = _summary_html(title, period, kpis, notes, chart_cid[1:-1], attached)
    body.add_alternative(html_body, subtype="html", cte="base64")
    html_part = body.get_payload()[1]
    size = len(html_part.as_bytes())
    if size >= HTML_BODY_LIMIT:
        raise ValueError(
            f"HTML body of role {role!r} is {size:,} bytes, not under {HTML_BODY_LIMIT:,} "
            "(Gmail clips longer messages)"
        )

    msg = EmailMessage(policy=policy.default)
    msg["Subject"] = config.subject.format(role=role, role_title=title, period=period, label=label)
    msg["From"] = config.sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring=f"report-{role}", domain=config.sender_domain)
    msg["MIME-Version"] = "1.0"
    msg["Auto-Submitted"] = "auto-generated"
    msg.make_related()
    msg.attach(body)
    msg.add_related(
        chart if chart is not None else chart_png(summary, weekly),
        maintype="image",
        subtype="png",
        cid=chart_cid,
        disposition="inline",
        filename="chart.png",
    )
    for name, maintype, subtype, data in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg
