"""Native attribution API, budget what-if and figures, against hand computations."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analytics.attribution import (
    MarkovAttribution,
    attribute,
    bootstrap_credit,
    budget_shift,
    credit_replicates,
    encode_paths,
    first_touch,
    marginal_costs,
    order_selection,
    plot_credit,
    plot_intervals,
    plot_removal_effects,
    plot_transitions,
    shift_error_vs_truth,
    split_paths,
    truth_effects,
)
from analytics.attribution.path_frames import paths_from_records
from analytics.metrics.funnel import funnel_by_channel
from analytics.metrics.journeys import build_journeys
from analytics.metrics.period import data_bounds, parse_period


def test_path_strings_are_channels_not_characters():
    codes, lengths, channels = split_paths(["alpha > beta", "beta>gamma", "", ("x y", "alpha")])
    assert channels == ("alpha", "beta", "gamma", "x y")
    assert lengths.tolist() == [2, 2, 0, 2]
    assert codes.tolist() == [0, 1, 1, 2, 3, 0]
    frame = pd.DataFrame({"path": ["alpha > beta", "alpha"], "conversions": [1, 2]})
    credit = first_touch(frame)
    assert credit.to_dict() == {"alpha": 3.0, "beta": 0.0}


def test_custom_columns_without_value_or_nulls():
    """Paths alpha > beta (1 conversion, 1 null), beta (2, 0), alpha > gamma (0, 3).

    start -> alpha 5/7, beta 2/7; alpha -> beta 2/5, gamma 3/5; beta converts 3/4;
    gamma -> null. P = 5/7 x 2/5 x 3/4 + 2/7 x 3/4 = 6/14. Without alpha 3/14
    (RE 1/2), without beta 0 (RE 1), without gamma unchanged (RE 0):
    3 conversions -> alpha 1, beta 2, gamma 0. Linear: alpha 1/2, beta 5/2.
    """
    data = pd.DataFrame(
        {"route": ["alpha > beta", "beta", "alpha>gamma"], "sales": [1, 2, 0], "lost": [1, 0, 3]}
    )
    table = attribute(
        data, models=["linear", "markov_1"], path="route", conversions="sales", nulls="lost"
    )
    assert list(table.columns) == ["channel", "model", "conversions"]
    assert table["channel"].tolist() == ["alpha", "beta", "gamma"] * 2
    np.testing.assert_allclose(table["conversions"], [0.5, 2.5, 0.0, 1.0, 2.0, 0.0])
    enc = encode_paths(data, path="route", conversions="sales", nulls="lost", value=None)
    assert not enc.has_value
    assert enc.nulls.tolist() == [1, 0, 3]


def test_markov_attributes_conversions_and_value_in_one_fit():
    """Paths C1 (2 conversions, value 20, 1 null), C2 (1, 30), C1 > C2 (1, 30).

    Conversions (see test_attribution.classic_paths): C1 2.4, C2 1.6.
    Value per journey leaving: C1 20/4 = 5, C2 60/2 = 30; x_C1 = 5 + 1/4 x 30 =
    12.5, P = 4/5 x 12.5 + 1/5 x 30 = 16 (= 80 / 5). Without C1: 6 -> RE 5/8;
    without C2: 4/5 x 5 = 4 -> RE 3/4. Value 80 -> C1 80 x 5/11, C2 80 x 6/11.
    """
    paths = paths_from_records([("C1", 2, 1, 20.0), ("C2", 1, 0, 30.0), ("C1 > C2", 1, 0, 30.0)])
    table = MarkovAttribution().fit(paths).attribution_
    assert list(table.columns) == [
        "channel",
        "conversions",
        "removal_effect",
        "value",
        "removal_effect_value",
    ]
    np.testing.assert_allclose(table["conversions"], [2.4, 1.6])
    np.testing.assert_allclose(table["removal_effect_value"], [5 / 8, 3 / 4])
    np.testing.assert_allclose(table["value"], [80 * 5 / 11, 80 * 6 / 11])


def test_order_selection_bic_by_hand():
    """Paths x > z (9 conversions, 1 null) and y > z (1, 9): 20 journeys.

    Order 1: start -> x, y 1/2 each; x -> z, y -> z certain; z converts 10/20.
    log L1 = 20 ln(1/2) + 20 ln(1/2) = -40 ln 2; free parameters 1 + 1 = 2.
    Order 2 (grow): z splits into (x z) converting 9/10 and (y z) 1/10:
    log L2 = -20 ln 2 + 2 x (9 ln 0.9 + ln 0.1); parameters 1 + 1 + 1 = 3.
    BIC = -2 log L + d ln 20.
    """
    paths = paths_from_records([("x > z", 9, 1), ("y > z", 1, 9)])
    table = order_selection(paths, max_order=2).set_index("order")
    log_l1 = -40 * np.log(2)
    log_l2 = -20 * np.log(2) + 2 * (9 * np.log(0.9) + np.log(0.1))
    assert table.loc[1, "log_likelihood"] == pytest.approx(log_l1)
    assert table.loc[2, "log_likelihood"] == pytest.approx(log_l2)
    assert table.loc[1, "bic"] == pytest.approx(-2 * log_l1 + 2 * np.log(20))
    assert table.loc[2, "bic"] == pytest.approx(-2 * log_l2 + 3 * np.log(20))
    assert table["selected"].tolist() == [False, True]


def test_budget_shift_by_hand():
    """a: 10 conversions, 1,000 RUB revenue, spend 100; b: 20, 3,000, spend 400.

    Move 50 % of a's spend (50 RUB) to b.
    beta = 1: a loses 10 x 0.5 = 5, b gains 20 x 50/400 = 2.5 -> -2.5;
    revenue -500 + 3,000 x 0.125 = -125.
    beta = 0.5: 10 (sqrt 0.5 - 1) + 20 (sqrt 1.125 - 1) = -1.7157.
    Cutting all of a loses its 10 conversions for any beta.
    """
    credit = pd.DataFrame(
        {"conversions": [10.0, 20.0], "value": [1000.0, 3000.0]}, index=["a", "b"]
    )
    spend = pd.Series({"a": 100.0, "b": 400.0})
    out = budget_shift(credit, spend, "a", "b", 0.5).set_index("measure")
    assert out.loc["conversions", "change"] == pytest.approx(-2.5)
    assert out.loc["value", "change"] == pytest.approx(-125.0)
    assert out.loc["conversions", "spend_moved"] == 50.0
    half = budget_shift(credit, spend, "a", "b", 0.5, elasticity=0.5)
    expected = 10 * (np.sqrt(0.5) - 1) + 20 * (np.sqrt(1.125) - 1)
    assert half["change"].iloc[0] == pytest.approx(expected)
    cut = budget_shift(credit, spend, "a", None, 1.0, elasticity=0.3)
    assert cut["change"].tolist() == pytest.approx([-10.0, -1000.0])
    costs = marginal_costs(credit, spend, elasticity=0.5)
    assert costs["marginal_cost"].tolist() == pytest.approx([20.0, 40.0])
    with pytest.raises(ValueError, match="channel 'c' has no credit"):
        budget_shift(credit, spend, "a", "c", 0.5)
    with pytest.raises(ValueError, match="share must be in"):
        budget_shift(credit, spend, "a", "b", 1.5)


def test_budget_interval_from_replicates_covers_the_point():
    """The interval of a what-if comes from the credit replicates: it holds the
    point estimate and its width grows as the channel's data shrinks."""
    paths = paths_from_records(
        [("a", 40, 60, 4000.0), ("b", 10, 90, 2000.0), ("a > b", 5, 5, 500.0)]
    )
    enc = encode_paths(paths)
    reps = credit_replicates(enc, ["markov_1"], n_boot=300, seed=4)["markov_1"]
    fit = MarkovAttribution().fit(enc).attribution_.set_index("channel")[["conversions", "value"]]
    spend = pd.Series({"a": 1000.0, "b": 1000.0})
    out = budget_shift(fit, spend, "a", "b", 0.3, replicates=reps)
    assert (out["lower"] <= out["change"]).all() and (out["change"] <= out["upper"]).all()
    assert (out["upper"] > out["lower"]).all()


