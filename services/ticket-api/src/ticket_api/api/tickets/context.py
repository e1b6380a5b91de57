"""What every ticket endpoint receives and gives back, declared once as FastAPI dependencies.

``Asking`` bundles what a request brings besides its body — the principal, the desk, the
``Idempotency-Key`` (scoped by principal and fingerprinted with the body) and the W3C trace
context — and ``AskingOnTicket`` adds ``If-Match``. The desk keeps the clock: every entry point
(REST, email, SMTP) then reads the same time, and a simulated clock drives them all.
``Asked.answer`` shapes every command's reply: the ticket, its version as ``ETag``,
``Idempotent-Replayed`` on a retry.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Request, Response
from opentelemetry import propagate, trace

from ticket_api.api.principals import CurrentPrincipal, Principal
from ticket_api.api.problems import Problem
from ticket_api.api.tickets import models as m
from ticket_api.api.tickets.access import check_visible, ticket_id
from ticket_api.application import TicketDesk
from ticket_api.commands import Caller, Idempotency, Outcome
from ticket_api.domain.ticket import Trace
from ticket_api.read_model import TicketList


def desk(request: Request) -> TicketDesk:
    return request.app.state.desk  # type: ignore[no-any-return]


def ticket_list(request: Request) -> TicketList:
    return request.app.state.ticket_list  # type: ignore[no-any-return]


Desk = Annotated[TicketDesk, Depends(desk)]
Listing = Annotated[TicketList, Depends(ticket_list)]
IfMatch = Annotated[str | None, Header(description='Expected version, e.g. "3".')]
IdempotencyKey = Annotated[
    str | None, Header(max_length=200, description="Retry-safe key: a retry gets the first answer.")
]


def trace_context() -> Trace:
    """The W3C trace context of the current request, stored with the events it causes."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not re.fullmatch(r"\d{1,9}", tag, re.ASCII):
        raise Problem(
            400,
            "bad-if-match",
            en='If-Match must be a version such as "3".',
            es='If-Match debe ser una versión, por ejemplo "3".',
        )
    return int(tag)


async def idempotency(
    request: Request, principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None
) -> Idempotency | None:
    key = idempotency_key
    if key is None:
        return None
    body = await request.body()
    try:
        canonical = json.dumps(json.loads(body or b"{}"), sort_keys=True)  # no body == {}
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    fingerprint = hashlib.sha256(
        f"{request.method} {request.url.path}\n{canonical}".encode()
    ).hexdigest()
    scope = f"{principal.tenant or '*'}:{principal.kind}:{principal.id}"
    return Idempotency(principal=scope, key=key, fingerprint=fingerprint)


Retry = Annotated[Idempotency | None, Depends(idempotency)]


def answer(response: Response, outcome: Outcome, status: int = 200) -> m.TicketOut:
    """The ticket as the response body, with its version as ETag."""
    response.status_code = status
    response.headers["ETag"] = f'"{outcome.ticket.version}"'
    span = trace.get_current_span()  # the request's span names its ticket (trace search)
    span.set_attribute("supportdesk.ticket.id", str(outcome.ticket.id))
    span.set_attribute("supportdesk.ticket.case_number", outcome.ticket.case_number)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return m.TicketOut.of(outcome.ticket)


@dataclass(frozen=True)
class Asked:
    """One request for a use case: who asks, with which guarantees, and where to answer."""

    principal: Principal
    desk: TicketDesk
    listing: TicketList
    response: Response
    idempotency: Idempotency | None
    trace: Trace
    if_match: str | None = None
    """Parsed when the use case is called, after the view has checked the principal's role."""

    def caller(self) -> Caller:
        """Who asks, as the desk sees them."""
        version = expected_version(self.if_match)
        return Caller(self.principal.actor, self.trace, self.idempotency, version)

    def on(self, ticket_ref: str) -> tuple[UUID, Caller]:
        """The ticket a reference (id or case number) names, and the caller scoped to their
        tenants: another tenant's ticket is "not found" under the reference they used."""
        principal = self.principal
        scoped = replace(
            self.caller(), authorize=lambda ticket: check_visible(principal, ticket, ticket_ref)
        )
        return ticket_id(self.desk, ticket_ref), scoped

    def answer(self, outcome: Outcome, status: int = 200) -> m.TicketOut:
        """The changed ticket; the ticket list catches up in the background (the write is
        committed and answered at once; searches catch up themselves before they read)."""
        self.listing.catch_up_soon()
        return answer(self.response, outcome, status)


def asked(
    principal: CurrentPrincipal, app: Desk, listing: Listing, response: Response, retry: Retry
) -> Asked:
    return Asked(principal, app, listing, response, retry, trace_context())


Asking = Annotated[Asked, Depends(asked)]


def asked_on_ticket(base: Asking, if_match: IfMatch = None) -> Asked:
    return replace(base, if_match=if_match)


AskingOnTicket = Annotated[Asked, Depends(asked_on_ticket)]
