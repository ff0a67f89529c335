"""Path attribution (Saabas) of a histogram gradient-boosting forest, compiled with Numba.

Every lead walks every tree of the fitted ``HistGradientBoostingClassifier``
once, on the same float matrix and with the same rules as scikit-learn's own
prediction (``_predict_one_from_raw_data``: NaN follows the node's missing
direction; a categorical code goes left when it is in the node's left-category
bitset, right when it is another category known to the booster, and the missing
direction otherwise, as do negative codes; a number goes left when it is
``<= threshold``). Each step from node ``v`` to its child ``u`` adds
``delta(u) = E(u) - E(v)`` to the contribution of the feature split at ``v``,
with ``E`` the training-count-weighted mean leaf value under a node. Summed over
a path this is ``leaf - E(root)``, so ``sum_j c_j(x) = f(x) - bias`` exactly
(see :mod:`analytics.scoring.model`).

Why compiled: scikit-learn exposes no leaf indices, and the earlier route (one
scikit-learn prediction per tree to find the leaf, then a sparse product with a
per-leaf contribution table) cost 2.7 s for 100k leads and 240 trees, most of it
in 240 separate OpenMP calls and a product with a mostly-zero table. Here one
loop, parallel over leads, does ``leads x trees x depth`` steps and picks each
lead's top contributions on the way. ``cache=True`` keeps the machine code in
``__pycache__``, so only the first call after an install compiles (about 2 s).

Below :data:`NUMPY_BELOW` lead-trees (a week's call list: ~1.6k leads at 10M visits)
the same walk runs in NumPy instead, one tree at a time over all leads
(:func:`_walk_numpy`, :func:`_top_numpy`): importing Numba and loading its cached
machine code cost ~1 CPU-s per process, more than walking 2k leads in NumPy.
Both add the same ``delta`` values to each lead's contributions in the same order
(tree by tree, root to leaf, from 0.0), so they give bit-for-bit the same
contributions and the same top reasons (tested).

The forest is flattened once into :class:`Forest` arrays indexed by a global
node number (tree ``t``'s nodes start at ``roots[t]``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

prange = range
"""``numba.prange`` once :func:`_compiled` has run (plain ``range`` before)."""


@dataclass(frozen=True)
class Forest:
    """A fitted booster's trees as flat arrays (global node numbers).

    Attributes
    ----------
    roots : ndarray of int64, shape (trees,)
        Global number of each tree's root.
    column : ndarray of int64
        Column of the booster's input matrix a node splits on.
    feature : ndarray of int64
        Index of that column among the model's features (where its
        contribution goes).
    threshold : ndarray of float64
        Numeric split: left when ``x <= threshold``.
    left, right : ndarray of int64
        Global numbers of the children.
    flags : ndarray of uint8
        Bit 0 leaf, bit 1 missing goes left, bit 2 categorical split.
    bitset : ndarray of int64
        Row of ``left_categories`` of a categorical split.
    left_categories : ndarray of uint32, shape (splits, 8)
        256-bit sets of the category codes that go left.
    known_categories : ndarray of uint32, shape (columns, 8)
        256-bit sets of the codes the booster saw in training, per column
        (rows of non-categorical columns unused).
    delta : ndarray of float64
        ``E(node) - E(parent)``, log-odds (0 at roots).
    """

    roots: np.ndarray
    column: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    flags: np.ndarray
    bitset: np.ndarray
    left_categories: np.ndarray
    known_categories: np.ndarray
    delta: np.ndarray


LEAF, MISSING_LEFT, CATEGORICAL = 1, 2, 4

NUMPY_BELOW = 4_000_000
"""Size below which :func:`attribute` (leads x trees) and :func:`top_by_magnitude`
(leads x features) run in NumPy, not Numba.

