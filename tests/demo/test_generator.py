"""Demo generator: reproducible, internally consistent, defects at known rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.demo import generator

VISITS = 60_000


@pytest.fixture(scope="module")
def demo() -> generator.DemoData:
    return generator.generate(visits=VISITS, seed=11)


@pytest.fixture(scope="module")
def world() -> generator.World:
    return generator.build_world(generator.SynthConfig(visits=VISITS, seed=11))


def test_same_seed_same_data_other_seed_other_data(demo):
    again = generator.generate(visits=VISITS, seed=11)
    for name, df in demo.tables.items():
        pd.testing.assert_frame_equal(df, again.tables[name], obj=name)
    for name, df in demo.truth.items():
        pd.testing.assert_frame_equal(df, again.truth[name], obj=name)
    other = generator.generate(visits=VISITS, seed=12)
    assert not other.tables["visits"]["visit_start"].equals(demo.tables["visits"]["visit_start"])


def test_sizes():
    tiny = generator.generate(size="tiny", seed=3)
    n = len(tiny.tables["visits"])
    assert abs(n - generator.SIZES["tiny"]) / generator.SIZES["tiny"] < 0.1
    with pytest.raises(ValueError, match="unknown size 'huge'"):
        _ = generator.SynthConfig(size="huge").target_visits


def test_visitors_have_several_visits_and_period_bounds(demo):
    v = demo.tables["visits"]
    per_visitor = v.groupby("visitor_id").size()
    assert 2.0 < per_visitor.mean() < 3.2
    assert (per_visitor > 1).mean() > 0.4
    start = pd.Timestamp(demo.config.start)
    assert v["visit_start"].min() >= start
    assert v["visit_start"].max() < start + pd.Timedelta(days=demo.config.days)
    assert v["visit_id"].is_unique


def _counterfactual_by_deletion(world: generator.World, channel: str) -> pd.DataFrame:
    """Independent route: delete the channel's visitors and visits, rebuild the sums."""
    ci = generator.CHANNEL_NAMES.index(channel)
    vis = world.visits
    acq = world.visitors["acq"].to_numpy()
    kept = vis[(vis["channel"] != ci) & (acq[vis["visitor"].to_numpy()] != ci)]
    n, c = world.touches.shape
    touches = np.zeros((n, c), dtype=np.int64)
    pageviews = np.zeros((n, c), dtype=np.int64)
    pricing = np.zeros((n, c), dtype=np.int64)
    g = kept.groupby(["visitor", "channel"])
    idx = g.size().index
    rows, cols = idx.get_level_values(0), idx.get_level_values(1)
    touches[rows, cols] = g.size().to_numpy()
    pageviews[rows, cols] = g["pageviews"].sum().to_numpy()
    pricing[rows, cols] = g["goal_pricing"].sum().to_numpy()
    test = np.bincount(kept.loc[kept["in_test"], "visitor"], minlength=n)
    rebuilt = generator.World(
        world.config, world.visitors, kept, touches, pageviews, pricing, test, world.uniforms
    )
    return generator.simulate_outcomes(rebuilt)


@pytest.mark.parametrize("channel", ["yandex_rsya", "direct", "email"])
def test_counterfactual_equals_deleting_the_channel(world, channel):
    fast = generator.simulate_outcomes(world, removed=channel)
    slow = _counterfactual_by_deletion(world, channel)
    for col in ("lead", "mql", "sql", "won"):
        np.testing.assert_array_equal(fast[col].to_numpy(), slow[col].to_numpy(), err_msg=col)
    np.testing.assert_allclose(fast["p_lead"], slow["p_lead"], rtol=1e-12, atol=1e-15)


