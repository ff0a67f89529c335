"""Seeded demo company with known ground truth.

A B2B company sells software to companies of several regions, industries and
sizes. Over two years (``start`` + ``days``: 2024-01-01 to 2025-12-31, so that
year-ago comparisons, revenue targets from last year and mature cohorts work)
visitors arrive through an acquisition channel, come back through return
channels, leave requests (forms, calls, chats) that become CRM deals and move
through the stages new -> mql -> sql -> demo -> proposal -> won/lost. Traffic
grows by ``yearly_growth`` a year (first visits per day ``∝ (1 + g) ** (t / 365.25)``,
weekends at 45 %), so last year is smaller than this year.

Causal model
------------
Every draw a visitor will ever need is made up front from ``numpy`` with the
seed, so outcomes are a deterministic function of *which touches happened*.
That lets :func:`simulate_outcomes` re-simulate a world without channel ``c``
with the same random numbers (common random numbers) and read off the true
incremental contribution of every channel.

* Lead: noisy-OR of a visitor baseline and every touch,
  ``P(lead) = 1 - (1 - b_i) * prod_c (1 - e_c) ** k_ic`` where ``k_ic`` is the
  number of visits of visitor ``i`` through channel ``c`` and ``b_i`` grows
  with the visitor's intent and ICP fit. A visitor with no visits cannot
  convert. Removing an acquisition channel removes the visitors it brought
  (their later direct or organic returns would not have happened): this is
  the indirect influence of ads.
* MQL given lead: ``m_i = contact_i * sigmoid(a0 + a1 (fit_i - 0.5) + a2 pricing_i)``.
* SQL given MQL: ``s_i = sigmoid(g0 + g1 (fit_i - 0.5) + g2 pricing_i
  + g3 log1p(pageviews_i) + g_type + g4 z_i)``; the oracle probability of SQL
  for a lead is ``m_i * s_i``.
* Sale given SQL: ``w_i = sigmoid(h0 + h1 (fit_i - 0.5) + skill_manager)``;
  revenue is the deal amount (log-normal around the size band's average check).
* Creative test: in one ad group visitors are split 50/50 (sticky) between two
  creatives; touches of creative 2 have touch effect ``e * (1 + creative_lift)``.
* Customer profile: every visitor's company has a latent profile
  ``u_i ~ N(0, I_3)`` (ad budget, sales team, analytics maturity). Its closeness
  to the good profile :data:`GOOD_PROFILE`, standardised to mean 0 and sd 1
  (``q_i``, see :func:`profile_closeness`), is part of the ICP fit:
  ``fit_i = clip(0.5 + industry + size + channel + 0.09 q_i + 0.08 eps_i, 0, 1)``,
  so MQL, SQL and won deals concentrate near the good profile. The lead form
  asks for it (:data:`PROFILE_FIELDS`: each answer is ``u_ik + 0.3 noise`` in
  business units, unanswered for part of calls and chats; rows of the raw
  table ``lead_fields`` recorded at the lead's creation), so similarity to
  past sales carries real signal. Truth: ``lead_truth.profile_*`` and
  ``truth.customer_profile``.

Injected anomaly (recorded in ``truth.anomalies``): in the last complete week
of the data the cost of one campaign is multiplied by ``anomaly_cost_factor``
(a bid mistake: same clicks, double spend), for the what-changed report to name.

Measurement defects (injected at known rates, recorded in ``truth.defects``):
lost UTM on CRM deals of tracked paid leads (undetermined campaign), leads
missing from the CRM, duplicate leads, calls without a session.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Approximate visits per size over the two years (the exact count depends on
#: the seed). ``tiny`` keeps about 18k visits in the last year (as many as it
#: had when the demo spanned one year) and stays fast for test sessions.
SIZES = {"tiny": 30_000, "default": 500_000, "large": 10_000_000}

#: Mean visits per visitor (1 + Poisson with intent-dependent mean).
VISITS_PER_VISITOR = 2.55


@dataclass(frozen=True)
class Channel:
    """A traffic channel with its causal touch effect.

    Parameters
    ----------
    name : str
        Channel group name.
    paid : bool
        Paid channels have campaigns, ad groups, creatives and spend.
    acquisition : float
        Relative weight as the first (acquisition) channel of a visitor.
    returning : float
        Relative weight for later (return) visits.
    touch_effect : float
        ``e_c``: probability that one visit through this channel alone
        produces a lead (noisy-OR component).
    sources : tuple of str
        ``utm_source`` values seen for this channel.
    medium : str
        ``utm_medium`` value.
    cpc : float
        Average cost per click, RUB without VAT (paid only).
    ctr : float
        Click-through rate of impressions (paid only).
    fit_shift : float
        Shift of the ICP fit of visitors it acquires (display brings smaller,
        less fitting companies).
    """

    name: str
    paid: bool
    acquisition: float
    returning: float
    touch_effect: float
    sources: tuple[str, ...]
    medium: str
    cpc: float = 0.0
    ctr: float = 0.0
    fit_shift: float = 0.0


CHANNELS: tuple[Channel, ...] = (
    Channel("yandex_search", True, 0.22, 0.10, 0.012, ("yandex",), "cpc", 95.0, 0.07, 0.05),
    Channel("yandex_rsya", True, 0.17, 0.03, 0.003, ("yandex",), "display", 28.0, 0.004, -0.10),
    Channel("google_search", True, 0.08, 0.04, 0.010, ("google",), "cpc", 120.0, 0.06, 0.05),
    Channel("vk_ads", True, 0.10, 0.02, 0.002, ("vk",), "paid_social", 40.0, 0.008, -0.12),
    Channel("organic", False, 0.25, 0.22, 0.006, ("yandex", "google"), "organic"),
    Channel("referral", False, 0.05, 0.03, 0.005, ("partner_site", "vc.ru"), "referral"),
    Channel("direct", False, 0.13, 0.45, 0.004, ("(direct)",), "(none)"),
    Channel("email", False, 0.00, 0.11, 0.008, ("newsletter",), "email"),
)
CHANNEL_NAMES = tuple(c.name for c in CHANNELS)

#: Paid campaigns: channel -> campaign -> ad groups. Two creatives per group.
CAMPAIGNS: dict[str, dict[str, tuple[str, ...]]] = {
    "yandex_search": {
        "yd_search_brand": ("brand_name", "brand_misspell"),
        "yd_search_generic": ("generic_crm", "generic_analytics", "generic_calltracking"),
        "yd_search_competitors": ("competitor_a", "competitor_b"),
    },
    "yandex_rsya": {
        "yd_rsya_interests": ("interest_marketing", "interest_sales"),
        "yd_rsya_retargeting": ("retarget_pricing", "retarget_blog"),
    },
    "google_search": {
        "gads_search_generic": ("generic_crm", "generic_analytics"),
        "gads_search_brand": ("brand_name",),
    },
    "vk_ads": {
        "vk_leadgen": ("lookalike_clients", "interest_business"),
    },
}

#: The A/B test of creatives: campaign, ad group and its two creatives.
TEST_CAMPAIGN = "yd_search_generic"
TEST_AD_GROUP = "generic_crm"
TEST_CREATIVES = ("generic_crm_cr1", "generic_crm_cr2")

#: The good customer profile: centre of the latent profile space (standardised
#: units) around which won deals concentrate.
GOOD_PROFILE = (1.0, 0.5, 0.8)

#: How the lead form observes the profile: field, latent dimension, unit,
#: answer = ``transform(u_k + PROFILE_NOISE * eps)``.
PROFILE_FIELDS = (
    ("monthly_ad_budget", "ad budget", "RUB per month"),
    ("sales_team_size", "sales team", "people"),
    ("analytics_tools", "analytics maturity", "tools in use (0-10)"),
)
#: Standard deviation of the answer noise in latent units.
PROFILE_NOISE = 0.3
#: Share of leads answering the profile questions, by lead type (form, call, chat).
PROFILE_ANSWERED = (0.9, 0.6, 0.5)
#: Weight of the profile closeness ``q`` and of the unexplained noise in the ICP fit.
PROFILE_FIT_WEIGHT = 0.11
FIT_NOISE = 0.05
#: Log-odds of winning per sd of profile closeness (buyers like the good profile close).
PROFILE_WON_WEIGHT = 0.9

REGIONS = (
    ("Москва", 0.38),
    ("Санкт-Петербург", 0.16),
    ("Екатеринбург", 0.08),
    ("Новосибирск", 0.07),
    ("Казань", 0.06),
    ("Краснодар", 0.06),
    ("Другие регионы", 0.19),
)
#: industry, share, ICP fit contribution
INDUSTRIES = (
    ("IT", 0.16, 0.30),
    ("Розничная торговля", 0.20, 0.15),
    ("Производство", 0.15, 0.20),
    ("Строительство", 0.14, 0.10),
    ("Логистика", 0.10, 0.12),
    ("Финансы", 0.08, 0.25),
    ("Образование", 0.09, -0.05),
    ("Частное лицо", 0.08, -0.45),
)
#: size band, share, ICP fit contribution, average check RUB
SIZES_BANDS = (
    ("1-10", 0.34, -0.20, 60_000.0),
    ("11-50", 0.30, 0.05, 160_000.0),
    ("51-250", 0.21, 0.20, 420_000.0),
    ("251-1000", 0.10, 0.25, 950_000.0),
    ("1000+", 0.05, 0.15, 2_100_000.0),
)
#: manager, skill (log-odds shift of winning)
MANAGERS = (
    ("Анна Смирнова", 0.35),
    ("Дмитрий Козлов", 0.15),
    ("Елена Попова", 0.0),
    ("Игорь Волков", -0.10),
    ("Мария Новикова", 0.20),
    ("Сергей Морозов", -0.30),
)
LOSS_NON_TARGET = "Нецелевой"
LOSS_REASONS_QUALIFIED = ("Дорого", "Выбрали конкурента", "Нет бюджета", "Пропал клиент")
LOSS_REASONS_UNQUALIFIED = ("Нет потребности", "Не дозвонились")
LANDING_PAGES = ("/", "/pricing", "/product", "/blog/skvoznaya-analitika", "/demo", "/cases")
DEVICES = ("desktop", "mobile", "tablet")

# Label tables of the text columns: visits carry small integer codes into them
# (categoricals in ``World.visits``, Arrow text in the raw tables), so 10M
# visits never become 10M Python strings.
_SOURCE_LABELS = tuple(dict.fromkeys(s for c in CHANNELS for s in c.sources))
_CAMPAIGN_LABELS = ("", *dict.fromkeys(c for gs in CAMPAIGNS.values() for c in gs))
_AD_GROUP_LABELS = (
    "",
    *dict.fromkeys(g for cs in CAMPAIGNS.values() for gs in cs.values() for g in gs),
)
_CREATIVE_LABELS = (
    "",
    *dict.fromkeys(
        [
            f"{g}_cr{k}"
            for cs in CAMPAIGNS.values()
            for gs in cs.values()
            for g in gs
            for k in (1, 2)
        ]
        + list(TEST_CREATIVES)
    ),
)


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of the demo company. Every figure has a unit in its name or doc.

    Rates of injected defects are probabilities per eligible record.
    """

    seed: int = 42
    size: str = "default"
    visits: int | None = None
    start: date = date(2024, 1, 1)
    days: int = 731
    yearly_growth: float = 0.4
    baseline_lead: float = -6.0
    creative_lift: float = 0.8
    lost_utm_rate: float = 0.30
    missing_in_crm_rate: float = 0.08
    duplicate_rate: float = 0.05
    call_without_session_rate: float = 0.15
    anomaly_campaign: str = "yd_search_generic"
    anomaly_cost_factor: float = 2.0
    extra: dict = field(default_factory=dict)

    @property
    def target_visits(self) -> int:
        if self.visits is not None:
            return int(self.visits)
        if self.size not in SIZES:
            raise ValueError(f"unknown size {self.size!r}; choose one of {', '.join(SIZES)}")
        return SIZES[self.size]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def profile_closeness(profile: np.ndarray) -> np.ndarray:
    """Standardised closeness of latent profiles to :data:`GOOD_PROFILE`.

    ``d2 = ||u - c||^2`` of ``u ~ N(0, I_k)`` is non-central chi-square with
    ``k`` degrees of freedom and non-centrality ``lam = ||c||^2`` (mean
    ``k + lam``, variance ``2 (k + 2 lam)``), so
    ``q = (k + lam - d2) / sqrt(2 (k + 2 lam))`` has mean 0 and sd 1 over the
    population; larger is closer to the good profile.

    Parameters
    ----------
    profile : numpy.ndarray
        ``n x k`` latent profiles in standardised units.
    """
    c = np.asarray(GOOD_PROFILE)
    k, lam = len(c), float(c @ c)
    d2 = ((np.asarray(profile) - c) ** 2).sum(axis=1)
    return (k + lam - d2) / np.sqrt(2 * (k + 2 * lam))


