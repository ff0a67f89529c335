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

from analytics.scoring.economics import (
    MANAGER_COST_PER_HOUR,
    MINUTES_PER_LEAD,
    best_threshold,
    revenue_per_sql,
    threshold_curve,
)
from analytics.scoring.evaluation import (
    calibration_table,
    evaluate,
    lift_by_decile,
    lift_table,
    metrics_table,
)
from analytics.scoring.features import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    SQL_STAGES,
    data_end,
    lead_features,
    sql_target,
    time_split,
)
from analytics.scoring.model import LeadScoringModel
from analytics.scoring.monitoring import (
    drift_table,
    old_score_calibration,
    psi,
    retraining_recommendation,
)
from analytics.scoring.persistence import TRUSTED_TYPES, card_path, load_model, save_model
from analytics.scoring.sales import (
    band_cutoffs,
    bands,
    call_list,
    export_call_list,
    reason_phrases,
    reason_text,
)
from analytics.scoring.similarity import SIMILARITY_FEATURES, past_deal_similarity
from analytics.scoring.table import TableWarning, inspect_columns
from analytics.scoring.training import (
    latest_model,
    load_or_train,
    monitor,
    oracle_probabilities,
    score_and_write,
    score_leads,
    train,
    train_and_save,
    warehouse_call_list,
    write_scores,
)

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
