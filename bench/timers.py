"""SLA timers at scale: memory, time to arm, firing lag and restart recovery, on PostgreSQL.

Run: ``make bench-timers`` (or ``uv run python bench/timers.py``; ``--million`` adds the case of
1M open tickets; ``--smoke``: 500 tickets, a check that it runs rather than a measurement).
Starts a throw-away PostgreSQL (``testing/postgres.py``) and, per case, a fresh
nats-server (``testing/nats_server.py``) with the ``SLA`` stream, then for ``--tickets`` open
tickets (default 100k):

1. Arm. Each ticket gets one running ``resolution`` clock (``sla_clocks``) and two armed timers
   (``sla_timers``: the 80% warning and the breach, days ahead), bulk-loaded with asyncpg's
   ``copy_records_to_table`` into the production schema (``SlaProjection.setup``, indexes in
   place), then ``ANALYZE``. The real arming path, ``SlaProjection.refresh`` (replay the stored
   ``Opened`` event, write clocks, replace timers), is timed once on ``--sample`` tickets of
   policy ikhodi in a database of its own and extrapolated.
2. Firing lag. The production ``TimerLoop`` (``SystemClock``, ``--poll`` as
   ``timer_poll_seconds``, ``--batch``) runs in a process of its own, as in sla-monitor. Once it
   runs, ``--lag-timers`` timers are re-armed to come due uniformly over the next
   ``--lag-spread`` seconds; each one's lag runs from its ``due`` to JetStream's publish
   acknowledgement (and, as the loop records it, ``sla_fired.fired_at - due``).
3. Restart recovery. With the loop stopped, ``--recover`` timers (``--recover-million`` in the 1M
   case) are made overdue (due within the last 10 minutes); a fresh process starts the loop
   and the clock runs from its spawn until every one has fired (and its batch committed).
   Unless 1M were recovered, 1M is projected: a floor (start-up + 1M x the measured cost per
   timer outside ``fire_due``'s query, as if that query were free), at the mean rate, and by
   a fit of each batch's time against the rows fired before it.

Memory is the resident set of the loop's process (psutil if installed, else ``VmRSS``/``VmHWM``
of ``/proc``) and, since the timers live in PostgreSQL, ``pg_total_relation_size`` of the
timer tables. The loop's time in ``fire_due`` is split into its statements (an asyncpg query
logger on a pool sized as ``create_pool``'s), its publishes and the rest. ``EXPLAIN ANALYZE``
of ``fire_due``'s query is printed armed with nothing due, with the backlog before the restart,
and after the recovery (nothing due, but the fired timers still in ``sla_timers``).
Everything shares the machine's cores: PostgreSQL, nats-server, the loop and this driver.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where ``calendar.py`` would
# shadow the standard library's module: take the folder off the path. The test helpers live in
# ``testing/``, outside every package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "testing"))

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import math
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection as PipeEnd
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar, cast
from uuid import UUID

import asyncpg
import nats
from nats.js import JetStreamContext

from contracts.events import SLA_STREAM, Actor, ActorKind
from contracts.events import ticket as te
from contracts.policy import load_policies
from servicekit.clock import SystemClock
from servicekit.messaging.database import create_pool
from servicekit.messaging.streams import StreamSettings, ensure_stream
from sla_monitor.projection import SCHEMA as FIRED_SCHEMA
from sla_monitor.projection import SlaProjection
from sla_monitor.timers import DUE, TimerLoop

T = TypeVar("T")
from bench_support import (
    CpuMeter,
    NatsServerLike,
    nats_server,
    percentile,
    postgres_helpers,
    postmaster,
    run_async,
    verdict,
)
from bench_support import process_tree as _tree

POLICIES = ROOT / "policies"
POLICY = "ikhodi"
TENANTS = ("acme", "globex", "initech", "umbrella")
TARGET = timedelta(days=5)
"""The bulk-loaded clocks' resolution target: every armed timer is days ahead."""
OPENED_SPREAD = 43_200
"""Seconds over which the bulk-loaded tickets were opened (the last 12 hours)."""
WARNING_SHARE = 0.8
OVERDUE_WINDOW = 600.0
"""Recovery: the overdue timers came due within this many seconds before the restart."""
MIB = 1024 * 1024
MEMORY_TARGET_MIB = 1024.0
LAG_TARGET_MS = 1000.0
RECOVERY_TARGET_S = 60.0
MILLION = 1_000_000
CHILD_START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
SMOKE: dict[str, Any] = {
    "tickets": 500,
    "sample": 100,
    "lag_timers": 200,
    "lag_spread": 2.0,
    "drain": 20.0,
    "recover": 200,
    "recover_million": 200,
    "recovery_timeout": 60.0,
}
"""``--smoke``: every phase at a tiny size, unless a size is given too."""


# -- the test helpers (``testing/`` is not a package mypy knows) ------------------------------


# -- measurements -------------------------------------------------------------------------------