@pytest.fixture(scope="module")
def tiny(tiny_warehouse):
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    yield con
    con.close()


def test_replicates_drawn_once_serve_the_intervals_and_the_what_if(tiny):
    """Page 06 draws the replicates of its four interval models once and takes the
    what-if's Markov replicates from them. The resampling does not depend on the
    models asked (one stream of draws per chunk), so the Markov draws of the
    four-model call equal a Markov-only call's (what the page drew before), and the
    intervals from given replicates equal those drawn inside, exactly; replicates
    of another shape are refused."""
    period = parse_period("all", data_bounds(tiny)[1], bounds=data_bounds(tiny))
    paths = build_journeys(tiny, "sale", lookback_days=30, period=period).paths
    models = ["last_touch", "linear", "markov_1", "shapley"]
    drawn = credit_replicates(paths, models, n_boot=20)
    alone = credit_replicates(paths, ["markov_1"], n_boot=20)["markov_1"]
    assert np.array_equal(drawn["markov_1"], alone)
    pd.testing.assert_frame_equal(
        bootstrap_credit(paths, models=models, n_boot=20, replicates=drawn),
        bootstrap_credit(paths, models=models, n_boot=20),
        check_exact=True,
    )
    with pytest.raises(ValueError, match="replicates lack 30 draws .* shapley"):
        bootstrap_credit(paths, models=["shapley"], n_boot=30, replicates=drawn)


