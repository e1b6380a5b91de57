"""Request and response bodies of the ticket endpoints (with OpenAPI examples)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from contracts.events.base import printable
from servicekit.openapi import PROBLEM_REF, ProblemDocument
from servicekit.problems import MEDIA_TYPE
from ticket_api.api import examples as ex
from ticket_api.domain.ticket import Ticket

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Short = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(printable),
]
Body = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000),
    AfterValidator(printable),
]
IntakeValue = (
    Annotated[str, StringConstraints(max_length=5_000), AfterValidator(printable)]
    | dict[str, Short]
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def example(value: dict[str, Any], *, forbid: bool = True) -> ConfigDict:
    """A body model's settings with its example (the OpenAPI document shows it)."""
    config = ConfigDict(json_schema_extra={"examples": [value]})
    if forbid:
        config["extra"] = "forbid"
    return config


class OpenTicket(_In):
    """A new request. Customers open for their own tenant and as themselves."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "policy": "btw",
                    "title": "Error 500 DIAN al enviar facturas",
                    "description": "Desde las 9:00 la DIAN responde 500 a todas las facturas.",
                    "ticket_type": "soporte",
                    "subcategory": "error-500-dian",
                    "intake": {
                        "nit": "900123456-7",
                        "nombre-contacto": "Ana Ruiz",
                        "correo-contacto": "ana@acme.example",
                        "telefono-contacto": "+57 300 000 0000",
                        "evidencia": {"name": "error.png", "media_type": "image/png"},
                    },
                }
            ]
        },
    )

    policy: Slug
    tenant: Slug | None = Field(None, description="Required for staff; customers use their own.")
    contact: Slug | None = Field(
        None,
        description="Staff opening on behalf of a customer: the id of a registered contact of "
        "the tenant (their details come from the directory). Customers open as themselves.",
    )
    space: Slug | None = Field(
        None,
        description="The contracted space the request is about (000); its authorized "
        "support contact must be the one opening.",
    )
    title: Short
    description: Body
    ticket_type: Slug
    priority: Slug | None = Field(
        None, description="Derived from the subcategory when it sets one."
    )
    subcategory: Slug | None = None
    category: Slug | None = Field(None, description="What the request is about, if scoped.")
    product: Slug | None = None
    product_version: Short | None = None
    channel: Literal["portal", "email", "phone", "video_call", "chat", "whatsapp", "api"] = "portal"
    modality: Slug | None = None
    intake: dict[Slug, IntakeValue] = Field(default_factory=dict, max_length=50)
    follow_up_of: UUID | None = Field(None, description="The closed ticket this one continues.")


class Assign(_In):
    model_config = example(ex.ASSIGN)

    agent_id: Short
    agent_name: Short
    support_level: Annotated[int, Field(ge=1, le=9)] | None = None


class Reply(_In):
    model_config = example(ex.REPLY)

    body: Body
    public: bool = Field(True, description="Agents only: false for an internal reply.")
    channel: Literal["portal", "email", "phone", "video_call", "chat", "whatsapp", "api"] = "portal"


class AwaitCustomer(_In):
    model_config = example(ex.AWAIT_CUSTOMER)

    request: Body


class ContactAttempt(_In):
    model_config = example(ex.CONTACT_ATTEMPT)

    channel: Literal["email", "phone", "chat", "whatsapp", "video_call", "portal", "api"]
    note: Short | None = None


class Reclassify(_In):
    model_config = example(ex.RECLASSIFY)

    priority: Slug | None = None
    ticket_type: Slug | None = None
    subcategory: Slug | None = None
    reason: Short


class Escalate(_In):
    model_config = example(ex.ESCALATE)

    to_level: Annotated[int, Field(ge=2, le=9)]
    reason: Short
    etr: AwareDatetime = Field(description="Estimated time to recovery (002).")


class UpdateEtr(_In):
    model_config = example(ex.UPDATE_ETR)

    etr: AwareDatetime
    note: Short | None = None


class Resolve(_In):
    model_config = example(ex.RESOLVE)

    resolution: Literal["solution", "workaround", "abandoned"]
    summary: Body


class Reopen(_In):
    model_config = example(ex.REOPEN)

    reason: Short


class Close(_In):
    model_config = example(ex.CLOSE)

    closure: Literal["confirmed", "expired", "abandoned", "customer_request"]
    note: Short | None = None


class Note(_In):
    model_config = example(ex.NOTE)

    body: Body


class FeatureReview(_In):
    model_config = example(ex.FEATURE_REVIEW)

    viable: bool
    cost_note: Short | None = None
    target_release: Short | None = None


class TicketOut(BaseModel):
    """A ticket as clients see it; ``version`` is also its ``ETag``."""

    model_config = example(ex.TICKET, forbid=False)

    id: UUID
    case_number: str
    policy: str
    tenant: str
    state: str
    title: str
    description: str
    ticket_type: str
    priority: str
    subcategory: str | None
    product: str | None
    product_version: str | None
    channel: str
    modality: str | None
    contact: dict[str, Any]
    intake: dict[str, Any]
    assignee: dict[str, Any] | None
    level: int
    etr: datetime | None
    resolution: str | None
    closure: str | None
    reopen_until: datetime | None
    unanswered_contact_attempts: int
    feature_review: dict[str, Any] | None
    follow_up_of: UUID | None
    space: str | None
    attachments: list[dict[str, Any]]
    """Files that came with the request and the customer's replies (id, name, type, size)."""
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, ticket: Ticket) -> TicketOut:
        return cls(
            id=ticket.id,
            case_number=ticket.case_number,
            policy=ticket.policy,
            tenant=ticket.tenant,
            state=ticket.state.value,
            title=ticket.title,
            description=ticket.description,
            ticket_type=ticket.ticket_type,
            priority=ticket.priority,
            subcategory=ticket.subcategory,
            product=ticket.product,
            product_version=ticket.product_version,
            channel=ticket.channel,
            modality=ticket.modality,
            contact=ticket.contact,
            intake=ticket.intake,
            assignee=ticket.assignee,
            level=ticket.level,
            etr=ticket.etr,
            resolution=ticket.resolution,
            closure=ticket.closure,
            reopen_until=ticket.reopen_until,
            unanswered_contact_attempts=ticket.unanswered_attempts,
            feature_review=ticket.feature_review,
            follow_up_of=ticket.follow_up_of,
            space=ticket.space,
            attachments=ticket.attachments,
            created_at=ticket.created_on,
            updated_at=ticket.modified_on,
            version=ticket.version,
        )