def _choice(rng: np.random.Generator, n: int, weights: Iterable[float]) -> np.ndarray:
    w = np.asarray(list(weights), dtype=float)
    return rng.choice(len(w), size=n, p=w / w.sum())


@dataclass
class World:
    """Every latent draw of the demo company (factual world).

    Arrays indexed by visitor have length ``n_visitors``; arrays indexed by
    visit have length ``n_visits``. Matrices ``touches``, ``pageviews`` and
    ``pricing`` are visitor x channel sums over the visitor's visits.
    """

    config: SynthConfig
    visitors: pd.DataFrame
    visits: pd.DataFrame
    touches: np.ndarray
    pageviews: np.ndarray
    pricing: np.ndarray
    test_touches: np.ndarray
    uniforms: np.ndarray  # visitor x 4: lead, mql, sql, won


def build_world(config: SynthConfig) -> World:
    """Draw visitors, visits and every latent variable from the seed."""
    rng = np.random.default_rng(config.seed)
    n = max(50, int(round(config.target_visits / VISITS_PER_VISITOR)))
    n_ch = len(CHANNELS)

    # --- visitors: intent, segment, acquisition channel -------------------
    intent = rng.standard_normal(n)
    acq = _choice(rng, n, (c.acquisition for c in CHANNELS))
    region = _choice(rng, n, (r[1] for r in REGIONS))
    industry = _choice(rng, n, (i[1] for i in INDUSTRIES))
    size_band = _choice(rng, n, (s[1] for s in SIZES_BANDS))
    fit_shift = np.array([c.fit_shift for c in CHANNELS])[acq]
    ind_fit = np.array([i[2] for i in INDUSTRIES])[industry]
    size_fit = np.array([s[2] for s in SIZES_BANDS])[size_band]
    fit_noise = rng.standard_normal(n)
    # the latent profile comes from its own stream (the main stream's draws stay put)
    profile = np.random.default_rng([config.seed, 2]).standard_normal((n, len(GOOD_PROFILE)))
    closeness = profile_closeness(profile)
    fit = np.clip(
        0.5
        + ind_fit
        + size_fit
        + fit_shift
        + PROFILE_FIT_WEIGHT * closeness
        + FIT_NOISE * fit_noise,
        0,
        1,
    )
    lead_type = _choice(rng, n, (0.50, 0.35, 0.15))  # form, call, chat
    has_phone = np.where(lead_type == 1, True, rng.random(n) < np.where(lead_type == 0, 0.9, 0.5))
    has_email = rng.random(n) < np.where(lead_type == 0, 0.7, np.where(lead_type == 2, 0.4, 0.1))
    contact = has_phone | has_email
    manager = rng.integers(0, len(MANAGERS), n)
    amount = (
        np.array([s[3] for s in SIZES_BANDS])[size_band] * rng.lognormal(-0.08, 0.4, n)
    ).round(-2)
    arm = (rng.random(n) < 0.5).astype(np.int8)  # creative arm if in the test group
    uniforms = rng.random((n, 4))

    # --- visits -------------------------------------------------------------
    n_vis = 1 + rng.poisson((VISITS_PER_VISITOR - 1) * np.exp(0.35 * intent - 0.06))
    vid = np.repeat(np.arange(n), n_vis)
    total = len(vid)
    first_idx = np.repeat(np.cumsum(n_vis) - n_vis, n_vis)
    order = np.arange(total) - first_idx
    day_w = (1.0 + config.yearly_growth) ** (np.arange(config.days) / 365.25)
    weekday = (np.arange(config.days) + config.start.weekday()) % 7
    day_w = day_w * np.where(weekday >= 5, 0.45, 1.0)
    first_day = _choice(rng, n, day_w) + rng.random(n)
    gaps = np.where(order == 0, 0.0, rng.exponential(6.0, total))
    # cumulative gaps within visitor
    cum = np.cumsum(gaps)
    cum = cum - np.repeat(cum[np.cumsum(n_vis) - n_vis], n_vis)
    day = first_day[vid] + cum
    hour = np.clip(rng.normal(13.5, 3.2, total), 0, 23.99) / 24.0
    t_days = np.floor(day) + hour
    keep = t_days < config.days
    ret = _choice(rng, total, (c.returning for c in CHANNELS))
    channel = np.where(order == 0, acq[vid], ret)
    vid, order, t_days, channel = vid[keep], order[keep], t_days[keep], channel[keep]
    del first_idx, gaps, cum, day, hour, keep, ret  # visit-level temporaries (10M rows)
    m = len(vid)
    pv = 1 + rng.poisson(2.2 * np.exp(0.3 * intent[vid]))
    pricing = rng.random(m) < _sigmoid(-2.2 + 0.9 * intent[vid] + 1.2 * (fit[vid] - 0.5))
    duration = np.where(pv == 1, rng.integers(0, 40, m), (pv * rng.lognormal(3.8, 0.6, m)))
    duration = duration.astype(np.int64)
    device = _choice(rng, m, (0.6, 0.35, 0.05))

    # paid structure: campaign / ad group / creative, as codes into the label tables
    src = np.zeros(m, dtype=np.int8)
    campaign = np.zeros(m, dtype=np.int8)  # code 0 is "" (not paid)
    ad_group = np.zeros(m, dtype=np.int8)
    creative = np.zeros(m, dtype=np.int8)
    in_test = np.zeros(m, dtype=bool)
    for ci, ch in enumerate(CHANNELS):
        sel = np.flatnonzero(channel == ci)
        src_codes = np.array([_SOURCE_LABELS.index(s) for s in ch.sources], dtype=np.int8)
        src[sel] = src_codes[rng.integers(0, len(ch.sources), len(sel))]
        if not ch.paid:
            continue
        groups = [(c, g) for c, gs in CAMPAIGNS[ch.name].items() for g in gs]
        gi = rng.integers(0, len(groups), len(sel))
        camp_arr = np.array([_CAMPAIGN_LABELS.index(g[0]) for g in groups], dtype=np.int8)[gi]
        grp_arr = np.array([_AD_GROUP_LABELS.index(g[1]) for g in groups], dtype=np.int8)[gi]
        cr_idx = rng.integers(1, 3, len(sel))
        cr_codes = np.array(
            [[_CREATIVE_LABELS.index(f"{g[1]}_cr{k}") for k in (1, 2)] for g in groups],
            dtype=np.int8,
        )
        cr_arr = cr_codes[gi, cr_idx - 1]
        test = np.array([g == (TEST_CAMPAIGN, TEST_AD_GROUP) for g in groups])[gi]
        # sticky assignment: a visitor always sees the creative of their arm
        test_codes = np.array([_CREATIVE_LABELS.index(t) for t in TEST_CREATIVES], dtype=np.int8)
        cr_arr[test] = test_codes[arm[vid[sel[test]]]]
        campaign[sel], ad_group[sel], creative[sel] = camp_arr, grp_arr, cr_arr
        in_test[sel[test]] = True

    def labels(codes: np.ndarray, table: tuple[str, ...]) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=list(table))

    landing = _choice(rng, m, (0.35, 0.15, 0.2, 0.15, 0.05, 0.1))
    visits = pd.DataFrame(
        {
            "visitor": vid,
            "order": order,
            "t_days": t_days,
            "channel": channel,
            "source": labels(src, _SOURCE_LABELS),
            "campaign": labels(campaign, _CAMPAIGN_LABELS),
            "ad_group": labels(ad_group, _AD_GROUP_LABELS),
            "creative": labels(creative, _CREATIVE_LABELS),
            "pageviews": pv,
            "duration_s": duration,
            "goal_pricing": pricing,
            "device": labels(device, DEVICES),
            "landing": labels(landing, LANDING_PAGES),
            "in_test": in_test,
        },
        copy=False,
    )
    del device, landing
    # visitor x channel sums in one pass each (np.bincount over vid * n_ch + channel)
    cell = vid * n_ch + channel
    touches = np.bincount(cell, minlength=n * n_ch).reshape(n, n_ch)
    pv_m = np.bincount(cell, weights=pv, minlength=n * n_ch).astype(np.int64).reshape(n, n_ch)
    pr_m = np.bincount(cell, weights=pricing, minlength=n * n_ch).astype(np.int64)
    pr_m = pr_m.reshape(n, n_ch)
    del cell
    test_touches = np.bincount(vid[in_test], minlength=n)

    visitors = pd.DataFrame(
        {
            "intent": intent,
            "acq": acq,
            "fit": fit,
            "region": region,
            "industry": industry,
            "size_band": size_band,
            "lead_type": lead_type,
            "has_phone": has_phone,
            "has_email": has_email,
            "contact": contact,
            "manager": manager,
            "amount": amount,
            "arm": arm,
            **{f"profile_{k + 1}": profile[:, k] for k in range(profile.shape[1])},
            "profile_closeness": closeness,
        }
    )
    return World(config, visitors, visits, touches, pv_m, pr_m, test_touches, uniforms)


