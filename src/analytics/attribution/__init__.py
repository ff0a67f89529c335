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

from __future__ import annotations

from analytics import lazy_exports

# Names are imported on first use (PEP 562): the journeys of the metrics layer need
# only ``attribution.path_frames``, not the estimators' scipy.stats and matplotlib (~1.5 s of
# CPU per notebook kernel that reads journeys).
_EXPORTS = {
    "budget_shift": "analytics.attribution.budget",
    "marginal_costs": "analytics.attribution.budget",
    "shift_error_vs_truth": "analytics.attribution.budget",
    "MODEL_LABELS": "analytics.attribution.comparison",
    "MODELS": "analytics.attribution.comparison",
    "NATIVE_MODELS": "analytics.attribution.comparison",
    "attribute": "analytics.attribution.comparison",
    "compare_models": "analytics.attribution.comparison",
    "credit_shares": "analytics.attribution.comparison",
    "error_vs_truth": "analytics.attribution.comparison",
    "rank_changes": "analytics.attribution.comparison",
    "romi_by_model": "analytics.attribution.comparison",
    "share_vs_truth": "analytics.attribution.comparison",
    "truth_effects": "analytics.attribution.comparison",
    "DIRECT_CHANNELS": "analytics.attribution.heuristics",
    "direct_assisted": "analytics.attribution.heuristics",
    "first_touch": "analytics.attribution.heuristics",
    "last_non_direct": "analytics.attribution.heuristics",
    "last_touch": "analytics.attribution.heuristics",
    "linear": "analytics.attribution.heuristics",
    "position_based": "analytics.attribution.heuristics",
    "time_decay": "analytics.attribution.heuristics",
    "MarkovAttribution": "analytics.attribution.markov",
    "markov_credit": "analytics.attribution.markov",
    "order_selection": "analytics.attribution.markov",
    "removal_effects": "analytics.attribution.markov",
    "encode_paths": "analytics.attribution.path_frames",
    "split_paths": "analytics.attribution.path_frames",
    "plot_credit": "analytics.attribution.plots",
    "plot_intervals": "analytics.attribution.plots",
    "plot_removal_effects": "analytics.attribution.plots",
    "plot_transitions": "analytics.attribution.plots",
    "coalition_values": "analytics.attribution.shapley",
    "shapley_credit": "analytics.attribution.shapley",
    "bootstrap_credit": "analytics.attribution.uncertainty",
    "credit_replicates": "analytics.attribution.uncertainty",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