class TicketSummary(BaseModel):
    model_config = example(ex.SUMMARY, forbid=False)

    id: UUID
    case_number: str
    policy: str
    tenant: str
    state: str
    priority: str
    ticket_type: str
    assignee_id: str | None
    contact_id: str | None = Field(description="The requester (a registered contact's id).")
    level: int
    title: str
    created_at: datetime
    updated_at: datetime
    version: int


class TicketPage(BaseModel):
    model_config = example(ex.PAGE, forbid=False)

    items: list[TicketSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class EventOut(BaseModel):
    """One entry of a ticket's history, in the wire contract's terms."""

    model_config = example(ex.EVENT, forbid=False)

    id: str = Field(description="<ticket id>:<version>, the event's id everywhere.")
    type: str
    version: int
    time: datetime
    actor: dict[str, Any]
    data: dict[str, Any]


ProblemOut = ProblemDocument
"""The one problem document of every service (``servicekit.openapi``), also a bulk item's."""


PROBLEM_TEXT = {
    400: "An unknown or unsupported query parameter, a bad cursor or If-Match",
    403: "The principal's role may not ask for this command",
    422: "Invalid fields or parameters (see errors)",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem documents a route can answer, for its ``responses``."""
    return {
        status: {
            "description": PROBLEM_TEXT[status],
            "content": {MEDIA_TYPE: {"schema": PROBLEM_REF}},
        }
        for status in statuses
    }
