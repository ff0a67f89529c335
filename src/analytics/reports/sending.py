"""E-mail settings and delivery: ``params/email.yaml``, SMTP, dry-run ``.eml`` files."""

from __future__ import annotations

import smtplib
import ssl
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import yaml

from analytics import paths
from analytics.metrics.snapshot import Snapshot, load_snapshot
from analytics.reports.email_config import DEFAULT_CONFIG, EmailConfig, load_email_config
from analytics.reports.manifest import (
    ReportFailedError,
    latest_period_dir,
    manifest_roles,
    read_manifest,
    role_reports,
)
from analytics.reports.message import build_message
from analytics.reports.roles import EMAIL_ADDRESS, ROLES_DIR


class DeliveryError(RuntimeError):
    """The SMTP server could not be reached or refused the login; nothing was sent."""


@dataclass(frozen=True)
class SkippedRole:
    """A role that got no e-mail.

    Attributes
    ----------
    role : str
    reason : str
    failed : bool
        True if the role should have been e-mailed (its report failed or is
        missing, or the server refused the message); False if there was
        nothing to send (no recipients).
    """

    role: str
    reason: str
    failed: bool = True


@dataclass
class EmailResult:
    """What :func:`send_reports` did.

    Attributes
    ----------
    period_dir : pathlib.Path
    dry_run : bool
    sent : list of str
        Roles e-mailed (on a dry run: written to ``.eml``).
    skipped : list of SkippedRole
        Roles not e-mailed, with the reason.
    eml_paths : list of pathlib.Path
        ``.eml`` files written on a dry run.
    recipients : dict of str to list of str
        Addresses of each role in ``sent``.
    """

    period_dir: Path
    dry_run: bool
    sent: list[str] = field(default_factory=list)
    skipped: list[SkippedRole] = field(default_factory=list)
    eml_paths: list[Path] = field(default_factory=list)
    recipients: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Everything that should have been sent was sent."""
        return not any(s.failed for s in self.skipped)

    @property
    def text(self) -> str:
        """A few lines for the console."""
        verb = "written to outbox" if self.dry_run else "sent"
        lines = [f"E-mail for {self.period_dir.name}: {len(self.sent)} {verb}"]
        if self.skipped:
            lines[0] += f", {len(self.skipped)} skipped"
        for role in self.sent:
            lines.append(f"  {role}: {len(self.recipients.get(role, []))} recipient(s)")
        for path in self.eml_paths:
            lines.append(f"  wrote {path}")
        for skip in self.skipped:
            lines.append(f"  {'SKIPPED' if skip.failed else 'skipped'} {skip.role}: {skip.reason}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text


def _read_role(role: str, roles_dir: Path, manifest: Mapping) -> dict:
    """``title`` and ``recipients`` of a role: its current role file, else the manifest."""
    path = roles_dir / f"{role}.yaml"
    if path.is_file():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping with keys title, recipients, ...")
    else:
        data = (manifest.get("roles") or {}).get(role)
        if not isinstance(data, Mapping):
            raise ValueError(f"role file {path} not found and role {role!r} not in the manifest")
    recipients = data.get("recipients") or []
    if not isinstance(recipients, list):
        raise ValueError(f"{path}: key 'recipients' must be a list of e-mail addresses")
    for address in recipients:
        if not isinstance(address, str) or not EMAIL_ADDRESS.match(address.strip()):
            raise ValueError(f"{path}: key 'recipients': bad e-mail address {address!r}")
    return {
        "title": data.get("title") or role,
        "recipients": [a.strip() for a in recipients],
        "locale": data.get("locale") or "en",
    }


def _smtp_reply(exc: BaseException) -> str:
    """The server's reply in an exception as people read it: ``535 5.7.8 Bad credentials``."""
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return f"{exc.smtp_code} {' '.join(str(text).split())}".strip()
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or str(exc)
    return str(exc) or type(exc).__name__


def _where(config: EmailConfig) -> str:
    return f"SMTP {config.host}:{config.port}"


