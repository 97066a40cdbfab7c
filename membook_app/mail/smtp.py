"""SMTP delivery with the `emails` library."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import make_msgid, parseaddr

import emails

from membook_app.settings import Settings
from models import OutboxMessage


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    mail_from: str
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    timeout: int = 20

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        """None when no SMTP server is configured: mail then stays in the outbox."""
        if not settings.smtp_host:
            return None
        return cls(host=settings.smtp_host, port=settings.smtp_port, mail_from=settings.mail_from,
                   user=settings.smtp_user, password=settings.smtp_password,
                   starttls=settings.smtp_starttls, ssl=settings.smtp_ssl)


class SmtpRefused(RuntimeError):
    """The server did not accept the message; the text says what it answered."""


def _message_id(mail_from: str) -> str:
    """A Message-ID on the sender's domain: `emails` adds none, and large mailbox
    providers refuse or junk mail without one (RFC 5322 says every message should have it)."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "membook.invalid"
    return make_msgid(domain=domain)


def send_one(config: SmtpConfig, message: OutboxMessage,
             attachments: Sequence[tuple[str, bytes]] = ()) -> None:
    """Hand one message to the SMTP server; raises SmtpRefused unless it was accepted.

    `attachments` ((filename, PDF bytes)) are made at send time, never stored in the
    outbox: an invoice's PDF is rebuilt from the database whenever it is needed.
    """
    mail = emails.html(
        html=message.html_body or None,
        text=message.text_body,
        subject=message.subject,
        mail_from=config.mail_from,
        message_id=_message_id(config.mail_from),
    )
    mail.set_headers({"X-Membook-Message-Id": str(message.id)})
    for filename, data in attachments:
        mail.attach(data=data, filename=filename, mime_type="application/pdf",
                    content_disposition="attachment")
    smtp: dict[str, object] = {"host": config.host, "port": config.port,
                               "timeout": config.timeout}
    if config.user:
        smtp["user"] = config.user
        smtp["password"] = config.password or ""
    if config.starttls:
        smtp["tls"] = True
    if config.ssl:
        smtp["ssl"] = True
    response = mail.send(to=message.to_address, smtp=smtp)
    if response is None or response.status_code not in (250, 251):
        detail = getattr(response, "error", None) or getattr(response, "status_text", "")
        code = getattr(response, "status_code", None)
        raise SmtpRefused(f"SMTP {code}: {detail}")
