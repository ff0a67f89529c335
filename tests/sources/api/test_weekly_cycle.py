"""The weekly cycle (lock, run log, failure handling) and the `pull` / `weekly` commands.

The command tests run the real CLI against the local Reports API of
``test_direct_reports`` (Direct is the quickest protocol to fake); the report
and e-mail steps are replaced by recorders in the ``weekly`` command test
(they have their own tests; running notebooks here would add minutes).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import filelock
import pytest
from test_direct_reports import D2, TOKEN, FakeReports

from analytics import cli, weekly_cycle
from analytics.sources.api import CONNECTORS

ROOT = Path(__file__).resolve().parents[3]


def run(tmp_path, sources, pull=None, report=None, email=None, calls=None):
    calls = [] if calls is None else calls

    def default_pull(source):
        calls.append(f"pull {source}")
        return f"{source}: 3 rows"

    def step(name):
        def action():
            calls.append(name)
            return 0

        return action

    lines = []
    result = weekly_cycle.run_weekly(
        sources=sources,
        pull=pull or default_pull,
        report=report or step("report"),
        email=email or step("email"),
        lock_path=tmp_path / "weekly.lock",
        log_dir=tmp_path / "runs",
        echo=lines.append,
    )
    return result, calls, lines


def test_all_steps_in_order_and_logged(tmp_path):
    result, calls, lines = run(tmp_path, ["metrica", "direct"])
    assert result.ok
    assert calls == ["pull metrica", "pull direct", "report", "email"]
    logged = result.log_path.read_text(encoding="utf-8")
    for line in ["pull metrica: metrica: 3 rows", "pull direct: direct: 3 rows", "report: ok",
                 "email: ok", "weekly run ok"]:  # fmt: skip
        assert line in logged
    assert lines[0] == "weekly run started; sources: metrica, direct"


def test_a_failed_pull_skips_report_and_email_but_not_other_pulls(tmp_path):
    calls = []

    def pull(source):
        calls.append(f"pull {source}")
        if source == "metrica":
            raise RuntimeError("metrica: GET /x failed after 5 attempts: HTTP 503")
        return "ok"

    result, calls, lines = run(tmp_path, ["metrica", "direct"], pull=pull, calls=calls)
    assert not result.ok
    assert calls == ["pull metrica", "pull direct"]
    assert "pull metrica: FAILED: metrica: GET /x failed after 5 attempts: HTTP 503" in lines
    assert lines[-1].startswith("weekly run FAILED")


def test_report_failure_skips_email(tmp_path):
    result, calls, lines = run(tmp_path, ["direct"], report=lambda: 1)
    assert not result.ok
    assert "email" not in calls
    assert "report: FAILED (exit code 1)" in lines


def test_unexpected_error_is_one_line_on_screen_traceback_in_log_only(tmp_path):
    def email():
        raise KeyError("smtp")

    result, _, lines = run(tmp_path, ["direct"], email=email)
    assert "email: FAILED: unexpected KeyError: 'smtp'" in lines
    assert not any("Traceback" in line for line in lines)
    assert "Traceback (most recent call last)" in result.log_path.read_text(encoding="utf-8")


def test_no_enabled_source_is_a_failure(tmp_path):
    result, calls, _ = run(tmp_path, [])
    assert not result.ok and calls == []


def test_second_run_while_the_lock_is_held_by_another_process_does_nothing(tmp_path):
    """A child process holds the lock (flock); our run must refuse at once."""
    lock = tmp_path / "weekly.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import filelock, sys, time
            with filelock.FileLock({str(lock)!r}):
                print("held", flush=True)
                time.sleep(30)
        """)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(weekly_cycle.WeeklyBusy, match="another weekly run holds"):
            run(tmp_path, ["direct"])
    finally:
        holder.kill()
        holder.wait()
    result, calls, _ = run(tmp_path, ["direct"])  # released by the kernel when it died
    assert result.ok and calls[0] == "pull direct"


# ------------------------------------------------------------------ the commands


@pytest.fixture
def direct_env(httpserver, secrets, monkeypatch, tmp_path):
    monkeypatch.setenv("ANALYTICS_DIRECT_TOKEN", TOKEN)
    monkeypatch.setenv("ANALYTICS_DIRECT_BASE_URL", httpserver.url_for("/"))
    monkeypatch.setenv("ANALYTICS_PII_SALT", "test-salt")
    monkeypatch.setattr("analytics.sources.api.pulling.time.sleep", lambda s: None)
    monkeypatch.setattr("analytics.sources.api.pulling.paths.DATA_DIR", tmp_path / "data")
    settings = tmp_path / "sources.yaml"
    settings.write_text(
        "connectors:\n  direct:\n    enabled: true\n    initial_days: 2\n"
        "  metrica:\n    enabled: false\n    counter_id: 1\n    pricing_goal_ids: []\n",
        encoding="utf-8",
    )
    return FakeReports(httpserver), settings


