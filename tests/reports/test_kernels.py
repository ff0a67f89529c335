"""The runner's warm kernel (analytics.reports.kernels): one kernel per worker, reset
between notebooks as a fresh kernel would be, replaced when it dies, stopped at the end."""

import json
import os
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest
from test_runner import GOOD_ROLE, small_notebook, write_role

from analytics.paths import ROOT
from analytics.reports import load_role, runner

FIRST = """\
import json, os, sys, matplotlib
leak = 'defined by the first notebook'
matplotlib.rcParams['axes.grid'] = True   # as sns.set_theme(style='whitegrid') does
os.chdir('/')
print(json.dumps({'pid': os.getpid(), 'pandas': 'pandas' in sys.modules,
                  'env': os.environ.get('ANALYTICS_WARM_UP_TEST')}))"""

WARM_UP_ENVIRONMENT = (("ANALYTICS_WARM_UP_TEST", "set before the kernel started"),)

SECOND = """\
import json, os, matplotlib
print(json.dumps({
    'pid': os.getpid(),
    'leak': 'leak' in dir(),
    'grid': bool(matplotlib.rcParams['axes.grid']),
    'cwd': os.getcwd(),
}))"""


NAMES = ("a_first.ipynb", "b_second.ipynb", "c_dies.ipynb", "d_after.ipynb")
CODE = (FIRST, SECOND, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", SECOND)


def _printed(ipynb) -> list[dict]:
    """The JSON lines a notebook printed, and the execution count of its code cells."""
    notebook = nbformat.read(ipynb, as_version=4)
    lines = [
        json.loads(out["text"])
        for cell in notebook.cells
        for out in cell.get("outputs", [])
        if out.get("name") == "stdout" and out["text"].startswith("{")
    ]
    counts = [cell.execution_count for cell in notebook.cells if cell.cell_type == "code"]
    return lines, counts


@pytest.fixture(scope="module")
def one_worker_run(tmp_path_factory):
    """Four small notebooks, one worker: first, second, one that kills its kernel, last.

    Executed as ``run_reports`` executes them -- its tasks (``_executions``), one worker
    of its pool (``notebook_pool``) warmed up first (``warm_up_worker``) then running
    ``_run_task`` -- but without the rest of a run: the period snapshot, which these
    notebooks do not read (3-4 CPU-s), the index and the manifest. Returns the results
    (one per notebook) in the notebooks' order."""
    base = tmp_path_factory.mktemp("kernels")
    notebooks = [
        small_notebook(base / name, 'role = "x"', code)
        for name, code in zip(NAMES, CODE, strict=True)
    ]
    write_role(base / "roles", "ceo", GOOD_ROLE)
    role = replace(load_role("ceo", roles_dir=base / "roles"), notebooks=tuple(notebooks))
    tasks = runner._executions([role], base / "reports", {"period": "last-week"})
    assert [t.notebook.name for t in tasks] == list(NAMES)
    with runner.notebook_pool(1) as pool:
        pool.submit(runner.warm_up_worker, WARM_UP_ENVIRONMENT)
        futures = [pool.submit(runner._run_task, task) for task in tasks]
        return [result for future in futures for result in future.result(timeout=300)]


def test_notebooks_share_a_kernel_reset_as_a_fresh_one(one_worker_run):
    """The second notebook runs in the first one's kernel (same process id) but sees
    none of its names, its Matplotlib setting or its working folder, and its cells are
    numbered from 1, as in a kernel of its own."""
    pages = {r.notebook: r for r in one_worker_run}
    (first,), first_counts = _printed(pages["a_first.ipynb"].ipynb)
    (second,), second_counts = _printed(pages["b_second.ipynb"].ipynb)
    assert second["pid"] == first["pid"]
    assert second["leak"] is False
    assert second["grid"] is False  # Matplotlib's default, not the first notebook's
    assert second["cwd"] == str(ROOT)  # the runner's working folder, not "/"
    # parameters cell, Papermill's injected one, the code
    assert second_counts == first_counts == [1, 2, 3]


def test_the_warm_up_starts_the_kernel_the_first_notebook_runs_in(one_worker_run):
    """``warm_up_worker`` (the worker's first job, while the runner resolves the period)
    starts the kernel with the run's environment and imports pandas in it: the first
    notebook, which imports neither, finds pandas loaded and the variable set (a kernel
    started by the notebook's own task would have neither: the variable is not in this
    test's environment and ``_run_task`` sets a task's environment in the worker only,
    after a warm kernel was started)."""
    assert "ANALYTICS_WARM_UP_TEST" not in os.environ
    pages = {r.notebook: r for r in one_worker_run}
    (first,), _ = _printed(pages["a_first.ipynb"].ipynb)
    assert first["pandas"] is True
    assert first["env"] == "set before the kernel started"


def test_a_dead_kernel_fails_its_notebook_and_the_next_gets_a_new_one(one_worker_run):
    """The third notebook kills its kernel: it fails with the kernel's death, the fourth
    runs in a new kernel (another process id), and no kernel outlives the run."""
    pages = {r.notebook: r for r in one_worker_run}
    assert [pages[n].status for n in NAMES] == ["ok", "ok", "failed", "ok"]
    assert "DeadKernelError" in pages["c_dies.ipynb"].error
    (first,), _ = _printed(pages["a_first.ipynb"].ipynb)
    (after,), after_counts = _printed(pages["d_after.ipynb"].ipynb)
    assert after["pid"] != first["pid"]
    assert (after["leak"], after["grid"]) == (False, False)
    assert after_counts == [1, 2, 3]
    assert not _alive(first["pid"])  # killed by the notebook
    assert not _alive(after["pid"])  # stopped when the worker ended


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    return True


def test_a_kernel_whose_reset_fails_is_stopped_not_reused(tmp_path, monkeypatch, capfd):
    """The reset changes to the notebook's folder; a folder that does not exist makes it
    fail in the warm kernel. The worker then gets a RuntimeError naming the kernel's error,
    the kernel process is stopped (not left running) and the worker holds no kernel, so
    its next notebook starts a new one instead of reusing a broken kernel.

    The kernel talks to the worker over Unix sockets in a folder only the user may
    enter (mode 0700), removed with the kernel, and prints nothing about its transport:
    over TCP ipykernel 7 writes "Kernel is running over TCP without encryption" to its
    stderr (the worker's, here captured) at every start."""
    import stat

    import jupyter_client.manager
    import psutil
    import zmq

    from analytics.reports import kernels

    started = []

    class RecordingManager(jupyter_client.manager.AsyncKernelManager):
        async def _async_start_kernel(self, **kwargs):
            await super()._async_start_kernel(**kwargs)
            started.append(self.provisioner.process.pid)

        start_kernel = _async_start_kernel

    monkeypatch.setattr(jupyter_client.manager, "AsyncKernelManager", RecordingManager)
    monkeypatch.setattr(kernels, "_WARM", {})
    kernels.warm_kernel_manager("python3", tmp_path)  # started and reset: the warm kernel
    (pid,) = started
    km = kernels._WARM["km"]
    assert km is not None and psutil.pid_exists(pid)
    if zmq.has("ipc"):  # Linux, macOS
        sockets = Path(km.ip).parent
        assert km.transport == "ipc" and Path(km.ip).is_absolute()
        assert stat.S_IMODE(sockets.stat().st_mode) == 0o700
        assert {p.name for p in sockets.iterdir()} == {f"kernel-{port}" for port in km.ports}
    with pytest.raises(RuntimeError, match="resetting the kernel failed: FileNotFoundError"):
        kernels.warm_kernel_manager("python3", tmp_path / "gone")
    assert len(started) == 1  # the failing reset ran in the warm kernel, not a new one
    assert kernels._WARM.get("km") is None
    if zmq.has("ipc"):
        assert not sockets.exists()  # removed with the kernel
    assert "without encryption" not in capfd.readouterr().err
    try:
        assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # ended, not yet reaped
    except psutil.NoSuchProcess:  # ended and reaped
        pass


def _saves_of(manager_class, tmp_path, monkeypatch, *, seconds_per_step, autosave=30):
    """Writes of the output notebook while a 3-cell notebook runs through ``manager_class``
    (the engine's calls in order, no kernel), the clock advancing ``seconds_per_step``
    at each call; returns (writes, notebook read back from the output path)."""
    import datetime

    import papermill.engines
    from papermill.iorw import write_ipynb

    writes = []

    def counted(nb, path):
        writes.append(path)
        write_ipynb(nb, path)

    monkeypatch.setattr(papermill.engines, "write_ipynb", counted)
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(f"x = {i}") for i in range(3)],
        metadata={"papermill": {}},
    )
    output = tmp_path / f"out_{seconds_per_step}_{autosave}.ipynb"
    clock = [datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)]

    class Clocked(manager_class):
        def now(self):
            clock[0] += datetime.timedelta(seconds=seconds_per_step)
            return clock[0]

    manager = Clocked(nb, output_path=str(output), progress_bar=False, autosave_cell_every=autosave)
    manager.notebook_start()
    for index, cell in enumerate(nb.cells):
        manager.cell_start(cell, index)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{index}\n")]
        cell.execution_count = index + 1
        manager.cell_complete(cell, index)
    manager.notebook_complete()
    return writes, nbformat.read(output, as_version=4)


