"""Ticket events: the ticket's history as ticket-api records and publishes it.

One class per fact in the lifecycle of DOMAIN.md (open → in progress ⇄ awaiting customer →
resolved → closed, with reopen, escalation and the feature-request review). The ticket id,
its version, tenant and policy travel in the CloudEvents envelope, not in the payload.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from contracts.events.base import EventPayload, Identifier, ShortText, Text

CaseNumber = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,9}-\d{6,}$")]
SupportLevel = Annotated[int, Field(ge=1, le=9)]


class Channel(StrEnum):
    """Where a request or a reply came in."""

    PORTAL = "portal"
    EMAIL = "email"
    PHONE = "phone"
    VIDEO_CALL = "video_call"
    CHAT = "chat"
    WHATSAPP = "whatsapp"
    API = "api"


class ResolutionKind(StrEnum):
    """How a ticket was resolved; a workaround counts as a resolution (001)."""

    SOLUTION = "solution"
    WORKAROUND = "workaround"
    ABANDONED = "abandoned"


class ClosureKind(StrEnum):
    """Why a ticket was closed for good (000: confirmation or expiry; 004: abandonment)."""

    CONFIRMED = "confirmed"
    EXPIRED = "expired"
    ABANDONED = "abandoned"
    CUSTOMER_REQUEST = "customer_request"


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name)") from exc
    return name


ZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_zone)]


class Contact(BaseModel):
    """The customer contact a ticket belongs to, as the notifier needs it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: ShortText
    name: ShortText
    email: ShortText
    locale: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")] = "es"
    phone: Annotated[str, StringConstraints(pattern=r"^\+[0-9]{7,15}$")] | None = Field(
        default=None, description="E.164 number for SMS or WhatsApp, if the contact has one."
    )
    channel: AgreedChannel | None = Field(
        default=None,
        description="The single channel agreed with this contact (002); empty: the policy's "
        "default.",
    )
    time_zone: Annotated[str, StringConstraints(max_length=64), AfterValidator(_zone)] | None = (
        Field(default=None, description="IANA zone for times in messages; empty: the policy's.")
    )


class AgreedChannel(StrEnum):
    """Channels a customer contact can agree to be told on (a subset of the notifier's)."""

    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"


class Attachment(BaseModel):
    """A file that came with a request or a reply; its content is kept by ticket-api and
    served at ``/v1/tickets/{id}/attachments/{id}`` to whoever may see the ticket."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="SHA-256 of the content."
    )
    name: ShortText
    media_type: Annotated[str, StringConstraints(max_length=127)]
    size: Annotated[int, Field(ge=0)]


class TicketEvent(EventPayload):
    """Base of the ticket events."""


class Opened(TicketEvent):
    event_name: ClassVar[str] = "ticket.opened"
    meaning: ClassVar[str] = "A request was registered as a ticket (state: open)."

    case_number: CaseNumber
    contact: Contact
    title: ShortText
    description: Text
    ticket_type: Identifier
    priority: Identifier
    subcategory: Identifier | None = None
    product: Identifier | None = None
    product_version: ShortText | None = None
    channel: Channel = Channel.PORTAL
    modality: Identifier | None = Field(
        default=None, description="The contracted modality (003: 24x7 or 8x5), if any."
    )
    intake: dict[str, Any] = Field(
        default_factory=dict, description="The intake fields the policy asks for this type."
    )
    follow_up_of: UUID | None = Field(
        default=None, description="The closed ticket this one continues (closed never reopens)."
    )
    space: Identifier | None = Field(
        default=None, description="The contracted space the request is about (000), if any."
    )
    attachments: list[Attachment] = Field(default_factory=list)


class Classified(TicketEvent):
    event_name: ClassVar[str] = "ticket.classified"
    meaning: ClassVar[str] = "Type, subcategory or priority changed, with the reason."

    ticket_type: Identifier
    priority: Identifier
    subcategory: Identifier | None = None
    previous_ticket_type: Identifier
    previous_priority: Identifier
    reason: ShortText


class Assigned(TicketEvent):
    event_name: ClassVar[str] = "ticket.assigned"
    meaning: ClassVar[str] = "An agent at a support level took the ticket."

    agent_id: ShortText
    agent_name: ShortText
    support_level: SupportLevel = 1


class InProgress(TicketEvent):
    event_name: ClassVar[str] = "ticket.in_progress"
    meaning: ClassVar[str] = "The agent is working on the ticket (state: in progress)."


def is_internal(event_name: str, public: bool | None = None) -> bool:
    """Whether a ticket fact is for staff only: an internal note, or an agent's reply that is not
    public. The one statement of that rule: ticket-api hides these from customers' history and
    list previews, the notifier tells no customer and no webhook subscriber about them.
    ``public`` is the reply's flag (``None`` for events that have none)."""
    return event_name == "ticket.note_added" or (
        event_name == "ticket.agent_replied" and public is False
    )


