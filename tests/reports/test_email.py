"""Tests of the e-mail (``reports.message``, ``reports.sending``) on a hand-made period folder.

The period folder mimics what the report runner writes (``manifest.json``,
``metrics.json`` and ``<role>/<notebook>.html``); the role ``sales`` failed in it.
The snapshot is computed once from ``funnel_fixture``'s hand-made warehouse, whose
week 2025-W23 is worked out in that module's docstring: booked revenue 150 777 RUB
from 3 sales, spend 21 000 RUB, so ROMI = (150 777 − 21 000) / 21 000 = 618.0 %,
CAC = 7 000 RUB, ДРР = 13.9 %. Personal data is planted in the snapshot file to
prove that the e-mail shows catalogue figures only.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import socket
import struct
import zipfile
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import funnel_fixture
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from analytics.metrics import snapshot as period_snapshot
from analytics.reports import email_config, message, sending
from analytics.reports import manifest as period_manifest

ROLES = ("ceo", "marketing", "sales", "analyst")
FAILED_ROLE = "sales"
LABEL = "2025-W23"
NOTEBOOK = "01_funnel_overview.ipynb"

# Personal data that must never reach an e-mail body: it sits in the snapshot file
# (as if a careless step had added a raw record) and in nothing else.
PERSON_EMAIL = "ivan.petrov@mail.example"
PERSON_PHONE = "+7 916 123-45-67"


@pytest.fixture(scope="module")
def snapshot_data(hand_w23_snapshot) -> dict:
    """The W23 snapshot of funnel_fixture's warehouse (session fixture, ``conftest.py``; a
    deep copy), with personal data planted in it."""
    import copy

    data = copy.deepcopy(hand_w23_snapshot.data)
    data["metrics"]["revenue"]["contact_email"] = PERSON_EMAIL
    data["contact_phone"] = PERSON_PHONE
    return data


@pytest.fixture
def snap(snapshot_data) -> period_snapshot.Snapshot:
    return period_snapshot.Snapshot(json.loads(json.dumps(snapshot_data)))


EMAIL_PATTERN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE_PATTERN = re.compile(r"(?:\+7|\b8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}")
NBSP = "\u00a0"
NNBSP = "\u202f"


def recipients(role: str) -> list[str]:
    return [f"{role}@example.com", f"{role}.deputy@example.com"]


def report_page(role: str) -> bytes:
    return f"<!DOCTYPE html><html><body><h1>{role} report {LABEL}</h1></body></html>".encode()


def write_period_dir(root: Path, snapshot: dict, warehouse: Path | None = None) -> Path:
    """``reports/2025-W23/`` as the runner writes it; ``sales`` failed."""
    folder = root / "reports" / LABEL
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(snapshot, ensure_ascii=False), "utf-8")
    entries = []
    for role in ROLES:
        ok = role != FAILED_ROLE
        if ok:
            (folder / role).mkdir()
            (folder / role / "01_funnel_overview.html").write_bytes(report_page(role))
        entries.append(
            {
                "role": role,
                "notebook": NOTEBOOK,
                "status": "ok" if ok else "failed",
                "html": f"{role}/01_funnel_overview.html" if ok else None,
                "error": None if ok else "KeyError: 'win_rate' (cell 7)",
            }
        )
    warehouse_path = str(warehouse or root / "warehouse.duckdb")
    manifest = {
        "ok": False,
        "params": {"roles": list(ROLES), "period": "last-week", "warehouse": warehouse_path},
        "period": {
            "spec": "last-week",
            "label": LABEL,
            "start": "2025-06-02",
            "end": "2025-06-08",
            "anchor": "2025-06-10",
        },
        "warehouse": {"path": warehouse_path},
        "roles": {r: {"title": f"Отчёт {r}", "recipients": recipients(r)} for r in ROLES},
        "notebooks": entries,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    return folder


def write_roles_dir(root: Path) -> Path:
    folder = root / "roles"
    folder.mkdir()
    for role in ROLES:
        lines = [
            f"title: Воронка — {role}",
            "audience: test",
            "hide_code: true",
            f"locale: {'en' if role == 'analyst' else 'ru'}",
            f"notebooks: [{NOTEBOOK}]",
            "recipients:",
            *[f"  - {address}" for address in recipients(role)],
        ]
        (folder / f"{role}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def write_config(path: Path, port: int = 2525, **overrides) -> Path:
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "starttls": False,
        "ssl": False,
        "username": None,
        "password_env": "ANALYTICS_TEST_SMTP_PASSWORD",
        "from": "Сквозная аналитика <analytics@example.com>",
        "subject": "Сквозная аналитика: {role_title}, {period}",
        "timeout_s": 5,
    }
    settings.update(overrides)
    path.write_text(json.dumps(settings, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def parse(data: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(data)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def check_message(msg: EmailMessage, role: str) -> None:
    """Structure, CID image, attachment, size and privacy of one role's e-mail."""
    assert msg.get_content_type() == "multipart/mixed"
    related, *attachments = msg.iter_parts()
    assert related.get_content_type() == "multipart/related"
    alternative, image = related.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]

    html_part = msg.get_body(("html",))
    html_body = html_part.get_content()
    cids = re.findall(r'src="cid:([^"]+)"', html_body)
    assert len(cids) == 1
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"].strip() == f"<{cids[0]}>"
    assert image.get_content_disposition() == "inline"
    assert png_size(image.get_content()) == message.CHART_SIZE_PX

    assert len(html_part.as_bytes()) < message.HTML_BODY_LIMIT
    assert len(html_body.encode("utf-8")) < message.HTML_BODY_LIMIT

    assert [a.get_filename() for a in attachments] == [f"01_funnel_overview_{LABEL}.html"]
    assert attachments[0].get_content_type() == "text/html"
    assert attachments[0].get_payload(decode=True) == report_page(role)
    russian = role != "analyst"  # the test role files: analyst in English, the others Russian
    assert ("во вложении" if russian else "is attached") in html_body
    assert f'<html lang="{"ru" if russian else "en"}">' in html_body

    assert [a.addr_spec for a in msg["To"].addresses] == recipients(role)
    plain = msg.get_body(("plain",)).get_content()
    visible_html = html_body.replace(f"cid:{cids[0]}", "")  # a Content-ID looks like an address
    for text in (visible_html, plain):
        assert not EMAIL_PATTERN.search(text), EMAIL_PATTERN.search(text)
        assert not PHONE_PATTERN.search(text), PHONE_PATTERN.search(text)
        assert PERSON_EMAIL not in text and PERSON_PHONE not in text


