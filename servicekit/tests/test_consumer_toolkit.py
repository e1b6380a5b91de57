"""The consumer toolkit against a real nats-server and PostgreSQL: once, in time, or set aside."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import uuid4

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats_server import NatsServer
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.events import (
    TICKETS_STREAM,
    Actor,
    ActorKind,
    CloudEvent,
    EventPayload,
    envelope,
    subject,
    to_wire,
)
from contracts.events.ticket import NoteAdded
from servicekit.messaging.consumer import (
    Connection,
    ConsumerSettings,
    DurableConsumer,
    PostgresInbox,
    TransientError,
)
from servicekit.messaging.database import create_pool
from servicekit.messaging.streams import StreamSettings, ensure_stream

T = TypeVar("T")
Handler = Callable[[CloudEvent, EventPayload, Connection], Awaitable[None]]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def note(version: int, ticket: str) -> tuple[str, bytes, dict[str, str]]:
    event = envelope(
        NoteAdded(actor=Actor(kind=ActorKind.AGENT, id="agent-1"), body=f"nota {version}"),
        ticket_id=ticket,
        ticket_version=version,
        tenant="acme",
        policy="btw",
        time=datetime(2026, 11, 24, 15, tzinfo=UTC),
        source="/ticket-api",
    )
    headers = {"Nats-Msg-Id": event.id, "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}
    return subject("ticket.note_added", tenant="acme", ticket_id=ticket), to_wire(event), headers


@asynccontextmanager
async def world(url: str, env: dict[str, str]) -> AsyncIterator[tuple[Client, PostgresInbox]]:
    nc = await nats.connect(url)
    await ensure_stream(nc.jetstream(), TICKETS_STREAM, StreamSettings())
    pool = await create_pool(env)
    inbox = PostgresInbox(pool, "toolkit-test")
    await inbox.setup()
    try:
        yield nc, inbox
    finally:
        await nc.close()
        await pool.close()


def settings(**overrides: Any) -> ConsumerSettings:
    base: dict[str, Any] = {
        "stream": TICKETS_STREAM,
        "durable": "toolkit-test",
        "filter_subject": "tickets.>",
        "fetch_timeout": 0.1,
        "backoff": (0.05,),
        "max_deliver": 3,
        "ack_wait": 1.0,
    }
    return ConsumerSettings(**{**base, **overrides})


async def run_until(consumer: DurableConsumer, done: Callable[[], bool]) -> None:
    """Run the consumer until ``done()`` holds after a handled batch (bounded)."""
    task = asyncio.create_task(consumer.run())
    original = consumer.handle_batch

    async def handle_and_check(messages: list[Msg]) -> None:
        await original(messages)
        if done():
            consumer.stop()

    consumer.handle_batch = handle_and_check  # type: ignore[method-assign]
    await asyncio.wait_for(task, 30)


async def rows(inbox: PostgresInbox, query: str) -> list[Any]:
    async with inbox.pool.acquire() as conn:
        return list(await conn.fetch(query))


def test_a_redelivery_after_a_crash_before_the_ack_is_not_handled_twice(
    nats_server: NatsServer, postgres_env: dict[str, str]
) -> None:
    async def scenario() -> tuple[int, int, int]:
        async with world(nats_server.url, postgres_env) as (nc, inbox):
            await nc.jetstream().publish(*note(1, str(uuid4()))[:2])
            calls = 0

            async def handler(event: CloudEvent, payload: EventPayload, conn: Connection) -> None:
                nonlocal calls
                calls += 1

            consumer = DurableConsumer(nc, settings(), inbox, handler)
            lost_ack = True
            real_ack = Msg.ack

            async def ack_lost_once(message: Msg) -> None:
                nonlocal lost_ack
                if lost_ack:  # the process dies after its commit, before the ack
                    lost_ack = False
                    return
                await real_ack(message)

            Msg.ack = ack_lost_once  # type: ignore[method-assign]
            try:
                # JetStream redelivers after ack_wait; the inbox recognises the event.
                await run_until(consumer, lambda: consumer.duplicates == 1)
            finally:
                Msg.ack = real_ack  # type: ignore[method-assign]
            return calls, consumer.handled, consumer.duplicates

    assert run(scenario()) == (1, 1, 1)


def test_a_transient_failure_is_retried_with_backoff_and_then_handled_once(
    nats_server: NatsServer, postgres_env: dict[str, str]
) -> None:
    async def scenario() -> tuple[int, int]:
        async with world(nats_server.url, postgres_env) as (nc, inbox):
            subject_, body, headers = note(1, str(uuid4()))
            await nc.jetstream().publish(subject_, body, headers=headers)
            attempts = 0

            async def flaky(event: CloudEvent, payload: EventPayload, conn: Connection) -> None:
                nonlocal attempts
                attempts += 1
                await conn.execute("CREATE TEMP TABLE IF NOT EXISTS work (n INT)")
                if attempts == 1:
                    raise TransientError("SMTP server down")

            consumer = DurableConsumer(nc, settings(), inbox, flaky)
            await run_until(consumer, lambda: consumer.handled == 1)
            return attempts, consumer.handled

    assert run(scenario()) == (2, 1)


def test_poison_messages_go_to_the_dead_letter_table_and_are_not_redelivered(
    nats_server: NatsServer, postgres_env: dict[str, str]
) -> None:
    async def scenario() -> tuple[list[Any], int]:
        async with world(nats_server.url, postgres_env) as (nc, inbox):
            js = nc.jetstream()
            await js.publish("tickets.acme.x.opened", b"{not json")
            subject_, body, headers = note(1, str(uuid4()))
            await js.publish(subject_, body, headers=headers)

            async def always_failing(
                event: CloudEvent, payload: EventPayload, conn: Connection
            ) -> None:
                raise RuntimeError("bug in the handler")

            consumer = DurableConsumer(nc, settings(max_deliver=2), inbox, always_failing)
            await run_until(consumer, lambda: consumer.dead_letters == 2)
            # Terminated, not left to time out: nothing comes back after the ack wait (1 s).
            again = await js.pull_subscribe_bind(durable="toolkit-test", stream=TICKETS_STREAM)
            redelivered = 0
            with suppress(TimeoutError, nats.errors.TimeoutError):
                redelivered = len(await again.fetch(1, timeout=2.5))
            letters = await rows(
                inbox, "SELECT reason, deliveries FROM consumer_dead_letters ORDER BY id"
            )
            return letters, redelivered

    letters, redelivered = run(scenario())
    assert redelivered == 0  # terminated: no endless redelivery loop
    assert letters[0]["reason"].startswith("unreadable event")
    assert letters[1]["reason"].startswith("failed 2 times") and letters[1]["deliveries"] == 2


def test_a_batch_is_handled_in_one_go_and_a_poison_message_in_it_is_set_aside_alone(
    nats_server: NatsServer, postgres_env: dict[str, str]
) -> None:
    """Forty events fetched together: the one the handler chokes on costs the others nothing."""

    async def scenario() -> tuple[str, list[Any], list[Any], int, int]:
        async with world(nats_server.url, postgres_env) as (nc, inbox):
            js = nc.jetstream()
            tickets = [str(uuid4()), str(uuid4())]
            for version in range(1, 21):
                for ticket in tickets:
                    subject_, body, headers = note(version, ticket)
                    await js.publish(subject_, body, headers=headers)
            poison = f"{tickets[1]}:7"
            async with inbox.pool.acquire() as conn:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS toolkit_work (n BIGSERIAL, event_id TEXT)"
                )

            async def handler(event: CloudEvent, payload: EventPayload, conn: Connection) -> None:
                await conn.execute("INSERT INTO toolkit_work (event_id) VALUES ($1)", event.id)
                if event.id == poison:
                    raise RuntimeError("this event breaks the handler")

            consumer = DurableConsumer(nc, settings(max_deliver=2, batch=100), inbox, handler)
            await run_until(consumer, lambda: consumer.handled == 39 and consumer.dead_letters == 1)
            work = await rows(inbox, "SELECT event_id FROM toolkit_work ORDER BY n")
            letters = await rows(inbox, "SELECT event_id FROM consumer_dead_letters")
            return poison, work, letters, consumer.handled, consumer.duplicates

    poison, work, letters, handled, duplicates = run(scenario())
    ids = [row["event_id"] for row in work]
    assert len(ids) == len(set(ids)) == 39  # every good event's work committed exactly once
    assert [row["event_id"] for row in letters] == [poison]
    assert poison not in ids  # the poison's work was rolled back each time
    for ticket in {event_id.split(":")[0] for event_id in ids}:  # each ticket's events in order
        versions = [int(i.split(":")[1]) for i in ids if i.startswith(ticket)]
        assert versions == sorted(versions)
    assert (handled, duplicates) == (39, 0)


def test_an_existing_durable_with_drifted_config_is_reconciled(
    nats_server: NatsServer, postgres_env: dict[str, str]
) -> None:
    async def scenario() -> tuple[int, float]:
        async with world(nats_server.url, postgres_env) as (nc, inbox):
            js = nc.jetstream()
            await js.add_consumer(TICKETS_STREAM, settings(max_deliver=10, ack_wait=60).config())
            consumer = DurableConsumer(
                nc, settings(max_deliver=3, ack_wait=5), inbox, lambda *_: asyncio.sleep(0)
            )
            await consumer.reconcile()
            info = await js.consumer_info(TICKETS_STREAM, "toolkit-test")
            return info.config.max_deliver or 0, info.config.ack_wait or 0.0

    assert run(scenario()) == (3, 5.0)


def test_the_handlers_span_continues_the_trace_of_the_message(
    nats_server: NatsServer, postgres_env: dict[str, str]
) -> None:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    async def scenario() -> None:
        async with world(nats_server.url, postgres_env) as (nc, inbox):
            subject_, body, headers = note(1, str(uuid4()))
            await nc.jetstream().publish(subject_, body, headers=headers)
            consumer = DurableConsumer(nc, settings(), inbox, lambda *_: asyncio.sleep(0))
            await run_until(consumer, lambda: consumer.handled == 1)

    run(scenario())
    spans = [s for s in exporter.get_finished_spans() if s.name.startswith("process ")]
    assert spans, "the consumer recorded no span"
    assert format(spans[0].context.trace_id, "032x") == TRACE_ID
    assert spans[0].attributes is not None
    assert spans[0].attributes["messaging.system"] == "nats"


def test_streams_are_created_then_updated_idempotently(nats_server: NatsServer) -> None:
    async def scenario() -> tuple[float, float, list[str]]:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await ensure_stream(js, TICKETS_STREAM, StreamSettings())
        await ensure_stream(js, TICKETS_STREAM, StreamSettings())  # again: no error
        await ensure_stream(
            js,
            TICKETS_STREAM,
            StreamSettings(max_age=timedelta(days=7), duplicate_window=timedelta(minutes=5)),
        )
        info = await js.stream_info(TICKETS_STREAM)
        await nc.close()
        config = info.config
        return config.max_age or 0.0, config.duplicate_window or 0.0, config.subjects or []

    assert run(scenario()) == (7 * 86400.0, 300.0, ["tickets.>"])
