"""Builds sla-monitor in one place: settings, policies, database pool, consumer, timers, routes.

``create_app()`` is the app factory (tests pass their own settings, clock and, if they like,
pool); ``main()`` serves it with uvicorn (the ``sla-monitor`` command). With ``nats_url`` set,
the app also runs the projection (a durable consumer of the TICKETS stream) and the SLA timer
loop as background tasks for as long as it serves.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

import asyncpg
import httpx2
from fastapi import FastAPI

from contracts.events import SLA_STREAM, TICKETS_STREAM
from contracts.policy import load_policies
from servicekit import openapi
from servicekit.clock import Clock
from servicekit.lifespan import Background, lifespan
from servicekit.messaging.consumer import ConsumerSettings, DurableConsumer, PostgresInbox
from servicekit.simclock import service_clock
from servicekit.telemetry import observe, serve, setup_logging
from servicekit.web import Introspection, current_principal
from sla_monitor import api, web
from sla_monitor.commands import TicketApiCommands, TicketCommands
from sla_monitor.erasure import erasing, opener
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


class SlaBackground(Background):
    """The projection consumer and the timer loop, when a NATS server is configured."""

    def __init__(
        self,
        settings: Settings,
        projection: SlaProjection,
        clock: Clock,
        commands: TicketCommands | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.commands = commands
        self.projection = projection
        self.clock = clock
        self.timers: TimerLoop | None = None

    @property
    def consumer(self) -> DurableConsumer | None:
        """The projection's consumer of the TICKETS stream, once started."""
        return self.consumers[0] if self.consumers else None

    async def start(self, pool: asyncpg.Pool) -> None:
        assert self.settings.nats_url
        js = await self.connect(self.settings.nats_url, (TICKETS_STREAM, SLA_STREAM))
        assert self.nc is not None
        inbox = PostgresInbox(pool, "sla-monitor")
        await inbox.setup()
        consumer = DurableConsumer(
            self.nc,
            ConsumerSettings(
                stream=TICKETS_STREAM, durable="sla-monitor", filter_subject="tickets.>"
            ),
            inbox,
            erasing(self.projection.handle),
            unseal=opener(self.settings.ticket_api_url, self.settings.ticket_api_key),
        )
        commands = self.commands
        if commands is None and self.settings.ticket_api_url:
            client = httpx2.AsyncClient(base_url=self.settings.ticket_api_url, timeout=10)
            commands = TicketApiCommands(client, self.settings.ticket_api_key)
        self.timers = TimerLoop(pool, js, self.clock, commands=commands)
        await self.timers.setup()
        self.consume(consumer, "sla-projection")
        self.run(self.timers, self.timers.run(self.settings.timer_poll_seconds), "sla-timers")
        await self.wait_attached()  # ready means attached


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

    async def start(stack: AsyncExitStack) -> None:
        if pool is None:
            reader.pool = await asyncpg.create_pool(**settings.pool_kwargs())
            stack.push_async_callback(reader.pool.close)
        else:
            reader.pool = pool
        stack.callback(setattr, reader, "pool", None)
        if owns_principals:
            stack.push_async_callback(principals.aclose)
        try:
            async with reader.pool.acquire() as conn, conn.transaction():
                await projection.setup(conn)
                if rearmed := await projection.rearm_legacy_actions(conn):
                    log.info("re-armed the actions of %d tickets as sla_actions", rearmed)
        except Exception as exc:  # serve anyway: /readyz says what is wrong
            log.warning("could not prepare the SLA tables: %s", exc)
        background = (
            SlaBackground(settings, projection, clock, commands) if settings.nats_url else None
        )
        app.state.background = background
        if background:
            stack.push_async_callback(background.stop)
            await background.start(reader.pool)

    app = FastAPI(
        title="Support desk — sla-monitor",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan(shared_clock, start),
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
