"""Builds ticket-api in one place: settings, policies, event store, read model, routes.

``create_app()`` is the app factory (tests pass their own settings, clock and environment);
``main()`` serves it with uvicorn (the ``ticket-api`` command, used by ``make run``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from contracts.policy import load_policies
from servicekit import openapi
from servicekit.clock import Clock
from servicekit.lifespan import Background, lifespan
from servicekit.messaging.streams import StreamSettings
from servicekit.simclock import service_clock
from servicekit.telemetry import observe, serve, setup_logging
from ticket_api.api import examples as ex
from ticket_api.api import problems
from ticket_api.api.admission import AdmissionLimit
from ticket_api.api.directory.views import router as directory_router
from ticket_api.api.intake.views import router as intake_router
from ticket_api.api.introspection import router as introspection_router
from ticket_api.api.outbox.views import router as outbox_router
from ticket_api.api.personal_data import router as personal_data_router
from ticket_api.api.policies.views import router as policies_router
from ticket_api.api.principals import Authenticator, RateLimitHeaders, current_principal
from ticket_api.api.tickets.views import router as tickets_router
from ticket_api.application import TicketDesk
from ticket_api.attachments import AttachmentStore
from ticket_api.breaches import BreachFollower
from ticket_api.dev_seed import seed_development_directory
from ticket_api.directory import Directory
from ticket_api.email_intake import EmailIntake
from ticket_api.email_limits import EmailLimits
from ticket_api.erasure import Erasure
from ticket_api.lease import FileLease, Lease, PostgresLease
from ticket_api.read_model import TicketList
from ticket_api.relay import OutboxRelay, RelaySettings
from ticket_api.retention import RetentionJob
from ticket_api.settings import Settings
from ticket_api.smtp_intake import SmtpIntake

log = logging.getLogger("ticket_api")

DESCRIPTION = """
REST API of the support desk: open tickets, move them through their lifecycle, read their
history. Errors are RFC 9457 problem documents; commands accept `If-Match` and
`Idempotency-Key`. Authenticate with `Authorization: Bearer <key>` (development keys in the
README).
"""


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
) -> FastAPI:
    """The ticket-api application, wired from settings (and an injectable clock)."""
    settings = settings or Settings()
    environ = dict(os.environ if environ is None else environ)
    clock, shared_clock = service_clock(
        clock, simulated=settings.simulated_clock, nats_url=settings.nats_url, prefix="TICKET_API"
    )
    policies = load_policies(settings.policies_dir)
    desk = TicketDesk(
        settings.event_store_env(environ),
        policies=policies,
        clock=clock,
        case_number_wait=settings.case_number_wait_seconds,
    )

    relay = _relay(settings, desk, environ)

    async def start(stack: AsyncExitStack) -> None:
        stack.callback(desk.close)
        stack.callback(ticket_list.close)
        background = Background()
        stack.push_async_callback(background.stop)
        if relay is not None:
            background.run(relay, relay.run(), "outbox-relay")
        if settings.nats_url:  # sla-monitor's breaches, for the ticket list's filter
            breaches = BreachFollower(ticket_list.breaches, settings.nats_url, _streams(settings))
            background.run(breaches, breaches.run(), "sla-breaches")
        if settings.smtp_intake_port:
            smtp = SmtpIntake(
                intake,
                settings.smtp_intake_port,
                settings.email_max_bytes,
                ticket_list.catch_up_soon,
            )
            smtp.start()
            stack.callback(smtp.stop)

    app = FastAPI(
        title="Support desk — ticket-api",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan(shared_clock, start),
    )
    app.state.settings = settings
    app.state.desk = desk
    app.state.directory = directory = Directory(desk)
    if settings.dev_keys:  # development keys act for the development directory
        seed_development_directory(directory)
    app.state.authenticator = Authenticator(settings, directory)
    app.state.attachments = attachments = AttachmentStore(
        settings.attachments_dir or settings.data_dir / "attachments",
        settings.attachment_max_bytes,
        frozenset(settings.attachment_types),
    )
    app.state.email_intake = intake = EmailIntake(
        desk,
        directory,
        attachments,
        limits=EmailLimits.from_settings(settings),
        default_policy=settings.email_default_policy,
    )
    app.state.ticket_list = ticket_list = TicketList(desk)
    app.state.erasure = erasure = Erasure(desk, directory, attachments, ticket_list)
    if settings.retention_interval_seconds > 0:  # ADR 23
        RetentionJob(erasure).start(settings.retention_interval_seconds)
    app.state.relay = relay
    problems.install(app)
    _limit_body_size(app, settings.max_body_bytes, {"/v1/intake/email": settings.email_max_bytes})
    # Outermost of ours: a request beyond capacity is refused before any work (ADR 15).
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(
        AdmissionLimit,
        limit=settings.max_concurrent_requests,
        queue_timeout=settings.queue_timeout_seconds,
    )
    app.include_router(tickets_router)
    app.include_router(policies_router)
    app.include_router(directory_router)
    app.include_router(intake_router)
    app.include_router(introspection_router)
    app.include_router(outbox_router)
    app.include_router(personal_data_router)
    _health(app)
    openapi.publish(
        app,
        authenticated={current_principal},
        always={503: "The ticket store is unreachable; Retry-After says when to retry"},
        with_body={
            400: "The body is not valid JSON (malformed-json)",
            413: "The body is larger than allowed (body-too-large)",
        },
        rate_limited=True,
    )
    observe(app, "ticket-api")
    return app


def _relay(settings: Settings, desk: TicketDesk, environ: dict[str, str]) -> OutboxRelay | None:
    """The outbox relay, when a NATS server is configured; one replica publishes at a time."""
    if not settings.nats_url:
        return None
    lease: Lease
    if settings.store == "postgres":
        lease = PostgresLease(settings.event_store_env(environ))
    else:
        lease = FileLease(settings.data_dir / "outbox-relay.lock")
    relay_settings = RelaySettings(nats_url=settings.nats_url, streams=_streams(settings))
    return OutboxRelay(desk, lease, relay_settings)


def _streams(settings: Settings) -> StreamSettings:
    """How the streams are kept, as configured (the relay and the breach follower agree)."""
    return StreamSettings(
        replicas=settings.stream_replicas,
        max_age=timedelta(days=settings.stream_max_age_days),
        duplicate_window=timedelta(minutes=settings.stream_duplicate_window_minutes),
    )


def _limit_body_size(app: FastAPI, default_limit: int, limits: dict[str, int]) -> None:
    """Refuse bodies over the limit before reading them (413), declared or streamed; some paths
    (raw email with attachments) have larger limits of their own."""

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        limit = limits.get(request.url.path, default_limit)
        declared = request.headers.get("content-length")
        too_big = declared is not None and (not declared.isdigit() or int(declared) > limit)
        if not too_big and declared is None and request.method in {"POST", "PUT", "PATCH"}:
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    too_big = True
                    break
            request._body = body  # the stream is consumed: keep it for the handlers
        if too_big:
            english = problems.wants_english(request)
            return problems.problem(
                request,
                413,
                "body-too-large",
                f"The body may be at most {limit} bytes."
                if english
                else f"El cuerpo puede tener como máximo {limit} bytes.",
            )
        return await call_next(request)


def _health(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"], summary="Alive", responses=ex.answer(ex.HEALTH))
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz", tags=["health"], summary="Dependencies reachable", responses=ex.answer(ex.READY)
    )
    def readyz(request: Request) -> JSONResponse:
        try:  # one round trip, without the library's retries: readiness must answer fast
            with request.app.state.desk.recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute("SELECT 1")
        except Exception as exc:  # any failure of the store means not ready
            return JSONResponse(
                {"status": "unavailable", "event_store": type(exc).__name__}, status_code=503
            )
        body: dict[str, Any] = {"status": "ok", "event_store": "ok"}
        relay: OutboxRelay | None = request.app.state.relay
        if relay is not None:
            # Writes never wait on NATS (the relay catches up), so its state informs, it does
            # not make the service unready: the status says "degraded" and names the problems.
            status = relay.status()
            parked = relay.parked_count() or 0
            body["outbox_relay"] = status
            body["outbox_relay_seconds_since_progress"] = round(relay.seconds_since_progress(), 1)
            body["parked_events"] = parked
            problems = []
            if status == "stalled":
                problems.append("outbox relay stalled: events wait and nothing is published")
            if parked:
                problems.append(f"{parked} unpublishable events parked (GET /v1/outbox/parked)")
            if problems:
                body["status"] = "degraded"
                body["problems"] = problems
        return JSONResponse(body)


def main() -> None:
    """Serve ticket-api (``make run``)."""
    setup_logging("ticket-api")
    settings = Settings()
    app = create_app(settings)
    summary = f"policies: {', '.join(app.state.desk.policies)}; store: {settings.store}"
    serve(app, "ticket-api", settings.host, settings.port, summary)


if __name__ == "__main__":
    main()
