"""Builds sla-monitor in one place: settings, policies, database pool, consumer, timers, routes.

``create_app()`` is the app factory (tests pass their own settings, clock and, if they like,
pool); ``main()`` serves it with uvicorn (the ``sla-monitor`` command). With ``nats_url`` set,
the app also runs the projection (a durable consumer of the TICKETS stream) and the SLA timer
loop as background tasks for as long as it serves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx2
import nats
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from contracts.events import SLA_STREAM, TICKETS_STREAM
from contracts.policy import load_policies
from servicekit import openapi
from servicekit.clock import Clock
from servicekit.messaging import finish, servers
from servicekit.messaging.consumer import ConsumerSettings, DurableConsumer, PostgresInbox
from servicekit.messaging.streams import StreamSettings, ensure_stream
from servicekit.simclock import service_clock
from servicekit.telemetry import observe, serve, setup_logging
from servicekit.web import Introspection, current_principal
from sla_monitor import api, web
from sla_monitor.commands import TicketApiCommands, TicketCommands
from sla_monitor.projection import SlaProjection
from sla_monitor.settings import Settings
from sla_monitor.timers import TimerLoop

log = logging.getLogger("sla_monitor")

DESCRIPTION = """
Read API of the SLA monitor for dashboards: each ticket's SLA clocks (live), tickets at risk,
breaches, compliance per policy and priority, and a Server-Sent Events stream of clock changes.
Errors are RFC 9457 problem documents. Authenticate with ticket-api's credentials
(`Authorization: Bearer <key or token>`): you see the tenants you see on ticket-api.
"""


class Background:
    """The projection consumer and the timer loop, when a NATS server is configured."""

    def __init__(
        self,
        settings: Settings,
        projection: SlaProjection,
        clock: Clock,
        commands: TicketCommands | None = None,
    ) -> None:
        self.settings = settings
        self.commands = commands
        self.projection = projection
        self.clock = clock
        self.nc: NatsClient | None = None
        self.consumer: DurableConsumer | None = None
        self.timers: TimerLoop | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self, pool: asyncpg.Pool) -> None:
        assert self.settings.nats_url
        self.nc = await nats.connect(servers=servers(self.settings.nats_url))
        js = self.nc.jetstream()
        for stream in (TICKETS_STREAM, SLA_STREAM):
            await ensure_stream(js, stream, StreamSettings())
        inbox = PostgresInbox(pool, "sla-monitor")
        await inbox.setup()
        self.consumer = DurableConsumer(
            self.nc,
            ConsumerSettings(
                stream=TICKETS_STREAM, durable="sla-monitor", filter_subject="tickets.>"
            ),
            inbox,
            self.projection.handle,
        )
        commands = self.commands
        if commands is None and self.settings.ticket_api_url:
            client = httpx2.AsyncClient(base_url=self.settings.ticket_api_url, timeout=10)
            commands = TicketApiCommands(client, self.settings.ticket_api_key)
        self.timers = TimerLoop(pool, js, self.clock, commands=commands)
        await self.timers.setup()
        self.tasks = [
            asyncio.create_task(self.consumer.run(), name="sla-projection"),
            asyncio.create_task(
                self.timers.run(self.settings.timer_poll_seconds), name="sla-timers"
            ),
        ]
        await asyncio.wait_for(self.consumer.wait_attached(), 30)  # ready means attached

    async def stop(self) -> None:
        if self.consumer:
            self.consumer.stop()
        if self.timers:
            self.timers.stop()
        await finish(self.tasks, self.nc)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    pool: asyncpg.Pool | None = None,
    commands: TicketCommands | None = None,
    principals: Introspection | None = None,
) -> FastAPI:
    """The sla-monitor application, wired from settings (an injectable clock and pool).

    A pool passed in is the caller's (it must belong to the event loop the app runs on) and is
    not closed here; otherwise the app opens one from the ``POSTGRES_*`` settings. Callers are
    resolved by ``principals`` (by default: ticket-api at ``ticket_api_url``).
    """
    settings = settings or Settings()
    clock, shared_clock = service_clock(
        clock, simulated=settings.simulated_clock, nats_url=settings.nats_url, prefix="SLA_MONITOR"
    )
    policies = load_policies(settings.policies_dir)
    reader = api.SlaReader(settings, policies, clock)
    owns_principals = principals is None
    principals = principals or Introspection(
        settings.ticket_api_url,
        ttl=settings.principal_cache_seconds,
        timeout=settings.principal_timeout_seconds,
    )
    projection = SlaProjection(policies)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if shared_clock is not None:
            await shared_clock.start()
        owned = pool is None
        reader.pool = pool or await asyncpg.create_pool(**settings.pool_kwargs())
        try:
            async with reader.pool.acquire() as conn, conn.transaction():
                await projection.setup(conn)
                if rearmed := await projection.rearm_legacy_actions(conn):
                    log.info("re-armed the actions of %d tickets as sla_actions", rearmed)
        except Exception as exc:  # serve anyway: /readyz says what is wrong
            log.warning("could not prepare the SLA tables: %s", exc)
        background = (
            Background(settings, projection, clock, commands) if settings.nats_url else None
        )
        app.state.background = background
        if background:
            await background.start(reader.pool)
        try:
            yield
        finally:
            if background:
                await background.stop()
            if owned:
                await reader.pool.close()
            if owns_principals:
                await principals.aclose()
            reader.pool = None
            if shared_clock is not None:
                await shared_clock.stop()

    app = FastAPI(
        title="Support desk — sla-monitor",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.reader = reader
    app.state.principals = principals
    app.state.projection = projection
    api.install_problems(app)
    api.routes(app)
    web.install(app, settings)
    observe(app, "sla-monitor")
    # the published contract declares the auth, the problems and the ids clients rely on
    openapi.publish(
        app,
        authenticated={current_principal},
        always={503: "The SLA database or ticket-api (who the caller is) is unreachable"},
    )
    return app


def main() -> None:
    """Serve sla-monitor (the ``sla-monitor`` command)."""
    setup_logging("sla-monitor")
    settings = Settings()
    app = create_app(settings)
    policies = ", ".join(app.state.reader.policies)
    summary = f"policies: {policies}; nats: {settings.nats_url or 'off'}"
    serve(app, "sla-monitor", settings.host, settings.port, summary)


if __name__ == "__main__":
    main()
