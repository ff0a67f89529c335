"""Similarity of each lead to the deals won and lost before it arrived.

Every closed deal (won or lost) is a point: the features of the lead it came
from. A new lead is compared with the deals that had **closed before it was
created**, so nothing from its own future (nor its own deal) enters.

Space
-----
Numeric features ``x`` as ``sign(x) * log(1 + |x|)`` (counts and durations are
heavy-tailed), then standardised with the mean and standard deviation of the
reference deals (a value not filled is put at their mean, 0); categorical
features one-hot (0/1). Euclidean distance ``d`` in these standardised units,
**rounded to 9 decimals** (:data:`DISTANCE_DECIMALS`), so points that are equal
up to floating-point rounding are at exactly the same distance.

Features
--------
Weights ``w(d) = 1 / (d + eps)`` (``eps = 1e-6``). Let ``d_k`` be the ``k``-th
smallest distance from the lead to the reference deals (counted with
multiplicity), ``N`` the deals strictly nearer than ``d_k`` and ``T`` the
``t >= 1`` deals exactly at ``d_k``; ``r = k - |N|`` slots remain for ``T``
(``1 <= r <= t``). **Tie rule**: the deals of ``T`` share those ``r`` slots
equally, each with weight ``(r / t) * w(d_k)``::

    similar_won_share = (sum_{i in N} w(d_i) won_i + (r / t) w(d_k) sum_{j in T} won_j)
                        / (sum_{i in N} w(d_i) + r w(d_k))

with ``won`` 1 for a won deal, 0 for a lost one: the distance-weighted share of
won deals among the lead's ``k`` nearest past deals. Without ties (``t = r``)
this is the plain weighted k-nearest-neighbour share; with ties it is the
*average over every way of picking* ``r`` of the ``t`` tied deals, so it does
not depend on which equally distant deals a search happens to return (thread
count, tree or brute force, data order). Example, ``k = 2``, one deal (won) at
distance 1 and three at distance 2 (one won, two lost): ``N`` = the first,
``t = 3``, ``r = 1``, share = ``(1 + 1/6) / (1 + 1/2) = 7/9`` (``eps``
neglected).

* ``won_profile_distance = |z - mean(won)| - |z - mean(lost)|`` -- how much
  closer the lead (point ``z``) is to the average won deal than to the average
  lost one (negative: nearer the won profile); no neighbours, so no ties.

Both are missing (NaN) while fewer than ``k`` deals have closed.

As-of, fast
-----------
Leads are taken in blocks of ``refresh`` (a week by default) by creation time.
For a block starting at ``s`` the reference set is the latest
``max_reference`` deals with ``closed_at < s`` -- earlier than every lead of
the block, so no lead sees a deal that closed after it arrived (at most a
week's closures are not seen yet).

The search (``algorithm="blas"``, the default) is brute force in the calling
thread: squared distances ``|q|^2 - 2 q.r + |r|^2`` by one matrix product per
chunk of at most :data:`CHUNK_CELLS` lead x deal cells (memory bounded, 8 MB),
in single precision as a screen: the candidates within a margin of each lead's
``k``-th one (wider than the rounding error) are kept, and their distances
recomputed in double precision as ``sqrt(sum (q - r)^2)`` before the tie rule. A
scikit-learn ``NearestNeighbors`` search (``algorithm="brute"``, ``"kd_tree"``,
``"ball_tree"``, with ``n_jobs``) can supply the candidates instead; the
result is the same. The reference sets are small (``max_reference`` deals),
so brute force with BLAS beats an index per block, whose thread start-up
dominated on a busy machine (design note 34).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SIMILARITY_FEATURES = ("similar_won_share", "won_profile_distance")
"""Columns added by :func:`past_deal_similarity`."""

DISTANCE_DECIMALS = 9
"""Distances (standardised units) are rounded to this many decimals before ties are found."""

CHUNK_CELLS = 1 << 20
"""Most lead x deal distances held at once by the default search (two float32 buffers: 8 MB)."""

SCREEN_TOLERANCE = 4e-7
"""Margin of the single-precision screen per dimension, times ``|q|^2 + max |r|^2``."""

SAMPLE_PER_K = 80
"""Deals (the first of the reference set) per neighbour sampled to bound each lead's ``k``-th
screened value: 2,000 of 5,000 for ``k = 25``."""

_EPS = 1e-6
_SLACK = 1e-6  # candidates: approximate distance within this of the k-th one (>> BLAS error)


def _space(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> np.ndarray:
    parts = []
    if numeric:
        values = frame[numeric].to_numpy(dtype=float)
        parts.append(np.sign(values) * np.log1p(np.abs(values)))
    for name in categorical:
        parts.append(pd.get_dummies(frame[name].astype(str)).to_numpy(dtype=float))
    return np.column_stack(parts) if parts else np.empty((len(frame), 0))


def _candidates_blas(queries: np.ndarray, reference: np.ndarray, k: int):
    """(query row, deal row) pairs holding every deal within ``d_k`` (+ slack) of each query.

    A screen in single precision: ``|r|^2 - 2 q.r`` (the squared distance less
    ``|q|^2``, a constant of the row) as float32. Its rounding error is at most
    about ``(p + 2) u (2 |q||r| + |r|^2) <= (p + 2) 1.2e-7 (|q|^2 + |r|^2)``
    (``p`` dimensions, ``u = 6e-8``, the inputs' rounding to float32 included);
    the margin, :data:`SCREEN_TOLERANCE` ``(p + 2) (|q|^2 + max |r|^2)``, is over
    three times that, so no deal at or within the k-th distance is missed.
    The kept pairs' distances are recomputed in double precision by the caller.

    Each row's ``k``-th screened value is found in two steps rather than by a
    partition of the whole row: the ``k``-th value of a sample of the deals (the
    first :data:`SAMPLE_PER_K` ``k`` of the reference set) is at least the row's
    own, so the cells under that bound's limit (the limit grows with the bound)
    hold the row's ``k`` smallest; the row's ``k``-th value is then the ``k``-th of
    those few cells. Same value, same limit, same pairs in the same order as a
    partition of the whole row (``sql_oracle.old_candidates_blas``), with ~40%
    of the partition's and copy's work.
    """
    size = len(reference)
    norms = np.einsum("ij,ij->i", reference, reference)
    top = norms.max()
    minus_twice = (np.ascontiguousarray(reference.T) * -2.0).astype(np.float32)
    norms32 = norms.astype(np.float32)
    step = max(1, CHUNK_CELLS // size)
    width = min(size, SAMPLE_PER_K * k)  # the sample keeps >= k deals: size >= k
    # two reused buffers: fresh arrays per chunk cost more in page faults than the sums
    buffer = np.empty((min(step, len(queries)), size), dtype=np.float32)
    sample = np.empty((min(step, len(queries)), width), dtype=np.float32)
    rows, cols = [], []
    for first in range(0, len(queries), step):
        chunk = queries[first : first + step]
        partial = np.matmul(chunk.astype(np.float32), minus_twice, out=buffer[: len(chunk)])
        partial += norms32
        chunk_norms = np.einsum("ij,ij->i", chunk, chunk)
        tolerance = SCREEN_TOLERANCE * (queries.shape[1] + 2) * (chunk_norms + top)

        def limit_of(kth32, chunk_norms=chunk_norms, tolerance=tolerance):
            """The largest screened value kept, from a row's k-th one (monotone in it)."""
            kth = kth32.astype(float) + chunk_norms + tolerance  # >= exact d_k^2
            return (np.sqrt(np.maximum(kth, 0.0)) + _SLACK) ** 2 + tolerance - chunk_norms

        sampled = sample[: len(chunk)]
        np.copyto(sampled, partial[:, :width])
        sampled.partition(k - 1, axis=1)
        row, col = np.divmod(np.flatnonzero(partial <= limit_of(sampled[:, k - 1])[:, None]), size)
        value = partial[row, col]
        count = np.bincount(row, minlength=len(chunk))  # rows come in order
        padded = np.full((len(chunk), count.max()), np.inf, dtype=np.float32)
        padded[row, np.arange(len(row)) - (np.cumsum(count) - count)[row]] = value
        padded.partition(k - 1, axis=1)
        keep = value <= limit_of(padded[:, k - 1])[row]
        rows.append(row[keep] + first)
        cols.append(col[keep])
    return np.concatenate(rows), np.concatenate(cols)


def _candidates_sklearn(queries, reference, k, algorithm, n_jobs):
    """The same pairs from a scikit-learn index: k nearest, then all within ``d_k`` + slack."""
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=k, algorithm=algorithm, n_jobs=n_jobs).fit(reference)
    kth = index.kneighbors(queries)[0][:, -1]
    rows, cols = [], []
    order = np.argsort(kth, kind="stable")
    for first in range(0, len(order), 64):  # similar radii together: few extra candidates
        members = order[first : first + 64]
        found = index.radius_neighbors(
            queries[members], radius=kth[members].max() + _SLACK, return_distance=False
        )
        for member, near in zip(members, found, strict=True):
            keep = near[
                np.linalg.norm(reference[near] - queries[member], axis=1) <= kth[member] + _SLACK
            ]
            rows.append(np.full(len(keep), member))
            cols.append(keep)
    return np.concatenate(rows), np.concatenate(cols)


