"""Command line: each command works, and user errors are one clear line (exit 2)."""

from __future__ import annotations

import re
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
    assert (
        "3 rows in = 2 inserted + 0 updated + 0 unchanged + 1 quarantined"
        in capsys.readouterr().out
    )
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
    assert (
        "6 rows in = 6 inserted + 0 updated + 0 unchanged + 0 quarantined"
        in capsys.readouterr().out
    )
    assert cli.main([*base, "--option", "nonsense"]) == 2
    assert "expected key=value" in capsys.readouterr().err
    truncated = str(FIXTURES / "bad" / "calls_truncated.csv")
    args = ["load-source", "--kind", "calls", "--file", truncated, "--warehouse", wh]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "calls_truncated.csv" in err and "line 3" in err and "Traceback" not in err


# --------------------------------------------------------------------------- upsert, check, errors


def run_cli(*args, env_extra=None):
    """The CLI in a subprocess: (exit code, stdout, stderr)."""
    import os

    env = os.environ | {"PYTHONPATH": str(ROOT / "src"), "ANALYTICS_PII_SALT": "s"}
    env |= env_extra or {}
    done = subprocess.run(
        [sys.executable, "-m", "analytics", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return done.returncode, done.stdout, done.stderr


def main_in_process(capsys, *args):
    """The CLI in this process (``cli.main``): (exit code, stdout, stderr).

    For checks of a command's exit code and message; an exception that escaped ``main``
    would fail the test. Each behaviour of the subprocess as a whole (exit code 2 and one
    line with no traceback, ANALYTICS_HOME) keeps a :func:`run_cli` check of its own."""
    capsys.readouterr()  # what earlier calls printed
    code = cli.main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


def write_deals_dir(raw, rows):
    raw.mkdir(parents=True, exist_ok=True)
    files = {
        "spend.csv": "date,channel,utm_source,utm_medium,campaign,ad_group,creative,"
        "impressions,clicks,cost\n2024-05-01,p,y,cpc,b,g,c,1,1,1\n",
        "visits.csv": "visit_id,visitor_id,visit_start,channel,pageviews,duration_s,"
        "goal_pricing\nv1,u1,2024-05-01 10:00,p,1,1,true\n",
        "leads.csv": "lead_id,created_at,lead_type\nL1,2024-05-01 10:00,form\n",
        "deal_stages.csv": "deal_id,stage,entered_at\nD1,new,2024-05-02 10:00\n",
    }
    for name, text in files.items():
        (raw / name).write_text(text, encoding="utf-8")
    header = "deal_id,lead_id,created_at,closed_at,status,stage,amount"
    (raw / "deals.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def test_load_upserts_a_newer_export_and_check_writes_nothing(tmp_path, monkeypatch, capsys):
    """Week 1: D1, D2, D3 open. Week 2: D1 won, D2 same, D3 lost, D4 new ->
    4 rows in = 1 inserted + 2 updated + 1 unchanged + 0 quarantined; the --check
    run says the same and leaves the file byte-identical; a second real load of
    week 2 finds 4 unchanged."""
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    wh = tmp_path / "w.duckdb"
    week1 = [
        "D1,L1,2024-05-02 10:00,,open,sql,100",
        "D2,,2024-05-03 10:00,,open,new,",
        "D3,,2024-05-04 10:00,,open,demo,300",
    ]
    week2 = [
        "D1,L1,2024-05-02 10:00,2024-05-20 10:00,won,won,150",
        week1[1],
        "D3,,2024-05-04 10:00,2024-05-21 10:00,lost,lost,300",
        "D4,,2024-05-22 10:00,,open,new,",
    ]
    write_deals_dir(tmp_path / "w1", week1)
    write_deals_dir(tmp_path / "w2", week2)
    assert cli.main(["load", "--raw", str(tmp_path / "w1"), "--warehouse", str(wh)]) == 0
    capsys.readouterr()
    before = wh.read_bytes()
    args = ["load", "--raw", str(tmp_path / "w2"), "--warehouse", str(wh)]
    assert cli.main([*args, "--check"]) == 0
    out = capsys.readouterr().out
    assert "4 rows in = 1 inserted + 2 updated + 1 unchanged + 0 quarantined" in out
    assert "1 rows in = 0 inserted + 0 updated + 1 unchanged + 0 quarantined" in out
    assert "dry run (--check): nothing was written" in out
    assert wh.read_bytes() == before
    assert cli.main(args) == 0
    assert "4 rows in = 1 inserted + 2 updated + 1 unchanged + 0 quarantined" in (
        capsys.readouterr().out
    )
    assert cli.main(args) == 0
    assert "4 rows in = 0 inserted + 0 updated + 4 unchanged + 0 quarantined" in (
        capsys.readouterr().out
    )
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT sum(amount) FROM deals WHERE status = 'won'").fetchall() == [
        (150.0,)
    ]
    con.close()


def test_load_source_twice_is_all_unchanged_and_check_writes_nothing(tmp_path, monkeypatch, capsys):
    """The Metrica fixture has 6 visits: first 6 inserted, then 6 unchanged; a --check
    on a fresh path creates no file."""
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    wh = tmp_path / "w.duckdb"
    visits = str(FIXTURES / "metrica_visits.tsv")
    base = ["load-source", "--kind", "metrica", "--file", visits, "--option", "pricing_goal_ids=[]"]
    assert cli.main([*base, "--warehouse", str(tmp_path / "none.duckdb"), "--check"]) == 0
    assert "6 rows in = 6 inserted + 0 updated" in capsys.readouterr().out
    assert not (tmp_path / "none.duckdb").exists()
    assert cli.main([*base, "--warehouse", str(wh)]) == 0
    before = wh.read_bytes()
    assert cli.main([*base, "--warehouse", str(wh), "--check"]) == 0
    assert "6 rows in = 0 inserted + 0 updated + 6 unchanged + 0 quarantined" in (
        capsys.readouterr().out
    )
    assert wh.read_bytes() == before
    assert cli.main([*base, "--warehouse", str(wh)]) == 0
    assert "6 rows in = 0 inserted + 0 updated + 6 unchanged" in capsys.readouterr().out


def test_another_salt_is_refused_with_one_line(tmp_path, monkeypatch, capsys):
    """The refusal with exit code 2 and no traceback in a subprocess; the first load and
    the ``--check`` variant in this process."""
    wh = tmp_path / "w.duckdb"
    raw = tmp_path / "raw"
    write_deals_dir(raw, ["D1,,2024-05-02 10:00,,open,new,"])
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    assert main_in_process(capsys, "load", "--raw", raw, "--warehouse", wh)[0] == 0
    code, out, err = run_cli(
        "load", "--raw", raw, "--warehouse", wh, env_extra={"ANALYTICS_PII_SALT": "another"}
    )
    assert code == 2
    assert err.startswith("error: ANALYTICS_PII_SALT differs from the salt")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    monkeypatch.setenv("ANALYTICS_PII_SALT", "another")
    code, _, err = main_in_process(capsys, "load", "--raw", raw, "--warehouse", wh, "--check")
    assert code == 2 and "differs from the salt" in err


def test_locked_warehouse_is_retried_then_named_with_its_holder(tmp_path, monkeypatch, capsys):
    """Another process holds the write lock: after ANALYTICS_LOCK_WAIT seconds one line
    names that process's PID."""
    wh = tmp_path / "w.duckdb"
    duckdb.connect(str(wh)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(wh)!r}); print('ready', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
        monkeypatch.setenv("ANALYTICS_LOCK_WAIT", "0.3")
        raw = tmp_path / "raw"
        write_deals_dir(raw, ["D1,,2024-05-02 10:00,,open,new,"])
        assert cli.main(["load", "--raw", str(raw), "--warehouse", str(wh)]) == 2
        err = capsys.readouterr().err
        assert f"the warehouse is locked by process {holder.pid} (" in err
        assert "waited 0.3 s" in err and len(err.strip().splitlines()) == 1
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_non_duckdb_warehouse_folder_and_unreadable_file_are_one_line(
    tmp_path, monkeypatch, capsys
):
    """``load`` on a text file in a subprocess (exit code 2, one line, no traceback); the
    other commands and paths in this process (``cli.main``: the same code and line)."""
    text = tmp_path / "notes.duckdb"
    text.write_text("this is not a database\n" * 100, encoding="utf-8")
    raw = tmp_path / "raw"
    write_deals_dir(raw, ["D1,,2024-05-02 10:00,,open,new,"])
    code, _, err = run_cli("load", "--raw", raw, "--warehouse", text)
    assert code == 2, err
    assert err.startswith(f"error: {text}: not a DuckDB warehouse file")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    code, _, err = main_in_process(capsys, "report", "--roles", "ceo", "--warehouse", text)
    assert code == 2, err
    assert err.startswith(f"error: {text}: not a DuckDB warehouse file")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    code, _, err = main_in_process(
        capsys,
        "load-source", "--kind", "amocrm", "--file", tmp_path, "--warehouse", tmp_path / "w.duckdb"
    )  # fmt: skip
    assert (code, err.strip()) == (
        2,
        f"error: {tmp_path}: is a folder; --file takes one export file",
    )
    code, _, err = main_in_process(capsys, "load", "--raw", raw, "--warehouse", tmp_path)
    assert (code, err.strip()) == (
        2,
        f"error: {tmp_path}: is a folder, not a DuckDB warehouse file",
    )
    junk_model = tmp_path / "model.skops"
    junk_model.write_text("not a zip", encoding="utf-8")
    code, _, err = main_in_process(
        capsys, "score", "--model", junk_model, "--warehouse", tmp_path / "w.duckdb"
    )
    assert (code, err.strip()) == (
        2,
        f"error: {junk_model}: not a .skops model file (train one with `train-scoring`)",
    )
    code, _, err = main_in_process(
        capsys, "load", "--raw", junk_model, "--warehouse", tmp_path / "w.duckdb"
    )
    assert (code, err.strip()) == (
        2,
        f"error: {junk_model}: is a file; --raw takes the folder of raw files",
    )
    # Root reads every file, so the unreadable case is simulated at the permission check.
    monkeypatch.setattr(cli.os, "access", lambda *a, **k: False)
    export = FIXTURES / "metrica_visits.tsv"
    args = ["load-source", "--kind", "metrica", "--file", str(export)]
    assert cli.main([*args, "--warehouse", str(tmp_path / "w.duckdb")]) == 2
    assert capsys.readouterr().err == f"error: {export}: no permission to read the file\n"


def test_next_weeks_amocrm_export_updates_won_deals(tmp_path, monkeypatch, capsys):
    """Week 2 of the amoCRM fixture (cp1251, `;`): deal 31544003 negotiated -> won on
    25.05.2024 with 450 000,00 RUB, 31544004 changes manager, 31544005 is new, the other
    two are as before: 5 rows in = 1 inserted + 2 updated + 2 unchanged + 0 quarantined,
    and won revenue grows by exactly 450 000."""
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    wh = tmp_path / "w.duckdb"
    week1 = FIXTURES / "amocrm_deals.csv"
    lines = week1.read_bytes().decode("cp1251").split("\r\n")
    lines[3] = lines[3].replace(
        "31544003;Запрос с сайта;;Елена Попова;03.05.2024 12:30:00;;Продажи;Переговоры;",
        "31544003;Запрос с сайта;450 000,00;Елена Попова;03.05.2024 12:30:00;"
        "25.05.2024 18:00:00;Продажи;Успешно реализовано;",
    )
    lines[4] = lines[4].replace("Мария Новикова", "Ольга Белова")
    new = "31544005;Новая;10 000,00;Анна Смирнова;24.05.2024 10:00:00;;Продажи;Первичный контакт;"
    lines.insert(5, new + ";" * (lines[0].count(";") - new.count(";")))
    week2 = tmp_path / "amocrm_week2.csv"
    week2.write_bytes("\r\n".join(lines).encode("cp1251"))
    base = ["load-source", "--kind", "amocrm", "--warehouse", str(wh)]
    assert cli.main([*base, "--file", str(week1)]) == 0
    assert "4 rows in = 4 inserted + 0 updated + 0 unchanged + 0 quarantined" in (
        capsys.readouterr().out
    )
    con = duckdb.connect(str(wh), read_only=True)
    [(won_before,)] = con.execute("SELECT sum(amount) FROM deals WHERE status = 'won'").fetchall()
    con.close()
    assert cli.main([*base, "--file", str(week2)]) == 0
    assert "5 rows in = 1 inserted + 2 updated + 2 unchanged + 0 quarantined" in (
        capsys.readouterr().out
    )
    con = duckdb.connect(str(wh), read_only=True)
    [(won_after,)] = con.execute("SELECT sum(amount) FROM deals WHERE status = 'won'").fetchall()
    assert won_after - won_before == 450_000.0
    assert con.execute(
        "SELECT status, stage, status_id, manager FROM deals WHERE deal_id IN ('31544003', "
        "'31544004') ORDER BY deal_id"
    ).fetchall() == [("won", "won", 142, "Елена Попова"), ("open", "new", None, "Ольга Белова")]
    con.close()


def test_check_of_a_rebuild_counts_every_valid_row_as_inserted(tmp_path, monkeypatch, capsys):
    """`load --replace --check` on a warehouse already holding the same deals: a rebuild
    would insert all 3 deals (not find them unchanged), and the file stays byte-identical."""
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    wh = tmp_path / "w.duckdb"
    raw = tmp_path / "raw"
    write_deals_dir(raw, [f"D{i},,2024-05-0{i} 10:00,,open,new," for i in (1, 2, 3)])
    args = ["load", "--raw", str(raw), "--warehouse", str(wh)]
    assert cli.main(args) == 0
    capsys.readouterr()
    before = wh.read_bytes()
    assert cli.main([*args, "--replace", "--check"]) == 0
    assert "3 rows in = 3 inserted + 0 updated + 0 unchanged + 0 quarantined" in (
        capsys.readouterr().out
    )
    assert wh.read_bytes() == before


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
    assert "3 rows in = 3 inserted + 0 updated + 0 unchanged + 0 quarantined" in out
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
    assert "3 rows in = 3 inserted + 0 updated + 0 unchanged + 0 quarantined" in done.stdout


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
    assert "5 rows in = 5 inserted + 0 updated + 0 unchanged + 0 quarantined" in out
    assert "0 rows skipped by design, 4 placeholders read as empty" in out
    assert "warning: closed_at: 3 placeholder value(s) read as empty" in out


@pytest.mark.parametrize(
    ("kind", "fixture"),
    [
        ("amocrm", FIXTURES / "amocrm_deals.csv"),  # writes deal_contacts for real
        ("calls", FIXTURES / "bad" / "calls_nul_bytes.csv"),  # rewrites quarantine reasons
        ("ga4", FIXTURES / "bad" / "ga4_split_day2.ndjson"),  # merges a split session
    ],
)
def test_load_source_check_of_adapters_with_side_writes_writes_nothing(
    kind, fixture, tmp_path, monkeypatch, capsys
):
    """``--check`` through adapters that write beside the canonical table (contact hashes,
    quarantine reasons, merged GA4 sessions): one summary, exit 0, the file byte-identical."""
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    wh = tmp_path / "w.duckdb"
    seed = FIXTURES / "metrica_visits.tsv"
    assert cli.main(
        ["load-source", "--kind", "metrica", "--file", str(seed), "--warehouse", str(wh),
         "--option", "pricing_goal_ids=[]"]
    ) == 0  # fmt: skip
    if kind == "ga4":  # the first day of the split session is stored already
        first = str(FIXTURES / "bad" / "ga4_split_day1.ndjson")
        assert (
            cli.main(["load-source", "--kind", "ga4", "--file", first, "--warehouse", str(wh)]) == 0
        )
    capsys.readouterr()
    before = wh.read_bytes()
    code = cli.main(
        ["load-source", "--kind", kind, "--file", str(fixture), "--warehouse", str(wh), "--check"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert f"dry run (--check): nothing was written to {wh}" in out
    assert re.search(r"(\d+) rows in = \d+ inserted \+ \d+ updated \+ \d+ unchanged", out)
    assert wh.read_bytes() == before


def test_check_on_a_warehouse_missing_a_newer_table_is_one_line(tmp_path, monkeypatch, capsys):
    """A warehouse written before ``lead_fields`` existed: a dry run cannot add the table."""
    monkeypatch.setenv("ANALYTICS_PII_SALT", "s")
    wh = tmp_path / "w.duckdb"
    visits = str(FIXTURES / "metrica_visits.tsv")
    base = ["load-source", "--kind", "metrica", "--file", visits, "--option", "pricing_goal_ids=[]"]
    assert cli.main([*base, "--warehouse", str(wh)]) == 0
    with duckdb.connect(str(wh)) as con:
        con.execute("DROP TABLE lead_fields")
    capsys.readouterr()
    assert cli.main([*base, "--warehouse", str(wh), "--check"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: the warehouse has no table lead_fields") and "without --check" in err
    )
    assert len(err.strip().splitlines()) == 1
