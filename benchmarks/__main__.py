"""``python -m benchmarks`` (``make bench``): pipeline benchmark per size, then attribution.

Examples::

    .venv/bin/python -m benchmarks                 # 1M and 10M visits (~20 min)
    .venv/bin/python -m benchmarks --sizes 1m      # one size
    .venv/bin/python -m benchmarks --quick         # 200k visits: checks the harness in ~2 min
    .venv/bin/python -m benchmarks --sizes 10m --only generate,baseline,load,report
                                                   # the 10M weekly build only

See ``benchmarks/README.md`` for what each column means.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import pipeline_bench

ATTRIBUTION_BENCH = Path(__file__).resolve().parent / "attribution_bench.py"
QUICK_SIZE = "200k"
QUICK_JOURNEYS = 100_000


def _sizes(text: str) -> list[tuple[str, int]]:
    return [pipeline_bench.parse_size(part) for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Time every pipeline stage (generate, load, transforms, weekly build) on "
            "synthetic data, each stage in its own process, as a ratio to a DuckDB full "
            "scan of the same files; then the attribution benchmark."
        ),
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=_sizes("1m,10m"),
        help="comma-separated visit counts, e.g. 1m,10m (default) or 200k,2.5m",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"only {QUICK_SIZE} visits and {QUICK_JOURNEYS:,} journeys: a harness check",
    )
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=pipeline_bench.WORK_DIR,
        help="raw files, warehouse, reports and stage logs (default data/bench/<size>)",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=pipeline_bench.RESULTS_DIR,
        help="where pipeline-<size>.json goes (default benchmarks/results)",
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep raw files and warehouse after a size"
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds before a stage is killed"
    )
    parser.add_argument(
        "--no-attribution", action="store_true", help="skip benchmarks/attribution_bench.py"
    )
    parser.add_argument(
        "--only",
        type=pipeline_bench.parse_only,
        default=None,
        metavar="STAGES",
        help=(
            "comma-separated stage keys to run, e.g. generate,baseline,load,report "
            f"(any of {', '.join(pipeline_bench.stage_keys())}); without generate (load) "
            "the raw files (warehouse) of an earlier --keep-data run are reused; a subset "
            "writes pipeline-<size>-build.json (weekly build) or pipeline-<size>-<stages>.json"
        ),
    )
    return parser


def run_attribution(quick: bool, work_dir: Path) -> str:
    """Run ``benchmarks/attribution_bench.py`` (another engineer's) in its own process."""
    if not ATTRIBUTION_BENCH.is_file():
        return "skipped: benchmarks/attribution_bench.py is not there"
    source = ATTRIBUTION_BENCH.read_text(encoding="utf-8")
    cmd = [sys.executable, "-m", "benchmarks.attribution_bench"]
    if quick and "--journeys" in source and "--out" in source:
        out = work_dir / f"attribution-{QUICK_JOURNEYS // 1000}k.json"
        cmd += ["--journeys", str(QUICK_JOURNEYS), "--out", str(out)]
    print(f"\n=== attribution benchmark: {' '.join(cmd[1:])} ===", flush=True)
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=pipeline_bench.ROOT, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return f"FAILED with exit code {done.returncode} after {seconds:.0f} s"
    return f"ok in {seconds:.0f} s"


def _run_size(args: argparse.Namespace, label: str, visits: int, machine: dict) -> dict:
    return pipeline_bench.run_size(
        label,
        visits,
        seed=args.seed,
        work_dir=args.work_dir,
        results_dir=args.results_dir,
        keep_data=args.keep_data,
        timeout=args.timeout,
        machine=machine,
        only=args.only,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = [pipeline_bench.parse_size(QUICK_SIZE)] if args.quick else args.sizes
    machine = pipeline_bench.machine_info()
    print(
        f"machine: {machine['cores']} cores, {machine['ram_gb']} GB RAM, {machine['cpu']}; "
        f"python {machine['python']}, duckdb {machine['packages']['duckdb']}, "
        f"pandas {machine['packages']['pandas']}; commit {str(machine['git_commit'])[:10]}"
        + (" (+ uncommitted changes)" if machine["git_dirty"] else "")
    )
    verdicts = []
    for label, visits in sizes:
        try:
            payload = _run_size(args, label, visits, machine)
        except FileNotFoundError as exc:  # --only without the data of an earlier run
            print(f"{label}: {exc}", file=sys.stderr)
            return 2
        build = payload["weekly_build"]
        failed = [s["name"] for s in payload["stages"] if s["status"] == "failed"]
        if failed:
            verdicts.append(f"{label}: FAILED stages {', '.join(failed)}")
        if args.only is not None and not set(pipeline_bench.BUILD_STAGES) <= set(args.only):
            verdicts.append(f"{label}: weekly build not in this run (--only)")
        elif build["under_limit"] is None:
            verdicts.append(f"{label}: weekly build incomplete (a stage failed)")
        else:
            verdicts.append(
                f"{label}: weekly build {build['seconds']:.1f} s, peak {build['peak_mb']:,.0f} MB "
                f"-> {'under' if build['under_limit'] else 'OVER'} the 4 GB limit"
            )
        report = next(
            (s for s in payload["stages"] if s["name"] == "report" and s["status"] == "ok"), None
        )
        floor = ((report or {}).get("detail") or {}).get("floor")
        if floor:
            notebooks = floor.get("notebooks", floor.get("executions"))  # older results
            verdicts.append(
                f"{label}: report {report['seconds']:.1f} s = {floor['ratio']:.1f} x its floor "
                f"({notebooks} distinct notebooks x {floor['notebook_s']:.1f} s one-cell "
                f"notebook / {floor['cores']} cores = {floor['floor_s']:.1f} s; goal <= "
                f"{floor['goal_ratio']:.0f} x)"
            )
            if "executions_ratio" in floor:
                verdicts.append(
                    f"{label}: by executions ({floor['executions']}): floor "
                    f"{floor['executions_floor_s']:.1f} s, {floor['executions_ratio']:.1f} x"
                )
    attribution = None
    if not args.no_attribution:
        attribution = run_attribution(args.quick, args.work_dir)
    print("\n=== summary ===")
    for line in verdicts:
        print(line)
    if attribution is not None:
        print(f"attribution benchmark: {attribution}")
    failed = any("incomplete" in v or "FAILED" in v for v in verdicts) or (
        attribution or ""
    ).startswith("FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
