"""Reading tickets under ``/v1/tickets``: search, one ticket, an attachment, the history.

Reads never change anything, so they take no ``If-Match`` or ``Idempotency-Key``; an unknown
query parameter is a 400 rather than silently ignored (a misspelt filter would return
everything). A ticket of a tenant the principal does not serve is "not found"; customers never
see internal events.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from servicekit.openapi import problems, with_headers
from servicekit.paging import KnownParameters, link_next
from ticket_api.api import examples as ex
from ticket_api.api.principals import CurrentPrincipal
from ticket_api.api.problems import Problem
from ticket_api.api.tickets import models as m
from ticket_api.api.tickets.access import visible
from ticket_api.api.tickets.context import Desk, Listing, answer
from ticket_api.attachments import AttachmentStore
from ticket_api.commands import Outcome
from ticket_api.domain.ticket import Ticket
from ticket_api.list_order import DEFAULT_SORT, SortName
from ticket_api.read_model import TicketFilter
from ticket_api.text_search import MAX_QUERY_LENGTH
from ticket_api.text_search import Query as TextQuery
from ticket_api.wire import event_name, is_internal, payload

router = APIRouter(
    prefix="/v1/tickets",
    dependencies=[KnownParameters],
    responses=problems(400, d400="A query parameter the operation does not declare"),
)
"""Included by ``views.router`` (which tags the routes), between opening and the commands.
Every read refuses query parameters it does not declare (``api.parameters``)."""


TimeFilter = Annotated[AwareDatetime | None, Query(description="With a time zone, e.g. Z.")]


@router.get(
    "",
    response_model=m.TicketPage,
    summary="Search tickets",
    operation_id="listTickets",
    responses=m.problems(400, 422),
)
def search_tickets(
    principal: CurrentPrincipal,
    listing: Listing,
    request: Request,
    response: Response,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_QUERY_LENGTH,
            description="Full text over title, description and public messages (never "
            "internal notes); Spanish and English stems, accents ignored. Words all match; "
            '"a phrase"; `or` between words; `-word` excludes.',
        ),
    ] = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    priority: Annotated[str | None, Query(max_length=63)] = None,
    policy: Annotated[str | None, Query(max_length=63)] = None,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
    assignee: Annotated[str | None, Query(max_length=300)] = None,
    contact: Annotated[
        str | None, Query(max_length=300, description="The requester's contact id.")
    ] = None,
    level: Annotated[int | None, Query(ge=1, le=9)] = None,
    breached: Annotated[
        bool | None,
        Query(
            description="`true`: tickets with an SLA clock sla-monitor announced as breached "
            "(any metric, any cycle); `false`: tickets without one.",
            examples=[True],
        ),
    ] = None,
    updated_since: TimeFilter = None,
    created_since: TimeFilter = None,
    created_before: TimeFilter = None,
    sort: Annotated[
        SortName,
        Query(
            description="`updated` (default: commit order; paging to the end never misses a "
            "change), `-updated`, `created`, `-created`, `priority` (most urgent first), "
            "`-priority`. Other orders than the default do not show a ticket again when its "
            "key changes behind the cursor."
        ),
    ] = DEFAULT_SORT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=500,
            description="Opaque: the `next_cursor` of the previous page (also in its "
            '`Link: rel="next"` header). Leave out for the first page.',
            examples=[ex.CURSOR],
        ),
    ] = None,
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
    text = None
    if q is not None and (text := TextQuery.parse(q)) is None:
        raise Problem(
            422,
            "nothing-to-search",
            en="q names no word to look for (only exclusions or punctuation).",
            es="q no nombra ninguna palabra que buscar (solo exclusiones o puntuación).",
            field="q",
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
            created_since=created_since,
            created_before=created_before,
            contact=contact,
            text=text,
            breached=breached,
            tenants=None if principal.sees_all else principal.tenants,
        ),
        limit=limit,
        cursor=cursor,
        sort=sort,
    )
    hidden = ("log_position", "priority_rank")
    link_next(request, response, page.next_cursor)
    return m.TicketPage(
        items=[
            m.TicketSummary(**{k: v for k, v in row.items() if k not in hidden})
            for row in page.rows
        ],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/{ticket_ref}",
    response_model=m.TicketOut,
    summary="Read a ticket (id or case number)",
    operation_id="getTicket",
    responses=with_headers("ETag"),
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


@router.get(
    "/{ticket_ref}/events",
    response_model=list[m.EventOut],
    summary="Full history",
    operation_id="listTicketEvents",
)
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
