"""A lead export's status and outcome columns -> ``deals`` and ``deal_stages`` rows.

HubSpot, Bitrix24 and Pipedrive exports read by :mod:`analytics.sources.crm_leads`
say what sales did with each lead (Pipedrive ``Deal - Status`` open / won / lost
with ``Deal - Value``, ``Deal - Won time``, ``Deal - Lost time``, ``Deal - Lost
reason``; Bitrix24 ``Стадия`` «Сконвертирован», «Некачественный лид», deal
stages «Сделка успешна» / «Сделка провалена», ``Сумма`` / ``Возможная сумма``;
HubSpot ``Lifecycle Stage`` customer / opportunity / ..., ``Deal Stage``
closedwon / closedlost, ``Amount``, ``Close Date``). This module turns them into
one ``deals`` row per lead (``deal_id`` = ``lead_id``, the row's own id) and the
stages it is known to have entered, so revenue, win rate and the scoring labels
(:func:`analytics.scoring.features.sql_target`) work for a company whose CRM is
one of these.

Status vocabulary
-----------------
Each value of the status and stage columns is looked up in :data:`VOCABULARY`
(compared lower-cased with everything but letters and digits removed, so
``Closed Won``, ``closedwon`` and ``Closed-Won`` are one key; ``ё`` = ``е``):
it gives the deal status (``won``, ``lost`` or ``open``) and, for open deals,
the canonical stage when the value says one (``new < mql < sql < demo <
proposal``). A row is **won** when any of its status and stage values is a won
value, else **lost** when any is a lost value, else **open** at the stage its
stage column (then its status column) names, ``new`` when neither names one.
A value that is not in the vocabulary is *not guessed*: the deal counts as open
and the load summary lists the value and how many rows had it, with the options
that name it. The vocabulary is extended per load or in ``params/sources.yaml``
(``leads: options:``): ``won=[...]``, ``lost=[...]``, ``open=[...]`` (lists or
one text) and ``stages={"Their stage": proposal}``.

Amounts
-------
:func:`money_text` reads ``1 234,50 ₽``, ``$1,234.50``, ``RUB 1234``,
``1.234,50 EUR``: a currency sign or code before or after the number (or the
export's currency column, else ``currency``, RUB by default), thousands
separated by spaces (also no-break), commas or dots. Warehouse money is RUB: an
amount in another currency is multiplied by ``rates[code]`` (RUB per unit); one
without a rate, or text that is not a number, quarantines the deal row naming
the export's column and the value.

Times
-----
* ``closed_at`` of a won deal: the won-time column (``Deal - Won time``,
  ``Became a Customer Date``), else the close-date column (``Close Date``,
  ``Deal - Close time``, ``Дата закрытия``), else the export's last-modified
  time (counted in the notes); of a lost deal the same with the lost-time
  column. Open deals have no ``closed_at`` (a close date there is an expected
  one).
* ``deal_stages``: ``new`` at the lead's creation; ``mql`` / ``sql`` at
  HubSpot's ``Became a Marketing Qualified Lead Date`` / ``Became a Sales
  Qualified Lead Date`` (or ``Became an Opportunity Date``); the open deal's
  current stage at the stage-change column (``Deal - Last stage change``), else
  the last-modified time; ``won`` / ``lost`` at ``closed_at``. A stage already
  stored keeps its earlier time (a later export's modified time does not move
  it), so loading the same export twice changes nothing and a newer export only
  adds the stages the deal entered since.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from babel.numbers import list_currencies

from analytics.sources.amocrm import DEFAULT_STAGES as AMOCRM_STAGES
from analytics.sources.reading import number_text
from analytics.warehouse import InputError
from analytics.warehouse.schema import DEAL_STAGES

OPEN_STAGES = ("new", "mql", "sql", "demo", "proposal")
"""Canonical stages of an open deal, in funnel order."""

VOCABULARY: dict[str, tuple[str, str | None]] = {
    # generic and Pipedrive `Deal - Status`
    "open": ("open", None),
    "won": ("won", "won"),
    "lost": ("lost", "lost"),
    # Pipedrive default pipeline (`Deal - Stage`)
    "Lead In": ("open", "new"),
    "Qualified": ("open", "mql"),
    "Contact Made": ("open", "mql"),
    "Demo Scheduled": ("open", "demo"),
    "Proposal Made": ("open", "proposal"),
    "Negotiations Started": ("open", "proposal"),
    # HubSpot default deal pipeline (`Deal Stage`, labels and internal values)
    "Appointment Scheduled": ("open", "sql"),
    "Qualified To Buy": ("open", "sql"),
    "Presentation Scheduled": ("open", "demo"),
    "Decision Maker Bought-In": ("open", "proposal"),
    "Contract Sent": ("open", "proposal"),
    "Closed Won": ("won", "won"),
    "Closed Lost": ("lost", "lost"),
    # HubSpot `Lifecycle Stage`
    "Subscriber": ("open", "new"),
    "Lead": ("open", "new"),
    "Marketing Qualified Lead": ("open", "mql"),
    "marketingqualifiedlead": ("open", "mql"),
    "Sales Qualified Lead": ("open", "sql"),
    "salesqualifiedlead": ("open", "sql"),
    "Opportunity": ("open", "sql"),
    "Customer": ("won", "won"),
    "Evangelist": ("won", "won"),
    # HubSpot `Lead Status`
    "New": ("open", "new"),
    "In Progress": ("open", None),
    "Open Deal": ("open", "sql"),
    "Attempted to Contact": ("open", None),
    "Connected": ("open", None),
    "Bad Timing": ("open", None),
    "Unqualified": ("lost", "lost"),
    # Bitrix24 lead statuses (`Стадия`): a converted lead became a contact and a
    # deal -- qualified, not yet a sale (its revenue is the deal's)
    "Не обработан": ("open", "new"),
    "В работе": ("open", None),
    "Обработан": ("open", "mql"),
    "Сконвертирован": ("open", "sql"),
    "Качественный лид": ("open", "sql"),
    "Некачественный лид": ("lost", "lost"),
    # Bitrix24 default deal stages (`Стадия сделки`)
    "Новая": ("open", "new"),
    "Подготовка документов": ("open", "proposal"),
    "Счёт на предоплату": ("open", "proposal"),
    "Финальный счёт": ("open", "proposal"),
    "Сделка успешна": ("won", "won"),
    "Сделка провалена": ("lost", "lost"),
    "Анализ причины провала": ("lost", "lost"),
    # amoCRM stage names (the amocrm adapter's defaults) and the canonical names
    **{
        name: ({"won": "won", "lost": "lost"}.get(stage, "open"), stage)
        for name, stage in AMOCRM_STAGES.items()
    },
    **{s: ({"won": "won", "lost": "lost"}.get(s, "open"), s) for s in DEAL_STAGES},
}
"""Vendor status / stage value -> (deal status, canonical stage or None).

