"""Requests by email (004: "generate a request just by sending an email").

A raw RFC 5322 message — piped by an MTA, posted by a mail provider's inbound hook, or taken
by the optional SMTP listener — becomes a ticket, or the customer's reply on one:

- It must come from the address of a registered, active contact of an active tenant (000,
  004). Mail from anyone else is refused and logged, and never answered: a reply to a forged
  or unknown sender is backscatter.
- A message the receiving MTA marked as failing DMARC (``Authentication-Results``) is a
  spoofed sender and refused the same way.
- Auto-replies and bounces (``Auto-Submitted``, ``Precedence: bulk``, ``multipart/report``,
  ``MAILER-DAEMON``) are ignored: they must never open tickets nor start a mail loop with
  the notifier's acknowledgments.
- A subject carrying a case number (``[BTW-000123]``, as the notifier's subjects do) is a reply
  on that ticket — if it is the sender's tenant's; a closed ticket gets a follow-up ticket
  instead (closed never reopens). Anything else opens a ticket.
- The text is the plain part, else the HTML made text; any charset decodes; quoted history
  below the reply is cut. Attachments go to the attachment store within its type and size
  limits; a refused file is named in the outcome and the rest goes on.
- The ``Message-ID`` is the idempotency key: an MTA delivering the same message twice opens
  one ticket.
- A message past the limits of ``email_limits`` (nesting, parts, attachments, headers,
  addresses, subject and text length) is refused whole with ``EmailTooComplex`` before
  anything is kept. Text is cleaned, not refused: control characters (a NUL from a broken
  client) are dropped and undecodable characters become U+FFFD, in subject, text, file names
  and Message-ID alike — a customer's request should not bounce for a byte they never saw.
- Files are written only once the message is known to be a reply or a new request the sender
  may open: a refused message leaves none behind. (A store failure after that can leave an
  unreferenced file; it is not deleted, as another ticket may share the same content.)

Which policy a new request falls under: the policy whose email channel it was sent to, else
the tenant's one contracted policy, else ``TICKET_API_EMAIL_DEFAULT_POLICY``. Its type and
priority are the policy's (``SupportPolicy.email_classification``): a form was not filled, so
the agent classifies it and asks for missing intake data (004's contact attempts).

A new request and a reply are the desk's ``open`` and ``reply`` use cases, as on REST: mail
only decides who writes, about which ticket, and with which files.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from typing import Any

import html2text

from contracts.policy import SupportPolicy
from contracts.vocabulary import TicketState
from ticket_api.application import TicketDesk, TicketNotFound
from ticket_api.attachments import AttachmentRefused, AttachmentStore
from ticket_api.commands import Caller, Idempotency, OpenTicket, Reply
from ticket_api.directory import Directory
from ticket_api.domain.errors import NotRegistered
from ticket_api.domain.records import parse_case_number
from ticket_api.domain.ticket import Ticket
from ticket_api.email_limits import (
    EmailLimits,
    EmailTooComplex,
    check_structure,
    clean_text,
    prescan,
)

log = logging.getLogger(__name__)
CASE_NUMBER = re.compile(r"\b([A-Z][A-Z0-9]{1,9}-\d{6,12})\b")
QUOTE_STARTS = re.compile(
    r"^(>|-{2,} ?(Original Message|Mensaje original)|On .+ wrote:|El .+ escribió:|"
    r"From: |De: )",
    re.IGNORECASE,
)
AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
MAX_TITLE = 300
MAX_BODY = 20_000


@dataclass
class IntakeOutcome:
    """What became of one message."""

    action: str
    """``opened``, ``replied``, ``ignored`` (auto-reply, bounce) or ``refused``."""
    reason: str | None = None
    ticket: Ticket | None = None
    refused_attachments: list[dict[str, str]] = field(default_factory=list)
    replayed: bool = False


@dataclass(frozen=True)
class Parsed:
    sender: str
    recipients: list[str]
    subject: str
    text: str
    message_id: str | None
    attachments: list[tuple[str, str, bytes]]
    automatic: str | None
    """Why a machine wrote it (``is_automatic``), if one did."""
    unverified: bool
    """The receiving MTA found the sender forged."""


def is_automatic(message: EmailMessage) -> str | None:
    """Why this message was written by a machine (RFC 3834 and common practice), if it was."""
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    if str(message.get("Precedence", "")).strip().lower() in AUTO_PRECEDENCE:
        return "Precedence: " + str(message["Precedence"])
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return "X-Autoreply"
    if message.get_content_type() == "multipart/report":
        return "delivery report (bounce)"
    local = parseaddr(str(message.get("From", "")))[1].split("@")[0].lower()
    if local in {"mailer-daemon", "postmaster"} or str(message.get("Return-Path", "")) == "<>":
        return "sent by a mail system"
    return None


def failed_authentication(message: EmailMessage) -> bool:
    """The receiving MTA found the sender forged (DMARC failed)."""
    results = " ".join(str(h) for h in message.get_all("Authentication-Results", []))
    return "dmarc=fail" in results.lower()


def strip_quoted(text: str) -> str:
    """The new part of a reply: everything above the quoted history."""
    kept: list[str] = []
    for line in text.splitlines():
        if QUOTE_STARTS.match(line.strip()):
            break
        kept.append(line)
    new = "\n".join(kept).strip()
    return new or text.strip()


def body_text(message: EmailMessage, limits: EmailLimits) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    assert isinstance(part, EmailMessage)
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):  # an unknown or lying charset: the likeliest one
        raw = part.get_payload(decode=True)
        content = raw.decode("cp1252", "replace") if isinstance(raw, bytes) else ""
    if len(content) > limits.body_chars:  # before the costly HTML conversion
        raise EmailTooComplex("body_chars", limits.body_chars)
    content = clean_text(str(content))
    if part.get_content_type() == "text/html":
        converter = html2text.HTML2Text()
        converter.ignore_images = True
        converter.body_width = 0
        content = converter.handle(content)
    return strip_quoted(str(content).replace("\r\n", "\n"))


def parse(raw: bytes, limits: EmailLimits) -> Parsed:
    """What the intake needs of a message, within the limits (``EmailTooComplex`` if not)."""
    prescan(raw, limits)
    try:
        return _parse(raw, limits)
    except RecursionError:  # header comments nested deeper than the prescan can see
        raise EmailTooComplex("depth", limits.depth) from None


def _parse(raw: bytes, limits: EmailLimits) -> Parsed:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    check_structure(message, limits)
    sender = parseaddr(str(message.get("From", "")))[1].strip().lower()
    recipients = [
        address.lower()
        for _, address in getaddresses(
            [str(v) for h in ("To", "Cc", "Delivered-To") for v in message.get_all(h, [])]
        )
        if address
    ]
    found: list[Message] = list(message.iter_attachments())
    if len(found) > limits.attachments:
        raise EmailTooComplex("attachments", limits.attachments)
    attachments = []
    for part in found:
        assert isinstance(part, EmailMessage)
        content = part.get_payload(decode=True)
        if isinstance(content, bytes):
            name = clean_text(part.get_filename() or "") or "adjunto"
            attachments.append((name, part.get_content_type(), content))
    subject = " ".join(clean_text(str(message.get("Subject", ""))).split())
    if len(subject) > limits.subject_chars:
        raise EmailTooComplex("subject_chars", limits.subject_chars)
    message_id = clean_text(str(message.get("Message-ID", ""))).strip() or None
    text = body_text(message, limits)
    return Parsed(
        sender,
        recipients,
        subject,
        text,
        message_id,
        attachments,
        automatic=is_automatic(message),
        unverified=failed_authentication(message),
    )


class EmailIntake:
    def __init__(
        self,
        desk: TicketDesk,
        directory: Directory,
        attachments: AttachmentStore,
        *,
        limits: EmailLimits,
        default_policy: str | None = None,
    ) -> None:
        self.desk = desk
        self.directory = directory
        self.attachments = attachments
        self.limits = limits
        self.default_policy = default_policy

    def receive(self, raw: bytes) -> IntakeOutcome:
        """Turn one message into a ticket or a reply, or say why not (nothing is answered).

        Raises ``EmailTooComplex`` for a message past the limits, before anything is kept:
        unlike a refused sender, that is a failure the delivering MTA must hear about.
        """
        try:
            mail = parse(raw, self.limits)
        except EmailTooComplex as refused:
            log.warning("email intake: refused a message past %s", refused.setting)
            raise
        if (why := mail.automatic) is not None:
            log.info("email intake: ignored an automatic message (%s)", why)
            return IntakeOutcome("ignored", reason=f"automatic: {why}")
        if mail.unverified:
            log.warning("email intake: refused a message failing DMARC")
            return IntakeOutcome("refused", reason="sender-not-verified")
        contact = self.directory.contact_by_email(mail.sender) if mail.sender else None
        if contact is None:
            log.warning("email intake: refused mail from an unregistered sender")
            return IntakeOutcome("refused", reason="sender-not-registered")
        try:
            holder = self.directory.resolve("customer", contact.contact_id, contact.tenant)
        except NotRegistered as refused:
            log.warning("email intake: refused mail from %s: %s", contact.contact_id, refused.code)
            return IntakeOutcome("refused", reason=refused.code)
        actor = {"kind": "customer", "id": holder.id, "name": holder.name}
        retry = None
        if mail.message_id:
            fingerprint = hashlib.sha256(raw).hexdigest()
            retry = Idempotency(f"email:{mail.sender}", mail.message_id[:200], fingerprint)
        previous = self._mentioned_ticket(mail.subject, holder.tenant or "")
        caller = Caller(actor, idempotency=retry)
        text = (mail.text or "(sin texto)")[:MAX_BODY]
        if previous is not None and previous.state is not TicketState.CLOSED:
            stored, refused_files = self._store_attachments(mail)
            reply = Reply(body=text, channel="email", attachments=stored)
            outcome = self.desk.reply(previous.id, reply, caller)
            return IntakeOutcome("replied", None, outcome.ticket, refused_files, outcome.replayed)
        policy = self._policy_for(mail, holder.tenant or "")
        if policy is None:
            log.warning("email intake: no policy for a request from tenant %s", holder.tenant)
            return IntakeOutcome("refused", reason="no-policy-for-email")
        self.directory.check_may_open(holder, policy=policy.id, space=None)
        ticket_type, priority = policy.email_classification()
        stored, refused_files = self._store_attachments(mail)
        request = OpenTicket(
            policy=policy.id,
            tenant=holder.tenant or "",
            contact=holder.contact or {},
            title=(mail.subject or "(sin asunto)")[:MAX_TITLE],
            description=text,
            ticket_type=ticket_type,
            priority=priority,
            channel="email",
            attachments=stored,
            follow_up_of=previous.id if previous is not None else None,
            require_intake=False,
        )
        opened = self.desk.open(request, caller)
        return IntakeOutcome("opened", None, opened.ticket, refused_files, opened.replayed)

    def _store_attachments(self, mail: Parsed) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        stored, refused = [], []
        for name, media_type, content in mail.attachments:
            try:
                stored.append(self.attachments.put(name, media_type, content))
            except AttachmentRefused as why:
                refused.append({"name": why.name, "en": why.en, "es": why.es})
        return stored, refused

    def _mentioned_ticket(self, subject: str, tenant: str) -> Ticket | None:
        for candidate in CASE_NUMBER.findall(subject.upper()):
            if parse_case_number(candidate) is None:
                continue
            try:
                ticket = self.desk.ticket(self.desk.ticket_id_for_case(candidate))
            except TicketNotFound:
                continue
            if ticket.tenant == tenant:  # another tenant's case number is just text
                return ticket
        return None

    def _policy_for(self, mail: Parsed, tenant: str) -> SupportPolicy | None:
        organization = self.directory.tenant(tenant)
        usable = [p for p in self.desk.policies.values() if organization.may_use(p.id)]
        for policy in usable:
            addresses = {
                (c.address or "").lower() for c in policy.contact_channels if c.kind == "email"
            }
            if addresses & set(mail.recipients):
                return policy
        if len(organization.policies) == 1:
            return self.desk.policy(organization.policies[0])
        if self.default_policy and organization.may_use(self.default_policy):
            return self.desk.policy(self.default_policy)
        return None