def test_budget_error_against_the_demo_truth(tiny):
    """Cutting a channel's whole spend loses its credit; the generator says how much
    it really loses (truth.channel_effects). The error is reported per channel and
    pair; for cuts it is credit - scaled true increment, computed here directly."""
    period = parse_period("all", data_bounds(tiny)[1], bounds=data_bounds(tiny))
    journeys = build_journeys(tiny, "lead", lookback_days=30, period=period)
    fit = MarkovAttribution().fit(journeys.paths).attribution_.set_index("channel")
    spend = funnel_by_channel(tiny, period).set_index("channel")["spend"]
    truth = truth_effects(tiny)
    errors = shift_error_vs_truth(fit[["conversions"]], spend, truth, "lead")
    cuts = errors[errors["target"].isna()].set_index("source")
    lead = truth[truth["conversion"] == "lead"].set_index("channel")
    total = fit["conversions"].sum()
    for channel, row in cuts.iterrows():
        true_loss = lead.loc[channel, "incremental"] / lead.loc[channel, "factual"] * total
        assert row["truth"] == pytest.approx(-true_loss)
        assert row["predicted"] == pytest.approx(-fit.loc[channel, "conversions"])
    assert len(errors) == len(cuts) * len(cuts)  # n cuts + n (n - 1) pairs
    assert errors["error_pct_of_total"].abs().max() < 100


def test_figures_are_matplotlib_figures():
    paths = paths_from_records([("a > b", 3, 2, 300.0), ("b", 1, 4, 100.0), ("a", 2, 2, 150.0)])
    model = MarkovAttribution(order=2).fit(paths)
    table = attribute(paths, models=["last_touch", "markov_1"])
    intervals = bootstrap_credit(paths, models=["last_touch"], n_boot=20)
    for fig in (
        plot_credit(table),
        plot_credit(table, measure="value"),
        plot_removal_effects(model),
        plot_transitions(model),
        plot_intervals(intervals),
    ):
        assert isinstance(fig, Figure)
        assert fig.axes and fig.axes[0].get_title()
    heat = plot_transitions(model).axes[0]
    assert [t.get_text() for t in heat.get_yticklabels()][0] == "(start)"


def test_byte_parser_agrees_with_python_split():
    """The numpy byte parser against a plain Python reference: str.split + strip."""
    rng = np.random.default_rng(5)
    names = ["a", "b c", "Яндекс.Директ", "email", "x" * 20, "  direct ", "organic\t"]
    paths = [" > ".join(rng.choice(names, size=rng.integers(0, 6))) for _ in range(500)] + [
        "a>b",
        " >a",
        "b> ",
        "",
    ]
    codes, lengths, channels = split_paths(paths)
    reference = [[t.strip() for t in p.split(">") if t.strip()] for p in paths]
    assert lengths.tolist() == [len(r) for r in reference]
    flat = [channels[c] for c in codes]
    assert flat == [t for r in reference for t in r]
    assert list(channels) == list(dict.fromkeys(flat))
