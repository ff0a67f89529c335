"""Run every role's report notebooks for one period and render them to HTML.

A *role* (``params/roles/<name>.yaml``) says who reads a report and how::

    title: Weekly funnel for the CEO
    audience: CEO
    hide_code: true           # leadership view: no code, no analyst-only cells
    notebooks: [01_funnel_overview.ipynb]
    recipients: [ceo@example.com]

:func:`run_reports` resolves the period once against the warehouse's last day
with visits, computes the period snapshot once
(:func:`analytics.metrics.snapshot.build_snapshot`: every catalogue metric,
``metrics.json`` and the marts) and passes its path to the notebooks as the
``snapshot`` parameter. When a notebook of the run declares ``lead_scoring``
(05 and 11), the same thread then has the run's lead scoring computed once
(model loaded or trained, monitoring, call lists, written to
``marts/lead_scoring/``), in a process of its own that ends with it for a big
warehouse (:func:`share_lead_scoring_apart`), in the thread itself for a small one
(:func:`scores_apart`), and passes its path to those notebooks. It
then executes each distinct (notebook, parameters) pair **once** with Papermill
in parallel worker processes (Papermill changes the process working directory,
so threads would race) and renders that one
execution for every role that asked for it (code hidden or not, its tags, its
language). Roles share an execution when their parameters for the notebook are
equal; a notebook that declares ``views`` (:mod:`analytics.reports.views`) is
executed once for all its pages whatever their role and language: it receives
``views = [[role, locale], ...]``, displays each page-dependent section once per
page or language, and each role's notebook keeps only its own view's outputs
(:func:`~analytics.reports.views.select_view`). The role's name reaches only the
notebooks that declare ``role``.

The worker processes start first, importing what they run notebooks with and
starting their kernels (:func:`warm_up_worker`) while the runner resolves the
period. Before the snapshot, the runner's thread writes the run's mart of the leads'
visits (:mod:`analytics.metrics.lead_visit_mart`, ``marts/lead_visits.parquet``): the
snapshot and the notebooks that declare ``lead_visits`` read a lead's visit from
it instead of scanning every visit id.
The snapshot is computed in a thread of the runner while the notebooks that do
not read it (no ``snapshot`` parameter: 00, 06, 07) already run on the other
cores; the rest start when it is written. Workers take the executions longest
first, by each notebook's time in the latest run's manifest
(:func:`by_expected_time`), so that a long notebook is not left for the end. It
writes::

    <out_dir>/<period label>/
        index.html                      links to every role's pages
        manifest.json                   params, data fingerprint, versions, timings
        metrics.json                    the period snapshot (analytics.metrics.snapshot)
        marts/*.parquet                 the snapshot as tables
        marts/lead_scoring/             the run's lead scoring (when 05 or 11 runs)
        marts/lead_visits.parquet       the visits the leads came from (this run's)
        <role>/<notebook>.ipynb         executed notebook (the role's view of it)
        <role>/<notebook>.html          rendered page

A failing notebook is recorded with its error and does not stop the others.

Workers are started with the ``spawn`` method (safe next to the threads of a
Jupyter kernel or a test runner), so a *script* that calls :func:`run_reports`
must do so under ``if __name__ == "__main__":``; ``python -m analytics``, the
``analytics`` console script, notebooks and pytest need nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import multiprocessing
import os
import platform
import re
import sys
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from analytics.paths import DEFAULT_WAREHOUSE, REPORTS_DIR, ROOT
from analytics.reports.manifest import (
    git_commit,
    package_versions,
    relative_path,
    warehouse_fingerprint,
    write_manifest,
)
from analytics.reports.roles import RoleConfig, RoleConfigError, available_roles, load_role

if TYPE_CHECKING:
    from analytics.metrics.period import Period

# The spawned workers import this module to run Papermill and nbconvert; the metrics
# layer (pandas, Ibis, DuckDB: ~70 MB of resident memory and ~2 s of CPU per worker)
# is imported where it is used, in the parent process only.

KERNEL_NAME = "python3"


_SPAWN_HINT = (
    " (workers are spawned: a script calling run_reports must guard it with"
    ' `if __name__ == "__main__":`)'
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
    title: str | None = None
    execution_roles: tuple[str, ...] = ()
    """Roles whose pages were rendered from the same execution (this one included)."""

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
    no_data: bool = False

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
        if self.no_data:
            lines.append(f"  NO DATA for {self.period}: every page carries a banner, no e-mail")
        lines.append(f"  index: {self.index_path}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class _Page:
    """One role's rendering of an execution."""

    role: str
    title: str
    hide_code: bool
    ipynb: Path
    html: Path
    locale: str = "en"


@dataclass(frozen=True)
class _Task:
    """One execution of a notebook with its parameters, rendered for one or more roles."""

    notebook: Path
    parameters: dict
    cwd: Path
    pages: tuple[_Page, ...]
    environment: tuple[tuple[str, str], ...] = ()

    @property
    def ipynb(self) -> Path:
        """Where Papermill writes the execution: the first role's notebook (rewritten as
        that role's view when the notebook displays views)."""
        return self.pages[0].ipynb


@functools.cache
def declared_parameters(notebook: Path) -> frozenset[str]:
    """Names assigned in the notebook's ``parameters`` cell (Papermill's own parser)."""
    import papermill

    return frozenset(papermill.inspect_notebook(str(notebook)))


