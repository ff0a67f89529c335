"""Lead features, the SQL target and the time split.

Every feature of a lead is computed only from what was known when the lead
arrived (``leads.created_at``):

* **site behaviour** of the lead's visitor from visits that *started before*
  the lead: visits, pageviews, time on site, pricing page viewed, days from the
  first visit to the lead, distinct channels, first and last channel;
* **lead facts**: type (form, call, chat), call length and whether the call was
  lost, whether a phone and an e-mail were left, earlier requests of the same
  person in the last 30 days;
* **firmographics**: region, industry, company size band;
* **similarity to past deals** (:mod:`analytics.scoring.similarity`): the
  distance-weighted share of won deals among the lead's nearest deals closed
  before it, and its distance to the won against the lost profile;
* **segment history**: the win rate of the lead's segment
  (industry x company size) among deals *closed before the lead was created*
  (deals with ``deals.closed_at < leads.created_at``), smoothed towards
  the overall win rate to date (see :func:`lead_features`).

The table is the Ibis expression :func:`analytics.transforms.lead_history.as_of_features`
(set-based: joins on equal keys and running sums over sorted rows), so it is
computed the same on DuckDB and on any backend of :mod:`analytics.transforms`;
the similarity and the choice of fields are pandas steps on its result.

The target (:func:`sql_target`) is whether the lead's CRM deal reached stage
``sql`` (or a later stage of ``new < mql < sql < demo < proposal < won``;
``lost`` is terminal and ranks nowhere) within ``window_days`` of the lead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.scoring.fields import choose_fields, extra_lead_fields, load_params
from analytics.scoring.similarity import SIMILARITY_FEATURES, past_deal_similarity
from analytics.warehouse.schema import DEAL_STAGES, LEADS

SQL_STAGES = DEAL_STAGES[DEAL_STAGES.index("sql") : DEAL_STAGES.index("won") + 1]
"""Stages at or after ``sql`` in the funnel order: sql, demo, proposal, won."""

TIME_COLUMN = "created_at"
"""Lead creation time: carried in the feature frame for splitting, not a model input."""

NUMERIC_FEATURES = (
    "site_tracked",
    "visits_before",
    "pageviews_before",
    "duration_before_s",
    "pricing_viewed",
    "days_first_visit_to_lead",
    "channels_distinct",
    "call_duration_s",
    "call_lost",
    "phone_present",
    "email_present",
    "earlier_requests",
    "segment_win_rate",
    "segment_closed_deals",
)
"""Numeric features (flags are 0/1)."""

REPEAT_WINDOW_DAYS = 30
"""Days back within which an earlier request of the same contact counts (``earlier_requests``)."""

CATEGORICAL_FEATURES = (
    "lead_type",
    "first_channel",
    "last_channel",
    "region",
    "industry",
    "company_size",
)
"""Categorical features (text; ``unknown`` when missing, ``no_visits`` for channels)."""


SIMILARITY_NUMERIC = (
    "site_tracked",
    "visits_before",
    "pageviews_before",
    "duration_before_s",
    "pricing_viewed",
    "days_first_visit_to_lead",
    "channels_distinct",
    "call_duration_s",
    "call_lost",
    "phone_present",
    "email_present",
)
"""Numeric features that place a lead (and a past deal's lead) in the similarity space."""

_LAST_FEATURES: dict[tuple, pd.DataFrame] = {}
"""The last feature table computed in this process, by :func:`_features_key`."""


def _features_key(con, as_of, prior_strength, similarity, params) -> tuple | None:
    """What :func:`lead_features` depends on, or None when it cannot be told (an
    in-memory database, one opened for writing, whose open transaction's rows
    are not in the files yet, or an Ibis backend): for a read-only warehouse the file and its
    write-ahead log (path, size, modification time: a load or any committed write
    changes them), every parameter file (``params/scoring.yaml`` among them) and
    the arguments."""
    import json

    import ibis

    from analytics.paths import inputs_stamp

    if isinstance(con, ibis.BaseBackend):
        return None  # an Ibis backend (e.g. Spark): no DuckDB file to stamp
    row = con.execute(
        "SELECT path, readonly FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    if not row or not row[0] or not row[1]:
        return None  # in memory, or writable: an open transaction's rows are not on disk
    chosen = None if params is None else json.dumps(params, sort_keys=True, default=str)
    return (
        inputs_stamp(row[0]),
        None if as_of is None else str(pd.Timestamp(as_of)),
        float(prior_strength),
        bool(similarity),
        chosen,
    )


def lead_features(
    con,
    as_of=None,
    *,
    prior_strength: float = 20.0,
    similarity: bool = True,
    params: dict | None = None,
) -> pd.DataFrame:
    """Features of every lead from what was known when the lead arrived.

    On a read-only connection (the reports' and notebooks'), the last table is
    kept for the process while the warehouse file, its write-ahead log, the
    parameter files and the arguments are unchanged (:func:`_features_key`), so
    one page that loads the model, checks its
    drift and lists the calls computes the features once; each call gets its
    own copy.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or ibis.BaseBackend
        Warehouse with the canonical tables ``leads``, ``visits`` and ``deals``
        (and ``lead_fields`` for the extra fields), or an Ibis backend holding
        them (:func:`analytics.transforms.connect_backend`, e.g. PySpark).
    as_of : datetime-like, optional
        Only leads created at or before this time. Features never use data
        from after a lead's own ``created_at``, so ``as_of`` only limits rows.
    prior_strength : float
        ``m``, pseudo-deals of the smoothing prior of the segment win rate.
    similarity : bool
        Add :data:`~analytics.scoring.similarity.SIMILARITY_FEATURES`: the
        lead's similarity to the deals won and lost before it was created
        (:func:`~analytics.scoring.similarity.past_deal_similarity` over
        :data:`SIMILARITY_NUMERIC`, the numeric extra fields and the
        categorical features).
    params : dict, optional
        Field choice (:func:`analytics.scoring.fields.load_params`);
        ``params/scoring.yaml`` when it exists, else every standard feature.
        Its ``extra_fields`` found in the warehouse are added
        (:func:`~analytics.scoring.fields.extra_lead_fields`), then
        :func:`~analytics.scoring.fields.choose_fields` keeps the selected
        columns (post-contact fields dropped unless allowed).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``lead_id``, sorted by ``created_at``; column ``created_at``
        (timestamp, used by :func:`time_split`, ignored by the model) plus
        :data:`NUMERIC_FEATURES` and :data:`CATEGORICAL_FEATURES`:

        * ``site_tracked`` -- 1 if the lead has a visitor id (0: e.g. a call
          without a session); ``visits_before``, ``pageviews_before``,
          ``duration_before_s`` (seconds), ``pricing_viewed`` (0/1),
          ``days_first_visit_to_lead`` (days), ``channels_distinct``,
          ``first_channel``, ``last_channel`` over the visitor's visits with
          ``visit_start < created_at`` (zeros and ``no_visits`` without visits);
        * ``call_duration_s`` (seconds, 0 for forms and chats), ``call_lost``,
          ``phone_present``, ``email_present`` (0/1), ``lead_type``;
        * ``earlier_requests`` -- requests of the same person (same phone or
          e-mail hash, or visitor id) created before the lead within
          :data:`REPEAT_WINDOW_DAYS` days: a repeated request usually joins the
          deal of the first one instead of opening its own;
        * ``region``, ``industry``, ``company_size`` (``unknown`` if empty);
        * ``segment_win_rate`` and ``segment_closed_deals``: with ``w_s`` won
          and ``n_s`` closed (won or lost) deals of the lead's segment
          (industry x company size) and ``W``, ``N`` of all segments, counting
          only deals with ``closed_at < created_at`` of the lead,

          ``prior = (W + 1) / (N + 2)``,
          ``segment_win_rate = (w_s + m * prior) / (n_s + m)``,
          ``segment_closed_deals = n_s``.

          A lead's own deal, and every deal closed after it, never enters its
          features (:func:`analytics.transforms.lead_history.as_of_features`).
    """
    key = _features_key(con, as_of, prior_strength, similarity, params)
    if key is not None and key in _LAST_FEATURES:
        return _LAST_FEATURES[key].copy()
    frame = _compute_lead_features(
        con, as_of, prior_strength=prior_strength, similarity=similarity, params=params
    )
    _LAST_FEATURES.clear()
    if key is not None:
        _LAST_FEATURES[key] = frame.copy()
    return frame


def _compute_lead_features(con, as_of, *, prior_strength, similarity, params) -> pd.DataFrame:
    """:func:`lead_features` without the memo."""
    # here, not at the top: the call list's economics import this module for a constant
    from analytics.transforms import lead_history
    from analytics.transforms.backends import ibis_backend

    with ibis_backend(con) as backend:
        expr = lead_history.as_of_features(
            backend,
            None if as_of is None else pd.Timestamp(as_of).to_pydatetime(),
            prior_strength=prior_strength,
            repeat_days=REPEAT_WINDOW_DAYS,
        )
        frame = backend.execute(expr)
        if similarity:
            closed = backend.execute(lead_history.past_deal_outcomes(backend))
    frame = frame.set_index("lead_id")
    frame[TIME_COLUMN] = pd.to_datetime(frame[TIME_COLUMN])
    ints = [
        "site_tracked",
        "visits_before",
        "pageviews_before",
        "pricing_viewed",
        "channels_distinct",
        "call_lost",
        "phone_present",
        "email_present",
        "earlier_requests",
        "segment_closed_deals",
    ]
    floats = sorted(set(NUMERIC_FEATURES) - set(ints))
    frame[ints] = frame[ints].astype("int64")
    frame[floats] = frame[floats].astype("float64")
    frame[list(CATEGORICAL_FEATURES)] = frame[list(CATEGORICAL_FEATURES)].astype("str")
    columns = [TIME_COLUMN, *NUMERIC_FEATURES]
    if params is None:
        try:
            params = load_params()
        except ValueError:
            params = {"standard": [], "extra_fields": [], "post_contact": []}
    canonical = [c.stored_name for c in LEADS.columns] + [c.name for c in LEADS.columns]
    extra = extra_lead_fields(con, params.get("extra_fields", []), canonical=canonical)
    extra = extra.reindex(frame.index)
    frame = frame.join(extra)
    extra_numeric = [c for c in extra.columns if pd.api.types.is_float_dtype(extra[c])]
    if similarity:
        near = past_deal_similarity(
            frame,
            closed,
            numeric=[*SIMILARITY_NUMERIC, *extra_numeric],
            categorical=list(CATEGORICAL_FEATURES),
        )
        frame = frame.join(near)
        columns += list(SIMILARITY_FEATURES)
    ordered = [*columns, *extra.columns, *CATEGORICAL_FEATURES]
    chosen = choose_fields(ordered[1:], params)
    return frame[[TIME_COLUMN, *chosen]]


def data_end(con) -> pd.Timestamp:
    """Latest event time in the warehouse: the end of what the data can show.

    ``max(visits.visit_start, leads.created_at, deal_stages.entered_at, deals.closed_at)``
    (:func:`analytics.transforms.lead_history.latest_event_time`).
    """
    from analytics.transforms import lead_history
    from analytics.transforms.backends import ibis_backend

    with ibis_backend(con) as backend:
        value = backend.execute(lead_history.latest_event_time(backend))
    if value is None or pd.isna(value):
        raise ValueError("the warehouse has no visits, leads or deals: nothing to score")
    return pd.Timestamp(value)


def sql_target(con, window_days: float = 30, *, end=None) -> pd.Series:
    """Whether each lead reached SQL within ``window_days`` of its creation.

    ``sql = 1`` if a CRM deal of the lead (``deals.lead_id``) entered a stage
    of :data:`SQL_STAGES` (sql, demo, proposal or won; per ``deal_stages``)
    at or before ``created_at + window_days``, else 0. Leads without a deal
    (not in the CRM, duplicates) are 0.

    Leads whose window is not complete by the end of the data,
    ``created_at + window_days > end``, are **excluded**: a 0 for them would
    only mean "not yet", and training on such labels biases the model
    towards 0 for the newest leads. They are scored but not trained on.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection or ibis.BaseBackend
        Warehouse with ``leads``, ``deals`` and ``deal_stages``.
    window_days : float
        Days from lead creation within which SQL must be reached.
    end : datetime-like, optional
        End of the data; :func:`data_end` by default.

    Returns
    -------
    pandas.Series
        ``sql`` (int 0/1) indexed by ``lead_id``, leads with a complete window
        only, ordered by creation (:func:`analytics.transforms.lead_history.sql_within_window`).
    """
    from analytics.transforms import lead_history
    from analytics.transforms.backends import ibis_backend

    if window_days <= 0:
        raise ValueError(f"window_days must be positive, got {window_days!r}")
    end = data_end(con) if end is None else pd.Timestamp(end)
    with ibis_backend(con) as backend:
        expr = lead_history.sql_within_window(
            backend, float(window_days), end.to_pydatetime(), SQL_STAGES
        )
        frame = backend.execute(expr)
    return frame.set_index("lead_id")["sql"].astype("int64")


def time_split(
    features: pd.DataFrame,
    target: pd.Series,
    valid_share: float = 0.25,
    *,
    gap_days: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Split labelled leads by creation time: earlier for training, later for validation.

    Leads present in both ``features`` and ``target`` are sorted by
    ``created_at``; the cutoff is the creation time of the first lead of the
    latest ``valid_share`` of them. Validation = leads created at or after the
    cutoff, training = leads created before ``cutoff - gap_days``, so every
    training lead is older than every validation lead (ties at the cutoff go to
    validation). A ``gap_days`` of the target window makes every training label
    known by the cutoff, as it would be when the model is deployed.

    Parameters
    ----------
    features : pandas.DataFrame
        From :func:`lead_features` (needs ``created_at``).
    target : pandas.Series
        From :func:`sql_target`.
    valid_share : float
        Share of labelled leads in validation, ``0 < valid_share < 1``.
    gap_days : float
        Days before the cutoff whose leads are dropped from training.

    Returns
    -------
    X_train, X_valid : pandas.DataFrame
    y_train, y_valid : pandas.Series
    """
    if not 0 < valid_share < 1:
        raise ValueError(f"valid_share must be between 0 and 1, got {valid_share!r}")
    if TIME_COLUMN not in features.columns:
        raise ValueError(f"features need column {TIME_COLUMN!r} to split by time")
    common = features.index.intersection(target.index)
    if len(common) < 2:
        raise ValueError("fewer than two labelled leads: cannot split")
    order = np.lexsort((common.to_numpy(dtype=str), features.loc[common, TIME_COLUMN].to_numpy()))
    ordered = common[order]
    created = features.loc[ordered, TIME_COLUMN]
    n_valid = max(1, int(np.floor(valid_share * len(ordered) + 0.5)))
    cutoff = created.iloc[len(ordered) - n_valid]
    train_ids = ordered[(created < cutoff - pd.Timedelta(days=gap_days)).to_numpy()]
    valid_ids = ordered[(created >= cutoff).to_numpy()]
    if len(train_ids) == 0:
        raise ValueError("no training leads before the cutoff: lower valid_share or gap_days")
    return (
        features.loc[train_ids],
        features.loc[valid_ids],
        target.loc[train_ids],
        target.loc[valid_ids],
    )
