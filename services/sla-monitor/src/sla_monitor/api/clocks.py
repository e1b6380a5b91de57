"""Clocks for dashboards: one ticket's clocks (live), the clocks at risk, the breaches.

A stored clock row is as of its ticket's last event; what one ticket's view shows *now* is
recomputed by replaying its stored events into a ``TicketSla`` and asking it about the
injectable clock's ``now()`` — the same rules as the projection, so a running clock's used and
remaining time, and its status, are live. Lists read the stored rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from servicekit.paging import (
    DEFAULT_LIMIT,
    Cursor,
    Limit,
    decode_cursor,
    encode_cursor,
    invalid_cursor,
    link_next,
)
from servicekit.web import CurrentPrincipal
from sla_monitor import queries
from sla_monitor.api import models
from sla_monitor.api.deps import Reader, SlaReader, Ticket, local_zone, ticket_not_found
from sla_monitor.api.params import aware, parse_within, period
from sla_monitor.api.shape import UTC_ZONE, assignee_json, clock_json, instant, row_json
from sla_monitor.projection import replay
from sla_monitor.queries import Where
from sla_monitor.tickets import ticket_facts

router = APIRouter(prefix="/v1/sla", tags=["sla"])
Name = Annotated[str | None, Query(max_length=100)]


@router.get(
    "/tickets/{ticket_id}",
    operation_id="getSlaTicket",
    summary="A ticket's SLA clocks, live (by id or case number)",
    response_model=models.TicketClocks,
    responses=models.problems(401, 404, 503),
)
async def ticket_clocks(
    ticket: Ticket,
    reader: Reader,
    as_of: Annotated[
        datetime | None,
        Query(description="Replay only the events stored up to this instant: the clocks then"),
    ] = None,
) -> dict[str, Any]:
    """The ticket's clocks as of now, with its case number, title, assignee and state; with
    ``as_of``, as they stood at that instant (``now`` and ``ticket_version`` say which)."""
    rows, facts, now = ticket.rows, ticket.facts, reader.clock.now()
    if as_of is not None:
        now = aware(as_of, "as_of") or now
        rows = [row for row in rows if row["at"] <= now]
        facts = ticket_facts(rows) or facts
    sla = replay(reader.policies, rows)
    if sla is None:
        raise ticket_not_found(ticket.ref)
    zone = local_zone(sla.policy)
    return {
        "ticket_id": str(ticket.ticket_id),
        "case_number": facts.case_number,
        "title": facts.title,
        "policy": sla.policy.id,
        "policy_version": sla.policy.version,
        "tenant": ticket.tenant,
        "priority": sla.priority,
        "assignee": assignee_json(facts.assignee),
        "ticket_type": sla.ticket_type,
        "state": facts.state.value,
        "time_zone": zone.key,
        "now": instant(now, zone),
        "ticket_version": rows[-1]["version"],
        "clocks": [
            clock_json(view, sla.clocks[view.metric].running_since is not None, zone)
            for view in sla.view(now)
        ],
    }


@router.get(
    "/at-risk",
    operation_id="listAtRisk",
    summary="Running clocks whose deadline falls within a span from now",
    response_model=models.AtRisk,
    responses=models.problems(401, 403, 503),
)
async def at_risk(
    reader: Reader,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    within: Annotated[str, Query(max_length=32, description="2h, 30m, 1h30m or seconds")] = "2h",
    policy: Name = None,
    tenant: Name = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """By deadline, soonest first; a page at a time (``next_cursor``, ``Link: rel="next"``)."""
    span, size, now = parse_within(within), reader.page_size(limit), reader.clock.now()
    where = Where(
        ("deadline > {}", now),
        ("deadline <= {}", now + span),
        ("policy = {}", policy),
        ("tenant = ANY({})", principal.scope(tenant)),
    )
    rows = await clock_page(reader, where, size, cursor, "running")
    body = {"now": instant(now, UTC_ZONE), "within_seconds": span.total_seconds()}
    return body | page(request, response, reader, rows, size, now)


@router.get(
    "/breaches",
    operation_id="listBreaches",
    summary="Clocks breached, or met late, with their deadline in a period",
    response_model=models.Breaches,
    responses=models.problems(401, 403, 503),
)
async def breaches(
    reader: Reader,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    since: datetime | None = None,
    until: datetime | None = None,
    policy: Name = None,
    tenant: Name = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """By deadline, earliest first; a page at a time (``next_cursor``, ``Link: rel="next"``)."""
    now = reader.clock.now()
    (start, end), size = period(since, until, now), reader.page_size(limit)
    where = Where(
        ("deadline >= {}", start),
        ("deadline < {}", end),
        ("policy = {}", policy),
        ("tenant = ANY({})", principal.scope(tenant)),
    )
    breached = queries.BREACHED.format(now=where.param(now))
    rows = await clock_page(reader, where, size, cursor, breached)
    body = {"since": instant(start, UTC_ZONE), "until": instant(end, UTC_ZONE)}
    return body | page(request, response, reader, rows, size, now)


async def clock_page(
    reader: SlaReader, where: Where, size: int, cursor: str | None, *fixed: str
) -> list[Any]:
    """Up to ``size + 1`` clock rows by deadline after the cursor's row (one more tells
    that there is a next page)."""
    if cursor is not None:
        deadline, ticket_id, metric = decode_cursor(cursor, 3)
        try:
            key = (datetime.fromisoformat(deadline), UUID(ticket_id), str(metric))
        except (TypeError, ValueError):
            raise invalid_cursor() from None
        after = ", ".join(where.param(value) for value in key)
        fixed = (*fixed, f"(deadline, ticket_id, metric) > ({after})")
    sql = queries.CLOCKS_PAGE.format(where=where.sql(*fixed), limit=where.param(size + 1))
    async with reader.db().acquire() as conn:
        return list(await conn.fetch(sql, *where.args))


def page(
    request: Request, response: Response, reader: SlaReader, rows: list[Any], size: int,
    now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """The page's items, its ``next_cursor`` (and ``Link``), and the older ``limit`` and
    ``truncated`` fields clients written before paging read."""
    more = len(rows) > size
    rows = rows[:size]
    last = rows[-1] if more else None
    next_cursor = (
        None
        if last is None
        else encode_cursor(last["deadline"].isoformat(), str(last["ticket_id"]), last["metric"])
    )
    link_next(request, response, next_cursor)
    return {
        "limit": size,
        "truncated": more,
        "items": [row_json(r, reader.zone(r["policy"]), now) for r in rows],
        "next_cursor": next_cursor,
    }