@pytest.fixture
def period_dir(tmp_path: Path, snapshot_data) -> Path:
    return write_period_dir(tmp_path, snapshot_data)


@pytest.fixture
def roles_dir(tmp_path: Path) -> Path:
    return write_roles_dir(tmp_path)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path / "email.yaml")


class StoringHandler:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    handler = StoringHandler()
    logins: list[tuple[str, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        logins.append((auth_data.login.decode(), auth_data.password))
        return AuthResult(success=True)

    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    handler.port = controller.port
    handler.logins = logins
    try:
        yield handler
    finally:
        controller.stop()


# --- formatting -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (150_000.0, "RUB", f"150{NNBSP}000{NNBSP}₽"),
        (1_234_567.4, "RUB", f"1{NNBSP}234{NNBSP}567{NNBSP}₽"),
        (14.0, "percent", f"14,0{NNBSP}%"),
        (-100.0, "percent", f"−100,0{NNBSP}%"),
        (-0.01, "percent", f"0,0{NNBSP}%"),
        (1.25, "ratio", "1,2"),
        (0.16, "days", f"0,2{NNBSP}дн."),
        (12_345, "count", f"12{NNBSP}345"),
        (math.nan, "RUB", "—"),
        (None, "percent", "—"),
        (math.inf, "percent", "—"),
    ],
)
def test_format_kpi_russian_style(value, unit, expected):
    assert message.format_kpi(value, unit) == expected


def test_role_kpis_follow_the_role(snap):
    """Booked W23 by hand: 150 777 ₽ from 3 sales, spend 21 000 ₽ (funnel_fixture)."""
    ceo, notes = message.role_kpis("ceo", snap)
    assert dict(ceo) == {
        "Выручка": f"150{NNBSP}777{NNBSP}₽",
        "Продажи": "3",
        "Расходы на рекламу": f"21{NNBSP}000{NNBSP}₽",
        "ROMI": f"618,0{NNBSP}%",  # (150 777 − 21 000) / 21 000 × 100
        "CAC": f"7{NNBSP}000{NNBSP}₽",  # 21 000 / 3
        "ДРР": f"13,9{NNBSP}%",  # 21 000 / 150 777 × 100
    }
    assert "ROMI = (выручка − расходы) / расходы × 100%" in notes
    pairs, notes = message.role_kpis("marketing", snap)
    marketing = dict(pairs)
    assert marketing["CPL"] == f"3{NNBSP}500{NNBSP}₽"  # 21 000 / 6 leads
    # MQL, SQL and cost per MQL of a two-day-old cohort: marked, footnotes say why
    assert marketing["MQL лидов периода"] == "4 [1]"
    assert marketing["Стоимость MQL"] == f"5{NNBSP}250{NNBSP}₽ [3]"  # 21 000 / 4 MQL
    assert any(n.startswith("[3] Стоимость MQL: когорта не созрела") for n in notes)
    assert "Выручка" not in marketing
    sales, _ = message.role_kpis("sales", snap)
    assert dict(sales)["Доля выигранных сделок"] == f"75,0{NNBSP}%"  # 3 won / 4 closed
    analyst, _ = message.role_kpis("analyst", snap)
    assert len(analyst) == len(message.CATALOGUE)


