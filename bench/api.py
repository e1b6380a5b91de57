"""ticket-api commands per second through REST on PostgreSQL, beside two baselines.

Run: ``make bench-api`` (or ``uv run python bench/api.py``). Starts a throw-away PostgreSQL
(``testing/postgres.py``), then, each phase on a fresh database:

* REST: ticket-api served by a real uvicorn process on 127.0.0.1, loaded from this process by
  async HTTP clients doing "open ticket (customer) → assign → start (agent)" sequences:
  closed loop with K concurrent clients (maximum throughput), then an open loop at a fixed
  command rate (300/s by default) whose latencies are measured from each command's *scheduled*
  send time, so a slow server cannot hide its queueing (no coordinated omission).
* Baseline A: a bare FastAPI echo endpoint served the same way under the same closed loop:
  the ceiling of HTTP + framework + this load generator on this machine.
* Baseline B: plain ``eventsourcing`` saves of a trivial aggregate, in-process, same
  PostgreSQL: the ceiling of the event store.
* Extra C: the same three commands called on ``TicketDesk`` in-process (no HTTP): the cost of
  the domain + persistence layer alone, which separates it from the HTTP layer's.

In the open loop a command that gets no answer within ``--timeout`` counts as infinitely slow
(its sequence stops there). Each ticket-api phase starts on an empty database unless
``--preload N`` opens N tickets first (opening a ticket reads its policy's case-number stream,
so its cost depends on how many tickets exist); ``--server-env NAME=VALUE`` passes settings
such as ``AGGREGATE_CACHE_MAXSIZE`` to the served ticket-api to try them without code changes.

The load generator shares the machine's cores with the server and PostgreSQL; the CPU figures
printed for each phase say how busy each party, and the whole machine, was.

Overload (ADR 15): past its capacity ticket-api must refuse fast (503 ``overloaded`` with
``Retry-After``) and keep serving at its peak. The run checks that the largest K serves at
least the smallest K's rate with no 5xx but fast 503s, and that in the open loop every request
is answered — served or refused — within ``--answer-within`` seconds (1 s). ``--smoke`` runs
every phase briefly at a low rate: a check that the benchmark works, not a measurement.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where ``calendar.py`` would
# shadow the standard library's module: take the folder off the path.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "testing"))

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import httpx2
from bench_support import CLOCK_TICKS, percentile, postgres_helpers, run_async, verdict
from bench_support import machine_ticks as _machine
from bench_support import process_tree as _tree
from bench_support import ticks as _ticks
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from fastapi import FastAPI

from contracts.policy import SupportPolicy, load_policies
from ticket_api.application import TicketDesk
from ticket_api.domain.ticket import Ticket
from ticket_api.main import create_app
from ticket_api.read_model import TicketList
from ticket_api.settings import Settings

POLICIES = ROOT / "policies"
CUSTOMER = {"Authorization": "Bearer dev-customer", "Content-Type": "application/json"}
AGENT = {"Authorization": "Bearer dev-agent", "Content-Type": "application/json"}
BTW_INTAKE: dict[str, Any] = {
    "nit": "900123456-7",
    "nombre-contacto": "Ana Ruiz",
    "correo-contacto": "ana@acme.example",
    "telefono-contacto": "+57 300 000 0000",
    "evidencia": {"name": "error.png", "media_type": "image/png"},
}
OPEN_BODY: dict[str, Any] = {
    "policy": "btw",
    "title": "Error 500 DIAN al enviar facturas",
    "description": "Desde las 9:00 la DIAN responde 500.",
    "ticket_type": "soporte",
    "subcategory": "error-500-dian",
    "intake": BTW_INTAKE,
}
CONTACT = {"id": "contact-ana", "name": "Ana Ruiz", "email": "ana@acme.example", "locale": "es"}
CUSTOMER_ACTOR = {"kind": "customer", "id": "contact-ana", "name": "Ana Ruiz"}
BENCH_KEYS = {  # served as TICKET_API_DEV_KEYS: the two principals the load plays
    "dev-customer": {**CUSTOMER_ACTOR, "tenant": "acme", "email": CONTACT["email"], "locale": "es"},
    "dev-agent": {"kind": "agent", "id": "agent-lucia", "name": "Lucía Gómez"},
}
ASSIGN_BODY = {"agent_id": "agent-lucia", "agent_name": "Lucía Gómez"}
OPEN_BYTES = json.dumps(OPEN_BODY).encode()
ASSIGN_BYTES = json.dumps(ASSIGN_BODY).encode()
EMPTY_BYTES = b"{}"
KINDS = ("create", "assign", "start")
READY_TIMEOUT_SECONDS = 30.0
READY_POLL_SECONDS = 0.05
STOP_TIMEOUT_SECONDS = 5.0
GRACEFUL_SHUTDOWN_SECONDS = 2
DRAIN_SLACK_SECONDS = 2.0
T = TypeVar("T")
TARGET = "target: >= 500 commands/s through REST with PostgreSQL; p99 < 100 ms at 300 commands/s"


# -- baseline A: the echo app (served by uvicorn as ``bench.api:echo_app``) -----------------

echo_app = FastAPI(title="echo")


@echo_app.get("/healthz")
def echo_healthz() -> dict[str, str]:
    return {"status": "ok"}


@echo_app.post("/echo")
def echo(body: dict[str, Any]) -> dict[str, Any]:
    """A sync endpoint, like ticket-api's, so it pays the same thread-pool hop."""
    return body