def _status_kib(pid: int | str, key: str) -> int:
    """A ``VmRSS``-style line of ``/proc/<pid>/status`` in KiB (0 if missing)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def memory() -> tuple[float, float]:
    """This process's resident set and its peak so far, in MiB (psutil if installed)."""
    peak = _status_kib("self", "VmHWM") / 1024
    try:
        psutil: Any = importlib.import_module("psutil")
    except ImportError:
        return _status_kib("self", "VmRSS") / 1024, peak
    return psutil.Process().memory_info().rss / MIB, peak


# -- the loop's process -------------------------------------------------------------------------


class QueryStats:
    """Time spent in the database per kind of statement (an asyncpg query logger)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def record(self, query: asyncpg.connection.LoggedQuery) -> None:
        text = query.query.lstrip()
        if "FROM sla_timers t" in text:
            kind = "due query"
        elif text.startswith("INSERT INTO sla_fired"):
            kind = "insert sla_fired"
        elif text.split(maxsplit=1)[0].rstrip(";").upper() in {"BEGIN", "COMMIT", "ROLLBACK"}:
            kind = "begin/commit"
        else:
            kind = "other"
        self.seconds[kind] = self.seconds.get(kind, 0.0) + query.elapsed
        self.count[kind] = self.count.get(kind, 0) + 1


class TimedLoop(TimerLoop):
    """The production loop, noting each publish's acknowledgement and each batch's duration."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        expect: int,
        keep_lags: bool,
        batch: int,
    ) -> None:
        super().__init__(pool, js, SystemClock(), batch=batch)
        self.expect = expect
        self.keep_lags = keep_lags
        self.lags: list[float] = []
        """Seconds from each timer's due to its publish acknowledgement."""
        self.publish_seconds = 0.0
        self.batches: list[tuple[float, float, int, int]] = []
        """(end, seconds, rows, fired before) of each ``fire_due`` that fired something."""
        self.busy_seconds = 0.0
        """In ``fire_due``, firing or not."""
        self.calls = 0
        self.done = asyncio.Event()
        self.done_at = 0.0

    async def _publish(self, row: Any) -> str:
        began = time.perf_counter()
        event_id = await super()._publish(row)
        self.publish_seconds += time.perf_counter() - began
        if self.keep_lags:
            self.lags.append((datetime.now(UTC) - row["due"]).total_seconds())
        return event_id

    async def fire_due(self) -> int:
        before = self.fired
        began = time.perf_counter()
        fired = await super().fire_due()
        end = time.perf_counter()
        self.busy_seconds += end - began
        self.calls += 1
        if fired:
            self.batches.append((end, end - began, fired, before))
        if self.fired >= self.expect and not self.done.is_set():
            self.done_at = end
            self.done.set()
        return fired


async def instrumented_pool(env: Mapping[str, str], stats: QueryStats) -> asyncpg.Pool:
    """``create_pool(env)``'s pool (same sizes), each connection with ``stats`` logging."""

    async def init(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(stats.record)

    pool = await asyncpg.create_pool(
        host=env["POSTGRES_HOST"],
        port=int(env.get("POSTGRES_PORT") or 5432),
        user=env["POSTGRES_USER"],
        password=env.get("POSTGRES_PASSWORD"),
        database=env["POSTGRES_DBNAME"],
        min_size=1,
        max_size=10,
        init=init,
    )
    assert pool is not None
    return pool


async def serve_loop(
    env: Mapping[str, str],
    url: str,
    expect: int,
    keep_lags: bool,
    poll: float,
    batch: int,
    timeout: float,
    pipe: PipeEnd,
) -> None:
    """Run the loop until ``expect`` timers have fired (or ``timeout``); report to the parent."""
    imported = time.perf_counter()
    stats = QueryStats()
    pool = await instrumented_pool(env, stats)
    nc = await nats.connect(url)
    try:
        loop = TimedLoop(pool, nc.jetstream(), expect, keep_lags, batch)
        await loop.setup()
        began = time.perf_counter()
        task = asyncio.create_task(loop.run(poll))
        pipe.send(("ready", {"imported": imported, "began": began, "rss": memory()[0]}))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(loop.done.wait(), timeout)
        rss, peak = memory()
        loop.stop()
        await asyncio.wait_for(task, STOP_TIMEOUT)
        pipe.send(
            (
                "done",
                {
                    "fired": loop.fired,
                    "done_at": loop.done_at if loop.done.is_set() else math.nan,
                    "lags": loop.lags,
                    "batches": loop.batches,
                    "publish_seconds": loop.publish_seconds,
                    "busy_seconds": loop.busy_seconds,
                    "calls": loop.calls,
                    "query_seconds": stats.seconds,
                    "query_count": stats.count,
                    "rss": rss,
                    "peak": peak,
                },
            )
        )
        # Keep the connections (and their PostgreSQL backends) until the parent has read the
        # CPU they used: the ticks of a process that has exited are lost.
        await asyncio.to_thread(pipe.poll, STOP_TIMEOUT)
    finally:
        await nc.close()
        await pool.close()


def loop_process(
    env: dict[str, str],
    url: str,
    expect: int,
    keep_lags: bool,
    poll: float,
    batch: int,
    timeout: float,
    pipe: PipeEnd,
) -> None:
    logging.basicConfig(level=logging.WARNING, format="loop: %(levelname)s %(message)s")
    run_async(serve_loop(env, url, expect, keep_lags, poll, batch, timeout, pipe))


@dataclass
class LoopChild:
    process: BaseProcess
    pipe: PipeEnd
    spawned: float
    """``perf_counter`` (CLOCK_MONOTONIC, shared by the processes) just before the spawn."""

    def receive(self, what: str, timeout: float) -> dict[str, Any]:
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"the loop's process sent no {what!r} within {timeout:.0f} s")
        kind, body = self.pipe.recv()
        if kind != what:
            raise RuntimeError(f"the loop's process sent {kind!r}, expected {what!r}")
        return cast(dict[str, Any], body)


