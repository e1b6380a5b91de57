"""Events reach NATS JetStream exactly once and in order, whatever fails on the way.

Real servers throughout: a nats-server with JetStream and, for consumers, PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import nats
import pytest
from nats.js import JetStreamContext
from nats_server import NatsServer

from conftest import POLICIES
from contracts.events import TICKETS_STREAM, CloudEvent, EventPayload
from contracts.policy import load_policies
from servicekit.messaging.consumer import (
    Connection,
    ConsumerSettings,
    DurableConsumer,
    PostgresInbox,
)
from servicekit.messaging.database import create_pool
from servicekit.personal_data import Unsealer
from ticket_api.application import TicketDesk
from ticket_api.lease import FileLease, PostgresLease
from ticket_api.relay import OutboxRelay, RelaySettings
from ticket_api.sealing import LocalKeys

T = TypeVar("T")
CUSTOMER = {"kind": "customer", "id": "contact-ana", "name": "Ana Ruiz"}
AGENT = {"kind": "agent", "id": "agent-lucia", "name": "Lucía Gómez"}
CONTACT = {"id": "contact-ana", "name": "Ana Ruiz", "email": "ana@acme.example", "locale": "es"}
POLICY_SET = load_policies(POLICIES)


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[TicketDesk]:
    app = TicketDesk(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "es.db")},
        policies=POLICY_SET,
    )
    yield app
    app.close()


def relay_for(desk: TicketDesk, nats_server: NatsServer, lock: Path) -> OutboxRelay:
    settings = RelaySettings(
        nats_url=nats_server.url, batch=200, poll_interval=0.05, lease_retry=0.05
    )
    return OutboxRelay(desk, FileLease(lock), settings)


def open_and_work(desk: TicketDesk, tickets: int) -> list[UUID]:
    """Open tickets and move each through a few transitions; returns their ids."""
    ids = []
    for _ in range(tickets):
        ticket = desk.open_ticket(
            policy="bitam",
            tenant="acme",
            contact=CONTACT,
            title="El portal no responde",
            description="Error 500",
            ticket_type="soporte",
            priority="alta",
            product="ebavel",
            product_version="6.6",
            by=CUSTOMER,
        ).ticket
        desk.change(
            ticket.id,
            lambda t, p, now: t.assign(
                agent_id="agent-lucia", agent_name="Lucía", by=AGENT, at=now
            ),
        )
        desk.change(ticket.id, lambda t, p, now: t.start(by=AGENT, at=now))
        desk.change(
            ticket.id, lambda t, p, now: t.reply(body="Revisando", public=True, by=AGENT, at=now)
        )
        ids.append(ticket.id)
    return ids


async def read_stream(url: str) -> list[Any]:
    """Every message of the TICKETS stream, in stream order."""
    nc = await nats.connect(url)
    js: JetStreamContext = nc.jetstream()
    info = await js.stream_info(TICKETS_STREAM)
    subscription = await js.pull_subscribe("tickets.>", stream=TICKETS_STREAM)
    messages: list[Any] = []
    while len(messages) < info.state.messages:
        batch = await subscription.fetch(min(500, info.state.messages - len(messages)), timeout=5)
        for message in batch:
            await message.ack()  # else the server stops at max_ack_pending unacked messages
        messages += batch
    await nc.close()
    return messages


async def publish_all(relay: OutboxRelay, desk: TicketDesk) -> None:
    """Run the relay until everything written so far is in JetStream, then stop it."""
    task = asyncio.create_task(relay.run())
    await asyncio.wait_for(relay.caught_up(desk.recorder.max_notification_id() or 0), 60)
    relay.stop()
    await task


def test_events_arrive_in_order_as_cloudevents_keyed_by_ticket_and_version(
    desk: TicketDesk, nats_server: NatsServer, tmp_path: Path
) -> None:
    (ticket_id,) = open_and_work(desk, 1)
    run(publish_all(relay_for(desk, nats_server, tmp_path / "lock"), desk))

    messages = run(read_stream(nats_server.url))
    assert [m.subject for m in messages] == [
        f"tickets.acme.{ticket_id}.{name}"
        for name in ("opened", "assigned", "in_progress", "agent_replied")
    ]
    first = json.loads(messages[0].data)
    assert messages[0].headers["Nats-Msg-Id"] == first["id"] == f"{ticket_id}:1"
    assert first["specversion"] == "1.0" and first["type"] == "supportdesk.ticket.opened"
    assert (first["subject"], first["ticketversion"], first["tenant"], first["policy"]) == (
        str(ticket_id),
        1,
        "acme",
        "bitam",
    )
    assert first["data"]["case_number"] == "BIT-000001"
    # Personal fields travel sealed, as the very bytes the event store keeps (ADR 23).
    assert first["data"]["title"] is None and first["data"]["contact"]["email"] is None
    stored = desk.recorder.select_events(ticket_id, limit=1)[0]
    assert first["data"]["sealed"] == desk.sealing.open(stored)[1]


def test_with_nats_down_writes_go_on_and_the_relay_catches_up_exactly_once_in_order(
    desk: TicketDesk, nats_server: NatsServer, tmp_path: Path
) -> None:
    nats_server.stop()

    async def scenario() -> None:
        relay = relay_for(desk, nats_server, tmp_path / "lock")
        task = asyncio.create_task(relay.run())
        # Writes never wait on NATS: 500 tickets, four events each, while it is down.
        await asyncio.to_thread(open_and_work, desk, 500)
        assert relay.published == 0
        nats_server.start()
        await asyncio.wait_for(relay.caught_up(desk.recorder.max_notification_id()), 120)
        relay.stop()
        await task

    run(scenario())
    messages = run(read_stream(nats_server.url))
    ids = [m.headers["Nats-Msg-Id"] for m in messages]
    assert len(ids) == 2000 and len(set(ids)) == 2000
    versions: dict[str, list[int]] = defaultdict(list)
    for msg_id in ids:
        ticket, version = msg_id.split(":")
        versions[ticket].append(int(version))
    assert all(v == [1, 2, 3, 4] for v in versions.values())


def test_a_relay_that_dies_mid_batch_resumes_and_no_duplicate_reaches_the_handler(
    desk: TicketDesk, nats_server: NatsServer, tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    open_and_work(desk, 50)  # 200 events

    async def scenario() -> Counter[str]:
        # The first relay "crashes" after publishing 120 messages of its first batch: they are
        # in JetStream, but the relay never recorded its position.
        crashing = relay_for(desk, nats_server, tmp_path / "lock")
        original = crashing.publish_batch

        async def publish_then_crash(js: JetStreamContext) -> int:
            sent = 0
            real_publish = js.publish_async

            async def counting(*args: Any, **kwargs: Any) -> Any:
                nonlocal sent
                sent += 1
                if sent > 120:
                    raise SystemExit("relay killed")  # not retried: the process is gone
                return await real_publish(*args, **kwargs)

            js.publish_async = counting  # type: ignore[method-assign]
            return await original(js)

        crashing.publish_batch = publish_then_crash  # type: ignore[method-assign]
        with pytest.raises(SystemExit):
            await crashing.run()
        assert crashing.reached == 0
        await asyncio.to_thread(crashing.lease.release)  # the dead process's lock is gone

        # A new relay starts from the recorded position and publishes everything again.
        await publish_all(relay_for(desk, nats_server, tmp_path / "lock"), desk)
        return await consume_all(nats_server.url, postgres_env, expected=200, desk=desk)

    handled = run(scenario())
    assert len(handled) == 200 and set(handled.values()) == {1}


def test_of_two_relays_only_one_publishes_and_the_other_takes_over_when_it_stops(
    desk: TicketDesk, nats_server: NatsServer, tmp_path: Path
) -> None:
    open_and_work(desk, 5)

    async def scenario() -> tuple[int, int]:
        first = relay_for(desk, nats_server, tmp_path / "lock")
        second = relay_for(desk, nats_server, tmp_path / "lock")
        first_task = asyncio.create_task(first.run())
        await asyncio.wait_for(first.caught_up(desk.recorder.max_notification_id()), 30)
        second_task = asyncio.create_task(second.run())
        await asyncio.to_thread(open_and_work, desk, 5)
        await asyncio.wait_for(first.caught_up(desk.recorder.max_notification_id()), 30)
        assert second.published == 0  # it never got the lease
        first.stop()
        await first_task  # releases the lease
        await asyncio.to_thread(open_and_work, desk, 5)
        await asyncio.wait_for(second.caught_up(desk.recorder.max_notification_id()), 30)
        second.stop()
        await second_task
        return first.published, second.published

    first_count, second_count = run(scenario())
    assert (first_count, second_count) == (40, 20)
    ids = [m.headers["Nats-Msg-Id"] for m in run(read_stream(nats_server.url))]
    assert len(ids) == len(set(ids)) == 60


def test_a_postgres_lease_is_held_by_one_session_and_freed_when_it_ends(
    postgres_env: dict[str, str],
) -> None:
    first, second = PostgresLease(postgres_env), PostgresLease(postgres_env)
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire() and second.still_held()
    second.release()


async def consume_all(
    url: str, env: dict[str, str], *, expected: int, desk: TicketDesk
) -> Counter[str]:
    """Run a toolkit consumer whose handler counts, in PostgreSQL, what it handled (opening
    the sealed personal data with the desk's keys, as a service does with ticket-api's)."""
    pool = await create_pool(env)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS handled (event_id TEXT, n INT)")
    inbox = PostgresInbox(pool, "test-consumer")
    await inbox.setup()
    done = asyncio.Event()
    count = 0

    async def handler(event: CloudEvent, payload: EventPayload, conn: Connection) -> None:
        nonlocal count
        await conn.execute("INSERT INTO handled VALUES ($1, 1)", event.id)
        count += 1
        if count >= expected:
            done.set()

    nc = await nats.connect(url)
    consumer = DurableConsumer(
        nc,
        ConsumerSettings(
            stream=TICKETS_STREAM,
            durable="test-consumer",
            filter_subject="tickets.>",
            fetch_timeout=0.2,
        ),
        inbox,
        handler,
        unseal=Unsealer(LocalKeys(desk.keyring)),
    )
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(done.wait(), 60)
    consumer.stop()
    await task
    await nc.close()
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_id, count(*) AS n FROM handled GROUP BY event_id")
    await pool.close()
    return Counter({row["event_id"]: row["n"] for row in rows})


def test_ticket_api_publishes_its_writes_with_the_requests_trace_context(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from conftest import CUSTOMER as CUSTOMER_KEY
    from conftest import KEYS, T0
    from servicekit.clock import ManualClock
    from ticket_api.main import create_app
    from ticket_api.settings import Settings

    settings = Settings(
        data_dir=tmp_path, policies_dir=POLICIES, dev_keys=KEYS, nats_url=nats_server.url
    )
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    with TestClient(create_app(settings, clock=ManualClock(T0), environ={})) as client:
        response = client.post(
            "/v1/tickets",
            json={
                "policy": "bitam",
                "title": "Sin acceso",
                "description": "Error 500",
                "ticket_type": "soporte",
                "priority": "urgente",
                "product": "ebavel",
                "product_version": "6.6",
            },
            headers={**CUSTOMER_KEY, "traceparent": f"00-{trace_id}-b7ad6b7169203331-01"},
        )
        assert response.status_code == 201
        relay = client.app.state.relay  # type: ignore[attr-defined]
        desk = client.app.state.desk  # type: ignore[attr-defined]
        client.portal.call(  # type: ignore[union-attr]
            asyncio.wait_for, relay.caught_up(desk.recorder.max_notification_id()), 30
        )
    (message,) = run(read_stream(nats_server.url))
    assert message.headers["traceparent"].split("-")[1] == trace_id
    # The CloudEvent keeps the context where it originated (the request's span); the NATS
    # header carries the relay's publish span, a child in the same trace, for consumers.
    origin = json.loads(message.data)["traceparent"]
    assert origin.split("-")[1] == trace_id
    assert origin != message.headers["traceparent"]


RELAY_PROCESS = """
import asyncio, sys
from pathlib import Path
from contracts.policy import load_policies
from ticket_api.application import TicketDesk
from ticket_api.lease import FileLease
from ticket_api.relay import OutboxRelay, RelaySettings