def _connect(config: EmailConfig) -> smtplib.SMTP:
    """An SMTP connection per the settings: SSL or plain + STARTTLS, login if a username.

    TLS certificates are verified against the system's trusted authorities
    (``ssl.create_default_context``; a private CA can be added with the
    ``SSL_CERT_FILE`` environment variable, which OpenSSL reads).

    Raises
    ------
    ValueError
        If a username is set but its password variable is not.
    DeliveryError
        One line naming the server and the step: cannot connect, certificate
        not trusted, STARTTLS not offered or failed, login refused.
    """
    password = config.password() if config.username else None
    where = _where(config)
    try:
        if config.ssl:
            smtp = smtplib.SMTP_SSL(
                config.host,
                config.port,
                timeout=config.timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(
            f"{where}: TLS certificate not trusted ({_smtp_reply(exc)}); "
            "check 'host' or add the server's CA with SSL_CERT_FILE"
        ) from exc
    except ssl.SSLError as exc:
        raise DeliveryError(
            f"{where}: TLS handshake failed ({exc}); is 'ssl: true' right for port "
            f"{config.port}? (implicit TLS is usually port 465, STARTTLS 587)"
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{where}: cannot connect: {_smtp_reply(exc)}") from exc
    step = "STARTTLS"
    try:
        if config.starttls:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise DeliveryError(
                    f"{where}: the server does not offer STARTTLS; "
                    f"set 'starttls: false' in {config.source} only if it is a trusted relay"
                )
            smtp.starttls(context=ssl.create_default_context())
        if config.username:
            step = f"login as {config.username}"
            smtp.login(config.username, password)
    except DeliveryError:
        smtp.close()
        raise
    except smtplib.SMTPAuthenticationError as exc:
        smtp.close()
        raise DeliveryError(
            f"{where}: login as {config.username} refused ({_smtp_reply(exc)}); check "
            f"'username' in {config.source} and the password in ${config.password_env}"
        ) from exc
    except ssl.SSLCertVerificationError as exc:
        smtp.close()
        raise DeliveryError(
            f"{where}: TLS certificate not trusted ({_smtp_reply(exc)}); "
            "check 'host' or add the server's CA with SSL_CERT_FILE"
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        smtp.close()
        raise DeliveryError(f"{where}: {step} failed: {_smtp_reply(exc)}") from exc
    return smtp


def deliver(
    config: EmailConfig,
    messages: Mapping[str, EmailMessage],
) -> tuple[list[str], list[SkippedRole]]:
    """Send the messages over one SMTP connection.

    Parameters
    ----------
    config : EmailConfig
    messages : mapping of str to email.message.EmailMessage
        Message of each role, sent in order.

    Returns
    -------
    sent : list of str
        Roles the server accepted for every recipient.
    skipped : list of SkippedRole
        Roles with a refused recipient or message (the server's reply in the
        reason), and, after a dropped connection, that role and every later one.

    Raises
    ------
    DeliveryError
        If the server cannot be reached, refuses the login, or requires a
        login that the settings do not give (nothing can be sent then).
    """
    where = _where(config)
    sent: list[str] = []
    skipped: list[SkippedRole] = []
    roles = list(messages)
    with _connect(config) as smtp:
        for k, role in enumerate(roles):
            try:
                refused = smtp.send_message(messages[role])
            except smtplib.SMTPServerDisconnected as exc:
                reason = (
                    f"{where} dropped the connection before accepting the message "
                    f"({_smtp_reply(exc)}); not sent"
                )
                skipped += [SkippedRole(r, reason) for r in roles[k:]]
                return sent, skipped
            except smtplib.SMTPSenderRefused as exc:
                if exc.smtp_code == 530:
                    raise DeliveryError(
                        f"{where}: the server requires a login ({_smtp_reply(exc)}); "
                        f"set 'username' in {config.source} and the password in "
                        f"${config.password_env}"
                    ) from exc
                skipped.append(
                    SkippedRole(role, f"SMTP server refused the sender: {_smtp_reply(exc)}")
                )
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                skipped.append(SkippedRole(role, _refused_text(exc.recipients, every=True)))
                continue
            except smtplib.SMTPException as exc:
                skipped.append(
                    SkippedRole(role, f"SMTP server refused the message: {_smtp_reply(exc)}")
                )
                continue
            if refused:
                skipped.append(SkippedRole(role, _refused_text(refused)))
                continue
            sent.append(role)
    return sent, skipped


def _refused_text(refused: Mapping[str, tuple[int, bytes]], every: bool = False) -> str:
    """``SMTP server refused recipient(s) a@x.ru (550 5.1.1 No such user); ...``.

    ``every``: no recipient was accepted, so the message was not sent at all;
    otherwise the other recipients received it.
    """
    parts = [
        f"{address} ({_smtp_reply(smtplib.SMTPResponseException(code, text))})"
        for address, (code, text) in refused.items()
    ]
    outcome = "not sent" if every else "the other recipients received it"
    return f"SMTP server refused recipient(s) {', '.join(parts)}; {outcome}"


def send_reports(
    period_dir: str | Path,
    roles: Iterable[str] | None = None,
    dry_run: bool = False,
    config_path: str | Path = DEFAULT_CONFIG,
    out_dir: str | Path | None = None,
    *,
    roles_dir: str | Path | None = None,
    snapshot: Snapshot | None = None,
) -> EmailResult:
    """E-mail every role its report of one period, or write the e-mails as ``.eml``.

    Parameters
    ----------
    period_dir : str or pathlib.Path
        ``reports/<period label>/`` written by the report runner.
    roles : iterable of str, optional
        Roles to e-mail; default every role of the manifest.
    dry_run : bool, default False
        Write ``<out_dir>/<role>.eml`` and send nothing.
    config_path : str or pathlib.Path
        SMTP settings (:func:`load_email_config`).
    out_dir : str or pathlib.Path, optional
        Folder of the ``.eml`` files; default ``<period_dir>/outbox``.
    roles_dir : str or pathlib.Path, optional
        Folder of the role files with the recipients; default ``params/roles``
        (a role without a file falls back to the manifest's copy).
    snapshot : Snapshot, optional
        The period snapshot; default ``<period_dir>/metrics.json``
        (:func:`analytics.metrics.snapshot.load_snapshot`), written by the
        report run. The e-mail recomputes nothing.

    Returns
    -------
    EmailResult
        Roles sent, roles skipped with the reason (failed report, no
        recipients, refused by the server) and the ``.eml`` paths.

    Raises
    ------
    ValueError
        Bad settings or role file, a role not in the manifest, or (on a real
        send) a username without its password variable. Nothing is sent then.
    DeliveryError
        If the SMTP server cannot be reached or refuses the login.
    """
    period_dir = Path(period_dir)
    config = load_email_config(config_path)
    manifest = read_manifest(period_dir)
    known = manifest_roles(manifest)
    if isinstance(roles, str):
        roles = [roles]
    roles = list(known if roles is None else roles)
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise ValueError(
            f"role(s) {', '.join(unknown)} not in {period_dir / 'manifest.json'} "
            f"(roles there: {', '.join(known) or 'none'})"
        )
    roles_dir = Path(roles_dir) if roles_dir is not None else ROLES_DIR
    role_cfgs = {role: _read_role(role, roles_dir, manifest) for role in roles}
    if not dry_run and config.username:
        config.password()  # fail before building anything if the secret is missing

    result = EmailResult(period_dir=period_dir, dry_run=dry_run)
    if manifest.get("no_data"):
        for role in roles:
            result.skipped.append(SkippedRole(role, "no data for the period: nothing is sent"))
        return result
    ready: list[str] = []
    for role in roles:
        if not role_cfgs[role]["recipients"]:
            result.skipped.append(SkippedRole(role, "no recipients in the role file", False))
            continue
        try:
            role_reports(manifest, period_dir, role)
        except ReportFailedError as exc:
            result.skipped.append(SkippedRole(role, str(exc)))
            continue
        ready.append(role)
    if not ready:
        return result

    if snapshot is None:
        snapshot = load_snapshot(period_dir)
    messages: dict[str, EmailMessage] = {}
    for role in ready:
        try:
            messages[role] = build_message(
                role,
                role_cfgs[role],
                period_dir,
                snapshot,
                config=config,
                manifest=manifest,
            )
        except ReportFailedError as exc:
            result.skipped.append(SkippedRole(role, str(exc)))

    if dry_run:
        outbox = Path(out_dir) if out_dir is not None else period_dir / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        for role, msg in messages.items():
            path = outbox / f"{role}.eml"
            path.write_bytes(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))
            result.eml_paths.append(path)
            result.sent.append(role)
            result.recipients[role] = role_cfgs[role]["recipients"]
        return result

    if not messages:
        return result
    sent, skipped = deliver(config, messages)
    result.sent += sent
    result.skipped += skipped
    for role in sent:
        result.recipients[role] = role_cfgs[role]["recipients"]
    return result


def main(args) -> int:
    """``python -m analytics email``: send or dry-run the reports of a period.

    Parameters
    ----------
    args : argparse.Namespace
        ``period_dir`` (pathlib.Path or None: the newest period under
        ``reports/``), ``roles`` (``all`` or comma-separated names) and
        ``dry_run`` (bool); optional ``config``, ``roles_dir`` and
        ``reports_dir`` override the default paths.

    Returns
    -------
    int
        0 if everything that should be sent was sent (or written), 1 if a role
        was skipped because its report failed or the server refused it, 2 if
        the SMTP server could not be reached or refused the login.
    """
    period_dir = args.period_dir
    if period_dir is None:
        period_dir = latest_period_dir(getattr(args, "reports_dir", None) or paths.REPORTS_DIR)
    roles_arg = (getattr(args, "roles", None) or "all").strip()
    roles = None if roles_arg == "all" else [r.strip() for r in roles_arg.split(",") if r.strip()]
    config = getattr(args, "config", None) or DEFAULT_CONFIG
    try:
        result = send_reports(
            period_dir,
            roles=roles,
            dry_run=bool(args.dry_run),
            config_path=config,
            roles_dir=getattr(args, "roles_dir", None),
        )
    except DeliveryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.text)
    return 0 if result.ok else 1
