"""E-mail each role its report: a short KPI summary in the body, the full report attached.

A period folder written by :func:`analytics.reports.runner.run_reports`
(``reports/<period label>/`` with ``manifest.json`` and ``<role>/<notebook>.html``)
becomes one message per role, sent to the ``recipients`` of
``params/roles/<role>.yaml``::

    multipart/mixed
        multipart/related
            multipart/alternative
                text/plain          KPI summary
                text/html           the same summary and <img src="cid:...">
            image/png               chart, 600 x 300 px, referenced by Content-ID
        text/html                   the role's report page(s), as attachments
                                    (one zip instead if they exceed max_attachment_mb)

The body holds aggregates of the period only (no lead, phone or e-mail), and
its HTML part is kept under :data:`HTML_BODY_LIMIT` bytes because Gmail clips
longer messages at about 102 KB. A role any of whose notebooks failed in the
manifest gets no e-mail: a partial report must not look like a complete one.

SMTP settings are read from ``params/email.yaml`` (:func:`load_email_config`);
the password only ever comes from the environment variable that file names.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
import re
import secrets
import smtplib
import ssl
import sys
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from email import policy
from email.message import EmailMessage, MIMEPart
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

import pandas as pd
import yaml

from analytics import paths

DEFAULT_CONFIG = paths.PARAMS_DIR / "email.yaml"
ROLES_DIR = paths.PARAMS_DIR / "roles"

HTML_BODY_LIMIT = 100_000
"""Maximum size of the encoded ``text/html`` body part, bytes (Gmail clips at ~102 KB)."""

CHART_SIZE_PX = (600, 300)
CHART_DPI = 80

CONFIG_KEYS = (
    "host",
    "port",
    "starttls",
    "ssl",
    "username",
    "password_env",
    "from",
    "subject",
    "timeout_s",
    "max_attachment_mb",
)
"""Keys ``params/email.yaml`` may have."""

SUBJECT_FIELDS = ("role", "role_title", "period", "label")
"""Placeholders the subject template may use."""

KPI_LABELS: dict[str, tuple[str, str]] = {
    # column of analytics.funnel.funnel_summary: (label in the e-mail, unit)
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
"""Formulas printed under the KPIs that need one (see :mod:`analytics.funnel`)."""

ROLE_KPIS: dict[str, tuple[str, ...]] = {
    "ceo": ("revenue", "spend", "drr", "romi", "cac", "sales"),
    "marketing": ("leads", "mql", "sql_leads", "cpl", "cost_per_mql"),
    "sales": ("sql_leads", "sales", "cr_sql_sale", "revenue"),
    "analyst": tuple(KPI_LABELS),
}
"""KPIs in each role's e-mail, in order."""

DEFAULT_KPIS = ("revenue", "spend", "leads", "sales", "drr", "romi")
"""KPIs for a role not in :data:`ROLE_KPIS`."""

THIN_SPACE = "\u202f"
"""Narrow no-break space: Russian thousands separator and the gap before ₽ and %."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


class ReportFailedError(ValueError):
    """A role's report is failed or missing in the period folder: do not e-mail it."""


class DeliveryError(RuntimeError):
    """The SMTP server could not be reached or refused the login; nothing was sent."""


@dataclass(frozen=True)
class EmailConfig:
    """SMTP settings from ``params/email.yaml`` (see :func:`load_email_config`).

    Parameters
    ----------
    host : str
        SMTP server.
    port : int
        SMTP port (587 with STARTTLS, 465 with SSL, 25 for a relay).
    starttls : bool
        Upgrade the connection with STARTTLS after connecting.
    ssl : bool
        Implicit TLS from the first byte (``smtplib.SMTP_SSL``).
    username : str or None
        Login name; None means no login.
    password_env : str
        Name of the environment variable holding the password.
    sender : str
        ``From`` address (key ``from``), e.g. ``Сквозная аналитика <a@example.com>``.
    subject : str
        Subject template with placeholders from :data:`SUBJECT_FIELDS`.
    timeout_s : float
        Socket timeout, seconds.
    max_attachment_mb : float
        Report pages above this total are zipped; a zip above it is not sent.
    source : pathlib.Path
        The settings file.
    """

    host: str
    port: int
    starttls: bool
    ssl: bool
    username: str | None
    password_env: str
    sender: str
    subject: str
    timeout_s: float = 30.0
    max_attachment_mb: float = 20.0
    source: Path = DEFAULT_CONFIG

    @property
    def sender_domain(self) -> str:
        """Domain of the ``From`` address, used for Message-ID and Content-ID."""
        return parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"

    def password(self) -> str:
        """The SMTP password from ``os.environ[password_env]``.

        Raises
        ------
        ValueError
            If the variable is not set or empty.
        """
        value = os.environ.get(self.password_env)
        if not value:
            raise ValueError(
                f"{self.source}: username is set but the environment variable "
                f"{self.password_env} (key 'password_env') with the SMTP password is not set"
            )
        return value