The NumPy walk costs ``trees x depth`` array steps over the leads (~0.13 CPU-s for
1,610 leads and 173 trees of 7 leaves, 0.9 for 19,000), Numba ~1-2 CPU-s to import
and load its cached code, then ~7 us per lead for those trees; at 4M lead-trees
NumPy takes ~1 CPU-s, about what loading Numba costs.
"""


def flatten_forest(booster, to_feature: np.ndarray) -> tuple[Forest, float]:
    """The booster's trees as a :class:`Forest` and ``sum_t E(root_t)``.

    Parameters
    ----------
    booster : HistGradientBoostingClassifier
        Fitted, binary.
    to_feature : ndarray of int
        Booster column -> index of the model feature its contribution goes to.
    """
    predictors = [tree[0] for tree in booster._predictors]
    sizes = np.array([len(p.nodes) for p in predictors], dtype=np.int64)
    roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    columns, thresholds, lefts, rights, flags = [], [], [], [], []
    bitsets, deltas, sets = [], [], []
    bitset_offset = 0
    root_total = 0.0
    for root, predictor in zip(roots, predictors, strict=True):
        nodes = predictor.nodes
        expected = nodes["value"].astype(float).copy()
        count = nodes["count"].astype(float)
        is_leaf = nodes["is_leaf"].astype(bool)
        for v in range(len(nodes) - 1, -1, -1):  # children follow their parent
            if not is_leaf[v]:
                left, right = nodes["left"][v], nodes["right"][v]
                total = count[left] + count[right]
                expected[v] = (
                    (count[left] * expected[left] + count[right] * expected[right]) / total
                    if total > 0
                    else 0.5 * (expected[left] + expected[right])
                )
        root_total += expected[0]
        delta = np.zeros(len(nodes))
        for v in np.flatnonzero(~is_leaf):
            for child in (nodes["left"][v], nodes["right"][v]):
                delta[child] = expected[child] - expected[v]
        columns.append(nodes["feature_idx"].astype(np.int64))
        thresholds.append(nodes["num_threshold"].astype(np.float64))
        lefts.append(root + nodes["left"].astype(np.int64))
        rights.append(root + nodes["right"].astype(np.int64))
        flags.append(
            (
                is_leaf * LEAF
                + (nodes["missing_go_to_left"] > 0) * MISSING_LEFT
                + (nodes["is_categorical"] > 0) * CATEGORICAL
            ).astype(np.uint8)
        )
        bitsets.append(bitset_offset + nodes["bitset_idx"].astype(np.int64))
        raw = np.asarray(predictor.raw_left_cat_bitsets, dtype=np.uint32).reshape(-1, 8)
        sets.append(raw)
        bitset_offset += len(raw)
        deltas.append(delta)
    known, f_idx_map = booster._bin_mapper.make_known_categories_bitsets()
    n_columns = len(booster._bin_mapper.is_categorical_)
    known_by_column = np.zeros((n_columns, 8), dtype=np.uint32)
    categorical = np.flatnonzero(booster._bin_mapper.is_categorical_)
    known_by_column[categorical] = np.asarray(known, dtype=np.uint32)[f_idx_map[categorical]]
    column = np.concatenate(columns)
    forest = Forest(
        roots=roots,
        column=column,
        feature=np.asarray(to_feature, dtype=np.int64)[column],
        threshold=np.concatenate(thresholds),
        left=np.concatenate(lefts),
        right=np.concatenate(rights),
        flags=np.concatenate(flags),
        bitset=np.concatenate(bitsets),
        left_categories=np.ascontiguousarray(np.concatenate(sets) if sets else np.zeros((0, 8))),
        known_categories=known_by_column,
        delta=np.concatenate(deltas),
    )
    return forest, float(root_total)


def attribute(forest: Forest, M: np.ndarray, n_features: int) -> np.ndarray:
    """Per-lead contribution of every feature, shape ``(n_leads, n_features)``, log-odds.

    ``M`` is the booster's input matrix (float64, one row per lead, the
    booster's column order).
    """
    M = np.ascontiguousarray(M, dtype=np.float64)
    out = np.zeros((len(M), n_features))
    if len(M) and len(forest.roots) and len(M) * len(forest.roots) < NUMPY_BELOW:
        _walk_numpy(M, forest, out)
    elif len(M) and len(forest.roots):
        _compiled()[0](
            M,
            forest.roots,
            forest.column,
            forest.feature,
            forest.threshold,
            forest.left,
            forest.right,
            forest.flags,
            forest.bitset,
            forest.left_categories,
            forest.known_categories,
            forest.delta,
            out,
        )
    return out


def top_by_magnitude(values: np.ndarray, n: int) -> np.ndarray:
    """Column indices of each row's ``n`` largest ``|values|``, largest first.

    Ties go to the lower column (as a stable sort of ``-|values|`` would);
    shape ``(rows, n)``, int64.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    n = min(n, values.shape[1])
    out = np.empty((len(values), n), dtype=np.int64)
    if len(values) and n and values.size < NUMPY_BELOW and not np.isnan(values).any():
        out[:] = _top_numpy(values, n)
    elif len(values) and n:
        _compiled()[1](values, out)
    return out


