"""The consumer toolkit's throughput on a backlog, beside a plain consumer's, in the same run.

Run: ``make bench-consumers`` (or ``uv run python bench/consumers.py``; ``--events N``;
``--smoke``: 300 events, a check that it runs rather than a measurement).

A throw-away PostgreSQL and nats-server are started; ``--events`` ticket events (real
``NoteAdded`` envelopes of ``--tickets`` tickets) are published straight into the ``TICKETS``
stream first, so what is measured is how fast each consumer works through a backlog, not how
fast anything publishes. Then, one after the other on the same stream:

- **plain**: a bare durable pull consumer — fetch 100, parse the envelope, ack; no database;
- **toolkit**: ``DurableConsumer`` + ``PostgresInbox`` with a handler that writes one row per
  event in the consumer's transaction, as sla-monitor's projection and the notifier's planner
  do — the exactly-once bookkeeping included.

Each prints events/s; the toolkit's share of the plain rate is judged against the target of
issue 20 (≥ 25%). Everything shares the machine's cores: PostgreSQL, nats-server and this
process.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent / "testing"))

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from datetime import UTC, datetime
from uuid import uuid4

import nats
from bench_support import CpuMeter, nats_server, postgres_helpers, run_async, verdict
from nats.errors import TimeoutError as NatsTimeoutError

from contracts.events import (
    TICKETS_STREAM,
    Actor,
    ActorKind,
    CloudEvent,
    EventPayload,
    envelope,
    from_wire,
    subject,
    to_wire,
)
from contracts.events.ticket import NoteAdded
from servicekit.messaging.consumer import (
    Connection,
    ConsumerSettings,
    DurableConsumer,
    PostgresInbox,
)
from servicekit.messaging.database import create_pool
from servicekit.messaging.streams import StreamSettings, ensure_stream

TARGET_SHARE = 0.25
TIMEOUT = 600.0


async def publish_backlog(url: str, events: int, tickets: int) -> None:
    """``events`` notes spread over ``tickets`` tickets, published with pipelined acks."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_stream(js, TICKETS_STREAM, StreamSettings())
    ids = [str(uuid4()) for _ in range(tickets)]
    actor = Actor(kind=ActorKind.AGENT, id="agent-1")
    at = datetime(2026, 11, 24, 15, tzinfo=UTC)
    pending = []
    for n in range(events):
        ticket, version = ids[n % tickets], n // tickets + 1
        event = envelope(
            NoteAdded(actor=actor, body=f"nota interna {n}"),
            ticket_id=ticket,
            ticket_version=version,
            tenant="acme",
            policy="btw",
            time=at,
            source="/ticket-api",
        )
        pending.append(
            js.publish(
                subject("ticket.note_added", tenant="acme", ticket_id=ticket),
                to_wire(event),
                headers={"Nats-Msg-Id": event.id},
            )
        )
        if len(pending) >= 512:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    await nc.close()


async def plain(url: str, events: int) -> float:
    """Seconds a bare pull consumer takes to parse and ack the whole backlog."""
    nc = await nats.connect(url)
    subscription = await nc.jetstream().pull_subscribe(
        "tickets.>", durable="bench-plain", stream=TICKETS_STREAM
    )
    seen = 0
    started = time.perf_counter()
    while seen < events and time.perf_counter() - started < TIMEOUT:
        with contextlib.suppress(TimeoutError, NatsTimeoutError):
            for message in await subscription.fetch(100, timeout=1.0):
                from_wire(message.data)
                await message.ack()
                seen += 1
    seconds = time.perf_counter() - started
    await nc.close()
    if seen < events:
        raise RuntimeError(f"plain consumer saw {seen} of {events} events")
    return seconds


async def toolkit(url: str, pg: dict[str, str], events: int) -> float:
    """Seconds ``DurableConsumer`` takes to handle the backlog, a row written per event."""
    pool = await create_pool(pg)
    inbox = PostgresInbox(pool, "bench-toolkit")
    await inbox.setup()
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE bench_work (event_id TEXT PRIMARY KEY, body TEXT)")

    async def handler(event: CloudEvent, payload: EventPayload, conn: Connection) -> None:
        await conn.execute(
            "INSERT INTO bench_work VALUES ($1, $2)", event.id, payload.model_dump_json()
        )

    nc = await nats.connect(url)
    consumer = DurableConsumer(
        nc,
        ConsumerSettings(
            stream=TICKETS_STREAM, durable="bench-toolkit", filter_subject="tickets.>"
        ),
        inbox,
        handler,
    )
    started = time.perf_counter()
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(consumer.wait_handled(events), TIMEOUT)
        seconds = time.perf_counter() - started
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)
        await nc.close()
    async with pool.acquire() as conn:
        written = await conn.fetchval("SELECT count(*) FROM bench_work")
    await pool.close()
    if written != events:
        raise RuntimeError(f"toolkit wrote {written} rows for {events} events")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="backlog (default 50000)")
    parser.add_argument("--tickets", type=int, default=1_000, help="tickets the events concern")
    parser.add_argument("--smoke", action="store_true", help="300 events: does it still run?")
    args = parser.parse_args()
    if args.smoke:
        args.events, args.tickets = 300, 30
    helpers = postgres_helpers()
    print(
        f"bench consumers: {os.cpu_count()} cores; backlog of {args.events:,} events"
        f" on {args.tickets:,} tickets",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-consumers-") as work,
        helpers.running_postgres() as pg,
        nats_server(Path(work) / "nats") as server,
    ):
        env = helpers.fresh_database(pg, "bench_consumers")
        started = time.perf_counter()
        run_async(publish_backlog(server.url, args.events, args.tickets))
        print(f"backlog published in {time.perf_counter() - started:.1f} s", flush=True)
        meter = CpuMeter({"bench": lambda: [os.getpid()]})
        plain_seconds = run_async(plain(server.url, args.events))
        plain_cpu = meter.report()
        meter = CpuMeter({"bench": lambda: [os.getpid()]})
        toolkit_seconds = run_async(toolkit(server.url, env, args.events))
        toolkit_cpu = meter.report()
    plain_rate = args.events / plain_seconds
    toolkit_rate = args.events / toolkit_seconds
    share = toolkit_rate / plain_rate
    print()
    print(f"{'consumer':<34}{'events/s':>12}   {'target':<22}")
    print(f"{'plain (parse + ack)':<34}{plain_rate:>12,.0f}   {'baseline':<22}")
    print(
        f"{'toolkit (inbox + handler row)':<34}{toolkit_rate:>12,.0f}   "
        f"{'>= 25% of plain':<22}{verdict(share >= TARGET_SHARE)}"
    )
    print(f"  toolkit / plain = {share:.0%}")
    print(f"  CPU plain: {plain_cpu}; toolkit: {toolkit_cpu}")


if __name__ == "__main__":
    main()
