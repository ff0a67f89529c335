"""Calibrated lead-scoring estimator with per-lead reasons.

:class:`LeadScoringModel` predicts the probability that a lead reaches SQL
from the frame of :func:`analytics.scoring.lead_features`. It is a
scikit-learn estimator: parameters are only stored in ``__init__``, ``fit``
returns ``self``, learned attributes end in ``_`` and ``get_params`` /
``clone`` work.

Pipeline
--------
``ColumnTransformer`` -> classifier, wrapped in ``CalibratedClassifierCV``:

* ``kind="logistic"``: numeric features median-imputed and standardised
  (``z = (x - mean) / sd``), categorical features one-hot encoded (categories
  unseen in training encode as all zeros), ``LogisticRegression``;
* ``kind="boosting"``: numeric features as they are, categorical one-hot,
  ``HistGradientBoostingClassifier``.

Calibration uses ``ensemble=False``: out-of-fold predictions of ``cv`` folds
fit the calibrator (isotonic or sigmoid), and one classifier is fitted on all
training leads. That single classifier is also the one explained by
:meth:`LeadScoringModel.contributions`, so reasons and scores come from the
same model.

Reasons
-------
Contributions are in log-odds of the uncalibrated classifier (calibration is
monotone, so signs and ranking carry over to the calibrated score):

* logistic: ``c_j(x) = sum_k beta_k * (t_k(x) - mean_train t_k)`` over the
  transformed columns ``k`` of feature ``j`` -- coefficient times the
  standardised value for numerics, coefficient times the deviation of the
  one-hot indicator from its training share for categories. They add up
  exactly: ``sum_j c_j(x) = logit(x) - logit(average lead)``;
* boosting: ``c_j(x) = f(x) - f(x with feature j set to its baseline)``,
  where ``f`` is the booster's log-odds and the baseline is the training
  median (numerics) or most frequent value (categories) -- how much the
  score moves because this lead differs from a typical lead in feature ``j``
  alone. These do not add up exactly when features interact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

KINDS = ("logistic", "boosting")
CALIBRATIONS = ("isotonic", "sigmoid")
_IMPORTANCE_SAMPLE = 2000


class LeadScoringModel(ClassifierMixin, BaseEstimator):
    """Calibrated probability that a lead reaches SQL, with top reasons per lead.

    Parameters
    ----------
    kind : {"boosting", "logistic"}
        Histogram gradient boosting (default: small shallow trees, the best
        ROC-AUC on the demo data) or logistic regression on standardised
        numerics and one-hot categories.
    calibration : {"isotonic", "sigmoid"}
        Calibration of the probabilities (``CalibratedClassifierCV``).
        Isotonic is non-parametric and needs more data; sigmoid (Platt) is
        steadier on the few hundred to few thousand leads a company has, and
        gave equal or lower Brier scores on the demo data, hence the default.
    cv : int
        Folds for the out-of-fold predictions the calibrator is fitted on.
    C : float
        Inverse L2 regularisation strength of the logistic regression.
    learning_rate : float
        Boosting learning rate.
    max_iter : int
        Boosting rounds.
    max_leaf_nodes : int
        Leaves per boosting tree.
    min_samples_leaf : int
        Smallest number of leads in a boosting leaf.
    l2_regularization : float
        L2 penalty on boosting leaf values.
    random_state : int or None
        Seed of the boosting (early stopping split on large data).

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        Columns of the frame seen in ``fit``; scoring frames must have exactly these.
    n_features_in_ : int
        Their number.
    numeric_features_, categorical_features_ : list of str
        Model inputs by type (numbers and booleans; text and categories).
        Datetime columns such as ``created_at`` are carried but not used.
    features_ : list of str
        ``numeric_features_ + categorical_features_``: what reasons are named by.
    classes_ : ndarray
        ``[0, 1]``.
    calibrated_ : CalibratedClassifierCV
        The fitted calibrated classifier (produces :meth:`predict_proba`).
    estimator_ : Pipeline
        The uncalibrated pipeline fitted on all training leads (explained by reasons).
    baseline_ : dict
        Training median (numeric) or mode (categorical) per feature.
    transformed_mean_ : ndarray
        Mean of every transformed column over the training leads (logistic reasons).
    transformed_columns_ : list of ndarray
        Positions of each feature's transformed columns (one per numeric, one
        per category for one-hot features).
    importance_ : ndarray
        Mean absolute contribution per feature over (up to 2000) training leads.
    base_rate_ : float
        Share of positive training leads.
    """

    def __init__(
        self,
        kind: str = "boosting",
        calibration: str = "sigmoid",
        cv: int = 5,
        C: float = 1.0,
        learning_rate: float = 0.05,
        max_iter: int = 100,
        max_leaf_nodes: int = 7,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
        random_state: int | None = 0,
    ):
        self.kind = kind
        self.calibration = calibration
        self.cv = cv
        self.C = C
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting

    def _pipeline(self) -> Pipeline:
        categorical = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        if self.kind == "logistic":
            numeric = Pipeline(
                [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
            )
            classifier = LogisticRegression(C=self.C, max_iter=2000)
        else:
            numeric = "passthrough"
            classifier = HistGradientBoostingClassifier(
                learning_rate=self.learning_rate,
                max_iter=self.max_iter,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                l2_regularization=self.l2_regularization,
                random_state=self.random_state,
            )
        blocks = [
            ("numeric", numeric, self.numeric_features_),
            ("categorical", categorical, self.categorical_features_),
        ]
        columns = ColumnTransformer([b for b in blocks if b[2]], remainder="drop")
        return Pipeline([("columns", columns), ("classifier", classifier)])

    def fit(self, X: pd.DataFrame, y) -> LeadScoringModel:
        """Fit the pipeline and its calibration on training leads.

        Parameters
        ----------
        X : pandas.DataFrame
            Lead features (one row per lead), e.g. from
            :func:`analytics.scoring.lead_features`.
        y : array-like of {0, 1}
            1 if the lead reached SQL.

        Returns
        -------
        LeadScoringModel
            ``self``, fitted.
        """
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {self.calibration!r}")
        _require_frame(X)
        y = np.asarray(y).astype(int)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        if set(np.unique(y)) != {0, 1}:
            raise ValueError("y must contain both classes 0 and 1")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.numeric_features_ = [
            c
            for c in X.columns
            if pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])
        ]
        self.categorical_features_ = [
            c
            for c in X.columns
            if c not in self.numeric_features_ and not pd.api.types.is_datetime64_any_dtype(X[c])
        ]
        self.features_ = self.numeric_features_ + self.categorical_features_
        if not self.features_:
            raise ValueError("X has no numeric or categorical feature columns")
        self.classes_ = np.array([0, 1])
        self.base_rate_ = float(y.mean())
        self.baseline_ = {
            **{c: float(X[c].astype(float).median()) for c in self.numeric_features_},
            **{c: str(X[c].astype(str).mode().iloc[0]) for c in self.categorical_features_},
        }
        self.calibrated_ = CalibratedClassifierCV(
            self._pipeline(), method=self.calibration, cv=self.cv, ensemble=False
        ).fit(X, y)
        self.estimator_ = self.calibrated_.calibrated_classifiers_[0].estimator
        columns = self.estimator_.named_steps["columns"]
        self.transformed_mean_ = np.asarray(columns.transform(X), dtype=float).mean(axis=0)
        self.transformed_columns_ = _transformed_columns(columns, self.features_)
        sample = X if len(X) <= _IMPORTANCE_SAMPLE else X.sample(_IMPORTANCE_SAMPLE, random_state=0)
        self.importance_ = np.abs(self.contributions(sample).to_numpy()).mean(axis=0)
        return self

    # --------------------------------------------------------------- prediction

    def _checked(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` with the training columns in training order, or a clear error."""
        if not hasattr(self, "calibrated_"):
            raise NotFittedError("LeadScoringModel is not fitted yet: call fit first")
        _require_frame(X)
        expected = list(self.feature_names_in_)
        missing = [c for c in expected if c not in X.columns]
        extra = [c for c in X.columns if c not in expected]
        if missing or extra:
            raise ValueError(
                "feature columns differ from the training columns: "
                f"missing {missing}, extra {extra}; score a frame built by lead_features "
                "with the same code version the model was trained with"
            )
        return X[expected]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape ``(n_leads, 2)``; column 1 is P(SQL)."""
        X = self._checked(X)
        return self.calibrated_.predict_proba(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where ``P(SQL) >= 0.5``. Use a threshold from sales economics instead
        (:func:`analytics.scoring.best_threshold`)."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    # ------------------------------------------------------------------ reasons

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-lead contribution of every feature, in log-odds (see module doc).

        Returns
        -------
        pandas.DataFrame
            Index of ``X``, one column per feature of :attr:`features_`;
            positive values push the lead towards SQL.
        """
        X = self._checked(X)
        columns = self.estimator_.named_steps["columns"]
        classifier = self.estimator_.named_steps["classifier"]
        if self.kind == "logistic":
            transformed = np.asarray(columns.transform(X), dtype=float)
            per_column = (transformed - self.transformed_mean_) * classifier.coef_[0]
            out = np.column_stack(
                [per_column[:, cols].sum(axis=1) for cols in self.transformed_columns_]
            )
            return pd.DataFrame(out, index=X.index, columns=self.features_)
        full = self.estimator_.decision_function(X)
        out = np.empty((len(X), len(self.features_)))
        for j, feature in enumerate(self.features_):
            replaced = X.copy()
            replaced[feature] = self.baseline_[feature]
            out[:, j] = full - self.estimator_.decision_function(replaced)
        return pd.DataFrame(out, index=X.index, columns=self.features_)

    def top_reasons(self, X: pd.DataFrame, n: int = 3) -> pd.DataFrame:
        """The ``n`` features that move each lead's score most, by absolute contribution.

        Returns
        -------
        pandas.DataFrame
            Index of ``X``; for ``k = 1..n`` columns ``reason_k`` (feature
            name), ``value_k`` (the lead's value, as text) and ``effect_k``
            (signed contribution, log-odds).
        """
        contrib = self.contributions(X)
        n = min(n, contrib.shape[1])
        values = contrib.to_numpy()
        order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :n]
        names = np.asarray(self.features_, dtype=object)
        rows = np.arange(len(values))[:, None]
        raw = X[self.features_].astype(object).to_numpy()
        out = {}
        for k in range(n):
            out[f"reason_{k + 1}"] = names[order[:, k]]
            out[f"value_{k + 1}"] = [_show(v) for v in raw[rows[:, 0], order[:, k]]]
            out[f"effect_{k + 1}"] = values[rows[:, 0], order[:, k]]
        return pd.DataFrame(out, index=contrib.index)

    def global_importance(self, X: pd.DataFrame | None = None) -> pd.Series:
        """Mean absolute contribution of each feature, largest first (log-odds).

        Parameters
        ----------
        X : pandas.DataFrame, optional
            Leads to average over; the training leads (up to 2000) by default.
        """
        if X is None:
            if not hasattr(self, "importance_"):
                raise NotFittedError("LeadScoringModel is not fitted yet: call fit first")
            values = self.importance_
        else:
            values = np.abs(self.contributions(X).to_numpy()).mean(axis=0)
        series = pd.Series(values, index=self.features_, name="mean_abs_contribution")
        return series.sort_values(ascending=False)


def _require_frame(X) -> None:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            "LeadScoringModel needs a pandas DataFrame with named feature columns, "
            f"got {type(X).__name__}"
        )


def _transformed_columns(columns: ColumnTransformer, features: list[str]) -> list[np.ndarray]:
    """Positions of each feature's columns in the transformed matrix (one-hot: several)."""
    blocks = {name: cols for name, _, cols in columns.transformers_ if name != "remainder"}
    out = []
    for feature in features:
        if feature in blocks.get("numeric", []):
            start = columns.output_indices_["numeric"].start
            out.append(np.array([start + blocks["numeric"].index(feature)]))
            continue
        encoder = columns.named_transformers_["categorical"]
        k = blocks["categorical"].index(feature)
        sizes = [len(c) for c in encoder.categories_]
        start = columns.output_indices_["categorical"].start + sum(sizes[:k])
        out.append(np.arange(start, start + sizes[k]))
    return out


def _show(value) -> str:
    """A feature value as reasons show it: 4 significant digits, whole numbers whole."""
    if isinstance(value, float | np.floating):
        return f"{value:.0f}" if abs(value) >= 1e4 or float(value).is_integer() else f"{value:.4g}"
    return str(value)