def _walk_numpy(M: np.ndarray, forest: Forest, out: np.ndarray) -> None:
    """:func:`_walk` in NumPy: each tree in turn, every lead one level down per step.

    Per lead the additions to ``out`` come in the order of :func:`_walk` (tree by
    tree, root to leaf) and each step adds at most one value to a (lead, feature)
    cell, so the sums are the same to the bit. The split rules are :func:`_walk`'s.
    """
    every = np.arange(len(M))
    for root in forest.roots:
        rows, node = every, np.full(len(M), root, dtype=np.int64)
        while True:
            inner = (forest.flags[node] & LEAF) == 0
            if not inner.all():
                rows, node = rows[inner], node[inner]
            if not len(rows):
                break
            column = forest.column[node]
            x = M[rows, column]
            flags = forest.flags[node]
            missing_left = (flags & MISSING_LEFT) != 0
            with np.errstate(invalid="ignore"):
                go_left = (x <= forest.threshold[node]) | (np.isnan(x) & missing_left)
            categorical = (flags & CATEGORICAL) != 0
            if categorical.any():
                at = np.flatnonzero(categorical)
                value = x[at]
                absent = np.isnan(value) | (value < 0)
                code = np.where(absent, 0.0, value).astype(np.int64).astype(np.uint8)
                code = code.astype(np.uint32)
                word, bit = code >> np.uint32(5), code & np.uint32(31)
                in_left = (forest.left_categories[forest.bitset[node[at]], word] >> bit) & 1
                known = (forest.known_categories[column[at], word] >> bit) & 1
                go_left[at] = np.where(
                    absent | ((in_left == 0) & (known == 0)), missing_left[at], in_left == 1
                )
            child = np.where(go_left, forest.left[node], forest.right[node])
            out[rows, forest.feature[node]] += forest.delta[child]
            node = child


def _top_numpy(values: np.ndarray, n: int) -> np.ndarray:
    """:func:`_top` in NumPy: a stable sort of ``-|values|`` (ties to the lower column)."""
    return np.argsort(-np.abs(values), axis=1, kind="stable")[:, :n].astype(np.int64)


def _walk(
    M, roots, column, feature, threshold, left, right, flags, bitset, left_sets, known, delta, out
):
    for i in prange(M.shape[0]):
        for t in range(roots.shape[0]):
            node = roots[t]
            while not (flags[node] & 1):
                c = column[node]
                x = M[i, c]
                missing_left = (flags[node] & 2) != 0
                if flags[node] & 4:
                    if np.isnan(x) or x < 0:
                        go_left = missing_left
                    else:
                        code = np.uint32(np.uint8(np.int64(x)))
                        word = code >> np.uint32(5)
                        bit = code & np.uint32(31)
                        if (left_sets[bitset[node], word] >> bit) & np.uint32(1):
                            go_left = True
                        elif (known[c, word] >> bit) & np.uint32(1):
                            go_left = False
                        else:
                            go_left = missing_left
                else:  # NaN compares False: it goes left only when missing goes left
                    go_left = (x <= threshold[node]) | (np.isnan(x) & missing_left)
                child = right[node] + np.int64(go_left) * (left[node] - right[node])
                out[i, feature[node]] += delta[child]
                node = child


def _top(values, out):
    n = out.shape[1]
    for i in prange(values.shape[0]):
        for k in range(n):
            best = -1
            best_size = -1.0
            for j in range(values.shape[1]):
                taken = False
                for m in range(k):
                    if out[i, m] == j:
                        taken = True
                if taken:
                    continue
                size = abs(values[i, j])
                if best < 0 or size > best_size:
                    best = j
                    best_size = size
            out[i, k] = best


@functools.cache
def _compiled():
    """``(_walk, _top)`` compiled by Numba, on first use: importing the module (and
    :mod:`analytics.scoring`) does not import Numba, only scoring does."""
    global prange
    import numba

    prange = numba.prange
    compile_ = numba.njit(parallel=True, cache=True, nogil=True)
    return compile_(_walk), compile_(_top)
