"""The read API's answers, declared: each route's response model, so the OpenAPI document
says what a dashboard receives (and a generated client reads it unedited).

Models forbid fields they do not declare: a key added to an answer without its model is a
failure in the tests, not a silent drop.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from servicekit.openapi import ProblemDocument
from servicekit.problems import MEDIA_TYPE
from sla_monitor.api import examples


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


def example(value: dict[str, Any]) -> ConfigDict:
    """An answer model's settings with its example (the OpenAPI document shows it)."""
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [value]})


class Instant(Answer):
    """An instant in UTC (``...Z``) and in the policy's local time (with its offset)."""

    utc: str = Field(examples=["2026-11-30T15:00:00Z"])
    local: str = Field(examples=["2026-11-30T09:00:00-06:00"])


class Assignee(Answer):
    id: str
    name: str


class EarlierCycle(Answer):
    """How an earlier cycle of a clock ended (a reopen, the previous periodic update)."""

    cycle: int
    started_at: Instant | None
    met_at: Instant | None
    deadline: Instant | None
    used_seconds: float
    late: bool
    breached: bool


class Clock(Answer):
    """One of a ticket's clocks, live."""

    model_config = example(examples.CLOCK)

    metric: str
    status: str = Field(description="pending, running, paused, met, breached or not_applicable")
    running: bool
    target_seconds: float | None
    used_seconds: float
    remaining_seconds: float | None
    deadline: Instant | None
    started_at: Instant | None
    met_at: Instant | None
    late: bool
    pauses: int
    cycle: int
    earlier_cycles: list[EarlierCycle]


class TicketClocks(Answer):
    """A ticket's clocks as of ``now``, with its names."""

    model_config = example(examples.TICKET_CLOCKS)

    ticket_id: str
    case_number: str
    title: str
    policy: str
    policy_version: int = Field(
        description="The version of the policy that governs this ticket's clocks: the one in "
        "force when it was opened (a later version never changes them)."
    )
    tenant: str
    priority: str
    assignee: Assignee | None
    ticket_type: str
    state: str
    time_zone: str
    now: Instant
    ticket_version: int
    clocks: list[Clock]


class ClockRow(Answer):
    """A clock as stored at its ticket's last event (``as_of``), with its ticket's names; the
    status is ``breached`` once a running clock's deadline has passed."""

    model_config = example(examples.CLOCK_ROW)

    ticket_id: str
    case_number: str | None
    title: str | None
    metric: str
    policy: str
    tenant: str
    priority: str
    assignee: Assignee | None
    state: str | None
    ticket_type: str
    status: str
    running: bool
    late: bool
    target_seconds: float | None
    used_seconds_as_of: float
    as_of: Instant
    deadline: Instant | None
    until_deadline_seconds: float | None
    met_at: Instant | None
    pauses: int


class ClockChange(ClockRow):
    """The data of a stream's ``event: clock`` message."""

    change: Literal["written", "deadline_passed"]


NEXT_CURSOR = Field(
    description="Pass as ?cursor= for the next page (also in the Link header); null on the "
    "last page."
)
LIMIT = Field(description="The page size used (the asked `limit`, at most the server's cap).")
TRUNCATED = Field(
    description="There is a next page (`next_cursor` is set); kept for clients written "
    "before paging."
)


class AtRisk(Answer):
    model_config = example(examples.AT_RISK)

    now: Instant
    within_seconds: float
    limit: int = LIMIT
    truncated: bool = TRUNCATED
    items: list[ClockRow]
    next_cursor: str | None = NEXT_CURSOR


class Breaches(Answer):
    model_config = example(examples.BREACHES)

    since: Instant
    until: Instant
    limit: int = LIMIT
    truncated: bool = TRUNCATED
    items: list[ClockRow]
    next_cursor: str | None = NEXT_CURSOR


class MetricCompliance(Answer):
    met: int
    met_on_time: int
    on_time_share: float
    median_used_seconds: float
    p90_used_seconds: float


class ComplianceGroup(Answer):
    policy: str
    priority: str
    metrics: dict[str, MetricCompliance] = Field(description="By metric")


class Compliance(Answer):
    model_config = example(examples.COMPLIANCE)

    since: Instant | None
    until: Instant | None
    items: list[ComplianceGroup] = Field(description="By policy, then priority as ranked there")


class ReceiptClock(Answer):
    """One cycle of one clock on the receipt; its lines add up to ``used_seconds``."""

    metric: str
    name: str
    cycle: int
    status: str
    status_text: str
    late: bool
    target_seconds: float | None
    started_at: Instant | None
    ended_at: Instant | None
    met_at: Instant | None
    deadline: Instant | None
    used_seconds: float
    total_seconds: float
    used: str = Field(examples=["1:30:00"])
    total: str = Field(examples=["1:30:00"])
    lines: list[dict[str, Any]] = Field(
        description="Counted spans, closed stretches (with why) and retargets, in order"
    )


class Receipt(Answer):
    model_config = example(examples.RECEIPT)

    ticket_id: str
    case_number: str
    title: str
    tenant: str
    state: str
    policy: str
    priority: str
    ticket_type: str
    time_zone: str
    as_of: Instant
    language: Literal["es", "en"]
    clocks: list[ReceiptClock]


class Health(Answer):
    model_config = example(examples.HEALTH)

    status: Literal["ok"]


class Readiness(Answer):
    model_config = example(examples.READY)

    status: Literal["ok", "unavailable"]
    database: str = Field(description="ok, or the error met reaching it")
    nats: Literal["ok", "disconnected"] | None = None
    consumer: Literal["attached", "detached"] | None = None


PROBLEM_TEXT = {
    401: "No credentials, or ticket-api does not know them",
    403: "A tenant the caller does not see",
    404: "No such ticket among the caller's tenants",
    503: "The SLA database or ticket-api is unreachable",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem documents a route can answer, for its ``responses``."""
    return {
        status: {
            "description": PROBLEM_TEXT[status],
            "content": {MEDIA_TYPE: {"schema": ProblemDocument.model_json_schema()}},
        }
        for status in statuses
    }
