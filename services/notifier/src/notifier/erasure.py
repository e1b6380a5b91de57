"""The notifier's part of an erasure (ADR 23): when a ticket's ``ticket.personal_data_erased``
arrives, its view and its delivery log lose the contact's personal data, deliveries still
pending are cancelled, and (in development) the mail sink's copies are deleted.

What is kept of each delivery is what the figures need: when, which event, which channel and
kind, to which audience, and how it went; subjects, bodies, the event copy and the customer's
address and name become the erased placeholder. Mail already delivered to a mailbox outside
this system cannot be recalled: the README and the ADR say so. No message is sent about an
erasure. Events arriving sealed are opened with the key ticket-api hands out (``opener``).
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from contracts.events import CloudEvent, EventPayload
from notifier.tickets import TicketView
from servicekit.messaging.consumer import Connection, Handler, TransientError
from servicekit.personal_data import ERASED, KeyClient, Unsealer

ERASURE = "ticket.personal_data_erased"

BLANK_DELIVERIES = """
UPDATE deliveries SET subject = $2, body = $2, short = $2, event = NULL,
    recipient_name = CASE WHEN recipient_name IS NULL THEN NULL ELSE $2 END,
    address = CASE WHEN audience = 'customer' THEN $2 || ' ' || left(id, 12) ELSE address END,
    status = CASE WHEN status = 'pending' THEN 'dead' ELSE status END,
    last_error = CASE WHEN status = 'pending' THEN 'personal data erased' ELSE last_error END
WHERE ticket_id = $1 AND subject <> $2
RETURNING address, case_number
"""


def opener(ticket_api_url: str | None, credential: str) -> Unsealer | None:
    """Opens sealed events with keys from ticket-api; ``None`` without ticket-api."""
    if not ticket_api_url:
        return None
    return Unsealer(KeyClient(ticket_api_url, credential))


def erasing(handler: Handler, maildir: Path | None = None) -> Handler:
    """The planner's handler for every event but an erasure, which blanks instead."""

    async def handle(event: CloudEvent, payload: EventPayload, conn: Connection) -> None:
        if event.event_name != ERASURE:
            await handler(event, payload, conn)
            return
        case_number = await blank_view(conn, event)
        addresses = await blank_deliveries(conn, event.subject)
        if maildir is not None and case_number is not None:
            forget_mail(maildir, case_number, addresses)

    return handle


async def blank_view(conn: Connection, event: CloudEvent) -> str | None:
    """The ticket's view without personal data, at the erasure's version; its case number."""
    row = await conn.fetchrow(
        "SELECT view FROM notifier_tickets WHERE ticket_id = $1 FOR UPDATE", event.subject
    )
    if row is None:  # never seen here: nothing kept
        return None
    view = TicketView.model_validate_json(row["view"])
    if event.ticketversion != view.version + 1:
        raise TransientError(f"{event.id} arrived while the notifier has version {view.version}")
    contact = view.contact.model_copy(update={"name": ERASED, "email": ERASED, "phone": None})
    blank = view.model_copy(
        update={"version": event.ticketversion, "title": ERASED, "contact": contact}
    )
    await conn.execute(
        "UPDATE notifier_tickets SET version = $2, view = $3 WHERE ticket_id = $1",
        event.subject,
        blank.version,
        blank.model_dump_json(),
    )
    return view.case_number


async def blank_deliveries(conn: Connection, ticket_id: str) -> set[str]:
    """Blank the ticket's delivery log; the customer addresses it held (to find mail by)."""
    before = await conn.fetch(
        "SELECT DISTINCT address FROM deliveries WHERE ticket_id = $1 AND audience = 'customer'",
        ticket_id,
    )
    await conn.fetch(BLANK_DELIVERIES, ticket_id, ERASED)
    return {row["address"] for row in before if not row["address"].startswith(ERASED)}


def forget_mail(maildir: Path, case_number: str, addresses: set[str]) -> int:
    """Delete the development sink's mails about the ticket or to its contact; how many."""
    needles = [case_number.lower(), *(a.lower() for a in addresses if a)]
    deleted = 0
    for folder in ("new", "cur", "tmp"):
        for path in sorted((maildir / folder).glob("*")) if (maildir / folder).is_dir() else []:
            try:
                text = _readable(path.read_bytes())
            except OSError:
                continue
            if any(needle in text for needle in needles):
                path.unlink(missing_ok=True)
                deleted += 1
    return deleted


def _readable(raw: bytes) -> str:
    """A mail's headers and text parts, decoded (encoded words, base64, quoted-printable)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [str(message.get(h, "")) for h in ("subject", "to", "cc")]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            try:
                parts.append(str(part.get_content()))
            except (LookupError, ValueError):
                continue
    return "\n".join([raw.decode("utf-8", "replace"), *parts]).lower()
