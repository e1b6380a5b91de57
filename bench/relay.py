"""The outbox relay: catch-up throughput and commit → consumer latency, on PostgreSQL and NATS.

Run: ``make bench-relay`` (or ``uv run python bench/relay.py``; ``--smoke``: a 400-event
backlog and 2 s at 50 events/s, a check that it runs rather than a measurement). Starts a
throw-away PostgreSQL
(``testing/postgres.py``, the relay's production store) and fresh nats-servers
(``testing/nats_server.py``), then:

1. Catch-up. A backlog of ``--events`` ticket events (opened → assigned → in progress → agent
   replied, four per ticket, with trace context) is written straight through the library in
   big ``save()`` batches; then a fresh nats-server and the production ``OutboxRelay``
   (``PostgresLease``, default ``RelaySettings``) start, and the clock runs until
   ``caught_up(max notification id)``.
   Baseline: the very messages the relay built (subject, CloudEvent bytes, headers, captured as
   it built them) published with raw nats-py ``js.publish_async`` — same
   ``publish_async_max_pending``, one continuous pipeline — to a fresh stream on another fresh
   nats-server: the ceiling of nats-py + nats-server on this machine.
2. Latency. On a fresh database and nats-server, the relay runs as in ticket-api (woken by
   ``after_save``) while consumers read the TICKETS stream, each in its own process as services
   are: the toolkit's ``DurableConsumer`` with a ``PostgresInbox`` (the realistic one) and a
   plain pull consumer. Writer threads apply ``desk.change(reply)`` on an open-loop schedule of
   ``--rate`` events/s for ``--seconds``; each event's latency runs from the moment its
   ``save()`` returned (``perf_counter`` taken in the first ``after_save`` listener) to the
   consumer's handler receiving it (``perf_counter`` there: CLOCK_MONOTONIC, shared by the
   processes). An event not received within the drain time counts as infinitely slow.

Everything shares the machine's cores: PostgreSQL, nats-server, the relay and the writers (one
process, as in ticket-api) and the consumer processes.
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
import cProfile
import io
import math
import multiprocessing
import os
import pstats
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection as PipeEnd
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar, cast
from uuid import UUID, uuid4

import asyncpg
import nats
from eventsourcing.persistence import Notification
from nats.errors import TimeoutError as NatsTimeoutError

from contracts.events import TICKETS_STREAM, CloudEvent, EventPayload
from contracts.policy import SupportPolicy, load_policies
from servicekit.messaging.consumer import (
    Connection,
    ConsumerSettings,
    DurableConsumer,
    PostgresInbox,
)
from servicekit.messaging.streams import StreamSettings, ensure_stream
from servicekit.personal_data import without_keys
from ticket_api.application import TicketDesk
from ticket_api.domain.ticket import Actor, Ticket
from ticket_api.domain.tracing import Trace, tracing
from ticket_api.lease import PostgresLease
from ticket_api.relay import OutboxRelay, RelaySettings

T = TypeVar("T")
from bench_support import (
    CpuMeter,
    NatsServerLike,
    PostgresHelpers,
    nats_server,
    percentile,
    postgres_helpers,
    postmaster,
    run_async,
    verdict,
)
from bench_support import process_tree as _tree

POLICIES = ROOT / "policies"
CUSTOMER: Actor = {"kind": "customer", "id": "contact-ana", "name": "Ana Ruiz"}
AGENT: Actor = {"kind": "agent", "id": "agent-lucia", "name": "Lucía Gómez"}
CONTACT = {"id": "contact-ana", "name": "Ana Ruiz", "email": "ana@acme.example", "locale": "es"}
TENANTS = ("acme", "globex", "initech", "umbrella")
EVENTS_PER_TICKET = 4
CONSUMER_KINDS = ("toolkit", "plain")
CHILD_START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
CATCH_UP_TARGET = 0.80
P99_TARGET_MS = 100.0

SMOKE: dict[str, Any] = {
    "events": 400,
    "chunk": 100,
    "timeout": 60.0,
    "rate": 50.0,
    "seconds": 2.0,
    "tickets": 20,
    "writers": 2,
    "drain": 20.0,
}
"""``--smoke``: every phase at a tiny size, unless a size is given too."""

Message = tuple[str, bytes, None, None, dict[str, str]]
"""``publish_async`` arguments, as the relay builds them."""


# -- the test helpers (``testing/`` is not a package mypy knows) ------------------------------


# -- measurements -------------------------------------------------------------------------------


@dataclass
class Latency:
    """Commit → handler latencies of one consumer, in milliseconds (inf: never received)."""

    consumer: str
    values: list[float] = field(default_factory=list)
    """In commit order."""
    commits: list[float] = field(default_factory=list)
    """Seconds from the first commit, for each value."""

    def worst_by_second(self) -> str:
        """The slowest event of each second of the run: where the tail comes from."""
        worst: dict[int, float] = {}
        for at, value in zip(self.commits, self.values, strict=True):
            worst[int(at)] = max(worst.get(int(at), 0.0), value)
        return " ".join(f"{worst[s]:.0f}" for s in sorted(worst))

    @property
    def missing(self) -> int:
        return sum(1 for v in self.values if math.isinf(v))

    def summary(self) -> tuple[float, float, float]:
        ordered = sorted(self.values)
        if not ordered:
            return (float("nan"),) * 3
        return percentile(ordered, 0.50), percentile(ordered, 0.99), ordered[-1]


@dataclass
class Drive:
    """What the open-loop writers did."""

    commits: dict[str, float]
    """``<ticket id>:<version>`` → ``perf_counter`` when its ``save()`` returned."""
    scheduled: int
    seconds: float
    worst_start_lag: float
    errors: list[str]


class CommitClock(threading.local):
    """When the current thread's last ``save()`` returned (set by an ``after_save`` listener)."""

    at: float = 0.0


