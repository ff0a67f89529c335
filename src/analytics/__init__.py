"""End-to-end marketing analytics ("сквозная аналитика").

Ad spend, site visits, leads (forms, calls, chats) and CRM deals are loaded
into a DuckDB warehouse (:mod:`analytics.warehouse`), turned into funnel facts,
cohorts, KPIs, attribution and lead scores, and rendered as role reports by
Papermill notebooks (:mod:`analytics.reports`).
"""

__version__ = "0.1.0"


def lazy_exports(package: str, exports: dict[str, str], names: list[str]):
    """``__getattr__`` and ``__dir__`` of a package whose names load on first use (PEP 562).

    ``exports`` maps each public name to the module defining it. A kernel that
    imports ``analytics.scoring`` for one function does not import scikit-learn,
    skops or nbconvert until a name that needs them is used; the value is then
    kept in the package like an eager import.

    Examples
    --------
    >>> __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)  # doctest: +SKIP
    """
    import importlib
    import sys

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