def load_email_config(path: str | Path = DEFAULT_CONFIG) -> EmailConfig:
    """Read and validate the SMTP settings file.

    Parameters
    ----------
    path : str or pathlib.Path
        YAML file with the keys of :data:`CONFIG_KEYS`; ``host``, ``port`` and
        ``from`` are required, ``starttls`` and ``ssl`` default to false,
        ``password_env`` to ``ANALYTICS_SMTP_PASSWORD``.

    Returns
    -------
    EmailConfig

    Raises
    ------
    ValueError
        Naming the file and the key: missing file, not YAML or not a mapping,
        a ``password`` (or other secret) key, an unknown or missing key, a
        wrong type, both ``starttls`` and ``ssl``, a bad address or subject.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: e-mail settings file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with keys {', '.join(CONFIG_KEYS)}")

    secrets = sorted(
        str(k)
        for k in data
        if k != "password_env" and re.search(r"pass|secret|token", str(k), re.IGNORECASE)
    )
    if secrets:
        raise ValueError(
            f"{path}: key {secrets[0]!r} is not allowed: secrets are never stored in the "
            "settings file. Put the password in an environment variable and set "
            "'password_env' to that variable's name (e.g. ANALYTICS_SMTP_PASSWORD)"
        )
    unknown = sorted(str(k) for k in data if k not in CONFIG_KEYS)
    if unknown:
        raise ValueError(
            f"{path}: unknown key {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(CONFIG_KEYS)})"
        )
    for key in ("host", "port", "from"):
        if data.get(key) in (None, ""):
            raise ValueError(f"{path}: missing key {key!r}")

    def text(key: str, default: str | None = None) -> str | None:
        value = data.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{path}: key {key!r} must be a non-empty string")
        return value.strip()

    def flag(key: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            raise ValueError(f"{path}: key {key!r} must be true or false, got {value!r}")
        return value

    def positive(key: str, default: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"{path}: key {key!r} must be a positive number, got {value!r}")
        return float(value)

    port = data["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"{path}: key 'port' must be an integer 1..65535, got {port!r}")
    starttls, use_ssl = flag("starttls"), flag("ssl")
    if starttls and use_ssl:
        raise ValueError(f"{path}: keys 'starttls' and 'ssl' are both true; choose one")

    password_env = text("password_env", "ANALYTICS_SMTP_PASSWORD")
    if not _ENV_NAME.match(password_env):
        raise ValueError(
            f"{path}: key 'password_env' must be the NAME of an environment variable "
            f"(letters, digits, '_'), got {password_env!r}"
        )
    sender = text("from")
    if not _EMAIL.match(parseaddr(sender)[1]):
        raise ValueError(f"{path}: key 'from' is not an e-mail address: {sender!r}")
    subject = text("subject", "Сквозная аналитика: {role_title}, {period}")
    try:
        subject.format(**{name: name for name in SUBJECT_FIELDS})
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"{path}: key 'subject': bad template {subject!r} ({exc!r}); "
            f"placeholders: {', '.join('{' + f + '}' for f in SUBJECT_FIELDS)}"
        ) from None

    return EmailConfig(
        host=text("host"),
        port=port,
        starttls=starttls,
        ssl=use_ssl,
        username=text("username"),
        password_env=password_env,
        sender=sender,
        subject=subject,
        timeout_s=positive("timeout_s", 30.0),
        max_attachment_mb=positive("max_attachment_mb", 20.0),
        source=path,
    )


# --- period folder --------------------------------------------------------------------


def read_manifest(period_dir: str | Path) -> dict:
    """The ``manifest.json`` of a period folder, as written by the report runner.

    Raises
    ------
    ValueError
        If the file is missing or not a JSON object.
    """
    path = Path(period_dir) / "manifest.json"
    if not path.is_file():
        raise ValueError(f"{path} not found: run `python -m analytics report` first")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return manifest


def manifest_roles(manifest: Mapping) -> list[str]:
    """Roles of a run manifest, in run order."""
    roles = list(manifest.get("roles") or {})
    for entry in manifest.get("notebooks") or []:
        if entry.get("role") not in roles:
            roles.append(entry.get("role"))
    return roles


def role_reports(manifest: Mapping, period_dir: str | Path, role: str) -> list[Path]:
    """The HTML report pages of one role, if every notebook of the role is ok.

    Returns
    -------
    list of pathlib.Path
        ``<period_dir>/<role>/<notebook>.html`` in manifest order.

    Raises
    ------
    ReportFailedError
        If the role has no notebook in the manifest, a notebook failed, or its
        page is missing on disk.
    """
    period_dir = Path(period_dir)
    entries = [e for e in manifest.get("notebooks") or [] if e.get("role") == role]
    if not entries:
        raise ReportFailedError(f"no report in the manifest for role {role!r}")
    failed = [e for e in entries if e.get("status") != "ok"]
    if failed:
        why = "; ".join(f"{e.get('notebook')}: {e.get('error') or 'failed'}" for e in failed)
        raise ReportFailedError(f"report failed ({why})")
    pages = []
    for entry in entries:
        stem = Path(str(entry.get("notebook"))).stem
        page = period_dir / (entry.get("html") or f"{role}/{stem}.html")
        if not page.is_file():
            raise ReportFailedError(f"report page {page} is missing")
        pages.append(page)
    return pages


def period_text(manifest: Mapping, period_dir: str | Path) -> str:
    """Period for people: ``2025-W23 (02.06.2025–08.06.2025)``, or the folder name."""
    period = manifest.get("period")
    label = period_label(manifest, period_dir)
    if isinstance(period, Mapping):
        try:
            start = date.fromisoformat(period["start"])
            end = date.fromisoformat(period["end"])
        except (KeyError, TypeError, ValueError):
            return label
        return f"{label} ({start:%d.%m.%Y}–{end:%d.%m.%Y})"
    return label


def period_label(manifest: Mapping, period_dir: str | Path) -> str:
    """Label of the period (``2025-W23``): the manifest's, else the folder name."""
    period = manifest.get("period")
    label = period.get("label") if isinstance(period, Mapping) else None
    return str(label or Path(period_dir).name)


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
        Columns of :func:`analytics.funnel.funnel_summary`.
    weekly : pandas.DataFrame
        :func:`analytics.funnel.weekly_funnel`.

    Raises
    ------
    ValueError
        If the warehouse file or the period is missing from the manifest.
    """
    import duckdb

    from analytics.funnel import funnel_summary, weekly_funnel
    from analytics.period import Period, data_anchor, data_bounds, parse_period

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


# --- message --------------------------------------------------------------------------


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


def _summary_dict(summary_row) -> dict:
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
        :func:`analytics.funnel.weekly_funnel` (``week``, ``leads``, ``mql``,
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
        :func:`analytics.funnel.funnel_summary` of the period (aggregates only).
    config : EmailConfig, str or pathlib.Path
        SMTP settings or the settings file (``From``, subject template, limits).
    weekly : pandas.DataFrame, optional
        :func:`analytics.funnel.weekly_funnel`; if given the chart shows weekly
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

    summary = _summary_dict(summary_row)
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


# --- sending --------------------------------------------------------------------------


@dataclass(frozen=True)
class SkippedRole:
    """A role that got no e-mail.

    Attributes
    ----------
    role : str
    reason : str
    failed : bool
        True if the role should have been e-mailed (its report failed or is
        missing, or the server refused the message); False if there was
        nothing to send (no recipients).
    """

    role: str
    reason: str
    failed: bool = True


@dataclass
class EmailResult:
    """What :func:`send_reports` did.

    Attributes
    ----------
    period_dir : pathlib.Path
    dry_run : bool
    sent : list of str
        Roles e-mailed (on a dry run: written to ``.eml``).
    skipped : list of SkippedRole
        Roles not e-mailed, with the reason.
    eml_paths : list of pathlib.Path
        ``.eml`` files written on a dry run.
    recipients : dict of str to list of str
        Addresses of each role in ``sent``.
    """

    period_dir: Path
    dry_run: bool
    sent: list[str] = field(default_factory=list)
    skipped: list[SkippedRole] = field(default_factory=list)
    eml_paths: list[Path] = field(default_factory=list)
    recipients: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Everything that should have been sent was sent."""
        return not any(s.failed for s in self.skipped)

    @property
    def text(self) -> str:
        """A few lines for the console."""
        verb = "written to outbox" if self.dry_run else "sent"
        lines = [f"E-mail for {self.period_dir.name}: {len(self.sent)} {verb}"]
        if self.skipped:
            lines[0] += f", {len(self.skipped)} skipped"
        for role in self.sent:
            lines.append(f"  {role}: {len(self.recipients.get(role, []))} recipient(s)")
        for path in self.eml_paths:
            lines.append(f"  wrote {path}")
        for skip in self.skipped:
            lines.append(f"  {'SKIPPED' if skip.failed else 'skipped'} {skip.role}: {skip.reason}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text


def _read_role(role: str, roles_dir: Path, manifest: Mapping) -> dict:
    """``title`` and ``recipients`` of a role: its current role file, else the manifest."""
    path = roles_dir / f"{role}.yaml"
    if path.is_file():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping with keys title, recipients, ...")
    else:
        data = (manifest.get("roles") or {}).get(role)
        if not isinstance(data, Mapping):
            raise ValueError(f"role file {path} not found and role {role!r} not in the manifest")
    recipients = data.get("recipients") or []
    if not isinstance(recipients, list):
        raise ValueError(f"{path}: key 'recipients' must be a list of e-mail addresses")
    for address in recipients:
        if not isinstance(address, str) or not _EMAIL.match(address.strip()):
            raise ValueError(f"{path}: key 'recipients': bad e-mail address {address!r}")
    return {"title": data.get("title") or role, "recipients": [a.strip() for a in recipients]}


def _connect(config: EmailConfig) -> smtplib.SMTP:
    """An SMTP connection per the settings: SSL or plain + STARTTLS, login if a username.

    Raises
    ------
    ValueError
        If a username is set but its password variable is not.
    DeliveryError
        If the server cannot be reached, STARTTLS fails or the login is refused.
    """
    password = config.password() if config.username else None
    where = f"SMTP {config.host}:{config.port}"
    try:
        if config.ssl:
            smtp = smtplib.SMTP_SSL(
                config.host,
                config.port,
                timeout=config.timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{where}: cannot connect: {exc}") from exc
    try:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.username:
            smtp.login(config.username, password)
    except (OSError, smtplib.SMTPException) as exc:
        smtp.close()
        step = "login as " + config.username if config.username else "STARTTLS"
        raise DeliveryError(f"{where}: {step} failed: {exc}") from exc
    return smtp


def send_reports(
    period_dir: str | Path,
    roles: Iterable[str] | None = None,
    dry_run: bool = False,
    config_path: str | Path = DEFAULT_CONFIG,
    out_dir: str | Path | None = None,
    *,
    roles_dir: str | Path | None = None,
    summary_row=None,
    weekly: pd.DataFrame | None = None,
) -> EmailResult:
    """E-mail every role its report of one period, or write the e-mails as ``.eml``.

    Parameters
    ----------
    period_dir : str or pathlib.Path
        ``reports/<period label>/`` written by the report runner.
    roles : iterable of str, optional
        Roles to e-mail; default every role of the manifest.
    dry_run : bool, default False
        Write ``<out_dir>/<role>.eml`` and send nothing.
    config_path : str or pathlib.Path
        SMTP settings (:func:`load_email_config`).
    out_dir : str or pathlib.Path, optional
        Folder of the ``.eml`` files; default ``<period_dir>/outbox``.
    roles_dir : str or pathlib.Path, optional
        Folder of the role files with the recipients; default ``params/roles``
        (a role without a file falls back to the manifest's copy).
    summary_row : Mapping, pandas.Series or pandas.DataFrame, optional
        Funnel summary of the period; default computed from the manifest's
        warehouse (:func:`funnel_from_warehouse`), which also gives ``weekly``.
    weekly : pandas.DataFrame, optional
        Weekly funnel for the chart when ``summary_row`` is given.

    Returns
    -------
    EmailResult
        Roles sent, roles skipped with the reason (failed report, no
        recipients, refused by the server) and the ``.eml`` paths.

    Raises
    ------
    ValueError
        Bad settings or role file, a role not in the manifest, or (on a real
        send) a username without its password variable. Nothing is sent then.
    DeliveryError
        If the SMTP server cannot be reached or refuses the login.
    """
    period_dir = Path(period_dir)
    config = load_email_config(config_path)
    manifest = read_manifest(period_dir)
    known = manifest_roles(manifest)
    if isinstance(roles, str):
        roles = [roles]
    roles = list(known if roles is None else roles)
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise ValueError(
            f"role(s) {', '.join(unknown)} not in {period_dir / 'manifest.json'} "
            f"(roles there: {', '.join(known) or 'none'})"
        )
    roles_dir = Path(roles_dir) if roles_dir is not None else ROLES_DIR
    role_cfgs = {role: _read_role(role, roles_dir, manifest) for role in roles}
    if not dry_run and config.username:
        config.password()  # fail before building anything if the secret is missing

    result = EmailResult(period_dir=period_dir, dry_run=dry_run)
    ready: list[str] = []
    for role in roles:
        if not role_cfgs[role]["recipients"]:
            result.skipped.append(SkippedRole(role, "no recipients in the role file", False))
            continue
        try:
            role_reports(manifest, period_dir, role)
        except ReportFailedError as exc:
            result.skipped.append(SkippedRole(role, str(exc)))
            continue
        ready.append(role)
    if not ready:
        return result

    if summary_row is None:
        summary_row, weekly = funnel_from_warehouse(manifest)
    chart = chart_png(_summary_dict(summary_row), weekly)
    messages: dict[str, EmailMessage] = {}
    for role in ready:
        try:
            messages[role] = build_message(
                role,
                role_cfgs[role],
                period_dir,
                summary_row,
                config=config,
                weekly=weekly,
                manifest=manifest,
                chart=chart,
            )
        except ReportFailedError as exc:
            result.skipped.append(SkippedRole(role, str(exc)))

    if dry_run:
        outbox = Path(out_dir) if out_dir is not None else period_dir / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        for role, msg in messages.items():
            path = outbox / f"{role}.eml"
            path.write_bytes(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))
            result.eml_paths.append(path)
            result.sent.append(role)
            result.recipients[role] = role_cfgs[role]["recipients"]
        return result

    if not messages:
        return result
    with _connect(config) as smtp:
        for role, msg in messages.items():
            try:
                refused = smtp.send_message(msg)
            except smtplib.SMTPException as exc:
                result.skipped.append(SkippedRole(role, f"SMTP server refused the message: {exc}"))
                continue
            if refused:
                result.skipped.append(
                    SkippedRole(role, f"SMTP server refused recipient(s) {', '.join(refused)}")
                )
                continue
            result.sent.append(role)
            result.recipients[role] = role_cfgs[role]["recipients"]
    return result


def latest_period_dir(reports_dir: str | Path = paths.REPORTS_DIR) -> Path:
    """The newest ``<reports_dir>/<period>/`` with a ``manifest.json`` (by manifest time).

    Raises
    ------
    ValueError
        If there is none.
    """
    manifests = sorted(Path(reports_dir).glob("*/manifest.json"), key=lambda p: p.stat().st_mtime)
    if not manifests:
        raise ValueError(
            f"no report period with a manifest.json under {reports_dir}: "
            "run `python -m analytics report` first"
        )
    return manifests[-1].parent


def main(args) -> int:
    """``python -m analytics email``: send or dry-run the reports of a period.

    Parameters
    ----------
    args : argparse.Namespace
        ``period_dir`` (pathlib.Path or None: the newest period under
        ``reports/``), ``roles`` (``all`` or comma-separated names) and
        ``dry_run`` (bool); optional ``config``, ``roles_dir`` and
        ``reports_dir`` override the default paths.

    Returns
    -------
    int
        0 if everything that should be sent was sent (or written), 1 if a role
        was skipped because its report failed or the server refused it, 2 if
        the SMTP server could not be reached or refused the login.
    """
    period_dir = args.period_dir
    if period_dir is None:
        period_dir = latest_period_dir(getattr(args, "reports_dir", None) or paths.REPORTS_DIR)
    roles_arg = (getattr(args, "roles", None) or "all").strip()
    roles = None if roles_arg == "all" else [r.strip() for r in roles_arg.split(",") if r.strip()]
    config = getattr(args, "config", None) or DEFAULT_CONFIG
    try:
        result = send_reports(
            period_dir,
            roles=roles,
            dry_run=bool(args.dry_run),
            config_path=config,
            roles_dir=getattr(args, "roles_dir", None),
        )
    except DeliveryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.text)
    return 0 if result.ok else 1
