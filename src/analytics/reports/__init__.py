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

from __future__ import annotations

from analytics import lazy_exports

# Names are imported on first use (PEP 562): a notebook kernel that imports
# ``analytics.reports.summary`` must not pay for nbconvert/nbformat (whose
# jsonschema builds an RFC 3987 grammar at import, ~2 s of CPU) nor the runner.
_EXPORTS = {
    "external_references": "analytics.reports.render",
    "render_html": "analytics.reports.render",
    "RoleConfig": "analytics.reports.roles",
    "RoleConfigError": "analytics.reports.roles",
    "load_role": "analytics.reports.roles",
    "NotebookFailure": "analytics.reports.runner",
    "RunSummary": "analytics.reports.runner",
    "run_reports": "analytics.reports.runner",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
