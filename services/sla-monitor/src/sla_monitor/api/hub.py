"""One reader of clock changes per process, fanned out to every stream connection.

long: polling, remembering what was announced, catching a late joiner up from the database
and fanning out to bounded queues share one state (the hub's last position and its changes);
split, the rule that no connection misses or repeats a change would span modules.

Each connection of ``/v1/sla/stream`` and of the board's stream used to poll the clock rows
itself and keep its own map of what it had sent: after 10,000 tickets changed at once, one
connection held about 68 MiB (the rows of a poll, their messages and the map). Now a
``ClockHub`` per app polls while anyone listens, remembers once what it announced and builds
each change's message once (``Change``); a connection holds a bounded queue of references to
those shared changes, filtered by its policy and tenants as they are pushed.

A connection that falls behind by more than ``limit`` changes is dropped rather than allowed
to grow: it receives ``event: reconnect`` and its stream ends. A client of the read API
resumes from its ``Last-Event-ID`` (read back from the database in bounded pages); the board
reloads its page. A connection that starts in the past (``since``, ``Last-Event-ID``, the
board's overlap) is caught up from the database the same way, in pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import FastAPI

from servicekit.web import Problem
from sla_monitor import queries
from sla_monitor.api.deps import Scope, SlaReader
from sla_monitor.api.shape import Row, row_json
from sla_monitor.queries import Where

log = logging.getLogger("sla_monitor.api")

QUEUE_LIMIT = 1000
"""Changes a connection may have waiting before it is told to reconnect."""
CATCH_UP_PAGE = 250
"""Clock rows read at a time when a connection starts in the past."""
RECONNECT = 'retry: 2000\nevent: reconnect\ndata: {"reason": "behind"}\n\n'

Key = tuple[UUID, str]
Mark = tuple[int, str]


@dataclass(frozen=True, slots=True)
class Change:
    """A clock row written (or whose deadline passed), with its ``event: clock`` message built
    once for every connection."""

    ticket_id: UUID
    metric: str
    tenant: str
    policy: str
    as_of: datetime
    mark: Mark
    message: str
    deadline_passed: bool = False
    """A running clock's deadline passed while the hub listened (its row may be old)."""


def sse(event: str, data: Mapping[str, Any], event_id: str | None = None) -> str:
    """One Server-Sent Events message (``id``, ``event`` and a one-line JSON ``data``)."""
    lines = [f"id: {event_id}"] if event_id else []
    lines += [f"event: {event}", f"data: {json.dumps(data, ensure_ascii=False)}"]
    return "\n".join(lines) + "\n\n"


def change_of(reader: SlaReader, row: Row, now: datetime, kind: str, event_id: str) -> Change:
    body = row_json(row, reader.zone(row["policy"]), now) | {"change": kind}
    return Change(
        ticket_id=row["ticket_id"],
        metric=row["metric"],
        tenant=row["tenant"],
        policy=row["policy"],
        as_of=row["as_of"],
        mark=(row["ticket_version"], row["status"]),
        message=sse("clock", body, event_id),
        deadline_passed=kind == "deadline_passed",
    )


@dataclass(eq=False)
class Subscription:
    """One connection's place at the hub: its filters and the changes waiting for it."""

    policy: str | None
    tenants: Scope
    since: datetime
    limit: int
    joined: int = 0
    """The hub's polls already published when this connection subscribed."""
    pending: deque[Change] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: bool = False
    ended: bool = False
    """The hub could not read the database: the stream ends, the client's reconnect gets
    the problem."""

    def wants(self, change: Change) -> bool:
        return (
            (self.policy is None or change.policy == self.policy)
            and (self.tenants is None or change.tenant in self.tenants)
            and (change.deadline_passed or change.as_of > self.since)
        )

    def offer(self, changes: Iterable[Change]) -> bool:
        """Queue what this connection wants; False (and dropped) past the limit."""
        for change in changes:
            if not self.wants(change):
                continue
            if len(self.pending) >= self.limit:
                self.dropped = True
                self.pending.clear()
                self.wake.set()
                return False
            self.pending.append(change)
        if self.pending:
            self.wake.set()
        return True

    async def take(self, timeout: float) -> list[Change]:
        """What is waiting, after at most ``timeout`` seconds of waiting for something."""
        if not self.pending and not self.dropped and not self.ended:
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)
        taken = list(self.pending)
        self.pending.clear()
        return taken


