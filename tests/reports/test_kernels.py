"""The runner's warm kernel (analytics.reports.kernels): one kernel per worker, reset
between notebooks as a fresh kernel would be, replaced when it dies, stopped at the end."""

import json
import os
from dataclasses import replace

import nbformat
import pytest
from funnel_fixture import build_warehouse
from test_runner import GOOD_ROLE, small_notebook, write_role

from analytics.paths import ROOT
from analytics.reports import load_role, run_reports

FIRST = """\
import json, os, matplotlib
leak = 'defined by the first notebook'
matplotlib.rcParams['axes.grid'] = True   # as sns.set_theme(style='whitegrid') does
os.chdir('/')
print(json.dumps({'pid': os.getpid()}))"""

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
    """Four small notebooks, one worker: first, second, one that kills its kernel, last."""
    base = tmp_path_factory.mktemp("kernels")
    notebooks = [
        small_notebook(base / name, 'role = "x"', code)
        for name, code in zip(NAMES, CODE, strict=True)
    ]
    write_role(base / "roles", "ceo", GOOD_ROLE)
    role = replace(load_role("ceo", roles_dir=base / "roles"), notebooks=tuple(notebooks))
    summary = run_reports(
        [role],
        warehouse=build_warehouse(base / "warehouse.duckdb"),
        out_dir=base / "reports",
        jobs=1,
        progress=False,
    )
    return summary


def test_notebooks_share_a_kernel_reset_as_a_fresh_one(one_worker_run):
    """The second notebook runs in the first one's kernel (same process id) but sees
    none of its names, its Matplotlib setting or its working folder, and its cells are
    numbered from 1, as in a kernel of its own."""
    pages = {r.notebook: r for r in one_worker_run.results}
    (first,), first_counts = _printed(pages["a_first.ipynb"].ipynb)
    (second,), second_counts = _printed(pages["b_second.ipynb"].ipynb)
    assert second["pid"] == first["pid"]
    assert second["leak"] is False
    assert second["grid"] is False  # Matplotlib's default, not the first notebook's
    assert second["cwd"] == str(ROOT)  # the runner's working folder, not "/"
    # parameters cell, Papermill's injected one, the code
    assert second_counts == first_counts == [1, 2, 3]


def test_a_dead_kernel_fails_its_notebook_and_the_next_gets_a_new_one(one_worker_run):
    """The third notebook kills its kernel: it fails with the kernel's death, the fourth
    runs in a new kernel (another process id), and no kernel outlives the run."""
    pages = {r.notebook: r for r in one_worker_run.results}
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


def test_a_kernel_whose_reset_fails_is_stopped_not_reused(tmp_path, monkeypatch):
    """The reset changes to the notebook's folder; a folder that does not exist makes it
    fail in the warm kernel. The worker then gets a RuntimeError naming the kernel's error,
    the kernel process is stopped (not left running) and the worker holds no kernel, so
    its next notebook starts a new one instead of reusing a broken kernel."""
    import jupyter_client.manager
    import psutil

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
    assert kernels._WARM["km"] is not None and psutil.pid_exists(pid)
    with pytest.raises(RuntimeError, match="resetting the kernel failed: FileNotFoundError"):
        kernels.warm_kernel_manager("python3", tmp_path / "gone")
    assert len(started) == 1  # the failing reset ran in the warm kernel, not a new one
    assert kernels._WARM.get("km") is None
    try:
        assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # ended, not yet reaped
    except psutil.NoSuchProcess:  # ended and reaped
        pass