def notebook_parameters(notebook: Path, offered: dict) -> dict:
    """The subset of ``offered`` that ``notebook`` declares in its ``parameters`` cell.

    Papermill injects whatever it is given and prints "Passed unknown parameter" for
    names the notebook does not declare; a role's extra parameters (e.g.
    ``target_growth``) are meant for the notebooks that declare them only.
    """
    declared = declared_parameters(Path(notebook))
    return {name: value for name, value in offered.items() if name in declared}


def _check_role_parameters(role: RoleConfig) -> None:
    """A role parameter that none of its notebooks declares is a typo: refuse it by name."""
    declared = set().union(*(declared_parameters(n) for n in role.notebooks))
    unknown = sorted(set(role.parameters) - declared)
    if unknown:
        raise RoleConfigError(
            f"{role.source}: key 'parameters': {', '.join(map(repr, unknown))} is declared by "
            f"none of the role's notebooks (their parameters: {', '.join(sorted(declared))})"
        )


def _error_line(exc: BaseException) -> str:
    """First line of an error: ``ExceptionName: message`` (cell number for notebooks)."""
    ename = getattr(exc, "ename", None)
    if ename is not None:
        evalue = (str(getattr(exc, "evalue", "")).strip().splitlines() or [""])[0]
        cell = getattr(exc, "exec_count", None)
        return f"{ename}: {evalue}" + (f" (cell {cell})" if cell is not None else "")
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


FRESH_KERNELS_VAR = "ANALYTICS_FRESH_KERNELS"
"""Set (to anything) to run every notebook in a kernel of its own, as Papermill does by
default, instead of the worker's warm kernel reset between notebooks
(:mod:`analytics.reports.kernels`)."""

THREAD_LIMIT_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""Set to 1 in the worker processes (kernels inherit them) unless already set."""

KERNELS_DUCKDB_MEMORY_MB = 1200
"""DuckDB ``memory_limit`` shared by the kernels that run at once, MB (10^6 bytes).

Each kernel's :func:`analytics.warehouse.connect` gets this divided by the
number of parallel workers (600MB each on 2 cores) and one DuckDB thread per
kernel when several run at once (the kernels already use every core), unless
``ANALYTICS_DUCKDB_MEMORY_LIMIT`` / ``ANALYTICS_DUCKDB_THREADS`` are set. With
the default cap of one connection (1500MB) two kernels could hold 3 GB of
DuckDB buffers between them; the 10M weekly build must stay under 2 GB.
"""


def kernel_duckdb_environment(workers: int) -> tuple[tuple[str, str], ...]:
    """DuckDB settings for the report kernels when ``workers`` run at once.

    Returns ``(variable, value)`` pairs for :data:`~analytics.warehouse.connection.MEMORY_LIMIT_VAR`
    (``KERNELS_DUCKDB_MEMORY_MB / workers``, at least 256MB) and, with more than
    one worker, :data:`~analytics.warehouse.connection.THREADS_VAR` = 1. The
    worker only sets a variable the user has not set (``os.environ.setdefault``).
    """
    from analytics.warehouse.connection import MEMORY_LIMIT_VAR, THREADS_VAR

    workers = max(1, workers)
    pairs = [(MEMORY_LIMIT_VAR, f"{max(256, KERNELS_DUCKDB_MEMORY_MB // workers)}MB")]
    if workers > 1:
        pairs.append((THREADS_VAR, "1"))
    return tuple(pairs)


IRI_GRAMMARS_MODULE = "rfc3987_syntax"
"""The optional IRI checker of jsonschema that :func:`skip_iri_grammars` keeps out."""


def skip_iri_grammars() -> None:
    """Keep jsonschema from compiling the IRI grammars of ``rfc3987-syntax`` in this process.

    Papermill and nbconvert import nbformat, which imports jsonschema; jsonschema
    (4.25+) imports ``rfc3987_syntax`` for its optional ``iri`` format checks when the
    package is installed (JupyterLab brings it: jupyter-events requires
    ``jsonschema[format-nongpl]``). Version 1.1 compiles ~40 Lark Earley parsers at
    import: 2.1 CPU-s per process that imports nbformat, measured
    (python-jsonschema/jsonschema#1392 and #1521). No notebook schema uses the
    ``format`` keyword, so nothing here needs those checks: marking the module
    absent makes jsonschema skip them, as without the package. Called in the
    runner's own processes only (its notebook workers and scoring process, the
    ``report`` command), before nbformat is imported; a no-op once jsonschema is
    loaded.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault(IRI_GRAMMARS_MODULE, None)


def import_papermill():
    """Papermill, imported in a notebook worker without Arrow.

    ``papermill.iorw`` imports ``pyarrow.fs`` for its HDFS paths, and with it pyarrow
    and NumPy: ~0.3 CPU-s and ~40 MB of resident memory per notebook worker, which
    otherwise loads neither (its kernel, another process, has its own). The runner
    reads and writes local files only, so where pyarrow is not loaded yet it is marked
    absent while Papermill is imported (Papermill then leaves HDFS out, as without
    pyarrow installed) and unmarked right after, so a later ``import pyarrow`` in the
    process works as usual.
    """
    if "papermill" not in sys.modules and "pyarrow" not in sys.modules:
        sys.modules["pyarrow"] = None
        try:
            import papermill
        finally:
            del sys.modules["pyarrow"]
    import papermill

    return papermill


