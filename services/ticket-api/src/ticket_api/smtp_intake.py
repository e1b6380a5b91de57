"""An SMTP listener for the embedded default: send mail to the desk, get a ticket.

``TICKET_API_SMTP_INTAKE_PORT`` (``make run``: 2525) starts an aiosmtpd server on 127.0.0.1
that hands every message to the email intake, as an MTA's pipe would in production. Like a
real MTA it records each envelope recipient as a ``Delivered-To`` header (which policy's
address the mail was sent to). It accepts every message it can read — refusals of senders
are decided and logged by the intake, never answered to the sender. A message past the
intake's limits is the exception: it is rejected in the SMTP session with a permanent reply
(``552 5.3.4`` too big, ``554 5.6.0`` too complex), so the sending MTA tells its own user and
never retries; being an answer within the session, it is no backscatter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from ticket_api.domain.errors import NotRegistered, TicketRuleBroken
from ticket_api.email_intake import EmailIntake
from ticket_api.email_limits import EmailTooComplex

log = logging.getLogger(__name__)


class _Handler:
    def __init__(self, intake: EmailIntake, on_ticket: Callable[[], None] | None) -> None:
        self.intake = intake
        self.on_ticket = on_ticket

    async def handle_DATA(  # noqa: N802  (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        delivered = b"".join(f"Delivered-To: {r}\r\n".encode() for r in envelope.rcpt_tos)
        try:
            outcome = await asyncio.to_thread(self.intake.receive, delivered + content)
        except EmailTooComplex as refused:  # logged by the intake
            return refused.smtp_reply
        except (TicketRuleBroken, NotRegistered) as refused:
            # A decision, not an outage: a temporary reply would make the sending MTA retry
            # the same message for days. Permanent, without saying why (no backscatter).
            log.warning("smtp intake: refused a message: %s", refused.code)
            return "550 5.7.1 Message refused"
        except Exception:
            log.exception("smtp intake: a message could not be taken")
            return "451 4.3.0 Try again later"
        if outcome.ticket is not None and self.on_ticket is not None:
            self.on_ticket()
        return "250 2.0.0 Message accepted"


class SmtpIntake:
    def __init__(
        self,
        intake: EmailIntake,
        port: int,
        max_bytes: int,
        on_ticket: Callable[[], None] | None = None,
    ) -> None:
        self.controller = Controller(
            _Handler(intake, on_ticket),
            hostname="127.0.0.1",
            port=port,
            data_size_limit=max_bytes,
        )

    def start(self) -> None:
        self.controller.start()
        log.info("smtp intake: listening on 127.0.0.1:%d", self.controller.port)

    def stop(self) -> None:
        self.controller.stop()
