"""Reasons of the boosting model against independent computations.

References, none of which uses :mod:`analytics.scoring.path_attribution`:

* scikit-learn's own traversal: each tree's ``TreePredictor.predict`` with the
  node values replaced by the node numbers gives the leaf a lead reaches; the
  Saabas contribution is then summed in plain Python along the root-to-leaf
  path, with ``E(v)`` the count-weighted mean leaf value under ``v`` computed
  recursively;
* scikit-learn's ``decision_function`` on modified rows: on a model of stumps
  (one split per tree) the log-odds are additive over features, so changing
  only feature ``j`` of a lead changes ``f`` by exactly ``c_j(x) - c_j(x')``;
* ``numpy.argsort`` (stable) for the order of the reasons, and
  :func:`analytics.scoring.sales.reason_text` per lead for the reason phrases.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from threadpoolctl import threadpool_limits

from analytics.scoring import LeadScoringModel, path_attribution
from analytics.scoring.path_attribution import top_by_magnitude
from analytics.scoring.sales import reason_phrases, reason_text


def _leads(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "visits_before": rng.integers(0, 6, n),
            "duration_before_s": np.where(rng.random(n) < 0.25, np.nan, rng.gamma(2, 90, n)),
            "pricing_viewed": rng.integers(0, 2, n),
            "industry": pd.Series(rng.choice(["IT", "retail", "bank", None], n), dtype="str"),
            "region": pd.Series(rng.choice(["msk", "spb", "kzn", "ekb", None], n), dtype="str"),
        }
    )
    z = (
        -1.2
        + 0.9 * X["pricing_viewed"]
        + 0.3 * X["visits_before"]
        + 0.7 * (X["industry"] == "IT")
        - 0.5 * X["duration_before_s"].isna()
        + 0.4 * (X["region"] == "msk") * X["pricing_viewed"]
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return X, y


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # small boosters fit faster single-threaded on a shared machine
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def fitted():
    X, y = _leads(1000, seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LeadScoringModel(kind="boosting", max_iter=25, min_samples_leaf=20).fit(X, y)
    return model, X


def _saabas_by_sklearn_traversal(model: LeadScoringModel, M: np.ndarray) -> np.ndarray:
    """Contributions from sklearn's leaf + a plain-Python path sum (see module doc)."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    booster = model.classifier_
    Z = booster._preprocess_X(M, reset=False)
    known, f_idx_map = booster._bin_mapper.make_known_categories_bitsets()
    booster_columns = model.categorical_features_ + model.numeric_features_
    out = np.zeros((len(M), len(model.features_)))
    for (predictor,) in booster._predictors:
        nodes = predictor.nodes

        def expected(v, nodes=nodes):
            if nodes["is_leaf"][v]:
                return float(nodes["value"][v])
            left, right = nodes["left"][v], nodes["right"][v]
            n_left, n_right = float(nodes["count"][left]), float(nodes["count"][right])
            return (n_left * expected(left) + n_right * expected(right)) / (n_left + n_right)

        parent = {}
        for v in range(len(nodes)):
            if not nodes["is_leaf"][v]:
                parent[int(nodes["left"][v])] = v
                parent[int(nodes["right"][v])] = v
        numbered = nodes.copy()
        numbered["value"] = np.arange(len(nodes))
        leaf_of = TreePredictor(
            numbered, predictor.binned_left_cat_bitsets, predictor.raw_left_cat_bitsets
        ).predict(Z, known, f_idx_map, _openmp_effective_n_threads())
        for i, leaf in enumerate(leaf_of.astype(int)):
            u = leaf
            while u in parent:
                v = parent[u]
                name = booster_columns[nodes["feature_idx"][v]]
                out[i, model.features_.index(name)] += expected(u) - expected(v)
                u = v
    return out


@pytest.fixture(params=["numpy", "numba"])
def walk(request, monkeypatch):
    """Both walks: NumPy (below ``NUMPY_BELOW`` lead-trees, the default here) and Numba."""
    if request.param == "numba":
        monkeypatch.setattr(path_attribution, "NUMPY_BELOW", 0)
    return request.param


def test_contributions_equal_saabas_on_sklearn_paths(fitted, walk):
    model, X = fitted
    leads = X.head(60).copy()
    leads.loc[leads.index[:3], "industry"] = "never seen"  # unseen value: treated as missing
    M = model._encode(leads)
    reference = _saabas_by_sklearn_traversal(model, M)
    np.testing.assert_allclose(model.contributions(leads).to_numpy(), reference, atol=1e-12)


def test_a_code_unknown_to_the_booster_follows_sklearn(fitted, walk):
    """A categorical code the booster never saw (a category kept by the encoder but
    only in the calibration part) must take the path sklearn takes: the log-odds
    from the contributions equal sklearn's decision_function on the same matrix."""
    model, X = fitted
    M = model._encode(X.head(20))
    column = model.categorical_features_.index("region")
    M[:10, column] = 200.0  # a valid code, unknown to the booster
    M[10:12, column] = -1.0  # negative: sklearn treats it as missing
    total = model._contributions_matrix(M).sum(axis=1) + model.bias_
    np.testing.assert_allclose(total, model.classifier_.decision_function(M), atol=1e-12)
    reference = _saabas_by_sklearn_traversal(model, M)
    np.testing.assert_allclose(model._contributions_matrix(M), reference, atol=1e-12)


