"""Pull one source from its API into the warehouse, incrementally.

A pull (:func:`pull_source`):

1. reads the source's cursor from ``pull_state`` (:mod:`.cursors`);
2. asks the connector module (:data:`CONNECTORS`) to fetch what is new since
   then and write it as the vendor's export format into a landing folder
   ``data/pulls/<source>/<run id>/`` -- the same TSV/CSV the file adapters
   read, so the pulled rows go through the same adapter translation,
   validation, quarantine and ``load_log`` reconciliation as a hand export,
   and ``quarantine.source_file`` names the landed file;
3. loads every landed file with :func:`analytics.sources.load_source`;
4. saves the new cursor only when every load succeeded.

``dry_run=True`` fetches and lands the files and loads them into a
throwaway in-memory warehouse (so the row counts and quarantine are real)
without touching the warehouse or the cursor.

Windows of date-based sources (Metrica, Direct): from ``since`` if given,
else from the day after the cursor minus ``lookback_days`` (late-arriving
corrections are re-pulled and absorbed by the upsert), else
``initial_days`` before today; up to yesterday (today is incomplete).
"""

from __future__ import annotations

import importlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

from analytics import paths
from analytics import warehouse as wh
from analytics.sources.api import credentials, cursors
from analytics.sources.api.transport import ApiClient, PullError
from analytics.sources.registry import load_source
from analytics.warehouse import InputError, LoadResult

log = logging.getLogger(__name__)

CONNECTORS: dict[str, str] = {
    "metrica": "analytics.sources.api.metrica_logs",
    "amocrm": "analytics.sources.api.amocrm_api",
    "direct": "analytics.sources.api.direct_reports",
    "google_ads": "analytics.sources.api.google_ads_api",
    "comagic": "analytics.sources.api.comagic_api",
    "ga4": "analytics.sources.api.ga4_bigquery",
}
"""Connector name -> module; each module has ``DEFAULT_BASE_URL`` and
``pull(context) -> Batch``."""

SETTINGS_FILE = paths.PARAMS_DIR / "sources.yaml"
"""Non-secret connector settings live under the top-level key ``connectors:``."""

DEFAULT_INITIAL_DAYS = 30
DEFAULT_LOOKBACK_DAYS = 0


@dataclass(frozen=True)
class LandedFile:
    """A file written by a connector and the adapter that loads it."""

    kind: str
    path: Path
    options: dict = field(default_factory=dict)


@dataclass
class Batch:
    """What one pull fetched: landed files and the cursor to save after loading them.

    ``cursor`` None means nothing new (the saved cursor stays).
    """

    files: list[LandedFile]
    cursor: str | None
    note: str = ""


@dataclass
class PullContext:
    """Everything a connector needs for one pull."""

    source: str
    settings: dict
    base_url: str
    cursor: str | None
    since: date | None
    today: date
    landing: Path
    timeout: float = 60.0
    max_attempts: int = 5
    sleep: Callable[[float], None] = time.sleep
    poll_limit: int = 120

    def client(self, headers=None) -> ApiClient:
        """An :class:`ApiClient` on this source's base URL with the pull's retry settings."""
        return ApiClient(
            self.source,
            self.base_url,
            headers=headers,
            timeout=self.timeout,
            max_attempts=self.max_attempts,
            max_wait=float(self.settings.get("max_wait_s", 120)),
            sleep=self.sleep,
        )

    def window(self) -> tuple[date, date] | None:
        """``(first, last)`` day to pull, inclusive (module notes), or None if up to date."""
        last = self.today - timedelta(days=1)
        if self.since is not None:
            first = self.since
        elif self.cursor:
            lookback = int(self.settings.get("lookback_days", DEFAULT_LOOKBACK_DAYS))
            first = date.fromisoformat(self.cursor) + timedelta(days=1 - lookback)
        else:
            first = self.today - timedelta(
                days=int(self.settings.get("initial_days", DEFAULT_INITIAL_DAYS))
            )
        return (first, last) if first <= last else None


@dataclass
class PullReport:
    """Outcome of one pull."""

    source: str
    files: list[LandedFile]
    results: list[LoadResult]
    cursor_before: str | None
    cursor_after: str | None
    dry_run: bool
    note: str = ""

    @property
    def rows_in(self) -> int:
        return sum(r.rows_in for r in self.results)

    @property
    def rows_quarantined(self) -> int:
        return sum(r.rows_quarantined for r in self.results)

    def line(self) -> str:
        """One summary line for the console and the run log."""
        if not self.files:
            return f"{self.source}: up to date (cursor {self.cursor_before}){self.note}"
        loads = "; ".join(
            f"{Path(r.source_file).name} -> {r.table}: {r.rows_in:,} in = "
            f"{r.rows_loaded:,} loaded + {r.rows_quarantined:,} quarantined"
            for r in self.results
        )
        tag = " [dry run: warehouse and cursor untouched]" if self.dry_run else ""
        return (
            f"{self.source}: {loads}; cursor {self.cursor_before} -> {self.cursor_after}{tag}"
            f"{self.note}"
        )