def test_undefined_figure_is_a_dash_with_its_reason(snap):
    snap.data["metrics"]["cac"].update(
        value=None, reason={"ru": "не определено: Продажи = 0", "en": "undefined: Sales is 0"}
    )
    kpis, notes = message.role_kpis("ceo", snap)
    assert dict(kpis)["CAC"] == "— [1]"
    assert "[1] CAC: не определено: Продажи = 0" in notes


def test_every_label_comes_from_the_catalogue(snap):
    from analytics.metrics.catalogue import CATALOGUE

    labels = {m.label_ru for m in CATALOGUE.values()}
    for role in ("ceo", "marketing", "sales", "analyst", "other"):
        kpis, _ = message.role_kpis(role, snap)
        assert {label for label, _ in kpis} <= labels


# --- settings -------------------------------------------------------------------------


def test_config_file_of_the_repo_is_valid():
    config = email_config.load_email_config(email_config.DEFAULT_CONFIG)
    assert config.password_env == "ANALYTICS_SMTP_PASSWORD"
    assert not (config.starttls and config.ssl)


def test_config_with_a_password_is_rejected(tmp_path):
    path = write_config(tmp_path / "email.yaml", password="hunter2")
    with pytest.raises(ValueError, match=r"email\.yaml: key 'password' is not allowed") as info:
        email_config.load_email_config(path)
    assert "password_env" in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"port": "smtp"}, "port"),
        ({"starttls": True, "ssl": True}, "starttls"),
        ({"starttls": "yes"}, "starttls"),
        ({"password_env": "hunter2!"}, "password_env"),
        ({"from": "not an address"}, "from"),
        ({"subject": "Отчёт {recipient}"}, "subject"),
        ({"hots": "smtp.example.com"}, "hots"),
        ({"host": None}, "host"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, overrides, key):
    path = write_config(tmp_path / "email.yaml", **overrides)
    with pytest.raises(ValueError, match=rf"email\.yaml: .*'{key}'"):
        email_config.load_email_config(path)


def test_username_without_password_variable_is_a_clear_error(
    period_dir, roles_dir, tmp_path, monkeypatch
):
    monkeypatch.delenv("ANALYTICS_TEST_SMTP_PASSWORD", raising=False)
    config = write_config(tmp_path / "email.yaml", port=free_port(), username="bot")
    with pytest.raises(ValueError, match="ANALYTICS_TEST_SMTP_PASSWORD") as info:
        sending.send_reports(period_dir, config_path=config, roles_dir=roles_dir)
    assert "password_env" in str(info.value)
    # a dry run needs no password
    result = sending.send_reports(
        period_dir,
        roles=["ceo"],
        dry_run=True,
        config_path=config,
        roles_dir=roles_dir,
    )
    assert result.sent == ["ceo"]


# --- messages -------------------------------------------------------------------------


def test_dry_run_writes_parseable_eml_and_skips_the_failed_role(period_dir, roles_dir, config_path):
    result = sending.send_reports(
        period_dir,
        dry_run=True,
        config_path=config_path,
        roles_dir=roles_dir,
    )
    assert result.sent == ["ceo", "marketing", "analyst"]
    assert result.eml_paths == [period_dir / "outbox" / f"{r}.eml" for r in result.sent]
    assert [s.role for s in result.skipped] == [FAILED_ROLE]
    assert result.skipped[0].failed and "win_rate" in result.skipped[0].reason
    assert not result.ok
    assert not (period_dir / "outbox" / f"{FAILED_ROLE}.eml").exists()

    for role, path in zip(result.sent, result.eml_paths, strict=True):
        msg = parse(path.read_bytes())
        check_message(msg, role)
        # the subject in the role's language, the dates by Babel (CLDR interval)
        dates = (
            "2\u20138 июн. 2025\u202fг." if role != "analyst" else "Jun 2\u2009\u2013\u20098, 2025"
        )
        prefix = "Сквозная аналитика" if role != "analyst" else "End-to-end analytics"
        assert msg["Subject"] == f"{prefix}: Воронка — {role}, {LABEL} ({dates})"
    ceo_html = parse(result.eml_paths[0].read_bytes()).get_body(("html",)).get_content()
    assert f"150{NBSP}777{NBSP}₽" in ceo_html and f"618,0{NBSP}%" in ceo_html
    assert "ДРР = расходы / выручка × 100%" in ceo_html
    assert "к прошлой неделе" in ceo_html  # the tiles carry the change