class AgentReplied(TicketEvent):
    event_name: ClassVar[str] = "ticket.agent_replied"
    meaning: ClassVar[str] = "An agent wrote; a public reply is a response to the customer."

    body: Text
    public: bool = Field(description="False for internal replies the customer never sees.")


class CustomerReplied(TicketEvent):
    event_name: ClassVar[str] = "ticket.customer_replied"
    meaning: ClassVar[str] = "The customer wrote back."

    body: Text
    channel: Channel = Channel.PORTAL
    attachments: list[Attachment] = Field(default_factory=list)


class AwaitingCustomer(TicketEvent):
    event_name: ClassVar[str] = "ticket.awaiting_customer"
    meaning: ClassVar[str] = "The agent needs information from the customer (clock pauses)."

    request: Text


class ContactAttempted(TicketEvent):
    event_name: ClassVar[str] = "ticket.contact_attempted"
    meaning: ClassVar[str] = "An attempt to reach the customer for missing information (004)."

    attempt: Annotated[int, Field(ge=1)]
    channel: Channel
    note: ShortText | None = None


class EtrUpdated(TicketEvent):
    event_name: ClassVar[str] = "ticket.etr_updated"
    meaning: ClassVar[str] = "The estimated time to recovery was refined (002)."

    etr: AwareDatetime
    note: ShortText | None = None


class Escalated(TicketEvent):
    event_name: ClassVar[str] = "ticket.escalated"
    meaning: ClassVar[str] = "The ticket moved to a higher support level, with an ETR (002)."

    from_level: SupportLevel
    to_level: SupportLevel
    reason: ShortText
    etr: AwareDatetime


class Resolved(TicketEvent):
    event_name: ClassVar[str] = "ticket.resolved"
    meaning: ClassVar[str] = "A solution, a workaround, or abandonment (state: resolved)."

    resolution: ResolutionKind
    summary: Text


class Reopened(TicketEvent):
    event_name: ClassVar[str] = "ticket.reopened"
    meaning: ClassVar[str] = "A resolved ticket was reopened by the customer's reply or request."

    reason: ShortText


class Closed(TicketEvent):
    event_name: ClassVar[str] = "ticket.closed"
    meaning: ClassVar[str] = "Closed for good; a further request needs a follow-up ticket."

    closure: ClosureKind
    note: ShortText | None = None


class NoteAdded(TicketEvent):
    event_name: ClassVar[str] = "ticket.note_added"
    meaning: ClassVar[str] = "An internal note; never shown to the customer."

    body: Text


class FeatureRequestReviewed(TicketEvent):
    event_name: ClassVar[str] = "ticket.feature_request_reviewed"
    meaning: ClassVar[str] = "The product committee decided on a new-feature request (000)."

    viable: bool
    cost_note: ShortText | None = None
    target_release: ShortText | None = None


class PersonalDataErased(TicketEvent):
    event_name: ClassVar[str] = "ticket.personal_data_erased"
    meaning: ClassVar[str] = (
        "The contact's personal data on this ticket was erased (their key destroyed): names, "
        "contact details and texts now read as erased; history, times and SLA outcomes stay."
    )

    reason: ShortText = Field(
        description="Why (a request, a retention period); never names the person."
    )
    scope: Literal["contact", "retention"] = Field(
        description="The contact's erasure request, or the policy's retention period."
    )


TICKET_EVENTS: tuple[type[TicketEvent], ...] = (
    Opened,
    Classified,
    Assigned,
    InProgress,
    AgentReplied,
    CustomerReplied,
    AwaitingCustomer,
    ContactAttempted,
    EtrUpdated,
    Escalated,
    Resolved,
    Reopened,
    Closed,
    NoteAdded,
    FeatureRequestReviewed,
    PersonalDataErased,
)
