"""Similarity to past deals: as-of (only deals closed before the lead), against brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sql_oracle import old_candidates_blas

from analytics.scoring import past_deal_similarity, similarity


def _brute_force(features, closed, numeric, categorical, k, block_start):
    """Reference: for one lead, the k nearest deals closed before ``block_start``, by hand.

    Space: sign(x) log(1 + |x|) standardised on the reference deals, one-hot categories
    (columns of every category seen in the whole table, as the function builds them).
    """
    ref = closed[closed["closed_at"] < block_start].sort_values("closed_at")
    numbers = features[numeric].to_numpy(float)
    numbers = np.sign(numbers) * np.log1p(np.abs(numbers))
    dummies = pd.get_dummies(features[categorical[0]]).to_numpy(float)
    position = {lead: i for i, lead in enumerate(features.index)}
    rows = [position[lead] for lead in ref["lead_id"]]
    mean, sd = numbers[rows].mean(axis=0), numbers[rows].std(axis=0)
    space = np.column_stack([(numbers - mean) / sd, dummies])
    return space, rows, ref["won"].to_numpy(float)


def test_similarity_uses_only_deals_closed_before_the_block_and_matches_brute_force():
    rng = np.random.default_rng(7)
    n = 400
    created = pd.Timestamp("2026-01-05") + pd.to_timedelta(np.sort(rng.uniform(0, 70, n)), "D")
    features = pd.DataFrame(
        {
            "created_at": created,
            "visits": rng.poisson(3, n).astype(float),
            "minutes": rng.exponential(5, n),
            "industry": rng.choice(["IT", "retail", "bank"], n),
        },
        index=[f"L{i:03d}" for i in range(n)],
    )
    leads_with_deals = features.index[::2]
    closed = pd.DataFrame(
        {
            "lead_id": leads_with_deals,
            "closed_at": features.loc[leads_with_deals, "created_at"].to_numpy()
            + pd.to_timedelta(rng.uniform(1, 20, len(leads_with_deals)), "D"),
            "won": (features.loc[leads_with_deals, "visits"] > 3).astype(int).to_numpy(),
        }
    )
    out = past_deal_similarity(
        features, closed, numeric=["visits", "minutes"], categorical=["industry"], k=5
    )
    # a lead in week 6: reference = deals closed before its 7-day block began
    lead = features.index[features["created_at"] >= pd.Timestamp("2026-02-16")][0]
    block_start = features.loc[lead, "created_at"].floor("7D")
    space, rows, won = _brute_force(
        features, closed, ["visits", "minutes"], ["industry"], 5, block_start
    )
    distance = np.linalg.norm(space[rows] - space[features.index.get_loc(lead)], axis=1)
    nearest = np.argsort(distance, kind="stable")[:5]
    weight = 1 / (distance[nearest] + 1e-6)
    expected = (weight * won[nearest]).sum() / weight.sum()
    assert np.isclose(out.loc[lead, "similar_won_share"], expected)
    # no lead sees a deal that closed after it was created: with too few deals closed
    # before its week, it has no similarity at all
    first_close = closed["closed_at"].min()
    early = features["created_at"].dt.floor("7D") <= first_close
    assert out.loc[early, "similar_won_share"].isna().all()
    # changing the outcome of deals closed after a lead leaves its similarity unchanged
    later = closed.assign(
        won=np.where(closed["closed_at"] > block_start, 1 - closed["won"], closed["won"])
    )
    again = past_deal_similarity(
        features, later, numeric=["visits", "minutes"], categorical=["industry"], k=5
    )
    assert np.isclose(again.loc[lead, "similar_won_share"], out.loc[lead, "similar_won_share"])
    # leads like the won deals (many visits) score higher on average
    filled = out["similar_won_share"].notna()
    many = features["visits"] > 3
    assert (
        out.loc[filled & many, "similar_won_share"].mean()
        > out.loc[filled & ~many, "similar_won_share"].mean() + 0.2
    )


def test_deals_tied_at_the_kth_distance_share_its_slots():
    """Hand-made ties, k = 2, one numeric feature; in log space the deals sit at
    1 (A, won) and 2 (B won, C and D lost), so the reference mean is 1.75 and the
    standard deviation sqrt(((0.75)^2 + 3 (0.25)^2) / 4) = sqrt(0.1875).

    * Q1 at 0: A is nearest (N = {A}); B, C, D tie at the 2nd distance: t = 3, r = 1,
      share = (w1 + (1/3) w2 (1 + 0 + 0)) / (w1 + w2) with w2 = w1 / 2 -> 7/9.
      (Picking one of the three, as a plain search does, gives 1 or 2/3 by chance.)
      won_profile_distance = (|0 - 1.5| - |0 - 2|) / sd = -0.5 / sqrt(0.1875).
    * Q2 at 2: B, C, D at distance 0 tie for both slots: t = 3, r = 2 -> share 1/3.
    """
    e = np.e
    features = pd.DataFrame(
        {
            "created_at": pd.to_datetime(["2026-01-05"] * 4 + ["2026-02-04"] * 2),
            "visits": [e - 1, e**2 - 1, e**2 - 1, e**2 - 1, 0.0, e**2 - 1],
        },
        index=["A", "B", "C", "D", "Q1", "Q2"],
    )
    closed = pd.DataFrame(
        {
            "lead_id": ["D", "C", "B", "A"],  # order of closing must not matter either
            "closed_at": pd.to_datetime(["2026-01-06 10:00"] * 4),
            "won": [0, 0, 1, 1],
        }
    )
    for algorithm in ("blas", "brute", "kd_tree", "ball_tree"):
        out = past_deal_similarity(
            features, closed, numeric=["visits"], categorical=[], k=2, algorithm=algorithm
        )
        assert out.loc["Q1", "similar_won_share"] == pytest.approx(7 / 9, abs=1e-5)
        assert out.loc["Q2", "similar_won_share"] == pytest.approx(1 / 3, abs=1e-12)
        assert out.loc["Q1", "won_profile_distance"] == pytest.approx(-0.5 / np.sqrt(0.1875))
        assert out.loc[["A", "B", "C", "D"]].isna().all().all()  # no deal closed before them


def _tie_rule_reference(queries, reference, won, k, eps=1e-6):
    """Plain numpy brute force of the documented rule, one query at a time: exact
    distances rounded to 9 decimals, the deals strictly nearer than the k-th distance
    with weight 1/(d + eps), the t deals at it sharing the r = k - (strictly nearer)
    remaining slots with weight (r / t) / (d_k + eps)."""
    shares = []
    for q in queries:
        d = np.round(np.sqrt(((reference - q) ** 2).sum(axis=1)), 9)
        d_k = np.sort(d)[k - 1]
        near, tied = d < d_k, d == d_k
        slots = k - near.sum()
        w = np.where(near, 1 / (d + eps), 0.0) + np.where(tied, slots / tied.sum() / (d_k + eps), 0)
        shares.append((w * won).sum() / w.sum())
    return np.array(shares)


def test_many_duplicate_points_give_one_result_whatever_the_search():
    """Small-integer features and two categories: most leads coincide with many past
    deals, so the k-th distance is nearly always tied. The default search, scikit-learn's
    brute force with 1 and 2 threads and its two trees all equal the numpy reference."""
    rng = np.random.default_rng(11)
    n_deals, n_new = 300, 120
    created = np.concatenate(
        [
            pd.Timestamp("2026-01-05") + pd.to_timedelta(rng.uniform(0, 20, n_deals), "D"),
            pd.Timestamp("2026-03-03") + pd.to_timedelta(rng.uniform(0, 1, n_new), "D"),
        ]
    )
    features = pd.DataFrame(
        {
            "created_at": created,
            "visits": rng.poisson(1.0, n_deals + n_new).astype(float),
            "pages": rng.integers(0, 3, n_deals + n_new).astype(float),
            "industry": rng.choice(["IT", "retail"], n_deals + n_new),
        },
        index=[f"L{i:03d}" for i in range(n_deals + n_new)],
    )
    deal_leads = features.index[:n_deals]
    closed = pd.DataFrame(
        {
            "lead_id": deal_leads,
            "closed_at": features.loc[deal_leads, "created_at"].to_numpy()
            + pd.to_timedelta(rng.uniform(0.5, 10, n_deals), "D"),
            "won": rng.integers(0, 2, n_deals),
        }
    )
    options = {"numeric": ["visits", "pages"], "categorical": ["industry"], "k": 10}
    results = {
        name: past_deal_similarity(features, closed, algorithm=algorithm, n_jobs=jobs, **options)
        for name, algorithm, jobs in [
            ("blas", "blas", None),
            ("brute-1", "brute", 1),
            ("brute-2", "brute", 2),
            ("kd_tree", "kd_tree", 1),
            ("ball_tree", "ball_tree", 2),
        ]
    }
    # the new leads (one block, after every deal closed) against the reference by hand
    numbers = features[["visits", "pages"]].to_numpy(float)
    numbers = np.log1p(numbers)
    deal_rows = np.arange(n_deals)
    mean, sd = numbers[deal_rows].mean(axis=0), numbers[deal_rows].std(axis=0)
    space = np.column_stack(
        [(numbers - mean) / sd, pd.get_dummies(features["industry"]).to_numpy(float)]
    )
    won = closed.set_index("lead_id").loc[deal_leads, "won"].to_numpy(float)
    new = features.index[n_deals:]
    expected = _tie_rule_reference(space[n_deals:], space[deal_rows], won, 10)
    distances = np.sqrt(((space[n_deals:, None, :] - space[None, deal_rows, :]) ** 2).sum(-1))
    kth = np.sort(distances, axis=1)[:, 9:11]
    assert (kth[:, 0] == kth[:, 1]).mean() > 0.9  # the k-th distance is tied almost always
    for name, out in results.items():
        np.testing.assert_allclose(
            out.loc[new, "similar_won_share"], expected, rtol=1e-12, err_msg=name
        )
        # every block, not only the new leads: identical whatever the search
        pd.testing.assert_frame_equal(out, results["blas"], check_exact=True, obj=name)
    assert results["blas"]["similar_won_share"].notna().sum() > n_new


@pytest.mark.parametrize("sample_per_k", [1, 3, similarity.SAMPLE_PER_K])
@pytest.mark.parametrize("kind", ["continuous", "tied"])
def test_the_two_step_screen_keeps_the_pairs_of_a_whole_row_partition(
    monkeypatch, kind, sample_per_k
):
    """The screen takes each row's k-th value from a sample's bound, then from the
    cells under it; the pairs (and their order) must be those of the old screen that
    partitioned the whole row (``sql_oracle.old_candidates_blas``), when the sample is
    much smaller than the reference set (here 1,500 deals, k = 7: a sample of 7, 21 or
    560 deals), with continuous points and with points tied at the k-th distance."""
    rng = np.random.default_rng(5)
    if kind == "continuous":
        reference = rng.normal(size=(1500, 6))
        queries = rng.normal(size=(300, 6))
    else:  # small integers and one-hot columns: the k-th distance is nearly always tied
        reference = np.column_stack(
            [rng.integers(0, 3, (1500, 2)), np.eye(3)[rng.integers(0, 3, 1500)]]
        ).astype(float)
        queries = np.column_stack(
            [rng.integers(0, 3, (300, 2)), np.eye(3)[rng.integers(0, 3, 300)]]
        ).astype(float)
    monkeypatch.setattr(similarity, "SAMPLE_PER_K", sample_per_k)
    monkeypatch.setattr(similarity, "CHUNK_CELLS", 1500 * 256)  # several chunks
    rows, cols = similarity._candidates_blas(queries, reference, 7)
    old_rows, old_cols = old_candidates_blas(queries, reference, 7)
    np.testing.assert_array_equal(rows, old_rows)
    np.testing.assert_array_equal(cols, old_cols)
    # and they hold every deal within the exact 7th distance (by hand, in double precision)
    distance = np.sqrt(((queries[:, None, :] - reference[None, :, :]) ** 2).sum(-1))
    kth = np.sort(distance, axis=1)[:, 6]
    inside = distance <= kth[:, None]
    found = np.zeros_like(inside)
    found[rows, cols] = True
    assert (found | ~inside).all()
    assert len(rows) >= 7 * len(queries)