def simulate_outcomes(
    world: World,
    removed: str | None = None,
    creative_lift: float | None = None,
) -> pd.DataFrame:
    """Outcomes per visitor in the factual or a counterfactual world.

    Parameters
    ----------
    world : World
        Latent draws from :func:`build_world`.
    removed : str or None
        Channel name to remove: its visitors (acquired through it) vanish and
        its touches disappear from everyone else. ``None`` is the factual world.
    creative_lift : float or None
        Override of the creative-2 lift (0 gives the world where creative 2
        performs like creative 1).

    Returns
    -------
    pandas.DataFrame
        Per visitor: ``p_lead``, ``lead``, ``p_mql``, ``mql``, ``p_sql_given_mql``,
        ``sql``, ``p_won``, ``won``, ``revenue`` (RUB).
    """
    v = world.visitors
    cfg = world.config
    touches = world.touches.copy()
    pv = world.pageviews.sum(axis=1).astype(float)
    pricing = world.pricing.sum(axis=1)
    test_touches = world.test_touches.astype(float)
    exists = touches.sum(axis=1) > 0
    if removed is not None:
        ci = CHANNEL_NAMES.index(removed)
        exists &= v["acq"].to_numpy() != ci
        pv -= world.pageviews[:, ci]
        pricing = pricing - world.pricing[:, ci]
        if removed == "yandex_search":
            test_touches = np.zeros_like(test_touches)
        touches[:, ci] = 0
    lift = cfg.creative_lift if creative_lift is None else creative_lift

    fit = v["fit"].to_numpy()
    intent = v["intent"].to_numpy()
    e = np.array([c.touch_effect for c in CHANNELS])
    log_no = touches @ np.log1p(-e)
    e_test = e[CHANNEL_NAMES.index("yandex_search")]
    arm2 = v["arm"].to_numpy() == 1
    # creative-2 touches convert with e * (1 + lift) instead of e
    log_no += np.where(arm2, test_touches * (np.log1p(-e_test * (1 + lift)) - np.log1p(-e_test)), 0)
    b = _sigmoid(cfg.baseline_lead + 0.9 * intent + 1.2 * (fit - 0.5))
    p_lead = np.where(exists, 1 - (1 - b) * np.exp(log_no), 0.0)
    u = world.uniforms
    lead = u[:, 0] < p_lead

    has_pricing = (pricing > 0).astype(float)
    p_mql = v["contact"].to_numpy() * _sigmoid(0.1 + 4.0 * (fit - 0.5) + 0.8 * has_pricing)
    type_effect = np.array([0.0, 0.45, -0.25])[v["lead_type"].to_numpy()]
    p_sql = _sigmoid(
        -2.1
        + 4.0 * (fit - 0.5)
        + 0.9 * has_pricing
        + 0.35 * np.log1p(np.maximum(pv, 0))
        + type_effect
        + 0.5 * intent
    )
    skill = np.array([m[1] for m in MANAGERS])[v["manager"].to_numpy()]
    p_won = _sigmoid(
        -1.5 + 2.5 * (fit - 0.5) + skill + PROFILE_WON_WEIGHT * v["profile_closeness"].to_numpy()
    )
    mql = lead & (u[:, 1] < p_mql)
    sql = mql & (u[:, 2] < p_sql)
    won = sql & (u[:, 3] < p_won)
    return pd.DataFrame(
        {
            "p_lead": p_lead,
            "lead": lead,
            "p_mql": p_mql,
            "mql": mql,
            "p_sql_given_mql": p_sql,
            "sql": sql,
            "p_won": p_won,
            "won": won,
            "revenue": np.where(won, v["amount"].to_numpy(), 0.0),
        }
    )


