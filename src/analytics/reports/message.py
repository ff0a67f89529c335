"""The e-mail message of one role: KPI summary body, CID chart, the report attached.

Figures come from the period snapshot (``reports/<period>/metrics.json``,
:mod:`analytics.metrics.snapshot`) and labels from the metric catalogue
(:mod:`analytics.metrics.catalogue`); nothing is recomputed from the warehouse,
so the e-mail shows exactly what the pages and the index show.
"""

from __future__ import annotations

import html
import io
import math
import secrets
import zipfile
from collections.abc import Mapping
from email import policy
from email.message import EmailMessage, MIMEPart
from email.utils import formatdate, make_msgid
from pathlib import Path

import pandas as pd

from analytics.metrics.catalogue import CATALOGUE, HEADLINE, metric
from analytics.metrics.snapshot import Snapshot, load_snapshot
from analytics.reports.email_config import DEFAULT_CONFIG, EmailConfig, load_email_config
from analytics.reports.manifest import (
    ReportFailedError,
    period_label,
    period_text,
    read_manifest,
    role_reports,
)
from analytics.reports.sales_page import CALL_LIST_FILE

ROLE_METRICS: dict[str, tuple[str, ...]] = {
    "ceo": HEADLINE,
    "marketing": ("leads", "mql", "sql_leads", "cpl", "cost_per_mql", "romi_cohort"),
    "sales": ("sql_leads", "sales", "win_rate", "revenue", "cycle_days"),
    "analyst": tuple(CATALOGUE),
}
"""Catalogue keys in each role's e-mail, in order (labels and units from the catalogue)."""


HTML_BODY_LIMIT = 100_000
"""Maximum size of the encoded ``text/html`` body part, bytes (Gmail clips at ~102 KB)."""


CHART_SIZE_PX = (600, 300)


CHART_DPI = 80


SUBJECT_FIELDS = ("role", "role_title", "period", "label")
"""Placeholders the subject template may use."""


DEFAULT_METRICS = ("revenue", "spend", "leads", "sales", "drr", "romi")
"""Catalogue keys for a role not in :data:`ROLE_METRICS`."""


THIN_SPACE = "\u202f"
"""Narrow no-break space: Russian thousands separator and the gap before ₽ and %."""


def format_kpi(value: object, unit: str) -> str:
    """A value in Russian style.

    Thousands are separated by a narrow no-break space, decimals by a comma:
    ``150 000 ₽`` (RUB, whole roubles), ``14,0 %`` (percent, one decimal),
    ``1,5`` (ratio, days: one decimal), ``1 234`` (counts); negative values
    use the minus sign ``−``; missing, NaN or infinite is ``—``.
    """
    if value is None or value is pd.NA:
        return "—"
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return "—"
    digits = 1 if unit in ("percent", "ratio", "days") else 0
    text = f"{abs(number):,.{digits}f}".replace(",", THIN_SPACE).replace(".", ",")
    if number < 0 and text.strip("0,\u202f"):
        text = "−" + text
    if unit == "RUB":
        return f"{text}{THIN_SPACE}₽"
    if unit == "percent":
        return f"{text}{THIN_SPACE}%"
    if unit == "days":
        return f"{text}{THIN_SPACE}дн."
    return text


def role_kpis(role: str, snapshot: Snapshot) -> tuple[list[tuple[str, str]], list[str]]:
    """The role's figures from the period snapshot, and the notes printed under them.

    Labels are the catalogue's Russian labels, values the snapshot's (nothing
    is recomputed). An undefined value is ``—`` with a numbered footnote
    giving the reason; a young cohort's figure is marked and explained.

    Returns
    -------
    kpis : list of (label, formatted value)
        In :data:`ROLE_METRICS` order.
    notes : list of str
        Formulas of the role's ratios, then footnotes.
    """
    keys = ROLE_METRICS.get(role, DEFAULT_METRICS)
    kpis: list[tuple[str, str]] = []
    formulas: list[str] = []
    footnotes: list[str] = []
    for key in keys:
        entry = metric(key)
        values = snapshot.metric(key)
        text = format_kpi(values["value"], entry.unit)
        label = entry.label("ru")
        if values["value"] is None:
            footnotes.append(f"{label}: {values['reason']['ru']}")
            text += f" [{len(footnotes)}]"
        elif (values.get("maturity") or {}).get("immature"):
            footnotes.append(
                f"{label}: когорта не созрела ({values['maturity']['age_days']} дн. после"
                f" конца периода из {entry.maturity_days}), значение ещё вырастет"
            )
            text += f" [{len(footnotes)}]"
        kpis.append((label, text))
        if "/" in entry.formula_ru and role != "analyst":
            # the left side in words of the page: "Доля выигранных сделок = ...", not "win rate"
            right = entry.formula_ru.split("=", 1)[-1].strip()
            formulas.append(f"{entry.label('ru')} = {right}")
    notes = formulas + [f"[{i}] {note}" for i, note in enumerate(footnotes, start=1)]
    return kpis, notes