def load_settings(path: Path | None = None) -> dict[str, dict]:
    """Connector settings: the ``connectors:`` mapping of ``params/sources.yaml``.

    Raises
    ------
    InputError
        The file is missing, is not YAML, or ``connectors`` is not a mapping
        of connector name -> settings.
    """
    path = Path(path or SETTINGS_FILE)
    if not path.is_file():
        raise InputError(f"{path}: no connector settings file (see README 'Pulling from APIs')")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML ({err.__class__.__name__})") from None
    section = data.get("connectors") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise InputError(f"{path}: expected a top-level mapping 'connectors:'")
    for name, settings in section.items():
        if name not in CONNECTORS:
            raise InputError(
                f"{path}: connectors.{name}: unknown connector; expected one of "
                f"{', '.join(CONNECTORS)}"
            )
        if not isinstance(settings, dict):
            raise InputError(f"{path}: connectors.{name}: expected a mapping of settings")
    return section


def enabled_sources(settings: dict[str, dict]) -> list[str]:
    """Connectors whose settings say ``enabled: true``, in file order."""
    return [name for name, s in settings.items() if s.get("enabled", False)]


def _base_url(source: str, default: str, settings: dict) -> str:
    """``ANALYTICS_<SOURCE>_BASE_URL``, else the default filled from the settings."""
    override = credentials.base_url(source, "")
    if override:
        return override
    try:
        return default.format(**settings)
    except KeyError as err:
        raise InputError(
            f"{source}: connectors.{source}.{err.args[0]} is not set in params/sources.yaml"
        ) from None


def pull_source(
    con,
    source: str,
    *,
    salt: str,
    settings: dict,
    since: date | None = None,
    dry_run: bool = False,
    landing_root: Path | None = None,
    today: date | None = None,
    timeout: float = 60.0,
    max_attempts: int = 5,
    sleep: Callable[[float], None] | None = None,
) -> PullReport:
    """Pull ``source`` from its API and load it (see the module notes).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection (schema initialised).
    source : str
        A key of :data:`CONNECTORS`.
    salt : str
        PII salt for the loads.
    settings : dict
        The source's settings from ``params/sources.yaml`` ``connectors:``.
    since : date, optional
        Pull from this day (date sources) or this update time (amoCRM)
        instead of the saved cursor.
    dry_run : bool
        Load into a throwaway in-memory warehouse; cursor untouched.
    landing_root : Path, optional
        Folder of landed files (default ``data/pulls``).
    today : date, optional
        Reference day (default: today, UTC).
    timeout, max_attempts, sleep
        HTTP timeout (s) and retry settings (:class:`ApiClient`).

    Returns
    -------
    PullReport

    Raises
    ------
    PullError
        The API failed after retries or broke its protocol; cursor unchanged.
    InputError
        Missing secret, bad settings or an unusable landed file; cursor unchanged.
    """
    if source not in CONNECTORS:
        raise InputError(f"unknown connector {source!r}; expected one of {', '.join(CONNECTORS)}")
    module = importlib.import_module(CONNECTORS[source])
    cursor = cursors.read_cursor(con, source)
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    landing = Path(landing_root or paths.DATA_DIR / "pulls") / source / run_id
    landing.mkdir(parents=True, exist_ok=True)
    for folder in (landing.parent, landing):  # raw vendor rows (phones): owner only
        folder.chmod(0o700)
    context = PullContext(
        source=source,
        settings=settings,
        base_url=_base_url(source, module.DEFAULT_BASE_URL, settings),
        cursor=cursor,
        since=since,
        today=today or datetime.now(UTC).date(),
        landing=landing,
        timeout=timeout,
        max_attempts=max_attempts,
        sleep=sleep if sleep is not None else time.sleep,  # looked up per call (tests patch it)
    )
    batch = module.pull(context)
    target = con
    if dry_run:
        target = wh.connect(":memory:")
        wh.init_schema(target)
    results = []
    try:
        for landed in batch.files:
            results.append(
                load_source(target, landed.kind, landed.path, salt=salt, **landed.options)
            )
    finally:
        if dry_run:
            target.close()
    if batch.cursor is not None and not dry_run:
        cursors.save_cursor(con, source, batch.cursor, sum(r.rows_in for r in results))
    return PullReport(
        source=source,
        files=batch.files,
        results=results,
        cursor_before=cursor,
        cursor_after=cursor if dry_run or batch.cursor is None else batch.cursor,
        dry_run=dry_run,
        note=batch.note,
    )


__all__ = [
    "CONNECTORS",
    "Batch",
    "LandedFile",
    "PullContext",
    "PullError",
    "PullReport",
    "enabled_sources",
    "load_settings",
    "pull_source",
]