COMMITTED = CommitClock()


def mark_commit() -> None:
    COMMITTED.at = time.perf_counter()


# -- writing tickets ----------------------------------------------------------------------------


def traced() -> Trace:
    """A W3C trace context, as a traced request saves with its events (set by ``tracing``)."""
    return {"traceparent": f"00-{uuid4().hex}-{uuid4().hex[:16]}-01"}


def opened(n: int, at: datetime) -> Ticket:
    """A new ticket (one ``Opened`` event), as ``open_ticket`` would build it for bitam."""
    with tracing(traced()):
        return Ticket.open(
            id=uuid4(),
            by=CUSTOMER,
            at=at,
            case_number=f"BIT-{n:06d}",
            policy="bitam",
            tenant=TENANTS[n % len(TENANTS)],
            contact=CONTACT,
            title="El portal no responde",
            description="Desde las 9:00 el portal devuelve error 500 al guardar formularios.",
            ticket_type="soporte",
            priority="alta",
            subcategory=None,
            product="ebavel",
            product_version="6.6",
            channel="portal",
            modality=None,
            intake={},
            follow_up_of=None,
            feature_request=False,
        )


def worked(n: int, at: datetime) -> Ticket:
    """A ticket opened, assigned, started and replied to: four events."""
    ticket = opened(n, at)
    with tracing(traced()):
        ticket.assign(agent_id="agent-lucia", agent_name="Lucía Gómez", by=AGENT, at=at)
    with tracing(traced()):
        ticket.start(by=AGENT, at=at)
    ticket.reply(body="Revisando el registro del servidor.", public=True, by=AGENT, at=at)
    return ticket


def write_backlog(desk: TicketDesk, events: int, chunk: int) -> float:
    """Write ``events`` ticket events in saves of ``chunk`` tickets; returns the seconds taken."""
    began = time.perf_counter()
    tickets = events // EVENTS_PER_TICKET
    for first in range(0, tickets, chunk):
        at = datetime.now(UTC)
        desk.save(*(worked(n, at) for n in range(first + 1, min(first + chunk, tickets) + 1)))
    return time.perf_counter() - began


def reply(ticket: Ticket, _: SupportPolicy, now: datetime) -> None:
    with tracing(traced()):
        ticket.reply(body="¿Puede enviarnos el registro?", public=True, by=AGENT, at=now)


