"""Channel grouping: traffic source / medium / campaign -> channel, by editable rules.

The rules live in ``params/channels.yaml`` (see the comments there): an
ordered list, first match wins, each condition an exact value, a list of
values or a full-match regular expression, compared trimmed and
case-insensitively; ``default`` names the channel of traffic no rule matches.
Adapters call :meth:`ChannelRules.assign` on whole columns.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from analytics import paths
from analytics.warehouse import InputError

DEFAULT_RULES_FILE = paths.PARAMS_DIR / "channels.yaml"
"""Channel rules of the project found at import (see :func:`default_rules_file`)."""


def default_rules_file() -> Path:
    """``<project>/params/channels.yaml``, else the bundled default (:mod:`analytics.paths`).

    Raises
    ------
    InputError
        Neither exists: one line saying how to set the project folder.
    """
    try:
        return paths.params_file("channels.yaml")
    except FileNotFoundError as err:
        raise InputError(str(err)) from None


FIELDS = ("source", "medium", "campaign")
"""Traffic attributes a rule can test."""


@dataclass(frozen=True)
class Condition:
    """One field test of a rule: exact values (``values``) or a regular expression."""

    field: str
    values: frozenset[str] | None = None
    pattern: re.Pattern | None = None

    def matches(self, column: pd.Series) -> pd.Series:
        """Boolean mask of ``column`` (trimmed, lower-cased, missing as ``""``)."""
        if self.pattern is not None:
            return column.map(lambda v: self.pattern.fullmatch(v) is not None).astype(bool)
        return column.isin(self.values)


@dataclass(frozen=True)
class ChannelRule:
    """A channel and the conditions (all must hold) that select it."""

    channel: str
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class ChannelRules:
    """Ordered channel rules with a default channel.

    Parameters
    ----------
    rules : tuple of ChannelRule
        Tried in order; the first whose conditions all hold wins.
    default : str
        Channel of traffic no rule matches.
    origin : str
        Where the rules came from (for messages).
    """

    rules: tuple[ChannelRule, ...]
    default: str = "unassigned"
    origin: str = "<rules>"

    @classmethod
    def from_dict(cls, spec: dict, origin: str = "<rules>") -> ChannelRules:
        """Rules from the parsed YAML structure ``{"default": ..., "rules": [...]}``.

        Raises
        ------
        InputError
            Unknown keys, a rule without ``channel``, a bad value or regex; the
            message names ``origin`` and the rule number (1-based).
        """
        if not isinstance(spec, dict) or not isinstance(spec.get("rules"), list):
            raise InputError(f"{origin}: expected a mapping with a 'rules' list")
        unknown = set(spec) - {"default", "rules", "labels"}
        if unknown:
            raise InputError(f"{origin}: unknown key(s) {', '.join(sorted(unknown))}")
        rules = []
        for number, item in enumerate(spec["rules"], start=1):
            where = f"{origin}: rule {number}"
            if not isinstance(item, dict) or not item.get("channel"):
                raise InputError(f"{where}: needs a 'channel'")
            bad = set(item) - {"channel", *FIELDS}
            if bad:
                raise InputError(
                    f"{where}: unknown field(s) {', '.join(sorted(bad))}; "
                    f"a rule tests {', '.join(FIELDS)}"
                )
            conditions = tuple(
                _condition(name, item[name], where) for name in FIELDS if name in item
            )
            rules.append(ChannelRule(str(item["channel"]), conditions))
        return cls(tuple(rules), str(spec.get("default") or "unassigned"), origin)

    @classmethod
    def from_yaml(cls, path: str | Path | None = None) -> ChannelRules:
        """Rules from a YAML file (:func:`default_rules_file` by default)."""
        path = default_rules_file() if path is None else Path(path)
        if not path.is_file():
            raise InputError(f"{path}: channel rules file not found")
        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise InputError(f"{path}: not valid YAML: {err}") from None
        return cls.from_dict(spec, str(path))

    def assign(
        self,
        source: pd.Series,
        medium: pd.Series,
        campaign: pd.Series | None = None,
    ) -> pd.Series:
        """Channel of each row.

        Parameters
        ----------
        source, medium, campaign : pandas.Series
            Aligned columns; missing values count as ``""``.

        Returns
        -------
        pandas.Series
            Channel names (object dtype), ``default`` where no rule matched.
        """
        rows = pd.DataFrame(
            {
                "source": _normal(source),
                "medium": _normal(medium),
                "campaign": _normal(
                    campaign if campaign is not None else pd.Series("", index=source.index)
                ),
            }
        )
        # Rules are evaluated once per distinct (source, medium, campaign).
        distinct = rows.drop_duplicates().reset_index(drop=True)
        result = pd.Series(None, index=distinct.index, dtype=object)
        open_rows = pd.Series(True, index=distinct.index)
        for rule in self.rules:
            mask = open_rows.copy()
            for condition in rule.conditions:
                if not mask.any():
                    break
                mask &= condition.matches(distinct[condition.field])
            result[mask] = rule.channel
            open_rows &= ~mask
        result[open_rows] = self.default
        distinct["channel"] = result
        channel = rows.merge(distinct, on=list(FIELDS), how="left")["channel"]
        return pd.Series(channel.to_numpy(dtype=object), index=source.index, dtype=object)


def _normal(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype(str).str.strip().str.lower()


def _condition(name: str, value, where: str) -> Condition:
    if isinstance(value, dict):
        if set(value) != {"regex"}:
            raise InputError(f"{where}: {name} must be a value, a list or {{regex: ...}}")
        try:
            return Condition(name, pattern=re.compile(str(value["regex"]), re.IGNORECASE))
        except re.error as err:
            raise InputError(f"{where}: bad regex for {name}: {err}") from None
    if isinstance(value, list):
        return Condition(name, values=frozenset(str(v).strip().lower() for v in value))
    if value is None or isinstance(value, (str, int, float)):
        text = "" if value is None else str(value)
        return Condition(name, values=frozenset({text.strip().lower()}))
    raise InputError(f"{where}: {name} must be a value, a list or {{regex: ...}}")


def load_channel_rules(rules: str | Path | ChannelRules | None = None) -> ChannelRules:
    """Channel rules given as rules, a YAML path, or None for ``params/channels.yaml``."""
    if isinstance(rules, ChannelRules):
        return rules
    return ChannelRules.from_yaml(rules)


def channel_labels(path: str | Path | None = None) -> dict[str, dict[str, str]]:
    """Channel names for people: the ``labels`` of ``params/channels.yaml``.

    ``labels: {yandex_search: {ru: Яндекс Поиск, en: Yandex Search}, ...}``;
    a file without ``labels`` gives ``{}``. The file is parsed once per version
    (path, modification time and size), not once per label: a page asks for a
    label per table row.

    Raises
    ------
    InputError
        If ``labels`` is not a mapping of channel to ``{ru: ..., en: ...}``.
    """
    return {k: dict(v) for k, v in _labels(path).items()}


def _labels(path: str | Path | None) -> dict[str, dict[str, str]]:
    """:func:`channel_labels` without the copy (callers must not modify it)."""
    path = Path(path) if path is not None else default_rules_file()
    if not path.is_file():
        return {}
    stat = path.stat()
    return _parsed_labels(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _parsed_labels(path: str, mtime_ns: int, size: int) -> dict[str, dict[str, str]]:
    """The ``labels`` of one version of a channels file (``mtime_ns``, ``size``: cache key)."""
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    labels = spec.get("labels") or {} if isinstance(spec, dict) else {}
    if not isinstance(labels, dict) or not all(isinstance(v, dict) for v in labels.values()):
        raise InputError(f"{path}: 'labels' must map a channel to {{ru: ..., en: ...}}")
    return {str(k): {str(lang): str(text) for lang, text in v.items()} for k, v in labels.items()}


def channel_label(channel: str, locale: str = "ru", path: str | Path | None = None) -> str:
    """The label of ``channel`` in ``locale`` (``ru``/``en``); the name itself if none."""
    language = "ru" if str(locale).lower().startswith("ru") else "en"
    return _labels(path).get(str(channel), {}).get(language, str(channel))
