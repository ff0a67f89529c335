"""End-to-end marketing analytics ("сквозная аналитика").

Ad spend, site visits, leads (forms, calls, chats) and CRM deals are loaded
into a DuckDB warehouse (:mod:`analytics.warehouse`), turned into funnel facts,
cohorts, KPIs, attribution and lead scores, and rendered as role reports by
Papermill notebooks (:mod:`analytics.reports`).
"""

__version__ = "0.1.0"
