"""Reports layer: role files, notebook runs, self-contained HTML, manifest and e-mail.

=================  ==============================================================
module             holds
=================  ==============================================================
``roles``          ``params/roles/<role>.yaml`` parsed and validated (one parser)
``runner``         :func:`run_reports`: every role's notebooks for one period
``render``         :func:`render_html`: an executed notebook -> offline HTML page
``manifest``       ``manifest.json`` and ``index.html`` of a period folder
``email_config``   ``params/email.yaml`` (SMTP; password from the environment)
``message``        one role's e-mail: summary body, CID chart, report attached
``sending``        SMTP delivery and dry-run ``.eml`` files (``analytics email``)
=================  ==============================================================
"""

from analytics.reports.render import external_references, render_html
from analytics.reports.roles import RoleConfig, RoleConfigError, load_role
from analytics.reports.runner import NotebookFailure, RunSummary, run_reports

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
