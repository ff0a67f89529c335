"""Run every role's report notebooks for one period and render them to HTML.

A *role* (``params/roles/<name>.yaml``) says who reads a report and how::

    title: Weekly funnel for the CEO
    audience: CEO
    hide_code: true           # leadership view: no code, no analyst-only cells
    notebooks: [01_funnel_overview.ipynb]
    recipients: [ceo@example.com]

:func:`run_reports` resolves the period once against the warehouse's last day
with visits, then executes each (role, notebook) pair with Papermill in
parallel worker processes (Papermill changes the process working directory, so
threads would race), renders the executed notebooks to self-contained HTML and
writes::

    <out_dir>/<period label>/
        index.html                      links to every role's pages
        manifest.json                   params, data fingerprint, versions, timings
        <role>/<notebook>.ipynb         executed notebook
        <role>/<notebook>.html          rendered page

A failing notebook is recorded with its error and does not stop the others.

Workers are started with the ``spawn`` method (safe next to the threads of a
Jupyter kernel or a test runner), so a *script* that calls :func:`run_reports`
must do so under ``if __name__ == "__main__":``; ``python -m analytics``, the
``analytics`` console script, notebooks and pytest need nothing.
"""

from __future__ import annotations

import hashlib
import html
import importlib.metadata
import json
import multiprocessing
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import duckdb
import yaml
from tqdm import tqdm

from analytics.paths import DEFAULT_WAREHOUSE, NOTEBOOKS_DIR, PARAMS_DIR, REPORTS_DIR, ROOT
from analytics.period import Period, data_anchor, data_bounds, parse_period

ROLES_DIR = PARAMS_DIR / "roles"
ROLE_KEYS = ("title", "audience", "hide_code", "notebooks", "recipients")
OPTIONAL_ROLE_KEYS = ("period", "warehouse", "parameters")
"""``period`` and ``warehouse``: the role's defaults for ``python -m analytics report``
(the command line overrides them); ``parameters``: extra notebook parameters."""
RESERVED_PARAMETERS = ("warehouse", "period", "role")
"""Keys every role file must have, and the only keys it may have."""

KERNEL_NAME = "python3"
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

_SPAWN_HINT = (
    " (workers are spawned: a script calling run_reports must guard it with"
    ' `if __name__ == "__main__":`)'
)
_ROLE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


class RoleConfigError(ValueError):
    """A role file is missing or invalid; the message names the file and key."""


@dataclass(frozen=True)
class RoleConfig:
    """Who reads a report and how it is rendered.

    Parameters
    ----------
    name : str
        Role name = file stem of ``params/roles/<name>.yaml`` = report folder.
    title : str
        Report title shown in the index and the page title.
    audience : str
        Who the report is for, in words.
    hide_code : bool
        Leadership view: code, parameter and ``analyst-only`` cells hidden.
    notebooks : tuple of pathlib.Path
        Notebooks to run, resolved (file names in ``notebooks/`` or absolute
        paths).
    recipients : tuple of str
        E-mail addresses the report goes to.
    source : pathlib.Path
        The role file.
    period : str or None
        The role's default period spec (``last-week``, ``2025-W23``...); the
        command line's ``--period`` overrides it.
    warehouse : pathlib.Path or None
        The role's warehouse (relative paths are from the project root); the
        command line's ``--warehouse`` overrides it.
    parameters : dict
        Extra notebook parameters (e.g. ``target_growth``), passed to every
        notebook of the role by Papermill.
    """

    name: str
    title: str
    audience: str
    hide_code: bool
    notebooks: tuple[Path, ...]
    recipients: tuple[str, ...]
    source: Path
    period: str | None = None
    warehouse: Path | None = None
    parameters: dict = field(default_factory=dict, hash=False, compare=False)


def available_roles(roles_dir: str | Path | None = None) -> list[str]:
    """Names of the role files (``*.yaml``) in ``roles_dir``, sorted."""
    roles_dir = Path(roles_dir) if roles_dir is not None else ROLES_DIR
    return sorted(p.stem for p in roles_dir.glob("*.yaml"))