db, lock, url, policies = sys.argv[1:5]
desk = TicketDesk({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db},
                  policies=load_policies(policies))
relay = OutboxRelay(desk, FileLease(Path(lock)), RelaySettings(nats_url=url, batch=2000))
asyncio.run(relay.run())
"""


def test_kill_9_of_the_relay_process_mid_batch_loses_nothing_and_duplicates_nothing(
    desk: TicketDesk, nats_server: NatsServer, tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    import signal
    import subprocess
    import sys

    open_and_work(desk, 500)  # 2000 events: one batch for the doomed relay
    db = str(tmp_path / "es.db")

    async def scenario() -> Counter[str]:
        nc = await nats.connect(nats_server.url)
        seen = asyncio.Event()
        count = 0

        async def on_message(_: Any) -> None:
            nonlocal count
            count += 1
            if count == 700:
                seen.set()

        await nc.subscribe("tickets.>", cb=on_message)
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                RELAY_PROCESS,
                db,
                str(tmp_path / "lock"),
                nats_server.url,
                str(POLICIES),
            ],
        )
        try:
            await asyncio.wait_for(seen.wait(), 60)
            process.send_signal(signal.SIGKILL)  # mid-batch: 700 of 2000 published
        finally:
            process.wait()
        await nc.close()
        # Nothing of that batch was recorded as published; a new relay takes over.
        await publish_all(relay_for(desk, nats_server, tmp_path / "lock"), desk)
        return await consume_all(nats_server.url, postgres_env, expected=2000, desk=desk)

    handled = run(scenario())
    assert len(handled) == 2000 and set(handled.values()) == {1}
