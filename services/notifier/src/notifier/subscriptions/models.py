"""Request and response bodies of ``/v1/webhooks``: the secret appears only on creation and
rotation (``WebhookWithSecret``), never in a list or a read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from notifier import examples
from notifier.subscriptions.store import Subscription


def example(value: dict[str, Any], *, forbid: bool = False) -> ConfigDict:
    """A model's settings with its example (the OpenAPI document shows it)."""
    config = ConfigDict(json_schema_extra={"examples": [value]})
    if forbid:
        config["extra"] = "forbid"
    return config


Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class WebhookIn(BaseModel):
    model_config = example(examples.WEBHOOK_IN, forbid=True)

    url: Annotated[str, StringConstraints(min_length=8, max_length=2000)] = Field(
        description="https URL of the receiver; it must resolve to public addresses only."
    )
    events: list[Name] = Field(
        min_length=1,
        max_length=50,
        description="Event types (`ticket.opened`, `sla.breached`), families (`sla.*`) or `*`.",
    )
    tenant: Name | None = Field(
        None, description="Only this tenant's events; required unless you admin every tenant."
    )
    policy: Name | None = Field(None, description="Only tickets under this policy.")
    priority: Name | None = Field(None, description="Only tickets of this priority id.")
    description: Annotated[str, StringConstraints(max_length=200)] | None = None
    owner_email: Email | None = Field(
        None, description="Told by email if the subscription is paused after failures."
    )


class WebhookOut(BaseModel):
    model_config = example(examples.WEBHOOK)

    id: str
    url: str
    events: list[str]
    tenant: str | None = Field(description="None: every tenant.")
    policy: str | None
    priority: str | None
    description: str | None
    owner_email: str | None
    status: Literal["active", "paused"]
    paused_reason: str | None
    consecutive_failures: int
    rotation_ends_at: datetime | None = Field(
        description="Until then deliveries carry the previous secret's signature too."
    )
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, subscription: Subscription, now: datetime) -> WebhookOut:
        fields = {k: getattr(subscription, k) for k in cls.model_fields if k != "rotation_ends_at"}
        until = subscription.previous_until
        return cls(**fields, rotation_ends_at=until if until and until > now else None)


class WebhookWithSecret(WebhookOut):
    model_config = example(examples.WEBHOOK_WITH_SECRET)

    secret: str = Field(
        description="`whsec_…` signing secret (Standard Webhooks). Shown this once: store it."
    )


class WebhookPage(BaseModel):
    model_config = example(examples.WEBHOOK_PAGE)

    items: list[WebhookOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page (also in the Link header); "
        "null on the last page."
    )


class RotateIn(BaseModel):
    model_config = example(examples.ROTATE_IN, forbid=True)

    overlap_seconds: float | None = Field(
        None, ge=0, le=7 * 86400, description="How long the old secret still signs (24 h)."
    )


class PauseIn(BaseModel):
    model_config = example(examples.PAUSE_IN, forbid=True)

    reason: Annotated[str, StringConstraints(max_length=500)] = "paused by its owner"


class PingOut(BaseModel):
    model_config = example(examples.PING)

    webhook_id: str = Field(description="The ping's `webhook-id` (and CloudEvent id).")
    delivered: bool = Field(description="The receiver answered 2xx.")
    status: int | None = Field(description="The receiver's HTTP status; None: unreachable.")
    body: str = Field(description="The start of the receiver's answer (2,000 characters).")
    error: str | None


PROBLEM_TEXT = {
    401: "No credentials, or ticket-api does not know them",
    403: "Not an admin, or an admin of other tenants",
    404: "No such subscription among the caller's tenants",
    422: "A refused value: an unsafe URL, an unknown event type, policy or priority",
    503: "The notifier's database or ticket-api is unreachable",
}


def problems(*statuses: int) -> dict[int | str, dict[str, object]]:
    """The problem documents (RFC 9457) a route can answer, for its ``responses``."""
    schema = {
        "type": "object",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            name: {"type": kind}
            for name, kind in (
                ("type", "string"),
                ("title", "string"),
                ("status", "integer"),
                ("detail", "string"),
                ("instance", "string"),
                ("code", "string"),
                ("errors", "array"),
            )
        },
    }
    return {
        status: {
            "description": PROBLEM_TEXT[status],
            "content": {"application/problem+json": {"schema": schema}},
        }
        for status in statuses
    }
