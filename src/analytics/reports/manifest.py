"""The period folder's record: ``manifest.json`` and ``index.html``, and reading them back.

A run writes ``reports/<period>/manifest.json`` (parameters, data fingerprint,
git commit, package versions, one entry per notebook) and ``index.html``; the
e-mail reads the manifest to know which roles succeeded.
"""

from __future__ import annotations

import hashlib
import html
import importlib.metadata
import json
import subprocess
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from urllib.parse import quote

from analytics import paths
from analytics.paths import ROOT

PACKAGES = (
    "analytics",
    "duckdb",
    "pandas",
    "numpy",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "nbformat",
    "nbclient",
    "ipykernel",
    "jinja2",
    "pyyaml",
    "babel",
    "filelock",
)
"""Packages whose versions go into the run manifest."""


class ReportFailedError(ValueError):
    """A role's report is failed or missing in the period folder: do not e-mail it."""


def warehouse_fingerprint(con, path: Path) -> tuple[str, str]:
    """``(fingerprint, method)``: :func:`analytics.warehouse.fingerprint` if
    available, else the SHA-256 of the file."""
    try:
        from analytics.warehouse import fingerprint
    except ImportError:
        pass
    else:
        try:
            return str(fingerprint(con)), "analytics.warehouse.fingerprint"
        except Exception:
            pass
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest(), "sha256 of the warehouse file"


def git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def relative_path(path: Path | None, folder: Path) -> str | None:
    if path is None:
        return None
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)


INDEX_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:48rem;margin:1.5rem auto;padding:0 1rem;"
    "color:#222;line-height:1.45}h1{font-size:1.5rem}h2{margin-bottom:.2rem;font-size:1.2rem}"
    ".audience{color:#666;margin-top:0}.failed{color:#b00020}li{margin:.25rem 0}"
    "img{max-width:100%;height:auto}.headline th{text-align:left;font-weight:normal;"
    "padding-right:1rem}.headline td{text-align:right;font-weight:bold;white-space:nowrap}"
)

_INDEX_WORDS = {
    "ru": {
        "title": "Отчёты за {period}",
        "failed": "не построен",
        "notebook": "выполненный блокнот",
    },
    "en": {
        "title": "Reports for {period}",
        "failed": "failed",
        "notebook": "executed notebook",
    },
}


_HEADLINE_WORDS = {
    "ru": (
        "Главное за период",
        "Сделки — по дню выигрыша, расходы — по дню оплаты (metrics.json).",
    ),
    "en": (
        "Booked in the period",
        "Deals by the day they are won, spend by the day it is paid (metrics.json).",
    ),
}


def _headline_html(folder: Path, locale: str) -> list[str]:
    """The booked headline of the period's snapshot (``metrics.json``), if there is one.

    Values come from the snapshot, labels from the metric catalogue, figures are
    formatted by Babel in the index's locale; an undefined figure is a dash
    with its reason as a footnote.
    """
    from analytics.metrics.catalogue import HEADLINE, metric
    from analytics.metrics.snapshot import SnapshotError, load_snapshot
    from analytics.reports.formatting import format_value

    try:
        snapshot = load_snapshot(folder)
    except SnapshotError:
        return []
    esc = html.escape
    rows, notes = [], []
    for key in HEADLINE:
        entry = snapshot.metric(key)
        value = format_value(entry["value"], entry["unit"], locale)
        if entry.get("reason"):
            notes.append(f"{metric(key).label(locale)}: {entry['reason'][locale]}")
        rows.append(
            f'<tr><th scope="row">{esc(metric(key).label(locale))}</th>'
            f'<td data-metric="{esc(key)}">{esc(value)}</td></tr>'
        )
    title, note = _HEADLINE_WORDS[locale]
    parts = [
        f'<h2 id="headline">{esc(title)}</h2>',
        f'<p class="audience">{esc(note)}</p>',
        '<table class="headline">',
        *rows,
        "</table>",
    ]
    parts += [f'<p class="audience">— {esc(text)}</p>' for text in notes]
    return parts


def _no_data_html(manifest: Mapping, locale: str) -> list[str]:
    """The no-data banner of the index when the run found no data for the period."""
    if not manifest.get("no_data"):
        return []
    from analytics.reports.runner import NO_DATA_TEXT

    label = (manifest.get("period") or {}).get("label", "")
    text = NO_DATA_TEXT[locale].format(period=label)
    return [
        '<div role="alert" class="no-data" style="padding:12px;background:#fdecea;'
        f'border:2px solid #c62828;border-radius:6px;color:#7f1d1d;font-weight:600">'
        f"{html.escape(text)}</div>"
    ]