def drive(
    desk: TicketDesk, ticket_ids: Sequence[UUID], rate: float, seconds: float, writers: int
) -> Drive:
    """``desk.change(reply)`` due every 1/rate s, round-robin over the tickets (open loop).

    A scheduler thread hands each change to a pool of writer threads when it is due, whether or
    not the previous ones have finished; each change's commit time comes from ``mark_commit``.
    """
    commits: dict[str, float] = {}
    started_lag: list[float] = []
    count = int(rate * seconds)

    def write(index: int, due: float) -> None:
        started_lag.append(time.perf_counter() - due)
        ticket_id = ticket_ids[index % len(ticket_ids)]
        outcome = desk.change(ticket_id, reply)
        commits[f"{ticket_id}:{outcome.ticket.version}"] = COMMITTED.at

    futures: list[Future[None]] = []
    t0 = time.perf_counter() + 0.05
    with ThreadPoolExecutor(writers, thread_name_prefix="writer") as pool:
        for index in range(count):
            due = t0 + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(write, index, due))
    elapsed = max(commits.values(), default=t0) - t0
    errors = [repr(exc) for f in futures if (exc := f.exception()) is not None]
    return Drive(commits, count, elapsed, max(started_lag, default=0.0), errors)


# -- the relay ----------------------------------------------------------------------------------


class CapturingRelay(OutboxRelay):
    """The production relay, keeping each message it builds (the raw baseline sends them)."""

    def __init__(self, desk: TicketDesk, lease: PostgresLease, settings: RelaySettings) -> None:
        super().__init__(desk, lease, settings)
        self.captured: list[Message] = []

    def _message(self, notification: Notification) -> Message:
        message = super()._message(notification)
        self.captured.append(message)
        return message


