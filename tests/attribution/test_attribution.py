"""Tests for analytics.attribution against hand computations written out below."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics.attribution import (
    MODELS,
    MarkovAttribution,
    coalition_values,
    compare_models,
    credit_shares,
    direct_assisted,
    error_vs_truth,
    first_touch,
    last_non_direct,
    last_touch,
    linear,
    markov_credit,
    position_based,
    rank_changes,
    removal_effects,
    romi_by_model,
    shapley_credit,
    share_vs_truth,
    time_decay,
    truth_effects,
)
from analytics.metrics.journeys import build_journeys, paths_from_records

PATH_MODELS = [m for m in MODELS if m != "time_decay"]


def credit_of(series: pd.Series) -> dict[str, float]:
    return {k: pytest.approx(v) for k, v in series[series != 0].items()}


# --------------------------------------------------------------------------- Markov


def classic_paths():
    """Five journeys on four paths, two channels:

    C1 > conv (x2), C1 > null, C2 > conv, C1 > C2 > conv.

    Order-1 chain by hand (counts of journeys through each transition):
      start -> C1 4/5, start -> C2 1/5;
      C1 is left 4 times: -> conv 2/4, -> null 1/4, -> C2 1/4;
      C2 is left 2 times: -> conv 2/2.
    P(conv) = 4/5 (1/2 + 1/4 x 1) + 1/5 x 1 = 3/5 + 1/5 = 4/5.
    Without C1 (start -> C1 goes to null): P = 1/5 -> removal effect 1 - (1/5)/(4/5) = 0.75.
    Without C2: P = 4/5 x 1/2 = 2/5 -> removal effect 1 - (2/5)/(4/5) = 0.5.
    Credit of 4 conversions: C1 4 x 0.75/1.25 = 2.4, C2 4 x 0.5/1.25 = 1.6.
    """
    return paths_from_records([("C1", 2, 1), ("C2", 1, 0), ("C1 > C2", 1, 0)])


def test_markov_classic_example():
    model = MarkovAttribution(order=1).fit(classic_paths())
    assert model.conversion_probability_ == pytest.approx(0.8)
    assert credit_of(model.removal_effects_) == {"C1": 0.75, "C2": 0.5}
    assert credit_of(model.credit_) == {"C1": 2.4, "C2": 1.6}
    matrix = pd.DataFrame(
        model.transition_matrix_.toarray(),
        index=model.state_labels_,
        columns=model.state_labels_,
    )
    assert matrix.loc["(start)", "C1"] == pytest.approx(0.8)
    assert matrix.loc["C1", ["(conversion)", "(null)", "C2"]].tolist() == [0.5, 0.25, 0.25]
    assert matrix.loc["C2", "(conversion)"] == 1.0
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    assert model.get_params() == {"order": 1, "weight": "conversions"}


def test_markov_value_weight_shares_the_value_by_value_removal_effects():
    # Same paths, value 10 per C1 conversion, 30 per C2-ending conversion:
    # C1 > conv 2 x 10 = 20, C2 > conv 30, C1 > C2 > conv 30. Expected value per journey:
    # r(C1) = 20/4 = 5, r(C2) = 60/2 = 30; x(C2) = 30, x(C1) = 5 + 1/4 x 30 = 12.5;
    # x(start) = 4/5 x 12.5 + 1/5 x 30 = 16 (= 80 / 5 journeys).
    # Without C1: 1/5 x 30 = 6 -> effect 1 - 6/16 = 0.625; without C2: 4/5 x 5 = 4 -> 0.75.
    # Credit of 80: C1 80 x 0.625/1.375, C2 80 x 0.75/1.375.
    paths = paths_from_records([("C1", 2, 1, 20.0), ("C2", 1, 0, 30.0), ("C1 > C2", 1, 0, 30.0)])
    model = MarkovAttribution(weight="value").fit(paths)
    assert model.conversion_probability_ == pytest.approx(16.0)
    assert credit_of(model.removal_effects_) == {"C1": 0.625, "C2": 0.75}
    assert credit_of(model.credit_) == {"C1": 80 * 0.625 / 1.375, "C2": 80 * 0.75 / 1.375}


@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_on_one_touch_paths_is_last_touch(order):
    # A > conv x3, A > null x1, B > conv x1, B > null x3: P = 4/8.
    # Without A: 1/8 -> effect 0.75; without B: 3/8 -> 0.25; credit 4 x (0.75, 0.25) = (3, 1).
    paths = paths_from_records([("A", 3, 1), ("B", 1, 3)])
    model = MarkovAttribution(order=order).fit(paths)
    assert model.states_ == [("(start)",), ("A",), ("B",)]
    assert credit_of(model.removal_effects_) == {"A": 0.75, "B": 0.25}
    assert credit_of(model.credit_) == {"A": 3.0, "B": 1.0}


def test_markov_order_two_states_are_pairs_of_channels():
    # A > B > A > conv: order-2 walk start -> (A) -> (A,B) -> (B,A) -> conv.
    model = MarkovAttribution(order=2).fit(paths_from_records([("A > B > A", 1, 0), ("B", 0, 1)]))
    assert sorted(model.state_labels_) == sorted(
        ["(start)", "A", "B", "A > B", "B > A", "(conversion)", "(null)"]
    )
    # P = 1/2 (only via A); removing either channel kills the converting walk
    assert credit_of(model.removal_effects_) == {"A": 1.0, "B": 1.0}
    assert credit_of(model.credit_) == {"A": 0.5, "B": 0.5}


def test_memoryless_chain_lends_credit_that_order_two_takes_back():
    # A > conv, X > A > null. Order 1: start -> A 1/2, start -> X 1/2, X -> A 1,
    # A -> conv 1/2: P = 1/2; without X, P = 1/4: X gets removal effect 0.5 though it
    # never converted. Order 2 keeps (X, A) apart from (A): X's effect is 0.
    paths = paths_from_records([("A", 1, 0), ("X > A", 0, 1)])
    assert credit_of(removal_effects(paths, order=1)) == {"A": 1.0, "X": 0.5}
    assert credit_of(removal_effects(paths, order=2)) == {"A": 1.0}
    assert credit_of(markov_credit(paths, order=2)) == {"A": 1.0}


def simulate_chain(model: MarkovAttribution, removed: str | None, walks: int, seed: int):
    """Monte-Carlo share of walks absorbed in conversion (removed channel -> null)."""
    rng = np.random.default_rng(seed)
    matrix = model.transition_matrix_.toarray()
    n = len(model.states_)
    conversion, null = n, n + 1
    if removed is not None:
        for s, state in enumerate(model.states_):
            if removed in state:
                matrix[:, null] += matrix[:, s]
                matrix[:, s] = 0.0
    cumulative = np.cumsum(matrix, axis=1)
    state = np.zeros(walks, dtype=np.int64)
    for _ in range(500):
        alive = state < n
        if not alive.any():
            break
        u = rng.random(alive.sum())
        state[alive] = (u[:, None] > cumulative[state[alive]]).sum(axis=1)
    return float(np.mean(state == conversion))


@pytest.mark.parametrize("order", [1, 2])
def test_markov_solve_matches_monte_carlo(order):
    # loops (A > A, B > ... > B), a channel with no conversion of its own (C)
    paths = paths_from_records(
        [
            ("A > B > A", 2, 0),
            ("A > A", 0, 3),
            ("B", 1, 2),
            ("B > C > A", 1, 1),
            ("C", 0, 2),
            ("C > B > B", 1, 1),
        ]
    )
    model = MarkovAttribution(order=order).fit(paths)
    walks = 40_000
    p = simulate_chain(model, None, walks, seed=11)
    tolerance = 5 * np.sqrt(0.25 / walks)
    assert model.conversion_probability_ == pytest.approx(p, abs=tolerance)
    for channel in model.channels_:
        p_without = simulate_chain(model, channel, walks, seed=12)
        effect = 1 - p_without / model.conversion_probability_
        assert model.removal_effects_[channel] == pytest.approx(effect, abs=3 * tolerance)


def test_markov_rejects_bad_order():
    with pytest.raises(ValueError, match="order"):
        MarkovAttribution(order=4).fit(classic_paths())


# --------------------------------------------------------------------------- heuristics


def three_paths():
    """search > direct > email: 2 conv, 1 null; social > direct: 1 conv; direct: 1 conv, 3 null.

    By hand (4 conversions):
      first touch      search 2, social 1, direct 1
      last touch       email 2, direct 1 + 1 = 2
      last non-direct  email 2 (P1 skips nothing), social 1 (P2 skips direct), direct 1 (P3)
      linear           search 2/3, direct 2/3 + 1/2 + 1 = 13/6, email 2/3, social 1/2
      position-based   P1: search 0.4 x 2, direct 0.2 x 2, email 0.4 x 2; P2 50/50; P3 100%
                       -> search 0.8, direct 0.4 + 0.5 + 1 = 1.9, email 0.8, social 0.5
    """
    return paths_from_records(
        [("search > direct > email", 2, 1), ("social > direct", 1, 0), ("direct", 1, 3)]
    )


def test_heuristics_on_three_hand_paths():
    paths = three_paths()
    assert credit_of(first_touch(paths)) == {"search": 2, "social": 1, "direct": 1}
    assert credit_of(last_touch(paths)) == {"email": 2, "direct": 2}
    assert credit_of(last_non_direct(paths)) == {"email": 2, "social": 1, "direct": 1}
    assert credit_of(linear(paths)) == {
        "search": 2 / 3,
        "direct": 13 / 6,
        "email": 2 / 3,
        "social": 1 / 2,
    }
    assert credit_of(position_based(paths)) == {
        "search": 0.8,
        "direct": 1.9,
        "email": 0.8,
        "social": 0.5,
    }


def test_last_non_direct_skips_none_medium_and_custom_names():
    paths = paths_from_records([("ads > (none)", 1, 0), ("seo > brand", 1, 0)])
    assert credit_of(last_non_direct(paths)) == {"ads": 1, "brand": 1}
    assert credit_of(last_non_direct(paths, direct_channels=["brand"])) == {
        "(none)": 1,
        "seo": 1,
    }


def test_position_based_forty_twenty_forty_on_four_touches():
    # A > B > C > D, 10 conversions: first 40% = 4, last 40% = 4, middle 20% / 2 = 1 each.
    paths = paths_from_records([("A > B > C > D", 10, 0)])
    assert credit_of(position_based(paths)) == {"A": 4, "B": 1, "C": 1, "D": 4}
    # a channel on both ends collects both: A > B > B > A -> A 8, B 2
    assert credit_of(position_based(paths_from_records([("A > B > B > A", 10, 0)]))) == {
        "A": 8,
        "B": 2,
    }
    # one touch 100%, two touches first/(first+last): 30/40/30 -> 50/50
    short = paths_from_records([("A", 1, 0), ("A > B", 2, 0)])
    assert credit_of(position_based(short, shares=(0.3, 0.4, 0.3))) == {"A": 2, "B": 1}
    with pytest.raises(ValueError, match="sum to 1"):
        position_based(short, shares=(0.5, 0.5, 0.5))


def touch_frame(rows):
    """rows: (journey_id, channel, days_before, converted, value)."""
    return pd.DataFrame(
        rows, columns=["journey_id", "channel", "days_before", "converted", "value"]
    )


def test_time_decay_half_life():
    # One journey: A 14 days, B 7 days, C 0 days before the conversion; half-life 7:
    # weights 2^-2, 2^-1, 2^0 = 1/4, 1/2, 1 -> shares 1/7, 2/7, 4/7.
    touches = touch_frame(
        [
            (1, "A", 14.0, True, 700.0),
            (1, "B", 7.0, True, 700.0),
            (1, "C", 0.0, True, 700.0),
            (2, "D", 0.0, False, 0.0),
        ]
    )
    got = time_decay(touches, half_life_days=7)
    assert credit_of(got) == {"A": 1 / 7, "B": 2 / 7, "C": 4 / 7}
    assert got["D"] == 0.0
    assert credit_of(time_decay(touches, 7, weight="value")) == {"A": 100, "B": 200, "C": 400}
    # half-life 14: weights 2^-1, 2^-0.5, 1
    w = np.array([0.5, 2**-0.5, 1.0])
    assert time_decay(touches, 14)[["A", "B", "C"]].tolist() == pytest.approx(w / w.sum())
    with pytest.raises(ValueError, match="half_life"):
        time_decay(touches, 0)


def test_time_decay_on_three_hand_journeys():
    # J1: A 2 days, B 0 days, converted; J2: A 0 days, converted; J3: B 1 day, null.
    # Half-life 2: J1 weights 1/2 and 1 -> A 1/3, B 2/3; J2 A 1. A 4/3, B 2/3.
    touches = touch_frame(
        [
            (1, "A", 2.0, True, 1.0),
            (1, "B", 0.0, True, 1.0),
            (2, "A", 0.0, True, 1.0),
            (3, "B", 1.0, False, 0.0),
        ]
    )
    assert credit_of(time_decay(touches, half_life_days=2)) == {"A": 4 / 3, "B": 2 / 3}
    # very old touches do not underflow: the same journey 5 years later
    old = touches.assign(days_before=touches["days_before"] + 2000)
    assert credit_of(time_decay(old, half_life_days=2)) == {"A": 4 / 3, "B": 2 / 3}


def test_direct_and_assisted_conversions():
    # search > direct > email (2 conv): email last; search, direct assist.
    # social > direct (1): direct last, social assists. direct (1): direct last.
    # email > email (3): email last and assists itself (counted once).
    paths = paths_from_records(
        [
            ("search > direct > email", 2, 1),
            ("social > direct", 1, 0),
            ("direct", 1, 3),
            ("email > email", 3, 0),
        ]
    )
    table = direct_assisted(paths)
    assert table.loc["email"].tolist()[:3] == [5, 3, 5]
    assert table.loc["direct"].tolist()[:3] == [2, 2, 4]
    assert table.loc["search"].tolist()[:3] == [0, 2, 2]
    assert table.loc["social"].tolist()[:3] == [0, 1, 1]
    assert table.loc["direct", "assist_ratio"] == 1.0
    assert np.isnan(table.loc["search", "assist_ratio"])


# --------------------------------------------------------------------------- Shapley


def test_shapley_two_channels_by_hand():
    # A (2 conv), A > B (3), B (1): v({A}) = 2, v({B}) = 1, v({A, B}) = 6.
    # phi_A = 1/2 (v(A) - 0) + 1/2 (v(AB) - v(B)) = 1 + 2.5 = 3.5
    # phi_B = 1/2 (v(B) - 0) + 1/2 (v(AB) - v(A)) = 0.5 + 2 = 2.5
    paths = paths_from_records([("A", 2, 0), ("A > B", 3, 4), ("B", 1, 9)])
    players, v = coalition_values(paths)
    assert players == ("A", "B")
    assert v.tolist() == [0, 2, 1, 6]  # masks {}, {A}, {B}, {A, B}
    assert credit_of(shapley_credit(paths)) == {"A": 3.5, "B": 2.5}


def test_shapley_three_channels_by_hand():
    # A (3 conv), A > B (2), B > C > B (3), C (0 conv, 5 null). Worth of coalitions:
    # v(A)=3, v(B)=v(C)=0, v(AB)=5, v(AC)=3, v(BC)=3, v(ABC)=8.
    # Weights |S|!(2-|S|)!/3!: 1/3 for |S| = 0 or 2, 1/6 for |S| = 1.
    # phi_A = 1/3 x 3 + 1/6 x (5 - 0) + 1/6 x (3 - 0) + 1/3 x (8 - 3) = 4
    # phi_B = 1/3 x 0 + 1/6 x (5 - 3) + 1/6 x (3 - 0) + 1/3 x (8 - 3) = 2.5
    # phi_C = 1/3 x 0 + 1/6 x (3 - 3) + 1/6 x (3 - 0) + 1/3 x (8 - 5) = 1.5
    paths = paths_from_records([("A", 3, 0), ("A > B", 2, 0), ("B > C > B", 3, 0), ("C", 0, 5)])
    assert credit_of(shapley_credit(paths)) == {"A": 4, "B": 2.5, "C": 1.5}


def test_shapley_exact_on_fifteen_channels_equals_the_closed_form():
    # v is a sum of unanimity games, so phi = each path's conversions split equally
    # among its distinct channels: an independent reference for the enumeration.
    rng = np.random.default_rng(3)
    channels = [f"ch{i:02d}" for i in range(15)]
    records, expected = [], dict.fromkeys(channels, 0.0)
    for _ in range(300):
        path = tuple(rng.choice(channels, size=rng.integers(1, 6)))
        conversions = float(rng.integers(0, 4))
        records.append((path, conversions, float(rng.integers(0, 3))))
        for channel in set(path):
            expected[channel] += conversions / len(set(path))
    got = shapley_credit(paths_from_records(records))
    assert got.to_dict() == pytest.approx(expected)


# --------------------------------------------------------------------------- invariants


def random_paths(seed: int = 5, n_paths: int = 60):
    rng = np.random.default_rng(seed)
    channels = ["direct", "email", "organic", "search", "social"]
    records = []
    for _ in range(n_paths):
        path = tuple(rng.choice(channels, size=rng.integers(1, 7)))
        conversions = float(rng.integers(0, 5))
        records.append((path, conversions, float(rng.integers(0, 8)), conversions * 1000.0))
    return paths_from_records(records)


@pytest.mark.parametrize("weight", ["conversions", "value"])
def test_every_model_shares_out_exactly_the_total(weight):
    paths = random_paths()
    credit = compare_models(paths, weight=weight)
    assert list(credit.columns) == PATH_MODELS
    total = paths[weight].sum()
    np.testing.assert_allclose(credit.sum(axis=0), total)
    assert (credit >= -1e-9).all().all()


def test_symmetric_channels_get_equal_credit():
    paths = paths_from_records(
        [
            ("A > B", 1, 1),
            ("B > A", 1, 1),
            ("A", 2, 1),
            ("B", 2, 1),
            ("C > A > B", 1, 0),
            ("C > B > A", 1, 0),
            ("C", 0, 3),
        ]
    )
    credit = compare_models(paths)
    np.testing.assert_allclose(credit.loc["A"], credit.loc["B"])


def test_channel_only_on_non_converting_paths_gets_nothing():
    # X is on null paths only, after or without converting channels
    paths = paths_from_records(
        [("A > B", 2, 1), ("B", 1, 1), ("A > X", 0, 3), ("X", 0, 2), ("B > X > X", 0, 1)]
    )
    credit = compare_models(paths)
    assert (credit.loc["X"] == 0).all()
    touches = touch_frame([(1, "A", 1.0, True, 1.0), (2, "X", 0.0, False, 0.0)])
    assert time_decay(touches)["X"] == 0


def test_paths_without_conversions_give_zero_credit():
    credit = compare_models(paths_from_records([("A > B", 0, 4), ("B", 0, 1)]))
    assert (credit == 0).all().all()
    model = MarkovAttribution().fit(paths_from_records([]))
    assert model.conversion_probability_ == 0
    assert model.credit_.empty


def test_shares_errors_ranks_and_romi():
    credit = pd.DataFrame(
        {"last_touch": [6.0, 3.0, 1.0], "linear": [4.0, 4.0, 2.0]},
        index=pd.Index(["a", "b", "c"], name="channel"),
    )
    truth = pd.DataFrame(
        {
            "channel": ["a", "b", "c", "d", "a"],
            "conversion": ["sale", "sale", "sale", "sale", "lead"],
            "incremental": [5.0, 3.0, 2.0, 0.0, 99.0],
        }
    )
    # true shares 50/30/20/0; last touch 60/30/10/0 -> |10|, 0, |10|, 0: MAE 5 pp
    # linear 40/40/20/0 -> 10, 10, 0, 0: MAE 5 pp
    errors = error_vs_truth(credit, truth, "sale")
    assert errors["mae_pp"].to_dict() == pytest.approx({"last_touch": 5.0, "linear": 5.0})
    assert errors["max_error_pp"].tolist() == pytest.approx([10.0, 10.0])
    assert errors.loc["last_touch", "spearman"] == pytest.approx(1.0)
    assert errors["channels"].tolist() == [4, 4]
    table = share_vs_truth(credit, truth, "sale")
    assert len(table) == 8
    assert credit_shares(credit)["linear"].tolist() == pytest.approx([40, 40, 20])
    ranks = rank_changes(credit).set_index(["channel", "model"])
    assert ranks.loc[("b", "linear"), "rank"] == 1  # tie with a
    assert ranks.loc[("b", "linear"), "rank_change"] == 1
    romi = romi_by_model(credit, credit * 1000, pd.Series({"a": 3000.0, "d": 10.0}))
    row = romi.set_index(["channel", "model"]).loc[("a", "last_touch")]
    assert row["romi"] == pytest.approx((6000 - 3000) / 3000 * 100)
    assert row["cac"] == pytest.approx(500.0)
    assert romi.set_index(["channel", "model"]).loc[("d", "linear"), "romi"] == -100.0
    with pytest.raises(ValueError, match="truth"):
        error_vs_truth(credit, truth, "mql")


# --------------------------------------------------------------------------- tiny demo


@pytest.fixture(scope="module")
def tiny(tiny_warehouse):
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    yield con
    con.close()


@pytest.mark.parametrize("conversion", ["lead", "revenue"])
def test_comparison_on_the_tiny_demo(tiny, conversion):
    journeys = build_journeys(tiny, conversion, lookback_days=30)
    weight = journeys.default_weight
    credit = compare_models(journeys.paths, journeys.touches, weight=weight)
    assert list(credit.columns) == list(MODELS)
    np.testing.assert_allclose(credit.sum(axis=0), journeys.paths[weight].sum())
    truth = truth_effects(tiny)
    errors = error_vs_truth(credit, truth, conversion)
    assert sorted(errors.index) == sorted(MODELS)
    assert errors["mae_pp"].between(0, 100).all()
    table = direct_assisted(journeys.paths, weight)
    assert table["last_touch"].sum() == pytest.approx(journeys.paths[weight].sum())


def test_first_touch_tracks_the_true_increments_on_the_tiny_demo(tiny):
    """A guard on accuracy against the generator's causal truth, bound from its design.

    In the generator every lead needs its acquisition visit, and removing a
    channel removes the visitors it acquired; later touches add only a small
    noisy-OR effect (0.2-1.2 % per visit on top of the visitor's baseline). So a
    channel's true incremental leads are mostly the leads it acquired, which is
    what first-touch credit counts -- up to acquisition visits older than the
    30-day lookback, the touch effects of return visits and the overlap of
    increments (they sum to more than the total). Measured: first-touch MAE
    1.0-2.1 pp over tiny seeds 7-9 and 1.2 pp at 200k visits; last touch, which
    credits the return channels (direct, e-mail), 5.3-6.3 pp. Bounds: first touch
    within 3 pp on average and 5 pp per channel and ranks channels like the truth
    (Spearman >= 0.8); no model is off by more than 8 pp on average.
    """
    journeys = build_journeys(tiny, "lead", lookback_days=30)
    credit = compare_models(journeys.paths, journeys.touches, weight=journeys.default_weight)
    errors = error_vs_truth(credit, truth_effects(tiny), "lead")
    first = errors.loc["first_touch"]
    assert first["channels"] == 8
    assert first["mae_pp"] <= 3.0 and first["max_error_pp"] <= 5.0
    assert first["spearman"] >= 0.8
    assert (errors["mae_pp"] <= 8.0).all(), errors
    assert errors.loc["last_touch", "mae_pp"] > first["mae_pp"]


def test_truth_effects_is_none_without_the_truth_schema():
    con = duckdb.connect()
    assert truth_effects(con) is None
    con.close()
