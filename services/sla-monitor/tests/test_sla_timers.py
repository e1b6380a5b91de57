"""SLA timers fire on the injectable clock, once, even across restarts and crashes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4
from zoneinfo import ZoneInfo

import nats
import pytest
from nats_server import NatsServer

from contracts.events import SLA_STREAM, Actor, ActorKind
from contracts.events import ticket as te
from contracts.policy import load_policies
from servicekit.clock import ManualClock
from servicekit.messaging.database import create_pool
from servicekit.messaging.streams import StreamSettings, ensure_stream
from sla_monitor.projection import SlaProjection
from sla_monitor.timers import TimerLoop

T = TypeVar("T")
POLICIES = load_policies(Path(__file__).resolve().parents[3] / "policies")
GUATEMALA = ZoneInfo("America/Guatemala")
MONDAY_0800 = datetime(2026, 11, 23, 8, tzinfo=GUATEMALA)


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def sla_messages(js: Any) -> list[Any]:
    info = await js.stream_info(SLA_STREAM)
    if not info.state.messages:
        return []
    subscription = await js.pull_subscribe("sla.>", stream=SLA_STREAM)
    return list(await subscription.fetch(info.state.messages, timeout=5))


def test_warnings_then_the_breach_fire_once_each_on_the_manual_clock(
    nats_server: NatsServer, postgres_env: dict[str, str]
) -> None:
    ticket = uuid4()
    clock = ManualClock(MONDAY_0800)

    async def scenario() -> list[tuple[str, float | None, str]]:
        pool = await create_pool(postgres_env)
        projection = SlaProjection(POLICIES)
        opened = te.Opened(
            actor=Actor(kind=ActorKind.CUSTOMER, id="c"),
            case_number="IKH-000001",
            contact=te.Contact(id="c", name="Ana", email="ana@acme.example"),
            title="Lentitud",
            description="Todo lento",
            ticket_type="problemas-basicos",
            priority="p2",
        )
        async with pool.acquire() as conn:
            await projection.setup(conn)
            await conn.execute(
                "INSERT INTO sla_ticket_events VALUES ($1, 1, 'ticket.opened', $2, $3, "
                "'ikhodi', 'acme')",
                ticket,
                json.dumps(opened.model_dump(mode="json")),
                MONDAY_0800,
            )
            await projection.refresh(conn, ticket)
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await ensure_stream(js, SLA_STREAM, StreamSettings())
        loop = TimerLoop(pool, js, clock)
        await loop.setup()

        clock.set(datetime(2026, 11, 23, 8, 20, tzinfo=GUATEMALA))
        assert await loop.fire_due() == 1  # first response: 50% of 30 calendar minutes
        assert await loop.fire_due() == 0
        assert await TimerLoop(pool, js, clock).fire_due() == 0  # a restarted loop agrees

        # A crash after publishing but before recording: the retry publishes the same id.
        clock.set(datetime(2026, 11, 23, 8, 31, tzinfo=GUATEMALA))
        crashing = TimerLoop(pool, js, clock)
        real_publish = crashing._publish

        async def publish_then_die(row: Any) -> str:
            await real_publish(row)
            raise RuntimeError("process killed")

        crashing._publish = publish_then_die  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            await crashing.fire_due()
        assert await loop.fire_due() == 2  # 80% warning and the breach

        messages = await sla_messages(js)
        await nc.close()
        await pool.close()
        out = []
        for message in messages:
            event = json.loads(message.data)
            out.append((event["type"], event["data"].get("threshold"), event["data"]["metric"]))
        return out

    assert run(scenario()) == [
        ("supportdesk.sla.warning", 0.5, "first_response"),
        ("supportdesk.sla.warning", 0.8, "first_response"),
        ("supportdesk.sla.breached", None, "first_response"),
    ]


def test_queued_clock_changes_are_published_once_in_order(
    nats_server: NatsServer, postgres_env: dict[str, str]
) -> None:
    async def scenario() -> tuple[int, int, list[str]]:
        pool = await create_pool(postgres_env)
        projection = SlaProjection(POLICIES)
        opened = te.Opened(
            actor=Actor(kind=ActorKind.CUSTOMER, id="c"),
            case_number="IKH-000002",
            contact=te.Contact(id="c", name="Ana", email="ana@acme.example"),
            title="Lentitud",
            description="Todo lento",
            ticket_type="problemas-basicos",
            priority="p2",
        )
        ticket = uuid4()
        async with pool.acquire() as conn:
            await projection.setup(conn)
            await conn.execute(
                "INSERT INTO sla_ticket_events VALUES ($1, 1, 'ticket.opened', $2, $3, "
                "'ikhodi', 'acme')",
                ticket,
                json.dumps(opened.model_dump(mode="json")),
                MONDAY_0800,
            )
            await projection.refresh(conn, ticket)
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await ensure_stream(js, SLA_STREAM, StreamSettings())
        loop = TimerLoop(pool, js, ManualClock(MONDAY_0800))
        await loop.setup()
        first, again = await loop.publish_outbox(), await loop.publish_outbox()
        types = [json.loads(m.data)["type"] for m in await sla_messages(js)]
        await nc.close()
        await pool.close()
        return first, again, types

    first, again, types = run(scenario())
    assert (first, again) == (2, 0)
    assert types == ["supportdesk.sla.clock_started"] * 2
