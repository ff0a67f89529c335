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


# --- per campaign ------------------------------------------------------------------------
# Campaign movers: spend total previous 1 000; search/brand 300 -> 900 (+600: +60 pp),
# search/generic 500 -> 400 (−100: −10 pp), social/leadgen 200 -> 200 (unchanged, left
# out). Leads total previous 20: social/leadgen 10 -> 4 (−6: −30 pp).
# Campaign anomalies: spend of both campaigns in the 12 weeks before is 100, 110, 90
# repeated 4 times: mean 100, Σ(x − mean)² = 4 × (0 + 100 + 100) = 800, sample sd =
# sqrt(800 / 11) = 8.528, band mean ± 3 sd = [74.4, 125.6]. brand's last week 300 is
# outside and 200 % off the mean: an anomaly; generic's 120 is inside: not one.


@pytest.fixture
def campaign_snapshot():
    history = [100, 110, 90] * 4
    weekly = []
    for i, (brand, generic) in enumerate(zip([*history, 300], [*history, 120], strict=True)):
        for campaign, spend in (("brand", brand), ("generic", generic)):
            weekly.append(
                {
                    "week": f"2025-W{10 + i:02d}",
                    "week_start": f"2025-{i + 1:02d}-01",  # sortable ISO text, as written
                    "channel": "search",
                    "campaign": campaign,
                    "spend": float(spend),
                    "leads": 1,
                }
            )
    return Snapshot(
        {
            "period": {"label": "2025-W22", "start": "2025-05-26", "end": "2025-06-01"},
            "metrics": {"spend": figures(1500.0, 1000.0), "leads": figures(14, 20)},
            "channels": {},
            "campaigns": [
                {"channel": "search", "campaign": "brand", "spend": figures(900.0, 300.0)},
                {"channel": "search", "campaign": "generic", "spend": figures(400.0, 500.0)},
                {
                    "channel": "social",
                    "campaign": "leadgen",
                    "spend": figures(200.0, 200.0),
                    "leads": figures(4, 10),
                },
            ],
            "campaign_weekly": weekly,
        }
    )


def test_movers_by_metric_channel_and_campaign(campaign_snapshot):
    frame = movers(campaign_snapshot, top=5)
    rows = list(zip(frame["metric"], frame["channel"], frame["campaign"], strict=True))
    assert rows == [
        ("spend", "search", "brand"),
        ("leads", "social", "leadgen"),
        ("spend", "search", "generic"),
    ]
    assert list(frame["share_pct"]) == pytest.approx([60.0, -30.0, -10.0])
    assert list(frame["change_pct"]) == pytest.approx([200.0, -60.0, -20.0])


def test_campaign_anomaly_names_the_campaign(campaign_snapshot):
    from analytics.metrics.changes import campaign_anomalies

    frame = campaign_anomalies(campaign_snapshot)
    flagged = frame[frame["anomaly"]]
    assert list(zip(flagged["campaign"], flagged["metric"], strict=True)) == [("brand", "spend")]
    brand = flagged.iloc[0]
    assert brand["mean"] == pytest.approx(100.0)
    assert brand["sd"] == pytest.approx((800 / 11) ** 0.5)
    assert brand["high"] == pytest.approx(100 + 3 * (800 / 11) ** 0.5)
    generic = frame[(frame["campaign"] == "generic") & (frame["metric"] == "spend")].iloc[0]
    assert not generic["anomaly"]  # 120 is inside [74.4, 125.6]
    # leads of 1 a week are below MIN_LEADS: not checked at all
    assert "leads" not in set(frame["metric"])
