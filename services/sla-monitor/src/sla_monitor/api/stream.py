"""The stream of clock changes for dashboards (Server-Sent Events): clock rows as the
projection writes them, and running clocks whose deadline passes while the client listens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from servicekit.web import CurrentPrincipal, Introspection, Problem
from sla_monitor import queries
from sla_monitor.api import examples, models
from sla_monitor.api.deps import Reader, Scope, SlaReader
from sla_monitor.api.params import aware
from sla_monitor.api.shape import row_json
from sla_monitor.queries import Where

log = logging.getLogger("sla_monitor.api")
router = APIRouter(prefix="/v1/sla", tags=["sla"])


@router.get(
    "/stream",
    operation_id="streamClocks",
    summary="Server-Sent Events of SLA clock changes",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "``event: clock`` messages; each ``data`` is a ClockChange",
            "content": {"text/event-stream": {"example": examples.CLOCK_CHANGE_EVENT}},
        },
        **models.problems(401, 403, 503),
    },
)
async def stream(
    request: Request,
    reader: Reader,
    principal: CurrentPrincipal,
    since: datetime | None = None,
    policy: Annotated[str | None, Query(max_length=100)] = None,
    tenant: Annotated[str | None, Query(max_length=100)] = None,
) -> StreamingResponse:
    """``event: clock`` messages; resume with ``Last-Event-ID`` (or ``since``), else from now."""
    start = resume_from(request.headers.get("last-event-id"), aware(since, "since"))
    principal.scope(tenant)  # a customer naming another tenant: 403 now, not a broken stream
    reader.db()  # no pool: a 503 problem now, not a broken stream
    principals: Introspection = request.app.state.principals
    headers = request.headers

    async def scope() -> Scope:
        return (await principals.resolve(headers)).scope(tenant)

    return StreamingResponse(
        clock_changes(reader, start or reader.clock.now(), policy=policy, scope=scope),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def resume_from(last_id: str | None, since: datetime | None) -> datetime | None:
    """Where a stream starts: after the last event the client saw, else ``since``."""
    start = since
    if last_id:
        with contextlib.suppress(ValueError):  # not one of ours: from ``since`` or now
            start = datetime.fromisoformat(last_id)
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    return start


def sse(event: str, data: Mapping[str, Any], event_id: str | None = None) -> str:
    """One Server-Sent Events message (``id``, ``event`` and a one-line JSON ``data``)."""
    lines = [f"id: {event_id}"] if event_id else []
    lines += [f"event: {event}", f"data: {json.dumps(data, ensure_ascii=False)}"]
    return "\n".join(lines) + "\n\n"


async def clock_changes(
    reader: SlaReader,
    start: datetime,
    *,
    policy: str | None,
    scope: Callable[[], Awaitable[Scope]],
) -> AsyncIterator[str]:
    """SSE messages for clock rows written after ``start`` (in event time), and for running
    clocks whose deadline passes while the client listens.

    Rows are polled by their ``as_of`` (the time of the ticket's last event). Each poll looks
    back ``stream_overlap_seconds`` past the newest row seen, so a row written late with an
    older event time is still sent; what was already sent (same ticket version and status) is
    not sent again.

    ``scope`` is asked again before every poll (ticket-api's answer is cached for a few
    seconds): a stream lives for hours, and a revoked key or an agent taken off a tenant must
    stop receiving within the cache's time, not at the next reconnect. When the caller no
    longer passes (or ticket-api cannot say), the stream ends; the client's reconnect then gets
    the problem.
    """
    settings = reader.settings
    overlap = timedelta(seconds=settings.stream_overlap_seconds)
    cursor = start
    sent: dict[tuple[UUID, str], tuple[int, str, datetime]] = {}
    tenants = await scope()

    def query(*fixed: tuple[str, Any]) -> tuple[str, list[Any]]:
        where = Where(*fixed, ("policy = {}", policy), ("tenant = ANY({})", tenants))
        return queries.CHANGED.format(where=where.sql()), where.args

    # What was already there when the client connected is not news.
    sql, args = query(("as_of > {}", start - overlap), ("as_of <= {}", start))
    async with reader.db().acquire() as conn:
        for row in await conn.fetch(sql, *args):
            sent[(row["ticket_id"], row["metric"])] = (
                row["ticket_version"],
                row["status"],
                row["as_of"],
            )
    checked = reader.clock.now()
    yield f"retry: 2000\n: since {start.isoformat()}\n\n"
    quiet_since = time.monotonic()
    while True:
        try:
            tenants = await scope()
        except Problem as refused:
            log.info("clock stream ended: the caller no longer passes (%s)", refused.code)
            return
        now = reader.clock.now()
        messages: list[str] = []
        sql, args = query(("as_of > {}", cursor - overlap))
        crossing_sql, crossing_args = query(
            ("deadline > {}", checked), ("deadline <= {}", now), ("running = {}", True)
        )
        async with reader.db().acquire() as conn:
            rows = await conn.fetch(sql, *args)
            crossed = await conn.fetch(crossing_sql, *crossing_args) if now > checked else []
        for row in rows:
            key = (row["ticket_id"], row["metric"])
            mark = (row["ticket_version"], row["status"])
            if key in sent and sent[key][:2] == mark:
                continue
            sent[key] = (*mark, row["as_of"])
            cursor = max(cursor, row["as_of"])
            body = row_json(row, reader.zone(row["policy"]), now) | {"change": "written"}
            messages.append(sse("clock", body, cursor.isoformat()))
        for row in crossed:
            body = row_json(row, reader.zone(row["policy"]), now) | {"change": "deadline_passed"}
            messages.append(sse("clock", body, cursor.isoformat()))
        checked = max(checked, now)
        horizon = cursor - overlap
        for key in [k for k, v in sent.items() if v[2] <= horizon]:
            del sent[key]
        for message in messages:
            yield message
        if messages:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settings.stream_keepalive_seconds:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        await asyncio.sleep(settings.stream_poll_seconds)