CONVERSIONS = ("lead", "mql", "sql", "won")


def _totals(out: pd.DataFrame) -> dict[str, float]:
    res = {k: float(out[k].sum()) for k in CONVERSIONS}
    res["revenue"] = float(out["revenue"].sum())
    return res


def channel_effects(world: World, factual: pd.DataFrame | None = None) -> pd.DataFrame:
    """True incremental contribution of every channel by re-simulation.

    ``incremental(c, y) = y(factual) - y(world without c)`` for
    ``y`` in leads, MQL, SQL, sales (won) and revenue (RUB), computed with the
    same random numbers, so the difference is the channel's causal effect and
    not noise.
    """
    factual = simulate_outcomes(world) if factual is None else factual
    base = _totals(factual)
    rows = []
    for name in CHANNEL_NAMES:
        cf = _totals(simulate_outcomes(world, removed=name))
        for k, value in base.items():
            rows.append(
                {
                    "channel": name,
                    "conversion": "sale" if k == "won" else k,
                    "factual": value,
                    "without_channel": cf[k],
                    "incremental": value - cf[k],
                }
            )
    return pd.DataFrame(rows)


def creative_truth(world: World) -> pd.DataFrame:
    """Ground truth of the creative A/B test.

    For the visitors of the test ad group, the expected MQL rate if every one
    of them saw creative 1, and if every one saw creative 2, from the model's
    probabilities (no sampling noise): ``true_lift = rate_2 / rate_1 - 1``.
    """
    in_test = world.test_touches > 0
    v = world.visitors
    rates = {}
    for arm in (0, 1):
        forced = World(
            world.config,
            v.assign(arm=arm),
            world.visits,
            world.touches,
            world.pageviews,
            world.pricing,
            world.test_touches,
            world.uniforms,
        )
        out = simulate_outcomes(forced)
        rates[arm] = float((out["p_lead"] * out["p_mql"])[in_test].mean())
    return pd.DataFrame(
        {
            "campaign": [TEST_CAMPAIGN] * 2,
            "ad_group": [TEST_AD_GROUP] * 2,
            "creative": list(TEST_CREATIVES),
            "visitors_in_arm": [
                int((in_test & (v["arm"] == 0)).sum()),
                int((in_test & (v["arm"] == 1)).sum()),
            ],
            "expected_mql_rate": [rates[0], rates[1]],
            "true_lift": [0.0, rates[1] / rates[0] - 1],
            "touch_effect_lift": [0.0, world.config.creative_lift],
        }
    )


