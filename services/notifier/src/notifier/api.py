"""The delivery log over HTTP: what was sent to whom, what is being retried, what died.

Support staff answer "nobody told us" from here: every message of a ticket with its channel,
recipient, status, attempts and last error. Dead letters can be sent again once the cause is
fixed (``POST /v1/deliveries/{id}/retry``). Message bodies are not served — the subject says
what a message was; the body stays in the database. Staff and services only: the log holds
customers' addresses. Callers present ticket-api's credentials, resolved by ticket-api (ADR
0014), and see only the deliveries of the tenants they see there: an agent serving one
organization never reads another's recipients, and another tenant's delivery is 404.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from notifier import examples
from notifier.delivery import Dispatcher
from notifier.settings import Settings
from servicekit import web
from servicekit.clock import Clock
from servicekit.paging import (
    DEFAULT_LIMIT,
    Cursor,
    KnownParameters,
    Limit,
    decode_cursor,
    encode_cursor,
    invalid_cursor,
    link_next,
)
from servicekit.web import Principal, Problem, current_principal

DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
Status = Literal["pending", "sent", "dead"]
ChannelName = Literal["email", "webhook", "chat", "sms", "whatsapp"]


@dataclass
class DeliveryReader:
    settings: Settings
    clock: Clock
    pool: asyncpg.Pool | None = None
    dispatcher: Dispatcher | None = None
    """Woken when a dead letter is put back in line."""

    def db(self) -> asyncpg.Pool:
        if self.pool is None:
            raise ConnectionError("the database pool is not open")
        return self.pool


def reader_of(request: Request) -> DeliveryReader:
    reader: DeliveryReader = request.app.state.reader
    return reader


def staff(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    principal.require_staff(doing="read the delivery log", hacer="leer el registro de envíos")
    return principal


Staff = Annotated[Principal, Depends(staff)]
Reader = Annotated[DeliveryReader, Depends(reader_of)]


class DeliveryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DELIVERY]})

    id: str
    event_id: str
    event_type: str
    ticket_id: str
    tenant: str
    policy: str
    case_number: str
    kind: str
    audience: str
    channel: str
    recipient: str
    recipient_name: str | None
    locale: str
    subject: str
    status: Status
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> DeliveryOut:
        return cls(
            **{k: row[k] for k in cls.model_fields if k not in ("recipient", "next_attempt_at")},
            recipient=row["address"],
            next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        )


class DeliveryPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.DELIVERY_PAGE]})

    items: list[DeliveryOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page (also in the Link header); "
        "null on the last page."
    )


def after(cursor: str | None) -> int:
    """The position a cursor names: that of the last row of the page it followed.

    Cursors are opaque (``servicekit.paging``); the bare numbers handed out before are still
    accepted, so a client holding one carries on where it stopped."""
    if cursor is None:
        return 0
    if cursor.isdigit() and len(cursor) <= 18:
        return int(cursor)
    [position] = decode_cursor(cursor, 1)
    if not isinstance(position, int) or not 0 <= position < 10**18:
        raise invalid_cursor()
    return position


def cursor_after(position: int) -> str:
    return encode_cursor(position)


router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"], dependencies=[KnownParameters])


@router.get("", summary="The delivery log, newest last, filtered")
async def list_deliveries(
    principal: Staff,
    reader: Reader,
    request: Request,
    response: Response,
    ticket_id: Annotated[str | None, Query(max_length=100)] = None,
    case_number: Annotated[str | None, Query(max_length=100)] = None,
    channel: ChannelName | None = None,
    status: Status | None = None,
    tenant: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> DeliveryPage:
    """Filter by ticket (id or case number), channel, status and tenant (among those you
    see); page with ``next_cursor`` or the ``Link: rel="next"`` header."""
    limit = min(limit, reader.settings.page_size_cap)
    clauses, args = ["seq > $1"], list[object]([after(cursor)])
    for condition, value in (
        ("ticket_id = {}", ticket_id),
        ("case_number = {}", case_number),
        ("channel = {}", channel),
        ("status = {}", status),
        ("tenant = ANY({})", principal.scope(tenant)),
    ):
        if value is not None:
            args.append(value)
            clauses.append(condition.format(f"${len(args)}"))
    args.append(limit + 1)
    query = (
        f"SELECT * FROM deliveries WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ${len(args)}"
    )
    async with reader.db().acquire() as conn:
        rows = await conn.fetch(query, *args)
    more = len(rows) > limit
    rows = rows[:limit]
    page = DeliveryPage(
        items=[DeliveryOut.of(r) for r in rows],
        next_cursor=cursor_after(rows[-1]["seq"]) if more else None,
    )
    link_next(request, response, page.next_cursor)
    return page


DeliveryId = Annotated[str, Path(max_length=64)]


def not_found(delivery_id: str) -> Problem:
    """Also the answer for another tenant's delivery: its existence is not disclosed."""
    return Problem(
        404,
        "delivery-not-found",
        en=f"There is no delivery {delivery_id!r}.",
        es=f"No existe el envío {delivery_id!r}.",
    )


