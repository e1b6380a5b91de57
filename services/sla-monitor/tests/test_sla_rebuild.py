"""``sla-monitor-rebuild``: derived clocks and timers come back from the stored events."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

from contracts.events import Actor, ActorKind
from contracts.events import ticket as te
from servicekit.messaging.database import create_pool
from sla_monitor.projection import SCHEMA
from sla_monitor.rebuild import rebuild
from sla_monitor.settings import Settings

POLICIES = Path(__file__).resolve().parents[3] / "policies"
MONDAY_0800 = datetime(2026, 11, 23, 8, tzinfo=ZoneInfo("America/Guatemala"))


def test_a_lost_projection_is_rebuilt_from_the_stored_events(postgres_env: dict[str, str]) -> None:
    ticket = uuid4()
    opened = te.Opened(
        actor=Actor(kind=ActorKind.CUSTOMER, id="c"),
        case_number="IKH-000001",
        contact=te.Contact(id="c", name="Ana", email="ana@acme.example"),
        title="Lentitud",
        description="Todo lento",
        ticket_type="problemas-basicos",
        priority="p2",
    )

    async def stored_then_lost() -> None:
        pool = await create_pool(postgres_env)
        async with pool.acquire() as conn:
            await conn.execute(SCHEMA)
            await conn.execute(
                "INSERT INTO sla_ticket_events VALUES ($1, 1, 'ticket.opened', $2, $3, "
                "'ikhodi', 'acme')",
                ticket,
                json.dumps(opened.model_dump(mode="json")),
                MONDAY_0800,
            )
        await pool.close()

    async def clocks_and_timers() -> tuple[list[str], int]:
        pool = await create_pool(postgres_env)
        async with pool.acquire() as conn:
            metrics = await conn.fetch("SELECT metric FROM sla_clocks ORDER BY metric")
            timers = await conn.fetchval("SELECT count(*) FROM sla_timers")
        await pool.close()
        return [r["metric"] for r in metrics], timers

    asyncio.run(stored_then_lost())
    assert asyncio.run(clocks_and_timers()) == ([], 0)
    settings = Settings(
        policies_dir=POLICIES,
        postgres_host=postgres_env["POSTGRES_HOST"],
        postgres_port=int(postgres_env["POSTGRES_PORT"]),
        postgres_user=postgres_env["POSTGRES_USER"],
        postgres_password=postgres_env["POSTGRES_PASSWORD"],
        postgres_dbname=postgres_env["POSTGRES_DBNAME"],
    )
    assert asyncio.run(rebuild(settings)) == 1
    metrics, timers = asyncio.run(clocks_and_timers())
    assert {"first_response", "resolution"} <= set(metrics) and timers > 0
