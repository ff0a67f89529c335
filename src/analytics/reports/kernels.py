"""One warm Jupyter kernel per runner worker, reset between notebooks.

Every notebook execution used to start its own kernel: a Python process that
imports ipykernel, then pandas, Matplotlib, seaborn, DuckDB, Ibis and the
library — 2.5–4 s of CPU before the first query, for each of the 12 notebooks
of a weekly run. A worker of :func:`analytics.reports.runner.run_reports` now
starts one kernel, runs its notebooks in it one after another, and before each
one resets what a notebook could leave behind (:func:`reset_kernel_state`),
as ``%reset -f`` does for an analyst running the notebooks in turn in one
JupyterLab session:

* the user namespace (every name a notebook defined or imported) is emptied, so
  a notebook that forgets to define or import a name still fails;
* the execution counter starts at 1 again (the analyst's page shows ``[1]``, ``[2]``…);
* Matplotlib's settings (``rcParams``: a ``sns.set_theme`` of a previous
  notebook) are those of the fresh kernel, and every figure is closed;
* the working folder is the task's one;
* unreferenced memory is collected and handed back to the system (``gc``,
  Arrow's memory pool, glibc's ``malloc_trim``), so a big notebook does not weigh
  on the next one; what survives is then frozen (``gc.freeze``: the collector
  leaves it out of the collections the next notebook triggers) and looked at again
  at the next reset.

Imported modules stay loaded — that is the point — so module-level caches keyed
on their inputs (the period snapshot, the lead features) carry over, as in
JupyterLab. A kernel that died (a crash, an out-of-memory kill) is replaced by a
new one for the next notebook. The kernel is shut down when the worker exits.

Papermill runs the notebook through :class:`WarmKernelEngine`, its own nbclient
engine given the worker's kernel manager (nbclient leaves a kernel it did not
start running).
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
import sys
from pathlib import Path

ENGINE_NAME = "analytics-warm-kernel"
"""Papermill engine name of the warm-kernel engine (registered by :func:`register_engine`)."""

COLLECTOR_THRESHOLDS = (10_000, 50, 50)
"""Cyclic-GC thresholds of the processes the report runner starts (kernels, notebook
workers, the lead-scoring process) and of the test processes (``tests/conftest.py``);
Python's default is (700, 10, 10).

Building Ibis expressions and Papermill's notebook objects allocates many small
containers, and with the default thresholds the collector walks them again and again:
at 10M visits 1.15 of 15.8 CPU-s of notebook 06 and 0.98 of 13.1 of 04 (run in one
process, quiet machine) went to it, 0.28 and 0.29 with these thresholds; on
``tests/metrics`` 10.4 of 136 CPU-s, 2.8 of 130 with them and the collected tests
frozen. Garbage in reference cycles is still collected, a little later; memory held
by reference counting (DataFrames, Arrow buffers) is freed as before."""


def quieter_collector() -> None:
    """Set :data:`COLLECTOR_THRESHOLDS` (``gc.set_threshold``) in this process."""
    import gc

    gc.set_threshold(*COLLECTOR_THRESHOLDS)


_BASELINE_RC: dict | None = None
"""Matplotlib's ``rcParams`` of the fresh kernel, captured at its first reset (in the kernel)."""

_WARM: dict = {}
"""The worker's kernel: ``{"km": AsyncKernelManager, "name": kernel name}``."""


def reset_kernel_state(cwd: str | os.PathLike, preload: tuple[str, ...] = ()) -> None:
    """Run IN the kernel before each notebook: empty it as a fresh kernel would be.

    Parameters
    ----------
    cwd : str or path-like
        The notebook's working folder.
    preload : tuple of str, optional
        Modules to import (no name is bound in the notebook's namespace); the runner
        warms a new kernel with :data:`KERNEL_PRELOAD` while it starts.
    """
    import ctypes
    import gc
    import importlib

    import matplotlib
    import matplotlib.pyplot as plt  # activates the kernel's inline backend before the capture
    from IPython import get_ipython

    global _BASELINE_RC
    if _BASELINE_RC is None:  # first call: a fresh kernel, before any notebook
        _BASELINE_RC = dict(matplotlib.rcParams)
    plt.close("all")
    matplotlib.rcParams.update(_BASELINE_RC)
    shell = get_ipython()
    if shell is not None:
        shell.reset(new_session=True)  # names, output cache, history; counter back to 1
    os.chdir(cwd)
    for name in preload:
        importlib.import_module(name)
    gc.unfreeze()  # what the last reset froze is looked at again: its cycles can go now
    quieter_collector()
    gc.collect()
    # What survives (modules, classes, the caches above) stays for the next notebook, so
    # the collector need not walk it again and again while that notebook runs: the
    # full collections of 04 or 06 at 10M visits took 0.4 CPU-s each page, 0.2 frozen
    gc.freeze()
    if "pyarrow" in sys.modules:  # Arrow's own allocator keeps freed blocks otherwise
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): the memory stays reserved
        pass