async def until_caught_up(
    relay: OutboxRelay, task: asyncio.Task[None], target: int, timeout: float
) -> None:
    """Wait for ``caught_up(target)``; fail at once if the relay's task ends first."""
    caught = asyncio.ensure_future(relay.caught_up(target))
    try:
        done, _ = await asyncio.wait(
            {caught, task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        caught.cancel()
    if task in done:
        task.result()  # raises what stopped it
        raise RuntimeError("the relay stopped before catching up")
    if caught not in done:
        raise TimeoutError(f"relay at {relay.reached} of {target} after {timeout:.0f} s")


async def stop_relay(relay: OutboxRelay, task: asyncio.Task[None]) -> None:
    relay.stop()
    await asyncio.wait_for(task, STOP_TIMEOUT)


async def relay_catch_up(
    desk: TicketDesk, env: Mapping[str, str], settings: RelaySettings, timeout: float
) -> tuple[float, CapturingRelay]:
    """Seconds from the relay's start until the whole log is acknowledged by JetStream."""
    relay = CapturingRelay(desk, PostgresLease(dict(env)), settings)
    target = desk.recorder.max_notification_id() or 0
    began = time.perf_counter()
    task = asyncio.create_task(relay.run())
    try:
        await until_caught_up(relay, task, target, timeout)
        elapsed = time.perf_counter() - began
    finally:
        await stop_relay(relay, task)
    return elapsed, relay


async def stream_messages(url: str) -> int:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(TICKETS_STREAM)
        return int(info.state.messages)
    finally:
        await nc.close()


async def raw_publish(url: str, messages: Sequence[Message], max_pending: int) -> float:
    """Seconds to publish ``messages`` with bare ``publish_async`` and have every ack."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(publish_async_max_pending=max_pending)
        await ensure_stream(js, TICKETS_STREAM, StreamSettings())
        began = time.perf_counter()
        acks = [await js.publish_async(*message) for message in messages]
        await js.publish_async_completed()
        results = await asyncio.gather(*acks, return_exceptions=True)
        elapsed = time.perf_counter() - began
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise RuntimeError(f"{len(failed)} raw publishes not acknowledged: {failed[0]!r}")
        return elapsed
    finally:
        await nc.close()


# -- the consumers (each in its own process) ----------------------------------------------------


class Receipts:
    """When each event id first reached the handler, and a way to wait for a set of them."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self._waiting: set[str] = set()
        self._all_in = asyncio.Event()

    def record(self, event_id: str) -> None:
        now = time.perf_counter()
        self.at.setdefault(event_id, now)
        if event_id in self._waiting:
            self._waiting.discard(event_id)
            if not self._waiting:
                self._all_in.set()

    async def wait_for(self, event_ids: Sequence[str], timeout: float) -> dict[str, float]:
        self._waiting = set(event_ids) - self.at.keys()
        self._all_in = asyncio.Event()
        if not self._waiting:
            self._all_in.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_in.wait(), timeout)
        return {i: self.at[i] for i in event_ids if i in self.at}


async def toolkit_consumer(
    url: str, pg: Mapping[str, str], receipts: Receipts
) -> tuple[Callable[[], None], Callable[[], Coroutine[Any, Any, None]]]:
    """A ``DurableConsumer`` with a ``PostgresInbox``; returns (start, close)."""
    pool = await asyncpg.create_pool(
        host=pg["POSTGRES_HOST"],
        port=int(pg["POSTGRES_PORT"]),
        user=pg["POSTGRES_USER"],
        password=pg["POSTGRES_PASSWORD"],
        database=pg["POSTGRES_DBNAME"],
        min_size=2,
        max_size=4,
    )
    assert pool is not None
    inbox = PostgresInbox(pool, "bench-relay")
    await inbox.setup()

    async def handler(event: CloudEvent, payload: EventPayload, conn: Connection) -> None:
        receipts.record(event.id)

    nc = await nats.connect(url)
    consumer = DurableConsumer(
        nc,
        ConsumerSettings(
            stream=TICKETS_STREAM, durable="bench-toolkit", filter_subject="tickets.>"
        ),
        inbox,
        handler,
        unseal=without_keys,  # the handler counts messages: no key needed to read them
    )
    await consumer.reconcile()
    task: asyncio.Task[None] | None = None

    def start() -> None:
        nonlocal task
        task = asyncio.create_task(consumer.run())

    async def close() -> None:
        consumer.stop()
        if task is not None:
            await asyncio.wait_for(task, STOP_TIMEOUT)
        await nc.close()
        await pool.close()

    return start, close


async def plain_consumer(
    url: str, receipts: Receipts
) -> tuple[Callable[[], None], Callable[[], Coroutine[Any, Any, None]]]:
    """A bare durable pull consumer: fetch, note the id from ``Nats-Msg-Id``, ack."""
    nc = await nats.connect(url)
    subscription = await nc.jetstream().pull_subscribe(
        "tickets.>", durable="bench-plain", stream=TICKETS_STREAM
    )
    stopping = asyncio.Event()
    task: asyncio.Task[None] | None = None

    async def loop() -> None:
        while not stopping.is_set():
            try:
                messages = await subscription.fetch(100, timeout=1.0)
            except (TimeoutError, NatsTimeoutError):
                continue
            for message in messages:
                receipts.record((message.headers or {}).get("Nats-Msg-Id", ""))
                await message.ack()

    def start() -> None:
        nonlocal task
        task = asyncio.create_task(loop())

    async def close() -> None:
        stopping.set()
        if task is not None:
            await asyncio.wait_for(task, STOP_TIMEOUT)
        await nc.close()

    return start, close


async def consume(kind: str, url: str, pg: Mapping[str, str], pipe: PipeEnd) -> None:
    """Serve the parent: ``("expect", ids, timeout)`` → their receipt times; ``("stop",)``."""
    receipts = Receipts()
    if kind == "toolkit":
        start, close = await toolkit_consumer(url, pg, receipts)
    else:
        start, close = await plain_consumer(url, receipts)
    start()
    try:
        pipe.send(("ready",))
        while True:
            request = await asyncio.to_thread(pipe.recv)
            if request[0] != "expect":
                break
            pipe.send(("receipts", await receipts.wait_for(request[1], request[2])))
    finally:
        await close()


def consumer_process(kind: str, url: str, pg: dict[str, str], pipe: PipeEnd) -> None:
    run_async(consume(kind, url, pg, pipe))


@dataclass
class Child:
    kind: str
    process: BaseProcess
    pipe: PipeEnd

    def receive(self, timeout: float) -> tuple[Any, ...]:
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"{self.kind} consumer did not answer within {timeout:.0f} s")
        return cast(tuple[Any, ...], self.pipe.recv())

    def receipts(self, event_ids: Sequence[str], timeout: float) -> dict[str, float]:
        self.pipe.send(("expect", list(event_ids), timeout))
        answer = self.receive(timeout + STOP_TIMEOUT)
        return cast(dict[str, float], answer[1])

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.pipe.send(("stop",))
        self.process.join(STOP_TIMEOUT)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(STOP_TIMEOUT)