def last_complete_week(config: SynthConfig) -> tuple[date, date]:
    """Monday and Sunday of the last complete ISO week of the data.

    The same week as the period ``last-week`` anchored at the last day with
    data (:func:`analytics.metrics.period.resolve_period`).
    """
    last = pd.Timestamp(config.start) + pd.Timedelta(days=config.days - 1)
    sunday = last - pd.Timedelta(days=last.isoweekday() % 7)
    return (sunday - pd.Timedelta(days=6)).date(), sunday.date()


def _inject_cost_anomaly(
    config: SynthConfig, daily: pd.DataFrame, cost: np.ndarray
) -> pd.DataFrame:
    """Multiply one campaign's cost in the last complete week (in place), record it.

    Parameters
    ----------
    daily : pandas.DataFrame
        Paid rows by day and ad (``date``, ``channel``, ``utm_campaign``).
    cost : numpy.ndarray
        Cost of each row of ``daily`` (RUB); modified in place.

    Returns
    -------
    pandas.DataFrame
        One row per anomaly: ``week_start``, ``week_end`` (dates, ISO week),
        ``week`` (``2025-W52``), ``channel``, ``campaign``, ``metric`` (``cost``),
        ``expected`` (RUB the campaign would have cost that week), ``injected``
        (RUB in the data), ``factor`` and a ``description``.
    """
    monday, sunday = last_complete_week(config)
    columns = [
        "week_start", "week_end", "week", "channel", "campaign", "metric",
        "expected", "injected", "factor", "description",
    ]  # fmt: skip
    if config.anomaly_cost_factor == 1.0:
        return pd.DataFrame(columns=columns)
    day = daily["date"].dt.date.to_numpy()
    sel = (
        (daily["utm_campaign"] == config.anomaly_campaign).to_numpy()
        & (day >= monday)
        & (day <= sunday)
    )
    expected = float(cost[sel].sum())
    cost[sel] = np.round(cost[sel] * config.anomaly_cost_factor, 2)
    channel = next(ch for ch, cs in CAMPAIGNS.items() if config.anomaly_campaign in cs)
    year, week, _ = monday.isocalendar()
    return pd.DataFrame(
        [
            (
                monday,
                sunday,
                f"{year}-W{week:02d}",
                channel,
                config.anomaly_campaign,
                "cost",
                round(expected, 2),
                float(cost[sel].sum()),
                config.anomaly_cost_factor,
                f"cost of {config.anomaly_campaign} x{config.anomaly_cost_factor:g} "
                "(bid mistake: same clicks, higher cost per click)",
            )
        ],
        columns=columns,
    )


def customer_profile_truth() -> pd.DataFrame:
    """The good customer profile and how the lead form observes it.

    One row per latent dimension: ``dimension``, ``lead_field``, ``unit``,
    ``good_value`` (the centre in standardised units), ``answer_noise_sd``
    (latent units), and the answer's formula.
    """
    formulas = (
        "round(150000 * exp(0.8 * x), -3)",
        "max(1, round(6 * exp(0.6 * x)))",
        "clip(round(3 + 1.5 * x), 0, 10)",
    )
    return pd.DataFrame(
        {
            "dimension": [f"profile_{k + 1}" for k in range(len(GOOD_PROFILE))],
            "meaning": [f[1] for f in PROFILE_FIELDS],
            "lead_field": [f[0] for f in PROFILE_FIELDS],
            "unit": [f[2] for f in PROFILE_FIELDS],
            "good_value": list(GOOD_PROFILE),
            "answer_noise_sd": [PROFILE_NOISE] * len(GOOD_PROFILE),
            "answer_formula": list(formulas),
        }
    )


def _profile_answers(
    config: SynthConfig, visitors: pd.DataFrame, who: np.ndarray, lead_type: np.ndarray
) -> dict[str, pd.Series]:
    """Answers of the lead form to the profile questions (nullable, in business units).

    ``x = u_k + PROFILE_NOISE * eps``; a lead answers with probability
    :data:`PROFILE_ANSWERED` of its type. Own random stream, so the other
    measurement draws do not move.
    """
    rng = np.random.default_rng([config.seed, 3])
    n = len(who)
    u = np.column_stack(
        [visitors[f"profile_{k + 1}"].to_numpy()[who] for k in range(len(GOOD_PROFILE))]
    )
    x = u + PROFILE_NOISE * rng.standard_normal(u.shape)
    type_code = pd.Series(lead_type).map({"form": 0, "call": 1, "chat": 2}).to_numpy()
    answered = rng.random(n) < np.asarray(PROFILE_ANSWERED)[type_code]
    values = (
        np.round(150_000 * np.exp(0.8 * x[:, 0]), -3),
        np.maximum(1, np.round(6 * np.exp(0.6 * x[:, 1]))),
        np.clip(np.round(3 + 1.5 * x[:, 2]), 0, 10),
    )
    return {
        field[0]: pd.array(np.where(answered, val, np.nan), dtype="Int64")
        for field, val in zip(PROFILE_FIELDS, values, strict=True)
    }


