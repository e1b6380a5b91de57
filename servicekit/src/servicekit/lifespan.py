"""What a service runs while it serves, started and stopped in one way by every service.

``lifespan(clock, start)`` is each app's FastAPI lifespan: it starts the shared simulated clock
(when the service runs on it), then lets the service's ``start`` open what it needs on an
``AsyncExitStack`` — a pool, a client, its ``Background`` — and at shutdown undoes all of it
in reverse order, the clock last, also when start-up failed half-way.

``Background`` is the work beside the API: a NATS connection (when the service has one), its
durable consumers and its loops (a timer loop, a dispatcher, the outbox relay), each run as an
asyncio task. ``stop()`` tells every consumer and loop to stop, waits for their tasks (a task
that failed is logged, so shutdown completes) and closes the connection. The health checks read
``connected()`` and ``attached()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, Protocol

import nats
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from servicekit.messaging import finish, servers
from servicekit.messaging.consumer import DurableConsumer
from servicekit.messaging.streams import StreamSettings, ensure_stream
from servicekit.simclock import SharedClock

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class Stoppable(Protocol):
    """A loop run in the background: told to stop, it finishes its ``run()`` soon after."""

    def stop(self) -> None: ...


class Background:
    """A service's background work: a NATS connection, durable consumers and loops."""

    ATTACH_TIMEOUT = 30.0
    """Seconds start-up waits for the consumers to bind: ready means attached."""

    def __init__(self) -> None:
        self.nc: NatsClient | None = None
        self.consumers: list[DurableConsumer] = []
        self.loops: list[Stoppable] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def connect(
        self, nats_url: str, streams: Iterable[str] = (), settings: StreamSettings | None = None
    ) -> JetStreamContext:
        """Connect to NATS (one server or a cluster's list) and make sure ``streams`` exist."""
        self.nc = await nats.connect(servers=servers(nats_url))
        js = self.nc.jetstream()
        for stream in streams:
            await ensure_stream(js, stream, settings or StreamSettings())
        return js

    def consume(self, consumer: DurableConsumer, name: str | None = None) -> DurableConsumer:
        """Run a durable consumer until ``stop()`` (its task is named after its durable)."""
        self.consumers.append(consumer)
        self._task(consumer.run(), name or consumer.settings.durable)
        return consumer

    def run(self, loop: Stoppable, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` (``loop.run(...)``) until ``stop()`` tells ``loop`` to stop."""
        self.loops.append(loop)
        self._task(work, name)

    async def wait_attached(self) -> None:
        """Wait until every consumer is bound to its stream (at most ``ATTACH_TIMEOUT``)."""
        attached = asyncio.gather(*(c.wait_attached() for c in self.consumers))
        await asyncio.wait_for(attached, self.ATTACH_TIMEOUT)

    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    def attached(self) -> bool:
        return bool(self.consumers) and all(c.attached for c in self.consumers)

    async def stop(self) -> None:
        for consumer in self.consumers:
            consumer.stop()
        for loop in self.loops:
            loop.stop()
        await finish(self.tasks, self.nc)

    def _task(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.append(asyncio.create_task(work, name=name))


def lifespan(
    shared_clock: SharedClock | None, start: Callable[[AsyncExitStack], Awaitable[None]]
) -> Lifespan:
    """An app's lifespan: the shared clock, then ``start``, whose stack is undone at shutdown.

    ``start`` opens what the service needs and registers how to undo each thing on the stack
    (``stack.push_async_callback(pool.close)``); at shutdown they are undone in reverse order.
    """

    @asynccontextmanager
    async def span(_: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if shared_clock is not None:
                await shared_clock.start()
                stack.push_async_callback(shared_clock.stop)
            await start(stack)
            yield

    return span
