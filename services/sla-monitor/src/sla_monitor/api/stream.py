"""The stream of clock changes for dashboards (Server-Sent Events): clock rows as the
projection writes them, and running clocks whose deadline passes while the client listens."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from servicekit.web import CurrentPrincipal, Introspection
from sla_monitor.api import examples, models
from sla_monitor.api.deps import Reader, Scope
from sla_monitor.api.hub import ClockHub, listen, sse
from sla_monitor.api.params import aware

log = logging.getLogger("sla_monitor.api")
router = APIRouter(prefix="/v1/sla", tags=["sla"])
__all__ = ["clock_changes", "resume_from", "router", "sse"]


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
        clock_changes(
            ClockHub.of(request.app), start or reader.clock.now(), policy=policy, scope=scope
        ),
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


async def clock_changes(
    hub: ClockHub,
    start: datetime,
    *,
    policy: str | None,
    scope: Callable[[], Awaitable[Scope]],
) -> AsyncIterator[str]:
    """SSE messages for clock rows written after ``start`` (in event time), and for running
    clocks whose deadline passes while the client listens.

    Rows are polled by their ``as_of`` (the time of the ticket's last event), once per process
    for every connection (``ClockHub``). Each poll looks back ``stream_overlap_seconds`` past
    the newest row seen, so a row written late with an older event time is still sent; what
    was already sent (same ticket version and status) is not sent again. A client that falls
    too far behind gets ``event: reconnect`` and the stream ends (resume with
    ``Last-Event-ID``).

    ``scope`` is asked again before every delivery (ticket-api's answer is cached for a few
    seconds): a stream lives for hours, and a revoked key or an agent taken off a tenant must
    stop receiving within the cache's time, not at the next reconnect. When the caller no
    longer passes (or ticket-api cannot say), the stream ends; the client's reconnect then gets
    the problem.
    """
    async for item in listen(hub, start, policy=policy, scope=scope):
        if isinstance(item, str):
            yield item
            continue
        for change in item:
            yield change.message
