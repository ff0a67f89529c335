"""Multi-touch attribution: who gets the credit for a conversion.

All models read aggregated paths (:mod:`analytics.metrics.journeys`) and share out the
conversions -- or their value in RUB -- of converting journeys among channels,
so every model's credit sums to the same total:

* rule-based (:mod:`.heuristics`): first touch, last touch, last non-direct,
  linear, position-based 40/20/40, time decay with a half-life;
* Markov chain of order 1-3 with exact removal effects from a sparse linear
  solve (:mod:`.markov`);
* Shapley value over channel coalitions, exact by subset enumeration
  (:mod:`.shapley`);
* direct (last-touch) vs assisted conversions per channel;
* every model side by side (:func:`attribute`, tidy) and its error against the
  demo's causal truth (:mod:`.comparison`);
* ChannelAttribution's functions with its argument names and output shapes,
  computed exactly (:mod:`.compat`);
* bootstrap intervals over journeys for every model's credit
  (:mod:`.uncertainty`);
* budget what-if: moving spend between channels (:mod:`.budget`);
* figures: credit by model, removal effects, transitions, intervals
  (:mod:`.plots`).

Paths may be strings: ``"alpha > beta"`` is the two channels ``alpha`` and
``beta`` (split on ``sep=">"``, whitespace stripped), never characters. See
``docs/attribution.md``.

Example
-------
>>> from analytics.metrics.journeys import build_journeys
>>> journeys = build_journeys(con, "sale", lookback_days=30, period=period)
>>> credit = compare_models(journeys.paths, journeys.touches)
>>> error_vs_truth(credit, truth_effects(con), "sale")
"""

from analytics.attribution.budget import budget_shift, marginal_costs, shift_error_vs_truth
from analytics.attribution.comparison import (
    MODEL_LABELS,
    MODELS,
    NATIVE_MODELS,
    attribute,
    compare_models,
    credit_shares,
    error_vs_truth,
    rank_changes,
    romi_by_model,
    share_vs_truth,
    truth_effects,
)
from analytics.attribution.heuristics import (
    DIRECT_CHANNELS,
    direct_assisted,
    first_touch,
    last_non_direct,
    last_touch,
    linear,
    position_based,
    time_decay,
)
from analytics.attribution.markov import (
    MarkovAttribution,
    markov_credit,
    order_selection,
    removal_effects,
)
from analytics.attribution.paths import encode_paths, split_paths
from analytics.attribution.plots import (
    plot_credit,
    plot_intervals,
    plot_removal_effects,
    plot_transitions,
)
from analytics.attribution.shapley import coalition_values, shapley_credit
from analytics.attribution.uncertainty import bootstrap_credit, credit_replicates

__all__ = [
    "DIRECT_CHANNELS",
    "MODELS",
    "MODEL_LABELS",
    "NATIVE_MODELS",
    "MarkovAttribution",
    "attribute",
    "bootstrap_credit",
    "budget_shift",
    "coalition_values",
    "credit_replicates",
    "encode_paths",
    "marginal_costs",
    "order_selection",
    "plot_credit",
    "plot_intervals",
    "plot_removal_effects",
    "plot_transitions",
    "shift_error_vs_truth",
    "split_paths",
    "compare_models",
    "credit_shares",
    "direct_assisted",
    "error_vs_truth",
    "first_touch",
    "last_non_direct",
    "last_touch",
    "linear",
    "markov_credit",
    "position_based",
    "rank_changes",
    "removal_effects",
    "romi_by_model",
    "shapley_credit",
    "share_vs_truth",
    "time_decay",
    "truth_effects",
]
