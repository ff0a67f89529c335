"""Where things live. Every path the library uses is derived here.

The project root is the folder holding ``pyproject.toml`` and ``params/``; it
is found from this file (editable install) or from ``ANALYTICS_HOME``.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """Root of the repository (``ANALYTICS_HOME`` overrides)."""
    env = os.environ.get("ANALYTICS_HOME")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "params").is_dir() and (parent / "pyproject.toml").is_file():
            return parent
    return Path.cwd().resolve()


ROOT = project_root()
PARAMS_DIR = ROOT / "params"
NOTEBOOKS_DIR = ROOT / "notebooks"
REPORTS_DIR = ROOT / "reports"
DATA_DIR = ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
DEFAULT_WAREHOUSE = DATA_DIR / "warehouse.duckdb"


def project_path(path: str | os.PathLike) -> Path:
    """``path`` with a relative path taken from the project root, not the working folder.

    Notebook parameters name files relative to the project (``data/warehouse.duckdb``),
    so a notebook opened in JupyterLab, whose kernel starts in ``notebooks/``, reads the
    same files as the report runner. Absolute paths and ``~`` are taken as they are;
    ``":memory:"`` stays an in-memory DuckDB.
    """
    if str(path) == ":memory:":
        return Path(":memory:")
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else ROOT / candidate