def chart_png(snapshot: Snapshot, role: str | None = None, locale: str = "ru") -> bytes:
    """A small PNG chart for the e-mail body, 600 x 300 px at 80 dpi.

    Draws the snapshot's weekly series (``weekly``: leads, MQL and SQL of the
    last 8 ISO weeks) as lines, or the period's funnel bars (leads, MQL, SQL,
    the cohort's sales) when there is at most one week.

    Returns
    -------
    bytes
        PNG image.
    """
    from matplotlib.figure import Figure

    if role is not None and len(snapshot.data.get("weekly") or []) > 1:
        return _role_chart_png(snapshot, role, locale)
    width, height = CHART_SIZE_PX
    fig = Figure(figsize=(width / CHART_DPI, height / CHART_DPI), dpi=CHART_DPI)
    ax = fig.subplots()
    colors = ("#4C72B0", "#DD8452", "#55A868", "#C44E52")
    weekly = pd.DataFrame.from_records(snapshot.data.get("weekly") or []).tail(8)
    if len(weekly) > 1:
        x = [str(w).split("-")[-1] for w in weekly["week"]]
        for key, color in zip(("leads", "mql", "sql_leads"), colors, strict=False):
            ax.plot(x, weekly[key], marker="o", label=metric(key).label("ru"), color=color)
        ax.set_title("Лиды, MQL и SQL по неделям (когорты недель)")
        ax.legend(frameon=False, loc="upper left")
        ax.set_ylim(bottom=0)
    else:
        stages = ("leads", "mql", "sql_leads", "sales_cohort")
        counts = [float(snapshot.value(key) or 0) for key in stages]
        names = ["Лиды", "MQL", "SQL", "Продажи"]
        bars = ax.bar(names, counts, color=colors)
        ax.bar_label(bars, labels=[format_kpi(c, "count") for c in counts], padding=2)
        ax.set_title("Воронка лидов периода")
        ax.set_ylim(0, max(counts + [1.0]) * 1.18)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _role_chart_png(snapshot: Snapshot, role: str, locale: str) -> bytes:
    """The role's weekly series (:data:`analytics.reports.summary.ROLE_TREND`), 600 x 300 px,
    titled and labelled in the role's language, ticks formatted by Babel."""
    import matplotlib.pyplot as plt

    from analytics.reports import page
    from analytics.reports.summary import ROLE_TREND

    keys = ROLE_TREND.get(role, ROLE_TREND["analyst"])
    title = ", ".join(metric(k).label(locale) for k in keys)
    title += " по неделям" if locale == "ru" else " by week"
    fig = page.weekly_chart(snapshot, keys, locale, title=title)
    width, height = CHART_SIZE_PX
    fig.set_dpi(CHART_DPI)
    fig.set_size_inches(width / CHART_DPI, height / CHART_DPI)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


_MAIL_WORDS = {
    "ru": {
        "period": "Период",
        "attached": "Полный отчёт — во вложении",
        "privacy": "Только агрегированные показатели за период, без персональных данных. "
        "Письмо сформировано автоматически.",
        "chart": "График за период",
        "subject": "Сквозная аналитика: {role_title}, {period}",
    },
    "en": {
        "period": "Period",
        "attached": "The full report is attached",
        "privacy": "Aggregated figures of the period only, no personal data. "
        "This message was generated automatically.",
        "chart": "Chart of the period",
        "subject": "End-to-end analytics: {role_title}, {period}",
    },
}
"""Fixed words of the e-mail in each language (the subject: the default template)."""

DEFAULT_SUBJECT = _MAIL_WORDS["ru"]["subject"]


def role_locale(role_cfg) -> str:
    """``ru`` or ``en`` from a role file / manifest entry (default ``en``)."""
    value = _role_field(role_cfg, "locale", None) or "en"
    return "ru" if str(value).startswith("ru") else "en"


def _tiles_html(role: str, snapshot: Snapshot, locale: str) -> str:
    """The role's headline tiles with changes (:func:`analytics.reports.page.tiles`)."""
    from analytics.reports import page
    from analytics.reports.summary import ROLE_TILES

    return str(page.tiles(snapshot, ROLE_TILES.get(role, ROLE_TILES["analyst"]), locale))