def test_stump_reasons_equal_the_change_of_sklearn_log_odds_when_one_field_changes():
    """Stumps: f(x) - f(x') = c_j(x) - c_j(x') when x' differs from x only in feature j."""
    X, y = _leads(800, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LeadScoringModel(kind="boosting", max_iter=25, max_leaf_nodes=2).fit(X, y)
    leads, donors = X.iloc[:40].reset_index(drop=True), X.iloc[40:80].reset_index(drop=True)
    c = model.contributions(leads).to_numpy()
    for j, name in enumerate(model.features_):
        changed = leads.copy()
        changed[name] = donors[name]
        f_change = model.classifier_.decision_function(
            model._encode(leads)
        ) - model.classifier_.decision_function(model._encode(changed))
        c_changed = model.contributions(changed).to_numpy()
        np.testing.assert_allclose(f_change, c[:, j] - c_changed[:, j], atol=1e-10)
        others = [k for k in range(len(model.features_)) if k != j]
        np.testing.assert_allclose(c[:, others], c_changed[:, others], atol=1e-12)


def test_score_with_reasons_matches_sklearn_and_a_stable_argsort(fitted):
    model, X = fitted
    scored = model.score_with_reasons(X, n=3)
    p = model.calibrator_.predict_proba(
        model.classifier_.decision_function(model._encode(X))[:, None]
    )[:, 1]
    np.testing.assert_allclose(scored["probability"].to_numpy(), p, atol=1e-12)
    c = model.contributions(X).to_numpy()
    order = np.argsort(-np.abs(c), axis=1, kind="stable")[:, :3]
    names = np.asarray(model.features_, dtype=object)
    rows = np.arange(len(X))
    for k in range(3):
        assert list(scored[f"reason_{k + 1}"].astype(str)) == list(names[order[:, k]])
        np.testing.assert_array_equal(scored[f"effect_{k + 1}"].to_numpy(), c[rows, order[:, k]])
        expected = [
            None if pd.isna(X.iloc[i][names[order[i, k]]]) else X.iloc[i][names[order[i, k]]]
            for i in range(0, len(X), 37)
        ]
        assert list(scored[f"value_{k + 1}"].iloc[::37]) == expected


def test_the_numpy_and_numba_walks_agree_to_the_bit(fitted, monkeypatch):
    """The NumPy walk adds the same deltas in the same order as the compiled one: equal
    contributions (not just close) and equal top reasons, on leads with every kind of
    categorical input (seen, unseen -> missing, a code unknown to the booster, a
    negative code) and missing numbers; and it is the walk used below ``NUMPY_BELOW``."""
    model, X = fitted
    leads = X.head(300).copy()
    leads.loc[leads.index[:5], "industry"] = "never seen"
    M = model._encode(leads)
    column = model.categorical_features_.index("region")
    M[5:15, column] = 200.0
    M[15:20, column] = -1.0
    forest, n = model._forest()[0], len(model.features_)
    assert np.isnan(M).any() and len(M) * len(forest.roots) < path_attribution.NUMPY_BELOW
    with monkeypatch.context() as patched:
        patched.setattr(path_attribution, "_compiled", None)  # would fail if called
        by_numpy = path_attribution.attribute(forest, M, n)
        top_numpy = top_by_magnitude(by_numpy, 3)
    monkeypatch.setattr(path_attribution, "NUMPY_BELOW", 0)
    by_numba = path_attribution.attribute(forest, M, n)
    np.testing.assert_array_equal(by_numpy.view(np.int64), by_numba.view(np.int64))
    np.testing.assert_array_equal(top_numpy, top_by_magnitude(by_numba, 3))


def test_top_by_magnitude_ties_go_to_the_lower_column(walk):
    values = np.array([[0.5, -0.5, 0.1, -0.7], [0.0, 0.0, 0.0, 0.0], [1.0, -2.0, 2.0, 0.3]])
    expected = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(top_by_magnitude(values, 3), expected)
    assert top_by_magnitude(values, 9).shape == (3, 4)


@pytest.mark.parametrize("language", ["ru", "en"])
def test_reason_phrases_equal_reason_text_per_lead(language):
    """The once-per-distinct-value phrases equal reason_text lead by lead, also for an
    object column where True, 1 and 1.0 are equal as values but read differently."""
    scored = pd.DataFrame(
        {
            "reason_1": pd.Categorical(
                ["pricing_viewed", "region", "region", "crm_flag", "crm_flag", "crm_flag"]
            ),
            "value_1": np.array([1, "msk", None, True, 1, 1.0], dtype=object),
            "effect_1": [0.4, -0.2, 0.0, 0.1, -0.1, 0.3],
            "reason_2": ["visits_before", "visits_before", "duration_before_s", "x", "x", "x"],
            "value_2": np.array([3, 3, 125.25, "a", None, "a"], dtype=object),
            "effect_2": [-0.1, 0.1, 0.2, -0.3, 0.05, 0.0],
        }
    )
    expected = [
        "; ".join(
            ("+ " if scored[f"effect_{k}"][i] >= 0 else "− ")
            + reason_text(scored[f"reason_{k}"][i], scored[f"value_{k}"][i], language)
            for k in (1, 2)
        )
        for i in range(len(scored))
    ]
    assert list(reason_phrases(scored, language)) == expected


def test_a_refitted_model_reasons_with_its_new_trees():
    """Fitting the same object again (another company's leads) must not keep the
    flattened trees of the first fit: contributions + bias = sklearn's log-odds."""
    model = LeadScoringModel(kind="boosting", max_iter=15, min_samples_leaf=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(*_leads(600, seed=1))
        X, y = _leads(600, seed=2)
        model.fit(X, y)
    total = model.contributions(X).sum(axis=1).to_numpy() + model.bias_
    np.testing.assert_allclose(total, model.classifier_.decision_function(model._encode(X)))
