"""Markov chain attribution of order 1 to 3 with exact removal effects.

The chain
---------
Every journey is a walk ``start -> s_1 -> ... -> s_n -> conversion | null``.
In a chain of order ``k`` the state after touch ``i`` is the tuple of the last
``min(i, k)`` channels, ``s_i = (c_{i-k+1}, ..., c_i)``; the first states of a
walk are shorter tuples, which is the usual padding with the start state.
Repeated channels are kept (``a > a`` is a loop ``(a) -> (a)`` at order 1).

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
per journey (RUB). No simulation is involved: one sparse LU solve per channel.

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

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve
from sklearn.base import BaseEstimator

from analytics.attribution.paths import EncodedPaths, encode_paths

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
"""Labels of the start and absorbing states."""

MAX_ORDER = 3
"""Highest supported chain order (states are tuples of up to 3 channels)."""


def state_codes(enc: EncodedPaths, order: int) -> np.ndarray:
    """Integer code of the order-``order`` state after every touch.

    The state after touch ``i`` holds the channels ``c_{i-j}``, ``j < order``,
    that exist on the path; its code is ``sum_j (c_{i-j} + 1) * B ** j`` with
    ``B = n_channels + 1``, so digit 0 means "before the path start".
    """
    base = enc.n_channels + 1
    position = enc.position
    codes = np.zeros(len(enc.codes), dtype=np.int64)
    for j in range(order):
        valid = position >= j
        shifted = np.zeros(len(enc.codes), dtype=np.int64)
        shifted[j:] = enc.codes[: len(enc.codes) - j] + 1
        codes += np.where(valid, shifted, 0) * base**j
    return codes


def _digits(codes: np.ndarray, base: int, order: int) -> np.ndarray:
    """State codes -> matrix of digits (channel code + 1, 0 = empty), oldest last."""
    return np.stack([(codes // base**j) % base for j in range(order)], axis=1)


class MarkovAttribution(BaseEstimator):
    """Markov chain attribution with exact removal effects.

    Parameters
    ----------
    order : int, default 1
        Chain order ``k`` in 1..3: a state is the tuple of the last ``k`` channels.
    weight : {"conversions", "value"}, default "conversions"
        Share out conversions or their value (RUB).

    Attributes
    ----------
    channels_ : tuple of str
        Channels seen on the paths.
    states_ : list of tuple of str
        Transient states; ``states_[0]`` is ``("(start)",)``.
    transition_matrix_ : scipy.sparse.csr_matrix
        Row-stochastic matrix over ``state_labels_``: the transient states, then
        ``(conversion)`` and ``(null)`` (absorbing, self-loops).
    state_labels_ : list of str
        ``"a > b"`` labels of ``states_`` plus the absorbing states.
    conversion_probability_ : float
        ``x_start``: P(conversion) of a journey, or expected value per journey
        with ``weight="value"``.
    removal_effects_ : pandas.Series
        ``1 - P(conversion without c) / P(conversion)`` by channel.
    credit_ : pandas.Series
        Credit by channel; sums to ``total_``.
    total_ : float
        Conversions (or value) on the paths.
    """

    def __init__(self, order: int = 1, weight: str = "conversions"):
        self.order = order
        self.weight = weight

    def fit(self, paths: pd.DataFrame | EncodedPaths, y=None) -> MarkovAttribution:
        """Build the chain from aggregated paths and solve for the removal effects.

        Parameters
        ----------
        paths : pandas.DataFrame or EncodedPaths
            Aggregated paths (:func:`analytics.metrics.journeys.aggregate_paths`).

        Returns
        -------
        MarkovAttribution
            ``self``.
        """
        if self.order not in range(1, MAX_ORDER + 1):
            raise ValueError(f"order must be 1..{MAX_ORDER}, got {self.order}")
        enc = encode_paths(paths)
        reward_path = enc.weight(self.weight)
        journeys = enc.conversions + enc.nulls
        keep = journeys > 0
        if not keep.all():
            enc = _subset(enc, keep)
            reward_path, journeys = reward_path[keep], journeys[keep]
        self.channels_ = enc.channels
        self.total_ = float(reward_path.sum())
        index = pd.Index(enc.channels, name="channel")
        if enc.n_paths == 0:
            return self._fit_empty(index)

        codes = state_codes(enc, self.order)
        unique_codes, state = np.unique(codes, return_inverse=True)
        state = state.ravel() + 1  # 0 is the start state
        n = len(unique_codes) + 1
        base = enc.n_channels + 1
        digits = _digits(unique_codes, base, self.order)
        names = np.asarray(enc.channels, dtype=object)
        self.states_ = [(START,)] + [tuple(names[d - 1] for d in row[::-1] if d) for row in digits]

        path = enc.path_of_touch
        first = enc.offsets[:-1]
        last = enc.offsets[1:] - 1
        inner = np.ones(len(state), dtype=bool)
        inner[last] = False
        src = np.concatenate([np.zeros(enc.n_paths, dtype=np.int64), state[inner]])
        dst = np.concatenate([state[first], state[np.flatnonzero(inner) + 1]])
        count = np.concatenate([journeys, journeys[path[inner]]])
        out = np.bincount(src, weights=count, minlength=n)
        out += np.bincount(state[last], weights=journeys, minlength=n)
        q = sp.coo_matrix((count / out[src], (src, dst)), shape=(n, n)).tocsr()
        to_conversion = np.bincount(state[last], weights=enc.conversions, minlength=n) / out
        to_null = np.bincount(state[last], weights=enc.nulls, minlength=n) / out
        reward = np.bincount(state[last], weights=reward_path, minlength=n) / out

        system = (sp.identity(n, format="csr") - q).tocsr()
        self.conversion_probability_ = _absorption(system, reward, np.ones(n, dtype=bool))
        effects = np.zeros(enc.n_channels)
        if self.conversion_probability_ > 0:
            holds = np.zeros((n, enc.n_channels), dtype=bool)
            rows = np.repeat(np.arange(1, n), self.order)
            flat = digits.ravel()
            holds[rows[flat > 0], flat[flat > 0] - 1] = True
            for c in range(enc.n_channels):
                p_without = _absorption(system, reward, ~holds[:, c])
                effects[c] = max(0.0, 1.0 - p_without / self.conversion_probability_)
        self.removal_effects_ = pd.Series(effects, index=index, name="removal_effect")
        total_effect = effects.sum()
        credit = self.total_ * effects / total_effect if total_effect > 0 else effects * 0.0
        self.credit_ = pd.Series(credit, index=index, name=f"markov_{self.order}")

        absorbing = sp.coo_matrix(
            (
                np.concatenate([to_conversion, to_null, [1.0, 1.0]]),
                (
                    np.concatenate([np.arange(n), np.arange(n), [n, n + 1]]),
                    np.concatenate([np.full(n, n), np.full(n, n + 1), [n, n + 1]]),
                ),
            ),
            shape=(n + 2, n + 2),
        )
        self.transition_matrix_ = (sp.block_diag([q, sp.csr_matrix((2, 2))]) + absorbing).tocsr()
        self.state_labels_ = [" > ".join(s) for s in self.states_] + [CONVERSION, NULL]
        return self

    def _fit_empty(self, index: pd.Index) -> MarkovAttribution:
        self.states_ = [(START,)]
        self.state_labels_ = [START, CONVERSION, NULL]
        self.transition_matrix_ = sp.csr_matrix(
            ([1.0, 1.0, 1.0], ([0, 1, 2], [2, 1, 2])), shape=(3, 3)
        )
        self.conversion_probability_ = 0.0
        self.removal_effects_ = pd.Series(0.0, index=index, name="removal_effect")
        self.credit_ = pd.Series(0.0, index=index, name=f"markov_{self.order}")
        return self


def _absorption(system: sp.csr_matrix, reward: np.ndarray, alive: np.ndarray) -> float:
    """``x_start`` of ``(I - Q) x = r`` restricted to the ``alive`` states.

    States outside ``alive`` are absorbing with value 0 (removed -> null).
    The start state (index 0) is always alive.
    """
    keep = np.flatnonzero(alive)
    sub = system[keep][:, keep].tocsc()
    # States are numbered by their code, so neighbours in the chain sit close in the
    # matrix; keeping that order gives less LU fill-in than COLAMD on these systems.
    x = spsolve(sub, reward[keep], permc_spec="NATURAL")
    return float(np.atleast_1d(x)[0])


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