def _tiles_text(role: str, snapshot: Snapshot, locale: str) -> list[str]:
    """Plain-text lines of the tiles: label, value, change vs the previous period."""
    from analytics.reports.formatting import format_change, format_value
    from analytics.reports.summary import ROLE_TILES

    lines = []
    for key in ROLE_TILES.get(role, ROLE_TILES["analyst"]):
        info, entry = metric(key), snapshot.metric(key)
        value = format_value(entry["value"], info.unit, locale)
        if info.unit == "percent":
            change = format_change(entry.get("delta"), locale, unit="pp")
        else:
            change = format_change(entry.get("delta_pct"), locale, unit="%")
        lines.append(f"{info.label(locale)}: {value} ({change})")
    return lines


def _changes(role: str, snapshot: Snapshot, locale: str) -> tuple[str, list[str]]:
    """What changed for the CEO and marketing e-mails (HTML, text lines): the sentences of
    :func:`analytics.reports.summary.what_changed_sentences` (campaign anomalies named)
    and the biggest movers by metric × channel × campaign; nothing for other roles."""
    from analytics.reports.formatting import format_change
    from analytics.reports.summary import (
        CHANGE_ROLES,
        _change_words,
        movers_frame,
        what_changed_sentences,
    )

    if role not in CHANGE_ROLES or role == "analyst":
        return "", []
    esc = html.escape
    words = _change_words(locale)
    sentences = what_changed_sentences(snapshot, locale)
    top = movers_frame(snapshot, locale, top=3)
    movers = []
    for row in top.itertuples():
        where = row.channel if row.campaign is None else f"{row.channel}, «{row.campaign}»"
        change = format_change(row.share_pct, locale, unit="%")
        movers.append(f"{row.metric} — {where}: {change}")
    if not sentences and not movers:
        return "", []
    lines = [words["title"], *sentences]
    parts = [f'<h3 style="margin:16px 0 4px 0;font-size:16px">{esc(words["title"])}</h3>']
    parts += [f'<p style="margin:0 0 6px 0">{esc(s)}</p>' for s in sentences]
    if movers:
        title = f"{words['movers']} ({words['share'].lower()})"
        lines += [f"{title}:", *(f"  {m}" for m in movers)]
        parts.append(f'<p style="margin:8px 0 2px 0;font-weight:600">{esc(title)}</p>')
        parts += [f'<p style="margin:0 0 2px 0">{esc(m)}</p>' for m in movers]
    return "\n".join(parts), ["", *lines]


def _role_field(role_cfg, key: str, default=None):
    """``role_cfg[key]`` of a mapping or ``role_cfg.key`` of a RoleConfig."""
    if isinstance(role_cfg, Mapping):
        return role_cfg.get(key, default)
    return getattr(role_cfg, key, default)


def _summary_html(
    title: str,
    period: str,
    tiles: str,
    notes: list[str],
    cid: str,
    attached: list[str],
    locale: str = "ru",
    changes: str = "",
) -> str:
    esc = html.escape
    words = _MAIL_WORDS[locale]
    width, height = CHART_SIZE_PX
    definitions = ""
    if notes:
        definitions = (
            f'<p style="margin:8px 0 0 0;color:#888;font-size:12px">{esc("; ".join(notes))}.</p>'
        )
    return f"""<!DOCTYPE html>
<html lang="{locale}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>
</head>
<body style="margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;color:#222">
<h2 style="margin:0 0 4px 0;font-size:20px">{esc(title)}</h2>
<p style="margin:0 0 16px 0;color:#666">{words["period"]}: {esc(period)}</p>
{tiles}
{changes}
{definitions}
<p style="margin:16px 0"><img src="cid:{esc(cid)}" width="{width}" height="{height}"
 alt="{esc(words["chart"])}" style="display:block;max-width:100%;height:auto"></p>
<p style="margin:0 0 8px 0">{words["attached"]}: {esc(", ".join(attached))}.</p>
<p style="margin:0;color:#888;font-size:12px">{esc(words["privacy"])}</p>
</body></html>
"""


def _summary_text(
    title: str,
    period: str,
    lines_in: list[str],
    notes: list[str],
    attached: list[str],
    locale: str = "ru",
) -> str:
    words = _MAIL_WORDS[locale]
    lines = [title, f"{words['period']}: {period}", ""]
    lines += lines_in
    if notes:
        lines += ["", "; ".join(notes) + "."]
    lines += [
        "",
        f"{words['attached']}: {', '.join(attached)}.",
        words["privacy"],
    ]
    return "\n".join(lines) + "\n"


