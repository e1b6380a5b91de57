"""What every event payload shares: its wire name, its schema version, who caused it."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

_UNCARRIABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
"""Control characters (NUL above all: PostgreSQL text and JSONB refuse it) and lone UTF-16
surrogates (no UTF-8 encoding exists for them: the wire and every store would fail)."""


def uncarriable(value: str) -> str | None:
    """The first character of ``value`` no store or channel can carry, if there is one."""
    found = _UNCARRIABLE.search(value)
    return found.group() if found else None


def printable(value: str) -> str:
    """Refuse what text cannot carry everywhere: control characters and lone surrogates."""
    if uncarriable(value) is not None:
        raise ValueError("must not contain control characters (such as NUL) or lone surrogates")
    return value


Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000),
    AfterValidator(printable),
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(printable),
]
Identifier = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", min_length=1, max_length=63)
]
"""A slug usable as a NATS subject token: lower case, digits, ``-`` and ``_``."""


class ActorKind(StrEnum):
    """Who acted: recorded on every event so the history says who did what (004)."""

    CUSTOMER = "customer"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    SERVICE = "service"
    SYSTEM = "system"


class Actor(BaseModel):
    """The principal behind an event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActorKind
    id: ShortText
    name: ShortText | None = None


class EventPayload(BaseModel):
    """Base of every event's ``data``.

    ``event_name`` is the short name used in subjects and in policy routing rules
    (``ticket.opened``); ``schema_version`` goes up when the payload's shape changes, and
    consumers upcast older versions rather than history being rewritten.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_name: ClassVar[str]
    schema_version: ClassVar[int] = 1
    meaning: ClassVar[str]
    upcasters: ClassVar[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {}
    """``{n: f}``: ``f`` turns the data of schema version ``n`` into that of ``n + 1``, so a
    consumer reads messages published before the contract changed (still in the stream)."""

    actor: Actor = Field(description="Who caused the event.")
