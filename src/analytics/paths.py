"""Where things live. Every path the library uses is derived here.

The project folder holds ``params/`` (channel rules, definitions, roles,
e-mail settings, source mappings), ``data/`` (warehouse, raw files) and
``reports/``. It is found, in this order:

1. ``--project DIR`` on the command line (:func:`set_project`, which also sets
   ``ANALYTICS_HOME`` for notebooks run by the report command);
2. the ``ANALYTICS_HOME`` environment variable;
3. the repository checkout this package is installed from (editable install:
   the folder above ``src/`` holding ``pyproject.toml`` and ``params/``);
4. the current folder.

``params/`` is read from the project folder when it has one; otherwise the
defaults bundled with the package (``analytics/default_params``, package
data) are used, so an installed package works in any folder. A parameter file
found in neither place is reported by :func:`params_file` with one line
saying how to set the project folder.
"""

from __future__ import annotations

import os
from pathlib import Path

BUNDLED_PARAMS = Path(__file__).resolve().parent / "default_params"
"""Default parameter files shipped inside the package (copies of the repository's ``params/``)."""


def project_root() -> Path:
    """Project folder (see the module notes): ``ANALYTICS_HOME``, the checkout, else the cwd."""
    env = os.environ.get("ANALYTICS_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "params").is_dir() and (parent / "pyproject.toml").is_file():
            return parent
    return Path.cwd().resolve()


def _params_dir(root: Path) -> Path:
    own = root / "params"
    if own.is_dir() or not BUNDLED_PARAMS.is_dir():
        return own
    return BUNDLED_PARAMS


def params_file(name: str) -> Path:
    """Path of a parameter file: ``<project>/params/<name>``, else the bundled default.

    Raises
    ------
    FileNotFoundError
        Neither exists; the message is one line saying how to set the project
        folder (``--project DIR`` or ``ANALYTICS_HOME``).
    """
    for folder in (ROOT / "params", BUNDLED_PARAMS):
        candidate = folder / name
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"{ROOT / 'params' / name}: parameter file not found (project folder {ROOT}); "
        f"run from your project folder, pass --project DIR or set ANALYTICS_HOME=DIR "
        f"(a folder holding params/)"
    )


def set_project(folder: str | Path) -> Path:
    """Use ``folder`` as the project folder: sets ``ANALYTICS_HOME`` and every path here.

    Modules that copied a path at import keep the old value, so call this
    before importing them (the CLI does it first thing).

    Raises
    ------
    NotADirectoryError
        ``folder`` is not an existing folder.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: project folder not found (--project / ANALYTICS_HOME)")
    os.environ["ANALYTICS_HOME"] = str(root)
    _set(root)
    return root


def _set(root: Path) -> None:
    global ROOT, PARAMS_DIR, NOTEBOOKS_DIR, REPORTS_DIR, DATA_DIR, RAW_DIR, DEFAULT_WAREHOUSE
    ROOT = root
    PARAMS_DIR = _params_dir(root)
    NOTEBOOKS_DIR = root / "notebooks"
    REPORTS_DIR = root / "reports"
    DATA_DIR = root / "data"
    RAW_DIR = DATA_DIR / "raw"
    DEFAULT_WAREHOUSE = DATA_DIR / "warehouse.duckdb"


ROOT = project_root()
PARAMS_DIR = _params_dir(ROOT)
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


def inputs_stamp(database: str | os.PathLike) -> tuple:
    """What a figure computed from a warehouse file depends on, as comparable stamps:
    the file and its DuckDB write-ahead log (path, size, modification time in ns: a
    load or any committed write changes them) and every parameter file of both
    folders :func:`params_file` reads. Equal stamps: nothing an in-process cache
    keyed on them depends on has changed."""

    def stamp(path: Path) -> tuple:
        try:
            info = path.stat()
        except OSError:
            return (str(path), None)
        return (str(path), info.st_size, info.st_mtime_ns)

    file = Path(database).resolve()
    params = [
        stamp(entry)
        for folder in (ROOT / "params", BUNDLED_PARAMS)
        if folder.is_dir()
        for entry in sorted(folder.iterdir())
    ]
    return (stamp(file), stamp(file.with_name(file.name + ".wal")), tuple(params))
