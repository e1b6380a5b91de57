"""The simulated clock: every service sees the same instant, set and advanced from outside."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from nats_server import NatsServer

from servicekit.simclock import SharedClock, main, set_shared_time

FRIDAY = datetime(2026, 11, 27, 17, 30, tzinfo=ZoneInfo("America/Mexico_City"))


def test_two_services_follow_the_same_simulated_time(nats_server: NatsServer) -> None:
    async def scenario() -> tuple[datetime, datetime, datetime]:
        ticket_api, sla_monitor = SharedClock(nats_server.url, FRIDAY), SharedClock(nats_server.url)
        await ticket_api.start()  # the first one sets the starting instant
        await sla_monitor.start()
        started = sla_monitor.now()
        later = await set_shared_time(nats_server.url, advance=timedelta(hours=3))
        await asyncio.wait_for(ticket_api.reaches(later), 10)
        await asyncio.wait_for(sla_monitor.reaches(later), 10)
        seen = (started, ticket_api.now(), sla_monitor.now())
        await ticket_api.stop()
        await sla_monitor.stop()
        return seen

    started, first, second = asyncio.run(scenario())
    assert started == FRIDAY.astimezone(UTC)
    assert first == second == FRIDAY.astimezone(UTC) + timedelta(hours=3)


def test_the_clock_command_sets_and_advances(nats_server: NatsServer) -> None:
    main(["--url", nats_server.url, "set", "2026-11-27T17:30-06:00"])
    main(["--url", nats_server.url, "advance", "1h30m"])
    shown = asyncio.run(set_shared_time(nats_server.url, advance=timedelta(0)))
    assert shown == datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