@contextlib.contextmanager
def loop_child(
    env: Mapping[str, str],
    url: str,
    expect: int,
    keep_lags: bool,
    args: argparse.Namespace,
    timeout: float,
) -> Iterator[LoopChild]:
    """A fresh process running the timer loop, as sla-monitor would after a (re)start."""
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    process = context.Process(
        target=loop_process,
        args=(dict(env), url, expect, keep_lags, args.poll, args.batch, timeout, child_end),
        daemon=True,
    )
    spawned = time.perf_counter()
    process.start()
    try:
        yield LoopChild(process, parent_end, spawned)
    except BaseException:
        process.terminate()  # something failed here: do not wait for the child's timeout
        raise
    finally:
        process.join(STOP_TIMEOUT)
        if process.is_alive():
            process.terminate()
            process.join(STOP_TIMEOUT)


# -- arming -------------------------------------------------------------------------------------


def ticket_id(n: int) -> UUID:
    """Ticket ``n``'s id: ordered like ``n``, so a range of tickets is a range of the key."""
    return UUID(int=(0x5A << 120) | n)


CLOCK_COLUMNS = (
    "ticket_id",
    "metric",
    "policy",
    "tenant",
    "priority",
    "ticket_type",
    "status",
    "target_seconds",
    "used_seconds",
    "running",
    "deadline",
    "started_at",
    "met_at",
    "late",
    "pauses",
    "as_of",
    "ticket_version",
)
"""The columns ``clock_rows`` fills; the others keep their defaults (``cycle`` 1)."""
TIMER_COLUMNS = ("ticket_id", "metric", "kind", "threshold", "due")
"""The columns ``timer_rows`` fills (``armed_by``, the arming trace, stays NULL)."""


def clock_rows(count: int, now: datetime) -> Iterator[tuple[object, ...]]:
    """One running resolution clock per ticket, as the projection writes them."""
    target = TARGET.total_seconds()
    for n in range(count):
        opened = now - timedelta(seconds=n % OPENED_SPREAD)
        yield (
            ticket_id(n),
            "resolution",
            POLICY,
            TENANTS[n % len(TENANTS)],
            "p2",
            "problemas-basicos",
            "running",
            target,
            (n % OPENED_SPREAD) * 1.0,
            True,
            opened + TARGET,
            opened,
            None,
            False,
            0,
            now,
            1,
        )


def timer_rows(count: int, now: datetime) -> Iterator[tuple[object, ...]]:
    """Each ticket's armed timers: the 80% warning and the breach of its resolution clock."""
    for n in range(count):
        opened = now - timedelta(seconds=n % OPENED_SPREAD)
        tid = ticket_id(n)
        yield (tid, "resolution", "warning", WARNING_SHARE, opened + TARGET * WARNING_SHARE)
        yield (tid, "resolution", "breach", 1.0, opened + TARGET)


@dataclass
class Sizes:
    timers: int
    clocks: int
    fired: int

    def text(self) -> str:
        return (
            f"sla_timers {self.timers / MIB:,.1f} MiB, sla_clocks {self.clocks / MIB:,.1f} MiB,"
            f" sla_fired {self.fired / MIB:,.1f} MiB"
        )


async def table_sizes(conn: asyncpg.Connection) -> Sizes:
    row = await conn.fetchrow(
        "SELECT pg_total_relation_size('sla_timers'), pg_total_relation_size('sla_clocks'),"
        " pg_total_relation_size('sla_fired')"
    )
    assert row is not None
    return Sizes(int(row[0]), int(row[1]), int(row[2]))


@dataclass
class Armed:
    clocks_seconds: float
    timers_seconds: float
    analyze_seconds: float
    sizes: Sizes