def test_channel_effects_are_sensible(demo, world):
    ce = demo.truth["channel_effects"]
    assert set(ce["channel"]) == set(generator.CHANNEL_NAMES)
    assert set(ce["conversion"]) == {"lead", "mql", "sql", "sale", "revenue"}
    # effects are non-negative: removing touches never adds a conversion (same randoms)
    assert (ce["incremental"] >= 0).all()
    # every channel with a positive touch effect and traffic matters for leads
    leads = ce[ce["conversion"] == "lead"].set_index("channel")
    assert (leads["incremental"] > 0).all()
    # every lead needs its acquisition channel, so it is counted in at least one
    # channel's increment and at most in one per distinct channel of its journey
    factual = generator.simulate_outcomes(world)
    converted = factual["lead"].to_numpy()
    distinct = (world.touches[converted] > 0).sum(axis=1)
    total = leads["factual"].iloc[0]
    assert total <= leads["incremental"].sum() <= distinct.sum()
    # funnel ordering holds for every channel's increment
    wide = ce.pivot(index="channel", columns="conversion", values="incremental")
    assert (wide["lead"] >= wide["mql"]).all()
    assert (wide["mql"] >= wide["sql"]).all()
    assert (wide["sql"] >= wide["sale"]).all()
    # the factual totals are the leads actually in the data (duplicates excluded)
    truth = demo.truth["lead_truth"]
    assert leads["factual"].iloc[0] == (~truth["is_duplicate"]).sum()
    assert factual["lead"].sum() == leads["factual"].iloc[0]


def test_removing_an_acquisition_channel_removes_its_visitors(world):
    ci = generator.CHANNEL_NAMES.index("vk_ads")
    out = generator.simulate_outcomes(world, removed="vk_ads")
    acquired = world.visitors["acq"].to_numpy() == ci
    assert acquired.any()
    assert (out.loc[acquired, "p_lead"] == 0).all()


def test_oracle_probability_is_calibrated(demo):
    lt = demo.truth["lead_truth"]
    orig = lt[~lt["is_duplicate"]]
    assert orig["p_sql"].between(0, 1).all()
    n = len(orig)
    p = orig["p_sql"].mean()
    # the mean of Bernoulli(p_i) draws is within 4 standard errors of mean(p_i)
    se = np.sqrt((orig["p_sql"] * (1 - orig["p_sql"])).sum()) / n
    assert abs(orig["is_sql"].mean() - p) < 4 * se
    assert not (orig["is_sql"] & ~orig["is_mql"]).any()
    assert not (orig["is_won"] & ~orig["is_sql"]).any()


def test_crm_history_is_consistent_with_truth(demo):
    deals = demo.tables["deals"]
    stages = demo.tables["deal_stages"]
    lt = demo.truth["lead_truth"].set_index("lead_id")
    reached = stages.merge(deals[["deal_id", "lead_id"]], on="deal_id")
    sql_leads = set(reached.loc[reached["stage"] == "sql", "lead_id"])
    won_leads = set(deals.loc[deals["status"] == "won", "lead_id"])
    # observed stages are a subset of the truth (deals may still be open at the end)
    assert lt.loc[list(sql_leads), "is_sql"].all()
    assert lt.loc[list(won_leads), "is_won"].all()
    assert set(deals["status_id"].dropna().unique()) <= {142, 143}
    assert (deals.loc[deals["status"] == "won", "status_id"] == 142).all()
    assert (deals.loc[deals["status"] == "lost", "status_id"] == 143).all()
    assert deals.loc[deals["status"] == "lost", "loss_reason"].notna().all()
    # non-target loss reason exactly for leads that never became MQL
    lost = deals[deals["status"] == "lost"].set_index("lead_id")
    non_target = lost["loss_reason"] == generator.LOSS_NON_TARGET
    assert (~lt.loc[non_target.index[non_target], "is_mql"]).all()
    # stage times are ordered within a deal
    ordered = stages.sort_values(["deal_id", "entered_at"])
    order = {s: i for i, s in enumerate(["new", "mql", "sql", "demo", "proposal", "won", "lost"])}
    ranks = ordered["stage"].map(order)
    assert (ranks.groupby(ordered["deal_id"]).diff().dropna() > 0).all()


