"""Markov chain attribution of any order with exact removal effects.

The chain
---------
Every journey is a walk ``start -> s_1 -> ... -> s_n -> conversion | null``.
In a chain of order ``k`` the state after touch ``i`` is the tuple of the last
``min(i, k)`` channels, ``s_i = (c_{i-k+1}, ..., c_i)``; the first states of a
walk are shorter tuples, which is the usual padding with the start state.
Repeated channels are kept (``a > a`` is a loop ``(a) -> (a)`` at order 1).
With ``window="full"`` (ChannelAttribution's convention, used by
:mod:`.compat`) the walk skips the shorter warm-up states: its first state is
the first ``min(n, k)`` channels of the path, ``start -> (c_1, ..., c_k) ->
(c_2, ..., c_{k+1}) -> ...``. At order 1 both conventions are the same chain.
A self-loop ``s -> s`` does not change any absorption probability (``x_s``
solves ``x_s = q_ss x_s + ...``), so removal effects do not depend on whether
self-loops are kept; only the displayed transition probabilities do.

Transition probabilities are counts over journeys,
``q(s -> t) = n(s -> t) / n(s -> .)``, where a path with ``J_p = conversions_p +
nulls_p`` journeys contributes ``J_p`` to each of its transitions, ``conversions_p``
to ``s_n -> conversion`` and ``nulls_p`` to ``s_n -> null``.

Conversion probability
----------------------
With ``Q`` the transitions among transient states (start and channel states)
and ``r_s = conversions(s -> conversion) / n(s -> .)``, the absorption
probabilities ``x = (I - Q)^{-1} r`` solve the sparse linear system

    (I - Q) x = r,

and ``P(conversion) = x_start``. With ``weight="value"``, ``r_s`` is the value
absorbed at ``s`` per journey leaving it, and ``x_start`` is the expected value
per journey (RUB). No simulation is involved: the systems of every channel
removal, with conversions and value as two right-hand sides, are solved
together by fixed-point iteration to a relative change below 1e-14 (sparse LU
when that is slow, see :func:`absorption`), so one fit attributes both.

Removal effect and credit
-------------------------
Removing channel ``c`` sends every transition into a state that contains ``c``
to ``null``; equivalently those states are deleted from the system:

    removal_effect_c = 1 - P(conversion without c) / P(conversion),
    credit_c = total x removal_effect_c / sum_d removal_effect_d,

where ``total`` is the sum of conversions (or value) of the paths. A channel
on no converting path usually gets 0, but not always at order 1: a memoryless
chain lets a channel that only leads into a converting state (``x > a``) borrow
that state's conversions even if every ``x`` journey ended in ``null``. Higher
orders remember more of the path and reduce the effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import splu
from sklearn.base import BaseEstimator

from analytics.attribution.path_frames import EncodedPaths, encode_paths

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
"""Labels of the start and absorbing states (ChannelAttribution's names)."""

MAX_STATES = 200_000
"""Default limit on the number of transient states of a chain."""

WINDOWS = ("grow", "full")
"""How a walk starts: ``grow`` = (c1), (c1, c2), ...; ``full`` = first k channels at once."""


@dataclass(frozen=True)
class ChainStructure:
    """Which states and transitions every path walks through, independent of its counts.

    Transition counts of any per-path weights ``J`` (journeys) are
    ``edge_counts(J) = J @ incidence``, so a bootstrap replicate only
    re-weights the paths.

    Attributes
    ----------
    order : int
        Chain order.
    channels : tuple of str
        Channel names (codes index them).
    state_channels : numpy.ndarray of int64, shape (n_states, order)
        Channel codes of every state, oldest first, right-aligned and padded
        with -1 (row 0, the start state, is all -1).
    holds : numpy.ndarray of bool, shape (n_states, n_channels)
        ``holds[s, c]``: state ``s`` contains channel ``c``.
    edge_src, edge_dst : numpy.ndarray of int64
        Distinct transitions between transient states.
    inner_steps : numpy.ndarray of int64
        Steps of every path after the first (start -> first state): the
        walk's steps are the ``n_paths`` first steps, then each path's inner
        steps, path after path (:attr:`step_path`).
    step_edge : numpy.ndarray of int
        The transition of every step.
    last_state : numpy.ndarray of int64
        State every path is absorbed from.
    first_seen : numpy.ndarray of int64
        Index of the touch where every state first appears (-1 for start):
        sorting by it lists states in order of first appearance.
    """

    order: int
    channels: tuple
    state_channels: np.ndarray
    holds: np.ndarray
    edge_src: np.ndarray
    edge_dst: np.ndarray
    inner_steps: np.ndarray
    step_edge: np.ndarray
    last_state: np.ndarray
    first_seen: np.ndarray

    @property
    def n_states(self) -> int:
        return len(self.holds)

    @property
    def n_paths(self) -> int:
        return len(self.last_state)

    @cached_property
    def states(self) -> list:
        """Transient states as tuples of channel names, ``states[0] = ("(start)",)``."""
        names = np.asarray(self.channels, dtype=object)
        return [(START,)] + [tuple(names[row[row >= 0]]) for row in self.state_channels[1:]]

    @cached_property
    def step_path(self) -> np.ndarray:
        """The path of every step."""
        paths = np.arange(self.n_paths)
        return np.concatenate([paths, np.repeat(paths, self.inner_steps)])

    def step_weights(self, per_path: np.ndarray) -> np.ndarray:
        """A per-path amount repeated on every step of the path."""
        return np.concatenate([per_path, np.repeat(per_path, self.inner_steps)])

    @cached_property
    def incidence(self) -> sp.csr_matrix:
        """``incidence[p, e]``: how often path ``p`` walks transition ``e`` (n_paths x n_edges)."""
        matrix = sp.csr_matrix(
            (np.ones(len(self.step_edge)), (self.step_path, self.step_edge)),
            shape=(self.n_paths, len(self.edge_src)),
        )
        matrix.sum_duplicates()
        return matrix

    def counts(
        self, journeys: np.ndarray, conversions: np.ndarray, rewards: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Transition probabilities from per-path counts.

        Parameters
        ----------
        journeys : numpy.ndarray, shape (n_paths,)
            Journeys per path.
        conversions : numpy.ndarray, shape (n_paths,)
            Converting journeys per path.
        rewards : numpy.ndarray, shape (n_paths, m)
            What each path is absorbed with (conversions, value, ...).

        Returns
        -------
        tuple of numpy.ndarray
            ``q`` per edge (probability), ``r`` per state and reward column
            (reward absorbed per journey leaving the state), ``p_conversion`` per
            state (share of journeys leaving it that convert).
        """
        n = self.n_states
        edge_count = np.bincount(
            self.step_edge, weights=self.step_weights(journeys), minlength=len(self.edge_src)
        )
        out = np.bincount(self.edge_src, weights=edge_count, minlength=n)
        out += np.bincount(self.last_state, weights=journeys, minlength=n)
        safe = np.where(out > 0, out, 1.0)
        q = edge_count / safe[self.edge_src]
        r = (
            np.stack(
                [np.bincount(self.last_state, weights=w, minlength=n) for w in rewards.T], axis=1
            )
            / safe[:, None]
        )
        conv = np.bincount(self.last_state, weights=conversions, minlength=n) / safe
        return q, r, conv


def chain_structure(
    enc: EncodedPaths, order: int, window: str = "grow", max_states: int = MAX_STATES
) -> ChainStructure:
    """States and transitions of the order-``order`` chain of the paths.

    The state after touch ``i`` is the tuple of the last ``min(i + 1, order)``
    channels. With ``window="full"`` the touches before ``min(n, order) - 1``
    (the warm-up) are skipped.

    Every step is vectorised over the touches: a state's key is the number
    whose base-``(n_channels + 1)`` digits are its channel codes + 1 (0 before
    the path), the oldest most significant, so neighbouring states get close
    numbers (less LU fill-in); keys are numbered densely and transitions are
    pairs of consecutive kept touches of the same path.

    Raises
    ------
    ValueError
        If ``order < 1`` or the chain has more than ``max_states`` states.
    """
    if not isinstance(order, int | np.integer) or order < 1:
        raise ValueError(f"order must be an integer >= 1, got {order!r}")
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}, got {window!r}")
    order = int(order)
    base = enc.n_channels + 1
    lengths = enc.lengths
    longest = int(lengths.max()) if enc.n_paths else 0
    depth = min(order, longest)
    codes = enc.codes
    path_start = enc.offsets[:-1]
    if window == "full" and depth > 1:
        # skip the warm-up: the first min(n, order) - 1 touches of every path
        warm_up = np.minimum(lengths, order) - 1
        skip = np.zeros(len(codes), dtype=bool)
        for i in range(depth - 1):
            skip[path_start[lengths > i + 1] + i] = True
        kept = np.flatnonzero(~skip)
        kept_per_path = lengths - warm_up
    else:
        kept = None
        kept_per_path = lengths
    # key of every touch's state, oldest channel first: key = key * base + digit_j,
    # digit_j = code + 1 of the touch j steps back (0 before the path), computed
    # on shifted slices; re-densified whenever it could overflow int64
    key, span = np.zeros(len(codes), dtype=np.int64), 1
    for j in range(depth - 1, -1, -1):
        digit = np.empty(len(codes), dtype=np.int64)
        digit[:j] = 0
        np.add(codes[: len(codes) - j], 1, out=digit[j:])
        for i in range(j):  # touches at positions < j have no touch j steps back
            digit[path_start[lengths > i] + i] = 0
        if span * base >= 2**62:
            key = _dense_ids(key, span)[0]
            span = int(key.max()) + 1
        if span > 1:
            key *= base
            key += digit
        else:
            key = digit
        span *= base
    if kept is not None:
        key = key[kept]
    n_kept = len(key)
    ids, n_unique = _dense_ids(key, span)
    if n_unique > max_states:
        raise ValueError(
            f"a Markov chain of order {order} on these paths has {n_unique:,} states,"
            f" more than max_states={max_states:,}; use a lower order or group channels"
        )
    n_states = n_unique + 1
    # per-touch numbers in 32 bits when every transition number fits (less memory
    # traffic on these million-element arrays)
    small = np.int32 if (n_states * n_states) < 2**31 else np.int64
    state = ids.astype(small)
    state += 1
    # the first kept touch of every state, and its channels (oldest first)
    first = np.empty(n_unique, dtype=np.int64)
    first[ids[::-1]] = np.arange(len(ids) - 1, -1, -1)
    first_touch = first if kept is None else kept[first]
    # channels of every state, read at the touch where it first appears
    state_channels = np.full((n_states, order), -1, dtype=np.int64)
    holds = np.zeros((n_states, enc.n_channels), dtype=bool)
    position = first_touch - path_start[np.searchsorted(enc.offsets, first_touch, "right") - 1]
    for j in range(depth):
        present = np.flatnonzero(position >= j)
        c = codes[first_touch[present] - j]
        state_channels[present + 1, order - 1 - j] = c
        holds[present + 1, c] = True
    # steps: start -> first kept touch of every path, then consecutive kept touches
    # of the same path (kept touches of a path are contiguous, paths in order)
    first_kept = np.zeros(enc.n_paths + 1, dtype=np.int64)
    np.cumsum(kept_per_path, out=first_kept[1:])
    inner = np.ones(n_kept, dtype=bool)
    inner[first_kept[1:] - 1] = False  # the last kept touch of a path absorbs
    # a transition s -> t is the number s * n_states + t
    step_key = np.concatenate(
        [state[first_kept[:-1]], (state[:-1] * n_states + state[1:])[inner[:-1]]]
    )
    step_edge, edge_key = _dense_ids(step_key, n_states * n_states, distinct=True)
    return ChainStructure(
        order=order,
        channels=tuple(enc.channels),
        state_channels=state_channels,
        holds=holds,
        edge_src=(edge_key // n_states).astype(np.int64),
        edge_dst=(edge_key % n_states).astype(np.int64),
        inner_steps=kept_per_path - 1,
        step_edge=step_edge,
        last_state=state[first_kept[1:] - 1].astype(np.int64),
        first_seen=np.concatenate([[-1], first_touch]).astype(np.int64),
    )


def _dense_ids(keys: np.ndarray, span: int, distinct: bool = False) -> tuple[np.ndarray, object]:
    """Number the distinct ``keys`` (in ``[0, span)``) 0..n-1 in increasing key order.

    A lookup table when ``span`` is small, else :func:`pandas.factorize` (a
    hash table, linear time) and a sort of the distinct keys only. Returns the
    numbers and ``n`` -- or, with ``distinct=True``, the distinct keys in
    increasing order.
    """
    if span <= max(4 * len(keys), 2**16):
        seen = np.zeros(span, dtype=bool)
        seen[keys] = True
        rank = np.cumsum(seen) - 1
        numbers = rank[keys]
        return numbers, np.flatnonzero(seen) if distinct else int(rank[-1]) + 1 if span else 0
    codes, uniques = pd.factorize(keys)
    order = np.argsort(uniques)
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[order] = np.arange(len(uniques))
    return rank[codes], uniques[order] if distinct else len(uniques)


TOLERANCE = 1e-14
"""Stop the fixed-point iteration when no value moves by more than this, relatively."""

MAX_ITERATIONS = 2000
"""Iterations before :func:`absorption` falls back to sparse LU."""

CHECK_EVERY = 4
"""Steps of the fixed-point iteration between two convergence checks."""

DENSE_SOLVE_STATES = 64
"""Chains with at most this many states are solved by dense LU (:func:`numpy.linalg.solve`)."""

ABSORPTION_METHODS = ("auto", "dense", "iterate", "lu")
"""How :func:`absorption` solves: ``auto`` picks ``dense`` for small chains, else ``iterate``."""


def absorption(
    structure: ChainStructure, q: np.ndarray, r: np.ndarray, method: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """``x_start`` with every state, and with each channel removed.

    Solves ``(I - Q) x = r`` on all states and, per channel, on the states
    without it (states holding the channel become ``null``: their rows and
    columns are masked out). Three exact methods give the same numbers:

    * ``dense`` (chains of at most :data:`DENSE_SOLVE_STATES` states, e.g.
      order 1): one dense LU per system with :func:`numpy.linalg.solve`.
    * ``iterate``: all ``(channels + 1) x m`` systems are iterated together,
      ``X <- mask * (R' + Q' X)`` (the Neumann series, one sparse-times-dense
      product per step). Self-loops are folded in first: ``x_s = (r_s +
      sum_{t != s} q_st x_t) / (1 - q_ss)``, so ``Q'`` is ``Q`` without its
      diagonal and every row of ``Q'`` and ``R'`` is divided by ``1 - q_ss``
      -- the same solution, without the slow geometric decay of a state that
      often repeats (``direct > direct``). Journeys are short, so it reaches a
      fixed point -- no value moving by more than :data:`TOLERANCE` relative
      -- in a few dozen steps. A chain that has not converged after
      :data:`MAX_ITERATIONS` (long loops) falls back to ``lu``.
    * ``lu``: sparse LU (:func:`scipy.sparse.linalg.splu`), one factorisation
      per channel.

    Parameters
    ----------
    structure : ChainStructure
        States and transitions.
    q : numpy.ndarray, shape (n_edges,)
        Probability of every transition ``edge_src -> edge_dst``.
    r : numpy.ndarray, shape (n_states, m)
        Reward absorbed per journey leaving each state, per reward column.
    method : {"auto", "dense", "iterate", "lu"}, default "auto"

    Returns
    -------
    tuple of numpy.ndarray
        ``x_start`` per reward column (shape ``(m,)``) and per channel removed
        (shape ``(n_channels, m)``).
    """
    if method not in ABSORPTION_METHODS:
        raise ValueError(f"method must be one of {ABSORPTION_METHODS}, got {method!r}")
    n = structure.n_states
    m = r.shape[1]
    n_ch = structure.holds.shape[1]
    alive = np.concatenate([np.ones((n, 1), dtype=bool), ~structure.holds], axis=1)
    if method == "dense" or (method == "auto" and n <= DENSE_SOLVE_STATES):
        system = np.eye(n)
        system[structure.edge_src, structure.edge_dst] -= q  # edges are distinct
        x = np.empty((n_ch + 1, m))
        for c in range(n_ch + 1):
            keep = np.flatnonzero(alive[:, c])
            x[c] = np.linalg.solve(system[np.ix_(keep, keep)], r[keep])[0]
        return x[0], x[1:]
    if method == "iterate" or method == "auto":
        loop = structure.edge_src == structure.edge_dst
        stay = np.zeros(n)
        stay[structure.edge_src[loop]] = q[loop]
        scale = 1.0 / (1.0 - stay)
        folded = sp.csr_matrix(
            (
                np.where(loop, 0.0, q) * scale[structure.edge_src],
                (structure.edge_src, structure.edge_dst),
            ),
            shape=(n, n),
        )
        folded.eliminate_zeros()
        mask = np.repeat(alive, m, axis=1).astype(np.float64)
        rhs = np.tile(r * scale[:, None], (1, n_ch + 1)) * mask
        x = rhs.copy()
        for step in range(MAX_ITERATIONS):
            new = folded @ x
            new += rhs
            new *= mask
            # every few steps: stop when no value moved by more than TOLERANCE relative
            if step % CHECK_EVERY == CHECK_EVERY - 1:
                x -= new
                moved = np.abs(x, out=x).max(axis=0)
                if np.all(moved <= TOLERANCE * new.max(axis=0)):
                    return new[0, :m], new[0, m:].reshape(n_ch, m)
            x = new
    matrix = sp.csr_matrix((q, (structure.edge_src, structure.edge_dst)), shape=(n, n))
    system = (sp.identity(n, format="csr") - matrix).tocsr()
    full = _solve(system, r, np.arange(n))
    without = np.zeros((n_ch, m))
    for c in range(n_ch):
        without[c] = _solve(system, r, np.flatnonzero(alive[:, c + 1]))
    return full, without


def _solve(system: sp.csr_matrix, r: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``x_start`` of ``(I - Q) x = r`` on the states ``keep`` (start = 0 among them)."""
    sub = system[keep][:, keep].tocsc()
    # States are numbered by their code, so neighbours in the chain sit close in the
    # matrix; keeping that order gives less LU fill-in than COLAMD on these systems.
    x = splu(sub, permc_spec="NATURAL").solve(np.ascontiguousarray(r[keep]))
    return np.atleast_2d(x)[0]


def effects_and_credit(
    full: np.ndarray, without: np.ndarray, totals: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Removal effects ``1 - x_without / x`` (clipped at 0) and credit ``total x RE / sum RE``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        effects = np.where(full > 0, np.maximum(0.0, 1.0 - without / full), 0.0)
    sums = effects.sum(axis=0)
    credit = np.where(sums > 0, totals * effects / np.where(sums > 0, sums, 1.0), 0.0)
    return effects, credit


class MarkovAttribution(BaseEstimator):
    """Markov chain attribution with exact removal effects.

    Parameters
    ----------
    order : int, default 1
        Chain order ``k`` >= 1: a state is the tuple of the last ``k`` channels.
    weight : {"conversions", "value"}, default "conversions"
        What :attr:`credit_` and :attr:`removal_effects_` share out; both are
        computed in every fit (:attr:`attribution_`).
    window : {"grow", "full"}, default "grow"
        First states of a walk: ``grow`` = ``(c1), (c1, c2), ...``; ``full`` =
        the first ``min(n, k)`` channels at once (ChannelAttribution).
    max_states : int, default :data:`MAX_STATES`
        Refuse chains with more transient states (a clear ``ValueError``).

    Attributes
    ----------
    channels_ : tuple of str
        Channels seen on the paths, in order of first appearance.
    states_ : list of tuple of str
        Transient states; ``states_[0]`` is ``("(start)",)``.
    structure_ : ChainStructure
        States and transitions, reusable with other counts (bootstrap).
    transition_matrix_ : scipy.sparse.csr_matrix
        Row-stochastic matrix over ``state_labels_``: the transient states, then
        ``(conversion)`` and ``(null)`` (absorbing, self-loops).
    state_labels_ : list of str
        ``"a > b"`` labels of ``states_`` plus the absorbing states.
    transitions_ : pandas.DataFrame
        Tidy ``from``, ``to``, ``probability`` (non-zero transitions).
    conversion_probability_ : float
        ``x_start``: P(conversion) of a journey, or expected value per journey
        with ``weight="value"``.
    removal_effects_ : pandas.Series
        ``1 - P(conversion without c) / P(conversion)`` by channel.
    credit_ : pandas.Series
        Credit by channel; sums to ``total_``.
    attribution_ : pandas.DataFrame
        Tidy, one row per channel (first appearance): ``channel``,
        ``conversions``, ``removal_effect`` and, when the paths have value,
        ``value`` and ``removal_effect_value``.
    total_ : float
        Conversions (or value) on the paths.
    """

    def __init__(
        self,
        order: int = 1,
        weight: str = "conversions",
        window: str = "grow",
        max_states: int = MAX_STATES,
    ):
        self.order = order
        self.weight = weight
        self.window = window
        self.max_states = max_states

    def fit(self, paths: pd.DataFrame | EncodedPaths, y=None) -> MarkovAttribution:
        """Build the chain from aggregated paths and solve for the removal effects.

        Parameters
        ----------
        paths : pandas.DataFrame or EncodedPaths
            Aggregated paths (:func:`analytics.attribution.path_frames.encode_paths`
            reads ``path`` strings or tuples, ``conversions``, optional
            ``value`` and ``nulls``).

        Returns
        -------
        MarkovAttribution
            ``self``.
        """
        if self.weight not in ("conversions", "value"):
            raise ValueError(f"weight must be 'conversions' or 'value', got {self.weight!r}")
        enc = encode_paths(paths)
        journeys = enc.journeys
        keep = journeys > 0
        if not keep.all():
            enc = _subset(enc, keep)
            journeys = journeys[keep]
        self.channels_ = enc.channels
        structure = chain_structure(enc, self.order, self.window, self.max_states)
        self.structure_ = structure
        rewards = np.stack([enc.conversions, enc.value, enc.nulls], axis=1)
        totals = rewards[:, :2].sum(axis=0)
        q, r, p_conv = structure.counts(journeys, enc.conversions, rewards)
        p_null, r = r[:, 2], r[:, :2]
        if enc.n_paths:
            full, without = absorption(structure, q, r)
        else:
            full, without = np.zeros(2), np.zeros((0, 2))
        effects, credit = effects_and_credit(full, without, totals)
        col = 0 if self.weight == "conversions" else 1
        index = pd.Index(enc.channels, name="channel")
        self.total_ = float(totals[col])
        self.conversion_probability_ = float(full[col])
        self.removal_effects_ = pd.Series(effects[:, col], index=index, name="removal_effect")
        self.credit_ = pd.Series(credit[:, col], index=index, name=f"markov_{self.order}")
        table = {
            "channel": list(enc.channels),
            "conversions": credit[:, 0],
            "removal_effect": effects[:, 0],
        }
        if enc.has_value:
            table |= {"value": credit[:, 1], "removal_effect_value": effects[:, 1]}
        self.attribution_ = pd.DataFrame(table)
        self._chain = (q, p_conv, p_null, journeys.sum() > 0)
        self._lazy: dict = {}
        return self

    # the transition matrix and labels are built on first use: a fit that only
    # needs credit (the bootstrap, the benchmark) does not pay for them
    @property
    def states_(self) -> list:
        return self.structure_.states

    @property
    def transition_matrix_(self) -> sp.csr_matrix:
        if "matrix" not in self._lazy:
            structure = self.structure_
            q, p_conv, to_null, any_journey = self._chain
            n = structure.n_states
            to_null = to_null.copy()
            if not any_journey:
                to_null[0] = 1.0
            rows = np.concatenate([structure.edge_src, np.arange(n), np.arange(n), [n, n + 1]])
            cols = np.concatenate(
                [structure.edge_dst, np.full(n, n), np.full(n, n + 1), [n, n + 1]]
            )
            vals = np.concatenate([q, p_conv, to_null, [1.0, 1.0]])
            matrix = sp.csr_matrix((vals, (rows, cols)), shape=(n + 2, n + 2))
            matrix.eliminate_zeros()
            self._lazy["matrix"] = matrix
        return self._lazy["matrix"]

    @property
    def state_labels_(self) -> list:
        return [" > ".join(s) for s in self.structure_.states] + [CONVERSION, NULL]

    @property
    def transitions_(self) -> pd.DataFrame:
        coo = self.transition_matrix_.tocoo()
        transient = coo.row < self.structure_.n_states
        labels = np.asarray(self.state_labels_, dtype=object)
        order = np.lexsort((coo.col[transient], coo.row[transient]))
        return pd.DataFrame(
            {
                "from": labels[coo.row[transient][order]],
                "to": labels[coo.col[transient][order]],
                "probability": coo.data[transient][order],
            }
        )


def _subset(enc: EncodedPaths, keep: np.ndarray) -> EncodedPaths:
    lengths = enc.lengths[keep]
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return EncodedPaths(
        channels=enc.channels,
        codes=enc.codes[np.repeat(keep, enc.lengths)],
        offsets=offsets,
        conversions=enc.conversions[keep],
        value=enc.value[keep],
        nulls=enc.nulls[keep],
        has_value=enc.has_value,
    )


def markov_credit(
    paths: pd.DataFrame | EncodedPaths, order: int = 1, weight: str = "conversions"
) -> pd.Series:
    """Credit by channel of a Markov chain of order ``order`` (named ``markov_<order>``)."""
    return MarkovAttribution(order=order, weight=weight).fit(paths).credit_


def removal_effects(
    paths: pd.DataFrame | EncodedPaths, order: int = 1, weight: str = "conversions"
) -> pd.Series:
    """Removal effect ``1 - P(conversion without c) / P(conversion)`` by channel."""
    return MarkovAttribution(order=order, weight=weight).fit(paths).removal_effects_


def order_selection(
    paths: pd.DataFrame | EncodedPaths,
    max_order: int = 4,
    window: str = "grow",
    max_states: int = MAX_STATES,
) -> pd.DataFrame:
    """Log-likelihood and BIC of the journeys under chains of order 1..``max_order``.

    Every chain is a full probability model of the observed walks (first
    channels, every transition, the final conversion or null), so their
    likelihoods are comparable:

        log L_k = sum over observed transitions s -> t of n(s -> t) log q(s -> t),
        BIC_k = -2 log L_k + d_k ln(n),

    where ``d_k`` = sum over states of (distinct next states and outcomes
    observed - 1) is the number of free transition probabilities and ``n`` the
    number of journeys (the independent units; the same for every order). The
    suggested order minimises BIC -- a higher order must buy its extra
    parameters with a better fit of the walks -- and the lowest order wins a
    tie. Orders whose chain exceeds ``max_states`` are left out.

    Returns
    -------
    pandas.DataFrame
        ``order``, ``states``, ``parameters``, ``log_likelihood``, ``bic`` and
        ``selected`` (True on the chosen row).
    """
    enc = encode_paths(paths)
    keep = enc.journeys > 0
    if not keep.all():
        enc = _subset(enc, keep)
    journeys = enc.journeys
    rows = []
    for order in range(1, max_order + 1):
        try:
            chain = chain_structure(enc, order, window, max_states)
        except ValueError:
            break
        n = chain.n_states
        edge = chain.incidence.T @ journeys
        conv = np.bincount(chain.last_state, weights=enc.conversions, minlength=n)
        null = np.bincount(chain.last_state, weights=enc.nulls, minlength=n)
        out = np.bincount(chain.edge_src, weights=edge, minlength=n) + conv + null
        counts = np.concatenate([edge, conv, null])
        source = np.concatenate([chain.edge_src, np.arange(n), np.arange(n)])
        used = counts > 0
        log_l = float(np.sum(counts[used] * np.log(counts[used] / out[source[used]])))
        outcomes = np.bincount(source[used], minlength=n)
        params = int(np.sum(np.maximum(outcomes - 1, 0)))
        bic = -2 * log_l + params * np.log(max(journeys.sum(), 1.0))
        rows.append(
            {
                "order": order,
                "states": n - 1,
                "parameters": params,
                "log_likelihood": log_l,
                "bic": bic,
            }
        )
    table = pd.DataFrame(rows)
    table["selected"] = False
    if len(table):
        table.loc[table["bic"].idxmin(), "selected"] = True
    return table
