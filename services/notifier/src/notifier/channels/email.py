"""Email over SMTP (aiosmtplib): plain-text messages that thread by ticket.

Each message carries a stable ``Message-ID`` made from its delivery id, so a mailbox or an
MTA drops the rare repeat sent after a crash between sending and logging. Every message of
a ticket ``References`` the same ticket id, so mail clients thread them, and the case number
sits in the subject for replies to find their ticket. ``Auto-Submitted: auto-generated``
(RFC 3834) tells well-behaved auto-responders not to answer, which keeps loops away.

SMTP 5xx answers (address refused, message rejected) are permanent; 4xx, timeouts and an
unreachable server are worth another try.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from notifier.channels import DeliveryFailed, Outgoing


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    message_id_domain: str
    security: str = "none"
    """``none``, ``starttls`` or ``tls``."""
    username: str | None = None
    password: str | None = None
    timeout: float = 15.0


def build_email(message: Outgoing, settings: SmtpSettings) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = formataddr((message.recipient_name or "", message.address))
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = f"<{message.delivery_id}@{settings.message_id_domain}>"
    thread = f"<ticket-{message.ticket_id}@{settings.message_id_domain}>"
    mail["References"] = thread
    mail["In-Reply-To"] = thread
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Supportdesk-Case"] = message.case_number
    mail["X-Supportdesk-Delivery"] = message.delivery_id
    mail.set_content(message.body)
    return mail


class EmailSender:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    async def send(self, message: Outgoing) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                build_email(message, s),
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password,
                use_tls=s.security == "tls",
                start_tls=s.security == "starttls",
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            permanent = all(code >= 500 for code in codes)
            raise DeliveryFailed(f"recipient refused: {codes}", permanent=permanent) from exc
        except aiosmtplib.SMTPResponseException as exc:
            permanent = exc.code >= 500 and not isinstance(exc, aiosmtplib.SMTPAuthenticationError)
            raise DeliveryFailed(
                f"SMTP {exc.code}: {exc.message[:200]}", permanent=permanent
            ) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"SMTP server unreachable: {exc!r}", permanent=False) from exc
