"""A flat lead table, as CRMs export it: untidy columns, one clear message per problem."""

from __future__ import annotations

import io
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from analytics.scoring import LeadScoringModel
from analytics.scoring.table import TableWarning, check_target, inspect_columns


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with threadpool_limits(limits=1):
        yield


def _leads(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Leads whose conversion depends on time on site, source and a form answer.

    log-odds = 1.2 * z(time) + 1.0 * [source in {ads, partner}] - 0.3 * pages - 1,
    with 20% of the time values not filled.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "Lead Number": np.arange(600_000, 600_000 + n),
            "Prospect ID": [f"7927b2df-{i:06d}" for i in range(n)],
            "Total Time Spent": rng.normal(size=n),
            "Page Views": rng.integers(0, 5, n).astype(float),
            "Lead Source": rng.choice(["ads", "partner", "organic", "referral", "email"], n),
            "Country": "India",
        }
    )
    frame.loc[rng.random(n) < 0.2, "Total Time Spent"] = np.nan
    logit = (
        1.2 * np.nan_to_num(frame["Total Time Spent"].to_numpy())
        + 1.0 * frame["Lead Source"].isin(["ads", "partner"]).to_numpy()
        - 0.3 * frame["Page Views"].to_numpy()
        - 1
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, y


def test_csv_with_a_trailing_empty_column_fits_with_a_warning():
    """A trailing comma on every line makes pandas read an all-empty ``Unnamed: 6``."""
    X, y = _leads()
    text = X.assign(Converted=y).to_csv(index=False).replace("\n", ",\n")
    table = pd.read_csv(io.StringIO(text))
    assert "Unnamed: 7" in table.columns and table["Unnamed: 7"].isna().all()
    with pytest.warns(TableWarning, match=r"'Unnamed: 7' dropped: it has no name or no value"):
        model = LeadScoringModel(max_iter=30).fit(table.drop(columns="Converted"), table.Converted)
    assert model.dropped_columns_["Unnamed: 7"] == "empty or unnamed"
    assert model.dropped_columns_["Country"] == "constant"
    assert set(model.features_) == {"Total Time Spent", "Page Views", "Lead Source"}


def test_id_columns_are_dropped_fast_and_named():
    """9k distinct lead numbers and prospect ids are identifiers: dropped, not one-hot."""
    X, y = _leads(n=9000)
    started = time.perf_counter()
    with pytest.warns(TableWarning) as caught:
        model = LeadScoringModel(max_iter=30).fit(X, y)
    elapsed = time.perf_counter() - started
    messages = " | ".join(str(w.message) for w in caught)
    assert "'Lead Number' dropped: nearly every row has its own value" in messages
    assert "'Prospect ID' dropped: nearly every row has its own value" in messages
    assert model.dropped_columns_ == {
        "Lead Number": "ID-like",
        "Prospect ID": "ID-like",
        "Country": "constant",
    }
    # not a timing test: a guard against the old one-hot-every-id behaviour (minutes)
    assert elapsed < 60


def test_high_cardinality_text_is_pooled_with_a_warning():
    rng = np.random.default_rng(1)
    n = 3000
    X = pd.DataFrame(
        {"city": rng.choice([f"city {i}" for i in range(400)], n), "x": rng.normal(size=n)}
    )
    y = (rng.random(n) < 0.3).astype(int)
    with pytest.warns(TableWarning, match=r"'city' has 400 distinct values: the 9 most frequent"):
        model = LeadScoringModel(max_iter=5, max_categories=10).fit(X, y)
    assert len(model.categories_["city"]) == 9
    # the 10th code is "other": every unseen or rare city maps to it
    codes = model._encode(pd.DataFrame({"city": ["never seen"], "x": [0.0]}))
    assert codes[0, 0] == 9


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.ones(100), r"one class only \(every lead is 1\)"),
        (np.r_[np.zeros(50), np.ones(49)], "the lead table has 100 rows but the target has 99"),
        (np.r_[np.zeros(50), np.full(50, np.nan)], "the target is missing in 50 rows"),
        (np.array(["won", "lost"] * 50, dtype=object), r"must be 0/1 .* \['lost', 'won'\]"),
    ],
)
def test_bad_targets_get_one_clear_message(y, message):
    X = pd.DataFrame({"x": np.arange(100.0) % 7})
    with pytest.raises(ValueError, match=message):
        LeadScoringModel().fit(X, y)


