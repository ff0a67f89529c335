"""Similarity of each lead to the deals won and lost before it arrived.

Every closed deal (won or lost) is a point: the features of the lead it came
from. A new lead is compared with the deals that had **closed before it was
created**, so nothing from its own future (nor its own deal) enters.

Space
-----
Numeric features ``x`` as ``sign(x) * log(1 + |x|)`` (counts and durations are
heavy-tailed), then standardised with the mean and standard deviation of the
reference deals (a value not filled is put at their mean, 0); categorical
features one-hot (0/1). Euclidean distance.

Features
--------
With the ``k`` nearest reference deals at distances ``d_i`` and outcomes
``won_i`` (1 won, 0 lost), weights ``w_i = 1 / (d_i + eps)``:

* ``similar_won_share = sum_i w_i won_i / sum_i w_i`` -- the distance-weighted
  share of won deals among the lead's nearest past deals;
* ``won_profile_distance = |z - mean(won)| - |z - mean(lost)|`` -- how much
  closer the lead is to the average won deal than to the average lost one
  (negative: nearer the won profile).

Both are missing (NaN) while fewer than ``k`` deals have closed.

As-of, fast
-----------
Leads are taken in blocks of ``refresh`` (a week by default) by creation time.
For a block starting at ``s`` the reference set is the latest
``max_reference`` deals with ``closed_at < s`` -- earlier than every lead of
the block, so no lead sees a deal that closed after it arrived (at most a
week's closures are not seen yet). One ``NearestNeighbors`` index per block,
queried for all of the block's leads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SIMILARITY_FEATURES = ("similar_won_share", "won_profile_distance")
"""Columns added by :func:`past_deal_similarity`."""

_EPS = 1e-6


def _space(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> np.ndarray:
    parts = []
    if numeric:
        values = frame[numeric].to_numpy(dtype=float)
        parts.append(np.sign(values) * np.log1p(np.abs(values)))
    for name in categorical:
        parts.append(pd.get_dummies(frame[name].astype(str)).to_numpy(dtype=float))
    return np.column_stack(parts) if parts else np.empty((len(frame), 0))


def past_deal_similarity(
    features: pd.DataFrame,
    closed: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    k: int = 25,
    refresh: str = "7D",
    max_reference: int = 5000,
) -> pd.DataFrame:
    """Each lead's similarity to the deals won and lost before it was created.

    Parameters
    ----------
    features : pandas.DataFrame
        Leads indexed by lead id with ``created_at`` and the columns named in
        ``numeric`` and ``categorical``.
    closed : pandas.DataFrame
        Closed deals: ``lead_id`` (a lead of ``features``), ``closed_at``,
        ``won`` (1 won, 0 lost).
    numeric, categorical : list of str
        Columns defining the space.
    k : int
        Nearest past deals per lead.
    refresh : str
        Length of the blocks whose leads share one reference set (pandas offset).
    max_reference : int
        Latest closed deals kept in a reference set.

    Returns
    -------
    pandas.DataFrame
        Index of ``features``; :data:`SIMILARITY_FEATURES` (see module doc).
    """
    # here, not at the top: the call list's page imports this layer for its headers
    # and needs no scikit-learn (~1 s of CPU per notebook kernel)
    from sklearn.neighbors import NearestNeighbors

    out = pd.DataFrame(np.nan, index=features.index, columns=list(SIMILARITY_FEATURES))
    if features.empty:
        return out
    space = _space(features, numeric, categorical)
    position = pd.Series(np.arange(len(features)), index=features.index)
    deals = closed[closed["lead_id"].isin(features.index)].sort_values("closed_at")
    deal_rows = position.loc[deals["lead_id"]].to_numpy()
    deal_closed = pd.to_datetime(deals["closed_at"]).to_numpy()
    deal_won = deals["won"].to_numpy(dtype=float)
    created = pd.to_datetime(features["created_at"])
    block = created.dt.floor(refresh) if refresh else created
    for start, members in created.groupby(block).groups.items():
        available = int(np.searchsorted(deal_closed, np.datetime64(start), side="left"))
        if available < k:
            continue
        first = max(0, available - max_reference)
        rows, won = deal_rows[first:available], deal_won[first:available]
        reference = space[rows]
        numeric_width = len(numeric)
        with np.errstate(all="ignore"):
            mean = np.nan_to_num(np.nanmean(reference[:, :numeric_width], axis=0))
            sd = np.nan_to_num(np.nanstd(reference[:, :numeric_width], axis=0))
        sd[sd == 0] = 1.0

        def scaled(matrix, mean=mean, sd=sd, width=numeric_width):
            matrix = matrix.copy()
            matrix[:, :width] = (matrix[:, :width] - mean) / sd
            return np.nan_to_num(matrix)  # a value not filled sits at the reference mean

        reference = scaled(reference)
        targets = position.loc[members].to_numpy()
        queries = scaled(space[targets])
        index = NearestNeighbors(n_neighbors=k).fit(reference)
        distance, neighbour = index.kneighbors(queries)
        weight = 1.0 / (distance + _EPS)
        share = (weight * won[neighbour]).sum(axis=1) / weight.sum(axis=1)
        if won.min() < 1 and won.max() > 0:
            won_mean = reference[won == 1].mean(axis=0)
            lost_mean = reference[won == 0].mean(axis=0)
            gap = np.linalg.norm(queries - won_mean, axis=1) - np.linalg.norm(
                queries - lost_mean, axis=1
            )
        else:
            gap = np.full(len(targets), np.nan)
        out.iloc[targets, 0] = share
        out.iloc[targets, 1] = gap
    return out
