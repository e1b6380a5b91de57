"""The outbox relay under faults: nothing stops the pipeline, and nobody is told all is well
while it is stopped.

Real servers throughout: a nats-server with JetStream (killed, frozen, size-limited for real)
and the event store on SQLite. Every wait is bounded by a deadline; none is a sleep.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import nats
import pytest
from eventsourcing.application import Application
from nats.js.api import StreamConfig
from nats_server import NatsServer

from contracts.events import TICKETS_STREAM, CloudEvent
from contracts.policy import load_policies
from ticket_api.application import TicketDesk
from ticket_api.lease import FileLease
from ticket_api.relay import OutboxRelay, RelaySettings
from ticket_api.wire import Unpublishable, wire_event

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
POLICIES = load_policies(ROOT / "policies")
CUSTOMER = {"kind": "customer", "id": "contact-ana", "name": "Ana Ruiz"}
AGENT = {"kind": "agent", "id": "agent-lucia", "name": "Lucía Gómez"}
CONTACT = {"id": "contact-ana", "name": "Ana Ruiz", "email": "ana@acme.example", "locale": "es"}


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[TicketDesk]:
    app = TicketDesk(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "es.db")},
        policies=POLICIES,
    )
    yield app
    app.close()


def relay_for(desk: TicketDesk, server: NatsServer, tmp_path: Path, **settings: Any) -> OutboxRelay:
    options: dict[str, Any] = {"poll_interval": 0.05, "lease_retry": 0.05, **settings}
    return OutboxRelay(
        desk, FileLease(tmp_path / "relay.lock"), RelaySettings(nats_url=server.url, **options)
    )


def open_ticket(desk: TicketDesk, description: str = "Error 500") -> UUID:
    return desk.open_ticket(
        policy="bitam",
        tenant="acme",
        contact=CONTACT,
        title="El portal no responde",
        description=description,
        ticket_type="soporte",
        priority="alta",
        product="ebavel",
        product_version="6.6",
        by=CUSTOMER,
    ).ticket.id


async def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``check`` until it holds; fail with ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.05)


async def stream_ids(url: str) -> list[str]:
    """The CloudEvent ids in the TICKETS stream, in stream order."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        total = (await js.stream_info(TICKETS_STREAM)).state.messages
        ids: list[str] = []
        for sequence in range(1, total + 1):
            message = await js.get_msg(TICKETS_STREAM, sequence)
            assert message.data is not None
            ids.append(CloudEvent.model_validate_json(message.data).id)
        return ids
    finally:
        await nc.close()


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_an_event_stored_before_the_contract_refused_it_is_parked_and_the_rest_flows(
    desk: TicketDesk, nats_server: NatsServer, tmp_path: Path
) -> None:
    # History written before the check existed: an agent's name holding NUL, saved past the
    # contract check (straight through the library), between two good tickets. (A field in
    # clear: personal fields travel sealed, and the relay publishes their box unopened.)
    first = open_ticket(desk)
    poisoned = desk.ticket(open_ticket(desk))
    poisoned.assign(
        agent_id="agent-lucia", agent_name="Lucía\x00", by=AGENT, at=poisoned.modified_on
    )
    with pytest.raises(Unpublishable):
        wire_event(poisoned.pending_events[0], tenant="acme", policy="bitam")  # type: ignore[arg-type]
    Application.save(desk, poisoned)
    last = open_ticket(desk)

    async def scenario() -> None:
        relay = relay_for(desk, nats_server, tmp_path)
        task = asyncio.create_task(relay.run())
        await asyncio.wait_for(relay.caught_up(desk.recorder.max_notification_id() or 0), 30)
        # The one bad event is parked; everything before and after it is in JetStream.
        ids = await stream_ids(nats_server.url)
        assert ids == [f"{first}:1", f"{poisoned.id}:1", f"{last}:1"]
        (parked,) = relay.parked.waiting()
        assert (parked.ticket_id, parked.ticket_version) == (str(poisoned.id), 2)
        assert "agent_name" in parked.reason
        assert relay.parked_count() == 1
        assert relay.status() == "publishing"  # parked, not stalled: the relay went on
        # Asked to republish while the cause is not fixed, it stays parked, saying why.
        relay.parked.request_republish(parked.notification_id)
        relay.wake()
        await until(lambda: not relay.parked.requested(), 10, "the republish request is answered")
        assert relay.parked_count() == 1
        assert "still unpublishable" in relay.parked.waiting()[0].reason
        relay.stop()
        await task

    run(scenario())