def _binomial_ok(row: pd.Series) -> bool:
    p, n = row["configured_rate"], row["base_count"]
    return abs(row["realized_rate"] - p) <= 4 * np.sqrt(p * (1 - p) / n)


def test_defects_at_known_rates_and_visible_in_the_data(demo):
    d = demo.truth["defects"].set_index("defect")
    assert all(_binomial_ok(row) for _, row in d.iterrows()), d
    leads, deals = demo.tables["leads"], demo.tables["deals"]
    lt = demo.truth["lead_truth"].set_index("lead_id")
    orig = leads[~lt.loc[leads["lead_id"], "is_duplicate"].to_numpy()]
    # calls without a session: call leads with no visit
    no_session = (orig["lead_type"] == "call") & orig["visit_id"].isna()
    assert no_session.sum() == d.loc["call_without_session", "injected_count"]
    # leads missing in the CRM: original leads without a deal
    missing = ~orig["lead_id"].isin(deals["lead_id"])
    assert missing.sum() == d.loc["missing_in_crm", "injected_count"]
    # duplicates: the same phone or e-mail asks again within two days
    assert len(leads) - len(orig) == d.loc["duplicate_lead", "injected_count"]
    dups = leads[lt.loc[leads["lead_id"], "is_duplicate"].to_numpy()]
    src = leads.set_index("lead_id").loc[lt.loc[dups["lead_id"], "duplicate_of"]]
    same_person = (src["phone"].to_numpy() == dups["phone"].to_numpy()) | (
        src["email"].to_numpy() == dups["email"].to_numpy()
    )
    assert same_person.all()
    gap = dups["created_at"].to_numpy() - src["created_at"].to_numpy()
    assert (gap >= np.timedelta64(0)).all() and (gap <= np.timedelta64(2, "D")).all()
    # lost UTM: the lead knows the campaign, the CRM deal does not
    joined = deals.merge(leads[["lead_id", "utm_campaign"]], on="lead_id", suffixes=("", "_lead"))
    lost = joined["utm_campaign"].isna() & joined["utm_campaign_lead"].notna()
    assert lost.sum() == d.loc["lost_utm", "injected_count"]


def test_spend_covers_paid_visits(demo):
    spend = demo.tables["spend"]
    visits = demo.tables["visits"]
    paid = visits[visits["utm_campaign"].notna()]
    by_key = paid.groupby(
        [paid["visit_start"].dt.date, "utm_campaign", "utm_term", "utm_content"]
    ).size()
    s = spend.set_index(["date", "campaign", "ad_group", "creative"])["clicks"]
    aligned = s.reindex(by_key.index)
    assert aligned.notna().all()
    assert (aligned >= by_key).all()
    assert (spend["cost"] > 0).all() and (spend["impressions"] >= spend["clicks"]).all()


def test_creative_truth(world):
    ct = generator.creative_truth(world).set_index("creative")
    cr1, cr2 = generator.TEST_CREATIVES
    assert ct.loc[cr2, "true_lift"] > 0.1
    assert ct.loc[cr1, "visitors_in_arm"] > 0 and ct.loc[cr2, "visitors_in_arm"] > 0
    no_lift = generator.World(
        generator.SynthConfig(visits=VISITS, seed=11, creative_lift=0.0),
        world.visitors,
        world.visits,
        world.touches,
        world.pageviews,
        world.pricing,
        world.test_touches,
        world.uniforms,
    )
    assert generator.creative_truth(no_lift).set_index("creative").loc[cr2, "true_lift"] == 0.0


def test_write_raw_roundtrip(demo, tmp_path):
    out = generator.write_raw(demo, tmp_path / "raw")
    for name, df in demo.tables.items():
        back = pd.read_parquet(out / f"{name}.parquet")
        assert len(back) == len(df)
    assert (out / "truth" / "channel_effects.parquet").exists()
    assert (out / "synth.json").exists()
    generator.write_raw(demo, tmp_path / "csv", fmt="csv")
    assert len(pd.read_csv(tmp_path / "csv" / "leads.csv")) == len(demo.tables["leads"])
