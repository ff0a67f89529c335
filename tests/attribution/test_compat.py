"""ChannelAttribution-compatible functions against hand computations written out below."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from analytics.attribution import compat
from analytics.attribution.path_frames import encode_paths, paths_from_records
from analytics.attribution.uncertainty import bootstrap_credit, resample_counts


def three_channels() -> pd.DataFrame:
    """Four paths, three channels, in ChannelAttribution's input shape.

    ======  ====  =====  ====
    path    conv  value  null
    ======  ====  =====  ====
    a > b   1     30     1
    a>c     1     60     0
    b       0     0      1
    c       1     30     1
    ======  ====  =====  ====
    """
    return pd.DataFrame(
        {
            "journey": ["a > b", "a>c", "b", "c"],
            "n_conv": [1, 1, 0, 1],
            "revenue": [30.0, 60.0, 0.0, 30.0],
            "n_null": [1, 0, 1, 1],
        }
    )


def test_heuristic_models_by_hand():
    """Paths a > b (2 conversions, value 20), b > a > a (3, 60), b (1, 5).

    first touch: a = 2, b = 3 + 1 = 4; value a = 20, b = 65.
    last touch:  a = 3, b = 2 + 1 = 3; value a = 60, b = 25.
    linear:      a = 2/2 + 3 x 2/3 = 3, b = 2/2 + 3/3 + 1 = 3;
                 value a = 10 + 40 = 50, b = 10 + 20 + 5 = 35.
    """
    data = pd.DataFrame({"p": ["a > b", "b>a>a", "b"], "c": [2, 3, 1], "v": [20.0, 60.0, 5.0]})
    out = compat.heuristic_models(data, "p", "c", var_value="v")
    assert list(out.columns) == [
        "channel_name",
        "first_touch_conversions",
        "first_touch_value",
        "last_touch_conversions",
        "last_touch_value",
        "linear_touch_conversions",
        "linear_touch_value",
    ]
    assert out["channel_name"].tolist() == ["a", "b"]  # first appearance
    expected = [[2, 20, 3, 60, 3, 50], [4, 65, 3, 25, 3, 35]]
    np.testing.assert_allclose(out.iloc[:, 1:].to_numpy(), expected)
    plain = compat.heuristic_models(data, "p", "c")
    assert list(plain.columns) == ["channel_name", "first_touch", "last_touch", "linear_touch"]
    np.testing.assert_allclose(plain["linear_touch"], [3, 3])


def test_markov_model_order_one_by_hand():
    """Order-1 chain of :func:`three_channels` (6 journeys, 3 conversions, value 120).

    (start) -> a 3/6, b 1/6, c 2/6;  a -> b 2/3, c 1/3;
    b -> conversion 1/3, null 2/3;  c -> conversion 2/3, null 1/3.
    x_b = 1/3, x_c = 2/3, x_a = 2/3 x 1/3 + 1/3 x 2/3 = 4/9;
    P = 1/2 x 4/9 + 1/6 x 1/3 + 1/3 x 2/3 = 1/2.
    Without a: 1/18 + 4/18 = 5/18 -> RE 1 - 5/9 = 4/9.
    Without b: x_a = 2/9 -> 1/9 + 2/9 = 1/3 -> RE 1/3.
    Without c: x_a = 2/9 -> 1/9 + 1/18 = 1/6 -> RE 2/3.
    Sum 13/9; 3 conversions -> a 12/13, b 9/13, c 18/13.

    Value (per journey leaving b: 30/3 = 10, c: 90/3 = 30): x_a = 20/3 + 10 = 50/3,
    P = 25/3 + 10/6 + 10 = 20. Without a: 5/3 + 10 -> RE 1 - 35/60 = 5/12;
    without b: x_a = 10 -> 15 -> RE 1/4; without c: x_a = 20/3 -> 5 -> RE 3/4.
    Sum 17/12; value 120 -> a 600/17, b 360/17, c 1080/17.
    """
    out = compat.markov_model(
        three_channels(), "journey", "n_conv", "revenue", "n_null", out_more=True
    )
    result = out["result"]
    assert list(result.columns) == ["channel_name", "total_conversions", "total_conversion_value"]
    assert result["channel_name"].tolist() == ["a", "b", "c"]
    np.testing.assert_allclose(result["total_conversions"], [12 / 13, 9 / 13, 18 / 13], atol=1e-12)
    np.testing.assert_allclose(
        result["total_conversion_value"], [600 / 17, 360 / 17, 1080 / 17], atol=1e-10
    )
    effects = out["removal_effects"]
    assert list(effects.columns) == [
        "channel_name",
        "removal_effects_conversion",
        "removal_effects_conversion_value",
    ]
    np.testing.assert_allclose(effects["removal_effects_conversion"], [4 / 9, 1 / 3, 2 / 3])
    np.testing.assert_allclose(effects["removal_effects_conversion_value"], [5 / 12, 1 / 4, 3 / 4])
    matrix = out["transition_matrix"]
    assert list(matrix.columns) == ["channel_from", "channel_to", "transition_probability"]
    got = {(f, t): p for f, t, p in matrix.itertuples(index=False)}
    expected = {
        ("(start)", "1"): 1 / 2,
        ("(start)", "2"): 1 / 6,
        ("(start)", "3"): 1 / 3,
        ("1", "2"): 2 / 3,
        ("1", "3"): 1 / 3,
        ("2", "(conversion)"): 1 / 3,
        ("2", "(null)"): 2 / 3,
        ("3", "(conversion)"): 2 / 3,
        ("3", "(null)"): 1 / 3,
    }
    assert got == {k: pytest.approx(v) for k, v in expected.items()}
    plain = compat.markov_model(three_channels(), "journey", "n_conv", var_null="n_null")
    assert list(plain.columns) == ["channel_name", "total_conversions"]


def test_markov_model_order_two_uses_channel_attributions_first_state():
    """Order 2 on :func:`three_channels`: a walk starts at its first two channels.

    (start) -> (a b) 2/6, (a c) 1/6, (b) 1/6, (c) 2/6; each converts 1/2, 1, 0, 1/2;
    P = 1/6 + 1/6 + 0 + 1/6 = 1/2.
    Without a ((a b), (a c) gone): 1/6 -> RE 2/3; without b: 1/6 + 1/6 -> RE 1/3;
    without c: 1/6 -> RE 2/3. Sum 5/3: a 3 x 2/5 = 1.2, b 0.6, c 1.2.
    """
    out = compat.markov_model(
        three_channels(), "journey", "n_conv", var_null="n_null", order=2, out_more=True
    )
    np.testing.assert_allclose(out["result"]["total_conversions"], [1.2, 0.6, 1.2])
    np.testing.assert_allclose(out["removal_effects"]["removal_effect"], [2 / 3, 1 / 3, 2 / 3])
    start = out["transition_matrix"].query("channel_from == '(start)'")
    assert dict(zip(start["channel_to"], start["transition_probability"], strict=True)) == {
        "1 2": pytest.approx(2 / 6),
        "1 3": pytest.approx(1 / 6),
        "2": pytest.approx(1 / 6),
        "3": pytest.approx(2 / 6),
    }


def test_self_loops_dropped_by_markov_model_kept_by_transition_matrix():
    """Paths a > a > b (1 conversion), a (1 null).

    Leaving a: a -> a once, a -> b once, a -> null once. transition_matrix with
    flg_equal=True: 1/3 each; markov_model drops the loop: b 1/2, null 1/2.
    Removal effects do not depend on the loop: P = 1/2, without a 0, without b 0.
    """
    data = pd.DataFrame({"path": ["a > a > b", "a"], "conv": [1, 0], "null": [0, 1]})
    kept = compat.transition_matrix(data, "path", "conv", "null")
    assert kept["channels"].to_dict("list") == {"id_channel": [1, 2], "channel_name": ["a", "b"]}
    rows = kept["transition_matrix"].query("channel_from == '1'")
    assert dict(zip(rows["channel_to"], rows["transition_probability"], strict=True)) == {
        "1": pytest.approx(1 / 3),
        "2": pytest.approx(1 / 3),
        "(null)": pytest.approx(1 / 3),
    }
    dropped = compat.transition_matrix(data, "path", "conv", "null", flg_equal=False)
    rows = dropped["transition_matrix"].query("channel_from == '1'")
    assert rows["channel_to"].tolist() == ["2", "(null)"]
    np.testing.assert_allclose(rows["transition_probability"], [0.5, 0.5])
    out = compat.markov_model(data, "path", "conv", var_null="null", out_more=True)
    assert "1" not in out["transition_matrix"].query("channel_from == '1'")["channel_to"].tolist()
    np.testing.assert_allclose(out["removal_effects"]["removal_effect"], [1.0, 1.0])
    np.testing.assert_allclose(out["result"]["total_conversions"], [0.5, 0.5])


def test_simulation_arguments_are_accepted_and_results_repeatable():
    data = three_channels()
    a = compat.markov_model(data, "journey", "n_conv", var_null="n_null", nsim_start=1e5, seed=3)
    b = compat.markov_model(data, "journey", "n_conv", var_null="n_null", ncore=4, verbose=False)
    pd.testing.assert_frame_equal(a, b)


def test_missing_columns_are_named():
    with pytest.raises(KeyError, match="var_null: Data has no column 'nulls'"):
        compat.markov_model(three_channels(), "journey", "n_conv", var_null="nulls")
    with pytest.raises(KeyError, match="no path column 'path'"):
        compat.heuristic_models(three_channels(), "path", "n_conv")
    bad = three_channels().assign(n_conv=[1, -1, 0, 1])
    with pytest.raises(ValueError, match="column 'n_conv', row 1: must be a number >= 0"):
        compat.heuristic_models(bad, "journey", "n_conv")


def test_auto_markov_model_picks_the_order_that_generated_the_data():
    """Two data sets with channels x, y before z, 400 journeys each.

    Second-order: x > z converts 90 %, y > z 10 % -- after z the outcome
    depends on the channel before it, which only order 2 remembers.
    First-order: both convert 50 % -- order 2 adds parameters without
    improving the likelihood, so BIC keeps order 1.
    """
    second = pd.DataFrame({"path": ["x > z", "y > z"], "conv": [360, 40], "null": [40, 360]})
    first = pd.DataFrame({"path": ["x > z", "y > z"], "conv": [200, 200], "null": [200, 200]})
    out = compat.auto_markov_model(second, "path", "conv", "null", max_order=3, out_more=True)
    assert out["order_selection"].set_index("order")["selected"].idxmax() == 2
    # order 2 on this data: (x z) converts 0.9, (y z) 0.1, both start with prob 1/2;
    # without x: 0.05 -> RE 0.9, without y: 0.45 -> RE 0.1, without z: RE 1.
    np.testing.assert_allclose(
        out["result"]["total_conversions"], 400 * np.array([0.9, 1.0, 0.1]) / 2.0
    )
    assert compat.choose_order(first, "path", "conv", "null", max_order=3)["suggested_order"] == 1


def test_ci_adds_lower_and_upper_per_credit_column_matching_the_binomial():
    """First touch of a with k of N journeys converting after a first touch on a.

    Resampling N journeys, the credit of a is Binomial(N, k / N): its 5 % and
    95 % quantiles come from scipy.stats.binom. heuristic_models has no
    var_null, so the journeys are the N = 50 conversions, k = 30 of them on
    paths starting with a. markov_model reads the 150 nulls too.
    """
    data = pd.DataFrame({"path": ["a", "b", "a > b"], "conv": [20, 20, 10], "null": [50, 50, 50]})
    out = compat.heuristic_models(data, "path", "conv", ci=0.9, n_boot=4000, seed=1)
    assert list(out.columns[:4]) == [
        "channel_name",
        "first_touch",
        "first_touch_lower",
        "first_touch_upper",
    ]
    a = out.set_index("channel_name").loc["a"]
    low, high = binom.ppf([0.05, 0.95], 50, 30 / 50)
    assert a["first_touch_lower"] == pytest.approx(low, abs=1)
    assert a["first_touch_upper"] == pytest.approx(high, abs=1)
    markov = compat.markov_model(data, "path", "conv", var_null="null", ci=0.9, n_boot=50)
    assert list(markov.columns) == [
        "channel_name",
        "total_conversions",
        "total_conversions_lower",
        "total_conversions_upper",
    ]
    assert (markov["total_conversions_lower"] <= markov["total_conversions"]).all()
    assert (markov["total_conversions"] <= markov["total_conversions_upper"]).all()


def test_resampled_counts_have_multinomial_moments():
    """Journey resampling: cell counts ~ Multinomial(N, n_cell / N).

    Mean N p_i, variance N p_i (1 - p_i), covariance -N p_i p_j, checked on
    20,000 replicates of 5 paths (10 cells, N = 137) to 4 standard errors.
    """
    enc = encode_paths(
        paths_from_records(
            [("a > b", 3, 5), ("a", 1, 1), ("b > c", 40, 60), ("c", 1, 0), ("a > c", 7, 19)]
        )
    )
    conv, nulls = resample_counts(enc, 20_000, seed=2)
    cells = np.concatenate([conv, nulls], axis=1)
    counts = np.concatenate([enc.conversions, enc.nulls])
    n, p = counts.sum(), counts / counts.sum()
    assert (cells.sum(axis=1) == n).all()
    se = np.sqrt(n * p * (1 - p) / 20_000)
    np.testing.assert_array_less(np.abs(cells.mean(axis=0) - n * p), 4 * se + 1e-12)
    np.testing.assert_allclose(cells.var(axis=0), n * p * (1 - p), rtol=0.05, atol=0.02)
    np.testing.assert_allclose(np.cov(cells[:, 2], cells[:, 7])[0, 1], -n * p[2] * p[7], rtol=0.1)


def test_bootstrap_marks_credit_whose_interval_covers_zero():
    """Channel rare converts once in 2,000 journeys: in ~37 % of replicates
    (e^-1) that journey is not drawn and rare gets 0, so its 90 % interval starts
    at 0; common (500 conversions) is far from 0.
    """
    paths = paths_from_records([("common", 500, 1000), ("rare", 1, 499)])
    table = bootstrap_credit(paths, models=["last_touch", "markov_1"], n_boot=300)
    table = table[table["measure"] == "conversions"]
    flags = table.set_index(["model", "channel"])["distinguishable"]
    assert not flags[("last_touch", "rare")]
    assert flags[("last_touch", "common")]
    assert not flags[("markov_1", "rare")]
    assert table.query("channel == 'rare'")["lower"].eq(0).all()
