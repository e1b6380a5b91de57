"""Beyond one machine: a three-node NATS JetStream cluster with R3 streams loses a node.

The real outbox relay publishes ticket events to the cluster while the real consumer toolkit
(PostgreSQL inbox) handles them. Mid-traffic the node leading the TICKETS stream is killed
(SIGKILL): publishing goes on through the others once a new leader is elected, the consumer
goes on, and every event is handled exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats_cluster import NatsCluster

from contracts.events import TICKETS_STREAM, CloudEvent, EventPayload
from contracts.policy import load_policies
from servicekit.messaging import servers
from servicekit.messaging.consumer import (
    Connection,
    ConsumerSettings,
    DurableConsumer,
    PostgresInbox,
)
from servicekit.messaging.database import create_pool
from servicekit.messaging.streams import StreamSettings, ensure_stream
from servicekit.personal_data import Unsealer
from ticket_api.application import TicketDesk
from ticket_api.lease import FileLease
from ticket_api.relay import OutboxRelay, RelaySettings
from ticket_api.sealing import LocalKeys

ROOT = Path(__file__).resolve().parents[2]
POLICIES = load_policies(ROOT / "policies")
CUSTOMER = {"kind": "customer", "id": "contact-ana", "name": "Ana Ruiz"}
AGENT = {"kind": "agent", "id": "agent-lucia", "name": "Lucía Gómez"}
CONTACT = {"id": "contact-ana", "name": "Ana Ruiz", "email": "ana@acme.example", "locale": "es"}
R3 = StreamSettings(replicas=3)
LUCIA = {"agent_id": "agent-lucia", "agent_name": "Lucía Gómez"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    nodes = NatsCluster(tmp_path / "nats")
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


def write_tickets(desk: TicketDesk, count: int) -> None:
    """Open tickets and assign each: two events a ticket."""
    for _ in range(count):
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


def test_a_killed_node_loses_nothing_of_an_r3_stream(
    cluster: NatsCluster, postgres_env: dict[str, str], tmp_path: Path
) -> None:
    desk = TicketDesk(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "es.db")},
        policies=POLICIES,
    )
    handled: list[str] = []

    async def record(event: CloudEvent, payload: EventPayload, conn: Connection) -> None:
        handled.append(event.id)

    async def scenario() -> tuple[int, dict[str, Any]]:
        nc = await nats.connect(servers=servers(cluster.url))
        js = nc.jetstream()
        await ensure_stream(js, TICKETS_STREAM, R3)
        relay = OutboxRelay(
            desk,
            FileLease(tmp_path / "relay.lock"),
            RelaySettings(nats_url=cluster.url, batch=100, poll_interval=0.05, streams=R3),
        )
        pool = await create_pool(postgres_env)
        inbox = PostgresInbox(pool, "cluster-test")
        await inbox.setup()
        consumer = DurableConsumer(
            nc,
            ConsumerSettings(
                stream=TICKETS_STREAM,
                durable="cluster-test",
                filter_subject="tickets.>",
                fetch_timeout=0.5,
                backoff=(0.2,),
                # A batch in flight on the killed node comes back after ack_wait: keep it short.
                ack_wait=5,
            ),
            inbox,
            record,
            unseal=Unsealer(LocalKeys(desk.keyring)),
        )
        relaying = asyncio.create_task(relay.run())
        consuming = asyncio.create_task(consumer.run())
        try:
            await asyncio.to_thread(write_tickets, desk, 150)
            await asyncio.wait_for(relay.caught_up(desk.recorder.max_notification_id() or 0), 60)
            await asyncio.wait_for(consumer.wait_handled(300), 60)

            # Kill -9 the node that leads the stream, with traffic still coming.
            info = await js.stream_info(TICKETS_STREAM)
            assert info.config.num_replicas == 3 and info.cluster is not None
            leader = info.cluster.leader
            assert leader is not None
            cluster.node(leader).kill()
            await asyncio.to_thread(write_tickets, desk, 150)
            # Generous bounds: a leader election on a loaded 2-core machine can take a while.
            await asyncio.wait_for(relay.caught_up(desk.recorder.max_notification_id() or 0), 240)
            await asyncio.wait_for(consumer.wait_handled(600), 240)

            after = await js.stream_info(TICKETS_STREAM)
            assert after.cluster is not None
            return after.state.messages, {"old": leader, "new": after.cluster.leader}
        finally:
            relay.stop()
            consumer.stop()
            await asyncio.gather(relaying, consuming, return_exceptions=True)
            await nc.close()
            await pool.close()

    try:
        messages, leaders = asyncio.run(scenario())
    finally:
        desk.close()
    assert leaders["new"] not in (None, leaders["old"])
    assert messages == 600  # 300 tickets x 2 events, none lost, none doubled in the stream
    assert len(handled) == 600 and len(set(handled)) == 600  # each handled exactly once