async def arm(conn: asyncpg.Connection, tickets: int) -> Armed:
    """Bulk-load ``tickets`` clocks and their timers into the production schema."""
    await SlaProjection.setup(conn)
    await conn.execute(FIRED_SCHEMA)  # as ``TimerLoop.setup`` does
    now = datetime.now(UTC)
    began = time.perf_counter()
    await conn.copy_records_to_table(
        "sla_clocks", records=clock_rows(tickets, now), columns=CLOCK_COLUMNS
    )
    clocked = time.perf_counter()
    await conn.copy_records_to_table(
        "sla_timers", records=timer_rows(tickets, now), columns=TIMER_COLUMNS
    )
    timed = time.perf_counter()
    await conn.execute("ANALYZE sla_clocks, sla_timers")
    analyzed = time.perf_counter()
    return Armed(clocked - began, timed - clocked, analyzed - timed, await table_sizes(conn))


@dataclass
class Refresh:
    tickets: int
    seconds: float
    timers: int
    clocks: int

    @property
    def rate(self) -> float:
        return self.tickets / self.seconds if self.seconds else math.nan


async def refresh_sample(env: Mapping[str, str], tickets: int) -> Refresh:
    """Arm ``tickets`` through ``SlaProjection.refresh``, one transaction each (as the
    consumer's ``handle`` does after storing the event)."""
    projection = SlaProjection(load_policies(POLICIES))
    pool = await create_pool(env)
    try:
        async with pool.acquire() as conn:
            await projection.setup(conn)
            now = datetime.now(UTC)
            events = []
            for n in range(tickets):
                opened = te.Opened(
                    actor=Actor(kind=ActorKind.CUSTOMER, id="contact-ana"),
                    case_number=f"IKH-{n + 1:06d}",
                    contact=te.Contact(id="contact-ana", name="Ana", email="ana@acme.example"),
                    title="Lentitud",
                    description="Todo lento",
                    ticket_type="problemas-basicos",
                    priority="p2",
                )
                payload = json.dumps(opened.model_dump(mode="json"))
                tenant = TENANTS[n % len(TENANTS)]
                events.append((ticket_id(n), 1, "ticket.opened", payload, now, POLICY, tenant))
            await conn.copy_records_to_table("sla_ticket_events", records=events)
            began = time.perf_counter()
            for n in range(tickets):
                async with conn.transaction():
                    await projection.refresh(conn, ticket_id(n))
            seconds = time.perf_counter() - began
            timers = await conn.fetchval("SELECT count(*) FROM sla_timers")
            clocks = await conn.fetchval("SELECT count(*) FROM sla_clocks")
    finally:
        await pool.close()
    return Refresh(tickets, seconds, int(timers), int(clocks))


# -- the plan of fire_due's query ---------------------------------------------------------------


async def explain_due(conn: asyncpg.Connection, batch: int) -> list[str]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of ``fire_due``'s query now (its locks rolled back)."""
    tr = conn.transaction()
    await tr.start()
    try:
        rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + DUE, datetime.now(UTC), batch)
    finally:
        await tr.rollback()
    return [str(r[0]) for r in rows]


# -- one case -----------------------------------------------------------------------------------


@dataclass
class Phase:
    """What the loop's process reported about one run."""

    spawned: float
    ready: dict[str, Any]
    done: dict[str, Any]
    cpu: str

    @property
    def startup_seconds(self) -> float:
        """Spawn until the loop runs: interpreter, imports, pool, NATS, ``setup()``."""
        return float(self.ready["began"]) - self.spawned

    @property
    def imports_seconds(self) -> float:
        return float(self.ready["imported"]) - self.spawned

    @property
    def drained_seconds(self) -> float:
        """Spawn until the expected timers have fired (nan if they did not)."""
        return float(self.done["done_at"]) - self.spawned

    @property
    def loop_seconds(self) -> float:
        return float(self.done["done_at"]) - float(self.ready["began"])

    def breakdown(self) -> str:
        """Where the loop's time in ``fire_due`` went: statements, publishes, the rest."""
        busy = float(self.done["busy_seconds"])
        queries: dict[str, float] = self.done["query_seconds"]
        counts: dict[str, int] = self.done["query_count"]
        parts = [
            f"{kind} {seconds:.1f} s ({counts[kind]:,}x, {seconds / counts[kind] * 1e3:.2f} ms)"
            for kind, seconds in sorted(queries.items(), key=lambda kv: -kv[1])
        ]
        publish = float(self.done["publish_seconds"])
        parts.append(f"publish (build + await ack) {publish:.1f} s")
        parts.append(f"rest {max(0.0, busy - publish - sum(queries.values())):.1f} s")
        return f"in fire_due {busy:.1f} s ({self.done['calls']:,} calls): " + "; ".join(parts)


def fit(batches: Sequence[tuple[float, float, int, int]]) -> tuple[float, float]:
    """Least squares ``seconds = a + b * fired_before`` over full batches."""
    points = [(float(b[3]), b[1]) for b in batches]
    if len(points) < 2:
        return (points[0][1] if points else math.nan), 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if not var:
        return mean_y, 0.0
    b = sum((x - mean_x) * (y - mean_y) for x, y in points) / var
    return mean_y - b * mean_x, b


def projected_drain(a: float, b: float, timers: int, batch: int) -> float:
    """Seconds to fire ``timers`` in batches when one takes ``a + b * rows fired before it``."""
    return sum(a + b * k * batch for k in range(math.ceil(timers / batch)))


