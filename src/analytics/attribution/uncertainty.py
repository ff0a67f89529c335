"""How uncertain a channel's credit is: a bootstrap over journeys.

Resampling journeys
-------------------
A period's journeys are ``N`` draws; the bootstrap redraws ``N`` journeys with
replacement and refits every model. Aggregated paths lose nothing for this: a
journey is one of the cells ``(path p, converted)`` / ``(path p, null)``, so
the resampled cell counts are exactly

    (conversions*_p, nulls*_p)_p ~ Multinomial(N, (conversions_p, nulls_p)_p / N).

Drawing that with :meth:`numpy.random.Generator.multinomial` costs one binomial
per cell and replicate (tens of seconds for 10^5 paths x 200 replicates), so it
is drawn in two exact stages instead: cells with the same count ``m`` have the
same probability, so the journeys first fall into *count groups*
(``Multinomial(N, G_m m / N)`` over the few distinct counts ``m``, with ``G_m``
cells each) and then uniformly into the ``G_m`` cells of their group -- by
``T`` uniform integers and a ``bincount`` when the group is sparse, by one
multinomial over its cells when it is dense. The result has the same
distribution; the cost is about the number of journeys in rare paths.

The value of a resampled conversion of path ``p`` is the mean value of the
path's conversions, ``value_p / conversions_p`` (exact when the conversions of
one path have one value; otherwise the spread of deal values within a path is
left out).

Models on replicates
--------------------
Rule-based models and (simplified) Shapley are linear in the per-path amounts,
``credit = w @ H`` with ``H`` (paths x channels) fixed, so all replicates are
one sparse product. Markov chains keep their states and transitions
(:class:`~analytics.attribution.markov.ChainStructure`); only the counts
change. Chains with at most :data:`DENSE_STATES` states are solved for all
replicates at once with batched dense ``numpy.linalg.solve``; larger ones one
replicate at a time with sparse LU.

Intervals
---------
Percentile intervals at level ``ci``: ``[q_{(1-ci)/2}, q_{(1+ci)/2}]`` of the
replicates. Credit is never negative, so an interval *covers zero* when its
lower end is 0: in at least ``(1-ci)/2`` of the replicates the channel got
nothing. Such credit is marked ``distinguishable = False`` (not
distinguishable from zero).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analytics.attribution.heuristics import DIRECT_CHANNELS, touch_shares
from analytics.attribution.markov import (
    MAX_STATES,
    ChainStructure,
    absorption,
    chain_structure,
    effects_and_credit,
)
from analytics.attribution.path_frames import EncodedPaths, encode_paths

LINEAR_MODELS = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based")
"""Rule-based models whose credit is linear in the path amounts."""

BOOTSTRAP_MODELS = (*LINEAR_MODELS, "markov_1", "markov_2", "markov_3", "shapley")
"""Models :func:`bootstrap_credit` can resample (``markov_<k>`` for any k >= 1)."""

DENSE_STATES = 120
"""Largest chain solved for all replicates at once with dense batched solves."""

CHUNK = 25
"""Replicates held in memory at once."""


def resample_counts(
    enc: EncodedPaths, n_boot: int, seed: int | np.random.Generator = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap replicates of the per-path conversions and nulls (journey resampling).

    Parameters
    ----------
    enc : EncodedPaths
        Paths with whole journey counts.
    n_boot : int
        Replicates ``B``.
    seed : int or numpy.random.Generator
        Random seed.

    Returns
    -------
    tuple of numpy.ndarray
        Conversions and nulls per replicate and path, shape ``(B, n_paths)``
        (float64); every replicate has the original number of journeys.

    Raises
    ------
    ValueError
        If a count is not a whole number of journeys.
    """
    rng = np.random.default_rng(seed)
    cells = np.concatenate([enc.conversions, enc.nulls])
    if not np.allclose(cells, np.round(cells)):
        raise ValueError("bootstrap needs whole numbers of conversions and nulls per path")
    cells = np.round(cells).astype(np.int64)
    total = int(cells.sum())
    out = np.zeros((n_boot, len(cells)))
    nonzero = np.flatnonzero(cells > 0)
    if total == 0:
        return out[:, : enc.n_paths], out[:, enc.n_paths :]
    groups, group_of = np.unique(cells[nonzero], return_inverse=True)
    members = [nonzero[group_of.ravel() == g] for g in range(len(groups))]
    sizes = np.array([len(m) for m in members])
    per_group = rng.multinomial(total, groups * sizes / total, size=n_boot)  # (B, groups)
    for g, cell_ids in enumerate(members):
        t = per_group[:, g]
        size = len(cell_ids)
        if size == 1:
            out[:, cell_ids[0]] = t
        elif t.mean() > 8 * size:
            out[:, cell_ids] = rng.multinomial(t, np.full(size, 1.0 / size))
        else:
            draws = rng.integers(0, size, int(t.sum()))
            replicate = np.repeat(np.arange(n_boot), t)
            counts = np.bincount(replicate * size + draws, minlength=n_boot * size)
            out[:, cell_ids] = counts.reshape(n_boot, size)
    return out[:, : enc.n_paths], out[:, enc.n_paths :]


