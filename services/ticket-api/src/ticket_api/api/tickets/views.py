"""Ticket endpoints under ``/v1/tickets``: thin routers over ``TicketDesk``.

Every command accepts ``If-Match`` (a stale version → 412) and ``Idempotency-Key`` (a retry →
the first answer; the same key with another body → 422). Two writers racing on a ticket: one
wins, the other gets 409. Responses carry the ticket's version as ``ETag``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from opentelemetry import propagate, trace

from contracts.policy import SupportPolicy
from ticket_api.api.principals import STAFF, CurrentPrincipal, Principal
from ticket_api.api.problems import Problem
from ticket_api.api.tickets import models as m
from ticket_api.application import Idempotency, Outcome, TicketDesk, TicketNotFound
from ticket_api.attachments import AttachmentStore
from ticket_api.directory import Directory, Holder
from ticket_api.domain.errors import AccessRefused, NotRegistered, RequestRefused
from ticket_api.domain.ticket import Ticket
from ticket_api.intake import check_reclassification
from ticket_api.read_model import TicketFilter, TicketList
from ticket_api.wire import event_name, is_internal, payload

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])
log = logging.getLogger(__name__)
Command = Callable[[Ticket, SupportPolicy, datetime], None]
SERVICE = "service"


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


def trace_context() -> dict[str, str]:
    """The W3C trace context of the current request, stored with the events it causes."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def refresh(listing: TicketList) -> None:
    """Let the ticket list catch up with the write just made, in the background: the write is
    committed and answered at once; searches catch up themselves before they read."""
    listing.catch_up_soon()


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


def ticket_id(app: TicketDesk, ticket_ref: str) -> UUID:
    """The id behind a reference: a UUID, or a case number such as ``BTW-000123``."""
    try:
        return UUID(ticket_ref)
    except ValueError:
        return app.ticket_id_for_case(ticket_ref.upper())


def visible(app: TicketDesk, principal: Principal, ticket_ref: str) -> Ticket:
    """The ticket by id or case number, if this principal may see it (else: not found)."""
    ticket = app.ticket(ticket_id(app, ticket_ref))
    check_visible(principal, ticket, ticket_ref)
    return ticket


def check_visible(principal: Principal, ticket: Ticket, ticket_ref: str) -> None:
    if not principal.may_see(ticket.tenant):
        raise TicketNotFound(ticket_ref)


# -- opening and reading ---------------------------------------------------------------------


@router.post("", status_code=201, response_model=m.TicketOut, summary="Open a ticket")
def open_ticket(
    body: m.OpenTicket,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    request: Request,
    retry: Retry,
) -> m.TicketOut:
    directory: Directory = request.app.state.directory
    if principal.is_customer:
        if body.tenant not in (None, principal.tenant):
            raise Problem(
                403,
                "other-tenant",
                en="Customers open tickets for their own company.",
                es="Los clientes solo abren tickets de su propia empresa.",
            )
        if body.contact not in (None, principal.id):
            raise Problem(
                403,
                "other-contact",
                en="Customers open tickets as themselves.",
                es="Los clientes abren tickets a su propio nombre.",
            )
        holder = Holder("customer", principal.id, tenant=principal.tenant)
    else:
        principal.require(*STAFF, SERVICE, doing="open tickets")
        if body.tenant is None or body.contact is None:
            raise Problem(
                422,
                "tenant-and-contact-required",
                en="Staff opening a ticket must give tenant and contact (a registered "
                "contact's id).",
                es="Al abrir un ticket en nombre de un cliente indique tenant y contact (el id de "
                "un contacto registrado).",
            )
        if not principal.may_see(body.tenant):
            raise Problem(
                403,
                "tenant-not-served",
                en=f"You do not serve {body.tenant!r}.",
                es=f"Usted no atiende a {body.tenant!r}.",
            )
        try:
            holder = directory.resolve("customer", body.contact, body.tenant)
        except AccessRefused:
            raise
        except NotRegistered as missing:
            raise RequestRefused(
                missing.code, field="contact", en=missing.en, es=missing.es
            ) from None
    directory.check_may_open(holder, policy=body.policy, space=body.space)
    tenant = holder.tenant or ""
    contact = (principal.contact if principal.is_customer else holder.contact) or {}
    outcome = app.open_ticket(
        **body.model_dump(exclude={"tenant", "contact"}),
        tenant=tenant,
        contact=contact,
        by=principal.actor,
        trace=trace_context(),
        idempotency=retry,
    )
    if outcome.replayed and not principal.may_see(outcome.ticket.tenant):
        raise TicketNotFound(str(outcome.ticket.id))  # never answer with another tenant's data
    refresh(listing)
    response.headers["Location"] = str(request.url_for("get_ticket", ticket_ref=outcome.ticket.id))
    return answer(response, outcome, status=201)