@contextlib.contextmanager
def consumer_children(
    kinds: Sequence[str], url: str, pg: Mapping[str, str]
) -> Iterator[list[Child]]:
    context = multiprocessing.get_context("spawn")
    children: list[Child] = []
    try:
        for kind in kinds:
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=consumer_process, args=(kind, url, dict(pg), child_end), daemon=True
            )
            process.start()
            children.append(Child(kind, process, parent_end))
        for child in children:
            child.receive(CHILD_START_TIMEOUT)
        yield children
    finally:
        for child in children:
            child.stop()


# -- the latency phase --------------------------------------------------------------------------


@dataclass
class LatencyResult:
    drive: Drive
    latencies: list[Latency]
    cpu: str
    burst: str


async def latency_phase(
    desk: TicketDesk,
    consumers_pg: Mapping[str, str],
    env: Mapping[str, str],
    server: NatsServerLike,
    postgres: Callable[[], Sequence[int]],
    args: argparse.Namespace,
) -> LatencyResult:
    url = server.url
    nc = await nats.connect(url)  # the stream must exist before the consumers bind to it
    try:
        await ensure_stream(nc.jetstream(), TICKETS_STREAM, StreamSettings())
    finally:
        await nc.close()
    settings = RelaySettings(nats_url=url, batch=args.batch, max_in_flight=args.max_in_flight)
    relay = OutboxRelay(desk, PostgresLease(dict(env)), settings)
    desk.after_save.insert(0, mark_commit)  # before the relay's wake: the instant of the commit
    kinds = [k for k in args.consumers.split(",") if k]
    with consumer_children(kinds, url, consumers_pg) as children:
        task = asyncio.create_task(relay.run())
        try:
            # Warm-up: open the tickets the writers will work on, and see them through.
            tickets = [opened(n, datetime.now(UTC)) for n in range(1, args.tickets + 1)]
            await asyncio.to_thread(desk.save, *tickets)
            warm = [f"{t.id}:1" for t in tickets]
            rates = []
            for child in children:
                got = await asyncio.to_thread(child.receipts, warm, args.drain)
                if len(got) < len(warm):
                    raise RuntimeError(f"{child.kind} consumer got {len(got)} of {len(warm)}")
                span = max(got.values()) - min(got.values())
                rates.append(f"{child.kind} {(len(got) - 1) / span if span else 0:,.0f}/s")
            # One save of them all arrives as a burst: how fast each consumer works through it.
            burst = f"warm-up burst of {len(warm)} events handled at: {', '.join(rates)}"
            ids = [t.id for t in tickets]
            meter = CpuMeter(
                {
                    "relay+writers": lambda: [os.getpid()],
                    "consumers": lambda: [c.process.pid for c in children if c.process.pid],
                    "nats-server": lambda: [server.pid] if server.pid else [],
                    "postgres": postgres,
                }
            )
            driven = await asyncio.to_thread(
                drive, desk, ids, args.rate, args.seconds, args.writers
            )
            cpu = meter.report()
            await until_caught_up(relay, task, desk.recorder.max_notification_id() or 0, args.drain)
            keys = sorted(driven.commits, key=driven.commits.__getitem__)
            first = driven.commits[keys[0]] if keys else 0.0
            offsets = [driven.commits[k] - first for k in keys]
            results = []
            for child in children:
                got = await asyncio.to_thread(child.receipts, keys, args.drain)
                values = [
                    (got[k] - driven.commits[k]) * 1000 if k in got else math.inf for k in keys
                ]
                results.append(Latency(child.kind, values, offsets))
        finally:
            await stop_relay(relay, task)
            desk.after_save.remove(mark_commit)
    return LatencyResult(driven, results, cpu, burst)


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Figures:
    backlog_seconds: float = 0.0
    relay_rate: float = 0.0
    relay_stream: int = 0
    raw_rate: float = 0.0
    raw_count: int = 0
    latency: LatencyResult | None = None
    notes: list[str] = field(default_factory=list)
    profile: str = ""


