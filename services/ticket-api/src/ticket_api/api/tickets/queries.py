"""Reading tickets under ``/v1/tickets``: search, one ticket, an attachment, the history.

Reads never change anything, so they take no ``If-Match`` or ``Idempotency-Key``. A ticket of
a tenant the principal does not serve is "not found"; customers never see internal events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from ticket_api.api.principals import CurrentPrincipal
from ticket_api.api.problems import Problem
from ticket_api.api.tickets import models as m
from ticket_api.api.tickets.access import visible
from ticket_api.api.tickets.context import Desk, Listing, answer
from ticket_api.attachments import AttachmentStore
from ticket_api.commands import Outcome
from ticket_api.domain.ticket import Ticket
from ticket_api.read_model import TicketFilter
from ticket_api.wire import event_name, is_internal, payload

router = APIRouter(prefix="/v1/tickets")
"""Included by ``views.router`` (which tags the routes), between opening and the commands."""


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