@router.get("", response_model=m.TicketPage, summary="Search tickets")
def search_tickets(
    principal: CurrentPrincipal,
    listing: Listing,
    request: Request,
    status: Annotated[str | None, Query(max_length=40)] = None,
    priority: Annotated[str | None, Query(max_length=63)] = None,
    policy: Annotated[str | None, Query(max_length=63)] = None,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
    assignee: Annotated[str | None, Query(max_length=300)] = None,
    level: Annotated[int | None, Query(ge=1, le=9)] = None,
    updated_since: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, description="Page size; at most the server's cap.")] = 50,
) -> m.TicketPage:
    cap = request.app.state.settings.page_size_cap
    if limit > cap:
        raise Problem(
            422,
            "page-too-large",
            en=f"limit may be at most {cap}.",
            es=f"limit puede ser como máximo {cap}.",
        )
    if updated_since is not None and updated_since.tzinfo is None:
        raise Problem(
            422,
            "naive-time",
            en="updated_since needs a time zone (e.g. Z).",
            es="updated_since necesita zona horaria (por ejemplo Z).",
        )
    page = listing.search(
        TicketFilter(
            status=status,
            priority=priority,
            policy=policy,
            tenant=tenant,
            assignee=assignee,
            level=level,
            updated_since=updated_since,
            tenants=None if principal.sees_all else principal.tenants,
        ),
        limit=limit,
        cursor=cursor,
    )
    return m.TicketPage(
        items=[
            m.TicketSummary(**{k: v for k, v in row.items() if k != "log_position"})
            for row in page.rows
        ],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/{ticket_ref}", response_model=m.TicketOut, summary="Read a ticket (id or case number)"
)
def get_ticket(
    ticket_ref: str, principal: CurrentPrincipal, app: Desk, response: Response
) -> m.TicketOut:
    return answer(response, Outcome(visible(app, principal, ticket_ref)))


