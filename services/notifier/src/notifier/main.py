"""Builds the notifier in one place: settings, policies, destinations, senders, consumers.

``create_app()`` is the app factory (tests pass their own settings, clock and pool);
``main()`` serves it with uvicorn (the ``notifier`` command). With ``nats_url`` set, the app
also runs two durable consumers (``TICKETS`` and ``SLA``) that log deliveries, and the
dispatcher that sends them, as background tasks for as long as it serves.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AsyncExitStack
from datetime import timedelta

import asyncpg
import httpx2
from fastapi import FastAPI

from contracts.events import SLA_STREAM, TICKETS_STREAM
from contracts.policy import load_policies
from notifier import api
from notifier.channels import Sender
from notifier.channels.chat import ChatSender
from notifier.channels.email import EmailSender, SmtpSettings
from notifier.channels.sms import SmsSender, SmsSettings
from notifier.channels.webhook import WebhookSender
from notifier.delivery import SCHEMA, Dispatcher, RetryPolicy
from notifier.destinations import Destinations, load_destinations
from notifier.erasure import erasing, opener
from notifier.messages import Messages
from notifier.planning import Planner
from notifier.settings import Settings
from notifier.subscriptions import store as subscriptions
from notifier.subscriptions import views as webhooks
from notifier.subscriptions.addresses import DestinationRules
from notifier.subscriptions.sealing import Sealer
from notifier.subscriptions.sending import OwnerNotices, SubscriptionSender
from servicekit import openapi
from servicekit.clock import Clock
from servicekit.lifespan import Background, lifespan
from servicekit.messaging.consumer import ConsumerSettings, DurableConsumer, PostgresInbox
from servicekit.messaging.streams import StreamSettings, ensure_stream
from servicekit.simclock import service_clock
from servicekit.telemetry import observe, serve, setup_logging
from servicekit.web import Introspection, current_principal

log = logging.getLogger("notifier")

DESCRIPTION = """
The notifier's delivery log: every message the ticket and SLA events produced, per recipient
and channel, with its status (pending, sent, dead), attempts and last error. Errors are
RFC 9457 problem documents. Authenticate with ticket-api's credentials (staff and services,
`Authorization: Bearer <key or token>`): you see the tenants you see on ticket-api.

