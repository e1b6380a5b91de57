"""The notifier's throughput: planning messages from events, and sending them over SMTP.

Run: ``make bench-notifier`` (or ``uv run python bench/deliveries.py --events 2000``; ``--smoke``:
200 events, a check that it runs rather than a measurement). Starts a
throw-away PostgreSQL (``testing/postgres.py``) and a local SMTP server (aiosmtpd, in a thread
of this process, on 127.0.0.1), then:

1. Planning. ``--events`` ``ticket.opened`` events of policy bitam go through the consumer
   handler (``Planner.handle``: ticket view, routes, Jinja2 rendering in Spanish, the delivery
   row), one transaction each as the consumer runs them. Baseline, same run: the same number of
   already rendered delivery rows inserted with ``plan()``, one transaction each — the cost of
   the bookkeeping alone.
2. Sending. The planned deliveries go out through the real ``Dispatcher`` (claim, send over
   aiosmtplib with the batch's concurrency, settle) until none is due. Baseline, same run: the
   same messages built and sent with ``aiosmtplib.send`` at the same concurrency, without the
   log (no claim, no settle, no span).

Everything shares the machine's cores: PostgreSQL, the SMTP server and this process.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "testing"))

import argparse
import asyncio
import time
from datetime import UTC, datetime
from uuid import uuid4

import aiosmtplib
from bench_support import postgres_helpers, run_async
from receivers import SmtpSink

from contracts.events import Actor, ActorKind, envelope
from contracts.events import ticket as te
from contracts.policy import load_policies
from notifier.channels.email import EmailSender, SmtpSettings, build_email
from notifier.delivery import SCHEMA, Dispatcher, Planned, outgoing, plan
from notifier.destinations import Destinations
from notifier.messages import Messages
from notifier.planning import Planner
from servicekit.clock import ManualClock
from servicekit.messaging.database import create_pool

AT = datetime(2026, 11, 24, 15, tzinfo=UTC)


def opened(i: int) -> te.Opened:
    return te.Opened(
        actor=Actor(kind=ActorKind.CUSTOMER, id=f"c{i}"),
        case_number=f"BIT-{i:06d}",
        contact=te.Contact(id=f"c{i}", name=f"Cliente {i}", email=f"c{i}@acme.example"),
        title="El portal no responde",
        description="Desde las 9:00 el portal devuelve error 500.",
        ticket_type="soporte",
        priority="urgente",
        product="ebavel",
        product_version="6.6",
    )


async def bench(env: dict[str, str], events: int, batch: int) -> None:
    sink = SmtpSink().start()
    pool = await create_pool(env, max_size=4)
    clock = ManualClock(AT)
    try:
        async with pool.acquire() as conn:
            await conn.execute(SCHEMA)
        planner = Planner(load_policies(ROOT / "policies"), Destinations(), Messages(), clock)
        payloads = [opened(i) for i in range(events)]
        wire = [
            envelope(
                payloads[i],
                ticket_id=uuid4(),
                ticket_version=1,
                tenant="acme",
                policy="bitam",
                time=AT,
                source="/ticket-api",
            )
            for i in range(events)
        ]
        started = time.perf_counter()
        for event, payload in zip(wire, payloads, strict=True):
            async with pool.acquire() as conn, conn.transaction():
                await planner.handle(event, payload, conn)
        planning = time.perf_counter() - started

        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM deliveries ORDER BY seq")
        copies = [
            Planned(
                **{
                    k: r[k]
                    for k in Planned.__dataclass_fields__
                    if k not in ("event_id", "event", "event_type")
                },
                event_id=r["event_id"] + ":copy",
                event_type=r["event_type"],
                event=None,
            )
            for r in rows
        ]
        started = time.perf_counter()
        for copy in copies:
            async with pool.acquire() as conn, conn.transaction():
                await plan(conn, copy, AT)
        inserting = time.perf_counter() - started
        async with pool.acquire() as conn:
            await conn.execute("DELETE FROM deliveries WHERE event_id LIKE '%:copy'")

        settings = SmtpSettings(
            host="127.0.0.1", port=sink.port, sender="s@desk.example", message_id_domain="d"
        )
        dispatcher = Dispatcher(pool, clock, {"email": EmailSender(settings)}, batch=batch)
        started = time.perf_counter()
        while await dispatcher.dispatch_due():
            pass
        sending = time.perf_counter() - started
        assert dispatcher.sent == len(rows), (dispatcher.sent, dispatcher.dead)

        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            await asyncio.gather(
                *(
                    aiosmtplib.send(
                        build_email(outgoing(r), settings), hostname="127.0.0.1", port=sink.port
                    )
                    for r in rows[i : i + batch]
                )
            )
        raw = time.perf_counter() - started
        sink.wait_for(2 * len(rows), timeout=60)

        n = len(rows)
        print(f"planning: {events} events -> {n} deliveries")
        print(f"  handler (route + render + log):  {events / planning:8.0f} events/s")
        print(f"  baseline, plan() of rendered rows: {n / inserting:6.0f} rows/s")
        print(f"sending: {n} mails over SMTP to 127.0.0.1, concurrency {batch}")
        print(f"  Dispatcher (claim, send, settle): {n / sending:7.0f} mails/s")
        print(f"  baseline, build + aiosmtplib.send: {n / raw:6.0f} mails/s")
        print(f"  the log's share of sending time:  {1 - raw / sending:7.0%}")
    finally:
        await pool.close()
        sink.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--smoke", action="store_true", help="200 events")
    args = parser.parse_args()
    if args.smoke:  # the smoke size, unless --events was given too
        parser.set_defaults(events=200)
        args = parser.parse_args()
    helpers = postgres_helpers()
    with helpers.running_postgres() as server:
        env = helpers.fresh_database(server, f"bench_notifier_{uuid4().hex[:8]}")
        run_async(bench(env, args.events, args.batch))


if __name__ == "__main__":
    main()
