"""What counts as an MQL, an SQL and a non-target lead: explicit and configurable.

Marketing and sales argue about numbers mostly because they count different
things. This module writes the definitions down once (``params/definitions.yaml``)
and applies them to every lead of a period in :func:`lead_flags`.

MQL (Marketing Qualified Lead)
------------------------------
Two methods, chosen by ``mql.method``:

``crm`` (default)
    A lead is an MQL if one of its CRM deals *reached* ``mql.crm_stage``
    (default ``mql``) in the funnel order ``new < mql < sql < demo < proposal
    < won`` of :data:`analytics.metrics.funnel.STAGE_ORDER`: its stage history
    (``deal_stages``) or current stage holds that stage or a later one;
    ``lost`` ranks nowhere. These are the figures of :mod:`analytics.metrics.funnel`.

``rules``
    A lead is an MQL if every enabled criterion holds (the talk's checklist):

    * contact data: ``phone_hash`` or ``email_hash`` present
      (``rules.require_contact``);
    * ICP fit: ``leads.industry`` in ``rules.icp.industries`` and
      ``leads.company_size`` in ``rules.icp.company_sizes`` (an empty list
      allows any value; a missing value fails a non-empty list), or instead a
      deal reached ``rules.icp.crm_stage`` when that is set (sales confirmed
      the fit);
    * behaviour: in the visits of the lead's visitor that started at most
      ``rules.behaviour.lookback_days`` days before the lead (up to its
      creation time), the pricing page was viewed (``pricing_page: true``)
      **or** at least ``min_pageviews`` pages were viewed in total. With both
      switched off the criterion is not applied. Leads without a visitor id
      (calls without a session) have no behaviour and fail an enabled
      criterion;
    * optionally also a deal reached ``mql.crm_stage``
      (``rules.require_crm_stage``).

SQL (Sales Qualified Lead)
--------------------------
An MQL (by the method above) one of whose deals reached ``sql.crm_stage``
(default ``sql``): the deal artifact that lets the deal move down the funnel.

Non-target lead
---------------
A lead with a lost deal whose ``loss_reason`` is one of
``non_target.loss_reasons`` (default «Нецелевой»); the section also holds the
sales-time assumptions priced by :mod:`analytics.metrics.sales_cost`.

Computation
-----------
:func:`lead_flags` runs the Ibis expression
:func:`analytics.transforms.lead_facts.lead_flag_table` on the DuckDB warehouse;
the same expression runs on PySpark (``docs/backends.md``).

Counting
--------
Flags are per lead: a lead with two deals is one MQL.
:func:`analytics.metrics.funnel.funnel_summary`
counts deals, so the two agree whenever each lead has at most one deal (as in
amoCRM exports and the demo data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from analytics.metrics.funnel import STAGE_ORDER
from analytics.metrics.period import Period
from analytics.paths import PARAMS_DIR
from analytics.transforms.backends import ibis_backend
from analytics.transforms.lead_facts import LEAD_FLAG_COLUMNS, lead_flag_table

DEFINITIONS_FILE = PARAMS_DIR / "definitions.yaml"
"""Default location of the definitions."""

MQL_METHODS = ("crm", "rules")


class DefinitionsError(ValueError):
    """A definitions file (or dict) is invalid; the message names the file and key."""


@dataclass(frozen=True)
class MqlRules:
    """Rule-based MQL criteria (used when ``mql.method`` is ``rules``).

    Parameters
    ----------
    require_contact : bool
        Require a phone or an e-mail (``phone_hash`` or ``email_hash``).
    industries : tuple of str
        Allowed ``leads.industry`` values; empty = any.
    company_sizes : tuple of str
        Allowed ``leads.company_size`` bands (employees); empty = any.
    icp_crm_stage : str or None
        If set, ICP fit = a deal of the lead reached this stage, and the two
        lists above must be empty.
    pricing_page : bool
        Behaviour passes if the pricing page was viewed before the lead.
    min_pageviews : int or None
        Behaviour passes if at least this many pages were viewed before the
        lead (summed over the visits in the lookback window).
    lookback_days : int
        Visits started at most this many days before the lead count, days.
    require_crm_stage : bool
        Also require that a deal reached ``mql.crm_stage``.
    """

    require_contact: bool = True
    industries: tuple[str, ...] = ()
    company_sizes: tuple[str, ...] = ()
    icp_crm_stage: str | None = None
    pricing_page: bool = True
    min_pageviews: int | None = None
    lookback_days: int = 30
    require_crm_stage: bool = False

    @property
    def behaviour_enabled(self) -> bool:
        """Whether any behaviour criterion is switched on."""
        return self.pricing_page or self.min_pageviews is not None


@dataclass(frozen=True)
class NonTarget:
    """Non-target leads and the sales time they cost.

    Parameters
    ----------
    loss_reasons : tuple of str
        ``deals.loss_reason`` values that mark a lead as non-target.
    minutes_per_lead : float
        Sales time spent to call and disqualify one such lead, minutes.
    manager_monthly_salary : float
        Monthly salary of a sales manager, RUB.
    manager_monthly_hours : float
        Working hours of a manager per month, h.
    """

    loss_reasons: tuple[str, ...] = ("Нецелевой",)
    minutes_per_lead: float = 15.0
    manager_monthly_salary: float = 100_000.0
    manager_monthly_hours: float = 164.0

    @property
    def hourly_cost(self) -> float:
        """Cost of one manager hour = monthly salary / monthly hours, RUB/h."""
        return self.manager_monthly_salary / self.manager_monthly_hours


@dataclass(frozen=True)
class Definitions:
    """MQL, SQL and non-target definitions (see the module docstring).

    Parameters
    ----------
    mql_method : {"crm", "rules"}
        How an MQL is decided.
    mql_stage : str
        CRM stage of an MQL (method ``crm``, or ``rules.require_crm_stage``).
    rules : MqlRules
        Criteria of the ``rules`` method.
    sql_stage : str
        CRM stage a deal of an MQL must reach to make it an SQL.
    non_target : NonTarget
        Non-target loss reasons and sales-time assumptions.
    source : str
        Where the definitions came from (file path or ``<default>``), for messages.
    """

    mql_method: str = "crm"
    mql_stage: str = "mql"
    rules: MqlRules = field(default_factory=MqlRules)
    sql_stage: str = "sql"
    non_target: NonTarget = field(default_factory=NonTarget)
    source: str = "<default>"

    def describe(self) -> list[str]:
        """Human-readable sentences of the definitions, for reports."""
        if self.mql_method == "crm":
            mql = f"MQL: a deal of the lead reached CRM stage «{self.mql_stage}» or later."
        else:
            r = self.rules
            parts = []
            if r.require_contact:
                parts.append("phone or e-mail present")
            if r.icp_crm_stage:
                parts.append(f"ICP confirmed by CRM stage «{r.icp_crm_stage}»")
            else:
                icp = []
                if r.industries:
                    icp.append("industry in " + ", ".join(r.industries))
                if r.company_sizes:
                    icp.append("company size in " + ", ".join(r.company_sizes))
                if icp:
                    parts.append(" and ".join(icp))
            if r.behaviour_enabled:
                behaviour = []
                if r.pricing_page:
                    behaviour.append("pricing page viewed")
                if r.min_pageviews is not None:
                    behaviour.append(f"≥ {r.min_pageviews} pageviews")
                parts.append(
                    " or ".join(behaviour) + f" within {r.lookback_days} days before the lead"
                )
            if r.require_crm_stage:
                parts.append(f"a deal reached CRM stage «{self.mql_stage}»")
            mql = "MQL (rules): " + ("; ".join(parts) if parts else "every lead") + "."
        sql = f"SQL: an MQL whose deal reached CRM stage «{self.sql_stage}» or later."
        reasons = ", ".join(f"«{r}»" for r in self.non_target.loss_reasons)
        non_target = f"Non-target: a lead whose deal was lost with reason {reasons}."
        return [mql, sql, non_target]


DEFAULT_DEFINITIONS = Definitions()
"""CRM-stage definitions, consistent with :mod:`analytics.metrics.funnel`."""


# --------------------------------------------------------------------------- loading


def load_definitions(path: str | Path | None = None) -> Definitions:
    """Read and validate a definitions file.

    Parameters
    ----------
    path : str or Path, optional
        YAML file; defaults to ``params/definitions.yaml``.

    Returns
    -------
    Definitions

    Raises
    ------
    DefinitionsError
        If the file is missing, is not YAML, or a key is unknown, missing or
        has a bad value; the message starts with ``<file>: <key>:``.
    """
    path = Path(path) if path is not None else DEFINITIONS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DefinitionsError(f"{path}: cannot read the definitions file: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DefinitionsError(f"{path}: not valid YAML: {exc}") from None
    return definitions_from_dict(data, source=str(path))


def definitions_from_dict(data: Any, source: str = "<dict>") -> Definitions:
    """Validate a parsed definitions mapping (the YAML structure) into :class:`Definitions`.

    Parameters
    ----------
    data : dict
        Sections ``mql``, ``sql`` and ``non_target`` (each optional; missing
        keys take the defaults of :data:`DEFAULT_DEFINITIONS`).
    source : str
        File name used in error messages.

    Raises
    ------
    DefinitionsError
        ``<source>: <key>: <problem>`` for the first problem found.
    """
    check = _Checker(source)
    top = check.mapping(data if data is not None else {}, "", ("mql", "sql", "non_target"))
    mql = check.mapping(top.get("mql", {}), "mql", ("method", "crm_stage", "rules"))
    sql = check.mapping(top.get("sql", {}), "sql", ("crm_stage",))
    rules = check.mapping(
        mql.get("rules", {}),
        "mql.rules",
        ("require_contact", "icp", "behaviour", "require_crm_stage"),
    )
    icp = check.mapping(
        rules.get("icp", {}), "mql.rules.icp", ("industries", "company_sizes", "crm_stage")
    )
    behaviour = check.mapping(
        rules.get("behaviour", {}),
        "mql.rules.behaviour",
        ("pricing_page", "min_pageviews", "lookback_days"),
    )
    nt = check.mapping(
        top.get("non_target", {}),
        "non_target",
        ("loss_reasons", "minutes_per_lead", "manager_monthly_salary", "manager_monthly_hours"),
    )

    d_rules, d_nt = MqlRules(), NonTarget()
    method = mql.get("method", DEFAULT_DEFINITIONS.mql_method)
    if method not in MQL_METHODS:
        check.fail("mql.method", f"must be one of {', '.join(MQL_METHODS)}, got {method!r}")
    industries = check.strings(icp.get("industries", []), "mql.rules.icp.industries")
    sizes = check.strings(icp.get("company_sizes", []), "mql.rules.icp.company_sizes")
    icp_stage = icp.get("crm_stage")
    if icp_stage is not None:
        check.stage(icp_stage, "mql.rules.icp.crm_stage")
        if industries or sizes:
            check.fail(
                "mql.rules.icp.crm_stage",
                "use either crm_stage or the industries/company_sizes lists, not both",
            )
    min_pv = behaviour.get("min_pageviews", d_rules.min_pageviews)
    if min_pv is not None:
        check.positive_int(min_pv, "mql.rules.behaviour.min_pageviews")
    lookback = behaviour.get("lookback_days", d_rules.lookback_days)
    check.positive_int(lookback, "mql.rules.behaviour.lookback_days")
    reasons = check.strings(
        nt.get("loss_reasons", list(d_nt.loss_reasons)), "non_target.loss_reasons"
    )
    if not reasons:
        check.fail("non_target.loss_reasons", "must list at least one loss reason")

    return Definitions(
        mql_method=method,
        mql_stage=check.stage(mql.get("crm_stage", DEFAULT_DEFINITIONS.mql_stage), "mql.crm_stage"),
        rules=MqlRules(
            require_contact=check.boolean(
                rules.get("require_contact", d_rules.require_contact), "mql.rules.require_contact"
            ),
            industries=industries,
            company_sizes=sizes,
            icp_crm_stage=icp_stage,
            pricing_page=check.boolean(
                behaviour.get("pricing_page", d_rules.pricing_page),
                "mql.rules.behaviour.pricing_page",
            ),
            min_pageviews=min_pv,
            lookback_days=lookback,
            require_crm_stage=check.boolean(
                rules.get("require_crm_stage", d_rules.require_crm_stage),
                "mql.rules.require_crm_stage",
            ),
        ),
        sql_stage=check.stage(sql.get("crm_stage", DEFAULT_DEFINITIONS.sql_stage), "sql.crm_stage"),
        non_target=NonTarget(
            loss_reasons=reasons,
            minutes_per_lead=check.positive_number(
                nt.get("minutes_per_lead", d_nt.minutes_per_lead), "non_target.minutes_per_lead"
            ),
            manager_monthly_salary=check.positive_number(
                nt.get("manager_monthly_salary", d_nt.manager_monthly_salary),
                "non_target.manager_monthly_salary",
            ),
            manager_monthly_hours=check.positive_number(
                nt.get("manager_monthly_hours", d_nt.manager_monthly_hours),
                "non_target.manager_monthly_hours",
            ),
        ),
        source=source,
    )


class _Checker:
    """Validation of one definitions source; every failure names ``source: key``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> None:
        where = f"{self.source}: {key}" if key else self.source
        raise DefinitionsError(f"{where}: {problem}")

    def mapping(self, value: Any, key: str, allowed: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            self.fail(key or "(top level)", f"must be a mapping, got {type(value).__name__}")
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            prefix = f"{key}." if key else ""
            self.fail(prefix + unknown[0], f"unknown key; allowed keys here: {', '.join(allowed)}")
        return value

    def stage(self, value: Any, key: str) -> str:
        if value not in STAGE_ORDER:
            self.fail(key, f"must be a CRM stage ({', '.join(STAGE_ORDER)}), got {value!r}")
        return value

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(key, f"must be a list of non-empty strings, got {value!r}")
        return tuple(value)

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, got {value!r}")
        return value

    def positive_int(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(key, f"must be a positive integer, got {value!r}")
        return value

    def positive_number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            self.fail(key, f"must be a positive number, got {value!r}")
        return float(value)


# --------------------------------------------------------------------------- flags


FLAG_COLUMNS = LEAD_FLAG_COLUMNS[: LEAD_FLAG_COLUMNS.index("is_non_target") + 1]
"""Columns of :func:`lead_flags`, in order (plus the inputs of the rules after them)."""


def lead_flags(con, period: Period, definitions: Definitions | None = None) -> pd.DataFrame:
    """MQL / SQL flags and funnel facts of every lead created in the period.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse with the canonical tables.
    period : Period
        Leads with ``created_at`` in the period's days (the cohort of
        :mod:`analytics.metrics.funnel`).
    definitions : Definitions, optional
        Defaults to :data:`DEFAULT_DEFINITIONS` (CRM stages).

    Returns
    -------
    pandas.DataFrame
        One row per lead (by ``created_at``, then ``lead_id``):

        * ``lead_id``, ``created_at``, ``lead_type``, ``visitor_id``;
        * ``channel``, ``source``, ``campaign`` -- ``channel``, ``utm_source``,
          ``utm_campaign`` of the lead's visit (``undetermined`` without a
          tracked visit or UTM value);
        * ``has_contact`` -- phone or e-mail present;
        * ``icp_fit``, ``behaviour_fit`` -- the ``rules`` criteria (evaluated
          whatever the method, for inspection; True when a criterion is off);
        * ``crm_mql`` -- a deal reached ``mql_stage``;
        * ``reached_stage`` -- furthest funnel stage any deal of the lead
          reached (missing without a deal or for a deal lost before ``new``);
        * ``is_mql``, ``is_sql`` -- by the definitions; ``is_sql`` implies ``is_mql``;
        * ``is_won`` -- a deal reached ``won``; ``revenue`` -- amount of the won
          deals, RUB;
        * ``is_non_target`` -- a deal was lost with a non-target reason;
        * then the inputs: ``industry``, ``company_size``, ``pricing_viewed``,
          ``pageviews_before`` (pages in the lookback window), ``deals``.
    """
    definitions = definitions or DEFAULT_DEFINITIONS
    with ibis_backend(con) as backend:
        expr = lead_flag_table(backend, period.start, period.end_exclusive, definitions)
        flags = backend.execute(expr)
    return flags[list(LEAD_FLAG_COLUMNS)].reset_index(drop=True)


def flag_counts(flags: pd.DataFrame) -> dict[str, int]:
    """Leads, MQL, SQL, sales and non-target leads of a :func:`lead_flags` frame.

    Returns
    -------
    dict
        ``leads`` = rows, ``mql`` = sum(is_mql), ``sql_leads`` = sum(is_sql),
        ``sales`` = sum(is_won), ``non_target`` = sum(is_non_target) (counts of leads).
    """
    return {
        "leads": len(flags),
        "mql": int(flags["is_mql"].sum()),
        "sql_leads": int(flags["is_sql"].sum()),
        "sales": int(flags["is_won"].sum()),
        "non_target": int(flags["is_non_target"].sum()),
    }
