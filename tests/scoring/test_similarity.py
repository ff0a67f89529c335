"""Similarity to past deals: as-of (only deals closed before the lead), against brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.scoring import past_deal_similarity


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