def test_a_message_jetstream_refuses_is_parked_then_republished_once_the_limit_is_raised(
    desk: TicketDesk, nats_server: NatsServer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        relay = relay_for(desk, nats_server, tmp_path)
        task = asyncio.create_task(relay.run())
        open_ticket(desk)
        await asyncio.wait_for(relay.caught_up(desk.recorder.max_notification_id() or 0), 30)
        # An operator lowers the stream's message size limit below what a long description
        # needs: JetStream refuses that message for good.
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        config: StreamConfig = (await js.stream_info(TICKETS_STREAM)).config
        await js.update_stream(
            StreamConfig.from_response({**config.as_dict(), "max_msg_size": 4000})
        )
        big = open_ticket(desk, description="x" * 8000)
        small = open_ticket(desk)
        await asyncio.wait_for(relay.caught_up(desk.recorder.max_notification_id() or 0), 30)
        (parked,) = relay.parked.waiting()
        assert parked.ticket_id == str(big)
        assert "JetStream refused" in parked.reason
        assert (await stream_ids(nats_server.url))[-1] == f"{small}:1"
        # The limit is raised again and the operator republishes: it arrives, once.
        await js.update_stream(StreamConfig.from_response({**config.as_dict()}))
        relay.parked.request_republish(parked.notification_id)
        relay.wake()
        await until(lambda: relay.parked_count() == 0, 10, "the parked event is republished")
        ids = await stream_ids(nats_server.url)
        assert ids[-1] == f"{big}:1"
        assert Counter(ids).most_common(1)[0][1] == 1
        await nc.close()
        relay.stop()
        await task

    run(scenario())


def test_a_frozen_nats_makes_the_relay_report_stalled_and_it_drains_when_nats_returns(
    desk: TicketDesk, nats_server: NatsServer, tmp_path: Path
) -> None:
    async def scenario() -> None:
        relay = relay_for(desk, nats_server, tmp_path, ack_timeout=1.0, stall_after=1.0)
        task = asyncio.create_task(relay.run())
        open_ticket(desk)
        await asyncio.wait_for(relay.caught_up(desk.recorder.max_notification_id() or 0), 30)
        assert relay.status() == "publishing"
        # A network black hole: the server takes no packets and answers nothing (SIGSTOP),
        # which is how acknowledgments get lost with a connection that is not yet seen dead.
        pid = nats_server.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            for _ in range(5):
                open_ticket(desk)
            await until(lambda: relay.status() == "stalled", 15, "the relay reports stalled")
            assert relay.seconds_since_progress() > 1.0
            assert (relay.lag() or 0) >= 5  # the tickets and their case-number records
        finally:
            os.kill(pid, signal.SIGCONT)
        target = desk.recorder.max_notification_id() or 0
        await asyncio.wait_for(relay.caught_up(target), 30)
        assert relay.status() == "publishing"
        assert relay.seconds_since_progress() == 0.0
        assert len(await stream_ids(nats_server.url)) == 6
        relay.stop()
        await task

    run(scenario())


def test_nats_killed_ten_times_under_writes_the_relay_drains_each_time_exactly_once(
    desk: TicketDesk, nats_server: NatsServer, tmp_path: Path
) -> None:
    stop_writing = threading.Event()
    written: list[UUID] = []

    def writer() -> None:  # a steady stream of writes, whatever NATS is doing
        while not stop_writing.is_set():
            written.append(open_ticket(desk))
            stop_writing.wait(0.02)

    async def scenario() -> None:
        relay = relay_for(desk, nats_server, tmp_path, ack_timeout=2.0)
        task = asyncio.create_task(relay.run())
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            for _ in range(10):
                await until(lambda: len(written) > 0, 10, "writes happen")
                nats_server.kill()
                # bounded, generous for a loaded machine: the next write makes it try and fail
                await until(lambda: relay.state == "retrying", 30, "the relay sees NATS gone")
                nats_server.start()
                target = desk.recorder.max_notification_id() or 0
                # Drained within a bound each time: no lost ack can hold it back.
                await asyncio.wait_for(relay.caught_up(target), 20)
        finally:
            stop_writing.set()
            thread.join()
        await asyncio.wait_for(relay.caught_up(desk.recorder.max_notification_id() or 0), 20)
        relay.stop()
        await task
        ids = await stream_ids(nats_server.url)
        assert Counter(ids).most_common(1)[0][1] == 1, "an event was published twice"
        assert sorted(ids) == sorted(f"{ticket}:1" for ticket in written), "an event was lost"

    run(scenario())
