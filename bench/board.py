"""The board's first page and one live connection, beside the read API's JSON at risk.

Run: ``make bench-board`` (or ``uv run python bench/board.py``; ``--smoke``: 200 tickets).
Starts a throw-away PostgreSQL (``testing/postgres.py``), projects ``--tickets`` open urgent
tickets of policy bitam (10,000 by default: an Opened event each, through the real
``SlaProjection.refresh``, spread over 40 tenants), then, in-process on a manual clock:

* **first page**: ``GET /board`` signed in as a supervisor (all tenants): the queue's SQL,
  every open clock moved to now on its calendar, the ranking and the HTML of the first
  ``board_page_size`` rows; the median and worst of ``--repeat`` renders;
* **baseline**: ``GET /v1/sla/at-risk?within=31d`` (the stored rows of the first page of at
  most 200 clocks, as JSON), the same way;
* **one SSE connection**: the memory the board's stream generator holds (``tracemalloc``,
  from a ``since`` before every ticket, once it has pushed every ticket's row), beside the
  read API's own ``clock_changes`` generator under the same changes; both read through the
  process's ``ClockHub`` (included in the figure);
* **many connections** (``--connections``): board streams on one hub while ``--burst``
  tickets change at once, held once each has sent its first row and queued the rest; what
  one more connection costs is the difference between N connections and one, over N - 1.

The driver, the app and PostgreSQL share the machine's cores.
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
import json
import statistics
import time
import tracemalloc
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import asyncpg
from fastapi.testclient import TestClient
from introspection import dev_introspection
from postgres import running_postgres

from contracts.events import Actor, ActorKind
from contracts.events import ticket as te
from contracts.policy import load_policies
from servicekit.clock import ManualClock
from sla_monitor.api.deps import Scope, SlaReader
from sla_monitor.api.hub import ClockHub
from sla_monitor.api.stream import clock_changes
from sla_monitor.main import create_app
from sla_monitor.projection import SlaProjection
from sla_monitor.settings import Settings
from sla_monitor.web.deps import Board
from sla_monitor.web.i18n import Words
from sla_monitor.web.queue import Filters
from sla_monitor.web.stream import rows

POLICIES = load_policies(ROOT / "policies")
MONDAY_0900 = datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("America/Mexico_City"))


def opened(n: int) -> te.Opened:
    return te.Opened(
        actor=Actor(kind=ActorKind.CUSTOMER, id="contact-ana"),
        case_number=f"BIT-{n:06d}",
        contact=te.Contact(id="contact-ana", name="Ana", email="ana@acme.example"),
        title=f"Ticket {n}",
        description="bench",
        ticket_type="soporte",
        priority="urgente",
    )


async def project(env: dict[str, str], count: int) -> None:
    """``count`` tickets opened a second apart from Monday 8:00, projected as in production."""
    s = settings_for(env)
    conn = await asyncpg.connect(
        host=s.postgres_host,
        port=s.postgres_port,
        user=s.postgres_user,
        password=s.postgres_password,
        database=s.postgres_dbname,
    )
    projection = SlaProjection(POLICIES)
    try:
        await SlaProjection.setup(conn)
        for n in range(count):
            ticket, at = uuid4(), MONDAY_0900 - timedelta(hours=1) + timedelta(seconds=n % 3600)
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO sla_ticket_events VALUES ($1, 1, $2, $3, $4, 'bitam', $5)",
                    ticket,
                    te.Opened.event_name,
                    json.dumps(opened(n + 1).model_dump(mode="json")),
                    at,
                    f"tenant-{n % 40:02d}",
                )
                await projection.refresh(conn, ticket, announce=False)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def settings_for(env: dict[str, str]) -> Settings:
    return Settings(
        policies_dir=ROOT / "policies",
        postgres_host=env["POSTGRES_HOST"],
        postgres_port=int(env["POSTGRES_PORT"]),
        postgres_user=env["POSTGRES_USER"],
        postgres_password=env["POSTGRES_PASSWORD"],
        postgres_dbname=env["POSTGRES_DBNAME"],
        stream_poll_seconds=0.01,
    )


def timed(client: TestClient, path: str, repeat: int) -> tuple[float, float, int]:
    """Median and worst milliseconds of ``repeat`` GETs, and the size of the answer."""
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, headers={"Authorization": "Bearer dev-supervisor"})
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:300]
        size = len(response.content)
    return statistics.median(times), max(times), size


async def held_by(stream: AsyncIterator[str], messages: int) -> tuple[int, int]:
    """Bytes a stream generator holds once it sent ``messages`` messages (tracemalloc)."""
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    sent = 0
    async for message in stream:
        if "data: " in message:
            sent += 1
        if sent >= messages:
            break
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(s.size_diff for s in after.compare_to(before, "filename"))
    return held, sent


async def everyone() -> Scope:
    return None


async def reader_for(env: dict[str, str]) -> SlaReader:
    settings = settings_for(env)
    reader = SlaReader(settings, POLICIES, ManualClock(MONDAY_0900))
    reader.pool = await asyncpg.create_pool(**settings.pool_kwargs())
    return reader


async def stream_memory(env: dict[str, str], count: int) -> tuple[int, int, int]:
    """Memory of the board's stream and of the clock stream over the same ``count`` tickets."""
    reader = await reader_for(env)
    since = MONDAY_0900 - timedelta(hours=1, seconds=1)
    try:
        board = Board.of(reader.settings, reader)
        board_rows = rows(board, ClockHub(reader), Words(False), Filters(), everyone, since)
        board_held, sent = await held_by(board_rows, count)
        await board_rows.aclose()  # type: ignore[attr-defined]
        start = since - timedelta(seconds=reader.settings.stream_overlap_seconds)
        clocks = clock_changes(ClockHub(reader), start, policy=None, scope=everyone)
        clocks_held, _ = await held_by(clocks, count)
        await clocks.aclose()  # type: ignore[attr-defined]
    finally:
        await reader.pool.close()  # type: ignore[union-attr]
    return board_held, clocks_held, sent