def test_yes_no_target_text_is_accepted():
    np.testing.assert_array_equal(check_target(["Yes", "no", "TRUE", "0"], 4), [1, 0, 1, 0])


def test_all_missing_features_get_one_clear_message():
    X = pd.DataFrame({"a": [np.nan] * 60, "b": [None] * 60, "id": [str(i) for i in range(60)]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TableWarning)
        with pytest.raises(ValueError, match=r"no column to learn from; dropped: 'a' \(empty"):
            LeadScoringModel().fit(X, np.tile([0, 1], 30))


def test_scoring_a_table_without_a_training_column_names_it():
    X, y = _leads(n=600)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TableWarning)
        model = LeadScoringModel(max_iter=10).fit(X, y)
    renamed = X.rename(columns={"Lead Source": "Source"})
    with pytest.raises(ValueError, match=r"missing \['Lead Source'\], extra \['Source'\]"):
        model.predict_proba(renamed)
    # dropped columns are not needed to score, extra ones are ignored
    slim = X[["Total Time Spent", "Page Views", "Lead Source"]].assign(note="x")
    np.testing.assert_allclose(model.predict_proba(slim), model.predict_proba(X))


def test_inspect_columns_classifies_a_hand_made_table():
    n = 100
    table = pd.DataFrame(
        {
            "": [np.nan] * n,
            "created": pd.date_range("2026-01-01", periods=n, freq="h"),
            "flag": [True, False] * 50,
            "amount": np.linspace(0, 1, n),  # nearly unique but not whole: a measurement
            "deal no": np.arange(n),
            "city": ["a", "b", "c", "d"] * 25,
            "same": 1,
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TableWarning)
        columns = inspect_columns(table)
    assert columns.numeric == ["flag", "amount"]
    assert columns.categorical == ["city"]
    assert columns.time == ["created"]
    assert columns.dropped == {"": "empty or unnamed", "deal no": "ID-like", "same": "constant"}


def test_accuracy_matches_histgradientboosting_on_the_same_split():
    """Same split, same data: the model's ROC-AUC is within 0.01 of a bare booster's.

    Reference: ``HistGradientBoostingClassifier`` defaults with the categorical
    column as a pandas category; ID-like and constant columns removed by hand.
    """
    X, y = _leads(n=8000, seed=3)
    train, valid = np.arange(6000), np.arange(6000, 8000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TableWarning)
        model = LeadScoringModel().fit(X.iloc[train], y[train])
    ours = roc_auc_score(y[valid], model.predict_proba(X.iloc[valid])[:, 1])
    bare_X = X.drop(columns=["Lead Number", "Prospect ID", "Country"])
    bare_X["Lead Source"] = bare_X["Lead Source"].astype("category")
    bare = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    bare.fit(bare_X.iloc[train], y[train])
    reference = roc_auc_score(y[valid], bare.predict_proba(bare_X.iloc[valid])[:, 1])
    assert ours >= reference - 0.01


def test_auto_kind_is_logistic_for_few_leads_and_boosting_for_many():
    """``kind="auto"``: fewer than 1,000 labelled leads -> logistic regression (boosting's
    early stopping would rest on ~150 leads), 1,000 and more -> boosting."""
    from sklearn.linear_model import LogisticRegression

    from analytics.scoring.model import AUTO_LOGISTIC_BELOW

    rng = np.random.default_rng(3)
    n = AUTO_LOGISTIC_BELOW
    frame = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n)})
    y = (frame["x"] + rng.normal(size=n) > 0).astype(int)
    few = LeadScoringModel(kind="auto").fit(frame.iloc[: n - 1], y.iloc[: n - 1])
    many = LeadScoringModel(kind="auto", max_iter=20).fit(frame, y)
    assert (few.kind_, many.kind_) == ("logistic", "boosting")
    assert isinstance(few.classifier_, LogisticRegression)
    assert isinstance(many.classifier_, HistGradientBoostingClassifier)
    assert few.get_params()["kind"] == "auto"  # the parameter stays as given