@router.get(
    "/{ticket_ref}/attachments/{attachment_id}",
    summary="Download an attachment of the ticket",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def get_attachment(
    ticket_ref: str, attachment_id: str, principal: CurrentPrincipal, app: Desk, request: Request
) -> Response:
    ticket = visible(app, principal, ticket_ref)
    listed = next((a for a in ticket.attachments if a["id"] == attachment_id), None)
    store: AttachmentStore = request.app.state.attachments
    content = store.read(attachment_id) if listed is not None else None
    if listed is None or content is None:
        raise Problem(
            404,
            "attachment-not-found",
            en="This ticket has no such attachment.",
            es="Este ticket no tiene ese adjunto.",
        )
    disposition = f"attachment; filename*=UTF-8''{quote(listed['name'])}"
    return Response(
        content,
        media_type=listed["media_type"],
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )


@router.get("/{ticket_ref}/events", response_model=list[m.EventOut], summary="Full history")
def ticket_history(ticket_ref: str, principal: CurrentPrincipal, app: Desk) -> list[m.EventOut]:
    ticket = visible(app, principal, ticket_ref)
    out = []
    for event in app.history(ticket.id):
        assert isinstance(event, Ticket.Event)
        if principal.is_customer and is_internal(event):
            continue
        data = payload(event).model_dump(mode="json", exclude={"actor"})
        out.append(
            m.EventOut(
                id=f"{ticket.id}:{event.originator_version}",
                type=event_name(event),
                version=event.originator_version,
                time=event.timestamp,
                actor=event.actor,
                data=data,
            )
        )
    return out


# -- commands --------------------------------------------------------------------------------


def run(
    app: Desk,
    listing: TicketList,
    principal: Principal,
    ticket_ref: str,
    command: Command,
    if_match: str | None,
    retry: Idempotency | None,
    response: Response,
) -> m.TicketOut:
    outcome = app.change(
        ticket_id(app, ticket_ref),
        command,
        expected_version=expected_version(if_match),
        idempotency=retry,
        authorize=lambda ticket: check_visible(principal, ticket, ticket_ref),
    )
    refresh(listing)
    return answer(response, outcome)


def command_route(path: str, summary: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return router.post(f"/{{ticket_ref}}/{path}", response_model=m.TicketOut, summary=summary)


@command_route("assign", "Assign to an agent")
def assign(
    ticket_ref: str,
    body: m.Assign,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    retry: Retry,
    if_match: IfMatch = None,
) -> m.TicketOut:
    principal.require(*STAFF, doing="assign tickets")
    by, trace = principal.actor, trace_context()

    def command(t: Ticket, policy: SupportPolicy, now: datetime) -> None:
        t.assign(
            agent_id=body.agent_id,
            agent_name=body.agent_name,
            support_level=body.support_level,
            by=by,
            at=now,
            trace=trace,
        )

    return run(app, listing, principal, ticket_ref, command, if_match, retry, response)


@command_route("start", "Start work (in progress)")
def start(
    ticket_ref: str,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    retry: Retry,
    if_match: IfMatch = None,
) -> m.TicketOut:
    principal.require(*STAFF, doing="start work on tickets")
    by, trace = principal.actor, trace_context()
    return run(
        app,
        listing,
        principal,
        ticket_ref,
        lambda t, p, now: t.start(by=by, at=now, trace=trace),
        if_match,
        retry,
        response,
    )


@command_route("replies", "Reply (agent or customer)")
def reply(
    ticket_ref: str,
    body: m.Reply,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    retry: Retry,
    if_match: IfMatch = None,
) -> m.TicketOut:
    by, trace = principal.actor, trace_context()

    def command(t: Ticket, policy: SupportPolicy, now: datetime) -> None:
        if principal.is_customer:
            t.customer_reply(body=body.body, channel=body.channel, by=by, at=now, trace=trace)
        else:
            principal.require(*STAFF, doing="reply to customers")
            t.reply(body=body.body, public=body.public, by=by, at=now, trace=trace)

    return run(app, listing, principal, ticket_ref, command, if_match, retry, response)


@command_route("await-customer", "Ask the customer for information")
def await_customer(
    ticket_ref: str,
    body: m.AwaitCustomer,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    retry: Retry,
    if_match: IfMatch = None,
) -> m.TicketOut:
    principal.require(*STAFF, doing="put tickets on hold for the customer")
    by, trace = principal.actor, trace_context()
    return run(
        app,
        listing,
        principal,
        ticket_ref,
        lambda t, p, now: t.await_customer(request=body.request, by=by, at=now, trace=trace),
        if_match,
        retry,
        response,
    )


@command_route("contact-attempts", "Record an unanswered contact attempt")
def contact_attempt(
    ticket_ref: str,
    body: m.ContactAttempt,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    retry: Retry,
    if_match: IfMatch = None,
) -> m.TicketOut:
    principal.require(*STAFF, doing="record contact attempts")
    by, trace = principal.actor, trace_context()

    def command(t: Ticket, policy: SupportPolicy, now: datetime) -> None:
        t.record_contact_attempt(channel=body.channel, note=body.note, by=by, at=now, trace=trace)

    return run(app, listing, principal, ticket_ref, command, if_match, retry, response)


@command_route("priority", "Reclassify: type, subcategory or priority")
def reclassify(
    ticket_ref: str,
    body: m.Reclassify,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    retry: Retry,
    if_match: IfMatch = None,
) -> m.TicketOut:
    principal.require(*STAFF, doing="reclassify tickets")
    by, trace = principal.actor, trace_context()

    def command(t: Ticket, policy: SupportPolicy, now: datetime) -> None:
        ticket_type = body.ticket_type or t.ticket_type
        subcategory = (
            body.subcategory
            if body.subcategory is not None
            else (t.subcategory if body.ticket_type is None else None)
        )
        priority = check_reclassification(
            policy,
            ticket_type=ticket_type,
            priority=body.priority,
            subcategory=subcategory,
            current_priority=t.priority,
        )
        t.classify(
            ticket_type=ticket_type,
            priority=priority,
            subcategory=subcategory,
            reason=body.reason,
            by=by,
            at=now,
            trace=trace,
        )

    return run(app, listing, principal, ticket_ref, command, if_match, retry, response)


@command_route("escalate", "Escalate to a higher support level, with an ETR")
def escalate(
    ticket_ref: str,
    body: m.Escalate,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    retry: Retry,
    if_match: IfMatch = None,
) -> m.TicketOut:
    principal.require(*STAFF, SERVICE, doing="escalate tickets")
    by, trace = principal.actor, trace_context()

    def command(t: Ticket, policy: SupportPolicy, now: datetime) -> None:
        levels = len(policy.escalation.levels) if policy.escalation else 3
        t.escalate(
            to_level=body.to_level,
            reason=body.reason,
            etr=body.etr,
            max_level=levels,
            by=by,
            at=now,
            trace=trace,
        )

    return run(app, listing, principal, ticket_ref, command, if_match, retry, response)


@command_route("etr", "Refine the estimated time to recovery")
def update_etr(
    ticket_ref: str,
    body: m.UpdateEtr,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    retry: Retry,
    if_match: IfMatch = None,
) -> m.TicketOut:
    principal.require(*STAFF, SERVICE, doing="update the ETR")
    by, trace = principal.actor, trace_context()
    return run(
        app,
        listing,
        principal,
        ticket_ref,
        lambda t, p, now: t.update_etr(etr=body.etr, note=body.note, by=by, at=now, trace=trace),
        if_match,
        retry,
        response,
    )


@command_route("resolve", "Resolve: solution, workaround or abandoned")
def resolve(
    ticket_ref: str,
    body: m.Resolve,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    retry: Retry,
    if_match: IfMatch = None,
) -> m.TicketOut:
    if body.resolution == "abandoned":
        principal.require(*STAFF, SERVICE, doing="resolve tickets as abandoned")
    else:
        principal.require(*STAFF, doing="resolve tickets")
    by, trace = principal.actor, trace_context()

    def command(t: Ticket, policy: SupportPolicy, now: datetime) -> None:
        window = policy.lifecycle.reopen_window
        until = policy.due(window, now, t.modality) if window is not None else None
        t.resolve(
            resolution=body.resolution,
            summary=body.summary,
            reopen_until=until,
            by=by,
            at=now,
            trace=trace,
        )

    return run(app, listing, principal, ticket_ref, command, if_match, retry, response)


@command_route("reopen", "Reopen a resolved ticket (within the policy's window)")
def reopen(
    ticket_ref: str,
    body: m.Reopen,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    retry: Retry,
    if_match: IfMatch = None,
) -> m.TicketOut:
    principal.require("customer", *STAFF, doing="reopen tickets")
    by, trace = principal.actor, trace_context()
    return run(
        app,
        listing,
        principal,
        ticket_ref,
        lambda t, p, now: t.reopen(reason=body.reason, by=by, at=now, trace=trace),
        if_match,
        retry,
        response,
    )


@command_route("close", "Close for good")
def close(
    ticket_ref: str,
    body: m.Close,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    retry: Retry,
    if_match: IfMatch = None,
) -> m.TicketOut:
    allowed = {
        "confirmed": ("customer", *STAFF),
        "customer_request": ("customer", *STAFF),
        "expired": (*STAFF, SERVICE),
        "abandoned": (*STAFF, SERVICE),
    }[body.closure]
    principal.require(*allowed, doing=f"close tickets as {body.closure}")
    by, trace = principal.actor, trace_context()
    return run(
        app,
        listing,
        principal,
        ticket_ref,
        lambda t, p, now: t.close(closure=body.closure, note=body.note, by=by, at=now, trace=trace),
        if_match,
        retry,
        response,
    )


@command_route("notes", "Add an internal note")
def add_note(
    ticket_ref: str,
    body: m.Note,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    retry: Retry,
    if_match: IfMatch = None,
) -> m.TicketOut:
    principal.require(*STAFF, SERVICE, doing="add internal notes")
    by, trace = principal.actor, trace_context()
    return run(
        app,
        listing,
        principal,
        ticket_ref,
        lambda t, p, now: t.add_note(body=body.body, by=by, at=now, trace=trace),
        if_match,
        retry,
        response,
    )


@command_route("feature-review", "Record the product committee's decision")
def feature_review(
    ticket_ref: str,
    body: m.FeatureReview,
    principal: CurrentPrincipal,
    app: Desk,
    listing: Listing,
    response: Response,
    retry: Retry,
    if_match: IfMatch = None,
) -> m.TicketOut:
    principal.require("supervisor", "admin", doing="record feature-request decisions")
    by, trace = principal.actor, trace_context()

    def command(t: Ticket, policy: SupportPolicy, now: datetime) -> None:
        t.review_feature_request(
            viable=body.viable,
            cost_note=body.cost_note,
            target_release=body.target_release,
            by=by,
            at=now,
            trace=trace,
        )

    return run(app, listing, principal, ticket_ref, command, if_match, retry, response)