async def connections_held(env: dict[str, str], connections: int, burst: int) -> int:
    """Bytes held by ``connections`` board streams on one hub once ``burst`` tickets changed
    at once and each stream sent its first row (the rest queued).

    The changes are stamped with the streams' own start: not caught up from the database
    (strictly after it), but inside the stream's overlap, so they come through the hub.
    """
    reader = await reader_for(env)
    now = reader.clock.now()
    after = now + timedelta(seconds=reader.settings.stream_overlap_seconds)
    hub, board = ClockHub(reader), Board.of(reader.settings, reader)
    streams = [
        rows(board, hub, Words(False), Filters(), everyone, after) for _ in range(connections)
    ]
    try:
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for stream in streams:
            await anext(stream)  # subscribed; nothing stored after ``now`` to catch up
        async with reader.db().acquire() as conn:
            await conn.execute(
                "UPDATE sla_clocks SET as_of = $1, ticket_version = ticket_version + 1 "
                "WHERE ticket_id IN (SELECT ticket_id FROM sla_tickets ORDER BY case_number "
                "LIMIT $2)",
                now,
                burst,
            )
        for stream in streams:
            while "event: row" not in await anext(stream):
                pass
        held = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
        tracemalloc.stop()
    finally:
        for stream in streams:
            await stream.aclose()  # type: ignore[attr-defined]
        await reader.pool.close()  # type: ignore[union-attr]
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--burst", type=int, default=200, help="tickets changed at once")
    parser.add_argument("--smoke", action="store_true", help="200 tickets, 3 renders")
    args = parser.parse_args()
    count, repeat = (200, 3) if args.smoke else (args.tickets, args.repeat)
    connections, burst = (5, 50) if args.smoke else (args.connections, args.burst)
    with running_postgres() as env:
        started = time.perf_counter()
        asyncio.run(project(env, count))
        print(f"projected {count} open tickets in {time.perf_counter() - started:.1f}s")
        clock = ManualClock(MONDAY_0900 + timedelta(minutes=20))
        app = create_app(settings_for(env), clock=clock, principals=dev_introspection())
        with TestClient(app) as client:
            form = client.get("/board/sign-in").text
            csrf = form.split('name="csrf" value="')[1].split('"')[0]
            signed = client.post(
                "/board/sign-in",
                data={"csrf": csrf, "credential": "dev-supervisor", "then": "/board"},
                follow_redirects=False,
            )
            assert signed.status_code == 303, signed.text[:300]
            page = timed(client, "/board", repeat)
            json_page = timed(client, "/v1/sla/at-risk?within=31d", repeat)
        print(
            f"first page of the queue ({count} open tickets, 100 rows): "
            f"median {page[0]:.0f} ms, worst {page[1]:.0f} ms, {page[2] / 1024:.0f} KiB"
        )
        print(
            f"baseline JSON at-risk (200 stored rows):                  "
            f"median {json_page[0]:.0f} ms, worst {json_page[1]:.0f} ms, "
            f"{json_page[2] / 1024:.0f} KiB"
        )
        board_held, clocks_held, sent = asyncio.run(stream_memory(env, count))
        print(
            f"one board SSE connection after {sent} rows pushed: "
            f"{board_held / 1024:.0f} KiB held (the clock stream: {clocks_held / 1024:.0f} KiB)"
        )
        one = asyncio.run(connections_held(env, 1, burst))
        many = asyncio.run(connections_held(env, connections, burst))
        print(
            f"{connections} board SSE connections, {burst} tickets changed at once: "
            f"{many / 1024:.0f} KiB held (one: {one / 1024:.0f} KiB); "
            f"each one more: {(many - one) / max(connections - 1, 1) / 1024:.1f} KiB"
        )


if __name__ == "__main__":
    main()
