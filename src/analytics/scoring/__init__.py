"""Lead scoring: the probability that a lead reaches SQL, and why.

Target: the lead's CRM deal reaches stage ``sql`` (or later, not lost) within
30 days of the lead. Features: site behaviour before the lead, lead facts,
firmographics and the win rate of the lead's segment among deals closed before
it (no leakage from the future). Validation is by time (train on earlier
leads, validate on later ones); probabilities are calibrated; every lead gets
its top reasons; the call threshold comes from sales-time economics; models
are saved with skops plus a model card and scores are written back to the
warehouse table ``lead_scores``.

Modules
-------
table        :func:`inspect_columns`: which columns of any lead table are inputs
features     :func:`lead_features`, :func:`sql_target`, :func:`time_split`
similarity   :func:`past_deal_similarity`: nearest deals won/lost before the lead
model        :class:`LeadScoringModel` (scikit-learn estimator, fits any lead table)
sales        :func:`call_list`, :func:`band_cutoffs`, :func:`reason_text`,
             :func:`reason_phrases`, :func:`export_call_list` (score 0-100, bands A-D,
             reasons in words)
period_scores  :func:`~analytics.scoring.period_scores.compute_period_scores`: the
             run's model status, drift and call lists, computed once, read by the pages
path_attribution  Saabas reasons of the booster: one compiled walk per lead (Numba)
monitoring   :func:`psi`, :func:`drift_table`, :func:`old_score_calibration`,
             :func:`retraining_recommendation`
crm_writeback  :func:`~analytics.scoring.crm_writeback.push_scores_to_amocrm`
evaluation   :func:`evaluate`, :func:`lift_table`, :func:`lift_by_decile`,
             :func:`calibration_table`, :func:`metrics_table`
economics    :func:`threshold_curve`, :func:`best_threshold`, :func:`revenue_per_sql`
persistence  :func:`save_model`, :func:`load_model`
training     :func:`train`, :func:`score_leads`, :func:`write_scores`,
             :func:`train_and_save`, :func:`score_and_write` (CLI),
             :func:`monitor`, :func:`load_or_train`, :func:`warehouse_call_list`
"""

from __future__ import annotations

from analytics import lazy_exports

# Names are imported on first use (PEP 562): a page that needs one constant of
# ``analytics.scoring.sales`` (``reports.sales_page``: the call list's headers) must not
# pay for scikit-learn and skops (~1.5 s of CPU per notebook kernel).
_EXPORTS = {
    "MANAGER_COST_PER_HOUR": "analytics.scoring.economics",
    "MINUTES_PER_LEAD": "analytics.scoring.economics",
    "best_threshold": "analytics.scoring.economics",
    "revenue_per_sql": "analytics.scoring.economics",
    "threshold_curve": "analytics.scoring.economics",
    "calibration_table": "analytics.scoring.evaluation",
    "evaluate": "analytics.scoring.evaluation",
    "lift_by_decile": "analytics.scoring.evaluation",
    "lift_table": "analytics.scoring.evaluation",
    "metrics_table": "analytics.scoring.evaluation",
    "CATEGORICAL_FEATURES": "analytics.scoring.features",
    "NUMERIC_FEATURES": "analytics.scoring.features",
    "SQL_STAGES": "analytics.scoring.features",
    "data_end": "analytics.scoring.features",
    "lead_features": "analytics.scoring.features",
    "sql_target": "analytics.scoring.features",
    "time_split": "analytics.scoring.features",
    "LeadScoringModel": "analytics.scoring.model",
    "drift_table": "analytics.scoring.monitoring",
    "old_score_calibration": "analytics.scoring.monitoring",
    "psi": "analytics.scoring.monitoring",
    "retraining_recommendation": "analytics.scoring.monitoring",
    "TRUSTED_TYPES": "analytics.scoring.persistence",
    "card_path": "analytics.scoring.persistence",
    "load_model": "analytics.scoring.persistence",
    "save_model": "analytics.scoring.persistence",
    "band_cutoffs": "analytics.scoring.sales",
    "bands": "analytics.scoring.sales",
    "call_list": "analytics.scoring.sales",
    "export_call_list": "analytics.scoring.sales",
    "reason_phrases": "analytics.scoring.sales",
    "reason_text": "analytics.scoring.sales",
    "SIMILARITY_FEATURES": "analytics.scoring.similarity",
    "past_deal_similarity": "analytics.scoring.similarity",
    "TableWarning": "analytics.scoring.table",
    "inspect_columns": "analytics.scoring.table",
    "latest_model": "analytics.scoring.training",
    "load_or_train": "analytics.scoring.training",
    "monitor": "analytics.scoring.training",
    "oracle_probabilities": "analytics.scoring.training",
    "score_and_write": "analytics.scoring.training",
    "score_leads": "analytics.scoring.training",
    "train": "analytics.scoring.training",
    "train_and_save": "analytics.scoring.training",
    "warehouse_call_list": "analytics.scoring.training",
    "warehouse_call_lists": "analytics.scoring.training",
    "call_lists": "analytics.scoring.sales",
    "write_scores": "analytics.scoring.training",
}


__all__ = [
    "TableWarning",
    "band_cutoffs",
    "bands",
    "call_list",
    "drift_table",
    "export_call_list",
    "inspect_columns",
    "latest_model",
    "load_or_train",
    "monitor",
    "old_score_calibration",
    "psi",
    "reason_phrases",
    "reason_text",
    "retraining_recommendation",
    "warehouse_call_list",
    "warehouse_call_lists",
    "call_lists",
    "CATEGORICAL_FEATURES",
    "MANAGER_COST_PER_HOUR",
    "MINUTES_PER_LEAD",
    "NUMERIC_FEATURES",
    "SIMILARITY_FEATURES",
    "SQL_STAGES",
    "TRUSTED_TYPES",
    "LeadScoringModel",
    "best_threshold",
    "calibration_table",
    "card_path",
    "data_end",
    "evaluate",
    "lead_features",
    "lift_by_decile",
    "lift_table",
    "load_model",
    "metrics_table",
    "oracle_probabilities",
    "past_deal_similarity",
    "revenue_per_sql",
    "save_model",
    "score_and_write",
    "score_leads",
    "sql_target",
    "threshold_curve",
    "time_split",
    "train",
    "train_and_save",
    "write_scores",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
