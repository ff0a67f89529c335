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
from analytics.metrics.period import Period
from analytics.paths import ROOT
from analytics.reports.roles import RoleConfig

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


def _headline_html(folder: Path) -> list[str]:
    """The booked headline of the period's snapshot (``metrics.json``), if there is one.

    Values come from the snapshot and labels from the metric catalogue; nothing
    is recomputed here. An undefined figure is a dash with its reason as a footnote.
    """
    from analytics.metrics.catalogue import HEADLINE, metric
    from analytics.metrics.funnel import format_value
    from analytics.metrics.snapshot import SnapshotError, load_snapshot

    try:
        snapshot = load_snapshot(folder)
    except SnapshotError:
        return []
    esc = html.escape
    rows, notes = [], []
    for key in HEADLINE:
        entry = snapshot.metric(key)
        value = format_value(entry["value"], entry["unit"])
        if entry["reason"]:
            notes.append(f"{metric(key).label('en')}: {entry['reason']['en']}")
        rows.append(
            f'<tr><th scope="row">{esc(metric(key).label("en"))}</th>'
            f'<td data-metric="{esc(key)}">{esc(value)}</td></tr>'
        )
    parts = [
        '<h2 id="headline">Booked in the period</h2>',
        '<p class="audience">Deals by the day they are won, spend by the day it is paid'
        " (metrics.json).</p>",
        '<table class="headline">',
        *rows,
        "</table>",
    ]
    parts += [f'<p class="audience">— {esc(note)}</p>' for note in notes]
    return parts


def write_index(folder: Path, period: Period, roles: list[RoleConfig], results) -> Path:
    by_key = {(r.role, r.notebook): r for r in results}
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Reports {esc(period.label)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;"
        "padding:0 1rem;color:#222}h2{margin-bottom:.2rem}.audience{color:#666;margin-top:0}"
        ".failed{color:#b00020}.headline th{text-align:left;font-weight:normal;"
        "padding-right:1rem}.headline td{text-align:right;font-weight:bold}</style>",
        "</head><body>",
        f"<h1>Reports for {esc(str(period))}</h1>",
        *_headline_html(folder),
    ]
    for role in roles:
        parts.append(f'<h2 id="{esc(role.name)}">{esc(role.title)}</h2>')
        parts.append(f'<p class="audience">{esc(role.audience)} · role {esc(role.name)}</p>')
        parts.append("<ul>")
        for notebook in role.notebooks:
            result = by_key[(role.name, notebook.name)]
            if result.status == "ok" and result.html is not None:
                href = quote(relative_path(result.html, folder))
                parts.append(f'<li><a href="{href}">{esc(notebook.stem)}</a></li>')
            else:
                item = f'<li class="failed">{esc(notebook.stem)}: failed: {esc(result.error or "")}'
                if result.ipynb is not None and result.ipynb.is_file():
                    href = quote(relative_path(result.ipynb, folder))
                    item += f' (<a href="{href}">executed notebook</a>)'
                parts.append(item + "</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    index = folder / "index.html"
    index.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return index


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