_RESET_CODE = (
    "from analytics.reports.kernels import reset_kernel_state\n"
    "reset_kernel_state({cwd!r}, {preload!r})\n"
)

KERNEL_PRELOAD = ("pandas", "duckdb")
"""Modules a warm kernel imports before its first notebook (:func:`warm_kernel_manager`
``preload``), while the runner itself still starts: every report notebook imports
both (``analytics.reports.page``, ``analytics.warehouse`` or DuckDB itself), and the
kernel keeps imported modules from one notebook to the next anyway."""


def _wait(result):
    """The value of ``result``, awaited on this thread's event loop if it is awaitable
    (jupyter_client's async kernel manager, the one nbclient expects)."""
    if not inspect.isawaitable(result):
        return result
    from jupyter_core.utils import run_sync

    async def awaited():
        return await result

    return run_sync(awaited)()


def kernel_transport() -> dict:
    """How the worker talks to its kernel: ``transport`` and ``ip`` of jupyter_client's
    kernel manager.

    jupyter_client connects to a kernel over TCP on the loopback interface by default,
    and ipykernel 7 then prints, at every kernel start, "Kernel is running over TCP
    without encryption..." to the kernel's stderr: the report command's (cron mail of
    the weekly run). The message names its two remedies: the IPC transport, or CurveZMQ
    keys (jupyter_client 8.10's ``transport_encryption``), which would encrypt every
    message of the run's outputs for a connection that never leaves the machine. Here
    the kernel and its worker talk over Unix domain sockets (``transport="ipc"``): no
    port is opened, and the socket files sit in a folder of their own created with mode
    0700 (:func:`tempfile.mkdtemp`), so only the report's user can connect -- as the
    runtime folder of the connection file. ``ip`` is the socket files' path prefix
    (jupyter_client appends ``-<port number>``); absolute, because the kernel and its
    worker run in different working folders. Where ZeroMQ has no IPC transport
    (Windows), TCP as before.

    Returns
    -------
    dict
        ``{"transport": "ipc", "ip": "<temporary folder>/kernel"}``, or ``{}`` (TCP).
    """
    import tempfile

    import zmq

    if not zmq.has("ipc"):
        return {}
    folder = tempfile.mkdtemp(prefix="analytics-kernel-")
    return {"transport": "ipc", "ip": os.path.join(folder, "kernel")}


def warm_kernel_manager(
    kernel_name: str, cwd: Path, startup_timeout: float = 60, preload: tuple[str, ...] = ()
):
    """The worker's kernel manager, its kernel alive and reset for the next notebook.

    Starts the kernel on first use, or when the previous one died, in ``cwd``;
    ``preload``: modules the kernel imports during the reset (:func:`reset_kernel_state`).

    Raises
    ------
    RuntimeError
        If the reset code fails in the kernel (which is then stopped, so the next
        notebook gets a new one; so is a kernel that does not answer in time).
    """
    from jupyter_client.manager import AsyncKernelManager

    km = _WARM.get("km")
    if km is not None and (_WARM.get("name") != kernel_name or not _wait(km.is_alive())):
        shutdown_warm_kernel()
        km = None
    if km is None:
        km = AsyncKernelManager(kernel_name=kernel_name, **kernel_transport())
        try:
            _wait(km.start_kernel(cwd=str(cwd)))
        except BaseException:  # no kernel to stop: its socket folder goes now
            if km.transport == "ipc":
                shutil.rmtree(os.path.dirname(km.ip), ignore_errors=True)
            raise
        _WARM.update(km=km, name=kernel_name)
        _register_shutdown()
    client = km.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=startup_timeout)
        reply = client.execute_interactive(
            _RESET_CODE.format(cwd=str(cwd), preload=tuple(preload)),
            store_history=False,
            timeout=startup_timeout,
            output_hook=lambda message: None,
        )
        content = reply["content"]
        if content["status"] != "ok":
            raise RuntimeError(
                f"resetting the kernel failed: {content.get('ename')}: {content.get('evalue')}"
            )
    except BaseException:  # a kernel that cannot be reset (hung, broken) is not reused
        shutdown_warm_kernel()
        raise
    finally:
        client.stop_channels()
    return km