def catch_up_phase(
    helpers: PostgresHelpers,
    pg: Mapping[str, str],
    postgres: Callable[[], Sequence[int]],
    work: Path,
    args: argparse.Namespace,
) -> Figures:
    figures = Figures()
    env = helpers.fresh_database(pg, "relay_catch_up")
    desk = TicketDesk(env, policies=load_policies(POLICIES))
    try:
        figures.backlog_seconds = write_backlog(desk, args.events, args.chunk)
        events = (args.events // EVENTS_PER_TICKET) * EVENTS_PER_TICKET
        print(
            f"backlog: {events:,} ticket events written in {figures.backlog_seconds:.1f} s",
            flush=True,
        )
        with nats_server(work / "nats-relay") as server:
            settings = RelaySettings(
                nats_url=server.url, batch=args.batch, max_in_flight=args.max_in_flight
            )
            meter = CpuMeter(
                {
                    "relay": lambda: [os.getpid()],
                    "nats-server": lambda: [server.pid] if server.pid else [],
                    "postgres": postgres,
                }
            )
            profiler = cProfile.Profile() if args.profile else None
            if profiler is not None:
                profiler.enable()
            seconds, relay = run_async(relay_catch_up(desk, env, settings, args.timeout))
            if profiler is not None:
                profiler.disable()
                text = io.StringIO()
                pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
                figures.profile = text.getvalue()
            figures.notes.append(f"relay catch-up {meter.report()}")
            figures.relay_rate = relay.published / seconds
            figures.relay_stream = run_async(stream_messages(server.url))
        print(
            f"relay: {relay.published:,} published in {seconds:.1f} s"
            f" ({figures.relay_stream:,} in the stream)",
            flush=True,
        )
    finally:
        desk.close()
    # Each message once (a retried batch would have been built twice), in log order.
    messages = list({m[4]["Nats-Msg-Id"]: m for m in relay.captured}.values())
    with nats_server(work / "nats-raw") as server:
        meter = CpuMeter(
            {
                "publisher": lambda: [os.getpid()],
                "nats-server": lambda: [server.pid] if server.pid else [],
            }
        )
        seconds = run_async(raw_publish(server.url, messages, args.max_in_flight))
        figures.notes.append(f"raw publish {meter.report()}")
        figures.raw_rate = len(messages) / seconds
        figures.raw_count = run_async(stream_messages(server.url))
    print(f"raw: {len(messages):,} published in {seconds:.1f} s", flush=True)
    return figures


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--events", type=int, default=100_000, help="backlog of ticket events (default 100000)")
    add("--chunk", type=int, default=1000, help="tickets per save() writing the backlog")
    add("--batch", type=int, default=RelaySettings.batch, help="relay batch (RelaySettings)")
    add(
        "--max-in-flight",
        type=int,
        default=RelaySettings.max_in_flight,
        help="publish_async_max_pending of the relay and of the raw baseline",
    )
    add("--timeout", type=float, default=300.0, help="seconds the catch-up may take")
    add("--rate", type=float, default=300.0, help="latency phase: events/s (default 300)")
    add("--seconds", type=float, default=10.0, help="latency phase: seconds of writing")
    add("--tickets", type=int, default=300, help="latency phase: tickets the writers change")
    add("--writers", type=int, default=4, help="latency phase: writer threads")
    add("--drain", type=float, default=30.0, help="seconds to wait for the last deliveries")
    add(
        "--consumers",
        default=",".join(CONSUMER_KINDS),
        help="latency phase: consumers, comma-separated, of toolkit,plain",
    )
    add("--skip-catch-up", action="store_true", help="run the latency phase only")
    add(
        "--profile",
        action="store_true",
        help="cProfile the relay's event-loop thread during the catch-up (slows it; the"
        " work it sends to worker threads with asyncio.to_thread is not in the profile)",
    )
    add("--skip-latency", action="store_true", help="run the catch-up phase only")
    add(
        "--smoke",
        action="store_true",
        help="both phases at a tiny size (400 events; 2 s at 50 events/s on 20 tickets):"
        " checks the benchmark runs, measures nothing",
    )
    args = parser.parse_args()
    if args.smoke:  # the smoke sizes, unless a size was given too
        parser.set_defaults(**SMOKE)
        args = parser.parse_args()
    unknown = set(args.consumers.split(",")) - set(CONSUMER_KINDS)
    if unknown:
        parser.error(f"unknown consumers {sorted(unknown)}; choose from {CONSUMER_KINDS}")
    return args


def print_table(figures: Figures, args: argparse.Namespace) -> None:
    rows: list[tuple[str, str, str, str]] = []
    if not args.skip_catch_up:
        ratio = figures.relay_rate / figures.raw_rate if figures.raw_rate else float("nan")
        rows += [
            ("catch-up: relay", f"{figures.relay_rate:,.0f} events/s", "", ""),
            ("catch-up: raw publish_async", f"{figures.raw_rate:,.0f} msgs/s", "", ""),
            (
                "catch-up: relay / raw",
                f"{ratio:.0%}",
                f">= {CATCH_UP_TARGET:.0%}",
                verdict(ratio >= CATCH_UP_TARGET),
            ),
        ]
    if figures.latency is not None:
        for latency in figures.latency.latencies:
            p50, p99, worst = latency.summary()
            missing = f", {latency.missing} missing" if latency.missing else ""
            rows.append(
                (
                    f"commit -> {latency.consumer} consumer",
                    f"p50 {p50:.1f} / p99 {p99:.1f} / max {worst:.1f} ms{missing}",
                    f"p99 < {P99_TARGET_MS:.0f} ms",
                    verdict(p99 < P99_TARGET_MS),
                )
            )
    width = max(len(r[1]) for r in rows) if rows else 0
    print()
    print(f"{'figure':<34}{'value':<{width + 2}}{'target':<15}")
    for what, value, target, ok in rows:
        print(f"{what:<34}{value:<{width + 2}}{target:<15}{ok}")
    for note in figures.notes:
        print(f"  {note}")


def main() -> None:
    args = arguments()
    helpers = postgres_helpers()
    figures = Figures()
    began = time.perf_counter()
    print(
        f"bench relay: {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f});"
        f" catch-up of {args.events:,} events"
        f" (batch {args.batch}, {args.max_in_flight} in flight); latency at {args.rate:.0f}"
        f" events/s for {args.seconds:.0f} s with {args.writers} writer threads,"
        f" consumers {args.consumers}",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp,
        helpers.running_postgres() as pg,
    ):
        work = Path(tmp)
        server_pid = postmaster(pg["POSTGRES_PORT"])

        def postgres() -> list[int]:
            return _tree(server_pid) if server_pid else []

        if not args.skip_catch_up:
            figures = catch_up_phase(helpers, pg, postgres, work, args)
            figures.notes.insert(
                0,
                f"relay stream holds {figures.relay_stream:,} messages,"
                f" raw stream {figures.raw_count:,}; backlog written in"
                f" {figures.backlog_seconds:.1f} s",
            )
        if not args.skip_latency:
            env = helpers.fresh_database(pg, "relay_latency")
            consumers_pg = helpers.fresh_database(pg, "relay_consumers")
            desk = TicketDesk(env, policies=load_policies(POLICIES))
            try:
                with nats_server(work / "nats-latency") as server:
                    result = run_async(
                        latency_phase(desk, consumers_pg, env, server, postgres, args)
                    )
            finally:
                desk.close()
            figures.latency = result
            d = result.drive
            figures.notes.append(
                f"latency writers: {len(d.commits):,} of {d.scheduled:,} changes committed in"
                f" {d.seconds:.1f} s ({len(d.commits) / d.seconds if d.seconds else 0:,.0f}/s);"
                f" worst start lag {d.worst_start_lag * 1000:.1f} ms"
                + (f"; {len(d.errors)} errors, first {d.errors[0]}" if d.errors else "")
            )
            figures.notes.append(f"latency phase {result.cpu}")
            figures.notes.append(result.burst)
            for latency in result.latencies:
                figures.notes.append(
                    f"{latency.consumer}: slowest event of each second, ms:"
                    f" {latency.worst_by_second()}"
                )
    print_table(figures, args)
    if figures.profile:
        print("\nrelay catch-up, event-loop thread, by own time (under cProfile):")
        print(figures.profile)
    print(f"\n(total {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