def load_role(
    name: str,
    roles_dir: str | Path | None = None,
    notebooks_dir: str | Path | None = None,
) -> RoleConfig:
    """Read and validate ``<roles_dir>/<name>.yaml``.

    Parameters
    ----------
    name : str
        Role name (letters, digits, ``_`` and ``-``).
    roles_dir : str or pathlib.Path, optional
        Folder of role files; default ``params/roles``.
    notebooks_dir : str or pathlib.Path, optional
        Folder that relative notebook names are resolved in; default
        ``notebooks/``. Absolute notebook paths are taken as they are.

    Returns
    -------
    RoleConfig

    Raises
    ------
    RoleConfigError
        (a :class:`ValueError`) naming the file and the key: missing file,
        not a mapping, unknown or missing key, wrong type, notebook file that
        does not exist, two notebooks with the same file name, bad e-mail.
    """
    roles_dir = Path(roles_dir) if roles_dir is not None else ROLES_DIR
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS_DIR
    if not isinstance(name, str) or not _ROLE_NAME.match(name):
        raise RoleConfigError(f"bad role name {name!r}: use letters, digits, '_' and '-'")
    path = roles_dir / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_roles(roles_dir)) or "none"
        raise RoleConfigError(f"role file {path} not found (roles in {roles_dir}: {known})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RoleConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RoleConfigError(f"{path}: expected a mapping with keys {', '.join(ROLE_KEYS)}")

    allowed = ROLE_KEYS + OPTIONAL_ROLE_KEYS
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise RoleConfigError(
            f"{path}: unknown key {', '.join(map(repr, unknown))} (allowed: {', '.join(allowed)})"
        )
    for key in ROLE_KEYS:
        if key not in data:
            raise RoleConfigError(f"{path}: missing key {key!r}")

    for key in ("title", "audience"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise RoleConfigError(f"{path}: key {key!r} must be a non-empty string")
    if not isinstance(data["hide_code"], bool):
        raise RoleConfigError(f"{path}: key 'hide_code' must be true or false")

    entries = data["notebooks"]
    if not isinstance(entries, list) or not entries:
        raise RoleConfigError(f"{path}: key 'notebooks' must be a non-empty list of file names")
    notebooks: list[Path] = []
    for entry in entries:
        if not isinstance(entry, str) or not entry.endswith(".ipynb"):
            raise RoleConfigError(f"{path}: key 'notebooks': {entry!r} is not an .ipynb file name")
        notebook = Path(entry) if Path(entry).is_absolute() else notebooks_dir / entry
        if not notebook.is_file():
            raise RoleConfigError(f"{path}: key 'notebooks': {notebook} does not exist")
        if any(n.name == notebook.name for n in notebooks):
            raise RoleConfigError(f"{path}: key 'notebooks': {notebook.name} is listed twice")
        notebooks.append(notebook)

    recipients = data["recipients"]
    if recipients is None:
        recipients = []
    if not isinstance(recipients, list):
        raise RoleConfigError(f"{path}: key 'recipients' must be a list of e-mail addresses")
    for address in recipients:
        if not isinstance(address, str) or not _EMAIL.match(address.strip()):
            raise RoleConfigError(f"{path}: key 'recipients': bad e-mail address {address!r}")

    period = data.get("period")
    if period is not None:
        if not isinstance(period, str):
            raise RoleConfigError(f"{path}: key 'period' must be a string such as last-week")
        try:
            parse_period(period, date(2000, 1, 3), bounds=(date(2000, 1, 1), date(2000, 1, 3)))
        except ValueError as exc:
            raise RoleConfigError(f"{path}: key 'period': {exc}") from None
    warehouse = data.get("warehouse")
    if warehouse is not None and (not isinstance(warehouse, str) or not warehouse.strip()):
        raise RoleConfigError(f"{path}: key 'warehouse' must be a path to a DuckDB file")
    parameters = data.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise RoleConfigError(f"{path}: key 'parameters' must be a mapping name: value")
    for key in parameters:
        if not isinstance(key, str) or not key.isidentifier():
            raise RoleConfigError(f"{path}: key 'parameters': {key!r} is not a parameter name")
        if key in RESERVED_PARAMETERS:
            raise RoleConfigError(
                f"{path}: key 'parameters': {key!r} is set by the runner (use the key {key!r})"
            )

    return RoleConfig(
        name=name,
        title=data["title"].strip(),
        audience=data["audience"].strip(),
        hide_code=data["hide_code"],
        notebooks=tuple(notebooks),
        recipients=tuple(a.strip() for a in recipients),
        source=path,
        period=period,
        warehouse=(ROOT / warehouse).resolve() if warehouse else None,
        parameters=dict(parameters),
    )


@dataclass(frozen=True)
class NotebookFailure:
    """A notebook that did not produce a report."""

    role: str
    notebook: str
    error: str


@dataclass
class NotebookResult:
    """Outcome of one (role, notebook) run; paths are absolute."""

    role: str
    notebook: str
    status: str
    execute_seconds: float = 0.0
    render_seconds: float = 0.0
    ipynb: Path | None = None
    html: Path | None = None
    error: str | None = None

    @property
    def seconds(self) -> float:
        return self.execute_seconds + self.render_seconds


@dataclass
class RunSummary:
    """What :func:`run_reports` did.

    Attributes
    ----------
    ok : bool
        Every notebook ran and rendered.
    failures : list of NotebookFailure
        Role, notebook and the first line of the error, per failed notebook.
    outputs : list of pathlib.Path
        Rendered HTML pages.
    period : Period
    folder : pathlib.Path
        ``<out_dir>/<period label>``.
    index_path, manifest_path : pathlib.Path
    results : list of NotebookResult
    """

    period: Period
    folder: Path
    index_path: Path
    manifest_path: Path
    results: list[NotebookResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[NotebookFailure]:
        return [
            NotebookFailure(r.role, r.notebook, r.error or "failed")
            for r in self.results
            if r.status != "ok"
        ]

    @property
    def outputs(self) -> list[Path]:
        return [r.html for r in self.results if r.status == "ok" and r.html is not None]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def text(self) -> str:
        """A few lines for the console or an e-mail."""
        done = sum(r.status == "ok" for r in self.results)
        lines = [
            f"Reports for {self.period}: {done} of {len(self.results)} notebooks ok"
            f" in {self.seconds:.1f} s" + ("" if self.ok else f", {len(self.failures)} failed")
        ]
        lines += [f"  FAILED {f.role}/{f.notebook}: {f.error}" for f in self.failures]
        lines.append(f"  index: {self.index_path}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class _Task:
    role: str
    title: str
    hide_code: bool
    notebook: Path
    ipynb: Path
    html: Path
    parameters: dict
    cwd: Path


def _error_line(exc: BaseException) -> str:
    """First line of an error: ``ExceptionName: message`` (cell number for notebooks)."""
    ename = getattr(exc, "ename", None)
    if ename is not None:
        evalue = (str(getattr(exc, "evalue", "")).strip().splitlines() or [""])[0]
        cell = getattr(exc, "exec_count", None)
        return f"{ename}: {evalue}" + (f" (cell {cell})" if cell is not None else "")
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


THREAD_LIMIT_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""Set to 1 in the worker processes (kernels inherit them) unless already set."""


def _run_task(task: _Task) -> NotebookResult:
    """Execute one notebook and render it; never raises (runs in a worker process)."""
    import papermill

    from analytics.reports.render import render_html

    # Notebooks already run in parallel, one per core: a kernel that also spawned a
    # thread per core (OpenMP/BLAS in scikit-learn) would oversubscribe the machine.
    for var in THREAD_LIMIT_VARS:
        os.environ.setdefault(var, "1")
    result = NotebookResult(task.role, task.notebook.name, "failed", ipynb=task.ipynb)
    started = time.perf_counter()
    try:
        task.ipynb.parent.mkdir(parents=True, exist_ok=True)
        task.html.unlink(missing_ok=True)  # a page from an earlier run must not outlive a failure
        papermill.execute_notebook(
            str(task.notebook),
            str(task.ipynb),
            parameters=task.parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(task.cwd),
            progress_bar=False,
        )
    except Exception as exc:
        result.execute_seconds = time.perf_counter() - started
        result.error = _error_line(exc)
        if not task.ipynb.is_file():
            result.ipynb = None
        return result
    result.execute_seconds = time.perf_counter() - started
    started = time.perf_counter()
    try:
        render_html(task.ipynb, task.html, hide_code=task.hide_code, title=task.title)
    except Exception as exc:
        result.error = f"rendering failed: {_error_line(exc)}"
    else:
        result.status = "ok"
        result.html = task.html
    result.render_seconds = time.perf_counter() - started
    return result


def _warehouse_fingerprint(con, path: Path) -> tuple[str, str]:
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


def _git_commit() -> str | None:
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


def _package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _resolve_period(spec: str, warehouse: Path) -> tuple[Period, date, str, str]:
    """Period, anchor and warehouse fingerprint, from one read-only connection."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        anchor = data_anchor(con)
        bounds = data_bounds(con) if spec.strip().lower() == "all" else None
        period = parse_period(spec, anchor, bounds=bounds)
        fingerprint, method = _warehouse_fingerprint(con, warehouse)
    finally:
        con.close()
    return period, anchor, fingerprint, method


def _relative(path: Path | None, folder: Path) -> str | None:
    if path is None:
        return None
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)


def _write_index(folder: Path, period: Period, roles: list[RoleConfig], results) -> Path:
    by_key = {(r.role, r.notebook): r for r in results}
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Reports {esc(period.label)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;"
        "padding:0 1rem;color:#222}h2{margin-bottom:.2rem}.audience{color:#666;margin-top:0}"
        ".failed{color:#b00020}</style>",
        "</head><body>",
        f"<h1>Reports for {esc(str(period))}</h1>",
    ]
    for role in roles:
        parts.append(f'<h2 id="{esc(role.name)}">{esc(role.title)}</h2>')
        parts.append(f'<p class="audience">{esc(role.audience)} · role {esc(role.name)}</p>')
        parts.append("<ul>")
        for notebook in role.notebooks:
            result = by_key[(role.name, notebook.name)]
            if result.status == "ok" and result.html is not None:
                href = quote(_relative(result.html, folder))
                parts.append(f'<li><a href="{href}">{esc(notebook.stem)}</a></li>')
            else:
                item = f'<li class="failed">{esc(notebook.stem)}: failed: {esc(result.error or "")}'
                if result.ipynb is not None and result.ipynb.is_file():
                    href = quote(_relative(result.ipynb, folder))
                    item += f' (<a href="{href}">executed notebook</a>)'
                parts.append(item + "</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    index = folder / "index.html"
    index.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return index


def run_reports(
    roles: str | Iterable[str | RoleConfig] | None = None,
    period: str = "last-week",
    warehouse: str | Path = DEFAULT_WAREHOUSE,
    out_dir: str | Path = REPORTS_DIR,
    jobs: int | None = None,
    progress: bool = True,
    roles_dir: str | Path | None = None,
) -> RunSummary:
    """Run the report notebooks of every role for one period.

    Parameters
    ----------
    roles : str, or iterable of str or RoleConfig, optional
        Role names (files in ``roles_dir``) or loaded roles; default every
        ``*.yaml`` in ``roles_dir``.
    period : str, default "last-week"
        Period spec (:func:`analytics.period.parse_period`), resolved once
        against the warehouse's last day with visits; the notebooks receive the
        spec and resolve it on the same data.
    warehouse : str or pathlib.Path
        DuckDB warehouse file; opened read-only.
    out_dir : str or pathlib.Path
        Reports root; the run writes ``<out_dir>/<period label>/``.
    jobs : int, optional
        Parallel notebooks; default the CPU count. Never more than the number
        of notebooks.
    progress : bool, default True
        Show a tqdm bar over finished notebooks.
    roles_dir : str or pathlib.Path, optional
        Folder of role files; default ``params/roles``.

    Returns
    -------
    RunSummary
        ``ok``, ``failures``, ``outputs`` and a ``text`` summary. A failing
        notebook is recorded there and in the index and manifest; it does not
        stop the others.

    Raises
    ------
    RoleConfigError
        If a role file is invalid (nothing is run).
    FileNotFoundError
        If the warehouse file does not exist.
    ValueError
        If the period spec is invalid or the warehouse has no visits.
    """
    started = time.perf_counter()
    warehouse = Path(warehouse).resolve()
    out_dir = Path(out_dir).resolve()
    if isinstance(roles, str | RoleConfig):
        roles = [roles]
    if roles is None:
        roles = available_roles(roles_dir)
    configs = [r if isinstance(r, RoleConfig) else load_role(r, roles_dir) for r in roles]
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist")

    resolved, anchor, fingerprint, method = _resolve_period(period, warehouse)
    folder = out_dir / resolved.label
    folder.mkdir(parents=True, exist_ok=True)

    tasks = [
        _Task(
            role=role.name,
            title=role.title,
            hide_code=role.hide_code,
            notebook=notebook,
            ipynb=folder / role.name / notebook.name,
            html=folder / role.name / f"{notebook.stem}.html",
            parameters={
                **role.parameters,
                "warehouse": str(warehouse),
                "period": period,
                "role": role.name,
            },
            cwd=ROOT,
        )
        for role in configs
        for notebook in role.notebooks
    ]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    results: dict[tuple[str, str], NotebookResult] = {}
    if tasks:
        context = multiprocessing.get_context("spawn")
        with (
            ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool,
            tqdm(
                total=len(tasks),
                desc=f"reports {resolved.label}",
                unit="notebook",
                disable=not progress,
            ) as bar,
        ):
            futures = {pool.submit(_run_task, task): task for task in tasks}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    result = future.result()
                except Exception as exc:  # the worker process itself died
                    result = NotebookResult(task.role, task.notebook.name, "failed")
                    result.error = _error_line(exc)
                    if isinstance(exc, BrokenProcessPool):
                        result.error += _SPAWN_HINT
                results[(task.role, task.notebook.name)] = result
                bar.set_postfix_str(f"{task.role}/{task.notebook.name} {result.status}")
                bar.update(1)
    ordered = [results[(t.role, t.notebook.name)] for t in tasks]

    index = _write_index(folder, resolved, configs, ordered)
    summary = RunSummary(
        period=resolved,
        folder=folder,
        index_path=index,
        manifest_path=folder / "manifest.json",
        results=ordered,
        seconds=time.perf_counter() - started,
    )
    manifest = {
        "created_at": datetime.now().isoformat(timespec="seconds"),
        "ok": summary.ok,
        "params": {
            "roles": [c.name for c in configs],
            "period": period,
            "warehouse": str(warehouse),
            "out_dir": str(out_dir),
            "jobs": workers,
            "kernel": KERNEL_NAME,
        },
        "period": {
            "spec": period,
            "label": resolved.label,
            "start": resolved.start.isoformat(),
            "end": resolved.end.isoformat(),
            "anchor": anchor.isoformat(),
        },
        "warehouse": {"path": str(warehouse), "fingerprint": fingerprint, "method": method},
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "packages": _package_versions(),
        "roles": {
            c.name: {
                "title": c.title,
                "audience": c.audience,
                "hide_code": c.hide_code,
                "recipients": list(c.recipients),
                "source": str(c.source),
            }
            for c in configs
        },
        "notebooks": [
            {
                "role": r.role,
                "notebook": r.notebook,
                "status": r.status,
                "seconds": round(r.seconds, 3),
                "execute_seconds": round(r.execute_seconds, 3),
                "render_seconds": round(r.render_seconds, 3),
                "ipynb": _relative(r.ipynb, folder),
                "html": _relative(r.html, folder),
                "error": r.error,
            }
            for r in ordered
        ],
        "total_seconds": round(summary.seconds, 3),
    }
    summary.manifest_path.write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return summary
