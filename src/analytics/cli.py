"""Command line: ``python -m analytics <command>``.

Commands
--------
generate       write the seeded demo company's raw files and ground truth
load           validate raw files into the DuckDB warehouse (bad rows -> quarantine)
load-source    load one vendor export (Metrica, GA4, amoCRM, calls, CRM leads, Direct, Google Ads)
demo           generate + load in one step (what ``make report`` uses)
report         run the role notebooks with Papermill and render HTML reports
train-scoring  train the lead-scoring model and save it with a model card
score          write lead scores from a saved model back to the warehouse
call-list      export the call list (score, band A-D, reasons in words) as CSV
email          send (or with --dry-run, write .eml files of) the role reports
metrics        print the period snapshot: every catalogue metric, previous period, year ago
schema-doc     write the warehouse schema as Markdown
pull           pull one source from its API and load it (incremental)
weekly         pull every enabled source, load, report and e-mail, under a lock

Errors in input (a missing column, an unreadable file, a bad parameter) are
printed as one clear line and exit with code 2, not a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from contextlib import contextmanager, nullcontext
from datetime import date
from pathlib import Path

from analytics import paths


class UsageError(Exception):
    """A problem the user can fix; printed without a traceback."""


def _add_warehouse(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--warehouse",
        type=Path,
        default=paths.DEFAULT_WAREHOUSE,
        help=f"DuckDB warehouse file (default: {paths.DEFAULT_WAREHOUSE.relative_to(paths.ROOT)})",
    )


def _add_check(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--check",
        action="store_true",
        help="dry run: say what would be inserted, updated, unchanged, quarantined; write nothing",
    )


def _cmd_generate(args: argparse.Namespace) -> int:
    from analytics.demo import generator

    out = args.out or paths.RAW_DIR / args.size
    t0 = time.perf_counter()
    print(f"generating demo company: size={args.size} seed={args.seed} -> {out}")
    data = generator.generate(size=args.size, seed=args.seed, visits=args.visits)
    generator.write_raw(data, out, fmt=args.format)
    rows = ", ".join(f"{k}={v:,}" for k, v in data.summary().items())
    print(f"wrote {rows} in {time.perf_counter() - t0:.1f} s")
    return 0


@contextmanager
def _loading(warehouse: Path, check: bool = False, rebuild: bool = False):
    """``(connection, salt)`` for a load: salt checked first, schema ensured, closed after.

    A dry run (``check``) opens an existing warehouse read-only (nothing can
    be written to it), and a missing one, or any for a dry run of a rebuild
    (``rebuild``: loading into an empty warehouse), as an empty in-memory
    database.
    """
    from analytics import warehouse as wh

    salt = wh.pii_salt()
    if check and warehouse.exists() and not rebuild:
        con = wh.connect(warehouse, read_only=True)
    elif check:
        con = wh.connect(":memory:")
    else:
        con = wh.connect(warehouse)
    try:
        if not check:
            wh.init_schema(con)
        with wh.dry_run() if check else nullcontext():
            yield con, salt
    finally:
        con.close()


def _print_results(results, warehouse: Path, check: bool) -> None:
    """One line per file: rows in = inserted + updated + unchanged + quarantined, and warnings."""
    for r in results:
        print(f"{r.table} {r.source_file}: {r.summary()}")
        for warning in r.warnings:
            print(f"  warning: {warning}")
    if check:
        print(f"dry run (--check): nothing was written to {warehouse}")


def _load(raw: Path, warehouse: Path, *, check: bool = False, replace: bool = False) -> int:
    from analytics import warehouse as wh

    if raw.is_file():
        raise UsageError(f"{raw}: is a file; --raw takes the folder of raw files")
    if not raw.is_dir():
        raise UsageError(f"{raw}: no such folder of raw files (run `generate` first)")
    with _loading(warehouse, check, rebuild=replace) as (con, salt):
        results = wh.load_raw_dir(con, raw, salt=salt, replace=replace)
        if not check and results:
            print(wh.reconciliation(con, load_id=results[0].load_id).to_string(index=False))
    _print_results(results, warehouse, check)
    bad = sum(r.rows_quarantined for r in results)
    verb = "would be" if check else "rows"
    print(f"warehouse {warehouse}: {bad:,} {verb} quarantined (see table quarantine)")
    return 0


def _cmd_load(args: argparse.Namespace) -> int:
    return _load(args.raw, args.warehouse, check=args.check, replace=args.replace)


def _parse_options(pairs: list[str]) -> dict:
    """``key=value`` pairs; values are read as YAML (``[1, 2]``, ``false``, ``0.2``)."""
    import yaml

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--option {pair!r}: expected key=value")
        options[key.strip()] = yaml.safe_load(value)
    return options


def _parse_maps(pairs: list[str]) -> dict[str, str]:
    """``"Their column=field"`` pairs (the last ``=`` separates, so a name may hold ``=``)."""
    mapping = {}
    for pair in pairs:
        their, sep, name = pair.rpartition("=")
        if not sep or not their.strip() or not name.strip():
            raise UsageError(f'--map {pair!r}: expected "Their column=field"')
        mapping[their.strip()] = name.strip()
    return mapping


def _cmd_load_source(args: argparse.Namespace) -> int:
    from analytics import sources

    options = _parse_options(args.option)
    mapping = _parse_maps(args.map)
    if mapping:
        options["columns"] = {**(options.get("columns") or {}), **mapping}
    if args.file.is_dir():
        raise UsageError(f"{args.file}: is a folder; --file takes one export file")
    if not args.file.exists():
        raise UsageError(f"{args.file}: file not found")
    if not os.access(args.file, os.R_OK):
        raise UsageError(f"{args.file}: no permission to read the file")
    with _loading(args.warehouse, args.check) as (con, salt):
        result = sources.load_source(con, args.kind, args.file, salt=salt, **options)
    print(f"{args.kind} {result.source_file} -> {result.table}: {result.summary()}")
    skipped = getattr(result, "rows_skipped", 0)
    holders = getattr(result, "placeholders", 0)
    if skipped or holders:
        print(f"  {skipped:,} rows skipped by design, {holders:,} placeholders read as empty")
    for note in (*getattr(result, "notes", ()), *result.warnings):
        print(f"  warning: {note}")
    if args.check:
        print(f"dry run (--check): nothing was written to {args.warehouse}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    args.out = paths.RAW_DIR / args.size
    args.format = "parquet"
    _cmd_generate(args)
    return _load(args.out, args.warehouse, replace=True)


def _cmd_report(args: argparse.Namespace) -> int:
    from analytics.reports import roles as role_files
    from analytics.reports import runner

    runner.skip_iri_grammars()  # 2 CPU-s of grammars nbformat's jsonschema would compile
    names = args.roles.split(",") if args.roles and args.roles != "all" else None
    roles = [role_files.load_role(n) for n in (names or role_files.available_roles())]
    # Each role may name its own period and warehouse; the command line overrides both.
    groups: dict[tuple[str, Path], list] = {}
    for role in roles:
        period = args.period or role.period or "last-week"
        warehouse = args.warehouse or role.warehouse or paths.DEFAULT_WAREHOUSE
        groups.setdefault((period, Path(warehouse)), []).append(role)
    ok = True
    for (period, warehouse), group in groups.items():
        if not warehouse.exists():
            raise UsageError(f"{warehouse}: no warehouse (run `python -m analytics demo` first)")
        _check_warehouse(warehouse)
        summary = runner.run_reports(
            roles=group, period=period, warehouse=warehouse, out_dir=args.out, jobs=args.jobs
        )
        print(summary.text)
        if summary.no_data:
            print(
                f"report: no data for {summary.period} in {warehouse}: pages carry a banner, "
                "no e-mail will be sent",
                file=sys.stderr,
            )
            return 2
        ok &= summary.ok
    return 0 if ok else 1


def _check_warehouse(warehouse: Path) -> None:
    """Open ``warehouse`` read-only once: a non-DuckDB file or a lock is one clear line."""
    from analytics import warehouse as wh

    wh.connect(warehouse, read_only=True).close()


def _cmd_train(args: argparse.Namespace) -> int:
    from analytics import scoring

    result = scoring.train_and_save(args.warehouse, args.out, kind=args.kind)
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    import zipfile

    from analytics import scoring

    if args.model.is_file() and not zipfile.is_zipfile(args.model):
        raise UsageError(f"{args.model}: not a .skops model file (train one with `train-scoring`)")
    n = scoring.score_and_write(args.warehouse, args.model)
    print(f"wrote {n:,} lead scores to {args.warehouse} table lead_scores")
    return 0


def _cmd_call_list(args: argparse.Namespace) -> int:
    from analytics import scoring
    from analytics import warehouse as wh
    from analytics.metrics.period import data_anchor, data_bounds, parse_period

    model_path = args.model or scoring.latest_model(args.models)
    if model_path is None:
        raise ValueError(f"{args.models}: no saved model (train one with `train-scoring`)")
    model = scoring.load_model(model_path)
    if not Path(args.warehouse).is_file():
        raise ValueError(f"{args.warehouse}: no such warehouse file")
    con = wh.connect(args.warehouse, read_only=True)
    try:
        period = parse_period(args.period, data_anchor(con), bounds=data_bounds(con))
        calls = scoring.warehouse_call_list(con, model, period=period, language=args.language)
    finally:
        con.close()
    path = scoring.export_call_list(calls, args.out, language=args.language)
    bands = calls["band"].value_counts().reindex(list("ABCD"), fill_value=0)
    print(
        f"wrote {len(calls):,} leads of {period} to {path}: "
        + ", ".join(f"{band} {count:,}" for band, count in bands.items())
    )
    return 0


def _cmd_email(args: argparse.Namespace) -> int:
    from analytics.reports import sending

    return sending.main(args)


def _cmd_metrics(args: argparse.Namespace) -> int:
    from analytics.metrics import snapshot

    if not args.warehouse.exists():
        raise UsageError(f"{args.warehouse}: no warehouse (run `python -m analytics demo` first)")
    backend = args.backend
    spark = bool(backend) and backend.lower().startswith("pyspark")
    if spark and not importlib.util.find_spec("pyspark"):
        raise UsageError(f"--backend {backend}: pyspark is not installed (pip install '.[spark]')")
    shot, path = snapshot.build_snapshot(args.warehouse, args.period, args.out, backend=backend)
    if args.format == "json":
        sys.stdout.write(shot.to_json())
    else:
        print(snapshot.format_table(shot, locale=args.locale))
    if path is not None:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _cmd_schema_doc(args: argparse.Namespace) -> int:
    from analytics.warehouse import schema

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(schema.schema_markdown(), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def _pull_one(con, salt, source: str, settings: dict, since, dry_run: bool) -> str:
    from analytics.sources import api

    if source not in settings:
        raise UsageError(f"params/sources.yaml: no 'connectors.{source}' settings")
    report = api.pull_source(
        con, source, salt=salt, settings=settings[source], since=since, dry_run=dry_run
    )
    return report.line()


def _cmd_pull(args: argparse.Namespace) -> int:
    from analytics.sources import api

    settings = api.load_settings(args.settings)
    with _loading(args.warehouse) as (con, salt):
        try:
            print(_pull_one(con, salt, args.source, settings, args.since, args.dry_run))
        except api.PullError as exc:
            print(f"error: {exc} (cursor unchanged; the next pull resumes)", file=sys.stderr)
            return 1
    return 0


def _cmd_weekly(args: argparse.Namespace) -> int:
    from analytics import weekly_cycle
    from analytics.sources import api

    settings = api.load_settings(args.settings)

    def pull(source: str) -> str:
        with _loading(args.warehouse) as (con, salt):
            return _pull_one(con, salt, source, settings, None, False)

    def report() -> int:
        try:
            return _cmd_report(
                argparse.Namespace(
                    roles=args.roles, period=args.period, out=args.out, jobs=None,
                    warehouse=args.warehouse,
                )
            )  # fmt: skip
        except UsageError as exc:
            raise ValueError(str(exc)) from None

    def email() -> int:
        return _cmd_email(
            argparse.Namespace(
                period_dir=None, roles=args.roles, dry_run=args.dry_run_email, reports_dir=args.out
            )
        )

    try:
        result = weekly_cycle.run_weekly(
            sources=api.enabled_sources(settings), pull=pull, report=report, email=email
        )
    except weekly_cycle.WeeklyBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analytics",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `python -m analytics <command> --help` for each command's options.",
    )
    parser.add_argument(
        "--project",
        type=Path,
        default=None,
        metavar="DIR",
        help=(
            "project folder holding params/ (and data/, reports/); default: ANALYTICS_HOME, "
            "else the checkout, else the current folder; bundled params/ when it has none"
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    def demo_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--size",
            choices=["tiny", "default", "large"],
            default="default",
            help="tiny ~20k visits (tests), default ~500k, large ~10M (benchmarks)",
        )
        p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        p.add_argument("--visits", type=int, default=None, help="override the visit count")

    p = sub.add_parser(
        "generate",
        help="write the seeded demo company's raw files and ground truth",
        description="Generate the demo company (visits, leads, deals, spend) with ground truth.",
    )
    demo_opts(p)
    p.add_argument("--out", type=Path, default=None, help="folder (default data/raw/<size>)")
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser(
        "load",
        help="validate raw files into the warehouse; bad rows go to quarantine",
        description=(
            "Load <table>.parquet|csv files of a folder into the DuckDB warehouse. "
            "Phones and e-mails are hashed with the salt in ANALYTICS_PII_SALT."
        ),
    )
    p.add_argument("--raw", type=Path, required=True, help="folder with the raw files")
    _add_warehouse(p)
    _add_check(p)
    p.add_argument(
        "--replace",
        action="store_true",
        help="empty the warehouse first (a full rebuild) instead of upserting",
    )
    p.set_defaults(func=_cmd_load)

    p = sub.add_parser(
        "load-source",
        help="load one vendor export (Metrica, GA4, amoCRM, calls, Direct, Google Ads)",
        description=(
            "Translate a vendor export into the canonical tables through the same "
            "validation and quarantine as `load`. Kinds: metrica, ga4, amocrm, "
            "amocrm_stages, calls, direct, google_ads. Adapter options as key=value, "
            "e.g. --option pricing_goal_ids=[123] --option vat_included=true "
            "--option encoding=cp1251 --option period=2025-06-01..2025-06-30. Columns under "
            "other names: --map 'Their column=field' (saved per kind in params/sources.yaml)."
        ),
    )
    p.add_argument("--kind", required=True, help="export kind")
    p.add_argument("--file", type=Path, required=True, help="the export file")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="'THEIR COLUMN=field'",
        help=(
            "read a column of the file as a field (repeatable), e.g. "
            "--map 'Сумма сделки=amount'; save mappings per kind in params/sources.yaml"
        ),
    )
    _add_warehouse(p)
    _add_check(p)
    p.set_defaults(func=_cmd_load_source)

    p = sub.add_parser(
        "demo",
        help="generate the demo company and load it into the warehouse",
        description="generate + load: builds the embedded default warehouse.",
    )
    demo_opts(p)
    _add_warehouse(p)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "report",
        help="run role notebooks with Papermill and render HTML reports",
        description="Build reports/<period>/<role>/ for each role in params/roles/.",
    )
    p.add_argument("--roles", default="all", help="comma-separated roles or 'all'")
    p.add_argument(
        "--period",
        default=None,
        help=(
            "last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07 "
            "(default: the role file's period, else last-week)"
        ),
    )
    p.add_argument("--out", type=Path, default=paths.REPORTS_DIR, help="reports folder")
    p.add_argument("--jobs", type=int, default=None, help="parallel notebooks (default: cores)")
    p.add_argument(
        "--warehouse",
        type=Path,
        default=None,
        help="DuckDB warehouse (default: the role file's warehouse, else data/warehouse.duckdb)",
    )
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser(
        "train-scoring",
        help="train the lead-scoring model (predicts SQL) and save it with skops",
        description="Train on the warehouse, save a versioned model and a model card.",
    )
    p.add_argument(
        "--kind",
        choices=["logistic", "boosting", "auto"],
        default="auto",
        help="model kind; auto: logistic regression below 1,000 labelled leads, else boosting",
    )
    p.add_argument("--out", type=Path, default=paths.DATA_DIR / "models", help="model folder")
    _add_warehouse(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "score",
        help="score leads with a saved model into table lead_scores",
        description="Write lead_scores (lead_id, score, reasons) for CRM import.",
    )
    p.add_argument("--model", type=Path, required=True, help=".skops model file")
    _add_warehouse(p)
    p.set_defaults(func=_cmd_score)

    p = sub.add_parser(
        "call-list",
        help="export the call list (score 0-100, band A-D, reasons in words) as CSV",
        description="Score the period's leads with the saved model and write a CSV for sales.",
    )
    p.add_argument("--model", type=Path, default=None, help=".skops model (default: newest)")
    p.add_argument("--models", type=Path, default=paths.DATA_DIR / "models", help="model folder")
    p.add_argument("--period", default="last-week", help="e.g. last-week, 2025-W23, all")
    p.add_argument("--language", choices=["ru", "en"], default="ru")
    p.add_argument("--out", type=Path, default=Path("call_list.csv"), help="CSV file")
    _add_warehouse(p)
    p.set_defaults(func=_cmd_call_list)

    p = sub.add_parser(
        "email",
        help="e-mail each role its report (inline summary + full report attached)",
        description=(
            "Send the reports of a period over SMTP (params/email.yaml; password from "
            "the environment variable it names) or write .eml files with --dry-run."
        ),
    )
    p.add_argument("--period-dir", type=Path, default=None, help="reports/<period> folder")
    p.add_argument("--roles", default="all", help="comma-separated roles or 'all'")
    p.add_argument("--dry-run", action="store_true", help="write .eml files, send nothing")
    p.set_defaults(func=_cmd_email)

    p = sub.add_parser(
        "metrics",
        help="print the period snapshot (every catalogue metric, previous period, year ago)",
        description=(
            "Compute every metric of the catalogue for the period, the previous period of "
            "the same length and the same period a year earlier (booked and cohort figures, "
            "labelled by the catalogue); --out also writes <out>/<period>/metrics.json."
        ),
    )
    p.add_argument(
        "--period",
        default="last-week",
        help="last-week, last-month, all, 2025-W23, 2025-06 or 2025-06-01..2025-06-07",
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--locale", default="ru", help="language of the table's labels (ru or en)")
    p.add_argument("--out", type=Path, default=None, help="also write metrics.json under here")
    p.add_argument(
        "--backend",
        default=None,
        help=(
            "engine that computes the figures: duckdb:// (on --warehouse), "
            "pyspark://local[N] (a local Spark fed from --warehouse) or pyspark://active; "
            "default: url in params/backend.yaml"
        ),
    )
    _add_warehouse(p)
    p.set_defaults(func=_cmd_metrics)

    p = sub.add_parser(
        "pull",
        help="pull one source from its API into the warehouse (incremental)",
        description=(
            "Pull what is new since the last successful pull (cursor in table pull_state) "
            "and load it through the source's adapter. Settings: params/sources.yaml "
            "'connectors:'; secrets: ANALYTICS_<SOURCE>_* variables or data/secrets/."
        ),
    )
    p.add_argument(
        "source",
        choices=["metrica", "amocrm", "direct", "google_ads", "comagic", "ga4"],
        help="connector",
    )
    p.add_argument(
        "--since",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="pull from this day instead of the saved cursor",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="fetch and check against a throwaway warehouse; warehouse and cursor untouched",
    )
    p.add_argument("--settings", type=Path, default=None, help="default params/sources.yaml")
    _add_warehouse(p)
    p.set_defaults(func=_cmd_pull)

    p = sub.add_parser(
        "weekly",
        help="pull every enabled source, load, report and e-mail (one run at a time)",
        description=(
            "The weekly cycle under a lock (data/weekly.lock) with a run log in data/runs/; "
            "exits 1 if any step failed."
        ),
    )
    p.add_argument("--period", default=None, help="report period (default: role file / last-week)")
    p.add_argument("--roles", default="all", help="comma-separated roles or 'all'")
    p.add_argument("--out", type=Path, default=paths.REPORTS_DIR, help="reports folder")
    p.add_argument(
        "--dry-run-email", action="store_true", help="write .eml files instead of sending"
    )
    p.add_argument("--settings", type=Path, default=None, help="default params/sources.yaml")
    _add_warehouse(p)
    p.set_defaults(func=_cmd_weekly)

    p = sub.add_parser("schema-doc", help="write the warehouse schema as Markdown")
    p.add_argument("--out", type=Path, default=paths.ROOT / "docs" / "schema.md")
    p.set_defaults(func=_cmd_schema_doc)
    return parser


def _apply_project(argv: list[str] | None) -> None:
    """Set the project folder from ``--project DIR`` before any path is used."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--project", type=Path, default=None)
    known, _ = pre.parse_known_args(argv)
    if known.project is not None:
        try:
            paths.set_project(known.project)
        except NotADirectoryError as exc:
            raise UsageError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    try:
        _apply_project(argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as exc:  # InputError is a ValueError
        if os.environ.get("ANALYTICS_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unreadable, missing or folder paths met below the checks
        if os.environ.get("ANALYTICS_DEBUG"):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