def index_locale(manifest: Mapping) -> str:
    """Language of the period's index: Russian when any role of it is in Russian."""
    roles = manifest.get("roles") or {}
    return "ru" if any((r or {}).get("locale") == "ru" for r in roles.values()) else "en"


def write_index(folder: Path, manifest: Mapping) -> Path:
    """Write ``<folder>/index.html`` from the period's (merged) manifest.

    Lists every role of the manifest with its title and audience, and each
    page by its title (the notebook's first heading; the file stem if it has
    none); a failed notebook is listed with its error. Every text is
    HTML-escaped. The page has a viewport tag and fits a 390 px screen.
    """
    from analytics.reports.formatting import format_period

    esc = html.escape
    locale = index_locale(manifest)
    words = _INDEX_WORDS[locale]
    period = manifest.get("period") or {}
    try:
        when = format_period(period["start"], period["end"], locale)
    except (KeyError, TypeError, ValueError):
        when = str(period.get("label") or folder.name)
    heading = words["title"].format(period=when)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{locale}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(heading)}</title>",
        f"<style>{INDEX_CSS}</style>",
        "</head><body>",
        f"<h1>{esc(heading)}</h1>",
        *_no_data_html(manifest, locale),
        *_headline_html(folder, locale),
    ]
    for role in manifest_roles(manifest):
        info = (manifest.get("roles") or {}).get(role) or {}
        parts.append(f'<h2 id="{esc(str(role))}">{esc(str(info.get("title") or role))}</h2>')
        if info.get("audience"):
            parts.append(f'<p class="audience">{esc(str(info["audience"]))}</p>')
        parts.append("<ul>")
        for entry in manifest.get("notebooks") or []:
            if entry.get("role") != role:
                continue
            stem = Path(str(entry.get("notebook"))).stem
            title = str(entry.get("title") or stem)
            if entry.get("status") == "ok" and entry.get("html"):
                parts.append(f'<li><a href="{quote(entry["html"])}">{esc(title)}</a></li>')
            else:
                item = f'<li class="failed">{esc(title)}: {words["failed"]}: '
                item += esc(str(entry.get("error") or ""))
                if entry.get("ipynb") and (folder / entry["ipynb"]).is_file():
                    item += f' (<a href="{quote(entry["ipynb"])}">{words["notebook"]}</a>)'
                parts.append(item + "</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    index = folder / "index.html"
    index.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return index


def merge_manifest(previous: Mapping | None, current: Mapping) -> dict:
    """The period folder's manifest after one more run.

    Runs for different roles into one period folder add up: the roles and
    notebook entries of ``current`` replace those of the same roles in
    ``previous``, the other roles' entries are kept (in their order, the new
    roles after them). Top-level fields are the latest run's; ``runs`` keeps
    one line per run (time, roles, warehouse fingerprint, commit); ``ok`` is
    true only if every notebook listed is ok.
    """
    current = dict(current)
    run = {
        "created_at": current.get("created_at"),
        "roles": list((current.get("roles") or {}).keys()),
        "warehouse_fingerprint": (current.get("warehouse") or {}).get("fingerprint"),
        "git_commit": current.get("git_commit"),
    }
    same_period = previous is not None and ((previous.get("period") or {}).get("label")) == (
        (current.get("period") or {}).get("label")
    )
    if not same_period:
        merged = current
        merged["runs"] = [run]
    else:
        new_roles = current.get("roles") or {}
        roles = {k: v for k, v in (previous.get("roles") or {}).items() if k not in new_roles}
        roles.update(new_roles)
        kept = [e for e in previous.get("notebooks") or [] if e.get("role") not in new_roles]
        merged = current
        merged["roles"] = roles
        merged["notebooks"] = kept + list(current.get("notebooks") or [])
        merged["runs"] = list(previous.get("runs") or []) + [run]
    merged["ok"] = all(e.get("status") == "ok" for e in merged.get("notebooks") or [])
    return merged


def write_manifest(folder: Path, manifest: Mapping) -> dict:
    """Merge ``manifest`` into ``<folder>/manifest.json`` and rewrite ``index.html``.

    Under a file lock (``<folder>/.manifest.lock``, the ``filelock`` library),
    so that runs of different roles for one period at the same time all end up
    listed (see :func:`merge_manifest`).

    Returns
    -------
    dict
        The merged manifest as written.
    """
    from filelock import FileLock

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    with FileLock(str(folder / ".manifest.lock"), timeout=600):
        previous = None
        if path.is_file():
            try:
                previous = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                previous = None
            if not isinstance(previous, dict):
                previous = None
        merged = merge_manifest(previous, manifest)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)
        write_index(folder, merged)
    return merged


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