def share_matrix(
    enc: EncodedPaths,
    model: str,
    direct_channels: Sequence[str] = DIRECT_CHANNELS,
    position_shares: tuple[float, float, float] = (0.4, 0.2, 0.4),
) -> sp.csr_matrix:
    """``H`` (paths x channels): the share of a path's amount each channel gets.

    ``model`` is one of :data:`LINEAR_MODELS` or ``"shapley"`` (simplified
    Shapley: a path's amount shared equally among its distinct channels).
    """
    path = enc.path_of_touch
    if model == "shapley":
        pairs = np.unique(path * enc.n_channels + enc.codes)
        p, c = pairs // enc.n_channels, pairs % enc.n_channels
        distinct = np.bincount(p, minlength=enc.n_paths)
        share = 1.0 / distinct[p]
    else:
        p, c = path, enc.codes
        share = touch_shares(enc, model, direct_channels, position_shares)
    matrix = sp.csr_matrix((share, (p, c)), shape=(enc.n_paths, enc.n_channels))
    matrix.sum_duplicates()
    return matrix


def markov_replicates(
    structure: ChainStructure,
    conversions: np.ndarray,
    nulls: np.ndarray,
    value_per_conversion: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Markov credit and removal effects of every replicate.

    Parameters
    ----------
    structure : ChainStructure
        The chain of the original paths.
    conversions, nulls : numpy.ndarray, shape (B, n_paths)
        Replicate counts.
    value_per_conversion : numpy.ndarray, shape (n_paths,)
        Value of one conversion of each path.

    Returns
    -------
    tuple of numpy.ndarray
        Credit and removal effects, shape ``(B, n_channels, 2)``: last axis
        conversions, value.
    """
    n_boot = len(conversions)
    n_ch = structure.holds.shape[1]
    credit = np.zeros((n_boot, n_ch, 2))
    effects = np.zeros((n_boot, n_ch, 2))
    values = conversions * value_per_conversion
    totals = np.stack([conversions.sum(axis=1), values.sum(axis=1)], axis=1)
    n = structure.n_states
    if n <= DENSE_STATES:
        journeys = conversions + nulls
        edge_counts = (structure.incidence.T @ journeys.T).T  # (B, E)
        last = sp.csr_matrix(
            (
                np.ones(len(structure.last_state)),
                (structure.last_state, np.arange(len(structure.last_state))),
            ),
            shape=(n, len(structure.last_state)),
        )
        src = sp.csr_matrix(
            (
                np.ones(len(structure.edge_src)),
                (structure.edge_src, np.arange(len(structure.edge_src))),
            ),
            shape=(n, len(structure.edge_src)),
        )
        out = (src @ edge_counts.T + last @ journeys.T).T  # (B, n)
        safe = np.where(out > 0, out, 1.0)
        q = np.zeros((n_boot, n, n))
        q[:, structure.edge_src, structure.edge_dst] = edge_counts / safe[:, structure.edge_src]
        r = np.stack([(last @ conversions.T).T, (last @ values.T).T], axis=2) / safe[:, :, None]
        eye = np.eye(n)
        system = eye - q
        full = np.linalg.solve(system, r)[:, 0, :]  # (B, 2)
        without = np.zeros((n_boot, n_ch, 2))
        for c in range(n_ch):
            dead = structure.holds[:, c]
            sub = system.copy()
            sub[:, :, dead] = 0.0
            sub[:, dead, :] = eye[dead]
            rc = r.copy()
            rc[:, dead, :] = 0.0
            without[:, c, :] = np.linalg.solve(sub, rc)[:, 0, :]
        for b in range(n_boot):
            effects[b], credit[b] = effects_and_credit(full[b], without[b], totals[b])
        return credit, effects
    for b in range(n_boot):
        journeys = conversions[b] + nulls[b]
        rewards = np.stack([conversions[b], values[b]], axis=1)
        q, r, _ = structure.counts(journeys, conversions[b], rewards)
        full, without = absorption(structure, q, r)
        effects[b], credit[b] = effects_and_credit(full, without, totals[b])
    return credit, effects


def credit_replicates(
    paths: pd.DataFrame | EncodedPaths,
    models: Sequence[str] = BOOTSTRAP_MODELS,
    n_boot: int = 200,
    seed: int = 0,
    window: str = "grow",
    direct_channels: Sequence[str] = DIRECT_CHANNELS,
    position_shares: tuple[float, float, float] = (0.4, 0.2, 0.4),
    max_states: int = MAX_STATES,
) -> dict[str, np.ndarray]:
    """Every model's credit on ``n_boot`` bootstrap replicates.

    Returns
    -------
    dict of str to numpy.ndarray
        Per model, shape ``(B, n_channels, 2)``: credit in conversions
        (``[..., 0]``) and value (``[..., 1]``), channels in the order of
        ``encode_paths(paths).channels``. Markov models also give
        ``"<model>:removal_effect"`` of the same shape.
    """
    enc = encode_paths(paths)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_conversion = np.where(enc.conversions > 0, enc.value / enc.conversions, 0.0)
    out: dict[str, list] = {}
    structures = {}
    for model in models:
        if model.startswith("markov_"):
            structures[model] = chain_structure(enc, int(model.split("_")[1]), window, max_states)
        elif model not in (*LINEAR_MODELS, "shapley"):
            raise ValueError(f"unknown model {model!r}; use one of {BOOTSTRAP_MODELS}")
    shares = {
        m: share_matrix(enc, m, direct_channels, position_shares)
        for m in models
        if not m.startswith("markov_")
    }
    rng = np.random.default_rng(seed)
    for start in range(0, n_boot, CHUNK):
        b = min(CHUNK, n_boot - start)
        conv, nulls = resample_counts(enc, b, rng)
        values = conv * per_conversion
        for model in models:
            if model in shares:
                h = shares[model]
                part = np.stack([(h.T @ conv.T).T, (h.T @ values.T).T], axis=2)
                out.setdefault(model, []).append(part)
            else:
                credit, effects = markov_replicates(structures[model], conv, nulls, per_conversion)
                out.setdefault(model, []).append(credit)
                out.setdefault(f"{model}:removal_effect", []).append(effects)
    return {k: np.concatenate(v) for k, v in out.items()}


def bootstrap_credit(
    paths: pd.DataFrame | EncodedPaths,
    models: Sequence[str] = BOOTSTRAP_MODELS,
    n_boot: int = 200,
    ci: float = 0.9,
    seed: int = 0,
    window: str = "grow",
    direct_channels: Sequence[str] = DIRECT_CHANNELS,
    position_shares: tuple[float, float, float] = (0.4, 0.2, 0.4),
    replicates: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Credit of every channel under every model with a bootstrap interval.

    Parameters
    ----------
    paths : pandas.DataFrame or EncodedPaths
        Aggregated paths (whole journey counts).
    models : sequence of str
        Any of :data:`BOOTSTRAP_MODELS` (``markov_<k>`` for any order k).
    n_boot : int, default 200
        Bootstrap replicates.
    ci : float, default 0.9
        Interval level, in (0, 1).
    seed : int, default 0
        Random seed.
    replicates : dict, optional
        :func:`credit_replicates` of the same ``paths``, ``models``, ``n_boot``,
        ``seed``, ``window``, ``direct_channels`` and ``position_shares``, already
        drawn (a page that also needs the replicates, e.g. for
        :func:`~analytics.attribution.budget.budget_shift`, draws them once);
        drawn here when None.

    Returns
    -------
    pandas.DataFrame
        Tidy, channels in first-appearance order within each model:
        ``channel``, ``model``, ``measure`` (``conversions`` or ``value``),
        ``credit`` (on the data), ``lower``, ``upper`` (percentile interval),
        ``se`` (bootstrap standard deviation) and ``distinguishable`` (False
        when the interval covers zero).
    """
    if not 0 < ci < 1:
        raise ValueError(f"ci must be between 0 and 1, got {ci}")
    enc = encode_paths(paths)
    if replicates is None:
        reps = credit_replicates(
            enc, models, n_boot, seed, window, direct_channels, position_shares
        )
    else:
        wrong = [
            m
            for m in models
            if m not in replicates or replicates[m].shape[:2] != (n_boot, len(enc.channels))
        ]
        if wrong:
            raise ValueError(
                f"replicates lack {n_boot} draws over {len(enc.channels)} channels for: "
                + ", ".join(wrong)
            )
        reps = replicates
    estimates = point_credit(enc, models, window, direct_channels, position_shares)
    measures = ["conversions", "value"] if enc.has_value else ["conversions"]
    frames = []
    for model in models:
        lower, upper = np.quantile(reps[model], [(1 - ci) / 2, (1 + ci) / 2], axis=0)
        se = reps[model].std(axis=0, ddof=1) if n_boot > 1 else np.zeros_like(lower)
        for m, measure in enumerate(measures):
            frames.append(
                pd.DataFrame(
                    {
                        "channel": list(enc.channels),
                        "model": model,
                        "measure": measure,
                        "credit": estimates[model][:, m],
                        "lower": lower[:, m],
                        "upper": upper[:, m],
                        "se": se[:, m],
                    }
                )
            )
    out = pd.concat(frames, ignore_index=True)
    out["distinguishable"] = ~((out["lower"] <= 0) & (out["upper"] >= 0))
    return out


def point_credit(
    enc: EncodedPaths,
    models: Sequence[str],
    window: str = "grow",
    direct_channels: Sequence[str] = DIRECT_CHANNELS,
    position_shares: tuple[float, float, float] = (0.4, 0.2, 0.4),
) -> dict[str, np.ndarray]:
    """Credit of every model on the data itself, shape ``(n_channels, 2)`` per model."""
    from analytics.attribution.markov import MarkovAttribution

    amounts = np.stack([enc.conversions, enc.value], axis=1)
    out = {}
    for model in models:
        if model.startswith("markov_"):
            fit = MarkovAttribution(order=int(model.split("_")[1]), window=window).fit(enc)
            value = fit.attribution_["value"] if enc.has_value else np.zeros(enc.n_channels)
            out[model] = np.stack([fit.attribution_["conversions"], value], axis=1)
        else:
            h = share_matrix(enc, model, direct_channels, position_shares)
            out[model] = np.asarray(h.T @ amounts)
    return out
