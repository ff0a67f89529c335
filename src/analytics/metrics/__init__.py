"""Metrics layer: the figures leadership reads, one module per domain.

``period`` (report periods), ``funnel`` (visits -> leads -> MQL -> SQL ->
sales per cohort), ``definitions`` (MQL/SQL rules, non-target leads),
``kpi`` and ``revenue`` (booked figures, targets), ``cohorts`` (visitor and
lead cohorts), ``journeys`` (touch paths for attribution), ``quality``
(data-quality checks), ``segments``, ``influence`` (direct and assisted),
``abtest`` (MQL-based A/B tests) and ``sales_cost`` (the cost of non-target
leads).
"""