def _won_share(queries, reference, won, k, rows, cols) -> np.ndarray:
    """``similar_won_share`` of each query from its candidate pairs (module doc's tie rule)."""
    diff = queries[rows] - reference[cols]
    distance = np.round(np.sqrt(np.einsum("ij,ij->i", diff, diff)), DISTANCE_DECIMALS)
    order = np.lexsort((distance, rows))
    rows, cols, distance = rows[order], cols[order], distance[order]
    n = len(queries)
    start = np.searchsorted(rows, np.arange(n), side="left")
    kth = distance[start + k - 1][rows]  # every query has >= k candidates
    near = distance < kth
    tied = distance == kth
    slots = k - np.bincount(rows, weights=near, minlength=n)
    share_of_slot = slots / np.bincount(rows, weights=tied, minlength=n)
    weight = np.where(near, 1.0 / (distance + _EPS), 0.0)
    weight = np.where(tied, share_of_slot[rows] / (kth + _EPS), weight)
    won_weight = np.bincount(rows, weights=weight * won[cols], minlength=n)
    return won_weight / np.bincount(rows, weights=weight, minlength=n)


def _block_similarity(queries, reference, won, *, numeric_width, k, algorithm, n_jobs):
    """Both features for one block's leads against its reference deals (unscaled space)."""
    with np.errstate(all="ignore"):
        mean = np.nan_to_num(np.nanmean(reference[:, :numeric_width], axis=0))
        sd = np.nan_to_num(np.nanstd(reference[:, :numeric_width], axis=0))
    sd[sd == 0] = 1.0

    def scaled(matrix):
        matrix = matrix.copy()
        matrix[:, :numeric_width] = (matrix[:, :numeric_width] - mean) / sd
        return np.nan_to_num(matrix)  # a value not filled sits at the reference mean

    reference, queries = scaled(reference), scaled(queries)
    if algorithm == "blas":
        pairs = _candidates_blas(queries, reference, k)
    else:
        pairs = _candidates_sklearn(queries, reference, k, algorithm, n_jobs)
    share = _won_share(queries, reference, won, k, *pairs)
    if won.min() < 1 and won.max() > 0:
        won_mean = reference[won == 1].mean(axis=0)
        lost_mean = reference[won == 0].mean(axis=0)
        gap = np.linalg.norm(queries - won_mean, axis=1) - np.linalg.norm(
            queries - lost_mean, axis=1
        )
    else:
        gap = np.full(len(queries), np.nan)
    return share, gap


