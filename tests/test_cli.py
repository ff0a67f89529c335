"""Command line: each command works, and user errors are one clear line (exit 2)."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from analytics import cli

COMMANDS = ["generate", "load", "demo", "report", "train-scoring", "score", "email", "schema-doc"]


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
