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
features     :func:`lead_features`, :func:`sql_target`, :func:`time_split`
model        :class:`LeadScoringModel` (scikit-learn estimator)
evaluation   :func:`evaluate`, :func:`lift_table`, :func:`lift_by_decile`,
             :func:`calibration_table`, :func:`metrics_table`
economics    :func:`threshold_curve`, :func:`best_threshold`, :func:`revenue_per_sql`
persistence  :func:`save_model`, :func:`load_model`
training     :func:`train`, :func:`score_leads`, :func:`write_scores`,
             :func:`train_and_save`, :func:`score_and_write` (CLI)
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
from analytics.scoring.persistence import TRUSTED_TYPES, card_path, load_model, save_model
from analytics.scoring.similarity import SIMILARITY_FEATURES, past_deal_similarity
from analytics.scoring.training import (
    oracle_probabilities,
    score_and_write,
    score_leads,
    train,
    train_and_save,
    write_scores,
)

__all__ = [
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