def test_pull_command_loads_and_saves_the_cursor(direct_env, tmp_path, capsys):
    _, settings = direct_env
    warehouse = tmp_path / "w.duckdb"
    code = cli.main(["pull", "direct", "--settings", str(settings), "--warehouse", str(warehouse)])
    assert code == 0
    out = capsys.readouterr().out
    assert "-> spend: 2 in = 2 loaded + 0 quarantined" in out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM spend").fetchone()[0] == 2
        assert con.execute("SELECT cursor FROM pull_state").fetchall() == [(str(D2),)]


def test_pull_command_vendor_failure_is_one_line_exit_1(direct_env, tmp_path, capsys):
    fake, settings = direct_env
    fake.always_building = True
    settings.write_text(
        "connectors:\n  direct:\n    enabled: true\n    initial_days: 2\n    poll_limit: 2\n"
    )
    code = cli.main(["pull", "direct", "--settings", str(settings), "--warehouse",
                     str(tmp_path / "w.duckdb")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "still being built after 2 checks" in err
    assert "Traceback" not in err and TOKEN not in err


def test_pull_command_missing_secret_exit_2(direct_env, tmp_path, capsys, monkeypatch):
    _, settings = direct_env
    monkeypatch.delenv("ANALYTICS_DIRECT_TOKEN")
    code = cli.main(["pull", "direct", "--settings", str(settings), "--warehouse",
                     str(tmp_path / "w.duckdb")])  # fmt: skip
    assert code == 2
    assert "direct: no token; set ANALYTICS_DIRECT_TOKEN" in capsys.readouterr().err


def test_weekly_command_pulls_enabled_sources_then_reports_and_emails(
    direct_env, tmp_path, monkeypatch, capsys
):
    """metrica is disabled: only direct is pulled; report and email run after it."""
    _, settings = direct_env
    calls = []
    monkeypatch.setattr(cli, "_cmd_report", lambda a: calls.append(("report", a.period)) or 0)
    monkeypatch.setattr(cli, "_cmd_email", lambda a: calls.append(("email", a.dry_run)) or 0)
    monkeypatch.setattr(weekly_cycle, "LOCK_FILE", tmp_path / "weekly.lock")
    monkeypatch.setattr(weekly_cycle, "RUN_LOG_DIR", tmp_path / "runs")
    warehouse = str(tmp_path / "w.duckdb")
    code = cli.main(
        ["weekly", "--settings", str(settings), "--warehouse", warehouse,
         "--period", "last-week", "--dry-run-email"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert calls == [("report", "last-week"), ("email", True)]
    assert "weekly run started; sources: direct" in out
    assert len(list((tmp_path / "runs").glob("weekly-*.log"))) == 1


def test_pull_command_choices_are_the_connectors():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command" or a.choices)
    pull = sub.choices["pull"]
    source = next(a for a in pull._actions if a.dest == "source")
    assert sorted(source.choices) == sorted(CONNECTORS)


def test_weekly_command_while_another_run_holds_the_lock_exits_1(
    direct_env, tmp_path, monkeypatch, capsys
):
    _, settings = direct_env
    monkeypatch.setattr(weekly_cycle, "LOCK_FILE", tmp_path / "weekly.lock")
    monkeypatch.setattr(weekly_cycle, "RUN_LOG_DIR", tmp_path / "runs")
    with filelock.FileLock(tmp_path / "weekly.lock"):
        code = cli.main(["weekly", "--settings", str(settings), "--warehouse",
                         str(tmp_path / "w.duckdb")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: another weekly run holds") and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_pull_command_dry_run_leaves_warehouse_and_cursor(direct_env, tmp_path, capsys):
    _, settings = direct_env
    warehouse = tmp_path / "w.duckdb"
    code = cli.main(["pull", "direct", "--dry-run", "--settings", str(settings),
                     "--warehouse", str(warehouse)])  # fmt: skip
    assert code == 0
    assert "[dry run: warehouse and cursor untouched]" in capsys.readouterr().out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM spend").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM pull_state").fetchone()[0] == 0


def test_shipped_settings_name_every_connector_and_enable_none():
    """params/sources.yaml parses, has a block per connector, and ships all disabled
    (a fresh checkout has no credentials)."""
    from analytics.sources.api import enabled_sources, load_settings

    settings = load_settings(ROOT / "params" / "sources.yaml")
    assert sorted(settings) == sorted(CONNECTORS)
    assert enabled_sources(settings) == []
