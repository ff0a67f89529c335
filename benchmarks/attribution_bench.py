"""Attribution benchmark: every model on a million synthetic journeys.

Builds ``--journeys`` journeys over ``--channels`` channels with numpy (path
length 1 + Poisson, channels drawn with an acquisition mix for the first touch
and a return mix with much direct traffic for later ones, conversion by a
noisy-OR of touch effects, deal value log-normal), aggregates them into
distinct paths and times every model. Each step is timed best of ``--repeat``
runs without tracing, then run once more under ``tracemalloc`` for its peak of
Python-visible memory (numpy and pandas buffers included); the process's peak
resident memory comes from ``resource.getrusage``.

Baseline: in the same process DuckDB builds the same paths from the long touch
table (``string_agg`` per journey ordered by touch, then ``GROUP BY`` path), the
SQL a warehouse would run anyway. ``x baseline`` = step time / baseline time.

Then, in the same process, ChannelAttribution's own functions against
:mod:`analytics.attribution.compat` on the same aggregated paths given as
strings (``"channel_01 > direct"``), so parsing the path strings is inside both
timings: ``markov_model`` of orders 1-3 (and their sum) and
``heuristic_models``, each best of ``--repeat`` runs; ``ratio`` = our wall time
/ ChannelAttribution's, ``cpu_ratio`` the same with the process's CPU time,
which moves far less when other processes share the cores.
ChannelAttribution (``pip install -e '.[bench]'``) is optional: without it
those rows are skipped and the report says so. Last, 200 bootstrap replicates
of the order-1 Markov chain (conversions and value, resampling included) from
the encoded paths.

Run::

    .venv/bin/python benchmarks/attribution_bench.py            # 1M journeys
    .venv/bin/python benchmarks/attribution_bench.py --journeys 100000

Prints a table and writes ``benchmarks/results/attribution.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from analytics.attribution import (
    MarkovAttribution,
    compat,
    direct_assisted,
    first_touch,
    last_non_direct,
    last_touch,
    linear,
    position_based,
    shapley_credit,
    time_decay,
)
from analytics.attribution.uncertainty import credit_replicates
from analytics.metrics.journeys import aggregate_sequences, encode_paths

RESULTS = Path(__file__).resolve().parent / "results" / "attribution.json"


def synthetic_journeys(n_journeys: int, n_channels: int, seed: int = 0) -> dict:
    """Journeys as numpy arrays: touch channel codes, lengths, conversions, values, ages."""
    rng = np.random.default_rng(seed)
    channels = ["direct"] + [f"channel_{i:02d}" for i in range(1, n_channels)]
    lengths = 1 + rng.poisson(1.8, n_journeys)
    n_touches = int(lengths.sum())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    position = np.arange(n_touches) - starts
    acquisition = rng.dirichlet(np.ones(n_channels))
    returning = np.r_[0.45, rng.dirichlet(np.ones(n_channels - 1)) * 0.55]
    first = rng.choice(n_channels, size=n_touches, p=acquisition)
    later = rng.choice(n_channels, size=n_touches, p=returning)
    codes = np.where(position == 0, first, later).astype(np.int64)
    effect = rng.uniform(0.002, 0.02, n_channels)
    log_no = np.bincount(
        np.repeat(np.arange(n_journeys), lengths),
        weights=np.log1p(-effect[codes]),
        minlength=n_journeys,
    )
    p_convert = 1 - 0.99 * np.exp(log_no * 3)
    converted = rng.random(n_journeys) < p_convert
    value = np.round(rng.lognormal(12, 0.6, n_journeys), -2)
    gaps = np.where(position == 0, 0.0, rng.exponential(4.0, n_touches))
    # days before the conversion: time from each touch to the journey's last touch
    elapsed = np.cumsum(gaps)
    journey_end = np.repeat(elapsed[np.cumsum(lengths) - 1], lengths)
    days_before = journey_end - elapsed + rng.uniform(0, 0.02, n_touches)
    return {
        "channels": channels,
        "codes": codes,
        "lengths": lengths,
        "converted": converted,
        "value": value,
        "days_before": days_before,
    }


def touch_table(data: dict) -> pd.DataFrame:
    """Long touch table of the journeys (the shape :class:`Journeys.touches` has)."""
    lengths = data["lengths"]
    journey = np.repeat(np.arange(len(lengths)), lengths)
    return pd.DataFrame(
        {
            "journey_id": journey,
            "touch_index": np.arange(len(journey))
            - np.repeat(np.cumsum(lengths) - lengths, lengths),
            "channel": pd.Categorical.from_codes(data["codes"], data["channels"]),
            "days_before": data["days_before"],
            "converted": data["converted"][journey],
            "value": data["value"][journey],
        }
    )


def measure(step: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Best wall time of ``repeat`` runs (s) and the traced peak of one more run (MiB)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = step()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20, result


def duckdb_baseline(touches: pd.DataFrame) -> Callable[[], object]:
    con = duckdb.connect()
    con.register("touches_df", touches.assign(channel=touches["channel"].astype(str)))
    con.execute("CREATE TABLE touches AS SELECT * FROM touches_df")

    def run():
        return con.execute(
            """
            SELECT path, count(*) AS journeys, sum(converted::INT) AS conversions,
                   sum(CASE WHEN converted THEN value ELSE 0 END) AS value
            FROM (
                SELECT journey_id, string_agg(channel, ' > ' ORDER BY touch_index) AS path,
                       any_value(converted) AS converted, any_value(value) AS value
                FROM touches GROUP BY journey_id
            )
            GROUP BY path
            """
        ).fetchall()

    return run


def versus_channel_attribution(paths: pd.DataFrame, repeat: int) -> list[dict]:
    """Time ChannelAttribution and :mod:`analytics.attribution.compat` on string paths.

    Both read a DataFrame with a ``path`` column of strings, so both parse them.
    ChannelAttribution simulates (its defaults: ``nsim_start=1e5``, convergence
    checks); compat solves exactly. Both are timed the same way, best of
    ``repeat`` runs, interleaved step by step. Returns rows ``step``,
    ``ours_s``, ``ca_s``, ``ratio`` (ours / ChannelAttribution, wall time) and
    ``ours_cpu_s``, ``ca_cpu_s``, ``cpu_ratio`` (CPU time of the process);
    the ChannelAttribution columns are None when it is missing.
    """
    data = pd.DataFrame(
        {
            "path": paths["path_str"].astype(object),
            "conversions": paths["conversions"],
            "value": paths["value"],
            "nulls": paths["nulls"],
        }
    )
    try:
        import ChannelAttribution as ca
    except ImportError:
        ca = None
    steps = {
        f"markov order {k}": (
            lambda k=k: compat.markov_model(data, "path", "conversions", "value", "nulls", order=k),
            lambda k=k: ca.markov_model(
                data,
                "path",
                "conversions",
                var_value="value",
                var_null="nulls",
                order=k,
                verbose=False,
                flg_pro=False,
            ),
        )
        for k in (1, 2, 3)
    }
    steps["heuristic models"] = (
        lambda: compat.heuristic_models(data, "path", "conversions", "value"),
        lambda: ca.heuristic_models(data, "path", "conversions", var_value="value", flg_pro=False),
    )
    rows = []
    for name, (ours, theirs) in steps.items():
        ours_s, ours_cpu = best_times(ours, repeat)
        ca_s, ca_cpu = best_times(theirs, repeat) if ca is not None else (None, None)
        rows.append(
            {
                "step": name,
                "ours_s": ours_s,
                "ca_s": ca_s,
                "ratio": ours_s / ca_s if ca_s else None,
                "ours_cpu_s": ours_cpu,
                "ca_cpu_s": ca_cpu,
                "cpu_ratio": ours_cpu / ca_cpu if ca_cpu else None,
            }
        )
    return rows


def best_times(step: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall time and best CPU time of this process (s) over ``repeat`` runs.

    CPU time (:func:`time.process_time`, all threads of the process) is what
    the step itself consumed, so it moves much less than wall time when other
    processes share the cores.
    """
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
    return wall, cpu


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    data = synthetic_journeys(args.journeys, args.channels, args.seed)
    touches = touch_table(data)
    generate_s = time.perf_counter() - t0

    steps: dict[str, Callable[[], object]] = {}
    steps["duckdb paths (baseline)"] = duckdb_baseline(touches)
    steps["aggregate paths (numpy)"] = lambda: aggregate_sequences(
        data["codes"], data["lengths"], data["converted"], data["value"], data["channels"]
    )
    rows = []
    base_time = None
    for name, step in steps.items():
        seconds, peak, result = measure(step, args.repeat)
        base_time = seconds if base_time is None else base_time
        rows.append({"step": name, "seconds": seconds, "peak_mib": peak})
    paths = result
    enc = encode_paths(paths)
    models: dict[str, Callable[[], object]] = {
        "encode paths": lambda: encode_paths(paths),
        "first touch": lambda: first_touch(enc),
        "last touch": lambda: last_touch(enc),
        "last non-direct": lambda: last_non_direct(enc),
        "linear": lambda: linear(enc),
        "position-based": lambda: position_based(enc),
        "time decay (touch table)": lambda: time_decay(touches, 7.0),
        "direct vs assisted": lambda: direct_assisted(enc),
        "markov order 1": lambda: MarkovAttribution(order=1).fit(enc),
        "markov order 2": lambda: MarkovAttribution(order=2).fit(enc),
        "markov order 3": lambda: MarkovAttribution(order=3).fit(enc),
        "shapley (exact)": lambda: shapley_credit(enc),
    }
    states = {}
    for name, step in models.items():
        seconds, peak, result = measure(step, args.repeat)
        rows.append({"step": name, "seconds": seconds, "peak_mib": peak})
        if isinstance(result, MarkovAttribution):
            states[name] = len(result.states_)
    for row in rows:
        row["x_baseline"] = row["seconds"] / base_time
    versus = versus_channel_attribution(paths, args.repeat)
    markov_rows = [v for v in versus if v["step"].startswith("markov order")]
    together = {"step": "markov orders 1-3 together"}
    for column in ("ours_s", "ca_s", "ours_cpu_s", "ca_cpu_s"):
        values = [v[column] for v in markov_rows]
        together[column] = None if None in values else sum(values)
    together["ratio"] = together["ours_s"] / together["ca_s"] if together["ca_s"] else None
    together["cpu_ratio"] = (
        together["ours_cpu_s"] / together["ca_cpu_s"] if together["ca_cpu_s"] else None
    )
    versus.insert(len(markov_rows), together)
    t0 = time.perf_counter()
    credit_replicates(enc, ["markov_1"], n_boot=200, seed=0)
    bootstrap_s = time.perf_counter() - t0
    report = {
        "journeys": args.journeys,
        "touches": int(data["lengths"].sum()),
        "channels": args.channels,
        "distinct_paths": int(len(paths)),
        "conversions": int(data["converted"].sum()),
        "markov_states": states,
        "generate_seconds": generate_s,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "repeat": args.repeat,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "duckdb": duckdb.__version__,
            "processor": platform.machine(),
        },
        "steps": rows,
        "versus_channel_attribution": versus,
        "channel_attribution_installed": versus[0]["ca_s"] is not None,
        "bootstrap_markov_1_200_replicates_seconds": bootstrap_s,
    }
    table = pd.DataFrame(rows).set_index("step")
    print(
        f"{args.journeys:,} journeys, {report['touches']:,} touches, {args.channels} channels, "
        f"{report['distinct_paths']:,} distinct paths, {report['conversions']:,} conversions"
    )
    print(f"Markov states: {states}")
    print(table.to_string(float_format=lambda v: f"{v:,.3f}"))
    print(pd.DataFrame(versus).set_index("step").to_string(float_format=lambda v: f"{v:,.3f}"))
    if versus[0]["ca_s"] is None:
        print("ChannelAttribution is not installed: no ratios (pip install -e '.[bench]')")
    print(f"200 bootstrap replicates of Markov order 1: {bootstrap_s:,.2f} s")
    print(f"process peak RSS: {report['max_rss_mib']:,.0f} MiB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"written to {args.out}")
    return report


if __name__ == "__main__":
    main()