def test_roles_filter_and_out_dir(period_dir, roles_dir, config_path, tmp_path):
    outbox = tmp_path / "outbox"
    result = sending.send_reports(
        period_dir,
        roles=["marketing"],
        dry_run=True,
        config_path=config_path,
        out_dir=outbox,
        roles_dir=roles_dir,
    )
    assert result.ok and result.sent == ["marketing"]
    assert result.eml_paths == [outbox / "marketing.eml"]
    with pytest.raises(ValueError, match="cfo.*not in"):
        sending.send_reports(
            period_dir, roles=["cfo"], dry_run=True, config_path=config_path, roles_dir=roles_dir
        )


def test_role_without_recipients_is_skipped_but_not_an_error(period_dir, roles_dir, config_path):
    path = roles_dir / "ceo.yaml"
    path.write_text(path.read_text(encoding="utf-8").split("recipients:")[0] + "recipients: []\n")
    result = sending.send_reports(
        period_dir,
        roles=["ceo"],
        dry_run=True,
        config_path=config_path,
        roles_dir=roles_dir,
    )
    assert result.sent == [] and result.ok
    assert result.skipped[0].role == "ceo" and not result.skipped[0].failed


def test_build_message_refuses_a_failed_report(period_dir, config_path):
    role_cfg = {"title": "Sales", "recipients": recipients(FAILED_ROLE)}
    with pytest.raises(period_manifest.ReportFailedError, match="win_rate"):
        message.build_message(FAILED_ROLE, role_cfg, period_dir, config=config_path)


def test_html_body_over_the_limit_is_refused(period_dir, config_path):
    role_cfg = {"title": "Я" * message.HTML_BODY_LIMIT, "recipients": recipients("ceo")}
    with pytest.raises(ValueError, match="Gmail"):
        message.build_message("ceo", role_cfg, period_dir, config=config_path)


def test_large_reports_are_zipped(period_dir, tmp_path):
    config = write_config(tmp_path / "email.yaml", max_attachment_mb=0.01)
    page = period_dir / "ceo" / "01_funnel_overview.html"
    big = b"<html><body>" + b"<p>row</p>" * 2_000 + b"</body></html>"  # 20 KB, compresses well
    page.write_bytes(big)
    msg = message.build_message(
        "ceo",
        {"title": "CEO", "recipients": recipients("ceo")},
        period_dir,
        config=config,
    )
    (attachment,) = parse(msg.as_bytes()).iter_attachments()
    assert attachment.get_content_type() == "application/zip"
    assert attachment.get_filename() == f"ceo_{LABEL}.zip"
    archive = zipfile.ZipFile(io.BytesIO(attachment.get_content()))
    assert archive.read(f"01_funnel_overview_{LABEL}.html") == big


def test_chart_is_small(snap):
    png = message.chart_png(snap)
    assert png_size(png) == (600, 300)
    assert len(png) < 60_000


# --- SMTP -----------------------------------------------------------------------------


def test_real_send_over_smtp(period_dir, roles_dir, tmp_path, smtp_server, monkeypatch):
    monkeypatch.delenv("ANALYTICS_TEST_SMTP_PASSWORD", raising=False)
    config = write_config(tmp_path / "email.yaml", port=smtp_server.port)
    result = sending.send_reports(period_dir, config_path=config, roles_dir=roles_dir)
    assert result.sent == ["ceo", "marketing", "analyst"]
    assert [s.role for s in result.skipped] == [FAILED_ROLE] and not result.ok
    assert result.eml_paths == [] and not (period_dir / "outbox").exists()
    assert smtp_server.logins == []  # no username: no login

    assert len(smtp_server.messages) == 3
    for role, (mail_from, rcpt_tos, content) in zip(result.sent, smtp_server.messages, strict=True):
        assert mail_from == "analytics@example.com"
        assert rcpt_tos == recipients(role)
        check_message(parse(content), role)