@dataclass
class Case:
    tickets: int
    armed: Armed | None = None
    lag: Phase | None = None
    lag_timers: int = 0
    lag_recorded: list[float] = field(default_factory=list)
    retime_seconds: float = 0.0
    recovery: Phase | None = None
    recover_timers: int = 0
    overdue_seconds: float = 0.0
    sizes_after: Sizes | None = None
    plan_idle: list[str] = field(default_factory=list)
    plan_backlog: list[str] = field(default_factory=list)
    plan_after: list[str] = field(default_factory=list)
    nats_rss: float = 0.0

    @property
    def timers(self) -> int:
        return 2 * self.tickets


async def retime(conn: asyncpg.Connection, tickets: range, due: datetime, spread: float) -> None:
    """Re-arm the timers of ``tickets`` to come due uniformly within ``spread`` s of ``due``."""
    await conn.execute(
        "UPDATE sla_timers SET due = $3::timestamptz + random() * $4::float8 * interval '1 s'"
        " WHERE ticket_id >= $1 AND ticket_id < $2",
        ticket_id(tickets.start),
        ticket_id(tickets.stop),
        due,
        spread,
    )


def run_loop(
    env: Mapping[str, str],
    server: NatsServerLike,
    postgres: Callable[[], Sequence[int]],
    expect: int,
    keep_lags: bool,
    args: argparse.Namespace,
    timeout: float,
    when_ready: Callable[[], None] = lambda: None,
) -> Phase:
    """Start a loop process, call ``when_ready`` once it runs, wait for ``expect`` firings."""
    with loop_child(env, server.url, expect, keep_lags, args, timeout) as child:
        pid = child.process.pid or 0
        meter = CpuMeter(
            {
                "loop": lambda: [pid],
                "postgres": postgres,
                "nats-server": lambda: [server.pid] if server.pid else [],
                "driver": lambda: [os.getpid()],
            }
        )
        ready = child.receive("ready", CHILD_START_TIMEOUT)
        when_ready()
        done = child.receive("done", timeout + STOP_TIMEOUT)
        cpu = meter.report()
        with contextlib.suppress(OSError):
            child.pipe.send(("stop", {}))
    return Phase(child.spawned, ready, done, cpu)