class ClockHub:
    """Polls the clock rows while anyone listens and pushes each change to every connection.

    The polling is the clock stream's: rows by ``as_of`` with an overlap for rows written
    late, each (ticket, metric) announced once per version and status, and running clocks
    whose deadline passes while anyone listens. What is stored when the hub starts is known.
    """

    def __init__(self, reader: SlaReader, *, limit: int = QUEUE_LIMIT) -> None:
        self.reader = reader
        self.limit = limit
        self.subscribers: set[Subscription] = set()
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        """Set once the hub knows what was stored when it started (or it stopped)."""
        self.horizon: datetime | None = None
        """Rows older than this are no longer polled (the cursor less the overlap)."""
        self.sent: dict[Key, tuple[int, str, datetime, int]] = {}
        """What was announced (or stored before the hub started, poll 0) inside the horizon:
        version, status, event time and the poll that announced it."""
        self.polls = 0
        """Polls published so far."""

    @classmethod
    def of(cls, app: FastAPI) -> ClockHub:
        """The app's hub (made on first use)."""
        hub: ClockHub | None = getattr(app.state, "clock_hub", None)
        if hub is None:
            hub = app.state.clock_hub = cls(app.state.reader)
        return hub

    def subscribe(self, policy: str | None, tenants: Scope, since: datetime) -> Subscription:
        subscription = Subscription(policy, tenants, since, self.limit, self.polls)
        self.subscribers.add(subscription)
        if self.task is None or self.task.done():
            self.ready = asyncio.Event()  # of this event loop (an app may be served again)
            self.task = asyncio.create_task(self.run(), name="sla-clock-hub")
        return subscription

    def announced_before(self, change: Change, subscription: Subscription) -> bool:
        """Whether the hub announced this version of the clock (or knew it already) before the
        connection subscribed: then it is not in its queue, and never will be."""
        held = self.sent.get((change.ticket_id, change.metric))
        return held is not None and held[:2] == change.mark and held[3] <= subscription.joined

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscribers.discard(subscription)

    def publish(self, changes: Sequence[Change]) -> None:
        for subscription in list(self.subscribers):
            if not subscription.offer(changes):
                log.info("clock stream dropped: %d changes behind", self.limit)
                self.subscribers.discard(subscription)

    async def run(self) -> None:
        try:
            await self._poll_while_listened()
        except Exception as exc:  # the database: every stream ends, reconnects get a 503
            log.warning("clock stream hub stopped: %s", exc)
            for subscription in self.subscribers:
                subscription.ended = True
                subscription.wake.set()
            self.subscribers.clear()
        finally:
            self.horizon = None
            self.sent = {}
            self.ready.set()

    async def _poll_while_listened(self) -> None:
        reader, settings = self.reader, self.reader.settings
        overlap = timedelta(seconds=settings.stream_overlap_seconds)
        cursor = checked = reader.clock.now()
        sent = self.sent = {}
        self.polls = 0
        known = Where(("as_of > {}", cursor - overlap))
        async with reader.db().acquire() as conn:
            for row in await conn.fetch(queries.CHANGED.format(where=known.sql()), *known.args):
                if row["as_of"] <= cursor:  # what was stored before anyone listened
                    sent[(row["ticket_id"], row["metric"])] = (
                        row["ticket_version"],
                        row["status"],
                        row["as_of"],
                        0,
                    )
        self.horizon = cursor - overlap
        self.ready.set()
        while self.subscribers:
            now = reader.clock.now()
            written = Where(("as_of > {}", cursor - overlap))
            crossing = Where(("deadline > {}", checked), ("deadline <= {}", now))
            async with reader.db().acquire() as conn:
                rows = await conn.fetch(queries.CHANGED.format(where=written.sql()), *written.args)
                crossed = (
                    await conn.fetch(
                        queries.CHANGED.format(where=crossing.sql("running")), *crossing.args
                    )
                    if now > checked
                    else []
                )
            changes: list[Change] = []
            poll = self.polls + 1  # from here to publish(), nothing awaits
            for row in rows:
                key, mark = (
                    (row["ticket_id"], row["metric"]),
                    (row["ticket_version"], row["status"]),
                )
                held = sent.get(key)
                if held is not None and held[:2] == mark:
                    continue
                sent[key] = (*mark, row["as_of"], poll)
                cursor = max(cursor, row["as_of"])
                changes.append(change_of(reader, row, now, "written", cursor.isoformat()))
            for row in crossed:
                changes.append(change_of(reader, row, now, "deadline_passed", cursor.isoformat()))
            del rows, crossed
            checked = max(checked, now)
            self.horizon = cursor - overlap
            for key in [k for k, v in sent.items() if v[2] <= self.horizon]:
                del sent[key]
            self.polls = poll
            if changes:
                self.publish(changes)
            del changes
            await asyncio.sleep(settings.stream_poll_seconds)