def seen(principal: Principal) -> tuple[str, list[object]]:
    """The SQL condition (on parameter ``$2``) for rows of the tenants the caller sees."""
    if principal.sees_all:
        return "TRUE", []
    return "tenant = ANY($2::text[])", [list(principal.tenants)]


@router.get("/{delivery_id}", summary="One delivery")
async def get_delivery(delivery_id: DeliveryId, principal: Staff, reader: Reader) -> DeliveryOut:
    condition, args = seen(principal)
    async with reader.db().acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT * FROM deliveries WHERE id = $1 AND {condition}", delivery_id, *args
        )
    if row is None:
        raise not_found(delivery_id)
    return DeliveryOut.of(row)


@router.post("/{delivery_id}/retry", summary="Send a dead letter again")
async def retry_delivery(delivery_id: DeliveryId, principal: Staff, reader: Reader) -> DeliveryOut:
    """After fixing the cause (an address, a receiver), put a dead delivery back in line.

    Only a delivery of a tenant the caller sees: the tenant is part of the update's condition,
    so another tenant's dead letter is neither changed nor disclosed (404)."""
    condition, args = seen(principal)
    async with reader.db().acquire() as conn:
        row = await conn.fetchrow(
            "UPDATE deliveries SET status = 'pending', attempts = 0,"
            f" next_attempt_at = ${len(args) + 2}, claimed_until = NULL"
            f" WHERE id = $1 AND status = 'dead' AND {condition} RETURNING *",
            delivery_id,
            *args,
            reader.clock.now(),
        )
        if row is None:
            exists: str | None = await conn.fetchval(
                f"SELECT status FROM deliveries WHERE id = $1 AND {condition}", delivery_id, *args
            )
    if row is None:
        if exists is None:
            raise not_found(delivery_id)
        raise Problem(
            409,
            "not-a-dead-letter",
            en=f"Only dead deliveries can be retried; this one is {exists}.",
            es=f"Solo se reintentan envíos fallidos; este está {exists}.",
        )
    if reader.dispatcher is not None:
        reader.dispatcher.wake()
    return DeliveryOut.of(row)


def install(app: FastAPI) -> None:
    web.install_problems(
        app,
        unavailable=DATABASE_ERRORS,
        unavailable_en="The delivery log's database is unreachable. Retry shortly.",
        unavailable_es="La base de datos del registro de envíos no responde. Reintente en breve.",
    )
    app.include_router(router)

    @app.get(
        "/healthz",
        tags=["health"],
        summary="Alive",
        responses={200: {"content": {"application/json": {"example": examples.HEALTH}}}},
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Database reachable, consumers attached",
        responses={200: {"content": {"application/json": {"example": examples.READY}}}},
    )
    async def readyz(request: Request) -> JSONResponse:
        reader = reader_of(request)
        body: dict[str, Any] = {"status": "ok", "database": "ok"}
        try:
            timeout = reader.settings.postgres_connect_timeout
            async with asyncio.timeout(timeout + 1):
                async with reader.db().acquire(timeout=timeout) as conn:
                    await conn.fetchval("SELECT 1")
        except (*DATABASE_ERRORS, ConnectionError) as exc:
            body |= {"status": "unavailable", "database": type(exc).__name__}
        background = getattr(request.app.state, "background", None)
        if background is not None:
            body["nats"] = "ok" if background.connected() else "disconnected"
            body["consumers"] = "attached" if background.attached() else "detached"
            if body["nats"] != "ok" or body["consumers"] != "attached":
                body["status"] = "unavailable"
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)