def run_case(
    tickets: int,
    recover: int,
    env: Mapping[str, str],
    server: NatsServerLike,
    postgres: Callable[[], Sequence[int]],
    args: argparse.Namespace,
) -> Case:
    case = Case(tickets)
    lag_tickets = range(min(tickets, args.lag_timers // 2))
    case.lag_timers = 2 * len(lag_tickets)
    rest = tickets - lag_tickets.stop
    recover_tickets = range(lag_tickets.stop, lag_tickets.stop + min(rest, recover // 2))
    case.recover_timers = 2 * len(recover_tickets)

    async def prepare() -> None:
        nc = await nats.connect(server.url)
        try:
            await ensure_stream(nc.jetstream(), SLA_STREAM, StreamSettings())
        finally:
            await nc.close()
        conn = await asyncpg.connect(**connect_kwargs(env))
        try:
            case.armed = await arm(conn, tickets)
            case.plan_idle = await explain_due(conn, args.batch)
        finally:
            await conn.close()

    run_async(prepare())
    armed = case.armed
    assert armed is not None
    print(
        f"  armed {tickets:,} tickets / {case.timers:,} timers: clocks"
        f" {armed.clocks_seconds:.1f} s, timers {armed.timers_seconds:.1f} s, ANALYZE"
        f" {armed.analyze_seconds:.1f} s ({armed.sizes.text()})",
        flush=True,
    )

    def retime_lag_slice() -> None:
        async def go() -> None:
            conn = await asyncpg.connect(**connect_kwargs(env))
            try:
                began = time.perf_counter()
                start = datetime.now(UTC) + timedelta(seconds=args.lag_lead)
                await retime(conn, lag_tickets, start, args.lag_spread)
                case.retime_seconds = time.perf_counter() - began
            finally:
                await conn.close()

        run_async(go())

    if case.lag_timers:
        timeout = args.lag_lead + args.lag_spread + args.drain
        case.lag = run_loop(
            env, server, postgres, case.lag_timers, True, args, timeout, retime_lag_slice
        )
        print(
            f"  lag: {case.lag.done['fired']:,} of {case.lag_timers:,} fired"
            f" (re-timed in {case.retime_seconds:.2f} s)",
            flush=True,
        )

    async def overdue() -> None:
        conn = await asyncpg.connect(**connect_kwargs(env))
        try:
            case.lag_recorded = [
                float(r[0])
                for r in await conn.fetch(
                    "SELECT extract(epoch FROM fired_at - due) FROM sla_fired WHERE ticket_id < $1",
                    ticket_id(lag_tickets.stop),
                )
            ]
            began = time.perf_counter()
            start = datetime.now(UTC) - timedelta(seconds=OVERDUE_WINDOW)
            await retime(conn, recover_tickets, start, OVERDUE_WINDOW)
            case.overdue_seconds = time.perf_counter() - began
            case.plan_backlog = await explain_due(conn, args.batch)
        finally:
            await conn.close()

    run_async(overdue())
    if case.recover_timers:
        case.recovery = run_loop(
            env, server, postgres, case.recover_timers, False, args, args.recovery_timeout
        )
        print(
            f"  recovery: {case.recovery.done['fired']:,} of {case.recover_timers:,} fired",
            flush=True,
        )

    async def after() -> None:
        conn = await asyncpg.connect(**connect_kwargs(env))
        try:
            case.plan_after = await explain_due(conn, args.batch)
            case.sizes_after = await table_sizes(conn)
        finally:
            await conn.close()

    run_async(after())
    case.nats_rss = _status_kib(server.pid, "VmRSS") / 1024 if server.pid else math.nan
    return case


def connect_kwargs(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "host": env["POSTGRES_HOST"],
        "port": int(env.get("POSTGRES_PORT") or 5432),
        "user": env["POSTGRES_USER"],
        "password": env.get("POSTGRES_PASSWORD"),
        "database": env["POSTGRES_DBNAME"],
    }


# -- the run ------------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    from inspect import signature

    from sla_monitor.settings import Settings

    poll = float(Settings.model_fields["timer_poll_seconds"].default)
    batch = int(signature(TimerLoop.__init__).parameters["batch"].default)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--tickets", type=int, default=100_000, help="open tickets (default 100000)")
    add("--million", action="store_true", help=f"also run the case of {MILLION:,} tickets")
    add("--sample", type=int, default=2000, help="tickets armed through refresh (default 2000)")
    add("--lag-timers", type=int, default=20_000, help="timers coming due in the lag phase")
    add("--lag-spread", type=float, default=10.0, help="seconds over which they come due")
    add("--lag-lead", type=float, default=1.0, help="seconds from re-arming to the first due")
    add("--drain", type=float, default=60.0, help="seconds to wait for the last lag firings")
    add("--recover", type=int, default=100_000, help="overdue timers at the restart")
    add(
        "--recover-million",
        type=int,
        default=100_000,
        help="overdue timers at the restart in the 1M case",
    )
    add("--recovery-timeout", type=float, default=600.0, help="seconds the recovery may take")
    add("--poll", type=float, default=poll, help=f"the loop's poll seconds (default {poll})")
    add("--batch", type=int, default=batch, help=f"the loop's batch (default {batch})")
    add(
        "--smoke",
        action="store_true",
        help="every phase at a tiny size (500 tickets, 200 timers coming due over 2 s,"
        " 200 overdue): checks the benchmark runs, measures nothing",
    )
    args = parser.parse_args()
    if args.smoke:  # the smoke sizes, unless a size was given too
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    return args


def summary(values: Sequence[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    if not ordered:
        return (math.nan,) * 3
    return percentile(ordered, 0.50), percentile(ordered, 0.99), ordered[-1]


@dataclass
class Projection:
    """Seconds to recover 1M overdue timers, projected from a smaller recovery."""

    floor: float
    """Start-up + 1M x the measured cost per timer outside the due query (as if it were free)."""
    mean_rate: float
    """Start-up + 1M at the measured mean rate (the due query as costly as it was on average)."""
    fitted: float
    """Batch time fitted as ``a + b * rows fired before it``, summed over 1M."""
    text: str


def recovery_projection(case: Case, args: argparse.Namespace) -> Projection:
    phase = case.recovery
    assert phase is not None
    fired = int(phase.done["fired"])
    batches: list[tuple[float, float, int, int]] = phase.done["batches"]
    full = [b for b in batches if b[2] == args.batch] or batches
    a, b = fit(full)
    due_query = float(phase.done["query_seconds"].get("due query", 0.0))
    per_timer = (float(phase.done["busy_seconds"]) - due_query) / max(fired, 1)
    rate = fired / phase.loop_seconds if phase.loop_seconds else math.nan
    tenth = max(1, len(batches) // 10)

    def rate_of(part: Sequence[tuple[float, float, int, int]]) -> float:
        return sum(p[2] for p in part) / max(sum(p[1] for p in part), 1e-9)

    text = (
        f"first 10% of batches {rate_of(batches[:tenth]):,.0f} timers/s, last 10%"
        f" {rate_of(batches[-tenth:]):,.0f} timers/s; per timer outside the due query"
        f" {per_timer * 1e3:.3f} ms; fit: batch = {a * 1e3:.0f} ms + {b * 1e6:.2f} us x rows"
        " fired before it (a model of the index-ordered plan only: with a bitmap scan + sort"
        " every batch reads every due row, fired or not)"
    )
    return Projection(
        floor=phase.startup_seconds + MILLION * per_timer,
        mean_rate=phase.startup_seconds + MILLION / rate,
        fitted=phase.startup_seconds + projected_drain(a, b, MILLION, args.batch),
        text=text,
    )


def short(count: int) -> str:
    """``500``, ``100k``, ``1M``: a count as the table's labels show it."""
    if count >= MILLION:
        return f"{count / MILLION:g}M"
    return f"{count // 1000:,}k" if count >= 1000 else f"{count:,}"


def case_rows(
    case: Case, refresh: Refresh | None, args: argparse.Namespace
) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    n = short(case.tickets)
    armed = case.armed
    assert armed is not None
    arm_seconds = armed.clocks_seconds + armed.timers_seconds
    rows.append(
        (
            f"[{n}] arm: COPY clocks + timers",
            f"{arm_seconds:.1f} s ({case.timers / arm_seconds:,.0f} timers/s)"
            f" + ANALYZE {armed.analyze_seconds:.1f} s",
            "",
            "",
        )
    )
    if refresh is not None:
        rows.append(
            (
                f"[{n}] arm: via refresh (projected)",
                f"{case.tickets / refresh.rate:,.0f} s at {refresh.rate:,.0f} tickets/s",
                "",
                "",
            )
        )
    at_scale = case.timers >= MILLION
    note = "" if at_scale else " (proj.)"
    peaks = [p.done["peak"] for p in (case.lag, case.recovery) if p is not None]
    readies = [p.ready["rss"] for p in (case.lag, case.recovery) if p is not None]
    if peaks:
        peak = max(peaks)
        rows.append(
            (
                f"[{n}] sla-monitor loop RSS",
                f"ready {max(readies):.0f} MiB, peak {peak:.0f} MiB",
                f"< {MEMORY_TARGET_MIB:.0f} MiB @1M",
                verdict(peak < MEMORY_TARGET_MIB) + note,
            )
        )
    tables = armed.sizes.timers + armed.sizes.clocks
    per_million = tables / case.timers * MILLION / MIB
    rows.append(
        (
            f"[{n}] timer tables in PostgreSQL",
            f"{tables / MIB:,.0f} MiB = {per_million:,.0f} MiB per 1M timers",
            f"< {MEMORY_TARGET_MIB:.0f} MiB cached",
            verdict(per_million < MEMORY_TARGET_MIB),
        )
    )
    if case.lag is not None:
        lags = [v * 1e3 for v in case.lag.done["lags"]]
        missing = case.lag_timers - len(lags)
        lags += [math.inf] * max(0, missing)
        p50, p99, worst = summary(lags)
        lost = f", {missing:,} not fired" if missing > 0 else ""
        rows.append(
            (
                f"[{n}] firing lag, due -> ack",
                f"p50 {p50:,.0f} / p99 {p99:,.0f} / max {worst:,.0f} ms{lost}",
                f"p99 < {LAG_TARGET_MS:.0f} ms",
                verdict(p99 < LAG_TARGET_MS),
            )
        )
    if case.recovery is not None:
        phase = case.recovery
        fired = int(phase.done["fired"])
        drained = phase.drained_seconds
        rate = fired / phase.loop_seconds if phase.loop_seconds else math.nan
        rows.append(
            (
                f"[{n}] restart recovery, {short(case.recover_timers)}",
                f"{drained:,.1f} s spawn -> drained ({rate:,.0f} timers/s; start-up"
                f" {phase.startup_seconds:.1f} s)"
                + ("" if fired >= case.recover_timers else f", only {fired:,} fired"),
                "",
                "",
            )
        )
        projection = recovery_projection(case, args)
        measured = case.recover_timers >= MILLION and fired >= case.recover_timers
        rows.append(
            (
                f"[{n}] restart recovery, 1M",
                f"{drained:,.0f} s measured"
                if measured
                else f">= {projection.floor:,.0f} s (floor); {projection.mean_rate:,.0f} s at the"
                f" mean rate; {projection.fitted:,.0f} s fitted",
                f"< {RECOVERY_TARGET_S:.0f} s",
                verdict((drained if measured else projection.floor) < RECOVERY_TARGET_S)
                + ("" if measured else " (proj.)"),
            )
        )
    return rows


def case_notes(case: Case, refresh: Refresh | None, args: argparse.Namespace) -> list[str]:
    notes: list[str] = []
    armed = case.armed
    assert armed is not None
    notes.append(f"after arming: {armed.sizes.text()}")
    if case.sizes_after is not None:
        notes.append(f"at the end: {case.sizes_after.text()}")
    if case.lag is not None:
        p50, p99, worst = summary([v * 1e3 for v in case.lag_recorded])
        notes.append(
            f"lag phase: {case.lag_timers:,} timers due over {args.lag_spread:g} s"
            f" ({case.lag_timers / args.lag_spread:,.0f}/s), re-armed in"
            f" {case.retime_seconds:.2f} s; as recorded (sla_fired.fired_at - due, fired_at"
            f" being the batch's start): p50 {p50:,.0f} / p99 {p99:,.0f} / max {worst:,.0f} ms"
        )
        notes.append(f"lag phase {case.lag.cpu}")
        notes.append(f"lag phase {case.lag.breakdown()}")
    if case.recovery is not None:
        phase = case.recovery
        notes.append(
            f"recovery: {case.recover_timers:,} timers made overdue in"
            f" {case.overdue_seconds:.1f} s; spawn -> imports done {phase.imports_seconds:.1f} s,"
            f" -> loop running {phase.startup_seconds:.1f} s, -> drained"
            f" {phase.drained_seconds:.1f} s"
        )
        notes.append(f"recovery {recovery_projection(case, args).text}")
        notes.append(f"recovery {phase.cpu}")
        notes.append(f"recovery {phase.breakdown()}")
    idle = execution_ms(case.plan_after)
    if not math.isnan(idle):
        notes.append(
            f"after the recovery every idle poll (each {args.poll:g} s) runs fire_due's query"
            f" for {idle:,.0f} ms with nothing due (EXPLAIN ANALYZE below); armed, before any"
            f" firing: {execution_ms(case.plan_idle):,.2f} ms"
        )
    notes.append(f"nats-server RSS at the end {case.nats_rss:,.0f} MiB")
    return notes


def compact(plan: Sequence[str]) -> list[str]:
    """The plan without per-node buffer counts and planning details (the total stays)."""
    kept, totals = [], False
    for line in plan:
        what = line.strip()
        if what.startswith("Buffers:"):
            if totals:
                continue
            totals = True
        elif what.startswith(("Planning", "Sort Method", "Buckets:")):
            continue
        kept.append(line)
    return kept


def execution_ms(plan: Sequence[str]) -> float:
    """The ``Execution Time`` of an ``EXPLAIN ANALYZE`` (nan if absent)."""
    for line in plan:
        if line.startswith("Execution Time:"):
            return float(line.split()[2])
    return math.nan


def print_table(cases: Sequence[Case], refresh: Refresh | None, args: argparse.Namespace) -> None:
    rows = [row for case in cases for row in case_rows(case, refresh, args)]
    width = max(len(r[1]) for r in rows) if rows else 0
    label = max(len(r[0]) for r in rows) if rows else 0
    print()
    print(f"{'figure':<{label + 2}}{'value':<{width + 2}}{'target':<20}")
    for what, value, target, ok in rows:
        print(f"{what:<{label + 2}}{value:<{width + 2}}{target:<20}{ok}")
    if refresh is not None:
        print(
            f"  refresh sample: {refresh.tickets:,} ikhodi tickets in {refresh.seconds:.1f} s"
            f" ({refresh.rate:,.0f}/s, one transaction each), arming {refresh.clocks:,} clocks"
            f" and {refresh.timers:,} timers ({refresh.timers / max(refresh.tickets, 1):.1f}"
            " per ticket, not the bulk load's 2)"
        )
    for case in cases:
        print(f"  [{case.tickets:,} tickets]")
        for note in case_notes(case, refresh, args):
            print(f"    {note}")
    for case in cases:
        for title, plan in (
            ("armed, nothing due, nothing fired yet", case.plan_idle),
            (f"{case.recover_timers:,} overdue, before the restart", case.plan_backlog),
            ("after the recovery: nothing due, fired timers still armed", case.plan_after),
        ):
            if plan:
                print(f"\nfire_due's query, {case.tickets:,} tickets, {title}:")
                for line in compact(plan):
                    print(f"  {line}")


def main() -> None:
    args = arguments()
    helpers = postgres_helpers()
    sizes = [args.tickets] + ([MILLION] if args.million and args.tickets != MILLION else [])
    began = time.perf_counter()
    print(
        f"bench timers: {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f});"
        f" {', '.join(f'{s:,}' for s in sizes)} open tickets (2 timers each);"
        f" lag: {args.lag_timers:,} timers over {args.lag_spread:g} s; recovery:"
        f" {args.recover:,}"
        + (f" / {args.recover_million:,} (1M)" if args.million else "")
        + f" overdue timers; loop poll {args.poll:g} s, batch {args.batch}",
        flush=True,
    )
    cases: list[Case] = []
    refresh: Refresh | None = None
    with (
        tempfile.TemporaryDirectory(prefix="bench-timers-") as tmp,
        helpers.running_postgres() as pg,
    ):
        work = Path(tmp)
        server_pid = postmaster(pg["POSTGRES_PORT"])

        def postgres() -> list[int]:
            return _tree(server_pid) if server_pid else []

        if args.sample:
            refresh = run_async(
                refresh_sample(helpers.fresh_database(pg, "timers_refresh"), args.sample)
            )
            print(
                f"refresh: {refresh.tickets:,} tickets armed in {refresh.seconds:.1f} s",
                flush=True,
            )
        for tickets in sizes:
            print(f"case {tickets:,} tickets:", flush=True)
            env = helpers.fresh_database(pg, f"timers_{tickets}")
            recover = args.recover_million if tickets >= MILLION else args.recover
            with nats_server(work / f"nats-{tickets}") as server:
                cases.append(run_case(tickets, recover, env, server, postgres, args))
    print_table(cases, refresh, args)
    print(f"\n(total {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