async def catch_up(
    hub: ClockHub, start: datetime, policy: str | None, tenants: Scope
) -> AsyncIterator[list[Change]]:
    """Clock rows stored with ``as_of`` after ``start``, a page at a time (a connection that
    starts in the past)."""
    reader = hub.reader
    after: tuple[datetime, UUID, str] | None = None
    while True:
        where = Where(("as_of > {}", start), ("policy = {}", policy), ("tenant = ANY({})", tenants))
        if after is not None:
            keys = ", ".join(where.param(v) for v in after)
            where.parts.append(f"(as_of, ticket_id, metric) > ({keys})")
        sql = queries.CHANGED.format(where=where.sql()) + f" LIMIT {CATCH_UP_PAGE}"
        async with reader.db().acquire() as conn:
            rows = await conn.fetch(sql, *where.args)
        if not rows:
            return
        now = reader.clock.now()
        last = rows[-1]
        after = (last["as_of"], last["ticket_id"], last["metric"])
        yield [change_of(reader, r, now, "written", r["as_of"].isoformat()) for r in rows]
        if len(rows) < CATCH_UP_PAGE:
            return


def already(seen: dict[Key, tuple[Mark, datetime]], change: Change) -> bool:
    held = seen.get((change.ticket_id, change.metric))
    return not change.deadline_passed and held is not None and held[0] == change.mark


Item = list[Change] | str
"""What a connection's stream yields: changes to send, or a line of the protocol as is."""


async def listen(
    hub: ClockHub,
    start: datetime,
    *,
    policy: str | None,
    scope: Callable[[], Awaitable[Scope]],
) -> AsyncIterator[Item]:
    """One connection: clock changes after ``start`` (event time), caught up from the database
    when ``start`` is past, then as the hub reads them; comments and keepalives as strings.

    ``scope`` is asked again before each delivery (ticket-api's answer is cached for a few
    seconds): a revoked key or an agent taken off a tenant stops receiving within the cache's
    time; when the caller no longer passes (or ticket-api cannot say), the stream ends.
    """
    settings = hub.reader.settings
    overlap = timedelta(seconds=settings.stream_overlap_seconds)
    tenants = await scope()
    subscription = hub.subscribe(policy, tenants, start - overlap)
    try:
        # Rows already stored after ``start`` come from the database. Those the hub may still
        # announce (inside its horizon, not announced yet) are remembered until it passed them.
        seen: dict[Key, tuple[Mark, datetime]] = {}
        await hub.ready.wait()
        yield f"retry: 2000\n: since {start.isoformat()}\n\n"
        async for page in catch_up(hub, start, policy, tenants):
            horizon = hub.horizon
            for change in page:
                if (horizon is None or change.as_of > horizon) and not hub.announced_before(
                    change, subscription
                ):
                    seen[(change.ticket_id, change.metric)] = change.mark, change.as_of
            yield page
        quiet_since = time.monotonic()
        while True:
            changes = await subscription.take(settings.stream_poll_seconds)
            if subscription.dropped:
                yield RECONNECT
                return
            if subscription.ended:
                return
            try:
                subscription.tenants = await scope()
            except Problem as refused:
                log.info("clock stream ended: the caller no longer passes (%s)", refused.code)
                return
            changes = [c for c in changes if subscription.wants(c)]  # the scope may narrow
            if seen:
                changes = [c for c in changes if not already(seen, c)]
                horizon = hub.horizon
                if horizon is not None:
                    seen = {k: v for k, v in seen.items() if v[1] > horizon}
            if changes:
                yield changes
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settings.stream_keepalive_seconds:
                quiet_since = time.monotonic()
                yield ": keepalive\n\n"
    finally:
        hub.unsubscribe(subscription)
