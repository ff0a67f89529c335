"""Command line: each command works, and user errors are one clear line (exit 2)."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from analytics import cli
from analytics.paths import ROOT

FIXTURES = ROOT / "tests" / "sources" / "fixtures"

COMMANDS = [
    "generate",
    "load",
    "load-source",
    "demo",
    "report",
    "train-scoring",
    "score",
    "email",
    "schema-doc",
]


def test_help_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "analytics", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: python -m analytics " + command in capsys.readouterr().out


def test_generate_then_load(tmp_path, monkeypatch, capsys):
    raw = tmp_path / "raw"
    assert cli.main(["generate", "--visits", "3000", "--seed", "5", "--out", str(raw)]) == 0
    assert (raw / "visits.parquet").exists() and (raw / "truth" / "defects.parquet").exists()
    wh = tmp_path / "wh.duckdb"
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    assert cli.main(["load", "--raw", str(raw), "--warehouse", str(wh)]) == 0
    out = capsys.readouterr().out
    assert "rows_in" in out and "0 rows quarantined" in out
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT count(*) FROM visits").fetchone()[0] > 2000
    con.close()


def test_load_without_salt_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ANALYTICS_PII_SALT", raising=False)
    raw = tmp_path / "raw"
    raw.mkdir()
    assert cli.main(["load", "--raw", str(raw), "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "ANALYTICS_PII_SALT" in err
    assert "Traceback" not in err


def test_load_missing_file_names_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    raw = tmp_path / "raw"
    raw.mkdir()
    assert cli.main(["load", "--raw", str(raw), "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    err = capsys.readouterr().err
    assert "spend" in err and "Traceback" not in err


def test_report_without_warehouse_is_a_clear_error(tmp_path, capsys):
    code = cli.main(["report", "--warehouse", str(tmp_path / "missing.duckdb")])
    assert code == 2
    assert "run `python -m analytics demo` first" in capsys.readouterr().err


def test_load_source_reconciles_and_quarantines(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    wh = tmp_path / "w.duckdb"
    bad = FIXTURES / "bad" / "amocrm_duplicate_ids.csv"
    args = ["load-source", "--kind", "amocrm", "--file", str(bad), "--warehouse", str(wh)]
    assert cli.main(args) == 0
    assert "3 rows in = 2 loaded + 1 quarantined" in capsys.readouterr().out
    con = duckdb.connect(str(wh), read_only=True)
    row = con.execute("SELECT source_file, row_number, reason FROM quarantine").fetchall()
    con.close()
    assert len(row) == 1 and row[0][0].endswith("amocrm_duplicate_ids.csv") and row[0][1] == 3
    assert "duplicate" in row[0][2]


def test_load_source_options_and_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    wh = str(tmp_path / "w.duckdb")
    visits = str(FIXTURES / "metrica_visits.tsv")
    base = ["load-source", "--kind", "metrica", "--file", visits, "--warehouse", wh]
    assert cli.main([*base, "--option", "pricing_goal_ids=[]"]) == 0
    assert "6 rows in = 6 loaded + 0 quarantined" in capsys.readouterr().out
    assert cli.main([*base, "--option", "nonsense"]) == 2
    assert "expected key=value" in capsys.readouterr().err
    truncated = str(FIXTURES / "bad" / "calls_truncated.csv")
    args = ["load-source", "--kind", "calls", "--file", truncated, "--warehouse", wh]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "calls_truncated.csv" in err and "line 3" in err and "Traceback" not in err


def test_load_source_map_reads_a_foreign_call_log(tmp_path, monkeypatch, capsys):
    """Sipuni-like log: refused without a mapping (exit 2, the --map suggestion printed),
    loaded with two --map options: 3 leads, 2 calls skipped (outgoing, internal)."""
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    wh = str(tmp_path / "w.duckdb")
    log = str(FIXTURES / "real" / "calls_sipuni.csv")
    base = ["load-source", "--kind", "calls", "--file", log, "--warehouse", wh]
    assert cli.main(base) == 2
    err = capsys.readouterr().err
    assert '--map "Время=created_at"' in err and "Traceback" not in err
    assert cli.main([*base, "--map", "ID записи=lead_id", "--map", "Время=created_at"]) == 0
    out = capsys.readouterr().out
    assert "3 rows in = 3 loaded + 0 quarantined" in out
    assert "2 rows skipped by design" in out
    assert "warning: 2 call(s) skipped, not leads: 1 outgoing, 1 internal" in out
    assert cli.main([*base, "--map", "no equals sign"]) == 2
    assert 'expected "Their column=field"' in capsys.readouterr().err


def _run_cli(args: list[str], cwd, env_extra: dict) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if k != "ANALYTICS_HOME"}
    env |= {"PYTHONPATH": str(ROOT / "src"), "ANALYTICS_PII_SALT": "s", **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_project_folder_with_its_own_params_is_used(tmp_path):
    """--project DIR: DIR/params/sources.yaml holds the saved Sipuni mapping."""
    project = tmp_path / "client"
    (project / "params").mkdir(parents=True)
    (project / "params" / "sources.yaml").write_text(
        'calls:\n  columns:\n    "ID записи": lead_id\n    "Время": created_at\n',
        encoding="utf-8",
    )
    log = FIXTURES / "real" / "calls_sipuni.csv"
    wh = tmp_path / "w.duckdb"
    done = _run_cli(
        ["--project", str(project), "load-source", "--kind", "calls", "--file", str(log),
         "--warehouse", str(wh)],
        tmp_path,
        {},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "3 rows in = 3 loaded + 0 quarantined" in done.stdout


def test_project_without_params_uses_the_bundled_defaults(tmp_path):
    """ANALYTICS_HOME = a folder with no params/: the bundled channel rules group PMax."""
    report = FIXTURES / "real" / "google_ads_campaigns_excel_utf16.csv"
    wh = tmp_path / "w.duckdb"
    done = _run_cli(
        ["load-source", "--kind", "google_ads", "--file", str(report), "--warehouse", str(wh)],
        tmp_path,
        {"ANALYTICS_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    con = duckdb.connect(str(wh), read_only=True)
    channels = con.execute("SELECT DISTINCT channel FROM spend ORDER BY 1").fetchall()
    con.close()
    assert channels == [("google_demand_gen",), ("google_pmax",), ("google_search",), ("youtube",)]


def test_missing_project_folder_is_one_clear_line(tmp_path):
    done = _run_cli(["--project", str(tmp_path / "nope"), "schema-doc"], tmp_path, {})
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: {tmp_path / 'nope'}: project folder not found (--project / ANALYTICS_HOME)"
    )


def test_load_source_summary_counts_placeholders(tmp_path, monkeypatch, capsys):
    """amoCRM export with «не закрыта» (x2), '0000-00-00 00:00:00' and 'не указано': 4."""
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    deals = FIXTURES / "real" / "amocrm_deals_utf8.csv"
    args = ["load-source", "--kind", "amocrm", "--file", str(deals)]
    assert cli.main([*args, "--warehouse", str(tmp_path / "w.duckdb")]) == 0
    out = capsys.readouterr().out
    assert "5 rows in = 5 loaded + 0 quarantined" in out
    assert "0 rows skipped by design, 4 placeholders read as empty" in out
    assert "warning: closed_at: 3 placeholder value(s) read as empty" in out
