"""The SLA projection fed from a real JetStream stream into a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4
from zoneinfo import ZoneInfo

import nats
from nats_server import NatsServer

from contracts.events import (
    TICKETS_STREAM,
    Actor,
    ActorKind,
    EventPayload,
    envelope,
    subject,
    to_wire,
)
from contracts.events import ticket as te
from contracts.policy import load_policies
from servicekit.messaging.consumer import ConsumerSettings, DurableConsumer, PostgresInbox
from servicekit.messaging.database import create_pool
from servicekit.messaging.streams import StreamSettings, ensure_stream
from sla_monitor.projection import SlaProjection

T = TypeVar("T")
POLICIES = load_policies(Path(__file__).resolve().parents[3] / "policies")
MEXICO = ZoneInfo("America/Mexico_City")
AGENT = Actor(kind=ActorKind.AGENT, id="agent-lucia")
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="contact-ana")


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def story(ticket: str) -> list[tuple[EventPayload, datetime]]:
    """An urgent BITAM ticket registered Friday 17:30, answered Monday, waiting on Tuesday."""
    friday = datetime(2026, 11, 27, 17, 30, tzinfo=MEXICO)
    return [
        (
            te.Opened(
                actor=CUSTOMER,
                case_number="BIT-000001",
                contact=te.Contact(id="contact-ana", name="Ana", email="ana@acme.example"),
                title="El portal no responde",
                description="Error 500",
                ticket_type="soporte",
                priority="urgente",
            ),
            friday,
        ),
        (
            te.Assigned(actor=AGENT, agent_id="agent-lucia", agent_name="Lucía"),
            datetime(2026, 11, 30, 8, 40, tzinfo=MEXICO),
        ),
        (
            te.AgentReplied(actor=AGENT, body="Revisando", public=True),
            datetime(2026, 11, 30, 8, 50, tzinfo=MEXICO),
        ),
        (
            te.AwaitingCustomer(actor=AGENT, request="¿Qué navegador usa?"),
            datetime(2026, 11, 30, 9, 0, tzinfo=MEXICO),
        ),
    ]


async def publish(url: str, ticket: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_stream(js, TICKETS_STREAM, StreamSettings())
    for version, (payload, at) in enumerate(story(ticket), start=1):
        event = envelope(
            payload,
            ticket_id=ticket,
            ticket_version=version,
            tenant="acme",
            policy="bitam",
            time=at,
            source="/ticket-api",
        )
        await js.publish(
            subject(payload.event_name, tenant="acme", ticket_id=ticket),
            to_wire(event),
            headers={"Nats-Msg-Id": event.id},
        )
    await nc.close()


async def project(url: str, env: dict[str, str], expected: int) -> list[dict[str, Any]]:
    pool = await create_pool(env)
    projection = SlaProjection(POLICIES)
    async with pool.acquire() as conn:
        await projection.setup(conn)
    inbox = PostgresInbox(pool, "sla-monitor")
    await inbox.setup()
    nc = await nats.connect(url)
    consumer = DurableConsumer(
        nc,
        ConsumerSettings(
            stream=TICKETS_STREAM,
            durable="sla-monitor",
            filter_subject="tickets.>",
            fetch_timeout=0.1,
        ),
        inbox,
        projection.handle,
    )
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(consumer.wait_handled(expected), 30)
    consumer.stop()
    await asyncio.wait_for(task, 30)
    await nc.close()
    query = "SELECT * FROM sla_clocks ORDER BY metric"
    async with pool.acquire() as conn:
        rows = [dict(r) for r in await conn.fetch(query)]
        # every clock is paused, so no clock timer is armed; the abandonment countdown is
        assert await conn.fetchval("SELECT count(*) FROM sla_timers") == 0
        actions = await conn.fetch("SELECT kind, command, body, due FROM sla_actions")
        assert [(a["kind"], a["command"]) for a in actions] == [("resolve_abandoned", "resolve")]
        assert json.loads(actions[0]["body"])["resolution"] == "abandoned"
        assert actions[0]["due"] == datetime(2026, 12, 7, 9, tzinfo=MEXICO)  # 7 calendar days
        # what changed was queued, once, as SLA events for the timer loop to publish
        announced = [
            r["event_id"].split(":", 1)[1]
            for r in await conn.fetch("SELECT event_id FROM sla_outbox ORDER BY seq")
        ]
        assert announced == [
            "first_response:1:started",
            "resolution:1:started",
            "first_response:3:met",
            # paused exactly at its deadline: breached, and announced before the pause
            "resolution:breach:1.0:2026-11-30T15:00:00+00:00",
            "resolution:4:paused",
            "abandonment:resolve:4",
        ]
        # rebuilding from the stored events gives exactly the same projection
        async with conn.transaction():
            assert await projection.rebuild(conn) == 1
        assert [dict(r) for r in await conn.fetch(query)] == rows
        assert await conn.fetchval("SELECT count(*) FROM sla_outbox") == len(announced)
    await pool.close()
    return rows


def test_the_projection_follows_the_stream_and_replays_to_the_same_clocks(
    nats_server: NatsServer, postgres_env: dict[str, str]
) -> None:
    ticket = str(uuid4())
    run(publish(nats_server.url, ticket))
    clocks = {row["metric"]: row for row in run(project(nats_server.url, postgres_env, 4))}

    first = clocks["first_response"]
    assert first["status"] == "met" and first["late"] is False
    assert first["deadline"] == datetime(2026, 11, 30, 9, tzinfo=MEXICO)
    assert first["used_seconds"] == timedelta(minutes=50).total_seconds()
    resolution = clocks["resolution"]
    assert resolution["status"] == "breached"  # urgent: 1 business hour; 1 h used Monday 9:00
    assert (resolution["running"], resolution["pauses"]) == (False, 1)
    assert clocks["decision"]["status"] == "not_applicable"
