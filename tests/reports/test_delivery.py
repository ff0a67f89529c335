"""E-mail delivery (``reports.sending.deliver``) over real TLS to a local aiosmtpd server.

The shipped ``params/email.yaml`` sends with STARTTLS on port 587 and a login.
Here a certificate authority and a server certificate for ``127.0.0.1`` are made
in the test (trustme); the client trusts that CA through ``SSL_CERT_FILE`` (read
by OpenSSL for ``ssl.create_default_context``, the way a private CA is added in
production), so certificate verification is on, as in production. Each failure
is checked with its exact user-facing message: the line ``python -m analytics
email`` prints (``DeliveryError``) or the reason of a skipped role.
"""

from __future__ import annotations

import re
import socket
import ssl
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from analytics.reports import email_config, sending

HOST = "127.0.0.1"
USER, PASSWORD = "bot", "correct horse battery staple"
PASSWORD_ENV = "ANALYTICS_TEST_SMTP_PASSWORD"
SENDER = "analytics@example.com"
REFUSED = "nobody@example.com"

# implicit TLS: aiosmtpd cannot tell the session is encrypted and warns about AUTH
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Mailbox:
    """aiosmtpd handler: refuses :data:`REFUSED`, keeps messages, can drop the connection."""

    def __init__(self, drop: bool = False) -> None:
        self.drop = drop
        self.messages: list[tuple[list[str], bytes, bool]] = []
        self.logins: list[tuple[str, bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address == REFUSED:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.drop:
            server.transport.close()  # the server goes away before accepting the message
            return "421 closing"
        tls = server.transport.get_extra_info("ssl_object") is not None
        self.messages.append((list(envelope.rcpt_tos), envelope.content, tls))
        return "250 OK"

    def authenticator(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        self.logins.append((auth_data.login.decode(), auth_data.password))
        ok = auth_data.login.decode() == USER and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(context)
    return context


@pytest.fixture
def trust_ca(ca, tmp_path, monkeypatch) -> Path:
    """The client trusts the test CA (and only it)."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-ca-dir"))
    return path


@pytest.fixture
def serve(server_context):
    """Start an aiosmtpd server: ``serve(mode, auth_required=True, drop=False)``."""
    controllers: list[Controller] = []

    def start(mode: str, auth_required: bool = True, drop: bool = False):
        box = Mailbox(drop=drop)
        kwargs = {"authenticator": box.authenticator, "auth_required": auth_required}
        if mode == "starttls":
            kwargs |= {"tls_context": server_context, "require_starttls": True}
        elif mode == "ssl":
            # implicit TLS: the whole session is encrypted, aiosmtpd just doesn't know it
            kwargs |= {"ssl_context": server_context, "auth_require_tls": False}
        else:
            kwargs |= {"auth_require_tls": False}
        controller = Controller(box, hostname=HOST, port=free_port(), **kwargs)
        controller.start()
        controllers.append(controller)
        box.port = controller.port
        return box

    yield start
    for controller in controllers:
        controller.stop()


def config(tmp_path: Path, port: int, mode: str, username: str | None = USER):
    lines = [
        f"host: {HOST}",
        f"port: {port}",
        f"starttls: {'true' if mode == 'starttls' else 'false'}",
        f"ssl: {'true' if mode == 'ssl' else 'false'}",
        f"password_env: {PASSWORD_ENV}",
        f"from: {SENDER}",
        "timeout_s: 10",
    ]
    if username:
        lines.append(f"username: {username}")
    path = tmp_path / "email.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return email_config.load_email_config(path)


def message(role: str, to: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SENDER, ", ".join(to), f"Отчёт: {role}"
    msg.set_content(f"Отчёт для роли {role}")
    return msg


@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_with_login_delivers(mode, serve, tmp_path, trust_ca, password):
    box = serve(mode)
    cfg = config(tmp_path, box.port, mode)
    sent, skipped = sending.deliver(cfg, {"ceo": message("ceo", ["ceo@example.com"])})
    assert (sent, skipped) == (["ceo"], [])
    assert box.logins == [(USER, PASSWORD.encode())]
    [(rcpt, content, tls)] = box.messages
    assert rcpt == ["ceo@example.com"] and tls
    got = BytesParser(policy=policy.default).parsebytes(content)
    assert got["Subject"] == "Отчёт: ceo"


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_untrusted_certificate_is_refused(mode, serve, tmp_path, monkeypatch, password):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-ca-dir"))
    box = serve(mode)
    cfg = config(tmp_path, box.port, mode)
    expected = (
        f"SMTP {HOST}:{box.port}: TLS certificate not trusted "
        "(unable to get local issuer certificate); "
        "check 'host' or add the server's CA with SSL_CERT_FILE"
    )
    with pytest.raises(sending.DeliveryError, match=f"^{re.escape(expected)}$"):
        sending.deliver(cfg, {"ceo": message("ceo", ["ceo@example.com"])})
    assert box.messages == [] and box.logins == []


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_wrong_password(mode, serve, tmp_path, trust_ca, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    box = serve(mode)
    cfg = config(tmp_path, box.port, mode)
    expected = (
        f"SMTP {HOST}:{box.port}: login as {USER} refused "
        "(535 5.7.8 Authentication credentials invalid); "
        f"check 'username' in {cfg.source} and the password in ${PASSWORD_ENV}"
    )
    with pytest.raises(sending.DeliveryError, match=f"^{re.escape(expected)}$"):
        sending.deliver(cfg, {"ceo": message("ceo", ["ceo@example.com"])})
    # smtplib tries each mechanism the server offers (PLAIN, then LOGIN)
    assert set(box.logins) == {(USER, b"wrong")} and box.messages == []


def test_server_requires_a_login_the_settings_do_not_give(serve, tmp_path, trust_ca):
    box = serve("starttls", auth_required=True)
    cfg = config(tmp_path, box.port, "starttls", username=None)
    expected = (
        f"SMTP {HOST}:{box.port}: the server requires a login "
        "(530 5.7.0 Authentication required); "
        f"set 'username' in {cfg.source} and the password in ${PASSWORD_ENV}"
    )
    with pytest.raises(sending.DeliveryError, match=f"^{re.escape(expected)}$"):
        sending.deliver(cfg, {"ceo": message("ceo", ["ceo@example.com"])})
    assert box.messages == []


def test_server_without_starttls_is_not_used_in_clear(serve, tmp_path, trust_ca, password):
    box = serve("plain", auth_required=False)
    cfg = config(tmp_path, box.port, "starttls")
    expected = (
        f"SMTP {HOST}:{box.port}: the server does not offer STARTTLS; "
        f"set 'starttls: false' in {cfg.source} only if it is a trusted relay"
    )
    with pytest.raises(sending.DeliveryError, match=f"^{re.escape(expected)}$"):
        sending.deliver(cfg, {"ceo": message("ceo", ["ceo@example.com"])})
    assert box.logins == [] and box.messages == []  # the password never went out in clear


def test_nothing_listening(tmp_path, password):
    port = free_port()
    cfg = config(tmp_path, port, "starttls")
    expected = f"SMTP {HOST}:{port}: cannot connect: [Errno 111] Connection refused"
    with pytest.raises(sending.DeliveryError, match=f"^{re.escape(expected)}$"):
        sending.deliver(cfg, {"ceo": message("ceo", ["ceo@example.com"])})


def test_refused_recipients(serve, tmp_path, trust_ca, password):
    box = serve("starttls")
    cfg = config(tmp_path, box.port, "starttls")
    messages = {
        "ceo": message("ceo", ["ceo@example.com", REFUSED]),
        "sales": message("sales", [REFUSED]),
        "marketing": message("marketing", ["marketing@example.com"]),
    }
    sent, skipped = sending.deliver(cfg, messages)
    assert sent == ["marketing"]
    assert [(s.role, s.reason, s.failed) for s in skipped] == [
        (
            "ceo",
            f"SMTP server refused recipient(s) {REFUSED} (550 5.1.1 No such user here); "
            "the other recipients received it",
            True,
        ),
        (
            "sales",
            f"SMTP server refused recipient(s) {REFUSED} (550 5.1.1 No such user here); not sent",
            True,
        ),
    ]
    assert [rcpt for rcpt, _, _ in box.messages] == [
        ["ceo@example.com"],
        ["marketing@example.com"],
    ]


def test_dropped_connection_skips_that_role_and_the_rest(serve, tmp_path, trust_ca, password):
    box = serve("starttls", drop=True)
    cfg = config(tmp_path, box.port, "starttls")
    messages = {role: message(role, [f"{role}@example.com"]) for role in ("ceo", "marketing")}
    sent, skipped = sending.deliver(cfg, messages)
    reason = (
        f"SMTP {HOST}:{box.port} dropped the connection before accepting the message "
        "(Connection unexpectedly closed); not sent"
    )
    assert sent == []
    assert [(s.role, s.reason, s.failed) for s in skipped] == [
        ("ceo", reason, True),
        ("marketing", reason, True),
    ]
    assert box.messages == []