def shutdown_warm_kernel() -> None:
    """Stop the worker's kernel (at the worker's exit, or before replacing it)."""
    km = _WARM.pop("km", None)
    _WARM.pop("name", None)
    if km is None:
        return
    try:
        if _wait(km.is_alive()):
            _wait(km.shutdown_kernel(now=True))
    finally:
        _wait(km.cleanup_resources())  # the connection file and the IPC socket files
        if km.transport == "ipc":  # the folder of kernel_transport, empty now
            shutil.rmtree(os.path.dirname(km.ip), ignore_errors=True)


def _register_shutdown() -> None:
    """Shut the kernel down when the worker process ends: the workers of a process pool
    end through ``multiprocessing``'s exit, which runs its ``Finalize`` callbacks and not
    ``atexit``; a plain process runs ``atexit``. Registered once per process."""
    if "finalizer" not in _WARM:
        import atexit
        from multiprocessing import util

        _WARM["finalizer"] = util.Finalize(None, shutdown_warm_kernel, exitpriority=100)
        atexit.register(shutdown_warm_kernel)


@functools.cache
def execution_manager_class():
    """Papermill's ``NotebookExecutionManager`` writing the output notebook less often.

    Papermill writes the whole output notebook before and after **every cell**
    (``cell_start`` and ``cell_complete`` call ``save``): each write serialises every
    output so far (the pages' charts as base64 PNG) with ``json.dumps(indent=1)``,
    which runs Python's pure-Python encoder, and validates it. For the report that is
    2 x cells + 2 writes per notebook (80 for 06 at 39 cells), ~1.8 CPU-s of the
    runner's workers per weekly run at 10M visits and the same at any size (design
    note on the report at 10M). The runner only reads the finished notebook.

    This manager writes at the start and at the end of the notebook as Papermill does,
    and during the run only when ``autosave_cell_every`` seconds (Papermill's own
    interval for long cells, 30 s by default; 0 writes at every cell as Papermill
    does) have passed since the last write, so a long notebook's progress still
    shows on disk. The notebook written at the end is the same.
    """
    from papermill.engines import NotebookExecutionManager

    class FewerSavesExecutionManager(NotebookExecutionManager):
        """Writes at the notebook's start and end; between cells every
        ``autosave_cell_every`` seconds at most."""

        _between_cells = False

        def save(self, **kwargs):
            if self._between_cells and self.autosave_cell_every:
                waited = (self.now() - self.last_save_time).total_seconds()
                if waited < self.autosave_cell_every:
                    return
            super().save(**kwargs)

        def cell_start(self, cell, cell_index=None, **kwargs):
            self._between_cells = True
            try:
                super().cell_start(cell, cell_index, **kwargs)
            finally:
                self._between_cells = False

        def cell_complete(self, cell, cell_index=None, **kwargs):
            self._between_cells = True
            try:
                super().cell_complete(cell, cell_index, **kwargs)
            finally:
                self._between_cells = False

    return FewerSavesExecutionManager


@functools.cache
def register_engine() -> str:
    """Register the warm-kernel engine with Papermill; returns its name (:data:`ENGINE_NAME`)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class WarmKernelEngine(NBClientEngine):
        """Papermill's nbclient engine, run in the worker's warm kernel, writing the
        output notebook at its start and end (:func:`execution_manager_class`)."""

        @classmethod
        def execute_notebook(
            cls,
            nb,
            kernel_name,
            output_path=None,
            progress_bar=True,
            log_output=False,
            autosave_cell_every=30,
            **kwargs,
        ):
            # papermill's Engine.execute_notebook with the manager that writes less often
            nb_man = execution_manager_class()(
                nb,
                output_path=output_path,
                progress_bar=progress_bar,
                log_output=log_output,
                autosave_cell_every=autosave_cell_every,
            )
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man,
            kernel_name,
            log_output=False,
            stdout_file=None,
            stderr_file=None,
            start_timeout=60,
            execution_timeout=None,
            **kwargs,
        ):
            # the arguments of papermill's NBClientEngine.execute_managed_notebook
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            # papermill has changed to the notebook's working folder (execute_notebook's cwd)
            km = warm_kernel_manager(kernel_name, Path.cwd(), start_timeout)
            client = PapermillNotebookClient(nb_man, km=km, **final_kwargs)
            try:
                return client.execute()
            finally:  # the kernel stays (nbclient leaves a kernel it did not start)
                if client.kc is not None:
                    _wait(client.kc.stop_channels())

    papermill_engines.register(ENGINE_NAME, WarmKernelEngine)
    return ENGINE_NAME