def _lead_field_rows(leads: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
    """Answered profile questions as ``lead_fields`` rows, recorded when the lead arrived.

    Parameters
    ----------
    leads : pandas.DataFrame
        ``lead_id`` and ``created_at``, row-aligned with ``answers``.
    answers : pandas.DataFrame
        One nullable integer column per :data:`PROFILE_FIELDS` field.

    Returns
    -------
    pandas.DataFrame
        ``lead_id``, ``field``, ``value`` (integer as text), ``recorded_at``
        (= the lead's ``created_at``: the answers come with the request), one
        row per lead and answered field, by lead then field order; an
        unanswered question has no row.
    """
    fields = [f[0] for f in PROFILE_FIELDS]
    values = answers[fields].to_numpy(dtype="float64", na_value=np.nan)
    lead_idx, field_idx = np.nonzero(~np.isnan(values))
    return pd.DataFrame(
        {
            "lead_id": leads["lead_id"].to_numpy()[lead_idx],
            "field": np.asarray(fields, dtype=object)[field_idx],
            "value": values[lead_idx, field_idx].astype(np.int64).astype(str).astype(object),
            "recorded_at": leads["created_at"].to_numpy()[lead_idx],
        }
    )


def profile_answers(data: DemoData) -> pd.DataFrame:
    """The lead form's profile answers, one row per lead (``lead_id`` index), wide.

    Columns are the :data:`PROFILE_FIELDS` names as nullable integers (``<NA>``
    when unanswered), pivoted from ``data.tables["lead_fields"]``; every lead
    of ``data.tables["leads"]`` has a row.
    """
    fields = [f[0] for f in PROFILE_FIELDS]
    rows = data.tables["lead_fields"]
    wide = rows.pivot(index="lead_id", columns="field", values="value").reindex(columns=fields)
    wide = wide.reindex(pd.Index(data.tables["leads"]["lead_id"], name="lead_id"))
    return wide.apply(lambda col: pd.to_numeric(col).astype("Int64"))


def _ts(start: date, t_days: np.ndarray) -> pd.DatetimeIndex:
    """Fractional days since ``start`` -> timestamps rounded to the second."""
    seconds = np.round(np.asarray(t_days, dtype=float) * 86400.0).astype("timedelta64[s]")
    return pd.DatetimeIndex(np.datetime64(start, "s") + seconds)


def _ids(prefix: str, numbers: np.ndarray) -> pd.Series:
    """Text ids such as ``v123`` built column-wise in Arrow (fast for 10M rows)."""
    digits = pc.cast(pa.array(numbers, type=pa.int64()), pa.large_string())
    prefix_, empty = pa.scalar(prefix, pa.large_string()), pa.scalar("", pa.large_string())
    return _text_series(pc.binary_join_element_wise(prefix_, digits, empty))


def _text(codes: np.ndarray, labels: Iterable[str], missing: np.ndarray | None = None) -> pd.Series:
    """Text column ``labels[codes]`` (NaN where ``missing``) built in Arrow.

    Equal to ``pd.Series(np.array(labels, dtype=object)[codes])`` with ``None``
    where ``missing``, without one Python string per row.
    """
    dictionary = pa.array(list(labels), type=pa.large_string())
    index = pa.array(np.asarray(codes), mask=missing)
    return _text_series(pc.take(dictionary, index))


def _text_series(array: pa.Array) -> pd.Series:
    """Arrow text as a Series of the dtype pandas infers for Python strings.

    pandas 3 (or ``future.infer_string``) infers ``str`` backed by Arrow: the
    buffers are wrapped without a copy. Older pandas infers ``object``: the
    Python strings are made then, with ``None`` for nulls.
    """
    dtype = pd.Series(["text"]).dtype
    if pd.api.types.is_object_dtype(dtype):
        return pd.Series(array.to_numpy(zero_copy_only=False), dtype=object)
    return pd.Series(pd.array(array, dtype=dtype))


def _codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes and labels of a categorical column of :attr:`World.visits`."""
    return column.cat.codes.to_numpy(), list(column.cat.categories)


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """Russian mobile numbers in the formats people type them in."""
    digits = rng.integers(0, 10_000_000, n)
    codes = rng.integers(900, 1000, n)
    style = rng.integers(0, 3, n)
    out = np.empty(n, dtype=object)
    for i in range(n):
        d = f"{digits[i]:07d}"
        c = codes[i]
        if style[i] == 0:
            out[i] = f"+7 {c} {d[:3]}-{d[3:5]}-{d[5:]}"
        elif style[i] == 1:
            out[i] = f"8({c}){d}"
        else:
            out[i] = f"7{c}{d}"
    return out


def _emails(rng: np.random.Generator, ids: np.ndarray) -> np.ndarray:
    domains = np.array(["mail.ru", "yandex.ru", "gmail.com", "company.ru", "bk.ru"])
    dom = domains[rng.integers(0, len(domains), len(ids))]
    upper = rng.random(len(ids)) < 0.2
    return np.array(
        [f"{'Client' if u else 'client'}{i}@{d}" for i, d, u in zip(ids, dom, upper, strict=True)],
        dtype=object,
    )


@dataclass
class DemoData:
    """Raw demo tables (canonical shapes, PII in clear) and ground truth."""

    config: SynthConfig
    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]

    def summary(self) -> dict[str, int]:
        return {name: len(df) for name, df in self.tables.items()}


def generate(config: SynthConfig | None = None, **overrides) -> DemoData:
    """Generate the demo company: raw tables plus ground truth.

    Parameters
    ----------
    config : SynthConfig, optional
        Defaults to ``SynthConfig()``; keyword overrides (``size="tiny"``,
        ``seed=7``...) replace its fields.

    Returns
    -------
    DemoData
        ``tables`` has ``spend``, ``visits``, ``leads``, ``lead_fields`` (the
        lead form's profile answers, see :func:`profile_answers`), ``deals`` and
        ``deal_stages`` in the canonical shapes of :mod:`analytics.warehouse.schema`
        (phones and e-mails in clear: they are hashed by the loader);
        ``truth`` has ``channel_effects``, ``lead_truth`` (with the latent
        profile ``profile_1..3`` and ``profile_closeness``), ``defects``,
        ``creative_test``, ``anomalies`` (injected in the last complete week)
        and ``customer_profile`` (the good profile and its lead-form fields).
    """
    config = SynthConfig(**{**asdict(config or SynthConfig()), **overrides})
    world = build_world(config)
    out = simulate_outcomes(world)
    # ground truth by re-simulation (no random draws) first, so that the
    # visitor x channel matrices of the world are freed before the tables
    effects = channel_effects(world, out)
    creative_test = creative_truth(world)
    rng = np.random.default_rng([config.seed, 1])  # measurement draws, separate stream
    v = world.visitors
    vis = world.visits
    del world

    # --- visits table: text columns built in Arrow from the world's codes ----
    vch = vis["channel"].to_numpy()
    paid = np.array([c.paid for c in CHANNELS])[vch]
    direct = vch == CHANNEL_NAMES.index("direct")
    mediums = [c.medium for c in CHANNELS]
    visits = pd.DataFrame(
        {
            "visit_id": _ids("v", np.arange(len(vis))),
            "visitor_id": _ids("c", vis["visitor"].to_numpy()),
            "visit_start": _ts(config.start, vis["t_days"].to_numpy()),
            "channel": _text(vch, CHANNEL_NAMES),
            "utm_source": _text(*_codes(vis["source"]), missing=direct),
            "utm_medium": _text(vch, mediums, missing=direct),
            "utm_campaign": _text(*_codes(vis["campaign"]), missing=~paid),
            "utm_content": _text(*_codes(vis["creative"]), missing=~paid),
            "utm_term": _text(*_codes(vis["ad_group"]), missing=~paid),
            "landing_page": _text(*_codes(vis["landing"])),
            "pageviews": vis["pageviews"].to_numpy(),
            "duration_s": vis["duration_s"].to_numpy(),
            "goal_pricing": vis["goal_pricing"].to_numpy(),
            "device": _text(*_codes(vis["device"])),
        }
    )

    # --- leads: one per converting visitor, at its last visit ---------------
    # visits are sorted by visitor, so a visitor's last visit is where the
    # visitor number changes (same rows as groupby("visitor").tail(1))
    visitor = vis["visitor"].to_numpy()
    last = np.flatnonzero(np.r_[visitor[1:] != visitor[:-1], True])
    lv = last[out["lead"].to_numpy()[visitor[last]]]
    who = visitor[lv]
    n_leads = len(who)
    created_days = vis["t_days"].to_numpy()[lv] + rng.uniform(1, 20, n_leads) / 1440.0
    created_days = np.minimum(created_days, config.days - 1e-4)
    ltype = np.array(["form", "call", "chat"], dtype=object)[v["lead_type"].to_numpy()[who]]
    phones = _phones(rng, n_leads)
    emails = _emails(rng, who)
    is_call = ltype == "call"
    call_lost = is_call & (rng.random(n_leads) < 0.12)
    call_dur = np.where(is_call, np.where(call_lost, 0, rng.lognormal(5.0, 0.6, n_leads)), np.nan)
    no_session = is_call & (rng.random(n_leads) < config.call_without_session_rate)
    lead_visit = visits.iloc[lv]
    keep_utm = ~no_session

    def utm(col: str) -> np.ndarray:
        return np.where(keep_utm, lead_visit[col].to_numpy(), None)

    region = np.array([r[0] for r in REGIONS], dtype=object)[v["region"].to_numpy()[who]]
    industry = np.array([i[0] for i in INDUSTRIES], dtype=object)[v["industry"].to_numpy()[who]]
    size_band = np.array([s[0] for s in SIZES_BANDS], dtype=object)[v["size_band"].to_numpy()[who]]
    lead_ids = np.array([f"L{i + 1:07d}" for i in range(n_leads)], dtype=object)
    leads = pd.DataFrame(
        {
            "lead_id": lead_ids,
            "created_at": _ts(config.start, created_days),
            "lead_type": ltype,
            "visitor_id": np.where(no_session, None, lead_visit["visitor_id"].to_numpy()),
            "visit_id": np.where(no_session, None, lead_visit["visit_id"].to_numpy()),
            "phone": np.where(v["has_phone"].to_numpy()[who], phones, None),
            "email": np.where(v["has_email"].to_numpy()[who], emails, None),
            "utm_source": utm("utm_source"),
            "utm_medium": utm("utm_medium"),
            "utm_campaign": utm("utm_campaign"),
            "utm_content": utm("utm_content"),
            "utm_term": utm("utm_term"),
            "call_duration_s": pd.array(
                np.where(np.isnan(call_dur), 0, call_dur).astype(np.int64), dtype="Int64"
            ),
            "call_lost": pd.array(np.where(is_call, call_lost, False), dtype="boolean"),
            "region": region,
            "industry": industry,
            "company_size": size_band,
        }
    )
    leads.loc[~is_call, ["call_duration_s", "call_lost"]] = pd.NA
    answers = pd.DataFrame(_profile_answers(config, v, who, ltype))

    # --- CRM deals and stage history --------------------------------------
    in_crm = rng.random(n_leads) >= config.missing_in_crm_rate
    o = out.iloc[who].reset_index(drop=True)
    o_mql, o_sql, o_won = (o[k].to_numpy() for k in ("mql", "sql", "won"))
    deal_rows, stage_rows = [], []
    gaps = rng.uniform(0.2, 1.0, (n_leads, 5)) * np.array([1.5, 5.0, 7.0, 10.0, 20.0])
    lost_utm = rng.random(n_leads) < config.lost_utm_rate
    tracked_paid = keep_utm & pd.notna(leads["utm_campaign"]).to_numpy()
    lost_utm &= tracked_paid
    loss_pick = rng.random(n_leads)
    managers = np.array([m[0] for m in MANAGERS], dtype=object)[v["manager"].to_numpy()[who]]
    amounts = v["amount"].to_numpy()[who]
    end = float(config.days)
    for i in np.flatnonzero(in_crm):
        t0 = created_days[i] + 5 / 1440.0
        reached = ["new"]
        if o_mql[i]:
            reached.append("mql")
        if o_sql[i]:
            reached += ["sql", "demo"]
            if o_won[i] or loss_pick[i] < 0.55:
                reached.append("proposal")
        final = "won" if o_won[i] else "lost"
        times = t0 + np.concatenate([[0.0], np.cumsum(gaps[i, : len(reached)])])
        status, stage, closed = "open", reached[-1], None
        for st, t in zip(reached, times[: len(reached)], strict=True):
            if t < end:
                stage_rows.append((i, st, t))
                stage = st
        if times[len(reached)] < end:
            stage_rows.append((i, final, times[len(reached)]))
            status, stage, closed = final, final, times[len(reached)]
        if status == "lost":
            if not o_mql[i]:
                reason = LOSS_NON_TARGET
            elif not o_sql[i]:
                reason = LOSS_REASONS_UNQUALIFIED[int(loss_pick[i] * 2)]
            else:
                reason = LOSS_REASONS_QUALIFIED[int(loss_pick[i] * 4)]
        else:
            reason = None
        deal_rows.append(
            (i, status, stage, closed, reason, amounts[i] if status != "lost" else None)
        )
    d = pd.DataFrame(deal_rows, columns=["i", "status", "stage", "closed", "reason", "amount"])
    di = d["i"].to_numpy()
    deal_utm = {
        col: np.where(lost_utm[di], None, leads[col].to_numpy()[di])
        for col in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
    }
    deal_ids = np.array([f"{9_000_000 + k}" for k in range(len(d))], dtype=object)
    closed_days = d["closed"].to_numpy(dtype=float)
    deals = pd.DataFrame(
        {
            "deal_id": deal_ids,
            "lead_id": lead_ids[di],
            "created_at": _ts(config.start, created_days[di] + 5 / 1440.0),
            "closed_at": _ts(config.start, np.nan_to_num(closed_days, nan=0.0)),
            "status": d["status"].to_numpy(),
            "status_id": pd.array(
                np.select([d["status"] == "won", d["status"] == "lost"], [142, 143], 0),
                dtype="Int64",
            ),
            "stage": d["stage"].to_numpy(),
            "loss_reason": d["reason"].to_numpy(),
            "amount": d["amount"].to_numpy(dtype=float),
            "manager": managers[di],
            **deal_utm,
            "region": region[di],
            "industry": industry[di],
            "company_size": size_band[di],
        }
    )
    deals.loc[np.isnan(closed_days), "closed_at"] = pd.NaT
    deals.loc[deals["status"] == "open", "status_id"] = pd.NA
    deal_of = dict(zip(di, deal_ids, strict=True))
    st = pd.DataFrame(stage_rows, columns=["i", "stage", "t"])
    deal_stages = pd.DataFrame(
        {
            "deal_id": [deal_of[i] for i in st["i"]],
            "stage": st["stage"].to_numpy(),
            "entered_at": _ts(config.start, st["t"].to_numpy()),
        }
    )

    # --- duplicate leads: the same person asks again within two days ------
    has_contact = leads["phone"].notna().to_numpy() | leads["email"].notna().to_numpy()
    is_dup_src = (rng.random(n_leads) < config.duplicate_rate) & has_contact
    src_idx = np.flatnonzero(is_dup_src)
    dups = leads.iloc[src_idx].copy()
    dup_days = np.minimum(created_days[src_idx] + rng.uniform(0.01, 2.0, len(src_idx)), end - 1e-4)
    dups["created_at"] = _ts(config.start, dup_days)
    dups["lead_id"] = [f"L{n_leads + k + 1:07d}" for k in range(len(src_idx))]
    all_leads = pd.concat([leads, dups], ignore_index=True)
    # a duplicate request fills the form again with the same answers
    lead_fields = _lead_field_rows(
        all_leads[["lead_id", "created_at"]],
        pd.concat([answers, answers.iloc[src_idx]], ignore_index=True),
    )

    # --- spend: clicks and cost of the paid visits ---------------------------
    # Paid visits are counted per day and ad on integer codes (one np.unique),
    # then the few distinct rows get their labels and are grouped by the text
    # keys: the same rows, order and counts as grouping the paid visits by
    # day, channel, source, medium, campaign, ad group and creative.
    ad_parts = [
        (vch, list(CHANNEL_NAMES)),
        _codes(vis["source"]),
        _codes(vis["campaign"]),
        _codes(vis["ad_group"]),
        _codes(vis["creative"]),
    ]
    ad_key = visits["visit_start"].to_numpy()[paid].astype("datetime64[D]").astype(np.int64)
    for codes, labels in ad_parts:
        ad_key = ad_key * len(labels) + codes[paid]
    ad_key, ad_visits = np.unique(ad_key, return_counts=True)
    ad_codes = []
    for _, labels in reversed(ad_parts):
        ad_key, code = np.divmod(ad_key, len(labels))
        ad_codes.insert(0, code)
    ch_code, src_code, camp_code, grp_code, cr_code = ad_codes
    ad_days = pd.DataFrame(
        {
            "date": ad_key.astype("datetime64[D]").astype("datetime64[s]"),
            "channel": _text(ch_code, CHANNEL_NAMES),
            "utm_source": _text(src_code, ad_parts[1][1]),
            "utm_medium": _text(ch_code, mediums),
            "utm_campaign": _text(camp_code, ad_parts[2][1]),
            "utm_term": _text(grp_code, ad_parts[3][1]),
            "utm_content": _text(cr_code, ad_parts[4][1]),
            "visits": ad_visits,
        }
    )
    daily = (
        ad_days.groupby(
            [
                "date",
                "channel",
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "utm_term",
                "utm_content",
            ],
            observed=True,
        )["visits"]
        .sum()
        .reset_index()
    )
    ch_idx = daily["channel"].map({c.name: k for k, c in enumerate(CHANNELS)}).to_numpy()
    cpc = np.array([c.cpc for c in CHANNELS])[ch_idx]
    ctr = np.array([c.ctr for c in CHANNELS])[ch_idx]
    clicks = daily["visits"].to_numpy() + rng.poisson(0.15 * daily["visits"].to_numpy())
    impressions = np.maximum(clicks, np.round(clicks / (ctr * rng.lognormal(0, 0.2, len(daily)))))
    cost = np.round(clicks * cpc * rng.lognormal(0, 0.15, len(daily)), 2)
    anomalies = _inject_cost_anomaly(config, daily, cost)
    spend = pd.DataFrame(
        {
            "date": daily["date"].dt.date,
            "channel": daily["channel"],
            "utm_source": daily["utm_source"],
            "utm_medium": daily["utm_medium"],
            "campaign": daily["utm_campaign"],
            "ad_group": daily["utm_term"],
            "creative": daily["utm_content"],
            "impressions": impressions.astype(np.int64),
            "clicks": clicks.astype(np.int64),
            "cost": cost,
        }
    )

    # --- ground truth ---------------------------------------------------------
    p_sql_true = (o["p_mql"] * o["p_sql_given_mql"]).to_numpy()
    lead_truth = pd.DataFrame(
        {
            "lead_id": all_leads["lead_id"].to_numpy(),
            "visitor_id": [f"c{w}" for w in np.concatenate([who, who[src_idx]])],
            "p_sql": np.concatenate([p_sql_true, p_sql_true[src_idx]]),
            "is_mql": np.concatenate([o["mql"], o["mql"].to_numpy()[src_idx]]),
            "is_sql": np.concatenate([o["sql"], o["sql"].to_numpy()[src_idx]]),
            "is_won": np.concatenate([o["won"], o["won"].to_numpy()[src_idx]]),
            "icp_fit": np.concatenate(
                [v["fit"].to_numpy()[who], v["fit"].to_numpy()[who][src_idx]]
            ),
            **{
                col: np.concatenate([v[col].to_numpy()[who], v[col].to_numpy()[who][src_idx]])
                for col in [
                    *(f"profile_{k + 1}" for k in range(len(GOOD_PROFILE))),
                    "profile_closeness",
                ]
            },
            "is_duplicate": np.r_[np.zeros(n_leads, bool), np.ones(len(src_idx), bool)],
            "duplicate_of": np.r_[np.full(n_leads, None, object), lead_ids[src_idx]],
            "in_crm": np.r_[in_crm, np.zeros(len(src_idx), bool)],
            "lost_utm": np.r_[lost_utm & in_crm, np.zeros(len(src_idx), bool)],
            "call_without_session": np.r_[no_session, no_session[src_idx]],
        }
    )
    defects = pd.DataFrame(
        [
            (
                "lost_utm",
                "CRM deals of leads with a tracked paid campaign",
                int((tracked_paid & in_crm).sum()),
                int((lost_utm & in_crm).sum()),
                config.lost_utm_rate,
            ),
            (
                "missing_in_crm",
                "original leads",
                n_leads,
                int((~in_crm).sum()),
                config.missing_in_crm_rate,
            ),
            (
                "duplicate_lead",
                "original leads with a phone or e-mail",
                int(has_contact.sum()),
                len(src_idx),
                config.duplicate_rate,
            ),
            (
                "call_without_session",
                "original call leads",
                int(is_call.sum()),
                int(no_session.sum()),
                config.call_without_session_rate,
            ),
        ],
        columns=["defect", "base", "base_count", "injected_count", "configured_rate"],
    )
    defects["realized_rate"] = defects["injected_count"] / defects["base_count"].clip(lower=1)
    truth = {
        "channel_effects": effects,
        "lead_truth": lead_truth,
        "defects": defects,
        "creative_test": creative_test,
        "anomalies": anomalies,
        "customer_profile": customer_profile_truth(),
    }
    tables = {
        "spend": spend,
        "visits": visits,
        "leads": all_leads,
        "lead_fields": lead_fields,
        "deals": deals,
        "deal_stages": deal_stages,
    }
    return DemoData(config, tables, truth)


def write_raw(data: DemoData, out_dir: str | Path, fmt: str = "parquet") -> Path:
    """Write the demo tables as raw files the loader reads, truth in ``truth/``.

    Parameters
    ----------
    fmt : {"parquet", "csv"}
        File format of the canonical tables (truth is always Parquet).
    """
    out = Path(out_dir)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    for name, df in data.tables.items():
        if fmt == "parquet":
            df.to_parquet(out / f"{name}.parquet", index=False)
        elif fmt == "csv":
            df.to_csv(out / f"{name}.csv", index=False)
        else:
            raise ValueError(f"unknown format {fmt!r}: use parquet or csv")
    for name, df in data.truth.items():
        df.to_parquet(out / "truth" / f"{name}.parquet", index=False)
    meta = {
        "config": {k: str(val) for k, val in asdict(data.config).items()},
        "rows": data.summary(),
        "format": fmt,
    }
    (out / "synth.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False))
    return out
