"""Source adapters: vendor exports -> canonical warehouse tables.

One adapter per real export. Each reads the vendor's file, translates its
columns and value formats into the canonical columns of
:mod:`analytics.warehouse.schema` (as text) and hands the rows to
:func:`analytics.warehouse.load_frame`, the same SQL validation as a raw
canonical file: bad rows go to ``quarantine`` with file, row, column and
reason, one ``load_log`` row reconciles ``rows_in = rows_loaded +
rows_quarantined``, phones and e-mails are hashed with the salt at ingest, and
an unusable file raises :class:`~analytics.warehouse.InputError` naming the
file and the problem (nothing of it is loaded).

=================  ===========================================  ===============
kind               export                                       canonical table
=================  ===========================================  ===============
``metrica``        Yandex Metrica Logs API visits (TSV; ETL     ``visits``
                   CSV / JSON lines without ``ym:s:``)
``ga4``            GA4 BigQuery export events (Parquet/NDJSON)  ``visits``
``amocrm``         amoCRM deals export (CSV, cp1251 or UTF-8)   ``deals``
``amocrm_stages``  amoCRM stage changes (CSV)                   ``deal_stages``
``calls``          call tracking and telephony logs (CoMagic,   ``leads``
                   Calltouch; Sipuni, Mango, Zadarma, UIS with
                   a mapping): incoming calls and callbacks
``leads``          another CRM's lead export (HubSpot,          ``leads`` +
                   Bitrix24, Pipedrive style), other columns,   ``lead_fields``
                   status / outcome columns                     (+ ``deals``,
                                                                ``deal_stages``)
``direct``         Yandex Direct report (TSV / web CSV)         ``spend``
``google_ads``     Google Ads report (CSV, "Excel CSV")         ``spend``
=================  ===========================================  ===============

Every text export is read by :func:`analytics.sources.read_export` (title,
period and total lines, encodings, delimiters, number styles, placeholders,
damaged bytes; see :mod:`analytics.sources.reading`). Column mappings,
placeholders and options can be saved per kind in ``params/sources.yaml``
(:func:`source_settings`) and given per load (``columns=``, the CLI's
``--map``).

Files load in any order: identity stitching (:mod:`analytics.sources.linkage`)
runs on the loaded tables. The reconciliation of every load is stored in
``load_log`` (:func:`analytics.warehouse.reconciliation` shows it as a table).

Row numbers
-----------
For text exports ``quarantine.row_number`` is the 1-based ordinal of the data
record after the column header: report title lines above the header, blank
lines and summary lines (``Total rows: 12``) are not counted. GA4 sessions are
numbered by the file row of their first event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from analytics import paths
from analytics.sources.reading import DEFAULT_PLACEHOLDERS
from analytics.warehouse import InputError, LoadResult

log = logging.getLogger(__name__)

SOURCE_KINDS: dict[str, tuple[str, str]] = {
    "metrica": ("analytics.sources.metrica", "load_visits"),
    "ga4": ("analytics.sources.ga4", "load_sessions"),
    "amocrm": ("analytics.sources.amocrm", "load_deals"),
    "amocrm_stages": ("analytics.sources.amocrm", "load_stage_history"),
    "calls": ("analytics.sources.calltracking", "load_calls"),
    "leads": ("analytics.sources.crm_leads", "load_leads"),
    "spend": ("analytics.sources.adcost", "load_canonical_spend"),
    "direct": ("analytics.sources.adcost", "load_direct"),
    "google_ads": ("analytics.sources.adcost", "load_google_ads"),
}
"""Source kind -> (module, loader function); every loader has the signature of
:func:`load_source` without ``kind``."""


SETTINGS_FILE = "sources.yaml"
"""Saved mappings, placeholders and options per kind in ``params/`` (:func:`source_settings`)."""


@dataclass(frozen=True)
class SourceSettings:
    """What ``params/sources.yaml`` says about one source kind.

    Parameters
    ----------
    columns : dict
        Saved column mapping ``{their column: field}``.
    placeholders : tuple of str
        Placeholders of this kind plus those for every kind.
    options : dict
        Adapter options (as ``--option``).
    origin : str
        The file read (or ``"<none>"``).
    """

    columns: dict[str, str] = field(default_factory=dict)
    placeholders: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)
    origin: str = "<none>"


def source_settings(kind: str, path: str | Path | None = None) -> SourceSettings:
    """Settings of ``kind`` from ``params/sources.yaml`` (empty settings when there is no file).

    Raises
    ------
    InputError
        The file is not valid YAML or a section has the wrong shape (named).
    """
    if path is None:
        try:
            path = paths.params_file(SETTINGS_FILE)
        except FileNotFoundError:
            return SourceSettings()
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from None
    if not isinstance(spec, dict):
        raise InputError(f"{path}: expected a mapping of source kinds")
    section = spec.get(kind) or {}
    if not isinstance(section, dict) or set(section) - {"columns", "placeholders", "options"}:
        raise InputError(
            f"{path}: section {kind!r} must be a mapping with columns, placeholders, options"
        )
    columns = section.get("columns") or {}
    holders = [*(spec.get("placeholders") or []), *(section.get("placeholders") or [])]
    options = section.get("options") or {}
    if not isinstance(columns, dict) or not isinstance(options, dict):
        raise InputError(f"{path}: {kind}.columns and {kind}.options must be mappings")
    return SourceSettings(
        {str(k): str(v) for k, v in columns.items()},
        tuple(str(h) for h in holders),
        dict(options),
        str(path),
    )


def load_source(
    con,
    kind: str,
    path: str | Path,
    *,
    salt: str,
    columns: dict[str, str] | None = None,
    placeholders: list[str] | None = None,
    settings: str | Path | None = None,
    **options,
) -> LoadResult:
    """Load one vendor export into the warehouse (entry point for the CLI).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection (:func:`analytics.warehouse.connect`).
    kind : str
        One of :data:`SOURCE_KINDS`: ``metrica``, ``ga4``, ``amocrm``,
        ``amocrm_stages``, ``calls``, ``leads``, ``direct``, ``google_ads``.
    path : str or Path
        The export file.
    salt : str
        PII salt (:func:`analytics.warehouse.pii_salt`).
    columns : dict, optional
        Column mapping ``{their column: field}`` (the CLI's ``--map``), on top
        of the kind's saved ``columns`` in ``params/sources.yaml``.
    placeholders : list of str, optional
        Extra placeholders (read as empty in date and number fields), on top
        of :data:`~analytics.sources.DEFAULT_PLACEHOLDERS` and the saved ones.
    settings : str or Path, optional
        Another settings file than ``params/sources.yaml``.
    **options
        Passed to the adapter (after the saved ``options`` of the kind);
        common ones are ``now`` (reference time of the future-date check),
        ``load_id``, ``encoding``, ``delimiter``,
        ``timezone`` and ``channel_rules`` (path of a channels YAML). See
        :func:`analytics.sources.metrica.load_visits` (``pricing_goal_ids`` is
        required there), :func:`analytics.sources.ga4.load_sessions`,
        :func:`analytics.sources.amocrm.load_deals`,
        :func:`analytics.sources.amocrm.load_stage_history`,
        :func:`analytics.sources.calltracking.load_calls`,
        :func:`analytics.sources.crm_leads.load_leads` (``recorded_at``, ``won``,
        ``lost``, ``open``, ``stages``, ``currency``, ``rates``, ``deals``),
        :func:`analytics.sources.adcost.load_direct` (``vat_included``,
        ``vat_rate``, ``money_in_micros``, ``currency``, ``rates``) and
        :func:`analytics.sources.adcost.load_google_ads`.

    Returns
    -------
    SourceResult
        Row counts, ``rows_in = rows_loaded + rows_quarantined``; the same
        numbers are in ``load_log`` (see
        :func:`analytics.warehouse.reconciliation`); ``notes`` name unknown,
        missing and mapped columns, placeholders read as empty and other
        warnings.

    Raises
    ------
    InputError
        Unknown kind or option, or an unusable file (message names the file
        and what to fix). A CLI should print the message, not a traceback.

    Examples
    --------
    >>> load_source(con, "amocrm", "deals.csv", salt=pii_salt())  # doctest: +SKIP
    LoadResult(table='deals', source_file='/.../deals.csv', rows_in=110, ...)
    """
    if kind not in SOURCE_KINDS:
        raise InputError(f"unknown source kind {kind!r}; expected one of {', '.join(SOURCE_KINDS)}")
    module_name, function_name = SOURCE_KINDS[kind]
    module = __import__(module_name, fromlist=[function_name])
    loader = getattr(module, function_name)
    saved = source_settings(kind, settings)
    mapping = {**saved.columns, **(columns or {})}
    holders = (*DEFAULT_PLACEHOLDERS, *saved.placeholders, *(placeholders or []))
    options = {**saved.options, **options}
    try:
        result = loader(con, path, salt=salt, columns=mapping, placeholders=holders, **options)
    except TypeError as err:
        if "unexpected keyword argument" in str(err):
            raise InputError(f"source {kind!r}: {err}") from None
        raise
    log.info(
        "%s %s: %d rows in, %d loaded, %d quarantined",
        kind,
        result.source_file,
        result.rows_in,
        result.rows_loaded,
        result.rows_quarantined,
    )
    return result
