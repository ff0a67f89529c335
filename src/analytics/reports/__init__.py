"""Role reports: notebooks run with Papermill, rendered to offline HTML.

:func:`run_reports` executes every role's notebooks for one period in parallel
and writes ``reports/<period>/<role>/`` with an index and a run manifest;
:func:`render_html` turns one executed notebook into a self-contained page.
"""

from analytics.reports.render import external_references, render_html
from analytics.reports.runner import (
    NotebookFailure,
    RoleConfig,
    RoleConfigError,
    RunSummary,
    load_role,
    run_reports,
)

__all__ = [
    "NotebookFailure",
    "RoleConfig",
    "RoleConfigError",
    "RunSummary",
    "external_references",
    "load_role",
    "render_html",
    "run_reports",
]
