"""The speed shortcuts of the Markov engine and the path parser, against straightforward references.

* :func:`absorption`'s dense solve and its iteration with self-loops folded in,
  against one :func:`scipy.sparse.linalg.spsolve` per removed channel on the
  system written out from the transition list.
* :func:`chain_structure` (vectorised state keys, warm-up skip, re-densified
  keys of long orders), against a plain-Python walk over every path.
* :func:`split_paths` on Arrow, against ``str.split`` + ``str.strip``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from analytics.attribution import markov
from analytics.attribution.markov import START, absorption, chain_structure
from analytics.attribution.path_frames import encode_paths, paths_from_records, split_paths


def random_paths(seed: int, n_paths: int = 300, channels: str = "abcde", longest: int = 7):
    """Random paths with repeats (self-loops, cycles such as a > b > a) and mixed outcomes."""
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(n_paths):
        length = int(rng.integers(1, longest + 1))
        # a few long runs of one channel make strong self-loops
        if rng.random() < 0.2:
            path = [str(rng.choice(list(channels)))] * length
        else:
            path = list(rng.choice(list(channels), size=length))
        records.append((" > ".join(path), int(rng.integers(0, 3)), int(rng.integers(0, 4))))
    return paths_from_records(records)


def reference_x_start(structure, q, r):
    """x_start of (I - Q) x = r on all states and without each channel, one spsolve each."""
    n = structure.n_states
    system = sp.identity(n, format="csc") - sp.csc_matrix(
        (q, (structure.edge_src, structure.edge_dst)), shape=(n, n)
    )
    out = []
    keeps = [np.arange(n)] + [
        np.flatnonzero(~structure.holds[:, c]) for c in range(structure.holds.shape[1])
    ]
    for keep in keeps:
        sub = system[keep][:, keep]
        out.append(np.atleast_2d(spsolve(sub.tocsc(), r[keep]).reshape(len(keep), -1))[0])
    return out[0], np.array(out[1:])


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("method", ["auto", "dense", "iterate", "lu"])
def test_absorption_methods_equal_one_sparse_solve_per_channel(order, method):
    enc = encode_paths(random_paths(seed=order))
    structure = chain_structure(enc, order, "full")
    rewards = np.stack([enc.conversions, enc.value, enc.nulls], axis=1)
    q, r, _ = structure.counts(enc.journeys, enc.conversions, rewards)
    r = r[:, :2]
    loops = structure.edge_src == structure.edge_dst
    assert loops.any() and q[loops].max() > 0.3  # the folding of self-loops is exercised
    full, without = absorption(structure, q, r, method=method)
    ref_full, ref_without = reference_x_start(structure, q, r)
    np.testing.assert_allclose(full, ref_full, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(without, ref_without, rtol=1e-10, atol=1e-15)


def test_auto_absorption_iterates_above_the_dense_limit(monkeypatch):
    """With the dense limit lowered, order 1 goes through the folded iteration and agrees."""
    enc = encode_paths(random_paths(seed=7))
    structure = chain_structure(enc, 1)
    q, r, _ = structure.counts(enc.journeys, enc.conversions, enc.conversions[:, None])
    monkeypatch.setattr(markov, "DENSE_SOLVE_STATES", 1)
    full, without = absorption(structure, q, r)
    ref_full, ref_without = reference_x_start(structure, q, r)
    np.testing.assert_allclose(full, ref_full, rtol=1e-10)
    np.testing.assert_allclose(without, ref_without, rtol=1e-10)
    with pytest.raises(ValueError, match="method must be one of"):
        absorption(structure, q, r, method="simulate")


def walk_counts(paths: pd.DataFrame, order: int, window: str):
    """Transition and absorption counts of every path, walked in plain Python."""
    edges, absorbed = Counter(), Counter()
    for path, conv, null in zip(paths["path"], paths["conversions"], paths["nulls"], strict=True):
        journeys = conv + null
        states = [tuple(path[max(0, i - order + 1) : i + 1]) for i in range(len(path))]
        if window == "full":
            states = states[min(len(path), order) - 1 :]
        previous = (START,)
        for state in states:
            edges[previous, state] += journeys
            previous = state
        absorbed[previous] += journeys
    return edges, absorbed


@pytest.mark.parametrize("window", ["grow", "full"])
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_chain_structure_counts_equal_a_python_walk(order, window):
    paths = random_paths(seed=10 + order, channels="abcd")
    enc = encode_paths(paths)
    structure = chain_structure(enc, order, window)
    edges, absorbed = walk_counts(paths, order, window)
    states = structure.states
    assert len(set(states)) == len(states) == 1 + len({s for _, s in edges})
    counted = np.bincount(
        structure.step_edge, weights=enc.journeys[structure.step_path], minlength=len(states)
    )
    got = {
        (states[s], states[t]): counted[e]
        for e, (s, t) in enumerate(zip(structure.edge_src, structure.edge_dst, strict=True))
    }
    assert got == dict(edges)
    last = Counter()
    for s, j in zip(structure.last_state, enc.journeys, strict=True):
        last[states[s]] += j
    assert last == absorbed
    for s, state in enumerate(states[1:], start=1):
        assert set(np.asarray(structure.channels)[structure.holds[s]]) == set(state)


def test_long_order_re_densifies_state_keys_without_changing_states():
    """Two channels (base 3) and order 45: 3**45 > 2**62, so the keys are re-numbered mid-way."""
    long_a = " > ".join(["a", "b"] * 25)
    long_b = " > ".join(["b", "a"] * 25)
    paths = paths_from_records([(long_a, 1, 0), (long_b, 0, 1), ("a > b", 1, 1)])
    enc = encode_paths(paths)
    structure = chain_structure(enc, 45, "full")
    edges, absorbed = walk_counts(paths, 45, "full")
    assert structure.n_states == 1 + len({s for _, s in edges})
    states = structure.states
    got = Counter()
    for e, p in zip(structure.step_edge, structure.step_path, strict=True):
        got[states[structure.edge_src[e]], states[structure.edge_dst[e]]] += enc.journeys[p]
    assert got == edges


def test_arrow_parser_handles_missing_values_separators_and_string_dtype():
    """Reference: str.split on the separator, str.strip, empty tokens dropped."""
    paths = [" b >a", None, "a > b > c", float("nan"), "", " > ", "c>\u00a0b\u00a0"]
    codes, lengths, channels = split_paths(paths)
    # the names by first appearance: b, a, c (a non-breaking space strips like str.strip)
    assert channels == ("b", "a", "c")
    assert lengths.tolist() == [2, 0, 3, 0, 0, 0, 2]
    assert [channels[c] for c in codes] == ["b", "a", "a", "b", "c", "c", "b"]
    arrow = pd.Series(["x → y", "y→z"], dtype="string[pyarrow]")
    codes, lengths, channels = split_paths(arrow, sep="→")
    assert channels == ("x", "y", "z") and lengths.tolist() == [2, 2]
    assert codes.tolist() == [0, 1, 1, 2]
    codes, lengths, channels = split_paths(["a -> b", "b->a"], sep="->")
    assert channels == ("a", "b") and codes.tolist() == [0, 1, 1, 0]