def test_the_warm_engine_writes_the_output_notebook_at_start_and_end(tmp_path, monkeypatch):
    """Papermill's manager writes the output notebook at the start, before and after
    each cell and at the end: 1 + 2 x 3 + 1 = 8 writes for 3 cells. The warm engine's
    writes it twice when the cells are quick (1 s per step, autosave every 30 s), the
    same final notebook (every cell's output, count and status); with cells slower
    than the interval (31 s per step) and with ``autosave_cell_every=0`` it writes at
    every cell, as Papermill does."""
    from papermill.engines import NotebookExecutionManager

    from analytics.reports.kernels import execution_manager_class

    fewer = execution_manager_class()
    stock_writes, stock_nb = _saves_of(
        NotebookExecutionManager, tmp_path, monkeypatch, seconds_per_step=1
    )
    writes, nb = _saves_of(fewer, tmp_path, monkeypatch, seconds_per_step=1)
    assert len(stock_writes) == 8
    assert len(writes) == 2
    for cells in (nb.cells, stock_nb.cells):
        assert [c.outputs[0]["text"] for c in cells] == ["0\n", "1\n", "2\n"]
        assert [c.execution_count for c in cells] == [1, 2, 3]
        assert [c.metadata.papermill["status"] for c in cells] == ["completed"] * 3
    slow_writes, _ = _saves_of(fewer, tmp_path, monkeypatch, seconds_per_step=31)
    assert len(slow_writes) == 8
    every_writes, _ = _saves_of(fewer, tmp_path, monkeypatch, seconds_per_step=1, autosave=0)
    assert len(every_writes) == 8


