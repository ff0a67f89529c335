"""E-mail settings: ``params/email.yaml``, validated; the password only from the environment."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

import yaml

from analytics import paths
from analytics.reports.roles import EMAIL_ADDRESS

SUBJECT_FIELDS = ("role", "role_title", "period", "label")


DEFAULT_CONFIG = paths.PARAMS_DIR / "email.yaml"


CONFIG_KEYS = (
    "host",
    "port",
    "starttls",
    "ssl",
    "username",
    "password_env",
    "from",
    "subject",
    "timeout_s",
    "max_attachment_mb",
)
"""Keys ``params/email.yaml`` may have."""


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class EmailConfig:
    """SMTP settings from ``params/email.yaml`` (see :func:`load_email_config`).

    Parameters
    ----------
    host : str
        SMTP server.
    port : int
        SMTP port (587 with STARTTLS, 465 with SSL, 25 for a relay).
    starttls : bool
        Upgrade the connection with STARTTLS after connecting.
    ssl : bool
        Implicit TLS from the first byte (``smtplib.SMTP_SSL``).
    username : str or None
        Login name; None means no login.
    password_env : str
        Name of the environment variable holding the password.
    sender : str
        ``From`` address (key ``from``), e.g. ``Сквозная аналитика <a@example.com>``.
    subject : str
        Subject template with placeholders from :data:`SUBJECT_FIELDS`.
    timeout_s : float
        Socket timeout, seconds.
    max_attachment_mb : float
        Report pages above this total are zipped; a zip above it is not sent.
    source : pathlib.Path
        The settings file.
    """

    host: str
    port: int
    starttls: bool
    ssl: bool
    username: str | None
    password_env: str
    sender: str
    subject: str
    timeout_s: float = 30.0
    max_attachment_mb: float = 20.0
    source: Path = DEFAULT_CONFIG

    @property
    def sender_domain(self) -> str:
        """Domain of the ``From`` address, used for Message-ID and Content-ID."""
        return parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"

    def password(self) -> str:
        """The SMTP password from ``os.environ[password_env]``.

        Raises
        ------
        ValueError
            If the variable is not set or empty.
        """
        value = os.environ.get(self.password_env)
        if not value:
            raise ValueError(
                f"{self.source}: username is set but the environment variable "
                f"{self.password_env} (key 'password_env') with the SMTP password is not set"
            )
        return value


def load_email_config(path: str | Path = DEFAULT_CONFIG) -> EmailConfig:
    """Read and validate the SMTP settings file.

    Parameters
    ----------
    path : str or pathlib.Path
        YAML file with the keys of :data:`CONFIG_KEYS`; ``host``, ``port`` and
        ``from`` are required, ``starttls`` and ``ssl`` default to false,
        ``password_env`` to ``ANALYTICS_SMTP_PASSWORD``.

    Returns
    -------
    EmailConfig

    Raises
    ------
    ValueError
        Naming the file and the key: missing file, not YAML or not a mapping,
        a ``password`` (or other secret) key, an unknown or missing key, a
        wrong type, both ``starttls`` and ``ssl``, a bad address or subject.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: e-mail settings file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with keys {', '.join(CONFIG_KEYS)}")

    secrets = sorted(
        str(k)
        for k in data
        if k != "password_env" and re.search(r"pass|secret|token", str(k), re.IGNORECASE)
    )
    if secrets:
        raise ValueError(
            f"{path}: key {secrets[0]!r} is not allowed: secrets are never stored in the "
            "settings file. Put the password in an environment variable and set "
            "'password_env' to that variable's name (e.g. ANALYTICS_SMTP_PASSWORD)"
        )
    unknown = sorted(str(k) for k in data if k not in CONFIG_KEYS)
    if unknown:
        raise ValueError(
            f"{path}: unknown key {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(CONFIG_KEYS)})"
        )
    for key in ("host", "port", "from"):
        if data.get(key) in (None, ""):
            raise ValueError(f"{path}: missing key {key!r}")

    def text(key: str, default: str | None = None) -> str | None:
        value = data.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{path}: key {key!r} must be a non-empty string")
        return value.strip()

    def flag(key: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            raise ValueError(f"{path}: key {key!r} must be true or false, got {value!r}")
        return value

    def positive(key: str, default: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"{path}: key {key!r} must be a positive number, got {value!r}")
        return float(value)

    port = data["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"{path}: key 'port' must be an integer 1..65535, got {port!r}")
    starttls, use_ssl = flag("starttls"), flag("ssl")
    if starttls and use_ssl:
        raise ValueError(f"{path}: keys 'starttls' and 'ssl' are both true; choose one")

    password_env = text("password_env", "ANALYTICS_SMTP_PASSWORD")
    if not _ENV_NAME.match(password_env):
        raise ValueError(
            f"{path}: key 'password_env' must be the NAME of an environment variable "
            f"(letters, digits, '_'), got {password_env!r}"
        )
    sender = text("from")
    if not EMAIL_ADDRESS.match(parseaddr(sender)[1]):
        raise ValueError(f"{path}: key 'from' is not an e-mail address: {sender!r}")
    subject = text("subject", "Сквозная аналитика: {role_title}, {period}")
    try:
        subject.format(**{name: name for name in SUBJECT_FIELDS})
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"{path}: key 'subject': bad template {subject!r} ({exc!r}); "
            f"placeholders: {', '.join('{' + f + '}' for f in SUBJECT_FIELDS)}"
        ) from None

    return EmailConfig(
        host=text("host"),
        port=port,
        starttls=starttls,
        ssl=use_ssl,
        username=text("username"),
        password_env=password_env,
        sender=sender,
        subject=subject,
        timeout_s=positive("timeout_s", 30.0),
        max_attachment_mb=positive("max_attachment_mb", 20.0),
        source=path,
    )