def test_login_uses_the_password_from_the_environment(
    period_dir, roles_dir, tmp_path, smtp_server, monkeypatch
):
    monkeypatch.setenv("ANALYTICS_TEST_SMTP_PASSWORD", "s3cret-from-env")
    config = write_config(tmp_path / "email.yaml", port=smtp_server.port, username="bot")
    result = sending.send_reports(
        period_dir, roles=["ceo"], config_path=config, roles_dir=roles_dir
    )
    assert result.ok and result.sent == ["ceo"]
    assert smtp_server.logins == [("bot", b"s3cret-from-env")]
    assert len(smtp_server.messages) == 1


# --- CLI ------------------------------------------------------------------------------


@pytest.fixture
def warehouse_period_dir(tmp_path: Path, snapshot_data) -> Path:
    warehouse = funnel_fixture.build_warehouse(tmp_path / "warehouse.duckdb")
    return write_period_dir(tmp_path, snapshot_data, warehouse=warehouse)


def cli_args(period_dir, roles_dir, config, roles="all", reports_dir=None):
    return argparse.Namespace(
        period_dir=period_dir,
        roles=roles,
        dry_run=True,
        config=config,
        roles_dir=roles_dir,
        reports_dir=reports_dir,
    )


def test_main_exit_1_when_a_report_failed(warehouse_period_dir, roles_dir, config_path, capsys):
    code = sending.main(cli_args(warehouse_period_dir, roles_dir, config_path))
    assert code == 1
    out = capsys.readouterr().out
    assert "3 written to outbox, 1 skipped" in out and "SKIPPED sales" in out
    # the figures are the snapshot's: W23 booked revenue 150 777 RUB, ДРР 13.9 %
    msg = parse((warehouse_period_dir / "outbox" / "ceo.eml").read_bytes())
    html_body = msg.get_body(("html",)).get_content()
    assert f"150{NBSP}777{NBSP}₽" in html_body and f"13,9{NBSP}%" in html_body  # Babel, ru
    check_message(msg, "ceo")


def test_main_exit_0_for_roles_that_are_ok_and_newest_period(
    warehouse_period_dir, roles_dir, config_path, capsys
):
    older = warehouse_period_dir.parent / "2025-W22"
    older.mkdir()
    (older / "manifest.json").write_text("{}", encoding="utf-8")
    manifest = warehouse_period_dir / "manifest.json"
    os.utime(older / "manifest.json", (manifest.stat().st_mtime - 60,) * 2)
    assert period_manifest.latest_period_dir(warehouse_period_dir.parent) == warehouse_period_dir

    args = cli_args(None, roles_dir, config_path, roles="ceo, analyst", reports_dir=older.parent)
    assert sending.main(args) == 0
    assert sorted(p.name for p in (warehouse_period_dir / "outbox").iterdir()) == [
        "analyst.eml",
        "ceo.eml",
    ]
    assert "2 written to outbox" in capsys.readouterr().out


def test_no_period_folder_is_a_clear_error(tmp_path, roles_dir, config_path):
    with pytest.raises(ValueError, match="run `python -m analytics report` first"):
        sending.main(cli_args(None, roles_dir, config_path, reports_dir=tmp_path))


def test_a_period_without_snapshot_is_a_clear_error(period_dir, roles_dir, config_path):
    (period_dir / "metrics.json").unlink()
    with pytest.raises(ValueError, match=r"metrics\.json does not exist"):
        sending.send_reports(period_dir, dry_run=True, config_path=config_path, roles_dir=roles_dir)


def test_the_call_list_csv_travels_with_its_role(period_dir, roles_dir, config_path):
    """A role whose page wrote ``call_list.csv`` (the sales page) gets it attached as is."""
    csv = "Заявка;Балл\nL1;71\n".encode("utf-8-sig")
    (period_dir / "analyst" / "call_list.csv").write_bytes(csv)
    result = sending.send_reports(
        period_dir, roles=["analyst", "ceo"], dry_run=True, config_path=config_path,
        roles_dir=roles_dir,
    )  # fmt: skip
    attached = {
        role: {
            part.get_filename(): part.get_payload(decode=True)
            for part in parse(path.read_bytes()).iter_attachments()
        }
        for role, path in zip(result.sent, result.eml_paths, strict=True)
    }
    assert attached["analyst"][f"call_list_{LABEL}.csv"] == csv
    assert not any(name.endswith(".csv") for name in attached["ceo"])
