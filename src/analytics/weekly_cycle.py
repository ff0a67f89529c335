"""The weekly cycle: pull every enabled source -> load -> report -> e-mail, once at a time.

:func:`run_weekly` is what ``python -m analytics weekly`` runs:

1. take the lock file (``data/weekly.lock``) without waiting -- a second run
   started while one is going exits at once (:class:`WeeklyBusy`), so two
   runs never overlap (:mod:`filelock`: an OS-level ``flock`` released by the
   kernel if the process dies, so a crash leaves no stale lock);
2. pull every connector with ``enabled: true`` in ``params/sources.yaml``
   (:func:`analytics.sources.api.pull_source`, which loads what it pulled);
   a failing source does not stop the others;
3. if every pull succeeded, build the reports, then e-mail them; if a pull
   failed, reports and e-mails are skipped -- leadership does not get a
   week's figures silently missing a source;
4. write every step to a run log ``data/runs/weekly-<UTC time>.log`` (the
   one-line outcome of each step; a traceback of an unexpected error goes to
   the log only).

The outcome is ``ok`` only when every step succeeded; the command exits 1
otherwise. Nothing logged contains a secret (messages of the connectors
never hold tokens).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import filelock

from analytics import paths

LOCK_FILE = paths.DATA_DIR / "weekly.lock"
RUN_LOG_DIR = paths.DATA_DIR / "runs"


class WeeklyBusy(RuntimeError):
    """Another weekly run holds the lock."""


@dataclass
class WeeklyResult:
    """Outcome of one weekly run: ``ok``, the step lines and the run log path."""

    ok: bool
    lines: list[str] = field(default_factory=list)
    log_path: Path | None = None


class _RunLog:
    def __init__(self, path: Path, echo: Callable[[str], None]):
        self.path = path
        self.echo = echo
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lines: list[str] = []

    def write(self, line: str, *, detail: str = "") -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.lines.append(line)
        self.echo(line)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(f"{stamp} {line}\n")
            if detail:
                out.write(detail if detail.endswith("\n") else detail + "\n")


def _step(log: _RunLog, name: str, action: Callable[[], object]) -> bool:
    """Run one step; log its one-line outcome; True if it succeeded."""
    try:
        outcome = action()
    except (RuntimeError, ValueError, OSError) as exc:
        log.write(f"{name}: FAILED: {exc}")
        return False
    except Exception as exc:  # noqa: BLE001 -- any failure must end in one line + exit 1
        log.write(
            f"{name}: FAILED: unexpected {type(exc).__name__}: {exc}",
            detail=traceback.format_exc(),
        )
        return False
    if isinstance(outcome, int) and not isinstance(outcome, bool):
        if outcome != 0:
            log.write(f"{name}: FAILED (exit code {outcome})")
            return False
        log.write(f"{name}: ok")
        return True
    log.write(f"{name}: {outcome}" if outcome else f"{name}: ok")
    return True


def run_weekly(
    *,
    sources: list[str],
    pull: Callable[[str], object],
    report: Callable[[], int],
    email: Callable[[], int],
    lock_path: Path | None = None,
    log_dir: Path | None = None,
    echo: Callable[[str], None] = print,
) -> WeeklyResult:
    """Run the weekly cycle (see the module notes).

    Parameters
    ----------
    sources : list of str
        Enabled connectors, in order.
    pull : callable
        ``pull(source)`` pulls and loads one source; returns its summary line;
        raises on failure.
    report, email : callable
        Build the reports / send them; return an exit code (0 = ok).
    lock_path, log_dir : Path, optional
        Lock file and folder of run logs (default :data:`LOCK_FILE`,
        :data:`RUN_LOG_DIR`).
    echo : callable
        Where step lines are shown besides the log (console).

    Returns
    -------
    WeeklyResult

    Raises
    ------
    WeeklyBusy
        The lock is held by another run (nothing was done).
    """
    lock_path = Path(lock_path or LOCK_FILE)
    log_dir = Path(log_dir or RUN_LOG_DIR)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(lock_path, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise WeeklyBusy(
            f"another weekly run holds {lock_path}; not started (runs never overlap)"
        ) from None
    try:
        started = datetime.now(UTC)
        log = _RunLog(log_dir / f"weekly-{started:%Y%m%dT%H%M%S}Z.log", echo)
        log.write(f"weekly run started; sources: {', '.join(sources) or 'none enabled'}")
        ok = bool(sources)
        if not sources:
            log.write("pull: FAILED: no connector has 'enabled: true' in params/sources.yaml")
        for source in sources:
            ok &= _step(log, f"pull {source}", lambda s=source: pull(s))
        if ok:
            ok = _step(log, "report", report) and _step(log, "email", email)
        else:
            log.write("report and email skipped: a pull failed (the reports would miss data)")
        seconds = (datetime.now(UTC) - started).total_seconds()
        log.write(f"weekly run {'ok' if ok else 'FAILED'} in {seconds:.0f} s; log {log.path}")
        return WeeklyResult(ok=ok, lines=log.lines, log_path=log.path)
    finally:
        lock.release()
