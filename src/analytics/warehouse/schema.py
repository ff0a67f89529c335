"""Canonical warehouse tables: one declaration drives DDL, validation and docs.

Every source adapter and the demo generator produce rows in these shapes. The
loader (:mod:`analytics.warehouse`) reads raw files with every column as text,
checks each value against the declaration below, writes good rows to the table
and bad rows to ``quarantine`` with the file, row, column and reason.

Money is in roubles (RUB) without VAT; timestamps are naive local time of the
account (Europe/Moscow, ``WAREHOUSE_TIMEZONE``; a raw value with a UTC offset
such as ``Z`` or ``+05:00`` is converted to it); ids are text so that CRM and analytics ids
of any shape fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

EARLIEST_TIME = datetime(2000, 1, 1)
"""Dates and timestamps before this are implausible (e.g. Unix epoch zero) and quarantined."""

FUTURE_SLACK = timedelta(days=1)
"""Dates later than ``load time + FUTURE_SLACK`` are implausible (future) and quarantined."""

WAREHOUSE_TIMEZONE = "Europe/Moscow"
"""Time zone of the warehouse's naive timestamps; values with a UTC offset are converted to it."""

HISTORY_SCHEMA = "history"
"""DuckDB schema with one version table per canonical table (see :func:`history_ddl`)."""


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    Parameters
    ----------
    name : str
        Column name in the warehouse and in raw files.
    dtype : str
        DuckDB type: ``VARCHAR``, ``BIGINT``, ``DOUBLE``, ``BOOLEAN``,
        ``DATE`` or ``TIMESTAMP``.
    required : bool
        A missing (empty) value sends the row to quarantine.
    min_value : float or None
        Smallest allowed value for numeric columns (e.g. cost >= 0).
    allowed : tuple of str or None
        Closed set of allowed values (e.g. lead types).
    pii : str or None
        ``"phone"`` or ``"email"``: the raw value is normalised, salted and
        hashed at ingest into a column named ``<name>_hash``; the raw value is
        never stored.
    doc : str
        What the column means, with units.
    """

    name: str
    dtype: str
    required: bool = False
    min_value: float | None = None
    allowed: tuple[str, ...] | None = None
    pii: str | None = None
    doc: str = ""

    @property
    def stored_name(self) -> str:
        """Name of the column in the warehouse (hashed PII gets ``_hash``)."""
        return f"{self.name}_hash" if self.pii else self.name

    @property
    def stored_type(self) -> str:
        """Warehouse type (hashes are text)."""
        return "VARCHAR" if self.pii else self.dtype


@dataclass(frozen=True)
class Table:
    """A canonical table: columns, primary key and meaning."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    doc: str = ""
    time_column: str | None = None
    versioned: bool = True
    extra: dict = field(default_factory=dict)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def ddl(self, schema: str = "main") -> str:
        cols = ",\n  ".join(f"{c.stored_name} {c.stored_type}" for c in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {schema}.{self.name} (\n  {cols}\n)"


UTM = (
    Column("utm_source", "VARCHAR", doc="utm_source as captured (e.g. yandex, google, vk)"),
    Column("utm_medium", "VARCHAR", doc="utm_medium (cpc, display, paid_social, organic, ...)"),
    Column("utm_campaign", "VARCHAR", doc="utm_campaign; empty means undetermined campaign"),
    Column("utm_content", "VARCHAR", doc="utm_content: creative id"),
    Column("utm_term", "VARCHAR", doc="utm_term: ad group"),
)

LEAD_TYPES = ("form", "call", "chat")
DEAL_STAGES = ("new", "mql", "sql", "demo", "proposal", "won", "lost")
DEAL_STATUSES = ("open", "won", "lost")

SPEND = Table(
    "spend",
    (
        Column("date", "DATE", required=True, doc="day of the spend"),
        Column("channel", "VARCHAR", required=True, doc="channel group of the campaign"),
        Column("utm_source", "VARCHAR", required=True, doc="utm_source the ads carry"),
        Column("utm_medium", "VARCHAR", required=True, doc="utm_medium the ads carry"),
        Column("campaign", "VARCHAR", required=True, doc="campaign name = utm_campaign"),
        Column("ad_group", "VARCHAR", required=True, doc="ad group = utm_term"),
        Column("creative", "VARCHAR", required=True, doc="creative id = utm_content"),
        Column("impressions", "BIGINT", required=True, min_value=0, doc="ad impressions"),
        Column("clicks", "BIGINT", required=True, min_value=0, doc="ad clicks"),
        Column("cost", "DOUBLE", required=True, min_value=0, doc="cost, RUB without VAT"),
    ),
    key=("date", "campaign", "ad_group", "creative"),
    doc="Daily ad cost by channel, campaign, ad group and creative.",
    time_column="date",
    versioned=False,
)

VISITS = Table(
    "visits",
    (
        Column("visit_id", "VARCHAR", required=True, doc="visit (session) id"),
        Column("visitor_id", "VARCHAR", required=True, doc="visitor (client/cookie) id"),
        Column("visit_start", "TIMESTAMP", required=True, doc="visit start time"),
        Column("channel", "VARCHAR", required=True, doc="channel group of the traffic source"),
        *UTM,
        Column("landing_page", "VARCHAR", doc="first page path"),
        Column("pageviews", "BIGINT", required=True, min_value=1, doc="pages viewed"),
        Column("duration_s", "BIGINT", required=True, min_value=0, doc="visit length, seconds"),
        Column("goal_pricing", "BOOLEAN", required=True, doc="pricing page viewed in the visit"),
        Column("device", "VARCHAR", allowed=("desktop", "mobile", "tablet"), doc="device type"),
    ),
    key=("visit_id",),
    doc="Site visits with traffic source and behaviour (web analytics).",
    time_column="visit_start",
    versioned=False,
)

LEADS = Table(
    "leads",
    (
        Column("lead_id", "VARCHAR", required=True, doc="lead (request) id"),
        Column("created_at", "TIMESTAMP", required=True, doc="time the request arrived"),
        Column("lead_type", "VARCHAR", required=True, allowed=LEAD_TYPES, doc="form, call or chat"),
        Column("visitor_id", "VARCHAR", doc="visitor id; empty for calls without a session"),
        Column("visit_id", "VARCHAR", doc="visit id of the request; empty if not tracked"),
        Column("phone", "VARCHAR", pii="phone", doc="phone, hashed at ingest"),
        Column("email", "VARCHAR", pii="email", doc="e-mail, hashed at ingest"),
        *UTM,
        Column("call_duration_s", "BIGINT", min_value=0, doc="call length, seconds (calls)"),
        Column("call_lost", "BOOLEAN", doc="call was not answered (calls)"),
        Column("region", "VARCHAR", doc="company region"),
        Column("industry", "VARCHAR", doc="company industry"),
        Column("company_size", "VARCHAR", doc="company size band (employees)"),
    ),
    key=("lead_id",),
    doc="Requests from forms, calls and chats (call tracking / site widgets).",
    time_column="created_at",
)

DEALS = Table(
    "deals",
    (
        Column("deal_id", "VARCHAR", required=True, doc="CRM deal id"),
        Column("lead_id", "VARCHAR", doc="lead the deal came from; empty if unknown"),
        Column("created_at", "TIMESTAMP", required=True, doc="deal creation time"),
        Column("closed_at", "TIMESTAMP", doc="time the deal was won or lost"),
        Column("status", "VARCHAR", required=True, allowed=DEAL_STATUSES, doc="open, won, lost"),
        Column("status_id", "BIGINT", doc="amoCRM status id: 142 won, 143 lost"),
        Column("stage", "VARCHAR", required=True, allowed=DEAL_STAGES, doc="current stage"),
        Column("loss_reason", "VARCHAR", doc="loss reason for lost deals"),
        Column("amount", "DOUBLE", min_value=0, doc="deal amount, RUB"),
        Column("manager", "VARCHAR", doc="responsible sales manager"),
        *UTM,
        Column("region", "VARCHAR", doc="company region"),
        Column("industry", "VARCHAR", doc="company industry"),
        Column("company_size", "VARCHAR", doc="company size band (employees)"),
    ),
    key=("deal_id",),
    doc="CRM deals (amoCRM-style) with status, amount, manager and UTM fields.",
    time_column="created_at",
)

DEAL_STAGES_TABLE = Table(
    "deal_stages",
    (
        Column("deal_id", "VARCHAR", required=True, doc="CRM deal id"),
        Column("stage", "VARCHAR", required=True, allowed=DEAL_STAGES, doc="stage entered"),
        Column("entered_at", "TIMESTAMP", required=True, doc="time the stage was entered"),
    ),
    key=("deal_id", "stage"),
    doc="Stage history: one row per deal and stage reached.",
    time_column="entered_at",
)

LEAD_FIELDS = Table(
    "lead_fields",
    (
        Column("lead_id", "VARCHAR", required=True, doc="lead (request) id"),
        Column(
            "field",
            "VARCHAR",
            required=True,
            doc="field name as the form or CRM names it (e.g. monthly_ad_budget)",
        ),
        Column("value", "VARCHAR", doc="value as text (numbers with a dot); empty = not filled"),
        Column(
            "recorded_at",
            "TIMESTAMP",
            required=True,
            doc="time the value was recorded (form answers: the lead's created_at)",
        ),
    ),
    key=("lead_id", "field"),
    doc=(
        "Other fields of a lead, one row per lead and field: lead form answers, CRM custom "
        "fields, columns of other CRMs' lead exports. Lead scoring uses a value only if it "
        "was recorded by the lead's creation + 1 h (`params/scoring.yaml` names the fields); "
        "a value loaded again with another value or time is updated, the earlier version "
        "kept in `history.lead_fields`."
    ),
    time_column="recorded_at",
)

CANONICAL: dict[str, Table] = {
    t.name: t for t in (SPEND, VISITS, LEADS, LEAD_FIELDS, DEALS, DEAL_STAGES_TABLE)
}

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS main.quarantine (
  load_id VARCHAR,
  target_table VARCHAR,
  source_file VARCHAR,
  row_number BIGINT,
  column_name VARCHAR,
  reason VARCHAR,
  raw_row VARCHAR
)"""

LOAD_LOG_DDL = """
CREATE TABLE IF NOT EXISTS main.load_log (
  load_id VARCHAR,
  loaded_at TIMESTAMP,
  target_table VARCHAR,
  source_file VARCHAR,
  rows_in BIGINT,
  rows_loaded BIGINT,
  rows_quarantined BIGINT,
  rows_inserted BIGINT,
  rows_updated BIGINT,
  rows_unchanged BIGINT,
  warnings VARCHAR
)"""

LOAD_LOG_ADDED = (
    ("rows_inserted", "BIGINT"),
    ("rows_updated", "BIGINT"),
    ("rows_unchanged", "BIGINT"),
    ("warnings", "VARCHAR"),
)
"""``load_log`` columns added after its first version (added to older warehouses)."""

WAREHOUSE_META_DDL = """
CREATE TABLE IF NOT EXISTS main.warehouse_meta (
  name VARCHAR,
  value VARCHAR,
  set_at TIMESTAMP
)"""

HISTORY_COLUMNS = (
    ("valid_from", "TIMESTAMP"),
    ("valid_to", "TIMESTAMP"),
    ("load_id", "VARCHAR"),
    ("replaced_by", "VARCHAR"),
)
"""Columns a history table adds to its canonical table's stored columns."""


def history_ddl(table: Table) -> str:
    """DDL of ``history.<table>``: the stored columns plus validity interval and loads."""
    cols = [f"{c.stored_name} {c.stored_type}" for c in table.columns]
    cols += [f"{name} {dtype}" for name, dtype in HISTORY_COLUMNS]
    body = ",\n  ".join(cols)
    return f"CREATE TABLE IF NOT EXISTS {HISTORY_SCHEMA}.{table.name} (\n  {body}\n)"


_TIME_CHECK = f">= {EARLIEST_TIME:%Y-%m-%d}, <= load time + {FUTURE_SLACK.days} day"


def schema_markdown() -> str:
    """Render the canonical schema as Markdown (used for docs/schema.md)."""
    lines = ["# Warehouse schema", "", (__doc__ or "").strip(), ""]
    for table in CANONICAL.values():
        lines += [f"## `{table.name}`", "", table.doc, ""]
        history = (
            "every version kept with `valid_from`/`valid_to`"
            if table.versioned
            else "replaced rows kept with `valid_to`"
        )
        lines += [f"Key: {', '.join(table.key)}. History: `history.{table.name}`, {history}.", ""]
        lines += ["| column | type | required | check | meaning |", "|---|---|---|---|---|"]
        for c in table.columns:
            check = []
            if c.min_value is not None:
                check.append(f">= {c.min_value:g}")
            if c.allowed:
                check.append(" / ".join(c.allowed))
            if c.pii:
                check.append(f"{c.pii}, salted SHA-256")
            if c.dtype in ("DATE", "TIMESTAMP"):
                check.append(_TIME_CHECK)
            req = "yes" if c.required else ""
            lines.append(
                f"| {c.stored_name} | {c.stored_type} | {req} | {'; '.join(check)} | {c.doc} |"
            )
        lines.append("")
    lines += [
        "## Loads that update",
        "",
        "Every load upserts on the table's key. A valid row whose key is not stored is "
        "**inserted**; a key already stored with another value in at least one column "
        "present in the input is **updated** (columns absent from the input keep their "
        "stored value); an equal row is **unchanged** and nothing is written. Within one "
        "input the first valid row of a key is used and later ones are quarantined as "
        "duplicates. Loading the same file twice therefore changes no table row.",
        "",
        "Dates and timestamps are checked for plausibility: earlier than "
        f"{EARLIEST_TIME:%Y-%m-%d} (e.g. Unix epoch zero 1970-01-01) or later than the "
        f"load time + {FUTURE_SLACK.days} day(s) sends the row to quarantine, as does a "
        "NUL byte inside any value (damaged bytes).",
        "",
        "## `history.<table>`",
        "",
        "The stored columns of the table plus `valid_from` (load time the version was "
        "written; NULL = known since before the history), `valid_to` (load time it was "
        "replaced; NULL = current), `load_id` and `replaced_by` (the loads). Versioned "
        "tables (`leads`, `lead_fields`, `deals`, `deal_stages`) keep every version; "
        "`spend` and `visits` keep only replaced rows. `analytics.warehouse.history` "
        "answers as-of questions: "
        "`table_as_of(con, table, t)` (what the warehouse held at t) and "
        "`deals_as_of(con, t)` (each deal's state at t, decisions after t undone).",
        "",
        "## `quarantine`",
        "",
        "Rows that could not be loaded: one row per rejected input row, with the "
        "file, the 1-based data row number (header excluded), the first failing "
        "column and every reason.",
        "",
        "## `load_log`",
        "",
        "One row per loaded file: `rows_in`, `rows_inserted`, `rows_updated`, "
        "`rows_unchanged`, `rows_quarantined`, `rows_loaded` (= inserted + updated + "
        "unchanged) and `warnings` (input columns ignored, optional columns absent). "
        "`rows_in = rows_inserted + rows_updated + rows_unchanged + rows_quarantined` "
        "holds for every file. A dry run (`--check`) writes no row.",
        "",
        "## `warehouse_meta`",
        "",
        "`pii_salt_fingerprint`: HMAC-SHA256 of a fixed label keyed with the PII salt "
        "(16 hex digits; never the salt), recorded by the first load. A load with another "
        "salt is refused; `load --replace` (a full rebuild) records the new one.",
        "",
        "## Schema `truth` (demo data only)",
        "",
        "Ground truth written by `analytics.demo.generator`: `channel_effects` "
        "(incremental leads, MQL, SQL, sales and revenue per channel by "
        "counterfactual re-simulation), `lead_truth` (true SQL probability and "
        "defect flags per lead), `defects` (injected defect counts and rates), "
        "`creative_test` (A/B test arms and the true lift).",
        "",
    ]
    return "\n".join(lines)
