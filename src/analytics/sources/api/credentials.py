"""Secrets of the connectors: from the environment or a git-ignored file, never logged.

A secret ``key`` of connector ``source`` is read from

1. the environment variable ``ANALYTICS_<SOURCE>_<KEY>`` (upper case), e.g.
   ``ANALYTICS_METRICA_TOKEN``, ``ANALYTICS_AMOCRM_CLIENT_SECRET``;
2. else the JSON file ``<secrets dir>/<source>.json`` (key ``<key>``), where
   the secrets dir is ``$ANALYTICS_SECRETS_DIR`` or ``data/secrets/`` --
   ``data/`` is git-ignored.

Files written here (amoCRM's rotating refresh token) are written atomically
(temporary file + rename) with mode 0600, so a crash never leaves half a
token and other users cannot read it. Nothing in this module logs a value.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from analytics import paths
from analytics.warehouse import InputError


class MissingSecret(InputError):
    """A secret that is neither in the environment nor in the secrets file."""


def secrets_dir() -> Path:
    """Folder of the secrets files (``$ANALYTICS_SECRETS_DIR`` or ``data/secrets``)."""
    env = os.environ.get("ANALYTICS_SECRETS_DIR")
    return Path(env) if env else paths.DATA_DIR / "secrets"


def env_name(source: str, key: str) -> str:
    """``ANALYTICS_<SOURCE>_<KEY>``, upper case, ``-`` -> ``_``."""
    return f"ANALYTICS_{source}_{key}".upper().replace("-", "_")


def read_secret_file(path: Path) -> dict:
    """The JSON object in a secrets file ({} if the file does not exist)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise InputError(f"{path}: not a JSON object; fix or delete the secrets file") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a JSON object; fix or delete the secrets file")
    return data


def secret(source: str, key: str, *, required: bool = True) -> str | None:
    """A secret of a connector (see the module notes for where it is looked up).

    Raises
    ------
    MissingSecret
        ``required`` and found nowhere; the message names the variable and
        the file to set, never a value.
    """
    value = os.environ.get(env_name(source, key))
    if value:
        return value
    file = secrets_dir() / f"{source}.json"
    value = read_secret_file(file).get(key)
    if value:
        return str(value)
    if required:
        raise MissingSecret(
            f"{source}: no {key}; set {env_name(source, key)} or add {key!r} to {file}"
        )
    return None


def write_secret_file(path: Path, data: dict) -> None:
    """Write a JSON secrets file atomically with mode 0600 (owner read/write only)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.chmod(path, 0o600)


def base_url(source: str, default: str) -> str:
    """API root of a connector: ``ANALYTICS_<SOURCE>_BASE_URL`` or ``default``."""
    return os.environ.get(env_name(source, "BASE_URL")) or default
