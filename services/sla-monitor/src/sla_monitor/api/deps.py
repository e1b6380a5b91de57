"""What the read API's views share: the reader (settings, policies, clock, pool), the caller,
the ticket a path names and the language of an answer.

Callers present ticket-api's credentials (``Authorization: Bearer <key or token>``), which
ticket-api resolves for us (ADR 0014): every read, list, report and stream holds only the
tenants the caller sees there, and another tenant's ticket is 404, as on ticket-api.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import Depends, FastAPI, Path, Query, Request
from pydantic import TypeAdapter, ValidationError

from contracts.events import ticket as te
from contracts.policy import SupportPolicy
from servicekit import web
from servicekit.clock import Clock
from servicekit.messaging.consumer import Connection
from servicekit.web import CurrentPrincipal, Problem
from sla_monitor import queries
from sla_monitor.queries import Where
from sla_monitor.settings import Settings
from sla_monitor.tickets import TicketFacts, ticket_facts

DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
CASE_NUMBER: TypeAdapter[str] = TypeAdapter(te.CaseNumber)
"""The event contract's case-number rule (``BIT-000123``), to tell one from a ticket id."""
Scope = list[str] | None
"""The tenants a caller's query may return (``Principal.scope``); ``None``: every tenant."""


@dataclass
class SlaReader:
    """What the views need: settings, policies, the clock and (once started) the pool."""

    settings: Settings
    policies: dict[str, SupportPolicy]
    clock: Clock
    pool: asyncpg.Pool | None = None

    def db(self) -> asyncpg.Pool:
        if self.pool is None:
            raise ConnectionError("the database pool is not open")
        return self.pool

    def zone(self, policy_id: str) -> ZoneInfo:
        """The policy's local time zone (its business calendar's); UTC for an unknown policy."""
        policy = self.policies.get(policy_id)
        if policy is None:
            return ZoneInfo("UTC")
        return local_zone(policy)

    def page_size(self, limit: int | None) -> int:
        """The size of a page asked for, within the configured cap."""
        cap = self.settings.page_size_cap
        return cap if limit is None else min(limit, cap)


def local_zone(policy: SupportPolicy) -> ZoneInfo:
    return ZoneInfo(policy.calendars[policy.business_calendar].time_zone)


def install_problems(app: FastAPI) -> None:
    """Every failure answers a problem document; an unreachable database answers 503."""
    web.install_problems(
        app,
        unavailable=DATABASE_ERRORS,
        unavailable_en="The SLA database is unreachable. Retry shortly.",
        unavailable_es="La base de datos de SLA no responde. Reintente en breve.",
    )


def reader_of(request: Request) -> SlaReader:
    reader: SlaReader = request.app.state.reader
    return reader


Reader = Annotated[SlaReader, Depends(reader_of)]


@dataclass(frozen=True)
class TicketHistory:
    """A ticket the caller may see, with its stored events (oldest first) and its names."""

    ref: str
    """How the caller named it (its id or case number), for the answer's words."""
    ticket_id: UUID
    rows: list[dict[str, Any]]
    facts: TicketFacts

    @property
    def tenant(self) -> str:
        return str(self.rows[0]["tenant"])


def ticket_not_found(ref: str) -> Problem:
    return Problem(
        404,
        "ticket-not-found",
        en=f"No SLA clocks for ticket {ref}.",
        es=f"No hay relojes de SLA para el ticket {ref}.",
    )


async def ticket_id_of(conn: Connection, ref: str, scope: Scope) -> UUID | None:
    """The ticket a reference names: a case number among the caller's tenants (so another
    tenant's number is as unknown as its id), else a ticket id; None when it is neither."""
    try:
        case_number = CASE_NUMBER.validate_python(ref.upper())
    except ValidationError:
        try:
            return UUID(ref)
        except ValueError:
            return None
    where = Where(("case_number = {}", case_number), ("tenant = ANY({})", scope))
    sql = queries.TICKET_BY_CASE_NUMBER.format(where=where.sql())
    found: UUID | None = await conn.fetchval(sql, *where.args)
    return found


async def ticket_history(
    ticket_id: Annotated[
        str,
        Path(
            max_length=64,
            description="The ticket's id, or its case number (e.g. BIT-000123)",
            examples=["BIT-000123"],
        ),
    ],
    reader: Reader,
    principal: CurrentPrincipal,
) -> TicketHistory:
    """The ticket the path names (id or case number), or 404 when the caller cannot see it."""
    async with reader.db().acquire() as conn:
        found = await ticket_id_of(conn, ticket_id, principal.scope(None))
        rows = (
            [] if found is None else [dict(r) for r in await conn.fetch(queries.EVENTS_OF, found)]
        )
    facts = ticket_facts(rows)
    if found is None or facts is None or not principal.may_see(rows[0]["tenant"]):
        raise ticket_not_found(ticket_id)
    return TicketHistory(ticket_id, found, rows, facts)


Ticket = Annotated[TicketHistory, Depends(ticket_history)]


def english(
    request: Request,
    lang: Annotated[
        Literal["es", "en"] | None,
        Query(description="Language; default: Accept-Language, else Spanish"),
    ] = None,
) -> bool:
    """English on ``lang=en`` or, without ``lang``, on ``Accept-Language: en``."""
    return lang == "en" if lang is not None else web.wants_english(request)


English = Annotated[bool, Depends(english)]