def start_notebook_worker() -> None:
    """Start of a notebook worker: :func:`skip_iri_grammars` and the report processes'
    collector thresholds (:func:`~analytics.reports.kernels.quieter_collector`)."""
    from analytics.reports.kernels import quieter_collector

    skip_iri_grammars()
    quieter_collector()


def notebook_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` spawned processes, each started with :func:`start_notebook_worker`: the
    runner's notebook executions (:func:`_run_task`)."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=start_notebook_worker
    )


def scoring_process() -> ProcessPoolExecutor:
    """One spawned process for the run's lead scoring (:func:`share_lead_scoring_apart`),
    started by :func:`start_scoring_process`."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=start_scoring_process)


def start_scoring_process() -> None:
    """Start of the lead-scoring process: :func:`skip_iri_grammars`, skops imported before
    anything else, one DuckDB thread.

    The process runs beside the notebook workers, which already use every core, as
    their kernels do (:func:`kernel_duckdb_environment`): one DuckDB thread unless
    ``ANALYTICS_DUCKDB_THREADS`` is set. At 10M visits the feature query took 1.9
    instead of 2.1-2.4 CPU-s, in no more time on a busy machine; its sums are of
    integers, so the features are the same.

    skops lists its trusted types when imported: for each of SciPy's ~230 ufuncs it
    looks for the module holding it through every module loaded so far, in load
    order, until one has it. After pandas, DuckDB and Ibis (~2,000 modules, which
    the scoring loads before its model) that search costs ~0.4-1 CPU-s; first
    thing in the process, with ~300 modules loaded, a tenth of that. What skops
    trusts is the same either way (tested against a process that imported it last).
    """
    skip_iri_grammars()
    import skops.io  # noqa: F401

    from analytics.reports.kernels import quieter_collector
    from analytics.warehouse.connection import THREADS_VAR  # after skops: see above

    quieter_collector()

    os.environ.setdefault(THREADS_VAR, "1")


def _worker_environment(environment: Iterable[tuple[str, str]]) -> None:
    """Thread limits and the run's DuckDB settings in a worker's environment (which its
    kernel inherits when it starts): each variable only when the user has not set it."""
    # Notebooks already run in parallel, one per core: a kernel that also spawned a
    # thread per core (OpenMP/BLAS in scikit-learn) would oversubscribe the machine.
    for var in THREAD_LIMIT_VARS:
        os.environ.setdefault(var, "1")
    for var, value in environment:
        os.environ.setdefault(var, value)


def warm_up_worker(environment: tuple[tuple[str, str], ...]) -> None:
    """A worker's first job: load what it runs notebooks with and start its kernel.

    :func:`run_reports` hands one, as soon as the pool exists and before it resolves
    the period, to each worker that runs notebooks while its steps (snapshot, lead
    scoring) are pending: all but one, at least one. The runner's first seconds go to
    importing the metrics layer (pandas, Ibis, DuckDB: ~4.5 CPU-s, one core) for the
    period and the snapshot, and the other core had nothing to do until then. Now those
    workers import Papermill and nbconvert, start their kernels
    (:func:`~analytics.reports.kernels.warm_kernel_manager` with the run's environment,
    as the first notebook would) and import :data:`~analytics.reports.kernels.KERNEL_PRELOAD`
    in them meanwhile. The same work as before, done earlier; the pages are the same (the
    kernel is reset before each notebook as before). The other workers start when the
    steps are done, as before: warmed up at once, their idle kernels would sit beside the
    lead-scoring process (~250 MB each at 10M visits, over the 2 GB of the weekly
    build). Never raises: what fails here fails again, and is reported, at the worker's
    first notebook. Nothing is started with ``ANALYTICS_FRESH_KERNELS`` (each notebook
    then starts its own kernel).
    """
    try:
        _worker_environment(environment)
        import_papermill()
        import nbconvert.exporters  # noqa: F401  (render_html's; imported where it renders)

        from analytics.reports import render, views  # noqa: F401
        from analytics.reports.kernels import KERNEL_PRELOAD, register_engine, warm_kernel_manager

        register_engine()
        if not os.environ.get(FRESH_KERNELS_VAR):
            warm_kernel_manager(KERNEL_NAME, ROOT, preload=KERNEL_PRELOAD)
    except Exception:  # the first notebook starts what is missing and reports the error
        pass


def _run_task(task: _Task) -> list[NotebookResult]:
    """Execute one notebook once and render it per role; never raises (worker process).

    Returns one result per page (role), in ``task.pages`` order; they share the
    execution's time and error.
    """
    import shutil

    import nbformat

    from analytics.reports.kernels import register_engine
    from analytics.reports.render import page_title, render_html
    from analytics.reports.views import has_views, select_view

    _worker_environment(task.environment)
    papermill = import_papermill()
    results = [
        NotebookResult(page.role, task.notebook.name, "failed", ipynb=page.ipynb)
        for page in task.pages
    ]
    started = time.perf_counter()
    error = None
    try:
        task.ipynb.parent.mkdir(parents=True, exist_ok=True)
        for page in task.pages:  # a page from an earlier run must not outlive a failure
            page.html.unlink(missing_ok=True)
        papermill.execute_notebook(
            str(task.notebook),
            str(task.ipynb),
            parameters=task.parameters,
            kernel_name=KERNEL_NAME,
            engine_name=None if os.environ.get(FRESH_KERNELS_VAR) else register_engine(),
            cwd=str(task.cwd),
            progress_bar=False,
        )
    except Exception as exc:
        error = _error_line(exc)
    execute_seconds = time.perf_counter() - started
    try:
        executed = nbformat.read(task.ipynb, as_version=4) if task.ipynb.is_file() else None
    except Exception as exc:  # an unreadable output notebook fails its pages, not the worker
        executed, error = None, error or f"unreadable output: {_error_line(exc)}"
    viewed = executed is not None and has_views(executed)
    for page, result in zip(task.pages, results, strict=True):
        result.execute_seconds = execute_seconds
        result.execution_roles = tuple(p.role for p in task.pages)
        if viewed:  # each page's notebook holds its own view's outputs only
            page.ipynb.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(select_view(executed, page.role, page.locale), page.ipynb)
        elif page.ipynb != task.ipynb and executed is not None:
            page.ipynb.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(task.ipynb, page.ipynb)
        if error is not None:
            result.error = error
            if not page.ipynb.is_file():
                result.ipynb = None
            continue
        started = time.perf_counter()
        try:
            result.title = page_title(page.ipynb, hide_code=page.hide_code)
            render_html(
                page.ipynb,
                page.html,
                hide_code=page.hide_code,
                title=result.title or page.title,
                locale=page.locale,
            )
        except Exception as exc:
            result.error = f"rendering failed: {_error_line(exc)}"
        else:
            result.status = "ok"
            result.html = page.html
        result.render_seconds = time.perf_counter() - started
    return results


@functools.cache
def _declared_defaults(notebook: Path) -> dict[str, object]:
    """Literal defaults of the notebook's parameters cell (names whose default is not a
    Python literal are left out)."""
    import ast

    import papermill

    defaults: dict[str, object] = {}
    for name, spec in papermill.inspect_notebook(str(notebook)).items():
        try:
            defaults[name] = ast.literal_eval(str(spec.get("default")))
        except (ValueError, SyntaxError):
            continue
    return defaults


def _is_default(notebook: Path, name: str, value: object) -> bool:
    defaults = _declared_defaults(Path(notebook))
    return name in defaults and type(defaults[name]) is type(value) and defaults[name] == value


def _executions(configs: list[RoleConfig], folder: Path, shared: dict) -> list[_Task]:
    """Group the (role, notebook) pairs into one task per distinct (notebook, parameters).

    A notebook gets only the parameters it declares (:func:`notebook_parameters`), so
    roles share the execution of a notebook whose declared parameters they give
    the same values (a value equal to the notebook's own literal default counts
    as not given). A notebook that declares ``views``
    (:mod:`analytics.reports.views`) renders every page from one execution:
    ``role`` and ``locale`` do not split it, it gets
    ``views = [[role, locale], ...]`` of its pages and the first page's ``role``
    and ``locale``. Without ``views``, ``role`` and ``locale`` split executions
    like any other parameter.
    """
    groups: dict[tuple[Path, str], tuple[dict, list[_Page]]] = {}
    for role in configs:
        for notebook in role.notebooks:
            declared = declared_parameters(notebook)
            offered = {**role.parameters, **shared, "role": role.name}
            if "locale" in declared:
                offered["locale"] = role.locale
            parameters = notebook_parameters(notebook, offered)
            # a value equal to the notebook's own default does not make another execution;
            # the page (role, locale) does not either when the notebook renders views
            per_page = {"role", "locale", "views"} if "views" in declared else set()
            distinct = {
                name: value
                for name, value in parameters.items()
                if name not in per_page and not _is_default(notebook, name, value)
            }
            key = (notebook, json.dumps(distinct, sort_keys=True, default=str))
            page = _Page(
                role=role.name,
                title=role.title,
                hide_code=role.hide_code,
                locale=role.locale,
                ipynb=folder / role.name / notebook.name,
                html=folder / role.name / f"{notebook.stem}.html",
            )
            groups.setdefault(key, (parameters, []))[1].append(page)
    tasks = []
    for (notebook, _), (parameters, pages) in groups.items():
        if "views" in declared_parameters(notebook):
            parameters = {**parameters, "views": [[p.role, p.locale] for p in pages]}
        tasks.append(_Task(notebook=notebook, parameters=parameters, cwd=ROOT, pages=tuple(pages)))
    return tasks


@dataclass(frozen=True)
class _Step:
    """Work of the run the runner does itself, in a thread, while notebooks execute.

    ``needs(task)``: the task must wait for it; ``update(task, result)``: the task as
    it is submitted once the step is done (its parameters may take the result).
    """

    future: object
    needs: object
    update: object = None


def _needs_snapshot(task: _Task) -> bool:
    """The notebook reads the run's snapshot (declares ``snapshot``): it starts after it."""
    return "snapshot" in task.parameters


def previous_execute_seconds(out_dir: Path) -> dict[str, float]:
    """Execution time of each notebook (by file name) in the latest run under ``out_dir``.

    Read from the most recently written ``<out_dir>/*/manifest.json``; the longest
    execution of a notebook counts (roles whose parameters split it ran it several
    times). Empty when there is no earlier run or its manifest cannot be read.
    """
    manifests = sorted(
        Path(out_dir).glob("*/manifest.json"),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for path in manifests[:1]:
        try:
            entries = json.loads(path.read_text(encoding="utf-8")).get("notebooks", [])
            seconds: dict[str, float] = {}
            for entry in entries:
                name, value = entry["notebook"], float(entry["execute_seconds"])
                seconds[name] = max(value, seconds.get(name, 0.0))
            return seconds
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}
    return {}


def by_expected_time(tasks: list[_Task], seconds: dict[str, float]) -> list[_Task]:
    """The tasks, longest expected execution first (``seconds`` by notebook name).

    Handing the longest executions out first leaves the short ones for the end,
    when one worker would otherwise wait for the other's long notebook (the
    longest-processing-time rule, within 4/3 of the best order on any number of
    workers). A notebook missing from ``seconds`` counts as the longest known one
    (it may be new and slow); with no earlier run at all the role-file order is
    kept (Python's sort is stable).
    """
    longest = max(seconds.values(), default=0.0)
    return sorted(tasks, key=lambda task: -seconds.get(task.notebook.name, longest))


def _dispatch(tasks, workers, steps, submit, run_task, record) -> list:
    """Run ``tasks`` on ``workers`` processes while the runner's ``steps`` are done.

    A task waiting for no unfinished step (:class:`_Step` ``needs``) starts at once;
    until every step is done one worker fewer than ``workers`` is used (the steps'
    thread has that core). A worker that gets free takes the first ready task in
    ``tasks`` order (:func:`by_expected_time`). ``record(task, future)`` is called for
    each finished task. A step's error is raised once the executions already
    started have finished (none is started after it, and the steps not yet started
    are cancelled).

    Returns
    -------
    list
        Each step's result, in ``steps`` order.
    """
    waiting = list(enumerate(tasks))  # (rank in tasks, task)
    ready: list = []
    running: dict = {}
    results: dict[int, object] = {}
    error: BaseException | None = None
    while True:
        pending_steps = [i for i in range(len(steps)) if i not in results]
        still = []
        for rank, task in waiting:  # a task whose steps are all done becomes ready
            if error is not None or any(steps[i].needs(task) for i in pending_steps):
                still.append((rank, task))
                continue
            for i, step in enumerate(steps):
                if step.update is not None and step.needs(task):
                    task = step.update(task, results[i])
            ready.append((rank, task))
        waiting = still
        ready.sort(key=lambda item: item[0])
        limit = max(0, workers - 1) if pending_steps else workers
        while ready and len(running) < limit and error is None:
            _, task = ready.pop(0)
            running[submit(run_task, task)] = task
        pending = set(running) | {steps[i].future for i in pending_steps}
        if not pending:
            break
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for i in pending_steps:
            if steps[i].future in finished:
                try:
                    results[i] = steps[i].future.result()
                except BaseException as exc:  # raised below, after the running executions
                    error = error or exc
                    results[i] = None
        if error is not None:  # the steps queued behind a failed one are not needed
            for i in pending_steps:
                if i not in results and steps[i].future.cancel():
                    results[i] = None
        for future in finished & set(running):
            record(running.pop(future), future)
    if error is not None:
        raise error
    return [results[i] for i in range(len(steps))]


LEAD_VISITS_PARAMETER = "lead_visits"
"""The notebook parameter that receives the run's mart of the leads' visits
(:mod:`analytics.metrics.lead_visit_mart`): the path of its ``lead_visits.parquet``."""


def _needs_lead_visits(task: _Task) -> bool:
    """The notebook takes the run's mart of the leads' visits (declares ``lead_visits``)."""
    return LEAD_VISITS_PARAMETER in declared_parameters(task.notebook)


def with_lead_visits(task: _Task, path: Path | None) -> _Task:
    """``task`` with ``lead_visits`` set to the mart's path, when the notebook takes it
    and the mart was written."""
    if path is None or not _needs_lead_visits(task):
        return task
    return dataclasses.replace(
        task, parameters={**task.parameters, LEAD_VISITS_PARAMETER: str(path)}
    )


LEAD_SCORING_PARAMETER = "lead_scoring"
"""The notebook parameter that receives the run's lead scoring
(:mod:`analytics.scoring.period_scores`): the path of its ``lead_scoring.json``."""


def _scoring_key(task: _Task) -> tuple[str, bool]:
    """(model folder, retrain) the notebook would use: its parameters, else its defaults."""
    from analytics.paths import project_path

    given = {**_declared_defaults(task.notebook), **task.parameters}
    model_dir = str(project_path(given.get("model_dir") or "data/models"))
    return model_dir, bool(given.get("retrain", False))


def _lead_scoring_keys(tasks: list[_Task]) -> list[tuple[str, bool]]:
    """Distinct (model folder, retrain) of the tasks that take the run's lead scoring,
    a retraining one first (:func:`share_lead_scoring`)."""
    wanting = [t for t in tasks if _needs_lead_scoring(t)]
    return sorted(dict.fromkeys(_scoring_key(t) for t in wanting), key=lambda k: not k[1])


def compute_lead_scorings(
    keys: list[tuple[str, bool]], warehouse: Path, period: Period, marts: Path
) -> list[dict]:
    """One lead scoring per (model folder, retrain) of ``keys``, written under ``marts``
    (the run's ``<folder>/marts/``, :func:`share_lead_scoring`); never raises.

    Takes the keys and the folder, not the tasks, so that the scoring process
    (:func:`share_lead_scoring_apart`) neither reads the notebooks' parameters nor
    imports the snapshot's module: Papermill and the metrics layer (~0.7 and ~0.2
    CPU-s), which the runner has already loaded.
    """
    from analytics.scoring import period_scores

    done = []
    for number, (model_dir, retrain) in enumerate(keys, start=1):
        name = period_scores.FOLDER if number == 1 else f"{period_scores.FOLDER}_{number}"
        started = time.perf_counter()
        path, error = None, None
        try:
            scores = period_scores.compute_period_scores(
                warehouse, period, model_dir, retrain=retrain
            )
            path = period_scores.write_period_scores(scores, marts / name)
        except Exception as exc:  # the pages compute it themselves and show the error
            error = _error_line(exc)
        done.append(
            {
                "path": path,
                "model_dir": model_dir,
                "retrain": retrain,
                "seconds": round(time.perf_counter() - started, 3),
                "error": error,
            }
        )
    return done


def share_lead_scoring(
    tasks: list[_Task], warehouse: Path, period: Period, folder: Path
) -> tuple[list[_Task], list[dict]]:
    """Compute the run's lead scoring once and pass its path to the notebooks that take it.

    Only when a task's notebook declares :data:`LEAD_SCORING_PARAMETER`. One computation
    (:func:`analytics.scoring.period_scores.compute_period_scores`, written to
    ``<folder>/marts/lead_scoring/``) per distinct (model folder, retrain) of those
    tasks, a retraining one first, so that the others load the model it saves; before
    any notebook runs, so no two kernels load or train the model at once. A computation
    that fails passes nothing: its notebooks compute the scoring themselves (and show
    the error on their page, as without the runner).

    Returns
    -------
    tasks : list
        The tasks, those that take it with ``lead_scoring`` set to the file's path.
    done : list of dict
        Per computation: ``path`` (None when it failed), ``model_dir``, ``retrain``,
        ``seconds`` and ``error`` (None when it worked), for the manifest.
    """
    from analytics.metrics.snapshot import MARTS_DIR

    keys = _lead_scoring_keys(tasks)
    if not keys:
        return tasks, []
    done = compute_lead_scorings(keys, warehouse, period, folder / MARTS_DIR)
    return [with_lead_scoring(task, done) for task in tasks], done


def share_lead_scoring_apart(
    tasks: list[_Task], warehouse: Path, period: Period, folder: Path
) -> tuple[list[_Task], list[dict]]:
    """:func:`share_lead_scoring` in a spawned process of its own, which ends with it.

    The scoring imports scikit-learn, SciPy and skops and builds the feature
    table of every lead: ~300 MB at 10M visits that the runner would otherwise keep
    (freed memory is not handed back, and imports stay) while two notebook kernels
    run beside it. The runner reads which notebooks take it and with which model
    folder; the process gets only those keys (:func:`compute_lead_scorings`). A
    process that dies passes nothing, like a computation that fails: the pages
    compute the scoring themselves. Used from a warehouse of
    :data:`SCORING_APART_MIN_BYTES` (:func:`scores_apart`).
    """
    from analytics.metrics.snapshot import MARTS_DIR

    keys = _lead_scoring_keys(tasks)
    if not keys:
        return tasks, []
    try:
        with scoring_process() as child:
            marts = folder / MARTS_DIR
            done = child.submit(compute_lead_scorings, keys, warehouse, period, marts).result()
    except Exception as exc:  # the process itself died (killed, out of memory)
        error = _error_line(exc)
        failed = [
            {"path": None, "model_dir": d, "retrain": r, "seconds": 0.0, "error": error}
            for d, r in keys
        ]
        return tasks, failed
    return [with_lead_scoring(task, done) for task in tasks], done


SCORING_APART_MIN_BYTES = 64 * 2**20
"""Warehouse file size (bytes) from which the lead scoring runs in a process of its own.

The features of every lead take about 1.25 times the warehouse file (300 MB for the
240 MB file of 10M visits), and the parent keeps what it imported and freed. Below
64 MiB (~2.5M visits) the runner's thread computes it: that costs the runner ~80 MB
at most and saves the process's start and its imports of pandas, DuckDB, Ibis and
Papermill, which the runner has already loaded (tiny demo, model trained: 9.5-10.0
CPU-s in the process, 5.9-7.7 in the thread; docs/design.md).
"""


def scores_apart(warehouse: Path) -> bool:
    """Whether the run's lead scoring runs in a process of its own
    (:func:`share_lead_scoring_apart`): the warehouse file is at least
    :data:`SCORING_APART_MIN_BYTES`."""
    return Path(warehouse).stat().st_size >= SCORING_APART_MIN_BYTES


def _needs_lead_scoring(task: _Task) -> bool:
    """The notebook takes the run's lead scoring (declares ``lead_scoring``)."""
    return LEAD_SCORING_PARAMETER in declared_parameters(task.notebook)


def with_lead_scoring(task: _Task, done: list[dict]) -> _Task:
    """``task`` with ``lead_scoring`` set to the computation of its (model folder,
    retrain), when the notebook takes it and the computation worked."""
    if not _needs_lead_scoring(task):
        return task
    key = _scoring_key(task)
    path = next((d["path"] for d in done if (d["model_dir"], d["retrain"]) == key), None)
    if path is None:
        return task
    return dataclasses.replace(
        task, parameters={**task.parameters, LEAD_SCORING_PARAMETER: str(path)}
    )


def _role_order(configs: list[RoleConfig]) -> list[tuple[str, str]]:
    """(role, notebook name) pairs in role-file order."""
    return [(role.name, notebook.name) for role in configs for notebook in role.notebooks]


def _resolve_period(spec: str, warehouse: Path) -> tuple[Period, date, str, str]:
    """Period, anchor and warehouse fingerprint, from one read-only connection."""
    import duckdb

    from analytics.metrics.period import data_anchor, data_bounds, parse_period

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        anchor = data_anchor(con)
        bounds = data_bounds(con) if spec.strip().lower() == "all" else None
        period = parse_period(spec, anchor, bounds=bounds)
        fingerprint, method = warehouse_fingerprint(con, warehouse)
    finally:
        con.close()
    return period, anchor, fingerprint, method


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
        Period spec (:func:`analytics.metrics.period.parse_period`), resolved once
        against the warehouse's last day with visits; the notebooks receive the
        spec and resolve it on the same data.
    warehouse : str or pathlib.Path
        DuckDB warehouse file; opened read-only.
    out_dir : str or pathlib.Path
        Reports root; the run writes ``<out_dir>/<period label>/``.
    jobs : int, optional
        Parallel notebook executions; default the CPU count. Never more than
        the number of distinct (notebook, parameters) executions.
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
    for config in configs:
        _check_role_parameters(config)
    if not warehouse.is_file():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist")

    from analytics.metrics.period import parse_period

    day = date(2000, 1, 3)  # a malformed spec fails here, whatever the data, before any worker
    parse_period(period, day, bounds=(day, day))
    # The workers start (imports, kernels: warm_up_worker) while the runner resolves the
    # period and imports the metrics layer. Their number does not depend on the period:
    # the executions are grouped by parameters equal for every notebook of the run.
    planned = _executions(configs, out_dir, {"warehouse": str(warehouse), "period": period})
    workers = max(1, min(jobs or os.cpu_count() or 1, len(planned)))
    environment = kernel_duckdb_environment(workers)
    pool = notebook_pool(workers)
    try:
        # only the workers that run while the runner's steps are pending (_dispatch): a
        # worker started for later would keep an idle kernel beside the scoring process
        warm_ups = [pool.submit(warm_up_worker, environment) for _ in range(max(1, workers - 1))]
        resolved, anchor, fingerprint, method = _resolve_period(period, warehouse)
        folder = out_dir / resolved.label
        folder.mkdir(parents=True, exist_ok=True)

        # imported here, not at the top: the spawned workers import this module and need
        # none of the metrics layer (pandas, Ibis), ~2 s of CPU each
        from analytics.metrics.definitions import load_definitions
        from analytics.metrics.snapshot import MARTS_DIR, SNAPSHOT_FILE, build_snapshot

        definitions = load_definitions()  # a bad definitions file stops the run before any work
    except BaseException:  # no notebook will run: the workers end after their warm-up
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    snapshot_path = folder / SNAPSHOT_FILE  # where build_snapshot writes it
    shared = {"warehouse": str(warehouse), "period": period, "snapshot": str(snapshot_path)}
    tasks = _executions(configs, folder, shared)
    tasks = [dataclasses.replace(task, environment=environment) for task in tasks]
    tasks = by_expected_time(tasks, previous_execute_seconds(out_dir))
    results: dict[tuple[str, str], NotebookResult] = {}
    snapshot_timing: dict[str, float] = {}
    lead_visits: dict = {"path": None, "seconds": 0.0, "error": None}

    def compute_lead_visits():
        """The run's mart of the leads' visits, before the snapshot, which reads it too;
        a failure passes nothing (the queries then read ``visits``, the same figures)."""
        from analytics.metrics.lead_visit_mart import write_lead_visits

        started = time.perf_counter()
        try:
            lead_visits["path"] = write_lead_visits(warehouse, folder / MARTS_DIR)
        except Exception as exc:
            lead_visits["error"] = _error_line(exc)
        lead_visits["seconds"] = round(time.perf_counter() - started, 3)
        return lead_visits["path"]

    def compute_snapshot():
        snapshot_started = time.perf_counter()
        extra = {"lead_visits": lead_visits["path"]} if lead_visits["path"] else {}
        computed, _ = build_snapshot(warehouse, resolved, out_dir, definitions=definitions, **extra)
        snapshot_timing["seconds"] = time.perf_counter() - snapshot_started
        return computed

    def record(task: _Task, future) -> None:
        try:
            done = future.result()
        except Exception as exc:  # the worker process itself died
            error = _error_line(exc)
            if isinstance(exc, BrokenProcessPool):
                error += _SPAWN_HINT
            roles = tuple(page.role for page in task.pages)
            done = [
                NotebookResult(
                    page.role, task.notebook.name, "failed", error=error, execution_roles=roles
                )
                for page in task.pages
            ]
        for result in done:
            results[(result.role, result.notebook)] = result
        status = "ok" if all(r.status == "ok" for r in done) else "failed"
        bar.set_postfix_str(f"{task.notebook.name} x{len(task.pages)} {status}")
        bar.update(1)

    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot") as side,
        pool,
        tqdm(
            total=len(tasks),
            desc=f"reports {resolved.label}",
            unit="notebook",
            disable=not progress,
        ) as bar,
    ):
        steps = [
            _Step(
                future=side.submit(compute_lead_visits),
                needs=_needs_lead_visits,
                update=with_lead_visits,
            ),
            _Step(future=side.submit(compute_snapshot), needs=_needs_snapshot),
        ]
        if any(_needs_lead_scoring(task) for task in tasks):  # after the snapshot
            share = share_lead_scoring_apart if scores_apart(warehouse) else share_lead_scoring
            scoring = side.submit(share, tasks, warehouse, resolved, folder)
            steps.append(
                _Step(
                    future=scoring,
                    needs=_needs_lead_scoring,
                    update=lambda task, shared: with_lead_scoring(task, shared[1]),
                )
            )
        # the warmed-up workers are idle again before the first notebook is handed out, so
        # the pool gives it to one of them instead of starting another process
        wait(warm_ups)
        _, snapshot, *scoring_result = _dispatch(
            tasks, workers, steps, pool.submit, _run_task, record
        )
    lead_scoring = scoring_result[0][1] if scoring_result else []
    no_data = not period_has_data(snapshot)
    snapshot_seconds = snapshot_timing["seconds"]
    ordered = [results[pair] for pair in _role_order(configs) if pair in results]

    _link_role_pages(configs, ordered)
    if no_data:
        for result in ordered:
            if result.status == "ok" and result.html is not None:
                add_no_data_banner(result.html, resolved, _locale_of(configs, result.role))
    summary = RunSummary(
        period=resolved,
        folder=folder,
        index_path=folder / "index.html",
        manifest_path=folder / "manifest.json",
        results=ordered,
        seconds=time.perf_counter() - started,
        no_data=no_data,
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
            "kernel_duckdb": {var: os.environ.get(var, value) for var, value in environment},
            "kernel": KERNEL_NAME,
        },
        "executions": len(tasks),
        "no_data": no_data,
        "snapshot": {
            "path": relative_path(snapshot_path, folder),
            "seconds": round(snapshot_seconds, 3),
        },
        "lead_scoring": [
            {**entry, "path": relative_path(entry["path"], folder)} for entry in lead_scoring
        ],
        "lead_visits": {**lead_visits, "path": relative_path(lead_visits["path"], folder)},
        "period": {
            "spec": period,
            "label": resolved.label,
            "start": resolved.start.isoformat(),
            "end": resolved.end.isoformat(),
            "anchor": anchor.isoformat(),
        },
        "warehouse": {"path": str(warehouse), "fingerprint": fingerprint, "method": method},
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "packages": package_versions(),
        "roles": {
            c.name: {
                "title": c.title,
                "audience": c.audience,
                "hide_code": c.hide_code,
                "locale": c.locale,
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
                "ipynb": relative_path(r.ipynb, folder),
                "html": relative_path(r.html, folder),
                "title": r.title,
                "error": r.error,
                "execution_roles": list(r.execution_roles),
            }
            for r in ordered
        ],
        "total_seconds": round(summary.seconds, 3),
    }
    write_manifest(folder, manifest)
    return summary


def _link_role_pages(configs: list[RoleConfig], results: list[NotebookResult]) -> None:
    """Top of every page: a link to the index and to the role's other pages (by title)."""
    from analytics.reports.render import INDEX_LINK, set_page_nav

    for role in configs:
        pages = [r for r in results if r.role == role.name and r.status == "ok" and r.html]
        links = [("../index.html", INDEX_LINK.get(role.locale, INDEX_LINK["en"]))]
        links += [(r.html.name, r.title or Path(r.notebook).stem) for r in pages]
        for result in pages:
            set_page_nav(result.html, links, role.locale)


DATA_KEYS = ("visits", "leads", "spend", "revenue", "sales")
"""Snapshot figures of which at least one must be non-zero for a period to have data."""


def period_has_data(snapshot) -> bool:
    """True when the period has any visit, lead, spend, revenue or sale in the snapshot."""
    return any((snapshot.metric(key).get("value") or 0) != 0 for key in DATA_KEYS)


NO_DATA_TEXT = {
    "ru": "Нет данных за период {period}: в хранилище нет ни визитов, ни лидов, ни расходов, "
    "ни сделок за эти дни. Нули и прочерки на странице — не факты; письмо не отправляется. "
    "Проверьте загрузку данных или выберите другой период.",
    "en": "No data for {period}: the warehouse has no visits, leads, spend or deals on these "
    "days. Zeros and dashes on this page are not facts; no e-mail is sent. Check the data "
    "load or choose another period.",
}


def no_data_banner(period: Period, locale: str) -> str:
    """The banner of a period without data (escaped HTML)."""
    import html

    text = NO_DATA_TEXT["ru" if locale == "ru" else "en"].format(period=period)
    return (
        '<div role="alert" class="no-data" style="margin:12px 0;padding:12px 14px;'
        "background:#fdecea;border:2px solid #c62828;border-radius:6px;color:#7f1d1d;"
        f'font:600 15px/1.4 system-ui,sans-serif">{html.escape(text)}</div>'
    )


def add_no_data_banner(page: Path, period: Period, locale: str) -> None:
    """Insert :func:`no_data_banner` right after ``<body ...>`` of a rendered page."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(
        r"(<body[^>]*>)", lambda m: m.group(1) + no_data_banner(period, locale), text, count=1
    )
    page.write_text(text, encoding="utf-8")


def _locale_of(configs: list[RoleConfig], role: str) -> str:
    return next((c.locale for c in configs if c.name == role), "en")
