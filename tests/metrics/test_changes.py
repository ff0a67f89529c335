"""What changed on a hand-written snapshot (golden figures computed by hand).

Leads: total 30 vs 20 (Δ = +10). Channels: search 12 vs 5 (+7), social 8 vs 10 (−2),
organic 6 vs 5 (+1); the channels cover 26 of 30 and 20 of 20, so "other" is
4 vs 0 (+4): parts 7 − 2 + 1 + 4 = 10 = Δ. Shares of |Δ|: 70 %, −20 %, 10 %, 40 %.
Revenue: total 500 vs 800 (Δ = −300): search 400 vs 500 (−100), social 100 vs 300
(−200); parts sum to −300 exactly, no "other" row.
Movers (share of the metric's previous total): revenue/social −200/800 = −25 pp,
leads/search +7/20 = +35 pp, revenue/search −100/800 = −12.5 pp, leads/social
−2/20 = −10 pp, leads/organic +1/20 = +5 pp.
Anomalies: leads in 9 earlier weeks 10, 12, 11, 9, 10, 11, 12, 10, 9: mean 94/9 =
10.444, sample sd = sqrt(Σ(x − mean)² / 8) = sqrt(10.222 / 8) = 1.1304; band
10.444 ± 2.261 = [8.183, 12.705]; the last week's 30 is outside (z = 17.3);
revenue 100 every week then 100: sd 0, not an anomaly.
"""

from __future__ import annotations

import pytest

from analytics.metrics.changes import anomalies, decompose_change, movers
from analytics.metrics.snapshot import Snapshot


def figures(value, previous):
    return {"value": value, "previous": previous}


@pytest.fixture
def snapshot():
    leads_history = [10, 12, 11, 9, 10, 11, 12, 10, 9, 30]
    return Snapshot(
        {
            "period": {"label": "2025-W23", "start": "2025-06-02", "end": "2025-06-08"},
            "metrics": {"leads": figures(30, 20), "revenue": figures(500.0, 800.0)},
            "channels": {
                "organic": {"leads": figures(6, 5)},
                "search": {"leads": figures(12, 5), "revenue": figures(400.0, 500.0)},
                "social": {"leads": figures(8, 10), "revenue": figures(100.0, 300.0)},
            },
            "weekly": [
                {"week": f"W{i}", "leads": n, "revenue": 100.0}
                for i, n in enumerate(leads_history, start=14)
            ],
        }
    )


def test_leads_decomposition_sums_exactly_to_the_total_change(snapshot):
    frame = decompose_change(snapshot, "leads")
    assert list(frame["channel"]) == ["search", "social", "organic", "other"]
    assert list(frame["change"]) == [7, -2, 1, 4]
    assert frame["change"].sum() == 30 - 20
    assert list(frame["share_pct"]) == pytest.approx([70.0, -20.0, 10.0, 40.0])


def test_revenue_decomposition_has_no_other_row_when_channels_cover_it(snapshot):
    frame = decompose_change(snapshot, "revenue")
    assert list(frame["channel"]) == ["social", "search"]
    assert frame["change"].sum() == pytest.approx(-300.0)


def test_movers_ranked_by_share_of_the_previous_total(snapshot):
    frame = movers(snapshot, top=5)
    pairs = list(zip(frame["metric"], frame["channel"], strict=True))
    assert pairs == [
        ("leads", "search"),
        ("revenue", "social"),
        ("revenue", "search"),
        ("leads", "social"),
        ("leads", "organic"),
    ]
    assert list(frame["share_pct"]) == pytest.approx([35.0, -25.0, -12.5, -10.0, 5.0])


def test_anomaly_against_the_weeks_before(snapshot):
    frame = anomalies(snapshot, keys=("leads", "revenue")).set_index("metric")
    leads = frame.loc["leads"]
    assert leads["mean"] == pytest.approx(10.4444, abs=1e-4)
    assert leads["sd"] == pytest.approx(1.1304, abs=1e-4)
    assert (leads["low"], leads["high"]) == pytest.approx((8.1836, 12.7053), abs=1e-3)
    assert bool(leads["anomaly"]) and leads["z"] == pytest.approx(17.3, abs=0.1)
    assert not bool(frame.loc["revenue", "anomaly"])


def test_decomposition_refuses_a_ratio(snapshot):
    with pytest.raises(ValueError, match="'romi' is not additive"):
        decompose_change(snapshot, "romi")