Webhook subscriptions (`/v1/webhooks`, admins): receivers of your tenants' events, signed
with Standard Webhooks; the secret is shown once, on creation and on rotation.
"""


def build_senders(
    settings: Settings,
    destinations: Destinations,
    client: httpx2.AsyncClient,
    clock: Clock,
    subscriptions: Sender | None = None,
) -> dict[str, Sender]:
    """One sender per configured channel; an unconfigured channel dead-letters its messages."""
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    senders: dict[str, Sender] = {
        "email": EmailSender(
            SmtpSettings(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.mail_from,
                message_id_domain=settings.message_id_domain,
                security=settings.smtp_security,
                username=settings.smtp_username,
                password=password,
                timeout=settings.smtp_timeout_seconds,
            )
        ),
        "webhook": WebhookSender(client, destinations, clock, subscriptions),
        "chat": ChatSender(client, destinations),
    }
    if settings.sms_api_url:
        sms = SmsSettings(
            api_url=settings.sms_api_url,
            account=settings.sms_account,
            token=settings.sms_token.get_secret_value(),
            sms_from=settings.sms_from,
            whatsapp_from=settings.whatsapp_from,
        )
        senders["sms"] = SmsSender(client, sms, whatsapp=False)
        senders["whatsapp"] = SmsSender(client, sms, whatsapp=True)
    return senders


class NotifierBackground(Background):
    """The two consumers and the dispatcher, when a NATS server is configured."""

    def __init__(self, settings: Settings, planner: Planner, dispatcher: Dispatcher) -> None:
        super().__init__()
        self.settings = settings
        self.planner = planner
        self.dispatcher = dispatcher

    async def start(self, pool: asyncpg.Pool) -> None:
        assert self.settings.nats_url
        js = await self.connect(self.settings.nats_url)
        assert self.nc is not None
        consumers = []
        for name, durable, subjects in (
            (TICKETS_STREAM, "notifier-tickets", "tickets.>"),
            (SLA_STREAM, "notifier-sla", "sla.>"),
        ):
            await ensure_stream(js, name, StreamSettings())
            inbox = PostgresInbox(pool, durable)
            await inbox.setup()
            consumers.append(
                DurableConsumer(
                    self.nc,
                    ConsumerSettings(stream=name, durable=durable, filter_subject=subjects),
                    inbox,
                    erasing(self.planner.handle, self.settings.dev_maildir),
                    on_handled=self.dispatcher.wake,
                    unseal=opener(self.settings.ticket_api_url, self.settings.ticket_api_key),
                )
            )
        for consumer in consumers:
            self.consume(consumer)
        self.run(
            self.dispatcher, self.dispatcher.run(self.settings.dispatch_poll_seconds), "dispatcher"
        )
        # Ready means attached: start-up completes once both durables are bound.
        await self.wait_attached()


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    pool: asyncpg.Pool | None = None,
    senders: Mapping[str, Sender] | None = None,
    principals: Introspection | None = None,
) -> FastAPI:
    """The notifier, wired from settings (an injectable clock, pool and, for tests, senders).

    A pool passed in is the caller's (it must belong to the event loop the app runs on) and is
    not closed here; otherwise the app opens one from the ``POSTGRES_*`` settings. Callers are
    resolved by ``principals`` (by default: ticket-api at ``ticket_api_url``).
    """
    settings = settings or Settings()
    clock, shared_clock = service_clock(
        clock, simulated=settings.simulated_clock, nats_url=settings.nats_url, prefix="NOTIFIER"
    )
    policies = load_policies(settings.policies_dir)
    destinations = load_destinations(settings.destinations_file)
    master_key = settings.webhook_master_key
    store = subscriptions.Subscriptions(
        clock,
        Sealer(master_key.get_secret_value() if master_key else None),
        pause_after=settings.webhook_pause_after_failures,
    )
    messages = Messages(settings.templates_dir)
    planner = Planner(
        policies,
        destinations,
        messages,
        clock,
        stale_after=timedelta(seconds=settings.stale_after_seconds),
        subscriptions=store,
    )
    desk = webhooks.WebhookDesk(
        store,
        dict(policies),
        DestinationRules(settings.webhook_allow_http, settings.webhook_allow_private),
        clock,
        timedelta(seconds=settings.webhook_rotation_overlap_seconds),
        settings.page_size_cap,
    )
    reader = api.DeliveryReader(settings, clock)
    owns_principals = principals is None
    principals = principals or Introspection(
        settings.ticket_api_url,
        ttl=settings.principal_cache_seconds,
        timeout=settings.principal_timeout_seconds,
    )

    async def start(stack: AsyncExitStack) -> None:
        if pool is None:
            reader.pool = await asyncpg.create_pool(**settings.pool_kwargs())
            stack.push_async_callback(reader.pool.close)
        else:
            reader.pool = pool
        store.pool = reader.pool
        if owns_principals:
            stack.push_async_callback(principals.aclose)
        try:
            async with reader.pool.acquire() as conn:
                await conn.execute(SCHEMA)
                await conn.execute(subscriptions.SCHEMA)
        except Exception as exc:  # serve anyway: /readyz says what is wrong
            log.warning("could not prepare the delivery tables: %s", exc)
        client = httpx2.AsyncClient(timeout=settings.http_timeout_seconds)
        stack.push_async_callback(client.aclose)
        owners = OwnerNotices(store, policies, destinations, messages, clock)
        desk.sender = SubscriptionSender(client, store, clock, desk.rules, owners)
        stack.callback(forget)
        if senders is None:
            chosen: Mapping[str, Sender] = build_senders(
                settings, destinations, client, clock, desk.sender
            )
        else:
            chosen = senders
        dispatcher = Dispatcher(
            reader.pool,
            clock,
            chosen,
            retry=RetryPolicy(
                max_attempts=settings.max_attempts,
                base=timedelta(seconds=settings.retry_base_seconds),
                cap=timedelta(seconds=settings.retry_cap_seconds),
            ),
            rate_limits=settings.rate_limits,
            claim=timedelta(seconds=settings.claim_seconds),
            batch=settings.dispatch_batch,
        )
        reader.dispatcher = app.state.dispatcher = dispatcher
        background = (
            NotifierBackground(settings, planner, dispatcher) if settings.nats_url else None
        )
        app.state.background = background
        if background:
            stack.push_async_callback(background.stop)
            await background.start(reader.pool)

    def forget() -> None:
        reader.pool = store.pool = desk.sender = None

    app = FastAPI(
        title="Support desk — notifier",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan(shared_clock, start),
    )
    app.state.settings = settings
    app.state.reader = reader
    app.state.principals = principals
    app.state.planner = planner
    app.state.webhooks = desk
    api.install(app)
    app.include_router(webhooks.router)
    observe(app, "notifier")
    # the published contract declares the auth, the problems and the ids clients rely on
    openapi.publish(
        app,
        authenticated={current_principal},
        always={503: "The delivery log or ticket-api (who the caller is) is unreachable"},
        with_body={400: "The body is not valid JSON (malformed-json)"},
    )
    return app


def main() -> None:
    """Serve the notifier (the ``notifier`` command)."""
    setup_logging("notifier")
    settings = Settings()
    summary = f"SMTP {settings.smtp_host}:{settings.smtp_port}; nats: {settings.nats_url or 'off'}"
    serve(create_app(settings), "notifier", settings.host, settings.port, summary)


if __name__ == "__main__":
    main()