def test_the_reset_freezes_what_survives_and_frees_it_at_the_next_reset(tmp_path):
    """After a reset the objects alive then are frozen (left out of the cyclic
    collector's work while the next notebook runs): a reference cycle that becomes
    garbage afterwards survives a plain ``gc.collect()`` and is freed by the next
    reset, as an unfrozen one is freed by the reset right away."""
    import gc
    import weakref

    from analytics.reports.kernels import COLLECTOR_THRESHOLDS, reset_kernel_state

    class Node:
        pass

    here = os.getcwd()
    thresholds = gc.get_threshold()
    try:
        kept = Node()
        kept.me = kept  # a cycle: only the cyclic collector can free it
        kept_ref = weakref.ref(kept)
        gc.set_threshold(700, 10, 10)  # Python's default, as in a fresh kernel
        reset_kernel_state(tmp_path)
        assert gc.get_threshold() == COLLECTOR_THRESHOLDS != (700, 10, 10)
        assert gc.get_freeze_count() > 0
        del kept
        gc.collect()
        assert kept_ref() is not None  # frozen by the reset: not collected here
        reset_kernel_state(tmp_path)
        assert kept_ref() is None  # the next reset looks at it again and frees it
        dropped = Node()
        dropped.me = dropped
        dropped_ref = weakref.ref(dropped)
        del dropped
        reset_kernel_state(tmp_path)
        assert dropped_ref() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        os.chdir(here)
