"""The board's live queue: Server-Sent Events carrying each changed ticket's row as HTML.

It rides on the read API's clock stream (``api.stream.clock_changes``): the same polling, the
same catch of rows written late, the same deadlines crossed while listening and the same
re-resolution of the caller before every poll (a revoked key ends the stream). For each
ticket a clock message names, the board renders that ticket's queue row as the page would,
with the page's filters, and sends ``event: row`` with ``{"id", "html"}`` — or ``"html": null``
when the ticket left the queue (resolved, closed, met, filtered out). The browser swaps the
row in and re-sorts by time left: no reload, no front-end build.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from servicekit.web import Introspection
from sla_monitor.api.deps import Scope, SlaReader
from sla_monitor.api.params import aware
from sla_monitor.api.stream import clock_changes, sse
from sla_monitor.web import service
from sla_monitor.web.deps import Board, BoardDep, ReaderDep, ViewerDep, WordsDep
from sla_monitor.web.i18n import Words, countdown
from sla_monitor.web.pages import Text
from sla_monitor.web.queue import Filters

router = APIRouter(prefix="/board", include_in_schema=False)


@router.get("/stream")
async def stream(
    request: Request,
    board: BoardDep,
    reader: ReaderDep,
    viewer: ViewerDep,
    words: WordsDep,
    policy: Text = None,
    tenant: Text = None,
    priority: Text = None,
    agent: Text = None,
    since: datetime | None = None,
) -> StreamingResponse:
    """Rows as they change after ``since`` (the page's render instant; by default now)."""
    filters = Filters(policy or None, tenant or None, priority or None, agent or None)
    viewer.scope(filters.tenant)
    principals: Introspection = request.app.state.principals

    async def scope() -> Scope:
        return (await principals.resolve(viewer.headers)).scope(filters.tenant)

    return StreamingResponse(
        rows(board, reader, words, filters, scope, aware(since, "since") or reader.clock.now()),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def rows(
    board: Board,
    reader: SlaReader,
    words: Words,
    filters: Filters,
    scope: Callable[[], Awaitable[Scope]],
    since: datetime,
) -> AsyncIterator[str]:
    """Rendered rows for every ticket whose clocks change; comments and keepalives as is.

    The clock stream treats what is stored when it connects as known, but the page was
    rendered a moment earlier: a ticket projected in between would be missing until its next
    change. So the stream starts one overlap (``stream_overlap_seconds``) before the page's
    instant and re-sends what changed since then; swapping a row in twice is harmless.
    """
    row_template = board.templates.get_template("row.html")
    start = since - timedelta(seconds=reader.settings.stream_overlap_seconds)
    changes = clock_changes(reader, start, policy=filters.policy, scope=scope)
    async for message in changes:
        ticket_id = changed_ticket(message)
        if ticket_id is None:
            yield message
            continue
        row = await service.queue_row(
            reader=reader, scope=await scope(), filters=filters, ticket_id=ticket_id
        )
        html = None
        if row is not None:
            html = row_template.render(row=row, t=words, countdown=countdown)
        yield sse("row", {"id": str(ticket_id), "html": html})


def changed_ticket(message: str) -> UUID | None:
    """The ticket a clock message is about; None for comments, retries and keepalives."""
    for line in message.splitlines():
        if line.startswith("data: "):
            return UUID(json.loads(line[6:])["ticket_id"])
    return None
