"""Role files: ``params/roles/<role>.yaml`` parsed and validated in one place.

The runner, the manifest and the e-mail all read roles through :func:`load_role`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from analytics.paths import NOTEBOOKS_DIR, PARAMS_DIR, ROOT

ROLES_DIR = PARAMS_DIR / "roles"


ROLE_KEYS = ("title", "audience", "hide_code", "notebooks", "recipients")


OPTIONAL_ROLE_KEYS = ("period", "warehouse", "parameters", "locale")
"""``period`` and ``warehouse``: the role's defaults for ``python -m analytics report``
(the command line overrides them); ``parameters``: extra notebook parameters;
``locale``: the language and number format of the role's pages and e-mail
(``ru`` or ``en``, default ``en``)."""


ROLE_LOCALES = ("ru", "en")
"""Locales a role can be written in (see :mod:`analytics.reports.formatting`)."""

DEFAULT_LOCALE = "en"


RESERVED_PARAMETERS = ("warehouse", "period", "role", "locale")
"""Keys every role file must have, and the only keys it may have."""


_ROLE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


EMAIL_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


class RoleConfigError(ValueError):
    """A role file is missing or invalid; the message names the file and key."""


@dataclass(frozen=True)
class RoleConfig:
    """Who reads a report and how it is rendered.

    Parameters
    ----------
    name : str
        Role name = file stem of ``params/roles/<name>.yaml`` = report folder.
    title : str
        Report title shown in the index and the page title.
    audience : str
        Who the report is for, in words.
    hide_code : bool
        Leadership view: code, parameter and ``analyst-only`` cells hidden.
    notebooks : tuple of pathlib.Path
        Notebooks to run, resolved (file names in ``notebooks/`` or absolute
        paths).
    recipients : tuple of str
        E-mail addresses the report goes to.
    source : pathlib.Path
        The role file.
    period : str or None
        The role's default period spec (``last-week``, ``2025-W23``...); the
        command line's ``--period`` overrides it.
    warehouse : pathlib.Path or None
        The role's warehouse (relative paths are from the project root); the
        command line's ``--warehouse`` overrides it.
    parameters : dict
        Extra notebook parameters (e.g. ``target_growth``), passed to every
        notebook of the role by Papermill.
    locale : {"ru", "en"}
        Language of every visible word and format of every figure on the
        role's pages and in its e-mail; passed to the notebooks as ``locale``.
    """

    name: str
    title: str
    audience: str
    hide_code: bool
    notebooks: tuple[Path, ...]
    recipients: tuple[str, ...]
    source: Path
    period: str | None = None
    warehouse: Path | None = None
    parameters: dict = field(default_factory=dict, hash=False, compare=False)
    locale: str = DEFAULT_LOCALE


def available_roles(roles_dir: str | Path | None = None) -> list[str]:
    """Names of the role files (``*.yaml``) in ``roles_dir``, sorted."""
    roles_dir = Path(roles_dir) if roles_dir is not None else ROLES_DIR
    return sorted(p.stem for p in roles_dir.glob("*.yaml"))


def load_role(
    name: str,
    roles_dir: str | Path | None = None,
    notebooks_dir: str | Path | None = None,
) -> RoleConfig:
    """Read and validate ``<roles_dir>/<name>.yaml``.

    Parameters
    ----------
    name : str
        Role name (letters, digits, ``_`` and ``-``).
    roles_dir : str or pathlib.Path, optional
        Folder of role files; default ``params/roles``.
    notebooks_dir : str or pathlib.Path, optional
        Folder that relative notebook names are resolved in; default
        ``notebooks/``. Absolute notebook paths are taken as they are.

    Returns
    -------
    RoleConfig

    Raises
    ------
    RoleConfigError
        (a :class:`ValueError`) naming the file and the key: missing file,
        not a mapping, unknown or missing key, wrong type, notebook file that
        does not exist, two notebooks with the same file name, bad e-mail.
    """
    roles_dir = Path(roles_dir) if roles_dir is not None else ROLES_DIR
    notebooks_dir = Path(notebooks_dir) if notebooks_dir is not None else NOTEBOOKS_DIR
    if not isinstance(name, str) or not _ROLE_NAME.match(name):
        raise RoleConfigError(f"bad role name {name!r}: use letters, digits, '_' and '-'")
    path = roles_dir / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_roles(roles_dir)) or "none"
        raise RoleConfigError(f"role file {path} not found (roles in {roles_dir}: {known})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RoleConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RoleConfigError(f"{path}: expected a mapping with keys {', '.join(ROLE_KEYS)}")

    allowed = ROLE_KEYS + OPTIONAL_ROLE_KEYS
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise RoleConfigError(
            f"{path}: unknown key {', '.join(map(repr, unknown))} (allowed: {', '.join(allowed)})"
        )
    for key in ROLE_KEYS:
        if key not in data:
            raise RoleConfigError(f"{path}: missing key {key!r}")

    for key in ("title", "audience"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise RoleConfigError(f"{path}: key {key!r} must be a non-empty string")
    if not isinstance(data["hide_code"], bool):
        raise RoleConfigError(f"{path}: key 'hide_code' must be true or false")

    entries = data["notebooks"]
    if not isinstance(entries, list) or not entries:
        raise RoleConfigError(f"{path}: key 'notebooks' must be a non-empty list of file names")
    notebooks: list[Path] = []
    for entry in entries:
        if not isinstance(entry, str) or not entry.endswith(".ipynb"):
            raise RoleConfigError(f"{path}: key 'notebooks': {entry!r} is not an .ipynb file name")
        notebook = Path(entry) if Path(entry).is_absolute() else notebooks_dir / entry
        if not notebook.is_file():
            raise RoleConfigError(f"{path}: key 'notebooks': {notebook} does not exist")
        if any(n.name == notebook.name for n in notebooks):
            raise RoleConfigError(f"{path}: key 'notebooks': {notebook.name} is listed twice")
        notebooks.append(notebook)

    recipients = data["recipients"]
    if recipients is None:
        recipients = []
    if not isinstance(recipients, list):
        raise RoleConfigError(f"{path}: key 'recipients' must be a list of e-mail addresses")
    for address in recipients:
        if not isinstance(address, str) or not EMAIL_ADDRESS.match(address.strip()):
            raise RoleConfigError(f"{path}: key 'recipients': bad e-mail address {address!r}")

    period = data.get("period")
    if period is not None:
        if not isinstance(period, str):
            raise RoleConfigError(f"{path}: key 'period' must be a string such as last-week")
        from analytics.metrics.period import parse_period  # pandas: not in the report workers

        try:
            parse_period(period, date(2000, 1, 3), bounds=(date(2000, 1, 1), date(2000, 1, 3)))
        except ValueError as exc:
            raise RoleConfigError(f"{path}: key 'period': {exc}") from None
    warehouse = data.get("warehouse")
    if warehouse is not None and (not isinstance(warehouse, str) or not warehouse.strip()):
        raise RoleConfigError(f"{path}: key 'warehouse' must be a path to a DuckDB file")
    parameters = data.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise RoleConfigError(f"{path}: key 'parameters' must be a mapping name: value")
    for key in parameters:
        if not isinstance(key, str) or not key.isidentifier():
            raise RoleConfigError(f"{path}: key 'parameters': {key!r} is not a parameter name")
        if key in RESERVED_PARAMETERS:
            raise RoleConfigError(
                f"{path}: key 'parameters': {key!r} is set by the runner (use the key {key!r})"
            )

    locale = data.get("locale", DEFAULT_LOCALE)
    if locale not in ROLE_LOCALES:
        raise RoleConfigError(
            f"{path}: key 'locale' must be one of {', '.join(ROLE_LOCALES)} (got {locale!r})"
        )

    return RoleConfig(
        name=name,
        title=data["title"].strip(),
        audience=data["audience"].strip(),
        hide_code=data["hide_code"],
        notebooks=tuple(notebooks),
        recipients=tuple(a.strip() for a in recipients),
        source=path,
        period=period,
        warehouse=(ROOT / warehouse).resolve() if warehouse else None,
        parameters=dict(parameters),
        locale=locale,
    )