# -- the PostgreSQL helper (``testing/postgres.py`` lives outside every package) ------------


# -- measurements ---------------------------------------------------------------------------


@dataclass
class Latencies:
    """Seconds per command, by command kind, plus the failures by status; and, for every
    request however it ended, how long its answer took (infinite: none came)."""

    by_kind: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    answers: list[tuple[int, float]] = field(default_factory=list)
    """(status, seconds) of every request, served or refused; status 0: no answer."""

    def answered(self, status: int, seconds: float) -> None:
        self.answers.append((status, seconds if status else math.inf))

    def slowest_answer(self) -> float:
        return max((s for _, s in self.answers), default=0.0)

    def refused(self) -> int:
        return sum(1 for status, _ in self.answers if status == 503)

    def bad_5xx(self, fast: float) -> int:
        """Answers that are neither served, a 4xx, nor a 503 within ``fast`` seconds."""
        return sum(
            1
            for status, seconds in self.answers
            if status == 0 or (status >= 500 and (status != 503 or seconds > fast))
        )

    def add(self, kind: str, seconds: float) -> None:
        self.by_kind.setdefault(kind, []).append(seconds)

    def fail(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    @property
    def count(self) -> int:
        """Commands that completed (a command that never answered is recorded as infinite)."""
        return sum(1 for v in self.by_kind.values() for x in v if x != math.inf)

    def summary(self, kind: str | None = None) -> tuple[float, float]:
        """(p50, p99) in milliseconds, of one kind or of all."""
        values = sorted(
            self.by_kind.get(kind, []) if kind else [x for v in self.by_kind.values() for x in v]
        )
        return percentile(values, 0.50) * 1e3, percentile(values, 0.99) * 1e3

    def trend(self, kind: str) -> tuple[float, float]:
        """p50 in ms of the first and of the last fifth of one kind's samples, in the order
        they completed: how the cost moved while the phase ran."""
        values = self.by_kind.get(kind, [])
        fifth = max(1, len(values) // 5)
        return (
            percentile(sorted(values[:fifth]), 0.5) * 1e3,
            percentile(sorted(values[-fifth:]), 0.5) * 1e3,
        )

    def error_text(self) -> str:
        if not self.errors:
            return "no errors"
        return "errors: " + ", ".join(f"{k} x{n}" for k, n in sorted(self.errors.items()))


class CpuMeter:
    """CPU used by this process, a server's process tree and the machine, over a phase."""

    def __init__(self, server_pid: int | None = None) -> None:
        self.server_pid = server_pid
        self.wall = time.perf_counter()
        self.own = time.process_time()
        self.server = self._server()
        self.machine = _machine()

    def _server(self) -> int:
        return sum(_ticks(p) for p in _tree(self.server_pid)) if self.server_pid else 0

    def report(self) -> str:
        wall = time.perf_counter() - self.wall
        own = (time.process_time() - self.own) / wall
        server = (self._server() - self.server) / CLOCK_TICKS / wall
        busy, total = (now - then for now, then in zip(_machine(), self.machine, strict=True))
        cores = os.cpu_count() or 1
        parts = [f"load generator {own:.0%}"]
        if self.server_pid:
            parts.append(f"server {server:.0%}")
        parts.append(f"whole machine {busy / max(total, 1) * cores:.0%} of {cores} cores")
        return "CPU (100% = one core): " + ", ".join(parts)


# -- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``GET /healthz`` until it answers 200, the process dies or time runs out."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{_tail(log)}")
        with contextlib.suppress(httpx2.TransportError):
            if httpx2.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(READY_POLL_SECONDS)
    raise RuntimeError(f"server not ready after {READY_TIMEOUT_SECONDS:.0f} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts down gracefully, workers too), then SIGKILL the group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def uvicorn_server(
    app: str,
    *,
    factory: bool,
    env: Mapping[str, str],
    workers: int,
    log: Path,
    check: Callable[[str], None] | None = None,
) -> Iterator[Server]:
    """Serve ``app`` (an import string) with uvicorn in a subprocess on 127.0.0.1; once it is
    ready, ``check(url)`` may refuse to go on (a misconfigured server measures nothing)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--app-dir",
        str(ROOT),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        str(GRACEFUL_SHUTDOWN_SECONDS),
        *(["--factory"] if factory else []),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=dict(env),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log)
        if check is not None:
            check(url)
        yield Server(url, process.pid)
    finally:
        stop(process)


def ticket_api_env(
    pg: Mapping[str, str], data_dir: Path, extra: Mapping[str, str]
) -> dict[str, str]:
    """The server's environment: this one's, minus any ticket-api or PostgreSQL settings of the
    caller's shell (no NATS relay, no other database), plus the benchmark's and ``extra``."""
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("TICKET_API_", "POSTGRES_"))
    }
    return {
        **inherited,
        **pg,
        "TICKET_API_STORE": "postgres",
        "TICKET_API_POLICIES_DIR": str(POLICIES),
        "TICKET_API_DATA_DIR": str(data_dir),
        "TICKET_API_DEV_KEYS": json.dumps(BENCH_KEYS),
        # One principal plays the whole load: measure throughput, not the per-principal limit.
        "TICKET_API_RATE_LIMIT": "1000000/minute",
        **extra,
    }


def smoke_sequence(url: str) -> None:
    """One open → assign → start through the server, or a clear error before any load."""
    with httpx2.Client(base_url=url, timeout=30.0) as client:
        response = client.post("/v1/tickets", content=OPEN_BYTES, headers=CUSTOMER)
        steps = [("create", 201, response)]
        if response.status_code == 201:
            ticket_id = response.json()["id"]
            for kind, body in (("assign", ASSIGN_BYTES), ("start", EMPTY_BYTES)):
                response = client.post(
                    f"/v1/tickets/{ticket_id}/{kind}", content=body, headers=AGENT
                )
                steps.append((kind, 200, response))
                if response.status_code != 200:
                    break
    kind, expected, last = steps[-1]
    if last.status_code != expected:
        raise RuntimeError(
            f"ticket-api refused the benchmark's {kind} ({last.status_code}, expected"
            f" {expected}): {last.text[:500]}"
        )


def create_schema(pg: Mapping[str, str], data_dir: Path, preload: int) -> None:
    """Create ticket-api's tables once, so that several workers do not race to create them;
    then open ``preload`` tickets of the benchmark's policy and catch the read model up.

    The preloading desk caches aggregates (``AGGREGATE_CACHE_MAXSIZE``) so that issuing case
    numbers stays cheap however many tickets it opens; the server gets only what it is given.
    """
    settings = Settings(store="postgres", policies_dir=POLICIES, data_dir=data_dir)
    env = {**settings.event_store_env(dict(pg)), "AGGREGATE_CACHE_MAXSIZE": "16"}
    desk = TicketDesk(env, policies=load_policies(POLICIES))
    try:
        listing = TicketList(desk)
        fields = {k: v for k, v in OPEN_BODY.items() if k != "intake"}
        for _ in range(preload):
            desk.open_ticket(
                **fields, intake=dict(BTW_INTAKE), tenant="acme", contact=CONTACT, by=CUSTOMER_ACTOR
            )
        listing.catch_up()
    finally:
        desk.close()


# -- load -----------------------------------------------------------------------------------


async def post(
    client: httpx2.AsyncClient, path: str, body: bytes, headers: Mapping[str, str]
) -> tuple[int, bytes]:
    """(status, body); status 0 when no answer came (timeout, connection lost)."""
    try:
        response = await client.post(path, content=body, headers=headers)
    except httpx2.HTTPError:
        return 0, b""
    return response.status_code, response.content


async def open_ticket(client: httpx2.AsyncClient) -> tuple[str | None, int]:
    status, body = await post(client, "/v1/tickets", OPEN_BYTES, CUSTOMER)
    if status != 201:
        return None, status
    ticket_id: str = json.loads(body)["id"]
    return ticket_id, status


async def command(client: httpx2.AsyncClient, ticket_id: str, kind: str) -> int:
    body = ASSIGN_BYTES if kind == "assign" else EMPTY_BYTES
    status, _ = await post(client, f"/v1/tickets/{ticket_id}/{kind}", body, AGENT)
    return status


OneRequest = Callable[[httpx2.AsyncClient, Latencies, Callable[[float], bool]], Awaitable[None]]
"""One unit of closed-loop work: (client, where to record, whether a completion time counts)."""


def new_client(url: str, connections: int, timeout: float) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        base_url=url,
        limits=httpx2.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=timeout,
    )


async def closed_loop(
    url: str,
    clients: int,
    warmup: float,
    duration: float,
    one: OneRequest,
    timeout: float,
) -> Latencies:
    """``clients`` loops each running ``one`` back to back; records what ends in the window."""
    latencies = Latencies()
    async with new_client(url, clients, timeout) as client:
        begin = time.perf_counter() + warmup
        end = begin + duration

        def counted(done: float) -> bool:
            return begin <= done <= end

        async def loop() -> None:
            while time.perf_counter() < end:
                await one(client, latencies, counted)

        await asyncio.gather(*(loop() for _ in range(clients)))
    return latencies


async def one_sequence(
    client: httpx2.AsyncClient, latencies: Latencies, counted: Callable[[float], bool]
) -> None:
    """Open a ticket, assign it, start it: three commands, each timed on its own."""
    sent = time.perf_counter()
    ticket_id, status = await open_ticket(client)
    done = time.perf_counter()
    if counted(done):
        latencies.answered(status, done - sent)
    if ticket_id is None:
        if counted(done):
            latencies.fail(f"create {status or 'no answer'}")
        return
    if counted(done):
        latencies.add("create", done - sent)
    for kind in KINDS[1:]:
        sent = time.perf_counter()
        status = await command(client, ticket_id, kind)
        done = time.perf_counter()
        if counted(done):
            latencies.answered(status, done - sent)
            if status == 200:
                latencies.add(kind, done - sent)
            else:
                latencies.fail(f"{kind} {status or 'no answer'}")
        if status != 200:
            return


async def one_echo(
    client: httpx2.AsyncClient, latencies: Latencies, counted: Callable[[float], bool]
) -> None:
    sent = time.perf_counter()
    status, _ = await post(client, "/echo", OPEN_BYTES, CUSTOMER)
    done = time.perf_counter()
    if counted(done):
        if status == 200:
            latencies.add("echo", done - sent)
        else:
            latencies.fail(f"echo {status or 'no answer'}")


async def open_loop(
    url: str, rate: float, warmup: float, duration: float, timeout: float
) -> tuple[Latencies, int]:
    """Sequences started on a fixed schedule, ``rate`` commands per second in all.

    Sequence k opens its ticket at ``t0 + 3k/rate``; its assign is due 1/rate later and its
    start 2/rate later, or as soon as the previous command answered if that was later. Each
    latency runs from the moment the command was due, so queueing anywhere (server, client,
    connection pool) counts. Returns the latencies of the sequences due after the warm-up and
    the number of those that had not finished when the drain time ran out.
    """
    latencies = Latencies()
    interval = 1.0 / rate
    sequences = int((warmup + duration) * rate / len(KINDS))
    loop = asyncio.get_running_loop()

    async def at(moment: float) -> None:
        delay = moment - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)

    def failed(kind: str, status: int) -> None:
        latencies.fail(f"{kind} {status or 'no answer'}")
        if not status:  # it never completed: its latency is beyond any percentile
            latencies.add(kind, math.inf)

    async def sequence(first: float, measured: bool) -> None:
        await at(first)
        ticket_id, status = await open_ticket(client)
        done = time.perf_counter()
        if measured:
            latencies.answered(status, done - first)
        if ticket_id is None:
            if measured:
                failed("create", status)
            return
        if measured:
            latencies.add("create", done - first)
        for step, kind in enumerate(KINDS[1:], start=1):
            due = max(first + interval * step, done)
            await at(due)
            status = await command(client, ticket_id, kind)
            done = time.perf_counter()
            if measured:
                latencies.answered(status, done - due)
            if status != 200:
                if measured:
                    failed(kind, status)
                return
            if measured:
                latencies.add(kind, done - due)

    async with new_client(url, 10_000, timeout) as client:
        t0 = time.perf_counter() + 0.2
        tasks = [
            loop.create_task(
                sequence(t0 + k * len(KINDS) * interval, k * len(KINDS) >= warmup * rate)
            )
            for k in range(sequences)
        ]
        _, pending = await asyncio.wait(
            tasks, timeout=warmup + duration + 0.2 + timeout + DRAIN_SLACK_SECONDS
        )
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    unfinished = sum(1 for k, t in enumerate(tasks) if t in pending and k * 3 >= warmup * rate)
    return latencies, unfinished


# -- baselines B and C: in-process --------------------------------------------------------


class Dot(Aggregate):
    """The trivial aggregate of baseline B: one ``Created`` event, no state."""


class Dots(Application[UUID]):
    name = "Dots"


def eventsourcing_saves(pg: Mapping[str, str], duration: float) -> tuple[float, Latencies]:
    """Saves per second of new one-event aggregates, one after the other."""
    app = Dots(env=dict(pg))
    latencies = Latencies()
    try:
        for _ in range(50):  # warm the connection pool and the statement cache
            app.save(Dot())
        began = time.perf_counter()
        end = began + duration
        while (now := time.perf_counter()) < end:
            app.save(Dot())
            latencies.add("save", time.perf_counter() - now)
        return latencies.count / (time.perf_counter() - began), latencies
    finally:
        app.close()


def desk_commands(
    pg: Mapping[str, str], data_dir: Path, duration: float
) -> tuple[float, Latencies]:
    """The same sequences on ``TicketDesk`` in-process, with the read model caught up."""
    settings = Settings(store="postgres", policies_dir=POLICIES, data_dir=data_dir)
    app = create_app(settings, environ=dict(pg))
    desk, listing = app.state.desk, app.state.ticket_list
    agent = {"kind": "agent", "id": "agent-lucia", "name": "Lucía Gómez"}

    def assign(t: Ticket, _: SupportPolicy, now: datetime) -> None:
        t.assign(agent_id="agent-lucia", agent_name="Lucía Gómez", by=agent, at=now)

    def start(t: Ticket, _: SupportPolicy, now: datetime) -> None:
        t.start(by=agent, at=now)

    latencies = Latencies()
    try:
        began = time.perf_counter()
        end = began + duration
        while time.perf_counter() < end:
            sent = time.perf_counter()
            fields = {k: v for k, v in OPEN_BODY.items() if k != "intake"}
            outcome = desk.open_ticket(
                **fields, intake=dict(BTW_INTAKE), tenant="acme", contact=CONTACT, by=CUSTOMER_ACTOR
            )
            listing.catch_up()
            latencies.add("create", time.perf_counter() - sent)
            for kind, change in (("assign", assign), ("start", start)):
                sent = time.perf_counter()
                desk.change(outcome.ticket.id, change)
                listing.catch_up()
                latencies.add(kind, time.perf_counter() - sent)
        return latencies.count / (time.perf_counter() - began), latencies
    finally:
        desk.close()


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    rate: float
    unit: str
    latencies: Latencies
    cpu: str
    note: str = ""


def client_counts(text: str) -> list[int]:
    """``"4,32"`` → ``[4, 32]``."""
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("give one or more positive integers, e.g. 4,32")
    return counts


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--workers", type=int, default=1, help="uvicorn workers per server (default 1)")
    add(
        "--clients",
        type=client_counts,
        default=[4, 32],
        help="closed-loop concurrencies K, comma-separated (default 4,32)",
    )
    add("--warmup", type=float, default=2.0, help="seconds run before each measured window")
    add("--closed-seconds", type=float, default=5.0, help="REST closed-loop window per K")
    add("--rate", type=float, default=300.0, help="open-loop commands/s (default 300)")
    add("--open-seconds", type=float, default=10.0, help="open-loop window")
    add("--echo-seconds", type=float, default=4.0, help="baseline A window per K")
    add("--saves-seconds", type=float, default=3.0, help="baseline B window")
    add("--desk-seconds", type=float, default=3.0, help="extra C window (0: skip it)")
    add("--timeout", type=float, default=5.0, help="seconds a request may take (default 5)")
    add("--preload", type=int, default=0, help="tickets opened before each ticket-api phase")
    add(
        "--answer-within",
        type=float,
        default=1.0,
        help="seconds within which every request must be answered, served or refused (default 1)",
    )
    add(
        "--smoke",
        action="store_true",
        help="every phase briefly at 60 commands/s: checks the benchmark runs, measures nothing",
    )
    add(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the served ticket-api (not for C), e.g."
        " AGGREGATE_CACHE_MAXSIZE=1000 (repeatable)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.warmup, args.closed_seconds, args.open_seconds = 0.5, 1.0, 2.0
        args.echo_seconds, args.saves_seconds, args.desk_seconds = 1.0, 1.0, 1.0
        args.rate = min(args.rate, 60.0)
    return args


def print_table(rows: list[Row]) -> None:
    print(f"{'':<38}{'rate':>8}  {'unit':<11}{'p50 ms':>8}{'p99 ms':>9}  notes")
    for row in rows:
        p50, p99 = row.latencies.summary()
        notes = "; ".join(n for n in (row.note, row.latencies.error_text()) if n)
        print(f"{row.what:<38}{row.rate:>8,.0f}  {row.unit:<11}{p50:>8.1f}{p99:>9.1f}  {notes}")
        if len(row.latencies.by_kind) > 1:
            for kind in KINDS:
                k50, k99 = row.latencies.summary(kind)
                trend = ""
                if kind == "create":
                    first, last = row.latencies.trend(kind)
                    trend = f"p50 of first/last fifth: {first:.1f} -> {last:.1f} ms"
                print(f"{'  ' + kind:<38}{'':>8}  {'':<11}{k50:>8.1f}{k99:>9.1f}  {trend}")


def main() -> None:
    args = arguments()
    extra = dict(item.split("=", 1) for item in args.server_env)
    helpers = postgres_helpers()
    rows: list[Row] = []
    began = time.perf_counter()
    print(
        f"bench api: {os.cpu_count()} cores, {args.workers} uvicorn worker(s) per server,"
        f" closed loop with K={','.join(map(str, args.clients))} clients, open loop at"
        f" {args.rate:.0f} commands/s, {args.preload} tickets preloaded per ticket-api phase"
        + (f", server env {extra}" if extra else ""),
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp, helpers.running_postgres() as pg:
        work = Path(tmp)
        phases = iter(range(1, 1000))

        def record(row: Row) -> None:
            rows.append(row)
            print(
                f"  {row.what}: {row.rate:,.0f} {row.unit}"
                f" (at {time.perf_counter() - began:.0f} s)",
                flush=True,
            )

        def ticket_api() -> AbstractContextManager[Server]:
            phase = next(phases)
            db = helpers.fresh_database(pg, f"bench_{phase}")
            create_schema(db, work, args.preload)
            return uvicorn_server(
                "ticket_api.main:create_app",
                factory=True,
                env=ticket_api_env(db, work, extra),
                workers=args.workers,
                log=work / f"ticket-api-{phase}.log",
                check=smoke_sequence,
            )

        def closed(url: str, k: int, seconds: float, one: OneRequest) -> Latencies:
            return run_async(closed_loop(url, k, args.warmup, seconds, one, args.timeout))

        for k in args.clients:
            with ticket_api() as server:
                meter = CpuMeter(server.pid)
                lat = closed(server.url, k, args.closed_seconds, one_sequence)
                record(
                    Row(
                        f"REST closed loop, K={k}",
                        lat.count / args.closed_seconds,
                        "commands/s",
                        lat,
                        meter.report(),
                    )
                )

        with ticket_api() as server:
            meter = CpuMeter(server.pid)
            lat, unfinished = run_async(
                open_loop(server.url, args.rate, args.warmup, args.open_seconds, args.timeout)
            )
            note = f"{unfinished} sequences unfinished" if unfinished else ""
            record(
                Row(
                    f"REST open loop @ {args.rate:.0f}/s",
                    lat.count / args.open_seconds,
                    "commands/s",
                    lat,
                    meter.report(),
                    note,
                )
            )

        echo = uvicorn_server(
            "bench.api:echo_app",
            factory=False,
            env=os.environ,
            workers=args.workers,
            log=work / "echo.log",
        )
        with echo as server:
            for k in args.clients:
                meter = CpuMeter(server.pid)
                lat = closed(server.url, k, args.echo_seconds, one_echo)
                record(
                    Row(
                        f"A: FastAPI echo, K={k}",
                        lat.count / args.echo_seconds,
                        "requests/s",
                        lat,
                        meter.report(),
                    )
                )

        meter = CpuMeter()
        db = helpers.fresh_database(pg, "bench_saves")
        saves, lat = eventsourcing_saves(db, args.saves_seconds)
        record(Row("B: eventsourcing saves, 1 thread", saves, "saves/s", lat, meter.report()))

        if args.desk_seconds > 0:
            meter = CpuMeter()
            db = helpers.fresh_database(pg, "bench_desk")
            create_schema(db, work, args.preload)
            rate, lat = desk_commands(db, work, args.desk_seconds)
            record(
                Row("C: TicketDesk in-process, 1 thread", rate, "commands/s", lat, meter.report())
            )

    print()
    print_table(rows)
    print()
    for row in rows:
        print(f"{row.what}: {row.cpu}")
    print()
    print(TARGET)
    best = max((r for r in rows if r.what.startswith("REST closed")), key=lambda r: r.rate)
    opened = next(r for r in rows if r.what.startswith("REST open"))
    open_p99 = opened.latencies.summary()[1]
    open_ok = open_p99 < 100 and not opened.note and not opened.latencies.errors
    verdict = ("met" if open_ok else "missed") if args.rate >= 300 else "below the target's rate"
    print(
        f"measured: {best.rate:,.0f} commands/s through REST at best ({best.what.split(', ')[1]};"
        f" {'met' if best.rate >= 500 else 'missed'}); p99 {open_p99:.1f} ms at"
        f" {args.rate:.0f} commands/s ({verdict})"
    )
    print(overload_verdict(rows, args.answer_within))
    print(f"total run time: {time.perf_counter() - began:.0f} s")


def overload_verdict(rows: list[Row], within: float) -> str:
    """The ADR 15 checks: the largest K keeps the smallest K's rate with no 5xx but fast 503s,
    and the open loop answers every request, served or refused, within ``within`` seconds."""
    closed = [r for r in rows if r.what.startswith("REST closed")]
    low, high = closed[0], closed[-1]
    opened = next(r for r in rows if r.what.startswith("REST open"))
    bad = sum(r.latencies.bad_5xx(within) for r in (*closed, opened))
    keeps = high.rate >= low.rate
    slowest = opened.latencies.slowest_answer()
    every = slowest <= within and not opened.note
    high_k, low_k = high.what.split(", ")[1], low.what.split(", ")[1]
    return (
        f"overload: {high_k} {high.rate:,.0f} commands/s vs {low_k} {low.rate:,.0f}"
        f" ({verdict(keeps)}), {high.latencies.refused()} refused fast (503"
        f" overloaded); 5xx other than fast 503s: {bad} ({verdict(bad == 0)})\n"
        f"open loop: {opened.latencies.refused()} of {len(opened.latencies.answers)} requests"
        f" refused; slowest answer {slowest * 1e3:,.0f} ms; every request answered within"
        f" {within:g} s: {verdict(every)}"
    )


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as error:  # no PostgreSQL, a server that did not start or refused
        sys.exit(f"bench api: {error}")
