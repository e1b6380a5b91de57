"""``breached`` on the ticket list: tickets sla-monitor announced as breached, from the SLA stream.

sla-monitor decides breaches on its calendars and publishes ``sla.breached``; ticket-api follows
that subject into a table beside the ticket list. Here a real nats-server carries the events
sla-monitor would publish (the same envelope), on both stores; the filter sees a breach once
its message is recorded, a redelivered or repeated breach changes nothing, and a message that
is not a breach leaves the list alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest
from nats_server import NatsServer

from conftest import AGENT, Api, running_api
from contracts.events import Actor, ActorKind, envelope, subject, to_wire
from contracts.events.sla import Breached, WarningRaised
from contracts.vocabulary import Metric

SLA = Actor(kind=ActorKind.SERVICE, id="sla-monitor", name="sla-monitor")
DEADLINE = datetime(2026, 11, 30, 16, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path, nats_server: NatsServer) -> Iterator[Api]:
    yield from running_api(request, tmp_path, request.param, nats_url=nats_server.url)


def publish(url: str, ticket: dict[str, str], payload: Breached | WarningRaised, key: str) -> None:
    """Publish an SLA event as sla-monitor's timer loop does (its id is the timer's)."""
    event = envelope(
        payload,
        ticket_id=ticket["id"],
        ticket_version=1,
        tenant=ticket["tenant"],
        policy=ticket["policy"],
        time=DEADLINE,
        source="/sla-monitor",
        event_id=f"{ticket['id']}:{key}",
    )

    async def send() -> None:
        nc = await nats.connect(url)
        try:
            await nc.jetstream().publish(
                subject(payload.event_name, tenant=ticket["tenant"], ticket_id=ticket["id"]),
                to_wire(event),
                headers={"Nats-Msg-Id": event.id},
            )
        finally:
            await nc.close()

    asyncio.run(send())


def cases(api: Api, query: str) -> set[str]:
    response = api.client.get(f"/v1/tickets?{query}", headers=AGENT)
    assert response.status_code == 200, response.text
    return {t["case_number"] for t in response.json()["items"]}


def test_breached_lists_the_tickets_sla_monitor_announced_and_only_them(
    api: Api, nats_server: NatsServer
) -> None:
    late, warned, calm = api.open(), api.open(), api.open()
    breaches = api.client.app.state.ticket_list.breaches  # type: ignore[attr-defined]
    breach = Breached(
        actor=SLA, metric=Metric.RESOLUTION, priority="p1", deadline=DEADLINE, cycle=1
    )
    warning = WarningRaised(
        actor=SLA,
        metric=Metric.RESOLUTION,
        priority="p1",
        threshold=0.8,
        deadline=DEADLINE,
        remaining=timedelta(hours=1),
        cycle=1,
    )
    publish(nats_server.url, warned, warning, "resolution:warning")  # not a breach
    publish(nats_server.url, late, breach, "resolution:breach:1")
    publish(nats_server.url, late, breach, "resolution:breach:1-again")  # the same breach
    assert breaches.wait_recorded(2, timeout=30), "the breaches were not recorded"

    assert cases(api, "breached=true") == {late["case_number"]}
    assert cases(api, "breached=false") == {warned["case_number"], calm["case_number"]}
    assert cases(api, "") == {late["case_number"], warned["case_number"], calm["case_number"]}
    # Combined with the other filters, as any filter is.
    assert cases(api, f"breached=true&contact={late['contact']['id']}") == {late["case_number"]}
