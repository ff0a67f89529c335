"""Tests for analytics.transforms: Ibis expressions on DuckDB against pandas, and Spark parity.

Unit tests run every transform on the tiny demo warehouse through DuckDB and
compare it with an independent pandas computation from the raw tables. The
parity test (marker ``spark``) runs the same expressions on PySpark local mode
and asserts the same rows; it is skipped when pyspark or Java is missing, except
in CI (``CI=true``, set by ``.ci/run``), where a parity test that cannot run fails.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pytest
import sql_oracle
from funnel_fixture import fill
from spark_session import spark_unavailable

from analytics import transforms
from analytics.metrics.definitions import DEFAULT_DEFINITIONS, Definitions, load_definitions
from analytics.transforms import backends, lead_history
from analytics.transforms.cohort_events import first_visit_rows

START, STOP = date(2025, 3, 3), date(2025, 9, 1)
"""Days of the unit tests: 26 ISO weeks of the tiny demo year."""

YEAR = (date(2025, 1, 1), date(2026, 1, 1))
"""Days of the touch-path tests: the whole demo year, so some leads have no visitor."""

LOOKBACK_DAYS = 30
MQL, SQL, WON = (transforms.STAGE_ORDER.index(s) for s in ("mql", "sql", "won"))

pytestmark = pytest.mark.filterwarnings(
    # PySpark 4.3 with pandas 3: works for these transforms, warns on every conversion
    "ignore:PySpark does not yet fully support pandas:FutureWarning",
    "ignore:The copy keyword is deprecated::pyspark\\.",
)


@pytest.fixture(scope="module")
def duck(tiny_warehouse):
    backend = transforms.connect_backend(f"duckdb://{tiny_warehouse}")
    yield backend
    backend.disconnect()


@pytest.fixture(scope="module")
def raw(duck) -> dict[str, pd.DataFrame]:
    """The canonical tables as pandas frames (plain ``SELECT *``)."""
    return {name: duck.table(name).execute() for name in transforms.CANONICAL_TABLES}


def midnight(day: date) -> pd.Timestamp:
    return pd.Timestamp(day)


def monday(moments: pd.Series) -> pd.Series:
    days = pd.to_datetime(moments).dt.normalize()
    return days - pd.to_timedelta(days.dt.day_of_week, unit="D")


def normalised(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows sorted by ``keys``; dtypes made comparable across backends and pandas."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if pd.api.types.is_datetime64_any_dtype(values):
            out[col] = values.astype("datetime64[us]")
        elif pd.api.types.is_bool_dtype(values):
            out[col] = values.astype(bool)
        elif pd.api.types.is_integer_dtype(values):
            out[col] = values.astype("int64")
        elif pd.api.types.is_float_dtype(values):
            out[col] = values.astype("float64")
        else:
            out[col] = [tuple(v) if isinstance(v, (list, tuple, np.ndarray)) else v for v in values]
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out.sort_values(keys, ignore_index=True)


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    assert list(actual.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(
        normalised(actual, keys),
        normalised(expected[list(actual.columns)], keys),
        check_exact=False,
        rtol=1e-12,
        atol=1e-9,
    )


# --------------------------------------------------------------------------- pandas references


def pandas_stitched_leads(raw) -> pd.DataFrame:
    visits = raw["visits"].sort_values("visit_start")
    visit = visits.groupby("visit_id").agg(
        visit_channel=("channel", "first"), visit_visitor=("visitor_id", "first")
    )
    leads = raw["leads"].join(visit, on="visit_id")
    return pd.DataFrame(
        {
            "lead_id": leads["lead_id"],
            "created_at": leads["created_at"],
            "lead_type": leads["lead_type"],
            "visit_id": leads["visit_id"],
            "visitor_id": leads["visitor_id"].fillna(leads["visit_visitor"]),
            "channel": leads["visit_channel"].fillna("undetermined"),
        }
    )


def pandas_deal_facts(raw) -> pd.DataFrame:
    rank = {stage: i for i, stage in enumerate(transforms.STAGE_ORDER)}
    stages = pd.concat(
        [raw["deal_stages"][["deal_id", "stage"]], raw["deals"][["deal_id", "stage"]]]
    )
    stages["rank"] = stages["stage"].map(rank)
    reached = stages.dropna(subset=["rank"]).groupby("deal_id")["rank"].max()
    deals = raw["deals"][raw["deals"]["lead_id"].notna()]
    return pd.DataFrame(
        {
            "deal_id": deals["deal_id"],
            "lead_id": deals["lead_id"],
            "amount": deals["amount"].fillna(0.0),
            "reached": deals["deal_id"].map(reached).fillna(-1).astype("int64"),
        }
    )


def pandas_funnel_counts(raw, start: date, stop: date, by: str) -> pd.DataFrame:
    def key(frame: pd.DataFrame, channel: str, moment: str) -> pd.Series:
        if by == "total":
            return pd.Series("total", index=frame.index)
        if by == "channel":
            return frame[channel]
        return monday(frame[moment])

    leads = pandas_stitched_leads(raw)
    leads = leads[(leads["created_at"] >= midnight(start)) & (leads["created_at"] < midnight(stop))]
    cohort = leads.merge(
        pandas_deal_facts(raw).rename(columns={"lead_id": "lid"}),
        left_on="lead_id",
        right_on="lid",
        how="left",
    )
    cohort["grp"] = key(cohort, "channel", "created_at")
    lead_side = cohort.groupby("grp").apply(
        lambda g: pd.Series(
            {
                "leads": g["lead_id"].nunique(),
                "leads_form": g.loc[g["lead_type"] == "form", "lead_id"].nunique(),
                "leads_call": g.loc[g["lead_type"] == "call", "lead_id"].nunique(),
                "leads_chat": g.loc[g["lead_type"] == "chat", "lead_id"].nunique(),
                "mql": g.loc[g["reached"] >= MQL, "deal_id"].nunique(),
                "sql_leads": g.loc[g["reached"] >= SQL, "deal_id"].nunique(),
                "sales": g.loc[g["reached"] >= WON, "deal_id"].nunique(),
                "revenue": g.loc[g["reached"] >= WON, "amount"].sum(),
            }
        ),
        include_groups=False,
    )
    visits = raw["visits"]
    visits = visits[
        (visits["visit_start"] >= midnight(start)) & (visits["visit_start"] < midnight(stop))
    ]
    visit_side = visits.groupby(key(visits, "channel", "visit_start")).agg(
        visits=("visit_id", "size"), visitors=("visitor_id", "nunique")
    )
    spend = raw["spend"]
    days = pd.to_datetime(spend["date"])
    spend = spend[(days >= midnight(start)) & (days < midnight(stop))]
    spend_side = spend.groupby(key(spend, "channel", "date")).agg(spend=("cost", "sum"))
    out = pd.concat([spend_side, visit_side, lead_side], axis=1).fillna(0)
    out.index.name = "grp"
    for col in transforms.FUNNEL_COUNT_COLUMNS[1:-1]:
        out[col] = out[col].astype("int64")
    return out.reset_index()[["grp", *transforms.FUNNEL_COUNT_COLUMNS]]


# --------------------------------------------------------------------------- DuckDB unit tests


def test_stitched_leads_match_pandas(duck, raw):
    actual = duck.execute(transforms.stitched_leads(duck))
    expected = pandas_stitched_leads(raw)
    assert_same(actual, expected, ["lead_id"])
    # the demo injects calls without a session: they must be undetermined
    no_visit = ~actual["visit_id"].isin(raw["visits"]["visit_id"])
    assert no_visit.any()
    assert (actual.loc[no_visit, "channel"] == transforms.UNDETERMINED).all()


def test_stitching_by_hand():
    # funnel_fixture: L4 has no visit, L6 a visit id missing from visits (visitor z kept),
    # L2 (visitor b) came through v3 (paid_search).
    con = duckdb.connect()
    fill(con)
    with transforms.duckdb_backend(con) as backend:
        leads = backend.execute(transforms.stitched_leads(backend)).set_index("lead_id")
    assert leads.loc["L2", "channel"] == "paid_search"
    assert leads.loc["L4", "channel"] == "undetermined"
    assert pd.isna(leads.loc["L4", "visitor_id"])
    assert (leads.loc["L6", "channel"], leads.loc["L6", "visitor_id"]) == ("undetermined", "z")


def test_deal_facts_match_pandas(duck, raw):
    actual = duck.execute(transforms.deal_facts(duck))
    assert_same(actual, pandas_deal_facts(raw), ["deal_id"])
    assert set(actual["reached"]) <= set(range(-1, len(transforms.STAGE_ORDER)))


@pytest.mark.parametrize("by", transforms.GROUPINGS)
def test_funnel_counts_match_pandas(duck, raw, by):
    actual = duck.execute(transforms.funnel_counts(duck, START, STOP, by))
    expected = pandas_funnel_counts(raw, START, STOP, by)
    if by == "week":
        assert actual["grp"].min() == pd.Timestamp(START)  # START is a Monday
        assert (pd.to_datetime(actual["grp"]).dt.day_of_week == 0).all()
    assert actual["leads"].sum() > 0 and actual["sales"].sum() > 0
    assert_same(actual, expected, ["grp"])
    assert actual["grp"].tolist() == sorted(actual["grp"])


def test_funnel_counts_rejects_unknown_grouping(duck):
    with pytest.raises(ValueError, match="by must be"):
        transforms.funnel_counts(duck, START, STOP, "month")


def test_touch_paths_match_pandas(duck, raw):
    actual = duck.execute(transforms.touch_paths(duck, *YEAR, LOOKBACK_DAYS))

    leads = pandas_stitched_leads(raw)
    leads = leads[
        (leads["created_at"] >= midnight(YEAR[0])) & (leads["created_at"] < midnight(YEAR[1]))
    ]
    # every (lead, visit of its visitor) pair, kept when the visit is in the lead's window,
    # oldest first (ties by visit_id); a lead without a known visitor pairs with nothing
    pairs = leads.dropna(subset=["visitor_id"])[["lead_id", "visitor_id", "created_at"]].merge(
        raw["visits"][["visitor_id", "visit_start", "visit_id", "channel"]], on="visitor_id"
    )
    pairs = pairs[
        (pairs["visit_start"] >= pairs["created_at"] - timedelta(days=LOOKBACK_DAYS))
        & (pairs["visit_start"] <= pairs["created_at"])
    ].sort_values(["lead_id", "visit_start", "visit_id"])
    by_lead = pairs.groupby("lead_id")["channel"].agg(tuple)
    paths = [by_lead.get(lead_id, ()) for lead_id in leads["lead_id"]]
    expected = leads[["lead_id", "created_at", "channel"]].assign(
        path=paths, touches=[len(p) for p in paths]
    )
    assert_same(actual, expected, ["lead_id"])
    assert (actual["touches"] >= 2).any()  # some multi-touch paths, so order is tested
    assert (actual["touches"] == 0).any()  # and leads without a known visitor


def test_touch_paths_are_ordered_by_hand():
    # funnel_fixture + two earlier visits of visitor a inserted out of order, two of them
    # at the same second (ties go by visit_id): L1's path is oldest first.
    con = duckdb.connect()
    fill(con)
    for visit_id, start, channel in [
        ("vb", "2025-06-01 08:00:00", "organic"),
        ("va", "2025-06-01 08:00:00", "email"),
        ("vz", "2025-05-30 10:00:00", "paid_social"),
        ("vold", "2025-04-01 10:00:00", "direct"),  # outside the 30-day lookback
    ]:
        con.execute(
            "INSERT INTO visits (visit_id, visitor_id, visit_start, channel, pageviews,"
            " duration_s, goal_pricing) VALUES (?, 'a', ?::TIMESTAMP, ?, 1, 1, false)",
            [visit_id, start, channel],
        )
    with transforms.duckdb_backend(con) as backend:
        expr = transforms.touch_paths(backend, date(2025, 6, 2), date(2025, 6, 9), 30)
        paths = backend.execute(expr).set_index("lead_id")
    assert list(paths.loc["L1", "path"]) == ["paid_social", "email", "organic", "paid_search"]
    assert list(paths.loc["L4", "path"]) == [] and paths.loc["L4", "touches"] == 0
    assert paths.loc["L6", "touches"] == 0  # its visit is missing; visitor z never visited


def test_first_visit_cohorts_break_ties_by_visit_id_by_hand():
    # Visitor t: two visits at the same first second, 'v20' (email) and 'v100' (organic);
    # 'v100' < 'v20' as text, so the first visit is v100 and the first channel organic,
    # whatever the insertion order. Visitor u: first seen before the period (its later
    # visit in the period does not make it a cohort visitor). Visitor w: one visit.
    con = duckdb.connect()
    fill(con)
    con.execute("DELETE FROM visits")
    for visit_id, visitor_id, start, channel in [
        ("v20", "t", "2025-06-03 09:00:00", "email"),
        ("v100", "t", "2025-06-03 09:00:00", "organic"),
        ("v7", "t", "2025-06-04 09:00:00", "paid_search"),
        ("v8", "u", "2025-05-20 09:00:00", "direct"),
        ("v9", "u", "2025-06-05 09:00:00", "paid_social"),
        ("v10", "w", "2025-06-08 23:00:00", "paid_social"),
    ]:
        con.execute(
            "INSERT INTO visits (visit_id, visitor_id, visit_start, channel, pageviews,"
            " duration_s, goal_pricing) VALUES (?, ?, ?::TIMESTAMP, ?, 1, 1, false)",
            [visit_id, visitor_id, start, channel],
        )
    with transforms.duckdb_backend(con) as backend:
        expr = transforms.first_visit_cohorts(backend, date(2025, 6, 2), date(2025, 6, 9))
        first = backend.execute(expr).set_index("visitor_id").sort_index()
    assert list(first.index) == ["t", "w"]
    assert list(first["first_channel"]) == ["organic", "paid_social"]
    assert [pd.Timestamp(c).date() for c in first["cohort"]] == [date(2025, 6, 2)] * 2


def _stage_events(backend, events_of, *args) -> pd.DataFrame:
    frame = backend.execute(events_of(backend, *args))
    return frame.sort_values(["cohort", "first_channel", "age"], ignore_index=True)


def test_cohort_stage_events_equal_the_old_query_by_hand():
    """``cohort_stage_events`` with the leads' visitor from ``stitched_visitors`` equals
    the frozen version on ``stitched_leads`` (``sql_oracle.old_cohort_stage_events``) on
    the hand warehouse plus leads that take their visitor in the three ways: L8 has no
    visitor and visit v4 (visitor c, first seen Thu 06-05 through paid_social): it is
    c's lead, so the W23 paid_social cohort has 2 leads at age 0 (L3, L8), and its won
    deal D8 (100 RUB) one sale; L9 has neither; L10 has its own visitor e (v6's visitor
    is e too) and L11 own visitor d with the visit v4 of c: d's lead (own visitor wins),
    so the W23 organic cohort (d, e) has 3 leads at age 0 (L5, L10, L11; L6 is z's)."""
    con = duckdb.connect()
    fill(con)
    for lead_id, created, visitor_id, visit_id in [
        ("L8", "2025-06-05 12:30:00", None, "v4"),
        ("L9", "2025-06-05 12:40:00", None, None),
        ("L10", "2025-06-08 23:40:00", "e", "v6"),
        ("L11", "2025-06-07 10:00:00", "d", "v4"),
    ]:
        con.execute(
            "INSERT INTO leads (lead_id, created_at, lead_type, visitor_id, visit_id)"
            " VALUES (?, ?::TIMESTAMP, 'form', ?, ?)",
            [lead_id, created, visitor_id, visit_id],
        )
    con.execute(
        "INSERT INTO deals (deal_id, lead_id, created_at, status, stage, amount, closed_at)"
        " VALUES ('D8', 'L8', '2025-06-06 10:00:00', 'won', 'won', 100.0,"
        " '2025-06-06 11:00:00')"
    )
    start, stop, as_of_stop = date(2025, 6, 2), date(2025, 6, 9), date(2025, 6, 16)
    with transforms.duckdb_backend(con) as backend:
        for grain in transforms.GRAINS:
            args = (start, stop, as_of_stop, grain)
            new = _stage_events(backend, transforms.cohort_stage_events, *args)
            old = _stage_events(backend, sql_oracle.old_cohort_stage_events, *args)
            pd.testing.assert_frame_equal(new, old, check_exact=True)
        weekly = _stage_events(backend, transforms.cohort_stage_events, start, stop, as_of_stop)
    at_zero = weekly[weekly["age"] == 0].set_index("first_channel")
    assert at_zero.loc["paid_social", ["leads", "sales"]].tolist() == [2, 1]
    assert at_zero.loc["paid_social", "revenue"] == 100.0
    assert at_zero.loc["organic", "leads"] == 3


@pytest.mark.parametrize("grain", ["week", "month"])
def test_cohort_stage_events_equal_the_old_query_on_the_demo(duck, grain):
    args = (START, STOP, STOP + timedelta(days=60), grain)
    new = _stage_events(duck, transforms.cohort_stage_events, *args)
    old = _stage_events(duck, sql_oracle.old_cohort_stage_events, *args)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    assert new["leads"].sum() > 20
    picked = first_visit_rows(duck, START - timedelta(days=60), STOP)
    new = _stage_events(duck, transforms.cohort_stage_events, *args, picked)
    old = _stage_events(duck, sql_oracle.old_cohort_stage_events, *args, picked)
    pd.testing.assert_frame_equal(new, old, check_exact=True)


def test_touch_paths_grow_with_the_lookback(duck):
    def touches(days):
        paths = duck.execute(transforms.touch_paths(duck, START, STOP, lookback_days=days))
        return paths.set_index("lead_id")["touches"]

    short, long = touches(0), touches(90)
    assert (short <= long).all() and short.sum() < long.sum()
    with pytest.raises(ValueError, match="lookback_days must be >= 0, got -1"):
        transforms.touch_paths(duck, START, STOP, lookback_days=-1)


def test_weekly_cohorts_match_pandas(duck, raw):
    actual = duck.execute(transforms.weekly_cohorts(duck, START, STOP))

    visits = raw["visits"]
    first = visits.groupby("visitor_id")["visit_start"].min()
    first = first[(first >= midnight(START)) & (first < midnight(STOP))]
    cohort_week = monday(first.to_frame()["visit_start"])
    seen = visits[visits["visit_start"] < midnight(STOP)]
    visit_events = pd.DataFrame(
        {
            "key": seen["visitor_id"],
            "visitor_id": seen["visitor_id"],
            "lead_id": None,
            "week": monday(seen["visit_start"]),
        }
    )
    leads = pandas_stitched_leads(raw)
    leads = leads[leads["visitor_id"].notna() & (leads["created_at"] < midnight(STOP))]
    lead_events = pd.DataFrame(
        {
            "key": leads["visitor_id"],
            "visitor_id": None,
            "lead_id": leads["lead_id"],
            "week": monday(leads["created_at"]),
        }
    )
    events = pd.concat([visit_events, lead_events], ignore_index=True)
    events = events[events["key"].isin(cohort_week.index)]
    events["cohort_week"] = events["key"].map(cohort_week)
    events["weeks_since_first_visit"] = (events["week"] - events["cohort_week"]).dt.days // 7
    expected = (
        events.groupby(["cohort_week", "weeks_since_first_visit"])
        .agg(visitors=("visitor_id", "nunique"), leads=("lead_id", "nunique"))
        .reset_index()
    )
    assert_same(actual, expected, ["cohort_week", "weeks_since_first_visit"])
    sizes = actual[actual["weeks_since_first_visit"] == 0].set_index("cohort_week")["visitors"]
    assert sizes.sum() == len(first)  # age 0 holds every cohort visitor


def test_weekly_kpi_matches_counts_and_formulas(duck, raw):
    actual = duck.execute(transforms.weekly_kpi(duck, START, STOP))
    counts = pandas_funnel_counts(raw, START, STOP, "week").rename(columns={"grp": "week_start"})

    def per(num, den, scale=1.0):
        return num.astype(float) * scale / den.astype(float).where(den != 0)

    expected = counts.assign(
        cr_visit_lead=per(counts["leads"], counts["visits"], 100),
        cr_lead_mql=per(counts["mql"], counts["leads"], 100),
        cr_mql_sql=per(counts["sql_leads"], counts["mql"], 100),
        cr_sql_sale=per(counts["sales"], counts["sql_leads"], 100),
        cpl=per(counts["spend"], counts["leads"]),
        cac=per(counts["spend"], counts["sales"]),
        average_deal=per(counts["revenue"], counts["sales"]),
        drr=per(counts["spend"], counts["revenue"], 100),
        romi=per(counts["revenue"] - counts["spend"], counts["spend"], 100),
    )
    assert list(actual.columns) == [
        "week_start",
        *transforms.FUNNEL_COUNT_COLUMNS,
        *transforms.KPI_RATIO_COLUMNS,
    ]
    assert_same(actual, expected, ["week_start"])
    assert actual["cac"].isna().any()  # weeks without sales: NULL, not an error


# --------------------------------------------------------------------------- backends


def test_connect_backend_urls(tiny_warehouse, tmp_path):
    # (Ibis 12's list_tables/sql/create_table fail on DuckDB 2.0; transforms use table/execute)
    backend = transforms.connect_backend(f"duckdb://{tiny_warehouse}")
    for name in transforms.CANONICAL_TABLES:
        assert backend.table(name).count().execute() > 0
    backend.disconnect()
    assert transforms.connect_backend("duckdb://:memory:").execute(ibis.literal(1)) == 1
    for bad, message in (
        ("sqlite:///x.db", r"unknown backend 'sqlite:///x\.db': expected duckdb://\.\.\. or"),
        ("pyspark://yarn", r"'pyspark://yarn': use pyspark://local, pyspark://local\[N\] or"),
        ("no-scheme", "'no-scheme' is not a connection string like duckdb://<path>"),
    ):
        with pytest.raises(ValueError, match=message):
            transforms.connect_backend(bad)
    params = tmp_path / "backend.yaml"
    assert backends.default_backend_url(params) == transforms.DEFAULT_BACKEND_URL
    params.write_text("url: pyspark://local[2]\n", encoding="utf-8")
    assert backends.default_backend_url(params) == "pyspark://local[2]"
    assert transforms.DEFAULT_BACKEND_URL.startswith("duckdb://")
    # relative paths are from the project root, whatever the working directory
    assert backends._from_root("data/w.duckdb") == backends.ROOT / "data" / "w.duckdb"
    assert backends._from_root(tiny_warehouse) == tiny_warehouse
    # the committed params file names the embedded warehouse
    assert backends.default_backend_url() == "duckdb://data/warehouse.duckdb"


def test_duckdb_backend_leaves_connection_settings_alone():
    con = duckdb.connect()
    fill(con)
    con.execute("SET TimeZone = 'Europe/Moscow'")
    frame = pd.DataFrame({"x": [1, 2]})  # noqa: F841 -- read by the replacement scan below
    with transforms.duckdb_backend(con) as backend:
        backend.execute(transforms.funnel_counts(backend, date(2025, 6, 2), date(2025, 6, 9)))
    assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "Europe/Moscow"
    assert con.execute("SELECT sum(x) FROM frame").fetchone()[0] == 3


def test_fetch_frame_is_the_frame_of_execute_with_nulls():
    """Columns with NULLs take Ibis's slow ``to_pylist`` path in ``execute``; the Arrow
    fetch must give the same frame (Ibis's own ``execute`` is the reference), here by
    hand: ids 1-3, a NULL in every column but ``id``."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES "
        "(1, 'a', TIMESTAMP '2025-06-02 10:00:00', DATE '2025-06-02', 7, true, 1.5), "
        "(2, NULL, NULL, NULL, NULL, NULL, NULL), "
        "(3, 'c', TIMESTAMP '2025-06-04 00:00:01', DATE '2025-06-04', 9, false, -2.0)"
        ") v(id, name, seen_at, day, n, flag, x)"
    )
    with transforms.duckdb_backend(con) as backend:
        expr = backend.table("t").order_by("id")
        fetched = backends.fetch_frame(backend, expr)
        reference = backend.execute(expr)
    pd.testing.assert_frame_equal(fetched, reference, check_exact=True)
    assert fetched["name"].isna().tolist() == [False, True, False]
    assert fetched["seen_at"].iloc[2] == pd.Timestamp("2025-06-04 00:00:01")
    assert pd.isna(fetched["n"].iloc[1]) and fetched["n"].iloc[2] == 9


def test_parquet_export_round_trips(tiny_warehouse, tmp_path, raw):
    files = transforms.export_parquet(tiny_warehouse, tmp_path)
    assert set(files) == set(transforms.CANONICAL_TABLES)
    assert len(pd.read_parquet(files["visits"])) == len(raw["visits"])


@pytest.mark.parametrize("dialect", ["bigquery", "clickhouse"])
def test_transforms_compile_for_sql_engines(duck_transforms, dialect):
    # BigQuery and ClickHouse are compiled targets: every transform must compile.
    for expr in duck_transforms.values():
        assert "SELECT" in ibis.to_sql(expr, dialect=dialect)


def test_ordered_collect_is_not_portable(duck):
    # Why touch_paths collects structs and sorts: ordered collect does not compile
    # on ClickHouse (nor PySpark), while the struct form does.
    visits = duck.table("visits")
    ordered = visits.group_by("visitor_id").agg(
        p=visits.channel.collect(order_by=visits.visit_start)
    )
    with pytest.raises(ibis.common.exceptions.UnsupportedOperationError):
        ibis.to_sql(ordered, dialect="clickhouse")


# --------------------------------------------------------------------------- Spark parity


def all_transforms(con) -> dict[str, ibis.Table]:
    """Every transform on the unit-test days, by name."""
    exprs = {
        "stitched_leads": transforms.stitched_leads(con),
        "stitched_visitors": transforms.stitched_visitors(con),
        "lead_visits": transforms.lead_visits(con),
        "deal_facts": transforms.deal_facts(con),
        "touch_paths": transforms.touch_paths(con, *YEAR, LOOKBACK_DAYS),
        "touch_paths_no_lookback": transforms.touch_paths(con, *YEAR, 0),
        "weekly_cohorts": transforms.weekly_cohorts(con, START, STOP),
        "weekly_kpi": transforms.weekly_kpi(con, START, STOP),
        "journey_touches_lead": transforms.journey_touches(con, "lead", START, STOP, 30),
        "journey_touches_all_days": transforms.journey_touches(con, "mql", lookback_days=7.5),
        "journey_touches_sale_stage": transforms.journey_touches(
            con, "sale", *YEAR, 30, anchor="stage"
        ),
        "journey_paths_sale": transforms.journey_paths(con, "sale", START, STOP, 30),
        "channel_spend": transforms.channel_spend(con, START, STOP),
        "journey_paths_lead_all_days": transforms.journey_paths(con, "lead", lookback_days=7.5),
        "conversion_touches_revenue_stage": transforms.conversion_touches(
            con, "revenue", *YEAR, 30, anchor="stage"
        ),
    }
    shipped = load_definitions()
    rules = Definitions(mql_method="rules", rules=shipped.rules, non_target=shipped.non_target)
    exprs["lead_facts"] = transforms.lead_facts(con, *YEAR, LOOKBACK_DAYS)
    exprs["lead_flags_crm"] = transforms.lead_flag_table(con, *YEAR, DEFAULT_DEFINITIONS)
    exprs["lead_flags_rules"] = transforms.lead_flag_table(con, *YEAR, rules)
    exprs["segment_leads"] = transforms.segment_lead_table(con, *YEAR)
    exprs["sale_paid_touches"] = transforms.sale_paid_touches(con, *YEAR, LOOKBACK_DAYS)
    exprs["sale_paid_touches_all_history"] = transforms.sale_paid_touches(con, *YEAR, None)
    exprs["deal_campaigns"] = transforms.deal_campaign_table(con, *YEAR)
    exprs["lead_checks"] = transforms.lead_check_table(con, *YEAR)
    exprs["lead_checks_odd_window"] = transforms.lead_check_table(
        con, *YEAR, timedelta(days=30, seconds=1)
    )
    exprs["spend_visits"] = transforms.spend_visit_table(con, *YEAR)
    exprs["weekly_leads_deals"] = transforms.weekly_leads_deals(con, *YEAR)
    for grain in transforms.GRAINS:
        exprs[f"cohort_visitors_{grain}"] = transforms.cohort_visitors(con, START, STOP, grain)
        exprs[f"cohort_stage_events_{grain}"] = transforms.cohort_stage_events(
            con, START, STOP, STOP + timedelta(days=60), grain
        )
    # the first visits of a longer span shared by a shorter window (cohort_funnels)
    picked = first_visit_rows(con, START - timedelta(days=60), STOP)
    exprs["cohort_stage_events_picked"] = transforms.cohort_stage_events(
        con, START, STOP, STOP + timedelta(days=60), "week", picked
    )
    for conversion in transforms.CONVERSIONS:
        for anchor in transforms.ANCHORS:
            exprs[f"conversions_{conversion}_{anchor}"] = transforms.conversions(
                con, conversion, anchor
            )
    for by in transforms.GROUPINGS:
        exprs[f"funnel_counts_{by}"] = transforms.funnel_counts(con, START, STOP, by)
    exprs["lead_history"] = lead_history_cases(con)
    return exprs


def lead_history_cases(con) -> ir.Table:
    """The feature table of lead scoring (``transforms.lead_history``: the as-of features
    of every lead, the closed deals of the similarity, the demo's form answers from
    ``lead_fields``) as one table, so that Spark runs them in one job with one collect:
    ``case``, ``lead_id``, ``key`` (the field; the deal's close time as text), a time,
    six text and fourteen number slots (NULL where a case has fewer)."""
    from analytics.demo.generator import PROFILE_FIELDS

    features = lead_history.as_of_features(con, prior_strength=20.0, repeat_days=30)
    deals = lead_history.past_deal_outcomes(con)
    answers = lead_history.lead_field_values(
        con, [name for name, *_ in PROFILE_FIELDS], history=False
    )
    texts = list(lead_history.AS_OF_FEATURE_COLUMNS[-6:])
    numbers = list(lead_history.AS_OF_FEATURE_COLUMNS[2:-6])

    def slots(table, time=None, text=(), number=()):
        return {
            "at": ibis.null("timestamp") if time is None else table[time].cast("timestamp"),
            **{f"t{i}": table[c].cast("string") for i, c in enumerate(text)},
            **{f"t{i}": ibis.null("string") for i in range(len(text), 6)},
            **{f"v{i}": table[c].cast("float64") for i, c in enumerate(number)},
            **{f"v{i}": ibis.null("float64") for i in range(len(number), 14)},
        }

    return ibis.union(
        features.select(
            case=ibis.literal("features"),
            lead_id=features.lead_id,
            key=ibis.literal(""),
            **slots(features, "created_at", texts, numbers),
        ),
        deals.select(
            case=ibis.literal("deals"),
            lead_id=deals.lead_id,
            key=deals.closed_at.cast("string"),
            **slots(deals, "closed_at", number=["won"]),
        ),
        answers.select(
            case=ibis.literal("answers"),
            lead_id=answers.lead_id,
            key=answers.field,
            **slots(answers, text=["value"]),
        ),
        distinct=False,
    )


PARITY_KEYS = {
    "stitched_leads": ["lead_id"],
    "stitched_visitors": ["lead_id"],
    "lead_visits": ["visit_id", "visit_start"],
    "deal_facts": ["deal_id"],
    "touch_paths": ["lead_id"],
    "touch_paths_no_lookback": ["lead_id"],
    "weekly_cohorts": ["cohort_week", "weeks_since_first_visit"],
    "weekly_kpi": ["week_start"],
    "lead_facts": ["lead_id"],
    "lead_flags_crm": ["lead_id"],
    "lead_flags_rules": ["lead_id"],
    "segment_leads": ["lead_id"],
    "deal_campaigns": ["deal_id", "created_at"],
    "lead_checks": ["lead_id"],
    "lead_checks_odd_window": ["lead_id"],
    "spend_visits": ["date", "channel", "campaign", "ad_group", "creative"],
    "weekly_leads_deals": ["week_start"],
    "sale_paid_touches": ["deal_id", "campaign", "ad_group", "last_paid"],
    "sale_paid_touches_all_history": ["deal_id", "campaign", "ad_group", "last_paid"],
    **{
        f"journey_touches_{case}": ["journey_id", "visit_start", "visit_id"]
        for case in ("lead", "all_days", "sale_stage")
    },
    "journey_paths_sale": ["path"],
    "channel_spend": ["grp"],
    "journey_paths_lead_all_days": ["path"],
    "conversion_touches_revenue_stage": ["journey_id", "visit_start", "visit_id"],
    **{f"cohort_visitors_{grain}": ["cohort", "first_channel"] for grain in transforms.GRAINS},
    **{
        f"cohort_stage_events_{grain}": ["cohort", "first_channel", "age"]
        for grain in transforms.GRAINS
    },
    "cohort_stage_events_picked": ["cohort", "first_channel", "age"],
    **{
        f"conversions_{conversion}_{anchor}": ["conversion_id"]
        for conversion in transforms.CONVERSIONS
        for anchor in transforms.ANCHORS
    },
    **{f"funnel_counts_{by}": ["grp"] for by in transforms.GROUPINGS},
    "lead_history": ["case", "lead_id", "key", "at"],
}


def test_the_shared_spark_session_fails_without_java_in_ci(monkeypatch):
    """The session-scoped ``spark`` fixture (every parity module) goes through this check."""
    import spark_session

    monkeypatch.setattr(spark_session.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run: no Java runtime for PySpark"):
        spark_session.start_session()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="no Java runtime for PySpark"):
        spark_session.start_session()


def test_spark_parity_cannot_skip_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true but the Spark parity test cannot"):
        spark_unavailable("no Java runtime for PySpark")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="no Java runtime"):
        spark_unavailable("no Java runtime for PySpark")


def test_local_spark_caches_the_warehouse_views(spark):
    # connect_local_spark caches every canonical view (filled by the first query reading it),
    # here (conftest: partitions=1) each as one partition that Spark knows to be the only one
    # (a file read as one partition reports UnknownPartitioning(1), which no aggregation,
    # window or join above it accepts without a shuffle)
    session, names = spark._session, transforms.CANONICAL_TABLES
    assert all(session.catalog.isCached(name) for name in names)
    plans = [session.table(name)._jdf.queryExecution().executedPlan() for name in names]
    assert {str(plan.outputPartitioning()) for plan in plans} == {"SinglePartition"}


@pytest.fixture(scope="module")
def duck_transforms(duck) -> dict[str, ibis.Table]:
    """:func:`all_transforms` on DuckDB, built once for the parity and compile cases."""
    return all_transforms(duck)


@pytest.fixture(scope="module")
def spark_transforms(spark) -> dict[str, ibis.Table]:
    """:func:`all_transforms` on Spark, built once for every parity case.

    Building the expressions is not free: each ``con.table(name)`` asks the JVM
    for the view's schema (156 lookups for the whole dict) and Ibis builds every
    expression in Python -- about 3.6 s of Python and 2-3 s of JVM CPU per call,
    which was spent again by each of the 37 cases when each case built the whole
    dict to pick one expression. Ibis expressions are immutable, so the cases
    share one dict.
    """
    return all_transforms(spark)


@pytest.mark.spark
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", list(PARITY_KEYS))
def test_duckdb_and_pyspark_give_identical_results(
    duck, spark, duck_transforms, spark_transforms, name
):
    on_duckdb = duck.execute(duck_transforms[name])
    on_spark = spark.execute(spark_transforms[name])
    assert len(on_duckdb) > 0
    assert list(on_spark.columns) == list(on_duckdb.columns)
    assert_same(on_spark, on_duckdb, PARITY_KEYS[name])


def ported_in_step_three(con) -> ir.Table:
    """The ports of issue 11 item 3's third step on the tiny demo's 2025-W23..W24 (the
    drill-down to the creative, the A/B split, the sales cost; the snapshot's campaign
    figures and weeks are compared in ``test_weekly_build_parity.py``), as one table with
    a common schema: ``case``, up to six text keys and nine numbers (NULL where a case
    has fewer), so that Spark runs them in one job with one collect."""
    start, mid, stop = date(2025, 6, 2), date(2025, 6, 9), date(2025, 6, 16)
    cases = {
        "hierarchy": (
            # two weeks at two depths in one expression (the drill-down of notebook 10)
            transforms.hierarchy_figures(
                con, [(mid, stop), (start, mid)], ["campaign", "creative"], DEFAULT_DEFINITIONS
            ),
            ["depth", "window", "channel", "campaign", "ad_group", "creative"],
        ),
        "arms": (
            transforms.arm_week_counts(con, start, stop, "creative", 30, DEFAULT_DEFINITIONS),
            ["week_start", "arm"],
        ),
        "managers": (
            transforms.non_target_by_manager(con, start, stop, DEFAULT_DEFINITIONS),
            ["manager"],
        ),
    }
    parts = []
    for name, (expr, keys) in cases.items():
        values = [c for c in expr.columns if c not in keys]
        parts.append(
            expr.select(
                case=ibis.literal(name),
                **{f"k{i}": expr[k].cast("string") for i, k in enumerate(keys)},
                **{f"k{i}": ibis.null("string") for i in range(len(keys), 6)},
                **{f"v{i}": expr[v].cast("float64") for i, v in enumerate(values)},
                **{f"v{i}": ibis.null("float64") for i in range(len(values), 9)},
            )
        )
    return ibis.union(*parts, distinct=False)


@pytest.mark.parametrize("dialect", ["bigquery", "clickhouse"])
def test_ported_in_step_three_compile_for_sql_engines(duck, dialect):
    assert "SELECT" in ibis.to_sql(ported_in_step_three(duck), dialect=dialect)


@pytest.mark.spark
@pytest.mark.timeout(300)
def test_ported_drilldown_ab_split_and_sales_cost_identical_on_pyspark(duck, spark):
    keys = ["case", "k0", "k1", "k2", "k3", "k4", "k5"]
    on_duckdb = duck.execute(ported_in_step_three(duck))
    on_spark = spark.execute(ported_in_step_three(spark))
    cases = on_duckdb.groupby("case").size()
    assert set(cases.index) == {"hierarchy", "arms", "managers"}
    assert cases.min() >= 2  # not a comparison of empty tables
    arms = on_duckdb[on_duckdb["case"] == "arms"]
    assert arms["v1"].sum() > 0  # some MQL attributed to an arm
    assert_same(on_spark, on_duckdb, keys)
