"""Ticket commands under ``/v1/tickets``: each view parses, calls a ``TicketDesk`` use case and
shapes the answer (reads are in ``queries``).

Every command accepts ``If-Match`` (a stale version → 412) and ``Idempotency-Key`` (a retry →
the first answer; the same key with another body → 422). Two writers racing on a ticket: one
wins, the other gets 409. Responses carry the ticket's version as ``ETag``. A view declares
which roles may ask for its command; every other rule is the desk's (see application.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request

from servicekit.openapi import problems, with_headers
from ticket_api import commands as c
from ticket_api.api.principals import STAFF
from ticket_api.api.tickets import bulk, queries
from ticket_api.api.tickets import models as m
from ticket_api.api.tickets.access import CLOSERS, SERVICE, opening_for
from ticket_api.api.tickets.context import Asking, AskingOnTicket
from ticket_api.application import TicketNotFound

PREFIX = "/v1/tickets"
router = APIRouter(tags=["tickets"])


@router.post(
    PREFIX,
    status_code=201,
    response_model=m.TicketOut,
    summary="Open a ticket",
    operation_id="openTicket",
    responses=with_headers("Location", "ETag", "Idempotent-Replayed", status=201)
    | problems(404, d404="A contact or tenant named in the body is not registered"),
)
def open_ticket(body: m.OpenTicket, ask: Asking, request: Request) -> m.TicketOut:
    tenant, contact = opening_for(ask.principal, body, request.app.state.directory)
    fields = body.model_dump(exclude={"tenant", "contact"})
    outcome = ask.desk.open(c.OpenTicket(tenant=tenant, contact=contact, **fields), ask.caller())
    if outcome.replayed and not ask.principal.may_see(outcome.ticket.tenant):
        raise TicketNotFound(str(outcome.ticket.id))  # never answer with another tenant's data
    location = request.url_for("get_ticket", ticket_ref=outcome.ticket.id)
    ask.response.headers["Location"] = str(location)
    return ask.answer(outcome, status=201)


router.include_router(queries.router)  # after opening, before the commands: the document's order
router.include_router(bulk.router)


COMMAND_ANSWERS = with_headers("ETag", "Idempotent-Replayed") | problems(
    400, 409, 412, d400='If-Match is not a version such as "3" (bad-if-match)'
)
"""What every command can answer besides the ticket (401, 403, 404, 422, 429 and 503 are
added to every authenticated operation by ``servicekit.openapi.publish``)."""


def command_route(
    path: str, summary: str, operation_id: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return router.post(
        f"{PREFIX}/{{ticket_ref}}/{path}",
        response_model=m.TicketOut,
        summary=summary,
        operation_id=operation_id,
        responses=COMMAND_ANSWERS,
    )


@command_route("assign", "Assign to an agent", "assignTicket")
def assign(ticket_ref: str, body: m.Assign, ask: AskingOnTicket) -> m.TicketOut:
    ask.principal.require(*STAFF, doing="assign tickets")
    ticket, caller = ask.on(ticket_ref)
    return ask.answer(ask.desk.assign(ticket, c.Assign(**body.model_dump()), caller))


@command_route("start", "Start work (in progress)", "startTicket")
def start(ticket_ref: str, ask: AskingOnTicket) -> m.TicketOut:
    ask.principal.require(*STAFF, doing="start work on tickets")
    return ask.answer(ask.desk.start(*ask.on(ticket_ref)))


@command_route("replies", "Reply (agent or customer)", "replyToTicket")
def reply(ticket_ref: str, body: m.Reply, ask: AskingOnTicket) -> m.TicketOut:
    if not ask.principal.is_customer:
        ask.principal.require(*STAFF, doing="reply to customers")
    ticket, caller = ask.on(ticket_ref)
    return ask.answer(ask.desk.reply(ticket, c.Reply(**body.model_dump()), caller))


@command_route("await-customer", "Ask the customer for information", "awaitCustomer")
def await_customer(ticket_ref: str, body: m.AwaitCustomer, ask: AskingOnTicket) -> m.TicketOut:
    ask.principal.require(*STAFF, doing="put tickets on hold for the customer")
    ticket, caller = ask.on(ticket_ref)
    return ask.answer(ask.desk.await_customer(ticket, c.AwaitCustomer(body.request), caller))


@command_route("contact-attempts", "Record an unanswered contact attempt", "recordContactAttempt")
def contact_attempt(ticket_ref: str, body: m.ContactAttempt, ask: AskingOnTicket) -> m.TicketOut:
    ask.principal.require(*STAFF, doing="record contact attempts")
    ticket, caller = ask.on(ticket_ref)
    attempt = c.ContactAttempt(**body.model_dump())
    return ask.answer(ask.desk.record_contact_attempt(ticket, attempt, caller))


@command_route("priority", "Reclassify: type, subcategory or priority", "reclassifyTicket")
def reclassify(ticket_ref: str, body: m.Reclassify, ask: AskingOnTicket) -> m.TicketOut:
    ask.principal.require(*STAFF, doing="reclassify tickets")
    ticket, caller = ask.on(ticket_ref)
    return ask.answer(ask.desk.reclassify(ticket, c.Reclassify(**body.model_dump()), caller))


@command_route("escalate", "Escalate to a higher support level, with an ETR", "escalateTicket")
def escalate(ticket_ref: str, body: m.Escalate, ask: AskingOnTicket) -> m.TicketOut:
    ask.principal.require(*STAFF, SERVICE, doing="escalate tickets")
    ticket, caller = ask.on(ticket_ref)
    return ask.answer(ask.desk.escalate(ticket, c.Escalate(**body.model_dump()), caller))


@command_route("etr", "Refine the estimated time to recovery", "updateEtr")
def update_etr(ticket_ref: str, body: m.UpdateEtr, ask: AskingOnTicket) -> m.TicketOut:
    ask.principal.require(*STAFF, SERVICE, doing="update the ETR")
    ticket, caller = ask.on(ticket_ref)
    return ask.answer(ask.desk.update_etr(ticket, c.UpdateEtr(**body.model_dump()), caller))


@command_route("resolve", "Resolve: solution, workaround or abandoned", "resolveTicket")
def resolve(ticket_ref: str, body: m.Resolve, ask: AskingOnTicket) -> m.TicketOut:
    if body.resolution == "abandoned":  # sla-monitor's abandonment countdown may do this
        ask.principal.require(*STAFF, SERVICE, doing="resolve tickets as abandoned")
    else:
        ask.principal.require(*STAFF, doing="resolve tickets")
    ticket, caller = ask.on(ticket_ref)
    return ask.answer(ask.desk.resolve(ticket, c.Resolve(**body.model_dump()), caller))


@command_route("reopen", "Reopen a resolved ticket (within the policy's window)", "reopenTicket")
def reopen(ticket_ref: str, body: m.Reopen, ask: AskingOnTicket) -> m.TicketOut:
    ask.principal.require("customer", *STAFF, doing="reopen tickets")
    ticket, caller = ask.on(ticket_ref)
    return ask.answer(ask.desk.reopen(ticket, c.Reopen(body.reason), caller))


@command_route("close", "Close for good", "closeTicket")
def close(ticket_ref: str, body: m.Close, ask: AskingOnTicket) -> m.TicketOut:
    ask.principal.require(*CLOSERS[body.closure], doing=f"close tickets as {body.closure}")
    ticket, caller = ask.on(ticket_ref)
    return ask.answer(ask.desk.close_ticket(ticket, c.Close(**body.model_dump()), caller))


@command_route("notes", "Add an internal note", "addNote")
def add_note(ticket_ref: str, body: m.Note, ask: AskingOnTicket) -> m.TicketOut:
    ask.principal.require(*STAFF, SERVICE, doing="add internal notes")
    ticket, caller = ask.on(ticket_ref)
    return ask.answer(ask.desk.add_note(ticket, c.Note(body.body), caller))


@command_route("feature-review", "Record the product committee's decision", "recordFeatureReview")
def feature_review(ticket_ref: str, body: m.FeatureReview, ask: AskingOnTicket) -> m.TicketOut:
    ask.principal.require("supervisor", "admin", doing="record feature-request decisions")
    ticket, caller = ask.on(ticket_ref)
    review = c.FeatureReview(**body.model_dump())
    return ask.answer(ask.desk.review_feature_request(ticket, review, caller))
