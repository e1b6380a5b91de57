"""``POST /v1/tickets/bulk``: one command (assign, priority, note, close) over up to 100 tickets.

The view only parses, checks the caller's role for the command (the same roles as the single
command's view) and calls the same ``TicketDesk`` use case per item (``ticket_api.bulk``). Each
item has its own ``if_match`` and its own result: the ticket's new version, or the RFC 9457
problem the single command would have answered, in the request's language. The answer is 200
whenever the request itself was acceptable; see each item's ``status``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from servicekit.openapi import with_headers
from ticket_api import commands as c
from ticket_api.api import examples as ex
from ticket_api.api.principals import STAFF
from ticket_api.api.problems import refusal, wants_english
from ticket_api.api.tickets import models as m
from ticket_api.api.tickets.access import CLOSERS, SERVICE
from ticket_api.api.tickets.context import Asking
from ticket_api.bulk import MAX_ITEMS, Result, apply_to_each
from ticket_api.commands import Caller, Idempotency, Outcome

router = APIRouter()


class BulkAssign(m.Assign):
    type: Literal["assign"]


class BulkReclassify(m.Reclassify):
    type: Literal["priority"]


class BulkNote(m.Note):
    type: Literal["note"]


class BulkClose(m.Close):
    type: Literal["close"]


BulkCommand = Annotated[
    BulkAssign | BulkReclassify | BulkNote | BulkClose, Field(discriminator="type")
]


class BulkItem(m._In):
    ticket: Annotated[str, Field(min_length=1, max_length=64, description="Id or case number.")]
    if_match: Annotated[int | None, Field(ge=1, description="The version last read.")] = None


class BulkRequest(m._In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "command": {"type": "assign", "agent_id": "agent-lucia", "agent_name": "Lucía"},
                    "items": [{"ticket": "BTW-000001", "if_match": 1}, {"ticket": "BTW-000002"}],
                }
            ]
        },
    )

    command: BulkCommand
    items: list[BulkItem] = Field(min_length=1, max_length=MAX_ITEMS)


class BulkItemResult(BaseModel):
    ticket: str = Field(description="The reference as sent.")
    status: int = Field(description="200, or the problem's status.")
    id: str | None = None
    case_number: str | None = None
    state: str | None = None
    version: int | None = Field(None, description="The ticket's new version (its ETag).")
    problem: m.ProblemOut | None = None


class BulkResult(BaseModel):
    model_config = m.example(ex.BULK_RESULT, forbid=False)

    items: list[BulkItemResult]


def roles(command: BulkAssign | BulkReclassify | BulkNote | BulkClose) -> tuple[str, ...]:
    """Who may ask for the command: as for the single command (see views.py)."""
    if isinstance(command, BulkClose):
        return CLOSERS[command.closure]
    return (*STAFF, SERVICE) if isinstance(command, BulkNote) else (*STAFF,)


@router.post(
    "/v1/tickets/bulk",
    response_model=BulkResult,
    summary="Apply one command to up to 100 tickets, each with its own If-Match and result",
    operation_id="applyBulkCommand",
    responses=m.problems(403, 422) | with_headers("Idempotent-Replayed"),
)
def bulk(body: BulkRequest, ask: Asking, request: Request) -> BulkResult:
    command = body.command
    ask.principal.require(*roles(command), doing=f"{command.type} tickets in bulk")
    fields = command.model_dump(exclude={"type"})
    use_case: dict[str, Any] = {
        "assign": lambda t, caller: ask.desk.assign(t, c.Assign(**fields), caller),
        "priority": lambda t, caller: ask.desk.reclassify(t, c.Reclassify(**fields), caller),
        "note": lambda t, caller: ask.desk.add_note(t, c.Note(**fields), caller),
        "close": lambda t, caller: ask.desk.close_ticket(t, c.Close(**fields), caller),
    }

    def apply(index: int, idempotency: Idempotency | None) -> Outcome:
        item = body.items[index]
        ticket, caller = ask.on(item.ticket)
        own: Caller = c.Caller(
            caller.actor, caller.trace, idempotency, item.if_match, caller.authorize
        )
        outcome: Outcome = use_case[command.type](ticket, own)
        return outcome

    def refused(exc: Exception) -> Result | None:
        answers = {lang: refusal(exc, english=lang == "en") for lang in ("en", "es")}
        if answers["en"] is None or answers["es"] is None:
            return None
        return {
            "status": answers["en"].status,
            "problem": {lang: a.document(request.url.path) for lang, a in answers.items() if a},
        }

    tickets = [item.ticket for item in body.items]
    results, replayed = apply_to_each(ask.desk, tickets, apply, refused, ask.idempotency)
    ask.listing.catch_up_soon()
    if replayed:
        ask.response.headers["Idempotent-Replayed"] = "true"
    language = "en" if wants_english(request) else "es"
    return BulkResult(
        items=[
            BulkItemResult(**{**r, "problem": r["problem"][language] if "problem" in r else None})
            for r in results
        ]
    )