def _attachments(
    pages: list[Path], role: str, label: str, limit_mb: float
) -> list[tuple[str, str, str, bytes]]:
    """``(file name, maintype, subtype, bytes)``: the role's report as ONE attachment.

    One page is attached as HTML; several pages (or one above ``limit_mb``)
    as one zip ``<role>_<label>.zip`` of the pages.

    Raises
    ------
    ReportFailedError
        If even the zip exceeds ``limit_mb``.
    """
    limit = limit_mb * 1024 * 1024
    files = [(f"{page.stem}_{label}.html", page.read_bytes()) for page in pages]
    if len(files) == 1 and len(files[0][1]) <= limit:
        return [(files[0][0], "text", "html", files[0][1])]
    # several pages (or one too big): ONE zip per role
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


def _period_words(manifest: Mapping, period_dir: Path, locale: str) -> str:
    """``2025-W23 (2–8 июн. 2025 г.)``: the label and the dates by Babel in ``locale``."""
    from analytics.reports.formatting import format_period

    period = manifest.get("period")
    label = period_label(manifest, period_dir)
    if isinstance(period, Mapping) and period.get("start") and period.get("end"):
        try:
            return f"{label} ({format_period(period['start'], period['end'], locale)})"
        except ValueError:
            pass
    return period_text(manifest, period_dir)


def build_message(
    role: str,
    role_cfg,
    period_dir: str | Path,
    snapshot: Snapshot | None = None,
    *,
    config: EmailConfig | str | Path = DEFAULT_CONFIG,
    manifest: Mapping | None = None,
    chart: bytes | None = None,
) -> EmailMessage:
    """The e-mail of one role: KPI summary and chart inline, full report attached.

    Parameters
    ----------
    role : str
        Role name (report folder, key of :data:`ROLE_METRICS`).
    role_cfg : Mapping or RoleConfig
        ``title`` and ``recipients`` (list of e-mail addresses) of the role.
    period_dir : str or pathlib.Path
        ``reports/<period label>/`` with ``manifest.json`` and the role's pages.
    snapshot : Snapshot, optional
        The period snapshot (:mod:`analytics.metrics.snapshot`); default read
        from ``period_dir/metrics.json``. The body shows its values only.
    config : EmailConfig, str or pathlib.Path
        SMTP settings or the settings file (``From``, subject template, limits).
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
        If the role has no recipients, the snapshot is missing, or the HTML
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

    if snapshot is None:
        snapshot = load_snapshot(period_dir)
    locale = role_locale(role_cfg)
    _, notes = role_kpis(role, snapshot)
    notes = [n for n in notes if not n.startswith("[")] if locale == "ru" else []
    period = _period_words(manifest, period_dir, locale)
    label = period_label(manifest, period_dir)
    attachments = _attachments(pages, role, label, config.max_attachment_mb)
    call_list = Path(period_dir) / role / CALL_LIST_FILE  # the sales page's call list
    if call_list.is_file():
        name = f"{call_list.stem}_{label}.csv"
        attachments.append((name, "text", "csv", call_list.read_bytes()))
    attached = [name for name, *_ in attachments]

    chart_cid = f"<chart.{secrets.token_hex(8)}@{config.sender_domain}>"  # short: no folding
    body = MIMEPart(policy=policy.default)
    changes_html, changes_text = _changes(role, snapshot, locale)
    text = _summary_text(
        title, period, _tiles_text(role, snapshot, locale) + changes_text, notes, attached, locale
    )
    body.set_content(text, cte="base64")
    tiles = _tiles_html(role, snapshot, locale)
    html_body = _summary_html(
        title, period, tiles, notes, chart_cid[1:-1], attached, locale, changes_html
    )
    body.add_alternative(html_body, subtype="html", cte="base64")
    html_part = body.get_payload()[1]
    size = len(html_part.as_bytes())
    if size >= HTML_BODY_LIMIT:
        raise ValueError(
            f"HTML body of role {role!r} is {size:,} bytes, not under {HTML_BODY_LIMIT:,} "
            "(Gmail clips longer messages)"
        )

    msg = EmailMessage(policy=policy.default)
    subject = config.subject
    if locale != "ru" and subject == DEFAULT_SUBJECT:
        subject = _MAIL_WORDS[locale]["subject"]
    msg["Subject"] = subject.format(role=role, role_title=title, period=period, label=label)
    msg["From"] = config.sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring=f"report-{role}", domain=config.sender_domain)
    msg["MIME-Version"] = "1.0"
    msg["Auto-Submitted"] = "auto-generated"
    msg.make_related()
    msg.attach(body)
    msg.add_related(
        chart if chart is not None else chart_png(snapshot, role, locale),
        maintype="image",
        subtype="png",
        cid=chart_cid,
        disposition="inline",
        filename="chart.png",
    )
    for name, maintype, subtype, data in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg
