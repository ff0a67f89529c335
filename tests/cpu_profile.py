"""CPU seconds of every test phase, for finding what makes the suite slow (``--cpu-profile``).

``python -m pytest -n 2 --cpu-profile=DIR`` (option of ``conftest.py``) makes each
pytest-xdist worker append one JSON line per test phase (setup, call, teardown) to
``DIR/<worker>.jsonl``: ``[node id, phase, cpu_s, wall_s, unix time at the end]``.
``python tests/cpu_profile.py DIR`` prints the CPU by module and the costliest phases.

The CPU of a phase is the worker's own (``RUSAGE_SELF``), its reaped child processes'
(``RUSAGE_CHILDREN``: Papermill's kernels, the runner's spawned workers, Chromium once
closed) and its living descendants' (``psutil``: the Spark JVM, which lives for the whole
session, and a warm kernel) -- on a shared machine the wall time of a phase says little,
its CPU time is what the 2-core CI machine will have to spend. A session fixture's cost
lands on the setup of the first test that needs it.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest


def process_tree_cpu(process) -> float:
    """CPU seconds (user + system) of this process, its reaped children and its living
    descendants (``process``: ``psutil.Process()`` of this process)."""
    import psutil

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    for child in process.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:  # ended between the listing and the reading
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


class CpuProfile:
    """Plugin appending each test phase's CPU and wall seconds to ``<folder>/<worker>.jsonl``."""

    def __init__(self, folder: Path):
        import psutil

        self.process = psutil.Process()
        folder.mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.file = (folder / f"{worker}.jsonl").open("a", encoding="utf-8")

    def _measure(self, item, phase: str):
        cpu, wall = process_tree_cpu(self.process), time.perf_counter()
        yield
        row = [
            item.nodeid,
            phase,
            round(process_tree_cpu(self.process) - cpu, 3),
            round(time.perf_counter() - wall, 3),
            round(time.time(), 1),
        ]
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()  # a run stopped by a timeout keeps what it measured

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        yield from self._measure(item, "setup")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        yield from self._measure(item, "call")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item):
        yield from self._measure(item, "teardown")

    def pytest_unconfigure(self, config):
        self.file.close()


def summary(folder: Path, top: int = 40) -> str:
    """Per worker: CPU, phases, first and last phase's end; CPU by module; the costliest phases."""
    lines, modules, phases = [], defaultdict(float), []
    for path in sorted(folder.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        if not rows:
            continue
        span = rows[-1][4] - rows[0][4] + rows[0][3]
        lines.append(
            f"{path.stem}: {sum(r[2] for r in rows):.1f} CPU-s in {len(rows)} phases, "
            f"busy {span:.0f} s"
        )
        for nodeid, phase, cpu, wall, _ in rows:
            modules[nodeid.split("::")[0]] += cpu
            phases.append((cpu, wall, phase, nodeid))
    lines.append("CPU-s by module:")
    lines += [f"{cpu:8.1f}  {name}" for name, cpu in sorted(modules.items(), key=lambda x: -x[1])]
    lines.append(f"{sum(modules.values()):8.1f}  in all")
    lines.append("costliest phases (CPU-s, wall s):")
    lines += [f"{c:8.1f} {w:7.1f}  {p:8} {n}" for c, w, p, n in sorted(phases, reverse=True)[:top]]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(Path(sys.argv[1])))
