"""The board's live queue: Server-Sent Events carrying each changed ticket's row as HTML.

It rides on the read API's clock stream (``api.hub.listen``): the same polling, once per
process, the same catch of rows written late, the same deadlines crossed while listening and
the same re-resolution of the caller before every delivery (a revoked key ends the stream).
For each ticket a clock change names, the board renders that ticket's queue row as the page would,
with the page's filters, and sends ``event: row`` with ``{"id", "html"}`` — or ``"html": null``
when the ticket left the queue (resolved, closed, met, filtered out). The browser swaps the
row in and re-sorts by time left: no reload, no front-end build. A page too far behind gets
``event: reconnect`` and reloads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from servicekit.web import Introspection
from sla_monitor.api.deps import Scope
from sla_monitor.api.hub import ClockHub, listen, sse
from sla_monitor.api.params import aware
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

    reader.db()  # no pool: a 503 problem now, not a broken stream
    hub = ClockHub.of(request.app)
    return StreamingResponse(
        rows(board, hub, words, filters, scope, aware(since, "since") or reader.clock.now()),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


RENDERED_AT_ONCE = 50
"""Tickets whose rows one query reads and one step renders (a burst is sent in steps)."""


async def rows(
    board: Board,
    hub: ClockHub,
    words: Words,
    filters: Filters,
    scope: Callable[[], Awaitable[Scope]],
    since: datetime,
) -> AsyncIterator[str]:
    """Rendered rows for every ticket whose clocks change; comments and keepalives as is.

    The clock stream treats what is stored when it connects as known, but the page was
    rendered a moment earlier: a ticket projected in between would be missing until its next
    change. So the stream starts one overlap (``stream_overlap_seconds``) before the page's
    instant and re-sends what changed since then; swapping a row in twice is harmless. The
    changes come from the process's one ``ClockHub``; the rows of a burst are read and
    rendered a few tickets at a time, so a connection never holds more than that.
    """
    reader = hub.reader
    row_template = board.templates.get_template("row.html")
    start = since - timedelta(seconds=reader.settings.stream_overlap_seconds)
    async for item in listen(hub, start, policy=filters.policy, scope=scope):
        if isinstance(item, str):
            yield item
            continue
        tickets = list(dict.fromkeys(change.ticket_id for change in item))
        del item
        for at in range(0, len(tickets), RENDERED_AT_ONCE):
            step = tickets[at : at + RENDERED_AT_ONCE]
            found = await service.queue_rows(
                reader=reader, scope=await scope(), filters=filters, ticket_ids=step
            )
            for ticket_id in step:
                row = found.get(ticket_id)
                html = None
                if row is not None:
                    html = row_template.render(row=row, t=words, countdown=countdown)
                yield sse("row", {"id": str(ticket_id), "html": html})