def past_deal_similarity(
    features: pd.DataFrame,
    closed: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    k: int = 25,
    refresh: str = "7D",
    max_reference: int = 5000,
    algorithm: str = "blas",
    n_jobs: int | None = None,
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
        Nearest past deals per lead (ties at the ``k``-th share its slots).
    refresh : str
        Length of the blocks whose leads share one reference set (pandas offset).
    max_reference : int
        Latest closed deals kept in a reference set.
    algorithm : str
        ``"blas"`` (default): chunked brute force in this thread; or a
        scikit-learn ``NearestNeighbors`` algorithm (``"brute"``,
        ``"kd_tree"``, ``"ball_tree"``). Same result either way.
    n_jobs : int, optional
        Threads of the scikit-learn search (ignored by ``"blas"``).

    Returns
    -------
    pandas.DataFrame
        Index of ``features``; :data:`SIMILARITY_FEATURES` (see module doc).
    """
    from threadpoolctl import threadpool_limits  # here: only pages that score need it

    out = pd.DataFrame(np.nan, index=features.index, columns=list(SIMILARITY_FEATURES))
    if features.empty:
        return out
    if algorithm not in ("blas", "brute", "kd_tree", "ball_tree"):
        raise ValueError(f"unknown similarity search algorithm {algorithm!r}")
    space = _space(features, numeric, categorical)
    position = pd.Series(np.arange(len(features)), index=features.index)
    # the deals of known leads; get_indexer (a hash lookup) rather than isin, which on
    # pandas' Arrow-backed text builds one Arrow scalar per lead (~0.5 s at 80k leads)
    known = (
        features.index.get_indexer(closed["lead_id"]) >= 0
        if features.index.is_unique
        else closed["lead_id"].isin(features.index).to_numpy()
    )
    deals = closed[known].sort_values("closed_at")
    deal_rows = position.loc[deals["lead_id"]].to_numpy()
    deal_closed = pd.to_datetime(deals["closed_at"]).to_numpy()
    deal_won = deals["won"].to_numpy(dtype=float)
    created = pd.to_datetime(features["created_at"])
    block = created.dt.floor(refresh) if refresh else created
    share_out = np.full(len(features), np.nan)
    gap_out = np.full(len(features), np.nan)
    # BLAS in this thread: the products are small, and a second thread waiting for a
    # core on a busy machine made the search 2-3x slower (design note 34)
    with threadpool_limits(limits=1, user_api="blas"):
        for start, members in created.groupby(block).indices.items():
            available = int(np.searchsorted(deal_closed, np.datetime64(start), side="left"))
            if available < k:
                continue
            first = max(0, available - max_reference)
            share_out[members], gap_out[members] = _block_similarity(
                space[members],
                space[deal_rows[first:available]],
                deal_won[first:available],
                numeric_width=len(numeric),
                k=k,
                algorithm=algorithm,
                n_jobs=n_jobs,
            )
    out["similar_won_share"] = share_out
    out["won_profile_distance"] = gap_out
    return out