Checked against the vendors' documentation: Pipedrive deal ``status`` is
open / won / lost (deleted deals are not exported) and its default pipeline
Lead In / Qualified / Contact Made / Demo Scheduled / Proposal Made /
Negotiations Started; HubSpot's default deal stages (Appointment Scheduled ...
Contract Sent, Closed Won, Closed Lost; internal ``closedwon`` /
``closedlost``), lifecycle stages (subscriber ... customer, evangelist) and
lead statuses; Bitrix24 lead statuses (success «Сконвертирован» / «Качественный
лид», failure «Некачественный лид») and default deal stages."""

CURRENCY_SIGNS = {"₽": "RUB", "$": "USD", "€": "EUR", "£": "GBP", "₸": "KZT", "¥": "CNY"}
"""Currency signs read in amounts."""

CURRENCY_WORDS = {"руб": "RUB", "р": "RUB", "rur": "RUB", "тг": "KZT", "тенге": "KZT"}
"""Currency words (lower case, without the final dot) read in amounts."""

CURRENCY_NAMES = {
    "российскийрубль": "RUB",
    "рубль": "RUB",
    "рубли": "RUB",
    "руб": "RUB",
    "долларсша": "USD",
    "доллар": "USD",
    "usdollar": "USD",
    "евро": "EUR",
    "euro": "EUR",
    "тенге": "KZT",
}
"""Currency names of currency columns (Bitrix24 writes ``Российский рубль``), keyed as
:func:`vocabulary_key` keys them."""

ACCOUNT_CURRENCY = "RUB"
"""Currency of warehouse money; other currencies need a rate."""

CURRENCY_CODES = frozenset(list_currencies())
"""ISO 4217 codes (Babel's list): a three-letter word in an amount is a currency only if
it is one of them, so ``80 OOO`` (letters O) is refused as not a number."""

_SIGN = "|".join(re.escape(s) for s in CURRENCY_SIGNS)
_WORD = "|".join(sorted(CURRENCY_WORDS, key=len, reverse=True))
_TOKEN = rf"(?:{_SIGN}|[A-Za-z]{{3}}\b|(?:{_WORD})\.?(?![а-яА-Я]))"
_MONEY = re.compile(
    rf"^\s*(?P<pre>{_TOKEN})?\s*(?P<num>[-+]?[\d\s.,\u00a0\u202f']*\d)\s*(?P<post>{_TOKEN})?\s*$"
)
_FLOAT = re.compile(r"[+-]?\d+(\.\d+)?")


def vocabulary_key(value: str) -> str:
    """Lookup key of a status or stage value: lower case, letters and digits only, ё = е."""
    return re.sub(r"[\W_]+", "", value.lower().replace("ё", "е"))


def _as_list(value, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return [str(v) for v in value]
    raise InputError(f"option {name}: expected a text or a list of texts, got {value!r}")


def build_vocabulary(
    won=None, lost=None, open=None, stages: Mapping[str, str] | None = None
) -> dict[str, tuple[str, str | None]]:
    """:data:`VOCABULARY` with the user's values added (they take precedence).

    Parameters
    ----------
    won, lost, open : str or list of str, optional
        More values meaning a won, lost or open (stage not said) deal.
    stages : mapping, optional
        ``{their stage: canonical stage}``; ``won`` / ``lost`` make the deal won / lost.

    Raises
    ------
    InputError
        A stage that is not canonical, or a value given as two outcomes.
    """
    table = {vocabulary_key(k): v for k, v in VOCABULARY.items()}
    given: dict[str, str] = {}
    for value, stage in (stages or {}).items():
        if stage not in DEAL_STAGES:
            raise InputError(
                f"option stages: {value!r}={stage!r}: {stage!r} is not a stage; "
                f"stages: {', '.join(DEAL_STAGES)}"
            )
        status = stage if stage in ("won", "lost") else "open"
        table[vocabulary_key(str(value))] = (status, stage)
    for status, values in (("won", won), ("lost", lost), ("open", open)):
        for value in _as_list(values, status):
            key = vocabulary_key(value)
            if key in given and given[key] != status:
                raise InputError(f"option {status}: {value!r} is also given as {given[key]}")
            given[key] = status
            table[key] = (status, None if status == "open" else status)
    return table


@dataclass
class Outcomes:
    """Deal status and stage of every row, with what could not be classified.

    ``reached`` is the open stage (``new`` ... ``proposal``) a value names, also
    for closed deals: a Pipedrive deal won or lost keeps the pipeline stage it
    was in (``Proposal Made``), i.e. the last stage it reached before closing.
    """

    status: pd.Series
    stage: pd.Series
    reached: pd.Series
    unknown: Counter = field(default_factory=Counter)
    conflicts: int = 0


def classify(
    status_values: pd.Series,
    stage_values: pd.Series,
    vocabulary: Mapping[str, tuple[str, str | None]],
) -> Outcomes:
    """Deal status and canonical stage per row (rule in the module docstring)."""
    statuses, stages, reached = [], [], []
    unknown: Counter = Counter()
    conflicts = 0
    for raw_status, raw_stage in zip(status_values, stage_values, strict=True):
        found = []
        for raw in (raw_stage, raw_status):
            if not isinstance(raw, str) or not raw.strip():
                found.append(None)
                continue
            hit = vocabulary.get(vocabulary_key(raw))
            if hit is None:
                unknown[raw.strip()] += 1
            found.append(hit)
        outcomes = {hit[0] for hit in found if hit}
        named = [hit[1] for hit in found if hit and hit[1] in OPEN_STAGES]
        reached.append(named[0] if named else None)
        if {"won", "lost"} <= outcomes:
            conflicts += 1
        if "won" in outcomes:
            statuses.append("won")
            stages.append("won")
        elif "lost" in outcomes:
            statuses.append("lost")
            stages.append("lost")
        else:
            statuses.append("open")
            stages.append(named[0] if named else "new")
    index = status_values.index
    return Outcomes(
        pd.Series(statuses, index=index, dtype=object),
        pd.Series(stages, index=index, dtype=object),
        pd.Series(reached, index=index, dtype=object),
        unknown,
        conflicts,
    )


def money_text(
    values: pd.Series,
    currency_column: pd.Series,
    *,
    currency: str = ACCOUNT_CURRENCY,
    rates: Mapping[str, float] | None = None,
    decimal_comma: bool = True,
) -> tuple[pd.Series, dict[int, str]]:
    """Amounts with currency text -> RUB as dot-decimal text, and the rows that fail.

    Parameters
    ----------
    values : pandas.Series
        Amount texts (``1 234,50 ₽``, ``$1,234.50``, ``RUB 1234``); None = empty.
    currency_column : pandas.Series
        The export's currency per row (None where absent), used when the
        amount carries no sign or code.
    currency : str
        Currency of amounts without a sign, code or currency column.
    rates : mapping, optional
        RUB per unit of other currencies (``{"USD": 92.5}``).
    decimal_comma : bool
        How an ambiguous ``1,234`` reads (:func:`analytics.sources.reading.number_text`).

    Returns
    -------
    amounts : pandas.Series
        ``amount × rate`` rounded to kopecks as text (None where empty or failed).
    failures : dict
        Position in ``values`` -> reason, for the rows to quarantine.
    """
    table = {ACCOUNT_CURRENCY: 1.0, "RUR": 1.0} | {
        str(k).upper(): float(v) for k, v in (rates or {}).items()
    }
    parts, codes, failures = [], [], {}
    for i, (raw, column_code) in enumerate(zip(values, currency_column, strict=True)):
        if not isinstance(raw, str) or not raw.strip():
            parts.append(None)
            codes.append(None)
            continue
        m = _MONEY.match(raw)
        token = m and (m["pre"] or m["post"])
        if not m or (m["pre"] and m["post"]) or (token and not _currency_code(token)):
            failures[i] = f"amount: not a money amount: {raw!r}"
            parts.append(None)
            codes.append(None)
            continue
        code = _currency_code(token) if token else None
        if not code and isinstance(column_code, str) and column_code.strip():
            code = _currency_code(column_code) or column_code.strip()
        parts.append(m["num"].replace("'", ""))
        codes.append(code or currency.upper())
    numbers = number_text(pd.Series(parts, dtype=object), decimal_comma=decimal_comma)
    out: list[str | None] = []
    for i, (raw, number, code) in enumerate(zip(values, numbers, codes, strict=True)):
        if i in failures or number is None:
            out.append(None)
            continue
        if not _FLOAT.fullmatch(number):
            failures[i] = f"amount: not a money amount: {raw!r}"
            out.append(None)
            continue
        if code not in table:
            failures[i] = (
                f"amount: {raw!r} is in {code}, warehouse money is {ACCOUNT_CURRENCY}: "
                f"pass --option rates={{{code}: <RUB per unit>}}"
            )
            out.append(None)
            continue
        out.append(f"{round(float(number) * table[code], 2):.2f}")
    return pd.Series(out, index=values.index, dtype=object), failures


def _currency_code(token: str) -> str | None:
    """ISO code of a currency sign, word, name or code; None if it is none of them."""
    token = token.strip()
    if token in CURRENCY_SIGNS:
        return CURRENCY_SIGNS[token]
    word = token.lower().rstrip(".")
    code = CURRENCY_WORDS.get(word) or CURRENCY_NAMES.get(vocabulary_key(token))
    if code:
        return code
    return token.upper() if token.upper() in CURRENCY_CODES else None


def earliest(*columns: pd.Series) -> pd.Series:
    """Per row, the first non-empty value of ``columns`` (in order)."""
    out = columns[0].copy()
    for column in columns[1:]:
        out = out.where(out.notna(), column)
    return out


def keep_earlier_stages(con, stages: pd.DataFrame) -> pd.DataFrame:
    """``stages`` with ``entered_at`` replaced by the stored time where that is earlier.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse holding ``deal_stages``.
    stages : pandas.DataFrame
        ``deal_id``, ``stage``, ``entered_at`` (ISO text).
    """
    if stages.empty:
        return stages
    stored = con.execute(
        "SELECT deal_id, stage, strftime(entered_at, '%Y-%m-%d %H:%M:%S') AS stored "
        "FROM main.deal_stages WHERE deal_id IN (SELECT unnest($ids))",
        {"ids": sorted(set(stages["deal_id"].dropna()))},
    ).df()
    if stored.empty:
        return stages
    merged = stages.merge(stored, on=["deal_id", "stage"], how="left")
    new = pd.to_datetime(merged["entered_at"], errors="coerce", format="ISO8601")
    old = pd.to_datetime(merged["stored"], errors="coerce", format="ISO8601")
    earlier = (old.notna() & new.notna() & (old < new)).to_numpy()
    out = stages.copy()
    out.loc[earlier, "entered_at"] = merged.loc[earlier, "stored"].to_numpy()
    return out


def is_iso_time(values: pd.Series) -> np.ndarray:
    """Whether each text parses as an ISO date / time (None counts as parsing)."""
    parsed = pd.to_datetime(values, errors="coerce", format="ISO8601")
    return (values.isna() | parsed.notna()).to_numpy()
